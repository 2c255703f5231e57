"""PERFORMANCE ISSUES (flowchart section: slow responses or frequent timeouts).

Placeholders filled by ``diag_tests/test_performance.py``: ``{split}`` (proxy
connect, CONNECT reply, TLS, first byte), ``{stats}`` (min/median/mean/p95/max),
``{threshold}``, ``{timeouts}``, ``{export_lines}``, ``{yaml}``, ``{headers}``.
"""

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
            "buffering": {"any": (
                "Ask IT to stop buffering text/event-stream responses for {target_host} (for Squid/ICAP/DLP: "
                "exempt the provider from content scanning or response buffering; the answer must be passed on "
                "as it arrives). Until then, long answers arrive at once at the end.")},
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
    },
}
