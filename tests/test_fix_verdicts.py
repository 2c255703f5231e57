"""Fix verdicts client by client, and fixes that never carry an invented value (issue 16).

The rules of which client reads which variable are checked as units; the
verdict itself with the real clients behind the lab's intercepting Squid:
a client the change cannot reach, failing the same way before and after,
does not veto the fix, and the verdict names it with the step that explains it.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from pytest_proxydiag.core.proxyurl import parse_proxy_url
from pytest_proxydiag.machine import shellenv
from pytest_proxydiag.proof import client_rules, fixes, fixscript
from pytest_proxydiag.proof.clients import discover

DEFAULT_CLAUDE = "/opt/proxydiag-claude/node_modules/.bin/claude"
TIMEOUT = 15.0


# ----------------------------------------------------------------------------- each client's own rules


@pytest.mark.parametrize("client, env, expected", [
    ("curl", {"CURL_CA_BUNDLE": "/a", "SSL_CERT_FILE": "/b"}, {"CURL_CA_BUNDLE"}),
    ("curl", {"SSL_CERT_FILE": "/b", "NODE_EXTRA_CA_CERTS": "/n"}, {"SSL_CERT_FILE"}),
    ("requests", {"CURL_CA_BUNDLE": "/a", "SSL_CERT_FILE": "/b"}, {"CURL_CA_BUNDLE"}),
    ("requests", {"REQUESTS_CA_BUNDLE": "/r", "CURL_CA_BUNDLE": "/a"}, {"REQUESTS_CA_BUNDLE"}),
    ("httpx", {"REQUESTS_CA_BUNDLE": "/r", "SSL_CERT_DIR": "/d"}, {"SSL_CERT_DIR"}),
    ("node", {"REQUESTS_CA_BUNDLE": "/r", "NODE_EXTRA_CA_CERTS": "/n"}, {"NODE_EXTRA_CA_CERTS"}),
    ("claude", {"SSL_CERT_FILE": "/b", "CLAUDE_CODE_CERT_STORE": "bundled", "CURL_CA_BUNDLE": "/a"},
     {"SSL_CERT_FILE", "CLAUDE_CODE_CERT_STORE"}),
])
def test_what_each_client_takes_from_the_environment(client, env, expected):
    assert client_rules.uses(client, env) == expected


def test_a_change_reaches_only_the_clients_that_read_it():
    der = {"HTTPS_PROXY": "http://p:3128", "NODE_EXTRA_CA_CERTS": "/ca.cer", "SSL_CERT_FILE": "/b"}
    pem = dict(der, NODE_EXTRA_CA_CERTS="/ca.pem")
    touched = ["NODE_EXTRA_CA_CERTS"]
    assert [c for c in ("curl", "requests", "httpx", "node", "claude")
            if client_rules.affected(c, der, pem, touched)] == ["node", "claude"]
    # Shadowed by the client's own precedence: curl takes CURL_CA_BUNDLE before SSL_CERT_FILE.
    assert not client_rules.affected("curl", {"CURL_CA_BUNDLE": "/a"}, {"CURL_CA_BUNDLE": "/a", "SSL_CERT_FILE": "/x"},
                                     ["SSL_CERT_FILE"])
    assert client_rules.affected("httpx", {"CURL_CA_BUNDLE": "/a"}, {"CURL_CA_BUNDLE": "/a", "SSL_CERT_FILE": "/x"},
                                 ["SSL_CERT_FILE"])
    # Setting a variable a client reads to the value it already had still targets that client.
    assert client_rules.affected("curl", {"CURL_CA_BUNDLE": "/a"}, {"CURL_CA_BUNDLE": "/a"}, ["CURL_CA_BUNDLE"])
    # A variable no rule assigns (the proxy) reaches everyone.
    assert all(client_rules.affected(c, der, dict(der, HTTPS_PROXY="http://q:8080"), ["HTTPS_PROXY"])
               for c in ("curl", "requests", "httpx", "node", "claude"))


def test_public_roots_baseline_never_shadows_the_users_store():
    assert client_rules.baseline_for("curl", {"SSL_CERT_FILE": "/mine.pem"}, "/roots.pem") == {}
    assert client_rules.baseline_for("curl", {}, "/roots.pem") == {"CURL_CA_BUNDLE": "/roots.pem"}
    assert client_rules.baseline_for("requests", {"CURL_CA_BUNDLE": "/mine.pem"}, "/roots.pem") == {}
    assert client_rules.baseline_for("httpx", {"REQUESTS_CA_BUNDLE": "/r"}, "/roots.pem") == {
        "SSL_CERT_FILE": "/roots.pem"}
    assert client_rules.baseline_for("claude", {"NODE_EXTRA_CA_CERTS": "/ca.cer"}, "/roots.pem") == {}
    assert client_rules.baseline_for("curl", {}, None) == {}


@pytest.mark.parametrize("client, code, error, status, step", [
    ("curl", "60", "SSL certificate problem: self-signed certificate in certificate chain", None,
     "certificate.interception"),
    ("requests", "SSLError", "CERTIFICATE_VERIFY_FAILED", None, "certificate.python_ssl"),
    ("claude", "SELF_SIGNED_CERT_IN_CHAIN", "Self-signed certificate detected", None, "certificate.interception"),
    ("curl", "proxy-407", "the proxy answered 407", 407, "auth.credentials"),
    ("curl", "7", "Failed to connect", None, "connectivity.proxy_reachable"),
    ("curl", "52", "Empty reply from server", None, None),
])
def test_the_step_that_explains_a_clients_own_failure(client, code, error, status, step):
    assert client_rules.explaining_step(client, code, error, status) == step


# ----------------------------------------------------------------------------- no invented values


def test_proxy_fix_value_uses_what_was_found_or_a_placeholder(tmp_path):
    (tmp_path / ".profile").write_text("export HTTP_PROXY=http://plain.corp:80\n"
                                       "export https_proxy='http://bob:s3cr%40t@proxy.found.in.profile:3128'\n")
    found = shellenv.scan(tmp_path, files={str(tmp_path / ".profile"): ("sh",)})
    value = fixes.proxy_fix_value(None, found)
    assert value == f"http://bob:{fixes.PLACEHOLDER}@proxy.found.in.profile:3128"
    assert fixes.proxy_fix_value(None, []) == fixes.PROXY_PLACEHOLDER
    configured = parse_proxy_url("http://proxy.configured:8080", source="cli")
    assert fixes.proxy_fix_value(configured, found) == "http://proxy.configured:8080"


def test_a_placeholder_fix_is_never_verified_and_never_a_live_line(monkeypatch):
    ran = []
    monkeypatch.setattr(fixes.clients_mod, "run_client", lambda *a, **k: ran.append(a))
    fix = {"env": {"HTTPS_PROXY": fixes.PROXY_PLACEHOLDER, "HTTP_PROXY": fixes.PROXY_PLACEHOLDER}}
    fixes.verify_fix(fix, env={"PATH": os.environ["PATH"]}, target_url="https://api.anthropic.com",
                     clients="curl", timeout=1)
    assert fix["verified"] is None and ran == []
    assert fixes.PROXY_PLACEHOLDER in fix["evidence"] and "scutil --proxy" in fix["evidence"]
    assert fix["placeholders"][fixes.PROXY_PLACEHOLDER]["produce"] == fixes.PRODUCE_PROXY_URL
    result = SimpleNamespace(step_id="auth.env_exported", outcome="failed", fix=fix)
    text = fixscript.render([result], "sh")
    active = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    assert active == []
    assert f'# export HTTPS_PROXY="{fixes.PROXY_PLACEHOLDER}"' in text and fixes.PRODUCE_PROXY_URL in text


def test_no_example_host_is_presented_as_the_users():
    """Fixes and values come from the machine; an example host may appear only in the catalog's generic text."""
    root = Path(__file__).resolve().parent.parent
    offenders = []
    for folder in ("pytest_proxydiag", "diag_tests"):
        for path in (root / folder).rglob("*.py"):
            if "catalog" in path.parts or "lab" in path.parts:
                continue
            for n, line in enumerate(path.read_text().splitlines(), 1):
                if "proxy.company.com" in line or "/path/to/" in line:
                    offenders.append(f"{path.relative_to(root)}:{n}: {line.strip()}")
    assert offenders == []


def test_profile_only_proxy_fix_carries_the_profile_value(run_diag, diag_home):
    (diag_home / ".profile").write_text("export HTTPS_PROXY=http://proxy.from.profile:3128\n")
    (diag_home / ".bashrc").write_text("export HTTPS_PROXY=http://proxy.from.profile:3128\n")
    run = run_diag("-m", "auth", "--proxydiag-clients", "none", env={"SHELL": "/bin/bash"})
    step = run.step("auth.env_exported")
    assert step["outcome"] == "failed", run.outcomes()
    assert step["fix"]["env"]["HTTPS_PROXY"] == "http://proxy.from.profile:3128"
    assert "company.com" not in str(step)


# ----------------------------------------------------------------------------- with the real clients


@pytest.fixture
def real_clients(monkeypatch):
    if not os.environ.get("PROXYDIAG_CLAUDE") and os.access(DEFAULT_CLAUDE, os.X_OK):
        monkeypatch.setenv("PROXYDIAG_CLAUDE", DEFAULT_CLAUDE)
    infos = {i.name: i for i in discover("curl,requests,httpx,claude")}
    missing = [f"{n}: {i.why_not}" for n, i in infos.items() if not i.available]
    if missing:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("clients missing under CI=true: " + "; ".join(missing))
        pytest.skip("; ".join(missing))
    return "curl,requests,httpx,claude"


def test_der_fix_is_verified_by_claude_and_names_curls_separate_problem(lab_factory, real_clients, tmp_path):
    lab = lab_factory("der-ca")
    bundle = lab.env["REQUESTS_CA_BUNDLE"]  # public roots + the corporate CA
    # curl's own store lacks the corporate CA: curl fails before and after, whatever NODE_EXTRA_CA_CERTS says.
    user = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "HTTPS_PROXY": lab.env["HTTPS_PROXY"],
            "REQUESTS_CA_BUNDLE": bundle, "SSL_CERT_FILE": lab.public_roots, "CURL_CA_BUNDLE": lab.public_roots,
            "NODE_EXTRA_CA_CERTS": lab.env["NODE_EXTRA_CA_CERTS"]}
    fix = {"env": {"NODE_EXTRA_CA_CERTS": lab.interception_ca_path}}
    fixes.verify_fix(fix, env=user, target_url=lab.target_url, clients=real_clients, timeout=TIMEOUT,
                     resolve={("api.anthropic.com", lab.origin_port): "127.0.0.2"}, step_id="certificate.interception")
    assert fix["verified"] is True, fix
    assert [v.split()[0] for v in fix["verified_with"]] == ["claude"]
    separate = {p["client"].split()[0]: p["step"] for p in fix["separate_problems"]}
    assert separate == {"curl": "certificate.interception", "httpx": "certificate.python_ssl"}, fix
    assert "curl" in fix["evidence"] and "see certificate.interception" in fix["evidence"]
    assert "requests" in fix["evidence"] and "not counted as proof" in fix["evidence"]
    rows = {r["client"].split()[0]: r for r in fix["clients"]}
    assert rows["claude"]["affected"] and not rows["curl"]["affected"]


def test_public_roots_baseline_leaves_the_users_ssl_cert_file_to_curl(lab_factory, real_clients, tmp_path):
    lab = lab_factory("ssl-bump-trusted")
    # The user trusts the corporate CA through SSL_CERT_FILE alone; curl reads it when no CURL_CA_BUNDLE shadows it.
    user = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "HTTPS_PROXY": lab.env["HTTPS_PROXY"],
            "SSL_CERT_FILE": lab.env["SSL_CERT_FILE"]}
    fix = {"env": {"NO_PROXY": "localhost"}}
    fixes.verify_fix(fix, env=user, target_url=lab.target_url, clients="curl", timeout=TIMEOUT,
                     resolve={("api.anthropic.com", lab.origin_port): "127.0.0.2"},
                     baseline=fixes.baseline_trust(lab.public_roots))
    (row,) = fix["clients"]
    assert row["before"].endswith("reached (401)") and fix["verified"] is True, fix


def test_no_client_is_started_against_a_proxy_known_to_be_dead(monkeypatch):
    ran = []

    def fake_run(name, url, env, timeout, **kw):
        ran.append((name, env.get("HTTPS_PROXY")))
        from pytest_proxydiag.proof.clients import ClientRun
        return ClientRun(name, "1", True, 401, None, None, 0.01, name)

    monkeypatch.setattr(fixes.clients_mod, "run_client", fake_run)
    env = {"PATH": os.environ["PATH"], "HTTPS_PROXY": "http://10.9.9.9:8080"}
    same_proxy = {"env": {"NO_PROXY": "localhost"}}
    fixes.verify_fix(same_proxy, env=env, target_url="https://api.anthropic.com", clients="curl", timeout=1,
                     dead_proxy="10.9.9.9:8080")
    assert same_proxy["verified"] is None and ran == []
    assert "10.9.9.9:8080 does not accept connections" in same_proxy["evidence"]
    other_port = {"env": {"HTTPS_PROXY": "http://10.9.9.9:3128"}}
    fixes.verify_fix(other_port, env=env, target_url="https://api.anthropic.com", clients="curl", timeout=1,
                     dead_proxy="10.9.9.9:8080")
    assert ("curl", "http://10.9.9.9:3128") in ran and other_port["verified"] is True


def test_a_variable_no_proving_client_reads_is_not_called_verified(lab_factory, run_diag, tmp_path):
    """TLS inspection proved with curl, requests and httpx only: the fix works, but its NODE_EXTRA_CA_CERTS line was
    read by none of them, so neither the FIX block nor the fix script says it was verified."""
    lab = lab_factory("ssl-bump-untrusted")
    script = tmp_path / "fix.sh"
    run = run_diag("-m", "certificate", "--proxydiag-clients", "curl,requests,httpx",
                   "--proxydiag-fix-script", str(script), lab=lab)
    step = run.step("certificate.interception")
    assert step["fix"]["verified"] is True and "NODE_EXTRA_CA_CERTS" in step["fix"]["env"], step["fix"]
    assert client_rules.unproven(step["fix"]) == {"NODE_EXTRA_CA_CERTS": ["node", "claude"]}
    assert "NODE_EXTRA_CA_CERTS is not proven by them: it is read by node, claude" in run.output
    lines = script.read_text().splitlines()
    node = [ln for ln in lines if ln.startswith("export NODE_EXTRA_CA_CERTS=")]
    assert node and node[0].endswith("# certificate.interception: NOT VERIFIED for NODE_EXTRA_CA_CERTS"), lines
    assert any(ln.startswith("export SSL_CERT_FILE=") and ln.endswith(": verified") for ln in lines), lines
