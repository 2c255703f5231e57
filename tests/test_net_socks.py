"""The SOCKS5 client of the probe layer (net/socks.py): bytes in, typed replies out, and the same client against a
real Dante (from its package, on loopback) through the probes, for socks5h:// and socks5://."""

from __future__ import annotations

import pytest

from pytest_proxydiag.net.socks import (NEED_DATA, AuthReply, ConnectReply, MethodReply, Rep, Socks5Client,
                                        SocksProtocolError)


def feed(client: Socks5Client, *chunks: bytes):
    """Give *chunks* one by one; return every event (NEED_DATA included) in order."""
    events = []
    for chunk in chunks:
        client.receive_data(chunk)
        while client.stage not in ("done", "failed"):
            event = client.next_event()
            events.append(event)
            if event is NEED_DATA:
                break
    return events


def test_greeting_offers_no_auth_and_password_only_with_credentials():
    assert Socks5Client("api.anthropic.com", 443).data_to_send() == b"\x05\x01\x00"
    assert Socks5Client("api.anthropic.com", 443, credentials=("alice", "pw")).data_to_send() == b"\x05\x02\x00\x02"


def test_socks5h_sends_the_name_and_socks5_the_address():
    named = Socks5Client("api.anthropic.com", 443)
    named.data_to_send()
    feed(named, b"\x05\x00")
    assert named.data_to_send() == b"\x05\x01\x00\x03\x11api.anthropic.com\x01\xbb"
    v4 = Socks5Client("api.anthropic.com", 443, address="127.0.0.1")
    feed(v4, b"\x05\x00")
    assert v4.data_to_send() == b"\x05\x01\x00\x01\x7f\x00\x00\x01\x01\xbb"
    v6 = Socks5Client("api.anthropic.com", 8443, address="::1")
    feed(v6, b"\x05\x00")
    assert v6.data_to_send() == b"\x05\x01\x00\x04" + b"\x00" * 15 + b"\x01" + b"\x20\xfb"


def test_username_password_subnegotiation_rfc1929():
    client = Socks5Client("h", 443, credentials=("alice", "s3cret"))
    client.data_to_send()
    events = feed(client, b"\x05\x02")
    assert events == [MethodReply(2, (0, 2)), NEED_DATA]
    assert client.data_to_send() == b"\x01\x05alice\x06s3cret"
    assert feed(client, b"\x01\x00")[0] == AuthReply(0)
    assert client.stage == "connect"
    rejected = Socks5Client("h", 443, credentials=("alice", "wrong"))
    feed(rejected, b"\x05\x02")
    assert feed(rejected, b"\x01\x01") == [AuthReply(1)]
    assert rejected.stage == "failed" and not AuthReply(1).ok


def test_no_acceptable_method():
    client = Socks5Client("h", 443)
    assert feed(client, b"\x05\xff") == [MethodReply(0xFF, (0,))]
    assert client.stage == "failed" and not MethodReply(0xFF, (0,)).acceptable
    # A server choosing a method that was not offered is refused too (here: password, no credentials).
    assert not MethodReply(2, (0,)).acceptable


@pytest.mark.parametrize("rep", list(Rep))
def test_every_connect_reply_code(rep):
    client = Socks5Client("api.anthropic.com", 443)
    feed(client, b"\x05\x00")
    client.data_to_send()
    reply = bytes([5, rep, 0, 1, 10, 0, 0, 7]) + (1080).to_bytes(2, "big")
    events = feed(client, reply)
    assert events == [ConnectReply(rep, "10.0.0.7", 1080)]
    assert client.stage == ("done" if rep == Rep.SUCCEEDED else "failed")


def test_replies_split_into_single_bytes_and_a_domain_bound_address():
    client = Socks5Client("h", 443)
    reply = b"\x05\x00" + b"\x05\x00\x00\x03\x05proxy\x04\x38"
    events = feed(client, *(bytes([b]) for b in reply))
    assert [e for e in events if e is not NEED_DATA] == [MethodReply(0, (0,)), ConnectReply(0, "proxy", 1080)]


@pytest.mark.parametrize("stage_bytes, reply", [
    (b"", b"HTTP/1.1 400 Bad Request\r\n"),       # an HTTP proxy on the port
    (b"", b"SSH-2.0-OpenSSH_9.2\r\n"),
    (b"\x05\x00", b"\x04\x5a\x00\x00"),            # a SOCKS4 answer to the CONNECT
    (b"\x05\x00", b"\x05\x00\x00\x09\x00\x00"),    # an unknown address type on success
])
def test_bytes_that_are_not_socks5_raise(stage_bytes, reply):
    client = Socks5Client("h", 443)
    if stage_bytes:
        feed(client, stage_bytes)
    with pytest.raises(SocksProtocolError):
        feed(client, reply)


def test_a_close_before_a_complete_reply_raises_and_a_flood_is_bounded():
    client = Socks5Client("h", 443)
    feed(client, b"\x05")
    with pytest.raises(SocksProtocolError, match="closed"):
        feed(client, b"")
    flooded = Socks5Client("h", 443)
    feed(flooded, b"\x05\x00")
    with pytest.raises(SocksProtocolError, match="longer"):
        flooded.receive_data(b"\x05\x00\x00\x03\xff" + b"x" * 300)


def test_bad_inputs_are_refused_before_any_byte_is_sent():
    with pytest.raises(ValueError):
        Socks5Client("h", 0)
    with pytest.raises(ValueError):
        Socks5Client("h", 443, credentials=("", "pw"))
    with pytest.raises(ValueError):
        Socks5Client("h", 443, credentials=("u", "p" * 256))


# -- the probes against a real Dante ------------------------------------------------------------------------
@pytest.fixture
def dante_probes():
    """``make(scheme, credentials=None, sent=None, blocked=())`` -> Probes for a real Dante on loopback."""
    from pytest_proxydiag.lab import ClosedPort, RealProxy
    from pytest_proxydiag.lab.products import find_nss_wrapper, find_product

    if not find_product("dante") or not find_nss_wrapper():
        import os

        msg = "Dante or nss_wrapper missing (sudo apt-get install dante-server libnss-wrapper)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg + "; under CI=true this is an error")
        pytest.skip(msg)
    started = []

    def make(scheme, *, credentials=None, sent=None, blocked=()):
        dante = RealProxy("dante", credentials=credentials, blocked=blocked).start()
        started.append(dante)
        closed = ClosedPort()
        started.append(closed)
        return _probes(f"{scheme}://" + (f"{sent[0]}:{sent[1]}@" if sent else "") + f"127.0.0.1:{dante.port}",
                       closed.port)
    yield make
    for part in started:
        part.stop()


def _probes(proxy_url: str, closed_port: int):
    from pytest_proxydiag.core.config import settings_from_options
    from pytest_proxydiag.net.probes import Probes

    # socks5://: this side resolves the provider's name, pinned to loopback (never a real lookup).
    options = {"proxydiag_target": [f"https://api.anthropic.com:{closed_port}"],
               "proxydiag_resolve": [f"api.anthropic.com:{closed_port}:127.0.0.1"],
               "proxydiag_no_direct": True, "proxydiag_timeout": "3"}
    return Probes(settings_from_options(options, env={"HTTPS_PROXY": proxy_url})), closed_port


@pytest.mark.parametrize("scheme, resolved_by", [("socks5h", "proxy"), ("socks5", "client")])
def test_probe_through_real_dante(dante_probes, scheme, resolved_by):
    probes, closed = dante_probes(scheme)
    res = probes.connect_tunnel("api.anthropic.com", closed)
    # The tunnel reaches Dante, which connects to the (closed) provider port and says so precisely.
    assert not res.ok and res.socks.stage == "connect" and res.socks.code == Rep.CONNECTION_REFUSED, res
    assert res.socks.resolved_by == resolved_by
    assert res.socks.address == ("127.0.0.1" if scheme == "socks5" else None)


def test_probe_auth_accepted_refused_and_missing_with_real_dante(dante_probes):
    probes, closed = dante_probes("socks5h", credentials=("alice", "lab-secret"), sent=("alice", "lab-secret"))
    ok = probes.connect_tunnel("api.anthropic.com", closed)
    assert ok.socks.stage == "connect" and ok.credentials_sent  # past the password: Dante tried the provider
    probes, closed = dante_probes("socks5h", credentials=("alice", "lab-secret"), sent=("alice", "wrong"))
    wrong = probes.connect_tunnel("api.anthropic.com", closed)
    assert (wrong.socks.stage, wrong.socks.code) == ("auth", 1) and wrong.cause.value == "socks_refused"
    probes, closed = dante_probes("socks5h", credentials=("alice", "lab-secret"))
    missing = probes.connect_tunnel("api.anthropic.com", closed)
    assert (missing.socks.stage, missing.socks.code) == ("method", 0xFF) and not missing.credentials_sent


def test_probe_ruleset_refusal_with_real_dante(dante_probes):
    probes, closed = dante_probes("socks5h", blocked=["api.anthropic.com"])
    res = probes.connect_tunnel("api.anthropic.com", closed)
    assert (res.socks.stage, res.socks.code) == ("connect", Rep.NOT_ALLOWED)
    from pytest_proxydiag.core.step import blocking_step_for

    # The SOCKS server's rules refuse the destination: policy's to judge, as a 403 to CONNECT is.
    assert blocking_step_for(res) == "policy.domain_allowed"
    from pytest_proxydiag.branches import policy

    verdict = policy.read_tunnel(res)
    assert (verdict.kind, verdict.sender, verdict.answer) == ("denied", "proxy", "SOCKS5 reply 0x02")
    assert verdict.meaning == "connection not allowed by ruleset" and verdict.answered and verdict.is_block


# -- the whole diagnosis through a real Dante: the steps that judge a tunnel judge a SOCKS5 one ------------------
from test_products_lab import product_lab  # noqa: E402,F401  (the fixture that starts a product scenario)

#: Steps whose evidence is in an HTTP proxy's answer (Proxy-Authenticate, an http:// request the proxy reads) or
#: that another engineer's branch still gates on HTTP; every other step must judge a SOCKS5 tunnel.
HTTP_ONLY = {"auth.scheme", "application.python_requests"}


def test_a_healthy_dante_is_judged_through_its_tunnel_by_certificate_policy_and_performance(product_lab, run_diag):
    lab = product_lab("dante-socks")
    run = run_diag("--proxydiag-clients", "none", lab=lab)
    http_only = {s["id"] for s in run.steps if "checks HTTP proxies" in (s.get("skip_reason") or "")}
    assert http_only <= HTTP_ONLY, http_only
    judged = {"certificate.interception", "certificate.python_ssl", "policy.domain_allowed", "policy.url_filtering",
              "policy.payload_size", "policy.proxy_logs", "performance.latency", "performance.proxy_health"}
    outcomes = {s["id"]: s["outcome"] for s in run.steps}
    assert {k: outcomes[k] for k in judged} == dict.fromkeys(judged, "passed"), run.output[-4000:]
    cert = run.step("certificate.interception", target=lab.target_url)
    # The chain came through the SOCKS5 tunnel and was checked: the lab origin's, chaining to its public root.
    assert cert["summary"].startswith("not intercepted: ") and "Proxydiag Lab Public Roots" in cert["summary"]
    assert run.step("policy.domain_allowed")["summary"].endswith("SOCKS5 connect reply 0x00 (allowed)")
    assert "from the provider: no filtering verdict" in run.step("policy.url_filtering", target=lab.target_url)[
        "summary"]
    latency = run.step("performance.latency", target=lab.target_url)
    assert "CONNECT reply" in latency["summary"] and "streaming: first event" in latency["summary"]
    assert run.step("performance.proxy_health")["summary"].startswith("10 of 10 samples")
    # auth.scheme says why it cannot judge a SOCKS proxy, and which step does.
    assert "no Proxy-Authenticate header" in run.step("auth.scheme")["skip_reason"]


def test_dante_refusing_the_domain_is_policy_s_finding_with_the_domain_named(product_lab, run_diag):
    lab = product_lab("dante-blocked-domain")
    run = run_diag("--proxydiag-clients", "none", lab=lab)
    assert run.root_cause == "policy.domain_allowed", run.output[-4000:]
    s = run.step("policy.domain_allowed")
    assert s["outcome"] == "failed" and s["finding_key"] == "socks_denied"
    port = lab.target_url.rpartition(":")[2]
    assert f"refuses 1 provider domain(s): api.anthropic.com:{port} (SOCKS5 reply 0x02: connection not allowed by " \
        f"ruleset)" in s["finding"]
    assert "SOCKS5 replies do not name the product" in s["finding"]
    assert "Please allow outbound connections through the SOCKS5 proxy" in s["solution"]
    assert f"  api.anthropic.com  (HTTPS, port {port}; Anthropic)" in s["solution"]
    assert "'socks pass' rule" in s["solution"]
    # The same refusal, not a second finding: proxy_works, auth and the tunnel steps defer to it.
    for step_id in ("connectivity.proxy_works", "auth.credentials", "policy.url_filtering",
                    "certificate.interception", "performance.latency"):
        found = run.step(step_id, target=lab.target_url)
        assert found["outcome"] == "skipped" and found["blocked_by"] == "policy.domain_allowed", found
    logs = run.step("policy.proxy_logs")
    assert logs["outcome"] == "failed" and "SOCKS5 reply 0x02" in logs["finding"]
    assert "answer:      SOCKS5 reply 0x02 (connection not allowed by ruleset)" in logs["solution"]
    assert "the logoutput file of danted.conf" in logs["solution"]


def test_url_filtering_alone_judges_dante_s_refusal_itself(product_lab, run_diag):
    """-k url_filtering: policy.domain_allowed is not in the run; the step's own SOCKS5 CONNECT is the verdict."""
    lab = product_lab("dante-blocked-domain")
    run = run_diag("-k", "url_filtering", "--proxydiag-clients", "none", lab=lab)
    s = run.step("policy.url_filtering", target=lab.target_url)
    assert s["outcome"] == "failed" and s["finding_key"] == "own_refused_socks", run.output[-3000:]
    assert "The SOCKS5 proxy" in s["finding"] and "was answered SOCKS5 connect reply 0x02" in s["finding"]
    assert "Please allow outbound connections through the SOCKS5 proxy" in s["solution"]
    assert "api.anthropic.com  (HTTPS, port" in s["solution"] and "'socks pass' rule" in s["solution"]
    assert "did not select" not in run.output



def test_http_only_steps_say_why_a_socks_proxy_cannot_be_judged():
    """require_http_proxy's reason is the step's own ``http_only`` note (the shared one otherwise)."""
    from pytest_proxydiag import catalog

    assert "no Proxy-Authenticate header" in catalog.note("auth.scheme", "http_only", scheme="socks5h")
    assert "Claude Code cannot use a SOCKS proxy at all" in catalog.note("policy.claude_hosts", "http_only",
                                                                         scheme="socks5h")
    assert catalog.COMMON_NOTES["http_only"].format(scheme="socks5").startswith("the proxy is socks5:// (SOCKS)")
