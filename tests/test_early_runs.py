"""The APPLICATION steps' slow runs start when collection is over, in the background (issue 15: speed).

The Anthropic SDK check (``import anthropic`` alone is about 2 s of CPU) and the
Python clients next to curl start in daemon threads once the session knows its
steps; the steps take the results from the probe cache.  Nothing starts for a
dormant plugin, ``--co``, a deselected step or a dead proxy, and nothing they
start outlives the session.
"""

from __future__ import annotations

import glob
import os
import sys
import tempfile
import threading
import time
from types import SimpleNamespace

import pytest

from pytest_proxydiag.proof import appruns


@pytest.fixture
def recorded(monkeypatch):
    """Which runs happened, and on which thread: ``[("sdk", thread name), ("clients", thread name)]``."""
    seen: list[tuple[str, str]] = []
    sdk, cmp = appruns.sdk_debug_run, appruns.python_vs_curl

    def sdk_run(*a, **k):
        seen.append(("sdk", threading.current_thread().name))
        return sdk(*a, **k)

    def clients(*a, **k):
        seen.append(("clients", threading.current_thread().name))
        return cmp(*a, **k)

    monkeypatch.setattr(appruns, "sdk_debug_run", sdk_run)
    monkeypatch.setattr(appruns, "python_vs_curl", clients)
    return seen


def _processes(needle: bytes = b"claude-proxydiag-check") -> list[str]:
    """Live processes whose command line holds *needle* (by default: the SDK check's script)."""
    found = []
    for path in glob.glob("/proc/[0-9]*/cmdline"):
        try:
            with open(path, "rb") as f:
                if needle in f.read():
                    found.append(path.split("/")[2])
        except OSError:
            continue
    return found


def _sdk_dirs() -> list[str]:
    return glob.glob(os.path.join(tempfile.gettempdir(), "proxydiag-sdk-*"))


def test_healthy_runs_start_early_and_the_steps_take_them(run_diag, lab_factory, recorded):
    pytest.importorskip("anthropic")
    dirs_before = set(_sdk_dirs())
    lab = lab_factory("healthy")
    run = run_diag("-m", "application", lab=lab, env={"SHELL": "/bin/bash"})
    assert run.step("application.debug_logging")["outcome"] == "passed"
    assert run.step("application.python_requests")["outcome"] == "passed"
    sdk = run.step("application.debug_logging")["evidence"]["sdk_runs"]["anthropic"]
    assert sdk["status"] == 401 and sdk["used_proxy"] is True
    # Once each, started by the early threads (the steps only took the results).
    assert sorted(recorded) == [("clients", "proxydiag-early-clients"), ("sdk", "proxydiag-early-sdk")]
    assert not _processes() and set(_sdk_dirs()) <= dirs_before


@pytest.mark.parametrize("args", [("-m", "application", "-k", "env_in_shell or litellm"),
                                  ("-m", "not application"), ("--co",)])
def test_nothing_starts_for_a_step_that_does_not_run(run_diag, lab_factory, recorded, args):
    lab = lab_factory("healthy")
    run = run_diag(*args, lab=lab, env={"SHELL": "/bin/bash"})
    assert recorded == [], run.output[-2000:]


def test_nothing_starts_against_a_dead_proxy(run_diag, lab_factory, recorded):
    lab = lab_factory("proxy-down")
    run = run_diag("-m", "application", lab=lab, env={"SHELL": "/bin/bash"})
    assert run.step("application.python_requests")["outcome"] == "skipped"
    assert run.step("application.debug_logging")["outcome"] == "skipped"
    assert recorded == []


def test_a_dormant_plugin_starts_nothing(pytester, monkeypatch):
    started = []
    monkeypatch.setattr(appruns, "start_early", lambda *a, **k: started.append(a) or (lambda: None))
    pytester.makepyfile(test_plain="def test_one():\n    assert True\n")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert started == []


def test_the_session_end_kills_an_early_sdk_run_still_going(monkeypatch, tmp_path):
    """The closer kills a child still running (its whole process group) and waits for its thread."""
    marker = tmp_path / "started"
    script = f"import pathlib, time; pathlib.Path({str(marker)!r}).write_text('x'); time.sleep(60)"

    def slow_sdk(sdk, url, env, timeout, **kw):
        with tempfile.TemporaryDirectory(prefix="proxydiag-sdk-") as cwd:
            return appruns._run([sys.executable, "-c", script], env=dict(os.environ), timeout=60, cwd=cwd)

    monkeypatch.setattr(appruns, "versions_of", lambda state: {"anthropic": appruns.ToolVersion("anthropic", "1")})
    monkeypatch.setattr(appruns, "_http_proxy_usable", lambda state: True)
    monkeypatch.setattr(appruns, "sdk_debug_run", slow_sdk)
    target = SimpleNamespace(url="https://api.anthropic.com:1")
    state = SimpleNamespace(
        settings=SimpleNamespace(timeout=1.0, targets=[target], env={}, source=lambda name: "default"),
        probes=SimpleNamespace(cached=lambda key, compute: compute(), tunnel_to=lambda t: SimpleNamespace(ok=True)),
        redactor=SimpleNamespace(redact=lambda s: s), deadline_passed=False)
    dirs_before = set(_sdk_dirs())
    close = appruns.start_early(state, {"application.debug_logging": frozenset({None})})
    deadline = time.monotonic() + 20
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists(), "the early SDK run did not start"
    started = time.monotonic()
    close()
    assert time.monotonic() - started < 5
    assert not _processes(str(marker).encode())
    assert not [t for t in threading.enumerate() if t.name == "proxydiag-early-sdk"]
    assert set(_sdk_dirs()) <= dirs_before
    # A run asked for by an early job after the session ended is never started.
    result = {}

    def late() -> None:
        appruns._EARLY.tracker = tracker
        result["run"] = appruns._run([sys.executable, "-c", "pass"])

    tracker = appruns._Tracker()
    tracker.close()
    thread = threading.Thread(target=late)
    thread.start()
    thread.join(10)
    assert result["run"][0] is None and "session is over" in result["run"][2]
