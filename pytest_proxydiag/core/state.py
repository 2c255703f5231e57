"""Per-run state, kept in ``config.stash`` (never in module globals).

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover - imported in build_state: a dormant plugin loads none of them
    from pytest_proxydiag.core.config import Settings
    from pytest_proxydiag.net.probes import Probes
    from pytest_proxydiag.core.redact import Redactor
    from pytest_proxydiag.core.results import StepResult


@dataclass
class RunState:
    settings: Settings
    redactor: Redactor
    probes: Probes
    active: bool
    started: float = field(default_factory=time.monotonic)
    started_wall: float = field(default_factory=time.time)
    results: list[StepResult] = field(default_factory=list)
    #: Anything a feature wants to show at the top of reports (symptom triage, comparison).
    notes: dict[str, Any] = field(default_factory=dict)
    #: Files written next to the report (extracted CA, bundles), for the escalation bundle.
    artifacts: dict[str, str] = field(default_factory=dict)
    #: Where files go when the user named no path for them (see :meth:`output_dir`).
    output_fallback: Any = None
    #: The step ids this session runs, once collection is over (None before: every step counts as selected).
    selected: Any = None
    #: A deferred step ran (triage ordered the run): from then on every step of the session is selected.
    selected_widened: bool = False
    #: Once collection is over: each selected step id -> the target URLs of its items (None: no target).
    selected_targets: dict[str, frozenset] = field(default_factory=dict)
    #: Client runs started ahead of their request, by probe-cache key (``proof.early.warm_up``).
    warm: dict[Any, Any] = field(default_factory=dict)

    def output_dir(self):
        """Next to a named report (HTML), else pytest's temporary directory: never a path nobody named."""
        import os
        from pathlib import Path

        if self.output_fallback is not None:
            try:
                return Path(self.output_fallback())
            except Exception:  # noqa: BLE001 - fall back to the working directory below
                pass
        return Path(os.getcwd())

    @property
    def deadline_passed(self) -> bool:
        return time.monotonic() - self.started > float(self.settings["deadline"])


STATE_KEY = pytest.StashKey[RunState]()


def build_state(config, active: bool) -> RunState:
    from pytest_proxydiag.core.config import OptionValueError, resolve_settings
    from pytest_proxydiag.net.probes import Probes
    from pytest_proxydiag.core.redact import Redactor

    try:
        settings = resolve_settings(config)
    except OptionValueError as exc:
        # pytest's usage error: exit 4 and one line, before any step runs (like pytest-timeout).
        raise pytest.UsageError(str(exc)) from None
    redactor = Redactor()
    redactor.add_env(settings.env)
    p = settings.proxy.url
    if p is not None:
        redactor.add_credentials_pair(p.username, p.password)
    raw = settings.proxy.raw
    if raw and "@" in raw:
        # An unparseable URL can still hold a password: mask everything before the last '@'.
        userinfo = raw.split("://", 1)[-1].rpartition("@")[0]
        if ":" in userinfo:
            redactor.add_credentials_pair(userinfo.partition(":")[0], userinfo.partition(":")[2])
    for name in ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        value = settings.env.get(name)
        if value and "@" in value:
            userinfo = value.split("://", 1)[-1].rpartition("@")[0]
            if ":" in userinfo:
                redactor.add_credentials_pair(userinfo.partition(":")[0], userinfo.partition(":")[2])
    return RunState(settings=settings, redactor=redactor, probes=Probes(settings, redactor.redact), active=active)


def get_state(config) -> RunState:
    """The run state; created on first use (site tests may run without --proxydiag)."""
    state = config.stash.get(STATE_KEY, None)
    if state is None:
        state = build_state(config, active=False)
        config.stash[STATE_KEY] = state
    return state
