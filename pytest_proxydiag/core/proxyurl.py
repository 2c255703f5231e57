"""Parsing proxy URLs the way a person typed them, and the way clients read them.

A proxy URL is the one value every client must agree on, and the one users
most often get subtly wrong: a password with an ``@`` in it, a missing
scheme, a port of 99999, quotes pasted from a shell.  :func:`parse_proxy_url`
reads the *intended* URL leniently (the last ``@`` before the host separates
the credentials, like curl) and records, as :attr:`ProxyURL.problems`, every
place where a strict client would read something else.

A value that cannot be a proxy URL at all raises :class:`ProxyURLError`,
whose message says what is wrong and what to write instead.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from urllib.parse import quote, unquote

__all__ = ["ProxyURL", "ProxyURLError", "parse_proxy_url", "SUPPORTED_SCHEMES"]

#: Schemes a proxy URL may carry, and what speaks them.
SUPPORTED_SCHEMES = {
    "http": "HTTP proxy (CONNECT for https targets)",
    "https": "HTTP proxy spoken to over TLS",
    "socks5": "SOCKS5 proxy, names resolved by the client",
    "socks5h": "SOCKS5 proxy, names resolved by the proxy",
    "socks4": "SOCKS4 proxy",
    "socks4a": "SOCKS4a proxy",
    "socks": "SOCKS proxy (curl reads it as SOCKS4)",
}
DEFAULT_PORTS = {"http": 80, "https": 443, "socks5": 1080, "socks5h": 1080, "socks4": 1080, "socks4a": 1080, "socks": 1080}
# Characters that must be percent-encoded inside user:password, because a
# client splitting the URL stops at them.  A backslash (``CORP\\jdoe``) is one: WHATWG URL parsers (Node,
# Claude Code) and urllib3 read it as "/" and take what follows for the path (measured: requests and Claude
# Code 2.1.332 look up the host "corp"), while curl and httpx send it.
_RESERVED_IN_USERINFO = set("@:/?#[]% \\")


class ProxyURLError(ValueError):
    """The value cannot be used as a proxy URL; the message says what to do."""


@dataclass(frozen=True)
class ProxyURL:
    """A proxy URL split into its parts, with credentials decoded.

    ``str(proxy_url)`` never shows the password; use :meth:`with_password`
    only to hand the URL to a client in memory.
    """

    scheme: str
    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    raw: str = field(default="", repr=False, compare=False)
    #: Human-readable notes on how the value deviates from a clean URL.
    problems: tuple[str, ...] = ()
    #: True when user or password contains characters clients cannot parse unencoded.
    needs_encoding: bool = False
    scheme_was_missing: bool = False
    #: What a paste left around the value ("blanks", "quotes"): this parser reads past it, clients do not.
    pasted: tuple[str, ...] = ()

    @property
    def has_credentials(self) -> bool:
        return self.username is not None

    @property
    def host_for_url(self) -> str:
        return f"[{self.host}]" if ":" in self.host else self.host

    @property
    def hostport(self) -> str:
        return f"{self.host_for_url}:{self.port}"

    @property
    def is_socks(self) -> bool:
        return self.scheme.startswith("socks")

    def redacted(self) -> str:
        """The URL with the password replaced by ``***``."""
        cred = ""
        if self.username is not None:
            cred = quote(self.username, safe="") + (":***" if self.password is not None else "") + "@"
        return f"{self.scheme}://{cred}{self.hostport}"

    def encoded(self, password_placeholder: str | None = None) -> str:
        """The URL with percent-encoded credentials, safe for every client.

        With *password_placeholder*, that text stands in for the password
        (used when the URL is shown to a person).
        """
        cred = ""
        if self.username is not None:
            cred = quote(self.username, safe="")
            if self.password is not None:
                pw = password_placeholder if password_placeholder is not None else quote(self.password, safe="")
                cred += ":" + pw
            cred += "@"
        return f"{self.scheme}://{cred}{self.hostport}"

    def without_credentials(self) -> str:
        return f"{self.scheme}://{self.hostport}"

    def __str__(self) -> str:
        return self.redacted()


_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
#: A known scheme with a mistyped separator: ``http:/host``, ``http//host``, ``http:\\host`` (clients disagree on
#: these: Node's URL parser repairs the first, Python's reads a path and no host).
_SCHEME_TYPO = re.compile(r"^(https?|socks5h?|socks4a?)(:/(?!/)|//|:\\\\?)(?=[^/\\])", re.IGNORECASE)


def parse_proxy_url(text: str, *, source: str = "value") -> ProxyURL:
    """Parse *text* as a proxy URL; raise :class:`ProxyURLError` if it is not one.

    *source* names where the value came from and appears in error messages
    (``"env:HTTPS_PROXY"``, ``"cli"``).
    """
    if text is None:
        raise ProxyURLError(f"no proxy URL in {source}")
    problems: list[str] = []
    pasted: list[str] = []
    raw = text
    value = text.strip()
    if value != text:
        pasted.append("blanks")
        problems.append("surrounding whitespace (pasted from a shell?) was ignored")
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1].strip()
        pasted.append("quotes")
        problems.append("surrounding quotes are part of the value; remove them")
    if not value:
        raise ProxyURLError(f"the proxy URL from {source} is empty; set it to http://HOST:PORT")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ProxyURLError(f"the proxy URL from {source} contains control characters (a newline?); "
                            "set it again on one line as http://HOST:PORT")

    typo = _SCHEME_TYPO.match(value)
    if typo:
        rest, scheme = value[typo.end():], typo.group(1).lower()
        at = _last_userinfo_at(rest)
        if at is not None:  # never echo a password: the user retypes it
            rest = rest[:at].partition(":")[0] + (":***" if ":" in rest[:at] else "") + rest[at:]
        raise ProxyURLError(f"the proxy URL from {source} has {typo.group(0)!r} where '{scheme}://' belongs; "
                            f"write {scheme}://{rest}")
    scheme_was_missing = False
    m = _SCHEME_RE.match(value)
    if m:
        scheme = m.group(1).lower()
        rest = value[m.end():]
    else:
        scheme = "http"
        rest = value
        scheme_was_missing = True
        problems.append("no scheme: curl and requests assume http://, Node and some SDKs reject it; "
                        "write http:// explicitly")
    if scheme not in SUPPORTED_SCHEMES:
        raise ProxyURLError(
            f"the proxy URL from {source} has the unknown scheme {scheme!r}; "
            f"use http:// (or one of {', '.join(sorted(SUPPORTED_SCHEMES))})")

    # The authority runs to the first '/', '?' or '#' after the last '@'
    # (curl's reading: the password may contain those characters unencoded).
    at = _last_userinfo_at(rest)
    userinfo = None
    if at is not None:
        userinfo, hostpart = rest[:at], rest[at + 1:]
    else:
        hostpart = rest
    cut = len(hostpart)
    for sep in "/?#":
        i = hostpart.find(sep)
        if i != -1:
            cut = min(cut, i)
    path = hostpart[cut:]
    hostpart = hostpart[:cut]
    if path not in ("", "/"):
        problems.append(f"a path {path!r} after the host is ignored by clients; remove it")

    host, port = _split_host_port(hostpart, scheme, source)

    username = password = None
    needs_encoding = False
    if userinfo is not None:
        user_raw, sep, pw_raw = userinfo.partition(":")
        username = _decode(user_raw, "user name", source, problems)
        password = _decode(pw_raw, "password", source, problems) if sep else None
        if any(c in _RESERVED_IN_USERINFO - {"%"} for c in user_raw) or any(
                c in _RESERVED_IN_USERINFO - {"%"} for c in pw_raw):
            needs_encoding = True
            problems.append("the credentials contain unencoded special characters (@ : / ? # [ ] \\ or space); "
                            "percent-encode them")
        elif "%" in userinfo and not _valid_percent(userinfo):
            needs_encoding = True
    return ProxyURL(scheme=scheme, host=host, port=port, username=username, password=password, raw=raw,
                    problems=tuple(problems), needs_encoding=needs_encoding,
                    scheme_was_missing=scheme_was_missing, pasted=tuple(pasted))


def _last_userinfo_at(rest: str) -> int | None:
    at = rest.rfind("@")
    return None if at == -1 else at


def _split_host_port(hostpart: str, scheme: str, source: str) -> tuple[str, int]:
    if not hostpart:
        raise ProxyURLError(f"the proxy URL from {source} has no host; write it as {scheme}://HOST:PORT")
    if hostpart.startswith("["):
        end = hostpart.find("]")
        if end == -1:
            raise ProxyURLError(f"the proxy URL from {source} has an unclosed IPv6 bracket; write [ADDRESS]:PORT")
        host = hostpart[1:end]
        after = hostpart[end + 1:]
        if after and not after.startswith(":"):
            raise ProxyURLError(f"the proxy URL from {source} has text after the IPv6 address; write [ADDRESS]:PORT")
        port_text = after[1:] if after else ""
        try:
            ipaddress.IPv6Address(host.split("%")[0])
        except ValueError:
            raise ProxyURLError(f"the proxy URL from {source} has {host!r} in brackets, which is not an IPv6 address")
    elif hostpart.count(":") > 1:
        # An IPv6 literal without brackets: ambiguous, clients disagree.
        try:
            ipaddress.IPv6Address(hostpart)
        except ValueError:
            raise ProxyURLError(f"the proxy URL from {source} has more than one ':' in the host; "
                                "an IPv6 address must be written in brackets: http://[::1]:3128")
        raise ProxyURLError(f"the proxy URL from {source} has an IPv6 address without brackets; "
                            f"write http://[{hostpart}]:PORT")
    else:
        host, _, port_text = hostpart.partition(":")
        if ":" not in hostpart:
            port_text = ""
        elif port_text == "":
            raise ProxyURLError(f"the proxy URL from {source} ends in ':' with no port; write {scheme}://{host}:PORT")
    if not host:
        raise ProxyURLError(f"the proxy URL from {source} has no host; write it as {scheme}://HOST:PORT")
    try:
        host = host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError:
        raise ProxyURLError(f"the proxy URL from {source} has a host name {host!r} that is not a valid domain name")
    if any(c in host for c in " \t\"'<>\\"):
        raise ProxyURLError(f"the proxy URL from {source} has invalid characters in the host {host!r}")
    if port_text == "":
        port = DEFAULT_PORTS[scheme]
    else:
        if not port_text.isdigit():
            raise ProxyURLError(f"the proxy URL from {source} has the port {port_text!r}, which is not a number")
        port = int(port_text)
        if not 1 <= port <= 65535:
            raise ProxyURLError(f"the proxy URL from {source} has the port {port}, outside 1-65535")
    return host.lower(), port


def _valid_percent(text: str) -> bool:
    return re.search(r"%(?![0-9A-Fa-f]{2})", text) is None


def _decode(text: str, what: str, source: str, problems: list[str]) -> str:
    if "%" in text and not _valid_percent(text):
        problems.append(f"the {what} contains a '%' that is not a valid %XX escape; encode it as %25")
        return text
    try:
        return unquote(text, errors="strict")
    except UnicodeDecodeError:
        problems.append(f"the {what} percent-decodes to bytes that are not UTF-8")
        return text
