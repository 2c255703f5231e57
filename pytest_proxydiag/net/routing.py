"""Which proxy each HTTP client uses for a URL, and whether NO_PROXY sends it direct.

The same environment routes differently in different clients. Every rule below is
taken from the client's own source (cited next to it) and checked against the
real client in tests/test_routing.py: requests, urllib and httpx in-process; curl,
Node/undici, Go and Claude Code by running them against local listeners.

Clients (``CLIENTS``):

- ``curl``     libcurl 7.88 (lib/url.c detect_proxy, lib/noproxy.c Curl_check_noproxy)
- ``requests`` requests.utils.should_bypass_proxies + urllib's proxy_bypass fallback
- ``urllib``   urllib.request.getproxies_environment / proxy_bypass_environment
- ``httpx``    httpx._utils.get_environment_proxies + URLPattern (the Anthropic Python SDK)
- ``node``     undici EnvHttpProxyAgent (lib/dispatcher/env-http-proxy-agent.js)
- ``claude``   Claude Code (Bun binary; rules measured against version 2.1.332)
- ``go``       net/http ProxyFromEnvironment = golang.org/x/net/http/httpproxy
"""

from __future__ import annotations

import ipaddress
import re
import socket
import struct
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence
from urllib.parse import urlsplit

__all__ = [
    "CLIENTS", "CLIENT_LABELS", "NoProxyMatch", "Route", "no_proxy_value", "matches_no_proxy",
    "no_proxy_error", "route", "route_matrix", "corrected_no_proxy", "verify_no_proxy",
    "requests_uses_plain_suffix",
]

CLIENTS: tuple[str, ...] = ("curl", "requests", "urllib", "httpx", "node", "claude", "go")

CLIENT_LABELS: dict[str, str] = {
    "curl": "curl",
    "requests": "Python requests",
    "urllib": "Python urllib",
    "httpx": "httpx (Anthropic Python SDK)",
    "node": "Node undici EnvHttpProxyAgent",
    "claude": "Claude Code",
    "go": "Go net/http",
}

_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class NoProxyMatch:
    client: str
    entry: str  # the NO_PROXY entry as the user wrote it ("" for a built-in rule)
    rule: str   # one sentence: why this entry matched under this client's rules


@dataclass(frozen=True)
class Route:
    client: str
    url: str
    proxy: str | None           # the proxy the request goes through; None = direct
    proxy_var: str | None       # the variable the proxy came (or would have come) from
    bypass: NoProxyMatch | None  # set when NO_PROXY (or a built-in rule) sends it direct
    reason: str
    error: str | None = None    # the client cannot even start with this environment

    @property
    def direct(self) -> bool:
        return self.proxy is None


# --------------------------------------------------------------------------------------
# host helpers


def _bare_host(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host


def _ipv4(text: str) -> ipaddress.IPv4Address | None:
    try:
        return ipaddress.IPv4Address(text)
    except ValueError:
        return None


def _ipv6(text: str) -> ipaddress.IPv6Address | None:
    try:
        return ipaddress.IPv6Address(text)
    except ValueError:
        return None


def _ip(text: str):
    return _ipv4(text) or _ipv6(text)


def _effective_port(port: int | None, scheme: str) -> int:
    return port if port is not None else _DEFAULT_PORTS.get(scheme, 0)


def _present(env: Mapping[str, str], name: str) -> bool:
    return name in env


def _nonempty(env: Mapping[str, str], name: str) -> bool:
    return bool(env.get(name))


# --------------------------------------------------------------------------------------
# which NO_PROXY value each client reads


def _urllib_no_proxy(env: Mapping[str, str]) -> tuple[str | None, str | None]:
    # urllib.request.getproxies_environment: a first pass takes any *_proxy name
    # case-insensitively, a second pass lets the lowercase name win, and an EMPTY
    # lowercase value removes the key altogether (then NO_PROXY is ignored too).
    if "no_proxy" in env:
        return (env["no_proxy"], "no_proxy") if env["no_proxy"] else (None, None)
    if env.get("NO_PROXY"):
        return env["NO_PROXY"], "NO_PROXY"
    return None, None


def no_proxy_value(env: Mapping[str, str], client: str) -> tuple[str | None, str | None]:
    """The NO_PROXY value ``client`` reads from ``env`` and the variable it comes from."""
    _check_client(client)
    if client in ("urllib", "httpx"):
        # httpx calls urllib.request.getproxies() (httpx/_utils.py get_environment_proxies)
        return _urllib_no_proxy(env)
    if client == "go":
        # httpproxy.FromEnvironment: getEnvAny("NO_PROXY", "no_proxy"): UPPERCASE first,
        # an empty value counts as unset.
        for name in ("NO_PROXY", "no_proxy"):
            if env.get(name):
                return env[name], name
        return None, None
    if client == "node":
        # undici: process.env.no_proxy ?? process.env.NO_PROXY: a lowercase no_proxy that
        # is SET, even to "", wins and hides NO_PROXY.
        for name in ("no_proxy", "NO_PROXY"):
            if _present(env, name):
                return env[name], name
        return None, None
    # curl (curl_getenv returns NULL for an empty value: measured), requests
    # (os.environ.get("no_proxy") or os.environ.get("NO_PROXY")), Claude Code (measured):
    # lowercase first, an empty value counts as unset.
    for name in ("no_proxy", "NO_PROXY"):
        if env.get(name):
            return env[name], name
    return None, None


# --------------------------------------------------------------------------------------
# matchers: (host, port, scheme, value) -> (entry, rule) | None
# host is lowercase, without brackets; port is the port written in the URL (None if absent)

_Match = tuple[str, str] | None


def _curl_tokens(value: str) -> list[str]:
    # curl 7.88 lib/noproxy.c: blanks and commas both end a token (7.86-8.x keep going
    # after a blank; space-separated lists are "deprecated" but still honoured).
    return [t for t in re.split(r"[ \t,]+", value) if t]


def _curl_cidr4(host: str, network: str, bits: int) -> bool:
    # Curl_cidr4_match: bits > 32 is rejected; 0 or 32 means exact comparison.
    if bits > 32:
        return False
    try:
        a = struct.unpack("!I", socket.inet_pton(socket.AF_INET, host))[0]
        c = struct.unpack("!I", socket.inet_pton(socket.AF_INET, network))[0]
    except OSError:
        return False
    if bits and bits != 32:
        mask = (0xFFFFFFFF << (32 - bits)) & 0xFFFFFFFF
        return not ((a ^ c) & mask)
    return a == c


def _match_curl(host: str, port: int | None, scheme: str, value: str) -> _Match:
    # lib/noproxy.c Curl_check_noproxy (7.88). Only the whole value "*" means everything.
    if value == "*":
        return "*", "NO_PROXY is exactly '*', which curl treats as: no proxy for any host"
    # curl 7.88 hands the IPv6 host over without brackets, so the TYPE_IPV6 branch never
    # runs: an IPv6 address is compared as a host NAME (measured: '::1' matches, '[::1]'
    # and every IPv6 CIDR such as '::1/128' do not).
    try:
        socket.inet_pton(socket.AF_INET, host)
        kind = 4
    except OSError:
        kind = 0
    name = host[:-1] if (kind == 0 and host.endswith(".")) else host
    for token in _curl_tokens(value):
        if kind == 0:
            tok = token[:-1] if token.endswith(".") else token
            if tok.startswith("."):
                tok = tok[1:]
            tok = tok.lower()
            if tok == name:
                return token, f"curl: '{token}' equals the host name"
            if tok and len(tok) < len(name) and name.endswith("." + tok):
                return token, f"curl: the host is a subdomain of '{token}'"
        else:
            check, _, bits_text = token.partition("/")
            m = re.match(r"\d*", bits_text)
            bits = int(m.group(0)) if m and m.group(0) else 0
            ok = _curl_cidr4(name, check, bits)
            if ok:
                what = "lies in the CIDR range" if "/" in token else "equals the address"
                return token, f"curl: the IP address {what} '{token}'"
    return None


def _urllib_splitport(host: str) -> tuple[str, str | None]:
    # urllib.parse._splitport: the LAST ':digits' is taken as a port (even inside '::1').
    m = re.fullmatch(r"(.*):([0-9]*)", host, re.DOTALL)
    if m:
        return m.group(1), m.group(2)
    return host, None


def _urllib_bypass(host_for_urllib: str, value: str, who: str) -> _Match:
    # urllib.request.proxy_bypass_environment
    if value == "*":
        return "*", f"{who}: NO_PROXY is exactly '*' (urllib's proxy_bypass_environment)"
    host = host_for_urllib.lower()
    hostonly, _port = _urllib_splitport(host)
    for raw in value.split(","):
        name = raw.strip()
        if not name:
            continue
        name = name.lstrip(".").lower()
        if hostonly == name or host == name:
            return raw.strip(), f"{who}: '{raw.strip()}' equals the host (urllib ignores leading dots)"
        if hostonly.endswith("." + name) or host.endswith("." + name):
            return raw.strip(), f"{who}: the host ends with '.{name}' (urllib domain-suffix rule)"
    return None


def _urllib_host(host: str, port: int | None) -> str:
    # urllib passes Request.host: the URL's netloc host, brackets kept, port if written.
    h = f"[{host}]" if ":" in host else host
    return f"{h}:{port}" if port is not None else h


def _match_urllib(host: str, port: int | None, scheme: str, value: str) -> _Match:
    return _urllib_bypass(_urllib_host(host, port), value, "urllib")


_REQUESTS_PLAIN_SUFFIX: bool | None = None


def requests_uses_plain_suffix() -> bool:
    """True when the installed requests (< 2.34) matches NO_PROXY entries as plain string
    suffixes (``example.com`` also matches ``notexample.com``). requests 2.34 strips
    leading dots and only matches whole labels. Without requests installed: the older rule
    (it is what most deployed copies still do)."""
    global _REQUESTS_PLAIN_SUFFIX
    if _REQUESTS_PLAIN_SUFFIX is None:
        try:
            from importlib.metadata import version
            parts = tuple(int(p) for p in re.findall(r"\d+", version("requests"))[:2])
            _REQUESTS_PLAIN_SUFFIX = parts < (2, 34)
        except (ImportError, ValueError):   # requests not installed (PackageNotFoundError), or no version
            _REQUESTS_PLAIN_SUFFIX = True
    return _REQUESTS_PLAIN_SUFFIX


def _inet_aton_ok(text: str) -> bool:
    try:
        socket.inet_aton(text)
        return True
    except (OSError, ValueError):
        return False


def _requests_valid_cidr(entry: str) -> bool:
    # requests.utils.is_valid_cidr
    if entry.count("/") != 1:
        return False
    addr, mask = entry.split("/")
    try:
        m = int(mask)
    except ValueError:
        return False
    return 1 <= m <= 32 and _inet_aton_ok(addr)


def _requests_in_network(ip: str, net: str) -> bool:
    # requests.utils.address_in_network
    ipaddr = struct.unpack("=L", socket.inet_aton(ip))[0]
    netaddr, bits = net.split("/")
    netmask = struct.unpack("=L", socket.inet_aton(_requests_dotted_netmask(int(bits))))[0]
    network = struct.unpack("=L", socket.inet_aton(netaddr))[0] & netmask
    return (ipaddr & netmask) == (network & netmask)


def _requests_dotted_netmask(mask: int) -> str:
    bits = 0xFFFFFFFF ^ (1 << 32 - mask) - 1
    return socket.inet_ntoa(struct.pack(">I", bits))


def _match_requests_own(host: str, port: int | None, value: str, plain_suffix: bool) -> _Match:
    # requests/utils.py should_bypass_proxies: spaces are removed, then split on commas.
    entries = [e for e in value.replace(" ", "").split(",") if e]
    if _inet_aton_ok(host) and ":" not in host:  # is_ipv4_address uses inet_aton
        for e in entries:
            if _requests_valid_cidr(e):
                if _requests_in_network(host, e):
                    return e, f"requests: the IP address lies in the CIDR range '{e}'"
            elif host == e:
                return e, f"requests: '{e}' equals the IP address"
        return None
    host_with_port = f"{host}:{port}" if port else host
    for e in entries:
        if plain_suffix:
            # requests < 2.34: hostname.endswith(entry): a plain string suffix.
            if host.endswith(e) or host_with_port.endswith(e):
                if host == e or host_with_port == e:
                    return e, f"requests: '{e}' equals the host"
                rule = (f"requests (< 2.34) matches NO_PROXY entries as plain string suffixes: "
                        f"'{host}' ends with '{e}'")
                return e, rule
        else:
            stripped = e.lstrip(".")
            if host == stripped or host_with_port == stripped:
                return e, f"requests: '{e}' equals the host (leading dots ignored)"
            if host.endswith("." + stripped) or host_with_port.endswith("." + stripped):
                return e, f"requests: the host is a subdomain of '{stripped}'"
    return None


def _match_requests(host: str, port: int | None, scheme: str, value: str,
                    urllib_value: str | None = "__same__", plain_suffix: bool | None = None) -> _Match:
    if plain_suffix is None:
        plain_suffix = requests_uses_plain_suffix()
    hit = _match_requests_own(host, port, value, plain_suffix)
    if hit:
        return hit
    # ...then urllib.request.proxy_bypass(hostname): host without port or brackets, and
    # urllib's own reading of the environment (an empty lowercase no_proxy disables it).
    uv = value if urllib_value == "__same__" else urllib_value
    if uv:
        return _urllib_bypass(host, uv, "requests (via urllib.proxy_bypass)")
    return None


def _httpx_mount_keys(value: str) -> list[tuple[str, str]] | None:
    """(entry, mount key) pairs exactly as httpx/_utils.py get_environment_proxies builds
    them; None when an entry is '*' (httpx then drops every proxy)."""
    keys = []
    for raw in value.split(","):
        entry = raw.strip()
        if entry == "*":
            return None
        if not entry:
            continue
        if "://" in entry:
            keys.append((entry, entry))
        elif _ipv4(entry.split("/")[0]):
            keys.append((entry, f"all://{entry}"))
        elif _ipv6(entry.split("/")[0]):
            keys.append((entry, f"all://[{entry}]"))
        elif entry.lower() == "localhost":
            keys.append((entry, f"all://{entry}"))
        else:
            keys.append((entry, f"all://*{entry}"))
    return keys


_HTTPX_SAFE = "!$&'()*+,;=" + '"`{}%|\\'


def _httpx_pattern(key: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of httpx.URLPattern(key); ValueError where httpx raises
    InvalidURL (httpx/_urlparse.py: AUTHORITY_REGEX, encode_host, normalize_port)."""
    from urllib.parse import quote
    m = re.match(r"([a-zA-Z][a-zA-Z0-9+.-]*)?:(?://([^/?#]*))?", key)
    if not m:
        raise ValueError(f"not a URL: {key!r}")
    scheme = (m.group(1) or "").lower()
    authority = m.group(2) or ""
    a = re.fullmatch(r"(?:(.*)@)?(\[.*\]|[^:@]*):?(.*)?", authority, re.DOTALL)
    host, port_text = a.group(2), a.group(3) or ""
    if re.fullmatch(r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+", host):
        if _ipv4(host) is None:
            raise ValueError(f"Invalid IPv4 address: {host!r}")
    elif re.fullmatch(r"\[.*\]", host):
        if _ipv6(host[1:-1]) is None:
            raise ValueError(f"Invalid IPv6 address: {host!r}")
        host = host[1:-1]
    elif host.isascii():
        host = quote(host.lower(), safe=_HTTPX_SAFE)
    else:
        try:
            host = host.lower().encode("idna").decode("ascii")
        except UnicodeError:
            raise ValueError(f"Invalid IDNA hostname: {host!r}") from None
    if port_text == "":
        port = None
    else:
        try:
            port = int(port_text)
        except ValueError:
            raise ValueError(f"Invalid port: {port_text!r}") from None
        if port == {"http": 80, "https": 443}.get(scheme):
            port = None
    return ("" if scheme == "all" else scheme), ("" if host == "*" else host), port


def no_proxy_error(value: str | None, client: str) -> str | None:
    """A NO_PROXY value that makes ``client`` fail outright (not just route oddly)."""
    if not value or client != "httpx":
        return None
    # httpx turns each entry into a URLPattern (e.g. "all://*<entry>"); an entry such as
    # "[::1]" or "2001:db8::/32" is no valid URL there and httpx.Client() raises
    # InvalidURL: the Anthropic SDK cannot even start.
    for entry, key in _httpx_mount_keys(value) or []:
        try:
            _httpx_pattern(key)
        except ValueError as exc:
            return (f"httpx cannot start: NO_PROXY entry '{entry}' is not a valid host for it "
                    f"(httpx.InvalidURL: {exc}); write IPv6 addresses without brackets or ranges")
    return None


def _match_httpx(host: str, port: int | None, scheme: str, value: str) -> _Match:
    # httpx/_utils.py get_environment_proxies -> mounts; _client.py sorts them (those with
    # a host before the bare "https://" proxy mount) and takes the first URLPattern that
    # matches. httpx.URL drops a port equal to the scheme's default.
    keys = _httpx_mount_keys(value)
    if keys is None:
        return "*", "httpx: '*' anywhere in NO_PROXY disables every proxy"
    url_port = None if port == _DEFAULT_PORTS.get(scheme) else port
    for entry, key in keys:
        try:
            pscheme, phost, pport = _httpx_pattern(key)
        except ValueError:
            continue
        if pscheme and pscheme != scheme:
            continue
        if pport is not None and pport != url_port:
            continue
        if not phost:
            return entry, f"httpx: the entry '{entry}' matches every host" + (f" on port {pport}" if pport else "")
        if phost.startswith("*."):
            if re.fullmatch(r".+\." + re.escape(phost[2:]), host):
                return entry, (f"httpx: the host is a subdomain of '{phost[2:]}' "
                               f"(a leading dot excludes the domain itself)")
        elif phost.startswith("*"):
            if re.fullmatch(r"(.+\.)?" + re.escape(phost[1:]), host):
                return entry, f"httpx: the host is '{phost[1:]}' or a subdomain of it"
        elif host == phost:
            return entry, f"httpx: '{entry}' equals the host"
    return None


def _split_host_port(text: str) -> tuple[str, int | None]:
    m = re.fullmatch(r"(.*):(\d+)", text)
    if m and not m.group(1).endswith(":"):
        return m.group(1), int(m.group(2))
    return text, None


def _match_node(host: str, port: int | None, scheme: str, value: str) -> _Match:
    # undici lib/dispatcher/env-http-proxy-agent.js #parseNoProxy / #shouldProxy
    if value == "*":
        return "*", "Node/undici: NO_PROXY is exactly '*'"
    hostname = f"[{host}]" if ":" in host else host  # URL.host keeps IPv6 brackets
    eport = _effective_port(port, scheme)
    for raw in re.split(r"[,\s]", value):
        if not raw:
            continue
        m = re.fullmatch(r"(.+):(\d+)", raw)
        ehost = (m.group(1) if m else raw).lower()
        eport_entry = int(m.group(2)) if m else 0
        if eport_entry and eport_entry != eport:
            continue
        if not re.match(r"[.*]", ehost):
            if hostname == ehost:
                return raw, f"Node/undici: '{raw}' equals the host"
        else:
            suffix = re.sub(r"^\*", "", ehost, count=1)
            if hostname.endswith(suffix):
                if suffix == "":
                    return raw, "Node/undici: an entry '*' matches every host"
                return raw, (f"Node/undici: the host ends with '{suffix}' (undici matches "
                             f"'.x'/'*x' entries as plain string suffixes)")
    return None


def _match_claude(host: str, port: int | None, scheme: str, value: str) -> _Match:
    # Claude Code 2.1.332, measured in tests/test_routing.py against the real binary:
    # comma- or space-separated; '*' anywhere = everything; 'x', '.x' and '*.x' all match
    # x and its subdomains; 'host:port' entries; IPs exact or CIDR; case-insensitive;
    # trailing dots ignored; no plain-string suffix ('*x' matches nothing).
    eport = _effective_port(port, scheme)
    name = host.rstrip(".")
    ip = _ip(name)
    for raw in re.split(r"[,\s]+", value):
        if not raw:
            continue
        entry = raw.lower()
        if entry == "*":
            return raw, "Claude Code: an entry '*' sends every host direct"
        eport_entry = None
        bracket = re.fullmatch(r"\[([^\]]+)\](?::(\d+))?", entry)
        if bracket:
            entry, eport_entry = bracket.group(1), (int(bracket.group(2)) if bracket.group(2) else None)
        elif not _ipv6(entry.split("/")[0]):
            m = re.fullmatch(r"(.*):(\d+)", entry)
            if m:
                entry, eport_entry = m.group(1), int(m.group(2))
        if eport_entry is not None and eport_entry != eport:
            continue
        entry = entry.rstrip(".")
        if "/" in entry:
            try:
                net = ipaddress.ip_network(entry, strict=False)
            except ValueError:
                continue
            if ip is not None and ip.version == net.version and ip in net:
                return raw, f"Claude Code: the IP address lies in the CIDR range '{raw}'"
            continue
        if ip is not None:
            eip = _ip(entry)
            if eip is not None and eip == ip:
                return raw, f"Claude Code: '{raw}' equals the IP address"
            continue
        if entry.startswith("*."):
            entry = entry[2:]
        elif entry.startswith("."):
            entry = entry[1:]
        if entry and (name == entry or name.endswith("." + entry)):
            return raw, f"Claude Code: the host is '{entry}' or a subdomain of it"
    return None


def _match_go(host: str, port: int | None, scheme: str, value: str) -> _Match:
    # golang.org/x/net/http/httpproxy (config.init / useProxy / domainMatch)
    eport = str(_effective_port(port, scheme))
    addr = host
    ip = _ip(addr)
    ip_matchers: list[tuple[str, Callable[[], bool]]] = []
    dom_matchers: list[tuple[str, str, str, bool]] = []
    for raw in value.split(","):
        p = raw.strip().lower()
        if not p:
            continue
        if p == "*":
            return raw.strip(), "Go: an entry '*' disables the proxy for every host"
        if "/" in p:
            try:
                net = ipaddress.ip_network(p, strict=False)
                ip_matchers.append((raw.strip(), lambda net=net: ip is not None and ip.version == net.version and ip in net))
                continue
            except ValueError:
                pass
        phost, pport = p, ""
        m = re.fullmatch(r"\[([^\]]*)\]:(\d*)", p) or re.fullmatch(r"([^:\[\]]*):(\d*)", p)
        if m:
            phost, pport = m.group(1), m.group(2)
            if not phost:
                continue
        eip = _ip(phost)
        if eip is not None:
            ip_matchers.append((raw.strip(), lambda eip=eip, pport=pport: ip is not None and ip == eip and (pport in ("", eport))))
            continue
        if not phost:
            continue
        if phost.startswith("*."):
            phost = phost[1:]
        match_host = False
        if not phost.startswith("."):
            match_host = True
            phost = "." + phost
        dom_matchers.append((raw.strip(), phost, pport, match_host))
    if ip is not None:
        for raw, fn in ip_matchers:
            if fn():
                kind = "lies in the CIDR range" if "/" in raw else "equals"
                return raw, f"Go: the IP address {kind} '{raw}'"
    for raw, phost, pport, match_host in dom_matchers:
        if addr.endswith(phost) or (match_host and addr == phost[1:]):
            if pport in ("", eport):
                if addr == phost[1:]:
                    return raw, f"Go: '{raw}' equals the host"
                return raw, (f"Go: the host ends with '{phost}'"
                             + ("" if match_host else " (a leading dot matches subdomains only)"))
    return None


_MATCHERS: dict[str, Callable[[str, int | None, str, str], _Match]] = {
    "curl": _match_curl,
    "requests": _match_requests,
    "urllib": _match_urllib,
    "httpx": _match_httpx,
    "node": _match_node,
    "claude": _match_claude,
    "go": _match_go,
}


def _check_client(client: str) -> None:
    if client not in _MATCHERS:
        raise ValueError(f"unknown client {client!r}; known: {', '.join(CLIENTS)}")


def matches_no_proxy(host: str, port: int | None, value: str, client: str, *,
                     scheme: str = "https") -> NoProxyMatch | None:
    """Whether the NO_PROXY ``value`` sends ``host`` direct under ``client``'s rules.

    ``port`` is the port written in the URL (None when the URL has none); clients that
    compare ports apply the scheme's default themselves. Go's built-in exemption of
    localhost/loopback is not a NO_PROXY match: ``route()`` reports it.
    """
    _check_client(client)
    if not value:
        return None
    hit = _MATCHERS[client](_bare_host(host), port, scheme, value)
    if hit is None:
        return None
    return NoProxyMatch(client=client, entry=hit[0], rule=hit[1])


# --------------------------------------------------------------------------------------
# which proxy variable each client reads


def _first(env: Mapping[str, str], names: Sequence[str], *, empty_is_unset: bool = True):
    for n in names:
        if n in env and (env[n] or not empty_is_unset):
            return env[n], n
    return None, None


def _proxy_for(env: Mapping[str, str], client: str, scheme: str) -> tuple[str | None, str | None, str]:
    """(proxy, variable, note) that ``client`` would use for a URL of ``scheme``."""
    up = scheme.upper()
    if client == "curl":
        # lib/url.c detect_proxy: "<scheme>_proxy" lowercase; the UPPERCASE form only for
        # schemes other than http (HTTP_PROXY is ignored: CGI "httpoxy" safety); then
        # all_proxy, ALL_PROXY. curl_getenv treats an empty value as unset (measured).
        names = [f"{scheme}_proxy"] + ([] if scheme == "http" else [f"{up}_PROXY"]) + ["all_proxy", "ALL_PROXY"]
        v, n = _first(env, names)
        note = "" if scheme != "http" or not env.get("HTTP_PROXY") else "curl ignores uppercase HTTP_PROXY"
        return v, n, note
    if client in ("requests", "urllib", "httpx"):
        # urllib.request.getproxies_environment: lowercase wins; an empty lowercase value
        # removes the scheme (the UPPERCASE one is then ignored too). REQUEST_METHOD (CGI)
        # drops uppercase HTTP_PROXY.
        def get(key: str):
            low, upn = f"{key}_proxy", f"{key.upper()}_PROXY"
            if low in env:
                return (env[low], low) if env[low] else (None, None)
            if env.get(upn) and not (key == "http" and "REQUEST_METHOD" in env):
                return env[upn], upn
            return None, None
        v, n = get(scheme)
        if v is None and client != "urllib":
            # requests select_proxy: scheme, then "all"; httpx mounts "https://" before
            # "all://". urllib's ProxyHandler only installs <scheme>_open: ALL_PROXY unused.
            v, n = get("all")
        note = "" if v or client != "urllib" or not get("all")[0] else "urllib ignores ALL_PROXY"
        return v, n, note
    if client == "node":
        # undici: HTTP_PROXY = http_proxy ?? HTTP_PROXY; HTTPS_PROXY = https_proxy ??
        # HTTPS_PROXY, and when that is empty https requests use the HTTP proxy agent.
        def get(low: str, upn: str):
            if low in env:
                return env[low], low
            if upn in env:
                return env[upn], upn
            return None, None
        hv, hn = get("http_proxy", "HTTP_PROXY")
        if scheme == "https":
            sv, sn = get("https_proxy", "HTTPS_PROXY")
            if sv:
                return sv, sn, ""
            if hv:
                return hv, hn, "undici sends https through the HTTP proxy when no HTTPS proxy is set"
            return None, None, ""
        return (hv or None), (hn if hv else None), ""
    if client == "claude":
        # Claude Code (measured): the first non-empty of https_proxy, HTTPS_PROXY,
        # http_proxy, HTTP_PROXY, all_proxy, ALL_PROXY, whatever the URL's scheme.
        v, n = _first(env, ["https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"])
        note = ""
        if n and n.lower() == "http_proxy" and scheme == "https":
            note = "Claude Code sends https through HTTP_PROXY when no HTTPS proxy is set"
        return v, n, note
    if client == "go":
        # httpproxy.FromEnvironment: getEnvAny("HTTPS_PROXY", "https_proxy") for https,
        # ("HTTP_PROXY", "http_proxy") for http; UPPERCASE first; no ALL_PROXY.
        v, n = _first(env, [f"{up}_PROXY", f"{scheme}_proxy"])
        if v and scheme == "http" and env.get("REQUEST_METHOD"):
            return None, n, "Go refuses HTTP_PROXY in a CGI environment (REQUEST_METHOD set)"
        note = "Go ignores ALL_PROXY" if not v and (env.get("ALL_PROXY") or env.get("all_proxy")) else ""
        return v, n, note
    raise ValueError(client)


_PROXY_ORDER_TEXT = {
    "curl": "{s}_proxy, {S}_PROXY, all_proxy, ALL_PROXY (never uppercase HTTP_PROXY)",
    "requests": "{s}_proxy, {S}_PROXY, all_proxy, ALL_PROXY",
    "urllib": "{s}_proxy, {S}_PROXY",
    "httpx": "{s}_proxy, {S}_PROXY, all_proxy, ALL_PROXY",
    "node": "{node_order} (only with undici's EnvHttpProxyAgent or NODE_USE_ENV_PROXY; plain fetch() ignores them)",
    "claude": "https_proxy, HTTPS_PROXY, http_proxy, HTTP_PROXY, all_proxy, ALL_PROXY",
    "go": "{S}_PROXY, {s}_proxy (no ALL_PROXY)",
}


def route(url: str, env: Mapping[str, str], client: str) -> Route:
    """The full routing decision of ``client`` for ``url`` under ``env``."""
    _check_client(client)
    parts = urlsplit(url if "://" in url else f"https://{url}")
    scheme = (parts.scheme or "https").lower()
    try:
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return Route(client, url, None, None, None, f"'{url}' is not a valid URL", error="invalid URL")
    np_value, np_var = no_proxy_value(env, client)
    error = no_proxy_error(np_value, client)
    proxy, var, note = _proxy_for(env, client, scheme)
    label = CLIENT_LABELS[client]
    if error:
        return Route(client, url, None, var, None, error, error=error)
    if not proxy:
        node_order = ("https_proxy, HTTPS_PROXY, then http_proxy, HTTP_PROXY" if scheme == "https"
                      else "http_proxy, HTTP_PROXY")
        order = _PROXY_ORDER_TEXT[client].format(s=scheme, S=scheme.upper(), node_order=node_order)
        reason = f"{label} goes direct: none of the variables it reads for {scheme} URLs is set ({order})"
        if note:
            reason += f"; {note}"
        return Route(client, url, None, var, None, reason)
    if client == "go":
        bare = _bare_host(host)
        ip = _ip(bare)
        if bare == "localhost" or (ip is not None and ip.is_loopback):
            m = NoProxyMatch(client, "", "Go never uses a proxy for localhost or loopback addresses")
            return Route(client, url, None, var, m, f"{label} goes direct: {m.rule}")
    if client == "requests":
        urllib_value, _ = _urllib_no_proxy(env)
        hit = _match_requests(_bare_host(host), port, scheme, np_value or "", urllib_value=urllib_value) if (np_value or urllib_value) else None
        match = NoProxyMatch(client, hit[0], hit[1]) if hit else None
    else:
        match = matches_no_proxy(host, port, np_value or "", client, scheme=scheme) if np_value else None
    if match:
        reason = f"{label} goes direct: {np_var} entry '{match.entry}' matches ({match.rule})"
        return Route(client, url, None, var, match, reason)
    reason = f"{label} uses the proxy from {var}"
    if note:
        reason += f" ({note})"
    return Route(client, url, proxy, var, None, reason)


def route_matrix(urls: Sequence[str], env: Mapping[str, str],
                 clients: Sequence[str] = CLIENTS) -> dict[str, dict[str, Route]]:
    """client -> url -> Route."""
    return {c: {u: route(u, env, c) for u in urls} for c in clients}


# --------------------------------------------------------------------------------------
# a NO_PROXY value that works for every client

# requests' two generations differ; a corrected value must be right under both.
_VERIFY_VARIANTS: tuple[tuple[str, Callable[[str, int | None, str, str], _Match]], ...] = tuple(
    (c, _MATCHERS[c]) for c in CLIENTS if c != "requests") + (
    ("requests", lambda h, p, s, v: _match_requests(h, p, s, v, plain_suffix=True)),
    ("requests", lambda h, p, s, v: _match_requests(h, p, s, v, plain_suffix=False)),
)


def _host_only(item: str) -> str:
    item = item.strip()
    if "://" in item:
        item = urlsplit(item).netloc.rpartition("@")[2]
    if item.startswith("["):
        return item[1:item.index("]")].lower() if "]" in item else item.lower()
    if item.count(":") == 1:
        item = item.split(":")[0]
    return item.lower().rstrip(".")


def _matches_any_client(host: str, value: str) -> bool:
    return any(fn(host, None, "https", value) for _c, fn in _VERIFY_VARIANTS)


def verify_no_proxy(value: str, keep_direct: Sequence[str], must_proxy: Sequence[str]) -> list[str]:
    """Problems of ``value`` under every client's rules (empty list = it works everywhere)."""
    problems = []
    for c, fn in _VERIFY_VARIANTS:
        err = no_proxy_error(value, c)
        if err:
            problems.append(err)
        for h in must_proxy:
            hit = fn(_host_only(h), None, "https", value)
            if hit:
                problems.append(f"{CLIENT_LABELS[c]} sends {_host_only(h)} direct: {hit[1]}")
        for h in keep_direct:
            host = _host_only(h)
            ip = _ip(host)
            if c == "go" and (host == "localhost" or (ip is not None and ip.is_loopback)):
                continue
            if not fn(host, None, "https", value):
                problems.append(f"{CLIENT_LABELS[c]} would send {host} through the proxy")
    return list(dict.fromkeys(problems))


def corrected_no_proxy(value: str, keep_direct: Sequence[str], must_proxy: Sequence[str]) -> str:
    """A NO_PROXY value that keeps ``keep_direct`` direct and sends ``must_proxy`` through
    the proxy under every client's rules, keeping the user's other entries.

    Entries that match a ``must_proxy`` host under ANY client are dropped ('*', 'com',
    'thropic.com' for old requests, ...); '*.x' becomes '.x' (curl does not understand
    '*.'); each ``keep_direct`` host is added literally (exact names match everywhere).
    When a host is in both lists, must_proxy wins: the provider must not skip the proxy.
    IPv6 literals are written without brackets: '[::1]' makes httpx refuse to start.
    """
    must = [_host_only(h) for h in must_proxy if _host_only(h)]
    out: list[str] = []
    for raw in re.split(r"[,\s]+", value or ""):
        entry = raw.strip().lower()
        if not entry:
            continue
        if entry.startswith("*."):
            entry = entry[1:]
        if "*" in entry:
            continue
        if entry.startswith("[") and "]" in entry:
            inner, _, rest = entry[1:].partition("]")
            entry = inner + (rest if rest.startswith(":") and not _ipv6(inner) else "")
            if rest.startswith(":"):
                continue  # '[v6]:port' has no form all clients accept
        if no_proxy_error(entry, "httpx"):
            continue
        if any(_matches_any_client(h, entry) for h in must):
            continue
        out.append(entry)
    for h in keep_direct:
        host = _host_only(h)
        if not host or host in must:
            continue
        if any(_matches_any_client(m, host) for m in must):
            continue
        out.append(host)
    return ",".join(dict.fromkeys(out))
