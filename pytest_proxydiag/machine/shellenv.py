"""Where proxy variables are set outside this process: shell profiles and /etc/environment.

The files are read, never executed: a line such as ``export HTTPS_PROXY=...``
(or fish's ``set -gx``, or ``KEY=value`` in /etc/environment) is reported
with its file and line number.  Values are returned raw; callers redact.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

from pytest_proxydiag.core.shell import shell_kind  # noqa: F401 - kept importable from here

PROXY_VARS = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy",
              "NO_PROXY", "no_proxy")
CA_VARS = ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS",
           "NODE_TLS_REJECT_UNAUTHORIZED", "PYTHONHTTPSVERIFY")
MAX_FILE = 1024 * 1024

_ASSIGN = re.compile(
    r"^\s*(?:export\s+|setenv\s+|set\s+-[gxU]+\s+|declare\s+-x\s+)?([A-Za-z_][A-Za-z0-9_]*)(?:\s*=\s*|\s+)(.*)$")


@dataclass(frozen=True)
class Assignment:
    name: str
    value: str
    path: str
    line: int
    #: Whether an interactive shell of the user's kind loads this file.
    loaded_by: tuple[str, ...] = ()


def profile_files(home: str | os.PathLike) -> dict[str, tuple[str, ...]]:
    """Startup files and the shells (login or interactive) that read them."""
    h = Path(home)
    return {
        str(h / ".bashrc"): ("bash",),
        str(h / ".bash_profile"): ("bash-login",),
        str(h / ".bash_login"): ("bash-login",),
        str(h / ".profile"): ("sh", "bash-login"),
        str(h / ".zshrc"): ("zsh",),
        str(h / ".zprofile"): ("zsh-login",),
        str(h / ".zshenv"): ("zsh", "zsh-login"),
        str(h / ".config" / "fish" / "config.fish"): ("fish",),
        "/etc/environment": ("pam",),
        "/etc/profile": ("sh", "bash-login", "zsh-login"),
    }


def _unquote(value: str) -> str:
    value = value.strip()
    value = re.sub(r"\s+#.*$", "", value) if not value.startswith(("'", '"')) else value
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value.split(";")[0].strip()


def scan(home: str | os.PathLike, names: Iterable[str] = PROXY_VARS + CA_VARS,
         files: Mapping[str, tuple[str, ...]] | None = None) -> list[Assignment]:
    """Assignments of *names* in the user's startup files (read only, bounded)."""
    wanted = set(names)
    out: list[Assignment] = []
    for path, shells in (files or profile_files(home)).items():
        try:
            p = Path(path)
            if not p.is_file() or p.stat().st_size > MAX_FILE:
                continue
            text = p.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for n, line in enumerate(text.splitlines(), 1):
            if line.lstrip().startswith("#"):
                continue
            m = _ASSIGN.match(line)
            if not m or m.group(1) not in wanted:
                continue
            out.append(Assignment(m.group(1), _unquote(m.group(2)), path, n, shells))
    return out
