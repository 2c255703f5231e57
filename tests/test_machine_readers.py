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
    ("win32", r"C:\ProgramData\ClaudeCode\managed-settings.json"),
])
def test_managed_path_follows_the_platform(monkeypatch, platform, expected):
    monkeypatch.setattr(claude_settings.sys, "platform", platform)
    assert claude_settings.managed_settings_path() == expected
    assert claude_settings.settings_files("/h", "/p")[-1] == ("managed", expected)


@pytest.mark.parametrize("platform, relative", [
    ("linux", "etc/claude-code/managed-settings.json"),
    ("darwin", "Library/Application Support/ClaudeCode/managed-settings.json"),
    ("win32", "ProgramData/ClaudeCode/managed-settings.json"),
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
    assert cs.env == {"API_TIMEOUT_MS": "600000", "FLAG": "true"}
