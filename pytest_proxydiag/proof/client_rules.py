"""Which variables each real client reads, in which order: what a fix can change for it.

A fix is judged client by client (issue 16).  curl never reads
``NODE_EXTRA_CA_CERTS``; Node never reads ``REQUESTS_CA_BUNDLE``; requests
takes ``REQUESTS_CA_BUNDLE`` before ``CURL_CA_BUNDLE`` and ignores
``SSL_CERT_FILE``.  :func:`view` reduces an environment to what one client
actually uses (its effective settings, after its own precedence), so
:func:`affected` can tell whether a change reaches that client at all.  A
client the change cannot reach, failing the same way before and after, has a
problem of its own: it names the step that explains it (:func:`explaining_step`)
and does not veto the fix.

Each rule comes from the client's documentation and was measured here
(curl 7.88, requests 2.34, httpx 0.28, Node 20, Claude Code 2.1.332, boto3 1.43):

========  =============================================================================
client    trust variables, first wins
========  =============================================================================
curl      ``CURL_CA_BUNDLE``, else ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` (before 8.3 ``SSL_CERT_DIR`` alone
          when both are set)
requests  ``REQUESTS_CA_BUNDLE``, else ``CURL_CA_BUNDLE`` (else certifi)
httpx     ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` (else certifi)
node      ``NODE_EXTRA_CA_CERTS`` (added to its roots), ``NODE_USE_SYSTEM_CA`` (22.19+, 24.6+),
          ``--use-system-ca`` in ``NODE_OPTIONS`` (22.15+, 23.8+); the proxy variables only with
          ``NODE_USE_ENV_PROXY=1`` / ``--use-env-proxy`` (22.21+; 24.0-24.4 fetch() only, 24.5+),
          per version in :mod:`~pytest_proxydiag.proof.node_rules` (measured)
claude    ``NODE_EXTRA_CA_CERTS`` (added), ``SSL_CERT_FILE`` (its "system" store),
          ``CLAUDE_CODE_CERT_STORE``, ``NODE_USE_SYSTEM_CA``; every ``CLAUDE_*`` /
          ``ANTHROPIC_*`` and ``API_TIMEOUT_MS``
boto3     ``AWS_CA_BUNDLE`` (or ``ca_bundle`` in ~/.aws/config), else ``REQUESTS_CA_BUNDLE``
          (else certifi); never ``SSL_CERT_FILE`` (botocore 1.43, measured)
google-   ``REQUESTS_CA_BUNDLE``, else ``CURL_CA_BUNDLE``: google-auth (Vertex AI's
auth      login) sends its requests through requests (no runner: a rule for the verdicts)
========  =============================================================================

A variable none of these rules mentions (the proxy variables, ``HOME`` ...)
is assumed to reach every client.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Iterable, Mapping

from pytest_proxydiag.machine import commands

__all__ = ["SPECIFIC", "CLIENTS", "view", "uses", "affected", "changed_specific", "baseline_for", "explaining_step",
           "unproven", "installed_curl_version", "curl_dir_shadows_file"]

#: The real clients a fix is tried with (the names their runs report).
CLIENTS = ("curl", "requests", "httpx", "node", "claude", "boto3")

#: Variables only some clients read (anything else may reach every client).
SPECIFIC = frozenset({
    "CURL_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR", "NODE_EXTRA_CA_CERTS",
    "NODE_USE_SYSTEM_CA", "NODE_OPTIONS", "NODE_TLS_REJECT_UNAUTHORIZED", "NODE_USE_ENV_PROXY",
    "CLAUDE_CODE_CERT_STORE", "API_TIMEOUT_MS", "AWS_CA_BUNDLE",
})
_CLAUDE_PREFIXES = ("CLAUDE_", "ANTHROPIC_")

#: Where each client keeps its trusted roots (any one set means the user chose a store for it) and the
#: one variable that stands in for "the machine's usual roots" when none is set.
_STORE_VARS = {
    "curl": ("CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR"),
    "requests": ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"),
    "httpx": ("SSL_CERT_FILE", "SSL_CERT_DIR"),
    "node": ("NODE_EXTRA_CA_CERTS",),
    "claude": ("NODE_EXTRA_CA_CERTS",),
    "boto3": ("AWS_CA_BUNDLE", "REQUESTS_CA_BUNDLE"),
    "google-auth": ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"),
}
_BASELINE_VAR = {"curl": "CURL_CA_BUNDLE", "requests": "REQUESTS_CA_BUNDLE", "httpx": "SSL_CERT_FILE",
                 "node": "NODE_EXTRA_CA_CERTS", "claude": "NODE_EXTRA_CA_CERTS", "boto3": "AWS_CA_BUNDLE",
                 "google-auth": "REQUESTS_CA_BUNDLE"}


def _is_specific(name: str) -> bool:
    return name in SPECIFIC or name.startswith(_CLAUDE_PREFIXES)


def _first(env: Mapping[str, str], *names: str) -> tuple[str, str] | None:
    for name in names:
        if env.get(name):
            return name, env[name]
    return None


@lru_cache(maxsize=1)
def installed_curl_version() -> str | None:
    """The version of the curl on PATH (``"7.88.1"``), or None: no curl, or no answer."""
    res = commands.run(["curl", "--version"])
    m = re.match(r"curl (\d+(?:\.\d+)+)", res.stdout) if res.ok else None
    return m.group(1) if m else None


def curl_dir_shadows_file(version: str | None) -> bool:
    """Whether this curl reads SSL_CERT_FILE only when SSL_CERT_DIR is unset: before 8.3.0, which reads both
    (curl commit 29bce98, "tool_operate: allow SSL_CERT_FILE and SSL_CERT_DIR"); unknown: no."""
    try:
        return version is not None and tuple(int(p) for p in version.split(".")[:2]) < (8, 3)
    except ValueError:
        return False


def view(client: str, env: Mapping[str, str]) -> dict[str, object]:
    """What *client* actually uses of the client-specific variables in *env*, after its own precedence."""
    if client == "curl":
        first = _first(env, "CURL_CA_BUNDLE")
        if first is None and env.get("SSL_CERT_DIR") and curl_dir_shadows_file(installed_curl_version()):
            first = _first(env, "SSL_CERT_DIR")
        return {"ca": first or (_first(env, "SSL_CERT_FILE"), _first(env, "SSL_CERT_DIR"))}
    if client in ("requests", "google-auth"):
        return {"ca": _first(env, "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")}
    if client == "boto3":
        return {"ca": _first(env, "AWS_CA_BUNDLE", "REQUESTS_CA_BUNDLE")}
    if client == "httpx":
        return {"ca": (_first(env, "SSL_CERT_FILE"), _first(env, "SSL_CERT_DIR"))}
    if client == "node":
        return {n: env.get(n) for n in ("NODE_EXTRA_CA_CERTS", "NODE_USE_SYSTEM_CA", "NODE_OPTIONS",
                                        "NODE_TLS_REJECT_UNAUTHORIZED", "NODE_USE_ENV_PROXY")}
    if client == "claude":
        keys = {"NODE_EXTRA_CA_CERTS", "SSL_CERT_FILE", "SSL_CERT_DIR", "NODE_USE_SYSTEM_CA",
                "NODE_TLS_REJECT_UNAUTHORIZED", "API_TIMEOUT_MS"}
        keys |= {n for n in env if n.startswith(_CLAUDE_PREFIXES)}
        return {n: env.get(n) for n in sorted(keys)}
    # An unknown client: every specific variable may matter.
    return {n: env.get(n) for n in sorted(n for n in env if _is_specific(n))}


def changed_specific(before: Mapping[str, str], after: Mapping[str, str]) -> tuple[list[str], list[str]]:
    """(client-specific variables the change touches, other variables it touches)."""
    names = sorted(n for n in set(before) | set(after) if before.get(n) != after.get(n))
    return [n for n in names if _is_specific(n)], [n for n in names if not _is_specific(n)]


def uses(client: str, env: Mapping[str, str]) -> set[str]:
    """The client-specific variables *client* takes a value from in *env* (the winners of its precedence)."""
    names: set[str] = set()

    def collect(value: object, key: str | None = None) -> None:
        if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str) and value[0] in env:
            names.add(value[0])
        elif isinstance(value, tuple):
            for item in value:
                collect(item)
        elif value is not None and key is not None:
            names.add(key)

    for key, value in view(client, env).items():
        collect(value, key if key in env else None)
    return names


def affected(client: str, before: Mapping[str, str], after: Mapping[str, str],
             touched: Iterable[str] = ()) -> bool:
    """Whether going from *before* to *after* (the change setting or unsetting *touched*) can reach *client*.

    It can when the change touches a variable no rule assigns to particular
    clients, when a variable it sets or unsets is one this client takes a value
    from (before or after, by its own precedence), or when what the client
    uses differs.
    """
    _specific, general = changed_specific(before, after)
    touched = set(touched)
    if general or any(not _is_specific(n) for n in touched):
        return True
    if touched & (uses(client, before) | uses(client, after)):
        return True
    return view(client, before) != view(client, after)


def unproven(fix: Mapping[str, object]) -> dict[str, list[str]]:
    """The variables of a verified *fix* that none of the clients that proved it reads, each with the clients that
    would: a proof speaks only for what its clients read (curl proves nothing about ``NODE_EXTRA_CA_CERTS``)."""
    if fix.get("verified") is not True:
        return {}
    env = {str(k): str(v) for k, v in (fix.get("env") or {}).items()}  # type: ignore[union-attr]
    ran = [str(label).split()[0] for label in fix.get("verified_with") or []]  # type: ignore[union-attr]
    return {name: [c for c in CLIENTS if name in uses(c, env)] for name in env
            if _is_specific(name) and not any(name in uses(c, env) for c in ran)}


def baseline_for(client: str, env: Mapping[str, str], public_roots: str | None) -> dict[str, str]:
    """Variables that make *public_roots* this client's usual store, unless the user chose one for it.

    Never shadows a user's choice: a user with ``SSL_CERT_FILE`` keeps it for
    curl (no ``CURL_CA_BUNDLE`` is added in front of it).
    """
    if not public_roots or client not in _STORE_VARS:
        return {}
    if any(env.get(n) for n in _STORE_VARS[client]):
        return {}
    return {_BASELINE_VAR[client]: public_roots}


_TLS = re.compile(r"(?i)certificate|CERT_|SSLError|SSL_|self.signed|issuer")


def explaining_step(client: str, error_code: str | None, error: str | None, status: int | None) -> str | None:
    """The flowchart step that explains a client's own failure, from its error; None when unclear."""
    code, text = str(error_code or ""), str(error or "")
    if code == "proxy-407" or status == 407 or " 407" in text:
        return "auth.credentials"
    if code in ("proxy-403", "proxy-451") or status in (403, 451):
        return "policy.domain_allowed"
    if (client == "curl" and code in ("60", "77", "35")) or _TLS.search(code) or _TLS.search(text):
        return "certificate.python_ssl" if client in ("requests", "httpx") else "certificate.interception"
    if code in ("7", "28", "timeout", "ECONNREFUSED", "ETIMEDOUT", "ConnectTimeout", "ProxyError", "ConnectError"):
        return "connectivity.proxy_reachable"
    return None
