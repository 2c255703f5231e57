"""Classify one symptom text: normalise it, score every branch with the rule table, rank, explain.

All text that leaves this module (excerpt, explanation, matched evidence) goes
through the redactor first.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from pytest_proxydiag.core.redact import Redactor
from pytest_proxydiag.triage.rules import BRANCHES, COMPILED, NOTES, RULES, Evidence

#: Largest symptom read from a file or stdin; a longer log keeps its head and tail.
MAX_SYMPTOM_BYTES = 1024 * 1024
#: Characters of the (redacted) text shown at the top of reports.
EXCERPT_CHARS = 200
#: Most branches selected for text with a signal (a ranking, not "run everything").
MAX_SELECTED = 3
#: A neighbour is selected when it scores at least this share of the best branch ...
NEIGHBOUR_RATIO = 0.3
#: ... and at least this much in absolute terms; below it the text has no signal.
MIN_SCORE = 1.0


# -- normalisation --------------------------------------------------------------
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd]+")
_ANSI = re.compile(r"\x1b\[[0-9;?]{0,20}[ -/]{0,3}[@-~]")
_SPACES = re.compile(r"[ \t\u00a0\u3000]+")
_ANY_SPACE = re.compile(r"\s+")
_LINE_BREAK = re.compile(r"\r?\n|\r")


def _valid_unicode(text: str) -> str:
    """Lone surrogates (argv holds them for undecodable bytes) would break every UTF-8 report writer."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        try:
            return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        except UnicodeEncodeError:
            return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def _bounded(text: str, limit: int = MAX_SYMPTOM_BYTES) -> str:
    """Keep the head and the tail of an oversized text: errors sit at the end of logs."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return text[:half] + "\n…\n" + text[-half:]


_MIDWORD_BREAK = re.compile(r"(?<=\S)(?:\r?\n|\r)(?=\S)")
_SEAM = 80


def _variants(text: str) -> tuple[str, str]:
    """The text with whitespace collapsed, and its *seams*: the places where a line break split a word.

    A console wrap inserts a bare line break inside a word (``connectio\\nn failed``); the
    seams hold the text around each such break with the line breaks removed, so a pattern
    matches there too.  Only those places can match differently once the breaks are removed,
    so the second pass costs nothing for ordinary text.
    """
    text = _CONTROL.sub(" ", _ANSI.sub("", text))
    collapsed = _ANY_SPACE.sub(" ", text)
    spans: list[list[int]] = []
    for m in _MIDWORD_BREAK.finditer(text):
        a, b = max(0, m.start() - _SEAM), m.end() + _SEAM
        if spans and a <= spans[-1][1]:
            spans[-1][1] = b
        else:
            spans.append([a, b])
    seams = "\n".join(_SPACES.sub(" ", _LINE_BREAK.sub("", text[a:b])) for a, b in spans)
    return collapsed, seams


# -- the result -----------------------------------------------------------------
@dataclass(frozen=True)
class Triage:
    """The classification of one symptom text."""

    text_excerpt: str
    branches: tuple[str, ...]
    scores: dict[str, float] = field(hash=False)
    evidence: tuple[Evidence, ...]
    ambiguous: bool
    explanation: str

    def marker_expression(self) -> str:
        """A ``-m`` expression selecting the chosen branches, e.g. ``"auth or connectivity"``."""
        return " or ".join(self.branches)

    @property
    def headline(self) -> str:
        """One line for the top of every report."""
        if self.ambiguous:
            return f"'{_shorten(self.text_excerpt, 80)}' -> no known proxy error: running every branch"
        return f"'{_shorten(self.text_excerpt, 80)}' -> {', '.join(self.branches)}"

    def header_lines(self) -> list[str]:
        """Lines for the top of the terminal report: the symptom, the branches run, and why."""
        if self.ambiguous:
            runs = "every branch (no known proxy error in the text)"
        else:
            runs = f"{', '.join(self.branches)} first (-m \"{self.marker_expression()}\"), the others where they can change the root cause"
        return [f"proxydiag symptom: '{_shorten(self.text_excerpt, 100)}'",
                f"proxydiag branches: {runs}",
                f"proxydiag why: {self.explanation}"]

    def as_note(self) -> dict[str, Any]:
        """The JSON-ready note for ``RunState.notes["symptom"]`` (``headline`` is shown in the terminal)."""
        return {
            "headline": self.headline,
            "text_excerpt": self.text_excerpt,
            "branches": list(self.branches),
            "ambiguous": self.ambiguous,
            "marker_expression": self.marker_expression(),
            "explanation": self.explanation,
            "scores": {b: round(s, 2) for b, s in self.scores.items() if s},
            "evidence": [{"branch": e.branch, "matched_text": e.matched_text, "weight": e.weight}
                         for e in self.evidence],
        }


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def _excerpt(text: str, redact) -> str:
    # Redact a window larger than the excerpt, so a secret straddling the cut is still masked whole.
    window = _ANY_SPACE.sub(" ", _CONTROL.sub(" ", _ANSI.sub("", text[: EXCERPT_CHARS * 8]))).strip()
    return _shorten(redact(window), EXCERPT_CHARS)


def classify(text: str | bytes | None, redactor: Redactor | None = None) -> Triage:
    """Score *text* against :data:`RULES` and select the likely branches.

    Per branch, the score is the sum over rule groups of the strongest matching
    rule of the group (counter-evidence subtracts).  The best branch is selected
    with every neighbour scoring at least :data:`NEIGHBOUR_RATIO` of it, at most
    :data:`MAX_SELECTED`; no branch reaching :data:`MIN_SCORE` selects them all.

    *redactor* masks secrets in everything the result shows (the run's redactor
    knows the proxy password and API keys; a fresh one still masks secret-shaped
    text such as ``http://user:pw@host`` and ``API_KEY=...``).
    """
    red = redactor or Redactor()
    if isinstance(text, bytes):
        text = decode(text)
    text = _valid_unicode(_bounded(text or ""))
    collapsed, joined = _variants(text)

    contributions: dict[tuple[str, str], float] = {}
    evidence: list[Evidence] = []
    matches: dict[str, tuple[str, re.Match[str]] | None] = {}
    # Quotes come from the original case when lower-casing kept every position (almost always).
    texts = [(collapsed.lower(), collapsed), (joined.lower(), joined)]
    texts = [(low, orig if len(orig) == len(low) else low) for low, orig in texts if low.strip()]
    if texts:
        for rule in RULES:
            if rule.pattern not in matches:
                rx = COMPILED[rule.pattern]
                matches[rule.pattern] = next(((orig, m) for low, orig in texts if (m := rx.search(low))), None)
            found = matches[rule.pattern]
            if found is None:
                continue
            key = (rule.group or rule.pattern, rule.branch)
            old = contributions.get(key, 0.0)
            contributions[key] = max(old, rule.weight) if rule.weight > 0 else min(old, rule.weight)
            evidence.append(Evidence(rule.branch, rule.pattern, _quote(*found, red.redact), rule.weight))

    scores = {b: 0.0 for b in BRANCHES}
    for (_group, branch), weight in contributions.items():
        scores[branch] += weight
    order = {b: i for i, b in enumerate(BRANCHES)}
    ranked = sorted(BRANCHES, key=lambda b: (-scores[b], order[b]))
    top = scores[ranked[0]]
    if top < MIN_SCORE:
        selected: tuple[str, ...] = BRANCHES
        ambiguous = True
    else:
        floor = max(MIN_SCORE, NEIGHBOUR_RATIO * top)
        selected = tuple(b for b in ranked if scores[b] >= floor)[:MAX_SELECTED]
        ambiguous = False
    evidence.sort(key=lambda e: (order[e.branch], -e.weight))
    return Triage(
        text_excerpt=_excerpt(text, red.redact),
        branches=selected,
        scores=scores,
        evidence=tuple(evidence),
        ambiguous=ambiguous,
        explanation=_explain(selected, ambiguous, evidence, scores),
    )


_CLAUSE_BREAK = re.compile(r"[⎿│·•|>\[\]{}]|\. |\(|\)|\s-\s")


def _quote(haystack: str, m: re.Match[str], redact) -> str:
    """The match with a little of its clause around it, redacted, at most 80 characters."""
    start, end = m.start(), m.end()
    matched = haystack[start:end]
    left = haystack[max(0, start - 40):start]
    cut = [b.end() for b in _CLAUSE_BREAK.finditer(left)]
    left = left[cut[-1]:] if cut else left.split(" ", 1)[-1] if start > 40 else left
    right = haystack[end:end + 30]
    stop = _CLAUSE_BREAK.search(right)
    right = right[:stop.start()] if stop else right.rsplit(" ", 1)[0] if len(right) == 30 else right
    return _shorten(redact((left + matched + right).strip(" ,:;'\"")), 80)


def _explain(selected: Iterable[str], ambiguous: bool, evidence: list[Evidence],
             scores: Mapping[str, float]) -> str:
    if ambiguous:
        if not evidence:
            return "No known proxy error in the text, so every branch runs."
        return "Only weak or contradicting clues in the text, so every branch runs."
    sentences = []
    explained: set[str] = set()
    for rank, branch in enumerate(selected):
        own = sorted((e for e in evidence if e.branch == branch and e.weight > 0), key=lambda e: -e.weight)
        best = own[0]
        others = len({e.pattern for e in own}) - 1
        lead = "most likely" if rank == 0 else "also plausible"
        tail = f" (+{others} more clue{'s' if others > 1 else ''})" if others else ""
        why = "the same clue" if best.pattern in explained else NOTES[best.pattern]
        explained.add(best.pattern)
        sentences.append(f"'{best.matched_text}' -> {branch} ({lead}): {why}{tail}.")
    return " ".join(sentences)


def decode(data: bytes) -> str:
    # PowerShell 5's ">" writes UTF-16 with a BOM: a real shape of pasted logs on Windows.
    for bom, codec in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
                       (codecs.BOM_UTF16_BE, "utf-16-be")):
        if data.startswith(bom):
            return data[len(bom):].decode(codec, "replace")
    return data.decode("utf-8", "replace")
