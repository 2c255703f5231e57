"""The lab's certificate authorities: a throw-away CA and the TLS contexts of its servers.

:class:`LabCA` uses trustme when it is installed and a small built-in CA on top of
``cryptography`` otherwise.  The lab makes two: the fake *public root* that signs the
provider look-alike, and the fake *corporate* CA a TLS-inspecting proxy re-signs with.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
import uuid
from pathlib import Path
from typing import Iterable

__all__ = ["LabCA", "server_context"]


# -- certificates ------------------------------------------------------------
class LabCA:
    """A throw-away CA with PEM accessors; issues leaf certificates for names.

    Uses trustme when it is importable (the same certificates the project's
    tests know), else an equivalent built-in CA made with ``cryptography``,
    so ``proxydiag demo`` works from a plain ``pip install``.
    """

    def __init__(self, organization: str, unit: str, *, use_trustme: bool | None = None) -> None:
        self.organization = organization
        self.unit = unit
        self._trustme = None
        if use_trustme is not False:
            try:
                import trustme
            except ImportError:
                if use_trustme:
                    raise
            else:
                self._trustme = trustme.CA(organization_name=organization, organization_unit_name=unit)
        if self._trustme is not None:
            self.cert_pem: bytes = self._trustme.cert_pem.bytes()
            self.key_pem: bytes = self._trustme.private_key_pem.bytes()
        else:
            self.cert_pem, self.key_pem, self._cert, self._key = _builtin_ca(organization, unit)

    @property
    def backend(self) -> str:
        return "trustme" if self._trustme is not None else "builtin"

    @property
    def cert_der(self) -> bytes:
        return ssl.PEM_cert_to_DER_cert(self.cert_pem.decode("ascii"))

    def issue(self, *names: str) -> tuple[bytes, bytes]:
        """A leaf for ``names``: (certificate chain PEM — leaf then CA, private key PEM)."""
        if self._trustme is not None:
            leaf = self._trustme.issue_cert(*names)
            chain = b"".join(blob.bytes() for blob in leaf.cert_chain_pems)
            return chain, leaf.private_key_pem.bytes()
        return _builtin_leaf(self._cert, self._key, names)


def _builtin_ca(organization: str, unit: str):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit),
        x509.NameAttribute(NameOID.COMMON_NAME, f"{organization} {unit}"),
    ])
    now = datetime.datetime.now(datetime.timezone.utc)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=9), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
    return cert_pem, key_pem, cert, key


def _builtin_leaf(ca_cert, ca_key, names: Iterable[str]) -> tuple[bytes, bytes]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    names = list(names)
    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = []
    for n in names:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(n)))
        except ValueError:
            sans.append(x509.DNSName(n))
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca_cert.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    chain = cert.public_bytes(serialization.Encoding.PEM) + ca_cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
    return chain, key_pem


def server_context(chain_pem: bytes, key_pem: bytes, directory: Path) -> ssl.SSLContext:
    """A server-side TLS context from PEM bytes (files written under ``directory``, mode 600)."""
    directory.mkdir(parents=True, exist_ok=True)
    stem = uuid.uuid4().hex[:8]
    cert_file, key_file = directory / f"{stem}-chain.pem", directory / f"{stem}-key.pem"
    for path, data in ((cert_file, chain_pem), (key_file, key_pem)):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert_file, key_file)
    return ctx
