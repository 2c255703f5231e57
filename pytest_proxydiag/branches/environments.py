"""APPLICATION step 1: the proxy and CA variables as this process, a new shell and Claude Code see them.

A new shell's view comes from its startup files (read, never executed, see
:mod:`pytest_proxydiag.machine.shellenv`); Claude Code's from its
``settings.json`` ``env``, applied on top of the shell's.  :func:`judge_env`
says whether the views agree; the sentences are in ``catalog/application.py``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from pytest_proxydiag import catalog
from pytest_proxydiag.branches.judgement import Judgement
from pytest_proxydiag.core import shell as shell_syntax
from pytest_proxydiag.core.step import export_lines
from pytest_proxydiag.machine import shellenv
from pytest_proxydiag.proof.fix_values import PLACEHOLDER, PROXY_PLACEHOLDER

__all__ = ["EnvIssue", "EnvComparison", "compare_env", "shell_startup_file", "loaded_files", "judge_env",
           "PROXY_VARS", "CA_VARS"]

PROXY_VARS = shellenv.PROXY_VARS
CA_VARS = shellenv.CA_VARS
#: Lower/upper pairs: curl and Python read the lower-case one first, Go and Node tools the upper-case one.
CASE_PAIRS = (("https_proxy", "HTTPS_PROXY"), ("http_proxy", "HTTP_PROXY"), ("all_proxy", "ALL_PROXY"),
              ("no_proxy", "NO_PROXY"))


shell_startup_file = shell_syntax.startup_file


def loaded_files(home: str | os.PathLike, shell: str) -> list[str]:
    """The startup files a new terminal of *shell* reads (login or interactive), in order.

    bash reads only the first of ``~/.bash_profile``, ``~/.bash_login`` and
    ``~/.profile`` that exists, which is why a proxy exported in ``~/.profile``
    silently disappears once a ``~/.bash_profile`` is created.
    """
    h = Path(home)
    files = ["/etc/environment"]
    if shell == "bash":
        files.append("/etc/profile")
        for name in (".bash_profile", ".bash_login", ".profile"):
            if (h / name).is_file():
                files.append(str(h / name))
                break
        files.append(str(h / ".bashrc"))
    elif shell == "zsh":
        files += [str(h / ".zshenv"), str(h / ".zprofile"), str(h / ".zshrc")]
    elif shell == "fish":
        files.append(str(h / ".config" / "fish" / "config.fish"))
    else:
        files += ["/etc/profile", str(h / ".profile")]
    return files


@dataclass(frozen=True)
class EnvIssue:
    """One disagreement between the views, with the variables that fix it."""

    key: str            # http_only | profile_only | not_loaded | case_mismatch | stale | claude_differs | missing
    detail: str
    fix: dict[str, str] = field(default_factory=dict)


@dataclass
class EnvComparison:
    """Each variable as this process, a new shell and Claude Code would see it."""

    shell: str
    startup_file: str
    process: dict[str, str]
    new_shell: dict[str, str]                      # what the loaded files set (last assignment wins)
    files: dict[str, list[str]]                    # name -> ["path:line (loaded|not loaded by <shell>)"]
    claude: dict[str, str]
    claude_path: str
    problems: list[str]
    issues: list[EnvIssue]

    def table(self) -> dict[str, dict[str, str | None]]:
        names = [n for n in PROXY_VARS + CA_VARS if n in self.process or n in self.new_shell or n in self.claude
                 or n in self.files]
        return {n: {"this process": self.process.get(n), f"new {self.shell} shell": self.new_shell.get(n),
                    "Claude Code settings.json": self.claude.get(n),
                    "set in": "; ".join(self.files.get(n, [])) or None} for n in names}


_REF = re.compile(r"^\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?$")


def _resolve_ref(value: str, known: Mapping[str, str]) -> str | None:
    """``$HTTPS_PROXY`` / ``${HTTPS_PROXY}`` -> its value; None when it is another expression."""
    m = _REF.match(value)
    if m:
        return known.get(m.group(1))
    return None if "$" in value or "`" in value else value


def compare_env(env: Mapping[str, str], home: str | os.PathLike, *, proxy_value: str | None = None,
                etc_files: bool = True) -> EnvComparison:
    """Compare the proxy/CA variables of *env*, of a new ``$SHELL`` shell, and of Claude Code.

    *proxy_value* is what the fix lines should export (the proxy URL with the
    password replaced by a placeholder); by default the value found.
    """
    # The Claude Code settings reader is moving to machine/ (engineer proof); imported here to avoid a cycle.
    from pytest_proxydiag.branches.application import claude_settings_env, shell_kind

    shell = shell_kind(env)
    names = PROXY_VARS + CA_VARS
    process = {n: env[n] for n in names if env.get(n, "").strip()}
    files_map = shellenv.profile_files(home)
    if not etc_files:
        files_map = {p: s for p, s in files_map.items() if not p.startswith("/etc/")}
    assignments = shellenv.scan(home, names, files=files_map)
    loaded = loaded_files(home, shell)
    order = {p: i for i, p in enumerate(loaded)}
    new_shell: dict[str, str] = {}
    files: dict[str, list[str]] = {}
    not_loaded: dict[str, list[str]] = {}
    for a in sorted(assignments, key=lambda a: (order.get(a.path, 99), a.line)):
        is_loaded = a.path in order
        files.setdefault(a.name, []).append(f"{a.path}:{a.line} ({'read' if is_loaded else 'not read'} "
                                            f"by {shell})")
        if is_loaded:
            value = _resolve_ref(a.value, {**new_shell})
            new_shell[a.name] = value if value is not None else a.value
        else:
            not_loaded.setdefault(a.name, []).append(f"{a.path}:{a.line}")
    claude, claude_path, claude_problem = claude_settings_env(home)
    claude = {k: v for k, v in claude.items() if k in names}
    problems = [claude_problem] if claude_problem else []
    startup = shell_startup_file(shell)

    def first_proxy(view: Mapping[str, str]) -> str | None:
        for n in ("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "http_proxy", "HTTP_PROXY"):
            if view.get(n):
                return view[n]
        return None

    value = proxy_value or first_proxy(process) or first_proxy(new_shell) or first_proxy(claude)
    issues: list[EnvIssue] = []
    both = {"HTTPS_PROXY": value, "HTTP_PROXY": value, "https_proxy": value, "http_proxy": value} if value else {}

    def has_https(view: Mapping[str, str]) -> bool:
        return any(view.get(n) for n in ("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"))

    def has_any(view: Mapping[str, str]) -> bool:
        return any(view.get(n) for n in ("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "http_proxy",
                                          "HTTP_PROXY"))

    # 1. Nothing in this process, but a file or Claude's settings has it.
    if not has_any(process):
        where = []
        for n in ("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "http_proxy", "HTTP_PROXY"):
            where += files.get(n, [])
        if where:
            key = "profile_only" if has_any(new_shell) else "not_loaded"
            why = _env_note(key + "_why", shell=shell)
            issues.append(EnvIssue(key, _env_note("only_in_files", where="; ".join(where), why=why), both))
        elif has_any(claude):
            issues.append(EnvIssue("claude_only", _env_note("claude_only", claude_path=claude_path), both))
    # 2. HTTP_PROXY without HTTPS_PROXY.
    if has_any(process) and not has_https(process):
        only = ", ".join(n for n in ("http_proxy", "HTTP_PROXY") if process.get(n))
        fix = {"HTTPS_PROXY": value, "https_proxy": value} if value else {}
        issues.append(EnvIssue("http_only", _env_note("http_only", only=only), fix))
    # 3. Upper and lower case disagree, in this process or in a new shell.
    for view_name, view in (("this process", process), (f"a new {shell} shell", new_shell)):
        for lower, upper in CASE_PAIRS:
            a, b = view.get(lower), view.get(upper)
            if a and b and a.strip() != b.strip():
                # The lower-case value is the one curl, Python and Claude Code 2.1.332 use (measured) and the one
                # diagnosed (core.config.PROXY_ENV_ORDER): both spellings get it.
                fix = {upper: a, lower: a}
                issues.append(EnvIssue("case_mismatch", _env_note("case_mismatch", view=view_name, lower=lower,
                                                                  upper=upper, a=a, b=b), fix))
                break
    # 4. A loaded file sets a different value than this process has (a stale terminal, or a file that overrides).
    for n, v in new_shell.items():
        if n in process and process[n].strip() != v.strip() and n in PROXY_VARS:
            issues.append(EnvIssue("stale", _env_note("stale", name=n, here=process[n], shell=shell, there=v,
                                                      files="; ".join(files.get(n, []))), {n: process[n]}))
            break
    # 5. Variables in files the user's shell never reads, missing from this process.
    for n, where in not_loaded.items():
        if n not in process and n not in new_shell and not any(i.key in ("not_loaded", "profile_only")
                                                                  for i in issues):
            issues.append(EnvIssue("not_loaded", _env_note("not_loaded", name=n, where="; ".join(where), shell=shell,
                                                           startup=startup), {n: _first_value(assignments, n)}))
            break
    # 6. Claude Code's settings.json overrides the shell.
    for n, v in claude.items():
        if n in PROXY_VARS and process.get(n) is not None and process[n].strip() != v.strip():
            issues.append(EnvIssue("claude_differs", _env_note("claude_differs", claude_path=claude_path, name=n,
                                                               value=v, here=process[n]), {}))
            break
    return EnvComparison(shell, startup, process, new_shell, files, claude, claude_path, problems, issues)


def _first_value(assignments: Sequence[shellenv.Assignment], name: str) -> str:
    for a in assignments:
        if a.name == name:
            return a.value
    return ""


def _fix_value(name: str, value: str) -> str:
    """What a fix line exports for *name*: a proxy URL found in a file, Claude Code's settings or this
    process keeps its user and host, its password becomes the placeholder (never written out, and
    redacted output of the real one, ``http://***@host``, is not a value anyone can paste)."""
    if name.lower() not in ("https_proxy", "http_proxy", "all_proxy") or "@" not in value:
        return value
    from pytest_proxydiag.core.proxyurl import parse_proxy_url

    try:
        url = parse_proxy_url(value, source=name)
    except ValueError:
        return value
    return url.encoded(password_placeholder=PLACEHOLDER) if url.password else value


def _env_note(key: str, **values: Any) -> str:
    return catalog.note("application.env_in_shell", key, **values)



def judge_env(cmp: EnvComparison, proxy_value: str | None) -> Judgement:
    """Step 1: this process, a new shell and Claude Code must agree on the proxy and CA variables."""
    if not cmp.issues:
        if not (cmp.process or cmp.new_shell or cmp.claude):
            return Judgement.skip("nothing_set", shell=cmp.shell)
        # Set here but in no startup file: fine for this terminal, gone in the next one - unless an IDE,
        # /etc/environment, launchd or direnv sets it, which files alone cannot tell.  Evidence, not a finding.
        transient = sorted(n for n in cmp.process if n in PROXY_VARS and n not in cmp.new_shell)
        record = {"not_in_any_startup_file": transient, "persistence": _env_note(
            "persistence", shell=cmp.shell, startup=cmp.startup_file)} if transient else {}
        return Judgement("pass", "agree", record=record, values=dict(
            shell=cmp.shell, names=", ".join(sorted(cmp.process)),
            transient=_env_note("transient", names=", ".join(transient)) if transient else ""))
    issue = cmp.issues[0]
    fix = {k: _fix_value(k, v) for k, v in issue.fix.items() if v} or {"HTTPS_PROXY": proxy_value or PROXY_PLACEHOLDER}
    views = "\n".join(f"  {name}: " + ", ".join(f"{k}={v if v is not None else '(unset)'}"
                                               for k, v in row.items() if k != "set in")
                      for name, row in cmp.table().items())
    record = {"other_issues": [i.detail for i in cmp.issues[1:]]} if len(cmp.issues) > 1 else {}
    return Judgement("fail", issue.key, fix={"env": fix, "file": cmp.startup_file, "shell": cmp.shell},
                     record=record, values=dict(
                         detail=issue.detail, views=views, shell=cmp.shell, profile=cmp.startup_file,
                         export_lines=export_lines(fix, cmp.shell), reload=f"source {cmp.startup_file}",
                         claude_path=cmp.claude_path))
