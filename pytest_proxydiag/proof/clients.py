"""Real clients as witnesses: run curl, requests, httpx, node, Claude Code and boto3 against a target.

A fix is only worth showing when it works for the programs the user runs.  This
module runs those programs, each in its own subprocess with exactly the
environment it is given (the user's environment plus a candidate fix), and
reports what each one saw: an HTTP answer from the target (``reached``, any
status: with a dummy key the provider's ``401`` proves the whole path) or the
client's own error text.

Every run is

* **bounded** -- the client gets the timeout as its own limit, and its whole
  process group is killed shortly after; stdout/stderr go to files of which at
  most :data:`OUTPUT_LIMIT` bytes are read;
* **detached** -- new session, stdin from ``/dev/null``, so no client ever sees
  a terminal or waits for input; the working directory is a private temporary
  directory (no project ``.claude/settings.json``, no ``.curlrc`` surprises
  from the caller's cwd);
* **keyless** -- the user's credentials never reach a client: every variable
  that names or holds an API key, token or secret is removed (see
  :func:`client_env`); requests carry ``x-api-key: proxydiag-dummy-key``.
  Proxy credentials inside ``HTTPS_PROXY`` stay, because the proxy needs them;
* **redacted** -- every text in a :class:`ClientRun` went through
  :class:`~pytest_proxydiag.core.redact.Redactor`, fed with the environment's
  secrets and proxy passwords.

Claude Code (``claude``) is found on ``PATH`` or through the ``PROXYDIAG_CLAUDE``
environment variable (the path of the binary, e.g. what
``.ci/install-claude.sh`` prints).  It runs as ``claude -p hello --output-format
json --bare`` (API-key auth only: OAuth tokens and the keychain are never read)
with a dummy ``ANTHROPIC_API_KEY``, ``HOME`` and ``CLAUDE_CONFIG_DIR`` in a
private temporary directory (never the user's ``~/.claude`` login), whose
``settings.json`` holds the ``env`` of every settings scope the user's Claude
Code reads (user, project, local, managed; credentials removed, see
:func:`~pytest_proxydiag.proof.claude_runner.user_settings_env`), auto-update and
non-essential traffic off, no retries, ``ANTHROPIC_BASE_URL`` set to the target
when it is not ``https://api.anthropic.com``, and ``--debug-file`` to recover the
underlying error code (``SELF_SIGNED_CERT_IN_CHAIN``, ``Invalid CA`` ...).
Claude Code has no resolve option: ``resolve`` pins reach it through a private
``/etc/hosts`` in a mount namespace (``unshare -m``, or ``unshare -r -m``
unprivileged); where that is impossible it is not run with pins at all.

Measured on loopback (Squid, 2 cores): curl 0.07 s, requests 0.2 s, httpx
0.25 s, node 0.07 s, Claude Code 0.4-0.6 s per run; all five in parallel 0.8-1 s.

boto3 (:mod:`~pytest_proxydiag.proof.boto3_runner`) speaks Bedrock's API only: it calls
``InvokeModel`` signed with a dummy key pair and proves fixes for Bedrock targets alone.
Claude Code runs in Bedrock or Vertex mode (cloud login skipped) for such a target or
a user in that mode.  A 403 counts as the provider's answer only with the provider's own
error (:attr:`ClientRun.provider_error`: AWS's ``x-amzn-ErrorType``).

The runners live in :mod:`~pytest_proxydiag.proof.client_runners` (curl, the
Python clients, node) and :mod:`~pytest_proxydiag.proof.claude_runner`; what
they share (the request, the result, the bounded process) in
:mod:`~pytest_proxydiag.proof.client_base`.  This module discovers the
clients, strips credentials, runs them and judges what came back.

Example::

    from pytest_proxydiag.proof.clients import discover, run_clients, describe
    names = [c.name for c in discover("auto") if c.available]
    for run in run_clients(names, "https://api.anthropic.com", env, timeout=10):
        print(describe(run))   # "curl 7.88.1: reached (401)"
"""

from __future__ import annotations

import base64
import functools
import json
import os
import re
import shlex
import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Mapping, Sequence
from urllib.parse import unquote, urlsplit

from pytest_proxydiag.branches.providers import claude_mode
from pytest_proxydiag.core.proxyurl import parse_proxy_url
from pytest_proxydiag.core.redact import Redactor, is_secret_name
from pytest_proxydiag.proof.boto3_runner import _run_boto3
from pytest_proxydiag.proof.claude_runner import _run_claude
from pytest_proxydiag.proof.client_base import (  # noqa: F401 - the public names stay importable from here
    ANTHROPIC_VERSION, CLAUDE_ENV, CLAUDE_PROMPT, CLIENT_NAMES, DEFAULT_PATH, DUMMY_API_KEY, KILL_GRACE,
    OUTPUT_LIMIT, REQUEST_BODY, STRIPPED_VARIABLES, ClientInfo, ClientRun, _PROXY_VARIABLES, _SECRET_NAME,
    _SECRET_VALUE, _first_line, _fmt_seconds, _Request, _run_quiet, client_env, cloud_request)
from pytest_proxydiag.proof.client_runners import _run_curl, _run_node, _run_python

__all__ = [
    "CLIENT_NAMES", "ClientInfo", "ClientRun", "DUMMY_API_KEY", "STRIPPED_VARIABLES",
    "client_env", "describe", "discover", "run_client", "run_clients",
]


# --------------------------------------------------------------------------- environment


def _redactor_for(env: Mapping[str, str], extra: Redactor | None) -> Redactor:
    red = Redactor()
    red.add_env(env)
    red.add(*(v for k, v in env.items()
              if isinstance(v, str) and (k.upper() in STRIPPED_VARIABLES or _SECRET_NAME.search(k))))
    for name in _PROXY_VARIABLES + ("no_proxy", "NO_PROXY"):
        value = env.get(name)
        if not value:
            continue
        # The password as typed (maybe unencoded, "p@ss:w/rd#1?"), and as the parser decodes it.
        rest = value.split("://", 1)[-1]
        if "@" in rest:
            userinfo = rest[:rest.rindex("@")]
            if ":" in userinfo:
                user, password = userinfo.split(":", 1)
                _add_proxy_credentials(red, user, password)
                _add_proxy_credentials(red, unquote(user), unquote(password))
        try:
            parsed = parse_proxy_url(value, source=f"env:{name}")
            _add_proxy_credentials(red, parsed.username or "", parsed.password)
        except ValueError:
            pass
    if extra is not None:
        # Ours first: a generic URL pattern applied earlier would cut an unencoded password
        # ("p@ss:w/rd") at its first "@" and leave the rest for no one to recognise.
        return _Chain(red, extra)  # type: ignore[return-value]
    return red


def _add_proxy_credentials(red: Redactor, user: str, password: str | None) -> None:
    # The password, and the Basic header a client would send; the user name stays readable.
    if password:
        red.add(password, base64.b64encode(f"{user}:{password}".encode()).decode())


class _Chain:
    def __init__(self, *redactors: Redactor) -> None:
        self._redactors = redactors

    def redact(self, text):
        for r in self._redactors:
            text = r.redact(text)
        return text

    __call__ = redact



def _curl_info() -> ClientInfo:
    path = shutil.which("curl")
    if not path:
        return ClientInfo("curl", None, None, False, "curl not found on PATH")
    out = _run_quiet([path, "--version"])
    m = re.match(r"curl (\S+)", out or "")
    return ClientInfo("curl", m.group(1) if m else None, path, True)


def _python_info(module: str) -> ClientInfo:
    # Checked in the interpreter that will run the client script: this one.
    import importlib.metadata
    import importlib.util
    if importlib.util.find_spec(module) is None:
        return ClientInfo(module, None, sys.executable, False,
                          f"Python package {module} is not installed in {sys.executable} (pip install {module})")
    try:
        version = importlib.metadata.version(module)
    except importlib.metadata.PackageNotFoundError:
        version = None
    return ClientInfo(module, version, sys.executable, True)


def _node_info() -> ClientInfo:
    path = shutil.which("node")
    if not path:
        return ClientInfo("node", None, None, False, "node not found on PATH")
    from pytest_proxydiag.machine.claude_install import node_version

    # The one reader of `node --version`, cached per binary (the trust row and bypass.node_env_proxy ask too).
    return ClientInfo("node", node_version(path), path, True)


def _claude_package_version(binary: str) -> str | None:
    # npm layout: node_modules/.bin/claude -> ../@anthropic-ai/claude-code/bin/claude.exe
    real = os.path.realpath(binary)
    for up in (os.path.dirname(os.path.dirname(real)), os.path.dirname(real)):
        pkg = os.path.join(up, "package.json")
        try:
            with open(pkg, encoding="utf-8") as f:
                data = json.load(f)
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and data.get("name") == "@anthropic-ai/claude-code":
            return str(data.get("version") or "") or None
    return None


def _claude_info() -> ClientInfo:
    configured = os.environ.get(CLAUDE_ENV)
    if configured:
        path = os.path.abspath(os.path.expanduser(configured))
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            return ClientInfo("claude", None, None, False,
                              f"{CLAUDE_ENV}={configured} is not an executable file")
    else:
        path = shutil.which("claude")
        if not path:
            return ClientInfo("claude", None, None, False,
                              "Claude Code not found on PATH (npm install -g @anthropic-ai/claude-code, "
                              f"or set {CLAUDE_ENV} to the claude binary)")
    version = _claude_package_version(path)
    if version is None:
        with tempfile.TemporaryDirectory(prefix="proxydiag-claude-") as home:
            out = _run_quiet([path, "--version"], timeout=10,
                             env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home,
                                  "DISABLE_AUTOUPDATER": "1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"})
        m = re.match(r"\s*(\d+\.\d+\.\d+\S*)", out or "")
        version = m.group(1) if m else None
    return ClientInfo("claude", version, path, True)


def _boto3_info() -> ClientInfo:
    # boto3 when installed (what users import), else botocore alone: the runner needs only botocore.
    info = _python_info("botocore")
    if not info.available:
        return ClientInfo("boto3", None, None, False, f"{info.why_not.replace('botocore', 'boto3')}")
    boto3 = _python_info("boto3")
    return ClientInfo("boto3", boto3.version if boto3.available else f"(botocore {info.version})", sys.executable, True)


_INFO_FUNCS = {
    "boto3": _boto3_info,
    "curl": _curl_info,
    "requests": lambda: _python_info("requests"),
    "httpx": lambda: _python_info("httpx"),
    "node": _node_info,
    "claude": _claude_info,
}


@functools.lru_cache(maxsize=32)
def _info_cached(name: str, path_env: str, claude_env: str) -> ClientInfo:
    return _INFO_FUNCS[name]()


#: One lock per client, so two threads asking for the same client (discover's pool and a step's
#: early start) run its ``--version`` once: the second waits and reads the cache.
_INFO_LOCKS = {name: threading.Lock() for name in _INFO_FUNCS}


def _info(name: str) -> ClientInfo:
    with _INFO_LOCKS[name]:
        return _info_cached(name, os.environ.get("PATH", ""), os.environ.get(CLAUDE_ENV, ""))


def discover(selection: str = "auto") -> list[ClientInfo]:
    """The clients named by *selection*, each with its version and availability.

    ``"auto"`` (or empty) lists every supported client, ``"none"`` none, and a
    comma list (``"curl,claude"``) exactly those, in :data:`CLIENT_NAMES` order.
    Unknown names come back unavailable with a ``why_not`` naming the choices,
    never as an exception.  Claude Code is looked up through ``PROXYDIAG_CLAUDE``
    first, then ``PATH``.  Results are cached per ``PATH``/``PROXYDIAG_CLAUDE``.
    """
    text = (selection or "auto").strip().lower()
    if text == "none":
        return []
    if text in ("auto", "all"):
        names: list[str] = list(CLIENT_NAMES)
    else:
        names = []
        for part in text.split(","):
            part = part.strip()
            if part and part not in names:
                names.append(part)
    known = [n for n in CLIENT_NAMES if n in names]
    unknown = [n for n in names if n not in CLIENT_NAMES]
    with ThreadPoolExecutor(max_workers=max(1, len(known))) as pool:
        infos = list(pool.map(_info, known))
    for n in unknown:
        infos.append(ClientInfo(n, None, None, False,
                                f"unknown client {n!r}; choose from auto, none or {','.join(CLIENT_NAMES)}"))
    return infos


def _squid_error(headers: Mapping[str, str] | None) -> str | None:
    if not headers:
        return None
    for k, v in headers.items():
        if k.lower() == "x-squid-error":
            return v
    return None


def _aws_error_type(headers: Mapping[str, str] | None) -> str | None:
    """AWS's error type from ``x-amzn-ErrorType`` ("UnrecognizedClientException:http://...") or None."""
    for k, v in (headers or {}).items():
        if k.lower() == "x-amzn-errortype" and v:
            return str(v).split(":", 1)[0].strip() or None
    return None


_RUNNERS = {"curl": _run_curl, "requests": _run_python, "httpx": _run_python, "node": _run_node,
            "claude": _run_claude, "boto3": _run_boto3}



def _build_request(url: str, env: Mapping[str, str], timeout: float, method: str, path: str | None,
                   resolve: Mapping[tuple[str, int], str], api: str = "") -> _Request:
    parts = urlsplit(url.strip())
    scheme = (parts.scheme or "https").lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url!r}")
    port = parts.port or (443 if scheme == "https" else 80)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    # No path given: the request of the target's API (its own, or Claude Code's mode for this host in *env*).
    cloud = cloud_request(url.strip(), api or claude_mode(parts.hostname, env)) if path is None else None
    base_path = parts.path.rstrip("/")
    path = DEFAULT_PATH if path is None else path
    path = ("/" + path.lstrip("/")).rstrip("/") if path else ""
    if cloud is None and path and base_path.endswith(path):
        # Given the full endpoint ("https://gw/anthropic/v1/messages"): its base is what precedes it.
        base_path = base_path[:-len(path)]
    base_url = f"{scheme}://{netloc}{base_path}"
    full = f"{scheme}://{netloc}{cloud.path}" if cloud is not None else base_url + path
    pins = {(str(h).lower().strip("[]"), int(p)): str(a) for (h, p), a in dict(resolve or {}).items()}
    req = _Request(full, base_url, base_path, scheme, parts.hostname.lower(), port, method.upper(),
                   client_env(env), float(timeout), pins)
    if cloud is not None:
        req.headers, req.body = dict(cloud.headers), cloud.body.decode("ascii")
    return req


def run_client(name: str, url: str, env: Mapping[str, str], timeout: float, *, method: str = "POST",
               path: str | None = None, resolve: Mapping[tuple[str, int], str] = {},
               redactor: Redactor | None = None, claude_settings: Mapping[str, str] | None = None,
               api: str = "") -> ClientRun:
    """Send the check request to *url* + *path* with client *name*; never raises.

    Without *path*, the request of the target's API: Anthropic's :data:`DEFAULT_PATH` after the base URL's
    path, or for a Bedrock or Vertex AI target (*api*, ``Target.api``; "" judges by the host name and Claude
    Code's mode in *env*) that API's own (:func:`~pytest_proxydiag.proof.client_base.cloud_request`).

    *env* is the complete environment the client gets (after removing
    credentials, see :func:`client_env`).  *resolve* pins ``(host, port)`` to
    an address for names the client resolves itself (curl ``--resolve``, a
    patched resolver for requests/httpx, ``lookup`` for node, a private
    /etc/hosts for Claude Code); through a proxy the proxy resolves the target.
    *claude_settings* is the ``env`` of Claude Code's settings scopes for this
    run; by default the user's (read from *env*'s ``HOME`` and the working
    directory, credentials removed), so the run sees what the user's Claude Code sees.
    """
    start = time.monotonic()
    red = _redactor_for(env, redactor)
    info = _info(name) if name in CLIENT_NAMES else ClientInfo(name, None, None, False, f"unknown client {name!r}")

    def unavailable(why: str, code: str = "unavailable") -> ClientRun:
        return ClientRun(name, info.version, False, None, red.redact(why), code, time.monotonic() - start, "")

    if not info.available:
        return unavailable(info.why_not or f"{name} is not available")
    try:
        req = _build_request(url, env, timeout, method, path, resolve, api)
        req.claude_settings = dict(claude_settings) if claude_settings is not None else None
    except (ValueError, TypeError) as exc:
        return unavailable(str(exc), "invalid-url")
    try:
        with tempfile.TemporaryDirectory(prefix=f"proxydiag-{name}-") as workdir:
            req.workdir = workdir
            cmd, proc, result = _RUNNERS[name](info, req)
    except Exception as exc:  # never crash the diagnosis because one client misbehaved
        return unavailable(f"could not run {name}: {type(exc).__name__}: {exc}", "internal")
    command = red.redact(shlex.join(cmd))
    note = result.get("note")
    if proc.start_error:
        return ClientRun(name, info.version, False, None, red.redact(proc.start_error), "unavailable",
                         proc.elapsed, command, red.redact(note))
    status = result.get("status")
    if isinstance(status, int):
        squid = _squid_error(result.get("headers"))
        if squid:
            return ClientRun(name, info.version, False, status,
                             red.redact(f"the proxy answered {status} (X-Squid-Error: {squid}), not the target"),
                             f"proxy-{status}", proc.elapsed, command, red.redact(note))
        provider_error = result.get("provider_error") or _aws_error_type(result.get("headers"))
        return ClientRun(name, info.version, True, status, None, None, proc.elapsed, command, red.redact(note),
                         provider_error=red.redact(str(provider_error))[:200] if provider_error else None)
    if proc.timed_out:
        error, code = f"no answer within {_fmt_seconds(req.timeout)}s; killed", "timeout"
    else:
        error = result.get("error") or _first_line(proc.stderr) or f"{name} exited with {proc.rc} and no result"
        code = result.get("error_code") or (f"exit {proc.rc}" if proc.rc is not None else "error")
    return ClientRun(name, info.version, False, None, red.redact(str(error))[:2000], str(code), proc.elapsed,
                     command, red.redact(note))


def run_clients(names: Sequence[str], url: str, env: Mapping[str, str], timeout: float,
                **kw) -> list[ClientRun]:
    """:func:`run_client` for each name, in parallel threads; results in the order of *names*.

    The whole call takes about the slowest client's time, at most
    ``timeout + KILL_GRACE`` seconds.
    """
    names = list(names)
    if not names:
        return []
    with ThreadPoolExecutor(max_workers=len(names), thread_name_prefix="proxydiag-client") as pool:
        return list(pool.map(lambda n: run_client(n, url, env, timeout, **kw), names))


def describe(run: ClientRun) -> str:
    """One line for a report: ``"curl 7.88.1: reached (401)"``, ``"requests 2.34.2: SSLError: ..."``."""
    label = f"{run.client} {run.version}" if run.version else run.client
    if run.reached:
        text = f"{label}: reached ({run.status})" if run.status is not None else f"{label}: reached"
        if run.provider_error:
            # Why a 403 counts: the provider said it itself ("reached (403 UnrecognizedClientException)").
            text = text[:-1] + f" {run.provider_error})"
    else:
        code = run.error_code or "error"
        if run.client == "curl" and code.isdigit():
            code = f"exit {code}"
        text = f"{label}: {code}: {run.error}" if run.error else f"{label}: {code}"
    if run.note:
        text += f" [{run.note}]"
    return text
