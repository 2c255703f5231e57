"""A LiteLLM gateway running on this machine: its process, its environment and its config file.

The gateway's egress (its proxy, credentials and CA) is decided by the
environment it was *started* with, which can differ from the shell the
diagnosis runs in.  On Linux that environment is in ``/proc/PID/environ``
(readable by the same user or root); elsewhere, or without permission, the
reader returns None and the diagnosis falls back to the gateway's config file.
Values are returned as they are: the caller redacts before anything is shown.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Mapping

__all__ = ["GatewayProcess", "find_gateway_process"]

_MAX_ENVIRON = 1024 * 1024
_MAX_PROCS = 5000


@dataclass(frozen=True)
class GatewayProcess:
    pid: int
    argv: tuple[str, ...]
    env: Mapping[str, str] | None   #: None: the process's environment could not be read
    why_not: str | None = None

    @property
    def config_path(self) -> str | None:
        """The ``--config`` / ``-c`` argument the gateway was started with."""
        args = list(self.argv)
        for i, arg in enumerate(args):
            if arg in ("--config", "-c") and i + 1 < len(args):
                return args[i + 1]
            if arg.startswith("--config="):
                return arg.split("=", 1)[1]
        return None

    @property
    def source(self) -> str:
        return f"process {self.pid} environment"


def _read(path: str, limit: int) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read(limit)
    except OSError:
        return None


def _is_litellm(argv: list[str]) -> bool:
    heads = [os.path.basename(a) for a in argv[:3]]
    return any(h == "litellm" or h.startswith("litellm-") for h in heads) or (
        len(argv) > 2 and argv[1:3] == ["-m", "litellm"])


def find_gateway_process(port: int | None = None, proc_root: str = "/proc") -> GatewayProcess | None:
    """The LiteLLM process on this machine (the one started with ``--port PORT`` when several), or None."""
    if not sys.platform.startswith("linux") or not os.path.isdir(proc_root):
        return None
    found: list[GatewayProcess] = []
    try:
        names = [n for n in os.listdir(proc_root) if n.isdigit()][:_MAX_PROCS]
    except OSError:
        return None
    for name in names:
        raw = _read(os.path.join(proc_root, name, "cmdline"), 65536)
        if not raw:
            continue
        argv = [a.decode("utf-8", "replace") for a in raw.rstrip(b"\0").split(b"\0")]
        if not _is_litellm(argv):
            continue
        environ = _read(os.path.join(proc_root, name, "environ"), _MAX_ENVIRON)
        env = None
        why = "its environment is not readable by this user"
        if environ is not None:
            env = {}
            for item in environ.split(b"\0"):
                key, sep, value = item.partition(b"=")
                if sep:
                    env[key.decode("utf-8", "replace")] = value.decode("utf-8", "replace")
            why = None
        found.append(GatewayProcess(int(name), tuple(argv), env, why))
    if port is not None:
        # Another gateway on this machine is not the one the developer uses.
        found = [p for p in found if str(port) in p.argv or f"--port={port}" in p.argv]
    return min(found, key=lambda p: p.pid) if found else None
