"""Reading a proxy's verdict: who sent a reply, which product, what it means, what IT should look for.

The policy steps ask the probes for replies (a CONNECT answer, a request
inside the tunnel, growing uploads); this module judges them:

* :func:`read_reply` — who sent it (the proxy, the provider, or the provider's
  edge such as Cloudflare), the product behind a block page (Squid, Zscaler,
  Netskope, Blue Coat/Symantec, Palo Alto, Fortinet, Cisco Umbrella,
  Forcepoint/Websense, Skyhigh/McAfee, Forefront TMG), the category if the
  page shows one, and the kind of verdict (denied, too large, rate limited,
  upstream unreachable, DLP, content type, ...);
* :func:`provider_domains` — the provider host names in use (targets, Bedrock
  regions, Vertex regions) and :func:`allowlist_lines` — the copy-paste block
  for the IT ticket;
* :func:`log_query` — the request details IT needs to find the log entry
  (UTC timestamp, request line, status, vendor error code, where that
  product logs it).

Plain data in, plain data out: no network, no formatting of solutions (the
catalog does that).
"""

from __future__ import annotations

import json
import re
import socket
import time
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

from pytest_proxydiag.branches import products

__all__ = ["Verdict", "VendorMatch", "ProviderDomain", "read_reply", "identify_vendor", "find_category",
           "provider_domains", "allowlist_lines", "wildcard_lines", "log_query", "utc", "SQUID_ERRORS",
           "VENDORS", "json_probe_body", "size_label"]


# -- products and their fingerprints: the table is data (catalog/products.py), matched by branches/products.py
VENDORS = products.PRODUCTS


#: Squid's error codes (X-Squid-Error / the page template), what they mean and who caused them.
SQUID_ERRORS: Mapping[str, tuple[str, str]] = {
    "ERR_ACCESS_DENIED": ("denied", "an access rule (http_access deny) refused the request"),
    "ERR_CACHE_ACCESS_DENIED": ("auth", "the proxy wants authentication (407)"),
    "ERR_CONNECT_FAIL": ("upstream", "the proxy could not open a connection to the provider"),
    "ERR_DNS_FAIL": ("upstream", "the proxy could not resolve the provider's name"),
    "ERR_CANNOT_FORWARD": ("upstream", "the proxy found no way to forward the request (DNS or parent proxy)"),
    "ERR_READ_TIMEOUT": ("upstream", "the provider did not answer the proxy in time"),
    "ERR_LIFETIME_EXP": ("upstream", "the connection lived longer than the proxy allows"),
    "ERR_GATEWAY_FAILURE": ("upstream", "a gateway (parent proxy or ICAP service) failed"),
    "ERR_SECURE_CONNECT_FAIL": ("upstream", "the proxy's own TLS connection to the provider failed "
                                            "(certificate or TLS version)"),
    "ERR_ZERO_SIZE_OBJECT": ("upstream", "the provider closed the connection without an answer"),
    "ERR_READ_ERROR": ("upstream", "reading from the provider failed"),
    "ERR_WRITE_ERROR": ("upstream", "writing to the provider failed"),
    "ERR_TOO_BIG": ("too_large", "the request or reply is larger than the proxy allows "
                                 "(request_body_max_size / reply_body_max_size)"),
    "ERR_INVALID_REQ": ("invalid", "the proxy considers the request malformed"),
    "ERR_INVALID_URL": ("invalid", "the proxy considers the URL malformed"),
    "ERR_UNSUP_REQ": ("invalid", "the proxy does not support this request"),
    "ERR_ICAP_FAILURE": ("upstream", "the ICAP content scanner (DLP/antivirus) failed"),
    "ERR_CONFLICT_HOST": ("invalid", "the Host header does not match the destination"),
    "ERR_SHUTTING_DOWN": ("upstream", "the proxy is shutting down"),
    "ERR_FORWARDING_DENIED": ("denied", "the proxy is not allowed to forward this request"),
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
    stage: str = ""

    @property
    def from_proxy(self) -> bool:
        return self.sender == "proxy"

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
    r"category is filtered:?\s*([^<.\n]{2,80})",
    r"belongs to the\s+[\"“']?([^\"”'<]{2,80}?)[\"”']?\s+category",
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


def _edge_signals(headers: Sequence[tuple[str, str]]) -> list[str]:
    out = []
    server = (_header(headers, "Server") or "").lower()
    if "cloudflare" in server or _header(headers, "cf-ray"):
        out.append("Cloudflare (Server: cloudflare / cf-ray): the provider's edge")
    if "awselb" in server or "cloudfront" in server or _header(headers, "x-amz-cf-id"):
        out.append("AWS edge (ELB/CloudFront)")
    if server in ("gfe", "esf", "google frontend") or "gws" in server:
        out.append("Google front end")
    return out


_DLP = re.compile(r"data loss prevention|\bDLP\b|sensitive (?:data|content|information)|confidential data|"
                  r"credential (?:detected|found)|api key detected", re.IGNORECASE)
_CTYPE = re.compile(r"content[- ]type\s+[\"']?application/json[\"']?\s+(?:is\s+)?(?:blocked|not allowed)|"
                    r"(?:file|mime|content)[- ]type (?:is )?(?:blocked|not allowed)", re.IGNORECASE)
_BLOCKWORDS = re.compile(r"access denied|access (?:to this site )?(?:is |has been )?(?:blocked|restricted|denied)|"
                         r"web page blocked|site (?:is )?blocked|website blocked|blocked by (?:your )?"
                         r"(?:organization|company|administrator)|policy (?:violation|denied)|"
                         r"not allowed to (?:browse|access|visit)|content blocked|request was denied|"
                         r"web filter violation|permission to visit", re.IGNORECASE)


def read_reply(status: int | None, headers: Sequence[tuple[str, str]] = (), body: bytes | str | None = b"",
               *, stage: str = "tunnel", expect_json: bool = True) -> Verdict:
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
        return Verdict(None, "unknown", "other", meaning="no reply", stage=stage)
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
    elif provider and not (vendor and _strength(vendor.signals) >= 3):
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
                signals=signals, retry_after=retry, title=title, logs=vendor.logs if vendor else "", stage=stage)

    if sender in ("provider", "provider_edge"):
        if status == 429:
            return Verdict(kind="rate_limited", meaning="the provider rate-limits this account or key", **base)
        if status == 413:
            return Verdict(kind="provider_error", meaning="the provider itself refuses the body as too large "
                                                          "(request_too_large): not a proxy limit", **base)
        if status in UPSTREAM_STATUSES or status == 529:
            where = "the provider's edge" if sender == "provider_edge" else "the provider"
            return Verdict(kind="provider_error", meaning=f"{where} answered {status}: an outage or overload at "
                                                          "the provider end, not the corporate proxy", **base)
        return Verdict(kind="ok", meaning="the provider answered", **base)

    if code and code in SQUID_ERRORS:
        kind, meaning = SQUID_ERRORS[code]
        if kind == "denied" and stage == "tunnel":
            kind = "block_page"
            meaning = "after intercepting TLS, " + meaning
        return Verdict(kind=kind, meaning=meaning, **base)
    shape = products.refusal_shape(status, headers, text) if stage == "connect" else None
    if status == 407 or shape in ("credentials_rejected", "credentials_required", "login_portal"):
        return Verdict(kind="auth", meaning="the proxy wants authentication", **base)
    if shape == "upstream" and status == 500:  # tinyproxy: "500 Unable to connect"
        return Verdict(kind="upstream", meaning="the proxy could not reach the provider", **base)
    if status == 413:
        return Verdict(kind="too_large", meaning="a device in the path refuses the body as too large", **base)
    if status == 429:
        return Verdict(kind="rate_limited", meaning="the proxy throttles this client", **base)
    block_text = bool(_BLOCKWORDS.search(text))
    if status in UPSTREAM_STATUSES and sender == "proxy" and not block_text:
        return Verdict(kind="upstream", meaning="the proxy could not reach the provider, or got no answer in time",
                       **base)
    category = find_category(text) if (block_text or vendor or status in (403, 451)) else None
    if _DLP.search(text) and (status >= 400 or block_text):
        return Verdict(kind="dlp", category=category, meaning="a data-loss-prevention rule blocked the request",
                       **base)
    if _CTYPE.search(text):
        return Verdict(kind="content_type", category=category, meaning="a content-type rule blocked the request",
                       **base)
    if status in (403, 451) or (block_text and html and (status >= 300 or expect_json)):
        if category:
            return Verdict(kind="category", category=category,
                           meaning=f"a URL-filtering rule blocked the category {category!r}", **base)
        if vendor is not None or block_text:
            return Verdict(kind="block_page", meaning="a filtering rule blocked the request", **base)
        return Verdict(kind="denied", meaning="the request was refused", **base)
    if status in (301, 302, 303, 307, 308) and vendor is not None:
        loc = _header(headers, "Location") or ""
        return Verdict(kind="block_page", meaning=f"redirected to the product's block page ({loc[:100]})", **base)
    if 200 <= status < 300 and stage == "connect":
        return Verdict(kind="ok", meaning="the proxy opened the tunnel", **base)
    if status >= 400:
        return Verdict(kind="other", meaning=(f"the {sender} answered {status}" if sender != "unknown" else f"answered {status}"), **base)
    return Verdict(kind="ok", meaning="no filtering verdict", **base)


# -- provider domains --------------------------------------------------------------------------
@dataclass(frozen=True)
class ProviderDomain:
    host: str
    port: int
    scheme: str
    provider: str
    why: str

    @property
    def hostport(self) -> str:
        return f"{self.host}:{self.port}"


#: Wildcard forms from the flowchart, per provider family, for IT teams that allow by pattern.
FAMILY_WILDCARDS: Mapping[str, tuple[str, ...]] = {
    "Anthropic": ("api.anthropic.com",),
    "AWS Bedrock": ("bedrock-runtime.*.amazonaws.com", "*.bedrock-runtime.amazonaws.com"),
    "Vertex AI": ("*.aiplatform.googleapis.com", "aiplatform.googleapis.com"),
}


def provider_of(host: str) -> str:
    h = host.lower()
    if h == "anthropic.com" or h.endswith(".anthropic.com"):
        return "Anthropic"
    if "bedrock" in h and h.endswith(".amazonaws.com"):
        return "AWS Bedrock"
    if h.endswith("aiplatform.googleapis.com"):
        return "Vertex AI"
    return "other"


def _regions(values: Iterable[str] | None) -> list[str]:
    out: list[str] = []
    for v in values or ():
        for part in re.split(r"[,;\s]+", str(v)):
            part = part.strip().lower()
            # us-east-1, eu-central-2, us-gov-west-1, us-central1, europe-west4, global
            if re.fullmatch(r"global|[a-z]{2,12}(?:-[a-z0-9]{1,12}){1,3}", part) and part not in out:
                out.append(part)
    return out


def provider_domains(targets: Sequence, aws_regions: Iterable[str] | None = None,
                     vertex_regions: Iterable[str] | None = None,
                     env: Mapping[str, str] | None = None) -> list[ProviderDomain]:
    """Provider host names in use: the targets, plus Bedrock/Vertex hosts for the configured regions.

    Bedrock and Vertex join only when a region is configured (option or
    ``AWS_REGION``/``AWS_DEFAULT_REGION``/``CLOUD_ML_REGION``) or Claude Code is
    told to use them (``CLAUDE_CODE_USE_BEDROCK``/``CLAUDE_CODE_USE_VERTEX``).
    """
    env = env or {}
    out: dict[str, ProviderDomain] = {}
    for t in targets:
        out.setdefault(t.host.lower(), ProviderDomain(t.host.lower(), t.port, t.scheme, provider_of(t.host),
                                                      f"target ({t.source})"))
    aws = _regions(aws_regions)
    if not aws and env.get("CLAUDE_CODE_USE_BEDROCK", "").strip() not in ("", "0", "false"):
        aws = ["us-east-1"]
    for region in aws:
        host = f"bedrock-runtime.{region}.amazonaws.com"
        out.setdefault(host, ProviderDomain(host, 443, "https", "AWS Bedrock", f"AWS region {region}"))
    vertex = _regions(vertex_regions)
    if not vertex and env.get("CLAUDE_CODE_USE_VERTEX", "").strip() not in ("", "0", "false"):
        vertex = ["global"]
    for region in vertex:
        host = "aiplatform.googleapis.com" if region == "global" else f"{region}-aiplatform.googleapis.com"
        out.setdefault(host, ProviderDomain(host, 443, "https", "Vertex AI", f"Vertex region {region}"))
    return list(out.values())


def allowlist_lines(domains: Sequence[ProviderDomain]) -> str:
    """One host:port per line, for a ticket."""
    return "\n".join(f"  {d.host}  (HTTPS, port {d.port}; {d.provider})" if d.scheme == "https"
                     else f"  {d.host}  (HTTP, port {d.port}; {d.provider})" for d in domains)


def wildcard_lines(domains: Sequence[ProviderDomain]) -> str:
    families = list(dict.fromkeys(d.provider for d in domains if d.provider in FAMILY_WILDCARDS))
    return "\n".join(f"  {fam}: " + ", ".join(FAMILY_WILDCARDS[fam]) for fam in families) or "  (none)"


# -- the text for IT ---------------------------------------------------------------------------------
def utc(ts: float | None = None) -> str:
    """An ISO 8601 UTC timestamp (seconds) for log searches."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if ts is None else ts))


def log_query(verdict: Verdict, request_line: str, *, when: float | None = None, proxy: str = "",
              client: str | None = None) -> str:
    """What IT needs to find the entry: time (UTC), client, request, answer, where the product logs it."""
    client = client or _client_name()
    # Squid's page title is the same for every error: the code says more.
    generic = not verdict.title or verdict.title.upper().startswith("ERROR") or verdict.vendor == "Squid"
    answer = f"{verdict.status}" + ("" if generic else f" ({verdict.title})")
    lines = [f"    time (UTC):  {utc(when)} (within a minute)",
             f"    client:      {client}",
             f"    proxy:       {proxy}" if proxy else "",
             f"    request:     {request_line}",
             f"    answer:      {answer}" + (f", X-Squid-Error: {verdict.error_code}" if verdict.error_code else ""),
             f"    product:     {verdict.vendor}" if verdict.vendor else "",
             f"    category:    {verdict.category}" if verdict.category else "",
             f"    Retry-After: {verdict.retry_after}" if verdict.retry_after else "",
             f"    look in:     {verdict.logs}" if verdict.logs else
             "    look in:     the proxy's access log for this client, host and time"]
    return "\n".join(line for line in lines if line)


def _client_name() -> str:
    try:
        return socket.gethostname()
    except OSError:  # pragma: no cover
        return "this machine"


# -- payload bodies ------------------------------------------------------------------------------
def json_probe_body(size: int) -> bytes:
    """A syntactically valid Messages API body of exactly *size* bytes (no key is ever sent with it)."""
    head = b'{"model":"claude-proxydiag-probe","max_tokens":1,"messages":[{"role":"user","content":"'
    tail = b'"}]}'
    pad = max(0, size - len(head) - len(tail))
    body = head + b"a" * pad + tail
    return body if len(body) == size or size < len(head) + len(tail) else body[:size]


def size_label(n: int) -> str:
    for unit, factor in (("GiB", 1024 ** 3), ("MiB", 1024 ** 2), ("KiB", 1024)):
        if n >= factor:
            value = n / factor
            return f"{value:g} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{n} B"


@dataclass
class PayloadResult:
    """Growing uploads: which sizes passed, the first that failed, and how."""

    passed: list[int] = field(default_factory=list)
    failed_size: int | None = None
    failure: str = ""
    verdict: Verdict | None = None
    untested: list[int] = field(default_factory=list)
    provider_limit: int | None = None
    elapsed: float = 0.0
    when: float | None = None
    attempts: list[dict] = field(default_factory=list)

    @property
    def largest_passed(self) -> int | None:
        return max(self.passed) if self.passed else None

    def bracket(self) -> str:
        if self.failed_size is None:
            return ""
        lo = size_label(self.largest_passed) if self.passed else None
        hi = size_label(self.failed_size)
        return (f"passes {lo}, fails {hi} with {self.failure}" if lo else f"fails already at {hi} with "
                                                                           f"{self.failure}")


# -- measurements on top of the probes (the steps stay thin) -----------------------------------------
API_HEADERS = {"content-type": "application/json", "anthropic-version": "2023-06-01"}
SMALL_BODY_SIZE = 512
#: The slowest upload rate the payload ladder allows for before it calls an upload stuck (bytes/s).
MIN_UPLOAD_RATE = 1024 * 1024


def reply_parts(reply) -> tuple[int | None, tuple[tuple[str, str], ...], bytes]:
    if reply is None:
        return None, (), b""
    return reply.status, tuple(reply.headers), reply.body or b""


def connect_domain(probes, host: str, port: int, *, is_target: bool):
    """CONNECT host:port through the configured proxy (cached).

    Targets share the probes' own cache entry.  Extra provider domains (a
    Bedrock region nobody else probes) go through ``open_tunnel(via=...)``, so
    a slow answer for one of them does not mark the whole proxy as silent.
    """
    if is_target:
        return probes.connect_tunnel(host, port)

    def compute():
        sock, res = probes.open_tunnel(host, port, via=probes.proxy)
        if sock is not None:
            sock.close()
        return res
    return probes.cached(("policy-connect", host.lower(), port), compute)


def api_request(probes, target):
    """The request the clients send, without a key: POST /v1/messages with a small body (cached)."""
    return probes.request(target, "POST", "/v1/messages", body=json_probe_body(SMALL_BODY_SIZE),
                          headers=API_HEADERS)


def payload_key(target, sizes: Sequence[int]) -> tuple:
    return ("policy-payload", target.url, tuple(sizes))


def measure_payload(probes, target, sizes: Sequence[int], budget: float) -> PayloadResult:
    """POST growing bodies to *target*'s messages endpoint through the proxy; stop at the first failure.

    A reply that did not come from the proxy (the provider's 401 without a
    key) proves the body got through.  The whole ladder stays within
    *budget* seconds: sizes that no longer fit are reported as untested.
    """
    out = PayloadResult()
    start = time.monotonic()
    for i, size in enumerate(sorted(set(sizes))):
        remaining = budget - (time.monotonic() - start)
        wanted = max(float(probes.timeout), size / MIN_UPLOAD_RATE)
        if remaining < min(wanted, 2.0) or remaining <= 0:
            out.untested = sorted(set(sizes))[i:]
            break
        per_op = max(0.5, min(wanted, remaining / 3))
        t0 = time.time()
        res = probes.request(target, "POST", "/v1/messages", body=json_probe_body(size), headers=API_HEADERS,
                             cache=False, timeout=per_op, read_limit=64 * 1024)
        status, headers, body = reply_parts(res.reply)
        verdict = read_reply(status, headers, body, stage="tunnel" if target.scheme == "https" else "plain")
        out.attempts.append({"size": size, "status": status, "sender": verdict.sender, "kind": verdict.kind,
                             "detail": res.detail, "seconds": round(res.timings.total or 0.0, 3)})
        if res.reply is None:
            out.failed_size, out.when = size, t0
            out.failure = {"reset": "the connection reset", "closed": "the connection closed",
                           "no_answer": "no answer"}.get(res.cause.value, "the connection cut")
            out.untested = [s for s in sorted(set(sizes)) if s > size]
            # A proxy that refuses a body by its declared size answers 413 and closes while the body is
            # still being sent, so the upload sees only a reset.  Ask again with the size declared and
            # no body: such a proxy answers at once; others just wait (bounded, short).
            declared = probes.request(target, "POST", "/v1/messages", body=None, cache=False,
                                      headers={**API_HEADERS, "Content-Length": str(size)},
                                      timeout=min(float(probes.timeout), 3.0), read_limit=64 * 1024)
            d_status, d_headers, d_body = reply_parts(declared.reply)
            d_verdict = read_reply(d_status, d_headers, d_body, stage="tunnel" if target.scheme == "https"
                                   else "plain")
            out.attempts.append({"size": size, "declared_only": True, "status": d_status,
                                 "sender": d_verdict.sender, "kind": d_verdict.kind, "detail": declared.detail})
            if d_verdict.from_proxy and d_verdict.kind != "ok":
                out.verdict = d_verdict
                out.failure = f"{d_status}" + (f" {d_verdict.error_code}" if d_verdict.error_code else
                                               (f" ({d_verdict.vendor})" if d_verdict.vendor else ""))
            break
        if verdict.sender in ("provider", "provider_edge") and status == 413:
            out.provider_limit = size
            out.untested = [s for s in sorted(set(sizes)) if s > size]
            break
        if verdict.from_proxy and verdict.kind != "ok":
            out.failed_size, out.verdict, out.when = size, verdict, t0
            out.failure = f"{status}" + (f" {verdict.error_code}" if verdict.error_code else
                                         (f" ({verdict.vendor})" if verdict.vendor else ""))
            out.untested = [s for s in sorted(set(sizes)) if s > size]
            break
        out.passed.append(size)
    out.elapsed = time.monotonic() - start
    return out


def peek(probes, key):
    """A cached probe value if some step computed it, else None (never computes)."""
    return probes.peek(key)


def when_of(probes, *, target: str | None = None, url: str | None = None) -> float | None:
    """The wall-clock time of the last probe of *target* (host:port) or *url*, from the probe log."""
    found = None
    for entry in probes.iter_log():
        if (target and entry.get("target") == target) or (url and entry.get("url") == url):
            found = entry.get("time", found)
    return found


#: Which verdicts proxy_logs reports first when several replies need IT's attention.
LOG_PRIORITY = ("upstream", "rate_limited", "dlp", "content_type", "too_large", "category", "block_page",
                "denied", "other")
