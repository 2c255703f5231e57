"""The measurements the policy steps need, built from the probes' own calls (bounded, cached, counted).

Nothing here opens a socket: every byte goes through :class:`~.probes.Probes`.
What a reply means is judged by ``branches/policy.py``; the payload ladder
takes that judge as an argument, since where it stops depends on who answered.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field, replace
from typing import Callable, Sequence
from urllib.parse import urlsplit

from pytest_proxydiag.branches.providers import vertex_region

__all__ = ["API_HEADERS", "json_probe_body", "api_path", "api_headers", "ApiRequest", "api_probe", "retest_command",
           "connect_domain",
           "control_connect", "api_request", "payload_key",
           "PayloadResult", "measure_payload", "when_of", "client_name", "reply_parts"]

API_HEADERS = {"content-type": "application/json", "anthropic-version": "2023-06-01"}
#: The model a Bedrock or Vertex AI probe names; unsigned (no token), the service refuses before it looks it up.
PROBE_MODEL = "claude-proxydiag-probe"
SMALL_BODY_SIZE = 512
#: The slowest upload rate the payload ladder allows for before it calls an upload stuck (bytes/s).
MIN_UPLOAD_RATE = 1024 * 1024


def _api(target) -> str:
    return getattr(target, "api", "anthropic") if target is not None else "anthropic"


def api_path(target) -> str:
    """The path the user's client POSTs to *target*, in the API it speaks there.

    Anthropic: ``/v1/messages``.  Bedrock: ``/model/<id>/invoke`` (unsigned, AWS answers 403 with
    ``x-amzn-ErrorType``).  Vertex AI: ``/v1/projects/<p>/locations/<region>/publishers/anthropic/models/
    <id>:rawPredict`` (no token: 401 UNAUTHENTICATED); a base URL's path (``/vertex/v1``) stands for ``/v1``.
    """
    api = _api(target)
    base = urlsplit(target.url).path.rstrip("/")
    if api == "bedrock":
        return f"{base}/model/anthropic.{PROBE_MODEL}/invoke"
    if api == "vertex":
        region = vertex_region(target.host, {})
        return (f"{base or '/v1'}/projects/proxydiag-probe/locations/{region}/publishers/anthropic/models/"
                f"{PROBE_MODEL}:rawPredict")
    return "/v1/messages"


def api_headers(target) -> dict[str, str]:
    """The headers of :func:`api_path`'s request: Anthropic's version header only for Anthropic's API."""
    return dict(API_HEADERS) if _api(target) == "anthropic" else {"content-type": "application/json"}


def json_probe_body(size: int, api: str = "anthropic") -> bytes:
    """A syntactically valid request body of exactly *size* bytes for *api* (no key is ever sent with it).

    Bedrock and Vertex AI take the model from the path and the API version from the body.
    """
    head = {"bedrock": b'{"anthropic_version":"bedrock-2023-05-31","max_tokens":1,'
                       b'"messages":[{"role":"user","content":"',
            "vertex": b'{"anthropic_version":"vertex-2023-10-16","max_tokens":1,'
                      b'"messages":[{"role":"user","content":"'}.get(
        api, b'{"model":"claude-proxydiag-probe","max_tokens":1,"messages":[{"role":"user","content":"')
    tail = b'"}]}'
    pad = max(0, size - len(head) - len(tail))
    body = head + b"a" * pad + tail
    return body if len(body) == size or size < len(head) + len(tail) else body[:size]


@dataclass(frozen=True)
class ApiRequest:
    """The check request in *api*'s own terms: what the probes send and the proof's HTTP clients send too."""

    api: str
    path: str
    headers: dict
    body: bytes


def api_probe(target, size: int = SMALL_BODY_SIZE) -> ApiRequest:
    """The one choice of the request per API (:func:`api_path`, :func:`api_headers`, :func:`json_probe_body`)."""
    api = _api(target)
    return ApiRequest(api, api_path(target), api_headers(target), json_probe_body(size, api))


def retest_command(target) -> str:
    """The command a user reruns to see whether *target* is reached through the proxy, in its API's terms.

    Anthropic: the base URL plus ``/v1/messages``.  Bedrock and Vertex AI: :func:`api_probe`'s request on the
    target's origin (``POST https://bedrock-runtime.<region>.amazonaws.com/model/.../invoke``), every value the
    user's target's own; what a reached answer looks like comes with it (``catalog/policy.py`` ``RETEST``).
    """
    from pytest_proxydiag.catalog.policy import RETEST

    api = _api(target)
    url = target.url + api_path(target) if api == "anthropic" else target.origin + api_path(target)
    return RETEST.get(api, RETEST["anthropic"]).format(url=url)


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
    return probes.cached(("policy-connect", host.lower(), port), lambda: _tunnel_once(probes, host, port))


def _tunnel_once(probes, host: str, port: int, **options):
    """One CONNECT through the configured proxy, past the shared tunnel cache, closed at once: its result."""
    sock, res = probes.open_tunnel(host, port, via=probes.proxy, **options)
    if sock is not None:
        sock.close()
    return res


def connect_again(probes, host: str, port: int):
    """CONNECT host:port through the configured proxy once more, past the shared cache (cached itself): asked only for
    a refused provider domain, to tell a rule (refused every time) from a limit on this machine's connections."""
    return probes.cached(("policy-connect-again", host.lower(), port), lambda: _tunnel_once(probes, host, port))


def connect_reference(probes, reference: tuple[str, int] | None):
    """CONNECT the reference name (``--proxydiag-reference``, google.com:443 by default) through the proxy (cached),
    or None: no reference asked for, or a ``socks5://`` proxy, with which this machine would resolve the name
    itself (the diagnosis resolves only the names it was given)."""
    if reference is None or probes.proxy is None or probes.proxy.scheme == "socks5":
        return None
    return connect_domain(probes, reference[0], reference[1], is_target=False)


#: What a browser sends as its User-Agent (Firefox on Windows): the word "Mozilla" a Squid ``browser`` ACL looks for.
BROWSER_USER_AGENT = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"


def connect_reference_as_browser(probes, reference: tuple[str, int] | None):
    """CONNECT the reference name through an HTTP proxy with a browser's User-Agent (cached), or None (no reference
    asked for, or no HTTP proxy): asked only when the proxy refused every CONNECT, to tell a rule that lets only
    browsers through (Squid's ``browser`` ACL) from one that refuses this machine."""
    if reference is None or probes.proxy is None or probes.proxy.scheme not in ("http", "https"):
        return None
    return probes.cached(("policy-connect-browser", reference[0].lower(), reference[1]),
                         lambda: _tunnel_once(probes, reference[0], reference[1], user_agent=BROWSER_USER_AGENT))


def get_reference(probes, reference: tuple[str, int] | None):
    """A plain ``GET http://<reference host>/`` through an HTTP proxy (cached), or None: no reference asked for, or
    no HTTP proxy.  The flowchart's step 3 tries both: a proxy that refuses every CONNECT but forwards this
    request refuses CONNECT itself, not this machine."""
    if reference is None or probes.proxy is None or probes.proxy.scheme not in ("http", "https"):
        return None
    from pytest_proxydiag.core.config import Target

    return probes.request(Target(f"http://{reference[0]}", "reference"), "GET", "/")


def reference_probes(probes, reference: tuple[str, int] | None) -> tuple[Callable[[], object], Callable[[], object]]:
    """The reference CONNECT and the reference GET, each to be called only if needed
    (``policy_reach.reference_refusal(verdict, *reference_probes(probes, cfg["reference"]))``)."""
    return (lambda: connect_reference(probes, reference)), (lambda: get_reference(probes, reference))


def control_connect(probes, domains, target_hosts, control: str) -> tuple[object, str, object]:
    """When no provider domain got a reply: the first domain's CONNECT again and a control CONNECT to *control*
    (another provider name, ``branches/products.control_host``) on the same port, as (first, "host:port", control)."""
    first = domains[0]
    res = connect_domain(probes, first.host, first.port, is_target=(first.host, first.port) in target_hosts)
    return res, f"{control}:{first.port}", control_tunnel(probes, control, first.port)


def control_tunnel(probes, control: str, port: int):
    """The control CONNECT to *control* on *port* (cached), judged by what its tunnel carries: a 200 whose TLS
    handshake is then closed or reset is no open tunnel.  Measured: tinyproxy whose ``Upstream http`` names a SOCKS
    parent at times answers the control 200 and closes it, while it closes the provider's CONNECT at once; the
    200 alone read as "only the provider's name is refused"."""
    res = connect_domain(probes, control, port, is_target=False)
    if not res.ok:
        return res
    _hostport, tls = control_handshake(probes, control, port)
    if tls.ok or tls.cause.value not in ("reset", "closed"):
        return res
    return replace(res, ok=False, cause=tls.cause, reply=None,
                   detail=f"{res.detail}, then {tls.detail}" if res.detail else tls.detail)


def control_handshake(probes, control: str, port: int):
    """A TLS handshake (unverified) with *control* (another provider name, ``branches/products.control_host``) on
    *port* through the proxy (cached), as ("host:port", TlsResult): asked only when the proxy opened the tunnel to
    the provider and then closed its handshake, to tell a rule on that name from a proxy that cannot do TLS at all."""
    from pytest_proxydiag.core.config import Target

    return f"{control}:{port}", probes.tls_via_proxy(Target(f"https://{control}:{port}", "control"))


def api_request(probes, target):
    """The request the clients send, without a key: POST :func:`api_path` with a small body (cached)."""
    req = api_probe(target)
    return probes.request(target, "POST", req.path, body=req.body, headers=req.headers)


def payload_key(target, sizes: Sequence[int]) -> tuple:
    return ("policy-payload", target.url, tuple(sizes))


@dataclass
class PayloadResult:
    """Growing uploads: which sizes passed, the first that failed, and how."""

    passed: list[int] = field(default_factory=list)
    failed_size: int | None = None
    failure: str = ""
    verdict: object | None = None
    untested: list[int] = field(default_factory=list)
    provider_limit: int | None = None
    elapsed: float = 0.0
    when: float | None = None
    attempts: list[dict] = field(default_factory=list)
    #: The path the bodies were POSTed to (:func:`api_path`).
    path: str = "/v1/messages"

    @property
    def largest_passed(self) -> int | None:
        return max(self.passed) if self.passed else None


def _failure(status, verdict) -> str:
    return f"{status}" + (f" {verdict.error_code}" if verdict.error_code else
                          (f" ({verdict.vendor})" if verdict.vendor else ""))


def measure_payload(probes, target, sizes: Sequence[int], budget: float, judge: Callable) -> PayloadResult:
    """POST growing bodies to *target*'s messages endpoint through the proxy; stop at the first failure.

    *judge(status, headers, body, stage=...)* reads each reply (``branches.policy.read_reply``).  A reply
    that did not come from the proxy (the provider's 401 without a key) proves the body got through.  The
    whole ladder stays within *budget* seconds: sizes that no longer fit are reported as untested.
    """
    out = PayloadResult()
    start = time.monotonic()
    # Through a SOCKS5 proxy an http:// request travels inside the tunnel too: the proxy never reads it.
    stage = "tunnel" if target.scheme == "https" or getattr(probes, "socks5", False) else "plain"
    ladder = sorted(set(sizes))
    path, request_headers = api_path(target), api_headers(target)
    out.path = path
    for i, size in enumerate(ladder):
        remaining = budget - (time.monotonic() - start)
        wanted = max(float(probes.timeout), size / MIN_UPLOAD_RATE)
        if remaining < min(wanted, 2.0) or remaining <= 0:
            out.untested = ladder[i:]
            break
        per_op = max(0.5, min(wanted, remaining / 3))
        t0 = time.time()
        res = probes.request(target, "POST", path, body=json_probe_body(size, _api(target)), headers=request_headers,
                             cache=False, timeout=per_op, read_limit=64 * 1024)
        status, headers, body = reply_parts(res.reply)
        verdict = judge(status, headers, body, stage=stage)
        out.attempts.append({"size": size, "status": status, "sender": verdict.sender, "kind": verdict.kind,
                             "detail": res.detail, "seconds": round(res.timings.total or 0.0, 3)})
        if res.reply is None:
            out.failed_size, out.when = size, t0
            out.failure = {"reset": "the connection reset", "closed": "the connection closed",
                           "no_answer": "no answer"}.get(res.cause.value, "the connection cut")
            out.untested = [s for s in ladder if s > size]
            # A proxy that refuses a body by its declared size answers 413 and closes while the body is
            # still being sent, so the upload sees only a reset.  Ask again with the size declared and
            # no body: such a proxy answers at once; others just wait (bounded, short).
            declared = probes.request(target, "POST", path, body=None, cache=False,
                                      headers={**request_headers, "Content-Length": str(size)},
                                      timeout=min(float(probes.timeout), 3.0), read_limit=64 * 1024)
            d_status, d_headers, d_body = reply_parts(declared.reply)
            d_verdict = judge(d_status, d_headers, d_body, stage=stage)
            out.attempts.append({"size": size, "declared_only": True, "status": d_status,
                                 "sender": d_verdict.sender, "kind": d_verdict.kind, "detail": declared.detail})
            if d_verdict.from_proxy and d_verdict.kind != "ok":
                out.verdict, out.failure = d_verdict, _failure(d_status, d_verdict)
            break
        if verdict.sender in ("provider", "provider_edge") and status == 413:
            out.provider_limit = size
            out.untested = [s for s in ladder if s > size]
            break
        if verdict.from_proxy and verdict.kind != "ok":
            out.failed_size, out.verdict, out.when = size, verdict, t0
            out.failure = _failure(status, verdict)
            out.untested = [s for s in ladder if s > size]
            break
        out.passed.append(size)
    out.elapsed = time.monotonic() - start
    return out


def when_of(probes, *, target: str | None = None, url: str | None = None) -> float | None:
    """The wall-clock time of the last probe of *target* (host:port) or *url*, from the probe log."""
    found = None
    for entry in probes.iter_log():
        if (target and entry.get("target") == target) or (url and entry.get("url") == url):
            found = entry.get("time", found)
    return found


def client_name() -> str:
    """This machine's name, as the proxy's log shows the client."""
    try:
        return socket.gethostname()
    except OSError:  # pragma: no cover
        return "this machine"
