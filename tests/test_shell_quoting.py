"""One quoting for every export line (reports and fix scripts): bash/zsh/dash, fish and PowerShell.

POSIX lines are checked by the real shells (bash with history expansion on,
as in an interactive terminal, and dash); fish and PowerShell are not
installed here, so their lines are read back by the two documented rules of
single-quoted strings (fish: ``\\'`` and ``\\\\`` are the only escapes;
PowerShell: ``''`` is a quote, nothing else is special).
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from pytest_proxydiag.core import shell
from pytest_proxydiag.core.step import export_lines
from pytest_proxydiag.proof import fixscript

VALUES = [
    "http://proxy.corp:3128",
    "/home/u/My Documents/ca bundle.pem",
    'say "hi"',
    "it's",
    "p$ss$(whoami)`id`",
    r"C:\certs\corp.pem",
    "back\\slash\\",
    "bang!history !! !$",
    "all 'of' \"them\" $x `y` \\z !w",
    "http://alice:%24ecret%21@proxy:8080",
]


def _posix_roundtrip(binary: str, line: str, interactive: bool) -> str:
    script = ("set -H; " if interactive else "") + line + '\nprintf "%s" "$V"'
    out = subprocess.run([binary, "-c", script], capture_output=True, text=True, timeout=10)
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.mark.parametrize("value", VALUES)
@pytest.mark.parametrize("binary, interactive", [("bash", True), ("dash", False)])
def test_posix_shells_read_back_exactly_the_value(binary, interactive, value):
    if not shutil.which(binary):
        pytest.skip(f"{binary} is not installed (apt-get install {binary})")
    assert _posix_roundtrip(binary, shell.set_line("sh", "V", value), interactive) == value


def _fish_read(line: str) -> str:
    quoted = line.split(" ", 3)[3]
    if quoted.startswith('"'):
        assert not set(quoted[1:-1]) & set('$"\\')
        return quoted[1:-1]
    body, out, i = quoted[1:-1], [], 0
    while i < len(body):
        if body[i] == "\\" and i + 1 < len(body) and body[i + 1] in "\\'":
            out.append(body[i + 1])
            i += 2
            continue
        assert body[i] != "'", line
        out.append(body[i])
        i += 1
    return "".join(out)


def _ps_read(line: str) -> str:
    quoted = line.split(" = ", 1)[1]
    if quoted.startswith('"'):
        assert not set(quoted[1:-1]) & set('$`"')
        return quoted[1:-1]
    body = quoted[1:-1]
    assert "'" not in body.replace("''", ""), line
    return body.replace("''", "'")


@pytest.mark.parametrize("value", VALUES)
def test_fish_and_powershell_read_back_exactly_the_value(value):
    fish = shell.set_line("fish", "V", value)
    ps = shell.set_line("ps1", "V", value)
    assert fish.startswith("set -gx V ") and _fish_read(fish) == value
    assert ps.startswith("$env:V = ") and _ps_read(ps) == value


def test_plain_values_keep_double_quotes_in_every_syntax():
    assert shell.set_line("sh", "A", "http://p:3128") == 'export A="http://p:3128"'
    assert shell.set_line("fish", "A", "http://p:3128") == 'set -gx A "http://p:3128"'
    assert shell.set_line("ps1", "A", "http://p:3128") == '$env:A = "http://p:3128"'
    assert shell.set_line("sh", "A", "a$b") == "export A='a$b'"
    assert shell.set_line("fish", "A", "it's") == 'set -gx A "it\'s"'
    assert shell.set_line("fish", "A", "it's $x") == "set -gx A 'it\\'s $x'"
    assert shell.set_line("ps1", "A", "it's $x") == "$env:A = 'it''s $x'"


@pytest.mark.parametrize("name, syntax", [("bash", "sh"), ("zsh", "sh"), ("fish", "fish"), ("pwsh", "ps1"),
                                          ("powershell", "ps1"), ("fix.ps1", "ps1"), ("fix.fish", "fish"),
                                          ("fix.sh", "sh"), ("", "sh")])
def test_one_notion_of_the_shell(name, syntax):
    assert shell.syntax_of(name) == syntax


def test_reports_and_fix_scripts_share_the_lines():
    value = "p$ss 'x'"
    for name, syntax in (("bash", "sh"), ("fish", "fish"), ("pwsh", "ps1")):
        assert export_lines({"V": value}, name) == "  " + shell.set_line(syntax, "V", value)
        assert fixscript.paste_lines({"env": {"V": value}}, syntax) == [shell.set_line(syntax, "V", value)]
    assert shell.shell_kind({"SHELL": "/usr/bin/zsh"}) == "zsh"
    assert shell.shell_kind({"SHELL": r"C:\Program Files\PowerShell\7\pwsh.exe"}) == "pwsh"
    assert shell.shell_kind({}) == "sh"
