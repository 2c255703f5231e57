"""The real-client runner (pytest_proxydiag.clients) against a real Squid.

Every client here is the real program: curl, requests and httpx in a child
interpreter, node, and Claude Code (installed by .ci/install-claude.sh; found
through PROXYDIAG_CLAUDE).  The provider name never resolves on the host:
through the proxy Squid's hosts_file maps it to the loopback origin, and for
names a client resolves itself the runner's pins map it to 127.0.0.2, where
nothing listens -- the "closed network" of a corporate machine.  Claude Code
gets those pins through a private /etc/hosts in a mount namespace.
"""

from __future__ import annotations

import glob
import http.server
import json
import os
import pwd
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest

from pytest_proxydiag import clients
from pytest_proxydiag.clients import (CLIENT_NAMES, DUMMY_API_KEY, ClientRun, client_env, describe, discover,
                                      run_client, run_clients)

from conftest import require_squid  # tests/ is on sys.path (rootdir conftest)

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


# ----------------------------------------------------------------------------- private lab
# TODO(lab): replace with pytest_proxydiag.lab.Lab once it lands (one harness for the project).

class _Origin:
    """HTTPS look-alike of the provider: 401 to any POST, records what it saw."""

    def __init__(self, ca) -> None:
        self.seen: list[tuple[str, str, dict, bytes]] = []
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ca.issue_cert(PROVIDER, "localhost", "127.0.0.1").configure_cert(ctx)
        origin = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = 10

            def log_message(self, *args):
                pass

            def _answer(self, code: int, obj: dict) -> None:
                body = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                data = self.rfile.read(int(self.headers.get("content-length") or 0))
                origin.seen.append(("POST", self.path, dict(self.headers), data))
                self._answer(401, {"type": "error", "error": {"type": "authentication_error",
                                                               "message": "invalid x-api-key"}})

            def do_GET(self):
                origin.seen.append(("GET", self.path, dict(self.headers), b""))
                if self.path.startswith("/api/claude_code/policy_limits"):
                    self._answer(200, {"restrictions": {}})
                else:
                    self._answer(404, {"type": "error", "error": {"type": "not_found_error", "message": "no"}})

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Squid:
    """A private Squid on loopback (optionally ssl-bump), per the notes in real-proxies.md."""

    def __init__(self, workdir: Path, origin_ca_pem: Path, bump_ca=None) -> None:
        squid = require_squid()
        self.name = "pdxclients" + uuid.uuid4().hex[:8]
        self.dir = workdir / "squid"
        self.dir.mkdir()
        d = self.dir
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        sock.close()
        (d / "hosts").write_text(f"127.0.0.1 {PROVIDER}\n")
        http_port = f"http_port 127.0.0.1:{self.port}"
        bump = ""
        if bump_ca is not None:
            bump_ca.cert_pem.write_to_path(str(d / "bump.pem"))
            bump_ca.private_key_pem.write_to_path(str(d / "bump.key"))
            subprocess.run(["/usr/lib/squid/security_file_certgen", "-c", "-s", str(d / "ssl_db"), "-M", "4MB"],
                           check=True, capture_output=True, timeout=30)
            http_port += (f" ssl-bump tls-cert={d}/bump.pem tls-key={d}/bump.key "
                          "generate-host-certificates=on dynamic_cert_mem_cache_size=4MB")
            bump = (f"sslcrtd_program /usr/lib/squid/security_file_certgen -s {d}/ssl_db -M 4MB\n"
                    "sslcrtd_children 2 startup=1 idle=1\n"
                    f"tls_outgoing_options cafile={origin_ca_pem}\n"
                    "acl step1 at_step SslBump1\nssl_bump peek step1\nssl_bump bump all\n")
        (d / "squid.conf").write_text(f"""{http_port}
pid_filename {d}/squid.pid
cache_log {d}/cache.log
access_log stdio:{d}/access.log squid
cache_store_log none
cache deny all
cache_mem 8 MB
hosts_file {d}/hosts
dns_nameservers 127.0.0.1
pinger_enable off
netdb_filename none
icp_port 0
htcp_port 0
shutdown_lifetime 0 seconds
{bump}http_access allow localhost
http_access deny all
""")
        proxy_user = pwd.getpwnam("proxy")
        for root, _dirs, files in os.walk(d):
            os.chown(root, proxy_user.pw_uid, proxy_user.pw_gid)
            for f in files:
                os.chown(os.path.join(root, f), proxy_user.pw_uid, proxy_user.pw_gid)
        self.proc = subprocess.Popen([squid, "-N", "-n", self.name, "-f", str(d / "squid.conf")],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=open(d / "stderr", "wb"), start_new_session=True)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("squid did not start: " + (d / "stderr").read_text(errors="replace"))
                time.sleep(0.05)
        self.url = f"http://127.0.0.1:{self.port}"

    def access_log(self) -> str:
        try:
            return (self.dir / "access.log").read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        for f in glob.glob(f"/dev/shm/{self.name}-*"):
            try:
                os.unlink(f)
            except OSError:
                pass


class _Lab:
    """Origin + Squid + CA files; ``env`` is a healthy client environment for the scenario."""

    def __init__(self, scenario: str, workdir: Path) -> None:
        import trustme
        from cryptography import x509
        from cryptography.hazmat.primitives.serialization import Encoding

        self.scenario = scenario
        public_ca, corporate_ca = trustme.CA(), trustme.CA()
        self.public_roots = workdir / "public-roots.pem"
        public_ca.cert_pem.write_to_path(str(self.public_roots))
        self.interception_ca_path = workdir / "corporate-ca.pem"
        corporate_ca.cert_pem.write_to_path(str(self.interception_ca_path))
        self.interception_ca_der = workdir / "corporate-ca.der"
        self.interception_ca_der.write_bytes(
            x509.load_pem_x509_certificate(corporate_ca.cert_pem.bytes()).public_bytes(Encoding.DER))
        self.combined = workdir / "combined.pem"
        self.combined.write_bytes(public_ca.cert_pem.bytes() + corporate_ca.cert_pem.bytes())
        self.origin = _Origin(public_ca)
        try:
            self.squid = _Squid(workdir, self.public_roots,
                                corporate_ca if scenario.startswith("ssl-bump") or scenario == "der-ca" else None)
        except BaseException:
            self.origin.stop()
            raise
        self.proxy_url = self.squid.url
        self.target_url = f"https://{PROVIDER}:{self.origin.port}"
        # Names clients resolve themselves go nowhere: the direct path is closed.
        self.pins = {(PROVIDER, self.origin.port): CLOSED_ADDR}
        home = workdir / "home"
        home.mkdir()
        public = str(self.public_roots)
        # The user's machine: its trust stores know the (fake) public roots, like certifi does.
        self.env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "LANG": "C.UTF-8",
                    "HTTPS_PROXY": self.proxy_url, "REQUESTS_CA_BUNDLE": public, "SSL_CERT_FILE": public,
                    "CURL_CA_BUNDLE": public, "NODE_EXTRA_CA_CERTS": public}
        if scenario == "ssl-bump-trusted":
            self.env.update(self.fix_env())
        elif scenario == "der-ca":
            self.env["NODE_EXTRA_CA_CERTS"] = str(self.interception_ca_der)
        elif scenario == "no-proxy-provider":
            self.env["NO_PROXY"] = PROVIDER

    def fix_env(self) -> dict[str, str]:
        """What issue #11 prescribes for interception: replacing stores get the combined bundle."""
        combined = str(self.combined)
        return {"REQUESTS_CA_BUNDLE": combined, "SSL_CERT_FILE": combined, "CURL_CA_BUNDLE": combined,
                "NODE_EXTRA_CA_CERTS": str(self.interception_ca_path)}

    def stop(self) -> None:
        self.squid.stop()
        self.origin.stop()


@pytest.fixture
def lab():
    started: list[tuple[_Lab, Path]] = []

    def start(scenario: str) -> _Lab:
        # Not tmp_path: Squid runs as user proxy, which cannot enter pytest's 0700 directories.
        workdir = Path(tempfile.mkdtemp(prefix="proxydiag-clients-lab-"))
        workdir.chmod(0o755)
        try:
            lab = _Lab(scenario, workdir)
        except BaseException:
            shutil.rmtree(workdir, ignore_errors=True)
            raise
        started.append((lab, workdir))
        return lab

    yield start
    for one, workdir in started:
        one.stop()
        shutil.rmtree(workdir, ignore_errors=True)


# ----------------------------------------------------------------------------- which clients


@pytest.fixture
def claude(monkeypatch):
    """Claude Code's path; skipped when absent, an error under CI=true."""
    if not os.environ.get(clients.CLAUDE_ENV) and os.access(DEFAULT_CLAUDE, os.X_OK):
        monkeypatch.setenv(clients.CLAUDE_ENV, DEFAULT_CLAUDE)
    (info,) = discover("claude")
    if not info.available:
        message = f"Claude Code unavailable: {info.why_not} (install it with .ci/install-claude.sh)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + "; under CI=true this is an error, not a skip")
        pytest.skip(message)
    return info


@pytest.fixture
def available(claude):
    """Names of every client installed here (Claude Code included: the claude fixture ensures it)."""
    infos = discover("auto")
    missing = [i for i in infos if not i.available]
    if missing and os.environ.get("CI", "").lower() == "true":
        pytest.fail("clients missing under CI=true: " + "; ".join(f"{i.name}: {i.why_not}" for i in missing))
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
    assert "curl,requests,httpx,node,claude" in bogus.why_not


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
    assert argv[:4] == ["-p", "hello", "--output-format", "json"] and "--debug-file" in argv
    curl_argv = (dump / "curl.argv").read_text().splitlines()
    assert f"x-api-key: {DUMMY_API_KEY}" in curl_argv and curl_argv[-1] == "https://api.anthropic.com/v1/messages"


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


def test_healthy_proxy_every_client_reaches_the_provider(lab, available, record_property):
    lab = lab("healthy")
    runs = _by_client(run_clients(available, lab.target_url, lab.env, TIMEOUT, resolve=lab.pins))
    timings = {name: round(run.elapsed, 3) for name, run in runs.items()}
    record_property("client_seconds", json.dumps(timings))
    print("client wall time (healthy, parallel):", timings)
    for name, run in runs.items():
        if name == "node":
            continue
        assert (run.reached, run.status, run.error) == (True, 401, None), describe(run)
        assert describe(run) == f"{name} {run.version}: reached (401)"
    # One CONNECT per proxy-aware client: each went through Squid, none around it.
    assert len(_connects(lab.squid.access_log())) == len([n for n in runs if n != "node"])
    if "node" in runs:
        # A plain Node program ignores HTTPS_PROXY: it goes direct, and the direct path is closed.
        node = runs["node"]
        assert (node.reached, node.error_code) == (False, "ECONNREFUSED"), describe(node)
        assert "does not read HTTPS_PROXY" in node.note
    keys = [headers.get("x-api-key") or headers.get("X-Api-Key") for _m, _p, headers, _b in lab.origin.seen]
    assert keys and set(keys) == {DUMMY_API_KEY}


def test_node_client_reaches_when_the_direct_path_is_open(lab):
    if not discover("node")[0].available:
        pytest.skip("node is not installed")
    lab = lab("healthy")
    env = {k: v for k, v in lab.env.items() if k != "HTTPS_PROXY"}
    run = run_client("node", lab.target_url, env, TIMEOUT, resolve={(PROVIDER, lab.origin.port): "127.0.0.1"})
    assert (run.reached, run.status, run.note) == (True, 401, None), describe(run)


def test_untrusted_interception_each_client_says_it_in_its_own_words(lab, available):
    lab = lab("ssl-bump-untrusted")
    runs = _by_client(run_clients(available, lab.target_url, lab.env, TIMEOUT, resolve=lab.pins))
    expected = {
        "curl": ("60", "SSL certificate problem: self-signed certificate in certificate chain"),
        "requests": ("SSLError", "self-signed certificate in certificate chain"),
        "httpx": ("ConnectError", "self-signed certificate in certificate chain"),
        "claude": ("SELF_SIGNED_CERT_IN_CHAIN", "Self-signed certificate detected"),
    }
    for name, (code, text) in expected.items():
        if name not in runs:
            continue
        run = runs[name]
        assert not run.reached and run.error_code == code and text in run.error, describe(run)
    assert describe(runs["curl"]).startswith("curl 7") and ": exit 60: SSL certificate problem" in describe(runs["curl"])


def test_interception_with_the_fix_env_every_client_reaches(lab, available):
    lab = lab("ssl-bump-untrusted")
    env = {**lab.env, **lab.fix_env()}
    proxy_aware = [n for n in available if n != "node"]
    runs = run_clients(proxy_aware, lab.target_url, env, TIMEOUT, resolve=lab.pins)
    for run in runs:
        assert (run.reached, run.status) == (True, 401), describe(run)
    # Bumped: Squid saw (and logged) each decrypted request and the provider's 401.
    posts = [line for line in lab.squid.access_log().splitlines() if "POST https://api.anthropic.com" in line]
    assert len(posts) == len(proxy_aware) and all("/401 " in line for line in posts)


def test_der_node_extra_ca_certs_claude_fails_and_says_invalid_ca(lab, claude):
    lab = lab("der-ca")
    # Everything else is fixed: only the DER file stands between Claude Code and the provider.
    env = {**lab.env, **lab.fix_env(), "NODE_EXTRA_CA_CERTS": str(lab.interception_ca_der)}
    env["SSL_CERT_FILE"] = str(lab.public_roots)
    run = run_client("claude", lab.target_url, env, TIMEOUT, resolve=lab.pins)
    assert not run.reached, describe(run)
    assert run.error_code in ("SELF_SIGNED_CERT_IN_CHAIN", "ConnectionRefused"), describe(run)
    assert "Invalid CA" in run.note, describe(run)
    fixed = run_client("claude", lab.target_url, {**env, "NODE_EXTRA_CA_CERTS": str(lab.interception_ca_path)},
                       TIMEOUT, resolve=lab.pins)
    assert (fixed.reached, fixed.status, fixed.note) == (True, 401, None), describe(fixed)


def test_only_http_proxy_claude_uses_it_curl_and_python_go_direct(lab, available):
    lab = lab("healthy")
    env = {k: v for k, v in lab.env.items() if k != "HTTPS_PROXY"}
    env["HTTP_PROXY"] = lab.proxy_url
    runs = _by_client(run_clients(available, lab.target_url, env, TIMEOUT, resolve=lab.pins))
    claude_run = runs["claude"]
    assert (claude_run.reached, claude_run.status) == (True, 401), describe(claude_run)
    assert len(_connects(lab.squid.access_log())) == 1  # Claude Code's, and only Claude Code's
    for name, code in {"curl": "7", "requests": "ConnectionError", "httpx": "ConnectError",
                       "node": "ECONNREFUSED"}.items():
        if name in runs:
            run = runs[name]
            assert not run.reached and run.error_code == code, describe(run)
            assert "refused" in run.error.lower() or "couldn't connect" in run.error.lower(), describe(run)


def test_no_proxy_containing_the_provider_sends_every_client_direct(lab, available):
    lab = lab("no-proxy-provider")
    runs = _by_client(run_clients(available, lab.target_url, lab.env, TIMEOUT, resolve=lab.pins))
    assert _connects(lab.squid.access_log()) == []
    expected = {"curl": "7", "requests": "ConnectionError", "httpx": "ConnectError", "node": "ECONNREFUSED",
                "claude": "ECONNREFUSED"}
    for name, run in runs.items():
        # Refused, not a name-lookup failure: the pins (a private /etc/hosts for Claude Code) held.
        assert not run.reached and run.error_code == expected[name], describe(run)
        assert re.search(r"(?i)refused|couldn't connect", run.error), describe(run)


def test_canary_key_never_reaches_a_client_the_origin_or_the_output(lab, available):
    lab = lab("healthy")
    env = {**lab.env, "ANTHROPIC_API_KEY": CANARY_KEY, "ANTHROPIC_AUTH_TOKEN": CANARY_TOKEN,
           "HTTPS_PROXY": lab.proxy_url.replace("http://", "http://alice:pr0xy-s3cret@")}
    runs = run_clients(available, lab.target_url, env, TIMEOUT, resolve=lab.pins)
    for run in runs:
        text = repr(run)
        assert CANARY_KEY not in text and CANARY_TOKEN not in text and "pr0xy-s3cret" not in text
        assert run.client == "node" or run.reached, describe(run)  # Squid ignores unrequested credentials
    for _method, _path, headers, body in lab.origin.seen:
        seen = json.dumps(headers) + body.decode(errors="replace")
        assert CANARY_KEY not in seen and CANARY_TOKEN not in seen
