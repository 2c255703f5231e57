"""macOS: the corporate CA lives in the Keychain, the proxy in the network settings (``scutil --proxy``).

Native macOS programs (Safari, Claude Code's native build) trust the
Keychain; Python, Homebrew's curl and Node do not read it.  The proxy (or the
PAC file's URL) comes from System Settings, which command-line programs ignore
unless ``HTTPS_PROXY`` is set.
"""

from __future__ import annotations

import os
import re
from typing import Callable

from .commands import CommandResult, run
from .platform_stores import MachineFacts, SystemProxy, pem_certificates

#: Keychains read: the admin-installed system one (where IT puts corporate CAs) and the user's login keychain.
SYSTEM_KEYCHAIN = "/Library/Keychains/System.keychain"
LOGIN_KEYCHAIN = "~/Library/Keychains/login.keychain-db"


def keychain_certificates(runner: Callable[[list[str]], CommandResult] | None = None) -> tuple[dict, list[str]]:
    """``{"System": [...], "login": [...]}`` from ``security find-certificate -a -p`` and the problems met."""
    runner = runner or run
    stores, problems = {}, []
    for name, path in (("System", SYSTEM_KEYCHAIN), ("login", os.path.expanduser(LOGIN_KEYCHAIN))):
        res = runner(["security", "find-certificate", "-a", "-p", path])
        if res.ok:
            stores[name] = pem_certificates(res.stdout)
        else:
            problems.append(f"{res.command}: {res.detail}")
    return stores, problems


def _scutil_dict(text: str) -> dict[str, object]:
    """``scutil --proxy``'s ``<dictionary> { Key : value ... }`` into a dict (arrays as lists)."""
    out: dict[str, object] = {}
    array_key: str | None = None
    for line in (text or "").splitlines():
        line = line.strip()
        if array_key is not None:
            if line.startswith("}"):
                array_key = None
                continue
            m = re.match(r"\d+\s*:\s*(.+)$", line)
            if m:
                out[array_key].append(m.group(1).strip())  # type: ignore[union-attr]
            continue
        m = re.match(r"([A-Za-z]+)\s*:\s*(.*)$", line)
        if not m:
            continue
        key, value = m.group(1), m.group(2).strip()
        if value.startswith("<array>"):
            out[key] = []
            array_key = key
        else:
            out[key] = value
    return out


def parse_scutil_proxy(text: str) -> SystemProxy | None:
    """The proxy macOS applies (HTTPS, HTTP, PAC URL, exceptions); None when none is enabled."""
    d = _scutil_dict(text)

    def server(kind: str) -> str | None:
        if d.get(f"{kind}Enable") == "1" and d.get(f"{kind}Proxy"):
            port = d.get(f"{kind}Port")
            return f"http://{d[f'{kind}Proxy']}" + (f":{port}" if port else "")
        return None

    pac = d.get("ProxyAutoConfigURLString") if d.get("ProxyAutoConfigEnable") == "1" else None
    https, http = server("HTTPS"), server("HTTP")
    if not (https or http or pac):
        return None
    bypass = d.get("ExceptionsList")
    return SystemProxy("scutil --proxy", https=https, http=http, pac_url=str(pac) if pac else None,
                       bypass=list(bypass) if isinstance(bypass, list) else [])


def read(runner: Callable[[list[str]], CommandResult] | None = None) -> MachineFacts:
    runner = runner or run
    stores, problems = keychain_certificates(runner)
    facts = MachineFacts("macos", stores=stores, problems=problems)
    res = runner(["scutil", "--proxy"])
    if res.ok:
        proxy = parse_scutil_proxy(res.stdout)
        if proxy is not None:
            facts.proxies.append(proxy)
    else:
        facts.problems.append(f"{res.command}: {res.detail}")
    return facts
