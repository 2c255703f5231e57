"""What the probes return: plain data (status, headers, chain, timings) and the precise :class:`Cause` of a failure.

No I/O here.  :func:`classify_oserror` sorts a low-level error into the most
specific cause, the way requests sorts urllib3's errors.
"""

from __future__ import annotations

import errno
import socket
import ssl
import time
from dataclasses import dataclass, field
from enum import Enum

__all__ = ["Cause", "Timings", "ProbeResult", "RepliedResult", "TcpResult", "HttpReply", "TunnelResult",
           "SocksOutcome", "TlsResult", "HttpResult", "StreamResult", "ProbeError", "Deadline", "classify_oserror",
           "EXPECTED_NETWORK_ERRORS"]

class Cause(str, Enum):
    """Why a probe failed, most specific first (like requests' exception tree)."""

    OK = "ok"
    NO_PROXY = "no_proxy"                  # nothing configured to probe
    INVALID_PROXY = "invalid_proxy"        # the proxy URL cannot be parsed
    UNRESOLVABLE = "unresolvable"          # DNS: no address for the name
    REFUSED = "refused"                    # TCP RST on connect: nothing listens
    TIMEOUT = "timeout"                    # TCP connect timed out: dropped packets
    UNREACHABLE = "unreachable"            # no route / network down
    NO_ANSWER = "no_answer"                # connected, but no reply in time
    CLOSED = "closed"                      # connected, closed without a reply
    RESET = "reset"                        # connection reset
    GARBAGE = "garbage"                    # reply is not HTTP
    TLS_SPOKEN = "tls_spoken"              # the proxy answered with TLS to plain HTTP
    HEADER_TOO_LARGE = "header_too_large"  # reply head without end
    PROXY_STATUS = "proxy_status"          # the proxy answered, with a non-2xx status
    TLS_ERROR = "tls_error"                # TLS handshake failed
    PROXY_TLS_UNTRUSTED = "proxy_tls_untrusted"  # an https:// proxy whose own certificate is not trusted
    TLS_PLAINTEXT = "tls_plaintext"        # plaintext where TLS was expected
    SOCKS_REFUSED = "socks_refused"        # a SOCKS5 server refused a stage (TunnelResult.socks says which)
    UNSUPPORTED = "unsupported"            # e.g. a SOCKS4 proxy (the probes speak HTTP CONNECT and SOCKS5)
    BLOCKED = "blocked"                    # not attempted: an earlier probe failed
    DIRECT_FORBIDDEN = "direct_forbidden"  # not attempted: --proxydiag-no-direct forbids a direct connection
    ERROR = "error"                        # anything else, with the detail


@dataclass(frozen=True)
class Timings:
    """Seconds spent in each phase, like ``curl -w`` / httpstat."""

    resolve: float | None = None
    connect: float | None = None
    proxy_reply: float | None = None
    tls: float | None = None
    first_byte: float | None = None
    total: float | None = None

    def as_dict(self) -> dict[str, float]:
        return {k: round(v, 4) for k, v in self.__dict__.items() if v is not None}


@dataclass(frozen=True, kw_only=True)
class ProbeResult:
    """The outcome every probe has: whether it worked (*ok*), the precise :class:`Cause` (``Cause.OK`` when it
    did) and a one-line *detail* for the reader.

    Every probe result is keyword-only, the base's fields with the kind's own:
    ``TcpResult(ok=False, cause=Cause.REFUSED, detail="...", host="proxy", port=3128)``.
    """

    ok: bool
    cause: Cause
    detail: str = ""


@dataclass(frozen=True, kw_only=True)
class TcpResult(ProbeResult):
    """A TCP connect to *host*:*port* (the proxy's, or a target's when direct).  Keyword-only."""

    host: str
    port: int
    address: str | None = None
    elapsed: float = 0.0
    resolve_elapsed: float = 0.0
    addresses: tuple[str, ...] = ()

    @property
    def hostport(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True)
class HttpReply:
    """A parsed HTTP response head (and a bounded part of its body)."""

    status: int
    reason: str
    version: str
    headers: tuple[tuple[str, str], ...]
    body: bytes = b""
    body_truncated: bool = False
    #: After a 401/407 to CONNECT: the proxy's own answer to a request addressed to it (``Probes.proxy_self_reply``),
    #: which names the first hop when the 401/407 is its parent's, relayed.
    proxy_self: "HttpReply | None" = field(default=None, compare=False, repr=False)
    #: After a 401/407 to CONNECT: the answer to a plain ``GET http://host/`` through the proxy, whose ``Via`` lists
    #: every hop of a chain (``Probes.proxy_plain_reply``).
    proxy_plain: "HttpReply | None" = field(default=None, compare=False, repr=False)

    def header(self, name: str, default: str | None = None) -> str | None:
        n = name.lower()
        for k, v in self.headers:
            if k.lower() == n:
                return v
        return default

    def headers_all(self, name: str) -> list[str]:
        n = name.lower()
        return [v for k, v in self.headers if k.lower() == n]

    @property
    def status_line(self) -> str:
        return f"{self.version} {self.status} {self.reason}".strip()

    @property
    def proxy_authenticate(self) -> list[str]:
        return self.headers_all("Proxy-Authenticate")

    @property
    def squid_error(self) -> str | None:
        return self.header("X-Squid-Error")

    def text(self, limit: int = 4000) -> str:
        return self.body[:limit].decode("utf-8", "replace")


@dataclass(frozen=True, kw_only=True)
class RepliedResult(ProbeResult):
    """A probe that sends an HTTP request (a CONNECT, or a whole request) and so may carry the *reply* (the
    proxy's or the origin's; None when none came) and the *timings* of each phase.  Keyword-only."""

    reply: HttpReply | None = None
    timings: Timings = field(default_factory=Timings)

    @property
    def status(self) -> int | None:
        return self.reply.status if self.reply else None


@dataclass(frozen=True)
class SocksOutcome:
    """How far a SOCKS5 exchange got: the last *stage* (``method``, ``auth``, ``connect``) and its *code*
    (the selected method, the RFC 1929 status, or the CONNECT reply code of RFC 1928)."""

    stage: str
    code: int
    resolved_by: str = "proxy"   # "proxy" (socks5h: the name is sent) or "client" (socks5: the address is)
    address: str | None = None   # the address the client sent (socks5)

    @property
    def ok(self) -> bool:
        return self.stage == "connect" and self.code == 0


@dataclass(frozen=True, kw_only=True)
class TunnelResult(RepliedResult):
    """The outcome of ``CONNECT target`` through the proxy (an HTTP CONNECT, or SOCKS5's: then *socks* says how
    far it got and *reply* is None).  Keyword-only."""

    target: str
    credentials_sent: bool = False
    socks: SocksOutcome | None = None
    #: The target's own name did not resolve on this machine (``socks5://`` resolves it here, before the
    #: proxy is asked): the cause is the scheme or this machine's DNS, never the proxy's reachability.
    target_unresolved_here: bool = False


@dataclass(frozen=True, kw_only=True)
class TlsResult(ProbeResult):
    """A TLS handshake with a target through the proxy (unverified, chain kept).  Keyword-only."""

    target: str
    chain: tuple[bytes, ...] = ()      # DER, leaf first, as presented
    version: str | None = None
    cipher: str | None = None
    timings: Timings = field(default_factory=Timings)
    tunnel: TunnelResult | None = None


@dataclass(frozen=True, kw_only=True)
class HttpResult(RepliedResult):
    """A whole HTTP exchange, through the proxy or direct.  Keyword-only."""

    url: str
    method: str
    via_proxy: bool = True
    tunnel: TunnelResult | None = None
    bytes_sent: int = 0


@dataclass(frozen=True, kw_only=True)
class StreamResult(HttpResult):
    """An HTTP exchange whose answer was read piece by piece: when each piece of the body arrived (seconds
    after the request was sent).  ``reply`` is the head; the body is in *pieces*.  Keyword-only."""

    pieces: tuple[tuple[float, bytes], ...] = ()
    complete: bool = False                  # the whole body arrived within the time allowed


class ProbeError(Exception):
    """Internal: a probe phase failed with a classified cause."""

    def __init__(self, cause: Cause, detail: str) -> None:
        super().__init__(detail)
        self.cause = cause
        self.detail = detail


class Deadline:
    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds
        self.seconds = seconds

    def remaining(self) -> float:
        return max(0.0, self.end - time.monotonic())

    def check(self, what: str) -> float:
        r = self.remaining()
        if r <= 0:
            raise ProbeError(Cause.NO_ANSWER, f"no complete {what} within {self.seconds:g}s")
        return r


def classify_oserror(exc: BaseException, what: str) -> ProbeError:
    """Sort a low-level error into the most specific cause."""
    if isinstance(exc, ProbeError):
        return exc
    if isinstance(exc, socket.gaierror):
        return ProbeError(Cause.UNRESOLVABLE, f"{what}: name does not resolve ({exc.strerror or exc})")
    if isinstance(exc, ConnectionRefusedError):
        return ProbeError(Cause.REFUSED, f"{what}: connection refused")
    if isinstance(exc, ConnectionResetError):
        return ProbeError(Cause.RESET, f"{what}: connection reset by peer")
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return ProbeError(Cause.TIMEOUT, f"{what}: timed out")
    if isinstance(exc, ssl.SSLError):
        return ProbeError(Cause.TLS_ERROR, f"{what}: {exc.reason or exc}")
    if isinstance(exc, OSError) and exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL,
                                                  errno.EAFNOSUPPORT):
        return ProbeError(Cause.UNREACHABLE, f"{what}: {exc.strerror}")
    if isinstance(exc, (BrokenPipeError, ConnectionAbortedError)):
        return ProbeError(Cause.CLOSED, f"{what}: connection closed")
    return ProbeError(Cause.ERROR, f"{what}: {type(exc).__name__}: {exc}")




#: The failures a probe expects from the network and turns into a :class:`Cause`; anything else is a bug and
#: propagates, so the step's outcome is ``error`` (timeouts and TLS errors are OSErrors).
EXPECTED_NETWORK_ERRORS = (OSError, ProbeError)
