"""PROXY POLICY ISSUES: blocked domains, URL filtering, payload limits, what the proxy's answers mean for IT."""

from __future__ import annotations

import pytest

from pytest_proxydiag.branches import policy, products
from pytest_proxydiag.branches.policy import read_reply, reply_parts
from pytest_proxydiag.core.step import blocking_step_for

pytestmark = pytest.mark.policy

_STAGE_TEXT = {"connect": "in answer to CONNECT, before any TLS", "tunnel": "inside the TLS tunnel, after the "
               "proxy intercepted it", "plain": "on a plain-HTTP request through the proxy"}


def _domains(config):
    return policy.provider_domains(config.targets, config["aws_region"], config["vertex_region"], config.env)


def _said(request: str, detail: str) -> str:
    return detail if detail.startswith(request) else f"{request}: {detail}"


def _target_verdict(probes, target):
    """The first reply that carries the proxy's verdict for *target*: CONNECT's, or the one inside the tunnel."""
    if target.scheme == "https":
        tunnel = probes.tunnel_to(target)
        if not tunnel.ok:
            return read_reply(*reply_parts(tunnel.reply), stage="connect"), tunnel, f"CONNECT {target.hostport}"
    res = policy.api_request(probes, target)
    stage = "tunnel" if target.scheme == "https" else "plain"
    return read_reply(*reply_parts(res.reply), stage=stage), res, f"POST {target.origin}/v1/messages"


@pytest.mark.proxydiag_step("policy.domain_allowed")
def test_domain_allowed(proxydiag_step, proxydiag_config, proxydiag_probes):
    step, cfg = proxydiag_step, proxydiag_config
    proxy = step.require_http_proxy()
    domains = _domains(cfg)
    target_hosts = {(t.host.lower(), t.port) for t in cfg.targets}
    refused, answers, verdicts, replies = [], {}, [], {}
    for d in domains:
        if d.scheme == "https":
            res = policy.connect_domain(proxydiag_probes, d.host, d.port, is_target=(d.host, d.port) in target_hosts)
            verdict = read_reply(*reply_parts(res.reply), stage="connect")
            detail = res.detail if not res.ok else f"{res.detail} (allowed)"
            if verdict.kind == "upstream":
                detail += " (allowed by policy, but the proxy could not reach it: see policy.proxy_logs)"
        else:
            target = next(t for t in cfg.targets if t.host.lower() == d.host)
            res = proxydiag_probes.request(target, "GET", "/")
            verdict = read_reply(*reply_parts(res.reply), stage="plain", expect_json=False)
            detail = res.detail
        answers[d.hostport] = detail
        if verdict.status in (403, 451) or verdict.is_block:
            refused.append((d, verdict))
            replies.setdefault("first", res.reply)
        verdicts.append(verdict)
    step.add_evidence(domains={h: a for h, a in answers.items()})
    if refused:
        first = refused[0][1]
        reply = replies.get("first")
        vendor_note = (" " + products.describe(products.identify(reply.headers, reply.body))) if reply else ""
        if first.error_code:
            vendor_note += f" X-Squid-Error: {first.error_code}."
        if first.category:
            vendor_note += f" Category shown: {first.category}."
        blocked = ", ".join(f"{d.hostport} ({v.status}" + (f" {v.error_code}" if v.error_code else "") + ")"
                            for d, v in refused)
        when = policy.when_of(proxydiag_probes, target=refused[0][0].hostport)
        step.add_evidence(refused=[{"domain": d.hostport, **v.as_dict()} for d, v in refused])
        step.set_fix(ticket_domains=[d.host for d in domains])
        key = "blocked" if all(v.status in (403, 451) for _, v in refused) else "block_page"
        step.fail(key, blocked=blocked, count=len(refused), vendor_note=vendor_note,
                  domains=policy.allowlist_lines(domains), wildcards=policy.wildcard_lines(domains),
                  when=policy.utc(when), client=policy._client_name(), proxy_hostport=proxy.hostport)
    if verdicts and all(v.status == 407 for v in verdicts):
        step.blocked("auth.credentials", "the proxy wants authentication before it says whether the domains "
                                         "are allowed")
    if verdicts and all(v.status is None for v in verdicts):
        _judge_silent_refusal(step, proxydiag_probes, domains, target_hosts, proxy, answers)
        step.blocked("connectivity.proxy_works", "; ".join(answers.values()))
    notes = [f"{h}: {a}" for h, a in answers.items()]
    step.passed("not refused by policy: " + "; ".join(notes))


def _judge_silent_refusal(step, probes, domains, target_hosts, proxy, answers):
    """A reset or close with no reply: one domain (policy) or every domain (a broken proxy)? Ask a control name."""
    first = domains[0]
    res = policy.connect_domain(probes, first.host, first.port, is_target=(first.host, first.port) in target_hosts)
    control = products.control_host(d.host for d in domains)
    control_res = policy.connect_domain(probes, control, first.port, is_target=False)
    answers[f"{control}:{first.port} (control)"] = control_res.detail
    judged = products.silent_refusal(res.cause.value, control_res.ok or control_res.reply is not None,
                                     control_res.cause.value)
    if judged == "one_domain":
        step.add_evidence(control={"domain": f"{control}:{first.port}", "answer": control_res.detail})
        step.set_fix(ticket_domains=[d.host for d in domains])
        step.fail("reset", how={"reset": "resets", "closed": "closes"}[res.cause.value], blocked=first.hostport,
                  control=f"{control}:{first.port}", domains=policy.allowlist_lines(domains),
                  wildcards=policy.wildcard_lines(domains),
                  when=policy.utc(policy.when_of(probes, target=first.hostport)), client=policy._client_name(),
                  proxy_hostport=proxy.hostport)


@pytest.mark.proxydiag_step("policy.url_filtering")
def test_url_filtering(proxydiag_step, proxydiag_probes, proxydiag_target):
    step, target = proxydiag_step, proxydiag_target
    step.require_http_proxy()
    verdict, res, request = _target_verdict(proxydiag_probes, target)
    step.add_evidence(reply=verdict.as_dict(), request=request)
    values = dict(vendor=verdict.vendor or "an unidentified filter in the path", category=verdict.category or
                  "(not shown)", status=f"HTTP {verdict.status}", stage_text=_STAGE_TEXT.get(verdict.stage, ""),
                  signals="; ".join(verdict.signals) or "an HTML page where the API answers JSON",
                  request=request, log_query=policy.log_query(verdict, request, when=policy.when_of(
                      proxydiag_probes, target=target.hostport, url=f"{target.origin}/v1/messages"),
                      proxy=step.values()["proxy_noauth"]))
    if verdict.stage == "connect":
        if verdict.kind == "category":
            step.fail("category", **values)
        if verdict.status == 407:
            step.blocked("auth.credentials", _said(request, res.detail))
        if verdict.status in (403, 451) or verdict.is_block:
            step.blocked("policy.domain_allowed",
                         _said(request, res.detail) + " (an access rule, no category shown)")
        if verdict.kind == "upstream":
            step.blocked("policy.proxy_logs", _said(request, res.detail))
        step.blocked(blocking_step_for(res), _said(request, res.detail))
    if res.reply is None:
        step.blocked("connectivity.proxy_works", f"{request}: no reply ({res.detail})")
    if verdict.kind in ("category", "block_page", "dlp", "content_type", "denied") and verdict.from_proxy:
        step.fail({"denied": "block_page"}.get(verdict.kind, verdict.kind), **values)
    who = {"unknown": "", "provider_edge": ", from the provider's edge"}.get(verdict.sender, f", from the {verdict.sender}")
    step.passed(f"{request}: {res.detail}{who}: no filtering verdict")


@pytest.mark.proxydiag_step("policy.payload_size")
def test_payload_size(proxydiag_step, proxydiag_config, proxydiag_probes):
    step, cfg = proxydiag_step, proxydiag_config
    step.require_http_proxy()
    target = next((t for t in cfg.targets if t.scheme == "https"), cfg.targets[0])
    if target.scheme == "https":
        tunnel = proxydiag_probes.tunnel_to(target)
        if not tunnel.ok:
            verdict = read_reply(*reply_parts(tunnel.reply), stage="connect")
            by = "policy.proxy_logs" if verdict.kind == "upstream" else blocking_step_for(tunnel)
            step.blocked(by, _said(f"CONNECT {target.hostport}", tunnel.detail))
    sizes = sorted(set(cfg["payload_sizes"] or [16 * 1024]))
    budget = max(20.0, cfg.timeout * 8)
    result = proxydiag_probes.cached(policy.payload_key(target, sizes),
                                     lambda: policy.measure_payload(proxydiag_probes, target, sizes, budget))
    step.add_evidence(attempts=result.attempts, seconds=round(result.elapsed, 2),
                      untested=[policy.size_label(s) for s in result.untested],
                      largest_passed=result.largest_passed, first_failed_size=result.failed_size,
                      payload_limit=result.bracket() or None, provider_limit=result.provider_limit)
    if result.failed_size is not None:
        if not result.passed and result.verdict is not None and result.verdict.kind not in ("too_large",):
            # Even the smallest body fails for another reason: that is a filtering or routing verdict.
            step.blocked("policy.url_filtering" if result.verdict.is_block else "policy.proxy_logs",
                         f"POST {target.origin}/v1/messages with {policy.size_label(result.failed_size)}: "
                         f"{result.failure}")
        v = result.verdict
        request = f"POST {target.origin}/v1/messages ({policy.size_label(result.failed_size)} body)"
        log_query = (policy.log_query(v, request, when=result.when, proxy=step.values()["proxy_noauth"])
                     if v is not None else f"    time (UTC):  {policy.utc(result.when)}\n    request:     {request}"
                                           f"\n    answer:      {result.failure}")
        values = dict(bracket=result.bracket(), failed=policy.size_label(result.failed_size),
                      largest=policy.size_label(result.largest_passed) if result.passed else "0 bytes",
                      failure=result.failure, log_query=log_query,
                      who=(f"the answer comes from {v.vendor or 'the proxy'}" if v is not None else "no answer"),
                      limit=policy.size_label(result.failed_size))
        step.fail("reset" if v is None else "limit", **values)
    if not result.passed:
        step.skip("no size could be measured within the time budget")
    summary = f"bodies up to {policy.size_label(result.largest_passed)} pass the proxy"
    if result.provider_limit:
        summary += (f"; at {policy.size_label(result.provider_limit)} the provider itself answers 413 "
                    "(its own limit, not the proxy's)")
    if result.untested:
        summary += f"; not tried within {budget:g}s: " + ", ".join(policy.size_label(s) for s in result.untested)
    step.passed(summary)


@pytest.mark.proxydiag_step("policy.proxy_logs")
def test_proxy_logs(proxydiag_step, proxydiag_config, proxydiag_probes):
    step, cfg = proxydiag_step, proxydiag_config
    step.require_http_proxy()
    found = []  # (verdict, request line, when); the targets' own replies first
    for target in cfg.targets:
        verdict, res, request = _target_verdict(proxydiag_probes, target)
        found.append((verdict, request, policy.when_of(proxydiag_probes, target=target.hostport,
                                                       url=f"{target.origin}/v1/messages")))
        sizes = sorted(set(cfg["payload_sizes"] or [16 * 1024]))
        payload = policy.peek(proxydiag_probes, policy.payload_key(target, sizes))
        if payload is not None and payload.verdict is not None:
            found.append((payload.verdict, f"POST {target.origin}/v1/messages "
                                            f"({policy.size_label(payload.failed_size)} body)", payload.when))
    primary = len(found)
    # Statuses other steps met (e.g. a 429 during the latency samples): headers only, no body kept.
    hosts = {t.host for t in cfg.targets}
    for entry in proxydiag_probes.iter_log():
        status = entry.get("status")
        # Only the providers' paths: a gateway's name refused by the proxy is gateway.client_route's.
        where = str(entry.get("target") or entry.get("url") or "")
        if not any(h in where for h in hosts):
            continue
        if status in (429, 502, 503, 504) and entry.get("headers") is not None:
            stage = "connect" if entry["kind"] == "connect" else "tunnel"
            verdict = read_reply(status, entry["headers"], b"", stage=stage)
            line = (f"CONNECT {entry.get('target')}" if entry["kind"] == "connect"
                    else f"{entry.get('method', 'GET')} {entry.get('url')}")
            found.append((verdict, line, entry.get("time")))
    def needs_it(items):
        return [(v, r, w) for v, r, w in items if v.from_proxy and v.kind not in ("ok", "auth")]
    found = list({(v.status, v.kind, v.error_code, r): (v, r, w) for v, r, w in found}.values())
    primary = min(primary, len(found))
    relevant = needs_it(found[:primary]) or needs_it(found[primary:])
    step.add_evidence(replies=[{"request": r, **v.as_dict()} for v, r, _w in found])
    if not relevant:
        provider = [f"{r}: {v.status} ({v.meaning})" for v, r, _w in found if v.sender != "proxy" and v.status]
        if any(v.status == 407 for v, _r, _w in found):
            step.blocked("auth.credentials", "the proxy wants authentication first")
        step.passed("nothing for IT to look up: " + ("; ".join(provider) if provider else
                                                     "no error answer from the proxy"))
        return
    relevant.sort(key=lambda item: policy.LOG_PRIORITY.index(item[0].kind)
                  if item[0].kind in policy.LOG_PRIORITY else len(policy.LOG_PRIORITY))
    verdict, request, when = relevant[0]
    key = {"category": "denied", "block_page": "denied", "invalid": "other"}.get(verdict.kind, verdict.kind)
    if key not in ("upstream", "denied", "rate_limited", "too_large", "dlp", "content_type"):
        key = "other"
    step.fail(key, status=f"HTTP {verdict.status}",
              code=f" (X-Squid-Error: {verdict.error_code})" if verdict.error_code else
              (f" from {verdict.vendor}" if verdict.vendor else ""),
              meaning=verdict.meaning, retry_after=verdict.retry_after or "(none)",
              log_query=policy.log_query(verdict, request, when=when, proxy=step.values()["proxy_noauth"]),
              detail=f"{request}: {verdict.status}")
