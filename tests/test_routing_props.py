"""Property tests: routing.py against the real requests and httpx on random NO_PROXY
values, and corrected_no_proxy() under every client's rules."""

from __future__ import annotations

import os
import ssl
from contextlib import contextmanager

import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from pytest_proxydiag.net.routing import (CLIENTS, corrected_no_proxy, matches_no_proxy, no_proxy_error, route,
                                      verify_no_proxy)

httpx = pytest.importorskip("httpx")
requests_utils = pytest.importorskip("requests.utils")

# Few labels, so that suffix relations (notexample.com / example.com) come up often.
LABELS = ["a", "b", "ab", "example", "xample", "com", "internal", "anthropic", "api"]
hostnames = st.lists(st.sampled_from(LABELS), min_size=1, max_size=3).map(".".join)
ipv4s = st.sampled_from(["10.1.2.3", "10.0.0.0", "127.0.0.1", "192.168.1.20", "169.254.169.254", "2.3"])
hosts = st.one_of(hostnames, hostnames, ipv4s)
ports = st.one_of(st.none(), st.sampled_from([80, 443, 8080]))

entry_core = st.one_of(
    hostnames, ipv4s,
    st.sampled_from(["*", "localhost", "10.0.0.0/8", "192.168.0.0/16", "169.254.0.0/16", "10.1.2.3/32",
                     "::1", "fe80::1"]),
)
entries = st.tuples(
    st.sampled_from(["", "", ".", "*.", "*", " "]), entry_core,
    st.sampled_from(["", "", "", ":8080", ":443", ".", " "]),
).map("".join)
no_proxy_values = st.lists(entries, min_size=0, max_size=5).flatmap(
    lambda es: st.sampled_from([",", ", ", ",,", " ,"]).map(lambda sep: sep.join(es)))

# one TLS context for every client: building httpx's default one costs ~100 ms each time
_CTX = ssl.create_default_context()

PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "request_method")


@contextmanager
def environ(**values):
    saved = {k: v for k, v in os.environ.items() if k.lower() in PROXY_VARS}
    for k in saved:
        del os.environ[k]
    os.environ.update(values)
    try:
        yield
    finally:
        for k in values:
            os.environ.pop(k, None)
        os.environ.update(saved)


def _url(host: str, port: int | None) -> str:
    return f"https://{host}" + (f":{port}" if port else "") + "/"


FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(host=hosts, port=ports, value=no_proxy_values)
def test_requests_matcher_equals_real_requests(host, port, value):
    with environ(NO_PROXY=value):
        real = requests_utils.should_bypass_proxies(_url(host, port), no_proxy=None)
    ours = matches_no_proxy(host, port, value, "requests") is not None
    assert ours == real, (host, port, value)


@FAST
@given(host=hosts, port=ports, value=no_proxy_values)
def test_httpx_matcher_equals_real_httpx(host, port, value):
    with environ(NO_PROXY=value, HTTPS_PROXY="http://127.0.0.1:9"):
        try:
            client = httpx.Client(trust_env=True, verify=_CTX)
        except httpx.InvalidURL:
            assert no_proxy_error(value, "httpx") is not None, value
            return
        try:
            direct = client._transport_for_url(httpx.URL(_url(host, port))) is client._transport
        finally:
            client.close()
    assert no_proxy_error(value, "httpx") is None, value
    ours = route(_url(host, port), {"NO_PROXY": value, "HTTPS_PROXY": "http://127.0.0.1:9"}, "httpx")
    assert ours.direct == direct, (host, port, value, ours.reason)


KEEP_POOL = ["localhost", "127.0.0.1", "169.254.169.254", "litellm.corp.example", "gw.internal", "10.20.30.40",
             "proxy-free.example.org"]
MUST_POOL = ["api.anthropic.com", "bedrock-runtime.us-east-1.amazonaws.com",
             "us-central1-aiplatform.googleapis.com", "anthropic.com"]
user_entries = st.one_of(entries, st.sampled_from(
    [".anthropic.com", "anthropic.com", "*.amazonaws.com", "googleapis.com", ".com", "thropic.com", "*",
     "*.internal", "[::1]", "2001:db8::/32", "example.org", "api.anthropic.com:443"]))
user_values = st.lists(user_entries, max_size=6).map(",".join)


@settings(max_examples=200, deadline=None)
@given(value=user_values, keep=st.lists(st.sampled_from(KEEP_POOL), max_size=4, unique=True),
       must=st.lists(st.sampled_from(MUST_POOL), min_size=1, max_size=3, unique=True))
def test_corrected_no_proxy_is_right_for_every_client(value, keep, must):
    fixed = corrected_no_proxy(value, keep, must)
    assert " " not in fixed and "*" not in fixed and ",," not in fixed
    assert not fixed.startswith(",") and not fixed.endswith(",")
    assert verify_no_proxy(fixed, keep, must) == []
    env = {"HTTPS_PROXY": "http://127.0.0.1:9", "NO_PROXY": fixed}
    for client in CLIENTS:
        for h in must:
            assert not route(f"https://{h}/", env, client).direct, (client, h, fixed)
        for h in keep:
            assert route(f"https://{h}/", env, client).direct, (client, h, fixed)
    # and the real libraries agree
    with environ(**env):
        for h in must:
            assert not requests_utils.should_bypass_proxies(f"https://{h}/", no_proxy=None), (h, fixed)
        for h in keep:
            assert requests_utils.should_bypass_proxies(f"https://{h}/", no_proxy=None), (h, fixed)
        client = httpx.Client(trust_env=True, verify=_CTX)
        try:
            for h in must:
                assert client._transport_for_url(httpx.URL(f"https://{h}/")) is not client._transport
            for h in keep:
                assert client._transport_for_url(httpx.URL(f"https://{h}/")) is client._transport
        finally:
            client.close()


def test_curls_direct_reason_lists_only_the_variables_it_reads():
    # The audit read "curl goes direct: none of the variables it reads for http URLs is set (http_proxy,
    # HTTP_PROXY, all_proxy, ALL_PROXY (never uppercase HTTP_PROXY))": HTTP_PROXY listed, then denied.
    http = route("http://litellm.corp.internal:4000", {"HTTP_PROXY": "http://p:3128"}, "curl")
    assert http.proxy is None
    assert http.reason.endswith("(http_proxy, all_proxy, ALL_PROXY); curl ignores uppercase HTTP_PROXY"), http.reason
    https = route("https://api.anthropic.com", {}, "curl")
    assert "(https_proxy, HTTPS_PROXY, all_proxy, ALL_PROXY)" in https.reason, https.reason
