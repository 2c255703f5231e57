"""BYPASS ISSUES: does traffic really go through the proxy, NO_PROXY per client, system and app settings."""

from __future__ import annotations

import os

import pytest

from pytest_proxydiag.branches import bypass, policy
from pytest_proxydiag.branches.judgement import say
from pytest_proxydiag.core.config import proxy_from_env
from pytest_proxydiag.core.step import export_lines
from pytest_proxydiag.machine import claude_settings
from pytest_proxydiag.net import routing

pytestmark = pytest.mark.bypass


def _home(cfg) -> str:
    return cfg.env.get("HOME") or os.path.expanduser("~")


@pytest.mark.proxydiag_step("bypass.traffic_via_proxy")
def test_traffic_via_proxy(proxydiag_step, proxydiag_config, proxydiag_probes):
    step, cfg = proxydiag_step, proxydiag_config
    if not bypass.env_has_proxy(cfg.env):
        bypass.judge_no_proxy_variable(cfg.proxy.configured).conclude(step)
    urls = [t.url for t in cfg.targets]
    matrix = routing.route_matrix(urls, cfg.env)
    step.add_evidence(routes=bypass.routes_evidence(matrix))
    proof = bypass.witness(proxydiag_probes, cfg, matrix)
    if proof is not None:
        step.add_evidence(witness=proof)
    placeholder = step.values()["proxy_placeholder"]
    fix_lines = export_lines({"HTTPS_PROXY": placeholder, "https_proxy": placeholder})
    socks = cfg.proxy.url if cfg.proxy.url is not None and cfg.proxy.url.is_socks else None
    bypass.judge_traffic(matrix, proof, urls, fix_lines, socks,
                         url_needs_encoding=bool(cfg.proxy.url and cfg.proxy.url.needs_encoding)).conclude(step)


@pytest.mark.proxydiag_step("bypass.no_proxy")
def test_no_proxy(proxydiag_step, proxydiag_config):
    step, cfg = proxydiag_step, proxydiag_config
    if not bypass.env_has_proxy(cfg.env):
        step.skip(say(step, "no_proxy_variable"))
    domains = policy.provider_domains(cfg.targets, cfg["aws_region"], cfg["vertex_region"], cfg.claude_env)
    cloud = any(d.provider in ("AWS Bedrock", "Vertex AI") for d in domains)
    vertex = any(d.provider == "Vertex AI" for d in domains) and bypass.vertex_login_uses_metadata(
        {**cfg.env, **cfg.claude_env})
    must_proxy, must_direct = bypass.routing_expectations(cfg.targets, cfg.gateway, cloud, vertex)
    matrix = routing.route_matrix(list(must_proxy) + list(must_direct), cfg.env)
    step.add_evidence(no_proxy={"value": cfg.no_proxy.value, "source": cfg.no_proxy.source,
                                "NO_PROXY": cfg.env.get("NO_PROXY"), "no_proxy": cfg.env.get("no_proxy")},
                      matrix={c: {u: ("direct" if r.direct else "proxy") for u, r in per.items()}
                              for c, per in matrix.items()})
    bypass.judge_no_proxy(cfg.env, cfg.no_proxy, matrix, must_proxy, must_direct).conclude(step)


@pytest.mark.proxydiag_step("bypass.system_proxy")
def test_system_proxy(proxydiag_step, proxydiag_config):
    step, cfg = proxydiag_step, proxydiag_config
    sources, notes = bypass.system_sources(_home(cfg), cfg.env, cwd=os.getcwd(), pac_url=cfg["pac_url"],
                                           target_urls=[t.url for t in cfg.targets],
                                           timeout=min(float(cfg.timeout), bypass.COMMAND_TIMEOUT))
    step.add_evidence(sources=[{"where": s.where, "key": s.key, "value": s.value, "used_by": s.used_by}
                               for s in sources], not_checked=notes)
    env_raw, env_var = proxy_from_env(cfg.env)
    bypass.judge_system_sources(sources, notes, env_raw, env_var, cfg.no_proxy).conclude(step)


@pytest.mark.proxydiag_step("bypass.app_settings")
def test_app_settings(proxydiag_step, proxydiag_config):
    step, cfg = proxydiag_step, proxydiag_config
    entries = bypass.app_settings(_home(cfg), os.getcwd(), cfg["litellm_config"])
    step.add_evidence(settings=[{"path": e.path, "key": e.key, "value": e.value, "app": e.app} for e in entries])
    env_raw, env_var = proxy_from_env(cfg.env)
    # The variable Claude Code takes its proxy from: the shell with its settings' env on top, in its own order.
    seen = {**cfg.env, **claude_settings.read(_home(cfg), os.getcwd(), env=cfg.env).env}
    claude_var = routing.route(cfg.targets[0].url, seen, "claude").proxy_var if cfg.targets else None
    bypass.judge_app_settings(entries, cfg.targets, env_raw, env_var, claude_var).conclude(step)


@pytest.mark.proxydiag_step("bypass.node_env_proxy")
def test_node_env_proxy(proxydiag_step):
    from pytest_proxydiag.branches import node_env

    # Started early (proof.early.start_early): taken from the probe cache, or run now.
    node_env.judgement_of(proxydiag_step.state).conclude(proxydiag_step)
