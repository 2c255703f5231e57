"""``--proxydiag-fix-script PATH``: the fixes as a file to source, in the user's shell.

The suffix picks the shell: ``.fish`` (fish), ``.ps1`` (PowerShell), anything
else POSIX sh (bash, zsh, dash).  Rules, each enforced here rather than trusted
to the steps:

* every line ends with a comment naming its step id and the verdict;
* a fix that was not verified says so in a comment on its own line
  (``# NOT VERIFIED ...``) before its lines;
* never a secret: a value holding a placeholder (``<URL-ENCODED-PASSWORD>``) is
  written commented out, with the one-line command that produces the value;
  the whole text also goes through the run's redactor;
* never a line that disables certificate verification
  (``NODE_TLS_REJECT_UNAUTHORIZED=0``, ``PYTHONHTTPSVERIFY=0`` ...): such a
  value is left out with a comment saying why;
* a variable set by two steps is set once (verified fixes first, then in
  root-cause order); the other value is shown as a comment;
* the file is created with mode 600 (it may name internal proxy hosts).

Example (``proxydiag-fix.sh``)::

    # certificate.interception: verified on this machine with curl 7.88.1, requests 2.34.2, claude 2.1.332
    export SSL_CERT_FILE='/home/u/proxydiag-ca/ca-bundle.pem'  # certificate.interception: verified
    export NODE_EXTRA_CA_CERTS='/home/u/proxydiag-ca/node-extra-ca-certs.pem'  # certificate.interception: verified
"""

from __future__ import annotations

import os
import warnings
from typing import Any, Iterable, Mapping

from pytest_proxydiag.core import flowchart
from pytest_proxydiag.catalog.report import FIX_UNPROVEN
from pytest_proxydiag.core.shell import quote, set_line, syntax_of, unset_line
from pytest_proxydiag.proof import client_rules
from pytest_proxydiag.proof.fix_values import ANY_PLACEHOLDER, PLACEHOLDERS

__all__ = ["render", "write", "write_safely", "shell_for", "disables_verification", "paste_lines"]

#: (variable, predicate on the value): a value that switches certificate checks off.
_INSECURE = {
    "NODE_TLS_REJECT_UNAUTHORIZED": lambda v: v.strip() == "0",
    "PYTHONHTTPSVERIFY": lambda v: v.strip() == "0",
    "GIT_SSL_NO_VERIFY": lambda v: v.strip() not in ("", "0", "false"),
    "CURL_INSECURE": lambda v: v.strip() not in ("", "0", "false"),
    "CURL_SSL_NO_VERIFY": lambda v: v.strip() not in ("", "0", "false"),
    "SSL_VERIFY": lambda v: v.strip().lower() in ("0", "false", "no", "off"),
    "REQUESTS_CA_BUNDLE": lambda v: v.strip() == "",
    "CURL_CA_BUNDLE": lambda v: v.strip() == "",
}


def disables_verification(name: str, value: str) -> bool:
    """True when setting *name* to *value* switches certificate verification off."""
    check = _INSECURE.get(name.upper())
    return bool(check and check(str(value)))


def shell_for(path: str) -> str:
    """``"fish"``, ``"ps1"`` or ``"sh"`` from the file name."""
    return syntax_of(str(path))


def paste_lines(fix: Mapping[str, Any], shell: str = "sh") -> list[str]:
    """The lines a user pastes for *fix* in *shell* (``sh``, ``fish``, ``ps1``), for the reports.

    Same rules as the script: placeholders stay visible (never a secret), values that would
    switch verification off are left out.
    """
    lines = [unset_line(shell, str(n)) for n in fix.get("unset") or []]
    for name, value in (fix.get("env") or {}).items():
        if not disables_verification(str(name), str(value)):
            lines.append(set_line(shell, str(name), str(value)))
    return lines


def _verdict(fix: Mapping[str, Any]) -> tuple[str, str]:
    """(short verdict for each line, long header line)."""
    v = fix.get("verified")
    with_ = ", ".join(map(str, fix.get("verified_with") or []))
    if v is True:
        return "verified", f"verified on this machine with {with_}" if with_ else "verified on this machine"
    if v is False:
        return "NOT VERIFIED (failed)", "NOT VERIFIED: it was tried here and did not work: " + str(
            fix.get("evidence") or "")
    return "NOT VERIFIED", "NOT VERIFIED: " + str(fix.get("evidence") or "nothing on this machine could prove it")


def _order(results: Iterable[Any]) -> list[Any]:
    failed = [r for r in results if getattr(r, "outcome", None) == "failed" and isinstance(getattr(r, "fix", None), Mapping)]
    rank = {True: 0, None: 1, False: 2}
    return [r for _, r in sorted(enumerate(failed), key=lambda ir: (rank.get(ir[1].fix.get("verified"), 1),
                                                                    flowchart.order_key(ir[1].step_id), ir[0]))]


def render(results: Iterable[Any], shell: str = "sh", redact=None) -> str:
    """The script text for the failed steps' fixes in *results* (StepResult objects)."""
    red = redact or (lambda s: s)
    c = "#"
    out = [f"{c} Fixes found by pytest-proxydiag. Source this file ("
           + {"sh": ". ./FILE", "fish": "source FILE", "ps1": ". .\\FILE"}[shell]
           + ") or copy the lines you need into your startup file.",
           f"{c} Each line says which step it fixes and whether it was verified with the real clients here.",
           f"{c} Nothing in this file disables certificate verification, and no password is written in it."]
    assigned: dict[str, str] = {}
    unset_done: set[str] = set()
    steps = _order(results)
    if not steps:
        out.append(f"{c} No failed step carries a concrete change: nothing to apply.")
    for r in steps:
        fix, sid = r.fix, r.step_id
        short, header = _verdict(fix)
        tag = f"  {c} {sid}: {short}"
        out.append("")
        out.append(f"{c} {sid}: {header}")
        placeholders = fix.get("placeholders") or {}
        explained: set[str] = set()
        unproven = client_rules.unproven(fix)
        for name in fix.get("unset") or []:
            if name in unset_done or name in assigned:
                continue
            unset_done.add(name)
            out.append(unset_line(shell, str(name)) + tag)
        for name, value in (fix.get("env") or {}).items():
            name, value = str(name), str(value)
            if disables_verification(name, value):
                out.append(f"{c} left out: {name}={value} would switch certificate verification off ({sid})")
                continue
            if name in assigned:
                if assigned[name] != value:
                    out.append(f"{c} {sid} also suggests {name}={quote(shell, value)}; kept the value above")
                continue
            held = ANY_PLACEHOLDER.findall(value)
            if held:
                # Never a live line: the value is the user's to put in, with the command that prints it.
                fresh = [p for p in held if p not in explained]
                for p in fresh:
                    explained.add(p)
                    info = placeholders.get(p) if isinstance(placeholders.get(p), Mapping) else {}
                    info = info or PLACEHOLDERS.get(p) or {}
                    out.append(f"{c} the commented lines below need {info.get('means') or 'your value'} in place "
                               f"of {p}; get it with:")
                    out.append(f"{c}   {info.get('produce') or 'ask IT'}")
                if fresh:
                    out.append(f"{c} put it in, then remove the leading '# ' ({sid}: {short})")
                out.append(f"{c} " + set_line(shell, name, value) + tag)
                assigned[name] = value
                continue
            assigned[name] = value
            if name in unproven:  # the fix works, but this line was not what made it work
                out.append(f"{c} " + FIX_UNPROVEN.format(name=name, readers=", ".join(unproven[name])
                                                         or "no client here"))
                out.append(set_line(shell, name, value) + f"  {c} {sid}: NOT VERIFIED for {name}")
                continue
            out.append(set_line(shell, name, value) + tag)
        for f in fix.get("files") or []:
            if isinstance(f, Mapping):
                out.append(f"{c} file {f.get('path')}: {f.get('change')} ({sid}; not done by this script)")
    text = "\n".join(out) + "\n"
    return red(text)


def write(path: str, results: Iterable[Any], redact=None) -> str:
    """Write the script for *results* to *path* (mode 600); returns the absolute path."""
    path = os.path.abspath(os.path.expanduser(str(path)))
    text = render(results, shell_for(path), redact)
    if shell_for(path) == "ps1":
        text = text.replace("\n", "\r\n")
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            fd = -1
            f.write(text)
    finally:
        if fd != -1:
            os.close(fd)
    return path


def write_safely(path: str, state) -> str | None:
    """:func:`write` for the plugin: records the artifact, warns instead of raising."""
    try:
        written = write(path, state.results, state.redactor.redact)
    except OSError as exc:
        warnings.warn(f"proxydiag: could not write the fix script {path}: {exc}")
        return None
    state.artifacts["fix_script"] = written
    return written
