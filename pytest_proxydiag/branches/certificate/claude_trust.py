"""Which trust stores the installed Claude Code reads, and why: from its build, its settings and the measurement.

Rules (Claude Code's network-config documentation, checked against the real
client in ``tests/test_claude_trust.py``):

* The native build (also what the npm package installs since 2.1: a platform
  binary, not a script for the Node on PATH) trusts its bundled Mozilla roots
  *and* the OS store; on Linux the OS store is OpenSSL's: ``SSL_CERT_FILE`` /
  ``SSL_CERT_DIR`` when set, else the system bundle (measured: a CA only in
  ``/etc/ssl/certs/ca-certificates.crt``, in ``SSL_CERT_FILE`` or in a hashed
  ``SSL_CERT_DIR`` is trusted).
* A script install run by Node reads the OS store only where Node has
  ``tls.getCACertificates`` (22.15+); ``NODE_USE_SYSTEM_CA=1`` (22.19+, 24.6+)
  or ``--use-system-ca`` in ``NODE_OPTIONS`` (22.15+, 23.8+; measured) make older paths read it.
* ``CLAUDE_CODE_CERT_STORE`` (``bundled``, ``system``, default both) narrows
  the two; measured: ``bundled`` drops the OS store (and ``SSL_CERT_FILE``),
  ``NODE_EXTRA_CA_CERTS`` still applies.  The ``env`` block of a settings file
  wins over the shell's environment, managed > local > project > user.
* ``SSL_CERT_FILE``/``SSL_CERT_DIR`` count from the shell only: in a settings ``env`` block they come too late
  (measured with 2.1.332: not read); an ``SSL_CERT_DIR`` without ``c_rehash`` links is read by the native build.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from pytest_proxydiag.machine import claude_settings

#: Settings scopes, highest precedence first (Claude Code's settings documentation).
SCOPES = ("managed", "local", "project", "user")
#: Node versions from which the documented switches exist.
NODE_OS_STORE = (22, 15)
NODE_USE_SYSTEM_CA = ((22, 19), (24, 6))
NODE_FLAG_USE_SYSTEM_CA = ((22, 15), (23, 8))  # measured: 22.15 has it, 22.14 does not
TRUST_VARS = ("CLAUDE_CODE_CERT_STORE", "NODE_EXTRA_CA_CERTS", "SSL_CERT_FILE", "SSL_CERT_DIR",
              "NODE_USE_SYSTEM_CA", "NODE_OPTIONS", "NODE_TLS_REJECT_UNAUTHORIZED")


@dataclass(frozen=True)
class SettingsLayer:
    scope: str
    path: str
    env: Mapping[str, str]
    error: str | None = None


def settings_paths(home: str | None, cwd: str | None, env: Mapping[str, str],
                   platform: str | None = None) -> dict[str, str]:
    """Where each scope's settings file is (``CLAUDE_CONFIG_DIR`` moves the user scope)."""
    return dict(claude_settings.settings_files(home or "", cwd, env=env, platform=platform))


def settings_layers(home: str | None, cwd: str | None, env: Mapping[str, str],
                    paths: Mapping[str, str] | None = None) -> list[SettingsLayer]:
    """Every settings file Claude Code would read here, highest precedence first (absent ones left out).

    Read by the one settings reader (:mod:`pytest_proxydiag.machine.claude_settings`).
    """
    # Every file of a scope (the managed one has its drop-ins), highest precedence first.
    files = (list(paths.items()) if paths is not None
             else claude_settings.settings_files(home or "", cwd, env=env))[::-1]
    layers = []
    for scope, path in sorted(files, key=lambda f: SCOPES.index(f[0])):
        if not path:
            continue
        found = claude_settings.read_file(scope, path)
        if found.exists:
            layers.append(SettingsLayer(scope, path, dict(found.env), found.problem))
    return layers


def effective(name: str, env: Mapping[str, str], layers: list[SettingsLayer]) -> tuple[str | None, str]:
    """The value Claude Code sees for *name* and where it comes from (a settings file wins over the shell)."""
    for layer in layers:
        if layer.env.get(name, "") != "":
            return layer.env[name], layer.path
    value = env.get(name)
    return (value, "environment") if value not in (None, "") else (None, "")


def _version_tuple(text: str | None) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in (text or "").split(".")[:3])
    except ValueError:
        return ()


def _at_least(version: tuple[int, ...], gates) -> bool:
    """*version* reaches a gate of its major line (``((22, 19), (24, 6))``) or a single gate ``(23, 8)``."""
    if not version:
        return False
    gates = gates if isinstance(gates[0], tuple) else (gates,)
    same_line = [g for g in gates if g[0] == version[0]]
    if same_line:
        return version[:2] >= same_line[0]
    return any(version[:2] >= g for g in gates) and version[0] > min(g[0] for g in gates)


@dataclass
class ClaudeTrust:
    """The stores Claude Code reads: ``bundled`` roots, the ``system`` store, ``extra`` (NODE_EXTRA_CA_CERTS)."""

    bundled: bool
    system: bool
    system_sources: list[tuple[str, str]] = field(default_factory=list)   # (label, path)
    dropped_sources: list[tuple[str, str]] = field(default_factory=list)  # the OS store it would read otherwise
    extra: tuple[str, str] | None = None                                  # (source, path)
    cert_store: tuple[str, str] | None = None                             # (value, where it is set)
    reasons: list[tuple[str, dict]] = field(default_factory=list)         # (catalog key, values)
    build: str = "unknown"
    disabled: tuple[str, str] | None = None                               # NODE_TLS_REJECT_UNAUTHORIZED=0, where

    def narrowed_by_setting(self) -> bool:
        """CLAUDE_CODE_CERT_STORE took the OS store away (not the Node version)."""
        return any(key == "cert_store_bundled" for key, _v in self.reasons)

    def stores(self) -> list[str]:
        return [name for name, on in (("bundled", self.bundled), ("system", self.system),
                                      ("NODE_EXTRA_CA_CERTS", self.extra is not None)) if on]


def claude_trust(env: Mapping[str, str], layers: list[SettingsLayer], *, build: str = "native",
                 node_version: str | None = None, system_bundle: str | None = None,
                 os_store: tuple[str, str] | None = None) -> ClaudeTrust:
    """Apply the rules above to this machine's Claude Code (*build* from :mod:`machine.claude_install`).

    *os_store* ``(os, pem_path)`` is the macOS Keychain or the Windows certificate store copied to a PEM
    file (:func:`machine.platform_stores.native_os_store`): there the OS store is that, not OpenSSL's files.
    """
    reasons: list[tuple[str, dict]] = []
    version = _version_tuple(node_version)
    if build == "node":
        use_ca, use_ca_at = effective("NODE_USE_SYSTEM_CA", env, layers)
        options, options_at = effective("NODE_OPTIONS", env, layers)
        if _at_least(version, NODE_OS_STORE):
            system = True
            reasons.append(("node_reads_os_store", {"node": node_version}))
        elif use_ca == "1" and _at_least(version, NODE_USE_SYSTEM_CA):
            system = True
            reasons.append(("node_use_system_ca", {"node": node_version, "where": use_ca_at}))
        elif options and "--use-system-ca" in options and _at_least(version, NODE_FLAG_USE_SYSTEM_CA):
            system = True
            reasons.append(("node_flag_use_system_ca", {"node": node_version, "where": options_at}))
        else:
            system = False
            reasons.append(("node_too_old", {"node": node_version or "unknown"}))
    else:
        system = True
        key = {"macos": "native_reads_keychain", "windows": "native_reads_windows_store"}.get(
            os_store[0] if os_store else "", "native_reads_os_store")
        reasons.append((key, {}))
    bundled = True
    value, where = effective("CLAUDE_CODE_CERT_STORE", env, layers)
    cert_store = None
    if value:
        cert_store = (value, where)
        parts = {p.strip().lower() for p in value.replace(";", ",").split(",") if p.strip()}
        if parts and parts <= {"bundled", "system"}:
            if "system" not in parts and system:
                system = False
                reasons.append(("cert_store_bundled", {"value": value, "where": where}))
            if "bundled" not in parts:
                bundled = False
                reasons.append(("cert_store_system", {"value": value, "where": where}))
        else:
            reasons.append(("cert_store_unknown", {"value": value, "where": where}))
    sources: list[tuple[str, str]] = []
    too_late: list[str] = []
    too_late_at = ""
    for var in ("SSL_CERT_FILE", "SSL_CERT_DIR"):
        # The OS store is read when Claude Code starts, before its settings apply: a settings env block's
        # value is not read (measured with 2.1.332), the shell's is.
        _path, at = effective(var, env, layers)
        if _path and at != "environment":
            too_late.append(var)
            too_late_at = at
        if env.get(var):
            sources.append((var, env[var]))
    if too_late:
        reasons.append(("os_store_var_in_settings", {"vars": ", ".join(too_late), "where": too_late_at}))
    if os_store is not None:
        sources = [("system", os_store[1])]
    elif system_bundle:
        sources.append(("system", system_bundle))
    extra_path, extra_at = effective("NODE_EXTRA_CA_CERTS", env, layers)
    extra = None
    if extra_path:
        extra = ("NODE_EXTRA_CA_CERTS" if extra_at == "environment" else f"NODE_EXTRA_CA_CERTS in {extra_at}",
                 extra_path)
    reject, reject_at = effective("NODE_TLS_REJECT_UNAUTHORIZED", env, layers)
    disabled = ("NODE_TLS_REJECT_UNAUTHORIZED=0", reject_at) if (reject or "").strip() == "0" else None
    return ClaudeTrust(bundled=bundled, system=system, system_sources=sources if system else [],
                       dropped_sources=[] if system else sources, extra=extra, cert_store=cert_store,
                       reasons=reasons, build=build, disabled=disabled)
