"""Certificates and chains: describing them, building a path to a set of roots, judging it.

Path building follows issuer links the way OpenSSL does (no partial chains) so a
report can say *why* a chain is not trusted (which issuer is missing, which
self-signed root nobody trusts); once a path reaches an anchor it is validated
with :mod:`cryptography.x509.verification` (validity of every certificate, the
CA flag of every issuer, the leaf's extended key usage), so an expired
intermediate or a leaf acting as a CA is never called trusted.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import ipaddress
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID

from pytest_proxydiag.catalog.certificate import say_fact as _t

_SHA256 = hashes.SHA256()

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
            errors.append(_t("chain_unparseable", i=i, error=exc))
    return certs, errors


def to_pem(certs: Iterable[x509.Certificate]) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


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

    @property
    def reaches_anchor(self) -> bool:
        """The issuer links lead to one of the roots (even when validation then rejects the path)."""
        return self.anchor is not None


def _validated(path: tuple[x509.Certificate, ...], anchor: x509.Certificate, purpose: str,
               now: datetime.datetime | None) -> PathResult:
    problem = path_problem(path, purpose=purpose, now=now)
    if problem:
        return PathResult(False, path, anchor, reason=problem)
    return PathResult(True, path, anchor)


def _eku_validator(wanted: x509.ObjectIdentifier):
    def check(_policy, cert: x509.Certificate, eku: x509.ExtendedKeyUsage | None) -> None:
        if eku is not None and wanted not in eku and ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE not in eku:
            raise ValueError(_t("not_for_purpose", name=common_name(cert.subject),
                                purpose=_t(_PURPOSE_NAMES[wanted])))
    return check


_PURPOSE_OIDS = {"server": ExtendedKeyUsageOID.SERVER_AUTH, "client": ExtendedKeyUsageOID.CLIENT_AUTH}
_PURPOSE_NAMES = {ExtendedKeyUsageOID.SERVER_AUTH: "purpose_server", ExtendedKeyUsageOID.CLIENT_AUTH: "purpose_client"}


def path_problem(path: Sequence[x509.Certificate], *, purpose: str = "server",
                 now: datetime.datetime | None = None) -> str | None:
    """Why :mod:`cryptography.x509.verification` rejects *path* (leaf ... anchor), or None.

    Checked: every certificate's validity at *now*, the CA flag of every
    issuer, the leaf's extended key usage for *purpose* (``server`` or
    ``client``), signatures, name constraints and key sizes.  Extensions
    OpenSSL does not insist on by default (critical basicConstraints, key
    identifiers) are allowed: :func:`strict_problems` reports those apart.
    The host name is not part of it (:func:`hostname_matches`).
    """
    from cryptography.x509 import verification as xv

    if len(path) < 2:
        return validity_problem(path[0], now) if path else None
    ca_policy = xv.ExtensionPolicy.permit_all().require_present(x509.BasicConstraints, xv.Criticality.AGNOSTIC,
                                                                 None)
    ee_policy = xv.ExtensionPolicy.permit_all().may_be_present(x509.ExtendedKeyUsage, xv.Criticality.AGNOSTIC,
                                                                _eku_validator(_PURPOSE_OIDS[purpose]))
    builder = (xv.PolicyBuilder().store(xv.Store([path[-1]])).max_chain_depth(len(path) + 1)
               .time(now or datetime.datetime.now(datetime.timezone.utc))
               .extension_policies(ca_policy=ca_policy, ee_policy=ee_policy))
    try:
        builder.build_client_verifier().verify(path[0], list(path[1:-1]))
    except xv.VerificationError as exc:
        return _verification_reason(str(exc), path, now)
    except (ValueError, TypeError) as exc:  # an unsupported key or signature algorithm
        return _t("path_unvalidated", error=exc)
    return None


def _verification_reason(message: str, path: Sequence[x509.Certificate], now) -> str:
    """cryptography's message without its object dump, led by the expired certificate when there is one."""
    for cert in path:
        problem = validity_problem(cert, now)
        if problem:
            return _t("cert_problem", name=common_name(cert.subject), problem=problem)
    text = message.removeprefix("validation failed: ").removeprefix("candidates exhausted: ")
    text = text.split(" (encountered processing", 1)[0]
    return text.strip() or _t("path_invalid")


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


def build_path(chain: Sequence[x509.Certificate], roots: Iterable[x509.Certificate], *,
               purpose: str = "server", now: datetime.datetime | None = None) -> PathResult:
    """Follow issuer links from the leaf through the presented certificates to a root in *roots*.

    Like OpenSSL's default (no partial chains): a presented certificate is a
    trust anchor only when it is itself in *roots*; otherwise its issuer must
    be found, by name and signature, among *roots* or the presented ones.  A
    path that reaches an anchor is then validated (:func:`path_problem`): when
    that fails the result keeps the anchor but is not ``trusted``.
    """
    if not chain:
        return PathResult(False, reason=_t("no_cert_presented"))
    r = roots if isinstance(roots, _Roots) else _Roots(roots)
    current = chain[0]
    path = [current]
    pool = list(chain[1:])
    for _ in range(12):
        if _fp(current) in r.fps:
            return _validated(tuple(path), current, purpose, now)
        for candidate in r.by_subject.get(current.issuer.public_bytes(), []):
            if _signed_by(current, candidate):
                path.append(candidate)
                return _validated(tuple(path), candidate, purpose, now)
        if is_self_issued(current):
            return PathResult(False, tuple(path), reason=_t("untrusted_root", name=common_name(current.subject)),
                              untrusted_root=current)
        nxt = next((c for c in pool if c.subject == current.issuer and _signed_by(current, c)), None)
        if nxt is None:
            return PathResult(False, tuple(path), reason=_t("issuer_missing", name=common_name(current.issuer)),
                              missing_issuer=name_text(current.issuer))
        pool.remove(nxt)
        path.append(nxt)
        current = nxt
    return PathResult(False, tuple(path), reason=_t("chain_too_long"))


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
        return _t("expired_on", when=f"{na:%Y-%m-%d %H:%M}")
    if now < nb:
        return _t("not_before", when=f"{nb:%Y-%m-%d %H:%M}")
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
                problems.append(_t("strict_no_aki", who=who))
            continue
        bc = _ext(cert, ExtensionOID.BASIC_CONSTRAINTS)
        if bc is None:
            problems.append(_t("strict_no_bc", who=who))
        elif bc.value.ca and not bc.critical:
            problems.append(_t("strict_bc_not_critical", who=who))
        if _ext(cert, ExtensionOID.KEY_USAGE) is None and bc is not None and bc.value.ca:
            problems.append(_t("strict_no_ku", who=who))
        if _ext(cert, ExtensionOID.SUBJECT_KEY_IDENTIFIER) is None and bc is not None and bc.value.ca:
            problems.append(_t("strict_no_ski", who=who))
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

