"""bypass.node_env_proxy: do plain Node programs (not Claude Code) use the proxy?

Node ignores ``HTTPS_PROXY`` unless told (``NODE_USE_ENV_PROXY=1`` / ``--use-env-proxy``) on a
release that has the switch (:mod:`pytest_proxydiag.proof.node_rules`).  The step asks the real
``node`` on the user's ``PATH`` (:mod:`pytest_proxydiag.proof.node_proxy`) through a relay in front of
the proxy, ``fetch()`` and ``https`` each:

* both go through the proxy: passed;
* one goes direct and direct works (no firewall between): passed, with the note that it skips the proxy;
* one goes direct and fails (``--proxydiag-no-direct``, or a network that blocks direct traffic): the
  finding, when Node programs matter here (``--proxydiag-clients`` names ``node``, or ``./package.json``
  depends on an LLM SDK); otherwise a pass that says so.  Its fix ``NODE_USE_ENV_PROXY=1`` is proven with the same Node through the relay; where this
  Node has no such switch the fix is an upgrade, ``verified: null``.
"""

from __future__ import annotations

import json
import os
from typing import Any
from urllib.parse import urlsplit

from pytest_proxydiag import catalog
from pytest_proxydiag.branches.judgement import Judgement, Note
from pytest_proxydiag.proof import node_proxy, node_rules

__all__ = ["FIX_KIND", "STEP", "check", "judgement_of"]

STEP = "bypass.node_env_proxy"
#: npm packages that call an LLM provider: a project using one is a Node program that needs the proxy.
LLM_SDKS = frozenset({"@anthropic-ai/sdk", "@anthropic-ai/bedrock-sdk", "@anthropic-ai/vertex-sdk", "openai", "ai",
                      "@aws-sdk/client-bedrock-runtime", "@google-cloud/vertexai", "langchain", "litellm"})
#: The fix kind this step proves itself (proof.fixes leaves it alone).
FIX_KIND = "node_env_proxy"
_FIX_ENV = {"NODE_USE_ENV_PROXY": "1"}


def _say(key: str, **values: Any) -> str:
    return catalog.note(STEP, key, **values)


def _version_text(version) -> str:
    return ".".join(map(str, version)) if version else "unknown"


def _pin(cfg: Any, target: Any) -> str | None:
    """The address a direct Node attempt gets: nothing listens there under --proxydiag-no-direct."""
    if cfg["no_direct"]:
        from pytest_proxydiag.proof.fixes import NO_DIRECT_ADDRESS

        return NO_DIRECT_ADDRESS
    return dict(cfg.resolve).get((target.host.lower(), target.port))


def node_llm_users(cfg: Any, cwd: str | None = None) -> list[str]:
    """Why Node programs matter here: ``--proxydiag-clients`` names node, or ./package.json uses an LLM SDK."""
    clients = str(cfg["clients"] or "auto")
    found = ["--proxydiag-clients node"] if "node" in [c.strip() for c in clients.split(",")] else []
    path = os.path.join(cwd or os.getcwd(), "package.json")
    try:
        with open(path, encoding="utf-8") as f:
            data = json.loads(f.read(1 << 20))
    except (OSError, ValueError):
        return found
    deps: set[str] = set()
    for key in ("dependencies", "devDependencies", "optionalDependencies"):
        if isinstance(data, dict) and isinstance(data.get(key), dict):
            deps |= set(data[key])
    found += [f"{path}: {d}" for d in sorted(deps) if d in LLM_SDKS or d.startswith(("@ai-sdk/", "@langchain/"))]
    return found


def check(cfg: Any, probes: Any, export_lines) -> Judgement:
    """The step's verdict; *export_lines* turns ``{"NAME": "value"}`` into the user's shell lines."""
    from pytest_proxydiag.branches.bypass import env_has_proxy
    from pytest_proxydiag.net import routing

    env = cfg.env
    if not env_has_proxy(env):
        return Judgement.skip("no_proxy")
    chosen = [c.strip() for c in str(cfg["clients"] or "auto").split(",")]
    if chosen != ["auto"] and "node" not in chosen:
        return Judgement.skip("not_chosen", clients=",".join(chosen))
    node = node_proxy.find_node(env)
    if node is None:
        return Judgement.skip("no_node")
    proxy = cfg.proxy.url
    if proxy is None:
        return Judgement.blocked("connectivity.proxy_reachable", str(cfg.proxy.error or ""))
    if proxy.is_socks:
        return Judgement.skip("socks", scheme=proxy.scheme)
    bad = probes.proxy_unusable()
    if bad is not None:
        return Judgement.blocked("connectivity.proxy_reachable", bad.detail)
    targets = [t for t in cfg.targets if not routing.route(t.url, env, "node").direct]
    if not targets:
        return Judgement.skip("all_no_proxy", targets=", ".join(t.hostport for t in cfg.targets))
    target, timeout = targets[0], float(cfg.timeout)
    version = node_proxy.node_version(node)
    rules = node_rules.env_proxy(version, env)
    node_text = _version_text(version)
    with probes.relay(lifetime=timeout * 6 + 5) as relay:
        from pytest_proxydiag.net.relay import relay_env

        renv = relay_env(env, relay.url)
        before = node_proxy.run_node_apis(node, target.url, renv, timeout, pin=_pin(cfg, target))
        seen_before = len(relay.wait_for(target.hostport, 0.3)) if any(r.proxied for r in before) else 0
        broken = [r for r in before if r.code == "unavailable"]
        if broken:
            return Judgement.skip("no_answer", node=node_text, error=broken[0].error)
        record = {"node": {"path": node, "version": node_text, "switch": rules.switch or _say("none_set"),
                           "expected": {"fetch()": "proxy" if rules.fetch else "direct",
                                        "https": "proxy" if rules.https else "direct"},
                           "measured": [r.as_dict() for r in before]}}
        direct = [r for r in before if r.direct]
        if not direct:
            arrival = f"CONNECT {target.hostport} x{seen_before}"
            return Judgement("pass", "uses_proxy", {"node": node_text, "switch": rules.switch or "",
                                                    "arrival": arrival}, record=record)
        apis = " and ".join("fetch()" if r.api == "fetch" else "https" for r in direct)
        host = target.hostport
        proxy_var = next(n for n in ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY", "all_proxy",
                                     "ALL_PROXY") if env.get(n, "").strip())
        if all(r.status is not None for r in direct):
            return Judgement("pass", "direct_works", {
                "node": node_text, "proxy_var": proxy_var, "apis": apis, "host": host,
                "status": ", ".join(f"{r.api}: {r.status}" for r in direct),
                "upgrade_note": "" if rules.fixable else Note.of("upgrade_note", fix_version=node_rules.FIX_VERSION)},
                record=record)
        error = "; ".join(f"{r.api}: {r.code or r.error}" for r in direct if r.status is None)
        users = node_llm_users(cfg)
        if not users:
            return Judgement("pass", "not_used", {"node": node_text, "proxy_var": proxy_var, "apis": apis,
                                                  "host": host, "error": error}, record=record)
        record["node"]["llm_programs"] = users
        values = dict(node=node_text, proxy_var=proxy_var, apis=apis, host=host, error=error,
                      fix_version=node_rules.FIX_VERSION, target_url=target.url,
                      export_lines=export_lines(_FIX_ENV))
        fix: dict[str, Any] = {"kind": FIX_KIND, "env": dict(_FIX_ENV), "unset": [], "files": [],
                               "verified_with": [], "clients": []}
        if not rules.fixable:
            fix.update(verified=None, evidence=_say("not_fixable", node=node_text, fix_version=node_rules.FIX_VERSION))
            key = "partial" if rules.fetch and not rules.https else "too_old"
            values.update(switch=rules.switch or "", switch_note=Note.of("switch_note"))
            return Judgement.fail(key, fix=fix, record=record, **values)
        after = node_proxy.run_node_apis(node, target.url, {**renv, **_FIX_ENV}, timeout, pin=_pin(cfg, target))
        arrivals = relay.wait_for(target.hostport, 0.5)
    still = [r for r in after if not r.proxied]
    rows = [{"client": f"node {node_text} ({b.api})", "before": b.as_dict()["route"], "after": a.as_dict()["route"]}
            for b, a in zip(before, after)]
    fix["clients"] = rows
    if still or len(arrivals) <= seen_before:
        fix.update(verified=False, evidence=_say("still_direct", node=node_text,
                                                 apis=", ".join(r.api for r in still) or apis))
    else:
        fix.update(verified=True, verified_with=[f"node {node_text}"],
                   evidence=_say("fixed", node=node_text, apis=apis,
                                 arrival=f"CONNECT {urlsplit(target.url).netloc} x{len(arrivals) - seen_before}"))
    key = "ignored_value" if rules.ignored_value else "ignored"
    return Judgement.fail(key, fix=fix, record=record, value=rules.ignored_value or "", **values)


def judgement_of(state) -> Judgement:
    """:func:`check` of this run, once per session: started early beside the other steps
    (``proof.early.start_early``), the step takes it from the probe cache, waiting for it if still running."""
    from pytest_proxydiag.core.step import export_lines

    return state.probes.cached(("node-env-proxy",), lambda: check(state.settings, state.probes, export_lines))
