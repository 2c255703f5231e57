"""A bounded SOCKS5 client (RFC 1928, RFC 1929 username/password), in the h11 spirit: bytes in, typed replies out.

:class:`Socks5Client` does no I/O.  It says what to send (:meth:`~Socks5Client.data_to_send`), takes what
the server answered (:meth:`~Socks5Client.receive_data`) and hands back one typed reply per stage
(:meth:`~Socks5Client.next_event`)::

    client = Socks5Client("api.anthropic.com", 443, credentials=("alice", "s3cret"))
    sock.sendall(client.data_to_send())
    while (event := client.next_event()) is NEED_DATA:
        client.receive_data(sock.recv(512))
    ...                      # MethodReply, then AuthReply (if asked), then ConnectReply

The stages: the greeting and the method the server selects (``0xFF``: none of the offered methods is
acceptable), the username/password subnegotiation (RFC 1929: status 0 accepts, anything else rejects),
and the CONNECT reply with its code (:class:`Rep`: not allowed by ruleset, host unreachable, connection
refused, TTL expired ...).  A reply that is not SOCKS5 raises :class:`SocksProtocolError`.  Every reply
is bounded (:data:`MAX_REPLY`), so a server that streams bytes cannot grow the buffer.

:func:`negotiate` drives a client over a connected socket within a deadline (the probe layer's I/O).

With ``socks5h://`` the proxy resolves the name (ATYP domain); with ``socks5://`` the client resolves it
and sends the address: pass ``address=``.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from enum import IntEnum
from typing import Union

from pytest_proxydiag.net.results import Cause, Deadline, ProbeError

__all__ = ["Socks5Client", "Method", "Rep", "MethodReply", "AuthReply", "ConnectReply", "NEED_DATA",
           "SocksProtocolError", "negotiate", "MAX_REPLY", "SOCKS5_SCHEMES"]

#: Proxy URL schemes this client speaks: socks5h (the proxy resolves the name) and socks5 (the client does).
SOCKS5_SCHEMES = ("socks5", "socks5h")

#: The longest reply of any stage: a CONNECT reply with a 255-byte domain is 4 + 1 + 255 + 2 bytes.
MAX_REPLY = 262


class Method(IntEnum):
    NO_AUTH = 0x00
    GSSAPI = 0x01
    PASSWORD = 0x02
    NO_ACCEPTABLE = 0xFF


class Rep(IntEnum):
    """CONNECT reply codes (RFC 1928 section 6)."""

    SUCCEEDED = 0x00
    GENERAL_FAILURE = 0x01
    NOT_ALLOWED = 0x02
    NETWORK_UNREACHABLE = 0x03
    HOST_UNREACHABLE = 0x04
    CONNECTION_REFUSED = 0x05
    TTL_EXPIRED = 0x06
    COMMAND_NOT_SUPPORTED = 0x07
    ADDRESS_TYPE_NOT_SUPPORTED = 0x08


@dataclass(frozen=True)
class MethodReply:
    """The method the server selected (``0xFF``: none of those offered)."""

    method: int
    offered: tuple[int, ...]

    @property
    def acceptable(self) -> bool:
        return self.method != Method.NO_ACCEPTABLE and self.method in self.offered


@dataclass(frozen=True)
class AuthReply:
    """RFC 1929: status 0 accepts the username and password; any other value rejects them."""

    status: int

    @property
    def ok(self) -> bool:
        return self.status == 0


@dataclass(frozen=True)
class ConnectReply:
    rep: int
    bound_host: str = ""
    bound_port: int = 0

    @property
    def ok(self) -> bool:
        return self.rep == Rep.SUCCEEDED


class _NeedData:
    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA = _NeedData()
Event = Union[MethodReply, AuthReply, ConnectReply, _NeedData]


class SocksProtocolError(Exception):
    """The server's bytes are not a SOCKS5 reply of the stage expected (or it closed the connection)."""

    def __init__(self, stage: str, data: bytes, why: str) -> None:
        super().__init__(f"{stage}: {why} ({data[:16].hex() or 'no bytes'})")
        self.stage, self.data, self.why = stage, data, why


class Socks5Client:
    """One CONNECT through a SOCKS5 server, without I/O.

    *host* is sent as a name (the proxy resolves it: socks5h) unless *address* is given (the client
    resolved it: socks5).  *credentials* (user, password) offer the username/password method too.
    """

    def __init__(self, host: str, port: int, *, credentials: tuple[str, str | None] | None = None,
                 address: str | None = None) -> None:
        if not 0 < port < 65536:
            raise ValueError(f"port {port} out of range")
        self.host, self.port, self.address = host, port, address
        self.credentials = credentials
        if credentials is not None:
            user, password = (credentials[0] or "").encode(), (credentials[1] or "").encode()
            if not 0 < len(user) < 256 or len(password) > 255:
                raise ValueError("RFC 1929 allows a username of 1-255 bytes and a password of up to 255")
            self._auth_request = b"\x01" + bytes([len(user)]) + user + bytes([len(password)]) + password
        self.offered: tuple[int, ...] = (Method.NO_AUTH, Method.PASSWORD) if credentials else (Method.NO_AUTH,)
        #: ``method`` -> ``auth`` (if asked) -> ``connect`` -> ``done``; ``failed`` after a refusal.
        self.stage = "method"
        self._buffer = b""
        self._closed = False
        self._out = bytes([5, len(self.offered), *self.offered])

    # -- what to send ---------------------------------------------------------------
    def data_to_send(self) -> bytes:
        out, self._out = self._out, b""
        return out

    def _connect_request(self) -> bytes:
        if self.address is not None:
            ip = ipaddress.ip_address(self.address)
            dst = (b"\x01" if ip.version == 4 else b"\x04") + ip.packed
        else:
            name = self.host.encode("idna")
            if not 0 < len(name) < 256:
                raise ValueError("a SOCKS5 domain name is 1-255 bytes")
            dst = b"\x03" + bytes([len(name)]) + name
        return b"\x05\x01\x00" + dst + self.port.to_bytes(2, "big")

    # -- what came back ---------------------------------------------------------------
    def receive_data(self, data: bytes) -> None:
        """Bytes from the server; ``b""`` means it closed the connection."""
        if not data:
            self._closed = True
        self._buffer += data
        if len(self._buffer) > MAX_REPLY:
            raise SocksProtocolError(self.stage, self._buffer, "reply longer than any SOCKS5 reply")

    def next_event(self) -> Event:
        """The reply of the current stage, or :data:`NEED_DATA`; queues the next request."""
        stage, buf = self.stage, self._buffer
        if stage in ("done", "failed"):
            raise SocksProtocolError(stage, b"", "the exchange is over")
        needed = self._needed(stage, buf)
        if needed is None or len(buf) < needed:
            if self._closed:
                self.stage = "failed"
                raise SocksProtocolError(stage, buf, "connection closed before a complete reply")
            return NEED_DATA
        reply, self._buffer = buf[:needed], buf[needed:]
        if stage == "method":
            event: Event = MethodReply(reply[1], self.offered)
            if not event.acceptable:
                self.stage = "failed"
            elif event.method == Method.PASSWORD:
                self.stage, self._out = "auth", self._auth_request
            else:
                self.stage, self._out = "connect", self._connect_request()
            return event
        if stage == "auth":
            event = AuthReply(reply[1])
            if event.ok:
                self.stage, self._out = "connect", self._connect_request()
            else:
                self.stage = "failed"
            return event
        event = ConnectReply(reply[1], *_bound(reply))
        self.stage = "done" if event.ok else "failed"
        return event

    def _needed(self, stage: str, buf: bytes) -> int | None:
        """How many bytes the current reply has (None: not known yet); raise on bytes that are not SOCKS5."""
        if not buf:
            return None
        version = 1 if stage == "auth" else 5
        # RFC 1929's subnegotiation version is 1; some servers answer it with 5: both mean the same reply.
        if buf[0] != version and not (stage == "auth" and buf[0] == 5):
            raise SocksProtocolError(stage, buf, "not a SOCKS5 reply")
        if stage != "connect":
            return 2
        if len(buf) < 4:
            return None
        atyp = buf[3]
        if atyp == 1:
            return 10
        if atyp == 4:
            return 22
        if atyp == 3:
            return None if len(buf) < 5 else 7 + buf[4]
        if buf[1] != Rep.SUCCEEDED:
            return 4  # some servers send a short refusal: the code is what matters
        raise SocksProtocolError(stage, buf, f"unknown address type {atyp}")


def _bound(reply: bytes) -> tuple[str, int]:
    atyp = reply[3] if len(reply) > 3 else 0
    try:
        if atyp == 1 and len(reply) >= 10:
            return socket.inet_ntop(socket.AF_INET, reply[4:8]), int.from_bytes(reply[8:10], "big")
        if atyp == 4 and len(reply) >= 22:
            return socket.inet_ntop(socket.AF_INET6, reply[4:20]), int.from_bytes(reply[20:22], "big")
        if atyp == 3 and len(reply) >= 7:
            n = reply[4]
            return reply[5:5 + n].decode("ascii", "replace"), int.from_bytes(reply[5 + n:7 + n], "big")
    except (OSError, ValueError):
        pass
    return "", 0


def negotiate(sock: socket.socket, client: Socks5Client, deadline: Deadline) -> list[Event]:
    """Run *client* over the connected *sock* until CONNECT succeeds or a stage refuses; return its replies.

    Each read waits at most what is left of *deadline* (silence: ``ProbeError(NO_ANSWER)``); socket errors and
    :class:`SocksProtocolError` propagate (the caller classifies them).
    """
    events: list[Event] = []
    while True:
        out = client.data_to_send()
        if out:
            sock.settimeout(max(deadline.remaining(), 0.001))
            sock.sendall(out)
        event = client.next_event()
        if event is NEED_DATA:
            sock.settimeout(max(deadline.check(f"SOCKS5 {client.stage} reply"), 0.001))
            try:
                client.receive_data(sock.recv(MAX_REPLY))
            except (socket.timeout, TimeoutError):
                # Connected, and silent: not "unreachable" (an HTTP proxy waits for the rest of a request line).
                raise ProbeError(Cause.NO_ANSWER, f"no SOCKS5 {client.stage} reply within {deadline.seconds:g}s") \
                    from None
            continue
        events.append(event)
        if client.stage in ("done", "failed"):
            return events
