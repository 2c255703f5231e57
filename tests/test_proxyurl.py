"""Proxy URLs as users type them: the intended reading, and what is wrong with it."""

from urllib.parse import quote

import pytest
from hypothesis import given, settings, strategies as st

from pytest_proxydiag.core.proxyurl import ProxyURLError, parse_proxy_url


def test_plain_url():
    u = parse_proxy_url("http://proxy.corp:3128")
    assert (u.scheme, u.host, u.port, u.username, u.password) == ("http", "proxy.corp", 3128, None, None)
    assert u.problems == () and not u.needs_encoding


def test_credentials_are_decoded_and_never_shown():
    u = parse_proxy_url("http://alice%40corp:p%40ss%3Aword@proxy:8080")
    assert (u.username, u.password) == ("alice@corp", "p@ss:word")
    assert not u.needs_encoding
    assert "p@ss" not in str(u) and "p%40ss" not in repr(u)
    assert u.redacted() == "http://alice%40corp:***@proxy:8080"


@pytest.mark.parametrize("raw,password", [
    ("http://bob:p@ss@proxy:8080", "p@ss"),
    ("http://bob:a/b@proxy:8080", "a/b"),
    ("http://bob:a#b@proxy:8080", "a#b"),
    ("http://bob:a?b@proxy:8080", "a?b"),
    ("http://bob:a:b@proxy:8080", "a:b"),
])
def test_unencoded_special_characters_read_as_intended_and_flagged(raw, password):
    u = parse_proxy_url(raw)
    assert (u.host, u.port, u.username, u.password) == ("proxy", 8080, "bob", password)
    assert u.needs_encoding
    assert u.encoded() == f"http://bob:{quote(password, safe='')}@proxy:8080"


def test_missing_scheme_is_accepted_with_a_note():
    u = parse_proxy_url("proxy.corp:8080")
    assert (u.scheme, u.host, u.port) == ("http", "proxy.corp", 8080)
    assert u.scheme_was_missing and "no scheme" in u.problems[0]


def test_quotes_and_whitespace_from_a_shell():
    u = parse_proxy_url('  "http://proxy:3128"\n'.rstrip("\n"))
    assert u.host == "proxy" and any("quotes" in p for p in u.problems)


@pytest.mark.parametrize("raw,message", [
    ("http://:8080", "no host"),
    ("http://proxy:99999", "outside 1-65535"),
    ("http://proxy:0", "outside 1-65535"),
    ("http://proxy:abc", "not a number"),
    ("ftp://proxy:21", "unknown scheme 'ftp'"),
    ("", "is empty"),
    ("http://proxy:", "no port"),
    ("http://::1:3128", "brackets"),
    ("http://[::1:3128", "unclosed IPv6 bracket"),
    ("http://prox y:3128", "invalid characters"),
    ("http://proxy:3128\nexport X=1", "control characters"),
])
def test_malformed_values_say_what_to_write(raw, message):
    with pytest.raises(ProxyURLError, match=message.replace("(", r"\(")) as exc:
        parse_proxy_url(raw, source="env:HTTPS_PROXY")
    assert "env:HTTPS_PROXY" in str(exc.value) or raw == ""


def test_ipv6_and_idna_and_socks():
    assert parse_proxy_url("http://[::1]:3128").host == "::1"
    assert parse_proxy_url("http://[::1]:3128").hostport == "[::1]:3128"
    assert parse_proxy_url("http://bücher.example:8080").host == "xn--bcher-kva.example"
    s = parse_proxy_url("socks5h://proxy:1080")
    assert s.is_socks and s.port == 1080


def test_invalid_percent_encoding_is_flagged():
    u = parse_proxy_url("http://bob:100%pure@proxy:8080")
    assert u.needs_encoding and any("%25" in p for p in u.problems)


_secret_chars = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=20)


@settings(max_examples=300, deadline=None)
@given(user=_secret_chars, password=_secret_chars)
def test_encoded_credentials_always_round_trip(user, password):
    url = f"http://{quote(user, safe='')}:{quote(password, safe='')}@proxy.corp:3128"
    u = parse_proxy_url(url)
    assert (u.username, u.password, u.host, u.port) == (user, password, "proxy.corp", 3128)
    assert not u.needs_encoding
    assert parse_proxy_url(u.encoded()).password == password
    if len(password) >= 3:
        assert password not in u.redacted().split("@")[0].split(":", 2)[-1] or password == "***"


@pytest.mark.parametrize("typed, said", [
    ("http:/proxy.corp:8080", "has 'http:/' where 'http://' belongs; write http://proxy.corp:8080"),
    ("http//proxy.corp:8080", "has 'http//' where 'http://' belongs; write http://proxy.corp:8080"),
    ("http:\\\\proxy.corp:8080", "where 'http://' belongs; write http://proxy.corp:8080"),
    ("socks5h//127.0.0.1:1080", "where 'socks5h://' belongs; write socks5h://127.0.0.1:1080"),
    ("HTTP:/alice:s3cr@t@proxy.corp:8080", "write http://alice:***@proxy.corp:8080"),
])
def test_a_mistyped_scheme_separator_says_what_to_write(typed, said):
    # Node's URL parser repairs 'http:/host', Python's reads a path and no host: name it, never guess a host 'http'.
    with pytest.raises(ProxyURLError) as err:
        parse_proxy_url(typed, source="env:HTTPS_PROXY")
    assert said in str(err.value) and "s3cr" not in str(err.value)
