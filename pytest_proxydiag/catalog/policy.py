"""PROXY POLICY ISSUES (flowchart section: 403 Forbidden or 502 Bad Gateway).

Values the steps fill in:

* domain_allowed — ``blocked`` (host:port list with the proxy's answer each),
  ``domains`` (the copy-paste block), ``wildcards``, ``vendor_note``, ``when``;
* url_filtering — ``vendor``, ``category``, ``status``, ``stage_text``, ``signals``,
  ``request``, ``log_query``;
* payload_size — ``bracket``, ``limit``, ``largest``, ``failed``, ``failure``, ``who``;
* proxy_logs — ``status``, ``code``, ``meaning``, ``log_query``, ``retry_after``.
"""

from pytest_proxydiag.catalog.products import IDLE_TIMEOUT_SETTINGS


def _ticket(head: str, ask: str) -> str:
    """The allow-list ticket: *head* (what to ask IT) and *ask* (the ticket's first line), then the domains."""
    return (head + "\nCopy this into the ticket:\n\n"
            "  ----------------------------------------------------------------\n"
            f"  {ask}\n"
            "{domains}\n"
            "  Needed for: AI coding assistant (Claude Code) and its API clients.\n"
            "  Currently refused: {blocked}\n"
            "  Observed at {when} (UTC) from {client}.\n"
            "  ----------------------------------------------------------------\n\n"
            "If your policy allows by pattern, these cover the provider families in use:\n"
            "{wildcards}\n\n"
            "Retest: {retest}")


_TICKET_HEAD = _ticket("Request IT to whitelist these domains for HTTPS (CONNECT) through the proxy {proxy_hostport}.",
                       "Please allow outbound HTTPS through the web proxy to:")

#: Where a SOCKS5 server logs why it refused (its two-byte reply names no product).
SOCKS_LOGS = ("the SOCKS server's own log (Dante: the logoutput file of danted.conf, with 'log: connect error' in "
              "its rules)")

_SOCKS_TICKET = _ticket("Request IT to allow these destinations in the SOCKS server's rules for this machine "
                        "({proxy_hostport}; Dante: a 'socks pass' rule for them before any 'socks block' that "
                        "matches).", "Please allow outbound connections through the SOCKS5 proxy {proxy_hostport} to:")

#: A policy step's own verdict on the way to the provider, when the step that owns it is not in this run
#: (``-k url_filtering``): ``branches/policy_reach.py``.  Shared by the four policy steps.
_OWN_PATH_FINDINGS = {
    "own_refused": {"text": "The proxy {proxy_hostport} refuses the provider domain: {request} was answered "
                            "{said}. This step's own CONNECT found it (the step that lists every refused domain, "
                            "policy.domain_allowed, is not in this run).", "solution": "allow"},
    "own_refused_socks": {"text": "The SOCKS5 proxy {proxy_hostport} refuses the provider domain: {request} was "
                                  "answered {said}. This step's own CONNECT found it (the step that lists every "
                                  "refused domain, policy.domain_allowed, is not in this run).",
                          "solution": "allow_socks"},
    "tls_refused": {"text": "The proxy {proxy_hostport} accepts CONNECT {blocked} ({status}), then {how} "
                            "the TLS handshake before any certificate comes, while the same handshake with "
                            "{control} through the same proxy completes: a rule that reads the server name "
                            "in the handshake (SNI) refuses this domain (e.g. Squid's 'ssl_bump terminate', "
                            "a firewall's SNI or URL filter), or the proxy cannot reach it; its log says "
                            "which.", "solution": "allow"},
    "own_reset": {"text": "The proxy {proxy_hostport} {how} the connection, without an answer, when asked to "
                          "CONNECT {blocked}, while a control CONNECT to {control} through the same proxy opened a "
                          "tunnel: a rule refuses that domain silently (e.g. Squid's deny_info TCP_RESET, or a "
                          "firewall/IPS rule).", "solution": "allow"},
    "no_path": {"text": "{request} through the proxy failed: {said}. {meaning} This is not a policy refusal: no "
                        "policy verdict is possible until the proxy opens the tunnel.", "solution": "not_policy"},
}
_OWN_PATH_SOLUTIONS = {
    "allow": {"any": _TICKET_HEAD},
    "allow_socks": {"any": _SOCKS_TICKET},
    "not_policy": {"any": (
        "Fix the way to the proxy first: policy can only be judged through a working tunnel. Run "
        "pytest --proxydiag -m \"connectivity or auth\" for the step that names the exact fix (the proxy's "
        "address, port, scheme or credentials, from {source}).\n"
        "Retest: curl -v -x {proxy_noauth} {target_url}")},
}
_OWN_PATH_NOTES = {
    "path_unreachable": "The proxy cannot be reached at all.",
    "path_every_domain": "A control CONNECT to {control} failed the same way ({detail}): the proxy opens no "
                         "tunnel, for any domain.",
    "path_everything": ("It refuses {reference}, a name every proxy lets through, the same way ({detail}): it "
                        "refuses this machine (or this user) for every destination, or lets only a short list of "
                        "names through; not a rule against the provider."),
    "path_connect_everywhere": ("It refuses CONNECT to {reference} the same way ({detail}), while it forwards a "
                                "plain http:// request to it ({plain}): CONNECT itself is refused (Squid: http_access "
                                "deny CONNECT, SSL_ports or Safe_ports without 443), not the provider's domain."),
    "path_auth": "The proxy wants valid credentials before it opens a tunnel.",
    "path_upstream": "The proxy accepted the CONNECT but could not reach the provider.",
    "path_other": "The proxy did not open the tunnel.",
    "path_connect_not_allowed": ("Its page says CONNECT is not allowed there: a rule on the port or on CONNECT itself "
                                 "(Squid: SSL_ports; Apache httpd: AllowCONNECT, mod_proxy_connect; tinyproxy: "
                                 "ConnectPort), not on the domain."),
    "path_client_denied": ("Its page says it does not serve this machine: its client rules (tinyproxy: Allow; Squid: "
                           "the src ACLs; Apache httpd: Require ip), for every destination, not a domain rule."),
    "path_parent_credentials": ("It passed on its own parent proxy's refusal of the credentials the proxy sends it "
                                "(tinyproxy: the Upstream line): the proxy's configuration, for every destination, "
                                "not a domain rule."),
    "path_auth_backend": ("It failed on its own configuration while checking the credentials (Apache httpd's 500: "
                          "an AuthUserFile it cannot open), for every destination, not a domain rule."),
    "path_parent_down": ("It cannot reach its own parent proxy (tinyproxy: the Upstream line; Privoxy: its forward "
                         "lines): the proxy's forwarding, for every destination, not a domain rule."),
    "path_not_forward_proxy": ("Its page says the port is no forward proxy (mitmproxy: not in regular or upstream "
                               "mode), for every destination, not a domain rule."),
    "how_reset": "resets",
    "how_closed": "closes",
}

#: The ticket's retest command per API the target speaks (``Target.api``); ``{url}`` is the target's check request
#: (``net/policy_probes.retest_command`` fills it from the user's target; ``{{`` is a literal brace).
RETEST = {
    "anthropic": "curl -x \"$HTTPS_PROXY\" {url}   (a 401 from the provider means the domain is allowed)",
    "bedrock": ("curl -sS -o /dev/null -D - -w '%{{http_code}}\\n' -x \"$HTTPS_PROXY\" -X POST {url}   (a 403 whose "
                "headers include x-amzn-ErrorType is AWS refusing the unsigned request: the domain is allowed and "
                "AWS was reached; a 403 without that header is the proxy's refusal)"),
    "vertex": ("curl -sS -o /dev/null -w '%{{http_code}}\\n' -x \"$HTTPS_PROXY\" -X POST {url}   (a 401 from Google, "
               "which wants a login, means the domain is allowed and Vertex AI was reached)"),
}

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
            # A SOCKS5 server's rules refuse the destination: reply 0x02, "connection not allowed by ruleset".
            "socks_denied": {"text": "The SOCKS5 proxy {proxy_hostport} refuses {count} provider domain(s): "
                                     "{blocked}.{vendor_note}", "solution": "allow_socks"},
            # A 403 to host:port while host:443 through the same proxy is not refused: a rule on the port.
            "refused_then_opened": {"text": "The proxy {proxy_hostport} refused CONNECT {blocked} ({first}), and "
                                            "opened it when asked again ({again}): no rule on the name or the port refuses "
                                            "it every time. The proxy refuses some of this machine's connections and "
                                            "not others: a limit on connections or requests (Squid: a maxconn ACL, a "
                                            "quota or session helper through external_acl_type, a rate limit). "
                                            "Claude Code and the SDKs open several connections, so they meet it "
                                            "more often than a single test.", "solution": "connection_limit"},
            "port_refused": {"text": "The proxy {proxy_hostport} refuses CONNECT to {blocked}, but not to {control} "
                                     "({control_answer}): its rule is on port {port}, not on the domain (Squid's "
                                     "'http_access deny CONNECT !SSL_ports', Apache httpd's AllowCONNECT, "
                                     "tinyproxy's ConnectPort, Privoxy's +limit-connect, Dante's 'socks block ... "
                                     "port').{vendor_note}",
                             "solution": "allow_port"},
            # No answer at all for one domain, while a control CONNECT to another provider name worked.
            "reset": {"text": "The proxy {proxy_hostport} {how} the connection, without an answer, when asked to "
                              "CONNECT {blocked}, while a control CONNECT to {control} through the same proxy "
                              "opened a tunnel: a rule refuses that domain silently (e.g. Squid's deny_info "
                              "TCP_RESET, or a firewall/IPS rule).", "solution": "allow"},
        },
        "solutions": {"connection_limit": {"any": (
                          "Ask IT which rule refuses some of this machine's CONNECTs (its access log shows TCP_DENIED "
                          "lines for {blocked} between TCP_TUNNEL ones) and to raise that limit for this machine or "
                          "the provider's names (Squid: the maxconn ACL or the external_acl_type helper in the "
                          "http_access line that refuses). Whitelisting the domain will not help: it is allowed. "
                          "Evidence:\n{evidence}")},
                      "allow": {"any": _TICKET_HEAD}, "allow_socks": {"any": _SOCKS_TICKET},
                      "allow_port": {"any": (
                          "Ask IT to allow CONNECT to port {port} through the proxy {proxy_hostport} (Squid: add "
                          "'acl SSL_ports port {port}'; Apache httpd: add {port} to AllowCONNECT; tinyproxy: "
                          "'ConnectPort {port}'; Privoxy: {port} in its +limit-connect action, e.g. "
                          "{{+limit-connect{{443,{port}}}}}; Dante: a 'socks pass' rule for port {port} before the 'socks "
                          "block'). Whitelisting the domain will not help: it is already allowed on "
                          "port 443. Or use the service on port 443 if it offers one.\n"
                          "Retest: curl -v -x \"$HTTPS_PROXY\" https://{blocked}/")}},
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
            # Closed at once after the request, inside TLS, no answer: a rule that drops (performance.DROP_SECONDS).
            "dropped": {"text": "{request} got no answer: the tunnel opened and TLS worked, then the proxy {how} the "
                                "connection {seconds} after the request, before the provider could answer. A "
                                "timeout takes longer: a rule drops the request without a block page.",
                        "solution": "dropped"},
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
            "dropped": {"any": (
                "Ask IT which rule drops requests to {target_host} and for an allow rule (mitmproxy: block_list with "
                "status 444; Squid: deny_info TCP_RESET after ssl_bump; an IPS or DLP engine that resets). Raising "
                "timeouts will not help.\nGive IT this to find the entry in their logs:\n{log_query}")},
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
            "limit": {"text": "A request body sent to {target} through the proxy {bracket} ({who}). The proxy's "
                              "body limit is between {largest} and {failed}.", "solution": "raise"},
            "reset": {"text": "A request body sent to {target} through the proxy {bracket}: the connection was cut "
                              "while the body was sent, with no error page. The limit is between {largest} and "
                              "{failed}.",
                      "solution": "raise"},
            # performance.latency (which judges this) is not in the run: the step says it itself.
            "cut": {"text": "Even the smallest request to {target} got no answer: the tunnel opened and TLS worked, "
                            "then the proxy {how} the connection after {seconds}, before the provider's first byte. "
                            "This is not a body-size limit: the proxy cuts a connection that waits for the provider (an "
                            "idle or read timeout; performance.latency measures it).", "solution": "idle"},
        },
        "solutions": {"idle": {"any": (
            "Ask IT to raise the proxy's idle/read timeout for {target_host} to at least 10 minutes ("
            + IDLE_TIMEOUT_SETTINGS + "). Run pytest --proxydiag -m performance for "
            "the step that measures it.")},
                      "raise": {"any": (
            "Ask IT to increase the proxy's request-body limit for {target_host} to at least 32 MiB (the "
            "provider's own limit for a Messages request), or at least above {failed} (measured: {bracket}). "
            "On Squid this is request_body_max_size; on mitmproxy --set body_size_limit; on other products the upload "
            "size or "
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
            "upstream_tls": {"text": "The proxy answered {status}{code}: its own TLS connection to {target_host} "
                                     "failed verification ('{words}'). The proxy cannot verify the provider's "
                                     "certificate: its CA store lacks the root the provider's chain ends in (or "
                                     "its clock or TLS settings are wrong). This machine's certificates are not "
                                     "involved.", "solution": "upstream_tls"},
            "parent_auth": {"text": "The proxy answered {status}{code}: its own parent proxy refused the proxy's "
                                    "credentials ('{words}'). That is the proxy's configuration, not your "
                                    "credentials and not its route to {target_host}.", "solution": "parent_auth"},
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
                "Squid names the cause in its X-Squid-Error header: ERR_CONNECT_FAIL = connection to the provider "
                "refused or timed out; ERR_DNS_FAIL / ERR_CANNOT_FORWARD = the proxy cannot resolve or route the name; "
                "ERR_READ_TIMEOUT = the provider did not answer in time; ERR_SECURE_CONNECT_FAIL = the proxy's "
                "own TLS to the provider failed.")},
            "upstream_tls": {"any": (
                "Ask IT to update the CA store the proxy verifies providers with (Squid: tls_outgoing_options "
                "cafile= or the OS bundle after update-ca-certificates; mitmproxy: ssl_verify_upstream_trusted_ca, "
                "or the certifi bundle of its Python; appliances: their trusted-root list), then retest. Never "
                "turn the proxy's upstream verification off (Squid's DONT_VERIFY_PEER, mitmproxy's ssl_insecure): "
                "it would hide a real interception of the provider.\nGive IT this to find the entry:\n{log_query}")},
            "parent_auth": {"any": (
                "Ask IT to correct the credentials the proxy uses for its parent proxy (Privoxy: the user:password "
                "of its forward-socks5 line; Squid: the login= of its cache_peer line; mitmproxy: the user:password of its "
                "--set upstream_auth).\nGive IT this to find the "
                "entry:\n{log_query}")},
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

# -- what a proxy's reply means (branches/policy.py names these by key) -------------------------------
#: Squid's error codes (X-Squid-Error / the page template): what each means.
SQUID_MEANINGS = {
    "ERR_ACCESS_DENIED": "an access rule (http_access deny) refused the request",
    "ERR_CACHE_ACCESS_DENIED": "the proxy wants authentication (407)",
    "ERR_CONNECT_FAIL": "the proxy could not open a connection to the provider",
    "ERR_DNS_FAIL": "the proxy could not resolve the provider's name",
    "ERR_CANNOT_FORWARD": "the proxy found no way to forward the request (DNS or parent proxy)",
    "ERR_READ_TIMEOUT": "the provider did not answer the proxy in time",
    "ERR_LIFETIME_EXP": "the connection lived longer than the proxy allows",
    "ERR_GATEWAY_FAILURE": "a gateway (parent proxy or ICAP service) failed",
    "ERR_SECURE_CONNECT_FAIL": "the proxy's own TLS connection to the provider failed (certificate or TLS version)",
    "ERR_ZERO_SIZE_OBJECT": "the provider closed the connection without an answer",
    "ERR_READ_ERROR": "reading from the provider failed",
    "ERR_WRITE_ERROR": "writing to the provider failed",
    "ERR_TOO_BIG": ("the request or reply is larger than the proxy allows "
                    "(request_body_max_size / reply_body_max_size)"),
    "ERR_INVALID_REQ": "the proxy considers the request malformed",
    "ERR_INVALID_URL": "the proxy considers the URL malformed",
    "ERR_UNSUP_REQ": "the proxy does not support this request",
    "ERR_ICAP_FAILURE": "the ICAP content scanner (DLP/antivirus) failed",
    "ERR_CONFLICT_HOST": "the Host header does not match the destination",
    "ERR_SHUTTING_DOWN": "the proxy is shutting down",
    "ERR_FORWARDING_DENIED": "the proxy is not allowed to forward this request",
}

#: Words of a proxy's 5xx page saying its own TLS to the provider failed verification (mitmproxy 11.0.2: 502
#: "Certificate verify failed: unable to get local issuer certificate", measured).
UPSTREAM_TLS = (r"certificate verify failed[^<\n]*", r"unable to (?:get local issuer|verify the first) certificate",
                r"upstream (?:server )?certificate[^<\n]{0,80}(?:invalid|untrusted|not trusted|verif)[^<\n]*")

#: A verdict's meaning, by the key ``branches/policy.read_reply`` chose.
MEANINGS = {
    "upstream_tls": "the proxy could not verify the provider's TLS certificate",
    "parent_auth": "the proxy's own parent proxy refused the proxy's credentials",
    "no_reply": "no reply",
    "provider_rate_limit": "the provider rate-limits this account or key",
    "provider_too_large": "the provider itself refuses the body as too large (request_too_large): not a proxy limit",
    "provider_outage": "the provider answered {status}: an outage or overload at the provider end, not the corporate proxy",
    "edge_outage": ("the provider's edge answered {status}: an outage or overload at the provider end, not the "
                    "corporate proxy"),
    "provider_answered": "the provider answered",
    "squid_after_tls": "after intercepting TLS, {squid}",
    "auth": "the proxy wants authentication",
    "too_large": "a device in the path refuses the body as too large",
    "proxy_throttles": "the proxy throttles this client",
    "upstream": "the proxy could not reach the provider, or got no answer in time",
    "upstream_unreachable": "the proxy could not reach the provider",
    "dlp": "a data-loss-prevention rule blocked the request",
    "content_type": "a content-type rule blocked the request",
    "category": "a URL-filtering rule blocked the category {category}",
    "block_page": "a filtering rule blocked the request",
    "denied": "the request was refused",
    "redirect_block": "redirected to the product's block page ({location})",
    "tunnel_opened": "the proxy opened the tunnel",
    "answered_by": "the {sender} answered {status}",
    "answered": "answered {status}",
    "no_verdict": "no filtering verdict",
}

#: The provider edges a reply can come from, as the evidence names them.
EDGE_SIGNALS = {"cloudflare": "Cloudflare (Server: cloudflare / cf-ray): the provider's edge",
                "aws": "AWS edge (ELB/CloudFront)", "google": "Google front end"}

#: Where a reply came from, for the finding text.
STAGE_TEXT = {"connect": "in answer to CONNECT, before any TLS",
              "tunnel": "inside the TLS tunnel, after the proxy intercepted it",
              "plain": "on a plain-HTTP request through the proxy"}


def meaning(key: str, **values) -> str:
    """The sentence for a verdict's meaning *key* (``squid:ERR_X`` for Squid's codes)."""
    if key.startswith("squid:"):
        return SQUID_MEANINGS.get(key[6:], "")
    if key == "squid_after_tls":
        values = {**values, "squid": SQUID_MEANINGS.get(values.get("code", ""), "")}
    return MEANINGS[key].format(**values)


def utc(ts: float | None = None) -> str:
    """An ISO 8601 UTC timestamp (seconds) for log searches."""
    import time

    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if ts is None else ts))


def log_query(verdict, request_line: str, *, when: float | None = None, proxy: str = "",
              client: str = "this machine") -> str:
    """What IT needs to find the entry: time (UTC), client, request, answer, where the product logs it."""
    # Squid's page title is the same for every error: the code says more.
    generic = not verdict.title or verdict.title.upper().startswith("ERROR") or verdict.vendor == "Squid"
    socks_code = getattr(verdict, "socks_code", None)
    answer = (f"SOCKS5 reply 0x{socks_code:02x} ({verdict.meaning})" if socks_code is not None else
              f"{verdict.status}" + ("" if generic else f" ({verdict.title})"))
    lines = [f"    time (UTC):  {utc(when)} (within a minute)",
             f"    client:      {client}",
             f"    proxy:       {proxy}" if proxy else "",
             f"    request:     {request_line}",
             f"    answer:      {answer}" + (f", X-Squid-Error: {verdict.error_code}" if verdict.error_code else ""),
             f"    product:     {verdict.vendor}" if verdict.vendor else "",
             f"    category:    {verdict.category}" if verdict.category else "",
             f"    Retry-After: {verdict.retry_after}" if verdict.retry_after else "",
             f"    look in:     {verdict.logs}" if verdict.logs else
             "    look in:     the proxy's access log for this client, host and time"]
    return "\n".join(line for line in lines if line)


def log_query_without_reply(request_line: str, *, when: float | None, failure: str) -> str:
    """The same for a request that got no answer (a cut connection)."""
    return f"    time (UTC):  {utc(when)}\n    request:     {request_line}\n    answer:      {failure}"


#: Pass summaries, skip and block reasons, and the phrases the branch names by key.
NOTES = {
    "policy.domain_allowed": {
        "allowed": "{detail} (allowed)",
        "upstream_allowed": "{detail} (allowed by policy, but the proxy could not reach it: see policy.proxy_logs)",
        "vendor_note": " The answer comes from {vendor}{code}.",
        "category_note": " Category shown: {category}.",
        "allow_list": (" Its page says the name itself was filtered ('{words}'), and it refuses {reference}, a name "
                       "every proxy lets through, the same way ({answer}): its filter lets only a list of names "
                       "through (tinyproxy: Filter with FilterDefaultDeny Yes; Privoxy: a +block on every URL with "
                       "{{-block}} exceptions), and that list needs the provider's names."),
        "squid_code_note": " X-Squid-Error: {code}.",
        "the_proxy": "the proxy",
        "control_answer": "{control} (control): {detail}",
        "how_reset": "resets",
        "how_closed": "closes",
        "auth_before_policy": "the proxy wants authentication before it says whether the domains are allowed",
        "not_refused": "not refused by policy: {answers}",
    },
    "policy.url_filtering": {
        "unidentified": "an unidentified filter in the path",
        "html_for_json": "an HTML page where the API answers JSON",
        "access_rule": "{said} (an access rule, no category shown)",
        "no_reply": "{request}: no reply ({detail})",
        "from_edge": ", from the provider's edge",
        "from_sender": ", from the {sender}",
        "no_filtering": "{request}: {detail}{who}: no filtering verdict",
    },
    "policy.payload_size": {
        "passes_fails": "passes {largest}, fails {failed} with {failure}",
        "fails_at": "fails already at {failed} with {failure}",
        "answer_from": "the answer comes from {vendor}",
        "no_answer": "no answer",
        "smallest_fails": "POST {url}{path} with {size}: {failure}",
        "nothing_measured": "no size could be measured within the time budget",
        "bodies_pass": "bodies up to {largest} pass the proxy",
        "provider_limit": "; at {size} the provider itself answers 413 (its own limit, not the proxy's)",
        "untested": "; not tried within {budget}s: {sizes}",
    },
    "policy.proxy_logs": {
        "nothing_for_it": "nothing for IT to look up: {replies}",
        "no_error_answer": "no error answer from the proxy",
        "proxy_wide_first": ("the proxy refuses a port or this machine (or its parent the proxy's own "
                             "credentials, or it cannot reach its parent), whatever the request: "
                             "connectivity.proxy_works names the rule and where IT logs it"),
    },
}

for _step in ("policy.domain_allowed", "policy.url_filtering", "policy.payload_size", "policy.proxy_logs"):
    STEPS[_step]["findings"] = {**_OWN_PATH_FINDINGS, **STEPS[_step]["findings"]}
    STEPS[_step]["solutions"] = {**_OWN_PATH_SOLUTIONS, **STEPS[_step]["solutions"]}
    NOTES[_step] = {**_OWN_PATH_NOTES, **NOTES[_step]}
