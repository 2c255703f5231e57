"""The fleet aggregate: many reports in, one document out, without keeping the reports.

Each report is boiled down by :func:`summarize` to a :class:`RunSummary` of a
few interned strings (its host, root cause, one outcome letter per step and
the values it shares with other hosts) and then dropped.  :class:`Fleet`
keeps the latest summary of each host and one small entry per earlier run
(the timeline); :meth:`Fleet.result` counts per step and per group from
those, and redacts the document it returns.
"""

from __future__ import annotations

import re
import sys
import time
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterable, Mapping

from pytest_proxydiag import __version__
from pytest_proxydiag.catalog.fleet import (DIMENSIONS, ERROR_FINDING, FIX_STATES, GROUPS, REJECTED, TRANSITIONS,
                                            VALUES)
from pytest_proxydiag.core import flowchart
from pytest_proxydiag.core.redact import Redactor
from pytest_proxydiag.fleet.loader import Item

__all__ = ["Fleet", "RunSummary", "summarize", "digest", "FLEET_SCHEMA", "DIMENSION_KEYS"]

FLEET_SCHEMA = 1
DIMENSION_KEYS: tuple[str, ...] = tuple(DIMENSIONS)
#: Outcome letters: passed, failed, not assessed (skipped, blocked, error, or absent from the report).
_PASSED, _FAILED, _NOT_ASSESSED = "p", "f", "n"
_FINDING_CHARS = 400
_KERNEL = re.compile(r"\s*\(kernel [^)]*\)\s*$")
_VIA_PRODUCT = re.compile(r"\(([^()]+)\)\s*$")


def _intern(value: Any, limit: int = 200) -> str:
    text = value if isinstance(value, str) else ("" if value is None else str(value))
    return sys.intern(text[:limit])


def _get(obj: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


@dataclass(slots=True)
class RunSummary:
    """What the aggregate keeps of one run (a report, or a status file for a host without one)."""

    host: str
    started: str
    source: str
    #: ``report``, ``unreachable`` or ``run_failed``.
    status: str
    root_cause: str | None = None
    root_title: str = ""
    finding: str = ""
    #: One letter per step of :attr:`Fleet.step_ids`, in that order (shorter strings: the rest not assessed).
    outcomes: str = ""
    dims: tuple[str, ...] = ()
    #: Clients that proved the root cause's fix on this host, or None when no fix was verified.
    verified_with: tuple[str, ...] | None = None
    tool_version: str = ""
    #: ``(step id, outcome letter, title)`` of each result, until :meth:`Fleet.take` indexes them.
    steps: tuple[tuple[str, str, str], ...] = ()
    #: A report without a root cause but with a step in ``error``: the diagnosis is incomplete there.
    errored: bool = False

    @property
    def state(self) -> str:
        """``healthy``, a root-cause step id, ``diagnosis_error``, ``unreachable`` or ``run_failed``."""
        if self.status != "report":
            return self.status
        return self.root_cause or ("diagnosis_error" if self.errored else "healthy")


# -- reading one report -------------------------------------------------------------------------
def _step_map(doc: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """The first result of each step id (steps run per target repeat their id)."""
    out: dict[str, Mapping[str, Any]] = {}
    for step in doc.get("steps") or ():
        if isinstance(step, dict) and isinstance(step.get("id"), str):
            out.setdefault(step["id"], step)
    return out


def _proxy(doc: Mapping[str, Any]) -> str:
    value = _get(doc, "config", "proxy", "value")
    if not isinstance(value, str) or not value.strip():
        return VALUES["no_proxy_configured"]
    return _proxy_host_port(value)


@lru_cache(maxsize=4096)
def _proxy_host_port(value: str) -> str:
    """``host:port`` of a proxy URL (cached: a fleet shares a handful of proxies)."""
    from pytest_proxydiag.core.proxyurl import ProxyURLError, parse_proxy_url

    try:
        url = parse_proxy_url(value)
    except (ProxyURLError, ValueError):
        return VALUES["not_identified"]
    return f"{url.host_for_url}:{url.port}"


def _product_from_headers(headers: Any) -> str | None:
    if not isinstance(headers, dict):
        return None
    for name, value in headers.items():
        if not isinstance(value, str) or not isinstance(name, str):
            continue
        low = name.lower()
        if low == "server" and value.strip():
            return value.strip()
        if low == "via":
            m = _VIA_PRODUCT.search(value)
            if m:
                return m.group(1).strip()
    return None


def _product(doc: Mapping[str, Any], steps: Mapping[str, Mapping[str, Any]]) -> str:
    """The proxy's own name (``squid/5.7``) from the headers it sent, else the vendor a step recognised."""
    works = _get(steps.get("connectivity.proxy_works"), "evidence", "connect", "headers")
    found = _product_from_headers(works)
    responses = _get(doc, "for_it", "proxy_responses")
    for response in responses if isinstance(responses, list) else ():
        headers = _get(response, "headers")
        request = _get(response, "request")
        if isinstance(headers, dict) and not (isinstance(request, str) and request.startswith("CONNECT ")):
            # Only a CONNECT is answered by the proxy itself: any other answer may be the provider's (inside
            # the tunnel) or the gateway's (reached direct), whose Server header is not the proxy's.
            headers = {k: v for k, v in headers.items() if isinstance(k, str) and k.lower() == "via"}
        found = found or _product_from_headers(headers)
    if found:
        return found
    replies = _get(steps.get("policy.proxy_logs"), "evidence", "replies")
    replies = [r for r in replies if isinstance(r, dict)] if isinstance(replies, list) else []
    for reply in replies:
        # The headers the step read, kept as "header Via: 1.1 gw (squid/5.7)" signals.
        signals = reply.get("signals")
        headers = dict(line[7:].split(": ", 1) for line in signals if isinstance(line, str)
                       and line.startswith("header ") and ": " in line) if isinstance(signals, list) else {}
        if reply.get("sender") == "provider":
            # The provider's own Server header is not the proxy's; a Via header is always a proxy's.
            headers = {k: v for k, v in headers.items() if k.lower() == "via"}
        found = _product_from_headers(headers)
        if found:
            return found
    for reply in replies:
        vendor = reply.get("vendor")
        if isinstance(vendor, str) and vendor:
            return vendor
    vendor = _get(steps.get("certificate.interception"), "evidence", "vendor")
    return vendor if isinstance(vendor, str) and vendor else VALUES["not_identified"]


def _version(versions: Any, name: str) -> str | None:
    value = _get(versions, name)
    if not isinstance(value, str) or not value:
        return None
    return VALUES["not_installed"] if value.startswith("missing") else value


def _issuer(steps: Mapping[str, Mapping[str, Any]]) -> str:
    step = steps.get("certificate.interception")
    evidence = _get(step, "evidence")
    if not isinstance(evidence, dict) or "intercepted" not in evidence:
        return VALUES["not_assessed"]
    if not evidence.get("intercepted"):
        return VALUES["not_intercepted"]
    chain = evidence.get("chain")
    first = chain[0] if isinstance(chain, list) and chain else None
    issuer = _get(first, "issuer")
    return issuer if isinstance(issuer, str) and issuer else VALUES["not_identified"]


def dimensions(doc: Mapping[str, Any], steps: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, str]:
    """What a host may share with others, each from where the report keeps it (see the README, Fleet)."""
    steps = _step_map(doc) if steps is None else steps
    versions = _get(steps.get("application.debug_logging"), "evidence", "versions")
    os_name = _version(versions, "os")
    os_name = _KERNEL.sub("", os_name) if os_name else _get(doc, "run", "host", "os")
    no_proxy = _get(doc, "config", "no_proxy", "value")
    return {
        "proxy": _proxy(doc),
        "product": _product(doc, steps),
        "os": os_name if isinstance(os_name, str) and os_name else VALUES["not_identified"],
        "python": _version(versions, "python") or _get(doc, "run", "host", "python") or VALUES["not_identified"],
        "node": _version(versions, "node") or VALUES["not_assessed"],
        "claude": _version(versions, "claude") or VALUES["not_assessed"],
        "issuer": _issuer(steps),
        "no_proxy": no_proxy if isinstance(no_proxy, str) and no_proxy else VALUES["unset"],
    }


def _outcome_letter(previous: str | None, letter: str) -> str:
    if previous is None:
        return letter
    # A step run per target: failed on any target is failed; passed only when passed on every one.
    if _FAILED in (previous, letter):
        return _FAILED
    return _PASSED if previous == letter == _PASSED else _NOT_ASSESSED


def summarize(doc: dict[str, Any], source: str, stem: str = "", host_from: str = "hostname") -> RunSummary:
    """Boil one schema-1 report down to what the aggregate keeps (its steps still unindexed)."""
    steps = _step_map(doc)
    raw_steps = []
    for step in doc.get("steps") or ():
        # Hot loop (30 steps x every report): plain tuples; Fleet.take interns what it keeps.
        if isinstance(step, dict):
            step_id, outcome, title = step.get("id"), step.get("outcome"), step.get("title")
            if isinstance(step_id, str):
                letter = _PASSED if outcome == "passed" else _FAILED if outcome == "failed" else _NOT_ASSESSED
                raw_steps.append((step_id, letter, title if isinstance(title, str) else ""))
    root = doc.get("root_cause") if isinstance(doc.get("root_cause"), str) else None
    root_step = steps.get(root) if root else None
    fix = _get(root_step, "fix")
    verified = None
    if isinstance(fix, dict) and fix.get("verified") is True:
        clients = fix.get("verified_with")
        verified = tuple(_intern(c) for c in clients if isinstance(c, str)) if isinstance(clients, list) else ()
    dims = dimensions(doc, steps)
    host = stem if host_from == "file" and stem else _get(doc, "run", "host", "hostname")
    finding = _get(root_step, "finding")
    finding = finding if isinstance(finding, str) else ""
    errored = None if root else next((st for st in steps.values() if _get(st, "outcome") == "error"), None)
    if errored is not None:
        finding = ERROR_FINDING.format(step=_get(errored, "id") or "?", title=_get(errored, "title") or "",
                                       detail=_get(errored, "finding") or "")
    if len(finding) > _FINDING_CHARS:
        finding = finding[:_FINDING_CHARS - 1] + "…"
    return RunSummary(
        host=_intern(host or stem or source), started=_intern(_get(doc, "run", "started") or ""),
        source=source, status="report", root_cause=_intern(root) if root else None,
        root_title=_intern(_get(root_step, "title") or ""), finding=finding,
        dims=tuple(_intern(dims[k]) for k in DIMENSION_KEYS), verified_with=verified,
        tool_version=_intern(_get(doc, "tool", "version") or ""), steps=tuple(raw_steps),
        errored=errored is not None)


def _status(doc: dict[str, Any], source: str) -> RunSummary:
    status = "unreachable" if doc.get("status") == "unreachable" else "run_failed"
    reason = doc.get("reason")
    return RunSummary(host=_intern(doc["host"]), started=_intern(doc.get("started") or ""), source=source,
                      status=status, finding=_intern(reason, _FINDING_CHARS) if reason else "")


def digest(item: Item, host_from: str = "hostname") -> RunSummary | tuple[str, str]:
    """A run summary of *item*, or ``(source, reason)`` when it is rejected.  Never raises; drops the document.

    A pure function, so worker processes can run it (:func:`pytest_proxydiag.fleet.aggregate_reports`).
    """
    try:
        if item.kind == "report":
            summary = summarize(item.doc, item.source, item.stem, host_from)
            return summary if summary.steps else (item.source, REJECTED["no_steps"])
        if item.kind == "status":
            return _status(item.doc, item.source)
        return (item.source, item.reason)
    except (TypeError, ValueError, KeyError, AttributeError, IndexError, RecursionError) as exc:
        return (item.source, REJECTED["foreign"].format(shape=f"with an unexpected layout: {exc.__class__.__name__}"))
    finally:
        item.doc = None  # the document is not kept


# -- the aggregate ------------------------------------------------------------------------------
class Fleet:
    """Feed it items (:meth:`add`), then read :meth:`result`."""

    def __init__(self, *, host_from: str = "hostname") -> None:
        self.host_from = host_from
        self.step_ids: list[str] = []
        self._step_index: dict[str, int] = {}
        self._titles: dict[str, str] = {}
        self.latest: dict[str, RunSummary] = {}
        #: host -> earlier runs (started, state, source), the latest run excluded.
        self.earlier: dict[str, list[tuple[str, str, str]]] = {}
        self._seen_runs: dict[tuple[str, str, str], str] = {}
        self.rejected: list[tuple[str, str]] = []
        self.reports = 0
        self.statuses = 0

    # feeding
    def add(self, item: Item) -> None:
        """Take one input item (never raises; see :func:`digest`)."""
        self.take(digest(item, self.host_from))

    def add_all(self, items: Iterable[Item]) -> "Fleet":
        for item in items:
            self.add(item)
        return self

    def take(self, digested: "RunSummary | tuple[str, str]") -> None:
        """Merge what :func:`digest` made of one input: a run, or ``(source, reason)`` of a rejected file."""
        if isinstance(digested, tuple):
            self.rejected.append(digested)
            return
        letters: dict[int, str] = {}
        for step_id, letter, title in digested.steps:
            i = self._index(step_id, title)
            letters[i] = _outcome_letter(letters.get(i), letter)
        digested.steps = ()
        width = max(letters, default=-1) + 1
        digested.outcomes = "".join(letters.get(i, _NOT_ASSESSED) for i in range(width))
        self._keep(digested)

    def _index(self, step_id: str, title: str) -> int:
        index = self._step_index.get(step_id)
        if index is None:
            index = self._step_index[step_id] = len(self.step_ids)
            self.step_ids.append(sys.intern(step_id))
        if step_id not in self._titles and title:
            self._titles[step_id] = _intern(title)
        return index

    def _keep(self, run: RunSummary) -> None:
        key = (run.host, run.started, run.state)
        if run.started and key in self._seen_runs:
            self.rejected.append((run.source, REJECTED["duplicate"].format(other=self._seen_runs[key])))
            return
        self._seen_runs[key] = run.source
        if run.status == "report":
            self.reports += 1
        else:
            self.statuses += 1
        current = self.latest.get(run.host)
        if current is None:
            self.latest[run.host] = run
            return
        older, newer = (current, run) if (current.started, current.source) <= (run.started, run.source) \
            else (run, current)
        self.latest[run.host] = newer
        self.earlier.setdefault(run.host, []).append((older.started, older.state, older.source))

    # reading
    def _ordered_steps(self) -> list[str]:
        known = [s for s in flowchart.ROOT_CAUSE_ORDER if s in self._step_index]
        return known + sorted(s for s in self.step_ids if s not in set(known))

    def _step_rows(self) -> list[dict[str, Any]]:
        counts = {s: Counter() for s in self.step_ids}
        for run in self.latest.values():
            for i, step_id in enumerate(self.step_ids):
                letter = run.outcomes[i] if i < len(run.outcomes) else _NOT_ASSESSED
                counts[step_id][letter] += 1
        return [{"id": s, "title": self._titles.get(s, ""), "branch": s.split(".", 1)[0],
                 "passed": counts[s][_PASSED], "failed": counts[s][_FAILED],
                 "not_assessed": counts[s][_NOT_ASSESSED]} for s in self._ordered_steps()]

    def _groups(self) -> list[dict[str, Any]]:
        members: dict[str, list[RunSummary]] = {}
        for run in self.latest.values():
            members.setdefault(run.state, []).append(run)

        def order(state: str) -> tuple[int, int, Any]:
            kind = 0 if state not in GROUPS else {"healthy": 4, "unreachable": 1, "run_failed": 2,
                                                  "diagnosis_error": 3}[state]
            return kind, -len(members[state]), flowchart.order_key(state)

        groups = []
        for state in sorted(members, key=order):
            runs = sorted(members[state], key=lambda r: r.host)
            kind = state if state in GROUPS else "root_cause"
            shared: dict[str, list[dict[str, Any]]] = {}
            common: dict[str, str] = {}
            if kind != "unreachable" and kind != "run_failed":
                for k, key in enumerate(DIMENSION_KEYS):
                    counter = Counter(r.dims[k] for r in runs if len(r.dims) > k)
                    shared[key] = [{"value": v, "count": n} for v, n in counter.most_common()]
                    if len(counter) == 1:
                        common[key] = next(iter(counter))
            groups.append({
                "kind": kind, "root_cause": state if kind == "root_cause" else None,
                "title": GROUPS.get(state) or next((r.root_title for r in runs if r.root_title), state),
                "count": len(runs), "hosts": [r.host for r in runs], "common": common, "shared": shared,
                "finding": runs[0].finding if kind != "healthy" else "",
            })
        return groups

    def _fixes(self) -> dict[str, list[dict[str, Any]]]:
        fixed, verified, failing = [], [], []
        for host in sorted(self.latest):
            run = self.latest[host]
            if run.status != "report":
                continue
            if run.state == "diagnosis_error":
                continue
            if run.root_cause is None:
                before = [state for _, state, _ in self.earlier.get(host, ()) if state not in ("healthy",)]
                if before:
                    fixed.append({"host": host, "was": before[-1], "since": run.started})
            elif run.verified_with is not None:
                verified.append({"host": host, "root_cause": run.root_cause, "verified_with": list(run.verified_with)})
            else:
                failing.append({"host": host, "root_cause": run.root_cause, "finding": run.finding})
        return {"fixed": fixed, "verified": verified, "failing": failing,
                "labels": dict(FIX_STATES)}

    def _timeline(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        hosts, transitions = [], Counter()
        for host in sorted(self.earlier):
            latest = self.latest[host]
            runs = sorted(self.earlier[host] + [(latest.started, latest.state, latest.source)])
            first, last = runs[0][1], runs[-1][1]
            bad = ("unreachable", "run_failed", "diagnosis_error")
            if first == last:
                change = "unchanged"
            elif last == "healthy" and first not in bad:
                change = "fixed"
            elif first == "healthy" and last not in bad:
                change = "broke"
            else:
                change = "changed"
            transitions[(first, last, change)] += 1
            hosts.append({"host": host, "change": change,
                          "runs": [{"started": s, "state": st, "source": src} for s, st, src in runs]})
        rollup = [{"before": b, "after": a, "change": c, "label": TRANSITIONS[c], "hosts": n}
                  for (b, a, c), n in sorted(transitions.items(), key=lambda kv: (-kv[1], kv[0]))]
        return hosts, rollup

    def result(self, redactor: Redactor | None = None) -> dict[str, Any]:
        """The aggregate document (fleet schema 1), redacted."""
        groups = self._groups()
        timeline, transitions = self._timeline()
        healthy = sum(g["count"] for g in groups if g["kind"] == "healthy")
        failing = sum(g["count"] for g in groups if g["kind"] == "root_cause")
        doc = {
            "fleet_schema": FLEET_SCHEMA,
            "tool": {"name": "pytest-proxydiag", "version": __version__},
            "generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "totals": {"hosts": len(self.latest), "reports": self.reports, "status_files": self.statuses,
                       "healthy": healthy, "failing": failing,
                       "not_assessed": len(self.latest) - healthy - failing, "rejected": len(self.rejected)},
            "dimensions": dict(DIMENSIONS),
            "steps": self._step_rows(),
            "groups": groups,
            "fixes": self._fixes(),
            "timeline": timeline,
            "transitions": transitions,
            "rejected": [{"source": s, "reason": r} for s, r in self.rejected],
        }
        scrub = _Scrubber(redactor or Redactor())
        # Thousands of distinct short strings (host names, times, paths): redacted in bulk first.
        scrub.prefetch(value for run in self.latest.values()
                       for value in (run.host, run.started, run.source, run.tool_version))
        scrub.prefetch(source for runs in self.earlier.values() for _, _, source in runs)
        doc = scrub.obj(doc)
        # One row per host: built from scrubbed strings directly (the generic walk is the slow part at 10,000).
        doc["hosts"] = [self._host_row(self.latest[h], scrub.text) for h in sorted(self.latest)]
        return doc

    def _host_row(self, run: RunSummary, text: Any) -> dict[str, Any]:
        return {"host": text(run.host), "state": text(run.state), "started": text(run.started),
                "source": text(run.source), "tool_version": text(run.tool_version),
                "runs": 1 + len(self.earlier.get(run.host, ())),
                "dims": {key: text(value) for key, value in zip(DIMENSION_KEYS, run.dims)},
                "fix_verified_with": [text(c) for c in run.verified_with] if run.verified_with is not None else None}


class _Scrubber:
    """Redaction with a memo: the aggregate repeats the same few values thousands of times."""

    def __init__(self, redactor: Redactor) -> None:
        self._redactor = redactor
        self._memo: dict[str, str] = {}

    def prefetch(self, values: Iterable[str], chunk: int = 2000) -> None:
        """Redact many one-line strings with one pass of the patterns per *chunk* of them.

        They are joined with newlines, which no pattern adds; when a pattern swallowed one (a
        separator inside a match), the count differs and that chunk is redacted string by string.
        """
        pending = [v for v in dict.fromkeys(values) if v and "\n" not in v and "\r" not in v and v not in self._memo]
        for start in range(0, len(pending), chunk):
            part = pending[start:start + chunk]
            redacted = self._redactor.redact("\n".join(part)).split("\n")
            if len(redacted) != len(part):
                redacted = [self._redactor.redact(v) for v in part]
            self._memo.update(zip(part, redacted))

    def text(self, value: str) -> str:
        out = self._memo.get(value)
        if out is None:
            out = self._memo[value] = self._redactor.redact(value)
        return out

    def obj(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(k) if isinstance(k, str) else k: self.obj(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.obj(v) for v in value]
        return value
