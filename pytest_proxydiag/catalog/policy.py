"""PROXY POLICY ISSUES (flowchart section: 403 Forbidden or 502 Bad Gateway).

Values the steps fill in:

* domain_allowed — ``blocked`` (host:port list with the proxy's answer each),
  ``domains`` (the copy-paste block), ``wildcards``, ``vendor_note``, ``when``;
* url_filtering — ``vendor``, ``category``, ``status``, ``stage_text``, ``signals``,
  ``request``, ``log_query``;
* payload_size — ``bracket``, ``limit``, ``largest``, ``failed``, ``failure``, ``who``;
* proxy_logs — ``status``, ``code``, ``meaning``, ``log_query``, ``retry_after``.
"""

_TICKET_HEAD = ("Request IT to whitelist these domains for HTTPS (CONNECT) through the proxy {proxy_hostport}.\n"
                "Copy this into the ticket:\n\n"
                "  ----------------------------------------------------------------\n"
                "  Please allow outbound HTTPS through the web proxy to:\n"
                "{domains}\n"
                "  Needed for: AI coding assistant (Claude Code) and its API clients.\n"
                "  Currently refused: {blocked}\n"
                "  Observed at {when} (UTC) from {client}.\n"
                "  ----------------------------------------------------------------\n\n"
                "If your policy allows by pattern, these cover the provider families in use:\n"
                "{wildcards}\n\n"
                "Retest: curl -x \"$HTTPS_PROXY\" {target_url}/v1/messages   (a 401 from the provider means "
                "the domain is allowed)")

STEPS = {
    "policy.domain_allowed": {
        "number": 1,
        "title": "Check domain whitelist",
        "question": "Is the AI provider domain allowed by the proxy?",
        "check": 'curl -x "$HTTPS_PROXY" https://api.anthropic.com/v1/messages',
        "findings": {
            "blocked": {"text": "The proxy {proxy_hostport} refuses {count} provider domain(s): {blocked}.{vendor_note}",
                        "solution": "allow"},
            "block_page": {"text": "The proxy {proxy_hostport} answers a block page instead of connecting to "
                                   "{blocked}.{vendor_note}", "solution": "allow"},
            # No answer at all for one domain, while a control CONNECT to another provider name worked.
            "reset": {"text": "The proxy {proxy_hostport} {how} the connection, without an answer, when asked to "
                              "CONNECT {blocked}, while a control CONNECT to {control} through the same proxy "
                              "opened a tunnel: a rule refuses that domain silently (e.g. Squid's deny_info "
                              "TCP_RESET, or a firewall/IPS rule).", "solution": "allow"},
        },
        "solutions": {"allow": {"any": _TICKET_HEAD}},
    },
    "policy.url_filtering": {
        "number": 2,
        "title": "Check URL filtering",
        "question": "Does the proxy block AI/LLM-related URLs?",
        "check": "curl -v -x \"$HTTPS_PROXY\" https://api.anthropic.com/v1/messages   # look for a block page",
        "findings": {
            "category": {"text": "{request} was blocked by {vendor} URL filtering, category \"{category}\" "
                                 "({status}, {stage_text}). Evidence: {signals}.",
                         "solution": "exemption"},
            "block_page": {"text": "{request} was answered with a block page by {vendor} ({status}, {stage_text}); "
                                   "the page names no category. Evidence: {signals}.",
                           "solution": "exemption"},
            "dlp": {"text": "{request} was blocked by a data-loss-prevention (DLP) rule of {vendor} ({status}, "
                            "{stage_text}). Evidence: {signals}.", "solution": "dlp"},
            "content_type": {"text": "{request} was blocked by a content-type rule of {vendor} ({status}, "
                                     "{stage_text}): JSON request bodies are not allowed. Evidence: {signals}.",
                             "solution": "content_type"},
        },
        "solutions": {
            "exemption": {"any": (
                "Request an exemption or policy change from IT. Common proxy categories that block AI: "
                "\"Artificial Intelligence\", \"ChatGPT/LLM Services\", \"Generative AI\", "
                "\"High Bandwidth Applications\".\n"
                "Ask for: an allow rule for {target_host} (and the other provider domains in use) that takes "
                "precedence over the \"{category}\" category block in {vendor}, for your user or group.\n"
                "Give IT this to find the entry in their logs:\n{log_query}\n"
                "If the category looks wrong, the vendor's site-review service can re-categorise the domain, "
                "but an exemption is faster.")},
            "dlp": {"any": (
                "Ask IT which DLP rule matched and request an exception for the AI provider's API for your "
                "user or group. Do not try to evade the rule (encoding or splitting the content): DLP exists "
                "to stop exactly that. If the rule matched an API key in the body, make sure keys are sent "
                "only in the x-api-key header, never pasted into prompts.\n"
                "For IT:\n{log_query}")},
            "content_type": {"any": (
                "Ask IT to allow Content-Type application/json (and text/event-stream for streaming "
                "answers) to {target_host}.\nFor IT:\n{log_query}")},
        },
    },
    "policy.payload_size": {
        "number": 3,
        "title": "Check request size limits",
        "question": "Do large request bodies pass the proxy?",
        "check": ("curl -x \"$HTTPS_PROXY\" https://api.anthropic.com/v1/messages -H \"content-type: "
                  "application/json\" -H \"anthropic-version: 2023-06-01\" --data-binary @big.json"),
        "findings": {
            "limit": {"text": "Uploads to {target} through the proxy {bracket} ({who}). The proxy's body limit "
                              "is between {largest} and {failed}.", "solution": "raise"},
            "reset": {"text": "Uploads to {target} through the proxy {bracket}: the connection was cut while the "
                              "body was sent, with no error page. The limit is between {largest} and {failed}.",
                      "solution": "raise"},
        },
        "solutions": {"raise": {"any": (
            "Ask IT to increase the proxy's request-body limit for {target_host} to at least 32 MiB (the "
            "provider's own limit for a Messages request), or at least above {failed} (measured: {bracket}). "
            "On Squid this is request_body_max_size; on other products the upload size or "
            "\"large file\" limit of the web policy.\n"
            "Until then, keep requests under {largest}: fewer or smaller files and images in the context, "
            "shorter conversations (/compact in Claude Code), smaller tool outputs.\n"
            "Streaming does not help here: it only streams the answer, the request body is still sent in "
            "one piece.\n"
            "For IT:\n{log_query}")}},
    },
    "policy.proxy_logs": {
        "number": 4,
        "title": "Check proxy logs",
        "question": "What does the proxy's answer say IT should look for in its logs?",
        "check": "# Request proxy logs from IT: policy violations, rate limiting, quota, DLP",
        "findings": {
            "upstream": {"text": "The proxy answered {status}{code}: {meaning}. This is not a policy refusal "
                                 "(that would be 403): the proxy accepted the request but could not reach "
                                 "{target_host} or got no answer in time.", "solution": "upstream"},
            "denied": {"text": "The proxy answered {status}{code}: {meaning}.", "solution": "denied"},
            "rate_limited": {"text": "The proxy throttles this client: {status}{code}, Retry-After: "
                                     "{retry_after}.", "solution": "rate"},
            "too_large": {"text": "The proxy refused a request as too large: {status}{code}.",
                          "solution": "denied"},
            "dlp": {"text": "A DLP rule of the proxy blocked a request: {status}{code}: {meaning}.",
                    "solution": "denied"},
            "content_type": {"text": "A content-type rule of the proxy blocked a request: {status}{code}.",
                             "solution": "denied"},
            "other": {"text": "The proxy answered {status}{code}: {meaning}.", "solution": "denied"},
        },
        "solutions": {
            "upstream": {"any": (
                "The proxy could not reach the provider. Ask IT to check the proxy's route to {target_host}: "
                "DNS on the proxy, its firewall or parent proxy, and the provider's status page.\n"
                "Give IT this to find the entry:\n{log_query}\n"
                "Meaning of the proxy's codes: ERR_CONNECT_FAIL = connection to the provider refused or timed "
                "out; ERR_DNS_FAIL / ERR_CANNOT_FORWARD = the proxy cannot resolve or route the name; "
                "ERR_READ_TIMEOUT = the provider did not answer in time; ERR_SECURE_CONNECT_FAIL = the proxy's "
                "own TLS to the provider failed.")},
            "denied": {"any": (
                "Request the proxy logs from IT for this request and ask which rule matched:\n{log_query}\n"
                "Common entries: \"Content-Type application/json blocked\" -> request a JSON exception; "
                "\"DLP violation\" -> request a DLP exception for the provider; policy or category denials -> "
                "request an allow rule for the provider domains.")},
            "rate": {"any": (
                "Ask IT for a higher request rate or quota for {target_host} at the proxy, or spread the load "
                "(fewer parallel sessions, retries with back-off that honour Retry-After).\n"
                "For IT:\n{log_query}")},
        },
    },
}
