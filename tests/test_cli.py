"""The ``proxydiag`` command: reports by default, ``demo`` on the lab, nothing left behind even on Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from conftest import require_squid
from pytest_proxydiag import cli
from pytest_proxydiag import lab as lab_module
from pytest_proxydiag.lab import Lab


def leftovers_of(pid: int) -> dict[str, list[str]]:
    """Processes, shared memory and temp dirs a lab run by process ``pid`` could leave behind."""
    procs = []
    for p in Path("/proc").glob("[0-9]*"):
        try:
            cmd = (p / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if f"proxydiaglab{pid}n" in cmd or f"proxydiag-demo-{pid}-" in cmd:
            procs.append(cmd)
    shm = sorted(str(p) for p in Path("/dev/shm").glob(f"proxydiaglab{pid}n*"))
    tmp = sorted(str(p) for pattern in (f"proxydiag-lab-{pid}-*", f"proxydiag-demo-{pid}-*")
                 for p in Path(tempfile.gettempdir()).glob(pattern))
    return {"processes": procs, "shm": shm, "tmp": tmp}


NOTHING = {"processes": [], "shm": [], "tmp": []}


def child_env(home: Path) -> dict[str, str]:
    env = cli.clean_environment(os.environ)
    env["HOME"] = str(home)
    return env


def run_cli(args: list[str], cwd: Path, timeout: float = 90) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest_proxydiag.cli", *args], cwd=cwd, env=child_env(cwd),
                          capture_output=True, text=True, timeout=timeout)


def test_clean_environment_drops_proxy_ca_and_provider_settings():
    env = {"PATH": "/usr/bin", "LANG": "C.UTF-8", "HTTPS_PROXY": "http://u:secret@p:8080", "https_proxy": "x",
           "ALL_PROXY": "x", "no_proxy": "x", "NO_PROXY": "x", "REQUESTS_CA_BUNDLE": "x", "SSL_CERT_FILE": "x",
           "CURL_CA_BUNDLE": "x", "NODE_EXTRA_CA_CERTS": "x", "NODE_TLS_REJECT_UNAUTHORIZED": "0",
           "ANTHROPIC_API_KEY": "sk-ant-secret", "ANTHROPIC_BASE_URL": "x", "AWS_REGION": "x",
           "PYTEST_ADDOPTS": "-x", "npm_config_proxy": "x", "HOME": "/root", "XDG_CONFIG_HOME": "/root/.config"}
    assert cli.clean_environment(env) == {"PATH": "/usr/bin", "LANG": "C.UTF-8"}


def test_a_path_option_elsewhere_does_not_hide_the_projects_ini(tmp_path):
    # pytest takes every existing path on its command line, an option's value too, for where to look for rootdir
    # and the ini file: 'proxydiag --proxydiag-symptom-file ~/error.log' ignored ./pytest.ini (its proxy, targets).
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    project.mkdir()
    elsewhere.mkdir()
    (project / "pytest.ini").write_text("[pytest]\nproxydiag_timeout = 3\n")
    (elsewhere / "error.log").write_text("curl: (56) CONNECT tunnel failed, response 407\n")
    proc = run_cli(["--proxydiag-symptom-file", str(elsewhere / "error.log"), "--proxydiag-clients", "none", "--co"],
                   cwd=project)
    assert f"rootdir: {project}" in proc.stdout and "configfile: pytest.ini" in proc.stdout, proc.stdout[-2000:]
    joined = cli.joined_values(["--proxydiag-json", "a b.json", "-k", "x", "--html", "r.html",
                                "--proxydiag-no-direct", "--proxydiag-target=https://h"])
    assert joined == ["--proxydiag-json=a b.json", "-k", "x", "--html=r.html", "--proxydiag-no-direct",
                      "--proxydiag-target=https://h"]


def test_demo_list_names_every_scenario_and_its_expected_root_cause(capsys):
    assert cli.main(["demo", "--list"]) == 0
    out = capsys.readouterr().out
    for name in Lab.scenarios():
        line = next(line for line in out.splitlines() if line.startswith(name + " "))
        assert (Lab.scenario(name).expected_root_cause or "none (healthy)") in line


def test_demo_unknown_scenario_is_a_usage_error(capsys):
    assert cli.main(["demo", "no-such-scenario"]) == 2
    assert "proxydiag demo --list" in capsys.readouterr().err


def test_demo_into_a_directory_it_cannot_create_is_a_usage_error(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert cli.main(["demo", "proxy-down", "--out", str(blocker / "reports")]) == 2
    err = capsys.readouterr().err
    assert f"proxydiag demo: cannot write the reports into {blocker / 'reports'}" in err and "Traceback" not in err


def test_demo_without_squid_gives_the_install_command(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(lab_module, "find_squid", lambda: None)
    assert cli.main(["demo", "block-page", "--out", str(tmp_path)]) == 3
    assert lab_module.squid_install_hint() in capsys.readouterr().err


def test_default_demo_diagnoses_the_interception_and_leaves_nothing(tmp_path):
    require_squid()
    out = tmp_path / "reports"
    proc = subprocess.Popen([sys.executable, "-m", "pytest_proxydiag.cli", "demo", "--out", str(out)],
                            cwd=tmp_path, env=child_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stdout[-3000:] + stderr[-3000:]
    doc = json.loads((out / "proxydiag-report.json").read_text())
    assert doc["root_cause"] == "certificate.interception"
    assert (out / "proxydiag-ca" / "proxy-ca.pem").exists()  # the corporate CA, extracted
    assert "root cause: certificate.interception (as expected)" in stdout
    assert f"JSON report: {out / 'proxydiag-report.json'}" in stdout
    if cli._html_available():
        assert (out / "proxydiag-report.html").exists()
    assert "proxy diagnosis" in stdout  # the terminal report was streamed
    assert leftovers_of(proc.pid) == NOTHING
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reports"]  # nothing else in the cwd


@pytest.mark.parametrize("scenario", [
    "healthy", "wrong-password", "blocked-domain", "ssl-bump-trusted", "upstream-down", "proxy-down", "wrong-port",
])
def test_demo_root_cause_matches_the_lab_table(tmp_path, scenario):
    require_squid()
    result = run_cli(["demo", scenario, "--out", str(tmp_path / "r")], cwd=tmp_path)
    doc = json.loads((tmp_path / "r" / "proxydiag-report.json").read_text())
    assert doc["root_cause"] == Lab.scenario(scenario).expected_root_cause, result.stdout[-3000:]
    assert result.returncode == 0


@pytest.mark.parametrize("scenario", ["ssl-bump-untrusted", "blocked-domain", "wrong-password"])
def test_demo_on_the_proxypy_fallback(tmp_path, scenario):
    pytest.importorskip("proxy")
    result = run_cli(["demo", scenario, "--backend", "proxy.py", "--out", str(tmp_path / "r")], cwd=tmp_path)
    assert "proxy.py proxy at" in result.stdout
    doc = json.loads((tmp_path / "r" / "proxydiag-report.json").read_text())
    assert doc["root_cause"] == Lab.scenario(scenario).expected_root_cause, result.stdout[-3000:]
    assert result.returncode == 0


def _start_demo(tmp_path: Path, scenario: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "pytest_proxydiag.cli", "demo", scenario, "--out",
                             str(tmp_path / "r")], cwd=tmp_path, env=child_env(tmp_path), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    # Wait until the lab is up and the diagnosis has started.
    deadline = time.monotonic() + 30
    assert proc.stdout is not None
    for line in proc.stdout:
        if "expected root cause" in line or time.monotonic() > deadline:
            break
    time.sleep(1.5)
    assert proc.poll() is None, "the demo ended before it could be interrupted"
    assert leftovers_of(proc.pid)["processes"], "no lab process seen while the demo runs"
    return proc


def test_ctrl_c_mid_demo_leaves_nothing(tmp_path):
    require_squid()
    proc = _start_demo(tmp_path, "slow-origin")
    os.killpg(proc.pid, signal.SIGINT)  # what the terminal does on Ctrl-C: the whole foreground group
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr[-2000:]
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert leftovers_of(proc.pid) == NOTHING


def test_sigterm_to_the_demo_alone_stops_its_diagnosis_and_lab(tmp_path):
    require_squid()
    proc = _start_demo(tmp_path, "slow-origin")
    os.kill(proc.pid, signal.SIGTERM)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr[-2000:]
    assert leftovers_of(proc.pid) == NOTHING


def test_proxydiag_writes_reports_in_the_cwd_by_default(tmp_path):
    require_squid()
    with Lab("healthy") as lab:
        env = child_env(tmp_path)
        env.update(lab.env)
        result = subprocess.run([sys.executable, "-m", "pytest_proxydiag.cli", *lab.pytest_args, "-m", "auth"],
                                cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:]
    doc = json.loads((tmp_path / "proxydiag-report.json").read_text())
    assert doc["root_cause"] is None
    assert f"JSON report: {tmp_path / 'proxydiag-report.json'}" in result.stdout
    if cli._html_available():
        assert (tmp_path / "proxydiag-report.html").exists()
    assert not (tmp_path / ".pytest_cache").exists()


def test_proxydiag_keeps_the_users_report_paths(tmp_path):
    require_squid()
    with Lab("wrong-password") as lab:
        env = child_env(tmp_path)
        env.update(lab.env)
        result = subprocess.run([sys.executable, "-m", "pytest_proxydiag.cli", *lab.pytest_args, "-m", "auth",
                                 "--proxydiag-json", "mine.json", "--html=mine.html"],
                                cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stdout[-3000:]  # pytest's exit code: a step failed
    assert json.loads((tmp_path / "mine.json").read_text())["root_cause"] == "auth.credentials"
    assert not (tmp_path / "proxydiag-report.json").exists()
    assert not (tmp_path / "proxydiag-report.html").exists()


def test_demo_list_names_the_gateway_scenarios(capsys):
    # The audit looked for the gateway hop in `proxydiag demo --list` (the README's gateway section names the
    # scenarios) and found none: they could only be played from Python (GatewayLab).
    from pytest_proxydiag.lab.gateway import GATEWAY_SCENARIOS

    assert cli.main(["demo", "--list"]) == 0
    out = capsys.readouterr().out
    for name, info in GATEWAY_SCENARIOS.items():
        line = next(line for line in out.splitlines() if line.startswith(name + " "))
        assert (info.expected_root_cause or "none (healthy)") in line and info.description in line


def test_gateway_demo_runs_the_real_litellm_and_leaves_nothing(tmp_path):
    from pytest_proxydiag.lab.gateway import find_litellm, litellm_install_hint, nss_wrapper

    require_squid()
    if find_litellm() is None or nss_wrapper() is None:
        why = f"LiteLLM or libnss_wrapper is missing: {litellm_install_hint()}; apt-get install libnss-wrapper"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(why)
        pytest.skip(why)
    out = tmp_path / "reports"
    proc = subprocess.Popen([sys.executable, "-m", "pytest_proxydiag.cli", "demo", "gateway-egress-untrusted",
                             "--out", str(out)], cwd=tmp_path, env=child_env(tmp_path), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    stdout, stderr = proc.communicate(timeout=180)
    assert proc.returncode == 0, stdout[-3000:] + stderr[-3000:]
    doc = json.loads((out / "proxydiag-report.json").read_text())
    assert doc["root_cause"] == "gateway.provider_path"
    assert "LiteLLM gateway at http://litellm.corp.internal:" in stdout
    assert "root cause: gateway.provider_path (as expected)" in stdout
    assert leftovers_of(proc.pid) == NOTHING
    left = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if f"proxydiag-lab-{proc.pid}-".encode() in cmdline.read_bytes():
                left.append(cmdline)
        except OSError:
            continue
    assert not left, "a LiteLLM of the demo still runs"
