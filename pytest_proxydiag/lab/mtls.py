"""An LLM gateway that demands client certificates (mTLS), and the client identities to try on it.

``MTLSGateway`` is the lab's :class:`~pytest_proxydiag.lab.servers.HttpsOrigin`
(it answers like the provider: 401 to a dummy key) with ``CERT_REQUIRED``:
a handshake without a certificate from :class:`ClientIdentities`' CA fails
(TLS 1.3 ``certificate required`` alert).  :class:`ClientIdentities` writes,
mode 600, the files a user might hold: a valid pair, an expired certificate,
a certificate with another certificate's key, a passphrase-protected key, and
a certificate from a CA the gateway does not know.
"""

from __future__ import annotations

import datetime
import os
import ssl
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from .servers import ORIGIN_HOSTS, HttpsOrigin, LabCA

#: The passphrase of the lab's encrypted client key (a lab value, never a user's).
LAB_PASSPHRASE = "lab-only-passphrase"


def _write(path: Path, data: bytes) -> str:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return str(path)


class ClientIdentities:
    """Client certificate files under *workdir*: ``pairs[name] = (cert_path, key_path)``."""

    def __init__(self, workdir: Path | str) -> None:
        import trustme

        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.ca = trustme.CA(organization_name="Example Corp", organization_unit_name="Client CA (lab only)")
        self.ca_pem = self.ca.cert_pem.bytes()
        now = datetime.datetime.now(datetime.timezone.utc)
        valid = self.ca.issue_cert("alice@example.com", common_name="alice")
        expired = self.ca.issue_cert("alice@example.com", common_name="alice-expired",
                                     not_before=now - datetime.timedelta(days=60),
                                     not_after=now - datetime.timedelta(days=1))
        other = self.ca.issue_cert("bob@example.com", common_name="bob")
        stranger = trustme.CA(organization_name="Elsewhere").issue_cert("mallory@example.com", common_name="mallory")
        self.pairs: dict[str, tuple[str, str]] = {}
        for name, leaf in (("valid", valid), ("expired", expired), ("untrusted", stranger)):
            self.pairs[name] = (_write(self.dir / f"{name}.crt", leaf.cert_chain_pems[0].bytes()),
                                _write(self.dir / f"{name}.key", leaf.private_key_pem.bytes()))
        self.pairs["mismatched"] = (self.pairs["valid"][0],
                                    _write(self.dir / "other.key", other.private_key_pem.bytes()))
        key = serialization.load_pem_private_key(valid.private_key_pem.bytes(), None)
        encrypted = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.BestAvailableEncryption(LAB_PASSPHRASE.encode()))
        self.pairs["encrypted"] = (self.pairs["valid"][0], _write(self.dir / "encrypted.key", encrypted))


class MTLSGateway(HttpsOrigin):
    """The provider stand-in behind TLS that requires a client certificate issued by *client_ca_pem*."""

    def __init__(self, ca: LabCA, workdir: Path | str, client_ca_pem: bytes, **kwargs) -> None:
        super().__init__(ca, workdir, hosts=kwargs.pop("hosts", ORIGIN_HOSTS), **kwargs)
        self._ctx.verify_mode = ssl.CERT_REQUIRED
        self._ctx.load_verify_locations(cadata=client_ca_pem.decode("ascii"))
