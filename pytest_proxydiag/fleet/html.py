"""The fleet aggregate as one self-contained HTML page (no script, nothing loaded from the network).

Rendered only from the redacted aggregate document (:meth:`Fleet.result`);
every value is HTML-escaped.  Top to bottom: totals, hosts by root cause with
what they share, fixes, per-step counts, timeline, files not read.
"""

from __future__ import annotations

from html import escape
from typing import Any, Mapping

from pytest_proxydiag.catalog.fleet import FIX_STATES, TEXT

__all__ = ["render", "HOSTS_SHOWN"]

#: Host names listed per group or list in the page; the JSON aggregate holds them all.
HOSTS_SHOWN = 200

CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; font-size: 14px; color: #222;
       max-width: 1300px; margin: 16px auto; padding: 0 16px; }
h1 { font-size: 23px; } h2 { font-size: 19px; margin: 26px 0 8px; } h3 { font-size: 15px; margin: 0 0 6px; }
.fl-meta { color: #555; font-size: 12.5px; }
.fl-totals { display: flex; gap: 12px; flex-wrap: wrap; margin: 10px 0; }
.fl-total { border: 2px solid #ccc; border-radius: 8px; padding: 8px 14px; min-width: 110px; }
.fl-total b { display: block; font-size: 24px; }
.fl-total.fl-bad { border-color: #c62828; } .fl-total.fl-good { border-color: #2e7d32; }
.fl-total.fl-grey { border-color: #8d8d8d; } .fl-total.fl-warn { border-color: #6a1b9a; }
.fl-group { border: 2px solid #c62828; border-radius: 8px; padding: 10px 14px; margin: 10px 0;
            background: #fff6f6; }
.fl-group.fl-healthy { border-color: #2e7d32; background: #f3fbf3; }
.fl-group.fl-unreachable, .fl-group.fl-run_failed, .fl-group.fl-diagnosis_error { border-color: #8d8d8d;
  background: #f7f7f7; }
.fl-kicker { font-size: 12px; font-weight: bold; letter-spacing: .04em; text-transform: uppercase; color: #c62828; }
.fl-healthy .fl-kicker { color: #2e7d32; }
.fl-unreachable .fl-kicker, .fl-run_failed .fl-kicker, .fl-diagnosis_error .fl-kicker { color: #555; }
.fl-finding { margin: 4px 0 8px; }
.fl-hosts { display: flex; flex-wrap: wrap; gap: 4px 6px; list-style: none; padding: 0; margin: 6px 0; }
.fl-host { background: #fff; border: 1px solid #ccc; border-radius: 10px; padding: 0 8px; font-size: 12.5px; }
table { border-collapse: collapse; font-size: 13px; }
td, th { border: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
.fl-shared td.fl-common { font-weight: bold; }
.fl-bar { display: flex; width: 260px; height: 12px; border-radius: 3px; overflow: hidden; background: #eee; }
.fl-bar span { display: block; height: 100%; }
.fl-p { background: #2e7d32; } .fl-f { background: #c62828; } .fl-n { background: #b0b0b0; }
.fl-num { text-align: right; font-variant-numeric: tabular-nums; }
.fl-state-healthy { color: #2e7d32; font-weight: bold; } .fl-state-bad { color: #c62828; font-weight: bold; }
"""


def _e(value: Any) -> str:
    return escape("" if value is None else str(value))


def _hosts(hosts: list[str]) -> str:
    shown = "".join(f'<li class="fl-host">{_e(h)}</li>' for h in hosts[:HOSTS_SHOWN])
    more = len(hosts) - HOSTS_SHOWN
    extra = f'<li class="fl-meta">{_e(TEXT["more_hosts"].format(count=more))}</li>' if more > 0 else ""
    return f'<ul class="fl-hosts">{shown}{extra}</ul>'


def _state(state: str) -> str:
    css = "fl-state-healthy" if state == "healthy" else "fl-state-bad"
    return f'<span class="{css}">{_e(state)}</span>'


def _totals(doc: Mapping[str, Any]) -> str:
    t = doc.get("totals", {})
    cells = [("hosts", t.get("hosts"), ""), ("healthy", t.get("healthy"), "fl-good"),
             ("failing", t.get("failing"), "fl-bad"), ("not assessed", t.get("not_assessed"), "fl-grey"),
             ("reports", t.get("reports"), ""), ("files not read", t.get("rejected"), "fl-warn")]
    boxes = "".join(f'<div class="fl-total {css}"><b>{_e(n)}</b>{_e(label)}</div>' for label, n, css in cells)
    line = TEXT["summary"].format(hosts=t.get("hosts"), reports=t.get("reports"), healthy=t.get("healthy"),
                                  failing=t.get("failing"), not_assessed=t.get("not_assessed"),
                                  rejected=t.get("rejected"))
    return f'<section id="fleet-summary"><div class="fl-totals">{boxes}</div><p>{_e(line)}</p></section>'


def _shared_table(group: Mapping[str, Any], labels: Mapping[str, str]) -> str:
    rows = []
    common = group.get("common") or {}
    for key, values in (group.get("shared") or {}).items():
        if key in common:
            note = TEXT["shared_by_all"].format(count=group["count"]) if group.get("count", 0) > 1 else ""
            text = _e(common[key]) + (f' <span class="fl-meta">({_e(note)})</span>' if note else "")
            rows.append(f'<tr><th>{_e(labels.get(key, key))}</th><td class="fl-common">{text}</td></tr>')
            continue
        parts = ", ".join(f"{_e(v['value'])} ×{_e(v['count'])}" for v in values[:8])
        more = f" … ({len(values) - 8} more values)" if len(values) > 8 else ""
        rows.append(f"<tr><th>{_e(labels.get(key, key))}</th><td>{parts}{_e(more)}</td></tr>")
    return f'<table class="fl-shared">{"".join(rows)}</table>' if rows else ""


def _groups(doc: Mapping[str, Any]) -> str:
    labels = doc.get("dimensions") or {}
    out = []
    for group in doc.get("groups") or ():
        kind = group.get("kind", "")
        kicker = f"ROOT CAUSE {group.get('root_cause')}" if kind == "root_cause" else kind.replace("_", " ")
        finding = f'<p class="fl-finding">{_e(group["finding"])}</p>' if group.get("finding") else ""
        title = f'{_e(group.get("title"))} — {_e(group.get("count"))} host{"s" if group.get("count") != 1 else ""}'
        out.append(f'<section class="fl-group fl-{_e(kind)}" data-state="{_e(group.get("root_cause") or kind)}">'
                   f'<div class="fl-kicker">{_e(kicker)}</div><h3>{title}</h3>{finding}'
                   f'{_hosts(group.get("hosts") or [])}{_shared_table(group, labels)}</section>')
    return f'<section id="fleet-groups"><h2>{_e(TEXT["groups"])}</h2>{"".join(out)}</section>'


def _fixes(doc: Mapping[str, Any]) -> str:
    fixes = doc.get("fixes") or {}
    blocks = []
    for key in ("fixed", "verified", "failing"):
        rows = fixes.get(key) or []
        items = []
        for row in rows[:HOSTS_SHOWN]:
            detail = row.get("was") or row.get("root_cause") or ""
            if row.get("verified_with"):
                detail += " — " + ", ".join(row["verified_with"])
            items.append(f'<li><b>{_e(row.get("host"))}</b> <span class="fl-meta">{_e(detail)}</span></li>')
        if len(rows) > HOSTS_SHOWN:
            items.append(f'<li class="fl-meta">{_e(TEXT["more_hosts"].format(count=len(rows) - HOSTS_SHOWN))}</li>')
        blocks.append(f'<div id="fleet-fix-{key}"><h3>{_e(FIX_STATES[key])} ({len(rows)})</h3>'
                      f'<ul>{"".join(items)}</ul></div>')
    return f'<section id="fleet-fixes"><h2>{_e(TEXT["fixes"])}</h2>{"".join(blocks)}</section>'


def _steps(doc: Mapping[str, Any]) -> str:
    rows = []
    for step in doc.get("steps") or ():
        p, f, n = step.get("passed", 0), step.get("failed", 0), step.get("not_assessed", 0)
        total = max(p + f + n, 1)
        bar = "".join(f'<span class="fl-{c}" style="width:{100 * v / total:.2f}%"></span>'
                      for c, v in (("p", p), ("f", f), ("n", n)) if v)
        rows.append(f'<tr class="fl-step" data-step="{_e(step.get("id"))}"><td>{_e(step.get("id"))}</td>'
                    f'<td>{_e(step.get("title"))}</td><td class="fl-num">{p}</td><td class="fl-num">{f}</td>'
                    f'<td class="fl-num">{n}</td><td><div class="fl-bar">{bar}</div></td></tr>')
    head = ("<tr><th>step</th><th>title</th><th>passed</th><th>failed</th><th>not assessed</th>"
            "<th></th></tr>")
    return (f'<section id="fleet-steps"><h2>{_e(TEXT["steps"])}</h2><table><thead>{head}</thead>'
            f'<tbody>{"".join(rows)}</tbody></table></section>')


def _section(section_id: str, heading: str, body: str) -> str:
    return f'<section id="{section_id}"><h2>{_e(heading)}</h2>{body}</section>'


def _timeline(doc: Mapping[str, Any]) -> str:
    hosts = doc.get("timeline") or []
    if not hosts:
        return _section("fleet-timeline", TEXT["timeline"], f'<p>{_e(TEXT["timeline_empty"])}</p>')
    roll = "".join(f'<tr><td>{_state(t["before"])}</td><td>{_state(t["after"])}</td><td>{_e(t["label"])}</td>'
                   f'<td class="fl-num">{_e(t["hosts"])}</td></tr>' for t in doc.get("transitions") or ())
    rows = []
    for entry in hosts[:HOSTS_SHOWN]:
        runs = " → ".join(f'{_e(r["started"])} {_state(r["state"])}' for r in entry["runs"])
        rows.append(f'<tr class="fl-timeline-host"><td>{_e(entry["host"])}</td><td>{_e(entry["change"])}</td>'
                    f'<td>{runs}</td></tr>')
    head = "<tr><th>first run</th><th>latest run</th><th>change</th><th>hosts</th></tr>"
    return _section("fleet-timeline", TEXT["timeline"], f'<table><thead>{head}</thead><tbody>{roll}</tbody></table>'
                    f'<br><table><tbody>{"".join(rows)}</tbody></table>')


def _rejected(doc: Mapping[str, Any]) -> str:
    rows = doc.get("rejected") or []
    if not rows:
        return _section("fleet-rejected", TEXT["rejected"], f'<p>{_e(TEXT["rejected_none"])}</p>')
    body = "".join(f'<tr class="fl-rejected"><td>{_e(r["source"])}</td><td>{_e(r["reason"])}</td></tr>'
                   for r in rows[:1000])
    return _section("fleet-rejected", f'{TEXT["rejected"]} ({len(rows)})', f"<table><tbody>{body}</tbody></table>")


def render(doc: Mapping[str, Any]) -> str:
    """The page for an aggregate document."""
    tool = doc.get("tool") or {}
    meta = f'{_e(tool.get("name"))} {_e(tool.get("version"))}, generated {_e(doc.get("generated"))}'
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{_e(TEXT['title'])}</title><style>{CSS}</style></head><body>"
            f"<h1>{_e(TEXT['title'])}</h1><p class=\"fl-meta\">{meta}</p>"
            f"{_totals(doc)}{_groups(doc)}{_fixes(doc)}{_steps(doc)}{_timeline(doc)}{_rejected(doc)}"
            "</body></html>\n")
