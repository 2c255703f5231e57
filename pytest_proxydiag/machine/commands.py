"""Bounded runs of the OS's own tools (``security``, ``scutil``, ``netsh``, ``wslinfo``): never a hang, never a raise."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from typing import Literal, Sequence

#: Longest wait for one tool; reading a keychain with hundreds of roots takes well under a second.
TIMEOUT = 5.0
MAX_OUTPUT = 4 * 1024 * 1024


@dataclass(frozen=True)
class CommandResult:
    """``status``: ``ok``, ``missing`` (no such tool here), ``failed`` (non-zero exit) or ``timeout``."""

    command: str
    status: Literal["ok", "missing", "failed", "timeout"]
    stdout: str = ""
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def run(cmd: Sequence[str], timeout: float = TIMEOUT) -> CommandResult:
    shown = " ".join(cmd)
    if shutil.which(cmd[0]) is None:
        return CommandResult(shown, "missing", detail=f"{cmd[0]} is not available on this machine")
    try:
        proc = subprocess.run(list(cmd), capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return CommandResult(shown, "timeout", detail=f"no answer within {timeout:g} s")
    except OSError as exc:
        return CommandResult(shown, "failed", detail=str(exc))
    out = proc.stdout[:MAX_OUTPUT].decode("utf-8", "replace")
    if proc.returncode != 0:
        err = proc.stderr[:2000].decode("utf-8", "replace").strip()
        return CommandResult(shown, "failed", out, err or f"exit status {proc.returncode}")
    return CommandResult(shown, "ok", out)
