"""Which NO_PROXY value each HTTP client reads, and whether an entry sends a host direct under its rules.

Every rule is taken from the client's own source (cited next to it) and
checked against the real client in tests/test_routing.py; see
:mod:`pytest_proxydiag.net.routing` for the clients and for the routes built
on these rules.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import struct
from dataclasses import dataclass
from typing import Callable, Mapping

__all__ = ["CLIENTS", "CLIENT_LABELS", "NoProxyMatch", "no_proxy_value", "matches_no_proxy", "no_proxy_error",
           "requests_uses_plain_suffix"]

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
