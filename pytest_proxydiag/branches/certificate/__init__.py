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
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from cryptography import x509
from cryptography.x509.oid import ExtensionOID

from pytest_proxydiag.catalog.certificate import say_fact as _t

from .cafiles import (FILES, WRITTEN_MARKER, CAFile, _FileCache, certifi_bundle, read_ca_file, read_ca_source,
                      system_bundle)
from .chains import (_SHA256, VENDORS, CertInfo, PathResult, _ext, build_path, common_name, describe,
                     fingerprint, hostname_matches, is_self_issued, load_der_chain, name_text, strict_problems,
                     to_pem, validity_problem, vendor_of)
from .fixfiles import SavedFiles, compute_fix, output_paths, save_trust_files
from .stores import (CA_VARS, REPLACING_VARS, ClientTrust, StoreSpec, ca_var_files,
                     claude_settings_env, client_stores, disabled_verification, litellm_ssl_settings,
                     python_context, trust_matrix)


__all__ = [
    "CertInfo", "CAFile", "PathResult", "ClientTrust", "StoreSpec", "SavedFiles", "VENDORS",
    "describe", "load_der_chain", "read_ca_file", "read_ca_source", "build_path", "hostname_matches",
    "validity_problem", "strict_problems", "vendor_of", "is_self_issued", "system_bundle", "certifi_bundle",
    "claude_settings_env", "litellm_ssl_settings", "client_stores", "trust_matrix", "ca_var_files",
    "disabled_verification", "save_trust_files", "compute_fix", "output_paths", "to_pem", "fingerprint",
    "name_text", "common_name", "WRITTEN_MARKER", "Analysis", "analyze", "reference_roots", "public_set",
    "python_context", "CA_VARS", "REPLACING_VARS",
]


# -- the whole analysis of one target ----------------------------------------------------------
def reference_roots(public_roots: str | None, files: _FileCache | None = None) -> tuple[list[x509.Certificate], str, str | None]:
    """The roots a non-intercepted provider chains to: (certs, label, problem)."""
    files = files or FILES
    if public_roots:
        f = files.get("--proxydiag-public-roots", public_roots, "any")
        if f.ok:
            return list(f.certs), _t("roots_option", path=public_roots), None
        return [], _t("roots_option", path=public_roots), _t("roots_problem", path=public_roots,
                                                              problem=f.detail or f.status)
    path = certifi_bundle()
    if path:
        f = files.get("certifi", path, "file")
        if f.ok:
            return list(f.certs), _t("roots_certifi", path=path), None
    sys_path, _ = system_bundle()
    if sys_path:
        f = files.get("system", sys_path, "file")
        return list(f.certs), _t("roots_system", path=sys_path), None if f.ok else f.detail
    return [], _t("roots_none"), _t("roots_none_why")


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
    claude_install: Any = None

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

    def claude_evidence(self) -> dict[str, Any]:
        """Which stores the installed Claude Code reads here, and why (for the report)."""
        from .stores import ct_text

        spec = self.stores["claude-code"]
        trust = spec.claude
        out: dict[str, Any] = {"reads": spec.via, "stores": trust.stores(),
                               "why": [ct_text(k, v) for k, v in trust.reasons]}
        if self.claude_install is not None:
            out["install"] = self.claude_install.as_dict()
        if trust.cert_store:
            out["CLAUDE_CODE_CERT_STORE"] = {"value": trust.cert_store[0], "where": trust.cert_store[1]}
        return out

    def claude_would_trust_os_store(self, files: _FileCache | None = None) -> bool:
        """The OS store Claude Code was told not to read holds a CA this chain leads to."""
        files = files or FILES
        trust = self.stores["claude-code"].claude if "claude-code" in self.stores else None
        if trust is None or not trust.dropped_sources or not self.chain:
            return False
        roots = [c for label, path in trust.dropped_sources
                 for c in files.get(label, path, "dir" if label.startswith("SSL_CERT_DIR") else "file").certs]
        return build_path([c.cert for c in self.chain], roots).trusted

    def untrusted(self, relevant_only: bool = True) -> dict[str, ClientTrust]:
        return {k: t for k, t in self.trust.items() if not t.trusted and (t.relevant or not relevant_only)}

    def evidence(self) -> dict[str, Any]:
        return {
            "chain": [c.as_dict() for c in self.chain],
            "reference_roots": self.reference_label,
            "chains_to_public_root": self.public.trusted,
            "public_verdict": (_t("public_chains_to", name=common_name(self.public.anchor.subject)) if self.public.trusted
                               else self.public.reason),
            "intercepted": self.intercepted,
            "vendor": self.vendor,
            "trust": {k: t.as_dict() for k, t in self.trust.items()},
            **({"claude_code": self.claude_evidence()} if "claude-code" in self.stores else {}),
            **({"strict_x509": self.strict} if self.strict else {}),
            **({"chain_parse_errors": self.parse_errors} if self.parse_errors else {}),
            **({"reference_problem": self.reference_problem} if self.reference_problem else {}),
        }


def analyze(chain_der: Sequence[bytes], host: str, *, env: Mapping[str, str], home: str | None = None,
            public_roots: str | None = None, litellm_config: str | None = None, gateway: str | None = None,
            now: datetime.datetime | None = None, files: _FileCache | None = None, target: str = "",
            cwd: str | None = None, claude_install: Any = None, node_version: str | None = None) -> Analysis:
    """Judge a presented chain: interception, the CA to trust, and every client's verdict on it."""
    files = files or FILES
    certs, errors = load_der_chain(chain_der)
    infos = [describe(c) for c in certs]
    reference, ref_label, ref_problem = reference_roots(public_roots, files)
    public = build_path(certs, reference)
    vendor = vendor_of(certs)
    # A chain that reaches a public root is the provider's own, even when it does not validate (expired).
    intercepted = bool(certs) and (not public.reaches_anchor or vendor is not None)
    leaf = certs[0] if certs else None
    leaf_validity = validity_problem(leaf, now) if leaf is not None else None
    host_ok = hostname_matches(leaf, host) if leaf is not None else False
    stores = client_stores(env, home=home, litellm_config=litellm_config, gateway=gateway, cwd=cwd,
                           claude_install=claude_install, node_version=node_version)
    trust = trust_matrix(certs, stores, files, reference) if certs else {}

    # The CA a client must trust: the root the proxy sends, else one a client already has, else the
    # topmost certificate sent (an intermediate), else nothing (leaf only: name the issuer).
    ca_certs: list[x509.Certificate] = []
    ca_source = ""
    missing_issuer = None
    incomplete_hint: list[str] = []
    if intercepted and certs:
        if public.untrusted_root is not None:
            ca_certs, ca_source = [public.untrusted_root], _t("ca_sent")
        else:
            anchor = None
            for name, spec in stores.items():
                roots: list[x509.Certificate] = []
                for var, path, kind in spec.sources:
                    if path:
                        f = files.get(var, path, kind)
                        if f.ok or f.status in ("der", "pkcs7", "relative"):
                            roots += f.certs
                res = build_path(certs, roots)
                if res.anchor is not None:
                    anchor = res.anchor
                    ca_source = _t("ca_found_in", label=spec.label, via=spec.via)
                    break
            top = public.top or certs[-1]
            if anchor is not None:
                ca_certs = [anchor]
            elif top is not certs[0] or len(certs) > 1:
                ca_certs, ca_source = [top], _t("ca_topmost")
                missing_issuer = public.missing_issuer
            else:
                missing_issuer = public.missing_issuer
                if vendor is None:
                    incomplete_hint = _aia_ca_issuers(certs[0])
        if incomplete_hint:
            intercepted = False
    path_for_strict: Sequence[x509.Certificate] = ()
    if public.reaches_anchor:
        path_for_strict = public.path
    elif ca_certs:
        path_for_strict = tuple(build_path(certs, ca_certs).path) or tuple(certs)
    strict = strict_problems(path_for_strict) if path_for_strict else []
    return Analysis(target=target, host=host, chain=infos, parse_errors=errors, reference_label=ref_label,
                    reference_problem=ref_problem, public=public, vendor=vendor, intercepted=intercepted,
                    leaf_validity=leaf_validity, leaf_host_ok=host_ok, ca_certs=ca_certs, ca_source=ca_source,
                    missing_issuer=missing_issuer, incomplete_hint=incomplete_hint, stores=stores, trust=trust,
                    strict=strict, claude_install=claude_install)


def machine_note(facts: Any, ca: x509.Certificate | None, ca_name: str) -> str:
    """The catalog's note on what this machine (WSL, a Keychain or Windows store holding the CA) means."""
    from pytest_proxydiag.catalog.certificate import MACHINE_NOTES as notes

    if facts is None:
        return ""
    if facts.os == "wsl" and facts.wsl is not None:
        info = facts.wsl
        network = notes[{"nat": "wsl_nat", "mirrored": "wsl_mirrored"}.get(info.networking or "", "wsl_unknown")]
        network = network.format(nameserver=info.nameserver or _t("the_nameserver"))
        return notes["wsl"].format(version=info.version or 2, kernel=info.kernel, ca_name=ca_name, network=network)
    holding = facts.holds(ca) if ca is not None else []
    if holding:
        kind = {"macos": "Keychain", "windows": "Windows certificate store"}.get(facts.os, "OS store")
        return notes["os_store_has_ca"].format(store_kind=kind, stores=", ".join(holding))
    return ""


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


