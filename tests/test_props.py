"""Property-based tests of the parsers and the redaction layer (issue #9)."""

from __future__ import annotations

import base64
import re
import string
from urllib.parse import quote

from hypothesis import HealthCheck, assume, given, settings, strategies as st

from pytest_proxydiag.net.probes import ProbeError, parse_head
from pytest_proxydiag.core.proxyurl import ProxyURLError, parse_proxy_url
from pytest_proxydiag.core.redact import MASK, Redactor

SECRET = st.text(alphabet=string.ascii_letters + string.digits + "!@#$%^&*()_+-=[]{};:,./?~", min_size=6,
                 max_size=24)
NOISE = st.text(max_size=200)


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=300))
def test_proxy_url_parser_never_raises_anything_but_its_own_error(text):
    try:
        u = parse_proxy_url(text, source="env:HTTPS_PROXY")
    except ProxyURLError as exc:
        assert "env:HTTPS_PROXY" in str(exc) or "empty" in str(exc)
    else:
        assert 1 <= u.port <= 65535 and u.host


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(secret=SECRET, before=NOISE, after=NOISE, form=st.sampled_from(["plain", "quoted", "b64", "url"]))
def test_a_known_secret_never_survives_redaction(secret, before, after, form):
    r = Redactor([secret])
    shown = {"plain": secret, "quoted": quote(secret, safe=""), "b64": base64.b64encode(secret.encode()).decode(),
             "url": f"http://user:{quote(secret, safe='')}@proxy:8080"}[form]
    out = r.redact(before + shown + after)
    if secret.isascii() and secret.isdigit():
        # Digits alone are masked as a number, not inside a date, a version or an address.
        assert not re.search(rf"(?<![A-Za-z0-9_])(?<!\d-)(?<![A-Za-z0-9]\.){secret}(?![A-Za-z0-9_])(?!-\d)"
                             rf"(?!\.[A-Za-z0-9])", out)
    elif secret.isascii() and secret.isalpha():
        # A password that is a word is masked as a token, not inside a longer name (https_proxy, proxydiag) or as
        # a label of a host name (api.anthropic.com).
        assert not re.search(rf"(?<![A-Za-z0-9_])(?<![A-Za-z0-9]\.){re.escape(secret)}(?![A-Za-z0-9_])"
                             rf"(?!\.[A-Za-z0-9])", out)
    else:
        assert secret not in out
        assert quote(secret, safe="") not in out or quote(secret, safe="") in before + after


@settings(max_examples=200, deadline=None)
@given(user=st.text(alphabet=string.ascii_letters, min_size=1, max_size=10), secret=SECRET, noise=NOISE)
def test_unknown_secrets_in_urls_and_headers_are_masked_by_shape(user, secret, noise):
    r = Redactor()   # nothing known: only the patterns
    encoded = quote(secret, safe="")
    assume(MASK not in secret and encoded not in f"http://{user}:@proxy.corp:3128" and encoded not in noise)
    url = f"http://{user}:{encoded}@proxy.corp:3128"
    assert encoded not in r.redact(noise + " " + url + " " + noise)
    header = f"Proxy-Authorization: Basic {base64.b64encode(f'{user}:{secret}'.encode()).decode()}"
    assert base64.b64encode(f"{user}:{secret}".encode()).decode() not in r.redact(header)


@settings(max_examples=300, deadline=None)
@given(head=st.binary(max_size=400))
def test_response_head_parser_classifies_or_raises_its_own_error(head):
    try:
        reply = parse_head(head)
    except ProbeError as exc:
        assert exc.cause.value == "garbage"
    else:
        assert 100 <= reply.status <= 999


@settings(max_examples=200, deadline=None)
@given(schemes=st.lists(st.sampled_from(["Basic realm=\"x\"", "NTLM", "Negotiate", "Digest realm=\"y\", nonce=\"1\"",
                                          "negotiate", "ntlm TlRMTVNTUAAB", "Bearer", ""]), max_size=5))
def test_proxy_authenticate_schemes_are_named_once_in_order(schemes):
    from pytest_proxydiag.branches.auth import schemes as _schemes

    named = _schemes(schemes)
    assert len(named) == len(set(named))
    assert all(n[0].isupper() for n in named)
    assert ("Basic" in named) == any(s.lower().startswith("basic") for s in schemes)
