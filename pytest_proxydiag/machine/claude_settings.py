"""Claude Code's settings files, read the way Claude Code reads them: every scope, with precedence.

Claude Code applies the ``env`` block of each settings file to itself, on top of
the shell it was started from.  Four scopes exist; for the same variable the
higher one wins (Claude Code's documented precedence)::

    managed  >  local  >  project  >  user

The managed scope is ``managed-settings.json`` and then every ``*.json`` in the
``managed-settings.d`` directory beside it, in name order, a later file winning
(measured with 2.1.332; names starting with ``.`` and other extensions are not read).
A UTF-8 byte order mark at the start of a file is skipped, as Claude Code skips it.

=========  ==========================================================================
scope      file
=========  ==========================================================================
user       ``~/.claude/settings.json`` (``$CLAUDE_CONFIG_DIR/settings.json`` when set)
project    ``.claude/settings.json`` in the directory Claude Code runs in
local      ``.claude/settings.local.json`` in that directory
managed    ``/etc/claude-code/managed-settings.json`` (Linux, WSL),
           ``/Library/Application Support/ClaudeCode/managed-settings.json`` (macOS),
           ``C:\\Program Files\\ClaudeCode\\managed-settings.json`` (Windows; the path in the 2.1.332 binary)
=========  ==========================================================================

Every value keeps the file it came from, so a finding can say "``CLAUDE_CODE_CERT_STORE=bundled``
in ~/.claude/settings.json".  A file that is missing is simply absent; one that
cannot be read, is too large, is not JSON or has an ``env`` that is not an
object is a *problem* (a sentence naming the file), never an exception.

Example::

    from pytest_proxydiag.machine import claude_settings
    cs = claude_settings.read(home="/home/u", cwd="/home/u/project")
    cs.env["HTTPS_PROXY"], cs.origin["HTTPS_PROXY"]   # value, "/home/u/project/.claude/settings.json"
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Mapping

__all__ = ["SCOPES", "SettingsFile", "ClaudeSettings", "managed_settings_path", "settings_files", "read",
           "top_level", "has_claude_ai_login"]

#: Lowest precedence first: a later scope's value wins.
SCOPES = ("user", "project", "local", "managed")
MAX_SETTINGS = 1024 * 1024
MANAGED_DROP_IN = "managed-settings.d"
#: At most this many drop-in files are read (a directory of thousands is not a settings scope).
MAX_DROP_INS = 64
_MANAGED = {
    "darwin": "/Library/Application Support/ClaudeCode/managed-settings.json",
    "win32": r"C:\Program Files\ClaudeCode\managed-settings.json",
}
_MANAGED_DEFAULT = "/etc/claude-code/managed-settings.json"


@dataclass(frozen=True)
class SettingsFile:
    """One settings file: its scope, path, whether it exists, its ``env`` block or why it could not be used."""

    scope: str
    path: str
    exists: bool = False
    env: Mapping[str, str] = field(default_factory=dict)
    problem: str | None = None
    #: A managed file that is not a JSON object: Claude Code (2.1.332, measured) refuses to start over it.
    stops_claude: bool = False
    #: The setting whose value makes Claude Code skip this whole file (``permissions.defaultMode``), if any.
    invalid: str | None = None


@dataclass(frozen=True)
class ClaudeSettings:
    """The merged ``env`` Claude Code applies to itself, and which file set each variable."""

    files: tuple[SettingsFile, ...]
    env: Mapping[str, str]
    origin: Mapping[str, str]

    @property
    def problems(self) -> list[str]:
        return [f.problem for f in self.files if f.problem]

    def where(self, name: str) -> str | None:
        """The file that set *name* (the winning scope), or None."""
        return self.origin.get(name)

    def label(self) -> str | None:
        """The file(s) the merged ``env`` came from, for a sentence; None when no scope sets anything."""
        paths = list(dict.fromkeys(self.origin.values()))
        return ", ".join(paths) if paths else None

    def overridden(self, name: str) -> list[tuple[str, str]]:
        """Lower scopes that also set *name* and lost: ``[(path, value), ...]``."""
        winner = self.origin.get(name)
        return [(f.path, f.env[name]) for f in self.files if name in f.env and f.path != winner]


def managed_settings_path(platform: str | None = None, system_root: str | os.PathLike | None = None) -> str:
    """Where Claude Code looks for the managed (organisation) settings on *platform* (``sys.platform``)."""
    platform = platform or sys.platform
    raw = _MANAGED.get(platform, _MANAGED_DEFAULT)
    if system_root is None:
        return raw
    # Tests point the system paths into a temporary tree.
    parts = PureWindowsPath(raw).parts[1:] if platform == "win32" else PurePosixPath(raw).parts[1:]
    return str(Path(system_root).joinpath(*parts))


def settings_files(home: str | os.PathLike, cwd: str | os.PathLike | None = None, *,
                   env: Mapping[str, str] | None = None, platform: str | None = None,
                   system_root: str | os.PathLike | None = None) -> list[tuple[str, str]]:
    """``[(scope, path)]`` in precedence order, lowest first (no file is opened)."""
    config_dir = (env or {}).get("CLAUDE_CONFIG_DIR") or os.path.join(str(home), ".claude")
    out = [("user", os.path.join(os.path.expanduser(config_dir), "settings.json"))]
    if cwd is not None:
        out += [("project", os.path.join(str(cwd), ".claude", "settings.json")),
                ("local", os.path.join(str(cwd), ".claude", "settings.local.json"))]
    managed = managed_settings_path(platform, system_root)
    out.append(("managed", managed))
    out += [("managed", path) for path in managed_drop_ins(managed)]
    return out


def managed_drop_ins(managed_path: str) -> list[str]:
    """The drop-in files Claude Code reads after *managed_path*: ``managed-settings.d/*.json``, by name, no dot-files."""
    folder = os.path.join(os.path.dirname(managed_path), MANAGED_DROP_IN)
    try:
        names = sorted(n for n in os.listdir(folder) if n.endswith(".json") and not n.startswith("."))
    except OSError:
        return []
    return [os.path.join(folder, n) for n in names[:MAX_DROP_INS]]


def _read_one(scope: str, path: str) -> SettingsFile:
    try:
        p = Path(path)
        if not p.exists():
            return SettingsFile(scope, path)
        if not p.is_file():
            return SettingsFile(scope, path, True, problem=f"{path} is not a regular file; Claude Code ignores it")
        size = p.stat().st_size
        if size > MAX_SETTINGS:
            return SettingsFile(scope, path, True,
                                problem=f"{path} is {size} bytes, larger than {MAX_SETTINGS // 1024} KiB; not read")
        text = p.read_text(encoding="utf-8-sig", errors="replace")
    except OSError as exc:
        return SettingsFile(scope, path, True, problem=f"{path} cannot be read: {exc.strerror or exc}")
    if not text.strip():
        return SettingsFile(scope, path, True)
    try:
        doc = json.loads(text)
    except ValueError as exc:
        return SettingsFile(scope, path, True, problem=f"{path} cannot be read as JSON: {exc}",
                            stops_claude=scope == "managed")
    except RecursionError:
        return SettingsFile(scope, path, True, problem=f"{path} nests too deeply to be a settings file")
    if not isinstance(doc, dict):
        return SettingsFile(scope, path, True, problem=f"{path} is JSON but not an object",
                            stops_claude=scope == "managed")
    wrong = _wrong_value(doc) if scope != "managed" else None
    if wrong is not None:
        name, why = wrong
        return SettingsFile(scope, path, True, invalid=name,
                            problem=f'{path}: "{name}" {why}; Claude Code skips the whole file over it, its "env" '
                                    f'included (measured with 2.1.332)')
    block = doc.get("env")
    if block is None:
        return SettingsFile(scope, path, True)
    if not isinstance(block, dict):
        return SettingsFile(scope, path, True, problem=f'{path}: "env" must be an object of strings')
    env = {str(k): _text(v) for k, v in block.items() if isinstance(k, str)}
    return SettingsFile(scope, path, True, env)


# Settings whose wrong type makes Claude Code 2.1.332 skip a whole user, project or local file (measured one by one;
# the managed scope drops only the wrong entry).  Unknown keys, a non-string item of a rule list and a malformed
# "hooks" only lose that field, so they are not here.
_TYPES = {"permissions": dict, "model": str, "apiKeyHelper": str, "statusLine": dict, "cleanupPeriodDays": int,
          "includeCoAuthoredBy": bool}
_PERMISSION_TYPES = {"allow": list, "deny": list, "ask": list, "additionalDirectories": list, "defaultMode": str}
DEFAULT_MODES = ("acceptEdits", "auto", "bypassPermissions", "default", "dontAsk", "plan")
_KINDS = {dict: "an object", list: "an array", str: "a string", int: "a number", bool: "true or false"}


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return _KINDS[bool]
    if isinstance(value, (int, float)):
        return _KINDS[int]
    return next((k for t, k in _KINDS.items() if isinstance(value, t)), "null")


def _wrong_value(doc: dict) -> tuple[str, str] | None:
    """``(setting, why)`` for the first value Claude Code rejects outright, or None."""
    checks = [(k, doc[k], t) for k, t in _TYPES.items() if k in doc]
    perms = doc.get("permissions")
    if isinstance(perms, dict):
        checks += [(f"permissions.{k}", perms[k], t) for k, t in _PERMISSION_TYPES.items() if k in perms]
    for name, value, wanted in checks:
        if _kind(value) != _KINDS[wanted]:
            return name, f"must be {_KINDS[wanted]}, not {_kind(value)}"
        if name == "permissions.defaultMode" and value not in DEFAULT_MODES:
            return name, f"is {json.dumps(value)}, not one of {', '.join(DEFAULT_MODES)}"
    return None


#: One file of one scope, read the same way :func:`read` reads it.
read_file = _read_one


def _text(value: object) -> str:
    # Claude Code stringifies non-string values ("API_TIMEOUT_MS": 600000); null becomes the text "null", it does not
    # unset the variable (measured with 2.1.332: "HTTPS_PROXY": null stops it with 'Invalid proxy URL').
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


def read(home: str | os.PathLike, cwd: str | os.PathLike | None = None, *, env: Mapping[str, str] | None = None,
         platform: str | None = None, system_root: str | os.PathLike | None = None) -> ClaudeSettings:
    """Read every scope's ``env`` block and merge them with Claude Code's precedence; never raises.

    *cwd* is the directory Claude Code runs in (``None``: no project or local
    scope); *env* supplies ``CLAUDE_CONFIG_DIR``; *platform* picks the managed
    path (default ``sys.platform``); *system_root* relocates it for tests.
    """
    files = tuple(_read_one(scope, path)
                  for scope, path in settings_files(home, cwd, env=env, platform=platform, system_root=system_root))
    merged: dict[str, str] = {}
    origin: dict[str, str] = {}
    for f in files:  # lowest precedence first
        for name, value in f.env.items():
            merged[name] = value
            origin[name] = f.path
    return ClaudeSettings(files, merged, origin)


def top_level(home: str | os.PathLike, cwd: str | os.PathLike | None, key: str, *,
              env: Mapping[str, str] | None = None, platform: str | None = None,
              system_root: str | os.PathLike | None = None) -> tuple[object, str] | None:
    """``(value, file)`` of the top-level *key* (not an ``env`` variable, e.g. ``skipWebFetchPreflight``) from the
    highest scope that sets it, or None; a file that cannot be used is skipped (:func:`read` names it)."""
    found = None
    for scope, path in settings_files(home, cwd, env=env, platform=platform, system_root=system_root):
        used = _read_one(scope, path)
        if used.stops_claude or used.invalid:
            continue  # Claude Code skips this whole file (or does not start)
        try:
            p = Path(path)
            if not p.is_file() or p.stat().st_size > MAX_SETTINGS:
                continue
            doc = json.loads(p.read_text(encoding="utf-8-sig", errors="replace") or "{}")
        except (OSError, ValueError, RecursionError):
            continue
        if isinstance(doc, dict) and key in doc:
            found = (doc[key], path)  # lowest precedence first: a later scope wins
    return found


def has_claude_ai_login(home: str | os.PathLike, env: Mapping[str, str] | None = None) -> bool:
    """Whether Claude Code keeps a claude.ai (Pro/Max) login here: ``.credentials.json`` in its config directory
    (``CLAUDE_CONFIG_DIR`` or ~/.claude; Linux and WSL, macOS keeps it in the Keychain) holds ``claudeAiOauth``.

    Only the key's presence is read; no token leaves this function.
    """
    config_dir = (env or {}).get("CLAUDE_CONFIG_DIR") or os.path.join(str(home), ".claude")
    path = Path(os.path.expanduser(config_dir)) / ".credentials.json"
    try:
        if not path.is_file() or path.stat().st_size > 64 * 1024:
            return False
        doc = json.loads(path.read_text(encoding="utf-8-sig", errors="replace"))
    except (OSError, ValueError, RecursionError):
        return False
    return isinstance(doc, dict) and isinstance(doc.get("claudeAiOauth"), dict)
