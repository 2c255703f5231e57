"""Reading the user's .netrc the way curl and requests find it ($NETRC, else ~/.netrc), bounded and safe."""

from __future__ import annotations

import netrc
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

__all__ = ["NetrcRead", "netrc_path", "read_netrc"]

#: A larger file is not a .netrc (and parsing it would cost time for nothing).
MAX_NETRC = 1024 * 1024


@dataclass
class NetrcRead:
    path: Path
    #: (finding key, catalog note key or "" for the raw detail, values) when the file cannot be used.
    problem: tuple[str, str, dict[str, Any]] | None = None
    #: (login, password) of the entry for the host asked about.
    entry: tuple[str, str | None] | None = None
    machines: list[str] = field(default_factory=list)
    mode: int = 0
    st_mode: int = 0


def netrc_path(env: Mapping[str, str]) -> Path:
    if env.get("NETRC"):
        return Path(env["NETRC"]).expanduser()
    return Path(env.get("HOME") or os.path.expanduser("~")) / ".netrc"


def password_for(env: Mapping[str, str], host: str) -> str | None:
    """The password of the .netrc entry for *host* (None when there is none or the file cannot be used)."""
    entry = read_netrc(netrc_path(env), host).entry
    return entry[1] if entry is not None and entry[1] else None


def read_netrc(path: Path, host: str) -> NetrcRead:
    """The entry for *host* in *path*, or why the file cannot be used."""
    out = NetrcRead(path)
    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):
            out.problem = ("unreadable", "not_regular", {})
            return out
        if st.st_size > MAX_NETRC:
            out.problem = ("malformed", "too_large", {"size": st.st_size})
            return out
        parsed = netrc.netrc(str(path))
    except netrc.NetrcParseError as exc:
        out.problem = ("malformed", "parse_error", {"line": exc.lineno, "msg": exc.msg})
        return out
    except (OSError, UnicodeDecodeError) as exc:
        out.problem = ("unreadable", "", {"detail": str(exc)})
        return out
    out.machines = sorted(parsed.hosts)
    entry = parsed.hosts.get(host)
    if entry is not None:
        out.entry = (entry[0], entry[2])
        st_mode = path.stat().st_mode
        out.st_mode, out.mode = st_mode, stat.S_IMODE(st_mode)
    return out
