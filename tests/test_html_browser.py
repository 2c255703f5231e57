"""The HTML report in a real browser: headless Chromium renders it offline, diagnosis on top.

Skips where no Chromium is installed (Debian: ``apt-get install -y chromium``).
Set ``PROXYDIAG_SCREENSHOT_TO=docs/report-screenshot.png`` to keep the screenshot.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import pytest

from pytest_proxydiag.core import flowchart

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars")

#: Measures the rendered layout and leaves it in a DOM attribute that --dump-dom prints.
PROBE_SCRIPT = """<script>window.addEventListener('load', () => setTimeout(() => {
  const top = (el) => el ? Math.round(el.getBoundingClientRect().top) : null;
  const svg = document.querySelector('svg.pd-flow');
  document.body.setAttribute('data-layout', JSON.stringify({
    verdict: top(document.querySelector('.pd-verdict')), environment: top(document.getElementById('environment')),
    table: top(document.getElementById('results-table')),
    rows: document.querySelectorAll('#results-table tbody.results-table-row').length,
    branchCells: document.querySelectorAll('#results-table td.col-branch').length,
    svgWidth: svg ? Math.round(svg.getBoundingClientRect().width) : 0,
    svgSteps: document.querySelectorAll('svg.pd-flow g.pd-step').length}));
}, 300));</script>"""


def browser() -> str:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("no Chromium installed (Debian: apt-get install -y chromium)")


def run_browser(exe: str, tmp_path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / "chromium-profile"
    return subprocess.run([exe, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True,
                          timeout=90)


def test_report_renders_in_headless_chromium_with_the_diagnosis_first(run_diag, lab_factory, pytester, tmp_path):
    exe = browser()
    run = run_diag("--html", "report.html", "--self-contained-html", lab=lab_factory("wrong-password"))
    assert run.root_cause == "auth.credentials"
    report = pytester.path / "report.html"
    page = report.read_text()
    # Works offline: nothing is loaded from the network (the pytest-html credit link is only a link).
    assert not re.search(r"""(src|href)=["']https?://(?!pypi\.python\.org/pypi/pytest-html)""", page)
    assert not re.search(r"<link[^>]+href=", page)

    probe = tmp_path / "probe.html"
    probe.write_text(page.replace("</body>", PROBE_SCRIPT + "</body>"))
    dom = run_browser(exe, tmp_path, "--virtual-time-budget=5000", "--window-size=1400,2000", "--dump-dom",
                      probe.as_uri())
    m = re.search(r'data-layout="([^"]+)"', dom.stdout)
    assert m, dom.stderr[-2000:]
    layout = json.loads(m.group(1).replace("&quot;", '"'))
    assert layout["verdict"] is not None and layout["verdict"] < layout["environment"] < layout["table"], layout
    assert layout["rows"] == len(run.steps) and layout["branchCells"] == layout["rows"], layout
    assert layout["svgWidth"] > 600 and layout["svgSteps"] == len(flowchart.STEP_IDS), layout

    shot = tmp_path / "report.png"
    done = run_browser(exe, tmp_path, "--window-size=1280,1700", f"--screenshot={shot}", report.as_uri())
    assert shot.exists() and shot.stat().st_size > 50_000, done.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    keep = os.environ.get("PROXYDIAG_SCREENSHOT_TO")
    if keep:
        shutil.copyfile(shot, keep)
