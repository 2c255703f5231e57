"""The HTML report: pytest-html hooks, per-step extras, and a standalone page for the bundle.

What a helpdesk engineer reads, top to bottom: the run header (when, which
machine, which proxy, targets, configuration with sources), any comparison
with an earlier run, the diagnosis (root cause, its finding and what to
change; then the other findings in flowchart order), the decision path as a
picture, and a plain-text block for the IT ticket.  Each step's table row
then carries branch, step, title and finding, and its extras the solution
(this OS first, the others folded) and the evidence.

Everything is rendered from the redacted JSON document or from already
redacted step results, escaped here, and never loads anything from the
network (no fonts, scripts or images): the self-contained file works offline.

pytest-html keeps rows and extras HTML-escaped inside a ``data-jsonblob``
attribute and builds the table with JavaScript; the summary blocks added by
:meth:`HtmlHooks.pytest_html_results_summary` are plain HTML.
"""

from __future__ import annotations

import os

import json
import socket
from html import escape
from typing import Any, Mapping


from pytest_proxydiag import catalog
from pytest_proxydiag.catalog import report as words


from pytest_proxydiag.core import flowchart
from pytest_proxydiag.reports.facts import it_text
from pytest_proxydiag.reports.text import fix_text, no_finding_verdict, requests_sent, step_place, widened_line
from pytest_proxydiag.core.results import StepResult
from pytest_proxydiag.reports.svg import COLOURS, flowchart_svg

__all__ = ["HtmlHooks", "attach_html_extras", "summary_blocks", "standalone_html", "step_detail_html", "CSS"]

CSS = """
/* pytest-proxydiag: diagnosis first, pytest-html's environment table after it */
body { display: flex; flex-direction: column; }
body > h1 { order: 0; } body > p { order: 0; }
body > .summary { order: 1; } #environment-header { order: 2; } #environment { order: 3; }
#results-table { order: 4; } body > footer { order: 5; }
.pd { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; font-size: 14px; color: #222;
      max-width: 1300px; }
.pd h2 { font-size: 19px; margin: 18px 0 8px; } .pd h3 { font-size: 15px; margin: 12px 0 6px; }
.pd pre { white-space: pre-wrap; word-break: break-word; background: #f6f8fa; border: 1px solid #d8dee4;
          border-radius: 6px; padding: 8px 10px; font-size: 13px; margin: 6px 0; }
.pd-head { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 6px 0 10px; }
.pd-head dt { font-weight: bold; color: #555; } .pd-head dd { margin: 0; }
.pd-verdict { border-radius: 8px; padding: 12px 16px; margin: 10px 0; border: 2px solid; }
.pd-verdict.pd-bad { border-color: #c62828; background: #fff6f6; }
.pd-verdict.pd-good { border-color: #2e7d32; background: #f3fbf3; }
.pd-verdict.pd-warn { border-color: #6a1b9a; background: #faf5fc; }
.pd-verdict h2 { margin-top: 0; }
.pd-kicker { font-size: 12px; font-weight: bold; letter-spacing: .04em; text-transform: uppercase; }
.pd-bad .pd-kicker { color: #c62828; } .pd-good .pd-kicker { color: #2e7d32; }
.pd-finding { font-size: 15px; margin: 6px 0 10px; }
.pd-solution { background: #fffdf2 !important; border-color: #e0c97a !important; }
.pd-meta { color: #555; font-size: 12.5px; }
.pd-other { border-left: 4px solid #c62828; padding: 2px 10px; margin: 10px 0; }
.pd-badge { display: inline-block; border-radius: 10px; padding: 0 8px; font-size: 12px; font-weight: bold;
            color: #fff; }
.pd-b-failed { background: #c62828; } .pd-b-passed { background: #2e7d32; } .pd-b-skipped { background: #8d8d8d; }
.pd-b-blocked { background: #e65100; } .pd-b-error { background: #6a1b9a; }
.pd-it pre { background: #fff; border: 2px dashed #1565c0; user-select: all; }
.pd table.pd-cfg { border-collapse: collapse; font-size: 13px; }
.pd table.pd-cfg td, .pd table.pd-cfg th { border: 1px solid #ddd; padding: 2px 8px; text-align: left;
                                          vertical-align: top; }
.pd details > summary { cursor: pointer; color: #1565c0; margin: 4px 0; }
.pd-path { font-size: 13px; color: #333; margin: 4px 0 8px; }
.pd-cmp { border: 2px solid #1565c0; border-radius: 8px; padding: 8px 14px; background: #f4f8fd; }
.pd-cmp li { margin: 2px 0; }
.proxydiag .pd-solution, .proxydiag pre { white-space: pre-wrap; }
"""


def _e(value: Any) -> str:
    return escape("" if value is None else str(value))


def _badge(outcome: str) -> str:
    return f'<span class="pd-badge pd-b-{_e(outcome)}">{_e(outcome)}</span>'


def _label(step: Mapping[str, Any]) -> str:
    params = ", ".join(str(v) for v in (step.get("params") or {}).values())
    return str(step.get("id")) + (f" [{params}]" if params else "")


def _solution_html(step: Mapping[str, Any], heading: str = "What to change") -> str:
    out = []
    platform = step.get("solution_platform") or "any"
    if step.get("solution"):
        out.append(f"<h3>{_e(heading)} ({_e(catalog.PLATFORM_LABELS.get(platform, platform))})</h3>"
                   f'<pre class="pd-solution">{_e(step["solution"])}</pre>')
    if step.get("fix"):
        # Rendered where the diagnosis ran: the user's own shell comes first.
        shell = os.path.basename(os.environ.get("SHELL", "") or "")
        out.append(f"<pre>{_e(fix_text(step['fix'], shell))}</pre>")
    others = step.get("other_solutions") or {}
    if others:
        names = ", ".join(catalog.PLATFORM_LABELS.get(p, p) for p in others)
        inner = "".join(f"<h3>{_e(catalog.PLATFORM_LABELS.get(p, p))}</h3><pre>{_e(t)}</pre>"
                        for p, t in others.items())
        out.append(f"<details><summary>Other systems: {_e(names)}</summary>{inner}</details>")
    return "".join(out)


def _evidence_html(step: Mapping[str, Any]) -> str:
    ev = step.get("evidence") or {}
    if not ev:
        return ""
    return ("<details><summary>Evidence (status lines, headers, certificates, timings)</summary>"
            f"<pre>{_e(json.dumps(ev, indent=2, ensure_ascii=False, default=str))}</pre></details>")


def step_detail_html(step: Mapping[str, Any]) -> str:
    """The extras of one step: what it checked, the finding, the solution, the evidence."""
    entry = catalog.CATALOG.get(str(step.get("id")))
    parts = [f"<div class='pd proxydiag'><p><b>{_e(str(step.get('branch', '')).upper())} step "
             f"{_e(step.get('number'))}: {_e(step.get('title'))}</b> {_badge(_outcome(step))} "
             f"<span class='pd-meta'>{_e(_label(step))}</span></p>"]
    if entry is not None and entry.question:
        parts.append(f"<p class='pd-meta'>Question: {_e(entry.question)}</p>")
    if step.get("finding"):
        parts.append(f"<p class='pd-finding'><b>Finding:</b> {_e(step['finding'])}</p>")
    if step.get("outcome") in ("failed", "error"):
        parts.append(_solution_html(step))
    if step.get("skip_reason"):
        parts.append(f"<p><b>{'Blocked' if step.get('blocked_by') else 'Not applicable'}:</b> "
                     f"{_e(step['skip_reason'])}</p>")
    if step.get("summary"):
        parts.append(f"<p><b>Healthy:</b> {_e(step['summary'])}</p>")
    parts.append(_evidence_html(step))
    parts.append("</div>")
    return "".join(parts)


def _outcome(step: Mapping[str, Any]) -> str:
    if step.get("outcome") == "skipped" and step.get("blocked_by"):
        return "blocked"
    return str(step.get("outcome"))


# -- the summary blocks ---------------------------------------------------------
def header_html(doc: Mapping[str, Any]) -> str:
    run, cfg = doc.get("run") or {}, doc.get("config") or {}
    host = run.get("host") or {}
    proxy = cfg.get("proxy") or {}
    targets = ", ".join(f"{t.get('value')} (from {t.get('source')})" for t in cfg.get("targets") or [])
    rows = [("When", f"{run.get('started')} UTC, took {run.get('duration_s')} s, {requests_sent(doc)}"),
            ("Where", f"{host.get('hostname')} \u2014 {host.get('os')}"),
            ("Python", f"{host.get('python')} (shell: {host.get('shell') or '?'})"),
            ("Proxy", f"{proxy.get('value') or '(none configured)'} (from {proxy.get('source')})"
                      + (f" \u2014 {proxy['error']}" if proxy.get("error") else "")),
            ("Targets", targets)]
    gw = cfg.get("gateway") or {}
    if gw.get("value"):
        rows.append(("Gateway", f"{gw.get('value')} (from {gw.get('source')})"))
    npx = cfg.get("no_proxy") or {}
    rows.append(("NO_PROXY", f"{npx.get('value') if npx.get('value') is not None else '(unset)'} "
                             f"(from {npx.get('source')})"))
    for key, note in (doc.get("notes") or {}).items():
        if isinstance(note, Mapping) and note.get("headline"):
            rows.append((str(key).replace("_", " ").capitalize(), note["headline"]))
    widened = widened_line(doc)
    if widened:
        rows.append(("Branches run", widened))
    dl = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in rows)
    cfg_rows = []
    for name, item in cfg.items():
        if isinstance(item, Mapping) and "source" in item:
            cfg_rows.append(f"<tr><td>{_e(name)}</td><td>{_e(_compact(item.get('value')))}</td>"
                            f"<td>{_e(item.get('source'))}</td></tr>")
        elif name == "targets":
            for t in item or []:
                cfg_rows.append(f"<tr><td>target</td><td>{_e(t.get('value'))}</td><td>{_e(t.get('source'))}</td></tr>")
        elif name == "proxy_env":
            for k, v in (item or {}).items():
                cfg_rows.append(f"<tr><td>{_e(k)}</td><td>{_e(v)}</td><td>environment</td></tr>")
    problems = "".join(f"<li>{_e(p)}</li>" for p in cfg.get("problems") or [])
    return (f"<dl class='pd-head'>{dl}</dl>"
            + (f"<p><b>Configuration problems:</b></p><ul>{problems}</ul>" if problems else "")
            + "<details><summary>Configuration with the source of every value</summary>"
              "<table class='pd-cfg'><tr><th>setting</th><th>value</th><th>source</th></tr>"
            + "".join(cfg_rows) + "</table></details>")


def _compact(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    return "" if value is None else str(value)


def comparison_html(doc: Mapping[str, Any]) -> str:
    comp = doc.get("comparison")
    if not comp:
        return ""
    if comp.get("error"):
        return (f"<div class='pd-cmp'><b>Comparison with {_e(comp.get('source'))} not possible:</b> "
                f"{_e(comp['error'])}</div>")
    prev = comp.get("previous") or {}
    items = []
    if comp.get("root_cause_before") != comp.get("root_cause_after"):
        items.append(f"<li><b>Root cause: {_e(comp.get('root_cause_before') or 'none')} \u2192 "
                     f"{_e(comp.get('root_cause_after') or 'none')}</b></li>")
    for c in comp.get("changed") or []:
        items.append(f"<li><b>{_e(c['step'])}</b> ({_e(c.get('title'))}): {_badge(c['before'])} \u2192 "
                     f"{_badge(c['after'])}" + (f" \u2014 {_e(c['finding_after'])}" if c.get("finding_after")
                                                else "") + "</li>")
    for c in comp.get("config") or []:
        items.append(f"<li>config <b>{_e(c['field'])}</b>: {_e(_compact(c['before']))} \u2192 "
                     f"{_e(_compact(c['after']))}</li>")
    for ev in comp.get("evidence") or []:
        items.append(f"<li>{_e(ev['step'])} <code>{_e(ev['field'])}</code>: {_e(ev['before'])} \u2192 "
                     f"{_e(ev['after'])}</li>")
    if not items:
        items.append("<li>No step changed outcome and no compared evidence differs.</li>")
    return (f"<div class='pd-cmp'><h2>Changes since the earlier run</h2><p class='pd-meta'>"
            f"{_e(comp.get('source'))}: run {_e(prev.get('started'))} on {_e(prev.get('hostname'))}, root cause "
            f"then: {_e(prev.get('root_cause') or 'none')}</p><ul>{''.join(items)}</ul></div>")


def diagnosis_html(doc: Mapping[str, Any]) -> str:
    steps = doc.get("steps") or []
    rc_id = doc.get("root_cause")
    failed = [s for s in steps if s.get("outcome") == "failed"]
    errors = [s for s in steps if s.get("outcome") == "error"]
    rc = next((s for s in failed if s.get("id") == rc_id), None)
    out = []
    if rc is not None:
        params = ", ".join(str(v) for v in (rc.get("params") or {}).values())
        out.append(
            "<section class='pd-verdict pd-bad'><div class='pd-kicker'>Root cause</div>"
            f"<h2>{_e(rc.get('title'))}</h2>"
            f"<p class='pd-meta'>{_e(step_place(rc))} "
            f"({_e(flowchart.BRANCHES.get(str(rc.get('branch')), ''))}) \u00b7 {_e(rc.get('id'))}"
            + (f" \u00b7 {_e(params)}" if params else "") + "</p>"
            f"<p class='pd-finding'>{_e(rc.get('finding'))}</p>"
            + _solution_html(rc) + _evidence_html(rc) + "</section>")
    elif errors:
        out.append("<section class='pd-verdict pd-warn'><div class='pd-kicker'>No finding, but the diagnosis "
                   "itself failed at some steps</div><h2>Incomplete diagnosis</h2></section>")
    elif not (verdict := no_finding_verdict(doc))[0]:
        kicker, heading = words.NOT_DIAGNOSED
        out.append(f"<section class='pd-verdict pd-warn'><div class='pd-kicker'>{_e(kicker)}</div>"
                   f"<h2>{_e(heading)}</h2><p>{_e(verdict[1])}</p></section>")
    else:
        c = doc.get("counts") or {}
        out.append("<section class='pd-verdict pd-good'><div class='pd-kicker'>No problem found</div>"
                   f"<h2>Every check that ran passed</h2><p>{_e(c.get('passed', 0))} checks passed, "
                   f"{_e(c.get('skipped', 0))} did not apply. If a tool still fails, attach this report and "
                   "the tool's exact error message to the ticket.</p></section>")
    others = [s for s in failed if s is not rc]
    if others:
        out.append("<h2>Other findings (flowchart order)</h2>")
        for s in others:
            out.append(f"<div class='pd-other'><p><b>{_e(s.get('title'))}</b> <span class='pd-meta'>"
                       f"{_e(step_place(s))} \u00b7 {_e(_label(s))}"
                       f"</span></p><p>{_e(s.get('finding'))}</p><details><summary>Solution and evidence"
                       f"</summary>{_solution_html(s)}{_evidence_html(s)}</details></div>")
    if errors:
        out.append("<h2>Errors in the diagnosis itself</h2><ul>" + "".join(
            f"<li><b>{_e(_label(s))}</b>: {_e(s.get('finding'))}</li>" for s in errors) + "</ul>")
    blocked = [s for s in steps if s.get("outcome") == "skipped" and s.get("blocked_by")]
    if blocked:
        out.append("<details><summary>Not assessable because of a finding above: "
                   f"{len(blocked)} step(s)</summary><ul>" + "".join(
                       f"<li>{_e(_label(s))}: {_e(s.get('skip_reason'))}</li>" for s in blocked) + "</ul></details>")
    return "".join(out)


def path_html(doc: Mapping[str, Any], results: list[StepResult] | None = None) -> str:
    steps = doc.get("steps") or []
    outcomes: dict[str, str] = {}
    reasons: dict[str, str] = {}
    for s in steps:
        o = _outcome(s)
        prev = outcomes.get(s["id"])
        if prev is None or _rank(o) < _rank(prev):
            outcomes[s["id"]] = o
            reasons[s["id"]] = s.get("finding") or s.get("skip_reason") or s.get("summary") or ""
    path = doc.get("decision_path") or []
    titles = {s["id"]: s.get("title") for s in steps}
    chain = " \u2192 ".join(f"{k + 1}. {_e(titles.get(sid, sid))}" + (" \u2717" if sid == doc.get("root_cause")
                                                                      else " \u2713")
                            for k, sid in enumerate(path))
    if not doc.get("root_cause"):
        chain = ""  # all green: the picture says it, a list of every passed step would not
    return ("<h2>Decision path</h2>"
            + (f"<p class='pd-path'>Checked on the way to the root cause: {chain}</p>" if chain else "")
            + flowchart_svg(outcomes, path, doc.get("root_cause"), reasons))


def _rank(outcome: str) -> int:
    return {"failed": 0, "error": 1, "blocked": 2, "passed": 3, "skipped": 4}.get(outcome, 9)


def it_block_html(doc: Mapping[str, Any]) -> str:
    return ("<div class='pd-it'><h2>For the IT ticket (plain text, click to select)</h2>"
            f"<pre>{_e(it_text(doc))}</pre></div>")


def summary_blocks(doc: Mapping[str, Any]) -> list[str]:
    """The blocks shown above the results table, in reading order."""
    return [f"<style>{CSS}</style>",
            "<div class='pd'>" + header_html(doc) + comparison_html(doc) + diagnosis_html(doc)
            + path_html(doc) + it_block_html(doc) + "</div>"]


def standalone_html(doc: Mapping[str, Any]) -> str:
    """A self-contained page of the diagnosis (for the bundle when pytest-html is absent)."""
    host = ((doc.get("run") or {}).get("host") or {}).get("hostname", "")
    rows = "".join(
        f"<tr><td>{_badge(_outcome(s))}</td><td>{_e(str(s.get('branch', '')).upper())}</td>"
        f"<td>{_e(s.get('number'))}</td><td>{_e(s.get('title'))}</td>"
        f"<td>{_e(s.get('finding') or s.get('summary') or s.get('skip_reason') or '')}"
        f"<details><summary>details</summary>{step_detail_html(s)}</details></td></tr>"
        for s in doc.get("steps") or [])
    return ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>"
            f"Proxy diagnosis \u2014 {_e(host)}</title><style>{CSS} body{{display:block;margin:16px;}}</style>"
            f"</head><body><div class='pd'><h1>Proxy diagnosis \u2014 {_e(host)}</h1>"
            + header_html(doc) + comparison_html(doc) + diagnosis_html(doc) + path_html(doc) + it_block_html(doc)
            + "<h2>Steps</h2><table class='pd-cfg'><tr><th>outcome</th><th>branch</th><th>step</th>"
              "<th>title</th><th>finding</th></tr>" + rows + "</table></div></body></html>\n")


# -- pytest-html wiring -------------------------------------------------------------
def attach_html_extras(config, report, result: StepResult) -> None:
    """Add the finding, solution and evidence to the pytest-html row of a step."""
    if not config.pluginmanager.hasplugin("html"):
        return
    try:
        from pytest_html import extras
    except ImportError:  # pragma: no cover
        return
    from pytest_proxydiag.core.state import get_state

    # Rendered from the redacted step, like every other output (its parameters hold the target URL as given).
    step = get_state(config).redactor.redact_obj(result.to_json())
    report.extras = list(getattr(report, "extras", [])) + [extras.html(step_detail_html(step))]


class HtmlHooks:
    """pytest-html hooks; registered only when pytest-html is installed (its hook specs exist then)."""

    COLUMNS = (("branch", "Branch"), ("step", "Step"), ("check", "Check"), ("finding", "Finding / result"))

    def __init__(self, reporter) -> None:
        self.reporter = reporter

    def pytest_html_report_title(self, report) -> None:
        report.title = f"Proxy diagnosis \u2014 {socket.gethostname()}"

    def pytest_html_results_summary(self, prefix, summary, postfix, session) -> None:
        doc = self.reporter.document()
        prefix.extend(summary_blocks(doc))

    def pytest_html_results_table_header(self, cells) -> None:
        new = [f'<th class="sortable" data-column-type="{key}">{label}</th>' for key, label in self.COLUMNS]
        cells[1:1] = new

    def pytest_html_results_table_row(self, report, cells) -> None:
        result = self.reporter.result_for(report.nodeid)
        if result is None:
            values = ["", "", "", ""]
        else:
            outcome = "blocked" if result.outcome == "skipped" and result.blocked_by else result.outcome
            text = result.finding or result.summary or result.skip_reason or ""
            if len(text) > 220:
                text = text[:219] + "\u2026"
            values = [result.branch, f"{result.number} \u00b7 {result.step_id}", result.title,
                      f"{_mark(outcome)} {text}".strip()]
        red = self.reporter.state.redactor.redact
        new = [f'<td class="col-{key}">{escape(red(v))}</td>' for (key, _), v in zip(self.COLUMNS, values)]
        cells[1:1] = new


def _mark(outcome: str) -> str:
    return COLOURS.get(outcome, COLOURS["notrun"])[3]
