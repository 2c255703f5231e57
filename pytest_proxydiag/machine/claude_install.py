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
from typing import Literal, Mapping

#: Executable headers of native binaries: ELF, Mach-O (32/64, both byte orders, universal), PE.
_NATIVE_MAGIC = (b"\x7fELF", b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe", b"\xfe\xed\xfa\xcf", b"\xca\xfe\xba\xbe",
                 b"MZ")
CLAUDE_ENV = "PROXYDIAG_CLAUDE"
#: ``native`` (its own runtime), ``node`` (a script the Node on PATH runs), ``unknown`` (the file cannot be read).
Build = Literal["native", "node", "unknown"]


@dataclass(frozen=True)
class NodeRuntime:
    """The Node that runs a ``node`` build: its *path* and what ``node --version`` says (None: it said nothing)."""

    path: str
    version: str | None = None

    @classmethod
    def on_path(cls, env: Mapping[str, str]) -> NodeRuntime | None:
        """The ``node`` on *env*'s ``PATH`` (None: there is none)."""
        node = shutil.which("node", path=env.get("PATH"))
        return cls(node, node_version(node)) if node else None


@dataclass(frozen=True)
class ClaudeInstall:
    """Where Claude Code is installed, what kind of :data:`Build` it is, and the Node that runs it."""

    path: str
    real_path: str
    build: Build
    version: str | None = None        # the npm package's version (None: not installed by npm, or unreadable)
    node: NodeRuntime | None = None   # a ``node`` build's runtime; None for a native one (or no Node on PATH)

    @property
    def via_npm(self) -> bool:
        """Installed by npm: its package says so, or it lives under a ``node_modules``."""
        return self.version is not None or f"{os.sep}node_modules{os.sep}" in self.real_path

    def as_dict(self) -> dict:
        """The report's ``install`` object (the Node as ``node_path``, ``node_version``), empty values left out."""
        out = {"path": self.path, "real_path": self.real_path, "build": self.build, "version": self.version,
               "via_npm": self.via_npm}
        if self.node is not None:
            out.update(node_path=self.node.path, node_version=self.node.version)
        return {k: v for k, v in out.items() if v not in (None, "")}


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
    return ClaudeInstall(path=path, real_path=real, build=build, version=_npm_package_version(path),
                         node=NodeRuntime.on_path(env) if build == "node" else None)
