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


def ordered(results: Iterable[StepResult]) -> list[StepResult]:
    return [r for _, r in sorted(enumerate(results), key=lambda ir: (flowchart.order_key(ir[1].step_id), ir[0]))]


def counts(results: Iterable[StepResult]) -> Mapping[str, int]:
    c = {o: 0 for o in OUTCOMES}
    for r in results:
        c[r.outcome] = c.get(r.outcome, 0) + 1
    return c
