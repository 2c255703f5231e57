"""The probe layer: every byte the diagnosis sends goes through here.

Probes do network work and return plain data (status, headers, chain,
timings, and the precise :class:`Cause` of a failure).  They never judge and
never format solutions: the bundled tests do that with the catalog.

Three promises hold for every probe:

* **bounded** — each operation is limited by the configured timeout, and a
  whole exchange by a deadline, so a silent or slowloris proxy costs at most
  one timeout;
* **shared** — results are cached per session (:meth:`Probes.cached`), so ten
  steps that need the same CONNECT do it once, and once the proxy is known to
  be unreachable or silent, later probes answer at once without touching it;
* **loopback-safe** — the probes connect only to the proxy and, when direct
  probes are allowed, to the targets; host names are pinned with
  ``--proxydiag-resolve`` before the system resolver is asked.
"""

from __future__ import annotations

import base64
import concurrent.futures
import errno
import socket
import ssl
import sys
import threading
import time
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Callable, Iterator, Mapping

from pytest_proxydiag.core.config import Settings, Target
from pytest_proxydiag.core.proxyurl import ProxyURL

__all__ = ["Cause", "Probes", "TcpResult", "HttpReply", "TunnelResult", "TlsResult", "HttpResult",
           "Timings", "USER_AGENT"]

USER_AGENT = "pytest-proxydiag"
MAX_HEAD = 64 * 1024
MAX_BODY = 256 * 1024


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
    UNSUPPORTED = "unsupported"            # e.g. a SOCKS proxy for an HTTP probe
    BLOCKED = "blocked"                    # not attempted: an earlier probe failed
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


@dataclass(frozen=True)
class TcpResult:
    host: str
    port: int
    ok: bool
    cause: Cause
    detail: str = ""
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


@dataclass(frozen=True)
class TunnelResult:
    """The outcome of ``CONNECT target`` through the proxy."""

    target: str
    ok: bool
    cause: Cause
    detail: str = ""
    reply: HttpReply | None = None
    timings: Timings = field(default_factory=Timings)
    credentials_sent: bool = False

    @property
    def status(self) -> int | None:
        return self.reply.status if self.reply else None


@dataclass(frozen=True)
class TlsResult:
    """A TLS handshake with a target through the proxy (unverified, chain kept)."""

    target: str
    ok: bool
    cause: Cause
    detail: str = ""
    chain: tuple[bytes, ...] = ()      # DER, leaf first, as presented
    version: str | None = None
    cipher: str | None = None
    timings: Timings = field(default_factory=Timings)
    tunnel: TunnelResult | None = None


@dataclass(frozen=True)
class HttpResult:
    """A whole HTTP exchange, through the proxy or direct."""

    url: str
    method: str
    ok: bool
    cause: Cause
    detail: str = ""
    reply: HttpReply | None = None
    timings: Timings = field(default_factory=Timings)
    via_proxy: bool = True
    tunnel: TunnelResult | None = None
    bytes_sent: int = 0

    @property
    def status(self) -> int | None:
        return self.reply.status if self.reply else None


class ProbeError(Exception):
    """Internal: a probe phase failed with a classified cause."""

    def __init__(self, cause: Cause, detail: str) -> None:
        super().__init__(detail)
        self.cause = cause
        self.detail = detail


class _Deadline:
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


def parse_head(head: bytes) -> HttpReply:
    """Parse an HTTP response head; raise ProbeError(GARBAGE) when it is not one."""
    text = head.decode("iso-8859-1")
    lines = text.split("\r\n")
    first = lines[0]
    parts = first.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit() or len(parts[1]) != 3:
        raise ProbeError(Cause.GARBAGE, f"not an HTTP status line: {first[:80]!r}")
    headers = []
    for line in lines[1:]:
        if not line:
            continue
        k, sep, v = line.partition(":")
        if not sep:
            continue
        headers.append((k.strip(), v.strip()))
    return HttpReply(status=int(parts[1]), reason=parts[2] if len(parts) > 2 else "", version=parts[0],
                     headers=tuple(headers))


def _describe_non_http(data: bytes) -> tuple[Cause, str]:
    if data[:1] == b"\x16" and data[1:2] == b"\x03":
        return Cause.TLS_SPOKEN, "the proxy answered with a TLS handshake: it expects https:// (TLS) " \
                                 "as the proxy scheme, not http://"
    if data[:1] == b"\x15" and data[1:2] == b"\x03":
        return Cause.TLS_SPOKEN, "the proxy answered with a TLS alert: it speaks TLS, use an https:// proxy URL"
    if data.startswith(b"SSH-"):
        return Cause.GARBAGE, f"an SSH server answered ({data[:40]!r}), not an HTTP proxy"
    if data[:4] in (b"220 ", b"220-"):
        return Cause.GARBAGE, f"a mail (SMTP/FTP) server answered ({data[:40]!r}), not an HTTP proxy"
    if data[:1] in (b"\x05", b"\x04", b"\x00"):
        return Cause.GARBAGE, "a binary (SOCKS?) protocol answered, not an HTTP proxy"
    preview = data[:60]
    return Cause.GARBAGE, f"the reply is not HTTP (first bytes {preview!r}); HTTP/0.9 or another protocol"


def read_head(sock: socket.socket, deadline: _Deadline, what: str) -> tuple[HttpReply, bytes]:
    """Read a response head within *deadline*; return it and the bytes after it."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        if len(buf) > MAX_HEAD:
            raise ProbeError(Cause.HEADER_TOO_LARGE,
                             f"{what}: reply head exceeds {MAX_HEAD // 1024} KiB without ending")
        if len(buf) >= 5 and not buf.startswith(b"HTTP/"):
            cause, detail = _describe_non_http(buf)
            raise ProbeError(cause, f"{what}: {detail}")
        remaining = deadline.remaining()
        if remaining <= 0:
            if buf:
                raise ProbeError(Cause.NO_ANSWER, f"{what}: reply head incomplete after "
                                                   f"{deadline.seconds:g}s ({len(buf)} bytes, sent slowly)")
            raise ProbeError(Cause.NO_ANSWER, f"{what}: no reply within {deadline.seconds:g}s")
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(65536)
        except (socket.timeout, TimeoutError):
            continue
        except ssl.SSLError as exc:
            raise ProbeError(Cause.TLS_ERROR, f"{what}: {exc.reason or exc}")
        except OSError as exc:
            raise classify_oserror(exc, what)
        if not chunk:
            if not buf:
                raise ProbeError(Cause.CLOSED, f"{what}: the connection was closed without a reply")
            if not buf.startswith(b"HTTP/"):
                cause, detail = _describe_non_http(buf)
                raise ProbeError(cause, f"{what}: {detail}")
            raise ProbeError(Cause.CLOSED, f"{what}: closed in the middle of the reply head")
        buf += chunk
        if len(buf) >= 5 and not buf.startswith(b"HTTP/"):
            cause, detail = _describe_non_http(buf)
            raise ProbeError(cause, f"{what}: {detail}")
    head, _, rest = buf.partition(b"\r\n\r\n")
    return parse_head(head), rest


def read_body(sock: socket.socket, reply: HttpReply, rest: bytes, deadline: _Deadline,
              limit: int = MAX_BODY, head_request: bool = False) -> tuple[bytes, bool]:
    """Read a bounded body (Content-Length, chunked, or to close)."""
    if head_request or reply.status in (204, 304) or 100 <= reply.status < 200:
        return b"", False
    length = reply.header("Content-Length")
    chunked = "chunked" in (reply.header("Transfer-Encoding") or "").lower()
    want = None
    if length is not None and length.isdigit():
        want = int(length)
    buf = rest
    done = (want is not None and len(buf) >= want)
    while not done and len(buf) < limit:
        remaining = deadline.remaining()
        if remaining <= 0:
            break
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(65536)
        except (socket.timeout, TimeoutError):
            break
        except OSError:
            break
        if not chunk:
            break
        buf += chunk
        if want is not None and len(buf) >= want:
            done = True
        if chunked and buf.endswith(b"0\r\n\r\n"):
            done = True
    if chunked:
        buf = _dechunk(buf)
    truncated = len(buf) > limit or (want is not None and len(buf) < want)
    return buf[:limit], truncated


def _dechunk(data: bytes) -> bytes:
    out = b""
    while data:
        line, sep, data = data.partition(b"\r\n")
        if not sep:
            break
        try:
            size = int(line.split(b";")[0].strip() or b"0", 16)
        except ValueError:
            break
        if size == 0:
            break
        out += data[:size]
        data = data[size + 2:]
    return out


def basic_auth_header(username: str, password: str | None) -> str:
    token = base64.b64encode(f"{username}:{password or ''}".encode("utf-8")).decode("ascii")
    return "Basic " + token


class Probes:
    """Session-scoped, cached network probes for one resolved configuration.

    Use through the ``proxydiag_probes`` fixture::

        def test_gateway_reachable(proxydiag_probes):
            assert proxydiag_probes.tcp_connect("gateway.corp", 4000).ok
    """

    def __init__(self, settings: Settings, redact: Callable[[str], str] = lambda s: s) -> None:
        self.settings = settings
        self.timeout = float(settings.timeout)
        self.redact = redact
        self._cache: dict[Any, Any] = {}
        self._lock = threading.RLock()
        self._key_locks: dict[Any, threading.Lock] = {}
        #: Every probe result, in order, for reports (e.g. rate-limit headers seen in any probe).
        self.log: list[dict[str, Any]] = []
        self.requests_sent = 0

    # -- caching ---------------------------------------------------------
    def _early_reply(self, sock: socket.socket, what: str) -> tuple[HttpReply, bytes] | None:
        try:
            return read_head(sock, _Deadline(min(1.0, self.timeout)), what)
        except (ProbeError, OSError):
            return None

    def peek(self, key: Any, default: Any = None) -> Any:
        """The cached value for *key*, or *default*; never computes."""
        with self._lock:
            return self._cache.get(key, default)

    def record(self, kind: str, **data: Any) -> None:
        """Add an entry to :attr:`log` (for probes made outside this class, e.g. a stream check)."""
        self._record(kind, **data)

    def cached(self, key: Any, compute: Callable[[], Any]) -> Any:
        """Return the cached value for *key*, computing it once per session."""
        with self._lock:
            if key in self._cache:
                return self._cache[key]
            lock = self._key_locks.setdefault(key, threading.Lock())
        with lock:
            with self._lock:
                if key in self._cache:
                    return self._cache[key]
            value = compute()
            with self._lock:
                self._cache[key] = value
            return value

    def _record(self, kind: str, **data: Any) -> None:
        with self._lock:
            self.log.append({"kind": kind, "time": time.time(), **data})

    # -- the proxy -------------------------------------------------------
    @property
    def proxy(self) -> ProxyURL | None:
        return self.settings.proxy.url

    def proxy_unusable(self) -> TcpResult | None:
        """None when the proxy can be talked to; else the result that says why not."""
        p = self.settings.proxy
        if not p.configured:
            return TcpResult("", 0, False, Cause.NO_PROXY, "no proxy is configured")
        if p.url is None:
            return TcpResult("", 0, False, Cause.INVALID_PROXY, p.error or "invalid proxy URL")
        r = self.proxy_tcp()
        return None if r.ok else r

    def proxy_tcp(self) -> TcpResult:
        """TCP connect to the configured proxy (cached)."""
        p = self.proxy
        if p is None:
            p_set = self.settings.proxy
            cause = Cause.NO_PROXY if not p_set.configured else Cause.INVALID_PROXY
            return TcpResult("", 0, False, cause, p_set.error or "no proxy is configured")
        return self.tcp_connect(p.host, p.port)

    # -- resolution and TCP ----------------------------------------------
    def resolve(self, host: str, port: int) -> tuple[tuple[str, ...], float, ProbeError | None]:
        """Addresses for host:port: pinned ones first, else the resolver, bounded by the timeout."""
        def compute():
            start = time.monotonic()
            pinned = self.settings.resolve.get((host.lower(), port))
            if pinned:
                return (pinned,), 0.0, None
            try:
                socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
                return (host,), 0.0, None
            except OSError:
                pass
            pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
            future = pool.submit(socket.getaddrinfo, host, port, 0, socket.SOCK_STREAM)
            try:
                infos = future.result(timeout=self.timeout)
            except concurrent.futures.TimeoutError:
                return (), time.monotonic() - start, ProbeError(
                    Cause.UNRESOLVABLE, f"resolving {host} took longer than {self.timeout:g}s")
            except OSError as exc:
                return (), time.monotonic() - start, classify_oserror(exc, f"resolving {host}")
            finally:
                pool.shutdown(wait=False)
            addrs = tuple(dict.fromkeys(info[4][0] for info in infos))
            return addrs, time.monotonic() - start, None
        return self.cached(("resolve", host.lower(), port), compute)

    def _connect(self, host: str, port: int, deadline: _Deadline) -> tuple[socket.socket, str, float, float]:
        addrs, resolve_elapsed, err = self.resolve(host, port)
        if err is not None:
            raise err
        last: ProbeError | None = None
        start = time.monotonic()
        for addr in addrs:
            family = socket.AF_INET6 if ":" in addr else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                sock.settimeout(min(self.timeout, max(deadline.remaining(), 0.001)))
                sock.connect((addr, port))
                return sock, addr, resolve_elapsed, time.monotonic() - start
            except OSError as exc:
                sock.close()
                last = classify_oserror(exc, f"connecting to {host}:{port} ({addr})")
                if last.cause == Cause.TIMEOUT:
                    last = ProbeError(Cause.TIMEOUT, f"connecting to {host}:{port} ({addr}): no answer "
                                                     f"within {self.timeout:g}s")
                    break
        raise last or ProbeError(Cause.UNRESOLVABLE, f"{host} has no address")

    def tcp_connect(self, host: str, port: int) -> TcpResult:
        """Open and close a TCP connection to host:port (cached)."""
        def compute() -> TcpResult:
            deadline = _Deadline(self.timeout)
            try:
                sock, addr, r_el, c_el = self._connect(host, port, deadline)
            except ProbeError as exc:
                addrs = self.resolve(host, port)[0]
                res = TcpResult(host, port, False, exc.cause, exc.detail, address=addrs[0] if addrs else None,
                                addresses=addrs)
            else:
                sock.close()
                res = TcpResult(host, port, True, Cause.OK, "", address=addr, elapsed=c_el,
                                resolve_elapsed=r_el, addresses=self.resolve(host, port)[0])
            self._record("tcp", host=host, port=port, ok=res.ok, cause=res.cause.value, detail=res.detail)
            return res
        return self.cached(("tcp", host.lower(), port), compute)

    # -- talking to the proxy -------------------------------------------
    def _proxy_auth(self, credentials: Any) -> str | None:
        if credentials == "configured":
            p = self.proxy
            if p is not None and p.username is not None:
                return basic_auth_header(p.username, p.password)
            return None
        if credentials is None:
            return None
        user, password = credentials
        return basic_auth_header(user, password)

    def _blocked_result(self) -> ProbeError | None:
        """A failure every proxy probe can return at once, without a new timeout."""
        bad = self.proxy_unusable()
        if bad is not None:
            return ProbeError(Cause.BLOCKED if bad.cause not in (Cause.NO_PROXY, Cause.INVALID_PROXY)
                              else bad.cause, f"the proxy cannot be used: {bad.detail}")
        silent = self._cache.get(("proxy-silent",))
        if silent:
            # Not BLOCKED: the proxy is reachable, it just does not answer (a proxy_works finding).
            return ProbeError(Cause.NO_ANSWER, f"the proxy did not answer an earlier request ({silent})")
        p = self.proxy
        if p is not None and p.is_socks:
            return ProbeError(Cause.UNSUPPORTED, f"the proxy is {p.scheme}://; this probe speaks HTTP CONNECT")
        return None

    def _proxy_tls_context(self) -> ssl.SSLContext:
        """How clients verify an https:// proxy: the system store plus the CA files they are pointed at."""
        def compute() -> ssl.SSLContext:
            ctx = ssl.create_default_context()
            env = self.settings.env
            for name in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS"):
                path = env.get(name)
                if path:
                    try:
                        ctx.load_verify_locations(cafile=path)
                    except (OSError, ssl.SSLError, ValueError):
                        pass  # a bad CA file is the certificate branch's finding, not a reason to crash here
            return ctx
        return self.cached(("proxy-tls-context",), compute)

    def _open_to_proxy(self, deadline: _Deadline, proxy: ProxyURL | None = None) -> tuple[socket.socket, float, float]:
        p = proxy or self.proxy
        assert p is not None
        sock, addr, r_el, c_el = self._connect(p.host, p.port, deadline)
        if p.scheme == "https":
            ctx = self._proxy_tls_context()
            try:
                sock.settimeout(max(deadline.remaining(), 0.001))
                sock = ctx.wrap_socket(sock, server_hostname=p.host)
            except ssl.SSLCertVerificationError as exc:
                sock.close()
                raise ProbeError(Cause.PROXY_TLS_UNTRUSTED, f"TLS to the proxy {p.hostport} (https:// proxy URL): "
                                                            f"certificate verify failed: "
                                                            f"{exc.verify_message or exc.reason}")
            except ssl.SSLError as exc:
                sock.close()
                hint = " (the proxy port speaks plain HTTP: use http:// in the proxy URL)" \
                    if "WRONG_VERSION_NUMBER" in str(exc) or "wrong version" in str(exc).lower() else ""
                raise ProbeError(Cause.TLS_ERROR, f"TLS to the proxy {p.hostport}: {exc.reason or exc}{hint}")
            except OSError as exc:
                sock.close()
                raise classify_oserror(exc, f"TLS to the proxy {p.hostport}")
        return sock, r_el, c_el

    def _mark_silent(self, err: ProbeError) -> None:
        if err.cause == Cause.NO_ANSWER:
            with self._lock:
                self._cache[("proxy-silent",)] = err.detail

    def open_tunnel(self, host: str, port: int, *, credentials: Any = "configured",
                    deadline: _Deadline | None = None,
                    via: ProxyURL | None = None) -> tuple[socket.socket | None, TunnelResult]:
        """CONNECT host:port through the proxy (or *via* another one); return the open socket on success.

        Not cached: callers that only need the verdict use :meth:`connect_tunnel`.
        """
        target = f"{host}:{port}"
        deadline = deadline or _Deadline(self.timeout * 2)
        if via is None:
            blocked = self._blocked_result()
            if blocked is not None:
                return None, TunnelResult(target, False, blocked.cause, blocked.detail)
        auth = self._proxy_auth(credentials)
        t0 = time.monotonic()
        sock = None
        try:
            sock, r_el, c_el = self._open_to_proxy(deadline, via)
            t_conn = time.monotonic() - t0
            req = f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\nUser-Agent: {USER_AGENT}\r\n"
            if auth:
                req += f"Proxy-Authorization: {auth}\r\n"
            req += "\r\n"
            sock.settimeout(max(deadline.remaining(), 0.001))
            sock.sendall(req.encode("ascii"))
            self.requests_sent += 1
            head_deadline = _Deadline(min(self.timeout, max(deadline.remaining(), 0.001)))
            reply, rest = read_head(sock, head_deadline, f"CONNECT {target}")
            t_reply = time.monotonic() - t0
            if 200 <= reply.status < 300:
                timings = Timings(resolve=r_el, connect=t_conn, proxy_reply=t_reply)
                res = TunnelResult(target, True, Cause.OK, reply.status_line, reply, timings, bool(auth))
                self._record("connect", target=target, status=reply.status, headers=list(reply.headers))
                return sock, res
            body, trunc = read_body(sock, reply, rest, _Deadline(min(1.0, self.timeout)), limit=64 * 1024)
            reply = HttpReply(reply.status, reply.reason, reply.version, reply.headers, body, trunc)
            sock.close()
            timings = Timings(resolve=r_el, connect=t_conn, proxy_reply=t_reply)
            detail = f"{reply.status_line}" + (f" (X-Squid-Error: {reply.squid_error})" if reply.squid_error else "")
            res = TunnelResult(target, False, Cause.PROXY_STATUS, detail, reply, timings, bool(auth))
            self._record("connect", target=target, status=reply.status, headers=list(reply.headers))
            return None, res
        except ProbeError as exc:
            if sock is not None:
                sock.close()
            if via is None:
                self._mark_silent(exc)
            self._record("connect", target=target, cause=exc.cause.value, detail=exc.detail)
            return None, TunnelResult(target, False, exc.cause, exc.detail, None,
                                      Timings(total=time.monotonic() - t0), bool(auth))
        except OSError as exc:
            if sock is not None:
                sock.close()
            err = classify_oserror(exc, f"CONNECT {target}")
            self._record("connect", target=target, cause=err.cause.value, detail=err.detail)
            return None, TunnelResult(target, False, err.cause, err.detail, None,
                                      Timings(total=time.monotonic() - t0), bool(auth))

    def connect_tunnel(self, host: str, port: int, *, credentials: Any = "configured") -> TunnelResult:
        """CONNECT host:port through the proxy and close (cached per credentials)."""
        if credentials == "configured" and (self.proxy is None or self.proxy.username is None):
            credentials = None  # the same request as an unauthenticated one: share its cache entry
        cred_key = credentials if credentials in ("configured", None) else ("explicit", credentials[0],
                                                                              hash(credentials[1]))

        def compute() -> TunnelResult:
            sock, res = self.open_tunnel(host, port, credentials=credentials)
            if sock is not None:
                sock.close()
            return res
        return self.cached(("tunnel", host.lower(), port, cred_key), compute)

    def tunnel_to(self, target: Target) -> TunnelResult:
        return self.connect_tunnel(target.host, target.port)

    def proxy_speaks_tls(self) -> bool:
        """True when the proxy port completes a TLS handshake (cached).

        Asked only after a plain-HTTP exchange was reset or closed: a TLS
        proxy behind an ``http://`` URL often just drops the plaintext.
        """
        def compute() -> bool:
            p = self.proxy
            if p is None:
                return False
            deadline = _Deadline(self.timeout)
            try:
                sock, _addr, _r, _c = self._connect(p.host, p.port, deadline)
            except ProbeError:
                return False
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            try:
                sock.settimeout(max(deadline.remaining(), 0.001))
                ctx.wrap_socket(sock, server_hostname=p.host).close()
                return True
            except (OSError, ssl.SSLError):
                return False
            finally:
                sock.close()
        return self.cached(("proxy-speaks-tls",), compute)

    def connect_via(self, proxy: ProxyURL, host: str, port: int) -> TunnelResult:
        """CONNECT host:port through another proxy address (e.g. a candidate port); cached."""
        def compute() -> TunnelResult:
            sock, res = self.open_tunnel(host, port, credentials=None, via=proxy,
                                         deadline=_Deadline(self.timeout))
            if sock is not None:
                sock.close()
            return res
        return self.cached(("tunnel-via", proxy.hostport, proxy.scheme, host.lower(), port), compute)

    # -- TLS --------------------------------------------------------------
    def tls_via_proxy(self, target: Target) -> TlsResult:
        """Handshake with *target* through a tunnel without verifying; keep the presented chain (cached)."""
        def compute() -> TlsResult:
            deadline = _Deadline(self.timeout * 2)
            t0 = time.monotonic()
            sock, tunnel = self.open_tunnel(target.host, target.port, deadline=deadline)
            if sock is None:
                return TlsResult(target.hostport, False, Cause.BLOCKED if tunnel.cause != Cause.OK else tunnel.cause,
                                 f"no tunnel: {tunnel.detail}", tunnel=tunnel)
            try:
                t_tls0 = time.monotonic()
                chain, version, cipher = fetch_chain(sock, target.host, deadline)
                t_tls = time.monotonic() - t_tls0
                tm = tunnel.timings
                timings = Timings(resolve=tm.resolve, connect=tm.connect, proxy_reply=tm.proxy_reply, tls=t_tls,
                                  total=time.monotonic() - t0)
                self._record("tls", target=target.hostport, ok=True)
                return TlsResult(target.hostport, True, Cause.OK, "", tuple(chain), version, cipher, timings, tunnel)
            except ProbeError as exc:
                self._record("tls", target=target.hostport, ok=False, detail=exc.detail)
                return TlsResult(target.hostport, False, exc.cause, exc.detail, tunnel=tunnel)
            finally:
                sock.close()
        return self.cached(("tls", target.host, target.port), compute)

    def tls_to_proxy(self) -> TlsResult:
        """An https:// proxy: handshake with the proxy itself without verifying; keep its chain (cached).

        The certificate branch judges it (it must be valid for the proxy's
        host name, not the target's); the other probes verify it as clients do.
        """
        def compute() -> TlsResult:
            p = self.proxy
            if p is None or p.scheme != "https":
                return TlsResult("", False, Cause.UNSUPPORTED, "the proxy URL is not https://")
            deadline = _Deadline(self.timeout * 2)
            t0 = time.monotonic()
            try:
                sock, _addr, r_el, c_el = self._connect(p.host, p.port, deadline)
            except ProbeError as exc:
                return TlsResult(p.hostport, False, exc.cause, exc.detail)
            try:
                t1 = time.monotonic()
                chain, version, cipher = fetch_chain(sock, p.host, deadline)
                self._record("tls-proxy", target=p.hostport, ok=True)
                return TlsResult(p.hostport, True, Cause.OK, "", tuple(chain), version, cipher,
                                 Timings(resolve=r_el, connect=c_el, tls=time.monotonic() - t1,
                                         total=time.monotonic() - t0))
            except ProbeError as exc:
                self._record("tls-proxy", target=p.hostport, ok=False, detail=exc.detail)
                return TlsResult(p.hostport, False, exc.cause, exc.detail)
            finally:
                sock.close()
        return self.cached(("tls-proxy",), compute)

    # -- HTTP ---------------------------------------------------------------
    def request(self, target: Target, method: str = "GET", path: str = "/", *, body: bytes | None = None,
                headers: Mapping[str, str] | None = None, via_proxy: bool = True,
                ssl_context: ssl.SSLContext | None = None, cache: bool = True,
                read_limit: int = MAX_BODY, timeout: float | None = None) -> HttpResult:
        """One HTTP request to *target* (through the proxy by default), with phase timings.

        For https targets the TLS handshake is *not* verified unless an
        *ssl_context* is given: the probes measure the path, the certificate
        branch judges the chain.  Cached by (target, method, path, body size)
        unless *cache* is false.
        """
        key = ("http", target.url, method, path, len(body or b""), via_proxy,
               id(ssl_context) if ssl_context else None, tuple(sorted((headers or {}).items())))
        compute = lambda: self._request(target, method, path, body, headers, via_proxy, ssl_context,
                                        read_limit, timeout)
        return self.cached(key, compute) if cache else compute()

    def _request(self, target: Target, method: str, path: str, body: bytes | None,
                 headers: Mapping[str, str] | None, via_proxy: bool, ssl_context: ssl.SSLContext | None,
                 read_limit: int, timeout: float | None) -> HttpResult:
        url = target.origin + path
        per_op = timeout or self.timeout
        deadline = _Deadline(per_op * 3)
        t0 = time.monotonic()
        tunnel = None
        sock = None
        r_el = c_el = reply_el = None
        plain_via_proxy = via_proxy and target.scheme == "http"
        try:
            if via_proxy:
                if target.scheme == "https":
                    sock, tunnel = self.open_tunnel(target.host, target.port, deadline=deadline)
                    if sock is None:
                        return HttpResult(url, method, False, tunnel.cause if tunnel.cause != Cause.PROXY_STATUS
                                          else Cause.PROXY_STATUS, tunnel.detail, tunnel.reply,
                                          tunnel.timings, True, tunnel)
                    r_el, c_el, reply_el = tunnel.timings.resolve, tunnel.timings.connect, tunnel.timings.proxy_reply
                else:
                    blocked = self._blocked_result()
                    if blocked is not None:
                        return HttpResult(url, method, False, blocked.cause, blocked.detail)
                    sock, r_el, c_el = self._open_to_proxy(deadline)
                    c_el = time.monotonic() - t0
            else:
                sock, _addr, r_el, c_el = self._connect(target.host, target.port, deadline)
            tls_el = None
            if target.scheme == "https":
                t1 = time.monotonic()
                ctx = ssl_context
                if ctx is None:
                    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                    ctx.check_hostname = False
                    ctx.verify_mode = ssl.CERT_NONE
                sock.settimeout(max(min(per_op, deadline.remaining()), 0.001))
                try:
                    sock = wrap_tls(sock, ctx, target.host)
                except ssl.SSLCertVerificationError as exc:
                    raise ProbeError(Cause.TLS_ERROR, f"TLS with {target.hostport}: certificate verify failed: "
                                                      f"{exc.verify_message}")
                except ssl.SSLError as exc:
                    raise _tls_error(exc, target.hostport)
                tls_el = time.monotonic() - t1
            request_target = url if plain_via_proxy else path
            lines = [f"{method} {request_target} HTTP/1.1", f"Host: {target.host}" +
                     (f":{target.port}" if target.port not in (80, 443) else ""),
                     f"User-Agent: {USER_AGENT}", "Accept: */*", "Connection: close"]
            if plain_via_proxy:
                auth = self._proxy_auth("configured")
                if auth:
                    lines.append(f"Proxy-Authorization: {auth}")
            for k, v in (headers or {}).items():
                lines.append(f"{k}: {v}")
            if body is not None:
                lines.append(f"Content-Length: {len(body)}")
            data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
            t_send = time.monotonic()
            sock.settimeout(max(min(per_op, deadline.remaining()), 0.001))
            sock.sendall(data)
            sent = len(data)
            if body:
                view = memoryview(body)
                while sent - len(data) < len(body):
                    if deadline.remaining() <= 0:
                        raise ProbeError(Cause.NO_ANSWER, f"sending {len(body)} bytes did not finish in time")
                    sock.settimeout(max(min(per_op, deadline.remaining()), 0.001))
                    try:
                        n = sock.send(view[sent - len(data):sent - len(data) + 65536])
                    except OSError:
                        # A proxy that refuses a body (413) answers and closes while it is still
                        # being sent: its reply may be waiting in the buffer, read it before giving up.
                        early = self._early_reply(sock, f"{method} {url}")
                        if early is None:
                            raise
                        reply, rest = early
                        break
                    sent += n
                else:
                    reply = None
            else:
                reply = None
            self.requests_sent += 1
            head_deadline = _Deadline(max(min(per_op, deadline.remaining()), 0.001))
            if reply is None:
                reply, rest = read_head(sock, head_deadline, f"{method} {url}")
            first_byte = time.monotonic() - t0
            ttfb_from_send = time.monotonic() - t_send
            rbody, trunc = read_body(sock, reply, rest, _Deadline(max(min(per_op, deadline.remaining()), 0.001)),
                                     limit=read_limit, head_request=(method == "HEAD"))
            reply = HttpReply(reply.status, reply.reason, reply.version, reply.headers, rbody, trunc)
            timings = Timings(resolve=r_el, connect=c_el, proxy_reply=reply_el, tls=tls_el,
                              first_byte=first_byte, total=time.monotonic() - t0)
            self._record("http", url=url, method=method, status=reply.status, headers=list(reply.headers),
                         via_proxy=via_proxy, ttfb=ttfb_from_send)
            return HttpResult(url, method, True, Cause.OK, reply.status_line, reply, timings, via_proxy, tunnel,
                              bytes_sent=len(body or b""))
        except ProbeError as exc:
            if via_proxy and tunnel is None:
                self._mark_silent(exc)
            self._record("http", url=url, method=method, cause=exc.cause.value, detail=exc.detail,
                         via_proxy=via_proxy)
            return HttpResult(url, method, False, exc.cause, exc.detail, None,
                              Timings(total=time.monotonic() - t0), via_proxy, tunnel)
        except OSError as exc:
            err = classify_oserror(exc, f"{method} {url}")
            self._record("http", url=url, method=method, cause=err.cause.value, detail=err.detail,
                         via_proxy=via_proxy)
            return HttpResult(url, method, False, err.cause, err.detail, None,
                              Timings(total=time.monotonic() - t0), via_proxy, tunnel)
        finally:
            if sock is not None:
                try:
                    sock.close()
                except OSError:
                    pass

    def iter_log(self, kind: str | None = None) -> Iterator[dict[str, Any]]:
        with self._lock:
            items = list(self.log)
        return (e for e in items if kind is None or e["kind"] == kind)


def _tls_error(exc: ssl.SSLError, where: str) -> ProbeError:
    text = str(exc)
    if "WRONG_VERSION_NUMBER" in text or "wrong version number" in text or "record layer failure" in text:
        return ProbeError(Cause.TLS_PLAINTEXT, f"TLS with {where}: the other side answered in plaintext, not "
                                               f"TLS ({exc.reason or text})")
    if isinstance(exc, (ssl.SSLEOFError, ssl.SSLZeroReturnError)) or "EOF" in text:
        return ProbeError(Cause.RESET, f"TLS with {where}: the connection was closed during the handshake")
    return ProbeError(Cause.TLS_ERROR, f"TLS with {where}: {exc.reason or text}")


def wrap_tls(sock, ctx: ssl.SSLContext, server_name: str):
    """TLS with the target over *sock*; over an https:// proxy that is TLS inside TLS.

    ``SSLContext.wrap_socket`` cannot nest: inside the proxy's TLS the inner
    handshake must run over memory buffers (urllib3's ``SSLTransport``).
    """
    if isinstance(sock, ssl.SSLSocket):
        from urllib3.util.ssltransport import SSLTransport

        return SSLTransport(sock, ctx, server_hostname=server_name)
    return ctx.wrap_socket(sock, server_hostname=server_name)


def fetch_chain(sock: socket.socket, server_name: str, deadline: _Deadline) -> tuple[list[bytes], str | None, str | None]:
    """TLS handshake over *sock* without verification; return the presented chain (DER, leaf first).

    *sock* is a tunnel through the proxy; through an https:// proxy it is
    itself a TLS socket, so the handshake runs over memory buffers pumped
    through it.  Python 3.13+ exposes the presented chain in :mod:`ssl`;
    older versions use pyOpenSSL's ``get_peer_cert_chain()``.
    """
    if sys.version_info >= (3, 13):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        sock.settimeout(max(deadline.remaining(), 0.001))
        try:
            tls = wrap_tls(sock, ctx, server_name)
        except ssl.SSLError as exc:
            raise _tls_error(exc, server_name)
        except OSError as exc:
            raise classify_oserror(exc, f"TLS with {server_name}")
        sslobj = tls.sslobj if hasattr(tls, "sslobj") else tls
        chain = [c.public_bytes(ssl._ssl.ENCODING_DER) for c in sslobj.get_unverified_chain()]
        return chain, tls.version(), (tls.cipher() or (None,))[0]
    return _fetch_chain_pyopenssl(sock, server_name, deadline)


_PLAINTEXT_MARKS = ("wrong version number", "WRONG_VERSION_NUMBER", "packet length too long", "record layer failure")


def _fetch_chain_pyopenssl(sock: socket.socket, server_name: str, deadline: _Deadline):
    from OpenSSL import SSL, crypto  # lazy: only the certificate probes need it

    ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
    ctx.set_verify(SSL.VERIFY_NONE, lambda *a: True)
    conn = SSL.Connection(ctx, None)  # memory BIOs: works over a plain tunnel and inside an https:// proxy
    try:
        conn.set_tlsext_host_name(server_name.encode("idna"))
    except Exception:
        pass
    conn.set_connect_state()

    def flush() -> None:
        while True:
            try:
                data = conn.bio_read(65536)
            except SSL.WantReadError:
                return
            sock.settimeout(max(deadline.remaining(), 0.001))
            sock.sendall(data)

    try:
        while True:
            try:
                conn.do_handshake()
                flush()
                break
            except SSL.WantReadError:
                flush()
                if deadline.remaining() <= 0:
                    raise ProbeError(Cause.NO_ANSWER, f"TLS with {server_name}: handshake did not finish "
                                                      f"within {deadline.seconds:g}s")
                sock.settimeout(max(deadline.remaining(), 0.001))
                data = sock.recv(65536)
                if not data:
                    raise ProbeError(Cause.RESET, f"TLS with {server_name}: the connection was closed during "
                                                  "the handshake")
                conn.bio_write(data)
    except (socket.timeout, TimeoutError):
        raise ProbeError(Cause.NO_ANSWER, f"TLS with {server_name}: handshake did not finish "
                                          f"within {deadline.seconds:g}s")
    except SSL.Error as exc:
        text = str(exc)
        if any(mark in text for mark in _PLAINTEXT_MARKS):
            raise ProbeError(Cause.TLS_PLAINTEXT, f"TLS with {server_name}: the other side answered in "
                                                  "plaintext, not TLS")
        raise ProbeError(Cause.TLS_ERROR, f"TLS with {server_name}: {text}")
    except OSError as exc:
        raise classify_oserror(exc, f"TLS with {server_name}")
    certs = conn.get_peer_cert_chain() or []
    chain = [crypto.dump_certificate(crypto.FILETYPE_ASN1, c) for c in certs]
    return chain, conn.get_protocol_version_name(), conn.get_cipher_name()
