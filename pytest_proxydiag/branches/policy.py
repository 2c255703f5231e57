"""Reading a proxy's verdict: who sent a reply, which product, what it means, what IT should look for.

The policy steps ask the probes for replies (a CONNECT answer, a request inside the tunnel, growing uploads); this
module judges them:

* :func:`read_reply` — who sent it (the proxy, the provider, or the provider's edge such as Cloudflare), the
  product behind a block page (the fingerprints of ``catalog/products.py``), the category if the page shows one,
  and the kind of verdict (denied, too large, rate limited, upstream unreachable, DLP, content type, ...);
* :func:`provider_domains` (from :mod:`.providers`) — the provider host names in use and :func:`allowlist_lines` —
  the copy-paste block for the IT ticket;
* ``judge_*`` — each policy step's conclusion as a :class:`~.judgement.Judgement`.

Plain data in, plain data out: no network (the measurements are in ``net/policy_probes.py``), no sentences
(``catalog/policy.py`` holds the meanings, the vendors' log locations and the text for IT).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Callable, Iterable, Literal, Mapping, Sequence

from pytest_proxydiag import catalog
from pytest_proxydiag.branches.judgement import Judgement, Note
from pytest_proxydiag.branches.providers import ProviderDomain, allowlist_lines, provider_domains, wildcard_lines
from pytest_proxydiag.catalog import policy as words
from pytest_proxydiag.catalog.policy import log_query, utc
from pytest_proxydiag.branches import products

__all__ = ["Verdict", "VendorMatch", "ProviderDomain", "read_reply", "identify_vendor", "find_category",
           "provider_domains", "allowlist_lines", "wildcard_lines", "SQUID_ERROR_KINDS", "size_label",
           "domain_answer", "judge_domains", "no_reply_anywhere", "judge_silent_refusal", "judge_url_filtering",
           "judge_payload", "payload_limit", "read_socks", "read_tunnel", "judge_proxy_logs", "LOG_PRIORITY"]


#: Squid's error codes (X-Squid-Error / the page template) and the kind of verdict each is
#: (their meanings: ``catalog/policy.SQUID_MEANINGS``).
SQUID_ERROR_KINDS: Mapping[str, str] = {
    "ERR_ACCESS_DENIED": "denied", "ERR_FORWARDING_DENIED": "denied", "ERR_CACHE_ACCESS_DENIED": "auth",
    "ERR_TOO_BIG": "too_large", **dict.fromkeys(("ERR_INVALID_REQ", "ERR_INVALID_URL", "ERR_UNSUP_REQ",
                                                 "ERR_CONFLICT_HOST"), "invalid"),
    **dict.fromkeys(("ERR_CONNECT_FAIL", "ERR_DNS_FAIL", "ERR_CANNOT_FORWARD", "ERR_READ_TIMEOUT", "ERR_LIFETIME_EXP",
                     "ERR_GATEWAY_FAILURE", "ERR_SECURE_CONNECT_FAIL", "ERR_ZERO_SIZE_OBJECT", "ERR_READ_ERROR",
                     "ERR_WRITE_ERROR", "ERR_ICAP_FAILURE", "ERR_SHUTTING_DOWN"), "upstream"),
}

#: Status codes a proxy sends when it could not reach or hear from the provider.
UPSTREAM_STATUSES = frozenset({502, 503, 504})


@dataclass(frozen=True)
class VendorMatch:
    name: str
    signals: tuple[str, ...]
    logs: str


@dataclass(frozen=True)
class Verdict:
    """What one reply says, and who said it."""

    status: int | None
    #: "proxy", "provider", "provider_edge" (e.g. Cloudflare in front of the API) or "unknown".
    sender: str
    #: "ok", "denied", "category", "block_page", "too_large", "rate_limited", "upstream", "auth",
    #: "dlp", "content_type", "provider_error", "invalid", "other".
    kind: str
    vendor: str | None = None
    category: str | None = None
    error_code: str | None = None
    meaning: str = ""
    signals: tuple[str, ...] = ()
    retry_after: str | None = None
    title: str | None = None
    logs: str = ""
    #: "connect" (the proxy's answer to CONNECT), "tunnel" (inside TLS) or "plain" (http through the proxy).
    stage: Literal["connect", "tunnel", "plain", ""] = ""
    #: A SOCKS5 proxy's answer instead of an HTTP status: the code of its last stage (:func:`read_socks`).
    socks_code: int | None = None
    #: The proxy's own TLS to the provider failed verification: the words of its page (catalog UPSTREAM_TLS).
    upstream_tls: str | None = None
    parent_auth: str | None = None  #: its own parent refused the proxy's credentials: the page's words
    name_filter: str | None = None  #: the page says the requested name was filtered (a list of names): its words

    @property
    def from_proxy(self) -> bool:
        return self.sender == "proxy"

    @property
    def answered(self) -> bool:
        """The proxy (or the provider) answered at all: an HTTP status or a SOCKS5 reply, not a reset."""
        return self.status is not None or self.socks_code is not None

    @property
    def answer(self) -> str:
        """The answer as IT's logs show it: ``HTTP 403``, or ``SOCKS5 reply 0x02``."""
        return f"SOCKS5 reply 0x{self.socks_code:02x}" if self.socks_code is not None else f"HTTP {self.status}"

    @property
    def is_block(self) -> bool:
        return self.kind in ("denied", "category", "block_page", "dlp", "content_type")

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v not in (None, "", ())}


# One reader of headers and bodies for policy and product identification alike.
_header = products.header
_text = products.body_text


def identify_vendor(headers: Sequence[tuple[str, str]], body: bytes | str | None = b"") -> VendorMatch | None:
    """The product that sent a reply, from headers first, then the page; None if nothing matches."""
    match = products.identify(headers, body)
    return VendorMatch(match.name, match.signals, match.logs) if match.name else None


def _strength(signals: Iterable[str]) -> int:
    # A header is a stronger fingerprint than a word on a page (a page may quote another vendor).
    return sum(3 if s.startswith("header") else 1 for s in signals)


_CATEGORY_PATTERNS = (
    r"content categori[sz]ation:?\s*(?:is\s*)?[\"“']([^\"”'<]{2,80})[\"”']",
    r"Content Category:\s*[\"“']([^\"”'<]{2,80})[\"”']",
    r"(?:URL\s+)?Category\s*(?:</?[a-z][^>]*>\s*)*[:：]\s*(?:</?[a-z][^>]*>\s*)*([^<\n\r]{2,80}?)\s*(?:<|\n|\r|$)",
    r"categor(?:y|ies)\s+[\"“']([^\"”'<]{2,80})[\"”']\s+(?:is|are)\s+(?:filtered|blocked)",
    r"category is filtered:?\s*([^<.\n]{2,80})", r"belongs to the\s+[\"“']?([^\"”'<]{2,80}?)[\"”']?\s+category",
    r"not allowed to browse (?:the\s+)?[\"“']?([^\"”'<]{2,80}?)[\"”']?\s+category",
    r"(?:due to|in) the following categor(?:y|ies)\s*:\s*([^<\n\r]{2,80})",
    r"classified as\s+[\"“']?([^\"”'<]{2,80}?)[\"”']?(?:\s+category)?[.<]",
)


def find_category(body: bytes | str | None) -> str | None:
    """The filtering category a block page shows (``Artificial Intelligence``, ``Generative AI`` ...)."""
    text = _text(body)
    # Drop scripts and styles: their braces and words are not the page's message.
    text = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", text)
    for pattern in _CATEGORY_PATTERNS:
        m = re.search(pattern, text, re.IGNORECASE)
        if m:
            value = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", m.group(1))).strip(" :\"'“”.")
            if value and not value.startswith(("$", "%", "{", "<")) and len(value) <= 80:
                return value
    return None


def _title(text: str) -> str | None:
    m = re.search(r"(?is)<title[^>]*>(.*?)</title>", text)
    if not m:
        return None
    return re.sub(r"\s+", " ", m.group(1)).strip()[:120] or None


_PROVIDER_HEADERS = ("request-id", "anthropic-ratelimit-requests-limit", "x-amzn-requestid", "x-amzn-errortype",
                     "x-amz-apigw-id", "x-goog-request-id", "x-guploader-uploadid")


def _provider_signals(status: int, headers: Sequence[tuple[str, str]], text: str) -> list[str]:
    out = [f"header {h}" for h in _PROVIDER_HEADERS if _header(headers, h) is not None]
    for k, _v in headers:
        if k.lower().startswith("anthropic-") and f"header {k.lower()}" not in out:
            out.append(f"header {k.lower()}")
            break
    ctype = (_header(headers, "Content-Type") or "").lower()
    stripped = text.lstrip()
    if "json" in ctype or stripped.startswith("{"):
        try:
            doc = json.loads(stripped[:100_000])
        except ValueError:
            doc = None
        if isinstance(doc, dict):
            err = doc.get("error")
            if doc.get("type") == "error" and isinstance(err, dict) and "type" in err:
                out.append(f"Anthropic API error body ({err.get('type')})")
            elif isinstance(err, dict) and ("status" in err or "code" in err):
                out.append("Google API error body")
            elif "message" in doc or "Message" in doc or "__type" in doc:
                out.append("JSON API error body")
    return out


#: Provider signals no proxy writes: AWS's error type, the Anthropic and Google API error bodies.
_DECISIVE = ("header x-amzn-errortype", "Anthropic API error body", "Google API error body")


def _decisive(provider: Sequence[str]) -> bool:
    return any(s.startswith(_DECISIVE) for s in provider)


def _edge_signals(headers: Sequence[tuple[str, str]]) -> list[str]:
    out = []
    server = (_header(headers, "Server") or "").lower()
    if "cloudflare" in server or _header(headers, "cf-ray"):
        out.append(words.EDGE_SIGNALS["cloudflare"])
    if "awselb" in server or "cloudfront" in server or _header(headers, "x-amz-cf-id"):
        out.append(words.EDGE_SIGNALS["aws"])
    if server in ("gfe", "esf", "google frontend") or "gws" in server:
        out.append(words.EDGE_SIGNALS["google"])
    return out


_DLP = re.compile(r"data loss prevention|\bDLP\b|sensitive (?:data|content|information)|confidential data|"
                  r"credential (?:detected|found)|api key detected", re.IGNORECASE)
_CTYPE = re.compile(r"content[- ]type\s+[\"']?application/json[\"']?\s+(?:is\s+)?(?:blocked|not allowed)|"
                    r"(?:file|mime|content)[- ]type (?:is )?(?:blocked|not allowed)", re.IGNORECASE)
_BLOCKWORDS = re.compile(r"access denied|access (?:to this site )?(?:is |has been )?(?:blocked|restricted|denied)|"
                         r"web page blocked|site (?:is )?blocked|website blocked|blocked by (?:your )?"
                         r"(?:organization|company|administrator)|policy (?:violation|denied)|"
                         r"not allowed to (?:browse|access|visit)|content blocked|request (?:was )?denied|"
                         r"web filter violation|permission to visit", re.IGNORECASE)


PROXY_WIDE = products.PROXY_WIDE_SHAPES  #: a port or this machine refused, whatever the domain


def _upstream_tls_words(text: str) -> str | None:
    """The page's own words when the proxy's TLS to the provider failed verification (bounded), else None."""
    found = (re.search(pattern, text, re.IGNORECASE) for pattern in words.UPSTREAM_TLS)
    return next((m.group(0)[:120] for m in found if m), None)


def read_reply(status: int | None, headers: Sequence[tuple[str, str]] = (), body: bytes | str | None = b"",
               *, stage: str = "tunnel", expect_json: bool = True, credentials_sent: bool = False) -> Verdict:
    """Judge one reply: who sent it (proxy or provider), and what kind of verdict it is.

    *stage* says where it came from: ``connect`` (the proxy's answer to
    CONNECT: always the proxy), ``tunnel`` (inside TLS: the provider, unless
    the proxy intercepts and answers itself) or ``plain`` (an http:// request
    through the proxy).  *expect_json*: the endpoint answers JSON, so an HTML
    page with status 200 is suspicious.
    """
    headers = tuple(headers or ())
    text = _text(body)
    if status is None:
        return Verdict(None, "unknown", "other", meaning=words.meaning("no_reply"), stage=stage)
    squid = _header(headers, "X-Squid-Error")
    code = squid.split()[0] if squid else None
    if code is None:
        m = re.search(r"<!--\s*(ERR_[A-Z_]+)\s*-->", text)
        code = m.group(1) if m else None
    vendor = identify_vendor(headers, text)
    provider = _provider_signals(status, headers, text)
    edge = _edge_signals(headers)
    title = _title(text)
    retry = _header(headers, "Retry-After")
    ctype = (_header(headers, "Content-Type") or "").lower()
    html = "html" in ctype or bool(re.search(r"(?i)<html|<!doctype html", text[:2000]))

    # Who sent it.
    if stage == "connect":
        sender = "proxy"
    elif code or vendor is not None and not provider:
        sender = "proxy"
    elif provider and (not (vendor and _strength(vendor.signals) >= 3) or _decisive(provider)):
        # A bumping proxy's Via header on the provider's own error (AWS's error type) does not make it the proxy's.
        sender = "provider"
    elif edge:
        sender = "provider_edge"
    elif html and (_BLOCKWORDS.search(text) or status in (403, 407, 413, 429) or status >= 500):
        # An HTML page where an API answers JSON: a device in the path wrote it.
        sender = "proxy"
    else:
        sender = "unknown"

    signals = tuple((vendor.signals if vendor else ()) + tuple(provider) + tuple(edge)
                    + ((f"X-Squid-Error: {squid}",) if squid else ()))
    base = dict(status=status, sender=sender, vendor=vendor.name if vendor else None, error_code=code,
                signals=signals, retry_after=retry, title=title, logs=vendor.logs if vendor else "", stage=stage,
                name_filter=products.name_filter_words(text) if status in (403, 451) else None)

    if sender in ("provider", "provider_edge"):
        if status == 429:
            return Verdict(kind="rate_limited", meaning=words.meaning("provider_rate_limit"), **base)
        if status == 413:
            return Verdict(kind="provider_error", meaning=words.meaning("provider_too_large"), **base)
        if status in UPSTREAM_STATUSES or status == 529:
            outage = "edge_outage" if sender == "provider_edge" else "provider_outage"
            return Verdict(kind="provider_error", meaning=words.meaning(outage, status=status), **base)
        return Verdict(kind="ok", meaning=words.meaning("provider_answered"), **base)

    if code and code in SQUID_ERROR_KINDS:
        kind, meaning = SQUID_ERROR_KINDS[code], words.meaning("squid:" + code)
        if kind == "denied" and stage == "tunnel":
            kind, meaning = "block_page", words.meaning("squid_after_tls", code=code)
        return Verdict(kind=kind, meaning=meaning, **base)
    shape = products.refusal_shape(status, headers, text, credentials_sent=credentials_sent) if stage == "connect" \
        else None
    if shape in PROXY_WIDE:  # a port, this machine, or the parent's verdict on the proxy's own credentials
        return Verdict(kind=shape, meaning=products.REFUSAL_SHAPES[shape], **base)
    if status == 407 or shape in ("credentials_rejected", "credentials_required", "login_portal"):
        return Verdict(kind="auth", meaning=words.meaning("auth"), **base)
    if shape == "upstream" and status == 500:  # tinyproxy: "500 Unable to connect"
        return Verdict(kind="upstream", meaning=words.meaning("upstream_unreachable"), **base)
    if status == 413:
        return Verdict(kind="too_large", meaning=words.meaning("too_large"), **base)
    if status == 429:
        return Verdict(kind="rate_limited", meaning=words.meaning("proxy_throttles"), **base)
    block_text = bool(_BLOCKWORDS.search(text))
    if status in UPSTREAM_STATUSES and sender == "proxy" and not block_text:
        tls, parent = _upstream_tls_words(text), products.parent_auth_failure(text)
        meaning = words.meaning("upstream_tls" if tls else "parent_auth" if parent else "upstream")
        kind = "parent_down" if products.parent_down_words(text) else "upstream"  # its parent, not the provider
        return Verdict(kind=kind, meaning=meaning, upstream_tls=tls, parent_auth=parent, **base)
    category = find_category(text) if (block_text or vendor or status in (403, 451)) else None
    if _DLP.search(text) and (status >= 400 or block_text):
        return Verdict(kind="dlp", category=category, meaning=words.meaning("dlp"), **base)
    if _CTYPE.search(text):
        return Verdict(kind="content_type", category=category, meaning=words.meaning("content_type"), **base)
    if 300 < status < 309 and vendor is not None and not (category if shape == "denied" else block_text and html):
        return Verdict(kind="block_page", meaning=words.meaning("redirect_block", location=(  # Squid's deny_info URL
            _header(headers, "Location") or "")[:100]), **base)
    if status in (403, 451) or shape == "denied" or (block_text and html and (status >= 300 or expect_json)):
        if category:
            return Verdict(kind="category", category=category,
                           meaning=words.meaning("category", category=repr(category)), **base)
        if vendor is not None or block_text:
            return Verdict(kind="block_page", meaning=words.meaning("block_page"), **base)
        return Verdict(kind="denied", meaning=words.meaning("denied"), **base)
    if 200 <= status < 300 and stage == "connect":
        return Verdict(kind="ok", meaning=words.meaning("tunnel_opened"), **base)
    if status >= 400:
        answered = "answered_by" if sender != "unknown" else "answered"
        return Verdict(kind="other", meaning=words.meaning(answered, sender=sender, status=status), **base)
    return Verdict(kind="ok", meaning=words.meaning("no_verdict"), **base)


#: A SOCKS5 reply's refusal shape (branches/products.socks5_reply) -> the kind of verdict it is.
_SOCKS_KINDS = {"ok": "ok", "denied": "denied", "upstream": "upstream", "credentials_required": "auth",
                "credentials_rejected": "auth"}


def read_socks(outcome) -> Verdict:
    """A SOCKS5 proxy's answer to CONNECT (a :class:`~pytest_proxydiag.net.results.SocksOutcome`: its last stage
    and code) as a verdict: always the proxy's, two bytes that name no product ("not allowed by ruleset" is a
    denial, "host unreachable" an upstream failure, the method and password stages authentication)."""
    reply = products.socks_outcome_reply(outcome)
    return Verdict(None, "proxy", _SOCKS_KINDS.get(reply.shape, "other"), meaning=reply.meaning,
                   signals=(f"SOCKS5 {outcome.stage} reply 0x{outcome.code:02x}",), logs=words.SOCKS_LOGS,
                   stage="connect", socks_code=outcome.code)


def read_tunnel(res) -> Verdict:
    """The proxy's answer to a tunnel request (a ``TunnelResult``): its SOCKS5 reply, or its HTTP answer."""
    socks = getattr(res, "socks", None)
    if socks is not None:
        return read_socks(socks)
    reply = getattr(res, "reply", None)
    if reply is None:
        return read_reply(None, stage="connect")
    return read_reply(reply.status, tuple(reply.headers), reply.body or b"", stage="connect",
                      credentials_sent=bool(getattr(res, "credentials_sent", False)))


# -- payload sizes ------------------------------------------------------------------------------
def size_label(n: int) -> str:
    for unit, factor in (("GiB", 1024 ** 3), ("MiB", 1024 ** 2), ("KiB", 1024)):
        if n >= factor:
            value = n / factor
            return f"{value:g} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{n} B"


#: Which verdicts proxy_logs reports first when several replies need IT's attention.
LOG_PRIORITY = ("upstream", "rate_limited", "dlp", "content_type", "too_large", "category", "block_page",
                "denied", "other")


# -- the four steps' conclusions ------------------------------------------------------------------------
def _note(step_id: str, key: str, **values) -> str:
    return catalog.note(step_id, key, **values)


def said(request: str, detail: str) -> str:
    """*detail* prefixed with the request it answers, unless it already names it."""
    return detail if detail.startswith(request) else f"{request}: {detail}"


def domain_answer(domain: ProviderDomain, res, verdict: Verdict) -> str:
    """What the proxy said about one provider domain, for the evidence and the summary."""
    if domain.scheme != "https":
        return res.detail
    detail = _note("policy.domain_allowed", "allowed", detail=res.detail) if res.ok else res.detail
    if verdict.kind == "upstream":
        detail = _note("policy.domain_allowed", "upstream_allowed", detail=detail)
    return detail


def port_rule(control_res) -> bool:
    """*control_res*: CONNECT to the refused host on port 443 through the same proxy.  Not refused there (a tunnel,
    or an answer that is no refusal): the 403 was for the port (Squid's SSL_ports, Apache's AllowCONNECT)."""
    if control_res is None or control_res.ok:
        return control_res is not None
    kind, reply = read_tunnel(control_res).kind, control_res.reply  # a SOCKS5 reply has no HTTP reply
    return (reply is not None or control_res.socks is not None) and (reply is None or reply.status not in (403, 451)) \
        and kind not in (*PROXY_WIDE, "auth", "denied", "block_page", "category")


def judge_domains(domains: Sequence[ProviderDomain], checked: Sequence[tuple[ProviderDomain, Verdict, str]], *,
                  proxy_hostport: str, when: Callable[[str], float | None], client: str,
                  replies: Mapping[str, object] | None = None,
                  port_checks: Mapping[str, tuple[str, object]] | None = None, allow_list: str = "") -> Judgement:
    """Step 1: which provider domains the proxy refuses (403/451 or a block page), for the IT ticket.

    *replies* (domain hostport -> the proxy's reply) lets the finding name the product that refused
    (``branches/products.describe``); without them the verdict's vendor is named.
    """
    refused = [(d, v) for d, v, _ in checked if (v.status in (403, 451) or v.is_block) and v.kind not in PROXY_WIDE]
    verdicts = [v for _, v, _ in checked]
    if verdicts and all(v.kind in PROXY_WIDE for v in verdicts):
        return Judgement.blocked("connectivity.proxy_works", "; ".join(detail for _, _, detail in checked))
    on_port = [(d, (port_checks or {}).get(d.hostport)) for d, _v in refused]
    if refused and all(c is not None and port_rule(c[1]) for _d, c in on_port):
        (d, (control, control_res)), reply = on_port[0], (replies or {}).get(refused[0][0].hostport)
        return Judgement.fail("port_refused", blocked=d.hostport, port=d.port, control=control,
                              control_answer=control_res.detail, proxy_hostport=proxy_hostport,
                              vendor_note=" " + (products.describe(products.identify_reply(reply))
                                                 if reply is not None else products.SOCKS["who"]))
    if refused:
        first = refused[0][1]
        reply = (replies or {}).get(refused[0][0].hostport)
        vendor_note = ""
        if first.socks_code is not None:
            vendor_note = " " + products.SOCKS["who"]
        elif reply is not None:
            vendor_note = " " + products.describe(products.identify_reply(reply))
            if first.error_code:
                vendor_note += _note("policy.domain_allowed", "squid_code_note", code=first.error_code)
        elif first.vendor or first.error_code:
            vendor_note = _note("policy.domain_allowed", "vendor_note",
                                vendor=first.vendor or _note("policy.domain_allowed", "the_proxy"),
                                code=f" (X-Squid-Error: {first.error_code})" if first.error_code else "")
        if first.category:
            vendor_note += _note("policy.domain_allowed", "category_note", category=first.category)
        vendor_note += products.FILTER_STATUSES.get(first.status or 0, "")  # proxy.py's 418 names no product
        blocked = ", ".join(f"{d.hostport} (" + (f"{v.answer}: {v.meaning}" if v.socks_code is not None or 300 <= (
            v.status or 0) < 400 else f"{v.status}" + (f" {v.error_code}" if v.error_code else "")) + ")"
            for d, v in refused)
        key = ("socks_denied" if all(v.socks_code is not None for _, v in refused) else "blocked"
               if all(v.status in (403, 451, *products.FILTER_STATUSES) for _, v in refused) else "block_page")
        return Judgement.fail(key, fix={"ticket_domains": [d.host for d in domains]},
                              record={"refused": [{"domain": d.hostport, **v.as_dict()} for d, v in refused]},
                              blocked=blocked, count=len(refused), vendor_note=vendor_note + allow_list,
                              domains=allowlist_lines(domains), wildcards=wildcard_lines(domains),
                              when=utc(when(refused[0][0].hostport)), client=client, proxy_hostport=proxy_hostport)
    answers = [detail for _, _, detail in checked]
    if verdicts and all(v.status == 407 or v.kind == "auth" for v in verdicts):  # tinyproxy's 401, SOCKS5 auth
        return Judgement.blocked("auth.credentials", key="auth_before_policy")
    if verdicts and not any(v.answered for v in verdicts):
        return Judgement.blocked("connectivity.proxy_works", "; ".join(answers))
    return Judgement.passed("not_refused", answers="; ".join(f"{d.hostport}: {a}" for d, _, a in checked))


def no_reply_anywhere(checked: Sequence[tuple[ProviderDomain, Verdict, str]]) -> bool:
    """Every provider domain got no reply at all (a reset or a close): a control CONNECT tells one domain
    refused silently from a proxy that is broken for every domain (:func:`judge_silent_refusal`)."""
    return bool(checked) and not any(v.answered for _, v, _ in checked)


def judge_silent_refusal(domains: Sequence[ProviderDomain], checked: Sequence[tuple[ProviderDomain, Verdict, str]],
                         first_res, control: str, control_res, *, proxy_hostport: str,
                         when: Callable[[str], float | None], client: str) -> Judgement:
    """Step 1, no reply for any domain: *first_res* is the first domain's CONNECT, *control_res* the control
    CONNECT to *control* (host:port, another provider name): fail ``reset`` when only the domain gets no answer,
    else the proxy itself is the problem (connectivity.proxy_works)."""
    first = domains[0]
    answers = [detail for _, _, detail in checked] + [_note("policy.domain_allowed", "control_answer",
                                                            control=control, detail=control_res.detail)]
    judged = products.silent_refusal(first_res.cause.value, products.control_answered(control_res),
                                     control_res.cause.value)
    if judged == "one_domain":
        return Judgement.fail("reset", fix={"ticket_domains": [d.host for d in domains]},
                              record={"control": {"domain": control, "answer": control_res.detail}},
                              how=Note.of("how_" + first_res.cause.value), blocked=first.hostport, control=control,
                              domains=allowlist_lines(domains), wildcards=wildcard_lines(domains),
                              when=utc(when(first.hostport)), client=client, proxy_hostport=proxy_hostport)
    return Judgement.blocked("connectivity.proxy_works", "; ".join(answers))


_FILTER_FINDINGS = {"category": "category", "block_page": "block_page", "denied": "block_page", "dlp": "dlp",
                    "content_type": "content_type"}


def judge_url_filtering(verdict: Verdict, res, request: str, *, when: float | None, proxy: str,
                        client: str) -> Judgement:
    """Step 2: a filtering verdict on the target (category, block page, DLP, content type), or none."""
    from pytest_proxydiag.core.step import blocking_step_for

    step_id = "policy.url_filtering"
    values = dict(vendor=verdict.vendor or _note(step_id, "unidentified"), category=verdict.category or "(not shown)",
                  status=verdict.answer, stage_text=words.STAGE_TEXT.get(verdict.stage, ""),
                  signals="; ".join(verdict.signals) or _note(step_id, "html_for_json"), request=request,
                  log_query=log_query(verdict, request, when=when, proxy=proxy, client=client))
    answered = said(request, res.detail)
    if verdict.stage == "connect":
        if verdict.kind == "category":
            return Judgement.fail("category", **values)
        if verdict.status == 407 or (verdict.socks_code is not None and verdict.kind == "auth"):
            return Judgement.blocked("auth.credentials", answered)
        if verdict.status in (403, 451) or verdict.is_block:
            return Judgement.blocked("policy.domain_allowed", key="access_rule", said=answered)
        if verdict.kind == "upstream":
            return Judgement.blocked("policy.proxy_logs", answered)
        return Judgement.blocked(blocking_step_for(res), answered)
    if res.reply is None:
        return Judgement.blocked("connectivity.proxy_works", key="no_reply", request=request, detail=res.detail)
    if verdict.kind in _FILTER_FINDINGS and verdict.from_proxy:
        return Judgement.fail(_FILTER_FINDINGS[verdict.kind], **values)
    who = {"unknown": "", "provider_edge": _note(step_id, "from_edge")}.get(
        verdict.sender, _note(step_id, "from_sender", sender=verdict.sender))
    return Judgement.passed("no_filtering", request=request, detail=res.detail, who=who)


def payload_limit(result) -> str:
    """The measured bracket of a payload ladder ("passes 1 MiB, fails 4 MiB with 413 ERR_TOO_BIG")."""
    if result.failed_size is None:
        return ""
    failed = size_label(result.failed_size)
    if result.passed:
        return _note("policy.payload_size", "passes_fails", largest=size_label(result.largest_passed),
                     failed=failed, failure=result.failure)
    return _note("policy.payload_size", "fails_at", failed=failed, failure=result.failure)


def judge_payload(result, target, *, budget: float, proxy: str, client: str,
                  small_failed_by: str | None = None) -> Judgement:
    """Step 3: the largest body the proxy passes, and how it refuses a larger one.

    *small_failed_by*: the step that judges why even the smallest request (the shared API check, a few bytes) got
    no answer; then a cut at the first size is no size limit (e.g. an idle timeout: performance.latency).
    """
    step_id = "policy.payload_size"
    v = result.verdict
    if result.failed_size is not None:
        failed = size_label(result.failed_size)
        if not result.passed and v is None and small_failed_by:
            return Judgement.blocked(small_failed_by, key="smallest_fails", url=target.origin,
                                     path=result.path, size=failed, failure=result.failure)
        if not result.passed and v is not None and v.kind not in ("too_large",):
            # Even the smallest body fails for another reason: that is a filtering or routing verdict.
            return Judgement.blocked("policy.url_filtering" if v.is_block else "policy.proxy_logs",
                                     key="smallest_fails", url=target.origin, path=result.path, size=failed,
                                     failure=result.failure)
        request = f"POST {target.origin}{result.path} ({failed} body)"
        query = (log_query(v, request, when=result.when, proxy=proxy, client=client) if v is not None
                 else words.log_query_without_reply(request, when=result.when, failure=result.failure))
        who = _note(step_id, "answer_from", vendor=v.vendor or "the proxy") if v is not None else _note(
            step_id, "no_answer")
        return Judgement.fail("reset" if v is None else "limit", bracket=payload_limit(result), failed=failed,
                              largest=size_label(result.largest_passed) if result.passed else "0 bytes",
                              failure=result.failure, log_query=query, who=who, limit=failed)
    if not result.passed:
        return Judgement.skip("nothing_measured")
    summary = _note(step_id, "bodies_pass", largest=size_label(result.largest_passed))
    if result.provider_limit:
        summary += _note(step_id, "provider_limit", size=size_label(result.provider_limit))
    if result.untested:
        summary += _note(step_id, "untested", budget=f"{budget:g}",
                         sizes=", ".join(size_label(s) for s in result.untested))
    return Judgement("pass", "", detail=summary)


def judge_proxy_logs(found: Sequence[tuple[Verdict, str, float | None]], primary: int, *, proxy: str,
                     client: str) -> Judgement:
    """Step 4: the reply IT should look up first, from the targets' own replies, then what other steps met."""
    def needs_it(items):
        return [(v, r, w) for v, r, w in items if v.from_proxy and v.kind not in ("ok", "auth", *PROXY_WIDE)]
    unique: dict = {}  # the first of equal replies: the targets' own, with their page, before the log's headers
    for v, r, w in found:
        unique.setdefault((v.status, v.socks_code, v.kind, v.error_code, r), (v, r, w))
    found = list(unique.values())
    primary = min(primary, len(found))
    relevant = needs_it(found[:primary]) or needs_it(found[primary:])
    record = {"replies": [{"request": r, **v.as_dict()} for v, r, _w in found]}
    if not relevant:
        if any(v.status == 407 or v.kind == "auth" for v, _r, _w in found):  # a 401 challenge, SOCKS5 auth too
            return Judgement("blocked", "auth_first", by="auth.credentials", record=record)
        if any(v.kind in PROXY_WIDE for v, _r, _w in found):  # a port or this machine: step 3 names the rule
            return Judgement("blocked", "proxy_wide_first", by="connectivity.proxy_works", record=record)
        provider = [f"{r}: {v.status} ({v.meaning})" for v, r, _w in found if v.sender != "proxy" and v.status]
        return Judgement("pass", "nothing_for_it", record=record, values={
            "replies": "; ".join(provider) if provider else _note("policy.proxy_logs", "no_error_answer")})
    relevant.sort(key=lambda item: LOG_PRIORITY.index(item[0].kind) if item[0].kind in LOG_PRIORITY
                  else len(LOG_PRIORITY))
    verdict, request, when = relevant[0]
    key = {"category": "denied", "block_page": "denied", "invalid": "other"}.get(verdict.kind, verdict.kind)
    if key == "upstream" and (verdict.upstream_tls or verdict.error_code == "ERR_SECURE_CONNECT_FAIL"):
        key = "upstream_tls"  # the proxy cannot verify the provider: its CA store, not its route
    elif key == "upstream" and verdict.parent_auth:
        key = "parent_auth"  # the proxy's credentials for its own parent: its configuration, not its route
    elif key not in ("upstream", "denied", "rate_limited", "too_large", "dlp", "content_type"):
        key = "other"
    code = (f" (X-Squid-Error: {verdict.error_code})" if verdict.error_code else
            (f" from {verdict.vendor}" if verdict.vendor else ""))
    return Judgement("fail", key, record=record, values=dict(
        status=verdict.answer, code=code, meaning=verdict.meaning, retry_after=verdict.retry_after or "(none)",
        log_query=log_query(verdict, request, when=when, proxy=proxy, client=client), detail=f"{request}: "
        f"{verdict.answer}", words=verdict.upstream_tls or verdict.parent_auth or verdict.error_code or ""))
