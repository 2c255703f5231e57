"""What a branch function concludes about its evidence, as plain data.

A branch judges (no I/O, no prose) and returns a :class:`Judgement`; the step
test ends with ``judgement.conclude(step)``.  The words come from the catalog:
a finding key for a failure, a note key for a pass, skip or block.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, NoReturn

from pytest_proxydiag import catalog

__all__ = ["Judgement", "Note", "say"]


def say(step, key: str, **values: Any) -> str:
    """The catalog note *key* of *step*'s step id (a pass summary, skip or block reason)."""
    return catalog.note(step.step_id, key, **_resolved(step, values))


@dataclass(frozen=True)
class Note:
    """A catalog note named by a branch and filled when the step concludes (e.g. a finding's ``detail``)."""

    key: str
    values: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, key: str, **values: Any) -> "Note":
        return cls(key, values)


def _resolved(step, values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (say(step, v.key, **v.values) if isinstance(v, Note) else v) for k, v in values.items()}


@dataclass(frozen=True)
class Judgement:
    #: "fail" (a finding), "blocked" (an earlier step explains it), "skip" or "pass".
    outcome: str
    #: the finding key (fail) or the note key (pass, skip, blocked; "" = *detail* as it is).
    key: str
    values: Mapping[str, Any] = field(default_factory=dict)
    #: the blocking step id (blocked only).
    by: str = ""
    #: measured text shown as it is when a block has no note (a status line, a probe's detail).
    detail: str = ""
    #: a concrete fix (``env``, ``files`` ...) attached before the step fails.
    fix: Mapping[str, Any] | None = None
    #: evidence the judgement records with the step (what it found, e.g. the refused domains); not
    #: called ``evidence``, which is a finding value of its own in several catalog texts.
    record: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def fail(cls, key: str, *, fix: Mapping[str, Any] | None = None, record: Mapping[str, Any] | None = None,
             **values: Any) -> "Judgement":
        return cls("fail", key, values, fix=fix, record=record or {})

    @classmethod
    def passed(cls, key: str, **values: Any) -> "Judgement":
        return cls("pass", key, values)

    @classmethod
    def skip(cls, key: str, **values: Any) -> "Judgement":
        return cls("skip", key, values)

    @classmethod
    def blocked(cls, by: str, detail: str = "", key: str = "", **values: Any) -> "Judgement":
        # A keyed reason's template may quote the detail too ("... through the proxy: {detail}").
        return cls("blocked", key, {"detail": detail, **values} if key else values, by=by, detail=detail)

    def conclude(self, step) -> None | NoReturn:
        """End *step* the way this judgement says (a pass returns, everything else raises)."""
        __tracebackhide__ = True
        if self.record:
            step.add_evidence(**self.record)
        if self.fix is not None:
            step.set_fix(**self.fix)
        if self.outcome == "fail":
            step.fail(self.key, **_resolved(step, self.values))
        text = say(step, self.key, **self.values) if self.key else self.detail
        if self.outcome == "blocked":
            step.blocked(self.by, text)
        if self.outcome == "skip":
            step.skip(text)
        step.passed(text)
        return None
