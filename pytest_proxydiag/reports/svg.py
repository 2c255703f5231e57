"""The decision path as a picture: an inline SVG of the flowchart, coloured by outcome.

One row per branch, its steps left to right in flowchart order.  Each box is
coloured by the step's outcome; the checks that were cleared on the way to
the root cause are numbered and joined by a blue line that ends at the root
cause (thick red frame).  Plain SVG, no scripts, fonts or links: it renders
the same offline, in a self-contained HTML file and in a mail client.
"""

from __future__ import annotations

from html import escape
from typing import Iterable, Mapping

from pytest_proxydiag import catalog

from pytest_proxydiag.core import flowchart

__all__ = ["flowchart_svg", "COLOURS"]

#: outcome -> (stroke, fill, text colour, mark, label)
COLOURS: dict[str, tuple[str, str, str, str, str]] = {
    "failed": ("#c62828", "#ffebee", "#7f1010", "\u2717", "finding"),
    "error": ("#6a1b9a", "#f3e5f5", "#4a148c", "!", "diagnosis error"),
    "blocked": ("#e65100", "#fff3e0", "#8a3b00", "\u2298", "blocked by a finding"),
    "passed": ("#2e7d32", "#e8f5e9", "#1b4d1e", "\u2713", "healthy"),
    "skipped": ("#8d8d8d", "#f4f4f4", "#555555", "\u2013", "not applicable"),
    "notrun": ("#c8c8c8", "#ffffff", "#9a9a9a", "", "not run"),
}

LABEL_W, BOX_W, BOX_H, GAP_X, ROW_H, TOP = 250, 178, 50, 26, 66, 46
PATH_COLOUR = "#1565c0"


def _wrap(text: str, width: int) -> list[str]:
    words, lines, cur = text.split(), [], ""
    for w in words:
        if cur and len(cur) + 1 + len(w) > width:
            lines.append(cur)
            cur = w
        else:
            cur = f"{cur} {w}".strip()
    if cur:
        lines.append(cur)
    if len(lines) > 2:
        lines = [lines[0], (lines[1] + " " + " ".join(lines[2:]))[: width - 1] + "\u2026"]
    return lines


def _rows(step_ids: Iterable[str]) -> list[tuple[str, str, list[tuple[str, int, str]]]]:
    rows = []
    for branch, symptom in flowchart.BRANCHES.items():
        steps = sorted((e.number, e.step_id, e.title) for e in catalog.CATALOG.values()
                       if e.branch == branch and e.step_id in flowchart.STEP_IDS)
        rows.append((branch, symptom, [(sid, num, title) for num, sid, title in steps]))
    site = [s for s in step_ids if s not in flowchart.STEP_IDS]
    if site:
        entries = [(s, i + 1, catalog.CATALOG[s].title if s in catalog.CATALOG else s)
                   for i, s in enumerate(sorted(dict.fromkeys(site)))]
        rows.append(("site", "checks of your organisation (site pack)", entries))
    return rows


def flowchart_svg(outcomes: Mapping[str, str], path: list[str], root_cause: str | None,
                  reasons: Mapping[str, str] | None = None) -> str:
    """The SVG markup. *outcomes*: step id -> failed|error|blocked|passed|skipped; *path*: see
    :func:`report_facts.decision_path`; *reasons*: tooltip text per step id."""
    reasons = reasons or {}
    rows = _rows(outcomes)
    ncols = max((len(r[2]) for r in rows), default=1)
    width = LABEL_W + ncols * (BOX_W + GAP_X) + 10
    legend_y = TOP + len(rows) * ROW_H + 14
    height = legend_y + 30
    pos: dict[str, tuple[float, float]] = {}
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="pd-flow" viewBox="0 0 {width} {height}" '
           f'width="100%" style="max-width:{width}px" role="img" '
           f'aria-label="Flowchart of the diagnosis: steps coloured by outcome, path to the root cause">',
           "<title>Decision path of the proxy diagnosis</title>",
           f'<defs><marker id="pd-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
           f'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#9e9e9e"/>'
           f'</marker><marker id="pd-arrow-path" viewBox="0 0 10 10" refX="7" refY="5" markerWidth="4" '
           f'markerHeight="4" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="{PATH_COLOUR}"/></marker></defs>',
           '<text x="8" y="18" font-size="13" font-weight="bold" fill="#333">Branch (symptom)</text>',
           f'<text x="{LABEL_W}" y="18" font-size="13" font-weight="bold" fill="#333">'
           f'Steps in flowchart order \u2192</text>']
    for i, (branch, symptom, steps) in enumerate(rows):
        y = TOP + i * ROW_H
        if i % 2 == 0:
            out.append(f'<rect x="0" y="{y - 6}" width="{width}" height="{ROW_H}" fill="#fafafa"/>')
        out.append(f'<text x="8" y="{y + 19}" font-size="14" font-weight="bold" fill="#222">'
                   f'{escape(branch.upper())}</text>')
        for j, line in enumerate(_wrap(symptom, 34)):
            out.append(f'<text x="8" y="{y + 35 + j * 13}" font-size="11" fill="#666">{escape(line)}</text>')
        for j, (sid, _num, _title) in enumerate(steps):
            x = LABEL_W + j * (BOX_W + GAP_X)
            pos[sid] = (x, y)
            if j:
                out.append(f'<line x1="{x - GAP_X + 2}" y1="{y + BOX_H / 2}" x2="{x - 3}" y2="{y + BOX_H / 2}" '
                           f'stroke="#9e9e9e" stroke-width="1.5" marker-end="url(#pd-arrow)"/>')
    # The path to the root cause: numbered badges on its steps, and the arrows between consecutive
    # path steps of one branch drawn in blue.  Lines across branches would cross the grid and hide it.
    for a, b in zip(path, path[1:]):
        if a in pos and b in pos and pos[a][1] == pos[b][1] and 0 < pos[b][0] - pos[a][0] <= BOX_W + GAP_X:
            x, y = pos[b]
            out.append(f'<line x1="{x - GAP_X + 2}" y1="{y + BOX_H / 2}" x2="{x - 3}" y2="{y + BOX_H / 2}" '
                       f'stroke="{PATH_COLOUR}" stroke-width="4" marker-end="url(#pd-arrow-path)"/>')
    order = {s: k + 1 for k, s in enumerate(path)}
    for branch, _symptom, steps in rows:
        for sid, num, title in steps:
            x, y = pos[sid]
            outcome = outcomes.get(sid, "notrun")
            stroke, fill, ink, mark, label = COLOURS.get(outcome, COLOURS["notrun"])
            is_rc = sid == root_cause
            tip = f"{sid}: {label}" + (f" - {reasons[sid]}" if reasons.get(sid) else "")
            dash = ' stroke-dasharray="4 3"' if outcome == "notrun" else ""
            out.append(f'<g class="pd-step pd-{outcome}" data-step="{escape(sid)}"><title>{escape(tip)}</title>')
            out.append(f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="7" fill="{fill}" '
                       f'stroke="{stroke}" stroke-width="{4 if is_rc else (2.5 if sid in order else 1.5)}"'
                       f'{dash}/>')
            lines = _wrap(f"{num}. {title}", 24)
            for k, line in enumerate(lines):
                ty = y + (BOX_H / 2 + 5 if len(lines) == 1 else 21 + k * 15)
                out.append(f'<text x="{x + 10}" y="{ty:.0f}" font-size="12.5" fill="{ink}">{escape(line)}</text>')
            if mark:
                out.append(f'<text x="{x + BOX_W - 8}" y="{y + 18}" font-size="15" font-weight="bold" '
                           f'text-anchor="end" fill="{stroke}">{mark}</text>')
            if sid in order:
                cx, cy = x + 1, y + 1
                out.append(f'<circle cx="{cx}" cy="{cy}" r="9" fill="{"#c62828" if is_rc else PATH_COLOUR}"/>'
                           f'<text x="{cx}" y="{cy + 4}" font-size="11" font-weight="bold" fill="#fff" '
                           f'text-anchor="middle">{order[sid]}</text>')
            if is_rc:
                out.append(f'<text x="{x + BOX_W}" y="{y - 4}" font-size="11" font-weight="bold" '
                           f'text-anchor="end" fill="#c62828">ROOT CAUSE</text>')
            out.append("</g>")
    # Legend
    lx = 8
    for key in ("failed", "blocked", "passed", "skipped", "error", "notrun"):
        stroke, fill, _ink, mark, label = COLOURS[key]
        dash = ' stroke-dasharray="4 3"' if key == "notrun" else ""
        out.append(f'<rect x="{lx}" y="{legend_y}" width="16" height="14" rx="3" fill="{fill}" stroke="{stroke}"'
                   f' stroke-width="1.5"{dash}/><text x="{lx + 22}" y="{legend_y + 12}" font-size="12" '
                   f'fill="#333">{escape(mark + " " if mark else "")}{escape(label)}</text>')
        lx += 42 + 7 * len(label)
    out.append(f'<circle cx="{lx + 8}" cy="{legend_y + 7}" r="8" fill="{PATH_COLOUR}"/><text x="{lx + 8}" '
               f'y="{legend_y + 11}" font-size="10" font-weight="bold" fill="#fff" text-anchor="middle">1</text>'
               f'<text x="{lx + 22}" y="{legend_y + 12}" font-size="12" fill="#333">order of the checks cleared '
               f'on the way to the root cause</text>')
    out.append("</svg>")
    return "\n".join(out)
