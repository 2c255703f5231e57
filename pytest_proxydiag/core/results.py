"""The result model every reporter renders: one :class:`StepResult` per step test.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Mapping

from pytest_proxydiag.core import flowchart

OUTCOMES = ("passed", "failed", "skipped", "error")


@dataclass
class StepResult:
    step_id: str
    branch: str
    number: int
    title: str
    outcome: str
    nodeid: str
    params: dict[str, Any] = field(default_factory=dict)
    finding: str | None = None
    finding_key: str | None = None
    solution: str | None = None
    solution_platform: str | None = None
    other_solutions: dict[str, str] = field(default_factory=dict)
    summary: str | None = None          # one line on a passed step (e.g. the issuer seen)
    skip_reason: str | None = None
    blocked_by: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    fix: dict[str, Any] | None = None
    duration_s: float = 0.0
    site: bool = False
    #: On an ``error``: pytest's traceback of what raised, redacted and bounded (None otherwise).
    traceback: str | None = None

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["id"] = d.pop("step_id")
        d["duration_s"] = round(self.duration_s, 4)
        return d


def root_cause(results: Iterable[StepResult]) -> StepResult | None:
    """The first failed step in dependency order (see :data:`flowchart.ROOT_CAUSE_ORDER`)."""
    failed = [r for r in results if r.outcome in ("failed",)]
    if not failed:
        return None
    return min(enumerate(failed), key=lambda ir: (flowchart.order_key(ir[1].step_id, ir[1].finding_key), ir[0]))[1]


def settle_blockers(results: Iterable[StepResult]) -> None:
    """Make each "blocked by X" name the step that failed, in place.

    A step is blocked by the step that owns its evidence (a 403 is ``policy.domain_allowed``'s), which may
    itself turn out blocked by an earlier one (the proxy refuses every name: ``connectivity.proxy_works``), before
    or after the first ran.  The chain is followed to its end: a step that failed, or one that did not run.  A
    chain that ends at a step that ran and found nothing (a tunnel cut later, which ``connectivity.proxy_works``
    could not see) names the run's root cause instead: that step explains the evidence.
    """
    results = list(results)
    by_step: dict[str, list[StepResult]] = {}
    for r in results:
        by_step.setdefault(r.step_id, []).append(r)

    def end_of(step_id: str) -> str:
        seen = {step_id}
        while True:
            ran = by_step.get(step_id, [])
            if not ran or any(r.outcome != "skipped" or not r.blocked_by for r in ran):
                return step_id
            nxt = ran[0].blocked_by
            if nxt in seen:
                return step_id
            seen.add(nxt)
            step_id = nxt

    root = root_cause(results)
    for r in results:
        if r.outcome == "skipped" and r.blocked_by:
            end = end_of(r.blocked_by)
            if root is not None and end in by_step and not any(x.outcome == "failed" for x in by_step[end]):
                end = root.step_id
            if end != r.blocked_by:
                if r.skip_reason and r.skip_reason.startswith(f"blocked by {r.blocked_by}"):
                    r.skip_reason = f"blocked by {end}" + r.skip_reason[len(f"blocked by {r.blocked_by}"):]
                r.blocked_by = end


def ordered(results: Iterable[StepResult]) -> list[StepResult]:
    return [r for _, r in sorted(enumerate(results), key=lambda ir: (flowchart.order_key(ir[1].step_id), ir[0]))]


def counts(results: Iterable[StepResult]) -> Mapping[str, int]:
    c = {o: 0 for o in OUTCOMES}
    for r in results:
        c[r.outcome] = c.get(r.outcome, 0) + 1
    return c
