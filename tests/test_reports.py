"""The reports a helpdesk receives: HTML (pytest-html), JUnit properties, JSON against its schema,
comparison of two runs, the escalation bundle — from real diagnoses of lab scenarios (real Squid).
"""

from __future__ import annotations

import html
import json
import re
import stat
import xml.etree.ElementTree as ET
import zipfile

import jsonschema
import pytest

from pytest_proxydiag.lab import PASSWORD, WRONG_PASSWORD
from pytest_proxydiag.catalog import report as words
from pytest_proxydiag.core.step import PATH_GATES
from pytest_proxydiag.reports.html_report import diagnosis_html
from pytest_proxydiag.reports.text import no_finding_verdict
from pytest_proxydiag.reports.compare import compare
from pytest_proxydiag.reports.facts import decision_path, it_facts, it_text
from pytest_proxydiag.reports.json_report import schema
from pytest_proxydiag.core.results import StepResult, settle_blockers
from pytest_proxydiag.reports.svg import flowchart_svg

VALIDATOR = jsonschema.Draft202012Validator(schema())


def assert_valid(doc: dict) -> None:
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:300]}" for e in VALIDATOR.iter_errors(doc)]
    assert not errors, "\n".join(errors)


def html_blob(text: str) -> list[dict]:
    """pytest-html's test rows, from the HTML-escaped JSON in data-jsonblob."""
    m = re.search(r'data-jsonblob="([^"]*)"', text)
    assert m, "no data-jsonblob in the HTML"
    data = json.loads(html.unescape(m.group(1)))
    return [row for rows in data["tests"].values() for row in rows]


# -- unit: the pieces ---------------------------------------------------------------------
def _result(step_id, outcome, **kw) -> StepResult:
    branch, _, _ = step_id.partition(".")
    return StepResult(step_id=step_id, branch=branch, number=kw.pop("number", 1), title=kw.pop("title", step_id),
                      outcome=outcome, nodeid=f"x::{step_id}", **kw)


def test_decision_path_ends_at_the_root_cause_after_the_cleared_checks():
    results = [_result("connectivity.proxy_port", "passed"), _result("connectivity.proxy_reachable", "passed"),
               _result("auth.special_chars", "skipped"), _result("auth.credentials", "failed"),
               _result("policy.domain_allowed", "skipped", blocked_by="auth.credentials")]
    assert decision_path(results, "auth.credentials") == [
        "connectivity.proxy_port", "connectivity.proxy_reachable", "auth.credentials"]
    assert decision_path(results[:2], None) == ["connectivity.proxy_port", "connectivity.proxy_reachable"]


def test_a_chain_of_blocks_names_the_step_that_failed():
    """Blocked by a step that was itself blocked (whichever ran first) names the end of the chain; blocked by a
    step that ran and found nothing names the root cause; a blocker not in the run stays named."""
    results = [_result("auth.credentials", "skipped", blocked_by="policy.domain_allowed",
                       skip_reason="blocked by policy.domain_allowed: CONNECT a:443: 403"),
               _result("connectivity.proxy_works", "failed", finding_key="refuses_everything"),
               _result("policy.domain_allowed", "skipped", blocked_by="connectivity.proxy_works"),
               _result("policy.url_filtering", "skipped", blocked_by="auth.scheme"),
               _result("certificate.python_ssl", "skipped", blocked_by="connectivity.proxy_reachable")]
    settle_blockers(results + [_result("connectivity.proxy_reachable", "passed")])
    assert [r.blocked_by for r in results] == ["connectivity.proxy_works", None, "connectivity.proxy_works",
                                               "auth.scheme", "connectivity.proxy_works"]
    assert results[0].skip_reason == "blocked by connectivity.proxy_works: CONNECT a:443: 403"
    loop = [_result("auth.scheme", "skipped", blocked_by="auth.credentials"),
            _result("auth.credentials", "skipped", blocked_by="auth.scheme")]
    settle_blockers(loop)  # a cycle ends, it does not hang
    assert {r.blocked_by for r in loop} <= {"auth.scheme", "auth.credentials"}


def test_a_site_check_has_no_flowchart_number_and_one_request_is_singular():
    from pytest_proxydiag.reports.text import requests_sent, step_place

    assert step_place({"branch": "site", "number": 0, "site": True}) == "SITE check"
    assert step_place({"branch": "policy", "number": 1}) == "POLICY step 1"
    assert [requests_sent({"run": {"requests_sent": n}}) for n in (0, 1, 2)] == [
        "0 requests sent", "1 request sent", "2 requests sent"]


def test_flowchart_svg_colours_each_step_and_marks_the_root_cause():
    svg = flowchart_svg({"auth.credentials": "failed", "connectivity.proxy_port": "passed",
                         "policy.domain_allowed": "blocked"},
                        ["connectivity.proxy_port", "auth.credentials"], "auth.credentials")
    ET.fromstring(svg)  # well-formed, inline-able
    assert 'data-step="auth.credentials"' in svg and "pd-failed" in svg and "ROOT CAUSE" in svg
    assert re.search(r'class="pd-step pd-blocked" data-step="policy.domain_allowed"', svg)
    assert re.search(r'class="pd-step pd-notrun" data-step="bypass.system_proxy"', svg)
    assert "http" not in svg.replace("http://www.w3.org/2000/svg", "")  # no network resources


def test_it_facts_come_from_the_probe_log_and_generic_evidence_keys():
    results = [_result("certificate.interception", "failed", evidence={"chain": [{"issuer": "CN=Corp Inspect CA"}]}),
               _result("policy.payload_size", "failed", evidence={"largest_passed": 1048576})]
    log = [{"kind": "connect", "time": 1_700_000_000.25, "target": "api.anthropic.com:443", "status": 403,
            "headers": [("X-Squid-Error", "ERR_ACCESS_DENIED 0"), ("Server", "squid/5.7"), ("Date", "x")]}]
    facts = it_facts(results, log, [], None, results[0])
    assert facts["certificates"][0]["issuer"] == "CN=Corp Inspect CA"
    assert facts["proxy_responses"][0] == {
        "time": "2023-11-14T22:13:20.250Z", "request": "CONNECT api.anthropic.com:443", "status": 403,
        "cause": None, "detail": None, "headers": {"x-squid-error": "ERR_ACCESS_DENIED 0", "server": "squid/5.7"}}
    assert facts["domains"] == [{"host": "api.anthropic.com:443", "why": "contacted through the proxy",
                                 "seen": "CONNECT -> 403"}]
    assert {"step": "policy.payload_size", "name": "largest_passed", "value": "1048576"} in facts["limits"]


def test_compare_matches_steps_across_different_target_urls():
    before = {"steps": [{"id": "auth.credentials", "params": {"target": "https://a:1"}, "outcome": "passed",
                         "evidence": {"connect": {"status": "HTTP/1.1 200"}}}], "config": {}, "run": {}}
    after = {"steps": [{"id": "auth.credentials", "params": {"target": "https://a:2"}, "outcome": "failed",
                        "title": "Verify credentials", "finding": "407",
                        "evidence": {"connect": {"status": "HTTP/1.1 407"}}}], "config": {}, "run": {}}
    comp = compare(before, after)
    assert [(c["before"], c["after"]) for c in comp["changed"]] == [("passed", "failed")]
    assert comp["evidence"][0]["field"] == "connect.status"


# -- real diagnoses -------------------------------------------------------------------------
FORMATS = ("--html", "report.html", "--self-contained-html", "--junitxml", "junit.xml")


def test_wrong_password_report_tells_helpdesk_what_is_wrong_in_every_format(run_diag, lab_factory, pytester):
    lab = lab_factory("wrong-password")
    run = run_diag(*FORMATS, "--proxydiag-bundle", "bundle.zip", lab=lab)
    assert run.root_cause == "auth.credentials"
    assert_valid(run.doc)

    # JSON: the IT facts name the 407 and the Squid error code.
    responses = run.doc["for_it"]["proxy_responses"]
    assert any(r["status"] == 407 and "ERR_CACHE_ACCESS_DENIED" in r["headers"].get("x-squid-error", "")
               for r in responses), responses
    assert run.doc["decision_path"][-1] == "auth.credentials"

    # HTML: diagnosis first, with finding and solution, flowchart, IT block; rows carry the step columns.
    page = (pytester.path / "report.html").read_text()
    assert WRONG_PASSWORD not in page and PASSWORD not in page
    diagnosis = page.index("Root cause")
    # Before the results table in the source; above the environment table on screen (CSS order,
    # checked in a real browser by test_html_browser.py).
    assert diagnosis < page.index('id="results-table"')
    assert "Verify credentials" in page[diagnosis:diagnosis + 600]
    assert "Contact IT for correct credentials" in page
    assert "<svg" in page and 'data-step="auth.credentials"' in page
    it_block = re.search(r"<div class='pd-it'>.*?<pre>(.*?)</pre>", page, re.S).group(1)
    assert "407" in it_block and "ERR_CACHE_ACCESS_DENIED" in it_block and "api.anthropic.com" in it_block
    assert '<title id="head-title">Proxy diagnosis' in page
    rows = html_blob(page)
    cred = [r for r in rows if "test_credentials" in r["testId"]]
    assert cred and 'class="col-branch">auth<' in "".join(cred[0]["resultsTableRow"])
    assert "Contact IT for correct credentials" in cred[0]["extras"][0]["content"]
    assert "<details><summary>Evidence" in cred[0]["extras"][0]["content"]

    # JUnit: step properties on the step's testcase.
    tree = ET.parse(pytester.path / "junit.xml")
    case = next(c for c in tree.iter("testcase") if c.get("name", "").startswith("test_credentials"))
    props = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert props["step_id"] == "auth.credentials" and props["branch"] == "auth" and props["outcome"] == "failed"
    assert "407" in props["finding"] and WRONG_PASSWORD not in ET.tostring(tree.getroot(), encoding="unicode")

    # Bundle: 0600 zip of 0600 entries with every format and a summary.
    bundle = pytester.path / "bundle.zip"
    assert stat.S_IMODE(bundle.stat().st_mode) == 0o600
    with zipfile.ZipFile(bundle) as zf:
        names = set(zf.namelist())
        assert {"summary.txt", "proxydiag.json", "proxydiag-report.html", "pytest-html-report.html",
                "junit.xml"} <= names
        assert all((i.external_attr >> 16) & 0o777 == 0o600 for i in zf.infolist())
        summary = zf.read("summary.txt").decode()
        assert "ROOT CAUSE  auth.credentials" in summary and "ERR_CACHE_ACCESS_DENIED" in summary
        assert_valid(json.loads(zf.read("proxydiag.json")))
    assert "Escalation bundle:" in run.output


def test_healthy_report_says_no_problem_and_validates(run_diag, lab_factory, pytester):
    lab = lab_factory("healthy")
    run = run_diag("--html", "healthy.html", "--self-contained-html", lab=lab)
    assert run.root_cause is None
    assert_valid(run.doc)
    page = (pytester.path / "healthy.html").read_text()
    assert "No problem found" in page and "Root cause" not in page
    assert run.doc["decision_path"] and run.doc["for_it"]["proxy_responses"] == []


def test_intercepting_proxy_report_names_the_issuer_and_bundles_the_ca(run_diag, lab_factory, pytester):
    run = run_diag("--html", "bump.html", "--self-contained-html", "--proxydiag-bundle", "bump.zip",
                   lab=lab_factory("ssl-bump-untrusted"))
    assert_valid(run.doc)
    assert run.root_cause == "certificate.interception"
    issuers = [c["issuer"] for c in run.doc["for_it"]["certificates"]]
    assert any("Example Corp" in i for i in issuers), issuers
    page = (pytester.path / "bump.html").read_text()
    verdict = page[page.index("Root cause"):]
    assert "Identify SSL interception" in verdict[:400] and "Other systems:" in verdict
    it_block = re.search(r"<div class='pd-it'>.*?<pre>(.*?)</pre>", page, re.S).group(1)
    assert "TLS certificate issuer" in it_block and "Example Corp" in it_block
    with zipfile.ZipFile(pytester.path / "bump.zip") as zf:
        cas = [n for n in zf.namelist() if n.startswith("artifacts/interception_ca")]
        assert cas, zf.namelist()
        pem = zf.read(cas[0])
        assert b"-----BEGIN CERTIFICATE-----" in pem and b"PRIVATE KEY" not in pem


def test_compare_shows_changed_steps_first(run_diag, lab_factory, pytester):
    before = run_diag(lab=lab_factory("healthy"))
    after = run_diag("--proxydiag-compare", str(before.json_path), "--html", "cmp.html", "--self-contained-html",
                     lab=lab_factory("wrong-password"))
    comp = after.doc["comparison"]
    assert comp["root_cause_before"] is None and comp["root_cause_after"] == "auth.credentials"
    changed = {c["step"].split("[")[0]: (c["before"], c["after"]) for c in comp["changed"]}
    assert changed["auth.credentials"] == ("passed", "failed")
    assert any(e["step"].startswith("auth.credentials") for e in comp["evidence"]), comp["evidence"]
    assert any(c["field"] == "proxy" for c in comp["config"])
    assert_valid(after.doc)
    out = after.output
    assert out.index("CHANGES SINCE") < out.index("ROOT CAUSE")
    page = (pytester.path / "cmp.html").read_text()
    assert page.index("Changes since the earlier run") < page.index("Root cause")


def test_compare_with_an_unreadable_file_is_a_note_not_a_crash(run_diag, lab_factory, tmp_path):
    bad = tmp_path / "not-a-report.json"
    bad.write_text("{\"hello\": 1}")
    run = run_diag("--proxydiag-compare", str(bad), lab=lab_factory("healthy"))
    assert "not a pytest-proxydiag JSON report" in run.doc["comparison"]["error"]
    assert "COMPARISON with" in run.output


def test_without_pytest_html_the_bundle_still_has_a_standalone_page_and_junit(run_diag, lab_factory, pytester):
    run = run_diag("-p", "no:html", "--proxydiag-bundle", "down.zip", lab=lab_factory("proxy-down"))
    assert run.root_cause in ("connectivity.proxy_reachable", "connectivity.proxy_port")
    assert "INTERNALERROR" not in run.output
    with zipfile.ZipFile(pytester.path / "down.zip") as zf:
        assert "pytest-html-report.html" not in zf.namelist()
        page = zf.read("proxydiag-report.html").decode()
        assert "Root cause" in page and "<svg" in page
        tree = ET.fromstring(zf.read("junit.xml"))
        props = [{p.get("name"): p.get("value") for p in case.iter("property")} for case in tree.iter("testcase")]
        assert any(p.get("step_id") == run.root_cause and p.get("outcome") == "failed" for p in props)


def test_a_symptom_whose_branches_find_nothing_runs_the_others(run_diag, lab_factory, pytester):
    """Triage chose auth from the words; the proxy intercepts TLS instead: auth finds nothing, so the other
    branches run after it and the certificate finding is the root cause, said to come from them."""
    lab = lab_factory("ssl-bump-untrusted")
    run = run_diag("--proxydiag-symptom", "curl: (56) CONNECT tunnel failed, response 407",
                   "--html", "symptom.html", "--self-contained-html", lab=lab)
    assert run.root_cause == "certificate.interception"
    assert_valid(run.doc)
    note = run.doc["notes"]["symptom"]
    assert note["branches"] == ["auth"]
    others = note["others"]
    assert others["branches"][:2] == ["connectivity", "certificate"] and "auth" not in others["branches"]
    assert "certificate.interception" in others["ran"] and others["steps"] >= 20
    assert (f"The branches chosen from your error (auth) did not settle the cause alone, so {len(others['ran'])} of "
            f"the {others['steps']} steps of the other branches ran too.") in run.output
    page = (pytester.path / "symptom.html").read_text()
    assert "Branches run" in page and "Root cause" in page


def test_a_symptom_whose_branches_find_the_cause_skips_what_comes_after_it(run_diag, lab_factory):
    run = run_diag("--proxydiag-symptom", "curl: (56) CONNECT tunnel failed, response 407",
                   lab=lab_factory("wrong-password"))
    assert run.root_cause == "auth.credentials"
    others = run.doc["notes"]["symptom"]["others"]
    deferred = [s for s in run.doc["steps"] if s["branch"] not in ("auth", "site") and s["id"] not in PATH_GATES]
    ran = [s for s in deferred if s["outcome"] != "skipped" or s["skip_reason"] != words.SYMPTOM_ANSWERED.format(
        chosen="auth", step="auth.credentials")]
    # Only the steps that rank before auth.credentials could change the root cause (the proxy's port).
    assert {s["id"] for s in ran} == set(others["ran"]) == {"connectivity.proxy_port"}
    assert len(deferred) - len(ran) >= 20


def test_a_symptom_run_cut_short_before_the_other_branches_is_not_called_healthy():
    doc = {"config": {"proxy": {"value": "http://127.0.0.1:3128"}},
           "steps": [{"id": "auth.scheme", "outcome": "passed"}],
           "notes": {"symptom": {"branches": ["auth"], "others": {"branches": ["connectivity", "bypass"], "steps": 9,
                                                                  "ran": ["connectivity.no_proxy"]}}}}
    healthy, sentence = no_finding_verdict(doc)
    assert not healthy and sentence == words.SYMPTOM_UNEXPLAINED.format(chosen="auth", missing=8, count=9,
                                                                        markers="connectivity or bypass")
    page = diagnosis_html(doc)
    assert words.NOT_DIAGNOSED[1] in page and html.escape(sentence, quote=True) in page
    assert "No problem found" not in page
    doc["notes"]["symptom"]["others"]["ran"] = [f"step{i}" for i in range(9)]
    assert no_finding_verdict(doc) == (True, words.ALL_PASSED)


@pytest.mark.parametrize("scenario, root", [("wrong-port", "connectivity.proxy_port"),
                                            ("reset-domain", "policy.domain_allowed")])
def test_a_misleading_symptom_ends_at_the_root_cause_a_full_run_names(scenario, root, run_diag, lab_factory):
    """A 407 pasted for a proxy on another port, or for a domain the proxy resets: auth's gate (the tunnel)
    fails first, but the steps that rank before it still run, so the specific finding wins as in a full run."""
    run = run_diag("--proxydiag-symptom", "curl: (56) CONNECT tunnel failed, response 407",
                   "--proxydiag-clients", "none", lab=lab_factory(scenario))
    assert run.root_cause == root, run.output
    assert root in run.doc["notes"]["symptom"]["others"]["ran"]
