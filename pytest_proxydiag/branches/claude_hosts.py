"""Every host Claude Code needs, not only the API: which ones, for what, and what the proxy's answer means.

The hosts are those the installed release talks to.  Measured in the Claude Code
2.1.332 binary (``strings``), which differs from the documentation's list: the
WebFetch domain check goes to ``api.anthropic.com/api/web/domain_info`` (the
documentation names ``claude.ai``), telemetry to Datadog's log intake (the
documentation names ``statsig.anthropic.com``, which the binary no longer
contains), error reports to Sentry, native updates to ``downloads.claude.ai`` and
npm installs to the npm registry.  Both lists are kept: a proxy must allow what
the release in use needs.  No I/O here: the step asks the probes.

The WebFetch check's URL is absolute: it goes to ``api.anthropic.com`` whatever the
provider (Bedrock, Vertex AI, a gateway in ``ANTHROPIC_BASE_URL``), so for those
users it is a host besides the API; the settings key ``skipWebFetchPreflight``
turns the check off.  In Bedrock and Vertex AI mode the binary sends neither
telemetry (Datadog) nor error reports (Sentry): both return when the provider is
not Anthropic's own, as the documentation says of statsig and Sentry.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Collection, Mapping

from pytest_proxydiag.branches.providers import bedrock_region, uses_bedrock, uses_vertex

__all__ = ["Need", "HostVerdict", "needed_hosts", "judge_tunnel", "install_kind", "REQUIRED", "INFORMATIONAL",
           "WEBFETCH_CHECK_HOST"]

REQUIRED = "required"
INFORMATIONAL = "informational"
#: Where Claude Code 2.1.332's WebFetch asks whether a domain may be fetched (``/api/web/domain_info``).
WEBFETCH_CHECK_HOST = "api.anthropic.com"
#: Where it renews a claude.ai login's token (its TOKEN_URL ``https://platform.claude.com/v1/oauth/token``).
OAUTH_TOKEN_HOST = "platform.claude.com"


@dataclass(frozen=True)
class Need:
    host: str
    port: int
    purpose: str      #: catalog key of the purpose ("webfetch", "updates_npm", ...)
    weight: str       #: REQUIRED or INFORMATIONAL


@dataclass(frozen=True)
class HostVerdict:
    need: Need
    verdict: str      #: "allowed", "refused", "unreachable", "no_answer"
    status: str       #: what the proxy said, as the probe recorded it


_TRUE = {"1", "true", "yes", "on"}


def _on(env: Mapping[str, str], name: str) -> bool:
    return (env.get(name) or "").strip().lower() in _TRUE


def install_kind(claude_path: str | None) -> str | None:
    """``npm`` or ``native`` from where the ``claude`` executable lives; None when not installed."""
    if not claude_path:
        return None
    real = os.path.realpath(claude_path)
    return "npm" if f"{os.sep}node_modules{os.sep}" in real else "native"


def needed_hosts(env: Mapping[str, str], claude_path: str | None, *,
                 api_hosts: Collection[str] = (WEBFETCH_CHECK_HOST,), preflight_skipped: str | None = None,
                 claude_ai_login: bool = False) -> list[Need]:
    """The hosts Claude Code would contact under *env*, besides the API itself.

    *api_hosts*: the hosts of the API it calls (the targets); *preflight_skipped*: the settings file whose
    ``skipWebFetchPreflight`` is true, if any; *claude_ai_login*: a claude.ai login is kept here (its token is
    renewed at ``platform.claude.com``, measured with 2.1.332) -- used unless an API key or a cloud mode is.
    """
    needs = []
    if claude_ai_login and not (env.get("ANTHROPIC_API_KEY") or env.get("ANTHROPIC_AUTH_TOKEN")
                                or env.get("CLAUDE_CODE_OAUTH_TOKEN") or uses_bedrock(env) or uses_vertex(env)):
        needs.append(Need(OAUTH_TOKEN_HOST, 443, "oauth_refresh", REQUIRED))
    if not preflight_skipped:
        needs.append(Need("claude.ai", 443, "webfetch", REQUIRED))
        if WEBFETCH_CHECK_HOST not in {h.lower() for h in api_hosts}:
            needs.append(Need(WEBFETCH_CHECK_HOST, 443, "webfetch_measured", REQUIRED))
    if uses_bedrock(env) and not (env.get("ANTHROPIC_BEDROCK_BASE_URL") or "").strip():
        # Measured with 2.1.332: ListInferenceProfiles on Bedrock's control plane, even with nonessential traffic
        # off; refused, it falls back to its own model list.
        needs.append(Need(f"bedrock.{bedrock_region('', env)}.amazonaws.com", 443, "bedrock_profiles", INFORMATIONAL))
    # Bedrock and Vertex AI mode: no telemetry, no error reports (measured in 2.1.332, documented).
    nonessential_off = _on(env, "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC")
    cloud = uses_bedrock(env) or uses_vertex(env)
    if not (_on(env, "DISABLE_TELEMETRY") or nonessential_off or cloud):
        needs.append(Need("http-intake.logs.us5.datadoghq.com", 443, "telemetry", INFORMATIONAL))
        needs.append(Need("statsig.anthropic.com", 443, "telemetry_documented", INFORMATIONAL))
    if not (_on(env, "DISABLE_ERROR_REPORTING") or nonessential_off or cloud):
        needs.append(Need("o1158394.ingest.us.sentry.io", 443, "error_reporting", INFORMATIONAL))
    if not (_on(env, "DISABLE_AUTOUPDATER") or nonessential_off):
        kind = install_kind(claude_path)
        if kind == "npm":
            registry = (env.get("npm_config_registry") or env.get("NPM_CONFIG_REGISTRY") or "").strip()
            host = registry.split("://", 1)[-1].split("/", 1)[0] if registry else "registry.npmjs.org"
            needs.append(Need(host.split(":")[0], int(host.split(":")[1]) if ":" in host else 443,
                              "updates_npm", REQUIRED))
        elif kind == "native":
            needs.append(Need("downloads.claude.ai", 443, "updates_native", REQUIRED))
    return needs


def judge_tunnel(need: Need, status: int | None, cause: str, detail: str) -> HostVerdict:
    """What a CONNECT to *need* through the proxy says: allowed, refused by policy, or unreachable."""
    if status == 200:
        return HostVerdict(need, "allowed", detail)
    if status in (401, 403, 407, 451):
        return HostVerdict(need, "refused", detail)
    if status is not None:
        return HostVerdict(need, "unreachable", detail)
    return HostVerdict(need, "no_answer", detail or cause)


def must_bypass(host: str) -> bool:
    """A local MCP server: loopback or an internal name must not go through the corporate proxy."""
    from pytest_proxydiag.branches.gateway import is_internal_host

    return is_internal_host(host)
