"""The plugin's wiring: dormancy, markers, collection of the bundled steps, configuration sources."""

from __future__ import annotations

import json

import pytest

from pytest_proxydiag import catalog

from pytest_proxydiag.core import flowchart

ALL_STEP_IDS = set(flowchart.STEP_IDS)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch, tmp_path):
    from conftest import CONFIG_VARS

    for name in CONFIG_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))


def test_dormant_without_the_flag_collects_only_the_users_tests(pytester):
    pytester.makepyfile(test_one="def test_a(): pass\ndef test_b(): pass")
    result = pytester.runpytest_inprocess("--collect-only", "-q", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["test_one.py::test_a", "test_one.py::test_b", "2 tests collected*"])
    assert "proxy diagnosis" not in result.stdout.str()


def test_branch_markers_are_registered_even_when_dormant(pytester):
    pytester.makepyfile(test_m="import pytest\n@pytest.mark.certificate\ndef test_a(): pass")
    result = pytester.runpytest_inprocess("--strict-markers", "-m", "certificate", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result = pytester.runpytest_inprocess("--markers", "-p", "no:cacheprovider")
    for branch in flowchart.BRANCHES:
        result.stdout.fnmatch_lines([f"@pytest.mark.{branch}: proxydiag branch*"])


def test_proxydiag_collects_every_bundled_step_from_any_directory(pytester):
    result = pytester.runpytest_inprocess("--proxydiag", "--collect-only", "-q", "-p", "no:cacheprovider")
    out = result.stdout.str()
    assert "test_auth.py::test_credentials" in out and "test_connectivity.py::test_proxy_reachable" in out
    assert (pytester.path / ".pytest_cache").exists() is False  # cacheprovider disabled; nothing else written


def test_user_python_files_setting_does_not_hide_bundled_steps(pytester):
    pytester.makeini("[pytest]\npython_files = check_*.py\npython_functions = check_*\n")
    result = pytester.runpytest_inprocess("--proxydiag", "--collect-only", "-q", "-p", "no:cacheprovider",
                                          "-m", "auth")
    assert "test_auth.py::test_credentials" in result.stdout.str()


def test_path_arguments_add_site_tests_to_the_bundled_ones(pytester):
    pytester.makepyfile(test_site="""
        import pytest
        @pytest.mark.proxydiag_step("site.vpn", title="VPN connected", solution="Connect the VPN: {detail}")
        def test_vpn(proxydiag_step):
            proxydiag_step.fail("default", detail="vpn0 is down")
    """)
    json_path = pytester.path / "r.json"
    result = pytester.runpytest_inprocess("--proxydiag", "test_site.py", "-p", "no:cacheprovider",
                                          "--proxydiag-json", str(json_path))
    doc = json.loads(json_path.read_text())
    site = [s for s in doc["steps"] if s["id"] == "site.vpn"][0]
    assert site["outcome"] == "failed" and site["finding"] == "vpn0 is down"
    assert site["solution"] == "Connect the VPN: vpn0 is down" and site["site"] is True
    assert {s["id"] for s in doc["steps"]} >= {"connectivity.proxy_reachable", "auth.credentials"}
    assert "Connect the VPN: vpn0 is down" in result.stdout.str()


def test_marker_selection_runs_one_branch(pytester):
    json_path = pytester.path / "r.json"
    pytester.runpytest_inprocess("--proxydiag", "-m", "auth", "-p", "no:cacheprovider", "--strict-markers",
                                 "--proxydiag-json", str(json_path))
    doc = json.loads(json_path.read_text())
    assert {s["branch"] for s in doc["steps"]} == {"auth"}


def test_no_proxy_configured_skips_with_reason_and_fails_nothing(pytester):
    json_path = pytester.path / "r.json"
    result = pytester.runpytest_inprocess("--proxydiag", "-m", "auth or connectivity", "-p", "no:cacheprovider",
                                          "--proxydiag-json", str(json_path))
    doc = json.loads(json_path.read_text())
    assert doc["root_cause"] is None
    reachable = [s for s in doc["steps"] if s["id"] == "connectivity.proxy_reachable"][0]
    assert reachable["outcome"] == "skipped" and "no proxy is configured" in reachable["skip_reason"]
    assert result.ret == 0


@pytest.mark.parametrize("value,expected", [
    ("http://:3128", "has no host"),
    ("http://proxy.invalid:99999", "outside 1-65535"),
    ("gopher://proxy:70", "unknown scheme 'gopher'"),
])
def test_malformed_proxy_is_a_finding_not_a_traceback(pytester, monkeypatch, value, expected):
    monkeypatch.setenv("HTTPS_PROXY", value)
    json_path = pytester.path / "r.json"
    result = pytester.runpytest_inprocess("--proxydiag", "-m", "connectivity or auth", "-p", "no:cacheprovider",
                                          "--proxydiag-json", str(json_path))
    doc = json.loads(json_path.read_text())
    step = [s for s in doc["steps"] if s["id"] == "connectivity.proxy_reachable"][0]
    assert step["outcome"] == "failed" and expected in step["finding"]
    assert "env:HTTPS_PROXY" in step["finding"] and "http://HOST:PORT" in step["solution"]
    assert doc["root_cause"] == "connectivity.proxy_reachable"
    assert "Traceback" not in result.stdout.str()
    assert not [s for s in doc["steps"] if s["outcome"] == "error"]


def test_config_sources_are_reported(pytester, monkeypatch):
    monkeypatch.setenv("https_proxy", "http://u:topsecret@127.0.0.1:9")
    pytester.makeini("[pytest]\nproxydiag_timeout = 1.5\nproxydiag_target =\n    https://api.anthropic.com\n")
    json_path = pytester.path / "r.json"
    pytester.runpytest_inprocess("--proxydiag", "-m", "auth", "-p", "no:cacheprovider",
                                 "--proxydiag-json", str(json_path), "--proxydiag-deadline", "30")
    text = json_path.read_text()
    doc = json.loads(text)
    cfg = doc["config"]
    assert cfg["proxy"] == {"value": "http://u:***@127.0.0.1:9", "source": "env:https_proxy"}
    assert cfg["timeout"] == {"value": 1.5, "source": "ini"}
    assert cfg["deadline"] == {"value": 30.0, "source": "cli"}
    assert cfg["targets"] == [{"value": "https://api.anthropic.com", "source": "ini"}]
    assert "topsecret" not in text


def test_bad_option_value_stops_the_run_naming_its_source(pytester):
    ini = pytester.makeini("[pytest]\nproxydiag_timeout = soon\n")
    result = pytester.runpytest_inprocess("--proxydiag", "-m", "auth", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: invalid proxydiag_timeout value 'soon' from ini ({ini}): must be a "
                                 "positive number of seconds"])


def test_catalog_has_every_step_with_title_and_solution():
    assert set(catalog.CATALOG) >= ALL_STEP_IDS
    for step_id in ALL_STEP_IDS:
        e = catalog.entry(step_id)
        assert e.title and e.number >= 1 and e.findings, step_id
        for key, f in e.findings.items():
            assert f.get("solution", "default") in e.solutions, f"{step_id}.{key}"


def test_render_puts_this_platform_first_and_redacts_values():
    r = catalog.render("certificate.interception", "intercepted", {"detail": "x", "ca_path": "/tmp/ca.pem"},
                       platform_name="rhel")
    assert r.solution_platform == "rhel" and "update-ca-trust" in r.solution
    assert "update-ca-certificates" in r.other_solutions["debian"]
    r2 = catalog.render("auth.credentials", "rejected", {"proxy": "http://u:pw123@h:1"},
                        redact=lambda s: s.replace("pw123", "***"))
    assert "pw123" not in r2.text


def test_xdist_is_set_aside_and_the_diagnosis_runs_serially(pytester, monkeypatch):
    pytest.importorskip("xdist")
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    serial, parallel = pytester.path / "serial.json", pytester.path / "parallel.json"
    pytester.runpytest_inprocess("--proxydiag", "-m", "auth or connectivity", "-p", "no:cacheprovider",
                                 "--proxydiag-json", str(serial), "--proxydiag-port-candidates", "9")
    result = pytester.runpytest_subprocess("--proxydiag", "-n", "2", "-m", "auth or connectivity", "-p",
                                           "no:cacheprovider", "--proxydiag-json", str(parallel),
                                           "--proxydiag-port-candidates", "9")
    result.stdout.fnmatch_lines(["*-n 2 ignored: the diagnosis runs its steps in order in one process*"])
    a, b = json.loads(serial.read_text()), json.loads(parallel.read_text())
    assert [(s["id"], s["outcome"]) for s in a["steps"]] == [(s["id"], s["outcome"]) for s in b["steps"]]
    assert a["root_cause"] == b["root_cause"] == "connectivity.proxy_reachable"


def test_symptom_selects_branches_and_implies_proxydiag(pytester):
    json_path = pytester.path / "r.json"
    result = pytester.runpytest_inprocess("--proxydiag-symptom", "curl: (56) CONNECT tunnel failed, response 407",
                                          "-p", "no:cacheprovider", "--proxydiag-json", str(json_path))
    result.stdout.fnmatch_lines(["proxydiag branches: auth*"])
    doc = json.loads(json_path.read_text())
    # No proxy here: the auth steps find nothing, so the other branches run after them.
    assert "auth" in {s["branch"] for s in doc["steps"]}
    others = doc["notes"]["symptom"]["others"]
    assert len(others["ran"]) == others["steps"] and "auth" not in others["branches"]
    assert "407" in json.dumps(doc["notes"]["symptom"])


def test_a_branch_blocked_by_an_unselected_step_says_so(pytester, monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")   # nothing listens on the discard port
    result = pytester.runpytest_inprocess("--proxydiag", "-m", "auth", "-p", "no:cacheprovider")
    out = result.stdout.str()
    assert "No finding: every step that ran passed" not in out
    assert "blocked by connectivity.proxy_reachable, which this run did not select" in out
    assert 'pytest --proxydiag -m "connectivity"' in out


def test_no_proxy_anywhere_is_said_plainly_not_reported_healthy(pytester):
    result = pytester.runpytest_inprocess("--proxydiag", "-p", "no:cacheprovider", "-m", "auth or connectivity")
    out = result.stdout.str()
    assert "No proxy is configured here" in out and "--proxydiag-proxy http://HOST:PORT" in out
    assert "No finding: every step that ran passed" not in out


def test_pytest_9_prints_no_deprecation_warning(pytester):
    pytester.makeini("[pytest]\nproxydiag_no_direct = false\nproxydiag_timeout = 2\n")
    result = pytester.runpytest_inprocess("--proxydiag", "-m", "auth", "-p", "no:cacheprovider",
                                          "-W", "error::pytest.PytestDeprecationWarning")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    assert "warnings summary" not in result.stdout.str()
    assert "Deprecat" not in result.stdout.str() + result.stderr.str()


PORTABILITY_RUN = r'''
import json, os, signal, sys

# What Windows lacks: SIGALRM (pytest-timeout's signal method) and os.killpg.
del signal.SIGALRM
del os.killpg
sys.path.insert(0, sys.argv[1])
import conftest  # noqa: E402,F401 - the loopback guard of the project's tests, in this process too
import pytest  # noqa: E402
from pytest_proxydiag.lab import Lab  # noqa: E402

methods = []


class RecordTimeoutMethods:
    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items):
        methods.extend(sorted({m.kwargs.get("method") for it in items for m in it.iter_markers("timeout")}))


with Lab("healthy") as lab:
    os.environ.update(lab.env)
    code = pytest.main(["--proxydiag", "-p", "no:cacheprovider", "-q", "--proxydiag-json", sys.argv[2],
                        "--proxydiag-clients", "none", *lab.pytest_args], plugins=[RecordTimeoutMethods()])
print("RESULT", json.dumps({"code": int(code), "methods": methods}))
'''


def test_runs_where_there_is_no_sigalrm_and_no_killpg(pytester, monkeypatch):
    """The Windows gaps simulated on Linux: a full lab diagnosis still runs, with pytest-timeout's thread
    method, and the lab stops its proxy without os.killpg."""
    import sys
    from pathlib import Path

    from conftest import CONFIG_VARS, require_squid

    require_squid()
    for name in CONFIG_VARS:
        monkeypatch.delenv(name, raising=False)
    script = pytester.path / "portable.py"
    script.write_text(PORTABILITY_RUN)
    json_path = pytester.path / "r.json"
    tests_dir = str(Path(__file__).parent)
    result = pytester.run(sys.executable, str(script), tests_dir, str(json_path), timeout=240)
    out = result.stdout.str() + result.stderr.str()
    assert "Traceback" not in out and "AttributeError" not in out, out[-3000:]
    summary = json.loads([ln for ln in result.stdout.lines if ln.startswith("RESULT ")][-1][len("RESULT "):])
    assert summary == {"code": 0, "methods": ["thread"]}, out[-3000:]
    doc = json.loads(json_path.read_text())
    assert doc["root_cause"] is None and doc["counts"]["failed"] == 0 and doc["counts"]["error"] == 0
    assert doc["counts"]["passed"] >= 10


def test_a_plain_site_test_is_a_step_in_every_report_and_the_counts(pytester):
    """Issue 16: ``def test_vpn(): assert False, "tun0 is down"`` collected alongside --proxydiag."""
    pytester.mkdir("site")
    pytester.path.joinpath("site", "test_vpn.py").write_text(
        'def test_vpn():\n    assert False, "tun0 is down"\n\n'
        'def test_dns():\n    """Gateway name resolves"""\n')
    json_path, junit = pytester.path / "r.json", pytester.path / "junit.xml"
    args = ["--proxydiag", "site/", "-p", "no:cacheprovider", "--proxydiag-json", str(json_path),
            "--junitxml", str(junit)]
    html = pytest.importorskip("pytest_html", reason="pip install pytest-html") is not None
    args += ["--html", "r.html", "--self-contained-html"] if html else []
    result = pytester.runpytest_inprocess(*args)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    doc = json.loads(json_path.read_text())
    vpn = [s for s in doc["steps"] if s["id"] == "site.test_vpn.test_vpn"][0]
    assert vpn["outcome"] == "failed" and vpn["finding"] == "tun0 is down" and vpn["site"] is True
    assert vpn["branch"] == "site" and "site/test_vpn.py::test_vpn" in vpn["solution"]
    dns = [s for s in doc["steps"] if s["id"] == "site.test_dns" or s["id"] == "site.test_vpn.test_dns"][0]
    assert dns["outcome"] == "passed" and dns["title"] == "Gateway name resolves"
    # pytest's summary and the diagnosis agree on what failed and passed.
    outcomes = result.parseoutcomes()
    assert doc["counts"]["failed"] == outcomes.get("failed", 0) == 1
    assert doc["counts"]["passed"] == outcomes.get("passed", 0)
    assert doc["root_cause"] == "site.test_vpn.test_vpn"
    out = result.stdout.str()
    assert "ROOT CAUSE  site.test_vpn.test_vpn" in out and "tun0 is down" in out.split("proxy diagnosis")[1]
    assert '<property name="step_id" value="site.test_vpn.test_vpn"' in junit.read_text()
    if html:
        assert "site.test_vpn.test_vpn" in (pytester.path / "r.html").read_text()


def test_a_plain_site_test_message_is_redacted(pytester, monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://alice:Tr0ub4dor@127.0.0.1:9")
    pytester.makepyfile(test_leak='import os\ndef test_leak():\n    assert False, os.environ["HTTPS_PROXY"]\n')
    json_path = pytester.path / "r.json"
    result = pytester.runpytest_inprocess("--proxydiag", "test_leak.py", "-m", "site", "-p", "no:cacheprovider",
                                          "--proxydiag-json", str(json_path))
    text = json_path.read_text()
    step = [s for s in json.loads(text)["steps"] if s["id"] == "site.test_leak.test_leak"][0]
    assert step["outcome"] == "failed" and "***@127.0.0.1:9" in step["finding"]
    assert "Tr0ub4dor" not in text + result.stdout.str() + result.stderr.str()


def test_a_site_step_reusing_a_bundled_id_is_an_error_naming_both_places(pytester):
    pytester.makepyfile(test_mine="""
        import pytest
        @pytest.mark.proxydiag_step("auth.credentials", title="Our credentials", solution="Ask IT")
        def test_creds(proxydiag_step):
            pass
    """)
    result = pytester.runpytest_inprocess("--proxydiag", "test_mine.py", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: test_mine.py::test_creds: proxydiag_step('auth.credentials') reuses "
                                 "the id of the bundled step diag_tests/test_auth.py::test_credentials; give the "
                                 "site step an id of its own, like 'site.credentials'"])


def test_a_bug_in_a_bundled_step_is_an_error_with_its_traceback_redacted(pytester, monkeypatch):
    from pytest_proxydiag.net.probes import Probes

    def broken(self):
        raise RuntimeError(f"probe bug while holding {self.settings.proxy.raw}")

    monkeypatch.setattr(Probes, "proxy_tcp", broken)
    monkeypatch.setenv("HTTPS_PROXY", "http://bob:hunter2hunter@127.0.0.1:9")
    json_path = pytester.path / "r.json"
    result = pytester.runpytest_inprocess("--proxydiag", "-m", "connectivity", "-k", "proxy_reachable",
                                          "-p", "no:cacheprovider", "--proxydiag-json", str(json_path))
    text = json_path.read_text()
    step = [s for s in json.loads(text)["steps"] if s["id"] == "connectivity.proxy_reachable"][0]
    assert step["outcome"] == "error" and step["finding"].startswith("RuntimeError: probe bug")
    assert "bug in pytest-proxydiag" in step["solution"]
    assert "def broken(self)" in step["traceback"] and "RuntimeError" in step["traceback"]
    assert "***@127.0.0.1:9" in step["traceback"]
    assert "hunter2hunter" not in text + result.stdout.str()
    assert result.parseoutcomes()["failed"] == 1   # pytest says failed; the diagnosis says why: a bug


def test_a_bare_assert_in_a_bundled_step_is_an_error_not_a_finding(pytester, monkeypatch):
    from pytest_proxydiag.net.probes import Probes

    def asserting(self):
        assert self is None, "internal invariant"

    monkeypatch.setattr(Probes, "proxy_tcp", asserting)
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    json_path = pytester.path / "r.json"
    pytester.runpytest_inprocess("--proxydiag", "-m", "connectivity", "-k", "proxy_reachable",
                                 "-p", "no:cacheprovider", "--proxydiag-json", str(json_path))
    doc = json.loads(json_path.read_text())
    step = [s for s in doc["steps"] if s["id"] == "connectivity.proxy_reachable"][0]
    assert step["outcome"] == "error" and step["traceback"] and doc["root_cause"] is None


def test_a_failing_teardown_is_an_error_of_its_step(pytester):
    pytester.makepyfile(test_td="""
        import pytest
        @pytest.fixture
        def session_thing():
            yield
            raise RuntimeError("teardown bug")
        def test_thing(session_thing):
            pass
    """)
    json_path = pytester.path / "r.json"
    result = pytester.runpytest_inprocess("--proxydiag", "test_td.py", "-m", "site", "-p", "no:cacheprovider",
                                          "--proxydiag-json", str(json_path))
    doc = json.loads(json_path.read_text())
    step = [s for s in doc["steps"] if s["id"] == "site.test_td.test_thing"][0]
    assert step["outcome"] == "error" and "teardown bug" in step["traceback"]
    assert doc["counts"]["error"] == result.parseoutcomes()["errors"] == 1


LOADERS_TEST = '''
import json, sys
def test_loaders():
    ours = sorted(n for n in sys.modules if n.startswith("pytest_proxydiag"))
    hooked = [n for n in ours if type(getattr(sys.modules[n], "__loader__", None)).__name__ == "AssertionRewritingHook"]
    print("LOADERS " + json.dumps({"file": sys.modules["pytest_proxydiag"].__file__, "all": ours, "hooked": hooked}))
'''


def test_an_installed_copy_is_not_recompiled_by_the_rewrite_hook(pytester, tmp_path, monkeypatch):
    """Installed from a wheel, pytest marks the whole distribution for assertion rewriting; with
    PYTHONDONTWRITEBYTECODE=1 every module would then be recompiled on every run.  Only the bundled
    step tests (and the plugin module pytest imports itself) may go through the hook."""
    import shutil
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    site = tmp_path / "site"
    ignore = shutil.ignore_patterns("__pycache__")
    # diag_tests: a development checkout may link pytest_proxydiag/diag_tests to it; the wheel holds a copy.
    shutil.copytree(root / "pytest_proxydiag", site / "pytest_proxydiag",
                    ignore=shutil.ignore_patterns("__pycache__", "diag_tests"))
    shutil.copytree(root / "diag_tests", site / "pytest_proxydiag" / "diag_tests", ignore=ignore)
    info = site / "pytest_proxydiag_copy-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: pytest-proxydiag-copy\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text("[pytest11]\nproxydiag = pytest_proxydiag.plugin\n")
    (info / "RECORD").write_text("".join(f"{p.relative_to(site)},,\n" for p in site.rglob("*.py")))
    pytester.makepyfile(test_loaders=LOADERS_TEST)
    monkeypatch.setenv("PYTHONPATH", str(site))
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    result = pytester.run(sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-s", "--proxydiag",
                          "test_loaders.py", "-m", "site", timeout=120)
    line = [ln for ln in result.stdout.lines if "LOADERS " in ln][-1]
    seen = json.loads(line.split("LOADERS ", 1)[1])
    assert seen["file"] == str(site / "pytest_proxydiag" / "__init__.py")
    assert "pytest_proxydiag.core.config" in seen["all"] and "pytest_proxydiag.catalog" in seen["all"]
    outside_tests = [n for n in seen["hooked"] if not n.startswith("pytest_proxydiag.diag_tests")]
    assert outside_tests == ["pytest_proxydiag", "pytest_proxydiag.plugin"]
