"""Bounded, detached subprocesses for the client runs, and the tracker that ends them with the session.

Every process gets its own session (so a kill takes its children too) and a timeout.  A process started
by an early job (:mod:`pytest_proxydiag.proof.early`) is adopted by that job's :class:`Tracker`, which kills
it when the pytest session ends first, and refuses to start new ones afterwards.
"""

from __future__ import annotations

import os
import subprocess
import threading
from typing import Mapping, Sequence

__all__ = ["SUBPROCESS_TIMEOUT", "EARLY", "Tracker", "run", "start", "finish", "kill"]

SUBPROCESS_TIMEOUT = 10.0


def run(cmd: Sequence[str], env: Mapping[str, str] | None = None, timeout: float = SUBPROCESS_TIMEOUT,
         cwd: str | None = None) -> tuple[int | None, str, str]:
    """Run a bounded, detached subprocess; (returncode, stdout, stderr); rc None when it could not finish.

    Started by an early job (``early.start_early``), the process is killed when the session ends first.
    """
    proc = start(cmd, env, cwd)
    if isinstance(proc, str):
        return None, "", proc
    return finish(proc, timeout)


def start(cmd: Sequence[str], env: Mapping[str, str] | None, cwd: str | None, *,
           stdin: int = subprocess.DEVNULL) -> subprocess.Popen | str:
    """A detached subprocess (its own session: a kill takes its children too); why not, when it cannot start."""
    tracker: Tracker | None = getattr(EARLY, "tracker", None)
    if tracker is not None and tracker.closed:
        return "not started: the session is over"
    try:
        return subprocess.Popen(list(cmd), env=dict(env) if env is not None else None, stdin=stdin,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True, cwd=cwd)
    except OSError as exc:
        return str(exc)


def finish(proc: subprocess.Popen, timeout: float, stdin_text: bytes | None = None) -> tuple[int | None, str, str]:
    """Wait at most *timeout* for *proc* (after writing *stdin_text* to it); killed when it runs over, or when
    the session ends first in an early job."""
    tracker: Tracker | None = getattr(EARLY, "tracker", None)
    if tracker is not None:
        tracker.adopt(proc)
    try:
        out, err = proc.communicate(stdin_text, timeout=timeout)
    except subprocess.TimeoutExpired:
        kill(proc)
        out, err = proc.communicate()
        return None, out.decode("utf-8", "replace")[:65536], f"timed out after {timeout:g}s"
    finally:
        if tracker is not None:
            tracker.release(proc)
    return proc.returncode, out.decode("utf-8", "replace")[:65536], err.decode("utf-8", "replace")[:65536]


def kill(proc: subprocess.Popen) -> None:
    """SIGKILL the process group of *proc* (POSIX), else *proc* itself."""
    try:
        os.killpg(proc.pid, 9)
    except (OSError, AttributeError):  # AttributeError: no killpg (Windows): kill the child itself
        try:
            proc.kill()
        except OSError:
            pass


class Tracker:
    """The processes :func:`run` started for early jobs: killed, and no new one started, once closed."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.procs: set[subprocess.Popen] = set()
        self.closed = False

    def adopt(self, proc: subprocess.Popen) -> None:
        with self.lock:
            self.procs.add(proc)
            closed = self.closed
        if closed:
            kill(proc)

    def release(self, proc: subprocess.Popen) -> None:
        with self.lock:
            self.procs.discard(proc)

    def close(self) -> None:
        with self.lock:
            self.closed = True
            procs = list(self.procs)
        for proc in procs:
            kill(proc)


#: The tracker of the early job running in this thread (unset in every other thread).
EARLY = threading.local()
