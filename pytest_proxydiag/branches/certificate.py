"""Certificate analysis for the CERTIFICATE branch: chains, trust stores, interception, fixes.

Pure analysis on top of :mod:`cryptography`: nothing here opens a socket.
The bundled tests give it the chain a target presented through the proxy
(:meth:`Probes.tls_via_proxy`, DER, leaf first) and the environment the
clients read, and it answers

* what the chain is (:func:`describe`, :class:`CertInfo`),
* whether it chains to a set of roots (:func:`build_path`) and why not,
* whether the proxy intercepts and which product does it (:func:`vendor_of`),
* which CA a client would need, and whether each client trusts it today
  (:func:`client_stores`, :func:`trust_matrix`),
* what is wrong with a CA file a variable points at (:func:`read_ca_file`:
  missing, unreadable, a directory, DER instead of PEM, empty, huge, a
  symlink loop),
* Python 3.13's strict X.509 objections (:func:`strict_problems`),

and it writes the files a fix needs (:func:`save_trust_files`: the
interception CA, a combined bundle, a PEM for ``NODE_EXTRA_CA_CERTS``), each
mode 600 and never over a file of the user's.  :func:`compute_fix` turns
them into the variables to export, so a later step can prove the fix with
real clients.
"""

from __future__ import annotations

import datetime
import errno
import functools
import hashlib
import ipaddress
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtensionOID, NameOID

from pytest_proxydiag.machine import claude_settings, litellm_config

__all__ = [
    "CertInfo", "CAFile", "PathResult", "ClientTrust", "StoreSpec", "SavedFiles", "VENDORS",
    "describe", "load_der_chain", "read_ca_file", "read_ca_source", "build_path", "hostname_matches",
    "validity_problem", "strict_problems", "vendor_of", "is_self_issued", "system_bundle", "certifi_bundle",
    "claude_settings_env", "litellm_ssl_settings", "client_stores", "trust_matrix", "ca_var_files",
    "disabled_verification", "save_trust_files", "compute_fix", "output_paths", "to_pem", "fingerprint",
    "name_text", "common_name", "WRITTEN_MARKER", "Analysis", "analyze", "reference_roots", "public_set",
    "python_context", "CA_VARS", "REPLACING_VARS",
]

#: A CA file larger than this is not read (certifi is about 0.3 MB).
MAX_CA_FILE_BYTES = 16 * 1024 * 1024
#: Files read from one CA directory at most.
MAX_DIR_ENTRIES = 5000
#: First line of every PEM file this tool writes; lets a later run replace its own files and nobody else's.
WRITTEN_MARKER = "# written by pytest-proxydiag"

#: Interception products by the words their CA names carry (issuer/subject O, OU, CN), most specific first.
VENDORS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Zscaler", ("zscaler",)),
    ("Netskope", ("netskope", "goskope")),
    ("Palo Alto Networks", ("palo alto", "paloalto", "pan-fw", "prisma access")),
    ("Blue Coat / Symantec", ("blue coat", "bluecoat", "symantec web", "proxysg", "symantec secure web gateway")),
    ("Fortinet", ("fortinet", "fortigate")),
    ("Cisco Umbrella", ("cisco umbrella", "umbrella", "opendns")),
    ("Forcepoint", ("forcepoint", "websense")),
    ("McAfee / Skyhigh Web Gateway", ("mcafee web gateway", "skyhigh")),
    ("Sophos", ("sophos",)),
    ("Check Point", ("check point", "checkpoint")),
    ("Cloudflare Gateway", ("cloudflare for teams", "cloudflare gateway", "gateway ca - cloudflare")),
    ("Squid", ("squid",)),
    ("mitmproxy", ("mitmproxy",)),
    ("proxy.py", ("proxy.py",)),
)

#: Where each OS keeps its system bundle (what curl, Claude Code and OpenSSL use by default).
SYSTEM_BUNDLES = (
    ("debian", "/etc/ssl/certs/ca-certificates.crt"),
    ("rhel", "/etc/pki/tls/certs/ca-bundle.crt"),
    ("rhel", "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem"),
    ("suse", "/etc/ssl/ca-bundle.pem"),
    ("macos", "/etc/ssl/cert.pem"),
    ("alpine", "/etc/ssl/cert.pem"),
)

_PEM_BLOCK = re.compile(rb"-----BEGIN (?:X509 |TRUSTED )?CERTIFICATE-----.+?-----END (?:X509 |TRUSTED )?CERTIFICATE-----",
                        re.S)
_HASHED_NAME = re.compile(r"^[0-9a-f]{8}\.\d+$")


# -- describing certificates ------------------------------------------------------
def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 of the DER, as colon-separated upper-case hex (like ``openssl x509 -fingerprint``)."""
    digest = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest().upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def name_text(name: x509.Name) -> str:
    """A distinguished name the way people read it (``CN=..., O=...``); never raises."""
    try:
        return name.rfc4514_string()
    except Exception:  # noqa: BLE001 - a malformed attribute must not break a report
        return repr(name)


def common_name(name: x509.Name) -> str:
    """The most telling single name: CN, else O, else the whole DN."""
    for oid in (NameOID.COMMON_NAME, NameOID.ORGANIZATION_NAME, NameOID.ORGANIZATIONAL_UNIT_NAME):
        try:
            attrs = name.get_attributes_for_oid(oid)
        except Exception:  # noqa: BLE001
            attrs = []
        if attrs:
            return str(attrs[0].value)
    return name_text(name)


def _ext(cert: x509.Certificate, oid) -> x509.Extension | None:
    try:
        return cert.extensions.get_extension_for_oid(oid)
    except x509.ExtensionNotFound:
        return None
    except Exception:  # noqa: BLE001 - duplicate or malformed extensions: treat as absent
        return None


def is_self_issued(cert: x509.Certificate) -> bool:
    """Subject equals issuer and the certificate's own key verifies its signature (a root)."""
    if cert.subject != cert.issuer:
        return False
    return _signed_by(cert, cert)


def _signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
        return True
    except Exception:  # noqa: BLE001 - InvalidSignature, ValueError (names), TypeError (key type)
        return False


def _not_before(cert: x509.Certificate) -> datetime.datetime:
    return getattr(cert, "not_valid_before_utc", None) or cert.not_valid_before.replace(tzinfo=datetime.timezone.utc)


def _not_after(cert: x509.Certificate) -> datetime.datetime:
    return getattr(cert, "not_valid_after_utc", None) or cert.not_valid_after.replace(tzinfo=datetime.timezone.utc)


@dataclass(frozen=True)
class CertInfo:
    """What a report shows of one certificate."""

    subject: str
    issuer: str
    not_before: str
    not_after: str
    sha256: str
    serial: str
    is_ca: bool | None
    basic_constraints_critical: bool | None
    self_issued: bool
    san: tuple[str, ...]
    cert: x509.Certificate = field(repr=False, compare=False)

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    def as_dict(self) -> dict[str, Any]:
        return {"subject": self.subject, "issuer": self.issuer, "not_before": self.not_before,
                "not_after": self.not_after, "sha256": self.sha256, "serial": self.serial, "is_ca": self.is_ca,
                "basic_constraints_critical": self.basic_constraints_critical, "self_issued": self.self_issued,
                "san": list(self.san)}


def describe(cert: x509.Certificate) -> CertInfo:
    bc = _ext(cert, ExtensionOID.BASIC_CONSTRAINTS)
    san_ext = _ext(cert, ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
    san: list[str] = []
    if san_ext is not None:
        for gn in san_ext.value:
            if isinstance(gn, (x509.DNSName, x509.IPAddress)):
                san.append(str(gn.value))
    return CertInfo(subject=name_text(cert.subject), issuer=name_text(cert.issuer),
                    not_before=_not_before(cert).isoformat(), not_after=_not_after(cert).isoformat(),
                    sha256=fingerprint(cert), serial=format(cert.serial_number, "X"),
                    is_ca=bc.value.ca if bc is not None else None,
                    basic_constraints_critical=bc.critical if bc is not None else None,
                    self_issued=is_self_issued(cert), san=tuple(san), cert=cert)


def load_der_chain(ders: Iterable[bytes]) -> tuple[list[x509.Certificate], list[str]]:
    """Parse a presented chain (DER, leaf first); undecodable entries are reported, not raised."""
    import warnings

    certs, errors = [], []
    for i, der in enumerate(ders):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                certs.append(x509.load_der_x509_certificate(bytes(der)))
        except Exception as exc:  # noqa: BLE001
            errors.append(f"certificate {i} of the chain cannot be parsed: {exc}")
    return certs, errors


def to_pem(certs: Iterable[x509.Certificate]) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


# -- reading CA files -----------------------------------------------------------------
@dataclass(frozen=True)
class CAFile:
    """A CA file or directory a client reads, as found on disk.

    ``status`` is ``ok`` or the precise trap: ``missing``, ``dangling``
    (symlink to nothing), ``loop`` (symlink loop), ``unreadable``,
    ``directory`` (a directory where a file is required), ``not_directory``,
    ``not_regular`` (a FIFO or device: never opened), ``empty``,
    ``too_large``, ``der`` (one DER certificate where PEM is required),
    ``pkcs7``, ``not_pem`` (no certificate in it), ``not_hashed`` (a
    directory OpenSSL cannot use because it has no ``c_rehash`` links).
    """

    path: str
    status: str
    certs: tuple[x509.Certificate, ...] = ()
    detail: str = ""
    var: str | None = None
    bad_blocks: int = 0
    kind: str = "file"

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def count(self) -> int:
        return len(self.certs)

    @property
    def label(self) -> str:
        return f"{self.var}={self.path}" if self.var else self.path

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"path": self.path, "kind": self.kind, "status": self.status,
                             "certificates": self.count}
        if self.var:
            d["var"] = self.var
        if self.detail:
            d["detail"] = self.detail
        if self.bad_blocks:
            d["unparseable_pem_blocks"] = self.bad_blocks
        return d


def _parse_bytes(data: bytes) -> tuple[str, list[x509.Certificate], int, str]:
    """(status, certs, bad PEM blocks, detail) for the content of a CA file."""
    import warnings

    with warnings.catch_warnings():
        # Some public roots have non-positive serials; cryptography warns about each one.
        warnings.simplefilter("ignore")
        return _parse_bytes_inner(data)


def _parse_bytes_inner(data: bytes) -> tuple[str, list[x509.Certificate], int, str]:
    if not data.strip():
        return "empty", [], 0, "the file is empty"
    blocks = _PEM_BLOCK.findall(data)
    if blocks:
        certs, bad = [], 0
        for block in blocks:
            if b"TRUSTED CERTIFICATE" in block[:40]:
                bad += 1  # OpenSSL's "trusted certificate" form: Node and requests cannot read it
                continue
            try:
                certs.append(x509.load_pem_x509_certificate(block))
            except Exception:  # noqa: BLE001
                bad += 1
        if certs:
            return "ok", certs, bad, ""
        return "not_pem", [], bad, f"{bad} PEM block(s), none of them a readable certificate"
    if b"-----BEGIN PKCS7-----" in data:
        try:
            from cryptography.hazmat.primitives.serialization import pkcs7

            return "pkcs7", pkcs7.load_pem_pkcs7_certificates(data), 0, "a PKCS#7 (.p7b) bundle, not PEM certificates"
        except Exception:  # noqa: BLE001
            return "not_pem", [], 0, "a PKCS#7 block that cannot be read"
    if data[:1] == b"\x30":
        try:
            return "der", [x509.load_der_x509_certificate(data)], 0, \
                "one DER (binary .cer/.der) certificate, not PEM text"
        except Exception:  # noqa: BLE001
            pass
        try:
            from cryptography.hazmat.primitives.serialization import pkcs7

            certs = pkcs7.load_der_pkcs7_certificates(data)
            return "pkcs7", certs, 0, "a binary PKCS#7 (.p7b) bundle, not PEM certificates"
        except Exception:  # noqa: BLE001
            pass
    if b"-----BEGIN" in data:
        kinds = sorted(set(m.decode("ascii", "replace") for m in re.findall(rb"-----BEGIN ([A-Z0-9 ]+)-----", data)))
        return "not_pem", [], 0, "PEM, but no certificate in it (holds: " + ", ".join(kinds) + ")"
    return "not_pem", [], 0, "neither PEM certificates nor a DER certificate"


def read_ca_file(path: str | os.PathLike, *, var: str | None = None, expect: str = "file",
                 max_bytes: int = MAX_CA_FILE_BYTES) -> CAFile:
    """Read a CA file (*expect* ``file``) or directory (``dir``) without ever raising or blocking."""
    p = os.fspath(path)
    shown = p
    try:
        st = os.stat(p)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return CAFile(shown, "loop", detail="a symlink loop", var=var, kind=expect)
        if exc.errno == errno.ENOENT:
            if os.path.islink(p):
                try:
                    dest = os.readlink(p)
                except OSError:
                    dest = "?"
                return CAFile(shown, "dangling", detail=f"a symlink to {dest}, which does not exist", var=var,
                              kind=expect)
            return CAFile(shown, "missing", detail="no such file", var=var, kind=expect)
        if exc.errno in (errno.EACCES, errno.EPERM):
            return CAFile(shown, "unreadable", detail=f"permission denied ({exc.strerror})", var=var, kind=expect)
        if exc.errno == errno.ENOTDIR:
            return CAFile(shown, "missing", detail="a parent of the path is not a directory", var=var, kind=expect)
        return CAFile(shown, "unreadable", detail=str(exc.strerror or exc), var=var, kind=expect)
    if stat.S_ISDIR(st.st_mode):
        if expect != "dir":
            return CAFile(shown, "directory", detail="a directory, where a file is required", var=var, kind=expect)
        return _read_ca_dir(p, var)
    if expect == "dir":
        return CAFile(shown, "not_directory", detail="a file, where a directory is required", var=var, kind=expect)
    if not stat.S_ISREG(st.st_mode):
        return CAFile(shown, "not_regular", detail="not a regular file (a FIFO or device); not opened", var=var)
    if st.st_size > max_bytes:
        return CAFile(shown, "too_large", detail=f"{st.st_size} bytes; a CA bundle is well under "
                                                 f"{max_bytes // (1024 * 1024)} MiB", var=var)
    try:
        with open(p, "rb") as f:
            data = f.read(max_bytes + 1)
    except OSError as exc:
        return CAFile(shown, "unreadable", detail=str(exc.strerror or exc), var=var)
    status, certs, bad, detail = _parse_bytes(data)
    return CAFile(shown, status, tuple(certs), detail, var, bad)


def _read_ca_dir(path: str, var: str | None) -> CAFile:
    certs: list[x509.Certificate] = []
    seen: set[bytes] = set()
    hashed = 0
    files = 0
    try:
        names = sorted(os.listdir(path))[:MAX_DIR_ENTRIES]
    except OSError as exc:
        return CAFile(path, "unreadable", detail=str(exc.strerror or exc), var=var, kind="dir")
    for name in names:
        is_hashed = bool(_HASHED_NAME.match(name))
        if not (is_hashed or name.endswith((".pem", ".crt", ".cer"))):
            continue
        entry = read_ca_file(os.path.join(path, name), max_bytes=1024 * 1024)
        if entry.status not in ("ok", "der"):
            continue
        files += 1
        hashed += is_hashed
        for c in entry.certs:
            fp = c.fingerprint(_SHA256)
            if fp not in seen:
                seen.add(fp)
                certs.append(c)
    if not certs:
        return CAFile(path, "empty", detail="no certificate files in the directory", var=var, kind="dir")
    if not hashed:
        return CAFile(path, "not_hashed", tuple(certs), f"{files} certificate file(s) but no hash links: OpenSSL "
                      "finds nothing here until `openssl rehash` (c_rehash) runs", var, kind="dir")
    return CAFile(path, "ok", tuple(certs), f"{files} certificate file(s)", var, kind="dir")


from cryptography.hazmat.primitives import hashes as _hashes  # noqa: E402

_SHA256 = _hashes.SHA256()


def read_ca_source(path: str, var: str | None = None) -> CAFile:
    """A file or a directory, whichever *path* is (requests accepts both in REQUESTS_CA_BUNDLE)."""
    try:
        is_dir = os.path.isdir(path)
    except OSError:
        is_dir = False
    return read_ca_file(path, var=var, expect="dir" if is_dir else "file")


# -- path building -----------------------------------------------------------------
@dataclass(frozen=True)
class PathResult:
    """Whether a presented chain leads to one of a set of roots, and why not."""

    trusted: bool
    path: tuple[x509.Certificate, ...] = ()      # leaf ... anchor (when trusted) or ... topmost reached
    anchor: x509.Certificate | None = None
    reason: str = ""
    missing_issuer: str | None = None           # DN of the issuer nobody had
    untrusted_root: x509.Certificate | None = None  # a self-signed root the chain ends in, not in the roots

    @property
    def top(self) -> x509.Certificate | None:
        return self.path[-1] if self.path else None


@functools.lru_cache(maxsize=8192)
def _fp(cert: x509.Certificate) -> bytes:
    """SHA-256 of a certificate, computed once per certificate (stores are checked many times per run)."""
    return cert.fingerprint(_SHA256)


@functools.lru_cache(maxsize=8192)
def _subject_key(cert: x509.Certificate) -> bytes:
    return cert.subject.public_bytes()


class _Roots:
    def __init__(self, roots: Iterable[x509.Certificate]) -> None:
        self.by_subject: dict[bytes, list[x509.Certificate]] = {}
        self.fps: set[bytes] = set()
        for r in roots:
            self.fps.add(_fp(r))
            self.by_subject.setdefault(_subject_key(r), []).append(r)


def build_path(chain: Sequence[x509.Certificate], roots: Iterable[x509.Certificate]) -> PathResult:
    """Follow issuer links from the leaf through the presented certificates to a root in *roots*.

    Like OpenSSL's default (no partial chains): a presented certificate is a
    trust anchor only when it is itself in *roots*; otherwise its issuer must
    be found, by name and signature, among *roots* or the presented ones.
    """
    if not chain:
        return PathResult(False, reason="no certificate was presented")
    r = roots if isinstance(roots, _Roots) else _Roots(roots)
    current = chain[0]
    path = [current]
    pool = list(chain[1:])
    for _ in range(12):
        if _fp(current) in r.fps:
            return PathResult(True, tuple(path), current)
        for candidate in r.by_subject.get(current.issuer.public_bytes(), []):
            if _signed_by(current, candidate):
                path.append(candidate)
                return PathResult(True, tuple(path), candidate)
        if is_self_issued(current):
            return PathResult(False, tuple(path), reason=f"the chain ends in the self-signed root "
                              f"'{common_name(current.subject)}', which is not among the trusted roots",
                              untrusted_root=current)
        nxt = next((c for c in pool if c.subject == current.issuer and _signed_by(current, c)), None)
        if nxt is None:
            return PathResult(False, tuple(path), reason=f"no certificate of the issuer "
                              f"'{common_name(current.issuer)}' was sent or is trusted",
                              missing_issuer=name_text(current.issuer))
        pool.remove(nxt)
        path.append(nxt)
        current = nxt
    return PathResult(False, tuple(path), reason="the chain is longer than 12 certificates")


def _matches_dns(pattern: str, host: str) -> bool:
    pattern, host = pattern.lower().rstrip("."), host.lower().rstrip(".")
    if pattern == host:
        return True
    if pattern.startswith("*.") and "*" not in pattern[2:]:
        suffix = pattern[1:]
        return host.endswith(suffix) and "." not in host[: -len(suffix)] and len(host) > len(suffix)
    return False


def hostname_matches(cert: x509.Certificate, host: str) -> bool:
    """RFC 6125 matching as Python's ssl does it: SAN DNS/IP names; the CN only without DNS SANs."""
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        ip = None
    san = _ext(cert, ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
    dns_names: list[str] = []
    if san is not None:
        dns_names = san.value.get_values_for_type(x509.DNSName)
        if ip is not None:
            return ip in san.value.get_values_for_type(x509.IPAddress)
        if dns_names:
            return any(_matches_dns(n, host) for n in dns_names)
    if ip is not None:
        return False
    try:
        cns = [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    except Exception:  # noqa: BLE001
        cns = []
    return any(_matches_dns(cn, host) for cn in cns)


def validity_problem(cert: x509.Certificate, now: datetime.datetime | None = None) -> str | None:
    """``expired on ...`` / ``not valid before ...`` or None."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    nb, na = _not_before(cert), _not_after(cert)
    if now > na:
        return f"expired on {na:%Y-%m-%d %H:%M} UTC"
    if now < nb:
        return f"not valid before {nb:%Y-%m-%d %H:%M} UTC (check this machine's clock too)"
    return None


def strict_problems(path: Sequence[x509.Certificate]) -> list[str]:
    """What Python 3.13+'s strict X.509 default (``VERIFY_X509_STRICT``) rejects in a path.

    The messages follow OpenSSL's, which is what users see in the traceback
    ("Basic Constraints of CA cert not marked critical"), spelled with the
    extension's name (``basicConstraints``) so that report redaction, which
    masks anything shaped like an HTTP ``Basic <token>`` header, leaves them
    readable.
    """
    problems: list[str] = []
    for i, cert in enumerate(path):
        who = f"'{common_name(cert.subject)}'"
        if i == 0 and len(path) > 1:
            if _ext(cert, ExtensionOID.AUTHORITY_KEY_IDENTIFIER) is None:
                problems.append(f"{who}: Missing Authority Key Identifier")
            continue
        bc = _ext(cert, ExtensionOID.BASIC_CONSTRAINTS)
        if bc is None:
            problems.append(f"{who}: basicConstraints missing from a CA certificate")
        elif bc.value.ca and not bc.critical:
            problems.append(f"{who}: basicConstraints of CA cert not marked critical")
        if _ext(cert, ExtensionOID.KEY_USAGE) is None and bc is not None and bc.value.ca:
            problems.append(f"{who}: CA cert does not include key usage extension")
        if _ext(cert, ExtensionOID.SUBJECT_KEY_IDENTIFIER) is None and bc is not None and bc.value.ca:
            problems.append(f"{who}: Missing Subject Key Identifier")
    return problems


def vendor_of(certs: Iterable[x509.Certificate]) -> str | None:
    """The interception product named by the certificates' issuer/subject, if it is a known one."""
    words: list[str] = []
    for cert in certs:
        for name in (cert.issuer, cert.subject):
            for oid in (NameOID.ORGANIZATION_NAME, NameOID.ORGANIZATIONAL_UNIT_NAME, NameOID.COMMON_NAME):
                try:
                    words += [str(a.value).lower() for a in name.get_attributes_for_oid(oid)]
                except Exception:  # noqa: BLE001
                    pass
    text = " | ".join(words)
    for vendor, needles in VENDORS:
        if any(n in text for n in needles):
            return vendor
    return None


# -- the stores each client reads --------------------------------------------------------
def certifi_bundle() -> str | None:
    try:
        import certifi

        return certifi.where()
    except Exception:  # noqa: BLE001 - certifi is a dependency of requests, but never crash on it
        return None


def system_bundle() -> tuple[str | None, str | None]:
    """(path, os family) of this machine's system bundle, the first that exists."""
    for family, path in SYSTEM_BUNDLES:
        if os.path.isfile(path):
            return path, family
    return None, None


def claude_settings_env(home: str | None) -> tuple[dict[str, str], str | None, str | None]:
    """The ``env`` Claude Code applies to itself, every settings scope merged: (env, file(s), error)."""
    if not home:
        return {}, None, None
    cs = claude_settings.read(home, os.getcwd())
    bad = next((f for f in cs.files if f.problem), None)
    return (dict(cs.env), cs.label() or (bad.path if bad else None),
            bad.problem.removeprefix(bad.path + " ") if bad else None)


def litellm_ssl_settings(config_path: str | None, env: Mapping[str, str]) -> dict[str, Any]:
    """LiteLLM's TLS settings: ``ssl_verify`` (bool or a CA path) from its config and ``SSL_VERIFY``.

    Returns ``{"config": path|None, "ssl_verify": value|None, "source": ..., "error": ...}``.
    """
    out: dict[str, Any] = {"config": None, "ssl_verify": None, "source": None, "error": None}
    found = litellm_config.locate(config_path, "cli", os.getcwd())
    if found is not None and os.path.isfile(found.path):
        out["config"] = found.path
        data, out["error"] = litellm_config.load(found.path)
        for section in ("litellm_settings", "general_settings"):
            block = (data or {}).get(section)
            if isinstance(block, dict) and "ssl_verify" in block:
                out["ssl_verify"] = block["ssl_verify"]
                out["source"] = f"{found.path}: {section}.ssl_verify"
                break
    if out["ssl_verify"] is None and env.get("SSL_VERIFY", "") != "":
        out["ssl_verify"] = env["SSL_VERIFY"]
        out["source"] = "env:SSL_VERIFY"
    return out


def _falsy(value: Any) -> bool:
    return value is False or str(value).strip().lower() in ("0", "false", "no", "off")


@dataclass(frozen=True)
class StoreSpec:
    """Where one client takes its trusted roots from, in this environment."""

    client: str
    label: str                          # e.g. "requests (also Python pip, LiteLLM's requests)"
    sources: tuple[tuple[str, str, str], ...]   # (var or "default", path, "file"|"dir")
    via: str
    relevant: bool = True
    disabled: str | None = None         # verification turned off, and by what
    extra: bool = False                 # sources add to built-in roots (NODE_EXTRA_CA_CERTS)
    builtin: str | None = None          # the built-in roots the extra sources add to
    fatal_if_bad: bool = False          # a bad source breaks the client entirely (Claude Code)
    note: str = ""


def client_stores(env: Mapping[str, str], *, home: str | None = None, litellm_config: str | None = None,
                  gateway: str | None = None) -> dict[str, StoreSpec]:
    """The trust store of every client in *env* (what it would read, in its own order)."""
    def val(name: str) -> str | None:
        v = env.get(name)
        return v if v not in (None, "") else None

    certifi_path = certifi_bundle()
    sys_path, _family = system_bundle()
    import ssl

    dvp = ssl.get_default_verify_paths()
    stores: dict[str, StoreSpec] = {}

    # requests: REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE (a file or a directory), else certifi.
    if val("REQUESTS_CA_BUNDLE"):
        src = ("REQUESTS_CA_BUNDLE", env["REQUESTS_CA_BUNDLE"], "any")
    elif val("CURL_CA_BUNDLE"):
        src = ("CURL_CA_BUNDLE", env["CURL_CA_BUNDLE"], "any")
    else:
        src = ("certifi", certifi_path or "", "file")
    stores["requests"] = StoreSpec("requests", "requests", (src,), _via(src))

    # Python's ssl defaults (urllib, ssl.create_default_context): SSL_CERT_FILE and SSL_CERT_DIR,
    # else OpenSSL's compiled-in paths; both the file and the directory are consulted.
    f_src = ("SSL_CERT_FILE", env["SSL_CERT_FILE"], "file") if val("SSL_CERT_FILE") else \
        ("default", dvp.openssl_cafile, "file")
    d_src = ("SSL_CERT_DIR", env["SSL_CERT_DIR"], "dir") if val("SSL_CERT_DIR") else \
        ("default", dvp.openssl_capath, "dir")
    py_sources = tuple(s for s in (f_src, d_src) if s[1] and (s[0] != "default" or os.path.exists(s[1])))
    stores["python-ssl"] = StoreSpec("python-ssl", "Python ssl/urllib",
                                     py_sources, " + ".join(_via(s) for s in py_sources) or "no CA file")

    # httpx (and the Anthropic SDK, which uses it): SSL_CERT_FILE, else SSL_CERT_DIR, else certifi.
    if val("SSL_CERT_FILE"):
        hsrc = ("SSL_CERT_FILE", env["SSL_CERT_FILE"], "file")
    elif val("SSL_CERT_DIR"):
        hsrc = ("SSL_CERT_DIR", env["SSL_CERT_DIR"], "dir")
    else:
        hsrc = ("certifi", certifi_path or "", "file")
    stores["httpx"] = StoreSpec("httpx", "httpx/Anthropic SDK", (hsrc,), _via(hsrc))

    # curl: CURL_CA_BUNDLE, then SSL_CERT_DIR / SSL_CERT_FILE (measured), else its built-in bundle.
    if val("CURL_CA_BUNDLE"):
        csrc: tuple[tuple[str, str, str], ...] = (("CURL_CA_BUNDLE", env["CURL_CA_BUNDLE"], "file"),)
    elif val("SSL_CERT_FILE") or val("SSL_CERT_DIR"):
        csrc = tuple(s for s in (("SSL_CERT_FILE", env.get("SSL_CERT_FILE", ""), "file"),
                                 ("SSL_CERT_DIR", env.get("SSL_CERT_DIR", ""), "dir")) if s[1])
    else:
        csrc = (("system", sys_path or dvp.cafile or "", "file"),)
    stores["curl"] = StoreSpec("curl", "curl", csrc, " + ".join(_via(s) for s in csrc))

    # Node: its bundled Mozilla roots (certifi holds the same list) plus NODE_EXTRA_CA_CERTS.
    extra = ("NODE_EXTRA_CA_CERTS", env["NODE_EXTRA_CA_CERTS"], "file") if val("NODE_EXTRA_CA_CERTS") else None
    node_disabled = "NODE_TLS_REJECT_UNAUTHORIZED=0" if env.get("NODE_TLS_REJECT_UNAUTHORIZED", "").strip() == "0" \
        else None
    stores["node"] = StoreSpec("node", "Node.js", (extra,) if extra else (),
                               (_via(extra) + " + " if extra else "") + "Node's bundled roots",
                               disabled=node_disabled, extra=True, builtin=certifi_path,
                               note="" if extra else "NODE_EXTRA_CA_CERTS is not set")

    # Claude Code: bundled roots + the OS store + NODE_EXTRA_CA_CERTS (environment, or the env block of
    # ~/.claude/settings.json) + SSL_CERT_FILE (measured); a DER file in NODE_EXTRA_CA_CERTS breaks it.
    settings_env, settings_path, _err = claude_settings_env(home or env.get("HOME"))
    cc_sources: list[tuple[str, str, str]] = []
    cc_extra = extra
    if cc_extra is None and settings_env.get("NODE_EXTRA_CA_CERTS"):
        cc_extra = (f"{settings_path} env NODE_EXTRA_CA_CERTS", settings_env["NODE_EXTRA_CA_CERTS"], "file")
    if cc_extra:
        cc_sources.append(cc_extra)
    ssl_file = val("SSL_CERT_FILE") or settings_env.get("SSL_CERT_FILE") or None
    if ssl_file:
        cc_sources.append(("SSL_CERT_FILE", ssl_file, "file"))
    if sys_path:
        cc_sources.append(("system", sys_path, "file"))
    cc_disabled = None
    if node_disabled:
        cc_disabled = node_disabled
    elif settings_env.get("NODE_TLS_REJECT_UNAUTHORIZED", "").strip() == "0":
        cc_disabled = f"NODE_TLS_REJECT_UNAUTHORIZED=0 in {settings_path}"
    stores["claude-code"] = StoreSpec("claude-code", "Claude Code", tuple(cc_sources),
                                      " + ".join(_via(s) for s in cc_sources) + " + bundled roots",
                                      disabled=cc_disabled, extra=True, builtin=certifi_path, fatal_if_bad=True,
                                      note="" if cc_extra else "NODE_EXTRA_CA_CERTS is not set (environment or "
                                                                "~/.claude/settings.json)")

    # LiteLLM: ssl_verify (false, or a CA path) from its config or SSL_VERIFY, else like httpx.
    lite = litellm_ssl_settings(litellm_config, env)
    relevant = bool(lite["config"] or gateway)
    sv = lite["ssl_verify"]
    if sv is not None and _falsy(sv):
        stores["litellm"] = StoreSpec("litellm", "LiteLLM", (), f"ssl_verify=false ({lite['source']})",
                                      relevant=relevant, disabled=f"ssl_verify: false ({lite['source']})")
    elif isinstance(sv, str) and sv.strip() and sv.strip().lower() not in ("true", "1", "yes", "on"):
        lsrc = (lite["source"] or "ssl_verify", sv.strip(), "any")
        stores["litellm"] = StoreSpec("litellm", "LiteLLM", (lsrc,), _via(lsrc), relevant=relevant)
    else:
        stores["litellm"] = StoreSpec("litellm", "LiteLLM", (hsrc,), _via(hsrc), relevant=relevant)
    return stores


def _via(src: tuple[str, str, str] | None) -> str:
    if not src:
        return ""
    var, path, _kind = src
    if var in ("certifi", "system", "default"):
        return f"{var} ({path})" if path else var
    return f"{var}={path}"


@dataclass
class ClientTrust:
    """Whether one client would accept the presented chain today."""

    client: str
    label: str
    trusted: bool
    via: str
    why: str
    relevant: bool = True
    disabled: str | None = None
    bad_files: list[CAFile] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"trusted": self.trusted, "via": self.via, "why": self.why, "label": self.label}
        if not self.relevant:
            d["relevant"] = False
        if self.disabled:
            d["verification_disabled"] = self.disabled
        if self.bad_files:
            d["bad_files"] = [f.as_dict() for f in self.bad_files]
        return d


class _FileCache:
    """Reads each CA source once per run (keyed by path, kind, mtime and size)."""

    def __init__(self) -> None:
        self._cache: dict[Any, CAFile] = {}

    def get(self, var: str, path: str, kind: str) -> CAFile:
        try:
            st = os.stat(path)
            key = (path, kind, st.st_mtime_ns, st.st_size)
        except OSError:
            key = (path, kind, None, None)
        hit = self._cache.get(key)
        if hit is None:
            if kind == "any":
                hit = read_ca_source(path)
            else:
                hit = read_ca_file(path, expect=kind)
            self._cache[key] = hit
        shown_var = None if var in ("certifi", "system", "default") else var
        return CAFile(hit.path, hit.status, hit.certs, hit.detail, shown_var, hit.bad_blocks, hit.kind)


FILES = _FileCache()


BUILTIN_SOURCES = ("certifi", "system", "default")


def trust_matrix(chain: Sequence[x509.Certificate], stores: Mapping[str, StoreSpec],
                 files: _FileCache | None = None,
                 reference: Sequence[x509.Certificate] = ()) -> dict[str, ClientTrust]:
    """For every client: would it accept *chain* with the store it reads today, and why (not).

    *reference* (``--proxydiag-public-roots``) counts as part of every
    built-in store (certifi, the system bundle, Node's bundled roots): it
    names the roots a non-intercepted provider chains to.
    """
    files = files or FILES
    out: dict[str, ClientTrust] = {}
    for name, spec in stores.items():
        roots: list[x509.Certificate] = []
        bad: list[CAFile] = []
        if spec.extra or any(var in BUILTIN_SOURCES for var, _p, _k in spec.sources):
            roots += list(reference)
        for var, path, kind in spec.sources:
            if not path:
                continue
            f = files.get(var, path, kind)
            if f.ok:
                roots += f.certs
            elif var in ("default", "system") and f.status in ("missing", "empty"):
                continue  # no compiled-in bundle here: not the user's doing
            else:
                # DER, missing, empty, un-hashed directory...: the client cannot use it.
                bad.append(f)
        if spec.extra and spec.builtin:
            roots += files.get("certifi", spec.builtin, "file").certs
        if spec.disabled:
            out[name] = ClientTrust(name, spec.label, True, spec.via, f"verification is turned off "
                                    f"({spec.disabled}): it accepts any certificate, including an attacker's",
                                    spec.relevant, spec.disabled, bad)
            continue
        fatal = [f for f in bad if spec.fatal_if_bad and f.var and "NODE_EXTRA_CA_CERTS" in f.var]
        res = build_path(chain, roots)
        if fatal:
            f = fatal[0]
            why = (f"{f.label} is {f.detail or f.status}: Claude Code fails every request "
                   "(its debug log says 'Invalid CA'), even for hosts it would otherwise trust")
            out[name] = ClientTrust(name, spec.label, False, spec.via, why, spec.relevant, None, bad)
            continue
        if res.trusted:
            why = f"chains to '{common_name(res.anchor.subject)}' from {spec.via}"
        else:
            parts = [res.reason]
            if bad:
                parts.append("; ".join(f"{f.label} is {f.detail or f.status}" for f in bad))
            if spec.note:
                parts.append(spec.note)
            why = "; ".join(p for p in parts if p)
        out[name] = ClientTrust(name, spec.label, res.trusted, spec.via, why, spec.relevant, None, bad)
    return out


# -- CA variables and verification switches ------------------------------------------------
#: Variables that name a CA file or directory, with what they must hold.
CA_VARS: tuple[tuple[str, str, str], ...] = (
    ("SSL_CERT_FILE", "file", "Python ssl, httpx, the Anthropic SDK, LiteLLM, curl and Claude Code"),
    ("SSL_CERT_DIR", "dir", "Python ssl, httpx and curl"),
    ("REQUESTS_CA_BUNDLE", "any", "Python requests"),
    ("CURL_CA_BUNDLE", "file", "curl and Python requests"),
    ("NODE_EXTRA_CA_CERTS", "file", "Node.js and Claude Code"),
)
#: Variables that replace the whole store (a bundle there must also hold the public roots).
REPLACING_VARS = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


def ca_var_files(env: Mapping[str, str], files: _FileCache | None = None,
                 home: str | None = None) -> list[CAFile]:
    """Every CA variable that is set to a non-empty value, read (also NODE_EXTRA_CA_CERTS from Claude settings)."""
    files = files or FILES
    out = []
    for var, kind, _users in CA_VARS:
        value = env.get(var)
        if value:
            out.append(files.get(var, value, kind))
    settings_env, settings_path, _ = claude_settings_env(home or env.get("HOME"))
    if not env.get("NODE_EXTRA_CA_CERTS") and settings_env.get("NODE_EXTRA_CA_CERTS"):
        out.append(files.get(f"NODE_EXTRA_CA_CERTS (in {settings_path})", settings_env["NODE_EXTRA_CA_CERTS"],
                             "file"))
    return out


def disabled_verification(env: Mapping[str, str], *, home: str | None = None,
                          litellm_config: str | None = None) -> list[dict[str, str]]:
    """Every place verification is switched off (or meant to be), with what it does to whom."""
    found: list[dict[str, str]] = []
    req_effect = _requests_empty_effect()
    for var, effect in (
        ("CURL_CA_BUNDLE", "set but empty: the flowchart's 'temporary workaround' to switch verification off "
                           "(curl then has no bundle to verify with; " + req_effect + ")"),
        ("REQUESTS_CA_BUNDLE", "set but empty: meant to switch requests' verification off (" + req_effect + ")"),
        ("SSL_CERT_FILE", "set but empty: meant to switch verification off; Python's ssl and curl are left "
                          "with no CA file"),
    ):
        if var in env and env[var].strip() == "":
            found.append({"where": f"{var}=\"\"", "var": var, "effect": effect})
    if env.get("NODE_TLS_REJECT_UNAUTHORIZED", "").strip() == "0":
        found.append({"where": "NODE_TLS_REJECT_UNAUTHORIZED=0", "var": "NODE_TLS_REJECT_UNAUTHORIZED",
                      "effect": "Node.js and Claude Code accept any certificate"})
    if env.get("PYTHONHTTPSVERIFY", "").strip() == "0":
        found.append({"where": "PYTHONHTTPSVERIFY=0", "var": "PYTHONHTTPSVERIFY",
                      "effect": "Python builds that honour PEP 493 (RHEL/CentOS) skip verification in urllib"})
    settings_env, settings_path, _ = claude_settings_env(home or env.get("HOME"))
    if settings_env.get("NODE_TLS_REJECT_UNAUTHORIZED", "").strip() == "0":
        found.append({"where": f"NODE_TLS_REJECT_UNAUTHORIZED=0 in {settings_path} (env)",
                      "var": "NODE_TLS_REJECT_UNAUTHORIZED", "file": settings_path or "",
                      "effect": "Claude Code accepts any certificate"})
    lite = litellm_ssl_settings(litellm_config, env)
    if lite["ssl_verify"] is not None and _falsy(lite["ssl_verify"]):
        found.append({"where": f"ssl_verify: false ({lite['source']})", "var": "SSL_VERIFY"
                      if lite["source"] == "env:SSL_VERIFY" else "ssl_verify",
                      "file": lite["config"] or "", "effect": "LiteLLM accepts any certificate upstream"})
    return found


def _requests_empty_effect() -> str:
    """What the installed requests does with an empty REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE (read from its code)."""
    try:
        import requests

        s = requests.Session()
        saved = {k: os.environ.get(k) for k in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")}
        # Evaluated with the installed requests' own rule, without touching the network.
        try:
            os.environ["REQUESTS_CA_BUNDLE"] = ""
            os.environ["CURL_CA_BUNDLE"] = ""
            verify = s.merge_environment_settings("https://example.invalid/", {}, None, None, None)["verify"]
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        if verify is True:
            return f"requests {requests.__version__} ignores the empty value and verifies with certifi; " \
                   "requests before 2.32 turned verification off"
        if not verify:
            return f"requests {requests.__version__} turns verification off"
        return f"requests {requests.__version__} uses {verify!r}"
    except Exception:  # noqa: BLE001
        return "requests before 2.32 turned verification off"


# -- writing the fix -----------------------------------------------------------------------
@dataclass
class SavedFiles:
    """Files written for the user (absolute paths), all mode 600."""

    ca_path: str | None = None
    bundle_path: str | None = None
    node_ca_path: str | None = None
    converted: dict[str, str] = field(default_factory=dict)   # var -> PEM path converted from DER/PKCS#7
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v}


def output_paths(ca_out: str | None, json_path: str | None, cwd: str | None = None) -> Path:
    """Where the interception CA goes: ``--proxydiag-ca-out``, else next to the JSON report, else under *cwd*.

    The plugin passes as *cwd* the HTML report's directory or pytest's temporary directory, so
    nothing is written where the user named no path.
    """
    if ca_out:
        p = Path(ca_out).expanduser()
        if p.is_dir() or str(ca_out).endswith(os.sep):
            p = p / "proxy-ca.pem"
    elif json_path:
        p = Path(json_path).expanduser().resolve().parent / "proxydiag-ca" / "proxy-ca.pem"
    else:
        p = Path(cwd or os.getcwd()) / "proxydiag-ca" / "proxy-ca.pem"
    return p.absolute()


def _ours(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(len(WRITTEN_MARKER)).decode("ascii", "replace") == WRITTEN_MARKER
    except OSError:
        return False


def _write_private(path: Path, data: bytes, protected: set[str]) -> Path:
    """Write *data* to *path* (mode 600) atomically; never over a file that is not ours.

    When *path* holds somebody else's file (or is one of the user's CA
    files, or a symlink), a sibling name is used instead.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    candidate = path
    for i in range(1, 50):
        real = os.path.realpath(candidate)
        if os.path.islink(candidate) or real in protected or (candidate.exists() and not _ours(candidate)):
            candidate = path.with_name(f"{path.stem}.{i}{path.suffix}")
            continue
        break
    tmp = candidate.with_name(f".{candidate.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o600)
        os.replace(tmp, candidate)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return candidate


def _pem_file(certs: Sequence[x509.Certificate], title: str) -> bytes:
    lines = [WRITTEN_MARKER, f"# {title}"]
    body = b""
    for c in certs:
        body += (f"# {name_text(c.subject)}\n# sha256 {fingerprint(c)}\n").encode("utf-8", "replace")
        body += c.public_bytes(serialization.Encoding.PEM)
    return ("\n".join(lines) + "\n").encode("utf-8") + body


def _dedupe(certs: Iterable[x509.Certificate]) -> list[x509.Certificate]:
    seen: set[bytes] = set()
    out = []
    for c in certs:
        fp = c.fingerprint(_SHA256)
        if fp not in seen:
            seen.add(fp)
            out.append(c)
    return out


def save_trust_files(ca_certs: Sequence[x509.Certificate], ca_path: Path, *,
                     public_roots: Sequence[x509.Certificate], user_files: Sequence[CAFile] = (),
                     node_extra: CAFile | None = None) -> SavedFiles:
    """Write the interception CA, a combined bundle and the ``NODE_EXTRA_CA_CERTS`` file next to it.

    * ``proxy-ca.pem`` — the interception CA (PEM, what IT would hand out);
    * ``ca-bundle.pem`` — the public roots + the CA + every certificate the user's current
      bundles (``REQUESTS_CA_BUNDLE``, ``SSL_CERT_FILE``, ``CURL_CA_BUNDLE``) hold, so nothing
      that works today stops working;
    * ``node-extra-ca-certs.pem`` — the CA + whatever the current ``NODE_EXTRA_CA_CERTS`` held
      (DER converted), only when there is such a file;
    * ``<name>.pem`` — a PEM copy of any DER/PKCS#7 file a variable points at.

    The user's own files are only read.
    """
    saved = SavedFiles()
    protected = {os.path.realpath(f.path) for f in user_files}
    if node_extra is not None:
        protected.add(os.path.realpath(node_extra.path))
    ca_certs = _dedupe(ca_certs)
    directory = ca_path.parent
    if ca_certs:
        saved.ca_path = str(_write_private(ca_path, _pem_file(ca_certs, "TLS interception CA found by "
                                                                         "pytest-proxydiag"), protected))
    user_extra = [c for f in user_files if f.ok or f.status in ("der", "pkcs7") for c in f.certs]
    combined = _dedupe(list(public_roots) + list(ca_certs) + user_extra)
    if ca_certs and combined:
        saved.bundle_path = str(_write_private(directory / "ca-bundle.pem",
                                               _pem_file(combined, "public roots + the interception CA + your "
                                                                   "existing CAs"), protected))
    if node_extra is not None and node_extra.certs:
        merged = _dedupe(list(ca_certs) + list(node_extra.certs))
        saved.node_ca_path = str(_write_private(directory / "node-extra-ca-certs.pem",
                                                _pem_file(merged, "for NODE_EXTRA_CA_CERTS: the interception CA "
                                                                  "+ the CAs it held before"), protected))
    else:
        saved.node_ca_path = saved.ca_path
    for f in list(user_files) + ([node_extra] if node_extra is not None else []):
        if f.status in ("der", "pkcs7") and f.certs and f.var:
            name = Path(f.path).stem + ".pem"
            out = _write_private(directory / name, _pem_file(f.certs, f"PEM copy of {f.path}"), protected)
            saved.converted[f.var] = str(out)
    return saved


def compute_fix(saved: SavedFiles, env: Mapping[str, str], *, disabled: Sequence[Mapping[str, str]] = ()) -> dict:
    """The variables that make every client trust the CA: ``{"env": {...}, "unset": [...]}``.

    Kept apart from the tests so a later step can apply it to real clients
    and prove it (``verified``).
    """
    fix_env: dict[str, str] = {}
    if saved.bundle_path:
        for var in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
            fix_env[var] = saved.bundle_path
    node = saved.node_ca_path or saved.converted.get("NODE_EXTRA_CA_CERTS")
    if node:
        fix_env["NODE_EXTRA_CA_CERTS"] = node
    unset = []
    for d in disabled:
        var = d.get("var")
        if var and var not in fix_env and var not in unset and var != "ssl_verify":
            unset.append(var)
    if env.get("SSL_CERT_DIR") and saved.bundle_path:
        # A directory without the CA would still be consulted; the bundle is enough.
        unset.append("SSL_CERT_DIR")
    return {"env": fix_env, "unset": unset}


# -- the whole analysis of one target ----------------------------------------------------------
def reference_roots(public_roots: str | None, files: _FileCache | None = None) -> tuple[list[x509.Certificate], str, str | None]:
    """The roots a non-intercepted provider chains to: (certs, label, problem)."""
    files = files or FILES
    if public_roots:
        f = files.get("--proxydiag-public-roots", public_roots, "any")
        if f.ok:
            return list(f.certs), f"--proxydiag-public-roots {public_roots}", None
        return [], f"--proxydiag-public-roots {public_roots}", f"{public_roots} is {f.detail or f.status}"
    path = certifi_bundle()
    if path:
        f = files.get("certifi", path, "file")
        if f.ok:
            return list(f.certs), f"certifi ({path})", None
    sys_path, _ = system_bundle()
    if sys_path:
        f = files.get("system", sys_path, "file")
        return list(f.certs), f"system bundle ({sys_path})", None if f.ok else f.detail
    return [], "no public roots", "neither certifi nor a system bundle is available"


def _aia_ca_issuers(cert: x509.Certificate) -> list[str]:
    ext = _ext(cert, ExtensionOID.AUTHORITY_INFORMATION_ACCESS)
    if ext is None:
        return []
    from cryptography.x509.oid import AuthorityInformationAccessOID

    return [str(d.access_location.value) for d in ext.value
            if d.access_method == AuthorityInformationAccessOID.CA_ISSUERS]


@dataclass
class Analysis:
    """Everything the certificate steps need to know about one target's chain through the proxy."""

    target: str
    host: str
    chain: list[CertInfo]
    parse_errors: list[str]
    reference_label: str
    reference_problem: str | None
    public: PathResult
    vendor: str | None
    intercepted: bool
    leaf_validity: str | None
    leaf_host_ok: bool
    ca_certs: list[x509.Certificate]
    ca_source: str
    missing_issuer: str | None
    incomplete_hint: list[str]
    stores: dict[str, StoreSpec]
    trust: dict[str, ClientTrust]
    strict: list[str]

    @property
    def leaf(self) -> CertInfo | None:
        return self.chain[0] if self.chain else None

    @property
    def ca(self) -> x509.Certificate | None:
        return self.ca_certs[0] if self.ca_certs else None

    @staticmethod
    def grouped(trust: Mapping[str, ClientTrust]) -> str:
        """``requests, curl (why); Node.js (other why)``: clients with the same reason told once."""
        groups: dict[str, list[str]] = {}
        for t in trust.values():
            groups.setdefault(t.why, []).append(t.label)
        return "; ".join(f"{', '.join(labels)} ({why})" for why, labels in groups.items())

    def untrusted(self, relevant_only: bool = True) -> dict[str, ClientTrust]:
        return {k: t for k, t in self.trust.items() if not t.trusted and (t.relevant or not relevant_only)}

    def evidence(self) -> dict[str, Any]:
        return {
            "chain": [c.as_dict() for c in self.chain],
            "reference_roots": self.reference_label,
            "chains_to_public_root": self.public.trusted,
            "public_verdict": (f"chains to '{common_name(self.public.anchor.subject)}'" if self.public.trusted
                               else self.public.reason),
            "intercepted": self.intercepted,
            "vendor": self.vendor,
            "trust": {k: t.as_dict() for k, t in self.trust.items()},
            **({"strict_x509": self.strict} if self.strict else {}),
            **({"chain_parse_errors": self.parse_errors} if self.parse_errors else {}),
            **({"reference_problem": self.reference_problem} if self.reference_problem else {}),
        }


def analyze(chain_der: Sequence[bytes], host: str, *, env: Mapping[str, str], home: str | None = None,
            public_roots: str | None = None, litellm_config: str | None = None, gateway: str | None = None,
            now: datetime.datetime | None = None, files: _FileCache | None = None, target: str = "") -> Analysis:
    """Judge a presented chain: interception, the CA to trust, and every client's verdict on it."""
    files = files or FILES
    certs, errors = load_der_chain(chain_der)
    infos = [describe(c) for c in certs]
    reference, ref_label, ref_problem = reference_roots(public_roots, files)
    public = build_path(certs, reference)
    vendor = vendor_of(certs)
    intercepted = bool(certs) and (not public.trusted or vendor is not None)
    leaf = certs[0] if certs else None
    leaf_validity = validity_problem(leaf, now) if leaf is not None else None
    host_ok = hostname_matches(leaf, host) if leaf is not None else False
    stores = client_stores(env, home=home, litellm_config=litellm_config, gateway=gateway)
    trust = trust_matrix(certs, stores, files, reference) if certs else {}

    # The CA a client must trust: the root the proxy sends, else one a client already has, else the
    # topmost certificate sent (an intermediate), else nothing (leaf only: name the issuer).
    ca_certs: list[x509.Certificate] = []
    ca_source = ""
    missing_issuer = None
    incomplete_hint: list[str] = []
    if intercepted and certs:
        if public.untrusted_root is not None:
            ca_certs, ca_source = [public.untrusted_root], "sent by the proxy"
        else:
            anchor = None
            for name, spec in stores.items():
                roots: list[x509.Certificate] = []
                for var, path, kind in spec.sources:
                    if path:
                        f = files.get(var, path, kind)
                        if f.ok or f.status in ("der", "pkcs7"):
                            roots += f.certs
                res = build_path(certs, roots)
                if res.trusted and res.anchor is not None:
                    anchor = res.anchor
                    ca_source = f"found in {spec.label}'s store ({spec.via})"
                    break
            top = public.top or certs[-1]
            if anchor is not None:
                ca_certs = [anchor]
            elif top is not certs[0] or len(certs) > 1:
                ca_certs, ca_source = [top], "the topmost certificate the proxy sends (an intermediate)"
                missing_issuer = public.missing_issuer
            else:
                missing_issuer = public.missing_issuer
                if vendor is None:
                    incomplete_hint = _aia_ca_issuers(certs[0])
        if incomplete_hint:
            intercepted = False
    path_for_strict: Sequence[x509.Certificate] = ()
    if public.trusted:
        path_for_strict = public.path
    elif ca_certs:
        path_for_strict = tuple(build_path(certs, ca_certs).path) or tuple(certs)
    strict = strict_problems(path_for_strict) if path_for_strict else []
    return Analysis(target=target, host=host, chain=infos, parse_errors=errors, reference_label=ref_label,
                    reference_problem=ref_problem, public=public, vendor=vendor, intercepted=intercepted,
                    leaf_validity=leaf_validity, leaf_host_ok=host_ok, ca_certs=ca_certs, ca_source=ca_source,
                    missing_issuer=missing_issuer, incomplete_hint=incomplete_hint, stores=stores, trust=trust,
                    strict=strict)


def is_public(cert: x509.Certificate, reference: Sequence[x509.Certificate], files: _FileCache | None = None) -> bool:
    """Whether *cert* is one of the public roots (reference, certifi or the system bundle)."""
    files = files or FILES
    fp = cert.fingerprint(_SHA256)
    pools = [reference]
    path = certifi_bundle()
    if path:
        pools.append(files.get("certifi", path, "file").certs)
    sys_path, _ = system_bundle()
    if sys_path:
        pools.append(files.get("system", sys_path, "file").certs)
    return any(fp == c.fingerprint(_SHA256) for pool in pools for c in pool)


def public_set(reference: Sequence[x509.Certificate], files: _FileCache | None = None) -> set[bytes]:
    """Fingerprints of every public root this machine knows (reference, certifi, system bundle)."""
    files = files or FILES
    out = {c.fingerprint(_SHA256) for c in reference}
    path = certifi_bundle()
    if path:
        out |= {c.fingerprint(_SHA256) for c in files.get("certifi", path, "file").certs}
    sys_path, _ = system_bundle()
    if sys_path:
        out |= {c.fingerprint(_SHA256) for c in files.get("system", sys_path, "file").certs}
    return out


def python_context(spec: StoreSpec, reference_pem: bytes | None = None):
    """An ``ssl.SSLContext`` that trusts what the client of *spec* trusts (built like the client builds it).

    Raises what the client would raise (``FileNotFoundError``, ``ssl.SSLError``) for a bad file.
    """
    import ssl

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    builtin = False
    for var, path, kind in spec.sources:
        if not path:
            continue
        if var in BUILTIN_SOURCES:
            builtin = True
            if not os.path.exists(path):
                continue
        if kind == "dir" or (kind == "any" and os.path.isdir(path)):
            ctx.load_verify_locations(capath=path)
        else:
            ctx.load_verify_locations(cafile=path)
    if (builtin or spec.extra) and reference_pem:
        ctx.load_verify_locations(cadata=reference_pem.decode("ascii"))
    return ctx
