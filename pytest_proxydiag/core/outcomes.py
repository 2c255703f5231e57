"""From pytest's report of a test to the :class:`StepResult` every reporter renders.

Three kinds of test are steps: bundled flowchart steps, site steps (marked
``proxydiag_step``) and, under ``--proxydiag``, plain site tests.  How their
ending reads:

* a finding (``StepContext.fail``) is ``failed`` with the catalog's text;
* a site test's ``assert`` (or ``pytest.fail``, or any exception its own code
  raises) is ``failed``, its message the finding: a site check failing is what
  the check is for;
* a bundled step that raises anything but a finding (a bare ``assert``
  included), or any step whose fixture or teardown fails, is ``error`` with
  its traceback (redacted): a bug, never a silent finding.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # pragma: no cover
    from pytest_proxydiag.core.results import StepResult
    from pytest_proxydiag.core.state import RunState
    from pytest_proxydiag.core.step import StepContext

#: Bound of a traceback kept in the JSON (its end, where the error is).
TRACEBACK_LIMIT = 20000


def step_result(*, step_id: str, item, call, report, state: RunState, ctx: StepContext | None, site: bool,
                place: str) -> StepResult:
    """The result of one step test from its setup (when that failed or skipped) or call report."""
    from pytest_proxydiag import catalog
    from pytest_proxydiag.core.results import StepResult

    entry = catalog.entry(step_id)
    result = StepResult(step_id=step_id, branch=entry.branch, number=entry.number, title=entry.title,
                        outcome="passed", nodeid=item.nodeid, params=_params(item),
                        duration_s=getattr(report, "duration", 0.0), site=site)
    if ctx is not None:
        result.evidence = dict(ctx.evidence)
        result.summary = ctx.summary
        result.fix = ctx.fix
    red = state.redactor.redact
    if report.passed:
        return result
    if report.skipped:
        result.outcome = "skipped"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        result.skip_reason = red(reason.removeprefix("Skipped: "))
        if ctx is not None and ctx.blocked_by:
            result.blocked_by = ctx.blocked_by
        return result
    from pytest_proxydiag.core.step import Finding

    excinfo = call.excinfo
    if ctx is not None and ctx.rendered is not None and excinfo is not None and excinfo.errisinstance(Finding):
        r = ctx.rendered
        result.outcome = "failed"
        result.finding, result.finding_key = r.text, r.key
        result.solution, result.solution_platform = r.solution, r.solution_platform
        result.other_solutions = dict(r.other_solutions)
    elif excinfo is not None and report.when == "call" and site:
        message = red(assertion_message(excinfo))
        r = catalog.render(step_id, "default", ctx.values(detail=message) if ctx else {"detail": message},
                           redact=red)
        result.outcome = "failed"
        result.finding, result.finding_key = message, "assertion"
        result.solution, result.solution_platform = r.solution, r.solution_platform
        result.other_solutions = dict(r.other_solutions)
        if not excinfo.errisinstance((AssertionError, pytest.fail.Exception)):
            result.traceback = traceback_text(report, red)
    else:
        mark_error(result, report, red, site=site, place=place, excinfo=excinfo)
    return result


def assertion_message(excinfo) -> str:
    """What the test said: the assert's own message without pytest's explanation, else the error."""
    if excinfo.errisinstance((AssertionError, pytest.fail.Exception)):
        text = str(excinfo.value)
        message, sep, _explanation = text.partition("\nassert ")
        if not sep and text.startswith("assert "):
            return text.splitlines()[0]
        return message.strip() or "assertion failed"
    return f"{excinfo.typename}: {excinfo.value}"


def mark_error(result: StepResult, report, red, *, site: bool, place: str, excinfo=None) -> None:
    """Make *result* an ``error``: what raised, its traceback (redacted), and whose bug it is."""
    from pytest_proxydiag import catalog

    site_text = catalog.site

    result.outcome = "error"
    if excinfo is not None:
        result.finding = red(f"{excinfo.typename}: {excinfo.value}")[:2000]
    else:
        result.finding = red(str(report.longrepr).strip().splitlines()[-1] if report.longrepr else "error")[:2000]
    result.finding_key = None
    result.traceback = traceback_text(report, red)
    if site:
        result.solution = site_text.SITE_ERROR_SOLUTION.format(place=place, file=place.split("::", 1)[0])
    else:
        result.solution = site_text.TOOL_ERROR_SOLUTION
    result.solution_platform = "any"


def traceback_text(report, red) -> str:
    """pytest's own rendering of the failure (already redacted in place), redacted again, bounded."""
    text = red(getattr(report, "longreprtext", "") or str(report.longrepr or ""))
    return text if len(text) <= TRACEBACK_LIMIT else "...\n" + text[-TRACEBACK_LIMIT:]


def teardown_error(state: RunState, item, call, report, *, step_id: str, site: bool, place: str) -> StepResult:
    """A step whose teardown failed is an ``error`` (pytest counts it as one too)."""
    for result in reversed(state.results):
        if result.nodeid == item.nodeid:
            break
    else:
        from pytest_proxydiag import catalog
        from pytest_proxydiag.core.results import StepResult

        entry = catalog.entry(step_id)
        result = StepResult(step_id=step_id, branch=entry.branch, number=entry.number, title=entry.title,
                            outcome="error", nodeid=item.nodeid, params=_params(item), site=site)
        state.results.append(result)
    mark_error(result, report, state.redactor.redact, site=site, place=place, excinfo=call.excinfo)
    return result


def fix_proof_crashed(result: StepResult, exc: BaseException, tb: str, red) -> None:
    """A fix whose proof raised inside this tool: the finding stands, the fix is unproven, the bug is shown."""
    from pytest_proxydiag import catalog

    site_text = catalog.site

    fix = dict(result.fix or {})
    fix["verified"] = None
    fix["evidence"] = red(site_text.FIX_PROOF_CRASHED.format(error=f"{type(exc).__name__}: {exc}"))
    result.fix = fix
    result.traceback = red(tb)[-TRACEBACK_LIMIT:]


def _params(item) -> dict[str, Any]:
    from pytest_proxydiag.core.config import Target

    params: dict[str, Any] = {}
    callspec = getattr(item, "callspec", None)
    if callspec is not None:
        for k, v in callspec.params.items():
            params[k.replace("proxydiag_", "")] = v.url if isinstance(v, Target) else _jsonable(v)
    return params


def _jsonable(v: Any) -> Any:
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    return str(v)
