"""The readers of what this machine holds: Claude Code's settings scopes and the LiteLLM config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_proxydiag.machine import claude_settings


def _write(path: Path, doc) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


@pytest.mark.parametrize("platform, expected", [
    ("linux", "/etc/claude-code/managed-settings.json"),
    ("darwin", "/Library/Application Support/ClaudeCode/managed-settings.json"),
    ("win32", r"C:\Program Files\ClaudeCode\managed-settings.json"),
])
def test_managed_path_follows_the_platform(monkeypatch, platform, expected):
    monkeypatch.setattr(claude_settings.sys, "platform", platform)
    assert claude_settings.managed_settings_path() == expected
    assert claude_settings.settings_files("/h", "/p")[-1] == ("managed", expected)


@pytest.mark.parametrize("platform, relative", [
    ("linux", "etc/claude-code/managed-settings.json"),
    ("darwin", "Library/Application Support/ClaudeCode/managed-settings.json"),
    ("win32", "Program Files/ClaudeCode/managed-settings.json"),
])
def test_managed_scope_wins_over_every_other(tmp_path, monkeypatch, platform, relative):
    monkeypatch.setattr(claude_settings.sys, "platform", platform)
    home, cwd, root = tmp_path / "home", tmp_path / "proj", tmp_path / "root"
    user = _write(home / ".claude" / "settings.json",
                  {"env": {"HTTPS_PROXY": "http://user:1", "CLAUDE_CODE_CERT_STORE": "bundled", "A": "user"}})
    project = _write(cwd / ".claude" / "settings.json", {"env": {"HTTPS_PROXY": "http://project:2", "B": "p"}})
    local = _write(cwd / ".claude" / "settings.local.json", {"env": {"HTTPS_PROXY": "http://local:3", "B": "l"}})
    managed = _write(root / relative, {"env": {"HTTPS_PROXY": "http://managed:4"}})
    cs = claude_settings.read(home, cwd, system_root=root)
    assert cs.env == {"HTTPS_PROXY": "http://managed:4", "CLAUDE_CODE_CERT_STORE": "bundled", "A": "user", "B": "l"}
    assert cs.where("HTTPS_PROXY") == str(managed)
    assert cs.where("CLAUDE_CODE_CERT_STORE") == str(user)
    assert cs.where("B") == str(local)
    assert cs.overridden("HTTPS_PROXY") == [(str(user), "http://user:1"), (str(project), "http://project:2"),
                                            (str(local), "http://local:3")]
    assert cs.problems == []


def test_local_beats_project_beats_user_and_no_cwd_means_user_and_managed_only(tmp_path):
    home, cwd = tmp_path / "home", tmp_path / "proj"
    _write(home / ".claude" / "settings.json", {"env": {"X": "user"}})
    _write(cwd / ".claude" / "settings.json", {"env": {"X": "project"}})
    assert claude_settings.read(home, cwd, system_root=tmp_path / "none").env == {"X": "project"}
    _write(cwd / ".claude" / "settings.local.json", {"env": {"X": "local"}})
    assert claude_settings.read(home, cwd, system_root=tmp_path / "none").env == {"X": "local"}
    assert claude_settings.read(home, None, system_root=tmp_path / "none").env == {"X": "user"}


def test_claude_config_dir_moves_the_user_scope(tmp_path):
    _write(tmp_path / "elsewhere" / "settings.json", {"env": {"X": "moved"}})
    cs = claude_settings.read(tmp_path / "home", env={"CLAUDE_CONFIG_DIR": str(tmp_path / "elsewhere")},
                              system_root=tmp_path)
    assert cs.env == {"X": "moved"}


@pytest.mark.parametrize("content, problem", [
    ("{not json", "cannot be read as JSON"),
    ("[1, 2]", "is JSON but not an object"),
    ('{"env": ["HTTPS_PROXY"]}', '"env" must be an object'),
    ("[" * 100000, "nests too deeply"),
])
def test_bad_files_are_problems_naming_the_file_never_tracebacks(tmp_path, content, problem):
    path = _write(tmp_path / "home" / ".claude" / "settings.json", content)
    _write(tmp_path / "proj" / ".claude" / "settings.json", {"env": {"OK": "1"}})
    cs = claude_settings.read(tmp_path / "home", tmp_path / "proj", system_root=tmp_path / "none")
    assert len(cs.problems) == 1 and str(path) in cs.problems[0] and problem in cs.problems[0]
    assert cs.env == {"OK": "1"}


def test_directory_huge_file_and_values_that_are_not_strings(tmp_path):
    (tmp_path / "home" / ".claude" / "settings.json").mkdir(parents=True)
    _write(tmp_path / "proj" / ".claude" / "settings.json", "x" * (claude_settings.MAX_SETTINGS + 1))
    _write(tmp_path / "proj" / ".claude" / "settings.local.json",
           {"env": {"API_TIMEOUT_MS": 600000, "FLAG": True, "GONE": None}})
    cs = claude_settings.read(tmp_path / "home", tmp_path / "proj", system_root=tmp_path / "none")
    assert [p.split(" ", 1)[1][:12] for p in cs.problems] == ["is not a reg", "is 1048577 b"]
    # null is the text "null" in Claude Code (measured with 2.1.332), not an unset variable.
    assert cs.env == {"API_TIMEOUT_MS": "600000", "FLAG": "true", "GONE": "null"}


# --------------------------------------------------------------------------- LiteLLM config

from pytest_proxydiag.machine import litellm_config  # noqa: E402


def test_named_config_counts_even_when_missing_and_cwd_config_only_when_it_looks_like_litellm(tmp_path):
    assert litellm_config.locate(str(tmp_path / "nope.yaml"), "env:LITELLM_CONFIG", tmp_path) == \
        litellm_config.Located(str(tmp_path / "nope.yaml"), "env:LITELLM_CONFIG")
    (tmp_path / "config.yaml").write_text("database:\n  url: x\n")   # some other tool's config
    assert litellm_config.locate(None, "default", tmp_path) is None
    (tmp_path / "config.yaml").write_text("model_list:\n  - model_name: x\n")
    assert litellm_config.locate(None, "default", tmp_path) == litellm_config.Located(
        str(tmp_path / "config.yaml"), "./config.yaml")


@pytest.mark.parametrize("content, problem", [
    ("model_list:\n\t- a: 1\n", "tabs on line 2"),
    ("- a\n", "not a mapping (top level is list)"),
    ("a: [\n", "is not valid YAML (line"),
])
def test_load_names_the_problem(tmp_path, content, problem):
    path = tmp_path / "c.yaml"
    path.write_text(content)
    doc, why = litellm_config.load(str(path))
    assert doc is None and str(path) in why and problem in why


def test_load_bounds_and_empty(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text("a: 1\n" * (litellm_config.MAX_LITELLM // 4))
    assert "not read" in litellm_config.load(str(big))[1]
    assert litellm_config.load(str(tmp_path / "missing.yaml"))[1].endswith("does not exist or is not a file")
    (tmp_path / "empty.yaml").write_text("")
    assert litellm_config.load(str(tmp_path / "empty.yaml")) == ({}, None)


def test_every_branch_uses_the_same_rule(tmp_path, monkeypatch):
    from pytest_proxydiag.branches import application, bypass, certificate

    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.yaml").write_text("server:\n  https_proxy: http://not-litellm:1\n  ssl_verify: false\n")
    assert application.find_litellm_config(None, "default", tmp_path) is None
    assert certificate.litellm_ssl_settings(None, {})["config"] is None
    assert bypass.app_settings(tmp_path / "home", tmp_path, None) == []
    (tmp_path / "config.yaml").write_text("litellm_settings:\n  ssl_verify: false\n"
                                          "environment_variables:\n  HTTPS_PROXY: http://p:3128\n")
    assert application.find_litellm_config(None, "default", tmp_path)[1] == "./config.yaml"
    assert certificate.litellm_ssl_settings(None, {})["ssl_verify"] is False
    assert [e.key for e in bypass.app_settings(tmp_path / "home", tmp_path, None)] == [
        "environment_variables.HTTPS_PROXY"]
