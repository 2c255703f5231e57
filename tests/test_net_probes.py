"""The probe layer's own promises: --proxydiag-no-direct enforced in one place, and a bug is an error, not evidence."""

from __future__ import annotations

import socket

import pytest

from pytest_proxydiag.core.config import Target, settings_from_options
from pytest_proxydiag.net.probes import Cause, Probes


@pytest.fixture
def listener():
    """A loopback port that counts the connections it accepts (the 'provider' a direct probe would reach)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.settimeout(0.3)
    yield sock
    sock.close()


def _accepted(sock: socket.socket) -> int:
    count = 0
    while True:
        try:
            conn, _ = sock.accept()
        except (socket.timeout, TimeoutError):
            return count
        conn.close()
        count += 1


def _probes(port: int, no_direct: bool) -> Probes:
    options = {"proxydiag_target": [f"https://api.anthropic.com:{port}"],
               "proxydiag_resolve": [f"api.anthropic.com:{port}:127.0.0.1"],
               "proxydiag_no_direct": no_direct, "proxydiag_timeout": "2"}
    return Probes(settings_from_options(options, env={"HTTPS_PROXY": "http://127.0.0.1:9"}))


def test_no_direct_is_enforced_by_the_probe_layer_for_every_direct_probe(listener):
    port = listener.getsockname()[1]
    probes = _probes(port, no_direct=True)
    target = Target(f"https://api.anthropic.com:{port}", "test")
    res = probes.request(target, "GET", "/", via_proxy=False)
    assert res.cause == Cause.DIRECT_FORBIDDEN and "--proxydiag-no-direct" in res.detail and not res.via_proxy
    assert probes.tcp_connect("api.anthropic.com", port).cause == Cause.DIRECT_FORBIDDEN
    assert _accepted(listener) == 0 and probes.requests_sent == 0


def test_without_no_direct_the_same_probe_connects(listener):
    port = listener.getsockname()[1]
    probes = _probes(port, no_direct=False)
    assert probes.tcp_connect("api.anthropic.com", port).ok
    assert _accepted(listener) == 1


def test_a_bug_in_a_measurement_is_an_error_outcome_not_evidence(run_diag, lab_factory, monkeypatch):
    from pytest_proxydiag.branches import performance

    def broken(_buf):
        raise ZeroDivisionError("a bug in the tool")
    monkeypatch.setattr(performance, "_count_events", broken)
    run = run_diag("-m", "performance", "-k", "latency", lab=lab_factory("healthy"), env={"SHELL": "/bin/bash"})
    step = run.step("performance.latency")
    assert step["outcome"] == "error" and "ZeroDivisionError" in step["finding"], step
