"""Product identification and refusal shapes: the fingerprint table against replies each product sends."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_proxydiag.branches import policy, products
from pytest_proxydiag.catalog.products import FINGERPRINTS

BLOCKPAGES = Path(__file__).parent / "data" / "blockpages"


def parse_http(raw: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
    head, _, body = raw.replace(b"\r\n", b"\n").partition(b"\n\n")
    lines = head.decode("latin-1").split("\n")
    status = int(lines[0].split()[1])
    headers = [(k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in lines[1:] if ":" in line)]
    return status, headers, body


# (headers, body, issuer, expected product): one reply per product of the list, in the shape the
# product sends (header values and page lines from its documentation, or measured from the real product).
REPLIES = [
    ([("Server", "squid/5.7"), ("X-Squid-Error", "ERR_ACCESS_DENIED 0")], "", None, "Squid"),
    ([("Server", "tinyproxy/1.11.1")], "<h1>Filtered</h1>", None, "tinyproxy"),
    ([("Server", "Apache/2.4.71 (Debian)")], "<address>Apache/2.4.71 (Debian) Server at x Port 80</address>",
     None, "Apache httpd (mod_proxy)"),
    ([("Content-Type", "text/html")], "<title>403 Request blocked by Privoxy</title>", None, "Privoxy"),
    ([("Proxy-Authenticate", 'Basic realm="mitmproxy"')], "", None, "mitmproxy"),
    ([], "", "CN=mitmproxy, O=mitmproxy", "mitmproxy"),
    ([("Server", "ATS/9.2.3")], "", None, "Apache Traffic Server"),
    ([("Server", "haproxy")], "", None, "HAProxy"),
    ([("Server", "nginx/1.22.1")], "<hr><center>nginx/1.22.1</center>", None, "nginx"),
    ([("Server", "envoy")], "upstream connect error or disconnect/reset before headers", None, "Envoy"),
    ([("Server", "Zscaler/6.2")], "", None, "Zscaler"),
    ([("X-Netskope-Inspected", "true")], "", None, "Netskope"),
    # Netskope re-signs with a per-tenant intermediate named after its goskope.com domain, not "Netskope".
    ([], "", "CN=ca.acme.goskope.com, O=Acme, OU=certadmin", "Netskope"),
    ([], "", "CN=Palo Alto Networks Forward Trust CA", "Palo Alto Networks"),
    ([("X-BlueCoat-Via", "3f2a1b")], "", None, "Blue Coat / Symantec ProxySG"),
    ([("Via", "1.1 Forcepoint")], "", None, "Forcepoint (Websense)"),
    ([("Server", "FortiGate")], "", None, "Fortinet FortiGate"),
    ([("Location", "https://block.opendns.com/?url=x")], "", None, "Cisco Umbrella"),
    ([("Via", "1.1 wsa.example.com:80 (Cisco-WSA/14.5)")], "", None, "Cisco Secure Web Appliance (WSA / IronPort)"),
    ([("Via", "1.1 Skyhigh Secure Web Gateway")], "", None, "Skyhigh / McAfee Web Gateway"),
    ([("Server", "Sophos UTM")], "", None, "Sophos"),
    ([], "<title>Check Point UserCheck</title>", None, "Check Point"),
    ([("Server", "iboss")], "", None, "iboss"),
    ([], "", "CN=Menlo Security Intermediate CA", "Menlo Security"),
    ([("Cf-Gateway", "1")], "", None, "Cloudflare Gateway"),
    # Privoxy 3.0.34 +block with +handle-as-empty-document: a 1-byte page, no Server; its own Last-Modified (measured)
    ([("Content-Length", "1"), ("Last-Modified", "Wed, 08 Jun 1955 12:00:00 GMT")], " ", None, "Privoxy"),
]


@pytest.mark.parametrize("headers, body, issuer, expected", REPLIES,
                         ids=[f"{r[3]}-{i}" for i, r in enumerate(REPLIES)])
def test_each_product_is_named_from_its_own_signals(headers, body, issuer, expected):
    match = products.identify(headers, body, issuer=issuer)
    assert match.name == expected, match
    assert match.logs, f"{expected} has no log location"
    assert expected in products.describe(match) and match.logs in products.describe(match)


def test_every_product_entry_says_where_it_logs_and_how_it_refuses():
    assert len(FINGERPRINTS) >= 23
    for entry in FINGERPRINTS:
        assert entry["logs"] and entry["refusal"], entry["name"]
        products.product_from_entry(entry)  # every regex compiles


@pytest.mark.parametrize("page", sorted(p.name for p in BLOCKPAGES.glob("*.http")))
def test_recorded_block_pages_keep_their_product(page):
    import json

    expected = json.loads((BLOCKPAGES / "expected.json").read_text())[page]["vendor"]
    _status, headers, body = parse_http((BLOCKPAGES / page).read_bytes())
    assert products.identify(headers, body).name == expected


def test_an_unknown_product_is_said_to_be_unknown_and_its_headers_quoted_verbatim():
    match = products.identify([("Server", "AcmeGate/3.1"), ("Via", "1.1 gw7 (AcmeGate)")],
                              "<html><title>Denied</title><h1>Policy violation 42</h1></html>")
    assert match.name is None
    text = products.describe(match)
    assert "not known to pytest-proxydiag" in text
    assert "Server: 'AcmeGate/3.1'" in text and "Via: '1.1 gw7 (AcmeGate)'" in text
    assert "title 'Denied'" in text and "heading 'Policy violation 42'" in text


def test_a_vendor_block_page_heading_is_quoted_even_when_the_headers_say_squid():
    page = ("<html><head><title>Access Denied</title></head><body><h1>Access Denied by Example Corp Secure "
            "Web Gateway</h1><p>Category: Generative AI</p></body></html>")
    match = products.identify([("Server", "squid/5.7"), ("Via", "1.1 proxy (squid/5.7)")], page)
    assert match.name == "Squid"
    assert "heading 'Access Denied by Example Corp Secure Web Gateway'" in products.describe(match)


def test_quotes_are_bounded_and_markup_free():
    title, heading = products.page_quote("<title>" + "x" * 500 + "</title><h2><b>Blocked</b> &amp; logged</h2>")
    assert len(title) == products.QUOTE_LIMIT and title.endswith("…")
    assert heading == "Blocked & logged"
    assert products.page_quote(b"\xff\xfe not html") == (None, None)


def test_a_site_adds_its_own_product_and_it_wins_over_the_built_in_table(monkeypatch):
    site = products.product_from_entry({"name": "Example Corp Gateway", "headers": {"Via": r"examplecorp-gw"},
                                        "logs": "Splunk index=proxy host=gw*"})
    monkeypatch.setattr(products, "site_products", lambda: ((site,), ()))
    match = products.identify([("Via", "1.1 examplecorp-gw (squid/5.7)")])
    assert match.name == "Example Corp Gateway" and match.logs == "Splunk index=proxy host=gw*"
    with pytest.raises(ValueError, match="name"):
        products.product_from_entry({"headers": {}})


@pytest.mark.parametrize("status, headers, body, sent, shape", [
    (407, [("Proxy-Authenticate", "Basic")], "", True, "credentials_rejected"),
    (407, [("Proxy-Authenticate", "Basic")], "", False, "credentials_required"),
    # tinyproxy 1.11 answers 401 (HTTP/1.0) to CONNECT with wrong credentials (measured).
    (401, [("WWW-Authenticate", 'Basic realm="Tinyproxy"')], "", True, "credentials_rejected"),
    # tinyproxy never answers 401 to a request without credentials (407 then): such a 401 is its parent's.
    (401, [("WWW-Authenticate", 'Basic realm="Tinyproxy"')], "", False, "parent_credentials"),
    (401, [("WWW-Authenticate", 'Basic realm="corp"')], "", False, "credentials_required"),
    (403, [], '<form><input type="password" name="pw"></form>', False, "login_portal"),
    (511, [], "<title>Network Authentication Required</title>", False, "login_portal"),
    (302, [("Location", "https://portal.example/login?u=x")], "", False, "other"),  # judged as a redirect
    (405, [], "", False, "connect_not_allowed"),
    (501, [], "", False, "connect_not_allowed"),
    (400, [], "", False, "bad_request"),
    (503, [], "<title>Service Unavailable</title>", False, "upstream"),
    (500, [("Server", "tinyproxy/1.11.1")], "", False, "upstream"),
    (403, [], "<h1>Access denied</h1>", False, "denied"),
    # What the page says was refused (measured: tinyproxy 1.11.1 ConnectPort / Allow, Apache 2.4.71 without
    # mod_proxy_connect): a port or this machine, not the domain.
    (403, [("Server", "tinyproxy/1.11.1")], "<h1>Access violation</h1>\n<p>The CONNECT method not allowed with the "
     "port you tried to use.</p>", False, "connect_not_allowed"),
    (403, [("Server", "tinyproxy/1.11.1")], "<h1>Access denied</h1>\n<p>The administrator of this proxy has not "
     "configured it to service requests from your host.</p>", False, "client_denied"),
    (500, [("Server", "Apache/2.4.71 (Debian)")], "<h1>Internal Server Error</h1>\n<p>The server encountered an "
     "internal error or\nmisconfiguration and was unable to complete\nyour request.</p>", False,
     "connect_not_allowed"),
    # tinyproxy 1.11.1 passing on its parent's answer (measured): 'Upstream http parent:port' without the parent's
    # credentials gets its 407 (no Proxy-Authenticate left), wrong ones in the Upstream line its 401; tinyproxy's own
    # 407/401 carry no Via. Squid's own 407 carries its own Via: still the user's credentials.
    (407, [("Via", "1.1 vm (tinyproxy/1.11.1)"), ("Server", "tinyproxy/1.11.1")], "", False, "parent_credentials"),
    (401, [("Via", "1.1 vm (tinyproxy/1.11.1)"), ("WWW-Authenticate", 'Basic realm="Tinyproxy"')], "", True,
     "parent_credentials"),
    (407, [("Via", "1.1 vm (squid/5.7)"), ("Proxy-Authenticate", 'Basic realm="lab"')], "", False,
     "credentials_required"),
    # ... and with 'DisableViaHeader Yes' its parent's 401 with no Via: tinyproxy's own answer to no credentials is 407.
    (401, [("Server", "tinyproxy/1.11.1"), ("WWW-Authenticate", 'Basic realm="Tinyproxy"')], "", False,
     "parent_credentials"),
    (200, [], "", False, None),
])
def test_refusal_shapes(status, headers, body, sent, shape):
    assert products.refusal_shape(status, headers, body, credentials_sent=sent) == shape
    if shape:
        assert shape in products.REFUSAL_SHAPES


@pytest.mark.parametrize("cause, control_ok, control_cause, verdict", [
    ("reset", True, "ok", "one_domain"),
    ("closed", True, "ok", "one_domain"),
    ("reset", False, "reset", "every_domain"),
    ("reset", False, "timeout", "inconclusive"),
    ("timeout", True, "ok", "inconclusive"),
])
def test_a_silent_refusal_is_judged_against_a_control_connect(cause, control_ok, control_cause, verdict):
    assert products.silent_refusal(cause, control_ok, control_cause) == verdict
    assert products.control_host(["api.anthropic.com"]) != "api.anthropic.com"
    assert products.control_host(["bedrock-runtime.us-east-1.amazonaws.com"]) not in (
        "bedrock-runtime.us-east-1.amazonaws.com",)


def test_a_leaf_only_interceptor_says_where_its_ca_is():
    hint = products.ca_hint("O=mitmproxy,CN=mitmproxy mitmproxy")
    assert "~/.mitmproxy/mitmproxy-ca-cert.pem" in hint and "http://mitm.it" in hint
    assert products.ca_hint("CN=Example Corp Inspection CA") == ""


def test_mitmproxy_plain_text_upstream_error_is_recognised():
    body = (b"Cannot connect to api.anthropic.com:37931: [Errno 111] Connect call failed ('127.0.0.1', 37931) If you "
            b"plan to redirect requests away from this server, consider setting `connection_strategy` to `lazy` to "
            b"suppress early connections.")  # mitmproxy 11.0.2, measured
    assert products.identify([("content-length", "231")], body).name == "mitmproxy"
    assert products.refusal_shape(502, [], body) == "upstream"


@pytest.mark.parametrize("stage, data, sent, shape", [
    ("method", b"\x05\x00", False, "ok"),
    ("method", b"\x05\xff", False, "credentials_required"),
    ("method", b"\x05\xff", True, "credentials_rejected"),
    ("method", b"\x05\x02", False, "credentials_required"),
    ("auth", b"\x01\x00", True, "ok"),
    ("auth", b"\x01\x01", True, "credentials_rejected"),
    ("connect", b"\x05\x00\x00\x01", False, "ok"),
    ("connect", b"\x05\x02\x00\x01", False, "denied"),
    ("connect", b"\x05\x05\x00\x01", False, "upstream"),
    ("connect", b"\x05\x07\x00\x01", False, "connect_not_allowed"),
    ("connect", b"HTTP/1.1 400", False, "bad_request"),
    ("connect", b"", False, "bad_request"),
])
def test_socks5_replies(stage, data, sent, shape):
    assert products.socks5_reply(stage, data, credentials_sent=sent).shape == shape


@pytest.mark.parametrize("by, ran, named", [
    ("connectivity.proxy_works", {"connectivity.proxy_works": "failed"}, "connectivity.proxy_works"),
    # -m policy: proxy_works was deselected; domain_allowed ran and failed on the same CONNECT.
    ("connectivity.proxy_works", {"policy.domain_allowed": "failed"}, "policy.domain_allowed"),
    ("auth.credentials", {"connectivity.proxy_reachable": "failed", "policy.domain_allowed": "failed"},
     "connectivity.proxy_reachable"),
    # nothing that ran judged it: the evidence needs the deselected step (the report says so)
    ("connectivity.proxy_works", {"policy.domain_allowed": "passed"}, "connectivity.proxy_works"),
    ("application.env_in_shell", {"policy.domain_allowed": "failed"}, "application.env_in_shell"),
])
def test_a_blocker_is_a_step_that_ran(by, ran, named):
    from pytest_proxydiag.core.step import ran_blocker

    assert ran_blocker(by, ran, frozenset(ran)) == named
    # A step selected in this session that runs later (connectivity.proxy_works comes after the policy steps)
    # stays the blocker; without a known selection nothing changes.
    assert ran_blocker(by, ran, frozenset(ran) | {by}) == by
    assert ran_blocker(by, ran, None) == by


def _url(raw: str):
    from pytest_proxydiag.core.proxyurl import parse_proxy_url

    return parse_proxy_url(raw)


@pytest.mark.parametrize("raw, present, cannot, can", [
    # socks5h: requests and httpx with their extras can; Claude Code and Node never can.
    ("socks5h://127.0.0.1:1080", {"curl": True, "requests": True, "httpx": True, "claude": True},
     ["Claude Code"], ["curl", "Python requests", "httpx"]),
    # without PySocks requests cannot, and the fix names the extra
    ("socks5h://127.0.0.1:1080", {"requests": False}, ['requests[socks]'], []),
    # httpx speaks SOCKS5 only, curl speaks socks4 too
    ("socks4://127.0.0.1:1080", {"curl": True, "httpx": True}, ["does not speak socks4://"], ["curl"]),
])
def test_socks_clients_are_judged_one_by_one(raw, present, cannot, can):
    from pytest_proxydiag.branches import connectivity

    verdict = connectivity.judge_socks_clients(_url(raw), present, "CONNECT ok")
    if not cannot:
        assert verdict.outcome == "pass"
        return
    assert verdict.outcome == "fail" and verdict.key == "socks_clients"
    assert all(c in verdict.values["cannot"] for c in cannot), verdict.values
    assert all(c in verdict.values["can"] for c in can), verdict.values


def test_socks_refusals_are_judged_by_stage():
    from pytest_proxydiag.branches import auth, connectivity
    from pytest_proxydiag.core.config import Target
    from pytest_proxydiag.net.results import Cause, SocksOutcome, TunnelResult

    target = Target("https://api.anthropic.com", "test")
    url = _url("socks5h://alice:pw@127.0.0.1:1080")
    wrong = TunnelResult(ok=False, cause=Cause.SOCKS_REFUSED, target="api.anthropic.com:443",
                         credentials_sent=True, socks=SocksOutcome("auth", 1))
    assert auth.judge_socks_credentials(url, target, wrong).key == "socks_rejected"
    assert connectivity.judge_socks_tunnel(url, wrong, target).by == "auth.credentials"
    denied = TunnelResult(ok=False, cause=Cause.SOCKS_REFUSED, target="api.anthropic.com:443",
                          socks=SocksOutcome("connect", 2))
    # "Not allowed by ruleset" is the SOCKS server's policy: policy.domain_allowed judges it, as it does a 403.
    assert connectivity.judge_socks_tunnel(url, denied, target).by == "policy.domain_allowed"
    assert auth.judge_socks_credentials(url, target, denied).by == "policy.domain_allowed"
    unreachable = TunnelResult(ok=False, cause=Cause.SOCKS_REFUSED, target="api.anthropic.com:443",
                               socks=SocksOutcome("connect", 4, "client", "127.0.0.1"))
    verdict = connectivity.judge_socks_tunnel(url, unreachable, target)
    assert verdict.key == "socks_refused" and verdict.values["meaning"] == "host unreachable"
    assert verdict.values["hint"].key == "try_socks5h"


def test_a_parent_refusing_the_proxys_own_credentials_is_read_from_the_page():
    page = ("<html><title>503 - Forwarding failure (Privoxy@api.anthropic.com)</title><h2>Forwarding failure</h2>"
            "<p>Privoxy was unable to <code>socks5-forward</code> your request <b>https://api.anthropic.com/</b> "
            "through <b>127.0.0.1</b>: <b>SOCKS5 authentication failed</b></p></html>")  # Privoxy 3.0.34, measured
    assert products.parent_auth_failure(page) == "SOCKS5 authentication failed"
    assert products.parent_auth_failure("<h1>503 Service Unavailable</h1>") is None


_SQUID_DENIED = ((("X-Squid-Error", "ERR_ACCESS_DENIED 0"), ("Server", "squid/6.13")),
                 b"<html><title>ERROR: The requested URL could not be retrieved</title></html>")


@pytest.mark.parametrize("provider, reference, alike", [
    ((403, *_SQUID_DENIED), (403, *_SQUID_DENIED), True),
    ((403, (), b""), (403, (), b""), True),
    # The reference went through (an upstream error), or was refused in other words: a rule about the provider.
    ((403, *_SQUID_DENIED), (503, (("X-Squid-Error", "ERR_CONNECT_FAIL 111"),), b""), False),
    ((403, *_SQUID_DENIED), (403, (("X-Squid-Error", "ERR_FORWARDING_DENIED 0"),), b""), False),
    ((403, *_SQUID_DENIED), (451, *_SQUID_DENIED), False),
    # A category block page names why: a rule about what the name is, even if the reference falls under one too.
    ((403, (), b"<html>Access Denied. URL Category: Generative AI</html>"),
     (403, (), b"<html>Access Denied. URL Category: Generative AI</html>"), False),
])
def test_a_reference_refused_alike_tells_a_refused_machine_from_a_domain_rule(provider, reference, alike):
    first, other = (policy.read_reply(*reply, stage="connect") for reply in (provider, reference))
    assert products.refused_alike(first, other) is alike


@pytest.mark.parametrize("body, words", [
    # tinyproxy 1.11.1 Filter (FilterDefaultDeny Yes: an allow-list), measured
    ("<h1>Filtered</h1>\n<p>The request you made has been filtered</p>", "request you made has been filtered"),
    # Privoxy 3.0.34 +block{reason}, as its page writes it (once in a script string, once as HTML)
    ("document.write('\\ <b>Block reason:</b> only approved sites \\ See why')", "Block reason: only approved sites"),
    # Privoxy's +limit-connect is a port rule, not a name filter; a machine refused (tinyproxy's Allow) neither
    ("<b>Block reason:</b> Forbidden CONNECT port.", None),
    ("<p>The administrator of this proxy has not configured it to service requests from your host.</p>", None),
])
def test_a_page_saying_the_name_was_filtered_is_told_from_a_port_or_machine_rule(body, words):
    assert products.name_filter_words(body) == words


def test_a_parent_proxy_the_proxy_cannot_reach_is_read_from_the_page():
    """Measured pages (tinyproxy 1.11.1 Upstream, Privoxy 3.0.34 forward-socks5t, each to a closed port)."""
    assert products.parent_down_words("<h1>Unable to connect to upstream proxy</h1>") == \
        "Unable to connect to upstream proxy"
    assert products.parent_down_words("Privoxy was unable to socks5t-forward your request https://x:443/ through "
                                      "127.0.0.1 : socks5 server unreachable") == "socks5 server unreachable"
    assert products.parent_down_words("<h1>Connect failed</h1> could not be established") is None


def test_apaches_generic_500_with_credentials_is_its_auth_back_end_not_a_missing_connect_module():
    """Apache 2.4.71's 500 'internal error or misconfiguration' (measured): without credentials it is read as CONNECT
    not allowed (no mod_proxy_connect); with credentials sent it is most often its unreadable AuthUserFile."""
    page = "<h1>Internal Server Error</h1>\n<p>The server encountered an internal error or\nmisconfiguration</p>"
    headers = [("Server", "Apache/2.4.71 (Debian)")]
    assert products.refusal_shape(500, headers, page, credentials_sent=False) == "connect_not_allowed"
    assert products.refusal_shape(500, headers, page, credentials_sent=True) == "auth_backend"


def test_a_reason_phrase_only_one_product_writes_names_it():
    """proxy.py's 418 carries no header and no page: its reason phrase 'I'm a tea pot' (its own spelling) names it;
    the RFC's 'I'm a Teapot' from anything else does not."""
    line = "HTTP/1.1 418 I'm a tea pot"
    assert products.identify([("Content-Length", "0")], b"", status_line=line).name == "proxy.py"
    assert products.identify([("Content-Length", "0")], b"", status_line="HTTP/1.1 418 I'm a Teapot").name is None
    assert products.identify([("Content-Length", "0")], b"").name is None


def test_a_407_naming_another_product_than_a_first_hop_that_sends_no_credentials_is_its_parents():
    """Apache's ProxyRemote relays its parent's 407 byte for byte: only the proxy's own page names Apache. Through
    Privoxy (which can forward the client's Proxy-Authorization) or with no own page, it stays the user's 407."""
    squid_407 = [("Server", "squid/5.7"), ("Proxy-Authenticate", 'Basic realm="corp"')]
    why = products.relayed_auth(407, squid_407, own="Apache httpd (mod_proxy)")
    assert why and why.startswith("it is Squid's answer, while the proxy itself") and "ProxyRemote" in why
    assert products.refusal_shape(407, squid_407, own="Apache httpd (mod_proxy)") == "parent_credentials"
    assert products.refusal_shape(407, squid_407, own="Privoxy") == "credentials_required"
    assert products.refusal_shape(407, squid_407, own=None) == "credentials_required"
    assert products.refusal_shape(407, squid_407, own="Squid") == "credentials_required"


def test_a_parent_behind_the_proxy_is_told_from_another_node_of_a_pool():
    """Squid's cache_peer parent: its 407 names the parent, the proxy's own page the proxy, and the plain request's
    Via both. Two nodes of one pool behind one address name different hosts too, never both in one Via."""
    from dataclasses import replace

    from pytest_proxydiag.net.results import HttpReply

    def answer(status, *vias):
        return HttpReply(status, "x", "HTTP/1.1", tuple(("Via", v) for v in vias))

    relayed = replace(answer(407, "1.1 parent.corp (squid/5.7)"), proxy_self=answer(400, "1.1 child.corp (squid/5.7)"),
                      proxy_plain=answer(407, "1.1 parent.corp (squid/5.7), 1.1 child.corp (squid/5.7)"))
    assert products.other_hop(relayed) == ("parent.corp", "child.corp")
    pool = replace(answer(407, "1.1 node1.corp (squid/5.7)"), proxy_self=answer(400, "1.1 node2.corp (squid/5.7)"),
                   proxy_plain=answer(407, "1.1 node2.corp (squid/5.7)"))
    assert products.other_hop(pool) is None
    assert products.other_hop(replace(relayed, proxy_plain=None)) is None


def test_a_control_name_the_proxy_answers_with_its_upstreams_failure_is_no_sign_it_works():
    """tinyproxy's 503 "Could not send data to remote server" to the control name (its parent unusable) read as
    "only the provider's name is refused silently" (policy.domain_allowed reset): a 5xx is the upstream failing."""
    from types import SimpleNamespace

    from pytest_proxydiag.branches.products import control_answered

    def res(ok, status=None):
        return SimpleNamespace(ok=ok, reply=None if status is None else SimpleNamespace(status=status))

    assert control_answered(res(True, 200)) and control_answered(res(False, 403))
    assert not control_answered(res(False, 503)) and not control_answered(res(False))
