"""pytest-proxydiag: the corporate-proxy troubleshooting flowchart as a self-diagnosing test suite.

Run ``pytest --proxydiag`` (or the ``proxydiag`` command).  Site tests use the
fixtures ``proxydiag_config``, ``proxydiag_probes``, ``proxydiag_target`` and
``proxydiag_step``, and import what they name from here, never from a
submodule (those move; this list does not)::

    from pytest_proxydiag import Cause, Target

    def test_gateway(proxydiag_probes, proxydiag_step):
        gateway = Target("http://gateway.corp.example:4000", "site")
        result = proxydiag_probes.tcp_connect(gateway.host, gateway.port)
        if result.cause is Cause.REFUSED:
            proxydiag_step.fail("default", detail=result.detail)

The names load on first use: the dormant plugin (a run without
``--proxydiag``) imports none of the modules behind them.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: public name -> the module that defines it
_PUBLIC = {
    # configuration: what the fixtures ``proxydiag_config`` and ``proxydiag_target`` hold
    "Settings": "pytest_proxydiag.core.config",
    "ProxySetting": "pytest_proxydiag.core.config",
    "Sourced": "pytest_proxydiag.core.config",
    "Target": "pytest_proxydiag.core.config",
    # proxy URLs as people type them
    "ProxyURL": "pytest_proxydiag.core.proxyurl",
    "ProxyURLError": "pytest_proxydiag.core.proxyurl",
    "parse_proxy_url": "pytest_proxydiag.core.proxyurl",
    # the probe layer (fixture ``proxydiag_probes``) and what its calls return
    "Probes": "pytest_proxydiag.net.probes",
    "Cause": "pytest_proxydiag.net.results",
    "Timings": "pytest_proxydiag.net.results",
    "ProbeResult": "pytest_proxydiag.net.results",
    "TcpResult": "pytest_proxydiag.net.results",
    "HttpReply": "pytest_proxydiag.net.results",
    "TunnelResult": "pytest_proxydiag.net.results",
    "TlsResult": "pytest_proxydiag.net.results",
    "HttpResult": "pytest_proxydiag.net.results",
    # the step a test implements (fixture ``proxydiag_step``) and its helpers
    "StepContext": "pytest_proxydiag.core.step",
    "Finding": "pytest_proxydiag.core.step",
    "blocking_step_for": "pytest_proxydiag.core.step",
    "StepResult": "pytest_proxydiag.core.results",
}

__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'pytest_proxydiag' has no attribute {name!r}")
    # Not cached here: the module in sys.modules is the one to ask (pytester's in-process runs
    # drop and re-import modules, and a cached class would stop matching isinstance checks).
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from pytest_proxydiag.core.config import ProxySetting, Settings, Sourced, Target
    from pytest_proxydiag.core.proxyurl import ProxyURL, ProxyURLError, parse_proxy_url
    from pytest_proxydiag.core.results import StepResult
    from pytest_proxydiag.core.step import Finding, StepContext, blocking_step_for
    from pytest_proxydiag.net.probes import Probes
    from pytest_proxydiag.net.results import (Cause, HttpReply, HttpResult, ProbeResult, TcpResult, Timings,
                                              TlsResult, TunnelResult)
