"""Real clients as witnesses: run curl, requests, httpx, node and Claude Code against a target.

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
private temporary directory (never the user's ``~/.claude``), auto-update and
non-essential traffic off, no retries, ``ANTHROPIC_BASE_URL`` set to the target
when it is not ``https://api.anthropic.com``, and ``--debug-file`` to recover the
underlying error code (``SELF_SIGNED_CERT_IN_CHAIN``, ``Invalid CA`` ...).
Claude Code has no resolve option: ``resolve`` pins reach it through a private
``/etc/hosts`` in a mount namespace (``unshare -m``, or ``unshare -r -m``
unprivileged); where that is impossible it is not run with pins at all.

Measured on loopback (Squid, 2 cores): curl 0.07 s, requests 0.2 s, httpx
0.25 s, node 0.07 s, Claude Code 0.4-0.6 s per run; all five in parallel 0.8-1 s.

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
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Mapping, Sequence
from urllib.parse import unquote, urlsplit

from pytest_proxydiag.core.proxyurl import parse_proxy_url
from pytest_proxydiag.core.redact import Redactor, is_secret_name

__all__ = [
    "CLIENT_NAMES", "ClientInfo", "ClientRun", "DUMMY_API_KEY", "STRIPPED_VARIABLES",
    "client_env", "describe", "discover", "run_client", "run_clients",
]

CLIENT_NAMES: tuple[str, ...] = ("curl", "requests", "httpx", "node", "claude")

#: The only key any client ever sends. A provider answers it with 401, which proves the path.
DUMMY_API_KEY = "proxydiag-dummy-key"
ANTHROPIC_VERSION = "2023-06-01"
DEFAULT_PATH = "/v1/messages"
#: Smallest valid-looking Messages API body; with a dummy key it is never processed.
REQUEST_BODY = json.dumps({"model": "claude-proxydiag-check", "max_tokens": 1,
                           "messages": [{"role": "user", "content": "hi"}]}, separators=(",", ":"))
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
_CLAUDE_OVERRIDDEN = frozenset({
    "ANTHROPIC_BASE_URL", "CLAUDE_CODE_USE_BEDROCK", "CLAUDE_CODE_USE_VERTEX", "CLAUDE_CODE_USE_FOUNDRY",
    "CLAUDE_CONFIG_DIR", "CLAUDE_CODE_MAX_RETRIES", "DISABLE_AUTOUPDATER",
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC",
})
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


# --------------------------------------------------------------------------- environment


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


# --------------------------------------------------------------------------- discovery


def _run_quiet(cmd: Sequence[str], timeout: float = 3.0, env: Mapping[str, str] | None = None) -> str | None:
    """stdout of a version query, or None; bounded like a client run (group killed after *timeout*)."""
    with tempfile.TemporaryDirectory(prefix="proxydiag-version-") as workdir:
        proc = _spawn(cmd, dict(os.environ) if env is None else env, workdir, timeout)
    return proc.stdout if proc.rc == 0 and not proc.timed_out else None


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
    out = _run_quiet([path, "--version"])
    return ClientInfo("node", out.strip().lstrip("v") if out else None, path, True)


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


_INFO_FUNCS = {
    "curl": _curl_info,
    "requests": lambda: _python_info("requests"),
    "httpx": lambda: _python_info("httpx"),
    "node": _node_info,
    "claude": _claude_info,
}


@functools.lru_cache(maxsize=32)
def _info_cached(name: str, path_env: str, claude_env: str) -> ClientInfo:
    return _INFO_FUNCS[name]()


def _info(name: str) -> ClientInfo:
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


def _squid_error(headers: Mapping[str, str] | None) -> str | None:
    if not headers:
        return None
    for k, v in headers.items():
        if k.lower() == "x-squid-error":
            return v
    return None


_CURL_HEADERS = ("-H", "content-type: application/json", "-H", f"x-api-key: {DUMMY_API_KEY}",
                 "-H", f"anthropic-version: {ANTHROPIC_VERSION}")


def _run_curl(info: ClientInfo, req: "_Request") -> tuple[list[str], _Proc, dict]:
    body_path = os.path.join(req.workdir, "body")
    head_path = os.path.join(req.workdir, "headers")
    cmd = [info.path or "curl", "-sS", "-o", body_path, "-D", head_path, "-w", "%{http_code}",
           "--max-time", _fmt_seconds(req.timeout), "-X", req.method, *_CURL_HEADERS]
    if req.method not in ("GET", "HEAD"):
        cmd += ["--data-binary", REQUEST_BODY]
    # Pins matter only where curl resolves the name itself (direct); through a proxy the
    # proxy resolves the target and curl ignores these entries.
    for (host, port), addr in req.resolve.items():
        cmd += ["--resolve", f"{host}:{port}:{addr}"]
    cmd.append(req.full_url)
    proc = _spawn(cmd, req.env, req.workdir, req.timeout + KILL_GRACE)
    # For the report: the same request, ready to paste (no private temp paths).
    display = [c for c in cmd if c != "-D" and c != head_path]
    display[display.index(body_path)] = "/dev/null"
    result: dict = {}
    code = (proc.stdout.strip() or "000")[-3:]
    headers = _parse_header_block(_read_bounded(head_path))
    if proc.rc == 0 and code.isdigit() and code != "000":
        result["status"] = int(code)
        result["headers"] = headers
    elif proc.rc is not None and not proc.timed_out:
        line = _first_line(proc.stderr)
        result["error"] = re.sub(r"^curl: \(\d+\)\s*", "", line) or f"curl exited with {proc.rc}"
        result["error_code"] = str(proc.rc)
    return display, proc, result


def _parse_header_block(text: str) -> dict[str, str]:
    # With a proxy, -D holds the CONNECT reply first; the last block is the target's.
    blocks = [b for b in re.split(r"\r?\n\r?\n", text) if b.strip()]
    headers: dict[str, str] = {}
    if blocks:
        for line in blocks[-1].splitlines()[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip()] = v.strip()
    return headers


_PY_CLIENT = r"""
import json, socket, sys
a = json.loads(sys.argv[1])
pins = {(h, int(p)): addr for h, p, addr in a["resolve"]}
if pins:
    _gai = socket.getaddrinfo
    def _pinned(host, port, *args, **kw):
        h = host.decode() if isinstance(host, bytes) else host
        try:
            p = int(port)
        except (TypeError, ValueError):
            p = port
        return _gai(pins.get((h, p), host), port, *args, **kw)
    socket.getaddrinfo = _pinned
def out(**kw):
    sys.stdout.write(json.dumps(kw) + "\n"); sys.stdout.flush()
headers = {"content-type": "application/json", "x-api-key": a["key"], "anthropic-version": a["version"]}
body = a["body"].encode() if a["method"] not in ("GET", "HEAD") else None
try:
    if a["client"] == "requests":
        import requests
        with requests.Session() as s:
            r = s.request(a["method"], a["url"], data=body, headers=headers, timeout=(a["timeout"], a["timeout"]),
                          allow_redirects=False)
    else:
        import httpx
        with httpx.Client(trust_env=True, timeout=a["timeout"], follow_redirects=False) as c:
            r = c.request(a["method"], a["url"], content=body, headers=headers)
    out(status=r.status_code, headers=dict(r.headers))
except Exception as e:
    out(error=str(e) or repr(e), error_code=type(e).__name__)
"""


def _run_python(info: ClientInfo, req: "_Request") -> tuple[list[str], _Proc, dict]:
    arg = json.dumps({"client": info.name, "url": req.full_url, "method": req.method, "timeout": req.timeout,
                      "key": DUMMY_API_KEY, "version": ANTHROPIC_VERSION, "body": REQUEST_BODY,
                      "resolve": [[h, p, a] for (h, p), a in req.resolve.items()]})
    cmd = [sys.executable, "-c", _PY_CLIENT, arg]
    proc = _spawn(cmd, req.env, req.workdir, req.timeout + KILL_GRACE)
    display = [sys.executable, "-c", f"<{info.name} {req.method} script>", req.full_url]
    return display, proc, _last_json_line(proc.stdout) or {}


_NODE_CLIENT = r"""
const a = JSON.parse(process.argv[1]);
const u = new URL(a.url);
const mod = require(u.protocol === 'https:' ? 'https' : 'http');
const out = (o) => { process.stdout.write(JSON.stringify(o) + '\n'); };
const opts = {method: a.method, timeout: a.timeout * 1000, headers: {
  'content-type': 'application/json', 'x-api-key': a.key, 'anthropic-version': a.version}};
const port = u.port ? Number(u.port) : (u.protocol === 'https:' ? 443 : 80);
const pin = a.resolve[u.hostname + ':' + port];
if (pin) {
  const family = pin.includes(':') ? 6 : 4;
  opts.lookup = (hostname, options, cb) => options && options.all
    ? cb(null, [{address: pin, family}]) : cb(null, pin, family);
}
let done = false;
const finish = (o) => { if (!done) { done = true; out(o); } };
const req = mod.request(u, opts, (res) => {
  res.resume();
  finish({status: res.statusCode, headers: res.headers});
});
req.on('timeout', () => { const e = new Error('request timed out after ' + a.timeout + 's'); e.code = 'ETIMEDOUT'; req.destroy(e); });
req.on('error', (e) => finish({error: e.message, error_code: e.code || e.name}));
if (a.method !== 'GET' && a.method !== 'HEAD') req.write(a.body);
req.end();
"""


def _run_node(info: ClientInfo, req: "_Request") -> tuple[list[str], _Proc, dict]:
    arg = json.dumps({"url": req.full_url, "method": req.method, "timeout": req.timeout, "key": DUMMY_API_KEY,
                      "version": ANTHROPIC_VERSION, "body": REQUEST_BODY,
                      "resolve": {f"{h}:{p}": a for (h, p), a in req.resolve.items()}})
    cmd = [info.path or "node", "-e", _NODE_CLIENT, arg]
    proc = _spawn(cmd, req.env, req.workdir, req.timeout + KILL_GRACE)
    display = [info.path or "node", "-e", f"<https.request {req.method} script>", req.full_url]
    result = _last_json_line(proc.stdout) or {}
    notes = []
    proxy_var = _proxy_configured(req.env, req.scheme)
    if proxy_var and not req.env.get("NODE_USE_ENV_PROXY"):
        notes.append(f"Node's {req.scheme} module does not read {proxy_var}: a plain Node program "
                     "goes direct (recent Node releases honour it with NODE_USE_ENV_PROXY=1)")
    extra_ca = _node_extra_ca_problem(req.env)
    if extra_ca:
        notes.append(f"Node ignores NODE_EXTRA_CA_CERTS: {extra_ca}")
    if notes:
        result["note"] = "; ".join(notes)
    return display, proc, result


def _node_extra_ca_problem(env: Mapping[str, str]) -> str | None:
    """Why the NODE_EXTRA_CA_CERTS file cannot work (Node and Claude Code read PEM only), or None."""
    path = env.get("NODE_EXTRA_CA_CERTS")
    if not path:
        return None
    try:
        with open(path, "rb") as f:
            head = f.read(OUTPUT_LIMIT)
    except OSError as exc:
        return f"{path} cannot be read ({exc.strerror or exc})"
    if b"-----BEGIN CERTIFICATE-----" in head:
        return None
    if head[:1] == b"\x30":
        return f"{path} is DER, not PEM"
    return f"{path} holds no PEM certificate"


_CLAUDE_CODE_RE = re.compile(r"Connection error details: code=([A-Za-z0-9_]+)")
_CLAUDE_RESULT_CODE_RE = re.compile(r"\(([A-Z][A-Za-z0-9_]{3,})\)")


def _claude_env(req: "_Request", home: str) -> dict[str, str]:
    env = {k: v for k, v in req.env.items() if k not in _CLAUDE_OVERRIDDEN}
    config_dir = os.path.join(home, ".claude")
    os.makedirs(config_dir, exist_ok=True)
    env.update({
        "HOME": home, "CLAUDE_CONFIG_DIR": config_dir,
        "XDG_CONFIG_HOME": os.path.join(home, ".config"), "XDG_CACHE_HOME": os.path.join(home, ".cache"),
        "XDG_DATA_HOME": os.path.join(home, ".local", "share"), "XDG_STATE_HOME": os.path.join(home, ".local", "state"),
        "ANTHROPIC_API_KEY": DUMMY_API_KEY, "DISABLE_AUTOUPDATER": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "CLAUDE_CODE_MAX_RETRIES": "0",
    })
    if (req.scheme, req.host, req.port) != _DEFAULT_ANTHROPIC or req.base_path:
        env["ANTHROPIC_BASE_URL"] = req.base_url
    return env


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
    if "ANTHROPIC_BASE_URL" in env:
        display = ["env", f"ANTHROPIC_BASE_URL={env['ANTHROPIC_BASE_URL']}"] + display
    return display, proc, result


_RUNNERS = {"curl": _run_curl, "requests": _run_python, "httpx": _run_python, "node": _run_node,
            "claude": _run_claude}


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


def _fmt_seconds(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".")


def _build_request(url: str, env: Mapping[str, str], timeout: float, method: str, path: str,
                   resolve: Mapping[tuple[str, int], str]) -> _Request:
    parts = urlsplit(url.strip())
    scheme = (parts.scheme or "https").lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url!r}")
    port = parts.port or (443 if scheme == "https" else 80)
    base_path = parts.path.rstrip("/")
    path = ("/" + path.lstrip("/")).rstrip("/") if path else ""
    if path and base_path.endswith(path):
        # Given the full endpoint ("https://gw/anthropic/v1/messages"): its base is what precedes it.
        base_path = base_path[:-len(path)]
    netloc = parts.netloc.rsplit("@", 1)[-1]
    base_url = f"{scheme}://{netloc}{base_path}"
    full = base_url + path
    pins = {(str(h).lower().strip("[]"), int(p)): str(a) for (h, p), a in dict(resolve or {}).items()}
    return _Request(full, base_url, base_path, scheme, parts.hostname.lower(), port, method.upper(),
                    client_env(env), float(timeout), pins)


def run_client(name: str, url: str, env: Mapping[str, str], timeout: float, *, method: str = "POST",
               path: str = DEFAULT_PATH, resolve: Mapping[tuple[str, int], str] = {},
               redactor: Redactor | None = None) -> ClientRun:
    """Send the check request to *url* + *path* with client *name*; never raises.

    *env* is the complete environment the client gets (after removing
    credentials, see :func:`client_env`).  *resolve* pins ``(host, port)`` to
    an address for names the client resolves itself (curl ``--resolve``, a
    patched resolver for requests/httpx, ``lookup`` for node, a private
    /etc/hosts for Claude Code); through a proxy the proxy resolves the target.
    """
    start = time.monotonic()
    red = _redactor_for(env, redactor)
    info = _info(name) if name in CLIENT_NAMES else ClientInfo(name, None, None, False, f"unknown client {name!r}")

    def unavailable(why: str, code: str = "unavailable") -> ClientRun:
        return ClientRun(name, info.version, False, None, red.redact(why), code, time.monotonic() - start, "")

    if not info.available:
        return unavailable(info.why_not or f"{name} is not available")
    try:
        req = _build_request(url, env, timeout, method, path, resolve)
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
        return ClientRun(name, info.version, True, status, None, None, proc.elapsed, command, red.redact(note))
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
    else:
        code = run.error_code or "error"
        if run.client == "curl" and code.isdigit():
            code = f"exit {code}"
        text = f"{label}: {code}: {run.error}" if run.error else f"{label}: {code}"
    if run.note:
        text += f" [{run.note}]"
    return text
