"""Proven fixes (issue 11): every fix is tried with the real clients, and proven or not.

Real Squid (the lab), real curl, requests, httpx and Claude Code.  Each "Done
when" scenario runs the whole diagnosis, then applies *exactly* the JSON's
``fix.env`` and ``fix.unset`` to a fresh process environment and checks that
curl, requests and Claude Code reach the provider through the proxy (Squid's
access log shows their CONNECTs).  The direct path is closed as on a corporate
network: names a client resolves itself go to a loopback address where
nothing listens (``fixes.NO_DIRECT_ADDRESS``).

The machine's trust store is played by the lab's fake public roots (as certifi
and the OS store hold the real ones): a fresh shell gets them in every trust
variable the scenario and the fix leave unset -- what ``--proxydiag-public-roots``
means to the engine too (``fixes.baseline_trust``).

Claude Code comes from ``.ci/install-claude.sh`` (``PROXYDIAG_CLAUDE``) or PATH;
where it is missing, the assertions about it are skipped with the reason, and
under ``CI=true`` a missing client is an error.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote

import pytest

from pytest_proxydiag.proof import clients

from pytest_proxydiag.proof import fixes

from pytest_proxydiag.proof import fixscript
from pytest_proxydiag.proof.clients import describe, discover, run_clients
from pytest_proxydiag.lab import SPECIAL_PASSWORD

from conftest import CONFIG_VARS, require_squid

PROVIDER = "api.anthropic.com"
DEFAULT_CLAUDE = "/opt/proxydiag-claude/node_modules/.bin/claude"
TIMEOUT = 10.0
#: The clients the issue names for the "fresh shell" check.
FRESH_SHELL_CLIENTS = ("curl", "requests", "claude")
CANARY_KEY = "sk-ant-api03-PROXYDIAGCANARY0123456789abcdefghijklmnop"


def _under_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


@pytest.fixture(autouse=True)
def claude_default(monkeypatch):
    """Point PROXYDIAG_CLAUDE at .ci/install-claude.sh's default install when nothing else is set."""
    if not os.environ.get(clients.CLAUDE_ENV) and os.access(DEFAULT_CLAUDE, os.X_OK):
        monkeypatch.setenv(clients.CLAUDE_ENV, DEFAULT_CLAUDE)


@pytest.fixture
def witnesses() -> list[str]:
    """Of curl, requests and Claude Code, those installed here (under CI=true: all of them, or an error)."""
    infos = discover(",".join(FRESH_SHELL_CLIENTS))
    missing = [i for i in infos if not i.available]
    if missing and _under_ci():
        pytest.fail("clients missing under CI=true: " + "; ".join(f"{i.name}: {i.why_not}" for i in missing))
    for i in missing:
        if i.name != "claude":
            pytest.skip(f"{i.name} unavailable: {i.why_not}")
    return [i.name for i in infos if i.available]


def _claude_or_skip(names: list[str]) -> None:
    if "claude" not in names:
        (info,) = discover("claude")
        pytest.skip(f"Claude Code unavailable: {info.why_not} (install it with .ci/install-claude.sh)")


# ----------------------------------------------------------------------------- helpers


def _machine_trust(lab) -> dict[str, str]:
    return fixes.baseline_trust(lab.public_roots)


def _pins(lab) -> dict[tuple[str, int], str]:
    return {(PROVIDER, lab.origin_port): fixes.NO_DIRECT_ADDRESS}


def _connects(lab) -> list:
    return [r for r in lab.proxy_requests() if r.method == "CONNECT" and r.url == f"{PROVIDER}:{lab.origin_port}"]


def _scenario_env(lab, changes: dict[str, str | None]) -> dict[str, str]:
    env = dict(lab.env)
    for k, v in changes.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    return env


def _diagnose(run_diag, monkeypatch, lab, user_env: dict[str, str], *args: str):
    """run_diag with exactly *user_env* as the scenario's variables (None-free)."""
    for name in CONFIG_VARS:
        monkeypatch.delenv(name, raising=False)
    # A generous bound for every client run: two cores shared with Squid and four clients at once.
    return run_diag(*lab.pytest_args, "--proxydiag-timeout", "10", *args, env=user_env)


def _fresh_shell(lab, user_env: dict[str, str], fix: dict, home: Path, password: str | None = None) -> dict[str, str]:
    """A new process environment: a clean base, the machine's trust, the user's variables, then the fix."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "LANG": "C.UTF-8"}
    env.update(user_env)
    for name in fix.get("unset") or []:
        env.pop(name, None)
    for name, value in (fix.get("env") or {}).items():
        if fixes.PLACEHOLDER in value:
            assert password is not None, f"{name} holds a placeholder but the test knows no password"
            value = value.replace(fixes.PLACEHOLDER, quote(password, safe=""))
        env[name] = value
    for k, v in _machine_trust(lab).items():
        env.setdefault(k, v)
    return env


def _assert_env_values_final(fix: dict) -> None:
    for name, value in fix["env"].items():
        assert "~" not in value and "$" not in value, f"{name}={value!r} is not ready to paste"
        if name.endswith(("_CERTS", "_BUNDLE", "_FILE")):
            assert os.path.isabs(value) and os.path.isfile(value), f"{name}={value!r}"


# ----------------------------------------------------------------------------- the "Done when" scenarios


def _other_ca_pem(tmp_path: Path) -> str:
    import trustme

    other = tmp_path / "team-ca.pem"
    other.write_bytes(trustme.CA(organization_name="Some Team CA").cert_pem.bytes())
    return str(other)


SCENARIOS = {
    # ssl-bump with an untrusted CA while NODE_EXTRA_CA_CERTS already points at another file.
    "ssl-bump-untrusted+node-extra": ("ssl-bump-untrusted", "certificate.interception"),
    # NODE_EXTRA_CA_CERTS in DER, and no other variable holding the CA for Claude Code or httpx.
    "der-ca": ("der-ca", "certificate.interception"),
    "no-proxy-provider": ("no-proxy-provider", "connectivity.no_proxy"),
    "wrong-port": ("wrong-port", "connectivity.proxy_port"),
    "http-proxy-only": ("healthy", "auth.env_exported"),
    "special-chars-password": ("special-chars-password", "auth.special_chars"),
}


def _changes(case: str, lab, tmp_path: Path) -> dict[str, str | None]:
    if case == "ssl-bump-untrusted+node-extra":
        return {"NODE_EXTRA_CA_CERTS": _other_ca_pem(tmp_path)}
    if case == "der-ca":
        return {"SSL_CERT_FILE": None}
    if case == "http-proxy-only":
        return {"HTTPS_PROXY": None}
    return {}


@pytest.mark.parametrize("case", list(SCENARIOS))
def test_root_cause_fix_is_verified_and_works_in_a_fresh_shell(case, lab_factory, run_diag, monkeypatch,
                                                                witnesses, tmp_path):
    scenario, root_step = SCENARIOS[case]
    lab = lab_factory(scenario)
    user_env = _scenario_env(lab, _changes(case, lab, tmp_path))
    run = _diagnose(run_diag, monkeypatch, lab, user_env)
    assert run.root_cause == root_step or (isinstance(run.root_cause, dict) and run.root_cause.get("id") == root_step), \
        run.outcomes()
    step = next(s for s in run.steps if s["id"] == root_step and s["outcome"] == "failed")
    fix = step["fix"]
    assert fix["verified"] is True, json.dumps(fix, indent=1)
    labels = " ".join(fix["verified_with"])
    for name in witnesses:
        assert name in labels, (name, fix["verified_with"])
    assert fix["evidence"] and "reached api.anthropic.com through 127.0.0.1:" in fix["evidence"]
    _assert_env_values_final(fix)

    # Exactly fix.env and fix.unset, in a new process environment: the clients reach the provider via Squid.
    password = SPECIAL_PASSWORD if scenario == "special-chars-password" else None
    env = _fresh_shell(lab, user_env, fix, tmp_path, password)
    before = len(_connects(lab))
    runs = run_clients(witnesses, lab.target_url, env, TIMEOUT, resolve=_pins(lab))
    for r in runs:
        assert (r.reached, r.status) == (True, 401), describe(r)
    assert len(_connects(lab)) - before >= len(witnesses), [str(r) for r in lab.proxy_requests()[-8:]]
    # ... and without the fix they did not (at least one of them: which ones is scenario-specific).
    unfixed = _fresh_shell(lab, user_env, {}, tmp_path)
    broken = [r for r in run_clients(witnesses, lab.target_url, unfixed, TIMEOUT, resolve=_pins(lab))
              if not r.reached]
    assert broken, "the scenario is not broken without the fix"
    _claude_or_skip(witnesses)
    assert any(label.startswith("claude ") for label in fix["verified_with"])


def test_der_trap_claude_code_fails_before_and_reaches_after(lab_factory, run_diag, monkeypatch, witnesses,
                                                            tmp_path):
    _claude_or_skip(witnesses)
    lab = lab_factory("der-ca")
    user_env = _scenario_env(lab, {"SSL_CERT_FILE": None})
    run = _diagnose(run_diag, monkeypatch, lab, user_env)
    fix = run.step("certificate.interception")["fix"]
    row = next(r for r in fix["clients"] if r["client"].startswith("claude "))
    assert "reached" not in row["before"] and "Invalid CA" in row["before"], row
    assert row["after"].endswith("reached (401)"), row
    node_file = fix["env"]["NODE_EXTRA_CA_CERTS"]
    # PEM holding the corporate CA (converted from the DER file), nothing binary.
    data = Path(node_file).read_bytes()
    assert b"-----BEGIN CERTIFICATE-----" in data and data.isascii()
    assert lab.interception_ca_pem.strip() in data
    assert stat.S_IMODE(os.stat(node_file).st_mode) == 0o600


def test_ssl_bump_node_file_keeps_the_users_other_ca(lab_factory, run_diag, monkeypatch, witnesses, tmp_path):
    lab = lab_factory("ssl-bump-untrusted")
    other = _other_ca_pem(tmp_path)
    run = _diagnose(run_diag, monkeypatch, lab, _scenario_env(lab, {"NODE_EXTRA_CA_CERTS": other}))
    fix = run.step("certificate.interception")["fix"]
    node = Path(fix["env"]["NODE_EXTRA_CA_CERTS"]).read_text()
    # Node reads exactly one extra file: the new one must hold the corporate CA *and* what the old one held.
    assert Path(other).read_text().strip() in node
    assert lab.interception_ca_pem.decode().strip() in node
    # Replacing stores get public roots + the CA.
    bundle = Path(fix["env"]["SSL_CERT_FILE"]).read_text()
    assert Path(lab.public_roots).read_text().strip() in bundle and lab.interception_ca_pem.decode().strip() in bundle


def test_claude_settings_change_is_proven_with_the_env_claude_would_have(lab_factory, run_diag, monkeypatch,
                                                                         witnesses, diag_home):
    _claude_or_skip(witnesses)
    lab = lab_factory("healthy")
    settings = diag_home / ".claude" / "settings.json"
    settings.parent.mkdir(parents=True)
    settings.write_text(json.dumps({"env": {"NO_PROXY": "*"}}))
    run = _diagnose(run_diag, monkeypatch, lab, dict(lab.env, **_machine_trust(lab)), "-m", "bypass")
    step = run.step("bypass.app_settings")
    assert step["outcome"] == "failed", run.outcomes()
    fix = step["fix"]
    assert fix["app_env"] == {"clients": ["claude"], "before": {"NO_PROXY": "*"}}
    assert fix["verified"] is True, json.dumps(fix, indent=1)
    assert [v.split(" ")[0] for v in fix["verified_with"]] == ["claude"]
    (row,) = fix["clients"]
    assert "reached (401)" not in row["before"] and row["after"].endswith("reached (401)"), row


def test_timeout_fix_is_proven_with_claude_code(lab_factory, run_diag, monkeypatch, witnesses):
    _claude_or_skip(witnesses)
    lab = lab_factory("healthy")
    env = dict(lab.env, API_TIMEOUT_MS="1", **_machine_trust(lab))
    run = _diagnose(run_diag, monkeypatch, lab, env, "-m", "performance")
    step = run.step("performance.timeouts")
    assert step["outcome"] == "failed", run.outcomes()
    fix = step["fix"]
    assert fix["env"] == {"API_TIMEOUT_MS": "600000"}
    assert fix["verified"] is True, json.dumps(fix, indent=1)
    (row,) = fix["clients"]
    assert "reached" not in row["before"] and row["after"].endswith("reached (401)"), row


def test_python_ca_variable_fix_is_proven_by_the_python_clients_only(lab_factory, run_diag, monkeypatch,
                                                                     witnesses):
    lab = lab_factory("ssl-bump-trusted")
    run = _diagnose(run_diag, monkeypatch, lab, dict(lab.env, REQUESTS_CA_BUNDLE="/nonexistent/ca.pem"),
                    "-m", "certificate")
    fix = run.step("certificate.python_ssl")["fix"]
    assert fix["verified"] is True, json.dumps(fix, indent=1)
    assert {v.split(" ")[0] for v in fix["verified_with"]} <= {"requests", "httpx"}
    assert any(v.startswith("requests ") for v in fix["verified_with"])
    row = next(r for r in fix["clients"] if r["client"].startswith("requests "))
    assert "reached" not in row["before"] and row["after"].endswith("reached (401)"), row


# ----------------------------------------------------------------------------- verdicts other than true


def test_fix_broken_on_purpose_is_verified_false_with_the_clients_own_error(lab_factory, run_diag, monkeypatch,
                                                                           witnesses, tmp_path):
    lab = lab_factory("ssl-bump-untrusted")
    user_env = dict(lab.env)
    run = _diagnose(run_diag, monkeypatch, lab, user_env)
    good = run.step("certificate.interception")["fix"]
    assert good["verified"] is True
    # Broken: curl's store replaced by the public roots alone (the corporate CA left out).
    broken = {"env": dict(good["env"], CURL_CA_BUNDLE=lab.public_roots), "unset": list(good["unset"])}
    fixes.verify_fix(broken, env=user_env, target_url=lab.target_url, clients=witnesses, timeout=TIMEOUT,
                     resolve=_pins(lab), baseline=_machine_trust(lab), step_id="certificate.interception")
    assert broken["verified"] is False, broken
    assert "curl" in broken["evidence"] and "exit 60" in broken["evidence"], broken["evidence"]
    assert "self-signed certificate in certificate chain" in broken["evidence"], broken["evidence"]
    assert not any(v.startswith("curl ") for v in broken["verified_with"])


def test_fix_that_still_goes_direct_is_not_verified(lab_factory, witnesses, tmp_path):
    # A NO_PROXY "fix" that still lists the provider: the clients go direct (refused), never verified.
    lab = lab_factory("no-proxy-provider")
    fix = {"env": {"NO_PROXY": "localhost,anthropic.com", "no_proxy": "localhost,anthropic.com"}}
    fixes.verify_fix(fix, env=dict(lab.env), target_url=lab.target_url, clients=witnesses, timeout=TIMEOUT,
                     resolve=_pins(lab), baseline=_machine_trust(lab))
    assert fix["verified"] is False, fix
    assert _connects(lab) == []


def test_domain_blocked_by_policy_is_verified_null(lab_factory, run_diag, monkeypatch, witnesses, tmp_path):
    lab = lab_factory("blocked-domain")
    run = _diagnose(run_diag, monkeypatch, lab, dict(lab.env))
    step = run.step("policy.domain_allowed")
    assert step["outcome"] == "failed"
    assert step["fix"]["verified"] is None and "proxy team" in step["fix"]["evidence"], step["fix"]
    assert step["fix"]["verified_with"] == []
    # Even a fix with variables cannot get past a policy: null, never true.
    fix = {"env": {"HTTPS_PROXY": lab.proxy_url}}
    fixes.verify_fix(fix, env=dict(lab.env), target_url=lab.target_url, clients=witnesses, timeout=TIMEOUT,
                     resolve=_pins(lab), baseline=_machine_trust(lab))
    assert fix["verified"] is None and "by policy" in fix["evidence"], fix


def test_clients_none_gives_null_and_runs_nothing(lab_factory, run_diag, monkeypatch, tmp_path):
    lab = lab_factory("wrong-port")
    calls = []
    monkeypatch.setattr(clients, "run_client", lambda *a, **k: calls.append(a) or pytest.fail("ran a client"))
    run = _diagnose(run_diag, monkeypatch, lab, dict(lab.env), "--proxydiag-clients", "none")
    fix = run.step("connectivity.proxy_port")["fix"]
    assert fix["verified"] is None and "--proxydiag-clients none" in fix["evidence"], fix
    assert calls == []


def test_nothing_runs_when_every_step_passes(lab_factory, run_diag, monkeypatch):
    lab = lab_factory("healthy")
    calls = []
    real = clients.run_client
    monkeypatch.setattr(clients, "run_client", lambda *a, **k: calls.append(a) or real(*a, **k))
    env = dict(lab.env, **_machine_trust(lab))
    run = _diagnose(run_diag, monkeypatch, lab, env, "-m", "auth or connectivity or certificate or policy")
    assert not [s for s in run.steps if s["outcome"] == "failed" and s.get("fix")], run.outcomes()
    assert calls == []


# ----------------------------------------------------------------------------- secrets


def test_no_secret_in_fix_script_or_output_and_the_api_key_never_reaches_a_client(
        lab_factory, run_diag, monkeypatch, witnesses, tmp_path):
    from pytest_proxydiag.lab import servers as lab_servers

    # The origin records raw credentials for this test: the dummy key is the only one it may see.
    monkeypatch.setattr(lab_servers, "SECRET_HEADERS", frozenset())
    lab = lab_factory("special-chars-password")
    script = tmp_path / "fix.sh"
    user_env = dict(lab.env, ANTHROPIC_API_KEY=CANARY_KEY, ANTHROPIC_AUTH_TOKEN=CANARY_KEY + "-tok")
    run = _diagnose(run_diag, monkeypatch, lab, user_env, "--proxydiag-fix-script", str(script))
    fix = run.step("auth.special_chars")["fix"]
    assert fix["verified"] is True, fix
    assert fix["placeholders"][fixes.PLACEHOLDER]["produce"] == fixes.PRODUCE_PASSWORD
    texts = {"json": run.json_path.read_text(), "output": run.output, "script": script.read_text()}
    secrets = [CANARY_KEY, SPECIAL_PASSWORD, quote(SPECIAL_PASSWORD, safe="")]
    for where, text in texts.items():
        for s in secrets:
            assert s not in text, f"secret {s[:6]}... in {where}"
    assert stat.S_IMODE(script.stat().st_mode) == 0o600
    # The instructions survive redaction intact (no "***" where a word was), placeholder lines stay comments.
    assert "***" not in texts["script"] and fixes.PRODUCE_PASSWORD in texts["script"]
    assert all(ln.startswith("#") for ln in texts["script"].splitlines() if fixes.PLACEHOLDER in ln)
    seen = lab.origin_requests()
    assert seen, "no client reached the origin"
    for req in seen:
        flat = json.dumps(dict(req.headers))
        assert CANARY_KEY not in flat
        if "x-api-key" in req.headers:
            assert req.headers["x-api-key"] == clients.DUMMY_API_KEY


def test_api_key_never_in_a_client_process_environment(tmp_path, monkeypatch):
    # A stand-in "claude" that records its environment (the real one would not show it).
    dump = tmp_path / "claude.env"
    fake = tmp_path / "claude"
    fake.write_text(f"#!/bin/sh\nif [ \"$1\" = --version ]; then echo '9.9.9 (Claude Code)'; exit 0; fi\n"
                    f"env > {dump}\necho '{{\"type\":\"result\",\"is_error\":true,\"api_error_status\":401}}'\n")
    fake.chmod(0o755)
    monkeypatch.setenv(clients.CLAUDE_ENV, str(fake))
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "ANTHROPIC_API_KEY": CANARY_KEY,
           "CLAUDE_CODE_OAUTH_TOKEN": "oauth-" + CANARY_KEY, "HTTPS_PROXY": "http://127.0.0.1:9"}
    fix = {"env": {"NO_PROXY": "localhost"}}
    fixes.verify_fix(fix, env=env, target_url="https://api.anthropic.com", clients="claude", timeout=5)
    recorded = dump.read_text()
    assert CANARY_KEY not in recorded
    assert f"ANTHROPIC_API_KEY={clients.DUMMY_API_KEY}" in recorded


# ----------------------------------------------------------------------------- the fix script


def _result(step_id: str, fix: dict, outcome: str = "failed"):
    return SimpleNamespace(step_id=step_id, outcome=outcome, fix=fix)


def test_fix_script_rules(tmp_path):
    results = [
        _result("auth.special_chars", {"env": {"HTTPS_PROXY": f"http://bob:{fixes.PLACEHOLDER}@proxy:8080"},
                                       "verified": True, "verified_with": ["curl 7.88.1"],
                                       "placeholders": {fixes.PLACEHOLDER: {"produce": fixes.PRODUCE_PASSWORD}}}),
        _result("certificate.verification_disabled", {"env": {"NODE_TLS_REJECT_UNAUTHORIZED": "0"},
                                                      "unset": ["PYTHONHTTPSVERIFY"], "verified": None,
                                                      "evidence": "Not verified: nothing to run."}),
        _result("connectivity.no_proxy", {"env": {"NO_PROXY": "localhost,127.0.0.1"}, "verified": False,
                                          "evidence": "curl still fails"}),
        _result("bypass.no_proxy", {"env": {"NO_PROXY": "localhost,::1"}, "verified": True}),
        _result("auth.credentials", {"env": {"X": "1"}}, outcome="passed"),
    ]
    text = fixscript.render(results, "sh")
    lines = [ln for ln in text.splitlines() if ln.strip()]
    active = [ln for ln in lines if not ln.startswith("#")]
    # every active line names its step and verdict
    assert active and all("  # " in ln and "." in ln.split("  # ", 1)[1] for ln in active), active
    # the placeholder line is commented out, with the command that produces the value
    assert not any(fixes.PLACEHOLDER in ln for ln in active)
    assert any(ln.startswith("# export HTTPS_PROXY=") for ln in lines)
    assert fixes.PRODUCE_PASSWORD in text
    # never a line that disables verification
    assert not any("NODE_TLS_REJECT_UNAUTHORIZED" in ln for ln in active)
    assert "unset PYTHONHTTPSVERIFY  # certificate.verification_disabled: NOT VERIFIED" in text
    # unverified lines are announced as such; verified ones first, NO_PROXY set once
    assert "# connectivity.no_proxy: NOT VERIFIED: it was tried here and did not work" in text
    assert [ln for ln in active if ln.startswith("export NO_PROXY=")] == \
        ['export NO_PROXY="localhost,::1"  # bypass.no_proxy: verified']
    assert "auth.credentials" not in text


def test_fix_script_sourced_in_sh_sets_exactly_the_fix(tmp_path):
    results = [_result("certificate.interception",
                       {"env": {"SSL_CERT_FILE": "/a b/it's.pem", "NODE_EXTRA_CA_CERTS": "/x/$HOME/`y`.pem"},
                        "unset": ["SSL_CERT_DIR"], "verified": True, "verified_with": ["curl 7.88.1"]})]
    path = fixscript.write(str(tmp_path / "fix.sh"), results)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    out = subprocess.run(["sh", "-c", f'. "{path}" && {sys.executable} -c "import os, json; '
                          f'print(json.dumps({{k: os.environ.get(k) for k in (\'SSL_CERT_FILE\', '
                          f'\'NODE_EXTRA_CA_CERTS\', \'SSL_CERT_DIR\')}}))"'],
                         env={"PATH": os.environ["PATH"], "SSL_CERT_DIR": "/etc/ssl/certs", "HOME": str(tmp_path)},
                         capture_output=True, text=True, timeout=10)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"SSL_CERT_FILE": "/a b/it's.pem", "NODE_EXTRA_CA_CERTS": "/x/$HOME/`y`.pem",
                                      "SSL_CERT_DIR": None}


@pytest.mark.parametrize("suffix, set_line, unset_line", [
    (".fish", "set -gx SSL_CERT_FILE \"/p/it's.pem\"", "set -e SSL_CERT_DIR"),
    (".ps1", "$env:SSL_CERT_FILE = '/p/it''s.pem'", "Remove-Item Env:SSL_CERT_DIR -ErrorAction SilentlyContinue"),
])
def test_fix_script_fish_and_powershell(tmp_path, suffix, set_line, unset_line):
    results = [_result("certificate.python_ssl", {"env": {"SSL_CERT_FILE": "/p/it's.pem"}, "unset": ["SSL_CERT_DIR"],
                                                  "verified": True, "verified_with": ["httpx 0.28.1"]})]
    path = fixscript.write(str(tmp_path / f"fix{suffix}"), results)
    text = Path(path).read_text()
    assert set_line + "  # certificate.python_ssl: verified" in text
    assert unset_line + "  # certificate.python_ssl: verified" in text


# ----------------------------------------------------------------------------- units of the engine


def test_child_env_applies_fix_and_secret_only_in_memory():
    fix = {"env": {"HTTPS_PROXY": f"http://u:{fixes.PLACEHOLDER}@p:1"}, "unset": ["NO_PROXY"]}
    env = fixes.child_env({"NO_PROXY": "*", "A": "1"}, fix, {fixes.PLACEHOLDER: "p%40ss"})
    assert env == {"A": "1", "HTTPS_PROXY": "http://u:p%40ss@p:1"}
    assert fixes.PLACEHOLDER in fix["env"]["HTTPS_PROXY"]


def test_normalize_sets_the_other_case_twin_and_expands_home():
    fix = {"env": {"HTTPS_PROXY": "http://new:3128", "SSL_CERT_FILE": "~/ca.pem"}}
    notes = fixes.normalize_fix(fix, {"https_proxy": "http://old:1", "HOME": "/home/u"})
    assert fix["env"]["https_proxy"] == "http://new:3128" and notes
    assert fix["env"]["SSL_CERT_FILE"] == "/home/u/ca.pem"


def test_fix_without_a_concrete_change_is_null_and_runs_nothing(monkeypatch):
    monkeypatch.setattr(clients, "run_client", lambda *a, **k: pytest.fail("ran a client"))
    fix = fixes.verify_fix({"files": [{"path": "/home/u/.netrc", "change": "chmod 600"}]}, env={},
                           target_url="https://api.anthropic.com")
    assert fix["verified"] is None and "/home/u/.netrc" in fix["evidence"]
    fix = fixes.verify_fix({"ticket_domains": ["api.anthropic.com"]}, env={}, target_url="https://api.anthropic.com")
    assert fix["verified"] is None and "proxy team must allow api.anthropic.com" in fix["evidence"]


def test_placeholder_without_a_known_password_is_null(monkeypatch):
    monkeypatch.setattr(clients, "run_client", lambda *a, **k: pytest.fail("ran a client"))
    fix = fixes.verify_fix({"env": {"HTTPS_PROXY": f"http://u:{fixes.PLACEHOLDER}@p:1"}}, env={},
                           target_url="https://api.anthropic.com")
    assert fix["verified"] is None and "password" in fix["evidence"]


def test_require_squid_for_lab_tests(monkeypatch):
    """The lab tests' guard: squid's path when installed; a skip naming the package when not; under
    CI=true (where .ci/run installs squid) a failure, never a silent skip."""
    import conftest

    if conftest.squid_binary():
        assert os.access(require_squid(), os.X_OK)
    monkeypatch.setattr(conftest, "squid_binary", lambda: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"apt-get install squid-openssl"):
        require_squid()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"squid is not installed .* under CI=true this is an error"):
        require_squid()


def test_paste_lines_for_each_shell():
    fix = {"env": {"NO_PROXY": "localhost", "NODE_TLS_REJECT_UNAUTHORIZED": "0"}, "unset": ["no_proxy"]}
    assert fixscript.paste_lines(fix, "sh") == ["unset no_proxy", 'export NO_PROXY="localhost"']
    assert fixscript.paste_lines(fix, "fish") == ["set -e no_proxy", 'set -gx NO_PROXY "localhost"']
    assert fixscript.paste_lines(fix, "ps1") == ["Remove-Item Env:no_proxy -ErrorAction SilentlyContinue",
                                                 '$env:NO_PROXY = "localhost"']


def test_two_problems_at_once_are_proven_together(run_diag, lab_factory):
    """Only HTTP_PROXY set *and* an untrusted interception CA: each fix fails alone, both work together."""
    lab = lab_factory("ssl-bump-untrusted")
    run = run_diag(*lab.pytest_args, "-m", "auth or certificate", env={"HTTP_PROXY": lab.env["HTTP_PROXY"]})
    exported = run.step("auth.env_exported")
    intercepted = run.step("certificate.interception", target=lab.target_url)
    assert exported["finding_key"] == "http_only" and intercepted["outcome"] == "failed"
    for step, other in ((exported, "certificate.interception"), (intercepted, "auth.env_exported")):
        assert step["fix"]["verified"] is True, step["fix"]
        assert step["fix"]["together_with"] == [other]
        assert "Works together with the fixes of " + other in step["fix"]["evidence"]
        assert any(w.startswith("curl ") for w in step["fix"]["verified_with"])
