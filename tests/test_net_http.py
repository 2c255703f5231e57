"""The one HTTP/1.1 reader (net/http.py, on h11): framing, bounds and the precise cause of a bad reply.

Byte-level cases feed :class:`ResponseReader` directly; the socket helpers are
driven over a local socket pair, with the peer writing on its own thread.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest

from pytest_proxydiag.net.http import (MAX_HEAD, ResponseReader, parse_head, parse_request_head, read_body,
                                       read_head)
from pytest_proxydiag.net.results import Cause, Deadline, ProbeError


def _reader(data: bytes, method: str = "GET", close: bool = False) -> ResponseReader:
    reader = ResponseReader(method, f"{method} test")
    reader.feed(data)
    if close:
        reader.feed(b"")
    return reader


def _body(reader: ResponseReader) -> bytes:
    out = b""
    while (piece := reader.body_piece()):
        out += piece
    return out


def _cause(data: bytes, close: bool = False) -> tuple[Cause, str]:
    with pytest.raises(ProbeError) as info:
        _reader(data, close=close).head()
    return info.value.cause, info.value.detail


def test_chunked_body_whose_data_contains_the_end_marker_is_read_whole():
    # The old reader stopped at any read ending in b"0\r\n\r\n", even inside a chunk's data.
    payload = b"abc0\r\n\r\n"
    data = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            + b"%x\r\n" % len(payload) + payload + b"\r\n" + b"3\r\nxyz\r\n0\r\n\r\n")
    reader = _reader(data)
    assert reader.head().status == 200
    assert _body(reader) == payload + b"xyz" and reader.ended


def test_content_length_body_fed_byte_by_byte():
    data = b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"corp\"\r\n" \
           b"Content-Length: 5\r\n\r\nhello"
    reader = ResponseReader("CONNECT", "CONNECT x")
    reply = None
    body = b""
    for byte in data:
        reader.feed(bytes([byte]))
        reply = reply or reader.head()
        if reply is not None:
            body += _body(reader)
    assert reply.status == 407 and reply.proxy_authenticate == ['Basic realm="corp"']
    assert body == b"hello" and reader.ended


def test_connect_200_leaves_the_tunnel_bytes_alone():
    reader = _reader(b"HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x01", method="CONNECT")
    assert reader.head().status == 200
    assert reader.body_piece() is None and reader.leftover == b"\x16\x03\x01"


def test_interim_100_continue_is_skipped_and_head_has_no_body():
    reader = _reader(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", method="HEAD")
    assert reader.head().status == 200 and reader.body_piece() is None


@pytest.mark.parametrize("data, cause, text", [
    (b"\x16\x03\x01\x00\x05hello", Cause.TLS_SPOKEN, "TLS handshake"),
    (b"SSH-2.0-OpenSSH_9.2\r\n", Cause.GARBAGE, "SSH server"),
    (b"220 mail.corp ESMTP\r\n", Cause.GARBAGE, "SMTP"),
    (b"<html>hello</html>", Cause.GARBAGE, "HTTP/0.9"),
    (b"HTTP/1.1 2000 OK\r\n\r\n", Cause.GARBAGE, "malformed HTTP reply"),
    (b"HTTP/1.1 200 OK\r\nBad Header\r\n\r\n", Cause.GARBAGE, "malformed HTTP reply"),
    (b"HTTP/1.1 200 OK\r\nX: " + b"a" * (MAX_HEAD + 10), Cause.HEADER_TOO_LARGE, "exceeds 64 KiB"),
])
def test_a_reply_that_is_not_http_names_what_answered(data, cause, text):
    got, detail = _cause(data)
    assert got == cause and text in detail


def test_closing_before_or_inside_the_head_is_a_close():
    assert _cause(b"", close=True)[0] == Cause.CLOSED
    cause, detail = _cause(b"HTTP/1.1 200 OK\r\nContent-", close=True)
    assert cause == Cause.CLOSED and "middle of the reply head" in detail


def test_parse_head_and_request_head():
    assert parse_head(b"HTTP/1.0 403 Forbidden\r\nX-Squid-Error: ERR_ACCESS_DENIED 0").squid_error == \
        "ERR_ACCESS_DENIED 0"
    with pytest.raises(ProbeError):
        parse_head(b"garbage")
    head = parse_request_head(b"CONNECT api.anthropic.com:443 HTTP/1.1\r\nHost: api.anthropic.com:443\r\n"
                              b"Proxy-Authorization: Basic eDp5\r\n\r\n")
    assert (head.method, head.target, head.has_header("proxy-authorization")) == \
        ("CONNECT", "api.anthropic.com:443", True)
    assert parse_request_head(b"GET http://x/ HTTP/1.1\r\nHost: x\r\n") is None


def _peer(chunks: list[tuple[float, bytes]]):
    ours, theirs = socket.socketpair()

    def send() -> None:
        for pause, chunk in chunks:
            time.sleep(pause)
            try:
                theirs.sendall(chunk)
            except OSError:
                return
    threading.Thread(target=send, daemon=True).start()
    return ours, theirs


def test_a_slowloris_head_ends_at_the_deadline():
    ours, theirs = _peer([(0, b"HTTP/1.1 200 OK\r\n")] + [(0.1, b"X: y\r\n")] * 30)
    start = time.monotonic()
    with pytest.raises(ProbeError) as info:
        read_head(ours, Deadline(0.5), "GET test")
    assert info.value.cause == Cause.NO_ANSWER and "sent slowly" in info.value.detail
    assert time.monotonic() - start < 1.5
    ours.close()
    theirs.close()


def test_body_is_bounded_and_marked_truncated():
    big = b"x" * 5000
    ours, theirs = _peer([(0, b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(big) + big)])
    reply, reader = read_head(ours, Deadline(2), "GET test")
    body, truncated = read_body(ours, reader, Deadline(2), limit=1000)
    assert reply.status == 200 and body == big[:1000] and truncated
    ours.close()
    theirs.close()


def test_a_body_cut_short_is_marked_truncated():
    ours, theirs = _peer([(0, b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this")])
    reply, reader = read_head(ours, Deadline(2), "GET test")
    time.sleep(0.1)
    theirs.close()
    body, truncated = read_body(ours, reader, Deadline(2))
    assert body == b"only this" and truncated
    ours.close()
