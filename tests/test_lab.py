"""The proxy lab: every scenario starts, behaves as claimed for real clients, and leaves nothing behind.

Each test talks to the lab with real clients (requests, httpx, curl) or a raw
CONNECT on a socket when the headers of a refusal matter (requests and httpx
hide them).  No client resolves a provider name: through a proxy the proxy
does (Squid maps the names to 127.0.0.1), and curl gets ``--resolve`` pins.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest
import requests

from conftest import require_squid
from pytest_proxydiag.core import flowchart
from pytest_proxydiag import lab as lab_module
from pytest_proxydiag.lab import (
    EXPECTED_ROOT_CAUSE,
    PROXYPY_SCENARIOS,
    Blackhole,
    ClosedPort,
    HttpsOrigin,
    Lab,
    LabCA,
    LabError,
    LabUnavailable,
    ProxyRequest,
    ScriptedProxy,
    Squid,
    htpasswd_line,
    squid_config,
    squid_install_hint,
)
from pytest_proxydiag.lab.servers import _read_head

SQUID_SCENARIOS = [n for n in Lab.scenarios() if Lab.scenario(n).backend == "squid"]


# -- helpers -----------------------------------------------------------------------------
def session() -> requests.Session:
    s = requests.Session()
    s.trust_env = False  # the test process' own environment never matters
    return s


def post(lab: Lab, proxy: str | None = None, *, verify: str | None = None, body: bytes = b"{}",
         timeout: float = 8) -> requests.Response:
    return session().post(lab.target_url + "/v1/messages", data=body, timeout=timeout,
                          proxies={"https": proxy or lab.proxy_url},
                          verify=verify or lab.env.get("REQUESTS_CA_BUNDLE") or lab.public_roots,
                          headers={"x-api-key": "sk-ant-dummy-lab-key", "content-type": "application/json"})


def raw_connect(host: str, port: int, target: str, headers: dict[str, str] | None = None,
                timeout: float = 3.0) -> tuple[int, dict[str, list[str]], socket.socket]:
    """CONNECT on a socket: (status, headers lower-cased -> values, the open socket)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    sock.connect((host, port))
    req = f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n"
    for k, v in (headers or {}).items():
        req += f"{k}: {v}\r\n"
    sock.sendall((req + "\r\n").encode())
    head = _read_head(sock)
    lines = head.split(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    hdrs: dict[str, list[str]] = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        hdrs.setdefault(k.strip().lower(), []).append(v.strip())
    return status, hdrs, sock


def listen_hostport(lab: Lab) -> tuple[str, int]:
    assert lab.actual_proxy_url
    rest = lab.actual_proxy_url.split("://", 1)[1]
    host, _, port = rest.rpartition(":")
    return host.strip("[]"), int(port)


def target_hostport(lab: Lab) -> str:
    return lab.target_url.split("://", 1)[1]


def curl(lab: Lab, tmp_path: Path, *args: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    if not shutil.which("curl"):
        pytest.skip("curl is not installed")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), **lab.env, **(env_extra or {})}
    return subprocess.run(
        ["curl", "-sS", "--max-time", "10", "--resolve", f"api.anthropic.com:{lab.origin_port}:127.0.0.1",
         "-o", "-", "-w", "\nHTTP %{http_code}", *args], capture_output=True, text=True, env=env, timeout=20)


def leftovers() -> dict[str, list[str]]:
    """What the labs of this process could leave behind: processes, shared memory, temp dirs."""
    pid = os.getpid()
    procs = []
    for p in Path("/proc").glob("[0-9]*"):
        try:
            cmd = (p / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if f"proxydiaglab{pid}n" in cmd:
            procs.append(cmd)
    shm = sorted(str(p) for p in Path("/dev/shm").glob(f"proxydiaglab{pid}n*")) if Path("/dev/shm").is_dir() else []
    tmp = sorted(str(p) for p in Path(tempfile.gettempdir()).glob(f"proxydiag-lab-{pid}-*"))
    return {"processes": procs, "shm": shm, "tmp": tmp}


@pytest.fixture
def squid_lab():
    """``squid_lab(name)`` starts a Squid scenario; all are stopped at teardown."""
    require_squid()
    started: list[Lab] = []

    def start(name: str, **kw) -> Lab:
        lab = Lab(name, **kw).start()
        started.append(lab)
        return lab

    yield start
    for lab in started:
        lab.stop()


# -- the catalogue ----------------------------------------------------------------------------
def test_every_scenario_has_a_description_and_a_known_expected_root_cause():
    scenarios = Lab.scenarios()
    assert set(scenarios) == set(EXPECTED_ROOT_CAUSE)
    for name, description in scenarios.items():
        info = Lab.scenario(name)
        assert description and "\n" not in description
        assert info.backend in ("squid", "proxy.py", "scripted", "none", *lab_module.PRODUCTS)
        if info.expected_root_cause is None:
            assert info.expected_failed == frozenset()
        else:
            assert info.expected_root_cause in flowchart.STEP_IDS, name
            assert info.expected_root_cause in info.expected_failed
    for required in ("healthy", "basic-auth", "wrong-password", "special-chars-password", "ntlm-only", "proxy-down",
                     "proxy-blackholed", "wrong-port", "blocked-domain", "block-page", "ssl-bump-untrusted",
                     "ssl-bump-trusted", "der-ca", "body-limit", "upstream-down", "no-proxy-provider",
                     "slow-origin", "rate-limited", "ipv6-proxy", "hostile-silent", "hostile-407-loop"):
        assert required in scenarios


def test_every_real_product_has_its_scenarios_and_demo_lists_them(capsys):
    from pytest_proxydiag import cli

    for key in ("tinyproxy", "apache", "privoxy", "mitmproxy"):
        for case in ("healthy", "wrong-password" if key != "privoxy" else "blocked-domain", "upstream-down"):
            assert f"{key}-{case}" in Lab.scenarios()
    assert Lab.scenario("mitmproxy-intercept").expected_root_cause == "certificate.interception"
    assert Lab.scenario("dante-socks").backend == "dante"
    assert cli.main(["demo", "--list"]) == 0
    listing = capsys.readouterr().out
    assert "tinyproxy-wrong-password" in listing and "auth.credentials" in listing
    assert "reset-domain" in listing


def test_product_descriptions_say_what_the_product_really_does():
    # Privoxy has no proxy authentication (a parent checks it); Dante speaks SOCKS5 username/password, not Basic.
    scenarios = Lab.scenarios()
    for name in ("privoxy-wrong-password", "privoxy-no-credentials"):
        assert "Privoxy with Basic auth" not in scenarios[name] and "parent" in scenarios[name], scenarios[name]
    for name in ("dante-wrong-password", "dante-no-credentials"):
        assert "Basic" not in scenarios[name] and "RFC 1929" in scenarios[name], scenarios[name]
    assert "(or SOCKS)" not in scenarios["apache-port-rule"] and "AllowCONNECT" in scenarios["apache-port-rule"]
    assert "closes" in scenarios["dante-client-refused"]


def test_a_missing_product_says_how_to_install_it(monkeypatch):
    from pytest_proxydiag.lab import products

    monkeypatch.setattr(products, "find_product", lambda key: None)
    with pytest.raises(LabUnavailable, match="tinyproxy is not installed; install it with: sudo apt-get install "
                                             "tinyproxy"):
        Lab("tinyproxy-healthy").start()
    monkeypatch.setattr(products, "find_product", lambda key: "/bin/true")
    monkeypatch.setattr(products, "find_nss_wrapper", lambda: None)
    with pytest.raises(LabUnavailable, match="apt-get install libnss-wrapper"):
        Lab("privoxy-healthy").start()


def test_unknown_scenario_and_backend_are_refused():
    with pytest.raises(LabError, match="unknown scenario 'nope'"):
        Lab("nope")
    with pytest.raises(LabError, match="unknown backend"):
        Lab("healthy", backend="mitmproxy")


# -- building blocks ---------------------------------------------------------------------------
def test_htpasswd_line_matches_openssl_apr1():
    # `openssl passwd -apr1 -salt abcdefgh 'p@ss:w/rd#1?'`
    assert htpasswd_line("bob", "p@ss:w/rd#1?", "abcdefgh") == "bob:$apr1$abcdefgh$m0p2Z8jTQ5CeAH2gG9tV4/"


@pytest.mark.parametrize("use_trustme", [True, False], ids=["trustme", "builtin"])
def test_origin_verifies_with_its_ca_and_not_with_another(tmp_path, use_trustme):
    ca, other = LabCA("Lab", "origin", use_trustme=use_trustme), LabCA("Other", "x", use_trustme=use_trustme)
    (tmp_path / "ca.pem").write_bytes(ca.cert_pem)
    (tmp_path / "other.pem").write_bytes(other.cert_pem)
    with HttpsOrigin(ca, tmp_path / "o") as origin:
        r = session().post(f"https://localhost:{origin.port}/v1/messages", data=b"x" * 1000,
                           verify=str(tmp_path / "ca.pem"), headers={"x-api-key": "sk-ant-secret"}, timeout=5)
        assert r.status_code == 401
        assert r.json() == {"type": "error", "error": {"type": "authentication_error",
                                                       "message": "invalid x-api-key"}}
        with pytest.raises(requests.exceptions.SSLError, match="certificate verify failed"):
            session().get(f"https://localhost:{origin.port}/health", verify=str(tmp_path / "other.pem"), timeout=5)
        seen = origin.requests[0]
        assert (seen.method, seen.path, seen.body_size, seen.scheme) == ("POST", "/v1/messages", 1000, "https")
        assert seen.headers["x-api-key"] == "<redacted>"


def test_origin_endpoints_over_plain_http(tmp_path):
    with HttpsOrigin(LabCA("Lab", "origin"), tmp_path) as origin:
        base = f"http://127.0.0.1:{origin.http_port}"
        s = session()
        assert s.get(base + "/api/claude_code/policy_limits", timeout=5).json() == {"restrictions": {}}
        assert s.get(base + "/health", timeout=5).status_code == 200
        assert s.get(base + "/", timeout=5).status_code == 404
        r = s.post(base + "/v1/messages", data=b"y" * (3 * 1024 * 1024), timeout=10)
        assert r.status_code == 401 and origin.requests[-1].body_size == 3 * 1024 * 1024
        t0 = time.monotonic()
        r = s.get(base + "/v1/sse?events=3&interval=0.3", stream=True, timeout=5)
        assert r.headers["content-type"] == "text/event-stream"
        events = [line for line in r.iter_lines() if line.startswith(b"data:")]
        assert len(events) == 3 and time.monotonic() - t0 >= 0.55
        origin.configure(status=429, status_headers={"retry-after": "30"})
        r = s.post(base + "/v1/messages", timeout=5)
        assert r.status_code == 429 and r.headers["retry-after"] == "30"
        assert s.get(base + "/health", timeout=5).status_code == 200


def test_origin_stop_ends_a_stream_in_progress(tmp_path):
    origin = HttpsOrigin(LabCA("Lab", "origin"), tmp_path).start()
    sock = socket.create_connection(("127.0.0.1", origin.http_port), timeout=3)
    sock.sendall(b"GET /v1/sse?events=100&interval=1 HTTP/1.1\r\nHost: x\r\n\r\n")
    assert b"text/event-stream" in sock.recv(4096)
    origin.stop()
    t0 = time.monotonic()
    rest = b""
    while chunk := sock.recv(4096):
        rest += chunk
    sock.close()
    assert time.monotonic() - t0 < 1.5 and rest.count(b"event:") <= 1


def test_closed_port_refuses_and_blackhole_times_out():
    closed = ClosedPort()
    try:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", closed.port), timeout=2)
    finally:
        closed.stop()
    hole = Blackhole().start()
    try:
        t0 = time.monotonic()
        with pytest.raises(socket.timeout):
            socket.create_connection(("127.0.0.1", hole.port), timeout=1)
        assert time.monotonic() - t0 >= 0.9
    finally:
        hole.stop()


def test_squid_building_block_with_custom_config(tmp_path):
    squid_bin = require_squid()
    from pytest_proxydiag.lab.servers import free_port

    d = Path(tempfile.mkdtemp(prefix="proxydiag-lab-test-"))  # Squid's user must reach it (tmp_path is 700)
    port = free_port()
    lines = squid_config(d, port, rules=["acl blocked dstdomain .example.org"],
                         access=["http_access deny blocked", "http_access allow localhost", "http_access deny all"])
    with Squid(lines, d, port, binary=squid_bin) as squid:
        status, headers, sock = raw_connect("127.0.0.1", port, "www.example.org:443")
        sock.close()
        assert status == 403 and headers["x-squid-error"][0].startswith("ERR_ACCESS_DENIED")
        name = squid.name
    shutil.rmtree(d)
    assert not list(Path("/dev/shm").glob(f"{name}-*"))


def test_squid_that_cannot_start_reports_its_log(tmp_path):
    require_squid()
    from pytest_proxydiag.lab.servers import free_port

    d = Path(tempfile.mkdtemp(prefix="proxydiag-lab-test-"))
    port = free_port()
    try:
        with pytest.raises(LabError, match="(?s)squid exited.*(FATAL|Bungled|unrecognized)"):
            Squid(squid_config(d, port, rules=["this_is_not_a_directive on"]), d, port).start()
    finally:
        shutil.rmtree(d)
    if os.geteuid() == 0:
        with pytest.raises(LabError, match="cannot enter"):
            Squid(squid_config(tmp_path, port), tmp_path, port).start()


# -- Squid scenarios with real clients -----------------------------------------------------------
def test_healthy_with_requests_httpx_and_curl(squid_lab, tmp_path):
    lab = squid_lab("healthy")
    assert set(lab.env) == {"HTTPS_PROXY", "HTTP_PROXY"}
    assert lab.pytest_args[:7] == ["--proxydiag-target", lab.target_url, "--proxydiag-resolve",
                                   f"api.anthropic.com:{lab.origin_port}:127.0.0.1", "--proxydiag-public-roots",
                                   lab.public_roots, "--proxydiag-no-direct"]
    r = post(lab)
    assert r.status_code == 401 and r.json()["error"]["type"] == "authentication_error"
    import httpx

    ctx = ssl.create_default_context(cafile=lab.public_roots)
    with httpx.Client(proxy=lab.proxy_url, verify=ctx, trust_env=False, timeout=8) as client:
        assert client.get(lab.target_url + "/api/claude_code/policy_limits").json() == {"restrictions": {}}
    out = curl(lab, tmp_path, "--cacert", lab.public_roots, "-X", "POST", lab.target_url + "/v1/messages")
    assert out.returncode == 0 and out.stdout.endswith("HTTP 401"), out.stderr
    # Squid saw the tunnels (it logs a CONNECT when the tunnel closes) and the origin saw the requests.
    deadline = time.monotonic() + 3
    while len([r for r in lab.proxy_requests() if r.method == "CONNECT"]) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    connects = [r for r in lab.proxy_requests() if r.method == "CONNECT"]
    assert connects and all(r.url == target_hostport(lab) and r.status == 200 for r in connects)
    assert {(r.method, r.path) for r in lab.origin_requests()} >= {("POST", "/v1/messages"),
                                                                 ("GET", "/api/claude_code/policy_limits")}
    assert lab.http_target_url.startswith("http://api.anthropic.com:")
    r = session().get(lab.http_target_url + "/health", proxies={"http": lab.proxy_url}, timeout=5)
    assert r.status_code == 200 and "squid" in r.headers.get("via", "").lower()


def test_lab_reads_and_writes_nothing_of_the_callers_environment(squid_lab, monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://user:callers-secret@10.255.255.1:1")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/nonexistent/callers.pem")
    before = dict(os.environ)
    lab = squid_lab("ssl-bump-trusted")
    assert "callers" not in repr(lab.env) and dict(os.environ) == before
    assert post(lab).status_code == 401


def test_basic_auth_accepts_the_credentials_and_challenges_without_them(squid_lab):
    lab = squid_lab("basic-auth")
    assert "@127.0.0.1:" in lab.proxy_url
    assert post(lab).status_code == 401
    status, headers, sock = raw_connect(*listen_hostport(lab), target_hostport(lab))
    sock.close()
    assert status == 407
    assert headers["proxy-authenticate"] == ['Basic realm="proxydiag lab"']
    assert headers["x-squid-error"][0].startswith("ERR_CACHE_ACCESS_DENIED")


def test_wrong_password_gets_407(squid_lab, tmp_path):
    lab = squid_lab("wrong-password")
    with pytest.raises(requests.exceptions.ProxyError, match="407"):
        post(lab)
    out = curl(lab, tmp_path, "--cacert", lab.public_roots, lab.target_url + "/v1/messages")
    assert out.returncode == 56 and "407" in out.stderr


def test_special_chars_password_breaks_unencoded_and_works_encoded(squid_lab):
    lab = squid_lab("special-chars-password")
    assert "p@ss:w/rd#1?" in lab.proxy_url
    assert lab.correct_proxy_url and "p%40ss%3Aw%2Frd%231%3F" in lab.correct_proxy_url
    with pytest.raises((requests.exceptions.InvalidURL, requests.exceptions.ProxyError, ValueError)):
        post(lab)
    assert post(lab, lab.correct_proxy_url).status_code == 401


def test_ntlm_only_offers_no_basic(squid_lab):
    lab = squid_lab("ntlm-only")
    status, headers, sock = raw_connect(*listen_hostport(lab), target_hostport(lab))
    sock.close()
    assert status == 407
    schemes = {v.split()[0] for v in headers["proxy-authenticate"]}
    assert schemes == {"Negotiate", "NTLM"}


def test_proxy_down_refuses(tmp_path):
    with Lab("proxy-down") as lab:
        assert lab.actual_proxy_url is None and lab.info.backend == "none"
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", lab.proxy_port), timeout=2)
        with pytest.raises(requests.exceptions.ProxyError):
            post(lab)


def test_proxy_blackholed_times_out_within_the_clients_timeout():
    with Lab("proxy-blackholed") as lab:
        assert lab.pytest_args[-2:] == ["--proxydiag-timeout", "2"]
        t0 = time.monotonic()
        # requests wraps the connect timeout to a proxy in ProxyError (not ConnectTimeout).
        with pytest.raises(requests.exceptions.ProxyError, match="timed out"):
            session().get(lab.target_url, proxies={"https": lab.proxy_url}, timeout=(1, 1))
        assert time.monotonic() - t0 < 3


def test_wrong_port_names_a_closed_port_and_the_real_one_is_a_candidate(squid_lab):
    lab = squid_lab("wrong-port")
    real_host, real_port = listen_hostport(lab)
    assert lab.proxy_port != real_port
    assert lab.pytest_args[-2:] == ["--proxydiag-port-candidates", str(real_port)]
    with pytest.raises(requests.exceptions.ProxyError):
        post(lab)
    assert post(lab, lab.actual_proxy_url).status_code == 401


def test_blocked_domain_gets_403_on_connect(squid_lab):
    lab = squid_lab("blocked-domain")
    status, headers, sock = raw_connect(*listen_hostport(lab), target_hostport(lab))
    sock.close()
    assert status == 403 and headers["x-squid-error"][0].startswith("ERR_ACCESS_DENIED")
    assert headers["content-type"][0].startswith("text/html") and int(headers["content-length"][0]) > 0
    with pytest.raises(requests.exceptions.ProxyError, match="403"):
        post(lab)


def test_block_page_inside_trusted_tls(squid_lab):
    lab = squid_lab("block-page")
    r = post(lab)
    assert r.status_code == 403 and r.headers["x-squid-error"].startswith("ERR_ACCESS_DENIED")
    assert "text/html" in r.headers["content-type"]
    # The CONNECT itself was allowed: the block happens inside TLS.
    status, _, sock = raw_connect(*listen_hostport(lab), target_hostport(lab))
    sock.close()
    assert status == 200


def _presented_issuer(lab: Lab) -> str:
    status, _, sock = raw_connect(*listen_hostport(lab), target_hostport(lab))
    assert status == 200
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    with ctx.wrap_socket(sock, server_hostname="api.anthropic.com") as tls:
        der = tls.getpeercert(binary_form=True)
    from cryptography import x509

    return x509.load_der_x509_certificate(der).issuer.rfc4514_string()


def test_ssl_bump_untrusted_is_a_self_signed_chain_to_every_client(squid_lab, tmp_path):
    lab = squid_lab("ssl-bump-untrusted")
    assert set(lab.env) == {"HTTPS_PROXY", "HTTP_PROXY"}
    assert lab.interception_ca_pem and Path(lab.interception_ca_path).read_bytes() == lab.interception_ca_pem
    with pytest.raises(requests.exceptions.SSLError, match="self-signed certificate in certificate chain"):
        post(lab, verify=lab.public_roots)
    assert "Example Corp" in _presented_issuer(lab)
    out = curl(lab, tmp_path, "--cacert", lab.public_roots, lab.target_url + "/v1/messages")
    assert out.returncode == 60, out.stderr


def test_ssl_bump_trusted_works_with_the_env_bundles(squid_lab, tmp_path):
    lab = squid_lab("ssl-bump-trusted")
    bundle = lab.env["REQUESTS_CA_BUNDLE"]
    assert lab.env["SSL_CERT_FILE"] == lab.env["CURL_CA_BUNDLE"] == bundle
    assert lab.env["NODE_EXTRA_CA_CERTS"] == lab.interception_ca_path
    assert lab.interception_ca_pem in Path(bundle).read_bytes()
    assert post(lab, verify=bundle).status_code == 401
    out = curl(lab, tmp_path, "-X", "POST", lab.target_url + "/v1/messages")  # curl reads CURL_CA_BUNDLE
    assert out.returncode == 0 and out.stdout.endswith("HTTP 401"), out.stderr


def test_der_ca_points_node_at_a_der_file(squid_lab):
    lab = squid_lab("der-ca")
    der = Path(lab.env["NODE_EXTRA_CA_CERTS"]).read_bytes()
    assert der[:1] == b"\x30" and b"BEGIN CERTIFICATE" not in der
    assert ssl.DER_cert_to_PEM_cert(der).encode().strip() == lab.interception_ca_pem.strip()
    assert post(lab, verify=lab.env["REQUESTS_CA_BUNDLE"]).status_code == 401


def test_body_limit_413_above_one_megabyte(squid_lab, tmp_path):
    lab = squid_lab("body-limit")
    assert post(lab, body=b"x" * (512 * 1024)).status_code == 401
    big = tmp_path / "big.json"
    big.write_bytes(b"x" * (2 * 1024 * 1024))
    # curl announces the body (Expect: 100-continue) and reads Squid's early 413.
    out = curl(lab, tmp_path, "-i", "--data-binary", f"@{big}", lab.target_url + "/v1/messages")
    assert out.stdout.endswith("HTTP 413"), out.stderr
    assert "X-Squid-Error: ERR_TOO_BIG" in out.stdout
    # requests streams the body blindly: Squid answers 413 and closes mid-upload, so requests
    # usually sees the connection end (SSLEOFError) instead of the 413. Both are real.
    try:
        r = post(lab, body=b"x" * (2 * 1024 * 1024))
        assert r.status_code == 413 and r.headers["x-squid-error"].startswith("ERR_TOO_BIG")
    except (requests.exceptions.SSLError, requests.exceptions.ConnectionError) as exc:
        assert "EOF" in str(exc) or "reset" in str(exc).lower() or "Broken pipe" in str(exc)
    time.sleep(0.2)
    assert any(r.status == 413 and r.method == "POST" for r in lab.proxy_requests())


def test_upstream_down_gets_503_connect_fail(squid_lab):
    lab = squid_lab("upstream-down")
    t0 = time.monotonic()
    status, headers, sock = raw_connect(*listen_hostport(lab), target_hostport(lab))
    sock.close()
    assert status == 503 and headers["x-squid-error"][0].startswith("ERR_CONNECT_FAIL")
    assert time.monotonic() - t0 < 3


def test_no_proxy_provider_sends_curl_direct(squid_lab, tmp_path):
    lab = squid_lab("no-proxy-provider")
    assert lab.env["NO_PROXY"] == lab.env["no_proxy"] and ".anthropic.com" in lab.env["NO_PROXY"]
    out = curl(lab, tmp_path, "-v", "--cacert", lab.public_roots, "-X", "POST", lab.target_url + "/v1/messages")
    assert out.returncode == 0 and out.stdout.endswith("HTTP 401"), out.stderr
    time.sleep(0.2)
    assert lab.proxy_requests() == []  # the traffic went direct, past the proxy


def test_slow_origin_and_rate_limited(squid_lab):
    slow = squid_lab("slow-origin")
    t0 = time.monotonic()
    assert post(slow).status_code == 401
    assert time.monotonic() - t0 >= 2.4
    limited = squid_lab("rate-limited")
    r = post(limited)
    assert r.status_code == 429
    assert r.headers["retry-after"] == "30" and r.headers["anthropic-ratelimit-requests-remaining"] == "0"


def test_ipv6_proxy_listens_on_loopback_v6(squid_lab):
    lab = squid_lab("ipv6-proxy")
    assert lab.proxy_url.startswith("http://[::1]:")
    assert post(lab).status_code == 401
    # Squid's own listening sockets, from the kernel's tables: on ::1 only.  (Connecting to 127.0.0.1:port was
    # flaky: under xdist another test's server may hold the same port number on IPv4.)
    pid = lab.squid.proc.pid
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):  # an fd closed since the listing
            inodes.add(os.readlink(f"/proc/{pid}/fd/{fd}"))

    def listeners(table: str) -> list[str]:
        rows = [r.split() for r in open(table, encoding="ascii").read().splitlines()[1:]]
        return [r[1] for r in rows if r[3] == "0A" and int(r[1].rsplit(":", 1)[1], 16) == lab.proxy_port
                and f"socket:[{r[9]}]" in inodes]

    assert listeners("/proc/net/tcp") == []
    assert listeners("/proc/net/tcp6") == [f"00000000000000000000000001000000:{lab.proxy_port:04X}"]


def test_plain_for_https_fails_tls_to_the_proxy(squid_lab):
    lab = squid_lab("hostile-plain-for-https")
    assert lab.proxy_url.startswith("https://")
    with pytest.raises((requests.exceptions.ProxyError, requests.exceptions.SSLError)):
        post(lab)
    assert post(lab, lab.actual_proxy_url).status_code == 401


def test_access_log_line_parsing():
    line = ("1764070000.123     12 127.0.0.1 TCP_TUNNEL/200 4567 CONNECT api.anthropic.com:443 alice "
            "HIER_DIRECT/127.0.0.1 -")
    r = ProxyRequest.parse(line)
    assert r is not None
    assert (r.squid_code, r.status, r.method, r.url, r.user) == ("TCP_TUNNEL", 200, "CONNECT",
                                                                 "api.anthropic.com:443", "alice")
    assert ProxyRequest.parse("garbage") is None


# -- hostile proxies ---------------------------------------------------------------------
def _hostile(name: str):
    return Lab(name)


def test_hostile_silent_never_answers():
    with Lab("hostile-silent") as lab:
        with pytest.raises(socket.timeout):
            raw_connect("127.0.0.1", lab.proxy_port, target_hostport(lab), timeout=1)
        with pytest.raises(requests.exceptions.ReadTimeout):
            session().get(lab.target_url, proxies={"https": lab.proxy_url}, timeout=(2, 1))


@pytest.mark.parametrize("name, first", [
    ("hostile-ssh-banner", b"SSH-2.0-"),
    ("hostile-smtp-banner", b"220 "),
    ("hostile-http09", b"<html>"),
])
def test_hostile_banners_and_bodies_are_not_http(name, first):
    with Lab(name) as lab:
        sock = socket.create_connection(("127.0.0.1", lab.proxy_port), timeout=3)
        sock.sendall(f"CONNECT {target_hostport(lab)} HTTP/1.1\r\n\r\n".encode())
        data = sock.recv(4096)
        sock.close()
        assert data.startswith(first)
        with pytest.raises(requests.exceptions.ConnectionError):
            post(lab, timeout=3)


def test_hostile_garbage():
    with Lab("hostile-garbage") as lab:
        sock = socket.create_connection(("127.0.0.1", lab.proxy_port), timeout=3)
        sock.sendall(f"CONNECT {target_hostport(lab)} HTTP/1.1\r\n\r\n".encode())
        data = sock.recv(8192)
        sock.close()
        assert data and not data.startswith(b"HTTP/")


def test_hostile_slowloris_sends_a_byte_per_half_second():
    with Lab("hostile-slowloris") as lab:
        sock = socket.create_connection(("127.0.0.1", lab.proxy_port), timeout=1)
        sock.sendall(f"CONNECT {target_hostport(lab)} HTTP/1.1\r\n\r\n".encode())
        got, t0 = b"", time.monotonic()
        while time.monotonic() - t0 < 1.6:
            got += sock.recv(100)  # never times out: a byte arrives every 0.5 s
        sock.close()
        assert got.startswith(b"HTTP/1.1 200 OK\r\nX-Slow: a") and b"\r\n\r\n" not in got


def test_hostile_huge_header():
    with Lab("hostile-huge-header") as lab:
        sock = socket.create_connection(("127.0.0.1", lab.proxy_port), timeout=3)
        sock.sendall(f"CONNECT {target_hostport(lab)} HTTP/1.1\r\n\r\n".encode())
        got = b""
        while b"\r\n\r\n" not in got[-8:]:
            chunk = sock.recv(1 << 16)
            if not chunk:
                break
            got += chunk
        sock.close()
        assert len(got) > 1024 * 1024 and got.startswith(b"HTTP/1.1 200")


def test_hostile_close():
    with Lab("hostile-close") as lab:
        with pytest.raises(requests.exceptions.ConnectionError):
            post(lab, timeout=3)


@pytest.mark.parametrize("name, error", [("hostile-tls-reset", (ConnectionResetError, ssl.SSLError)),
                                         ("hostile-plaintext-tunnel", ssl.SSLError)])
def test_hostile_tunnels_break_tls(name, error):
    with Lab(name) as lab:
        status, _, sock = raw_connect("127.0.0.1", lab.proxy_port, target_hostport(lab))
        assert status == 200
        ctx = ssl.create_default_context(cafile=lab.public_roots)
        with pytest.raises(error):
            ctx.wrap_socket(sock, server_hostname="api.anthropic.com")
        sock.close()


def test_hostile_407_loop_rejects_even_credentials():
    with Lab("hostile-407-loop") as lab:
        assert "alice:" in lab.proxy_url
        import base64

        auth = "Basic " + base64.b64encode(b"alice:lab-secret-7").decode()
        status, headers, sock = raw_connect("127.0.0.1", lab.proxy_port, target_hostport(lab),
                                            {"Proxy-Authorization": auth})
        assert status == 407 and headers["proxy-authenticate"][0].startswith("Basic")
        sock.close()
        with pytest.raises(requests.exceptions.ProxyError, match="407"):
            post(lab)


def test_hostile_redirect_stays_on_loopback():
    with Lab("hostile-redirect") as lab:
        status, headers, sock = raw_connect("127.0.0.1", lab.proxy_port, target_hostport(lab))
        sock.close()
        assert status == 302 and headers["location"][0].startswith("http://127.0.0.1:")


def test_hostile_tls_proxy_speaks_tls_and_relays_once_tls_is_up():
    with Lab("hostile-tls-proxy") as lab:
        assert lab.proxy_url.startswith("http://")
        sock = socket.create_connection(("127.0.0.1", lab.proxy_port), timeout=3)
        sock.sendall(f"CONNECT {target_hostport(lab)} HTTP/1.1\r\n\r\n".encode())
        try:
            data = sock.recv(4096)
        except ConnectionResetError:
            data = b""
        sock.close()
        assert not data.startswith(b"HTTP/")
        # The reverse configuration (https:// proxy URL) gets through.
        https_proxy = lab.proxy_url.replace("http://", "https://")
        assert post(lab, https_proxy).status_code == 401


# -- proxy.py fallback and Squid absence ------------------------------------------------------
@pytest.mark.parametrize("name", sorted(PROXYPY_SCENARIOS))
def test_proxypy_backend(name):
    pytest.importorskip("proxy")
    with Lab(name, backend="proxy.py") as lab:
        assert lab.info.backend == "proxy.py" and lab.access_log is None and lab.proxy_requests() == []
        if name in ("healthy", "basic-auth"):
            assert post(lab).status_code == 401
        elif name == "wrong-password":
            with pytest.raises(requests.exceptions.ProxyError, match="407"):
                post(lab)
        elif name == "ssl-bump-untrusted":
            # proxy.py sends only the leaf: a realistic variant of the Squid message.
            with pytest.raises(requests.exceptions.SSLError, match="unable to get local issuer certificate"):
                post(lab)
        elif name == "blocked-domain":
            with pytest.raises(requests.exceptions.ProxyError, match="403"):
                post(lab)
        elif name == "upstream-down":
            with pytest.raises(requests.exceptions.ProxyError, match="502"):
                post(lab)


def test_without_squid_the_lab_falls_back_or_says_how_to_install(monkeypatch):
    monkeypatch.setattr(lab_module, "find_squid", lambda: None)
    with pytest.raises(LabUnavailable, match="block-page.*Install squid with: " + squid_install_hint().split()[0]):
        Lab("block-page").start()
    pytest.importorskip("proxy")
    with Lab("healthy") as lab:
        assert lab.info.backend == "proxy.py"
        assert post(lab).status_code == 401


@pytest.mark.parametrize("platform_name, os_release, expected", [
    ("linux", 'ID=debian\n', "sudo apt-get install squid-openssl"),
    ("linux", 'ID=ubuntu\nID_LIKE=debian\n', "sudo apt-get install squid-openssl"),
    ("linux", 'ID="rocky"\nID_LIKE="rhel centos fedora"\n', "sudo dnf install squid"),
    ("linux", 'ID=fedora\n', "sudo dnf install squid"),
    ("darwin", "", "brew install squid"),
])
def test_install_hint_per_os(platform_name, os_release, expected):
    assert squid_install_hint(platform_name, os_release) == expected


# -- nothing left behind ------------------------------------------------------------------------
def test_stop_is_idempotent_and_leaves_nothing(squid_lab):
    require_squid()
    before = leftovers()
    threads_before = {t.name for t in threading.enumerate()}
    for name in ("healthy", "ssl-bump-untrusted", "basic-auth", "hostile-silent", "proxy-blackholed"):
        lab = Lab(name).start()
        workdir = lab.workdir
        assert workdir is not None and workdir.stat().st_mode & 0o077 == 0
        if lab.info.backend == "squid":
            assert any(lab.squid.name in p for p in leftovers()["processes"])
        if name == "hostile-silent":
            # A client stuck on the silent proxy must not keep anything alive.
            stuck = socket.create_connection(("127.0.0.1", lab.proxy_port), timeout=5)
        lab.stop()
        lab.stop()
        assert not workdir.exists()
        if name == "hostile-silent":
            stuck.settimeout(2)
            try:
                assert stuck.recv(10) == b""  # closed (FIN) ...
            except ConnectionResetError:
                pass  # ... or reset: either way, not left hanging
            stuck.close()
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline and {t.name for t in threading.enumerate()} - threads_before:
        time.sleep(0.05)
    assert {t.name for t in threading.enumerate()} - threads_before == set()
    assert leftovers() == before


def test_workdir_parent_is_respected(tmp_path, squid_lab):
    lab = squid_lab("healthy", workdir=tmp_path)
    assert lab.workdir.parent == tmp_path
    lab.stop()
    assert tmp_path.exists() and list(tmp_path.iterdir()) == []


def test_a_failed_start_cleans_up(monkeypatch):
    require_squid()
    before = leftovers()

    def broken(self, corporate):
        raise LabError("simulated failure after the origin started")

    monkeypatch.setattr(Lab, "_start_squid", broken)
    with pytest.raises(LabError, match="simulated"):
        Lab("healthy").start()
    assert leftovers() == before


def test_stale_leftovers_of_a_killed_lab_are_swept(tmp_path):
    """A lab process killed with SIGKILL leaves its files; the next lab removes them."""
    require_squid()
    code = ("import os, sys; from pytest_proxydiag.lab import Lab; lab = Lab('healthy').start(); "
            "print(lab.squid.name, lab.workdir, flush=True); sys.stdin.read()")
    proc = subprocess.Popen([os.sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    name, workdir = proc.stdout.readline().split()
    assert list(Path("/dev/shm").glob(f"{name}-*")) and Path(workdir).exists()
    proc.kill()
    proc.wait()
    from pytest_proxydiag.lab import sweep_stale

    sweep_stale()  # (another lab starting in parallel may have swept them already: either way, gone)
    assert not list(Path("/dev/shm").glob(f"{name}-*")) and not Path(workdir).exists()
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline and squid_running(name):
        time.sleep(0.05)
    assert not squid_running(name)


def squid_running(name: str) -> bool:
    for p in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if name.encode() + b"\0" in p.read_bytes():
                return True
        except OSError:
            continue
    return False


def test_sweep_removes_only_what_dead_processes_left(tmp_path):
    from pytest_proxydiag.lab import sweep_stale

    dead = subprocess.Popen(["true"])
    dead.wait()
    shm, tmp = tmp_path / "shm", tmp_path / "tmp"
    shm.mkdir()
    tmp.mkdir()
    stale = [shm / f"proxydiaglab{dead.pid}n1-cf__queues.shm", tmp / f"proxydiag-lab-{dead.pid}-healthy-x",
             tmp / f"proxydiag-demo-{dead.pid}-abc"]
    alive = [shm / f"proxydiaglab{os.getpid()}n1-cf__queues.shm", tmp / f"proxydiag-lab-{os.getpid()}-healthy-y",
             shm / "squid-cf__queues.shm"]
    for p in stale + alive:
        p.mkdir() if p.parent == tmp else p.write_bytes(b"")
    assert sorted(sweep_stale(shm, tmp)) == sorted(map(str, stale))
    assert all(p.exists() for p in alive)


def test_scripted_proxy_refuses_unknown_behaviour():
    with pytest.raises(ValueError, match="unknown behaviour"):
        ScriptedProxy("teapot")


def test_a_backend_that_cannot_play_the_scenario_is_an_error_not_ignored():
    # tinyproxy-* is played by tinyproxy: a --backend proxy.py must not be dropped silently.
    with pytest.raises(LabError, match="played by tinyproxy, not proxy.py"):
        with Lab("tinyproxy-healthy", backend="proxy.py"):
            pass
