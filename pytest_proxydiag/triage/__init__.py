"""Symptom triage: from the error text a user pastes to the flowchart branches worth running.

The flowchart starts with "what error are you seeing?".  :func:`classify` answers
that question for pasted terminal output, tracebacks, logs and HTML error pages:
it scores every branch with the :data:`RULES` table, selects the most likely
branch and its plausible neighbours (a ranking, never a single guess), and says
why in one sentence per branch.  The gateway hop (Claude Code → LLM gateway →
proxy → provider) is a branch it can choose too.  Text without any known signal
selects every branch and says so.

Rooms: :mod:`.rules` (the table), :mod:`.classify` (normalise, score, explain),
:mod:`.symptom_input` (options, files, stdin), :mod:`.wiring` (pytest hooks).

Use::

    from pytest_proxydiag.triage import classify
    t = classify("curl: (56) CONNECT tunnel failed, response 407")
    t.branches               # ('auth',)
    t.marker_expression()    # 'auth'  (what -m would take)
    t.explanation            # "'CONNECT tunnel failed, response 407' -> auth (most likely): HTTP 407: ..."

The plugin wires it with :func:`configure_triage` (``pytest_configure``),
:func:`apply_triage` (``pytest_collection_modifyitems``, after the branch
markers are set) and :func:`report_header_lines` (``pytest_report_header``).
"""

from __future__ import annotations

from pytest_proxydiag.triage.classify import MAX_SELECTED, MAX_SYMPTOM_BYTES, Triage, classify
from pytest_proxydiag.triage.rules import BRANCHES, RULES, Evidence, Rule
from pytest_proxydiag.triage.symptom_input import SymptomInputError, read_symptom
from pytest_proxydiag.triage.wiring import (
    WORKERINPUT_KEY, apply_triage, configure_triage, deferred_verdict, get_triage, is_deferred,
    read_symptom_from_config, report_header_lines, select_items, triage_from_config,
)

__all__ = [
    "BRANCHES", "Evidence", "Rule", "RULES", "Triage", "SymptomInputError", "MAX_SYMPTOM_BYTES", "MAX_SELECTED",
    "classify", "read_symptom", "read_symptom_from_config", "triage_from_config", "select_items",
    "configure_triage", "apply_triage", "get_triage", "report_header_lines", "WORKERINPUT_KEY",
    "is_deferred", "deferred_verdict",
]
