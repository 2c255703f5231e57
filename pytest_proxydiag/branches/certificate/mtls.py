"""The client certificate Claude Code is told to present (mTLS): is it usable at all?

Claude Code reads ``CLAUDE_CODE_CLIENT_CERT``, ``CLAUDE_CODE_CLIENT_KEY`` and
``CLAUDE_CODE_CLIENT_KEY_PASSPHRASE`` from its environment or a settings
file's ``env`` block.  :func:`check_identity` reads the files the way a TLS
client would before any handshake: present, readable, PEM, valid today, usable
by a client (EKU), the key decrypts with the passphrase given (or needs none)
and belongs to the certificate.  The result's ``problem`` is a catalog key of
the ``certificate.client_cert`` step.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass, field
from typing import Any, Mapping

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from . import claude_trust as ct
from .chains import _ext, common_name, validity_problem

VARS = ("CLAUDE_CODE_CLIENT_CERT", "CLAUDE_CODE_CLIENT_KEY", "CLAUDE_CODE_CLIENT_KEY_PASSPHRASE")
MAX_BYTES = 1024 * 1024


@dataclass
class ClientIdentity:
    """What the variables name and what is wrong with it (``problem`` None: usable)."""

    cert_path: str | None = None
    key_path: str | None = None
    passphrase_given: bool = False
    where: dict[str, str] = field(default_factory=dict)       # var -> "environment" or a settings file
    problem: str | None = None
    values: dict[str, Any] = field(default_factory=dict)      # for the catalog text
    subject: str | None = None
    not_after: str | None = None
    issuer: str | None = None

    @property
    def configured(self) -> bool:
        return bool(self.cert_path or self.key_path)

    @property
    def usable(self) -> bool:
        return self.configured and self.problem is None

    def as_dict(self) -> dict[str, Any]:
        # The passphrase itself is never part of the evidence: only whether one is given.
        keys = ("cert_path", "key_path", "passphrase_given", "where", "problem", "subject", "issuer", "not_after")
        return {k: getattr(self, k) for k in keys if getattr(self, k) not in (None, "", {})}


def _read(path: str) -> tuple[bytes | None, str | None]:
    try:
        if not os.path.isfile(path):
            return None, "missing" if not os.path.exists(path) else "not a regular file"
        if os.path.getsize(path) > MAX_BYTES:
            return None, "larger than 1 MiB"
        with open(path, "rb") as f:
            return f.read(MAX_BYTES), None
    except OSError as exc:
        return None, str(exc.strerror or exc)


def _load_key(data: bytes, passphrase: str | None):
    try:
        return serialization.load_pem_private_key(data, passphrase.encode() if passphrase else None)
    except TypeError:
        if not passphrase:
            raise
        # A passphrase for a key that has none: TLS clients ignore it, and so does this check.
        return serialization.load_pem_private_key(data, None)


def _public(key) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _fail(identity: ClientIdentity, problem: str, **values: Any) -> ClientIdentity:
    identity.problem = problem
    identity.values.update(values)
    return identity


def _relative(identity: ClientIdentity, found: Mapping[str, tuple[str | None, str]]) -> ClientIdentity | None:
    """A relative CLAUDE_CODE_CLIENT_CERT/KEY found from here: Claude Code opens it from the directory it starts in
    (measured with 2.1.332: 401 from the files' directory, no certificate sent from a project directory)."""
    from pytest_proxydiag.catalog.certificate import say_fact

    rel = {var: found[var] for var in VARS[:2] if found[var][0] and not os.path.isabs(found[var][0])
           and os.path.exists(found[var][0])}
    if not rel:
        return None
    fix = {var: os.path.abspath(path) for var, (path, _at) in rel.items()}
    lines = "\n".join(say_fact("relative_line_env", var=var, path=fix[var]) if at == "environment"
                      else say_fact("relative_line_settings", var=var, path=fix[var], where=at)
                      for var, (_path, at) in rel.items())
    first, (path, at) = next(iter(rel.items()))
    # A settings file's value wins over the shell's: that file is what changes, not an export.
    identity.values["fix"] = {"env": {var: fix[var] for var, (_p, where) in rel.items() if where == "environment"},
                              "files": [{"path": where, "change": say_fact("relative_change", var=var, path=fix[var])}
                                        for var, (_p, where) in rel.items() if where != "environment"],
                              "verified": None}
    return _fail(identity, "relative_path", var=first, path=path, cwd=os.getcwd(), absolute=fix[first],
                 where="" if at == "environment" else say_fact("relative_where", where=at), lines=lines)


def check_identity(env: Mapping[str, str], layers: list[ct.SettingsLayer] = (),
                   now: datetime.datetime | None = None) -> ClientIdentity:
    """Judge the client certificate the variables name (a key in the certificate file counts too)."""
    found = {var: ct.effective(var, env, list(layers)) for var in VARS}
    cert_path, key_path = found[VARS[0]][0], found[VARS[1]][0]
    passphrase = found[VARS[2]][0]
    identity = ClientIdentity(cert_path=cert_path, key_path=key_path, passphrase_given=bool(passphrase),
                              where={var: at for var, (value, at) in found.items() if value})
    if not identity.configured:
        return identity
    if not cert_path:
        return _fail(identity, "key_without_cert", key_path=key_path)
    relative = _relative(identity, found)
    if relative is not None:
        return relative
    data, error = _read(cert_path)
    if data is None:
        return _fail(identity, "cert_unreadable", path=cert_path, detail=error, var=VARS[0])
    try:
        cert = x509.load_pem_x509_certificates(data)[0]
    except ValueError:
        return _fail(identity, "cert_not_pem", path=cert_path, var=VARS[0])
    identity.subject, identity.issuer = common_name(cert.subject), common_name(cert.issuer)
    identity.not_after = cert.not_valid_after_utc.isoformat()
    base = {"subject": identity.subject, "issuer": identity.issuer, "cert_path": cert_path}
    validity = validity_problem(cert, now)
    if validity:
        return _fail(identity, "cert_expired" if "expired" in validity else "cert_not_yet_valid",
                     validity=validity, **base)
    eku = _ext(cert, x509.oid.ExtensionOID.EXTENDED_KEY_USAGE)
    if eku is not None and ExtendedKeyUsageOID.CLIENT_AUTH not in eku.value \
            and ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE not in eku.value:
        return _fail(identity, "not_for_clients", **base)
    key_data, error = (data, None) if not key_path else _read(key_path)
    if key_data is None:
        return _fail(identity, "key_unreadable", path=key_path, detail=error, var=VARS[1], **base)
    if b"PRIVATE KEY-----" not in key_data:
        return _fail(identity, "key_missing" if not key_path else "key_not_pem", path=key_path or cert_path, **base)
    try:
        key = _load_key(key_data, passphrase)
    except TypeError:  # "Password was not given but private key is encrypted"
        return _fail(identity, "passphrase_needed", key_path=key_path or cert_path, **base)
    except ValueError:
        return _fail(identity, "passphrase_wrong" if passphrase else "key_not_pem", key_path=key_path or cert_path,
                     path=key_path or cert_path, **base)
    if _public(key) != cert.public_key().public_bytes(serialization.Encoding.DER,
                                                      serialization.PublicFormat.SubjectPublicKeyInfo):
        return _fail(identity, "key_mismatch", key_path=key_path or cert_path, **base)
    return identity


def judge(identity: ClientIdentity, asked: Mapping[str, Mapping[str, Any]], urls: Mapping[str, str]):
    """The certificate.client_cert verdict from the identity and what each endpoint answered (net.mtls)."""
    from .judge import Verdict, fail, passed

    if identity.problem:
        return fail(identity.problem, **identity.values)
    results = {name: {k: r.as_dict() for k, r in answers.items()} for name, answers in asked.items()}
    evidence = {"client_auth": results}
    for name, answers in asked.items():
        without, used = answers["without_certificate"], answers.get("with_certificate")
        if without.outcome == "required" and not identity.configured:
            from pytest_proxydiag.catalog.certificate import CLIENT_CERT_SUMMARY as text

            check = text["check_proxy" if name == "proxy" else "check_gateway"].format(endpoint_url=urls[name])
            return fail("required_not_configured", evidence=evidence, endpoint=without.endpoint,
                        endpoint_url=urls[name], detail=without.alert, check=check)
        if used is not None and used.outcome == "rejected":
            return fail("rejected", evidence=evidence, endpoint=used.endpoint, detail=used.alert or used.detail,
                        subject=identity.subject, issuer=identity.issuer, cert_path=identity.cert_path)
    if not identity.configured and not any(a["without_certificate"].outcome in ("required", "answered")
                                           for a in asked.values()):
        # Nothing configured and no endpoint could be asked: the connectivity steps say why; nothing to judge here.
        return Verdict("skipped", summary=summary(identity, results), evidence=evidence)
    return passed(summary(identity, results), evidence=evidence)


def summary(identity: ClientIdentity, results: Mapping[str, Mapping[str, Any]]) -> str:
    """The passed step's one line, from the catalog's ``CLIENT_CERT_SUMMARY`` templates."""
    from pytest_proxydiag.catalog.certificate import CLIENT_CERT_SUMMARY as text

    parts = [text["usable"].format(subject=identity.subject, cert_path=identity.cert_path) if identity.usable
             else text["none"]]
    for name, r in results.items():
        used = r.get("with_certificate")
        if used:
            parts.append(text["accepted"].format(endpoint=used["endpoint"], what=name))
        else:
            asked = r["without_certificate"]
            key = {"required": "required", "answered": "not_required"}.get(asked["outcome"], "not_asked")
            parts.append(text[key].format(endpoint=asked["endpoint"], what=name, detail=asked.get("detail", "")))
    return "; ".join(parts)
