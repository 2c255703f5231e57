"""Reporters: the terminal "proxy diagnosis" section, the JSON file, pytest-html extras.

All of them render the same :class:`~pytest_proxydiag.results.StepResult`
list, and every string in it has already been through the redaction layer;
the JSON document is redacted once more as a whole before it is written.
"""

from __future__ import annotations

import json
import os
import platform
import socket
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from . import __version__, catalog, flowchart
from .results import StepResult, counts, ordered, root_cause
from .state import RunState

JSON_SCHEMA_VERSION = 1


def build_document(state: RunState, exitstatus: int | None = None) -> dict[str, Any]:
    """The JSON document (schema 1): tool, config with sources, steps, root cause."""
    results = ordered(state.results)
    rc = root_cause(results)
    red = state.redactor
    doc = {
        "schema": JSON_SCHEMA_VERSION,
        "tool": {"name": "pytest-proxydiag", "version": __version__},
        "run": {
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(state.started_wall)),
            "duration_s": round(time.monotonic() - state.started, 3),
            "host": {"os": platform.platform(), "platform": catalog.platform_key(),
                     "hostname": socket.gethostname(), "python": sys.version.split()[0],
                     "shell": os.path.basename(os.environ.get("SHELL", "") or "")},
            "exitstatus": exitstatus,
            "requests_sent": state.probes.requests_sent,
        },
        "config": state.settings.as_report(red.redact),
        "notes": state.notes,
        "steps": [r.to_json() for r in results],
        "counts": dict(counts(results)),
        "root_cause": rc.step_id if rc else None,
        "artifacts": state.artifacts,
    }
    return red.redact_obj(doc)


def write_json(path: str | os.PathLike, doc: dict[str, Any]) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2, ensure_ascii=False)
        f.write("\n")
    os.replace(tmp, p)
    return p


def _indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line if line else line for line in text.splitlines())


def _label(r: StepResult) -> str:
    params = ", ".join(str(v) for v in r.params.values())
    return f"{r.step_id}" + (f" [{params}]" if params else "")


def render_terminal(state: RunState) -> list[tuple[str, dict[str, bool]]]:
    """Lines of the terminal section with their markup (root cause first)."""
    results = ordered(state.results)
    rc = root_cause(results)
    s = state.settings
    lines: list[tuple[str, dict[str, bool]]] = []
    add = lambda text, **markup: lines.append((text, markup))
    add(f"proxy:   {s.proxy.display() if s.proxy.url else (state.redactor.redact(s.proxy.raw) or '(none)')}"
        f"  (from {s.proxy.source})")
    add("targets: " + ", ".join(t.url for t in s.targets))
    for key, note in state.notes.items():
        if isinstance(note, dict) and note.get("headline"):
            add(f"{key}: {note['headline']}")
    failed = [r for r in results if r.outcome == "failed"]
    errors = [r for r in results if r.outcome == "error"]
    if rc is not None:
        add("")
        add(f"ROOT CAUSE  {_label(rc)}: {rc.branch.upper()} step {rc.number}, {rc.title}", red=True, bold=True)
        add(_indent(rc.finding or "", "  "))
        add(f"  SOLUTION ({catalog.PLATFORM_LABELS.get(rc.solution_platform or 'any', 'All systems')}):", bold=True)
        add(_indent(rc.solution or "", "    "))
        if rc.fix:
            add(_indent(_fix_text(rc.fix), "  "))
    elif not errors:
        add("")
        add("No finding: every step that ran passed.", green=True, bold=True)
    others = [r for r in failed if r is not rc]
    if others:
        add("")
        add("OTHER FINDINGS", bold=True)
        for r in others:
            add(f"  {_label(r)}: {r.branch.upper()} step {r.number}, {r.title}", red=True)
            add(_indent(r.finding or "", "    "))
            add("    SOLUTION:")
            add(_indent(r.solution or "", "      "))
            if r.fix:
                add(_indent(_fix_text(r.fix), "    "))
    if errors:
        add("")
        add("ERRORS IN THE DIAGNOSIS ITSELF", red=True, bold=True)
        for r in errors:
            add(f"  {_label(r)}: {r.finding}")
    blocked = [r for r in results if r.outcome == "skipped" and r.blocked_by]
    if blocked:
        add("")
        add("NOT ASSESSABLE (blocked by an earlier finding)", yellow=True)
        for r in blocked:
            add(f"  {_label(r)}: {r.skip_reason}")
    passed = [r for r in results if r.outcome == "passed" and r.summary]
    if passed:
        add("")
        add("HEALTHY", green=True)
        for r in passed:
            add(f"  {_label(r)}: {r.summary}")
    c = counts(results)
    add("")
    add(f"{c['passed']} passed, {c['failed']} failed, {c['skipped']} skipped, {c['error']} errors "
        f"({state.probes.requests_sent} requests sent)")
    return [(state.redactor.redact(t), m) for t, m in lines]


def _fix_text(fix: dict[str, Any]) -> str:
    out = []
    verified = fix.get("verified")
    verdict = {True: "verified on this machine", False: "tried here and it did NOT work",
               None: "not verifiable on this machine"}.get(verified, "")
    if fix.get("verified_with"):
        verdict += " with " + ", ".join(fix["verified_with"])
    out.append(f"FIX ({verdict}):")
    for k, v in (fix.get("env") or {}).items():
        out.append(f"  export {k}=\"{v}\"")
    for k in fix.get("unset") or []:
        out.append(f"  unset {k}")
    for f in fix.get("files") or []:
        out.append(f"  {f.get('path')}: {f.get('change')}")
    if fix.get("evidence"):
        out.append(f"  evidence: {fix['evidence']}")
    return "\n".join(out)


class Reporter:
    """Registered only when ``--proxydiag`` is given (and not on xdist workers)."""

    def __init__(self, config, state: RunState) -> None:
        self.config = config
        self.state = state

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter, exitstatus, config) -> None:
        if not self.state.results:
            terminalreporter.write_sep("=", "proxy diagnosis")
            terminalreporter.write_line("no diagnostic step ran (check -m / -k selection)")
            return
        terminalreporter.write_sep("=", "proxy diagnosis", bold=True)
        for text, markup in render_terminal(self.state):
            terminalreporter.write_line(text, **markup)
        path = self.state.settings["json"]
        if path:
            terminalreporter.write_line(f"JSON report: {Path(path).resolve()}")

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session, exitstatus) -> None:
        path = self.state.settings["json"]
        if path:
            write_json(path, build_document(self.state, int(exitstatus)))


def attach_html_extras(config, report, result: StepResult) -> None:
    """Add the finding, solution and evidence to the pytest-html row of a step."""
    if not config.pluginmanager.hasplugin("html"):
        return
    try:
        from pytest_html import extras
    except ImportError:  # pragma: no cover
        return
    from html import escape

    parts = [f"<div class='proxydiag'><p><b>{escape(result.step_id)}</b> "
             f"({escape(result.branch)} step {result.number}: {escape(result.title)}) "
             f"&mdash; <b>{escape(result.outcome)}</b></p>"]
    if result.finding:
        parts.append(f"<p><b>Finding:</b> {escape(result.finding)}</p>")
    if result.solution:
        parts.append(f"<p><b>Solution:</b></p><pre>{escape(result.solution)}</pre>")
    if result.skip_reason:
        parts.append(f"<p><b>Skipped:</b> {escape(result.skip_reason)}</p>")
    if result.summary:
        parts.append(f"<p>{escape(result.summary)}</p>")
    if result.evidence:
        parts.append("<details><summary>Evidence</summary><pre>"
                     f"{escape(json.dumps(result.evidence, indent=2, default=str))}</pre></details>")
    parts.append("</div>")
    report.extras = list(getattr(report, "extras", [])) + [extras.html("".join(parts))]
