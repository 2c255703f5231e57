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

    assert blocking_step_for(res) == "connectivity.proxy_works"
