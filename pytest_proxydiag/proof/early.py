"""Client runs started ahead of their steps: the slowest part of a healthy diagnosis, moved off its path.

``import anthropic`` is about 1.4 s of CPU, so the SDK runs start loading as soon as the options are parsed
(:func:`warm_up`, from ``pytest_cmdline_main``) and wait; once collection is over, :func:`start_early` starts the selected steps' slow
runs in daemon threads (the SDK runs told to go, the Python clients next to curl, plain Node's two
requests) while the earlier steps probe.  Each step takes its result from the probe cache, waiting for a
run still going.  Nothing is sent before the same checks the step makes itself, and nothing outlives the
session.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
import time
from typing import Any, Callable, Iterable, Mapping, Sequence

from pytest_proxydiag.proof import appruns, subprocs

__all__ = ["WarmProcess", "warm_up", "cancel_warm", "start_early"]

#: Seconds past its own timeout that a run still going when the session ends is given (clients' kill grace: 1.5 s).
_GRACE = 2.0


class WarmProcess:
    """A run started ahead of its request: it loads its library, then waits on stdin for the word to go.

    ``import anthropic`` is most of a healthy diagnosis' CPU, so :func:`warm_up` starts the SDK runs as soon
    as the options are parsed, while pytest still configures and collects on one core; the process sends nothing
    until :meth:`go`, which the step's run calls after the same checks as ever (a usable proxy, a
    working tunnel).  One never told to go is killed by :meth:`cancel`.
    """

    def __init__(self, cmd: Sequence[str], env: Mapping[str, str]) -> None:
        self.cwd = tempfile.mkdtemp(prefix="proxydiag-sdk-")
        self.proc = subprocs.start(cmd, env, self.cwd, stdin=subprocess.PIPE)

    def go(self, timeout: float) -> tuple[int | None, str, str]:
        """Send the request and wait for the run, at most *timeout*: (returncode, stdout, stderr)."""
        try:
            if isinstance(self.proc, str):
                return None, "", self.proc
            return subprocs.finish(self.proc, timeout, b"go\n")
        finally:
            shutil.rmtree(self.cwd, ignore_errors=True)

    def cancel(self) -> None:
        """Kill the process unused (it has sent nothing) and remove its working directory."""
        if not isinstance(self.proc, str):
            subprocs.kill(self.proc)
            try:
                self.proc.communicate(timeout=5)
            except (subprocess.TimeoutExpired, OSError, ValueError):
                pass
        shutil.rmtree(self.cwd, ignore_errors=True)


def warm_up(state) -> Callable[[], None]:
    """Start, as soon as the options are parsed, the SDK runs step ``application.debug_logging`` will ask
    for; returns the closer that kills the ones never used.

    Only what the step itself would run: an SDK installed for this Python, an HTTP (not SOCKS) proxy and a
    target that speaks Anthropic's API.  Whether the proxy works is known later: :func:`start_early` and the
    step tell a warm run to go only then, and :func:`cancel_warm` kills them when they will not.
    """
    from pytest_proxydiag.branches.application import SDKS, sdk_target

    s = state.settings
    target = sdk_target(s.targets)
    if target is None or s.proxy.url is None or s.proxy.url.is_socks or state.deadline_passed:
        return lambda: None
    for sdk in SDKS:
        if appruns.installed(sdk):
            cmd, env = appruns.sdk_command(sdk, target.url, s.env, s.timeout, appruns.public_roots_of(s), wait=True)
            state.warm[("app-sdk", sdk, target.url)] = WarmProcess(cmd, env)
    return lambda: cancel_warm(state)


def cancel_warm(state) -> None:
    """Kill every warm run nobody took (the step was not selected, or the proxy turned out unusable)."""
    for key in list(state.warm):
        warm = state.warm.pop(key, None)
        if warm is not None:
            warm.cancel()


def _http_proxy_usable(state) -> bool:
    """What ``StepContext.require_http_proxy`` asks: a valid, non-SOCKS proxy that accepts connections."""
    p = state.settings.proxy
    return p.configured and p.url is not None and not p.url.is_socks and state.probes.proxy_unusable() is None


def start_early(state, selected: Mapping[str, Iterable[str | None]]) -> Callable[[], None]:
    """Start the slow client runs the selected steps will ask for in daemon threads; returns the closer.

    *selected* maps each step id this session runs to the target URLs of its items
    (None for a step without a target).  Started when collection is over, the SDK
    runs (step ``application.debug_logging``, told to go when :func:`warm_up` started
    them already), the Python clients next to curl (``application.python_requests``)
    and plain Node's two requests (``bypass.node_env_proxy``) run while the earlier
    steps probe; each step takes its result from the probe cache, waiting for a run
    still going.  A run is
    started only when its step is selected and would start it too, after the same
    cached probes: an HTTP proxy that accepts connections, a working CONNECT to the
    target and an installed SDK for the SDK check; never against a proxy known to be
    dead, never once the deadline has passed.  The closer, called when the session
    ends, kills the SDK processes still running and waits (bounded) for the threads.
    """
    tracker = subprocs.Tracker()
    threads: list[threading.Thread] = []
    # A probe, a version query or a client run still going when the session ends is bounded by its own timeout.
    bound = max(float(state.settings.timeout), subprocs.SUBPROCESS_TIMEOUT) + _GRACE

    def go_on() -> bool:
        return not tracker.closed and not state.deadline_passed

    def sdk_job() -> None:
        versions = appruns.versions_of(state)
        sdks = appruns.installed_sdks(versions)
        from pytest_proxydiag.branches.application import sdk_target

        target = sdk_target(state.settings.targets)
        if not sdks or target is None or not go_on() or not _http_proxy_usable(state):
            return cancel_warm(state)
        if not state.probes.tunnel_to(target).ok:
            return cancel_warm(state)
        for sdk in sdks:
            if go_on():
                appruns.sdk_run_of(state, sdk, target)
        cancel_warm(state)

    def node_job() -> None:
        from pytest_proxydiag.branches import node_env

        if go_on():
            node_env.judgement_of(state)

    def clients_job(urls: set) -> None:
        if not go_on() or not _http_proxy_usable(state):
            return
        for target in state.settings.targets:
            if target.url in urls and go_on():
                appruns.comparison_of(state, target)

    def start(name: str, job: Callable[..., None], *args: Any) -> None:
        def body() -> None:
            subprocs.EARLY.tracker = tracker
            try:
                job(*args)
            except Exception:  # noqa: BLE001 - the step runs it again itself and reports its own error
                pass

        thread = threading.Thread(target=body, name=f"proxydiag-early-{name}", daemon=True)
        thread.start()
        threads.append(thread)

    if "bypass.node_env_proxy" in selected:
        start("node", node_job)
    if "application.debug_logging" in selected:
        start("sdk", sdk_job)
    else:
        cancel_warm(state)
    client_urls = {u for u in selected.get("application.python_requests", ()) if u}
    if client_urls:
        start("clients", clients_job, client_urls)

    def close() -> None:
        tracker.close()
        end = time.monotonic() + bound
        for thread in threads:
            thread.join(max(0.0, end - time.monotonic()))

    return close
