"""The Claude Code runner: the real ``claude`` binary, keyless, with a private home and the user's settings env."""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import sys
from typing import Mapping

from pytest_proxydiag.branches import providers
from pytest_proxydiag.machine import claude_settings
from pytest_proxydiag.proof.client_base import (CLAUDE_PROMPT, DUMMY_API_KEY, KILL_GRACE, OUTPUT_LIMIT, ClientInfo,
                                                _CLAUDE_MODE_VARS, _CLAUDE_OVERRIDDEN, _DEFAULT_ANTHROPIC,
                                                _first_line,
                                                _last_json_line, _Proc, _read_bounded, _Request, _spawn,
                                                client_env)
from pytest_proxydiag.proof.client_runners import _node_extra_ca_problem

_CLAUDE_CODE_RE = re.compile(r"Connection error details: code=([A-Za-z0-9_]+)")
_CLAUDE_RESULT_CODE_RE = re.compile(r"\(([A-Z][A-Za-z0-9_]{3,})\)")
#: How AWS words its refusal of a request it cannot authenticate (Claude Code in Bedrock mode skips the login).
_AWS_REFUSAL = re.compile(r"Missing Authentication Token|The security token included in the request is invalid|"
                          r"The request signature we calculated does not match|is not authorized to perform")


#: What the run itself decides, whatever a settings file says: the private home, the dummy key, quiet and bounded.
_RUN_OWNED = _CLAUDE_OVERRIDDEN | {"HOME", "ANTHROPIC_API_KEY", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME",
                                   "XDG_STATE_HOME"}


def user_settings_env(env: Mapping[str, str], cwd: str | None = None, *,
                      system_root: str | None = None) -> dict[str, str]:
    """The ``env`` the user's Claude Code applies from its settings (every scope), fit for a proof run.

    Credentials (API keys, tokens, custom headers, anything secret-looking; see
    :func:`client_env`) are dropped, and so is what the run decides itself
    (:data:`_RUN_OWNED`: the config dir, base URL, retries ...).  ``apiKeyHelper``
    and OAuth logins are top-level settings, never part of ``env``: they are not read.
    """
    home = env.get("HOME") or os.path.expanduser("~")
    merged = claude_settings.read(home, cwd if cwd is not None else os.getcwd(), env=env,
                                  system_root=system_root).env
    # The provider mode stays (the run chooses Bedrock or Vertex from it); the run sets it itself.
    return {k: v for k, v in client_env(merged).items() if k not in _RUN_OWNED - _CLAUDE_MODE_VARS}


def _claude_env(req: "_Request", home: str) -> dict[str, str]:
    env = {k: v for k, v in req.env.items() if k not in _CLAUDE_OVERRIDDEN}
    config_dir = os.path.join(home, ".claude")
    os.makedirs(config_dir, exist_ok=True)
    # The user's settings scopes, merged, as the private config dir's user settings: Claude Code applies
    # them over the shell's variables exactly as it does for the user (CLAUDE_CODE_CERT_STORE=bundled there
    # makes this run fail as the user's does).
    settings = req.claude_settings if req.claude_settings is not None else user_settings_env(req.env)
    mode = providers.claude_mode(req.host, {**req.env, **settings})
    settings = {k: v for k, v in client_env(settings).items() if k not in _RUN_OWNED}
    with open(os.path.join(config_dir, "settings.json"), "w", encoding="utf-8") as f:
        json.dump({"env": settings}, f)
    env.update({
        "HOME": home, "CLAUDE_CONFIG_DIR": config_dir,
        "XDG_CONFIG_HOME": os.path.join(home, ".config"), "XDG_CACHE_HOME": os.path.join(home, ".cache"),
        "XDG_DATA_HOME": os.path.join(home, ".local", "share"), "XDG_STATE_HOME": os.path.join(home, ".local", "state"),
        "ANTHROPIC_API_KEY": DUMMY_API_KEY, "DISABLE_AUTOUPDATER": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "CLAUDE_CODE_MAX_RETRIES": "0",
    })
    env.update(_mode_env(mode, req, settings))
    if mode == "anthropic" and ((req.scheme, req.host, req.port) != _DEFAULT_ANTHROPIC or req.base_path):
        env["ANTHROPIC_BASE_URL"] = req.base_url
    return env


def _mode_env(mode: str, req: "_Request", settings: dict[str, str]) -> dict[str, str]:
    """Bedrock or Vertex mode pointed at the target, with the cloud login skipped (no credential is ever read)."""
    seen = {**req.env, **settings}
    if mode == "bedrock":
        region = providers.bedrock_region(req.host, seen)
        out = {"CLAUDE_CODE_USE_BEDROCK": "1", "CLAUDE_CODE_SKIP_BEDROCK_AUTH": "1", "AWS_REGION": region}
        if req.base_url != f"https://bedrock-runtime.{region}.amazonaws.com":
            out["ANTHROPIC_BEDROCK_BASE_URL"] = req.base_url
        return out
    if mode == "vertex":
        region = providers.vertex_region(req.host, seen)
        # Vertex URLs carry the API version: https://<region>-aiplatform.googleapis.com/v1/projects/...
        return {"CLAUDE_CODE_USE_VERTEX": "1", "CLAUDE_CODE_SKIP_VERTEX_AUTH": "1", "CLOUD_ML_REGION": region,
                "ANTHROPIC_VERTEX_PROJECT_ID": seen.get("ANTHROPIC_VERTEX_PROJECT_ID") or "proxydiag-check",
                "ANTHROPIC_VERTEX_BASE_URL": req.base_url if req.base_path else req.base_url + "/v1"}
    return {}


#: Run variables the report's command shows in each cloud mode (what points Claude Code at the target).
_BEDROCK_SHOWN = ("CLAUDE_CODE_USE_BEDROCK", "CLAUDE_CODE_SKIP_BEDROCK_AUTH", "AWS_REGION", "ANTHROPIC_BEDROCK_BASE_URL")
_VERTEX_SHOWN = ("CLAUDE_CODE_USE_VERTEX", "CLAUDE_CODE_SKIP_VERTEX_AUTH", "CLOUD_ML_REGION",
                 "ANTHROPIC_VERTEX_PROJECT_ID", "ANTHROPIC_VERTEX_BASE_URL")

_MOUNT_HOSTS = 'mount --bind "$0" /etc/hosts && exec "$@"'


@functools.lru_cache(maxsize=1)
def _mount_namespace_prefix() -> tuple[tuple[str, ...] | None, str | None]:
    """``unshare -m`` (root) or ``unshare -r -m`` (a user namespace), whichever can bind-mount here."""
    unshare = shutil.which("unshare")
    if not unshare or not sys.platform.startswith("linux") or not os.path.exists("/etc/hosts"):
        return None, "unshare (Linux) is not available"
    candidates = [(unshare, "-m", "--")] if os.geteuid() == 0 else []
    candidates.append((unshare, "-r", "-m", "--"))
    last = ""
    for prefix in candidates:
        try:
            probe = subprocess.run([*prefix, "sh", "-c", _MOUNT_HOSTS, "/etc/hosts", "true"],
                                   stdin=subprocess.DEVNULL, capture_output=True, timeout=5, start_new_session=True)
        except (OSError, subprocess.SubprocessError) as exc:
            last = str(exc)
            continue
        if probe.returncode == 0:
            return prefix, None
        last = _first_line(probe.stderr.decode("utf-8", "replace")) or f"exit {probe.returncode}"
    return None, f"a private mount namespace is not permitted here ({last})"


def _hosts_wrapper(req: "_Request") -> tuple[list[str], str | None]:
    """A command prefix that gives the client a private /etc/hosts holding the pins.

    Claude Code has no resolve option, so pins are applied the way its resolver
    sees them: a mount namespace (``unshare -m`` as root, else ``unshare -r -m``)
    with the pins bind-mounted over /etc/hosts.  Returns ``([], reason)`` when
    that is impossible: the caller then refuses to run rather than let the
    client resolve a pinned name for real.
    """
    if not req.resolve:
        return [], None
    prefix, why_not = _mount_namespace_prefix()
    if prefix is None:
        return [], f"cannot apply the resolve pins to Claude Code (it has no resolve option): {why_not}"
    lines = [f"{addr} {host}" for (host, _port), addr in req.resolve.items()]
    try:
        with open("/etc/hosts", encoding="utf-8", errors="replace") as f:
            system = f.read(OUTPUT_LIMIT)
    except OSError:
        system = "127.0.0.1 localhost\n"
    hosts = os.path.join(req.workdir, "hosts")
    with open(hosts, "w", encoding="utf-8") as f:
        # Pins first: the files resolver takes the first match.
        f.write("\n".join(lines) + "\n" + system)
    os.chmod(hosts, 0o644)
    return [*prefix, "sh", "-c", _MOUNT_HOSTS, hosts], None


def _run_claude(info: ClientInfo, req: "_Request") -> tuple[list[str], _Proc, dict]:
    home = os.path.join(req.workdir, "home")
    os.makedirs(home, exist_ok=True)
    debug = os.path.join(req.workdir, "claude-debug.log")
    # --bare: API-key auth only (OAuth tokens and the keychain are never read) and no background
    # prefetches -- the dummy key is the only credential, and the one request is the check.
    cmd = [info.path or "claude", "-p", CLAUDE_PROMPT, "--output-format", "json", "--bare", "--debug-file", debug]
    wrapper, why_not = _hosts_wrapper(req)
    if why_not:
        return cmd, _Proc(None, "", "", 0.0, False, start_error=why_not), {}
    env = _claude_env(req, home)
    proc = _spawn(wrapper + cmd, env, req.workdir, req.timeout + KILL_GRACE)
    if proc.rc and "unknown option '--bare'" in proc.stderr:
        # Older releases: a private HOME and CLAUDE_CONFIG_DIR already keep the user's login out.
        cmd.remove("--bare")
        proc = _spawn(wrapper + cmd, env, req.workdir, req.timeout + KILL_GRACE)
    data = _last_json_line(proc.stdout) or {}
    log = _read_bounded(debug) if os.path.exists(debug) else ""
    result: dict = {}
    notes = []
    extra_ca = _node_extra_ca_problem(req.env)
    if extra_ca or re.search(r"Invalid CA|Ignoring extra certs|ignored all of the NODE_EXTRA_CA_CERTS",
                             log + proc.stderr):
        notes.append("Claude Code could not load NODE_EXTRA_CA_CERTS (Invalid CA"
                     + (f": {extra_ca}" if extra_ca else ": the file must be PEM") + ")")
    status = data.get("api_error_status")
    if isinstance(status, int):
        result["status"] = status
        aws = _AWS_REFUSAL.search(f"{data.get('result') or ''}\n{log}") if "CLAUDE_CODE_SKIP_BEDROCK_AUTH" in env else None
        if status == 403 and aws:
            # Claude Code's Bedrock client shows no headers; AWS's own words prove the answer was AWS's.
            result["provider_error"] = aws.group(0)
    elif data and data.get("is_error") is False:
        result["status"] = 200
    elif data:
        result["error"] = str(data.get("result") or data.get("error") or "claude reported an error")
        m = _CLAUDE_CODE_RE.search(log)
        m2 = _CLAUDE_RESULT_CODE_RE.search(result["error"])
        result["error_code"] = (m.group(1) if m else m2.group(1) if m2
                                else str(data.get("api_error_type") or data.get("terminal_reason") or "error"))
    elif not proc.timed_out and proc.rc is not None:
        # No JSON: Claude Code stopped before the request (e.g. a proxy URL it cannot parse).
        result["error"] = _first_line(proc.stderr) or _first_line(proc.stdout) or f"claude exited with {proc.rc}"
        result["error_code"] = ("InvalidProxyURL" if re.search(r"(?i)invalid proxy url", result["error"])
                                else f"exit {proc.rc}")
    if notes:
        result["note"] = "; ".join(notes)
    display = [part for part in cmd if part not in ("--debug-file", debug)]
    mode_keys = (_BEDROCK_SHOWN if "CLAUDE_CODE_SKIP_BEDROCK_AUTH" in env else
                 _VERTEX_SHOWN if "CLAUDE_CODE_SKIP_VERTEX_AUTH" in env else ("ANTHROPIC_BASE_URL",))
    shown = [f"{k}={env[k]}" for k in mode_keys if k in env]
    if shown:
        display = ["env", *shown] + display
    return display, proc, result


