"""The redaction guarantee, tested end to end: plant canary secrets everywhere, enable every output.

Known secret values go into every place the tool reads — proxy URL in the
environment, API keys and AWS secrets, ``~/.netrc``, Claude Code's
``settings.json``, a LiteLLM config — and a proxy echoes the credentials it
receives back in its headers and body.  A site test compares the password in
a plain ``assert`` (assertion rewriting), logs and prints it; a user test
fails with an API key in its locals.  Then every format is on: terminal with
``-rA -l -vv`` and live logging, ``--html``, ``--junitxml`` with captured
logs, ``--proxydiag-json``, ``--proxydiag-bundle``, ``--log-file``.  No canary
may appear, raw, percent-encoded or base64-encoded, in the terminal output,
any file written, any entry (or entry name) of the bundle.
"""

from __future__ import annotations

import base64
import json
import zipfile
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from pytest_proxydiag.lab.servers import EchoProxy

PROXY_USER = "canaryuser"
PROXY_PASSWORD = "Cnry!pw$91f3"
SECRETS = {
    "proxy password": PROXY_PASSWORD,
    "ANTHROPIC_API_KEY": "sk-ant-api03-CANARYanthropic0001",
    "OPENAI_API_KEY": "sk-CANARYopenai0002xyz",
    "AWS_SECRET_ACCESS_KEY": "CANARYawsSecret/0003+xyz",
    "AWS_SESSION_TOKEN": "CANARYsessionToken0004==",
    "netrc password": "CANARYnetrc0005",
    "settings.json token": "CANARYclaudeToken0006",
    "settings.json proxy password": "CANARYsettingsPw0007",
    "LiteLLM api_key": "CANARYlitellm0008",
}

SITE_TESTS = '''
import logging, os
import pytest

log = logging.getLogger("site.checks")


@pytest.mark.proxydiag_step("site.password_policy", title="Proxy password follows the site policy")
def test_password_policy(proxydiag_config):
    password = proxydiag_config.proxy.url.password
    log.warning("checking proxy password %s for user %s", password, proxydiag_config.proxy.url.username)
    print("password under test:", password)
    assert password == "x", f"unexpected password {password}"


def test_user_test_with_an_api_key():
    key = os.environ["OPENAI_API_KEY"]
    logging.getLogger("user").error("key=%s aws=%s", key, os.environ["AWS_SECRET_ACCESS_KEY"])
    assert key.startswith("nope")
'''


def forms(secret: str) -> set[str]:
    out = {secret, quote(secret, safe=""), quote_plus(secret), base64.b64encode(secret.encode()).decode()}
    return {f for f in out if len(f) >= 6}


def all_forms() -> dict[str, str]:
    table = {}
    for name, secret in SECRETS.items():
        for f in forms(secret):
            table[f] = name
    for f in forms(f"{PROXY_USER}:{PROXY_PASSWORD}"):
        table[f] = "proxy user:password"
    table[base64.b64encode(f"{PROXY_USER}:{SECRETS['netrc password']}".encode()).decode()] = "netrc Basic"
    return table


def leaks(text: str, where: str) -> list[str]:
    return [f"{name} ({form!r}) in {where}" for form, name in all_forms().items() if form in text]


@pytest.fixture
def echo_proxy():
    proxy = EchoProxy()
    yield proxy
    proxy.stop()


def plant(home: Path) -> dict[str, str]:
    """Write the canaries into the files the tool reads; return the environment to set."""
    (home / ".netrc").write_text(f"machine 127.0.0.1 login {PROXY_USER} password {SECRETS['netrc password']}\n")
    (home / ".netrc").chmod(0o600)
    (home / ".claude").mkdir()
    (home / ".claude" / "settings.json").write_text(json.dumps({"env": {
        "ANTHROPIC_AUTH_TOKEN": SECRETS["settings.json token"],
        "HTTPS_PROXY": f"http://{PROXY_USER}:{SECRETS['settings.json proxy password']}@127.0.0.1:9"}}))
    litellm = home / "litellm.yaml"
    litellm.write_text("model_list:\n  - model_name: claude\n    litellm_params:\n      model: anthropic/claude\n"
                       f"      api_key: {SECRETS['LiteLLM api_key']}\n")
    return {"LITELLM_CONFIG": str(litellm), "ANTHROPIC_API_KEY": SECRETS["ANTHROPIC_API_KEY"],
            "OPENAI_API_KEY": SECRETS["OPENAI_API_KEY"], "AWS_SECRET_ACCESS_KEY": SECRETS["AWS_SECRET_ACCESS_KEY"],
            "AWS_SESSION_TOKEN": SECRETS["AWS_SESSION_TOKEN"]}


EVERY_FORMAT = ("-rA", "-l", "-vv", "-o", "log_cli=true", "--log-cli-level=DEBUG", "--log-file", "pytest.log",
                "--log-file-level=DEBUG", "-o", "junit_logging=all", "--html", "report.html", "--self-contained-html",
                "--junitxml", "junit.xml", "--proxydiag-bundle", "bundle.zip")


def scan_outputs(run, pytester, planted: set[Path]) -> list[str]:
    found = leaks(run.output, "terminal output")
    files = [p for p in pytester.path.rglob("*") if p.is_file() and p.resolve() not in planted
             and p.name != "test_site_checks.py"]
    assert any(p.name == "report.html" for p in files) and any(p.name == "bundle.zip" for p in files)
    for path in files:
        found += leaks(path.name, f"file name {path}")
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as zf:
                for info in zf.infolist():
                    found += leaks(info.filename, f"zip entry name {info.filename}")
                    found += leaks(zf.read(info).decode("utf-8", "replace"), f"{path.name}:{info.filename}")
        else:
            found += leaks(path.read_bytes().decode("utf-8", "replace"), str(path.relative_to(pytester.path)))
    return found


def test_no_canary_reaches_any_output_with_an_echoing_proxy(run_diag, pytester, diag_home, echo_proxy):
    env = plant(diag_home)
    env["HTTPS_PROXY"] = f"http://{PROXY_USER}:{PROXY_PASSWORD}@127.0.0.1:{echo_proxy.port}"
    site = pytester.makepyfile(test_site_checks=SITE_TESTS)
    run = run_diag(*EVERY_FORMAT, "--proxydiag-no-direct", "--proxydiag-clients", "none",
                   "--proxydiag-resolve", "api.anthropic.com:443:127.0.0.1", str(site), env=env)
    # The run really exercised the dangerous paths: the proxy got the credentials and echoed them,
    # the site assert failed on the password, the user test on the key, logs were captured.
    assert run.root_cause == "auth.credentials", run.outcomes()
    assert run.step("site.password_policy")["outcome"] == "failed"
    assert 'realm="you sent Basic ***"' in run.step("auth.credentials")["finding"]
    assert "checking proxy password ***" in run.output and "AssertionError" in run.output
    planted = {p.resolve() for p in diag_home.rglob("*") if p.is_file()}
    assert scan_outputs(run, pytester, planted) == []


def test_no_canary_reaches_any_output_with_a_real_squid(run_diag, pytester, diag_home, lab_factory):
    lab = lab_factory("basic-auth")
    env = plant(diag_home)
    site = pytester.makepyfile(test_site_checks=SITE_TESTS)
    run = run_diag(*EVERY_FORMAT, str(site), env=env, lab=lab)
    assert run.step("site.password_policy")["outcome"] == "failed"
    from pytest_proxydiag.lab import PASSWORD, USER

    SECRETS_WITH_LAB = {**SECRETS, "lab proxy password": PASSWORD}
    planted = {p.resolve() for p in diag_home.rglob("*") if p.is_file()}
    found = scan_outputs(run, pytester, planted)
    lab_forms = forms(PASSWORD) | forms(f"{USER}:{PASSWORD}")
    found += [f"lab password ({f!r}) in terminal" for f in lab_forms if f in run.output]
    for path in pytester.path.rglob("*"):
        if path.is_file() and path.suffix != ".zip" and path.resolve() not in planted:
            text = path.read_bytes().decode("utf-8", "replace")
            found += [f"lab password ({f!r}) in {path.name}" for f in lab_forms if f in text]
    assert found == [], SECRETS_WITH_LAB.keys()


@pytest.mark.parametrize("where", ["settings", "env"])
def test_no_canary_reaches_any_output_from_a_derived_target(run_diag, pytester, diag_home, echo_proxy, where):
    """A Bedrock gateway URL with credentials, in Claude Code's settings or the shell: the derived target carries
    them into every step's parameters, and every output (each step's HTML extras too) must mask them."""
    gateway_password = "Gw!canary$5e0d"
    mode = {"CLAUDE_CODE_USE_BEDROCK": "1",
            "ANTHROPIC_BEDROCK_BASE_URL": f"https://{PROXY_USER}:{quote(gateway_password, safe='')}@127.0.0.1:9"}
    env = {"HTTPS_PROXY": f"http://127.0.0.1:{echo_proxy.port}"}
    if where == "settings":
        (diag_home / ".claude").mkdir()
        (diag_home / ".claude" / "settings.json").write_text(json.dumps({"env": mode}))
    else:
        env.update(mode)
    run = run_diag(*EVERY_FORMAT, "-m", "connectivity or policy", "--proxydiag-clients", "none", env=env)
    # The run did take its target from there (the password masked in the header).
    assert f"from {where}:ANTHROPIC_BEDROCK_BASE_URL" in run.output, run.output
    planted = {p.resolve() for p in diag_home.rglob("*") if p.is_file()}
    found = scan_outputs(run, pytester, planted)
    found += [f"gateway password ({f!r}) in {name}" for f in forms(gateway_password)
              for name, text in [("terminal", run.output)] + [
                  (p.name, p.read_bytes().decode("utf-8", "replace")) for p in pytester.path.rglob("*")
                  if p.is_file() and p.suffix != ".zip" and p.resolve() not in planted]
              if f in text]
    html = (pytester.path / "report.html").read_text()
    assert "127.0.0.1:9" in html, "the HTML names no target at all"
    assert found == []
