"""CERTIFICATE ISSUES: TLS interception, the CA each client needs, verification switched off, Python's CA files,
the client certificate (mTLS).

Each step gathers its evidence (probes, files), has :mod:`pytest_proxydiag.branches.certificate.judge` judge
it, and applies the verdict: a catalog finding, a summary, or a reason to skip.
"""

from __future__ import annotations

import os
import ssl

import pytest

from pytest_proxydiag.branches import certificate as certs
from pytest_proxydiag.branches.certificate import claude_trust, judge, mtls
from pytest_proxydiag.core.step import blocking_step_for
from pytest_proxydiag.net.probes import Cause

pytestmark = pytest.mark.certificate
say = judge.say


@pytest.mark.proxydiag_step("certificate.interception")
def test_interception(proxydiag_step, proxydiag_probes, proxydiag_config, proxydiag_target):
    step, probes, cfg, target = proxydiag_step, proxydiag_probes, proxydiag_config, proxydiag_target
    if target.scheme != "https":
        step.skip(say("plain_http", url=target.url))
    proxy = step.require_tunnel_proxy()  # HTTP CONNECT or SOCKS5: the same TLS to the target comes through
    if proxy.scheme == "https":
        _check_proxy_certificate(step, probes, cfg, proxy)
    step.require_tunnel(target)
    tls = probes.tls_via_proxy(target)
    if not tls.ok:
        step.add_evidence(tls={"cause": tls.cause.value, "detail": tls.detail})
        if tls.tunnel is not None and not tls.tunnel.ok:
            step.blocked(blocking_step_for(tls.tunnel), tls.tunnel.detail)
        step.blocked("connectivity.proxy_works", say("no_handshake", target=target.hostport, detail=tls.detail))
    a = _analysis(probes, cfg, target)
    if a is None or not a.chain:
        step.blocked("connectivity.proxy_works", say("no_certificate", target=target.hostport))
    step.add_evidence(**a.evidence(), tls={"version": tls.version, "cipher": tls.cipher})
    judge.interception(a, target.host, target.hostport, env=cfg.env, save=_saver(step, probes, cfg),
                       disabled=_disabled(cfg), machine=_machine(probes),
                       node_version=_node_version(probes, cfg)).conclude(step)


@pytest.mark.proxydiag_step("certificate.verification_disabled")
def test_verification_disabled(proxydiag_step, proxydiag_probes, proxydiag_config):
    step, probes, cfg = proxydiag_step, proxydiag_probes, proxydiag_config
    found = _disabled(cfg)
    step.add_evidence(disabled=found)
    experiments = _experiments(probes, cfg)
    step.add_evidence(experiment=experiments)
    intercepted = None
    if found:
        analyses = (_analysis(probes, cfg, t) for t in _tls_targets(probes, cfg))
        intercepted = next((a for a in analyses if a is not None and a.intercepted and a.ca_certs), None)
    judge.verification_disabled(found, experiments, env=cfg.env, save=_saver(step, probes, cfg),
                                intercepted=intercepted).conclude(step)


@pytest.mark.proxydiag_step("certificate.python_ssl")
def test_python_ssl(proxydiag_step, proxydiag_probes, proxydiag_config, proxydiag_target):
    step, probes, cfg, target = proxydiag_step, proxydiag_probes, proxydiag_config, proxydiag_target
    paths = ssl.get_default_verify_paths()
    step.add_evidence(default_verify_paths={k: getattr(paths, k) for k in ("cafile", "capath", "openssl_cafile",
                                                                             "openssl_capath")})
    files = [f for f in certs.ca_var_files(cfg.env, home=_home(cfg)) if f.var in judge.PYTHON_VARS]
    step.add_evidence(ca_variables=[f.as_dict() for f in files])
    a = _analysis(probes, cfg, target) if target in _tls_targets(probes, cfg) else None
    reference = certs.reference_roots(cfg["public_roots"])[0]
    save = _saver(step, probes, cfg)
    bad = judge.python_files(files, a, certs.public_set(reference), public_roots=cfg["public_roots"], save=save)
    if bad is not None:
        bad.conclude(step)
    if target.scheme != "https":
        step.passed(say("python_no_tls", files=", ".join(f.label for f in files) or say("none_set"), url=target.url))
        return
    step.require_tunnel(target)
    results = _verified_connections(probes, cfg, target, reference)
    step.add_evidence(verified_connections=results)
    judge.python_connections(results, files, a, target.hostport, env=cfg.env,
                             public_roots=cfg["public_roots"], save=save).conclude(step)


@pytest.mark.proxydiag_step("certificate.client_cert")
def test_client_cert(proxydiag_step, proxydiag_probes, proxydiag_config):
    step, probes, cfg = proxydiag_step, proxydiag_probes, proxydiag_config
    layers = claude_trust.settings_layers(_home(cfg), os.getcwd(), cfg.env)
    identity = mtls.check_identity(cfg.env, layers)
    step.add_evidence(client_certificate=identity.as_dict())
    endpoints = _tls_endpoints(cfg)
    if not identity.problem and not endpoints and not identity.configured:
        step.skip(say("no_client_cert_anywhere"))
    passphrase = claude_trust.effective("CLAUDE_CODE_CLIENT_KEY_PASSPHRASE", cfg.env, layers)[0]
    asked = {} if identity.problem else {name: _ask_endpoint(probes, url, identity, passphrase)
                                         for name, url in endpoints}
    mtls.judge(identity, asked, dict(endpoints)).conclude(step)


# -- gathering evidence (cached per run) -------------------------------------------------------------
def _home(cfg) -> str:
    return cfg.env.get("HOME") or os.path.expanduser("~")


def _disabled(cfg) -> list[dict[str, str]]:
    return certs.disabled_verification(cfg.env, home=_home(cfg), litellm_config=cfg["litellm_config"])


def _analysis(probes, cfg, target) -> certs.Analysis | None:
    """The chain *target* presents through the proxy, judged (cached per target); None without a chain."""
    def compute():
        tls = probes.tls_via_proxy(target)
        if not tls.ok or not tls.chain:
            return None
        return certs.analyze(tls.chain, target.host, env=cfg.env, home=_home(cfg), public_roots=cfg["public_roots"],
                             litellm_config=cfg["litellm_config"], gateway=cfg.gateway.value, target=target.hostport,
                             cwd=os.getcwd(), claude_install=_claude_install(probes, cfg),
                             node_version=_node_version(probes, cfg))
    return probes.cached(("certificate-analysis", target.url), compute)


def _machine(probes):
    """The OS's own stores and proxy settings (Keychain, Windows store, WSL), read once per run."""
    from pytest_proxydiag.machine.platform_stores import read_machine

    return probes.cached(("machine",), read_machine)


def _node_version(probes, cfg) -> str | None:
    """The version of the node on PATH (NODE_USE_SYSTEM_CA and --use-system-ca depend on it)."""
    import shutil

    from pytest_proxydiag.machine.claude_install import node_version

    return probes.cached(("node-version",), lambda: node_version(shutil.which("node", path=cfg.env.get("PATH"))))


def _claude_install(probes, cfg):
    """The Claude Code installed here (native or a Node script), looked up once per run."""
    from pytest_proxydiag.machine.claude_install import find_claude

    return probes.cached(("claude-install",), lambda: find_claude(cfg.env))


def _saver(step, probes, cfg) -> judge.Save:
    """``save(analysis, extra_ca=())``: write the CA, the combined bundle and the Node file once per CA."""
    def save(analysis: certs.Analysis | None, extra_ca=()) -> certs.SavedFiles:
        ca = (list(analysis.ca_certs) if analysis is not None else []) + list(extra_ca)
        return probes.cached(("certificate-saved", tuple(c.fingerprint(certs._SHA256) for c in ca)),
                             lambda: _write_trust_files(step, cfg, ca))
    return save


def _write_trust_files(step, cfg, ca) -> certs.SavedFiles:
    reference = certs.reference_roots(cfg["public_roots"])[0]
    user_files = certs.ca_var_files(cfg.env, home=_home(cfg))
    node = next((f for f in user_files if "NODE_EXTRA_CA_CERTS" in (f.var or "")), None)
    out = certs.output_paths(cfg["ca_out"], cfg["json"], cwd=str(step.state.output_dir()))
    saved = certs.save_trust_files(ca, out, public_roots=reference, node_extra=node,
                                   user_files=[f for f in user_files if "NODE_EXTRA_CA_CERTS" not in (f.var or "")])
    for name, path in (("interception_ca", saved.ca_path), ("ca_bundle", saved.bundle_path),
                       ("node_extra_ca_certs", saved.node_ca_path if saved.node_ca_path != saved.ca_path else None)):
        if path:
            step.state.artifacts.setdefault(name, path)
    return saved


def _check_proxy_certificate(step, probes, cfg, proxy) -> None:
    """An https:// proxy: its own certificate must be valid for the proxy host (not the target's)."""
    __tracebackhide__ = True
    tls = probes.tls_to_proxy()
    if not tls.ok or not tls.chain:
        return  # connectivity.proxy_reachable / proxy_works say why the proxy cannot be spoken to
    chain, _errors = certs.load_der_chain(tls.chain)
    info = certs.describe(chain[0])
    step.add_evidence(proxy_certificate=info.as_dict())
    trust = certs.trust_matrix(chain, certs.client_stores(cfg.env, home=_home(cfg)),
                               reference=certs.reference_roots(cfg["public_roots"])[0])
    verdict = judge.proxy_certificate(chain, proxy.host, proxy.hostport, trust, info)
    if verdict is not None:
        verdict.conclude(step)


def _tls_targets(probes, cfg) -> list:
    """The https targets a tunnel (HTTP CONNECT or SOCKS5) through the proxy reaches."""
    p = cfg.proxy.url
    if p is None or (p.is_socks and not probes.socks5) or probes.proxy_unusable() is not None:
        return []
    return [t for t in cfg.targets if t.scheme == "https" and probes.tunnel_to(t).ok]


def _experiments(probes, cfg) -> list[dict]:
    """The flowchart's experiment, safely: does the target answer with verification off but not on?"""
    out = []
    for target in _tls_targets(probes, cfg):
        off = probes.request(target, "GET", "/")
        on = probes.request(target, "GET", "/", ssl_context=_reference_context(probes, cfg))
        out.append({"target": target.hostport, "unverified": off.detail or off.cause.value,
                    "verified": on.detail or on.cause.value,
                    "verdict": judge.experiment_verdict(off.ok, on.ok, on.cause == Cause.TLS_ERROR)})
    return out


def _reference_context(probes, cfg) -> ssl.SSLContext:
    """Verification on, with the public roots: what a default client does (one context per run)."""
    def build():
        reference = certs.reference_roots(cfg["public_roots"])[0]
        ctx = ssl.create_default_context()
        if reference:
            ctx.load_verify_locations(cadata=certs.to_pem(reference).decode("ascii"))
        return ctx
    return probes.cached(("certificate-reference-context",), build)


def _verified_connections(probes, cfg, target, reference) -> dict[str, dict]:
    """One verified request per distinct Python CA configuration (requests, httpx, urllib), each its own way."""
    stores = certs.client_stores(cfg.env, home=_home(cfg))
    ref_pem = certs.to_pem(reference) if reference else None
    seen: dict[tuple, dict] = {}
    for name in judge.PYTHON_CLIENTS:
        spec = stores[name]
        if spec.sources not in seen:
            seen[spec.sources] = _verified_request(probes, cfg, target, spec, ref_pem)
    return {name: seen[stores[name].sources] for name in judge.PYTHON_CLIENTS}


def _verified_request(probes, cfg, target, spec, ref_pem) -> dict:
    try:
        ctx = probes.cached(("certificate-python-context", spec.sources, cfg["public_roots"]),
                            lambda: certs.python_context(spec, ref_pem))
    except (OSError, ssl.SSLError, ValueError) as exc:
        return {"client": spec.label, "via": spec.via, "ok": False,
                "detail": say("context_raises", error=type(exc).__name__, detail=exc)}
    r = probes.request(target, "GET", "/", ssl_context=ctx)
    return {"client": spec.label, "via": spec.via, "ok": r.ok, "detail": r.detail, "cause": r.cause.value,
            "status": r.status}


def _tls_endpoints(cfg) -> list[tuple[str, str]]:
    """The https:// gateway and https:// proxy: the TLS servers a client certificate would be shown to."""
    out = []
    if cfg.gateway.value and cfg.gateway.value.lower().startswith("https://") and not cfg["no_direct"]:
        out.append(("gateway", cfg.gateway.value))
    proxy = cfg.proxy.url
    if proxy is not None and proxy.scheme == "https":
        out.append(("proxy", f"https://{proxy.hostport}"))
    return out


def _ask_endpoint(probes, url: str, identity, passphrase: str | None) -> dict:
    """Does *url* ask for a client certificate, and (when one is usable) does it accept it?"""
    from pytest_proxydiag.core.config import Target
    from pytest_proxydiag.net.mtls import probe_client_auth

    target = Target(url, "gateway")
    out = {"without_certificate": probes.cached(("client-auth", target.hostport, None), lambda: probe_client_auth(
        probes, target.host, target.port))}
    if identity.usable and out["without_certificate"].outcome in ("required", "answered"):
        out["with_certificate"] = probes.cached(("client-auth", target.hostport, identity.cert_path), lambda: (
            probe_client_auth(probes, target.host, target.port, identity, passphrase)))
    return out
