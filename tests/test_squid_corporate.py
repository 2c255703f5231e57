"""Squid configurations corporate IT really writes, played with the real Squid in front of the lab's origin.

Each test starts a private Squid (``squid_config`` plus the test's own ``acl`` / ``http_access`` lines) on
loopback, runs the real diagnosis against it and asserts the step, the outcome and the advice.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from pytest_proxydiag.core.config import Target
from conftest import require_squid


class CorporateSquid:
    """A plain (non-intercepting) Squid with the test's own rules, in front of the lab's provider origin."""

    def __init__(self, name: str, rules: list[str], access: list[str] | None, port_options: str = "",
                 files: dict[str, str] | None = None, credentials: str = "", listen: str = "127.0.0.1",
                 proxy_host: str = "127.0.0.1") -> None:
        from pytest_proxydiag import lab as labmod
        from pytest_proxydiag.lab.servers import LOOPBACK_NAMES, HttpsOrigin, LabCA, free_port

        # Not under pytest's tmp_path: Squid drops to its own user, which must be able to enter the directory.
        self.workdir = Path(tempfile.mkdtemp(prefix=f"proxydiag-corp-{name}-"))
        self.workdir.chmod(0o755)
        public = LabCA("Proxydiag Lab Public Roots", "Fake public root (lab only)")
        self.public_roots = self.workdir / "public-roots.pem"
        self.public_roots.write_bytes(public.cert_pem)
        self.origin = HttpsOrigin(public, self.workdir / "origin").start()
        self.squid = None
        try:
            sq = self.workdir / "squid"
            sq.mkdir()
            hosts = sq / "hosts"
            hosts.write_text("".join(f"127.0.0.1 {h}\n" for h in LOOPBACK_NAMES))
            for file_name, text in (files or {}).items():  # helpers the rules name as {dir}/<file>
                (sq / file_name).write_text(text)
                (sq / file_name).chmod(0o755)
            rules = [r.replace("{dir}", str(sq)) for r in rules]
            labmod._give_to_squid_user(self.workdir)
            port = free_port(listen)
            lines = labmod.squid_config(sq, port, host=listen, port_options=port_options, rules=rules, access=access,
                                        hosts_file=hosts)
            self.squid = labmod.Squid(lines, sq, port, host=listen).start()
        except BaseException:
            self.stop()
            raise
        self.proxy_url = f"http://{credentials}{'@' if credentials else ''}{proxy_host}:{port}"
        self.env = {"HTTPS_PROXY": self.proxy_url, "HTTP_PROXY": self.proxy_url}
        self.target_url = f"https://api.anthropic.com:{self.origin.port}"
        self.pytest_args = ["--proxydiag-target", self.target_url, "--proxydiag-resolve",
                            f"api.anthropic.com:{self.origin.port}:127.0.0.1", "--proxydiag-public-roots",
                            str(self.public_roots), "--proxydiag-no-direct", "--proxydiag-no-claude-hosts"]

    def stop(self) -> None:
        if self.squid is not None:
            self.squid.stop()
        self.origin.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


@pytest.fixture
def corporate_squid():
    require_squid()
    started: list[CorporateSquid] = []

    def start(name: str, rules: list[str], access: list[str] | None = None, **kwargs) -> CorporateSquid:
        started.append(CorporateSquid(name, rules, access, **kwargs))
        return started[-1]

    yield start
    for s in started:
        s.stop()


def _curl_through(proxy_url: str, url: str) -> str:
    """curl's own answer through the proxy (the proxy's CONNECT status), loopback only."""
    curl = shutil.which("curl")
    if not curl:
        pytest.skip("curl is not installed (apt-get install curl)")
    done = subprocess.run([curl, "-s", "-o", "/dev/null", "-w", "%{http_connect}", "--max-time", "10", "-x",
                           proxy_url, url], capture_output=True, text=True, timeout=20)
    return done.stdout.strip()


def test_browser_only_user_agent_rule_is_named_not_a_refused_machine(corporate_squid, run_diag):
    # The stock "only browsers may use the proxy" rule: the browser works, curl and Claude Code do not.
    sq = corporate_squid("browser", ["acl browser browser -i Mozilla"],
                         ["http_access deny !browser", "http_access allow localhost", "http_access deny all"])
    assert _curl_through(sq.proxy_url, sq.target_url) == "403"  # what the user's curl meets
    run = run_diag(lab=sq)
    s = run.step("connectivity.proxy_works", target=sq.target_url)
    assert s["outcome"] == "failed" and s["finding_key"] == "browser_only", s
    assert "browser's User-Agent" in s["finding"] and "google.com:443" in s["finding"]
    assert "Claude Code, Python's requests and httpx send no User-Agent with CONNECT" in s["finding"]
    assert "http_access allow CONNECT llm_api" in s["solution"] and "dstdomain api.anthropic.com" in s["solution"]
    assert "src or proxy_auth" not in s["solution"]  # not "your address is left out"
    assert run.root_cause == "connectivity.proxy_works"


def test_a_squid_reverse_proxy_port_given_as_the_proxy_is_no_forward_proxy_not_a_connect_rule(corporate_squid,
                                                                                                 run_diag):
    # 'http_port 3128 accel' (the reverse proxy in front of an intranet site) in HTTPS_PROXY: Squid answers CONNECT
    # with 405 ERR_UNSUP_REQ. No SSL_ports or CONNECT rule is involved: the port is not a forward proxy.
    sq = corporate_squid("accel", [], port_options="accel defaultsite=intranet.example")
    run = run_diag(lab=sq)
    s = run.step("connectivity.proxy_works", target=sq.target_url)
    assert s["outcome"] == "failed" and s["finding_key"] == "not_forward_proxy", s
    assert "405 Method Not Allowed" in s["finding"] and "'Unsupported Request Method and Protocol'" in s["finding"]
    assert "Squid: an http_port with accel" in s["solution"] and "405 ERR_UNSUP_REQ" in s["solution"]
    assert "SSL_ports" not in s["solution"]  # no CONNECT rule to loosen
    assert run.root_cause == "connectivity.proxy_works"


def test_squid_error_code_alone_tells_a_reverse_proxy_port_in_any_language():
    from pytest_proxydiag.branches import products

    # A German error page (error_default_language de): no English words, the same X-Squid-Error.
    headers = [("Server", "squid/5.7"), ("X-Squid-Error", "ERR_UNSUP_REQ 0"), ("Content-Language", "de")]
    body = b"<title>FEHLER: Der angeforderte URL konnte nicht geholt werden</title>Nicht unterstutzte Methode"
    assert products.refusal_shape(405, headers, body) == "not_forward_proxy"
    assert products.refusal_words(body, headers) == "X-Squid-Error: ERR_UNSUP_REQ 0"
    # A forward port's own CONNECT rule stays a CONNECT rule.
    assert products.refusal_shape(405, [("X-Squid-Error", "ERR_ACCESS_DENIED 0")], b"") == "connect_not_allowed"


_AUTH = ["auth_param basic children 1 startup=1 idle=1", "auth_param basic realm corp",
         "acl authed proxy_auth REQUIRED"]
_AUTH_ACCESS = ["http_access deny !authed", "http_access allow localhost", "http_access deny all"]


def test_an_auth_helper_that_never_answers_is_the_login_check_not_a_dead_proxy(corporate_squid, run_diag):
    # The LDAP server behind basic_ldap_auth is unreachable and the helper waits: Squid answers 407 at once without
    # credentials and nothing at all with them.
    sq = corporate_squid("slow-helper", ["auth_param basic program {dir}/slow-ldap.sh", *_AUTH], _AUTH_ACCESS,
                         files={"slow-ldap.sh": "#!/bin/sh\nwhile read line; do sleep 30; echo OK; done\n"},
                         credentials="alice:lab-secret-7")
    run = run_diag("--proxydiag-timeout", "2", lab=sq)
    s = run.step("connectivity.proxy_works", target=sq.target_url)
    assert s["outcome"] == "failed" and s["finding_key"] == "auth_hangs", s
    assert "407 Proxy Authentication Required" in s["finding"] and "authentication helper" in s["finding"]
    assert "auth_param program" in s["solution"] and "--proxy-user alice" in s["solution"]
    assert "{" not in s["solution"] and "lab-secret-7" not in run.output
    assert f"CONNECT api.anthropic.com:{sq.origin.port}, credentials sent: CONNECT" in s["solution"]
    assert run.root_cause == "connectivity.proxy_works"


def test_a_proxy_on_ipv6_loopback_only_behind_localhost_is_found_at_its_address(corporate_squid, run_diag):
    # 'http_port [::1]:3128' on this machine and HTTPS_PROXY=http://localhost:3128, where localhost is 127.0.0.1 only
    # (/etc/hosts): curl and Claude Code try ::1 for localhost themselves, Python and Node are refused.
    import socket

    from pytest_proxydiag.lab.base import ipv6_loopback

    if not ipv6_loopback():
        pytest.skip("this machine (or container) has no IPv6 loopback ::1")
    if any(a[0] == socket.AF_INET6 for a in socket.getaddrinfo("localhost", 80, type=socket.SOCK_STREAM)):
        pytest.skip("localhost resolves to ::1 here: every client reaches the proxy")
    sq = corporate_squid("v6-only", [], listen="::1", proxy_host="localhost")
    run = run_diag(lab=sq)
    s = run.step("connectivity.proxy_port")
    assert s["outcome"] == "failed" and s["finding_key"] == "other_address", s
    port = sq.squid.port
    assert f"[::1]:{port}" in s["finding"] and "localhost resolves to 127.0.0.1" in s["finding"]
    assert "curl and Claude Code" in s["finding"]
    assert f'export HTTPS_PROXY="http://[::1]:{port}"' in s["solution"] and "http_port 3128" in s["solution"]
    assert run.root_cause == "connectivity.proxy_port"


def test_a_deny_info_redirect_to_the_block_page_is_a_domain_refusal_not_a_portal(corporate_squid, run_diag):
    # 'deny_info http://blockpage/?url=%u provider': Squid answers the refused CONNECT with a 307 to the company's block
    # page (X-Squid-Error: 403 Access Denied); google.com goes through.
    sq = corporate_squid("deny-info-url", ["acl ai dstdomain .anthropic.com",
                                           "deny_info http://blocked.corp.example/?url=%u ai"],
                         ["http_access deny ai", "http_access allow localhost", "http_access deny all"])
    run = run_diag(lab=sq)
    domain = run.step("policy.domain_allowed")
    assert domain["outcome"] == "failed", domain
    assert "redirected to the product's block page (http://blocked.corp.example/" in domain["finding"]
    assert "Please allow outbound HTTPS" in domain["solution"]
    works = run.step("connectivity.proxy_works", target=sq.target_url)
    assert works["outcome"] == "skipped" and works["blocked_by"] == "policy.domain_allowed", works
    assert "captive portal" not in run.output
    assert run.root_cause == "policy.domain_allowed"


def test_a_407_to_the_right_password_names_the_auth_backend_as_well(corporate_squid, run_diag):
    # The helper answers BH ("LDAP server unreachable"): Squid's 407 is the very one a wrong password gets. The fix
    # must not only say "contact IT for correct credentials": IT's cache.log shows the helper's failure.
    sq = corporate_squid("helper-bh", ["auth_param basic program {dir}/ldap-down.sh", *_AUTH], _AUTH_ACCESS,
                         files={"ldap-down.sh": "#!/bin/sh\nwhile read line; do echo 'BH LDAP server unreachable'; "
                                                "done\n"}, credentials="alice:lab-secret-7")
    run = run_diag(lab=sq)
    s = run.step("auth.credentials", target=sq.target_url)
    assert s["outcome"] == "failed" and s["finding_key"] == "rejected", s
    assert "Contact IT for correct credentials" in s["solution"]
    assert "result=BH" in s["solution"] and "basic_ldap_auth" in s["solution"]
    assert "lab-secret-7" not in run.output
    log = Path(sq.squid.cache_log).read_text()
    assert "result=BH" in log  # what the fix tells IT to look for is what Squid 5.7 writes


def test_digest_only_proxy_names_the_clients_that_fail_and_how_curl_can(corporate_squid, run_diag):
    if not Path("/usr/lib/squid/digest_file_auth").exists():
        pytest.skip("Squid's digest_file_auth helper is not at /usr/lib/squid (Debian's squid-openssl has it)")
    sq = corporate_squid("digest", ["auth_param digest program /usr/lib/squid/digest_file_auth {dir}/digest.pw",
                                    "auth_param digest children 1 startup=1 idle=1", "auth_param digest realm corp",
                                    "acl authed proxy_auth REQUIRED"], _AUTH_ACCESS,
                         files={"digest.pw": "alice:lab-secret-7\n"}, credentials="alice:lab-secret-7")
    run = run_diag(lab=sq)
    s = run.step("auth.scheme")
    assert s["outcome"] == "failed" and s["finding_key"] == "unsupported", s
    assert "offers Digest and not Basic" in s["finding"] and "--proxy-digest" in s["finding"]
    assert "none of the common clients" not in s["finding"]
    assert "lab-secret-7" not in run.output
    assert run.root_cause == "auth.scheme"


def test_a_time_rule_refusing_everything_now_is_named_among_the_client_rules(corporate_squid, run_diag):
    # 'http_access deny !office_hours' outside office hours: every name refused alike, the browser too.
    import time as clock

    hour = clock.localtime().tm_hour
    window = "00:00-00:01" if hour >= 1 else "12:00-12:01"  # a window that is not now (Squid reads local time)
    sq = corporate_squid("time", [f"acl office_hours time MTWHFAS {window}"],
                         ["http_access deny !office_hours", "http_access allow localhost", "http_access deny all"])
    run = run_diag(lab=sq)
    s = run.step("connectivity.proxy_works", target=sq.target_url)
    assert s["outcome"] == "failed" and s["finding_key"] == "refuses_everything", s
    assert "a time ACL outside the hours it allows" in s["solution"]


def test_a_parent_squid_wanting_a_login_the_proxy_does_not_send_is_not_the_users_credentials(run_diag):
    # Branch-office Squid -> head-office Squid with Basic auth, 'cache_peer ... parent' without login= and
    # never_direct: the parent's 407 comes back through the proxy. Credentials in HTTPS_PROXY never reach the parent
    # (Squid does not pass Proxy-Authorization to a peer without login=PASSTHRU): 'add your credentials' cannot work.
    from pytest_proxydiag import lab as labmod

    require_squid()
    parent = CorporateSquid("parent", [f"auth_param basic program {labmod.squid_helper('basic_ncsa_auth')} "
                                       "{dir}/htpasswd", *_AUTH], _AUTH_ACCESS,
                            files={"htpasswd": labmod.htpasswd_line("svc-proxy", "parent-pw-9") + "\n"})
    try:
        child = CorporateSquid("child", [f"cache_peer 127.0.0.1 parent {parent.squid.port} 0 no-query default",
                                         "never_direct allow all"], None)
        try:
            child.pytest_args = [a.replace(str(child.origin.port), str(parent.origin.port))
                                 for a in child.pytest_args]  # the parent reaches its own origin
            child.target_url = parent.target_url
            for creds in ("", "alice:lab-secret-7@"):
                child.env = {k: v.replace("http://", f"http://{creds}") for k, v in child.env.items()}
                run = run_diag(lab=child)
                s = run.step("auth.credentials", target=child.target_url)
                assert s["outcome"] == "failed" and s["finding_key"] == "parent_login", s
                assert f"not port {child.squid.port}" in s["finding"] and "login=PASSTHRU" in s["solution"]
                assert "Contact IT for correct credentials" not in s["solution"]
                assert "Add them, URL-encoded" not in s["solution"]
                assert "lab-secret-7" not in run.output
        finally:
            child.stop()
    finally:
        parent.stop()


def test_a_load_balancer_in_front_of_one_squid_is_no_parent():
    # LB on 8080 -> one Squid on 3128: X-Cache-Lookup names 3128, but a plain GET passes one proxy only.
    from types import SimpleNamespace

    from pytest_proxydiag.branches import auth
    from pytest_proxydiag.net.results import HttpReply

    proxy = SimpleNamespace(port=8080)
    one_hop = HttpReply(200, "OK", "HTTP/1.1", [("Via", "1.1 sq01.corp (squid/5.7)")], b"", False)
    two_hops = HttpReply(407, "Proxy Authentication Required", "HTTP/1.1",
                         [("Via", "1.1 parent (squid/5.7), 1.1 child (squid/5.7)")], b"", False)

    def refused(plain):  # the 407, with the plain GET through the proxy the probes sent after it
        return HttpReply(407, "Proxy Authentication Required", "HTTP/1.1",
                         [("X-Cache-Lookup", "NONE from sq01.corp:3128")], b"", False, None, plain)

    assert auth.parent_relay(proxy, refused(one_hop)) is None
    assert auth.parent_relay(proxy, refused(two_hops)) == ("sq01.corp:3128",
                                                           "1.1 parent (squid/5.7), 1.1 child (squid/5.7)")
    assert auth.parent_relay(SimpleNamespace(port=3128), refused(two_hops)) is None  # the proxy's own 407


# -- a proxy that refuses some CONNECTs and not others -------------------------------------------------------------
# Played for real with a Squid quota helper (external_acl_type allowing one CONNECT, or refusing only the first) and
# with 'acl over maxconn 1' (2 runs in 8): which probe meets the refusal depends on the order the probes run in, so
# these tests give the judges the measured answers instead.
def _tunnel(ok: bool, target: str = "api.anthropic.com:443"):
    from pytest_proxydiag.net.results import Cause, HttpReply, TunnelResult

    status, reason = (200, "Connection established") if ok else (403, "Forbidden")
    detail = f"HTTP/1.1 {status} {reason}" + ("" if ok else " (X-Squid-Error: ERR_ACCESS_DENIED 0)")
    reply = HttpReply(status, reason, "HTTP/1.1", (("X-Squid-Error", "ERR_ACCESS_DENIED 0"),) if not ok else (), b"")
    return TunnelResult(ok=ok, cause=Cause.OK if ok else Cause.PROXY_STATUS, detail=detail, reply=reply,
                        target=target)


def test_a_later_connect_refused_after_one_opened_is_a_connection_limit_not_a_tls_failure():
    from pytest_proxydiag.branches import connectivity
    from pytest_proxydiag.core.config import Target
    from pytest_proxydiag.net.results import Cause, TlsResult

    first, later = _tunnel(True), _tunnel(False)
    tls = TlsResult(ok=False, cause=Cause.BLOCKED, detail=f"no tunnel: {later.detail}", target=first.target,
                    tunnel=later)
    j = connectivity.judge_tunnel_tls(first, tls, Target("https://api.anthropic.com", "t"))
    assert (j.outcome, j.key) == ("fail", "later_connect_refused")
    assert "403 Forbidden" in j.values["evidence"] and "200 Connection established" in j.values["evidence"]


def test_a_refused_domain_that_opens_when_asked_again_is_a_connection_limit_not_a_port_rule():
    from pytest_proxydiag.branches import policy, policy_reach

    refused = _tunnel(False, "api.anthropic.com:8443")
    verdict = policy.read_tunnel(refused)
    domain = next(d for d in policy.provider_domains((Target("https://api.anthropic.com:8443", "t"),)))
    checked = [(domain, verdict, refused.detail)]
    j = policy_reach.judge_refused_then_opened(checked, {domain.hostport: _tunnel(True, domain.hostport)},
                                               proxy_hostport="proxy:3128")
    assert (j.outcome, j.key) == ("fail", "refused_then_opened") and j.values["blocked"] == domain.hostport
    # Refused again: a rule (the domain or port finding decides), not this.
    assert policy_reach.judge_refused_then_opened(checked, {domain.hostport: _tunnel(False, domain.hostport)},
                                                  proxy_hostport="proxy:3128") is None


def test_an_sdk_refused_like_the_probes_later_connect_is_not_told_to_upgrade():
    from types import SimpleNamespace

    from pytest_proxydiag.branches import application

    run = SimpleNamespace(ran=True, used_proxy=True, status=None, error_type="ProxyError", sdk="anthropic",
                          error="Connection error. (ProxyError('403 Forbidden'))", version="2.14.0", proxy_lines=[])
    j = application.judge_sdk_runs([run], True, {}, [], path_failed=(
        "connectivity.proxy_works", "HTTP/1.1 403 Forbidden", "connect_refused_too"))
    assert (j.outcome, j.by, j.key) == ("blocked", "connectivity.proxy_works", "connect_refused_too")
