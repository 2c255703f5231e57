"""``proxydiag fleet``: the aggregate of many reports, from real lab reports and from broken files.

tests/data/fleet/*.json are real reports written by ``proxydiag demo SCENARIO`` (Squid lab on loopback).
"""

from __future__ import annotations

import json
import os
import pickle
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_proxydiag import cli
from pytest_proxydiag.fleet import aggregate_reports
from pytest_proxydiag.fleet.aggregate import Fleet
from pytest_proxydiag.fleet.loader import classify, iter_inputs

DATA = Path(__file__).parent / "data" / "fleet"
SCENARIO_ROOT = {"healthy": None, "wrong-password": "auth.credentials",
                 "ssl-bump-untrusted": "certificate.interception", "blocked-domain": "policy.domain_allowed"}


def lab_report(scenario: str, host: str | None = None, started: str | None = None) -> dict:
    doc = json.loads((DATA / f"{scenario}.json").read_text())
    if host:
        doc["run"]["host"]["hostname"] = host
    if started:
        doc["run"]["started"] = started
    return doc


def write(path: Path, doc) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


def run_fleet(capsys, *args: str) -> tuple[int, str]:
    code = cli.main(["fleet", *map(str, args)])
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err
    return code, out.out


def groups_of(doc: dict) -> dict[str, list[str]]:
    return {g["root_cause"] or g["kind"]: g["hosts"] for g in doc["groups"]}


def test_lab_reports_are_grouped_by_root_cause_with_what_they_share(tmp_path, capsys):
    for i, scenario in enumerate(SCENARIO_ROOT):
        write(tmp_path / "in" / f"{scenario}.json", lab_report(scenario, host=f"dev-{i}"))
    # Two more hosts behind the same intercepting proxy, one with NO_PROXY set.
    for n in (1, 2):
        doc = lab_report("ssl-bump-untrusted", host=f"dev-bump-{n}")
        doc["config"]["no_proxy"] = {"value": "localhost,.corp" if n == 2 else None, "source": "env:NO_PROXY"}
        write(tmp_path / "in" / f"bump{n}.json", doc)
    code, out = run_fleet(capsys, tmp_path / "in", "--json", tmp_path / "fleet.json", "--html", tmp_path / "f.html")
    assert code == 0, out
    doc = json.loads((tmp_path / "fleet.json").read_text())
    assert groups_of(doc) == {"auth.credentials": ["dev-1"], "policy.domain_allowed": ["dev-3"],
                              "certificate.interception": ["dev-2", "dev-bump-1", "dev-bump-2"], "healthy": ["dev-0"]}
    assert doc["groups"][0]["root_cause"] == "certificate.interception"  # the largest failing group first
    bump = doc["groups"][0]
    assert bump["common"]["issuer"] == "OU=Proxy Inspection CA (lab only),O=Example Corp"
    # The tunnel itself carries no proxy header; the Via header of the reply inside it names Squid.
    assert bump["common"]["product"] == "squid/5.7" and bump["common"]["os"].startswith("Debian")
    assert {v["value"]: v["count"] for v in bump["shared"]["no_proxy"]} == {"unset": 2, "localhost,.corp": 1}
    assert "no_proxy" not in bump["common"]
    auth = next(g for g in doc["groups"] if g["root_cause"] == "auth.credentials")
    assert auth["common"]["product"] == "squid/5.7" and "407" in auth["finding"]
    healthy = next(g for g in doc["groups"] if g["kind"] == "healthy")
    assert healthy["common"]["issuer"] == "not intercepted"
    steps = {s["id"]: s for s in doc["steps"]}
    # blocked-domain's auth.credentials is skipped (blocked by the 403): not assessed.
    assert steps["auth.credentials"] == {"id": "auth.credentials", "title": "Verify credentials", "branch": "auth",
                                         "passed": 4, "failed": 1, "not_assessed": 1}
    assert steps["certificate.interception"]["failed"] == 3 and steps["certificate.interception"]["passed"] == 1
    assert steps["connectivity.proxy_reachable"]["passed"] == 6
    assert [s["id"] for s in doc["steps"]][:2] == ["connectivity.proxy_reachable", "connectivity.proxy_port"]
    # The ssl-bump fix was proven with real clients on each of those hosts; the others still fail.
    assert [f["host"] for f in doc["fixes"]["verified"]] == ["dev-2", "dev-bump-1", "dev-bump-2"]
    assert [f["host"] for f in doc["fixes"]["failing"]] == ["dev-1", "dev-3"]
    assert doc["totals"] == {"hosts": 6, "reports": 6, "status_files": 0, "healthy": 1, "failing": 5,
                             "not_assessed": 0, "rejected": 0}
    assert "ROOT CAUSE certificate.interception" in out and "dev-bump-1" in out
    page = (tmp_path / "f.html").read_text()
    assert 'data-state="certificate.interception"' in page and "<script" not in page
    assert oct((tmp_path / "fleet.json").stat().st_mode & 0o777) == "0o600"


def test_bad_foreign_and_truncated_files_are_listed_with_their_reason(tmp_path, capsys):
    good = json.dumps(lab_report("wrong-password", host="good"))
    d = tmp_path / "in"
    write(d / "a-truncated.json", good[: len(good) // 2])
    write(d / "b-foreign.json", {"name": "left-pad", "version": "1.3.0"})
    write(d / "c-array.json", [1, 2, 3])
    write(d / "d-text.json", "hello, this is not json\n")
    (d / "e-binary.json").write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe")
    write(d / "f-empty.json", "")
    write(d / "g-schema2.json", dict(json.loads(good), schema=2))
    write(d / "h-other-tool.json", {"schema": 1, "tool": {"name": "pytest-html"}, "steps": []})
    write(d / "i-status-without-host.json", {"proxydiag_fleet_status": 1, "status": "unreachable"})
    write(d / "j-good.json", good)
    # An older tool version: fewer fields, steps without evidence, no for_it, no tool block.
    old = json.loads(good)
    for key in ("for_it", "tool", "decision_path", "notes", "artifacts"):
        old.pop(key)
    old["run"]["host"] = {"hostname": "old-laptop"}
    old["steps"] = [{k: v for k, v in s.items() if k in ("id", "outcome", "title")} for s in old["steps"]][:8]
    write(d / "k-older-tool.json", old)
    # A layout the summarizer cannot read (steps of the wrong type) is rejected, not a crash.
    write(d / "l-odd.json", {"schema": 1, "steps": ["x", 3, None], "run": "yesterday", "config": [1],
                              "root_cause": 7})
    write(d / "m-aggregate.json", aggregate_reports([]))
    (tmp_path / "empty-dir").mkdir()
    code, out = run_fleet(capsys, d, tmp_path / "nowhere.json", tmp_path / "empty-dir", "--json",
                          tmp_path / "fleet.json")
    assert code == 0
    doc = json.loads((tmp_path / "fleet.json").read_text())
    reasons = {Path(r["source"]).name: r["reason"] for r in doc["rejected"]}
    assert reasons == {
        "a-truncated.json": f"truncated: the JSON ends after {len(good) // 2} bytes in the middle of the document",
        "b-foreign.json": "not a pytest-proxydiag JSON report (top-level object with name, version)",
        "c-array.json": "not a pytest-proxydiag JSON report (top-level array)",
        "d-text.json": "not JSON: Expecting value at line 1 column 1",
        "e-binary.json": "not UTF-8 text (a binary file?)",
        "f-empty.json": "not JSON: Expecting value at line 1 column 1",
        "g-schema2.json": "schema 2; this version reads schema 1",
        "h-other-tool.json": "not a pytest-proxydiag JSON report (top-level written by 'pytest-html')",
        "i-status-without-host.json": "a fleet status file without a host name",
        "l-odd.json": "holds no step results",
        "m-aggregate.json": "a fleet aggregate (proxydiag fleet --json), not a report",
        "nowhere.json": "no such file or directory",
        "empty-dir": "holds no .json or .zip file",
    }, reasons
    assert groups_of(doc) == {"auth.credentials": ["good", "old-laptop"]}
    old_row = next(h for h in doc["hosts"] if h["host"] == "old-laptop")
    assert old_row["dims"]["product"] == "not identified" and old_row["tool_version"] == ""
    assert "Files not read:" in out and "a-truncated.json: truncated" in out


def test_nothing_readable_exits_1_and_usage_errors_exit_2(tmp_path, capsys):
    write(tmp_path / "x.json", {"hello": 1})
    code, out = run_fleet(capsys, tmp_path / "x.json")
    assert code == 1 and "no report could be read" in out and "not a pytest-proxydiag JSON report" in out
    assert cli.main(["fleet"]) == 2
    assert cli.main(["fleet", "--host-from", "moon", str(tmp_path)]) == 2


def test_zip_input_with_a_bad_member_and_a_corrupt_zip(tmp_path, capsys):
    archive = tmp_path / "reports.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("laptop-1/proxydiag-report.json", json.dumps(lab_report("healthy", host="x")))
        z.writestr("laptop-2.json", json.dumps(lab_report("blocked-domain", host="y")))
        z.writestr("broken.json", "{\"schema\": 1, \"steps\": [")
        z.writestr("README.txt", "not a report, not read")
    (tmp_path / "corrupt.zip").write_bytes(b"PK\x03\x04 this is not really a zip")
    code, _ = run_fleet(capsys, archive, tmp_path / "corrupt.zip", "--host-from", "file",
                        "--json", tmp_path / "fleet.json")
    doc = json.loads((tmp_path / "fleet.json").read_text())
    assert code == 0
    assert groups_of(doc) == {"policy.domain_allowed": ["laptop-2"], "healthy": ["laptop-1"]}
    reasons = {r["source"].rsplit("/", 1)[-1]: r["reason"] for r in doc["rejected"]}
    assert reasons["reports.zip:broken.json"].startswith("truncated")
    assert reasons["corrupt.zip"].startswith("not a readable zip file")


def test_globs_and_directories_each_file_once(tmp_path, capsys):
    for i, scenario in enumerate(SCENARIO_ROOT):
        write(tmp_path / "runs" / f"site{i % 2}" / f"h{i}.json", lab_report(scenario, host=f"h{i}"))
    pattern = str(tmp_path / "runs" / "**" / "*.json")
    code, _ = run_fleet(capsys, pattern, tmp_path / "runs" / "site0", "--json", tmp_path / "fleet.json")
    doc = json.loads((tmp_path / "fleet.json").read_text())
    assert code == 0 and doc["totals"]["reports"] == 4 and doc["totals"]["rejected"] == 0
    assert sorted(h["host"] for h in doc["hosts"]) == ["h0", "h1", "h2", "h3"]


def test_timeline_before_and_after_a_rollout(tmp_path, capsys):
    d = tmp_path / "in"
    write(d / "before/a.json", lab_report("ssl-bump-untrusted", host="a", started="2026-11-02T09:00:00Z"))
    write(d / "after/a.json", lab_report("healthy", host="a", started="2026-11-03T09:00:00Z"))
    write(d / "before/b.json", lab_report("ssl-bump-untrusted", host="b", started="2026-11-02T09:01:00Z"))
    write(d / "after/b.json", lab_report("wrong-password", host="b", started="2026-11-03T09:01:00Z"))
    write(d / "before/c.json", lab_report("healthy", host="c", started="2026-11-02T09:02:00Z"))
    write(d / "after/c.json", lab_report("healthy", host="c", started="2026-11-03T09:02:00Z"))
    write(d / "copy/c.json", lab_report("healthy", host="c", started="2026-11-03T09:02:00Z"))
    code, _ = run_fleet(capsys, d / "after", d / "before", d / "copy", "--json", tmp_path / "fleet.json",
                        "--html", tmp_path / "fleet.html")
    doc = json.loads((tmp_path / "fleet.json").read_text())
    timeline = {t["host"]: t for t in doc["timeline"]}
    assert timeline["a"]["change"] == "fixed" and timeline["b"]["change"] == "changed"
    assert timeline["c"]["change"] == "unchanged"
    assert [r["state"] for r in timeline["a"]["runs"]] == ["certificate.interception", "healthy"]
    assert doc["fixes"]["fixed"] == [{"host": "a", "was": "certificate.interception",
                                      "since": "2026-11-03T09:00:00Z"}]
    assert groups_of(doc) == {"auth.credentials": ["b"], "healthy": ["a", "c"]}
    assert {(t["before"], t["after"], t["hosts"]) for t in doc["transitions"]} == {
        ("certificate.interception", "healthy", 1), ("certificate.interception", "auth.credentials", 1),
        ("healthy", "healthy", 1)}
    assert [r["reason"].startswith("the same run as") for r in doc["rejected"]] == [True]
    assert 'class="fl-timeline-host"' in (tmp_path / "fleet.html").read_text()


def test_status_files_of_hosts_without_a_report_are_groups_not_dropped(tmp_path, capsys):
    d = tmp_path / "in"
    write(d / "ok.json", lab_report("healthy", host="ok"))
    write(d / "gone.json", {"proxydiag_fleet_status": 1, "host": "gone", "status": "unreachable",
                            "reason": "Failed to connect to the host via ssh: Connection refused"})
    write(d / "broken.json", {"proxydiag_fleet_status": 1, "host": "broken", "status": "run_failed",
                              "reason": "rc 127: proxydiag: command not found"})
    code, out = run_fleet(capsys, d, "--json", tmp_path / "fleet.json")
    doc = json.loads((tmp_path / "fleet.json").read_text())
    assert groups_of(doc) == {"unreachable": ["gone"], "run_failed": ["broken"], "healthy": ["ok"]}
    assert doc["totals"]["not_assessed"] == 2 and doc["totals"]["status_files"] == 2
    steps = {s["id"]: s for s in doc["steps"]}
    assert steps["auth.credentials"]["passed"] == 1 and steps["auth.credentials"]["not_assessed"] == 2
    assert "Connection refused" in next(g for g in doc["groups"] if g["kind"] == "unreachable")["finding"]
    assert "UNREACHABLE" in out


CANARIES = ("Hunter2-canary", "sk-ant-api03-canaryCANARYcanary", "ghp_canarytoken0123456789",
            "dXNlcjpIdW50ZXIyLWNhbmFyeQ==")


def test_redaction_canary_in_every_output(tmp_path, capsys):
    doc = lab_report("wrong-password", host="canary-host")
    doc["config"]["proxy"]["value"] = "http://alice:Hunter2-canary@proxy.corp:3128"
    doc["config"]["no_proxy"]["value"] = "localhost,token=ghp_canarytoken0123456789"
    step = next(s for s in doc["steps"] if s["id"] == "auth.credentials")
    step["finding"] = ("sent Proxy-Authorization: Basic dXNlcjpIdW50ZXIyLWNhbmFyeQ== and x-api-key: "
                       "sk-ant-api03-canaryCANARYcanary via http://alice:Hunter2-canary@proxy.corp:3128")
    step["title"] = "Verify credentials (ANTHROPIC_API_KEY=sk-ant-api03-canaryCANARYcanary)"
    works = next(s for s in doc["steps"] if s["id"] == "connectivity.proxy_works")
    works["evidence"]["connect"]["headers"] = {"Server": "corp-gw Bearer ghp_canarytoken0123456789"}
    d = tmp_path / "in"
    write(d / "canary.json", doc)
    write(d / "status.json", {"proxydiag_fleet_status": 1, "host": "other", "status": "run_failed",
                              "reason": "HTTPS_PROXY=http://bob:Hunter2-canary@10.0.0.1:8080 failed"})
    code, out = run_fleet(capsys, d, "--json", tmp_path / "fleet.json", "--html", tmp_path / "fleet.html")
    outputs = {"terminal": out, "json": (tmp_path / "fleet.json").read_text(),
               "html": (tmp_path / "fleet.html").read_text()}
    for name, text in outputs.items():
        for canary in CANARIES:
            assert canary not in text, (name, canary)
    agg = json.loads(outputs["json"])
    assert next(h for h in agg["hosts"] if h["host"] == "canary-host")["dims"]["proxy"] == "proxy.corp:3128"
    assert next(g for g in agg["groups"] if g["root_cause"] == "auth.credentials")["finding"] == \
        "sent Proxy-Authorization: ***"


def test_documents_are_not_kept(tmp_path):
    """Memory grows by a compact summary per host, not by the reports (the bench measures 10,000 in memory).

    Measured as the serialised size of what the fleet keeps: traced memory counted the interpreter's own
    one-time growth (the interned-strings table doubling, 405 KiB) as this loop's, and so changed with the tests
    that ran before it."""
    template = json.dumps(lab_report("ssl-bump-untrusted"))
    d = tmp_path / "many"
    d.mkdir()
    for i in range(300):
        (d / f"{i}.json").write_text(template.replace('"hostname": "vm"', f'"hostname": "host-{i:04d}"'))
    fleet = Fleet()
    for item in iter_inputs([str(d)]):
        fleet.add(item)
        assert item.doc is None
    assert len(fleet.latest) == 300
    kept = len(pickle.dumps(fleet.latest)) / 300
    assert kept < 2_000 < len(template) / 10, f"{kept:.0f} bytes kept per report"


def test_aggregate_of_nothing_is_empty_not_an_error():
    doc = aggregate_reports([])
    assert doc["totals"]["hosts"] == 0 and doc["groups"] == [] and doc["steps"] == []


@pytest.mark.parametrize("junk", ["[]", "null", '{"schema": 1, "steps": []}',
                                  '{"proxydiag_fleet_status": 1, "host": "h"}'])
def test_minimal_documents_never_raise(tmp_path, capsys, junk):
    write(tmp_path / "x.json", junk)
    code, out = run_fleet(capsys, tmp_path / "x.json", "--html", tmp_path / "x.html")
    assert code in (0, 1) and (tmp_path / "x.html").exists()


def test_worker_processes_give_the_same_aggregate(tmp_path):
    d = tmp_path / "many"
    d.mkdir()
    for i in range(260):
        scenario = list(SCENARIO_ROOT)[i % 4]
        write(d / f"{i:03d}.json", lab_report(scenario, host=f"h{i % 200}", started=f"2026-11-0{1 + i // 200}T09:00Z"))
    (d / "zz-bad.json").write_text("{")
    serial, parallel = aggregate_reports([str(d)], workers=1), aggregate_reports([str(d)], workers=2)
    serial.pop("generated"), parallel.pop("generated")
    assert serial == parallel
    assert serial["totals"]["hosts"] == 200 and serial["totals"]["reports"] == 260 and len(serial["timeline"]) == 60



@pytest.mark.parametrize("cores,workers", [(1, 1), (2, 1), (3, 2), (4, 3), (16, 4)])
def test_one_process_below_three_usable_cores(monkeypatch, cores, workers):
    """Measured by bench/bench_fleet.py: on 2 cores the workers cost CPU and gain nothing."""
    import os

    from pytest_proxydiag import fleet

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores)), raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 64)   # the affinity counts, not the machine's cores
    assert fleet.default_workers() == workers
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)   # macOS, Windows: every core
    monkeypatch.setattr(os, "cpu_count", lambda: cores)
    assert fleet.default_workers() == workers

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)
PATHS = [("config", "proxy", "value"), ("config", "no_proxy"), ("run", "host"), ("run", "started"), ("root_cause",),
         ("tool",), ("for_it", "proxy_responses"), ("steps", 0), ("steps", 0, "evidence"), ("steps", 0, "id"),
         ("steps", 14, "evidence", "chain"), ("steps", 14, "fix"), ("steps", 23, "evidence", "versions"),
         ("steps", 17, "evidence", "connect", "headers"), ("steps", 19, "evidence", "replies")]


@given(changes=st.lists(st.tuples(st.sampled_from(PATHS), json_values), min_size=1, max_size=4))
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_value_anywhere_in_a_report_never_raises(changes):
    doc = lab_report("ssl-bump-untrusted")
    for path, value in changes:
        target = doc
        for key in path[:-1]:
            target = _child(target, key)
        if _child(target, path[-1], None) is not None or isinstance(target, dict):
            target[path[-1]] = value
    fleet = Fleet()
    fleet.add(classify("fuzz.json", json.dumps(doc).encode()))
    result = fleet.result()
    assert result["totals"]["hosts"] + result["totals"]["rejected"] == 1


def _child(container, key, default=None):
    """container[key] when it exists (a dict key, or an int index inside a list), else *default*."""
    if isinstance(container, dict) and isinstance(key, str):
        return container.get(key, default)
    if isinstance(container, list) and isinstance(key, int) and key < len(container):
        return container[key]
    return default


def test_bulk_redaction_masks_like_one_string_at_a_time():
    from pytest_proxydiag.core.redact import Redactor
    from pytest_proxydiag.fleet.aggregate import _Scrubber

    values = ["dev-1", "http://u:Hunter2-canary@p:8080", "Bearer", "ghp_canarytoken0123456789abc", "login x",
              "password Hunter2-canary", "x-api-key: sk-ant-api03-canaryCANARYcanary", "2026-11-01T09:00:00Z",
              "NTLM", "TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAGAbEdAAAADw==", "ok"]
    redactor, scrub = Redactor(), _Scrubber(Redactor())
    scrub.prefetch(values, chunk=4)
    for value in values:
        bulk, single = scrub.text(value), redactor.redact(value)
        # The same masking, or more (a neighbour's context may mask a little extra): never less.
        assert bulk == single or "***" in bulk, (value, bulk, single)
        for canary in CANARIES:
            assert canary in single or canary not in bulk
    assert scrub.text("http://u:Hunter2-canary@p:8080") == "http://u:***@p:8080"


def test_the_providers_server_header_is_not_the_proxy_product():
    doc = lab_report("healthy")
    logs = next(s for s in doc["steps"] if s["id"] == "policy.proxy_logs")
    logs["evidence"]["replies"][0]["signals"].append("header Server: cloudflare")
    assert Fleet().add_all([classify("h.json", json.dumps(doc).encode())]).latest["vm"].dims[1] == "not identified"
    logs["evidence"]["replies"][0]["signals"].append("header Via: 1.1 gw.corp (McAfee Web Gateway 12.2)")
    assert Fleet().add_all([classify("h.json", json.dumps(doc).encode())]).latest["vm"].dims[1] == \
        "McAfee Web Gateway 12.2"


def test_a_server_header_in_proxy_responses_counts_only_on_the_proxys_own_connect_reply():
    # The audit aggregated real lab reports: a Bedrock host behind intercepting Squid was grouped under the
    # proxy product "proxydiag-lab-origin" (the provider's Server, seen inside the tunnel) and a host using
    # a LiteLLM gateway under "uvicorn" (the gateway's own Server, reached direct).
    doc = lab_report("healthy")
    for step in doc["steps"]:
        if step["id"] in ("connectivity.proxy_works", "policy.proxy_logs"):
            step["evidence"] = {}
    doc["for_it"]["proxy_responses"] = [
        {"request": "POST http://litellm.corp.internal:4000/v1/messages", "status": 500,
         "headers": {"server": "uvicorn"}},
        {"request": "POST https://bedrock-runtime.us-east-1.amazonaws.com/model/x/invoke", "status": 403,
         "headers": {"server": "Server"}}]
    product = lambda: Fleet().add_all([classify("h.json", json.dumps(doc).encode())]).latest["vm"].dims[1]
    assert product() == "not identified"
    doc["for_it"]["proxy_responses"][1]["headers"]["via"] = "1.1 vm (squid/5.7)"
    assert product() == "squid/5.7"
    doc["for_it"]["proxy_responses"].insert(0, {"request": "CONNECT api.anthropic.com:443", "status": 407,
                                                "headers": {"server": "tinyproxy/1.11.1"}})
    assert product() == "tinyproxy/1.11.1"


def test_a_host_whose_diagnosis_errored_is_not_counted_healthy(tmp_path, capsys, run_diag, lab_factory, pytester):
    """A real run whose site check errors (its fixture raises: a team's site pack broken on that host) and no
    step fails: no root cause. The aggregate called the host *healthy* ("no step failed") and counted it so;
    the diagnosis is incomplete there, so it is a group of its own, not healthy and not fixed."""
    lab = lab_factory("healthy")
    pytester.makepyfile(test_sitepack="""
        import pytest

        @pytest.fixture
        def vpn_status():
            raise RuntimeError("vpnctl not found")

        def test_vpn(vpn_status):
            assert vpn_status
    """)
    run = run_diag("-m", "connectivity or site", str(pytester.path / "test_sitepack.py"),
                   env={"PATH": os.environ["PATH"]}, lab=lab)
    assert run.doc["root_cause"] is None and any(s["outcome"] == "error" for s in run.steps), run.output[-2000:]
    errored = dict(run.doc, run=dict(run.doc["run"], host=dict(run.doc["run"]["host"], hostname="dev-errored")))
    write(tmp_path / "in" / "errored.json", errored)
    write(tmp_path / "in" / "ok.json", lab_report("healthy", host="dev-ok"))
    # The same host healthy before: an error now is not "fixed".
    write(tmp_path / "in" / "before.json", lab_report("wrong-password", host="dev-errored",
                                                      started="2026-01-01T00:00:00Z"))
    code, out = run_fleet(capsys, tmp_path / "in", "--json", tmp_path / "fleet.json", "--html", tmp_path / "f.html")
    assert code == 0, out
    doc = json.loads((tmp_path / "fleet.json").read_text())
    assert groups_of(doc) == {"diagnosis_error": ["dev-errored"], "healthy": ["dev-ok"]}
    assert doc["totals"]["healthy"] == 1 and doc["totals"]["not_assessed"] == 1
    group = next(g for g in doc["groups"] if g["kind"] == "diagnosis_error")
    assert "site.test_sitepack.test_vpn" in group["finding"] and "vpnctl not found" in group["finding"]
    assert [f["host"] for f in doc["fixes"]["fixed"]] == []
    assert "DIAGNOSIS ERROR" in out.upper() and "dev-errored" in out
