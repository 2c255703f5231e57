"""Reporters: terminal section, JSON, pytest-html, JUnit properties, comparison, bundle.

All of them render one redacted JSON document (:func:`build_document`), built
once at the end of the session from the :class:`~pytest_proxydiag.core.results.StepResult`
list.  The modules behind this facade:

* :mod:`.report_json` — the document (schema 1) and its JSON Schema;
* :mod:`.report_text` — terminal section and ``summary.txt``;
* :mod:`.report_html` — pytest-html hooks, per-step extras, standalone page;
* :mod:`.svg` — the flowchart picture; :mod:`.report_facts` — decision path, "for IT" facts;
* :mod:`.report_compare` — ``--proxydiag-compare``; :mod:`.bundle` — ``--proxydiag-bundle``;
* :mod:`.redact_outputs` — the redaction layer wired into pytest's own outputs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest

from pytest_proxydiag.reports.bundle import write_bundle
from pytest_proxydiag.reports.redaction import guard_logging, guard_terminal, redact_metadata, redact_report, scrub_file
from pytest_proxydiag.reports.html_report import HtmlHooks, attach_html_extras
from pytest_proxydiag.reports.json_report import JSON_SCHEMA_VERSION, build_document, write_json
from pytest_proxydiag.reports.text import render_lines
from pytest_proxydiag.core.results import StepResult
from pytest_proxydiag.core.state import RunState

__all__ = ["Reporter", "attach_html_extras", "build_document", "render_terminal", "write_json",
           "JSON_SCHEMA_VERSION"]


def render_terminal(state: RunState, doc: dict[str, Any] | None = None) -> list[tuple[str, dict[str, bool]]]:
    """Lines of the terminal section with their markup (comparison, then root cause first)."""
    doc = doc if doc is not None else build_document(state)
    return [(state.redactor.redact(t), m) for t, m in render_lines(doc)]


class Reporter:
    """Registered only when ``--proxydiag`` is given (and not on xdist workers)."""

    def __init__(self, config, state: RunState) -> None:
        self.config = config
        self.state = state
        self._doc: dict[str, Any] | None = None
        self._undo: list[Callable[[], None]] = []
        self.bundle_path: Path | None = None
        self.bundle_error: str | None = None
        self._files_done = False
        if config.pluginmanager.hasplugin("html"):
            config.pluginmanager.register(HtmlHooks(self), "proxydiag-html")

    # -- the shared document -----------------------------------------------------
    def document(self, exitstatus: int | None = None) -> dict[str, Any]:
        if self._doc is None or (exitstatus is not None and self._doc["run"].get("exitstatus") is None):
            self._doc = build_document(self.state, exitstatus)
        return self._doc

    def result_for(self, nodeid: str) -> StepResult | None:
        for r in reversed(self.state.results):
            if r.nodeid == nodeid:
                return r
        return None

    # -- redaction of pytest's own outputs ----------------------------------------
    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session) -> None:
        red = self.state.redactor
        tr = self.config.pluginmanager.get_plugin("terminalreporter")
        if tr is not None:
            self._undo.append(guard_terminal(tr, red))
        self._undo.append(guard_logging(self.config, red))
        # Before pytest-html (trylast) copies the metadata into its Environment table.
        redact_metadata(self.config, red)

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_runtest_makereport(self, item, call):
        report = yield
        redact_report(report, self.state.redactor)
        return report

    @pytest.hookimpl(wrapper=True)
    def pytest_make_collect_report(self, collector):
        report = yield
        redact_report(report, self.state.redactor)
        return report

    # -- writing ---------------------------------------------------------------------
    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session, exitstatus) -> None:
        doc = self.document(int(exitstatus))
        path = self.state.settings["json"]
        if path:
            write_json(path, doc)

    def _after_files(self) -> None:
        """pytest-html and junitxml have written their files: scrub them, then bundle."""
        if self._files_done:
            return
        self._files_done = True
        red = self.state.redactor
        html_path = getattr(self.config.option, "htmlpath", None)
        junit_path = getattr(self.config.option, "xmlpath", None)
        for p in (html_path, junit_path):
            scrub_file(p, red)
        bundle = self.state.settings["bundle"]
        if bundle:
            try:
                self.bundle_path, _ = write_bundle(bundle, self.document(), red, html_path=html_path,
                                                   junit_path=junit_path, artifacts=self.state.artifacts)
            except OSError as exc:
                self.bundle_error = red(f"cannot write {bundle}: {exc}")

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter, exitstatus, config) -> None:
        # TerminalReporter runs the summary after every pytest_sessionfinish implementation,
        # so pytest-html's and junitxml's files exist now.
        self._after_files()
        _write_section(self, terminalreporter)

    def pytest_unconfigure(self, config) -> None:
        if not self._files_done:  # no terminal (-p no:terminal): still scrub and bundle
            self._after_files()
        for undo in reversed(self._undo):
            undo()
        self._undo.clear()


def _write_section(reporter: Reporter, terminalreporter) -> None:
    state = reporter.state
    if not state.results:
        terminalreporter.write_sep("=", "proxy diagnosis")
        terminalreporter.write_line("no diagnostic step ran (check -m / -k selection)")
        return
    terminalreporter.write_sep("=", "proxy diagnosis", bold=True)
    for text, markup in render_terminal(state, reporter.document()):
        terminalreporter.write_line(text, **markup)
    path = state.settings["json"]
    if path:
        terminalreporter.write_line(f"JSON report: {Path(path).resolve()}")
    if reporter.bundle_path is not None:
        terminalreporter.write_line(f"Escalation bundle: {reporter.bundle_path.resolve()}")
    elif reporter.bundle_error:
        terminalreporter.write_line(f"Escalation bundle NOT written: {reporter.bundle_error}", red=True)
