"""The one HTTP/1.1 response reader: bytes in, a typed :class:`HttpReply` out, built on h11.

h11 does the parsing (status line, headers, Content-Length, chunked, to-close
bodies, the switch after a ``CONNECT`` 200); this module adds what a
diagnosis needs on top of it:

* **bounds** — a head larger than :data:`MAX_HEAD` or a body larger than the
  caller's limit stops the read, and every read is limited by a deadline;
* **precise causes** — a reply that is not HTTP at all is named (a TLS
  handshake, an SSH or SMTP banner, SOCKS, HTTP/0.9) from its first bytes,
  before h11 sees it; malformed HTTP is h11's ``RemoteProtocolError``,
  turned into :class:`~pytest_proxydiag.net.results.ProbeError`.

:class:`ResponseReader` is sans-I/O (``feed`` bytes, take events);
:func:`read_head`, :func:`read_body` and :func:`iter_body` pump it from a socket.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Iterator

import h11

from pytest_proxydiag.net.results import Cause, Deadline, HttpReply, ProbeError, classify_oserror

__all__ = ["MAX_HEAD", "MAX_BODY", "ResponseReader", "RequestHead", "parse_head", "parse_request_head",
           "describe_non_http", "read_head", "read_body", "iter_body"]

MAX_HEAD = 64 * 1024
MAX_BODY = 256 * 1024
_RECV = 65536


def describe_non_http(data: bytes) -> tuple[Cause, str]:
    """What answered, when the first bytes are not ``HTTP/``."""
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


class ResponseReader:
    """One HTTP/1.1 response to a request made with *method*, parsed by h11 from the bytes fed to it.

    ``feed(data)`` then ``head()`` until it returns the reply, then ``body_piece()``
    until it returns None (the end).  ``feed(b"")`` says the peer closed.
    """

    def __init__(self, method: str, what: str, *, max_head: int = MAX_HEAD) -> None:
        self.what = what
        self.max_head = max_head
        self._h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=max_head)
        # h11 frames the response by the request's method (HEAD, CONNECT): tell it which one was sent.
        self._h11.send(h11.Request(method=method, target="/" if method != "CONNECT" else "proxydiag:443",
                                   headers=[("Host", "proxydiag")]))
        self._h11.send(h11.EndOfMessage())
        self.received = b""          # the first bytes, kept to name a reply that is not HTTP
        self.closed = False
        self.reply: HttpReply | None = None
        self.ended = False

    def feed(self, data: bytes) -> None:
        if not data:
            self.closed = True
        elif len(self.received) < 64:
            self.received += data[:64]
        self._h11.receive_data(data)

    def _not_http(self) -> ProbeError | None:
        if len(self.received) >= 5 and not self.received.startswith(b"HTTP/"):
            cause, detail = describe_non_http(self.received)
            return ProbeError(cause, f"{self.what}: {detail}")
        return None

    def _next(self):
        try:
            return self._h11.next_event()
        except h11.RemoteProtocolError as exc:
            if self.closed and self.reply is None and "closed" in str(exc):
                raise ProbeError(Cause.CLOSED, f"{self.what}: closed in the middle of the reply head") from None
            if exc.error_status_hint == 431 or "too long" in str(exc):
                raise ProbeError(Cause.HEADER_TOO_LARGE, f"{self.what}: reply head exceeds "
                                                         f"{self.max_head // 1024} KiB without ending") from None
            raise ProbeError(Cause.GARBAGE, f"{self.what}: malformed HTTP reply ({exc})") from None

    def head(self) -> HttpReply | None:
        """The reply head once complete (1xx interim answers skipped), else None: feed more."""
        if self.reply is not None:
            return self.reply
        bad = self._not_http()
        if bad is not None:
            raise bad
        while True:
            if self.closed and not self.received:
                raise ProbeError(Cause.CLOSED, f"{self.what}: the connection was closed without a reply")
            if self.closed and len(self.received) < 5 and not b"HTTP/".startswith(self.received):
                cause, detail = describe_non_http(self.received)
                raise ProbeError(cause, f"{self.what}: {detail}")
            event = self._next()
            if event is h11.NEED_DATA:
                return None
            if isinstance(event, h11.InformationalResponse):
                continue
            if isinstance(event, h11.Response):
                self.reply = _reply_of(event)
                return self.reply
            if isinstance(event, h11.ConnectionClosed):
                raise ProbeError(Cause.CLOSED, f"{self.what}: closed in the middle of the reply head")
            raise ProbeError(Cause.GARBAGE, f"{self.what}: unexpected {type(event).__name__} before the reply head")

    def body_piece(self) -> bytes | None:
        """The next piece of the body (b"" when more must be fed), None at its end."""
        if self.ended:
            return None
        if self._h11.their_state is h11.SWITCHED_PROTOCOL:   # CONNECT 200: the rest is the tunnel
            self.ended = True
            return None
        event = self._next()
        if event is h11.NEED_DATA:
            return b""
        if isinstance(event, h11.Data):
            return bytes(event.data)
        if isinstance(event, (h11.EndOfMessage, h11.ConnectionClosed)) or event is h11.PAUSED:
            self.ended = True
            return None
        raise ProbeError(Cause.GARBAGE, f"{self.what}: unexpected {type(event).__name__} in the reply body")

    @property
    def leftover(self) -> bytes:
        """Bytes after a ``CONNECT`` 200 head: already the tunnel's."""
        return bytes(self._h11.trailing_data[0])


def _reply_of(event: h11.Response) -> HttpReply:
    headers = tuple((name.decode("latin-1"), value.decode("latin-1")) for name, value in event.headers.raw_items())
    return HttpReply(status=event.status_code, reason=event.reason.decode("latin-1"),
                     version="HTTP/" + event.http_version.decode("ascii"), headers=headers)


def parse_head(head: bytes) -> HttpReply:
    """Parse a complete response head; raise ProbeError(GARBAGE) when it is not one."""
    reader = ResponseReader("GET", "reply")
    reader.feed(head if head.endswith(b"\r\n\r\n") else head + b"\r\n\r\n")
    try:
        reply = reader.head()
    except ProbeError as exc:
        raise ProbeError(Cause.GARBAGE, exc.detail) from None
    if reply is None:
        raise ProbeError(Cause.GARBAGE, f"not an HTTP response head: {head[:80]!r}")
    return reply


@dataclass(frozen=True)
class RequestHead:
    """A client's request line and headers (what a client sent to its proxy)."""

    method: str
    target: str
    headers: tuple[tuple[str, str], ...]

    def has_header(self, name: str) -> bool:
        return any(k.lower() == name.lower() for k, _v in self.headers)


def parse_request_head(data: bytes, *, max_head: int = MAX_HEAD) -> RequestHead | None:
    """The request head at the start of *data*; None while incomplete; ProbeError(GARBAGE) when malformed."""
    server = h11.Connection(h11.SERVER, max_incomplete_event_size=max_head)
    server.receive_data(data)
    try:
        event = server.next_event()
    except h11.RemoteProtocolError as exc:
        raise ProbeError(Cause.GARBAGE, f"malformed HTTP request ({exc})") from None
    if not isinstance(event, h11.Request):
        return None
    return RequestHead(event.method.decode("latin-1"), event.target.decode("latin-1"),
                       tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in event.headers.raw_items()))


def _recv(sock: socket.socket, deadline: Deadline, what: str) -> bytes | None:
    """Bytes from *sock* before *deadline*; None when the time is up."""
    remaining = deadline.remaining()
    if remaining <= 0:
        return None
    sock.settimeout(remaining)
    try:
        return sock.recv(_RECV)
    except (socket.timeout, TimeoutError):
        return None
    except OSError as exc:
        raise classify_oserror(exc, what) from None


def read_head(sock: socket.socket, deadline: Deadline, what: str, method: str = "GET") -> tuple[HttpReply,
                                                                                                 ResponseReader]:
    """Read a response head within *deadline*; return it and the reader that holds the rest."""
    reader = ResponseReader(method, what)
    while True:
        reply = reader.head()
        if reply is not None:
            return reply, reader
        chunk = _recv(sock, deadline, what)
        if chunk is None:
            if reader.received:
                raise ProbeError(Cause.NO_ANSWER, f"{what}: reply head incomplete after "
                                                  f"{deadline.seconds:g}s ({len(reader.received)} bytes, sent slowly)")
            raise ProbeError(Cause.NO_ANSWER, f"{what}: no reply within {deadline.seconds:g}s")
        reader.feed(chunk)


def iter_body(sock: socket.socket, reader: ResponseReader, deadline: Deadline) -> Iterator[bytes]:
    """The body's pieces as they arrive, until its end, the deadline, a close or a malformed frame."""
    while True:
        try:
            piece = reader.body_piece()
        except ProbeError:
            return   # a broken frame ends the body: what arrived is kept, the caller sees it incomplete
        if piece is None:
            return
        if piece:
            yield piece
            continue
        if reader.closed:
            return
        try:
            chunk = _recv(sock, deadline, reader.what)
        except ProbeError:
            return
        if chunk is None:
            return
        reader.feed(chunk)


def read_body(sock: socket.socket, reader: ResponseReader, deadline: Deadline,
              limit: int = MAX_BODY) -> tuple[bytes, bool]:
    """A bounded body: (at most *limit* bytes, truncated) where truncated means more was sent or was missing."""
    parts: list[bytes] = []
    size = 0
    for piece in iter_body(sock, reader, deadline):
        parts.append(piece)
        size += len(piece)
        if size > limit:
            break
    body = b"".join(parts)
    return body[:limit], size > limit or not reader.ended
