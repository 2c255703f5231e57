"""Traffic that skips the proxy: system proxy sources, application settings, and a relay that observes arrival.

* :func:`system_sources` — every place outside the process environment that
  names a proxy: ``/etc/environment`` and shell profiles (read by
  :func:`pytest_proxydiag.machine.shellenv.scan`, never executed), GNOME ``gsettings``
  and macOS ``scutil --proxy`` (bounded subprocesses, only when installed),
  apt, pip, npm and git configuration, and a PAC/WPAD file (evaluated with
  ``pypac`` when it is installed).  Each :class:`ProxySource` says which
  clients read it.
* :func:`app_settings` — Claude Code's ``settings.json`` ``env`` blocks (user,
  project, local, managed) and a LiteLLM config's proxy keys.
* :class:`~pytest_proxydiag.net.relay.ObservedRelay` (in the probe layer) —
  a loopback pass-through in front of the real proxy that records what a
  real client sends to it.

Paths are injectable (:data:`SYSTEM_ROOT`, the *home* and *cwd* arguments) so
tests never touch the real ``/etc`` or home directory.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence
from urllib.parse import urlsplit

from pytest_proxydiag.machine import shellenv
from pytest_proxydiag.net.pac import fetch_pac
from pytest_proxydiag.net.relay import PROXY_NAMES, Arrival, ObservedRelay, relay_env

__all__ = ["ProxySource", "SettingsEntry", "ObservedRelay", "Arrival", "system_sources", "app_settings",
           "normalize_proxy", "same_proxy", "relay_env", "SYSTEM_ROOT", "run_bounded", "urllib_witness"]

#: Root of the system files (``/etc/...``); tests point it at a temporary directory.
SYSTEM_ROOT = Path("/")
MAX_FILE = 1024 * 1024
COMMAND_TIMEOUT = 3.0
NO_PROXY_NAMES = ("no_proxy", "NO_PROXY")
ENV_CLIENTS = "curl, Python requests/httpx, Node, Claude Code, Go"


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


@dataclass(frozen=True)
class SettingsEntry:
    """A proxy-related key in an application's settings file."""

    path: str
    key: str
    value: str
    app: str
    precedence: int = 0  # higher wins (managed > local > project > user)
    error: str | None = None


def normalize_proxy(value: str | None) -> str | None:
    """host:port of a proxy URL (or ``host:port``), lower case, without credentials; None if empty."""
    if value is None:
        return None
    v = value.strip().strip("'\"")
    if not v:
        return None
    if "://" not in v:
        v = "http://" + v
    try:
        parts = urlsplit(v)
        host = (parts.hostname or "").lower()
        port = parts.port or (443 if parts.scheme == "https" else 1080 if parts.scheme.startswith("socks") else 80)
    except ValueError:
        return v.lower()
    if not host:
        return None
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def same_proxy(a: str | None, b: str | None) -> bool:
    return normalize_proxy(a) == normalize_proxy(b)


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
        text = _read(f)
        if not text:
            continue
        for n, line in enumerate(text.splitlines(), 1):
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
        text = _read(f)
        if not text:
            continue
        for n, line in enumerate(text.splitlines(), 1):
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
        text = _read(f)
        if not text:
            continue
        section = None
        for n, line in enumerate(text.splitlines(), 1):
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


# -- application settings ----------------------------------------------------------------------------------
CLAUDE_ENV_KEYS = PROXY_NAMES + NO_PROXY_NAMES + ("ANTHROPIC_BASE_URL",)


def claude_settings_files(home: Path, cwd: Path | None) -> list[tuple[Path, int, str]]:
    """Claude Code settings files with their precedence (higher wins) and label."""
    files = [(home / ".claude" / "settings.json", 1, "user settings")]
    if cwd is not None:
        files += [(cwd / ".claude" / "settings.json", 2, "project settings"),
                  (cwd / ".claude" / "settings.local.json", 3, "local project settings")]
    managed = (_sys("/Library/Application Support/ClaudeCode/managed-settings.json") if sys.platform == "darwin"
               else _sys("/etc/claude-code/managed-settings.json"))
    files.append((managed, 4, "managed settings"))
    return files


def _claude_entries(home: Path, cwd: Path | None) -> list[SettingsEntry]:
    out = []
    for path, prec, _label in claude_settings_files(home, cwd):
        text = _read(path)
        if text is None:
            continue
        shown = _display(path, home)
        try:
            doc = json.loads(text)
        except ValueError as exc:
            out.append(SettingsEntry(shown, "(file)", "", "Claude Code", prec, error=f"not valid JSON: {exc}"))
            continue
        env = doc.get("env") if isinstance(doc, dict) else None
        if env is None:
            continue
        if not isinstance(env, dict):
            out.append(SettingsEntry(shown, "env", str(env)[:80], "Claude Code", prec,
                                     error="\"env\" must be an object of strings"))
            continue
        for k, v in env.items():
            if k in CLAUDE_ENV_KEYS:
                out.append(SettingsEntry(shown, f"env.{k}", "" if v is None else str(v), "Claude Code", prec))
    return out


def _litellm_entries(path: Path | None, home: Path) -> list[SettingsEntry]:
    if path is None:
        return []
    text = _read(path)
    if text is None:
        return []
    shown = _display(path, home)
    try:
        import yaml  # type: ignore[import-untyped]

        doc = yaml.safe_load(text)
    except ImportError:
        doc = None
    except Exception as exc:  # noqa: BLE001 - yaml errors
        return [SettingsEntry(shown, "(file)", "", "LiteLLM", 0, error=f"not valid YAML: {exc}")]
    out = []
    if isinstance(doc, dict):
        env_vars = doc.get("environment_variables") or {}
        if isinstance(env_vars, dict):
            for k, v in env_vars.items():
                if str(k) in PROXY_NAMES + NO_PROXY_NAMES:
                    out.append(SettingsEntry(shown, f"environment_variables.{k}", str(v), "LiteLLM"))
        for section in ("litellm_settings", "general_settings", "router_settings"):
            sec = doc.get(section) or {}
            if isinstance(sec, dict):
                for k, v in sec.items():
                    if "proxy" in str(k).lower() and isinstance(v, (str, int)) and str(k).lower() not in (
                            "proxy_batch_write_at", "proxy_budget_rescheduler_min_time",
                            "proxy_budget_rescheduler_max_time"):
                        out.append(SettingsEntry(shown, f"{section}.{k}", str(v), "LiteLLM"))
    else:
        # No YAML parser: the plain "KEY: value" lines are enough for proxy variables.
        for n, line in enumerate(text.splitlines(), 1):
            m = re.match(r"\s*([A-Za-z_]+)\s*:\s*[\"']?([^\"'#]*)", line)
            if m and m.group(1) in PROXY_NAMES + NO_PROXY_NAMES:
                out.append(SettingsEntry(f"{shown}:{n}", m.group(1), m.group(2).strip(), "LiteLLM"))
    return out


def app_settings(home: str | os.PathLike, cwd: str | os.PathLike | None,
                 litellm_config: str | None) -> list[SettingsEntry]:
    h = Path(home)
    c = Path(cwd) if cwd is not None else None
    lite = Path(litellm_config).expanduser() if litellm_config else None
    return _claude_entries(h, c) + _litellm_entries(lite, h)


_URLLIB_SNIPPET = r"""
import sys, urllib.request, urllib.error, ssl
url = sys.argv[1]
req = urllib.request.Request(url, data=b'{}', method='POST', headers={'content-type': 'application/json',
      'x-api-key': 'proxydiag-dummy-key', 'anthropic-version': '2023-06-01'})
try:
    with urllib.request.urlopen(req, timeout=float(sys.argv[2])) as r:
        print('status', r.status)
except urllib.error.HTTPError as e:
    print('status', e.code)
except Exception as e:
    print('error', type(e).__name__, str(e)[:300])
"""


def urllib_witness(url: str, env: Mapping[str, str], timeout: float) -> tuple[str, str]:
    """Python's urllib (always present) as a last-resort real client: (outcome line, command)."""
    clean = {k: v for k, v in env.items() if not re.search(r"(_API_KEY$|TOKEN|SECRET)", k, re.IGNORECASE)}
    rc, out, err = run_bounded([sys.executable, "-c", _URLLIB_SNIPPET, url, str(timeout)], timeout=timeout + 2,
                               env=clean)
    line = (out.strip().splitlines() or [err.strip()[:200] or f"exit {rc}"])[-1]
    return line, f"{os.path.basename(sys.executable)} -c <urllib POST {url}>"
