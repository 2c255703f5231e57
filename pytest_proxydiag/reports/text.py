"""Plain-text renderings: the terminal "proxy diagnosis" section and the bundle's summary.txt.

Both render the finished JSON document (already redacted), so what the
terminal shows is exactly what the files say.
"""

from __future__ import annotations

from typing import Any, Mapping

from pytest_proxydiag import catalog
from pytest_proxydiag.catalog import report as words
from pytest_proxydiag.reports.facts import it_text

__all__ = ["render_lines", "summary_text", "fix_text", "comparison_lines", "no_finding_verdict",
           "widened_line"]

Line = tuple[str, dict[str, bool]]


def _indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line if line else line for line in str(text).splitlines())


def step_label(step: Mapping[str, Any]) -> str:
    params = ", ".join(str(v) for v in (step.get("params") or {}).values())
    return f"{step.get('id')}" + (f" [{params}]" if params else "")


def step_place(step: Mapping[str, Any]) -> str:
    """Where a step sits in the flowchart: ``POLICY step 1``; a site's own test has no number there."""
    if step.get("site") or not step.get("number"):
        return words.SITE_CHECK
    return f"{str(step.get('branch')).upper()} step {step.get('number')}"


def requests_sent(doc: Mapping[str, Any]) -> str:
    n = (doc.get("run") or {}).get("requests_sent") or 0
    return f"{n} request{'' if n == 1 else 's'} sent"


_SHELLS = (("sh", "bash/zsh"), ("fish", "fish"), ("ps1", "PowerShell"))


def fix_text(fix: Mapping[str, Any], shell: str = "") -> str:
    """The fix as lines to paste (the user's shell first), its verdict and the clients that proved it."""
    from pytest_proxydiag.proof.fixscript import paste_lines

    out = []
    verified = fix.get("verified")
    verdict = words.FIX_VERDICTS.get(verified, "")
    if fix.get("verified_with"):
        verdict += " with " + ", ".join(map(str, fix["verified_with"]))
    out.append(f"FIX ({verdict}):")
    first = {"fish": "fish", "pwsh": "ps1", "powershell": "ps1"}.get(shell, "sh")
    for kind, label in sorted(_SHELLS, key=lambda kl: kl[0] != first):
        lines = paste_lines(fix, kind)
        if lines:
            out.append(f"  {label}:")
            out.extend("    " + line for line in lines)
    for f in fix.get("files") or []:
        if isinstance(f, Mapping):
            out.append(f"  {f.get('path')}: {f.get('change')}")
    for placeholder, info in (fix.get("placeholders") or {}).items():
        if isinstance(info, Mapping):
            out.append(f"  {placeholder} is {info.get('means')}; produce it with: {info.get('produce')}")
    for row in fix.get("clients") or []:
        if isinstance(row, Mapping):
            out.append(f"  {row.get('client')}: before: {row.get('before')}; with the fix: {row.get('after')}")
    from pytest_proxydiag.proof.client_rules import unproven

    for name, readers in unproven(fix).items():
        out.append("  " + words.FIX_UNPROVEN.format(name=name, readers=", ".join(readers) or "no client here"))
    for why in fix.get("not_run") or []:
        out.append(f"  not run: {why}")
    if fix.get("evidence"):
        out.append(f"  evidence: {fix['evidence']}")
    return "\n".join(out)


def comparison_lines(doc: Mapping[str, Any]) -> list[Line]:
    comp = doc.get("comparison")
    lines: list[Line] = []
    if not comp:
        return lines
    add = lambda text, **markup: lines.append((text, markup))
    if comp.get("error"):
        add(f"COMPARISON with {comp.get('source')}: not possible: {comp['error']}", yellow=True)
        return lines
    prev = comp.get("previous") or {}
    add(f"CHANGES SINCE {comp.get('source')} (run {prev.get('started')} on {prev.get('hostname')})", bold=True)
    if comp.get("root_cause_before") != comp.get("root_cause_after"):
        add(f"  root cause: {comp.get('root_cause_before') or 'none'} -> {comp.get('root_cause_after') or 'none'}",
            bold=True)
    for c in comp.get("changed") or []:
        add(f"  {c['step']}: {c['before']} -> {c['after']}  ({c.get('title')})",
            red=c["after"] == "failed", green=c["after"] == "passed")
    for c in comp.get("config") or []:
        add(f"  config {c['field']}: {_short(c['before'])} -> {_short(c['after'])}")
    for e in comp.get("evidence") or []:
        add(f"  {e['step']} {e['field']}: {_short(e['before'])} -> {_short(e['after'])}")
    if not (comp.get("changed") or comp.get("config") or comp.get("evidence")):
        add("  " + words.NOTHING_CHANGED)
    return lines


def _short(value: Any, limit: int = 90) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def no_finding_verdict(doc: Mapping[str, Any]) -> tuple[bool, str]:
    """What a run without a finding means: ``(healthy, sentence)``.

    "No finding" is healthy only when the run could see the cause: with no proxy configured,
    with a blocker the run did not select, or with a symptom whose chosen branches found
    nothing while the others did not run, the sentence says what is missing and the command.
    """
    steps = doc.get("steps") or []
    proxy = (doc.get("config") or {}).get("proxy") or {}
    if not proxy.get("value") and not proxy.get("error"):
        return False, words.NO_PROXY_CONFIGURED
    ran = {s.get("id") for s in steps}
    unselected = sorted({s.get("blocked_by") for s in steps if s.get("blocked_by") and s.get("blocked_by") not in ran})
    if unselected:
        markers = " or ".join(sorted({u.partition(".")[0] for u in unselected}))
        return False, words.UNSELECTED_BLOCKERS.format(steps=", ".join(unselected), markers=markers)
    symptom, others = symptom_others(doc)
    if others and len(others.get("ran") or ()) < others.get("steps", 0):
        return False, words.SYMPTOM_UNEXPLAINED.format(chosen=", ".join(symptom.get("branches") or ()),
                                                       missing=others["steps"] - len(others.get("ran") or ()),
                                                       count=others["steps"],
                                                       markers=" or ".join(others.get("branches") or ()))
    return True, words.ALL_PASSED


def symptom_others(doc: Mapping[str, Any]) -> tuple[Mapping[str, Any], Mapping[str, Any] | None]:
    """The symptom's note and what it says of the branches triage did not choose (None: it chose none out)."""
    symptom = (doc.get("notes") or {}).get("symptom")
    if not isinstance(symptom, Mapping):
        return {}, None
    others = symptom.get("others")
    return symptom, others if isinstance(others, Mapping) and others.get("branches") else None


def widened_line(doc: Mapping[str, Any]) -> str | None:
    """The line saying the chosen branches did not settle the cause and how many other steps ran (None: none)."""
    symptom, others = symptom_others(doc)
    if not others or not others.get("ran"):
        return None
    return words.SYMPTOM_WIDENED.format(chosen=", ".join(symptom.get("branches") or ()), ran=len(others["ran"]),
                                        count=others.get("steps", 0))


def render_lines(doc: Mapping[str, Any]) -> list[Line]:
    """Lines of the terminal section with their markup (comparison, then root cause first)."""
    steps = doc.get("steps") or []
    cfg = doc.get("config") or {}
    proxy = cfg.get("proxy") or {}
    lines: list[Line] = []
    shell = str(((doc.get("run") or {}).get("host") or {}).get("shell") or "")
    add = lambda text, **markup: lines.append((text, markup))
    add(f"proxy:   {proxy.get('value') or '(none)'}  (from {proxy.get('source')})")
    # A target worked out from the user's Claude Code says from what (source and the variables).
    add("targets: " + ", ".join(str(t.get("value")) + (f"  (from {t.get('source')}: {t['why']})" if t.get("why")
                                                       else "") for t in cfg.get("targets") or []))
    for key, note in (doc.get("notes") or {}).items():
        if isinstance(note, Mapping) and note.get("headline"):
            add(f"{key}: {note['headline']}")
    widened = widened_line(doc)
    if widened:
        add(widened, yellow=True)
    comp = comparison_lines(doc)
    if comp:
        add("")
        lines.extend(comp)
    rc_id = doc.get("root_cause")
    failed = [s for s in steps if s.get("outcome") == "failed"]
    errors = [s for s in steps if s.get("outcome") == "error"]
    rc = next((s for s in failed if s.get("id") == rc_id), None)
    if rc is not None:
        add("")
        add(f"ROOT CAUSE  {step_label(rc)}: {step_place(rc)}, "
            f"{rc.get('title')}", red=True, bold=True)
        add(_indent(rc.get("finding") or "", "  "))
        platform = catalog.PLATFORM_LABELS.get(rc.get("solution_platform") or "any", "All systems")
        add(f"  SOLUTION ({platform}):", bold=True)
        add(_indent(rc.get("solution") or "", "    "))
        if rc.get("fix"):
            add(_indent(fix_text(rc["fix"], shell), "  "))
    elif not errors:
        healthy, sentence = no_finding_verdict(doc)
        add("")
        add(sentence, bold=True, **({"green": True} if healthy else {"yellow": True}))
    others = [s for s in failed if s is not rc]
    if others:
        add("")
        add("OTHER FINDINGS", bold=True)
        for s in others:
            add(f"  {step_label(s)}: {step_place(s)}, {s.get('title')}",
                red=True)
            add(_indent(s.get("finding") or "", "    "))
            add("    SOLUTION:")
            add(_indent(s.get("solution") or "", "      "))
            if s.get("fix"):
                add(_indent(fix_text(s["fix"], shell), "    "))

    def section(title: str, rows: list, field: str, **style: bool) -> None:
        if rows:
            add("")
            add(title, **style)
            for s in rows:
                add(f"  {step_label(s)}: {s.get(field)}")

    section("ERRORS IN THE DIAGNOSIS ITSELF", errors, "finding", red=True, bold=True)
    section("NOT ASSESSABLE (blocked by an earlier finding)",
            [s for s in steps if s.get("outcome") == "skipped" and s.get("blocked_by")], "skip_reason", yellow=True)
    section("HEALTHY", [s for s in steps if s.get("outcome") == "passed" and s.get("summary")], "summary",
            green=True)
    c = doc.get("counts") or {}
    add("")
    add(f"{c.get('passed', 0)} passed, {c.get('failed', 0)} failed, {c.get('skipped', 0)} skipped, "
        f"{c.get('error', 0)} errors ({requests_sent(doc)})")
    return lines


def summary_text(doc: Mapping[str, Any]) -> str:
    """summary.txt of the escalation bundle: the terminal section, then the block for IT."""
    body = "\n".join(text for text, _ in render_lines(doc))
    return ("pytest-proxydiag summary\n" + "=" * 24 + "\n" + body + "\n\n" + "-" * 72 + "\n" + it_text(doc))
