"""PERFORMANCE ISSUES (flowchart section: slow responses or frequent timeouts)."""

STEPS = {
    "performance.latency": {
        "number": 1,
        "title": "Measure latency",
        "question": "How much time does the proxy add?",
        "check": 'time curl -x "$HTTPS_PROXY" https://api.anthropic.com',
        "findings": {"slow": {"text": "{detail}", "solution": "proxy_slow"}},
        "solutions": {"proxy_slow": {"any": "The proxy is slow: see performance.proxy_health, and contact IT "
                                            "with these timings:\n{timings}"}},
    },
    "performance.proxy_health": {
        "number": 2,
        "title": "Check proxy health",
        "question": "Is the proxy's latency consistently low?",
        "findings": {"slow": {"text": "{detail}", "solution": "contact_it"}},
        "solutions": {"contact_it": {"any": "Contact IT about proxy performance, with these statistics:\n{stats}"}},
    },
    "performance.timeouts": {
        "number": 3,
        "title": "Increase timeouts",
        "question": "Are the clients' timeouts above the measured latency?",
        "findings": {"too_tight": {"text": "{detail}", "solution": "increase"}},
        "solutions": {"increase": {"any": "In the LiteLLM config:\nlitellm_settings:\n  request_timeout: 600\n"
                                          "router_settings:\n  timeout: 300\nFor Claude Code:\n"
                                          "  export API_TIMEOUT_MS=600000"}},
    },
    "performance.rate_limit": {
        "number": 4,
        "title": "Check for rate limiting",
        "question": "Are requests rate limited (429)?",
        "findings": {"limited": {"text": "{detail}", "solution": "remedies"}},
        "solutions": {"remedies": {"any": "Rate limiting detected:\n  - implement request queuing\n"
                                          "  - use multiple API keys (if allowed)\n"
                                          "  - contact IT for higher rate limits\n"
                                          "  - add retry logic with exponential backoff"}},
    },
}
