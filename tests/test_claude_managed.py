"""Claude Code's managed (organisation) settings as IT deploys them, measured with the real 2.1.332.

Measured in a private mount and network namespace (``unshare -m -n``, an overlay over /etc, loopback
listeners as proxies), shell ``HTTPS_PROXY`` on one port, each settings scope naming another:

* ``/etc/claude-code/managed-settings.d/*.json`` (the drop-in directory) are read after
  ``managed-settings.json``, in name order, the later file winning: ``10-a.json`` and ``20-b.json`` over
  managed-settings.json, every API CONNECT went to ``20-b.json``'s proxy; ``.99-hidden.json`` and
  ``99-z.conf`` were not read.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from pytest_proxydiag.machine import claude_settings
from pytest_proxydiag.proof import clients
from pytest_proxydiag.proof.clients import describe, run_client

DEFAULT_CLAUDE = "/opt/proxydiag-claude/node_modules/.bin/claude"


def _write(path: Path, doc) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


@pytest.fixture
def managed_dir(tmp_path, monkeypatch) -> Path:
    """Where this machine's /etc/claude-code is, for every reader of the run (relocated into tmp_path)."""
    where = tmp_path / "etc" / "claude-code"
    monkeypatch.setattr(claude_settings, "_MANAGED_DEFAULT", str(where / "managed-settings.json"))
    monkeypatch.setattr(claude_settings.sys, "platform", "linux")
    return where


def test_drop_ins_are_read_after_managed_settings_in_name_order(tmp_path, managed_dir):
    home = tmp_path / "home"
    _write(home / ".claude" / "settings.json", {"env": {"HTTPS_PROXY": "http://user:1", "U": "u"}})
    _write(managed_dir / "managed-settings.json", {"env": {"HTTPS_PROXY": "http://managed:2", "M": "m"}})
    _write(managed_dir / "managed-settings.d" / "20-b.json", {"env": {"HTTPS_PROXY": "http://drop-in-b:4"}})
    first = _write(managed_dir / "managed-settings.d" / "10-a.json",
                   {"env": {"HTTPS_PROXY": "http://drop-in-a:3", "A": "a"}})
    _write(managed_dir / "managed-settings.d" / ".99-hidden.json", {"env": {"HTTPS_PROXY": "http://hidden:5"}})
    _write(managed_dir / "managed-settings.d" / "99-z.conf", {"env": {"HTTPS_PROXY": "http://conf:6"}})
    cs = claude_settings.read(home, None)
    assert cs.env == {"HTTPS_PROXY": "http://drop-in-b:4", "U": "u", "M": "m", "A": "a"}
    assert cs.where("HTTPS_PROXY") == str(managed_dir / "managed-settings.d" / "20-b.json")
    assert cs.where("A") == str(first)
    assert [scope for scope, _ in claude_settings.settings_files(home, None)] == ["user", "managed", "managed",
                                                                                  "managed"]


def test_a_proxy_set_only_in_a_managed_drop_in_is_the_one_diagnosed(run_diag, lab_factory, managed_dir):
    """IT ships the proxy as /etc/claude-code/managed-settings.d/50-proxy.json, the shell has none: Claude Code's
    traffic takes it, so its wrong password is the root cause (not 'no proxy configured')."""
    lab = lab_factory("wrong-password")
    drop_in = _write(managed_dir / "managed-settings.d" / "50-proxy.json", {"env": {"HTTPS_PROXY": lab.env["HTTPS_PROXY"]}})
    env = {k: v for k, v in lab.env.items() if "proxy" not in k.lower()}
    run = run_diag("-m", "auth or connectivity", "--proxydiag-clients", "none", "--proxydiag-no-direct",
                   *lab.pytest_args, env=env)
    assert run.doc["config"]["proxy"]["source"] == "settings:HTTPS_PROXY", run.doc["config"]["proxy"]
    assert run.root_cause == "auth.credentials", run.output[-3000:]
    assert run.step("auth.env_exported")["outcome"] == "passed"
    assert str(drop_in) in json.dumps(run.doc["config"]) + run.step("auth.env_exported")["summary"], \
        run.step("auth.env_exported")
    assert "not-the-password" not in run.output + run.json_path.read_text()


# ----------------------------------------------------------------------------- the real client

_OVERLAY_ETC = ('mount -t overlay overlay -o "lowerdir=/etc,upperdir=$0/up,workdir=$0/work" /etc '
                '&& cp -r "$0/claude-code" /etc/ && cp "$0/hosts" /etc/hosts && exec "$@"')


def _skip(why: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(why + "; under CI=true this is an error")
    pytest.skip(why)


def _real_claude() -> str:
    """The real claude binary, or skip (fail under CI=true)."""
    real = os.environ.get(clients.CLAUDE_ENV) or (DEFAULT_CLAUDE if os.access(DEFAULT_CLAUDE, os.X_OK)
                                                  else shutil.which("claude"))
    if not real:
        _skip("Claude Code is not installed (.ci/install-claude.sh)")
    return real


@pytest.fixture
def claude_with_etc(tmp_path, monkeypatch):
    """``etc(dir)``: the real claude (as the runner's ``claude``) sees *dir* as /etc/claude-code, in a private
    mount namespace (an overlay over /etc, root only); provider names are pinned to loopback there too."""
    real = _real_claude()
    if os.geteuid() != 0 or not shutil.which("unshare"):
        _skip("an overlay over /etc in a private mount namespace needs root and unshare (util-linux)")

    def etc(folder: Path) -> None:
        over = tmp_path / "overlay"
        for sub in ("up", "work"):
            (over / sub).mkdir(parents=True, exist_ok=True)
        shutil.copytree(folder, over / "claude-code", dirs_exist_ok=True)
        (over / "hosts").write_text("127.0.0.1 localhost\n127.0.0.2 api.anthropic.com claude.ai\n")
        wrapper = tmp_path / "claude"
        wrapper.write_text(f"#!/bin/sh\nexec unshare -m --propagation private -- sh -c '{_OVERLAY_ETC}' {over} "
                           f"{real} \"$@\"\n")
        wrapper.chmod(0o755)
        monkeypatch.setenv(clients.CLAUDE_ENV, str(wrapper))

    return etc


def test_real_claude_takes_the_proxy_of_the_last_drop_in(claude_with_etc, lab_factory, tmp_path, managed_dir,
                                                         monkeypatch):
    """The shell and managed-settings.json name a closed port; IT's drop-in names the real proxy (whose password is
    wrong): Claude Code meets that proxy's refusal (ERR_PROXY_TUNNEL, not ECONNREFUSED), as the reader says."""
    lab = lab_factory("wrong-password")
    _write(managed_dir / "managed-settings.json", {"env": {"HTTPS_PROXY": "http://127.0.0.1:9"}})
    _write(managed_dir / "managed-settings.d" / "50-proxy.json", {"env": {"HTTPS_PROXY": lab.env["HTTPS_PROXY"]}})
    claude_with_etc(managed_dir)
    monkeypatch.chdir(tmp_path)
    home = tmp_path / "user-home"
    home.mkdir()
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "LANG": "C.UTF-8", "HTTPS_PROXY": "http://127.0.0.1:9"}
    assert claude_settings.read(home, tmp_path).env["HTTPS_PROXY"] == lab.env["HTTPS_PROXY"]
    # The run carries the settings it read (the drop-in's proxy); the real claude reads /etc/claude-code itself too.
    run = run_client("claude", lab.target_url, env, 20)
    assert not run.reached and run.error_code == "ERR_PROXY_TUNNEL", describe(run)


@pytest.mark.parametrize("name, text", [("managed-settings.json", '{"env": {"HTTPS_PROXY": "%s",}}'),
                                        ("managed-settings.d/50-proxy.json", "[]")])
def test_an_unparsable_managed_file_stops_claude_code_and_is_its_to_fix(run_diag, lab_factory, managed_dir, name,
                                                                         text):
    """Measured with 2.1.332: a managed file (or drop-in) that is not a JSON object stops Claude Code at once
    (exit 1: "<path>: Managed settings document could not be parsed as a JSON object; none of its settings are in
    effect. Fix or remove it."), while a broken user, project or local file is ignored and Claude Code runs on."""
    lab = lab_factory("healthy")
    path = _write(managed_dir / name, text.replace("%s", lab.env["HTTPS_PROXY"]))
    run = run_diag("-m", "bypass", "--proxydiag-clients", "none", *lab.pytest_args, lab=lab)
    step = run.step("bypass.app_settings")
    assert run.root_cause == "bypass.app_settings" and step["finding_key"] == "managed_unparsable", run.output[-3000:]
    assert "refuses to start" in step["finding"] and "Managed settings document could not be parsed" in step["finding"]
    assert f"python3 -m json.tool '{path}'" in step["solution"] or f"python3 -m json.tool {path}" in step["solution"]
    assert "ask IT" in step["solution"] and "override the shell" not in step["solution"]


def test_a_broken_user_file_is_still_read_as_ignored(run_diag, lab_factory, diag_home):
    lab = lab_factory("healthy")
    _write(diag_home / ".claude" / "settings.json", '{"env": {"HTTPS_PROXY": "http://127.0.0.1:9",}}')
    run = run_diag("-m", "bypass", "--proxydiag-clients", "none", *lab.pytest_args, lab=lab)
    assert run.step("bypass.app_settings")["finding_key"] == "unreadable"


def test_real_claude_will_not_start_with_an_unparsable_managed_file(claude_with_etc, lab_factory, tmp_path,
                                                                     managed_dir, monkeypatch):
    lab = lab_factory("healthy")
    _write(managed_dir / "managed-settings.json", '{"env": {"DISABLE_TELEMETRY": "1",}}')
    claude_with_etc(managed_dir)
    monkeypatch.chdir(tmp_path)
    home = tmp_path / "user-home"
    home.mkdir()
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "LANG": "C.UTF-8", "HTTPS_PROXY": lab.env["HTTPS_PROXY"]}
    run = run_client("claude", lab.target_url, env, 20)
    assert not run.reached and run.error_code == "exit 1", describe(run)
    assert "Managed settings document could not be parsed as a JSON object" in run.error, describe(run)


# A UTF-8 byte order mark (PowerShell 5's Set-Content -Encoding UTF8, Notepad) is skipped by Claude Code 2.1.332:
# measured, ~/.claude/settings.json and managed-settings.json with one had their HTTPS_PROXY used.
BOM = "\ufeff"


def test_a_settings_file_with_a_byte_order_mark_is_read_as_claude_code_reads_it(run_diag, lab_factory, diag_home):
    lab = lab_factory("wrong-password")
    _write(diag_home / ".claude" / "settings.json", BOM + json.dumps({"env": {"HTTPS_PROXY": lab.env["HTTPS_PROXY"]}}))
    env = {k: v for k, v in lab.env.items() if "proxy" not in k.lower()}
    run = run_diag("-m", "auth or connectivity or bypass", "--proxydiag-clients", "none", "--proxydiag-no-direct",
                   *lab.pytest_args, env=env)
    assert run.doc["config"]["proxy"]["source"] == "settings:HTTPS_PROXY", run.doc["config"]["proxy"]
    assert run.root_cause == "auth.credentials", run.output[-3000:]
    assert run.step("bypass.app_settings")["finding_key"] != "unreadable", run.step("bypass.app_settings")


def test_real_claude_skips_a_byte_order_mark_in_managed_settings(claude_with_etc, lab_factory, tmp_path, managed_dir,
                                                                 monkeypatch):
    lab = lab_factory("wrong-password")
    _write(managed_dir / "managed-settings.json", BOM + json.dumps({"env": {"HTTPS_PROXY": lab.env["HTTPS_PROXY"]}}))
    claude_with_etc(managed_dir)
    monkeypatch.chdir(tmp_path)
    home = tmp_path / "user-home"
    home.mkdir()
    cs = claude_settings.read(home, tmp_path)
    assert cs.env.get("HTTPS_PROXY") == lab.env["HTTPS_PROXY"] and cs.problems == [], cs
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "LANG": "C.UTF-8", "HTTPS_PROXY": "http://127.0.0.1:9"}
    run = run_client("claude", lab.target_url, env, 20)
    # It starts (no "could not be parsed") and meets the managed proxy's refusal, not the shell's closed port.
    assert not run.reached and run.error_code == "ERR_PROXY_TUNNEL", describe(run)


# A value of the wrong type in a user, project or local file makes Claude Code 2.1.332 skip that whole file, its
# "env" included (measured: "permissions": "x", {"allow": "Bash(ls)"}, {"defaultMode": "yolo"},
# {"additionalDirectories": "/x"}, "model": 5, "apiKeyHelper": 5, "statusLine": "x", "cleanupPeriodDays": "x",
# "includeCoAuthoredBy": "yes"); unknown keys, a non-string item of "allow" and a malformed "hooks" only lose that
# field.  Its debug log: "Invalid setting skipped without dialog (automated session): <path>: permissions.defaultMode:
# Invalid value. Expected one of: ...".
@pytest.mark.parametrize("doc, bad", [
    ({"permissions": {"defaultMode": "yolo"}}, "permissions.defaultMode"),
    ({"permissions": {"allow": "Bash(npm run test)"}}, "permissions.allow"),
    ({"model": 5}, "model"),
    ({"includeCoAuthoredBy": "yes"}, "includeCoAuthoredBy"),
])
def test_a_wrong_value_elsewhere_makes_claude_code_skip_the_files_env(tmp_path, doc, bad):
    home = tmp_path / "home"
    path = _write(home / ".claude" / "settings.json", dict(doc, env={"HTTPS_PROXY": "http://user:1"}))
    cs = claude_settings.read(home, None, system_root=tmp_path / "none")
    assert cs.env == {} and len(cs.problems) == 1 and bad in cs.problems[0] and str(path) in cs.problems[0], cs


@pytest.mark.parametrize("doc", [{"permissions": {"allow": ["Bash(ls)", 1], "defaultMode": "acceptEdits"}},
                                 {"hooks": [1, 2]}, {"proxy": "http://x:1"},
                                 {"model": "opus", "apiKeyHelper": "/bin/true", "cleanupPeriodDays": 30}])
def test_what_claude_code_forgives_keeps_the_env(tmp_path, doc):
    home = tmp_path / "home"
    _write(home / ".claude" / "settings.json", dict(doc, env={"HTTPS_PROXY": "http://user:1"}))
    cs = claude_settings.read(home, None, system_root=tmp_path / "none")
    assert cs.env == {"HTTPS_PROXY": "http://user:1"} and cs.problems == [], cs


def test_the_skipped_file_is_the_finding_with_the_setting_to_correct(run_diag, lab_factory, diag_home):
    lab = lab_factory("healthy")
    _write(diag_home / ".claude" / "settings.json",
           {"permissions": {"defaultMode": "yolo"}, "env": {"HTTPS_PROXY": lab.env["HTTPS_PROXY"]}})
    run = run_diag("-m", "bypass", "--proxydiag-clients", "none", *lab.pytest_args, lab=lab)
    step = run.step("bypass.app_settings")
    assert run.root_cause == "bypass.app_settings" and step["outcome"] == "failed", run.output[-3000:]
    assert "permissions.defaultMode" in step["finding"] and "skips the whole file" in step["finding"], step["finding"]
    assert 'correct or remove "permissions.defaultMode"' in step["solution"], step["solution"]
    assert "fix the syntax" not in step["solution"]


def test_real_claude_skips_a_user_file_with_a_wrong_value(lab_factory, tmp_path):
    """The real claude, the user's own HOME: the file's proxy is the lab's (wrong password), the shell's a closed
    port.  A valid file: the proxy refuses the tunnel; one wrong value elsewhere: the shell's port refuses."""
    real = _real_claude()
    lab = lab_factory("wrong-password")
    home = tmp_path / "home"
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "LANG": "C.UTF-8", "ANTHROPIC_API_KEY": "sk-ant-dummy",
           "HTTPS_PROXY": "http://127.0.0.1:9", "CLAUDE_CODE_MAX_RETRIES": "0", "DISABLE_AUTOUPDATER": "1",
           "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"}
    seen = {}
    for case, extra in (("valid", {"model": "opus"}), ("wrong", {"permissions": {"defaultMode": "yolo"}})):
        _write(home / ".claude" / "settings.json", dict(extra, env={"HTTPS_PROXY": lab.env["HTTPS_PROXY"]}))
        proc = subprocess.run([real, "-p", "hello", "--output-format", "json", "--bare"], env=env, cwd=tmp_path,
                              stdin=subprocess.DEVNULL, capture_output=True, timeout=90)
        seen[case] = proc.stdout.decode("utf-8", "replace")[-2000:]
    assert "ERR_PROXY_TUNNEL" in seen["valid"], seen
    assert "ERR_PROXY_TUNNEL" not in seen["wrong"] and "ECONNREFUSED" in seen["wrong"], seen


# Claude Code takes the first non-empty of https_proxy, HTTPS_PROXY, ... from the shell with its settings' env on top
# (measured with 2.1.332): the shell's https_proxy beats a settings HTTPS_PROXY (every CONNECT went to the shell's),
# and a settings https_proxy beats the shell's HTTPS_PROXY.
def test_a_settings_proxy_the_shells_lowercase_variable_shadows_is_not_an_override(run_diag, lab_factory, diag_home):
    lab = lab_factory("healthy")
    _write(diag_home / ".claude" / "settings.json", {"env": {"HTTPS_PROXY": "http://127.0.0.1:9"}})
    env = {k: v for k, v in lab.env.items() if "proxy" not in k.lower()}
    env["https_proxy"] = lab.env["HTTPS_PROXY"]
    run = run_diag("-m", "bypass", "--proxydiag-clients", "none", *lab.pytest_args, env=env)
    step = run.step("bypass.app_settings")
    assert step["outcome"] == "passed", step
    # The other way round the settings' https_proxy is the one Claude Code takes: that is an override.
    _write(diag_home / ".claude" / "settings.json", {"env": {"https_proxy": "http://127.0.0.1:9"}})
    env = dict(env, HTTPS_PROXY=env.pop("https_proxy"))
    run = run_diag("-m", "bypass", "--proxydiag-clients", "none", *lab.pytest_args, env=env)
    step = run.step("bypass.app_settings")
    assert step["finding_key"] == "override" and "127.0.0.1:9" in step["finding"], step


def test_real_claude_takes_the_shells_lowercase_proxy_over_a_settings_uppercase_one(lab_factory, tmp_path,
                                                                                    monkeypatch):
    real = _real_claude()
    monkeypatch.setenv(clients.CLAUDE_ENV, real)
    lab = lab_factory("healthy")
    home = tmp_path / "home"
    _write(home / ".claude" / "settings.json", {"env": {"HTTPS_PROXY": "http://127.0.0.1:9"}})
    monkeypatch.chdir(tmp_path)
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "LANG": "C.UTF-8", "https_proxy": lab.env["HTTPS_PROXY"],
           "NODE_EXTRA_CA_CERTS": str(lab.public_roots)}
    run = run_client("claude", lab.target_url, env, 20)
    assert (run.reached, run.status) == (True, 401), describe(run)


def test_a_json_null_proxy_is_the_text_null_that_stops_claude_code(run_diag, lab_factory, diag_home):
    """Measured with 2.1.332: {"env": {"HTTPS_PROXY": null}} does not unset the shell's proxy; Claude Code sets the
    text "null" and exits at once: 'Invalid proxy URL in HTTPS_PROXY: "null" cannot be parsed as a URL.'"""
    lab = lab_factory("healthy")
    _write(diag_home / ".claude" / "settings.json", {"env": {"HTTPS_PROXY": None}})
    assert claude_settings.read(diag_home, None).env == {"HTTPS_PROXY": "null"}
    run = run_diag("-m", "bypass", "--proxydiag-clients", "none", *lab.pytest_args, lab=lab)
    step = run.step("bypass.app_settings")
    assert run.root_cause == "bypass.app_settings" and step["finding_key"] == "override", run.output[-3000:]
    assert 'Invalid proxy URL in HTTPS_PROXY: "null" cannot be parsed as a URL' in step["finding"], step["finding"]
    assert 'remove "HTTPS_PROXY"' in step["solution"], step["solution"]


def test_real_claude_stops_on_a_json_null_proxy(lab_factory, tmp_path):
    real = _real_claude()
    lab = lab_factory("healthy")
    home = tmp_path / "home"
    _write(home / ".claude" / "settings.json", {"env": {"HTTPS_PROXY": None}})
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "LANG": "C.UTF-8", "ANTHROPIC_API_KEY": "sk-ant-dummy",
           "HTTPS_PROXY": lab.env["HTTPS_PROXY"], "CLAUDE_CODE_MAX_RETRIES": "0", "DISABLE_AUTOUPDATER": "1",
           "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"}
    proc = subprocess.run([real, "-p", "hello", "--output-format", "json", "--bare"], env=env, cwd=tmp_path,
                          stdin=subprocess.DEVNULL, capture_output=True, timeout=90)
    assert proc.returncode == 1, proc
    assert 'Invalid proxy URL in HTTPS_PROXY: "null" cannot be parsed as a URL' in proc.stderr.decode(), proc


# Claude Code 2.1.332 counts a switch only when it is 1, true, yes or on (any case, blanks trimmed): with
# CLAUDE_CODE_USE_BEDROCK=y or =enabled every CONNECT went to api.anthropic.com, none to Bedrock (measured).
@pytest.mark.parametrize("value, mode", [("y", "anthropic"), ("enabled", "anthropic"), (" TRUE ", "bedrock"),
                                         ("on", "bedrock"), ("0", "anthropic")])
def test_only_the_values_claude_code_counts_switch_it_to_bedrock(value, mode):
    from pytest_proxydiag.branches import providers
    from pytest_proxydiag.machine.claude_target import user_target

    env = {"HOME": "/nonexistent", "CLAUDE_CODE_USE_BEDROCK": value, "AWS_REGION": "eu-west-1",
           "CLAUDE_CODE_SKIP_VERTEX_AUTH": value, "CLAUDE_CODE_USE_VERTEX": "0"}
    got = user_target(env, "/nonexistent")
    assert got.mode == mode and providers.uses_bedrock(env) == (mode == "bedrock"), got
    if mode == "anthropic" and value != "0":
        assert any(f"CLAUDE_CODE_USE_BEDROCK={value!r}" in p and "1, true, yes or on" in p for p in got.problems), got
    else:
        assert not got.problems, got


def test_real_claude_ignores_use_bedrock_y(lab_factory, tmp_path):
    real = _real_claude()
    lab = lab_factory("healthy")
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "LANG": "C.UTF-8", "ANTHROPIC_API_KEY": "sk-ant-dummy",
           "HTTPS_PROXY": lab.env["HTTPS_PROXY"], "NODE_EXTRA_CA_CERTS": str(lab.public_roots),
           "ANTHROPIC_BASE_URL": lab.target_url, "CLAUDE_CODE_USE_BEDROCK": "y", "CLAUDE_CODE_SKIP_BEDROCK_AUTH": "1",
           "AWS_REGION": "us-east-1", "CLAUDE_CODE_MAX_RETRIES": "0", "DISABLE_AUTOUPDATER": "1",
           "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"}
    proc = subprocess.run([real, "-p", "hello", "--output-format", "json", "--bare"], env=env, cwd=tmp_path,
                          stdin=subprocess.DEVNULL, capture_output=True, timeout=90)
    # Anthropic's API at the base URL (the lab's origin answers the dummy key 401), not Bedrock.
    assert '"api_error_status":401' in proc.stdout.decode(), proc


def test_a_top_level_key_of_a_file_claude_code_skips_does_not_count(tmp_path):
    home = tmp_path / "home"
    path = _write(home / ".claude" / "settings.json", {"skipWebFetchPreflight": True, "model": "opus"})
    assert claude_settings.top_level(home, None, "skipWebFetchPreflight", system_root=tmp_path / "none") == \
        (True, str(path))
    _write(path, {"skipWebFetchPreflight": True, "model": 5})
    assert claude_settings.top_level(home, None, "skipWebFetchPreflight", system_root=tmp_path / "none") is None
