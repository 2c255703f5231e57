"""The built wheel ships the bundled steps: `pytest --proxydiag` works from any directory after `pip install`."""

from __future__ import annotations

import os
import subprocess
import zipfile
from pathlib import Path

import pytest

from conftest import pip_offline, require_offline_build

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    # Built by this environment's setuptools, without the package index.
    require_offline_build()
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(pip_offline("wheel", "--no-deps", "-w", str(out), str(ROOT)), check=True, timeout=300)
    return next(out.glob("pytest_proxydiag-*.whl"))


def test_wheel_contains_the_bundled_steps_and_entry_points(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert "pytest_proxydiag/diag_tests/test_auth.py" in names
    assert "pytest_proxydiag/diag_tests/test_connectivity.py" in names
    assert not any(n.startswith("diag_tests/") for n in names), "diag_tests must not be a top-level package"
    ep = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(ep).decode()
    assert "[pytest11]" in text and "proxydiag = pytest_proxydiag.plugin" in text


def test_installed_wheel_runs_the_diagnosis_from_any_directory(wheel, tmp_path, child_venv):
    # A fresh venv that sees this environment's packages for the dependencies only; the wheel installed
    # into it takes precedence over any editable checkout (PYTHONPATH, which would shadow it, is dropped).
    subprocess.run(pip_offline("install", "--no-deps", str(wheel), python=child_venv), check=True,
                   timeout=300)
    env_dir = child_venv.parent.parent
    py = child_venv
    elsewhere = tmp_path / "somewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items()
           if "proxy" not in k.lower() and k not in ("PYTEST_ADDOPTS", "PYTHONPATH")}
    env["HOME"] = str(tmp_path)
    where = subprocess.run([str(py), "-c", "import pytest_proxydiag.plugin as p; print(p.bundled_dir())"],
                           cwd=elsewhere, env=env, capture_output=True, text=True, timeout=60)
    assert str(env_dir) in where.stdout, where.stdout + where.stderr
    run = subprocess.run([str(py), "-m", "pytest", "--proxydiag", "-p", "no:cacheprovider", "-m", "auth",
                          "--proxydiag-json", "out.json"], cwd=elsewhere, env=env, capture_output=True, text=True,
                         timeout=120)
    assert "proxy diagnosis" in run.stdout, run.stdout + run.stderr
    assert (elsewhere / "out.json").exists()
    assert run.returncode == 0, run.stdout[-2000:]
