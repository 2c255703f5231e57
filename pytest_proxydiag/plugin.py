"""The pytest plugin: options, collection of the bundled steps, fixtures, outcomes.

Dormant without ``--proxydiag``: it registers its options and markers (so
``--strict-markers`` and ``-m certificate`` keep working) and does nothing
else — no collection, no state, no network.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import fnmatch
import importlib.util
from pathlib import Path
from typing import Any

import pytest

from typing import TYPE_CHECKING

from pytest_proxydiag.core import flowchart
from pytest_proxydiag.core.config import addoptions
from pytest_proxydiag.core.state import STATE_KEY, build_state, get_state

if TYPE_CHECKING:  # pragma: no cover - the heavy modules load only when the diagnosis runs
    from pytest_proxydiag.core.config import Settings
    from pytest_proxydiag.net.probes import Probes
    from pytest_proxydiag.core.results import StepResult
    from pytest_proxydiag.core.state import RunState
    from pytest_proxydiag.core.step import StepContext

CTX_KEY = pytest.StashKey["StepContext"]()
XDIST_IGNORED = pytest.StashKey[int]()
STEP_MARKER = "proxydiag_step"
SITE_ENTRY_POINT = "proxydiag.site_tests"


def bundled_dir() -> Path:
    """Where the bundled diagnostic tests live (inside the installed package)."""
    spec = importlib.util.find_spec("pytest_proxydiag.diag_tests")
    if spec is None or not spec.submodule_search_locations:  # pragma: no cover - broken install
        raise RuntimeError("pytest-proxydiag is installed without its diag_tests package; reinstall it")
    return Path(list(spec.submodule_search_locations)[0]).resolve()


def _is_bundled(path: Path) -> bool:
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
    return None


def pytest_configure(config) -> None:
    for branch, description in flowchart.BRANCHES.items():
        config.addinivalue_line("markers", f"{branch}: proxydiag branch: {description}")
    config.addinivalue_line("markers", "site: proxydiag site steps (step ids starting with 'site.')")
    config.addinivalue_line(
        "markers", f"{STEP_MARKER}(step_id, title=None, solution=None, finding=None): the flowchart (or site) "
                   "step this test implements; its failure renders the step's solution")
    if not _wants_diagnosis(config):
        return
    state = build_state(config, active=True)
    # Secrets of the files the steps and clients read (.netrc, Claude Code settings, LiteLLM config).
    state.redactor.add_local_secrets(state.settings.env, litellm_config=state.settings["litellm_config"])
    config.stash[STATE_KEY] = state
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
    steps, others = [], []
    catalog = None
    for item in items:
        marker = item.get_closest_marker(STEP_MARKER)
        if marker is None:
            others.append(item)
            continue
        step_id = marker.args[0] if marker.args else marker.kwargs.get("step_id")
        if catalog is None:
            from pytest_proxydiag import catalog
        if step_id not in catalog.CATALOG:
            if "title" not in marker.kwargs:
                raise pytest.UsageError(f"{item.nodeid}: proxydiag_step({step_id!r}) is not a flowchart step; "
                                        "a site step needs title= (and solution=)")
            catalog.register(step_id, title=marker.kwargs["title"], solution=marker.kwargs.get("solution", ""),
                             question=marker.kwargs.get("question", ""),
                             finding=marker.kwargs.get("finding", "{detail}"))
        branch = flowchart.branch_of(step_id)
        if (branch in flowchart.BRANCHES or branch == "site") and item.get_closest_marker(branch) is None:
            item.add_marker(getattr(pytest.mark, branch))
        if item.get_closest_marker("timeout") is None and _active(config):
            state = get_state(config)
            # A safety net only: every probe is bounded by the network timeout first.
            item.add_marker(pytest.mark.timeout(max(30.0, state.settings.timeout * 12), method=timeout_method()))
        steps.append(item)
    if _active(config):
        steps.sort(key=lambda it: flowchart.order_key(_step_id(it)))
    items[:] = steps + others
    if _active(config):
        from pytest_proxydiag.triage import apply_triage

        apply_triage(config, items)


def timeout_method() -> str:
    """pytest-timeout's method for the steps: ``signal`` fails one step and the run goes on (the
    reports are written); where there is no SIGALRM (Windows) only ``thread`` exists."""
    import signal

    return "signal" if hasattr(signal, "SIGALRM") else "thread"


def _step_id(item) -> str:
    marker = item.get_closest_marker(STEP_MARKER)
    return marker.args[0] if marker.args else marker.kwargs.get("step_id")


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
    if item.get_closest_marker(STEP_MARKER) is None or not _active(item.config):
        return
    state = get_state(item.config)
    if state.deadline_passed:
        pytest.skip(f"not reached within the deadline ({state.settings['deadline']:g}s, --proxydiag-deadline)")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    marker = item.get_closest_marker(STEP_MARKER)
    if marker is None:
        if _active(item.config):
            # A site test without a step marker still runs with the user's secrets in reach.
            _redact_report(report, get_state(item.config))
        return report
    state = get_state(item.config)
    _redact_report(report, state)
    record = (report.when == "call") or (report.when == "setup" and not report.passed)
    if not record:
        return report
    result = _step_result(item, call, report, state)
    if result.outcome == "failed" and result.fix:
        from pytest_proxydiag.proof import fixes

        # Proven fixes (issue 11): try the fix with the real clients before it is shown.
        fixes.prove(item.config, state, result)
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


def _redact_report(report, state: RunState) -> None:
    from pytest_proxydiag.reports.redaction import redact_report

    # In place, keeping the traceback's structure (colours, the short summary's reason line).
    redact_report(report, state.redactor)


def _step_result(item, call, report, state: RunState) -> StepResult:
    from pytest_proxydiag import catalog
    from pytest_proxydiag.core.config import Target
    from pytest_proxydiag.core.results import StepResult
    from pytest_proxydiag.core.step import Finding

    step_id = _step_id(item)
    entry = catalog.entry(step_id)
    ctx: StepContext | None = item.stash.get(CTX_KEY, None)
    params: dict[str, Any] = {}
    callspec = getattr(item, "callspec", None)
    if callspec is not None:
        for k, v in callspec.params.items():
            params[k.replace("proxydiag_", "")] = v.url if isinstance(v, Target) else _jsonable(v)
    result = StepResult(step_id=step_id, branch=entry.branch, number=entry.number, title=entry.title,
                        outcome="passed", nodeid=item.nodeid, params=params,
                        duration_s=getattr(report, "duration", 0.0),
                        site=not _is_bundled(Path(str(item.fspath))))
    if ctx is not None:
        result.evidence = dict(ctx.evidence)
        result.summary = ctx.summary
        result.fix = ctx.fix
    red = state.redactor.redact
    if report.passed:
        result.outcome = "passed"
    elif report.skipped:
        result.outcome = "skipped"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        reason = reason.removeprefix("Skipped: ")
        result.skip_reason = red(reason)
        if ctx is not None and ctx.blocked_by:
            result.blocked_by = ctx.blocked_by
    else:
        excinfo = call.excinfo
        if ctx is not None and ctx.rendered is not None and excinfo is not None and excinfo.errisinstance(Finding):
            r = ctx.rendered
            result.outcome = "failed"
            result.finding, result.finding_key = r.text, r.key
            result.solution, result.solution_platform = r.solution, r.solution_platform
            result.other_solutions = dict(r.other_solutions)
        elif excinfo is not None and excinfo.errisinstance((AssertionError, pytest.fail.Exception)) \
                and report.when == "call":
            # A site test's plain assert: the message is the finding, the catalog gives the solution.
            message = red(str(excinfo.value) or "assertion failed")
            r = catalog.render(step_id, "default", ctx.values(detail=message) if ctx else {"detail": message},
                               redact=red)
            result.outcome = "failed"
            result.finding, result.finding_key = message, "assertion"
            result.solution, result.solution_platform = r.solution, r.solution_platform
            result.other_solutions = dict(r.other_solutions)
        else:
            result.outcome = "error"
            if excinfo is not None:
                result.finding = red(f"{excinfo.typename}: {excinfo.value}")[:2000]
            else:
                result.finding = red(str(report.longrepr))[-2000:]
            result.solution = ("The diagnosis itself failed at this step. Please report it with the JSON "
                               "report attached: it is a bug in pytest-proxydiag, not in your setup.")
    return result


def _jsonable(v: Any) -> Any:
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    return str(v)


@pytest.hookimpl(wrapper=True)
def pytest_sessionfinish(session, exitstatus):
    """Before any report is written: prove again, together, the fixes that failed only because another
    problem remained; then write ``--proxydiag-fix-script`` (the verified fixes, ready to source)."""
    if _active(session.config):
        from pytest_proxydiag.proof import fixes
        from pytest_proxydiag.proof import fixscript

        state = get_state(session.config)
        fixes.prove_together(state)
        path = state.settings["fix_script"]
        if path:
            fixscript.write_safely(path, state)
    return (yield)
