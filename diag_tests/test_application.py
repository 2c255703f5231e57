"""APPLICATION ISSUES: works with curl, fails with Claude Code (or Python, or LiteLLM)."""

from __future__ import annotations

import os
from urllib.parse import unquote, urlsplit

import pytest

from pytest_proxydiag.branches import application as appcheck
from pytest_proxydiag.core.step import export_lines
from pytest_proxydiag.machine import shellenv
from pytest_proxydiag.proof.fixes import PROXY_PLACEHOLDER, proxy_fix_value

pytestmark = pytest.mark.application



def _home(cfg) -> str:
    return cfg.env.get("HOME") or os.path.expanduser("~")


def _proxy_value(cfg) -> str | None:
    """The proxy URL for fix lines (configured, else found in a shell profile), the password a placeholder."""
    value = proxy_fix_value(cfg.proxy.url, shellenv.scan(_home(cfg), names=appcheck.PROXY_VARS))
    return None if value == PROXY_PLACEHOLDER else value


def _register_secret(step, value: str | None) -> None:
    """A proxy password read from a file (not from this process) must be redacted too."""
    if not value or "@" not in value:
        return
    try:
        parts = urlsplit(value if "://" in value else "http://" + value)
        if parts.password:
            step.state.redactor.add_credentials_pair(unquote(parts.username or ""), unquote(parts.password))
    except ValueError:
        pass


def _reload(shell: str, profile: str) -> str:
    return f"source {profile}"


def _public_roots(cfg) -> str | None:
    return cfg["public_roots"] if cfg.source("public_roots") != "default" else None


@pytest.mark.proxydiag_step("application.env_in_shell")
def test_env_in_shell(proxydiag_step, proxydiag_config):
    step, cfg = proxydiag_step, proxydiag_config
    cmp = appcheck.compare_env(cfg.env, _home(cfg), proxy_value=_proxy_value(cfg))
    for value in [*cmp.new_shell.values(), *cmp.claude.values(), *(v for i in cmp.issues for v in i.fix.values())]:
        _register_secret(step, value)
    step.add_evidence(shell=cmp.shell, views=cmp.table(), startup_files=appcheck.loaded_files(_home(cfg), cmp.shell))
    if cmp.problems:
        step.add_evidence(problems=cmp.problems)
    if not cmp.issues:
        if not (cmp.process or cmp.new_shell or cmp.claude):
            step.skip("no proxy or CA variable is set in this process, the startup files of "
                      f"{cmp.shell}, or ~/.claude/settings.json")
        # Set here but in no startup file: fine for this terminal, gone in the next one - unless an IDE,
        # /etc/environment, launchd or direnv sets it, which files alone cannot tell.  Evidence, not a finding.
        transient = sorted(n for n in cmp.process if n in appcheck.PROXY_VARS and n not in cmp.new_shell)
        if transient:
            step.add_evidence(not_in_any_startup_file=transient,
                              persistence=f"a new {cmp.shell} terminal gets these only if something other than "
                                          f"its startup files sets them; to make them persistent add them to "
                                          f"{cmp.startup_file}")
        step.passed("no disagreement between this process, a new " + cmp.shell + " shell and Claude Code ("
                    + ", ".join(sorted(cmp.process)) + ")"
                    + (f"; {', '.join(transient)} not in any startup file" if transient else ""))
        return
    issue = cmp.issues[0]
    fix = {k: v for k, v in issue.fix.items() if v} or {"HTTPS_PROXY": _proxy_value(cfg) or PROXY_PLACEHOLDER}
    step.set_fix(env=fix, file=cmp.startup_file, shell=cmp.shell)
    if len(cmp.issues) > 1:
        step.add_evidence(other_issues=[i.detail for i in cmp.issues[1:]])
    views = "\n".join(f"  {name}: " + ", ".join(f"{k}={v if v is not None else '(unset)'}"
                                               for k, v in row.items() if k != "set in")
                      for name, row in cmp.table().items())
    step.fail(issue.key, detail=issue.detail, views=views, shell=cmp.shell, profile=cmp.startup_file,
              export_lines=export_lines(fix, cmp.shell), reload=_reload(cmp.shell, cmp.startup_file),
              claude_path=cmp.claude_path)


def _versions_line(versions) -> str:
    return ", ".join(f"{v.name} {v.version}" if v.version else f"{v.name} (missing)" for v in versions.values())


@pytest.mark.proxydiag_step("application.debug_logging")
def test_debug_logging(proxydiag_step, proxydiag_config, proxydiag_probes):
    step, cfg = proxydiag_step, proxydiag_config
    versions = proxydiag_probes.cached(("app-versions",), lambda: appcheck.tool_versions(cfg.env))
    step.add_evidence(versions={n: (v.version or f"missing: {v.missing}") for n, v in versions.items()})
    offered = []
    target = cfg.targets[0]
    if cfg.proxy.url is not None and not cfg.proxy.url.is_socks and proxydiag_probes.proxy_unusable() is None:
        res = proxydiag_probes.connect_tunnel(target.host, target.port, credentials=None)
        if res.reply is not None and res.status == 407:
            offered = [c.split(None, 1)[0] for c in res.reply.proxy_authenticate if c.strip()]
    traps = appcheck.client_traps(cfg.env, versions, cfg.proxy.url, offered)
    if traps:
        step.add_evidence(client_traps=traps)
    sdks = [name for name in ("anthropic", "litellm") if versions.get(name) and versions[name].version]
    if cfg.proxy.url is not None and cfg.proxy.url.is_socks:
        step.fail("client_trap", detail=traps[-1] if traps else "SOCKS proxy", traps="\n".join(traps),
                  versions=_versions_line(versions))
    if not sdks:
        missing = [n for n in ("anthropic", "litellm") if n not in sdks]
        step.skip(f"no Python SDK to run with debug logging: {' and '.join(missing)} not installed for "
                  f"{versions['python'].where}; versions recorded for escalation")
    step.require_tunnel(target)
    runs = [proxydiag_probes.cached(("app-sdk", sdk, target.url), lambda sdk=sdk: appcheck.sdk_debug_run(
        sdk, target.url, cfg.env, cfg.timeout, public_roots=_public_roots(cfg), redact=step.state.redactor.redact))
        for sdk in sdks]
    step.add_evidence(sdk_runs={r.sdk: {"version": r.version, "status": r.status, "error": r.error,
                                        "used_proxy": r.used_proxy, "log_lines": r.proxy_lines,
                                        "seconds": round(r.elapsed, 3)} for r in runs})
    common = dict(traps="\n  ".join(traps) or "none known", versions=_versions_line(versions),
                  upgrade="pip install -U anthropic litellm")
    for r in runs:
        if not r.ran:
            continue
        if r.used_proxy is False and proxydiag_config.proxy.configured:
            step.fail("no_proxy_in_log", sdk=r.sdk, version=r.version or "", evidence="; ".join(r.proxy_lines[:3]),
                      **common)
        if r.status is None:
            step.fail("sdk_failed", sdk=r.sdk, version=r.version or "", detail=f"{r.error_type}: {r.error}",
                      evidence="; ".join(r.proxy_lines[:4]) or "(no proxy lines)", **common)
    shown = "; ".join(f"{r.sdk} {r.version}: HTTP {r.status}"
                      + (", the log shows the CONNECT through the proxy" if r.used_proxy else "")
                      for r in runs if r.ran)
    step.passed(shown or "no SDK ran")


@pytest.mark.proxydiag_step("application.python_requests")
def test_python_requests(proxydiag_step, proxydiag_config, proxydiag_target):
    step, cfg, target = proxydiag_step, proxydiag_config, proxydiag_target
    step.require_http_proxy()
    url = target.origin
    clients = ["requests", "curl"]
    try:
        import importlib.util
        if importlib.util.find_spec("httpx") is not None:
            clients.insert(1, "httpx")
    except (ImportError, ValueError):
        pass
    cmp = step.probes.cached(("app-clients", target.url), lambda: appcheck.python_vs_curl(
        url, cfg.env, cfg.timeout, clients=clients, public_roots=_public_roots(cfg), no_direct=cfg["no_direct"],
        resolve=cfg.resolve, redactor=step.state.redactor))
    from pytest_proxydiag.proof.clients import describe

    step.add_evidence(clients={c: describe(r) for c, r in cmp.runs.items()},
                      routes={c: (p or "direct") + f" ({why})" for c, (p, why) in cmp.routes.items()},
                      **({"not_run": cmp.not_run} if cmp.not_run else {}))
    if "requests" in cmp.not_run:
        step.blocked("application.env_in_shell", f"requests would not use the proxy for {target.url}: "
                                                 f"{cmp.not_run['requests']}")
    curl = cmp.runs.get("curl")
    failed = {c: r for c, r in cmp.runs.items() if c != "curl" and not r.reached}
    if not failed:
        step.passed("; ".join(describe(r) for r in cmp.runs.values()))
        return
    client, run = next(iter(failed.items()))
    branch, reason = appcheck.classify_client_error(run)
    if curl is not None and curl.error_code == "unavailable":
        step.blocked(appcheck.BRANCH_OF[branch], f"{client} fails ({reason}); curl is not available to tell "
                                                 f"whether the path itself works: {curl.error}")
    if curl is None or not curl.reached:
        step.blocked(appcheck.BRANCH_OF[branch], f"{client} and curl both fail: {reason}")
    because, fix = appcheck.explain_python_failure(client, run, curl, cfg.env, branch)
    if fix:
        step.set_fix(env=fix)
    runs = "\n".join("  " + describe(r) for r in cmp.runs.values())
    fix_lines = export_lines(fix, appcheck.shell_kind(cfg.env)) if fix else "  (see the reason above)"
    step.fail("python_only", client=client, because=because, runs=runs, fix_lines=fix_lines)


def _yaml(cfg_path_vars: dict[str, str] | None = None, ca: str | None = None, timeouts: bool = False) -> str:
    lines = ["  litellm_settings:", "    proxy:", "      http_proxy: os.environ/HTTP_PROXY",
             "      https_proxy: os.environ/HTTPS_PROXY", "      no_proxy: os.environ/NO_PROXY"]
    if ca:
        lines.append(f"    ssl_verify: {ca}")
    return "\n".join(lines)


@pytest.mark.proxydiag_step("application.litellm_config")
def test_litellm_config(proxydiag_step, proxydiag_config):
    step, cfg = proxydiag_step, proxydiag_config
    found = appcheck.find_litellm_config(cfg["litellm_config"], cfg.source("litellm_config"), os.getcwd())
    if found is None:
        step.skip("no LiteLLM config (set LITELLM_CONFIG or --proxydiag-litellm-config, or run where its "
                  "config.yaml is)")
    path, source = found
    lc = step.probes.cached(("app-litellm", path), lambda: appcheck.parse_litellm_config(path, cfg.env, source))
    proxy_value = _proxy_value(cfg) or PROXY_PLACEHOLDER
    step.add_evidence(litellm={"path": path, "source": source, "proxy_settings": lc.proxy,
                               "env_refs": lc.env_refs, "unset_refs": lc.unset_refs, "ssl_verify": lc.ssl_verify,
                               "request_timeout": lc.request_timeout, "router_timeout": lc.router_timeout,
                               "models": lc.models, **({"error": lc.error} if lc.error else {})})
    common = dict(path=path, source=source, yaml=_yaml())
    if lc.error:
        step.fail("unparseable", detail=lc.error, **common)
    if lc.ssl_verify_false:
        ca = cfg.env.get("REQUESTS_CA_BUNDLE") or cfg.env.get("SSL_CERT_FILE") or "<CORPORATE-CA-BUNDLE>"
        step.set_fix(files=[{"path": path, "change": f"ssl_verify: {ca}"}], env={"SSL_CERT_FILE": ca})
        step.fail("ssl_verify_false", detail=", ".join(f"{w}: false" for w in lc.ssl_verify_false),
                  **{**common, "yaml": _yaml(ca=ca)},
                  export_lines=export_lines({"SSL_CERT_FILE": ca, "REQUESTS_CA_BUNDLE": ca}))
    if lc.unset_refs:
        values = {v: (proxy_value if "PROXY" in v.upper() and "NO_PROXY" not in v.upper()
                      else ("localhost,127.0.0.1" if v.upper() == "NO_PROXY" else f"<value of {v}>"))
                  for v in lc.unset_refs}
        step.set_fix(env=values)
        detail = ", ".join(f"{v} (at {', '.join(w)})" for v, w in lc.unset_refs.items())
        step.fail("unset_refs", detail=detail, unset=", ".join(lc.unset_refs), export_lines=export_lines(values),
                  **common)
    if not lc.proxy:
        values = {"HTTPS_PROXY": proxy_value, "HTTP_PROXY": proxy_value}
        step.set_fix(files=[{"path": path, "change": "add litellm_settings.proxy"}], env=values)
        step.fail("missing", detail="no http_proxy/https_proxy under litellm_settings.proxy or "
                                    "environment_variables", export_lines=export_lines(values), **common)
    step.passed(f"{path}: proxy settings at {', '.join(lc.proxy)}; every os.environ/ reference is set")
