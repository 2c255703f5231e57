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
* :class:`ObservedRelay` — a loopback pass-through in front of the real
  proxy: a real client is run with its proxy variables pointed at the relay
  (NO_PROXY untouched, so its routing decision is its own) and the relay
  records what arrives.  This works with any corporate proxy: it needs no
  header the proxy adds and no access to its logs.

Paths are injectable (:data:`SYSTEM_ROOT`, the *home* and *cwd* arguments) so
tests never touch the real ``/etc`` or home directory.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence
from urllib.parse import urlsplit

from pytest_proxydiag.machine import claude_settings, litellm_config as litellm_config_file, shellenv

__all__ = ["ProxySource", "SettingsEntry", "ObservedRelay", "Arrival", "system_sources", "app_settings",
           "normalize_proxy", "same_proxy", "relay_env", "SYSTEM_ROOT", "run_bounded", "urllib_witness"]

#: Root of the system files (``/etc/...``); tests point it at a temporary directory.
SYSTEM_ROOT = Path("/")
MAX_FILE = 1024 * 1024
COMMAND_TIMEOUT = 3.0
PROXY_NAMES = ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY")
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
    text, err = _fetch_pac(pac_url, timeout)
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


def _fetch_pac(pac_url: str, timeout: float) -> tuple[str | None, str]:
    if "://" not in pac_url or pac_url.startswith("file://"):
        path = Path(pac_url.removeprefix("file://")).expanduser()
        text = _read(path)
        return (text, "") if text is not None else (None, f"cannot read {path}")
    import urllib.request

    # PAC files are fetched direct, like browsers do: the proxy they describe may not be usable yet.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(pac_url, timeout=timeout) as resp:
            return resp.read(MAX_FILE).decode("utf-8", "replace"), ""
    except Exception as exc:  # noqa: BLE001
        return None, f"cannot fetch {pac_url}: {exc}"


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


def _claude_entries(home: Path, cwd: Path | None) -> list[SettingsEntry]:
    out = []
    root = SYSTEM_ROOT if SYSTEM_ROOT != Path("/") else None
    for prec, f in enumerate(claude_settings.read(home, cwd, system_root=root).files, 1):
        shown = _display(Path(f.path), home)
        if f.problem:
            out.append(SettingsEntry(shown, "(file)", "", "Claude Code", prec, error=f.problem))
        out += [SettingsEntry(shown, f"env.{k}", v, "Claude Code", prec) for k, v in f.env.items()
                if k in CLAUDE_ENV_KEYS]
    return out


def _litellm_entries(path: Path | None, home: Path) -> list[SettingsEntry]:
    if path is None:
        return []
    if not path.is_file():
        return []
    shown = _display(path, home)
    doc, problem = litellm_config_file.load(str(path))
    if problem:
        return [SettingsEntry(shown, "(file)", "", "LiteLLM", 0, error=problem)]
    out = []
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
    return out


def app_settings(home: str | os.PathLike, cwd: str | os.PathLike | None,
                 litellm_config: str | None) -> list[SettingsEntry]:
    h = Path(home)
    c = Path(cwd) if cwd is not None else None
    found = litellm_config_file.locate(litellm_config, cwd=c) if c is not None or litellm_config else None
    lite = Path(found.path) if found else None
    return _claude_entries(h, c) + _litellm_entries(lite, h)


# -- the observing relay --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Arrival:
    """One request that reached the relay (and so would have reached the proxy)."""

    method: str
    target: str
    time: float
    upstream_status: int | None = None
    upstream_error: str | None = None
    credentials: bool = False


class ObservedRelay:
    """A loopback pass-through to the real proxy that records what arrives.

    Run a client with :func:`relay_env` (its proxy variables pointed here,
    NO_PROXY unchanged): whatever the client sends to its proxy arrives here
    first and is forwarded byte for byte, credentials included.
    """

    def __init__(self, upstream_host: str, upstream_port: int, *, upstream_tls: bool = False,
                 lifetime: float = 30.0, io_timeout: float = 5.0,
                 connect: Callable[[str, int, float], socket.socket] | None = None) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.upstream_tls = upstream_tls
        self.lifetime = lifetime
        self.io_timeout = io_timeout
        self._connect = connect or (lambda h, p, t: socket.create_connection((h, p), timeout=t))
        self.arrivals: list[Arrival] = []
        self._lock = threading.Lock()
        self._socks: set[socket.socket] = set()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._listener: socket.socket | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "ObservedRelay":
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", 0))
        ls.listen(16)
        ls.settimeout(0.2)
        self._listener = ls
        self.port = ls.getsockname()[1]
        self._deadline = time.monotonic() + self.lifetime
        t = threading.Thread(target=self._accept_loop, name="proxydiag-relay", daemon=True)
        t.start()
        self._threads.append(t)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            socks = list(self._socks)
        for s in socks + ([self._listener] if self._listener else []):
            try:
                s.close()
            except OSError:
                pass
        for t in self._threads:
            t.join(timeout=2.0)

    def seen(self, hostport: str) -> list[Arrival]:
        with self._lock:
            return [a for a in self.arrivals if a.target.lower() == hostport.lower()
                    or urlsplit(a.target).netloc.lower() == hostport.lower()]

    def _track(self, s: socket.socket) -> None:
        with self._lock:
            self._socks.add(s)

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stop.is_set() and time.monotonic() < self._deadline:
            try:
                conn, _ = self._listener.accept()
            except (socket.timeout, TimeoutError):
                continue
            except OSError:
                return
            self._track(conn)
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            t.start()
            self._threads.append(t)

    def _serve(self, conn: socket.socket) -> None:
        up = None
        try:
            conn.settimeout(self.io_timeout)
            buf = b""
            while b"\r\n\r\n" not in buf and len(buf) < 65536:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                buf += chunk
            first = buf.split(b"\r\n", 1)[0].decode("latin-1", "replace").split()
            method, target = (first[0], first[1]) if len(first) >= 2 else ("?", "?")
            creds = b"\r\nproxy-authorization:" in buf.lower()
            # Recorded at once: a proxy that never answers must not hide that the client came here.
            index = self._add(Arrival(method, target, time.time(), None, "no answer from the proxy yet", creds))
            try:
                up = self._connect(self.upstream[0], self.upstream[1], self.io_timeout)
                if self.upstream_tls:
                    up = ssl.create_default_context().wrap_socket(up, server_hostname=self.upstream[0])
            except OSError as exc:
                self._update(index, upstream_error=f"the relay could not reach the proxy: {exc}")
                return
            self._track(up)
            up.settimeout(self.io_timeout)
            up.sendall(buf)
            try:
                reply = up.recv(65536)
            except OSError as exc:
                self._update(index, upstream_error=f"the proxy did not answer: {exc}")
                return
            m = re.match(rb"HTTP/\d(?:\.\d)?\s+(\d{3})", reply or b"")
            self._update(index, upstream_status=int(m.group(1)) if m else None,
                         upstream_error=None if m else ("the proxy closed the connection" if not reply
                                                        else "the proxy's answer is not HTTP"))
            if reply:
                conn.sendall(reply)
            self._pump(conn, up)
        except OSError:
            return
        finally:
            for s in (conn, up):
                if s is not None:
                    try:
                        s.close()
                    except OSError:
                        pass

    def _add(self, a: Arrival) -> int:
        with self._lock:
            self.arrivals.append(a)
            return len(self.arrivals) - 1

    def _update(self, index: int, **changes: Any) -> None:
        import dataclasses

        with self._lock:
            self.arrivals[index] = dataclasses.replace(self.arrivals[index], **changes)

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        import selectors

        sel = selectors.DefaultSelector()
        sel.register(a, selectors.EVENT_READ, b)
        sel.register(b, selectors.EVENT_READ, a)
        try:
            while not self._stop.is_set() and time.monotonic() < self._deadline:
                events = sel.select(timeout=0.2)
                for key, _ in events:
                    try:
                        data = key.fileobj.recv(65536)  # type: ignore[union-attr]
                    except (OSError, ssl.SSLError):
                        return
                    if not data:
                        return
                    key.data.sendall(data)
        finally:
            sel.close()


def relay_env(env: Mapping[str, str], relay_url: str) -> dict[str, str]:
    """*env* with every proxy variable pointed at the relay (credentials kept, NO_PROXY untouched)."""
    out = dict(env)
    relay = urlsplit(relay_url)
    for name in PROXY_NAMES:
        value = env.get(name)
        if not value or not value.strip():
            continue
        v = value.strip()
        if "://" not in v:
            v = "http://" + v
        parts = urlsplit(v)
        if parts.scheme.startswith("socks"):
            continue  # the relay speaks HTTP proxy only
        userinfo = parts.netloc.rpartition("@")[0]
        out[name] = f"http://{userinfo + '@' if userinfo else ''}{relay.netloc}"
    return out


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
