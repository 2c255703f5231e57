"""The user's shell, and lines that set or unset variables in it: one quoting for every report and script.

Three syntaxes cover the shells users paste into:

* ``sh`` -- bash, zsh, dash, ksh (``export NAME="value"``);
* ``fish`` -- ``set -gx NAME "value"``;
* ``ps1`` -- PowerShell (``$env:NAME = "value"``).

A value is written in double quotes when nothing in it is special to that
shell (the common case: a URL, a path), and otherwise in single quotes, where
the shell takes every character literally except the quote itself.  So a
password with ``$``, ``"``, a backslash, a backtick or ``!`` (bash's history
expansion acts even inside double quotes) arrives in the variable exactly as
written.

Example::

    >>> set_line("sh", "HTTPS_PROXY", "http://proxy.corp:3128")
    'export HTTPS_PROXY="http://proxy.corp:3128"'
    >>> set_line("sh", "P", "a$b'c")
    "export P='a$b'\\\\''c'"
"""

from __future__ import annotations

import os
from typing import Mapping

__all__ = ["shell_kind", "syntax_of", "startup_file", "quote", "set_line", "unset_line", "export_lines"]

#: Characters that change a double-quoted string's meaning, per syntax.
_SPECIAL_IN_DOUBLE = {
    "sh": set('$`"\\!\n'),
    "fish": set('$"\\\n'),
    # PowerShell also treats the typographic quotes as quotes.
    "ps1": set('$`"\n\u201c\u201d\u201e'),
}
_PS_SINGLE_QUOTES = ("'", "\u2018", "\u2019", "\u201a", "\u201b")


def shell_kind(env: Mapping[str, str] | None = None) -> str:
    """The name of the user's shell from ``$SHELL`` (``bash``, ``zsh``, ``fish``, ...); ``sh`` when unknown."""
    env = os.environ if env is None else env
    name = os.path.basename((env.get("SHELL") or "").replace("\\", "/")) or "sh"
    return name[:-4] if name.lower().endswith(".exe") else name


def syntax_of(shell: str | None) -> str:
    """``"sh"``, ``"fish"`` or ``"ps1"`` for a shell name or a script file name."""
    lower = (shell or "sh").lower()
    if lower == "fish" or lower.endswith(".fish"):
        return "fish"
    if lower in ("ps1", "pwsh", "powershell") or lower.endswith(".ps1"):
        return "ps1"
    return "sh"


def startup_file(shell: str) -> str:
    """The file to add lines to for *shell* (what an interactive terminal reads)."""
    return {"zsh": "~/.zshrc", "fish": "~/.config/fish/config.fish", "bash": "~/.bashrc", "ksh": "~/.kshrc",
            "pwsh": "$PROFILE", "powershell": "$PROFILE"}.get(shell, "~/.profile")


def quote(syntax: str, value: str) -> str:
    """*value* quoted so that *syntax*'s shell reads back exactly *value*."""
    syntax = syntax_of(syntax)
    if not (set(value) & _SPECIAL_IN_DOUBLE[syntax]) and not (syntax == "ps1" and any(
            q in value for q in _PS_SINGLE_QUOTES)):
        return f'"{value}"'
    if syntax == "ps1":
        for q in _PS_SINGLE_QUOTES:
            value = value.replace(q, q + q)
        return f"'{value}'"
    if syntax == "fish":
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return "'" + value.replace("'", "'\\''") + "'"


_SET = {"sh": "export {name}={value}", "fish": "set -gx {name} {value}", "ps1": "$env:{name} = {value}"}
_UNSET = {"sh": "unset {name}", "fish": "set -e {name}", "ps1": "Remove-Item Env:{name} -ErrorAction SilentlyContinue"}


def set_line(syntax: str, name: str, value: str) -> str:
    syntax = syntax_of(syntax)
    return _SET[syntax].format(name=name, value=quote(syntax, value))


def unset_line(syntax: str, name: str) -> str:
    return _UNSET[syntax_of(syntax)].format(name=name)


def export_lines(assignments: Mapping[str, str], shell: str | None = None, indent: str = "  ") -> str:
    """Lines that set *assignments* in *shell* (default: ``$SHELL``), one per variable, indented for a report."""
    syntax = syntax_of(shell or shell_kind())
    return "\n".join(indent + set_line(syntax, str(k), str(v)) for k, v in assignments.items())
