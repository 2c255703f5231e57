"""The project's own tests: a loopback guard for the whole run, and helpers to run a diagnosis.

Everything these tests contact is on 127.0.0.1/::1.  The guard below makes that
a property of the test process rather than a promise: a connect or a name
lookup for anything else fails loudly.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

# pytester's in-process runs drop the modules first imported inside them; modules
# with native bindings (cryptography) must not be imported twice, or their classes
# stop matching ("curve must be an EllipticCurve instance").  Import them here, once.
import cryptography.hazmat.primitives.asymmetric.ec  # noqa: E402,F401
import cryptography.hazmat.primitives.asymmetric.rsa  # noqa: E402,F401
# requests too: a diagnosis run in-process imports it first otherwise, and the copy pytester leaves
# behind is not the one the tests use ("You can only merge into CookieJar").
import requests  # noqa: E402,F401
import requests.cookies  # noqa: E402,F401
import cryptography.x509  # noqa: E402,F401
import cryptography.x509.verification  # noqa: E402,F401
import trustme  # noqa: E402,F401

try:
    import OpenSSL.SSL  # noqa: F401
except ImportError:  # pragma: no cover
    pass

_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}
_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo


class OutsideNetworkError(OSError):
    pass


def _is_loopback(host) -> bool:
    if isinstance(host, bytes):
        host = host.decode()
    host = str(host).strip("[]").split("%")[0]
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _guarded_connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
        raise OutsideNetworkError(f"loopback guard: refusing to connect to {address!r}")
    return _real_connect(self, address)


def _guarded_connect_ex(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
        raise OutsideNetworkError(f"loopback guard: refusing to connect to {address!r}")
    return _real_connect_ex(self, address)


def _guarded_getaddrinfo(host, *args, **kwargs):
    if host is not None and not _is_loopback(host):
        raise socket.gaierror(socket.EAI_NONAME, f"loopback guard: refusing to resolve {host!r}")
    return _real_getaddrinfo(host, *args, **kwargs)


socket.socket.connect = _guarded_connect
socket.socket.connect_ex = _guarded_connect_ex
socket.getaddrinfo = _guarded_getaddrinfo


def missing_tool(message: str):
    """Skip a test whose tool is missing, with the install command; under CI=true, where .ci/run installs
    every tool, fail instead."""
    __tracebackhide__ = True
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message}; under CI=true this is an error, not a skip")
    pytest.skip(message)


def squid_binary() -> str | None:
    return shutil.which("squid") or (os.path.exists("/usr/sbin/squid") and "/usr/sbin/squid") or None


def require_squid() -> str:
    """The squid binary, or skip (an error under CI=true, where .ci/run installs it)."""
    path = squid_binary()
    if path:
        return path
    missing_tool("squid is not installed (Debian: apt-get install squid-openssl)")


# -- building and installing packages without the package index ----------------------
def require_offline_build() -> None:
    """Skip unless this environment builds wheels by itself (``pip --no-build-isolation``, no index).

    setuptools builds wheels without the separate ``wheel`` package from 70.1 on; the ``[test]`` extra
    installs such a setuptools.
    """
    from importlib.metadata import PackageNotFoundError, version

    def release(name: str) -> tuple[int, ...]:
        try:
            return tuple(int(p) for p in version(name).split(".")[:2] if p.isdigit())
        except PackageNotFoundError:
            return ()

    if release("setuptools") >= (70, 1) or (release("setuptools") >= (64,) and release("wheel")):
        return
    missing_tool("building a wheel without the package index needs setuptools>=70.1 in this environment "
                 "(pip install 'setuptools>=70.1', or pip install -e '.[test]')")


def pip_offline(command: str, *args: str, python: Path | None = None) -> list[str]:
    """A pip command that never contacts the package index (every package it needs is given or present);
    *python*: the environment to install into (this one's pip does the work)."""
    target = ["--python", str(python)] if python is not None else []
    return [sys.executable, "-m", "pip", *target, command, "--no-index", "--no-build-isolation",
            "--disable-pip-version-check", "-q", *args]


@pytest.fixture
def child_venv(tmp_path):
    """A fresh venv (no pip) that sees the packages of the environment running the tests.

    ``system_site_packages=True`` would not do: from inside a venv it shows the *base* interpreter's
    packages, not the venv's, so the plugin and its dependencies would be missing.  A ``.pth`` file
    instead adds this interpreter's own site directories (processing their ``.pth`` files, so an
    editable install works too), after the child's own site-packages: what is installed into the
    child wins.  Returns the child's python.
    """
    import site
    import venv

    env_dir = tmp_path / "child-venv"
    venv.EnvBuilder(system_site_packages=False, with_pip=False, symlinks=os.name != "nt").create(env_dir)
    python = env_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    child_site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                capture_output=True, text=True, check=True, timeout=60).stdout.strip()
    ours = list(site.getsitepackages())
    if site.ENABLE_USER_SITE and os.path.isdir(site.getusersitepackages()):
        ours.append(site.getusersitepackages())
    lines = [f"import site; site.addsitedir({d!r})" for d in ours if os.path.isdir(d)]
    Path(child_site, "_outer_environment.pth").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return python


# -- running a real diagnosis --------------------------------------------------
import json  # noqa: E402
from dataclasses import dataclass  # noqa: E402

#: Every variable the plugin or a client reads for proxy and trust decisions.
CONFIG_VARS = (
    "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy",
    "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS",
    "NODE_TLS_REJECT_UNAUTHORIZED", "PYTHONHTTPSVERIFY", "NETRC", "LITELLM_CONFIG", "ANTHROPIC_BASE_URL",
    "AWS_REGION", "AWS_DEFAULT_REGION", "CLOUD_ML_REGION", "API_TIMEOUT_MS", "ANTHROPIC_TIMEOUT",
    "NODE_USE_ENV_PROXY", "AIOHTTP_TRUST_ENV", "PYTEST_ADDOPTS",
    # boto3's CA and profile (a machine may export AWS_CA_BUNDLE), Claude Code's cloud modes.
    "AWS_CA_BUNDLE", "AWS_PROFILE", "AWS_CONFIG_FILE", "CLAUDE_CODE_USE_BEDROCK", "CLAUDE_CODE_USE_VERTEX",
)


@dataclass
class DiagRun:
    """One in-process ``pytest --proxydiag`` run and its JSON report."""

    result: "pytest.RunResult"
    doc: dict
    json_path: Path

    @property
    def steps(self) -> list[dict]:
        return self.doc["steps"]

    def step(self, step_id: str, **params) -> dict:
        """The one result of *step_id* (with matching params); fails if not exactly one."""
        found = [s for s in self.steps if s["id"] == step_id and all(s["params"].get(k) == v
                                                                       for k, v in params.items())]
        assert len(found) == 1, f"{step_id}: {len(found)} results in {[s['id'] for s in self.steps]}"
        return found[0]

    def outcomes(self) -> dict[str, str]:
        return {s["id"] + ("[" + ",".join(map(str, s["params"].values())) + "]" if s["params"] else ""):
                s["outcome"] for s in self.steps}

    def failed(self) -> set[str]:
        return {s["id"] for s in self.steps if s["outcome"] == "failed"}

    @property
    def root_cause(self):
        return self.doc["root_cause"]

    @property
    def output(self) -> str:
        return self.result.stdout.str() + "\n" + self.result.stderr.str()


@pytest.fixture
def diag_home(tmp_path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    return home


@pytest.fixture
def run_diag(pytester, monkeypatch, diag_home):
    """Run the real plugin in-process: ``run_diag(*pytest_args, env={...})`` -> DiagRun.

    The process environment is cleared of every proxy/CA variable and HOME
    points at an empty temporary directory, so the user's own configuration
    never leaks into a test; *env* then sets exactly what the scenario needs.
    """
    def run(*args: str, env: dict | None = None, lab=None) -> DiagRun:
        for name in CONFIG_VARS:
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HOME", str(diag_home))
        merged = dict(lab.env) if lab is not None else {}
        merged.update(env or {})
        for k, v in merged.items():
            monkeypatch.setenv(k, v)
        json_path = pytester.path / f"diag-{len(list(pytester.path.glob('diag-*.json')))}.json"
        all_args = ["--proxydiag", "-p", "no:cacheprovider", "--proxydiag-json", str(json_path)]
        if lab is not None:
            all_args += list(lab.pytest_args)
        result = pytester.runpytest_inprocess(*all_args, *args)
        assert json_path.exists(), result.stdout.str()[-3000:] + "\n" + result.stderr.str()[-3000:]
        return DiagRun(result, json.loads(json_path.read_text()), json_path)

    return run


@pytest.fixture
def lab_factory():
    """Start lab scenarios (``lab_factory("healthy")``), all stopped at teardown; squid required."""
    from pytest_proxydiag.lab import Lab

    started = []

    def start(name: str, **kwargs):
        if kwargs.get("backend", "squid") == "squid":
            require_squid()
        lab = Lab(name, **kwargs)
        lab.__enter__()
        started.append(lab)
        return lab

    yield start
    for lab in started:
        lab.stop()


# -- nothing left behind ---------------------------------------------------------
def _lab_leftovers(pid: int) -> list[str]:
    """Squid processes, shared-memory segments and temp dirs of labs started by this process."""
    import glob
    import tempfile

    marker = f"proxydiaglab{pid}n"
    found = [p for p in glob.glob(f"/dev/shm/{marker}*")]
    found += [p for p in glob.glob(os.path.join(tempfile.gettempdir(), f"proxydiag-lab-{pid}-*"))]
    for cmdline in glob.glob("/proc/[0-9]*/cmdline"):
        try:
            with open(cmdline, "rb") as f:
                if marker.encode() in f.read():
                    found.append(cmdline.split("/")[2] + " (squid)")
        except OSError:
            continue
    return found


def pytest_sessionfinish(session, exitstatus):
    """Every lab the tests started is gone: no Squid, no /dev/shm segment, no temp dir (issue #12)."""
    if hasattr(session.config, "workerinput"):
        return
    left = _lab_leftovers(os.getpid())
    if left:
        session.config.get_terminal_writer().line(f"lab leftovers after the test run: {left}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# -- figures the tests measured ----------------------------------------------------
#: ``record_property`` names whose values are shown at the end of the run (and land in JUnit XML).
_SUMMARY_PROPERTIES = ("triage accuracy", "triage held-out miss")
#: The held-out misses are shown only with -v: whoever writes rules with -q must not see the held-out texts.
_VERBOSE_ONLY = ("triage held-out miss",)


def pytest_terminal_summary(terminalreporter, config):
    """Show the measured figures (triage accuracy on the tuning and held-out parts) in the test output."""
    shown = [name for name in _SUMMARY_PROPERTIES if config.getoption("verbose") > 0 or name not in _VERBOSE_ONLY]
    lines = []
    for reports in terminalreporter.stats.values():
        for report in reports:
            if getattr(report, "when", None) != "call":
                continue
            lines += [f"{name}: {value}" if name != "triage accuracy" else str(value)
                      for name, value in getattr(report, "user_properties", ()) if name in shown]
    if lines:
        terminalreporter.section("measured figures")
        for line in lines:
            terminalreporter.line(line)
