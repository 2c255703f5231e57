"""CONNECTIVITY ISSUES: can the proxy be reached, on the right port, and does it forward?"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import importlib.util

import pytest

from pytest_proxydiag.branches import connectivity, policy, policy_reach, products
from pytest_proxydiag.branches.judgement import say
from pytest_proxydiag.core.config import Target
from pytest_proxydiag.machine import system_proxy
from pytest_proxydiag.net import policy_probes as measure
from pytest_proxydiag.net import routing
from pytest_proxydiag.net.pac import fetch_pac
from pytest_proxydiag.proof import appruns

pytestmark = pytest.mark.connectivity


@pytest.mark.proxydiag_step("connectivity.proxy_reachable")
def test_proxy_reachable(proxydiag_step, proxydiag_config, proxydiag_probes):
    step, proxy = proxydiag_step, proxydiag_config.proxy
    if not proxy.configured:
        step.skip(say(step, "no_proxy"))
    if proxy.url is None:
        step.fail("invalid_url", detail=proxy.error)
    url = proxy.url
    addresses, resolve_s, resolve_err = proxydiag_probes.resolve(url.host, url.port)
    result = proxydiag_probes.proxy_tcp()
    step.add_evidence(**connectivity.reachability_evidence(url, addresses, resolve_s, resolve_err, result))
    connectivity.judge_tcp(url, result).conclude(step)


@pytest.mark.proxydiag_step("connectivity.proxy_port")
def test_proxy_port(proxydiag_step, proxydiag_config, proxydiag_probes):
    step, proxy = proxydiag_step, proxydiag_config.proxy
    if not proxy.configured:
        step.skip(say(step, "no_proxy"))
    if proxy.url is None:
        step.blocked("connectivity.proxy_reachable", say(step, "invalid_proxy", detail=proxy.error))
    url, result = proxy.url, proxydiag_probes.proxy_tcp()
    if result.ok:
        step.passed(say(step, "port_open", port=url.port, host=url.host))
        return
    if result.cause != connectivity.Cause.REFUSED:
        # Nothing answers at all (silence, no route, no name): other ports tell nothing more.
        step.blocked("connectivity.proxy_reachable", result.detail)
    candidates = connectivity.candidate_ports(url, proxydiag_config["port_candidates"], proxydiag_config.env)
    target = proxydiag_config.targets[0]
    # All candidates at once: the whole scan costs one timeout, not one per port.
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(candidates)) as pool:
        answers = dict(zip(candidates, pool.map(lambda port: proxydiag_probes.connect_via(
            dataclasses.replace(url, port=port), target.host, target.port), candidates)))
    step.add_evidence(ports={str(p): (r.detail or r.cause.value) for p, r in answers.items()})
    # A proxy on this machine may listen on the other loopback family only ([::1] behind localhost = 127.0.0.1).
    addresses = proxydiag_probes.resolve(url.host, url.port)[0]
    other = connectivity.other_loopback(url.host, addresses)
    other_answer = (other, proxydiag_probes.connect_via(dataclasses.replace(url, host=other), target.host,
                                                        target.port)) if other else None
    connectivity.judge_port_scan(url, answers, other_answer, addresses).conclude(step)


def _socks_proxy_works(step, cfg, probes, target, proxy):
    """A SOCKS proxy: its CONNECT (SOCKS5 only) and TLS through it, then which clients can use it at all."""
    works = say(step, "socks_untried", hostport=proxy.hostport)
    if proxy.scheme in connectivity.SOCKS5_SCHEMES:
        tunnel = probes.tunnel_to(target)
        step.add_evidence(socks={"status": tunnel.detail, "cause": tunnel.cause.value, "timings": tunnel.timings,
                                 **({"stage": tunnel.socks.stage, "code": tunnel.socks.code,
                                     "resolved_by": tunnel.socks.resolved_by} if tunnel.socks else {})})
        if not tunnel.ok:
            def refused_everywhere():
                # Reply 0x02 to the reference name too: the SOCKS rules refuse everything, not the provider.
                return policy_reach.reference_refusal(policy.read_tunnel(tunnel), measure.reference_probes(
                    probes, cfg["reference"])[0])
            connectivity.judge_socks_tunnel(proxy, tunnel, target, refused_everywhere).conclude(step)
        tls = probes.tls_via_proxy(target)
        step.add_evidence(tls={"ok": tls.ok, "version": tls.version, "detail": tls.detail})
        verdict = connectivity.judge_tunnel_tls(tunnel, tls, target)
        if verdict is not None:
            verdict.conclude(step)
        works = say(step, "socks_works", target=target.hostport, tls=tls.version or "ok")
    versions = appruns.versions_of(step.state)
    # Claude Code is the client this diagnosis is for: judged whether or not it is installed here.
    present = {c: _importable(connectivity.SOCKS_EXTRA_MODULES.get(c)) for c in connectivity.SOCKS_CLIENTS
               if c == "claude" or (versions.get(c) and versions[c].version)}
    step.add_evidence(socks_clients={c: {"extra": connectivity.SOCKS_CLIENTS[c][1], "extra_installed": ok}
                                     for c, ok in present.items()})
    connectivity.judge_socks_clients(proxy, present, works).conclude(step)


def _importable(module: str | None) -> bool:
    try:
        return module is None or importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


@pytest.mark.proxydiag_step("connectivity.proxy_works")
def test_proxy_works(proxydiag_step, proxydiag_config, proxydiag_probes, proxydiag_target):
    step, target = proxydiag_step, proxydiag_target
    proxy = step.require_proxy()
    if proxy.is_socks:
        return _socks_proxy_works(step, proxydiag_config, proxydiag_probes, target, proxy)
    speaks_tls, speaks_socks = proxydiag_probes.proxy_speaks_tls, proxydiag_probes.proxy_speaks_socks5
    if target.scheme == "http":
        res = proxydiag_probes.request(target, "GET", "/")
        verdict = connectivity.judge_reply(proxy, res.reply, res.cause, res.detail, target, speaks_tls, speaks_socks)
        if verdict is not None:
            verdict.conclude(step)
        step.add_evidence(http={"status": res.detail, "timings": res.timings})
        step.passed(say(step, "http_ok", url=target.url, proxy=proxy.hostport, status=res.detail))
        return
    tunnel = proxydiag_probes.tunnel_to(target)
    step.add_evidence(connect={"status": tunnel.detail, "cause": tunnel.cause.value,
                               "headers": dict(tunnel.reply.headers) if tunnel.reply else None,
                               "timings": tunnel.timings})
    if not tunnel.ok:
        _pac_address(step, proxy, target, tunnel, proxydiag_config)

        def refused_everywhere():
            # Asked for a 403 only: a name every proxy lets through, refused the same way, is no domain rule.
            reference = proxydiag_config["reference"]
            return policy_reach.reference_refusal(
                policy.read_tunnel(tunnel), *measure.reference_probes(proxydiag_probes, reference),
                as_browser=lambda: measure.connect_reference_as_browser(proxydiag_probes, reference))
        def silent_everywhere():
            # Asked for a close without a reply only: the reference's CONNECT and plain GET closed too?
            return policy_reach.reference_silence(*measure.reference_probes(proxydiag_probes,
                                                                            proxydiag_config["reference"]))
        connectivity.judge_reply(proxy, tunnel.reply, tunnel.cause, tunnel.detail, target, speaks_tls,
                                 speaks_socks, refused_everywhere, silent_everywhere,
                                 proxydiag_probes.proxy_self_reply,
                                 lambda: proxydiag_probes.connect_tunnel(target.host, target.port, credentials=None)
                                 ).conclude(step)
    tls = proxydiag_probes.tls_via_proxy(target)
    step.add_evidence(tls={"ok": tls.ok, "version": tls.version, "detail": tls.detail})
    res = proxydiag_probes.request(target, "GET", "/") if tls.ok else None
    if res is not None and res.reply is not None and res.reply.squid_error:
        step.add_evidence(inside_tunnel={"status": res.detail, "x_squid_error": res.reply.squid_error})
    def refused_by_name():
        # Asked only after a closed handshake: the same handshake with another provider name (cached).
        # The control name policy.domain_allowed asks too (one name outside every provider domain): one handshake.
        domains = policy.provider_domains(proxydiag_config.targets, proxydiag_config["aws_region"],
                                          proxydiag_config["vertex_region"], proxydiag_config.env)
        control = products.control_host(d.host for d in domains)
        control, control_tls = measure.control_handshake(proxydiag_probes, control, target.port)
        return control if policy_reach.handshake_refused(tls, control_tls) else None
    verdict = connectivity.judge_tunnel_tls(tunnel, tls, target, refused_by_name,
                                            policy_runs=step.runs("policy.domain_allowed")) \
        or connectivity.judge_inside_tunnel(res)
    if verdict is not None:
        verdict.conclude(step)
    step.passed(say(step, "tunnel_ok", target=target.hostport, status=tunnel.detail, tls=tls.version or "ok",
                    inside=f"; GET / -> {res.reply.status}" if res.reply else ""))


def _pac_address(step, proxy, target, tunnel, cfg) -> None:
    """The proxy URL carries a path: is it a PAC file's address? Then that is the finding, with its proxies."""
    path = connectivity.proxy_url_path(proxy.raw)
    if not path or tunnel.reply is None:
        return
    url = f"{proxy.scheme}://{proxy.hostport}{path}"
    text, _why = fetch_pac(url, float(cfg.timeout), resolve=cfg.resolve)
    proxies = connectivity.pac_proxies(text or "")
    if not proxies:
        return
    answer, answer_text = None, ""
    if any(name in (text or "") for name in connectivity.PAC_NEEDS_DNS):
        answer_text = say(step, "pac_not_evaluated", host=target.host, why=say(step, "pac_needs_dns"))
    else:
        sources, notes = system_proxy.pac_sources(url, [target.url], float(cfg.timeout))
        if sources and not notes:
            answer = sources[0].value
            answer_text = say(step, "pac_answer", host=target.host,
                              answer=answer if answer.upper() == "DIRECT" else f"PROXY {answer}")
        elif notes:
            answer_text = say(step, "pac_not_evaluated", host=target.host, why=notes[0])
    verdict = connectivity.judge_pac_url(url, target, tunnel.detail, proxies, answer, answer_text,
                                         cfg.proxy.source.removeprefix("env:"))
    if verdict is not None:
        verdict.conclude(step)


@pytest.mark.proxydiag_step("connectivity.no_proxy")
def test_no_proxy(proxydiag_step, proxydiag_config, proxydiag_target):
    step, cfg, target = proxydiag_step, proxydiag_config, proxydiag_target
    if not cfg.proxy.configured:
        step.skip(say(step, "no_effect"))
    values = {c: found for c in routing.CLIENTS if (found := routing.no_proxy_value(cfg.env, c))[0]}
    matches = {c: m for c, (value, _var) in values.items()
               if (m := routing.matches_no_proxy(target.host, target.port, value, c)) is not None}
    corrected = ""
    if values:
        step.add_evidence(no_proxy={c: {"variable": var, "value": v} for c, (v, var) in values.items()})
    if matches:
        keep = ["localhost", "127.0.0.1"] + ([Target(cfg.gateway.value, "").host] if cfg.gateway.value else [])
        corrected = routing.corrected_no_proxy(values[next(iter(matches))][0], keep_direct=keep,
                                               must_proxy=[t.host for t in cfg.targets])
        step.add_evidence(matches={c: {"entry": m.entry, "rule": m.rule} for c, m in matches.items()})
    connectivity.judge_no_proxy(target, values, matches, corrected).conclude(step)


@pytest.mark.proxydiag_step("connectivity.gateway")
def test_gateway(proxydiag_step, proxydiag_config, proxydiag_probes):
    step, cfg, gateway = proxydiag_step, proxydiag_config, proxydiag_config.gateway
    if not gateway.value:
        step.skip(say(step, "no_gateway"))
    target = Target(gateway.value.rstrip("/"), gateway.source)
    # Reached the way Claude Code reaches it (its proxy and NO_PROXY rules); a proxy's own
    # refusal on that route is gateway.client_route's finding, not the gateway being down.
    via_proxy = (bool(cfg.proxy.url) and not connectivity.is_local(target.host)
                 and routing.route(target.url, cfg.claude_env or cfg.env, "claude").proxy is not None)
    results = {}
    for path in connectivity.GATEWAY_HEALTH_PATHS:
        res = results[path] = proxydiag_probes.request(target, "GET", path, via_proxy=via_proxy)
        step.add_evidence(**{path.strip("/").replace("/", "_"): {"status": res.detail, "cause": res.cause.value}})
        tls = None
        if res.reply is None and target.url.startswith("http://") and res.cause in connectivity.MAYBE_TLS_ONLY:
            # A plain-HTTP request reset or closed: does the port speak TLS (the URL's scheme is what is wrong)?
            tls = proxydiag_probes.request(Target("https://" + target.url[len("http://"):], gateway.source), "GET",
                                           path, via_proxy=via_proxy)
            step.add_evidence(tls_answer={"status": tls.detail, "cause": tls.cause.value})
        other_port = None
        if res.reply is None and res.cause == connectivity.Cause.REFUSED \
                and target.port != connectivity.LITELLM_DEFAULT_PORT:
            # Nothing listens there: does a gateway answer on LiteLLM's own port of the same host?
            other_port = proxydiag_probes.request(
                Target(connectivity.with_port(target.origin, connectivity.LITELLM_DEFAULT_PORT), gateway.source),
                "GET", path, via_proxy=via_proxy)
            step.add_evidence(default_port_answer={"status": other_port.detail, "cause": other_port.cause.value})
        verdict = connectivity.judge_health_answer(target, gateway.source, path, res, via_proxy=via_proxy,
                                                   tls_answer=tls, default_port_answer=other_port)
        if verdict is not None:
            return verdict.conclude(step)
    connectivity.judge_unhealthy(target, results).conclude(step)
