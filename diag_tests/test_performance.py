"""PERFORMANCE ISSUES: slow responses or frequent timeouts."""

from __future__ import annotations

import os
import time

import pytest

from pytest_proxydiag.branches import application as appcheck

from pytest_proxydiag.branches import performance as perf
from pytest_proxydiag.branches.performance import fmt_ms
from pytest_proxydiag.core.step import export_lines

pytestmark = pytest.mark.performance

_WHERE = {
    "proxy connect": "reaching the proxy itself is slow (the network to the proxy, or an overloaded proxy).",
    "connect": "the TCP connection is slow.",
    "CONNECT reply": "the proxy takes long to open the tunnel: its authentication, its DNS lookup or its own "
                     "connection to the provider.",
    "TLS handshake": "the TLS handshake through the tunnel is slow (an intercepting proxy minting certificates, "
                     "or the provider).",
    "time to first byte": "the time passes after the tunnel to the provider was open: the provider's answer, or "
                          "an inspecting proxy holding it back. The proxy's own part (connect and CONNECT reply) "
                          "is small.",
}
_ADVICE = {
    "time to first byte": "The time is spent waiting for the answer, not in the proxy's connection handling. "
                          "Compare from a network without the proxy: if it is as slow there, the provider is slow "
                          "(check its status page); if not, ask IT whether the proxy inspects or holds back "
                          "responses for {target_host}.",
}


def _measured_split(probes, target):
    return perf.measure_latency(probes, target)


@pytest.mark.proxydiag_step("performance.latency")
def test_latency(proxydiag_step, proxydiag_config, proxydiag_probes, proxydiag_target):
    step, cfg, target = proxydiag_step, proxydiag_config, proxydiag_target
    if target.scheme == "https":
        step.require_tunnel(target)
    else:
        step.require_http_proxy()
    split = _measured_split(proxydiag_probes, target)
    step.add_evidence(through_proxy=split.as_dict())
    if not split.ok:
        step.blocked("connectivity.proxy_works", f"GET {target.url} through the proxy: {split.detail}")
    direct = None
    if not cfg["no_direct"]:
        direct = perf.measure_latency(proxydiag_probes, target, via_proxy=False)
        step.add_evidence(direct=direct.as_dict() if direct.ok else f"not reachable direct: {direct.detail}")
        if not direct.ok:
            direct = None
    else:
        step.add_evidence(direct="not measured (--proxydiag-no-direct)")
    stream = perf.stream_check(proxydiag_probes, target)
    step.add_evidence(streaming=stream.as_dict())
    threshold = float(cfg["latency_threshold"])
    total = split.total or 0.0
    if direct is not None and direct.total is not None:
        added = total - direct.total
        step.add_evidence(proxy_adds=round(added, 4))
        if added > threshold:
            step.fail("slow", added=fmt_ms(added), threshold=fmt_ms(threshold), split=split.line(),
                      direct=direct.line())
    elif total > threshold:
        slowest, _secs = split.slowest() or ("time to first byte", total)
        advice = _ADVICE.get(slowest, "The proxy is slow at this phase: send IT the timings below and check "
                                      "performance.proxy_health.")
        step.fail("slow_total", total=fmt_ms(total), threshold=fmt_ms(threshold), split=split.line(),
                  slowest=slowest, where=_WHERE.get(slowest, ""), advice=advice.format(target_host=target.host))
    if stream.available and stream.buffered:
        step.fail("buffered", events=len(stream.arrivals), interval=fmt_ms(stream.interval),
                  first_event=fmt_ms(stream.first_event), gaps=", ".join(fmt_ms(g) for g in stream.gaps))
    stream_note = ""
    if stream.available and stream.arrivals:
        stream_note = (f"; streaming: first event after {fmt_ms(stream.first_event)}, events "
                       f"{fmt_ms(stream.interval)} apart as sent")
    step.passed(f"through the proxy: {split.line()}"
                + (f"; direct {fmt_ms(direct.total)}" if direct is not None else "") + stream_note)


@pytest.mark.proxydiag_step("performance.proxy_health")
def test_proxy_health(proxydiag_step, proxydiag_config, proxydiag_probes):
    step, cfg = proxydiag_step, proxydiag_config
    target = cfg.targets[0]
    if target.scheme == "https":
        step.require_tunnel(target)
    else:
        step.require_http_proxy()
    samples = int(cfg["health_samples"])
    health = perf.proxy_health(proxydiag_probes, target, samples)
    step.add_evidence(health=health.as_dict(), request_budget=perf.request_budget(cfg))
    st = health.stats()
    threshold = float(cfg["health_threshold"])
    stats_line = health.line()
    common = dict(stats=stats_line, count=health.count, requested=health.requested, threshold=fmt_ms(threshold),
                  when=time.strftime("%Y-%m-%d %H:%M:%S %Z"), failures=len(health.failures),
                  target=target.hostport)
    if health.failures:
        examples = "; ".join(dict.fromkeys(health.failures))[:300]
        step.fail("failures", failed=len(health.failures), examples=examples, **common)
    if st and st["mean"] > threshold:
        step.fail("slow", mean=fmt_ms(st["mean"]), **common)
    step.passed(f"{stats_line} (threshold {fmt_ms(threshold)} mean)")


@pytest.mark.proxydiag_step("performance.timeouts")
def test_timeouts(proxydiag_step, proxydiag_config, proxydiag_probes):
    step, cfg = proxydiag_step, proxydiag_config
    home = cfg.env.get("HOME") or os.path.expanduser("~")
    claude_env, _path, _problem = appcheck.claude_settings_env(home)
    lc = None
    found = appcheck.find_litellm_config(cfg["litellm_config"], cfg.source("litellm_config"), os.getcwd())
    if found is not None:
        lc = proxydiag_probes.cached(("app-litellm", found[0]),
                                     lambda: appcheck.parse_litellm_config(found[0], cfg.env, found[1]))
    timeouts, problems = perf.client_timeouts(cfg.env, claude_env, lc)
    measured = None
    if cfg.proxy.url is not None and proxydiag_probes.proxy_unusable() is None:
        for t in cfg.targets:
            if t.scheme == "https" and not proxydiag_probes.tunnel_to(t).ok:
                continue
            s = perf.measure_latency(proxydiag_probes, t)
            if s.ok and s.total is not None:
                measured = max(measured or 0.0, s.total)
    step.add_evidence(timeouts=[t.line() for t in timeouts],
                      measured_latency=round(measured, 4) if measured is not None else None,
                      model_time_budget=perf.MODEL_TIME_BUDGET)
    yaml = ("  litellm_settings:\n    request_timeout: 600   # 10 minutes\n"
            "  router_settings:\n    timeout: 300           # 5 minutes per provider attempt")
    shell = appcheck.shell_kind(cfg.env)
    fix_env = {"API_TIMEOUT_MS": "600000"}
    common = dict(export_lines=export_lines(fix_env, shell), yaml=yaml,
                  litellm_path=f" ({found[0]})" if found else "", measured=fmt_ms(measured))
    if problems:
        step.set_fix(env=fix_env)
        step.fail("unreadable", detail="; ".join(problems), **common)
    base = measured or 0.0
    tight = []
    for t in timeouts:
        if t.seconds is None or t.client == "(none)":
            continue
        if t.source == "default":
            if measured is not None and t.seconds < measured:
                tight.append(f"{t.line()}: below the measured latency, every request fails")
        elif t.seconds < base + perf.MODEL_TIME_BUDGET:
            tight.append(f"{t.line()}: leaves {fmt_ms(max(t.seconds - base, 0.0))} for the model's answer after "
                         f"the path's {fmt_ms(base)} (at least {fmt_ms(perf.MODEL_TIME_BUDGET)} needed)")
    if tight:
        step.set_fix(env=fix_env)
        step.fail("too_tight", detail="; ".join(tight), **common)
    shown = "; ".join(t.line() for t in timeouts if t.source != "default") or "defaults only"
    step.passed(f"{shown}; measured latency {fmt_ms(measured)}")


@pytest.mark.proxydiag_step("performance.rate_limit")
def test_rate_limit(proxydiag_step, proxydiag_config, proxydiag_probes):
    step, cfg = proxydiag_step, proxydiag_config
    # Every target gets its one shared request if no other step sent it yet (no extra load otherwise).
    if cfg.proxy.url is not None and proxydiag_probes.proxy_unusable() is None and not cfg.proxy.url.is_socks:
        for t in cfg.targets:
            if t.scheme == "http" or proxydiag_probes.tunnel_to(t).ok:
                perf.measure_latency(proxydiag_probes, t)
    sightings = perf.rate_limit_sightings(proxydiag_probes.iter_log())
    probes_seen = sum(1 for e in proxydiag_probes.iter_log() if e.get("kind") in ("http", "connect"))
    if not probes_seen:
        if not cfg.proxy.configured:
            step.skip("no proxy is configured and no probe reached a provider")
        step.blocked("connectivity.proxy_works", "no request reached the proxy or a provider")
    step.add_evidence(probes_checked=probes_seen, sightings=[s.line() for s in sightings])
    limited = [s for s in sightings if s.limited]
    if not limited:
        step.passed(f"no 429 in {probes_seen} probes" + (f"; rate-limit headers seen: {sightings[0].line()}"
                                                         if sightings else ""))
        return
    first = next((s for s in limited if s.sender == "proxy"), limited[0])
    retry = dict((k.lower(), v) for k, v in first.headers).get("retry-after")
    detail = "; ".join(dict.fromkeys(s.line() for s in limited))
    values = dict(detail=detail, retry=f" (retry-after: {retry} s)" if retry else "",
                  headers="; ".join(f"{k}: {v}" for k, v in first.headers) or "status 429")
    if first.sender == "proxy":
        step.fail("limited_proxy", **values)
    step.fail("limited", **values)
