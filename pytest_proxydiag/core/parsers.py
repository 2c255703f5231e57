"""Parsers of option values: text in, a usable value out, or ValueError saying why not.

One function per kind of value (seconds, sizes, ports, URLs, paths, regions); the
:data:`pytest_proxydiag.core.config.OPTIONS` table names which one each option uses.
A message completes the sentence "invalid --proxydiag-X value 'V' from SOURCE: ...".

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import math
import os
import re
from typing import Any
from urllib.parse import urlsplit


def parse_seconds(text: Any) -> float:
    try:
        value = float(str(text).strip())
    except ValueError:
        raise ValueError("must be a positive number of seconds") from None
    if not (math.isfinite(value) and value > 0):
        raise ValueError("must be a positive number of seconds")
    return value


def parse_bool(text: Any) -> bool:
    if isinstance(text, bool):
        return text
    t = str(text).strip().lower()
    if t in ("1", "true", "yes", "on"):
        return True
    if t in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("must be true or false")


def parse_sizes(text: Any) -> list[int]:
    items = text if isinstance(text, list) else str(text).replace(",", " ").split()
    if not items:
        raise ValueError("must list at least one size, like 16K,1M")
    return [parse_size(str(item)) for item in items]


MAX_PAYLOAD = 1024 ** 3


def parse_size(text: str) -> int:
    t = text.strip().upper().removesuffix("B")
    mult = 1
    for suffix, m in (("KI", 1024), ("MI", 1024 ** 2), ("K", 1024), ("M", 1024 ** 2)):
        if t.endswith(suffix):
            t, mult = t[: -len(suffix)], m
            break
    try:
        number = float(t)
    except ValueError:
        raise ValueError(f"{text.strip()!r} is not a size like 16K or 1M") from None
    if not (math.isfinite(number) and 0 < number * mult <= MAX_PAYLOAD):
        raise ValueError("sizes must be positive and at most 1024M")
    return int(number * mult)


def _whole_number(text: Any, low: int, high: int, why: str) -> int:
    try:
        value = int(str(text).strip())
    except ValueError:
        raise ValueError(why) from None
    if not low <= value <= high:
        raise ValueError(why)
    return value


def parse_port(text: Any) -> int:
    return _whole_number(text, 1, 65535, "a port is a number from 1 to 65535")


def parse_health_samples(text: Any) -> int:
    return _whole_number(text, 1, 50, "must be a whole number from 1 to 50")


def parse_resolve(text: str) -> tuple[str, int, str]:
    host, sep, rest = str(text).strip().partition(":")
    port, sep2, addr = rest.partition(":")
    if not (sep and sep2 and host and port.isdigit() and addr):
        raise ValueError("must be HOST:PORT:ADDRESS, like curl --resolve")
    addr = addr.strip("[]")
    import ipaddress  # not at module level: the dormant plugin imports this module

    try:
        ipaddress.ip_address(addr)
    except ValueError:
        raise ValueError(f"{addr!r} is not an IP address (HOST:PORT:ADDRESS, like curl --resolve)") from None
    return host.lower(), parse_port(port), addr


def parse_reference(text: str) -> tuple[str, int] | None:
    """``HOST:PORT`` of the name every proxy should let through (the flowchart's step 3), or None for ``none``."""
    text = str(text).strip()
    if text.lower() in ("none", "off", ""):
        return None
    host, sep, port = text.rpartition(":")
    host = host.strip("[]").lower()
    if not (sep and host and port.isdigit()) or any(c in host for c in "/@ "):
        raise ValueError("must be HOST:PORT (like google.com:443), or none")
    return host, parse_port(port)


def parse_url(text: str) -> str:
    parts = urlsplit(str(text).strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL with a host")
    try:
        parts.port
    except ValueError:
        raise ValueError("has an invalid port") from None
    return str(text).strip()


def parse_proxy(text: str) -> str:
    from pytest_proxydiag.core.proxyurl import ProxyURLError, parse_proxy_url

    try:
        parse_proxy_url(str(text), source="this option")
    except ProxyURLError as exc:
        raise ValueError(str(exc).replace("the proxy URL from this option ", "")) from None
    return str(text)


def parse_clients(text: str) -> str:
    names = [n.strip() for n in str(text).lower().split(",") if n.strip()]
    known = ("curl", "requests", "httpx", "node", "claude", "boto3")  # proof.clients.CLIENT_NAMES, kept light here
    if names in (["auto"], ["all"], ["none"]):
        return names[0]
    unknown = [n for n in names if n not in known]
    if not names or unknown:
        raise ValueError(f"must be auto, none, or a comma list of {','.join(known)}")
    return ",".join(names)


def parse_env_name(text: str) -> str:
    """The name of an environment variable (the value itself is never taken from an option)."""
    value = str(text).strip()
    if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", value):
        raise ValueError("must be the name of an environment variable, like ANTHROPIC_AUTH_TOKEN (not its value)")
    return value


REGION = r"^(global|[a-z]{2,}(-[a-z0-9]+)+)$"


def parse_region(text: str) -> str:
    value = str(text).strip().lower()
    if not re.match(REGION, value):
        raise ValueError("must be a region name like us-east-1 or europe-west4")
    return value


def parse_existing_file(text: str) -> str:
    value = str(text).strip()
    if not value:
        raise ValueError("is empty; name a file")
    path = os.path.expanduser(value)
    if not os.path.exists(path):
        raise ValueError("no such file")
    if os.path.isdir(path):
        raise ValueError("is a directory; name a file")
    return value


def unwritable_because(path: str) -> str | None:
    """Why a file cannot be created at *path*: a file where a directory must be."""
    p = os.path.abspath(os.path.expanduser(path))
    parent = os.path.dirname(p)
    while parent and not os.path.exists(parent):
        up = os.path.dirname(parent)
        if up == parent:
            break
        parent = up
    if parent and os.path.exists(parent) and not os.path.isdir(parent):
        return f"cannot be created: {parent} is a file, not a directory"
    return None


def parse_output_file(text: str) -> str:
    value = str(text).strip()
    if not value:
        raise ValueError("is empty; name a file to write")
    if os.path.isdir(os.path.expanduser(value)):
        raise ValueError("is a directory; name a file to write")
    why = unwritable_because(value)
    if why:
        raise ValueError(why)
    return value


def parse_output_path(text: str) -> str:
    value = str(text).strip()
    if not value:
        raise ValueError("is empty; name a file or directory to write")
    why = unwritable_because(value.rstrip("/\\") or value)
    if why:
        raise ValueError(why)
    return value


def parse_pac(text: str) -> str:
    value = str(text).strip()
    scheme = urlsplit(value).scheme.lower()
    if scheme in ("http", "https"):
        return parse_url(value)
    if scheme == "file":
        return value
    try:
        return parse_existing_file(value)
    except ValueError:
        raise ValueError("must be an http://, https:// or file:// URL or an existing file") from None
