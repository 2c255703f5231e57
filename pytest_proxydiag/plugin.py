"""The pytest plugin: options, collection of the bundled steps, fixtures, outcomes.

Dormant without ``--proxydiag``: it registers its options and markers (so
``--strict-markers`` and ``-m certificate`` keep working) and does nothing
else — no collection, no state, no network.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import fnmatch
import functools
import importlib.util
from pathlib import Path

import pytest

from typing import TYPE_CHECKING


def _rewrite_only_the_bundled_tests() -> None:
    """Keep pytest's assertion rewriting to the bundled step tests.

    pytest marks every module of a plugin's distribution for rewriting, so an installed
    pytest-proxydiag would have its whole package compiled by the rewrite hook, and recompiled on
    every run where bytecode is not written (``PYTHONDONTWRITEBYTECODE=1``, a read-only
    site-packages).  A ``PYTEST_DONT_REWRITE`` docstring only drops the assert rewriting, not the
    hook.  Only ``diag_tests`` has asserts worth rewriting; the rest imports like any library.
    The hook has no public API for this: its private set is changed only when it is there.
    """
    import sys

    for finder in sys.meta_path:
        marked = getattr(finder, "_must_rewrite", None)
        if type(finder).__name__ != "AssertionRewritingHook" or not isinstance(marked, set):
            continue
        if __package__ in marked:
            marked.discard(__package__)
            marked.add(f"{__package__}.diag_tests")
            cache = getattr(finder, "_marked_for_rewrite_cache", None)
            if isinstance(cache, dict):
                for name in [n for n in cache if n == __package__ or n.startswith(f"{__package__}.")]:
                    del cache[name]


_rewrite_only_the_bundled_tests()

from pytest_proxydiag.core import flowchart  # noqa: E402 - after the rewrite hook is told what to leave alone
from pytest_proxydiag.core.config import addoptions  # noqa: E402
from pytest_proxydiag.core.state import STATE_KEY, build_state, get_state  # noqa: E402

if TYPE_CHECKING:  # pragma: no cover - the heavy modules load only when the diagnosis runs
    from pytest_proxydiag.core.config import Settings
    from pytest_proxydiag.net.probes import Probes
    from pytest_proxydiag.core.results import StepResult
    from pytest_proxydiag.core.state import RunState
    from pytest_proxydiag.core.step import StepContext

CTX_KEY = pytest.StashKey["StepContext"]()
PLAIN_STEP_KEY = pytest.StashKey[str]()
XDIST_IGNORED = pytest.StashKey[int]()
STEP_MARKER = "proxydiag_step"
SITE_ENTRY_POINT = "proxydiag.site_tests"


@functools.lru_cache(maxsize=None)
def bundled_dir() -> Path:
    """Where the bundled diagnostic tests live (inside the installed package); looked up once."""
    spec = importlib.util.find_spec("pytest_proxydiag.diag_tests")
    if spec is None or not spec.submodule_search_locations:  # pragma: no cover - broken install
        raise RuntimeError("pytest-proxydiag is installed without its diag_tests package; reinstall it")
    return Path(list(spec.submodule_search_locations)[0]).resolve()


@functools.lru_cache(maxsize=None)
def _is_bundled(path: Path) -> bool:
    """Asked for every item at collection and for every report phase: resolved once per path."""
    try:
        path.resolve().relative_to(bundled_dir())
        return True
    except ValueError:
        return False


# -- configuration -------------------------------------------------------------
def pytest_addoption(parser) -> None:
    addoptions(parser)


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config):
    """Run the diagnosis in one process even when ``-n`` is given.

    The steps share one cached probe layer and are judged in dependency order
    (a CONNECT probed once serves every step; a silent proxy costs one
    timeout).  Spread over xdist workers, each worker would probe again and
    see only part of the results, so ``-n`` is set aside, and the report says
    so: the diagnosis and the JSON are the serial ones.
    """
    if _wants_diagnosis(config) and getattr(config.option, "numprocesses", None):
        config.stash[XDIST_IGNORED] = config.option.numprocesses
        config.option.numprocesses = 0
        config.option.dist = "no"
        config.option.tx = []
        if hasattr(config.option, "distload"):
            config.option.distload = False
    if _wants_diagnosis(config):
        # Here, not in pytest_configure, so the SDK runs start loading before the other plugins configure.
        _set_up_state(config)
    return None


def _set_up_state(config) -> RunState:
    """The run's state (options resolved: a bad value is pytest's usage error, exit 4), once; the SDK runs
    start loading (:func:`~pytest_proxydiag.proof.early.warm_up`) when this session will run steps."""
    state = config.stash.get(STATE_KEY, None)
    if state is not None:
        return state
    state = build_state(config, active=True)
    # Secrets of the files the steps and clients read (.netrc, Claude Code settings, LiteLLM config).
    state.redactor.add_local_secrets(state.settings.env, litellm_config=state.settings["litellm_config"])
    config.stash[STATE_KEY] = state
    if not hasattr(config, "workerinput") and not _runs_no_step(config) and _may_select(config, "application"):
        from pytest_proxydiag.proof import early

        # They load their SDK beside pytest's own start-up and collection, and send nothing until their
        # step's checks pass.
        config.add_cleanup(early.warm_up(state))
    return state


def pytest_configure(config) -> None:
    """Markers; with ``--proxydiag``, the run's state (made in ``pytest_cmdline_main`` already, except in an
    xdist worker) and reporter."""
    for branch, description in flowchart.BRANCHES.items():
        config.addinivalue_line("markers", f"{branch}: proxydiag branch: {description}")
    config.addinivalue_line("markers", "site: proxydiag site steps (step ids starting with 'site.')")
    config.addinivalue_line(
        "markers", f"{STEP_MARKER}(step_id, title=None, solution=None, finding=None): the flowchart (or site) "
                   "step this test implements; its failure renders the step's solution")
    if not _wants_diagnosis(config):
        return
    state = _set_up_state(config)
    from pytest_proxydiag.triage import configure_triage

    configure_triage(config, state)
    state.output_fallback = lambda: _default_output_dir(config)
    if config.stash.get(XDIST_IGNORED, None):
        state.notes["xdist"] = {"headline": f"-n {config.stash[XDIST_IGNORED]} ignored: the diagnosis runs its "
                                            "steps in order in one process (shared probes, one timeout per "
                                            "dead proxy)"}
    if hasattr(config, "workerinput"):
        # xdist workers collect what the controller passes them.
        return
    extra = [str(bundled_dir())] + site_pack_dirs()
    if config.args_source == pytest.Config.ArgsSource.ARGS:
        config.args = list(config.args) + extra
    else:
        config.args = extra
    from pytest_proxydiag.reports.reporters import Reporter

    config.pluginmanager.register(Reporter(config, state), "proxydiag-reporter")


def _default_output_dir(config) -> Path:
    """Where side files (an extracted CA) go when no path was named for them: next to the HTML
    report if one was asked for, else pytest's own temporary directory (issue #9: no write elsewhere)."""
    html = config.getoption("htmlpath", None)
    if html:
        return Path(html).expanduser().resolve().parent
    factory = getattr(config, "_tmp_path_factory", None)
    if factory is not None:
        return factory.getbasetemp()
    return Path.cwd()


def _wants_diagnosis(config) -> bool:
    """``--proxydiag``, or a symptom to triage (which implies it)."""
    return bool(config.getoption("proxydiag", False) or config.getoption("proxydiag_symptom", None)
                or config.getoption("proxydiag_symptom_file", None))


def pytest_report_header(config):
    if _active(config):
        from pytest_proxydiag.triage import report_header_lines

        return report_header_lines(config)
    return None


def site_pack_dirs() -> list[str]:
    """Test directories that installed site packs expose (entry point ``proxydiag.site_tests``)."""
    from importlib.metadata import entry_points

    dirs: list[str] = []
    for ep in entry_points(group=SITE_ENTRY_POINT):
        try:
            obj = ep.load()
            path = obj() if callable(obj) else obj
            if hasattr(path, "__path__"):
                path = list(path.__path__)[0]
            dirs.append(str(Path(path).resolve()))
        except Exception as exc:  # a broken site pack must not stop the diagnosis
            import warnings

            warnings.warn(f"proxydiag: site pack {ep.name!r} could not be loaded: {exc}")
    return dirs


# -- collection ----------------------------------------------------------------
class BundledModule(pytest.Module):
    """A bundled step module: collected with the default names whatever the user's ini says."""

    def funcnamefilter(self, name: str) -> bool:  # noqa: D401
        return name.startswith("test")

    def classnamefilter(self, name: str) -> bool:
        return name.startswith("Test")


def _may_select(config, branch: str) -> bool:
    """Whether ``-m`` can select the steps of *branch* (marked with it and ``proxydiag_step``); True when
    unsure.  Known before collection: ``-m connectivity`` starts no SDK run at all.  (``-k`` and a symptom's
    triage are known only once collection is over; what they leave out is killed then, unused.)"""
    expr = getattr(config.option, "markexpr", "") or ""
    if not expr:
        return True
    try:
        from _pytest.mark.expression import Expression  # pytest's own -m grammar (7.4 to 9.x)

        return bool(Expression.compile(expr).evaluate(lambda name, **_kw: name in (branch, STEP_MARKER)))
    except Exception:  # noqa: BLE001 - a private API: when in doubt, start the run
        return True


def _runs_no_step(config) -> bool:
    """``--co``, ``--setup-only``, ``--setup-plan``, ``--fixtures``, ``--markers`` or ``--help``: no step runs,
    so no client is started."""
    return any(getattr(config.option, o, False) for o in ("collectonly", "setuponly", "setupplan", "showfixtures",
                                                          "show_fixtures_per_test", "markers", "help", "version"))


def _active(config) -> bool:
    state = config.stash.get(STATE_KEY, None)
    return bool(state and state.active)


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makemodule(module_path: Path, parent):
    if _active(parent.config) and _is_bundled(module_path):
        return BundledModule.from_parent(parent, path=module_path)
    return None


def pytest_collect_file(file_path: Path, parent):
    if not _active(parent.config) or file_path.suffix != ".py" or not file_path.name.startswith("test_"):
        return None
    if not _is_bundled(file_path):
        return None
    patterns = parent.config.getini("python_files")
    if any(fnmatch.fnmatch(file_path.name, p) for p in patterns):
        return None  # pytest's python plugin collects it, through pytest_pycollect_makemodule
    return BundledModule.from_parent(parent, path=file_path)


def pytest_generate_tests(metafunc) -> None:
    if "proxydiag_target" in metafunc.fixturenames:
        targets = get_state(metafunc.config).settings.targets
        metafunc.parametrize("proxydiag_target", targets, ids=[t.id for t in targets])


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session, config, items) -> None:
    active = _active(config)
    steps, others = [], []
    bundled_places: dict[str, str] = {}
    if active:
        for item in items:
            marker = item.get_closest_marker(STEP_MARKER)
            if marker is not None and _is_bundled(item.path):
                bundled_places.setdefault(_marker_step_id(marker), _place(item))
    for item in items:
        marker = item.get_closest_marker(STEP_MARKER)
        if marker is None:
            if active and not _is_bundled(item.path):
                # A plain test collected alongside --proxydiag is a site step too (issue 16).
                _register_plain_site_test(item)
                steps.append(item)
            else:
                others.append(item)
            continue
        step_id = _marker_step_id(marker)
        if active and not _is_bundled(item.path):
            _register_site_step(item, marker, step_id, bundled_places)
        branch = flowchart.branch_of(step_id)
        if (branch in flowchart.BRANCHES or branch == "site") and item.get_closest_marker(branch) is None:
            item.add_marker(getattr(pytest.mark, branch))
        steps.append(item)
    if active:
        state = get_state(config)
        for item in steps:
            if item.get_closest_marker("timeout") is None:
                # A safety net only: every probe is bounded by the network timeout first.
                item.add_marker(pytest.mark.timeout(max(30.0, state.settings.timeout * 12),
                                                    method=timeout_method()))
        steps.sort(key=lambda it: flowchart.order_key(_step_id(it)))
    items[:] = steps + others
    if active:
        from pytest_proxydiag.triage import apply_triage

        apply_triage(config, items, get_state(config).notes.get("symptom"), _step_id)


def pytest_collection_finish(session) -> None:
    """The steps this session runs (after -m, -k and triage deselected the others): a blocker must be one.
    Their slowest client runs start now, in the background (not when no test runs: ``--co``), and end with
    the session."""
    if _active(session.config):
        state = get_state(session.config)
        from pytest_proxydiag.triage import is_deferred

        # Steps of the branches triage did not choose run after the chosen ones, where they can still change
        # the root cause (triage.deferred_verdict): until then the chosen steps judge as under -m, and no
        # client run starts early for the others.
        chosen = [item for item in session.items if not is_deferred(item)]
        state.selected = frozenset(filter(None, map(_step_id, chosen)))
        targets: dict[str, set] = {}
        for item in chosen:
            target = getattr(getattr(item, "callspec", None), "params", {}).get("proxydiag_target")
            targets.setdefault(_step_id(item), set()).add(getattr(target, "url", None))
        state.selected_targets = {k: frozenset(v) for k, v in targets.items() if k}
        if not _runs_no_step(session.config):
            from pytest_proxydiag.proof import early

            session.config.add_cleanup(early.start_early(state, state.selected_targets))


def _marker_step_id(marker) -> str:
    return marker.args[0] if marker.args else marker.kwargs.get("step_id")


def _place(item) -> str:
    """``file::test`` of an item, as a person looks it up (bundled steps: inside the package)."""
    path = Path(str(item.path))
    where, _, names = item.nodeid.split("[", 1)[0].partition("::")
    if _is_bundled(path):
        where = f"diag_tests/{path.name}"
    return f"{where}::{names}"


def _register_site_step(item, marker, step_id: str, bundled_places: dict[str, str]) -> None:
    """A site step's catalog entry from its marker; a bundled id or a missing title is a usage error."""
    from pytest_proxydiag import catalog

    site_text = catalog.site

    if step_id in flowchart.STEP_IDS:
        bundled = bundled_places.get(step_id) or f"{step_id} (bundled with pytest-proxydiag)"
        raise pytest.UsageError(site_text.DUPLICATE_STEP_ID.format(
            site=_place(item), step_id=step_id, bundled=bundled, name=step_id.rpartition(".")[2]))
    if "title" in marker.kwargs:
        catalog.register(step_id, title=marker.kwargs["title"], solution=marker.kwargs.get("solution", ""),
                         question=marker.kwargs.get("question", ""),
                         finding=marker.kwargs.get("finding", "{detail}"))
    elif step_id not in catalog.CATALOG:
        raise pytest.UsageError(site_text.NOT_A_STEP.format(site=item.nodeid, step_id=step_id))


def plain_step_id(item) -> str:
    """``site.<module>.<test>`` (``site.<module>.<Class>.<test>`` in a class) of a plain site test."""
    module = Path(str(item.path)).stem
    parts = [p for p in item.nodeid.split("::")[1:]]
    if parts:
        parts[-1] = getattr(item, "originalname", None) or parts[-1].split("[", 1)[0]
    name = ".".join([module, *parts])
    return "site." + "".join(c if c.isalnum() or c in "._-" else "_" for c in name)


def _register_plain_site_test(item) -> None:
    from pytest_proxydiag import catalog

    site_text = catalog.site

    step_id = plain_step_id(item)
    item.stash[PLAIN_STEP_KEY] = step_id
    doc = (getattr(getattr(item, "obj", None), "__doc__", None) or "").strip()
    title = doc.splitlines()[0].strip() if doc else item.name.split("[", 1)[0]
    place = _place(item)
    solution = site_text.PLAIN_TEST_SOLUTION.format(place=place, file=place.split("::", 1)[0])
    catalog.register(step_id, title=title, solution=solution.replace("{", "{{").replace("}", "}}"))
    if item.get_closest_marker("site") is None:
        item.add_marker(pytest.mark.site)


def timeout_method() -> str:
    """pytest-timeout's method for the steps: ``signal`` fails one step and the run goes on (the
    reports are written); where there is no SIGALRM (Windows) only ``thread`` exists."""
    import signal

    return "signal" if hasattr(signal, "SIGALRM") else "thread"


def _step_id(item) -> str | None:
    """The step an item implements: its marker's id, or the id of a plain site test (else None)."""
    marker = item.get_closest_marker(STEP_MARKER)
    if marker is not None:
        return _marker_step_id(marker)
    return item.stash.get(PLAIN_STEP_KEY, None)


# -- fixtures ------------------------------------------------------------------
@pytest.fixture(scope="session")
def proxydiag_config(request) -> Settings:
    """The resolved configuration: proxy, targets, gateway, options, each with its source."""
    return get_state(request.config).settings


@pytest.fixture(scope="session")
def proxydiag_probes(request) -> Probes:
    """The shared, cached, time-bounded probe layer (TCP, CONNECT, TLS chain, HTTP with timings)."""
    return get_state(request.config).probes


@pytest.fixture(scope="session")
def proxydiag_redact(request):
    """The redaction function every output goes through."""
    return get_state(request.config).redactor.redact


@pytest.fixture
def proxydiag_step(request) -> StepContext:
    """The step this test implements (from its ``proxydiag_step`` marker): evidence, fail, skip."""
    marker = request.node.get_closest_marker(STEP_MARKER)
    if marker is None:
        raise pytest.UsageError(f"{request.node.nodeid} uses proxydiag_step but has no "
                                f"@pytest.mark.{STEP_MARKER}(...) marker")
    from pytest_proxydiag.core.step import StepContext

    target = request.getfixturevalue("proxydiag_target") if "proxydiag_target" in request.fixturenames else None
    ctx = StepContext(get_state(request.config), _step_id(request.node), request.node.nodeid, target)
    request.node.stash[CTX_KEY] = ctx
    return ctx


# -- running and outcomes ---------------------------------------------------------
def pytest_runtest_setup(item) -> None:
    if _step_id(item) is None or not _active(item.config):
        return
    state = get_state(item.config)
    if state.deadline_passed:
        pytest.skip(f"not reached within the deadline ({state.settings['deadline']:g}s, --proxydiag-deadline)")
    from pytest_proxydiag.triage import deferred_verdict, is_deferred

    if is_deferred(item):
        answered = deferred_verdict(state.notes.get("symptom"), state.results, _step_id(item))
        if answered is not None:
            pytest.skip(answered)
        # It may still change the root cause: from here every step of the session is a selected one (once).
        if not state.selected_widened:
            state.selected = frozenset(filter(None, map(_step_id, item.session.items)))
            state.selected_widened = True


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    step_id = _step_id(item)
    if step_id is None:
        if _active(item.config):
            # A test outside the diagnosis still runs with the user's secrets in reach.
            _redact_report(report, get_state(item.config))
        return report
    from pytest_proxydiag.core import outcomes

    state = get_state(item.config)
    _redact_report(report, state)
    site = not _is_bundled(item.path)
    if report.when == "teardown":
        if report.failed:
            result = outcomes.teardown_error(state, item, call, report, step_id=step_id, site=site,
                                             place=_place(item))
            _set_outcome_property(item, result.outcome)
        return report
    if report.when == "setup" and report.passed:
        return report
    result = outcomes.step_result(step_id=step_id, item=item, call=call, report=report, state=state,
                                  ctx=item.stash.get(CTX_KEY, None), site=site, place=_place(item))
    if result.outcome == "failed" and result.fix:
        _prove(item.config, state, result)
    state.results.append(result)
    props = [("step_id", result.step_id), ("branch", result.branch), ("outcome", result.outcome)]
    if result.finding:
        props.append(("finding", result.finding))
    report.user_properties = list(report.user_properties) + props
    # junitxml writes the properties of the teardown report, which copies the item's.
    item.user_properties.extend(props)
    from pytest_proxydiag.reports.reporters import attach_html_extras

    attach_html_extras(item.config, report, result)
    return report


def _prove(config, state: RunState, result: StepResult) -> None:
    """Proven fixes (issue 11): try the fix with the real clients before it is shown.  A crash while
    proving is a bug of this tool: the finding stands, the fix is unproven, the traceback is kept."""
    from pytest_proxydiag.core import outcomes
    from pytest_proxydiag.proof import fixes

    try:
        fixes.prove(config, state, result)
    except Exception as exc:  # noqa: BLE001 - reported in the result, never an INTERNALERROR
        import traceback

        outcomes.fix_proof_crashed(result, exc, traceback.format_exc(), state.redactor.redact)


def _set_outcome_property(item, outcome: str) -> None:
    item.user_properties[:] = [(k, outcome if k == "outcome" else v) for k, v in item.user_properties]


def _redact_report(report, state: RunState) -> None:
    from pytest_proxydiag.reports.redaction import redact_report

    # In place, keeping the traceback's structure (colours, the short summary's reason line).
    redact_report(report, state.redactor)


@pytest.hookimpl(wrapper=True)
def pytest_sessionfinish(session, exitstatus):
    """Before any report is written: settle chains of blocks (each names the step that failed), prove again,
    together, the fixes that failed only because another problem remained; then write ``--proxydiag-fix-script`` (the verified fixes, ready to source)."""
    if _active(session.config):
        from pytest_proxydiag.proof import fixes
        from pytest_proxydiag.proof import fixscript

        from pytest_proxydiag.core.results import settle_blockers

        state = get_state(session.config)
        settle_blockers(state.results)
        fixes.prove_together(state)
        path = state.settings["fix_script"]
        if path:
            fixscript.write_safely(path, state)
    return (yield)
