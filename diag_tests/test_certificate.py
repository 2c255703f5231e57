"""CERTIFICATE ISSUES: TLS interception, the CA each client needs, verification switched off, Python's CA files."""

from __future__ import annotations

import os
import ssl

import pytest

from pytest_proxydiag.branches import certificate as certs
from pytest_proxydiag.branches import products
from pytest_proxydiag.net.probes import Cause
from pytest_proxydiag.core.step import blocking_step_for, export_lines

pytestmark = pytest.mark.certificate

#: The clients whose verdict decides the interception step (LiteLLM only when it is in use).
MAIN_CLIENTS = ("requests", "python-ssl", "httpx", "curl", "node", "claude-code")
PYTHON_CLIENTS = ("requests", "httpx", "python-ssl")
PYTHON_VARS = ("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
_FILE_FINDING = {"missing": "missing", "dangling": "missing", "empty": "empty", "not_pem": "not_pem",
                 "der": "der", "pkcs7": "der", "directory": "wrong_kind", "not_directory": "wrong_kind",
                 "loop": "unreadable", "unreadable": "unreadable", "not_regular": "unreadable",
                 "too_large": "unreadable", "not_hashed": "not_hashed"}


# -- shared, cached computations ----------------------------------------------------------
def _home(cfg) -> str:
    return cfg.env.get("HOME") or os.path.expanduser("~")


def _analysis(probes, cfg, target) -> certs.Analysis | None:
    """The chain *target* presents through the proxy, judged (cached per target); None without a chain."""
    def compute():
        tls = probes.tls_via_proxy(target)
        if not tls.ok or not tls.chain:
            return None
        return certs.analyze(tls.chain, target.host, env=cfg.env, home=_home(cfg), public_roots=cfg["public_roots"],
                             litellm_config=cfg["litellm_config"], gateway=cfg.gateway.value, target=target.hostport)
    return probes.cached(("certificate-analysis", target.url), compute)


def _saved(step, probes, cfg, analysis: certs.Analysis | None, extra_ca=()) -> certs.SavedFiles:
    """Write the CA, the combined bundle and the NODE_EXTRA_CA_CERTS file once per CA (cached)."""
    ca = list(analysis.ca_certs) if analysis is not None else []
    ca += list(extra_ca)
    key = ("certificate-saved", tuple(c.fingerprint(certs._SHA256) for c in ca))

    def compute() -> certs.SavedFiles:
        reference, _label, _problem = certs.reference_roots(cfg["public_roots"])
        user_files = [f for f in certs.ca_var_files(cfg.env, home=_home(cfg))
                      if "NODE_EXTRA_CA_CERTS" not in (f.var or "")]
        node = next((f for f in certs.ca_var_files(cfg.env, home=_home(cfg))
                     if "NODE_EXTRA_CA_CERTS" in (f.var or "")), None)
        out = certs.output_paths(cfg["ca_out"], cfg["json"], cwd=str(step.state.output_dir()))
        saved = certs.save_trust_files(ca, out, public_roots=reference, user_files=user_files, node_extra=node)
        if saved.ca_path:
            step.state.artifacts.setdefault("interception_ca", saved.ca_path)
        if saved.bundle_path:
            step.state.artifacts.setdefault("ca_bundle", saved.bundle_path)
        if saved.node_ca_path and saved.node_ca_path != saved.ca_path:
            step.state.artifacts.setdefault("node_extra_ca_certs", saved.node_ca_path)
        return saved
    return probes.cached(key, compute)


def _lines(env: dict) -> str:
    return export_lines(env)


def _matrix_text(trust: dict[str, certs.ClientTrust], names) -> str:
    return certs.Analysis.grouped({n: trust[n] for n in names if n in trust})


# -- step 1 ---------------------------------------------------------------------------------
@pytest.mark.proxydiag_step("certificate.interception")
def test_interception(proxydiag_step, proxydiag_probes, proxydiag_config, proxydiag_target):
    step, probes, cfg, target = proxydiag_step, proxydiag_probes, proxydiag_config, proxydiag_target
    if target.scheme != "https":
        step.skip(f"{target.url} is plain http: no certificate to check")
    proxy = step.require_http_proxy()
    if proxy.scheme == "https":
        _check_proxy_certificate(step, probes, cfg, proxy)
    step.require_tunnel(target)
    tls = probes.tls_via_proxy(target)
    if not tls.ok:
        step.add_evidence(tls={"cause": tls.cause.value, "detail": tls.detail})
        if tls.tunnel is not None and not tls.tunnel.ok:
            step.blocked(blocking_step_for(tls.tunnel), tls.tunnel.detail)
        step.blocked("connectivity.proxy_works", f"no TLS handshake with {target.hostport} through the proxy: "
                                                 f"{tls.detail}")
    a = _analysis(probes, cfg, target)
    if a is None or not a.chain:
        step.blocked("connectivity.proxy_works", f"{target.hostport} presented no certificate")
    step.add_evidence(**a.evidence(), tls={"version": tls.version, "cipher": tls.cipher})
    leaf = a.leaf
    issuer = certs.common_name(leaf.cert.issuer)
    vendor_text = f" ({a.vendor})" if a.vendor else ""
    base = dict(issuer=issuer, vendor_text=vendor_text, leaf=certs.common_name(leaf.cert.subject))

    if not a.intercepted:
        if a.incomplete_hint:
            step.fail("incomplete_chain", reason=f"its issuer can be downloaded from "
                      f"{', '.join(a.incomplete_hint)}, a sign of a server chain missing its intermediate", **base)
        problem = a.leaf_validity or (None if a.leaf_host_ok else f"not valid for {target.host} "
                                      f"(names: {', '.join(leaf.san) or leaf.subject})")
        if problem:
            step.fail("target_cert", problem=problem, **base)
        der = _node_der_trap(a)
        if der is not None:
            _fail_der(step, probes, cfg, a, der, base)
        step.passed(f"not intercepted: {target.hostport} presents '{base['leaf']}' issued by '{issuer}', which "
                    f"chains to the public root '{certs.common_name(a.public.anchor.subject)}'")
        return

    # Intercepted: the proxy's own certificate problems come first (no trust store fixes them).
    if a.leaf_validity:
        step.fail("interceptor_expired", validity=a.leaf_validity, problem=a.leaf_validity, **base)
    if not a.leaf_host_ok:
        names = ", ".join(leaf.san) or leaf.subject
        step.fail("interceptor_wrong_host", names=names, problem=f"not valid for {target.host} (it names {names})",
                  **base)

    saved = _saved(step, probes, cfg, a)
    disabled = certs.disabled_verification(cfg.env, home=_home(cfg), litellm_config=cfg["litellm_config"])
    fix = certs.compute_fix(saved, cfg.env, disabled=disabled)
    untrusted = {k: t for k, t in a.untrusted().items() if k in MAIN_CLIENTS or t.relevant and k == "litellm"}
    ca_name = certs.common_name(a.ca.subject) if a.ca is not None else issuer
    step.add_evidence(ca_saved=saved.as_dict(), ca_source=a.ca_source, ca_name=ca_name)
    strict_text = "; ".join(a.strict)
    bc = [p for p in a.strict if "basicConstraints" in p]
    extra = ""
    if bc:
        extra += f" Also, Python 3.13+ will reject this CA: {'; '.join(bc)}."
    values = dict(base, ca_name=ca_name, ca_path=saved.ca_path or "(not available)",
                  bundle_path=saved.bundle_path or "(not available)", node_ca_path=saved.node_ca_path or "",
                  reference_verdict=a.public.reason or "not a public CA",
                  untrusted=_matrix_text(a.trust, untrusted) or "none", extra=extra)
    if untrusted:
        der = _node_der_trap(a)
        if der is not None and all(k in ("node", "claude-code") for k in untrusted):
            _fail_der(step, probes, cfg, a, der, base)
        if not a.ca_certs:
            if fix["unset"]:
                step.set_fix(unset=fix["unset"], verified=None)
            issuer_dn = a.missing_issuer or leaf.issuer
            step.fail("leaf_only", issuer_dn=issuer_dn, **dict(values, extra=values["extra"] + products.ca_hint(
                f"{issuer_dn} {issuer}")))
        step.set_fix(env=fix["env"], unset=fix["unset"], files=_fix_files(saved), verified=None)
        step.fail("intercepted", export_lines=_lines(fix["env"]), **values)
    if bc:
        step.fail("bc_not_critical", ca_name=ca_name, strict=strict_text, first_strict=bc[0].split(": ", 1)[-1],
                  python_hint="3.13 or newer")
    step.passed(f"intercepted{vendor_text}: '{base['leaf']}' is issued by '{issuer}'; the CA '{ca_name}' is "
                f"trusted by every client ({', '.join(t.label for t in a.trust.values() if t.trusted and t.relevant)}); saved to "
                f"{saved.ca_path}")


def _fix_files(saved: certs.SavedFiles) -> list[dict]:
    out = []
    if saved.ca_path:
        out.append({"path": saved.ca_path, "change": "written: the interception CA (PEM, mode 600)"})
    if saved.bundle_path:
        out.append({"path": saved.bundle_path, "change": "written: public roots + the CA + your existing CAs"})
    if saved.node_ca_path and saved.node_ca_path != saved.ca_path:
        out.append({"path": saved.node_ca_path, "change": "written: the CA + what NODE_EXTRA_CA_CERTS held"})
    for var, path in saved.converted.items():
        out.append({"path": path, "change": f"written: PEM copy of the DER file in {var}"})
    return out


def _node_der_trap(a: certs.Analysis) -> certs.CAFile | None:
    for name in ("claude-code", "node"):
        t = a.trust.get(name)
        if t is None:
            continue
        for f in t.bad_files:
            if f.status in ("der", "pkcs7") and f.var and "NODE_EXTRA_CA_CERTS" in f.var:
                return f
    return None


def _fail_der(step, probes, cfg, a, der: certs.CAFile, base):
    __tracebackhide__ = True
    saved = _saved(step, probes, cfg, a)
    pem = saved.node_ca_path if a.ca_certs else saved.converted.get(der.var)
    if not pem:
        saved = _saved(step, probes, cfg, None, extra_ca=der.certs)
        pem = saved.ca_path
    env_name = "NODE_EXTRA_CA_CERTS"
    step.set_fix(env={env_name: pem}, verified=None, files=_fix_files(saved))
    ca_name = certs.common_name(der.certs[0].subject) if der.certs else "the CA"
    step.fail("der_trap", var=der.var, path=der.path, node_ca_path=pem, ca_name=ca_name,
              consequence="Node ignores it, and Claude Code fails every request with 'Unable to connect to API "
                          "(ConnectionRefused)' (its debug log says 'Invalid CA'), even for hosts it trusts",
              export_lines=_lines({env_name: pem}), extra="", **{k: v for k, v in base.items() if k != "ca_name"})


def _check_proxy_certificate(step, probes, cfg, proxy) -> None:
    """An https:// proxy: its own certificate must be valid for the proxy host (not the target's)."""
    __tracebackhide__ = True
    get = getattr(probes, "tls_to_proxy", None)
    if get is None:
        return
    tls = get()
    if not tls.ok or not tls.chain:
        return  # connectivity.proxy_reachable / proxy_works say why the proxy cannot be spoken to
    chain, _errors = certs.load_der_chain(tls.chain)
    reference, _l, _p = certs.reference_roots(cfg["public_roots"])
    info = certs.describe(chain[0])
    step.add_evidence(proxy_certificate=info.as_dict())
    problems = []
    if not certs.hostname_matches(chain[0], proxy.host):
        problems.append(f"it is issued for {', '.join(info.san) or info.subject}, not for {proxy.host}")
    validity = certs.validity_problem(chain[0])
    if validity:
        problems.append(f"it is {validity}")
    stores = certs.client_stores(cfg.env, home=_home(cfg))
    trust = certs.trust_matrix(chain, stores, reference=reference)
    distrust = [t.label for k, t in trust.items() if not t.trusted and k in MAIN_CLIENTS]
    if distrust:
        problems.append(f"it does not chain to a CA that {', '.join(distrust)} trust "
                        f"({next(t.why for t in trust.values() if not t.trusted)})")
    if problems:
        step.fail("proxy_cert", detail="; ".join(problems), proxy_host=proxy.host, proxy_hostport=proxy.hostport)


# -- step 2 ---------------------------------------------------------------------------------
@pytest.mark.proxydiag_step("certificate.verification_disabled")
def test_verification_disabled(proxydiag_step, proxydiag_probes, proxydiag_config):
    step, probes, cfg = proxydiag_step, proxydiag_probes, proxydiag_config
    found = certs.disabled_verification(cfg.env, home=_home(cfg), litellm_config=cfg["litellm_config"])
    step.add_evidence(disabled=found)
    experiments = _experiments(step, probes, cfg)
    step.add_evidence(experiment=experiments)
    confirmed = [e for e in experiments if e["verdict"] == "certificate problem confirmed"]
    exp_text = ""
    if confirmed:
        exp_text = ("Measured safely inside this tool: " + "; ".join(
            f"{e['target']} answers with verification off ({e['unverified']}) but fails with it on "
            f"({e['verified']}): certificate problem confirmed" for e in confirmed) + ". Fix the trust, "
            "not the verification.")
    if not found:
        summary = "verification is on everywhere the clients read it"
        if confirmed:
            summary += "; " + exp_text
        step.passed(summary)
        return
    unset = list(dict.fromkeys(d["var"] for d in found if d["var"] not in ("ssl_verify",)))
    env_fix: dict[str, str] = {}
    trust_advice = "Then make the clients trust the proxy's CA (see certificate.interception)."
    analyses = [a for a in (_analysis(probes, cfg, t) for t in cfg.targets if t.scheme == "https" and
                            _tunnel_ok(probes, cfg, t)) if a is not None]
    intercepted = next((a for a in analyses if a.intercepted and a.ca_certs), None)
    if intercepted is not None:
        saved = _saved(step, probes, cfg, intercepted)
        fix = certs.compute_fix(saved, cfg.env, disabled=found)
        env_fix = fix["env"]
        unset = [v for v in unset if v not in env_fix] + [v for v in fix["unset"] if v not in unset]
        trust_advice = "Then trust the proxy's CA instead:\n" + _lines(env_fix)
    files = [{"path": d["file"], "change": f"remove {d['where']}"} for d in found if d.get("file")]
    step.set_fix(env=env_fix, unset=[v for v in unset if v not in env_fix], files=files, verified=None)
    effects = "; ".join(f"{d['where']}: {d['effect']}" for d in found)
    unset_lines = "\n".join(f"  unset {v}" for v in unset) or "  (edit the files named above)"
    for d in found:
        if d.get("file"):
            unset_lines += f"\n  remove {d['where']}"
    step.fail("disabled", where=", ".join(d["where"] for d in found), effects=effects, experiment=exp_text,
              unset_lines=unset_lines, trust_advice=trust_advice)


def _tunnel_ok(probes, cfg, target) -> bool:
    p = cfg.proxy.url
    if p is None or p.is_socks or probes.proxy_unusable() is not None:
        return False
    return probes.tunnel_to(target).ok


def _reference_context(probes, cfg) -> ssl.SSLContext:
    """Verification on, with the public roots: what a default client does (one context per run)."""
    def build():
        reference, _label, _problem = certs.reference_roots(cfg["public_roots"])
        ctx = ssl.create_default_context()
        if reference:
            ctx.load_verify_locations(cadata=certs.to_pem(reference).decode("ascii"))
        return ctx
    return probes.cached(("certificate-reference-context",), build)


def _experiments(step, probes, cfg) -> list[dict]:
    """The flowchart's experiment, safely: does the target answer with verification off but not on?"""
    out = []
    for target in cfg.targets:
        if target.scheme != "https" or not _tunnel_ok(probes, cfg, target):
            continue
        off = probes.request(target, "GET", "/")
        on = probes.request(target, "GET", "/", ssl_context=_reference_context(probes, cfg))
        if off.ok and not on.ok and on.cause == Cause.TLS_ERROR:
            verdict = "certificate problem confirmed"
        elif off.ok and on.ok:
            verdict = "verification works: no certificate problem"
        else:
            verdict = "fails either way: not (only) a certificate problem"
        out.append({"target": target.hostport, "unverified": off.detail or off.cause.value,
                    "verified": on.detail or on.cause.value, "verdict": verdict})
    return out


# -- step 3 ---------------------------------------------------------------------------------
@pytest.mark.proxydiag_step("certificate.python_ssl")
def test_python_ssl(proxydiag_step, proxydiag_probes, proxydiag_config, proxydiag_target):
    step, probes, cfg, target = proxydiag_step, proxydiag_probes, proxydiag_config, proxydiag_target
    env = cfg.env
    paths = ssl.get_default_verify_paths()
    step.add_evidence(default_verify_paths={"cafile": paths.cafile, "capath": paths.capath,
                                            "openssl_cafile": paths.openssl_cafile,
                                            "openssl_capath": paths.openssl_capath})
    files = [f for f in certs.ca_var_files(env, home=_home(cfg)) if f.var in PYTHON_VARS]
    step.add_evidence(ca_variables=[f.as_dict() for f in files])
    a = None
    if target.scheme == "https" and _tunnel_ok(probes, cfg, target):
        a = _analysis(probes, cfg, target)
    reference, _label, _problem = certs.reference_roots(cfg["public_roots"])

    def good_path(extra=()) -> str:
        if a is not None and a.intercepted and a.ca_certs or extra:
            return _saved(step, probes, cfg, a if a is not None and a.intercepted else None, extra_ca=extra).bundle_path
        if cfg["public_roots"]:
            return os.path.abspath(cfg["public_roots"])
        sys_path, _family = certs.system_bundle()
        return sys_path or certs.certifi_bundle() or "/etc/ssl/certs/ca-certificates.crt"

    for f in files:
        if f.ok:
            continue
        key = _FILE_FINDING.get(f.status, "unreadable")
        consequence = _consequence(f)
        if key == "der":
            saved = _saved(step, probes, cfg, a if a is not None and a.intercepted else None)
            converted = saved.converted.get(f.var) or "(not written)"
            fix_env = {f.var: converted}
            step.set_fix(env=fix_env, verified=None, files=_fix_files(saved))
            step.fail("der", var=f.var, path=f.path, detail=f.detail, consequence=consequence, converted=converted,
                      export_lines=_lines(fix_env))
        path = good_path()
        fix_env = {f.var if f.var != "SSL_CERT_DIR" else "SSL_CERT_FILE": path}
        step.set_fix(env=fix_env, unset=["SSL_CERT_DIR"] if f.var == "SSL_CERT_DIR" else [], verified=None)
        step.fail(key, var=f.var, path=f.path, detail=f.detail, consequence=consequence, var_or_python=f.var,
                  export_lines=_lines(fix_env), good_path=path)

    public = certs.public_set(reference)
    for f in files:
        if f.var in certs.REPLACING_VARS and f.certs and not any(c.fingerprint(certs._SHA256) in public
                                                                 for c in f.certs):
            path = good_path(extra=f.certs)
            fix_env = {f.var: path}
            step.set_fix(env=fix_env, verified=None)
            users = {"SSL_CERT_FILE": "Python ssl, httpx, the Anthropic SDK, curl and Claude Code",
                     "REQUESTS_CA_BUNDLE": "Python requests", "CURL_CA_BUNDLE": "curl and Python requests"}[f.var]
            step.fail("corporate_only", var=f.var, path=f.path, count=f.count, users=users,
                      names=", ".join(f"'{certs.common_name(c.subject)}'" for c in f.certs[:3]),
                      var_or_python=f.var, export_lines=_lines(fix_env))

    if target.scheme != "https":
        step.passed(f"CA variables: {', '.join(f.label for f in files) or 'none set'}; {target.url} uses no TLS")
        return
    step.require_tunnel(target)
    stores = certs.client_stores(env, home=_home(cfg))
    ref_pem = certs.to_pem(reference) if reference else None
    seen: dict[tuple, dict] = {}
    results = {}
    for name in PYTHON_CLIENTS:
        spec = stores[name]
        key = spec.sources
        if key in seen:
            results[name] = seen[key]
            continue
        try:
            ctx = probes.cached(("certificate-python-context", key, cfg["public_roots"]),
                                lambda: certs.python_context(spec, ref_pem))
        except (OSError, ssl.SSLError, ValueError) as exc:
            res = {"client": spec.label, "via": spec.via, "ok": False,
                   "detail": f"building the TLS context raises {type(exc).__name__}: {exc}"}
        else:
            r = probes.request(target, "GET", "/", ssl_context=ctx)
            res = {"client": spec.label, "via": spec.via, "ok": r.ok, "detail": r.detail,
                   "cause": r.cause.value, "status": r.status}
        seen[key] = res
        results[name] = res
    step.add_evidence(verified_connections=results)
    failing = {k: r for k, r in results.items() if not r["ok"]}
    if not failing:
        step.passed(f"Python verifies {target.hostport} through the proxy with "
                    f"{'; '.join(sorted({r['via'] for r in results.values()}))}")
        return
    name, r = next(iter(failing.items()))
    if r.get("cause") not in (None, Cause.TLS_ERROR.value):
        step.blocked("connectivity.proxy_works", f"{r['via']}: {r['detail']}")
    python_vars_set = [f.var for f in files]
    if a is not None and a.intercepted and not python_vars_set:
        step.blocked("certificate.interception", f"the proxy intercepts TLS and no Python CA variable is set: "
                                                 f"{r['detail']}")
    path = good_path()
    var = next((f.var for f in files if f.var in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE")),
               "SSL_CERT_FILE")
    fix_env = {v: path for v in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")}
    if env.get("CURL_CA_BUNDLE"):
        fix_env["CURL_CA_BUNDLE"] = path
    step.set_fix(env=fix_env, unset=["SSL_CERT_DIR"] if env.get("SSL_CERT_DIR") else [], verified=None)
    step.fail("verify_failed", via=f"{r['client']} ({r['via']})", detail=r["detail"], var_or_python=var,
              export_lines=_lines(fix_env), good_path=path)


def _consequence(f: certs.CAFile) -> str:
    var = f.var or ""
    if var == "SSL_CERT_FILE":
        return ("httpx and the Anthropic SDK raise an error when they start; urllib and Python's ssl trust "
                "nothing from it and fail every verified connection.")
    if var == "SSL_CERT_DIR":
        return "Python's ssl, httpx and curl find no CA in it."
    if var == "REQUESTS_CA_BUNDLE":
        return "requests fails every https request ('Could not find a suitable TLS CA certificate bundle')."
    if var == "CURL_CA_BUNDLE":
        return "curl fails every https request, and so does requests, which reads it too."
    return "The clients that read it cannot verify anything with it."
