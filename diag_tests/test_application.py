"""APPLICATION ISSUES: works with curl, fails with Claude Code (or Python, or LiteLLM)."""

from __future__ import annotations

import os
from urllib.parse import unquote, urlsplit

import pytest

from pytest_proxydiag.branches import application, environments
from pytest_proxydiag.branches import performance as perf
from pytest_proxydiag.net.results import Cause
from pytest_proxydiag.machine import shellenv
from pytest_proxydiag.proof.fix_values import ANY_PLACEHOLDER, PROXY_PLACEHOLDER, proxy_fix_value
from pytest_proxydiag.branches.judgement import say
from pytest_proxydiag.proof import appruns
from pytest_proxydiag.proof.clients import describe

pytestmark = pytest.mark.application


def _home(cfg) -> str:
    return cfg.env.get("HOME") or os.path.expanduser("~")


def _proxy_value(cfg) -> str | None:
    """The proxy URL for fix lines (configured, else found in a shell profile), the password a placeholder."""
    value = proxy_fix_value(cfg.proxy.url, shellenv.scan(_home(cfg), names=environments.PROXY_VARS))
    return None if value == PROXY_PLACEHOLDER else value


def _register_secret(step, value: str | None) -> None:
    """A proxy password read from a file (not from this process) must be redacted too."""
    if not value or "@" not in value:
        return
    try:
        parts = urlsplit(value if "://" in value else "http://" + value)
        # A fix's own placeholder (<URL-ENCODED-PASSWORD>) is the text the user must see, never a secret.
        if parts.password and not ANY_PLACEHOLDER.fullmatch(unquote(parts.password)):
            step.state.redactor.add_credentials_pair(unquote(parts.username or ""), unquote(parts.password))
    except ValueError:
        pass


@pytest.mark.proxydiag_step("application.env_in_shell")
def test_env_in_shell(proxydiag_step, proxydiag_config):
    step, cfg = proxydiag_step, proxydiag_config
    proxy_value = _proxy_value(cfg)
    cmp = environments.compare_env(cfg.env, _home(cfg), proxy_value=proxy_value)
    for value in [*cmp.new_shell.values(), *cmp.claude.values(), *(v for i in cmp.issues for v in i.fix.values())]:
        _register_secret(step, value)
    step.add_evidence(shell=cmp.shell, views=cmp.table(),
                      startup_files=environments.loaded_files(_home(cfg), cmp.shell),
                      **({"problems": cmp.problems} if cmp.problems else {}))
    environments.judge_env(cmp, proxy_value).conclude(step)


@pytest.mark.proxydiag_step("application.debug_logging")
def test_debug_logging(proxydiag_step, proxydiag_config, proxydiag_probes):
    step, cfg, probes = proxydiag_step, proxydiag_config, proxydiag_probes
    versions = appruns.versions_of(step.state)
    step.add_evidence(versions={n: (v.version or f"missing: {v.missing}") for n, v in versions.items()})
    # Both SDK checks speak Anthropic's API: they go to the first target that does (not a Bedrock/Vertex host).
    offered, target = [], application.sdk_target(cfg.targets) or cfg.targets[0]
    if cfg.proxy.url is not None and not cfg.proxy.url.is_socks and probes.proxy_unusable() is None:
        res = probes.connect_tunnel(target.host, target.port, credentials=None)
        if res.reply is not None and res.status == 407:
            offered = [c.split(None, 1)[0] for c in res.reply.proxy_authenticate if c.strip()]
    traps = application.client_traps(cfg.env, versions, cfg.proxy.url, offered)
    if traps:
        step.add_evidence(client_traps=traps)
    verdict = application.judge_sdk_setup(cfg.proxy.url, versions, traps)
    if verdict is not None:
        verdict.conclude(step)
    if application.sdk_target(cfg.targets) is None:
        application.judge_cloud_only(cfg.targets).conclude(step)
    step.require_tunnel(target)
    # Started early (proof.early.start_early): taken from the probe cache, or run now.
    runs = [appruns.sdk_run_of(step.state, sdk, target) for sdk in appruns.installed_sdks(versions)]
    step.add_evidence(sdk_runs={r.sdk: {"version": r.version, "status": r.status, "error": r.error,
                                        "used_proxy": r.used_proxy, "log_lines": r.proxy_lines,
                                        "seconds": round(r.elapsed, 3)} for r in runs})
    # The probes' own request got no answer either (TLS in the tunnel failed, or an idle timeout cut it): every SDK
    # fails then too, and the step that judges that path says why.
    path_failed = None
    if any(r.ran and r.status is None for r in runs):
        probe = perf.measure_latency(probes, target).result
        # The CONNECT itself was accepted (require_tunnel above): what failed came after it.
        if not probe.ok and probe.reply is None and probe.cause in (Cause.CLOSED, Cause.RESET, Cause.TLS_ERROR):
            path_failed = ("performance.latency" if perf.cut_after_tunnel(probe) else "connectivity.proxy_works",
                           probe.detail)
        elif not probe.ok and probe.tunnel is not None and not probe.tunnel.ok and probe.tunnel.reply is not None:
            # The probe's own later CONNECT was refused too (a limit on connections): not the SDK's setup.
            path_failed = ("connectivity.proxy_works", probe.tunnel.detail, "connect_refused_too")
    # An untrusted interception CA fails the SDK too: the certificate step that found it says why.
    cert_failed = next((r.step_id for r in step.state.results if r.outcome == "failed"
                        and r.step_id in ("certificate.interception", "certificate.python_ssl")), None)
    application.judge_sdk_runs(runs, cfg.proxy.configured, versions, traps, path_failed=path_failed,
                               url_needs_encoding=bool(cfg.proxy.url and cfg.proxy.url.needs_encoding),
                               cert_failed=cert_failed).conclude(step)


@pytest.mark.proxydiag_step("application.python_requests")
def test_python_requests(proxydiag_step, proxydiag_config, proxydiag_target):
    step, cfg, target = proxydiag_step, proxydiag_config, proxydiag_target
    step.require_http_proxy()
    cmp = appruns.comparison_of(step.state, target)
    step.add_evidence(clients={c: describe(r) for c, r in cmp.runs.items()},
                      routes={c: (p or "direct") + f" ({why})" for c, (p, why) in cmp.routes.items()},
                      **({"not_run": cmp.not_run} if cmp.not_run else {}))
    url = cfg.proxy.url
    application.judge_python_clients(cmp, target.url, cfg.env, url_needs_encoding=bool(url and url.needs_encoding),
                                     non_ascii_password=bool(url and url.password and not url.password.isascii())
                                     ).conclude(step)


@pytest.mark.proxydiag_step("application.litellm_config")
def test_litellm_config(proxydiag_step, proxydiag_config):
    step, cfg = proxydiag_step, proxydiag_config
    found = application.find_litellm_config(cfg["litellm_config"], cfg.source("litellm_config"), os.getcwd())
    if found is None:
        step.skip(say(step, "no_config"))
    path, source = found
    lc = step.probes.cached(("app-litellm", path), lambda: application.parse_litellm_config(path, cfg.env, source))
    step.add_evidence(litellm={"path": path, "source": source, "proxy_settings": lc.proxy,
                               "env_refs": lc.env_refs, "unset_refs": lc.unset_refs, "ssl_verify": lc.ssl_verify,
                               "request_timeout": lc.request_timeout, "router_timeout": lc.router_timeout,
                               "models": lc.models, **({"error": lc.error} if lc.error else {})})
    application.judge_litellm(lc, cfg.env, proxy_fix_value(cfg.proxy.url)).conclude(step)
