"""What every client runner shares: constants, the request, the result, and a bounded child process.

See :mod:`pytest_proxydiag.proof.clients` for the public entry points; the
runners live in :mod:`~pytest_proxydiag.proof.client_runners` (curl, requests,
httpx, node) and :mod:`~pytest_proxydiag.proof.claude_runner` (Claude Code).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from pytest_proxydiag.core.redact import is_secret_name

CLIENT_NAMES: tuple[str, ...] = ("curl", "requests", "httpx", "node", "claude", "boto3")
#: Clients that speak one provider's API only (``Target.api``): they prove a fix for targets speaking it alone.
PROVIDER_CLIENTS: dict[str, str] = {"boto3": "bedrock"}

#: The only key any client ever sends. A provider answers it with 401, which proves the path.
DUMMY_API_KEY = "proxydiag-dummy-key"
ANTHROPIC_VERSION = "2023-06-01"
#: The path of Anthropic's check request, after the base URL's own path.  A Bedrock or Vertex AI target is asked
#: its own API's path instead (:func:`cloud_request`).
DEFAULT_PATH = "/v1/messages"
#: Smallest valid-looking Messages API body; with a dummy key it is never processed.
REQUEST_BODY = json.dumps({"model": "claude-proxydiag-check", "max_tokens": 1,
                           "messages": [{"role": "user", "content": "hi"}]}, separators=(",", ":"))
#: The headers of Anthropic's check request: the dummy key and the API version.
REQUEST_HEADERS = {"content-type": "application/json", "x-api-key": DUMMY_API_KEY,
                   "anthropic-version": ANTHROPIC_VERSION}
CLAUDE_PROMPT = "hello"
#: Bytes read from each of a client's stdout/stderr/debug file (the rest is ignored).
OUTPUT_LIMIT = 64 * 1024
#: Seconds a client may take past its own timeout (process start, printing its error) before it is killed.
KILL_GRACE = 1.5
#: Where ``discover`` looks for Claude Code before ``PATH``.
CLAUDE_ENV = "PROXYDIAG_CLAUDE"

#: Removed from every client's environment by name (plus any name matching
#: ``*_API_KEY``, ``*TOKEN*``, ``*SECRET*`` or another secret-looking name).
STRIPPED_VARIABLES = frozenset({
    "ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN", "OPENAI_API_KEY",
    "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_BEARER_TOKEN_BEDROCK",
    # Can carry an Authorization/x-api-key header that Claude Code would send.
    "ANTHROPIC_CUSTOM_HEADERS",
})
_SECRET_NAME = re.compile(r"(_API_KEY$|TOKEN|SECRET)", re.IGNORECASE)
_SECRET_VALUE = re.compile(r"sk-ant-[A-Za-z0-9_-]{8,}")
# Claude Code variables that would point it somewhere other than the target, or at the
# user's own configuration and credentials.
# The Bedrock/Vertex mode variables are the run's too: it sets them from the user's mode and the target
# (see claude_runner), always skipping the cloud login.
_CLAUDE_OVERRIDDEN = frozenset({
    "ANTHROPIC_BASE_URL", "CLAUDE_CODE_USE_BEDROCK", "CLAUDE_CODE_USE_VERTEX", "CLAUDE_CODE_USE_FOUNDRY",
    "CLAUDE_CONFIG_DIR", "CLAUDE_CODE_MAX_RETRIES", "DISABLE_AUTOUPDATER",
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "CLAUDE_CODE_SKIP_BEDROCK_AUTH", "ANTHROPIC_BEDROCK_BASE_URL",
    "CLAUDE_CODE_SKIP_VERTEX_AUTH", "ANTHROPIC_VERTEX_BASE_URL",
})
#: What the user's Claude Code is told about its provider: kept from the shell or the settings to choose the mode.
_CLAUDE_MODE_VARS = frozenset({"CLAUDE_CODE_USE_BEDROCK", "CLAUDE_CODE_USE_VERTEX", "ANTHROPIC_BEDROCK_BASE_URL",
                               "ANTHROPIC_VERTEX_BASE_URL"})
_PROXY_VARIABLES = ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY")
_DEFAULT_ANTHROPIC = ("https", "api.anthropic.com", 443)


@dataclass(frozen=True)
class ClientInfo:
    """A supported client and whether it can run here (``why_not`` says why not)."""

    name: str
    version: str | None
    path: str | None
    available: bool
    why_not: str | None = None


@dataclass(frozen=True)
class ClientRun:
    """What one client saw when it sent the check request.

    ``reached`` is true when an HTTP answer came back from the target origin
    (any status: the provider's 401 to the dummy key counts).  Otherwise
    ``error`` holds the client's own message and ``error_code`` a stable code:
    curl's exit code (``"60"``), the Python exception class (``"SSLError"``),
    Node's ``err.code`` (``"ECONNREFUSED"``) or Claude Code's underlying code
    (``"SELF_SIGNED_CERT_IN_CHAIN"``), ``"timeout"`` when it was killed,
    ``"unavailable"`` when it could not run, ``"proxy-<status>"`` when the
    answer came from the proxy rather than the target.
    """

    client: str
    version: str | None
    reached: bool
    status: int | None
    error: str | None
    error_code: str | None
    elapsed: float
    command: str
    #: Context a reader needs to interpret the result (e.g. "Node's https module
    #: ignores HTTPS_PROXY: this request went direct").
    note: str | None = None
    #: The provider's own error type in its answer (AWS's ``x-amzn-ErrorType``): a 403 that carries
    #: one is the provider refusing the dummy credentials, not the proxy refusing the path.
    provider_error: str | None = None



def client_env(env: Mapping[str, str]) -> dict[str, str]:
    """*env* without anything that holds a credential other than a proxy's.

    Removes :data:`STRIPPED_VARIABLES`, every name matching ``*_API_KEY``,
    ``*TOKEN*``, ``*SECRET*`` or :func:`~pytest_proxydiag.core.redact.is_secret_name`,
    and every variable whose value contains a removed value or an Anthropic
    key (``sk-ant-...``).  Proxy variables keep their credentials.
    """
    removed_values: list[str] = []
    kept: dict[str, str] = {}
    for name, value in env.items():
        if not isinstance(name, str) or not isinstance(value, str):
            continue
        if name.upper() in STRIPPED_VARIABLES or _SECRET_NAME.search(name) or is_secret_name(name):
            if len(value) >= 8:
                removed_values.append(value)
            continue
        kept[name] = value
    out: dict[str, str] = {}
    for name, value in kept.items():
        if name.lower() not in _PROXY_VARIABLES and (
                _SECRET_VALUE.search(value) or any(v in value for v in removed_values)):
            continue
        out[name] = value
    return out


def cloud_request(url: str, api: str = ""):
    """The check request for a Bedrock or Vertex AI target, or None for Anthropic's API.

    *api* is the target's (``Target.api``; "" to judge by the host name).  The request is the probes' own
    (:func:`pytest_proxydiag.net.policy_probes.api_probe`: one place chooses it per API): its ``path`` is
    absolute (a base URL's path included), so the Bedrock invoke or the Vertex rawPredict path reaches the origin.
    """
    from pytest_proxydiag.core.config import Target
    from pytest_proxydiag.net.policy_probes import api_probe

    choice = api_probe(Target(url, "proof", api))
    return None if choice.api == "anthropic" else choice


@dataclass
class _Request:
    full_url: str
    base_url: str
    base_path: str
    scheme: str
    host: str
    port: int
    method: str
    env: dict[str, str]
    timeout: float
    resolve: dict[tuple[str, int], str]
    workdir: str = ""
    #: The ``env`` Claude Code's settings scopes apply (None: read the user's, see claude_runner).
    claude_settings: dict[str, str] | None = None
    #: What curl, requests, httpx and node send: Anthropic's request, or the target API's (:func:`cloud_request`).
    headers: dict[str, str] = field(default_factory=lambda: dict(REQUEST_HEADERS))
    body: str = REQUEST_BODY


def _fmt_seconds(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".")


# --------------------------------------------------------------------------- running


@dataclass
class _Proc:
    rc: int | None
    stdout: str
    stderr: str
    elapsed: float
    timed_out: bool
    start_error: str | None = None


def _read_bounded(path: str) -> str:
    try:
        with open(path, "rb") as f:
            return f.read(OUTPUT_LIMIT).decode("utf-8", "replace")
    except OSError:
        return ""


def _kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the client's whole process group (POSIX); elsewhere the process itself."""
    try:
        if hasattr(os, "killpg"):
            os.killpg(proc.pid, signal.SIGKILL)
        elif proc.poll() is None:
            proc.kill()
    except (ProcessLookupError, PermissionError, OSError):
        pass


def _spawn(cmd: Sequence[str], env: Mapping[str, str], cwd: str, deadline: float) -> _Proc:
    """Run *cmd* detached in its own process group; kill the group after *deadline* seconds."""
    out_path, err_path = os.path.join(cwd, ".stdout"), os.path.join(cwd, ".stderr")
    start = time.monotonic()
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        try:
            proc = subprocess.Popen(list(cmd), env=dict(env), cwd=cwd, stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=err, start_new_session=True, close_fds=True)
        except OSError as exc:
            return _Proc(None, "", "", time.monotonic() - start, False, start_error=str(exc))
        timed_out = False
        try:
            proc.wait(timeout=deadline)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(proc)
            proc.wait()
        elapsed = time.monotonic() - start
        # Leftover children (a client's helpers) die with the group.
        _kill_group(proc)
    return _Proc(proc.returncode, _read_bounded(out_path), _read_bounded(err_path), elapsed, timed_out)


def _last_json_line(text: str) -> dict | None:
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                data = json.loads(line)
            except ValueError:
                continue
            if isinstance(data, dict):
                return data
    return None


def _first_line(text: str, limit: int = 500) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:limit]
    return ""


def _proxy_configured(env: Mapping[str, str], scheme: str) -> str | None:
    names = ("https_proxy", "HTTPS_PROXY") if scheme == "https" else ("http_proxy", "HTTP_PROXY")
    for name in names + ("all_proxy", "ALL_PROXY"):
        if env.get(name):
            return name
    return None



def _run_quiet(cmd: Sequence[str], timeout: float = 3.0, env: Mapping[str, str] | None = None) -> str | None:
    """stdout of a version query, or None; bounded like a client run (group killed after *timeout*)."""
    with tempfile.TemporaryDirectory(prefix="proxydiag-version-") as workdir:
        proc = _spawn(cmd, dict(os.environ) if env is None else env, workdir, timeout)
    return proc.stdout if proc.rc == 0 and not proc.timed_out else None

