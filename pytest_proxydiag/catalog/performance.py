"""PERFORMANCE ISSUES (flowchart section: slow responses or frequent timeouts).

Placeholders filled by ``diag_tests/test_performance.py``: ``{split}`` (proxy
connect, CONNECT reply, TLS, first byte), ``{stats}`` (min/median/mean/p95/max),
``{threshold}``, ``{timeouts}``, ``{export_lines}``, ``{yaml}``, ``{headers}``.
"""

from pytest_proxydiag.catalog.products import IDLE_TIMEOUT_SETTINGS

STEPS = {
    "performance.latency": {
        "number": 1,
        "title": "Measure latency",
        "question": "How much time does the proxy add?",
        "check": 'time curl https://api.anthropic.com; time curl -x "$HTTPS_PROXY" https://api.anthropic.com',
        "findings": {
            "slow": {
                "text": "The proxy adds {added} to a request to {target} (threshold {threshold}): through the proxy "
                        "{split}; direct {direct}.",
                "solution": "proxy_slow",
            },
            "slow_total": {
                "text": "A request to {target} through the proxy took {total} (threshold {threshold}): {split}. "
                        "The slowest phase is {slowest}: {where}",
                "solution": "slow_path",
            },
            # The tunnel and TLS worked, then the connection ended before any answer (an idle/read timeout).
            "cut": {
                "text": "A request to {target} through the proxy got no answer: the tunnel opened and TLS worked, "
                        "then the connection was {how} after {seconds} ({split}), before the provider's first "
                        "byte. The proxy (or a device behind it) cuts a connection that waits this long for the "
                        "provider: an idle or read timeout shorter than the time the provider takes to answer. A "
                        "model's answer can take many seconds to start and minutes to finish.",
                "solution": "idle_timeout",
            },
            # Closed at once after the request (performance.DROP_SECONDS), with policy.url_filtering not in the run.
            "dropped": {"text": "GET {url} through the proxy got no answer: the proxy closed the connection {seconds} "
                                "after the request. That is no timeout (those take a second at the least): a rule "
                                "drops the request.", "solution": "dropped"},
            "buffered": {
                "text": "The proxy buffers streamed answers: the origin sent {events} events {interval} apart, and "
                        "they arrived all together after {first_event} (gaps {gaps}). Claude Code then looks hung "
                        "and may hit 'Stream idle timeout'.",
                "solution": "buffering",
            },
        },
        "solutions": {
            "proxy_slow": {"any": (
                "The proxy is slow. Check its health (performance.proxy_health) and send IT these timings:\n"
                "  through the proxy: {split}\n  direct: {direct}\n"
                "Meanwhile raise the client timeouts (performance.timeouts).")},
            "slow_path": {"any": (
                "{advice}\nTimings for IT (like curl -w / httpstat):\n  {split}\n"
                "Measure yourself:\n"
                "  curl -x \"$HTTPS_PROXY\" -o /dev/null -s -w 'connect %{{time_connect}} tls %{{time_appconnect}} "
                "first byte %{{time_starttransfer}} total %{{time_total}}\\n' {target_url}\n"
                "Meanwhile raise the client timeouts (performance.timeouts).")},
            "idle_timeout": {"any": (
                "Ask IT to raise the proxy's idle/read timeout for {target_host} to at least 10 minutes: the "
                "connection is cut after {seconds} without data (" + IDLE_TIMEOUT_SETTINGS + "). Raising the client's own timeouts cannot help: "
                "the proxy closes first.\nRetest: curl -v -x \"$HTTPS_PROXY\" {target_url}   (it should wait "
                "for the answer instead of ending with 'Empty reply from server')")},
            "dropped": {"any": (
                "Ask IT which rule drops requests to {target_host} (mitmproxy: block_list with status 444; Squid: "
                "deny_info TCP_RESET after ssl_bump; an IPS). Raising timeouts will not help. pytest --proxydiag -m "
                "policy gives the ticket with the time and request for their logs.")},
            "buffering": {"any": (
                "Ask IT to stop buffering text/event-stream responses for {target_host} (for Squid/ICAP/DLP: "
                "exempt the provider from content scanning or response buffering; mitmproxy, which buffers every "
                "intercepted body by default: --set stream_large_bodies=1 (measured: 1k still holds back the first "
                "events); nginx: proxy_buffering off; the answer must be passed on as it arrives). Until then, "
                "long answers arrive at once at the end.")},
        },
        "notes": {
            "measured": "through the proxy: {split}{direct}{stream}",
            "direct_total": "; direct {total}",
            "stream_spaced": "; streaming: first event after {first_event}, events {interval} apart as sent",
            "not_through": "GET {url} through the proxy: {detail}",
            "dropped": "GET {url} through the proxy: closed {seconds} after the request, no answer: a rule dropped it, "
                       "not a timeout",
            "how_closed": "closed",
            "how_reset": "reset",
            "no_stream_endpoint": "the target has no test stream endpoint ({status}, {content_type}): streaming "
                                  "not measured",
            "events_missing": "only {arrived} of {expected} events arrived in time",
            # {where} of slow_total: what the slowest phase means.
            "where_proxy_connect": "reaching the proxy itself is slow (the network to the proxy, or an overloaded "
                                   "proxy).",
            "where_connect": "the TCP connection is slow.",
            "where_connect_reply": "the proxy takes long to open the tunnel: its authentication, its DNS lookup or "
                                   "its own connection to the provider.",
            "where_tls": "the TLS handshake through the tunnel is slow (an intercepting proxy minting "
                         "certificates, or the provider).",
            "where_first_byte": "the time passes after the tunnel to the provider was open: the provider's answer, "
                                "or an inspecting proxy holding it back. The proxy's own part (connect and CONNECT "
                                "reply) is small.",
            # {advice} of slow_total.
            "advice_first_byte": "The time is spent waiting for the answer, not in the proxy's connection handling. "
                                 "Compare from a network without the proxy: if it is as slow there, the provider is "
                                 "slow (check its status page); if not, ask IT whether the proxy inspects or holds "
                                 "back responses for {target_host}.",
            "advice_other": "The proxy is slow at this phase: send IT the timings below and check "
                            "performance.proxy_health.",
        },
    },
    "performance.proxy_health": {
        "number": 2,
        "title": "Check proxy health",
        "question": "Is the proxy's latency consistently low?",
        "check": 'for i in {1..10}; do time curl -x "$HTTPS_PROXY" https://api.anthropic.com -o /dev/null -s; done',
        "findings": {
            "slow": {
                "text": "The proxy answers slowly: mean {mean} over {count} CONNECTs to {target} (threshold "
                        "{threshold}); {stats}.",
                "solution": "contact_it",
            },
            "failures": {
                "text": "{failed} of {requested} CONNECTs to {target} through the proxy failed ({examples}); the "
                        "others: {stats}.",
                "solution": "contact_it",
            },
        },
        "solutions": {
            "contact_it": {"any": (
                "Contact IT about the proxy's performance, with these numbers:\n"
                "  proxy {proxy_hostport}, target {target}, measured {when}\n  {stats}\n"
                "  failures: {failures}\n"
                "Each sample is one CONNECT round trip (the proxy's own work, without the provider's answer time).")},
        },
        "notes": {
            "healthy": "{stats} (threshold {threshold} mean)",
            "budget_used": "stopped after {done} samples: the {budget}s sampling budget was used",
            "stopped": "stopped: {detail}",
        },
    },
    "performance.timeouts": {
        "number": 3,
        "title": "Increase timeouts",
        "question": "Are the clients' timeouts above the measured latency?",
        "findings": {
            "too_tight": {
                "text": "Timeouts too tight for the measured latency ({measured} to the first byte through the "
                        "proxy): {detail}",
                "solution": "increase",
            },
            "unreadable": {"text": "{detail}", "solution": "increase"},
        },
        "solutions": {
            "increase": {"any": (
                "Raise the timeouts (a long answer needs minutes; the flowchart's values):\n"
                "For Claude Code, in {profile}:\n{export_lines}\n"
                "In the LiteLLM config{litellm_path}:\n{yaml}\n"
                "In Python code: anthropic.Anthropic(timeout=600), httpx.Client(timeout=600), "
                "requests.post(..., timeout=600).\n"
                "Note: ANTHROPIC_TIMEOUT is read by neither Claude Code nor the SDKs; API_TIMEOUT_MS is.")},
        },
        "notes": {
            "healthy": "{shown}; latency through the proxy {measured}",
            "defaults_only": "defaults only",
            "not_measured": "not measured (performance.latency could not time it)",
            "below_latency": "{line}: below the measured latency, every request fails",
            "no_time_left": "{line}: leaves {left} for the model's answer after the path's {path} (at least "
                            "{needed} needed)",
            "not_a_number": "API_TIMEOUT_MS={raw!r} ({source}) is not a number of milliseconds",
            "anthropic_timeout_unread": "neither Claude Code nor the Anthropic SDKs read this variable; Claude Code "
                                        "reads API_TIMEOUT_MS (milliseconds), the SDK takes timeout= in code",
            "sdk_in_code": "set in code: Anthropic(timeout=...)",
            "requests_no_limit": "no limit unless the program passes timeout=",
            "httpx_default": "5 s per operation unless the program sets it",
            "litellm_path": " ({path})",
            "litellm_yaml": ("  litellm_settings:\n    request_timeout: 600   # 10 minutes\n"
                             "  router_settings:\n    timeout: 300           # 5 minutes per provider attempt"),
        },
    },
    "performance.rate_limit": {
        "number": 4,
        "title": "Check for rate limiting",
        "question": "Are requests rate limited (429)?",
        "check": 'claude /status 2>&1 | grep -i "429\\|rate limit"',
        "findings": {
            "limited": {
                "text": "Rate limited by the provider: {detail}",
                "solution": "remedies",
            },
            "limited_proxy": {
                "text": "Rate limited by the proxy, not the provider: {detail}",
                "solution": "proxy_remedies",
            },
        },
        "solutions": {
            "remedies": {"any": (
                "The provider limits this key/organisation{retry}:\n"
                "  - implement request queuing\n"
                "  - use multiple API keys (if allowed)\n"
                "  - contact IT (or the provider account owner) for higher rate limits\n"
                "  - add retry logic with exponential backoff, honouring retry-after\n"
                "Claude Code already retries; raise CLAUDE_CODE_MAX_RETRIES only with backoff in mind.")},
            "proxy_remedies": {"any": (
                "The corporate proxy throttles these requests{retry}. Contact IT: ask for a higher limit for "
                "{target_host} (show them: {headers}). Meanwhile:\n"
                "  - implement request queuing\n"
                "  - add retry logic with exponential backoff, honouring retry-after")},
        },
        "notes": {
            "no_429": "no 429 in {count} probes{headers}",
            "headers_seen": "; rate-limit headers seen: {line}",
            "retry": " (retry-after: {seconds} s)",
            "no_traffic": "no proxy is configured and no probe reached a provider",
            "nothing_reached": "no request reached the proxy or a provider",
            # How the sender of a 429 or a rate-limit header was told (the finding's {detail}).
            "why_connect": "it answered the CONNECT request itself",
            "why_squid": "X-Squid-Error: {value}",
            "why_provider_header": "the answer carries the provider's {header} header",
            "why_server": "Server: {value}",
            "why_tunnel": "it came through the TLS tunnel, which only the provider can answer in",
            "why_no_marker": "no proxy error marker on the answer",
        },
    },
}
