"""Every place outside the process environment that names a proxy, read without executing anything.

``/etc/environment`` and shell profiles (read by
:func:`pytest_proxydiag.machine.shellenv.scan`, never executed), GNOME
``gsettings`` and macOS ``scutil --proxy`` (bounded subprocesses, only when
installed), apt, pip, npm and git configuration, and a PAC/WPAD file
(fetched by :mod:`pytest_proxydiag.net.pac`, evaluated with ``pypac`` when it
is installed).  Each :class:`ProxySource` says which clients read it.

Paths are injectable (:data:`SYSTEM_ROOT`, the *home* and *cwd* arguments) so
tests never touch the real ``/etc`` or home directory.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence
from urllib.parse import urlsplit

from pytest_proxydiag.machine import shellenv
from pytest_proxydiag.net.pac import fetch_pac
from pytest_proxydiag.net.relay import PROXY_NAMES

__all__ = ["ProxySource", "system_sources", "pac_sources", "run_bounded", "SYSTEM_ROOT", "COMMAND_TIMEOUT",
           "MAX_FILE", "read_file", "display_path"]

#: Root of the system files (``/etc/...``); tests point it at a temporary directory.
SYSTEM_ROOT = Path("/")
MAX_FILE = 1024 * 1024
COMMAND_TIMEOUT = 3.0

NO_PROXY_NAMES = ("no_proxy", "NO_PROXY")


def _sys(path: str) -> Path:
    return SYSTEM_ROOT / path.lstrip("/")


@dataclass(frozen=True)
class ProxySource:
    """One place outside this process's environment that names a proxy (or a bypass list)."""

    where: str          # "/etc/environment:3", "gsettings org.gnome.system.proxy", "~/.npmrc:2"
    key: str            # HTTPS_PROXY, https-proxy, Acquire::https::Proxy, http.proxy, mode ...
    value: str          # raw value (callers redact)
    used_by: str        # who reads it
    kind: str = "proxy"  # "proxy" | "no_proxy" | "mode" | "pac"
    #: True when it only matters for new shells/logins (profiles), not for the running process.
    new_shells: bool = False


# -- bounded subprocess ------------------------------------------------------------------------------
def run_bounded(cmd: Sequence[str], timeout: float = COMMAND_TIMEOUT,
                env: Mapping[str, str] | None = None) -> tuple[int | None, str, str]:
    """Run *cmd* without a terminal, killed after *timeout*; (returncode or None on timeout/missing, out, err)."""
    try:
        proc = subprocess.run(list(cmd), capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL,
                              env=dict(env) if env is not None else None, start_new_session=True)
    except subprocess.TimeoutExpired:
        return None, "", f"{cmd[0]} did not answer within {timeout:g}s"
    except OSError as exc:
        return None, "", f"{cmd[0]}: {exc.strerror or exc}"
    return proc.returncode, proc.stdout[:MAX_FILE].decode("utf-8", "replace"), \
        proc.stderr[:64 * 1024].decode("utf-8", "replace")


def _read(path: Path) -> str | None:
    try:
        if not path.is_file() or path.stat().st_size > MAX_FILE:
            return None
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _lines(path: Path) -> list[tuple[int, str]]:
    """The numbered lines of *path* (none when it is missing or unreadable)."""
    return list(enumerate((_read(path) or "").splitlines(), 1))


def _display(path: Path, home: Path) -> str:
    try:
        return "~/" + str(path.relative_to(home))
    except ValueError:
        pass
    try:
        return "/" + str(path.relative_to(SYSTEM_ROOT)) if SYSTEM_ROOT != Path("/") else str(path)
    except ValueError:
        return str(path)


# -- system sources ------------------------------------------------------------------------------------
def _profile_sources(home: Path) -> list[ProxySource]:
    files = dict(shellenv.profile_files(home))
    # /etc files under the (injectable) system root.
    for etc in ("/etc/environment", "/etc/profile"):
        shells = files.pop(etc, ("pam",))
        files[str(_sys(etc))] = shells
    for p in sorted(_sys("/etc/profile.d").glob("*.sh")) if _sys("/etc/profile.d").is_dir() else []:
        files[str(p)] = ("sh", "bash-login", "zsh-login")
    out = []
    for a in shellenv.scan(home, names=PROXY_NAMES + NO_PROXY_NAMES, files=files):
        where = f"{_display(Path(a.path), home)}:{a.line}"
        pam = "pam" in a.loaded_by
        used_by = ("every program of a new login session (PAM reads it)" if pam else
                   "programs started from a new " + "/".join(sorted({s.split('-')[0] for s in a.loaded_by}))
                   + " shell")
        out.append(ProxySource(where, a.name, a.value, used_by,
                               kind="no_proxy" if a.name.lower() == "no_proxy" else "proxy", new_shells=True))
    return out


def _gsettings_sources() -> tuple[list[ProxySource], list[str]]:
    if shutil.which("gsettings") is None:
        return [], ["gsettings: not installed (not a GNOME desktop)"]
    rc, out, err = run_bounded(["gsettings", "get", "org.gnome.system.proxy", "mode"])
    if rc != 0:
        return [], [f"gsettings: {(err or out).strip()[:200] or 'no answer'}"]
    mode = out.strip().strip("'")
    sources = [ProxySource("gsettings org.gnome.system.proxy", "mode", mode,
                           "GNOME apps and browsers (not curl, Python, Node or Claude Code)", kind="mode")]
    if mode == "manual":
        rc1, host, _ = run_bounded(["gsettings", "get", "org.gnome.system.proxy.https", "host"])
        rc2, port, _ = run_bounded(["gsettings", "get", "org.gnome.system.proxy.https", "port"])
        host, port = host.strip().strip("'"), port.strip()
        if rc1 == 0 and host:
            sources.append(ProxySource("gsettings org.gnome.system.proxy.https", "host/port", f"{host}:{port}",
                                       "GNOME apps and browsers (not curl, Python, Node or Claude Code)"))
    elif mode == "auto":
        rc1, url, _ = run_bounded(["gsettings", "get", "org.gnome.system.proxy", "autoconfig-url"])
        if rc1 == 0 and url.strip().strip("'"):
            sources.append(ProxySource("gsettings org.gnome.system.proxy", "autoconfig-url",
                                       url.strip().strip("'"), "GNOME apps and browsers", kind="pac"))
    return sources, []


def _parse_scutil(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        k, sep, v = line.partition(":")
        if sep:
            out[k.strip()] = v.strip()
    return out


def _scutil_sources() -> tuple[list[ProxySource], list[str]]:
    if shutil.which("scutil") is None:
        return [], ["scutil: not available (not macOS)"]
    rc, out, err = run_bounded(["scutil", "--proxy"])
    if rc != 0:
        return [], [f"scutil --proxy: {(err or out).strip()[:200] or 'no answer'}"]
    d = _parse_scutil(out)
    used = "macOS apps, and Python requests/urllib when no proxy variable is set"
    sources = []
    if d.get("HTTPSEnable") == "1" and d.get("HTTPSProxy"):
        sources.append(ProxySource("scutil --proxy", "HTTPSProxy", f"{d['HTTPSProxy']}:{d.get('HTTPSPort', '443')}",
                                   used))
    if d.get("HTTPEnable") == "1" and d.get("HTTPProxy"):
        sources.append(ProxySource("scutil --proxy", "HTTPProxy", f"{d['HTTPProxy']}:{d.get('HTTPPort', '80')}",
                                   used))
    if d.get("ProxyAutoConfigEnable") == "1" and d.get("ProxyAutoConfigURLString"):
        sources.append(ProxySource("scutil --proxy", "ProxyAutoConfigURLString", d["ProxyAutoConfigURLString"],
                                   "macOS apps and browsers", kind="pac"))
    return sources, []


_APT = re.compile(r'Acquire::(https?)::Proxy(?:::[^\s"]+)?\s+"([^"]*)"', re.IGNORECASE)


def _apt_sources(home: Path) -> list[ProxySource]:
    files = [_sys("/etc/apt/apt.conf")]
    d = _sys("/etc/apt/apt.conf.d")
    if d.is_dir():
        files += sorted(p for p in d.iterdir() if p.is_file())
    out = []
    for f in files:
        for n, line in _lines(f):
            if line.lstrip().startswith(("//", "#")):
                continue
            for m in _APT.finditer(line):
                if m.group(2).upper() in ("DIRECT", "FALSE", ""):
                    continue
                out.append(ProxySource(f"{_display(f, home)}:{n}", f"Acquire::{m.group(1)}::Proxy", m.group(2),
                                       "apt only"))
    return out


def _ini_sources(paths: Sequence[Path], keys: Sequence[str], used_by: str, home: Path) -> list[ProxySource]:
    out = []
    for f in paths:
        for n, line in _lines(f):
            s = line.strip()
            if not s or s.startswith((";", "#", "[")):
                continue
            k, sep, v = s.partition("=")
            if sep and k.strip().lower() in keys and v.strip():
                key = k.strip().lower()
                out.append(ProxySource(f"{_display(f, home)}:{n}", key, v.strip().strip("'\""), used_by,
                                       kind="no_proxy" if key in ("noproxy", "no-proxy") else "proxy"))
    return out


def _pip_sources(home: Path, env: Mapping[str, str]) -> list[ProxySource]:
    paths = [_sys("/etc/pip.conf"), _sys("/etc/xdg/pip/pip.conf"), home / ".pip" / "pip.conf",
             home / ".config" / "pip" / "pip.conf"]
    if env.get("PIP_CONFIG_FILE"):
        paths.append(Path(env["PIP_CONFIG_FILE"]).expanduser())
    out = _ini_sources(paths, ("proxy",), "pip only (overrides the environment)", home)
    if env.get("PIP_PROXY"):
        out.append(ProxySource("environment", "PIP_PROXY", env["PIP_PROXY"], "pip only (overrides HTTPS_PROXY)"))
    return out


def _npm_sources(home: Path, env: Mapping[str, str], cwd: Path | None) -> list[ProxySource]:
    paths = [home / ".npmrc"] + ([cwd / ".npmrc"] if cwd is not None else [])
    if env.get("NPM_CONFIG_USERCONFIG"):
        paths.append(Path(env["NPM_CONFIG_USERCONFIG"]).expanduser())
    out = _ini_sources(list(dict.fromkeys(paths)), ("proxy", "https-proxy", "noproxy"),
                       "npm only (installing and updating Claude Code); overrides the environment", home)
    for name in ("npm_config_https_proxy", "NPM_CONFIG_HTTPS_PROXY", "npm_config_proxy", "NPM_CONFIG_PROXY"):
        if env.get(name):
            out.append(ProxySource("environment", name, env[name], "npm only"))
    return out


_GIT_SECTION = re.compile(r'^\s*\[\s*(https?)(?:\s+"([^"]*)")?\s*\]\s*$', re.IGNORECASE)


def _git_sources(home: Path, env: Mapping[str, str]) -> list[ProxySource]:
    paths = [_sys("/etc/gitconfig"), home / ".gitconfig", home / ".config" / "git" / "config"]
    out = []
    for f in paths:
        section = None
        for n, line in _lines(f):
            m = _GIT_SECTION.match(line)
            if m:
                section = m.group(1).lower() + (f' "{m.group(2)}"' if m.group(2) else "")
                continue
            if line.lstrip().startswith("["):
                section = None
                continue
            if section is None:
                continue
            k, sep, v = line.strip().partition("=")
            if sep and k.strip().lower() == "proxy" and v.strip():
                out.append(ProxySource(f"{_display(f, home)}:{n}", f"[{section}] proxy", v.strip().strip('"'),
                                       "git only (overrides the environment)"))
    return out


def pac_sources(pac_url: str | None, target_urls: Sequence[str], timeout: float) -> tuple[list[ProxySource], list[str]]:
    """Evaluate a PAC file for the targets with pypac (when installed)."""
    if not pac_url:
        return [], []
    try:
        from pypac.parser import PACFile  # type: ignore[import-not-found]
    except Exception:  # noqa: BLE001 - missing module or its JS engine
        return [ProxySource("--proxydiag-pac-url", "PAC", pac_url, "browsers and apps that use the PAC file",
                            kind="pac")], ["PAC file not evaluated: pypac is not installed (pip install pypac)"]
    text, err = fetch_pac(pac_url, timeout)
    if text is None:
        return [ProxySource("--proxydiag-pac-url", "PAC", pac_url, "browsers and apps that use the PAC file",
                            kind="pac")], [f"PAC file not evaluated: {err}"]
    try:
        pac = PACFile(text)
    except Exception as exc:  # noqa: BLE001 - a broken PAC file is a finding, not a crash
        return [], [f"PAC file {pac_url} does not parse: {type(exc).__name__}: {exc}"]
    out = []
    for url in target_urls:
        host = urlsplit(url).hostname or ""
        try:
            answer = str(pac.find_proxy_for_url(url, host))
        except Exception as exc:  # noqa: BLE001
            answer = f"error: {exc}"
        first = answer.split(";")[0].strip()
        value = first.split(None, 1)[1] if first.upper().startswith(("PROXY", "HTTPS")) and " " in first else first
        out.append(ProxySource(f"PAC {pac_url}", f"FindProxyForURL({url})", value,
                               "browsers and apps that use the PAC file", kind="pac"))
    return out, []


def system_sources(home: str | os.PathLike, env: Mapping[str, str], *, cwd: str | os.PathLike | None = None,
                   pac_url: str | None = None, target_urls: Sequence[str] = (),
                   timeout: float = COMMAND_TIMEOUT) -> tuple[list[ProxySource], list[str]]:
    """Every proxy setting outside the process environment, and notes on what could not be checked."""
    h = Path(home)
    sources: list[ProxySource] = []
    notes: list[str] = []
    sources += _profile_sources(h)
    for fn in (_gsettings_sources, _scutil_sources):
        s, n = fn()
        sources += s
        notes += n
    sources += _apt_sources(h)
    sources += _pip_sources(h, env)
    sources += _npm_sources(h, env, Path(cwd) if cwd else None)
    sources += _git_sources(h, env)
    s, n = pac_sources(pac_url, target_urls, timeout)
    sources += s
    notes += n
    return sources, notes


read_file = _read
display_path = _display
