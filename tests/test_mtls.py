"""certificate.client_cert: the client certificate Claude Code presents (mTLS), against a lab gateway that demands one.

Each misconfiguration is provoked for real (no certificate, an expired one, a key of another certificate, an
encrypted key without its passphrase, a certificate the gateway does not know), and the fix is proven with
the real clients: curl --cert/--key and Claude Code with CLAUDE_CODE_CLIENT_CERT/KEY.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from pytest_proxydiag.branches.certificate import mtls
from pytest_proxydiag.lab.mtls import LAB_PASSPHRASE, ClientIdentities, MTLSGateway
from pytest_proxydiag.lab.servers import LabCA

CLAUDE = os.environ.get("PROXYDIAG_CLAUDE") or "/opt/proxydiag-claude/node_modules/.bin/claude"
STEP = ("-m", "certificate", "-k", "client_cert", "--proxydiag-clients", "none")


@pytest.fixture(scope="module")
def identities(tmp_path_factory):
    return ClientIdentities(tmp_path_factory.mktemp("client-ids"))


@pytest.fixture(scope="module")
def gateway(identities, tmp_path_factory):
    server_ca = LabCA("Example Public Roots", "Gateway (lab only)")
    gw = MTLSGateway(server_ca, tmp_path_factory.mktemp("gateway"), identities.ca_pem).start()
    ca_file = tmp_path_factory.mktemp("gateway-ca") / "gateway-ca.pem"
    ca_file.write_bytes(server_ca.cert_pem)
    gw.ca_file = str(ca_file)
    gw.url = f"https://localhost:{gw.port}"
    yield gw
    gw.stop()


def _env(identities, name: str | None, passphrase: str | None = None) -> dict:
    if name is None:
        return {}
    cert, key = identities.pairs[name]
    env = {"CLAUDE_CODE_CLIENT_CERT": cert, "CLAUDE_CODE_CLIENT_KEY": key}
    if passphrase:
        env["CLAUDE_CODE_CLIENT_KEY_PASSPHRASE"] = passphrase
    return env


# -- the files, without a handshake ------------------------------------------------------------------
@pytest.mark.parametrize("name, passphrase, problem", [
    ("valid", None, None),
    ("expired", None, "cert_expired"),
    ("mismatched", None, "key_mismatch"),
    ("encrypted", None, "passphrase_needed"),
    ("encrypted", "not-the-passphrase", "passphrase_wrong"),
    ("encrypted", LAB_PASSPHRASE, None),
])
def test_identity_files_are_judged_before_any_handshake(identities, name, passphrase, problem):
    identity = mtls.check_identity(_env(identities, name, passphrase))
    assert identity.configured and identity.problem == problem
    assert LAB_PASSPHRASE not in json.dumps(identity.as_dict())


def test_unreadable_and_non_pem_files(identities, tmp_path):
    assert mtls.check_identity({"CLAUDE_CODE_CLIENT_CERT": str(tmp_path / "nope.pem")}).problem == "cert_unreadable"
    der = tmp_path / "client.der"
    der.write_bytes(b"\x30\x82\x01\x00garbage")
    assert mtls.check_identity({"CLAUDE_CODE_CLIENT_CERT": str(der)}).problem == "cert_not_pem"
    cert_only = {"CLAUDE_CODE_CLIENT_CERT": identities.pairs["valid"][0]}
    assert mtls.check_identity(cert_only).problem == "key_missing"
    assert not mtls.check_identity({}).configured


# -- the diagnosis against the gateway -----------------------------------------------------------------
@pytest.mark.parametrize("name, outcome, key", [
    (None, "failed", "required_not_configured"),
    ("expired", "failed", "cert_expired"),
    ("mismatched", "failed", "key_mismatch"),
    ("untrusted", "failed", "rejected"),
    ("valid", "passed", None),
])
def test_client_cert_step_against_a_gateway_that_demands_one(run_diag, gateway, identities, name, outcome, key):
    run = run_diag(*STEP, "--proxydiag-gateway", gateway.url,
                   "--proxydiag-resolve", f"localhost:{gateway.port}:127.0.0.1", env=_env(identities, name))
    step = run.step("certificate.client_cert")
    assert (step["outcome"], step["finding_key"]) == (outcome, key), step
    if key == "required_not_configured":
        assert f"localhost:{gateway.port} asks for a client certificate" in step["finding"]
        assert 'export CLAUDE_CODE_CLIENT_CERT="<path to your certificate .pem>"' in step["solution"]
    elif key == "cert_expired":
        assert "('alice-expired', issued by 'Example Corp') is expired on" in step["finding"]
    elif key == "key_mismatch":
        assert f"CLAUDE_CODE_CLIENT_KEY={identities.pairs['mismatched'][1]} is not the private key" in step["finding"]
        assert "openssl pkey -in <key file> -pubout | openssl sha256" in step["solution"]
    elif key == "rejected":
        assert "refuses the client certificate 'mallory'" in step["finding"]
    else:
        assert f"the gateway localhost:{gateway.port} accepts it" in step["summary"]


# -- the fix, proven with the real clients ---------------------------------------------------------------
def _require(path: str | None, what: str) -> str:
    if path and os.path.exists(path):
        return path
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{what} is missing; under CI=true this is an error")
    pytest.skip(f"{what} is not installed")


def test_fix_proven_with_curl(gateway, identities):
    curl = _require(shutil.which("curl"), "curl (apt-get install curl)")
    base = [curl, "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10", "--noproxy", "*",
            "--cacert", gateway.ca_file, f"{gateway.url}/v1/messages", "-d", "{}"]
    without = subprocess.run(base, capture_output=True, text=True, timeout=30)
    assert without.returncode != 0, without
    cert, key = identities.pairs["valid"]
    fixed = subprocess.run(base + ["--cert", cert, "--key", key], capture_output=True, text=True, timeout=30)
    assert fixed.stdout == "401", fixed


def _claude(gateway, tmp_path, extra: dict) -> dict:
    home = tmp_path / f"home{len(list(tmp_path.iterdir()))}"
    (home / ".claude").mkdir(parents=True)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "ANTHROPIC_API_KEY": "sk-ant-proxydiag-dummy",
           "ANTHROPIC_BASE_URL": gateway.url, "NODE_EXTRA_CA_CERTS": gateway.ca_file, "DISABLE_AUTOUPDATER": "1",
           "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "CLAUDE_CODE_MAX_RETRIES": "0", **extra}
    proc = subprocess.run([CLAUDE, "-p", "hi", "--output-format", "json", "--bare"], env=env, capture_output=True,
                          text=True, timeout=90, cwd=str(home))
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines, proc.stderr[-2000:]
    return json.loads(lines[-1])


def test_fix_proven_with_claude_code(gateway, identities, tmp_path):
    _require(CLAUDE, "Claude Code (.ci/install-claude.sh)")
    without = _claude(gateway, tmp_path, {})
    assert without.get("api_error_status") is None, without
    cert, key = identities.pairs["encrypted"]
    fixed = _claude(gateway, tmp_path, {"CLAUDE_CODE_CLIENT_CERT": cert, "CLAUDE_CODE_CLIENT_KEY": key,
                                        "CLAUDE_CODE_CLIENT_KEY_PASSPHRASE": LAB_PASSPHRASE})
    assert fixed.get("api_error_status") == 401, fixed


def test_the_passphrase_never_reaches_a_report(run_diag, gateway, identities, pytester):
    """Rule 4: CLAUDE_CODE_CLIENT_KEY_PASSPHRASE is a secret like a password, in every output (a site test that
    prints the environment included)."""
    secret = "Pr0xyDiag-canary-passphrase"
    pytester.makepyfile(test_site_env="""
        import os
        def test_dump_env():
            assert False, "ENV " + " ".join(k + "=" + v for k, v in sorted(os.environ.items()) if "CLIENT" in k)
    """)
    cert, key = identities.pairs["encrypted"]
    run = run_diag("-m", "certificate or not certificate", "-k", "client_cert or dump_env", "--proxydiag-clients",
                   "none", "--proxydiag-gateway", gateway.url, str(pytester.path / "test_site_env.py"), env={
        "CLAUDE_CODE_CLIENT_CERT": cert, "CLAUDE_CODE_CLIENT_KEY": key, "CLAUDE_CODE_CLIENT_KEY_PASSPHRASE": secret})
    assert run.step("certificate.client_cert")["finding_key"] == "passphrase_wrong"
    assert "CLAUDE_CODE_CLIENT_KEY_PASSPHRASE=***" in run.output + run.json_path.read_text()
    assert secret not in run.output and secret not in run.json_path.read_text()


def test_a_relative_client_certificate_path_is_named_with_its_absolute_path(run_diag, identities, diag_home):
    """Measured with Claude Code 2.1.332 against the lab's mTLS gateway: CLAUDE_CODE_CLIENT_CERT/KEY given as
    relative paths (shell or settings env) work from the directory holding the files (401) and send no certificate
    from a project directory. Found from where the diagnosis runs is no proof Claude Code finds them."""
    import shutil
    from pathlib import Path

    cert, key = identities.pairs["valid"]
    shutil.copy(cert, "client.pem")  # pytester's directory: where the diagnosis runs
    shutil.copy(key, "client.key")
    (diag_home / ".claude").mkdir()
    settings = diag_home / ".claude" / "settings.json"
    settings.write_text(json.dumps({"env": {"CLAUDE_CODE_CLIENT_CERT": "client.pem",
                                            "CLAUDE_CODE_CLIENT_KEY": "client.key"}}))
    step = run_diag(*STEP).step("certificate.client_cert")
    assert step["outcome"] == "failed" and step["finding_key"] == "relative_path", step
    absolute = str(Path("client.pem").resolve())
    assert (f"CLAUDE_CODE_CLIENT_CERT=client.pem (in {settings}) is a relative path: Claude Code opens it from the "
            f"directory it starts in") in step["finding"], step["finding"]
    assert f'"CLAUDE_CODE_CLIENT_CERT": "{absolute}"' in step["solution"], step["solution"]
    # The settings file holds the values and wins over the shell: the fix edits it, it exports nothing.
    assert not step["fix"]["env"], step["fix"]
    assert step["fix"]["files"] == [
        {"path": str(settings), "change": f'set env.CLAUDE_CODE_CLIENT_CERT to "{absolute}"'},
        {"path": str(settings), "change": f'set env.CLAUDE_CODE_CLIENT_KEY to "{Path("client.key").resolve()}"'}]


def test_real_claude_opens_a_relative_client_certificate_from_where_it_starts(gateway, identities, tmp_path):
    _require(CLAUDE, "Claude Code (.ci/install-claude.sh)")
    home = tmp_path / "rel-home"
    (home / ".claude").mkdir(parents=True)
    (home / "proj").mkdir()
    cert, key = identities.pairs["valid"]
    shutil.copy(cert, home / "client.pem")
    shutil.copy(key, home / "client.key")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "ANTHROPIC_API_KEY": "sk-ant-proxydiag-dummy",
           "ANTHROPIC_BASE_URL": gateway.url, "NODE_EXTRA_CA_CERTS": gateway.ca_file, "DISABLE_AUTOUPDATER": "1",
           "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "CLAUDE_CODE_MAX_RETRIES": "0",
           "CLAUDE_CODE_CLIENT_CERT": "client.pem", "CLAUDE_CODE_CLIENT_KEY": "client.key"}

    def status(cwd):
        proc = subprocess.run([CLAUDE, "-p", "hi", "--output-format", "json", "--bare"], env=env, capture_output=True,
                              text=True, timeout=90, cwd=str(cwd))
        lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
        assert lines, proc.stderr[-2000:]
        return json.loads(lines[-1]).get("api_error_status")

    assert status(home) == 401
    assert status(home / "proj") is None
