"""GATEWAY ISSUES: Claude Code → LLM gateway (LiteLLM) → corporate proxy → provider, one hop at a time."""

from __future__ import annotations


import pytest

from pytest_proxydiag import catalog
from pytest_proxydiag.branches import application as appcheck
from pytest_proxydiag.branches import certificate as certs
from pytest_proxydiag.branches import gateway as gw
from pytest_proxydiag.branches.judgement import say
from pytest_proxydiag.core.config import Target
from pytest_proxydiag.machine.gateway_process import find_gateway_process
from pytest_proxydiag.net import routing
from pytest_proxydiag.proof.fix_values import PROXY_PLACEHOLDER, proxy_fix_value
from pytest_proxydiag.proof.clients import DUMMY_API_KEY, REQUEST_BODY, ANTHROPIC_VERSION

pytestmark = pytest.mark.gateway

#: Where no CA bundle was saved this run (see proof.fix_values.PLACEHOLDERS for how to produce it).
CA_BUNDLE_PLACEHOLDER = "<CORPORATE-CA-BUNDLE>"


def _gateway(step, cfg) -> Target:
    if not cfg.gateway.value:
        step.skip(say(step, "no_gateway"))
    return Target(cfg.gateway.value.rstrip("/"), cfg.gateway.source)


def _prefix(target: Target) -> str:
    """The path the gateway URL carries (``https://gw/anthropic`` serves under ``/anthropic``)."""
    from urllib.parse import urlsplit

    return urlsplit(target.url).path.rstrip("/")


def _claude_env(cfg):
    """The variables Claude Code sees: a settings scope's env over the shell's (its NO_PROXY, its key)."""
    return cfg.claude_env or cfg.env


def _claude_route(cfg, target: Target) -> routing.Route:
    return routing.route(target.url, _claude_env(cfg), "claude")


def _key(cfg) -> tuple[str | None, str | None]:
    """(the gateway key, the variable it came from) when --proxydiag-gateway-key-env names one: read where
    Claude Code reads it, a settings scope's env over the shell's (cfg.claude_env is that view)."""
    name = cfg["gateway_key_env"]
    return ((_claude_env(cfg).get(name) or cfg.env.get(name) or None), name) if name else (None, None)


def _check(probes, cfg, target: Target):
    """One minimal Messages request through the gateway, on Claude Code's route (cached for the run)."""
    key, _ = _key(cfg)
    via_proxy = _claude_route(cfg, target).proxy is not None
    headers = {"content-type": "application/json", "anthropic-version": ANTHROPIC_VERSION,
               "x-api-key": key or DUMMY_API_KEY}
    return probes.request(target, "POST", _prefix(target) + "/v1/messages", body=REQUEST_BODY.encode(),
                          headers=headers, via_proxy=via_proxy)


def _values(step, cfg, target: Target, **more):
    proxy = cfg.proxy.url
    values = {"gateway": target.url, "host": target.host, "proxy": proxy.redacted() if proxy else "none",
              "proxy_hostport": proxy.hostport if proxy else PROXY_PLACEHOLDER,
              "proxy_for_gateway": proxy_fix_value(proxy),
              "ca_bundle": step.state.artifacts.get("ca_bundle") or CA_BUNDLE_PLACEHOLDER,
              "config": _local_gateway(cfg, target)[1] or "config.yaml", "issuer": ""}
    values.update(more)
    return values


@pytest.mark.proxydiag_step("gateway.client_route")
def test_client_route(proxydiag_step, proxydiag_config, proxydiag_probes):
    step, cfg = proxydiag_step, proxydiag_config
    target = _gateway(step, cfg)
    route = _claude_route(cfg, target)
    step.add_evidence(route={"client": "Claude Code", "proxy": route.proxy, "reason": route.reason})
    if route.proxy is None:
        step.passed(say(step, "direct", reason=route.reason))
        return
    no_proxy, _var = routing.no_proxy_value(_claude_env(cfg), "claude")
    corrected = routing.corrected_no_proxy(no_proxy or "", keep_direct=["localhost", "127.0.0.1", "::1", target.host],
                                           must_proxy=[t.host for t in cfg.targets])
    values = _values(step, cfg, target, no_proxy=no_proxy or "not set", corrected=corrected)
    step.set_fix(kind="gateway_route", target_url=target.url, env={"NO_PROXY": corrected, "no_proxy": corrected})
    res = proxydiag_probes.request(target, "GET", _prefix(target) + "/health/liveliness", via_proxy=True)
    step.add_evidence(through_proxy={"status": res.detail, "cause": res.cause.value})
    if res.reply is None:
        step.fail("through_proxy_unreachable", detail=res.detail, **values)
    if res.reply.status != 200:
        squid = res.reply.squid_error
        step.fail("through_proxy_refused", status=res.reply.status_line,
                  proxy_error=f" ({squid})" if squid else "", product="", **values)
    if gw.is_internal_host(target.host):
        step.fail("through_proxy_internal", **values)
    step.passed(say(step, "via_proxy_ok", proxy=values["proxy"]))


def _answer(step, cfg, probes, target: Target) -> gw.GatewayAnswer:
    route = _claude_route(cfg, target)
    res = _check(probes, cfg, target)
    if res.reply is None:
        step.blocked("gateway.client_route" if route.proxy else "connectivity.gateway", res.detail)
    answer = gw.decode_answer(res.reply.status, res.reply.text(4000))
    step.add_evidence(check_request={"status": res.reply.status_line, "verdict": answer.verdict,
                                     "message": answer.message[:500], "via_proxy": route.proxy is not None})
    if route.proxy is not None and answer.verdict != "provider" and res.reply.squid_error:
        step.blocked("gateway.client_route", say(step, "proxy_answered", status=res.reply.status_line))
    return answer


@pytest.mark.proxydiag_step("gateway.key")
def test_key(proxydiag_step, proxydiag_config, proxydiag_probes):
    step, cfg = proxydiag_step, proxydiag_config
    target = _gateway(step, cfg)
    answer = _answer(step, cfg, proxydiag_probes, target)
    key, var = _key(cfg)
    if answer.verdict == "no_route":
        step.skip(say(step, "no_route"))
    if answer.verdict != "gateway_key":
        step.passed(say(step, "accepted" if key else "no_key_needed"))
        return
    if not key:
        step.skip(say(step, "name_key", status=answer.status))
    step.fail(gw.key_finding(answer), key_source=f"${var}", status=answer.status, message=answer.message[:300],
              **_values(step, cfg, target))


@pytest.mark.proxydiag_step("gateway.provider_path")
def test_provider_path(proxydiag_step, proxydiag_config, proxydiag_probes):
    step, cfg = proxydiag_step, proxydiag_config
    target = _gateway(step, cfg)
    answer = _answer(step, cfg, proxydiag_probes, target)
    if answer.verdict == "gateway_key":
        if _key(cfg)[0]:
            step.blocked("gateway.key", say(step, "key_refused"))
        step.skip(say(step, "name_key"))
    if answer.verdict == "provider":
        step.passed(say(step, "both_hops", status=answer.status))
        return
    if answer.verdict == "no_route":
        _no_route(step, cfg, target)
    if answer.verdict == "gateway_model":
        _model_refused(step, cfg, proxydiag_probes, target)
    _plain_http_api_base(step, cfg, target, answer)
    if answer.verdict == "egress_connect":
        _proxy_ignored(step, cfg, target, answer)
    analysis = _interception(step, cfg, proxydiag_probes)
    issuer = f" (issuer '{certs.common_name(analysis.ca_certs[0].subject)}')" if analysis and analysis.ca_certs \
        else ""
    values = _values(step, cfg, target, issuer=issuer)
    step.set_fix(kind="gateway_egress", files=[{"path": say(step, "fix_where", **values),
                                                "change": say(step, f"fix_{answer.verdict}", **values)}])
    step.fail(answer.verdict, status=answer.status, message=answer.message[:400], **values)


def _no_route(step, cfg, target: Target) -> None:
    """The gateway's own 404: no Messages route where Claude Code asks (``<ANTHROPIC_BASE_URL>/v1/messages``)."""
    values = _values(step, cfg, target, tried=f"{target.url}/v1/messages", source=cfg.gateway.source)
    fixed = gw.corrected_base_url(target.url)
    if fixed:
        step.set_fix(kind="gateway_base_url", target_url=fixed, before_url=target.url,
                     env={"ANTHROPIC_BASE_URL": fixed})
        step.fail("base_url_api_path", corrected=fixed, **values)
    step.fail("no_route", **values)


def _model_refused(step, cfg, probes, target: Target) -> None:
    """The gateway refused the check's model itself: which models it serves, and whether Claude Code's are."""
    key, _ = _key(cfg)
    res = probes.request(target, "GET", _prefix(target) + "/v1/models", headers={"x-api-key": key or DUMMY_API_KEY},
                         via_proxy=_claude_route(cfg, target).proxy is not None)
    served = gw.served_models(res.reply.status if res.reply else None, res.reply.text(20000) if res.reply else "")
    step.add_evidence(served_models=served)
    shown = ", ".join(served) if served else say(step, "models_unknown", gateway=target.url)
    missing = gw.models_not_served(_claude_env(cfg), served) if served is not None else {}
    if missing:
        step.fail("model_not_served", models=", ".join(f"{k}={v}" for k, v in missing.items()), served=shown,
                  **_values(step, cfg, target))
    step.skip(say(step, "model_check", served=shown))


def _proxy_ignored(step, cfg, target: Target, answer) -> None:
    """A connect error of a gateway told to ignore its proxy variables: the fix is that switch, not HTTPS_PROXY."""
    if cfg.proxy.url is None:
        return
    process, path = _local_gateway(cfg, target)
    settings, path = _config_settings(cfg, path)
    where = gw.trust_env_off(process.env if process else None, settings)
    if where is None:
        return
    source = process.source if where == "env" else path
    values = _values(step, cfg, target, source=source, message=answer.message[:400], status=answer.status)
    step.set_fix(kind="gateway_egress", files=[{"path": path if where == "config" else say(step, "fix_where", **values),
                                                "change": say(step, f"fix_trust_env_{where}", **values)}])
    step.fail(f"egress_proxy_ignored_{where}", **values)


def _plain_api_bases(cfg, path: str) -> list[tuple[str, str]]:
    from pytest_proxydiag.machine import litellm_config

    if not path:
        return []
    doc, _error = litellm_config.load(path)
    return gw.plain_http_api_bases(doc, {t.host for t in cfg.targets if t.url.startswith("https://")})


def _plain_http_api_base(step, cfg, target: Target, answer) -> None:
    """A failed path whose cause is in the gateway's config: an ``api_base`` that sends the provider plain HTTP,
    read from the config where it is on this machine, else seen in the proxy's error page the gateway passed on."""
    _process, path = _local_gateway(cfg, target)
    plain = _plain_api_bases(cfg, path)
    if not plain:
        seen = gw.plain_http_provider_urls(answer.page_urls, {t.host for t in cfg.targets
                                                              if t.url.startswith("https://")})
        if not seen:
            return
        from urllib.parse import urlsplit

        base = "http://" + urlsplit(seen[0]).netloc
        values = _values(step, cfg, target, url=seen[0], fixed=gw.https_url(base), status=answer.status,
                         message=answer.message)
        step.set_fix(kind="gateway_egress", files=[{"path": say(step, "fix_where", **values),
                                                    "change": say(step, "fix_api_base_http_seen", **values)}])
        step.fail("api_base_http_seen", **values)
    where, base = plain[0]
    values = _values(step, cfg, target, where=where, api_base=base, fixed=gw.https_url(base), source=path)
    step.set_fix(kind="gateway_egress", files=[{"path": path, "change": say(step, "fix_api_base_http", **values)}])
    step.fail("api_base_http", **values)


def _interception(step, cfg, probes):
    """The certificate branch's analysis of the first target (cached; computed here under -m gateway)."""
    target = cfg.targets[0]
    cached = probes.peek(("certificate-analysis", target.url))
    if cached is not None:
        return cached

    def compute():
        tls = probes.tls_via_proxy(target)
        if not tls.ok or not tls.chain:
            return None
        return certs.analyze(tls.chain, target.host, env=cfg.env, home=cfg.env.get("HOME"),
                             public_roots=cfg["public_roots"], litellm_config=cfg["litellm_config"],
                             gateway=cfg.gateway.value, target=target.hostport)
    return probes.cached(("certificate-analysis", target.url), compute) if cfg.proxy.url else None


def _local_gateway(cfg, target: Target):
    """(the gateway's process on this machine or None, its config path or "") for a gateway on loopback."""
    pins = {host for (host, port), addr in (cfg.resolve or {}).items()
            if port == target.port and addr.startswith("127.")}
    local = target.host in ("localhost", "127.0.0.1", "::1") or target.host in pins
    process = find_gateway_process(target.port) if local else None
    return process, cfg["litellm_config"] or (process.config_path if process else None) or ""


def _config_settings(cfg, path: str) -> tuple[dict, str]:
    """The ``litellm_settings`` egress keys of the gateway's config."""
    if not path:
        return {}, ""
    from pytest_proxydiag.machine import litellm_config

    parsed = appcheck.parse_litellm_config(path, cfg.env, cfg.source("litellm_config"))
    verify = parsed.ssl_verify.get("litellm_settings.ssl_verify")
    settings = {"ssl_verify": verify} if "litellm_settings.ssl_verify" in parsed.ssl_verify else {}
    doc, _error = litellm_config.load(path)
    section = doc.get("litellm_settings") if isinstance(doc, dict) else None
    if isinstance(section, dict) and "disable_aiohttp_trust_env" in section:
        settings["disable_aiohttp_trust_env"] = section["disable_aiohttp_trust_env"]
    return settings, path


@pytest.mark.proxydiag_step("gateway.egress_config")
def test_egress_config(proxydiag_step, proxydiag_config, proxydiag_probes):
    step, cfg = proxydiag_step, proxydiag_config
    target = _gateway(step, cfg)
    process, config_path = _local_gateway(cfg, target)
    settings, config_path = _config_settings(cfg, config_path)
    if process is None and not config_path:
        step.skip(say(step, "not_here"))
    analysis = _interception(step, cfg, proxydiag_probes)
    env = process.env if process else None
    holds = {}
    if analysis is not None and analysis.intercepted and env is not None:
        wanted = {certs.fingerprint(c) for c in analysis.ca_certs}
        for var in ("SSL_CERT_FILE", "SSL_CERT_DIR"):
            if env.get(var):
                holds[env[var]] = bool(wanted & {certs.fingerprint(c) for c in certs.read_ca_source(env[var]).certs})
        verify = settings.get("ssl_verify")
        if isinstance(verify, str) and verify.strip():
            holds[verify.strip()] = bool(wanted & {certs.fingerprint(c)
                                                  for c in certs.read_ca_source(verify.strip()).certs})
    proxy = cfg.proxy.url
    problems = gw.egress_problems(env, settings, proxy_needed=proxy is not None,
                                  proxy_has_credentials=bool(proxy and proxy.has_credentials),
                                  interception_ca=bool(analysis and analysis.intercepted), ca_file_has_ca=holds,
                                  env_source=process.source if process else "", config_source=config_path,
                                  api_bases=_plain_api_bases(cfg, config_path),
                                  accepted_proxy=proxy if proxy is not None and proxy.has_credentials
                                  and proxydiag_probes.tunnel_to(cfg.targets[0]).ok else None)
    step.add_evidence(gateway_process={"pid": process.pid if process else None,
                                       "environment": "read" if env is not None else
                                       (process.why_not if process else "no local process")},
                      config=config_path or None, problems=[p.key for p in problems])
    if not problems:
        step.passed(say(step, "matches"))
        return
    issuer = f" (issuer '{certs.common_name(analysis.ca_certs[0].subject)}')" if analysis and analysis.ca_certs \
        else ""
    in_config = ("ssl_verify_disabled", "api_base_http", "aiohttp_ignores_proxy_config")
    ca_bundle = _values(step, cfg, target)["ca_bundle"]
    instead = "verify_unknown" if analysis is None else "verify_with_ca" if analysis.intercepted else "verify_public"
    shared = dict(issuer=issuer, verify_instead=say(step, instead, ca_bundle=ca_bundle),
                  verify_instead_short=say(step, "verify_with_ca_short", ca_bundle=ca_bundle)
                  if instead == "verify_with_ca" else "")
    changes, texts = [], []
    # Every problem is shown and fixed at once: a gateway restarted after the first fix alone would fail
    # again on the next, one restart (and one ticket round) per problem.
    for problem in problems:
        values = _values(step, cfg, target, **shared, **dict(problem.values))
        where = config_path if problem.key in in_config and config_path else say(step, "fix_where", **values)
        changes.append({"path": where, "change": say(step, f"fix_{problem.key}", **values)})
        texts.append(catalog.render(step.step_id, problem.key, step.values(**values, also="")).text)
    step.set_fix(kind="gateway_egress", files=changes)
    first = problems[0]
    also = say(step, "also", problems=" ".join(texts[1:])) if texts[1:] else ""
    step.fail(first.key, **_values(step, cfg, target, **shared, **dict(first.values)), also=also)


@pytest.mark.proxydiag_step("gateway.streaming")
def test_streaming(proxydiag_step, proxydiag_config, proxydiag_probes):
    from pytest_proxydiag.branches.performance import judge_stream
    from pytest_proxydiag.core.proxyurl import parse_proxy_url

    step, cfg = proxydiag_step, proxydiag_config
    target = _gateway(step, cfg)
    answer = _answer(step, cfg, proxydiag_probes, target)
    if answer.verdict != "provider":
        step.blocked("gateway.provider_path", say(step, "path_broken"))
    route = _claude_route(cfg, target)
    key, _ = _key(cfg)
    headers = {"content-type": "application/json", "anthropic-version": ANTHROPIC_VERSION,
               "x-api-key": key or DUMMY_API_KEY, "accept": "text/event-stream"}
    expect = (gw.STREAM_EVENTS - 1) * gw.STREAM_INTERVAL
    res = proxydiag_probes.stream(target, _prefix(target) + "/v1/messages", headers=headers, duration=expect,
                                  method="POST", body=gw.stream_body(), via_proxy=route.proxy is not None)
    check = judge_stream(res, gw.STREAM_EVENTS, gw.STREAM_INTERVAL)
    process, _config = _local_gateway(cfg, target)
    egress = None
    if process is not None and process.env is not None:
        raw = next((process.env[n] for n in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")
                    if (process.env.get(n) or "").strip()), None)
        try:
            egress = parse_proxy_url(raw, source="gateway").redacted() if raw else None
        except ValueError:
            egress = None
    client_proxy = cfg.proxy.url.redacted() if route.proxy is not None and cfg.proxy.url else None
    gw.judge_streaming(check, gateway=target.url, egress=egress, client_proxy=client_proxy).conclude(step)
