"""Triage rows for the gateway hop: Claude Code → LLM gateway (LiteLLM, one-api, …) → proxy → provider.

These rows extend :data:`pytest_proxydiag.triage.rules._TABLE` (same shape, weights and groups).
They read a gateway's own words for its hop to the provider (LiteLLM's key and budget checks and
relayed errors, a relay's empty pool of credentials or channels, any gateway's "upstream", the
Chinese relays' 上游/渠道/中转, "Provider returned error"), gateway products by name, the gateway's
own timeout and its egress that skips the proxy, and the API endpoint's settings
(``ANTHROPIC_BASE_URL`` pointing at a gateway, ``NO_PROXY`` for it, a base URL that repeats or lacks
the API path).

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
        # LiteLLM's own budget and spend limits (per key, user, team or deployment): the gateway refused, not the provider.
        ("gateway-key", r"budget has been exceeded|exceededbudget|budgetexceedederror|budget_exceeded|crossed budget|"
         r"exceeded budget for",
         "the LiteLLM gateway's own budget limit refused the request (a key, user, team or deployment budget), not the "
         "provider", {"gateway": 5}),
        # A relay's pool of upstream credentials or channels is empty: the gateway has nothing to send the request with.
        ("gateway-key", r"\bauth_unavailable\b|\bno (?:usable )?(?:auth|credentials?|accounts?|api keys?|tokens?|channels?) "
         r"(?:is |are )?available\b|(?:无|没有)可用(?:的)?(?:渠道|账号|密钥|令牌)",
         "the gateway has no usable upstream credential or channel for this model (its own pool), so it answered itself",
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
        ("gateway-words", r"\byour gateway\b|\b(?:LLM|AI|LiteLLM|model|inference) gateway\b|configured on (?:your|the) gateway|"
         r"gateway (?:couldn.t|could not|cannot|can.t) serve",
         "the LLM gateway in the path answered or is named", {"gateway": 4}),
        ("gateway-words", r"(?<!bad )\bgateway (?:level|side|logs?)\b", "a gateway in the path is mentioned",
         {"gateway": 2}),
        # Any gateway's words for its own hop to the provider (LiteLLM, one-api/new-api, Kong, claude-code-hub, *2api):
        # "upstream" is the provider as the gateway sees it.
        ("gateway-upstream", r"\bupstream (?:error|call failed|request failed)\b|sending to upstream|连接上游|"
         r"上游[^\n]{0,8}?(?:错误|失败|异常|超时|掐断|断开)|请求转发失败|\bupstream (?:provider|channel|model)\b|"
         r"connecting to upstream|\brelay error|\bchannel error|all providers failed|no available channels?\b|do request failed",
         "an LLM gateway's own call to the provider (its upstream) failed: check the gateway's egress (its proxy, CA, "
         "upstream URL), not the client's", {"gateway": 5}),
        # A base URL that already holds the API path, so the client appends it twice (/v1/v1/…).
        ("gateway-url", r"/v1/v1/|/(?:chat/completions|messages)/(?:v1/)?(?:chat/completions|messages)\b",
         "the API path appears twice (/v1/v1/…): the base URL (ANTHROPIC_BASE_URL, the gateway's upstream URL) already "
         "ends with the path the client appends", {"gateway": 4, "application": 1}),
        # Product names end at any non-name character (Chinese text has no space after them).
        ("gateway-product", r"(?<![a-z0-9])(?:one-api|new-?api|one-hub|veloera|claude-code-router|claude-relay-service|"
         r"cc-switch|cliproxyapi|agentgateway|portkey|helicone|bifrost|openrouter|ai-proxy|[a-z]{2,20}2api)(?![a-z0-9])|"
         r"server:? ?\"?kong\b|\bkong (?:ai )?gateway\b|\bapim\b|\bapi management\b|cloudflare (?:ai gateway|workers?)\b|"
         r"\bapi gateway\b|\bccr (?:code|start|restart|ui|status)\b",
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
        # Chinese relays (one-api, new-api, …) call the provider an "upstream" (上游) reached over a "channel" (渠道).
        ("gateway-relay-words", r"上游|渠道|中转|api ?代理|\brelay\b",
         "a relay's words (relay, 上游 upstream, 渠道 channel, 中转 relay): an LLM gateway sits between the client and the "
         "provider", {"gateway": 2}),
        # A relay wraps the provider's own error in its words (OpenRouter and the gateways shaped like it).
        ("gateway-provider", r"provider returned error|error from provider",
         "an LLM relay reports an error of the provider behind it: the gateway's hop to the provider is in the path",
         {"gateway": 3}),
        # A relay reporting that its provider timed out: the timeout is the relay's own (its read timeout setting).
        ("gateway-provider", r"\bprovider (?:request )?(?:timed out|timeout)\b",
         "an LLM relay says its provider timed out: the relay's own read timeout for the provider ran out (raise it in "
         "the relay)", {"gateway": 4}),
        # An HTTP error whose JSON message is a client library's network error ("fetch failed", "connect ECONNREFUSED"):
        # a server (a gateway) failed to fetch from its own upstream and relayed the failure.
        ("gateway-wrapped-page", r"\b5\d\d \{\"error\": ?\{\"message\": ?\"(?:fetch failed|request to |connect e[a-z]{4,12}|"
         r"getaddrinfo|socket hang up|read econnreset|e(?:connrefused|connreset|timedout|notfound)\b)",
         "an HTTP error carrying a client's network error: the gateway answered, and its own request to the provider "
         "(its egress: proxy, DNS, CA) failed", {"gateway": 4}),
        # An HTML error page inside a JSON error: a gateway relayed its upstream's failure (the upstream is down, or a
        # web server in front of it answered).
        ("gateway-wrapped-page", r"\\u003c(?:html|title|head)|\"error\": ?\"<html|html response received",
         "a gateway relayed an HTML error page from its upstream inside its JSON error: the gateway's upstream (or a "
         "web server in front of it) failed", {"gateway": 2, "connectivity": 1.5}),
        # Claude Code's API error carrying a Cloudflare page titled with a host that is not the provider's API: the
        # base URL points at a relay behind Cloudflare.
        ("gateway-url", r"api error[^\n]{0,400}?<title>(?!api\.anthropic\.com|api\.openai\.com)[\w.-]{3,100} \| \d{3}:",
         "the error page names a host that is not the provider's API: the base URL points at a relay (a gateway) "
         "behind Cloudflare", {"gateway": 3}),
        # The gateway's own time limit: its configured or hard-coded timeout cut the provider's answer.
        ("gateway-timeout", r"before the (?:proxy|gateway|relay)(?:'s)? timeout|hard-?coded[^\n]{0,30}?time-?out|"
         r"硬编码[^\n]{0,12}?超时|(?:relay|gateway|proxy)_?(?:request_?)?timeout[^\n]{0,40}?(?:无效|not (?:work|appl|honou?r))|"
         r"timeout[^\n]{0,12}?(?:两个)?变量[^\n]{0,6}?无效",
         "the gateway's own timeout cut the answer (its setting or a hard-coded limit): raise it in the gateway",
         {"gateway": 5, "performance": 2}),
        # The gateway's egress does not use the proxy (or cannot): it reaches the provider directly.
        ("gateway-egress", r"(?:litellm|(?:llm|ai|api|model) gateway|claude-code-router|relay|new-?api|one-api|one-hub)"
         r"[^\n]{0,40}?\b(?:respects?|honou?rs?|picks? up|reads?|(?:to|not|n.t|never|cannot|can.t) (?:use|go through))\b[^\n]{0,30}?(?:https?_proxy|all_proxy|"
         r"proxy env|(?:an? |the |my |our )?(?:http |https |socks5? |outbound |corporate |upstream |egress )?"
         r"(?:or socks5? )?prox(?:y|ies)\b)",
         "the gateway's own outbound calls to the provider do not use the proxy: set the proxy for the gateway's "
         "process (HTTPS_PROXY, or its own proxy setting), not only for the client", {"gateway": 4, "bypass": 3}),
        # A 404 at an API URL that holds /v1, a base URL and a 404 together, or a route the server does not know: the
        # base URL's path does not match the routes the gateway serves.
        ("gateway-url", r"https?://(?!api\.anthropic\.com|api\.openai\.com)[^\s]{1,200}?/v1\b[^\n]{0,120}?(?<![\w.:/#-])404\b|"
         r"(?:base[_ ]?url|api_base)[^\n]{0,200}?(?<![\w.:/#-])404\b|\broute [^\s]{1,100} not found",
         "the API endpoint's path is wrong for the gateway (a missing or extra /v1 in the base URL, a route it does not "
         "serve)", {"gateway": 4, "application": 1}),
        # ---- batch 14
        # A "proxy" that serves an API path of its own (/v1/messages) is an LLM gateway, not the corporate forward proxy.
        ("gateway-words", r"\b(?:proxy|gateway|relay|router)(?:'s|’s)? [`'\"]?/v1/(?:messages|chat/completions|responses|"
         r"completions|embeddings|models)\b",
         "a proxy serving the API's own path (/v1/messages): an LLM gateway (LiteLLM's proxy) is in the path",
         {"gateway": 4}),
        # A "proxy" producing the SSE response itself (while the model thinks) is an LLM gateway.
        ("gateway-words", r"\bproxy(?:'s|’s)? (?:sse|streaming|event-stream) response\b",
         "a proxy producing the streamed (SSE) response itself: an LLM gateway (LiteLLM's proxy) is in the path",
         {"gateway": 4}),
        # A load balancer or other hop in front of the gateway (between the client and it): the gateway's front hop.
        ("gateway-front", r"\b(?:hops?|load balancers?|alb|elb|ingress|reverse prox(?:y|ies)|cdn)\b (?:between the client "
         r"and|in front of) (?:the |your |an? )?(?:llm |ai )?(?:proxy|gateway|litellm)\b",
         "a hop in front of the gateway (a load balancer, an ingress) between the client and it: the gateway's own "
         "front, whose idle or read timeouts cut its streams", {"gateway": 4}),
        # The gateway's call to its upstream timed out after a fixed time: its own limit.
        ("gateway-timeout", r"\bupstream [\w ]{0,30}?timed out[^\n]{0,20}?after \d|\brequest to [\w.-]{1,60} timed out after \d",
         "the gateway's own call to its upstream timed out after a fixed time: the gateway's limit (raise it there)",
         {"gateway": 5}),
        # nginx in front of a gateway or relay got a malformed answer from it: the service behind nginx broke.
        ("gateway-front", r"upstream sent [^\n]{0,80}?while reading response header from upstream",
         "nginx (in front of a gateway or relay) got a malformed answer from the service behind it: the gateway's own "
         "response broke", {"gateway": 4, "policy": -1}),
        # The model list loads through the gateway, the calls fail with a 5xx: the call's path (base URL, /v1) is wrong.
        ("gateway-url", r"(?:正常|成功)(?:地)?(?:获取|拉取|加载)到?模型[^\n]{0,200}?(?<![\w.:/#-])5\d\d\b|"
         r"\bmodels? (?:list )?(?:loads?|works?|is fine|are listed)\b[^\n]{0,200}?(?<![\w.:/#-])5\d\d\b",
         "the model list loads through the gateway and the calls fail with a 5xx: the calls' path (a base URL with or "
         "without /v1) is wrong for the gateway", {"gateway": 4, "policy": -2}),
        # A 5xx with no body reached the SDK: a gateway or relay (or proxy) answered, the provider's errors carry JSON.
        ("gateway-nobody", r"(?<![\w.:/#-])50[234] status code \(no body\)",
         "a 5xx with no body: a local gateway or relay (or a proxy) answered, not the provider, whose errors carry a "
         "JSON body", {"gateway": 2.5, "policy": -1}),
        # A TUN or global-mode proxy client (Clash, v2rayN) captures all traffic, a local relay's included.
        ("tun-mode", r"(?<![a-z0-9])(?:clash|v2rayn?|shadowrocket|surge|quantumult)(?![a-z0-9])[^\n]{0,40}?"
         r"(?:(?<![a-z0-9])tun(?![a-z0-9])|global|全局)|(?<![a-z0-9])tun ?(?:mode|模式)|全局(?:模式|代理)",
         "a TUN or global-mode proxy client (Clash, v2rayN) sends all traffic, local relays and localhost included, to "
         "the proxy: exempt them (rule mode, a DIRECT rule for 127.0.0.1)", {"bypass": 3}),
        # The gateway's process does not inherit the system proxy: it needs its own proxy setting.
        ("gateway-egress", r"(?:litellm|cliproxyapi|one-api|new-?api|claude-code-router|relay|gateway|中转|网关)[^\n]{0,40}?"
         r"(?:不会|不能|无法|没有)(?:自动)?(?:继承|读取|使用|走)[^\n]{0,12}?系统代理",
         "the gateway's process does not take the system proxy: set the proxy in the gateway's own setting",
         {"gateway": 4, "application": 3.5}),
        # A proxy or gateway saying its upstream is slow to answer (not failing to connect).
        ("proxy-timeout", r"upstream (?:server |service )?(?:is )?tim(?:ed|ing) ?out|\bupstream (?:request )?timeout\b",
         "the gateway or proxy in front gave up waiting for its upstream's answer (its read timeout)",
         {"performance": 3, "gateway": 2}),
    )
