"""Facts the reports derive from the step results: the decision path and the "for IT" block.

The branches record their evidence in their own shapes (and more branches are
added over time), so the "for IT" facts are gathered by *generic* rules: the
probe log (every CONNECT and HTTP exchange with its status and headers), and
evidence keys named like ``issuer``, ``domain`` or ``limit`` wherever they
are nested.  Nothing here raises on an unexpected shape.
"""

from __future__ import annotations

import re
import time
from typing import Any, Iterable, Iterator, Mapping

from pytest_proxydiag.core import flowchart
from pytest_proxydiag.core.results import StepResult

__all__ = ["step_outcomes", "decision_path", "it_facts", "it_text"]

#: Outcome of a step id over all its parametrized results, worst first.
_SEVERITY = {"failed": 0, "error": 1, "blocked": 2, "passed": 3, "skipped": 4}


def step_outcomes(results: Iterable[StepResult]) -> dict[str, str]:
    """step id -> failed | error | blocked | passed | skipped (the worst over its targets)."""
    out: dict[str, str] = {}
    for r in results:
        o = "blocked" if (r.outcome == "skipped" and r.blocked_by) else r.outcome
        if r.step_id not in out or _SEVERITY.get(o, 9) < _SEVERITY.get(out[r.step_id], 9):
            out[r.step_id] = o
    return out


def decision_path(results: Iterable[StepResult], root_cause_id: str | None) -> list[str]:
    """The checks cleared on the way to the root cause, in dependency order, then the root cause.

    With no root cause it is every step that passed: the whole path was clear.
    """
    outcomes = step_outcomes(results)
    path: list[str] = []
    steps_in_order = list(dict.fromkeys(s.partition(":")[0] for s in flowchart.ROOT_CAUSE_ORDER))
    order = steps_in_order + sorted(s for s in outcomes if s not in flowchart.STEP_IDS)
    for step_id in order:
        if step_id == root_cause_id:
            path.append(step_id)
            break
        if outcomes.get(step_id) == "passed":
            path.append(step_id)
    return path


# -- gathering evidence ----------------------------------------------------------
_ISSUER_KEY = re.compile(r"issuer", re.I)
_SUBJECT_KEY = re.compile(r"^(subject|leaf_subject|cert_subject)$", re.I)
_DOMAIN_KEY = re.compile(r"(domain|hosts?_to_allow|blocked_hosts?|allow(list)?)", re.I)
_LIMIT_KEY = re.compile(r"(limit|max_?body|max_?size|largest|payload|ratelimit|retry.?after|idle|"
                        r"mean_latency|latency|added_seconds|overhead)", re.I)
#: What the provider answers a keyless probe: it was reached, nothing for IT to look at.
_EXPECTED_FROM_PROVIDER = {400, 401, 404, 405}
_NOT_A_LIMIT = re.compile(r"(budget|threshold|config|setting)", re.I)
_HOSTNAME = re.compile(r"^(\*\.)?([a-z0-9-]+\.)+[a-z]{2,}(:\d+)?$", re.I)
_INTERESTING_HEADERS = ("x-squid-error", "server", "via", "retry-after", "x-cache", "proxy-authenticate",
                        "anthropic-ratelimit-requests-limit", "anthropic-ratelimit-tokens-limit",
                        "x-ratelimit-limit-requests", "x-ratelimit-limit-tokens")


def _walk(obj: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    if isinstance(obj, Mapping):
        for k, v in obj.items():
            yield from _walk(v, path + (str(k),))
    elif isinstance(obj, (list, tuple)) and obj and not all(isinstance(x, (str, int, float)) for x in obj):
        for i, v in enumerate(obj):
            yield from _walk(v, path + (str(i),))
    else:
        yield path, obj


def _short(value: Any, limit: int = 200) -> str:
    text = ", ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _headers(entry: Mapping[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in entry.get("headers") or []:
        try:
            k, v = item
        except (TypeError, ValueError):
            continue
        k = str(k).lower()
        if k in _INTERESTING_HEADERS or k.startswith(("anthropic-ratelimit", "x-ratelimit")):
            out.setdefault(k, str(v))
    return out


def _when(ts: Any) -> str:
    try:
        t = float(ts)
    except (TypeError, ValueError):
        return ""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int((t % 1) * 1000):03d}Z"


def it_facts(results: list[StepResult], probe_log: list[Mapping[str, Any]], targets: Iterable[Any],
             gateway: str | None, root_cause: StepResult | None) -> dict[str, Any]:
    """What the network team needs: domains, proxy answers seen, certificate issuers, measured limits."""
    domains: dict[str, dict[str, Any]] = {}
    for t in targets:
        hp = getattr(t, "hostport", None) or str(t)
        domains.setdefault(hp, {"host": hp, "why": "provider endpoint checked", "seen": None})
    if gateway:
        from urllib.parse import urlsplit

        u = urlsplit(gateway)
        if u.hostname:
            hp = f"{u.hostname}:{u.port or (443 if u.scheme == 'https' else 80)}"
            domains.setdefault(hp, {"host": hp, "why": "gateway (ANTHROPIC_BASE_URL)", "seen": None})

    responses: list[dict[str, Any]] = []
    seen_keys: set[tuple] = set()
    for entry in probe_log or []:
        if not isinstance(entry, Mapping):
            continue
        kind = str(entry.get("kind", ""))
        status = entry.get("status")
        what = entry.get("target") or entry.get("url") or entry.get("host") or ""
        if kind == "connect" and what:
            d = domains.setdefault(str(what), {"host": str(what), "why": "contacted through the proxy",
                                               "seen": None})
            if status is not None:
                d["seen"] = f"CONNECT -> {status}"
            elif entry.get("cause"):
                d["seen"] = f"CONNECT failed: {entry.get('cause')}"
        if kind == "http" and status in _EXPECTED_FROM_PROVIDER:
            continue
        failed = (isinstance(status, int) and status >= 400) or (status is None and entry.get("cause")
                                                                  and entry.get("cause") != "ok")
        if not failed or kind not in ("connect", "http", "tcp", "tls"):
            continue
        hdrs = _headers(entry)
        key = (kind, str(what), status, entry.get("cause"), hdrs.get("x-squid-error"))
        if key in seen_keys:
            continue
        seen_keys.add(key)
        method = entry.get("method") or ("CONNECT" if kind == "connect" else kind.upper())
        responses.append({"time": _when(entry.get("time")), "request": f"{method} {what}".strip(),
                          "status": status, "cause": entry.get("cause"),
                          "detail": _short(entry.get("detail") or "", 160) or None,
                          "headers": hdrs})

    certificates: list[dict[str, Any]] = []
    limits: list[dict[str, Any]] = []
    for r in results:
        for path, value in _walk(r.evidence):
            if value in (None, "", [], {}):
                continue
            leaf = path[-1] if path else ""
            if _ISSUER_KEY.search(leaf) and isinstance(value, (str, list, tuple)):
                item = {"step": r.step_id, "target": r.params.get("target"), "issuer": _short(value, 300)}
                if item not in certificates:
                    certificates.append(item)
            elif _DOMAIN_KEY.search(leaf):
                values = value if isinstance(value, (list, tuple)) else [value]
                for v in values:
                    if isinstance(v, str) and _HOSTNAME.match(v.strip()):
                        domains.setdefault(v.strip(), {"host": v.strip(), "why": f"named by {r.step_id}",
                                                       "seen": None})
            if _LIMIT_KEY.search(".".join(path)) and not _NOT_A_LIMIT.search(".".join(path)) \
                    and isinstance(value, (int, float, str)) \
                    and not isinstance(value, bool):
                limits.append({"step": r.step_id, "name": ".".join(path), "value": _short(value, 120)})
    for entry in responses:
        for k, v in entry["headers"].items():
            if k.startswith(("anthropic-ratelimit", "x-ratelimit")) or k == "retry-after":
                item = {"step": "probe", "name": k, "value": v}
                if item not in limits:
                    limits.append(item)

    return {
        "root_cause": None if root_cause is None else {
            "step": root_cause.step_id, "title": root_cause.title, "finding": root_cause.finding,
            "change_on": _change_on(root_cause.step_id, root_cause.finding_key)},
        "domains": list(domains.values()),
        "proxy_responses": responses[:40],
        "certificates": certificates[:20],
        "limits": limits[:40],
    }


def _change_on(step_id: str, finding_key: str | None = None) -> str:
    from pytest_proxydiag import catalog

    return catalog.change_on(step_id, finding_key) if step_id in catalog.CATALOG else "the site's own check"


def it_text(doc: Mapping[str, Any]) -> str:
    """The plain-text block to paste into an IT ticket (from a finished JSON document)."""
    facts = doc.get("for_it") or {}
    run = doc.get("run") or {}
    host = run.get("host") or {}
    cfg = doc.get("config") or {}
    proxy = (cfg.get("proxy") or {})
    lines = ["PROXY DIAGNOSIS (pytest-proxydiag) - information for the IT / network team",
             f"When:    {run.get('started', '?')} (UTC)",
             f"Machine: {host.get('hostname', '?')} - {host.get('os', '?')}, Python {host.get('python', '?')}",
             f"Proxy:   {proxy.get('value') or '(none)'} (from {proxy.get('source', '?')})"]
    rc = facts.get("root_cause")
    steps = {s.get("id"): s for s in doc.get("steps") or []}
    if rc:
        lines += ["", f"Problem found: {rc.get('title')} [{rc.get('step')}]", _indent(rc.get("finding") or "")]
        if rc.get("change_on"):
            lines.append(f"Side that must change: {rc['change_on']}")
        rc_step = steps.get(rc.get("step")) or {}
        if rc_step.get("solution"):
            lines += ["What to change:", _indent(rc_step["solution"])]
    else:
        lines += ["", "Problem found: none - every check that ran passed."]
    domains = facts.get("domains") or []
    if domains:
        lines += ["", "Domains the AI tools must reach through the proxy (HTTPS, CONNECT to port 443):"]
        for d in domains:
            seen = f"   [{d['seen']}]" if d.get("seen") else ""
            lines.append(f"  {d.get('host')}{seen}")
    responses = facts.get("proxy_responses") or []
    if responses:
        lines += ["", "Proxy/network errors seen (time in UTC):"]
        for r in responses:
            status = r.get("status") if r.get("status") is not None else (r.get("cause") or "")
            extra = "; ".join(f"{k}: {v}" for k, v in (r.get("headers") or {}).items())
            detail = r.get("detail") or ""
            text = f"  {r.get('time')}  {r.get('request')} -> {status}"
            if detail and str(status) not in detail[:40]:
                text += f" ({detail})"
            elif detail:
                text += f"  {detail}"
            if extra:
                text += f"  [{extra}]"
            lines.append(text)
    certs = facts.get("certificates") or []
    if certs:
        lines += ["", "TLS certificate issuer seen by this machine:"]
        for c in certs:
            lines.append(f"  {c.get('target') or ''} {c.get('issuer')}  [{c.get('step')}]".replace("   ", " "))
    limits = facts.get("limits") or []
    if limits:
        lines += ["", "Measured limits and timings:"]
        for item in limits:
            lines.append(f"  {item.get('name')} = {item.get('value')}  [{item.get('step')}]")
    return "\n".join(lines) + "\n"


def _indent(text: str, prefix: str = "  ") -> str:
    return "\n".join(prefix + line if line else line for line in str(text).splitlines())
