"""PROXY POLICY ISSUES, beyond the API: every host Claude Code needs through the proxy."""

from __future__ import annotations

import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest

from pytest_proxydiag.branches import claude_hosts as hosts
from pytest_proxydiag.branches import policy, policy_reach
from pytest_proxydiag.catalog import claude_hosts as words
from pytest_proxydiag.machine import claude_settings
from pytest_proxydiag.machine.claude_mcp import http_mcp_servers
from pytest_proxydiag.net import policy_probes as measure
from pytest_proxydiag.net import routing

pytestmark = pytest.mark.policy

STEP = "policy.claude_hosts"


def _note(key: str, **values) -> str:
    return words.NOTES[STEP][key].format(**values)


def _label(verdict: hosts.HostVerdict, **values) -> str:
    purpose = words.PURPOSES[verdict.need.purpose].format(**values)
    return f"{verdict.need.host} ({purpose}: {verdict.status})"


def settings_path(env) -> str:
    """The user's settings file as Claude Code finds it (``CLAUDE_CONFIG_DIR`` honoured)."""
    return claude_settings.settings_files(env.get("HOME") or "~", None, env=env)[0][1]


@pytest.mark.proxydiag_step(STEP)
def test_claude_hosts(proxydiag_step, proxydiag_config, proxydiag_probes):
    step, cfg = proxydiag_step, proxydiag_config
    if cfg["no_claude_hosts"]:
        step.skip(_note("switched_off"))
    proxy = step.require_http_proxy()
    env = cfg.env
    claude = os.environ.get("PROXYDIAG_CLAUDE") or shutil.which("claude", path=env.get("PATH"))
    home = env.get("HOME") or os.path.expanduser("~")
    settings = claude_settings.read(home, os.getcwd(), env=env)
    skip = claude_settings.top_level(home, os.getcwd(), "skipWebFetchPreflight", env=env)
    skipped = skip[1] if skip is not None and skip[0] is True else None
    helper = claude_settings.top_level(home, os.getcwd(), "apiKeyHelper", env=env)
    needs = hosts.needed_hosts({**env, **settings.env}, claude, api_hosts=[t.host for t in cfg.targets],
                               preflight_skipped=skipped,
                               claude_ai_login=helper is None and claude_settings.has_claude_ai_login(home, env))
    if skipped:
        step.add_evidence(webfetch_check=_note("preflight_skipped", path=skipped))
    servers, problems = http_mcp_servers(home, os.getcwd())
    local, remote = [], {}
    for server in servers:
        parts = urlsplit(server.url)
        host = (parts.hostname or "").lower()
        if not host:
            continue
        if hosts.must_bypass(host):
            if routing.route(server.url, env, "claude").proxy is not None:
                local.append((server, host))
        else:
            need = hosts.Need(host, parts.port or (443 if parts.scheme == "https" else 80), "mcp_remote",
                              hosts.REQUIRED)
            remote[need] = server
    needs += list(remote)
    step.add_evidence(install=hosts.install_kind(claude), mcp_servers=[s.url for s in servers],
                      mcp_problems=problems)
    if local:
        no_proxy, _ = routing.no_proxy_value(env, "claude")
        corrected = routing.corrected_no_proxy(no_proxy or "", keep_direct=["localhost", "127.0.0.1"]
                                               + [h for _s, h in local], must_proxy=[t.host for t in cfg.targets])
        step.set_fix(env={"NO_PROXY": corrected, "no_proxy": corrected}, verified=None)
        step.fail("local_mcp_via_proxy", servers=", ".join(f"{s.name} ({s.url})" for s, _h in local),
                  proxy=proxy.redacted(), no_proxy=no_proxy or "not set", corrected=corrected)
    if not needs:
        step.passed(_note("nothing_but", nothing=_note("nothing"), preflight=_note("preflight_skipped", path=skipped))
                    if skipped else _note("nothing"))
        return
    # Every host at once: the whole check costs one timeout at most.
    with ThreadPoolExecutor(max_workers=len(needs), thread_name_prefix="proxydiag-claude-hosts") as pool:
        tunnels = list(pool.map(lambda n: proxydiag_probes.connect_tunnel(n.host, n.port), needs))
    verdicts = [hosts.judge_tunnel(n, t.status, t.cause.value, t.detail) for n, t in zip(needs, tunnels)]
    values = {v.need: {"name": remote[v.need].name, "source": remote[v.need].source} if v.need in remote else {}
              for v in verdicts}
    step.add_evidence(hosts={v.need.host: {"purpose": v.need.purpose, "weight": v.need.weight,
                                           "verdict": v.verdict, "proxy": v.status} for v in verdicts})
    if any(t.status == 407 for t in tunnels):
        step.blocked("auth.credentials", _note("auth_first"))
    # Only a policy refusal of a required host is a finding; telemetry, error reports and hosts the
    # proxy could not reach (its DNS, its upstream) are said, never the root cause.
    aside = [v for v in verdicts if v.verdict != "allowed" and
             (v.need.weight == hosts.INFORMATIONAL or v.verdict != "refused")]
    informational = _note("informational", hosts="; ".join(_label(v, **values[v.need]) for v in aside)) \
        if aside else ""
    bad = [v for v in verdicts if v.need.weight == hosts.REQUIRED and v.verdict == "refused"]
    if bad and all(v.verdict == "refused" for v in verdicts):
        # Every host refused: is a name every proxy lets through refused the same way? Then it is no domain rule.
        first = policy.read_tunnel(tunnels[verdicts.index(bad[0])])
        everywhere = policy_reach.reference_refusal(first, *measure.reference_probes(proxydiag_probes,
                                                                                     cfg["reference"]))
        if everywhere is not None:
            step.blocked("connectivity.proxy_works", _note("refused_everywhere", reference=everywhere.hostport,
                                                           detail=everywhere.answer))
    if bad:
        step.set_fix(ticket_domains=[f"{v.need.host}:{v.need.port}" for v in bad], verified=None)
        webfetch_note = _note("webfetch_note", settings=settings_path(env)) \
            if any(v.need.purpose == "webfetch_measured" for v in bad) else ""
        step.fail("refused", hosts="; ".join(_label(v, **values[v.need]) for v in bad), informational=informational,
                  domains="\n".join(f"  {v.need.host}:{v.need.port}" for v in bad), webfetch_note=webfetch_note)
    allowed = [v.need.host for v in verdicts if v.verdict == "allowed"]
    summary = _note("all_allowed", hosts=", ".join(allowed) or "none", informational=informational)
    step.passed(_note("nothing_but", nothing=summary, preflight=_note("preflight_skipped", path=skipped))
                if skipped else summary)
