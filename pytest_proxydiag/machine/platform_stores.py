"""What the OS itself holds for trust and proxy, outside the variables: one shape for every platform.

:func:`read_machine` dispatches on ``sys.platform`` (and WSL inside Linux) to
:mod:`.macos`, :mod:`.windows` and :mod:`.wsl`.  Each reader takes its raw
inputs (a command's output, a registry handle, a file's text) as arguments so
the unit tests can replay recorded outputs of OSes that cannot run here.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509

_PEM = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)


@dataclass
class SystemProxy:
    """A proxy configured in the OS (not in the environment); ``source`` names the setting read."""

    source: str
    https: str | None = None
    http: str | None = None
    pac_url: str | None = None
    bypass: list[str] = field(default_factory=list)
    enabled: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in (None, [], "")}


@dataclass
class MachineFacts:
    """``os``: ``linux``, ``wsl``, ``macos`` or ``windows``; ``stores``: store name -> certificates."""

    os: str
    stores: dict[str, list[x509.Certificate]] = field(default_factory=dict)
    proxies: list[SystemProxy] = field(default_factory=list)
    wsl: Any = None
    problems: list[str] = field(default_factory=list)

    def holds(self, cert: x509.Certificate) -> list[str]:
        """The stores that hold *cert* (by its DER)."""
        return [name for name, certs in self.stores.items() if any(c == cert for c in certs)]

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"os": self.os, "stores": {k: len(v) for k, v in self.stores.items()}}
        if self.proxies:
            out["system_proxies"] = [p.as_dict() for p in self.proxies]
        if self.wsl is not None:
            out["wsl"] = self.wsl.as_dict()
        if self.problems:
            out["problems"] = self.problems
        return out


def pem_certificates(text: str) -> list[x509.Certificate]:
    """Every readable certificate in PEM text; unreadable blocks are skipped."""
    out = []
    for block in _PEM.findall(text or ""):
        try:
            out.append(x509.load_pem_x509_certificate(block.encode("ascii", "replace")))
        except ValueError:
            continue
    return out


def read_machine(platform: str | None = None) -> MachineFacts:
    """This machine's OS trust stores and proxy settings (only what its own tools can tell)."""
    platform = platform or sys.platform
    if platform == "darwin":
        from . import macos

        return macos.read()
    if platform == "win32":
        from . import windows

        return windows.read()
    from . import wsl

    info = wsl.detect()
    return MachineFacts("wsl" if info.is_wsl else "linux", wsl=info if info.is_wsl else None)
