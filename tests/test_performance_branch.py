"""PERFORMANCE branch: measurement helpers on synthetic data, then real proxies that are slow, throttled or buffer.

Squid (the lab) plays the healthy, slow-origin and rate-limited cases.  Two
behaviours Squid cannot be made to show - a proxy that answers CONNECT
slowly and one that holds a stream back until it ends - come from
:class:`SlowRelay`, a small scripted CONNECT relay (hostile cases only).
"""

from __future__ import annotations

import re


import pytest

from pytest_proxydiag.lab.servers import SlowRelay

from pytest_proxydiag.branches import performance as perf
from pytest_proxydiag.net.probes import Cause, HttpResult, Timings


# ------------------------------------------------------------------ helpers (no network)
def test_split_of_turns_cumulative_timings_into_phases():
    res = HttpResult(ok=True, cause=Cause.OK, detail="HTTP/1.1 200 OK", url="https://x/", method="GET",
                     timings=Timings(connect=0.010, proxy_reply=0.030, tls=0.050, first_byte=2.590, total=2.6))
    s = perf.split_of(res)
    assert s.phases() == pytest.approx({"proxy connect": 0.010, "CONNECT reply": 0.020, "TLS handshake": 0.050,
                                        "time to first byte": 2.510})
    assert s.slowest()[0] == "time to first byte"
    assert s.line().endswith("= total 2.60 s")


def test_health_statistics_nearest_rank_p95():
    h = perf.HealthStats([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 2.0], [], 10)
    st = h.stats()
    assert st["min"] == 0.1 and st["max"] == 2.0 and st["p95"] == 2.0
    assert st["median"] == pytest.approx(0.55) and st["mean"] == pytest.approx(0.65)


def test_rate_limit_attribution():
    log = [
        {"kind": "connect", "target": "api.anthropic.com:443", "status": 429, "headers": [("Retry-After", "5")]},
        {"kind": "http", "url": "https://api.anthropic.com/", "method": "GET", "status": 429, "via_proxy": True,
         "headers": [("request-id", "req_1"), ("retry-after", "30")]},
        {"kind": "http", "url": "http://example/", "method": "GET", "status": 429, "via_proxy": True,
         "headers": [("X-Squid-Error", "ERR_TOO_MANY 0")]},
        {"kind": "http", "url": "https://api.anthropic.com/", "method": "GET", "status": 401, "via_proxy": True,
         "headers": [("anthropic-ratelimit-requests-remaining", "99")]},
        {"kind": "tcp", "host": "x"},
    ]
    s = perf.rate_limit_sightings(log)
    assert [(x.sender, x.limited) for x in s] == [("proxy", True), ("provider", True), ("proxy", True),
                                                  ("provider", False)]


def test_client_timeouts_read_from_env_settings_and_litellm():
    class LC:
        error = None
        path = "config.yaml"
        request_timeout = 30.0
        router_timeout = None
        timeouts = {"litellm_settings.request_timeout": 30.0}
    t, problems = perf.client_timeouts({"API_TIMEOUT_MS": "5000", "ANTHROPIC_TIMEOUT": "600"}, {}, LC())
    by = {(x.client, x.setting): x for x in t}
    assert by[("Claude Code", "API_TIMEOUT_MS")].seconds == 5.0
    assert "neither Claude Code nor the Anthropic SDKs read" in by[("(none)", "ANTHROPIC_TIMEOUT")].note
    assert by[("LiteLLM", "litellm_settings.request_timeout")].seconds == 30.0
    assert perf.client_timeouts({"API_TIMEOUT_MS": "soon"})[1] == ["API_TIMEOUT_MS='soon' (env:API_TIMEOUT_MS) is "
                                                                  "not a number of milliseconds"]


def test_timeouts_say_when_the_latency_could_not_be_measured():
    judged = perf.judge_timeouts([], [], None, shell="bash", litellm_path=None)
    assert judged.outcome == "pass" and judged.values["measured"].key == "not_measured", judged
    assert perf.judge_timeouts([], [], 0.25, shell="bash", litellm_path=None).values["measured"] == "250 ms"


def test_stream_buffering_judgement():
    spaced = perf.StreamCheck("u", True, "", 4, 0.25, [0.01, 0.26, 0.51, 0.76])
    held = perf.StreamCheck("u", True, "", 4, 0.25, [0.76, 0.76, 0.77, 0.77])
    assert not spaced.buffered and held.buffered


# ------------------------------------------------------------------ a scripted slow / buffering CONNECT relay
@pytest.fixture
def relay():
    made = []

    def make(**kw):
        r = SlowRelay(**kw)
        made.append(r)
        return r
    yield make
    for r in made:
        r.stop()


# ------------------------------------------------------------------ real diagnoses
BRANCH_STEPS = ("performance.latency", "performance.proxy_health", "performance.timeouts", "performance.rate_limit")


def test_healthy_fast_setup_has_no_finding_in_either_branch(run_diag, lab_factory):
    lab = lab_factory("healthy")
    run = run_diag("-m", "application or performance", lab=lab, env={"SHELL": "/bin/bash"})
    assert not run.failed(), run.outcomes()
    lat = run.step("performance.latency")
    assert lat["outcome"] == "passed" and lat["evidence"]["streaming"]["buffered"] is False
    assert lat["evidence"]["streaming"]["events"] == perf.SSE_EVENTS
    health = run.step("performance.proxy_health")
    assert health["evidence"]["health"]["succeeded"] == 10
    assert run.step("performance.rate_limit")["outcome"] == "passed"
    assert run.step("performance.timeouts")["outcome"] == "passed"


def test_slow_origin_fails_latency_with_the_split(run_diag, lab_factory):
    lab = lab_factory("slow-origin")
    run = run_diag("-m", "performance", "--proxydiag-health-samples", "3", lab=lab, env={"SHELL": "/bin/bash"})
    lat = run.step("performance.latency")
    assert lat["outcome"] == "failed", lat
    # The injected 2.5 s plus the tunnel and handshake: within the same 10% as the evidence below.
    took = re.search(r"through the proxy took (\d+\.\d+) s \(threshold 2\.00 s\)", lat["finding"])
    assert took and 2.5 <= float(took.group(1)) <= 2.75, lat["finding"]
    for phase in ("proxy connect", "CONNECT reply", "TLS handshake", "time to first byte"):
        assert phase in lat["finding"]
    assert "The slowest phase is time to first byte" in lat["finding"]
    assert "Compare from a network without the proxy" in lat["solution"]
    assert "time_starttransfer" in lat["solution"]
    ev = lat["evidence"]["through_proxy"]
    assert abs(ev["time to first byte"] - 2.5) <= 0.25      # within 10% of the injected delay
    assert ev["CONNECT reply"] < 0.5                         # and the proxy is not blamed
    assert run.step("performance.proxy_health")["outcome"] == "passed"


def test_tight_client_timeout_against_slow_origin(run_diag, lab_factory):
    lab = lab_factory("slow-origin")
    run = run_diag("-m", "performance", "-k", "timeouts", lab=lab,
                   env={"SHELL": "/bin/zsh", "API_TIMEOUT_MS": "20000"})
    step = run.step("performance.timeouts")
    assert step["outcome"] == "failed", step
    assert "API_TIMEOUT_MS = 20.0 s (env:API_TIMEOUT_MS)" in step["finding"]
    assert 'export API_TIMEOUT_MS="600000"' in step["solution"] and "request_timeout: 600" in step["solution"]
    assert step["fix"]["env"] == {"API_TIMEOUT_MS": "600000"}


def test_rate_limited_provider(run_diag, lab_factory):
    lab = lab_factory("rate-limited")
    run = run_diag("-m", "performance", "--proxydiag-health-samples", "3", lab=lab, env={"SHELL": "/bin/bash"})
    step = run.step("performance.rate_limit")
    assert step["outcome"] == "failed", step
    assert step["finding"].startswith("Rate limited by the provider")
    assert "429" in step["finding"] and "retry-after: 30" in step["finding"]
    assert "request-id" in step["finding"]        # how the provider was recognised
    assert "(retry-after: 30 s)" in step["solution"] and "exponential backoff" in step["solution"]
    assert "latency" not in run.failed() and run.step("performance.latency")["outcome"] == "passed"


def test_slow_proxy_fails_proxy_health_with_statistics(run_diag, lab_factory, relay):
    lab = lab_factory("healthy")
    r = relay(connect_delay=0.6)
    run = run_diag("-m", "performance", "--proxydiag-health-samples", "4", *lab.pytest_args,
                   env={"HTTPS_PROXY": r.url, "SHELL": "/bin/bash"})
    step = run.step("performance.proxy_health")
    assert step["outcome"] == "failed", step
    assert "The proxy answers slowly: mean 6" in step["finding"]
    for k in ("min", "median", "mean", "p95", "max"):
        assert k in step["solution"]
    assert "Contact IT" in step["solution"]
    secs = step["evidence"]["health"]["seconds"]
    assert 0.55 <= secs["min"] and secs["max"] < 1.0


def test_buffering_proxy_is_a_latency_finding(run_diag, lab_factory, relay):
    lab = lab_factory("healthy")
    r = relay(buffer=True)
    run = run_diag("-m", "performance", "-k", "latency", *lab.pytest_args,
                   env={"HTTPS_PROXY": r.url, "SHELL": "/bin/bash"})
    step = run.step("performance.latency")
    assert step["outcome"] == "failed", step
    assert "The proxy buffers streamed answers" in step["finding"]
    assert "text/event-stream" in step["solution"]
    assert step["evidence"]["streaming"]["buffered"] is True


def test_requests_per_run_stay_within_the_documented_budget(run_diag, lab_factory):
    lab = lab_factory("healthy")
    run = run_diag("-m", "performance", lab=lab, env={"SHELL": "/bin/bash"})
    budget = run.step("performance.proxy_health")["evidence"]["request_budget"]
    seen = len(lab.proxy_requests())
    assert seen <= budget["total at most"], (seen, budget)


def test_proxy_adding_time_against_the_direct_path(run_diag, lab_factory, relay):
    lab = lab_factory("healthy")
    r = relay(connect_delay=2.2)
    # Direct allowed: the target name is pinned to 127.0.0.1 (--proxydiag-resolve), so "direct" stays on loopback.
    args = [a for a in lab.pytest_args if a != "--proxydiag-no-direct"]
    run = run_diag("-m", "performance", "-k", "latency", "--proxydiag-timeout", "4", *args,
                   env={"HTTPS_PROXY": r.url, "SHELL": "/bin/bash"})
    step = run.step("performance.latency")
    assert step["outcome"] == "failed", step
    # The injected 2.2 s plus the handshake through the relay (same bound as the evidence below).
    assert re.match(r"The proxy adds 2\.[1-4]\d* s", step["finding"]) and "direct proxy" not in step["finding"]
    assert "CONNECT reply 2.2" in step["finding"] and "; direct connect" in step["finding"]
    assert "contact IT" not in step["solution"] and "send IT these timings" in step["solution"]
    assert 2.1 <= step["evidence"]["proxy_adds"] <= 2.45
