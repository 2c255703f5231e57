"""The project's own tests: a loopback guard for the whole run, and helpers to run a diagnosis.

Everything these tests contact is on 127.0.0.1/::1.  The guard below makes that
a property of the test process rather than a promise: a connect or a name
lookup for anything else fails loudly.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket

import pytest

_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}
_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo


class OutsideNetworkError(OSError):
    pass


def _is_loopback(host) -> bool:
    if isinstance(host, bytes):
        host = host.decode()
    host = str(host).strip("[]").split("%")[0]
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _guarded_connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
        raise OutsideNetworkError(f"loopback guard: refusing to connect to {address!r}")
    return _real_connect(self, address)


def _guarded_connect_ex(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
        raise OutsideNetworkError(f"loopback guard: refusing to connect to {address!r}")
    return _real_connect_ex(self, address)


def _guarded_getaddrinfo(host, *args, **kwargs):
    if host is not None and not _is_loopback(host):
        raise socket.gaierror(socket.EAI_NONAME, f"loopback guard: refusing to resolve {host!r}")
    return _real_getaddrinfo(host, *args, **kwargs)


socket.socket.connect = _guarded_connect
socket.socket.connect_ex = _guarded_connect_ex
socket.getaddrinfo = _guarded_getaddrinfo


def require_squid() -> str:
    """The squid binary, or skip (an error under CI=true, where .ci/run installs it)."""
    path = shutil.which("squid") or (os.path.exists("/usr/sbin/squid") and "/usr/sbin/squid") or None
    if path:
        return path
    message = "squid is not installed (Debian: apt-get install squid-openssl)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message}; under CI=true this is an error, not a skip")
    pytest.skip(message)
