"""The provider endpoint the user's Claude Code talks to: the diagnosis's default target.

Without ``--proxydiag-target`` the diagnosis checks what the user's own Claude Code would call, worked out
from the shell's variables and the ``env`` blocks of every Claude Code settings scope
(:mod:`.claude_settings`; a settings value wins over the shell's, as in Claude Code):

==================================  ===============================================================
``CLAUDE_CODE_USE_BEDROCK=1``       ``ANTHROPIC_BEDROCK_BASE_URL``, else
                                    ``https://bedrock-runtime.<AWS_REGION|AWS_DEFAULT_REGION|the AWS profile's
                                    region|us-east-1>.amazonaws.com``
``CLAUDE_CODE_USE_VERTEX=1``        ``ANTHROPIC_VERTEX_BASE_URL``, else the endpoint of ``CLOUD_ML_REGION``
                                    (``global`` → ``aiplatform.googleapis.com``, ``us``/``eu`` →
                                    ``aiplatform.<us|eu>.rep.googleapis.com``), else us-east5
otherwise                           ``ANTHROPIC_BASE_URL`` when it is an anthropic.com host (any other
                                    host is a gateway), else nothing (the caller's default)
==================================  ===============================================================

The defaults (us-east-1, us-east5) and the order are Claude Code 2.1.332's, read in its binary.
An unusable value is passed over with a problem sentence, never an exception.

Example::

    from pytest_proxydiag.machine import claude_target
    t = claude_target.derive_target({"CLAUDE_CODE_USE_BEDROCK": "1", "AWS_REGION": "eu-west-1"})
    t.url, t.source, t.mode   # https://bedrock-runtime.eu-west-1.amazonaws.com, env:AWS_REGION, bedrock
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Mapping, Sequence
from urllib.parse import urlsplit

from pytest_proxydiag.machine.aws_config import aws_profile_value
from pytest_proxydiag.branches.providers import (BEDROCK_DEFAULT_REGION, VERTEX_DEFAULT_REGION, _OFF, _regions, is_on,
                                                 bedrock_host, provider_of, vertex_host)

__all__ = ["DerivedTarget", "derive_target", "user_target"]


@dataclass(frozen=True)
class DerivedTarget:
    """The endpoint the user's Claude Code would call, when no target is given, and how it was worked out.

    *source* names the variable that decided the URL, as configuration sources are named (``env:AWS_REGION``;
    ``settings:AWS_REGION`` when a Claude Code settings file set it); *why* lists each variable used and
    where it was set; *problems* are unusable values that were passed over.
    """

    url: str | None
    source: str
    mode: str
    why: str = ""
    problems: tuple[str, ...] = ()
    #: The variables Claude Code sees: the shell's with the settings scopes' ``env`` on top.
    view: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)


def derive_target(env: Mapping[str, str], settings_env: Mapping[str, str] | None = None,
                  settings_origin: Mapping[str, str] | None = None, *, home: str | None = None) -> DerivedTarget:
    """The provider endpoint of the user's Claude Code (the diagnosis's default target); never raises.

    Claude Code applies its settings files' ``env`` over the shell's, so a variable in *settings_env* wins.
    Bedrock mode (``CLAUDE_CODE_USE_BEDROCK``): ``ANTHROPIC_BEDROCK_BASE_URL``, else the endpoint of
    ``AWS_REGION``/``AWS_DEFAULT_REGION``, else of the AWS profile's ``region`` (``~/.aws/config`` under *home*),
    else us-east-1.  Vertex mode (``CLAUDE_CODE_USE_VERTEX``):
    ``ANTHROPIC_VERTEX_BASE_URL``, else the endpoint of ``CLOUD_ML_REGION``, else us-east5 (Claude Code
    2.1.332's defaults).  Otherwise an ``ANTHROPIC_BASE_URL`` on anthropic.com (another host is a gateway,
    the gateway steps' own), else nothing: ``url`` is None and the caller keeps its default.
    """
    from pytest_proxydiag.core.parsers import parse_url

    settings_env, settings_origin = dict(settings_env or {}), dict(settings_origin or {})
    view = {**{k: str(v) for k, v in env.items()}, **settings_env}
    problems: list[str] = []

    def found(url: str | None, source: str, mode: str, why: str = "") -> DerivedTarget:
        return DerivedTarget(url, source, mode, why, tuple(problems), view)

    def src(name: str) -> str:
        return f"settings:{name}" if name in settings_env else f"env:{name}"

    def where(name: str) -> str:
        return f"{name}={view[name].strip()} ({settings_origin.get(name) or 'settings'})" if name in settings_env \
            else f"{name}={view[name].strip()} (env)"

    def base_url(name: str, report: bool = True) -> str | None:
        raw = view.get(name)
        if raw is None or not raw.strip():
            return None
        try:
            return parse_url(raw)
        except ValueError as exc:
            if report:
                shown = raw.strip() if len(raw.strip()) <= 120 else raw.strip()[:117] + "..."
                problems.append(f"invalid {name} {shown!r} from {src(name)}: {exc}; not used as the target")
            return None

    def region(names: Sequence[str]) -> str | None:
        """The first of *names* holding one region name (the variable's name), unusable ones noted."""
        for name in names:
            raw = view.get(name)
            if raw is None or not raw.strip():
                continue
            if _regions([raw]) == [raw.strip().lower()]:
                return name
            problems.append(f"invalid {name} {raw.strip()[:60]!r} from {src(name)}: must be one region name "
                            f"like us-east-1 or europe-west4; not used")
        return None

    for mode, switch, base, region_vars, default, host in (
            ("bedrock", "CLAUDE_CODE_USE_BEDROCK", "ANTHROPIC_BEDROCK_BASE_URL", ("AWS_REGION", "AWS_DEFAULT_REGION"),
             BEDROCK_DEFAULT_REGION, bedrock_host),
            ("vertex", "CLAUDE_CODE_USE_VERTEX", "ANTHROPIC_VERTEX_BASE_URL", ("CLOUD_ML_REGION",),
             VERTEX_DEFAULT_REGION, vertex_host)):
        if not is_on(view.get(switch)):
            raw = str(view.get(switch, "")).strip()
            if raw.lower() not in _OFF:
                problems.append(f"{switch}={raw[:40]!r} from {src(switch)} is not 1, true, yes or on: Claude Code "
                                f"does not switch to {mode} with it (measured with 2.1.332); set {switch}=1")
            continue
        url = base_url(base)
        if url is not None:
            return found(url, src(base), mode, f"{where(switch)}, {where(base)}")
        name = region(region_vars)
        if name is not None:
            reg = view[name].strip().lower()
            return found(f"https://{host(reg)}", src(name), mode, f"{where(switch)}, {where(name)}")
        profile = aws_profile_value(view, home, "region") if mode == "bedrock" and home else None
        if profile is not None and _regions([profile[0]]) == [profile[0].lower()]:
            return found(f"https://{host(profile[0].lower())}", "aws_config:region", mode,
                         f"{where(switch)}, region={profile[0]} ({profile[1]})")
        return found(f"https://{host(default)}", src(switch), mode,
                     f"{where(switch)}, no region set: Claude Code's default {default}")
    url = base_url("ANTHROPIC_BASE_URL", report=False)  # an unusable one is config's problem (the gateway's)
    if url is not None and provider_of(urlsplit(url).hostname or "") == "Anthropic":
        return found(url, src("ANTHROPIC_BASE_URL"), "anthropic", where("ANTHROPIC_BASE_URL"))
    return found(None, "default", "anthropic")



def user_target(env: Mapping[str, str], cwd: str | None = None, *, system_root: str | None = None) -> DerivedTarget:
    """:func:`derive_target` with the settings scopes of the user in *env* (``HOME``; none without it)."""
    from pytest_proxydiag.machine import claude_settings

    home = env.get("HOME")
    if not home:
        return derive_target(env)
    try:
        cs = claude_settings.read(home, cwd if cwd is not None else os.getcwd(), env=env, system_root=system_root)
    except (OSError, ValueError):  # pragma: no cover - the reader never raises; a vanished cwd does
        return derive_target(env)
    settings_problems = tuple(cs.problems)
    found = derive_target(env, cs.env, cs.origin, home=home)
    if not settings_problems:
        return found
    return DerivedTarget(found.url, found.source, found.mode, found.why, found.problems + settings_problems,
                         found.view)
