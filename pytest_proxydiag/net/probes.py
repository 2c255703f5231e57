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

The rooms of the layer: :mod:`~pytest_proxydiag.net.results` (what probes
return), :mod:`~pytest_proxydiag.net.session` (cache, resolution, TCP, the way
to the proxy, ``--proxydiag-no-direct``), :mod:`~pytest_proxydiag.net.http`
(the one HTTP/1.1 reader), :mod:`~pytest_proxydiag.net.tls`, and this module:
tunnels, TLS through them and HTTP exchanges.
"""

from __future__ import annotations

import socket
import ssl
import time
from typing import Any, Iterator, Mapping

from pytest_proxydiag.core.config import Target
from pytest_proxydiag.core.proxyurl import ProxyURL
from pytest_proxydiag.net.http import MAX_BODY, MAX_HEAD, ResponseReader, iter_body, parse_head, read_body, read_head
from pytest_proxydiag.net.results import (Cause, Deadline, HttpReply, HttpResult, ProbeError, SocksOutcome,
                                          StreamResult, TcpResult, Timings, TlsResult, TunnelResult, classify_oserror)
from pytest_proxydiag.net import socks
from pytest_proxydiag.net.relay import ObservedRelay
from pytest_proxydiag.net.session import USER_AGENT, ProbeSession, basic_auth_header
from pytest_proxydiag.net.tls import fetch_chain, tls_error, unverified_context, wrap_tls

__all__ = ["Cause", "Probes", "TcpResult", "HttpReply", "TunnelResult", "TlsResult", "HttpResult", "StreamResult",
           "Timings", "USER_AGENT", "ProbeError", "parse_head", "basic_auth_header", "MAX_HEAD", "MAX_BODY"]

#: Kept for callers of the layer before it was split into rooms.
_Deadline = Deadline


class _Unavailable(ProbeError):
    """Not attempted (the proxy is known to be unusable, or a direct connection is forbidden): no log entry."""


class _Route:
    """An open way to a target for one exchange, and what opening it took (seconds)."""

    def __init__(self) -> None:
        self.sock: Any = None
        self.tunnel: TunnelResult | None = None
        self.resolve: float | None = None
        self.connect: float | None = None
        self.proxy_reply: float | None = None
        self.tls: float | None = None

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass


class Probes(ProbeSession):
    """Session-scoped, cached network probes for one resolved configuration.

    Use through the ``proxydiag_probes`` fixture::

        def test_gateway_reachable(proxydiag_probes):
            assert proxydiag_probes.tcp_connect("gateway.corp", 4000).ok
    """

    def _early_reply(self, sock: socket.socket, what: str, method: str) -> tuple[HttpReply, ResponseReader] | None:
        try:
            return read_head(sock, Deadline(min(1.0, self.timeout)), what, method)
        except (ProbeError, OSError):
            return None

    def _mark_silent(self, err: ProbeError) -> None:
        if err.cause == Cause.NO_ANSWER:
            with self._lock:
                self._cache[("proxy-silent",)] = err.detail

    def open_tunnel(self, host: str, port: int, *, credentials: Any = "configured",
                    deadline: Deadline | None = None,
                    via: ProxyURL | None = None, user_agent: str = USER_AGENT) -> tuple[socket.socket | None, TunnelResult]:
        """Open a tunnel to host:port through the proxy (or *via* another one); return the open socket on success.

        The one tunnel opener: an HTTP CONNECT for http(s):// proxies, a SOCKS5 CONNECT for socks5(h)://
        ones.  After it the socket carries the same bytes either way (TLS to the target), so callers never
        ask which.  The result's ``reply`` is the HTTP answer, its ``socks`` the SOCKS5 stage and code.
        Not cached: callers that only need the verdict use :meth:`connect_tunnel`.  *user_agent* is the CONNECT's
        User-Agent (a browser's, to tell a proxy that lets only browsers through).
        """
        target = f"{host}:{port}"
        deadline = deadline or Deadline(self.timeout * 2)
        if via is None:
            blocked = self._blocked_result()
            if blocked is not None:
                return None, TunnelResult(ok=False, cause=blocked.cause, detail=blocked.detail, target=target)
        if (via or self.proxy) is not None and (via or self.proxy).scheme in socks.SOCKS5_SCHEMES:
            return self._open_socks5_tunnel(host, port, credentials, deadline, via)
        auth = self._proxy_auth(credentials)
        t0 = time.monotonic()
        sock = None
        try:
            sock, r_el, c_el = self._open_to_proxy(deadline, via)
            t_conn = time.monotonic() - t0
            req = f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\nUser-Agent: {user_agent}\r\n"
            if auth:
                req += f"Proxy-Authorization: {auth}\r\n"
            req += "\r\n"
            sock.settimeout(max(deadline.remaining(), 0.001))
            sock.sendall(req.encode("ascii"))
            self.count_request()
            head_deadline = Deadline(min(self.timeout, max(deadline.remaining(), 0.001)))
            reply, reader = read_head(sock, head_deadline, f"CONNECT {target}", "CONNECT")
            t_reply = time.monotonic() - t0
            if 200 <= reply.status < 300:
                timings = Timings(resolve=r_el, connect=t_conn, proxy_reply=t_reply)
                res = TunnelResult(ok=True, cause=Cause.OK, detail=reply.status_line, reply=reply, timings=timings,
                                   target=target, credentials_sent=bool(auth))
                self._record("connect", target=target, status=reply.status, headers=list(reply.headers))
                return sock, res
            body, trunc = read_body(sock, reader, Deadline(min(1.0, self.timeout)), limit=64 * 1024)
            sock.close()
            asked = reply.status in (401, 407) and via is None  # who wrote it: the proxy, or a parent behind it
            reply = HttpReply(reply.status, reply.reason, reply.version, reply.headers, body, trunc,
                              self.proxy_self_reply() if asked else None,
                              self.proxy_plain_reply(host) if asked else None)
            timings = Timings(resolve=r_el, connect=t_conn, proxy_reply=t_reply)
            detail = f"{reply.status_line}" + (f" (X-Squid-Error: {reply.squid_error})" if reply.squid_error else "")
            res = TunnelResult(ok=False, cause=Cause.PROXY_STATUS, detail=detail, reply=reply, timings=timings,
                               target=target, credentials_sent=bool(auth))
            self._record("connect", target=target, status=reply.status, headers=list(reply.headers))
            return None, res
        except ProbeError as exc:
            if sock is not None:
                sock.close()
            if via is None:
                self._mark_silent(exc)
            self._record("connect", target=target, cause=exc.cause.value, detail=exc.detail)
            return None, TunnelResult(ok=False, cause=exc.cause, detail=exc.detail,
                                      timings=Timings(total=time.monotonic() - t0),
                                      target=target, credentials_sent=bool(auth))
        except OSError as exc:
            if sock is not None:
                sock.close()
            err = classify_oserror(exc, f"CONNECT {target}")
            self._record("connect", target=target, cause=err.cause.value, detail=err.detail)
            return None, TunnelResult(ok=False, cause=err.cause, detail=err.detail,
                                      timings=Timings(total=time.monotonic() - t0),
                                      target=target, credentials_sent=bool(auth))

    def _open_socks5_tunnel(self, host: str, port: int, credentials: Any, deadline: Deadline,
                            via: ProxyURL | None) -> tuple[socket.socket | None, TunnelResult]:
        """SOCKS5 CONNECT (:mod:`~pytest_proxydiag.net.socks`): socks5h sends the name, socks5 the address."""
        p = via or self.proxy
        assert p is not None
        target = f"{host}:{port}"
        creds = self._socks_credentials(credentials)
        t0 = time.monotonic()
        sock = None
        address = None
        try:
            if p.scheme == "socks5":
                # The client resolves the name (pinned with --proxydiag-resolve in the lab, never a real lookup).
                addrs, _el, err = self.resolve(host, port)
                if err is not None:  # this machine's DNS, not the proxy: never marks the proxy silent
                    self._record("connect", target=target, cause=err.cause.value, detail=err.detail)
                    return None, TunnelResult(ok=False, cause=err.cause, detail=f"SOCKS5 CONNECT {target}: {err.detail}",
                                              timings=Timings(total=time.monotonic() - t0), target=target,
                                              credentials_sent=creds is not None,
                                              target_unresolved_here=err.cause == Cause.UNRESOLVABLE)
                address = addrs[0]
            client = socks.Socks5Client(host, port, credentials=creds, address=address)
            sock, r_el, _c_el = self._open_to_proxy(deadline, via)
            c_el = time.monotonic() - t0  # cumulative from the start, as the HTTP CONNECT's timings are
            events = socks.negotiate(sock, client, deadline)
            self.count_request()
        except socks.SocksProtocolError as exc:
            if sock is not None:
                sock.close()
            cause = Cause.CLOSED if "closed" in exc.why else Cause.GARBAGE
            detail = f"SOCKS5 CONNECT {target}: {exc}"
            self._record("connect", target=target, cause=cause.value, detail=detail)
            return None, TunnelResult(ok=False, cause=cause, detail=detail,
                                      timings=Timings(total=time.monotonic() - t0),
                                      target=target, credentials_sent=creds is not None)
        except (ProbeError, OSError, ValueError) as exc:
            if sock is not None:
                sock.close()
            err = ProbeError(Cause.ERROR, f"SOCKS5 CONNECT {target}: {exc}") if isinstance(exc, ValueError) \
                else classify_oserror(exc, f"SOCKS5 CONNECT {target}")
            if via is None:
                self._mark_silent(err)
            self._record("connect", target=target, cause=err.cause.value, detail=err.detail)
            return None, TunnelResult(ok=False, cause=err.cause, detail=err.detail,
                                      timings=Timings(total=time.monotonic() - t0),
                                      target=target, credentials_sent=creds is not None)
        last = events[-1]
        stage = {socks.MethodReply: "method", socks.AuthReply: "auth"}.get(type(last), "connect")
        code = last.method if stage == "method" else (last.status if stage == "auth" else last.rep)
        outcome = SocksOutcome(stage, code, "client" if address else "proxy", address)
        timings = Timings(resolve=r_el, connect=c_el, proxy_reply=time.monotonic() - t0)
        detail = f"SOCKS5 {stage} reply 0x{code:02x}"
        self._record("connect", target=target, socks_stage=stage, socks_code=code)
        if outcome.ok:
            return sock, TunnelResult(ok=True, cause=Cause.OK, detail=detail, timings=timings, target=target,
                                      credentials_sent=creds is not None, socks=outcome)
        sock.close()
        return None, TunnelResult(ok=False, cause=Cause.SOCKS_REFUSED, detail=detail, timings=timings, target=target,
                                  credentials_sent=creds is not None, socks=outcome)

    def _socks_credentials(self, credentials: Any) -> tuple[str, str] | None:
        if credentials == "configured":
            p = self.proxy
            return (p.username, p.password or "") if p is not None and p.username is not None else None
        return None if credentials is None else (credentials[0], credentials[1] or "")

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

    def _proxy_port_answers(self, key: str, talk) -> bool:
        """Whether the proxy port answers *talk(sock, deadline)* (True/False); any error is False (cached)."""
        def compute() -> bool:
            p = self.proxy
            if p is None:
                return False
            deadline = Deadline(self.timeout)
            try:
                sock, _addr, _r, _c = self.connect(p.host, p.port, deadline)
            except ProbeError:
                return False
            try:
                sock.settimeout(max(deadline.remaining(), 0.001))
                return talk(sock, p)
            except (OSError, ssl.SSLError, socks.SocksProtocolError):
                return False
            finally:
                sock.close()
        return self.cached((key,), compute)

    def proxy_self_reply(self) -> HttpReply | None:
        """The proxy's own answer to ``GET /`` addressed to it (no credentials), or None (cached, bounded).

        Asked after a 401/407 to CONNECT: a proxy that relays its parent's answer byte for byte (Apache httpd's
        ProxyRemote) still answers a request for itself with its own headers, naming the first hop.
        """
        return self._ask_proxy(("proxy-self",), "/", None)

    def proxy_plain_reply(self, host: str) -> HttpReply | None:
        """The answer to a plain ``GET http://host/`` through the proxy (no credentials), or None (cached, bounded).

        Asked after a 401/407 to CONNECT: a chain's answer to it lists every hop in one ``Via`` (Squid: the parent's,
        then the proxy's), which tells a parent behind the proxy from another node of a pool behind one address.
        """
        return self._ask_proxy(("proxy-plain", host.lower()), f"http://{host}/", host)

    def _ask_proxy(self, key: tuple, target: str, host: str | None) -> HttpReply | None:
        def compute() -> HttpReply | None:
            p, deadline = self.proxy, Deadline(self.timeout)
            if p is None or p.scheme not in ("http", "https"):
                return None
            try:
                sock, _r, _c = self._open_to_proxy(deadline)
            except (ProbeError, OSError):
                return None
            try:
                sock.settimeout(max(deadline.remaining(), 0.001))
                sock.sendall(f"GET {target} HTTP/1.1\r\nHost: {host or p.hostport}\r\nUser-Agent: {USER_AGENT}\r\n"
                             "Connection: close\r\n\r\n".encode("ascii"))
                self.count_request()
                head, reader = read_head(sock, deadline, f"GET {target} via the proxy {p.hostport}", "GET")
                body, trunc = read_body(sock, reader, Deadline(min(1.0, self.timeout)), limit=64 * 1024)
                return HttpReply(head.status, head.reason, head.version, head.headers, body, trunc)
            except (ProbeError, OSError):
                return None
            finally:
                sock.close()
        return self.cached(key, compute)

    def proxy_speaks_tls(self) -> bool:
        """True when the proxy port completes a TLS handshake (cached).

        Asked only after a plain-HTTP exchange was reset or closed: a TLS
        proxy behind an ``http://`` URL often just drops the plaintext.
        """
        def talk(sock: socket.socket, p: ProxyURL) -> bool:
            unverified_context().wrap_socket(sock, server_hostname=p.host).close()
            return True
        return self._proxy_port_answers("proxy-speaks-tls", talk)

    def proxy_speaks_socks5(self) -> bool:
        """True when the proxy port answers a SOCKS5 greeting (cached).

        Asked only after an HTTP exchange was closed or reset: a SOCKS server behind an ``http://`` URL
        drops the HTTP request.
        """
        def talk(sock: socket.socket, _p: ProxyURL) -> bool:
            client = socks.Socks5Client("localhost", 443)
            sock.sendall(client.data_to_send())
            client.receive_data(sock.recv(2))
            return isinstance(client.next_event(), socks.MethodReply)
        return self._proxy_port_answers("proxy-speaks-socks5", talk)

    def connect_via(self, proxy: ProxyURL, host: str, port: int) -> TunnelResult:
        """CONNECT host:port through another proxy address (e.g. a candidate port); cached."""
        def compute() -> TunnelResult:
            sock, res = self.open_tunnel(host, port, credentials=None, via=proxy,
                                         deadline=Deadline(self.timeout))
            if sock is not None:
                sock.close()
            return res
        return self.cached(("tunnel-via", proxy.hostport, proxy.scheme, host.lower(), port), compute)

    # -- TLS --------------------------------------------------------------
    def tls_via_proxy(self, target: Target) -> TlsResult:
        """Handshake with *target* through a tunnel without verifying; keep the presented chain (cached)."""
        def compute() -> TlsResult:
            deadline = Deadline(self.timeout * 2)
            t0 = time.monotonic()
            sock, tunnel = self.open_tunnel(target.host, target.port, deadline=deadline)
            if sock is None:
                return TlsResult(ok=False, cause=Cause.BLOCKED if tunnel.cause != Cause.OK else tunnel.cause,
                                 detail=f"no tunnel: {tunnel.detail}", target=target.hostport, tunnel=tunnel)
            try:
                t_tls0 = time.monotonic()
                chain, version, cipher = fetch_chain(sock, target.host, deadline)
                t_tls = time.monotonic() - t_tls0
                tm = tunnel.timings
                timings = Timings(resolve=tm.resolve, connect=tm.connect, proxy_reply=tm.proxy_reply, tls=t_tls,
                                  total=time.monotonic() - t0)
                self._record("tls", target=target.hostport, ok=True)
                return TlsResult(ok=True, cause=Cause.OK, target=target.hostport, chain=tuple(chain), version=version,
                                 cipher=cipher, timings=timings, tunnel=tunnel)
            except ProbeError as exc:
                self._record("tls", target=target.hostport, ok=False, detail=exc.detail)
                return TlsResult(ok=False, cause=exc.cause, detail=exc.detail, target=target.hostport, tunnel=tunnel)
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
                return TlsResult(ok=False, cause=Cause.UNSUPPORTED, detail="the proxy URL is not https://", target="")
            deadline = Deadline(self.timeout * 2)
            t0 = time.monotonic()
            try:
                sock, _addr, r_el, c_el = self.connect(p.host, p.port, deadline)
            except ProbeError as exc:
                return TlsResult(ok=False, cause=exc.cause, detail=exc.detail, target=p.hostport)
            try:
                t1 = time.monotonic()
                chain, version, cipher = fetch_chain(sock, p.host, deadline)
                self._record("tls-proxy", target=p.hostport, ok=True)
                return TlsResult(ok=True, cause=Cause.OK, target=p.hostport, chain=tuple(chain), version=version,
                                 cipher=cipher, timings=Timings(resolve=r_el, connect=c_el, tls=time.monotonic() - t1,
                                                                total=time.monotonic() - t0))
            except ProbeError as exc:
                self._record("tls-proxy", target=p.hostport, ok=False, detail=exc.detail)
                return TlsResult(ok=False, cause=exc.cause, detail=exc.detail, target=p.hostport)
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
        deadline = Deadline(per_op * 3)
        t0 = time.monotonic()
        route = _Route()
        try:
            route = self._open_route(target, via_proxy, ssl_context, per_op, deadline)
            if route.sock is None:
                tunnel = route.tunnel
                return HttpResult(ok=False, cause=tunnel.cause, detail=tunnel.detail, reply=tunnel.reply,
                                  timings=tunnel.timings, url=url, method=method, via_proxy=True, tunnel=tunnel)
            t_send = time.monotonic()
            early = self._send(route.sock, target, method, path, headers, body, via_proxy, per_op, deadline)
            what = f"{method} {url}"
            reply, reader = early or read_head(route.sock, Deadline(max(min(per_op, deadline.remaining()), 0.001)),
                                               what, method)
            first_byte = time.monotonic() - t0
            ttfb_from_send = time.monotonic() - t_send
            rbody, trunc = read_body(route.sock, reader, Deadline(max(min(per_op, deadline.remaining()), 0.001)),
                                     limit=read_limit)
            reply = HttpReply(reply.status, reply.reason, reply.version, reply.headers, rbody, trunc)
            timings = Timings(resolve=route.resolve, connect=route.connect, proxy_reply=route.proxy_reply,
                              tls=route.tls, first_byte=first_byte, total=time.monotonic() - t0)
            self._record("http", url=url, method=method, status=reply.status, headers=list(reply.headers),
                         via_proxy=via_proxy, ttfb=ttfb_from_send)
            return HttpResult(ok=True, cause=Cause.OK, detail=reply.status_line, reply=reply, timings=timings, url=url,
                              method=method, via_proxy=via_proxy, tunnel=route.tunnel, bytes_sent=len(body or b""))
        except _Unavailable as exc:
            return HttpResult(ok=False, cause=exc.cause, detail=exc.detail, url=url, method=method, via_proxy=via_proxy)
        except (ProbeError, OSError) as exc:
            err = classify_oserror(exc, f"{method} {url}")
            if isinstance(exc, ProbeError) and via_proxy and route.tunnel is None:
                self._mark_silent(err)
            self._record("http", url=url, method=method, cause=err.cause.value, detail=err.detail,
                         via_proxy=via_proxy)
            # The phases that did happen (a cut after TLS keeps its tunnel and TLS times: performance.latency).
            return HttpResult(ok=False, cause=err.cause, detail=err.detail,
                              timings=Timings(resolve=route.resolve, connect=route.connect,
                                              proxy_reply=route.proxy_reply, tls=route.tls,
                                              total=time.monotonic() - t0),
                              url=url, method=method, via_proxy=via_proxy, tunnel=route.tunnel)
        finally:
            route.close()

    def stream(self, target: Target, path: str, *, headers: Mapping[str, str] | None = None,
               duration: float = 0.0, method: str = "GET", body: bytes | None = None,
               via_proxy: bool = True) -> StreamResult:
        """GET *path* through the proxy and time each piece of the answer's body as it arrives (not cached).

        *duration* is how long the origin is expected to take to send it all:
        the read is bounded by twice the timeout plus that.  A non-200 answer
        is returned with its head only.  *method*, *body* and *via_proxy*
        (False: direct, e.g. to a gateway in NO_PROXY) send another request the same way.
        """
        url = target.origin + path
        what = f"{method} {url}"
        deadline = Deadline(self.timeout * 2 + duration)
        route = _Route()
        try:
            route = self._open_route(target, via_proxy, None, self.timeout, deadline)
            if route.sock is None:
                return StreamResult(ok=False, cause=route.tunnel.cause, detail=f"no tunnel: {route.tunnel.detail}",
                                    url=url, method=method, via_proxy=via_proxy)
            t_send = time.monotonic()
            self._send(route.sock, target, method, path, headers, body, via_proxy, self.timeout, deadline)
            reply, reader = read_head(route.sock, Deadline(max(min(self.timeout + duration, deadline.remaining()),
                                                               0.001)), what)
            if reply.status != 200:
                return StreamResult(ok=True, cause=Cause.OK, detail=reply.status_line, reply=reply,
                                    url=url, method=method, via_proxy=via_proxy)
            pieces: list[tuple[float, bytes]] = []
            size = 0
            for piece in iter_body(route.sock, reader, deadline):
                pieces.append((time.monotonic() - t_send, piece))
                size += len(piece)
                if size > MAX_BODY:
                    break
            return StreamResult(ok=True, cause=Cause.OK, detail=reply.status_line, reply=reply, url=url, method=method,
                                via_proxy=via_proxy, pieces=tuple(pieces), complete=reader.ended)
        except (ProbeError, OSError) as exc:
            err = classify_oserror(exc, what)
            return StreamResult(ok=False, cause=err.cause, detail=err.detail,
                                url=url, method=method, via_proxy=via_proxy)
        finally:
            route.close()

    def _open_route(self, target: Target, via_proxy: bool, ssl_context: ssl.SSLContext | None, per_op: float,
                    deadline: Deadline) -> "_Route":
        """A socket ready for the request line: a tunnel (and TLS) through the proxy, the proxy itself, or direct.

        A refused tunnel comes back as a route without a socket (its
        TunnelResult says why); a proxy known to be unusable raises
        :class:`_Unavailable` without a new attempt.
        """
        t0 = time.monotonic()
        route = _Route()
        if via_proxy and (target.scheme == "https" or self.socks5):
            route.sock, route.tunnel = self.open_tunnel(target.host, target.port, deadline=deadline)
            if route.sock is None:
                return route
            tm = route.tunnel.timings
            route.resolve, route.connect, route.proxy_reply = tm.resolve, tm.connect, tm.proxy_reply
        elif via_proxy:
            blocked = self._blocked_result()
            if blocked is not None:
                raise _Unavailable(blocked.cause, blocked.detail)
            route.sock, route.resolve, _connect = self._open_to_proxy(deadline)
            route.connect = time.monotonic() - t0
        else:
            forbidden = self.direct_forbidden(target.host, target.port)
            if forbidden is not None:
                raise _Unavailable(forbidden.cause, forbidden.detail)
            route.sock, _addr, route.resolve, route.connect = self.connect(target.host, target.port, deadline)
        if target.scheme == "https":
            t1 = time.monotonic()
            route.sock.settimeout(max(min(per_op, deadline.remaining()), 0.001))
            try:
                route.sock = wrap_tls(route.sock, ssl_context or unverified_context(), target.host)
            except ssl.SSLCertVerificationError as exc:
                route.close()
                raise ProbeError(Cause.TLS_ERROR, f"TLS with {target.hostport}: certificate verify failed: "
                                                  f"{exc.verify_message}") from None
            except ssl.SSLError as exc:
                route.close()
                raise tls_error(exc, target.hostport) from None
            route.tls = time.monotonic() - t1
        return route

    def _send(self, sock: Any, target: Target, method: str, path: str, headers: Mapping[str, str] | None,
              body: bytes | None, via_proxy: bool, per_op: float,
              deadline: Deadline) -> tuple[HttpReply, ResponseReader] | None:
        """Send one request; return the proxy's early reply when it answered (413) before the body was sent."""
        # Through a SOCKS5 tunnel a plain request is origin-form, as sent to the origin itself.
        plain_via_proxy = via_proxy and target.scheme == "http" and not self.socks5
        url = target.origin + path
        lines = [f"{method} {url if plain_via_proxy else path} HTTP/1.1", f"Host: {target.host}" +
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
        sock.settimeout(max(min(per_op, deadline.remaining()), 0.001))
        sock.sendall(data)
        early = None
        view = memoryview(body or b"")
        sent = 0
        while sent < len(view):
            if deadline.remaining() <= 0:
                raise ProbeError(Cause.NO_ANSWER, f"sending {len(view)} bytes did not finish in time")
            sock.settimeout(max(min(per_op, deadline.remaining()), 0.001))
            try:
                sent += sock.send(view[sent:sent + 65536])
            except OSError:
                # A proxy that refuses a body (413) answers and closes while it is still
                # being sent: its reply may be waiting in the buffer, read it before giving up.
                early = self._early_reply(sock, f"{method} {url}", method)
                if early is None:
                    raise
                break
        self.count_request()
        return early

    def relay(self, lifetime: float) -> ObservedRelay:
        """A loopback relay in front of the configured proxy that records what real clients send to it.

        Use as a context manager; point a client at it with
        :func:`~pytest_proxydiag.net.relay.relay_env`.
        """
        return ObservedRelay(lambda seconds: self._open_to_proxy(Deadline(seconds))[0], lifetime=lifetime,
                             io_timeout=self.timeout)

    def iter_log(self, kind: str | None = None) -> Iterator[dict[str, Any]]:
        with self._lock:
            items = list(self.log)
        return (e for e in items if kind is None or e["kind"] == kind)


