"""Fetching a PAC (proxy auto-config) file: a local path, or a URL fetched direct, bounded, like browsers do.

The proxy a PAC file describes may not be usable yet, so the file is never
fetched through it.  The answer is read by the one HTTP reader
(:mod:`pytest_proxydiag.net.http`); an ``https://`` PAC URL is verified with
the system's trust store.
"""

from __future__ import annotations

import socket
import ssl
from pathlib import Path
from typing import Mapping
from urllib.parse import urlsplit

from pytest_proxydiag.net.http import read_body, read_head
from pytest_proxydiag.net.results import EXPECTED_NETWORK_ERRORS, Cause, Deadline, ProbeError, classify_oserror

__all__ = ["fetch_pac", "MAX_PAC"]

MAX_PAC = 1024 * 1024


def fetch_pac(pac_url: str, timeout: float, *,
              resolve: Mapping[tuple[str, int], str] | None = None) -> tuple[str | None, str]:
    """(the PAC file's text, "") or (None, why it could not be read); never raises for network trouble."""
    if "://" not in pac_url or pac_url.startswith("file://"):
        path = Path(pac_url.removeprefix("file://")).expanduser()
        try:
            with open(path, "rb") as f:
                return f.read(MAX_PAC).decode("utf-8", "replace"), ""
        except OSError:
            return None, f"cannot read {path}"
    parts = urlsplit(pac_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None, f"cannot fetch {pac_url}: only http://, https:// and file paths are supported"
    try:
        return _fetch_http(parts, timeout, resolve or {}), ""
    except EXPECTED_NETWORK_ERRORS as exc:
        err = classify_oserror(exc, "fetching the PAC file")
        return None, f"cannot fetch {pac_url}: {err.detail}"


def _fetch_http(parts, timeout: float, resolve: Mapping[tuple[str, int], str]) -> str:
    host = parts.hostname
    port = parts.port or (443 if parts.scheme == "https" else 80)
    deadline = Deadline(timeout * 2)
    address = resolve.get((host.lower(), port), host)
    sock = socket.create_connection((address, port), timeout=timeout)
    try:
        if parts.scheme == "https":
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=host)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        hostport = host if parts.port is None else f"{host}:{port}"
        sock.settimeout(timeout)
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {hostport}\r\nUser-Agent: pytest-proxydiag\r\n"
                     f"Accept: */*\r\nConnection: close\r\n\r\n".encode("latin-1"))
        reply, reader = read_head(sock, Deadline(min(timeout, deadline.remaining())), f"GET {parts.geturl()}")
        if reply.status != 200:
            raise ProbeError(Cause.ERROR, f"the server answered {reply.status_line}")
        body, _truncated = read_body(sock, reader, deadline, limit=MAX_PAC)
        return body.decode("utf-8", "replace")
    finally:
        sock.close()
