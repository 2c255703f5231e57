"""PERFORMANCE ISSUES: slow responses or frequent timeouts."""

from __future__ import annotations

import os

import pytest

from pytest_proxydiag.branches import application as appcheck
from pytest_proxydiag.branches import performance as perf
from pytest_proxydiag.net import policy_probes as measure
from pytest_proxydiag.branches.judgement import Judgement

pytestmark = pytest.mark.performance


def _require_path(step, target) -> None:
    # Through a SOCKS5 proxy every target, http:// too, is a tunnel; through an HTTP proxy only https:// is.
    if target.scheme == "https" or step.require_tunnel_proxy().is_socks:
        step.require_tunnel(target)


@pytest.mark.proxydiag_step("performance.latency")
def test_latency(proxydiag_step, proxydiag_config, proxydiag_probes, proxydiag_target):
    step, target = proxydiag_step, proxydiag_target
    _require_path(step, target)
    split = perf.measure_latency(proxydiag_probes, target)
    step.add_evidence(through_proxy=split.as_dict())
    direct = stream = None
    if split.ok:  # under --proxydiag-no-direct the probe layer refuses the direct request and says so
        direct = perf.measure_latency(proxydiag_probes, target, via_proxy=False)
        stream = perf.stream_check(proxydiag_probes, target)
        step.add_evidence(**perf.latency_evidence(split, direct, stream))
    # A drop is a rule only if the API request is dropped too: Squid's 1 s timeouts, counted in whole seconds, can
    # fire a few hundred ms after a request (measured: 354 ms), once, where a rule drops every request at once.
    dropped = perf.dropped_at_once(split.result) and perf.dropped_at_once(measure.api_request(proxydiag_probes, target))
    judgement = perf.judge_latency(split, direct, stream, float(proxydiag_config["latency_threshold"]), target.host,
                                   dropped=dropped)
    if judgement.by == "policy.url_filtering" and not step.runs(judgement.by):  # -m performance: say the drop here
        judgement = Judgement.fail("dropped", url=split.result.url, target_host=target.host,
                                   seconds=perf.fmt_ms(perf.waited(split.result)))
    judgement.conclude(step)


@pytest.mark.proxydiag_step("performance.proxy_health")
def test_proxy_health(proxydiag_step, proxydiag_config, proxydiag_probes):
    step, cfg = proxydiag_step, proxydiag_config
    target = cfg.targets[0]
    _require_path(step, target)
    health = perf.proxy_health(proxydiag_probes, target, int(cfg["health_samples"]))
    step.add_evidence(health=health.as_dict(), request_budget=perf.request_budget(cfg))
    perf.judge_health(health, float(cfg["health_threshold"]), target).conclude(step)


@pytest.mark.proxydiag_step("performance.timeouts")
def test_timeouts(proxydiag_step, proxydiag_config, proxydiag_probes):
    step, cfg = proxydiag_step, proxydiag_config
    claude_env, _path, _problem = appcheck.claude_settings_env(cfg.env.get("HOME") or os.path.expanduser("~"))
    found = appcheck.find_litellm_config(cfg["litellm_config"], cfg.source("litellm_config"), os.getcwd())
    litellm = None if found is None else proxydiag_probes.cached(
        ("app-litellm", found[0]), lambda: appcheck.parse_litellm_config(found[0], cfg.env, found[1]))
    timeouts, problems = perf.client_timeouts(cfg.env, claude_env, litellm)
    measured = perf.measured_latency(proxydiag_probes, cfg.targets)
    step.add_evidence(timeouts=[t.line() for t in timeouts],
                      measured_latency=round(measured, 4) if measured is not None else None,
                      model_time_budget=perf.MODEL_TIME_BUDGET)
    perf.judge_timeouts(timeouts, problems, measured, shell=appcheck.shell_kind(cfg.env),
                        litellm_path=found[0] if found else None).conclude(step)


@pytest.mark.proxydiag_step("performance.rate_limit")
def test_rate_limit(proxydiag_step, proxydiag_config, proxydiag_probes):
    step, cfg = proxydiag_step, proxydiag_config
    perf.shared_requests(proxydiag_probes, cfg.targets)
    sightings = perf.rate_limit_sightings(proxydiag_probes.iter_log())
    seen = perf.probes_seen(proxydiag_probes.iter_log())
    step.add_evidence(probes_checked=seen, sightings=[s.line() for s in sightings])
    perf.judge_rate_limit(sightings, seen, cfg.proxy.configured).conclude(step)
