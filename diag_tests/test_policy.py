"""PROXY POLICY ISSUES: blocked domains, URL filtering, payload limits, what the proxy's answers mean for IT."""

from __future__ import annotations

import pytest

from pytest_proxydiag.branches import performance as perf
from pytest_proxydiag.branches import policy, policy_reach, products
from pytest_proxydiag.branches.judgement import Judgement, Note
from pytest_proxydiag.catalog import policy as words
from pytest_proxydiag.core.step import blocking_step_for
from pytest_proxydiag.net import policy_probes as measure
from pytest_proxydiag.net.policy_probes import reply_parts

pytestmark = pytest.mark.policy


def _tunneled(probes, target) -> bool:
    """*target* is reached through a tunnel: https:// through any proxy, everything through a SOCKS5 one."""
    return target.scheme == "https" or probes.socks5


def _path(step, cfg, probes, target):
    """The proxy (HTTP or SOCKS5), or this step's own verdict when the proxy cannot be used at all and the step
    that owns that (connectivity.proxy_reachable) is not in this run."""
    if cfg.proxy.url is not None and not step.runs("connectivity.proxy_reachable"):
        bad = probes.proxy_unusable()
        if bad is not None:
            _judge_path(step, cfg, probes, target, unusable=bad.detail)
    return step.require_tunnel_proxy()


def _conclude(step, cfg, probes, target, judgement) -> None:
    """*judgement*; but when it blocks on a step not in this run (``-k url_filtering``) and the tunnel to *target*
    failed, the step's own verdict on that CONNECT (the shared, cached one: a full run pays nothing)."""
    if judgement.outcome == "blocked" and not step.runs(judgement.by) and _tunneled(probes, target):
        tunnel = probes.tunnel_to(target)
        if not tunnel.ok:
            _judge_path(step, cfg, probes, target, tunnel=tunnel)
        _judge_handshake(step, cfg, probes, target)
    judgement.conclude(step)


def _judge_path(step, cfg, probes, target, *, unusable=None, tunnel=None):
    domains = policy.provider_domains(cfg.targets, cfg["aws_region"], cfg["vertex_region"], cfg.env)
    verdict = control = control_res = everywhere = None
    if tunnel is not None:
        verdict = policy.read_tunnel(tunnel)
        everywhere = policy_reach.reference_refusal(verdict, *measure.reference_probes(probes, cfg["reference"]))
        if policy_reach.needs_control(verdict):
            control = products.control_host(d.host for d in domains)
            control_res = measure.control_tunnel(probes, control, target.port)
            control = f"{control}:{target.port}"
    policy_reach.judge_own_path(target, domains, unusable=unusable, tunnel=tunnel, verdict=verdict,
                                control=control or "", control_res=control_res, everywhere=everywhere,
                                proxy_hostport=cfg.proxy.url.hostport, client=measure.client_name(),
                                when=lambda hostport: measure.when_of(probes, target=hostport)).conclude(step)


def _wait_if_refused_everywhere(step, cfg, probes, verdict) -> None:
    """The provider's refusal (*verdict*) given to the reference name too: the proxy refuses every name, which
    connectivity.proxy_works names with its rule and log (the reference CONNECT is cached: asked once per run)."""
    everywhere = policy_reach.reference_refusal(verdict, *measure.reference_probes(probes, cfg["reference"]))
    if everywhere is not None:
        _conclude(step, cfg, probes, _first_tunneled(probes, cfg), Judgement.blocked(
            "connectivity.proxy_works", key="refuses_everything", detail=everywhere.answer,
            reference=everywhere.hostport))


def _judge_handshake(step, cfg, probes, target) -> None:
    """The CONNECT opened: did the proxy then close the provider's TLS handshake for its name (SNI)?  The
    handshake is the cached one connectivity.proxy_works uses; the control handshake is asked only after a close."""
    if target.scheme != "https" or not probes.tunnel_to(target).ok:
        return
    tls = probes.tls_via_proxy(target)
    if tls.ok or tls.cause.value not in ("reset", "closed"):
        return
    domains = policy.provider_domains(cfg.targets, cfg["aws_region"], cfg["vertex_region"], cfg.env)
    control, control_tls = measure.control_handshake(probes, products.control_host(d.host for d in domains),
                                                     target.port)
    if policy_reach.handshake_refused(tls, control_tls):
        policy_reach.judge_handshake(target, domains, tls, control, proxy_hostport=cfg.proxy.url.hostport,
                                     client=measure.client_name(),
                                     when=lambda hostport: measure.when_of(probes, target=hostport)).conclude(step)


def _first_tunneled(probes, cfg):
    return next((t for t in cfg.targets if _tunneled(probes, t)), cfg.targets[0])


def _target_verdict(probes, target):
    """The first reply that carries the proxy's verdict for *target*: the tunnel's (HTTP CONNECT or SOCKS5), or the
    one inside the tunnel."""
    if _tunneled(probes, target):
        tunnel = probes.tunnel_to(target)
        if not tunnel.ok:
            return policy.read_tunnel(tunnel), tunnel, f"CONNECT {target.hostport}"
    res = measure.api_request(probes, target)
    if res.tunnel is not None and not res.tunnel.ok:
        # This request's own CONNECT was refused, the first one was not (a quota, maxconn): the proxy's answer to a
        # CONNECT, never a page from inside the tunnel.
        return policy.read_tunnel(res.tunnel), res.tunnel, f"CONNECT {target.hostport}"
    stage = "tunnel" if _tunneled(probes, target) else "plain"
    request = f"POST {target.origin}{measure.api_path(target)}"
    return policy.read_reply(*reply_parts(res.reply), stage=stage), res, request


def _sizes(cfg):
    return sorted(set(cfg["payload_sizes"] or [16 * 1024]))


@pytest.mark.proxydiag_step("policy.domain_allowed")
def test_domain_allowed(proxydiag_step, proxydiag_config, proxydiag_probes):
    step, cfg, probes = proxydiag_step, proxydiag_config, proxydiag_probes
    proxy = _path(step, cfg, probes, _first_tunneled(probes, cfg))
    domains = policy.provider_domains(cfg.targets, cfg["aws_region"], cfg["vertex_region"], cfg.claude_env)
    target_hosts = {(t.host.lower(), t.port) for t in cfg.targets}
    checked, replies = [], {}
    for d in domains:
        if d.scheme == "https" or probes.socks5:
            res = measure.connect_domain(probes, d.host, d.port, is_target=(d.host, d.port) in target_hosts)
            verdict = policy.read_tunnel(res)
        else:
            res = probes.request(next(t for t in cfg.targets if t.host.lower() == d.host), "GET", "/")
            verdict = policy.read_reply(*reply_parts(res.reply), stage="plain", expect_json=False)
        checked.append((d, verdict, policy.domain_answer(d, res, verdict)))
        replies[d.hostport] = res.reply
    step.add_evidence(domains={d.hostport: answer for d, _v, answer in checked})
    common = dict(proxy_hostport=proxy.hostport, client=measure.client_name(),
                  when=lambda hostport: measure.when_of(probes, target=hostport))
    if policy.no_reply_anywhere(checked):
        # No reply for any domain: one domain refused silently, or the proxy broken for all? Ask a control name.
        first_res, control, control_res = measure.control_connect(
            probes, domains, target_hosts, products.control_host(d.host for d in domains))
        _conclude(step, cfg, probes, _first_tunneled(probes, cfg), policy.judge_silent_refusal(
            domains, checked, first_res, control, control_res, **common))
    # Every domain refused alike: the reference name too? Then the proxy refuses this machine (connectivity's).
    refused = [v for _d, v, _a in checked if v.status in (403, 451) or v.is_block]
    _wait_if_refused_everywhere(step, cfg, probes, refused[0] if len(refused) == len(checked) else None)
    if not any(v.status in (403, 451) or v.is_block for _d, v, _a in checked):
        _judge_handshake(step, cfg, probes, _first_tunneled(probes, cfg))
    # A refusal that does not repeat is no rule on the name or the port: each refused domain is asked once more.
    again = {d.hostport: measure.connect_again(probes, d.host, d.port) for d, v, _ in checked if d.scheme == "https"
             and not probes.socks5 and v.status in (403, 451) and v.kind not in policy.PROXY_WIDE}
    flaky = policy_reach.judge_refused_then_opened(checked, again, proxy_hostport=proxy.hostport)
    if flaky is not None:
        flaky.conclude(step)
    # A 403 on a port other than 443: the same host on 443 through the same proxy tells a port rule from a domain's.
    port_checks = {d.hostport: (f"{d.host}:443", measure.connect_domain(probes, d.host, 443, is_target=False))
                   for d, v, _ in checked if d.scheme == "https" and d.port != 443 and v.kind not in policy.PROXY_WIDE
                   and (v.status in (403, 451) or v.socks_code == 2)}  # 2: SOCKS5 "not allowed by ruleset"
    allow_list = policy_reach.allow_list_note(refused[0] if len(refused) == len(checked) else None,
                                              measure.reference_probes(probes, cfg["reference"])[0])
    _conclude(step, cfg, probes, _first_tunneled(probes, cfg), policy.judge_domains(
        domains, checked, replies=replies, port_checks=port_checks, allow_list=allow_list, **common))


@pytest.mark.proxydiag_step("policy.url_filtering")
def test_url_filtering(proxydiag_step, proxydiag_config, proxydiag_probes, proxydiag_target):
    step, target = proxydiag_step, proxydiag_target
    _path(step, proxydiag_config, proxydiag_probes, target)
    verdict, res, request = _target_verdict(proxydiag_probes, target)
    step.add_evidence(reply=verdict.as_dict(), request=request)
    when = measure.when_of(proxydiag_probes, target=target.hostport, url=target.origin + measure.api_path(target))
    # Closed at once after the request, no answer, and the shared GET too: a rule, not a timeout (a Squid timeout
    # counted in whole seconds can fire soon after one request; a rule drops them all).
    if perf.dropped_at_once(res) and perf.dropped_at_once(perf.measure_latency(proxydiag_probes, target).result):
        Judgement.fail("dropped", request=request, how=Note.of("how_" + res.cause.value), seconds=perf.fmt_ms(
            perf.waited(res)), log_query=words.log_query_without_reply(request, when=when, failure=res.detail)
                       ).conclude(step)
    _conclude(step, proxydiag_config, proxydiag_probes, target, policy.judge_url_filtering(
        verdict, res, request, when=when, proxy=step.values()["proxy_noauth"], client=measure.client_name()))


@pytest.mark.proxydiag_step("policy.payload_size")
def test_payload_size(proxydiag_step, proxydiag_config, proxydiag_probes):
    step, cfg = proxydiag_step, proxydiag_config
    target = next((t for t in cfg.targets if t.scheme == "https"), cfg.targets[0])
    _path(step, cfg, proxydiag_probes, target)
    if _tunneled(proxydiag_probes, target):
        tunnel = proxydiag_probes.tunnel_to(target)
        if not tunnel.ok:
            verdict = policy.read_tunnel(tunnel)
            by = "policy.proxy_logs" if verdict.kind == "upstream" else blocking_step_for(tunnel)
            _conclude(step, cfg, proxydiag_probes, target,
                      Judgement.blocked(by, policy.said(f"CONNECT {target.hostport}", tunnel.detail)))
    budget = max(20.0, cfg.timeout * 8)
    result = proxydiag_probes.cached(measure.payload_key(target, _sizes(cfg)), lambda: measure.measure_payload(
        proxydiag_probes, target, _sizes(cfg), budget, judge=policy.read_reply))
    step.add_evidence(attempts=result.attempts, seconds=round(result.elapsed, 2),
                      untested=[policy.size_label(s) for s in result.untested],
                      largest_passed=result.largest_passed, first_failed_size=result.failed_size,
                      payload_limit=policy.payload_limit(result) or None, provider_limit=result.provider_limit)
    small_by = None
    if result.failed_size is not None and not result.passed and result.verdict is None:
        small = measure.api_request(proxydiag_probes, target)  # shared with url_filtering
        if small.reply is None:  # even a few bytes get no answer: no size limit
            small_by = ("performance.latency" if perf.cut_after_tunnel(small) else "policy.url_filtering"
                        if perf.dropped_at_once(small) else "connectivity.proxy_works")
        if small_by == "performance.latency" and not step.runs(small_by):  # -m policy: say it here
            Judgement.fail("cut", how=Note.of("how_" + small.cause.value),
                           seconds=perf.fmt_ms(small.timings.total)).conclude(step)
    policy.judge_payload(result, target, budget=budget, proxy=step.values()["proxy_noauth"],
                         client=measure.client_name(), small_failed_by=small_by).conclude(step)


@pytest.mark.proxydiag_step("policy.proxy_logs")
def test_proxy_logs(proxydiag_step, proxydiag_config, proxydiag_probes):
    step, cfg, probes = proxydiag_step, proxydiag_config, proxydiag_probes
    _path(step, cfg, probes, _first_tunneled(probes, cfg))
    found = []  # (verdict, request line, when); the targets' own replies first
    for target in cfg.targets:
        verdict, res, request = _target_verdict(probes, target)
        found.append((verdict, request, measure.when_of(probes, target=target.hostport,
                                                        url=target.origin + measure.api_path(target))))
        payload = probes.peek(measure.payload_key(target, _sizes(cfg)))
        if payload is not None and payload.verdict is not None:
            found.append((payload.verdict, f"POST {target.origin}{measure.api_path(target)} "
                                            f"({policy.size_label(payload.failed_size)} body)", payload.when))
    primary = len(found)
    # Statuses other steps met (e.g. a 429 during the latency samples): headers only, no body kept.
    hosts = {t.host for t in cfg.targets}
    # A CONNECT already judged with its page as the proxy's own problem (its parent down, a port): not again headers-only.
    wide = {request for v, request, _w in found if v.kind in policy.PROXY_WIDE}
    for entry in probes.iter_log():
        # Only the providers' paths: a gateway's name refused by the proxy is gateway.client_route's.
        if not any(h in str(entry.get("target") or entry.get("url") or "") for h in hosts):
            continue
        if entry.get("status") in (429, 502, 503, 504) and entry.get("headers") is not None:
            connect = entry["kind"] == "connect"
            if connect and f"CONNECT {entry.get('target')}" in wide:
                continue
            verdict = policy.read_reply(entry["status"], entry["headers"], b"", stage="connect" if connect else "tunnel")
            found.append((verdict, f"CONNECT {entry.get('target')}" if connect
                          else f"{entry.get('method', 'GET')} {entry.get('url')}", entry.get("time")))
    _wait_if_refused_everywhere(step, cfg, probes, found[0][0] if found and found[0][0].stage == "connect" else None)
    _conclude(step, cfg, probes, _first_tunneled(probes, cfg), policy.judge_proxy_logs(
        found, primary, proxy=step.values()["proxy_noauth"], client=measure.client_name()))
