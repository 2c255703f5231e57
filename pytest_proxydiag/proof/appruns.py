"""Running the user's clients for the APPLICATION branch: tool versions, Python clients next to curl, SDKs.

Each run is a bounded, detached subprocess with the user's environment minus
its secrets (:func:`~.clients.client_env`) and a dummy key: the user's API key
is never sent.  What the runs mean is judged in ``branches/application.py``.

The runs are the slowest part of a healthy diagnosis (``import anthropic`` alone
is about 1.5 s of CPU), so :mod:`~pytest_proxydiag.proof.early` starts the ones the
selected steps will ask for ahead of them; the steps take them from the probe cache
(:func:`versions_of`, :func:`sdk_run_of`, :func:`comparison_of`).
"""

from __future__ import annotations

import json
import platform
import re
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence
from urllib.parse import urlsplit

from pytest_proxydiag.proof import subprocs
from pytest_proxydiag.proof.clients import DUMMY_API_KEY, ClientRun, client_env, run_client

if TYPE_CHECKING:  # pragma: no cover
    from pytest_proxydiag.proof.early import WarmProcess

__all__ = ["ToolVersion", "tool_versions", "client_route", "emulate_public_roots", "ClientComparison",
           "python_vs_curl", "SdkRun", "sdk_debug_run", "versions_of", "installed_sdks", "sdk_run_of",
           "python_clients", "comparison_of", "sdk_command", "public_roots_of", "installed"]



# ============================================================ tool versions
@dataclass(frozen=True)
class ToolVersion:
    name: str
    version: str | None
    where: str | None = None
    missing: str | None = None   # why it is not there


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
        rc, so, se = subprocs.run([python, "-c", _PY_VERSIONS], env=safe_env)
        try:
            return json.loads(so.strip().splitlines()[-1]) if rc == 0 and so.strip() else {}
        except ValueError:
            return {}

    def openssl() -> ToolVersion:
        exe = shutil.which("openssl", path=env.get("PATH"))
        if not exe:
            return ToolVersion("openssl", None, missing="openssl not found on PATH")
        rc, so, _ = subprocs.run([exe, "version"], env=safe_env, timeout=5)
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


def go():
    # Started ahead of its request (warm_up): the SDK is loaded; wait for the word, or end on EOF unused.
    global t0
    if a.get("wait") and sys.stdin.readline().strip() != "go":
        sys.exit(0)
    t0 = time.monotonic()  # "elapsed" is the request's own time, the SDK's import left out


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
        # Made before the wait: building the client reads the environment and loads the CA file, no network.
        c = anthropic.Anthropic(api_key=a["key"], base_url=a["url"], max_retries=0, timeout=a["timeout"])
        go()
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
        go()
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
sys.stdout.flush()
# Tearing down the SDK's thousands of modules and models costs half a second: the answer is written, so end now.
import os
os._exit(0)
"""

_CONNECT_TCP = re.compile(r"connect_tcp\.started host='([^']*)' port=(\d+)")


def sdk_command(sdk: str, url: str, env: Mapping[str, str], timeout: float, public_roots: str | None, *,
                 wait: bool = False) -> tuple[list[str], dict[str, str]]:
    """The command and environment of one SDK run (*wait*: it loads the SDK, then waits for "go" on stdin)."""
    run_env = client_env(env)
    run_env.update({"ANTHROPIC_API_KEY": DUMMY_API_KEY, "ANTHROPIC_LOG": "debug", "LITELLM_LOG": "DEBUG",
                    "PYTHONDONTWRITEBYTECODE": "1"})
    run_env = emulate_public_roots(run_env, sdk, public_roots)
    arg: dict[str, Any] = {"sdk": sdk, "url": url, "timeout": timeout, "key": DUMMY_API_KEY}
    if wait:
        arg["wait"] = True
    return [sys.executable, "-c", _SDK_SCRIPT, json.dumps(arg)], run_env


def sdk_debug_run(sdk: str, url: str, env: Mapping[str, str], timeout: float, *,
                  public_roots: str | None = None, redact=lambda s: s, warm: WarmProcess | None = None) -> SdkRun:
    """One keyless request through *sdk* ("anthropic" or "litellm") with debug logging; never raises.

    *warm*: the same run started ahead (:func:`warm_up`), its SDK already loaded: it is told to go.
    """
    t0 = time.monotonic()
    if warm is not None:
        rc, so, se = warm.go(timeout + 15)
    else:
        cmd, run_env = sdk_command(sdk, url, env, timeout, public_roots)
        with tempfile.TemporaryDirectory(prefix="proxydiag-sdk-") as cwd:
            rc, so, se = subprocs.run(cmd, env=run_env, timeout=timeout + 15, cwd=cwd)
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


# ============================================================ the steps' runs, shared and started early
def public_roots_of(settings) -> str | None:
    """``--proxydiag-public-roots`` when the user set it (its default is not a choice)."""
    return settings["public_roots"] if settings.source("public_roots") != "default" else None


def installed(module: str) -> bool:
    """*module* can be imported by this Python (found, not imported)."""
    try:
        import importlib.util

        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def versions_of(state) -> dict[str, ToolVersion]:
    """:func:`tool_versions` of the user's environment, once per session."""
    env = state.settings.env
    return state.probes.cached(("app-versions",), lambda: tool_versions(env))


def installed_sdks(versions: Mapping[str, ToolVersion]) -> list[str]:
    """The SDKs of ``branches.application.SDKS`` that *versions* found installed: the ones step 2 runs."""
    from pytest_proxydiag.branches.application import SDKS

    return [sdk for sdk in SDKS if versions.get(sdk) and versions[sdk].version]


def sdk_run_of(state, sdk: str, target) -> SdkRun:
    """:func:`sdk_debug_run` of *sdk* against *target*, once per session (waiting for one already running);
    the process :func:`warm_up` started for it, if any, is the one told to go."""
    s = state.settings
    key = ("app-sdk", sdk, target.url)
    return state.probes.cached(key, lambda: sdk_debug_run(
        sdk, target.url, s.env, s.timeout, public_roots=public_roots_of(s), redact=state.redactor.redact,
        warm=state.warm.pop(key, None)))


def python_clients() -> list[str]:
    """The clients step 3 compares: requests, httpx (when installed) and curl."""
    return ["requests", "httpx", "curl"] if installed("httpx") else ["requests", "curl"]


def comparison_of(state, target) -> ClientComparison:
    """:func:`python_vs_curl` against *target*, once per session (waiting for one already running)."""
    s = state.settings
    return state.probes.cached(("app-clients", target.url), lambda: python_vs_curl(
        target.origin, s.env, s.timeout, clients=python_clients(), public_roots=public_roots_of(s),
        no_direct=s["no_direct"], resolve=s.resolve, redactor=state.redactor))
