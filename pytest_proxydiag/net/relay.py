"""A loopback relay in front of the real proxy that records which requests arrive (the BYPASS witness).

A real client is run with its proxy variables pointed at the relay
(:func:`relay_env`, NO_PROXY untouched, so its routing decision is its own);
whatever it sends to its proxy arrives here first and is forwarded byte for
byte, credentials included.  This works with any corporate proxy: it needs
no header the proxy adds and no access to its logs.

The relay reaches the proxy through the probe layer (:meth:`Probes.relay`),
so an ``https://`` proxy is verified the way the probes verify it.
"""

from __future__ import annotations

import dataclasses
import selectors
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit

from pytest_proxydiag.net.http import MAX_HEAD, ResponseReader, parse_request_head
from pytest_proxydiag.net.results import EXPECTED_NETWORK_ERRORS, ProbeError

__all__ = ["Arrival", "ObservedRelay", "relay_env", "PROXY_NAMES"]

PROXY_NAMES = ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY")
_RECV = 65536


@dataclass(frozen=True)
class Arrival:
    """One request that reached the relay (and so would have reached the proxy)."""

    method: str
    target: str
    time: float
    upstream_status: int | None = None
    upstream_error: str | None = None
    credentials: bool = False


class ObservedRelay:
    """A loopback pass-through to the real proxy that records what arrives.

    *open_upstream* opens a connection to the proxy within the given seconds
    (TLS included for an ``https://`` proxy).
    """

    def __init__(self, open_upstream: Callable[[float], socket.socket], *, lifetime: float = 30.0,
                 io_timeout: float = 5.0) -> None:
        self._open_upstream = open_upstream
        self.lifetime = lifetime
        self.io_timeout = io_timeout
        self.arrivals: list[Arrival] = []
        self._lock = threading.Lock()
        self._socks: set[socket.socket] = set()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._listener: socket.socket | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "ObservedRelay":
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", 0))
        ls.listen(16)
        ls.settimeout(0.2)
        self._listener = ls
        self.port = ls.getsockname()[1]
        self._deadline = time.monotonic() + self.lifetime
        t = threading.Thread(target=self._accept_loop, name="proxydiag-relay", daemon=True)
        t.start()
        self._threads.append(t)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            socks = list(self._socks)
        for s in socks + ([self._listener] if self._listener else []):
            try:
                s.close()
            except OSError:
                pass
        for t in self._threads:
            t.join(timeout=2.0)

    def seen(self, hostport: str) -> list[Arrival]:
        with self._lock:
            return [a for a in self.arrivals if a.target.lower() == hostport.lower()
                    or urlsplit(a.target).netloc.lower() == hostport.lower()]

    def wait_for(self, hostport: str, seconds: float) -> list[Arrival]:
        """The arrivals for *hostport*, waiting up to *seconds* for the first (the relay records on its thread)."""
        end = time.monotonic() + seconds
        while not self.seen(hostport) and time.monotonic() < end:
            time.sleep(0.05)
        return self.seen(hostport)

    def _track(self, s: socket.socket) -> None:
        with self._lock:
            self._socks.add(s)

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stop.is_set() and time.monotonic() < self._deadline:
            try:
                conn, _ = self._listener.accept()
            except (socket.timeout, TimeoutError):
                continue
            except OSError:
                return
            self._track(conn)
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            t.start()
            self._threads.append(t)

    def _read_request(self, conn: socket.socket) -> tuple[bytes, Arrival] | None:
        buf = b""
        while b"\r\n\r\n" not in buf and len(buf) < MAX_HEAD:
            chunk = conn.recv(_RECV)
            if not chunk:
                return None
            buf += chunk
        try:
            head = parse_request_head(buf)
        except ProbeError:
            head = None
        method, target = (head.method, head.target) if head else ("?", "?")
        creds = head.has_header("Proxy-Authorization") if head else False
        return buf, Arrival(method, target, time.time(), None, "no answer from the proxy yet", creds)

    def _serve(self, conn: socket.socket) -> None:
        up = None
        try:
            conn.settimeout(self.io_timeout)
            request = self._read_request(conn)
            if request is None:
                return
            buf, arrival = request
            # Recorded at once: a proxy that never answers must not hide that the client came here.
            index = self._add(arrival)
            try:
                up = self._open_upstream(self.io_timeout)
            except EXPECTED_NETWORK_ERRORS as exc:
                self._update(index, upstream_error=f"the relay could not reach the proxy: {exc}")
                return
            self._track(up)
            up.settimeout(self.io_timeout)
            up.sendall(buf)
            status, error, answered = self._proxy_answer(up, arrival.method)
            self._update(index, upstream_status=status, upstream_error=error)
            if answered:
                conn.sendall(answered)
            self._pump(conn, up)
        except OSError:
            return
        finally:
            for s in (conn, up):
                if s is not None:
                    try:
                        s.close()
                    except OSError:
                        pass

    def _proxy_answer(self, up: socket.socket, method: str) -> tuple[int | None, str | None, bytes]:
        """The proxy's status (read by the one HTTP reader), or why there is none, and the bytes to pass on."""
        reader = ResponseReader(method, "the proxy's answer")
        received = b""
        while True:
            try:
                reply = reader.head()
            except ProbeError:
                return None, "the proxy's answer is not HTTP", received
            if reply is not None:
                return reply.status, None, received
            try:
                chunk = up.recv(_RECV)
            except OSError as exc:
                return None, (f"the proxy did not answer: {exc}" if not received
                              else "the proxy's answer is not HTTP"), received
            if not chunk:
                return None, ("the proxy closed the connection" if not received
                              else "the proxy's answer is not HTTP"), received
            received += chunk
            reader.feed(chunk)

    def _add(self, a: Arrival) -> int:
        with self._lock:
            self.arrivals.append(a)
            return len(self.arrivals) - 1

    def _update(self, index: int, **changes: Any) -> None:
        with self._lock:
            self.arrivals[index] = dataclasses.replace(self.arrivals[index], **changes)

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        sel = selectors.DefaultSelector()
        try:
            sel.register(a, selectors.EVENT_READ, b)
            sel.register(b, selectors.EVENT_READ, a)
        except ValueError:   # stop() closed a socket under us: nothing left to pass on
            sel.close()
            return
        try:
            while not self._stop.is_set() and time.monotonic() < self._deadline:
                events = sel.select(timeout=0.2)
                for key, _ in events:
                    try:
                        data = key.fileobj.recv(_RECV)  # type: ignore[union-attr]
                    except OSError:
                        return
                    if not data:
                        return
                    key.data.sendall(data)
        finally:
            sel.close()


def relay_env(env: Mapping[str, str], relay_url: str) -> dict[str, str]:
    """*env* with every proxy variable pointed at the relay (credentials kept, NO_PROXY untouched)."""
    out = dict(env)
    relay = urlsplit(relay_url)
    for name in PROXY_NAMES:
        value = env.get(name)
        if not value or not value.strip():
            continue
        v = value.strip()
        if "://" not in v:
            v = "http://" + v
        parts = urlsplit(v)
        if parts.scheme.startswith("socks"):
            continue  # the relay speaks HTTP proxy only
        userinfo = parts.netloc.rpartition("@")[0]
        out[name] = f"http://{userinfo + '@' if userinfo else ''}{relay.netloc}"
    return out
