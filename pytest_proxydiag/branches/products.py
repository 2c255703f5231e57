"""Which proxy product answered, and what its refusal means: pure functions over a reply, no I/O.

The fingerprints are data (:mod:`pytest_proxydiag.catalog.products`); this module matches them:

* :func:`identify` — the product behind a reply (headers first, then the page, then the issuer of an
  intercepted certificate), or an unknown product whose ``Server``/``Via`` headers are quoted verbatim;
* :func:`page_quote` — the page's title and first heading, bounded (a vendor block page's own words,
  even when the headers name another product);
* :func:`refusal_shape` — the kind of refusal a CONNECT answer is (credentials rejected or required,
  a login portal, CONNECT not allowed, a malformed request, an upstream error, an HTTP/1.0 reply);
* :func:`describe` — the sentence a finding adds: the product (or "not known" and its headers),
  the page's own words, and where IT reads the log.

Site products (entry point group ``pytest_proxydiag.products``) are loaded once by :func:`site_products`
and tried before the built-in table.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterable, Mapping, Sequence

from pytest_proxydiag.catalog import products as words
from pytest_proxydiag.catalog.products import (AUTH_BACKEND_PAGES, ENTRY_POINT_GROUP, FILTER_STATUSES, FINGERPRINTS,
                                               NAME_FILTER_PAGES, NO_CREDENTIALS_ON_CONNECT, NOT_FORWARD_SQUID_ERRORS,
                                               PARENT_AUTH_FAILURES, PARENT_DOWN, REFUSAL_PAGES, RELAYED_401_PRODUCTS,
                                               RELAYED_AUTH_VIA, SENTENCES, SILENT_ON_PARENT_FAILURE, SOCKS)

__all__ = ["Product", "ProductMatch", "PRODUCTS", "identify", "page_quote", "refusal_shape", "describe",
           "product_from_entry", "identify_reply", "own_product", "reply_hosts", "other_hop", "other_product", "site_products", "ca_hint", "socks5_reply", "SocksReply", "socks_outcome_reply", "parent_auth_failure",
           "parent_down_words", "relayed_auth", "name_filter_words", "all_products", "header",
           "body_text", "REFUSAL_SHAPES", "PROXY_WIDE_SHAPES", "control_host", "silent_refusal",
           "refused_alike", "FILTER_STATUSES", "refusal_words", "control_answered"]

#: How long a quoted title, heading or header may be.
QUOTE_LIMIT = 120


@dataclass(frozen=True)
class Product:
    name: str
    headers: tuple[tuple[str, str], ...] = ()
    body: tuple[str, ...] = ()
    issuers: tuple[str, ...] = ()
    refusal: str = ""
    logs: str = ""
    ca_source: str = ""
    #: Regexes on the status line: a reason phrase only this product writes (proxy.py's "418 I'm a tea pot").
    status: tuple[str, ...] = ()


def product_from_entry(entry: Mapping[str, Any]) -> Product:
    """A :class:`Product` from a catalog entry (``name`` required; every other key optional)."""
    name = str(entry.get("name") or "").strip()
    if not name:
        raise ValueError(SOCKS["entry_needs_name"])
    patterns = [*entry.get("body", ()), *entry.get("issuers", ()), *dict(entry.get("headers", {})).values(),
                *entry.get("status", ())]
    for pattern in patterns:
        re.compile(pattern)  # a bad regex is reported where the entry is loaded, not on every reply
    return Product(name, tuple((str(k), str(v)) for k, v in dict(entry.get("headers", {})).items()),
                   tuple(map(str, entry.get("body", ()))), tuple(map(str, entry.get("issuers", ()))),
                   str(entry.get("refusal", "")), str(entry.get("logs", "")), str(entry.get("ca_source", "")),
                   tuple(map(str, entry.get("status", ()))))


PRODUCTS: tuple[Product, ...] = tuple(product_from_entry(e) for e in FINGERPRINTS)


@lru_cache(maxsize=1)
def site_products() -> tuple[tuple[Product, ...], tuple[str, ...]]:
    """(products from installed entry points, problems loading them); loaded once per process."""
    from importlib.metadata import entry_points

    found: list[Product] = []
    problems: list[str] = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            loaded = ep.load()
            entries = loaded() if callable(loaded) else loaded
            found += [product_from_entry(e) for e in entries]
        except Exception as exc:  # a site's broken entry must not break the diagnosis
            problems.append(f"entry point {ep.name} ({ep.value}): {type(exc).__name__}: {exc}")
    return tuple(found), tuple(problems)


def all_products() -> tuple[Product, ...]:
    return site_products()[0] + PRODUCTS


@dataclass(frozen=True)
class ProductMatch:
    """Who answered: ``name`` None when no fingerprint matched (then ``server``/``via`` say what we know)."""

    name: str | None
    signals: tuple[str, ...] = ()
    logs: str = ""
    refusal: str = ""
    server: str | None = None
    via: str | None = None
    title: str | None = None
    heading: str | None = None

    @property
    def known(self) -> bool:
        return self.name is not None

    @property
    def strength(self) -> int:
        return _strength(self.signals)


def header(headers: Sequence[tuple[str, str]], name: str) -> str | None:
    n = name.lower()
    for k, v in headers:
        if k.lower() == n:
            return v
    return None


def body_text(body: bytes | str | None, limit: int = 200_000) -> str:
    """A reply body as text (bounded; undecodable bytes replaced)."""
    if body is None:
        return ""
    if isinstance(body, bytes):
        return body[:limit].decode("utf-8", "replace")
    return body[:limit]


def _strength(signals: Iterable[str]) -> int:
    # A header or an issuer is a stronger fingerprint than a word on a page (a page may quote another vendor).
    return sum(1 if s.startswith("page") else 3 for s in signals)


def _bounded(text: str) -> str:
    text = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", text))).strip()
    return text if len(text) <= QUOTE_LIMIT else text[:QUOTE_LIMIT - 1].rstrip() + "…"


def page_quote(body: bytes | str | None) -> tuple[str | None, str | None]:
    """(title, first heading) of an HTML page, each bounded to :data:`QUOTE_LIMIT` characters."""
    text = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", body_text(body))
    title = re.search(r"(?is)<title[^>]*>(.*?)</title>", text)
    heading = re.search(r"(?is)<h[1-3][^>]*>(.*?)</h[1-3]>", text)
    return (_bounded(title.group(1)) or None if title else None,
            _bounded(heading.group(1)) or None if heading else None)


def identify(headers: Sequence[tuple[str, str]] = (), body: bytes | str | None = b"", *,
             issuer: str | None = None, products: Sequence[Product] | None = None,
             status_line: str | None = None) -> ProductMatch:
    """The product behind a reply (or an intercepted certificate's *issuer*, or a reply's *status_line* when its
    reason phrase is one product's own); ``name`` None if unknown."""
    headers = tuple(headers or ())
    text = body_text(body)
    best: tuple[int, Product, list[str]] | None = None
    for product in (all_products() if products is None else products):
        signals = []
        for name, pattern in product.headers:
            value = header(headers, name)
            if value is not None and re.search(pattern, value, re.IGNORECASE):
                signals.append(f"header {name}: {value[:80]}")
        for pattern in product.body:
            m = re.search(pattern, text, re.IGNORECASE | re.DOTALL)
            if m:
                signals.append(f"page text {m.group(0)[:60]!r}")
        for pattern in product.issuers:
            if issuer and re.search(pattern, issuer, re.IGNORECASE):
                signals.append(f"certificate issuer {issuer[:80]}")
        for pattern in product.status:
            if status_line and re.search(pattern, status_line):  # case-sensitive: the product's own spelling
                signals.append(f"status line {status_line[:80]}")
        if signals and (best is None or _strength(signals) > best[0]):
            best = (_strength(signals), product, signals)
    title, heading = page_quote(text)
    server, via = header(headers, "Server"), header(headers, "Via")
    quoted = dict(server=server[:QUOTE_LIMIT] if server else None, via=via[:QUOTE_LIMIT] if via else None,
                  title=title, heading=heading)
    if best is None:
        return ProductMatch(None, **quoted)
    _, product, signals = best
    return ProductMatch(product.name, tuple(signals), product.logs, product.refusal, **quoted)


def identify_reply(reply: Any) -> ProductMatch:
    """The product behind an HTTP reply (``net.http.HttpReply``): its headers, page and status line."""
    return identify(reply.headers, reply.body, status_line=reply.status_line)


def parent_auth_failure(body: bytes | str | None) -> str | None:
    """The words of an error page saying the proxy's own parent refused *the proxy's* credentials (bounded), or None.

    Not the user's credentials: the proxy's forward configuration (e.g. Privoxy's ``forward-socks5 user:pass@``).
    """
    return _page_words(body, PARENT_AUTH_FAILURES)


def parent_down_words(body: bytes | str | None) -> str | None:
    """The words of an error page saying the proxy cannot reach its own parent proxy (bounded), or None."""
    return _page_words(body, PARENT_DOWN)


def _page_words(body: bytes | str | None, patterns: Iterable[str]) -> str | None:
    """The words of an error page (tags stripped) that the first matching pattern finds, bounded; or None."""
    text = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", body_text(body, 50_000))
    text = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", text)))
    for pattern in patterns:
        m = re.search(pattern, text, re.IGNORECASE)
        if m:
            return m.group(0)[:QUOTE_LIMIT]
    return None


def own_product(reply: Any) -> str | None:
    """The product the proxy itself is, from its own answer to a request addressed to it (``reply.proxy_self``)."""
    own = getattr(reply, "proxy_self", None)
    return identify_reply(own).name if own is not None else None


def reply_hosts(reply: Any) -> frozenset[str]:
    """The host names a proxy's reply says wrote it: its ``Via`` entries and ``X-Cache``/``X-Cache-Lookup`` "from
    HOST" (Squid's visible_hostname), lower-cased; empty when it names none."""
    if reply is None:
        return frozenset()
    names = [m.group(1) for k in ("X-Cache", "X-Cache-Lookup") for v in reply.headers_all(k)
             for m in re.finditer(r"\bfrom\s+([^\s:,]+)", v)]
    return _via_hosts(reply) | frozenset(n.lower()[:QUOTE_LIMIT] for n in names)


def _via_hosts(reply: Any) -> frozenset[str]:
    """The received-by hosts of a reply's ``Via`` entries (``1.1 host (comment)``), lower-cased."""
    return frozenset(m.group(1).lower()[:QUOTE_LIMIT] for v in (reply.headers_all("Via") if reply is not None else ())
                     for m in re.finditer(r"(?:^|,)\s*\S+\s+([^\s,(]+)", v))


def other_hop(reply: Any) -> tuple[str, str] | None:
    """(the hosts *reply* names, the hosts the proxy's own page names) when they share none and the proxy's plain
    ``GET http://host/`` answer lists both in one ``Via`` (``reply.proxy_plain``): another proxy behind the one asked
    wrote the answer, relayed byte for byte (Squid's cache_peer parent: its own Via and X-Cache). Two nodes of one
    pool behind one address name different hosts too, but never both in one Via."""
    theirs, ours = reply_hosts(reply), reply_hosts(getattr(reply, "proxy_self", None))
    chain = _via_hosts(getattr(reply, "proxy_plain", None))
    if theirs and ours and not theirs & ours and theirs & chain and ours & chain:
        return ", ".join(sorted(theirs)), ", ".join(sorted(ours))
    return None


def other_product(reply: Any) -> tuple[str, str] | None:
    """(the product *reply* names, the product the proxy's own page names) when both are known and differ: the
    answer is a parent's, relayed (Privoxy's ``forward`` to a parent that wants credentials)."""
    answered, own = identify_reply(reply).name, own_product(reply)
    return (answered, own) if answered and own and answered != own else None


def relayed_auth(status: int | None, headers: Sequence[tuple[str, str]] = (), *,
                 credentials_sent: bool = False, own: str | None = None) -> str | None:
    """Why a 401/407 is the proxy's parent's verdict on the credentials the proxy's own configuration sends (which
    the user's cannot change), as a clause for the finding; None when it is the proxy's own.  *own* is the product
    the proxy itself is (:func:`own_product`): a 401/407 naming another product, through a first hop that passes no
    client credentials on with CONNECT (:data:`NO_CREDENTIALS_ON_CONNECT`), is its parent's."""
    if status not in (401, 407):
        return None
    answered = identify(headers).name
    if own in NO_CREDENTIALS_ON_CONNECT and answered not in (None, own):
        return SENTENCES["relayed_other"].format(product=answered, own=own, how=NO_CREDENTIALS_ON_CONNECT[own])
    via = header(headers, "Via")
    if via and any(re.search(p, via, re.IGNORECASE) for p in RELAYED_AUTH_VIA):
        return SENTENCES["relayed_via"].format(via=via[:QUOTE_LIMIT], product=identify(headers).name or "the proxy")
    named = identify(headers).name if status == 401 and not credentials_sent else None
    return SENTENCES["relayed_401"].format(product=named) if named in RELAYED_401_PRODUCTS else None


def name_filter_words(body: bytes | str | None) -> str | None:
    """The words of a refusal page saying the requested name was filtered (:data:`NAME_FILTER_PAGES`), bounded; or
    None. Such a page refusing the reference name too is an allow-list without the provider, not a refused machine."""
    text = body_text(body, 50_000)
    for pattern in NAME_FILTER_PAGES:
        m = re.search(pattern, text, re.IGNORECASE)
        if m:
            return re.sub(r"\s+", " ", re.sub(r"<[^>]*>", " ", m.group(0))).strip()[:QUOTE_LIMIT]
    return None


def refusal_words(body: bytes | str | None, headers: Sequence[tuple[str, str]] = ()) -> str:
    """The words of a refusal page that say what was refused (:data:`REFUSAL_PAGES`), bounded; else the
    X-Squid-Error of a port that is no forward proxy (a page in another language); "" when none."""
    words = _page_words(body, (pattern for _shape, pattern in REFUSAL_PAGES))
    squid_error = header(headers, "X-Squid-Error") or ""
    if not words and squid_error.split(" ")[0] in NOT_FORWARD_SQUID_ERRORS:
        return f"X-Squid-Error: {squid_error}"[:QUOTE_LIMIT]
    return words or ""


#: Refusal shape -> what it means (the catalog keys of the findings that report them).
REFUSAL_SHAPES: Mapping[str, str] = words.REFUSAL_SHAPES
#: Shapes whose page says the proxy refuses a port or this machine (or passes on its parent's refusal of the proxy's
#: own credentials, or cannot reach its parent, or is no forward proxy at all), whatever the domain:
#: connectivity.proxy_works judges them, never a domain rule.
PROXY_WIDE_SHAPES: tuple[str, ...] = ("connect_not_allowed", "client_denied", "parent_credentials", "parent_down",
                                      "auth_backend", "not_forward_proxy", "parent_loop")

# A login form or a portal's own words; a block page's "log in" link alone is not a portal.
_PORTAL = re.compile(r"(?i)<input[^>]+type=[\"']?password|captive portal|"
                     r"(?:log|sign) ?in (?:to|before) (?:continue|continuing|access|browse|browsing|use)|"
                     r"authentication (?:is )?required to (?:access|browse)|SAMLRequest")


def refusal_shape(status: int | None, headers: Sequence[tuple[str, str]] = (), body: bytes | str | None = b"",
                  *, credentials_sent: bool = False, own: str | None = None) -> str | None:
    """The kind of refusal a proxy's non-2xx answer to CONNECT is (a key of :data:`REFUSAL_SHAPES`); *own* as for
    :func:`relayed_auth`."""
    if status is None or 200 <= status < 300:
        return None
    if relayed_auth(status, headers, credentials_sent=credentials_sent, own=own):
        return "parent_credentials"
    if status >= 500 and parent_down_words(body):
        return "parent_down"
    if status == 500 and credentials_sent and any(re.search(p, body_text(body, 50_000), re.IGNORECASE)
                                                  for p in AUTH_BACKEND_PAGES):
        return "auth_backend"  # before the same page's "no mod_proxy_connect": credentials were checked first
    challenged = header(headers, "Proxy-Authenticate") or header(headers, "WWW-Authenticate")
    if status == 407 or (status == 401 and challenged):
        # tinyproxy answers 401 (not 407) to CONNECT when the credentials sent are wrong.
        return "credentials_rejected" if credentials_sent else "credentials_required"
    text = body_text(body, 50_000)
    if (header(headers, "X-Squid-Error") or "").split(" ")[0] in NOT_FORWARD_SQUID_ERRORS:
        return "not_forward_proxy"  # Squid's reverse-proxy (accel) port, whatever the page's language
    if 300 <= status < 400 and (header(headers, "X-Squid-Error") or "").startswith("403"):
        return "denied"  # Squid's 'deny_info http://block-page/...': an access rule's refusal, sent as a redirect
    # A redirect of CONNECT is not followed by any client; it is judged as such (connectivity), not as a portal.
    if status == 511 or (status == 403 and _PORTAL.search(text)):
        return "login_portal"
    for shape, pattern in REFUSAL_PAGES:  # the page says what was refused (a port, this machine)
        if re.search(pattern, text, re.IGNORECASE):
            return shape
    if status in (405, 501):
        return "connect_not_allowed"
    if status == 400:
        return "bad_request"
    if status in (500, 502, 503, 504) and not _PORTAL.search(text):
        return "upstream"
    if status in (403, 451) or status in FILTER_STATUSES:  # proxy.py's host filter: 418
        return "denied"
    return "other"


def ca_hint(issuer: str | None) -> str:
    """Where to get an intercepting product's CA, from the issuer of its leaf ("" when unknown)."""
    if not issuer:
        return ""
    for product in all_products():
        if product.ca_source and any(re.search(p, issuer, re.IGNORECASE) for p in product.issuers):
            return SENTENCES["ca_source"].format(product=product.name, where=product.ca_source)
    return ""


def describe(match: ProductMatch | None, *, with_logs: bool = True) -> str:
    """The sentence a finding adds about who answered: product (or unknown + headers), page words, logs."""
    if match is None:
        return ""
    parts = []
    if match.known:
        parts.append(SENTENCES["named"].format(product=match.name, signals=""))
    else:
        quoted = "; ".join(f"{k}: {v!r}" for k, v in (("Server", match.server), ("Via", match.via)) if v)
        parts.append(SENTENCES["unknown"].format(headers=quoted) if quoted else SENTENCES["unknown_no_headers"])
    words = [f"title {match.title!r}" if match.title else "",
             # Squid's heading "ERROR" only repeats its title's first word.
             f"heading {match.heading!r}" if match.heading and match.heading.lower() not in (match.title or "").lower()
             else ""]
    if any(words):
        parts.append(SENTENCES["page"].format(page=", ".join(w for w in words if w)))
    if with_logs and match.logs:
        parts.append(SENTENCES["logs"].format(logs=match.logs))
    return " ".join(parts)


#: Provider names a control CONNECT may use: another provider's host, so "this domain" can be told from
#: "every domain" without leaving the provider families the user already depends on.
CONTROL_HOSTS: tuple[str, ...] = ("bedrock-runtime.us-east-1.amazonaws.com", "us-central1-aiplatform.googleapis.com",
                                  "api.anthropic.com")


def control_host(domains: Iterable[str]) -> str:
    """A provider name for the control CONNECT that is not one of *domains*."""
    taken = {d.lower() for d in domains}
    return next(h for h in CONTROL_HOSTS if h not in taken)


def control_answered(control_res: Any) -> bool:
    """Whether the proxy served the control name: its tunnel opened, or it answered below 500 (a page of its
    own).  A 5xx is its upstream failing (tinyproxy's 503 "Could not send data to remote server" to a SOCKS
    parent it speaks HTTP to): no sign that the proxy works for other names."""
    reply = control_res.reply
    return bool(control_res.ok or (reply is not None and reply.status < 500))


def silent_refusal(domain_cause: str, control_ok: bool, control_cause: str) -> str:
    """Judge a CONNECT the proxy answered with no reply at all ("reset" or "closed"), given a control CONNECT.

    ``one_domain``: only this domain gets it, the control tunnel opened (a policy rule such as Squid's
    ``deny_info TCP_RESET``, or an IPS); ``every_domain``: the control failed the same way (the proxy is
    broken for CONNECT, or refuses the whole provider category); ``inconclusive`` otherwise.
    """
    if domain_cause not in ("reset", "closed"):
        return "inconclusive"
    if control_ok:
        return "one_domain"
    if control_cause in ("reset", "closed"):
        return "every_domain"
    return "inconclusive"


def refused_alike(first: Any, other: Any) -> bool:
    """Whether the proxy refused *other* (its verdict on the reference name, a ``policy.Verdict``) exactly as it
    refused *first* (its verdict on the provider): the same plain refusal (no category, no portal, no port), the
    same answer (HTTP status or SOCKS5 code) and error code.

    A proxy that refuses a name every proxy lets through (the flowchart's step 3 tries google.com) the way it
    refuses the provider is not applying a domain rule: it refuses this machine or this user, or lets only a short
    list of names through.  Squid's ``src`` ACLs and Apache's ``Require ip`` give the same page as a domain rule.
    """
    plain = ("denied", "block_page")
    return (first.kind in plain and other.kind == first.kind and first.answer == other.answer
            and first.error_code == other.error_code and not first.category and not other.category)


# -- SOCKS5 (RFC 1928 / RFC 1929) replies: bytes in, a meaning out -------------------------------
#: Method-selection reply byte -> meaning; CONNECT reply code (REP) -> (refusal shape, meaning) (catalog data).
SOCKS5_METHODS: Mapping[int, str] = words.SOCKS5_METHODS
SOCKS5_REPLIES: Mapping[int, tuple[str, str]] = words.SOCKS5_REPLIES


@dataclass(frozen=True)
class SocksReply:
    """What one SOCKS5 server reply means: ``shape`` is a key of :data:`REFUSAL_SHAPES` or ``ok``."""

    stage: str  # "method", "auth" or "connect"
    shape: str
    meaning: str


def socks5_reply(stage: str, data: bytes, *, credentials_sent: bool = False) -> SocksReply:
    """Read a SOCKS5 reply of *stage* (``method``, ``auth`` or ``connect``) from its first bytes."""
    if len(data) < 2 or (stage != "auth" and data[0] != 0x05) or (stage == "auth" and data[0] != 0x01):
        return SocksReply(stage, "bad_request", SOCKS["not_socks5"].format(stage=stage, data=data[:8].hex() or "empty"))
    code = data[1]
    if stage == "method":
        if code == 0xFF:
            shape = "credentials_rejected" if credentials_sent else "credentials_required"
            offered = SOCKS["offered_password" if credentials_sent else "offered_none"]
            return SocksReply(stage, shape, SOCKS["no_acceptable"].format(offered=offered))
        name = SOCKS5_METHODS.get(code, SOCKS["method"].format(code=code))
        if code == 0x02 and not credentials_sent:
            return SocksReply(stage, "credentials_required", SOCKS["asks_password"])
        return SocksReply(stage, "ok", SOCKS["chose"].format(name=name))
    if stage == "auth":
        if code == 0x00:
            return SocksReply(stage, "ok", SOCKS["accepted"])
        return SocksReply(stage, "credentials_rejected", SOCKS["rejected"].format(code=code))
    shape, meaning = SOCKS5_REPLIES.get(code, ("other", SOCKS["unassigned"].format(code=code)))
    return SocksReply(stage, shape, meaning)


def socks_outcome_reply(outcome: Any, *, credentials_sent: bool = False) -> SocksReply:
    """:func:`socks5_reply` of a probe's :class:`~pytest_proxydiag.net.results.SocksOutcome` (stage and code)."""
    first = 0x01 if outcome.stage == "auth" else 0x05
    return socks5_reply(outcome.stage, bytes([first, outcome.code & 0xFF]), credentials_sent=credentials_sent)
