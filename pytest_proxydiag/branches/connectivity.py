"""CONNECTIVITY: what TCP connects, port scans, CONNECT answers and gateway health checks mean.

Plain data in (probe results), a :class:`~.judgement.Judgement` out: no I/O,
no sentences (the catalog holds them, see ``catalog/connectivity.py``).
"""

from __future__ import annotations

import dataclasses
import re
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

from pytest_proxydiag import catalog
from pytest_proxydiag.branches import products
from pytest_proxydiag.branches.judgement import Judgement, Note
from pytest_proxydiag.core.config import PROXY_ENV_ORDER
from pytest_proxydiag.core.proxyurl import ProxyURLError, parse_proxy_url
from pytest_proxydiag.net.probes import Cause
from pytest_proxydiag.net.socks import SOCKS5_SCHEMES

if TYPE_CHECKING:
    from pytest_proxydiag.branches.policy_reach import ReferenceRefusal

__all__ = ["COMMON_PROXY_PORTS", "candidate_ports", "judge_tcp", "judge_port_scan", "answers_like_proxy",
           "judge_reply", "judge_tunnel_tls", "judge_inside_tunnel", "judge_no_proxy", "is_local",
           "GATEWAY_HEALTH_PATHS", "LITELLM_DEFAULT_PORT", "with_port", "judge_health_answer", "judge_unhealthy",
           "reachability_evidence", "PLACEHOLDER", "SOCKS5_SCHEMES", "SOCKS_CLIENTS", "SOCKS_EXTRA_MODULES",
           "judge_socks_tunnel", "judge_socks_clients", "proxy_url_path", "pac_proxies", "judge_pac_url",
           "PAC_NEEDS_DNS"]

#: Squid 3128, mitmproxy 8080, tinyproxy 8888, Privoxy 8118, proxy.py 8899 (each product's default), and 8443.
COMMON_PROXY_PORTS = (8080, 3128, 8888, 8443, 8118, 8899)
#: The SOCKS port (Dante's default), tried too when the proxy URL is a SOCKS one.
SOCKS_PORT = 1080
PLACEHOLDER = "<URL-ENCODED-PASSWORD>"
_TCP_FINDING = {Cause.REFUSED: "refused", Cause.TIMEOUT: "timeout", Cause.UNRESOLVABLE: "unresolvable"}
#: Causes that mean nothing answers at the proxy address: reachability owns them.
_UNREACHED = (Cause.BLOCKED, Cause.REFUSED, Cause.TIMEOUT, Cause.UNRESOLVABLE, Cause.UNREACHABLE)


def reachability_evidence(url, addresses, resolve_s, resolve_err, result) -> dict:
    evidence: dict = dict(dns={"host": url.host, "addresses": list(addresses), "seconds": round(resolve_s, 4),
                               "error": resolve_err.detail if resolve_err else None})
    if url.problems:
        evidence["url_notes"] = list(url.problems)
    evidence["tcp"] = {"ok": result.ok, "address": result.address, "cause": result.cause.value,
                       "detail": result.detail, "seconds": round(result.elapsed, 4)}
    return evidence


def judge_tcp(url, result) -> Judgement:
    """Step 1: a TCP connect to the proxy either works or fails for a named cause."""
    if not result.ok:
        return Judgement.fail(_TCP_FINDING.get(result.cause, "unreachable"), hostport=url.hostport, host=url.host,
                              port=url.port, address=result.address or "no address", detail=result.detail)
    return Judgement.passed("reachable", hostport=url.hostport, address=result.address,
                            ms=f"{result.elapsed * 1000:.0f}")


def candidate_ports(url, extra: Iterable[int] | None, env: Mapping[str, str] | None = None) -> list[int]:
    """The ports the user's other proxy variables give the same host (``https_proxy`` and ``HTTPS_PROXY``
    disagreeing is common), then the common proxy ports and the user's candidates, without the configured one."""
    siblings = []
    for name in PROXY_ENV_ORDER:
        try:
            other = parse_proxy_url((env or {})[name], source=f"env:{name}")
        except (KeyError, ProxyURLError):
            continue
        if other.host == url.host:
            siblings.append(other.port)
    common = [*COMMON_PROXY_PORTS, *((SOCKS_PORT,) if url.is_socks else ())]
    return [p for p in dict.fromkeys(siblings + common + list(extra or [])) if p != url.port]


def answers_like_proxy(res) -> bool:
    if res.socks is not None:  # any SOCKS5 reply (even a refusal) is a SOCKS server's
        return True
    if res.reply is None:
        return False
    r = res.reply
    return (res.ok or r.status in (407, 403, 502, 503) or r.header("Via") is not None
            or r.squid_error is not None or r.header("Proxy-Agent") is not None)


def _suggested(url, **change) -> str:
    """The proxy URL with *change* applied, the password replaced by the placeholder."""
    placeholder = PLACEHOLDER if url.password else None
    return dataclasses.replace(url, **change).encoded(password_placeholder=placeholder)


def other_loopback(host: str, addresses: Iterable[str]) -> str | None:
    """The loopback address of the other IP family, for a proxy on this machine whose name (``localhost``) or
    address gives only one family: a proxy listening on ``[::1]`` only is refused at 127.0.0.1.  None otherwise."""
    addresses = tuple(addresses)
    if not is_local(host) or not addresses:
        return None
    if all(":" not in a and a.startswith("127.") for a in addresses):
        return "::1"
    return "127.0.0.1" if all(a == "::1" for a in addresses) else None


def judge_port_scan(url, answers: Mapping[int, object], other_address: tuple[str, object] | None = None,
                    addresses: Iterable[str] = ()) -> Judgement:
    """Step 2: the configured port refuses; does another port answer like a proxy?  *other_address* is
    (:func:`other_loopback`, its answer on the same port), *addresses* what the proxy's name resolved to."""
    if other_address is not None and answers_like_proxy(other_address[1]):
        other, res = other_address
        shown = _suggested(url, host=other)
        spellings = {name: shown for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy")}
        return Judgement.fail("other_address", fix={"env": spellings, "verified": None}, port=url.port,
                              host=url.host, addresses=", ".join(addresses), other=f"[{other}]" if ":" in other
                              else other, found=res.detail, suggested=shown,
                              clients=Note.of("localhost_v6" if url.host == "localhost" and other == "::1" else
                                              "no_fallback"))
    proxy_like = {port: res for port, res in answers.items() if answers_like_proxy(res)}
    if proxy_like:
        shown = _suggested(url, port=sorted(proxy_like)[0])
        found = ", ".join(f"{p} ({proxy_like[p].detail})" for p in sorted(proxy_like))
        spellings = {name: shown for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy")}
        return Judgement.fail("other_port", fix={"env": spellings, "verified": None},
                              port=url.port, host=url.host, found=found, suggested=shown)
    return Judgement.fail("none_open", port=url.port, host=url.host, tried=", ".join(map(str, answers)))


#: TLS alerts a server sends only about the client's certificate (none sent, or one it does not accept).
_CLIENT_CERT_ALERT = re.compile(r"ALERT_(?:CERTIFICATE_REQUIRED|UNKNOWN_CA|BAD_CERTIFICATE|CERTIFICATE_UNKNOWN|"
                                r"CERTIFICATE_EXPIRED|CERTIFICATE_REVOKED)")


def judge_reply(proxy, reply, cause, detail, target, speaks_tls: Callable[[], bool],
                speaks_socks: Callable[[], bool] | None = None,
                refused_everywhere: Callable[[], ReferenceRefusal | None] | None = None,
                silent_everywhere: Callable[[], ReferenceRefusal | None] | None = None,
                own_page: Callable[[], Any] | None = None,
                without_credentials: Callable[[], object | None] | None = None) -> Judgement | None:
    """Step 3: the most specific finding for a failed exchange with the proxy (None: it worked).

    *silent_everywhere*, asked only for a connection closed without a reply, says whether the reference name's
    CONNECT and plain GET were closed the same way (``policy_reach.reference_silence``).
    *speaks_tls* (and *speaks_socks*) ask the probes, only when needed, whether the proxy port speaks TLS
    (or SOCKS5).  *refused_everywhere*, asked only for a 403/451, says whether the reference name was refused
    the same way (``policy_reach.reference_refusal``), and whether a plain http:// request to it went through.
    *without_credentials*, asked only when a CONNECT sent with credentials got no answer, returns the same CONNECT
    without them (cached): a prompt 407 to it is a proxy stuck on checking the login, not a dead proxy.
    """
    if reply is not None and (cause == Cause.PROXY_STATUS or reply.status >= 400):
        shape = products.refusal_shape(reply.status, reply.headers, reply.body, own=products.own_product(reply),
                                       credentials_sent=bool(proxy is not None and proxy.has_credentials))
        who_answered = products.describe(products.identify_reply(reply))
        if shape in ("credentials_rejected", "credentials_required", "login_portal"):
            return Judgement.blocked("auth.credentials", key="wants_auth", status=reply.status_line)
        if shape == "parent_credentials":
            # The parent's 401/407 passed on (the proxy's Via on it): the proxy's own credentials for its parent.
            why = products.relayed_auth(reply.status, reply.headers, own=products.own_product(reply),
                                        credentials_sent=bool(proxy is not None and proxy.has_credentials))
            via = reply.header("Via")
            return Judgement.fail("parent_auth_relayed", status=reply.status_line, why=why, product=who_answered,
                                  evidence=reply.status_line + (f" (Via: {via})" if via else ""))
        if shape == "parent_down":  # its own parent proxy unreachable: the proxy's forwarding, not the provider
            words = products.parent_down_words(reply.body) or ""
            return Judgement.fail("parent_down", status=reply.status_line, words=words, product=who_answered,
                                  evidence=reply.status_line + ("" if words in reply.status_line else f": {words}"))
        if shape in (*products.PROXY_WIDE_SHAPES, "bad_request"):
            # Before the 403 test: a 403 whose page says "this port" or "your host" is no domain rule.
            return Judgement.fail(shape, status=reply.status_line, product=who_answered, evidence=reply.status_line,
                                  proxy_host=proxy.host if proxy is not None else "<PROXY-HOST>",
                                  words=products.refusal_words(reply.body, reply.headers), advice=Note.of(
                                      "advice_not_forward" if proxy is not None and proxy.scheme == "http"
                                      else "advice_scheme"))
        everywhere = refused_everywhere() if shape == "denied" and refused_everywhere else None
        if everywhere is not None:
            host = everywhere.hostport.rpartition(":")[0]
            evidence = f"CONNECT {target.hostport}: {detail}\nCONNECT {everywhere.hostport}: {everywhere.answer}"
            if everywhere.plain is not None:  # CONNECT itself is refused: plain http:// goes through
                return Judgement.fail("connect_refused", status=reply.status_line, product=who_answered,
                                      reference=everywhere.hostport, plain=everywhere.plain,
                                      evidence=f"{evidence}\nGET http://{host}/: {everywhere.plain}")
            if everywhere.browser is not None:  # the same CONNECT with a browser's User-Agent went through
                return Judgement.fail("browser_only", status=reply.status_line, product=who_answered,
                                      reference=everywhere.hostport, browser=everywhere.browser,
                                      evidence=f"{evidence}\nCONNECT {everywhere.hostport} (User-Agent: Mozilla/5.0 "
                                               f"...): {everywhere.browser}")
            return Judgement.fail("refuses_everything", status=reply.status_line, product=who_answered,
                                  reference=everywhere.hostport, evidence=evidence,
                                  proxy_host=proxy.host if proxy is not None else "<PROXY-HOST>")
        # Also a 5xx whose page says the destination was denied, and a host filter's own status (proxy.py's 418).
        if reply.status in (403, 451) or shape == "denied":
            return Judgement.blocked("policy.domain_allowed", key="refuses_target", target=target.hostport,
                                     status=reply.status_line)
        squid = f" (X-Squid-Error: {reply.squid_error})" if reply.squid_error else ""
        parent_auth = products.parent_auth_failure(reply.body) if reply.status >= 500 else None
        if parent_auth:
            # The proxy's own credentials for its parent (its forward configuration), not the user's: IT's fix.
            return Judgement.fail("parent_auth", status=reply.status_line, words=parent_auth, product=who_answered,
                                  evidence=f"{reply.status_line}: {parent_auth}")
        if 300 <= reply.status < 400:
            # Never followed: a proxy that redirects CONNECT is a portal or a web server, not the proxy.
            why = Note.of("redirected", status=reply.status_line, location=reply.header("Location") or "nowhere")
        elif reply.status >= 500:
            why = Note.of("could_not_forward", status=reply.status_line, squid=squid)
        else:
            why = Note.of("refused_tunnel", status=reply.status_line, squid=squid)
        # The product that answered (or its Server/Via headers), in the catalog's words (branches/products.py).
        return Judgement.fail("connect_failed",
                              detail=Note.of("answered_by", why=why, product=who_answered.rstrip(". ")),
                              evidence=reply.status_line + squid)
    if cause == Cause.OK:
        return None
    if cause == Cause.NO_ANSWER:
        anonymous = (without_credentials() if without_credentials is not None and proxy is not None
                     and proxy.has_credentials else None)
        if anonymous is not None and anonymous.reply is not None and anonymous.reply.status == 407:
            return Judgement.fail("auth_hangs", detail=detail, status=anonymous.reply.status_line,
                                  evidence=f"CONNECT {target.hostport}: {anonymous.detail}\n"
                                           f"CONNECT {target.hostport}, credentials sent: {detail}")
        return Judgement.fail("no_answer", detail=detail, evidence=detail)
    if cause in (Cause.GARBAGE, Cause.HEADER_TOO_LARGE):
        return Judgement.fail("garbage", detail=detail, hostport=proxy.hostport)
    if cause == Cause.TLS_SPOKEN:
        return Judgement.fail("tls_mismatch", detail=detail, suggested=_suggested(proxy, scheme="https"))
    if cause == Cause.PROXY_TLS_UNTRUSTED:
        return Judgement.fail("proxy_tls_untrusted", detail=detail)
    if cause in (Cause.RESET, Cause.CLOSED) and proxy.scheme == "http" and speaks_tls():
        return Judgement.fail("tls_mismatch", detail=Note.of("port_speaks_tls", detail=detail),
                              suggested=_suggested(proxy, scheme="https"))
    if cause in (Cause.RESET, Cause.CLOSED) and proxy.scheme == "http" and speaks_socks is not None \
            and speaks_socks():
        return Judgement.fail("socks_port", detail=detail, suggested=_suggested(proxy, scheme="socks5h"))
    if proxy is not None and proxy.scheme == "https" and cause in (Cause.TLS_ERROR, Cause.TLS_PLAINTEXT) and (
            _CLIENT_CERT_ALERT.search(detail or "") or (cause == Cause.TLS_ERROR and speaks_tls())):
        # The port completes a TLS handshake, then ends it (an alert about the client's certificate, or a bare EOF
        # when it refuses the one presented): mTLS, not the scheme.
        return Judgement.fail("client_cert_refused", detail=detail)
    if cause in (Cause.TLS_ERROR, Cause.TLS_PLAINTEXT) and proxy.scheme == "https":
        return Judgement.fail("tls_mismatch", detail=Note.of("port_speaks_plain", detail=detail),
                              suggested=_suggested(proxy, scheme="http"))
    if cause in _UNREACHED:
        return Judgement.blocked("connectivity.proxy_reachable", detail)
    # *own_page*, asked only for a close without a reply: the proxy's own answer to a request for itself.
    own = own_page() if cause in (Cause.RESET, Cause.CLOSED) and own_page is not None else None
    closer = products.identify_reply(own).name if own is not None else None
    if closer in products.SILENT_ON_PARENT_FAILURE:  # alive, and silent only when its parent answered nothing
        return Judgement.fail("parent_silent", detail=detail, product=closer, evidence=detail,
                              why=products.SILENT_ON_PARENT_FAILURE[closer])
    silent = silent_everywhere() if cause in (Cause.RESET, Cause.CLOSED) and silent_everywhere else None
    if silent is not None:  # the reference's CONNECT and plain GET closed too: nothing is answered to this machine
        lines = ((f"CONNECT {target.hostport}", detail), (f"CONNECT {silent.hostport}", silent.answer),
                 (f"GET http://{silent.hostport.rpartition(':')[0]}/", silent.plain or ""))
        return Judgement.fail("closes_everything", detail=detail, reference=silent.hostport,
                              proxy_host=proxy.host if proxy is not None else "<PROXY-HOST>",
                              evidence="\n".join(d if d.startswith(r) else f"{r}: {d}" for r, d in lines))
    return Judgement.fail("connect_failed", detail=detail, evidence=detail)


def judge_tunnel_tls(tunnel, tls, target, refused_by_name: Callable[[], str | None] | None = None, *,
                     policy_runs: bool = True) -> Judgement | None:
    """Step 3: the tunnel is open; did the provider's TLS come through it?

    *refused_by_name*, asked only when the proxy closed the handshake, returns the control name whose handshake
    through the proxy completed (``policy_reach.handshake_refused``), or None.  A name refused in the handshake
    (SNI) is policy.domain_allowed's finding, with its ticket; when that step is not in this session
    (*policy_runs* false), this step says what it saw itself.
    """
    if tls.ok:
        return None
    if tls.tunnel is not None and tls.tunnel.reply is not None and not tls.tunnel.ok:
        # The handshake's own CONNECT was refused where the first one opened: a limit on this machine's connections.
        return Judgement.fail("later_connect_refused", first=tunnel.detail, status=tls.tunnel.detail,
                              evidence=f"CONNECT {target.hostport}: {tunnel.detail}\n"
                                       f"CONNECT {target.hostport}: {tls.tunnel.detail}")
    if tls.cause in (Cause.RESET, Cause.CLOSED) and refused_by_name is not None:
        control = refused_by_name()
        if control and policy_runs:
            return Judgement.blocked("policy.domain_allowed", key="refuses_name_tls", target=target.hostport,
                                     control=control)
        if control:
            return Judgement.fail("connect_failed", detail=Note.of("refuses_name_tls", target=target.hostport,
                                                                   control=control), evidence=tls.detail)
    key = "plaintext_tunnel" if tls.cause == Cause.TLS_PLAINTEXT else "tls_in_tunnel_failed"
    return Judgement.fail("connect_failed", detail=Note.of(key, status=tunnel.detail, target=target.hostport,
                                                           detail=tls.detail), evidence=tls.detail)


def judge_inside_tunnel(res) -> Judgement | None:
    """Step 3: a proxy error page inside the tunnel (Squid's 5xx) is a forwarding failure."""
    if res.reply is not None and res.reply.squid_error and res.reply.status >= 500:
        if res.reply.squid_error.split()[0] == "ERR_SECURE_CONNECT_FAIL":
            # The proxy forwards, but cannot verify the provider: its CA store, which policy.proxy_logs names.
            return Judgement.blocked("policy.proxy_logs", key="upstream_tls_inside", status=res.detail)
        return Judgement.fail("connect_failed", detail=Note.of("error_inside_tunnel", status=res.detail,
                                                               squid_error=res.reply.squid_error),
                              evidence=res.detail)
    return None


def judge_no_proxy(target, values: Mapping[str, tuple[str, str]], matches: Mapping[str, object],
                   corrected: str) -> Judgement:
    """Step 4: a NO_PROXY entry that sends the provider direct, for which clients."""
    if not values:
        return Judgement.passed("no_proxy_unset")
    if not matches:
        return Judgement.passed("not_excluded", host=target.host)
    first_client, first = next(iter(matches.items()))
    value, var = values[first_client]
    return Judgement.fail("provider_excluded", fix={"env": {"NO_PROXY": corrected, "no_proxy": corrected},
                                                     "verified": None},
                          host=target.host, entry=first.entry, source=f"env:{var}", value=value,
                          clients=", ".join(matches), corrected=corrected or "localhost,127.0.0.1")


def is_local(host: str) -> bool:
    return host in ("localhost", "127.0.0.1", "::1") or host.startswith("127.")


GATEWAY_HEALTH_PATHS = ("/health/liveliness", "/health")


#: How a plain-HTTP request to a TLS-only port ends (a TLS server resets, closes or sends an alert): the gateway
#: step then asks the same port over TLS before it calls the gateway down.
MAYBE_TLS_ONLY = (Cause.RESET, Cause.CLOSED, Cause.GARBAGE, Cause.TLS_SPOKEN)


#: The port ``litellm`` listens on unless told otherwise: where a refused gateway URL is asked again.
LITELLM_DEFAULT_PORT = 4000


def judge_health_answer(gateway, source: str, path: str, res, *, via_proxy: bool = False,
                        tls_answer=None, default_port_answer=None) -> Judgement | None:
    """Step 5: one health endpoint's answer decides, or None (ask the next one).

    A 401/403 still proves the gateway runs: its health details need a key.  On Claude Code's
    route through the proxy, the proxy's own error page is gateway.client_route's finding.
    *tls_answer*: the same request over TLS, for an ``http://`` URL whose request was reset or closed;
    *default_port_answer*: the same request on :data:`LITELLM_DEFAULT_PORT`, for a URL whose port refused.
    """
    if res.reply is None:
        scheme, _, rest = gateway.url.partition("://")
        # It answers, in the other protocol: the URL's scheme is wrong, the gateway is not down.
        speaks_tls = tls_answer is not None and tls_answer.reply is not None
        other = {("https", Cause.TLS_PLAINTEXT): "http", ("http", Cause.TLS_SPOKEN): "https"}.get((scheme, res.cause))
        other = other or ("https" if speaks_tls and scheme == "http" else None)
        if other:
            return Judgement.fail("wrong_scheme", gateway=gateway.url, source=source, detail=res.detail,
                                  scheme=scheme, other=other, corrected=f"{other}://{rest}")
        if default_port_answer is not None and default_port_answer.reply is not None \
                and default_port_answer.reply.status < 500:
            return Judgement.fail("wrong_port", gateway=gateway.url, source=source, detail=res.detail,
                                  port=LITELLM_DEFAULT_PORT, answer=default_port_answer.reply.status_line,
                                  corrected=with_port(gateway.url, LITELLM_DEFAULT_PORT))
        return Judgement.fail("unreachable", gateway=gateway.url, source=source, detail=res.detail)
    if via_proxy and res.reply.squid_error:
        return Judgement.blocked("gateway.client_route", key="proxy_answered_gateway", status=res.reply.status_line)
    if res.reply.status < 400 or res.reply.status in (401, 403):
        return Judgement.passed("gateway_locked" if res.reply.status in (401, 403) else "gateway_ok",
                                url=f"{gateway.url}{path}", status=res.reply.status_line)
    return None


def with_port(url: str, port: int) -> str:
    """*url* with *port* in place of its own (or its scheme's default): the user's scheme, host and path kept."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    host = f"[{parts.hostname}]" if parts.hostname and ":" in parts.hostname else parts.hostname or ""
    return urlunsplit((parts.scheme, f"{host}:{port}", parts.path, parts.query, ""))


def judge_unhealthy(gateway, results: Mapping[str, object]) -> Judgement:
    """Step 5: every health endpoint answered an error; show the first server error."""
    failing = [(p, r) for p, r in results.items() if r.reply.status >= 500]
    path, res = failing[0] if failing else ("/health", results["/health"])
    return Judgement.fail("unhealthy", gateway=gateway.url, path=path, status=res.detail, detail=res.reply.text(300))


# -- SOCKS proxies (socks5h://, socks5://, socks4://) ---------------------------------------------------
#: client -> (the SOCKS proxy schemes it speaks, the pip extra it needs for them or None).  Measured or from
#: each client's documentation: curl speaks all four; requests needs PySocks, httpx (and the anthropic SDK on
#: it) socksio, and httpx only SOCKS5; Node's fetch/undici ProxyAgent speak HTTP proxies only; Claude Code
#: has no SOCKS support (its network-config documentation).
SOCKS_CLIENTS: Mapping[str, tuple[tuple[str, ...], str | None]] = {
    "curl": (("socks4", "socks4a", "socks5", "socks5h"), None),
    "requests": (("socks4", "socks4a", "socks5", "socks5h"), "requests[socks]"),
    "httpx": (("socks5", "socks5h"), "httpx[socks]"),
    "node": ((), None),
    "claude": ((), None),
}

#: The module each client's SOCKS extra installs (PySocks, socksio).
SOCKS_EXTRA_MODULES: Mapping[str, str] = {"requests": "socks", "httpx": "socksio"}


#: Seconds within which a SOCKS port that closes on the greeting is refusing the client, not waiting for more.
SOCKS_ACL_CLOSE = 1.0


def judge_socks_tunnel(proxy, tunnel, target,
                       refused_everywhere: Callable[[], ReferenceRefusal | None] | None = None) -> Judgement:
    """Step 3, SOCKS5: the CONNECT reply refused (RFC 1928 codes), or a stage that belongs to another step.

    *refused_everywhere*, asked only for reply 0x02 ("not allowed by ruleset"), says whether the reference name was
    refused the same way (``policy_reach.reference_refusal``): then the SOCKS rules refuse everything, not the domain.
    """
    outcome = tunnel.socks
    if outcome is None:
        if tunnel.cause == Cause.UNRESOLVABLE and proxy.scheme == "socks5":
            # socks5:// makes this machine resolve the provider's name; the proxy, reached fine, may resolve it itself.
            return Judgement.fail("socks_local_dns", detail=tunnel.detail, suggested=_suggested(proxy, scheme="socks5h"))
        if tunnel.cause in _UNREACHED:
            return Judgement.blocked("connectivity.proxy_reachable", tunnel.detail)
        if tunnel.cause in (Cause.CLOSED, Cause.RESET) and tunnel.timings.total is not None \
                and tunnel.timings.total < SOCKS_ACL_CLOSE:
            # Closed at once on the greeting, no byte: a SOCKS server whose client rules refuse this machine (Dante's
            # 'client block'); an HTTP proxy waits for the rest of a request line instead.
            return Judgement.fail("socks_client_refused", detail=tunnel.detail, hostport=proxy.hostport,
                                  proxy_host=proxy.host)
        if tunnel.cause in (Cause.GARBAGE, Cause.CLOSED, Cause.RESET, Cause.NO_ANSWER):
            # A SOCKS5 server answers the greeting at once: silence or other bytes mean another kind of port.
            return Judgement.fail("socks_not_socks", detail=tunnel.detail, hostport=proxy.hostport)
        return Judgement.fail("connect_failed", detail=tunnel.detail, evidence=tunnel.detail)
    if outcome.stage != "connect":
        return Judgement.blocked("auth.credentials", key="wants_auth", status=tunnel.detail)
    reply = products.socks_outcome_reply(outcome)
    status = f"SOCKS5 reply 0x{outcome.code:02x} ({reply.meaning})"
    everywhere = refused_everywhere() if reply.shape == "denied" and refused_everywhere else None
    if everywhere is not None:
        # Dante without a 'socks pass' rule for this machine (its shipped danted.conf has none): every name refused.
        # No credentials sent: a rule that wants a username (Dante's 'socksmethod: username') refuses alike.
        credentials = "" if proxy.has_credentials else Note.of(
            "socks_no_credentials", suggested=f"{proxy.scheme}://<USER>:{PLACEHOLDER}@{proxy.hostport}")
        return Judgement.fail("socks_refuses_everything", status=status, reference=everywhere.hostport,
                              product=products.SOCKS["who"], hostport=proxy.hostport, proxy_host=proxy.host,
                              credentials=credentials,
                              evidence=f"SOCKS5 CONNECT {target.hostport}: {status}\n"
                                       f"SOCKS5 CONNECT {everywhere.hostport}: {everywhere.answer}")
    if reply.shape == "denied":
        # "Not allowed by ruleset": the SOCKS server's rules refuse the destination, as a 403 does (policy's).
        return Judgement.blocked("policy.domain_allowed", key="refuses_target", target=target.hostport,
                                 status=f"SOCKS5 reply 0x{outcome.code:02x}: {reply.meaning}")
    resolved = Note.of("resolved_by_client", address=outcome.address) if outcome.resolved_by == "client" \
        else Note.of("resolved_by_proxy")
    return Judgement.fail("socks_refused", meaning=reply.meaning, code=f"0x{outcome.code:02x}", resolved=resolved,
                          product=products.SOCKS["who"], evidence=f"SOCKS5 CONNECT {target.hostport}: "
                                                                   f"reply 0x{outcome.code:02x} ({reply.meaning})",
                          hint=Note.of("try_socks5h") if outcome.resolved_by == "client" and reply.shape == "upstream"
                          else "")


def judge_socks_clients(proxy, present: Mapping[str, bool], works: str) -> Judgement:
    """Step 3, SOCKS: which of the user's clients can use this proxy URL at all (*present*: client -> its extra
    is installed).  A client that cannot is a finding of its own, named with the fix."""
    def note(key: str, **values) -> str:
        return catalog.note("connectivity.proxy_works", key, **values)

    cannot, can = [], []
    for client, extra_ok in present.items():
        schemes, extra = SOCKS_CLIENTS[client]
        name = note(f"client_{client}")
        if proxy.scheme not in schemes:
            cannot.append(note("no_socks" if not schemes else "no_scheme", client=name, scheme=proxy.scheme))
        elif extra and not extra_ok:
            cannot.append(note("needs_extra", client=name, extra=extra))
        else:
            can.append(name)
    relay = f"{proxy.username}:<PASSWORD>@{proxy.hostport}" if proxy.username else proxy.hostport
    # Privoxy reads that password as typed: ':', '@' and '#' break it (measured with Privoxy 3.0.34).
    odd = "".join(c for c in ":@#" if c in (proxy.password or ""))
    if cannot:
        return Judgement.fail("socks_clients", cannot="; ".join(cannot), can=", ".join(can) or note("none_of_them"),
                              works=works, relay=relay, evidence=works,
                              relay_password=note("relay_password", chars=" ".join(odd)) if odd else "")
    return Judgement.passed("socks_ok", works=works, can=", ".join(can))


# -- a PAC file's address given as the proxy ------------------------------------------------------------
_PAC_ENTRY = re.compile(r"\b(?:PROXY|HTTPS)\s+([A-Za-z0-9._\-]{1,253}:\d{1,5})\b")
#: PAC functions that look names up: such a file is listed, not evaluated (a lookup is not bounded here).
PAC_NEEDS_DNS = ("dnsResolve", "isInNet", "isResolvable", "myIpAddress")


def proxy_url_path(raw: str) -> str:
    """The path after the host in the proxy URL as the user wrote it ('' for none or '/')."""
    rest = raw.strip().split("://", 1)[-1]
    cut = rest.find("/")
    path = rest[cut:].split("#", 1)[0] if cut >= 0 else ""
    return "" if path in ("", "/") else path


def pac_proxies(text: str) -> list[str]:
    """The ``PROXY``/``HTTPS`` host:port entries of a PAC file, in order, once each (None: not a PAC file)."""
    if "FindProxyForURL" not in text:
        return []
    return list(dict.fromkeys(m.group(1) for m in _PAC_ENTRY.finditer(text)))


def judge_pac_url(url: str, target, status: str, proxies: list[str], answer: str | None,
                  answer_text: str, where: str) -> Judgement | None:
    """The proxy URL is a PAC file's address: name the proxies it holds, the one for *target* first.

    *answer* is the file's first entry for the target (``host:port`` or ``DIRECT``), None when not evaluated;
    *where* names the setting that holds the URL (``HTTPS_PROXY``, ``--proxydiag-proxy``).
    """
    if not proxies:
        return None
    first = answer if answer and answer.upper() != "DIRECT" else proxies[0]
    suggested = f"http://{first}"
    return Judgement.fail("pac_url", fix={"env": {"HTTPS_PROXY": suggested, "https_proxy": suggested},
                                          "verified": None},
                          record={"pac": {"url": url, "proxies": proxies, "for_target": answer}},
                          url=url, where=where, target=target.hostport, status=status, proxies=", ".join(proxies),
                          answer=answer_text, suggested=suggested)
