"""One client's before and after: the environments a proof runs it with, and what it sees of them.

The ``--proxydiag-public-roots`` baseline goes in by that client's own rules
(:func:`~pytest_proxydiag.proof.client_rules.baseline_for`); Claude Code also
gets the ``env`` of its settings scopes, with an application-settings change
(``app_env``) applied to the settings rather than to the shell.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from pytest_proxydiag.proof import client_rules

@dataclass
class ClientPlan:
    """One client's before/after: process environments, Claude Code settings env, and what it sees of both."""

    before: dict[str, str]
    after: dict[str, str]
    before_settings: dict[str, str] | None = None
    after_settings: dict[str, str] | None = None

    @property
    def effective_before(self) -> dict[str, str]:
        return {**self.before, **(self.before_settings or {})}

    @property
    def effective_after(self) -> dict[str, str]:
        return {**self.after, **(self.after_settings or {})}


@dataclass
class ClientJob:
    name: str
    env: dict[str, str]
    settings: dict[str, str] | None


def plan_for(name: str, env: Mapping[str, str], after_env: Mapping[str, str], app_env: Mapping[str, Any] | None,
          roots: str | None, user_settings: Mapping[str, str]) -> ClientPlan:
    before, after = dict(env), dict(after_env)
    # --proxydiag-public-roots stands in for each client's usual store, by that client's own rules.
    before.update(client_rules.baseline_for(name, before, roots))
    after.update(client_rules.baseline_for(name, after, roots))
    if name != "claude":
        return ClientPlan(before, after)
    settings_before, settings_after = dict(user_settings), dict(user_settings)
    if app_env and name in (app_env.get("clients") or ()):
        # A change to Claude Code's settings: before = with the setting, after = without it (or the new value).
        settings_before.update(app_env.get("before") or {})
        for key in app_env.get("before") or {}:
            settings_after.pop(key, None)
        settings_after.update(app_env.get("after") or {})
    return ClientPlan(before, after, settings_before, settings_after)
