"""The real-client runner (pytest_proxydiag.proof.clients) against a real Squid.

Every client here is the real program: curl, requests and httpx in a child
interpreter, node, and Claude Code (installed by .ci/install-claude.sh; found
through PROXYDIAG_CLAUDE).  The provider name never resolves on the host:
through the proxy Squid's hosts_file maps it to the loopback origin, and for
names a client resolves itself the runner's pins map it to 127.0.0.2, where
nothing listens -- the "closed network" of a corporate machine.  Claude Code
gets those pins through a private /etc/hosts in a mount namespace.
"""

from __future__ import annotations

import json
import os
import re
import signal
import tempfile
import time
from pathlib import Path

import pytest

from pytest_proxydiag.proof import clients
from pytest_proxydiag.proof.client_base import PROVIDER_CLIENTS
from pytest_proxydiag.proof.clients import (CLIENT_NAMES, DUMMY_API_KEY, ClientRun, client_env, describe, discover,
                                      run_client, run_clients)

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CLAUDE = "/opt/proxydiag-claude/node_modules/.bin/claude"
PROVIDER = "api.anthropic.com"
CLOSED_ADDR = "127.0.0.2"  # loopback, but nothing binds it: a direct connection is refused at once
CANARY_KEY = "sk-ant-api03-proxydiagCANARY-0123456789abcdef"
CANARY_TOKEN = "canary-token-7f3c9e1d"
TIMEOUT = 15.0


def _pinned_claude_version() -> str:
    text = (REPO / ".ci" / "install-claude.sh").read_text()
    return re.search(r'CLAUDE_CODE_VERSION="([^"]+)"', text).group(1)


# ----------------------------------------------------------------------------- the lab


def _pins(lab) -> dict[tuple[str, int], str]:
    """Names a client resolves itself go nowhere: the direct path is closed, as on a corporate network."""
    return {(PROVIDER, lab.origin_port): CLOSED_ADDR}


def _user_env(lab, tmp_path: Path, **changes: str | None) -> dict[str, str]:
    """The user's environment in *lab*: its proxy/CA variables over a clean base.

    The machine's trust stores know the lab's fake public roots (as certifi and
    the OS store know the real ones); the lab's own CA variables, where the
    scenario sets them, replace that.  A value of None in *changes* unsets.
    """
    home = tmp_path / "user-home"
    home.mkdir(exist_ok=True)
    public = lab.public_roots
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "LANG": "C.UTF-8",
           "REQUESTS_CA_BUNDLE": public, "SSL_CERT_FILE": public, "CURL_CA_BUNDLE": public,
           "NODE_EXTRA_CA_CERTS": public}
    env.update(lab.env)
    for key, value in changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def _fix_env(lab, tmp_path: Path) -> dict[str, str]:
    """What issue #11 prescribes for interception: replacing stores get public roots + corporate CA,
    NODE_EXTRA_CA_CERTS (which extends) gets the corporate CA alone, in PEM."""
    bundle = tmp_path / "fix-bundle.pem"
    bundle.write_bytes(Path(lab.public_roots).read_bytes() + lab.interception_ca_pem)
    return {"REQUESTS_CA_BUNDLE": str(bundle), "SSL_CERT_FILE": str(bundle), "CURL_CA_BUNDLE": str(bundle),
            "NODE_EXTRA_CA_CERTS": lab.interception_ca_path}


def _proxied(lab, method: str = "CONNECT"):
    return [r for r in lab.proxy_requests() if r.method == method and PROVIDER in r.url]


# ----------------------------------------------------------------------------- which clients


def _under_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


@pytest.fixture
def claude_default(monkeypatch):
    """Point PROXYDIAG_CLAUDE at .ci/install-claude.sh's default install when nothing else is set."""
    if not os.environ.get(clients.CLAUDE_ENV) and os.access(DEFAULT_CLAUDE, os.X_OK):
        monkeypatch.setenv(clients.CLAUDE_ENV, DEFAULT_CLAUDE)


@pytest.fixture
def claude(claude_default):
    """Claude Code's ClientInfo, for tests about Claude Code; skipped when absent, an error under CI=true."""
    (info,) = discover("claude")
    if not info.available:
        message = f"Claude Code unavailable: {info.why_not} (install it with .ci/install-claude.sh)"
        if _under_ci():
            pytest.fail(message + "; under CI=true this is an error, not a skip")
        pytest.skip(message)
    return info


@pytest.fixture
def available(claude_default):
    """Names of the clients installed here that speak the Anthropic API; under CI=true every one of them must be.

    boto3 speaks Bedrock's API only (tests/test_bedrock.py runs it against the lab's Bedrock endpoint)."""
    infos = [i for i in discover("auto") if i.name not in PROVIDER_CLIENTS]
    missing = [i for i in infos if not i.available]
    if missing and _under_ci():
        pytest.fail("clients missing under CI=true: " + "; ".join(f"{i.name}: {i.why_not}" for i in missing))
    if not any(i.available for i in infos if i.name != "node"):
        pytest.skip("no proxy-aware client is installed")
    return [i.name for i in infos if i.available]


def _by_client(runs: list[ClientRun]) -> dict[str, ClientRun]:
    return {r.client: r for r in runs}


def _connects(log: str) -> list[str]:
    return [line for line in log.splitlines() if f"CONNECT {PROVIDER}:" in line]


# ----------------------------------------------------------------------------- discovery and env


def test_discover_selection_forms():
    assert discover("none") == []
    assert [i.name for i in discover("auto")] == list(CLIENT_NAMES)
    infos = discover(" curl , bogus,curl ")
    assert [i.name for i in infos] == ["curl", "bogus"]
    bogus = infos[1]
    assert not bogus.available and "unknown client 'bogus'" in bogus.why_not
    assert "curl,requests,httpx,node,claude,boto3" in bogus.why_not


def test_discover_reports_why_claude_is_missing(monkeypatch, tmp_path):
    not_exec = tmp_path / "claude"
    not_exec.write_text("")
    monkeypatch.setenv(clients.CLAUDE_ENV, str(not_exec))
    (info,) = discover("claude")
    assert not info.available and info.why_not == f"PROXYDIAG_CLAUDE={not_exec} is not an executable file"
    monkeypatch.delenv(clients.CLAUDE_ENV)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    (info,) = discover("claude")
    assert not info.available and "not found on PATH" in info.why_not and "PROXYDIAG_CLAUDE" in info.why_not


def test_one_client_is_looked_up_once_by_racing_threads(monkeypatch, tmp_path):
    """Two threads asking for curl at once (discover's pool, a step's early start) run one lookup."""
    calls = []

    def slow_lookup():
        calls.append(1)
        time.sleep(0.2)
        return clients.ClientInfo("curl", "/bin/curl", "8.0", True, None)

    monkeypatch.setitem(clients._INFO_FUNCS, "curl", slow_lookup)
    monkeypatch.setenv("PATH", str(tmp_path))  # a cache key of its own, so no earlier lookup answers
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(lambda _: discover("curl"), range(2)))
    assert calls == [1]
    assert answers[0] == answers[1]


def test_discover_finds_the_pinned_claude(claude):
    assert claude.version == _pinned_claude_version()


def test_client_env_removes_every_credential_but_keeps_the_proxy():
    env = {"PATH": "/usr/bin", "ANTHROPIC_API_KEY": CANARY_KEY, "ANTHROPIC_AUTH_TOKEN": CANARY_TOKEN,
           "CLAUDE_CODE_OAUTH_TOKEN": "oauth-canary-123", "OPENAI_API_KEY": "sk-openai-canary",
           "AWS_SECRET_ACCESS_KEY": "aws-secret-canary", "AWS_SESSION_TOKEN": "aws-session-canary",
           "GITHUB_TOKEN": "ghp_canary", "MY_SERVICE_SECRET": "svc-canary", "some_api_key": "lower-canary",
           "ANTHROPIC_CUSTOM_HEADERS": f"x-api-key: {CANARY_KEY}",
           "COPY_OF_TOKEN_VALUE": CANARY_TOKEN + "-suffix", "PASTED": f"key={CANARY_KEY}",
           "HTTPS_PROXY": "http://alice:pr0xy-pw@127.0.0.1:3128", "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
           "NODE_EXTRA_CA_CERTS": "/etc/ca.pem", "NO_PROXY": "localhost"}
    out = client_env(env)
    assert out == {"PATH": "/usr/bin", "HTTPS_PROXY": "http://alice:pr0xy-pw@127.0.0.1:3128",
                   "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "NODE_EXTRA_CA_CERTS": "/etc/ca.pem",
                   "NO_PROXY": "localhost"}


@pytest.mark.parametrize("url,path,full,base", [
    ("https://api.anthropic.com", "/v1/messages", "https://api.anthropic.com/v1/messages", "https://api.anthropic.com"),
    ("https://gw.corp/anthropic/", "/v1/messages", "https://gw.corp/anthropic/v1/messages", "https://gw.corp/anthropic"),
    ("https://gw.corp/anthropic/v1/messages", "/v1/messages", "https://gw.corp/anthropic/v1/messages",
     "https://gw.corp/anthropic"),
    ("http://user:pw@h:1/x", "v1/messages", "http://h:1/x/v1/messages", "http://h:1/x"),
])
def test_request_url_and_claude_base_url(url, path, full, base):
    req = clients._build_request(url, {}, 1, "POST", path, {})
    assert (req.full_url, req.base_url) == (full, base)


def test_bad_input_gives_a_result_not_an_exception():
    run = run_client("curl", "ftp://example.invalid/", {"PATH": os.environ["PATH"]}, 1)
    assert (run.reached, run.error_code) == (False, "invalid-url")
    run = run_client("lynx", "https://api.anthropic.com", {}, 1)
    assert (run.reached, run.error_code) == (False, "unavailable") and "unknown client" in run.error
    assert describe(run).startswith("lynx: unavailable: unknown client")


# ----------------------------------------------------------------------------- stand-in binaries
# Scripts in place of curl/node/claude show what a client process receives
# (its environment, argv, cwd) and how the runner treats one that hangs.

_DUMPER = """#!/bin/sh
env > "$PROXYDIAG_TEST_DUMP/$(basename "$0").env"
printf '%s\\n' "$@" > "$PROXYDIAG_TEST_DUMP/$(basename "$0").argv"
pwd > "$PROXYDIAG_TEST_DUMP/$(basename "$0").cwd"
tty > "$PROXYDIAG_TEST_DUMP/$(basename "$0").tty" 2>&1
echo "not a real client" >&2
exit 3
"""


def test_no_client_process_sees_the_users_credentials_or_home(tmp_path, monkeypatch):
    bindir, dump = tmp_path / "bin", tmp_path / "dump"
    bindir.mkdir()
    dump.mkdir()
    for name in ("curl", "node", "claude"):
        (bindir / name).write_text(_DUMPER)
        (bindir / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    monkeypatch.delenv(clients.CLAUDE_ENV, raising=False)
    user_home = tmp_path / "user-home"
    env = {"PATH": os.environ["PATH"], "HOME": str(user_home), "PROXYDIAG_TEST_DUMP": str(dump),
           "ANTHROPIC_API_KEY": CANARY_KEY, "ANTHROPIC_AUTH_TOKEN": CANARY_TOKEN,
           "CLAUDE_CONFIG_DIR": str(user_home / ".claude"), "ANTHROPIC_BASE_URL": "https://gateway.example",
           "HTTPS_PROXY": "http://127.0.0.1:9"}
    runs = run_clients(["curl", "node", "claude"], "https://api.anthropic.com", env, 5)
    for run in runs:
        assert not run.reached and run.error == "not a real client" and run.error_code in ("3", "exit 3"), run
        assert CANARY_KEY not in repr(run) and CANARY_TOKEN not in repr(run)
    for name in ("curl", "node", "claude"):
        seen = (dump / f"{name}.env").read_text()
        assert CANARY_KEY not in seen and CANARY_TOKEN not in seen, name
        assert "HTTPS_PROXY=http://127.0.0.1:9" in seen
        assert "not a tty" in (dump / f"{name}.tty").read_text()
        assert (dump / f"{name}.cwd").read_text().strip() != os.getcwd()
    claude_env = dict(line.split("=", 1) for line in (dump / "claude.env").read_text().splitlines() if "=" in line)
    assert claude_env["ANTHROPIC_API_KEY"] == DUMMY_API_KEY
    assert claude_env["HOME"] != str(user_home) and claude_env["CLAUDE_CONFIG_DIR"].startswith(claude_env["HOME"])
    # The default endpoint needs no base URL, and the user's gateway must not redirect the check.
    assert "ANTHROPIC_BASE_URL" not in claude_env
    for key, value in {"DISABLE_AUTOUPDATER": "1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
                       "CLAUDE_CODE_MAX_RETRIES": "0"}.items():
        assert claude_env[key] == value
    argv = (dump / "claude.argv").read_text().splitlines()
    assert argv[:5] == ["-p", "hello", "--output-format", "json", "--bare"] and "--debug-file" in argv
    curl_argv = (dump / "curl.argv").read_text().splitlines()
    assert f"x-api-key: {DUMMY_API_KEY}" in curl_argv and curl_argv[-1] == "https://api.anthropic.com/v1/messages"


@pytest.mark.parametrize("password", ["pr0xy-pw", "p@ss:w/rd#1?"])
def test_client_output_is_redacted_with_the_envs_and_the_callers_secrets(tmp_path, monkeypatch, password):
    from pytest_proxydiag.core.redact import Redactor

    fake = tmp_path / "curl"
    # A client that echoes everything it should not: the proxy password, a key, a caller-known secret.
    fake.write_text('#!/bin/sh\n[ "$1" = --version ] && exec echo "curl 0.0-echo"\n'
                    'echo "curl: (56) via $HTTPS_PROXY pw=$PW x-api-key: sk-ant-api03-leakleakleak '
                    'site=corp-secret-42" >&2\nexit 56\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    env = {"PATH": os.environ["PATH"], "HTTPS_PROXY": f"http://alice:{password}@127.0.0.1:9", "PW": password}
    run = run_client("curl", "https://api.anthropic.com", env, 5, redactor=Redactor(["corp-secret-42"]))
    assert run.error_code == "56" and run.error.startswith("via http://alice:***@127.0.0.1:9")
    for secret in (password, "sk-ant-api03-leakleakleak", "corp-secret-42"):
        assert secret not in repr(run)


_BARELESS_CLAUDE = """#!/bin/sh
for a in "$@"; do [ "$a" = --bare ] && { echo "error: unknown option '--bare'" >&2; exit 1; }; done
echo '{"type":"result","is_error":true,"api_error_status":401,"result":"Invalid API key"}'
"""


def test_claude_without_bare_is_run_again_without_it(tmp_path, monkeypatch):
    fake = tmp_path / "claude"
    fake.write_text(_BARELESS_CLAUDE)
    fake.chmod(0o755)
    monkeypatch.setenv(clients.CLAUDE_ENV, str(fake))
    run = run_client("claude", "https://api.anthropic.com", {"PATH": os.environ["PATH"]}, 5)
    assert (run.reached, run.status) == (True, 401) and "--bare" not in run.command, run


def test_a_hanging_client_is_killed_with_its_children(tmp_path, monkeypatch):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    pidfile = tmp_path / "child.pid"
    (bindir / "curl").write_text(f'#!/bin/sh\n[ "$1" = --version ] && exec echo "curl 0.0-hang"\n'
                                f"sleep 300 &\necho $! > {pidfile}\nwait\n")
    (bindir / "curl").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    start = time.monotonic()
    run = run_client("curl", "https://api.anthropic.com", {"PATH": os.environ["PATH"]}, 0.5)
    took = time.monotonic() - start
    assert (run.reached, run.error_code) == (False, "timeout") and "killed" in run.error
    assert took < 0.5 + clients.KILL_GRACE + 1.5
    child = int(pidfile.read_text())
    for _ in range(50):  # the kernel takes a moment; an unreaped zombie is dead too
        try:
            state = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            break
        if state in ("Z", "X"):
            break
        time.sleep(0.02)
    else:
        os.kill(child, signal.SIGKILL)
        pytest.fail("the hanging client's child survived the timeout")


# ----------------------------------------------------------------------------- through a real Squid


def test_healthy_proxy_every_client_reaches_the_provider(lab_factory, available, tmp_path, record_property):
    lab = lab_factory("healthy")
    runs = _by_client(run_clients(available, lab.target_url, _user_env(lab, tmp_path), TIMEOUT, resolve=_pins(lab)))
    timings = {name: round(run.elapsed, 3) for name, run in runs.items()}
    record_property("client_seconds", json.dumps(timings))
    print("client wall time (healthy, parallel):", timings)
    proxy_aware = [n for n in runs if n != "node"]
    for name in proxy_aware:
        run = runs[name]
        assert (run.reached, run.status, run.error) == (True, 401, None), describe(run)
        assert describe(run) == f"{name} {run.version}: reached (401)"
        # A command to paste: the target, and no private temporary path that is gone already.
        assert lab.target_url in run.command and tempfile.gettempdir() + "/proxydiag-" not in run.command, run
    # One CONNECT per proxy-aware client: each went through Squid, none around it.
    assert len(_proxied(lab)) == len(proxy_aware)
    if "node" in runs:
        # A plain Node program ignores HTTPS_PROXY: it goes direct, and the direct path is closed.
        node = runs["node"]
        assert (node.reached, node.error_code) == (False, "ECONNREFUSED"), describe(node)
        assert "does not read HTTPS_PROXY" in node.note


def test_node_client_reaches_when_the_direct_path_is_open(lab_factory, tmp_path):
    if not discover("node")[0].available:
        pytest.skip("node is not installed")
    lab = lab_factory("healthy")
    env = _user_env(lab, tmp_path, HTTPS_PROXY=None, HTTP_PROXY=None)
    run = run_client("node", lab.target_url, env, TIMEOUT, resolve={(PROVIDER, lab.origin_port): "127.0.0.1"})
    assert (run.reached, run.status, run.note) == (True, 401, None), describe(run)


def test_untrusted_interception_each_client_says_it_in_its_own_words(lab_factory, available, tmp_path):
    lab = lab_factory("ssl-bump-untrusted")
    runs = _by_client(run_clients(available, lab.target_url, _user_env(lab, tmp_path), TIMEOUT, resolve=_pins(lab)))
    expected = {
        "curl": ("60", "SSL certificate problem: self-signed certificate in certificate chain"),
        "requests": ("SSLError", "self-signed certificate in certificate chain"),
        "httpx": ("ConnectError", "self-signed certificate in certificate chain"),
        "claude": ("SELF_SIGNED_CERT_IN_CHAIN", "Self-signed certificate detected"),
    }
    present = [name for name in expected if name in runs]
    for name in present:
        code, text = expected[name]
        run = runs[name]
        assert not run.reached and run.error_code == code and text in run.error, describe(run)
    assert len(_proxied(lab)) == len(present)  # each failed at Squid's certificate, not before


def test_interception_with_the_fix_env_every_client_reaches(lab_factory, available, tmp_path):
    lab = lab_factory("ssl-bump-untrusted")
    env = _user_env(lab, tmp_path, **_fix_env(lab, tmp_path))
    proxy_aware = [n for n in available if n != "node"]
    runs = run_clients(proxy_aware, lab.target_url, env, TIMEOUT, resolve=_pins(lab))
    for run in runs:
        assert (run.reached, run.status, run.note) == (True, 401, None), describe(run)
    # Bumped: Squid decrypted and logged each request, with the provider's 401.
    posts = _proxied(lab, "POST")
    assert len(posts) == len(proxy_aware) and {r.status for r in posts} == {401}


def test_der_node_extra_ca_certs_is_ignored_by_claude_with_invalid_ca(lab_factory, claude, tmp_path):
    lab = lab_factory("der-ca")
    der = lab.env["NODE_EXTRA_CA_CERTS"]
    # Only Node's variable carries the corporate CA, and it is DER: Claude Code cannot use it.
    env = _user_env(lab, tmp_path, REQUESTS_CA_BUNDLE=lab.public_roots, SSL_CERT_FILE=lab.public_roots,
                    CURL_CA_BUNDLE=lab.public_roots)
    run = run_client("claude", lab.target_url, env, TIMEOUT, resolve=_pins(lab))
    assert not run.reached, describe(run)
    # 2.1.197 said "ConnectionRefused" here; 2.1.332 names the certificate error.
    assert run.error_code in ("SELF_SIGNED_CERT_IN_CHAIN", "ConnectionRefused"), describe(run)
    assert "Invalid CA" in run.note, describe(run)
    # The same CA in PEM is the fix.
    fixed = run_client("claude", lab.target_url, {**env, "NODE_EXTRA_CA_CERTS": lab.interception_ca_path},
                       TIMEOUT, resolve=_pins(lab))
    assert (fixed.reached, fixed.status, fixed.note) == (True, 401, None), describe(fixed)
    # The lab's scenario also has SSL_CERT_FILE holding the corporate CA: Claude Code 2.1.332 then
    # reaches despite the DER file and says it ignored the file; 2.1.197 failed with "ConnectionRefused"
    # (measured) -- the bad file was harmful there, it is only useless now.
    as_lab = run_client("claude", lab.target_url, _user_env(lab, tmp_path), TIMEOUT, resolve=_pins(lab))
    assert "is DER, not PEM" in as_lab.note and der.endswith(".cer")
    if claude.version == _pinned_claude_version():
        assert (as_lab.reached, as_lab.status) == (True, 401), describe(as_lab)


def test_only_http_proxy_claude_uses_it_curl_and_python_go_direct(lab_factory, available, claude, tmp_path):
    lab = lab_factory("healthy")
    env = _user_env(lab, tmp_path, HTTPS_PROXY=None, HTTP_PROXY=lab.proxy_url)
    runs = _by_client(run_clients(available, lab.target_url, env, TIMEOUT, resolve=_pins(lab)))
    claude_run = runs["claude"]
    assert (claude_run.reached, claude_run.status) == (True, 401), describe(claude_run)
    assert len(_proxied(lab)) == 1  # Claude Code's, and only Claude Code's
    for name, code in {"curl": "7", "requests": "ConnectionError", "httpx": "ConnectError",
                       "node": "ECONNREFUSED"}.items():
        if name in runs:
            run = runs[name]
            assert not run.reached and run.error_code == code, describe(run)
            assert re.search(r"(?i)refused|couldn't connect", run.error), describe(run)


def test_no_proxy_containing_the_provider_sends_every_client_direct(lab_factory, available, tmp_path):
    lab = lab_factory("no-proxy-provider")
    runs = _by_client(run_clients(available, lab.target_url, _user_env(lab, tmp_path), TIMEOUT, resolve=_pins(lab)))
    assert _proxied(lab) == []
    expected = {"curl": {"7"}, "requests": {"ConnectionError"}, "httpx": {"ConnectError"}, "node": {"ECONNREFUSED"},
                "claude": {"ECONNREFUSED", "ConnectionRefused"}}  # 2.1.332, 2.1.197
    for name, run in runs.items():
        # Refused, not a name-lookup failure: the pins (a private /etc/hosts for Claude Code) held.
        assert not run.reached and run.error_code in expected[name], describe(run)
        assert re.search(r"(?i)refused|couldn't connect", run.error), describe(run)


def test_canary_key_never_reaches_a_client_the_origin_or_the_output(lab_factory, available, tmp_path,
                                                                     monkeypatch):
    from pytest_proxydiag.lab import servers as lab_servers

    # Let the origin record key headers verbatim, to see exactly which key arrived.
    monkeypatch.setattr(lab_servers, "SECRET_HEADERS", frozenset())
    lab = lab_factory("basic-auth")
    env = _user_env(lab, tmp_path, ANTHROPIC_API_KEY=CANARY_KEY, ANTHROPIC_AUTH_TOKEN=CANARY_TOKEN,
                    CLAUDE_CODE_OAUTH_TOKEN=CANARY_TOKEN)
    password = lab.proxy_url.split(":")[2].split("@")[0]
    runs = run_clients(available, lab.target_url, env, TIMEOUT, resolve=_pins(lab))
    for run in runs:
        text = repr(run)
        assert CANARY_KEY not in text and CANARY_TOKEN not in text and password not in text, text
        assert run.client == "node" or (run.reached, run.status) == (True, 401), describe(run)
    seen = lab.origin_requests()
    assert len(seen) == len([r for r in runs if r.reached])
    for req in seen:
        assert req.headers.get("x-api-key") == DUMMY_API_KEY, req.headers
        assert "authorization" not in req.headers


def test_curl_ignores_uppercase_http_proxy_where_requests_uses_it(lab_factory, tmp_path):
    from urllib.parse import urlsplit

    lab = lab_factory("healthy")
    http_port = urlsplit(lab.http_target_url).port
    pins = {(PROVIDER, http_port): CLOSED_ADDR}
    upper = _user_env(lab, tmp_path, HTTPS_PROXY=None, HTTP_PROXY=lab.proxy_url)
    curl, requests_run = run_clients(["curl", "requests"], lab.http_target_url, upper, TIMEOUT, resolve=pins)
    # curl reads only lowercase http_proxy (httpoxy): it went direct, into the closed network.
    assert (curl.reached, curl.error_code) == (False, "7"), describe(curl)
    assert (requests_run.reached, requests_run.status) == (True, 401), describe(requests_run)
    lower = _user_env(lab, tmp_path, HTTPS_PROXY=None, HTTP_PROXY=None, http_proxy=lab.proxy_url)
    curl = run_client("curl", lab.http_target_url, lower, TIMEOUT, resolve=pins)
    assert (curl.reached, curl.status) == (True, 401), describe(curl)


def test_a_blackholed_proxy_costs_one_timeout_not_a_hang(lab_factory, available, tmp_path):
    lab = lab_factory("proxy-blackholed")
    timeout = 2.0
    start = time.monotonic()
    runs = _by_client(run_clients(available, lab.target_url, _user_env(lab, tmp_path), timeout, resolve=_pins(lab)))
    took = time.monotonic() - start
    # In parallel, bounded together: one timeout plus the kill grace (and slack for a busy machine).
    assert took < timeout + clients.KILL_GRACE + 1.5, took
    expected = {"curl": "28", "requests": "ProxyError", "httpx": "ConnectTimeout",
                "claude": "timeout"}  # Claude Code waits past 90 s on its own: the runner kills it
    for name, code in expected.items():
        if name in runs:
            assert not runs[name].reached and runs[name].error_code == code, describe(runs[name])
            assert ("killed" if name == "claude" else "timed out") in runs[name].error, describe(runs[name])


def test_unencoded_special_characters_break_every_client_encoded_they_all_reach(lab_factory, available, tmp_path):
    lab = lab_factory("special-chars-password")
    password = lab.proxy_url.split("://", 1)[1].rsplit("@", 1)[0].split(":", 1)[1]
    proxy_aware = [n for n in available if n != "node"]
    raw = _by_client(run_clients(proxy_aware, lab.target_url, _user_env(lab, tmp_path), TIMEOUT, resolve=_pins(lab)))
    expected = {"curl": ("5", "Unsupported proxy syntax"), "requests": ("InvalidURL", "Failed to parse"),
                "httpx": ("InvalidURL", ""), "claude": ("InvalidProxyURL", "cannot be parsed")}
    for name in raw:
        code, text = expected[name]
        run = raw[name]
        assert not run.reached and run.error_code == code and text in run.error, describe(run)
    assert _proxied(lab) == []  # none of them got as far as the proxy
    encoded = _user_env(lab, tmp_path, HTTPS_PROXY=lab.correct_proxy_url, HTTP_PROXY=lab.correct_proxy_url)
    runs = run_clients(proxy_aware, lab.target_url, encoded, TIMEOUT, resolve=_pins(lab))
    for run in list(raw.values()) + runs:
        assert password not in repr(run) and password.replace("@", "%40") not in repr(run)
    for run in runs:
        assert (run.reached, run.status) == (True, 401), describe(run)
