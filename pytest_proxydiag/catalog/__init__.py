"""The solution catalog: one entry per flowchart step, keyed by step id.

Every entry is plain data (see :mod:`.auth` for the shape)::

    "auth.credentials": {
        "number": 1,
        "title": "Verify credentials",
        "question": "Are username and password correct?",
        "check": 'curl -x "http://username:password@proxy:8080" https://google.com',
        "findings": {                      # what a failed test can say
            "rejected": {"text": "The proxy {proxy} answered 407 ...", "solution": "contact_it"},
        },
        "solutions": {                     # what the report tells the user to do
            "contact_it": {"any": "Contact IT for correct credentials ..."},
        },
        "notes": {                         # one-line pass summaries and skip reasons
            "accepted": "the proxy accepted CONNECT {target} with {who}",
        },
    }

A solution is a dict of variants keyed by platform (``any``, ``macos``,
``debian``, ``rhel``, ``windows``); :func:`render` puts the variant for this
machine first.  Templates use ``{name}`` placeholders filled from the values
the test measured; every value is redacted before it is inserted.  A step
test that passes or skips says why with :func:`note` (a step's ``notes``
first, then :data:`COMMON_NOTES`), so no sentence lives in the step code.

Branch modules (``auth.py``, ``connectivity.py`` …) each define ``STEPS``
(and may keep the steps' notes apart in ``NOTES``); they are merged here
into :data:`CATALOG`.  Site packs add entries with
:func:`register`.
"""

from __future__ import annotations

import os
import platform
import string
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from pytest_proxydiag.core import flowchart
from . import application, auth, bypass, certificate, claude_hosts, connectivity, gateway, performance, policy
from . import site  # noqa: F401 - sentences about site checks and the tool's own errors (catalog.site)

__all__ = ["CATALOG", "COMMON_NOTES", "Entry", "RenderedFinding", "entry", "note", "register", "render",
           "platform_key", "change_on", "PLATFORM_LABELS"]

#: Pass summaries and skip reasons shared by several steps (a step's own ``notes`` win).
COMMON_NOTES = {
    "no_proxy": "no proxy is configured (set HTTPS_PROXY or pass --proxydiag-proxy URL)",
    "no_proxy_short": "no proxy is configured",
    "invalid_proxy": "the proxy URL is invalid: {detail}",
    "auth_first": "the proxy wants authentication first",
    # The reference name refused like the provider (branches/policy_reach.reference_refusal).
    "refuses_everything": ("the proxy refuses {reference} exactly as it refuses the provider ({detail}): a rule for "
                           "every name, not against the provider's domain"),
    # A step whose question only an HTTP proxy's answer holds (a step may say why in its own ``http_only``).
    "http_only": "the proxy is {scheme}:// (SOCKS); this step checks HTTP proxies",
    "tunnel_unsupported": "the proxy is {scheme}://; the probes open tunnels with HTTP CONNECT and SOCKS5 only",
}

PLATFORM_LABELS = {
    "any": "All systems",
    "macos": "macOS",
    "debian": "Linux (Debian/Ubuntu)",
    "rhel": "Linux (RHEL/CentOS/Amazon Linux)",
    "linux": "Linux",
    "windows": "Windows",
}


@dataclass(frozen=True)
class Entry:
    step_id: str
    branch: str
    number: int
    title: str
    question: str = ""
    check: str = ""
    findings: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    solutions: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    notes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RenderedFinding:
    """A finding and its solution, filled with this machine's values."""

    step_id: str
    key: str
    text: str
    solution: str
    solution_platform: str
    other_solutions: Mapping[str, str] = field(default_factory=dict)

    def full_solution(self) -> str:
        return self.solution


def _load() -> dict[str, Entry]:
    catalog: dict[str, Entry] = {}
    for module in (auth, connectivity, certificate, policy, claude_hosts, application, performance, bypass, gateway):
        notes = getattr(module, "NOTES", {})
        for step_id, data in module.STEPS.items():
            catalog[step_id] = _entry(step_id, {**data, "notes": {**data.get("notes", {}), **notes.get(step_id, {})}})
    return catalog


def _entry(step_id: str, data: Mapping[str, Any]) -> Entry:
    return Entry(step_id=step_id, branch=step_id.partition(".")[0], number=int(data.get("number", 0)),
                 title=data["title"], question=data.get("question", ""), check=data.get("check", ""),
                 findings=data.get("findings", {}), solutions=data.get("solutions", {}),
                 notes=data.get("notes", {}))


CATALOG: dict[str, Entry] = _load()
_missing = flowchart.STEP_IDS - set(CATALOG)
assert not _missing, f"catalog lacks steps {_missing}"


#: Where the change belongs when a step is the root cause, for the "for IT" block: the gateway's
#: steps say which of the two hops; policy is the proxy's own rules; the rest is this machine.
CHANGE_ON: dict[str, str] = {**gateway.CHANGE_ON, **connectivity.CHANGE_ON}
_CHANGE_ON_BRANCH = {"policy": "the corporate proxy (its policy: the proxy team)"}
_CHANGE_ON_DEFAULT = "the developer's machine (this one)"


def change_on(step_id: str, finding_key: str | None = None) -> str:
    """Which side must change when *step_id* is the root cause (with *finding_key*, when that finding's differs)."""
    return CHANGE_ON.get(f"{step_id}:{finding_key}") or CHANGE_ON.get(step_id) or _CHANGE_ON_BRANCH.get(step_id.partition(".")[0], _CHANGE_ON_DEFAULT)


def entry(step_id: str) -> Entry:
    """The catalog entry of *step_id* (KeyError if unknown)."""
    return CATALOG[step_id]


def note(step_id: str, key: str, **values: Any) -> str:
    """The pass summary or skip reason *key* of *step_id*, filled with *values* (not yet redacted:
    ``StepContext.passed``/``skip``/``blocked`` redact what they record)."""
    template = CATALOG[step_id].notes.get(key) or COMMON_NOTES[key]
    return _fill(template, {k: _as_text(v) for k, v in values.items()})


def register(step_id: str, *, title: str, solution: str | Mapping[str, str] = "", question: str = "",
             number: int = 0, finding: str = "{detail}") -> Entry:
    """Add a site step to the catalog (used by ``@pytest.mark.proxydiag_step``)."""
    sol = {"any": solution} if isinstance(solution, str) else dict(solution)
    data = {"number": number, "title": title, "question": question,
            "findings": {"default": {"text": finding, "solution": "default"}},
            "solutions": {"default": sol}}
    CATALOG[step_id] = _entry(step_id, data)
    return CATALOG[step_id]


def platform_key() -> str:
    """The solution variant that applies to this machine."""
    system = platform.system()
    if system == "Darwin":
        return "macos"
    if system == "Windows":
        return "windows"
    if system == "Linux":
        try:
            with open("/etc/os-release", encoding="utf-8", errors="replace") as f:
                text = f.read().lower()
        except OSError:
            text = ""
        ids = ""
        for line in text.splitlines():
            if line.startswith(("id=", "id_like=")):
                ids += " " + line.split("=", 1)[1].strip('"')
        if any(x in ids for x in ("debian", "ubuntu")) or os.path.exists("/etc/debian_version"):
            return "debian"
        if any(x in ids for x in ("rhel", "fedora", "centos", "amzn")) or os.path.exists("/etc/redhat-release"):
            return "rhel"
        return "linux"
    return "any"


class _Values(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


_formatter = string.Formatter()


def _fill(template: str, values: Mapping[str, Any]) -> str:
    try:
        return _formatter.vformat(template, (), _Values(values))
    except (ValueError, IndexError, AttributeError, KeyError):
        # A stray brace in a measured value must never break a report.
        out = template
        for k, v in values.items():
            out = out.replace("{" + k + "}", str(v))
        return out


def render(step_id: str, key: str = "default", values: Mapping[str, Any] | None = None,
           redact: Callable[[str], str] = lambda s: s, platform_name: str | None = None) -> RenderedFinding:
    """Fill finding *key* of *step_id* and its solution with *values*.

    Values are converted to text and redacted before they are inserted.  The
    solution variant of *platform_name* (default: this machine) comes first;
    on Linux without a specific variant the Debian one is used.
    """
    e = entry(step_id)
    vals = {k: redact(_as_text(v)) for k, v in (values or {}).items()}
    f = e.findings.get(key) or e.findings.get("default") or {"text": "{detail}", "solution": "default"}
    text = _fill(f.get("text", "{detail}"), vals)
    sol_key = f.get("solution", "default")
    variants = e.solutions.get(sol_key) or e.solutions.get("default") or {}
    here = platform_name or platform_key()
    order = [here, "linux" if here in ("debian", "rhel") else None,
             "debian" if here == "linux" else None, "any"]
    chosen = next((p for p in order if p and p in variants), None)
    if chosen is None and variants:
        chosen = next(iter(variants))
    primary = _fill(variants[chosen], vals) if chosen else ""
    others = {p: _fill(t, vals) for p, t in variants.items() if p != chosen and p != "any"}
    # "any" text applies everywhere: keep it attached to an OS-specific primary.
    if chosen != "any" and "any" in variants:
        primary = _fill(variants["any"], vals) + "\n\n" + primary
    return RenderedFinding(step_id=step_id, key=key, text=redact(text), solution=redact(primary),
                           solution_platform=chosen or "any",
                           other_solutions={p: redact(t) for p, t in others.items()})


def _as_text(value: Any) -> str:
    if isinstance(value, (list, tuple, set)):
        return ", ".join(_as_text(v) for v in value)
    return "" if value is None else str(value)
