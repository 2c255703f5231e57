"""The flowchart's shape: branches, step ids, and the order that decides the root cause.

The texts (titles, questions, findings, solutions) are data in
:mod:`pytest_proxydiag.catalog`; this module only says how the steps relate.
"""

from __future__ import annotations

#: Branches in the order the flowchart lists them; each is also a marker.
BRANCHES: dict[str, str] = {
    "auth": "407 Proxy Authentication Required",
    "connectivity": "Connection refused or connection timeout",
    "certificate": "SSL certificate verification failed",
    "policy": "403 Forbidden or 502 Bad Gateway",
    "application": "Works with curl, fails with Claude Code",
    "performance": "Slow performance / timeouts",
    "bypass": "No error, but requests don't route through the proxy",
    "gateway": "Works direct, fails through the LLM gateway (Claude Code → gateway → proxy → provider)",
}

#: Dependency order: the first failed step in this list is the root cause.
#: An entry ``step:finding`` ranks that one finding of a step on its own: the
#: port step's "another port answers" is more specific than "connection
#: refused", while "no port answers" is the proxy being down or elsewhere.
#: Reachability comes before authentication (a 407 cannot be judged through a
#: proxy that does not answer), authentication before routing and policy, and
#: the specific findings (a blocked domain, an untrusted interception CA)
#: before the generic "the proxy does not work" they also cause.
ROOT_CAUSE_ORDER: tuple[str, ...] = (
    "connectivity.proxy_port:other_port",
    "connectivity.proxy_port:other_address",
    "connectivity.proxy_reachable",
    "connectivity.proxy_port",
    "auth.special_chars",
    "auth.env_exported",
    "auth.scheme",
    "auth.credentials",
    "auth.netrc",
    "connectivity.no_proxy",
    # The gateway's first hop (Claude Code → gateway) is judged before the generic NO_PROXY
    # routing check, which also notices a gateway sent to the proxy but cannot prove it.
    "gateway.client_route",
    "bypass.no_proxy",
    "bypass.traffic_via_proxy",
    "bypass.system_proxy",
    "bypass.app_settings",
    "bypass.node_env_proxy",
    "policy.domain_allowed",
    "policy.url_filtering",
    # Hosts besides the API: a refusal there breaks one feature, never the API path.
    "policy.claude_hosts",
    "certificate.interception",
    "certificate.python_ssl",
    "certificate.verification_disabled",
    "certificate.client_cert",
    "connectivity.proxy_works",
    "policy.payload_size",
    "policy.proxy_logs",
    # Trusted, but refused by Python 3.13+'s strict X.509 check: after the proxy's own answers, whose error
    # certificate it may be (Squid's for an upstream it cannot verify has no Authority Key Identifier).
    "certificate.interception:strict_rejected",
    "application.env_in_shell",
    "application.python_requests",
    "application.litellm_config",
    "application.debug_logging",
    # The gateway's second hop: alive, its key check, the provider behind it, its egress settings.
    "connectivity.gateway",
    "gateway.key",
    "gateway.provider_path",
    "gateway.egress_config",
    # Streaming through the gateway (SSE held back on its hop): works, but late.
    "gateway.streaming",
    "performance.rate_limit",
    "performance.latency",
    "performance.proxy_health",
    "performance.timeouts",
)

STEP_IDS: frozenset[str] = frozenset(s for s in ROOT_CAUSE_ORDER if ":" not in s)


def branch_of(step_id: str) -> str:
    return step_id.partition(".")[0]


_POSITION = {s: i for i, s in enumerate(ROOT_CAUSE_ORDER)}


def earliest_rank(step_id: str) -> int:
    """The best place in :data:`ROOT_CAUSE_ORDER` any finding of *step_id* can take (before it runs)."""
    return min((i for entry, i in _POSITION.items() if entry == step_id or entry.startswith(step_id + ":")),
               default=len(ROOT_CAUSE_ORDER))


def order_key(step_id: str, finding_key: str | None = None) -> tuple[int, str]:
    """Sort key: flowchart steps in dependency order, site steps after them."""
    if finding_key is not None and f"{step_id}:{finding_key}" in _POSITION:
        return (_POSITION[f"{step_id}:{finding_key}"], step_id)
    return (_POSITION.get(step_id, len(ROOT_CAUSE_ORDER)), step_id)
