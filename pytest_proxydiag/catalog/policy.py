"""PROXY POLICY ISSUES (flowchart section: 403 Forbidden or 502 Bad Gateway)."""

STEPS = {
    "policy.domain_allowed": {
        "number": 1,
        "title": "Check domain whitelist",
        "question": "Is the AI provider domain allowed by the proxy?",
        "check": 'curl -x "$HTTPS_PROXY" https://api.anthropic.com/v1/messages',
        "findings": {"blocked": {"text": "{detail}", "solution": "allow"}},
        "solutions": {"allow": {"any": "Request IT to whitelist these domains:\n{domains}"}},
    },
    "policy.url_filtering": {
        "number": 2,
        "title": "Check URL filtering",
        "question": "Does the proxy block AI/LLM-related URLs?",
        "findings": {"category": {"text": "{detail}", "solution": "exemption"}},
        "solutions": {"exemption": {"any": "Request an exemption or policy change from IT for the category "
                                           "{category} (vendor: {vendor})."}},
    },
    "policy.payload_size": {
        "number": 3,
        "title": "Check request size limits",
        "question": "Do large request bodies pass the proxy?",
        "findings": {"limit": {"text": "{detail}", "solution": "raise"}},
        "solutions": {"raise": {"any": "Ask IT to increase the proxy payload limit above {limit}."}},
    },
    "policy.proxy_logs": {
        "number": 4,
        "title": "Check proxy logs",
        "question": "What does the proxy's answer say IT should look for in its logs?",
        "findings": {"logged": {"text": "{detail}", "solution": "ask_it"}},
        "solutions": {"ask_it": {"any": "Request the proxy logs from IT for: {log_query}"}},
    },
}
