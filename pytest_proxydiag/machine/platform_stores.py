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


#: What Claude Code's native build reads as "the OS store" on each OS (its network-config documentation:
#: bundled roots + the OS store; the Linux rule is measured, see branches/certificate/claude_trust.py).
NATIVE_OS_STORES = {
    "linux": ("linux", "OpenSSL's store: SSL_CERT_FILE / SSL_CERT_DIR, else the system bundle"),
    "wsl": ("wsl", "the Linux store inside WSL (the Windows certificate store is not read)"),
    "macos": ("macos", "the macOS Keychain (System and login keychains)"),
    "windows": ("windows", "the Windows certificate store (ROOT and CA)"),
}


@dataclass(frozen=True)
class OsStore:
    """The OS store as the native Claude Code sees it: ``path`` is a PEM copy of a Keychain or Windows store."""

    os: str
    label: str
    path: str | None = None
    count: int = 0


def native_os_store(facts: MachineFacts, directory: str | None = None) -> OsStore:
    """The store Claude Code's native build reads on *facts*' OS; on macOS/Windows written to a PEM file in
    *directory* (default: a private temporary directory) so the trust matrix can read it like a bundle."""
    import os
    import tempfile

    from cryptography.hazmat.primitives.serialization import Encoding

    key = facts.os if facts.os in NATIVE_OS_STORES else "linux"
    label = NATIVE_OS_STORES[key][1]
    if key not in ("macos", "windows"):
        return OsStore(key, label)
    seen, blocks = set(), []
    for certs in facts.stores.values():
        for cert in certs:
            der = cert.public_bytes(Encoding.DER)
            if der not in seen:
                seen.add(der)
                blocks.append(cert.public_bytes(Encoding.PEM).decode("ascii"))
    directory = directory or tempfile.mkdtemp(prefix="proxydiag-os-store-")
    path = os.path.join(directory, f"{key}-store.pem")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("".join(blocks))
    return OsStore(key, label, path, len(blocks))


_NATIVE_CACHE: dict[str, OsStore] = {}


def this_machine_os_store(platform: str | None = None) -> OsStore | None:
    """:func:`native_os_store` of this machine, read once per process; None on Linux/WSL (the bundle rule)."""
    platform = platform or sys.platform
    if platform not in ("darwin", "win32"):
        return None
    if platform not in _NATIVE_CACHE:
        import atexit
        import shutil
        import tempfile

        directory = tempfile.mkdtemp(prefix="proxydiag-os-store-")
        atexit.register(shutil.rmtree, directory, True)
        _NATIVE_CACHE[platform] = native_os_store(read_machine(platform), directory)
    return _NATIVE_CACHE[platform]
