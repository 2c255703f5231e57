"""BYPASS ISSUES: does traffic really go through the proxy, NO_PROXY per client, system and app settings."""

from __future__ import annotations

import ipaddress
import os
import time
from urllib.parse import urlsplit

import pytest

from pytest_proxydiag.branches import bypass

from pytest_proxydiag.branches import policy
from pytest_proxydiag.core.config import proxy_from_env
from pytest_proxydiag.core.step import export_lines

pytestmark = pytest.mark.bypass

METADATA_URL = "http://169.254.169.254/latest/meta-data/"
#: Clients the witness may be: those whose real program follows the routing rules of the same name.
WITNESS_ORDER = ("claude", "curl", "requests", "httpx")


def _routing():
    from pytest_proxydiag.net import routing

    return routing


def _env_has_proxy(env) -> bool:
    return any(env.get(n, "").strip() for n in bypass.PROXY_NAMES)


def _home(cfg) -> str:
    return cfg.env.get("HOME") or os.path.expanduser("~")


def _must_be_direct(host: str) -> bool:
    """A gateway the corporate proxy cannot reach: this machine, a private address, an internal name."""
    h = host.strip("[]").lower()
    try:
        ip = ipaddress.ip_address(h)
        return ip.is_loopback or ip.is_private or ip.is_link_local
    except ValueError:
        pass
    return h == "localhost" or "." not in h or h.endswith((".local", ".internal", ".lan", ".corp", ".home.arpa",
                                                           ".localhost"))


@pytest.mark.proxydiag_step("bypass.traffic_via_proxy")
def test_traffic_via_proxy(proxydiag_step, proxydiag_config):
    step, cfg = proxydiag_step, proxydiag_config
    routing = _routing()
    env = cfg.env
    if not _env_has_proxy(env):
        if cfg.proxy.configured:
            step.blocked("auth.env_exported", "no proxy variable is set in this environment, so every client "
                                              "goes direct")
        step.skip("no proxy is configured: nothing to route")
    urls = [t.url for t in cfg.targets]
    matrix = routing.route_matrix(urls, env)
    step.add_evidence(routes={c: {u: ("proxy " + (r.proxy_var or "")) if not r.direct else "direct: " + r.reason
                                  for u, r in per.items()} for c, per in matrix.items()})
    direct = [(c, u, r) for c, per in matrix.items() for u, r in per.items() if r.direct]
    proof = _witness(step, cfg, matrix)
    values = dict(export_lines=export_lines({"HTTPS_PROXY": step.values()["proxy_placeholder"],
                                             "https_proxy": step.values()["proxy_placeholder"]}))
    if direct:
        lines = "\n".join(f"  - {routing.CLIENT_LABELS[c]} -> {urlsplit(u).netloc}: {r.reason}" for c, u, r in direct)
        clients = ", ".join(dict.fromkeys(routing.CLIENT_LABELS[c] for c, _u, _r in direct))
        step.fail("direct", direct=lines, clients=clients, target=", ".join(dict.fromkeys(
            urlsplit(u).netloc for _c, u, _r in direct)), **values)
    if proof is not None and not proof["observed"]:
        step.fail("unobserved", witness=proof["client"], target=proof["target"], arrival=proof["outcome"], **values)
    if proof is None:
        step.passed("by their rules every client uses the proxy for " + ", ".join(urls)
                    + " (no client could run to prove it)")
        return
    step.passed(f"every client uses the proxy by its rules; proved with {proof['client']}: its request "
                f"{proof['arrival']} was sent to the proxy (seen by a relay in front of it; {proof['proxy_answer']})")


def _witness(step, cfg, matrix):
    """Run one real client through an observing relay in front of the proxy; None if none can run."""
    routing = _routing()
    proxy = cfg.proxy.url
    if proxy is None or proxy.is_socks or cfg["clients"] == "none":
        return None
    from pytest_proxydiag.proof import clients

    try:
        available = {c.name for c in clients.discover(cfg["clients"]) if c.available}
    except Exception as exc:  # noqa: BLE001 - a broken client list must not stop the step
        step.add_evidence(witness_error=str(exc))
        available = set()
    candidates = [(c, t) for c in WITNESS_ORDER if c in available for t in cfg.targets
                  if not matrix[c][t.url].direct]
    via_urllib = [t for t in cfg.targets if not routing.route(t.url, cfg.env, "urllib").direct]
    if not candidates and not via_urllib:
        return None
    timeout = float(cfg.timeout)
    with bypass.ObservedRelay(proxy.host, proxy.port, upstream_tls=(proxy.scheme == "https"),
                              lifetime=timeout * 4 + 5, io_timeout=timeout) as relay:
        renv = bypass.relay_env(cfg.env, relay.url)
        if candidates:
            name, target = candidates[0]
            run = clients.run_client(name, target.url, renv, timeout=timeout * 2, resolve=dict(cfg.resolve))
            outcome = clients.describe(run) if hasattr(clients, "describe") else str(run)
            label = routing.CLIENT_LABELS.get(name, name)
        else:
            target = via_urllib[0]
            outcome, _cmd = bypass.urllib_witness(target.origin + "/v1/messages", renv, timeout * 2)
            label = routing.CLIENT_LABELS["urllib"]
        # The relay records on its own thread, before it passes the proxy's answer on: a moment is enough.
        settle = time.monotonic() + 0.5
        while not relay.seen(target.hostport) and time.monotonic() < settle:
            time.sleep(0.05)
        arrivals = relay.seen(target.hostport)
    first = arrivals[0] if arrivals else None
    proof = {"client": label, "target": target.hostport, "outcome": outcome, "observed": bool(arrivals),
             "arrival": f"{first.method} {first.target}" if first else None,
             "status": first.upstream_status if first else None,
             "proxy_answer": (f"the proxy answered {first.upstream_status}" if first and first.upstream_status
                              else (first.upstream_error if first else None))}
    step.add_evidence(witness=proof)
    return proof


@pytest.mark.proxydiag_step("bypass.no_proxy")
def test_no_proxy(proxydiag_step, proxydiag_config):
    step, cfg = proxydiag_step, proxydiag_config
    routing = _routing()
    env = cfg.env
    if not _env_has_proxy(env):
        step.skip("no proxy variable is set, so NO_PROXY has no effect")
    must_proxy = {t.url: t.host for t in cfg.targets}
    must_direct: dict[str, str] = {}
    if cfg.gateway.value:
        gw = urlsplit(cfg.gateway.value)
        if gw.hostname and _must_be_direct(gw.hostname):
            must_direct[cfg.gateway.value] = f"the gateway {gw.hostname} ({cfg.gateway.source}) is not reachable " \
                                             "from the corporate proxy"
    domains = policy.provider_domains(cfg.targets, cfg["aws_region"], cfg["vertex_region"], env)
    if any(d.provider in ("AWS Bedrock", "Vertex AI") for d in domains):
        must_direct[METADATA_URL] = "the cloud metadata endpoint (Bedrock/Vertex credentials) must not go " \
                                    "through the proxy"
    urls = list(must_proxy) + list(must_direct)
    matrix = routing.route_matrix(urls, env)
    problems = []
    for client, per in matrix.items():
        label = routing.CLIENT_LABELS[client]
        value, var = routing.no_proxy_value(env, client)
        err = routing.no_proxy_error(value, client) if value else None
        if err:
            problems.append(f"  - {label}: {err}")
        for url, host in must_proxy.items():
            r = per[url]
            if r.direct and r.bypass is not None:
                problems.append(f"  - {label}: {host} goes direct: {var} entry '{r.bypass.entry}' ({r.bypass.rule})")
        for url, why in must_direct.items():
            r = per[url]
            if not r.direct and r.error is None:
                problems.append(f"  - {label}: {urlsplit(url).hostname} goes through the proxy, but {why}")
    np = cfg.no_proxy
    lines = []
    for client, per in matrix.items():
        cells = "; ".join(f"{urlsplit(u).hostname} -> " + ("direct" if r.direct else "proxy")
                          for u, r in per.items())
        value, var = routing.no_proxy_value(env, client)
        lines.append(f"  {routing.CLIENT_LABELS[client]} (reads {var or 'nothing'}): {cells}")
    step.add_evidence(no_proxy={"value": np.value, "source": np.source,
                                "NO_PROXY": env.get("NO_PROXY"), "no_proxy": env.get("no_proxy")},
                      matrix={c: {u: ("direct" if r.direct else "proxy") for u, r in per.items()}
                              for c, per in matrix.items()})
    if not problems:
        step.passed(("NO_PROXY is not set" if np.value is None else f"NO_PROXY ({np.source}) keeps "
                     + ", ".join(must_proxy.values()) + " on the proxy for every client")
                    + (f" and {', '.join(urlsplit(u).hostname for u in must_direct)} direct" if must_direct else ""))
        return
    keep = ["localhost", "127.0.0.1", "::1"] + [urlsplit(u).hostname for u in must_direct]
    keep = list(dict.fromkeys(h for h in keep if h))
    corrected = routing.corrected_no_proxy(np.value or "", keep_direct=keep, must_proxy=list(must_proxy.values()))
    step.set_fix(env={"NO_PROXY": corrected, "no_proxy": corrected})
    shown_value = np.value if np.value is not None else "(unset)"
    if env.get("NO_PROXY") is not None and env.get("no_proxy") is not None and env["NO_PROXY"] != env["no_proxy"]:
        shown_value = f"NO_PROXY={env['NO_PROXY']!r}, no_proxy={env['no_proxy']!r}"
    step.fail("bypassed", problems="\n".join(dict.fromkeys(problems)), matrix="\n".join(lines), value=shown_value,
              source=np.source, corrected=corrected, keep=", ".join(keep), must=", ".join(must_proxy.values()))


@pytest.mark.proxydiag_step("bypass.system_proxy")
def test_system_proxy(proxydiag_step, proxydiag_config):
    step, cfg = proxydiag_step, proxydiag_config
    env = cfg.env
    sources, notes = bypass.system_sources(_home(cfg), env, cwd=os.getcwd(), pac_url=cfg["pac_url"],
                                           target_urls=[t.url for t in cfg.targets],
                                           timeout=min(float(cfg.timeout), bypass.COMMAND_TIMEOUT))
    env_raw, env_var = proxy_from_env(env)
    env_norm = bypass.normalize_proxy(env_raw)
    env_no_proxy = cfg.no_proxy.value
    step.add_evidence(sources=[{"where": s.where, "key": s.key, "value": s.value, "used_by": s.used_by}
                               for s in sources], not_checked=notes)
    conflicts, fixes = [], []
    for s in sources:
        if s.kind == "proxy":
            if env_norm is None:
                conflicts.append(f"  - {s.where}: {s.key} = {s.value} (this shell has no proxy)")
                fixes.append(f"  {s.where}: remove {s.key}, or export the same proxy in your shell")
            elif not bypass.same_proxy(s.value, env_raw):
                conflicts.append(f"  - {s.where}: {s.key} = {s.value} (the environment says {env_norm})")
                fixes.append(f"  {s.where}: set {s.key} to the proxy of {env_var} ({env_norm}), or remove it")
        elif s.kind == "no_proxy" and s.new_shells and env_no_proxy is not None and \
                _entries(s.value) != _entries(env_no_proxy):
            conflicts.append(f"  - {s.where}: {s.key} = {s.value} (this shell has {cfg.no_proxy.source}="
                             f"{env_no_proxy})")
            fixes.append(f"  {s.where}: use the same NO_PROXY value as your shell (see bypass.no_proxy)")
        elif s.kind == "pac" and s.key.startswith("FindProxyForURL"):
            direct = s.value.strip().upper() == "DIRECT"
            if (direct and env_norm) or (not direct and not bypass.same_proxy(s.value, env_raw)):
                conflicts.append(f"  - {s.where}: {s.key} = {s.value} (the environment says {env_norm or 'direct'})")
                fixes.append("  the PAC file: ask IT which proxy applies to the provider, and use the same one "
                             "in HTTPS_PROXY")
    if not conflicts:
        names = ", ".join(dict.fromkeys(s.where.split(":")[0] for s in sources)) or "none found"
        step.passed(f"no system proxy setting disagrees with the environment ({env_norm or 'no proxy'}); "
                    f"checked sources: {names}" + (f"; not checked: {'; '.join(notes)}" if notes else ""))
        return
    who = [f"  - {bypass.ENV_CLIENTS} started from this shell: {env_norm or 'direct'} "
           f"({env_var if env_raw else 'no proxy variable'})"]
    for s in sources:
        if s.kind in ("proxy", "pac"):
            who.append(f"  - {s.used_by}: {s.value} ({s.where})")
    step.fail("conflict", conflicts="\n".join(conflicts), who_uses="\n".join(dict.fromkeys(who)),
              env_proxy=env_norm or "no proxy", fixes="\n".join(dict.fromkeys(fixes)))


def _entries(value: str | None) -> set[str]:
    return {e.strip().lower() for e in (value or "").replace(" ", ",").split(",") if e.strip()}


@pytest.mark.proxydiag_step("bypass.app_settings")
def test_app_settings(proxydiag_step, proxydiag_config):
    step, cfg = proxydiag_step, proxydiag_config
    routing = _routing()
    env = cfg.env
    entries = bypass.app_settings(_home(cfg), os.getcwd(), cfg["litellm_config"])
    step.add_evidence(settings=[{"path": e.path, "key": e.key, "value": e.value, "app": e.app}
                                for e in entries])
    env_raw, env_var = proxy_from_env(env)
    problems = []  # (entry, problem, change)
    for e in sorted(entries, key=lambda x: -x.precedence):
        if e.error:
            step.fail("unreadable", path=e.path, app=e.app, problem=e.error, setting=e.key, value="",
                      change="fix the syntax (it must be valid " + ("JSON" if e.path.endswith(".json") else "YAML")
                             + ")", others="")
        name = e.key.split(".")[-1]
        client = "claude" if e.app == "Claude Code" else "httpx"
        if name.lower() == "no_proxy":
            for t in cfg.targets:
                m = routing.matches_no_proxy(t.host, t.port, e.value, client)
                if m is not None:
                    problems.append((e, f"{e.app} sends {t.host} direct, skipping the proxy (entry '{m.entry}': "
                                        f"{m.rule})", f"remove \"{name}\" from it, or list only internal hosts "
                                                      "there (see bypass.no_proxy)"))
                    break
        elif name in bypass.PROXY_NAMES:
            if not e.value.strip():
                problems.append((e, f"an empty value turns the proxy off for {e.app}",
                                 f"remove \"{name}\" from it"))
            elif env_raw and not bypass.same_proxy(e.value, env_raw):
                problems.append((e, f"{e.app} uses {bypass.normalize_proxy(e.value)} while the shell uses "
                                    f"{bypass.normalize_proxy(env_raw)} ({env_var})",
                                 f"set \"{name}\" to the same proxy as {env_var}, or remove it so the shell's "
                                 "value applies"))
    if not problems:
        where = ", ".join(dict.fromkeys(e.path for e in entries)) or "no settings file with proxy keys"
        step.passed(f"no application setting overrides the environment ({where})")
        return
    e, problem, change = problems[0]
    others = ""
    if len(problems) > 1:
        others = " Also: " + "; ".join(f"{o.path} {o.key}: {p}" for o, p, _c in problems[1:4]) + "."
    # Claude Code applies settings.json "env" over the shell: the fix is proven by running it with
    # that value (before) and without it (after the change).
    app_env = ({"clients": ["claude"], "before": {e.key.split(".", 1)[1]: e.value}}
               if e.app == "Claude Code" and e.key.startswith("env.") else None)
    step.set_fix(files=[{"path": e.path, "change": change}], **({"app_env": app_env} if app_env else {}))
    step.fail("override", path=e.path, setting=e.key, value=e.value, problem=problem, change=change, app=e.app,
              others=others)
