"""The Claude Code installed on this machine: where, which version, and what runs it.

Since the 2.1 line the npm package ``@anthropic-ai/claude-code`` ships the native
build: its postinstall copies a platform binary (``claude-code-linux-x64`` …)
over ``bin/claude.exe``, so the Node on ``PATH`` never runs it.  Older npm
releases (and installs made with ``--ignore-scripts``) run a JavaScript entry
point with that Node.  Which one is installed decides which trust stores it can
read, so the file itself is looked at, not the package name.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from typing import Literal

#: Executable headers of native binaries: ELF, Mach-O (32/64, both byte orders, universal), PE.
_NATIVE_MAGIC = (b"\x7fELF", b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe", b"\xfe\xed\xfa\xcf", b"\xca\xfe\xba\xbe",
                 b"MZ")
CLAUDE_ENV = "PROXYDIAG_CLAUDE"
#: ``native`` (its own runtime), ``node`` (a script the Node on PATH runs), ``unknown`` (the file cannot be read).
Build = Literal["native", "node", "unknown"]


@dataclass(frozen=True)
class ClaudeInstall:
    """Where Claude Code is installed, what kind of :data:`Build` it is, and the Node that runs it."""

    path: str
    real_path: str
    build: Build
    version: str | None = None
    via_npm: bool = False
    node_path: str | None = None
    node_version: str | None = None

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v not in (None, "")}


def build_of(real_path: str) -> Build:
    """``native`` for an executable binary, ``node`` for a script (``#!/usr/bin/env node``, ``cli.js``)."""
    try:
        with open(real_path, "rb") as f:
            head = f.read(4)
    except OSError:
        return "unknown"
    return "native" if head.startswith(_NATIVE_MAGIC) else "node"


def _npm_package_version(real_path: str) -> str | None:
    from pytest_proxydiag.proof.clients import _claude_package_version

    return _claude_package_version(real_path)


@functools.lru_cache(maxsize=16)
def node_version(node: str | None, timeout: float = 5.0) -> str | None:
    """``node --version`` as ``"24.11.1"`` (None: no such Node).  Asked once per binary and run: the Claude
    Code install, the trust row and bypass.node_env_proxy all want it."""
    if not node:
        return None
    try:
        out = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=timeout,
                             stdin=subprocess.DEVNULL).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.match(r"\s*v?(\d+\.\d+\.\d+)", out or "")
    return m.group(1) if m else None


def find_claude(env: dict | None = None) -> ClaudeInstall | None:
    """The Claude Code the user runs: ``PROXYDIAG_CLAUDE``, else ``claude`` on ``PATH``; None when absent."""
    env = os.environ if env is None else env
    configured = env.get(CLAUDE_ENV)
    path = os.path.abspath(os.path.expanduser(configured)) if configured else shutil.which(
        "claude", path=env.get("PATH"))
    if not path or not os.path.isfile(path):
        return None
    real = os.path.realpath(path)
    build = build_of(real)
    version = _npm_package_version(path)
    via_npm = version is not None or f"{os.sep}node_modules{os.sep}" in real
    node = shutil.which("node", path=env.get("PATH")) if build == "node" else None
    return ClaudeInstall(path=path, real_path=real, build=build, version=version, via_npm=via_npm,
                         node_path=node, node_version=node_version(node))
