"""What every lab part shares: the lab's errors, child-process hygiene and private files."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

__all__ = ["LabError", "LabUnavailable", "TMP_PREFIX", "pdeathsig", "write_private", "pid_alive", "ipv6_loopback",
           "kill_group"]

#: Prefix of every lab temp directory (swept when its process is gone).
TMP_PREFIX = "proxydiag-lab-"


class LabError(RuntimeError):
    """The lab could not start (the message says what failed and shows the proxy's log tail)."""


class LabUnavailable(LabError):
    """This scenario cannot run on this machine (e.g. Squid is not installed); the message says how to fix it."""


def pdeathsig() -> Any:
    """A preexec function making the child die with this thread (Linux), resolved before fork."""
    if not sys.platform.startswith("linux") or threading.current_thread() is not threading.main_thread():
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None

    def preexec() -> None:
        prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG

    return preexec


def ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def listening(port: int) -> bool | None:
    """Whether a TCP socket on this machine listens on *port*, read from ``/proc/net/tcp{,6}`` without
    connecting (a probe connection would show in a proxy's access log); None where that is unreadable."""
    seen = False
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table, encoding="ascii") as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        seen = True
        for row in rows:
            fields = row.split()
            # fields[1] is "ADDRESS:PORT" in hex, fields[3] the state: 0A is LISTEN.
            if len(fields) > 3 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                return True
    return False if seen else None


def write_private(path: Path, data: bytes | str, mode: int = 0o600) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)
    return path


def kill_group(proc: "subprocess.Popen[bytes] | None") -> None:
    """SIGKILL a child started in its own session, and its process group (helpers, workers); reap it."""
    if proc is None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError, AttributeError):  # no killpg: Windows
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        proc.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(2)
