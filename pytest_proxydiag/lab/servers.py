"""Local servers of the proxy lab: certificates, a provider look-alike, hostile proxies.

These are the building blocks :mod:`pytest_proxydiag.lab` composes into
scenarios; tests may also use them directly to build unusual setups.

* :class:`LabCA` — a throw-away certificate authority (trustme when it is
  installed, a small built-in one on top of ``cryptography`` otherwise).  The
  lab makes two: the fake *public root* that signs the provider look-alike,
  and the fake *corporate* CA a TLS-inspecting proxy re-signs with.
* :class:`HttpsOrigin` — a threaded HTTPS + plain-HTTP server on loopback that
  answers like the providers do without a key (``POST /v1/messages`` → 401
  ``authentication_error``), can be slowed down or rate limited, and records
  every request it saw (secrets masked).
* :class:`ScriptedProxy` — a "proxy" that misbehaves on purpose (silence,
  garbage, banners, slowloris, resets, loops...), one behaviour per
  instance, see :data:`HOSTILE_BEHAVIOURS`.
* :class:`Blackhole` — a port whose SYNs are dropped, without root: a
  ``listen(0)`` socket that never accepts and whose queue is already full.
* :class:`ClosedPort` — a port that is guaranteed to refuse connections for as
  long as the object lives (a bound socket that does not listen).

Every server binds loopback only, runs its threads as daemons, gives every
socket a timeout and closes everything in :meth:`stop`, which is idempotent
and returns at once.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Callable, Iterable, Mapping
from urllib.parse import parse_qs, urlsplit

from pytest_proxydiag.lab import cloud_answers, streams
from pytest_proxydiag.lab.ca import LabCA, server_context  # noqa: F401 - importable from here as before

__all__ = [
    "PROVIDER_HOSTS",
    "ORIGIN_HOSTS",
    "REFERENCE_HOST",
    "LOOPBACK_NAMES",
    "HOSTILE_BEHAVIOURS",
    "LabCA",
    "OriginRequest",
    "HttpsOrigin",
    "ScriptedProxy",
    "SlowRelay",
    "EchoProxy",
    "Blackhole",
    "ClosedPort",
    "free_port",
]

#: The provider names the lab maps to loopback (in Squid's ``hosts_file`` and
#: in the diagnosis' ``--proxydiag-resolve`` pins).  Nothing ever resolves them.
PROVIDER_HOSTS: tuple[str, ...] = (
    "api.anthropic.com",
    "bedrock-runtime.us-east-1.amazonaws.com",
    "us-central1-aiplatform.googleapis.com",
)
#: The name the diagnosis asks a proxy about when it refuses the provider (``--proxydiag-reference``): the lab
#: maps it to loopback too, where nothing listens on 443, so a proxy that lets it through answers 502/503.
REFERENCE_HOST = "google.com"
#: Every name a lab proxy resolves: to 127.0.0.1, in its own hosts file.
LOOPBACK_NAMES: tuple[str, ...] = PROVIDER_HOSTS + (REFERENCE_HOST,)
#: Names (and addresses) on the origin's certificate.
ORIGIN_HOSTS: tuple[str, ...] = PROVIDER_HOSTS + ("localhost", "127.0.0.1")

#: Largest request body the origin drains (the providers accept 32 MiB).
MAX_BODY = 32 * 1024 * 1024
#: Bytes of a request body the origin keeps to read (the stream-check model); the rest is drained.
BODY_HEAD = 64 * 1024
#: Headers whose values the origin never records.
SECRET_HEADERS = frozenset({"x-api-key", "authorization", "proxy-authorization", "cookie", "set-cookie",
                            "x-goog-api-key"})
#: Socket timeout of every accepted connection: nothing in the lab waits forever.
CONN_TIMEOUT = 30.0


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago (the kernel's choice for port 0)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


# -- a small threaded TCP server --------------------------------------------------
class _TcpServer:
    """Accept loop on loopback calling ``handler(conn)`` in a daemon thread per connection.

    Every accepted socket is tracked so :meth:`stop` can close them all: a
    handler blocked in ``recv`` returns at once with an error.
    """

    def __init__(self, handler: Callable[[socket.socket], None], host: str = "127.0.0.1", port: int = 0,
                 *, name: str = "lab-server") -> None:
        self.host = host
        self._requested_port = port
        self._handler = handler
        self._name = name
        self._stopping = threading.Event()
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    def start(self) -> "_TcpServer":
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self._requested_port))
        sock.listen(64)
        # A short accept timeout bounds how long the loop outlives stop().
        sock.settimeout(0.05)
        self._listener = sock
        self.port = int(sock.getsockname()[1])
        self._thread = threading.Thread(target=self._accept_loop, name=f"{self._name}:{self.port}", daemon=True)
        self._thread.start()
        return self

    @property
    def stopping(self) -> threading.Event:
        return self._stopping

    def _accept_loop(self) -> None:
        listener = self._listener
        assert listener is not None
        while not self._stopping.is_set():
            try:
                conn, _ = listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            conn.settimeout(CONN_TIMEOUT)
            with self._lock:
                if self._stopping.is_set():
                    conn.close()
                    return
                self._conns.add(conn)
            threading.Thread(target=self._serve, args=(conn,), name=f"{self._name}-conn", daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            self._handler(conn)
        except (OSError, ssl.SSLError, ValueError):
            pass  # a client that went away, or stop() closed the socket
        finally:
            with self._lock:
                self._conns.discard(conn)
            _close_quietly(conn)

    def track(self, sock: socket.socket) -> None:
        """Have stop() close ``sock`` too (e.g. the TLS wrapper or an upstream socket)."""
        with self._lock:
            if self._stopping.is_set():
                _close_quietly(sock)
                raise OSError("server stopping")
            self._conns.add(sock)

    def untrack(self, sock: socket.socket) -> None:
        with self._lock:
            self._conns.discard(sock)

    def stop(self) -> None:
        self._stopping.set()
        if self._listener is not None:
            try:
                # Wakes a thread blocked in accept() at once on Linux (no wait for the poll timeout).
                self._listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            _close_quietly(self._listener)
        with self._lock:
            conns, self._conns = list(self._conns), set()
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            _close_quietly(conn)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(0.5)


def _close_quietly(sock: socket.socket) -> None:
    try:
        sock.close()
    except OSError:
        pass


def _reset(sock: socket.socket) -> None:
    """Close with RST instead of FIN (SO_LINGER 0)."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    except OSError:
        pass
    _close_quietly(sock)


def _read_head(conn: socket.socket, limit: int = 65536) -> bytes:
    """Bytes up to and including the blank line ending an HTTP head ('' on EOF)."""
    data = b""
    while b"\r\n\r\n" not in data and b"\n\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            return data
        data += chunk
        if len(data) > limit:
            break
    return data


# -- the provider look-alike ---------------------------------------------------------
@dataclass(frozen=True)
class OriginRequest:
    """One request the origin saw.  Secret header values are replaced by ``<redacted>``."""

    scheme: str
    method: str
    path: str
    host: str
    headers: Mapping[str, str]
    body_size: int
    time: float


@dataclass
class _OriginOptions:
    delay: float = 0.0
    status: int | None = None
    status_headers: dict[str, str] = field(default_factory=dict)


class HttpsOrigin:
    """A local stand-in for the providers' API, over HTTPS and plain HTTP.

    ``HttpsOrigin(ca, workdir)`` issues a leaf from ``ca`` (the lab's fake
    public root) for :data:`ORIGIN_HOSTS`.  After :meth:`start`,
    :attr:`port` speaks HTTPS and :attr:`http_port` plain HTTP, both on
    127.0.0.1.  It answers like the provider does to a caller without a key:

    * ``POST /v1/messages`` → 401 ``authentication_error`` (the body, up to
      32 MiB, is drained first)
    * ``POST /model/<id>/invoke...`` and ``/converse...`` (Bedrock) → 403 with
      ``x-amzn-ErrorType`` (``UnrecognizedClientException`` to a dummy
      signature, ``MissingAuthenticationTokenException`` to none), as AWS answers
    * ``POST /v1/projects/...`` (Vertex AI) → 401 ``UNAUTHENTICATED``
    * ``GET /api/claude_code/policy_limits`` → ``{"restrictions":{}}``
    * ``GET /health`` → 200, ``GET /`` and anything else → 404 JSON
    * ``GET /v1/sse?events=N&interval=S`` → ``text/event-stream``, N events S seconds apart
    * ``POST /v1/messages`` streaming the stream-check model → spaced events (:mod:`.streams`)

    ``delay`` holds every response back; ``status`` (with ``status_headers``)
    replaces every answer but ``/health`` — e.g. 429 with ``retry-after``.
    Both can be changed while running (:meth:`configure`).
    """

    def __init__(self, ca: LabCA, workdir: Path | str, *, delay: float = 0.0, status: int | None = None,
                 status_headers: Mapping[str, str] | None = None, hosts: Iterable[str] = ORIGIN_HOSTS) -> None:
        chain, key = ca.issue(*hosts)
        self._ctx = server_context(chain, key, Path(workdir))
        self.options = _OriginOptions(delay=delay, status=status, status_headers=dict(status_headers or {}))
        self._requests: list[OriginRequest] = []
        self._lock = threading.Lock()
        self._https = _TcpServer(self._serve_tls, name="origin-https")
        self._http = _TcpServer(self._serve_plain, name="origin-http")
        self.port = 0
        self.http_port = 0

    def start(self) -> "HttpsOrigin":
        self._https.start()
        self._http.start()
        self.port, self.http_port = self._https.port, self._http.port
        return self

    def stop(self) -> None:
        self._https.stop()
        self._http.stop()

    def __enter__(self) -> "HttpsOrigin":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def configure(self, *, delay: float | None = None, status: int | None = None,
                  status_headers: Mapping[str, str] | None = None) -> None:
        if delay is not None:
            self.options.delay = delay
        if status is not None:
            self.options.status = status or None
        if status_headers is not None:
            self.options.status_headers = dict(status_headers)

    @property
    def requests(self) -> list[OriginRequest]:
        """Every request seen so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def _record(self, req: OriginRequest) -> None:
        with self._lock:
            self._requests.append(req)

    def _serve_tls(self, conn: socket.socket) -> None:
        tls = self._ctx.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
        self._https.track(tls)
        try:
            tls.do_handshake()
            self._serve_http(tls, "https")
        finally:
            self._https.untrack(tls)
            _close_quietly(tls)

    def _serve_plain(self, conn: socket.socket) -> None:
        self._serve_http(conn, "http")

    def _serve_http(self, conn: socket.socket, scheme: str) -> None:
        origin = self
        server = self._https if scheme == "https" else self._http

        class Handler(_OriginHandler):
            pass

        Handler.origin = origin
        Handler.scheme = scheme
        Handler.stopping = server.stopping
        Handler(conn, ("127.0.0.1", 0), None)


class _OriginHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "proxydiag-lab-origin"
    sys_version = ""
    origin: HttpsOrigin
    scheme: str
    stopping: threading.Event
    timeout = CONN_TIMEOUT

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass  # quiet: the lab never writes to the terminal

    def _drain_body(self) -> int:
        size = 0
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                line = self.rfile.readline(1024)
                n = int(line.split(b";")[0].strip() or b"0", 16)
                if n == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return size
                size += self._discard(n)
                self.rfile.readline(16)
                if size > MAX_BODY:
                    return size
        length = int(self.headers.get("Content-Length") or 0)
        return self._discard(min(length, MAX_BODY + 1))

    def _discard(self, n: int) -> int:
        got = 0
        while got < n:
            chunk = self.rfile.read(min(65536, n - got))
            if not chunk:
                break
            if len(getattr(self, "_body_head", b"")) < BODY_HEAD:
                self._body_head = getattr(self, "_body_head", b"") + chunk[:BODY_HEAD]
            got += len(chunk)
        return got

    def _handle(self) -> None:
        self._body_head = b""
        body_size = self._drain_body()
        headers = {k.lower(): ("<redacted>" if k.lower() in SECRET_HEADERS else v) for k, v in self.headers.items()}
        parts = urlsplit(self.path)
        self.origin._record(OriginRequest(self.scheme, self.command, self.path, self.headers.get("Host", ""),
                                          headers, body_size, time.time()))
        opts = self.origin.options
        if opts.delay and self.stopping.wait(opts.delay):
            self.close_connection = True
            return
        path = parts.path
        if body_size > MAX_BODY:
            return self._json(413, {"type": "error", "error": {"type": "request_too_large",
                                                               "message": "Request exceeds the maximum size"}})
        if path == "/health":
            return self._json(200, {"status": "ok"})
        if opts.status:
            return self._json(opts.status, _error_body(opts.status), opts.status_headers)
        if path == "/v1/messages" and self.command == "POST":
            stream = streams.stream_check_request(self._body_head)
            if stream is not None:
                return self._messages_stream(*stream)
            return self._json(401, {"type": "error", "error": {"type": "authentication_error",
                                                               "message": "invalid x-api-key"}})
        if path.startswith("/model/") and self.command == "POST":
            return self._json(*cloud_answers.bedrock_refusal(self.headers.get("Authorization", "")))
        if path.startswith("/v1/projects/") and self.command == "POST":
            return self._json(*cloud_answers.vertex_refusal())
        if path == "/api/claude_code/policy_limits" and self.command == "GET":
            return self._json(200, {"restrictions": {}})
        if path == "/v1/sse" and self.command == "GET":
            return self._sse(parse_qs(parts.query))
        return self._json(404, {"type": "error", "error": {"type": "not_found_error", "message": "Not found"}})

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _handle

    def do_HEAD(self) -> None:
        self._drain_body()
        self.send_response(200 if self.path == "/health" else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _json(self, status: int, doc: object, extra: Mapping[str, str] | None = None) -> None:
        body = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("request-id", "req_lab_" + uuid.uuid4().hex[:20])
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _messages_stream(self, events: int, interval: float) -> None:
        """The stream-check model's answer: a Messages stream whose events are *interval* seconds apart."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.send_header("request-id", "req_lab_" + uuid.uuid4().hex[:20])
        self.end_headers()
        self.close_connection = True
        model = json.loads(self._body_head or b"{}").get("model", "")
        for i, (name, data) in enumerate(streams.stream_events(model, events)):
            if i and self.stopping.wait(interval):
                return
            self.wfile.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
            self.wfile.flush()

    def _sse(self, query: Mapping[str, list[str]]) -> None:
        try:
            events = max(0, min(1000, int(query.get("events", ["5"])[0])))
            interval = max(0.0, min(30.0, float(query.get("interval", ["0.2"])[0])))
        except ValueError:
            return self._json(400, {"type": "error", "error": {"type": "invalid_request_error",
                                                               "message": "events and interval must be numbers"}})
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        for i in range(events):
            if i and self.stopping.wait(interval):
                return
            self.wfile.write(f"event: ping\ndata: {{\"n\": {i}, \"t\": {time.time():.3f}}}\n\n".encode())
            self.wfile.flush()


def _error_body(status: int) -> dict:
    kind = {429: "rate_limit_error", 529: "overloaded_error", 500: "api_error", 403: "permission_error",
            401: "authentication_error", 413: "request_too_large"}.get(status, "api_error")
    return {"type": "error", "error": {"type": kind, "message": f"lab origin answers {status}"}}


# The hostile servers live in their own module; their names stay importable from here.
from pytest_proxydiag.lab.hostile import (  # noqa: E402  (hostile.py builds on the helpers above)
    HOSTILE_BEHAVIOURS,
    Blackhole,
    ClosedPort,
    EchoProxy,
    ScriptedProxy,
    SlowRelay,
)
