"""Site-specific tests: the examples, and a pip-installed site pack found through its entry point."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from conftest import pip_offline, require_offline_build

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def test_example_site_steps_report_like_bundled_ones(run_diag, lab_factory, monkeypatch):
    lab = lab_factory("healthy")
    monkeypatch.setenv("ACME_GATEWAY", "http://127.0.0.1:1")          # nothing listens there
    monkeypatch.setenv("ACME_CA_NAME", "ACME Corporate Root")
    bundle = Path(lab.public_roots)
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))                  # a bundle without the ACME root
    run = run_diag(str(EXAMPLES / "site_tests"), "-m", "connectivity or site or certificate or bypass", lab=lab)
    gateway = run.step("site.gateway_direct")
    assert gateway["outcome"] == "failed" and gateway["site"] is True
    assert "export NO_PROXY=\"$NO_PROXY,127.0.0.1\"" in gateway["solution"]
    ca = run.step("certificate.acme_ca_in_bundle")
    assert ca["outcome"] == "failed" and "does not contain 'ACME Corporate Root'" in ca["finding"]
    assert "update-ca-certificates" in ca["solution"]
    assert run.step("bypass.acme_pac")["outcome"] == "skipped"
    # A site step can be the root cause, and shows in the terminal report like a bundled one.
    assert "Internal LLM gateway reachable without the proxy" in run.output


def test_example_gateway_step_passes_when_the_gateway_answers(run_diag, lab_factory, monkeypatch):
    lab = lab_factory("healthy")
    port = lab.http_target_url.rsplit(":", 1)[1]
    monkeypatch.setenv("ACME_GATEWAY", f"http://127.0.0.1:{port}")
    run = run_diag(str(EXAMPLES / "site_tests"), "-m", "site", lab=lab)
    assert run.step("site.gateway_direct")["outcome"] == "passed"


def test_installed_site_pack_is_collected_without_a_path(tmp_path, child_venv):
    # Installed into a fresh venv that sees this environment's packages (the plugin among them), with
    # pip never contacting the package index: the site pack is built by this environment's setuptools.
    require_offline_build()
    subprocess.run(pip_offline("install", "--no-deps", str(EXAMPLES / "acme-proxydiag"), python=child_venv),
                   check=True, timeout=300)
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower() and k != "PYTEST_ADDOPTS"}
    env.update(HOME=str(tmp_path), HTTPS_PROXY="http://127.0.0.1:1")
    run = subprocess.run([str(child_venv), "-m", "pytest", "--proxydiag", "-p", "no:cacheprovider", "-m", "site",
                          "--proxydiag-json", "out.json"], cwd=work, env=env, capture_output=True, text=True,
                         timeout=120)
    assert "site.acme_proxy_declared" in run.stdout, run.stdout[-3000:] + run.stderr[-2000:]
    assert "not proxy.acme.example" in run.stdout
    assert run.returncode == 1
