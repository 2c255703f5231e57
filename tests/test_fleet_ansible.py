"""examples/ansible for real: ansible-playbook diagnoses several local hosts, each behind its own lab proxy.

Six inventory hosts: four with ``ansible_connection=local`` whose login-shell profile points at a
different lab scenario (healthy, wrong-password, ssl-bump-untrusted, blocked-domain), one that
Ansible cannot reach (ssh to a closed loopback port) and one whose run fails.  The fleet aggregate
must put every host in its group, lose none, and hold no lab password; its HTML is checked in
headless Chromium like the single report (tests/test_html_browser.py).

Skips where ansible-core is missing (under CI=true that is an error).
Set ``PROXYDIAG_FLEET_SCREENSHOT_TO=docs/fleet-screenshot.png`` to keep the screenshot.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import require_squid
from pytest_proxydiag.cli import clean_environment
from pytest_proxydiag.lab import PASSWORD, WRONG_PASSWORD
from test_html_browser import browser, run_browser

ROOT = Path(__file__).resolve().parent.parent
PLAYBOOK = ROOT / "examples" / "ansible" / "proxydiag-fleet.yml"
INSTALL_HINT = "pip install 'ansible-core>=2.15,<2.20'  (or: pip install -e '.[test]')"
SCENARIOS = {"dev-healthy": "healthy", "dev-wrong-password": "wrong-password",
             "dev-ssl-bump": "ssl-bump-untrusted", "dev-blocked": "blocked-domain"}
EXPECTED_GROUPS = {"healthy": ["dev-healthy"], "auth.credentials": ["dev-wrong-password"],
                   "certificate.interception": ["dev-ssl-bump"], "policy.domain_allowed": ["dev-blocked"],
                   "unreachable": ["dev-offline"], "run_failed": ["dev-broken"]}

#: Reads the rendered groups back out of the page: state -> host names, and the order of the sections.
PROBE_SCRIPT = """<script>window.addEventListener('load', () => setTimeout(() => {
  const groups = {};
  document.querySelectorAll('section.fl-group').forEach((g) => {
    groups[g.dataset.state] = Array.from(g.querySelectorAll('li.fl-host')).map((li) => li.textContent);
  });
  const top = (id) => Math.round(document.getElementById(id).getBoundingClientRect().top);
  document.body.setAttribute('data-fleet', JSON.stringify({groups,
    order: [top('fleet-summary'), top('fleet-groups'), top('fleet-fixes'), top('fleet-steps')],
    stepRows: document.querySelectorAll('tr.fl-step').length,
    width: Math.round(document.querySelector('.fl-group').getBoundingClientRect().width)}));
}, 300));</script>"""


def ansible_playbook() -> str:
    path = shutil.which("ansible-playbook")
    if path:
        return path
    message = f"ansible-core is not installed: {INSTALL_HINT}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message}; under CI=true this is an error, not a skip")
    pytest.skip(message)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def profile_for(env: dict[str, str]) -> str:
    """A developer's ~/.profile that exports the lab's proxy settings."""
    return "".join(f"export {name}={shlex.quote(value)}\n" for name, value in sorted(env.items()))


@pytest.fixture
def fleet_run(lab_factory, tmp_path):
    """Run the playbook once over six hosts; returns (completed process, fleet dir, aggregate dir)."""
    exe = ansible_playbook()
    require_squid()
    python_path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    hosts: dict[str, dict] = {}
    for host, scenario in SCENARIOS.items():
        lab = lab_factory(scenario)
        home = tmp_path / "homes" / host
        home.mkdir(parents=True)
        (home / ".profile").write_text(profile_for(lab.env))
        hosts[host] = {"ansible_connection": "local", "proxydiag_workdir": str(tmp_path / "work" / host),
                       "proxydiag_environment": {"HOME": str(home), "PYTHONPATH": python_path},
                       "proxydiag_extra_args": list(lab.pytest_args)}
    hosts["dev-offline"] = {"ansible_connection": "ssh", "ansible_host": "127.0.0.1",
                            "ansible_port": closed_port(), "ansible_user": "nobody"}
    hosts["dev-broken"] = {"ansible_connection": "local", "proxydiag_workdir": str(tmp_path / "work" / "broken"),
                           "proxydiag_command": str(tmp_path / "no-such-dir" / "proxydiag")}
    return run_playbook(exe, tmp_path, hosts, python_path)


def run_playbook(exe: str, tmp_path: Path, hosts: dict, python_path: str):
    """ansible-playbook over *hosts* with the test's controller settings; (process, fleet dir, aggregate dir)."""
    inventory = {"all": {"hosts": hosts, "vars": {
        "ansible_python_interpreter": sys.executable,
        "proxydiag_install": False,  # the package under test is already importable (PYTHONPATH)
        "proxydiag_command": f"{shlex.quote(sys.executable)} -m pytest_proxydiag.cli",
        "proxydiag_clients": "curl,requests", "proxydiag_timeout": 5, "proxydiag_run_timeout": 240}}}
    (tmp_path / "inventory.yml").write_text(json.dumps(inventory))  # JSON is YAML
    fleet_root, out = tmp_path / "fleet", tmp_path / "report"
    extra = {"proxydiag_fleet_root": str(fleet_root), "proxydiag_fleet_out": str(out),
             "proxydiag_fleet_command": [sys.executable, "-m", "pytest_proxydiag.cli", "fleet"]}
    controller_home = tmp_path / "controller"
    controller_home.mkdir()
    env = clean_environment(os.environ)
    env.update({"HOME": str(controller_home), "ANSIBLE_HOME": str(controller_home / ".ansible"),
                "ANSIBLE_LOCAL_TEMP": str(controller_home / "tmp"), "ANSIBLE_NOCOLOR": "1",
                "ANSIBLE_HOST_KEY_CHECKING": "False", "ANSIBLE_RETRY_FILES_ENABLED": "False",
                "ANSIBLE_SSH_ARGS": "-o ConnectTimeout=5 -o BatchMode=yes", "ANSIBLE_FORKS": "6",
                "PYTHONPATH": python_path})
    run = subprocess.run([exe, "-i", str(tmp_path / "inventory.yml"), str(PLAYBOOK), "-e", json.dumps(extra)],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=280)
    return run, fleet_root, out


def test_a_host_without_python_is_a_failed_run_not_an_unreachable_one(tmp_path):
    """Ansible reaches the host (its shell answers) but finds no Python for its modules: the audit saw it listed
    as *unreachable* ("the host dropped out of the play"), and the playbook exit 2; it is a failed run whose
    reason says what is missing and how to give it."""
    exe = ansible_playbook()
    python_path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    hosts = {"dev-no-python": {"ansible_connection": "local",
                               "ansible_python_interpreter": str(tmp_path / "no-python" / "python3")}}
    run, fleet_root, out = run_playbook(exe, tmp_path, hosts, python_path)
    log = run.stdout[-6000:] + run.stderr[-3000:]
    assert run.returncode == 0, log
    (status_file,) = list(fleet_root.glob("*/dev-no-python.json"))
    status = json.loads(status_file.read_text())
    assert status["status"] == "run_failed" and status["task"] == "Reach the host", status
    assert "was not found" in status["reason"] and "Install Python 3 on the host" in status["reason"]
    assert "ansible_python_interpreter" in status["reason"]
    doc = json.loads((out / "fleet.json").read_text())
    assert [(g["kind"], g["hosts"]) for g in doc["groups"]] == [("run_failed", ["dev-no-python"])]
    assert "Install Python 3 on the host" in doc["groups"][0]["finding"]


def test_install_failures_name_their_cause_and_a_wheel_urls_token_stays_out_of_every_output(tmp_path):
    """Host vars with secrets: a wheel URL with a token (as the README suggests for an internal server) and an
    index URL with a password. The audit found the token in ansible-playbook's output (the failed pip task's
    "cmd"); and a proxydiag_python that does not exist gave the reason "Error executing command." alone."""
    exe = ansible_playbook()
    token, index_password = "S3cretWheelTok77", "IdxPassw0rd55"
    python_path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    closed = closed_port()
    hosts = {
        "dev-wheel-token": {
            "ansible_connection": "local", "proxydiag_install": True,
            "proxydiag_package": f"https://ci:{token}@127.0.0.1:{closed}/pytest_proxydiag-0.1.0-py3-none-any.whl",
            "proxydiag_environment": {"PIP_INDEX_URL": f"https://u:{index_password}@127.0.0.1:{closed}/simple",
                                      "PIP_RETRIES": "0", "PIP_TIMEOUT": "2"},
            "proxydiag_workdir": str(tmp_path / "work" / "token"), "proxydiag_venv": str(tmp_path / "venv-token")},
        "dev-no-python3": {
            "ansible_connection": "local", "proxydiag_install": True,
            "proxydiag_python": str(tmp_path / "no-such-python3"),
            "proxydiag_workdir": str(tmp_path / "work" / "nopy"), "proxydiag_venv": str(tmp_path / "venv-nopy")},
    }
    run, fleet_root, out = run_playbook(exe, tmp_path, hosts, python_path)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-3000:]
    statuses = {p.stem: json.loads(p.read_text()) for p in fleet_root.glob("*/*.json")}
    assert {h: s["status"] for h, s in statuses.items()} == {"dev-wheel-token": "run_failed",
                                                             "dev-no-python3": "run_failed"}
    texts = [run.stdout, run.stderr, (out / "fleet.json").read_text(), (out / "fleet.html").read_text()]
    texts += [p.read_text() for p in fleet_root.glob("*/*.json")]
    for text in texts:
        assert token not in text and index_password not in text
    assert "Connection refused" in statuses["dev-wheel-token"]["reason"]
    assert str(tmp_path / "no-such-python3") in statuses["dev-no-python3"]["reason"], statuses


def test_playbook_diagnoses_each_host_and_the_fleet_report_groups_them(fleet_run, tmp_path):
    run, fleet_root, out = fleet_run
    log = run.stdout[-6000:] + run.stderr[-3000:]
    assert run.returncode == 0, log
    doc = json.loads((out / "fleet.json").read_text())
    groups = {g["root_cause"] or g["kind"]: g["hosts"] for g in doc["groups"]}
    assert groups == EXPECTED_GROUPS, f"{groups}\n{json.dumps(doc['groups'], indent=1)[:4000]}\n{log[-2000:]}"
    # Nothing lost: one JSON per inventory host on the controller, one host each in the aggregate.
    (run_dir,) = list(fleet_root.iterdir())
    assert sorted(p.stem for p in run_dir.glob("*.json")) == sorted(h for g in EXPECTED_GROUPS.values() for h in g)
    assert doc["totals"] | {"rejected": 0} == {"hosts": 6, "reports": 4, "status_files": 2, "healthy": 1,
                                               "failing": 3, "not_assessed": 2, "rejected": 0}
    assert doc["rejected"] == []
    offline = next(g for g in doc["groups"] if g["kind"] == "unreachable")
    assert "127.0.0.1" in offline["finding"] or "refused" in offline["finding"].lower(), offline
    broken = next(g for g in doc["groups"] if g["kind"] == "run_failed")
    assert "no-such-dir" in broken["finding"], broken
    # What they share comes from the real runs: the interception CA of the lab's Squid, its product name.
    bump = next(g for g in doc["groups"] if g["root_cause"] == "certificate.interception")
    assert bump["common"]["issuer"] == "OU=Proxy Inspection CA (lab only),O=Example Corp"
    auth = next(g for g in doc["groups"] if g["root_cause"] == "auth.credentials")
    assert auth["common"]["product"].lower().startswith("squid")
    assert [f["host"] for f in doc["fixes"]["verified"]] == ["dev-ssl-bump"]
    # The options the team set reached the diagnosis (--proxydiag-clients, --proxydiag-timeout).
    report = json.loads((run_dir / "dev-wrong-password.json").read_text())
    assert report["config"]["clients"]["value"] == "curl,requests" and report["config"]["timeout"]["value"] == 5
    assert report["config"]["proxy"]["source"] == "env:HTTPS_PROXY"  # from the login shell's ~/.profile
    # No secret anywhere: the aggregate, its page, the fetched files, Ansible's output.
    texts = [run.stdout, run.stderr, (out / "fleet.html").read_text(), (out / "fleet.json").read_text()]
    texts += [p.read_text() for p in run_dir.glob("*.json")]
    for text in texts:
        assert PASSWORD not in text and WRONG_PASSWORD not in text

    # The page in a real browser: every group holds its hosts, the groups come before the step table.
    page = (out / "fleet.html").read_text()
    assert not re.search(r"""(src|href)=["']https?://""", page)
    rendered = rendered_layout(tmp_path, page)
    assert rendered["groups"] == EXPECTED_GROUPS
    assert rendered["order"] == sorted(rendered["order"]) and rendered["stepRows"] == len(doc["steps"])
    assert rendered["width"] > 600, rendered
    screenshot(tmp_path, out / "fleet.html")


def rendered_layout(tmp_path: Path, page: str) -> dict:
    """What headless Chromium renders of *page*, as PROBE_SCRIPT reports it."""
    probe = tmp_path / "probe.html"
    probe.write_text(page.replace("</body>", PROBE_SCRIPT + "</body>"))
    args = ("--virtual-time-budget=5000", "--window-size=1400,2000", "--dump-dom", probe.as_uri())
    dom = run_browser(browser(), tmp_path, *args)
    found = re.search(r'data-fleet="([^"]+)"', dom.stdout)
    assert found, dom.stderr[-2000:]
    return json.loads(found.group(1).replace("&quot;", '"'))


def screenshot(tmp_path: Path, page: Path) -> None:
    """A real PNG of the page; kept where PROXYDIAG_FLEET_SCREENSHOT_TO says (the README's picture)."""
    shot = tmp_path / "fleet.png"
    done = run_browser(browser(), tmp_path, "--window-size=1280,1600", f"--screenshot={shot}", page.as_uri())
    assert shot.exists() and shot.stat().st_size > 30_000, done.stderr[-2000:]
    if os.environ.get("PROXYDIAG_FLEET_SCREENSHOT_TO"):
        shutil.copyfile(shot, os.environ["PROXYDIAG_FLEET_SCREENSHOT_TO"])
