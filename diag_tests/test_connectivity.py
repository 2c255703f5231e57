"""CONNECTIVITY ISSUES: can the proxy be reached, on the right port, and does it forward?"""

from __future__ import annotations

import concurrent.futures
import dataclasses

import pytest

from pytest_proxydiag.branches import products
from pytest_proxydiag.core.config import Target
from pytest_proxydiag.net.probes import Cause

pytestmark = pytest.mark.connectivity

COMMON_PROXY_PORTS = (8080, 3128, 8888, 8443)
_TCP_FINDING = {Cause.REFUSED: "refused", Cause.TIMEOUT: "timeout", Cause.UNRESOLVABLE: "unresolvable"}


@pytest.mark.proxydiag_step("connectivity.proxy_reachable")
def test_proxy_reachable(proxydiag_step, proxydiag_config, proxydiag_probes):
    step, proxy = proxydiag_step, proxydiag_config.proxy
    if not proxy.configured:
        step.skip("no proxy is configured (set HTTPS_PROXY or pass --proxydiag-proxy URL)")
    if proxy.url is None:
        step.fail("invalid_url", detail=proxy.error)
    url = proxy.url
    addresses, resolve_s, resolve_err = proxydiag_probes.resolve(url.host, url.port)
    step.add_evidence(dns={"host": url.host, "addresses": list(addresses), "seconds": round(resolve_s, 4),
                           "error": resolve_err.detail if resolve_err else None})
    if url.problems:
        step.add_evidence(url_notes=list(url.problems))
    result = proxydiag_probes.proxy_tcp()
    step.add_evidence(tcp={"ok": result.ok, "address": result.address, "cause": result.cause.value,
                           "detail": result.detail, "seconds": round(result.elapsed, 4)})
    if not result.ok:
        step.fail(_TCP_FINDING.get(result.cause, "unreachable"), hostport=url.hostport, host=url.host,
                  port=url.port, address=result.address or "no address", detail=result.detail)
    step.passed(f"TCP connect to {url.hostport} ({result.address}) in {result.elapsed * 1000:.0f} ms")


@pytest.mark.proxydiag_step("connectivity.proxy_port")
def test_proxy_port(proxydiag_step, proxydiag_config, proxydiag_probes):
    step, proxy = proxydiag_step, proxydiag_config.proxy
    if not proxy.configured:
        step.skip("no proxy is configured (set HTTPS_PROXY or pass --proxydiag-proxy URL)")
    if proxy.url is None:
        step.blocked("connectivity.proxy_reachable", f"the proxy URL is invalid: {proxy.error}")
    url = proxy.url
    result = proxydiag_probes.proxy_tcp()
    if result.ok:
        step.passed(f"port {url.port} on {url.host} accepts connections")
        return
    if result.cause != Cause.REFUSED:
        # Nothing answers at all (silence, no route, no name): other ports tell nothing more.
        step.blocked("connectivity.proxy_reachable", result.detail)
    extra = list(proxydiag_config["port_candidates"] or [])
    candidates = [p for p in dict.fromkeys(list(COMMON_PROXY_PORTS) + extra) if p != url.port]
    target = proxydiag_config.targets[0]
    # All candidates at once: the whole scan costs one timeout, not one per port.
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(candidates)) as pool:
        answers = dict(zip(candidates, pool.map(
            lambda port: proxydiag_probes.connect_via(dataclasses.replace(url, port=port), target.host,
                                                      target.port), candidates)))
    proxy_like = {port: res for port, res in answers.items() if _answers_like_proxy(res)}
    step.add_evidence(ports={str(p): (r.detail or r.cause.value) for p, r in answers.items()})
    if proxy_like:
        port = sorted(proxy_like)[0]
        suggested = dataclasses.replace(url, port=port)
        shown = suggested.encoded(password_placeholder="<URL-ENCODED-PASSWORD>") if url.password else suggested.encoded()
        found = ", ".join(f"{p} ({proxy_like[p].detail})" for p in sorted(proxy_like))
        step.set_fix(env={"HTTPS_PROXY": shown, "HTTP_PROXY": shown}, verified=None)
        step.fail("other_port", port=url.port, host=url.host, found=found, suggested=shown)
    step.fail("none_open", port=url.port, host=url.host, tried=", ".join(map(str, candidates)))


def _answers_like_proxy(res) -> bool:
    if res.reply is None:
        return False
    r = res.reply
    return (res.ok or r.status in (407, 403, 502, 503) or r.header("Via") is not None
            or r.squid_error is not None or r.header("Proxy-Agent") is not None)


@pytest.mark.proxydiag_step("connectivity.proxy_works")
def test_proxy_works(proxydiag_step, proxydiag_probes, proxydiag_target):
    step, target = proxydiag_step, proxydiag_target
    proxy = step.require_http_proxy()
    if target.scheme == "http":
        res = proxydiag_probes.request(target, "GET", "/")
        _judge_reply(step, res.reply, res.cause, res.detail, target, via_header=True)
        step.add_evidence(http={"status": res.detail, "timings": res.timings})
        step.passed(f"GET {target.url} through {proxy.hostport}: {res.detail}")
        return
    tunnel = proxydiag_probes.tunnel_to(target)
    step.add_evidence(connect={"status": tunnel.detail, "cause": tunnel.cause.value,
                               "headers": dict(tunnel.reply.headers) if tunnel.reply else None,
                               "timings": tunnel.timings})
    if not tunnel.ok:
        _judge_reply(step, tunnel.reply, tunnel.cause, tunnel.detail, target)
    tls = proxydiag_probes.tls_via_proxy(target)
    step.add_evidence(tls={"ok": tls.ok, "version": tls.version, "detail": tls.detail})
    if not tls.ok:
        if tls.cause == Cause.TLS_PLAINTEXT:
            step.fail("connect_failed", detail=f"the proxy accepted CONNECT ({tunnel.detail}) but then sent "
                      "plaintext instead of the provider's TLS: it does not tunnel, or answers itself",
                      evidence=tls.detail)
        step.fail("connect_failed", detail=f"the tunnel was accepted ({tunnel.detail}) but the TLS handshake "
                  f"with {target.hostport} failed: {tls.detail}", evidence=tls.detail)
    res = proxydiag_probes.request(target, "GET", "/")
    if res.reply is not None and res.reply.squid_error:
        step.add_evidence(inside_tunnel={"status": res.detail, "x_squid_error": res.reply.squid_error})
        if res.reply.status >= 500:
            step.fail("connect_failed", detail=f"inside the tunnel the proxy answered {res.detail} "
                      f"(X-Squid-Error: {res.reply.squid_error})", evidence=res.detail)
    step.passed(f"CONNECT {target.hostport}: {tunnel.detail}; TLS {tls.version or 'ok'}"
                + (f"; GET / -> {res.reply.status}" if res.reply else ""))


def _judge_reply(step, reply, cause, detail, target, via_header=False):
    """Fail with the most specific finding for a failed exchange with the proxy."""
    if reply is not None and (cause == Cause.PROXY_STATUS or reply.status >= 400):
        proxy_url = step.settings.proxy.url
        shape = products.refusal_shape(reply.status, reply.headers, reply.body,
                                       credentials_sent=bool(proxy_url and proxy_url.has_credentials))
        who_answered = products.describe(products.identify(reply.headers, reply.body))
        if shape in ("credentials_rejected", "credentials_required", "login_portal"):
            step.blocked("auth.credentials", f"the proxy wants authentication ({reply.status_line})")
        if reply.status in (403, 451):
            step.blocked("policy.domain_allowed", f"the proxy refuses {target.hostport} ({reply.status_line})")
        if shape in ("connect_not_allowed", "bad_request"):
            step.fail(shape, status=reply.status_line, product=who_answered, evidence=reply.status_line)
        squid = f" (X-Squid-Error: {reply.squid_error})" if reply.squid_error else ""
        if 300 <= reply.status < 400:
            # Never followed: a proxy that redirects CONNECT is a portal or a web server, not the proxy.
            why = (f"{reply.status_line} to {reply.header('Location') or 'nowhere'}: a proxy must not redirect "
                   "CONNECT; this is a captive portal, a login page or a web server on the proxy port "
                   "(the redirect was not followed)")
        elif reply.status >= 500:
            why = f"{reply.status_line}{squid}: the proxy could not forward the request"
        else:
            why = f"{reply.status_line}{squid}: the proxy refused to open the tunnel"
        step.fail("connect_failed", detail=f"{why}. {who_answered}".rstrip(". ") + ".",
                  evidence=reply.status_line + squid)
    if cause == Cause.OK:
        return
    if cause == Cause.NO_ANSWER:
        step.fail("no_answer", detail=detail)
    if cause in (Cause.GARBAGE, Cause.HEADER_TOO_LARGE):
        step.fail("garbage", detail=detail, hostport=step.settings.proxy.url.hostport)
    proxy = step.settings.proxy.url
    placeholder = "<URL-ENCODED-PASSWORD>" if proxy.password else None
    if cause == Cause.TLS_SPOKEN:
        suggested = dataclasses.replace(proxy, scheme="https").encoded(password_placeholder=placeholder)
        step.fail("tls_mismatch", detail=detail, suggested=suggested)
    if cause == Cause.PROXY_TLS_UNTRUSTED:
        step.fail("proxy_tls_untrusted", detail=detail)
    if cause in (Cause.RESET, Cause.CLOSED) and proxy.scheme == "http" and step.probes.proxy_speaks_tls():
        suggested = dataclasses.replace(proxy, scheme="https").encoded(password_placeholder=placeholder)
        step.fail("tls_mismatch", detail=f"{detail} — the proxy port speaks TLS, but the proxy URL says http://",
                  suggested=suggested)
    if cause in (Cause.TLS_ERROR, Cause.TLS_PLAINTEXT) and proxy.scheme == "https":
        suggested = dataclasses.replace(proxy, scheme="http").encoded(password_placeholder=placeholder)
        step.fail("tls_mismatch", detail=detail + " — the proxy URL says https:// but the proxy port does not "
                  "speak TLS", suggested=suggested)
    if cause in (Cause.BLOCKED, Cause.REFUSED, Cause.TIMEOUT, Cause.UNRESOLVABLE, Cause.UNREACHABLE):
        step.blocked("connectivity.proxy_reachable", detail)
    step.fail("connect_failed", detail=detail, evidence=detail)


@pytest.mark.proxydiag_step("connectivity.no_proxy")
def test_no_proxy(proxydiag_step, proxydiag_config, proxydiag_target):
    step, target = proxydiag_step, proxydiag_target
    if not proxydiag_config.proxy.configured:
        step.skip("no proxy is configured, so NO_PROXY has no effect")
    from pytest_proxydiag.net import routing
    env = proxydiag_config.env
    matches = {}
    values = {}
    for client in routing.CLIENTS:
        value, var = routing.no_proxy_value(env, client)
        if not value:
            continue
        values[client] = (value, var)
        m = routing.matches_no_proxy(target.host, target.port, value, client)
        if m is not None:
            matches[client] = m
    if not values:
        step.passed("NO_PROXY is not set")
        return
    step.add_evidence(no_proxy={c: {"variable": var, "value": v} for c, (v, var) in values.items()})
    if matches:
        first_client, first = next(iter(matches.items()))
        value, var = values[first_client]
        keep = ["localhost", "127.0.0.1"] + ([Target(proxydiag_config.gateway.value, "").host]
                                             if proxydiag_config.gateway.value else [])
        corrected = routing.corrected_no_proxy(value, keep_direct=keep,
                                               must_proxy=[t.host for t in proxydiag_config.targets])
        step.add_evidence(matches={c: {"entry": m.entry, "rule": m.rule} for c, m in matches.items()})
        step.set_fix(env={"NO_PROXY": corrected, "no_proxy": corrected}, verified=None)
        step.fail("provider_excluded", host=target.host, entry=first.entry, source=f"env:{var}", value=value,
                  clients=", ".join(matches), corrected=corrected or "localhost,127.0.0.1")
    step.passed(f"{target.host} is not excluded by NO_PROXY for any client")


@pytest.mark.proxydiag_step("connectivity.gateway")
def test_gateway(proxydiag_step, proxydiag_config, proxydiag_probes):
    step = proxydiag_step
    gateway = proxydiag_config.gateway
    if not gateway.value:
        step.skip("no gateway configured (--proxydiag-gateway URL, or ANTHROPIC_BASE_URL pointing at a gateway)")
    target = Target(gateway.value.rstrip("/"), gateway.source)
    # Reached the way Claude Code reaches it (its proxy and NO_PROXY rules); a proxy's own
    # refusal on that route is gateway.client_route's finding, not the gateway being down.
    via_proxy = bool(proxydiag_config.proxy.url) and not _is_local(target.host) and not _excluded(proxydiag_config,
                                                                                                   target)
    results = {}
    for path in ("/health/liveliness", "/health"):
        res = proxydiag_probes.request(target, "GET", path, via_proxy=via_proxy)
        results[path] = res
        step.add_evidence(**{path.strip("/").replace("/", "_"): {"status": res.detail, "cause": res.cause.value}})
        if res.reply is None:
            step.fail("unreachable", gateway=target.url, source=gateway.source, detail=res.detail)
        if via_proxy and res.reply.squid_error:
            step.blocked("gateway.client_route", f"the proxy answered for the gateway: {res.reply.status_line}")
        if res.reply.status < 400 or res.reply.status in (401, 403):
            step.passed(f"{target.url}{path} answered {res.reply.status_line}"
                        + (" (running; health details need a key)" if res.reply.status in (401, 403) else ""))
            return
    path, res = next((p, r) for p, r in results.items() if r.reply is not None and r.reply.status >= 500) \
        if any(r.reply is not None and r.reply.status >= 500 for r in results.values()) else ("/health", results["/health"])
    step.fail("unhealthy", gateway=target.url, path=path, status=res.detail, detail=res.reply.text(300))


def _is_local(host: str) -> bool:
    return host in ("localhost", "127.0.0.1", "::1") or host.startswith("127.")


def _excluded(config, target: Target) -> bool:
    from pytest_proxydiag.net import routing

    return routing.route(target.url, config.env, "claude").proxy is None
