"""Triage rows for the gateway hop: Claude Code → LLM gateway (LiteLLM, one-api, …) → proxy → provider.

These rows extend :data:`pytest_proxydiag.triage.rules._TABLE` (same shape, weights and groups).
They read a gateway's own words for its hop to the provider (LiteLLM's key check and relayed
errors, any gateway's "upstream"), gateway products by name, and the API endpoint's settings
(``ANTHROPIC_BASE_URL`` pointing at a gateway, ``NO_PROXY`` for it, a base URL that repeats the
API path).

Rules are written from ``tests/data/symptoms.json`` only.  Every pattern is linear.
"""

from __future__ import annotations

Row = tuple[str, str, str, dict[str, float]]


def rows() -> tuple[Row, ...]:
    """The gateway rows, in the table's order (a group's rows keep their order)."""
    return (
        # ---- gateway: Claude Code → LLM gateway (LiteLLM) → proxy → provider (issue 18)
        # LiteLLM's own key check: its virtual/master key was refused, not the provider's key.
        ("gateway-key", r"Invalid proxy server token|token_not_found_in_db|LiteLLM_VerificationTokenTable|"
         r"No connected db|DB not connected|no_db_connection|(?:user|team|key)\b[^\n]{0,40}(?:doesn.t exist|not found) in "
         r"(?:the )?db\b|Token not allowed to access model|Create (?:key|user) via `?/(?:key/generate|user/new)",
         "the LiteLLM gateway's own key check refused the key (its master or virtual key, not the provider's key)",
         {"gateway": 5}),
        # LiteLLM relays a failure of its own hop to the provider; the quoted cause names the branch too.
        ("gateway-relay", r"litellm\.(?:exceptions\.)?APIConnectionError|Litellm_proxyException",
         "the LiteLLM gateway could not reach the provider on its own hop (its egress: proxy, CA, credentials)",
         {"gateway": 5}),
        ("gateway-relay", r"LiteLLM (?:Proxy|Router)\b|litellm[ _-]proxy\b|litellm/proxy/",
         "the LiteLLM gateway (proxy server) is in the path", {"gateway": 3}),
        ("gateway-relay", r"\bLiteLLM\b", "LiteLLM is named: a gateway hop may be in the path", {"gateway": 2}),
        ("gateway-relay", r"litellm\.(?:exceptions\.)?(?:APIError|InternalServerError|ServiceUnavailableError|BadRequestError|"
         r"AuthenticationError|NotFoundError|Timeout)\b|litellm\.llms\.|(?:OpenAI|Azure|Anthropic|Bedrock|Vertex(?:AI)?|"
         r"Gemini|Ollama|Openrouter|Hosted_vllm)Exception -",
         "LiteLLM is in the path (as a gateway, or as the client's library)", {"gateway": 2}),
        ("gateway-words", r"\byour gateway\b|\b(?:LLM|AI|LiteLLM|model) gateway\b|configured on (?:your|the) gateway|"
         r"gateway (?:couldn.t|could not|cannot|can.t) serve",
         "the LLM gateway in the path answered or is named", {"gateway": 4}),
        # Any gateway's words for its own hop to the provider (LiteLLM, one-api/new-api, Kong, claude-code-hub, *2api):
        # "upstream" is the provider as the gateway sees it.
        ("gateway-upstream", r"\bupstream (?:error|call failed|request failed)\b|sending to upstream|连接上游|上游 ?(?:api ?)?(?:错误|失败|异常)|"
         r"connecting to upstream|\brelay error|\bchannel error|all providers failed|no available channels?\b|do request failed",
         "an LLM gateway's own call to the provider (its upstream) failed: check the gateway's egress (its proxy, CA, "
         "upstream URL), not the client's", {"gateway": 5}),
        # A base URL that already holds the API path, so the client appends it twice (/v1/v1/…).
        ("gateway-url", r"/v1/v1/|/(?:chat/completions|messages)/(?:v1/)?(?:chat/completions|messages)\b",
         "the API path appears twice (/v1/v1/…): the base URL (ANTHROPIC_BASE_URL, the gateway's upstream URL) already "
         "ends with the path the client appends", {"gateway": 4, "application": 1}),
        ("gateway-product", r"\b(?:one-api|new-api|one-hub|claude-code-router|agentgateway|portkey|ai-proxy|[a-z]{2,20}2api)\b|"
         r"server:? ?\"?kong\b|\bkong (?:ai )?gateway\b",
         "an LLM gateway product is in the path", {"gateway": 3}),
        # The gateway itself dialled the provider's :443: its own egress skipped the proxy.
        ("gateway-direct", r"upstream[^\n]{0,600}?(?:dial tcp [0-9a-f.:\[\]]{3,60}:443\b|connect e(?:timedout|connrefused) "
         r"[0-9a-f.:\[\]]{3,60}:443\b)",
         "the gateway dialled the provider's port 443 itself: its own outbound calls do not use the proxy",
         {"gateway": 4, "bypass": 1}),
        ("gateway-url", r"ANTHROPIC_BASE_URL[^\w\n]{0,4}[=:][^\w\n]{0,4}https?://(?!api\.anthropic\.com)|"
         r"ANTHROPIC_(?:BEDROCK|VERTEX)_BASE_URL|LITELLM_(?:MASTER_KEY|BASE_URL|PROXY_URL)",
         "ANTHROPIC_BASE_URL points at a gateway, not at api.anthropic.com: the gateway's hop is in the path",
         {"gateway": 2}),
        # NO_PROXY for the API endpoint matters only when that endpoint is a gateway (ANTHROPIC_BASE_URL):
        # Claude Code then sends the gateway's traffic to the corporate proxy.
        ("gateway-route", r"\bno_proxy\b[^\n]{0,120}(?:ANTHROPIC_BASE_URL|base[_ ]url|\bAPI requests?\b|(?<!bad )gateway|litellm)|"
         r"(?:ANTHROPIC_BASE_URL|base[_ ]url|\bAPI requests?\b|(?<!bad )gateway|litellm)[^\n]{0,120}\bno_proxy\b",
         "NO_PROXY and the API endpoint: Claude Code sends the gateway's traffic (ANTHROPIC_BASE_URL) to the proxy "
         "instead of straight to the gateway", {"gateway": 5, "bypass": 1}),
    )
