"""The public API for site tests: ``from pytest_proxydiag import ...``, lazily loaded and documented."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import pytest_proxydiag

ROOT = Path(__file__).resolve().parent.parent
PUBLIC = [n for n in pytest_proxydiag.__all__ if n != "__version__"]


@pytest.mark.parametrize("name", PUBLIC)
def test_every_public_name_resolves_to_its_defining_module(name):
    obj = getattr(pytest_proxydiag, name)
    assert obj.__name__ == name
    assert obj.__module__ == pytest_proxydiag._PUBLIC[name]
    assert name in dir(pytest_proxydiag)


def test_an_unknown_name_is_an_attribute_error_and_submodules_still_import():
    with pytest.raises(AttributeError, match="no attribute 'NoSuchThing'"):
        pytest_proxydiag.NoSuchThing  # noqa: B018
    from pytest_proxydiag import catalog

    assert catalog.__name__ == "pytest_proxydiag.catalog"


def test_the_dormant_plugin_loads_none_of_the_modules_behind_the_api():
    """``import pytest_proxydiag`` (which every pytest run does through the entry point) stays cheap."""
    code = ("import json, sys, pytest, pytest_proxydiag, pytest_proxydiag.plugin\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.startswith(('pytest_proxydiag', 'cryptography', "
            "'OpenSSL', 'requests', 'urllib3', 'yaml')))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, check=True).stdout
    loaded = set(json.loads(out))
    assert loaded <= {"pytest_proxydiag", "pytest_proxydiag.plugin", "pytest_proxydiag.core",
                      "pytest_proxydiag.core.config", "pytest_proxydiag.core.flowchart",
                      "pytest_proxydiag.core.state"}, loaded


def _imports_of(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pytest_proxydiag"):
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.startswith("pytest_proxydiag")]
    return found


@pytest.mark.parametrize("path", sorted((ROOT / "examples").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_examples_import_only_the_public_api(path):
    for module in _imports_of(path):
        assert module == "pytest_proxydiag", f"{path.name} imports {module}; use `from pytest_proxydiag import ...`"


def test_the_readme_documents_every_public_name():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Public API", 1)[1].split("\n## ", 1)[0]
    missing = [n for n in PUBLIC if f"`{n}`" not in section]
    assert not missing, f"README's Public API section lacks {missing}"


def test_a_site_test_written_against_the_public_api_runs(pytester):
    pytester.makepyfile(test_site="""
        import pytest
        from pytest_proxydiag import Cause, Target, TcpResult

        @pytest.mark.proxydiag_step("site.gateway", title="Gateway reachable", solution="Connect the VPN: {detail}")
        def test_gateway(proxydiag_probes, proxydiag_step):
            gateway = Target("http://127.0.0.1:9", "site")
            result = proxydiag_probes.tcp_connect(gateway.host, gateway.port)
            assert isinstance(result, TcpResult)
            if result.cause is Cause.REFUSED:
                proxydiag_step.fail("default", detail=f"{gateway.hostport} refused")
    """)
    json_path = pytester.path / "r.json"
    pytester.runpytest_inprocess("--proxydiag", "test_site.py", "-m", "site", "-p", "no:cacheprovider",
                                 "--proxydiag-json", str(json_path))
    step = json.loads(json_path.read_text())["steps"][0]
    assert step["id"] == "site.gateway" and step["outcome"] == "failed"
    assert step["solution"] == "Connect the VPN: 127.0.0.1:9 refused"
