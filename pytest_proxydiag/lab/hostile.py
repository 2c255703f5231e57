"""Servers that refuse, drop or misbehave on purpose: closed ports, blackholes, scripted hostile proxies.

Scripted only for behaviour no real product produces (see the real products
in :mod:`pytest_proxydiag.lab.products`).
"""

from __future__ import annotations

import errno
import random
import socket
import ssl
import threading
import time

from pytest_proxydiag.lab.servers import CONN_TIMEOUT, ORIGIN_HOSTS, _close_quietly, _read_head, _reset, _TcpServer

__all__ = ["HOSTILE_BEHAVIOURS", "ScriptedProxy", "SlowRelay", "EchoProxy", "Blackhole", "ClosedPort"]


# -- ports that refuse or drop ---------------------------------------------------------
class ClosedPort:
    """A loopback port that refuses connections (ECONNREFUSED) while this object lives.

    A bound socket that never listens keeps the port out of everyone else's
    hands, so "closed" stays true for the whole scenario.
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._sock = socket.socket(family, socket.SOCK_STREAM)
        self._sock.bind((host, 0))
        self.host = host
        self.port = int(self._sock.getsockname()[1])

    def stop(self) -> None:
        _close_quietly(self._sock)


class Blackhole:
    """A loopback port where connects time out, without root or firewall rules.

    The listener calls ``listen(0)`` and never accepts; a few non-blocking
    connects fill its queue, after which the kernel silently drops further
    SYNs, so a client's ``connect()`` waits for exactly its own timeout.
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind((host, 0))
        self._listener.listen(0)
        self.port = int(self._listener.getsockname()[1])
        self._fillers: list[socket.socket] = []

    def start(self) -> "Blackhole":
        for _ in range(16):
            if self._drops_syns():
                return self
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.setblocking(False)
            err = filler.connect_ex((self.host, self.port))
            if err not in (0, errno.EINPROGRESS, errno.EAGAIN):
                filler.close()
                continue
            self._fillers.append(filler)
        if not self._drops_syns():
            self.stop()
            raise OSError("could not fill the listen queue: this kernel does not drop SYNs to a full queue")
        return self

    def _drops_syns(self) -> bool:
        probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        probe.settimeout(0.15)
        try:
            probe.connect((self.host, self.port))
            return False
        except socket.timeout:
            return True
        except OSError:
            return False
        finally:
            probe.close()

    def stop(self) -> None:
        for s in self._fillers:
            _close_quietly(s)
        self._fillers = []
        _close_quietly(self._listener)


# -- hostile proxies -------------------------------------------------------------------
#: Behaviour name → what the scripted proxy does.
HOSTILE_BEHAVIOURS: dict[str, str] = {
    "silent": "accepts the connection and never answers",
    "garbage": "answers the request with random bytes",
    "ssh-banner": "greets with an SSH banner, like an SSH server on the proxy port",
    "smtp-banner": "greets with an SMTP banner and rejects every line",
    "http09": "answers a body without a status line (HTTP/0.9 style)",
    "slowloris": "sends a status line, then one header byte every 0.5 s, forever",
    "huge-header": "answers 200 with a 1 MiB header line",
    "close": "closes the connection right after accepting it",
    "tls-reset": "answers 200 to CONNECT, then resets during the TLS handshake",
    "plaintext-tunnel": "answers 200 to CONNECT, then speaks plaintext HTTP instead of TLS",
    "407-loop": "answers 407 to every request, with or without credentials",
    "redirect": "answers CONNECT with a 302 redirect",
    "tls-proxy": "a proxy port speaking TLS (an https:// proxy) that relays CONNECT once TLS is up",
    "relay": "a working CONNECT proxy to loopback (the reference for the others)",
}


class ScriptedProxy:
    """A loopback "proxy" with one scripted (mis)behaviour from :data:`HOSTILE_BEHAVIOURS`.

    ``relay`` and ``tls-proxy`` forward CONNECT to 127.0.0.1 (the lab maps
    every name there) so a correctly configured client can still get through;
    ``tls_context`` is the server context ``tls-proxy`` speaks.
    """

    def __init__(self, behaviour: str, *, tls_context: ssl.SSLContext | None = None,
                 host: str = "127.0.0.1", seed: int = 9) -> None:
        if behaviour not in HOSTILE_BEHAVIOURS:
            raise ValueError(f"unknown behaviour {behaviour!r}; choose from {', '.join(HOSTILE_BEHAVIOURS)}")
        if behaviour == "tls-proxy" and tls_context is None:
            raise ValueError("the tls-proxy behaviour needs a tls_context")
        self.behaviour = behaviour
        self._tls = tls_context
        self._random = random.Random(seed)
        self._server = _TcpServer(self._dispatch, host=host, name=f"hostile-{behaviour}")
        self.connections = 0
        self.host = host
        self.port = 0

    def start(self) -> "ScriptedProxy":
        self._server.start()
        self.port = self._server.port
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> "ScriptedProxy":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _wait(self, seconds: float) -> bool:
        """Sleep unless stopping; True when stop() was called."""
        return self._server.stopping.wait(seconds)

    def _dispatch(self, conn: socket.socket) -> None:
        self.connections += 1
        getattr(self, "_do_" + self.behaviour.replace("-", "_").replace("407", "auth"))(conn)

    def _do_silent(self, conn: socket.socket) -> None:
        conn.settimeout(0.5)
        while not self._server.stopping.is_set():
            try:
                if not conn.recv(65536):
                    return
            except socket.timeout:
                continue

    def _do_garbage(self, conn: socket.socket) -> None:
        _read_head(conn)
        conn.sendall(bytes(self._random.getrandbits(8) for _ in range(2048)))
        self._wait(0.2)

    def _do_ssh_banner(self, conn: socket.socket) -> None:
        conn.sendall(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n")
        if conn.recv(4096):
            conn.sendall(b"Invalid SSH identification string.\r\n")

    def _do_smtp_banner(self, conn: socket.socket) -> None:
        conn.sendall(b"220 mail.corp.example ESMTP Postfix (Debian/GNU)\r\n")
        data = _read_head(conn)
        for line in data.splitlines()[:10]:
            if line.strip():
                conn.sendall(b"502 5.5.2 Error: command not recognized\r\n")
        conn.sendall(b"221 2.7.0 Error: I can break rules, too. Goodbye.\r\n")

    def _do_http09(self, conn: socket.socket) -> None:
        _read_head(conn)
        conn.sendall(b"<html><body>Welcome to the corporate network</body></html>\n")

    def _do_slowloris(self, conn: socket.socket) -> None:
        _read_head(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        while not self._wait(0.5):
            conn.sendall(b"a")

    def _do_huge_header(self, conn: socket.socket) -> None:
        _read_head(conn)
        conn.sendall(b"HTTP/1.1 200 Connection established\r\nX-Huge: " + b"a" * (1024 * 1024) + b"\r\n\r\n")
        self._wait(1.0)

    def _do_close(self, conn: socket.socket) -> None:
        conn.close()

    def _do_tls_reset(self, conn: socket.socket) -> None:
        if _read_head(conn):
            conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            conn.recv(4096)  # the client's ClientHello
        _reset(conn)

    def _do_plaintext_tunnel(self, conn: socket.socket) -> None:
        if not _read_head(conn):
            return
        conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        if conn.recv(4096):
            body = b"<html><body>Plain text where TLS was expected</body></html>\n"
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/html\r\nContent-Length: "
                         + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)

    def _do_auth_loop(self, conn: socket.socket) -> None:
        body = b"<html><body>Proxy authentication required</body></html>\n"
        for _ in range(50):
            if not _read_head(conn):
                return
            conn.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                         b"Proxy-Authenticate: Basic realm=\"proxydiag lab\"\r\n"
                         b"Content-Type: text/html\r\nContent-Length: " + str(len(body)).encode()
                         + b"\r\n\r\n" + body)

    def _do_redirect(self, conn: socket.socket) -> None:
        if not _read_head(conn):
            return
        # The Location stays on loopback: a client that (wrongly) follows it goes nowhere else.
        location = f"http://127.0.0.1:{self.port}/captive-portal/login"
        conn.sendall(b"HTTP/1.1 302 Found\r\nLocation: " + location.encode()
                     + b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

    def _do_tls_proxy(self, conn: socket.socket) -> None:
        assert self._tls is not None
        tls = self._tls.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
        self._server.track(tls)
        try:
            try:
                tls.do_handshake()
            except (ssl.SSLError, OSError):
                return  # a client that speaks plain HTTP to this TLS port
            self._relay_connect(tls)
        finally:
            self._server.untrack(tls)
            _close_quietly(tls)

    def _do_relay(self, conn: socket.socket) -> None:
        self._relay_connect(conn)

    def _relay_connect(self, conn: socket.socket) -> None:
        head = _read_head(conn)
        first = head.split(b"\r\n", 1)[0].split()
        if len(first) < 2 or first[0] != b"CONNECT":
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        hostport = first[1].decode("latin-1")
        host, _, port = hostport.rpartition(":")
        if host.strip("[]") not in ORIGIN_HOSTS + ("::1",) or not port.isdigit():
            conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        try:
            upstream = socket.create_connection(("127.0.0.1", int(port)), timeout=5)
        except OSError:
            conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        self._server.track(upstream)
        try:
            conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            _pipe(conn, upstream, self._server.stopping)
        finally:
            self._server.untrack(upstream)
            _close_quietly(upstream)


def _pipe(a: socket.socket, b: socket.socket, stopping: threading.Event) -> None:
    """Copy bytes both ways until either side closes (bounded by the sockets' timeouts)."""
    import selectors

    sel = selectors.DefaultSelector()
    try:
        for s in (a, b):
            s.setblocking(True)
            sel.register(s, selectors.EVENT_READ)
        idle_since = time.monotonic()
        while not stopping.is_set():
            # A TLS socket may hold decrypted bytes that select() cannot see.
            ready = [s for s in (a, b) if isinstance(s, ssl.SSLSocket) and s.pending()]
            if not ready:
                ready = [key.fileobj for key, _ in sel.select(0.2)]  # type: ignore[misc]
            if not ready:
                if time.monotonic() - idle_since > CONN_TIMEOUT:
                    return
                continue
            idle_since = time.monotonic()
            for src in ready:
                dst = b if src is a else a
                data = src.recv(65536)
                if not data:
                    return
                dst.sendall(data)
    finally:
        sel.close()


class SlowRelay:
    """A slow or buffering proxy: a CONNECT relay to 127.0.0.1:<port of the CONNECT line>.

    ``connect_delay`` holds the 200 back (a slow proxy, for the latency and health steps and the
    measurement-accuracy benchmark); ``buffer`` holds the answer until the origin has been quiet
    for HOLD_QUIET seconds (a proxy that buffers server-sent events).  Real proxies do not do
    this on demand, so it is scripted like the hostile servers.
    """

    HOLD_QUIET = 0.5

    def __init__(self, connect_delay: float = 0.0, buffer: bool = False) -> None:
        self.connect_delay, self.buffer = connect_delay, buffer
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.stopping = threading.Event()
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        self.listener.settimeout(0.2)
        while not self.stopping.is_set():
            try:
                c, _ = self.listener.accept()
            except (socket.timeout, OSError):
                continue
            self.conns.append(c)
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c: socket.socket):
        try:
            c.settimeout(10)
            head = _read_head(c)
            if b"\r\n\r\n" not in head:
                return
            port = int(head.split(b" ")[1].rsplit(b":", 1)[1])
            if self.stopping.wait(self.connect_delay):
                return
            up = socket.create_connection(("127.0.0.1", port), timeout=10)
            self.conns.append(up)
            c.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            threading.Thread(target=self._pipe, args=(c, up, False), daemon=True).start()
            self._pipe(up, c, self.buffer)
        except OSError:
            pass
        finally:
            c.close()

    def _pipe(self, src, dst, hold):
        # Holding back: pass data on only after the sender was quiet for HOLD_QUIET seconds (or closed).  The
        # TLS handshake is one burst and goes through late; SSE events 0.25 s apart pile up until the end.
        held = b""
        try:
            if hold:
                src.settimeout(self.HOLD_QUIET)
            while True:
                try:
                    data = src.recv(65536)
                except socket.timeout:
                    if held:
                        dst.sendall(held)
                        held = b""
                    continue
                if not data:
                    break
                if hold:
                    held += data
                else:
                    dst.sendall(data)
            if held:
                dst.sendall(held)
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def stop(self):
        self.stopping.set()
        for s in [self.listener, *self.conns]:
            try:
                s.close()
            except OSError:
                pass


class EchoProxy:
    """A hostile proxy: answers 407 and echoes every request header back, in headers and body.

    For the redaction canary: whatever credentials the tool sends come back in the challenge, an
    error header and the page, exactly where the reports quote a proxy's answer.
    """

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(32)
        self.sock.settimeout(0.5)
        self.port = self.sock.getsockname()[1]
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(3)
            try:
                head = _read_head(conn)
            except OSError:
                return
            lines = head.decode("latin-1").split("\r\n")
            echoed = [line for line in lines[1:] if ":" in line]
            body = ("<html><body><h1>Access denied</h1><p>You sent:</p><pre>"
                    + "\n".join(echoed) + "</pre></body></html>").encode()
            sent = next((line.split(":", 1)[1].strip() for line in echoed
                         if line.lower().startswith("proxy-authorization:")), "nothing")
            # Echoed where the tool reports it: the challenge (in the finding) and the error header.
            reply = ["HTTP/1.1 407 Proxy Authentication Required",
                     f'Proxy-Authenticate: Basic realm="you sent {sent}"',
                     f"X-Squid-Error: ERR_CACHE_ACCESS_DENIED {sent}",
                     "Content-Type: text/html", f"Content-Length: {len(body)}", "Connection: close"]
            reply += [f"X-Echo-{line.split(':', 1)[0].strip()}: {line.split(':', 1)[1].strip()}"
                      for line in echoed]
            try:
                conn.sendall(("\r\n".join(reply) + "\r\n\r\n").encode("latin-1") + body)
            except OSError:
                pass

    def stop(self) -> None:
        self.stopped.set()
        self.sock.close()
        self.thread.join(timeout=2)
