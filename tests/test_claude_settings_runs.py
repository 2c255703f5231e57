"""Real Claude Code runs see the user's settings scopes (issue 17), without credentials or login.

The user's Claude Code applies the ``env`` block of every settings scope over
its shell; a proof run that ignored them said "works" while the user's client
failed (``CLAUDE_CODE_CERT_STORE=bundled`` in ~/.claude/settings.json).  The
real-client test plays the corporate machine exactly: the interception CA is
only in the OS bundle (``/etc/ssl/certs/ca-certificates.crt``, bind-mounted
in a private mount namespace around the real ``claude`` binary), no CA variable
is set.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from pytest_proxydiag.proof import claude_runner, clients
from pytest_proxydiag.proof.clients import describe, run_client

DEFAULT_CLAUDE = "/opt/proxydiag-claude/node_modules/.bin/claude"
CANARY = "sk-ant-api03-settingsCANARY0123456789abcdef"
OS_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


def _write(path: Path, doc: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))


_SETTINGS_DUMPER = """#!/bin/sh
cp "$CLAUDE_CONFIG_DIR/settings.json" "$PROXYDIAG_TEST_DUMP/settings.json"
env > "$PROXYDIAG_TEST_DUMP/claude.env"
exit 3
"""


def test_every_scope_reaches_the_run_minus_credentials(tmp_path, monkeypatch):
    home, project, dump = tmp_path / "home", tmp_path / "project", tmp_path / "dump"
    dump.mkdir()
    _write(home / ".claude" / "settings.json", {
        "apiKeyHelper": "/usr/local/bin/print-my-key", "env": {
            "CLAUDE_CODE_CERT_STORE": "bundled", "HTTPS_PROXY": "http://user-scope:1",
            "ANTHROPIC_API_KEY": CANARY, "ANTHROPIC_AUTH_TOKEN": "tok-canary-1234", "MY_HEADER": CANARY,
            "ANTHROPIC_CUSTOM_HEADERS": "x-api-key: secret-canary", "AWS_SECRET_ACCESS_KEY": "aws-canary-123",
            "ANTHROPIC_BASE_URL": "https://users-gateway.example", "CLAUDE_CODE_MAX_RETRIES": "9"}})
    _write(project / ".claude" / "settings.json", {"env": {"HTTPS_PROXY": "http://project-scope:2", "P": "1"}})
    _write(project / ".claude" / "settings.local.json", {"env": {"HTTPS_PROXY": "http://local-scope:3"}})
    stand_in = tmp_path / "claude"
    stand_in.write_text(_SETTINGS_DUMPER)
    stand_in.chmod(0o755)
    monkeypatch.setenv(clients.CLAUDE_ENV, str(stand_in))
    monkeypatch.chdir(project)
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "PROXYDIAG_TEST_DUMP": str(dump),
           "HTTPS_PROXY": "http://shell:4"}
    run = run_client("claude", "https://api.anthropic.com", env, 5)
    assert not run.reached
    written = json.loads((dump / "settings.json").read_text())
    assert written == {"env": {"CLAUDE_CODE_CERT_STORE": "bundled", "HTTPS_PROXY": "http://local-scope:3",
                               "P": "1"}}
    seen = (dump / "claude.env").read_text() + (dump / "settings.json").read_text()
    for secret in (CANARY, "tok-canary", "secret-canary", "aws-canary", "print-my-key", "users-gateway"):
        assert secret not in seen
    # The process keeps the run's own choices; the settings file cannot undo them.
    assert "CLAUDE_CODE_MAX_RETRIES=0" in seen and "HTTPS_PROXY=http://shell:4" in seen


def test_managed_scope_is_included(tmp_path):
    _write(tmp_path / "root" / "etc" / "claude-code" / "managed-settings.json",
           {"env": {"NODE_EXTRA_CA_CERTS": "/etc/corp.pem", "API_TIMEOUT_MS": 600000}})
    _write(tmp_path / "home" / ".claude" / "settings.json", {"env": {"NODE_EXTRA_CA_CERTS": "/home/u/corp.der"}})
    got = claude_runner.user_settings_env({"HOME": str(tmp_path / "home")}, str(tmp_path),
                                          system_root=str(tmp_path / "root"))
    assert got == {"NODE_EXTRA_CA_CERTS": "/etc/corp.pem", "API_TIMEOUT_MS": "600000"}


# ----------------------------------------------------------------------------- the real client


@pytest.fixture
def claude_in_os_store_machine(tmp_path, monkeypatch, lab_factory):
    """(lab, env): the real claude, behind ssl-bump, with the corporate CA only in the OS bundle."""
    real = os.environ.get(clients.CLAUDE_ENV) or (DEFAULT_CLAUDE if os.access(DEFAULT_CLAUDE, os.X_OK)
                                                  else shutil.which("claude"))
    why = None
    if not real:
        why = "Claude Code is not installed (.ci/install-claude.sh)"
    elif claude_runner._mount_namespace_prefix()[0] is None or not os.path.isfile(OS_BUNDLE):
        why = f"a private mount namespace over {OS_BUNDLE} is not possible here (Linux, unshare)"
    if why:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(why + "; under CI=true this is an error")
        pytest.skip(why)
    lab = lab_factory("ssl-bump-trusted")
    bundle = tmp_path / "os-bundle.pem"
    bundle.write_text(Path(lab.public_roots).read_text() + Path(lab.interception_ca_path).read_text())
    prefix = " ".join(claude_runner._mount_namespace_prefix()[0])
    wrapper = tmp_path / "claude"
    wrapper.write_text(f"#!/bin/sh\nexec {prefix} sh -c 'mount --bind \"$0\" {OS_BUNDLE} && exec \"$@\"' "
                       f"{bundle} {real} \"$@\"\n")
    wrapper.chmod(0o755)
    monkeypatch.setenv(clients.CLAUDE_ENV, str(wrapper))
    home = tmp_path / "user-home"
    home.mkdir()
    monkeypatch.chdir(tmp_path)
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "LANG": "C.UTF-8", "HTTPS_PROXY": lab.env["HTTPS_PROXY"]}
    return lab, env


def test_cert_store_bundled_in_user_settings_fails_the_run_as_it_fails_the_user(claude_in_os_store_machine):
    lab, env = claude_in_os_store_machine
    pins = {("api.anthropic.com", lab.origin_port): "127.0.0.2"}
    works = run_client("claude", lab.target_url, env, 15, resolve=pins)
    assert (works.reached, works.status) == (True, 401), describe(works)   # the OS store holds the CA
    _write(Path(env["HOME"]) / ".claude" / "settings.json", {"env": {"CLAUDE_CODE_CERT_STORE": "bundled"}})
    fails = run_client("claude", lab.target_url, env, 15, resolve=pins)
    assert not fails.reached and fails.error_code == "SELF_SIGNED_CERT_IN_CHAIN", describe(fails)
    # The same line in the project's local settings does the same.
    os.remove(Path(env["HOME"]) / ".claude" / "settings.json")
    _write(Path.cwd() / ".claude" / "settings.local.json", {"env": {"CLAUDE_CODE_CERT_STORE": "bundled"}})
    local = run_client("claude", lab.target_url, env, 15, resolve=pins)
    assert local.error_code == "SELF_SIGNED_CERT_IN_CHAIN", describe(local)
    # NODE_EXTRA_CA_CERTS adds to the bundled roots: the documented fix works despite the setting.
    fixed = run_client("claude", lab.target_url, dict(env, NODE_EXTRA_CA_CERTS=lab.interception_ca_path), 15,
                       resolve=pins)
    assert (fixed.reached, fixed.status) == (True, 401), describe(fixed)


def test_the_diagnosis_sees_the_users_claude_code_fail_with_cert_store_bundled(claude_in_os_store_machine, run_diag,
                                                                                diag_home):
    lab, _env = claude_in_os_store_machine
    _write(diag_home / ".claude" / "settings.json", {"env": {"CLAUDE_CODE_CERT_STORE": "bundled"}})
    run = run_diag("-m", "certificate", "--proxydiag-clients", "claude", *lab.pytest_args,
                   env={"HTTPS_PROXY": lab.env["HTTPS_PROXY"]})
    fix = run.step("certificate.interception")["fix"]
    (row,) = [r for r in fix["clients"] if r["client"].startswith("claude")]
    # Before the fix the proof's Claude Code fails as the user's does (the OS store holds the CA, but the
    # user's settings say bundled); NODE_EXTRA_CA_CERTS then makes it work.
    assert "SELF_SIGNED_CERT_IN_CHAIN" in row["before"], row
    assert row["after"].endswith("reached (401)") and fix["verified"] is True, fix
