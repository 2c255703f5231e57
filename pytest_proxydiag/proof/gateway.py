"""Proving a gateway fix: the real clients, pointed at the gateway, before and after.

Two kinds of fix come from the gateway steps:

* ``gateway_route`` (the developer's machine): a ``NO_PROXY`` that sends Claude
  Code straight to the gateway.  curl and Claude Code (``ANTHROPIC_BASE_URL`` =
  the gateway) send the check request before and after; the fix is verified
  when, after it, the answer comes from behind the gateway: not from the
  corporate proxy (a Squid error, 403, 407) and not a 5xx.
* ``gateway_base_url`` (the developer's machine): an ``ANTHROPIC_BASE_URL``
  without the API path Claude Code appends itself.  The same clients send the
  check request to the old address (``before_url``) and to the corrected one;
  verified when the corrected one gets an answer from behind the gateway and
  not its 404.
* ``gateway_egress`` (the gateway's host): its proxy, credentials or CA.  Only a
  restart of the gateway under the changed environment can prove it, and this
  run never restarts a gateway it did not start, so the verdict is ``None``
  with that reason.  (The lab proves these by restarting its own gateway; see
  ``tests/test_gateway.py``.)
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Mapping

from pytest_proxydiag.net import routing
from pytest_proxydiag.proof import clients as clients_mod
from pytest_proxydiag.proof.clients import ClientRun

__all__ = ["GATEWAY_FIX_KINDS", "prove_gateway_fix", "behind_gateway"]

GATEWAY_FIX_KINDS = frozenset({"gateway_route", "gateway_base_url", "gateway_egress"})
#: Clients that can be pointed at a gateway: curl sends the check request to it, Claude Code
#: reads ANTHROPIC_BASE_URL.  (requests/httpx would only repeat curl's route.)
WITNESSES = ("curl", "claude")
_NOT_BEHIND = {403, 407, 451}


def behind_gateway(run: ClientRun) -> bool:
    """True when the answer came from the gateway or the provider behind it, not from the proxy."""
    return bool(run.reached and run.status is not None and run.status < 500 and run.status not in _NOT_BEHIND)


def prove_gateway_fix(fix: dict, *, env: Mapping[str, str], clients: str, timeout: float,
                      resolve: Mapping[tuple[str, int], str], redactor=None) -> dict:
    """Fill ``verified``, ``verified_with``, ``evidence`` and ``clients`` of a gateway *fix* (in place)."""
    started = time.monotonic()
    red = redactor.redact if redactor is not None else (lambda s: s)
    fix.setdefault("verified_with", [])
    fix.setdefault("clients", [])

    def done(verdict, evidence: str) -> dict:
        fix.update(verified=verdict, evidence=red(evidence), seconds=round(time.monotonic() - started, 3))
        return fix

    if fix.get("kind") == "gateway_egress":
        return done(None, "Not verified: the change belongs on the gateway's host and takes effect when the "
                          "gateway restarts; this run does not restart a gateway it did not start. Restart it "
                          "with the change and run the diagnosis again.")
    target = str(fix.get("target_url") or "")
    before_url = str(fix.get("before_url") or target)
    base_url = fix.get("kind") == "gateway_base_url"
    infos = [i for i in clients_mod.discover(clients) if i.name in WITNESSES]
    names, unaffected = [], []
    for info in infos:
        if not info.available:
            continue
        # Client by client: one that already goes direct to the gateway (curl reads only lowercase
        # http_proxy for http:// URLs) cannot be changed by a NO_PROXY fix, so it proves nothing.
        route = routing.route(target, env, info.name) if target and not base_url else None
        if route is not None and route.proxy is None:
            unaffected.append(f"{info.name}: not affected, it already goes direct ({route.reason})")
            continue
        names.append(info.name)
    if unaffected:
        fix["unaffected"] = [red(u) for u in unaffected]
    if not target or not names:
        why = "; ".join([f"{i.name}: {i.why_not}" for i in infos if not i.available] + unaffected) \
            or f"--proxydiag-clients {clients}"
        return done(None, f"Not verified: no client could try it ({why}).")
    after = dict(env)
    after.update({str(k): str(v) for k, v in (fix.get("env") or {}).items()})
    for name in fix.get("unset") or []:
        after.pop(str(name), None)
    urls = {"before": before_url, "after": target}
    jobs = [(n, when, e) for n in names for when, e in (("before", dict(env)), ("after", after))]
    with ThreadPoolExecutor(max_workers=len(jobs), thread_name_prefix="proxydiag-gateway-proof") as pool:
        runs = list(pool.map(lambda j: clients_mod.run_client(j[0], urls[j[1]], j[2], timeout, resolve=resolve,
                                                              redactor=redactor), jobs))
    by = {(n, when): run for (n, when, _), run in zip(jobs, runs)}

    def ok(run: ClientRun) -> bool:  # the gateway's own 404 is not an answer from behind it
        return behind_gateway(run) and not (base_url and run.status == 404)

    rows, failing = [], []
    for n in names:
        b, a = by[(n, "before")], by[(n, "after")]
        rows.append({"client": n, "version": a.version, "before": clients_mod.describe(b),
                     "after": clients_mod.describe(a), "before_ok": ok(b), "after_ok": ok(a)})
        if ok(a):
            fix["verified_with"].append(f"{n} {a.version}" if a.version else n)
        else:
            failing.append(clients_mod.describe(a))
    fix["clients"] = red(rows) if not isinstance(rows, list) else [
        {k: red(v) if isinstance(v, str) else v for k, v in row.items()} for row in rows]
    if failing:
        return done(False, ("After the change a client still gets no answer from behind the gateway: "
                            if base_url else "After the change a client still does not get past the proxy to the "
                                             "gateway: ") + "; ".join(failing))
    if base_url:
        return done(True, f"With ANTHROPIC_BASE_URL={target}, {', '.join(fix['verified_with'])} get the answer from "
                          "behind the gateway (before: " + "; ".join(r["before"] for r in rows) + ").")
    return done(True, f"With the change, {', '.join(fix['verified_with'])} reach the gateway {target} direct and "
                      "get its answer (before: " + "; ".join(r["before"] for r in rows) + ").")
