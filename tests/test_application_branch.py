"""APPLICATION branch: the parsers on their own, then every finding provoked through a real Squid (the lab).

Each diagnosis test sets up one real misconfiguration (a temporary HOME with
shell profiles and ~/.claude/settings.json, a LiteLLM config, CA variables
that only some clients read) and asserts the step id, its outcome and the
solution text the user gets.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest

from pytest_proxydiag.branches import application as appcheck
from pytest_proxydiag.branches import environments
from pytest_proxydiag.proof import appruns
from pytest_proxydiag.proof.clients import ClientRun


# ------------------------------------------------------------------ environment views (no network)
def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_http_proxy_without_https_proxy_is_an_issue_with_the_https_line_to_add(tmp_path):
    cmp = environments.compare_env({"SHELL": "/bin/zsh", "HTTP_PROXY": "http://p:3128"}, tmp_path, etc_files=False)
    assert [i.key for i in cmp.issues] == ["http_only"]
    assert cmp.issues[0].fix["HTTPS_PROXY"] == "http://p:3128"
    assert cmp.startup_file == "~/.zshrc"


def test_value_only_in_a_loaded_profile_is_profile_only(tmp_path):
    _write(tmp_path / ".bashrc", '# proxy\nexport HTTPS_PROXY="http://corp:8080"\nexport HTTP_PROXY="$HTTPS_PROXY"\n')
    cmp = environments.compare_env({"SHELL": "/bin/bash"}, tmp_path, etc_files=False)
    assert cmp.issues[0].key == "profile_only"
    assert cmp.new_shell == {"HTTPS_PROXY": "http://corp:8080", "HTTP_PROXY": "http://corp:8080"}
    assert ".bashrc:2 (read by bash)" in cmp.issues[0].detail


def test_value_in_a_file_the_users_shell_never_reads_is_not_loaded(tmp_path):
    _write(tmp_path / ".zshrc", "export HTTPS_PROXY=http://corp:8080\n")
    cmp = environments.compare_env({"SHELL": "/bin/bash"}, tmp_path, etc_files=False)
    assert cmp.issues[0].key == "not_loaded"
    assert "bash never reads that file" in cmp.issues[0].detail


def test_bash_profile_shadows_dot_profile(tmp_path):
    _write(tmp_path / ".profile", "export HTTPS_PROXY=http://corp:8080\n")
    _write(tmp_path / ".bash_profile", "# created later by an installer\n")
    cmp = environments.compare_env({"SHELL": "/bin/bash"}, tmp_path, etc_files=False)
    assert cmp.issues[0].key == "not_loaded"
    # Without the shadowing file, bash reads ~/.profile.
    (tmp_path / ".bash_profile").unlink()
    assert environments.compare_env({"SHELL": "/bin/bash"}, tmp_path, etc_files=False).issues[0].key == "profile_only"


def test_fish_config_is_read(tmp_path):
    _write(tmp_path / ".config/fish/config.fish", "set -gx HTTPS_PROXY http://corp:8080\n")
    cmp = environments.compare_env({"SHELL": "/usr/bin/fish"}, tmp_path, etc_files=False)
    assert cmp.new_shell == {"HTTPS_PROXY": "http://corp:8080"}
    assert cmp.startup_file == "~/.config/fish/config.fish"


def test_upper_and_lower_case_disagreeing(tmp_path):
    env = {"SHELL": "/bin/bash", "HTTPS_PROXY": "http://a:1", "https_proxy": "http://b:2"}
    cmp = environments.compare_env(env, tmp_path, etc_files=False)
    assert cmp.issues[0].key == "case_mismatch"
    assert "https_proxy=http://b:2 but HTTPS_PROXY=http://a:1" in cmp.issues[0].detail


def test_claude_settings_overriding_the_shell(tmp_path):
    _write(tmp_path / ".claude/settings.json", json.dumps({"env": {"HTTPS_PROXY": "http://other:9"}}))
    cmp = environments.compare_env({"SHELL": "/bin/bash", "HTTPS_PROXY": "http://corp:8080"}, tmp_path,
                               etc_files=False)
    assert [i.key for i in cmp.issues] == ["claude_differs"]


def test_broken_claude_settings_are_a_problem_not_a_crash(tmp_path):
    _write(tmp_path / ".claude/settings.json", "{not json")
    cmp = environments.compare_env({"SHELL": "/bin/bash", "HTTPS_PROXY": "http://corp:8080"}, tmp_path,
                               etc_files=False)
    assert cmp.issues == [] and "cannot be read as JSON" in cmp.problems[0]


def test_agreeing_views_have_no_issue(tmp_path):
    _write(tmp_path / ".bashrc", "export HTTPS_PROXY=http://corp:8080\nexport https_proxy=http://corp:8080\n")
    env = {"SHELL": "/bin/bash", "HTTPS_PROXY": "http://corp:8080", "https_proxy": "http://corp:8080"}
    assert environments.compare_env(env, tmp_path, etc_files=False).issues == []


# ------------------------------------------------------------------ LiteLLM config parser (no network)
def test_litellm_proxy_refs_and_timeouts(tmp_path):
    path = _write(tmp_path / "config.yaml", """
model_list:
  - model_name: claude
    litellm_params: &params
      model: anthropic/claude-sonnet-4
      api_key: os.environ/ANTHROPIC_API_KEY
  - model_name: claude-again
    litellm_params: *params
litellm_settings:
  request_timeout: 30
  proxy:
    http_proxy: os.environ/HTTP_PROXY
    https_proxy: os.environ/HTTPS_PROXY
router_settings:
  timeout: 20
""")
    cfg = appcheck.parse_litellm_config(str(path), {"HTTPS_PROXY": "x"})
    assert cfg.error is None and cfg.models == 2
    assert set(cfg.proxy) == {"litellm_settings.proxy.http_proxy", "litellm_settings.proxy.https_proxy"}
    assert set(cfg.unset_refs) == {"HTTP_PROXY", "ANTHROPIC_API_KEY"}
    assert (cfg.request_timeout, cfg.router_timeout) == (30.0, 20.0)


def test_litellm_tabs_are_reported_with_their_lines(tmp_path):
    path = _write(tmp_path / "config.yaml", "litellm_settings:\n\trequest_timeout: 30\n")
    cfg = appcheck.parse_litellm_config(str(path), {})
    assert "not valid YAML" in cfg.error and "tabs on line 2" in cfg.error


def test_litellm_ssl_verify_false_anywhere(tmp_path):
    path = _write(tmp_path / "c.yaml", "model_list:\n  - litellm_params: {ssl_verify: false}\n"
                                       "litellm_settings: {ssl_verify: 'False'}\n")
    cfg = appcheck.parse_litellm_config(str(path), {})
    assert cfg.ssl_verify_false == ["model_list[0].litellm_params.ssl_verify", "litellm_settings.ssl_verify"]


def test_litellm_alias_bomb_is_bounded(tmp_path):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 12):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    path = _write(tmp_path / "bomb.yaml", "\n".join(lines) + "\n")
    cfg = appcheck.parse_litellm_config(str(path), {})   # 9**12 paths if walked naively
    assert cfg.error is None and cfg.proxy == {}


def test_litellm_not_a_mapping_and_oversized(tmp_path):
    assert "not a mapping" in appcheck.parse_litellm_config(str(_write(tmp_path / "l.yaml", "- a\n")), {}).error
    big = tmp_path / "big.yaml"
    big.write_bytes(b"#" * (appcheck.MAX_LITELLM + 1))
    assert "not read" in appcheck.parse_litellm_config(str(big), {}).error


# ------------------------------------------------------------------ exception -> branch (no network)
def _run(code, error, client="requests"):
    return ClientRun(client, "1", False, None, error, code, 0.1, "")


@pytest.mark.parametrize("code,error,branch", [
    ("ProxyError", "Tunnel connection failed: 407 Proxy Authentication Required", "auth"),
    ("proxy-403", "the proxy answered 403 (X-Squid-Error: ERR_ACCESS_DENIED 0), not the target", "policy"),
    ("ProxyError", "Tunnel connection failed: 403 Forbidden", "policy"),
    ("ProxyError", "Tunnel connection failed: 502 Bad Gateway", "tunnel"),
    ("proxy-503", "the proxy answered 503, not the target", "tunnel"),
    ("SSLError", "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate", "certificate"),
    ("ProxyError", "Unable to connect to proxy NewConnectionError [Errno 111] Connection refused", "connectivity"),
    ("ConnectTimeout", "timed out", "connectivity"),
    ("InvalidURL", "Failed to parse: http://u:p#w@host:8080", "encoding"),
    ("60", "SSL certificate problem: self-signed certificate in certificate chain", "certificate"),
])
def test_client_errors_map_back_to_their_branch(code, error, branch):
    assert appcheck.classify_client_error(_run(code, error))[0] == branch


@pytest.mark.parametrize("error,said", [("Tunnel connection failed: 403 Access violation", "(403)"),
                                        ("Tunnel connection failed: 451 Unavailable For Legal Reasons", "(451)")])
def test_a_refused_connect_is_quoted_with_its_own_status_not_an_invented_reason(error, said):
    # tinyproxy's '403 Access violation' was reported as '(403 Forbidden)', a reason phrase it never sent.
    reason = appcheck.classify_client_error(_run("ProxyError", error))[1]
    assert said in reason and "Forbidden" not in reason, reason


def test_public_roots_emulation_never_overrides_the_users_ca_variables():
    env = {"SSL_CERT_FILE": "/corp.pem"}
    assert appruns.emulate_public_roots(env, "requests", "/roots.pem")["REQUESTS_CA_BUNDLE"] == "/roots.pem"
    assert appruns.emulate_public_roots(env, "httpx", "/roots.pem")["SSL_CERT_FILE"] == "/corp.pem"
    assert "CURL_CA_BUNDLE" not in appruns.emulate_public_roots(env, "curl", "/roots.pem")


# ------------------------------------------------------------------ real diagnoses through the lab's Squid
def _only(run, *step_ids):
    return {s["id"]: s for s in run.steps if s["id"] in step_ids}


def test_http_proxy_only_fails_env_in_shell_with_zsh_lines(run_diag, lab_factory):
    lab = lab_factory("healthy")
    run = run_diag("-m", "application", lab=lab,
                   env={"HTTPS_PROXY": "", "SHELL": "/bin/zsh", "HTTP_PROXY": lab.proxy_url})
    step = run.step("application.env_in_shell")
    assert step["outcome"] == "failed"
    assert "Only HTTP_PROXY is set, no HTTPS_PROXY" in step["finding"]
    assert "~/.zshrc" in step["solution"] and f'export HTTPS_PROXY="{lab.proxy_url}"' in step["solution"]
    # requests would go direct: not run (never leaves loopback), blamed on the environment.
    py = run.step("application.python_requests")
    assert py["outcome"] == "skipped" and py["blocked_by"] == "application.env_in_shell"


def test_http_proxy_only_with_fish_gives_set_gx(run_diag, lab_factory):
    lab = lab_factory("healthy")
    run = run_diag("-m", "application", "-k", "env_in_shell", lab=lab,
                   env={"HTTPS_PROXY": "", "SHELL": "/usr/bin/fish", "HTTP_PROXY": lab.proxy_url})
    step = run.step("application.env_in_shell")
    assert step["outcome"] == "failed"
    assert f'set -gx HTTPS_PROXY "{lab.proxy_url}"' in step["solution"]
    assert "~/.config/fish/config.fish" in step["solution"]


def test_proxy_only_in_profile(run_diag, lab_factory, diag_home):
    lab = lab_factory("healthy")
    _write(diag_home / ".bashrc", f"export HTTPS_PROXY={lab.proxy_url}\n")
    run = run_diag("-m", "application", "-k", "env_in_shell", "--proxydiag-proxy", lab.proxy_url, lab=lab,
                   env={"HTTPS_PROXY": "", "HTTP_PROXY": "", "SHELL": "/bin/bash"})
    step = run.step("application.env_in_shell")
    assert step["outcome"] == "failed"
    assert step.get("finding_key", "profile_only") == "profile_only"
    assert "set only in" in step["finding"] and ".bashrc:1 (read by bash)" in step["finding"]
    assert "~/.bashrc" in step["solution"] and "source ~/.bashrc" in step["solution"]


def test_upper_lower_disagreement(run_diag, lab_factory):
    lab = lab_factory("healthy")
    other = lab.proxy_url.replace("127.0.0.1", "localhost")
    run = run_diag("-m", "application", "-k", "env_in_shell", lab=lab,
                   env={"https_proxy": other, "SHELL": "/bin/bash"})
    step = run.step("application.env_in_shell")
    assert step["outcome"] == "failed"
    assert f"https_proxy={other} but HTTPS_PROXY={lab.proxy_url}" in step["finding"]
    assert "export HTTPS_PROXY=" in step["solution"] and "export https_proxy=" in step["solution"]


def test_claude_settings_json_disagreeing(run_diag, lab_factory, diag_home):
    lab = lab_factory("healthy")
    _write(diag_home / ".claude/settings.json", json.dumps({"env": {"HTTPS_PROXY": "http://127.0.0.1:9"}}))
    run = run_diag("-m", "application", "-k", "env_in_shell", lab=lab, env={"SHELL": "/bin/bash"})
    step = run.step("application.env_in_shell")
    assert step["outcome"] == "failed" and "Claude Code uses instead" in step["finding"]
    assert "settings.json" in step["solution"]


def test_healthy_lab_requests_httpx_and_curl_all_reach_the_provider(run_diag, lab_factory):
    lab = lab_factory("healthy")
    run = run_diag("-m", "application", lab=lab, env={"SHELL": "/bin/bash"})
    py = run.step("application.python_requests")
    assert py["outcome"] == "passed", py
    clients = py["evidence"]["clients"]
    assert "reached (401)" in clients["requests"] and "reached (401)" in clients["curl"]
    if importlib.util.find_spec("httpx"):
        assert "reached (401)" in clients["httpx"]
    assert run.step("application.env_in_shell")["outcome"] == "passed"
    assert not run.failed()


def test_curl_works_python_does_not_because_requests_ignores_ssl_cert_file(run_diag, lab_factory):
    lab = lab_factory("ssl-bump-trusted")
    env = {k: v for k, v in lab.env.items() if k not in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")}
    # Not lab=lab: that would put the two removed variables back.
    run = run_diag("-m", "application", "-k", "python_requests", *lab.pytest_args, env={**env, "SHELL": "/bin/bash"})
    step = run.step("application.python_requests")
    assert step["outcome"] == "failed", step
    assert step["finding"].startswith("curl works, requests does not, because requests does not read SSL_CERT_FILE")
    assert f'export REQUESTS_CA_BUNDLE="{lab.env["SSL_CERT_FILE"]}"' in step["solution"]
    assert step["fix"]["env"] == {"REQUESTS_CA_BUNDLE": lab.env["SSL_CERT_FILE"]}
    assert "httpx" not in step["finding"].split("because")[0]   # httpx reads SSL_CERT_FILE and works


def test_wrong_password_maps_requests_back_to_auth(run_diag, lab_factory):
    lab = lab_factory("wrong-password")
    run = run_diag("-m", "application", "-k", "python_requests", lab=lab, env={"SHELL": "/bin/bash"})
    step = run.step("application.python_requests")
    assert step["outcome"] == "skipped" and step["blocked_by"] == "auth.credentials"


def _sdk_env():
    """PYTHONPATH that makes the Anthropic SDK importable for the client subprocess, or skip."""
    if importlib.util.find_spec("anthropic"):
        return {}
    path = os.environ.get("PROXYDIAG_SDK_PATH")
    if path and (Path(path) / "anthropic").is_dir():
        return {"PYTHONPATH": path}
    pytest.skip("the Anthropic SDK is not installed (pip install anthropic, or pip install --target DIR anthropic "
                "and PROXYDIAG_SDK_PATH=DIR)")


def test_debug_logging_shows_the_sdk_going_through_the_proxy(run_diag, lab_factory):
    lab = lab_factory("healthy")
    run = run_diag("-m", "application", "-k", "debug_logging", lab=lab, env={**_sdk_env(), "SHELL": "/bin/bash"})
    step = run.step("application.debug_logging")
    assert step["outcome"] == "passed", step
    assert "the log shows the CONNECT through the proxy" in step["summary"]
    sdk = step["evidence"]["sdk_runs"]["anthropic"]
    assert sdk["status"] == 401 and sdk["used_proxy"] is True
    assert str(lab.proxy_port) in " ".join(sdk["log_lines"])
    versions = step["evidence"]["versions"]
    assert {"claude", "litellm", "node", "python", "requests", "httpx", "anthropic", "openssl", "curl",
            "os"} <= set(versions)


def test_debug_logging_defers_an_sdk_certificate_error_to_the_interception_finding(run_diag, lab_factory):
    # The SDK fails on the untrusted interception CA: that is certificate.interception's finding, not an SDK
    # setup to upgrade ('pip install -U anthropic litellm' was the advice under OTHER FINDINGS of the demo).
    lab = lab_factory("ssl-bump-untrusted")
    run = run_diag("-k", "interception or debug_logging", lab=lab, env={**_sdk_env(), "SHELL": "/bin/bash"})
    assert run.step("certificate.interception")["outcome"] == "failed"
    step = run.step("application.debug_logging")
    assert step["outcome"] == "skipped" and step["blocked_by"] == "certificate.interception", step
    assert "CERTIFICATE_VERIFY_FAILED" in step["skip_reason"]
    assert "the proxy's certificate is not trusted" in step["skip_reason"]


def test_debug_logging_without_an_sdk_is_skipped_naming_them(run_diag, lab_factory, tmp_path):
    # The [test] extra installs the Anthropic SDK: hide it (and LiteLLM) from the Python the step starts,
    # as a machine without them looks. A module set to None in sys.modules is one find_spec() does not
    # find and `import` refuses.
    hider = tmp_path / "hide-sdks"
    hider.mkdir()
    (hider / "sitecustomize.py").write_text("import sys\nsys.modules['anthropic'] = None\n"
                                            "sys.modules['litellm'] = None\n", encoding="utf-8")
    lab = lab_factory("healthy")
    run = run_diag("-m", "application", "-k", "debug_logging", lab=lab,
                   env={"SHELL": "/bin/bash", "PYTHONPATH": str(hider)})
    step = run.step("application.debug_logging")
    assert step["outcome"] == "skipped"
    assert "anthropic and litellm not installed" in step["skip_reason"]
    assert step["evidence"]["versions"]["curl"].startswith("7.") or "missing" not in step["evidence"]["versions"]["curl"]


def test_user_api_key_never_reaches_a_client(run_diag, lab_factory):
    lab = lab_factory("healthy")
    secret = "sk-ant-api03-THIS-IS-THE-USERS-REAL-KEY-0123456789"
    run = run_diag("-m", "application", lab=lab, env={**_sdk_env(), "SHELL": "/bin/bash",
                                                       "ANTHROPIC_API_KEY": secret})
    seen = [r.headers.get("x-api-key") for r in lab.origin_requests()]
    assert seen and secret not in json.dumps(seen) and secret not in run.output
    assert secret not in run.json_path.read_text()


# ------------------------------------------------------------------ LiteLLM config through the plugin
_GOOD = """
model_list:
  - model_name: claude
    litellm_params: {model: anthropic/claude-sonnet-4}
litellm_settings:
  proxy:
    http_proxy: os.environ/HTTP_PROXY
    https_proxy: os.environ/HTTPS_PROXY
"""


@pytest.mark.parametrize("text,outcome,key_text,solution_text", [
    (_GOOD, "passed", None, None),
    (_GOOD + "  ssl_verify: false\n", "failed", "turns certificate verification off",
     "ssl_verify: /corp/bundle.pem"),
    (_GOOD.replace("HTTPS_PROXY", "CORP_HTTPS_PROXY"), "failed", "CORP_HTTPS_PROXY is not set",
     "export CORP_HTTPS_PROXY="),
    ("model_list: []\nlitellm_settings:\n  request_timeout: 600\n", "failed", "has no proxy settings",
     "https_proxy: os.environ/HTTPS_PROXY"),
    ("litellm_settings:\n\tproxy: {}\n", "failed", "tabs on line 2", "never tabs"),
], ids=["good", "ssl_verify_false", "unset_ref", "missing", "tabs"])
def test_litellm_config_step(run_diag, pytester, text, outcome, key_text, solution_text):
    (pytester.path / "config.yaml").write_text(text)
    run = run_diag("-m", "application", "-k", "litellm_config", "--proxydiag-proxy", "http://127.0.0.1:9",
                   env={"HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9",
                        "SSL_CERT_FILE": "/corp/bundle.pem", "SHELL": "/bin/bash"})
    step = run.step("application.litellm_config")
    assert step["outcome"] == outcome, step
    if key_text:
        assert key_text in step["finding"]
        assert solution_text in step["solution"]
        assert "ssl_verify: false" not in step["solution"]   # never recommend disabling verification


def test_litellm_config_from_env_variable(run_diag, tmp_path):
    path = _write(tmp_path / "gw.yaml", "model_list: []\n")
    run = run_diag("-m", "application", "-k", "litellm_config", env={"LITELLM_CONFIG": str(path),
                                                                     "SHELL": "/bin/bash"})
    step = run.step("application.litellm_config")
    assert step["outcome"] == "failed" and str(path) in step["finding"]
    assert step["evidence"]["litellm"]["source"] == "env:LITELLM_CONFIG"


def test_a_proxy_set_only_in_claude_settings_is_exported_with_the_password_placeholder(tmp_path):
    # The audit found `export HTTPS_PROXY="http://***@127.0.0.1:9"`: the settings.json value, redacted on
    # output, was the fix line, which nobody can paste. The password becomes the placeholder and its command.
    _write(tmp_path / ".claude" / "settings.json",
           '{"env": {"HTTPS_PROXY": "http://bob:s3cret%40PW@proxy.corp:3128"}}')
    cmp = environments.compare_env({"SHELL": "/bin/bash"}, tmp_path, etc_files=False)
    assert cmp.issues[0].key == "claude_only"
    judgement = environments.judge_env(cmp, None)
    assert judgement.outcome == "fail"
    env = judgement.fix["env"]
    assert env["HTTPS_PROXY"] == "http://bob:<URL-ENCODED-PASSWORD>@proxy.corp:3128"
    assert not any("s3cret" in v for v in env.values())
    assert "s3cret" not in judgement.values["export_lines"]
    assert 'export HTTPS_PROXY="http://bob:<URL-ENCODED-PASSWORD>@proxy.corp:3128"' in judgement.values["export_lines"]


def test_a_credentialed_proxy_found_in_a_profile_is_exported_with_the_password_placeholder(tmp_path):
    _write(tmp_path / ".bashrc", 'export HTTPS_PROXY="http://bob:s3cret@proxy.corp:3128"\n')
    cmp = environments.compare_env({"SHELL": "/bin/bash"}, tmp_path, etc_files=False)
    assert cmp.issues[0].key == "profile_only"
    env = environments.judge_env(cmp, None).fix["env"]
    assert set(env.values()) == {"http://bob:<URL-ENCODED-PASSWORD>@proxy.corp:3128"}
