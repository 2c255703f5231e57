"""routing.py agrees with the real clients, row by row.

Expected values are never written by hand: for requests, urllib and httpx they are
computed by the installed library in this process; for curl, Node/undici, Go and
Claude Code by running the real program with the row's environment and observing
which local listener its connection reached (a per-variable "proxy" listener, or
the origin). Those programs run inside a private network namespace (``unshare -mn``)
with a private /etc/hosts, so nothing outside this machine exists for them; curl is
also given ``--resolve``. Without root and ``unshare`` those rows are skipped (an error under
``CI=true``, like every missing tool).

The NO_PROXY value the diagnosis proposes (:func:`corrected_no_proxy`) is checked the same way: by
the real clients, never by the emulator that produced it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import ssl
import sys
import textwrap
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from conftest import missing_tool
from pytest_proxydiag.net import routing
from pytest_proxydiag.net.routing import (CLIENTS, corrected_no_proxy, matches_no_proxy, no_proxy_value, route,
                                      route_matrix, verify_no_proxy)

# ---------------------------------------------------------------------------------------
# the table: (env, url). Env values "{var}" stand for "the proxy listener of that variable".

PROXY_VARS = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")
ALL4 = {"http_proxy": "{http_proxy}", "HTTP_PROXY": "{HTTP_PROXY}",
        "https_proxy": "{https_proxy}", "HTTPS_PROXY": "{HTTPS_PROXY}"}
API = "https://api.example.com:18080/"


def np(url, **no_proxy_vars):
    return (dict(ALL4, **no_proxy_vars), url)


ROWS = [
    np(API),
    np(API, NO_PROXY="example.com"),
    np("https://notexample.com:18080/", NO_PROXY="example.com"),
    np("https://api.example.com:18080/", NO_PROXY="xample.com"),
    np("https://example.com:18080/", NO_PROXY=".example.com"),
    np(API, NO_PROXY=".example.com"),
    np(API, NO_PROXY="*.example.com"),
    np("https://example.com:18080/", NO_PROXY="*.example.com"),
    np("https://notexample.com:18080/", NO_PROXY="*example.com"),
    np(API, NO_PROXY="*"),
    np(API, NO_PROXY="localhost,*"),
    np(API, NO_PROXY="foo.test example.com"),
    np(API, NO_PROXY="example.com foo.test"),
    np(API, NO_PROXY=" foo.test , ,api.example.com ,, "),
    np(API, NO_PROXY="EXAMPLE.COM"),
    np(API, NO_PROXY="api.example.com."),
    np("http://10.1.2.3:18080/", NO_PROXY="10.0.0.0/8"),
    np("http://10.1.2.3:18080/", NO_PROXY="10.1.2.3"),
    np("http://10.1.2.3:18080/", NO_PROXY="2.3"),
    np("http://[::1]:18080/", NO_PROXY="::1"),
    np("http://[::1]:18080/", NO_PROXY="[::1]"),
    np("http://[2001:db8::5]:18080/", NO_PROXY="2001:db8::5"),
    np("http://[2001:db8::5]:18080/", NO_PROXY="[2001:db8::5]"),
    np("http://[2001:db8::5]:18080/", NO_PROXY="2001:db8::/32"),
    np(API, NO_PROXY="example.com:18080"),
    np(API, NO_PROXY="api.example.com:18080"),
    np("https://api.example.com/", NO_PROXY="api.example.com:443"),
    np(API, no_proxy="", NO_PROXY="example.com"),
    np(API, no_proxy="foo.test", NO_PROXY="example.com"),
    np(API, no_proxy="example.com", NO_PROXY="foo.test"),
    np("http://localhost:18080/", NO_PROXY="localhost"),
    np("http://localhost:18080/"),
    np("http://127.0.0.1:18080/", NO_PROXY="127.0.0.0/8"),
    np("http://127.0.0.1:18080/"),
    # which proxy variable, without NO_PROXY
    ({"HTTP_PROXY": "{HTTP_PROXY}"}, API),
    ({"HTTP_PROXY": "{HTTP_PROXY}"}, "http://api.example.com:18080/"),
    ({"http_proxy": "{http_proxy}"}, API),
    ({"http_proxy": "{http_proxy}"}, "http://api.example.com:18080/"),
    ({"http_proxy": "{http_proxy}", "HTTP_PROXY": "{HTTP_PROXY}"}, "http://api.example.com:18080/"),
    ({"https_proxy": "{https_proxy}", "HTTPS_PROXY": "{HTTPS_PROXY}"}, API),
    ({"https_proxy": "", "HTTPS_PROXY": "{HTTPS_PROXY}"}, API),
    ({"HTTPS_PROXY": "{HTTPS_PROXY}"}, "http://api.example.com:18080/"),
    ({"ALL_PROXY": "{ALL_PROXY}"}, API),
    ({"all_proxy": "{all_proxy}", "ALL_PROXY": "{ALL_PROXY}"}, API),
    ({"http_proxy": "{http_proxy}", "ALL_PROXY": "{ALL_PROXY}"}, API),
    ({"https_proxy": "{https_proxy}", "http_proxy": "{http_proxy}"}, "http://api.example.com:18080/"),
]

ROW_IDS = [f"{i:02d}:{url}:{','.join(f'{k}={v}' for k, v in env.items() if 'no_proxy' in k.lower()) or '-'}"
           f":{'+'.join(k for k in env if k in PROXY_VARS)}" for i, (env, url) in enumerate(ROWS)]

# what a corrected NO_PROXY must keep direct, and what it must send through the proxy
KEEP = ["localhost", "127.0.0.1", "169.254.169.254", "litellm.corp.example:4000"]
MUST = ["api.anthropic.com", "bedrock-runtime.us-east-1.amazonaws.com", "us-central1-aiplatform.googleapis.com"]
KEEP_URLS = ["http://localhost:18080/", "http://127.0.0.1:18080/", "http://169.254.169.254/",
             "http://litellm.corp.example:4000/"]
MUST_URLS = [f"https://{h}/" for h in MUST]

# names the clients see; inside the namespace they resolve to loopback via /etc/hosts
MAPPED_NAMES = ("api.example.com", "example.com", "notexample.com", "foo.test", "litellm.corp.example", *MUST)
EXTRA_ADDRS = ("10.1.2.3", "2001:db8::5", "169.254.169.254")
ORIGIN_ADDRS = ("127.0.0.1", "::1") + EXTRA_ADDRS
ORIGIN_PORTS = (18080, 80, 443, 4000)
PROXY_PORTS = {name: 18001 + i for i, name in enumerate(PROXY_VARS)}


def materialize(env: dict, ports: dict[str, int] = PROXY_PORTS) -> dict:
    out = {}
    for k, v in env.items():
        if v.startswith("{") and v.endswith("}"):
            v = f"http://127.0.0.1:{ports[v[1:-1]]}"
        out[k] = v
    return out


def expected(env: dict, url: str, client: str) -> str:
    """Our prediction as an observable outcome: 'direct' or the variable's listener."""
    r = route(url, env, client)
    return "direct" if r.proxy is None else f"proxy:{r.proxy_var}"


# ---------------------------------------------------------------------------------------
# in-process: requests, urllib, httpx


@pytest.fixture
def clean_env(monkeypatch):
    for k in list(os.environ):
        if k.lower() in ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "request_method"):
            monkeypatch.delenv(k)

    def apply(env):
        for k, v in env.items():
            monkeypatch.setenv(k, v)
    return apply


def _var_of(proxy: str | None, env: dict, candidates) -> str:
    if proxy is None:
        return "direct"
    names = [k for k in candidates if env.get(k) == proxy]
    return f"proxy:{names[0]}" if len(names) == 1 else f"proxy:{proxy}"


@pytest.mark.parametrize("row", range(len(ROWS)), ids=ROW_IDS)
def test_requests_agrees_with_real_requests(row, clean_env):
    import requests.utils
    env, url = ROWS[row]
    env = materialize(env)
    clean_env(env)
    real = requests.utils.select_proxy(url, requests.utils.get_environ_proxies(url))
    ours = route(url, env, "requests")
    assert ours.proxy == real, ours.reason
    if real is not None:
        assert ours.proxy_var and env[ours.proxy_var] == real


@pytest.mark.parametrize("row", range(len(ROWS)), ids=ROW_IDS)
def test_urllib_agrees_with_real_urllib(row, clean_env):
    env, url = ROWS[row]
    env = materialize(env)
    clean_env(env)
    proxies = urllib.request.getproxies_environment()
    scheme = urlsplit(url).scheme
    real = proxies.get(scheme)  # ProxyHandler installs only <scheme>_open handlers
    if real and urllib.request.proxy_bypass_environment(urllib.request.Request(url).host):
        real = None
    ours = route(url, env, "urllib")
    assert ours.proxy == real, ours.reason


_CTX = ssl.create_default_context()  # one TLS context: httpx's default costs ~100 ms per client


def _httpx_real(url: str):
    """('error', msg) | ('direct', None) | ('proxy', proxy_url) from httpx's own mounts."""
    import httpx
    from httpx._utils import get_environment_proxies
    try:
        client = httpx.Client(trust_env=True, verify=_CTX)
    except Exception as exc:  # httpx.InvalidURL from a NO_PROXY entry
        return "error", f"{type(exc).__name__}: {exc}"
    try:
        target = httpx.URL(url)
        for pattern, transport in client._mounts.items():
            if pattern.matches(target):
                if transport is None:
                    return "direct", None
                return "proxy", get_environment_proxies()[pattern.pattern]
        return "direct", None
    finally:
        client.close()


@pytest.mark.parametrize("row", range(len(ROWS)), ids=ROW_IDS)
def test_httpx_agrees_with_real_httpx(row, clean_env):
    env, url = ROWS[row]
    env = materialize(env)
    clean_env(env)
    kind, value = _httpx_real(url)
    ours = route(url, env, "httpx")
    if kind == "error":
        assert ours.error and "httpx cannot start" in ours.error, value
        return
    assert ours.error is None
    assert ours.proxy == value, ours.reason


# ---------------------------------------------------------------------------------------
# the observer: real programs, local listeners, a private network namespace

OBSERVER = textwrap.dedent(r'''
    import json, os, socket, subprocess, sys, threading, time
    spec = json.load(sys.stdin)
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    for a in spec["extra_addrs"]:
        subprocess.run(["ip", "addr", "add", a + ("/128" if ":" in a else "/32"), "dev", "lo"], check=True)
    hosts = spec["hosts_file"]
    with open(hosts, "w") as f:
        f.write("127.0.0.1 localhost\n::1 localhost ip6-localhost\n")
        f.writelines(f"127.0.0.1 {n}\n" for n in spec["names"])
    subprocess.run(["mount", "--bind", hosts, "/etc/hosts"], check=True)
    hits, lock = [], threading.Lock()
    def answer(c):
        try:
            c.settimeout(1.0)
            try: c.recv(65536)
            except OSError: pass
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        except OSError: pass
        finally: c.close()
    def serve(name, s):
        while True:
            try: c, _ = s.accept()
            except OSError: return
            with lock: hits.append(name)
            threading.Thread(target=answer, args=(c,), daemon=True).start()
    time.sleep(0.3)  # let IPv6 addresses leave the "tentative" state
    for name, addr, port in spec["listeners"]:
        fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if fam == socket.AF_INET6: s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.bind((addr, port)); s.listen(32)
        threading.Thread(target=serve, args=(name, s), daemon=True).start()
    out = []
    for case in spec["cases"]:
        with lock: hits.clear()
        # the first connection decides the case: stop the client shortly after it (a
        # second connection within the grace period would still be seen and reported)
        p = subprocess.Popen(case["argv"], env=case["env"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, cwd=case.get("cwd"))
        deadline, first_hit = time.monotonic() + case.get("timeout", 8), None
        while p.poll() is None and time.monotonic() < deadline:
            with lock:
                if hits and first_hit is None:
                    first_hit = time.monotonic()
            if first_hit is not None and time.monotonic() - first_hit > 0.3:
                break
            time.sleep(0.02)
        timed_out = p.poll() is None and first_hit is None
        if p.poll() is None:
            p.kill()
        so, err = p.communicate()
        rc, err, so = p.returncode, ("timeout" if timed_out else err[-800:]), so[-800:]
        time.sleep(0.05)
        with lock: out.append({"hits": sorted(set(hits)), "rc": rc, "stderr": err, "stdout": so})
    json.dump(out, sys.stdout)
''')


def _netns_available() -> bool:
    if not shutil.which("unshare") or not shutil.which("ip") or os.geteuid() != 0:
        return False
    try:
        p = subprocess.run(["unshare", "-mn", "true"], capture_output=True, timeout=10)
        return p.returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.fixture(scope="module")
def observe(tmp_path_factory):
    """observe(cases) -> one outcome per case: 'direct', 'proxy:<var>', or 'none'."""
    if not _netns_available():
        missing_tool("running real clients in a private network namespace needs root, `unshare -mn` and `ip` "
                     "(Debian: apt-get install util-linux iproute2; run as root)")
    d = tmp_path_factory.mktemp("observer")
    script = d / "observer.py"
    script.write_text(OBSERVER)
    listeners = [[f"proxy:{v}", "127.0.0.1", p] for v, p in PROXY_PORTS.items()]
    listeners += [["direct", a, p] for a in ORIGIN_ADDRS for p in ORIGIN_PORTS]

    def run(cases):
        spec = {"extra_addrs": list(EXTRA_ADDRS), "names": list(MAPPED_NAMES), "listeners": listeners,
                "hosts_file": str(d / "hosts"), "cases": cases}
        p = subprocess.run(["unshare", "-mn", sys.executable, str(script)], input=json.dumps(spec),
                           capture_output=True, text=True, timeout=60 + 20 * len(cases))
        assert p.returncode == 0, p.stderr[-3000:]
        results = json.loads(p.stdout)
        outcomes = []
        for r in results:
            assert len(r["hits"]) <= 1, r  # one connection target per run, never two
            outcomes.append(r["hits"][0] if r["hits"] else f"none (rc={r['rc']}: {r['stderr'][-300:]})")
        return outcomes
    return run


def _base_env(**extra):
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/nonexistent", **extra}


def _compare(client, observed_by_row):
    mismatches = []
    for i, ((env, url), seen) in enumerate(zip(ROWS, observed_by_row)):
        if seen is None:
            continue
        want = expected(materialize(env), url, client)
        if want != seen:
            mismatches.append(f"{ROW_IDS[i]}: real {client} -> {seen}, routing.py -> {want}: "
                              f"{route(url, materialize(env), client).reason}")
    assert not mismatches, "\n".join(mismatches)


def test_curl_agrees_with_real_curl(observe):
    if not shutil.which("curl"):
        missing_tool("curl is not installed (apt-get install curl)")
    cases = []
    for env, url in ROWS:
        u = urlsplit(url)
        port = u.port or (443 if u.scheme == "https" else 80)
        resolve = []
        if u.hostname in MAPPED_NAMES:  # belt and braces: the namespace's /etc/hosts maps them too
            resolve = ["--resolve", f"{u.hostname}:{port}:127.0.0.1"]
        cases.append({"argv": ["curl", "-s", "-o", "/dev/null", "--connect-timeout", "2", "-m", "4",
                               *resolve, url], "env": _base_env(**materialize(env))})
    _compare("curl", observe(cases))


def _find_undici() -> str | None:
    """A directory whose node_modules holds undici with EnvHttpProxyAgent."""
    candidates = [os.environ.get("PROXYDIAG_UNDICI_DIR", ""), "/tmp/pdx-undici",
                  str(Path.home() / ".cache" / "pytest-proxydiag" / "undici")]
    try:
        candidates.append(str(Path(subprocess.run(["npm", "root", "-g"], capture_output=True, text=True,
                                                  timeout=20).stdout.strip()).parent))
    except (OSError, subprocess.TimeoutExpired):
        pass
    for c in candidates:
        if c and (Path(c) / "node_modules" / "undici" / "lib" / "dispatcher" / "env-http-proxy-agent.js").exists():
            return str(Path(c) / "node_modules")
    return None


NODE_SCRIPT = (
    "const {EnvHttpProxyAgent, request} = require('undici');"
    "process.removeAllListeners('warning');"
    # the first connection is all we observe; do not wait for undici to finish a tunnel
    # through a listener that only pretends to be a proxy
    "setTimeout(() => process.exit(0), 1500);"
    "const a = new EnvHttpProxyAgent();"
    "request(process.argv[1], {dispatcher: a, headersTimeout: 3000, bodyTimeout: 3000})"
    ".then(r => r.body.text()).catch(() => {}).finally(() => process.exit(0));"
)


def _require_undici() -> str:
    # Node 20 bundles undici internally (process.versions.undici) but does not expose
    # require('undici'); its fetch() ignores proxy variables. EnvHttpProxyAgent comes
    # from the npm package.
    if not shutil.which("node"):
        missing_tool("node is not installed (apt-get install nodejs npm)")
    modules = _find_undici()
    if not modules:
        missing_tool("undici (npm) not found: npm install --prefix ~/.cache/pytest-proxydiag/undici undici@6")
    return modules


def test_node_undici_agrees_with_real_undici(observe):
    modules = _require_undici()
    cases = [{"argv": ["node", "-e", NODE_SCRIPT, url], "env": _base_env(NODE_PATH=modules, **materialize(env))}
             for env, url in ROWS]
    _compare("node", observe(cases))


GO_PROGRAM = """package main

import (
\t"fmt"
\t"net/http"
\t"os"
)

func main() {
\tfor _, u := range os.Args[1:] {
\t\treq, _ := http.NewRequest("GET", u, nil)
\t\tp, err := http.ProxyFromEnvironment(req)
\t\tif err != nil || p == nil {
\t\t\tfmt.Println("direct")
\t\t} else {
\t\t\tfmt.Println(p.String())
\t\t}
\t}
}
"""


@pytest.fixture(scope="module")
def go_binary(tmp_path_factory):
    go = shutil.which("go") or ("/usr/lib/go/bin/go" if os.path.exists("/usr/lib/go/bin/go") else None)
    if not go:
        missing_tool("go is not installed (apt-get install golang-go)")
    d = tmp_path_factory.mktemp("goproxy")
    (d / "main.go").write_text(GO_PROGRAM)
    env = dict(os.environ, GOCACHE=str(d / "cache"), GOPATH=str(d / "gopath"), GO111MODULE="off", GOFLAGS="")
    p = subprocess.run([go, "build", "-o", str(d / "proxyfor"), str(d / "main.go")], capture_output=True,
                       text=True, timeout=300, env=env)
    assert p.returncode == 0, p.stderr
    return str(d / "proxyfor")


def test_go_agrees_with_real_net_http(go_binary):
    # ProxyFromEnvironment is a pure function of the environment and the URL: the Go
    # program prints its answer and never opens a connection.
    mismatches = []
    for i, (env, url) in enumerate(ROWS):
        menv = materialize(env)
        out = subprocess.run([go_binary, url], env=_base_env(**menv), capture_output=True, text=True,
                             timeout=30).stdout.strip()
        ours = route(url, menv, "go")
        want = "direct" if ours.proxy is None else ours.proxy
        if out != want:
            mismatches.append(f"{ROW_IDS[i]}: real Go -> {out}, routing.py -> {want}: {ours.reason}")
    assert not mismatches, "\n".join(mismatches)


def _find_claude() -> str | None:
    for c in (os.environ.get("PROXYDIAG_CLAUDE", ""), shutil.which("claude") or "",
              "/opt/proxydiag-claude/node_modules/.bin/claude"):
        if c and os.path.exists(c):
            return c
    return None


def _require_claude() -> str:
    claude = _find_claude()
    if not claude:
        missing_tool("Claude Code is not installed (npm install --prefix DIR @anthropic-ai/claude-code, or "
                     ".ci/install-claude.sh)")
    return claude


def _claude_case(claude: str, home: Path, url: str, env: dict) -> dict:
    return {"argv": [claude, "-p", "hello", "--output-format", "json"], "timeout": 25,
            "env": _base_env(HOME=str(home), ANTHROPIC_API_KEY="sk-ant-dummy-not-a-key",
                             DISABLE_AUTOUPDATER="1", CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
                             CLAUDE_CODE_MAX_RETRIES="0", ANTHROPIC_BASE_URL=url.rstrip("/"), **env)}


def test_claude_code_agrees_with_real_claude(observe, tmp_path):
    claude = _require_claude()
    home = tmp_path / "home"
    home.mkdir()
    cases = [_claude_case(claude, home, url, materialize(env)) for env, url in ROWS]
    _compare("claude", observe(cases))


# ---------------------------------------------------------------------------------------
# the API itself


def test_no_proxy_value_precedence_differs_by_client():
    both = {"no_proxy": "a.test", "NO_PROXY": "b.test"}
    assert no_proxy_value(both, "curl") == ("a.test", "no_proxy")
    assert no_proxy_value(both, "go") == ("b.test", "NO_PROXY")
    empty_lower = {"no_proxy": "", "NO_PROXY": "b.test"}
    assert no_proxy_value(empty_lower, "node") == ("", "no_proxy")       # undici: ?? keeps ""
    assert no_proxy_value(empty_lower, "urllib") == (None, None)         # urllib: "" removes it
    assert no_proxy_value(empty_lower, "requests") == ("b.test", "NO_PROXY")
    assert no_proxy_value(empty_lower, "curl") == ("b.test", "NO_PROXY")
    assert no_proxy_value({}, "claude") == (None, None)


def test_match_names_the_entry_and_the_rule():
    m = matches_no_proxy("api.anthropic.com", None, "localhost, .anthropic.com", "curl")
    assert m is not None and m.entry == ".anthropic.com" and m.client == "curl"
    assert "subdomain" in m.rule
    assert matches_no_proxy("api.anthropic.com", None, "localhost", "curl") is None
    assert matches_no_proxy("anything", None, "", "go") is None
    with pytest.raises(ValueError, match="unknown client"):
        matches_no_proxy("a", None, "a", "wget")


def test_plain_suffix_generation_of_requests_is_named():
    rule = routing._match_requests("notexample.com", None, "https", "example.com", plain_suffix=True)
    assert rule and "plain string suffix" in rule[1]
    assert routing._match_requests("notexample.com", None, "https", "example.com", plain_suffix=False) is None


def test_route_explains_direct_and_proxied():
    env = {"HTTP_PROXY": "http://127.0.0.1:3128"}
    assert route("https://api.anthropic.com", env, "claude").proxy == "http://127.0.0.1:3128"
    r = route("https://api.anthropic.com", env, "curl")
    assert r.proxy is None and "HTTPS_PROXY" in r.reason
    r = route("https://api.anthropic.com", {"HTTPS_PROXY": "http://p:1", "NO_PROXY": "[::1]"}, "httpx")
    assert r.error and "InvalidURL" in r.error
    m = route_matrix(["https://api.anthropic.com"], {"HTTPS_PROXY": "http://p:1", "NO_PROXY": "anthropic.com"})
    assert set(m) == set(CLIENTS)
    # a plain entry covers subdomains everywhere except in undici, where it is an exact host
    assert {c for c in CLIENTS if m[c]["https://api.anthropic.com"].direct} == set(CLIENTS) - {"node"}


USER_NO_PROXY_VALUES = [
    "localhost,127.0.0.1,.anthropic.com",
    "*",
    "localhost, *.internal,,anthropic.com ,  10.0.0.0/8",
    ".com,localhost",
    "thropic.com,amazonaws.com,googleapis.com",
    "",
    "[::1],::1,*.svc.cluster.local",
]
#: Each distinct corrected value once (several user values correct to the same string).
CORRECTED = sorted({corrected_no_proxy(v, KEEP, MUST) for v in USER_NO_PROXY_VALUES})


@pytest.mark.parametrize("user_value", USER_NO_PROXY_VALUES)
def test_corrected_no_proxy_is_one_clean_list_keeping_the_users_entries(user_value):
    fixed = corrected_no_proxy(user_value, KEEP, MUST)
    assert " " not in fixed and "*" not in fixed and ",," not in fixed
    assert "litellm.corp.example:4000" in fixed.split(",") or "litellm.corp.example" in fixed.split(",")
    if "*.internal" in user_value:
        assert ".internal" in fixed.split(",")  # kept, in the form curl understands
    if "10.0.0.0/8" in user_value:
        assert "10.0.0.0/8" in fixed.split(",")
    assert fixed in CORRECTED


def _correction_env(fixed: str, ports: dict[str, int] = PROXY_PORTS) -> dict:
    """Both proxy variables set (a host that is not bypassed reaches one of them), NO_PROXY the correction."""
    return {"HTTPS_PROXY": f"http://127.0.0.1:{ports['HTTPS_PROXY']}",
            "HTTP_PROXY": f"http://127.0.0.1:{ports['HTTP_PROXY']}", "NO_PROXY": fixed}


def _correction_mismatches(client: str, seen: dict[tuple[str, str], str]) -> list[str]:
    """What the real client did that the correction promised it would not (KEEP direct, MUST proxied)."""
    bad = []
    for (fixed, url), outcome in seen.items():
        want_direct = url in KEEP_URLS
        if (outcome != "direct") if want_direct else not outcome.startswith("proxy"):
            bad.append(f"real {client} with NO_PROXY={fixed!r}: {url} -> {outcome}, the correction promised "
                       f"{'direct' if want_direct else 'the proxy'}")
    return bad


def test_corrected_no_proxy_holds_for_the_real_python_clients(clean_env):
    import requests.utils

    seen: dict[str, dict[tuple[str, str], str]] = {"requests": {}, "urllib": {}, "httpx": {}}
    for fixed in CORRECTED:
        env = _correction_env(fixed)
        clean_env(env)
        for url in KEEP_URLS + MUST_URLS:
            proxy = requests.utils.select_proxy(url, requests.utils.get_environ_proxies(url))
            seen["requests"][fixed, url] = "direct" if proxy is None else "proxy"
            bypass = urllib.request.proxy_bypass_environment(urllib.request.Request(url).host)
            seen["urllib"][fixed, url] = "direct" if bypass else "proxy"
            kind, _ = _httpx_real(url)
            assert kind != "error", (fixed, url, _)
            seen["httpx"][fixed, url] = kind
    problems = [p for client, s in seen.items() for p in _correction_mismatches(client, s)]
    assert not problems, "\n".join(problems)


def _observed_corrections(observe, argv_for) -> dict[tuple[str, str], str]:
    pairs = [(fixed, url) for fixed in CORRECTED for url in KEEP_URLS + MUST_URLS]
    outcomes = observe([argv_for(fixed, url) for fixed, url in pairs])
    return {pair: "direct" if o == "direct" else o for pair, o in zip(pairs, outcomes)}


def test_corrected_no_proxy_holds_for_real_curl(observe):
    if not shutil.which("curl"):
        missing_tool("curl is not installed (apt-get install curl)")
    seen = _observed_corrections(observe, lambda fixed, url: {
        "argv": ["curl", "-s", "-o", "/dev/null", "--connect-timeout", "2", "-m", "4", url],
        "env": _base_env(**_correction_env(fixed))})
    assert not (problems := _correction_mismatches("curl", seen)), "\n".join(problems)


def test_corrected_no_proxy_holds_for_real_undici(observe):
    modules = _require_undici()
    seen = _observed_corrections(observe, lambda fixed, url: {
        "argv": ["node", "-e", NODE_SCRIPT, url], "env": _base_env(NODE_PATH=modules, **_correction_env(fixed))})
    assert not (problems := _correction_mismatches("undici", seen)), "\n".join(problems)


def test_corrected_no_proxy_holds_for_real_go(go_binary):
    seen = {}
    for fixed in CORRECTED:
        env = _correction_env(fixed)
        urls = KEEP_URLS + MUST_URLS
        out = subprocess.run([go_binary, *urls], env=_base_env(**env), capture_output=True, text=True,
                             timeout=30).stdout.split()
        assert len(out) == len(urls), out
        seen.update({(fixed, url): "direct" if o == "direct" else "proxy" for url, o in zip(urls, out)})
    assert not (problems := _correction_mismatches("Go", seen)), "\n".join(problems)


def test_corrected_no_proxy_holds_for_real_claude(observe, tmp_path):
    claude = _require_claude()
    home = tmp_path / "home"
    home.mkdir()
    seen = _observed_corrections(observe, lambda fixed, url: _claude_case(claude, home, url,
                                                                          _correction_env(fixed)))
    assert not (problems := _correction_mismatches("Claude Code", seen)), "\n".join(problems)


def test_verify_no_proxy_names_each_failing_client():
    problems = verify_no_proxy("anthropic.com", [], ["api.anthropic.com"])
    assert any("curl" in p for p in problems) and any("Go" in p for p in problems)
    assert not any("Node" in p for p in problems)  # undici: a plain entry is an exact host
