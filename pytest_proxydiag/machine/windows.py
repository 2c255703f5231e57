"""Windows: the certificate store (``ssl.enum_certificates``) and the proxy (registry, WinHTTP, PAC).

The user's proxy is in ``HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Internet Settings``
(``ProxyEnable``, ``ProxyServer`` — ``host:port`` or ``http=...;https=...`` —,
``ProxyOverride``, ``AutoConfigURL`` for a PAC file); services use WinHTTP's
own setting (``netsh winhttp show proxy``).  Command-line programs read
neither: they need ``HTTPS_PROXY``.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from cryptography import x509

from .commands import CommandResult, run
from .platform_stores import MachineFacts, SystemProxy

INTERNET_SETTINGS = r"Software\Microsoft\Windows\CurrentVersion\Internet Settings"
STORES = ("ROOT", "CA")


def store_certificates(enum: Callable[[str], Any] | None = None) -> tuple[dict, list[str]]:
    """``{"ROOT": [...], "CA": [...]}`` from ``ssl.enum_certificates`` (DER entries only)."""
    if enum is None:
        import ssl

        enum = getattr(ssl, "enum_certificates", None)
        if enum is None:
            return {}, ["ssl.enum_certificates exists only on Windows"]
    stores, problems = {}, []
    for name in STORES:
        certs = []
        try:
            entries = list(enum(name))
        except (OSError, PermissionError) as exc:
            problems.append(f"store {name}: {exc}")
            continue
        for blob, encoding, _trust in entries:
            if encoding != "x509_asn":
                continue
            try:
                certs.append(x509.load_der_x509_certificate(bytes(blob)))
            except ValueError:
                continue
        stores[name] = certs
    return stores, problems


def parse_proxy_server(value: str) -> tuple[str | None, str | None]:
    """(https, http) from ``ProxyServer``: ``host:port`` for all, or ``http=h:p;https=h:p``."""
    value = (value or "").strip()
    if not value:
        return None, None
    if "=" not in value:
        url = value if "://" in value else f"http://{value}"
        return url, url
    parts = dict(p.split("=", 1) for p in value.split(";") if "=" in p)
    def url(v: str | None) -> str | None:
        return None if not v else (v if "://" in v else f"http://{v}")
    return url(parts.get("https")), url(parts.get("http"))


def registry_proxy(winreg: Any = None) -> SystemProxy | None:
    """The user's Internet Settings from the registry (*winreg* is the module, or a stand-in in tests)."""
    if winreg is None:
        try:
            import winreg  # type: ignore[no-redef]
        except ImportError:
            return None
    values: dict[str, Any] = {}
    try:
        with winreg.OpenKey(winreg.HKEY_CURRENT_USER, INTERNET_SETTINGS) as key:
            for name in ("ProxyEnable", "ProxyServer", "ProxyOverride", "AutoConfigURL"):
                try:
                    values[name] = winreg.QueryValueEx(key, name)[0]
                except OSError:
                    continue
    except OSError:
        return None
    enabled = bool(int(values.get("ProxyEnable") or 0))
    https, http = parse_proxy_server(str(values.get("ProxyServer") or "")) if enabled else (None, None)
    pac = values.get("AutoConfigURL") or None
    if not (https or http or pac):
        return None
    bypass = [b for b in re.split(r"[;\s]+", str(values.get("ProxyOverride") or "")) if b]
    return SystemProxy(f"registry HKCU\\{INTERNET_SETTINGS}", https=https, http=http, pac_url=pac, bypass=bypass)


def parse_netsh_winhttp(text: str) -> SystemProxy | None:
    """``netsh winhttp show proxy``: ``Direct access (no proxy server).`` or the proxy and bypass list."""
    if not text or re.search(r"Direct access", text, re.I):
        return None
    m = re.search(r"Proxy Server\(s\)\s*:\s*(\S+)", text)
    if not m:
        return None
    https, http = parse_proxy_server(m.group(1))
    b = re.search(r"Bypass List\s*:\s*(.+)", text)
    bypass = [x for x in re.split(r"[;\s]+", b.group(1).strip()) if x and x != "(none)"] if b else []
    return SystemProxy("netsh winhttp show proxy", https=https, http=http, bypass=bypass)


def read(enum: Callable[[str], Any] | None = None, winreg: Any = None,
         runner: Callable[[list[str]], CommandResult] | None = None) -> MachineFacts:
    runner = runner or run
    stores, problems = store_certificates(enum)
    facts = MachineFacts("windows", stores=stores, problems=problems)
    reg = registry_proxy(winreg)
    if reg is not None:
        facts.proxies.append(reg)
    res = runner(["netsh", "winhttp", "show", "proxy"])
    if res.ok:
        winhttp = parse_netsh_winhttp(res.stdout)
        if winhttp is not None:
            facts.proxies.append(winhttp)
    elif res.status != "missing":
        facts.problems.append(f"{res.command}: {res.detail}")
    return facts
