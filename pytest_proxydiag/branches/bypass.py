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
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping
from urllib.parse import urlsplit

from pytest_proxydiag.machine import system_proxy
from pytest_proxydiag.machine.system_proxy import (COMMAND_TIMEOUT, ProxySource, pac_sources, run_bounded,
                                                   system_sources)
from pytest_proxydiag.machine.system_proxy import display_path as _display
from pytest_proxydiag.machine.system_proxy import read_file as _read
from pytest_proxydiag.net.relay import PROXY_NAMES, Arrival, ObservedRelay, relay_env

__all__ = ["ProxySource", "SettingsEntry", "ObservedRelay", "Arrival", "system_sources", "pac_sources",
           "app_settings", "normalize_proxy", "same_proxy", "relay_env", "run_bounded", "urllib_witness",
           "COMMAND_TIMEOUT", "PROXY_NAMES"]

NO_PROXY_NAMES = ("no_proxy", "NO_PROXY")
ENV_CLIENTS = "curl, Python requests/httpx, Node, Claude Code, Go"


def _sys(path: str) -> Path:
    return system_proxy.SYSTEM_ROOT / path.lstrip("/")


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
