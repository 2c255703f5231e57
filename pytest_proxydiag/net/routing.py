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

import re
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence
from urllib.parse import urlsplit

# The per-client NO_PROXY rules live in no_proxy_rules; their names stay importable from here.
from pytest_proxydiag.net.no_proxy_rules import (_MATCHERS, CLIENT_LABELS, CLIENTS, NoProxyMatch, _bare_host,
                                                 _check_client, _ip, _ipv6, _Match, _match_requests,
                                                 _urllib_no_proxy, matches_no_proxy, no_proxy_error,
                                                 no_proxy_value, requests_uses_plain_suffix)

__all__ = [
    "CLIENTS", "CLIENT_LABELS", "NoProxyMatch", "Route", "no_proxy_value", "matches_no_proxy",
    "no_proxy_error", "route", "route_matrix", "corrected_no_proxy", "verify_no_proxy",
    "requests_uses_plain_suffix",
]


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
    # curl never reads uppercase HTTP_PROXY (httpoxy); the note of _proxy_for says so when it is set.
    "curl": "{s}_proxy, {curl_upper}all_proxy, ALL_PROXY",
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
        order = _PROXY_ORDER_TEXT[client].format(s=scheme, S=scheme.upper(), node_order=node_order,
                                                  curl_upper="" if scheme == "http" else f"{scheme.upper()}_PROXY, ")
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
