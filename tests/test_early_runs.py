"""The APPLICATION steps' slow runs start when collection is over, in the background (issue 15: speed).

The Anthropic SDK check (``import anthropic`` alone is about 1.5 s of CPU) loads
its SDK from the moment the options are parsed and waits; it is told to go,
like the Python clients next to curl and plain Node's requests start, in daemon
threads once the session knows its steps; the steps take the results from the
probe cache.  Nothing is sent for a dormant plugin, ``--co``, a deselected step or
a dead proxy, and nothing they start outlives the session.
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

from pytest_proxydiag.proof import appruns, early, subprocs


@pytest.fixture
def recorded(monkeypatch):
    """Which runs happened, and on which thread: ``[("sdk", thread name), ("clients", thread name)]``;
    an SDK run that a warm process served is ``("sdk (warm)", thread name)``."""
    seen: list[tuple[str, str]] = []
    sdk, cmp = appruns.sdk_debug_run, appruns.python_vs_curl

    def sdk_run(*a, **k):
        seen.append(("sdk (warm)" if k.get("warm") else "sdk", threading.current_thread().name))
        return sdk(*a, **k)

    def clients(*a, **k):
        seen.append(("clients", threading.current_thread().name))
        return cmp(*a, **k)

    monkeypatch.setattr(appruns, "sdk_debug_run", sdk_run)
    monkeypatch.setattr(appruns, "python_vs_curl", clients)
    return seen


def _processes(needle: bytes = b"claude-proxydiag-check") -> list[str]:
    """Live children of this process whose command line holds *needle* (by default: the SDK check's script).

    Children only: another pytest on the machine may run its own SDK checks meanwhile."""
    found = []
    for path in glob.glob("/proc/[0-9]*/cmdline"):
        try:
            with open(path, "rb") as f:
                cmdline = f.read()
            with open(path.replace("cmdline", "stat"), "rb") as f:
                ppid = int(f.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if needle in cmdline and ppid == os.getpid():
            found.append(path.split("/")[2])
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
    # Once each, started by the early threads (the steps only took the results); the SDK run is the process
    # warm_up started when the options were parsed.
    assert sorted(recorded) == [("clients", "proxydiag-early-clients"), ("sdk (warm)", "proxydiag-early-sdk")]
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
    monkeypatch.setattr(early, "start_early", lambda *a, **k: started.append(a) or (lambda: None))
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
            return subprocs.run([sys.executable, "-c", script], env=dict(os.environ), timeout=60, cwd=cwd)

    monkeypatch.setattr(appruns, "versions_of", lambda state: {"anthropic": appruns.ToolVersion("anthropic", "1")})
    monkeypatch.setattr(early, "_http_proxy_usable", lambda state: True)
    monkeypatch.setattr(appruns, "sdk_debug_run", slow_sdk)
    target = SimpleNamespace(url="https://api.anthropic.com:1")
    state = SimpleNamespace(
        settings=SimpleNamespace(timeout=1.0, targets=[target], env={}, source=lambda name: "default"),
        probes=SimpleNamespace(cached=lambda key, compute: compute(), tunnel_to=lambda t: SimpleNamespace(ok=True)),
        redactor=SimpleNamespace(redact=lambda s: s), deadline_passed=False, warm={})
    dirs_before = set(_sdk_dirs())
    close = early.start_early(state, {"application.debug_logging": frozenset({None})})
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
        subprocs.EARLY.tracker = tracker
        result["run"] = subprocs.run([sys.executable, "-c", "pass"])

    tracker = subprocs.Tracker()
    tracker.close()
    thread = threading.Thread(target=late)
    thread.start()
    thread.join(10)
    assert result["run"][0] is None and "session is over" in result["run"][2]


@pytest.fixture
def warm_runs(monkeypatch):
    """What became of each warm SDK process: ``{"started": n, "went": n, "cancelled": n}``."""
    counts = {"started": 0, "went": 0, "cancelled": 0}
    cls = early.WarmProcess
    init, go, cancel = cls.__init__, cls.go, cls.cancel

    def counting(name, real):
        def wrapped(self, *a, **k):
            counts[name] += 1
            return real(self, *a, **k)
        return wrapped

    monkeypatch.setattr(cls, "__init__", counting("started", init))
    monkeypatch.setattr(cls, "go", counting("went", go))
    monkeypatch.setattr(cls, "cancel", counting("cancelled", cancel))
    return counts


@pytest.mark.parametrize("args, expected", [
    (("-m", "application"), {"started": 1, "went": 1, "cancelled": 0}),
    # -m is known when the options are parsed: a run that leaves the branch out starts nothing.
    (("-m", "not application"), {"started": 0, "went": 0, "cancelled": 0}),
    (("-m", "connectivity or auth"), {"started": 0, "went": 0, "cancelled": 0}),
    # -k is applied only at collection: started with the options, killed unused once it is.
    (("-m", "application", "-k", "env_in_shell"), {"started": 1, "went": 0, "cancelled": 1}),
    (("--co",), {"started": 0, "went": 0, "cancelled": 0}),
])
def test_a_warm_sdk_run_goes_only_for_its_step(run_diag, lab_factory, warm_runs, args, expected):
    pytest.importorskip("anthropic")
    lab = lab_factory("healthy")
    run = run_diag(*args, lab=lab, env={"SHELL": "/bin/bash"})
    assert warm_runs == expected, run.output[-2000:]
    assert not _processes()


def test_a_warm_sdk_run_is_killed_unused_when_the_proxy_is_dead(run_diag, lab_factory, warm_runs):
    pytest.importorskip("anthropic")
    lab = lab_factory("proxy-down")
    run = run_diag("-m", "application", lab=lab, env={"SHELL": "/bin/bash"})
    assert run.step("application.debug_logging")["outcome"] == "skipped"
    assert warm_runs == {"started": 1, "went": 0, "cancelled": 1}
    assert not _processes()


def test_a_warm_sdk_run_sends_nothing_before_it_is_told_to_go(tmp_path):
    """The process loads the SDK and builds its client, but opens no connection until go()."""
    pytest.importorskip("anthropic")
    import socket

    proxy = socket.socket()
    proxy.bind(("127.0.0.1", 0))
    proxy.listen(4)
    proxy.settimeout(4.0)
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path),
           "HTTPS_PROXY": f"http://127.0.0.1:{proxy.getsockname()[1]}"}
    cmd, run_env = appruns.sdk_command("anthropic", "https://api.anthropic.com", env, 3.0, None, wait=True)
    warm = early.WarmProcess(cmd, run_env)
    try:
        with pytest.raises(socket.timeout):
            proxy.accept()  # 4 s: long enough for the SDK to load here; nothing may arrive
        done = {}
        thread = threading.Thread(target=lambda: done.setdefault("run", warm.go(20)))
        thread.start()
        conn, _ = proxy.accept()
        with conn:
            conn.settimeout(5)
            assert conn.recv(4096).startswith(b"CONNECT api.anthropic.com:443 ")
        thread.join(25)
        assert done["run"][0] == 0
    finally:
        warm.cancel()
        proxy.close()
    assert not os.path.exists(warm.cwd)
