"""What the user's clients see: environment views, tool versions, Python clients, LiteLLM config.

The APPLICATION branch asks why a request that works with curl fails in
another program.  The answers are almost always in one of four places, and
this module reads each of them without judging (the bundled tests judge):

* **environments** — :func:`compare_env`: the proxy and CA variables of this
  process, of a new shell of the user's ``$SHELL`` (its startup files are
  read, never executed, see :mod:`.shellenv`), and of Claude Code
  (``~/.claude/settings.json`` ``env``, which Claude Code applies on top of
  the shell's);
* **versions** — :func:`tool_versions`: claude, litellm, node, python,
  requests, httpx, anthropic, openssl, curl and the OS, each from a bounded
  subprocess, missing ones named;
* **Python clients** — :func:`python_vs_curl` runs requests (and httpx) with
  ``trust_env`` in a subprocess with the user's environment, next to curl
  through the same proxy (both through :mod:`.clients`), and
  :func:`classify_client_error` maps what failed to the flowchart branch;
  :func:`sdk_debug_run` sends one keyless request through the Anthropic SDK or
  LiteLLM with debug logging on and says whether the log shows the proxy;
* **LiteLLM** — :func:`parse_litellm_config`: proxy settings, ``os.environ/X``
  references whose variable is unset, ``ssl_verify: false``, timeouts.

Nothing here sends the user's API key: every subprocess gets
:func:`pytest_proxydiag.proof.clients.client_env` (secrets removed) and a dummy key.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence
from urllib.parse import urlsplit

from pytest_proxydiag.core import shell as shell_syntax
from pytest_proxydiag.machine import claude_settings, litellm_config, shellenv
from pytest_proxydiag.proof.clients import DUMMY_API_KEY, ClientRun, client_env, run_client

__all__ = [
    "EnvIssue", "EnvComparison", "compare_env", "claude_settings_env", "shell_startup_file", "loaded_files",
    "tool_versions", "ToolVersion", "python_vs_curl", "classify_client_error", "emulate_public_roots",
    "client_route", "SdkRun", "sdk_debug_run", "LiteLLMConfig", "parse_litellm_config", "find_litellm_config",
    "client_traps",
]

PROXY_VARS = shellenv.PROXY_VARS
CA_VARS = shellenv.CA_VARS
#: Lower/upper pairs: curl and Python read the lower-case one first, Go and Node tools the upper-case one.
CASE_PAIRS = (("https_proxy", "HTTPS_PROXY"), ("http_proxy", "HTTP_PROXY"), ("all_proxy", "ALL_PROXY"),
              ("no_proxy", "NO_PROXY"))
MAX_LITELLM = litellm_config.MAX_LITELLM
SUBPROCESS_TIMEOUT = 10.0


# ============================================================ environments
shell_kind = shell_syntax.shell_kind
shell_startup_file = shell_syntax.startup_file


def loaded_files(home: str | os.PathLike, shell: str) -> list[str]:
    """The startup files a new terminal of *shell* reads (login or interactive), in order.

    bash reads only the first of ``~/.bash_profile``, ``~/.bash_login`` and
    ``~/.profile`` that exists, which is why a proxy exported in ``~/.profile``
    silently disappears once a ``~/.bash_profile`` is created.
    """
    h = Path(home)
    files = ["/etc/environment"]
    if shell == "bash":
        files.append("/etc/profile")
        for name in (".bash_profile", ".bash_login", ".profile"):
            if (h / name).is_file():
                files.append(str(h / name))
                break
        files.append(str(h / ".bashrc"))
    elif shell == "zsh":
        files += [str(h / ".zshenv"), str(h / ".zprofile"), str(h / ".zshrc")]
    elif shell == "fish":
        files.append(str(h / ".config" / "fish" / "config.fish"))
    else:
        files += ["/etc/profile", str(h / ".profile")]
    return files


def claude_settings_env(home: str | os.PathLike) -> tuple[dict[str, str], str, str | None]:
    """The ``env`` of every Claude Code settings scope, merged: (variables, file(s), problem or None)."""
    cs = claude_settings.read(home, os.getcwd())
    return dict(cs.env), cs.label() or str(Path(home) / ".claude" / "settings.json"), next(iter(cs.problems), None)


@dataclass(frozen=True)
class EnvIssue:
    """One disagreement between the views, with the variables that fix it."""

    key: str            # http_only | profile_only | not_loaded | case_mismatch | stale | claude_differs | missing
    detail: str
    fix: dict[str, str] = field(default_factory=dict)


@dataclass
class EnvComparison:
    """Each variable as this process, a new shell and Claude Code would see it."""

    shell: str
    startup_file: str
    process: dict[str, str]
    new_shell: dict[str, str]                      # what the loaded files set (last assignment wins)
    files: dict[str, list[str]]                    # name -> ["path:line (loaded|not loaded by <shell>)"]
    claude: dict[str, str]
    claude_path: str
    problems: list[str]
    issues: list[EnvIssue]

    def table(self) -> dict[str, dict[str, str | None]]:
        names = [n for n in PROXY_VARS + CA_VARS if n in self.process or n in self.new_shell or n in self.claude
                 or n in self.files]
        return {n: {"this process": self.process.get(n), f"new {self.shell} shell": self.new_shell.get(n),
                    "Claude Code settings.json": self.claude.get(n),
                    "set in": "; ".join(self.files.get(n, [])) or None} for n in names}


_REF = re.compile(r"^\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?$")


def _resolve_ref(value: str, known: Mapping[str, str]) -> str | None:
    """``$HTTPS_PROXY`` / ``${HTTPS_PROXY}`` -> its value; None when it is another expression."""
    m = _REF.match(value)
    if m:
        return known.get(m.group(1))
    return None if "$" in value or "`" in value else value


def compare_env(env: Mapping[str, str], home: str | os.PathLike, *, proxy_value: str | None = None,
                etc_files: bool = True) -> EnvComparison:
    """Compare the proxy/CA variables of *env*, of a new ``$SHELL`` shell, and of Claude Code.

    *proxy_value* is what the fix lines should export (the proxy URL with the
    password replaced by a placeholder); by default the value found.
    """
    shell = shell_kind(env)
    names = PROXY_VARS + CA_VARS
    process = {n: env[n] for n in names if env.get(n, "").strip()}
    files_map = shellenv.profile_files(home)
    if not etc_files:
        files_map = {p: s for p, s in files_map.items() if not p.startswith("/etc/")}
    assignments = shellenv.scan(home, names, files=files_map)
    loaded = loaded_files(home, shell)
    order = {p: i for i, p in enumerate(loaded)}
    new_shell: dict[str, str] = {}
    files: dict[str, list[str]] = {}
    not_loaded: dict[str, list[str]] = {}
    for a in sorted(assignments, key=lambda a: (order.get(a.path, 99), a.line)):
        is_loaded = a.path in order
        files.setdefault(a.name, []).append(f"{a.path}:{a.line} ({'read' if is_loaded else 'not read'} "
                                            f"by {shell})")
        if is_loaded:
            value = _resolve_ref(a.value, {**new_shell})
            new_shell[a.name] = value if value is not None else a.value
        else:
            not_loaded.setdefault(a.name, []).append(f"{a.path}:{a.line}")
    claude, claude_path, claude_problem = claude_settings_env(home)
    claude = {k: v for k, v in claude.items() if k in names}
    problems = [claude_problem] if claude_problem else []
    startup = shell_startup_file(shell)

    def first_proxy(view: Mapping[str, str]) -> str | None:
        for n in ("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "http_proxy", "HTTP_PROXY"):
            if view.get(n):
                return view[n]
        return None

    value = proxy_value or first_proxy(process) or first_proxy(new_shell) or first_proxy(claude)
    issues: list[EnvIssue] = []
    both = {"HTTPS_PROXY": value, "HTTP_PROXY": value, "https_proxy": value, "http_proxy": value} if value else {}

    def has_https(view: Mapping[str, str]) -> bool:
        return any(view.get(n) for n in ("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"))

    def has_any(view: Mapping[str, str]) -> bool:
        return any(view.get(n) for n in ("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "http_proxy",
                                          "HTTP_PROXY"))

    # 1. Nothing in this process, but a file or Claude's settings has it.
    if not has_any(process):
        where = []
        for n in ("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "http_proxy", "HTTP_PROXY"):
            where += files.get(n, [])
        if where:
            key = "profile_only" if has_any(new_shell) else "not_loaded"
            why = ("a new terminal would load it, but the shell or program that started this run did not "
                   "(an IDE, a service, or a terminal opened before the line was added)"
                   if key == "profile_only" else
                   f"{shell} never reads that file, so no new terminal gets it")
            issues.append(EnvIssue(key, f"No proxy variable is set in this process; it is set only in "
                                        f"{'; '.join(where)}: {why}.", both))
        elif has_any(claude):
            issues.append(EnvIssue("claude_only", f"No proxy variable is set in this process or any startup "
                                                  f"file; only {claude_path} sets it, so Claude Code uses the "
                                                  "proxy but curl, Python and LiteLLM do not.", both))
    # 2. HTTP_PROXY without HTTPS_PROXY.
    if has_any(process) and not has_https(process):
        only = ", ".join(n for n in ("http_proxy", "HTTP_PROXY") if process.get(n))
        fix = {"HTTPS_PROXY": value, "https_proxy": value} if value else {}
        issues.append(EnvIssue("http_only", f"Only {only} is set, no HTTPS_PROXY: curl, requests, httpx and "
                                            "LiteLLM send https traffic direct (HTTP_PROXY is for http:// URLs), "
                                            "while Claude Code uses HTTP_PROXY for it; the same machine gives two "
                                            "verdicts.", fix))
    # 3. Upper and lower case disagree, in this process or in a new shell.
    for view_name, view in (("this process", process), (f"a new {shell} shell", new_shell)):
        for lower, upper in CASE_PAIRS:
            a, b = view.get(lower), view.get(upper)
            if a and b and a.strip() != b.strip():
                fix = {upper: b, lower: b} if lower != "no_proxy" else {upper: b, lower: b}
                issues.append(EnvIssue("case_mismatch", f"In {view_name} {lower}={a} but {upper}={b}: curl and "
                                                        f"Python use {lower}, Claude Code and Go tools {upper}; "
                                                        "each client goes its own way.", fix))
                break
    # 4. A loaded file sets a different value than this process has (a stale terminal, or a file that overrides).
    for n, v in new_shell.items():
        if n in process and process[n].strip() != v.strip() and n in PROXY_VARS:
            issues.append(EnvIssue("stale", f"{n} differs: this process has {process[n]}, a new {shell} shell "
                                            f"gets {v} (from {'; '.join(files.get(n, []))}); a new terminal "
                                            "will use another proxy than the one diagnosed here.",
                                   {n: process[n]}))
            break
    # 5. Variables in files the user's shell never reads, missing from this process.
    for n, where in not_loaded.items():
        if n not in process and n not in new_shell and not any(i.key in ("not_loaded", "profile_only")
                                                                  for i in issues):
            issues.append(EnvIssue("not_loaded", f"{n} is set in {'; '.join(where)}, which {shell} does not "
                                                 f"read; add it to {startup}.", {n: _first_value(assignments, n)}))
            break
    # 6. Claude Code's settings.json overrides the shell.
    for n, v in claude.items():
        if n in PROXY_VARS and process.get(n) is not None and process[n].strip() != v.strip():
            issues.append(EnvIssue("claude_differs", f"{claude_path} sets {n}={v}, which Claude Code uses instead "
                                                     f"of this shell's {n}={process[n]}: curl and Claude Code "
                                                     "take different proxies.", {}))
            break
    return EnvComparison(shell, startup, process, new_shell, files, claude, claude_path, problems, issues)


def _first_value(assignments: Sequence[shellenv.Assignment], name: str) -> str:
    for a in assignments:
        if a.name == name:
            return a.value
    return ""


# ============================================================ tool versions
@dataclass(frozen=True)
class ToolVersion:
    name: str
    version: str | None
    where: str | None = None
    missing: str | None = None   # why it is not there


def _run(cmd: Sequence[str], env: Mapping[str, str] | None = None, timeout: float = SUBPROCESS_TIMEOUT,
         cwd: str | None = None) -> tuple[int | None, str, str]:
    """Run a bounded, detached subprocess; (returncode, stdout, stderr); rc None when it could not finish."""
    try:
        proc = subprocess.Popen(list(cmd), env=dict(env) if env is not None else None, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True, cwd=cwd)
    except OSError as exc:
        return None, "", str(exc)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, 9)
        except (OSError, AttributeError):  # AttributeError: no killpg (Windows): kill the child itself
            proc.kill()
        out, err = proc.communicate()
        return None, out.decode("utf-8", "replace")[:65536], f"timed out after {timeout:g}s"
    return proc.returncode, out.decode("utf-8", "replace")[:65536], err.decode("utf-8", "replace")[:65536]


_PY_VERSIONS = r"""
import json, sys, importlib.metadata as md, importlib.util as u
out = {"python": sys.version.split()[0], "executable": sys.executable}
for m, mod in (("requests", "requests"), ("httpx", "httpx"), ("anthropic", "anthropic"), ("litellm", "litellm"),
               ("certifi", "certifi"), ("truststore", "truststore"), ("aiohttp", "aiohttp")):
    try:
        out[m] = md.version(m) if u.find_spec(mod) else None
    except Exception:
        out[m] = None
print(json.dumps(out))
"""


def _os_version() -> str:
    system = platform.system()
    if system == "Darwin":
        return f"macOS {platform.mac_ver()[0]} ({platform.machine()})"
    if system == "Linux":
        try:
            text = Path("/etc/os-release").read_text(encoding="utf-8", errors="replace")[:8192]
            m = re.search(r'^PRETTY_NAME="?([^"\n]*)"?', text, re.M)
            if m:
                return f"{m.group(1)} (kernel {platform.release()}, {platform.machine()})"
        except OSError:
            pass
    return platform.platform()


def tool_versions(env: Mapping[str, str], python: str | None = None) -> dict[str, ToolVersion]:
    """Versions of the tools on a request's path, each from a bounded subprocess; missing ones say why."""
    from pytest_proxydiag.proof.clients import discover

    safe_env = client_env(env)
    python = python or sys.executable
    out: dict[str, ToolVersion] = {}

    def py_packages() -> dict[str, Any]:
        rc, so, se = _run([python, "-c", _PY_VERSIONS], env=safe_env)
        try:
            return json.loads(so.strip().splitlines()[-1]) if rc == 0 and so.strip() else {}
        except ValueError:
            return {}

    def openssl() -> ToolVersion:
        exe = shutil.which("openssl", path=env.get("PATH"))
        if not exe:
            return ToolVersion("openssl", None, missing="openssl not found on PATH")
        rc, so, _ = _run([exe, "version"], env=safe_env, timeout=5)
        return ToolVersion("openssl", so.strip() or None, exe)

    def litellm_cli() -> ToolVersion | None:
        exe = shutil.which("litellm", path=env.get("PATH"))
        return ToolVersion("litellm", None, exe) if exe else None

    with ThreadPoolExecutor(max_workers=4) as pool:
        f_py = pool.submit(py_packages)
        f_ssl = pool.submit(openssl)
        f_cli = pool.submit(litellm_cli)
        f_clients = pool.submit(discover, "curl,node,claude")
        pkgs = f_py.result()
        out["openssl"] = f_ssl.result()
        cli = f_cli.result()
        for info in f_clients.result():
            out[info.name] = ToolVersion(info.name, info.version, info.path,
                                         None if info.available else info.why_not)
    out["python"] = ToolVersion("python", pkgs.get("python") or sys.version.split()[0],
                                pkgs.get("executable") or python)
    for name in ("requests", "httpx", "anthropic", "litellm", "certifi", "truststore", "aiohttp"):
        v = pkgs.get(name)
        if v:
            out[name] = ToolVersion(name, v, python)
        elif name == "litellm" and cli is not None:
            out[name] = ToolVersion(name, None, cli.where, None)
        else:
            out[name] = ToolVersion(name, None, None, f"not installed for {python}")
    out["os"] = ToolVersion("os", _os_version())
    return out


# ============================================================ routes and trust emulation
_PROXY_FOR = {"https": ("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"),
              "http": ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY")}


def client_route(url: str, env: Mapping[str, str], client: str) -> tuple[str | None, str]:
    """(proxy URL or None for direct, why) for *client* sending to *url* with *env*.

    Uses :mod:`pytest_proxydiag.net.routing` (each client's own rules) when it is
    available; otherwise the rules curl and Python share.
    """
    try:
        from pytest_proxydiag.net import routing  # type: ignore[attr-defined]

        r = routing.route(url, env, client)
        return r.proxy, r.reason
    except Exception:  # noqa: BLE001 - routing not available or not knowing this client
        pass
    parts = urlsplit(url)
    scheme = parts.scheme or "https"
    names = _PROXY_FOR.get(scheme, _PROXY_FOR["https"])
    if client == "claude" and scheme == "https":
        names = names + ("http_proxy", "HTTP_PROXY")
    proxy = var = None
    for n in names:
        if env.get(n, "").strip():
            proxy, var = env[n].strip(), n
            break
    if proxy is None:
        return None, f"no {'/'.join(names[:2])} set: {client} connects direct"
    no_proxy = env.get("no_proxy") or env.get("NO_PROXY") or ""
    host = (parts.hostname or "").lower()
    for entry in (e.strip().lower() for e in no_proxy.split(",")):
        if not entry:
            continue
        bare = entry.split(":")[0].lstrip("*").lstrip(".")
        if entry == "*" or host == bare or host.endswith("." + bare):
            return None, f"NO_PROXY entry {entry!r} matches {host}: {client} connects direct"
    return proxy, f"{var}"


def emulate_public_roots(env: Mapping[str, str], client: str, public_roots: str | None) -> dict[str, str]:
    """*env* where *client*'s built-in trust store is *public_roots* (the lab's stand-in for public CAs).

    Only a variable the user has not set for that client is added, so the
    user's own CA configuration is tested as it is: curl's built-in store is
    replaced through ``CURL_CA_BUNDLE`` unless ``CURL_CA_BUNDLE``/``SSL_CERT_FILE``/``SSL_CERT_DIR`` is set,
    requests' certifi through ``REQUESTS_CA_BUNDLE`` unless it or ``CURL_CA_BUNDLE`` is set,
    httpx's (and the Anthropic SDK's) certifi through ``SSL_CERT_FILE`` unless it or ``SSL_CERT_DIR`` is set.
    """
    out = dict(env)
    if not public_roots:
        return out
    rules = {"curl": (("CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR"), "CURL_CA_BUNDLE"),
             "requests": (("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"), "REQUESTS_CA_BUNDLE"),
             "httpx": (("SSL_CERT_FILE", "SSL_CERT_DIR"), "SSL_CERT_FILE"),
             "anthropic": (("SSL_CERT_FILE", "SSL_CERT_DIR"), "SSL_CERT_FILE"),
             "litellm": (("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE"), "SSL_CERT_FILE")}
    if client in rules:
        reads, var = rules[client]
        if not any(out.get(n) for n in reads):
            out[var] = public_roots
    return out


# ============================================================ Python clients vs curl
#: The branch step a client failure points back to (the flowchart's Python test, step 3).
BRANCH_OF = {"auth": "auth.credentials", "connectivity": "connectivity.proxy_reachable",
             "certificate": "certificate.python_ssl", "policy": "policy.domain_allowed",
             "tunnel": "connectivity.proxy_works", "encoding": "auth.special_chars"}


def classify_client_error(run: ClientRun) -> tuple[str, str]:
    """(branch key of :data:`BRANCH_OF`, one-line reason) for a failed client run."""
    code = (run.error_code or "").lower()
    text = (run.error or "").lower()
    if code.startswith("proxy-"):
        status = code.removeprefix("proxy-")
        if status == "407":
            return "auth", "the proxy asked for authentication (407)"
        if status in ("403", "451"):
            return "policy", f"the proxy refused the destination ({status})"
        return "policy", f"the proxy answered {status} instead of the provider"
    if "407" in text or "proxy authentication required" in text:
        return "auth", "the proxy answered 407 Proxy Authentication Required"
    if re.search(r"\b(403|451)\b", text) and ("tunnel" in text or "proxy" in text or "connect" in text):
        return "policy", "the proxy refused CONNECT (403 Forbidden)"
    if re.search(r"\b(502|503|504)\b", text) and ("tunnel" in text or "proxy" in text or "connect" in text):
        return "policy", "the proxy answered a 5xx to CONNECT: it could not reach the provider"
    if "certificate" in text or "ssl" in code or "cert" in text or code in ("60", "35", "77", "83"):
        return "certificate", "TLS verification failed: " + (run.error or "")[:200]
    if "failed to parse" in text or "invalidurl" in code or "invalid url" in text or "invalidproxyurl" in code:
        return "encoding", "the proxy URL cannot be parsed (unencoded special characters?)"
    if code in ("7", "5", "6") or any(w in text for w in ("refused", "newconnectionerror", "unreachable",
                                                            "name or service not known", "failed to resolve")):
        return "connectivity", "the proxy could not be connected to: " + (run.error or "")[:200]
    if code in ("28", "timeout", "connecttimeout", "readtimeout") or "timed out" in text or "timeout" in code:
        return "connectivity", "timed out: " + (run.error or "")[:200]
    return "tunnel", (run.error or run.error_code or "failed")[:300]


@dataclass
class ClientComparison:
    runs: dict[str, ClientRun]
    routes: dict[str, tuple[str | None, str]]
    not_run: dict[str, str]          # client -> why it was not run (direct route while direct is forbidden)


def python_vs_curl(url: str, env: Mapping[str, str], timeout: float, *, clients: Sequence[str] = ("requests",
                   "httpx", "curl"), public_roots: str | None = None, no_direct: bool = True,
                   resolve: Mapping[tuple[str, int], str] | None = None, redactor=None) -> ClientComparison:
    """Run requests, httpx (when installed) and curl in parallel subprocesses with *env*.

    A client whose route is direct is not run when *no_direct* is set (it
    would resolve and contact the provider outside the proxy): its route is
    reported instead.
    """
    routes = {c: client_route(url, env, c) for c in clients}
    not_run: dict[str, str] = {}
    todo = []
    for c in clients:
        proxy, why = routes[c]
        if proxy is None and no_direct:
            not_run[c] = why
        else:
            todo.append(c)

    def one(c: str) -> ClientRun:
        return run_client(c, url, emulate_public_roots(env, c, public_roots), timeout, resolve=resolve or {},
                          redactor=redactor)

    runs: dict[str, ClientRun] = {}
    if todo:
        with ThreadPoolExecutor(max_workers=len(todo)) as pool:
            for c, r in zip(todo, pool.map(one, todo)):
                runs[c] = r
    return ClientComparison(runs, routes, not_run)


def explain_python_failure(client: str, run: ClientRun, curl: ClientRun | None, env: Mapping[str, str],
                           branch: str) -> tuple[str, dict[str, str]]:
    """Why *client* fails where curl works, and the variables that fix it (the APPLICATION finding)."""
    if branch == "certificate":
        if client == "requests":
            if env.get("SSL_CERT_FILE") and not (env.get("REQUESTS_CA_BUNDLE") or env.get("CURL_CA_BUNDLE")):
                return ("requests does not read SSL_CERT_FILE (curl does): it takes its CA bundle from "
                        "REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE, and otherwise from certifi, which lacks the "
                        "proxy's CA", {"REQUESTS_CA_BUNDLE": env["SSL_CERT_FILE"]})
            if env.get("REQUESTS_CA_BUNDLE"):
                return (f"REQUESTS_CA_BUNDLE={env['REQUESTS_CA_BUNDLE']} does not hold the CA that signs what "
                        "the proxy presents, while curl's bundle does", {})
            return ("requests trusts certifi's bundle, not the system store curl uses, and certifi lacks the "
                    "proxy's CA", {"REQUESTS_CA_BUNDLE": _system_bundle()})
        if client == "httpx":
            ca = env.get("REQUESTS_CA_BUNDLE") or env.get("CURL_CA_BUNDLE")
            if ca and not env.get("SSL_CERT_FILE"):
                return ("httpx does not read REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE: it takes SSL_CERT_FILE "
                        "(or SSL_CERT_DIR) and otherwise certifi", {"SSL_CERT_FILE": ca})
            return ("httpx trusts certifi's bundle (or SSL_CERT_FILE), not the system store curl uses",
                    {"SSL_CERT_FILE": _system_bundle()})
    if branch == "encoding":
        return (f"{client} parses the proxy URL more strictly than curl: URL-encode the password "
                "(see auth.special_chars)", {})
    if branch == "auth":
        return (f"{client} did not send the credentials curl sent (curl may take them from ~/.curlrc, .netrc "
                "or -U; requests and httpx only from the proxy URL)", {})
    if "socks" in (run.error or "").lower():
        return (f"{client} needs an extra package for a SOCKS proxy ({'pip install httpx[socks]' if client == 'httpx' else 'pip install requests[socks]'})",
                {})
    return (f"{client} failed with {run.error_code}: {run.error}", {})


def _system_bundle() -> str:
    for p in ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem"):
        if os.path.exists(p):
            return p
    return "<CORPORATE-CA-BUNDLE>"  # a placeholder (proof.fixes.PLACEHOLDERS), never an invented path


# ============================================================ SDK with debug logging
@dataclass
class SdkRun:
    sdk: str
    version: str | None
    ran: bool
    status: int | None = None
    error: str | None = None
    error_type: str | None = None
    log: str = ""
    used_proxy: bool | None = None
    proxy_lines: list[str] = field(default_factory=list)
    elapsed: float = 0.0
    missing: str | None = None


_SDK_SCRIPT = r"""
import io, json, logging, sys, time
a = json.loads(sys.argv[1])
buf = io.StringIO()
handler = logging.StreamHandler(buf)
handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
root = logging.getLogger()
root.addHandler(handler)
root.setLevel(logging.DEBUG)
out = {"sdk": a["sdk"]}
t0 = time.monotonic()
try:
    if a["sdk"] == "anthropic":
        import anthropic
        out["version"] = getattr(anthropic, "__version__", None)
        root.setLevel(logging.DEBUG)
        c = anthropic.Anthropic(api_key=a["key"], base_url=a["url"], max_retries=0, timeout=a["timeout"])
        try:
            c.messages.create(model="claude-proxydiag-check", max_tokens=1,
                              messages=[{"role": "user", "content": "hi"}])
            out["status"] = 200
        except anthropic.APIStatusError as e:
            out["status"] = e.status_code
        except anthropic.APIConnectionError as e:
            out["error"] = f"{e} ({e.__cause__!r})" if e.__cause__ else str(e)
            out["error_type"] = type(e.__cause__ or e).__name__
    else:
        import litellm
        out["version"] = getattr(litellm, "version", None)
        root.setLevel(logging.DEBUG)
        try:
            litellm.completion(model="anthropic/claude-proxydiag-check", api_key=a["key"], api_base=a["url"],
                               messages=[{"role": "user", "content": "hi"}], max_tokens=1, timeout=a["timeout"],
                               num_retries=0)
            out["status"] = 200
        except Exception as e:
            status = getattr(e, "status_code", None)
            if isinstance(status, int):
                out["status"] = status
            else:
                out["error"] = str(e)[:1000]
                out["error_type"] = type(e).__name__
except ImportError as e:
    out["missing"] = str(e)
except Exception as e:
    out["error"] = str(e)[:1000]
    out["error_type"] = type(e).__name__
out["elapsed"] = time.monotonic() - t0
out["log"] = buf.getvalue()[-30000:]
sys.stdout.write("\n" + json.dumps(out) + "\n")
"""

_CONNECT_TCP = re.compile(r"connect_tcp\.started host='([^']*)' port=(\d+)")


def sdk_debug_run(sdk: str, url: str, env: Mapping[str, str], timeout: float, *,
                  public_roots: str | None = None, redact=lambda s: s) -> SdkRun:
    """One keyless request through *sdk* ("anthropic" or "litellm") with debug logging; never raises."""
    run_env = client_env(env)
    run_env.update({"ANTHROPIC_API_KEY": DUMMY_API_KEY, "ANTHROPIC_LOG": "debug", "LITELLM_LOG": "DEBUG",
                    "PYTHONDONTWRITEBYTECODE": "1"})
    run_env = emulate_public_roots(run_env, sdk, public_roots)
    arg = json.dumps({"sdk": sdk, "url": url, "timeout": timeout, "key": DUMMY_API_KEY})
    with tempfile.TemporaryDirectory(prefix="proxydiag-sdk-") as cwd:
        t0 = time.monotonic()
        rc, so, se = _run([sys.executable, "-c", _SDK_SCRIPT, arg], env=run_env, timeout=timeout + 15, cwd=cwd)
        elapsed = time.monotonic() - t0
    data: dict[str, Any] = {}
    for line in reversed(so.strip().splitlines()):
        if line.startswith("{"):
            try:
                data = json.loads(line)
                break
            except ValueError:
                continue
    if data.get("missing"):
        return SdkRun(sdk, None, False, missing=f"{sdk} is not installed for {sys.executable}")
    if not data:
        return SdkRun(sdk, None, False, error=redact((se or so or f"exit {rc}")[-500:]), elapsed=elapsed)
    log = redact(data.get("log", "") + ("\n" + se if se else ""))
    proxy, _why = client_route(url, env, "httpx")
    used = None
    lines: list[str] = []
    target_host = (urlsplit(url).hostname or "").lower()
    hosts = _CONNECT_TCP.findall(log)
    if hosts:
        p = urlsplit(proxy) if proxy else None
        if p is not None and any(h == (p.hostname or "") and int(port) == (p.port or 8080) for h, port in hosts):
            used = True
        elif any(h.lower() == target_host for h, _ in hosts):
            used = False
    lines = [ln for ln in log.splitlines() if "CONNECT" in ln or "connect_tcp.started" in ln
             or "proxy" in ln.lower()][:12]
    if used is None and any("CONNECT" in ln for ln in lines):
        used = True
    return SdkRun(sdk, data.get("version"), True, data.get("status"), redact(data.get("error") or "") or None,
                  data.get("error_type"), log[-8000:], used, lines, float(data.get("elapsed") or elapsed))


# ============================================================ known client traps
def client_traps(env: Mapping[str, str], versions: Mapping[str, ToolVersion], proxy_url=None,
                 proxy_auth_schemes: Sequence[str] = ()) -> list[str]:
    """Known client-side traps that apply to this machine (each one line)."""
    traps = []
    has_proxy = any(env.get(n) for n in ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY", "all_proxy",
                                           "ALL_PROXY"))
    if versions.get("anthropic") and versions["anthropic"].version:
        traps.append("Anthropic Python SDK: a client built with a custom http_client/transport "
                     "(httpx.Client(...), DefaultHttpxClient(transport=...)) ignores HTTPS_PROXY; pass "
                     "proxy=... to it or keep trust_env on.")
    if versions.get("litellm") and (versions["litellm"].version or versions["litellm"].where) and has_proxy \
            and env.get("AIOHTTP_TRUST_ENV", "").lower() not in ("1", "true", "yes"):
        traps.append("LiteLLM: its aiohttp transport honours the proxy variables only with AIOHTTP_TRUST_ENV=True "
                     "(export AIOHTTP_TRUST_ENV=True before starting LiteLLM).")
    if versions.get("node") and versions["node"].version and has_proxy and not env.get("NODE_USE_ENV_PROXY"):
        traps.append("Node: the built-in fetch/https ignore HTTPS_PROXY unless NODE_USE_ENV_PROXY=1 "
                     "(Node 22.21+/24+); Claude Code handles the variables itself.")
    if proxy_url is not None and getattr(proxy_url, "is_socks", False):
        traps.append(f"Claude Code does not support SOCKS proxies ({proxy_url.scheme}://): use an HTTP proxy.")
    if any(s.lower() in ("ntlm", "negotiate", "kerberos") for s in proxy_auth_schemes) and \
            not any(s.lower() == "basic" for s in proxy_auth_schemes):
        traps.append("Claude Code supports Basic proxy authentication only: NTLM/Kerberos need cntlm or a "
                     "gateway in between.")
    return traps


# ============================================================ LiteLLM config
@dataclass
class LiteLLMConfig:
    path: str
    source: str
    error: str | None = None
    proxy: dict[str, Any] = field(default_factory=dict)       # where -> value
    env_refs: dict[str, list[str]] = field(default_factory=dict)   # VAR -> [where]
    unset_refs: dict[str, list[str]] = field(default_factory=dict)
    ssl_verify_false: list[str] = field(default_factory=list)
    ssl_verify: dict[str, Any] = field(default_factory=dict)
    request_timeout: float | None = None
    router_timeout: float | None = None
    timeouts: dict[str, float] = field(default_factory=dict)     # every timeout-like key, where -> seconds
    models: int = 0


def find_litellm_config(option: str | None, option_source: str, cwd: str | os.PathLike) -> tuple[str, str] | None:
    """(path, source) of the LiteLLM config, by :func:`pytest_proxydiag.machine.litellm_config.locate`'s rule."""
    found = litellm_config.locate(option, option_source, cwd)
    return (found.path, found.source) if found else None


_PROXY_KEYS = {"http_proxy", "https_proxy", "no_proxy", "all_proxy"}
_TIMEOUT_KEYS = {"request_timeout", "timeout", "stream_timeout"}


def parse_litellm_config(path: str, env: Mapping[str, str], source: str = "") -> LiteLLMConfig:
    """Read a LiteLLM config with ``yaml.safe_load`` (bounded); never raises."""
    cfg = LiteLLMConfig(path=path, source=source)
    doc, cfg.error = litellm_config.load(path)
    if cfg.error:
        return cfg

    seen: set[int] = set()

    def walk(node: Any, where: str, depth: int = 0) -> None:
        # Anchors and aliases share objects: visit each container once (no blow-up on alias bombs).
        if depth > 50:
            return
        if isinstance(node, (dict, list)):
            if id(node) in seen:
                return
            seen.add(id(node))
        if isinstance(node, dict):
            for k, v in node.items():
                key = str(k)
                here = f"{where}.{key}" if where else key
                lk = key.lower()
                if lk in _PROXY_KEYS and not isinstance(v, (dict, list)):
                    cfg.proxy[here] = v
                if lk == "ssl_verify":
                    cfg.ssl_verify[here] = v
                    if v is False or (isinstance(v, str) and v.strip().lower() in ("false", "no", "0")):
                        cfg.ssl_verify_false.append(here)
                if lk in _TIMEOUT_KEYS and isinstance(v, (int, float)) and not isinstance(v, bool):
                    cfg.timeouts[here] = float(v)
                elif lk in _TIMEOUT_KEYS and isinstance(v, str):
                    try:
                        cfg.timeouts[here] = float(v)
                    except ValueError:
                        pass
                walk(v, here, depth + 1)
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{where}[{i}]", depth + 1)
        elif isinstance(node, str):
            m = re.match(r"^\s*os\.environ/([A-Za-z_][A-Za-z0-9_]*)\s*$", node)
            if m:
                cfg.env_refs.setdefault(m.group(1), []).append(where)

    walk(doc, "")
    env_section = doc.get("environment_variables")
    if isinstance(env_section, dict):
        for k, v in env_section.items():
            if str(k).lower() in _PROXY_KEYS:
                cfg.proxy[f"environment_variables.{k}"] = v
    for var, wheres in cfg.env_refs.items():
        if not env.get(var, "").strip():
            if isinstance(env_section, dict) and env_section.get(var) not in (None, ""):
                continue  # LiteLLM sets it from its own environment_variables section
            cfg.unset_refs[var] = wheres
    ls = doc.get("litellm_settings") if isinstance(doc.get("litellm_settings"), dict) else {}
    rs = doc.get("router_settings") if isinstance(doc.get("router_settings"), dict) else {}
    cfg.request_timeout = _num(ls.get("request_timeout"))
    cfg.router_timeout = _num(rs.get("timeout"))
    models = doc.get("model_list")
    cfg.models = len(models) if isinstance(models, list) else 0
    return cfg


def _num(v: Any) -> float | None:
    if isinstance(v, bool) or v is None:
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None
