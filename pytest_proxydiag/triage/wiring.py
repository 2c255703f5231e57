"""Plugin wiring: classify the run's symptom once, run its branches first (the others only where they can
still change the root cause), show it first."""

from __future__ import annotations

from pytest_proxydiag.catalog import report as words
from pytest_proxydiag.core.redact import Redactor
from pytest_proxydiag.triage.classify import Triage, classify
from pytest_proxydiag.triage.symptom_input import SymptomInputError, read_symptom

#: Key of the run's :class:`Triage` in ``config.stash`` (set by :func:`configure_triage`).
WORKERINPUT_KEY = "proxydiag_symptom_text"


def _stash_key():
    import pytest

    global _TRIAGE_KEY, _DEFERRED
    if _TRIAGE_KEY is None:
        _TRIAGE_KEY = pytest.StashKey[Triage]()
        _DEFERRED = pytest.StashKey[bool]()
    return _TRIAGE_KEY


_TRIAGE_KEY = _DEFERRED = None


def _option(config, settings, name: str) -> str | None:
    if settings is not None:
        try:
            return settings[name] or None
        except KeyError:
            pass
    return config.getoption("proxydiag_" + name, None) or config.getini("proxydiag_" + name) or None


def read_symptom_from_config(config, settings=None) -> str | None:
    """The symptom text the options name, read once (``None`` when no symptom was given).

    On an xdist worker the controller's text arrives in ``workerinput`` (a worker
    cannot read the controller's stdin).  Standard input is read with pytest's
    capture suspended: while capturing, pytest points fd 0 at /dev/null.  An
    unreadable file is a :class:`pytest.UsageError` naming it.
    """
    import pytest

    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None and WORKERINPUT_KEY in workerinput:
        return workerinput[WORKERINPUT_KEY]
    text, path = _option(config, settings, "symptom"), _option(config, settings, "symptom_file")
    if not text and not path:
        return None
    capman = config.pluginmanager.getplugin("capturemanager") if path == "-" else None
    # At pytest_configure pytest holds its capture suspended (output reaches the terminal; fd 0 stays on
    # /dev/null): put it back so, or the session header and collection lines land in the capture and are lost.
    was_started = getattr(getattr(capman, "_global_capturing", None), "_state", None) == "started"
    if capman is not None:
        capman.suspend_global_capture(in_=True)
    try:
        return read_symptom(text, path)
    except SymptomInputError as exc:
        raise pytest.UsageError(str(exc)) from None
    finally:
        if capman is not None:
            capman.resume_global_capture()
            if not was_started:
                capman.suspend_global_capture(in_=False)


def triage_from_config(config, redactor: Redactor | None = None, settings=None) -> Triage | None:
    """Classify the symptom the options name (``None`` when none was given)."""
    symptom = read_symptom_from_config(config, settings)
    return None if symptom is None else classify(symptom, redactor)


def configure_triage(config, state) -> Triage | None:
    """``pytest_configure``: classify the symptom, remember it, and put it at the top of the reports.

    *state* is the run's ``RunState`` (its settings, redactor and ``notes``).
    """
    triage = triage_from_config(config, state.redactor, state.settings)
    if triage is not None:
        config.stash[_stash_key()] = triage
        state.notes["symptom"] = triage.as_note()
    return triage


def get_triage(config) -> Triage | None:
    return config.stash.get(_stash_key(), None)


def apply_triage(config, items: list, note: dict | None = None, step_id_of=None) -> None:
    """``pytest_collection_modifyitems`` (after branch markers are set): the chosen branches run first.

    The other branches' items move behind them and are *deferred* (:func:`deferred_verdict`): each runs
    unless the root cause found so far ranks before anything it could find, because triage reads only
    the words and about one real paste in three points elsewhere.  The root cause is then the one a full
    run names.  What was deferred goes in the symptom's *note* (``others``: the branches, how many steps,
    counted by *step_id_of*, and which of them ran).
    """
    step_id_of = step_id_of or (lambda item: item.nodeid)
    kept, deferred = select_items(items, get_triage(config), step_id_of)
    if not deferred:
        return
    key = _deferred_key()
    for item in deferred:
        item.stash[key] = True
    items[:] = kept + deferred
    if note is not None:
        note["others"] = {**_deferred_summary(deferred, step_id_of), "ran": []}


def _deferred_key():
    _stash_key()
    return _DEFERRED


def is_deferred(item) -> bool:
    """Whether *item* belongs to a branch triage did not choose (it runs only if it can still change the root cause)."""
    return item.stash.get(_deferred_key(), False)


#: Findings that say their cause lies in another branch: a policy step whose own CONNECT never got through
#: ("not a policy refusal: fix the way to the proxy first").  They settle nothing, so the steps that own
#: the cause still run and are named.
POINTS_ELSEWHERE = frozenset({"no_path"})


def deferred_verdict(note: dict | None, results, step_id: str) -> str | None:
    """Before a deferred step runs: the skip reason when the root cause found so far ranks before anything
    *step_id* could find (it cannot change the root cause), else None (and the note records that it ran)."""
    from pytest_proxydiag.core import flowchart
    from pytest_proxydiag.core.results import root_cause

    settled = root_cause(r for r in results if r.finding_key not in POINTS_ELSEWHERE)
    if settled is not None and \
            flowchart.order_key(settled.step_id, settled.finding_key)[0] < flowchart.earliest_rank(step_id):
        return words.SYMPTOM_ANSWERED.format(chosen=", ".join((note or {}).get("branches") or ()),
                                             step=settled.step_id)
    others = (note or {}).get("others")
    if others is not None and step_id not in others["ran"]:
        others["ran"].append(step_id)
    return None


def _deferred_summary(dropped: list, step_id_of) -> dict:
    """The branches of the deferred items, in the flowchart's order, and how many steps they hold."""
    from pytest_proxydiag.core import flowchart

    branches = {_branch_of_item(item) for item in dropped}
    return {"branches": [b for b in flowchart.BRANCHES if b in branches],
            "steps": len({step_id_of(item) for item in dropped})}


def report_header_lines(config) -> list[str]:
    """``pytest_report_header``: the symptom and the chosen branches, first thing the user sees."""
    triage = get_triage(config)
    return [] if triage is None else triage.header_lines()


def _branch_of_item(item) -> str | None:
    # Every flowchart branch (the gateway's too), not only those triage can choose from.
    from pytest_proxydiag.core import flowchart

    for branch in flowchart.BRANCHES:
        if item.get_closest_marker(branch) is not None:
            return branch
    return None


def select_items(items: list, triage: Triage | None, step_id_of=None) -> tuple[list, list]:
    """Split *items* into (first, deferred) by the triage's branches.

    Items without a branch marker (site steps in their own branch, the user's other tests) and the
    steps that own a failed CONNECT (:data:`~pytest_proxydiag.core.step.PATH_GATES`, told by
    *step_id_of*: whatever the error, every other step needs the tunnel they judge) come first; an
    ambiguous triage keeps everything first.
    """
    if triage is None or triage.ambiguous:
        return list(items), []
    from pytest_proxydiag.core.step import PATH_GATES

    chosen = set(triage.branches)
    kept, dropped = [], []
    for item in items:
        branch = _branch_of_item(item)
        first = branch is None or branch in chosen or (step_id_of is not None and step_id_of(item) in PATH_GATES)
        (kept if first else dropped).append(item)
    return kept, dropped

