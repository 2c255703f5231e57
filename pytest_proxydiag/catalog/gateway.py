"""GATEWAY ISSUES: Claude Code → LLM gateway (LiteLLM) → corporate proxy → provider, one hop at a time.

The flowchart checks that the gateway runs (connectivity, step 5) and that its
config names the proxy (application, step 4).  These steps follow the request
over both hops: how the developer's client reaches the gateway, whether the
gateway accepts the key, whether the gateway reaches the provider, and whether
the gateway's own egress settings match the proxy and CA this run found.  Each
finding says which side must change: the developer's machine or the gateway's
host.
"""

_RESTART = ("Then restart the gateway with that environment (for example: systemctl restart litellm, or stop "
            "and start `litellm --config {config}`) and run the diagnosis again.")
_DEV_SIDE = "Where to change it: the developer's machine (this one)."
_GW_SIDE = "Where to change it: the gateway's host ({gateway}), not the developer's machine."

#: Where the change belongs when a step is the root cause (shown in the report's "for IT" block).
CHANGE_ON = {
    "gateway.client_route": "the developer's machine (its NO_PROXY)",
    "gateway.key": "the developer's machine (the gateway key it sends)",
    "connectivity.gateway": "the gateway's host (start the gateway, or fix ANTHROPIC_BASE_URL)",
    "gateway.provider_path": "the gateway's host (its egress proxy, credentials or CA)",
    "gateway.egress_config": "the gateway's host (its environment or config)",
    "gateway.streaming": "the gateway's host (the proxy its egress goes through, or a reverse proxy in front of it)",
    # A finding whose side differs from its step's ("step:finding" wins over "step").
    "gateway.provider_path:base_url_api_path": "the developer's machine (its ANTHROPIC_BASE_URL)",
    "gateway.provider_path:no_route": "the developer's machine (its ANTHROPIC_BASE_URL)",
    "gateway.provider_path:model_not_served": "the developer's machine (the model Claude Code asks for)",
    "connectivity.gateway:wrong_scheme": "the developer's machine (its ANTHROPIC_BASE_URL)",
    "connectivity.gateway:wrong_port": "the developer's machine (its ANTHROPIC_BASE_URL)",
}

STEPS = {
    "gateway.client_route": {
        "number": 1,
        "title": "Claude Code reaches the gateway on the right route",
        "question": "Does Claude Code send gateway traffic direct (internal gateway) or through the proxy, "
                    "and does that route work?",
        "check": "curl -sv --noproxy '*' {gateway}/health/liveliness   # and: echo $NO_PROXY",
        "findings": {
            "through_proxy_refused": {
                "text": "Claude Code sends traffic for the gateway {gateway} to the corporate proxy {proxy}: "
                        "{host} is not in NO_PROXY ({no_proxy}). The proxy answered {status}{proxy_error} instead "
                        "of the gateway. {product}",
                "solution": "no_proxy"},
            "through_proxy_internal": {
                "text": "Claude Code sends traffic for the internal gateway {gateway} to the corporate proxy "
                        "{proxy}: {host} is not in NO_PROXY ({no_proxy}). It works through the proxy today, but "
                        "an internal host should not depend on the proxy (and its logs see every prompt).",
                "solution": "no_proxy"},
            "through_proxy_unreachable": {
                "text": "Claude Code sends traffic for the gateway {gateway} to the corporate proxy {proxy} "
                        "({host} is not in NO_PROXY: {no_proxy}), and that does not work: {detail}",
                "solution": "no_proxy"},
        },
        "solutions": {
            "no_proxy": {
                "any": "Add the gateway's host to NO_PROXY so Claude Code reaches it direct:\n"
                       "  export NO_PROXY=\"{corrected}\"\n  export no_proxy=\"$NO_PROXY\"\n"
                       "Claude Code also reads NO_PROXY from the \"env\" block of ~/.claude/settings.json.\n"
                       + _DEV_SIDE,
                "windows": "  $env:NO_PROXY = \"{corrected}\"\n"
                           "  [Environment]::SetEnvironmentVariable('NO_PROXY', \"{corrected}\", 'User')\n"
                           + _DEV_SIDE,
            },
        },
    },
    "gateway.key": {
        "number": 2,
        "title": "The gateway accepts the key",
        "question": "Is a 401 the gateway refusing its own key, or the provider answering (path works)?",
        "check": "curl -s {gateway}/key/info -H \"Authorization: Bearer $GATEWAY_KEY\"",
        "findings": {
            "rejected": {
                "text": "The gateway {gateway} refused the key from {key_source} with its own {status}: "
                        "\"{message}\". This is the gateway's key check, not the provider.",
                "solution": "new_key"},
            "rejected_no_db": {
                "text": "The gateway {gateway} refused the key from {key_source} with its own {status}: "
                        "\"{message}\". This is the gateway's key check, not the provider: the gateway has no "
                        "database, so it accepts only its master key and cannot issue or check virtual keys.",
                "solution": "key_no_db"},
            "missing": {
                "text": "The gateway {gateway} wants a key (its own {status}: \"{message}\"). Name the variable "
                        "that holds your gateway key with --proxydiag-gateway-key-env to check the rest of the path.",
                "solution": "name_key"},
        },
        "solutions": {
            "new_key": {"any": "Ask the gateway's owners for a valid virtual key (LiteLLM: /key/generate), then "
                               "set it where Claude Code reads it (ANTHROPIC_AUTH_TOKEN, ANTHROPIC_API_KEY or "
                               "apiKeyHelper in ~/.claude/settings.json). " + _DEV_SIDE},
            "key_no_db": {"any": "Ask the gateway's owners for the key it accepts. Without a database that is only "
                                 "its master key (general_settings.master_key or LITELLM_MASTER_KEY on the gateway's "
                                 "host); for a key of your own they connect a database (DATABASE_URL where the "
                                 "gateway starts) and issue a virtual key (LiteLLM: /key/generate, which answers "
                                 "\"DB not connected\" until then). Set the key where Claude Code reads it "
                                 "(ANTHROPIC_AUTH_TOKEN, ANTHROPIC_API_KEY or apiKeyHelper in "
                                 "~/.claude/settings.json). " + _DEV_SIDE},
            "name_key": {"any": "Rerun with the key's variable named (the key is sent only to the gateway and never "
                                "printed):\n  pytest --proxydiag --proxydiag-gateway-key-env ANTHROPIC_AUTH_TOKEN"},
        },
    },
    "gateway.provider_path": {
        "number": 3,
        "title": "The gateway reaches the provider",
        "question": "Does one minimal request through the gateway come back from the provider?",
        "check": "curl -s {gateway}/v1/messages -H \"x-api-key: $GATEWAY_KEY\" -H 'anthropic-version: 2023-06-01' "
                 "-d '{{\"model\":\"claude-3-5-haiku-latest\",\"max_tokens\":1,\"messages\":[]}}'",
        "findings": {
            "egress_certificate": {
                "text": "The gateway {gateway} is up, but its own connection to the provider fails certificate "
                        "verification: \"{message}\". The corporate proxy intercepts TLS{issuer} and the gateway "
                        "does not trust that CA.",
                "solution": "gateway_ca"},
            "egress_proxy_auth": {
                "text": "The gateway {gateway} is up, but the corporate proxy asks it for credentials (407): "
                        "\"{message}\". The gateway's HTTPS_PROXY has no valid proxy credentials.",
                "solution": "gateway_proxy_auth"},
            "egress_proxy_auth_rejected": {
                "text": "The gateway {gateway} is up, but the corporate proxy refuses the credentials it sends "
                        "(407): \"{message}\". The gateway's own HTTPS_PROXY carries a user name (in the URL "
                        "quoted) with a wrong or outdated password. The gateway sends what its own environment "
                        "holds, never this machine's HTTPS_PROXY: credentials that work here do not reach it.",
                "solution": "gateway_proxy_password"},
            "egress_proxy_refused": {
                "text": "The gateway {gateway} is up, but the corporate proxy refuses its connection to the "
                        "provider: \"{message}\".",
                "solution": "gateway_policy"},
            "egress_connect": {
                "text": "The gateway {gateway} is up, but it cannot connect to the provider: \"{message}\". "
                        "Its egress proxy variables are the first thing to check.",
                "solution": "gateway_proxy"},
            "headers": {
                "text": "The provider rejected the request the gateway {gateway} forwarded, naming its "
                        "anthropic-version/anthropic-beta headers: \"{message}\".",
                "solution": "gateway_headers"},
            "unknown": {
                "text": "The gateway {gateway} answered {status} and the answer does not say which hop failed: "
                        "\"{message}\".",
                "solution": "gateway_logs"},
            "base_url_api_path": {
                "text": "The gateway {gateway} itself answers 404 Not Found for {tried}: ANTHROPIC_BASE_URL "
                        "({source}) already ends with the API path, and Claude Code appends /v1/messages to it "
                        "on its own, so every request asks for a route the gateway does not have. Nothing "
                        "reaches the provider.",
                "solution": "base_url"},
            "no_route": {
                "text": "The gateway {gateway} itself answers 404 Not Found for {tried} (ANTHROPIC_BASE_URL from "
                        "{source}): it serves no Anthropic Messages route under that address. Nothing reaches "
                        "the provider.",
                "solution": "route"},
            "model_not_served": {
                "text": "The gateway {gateway} serves only the models of its model_list ({served}), and Claude "
                        "Code is set to ask for another ({models}): the gateway answers that itself with 400 "
                        "\"Invalid model name\" and never forwards it to the provider.",
                "solution": "model"},
            "api_base_http": {
                "text": "The gateway's config {source} sends the provider plain HTTP: {where} is {api_base}. "
                        "The provider speaks only HTTPS, so the gateway's request never reaches it (the proxy or "
                        "the provider answers the gateway with an error instead).",
                "solution": "api_base_https"},
            "api_base_http_seen": {
                "text": "The gateway {gateway} answered {status} with the corporate proxy's error page "
                        "(\"{message}\"), which names the URL the gateway asked it for: {url}. That is plain HTTP "
                        "to a provider that speaks only HTTPS: the api_base in the gateway's config starts with "
                        "http://.",
                "solution": "api_base_https_remote"},
            "egress_proxy_ignored_env": {
                "text": "The gateway {gateway} is up, but it cannot connect to the provider: \"{message}\". Its "
                        "process ({source}) sets DISABLE_AIOHTTP_TRUST_ENV, so LiteLLM ignores its HTTPS_PROXY and "
                        "connects direct, which this network does not allow.",
                "solution": "trust_env_env"},
            "egress_proxy_ignored_config": {
                "text": "The gateway {gateway} is up, but it cannot connect to the provider: \"{message}\". Its "
                        "config {source} sets disable_aiohttp_trust_env: true, so LiteLLM ignores the proxy "
                        "variables (HTTPS_PROXY) and connects direct, which this network does not allow.",
                "solution": "trust_env_config"},
        },
        "solutions": {
            "gateway_ca": {"any": "On the gateway's host, give LiteLLM a CA bundle that holds the proxy's CA "
                                  "(its aiohttp transport reads SSL_CERT_FILE; REQUESTS_CA_BUNDLE alone is not "
                                  "enough):\n  export SSL_CERT_FILE=\"{ca_bundle}\"\n"
                                  "or in the LiteLLM config:\n  litellm_settings:\n    ssl_verify: \"{ca_bundle}\"\n"
                                  + _RESTART + "\n" + _GW_SIDE + "\nNever set ssl_verify: false instead."},
            "gateway_proxy_auth": {"any": "On the gateway's host, put the proxy credentials into its proxy "
                                          "variable (password URL-encoded):\n"
                                          "  export HTTPS_PROXY=\"http://<USER>:<URL-ENCODED-PASSWORD>@{proxy_hostport}\"\n"
                                          "  (encode it with: python3 -c 'import getpass, urllib.parse as u; "
                                          "print(u.quote(getpass.getpass(), safe=\"\"))')\n"
                                          + _RESTART + "\n" + _GW_SIDE},
            "gateway_proxy_password": {"any": "On the gateway's host, correct the password in its proxy variable "
                                              "(URL-encoded; after a password change, the gateway's service "
                                              "environment still holds the old one):\n"
                                              "  export HTTPS_PROXY=\"http://<USER>:<URL-ENCODED-PASSWORD>@"
                                              "{proxy_hostport}\"\n"
                                              "  (encode it with: python3 -c 'import getpass, urllib.parse as u; "
                                              "print(u.quote(getpass.getpass(), safe=\"\"))')\n"
                                              "If the gateway has a service account of its own, ask IT whether it "
                                              "is locked or expired.\n" + _RESTART + "\n" + _GW_SIDE},
            "gateway_policy": {"any": "Ask the proxy team to allow the provider's host for the gateway's address "
                                      "(the proxy's logs show the refusal). " + _GW_SIDE},
            "gateway_proxy": {"any": "On the gateway's host, set the proxy the gateway must use:\n"
                                     "  export HTTPS_PROXY=\"{proxy_for_gateway}\"\n  export NO_PROXY=\"localhost,127.0.0.1\"\n"
                                     + _RESTART + "\n" + _GW_SIDE},
            "gateway_headers": {"any": "Configure the gateway to pass anthropic-version and anthropic-beta "
                                       "through unchanged (LiteLLM: use the /v1/messages pass-through route and "
                                       "keep forward_client_headers_to_llm_api enabled). " + _GW_SIDE},
            "gateway_logs": {"any": "Read the gateway's log around this time (start it with LITELLM_LOG=DEBUG) for "
                                    "the underlying error. " + _GW_SIDE},
            "base_url": {"any": "Give Claude Code the gateway's address without the API path:\n"
                                "  export ANTHROPIC_BASE_URL=\"{corrected}\"\n"
                                "(where it is set now: {source}; in a Claude Code settings file, its \"env\" "
                                "block). " + _DEV_SIDE,
                         "windows": "  $env:ANTHROPIC_BASE_URL = \"{corrected}\"\n"
                                    "(where it is set now: {source}). " + _DEV_SIDE},
            "route": {"any": "Set ANTHROPIC_BASE_URL to the address under which the gateway serves /v1/messages "
                             "(LiteLLM: its root, or /anthropic for its pass-through route); the gateway's owners "
                             "know it, and `curl -s <address>/v1/models` lists its models there. " + _DEV_SIDE},
            "model": {"any": "Ask for a model the gateway serves:\n"
                             "  export ANTHROPIC_MODEL=\"<one of: {served}>\"\n"
                             "(or the same in the \"env\" block of ~/.claude/settings.json), or ask the gateway's "
                             "owners to add the model to its model_list. " + _DEV_SIDE},
            "api_base_https": {"any": "In {source}, give the provider's address with https:\n"
                                      "  {where}: {fixed}\n" + _RESTART + "\n" + _GW_SIDE},
            "api_base_https_remote": {"any": "In the gateway's config (LiteLLM: model_list[].litellm_params.api_base), "
                                             "give the provider's address with https:\n  api_base: {fixed}\n"
                                             + _RESTART + "\n" + _GW_SIDE},
            "trust_env_env": {"any": "Unset DISABLE_AIOHTTP_TRUST_ENV where the gateway starts (its HTTPS_PROXY "
                                     "is then used). " + _RESTART + "\n" + _GW_SIDE},
            "trust_env_config": {"any": "Remove disable_aiohttp_trust_env: true from litellm_settings in {source} "
                                        "(its HTTPS_PROXY is then used). " + _RESTART + "\n" + _GW_SIDE},
        },
    },
    "gateway.egress_config": {
        "number": 4,
        "title": "The gateway's egress settings match this network",
        "question": "Does the gateway's environment or config name the proxy, its credentials and the "
                    "interception CA this run found, with verification on?",
        "check": "tr '\\0' '\\n' < /proc/$(pgrep -f 'litellm')/environ | grep -Ei 'proxy|ssl_cert'; "
                 "grep -n ssl_verify {config}",
        "findings": {
            "ssl_verify_disabled": {
                "text": "The gateway config {source} sets ssl_verify: false: the gateway accepts any certificate "
                        "for the provider, so an attacker on the path could read every prompt and key. It may "
                        "work, but it is not a fix.{also}",
                "solution": "verify_on"},
            "egress_no_proxy": {
                "text": "The gateway process ({source}) has no HTTPS_PROXY, while the provider is reachable only "
                        "through the proxy {proxy}.{also}",
                "solution": "set_proxy"},
            "egress_proxy_no_credentials": {
                "text": "The gateway process ({source}) uses {variable} without credentials, while the proxy "
                        "{proxy} requires them.{also}",
                "solution": "proxy_credentials"},
            "egress_proxy_other_password": {
                "text": "The gateway process ({source}) uses {variable} with the credentials of user {user} for the "
                        "proxy {proxy_hostport}, with another password than this machine's proxy URL, which the "
                        "proxy accepts for the same user: the gateway's copy is outdated or mistyped (a password "
                        "change reaches the shell, not a running gateway's environment).{also}",
                "solution": "proxy_credentials"},
            "egress_ca_missing": {
                "text": "The proxy intercepts TLS{issuer}, and the gateway process ({source}) has no CA file that "
                        "holds that CA ({files}; read but ignored by LiteLLM's aiohttp transport: {ignored}).{also}",
                "solution": "ca"},
            "aiohttp_ignores_proxy": {
                "text": "The gateway process ({source}) sets DISABLE_AIOHTTP_TRUST_ENV, so LiteLLM ignores its "
                        "HTTPS_PROXY.{also}",
                "solution": "trust_env"},
            "api_base_http": {
                "text": "The gateway's config {source} sends the provider plain HTTP: {where} is {api_base}. "
                        "The provider speaks only HTTPS.{also}",
                "solution": "api_base_https"},
            "aiohttp_ignores_proxy_config": {
                "text": "The gateway config {source} sets disable_aiohttp_trust_env: true, so LiteLLM ignores the "
                        "proxy variables (HTTPS_PROXY) and connects direct, while the provider is reachable only "
                        "through the proxy {proxy}.{also}",
                "solution": "trust_env_config"},
        },
        "solutions": {
            "verify_on": {"any": "Remove ssl_verify: false from {source}{verify_instead}\n" + _RESTART + "\n" + _GW_SIDE},
            "set_proxy": {"any": "Where the gateway starts (its service unit or shell):\n"
                                 "  export HTTPS_PROXY=\"{proxy_for_gateway}\"\n  export NO_PROXY=\"localhost,127.0.0.1\"\n"
                                 + _RESTART + "\n" + _GW_SIDE},
            "proxy_credentials": {"any": "Where the gateway starts:\n"
                                         "  export HTTPS_PROXY=\"http://<USER>:<URL-ENCODED-PASSWORD>@{proxy_hostport}\"\n"
                                         + _RESTART + "\n" + _GW_SIDE},
            "ca": {"any": "Where the gateway starts:\n  export SSL_CERT_FILE=\"{ca_bundle}\"\n"
                          + _RESTART + "\n" + _GW_SIDE},
            "trust_env": {"any": "Unset DISABLE_AIOHTTP_TRUST_ENV where the gateway starts. " + _RESTART + "\n"
                                 + _GW_SIDE},
            "trust_env_config": {"any": "Remove disable_aiohttp_trust_env: true from litellm_settings in {source} "
                                        "(its HTTPS_PROXY is then used). " + _RESTART + "\n" + _GW_SIDE},
            "api_base_https": {"any": "In {source}, give the provider's address with https:\n"
                                      "  {where}: {fixed}\n" + _RESTART + "\n" + _GW_SIDE},
        },
    },
    "gateway.streaming": {
        "number": 5,
        "title": "Streamed answers pass through the gateway as they come",
        "question": "Do server-sent events (streaming) arrive through the gateway as the provider sends them, "
                    "or all at once?",
        "check": "curl -sN {gateway}/v1/messages -H 'content-type: application/json' -H 'anthropic-version: "
                 "2023-06-01' -d @streamed-request.json   # with \"stream\": true: events must trickle in",
        "findings": {
            "buffered": {
                "text": "Streamed answers through the gateway {gateway} arrive all at once: {events} events came "
                        "in within {spread} (the first after {first_event}), although the provider sent them "
                        "{interval} apart. Something on the gateway hop holds the stream back until it ends: the "
                        "proxy the gateway's egress goes through ({egress}), or a reverse proxy in front of the "
                        "gateway. Claude Code then shows nothing until the whole answer is done, and long answers "
                        "hit timeouts.{client_hop}",
                "solution": "unbuffer"},
        },
        "solutions": {"unbuffer": {"any": (
            "Let text/event-stream pass unbuffered on the gateway hop:\n"
            "  - the proxy the gateway uses: exempt the provider's host from content inspection/scanning "
            "(ICAP/eCAP, antivirus, DLP) or from response buffering for text/event-stream (ask the proxy team; "
            "Squid: no adaptation service for these responses);\n"
            "  - a reverse proxy in front of the gateway (nginx): proxy_buffering off; (or the header "
            "X-Accel-Buffering: no) for the gateway's location;\n"
            "  - LiteLLM itself streams event by event (measured with 1.81.16), no setting needed.\n"
            "Verify: the check above prints events one by one, not all at the end.\n" + _GW_SIDE)}},
    },
}

_THEN_RESTART = ", then a restart of the gateway"
_NO_GATEWAY = "no gateway configured (--proxydiag-gateway URL, or ANTHROPIC_BASE_URL pointing at a gateway)"

#: Pass summaries and skip reasons of the gateway steps (looked up with ``catalog.note``).
NOTES = {
    "gateway.client_route": {
        "no_gateway": _NO_GATEWAY,
        "direct": "Claude Code reaches the gateway direct: {reason}",
        "via_proxy_ok": "Claude Code reaches the gateway through the proxy {proxy}, which forwards it",
    },
    "gateway.key": {
        "no_gateway": _NO_GATEWAY,
        "proxy_answered": "the proxy answered for the gateway: {status}",
        "accepted": "the gateway let the check request through its key check",
        "no_key_needed": "the gateway asks for no key, or accepts Claude Code's",
        "no_route": ("the gateway has no Messages route at this address (see gateway.provider_path), so its key "
                     "check was not reached"),
        "name_key": ("the gateway checks keys ({status}); name the variable holding your gateway key with "
                     "--proxydiag-gateway-key-env to check it and the path behind it"),
    },
    "gateway.provider_path": {
        "no_gateway": _NO_GATEWAY,
        # The FIX block's "where: change" line, one per finding (the SOLUTION says it in full).
        "fix_where": "the gateway's host ({gateway})",
        "fix_egress_certificate": "SSL_CERT_FILE=\"{ca_bundle}\" where the gateway starts" + _THEN_RESTART,
        "fix_egress_proxy_auth": ("HTTPS_PROXY=\"http://<USER>:<URL-ENCODED-PASSWORD>@{proxy_hostport}\" where the "
                                  "gateway starts" + _THEN_RESTART),
        "fix_egress_proxy_auth_rejected": ("the password in HTTPS_PROXY=\"http://<USER>:<URL-ENCODED-PASSWORD>@"
                                           "{proxy_hostport}\" where the gateway starts" + _THEN_RESTART),
        "fix_egress_proxy_refused": "the proxy team allows the provider's host for the gateway's address",
        "fix_egress_connect": "HTTPS_PROXY=\"{proxy_for_gateway}\" where the gateway starts" + _THEN_RESTART,
        "fix_headers": "anthropic-version and anthropic-beta passed through to the provider unchanged",
        "fix_unknown": "read the gateway's log (LITELLM_LOG=DEBUG) for the underlying error",
        "fix_api_base_http": "{where}: {fixed} in place of {api_base}" + _THEN_RESTART,
        "fix_api_base_http_seen": "api_base: {fixed} in the gateway's config" + _THEN_RESTART,
        "fix_trust_env_env": "DISABLE_AIOHTTP_TRUST_ENV unset where the gateway starts" + _THEN_RESTART,
        "fix_trust_env_config": "disable_aiohttp_trust_env: true removed from litellm_settings" + _THEN_RESTART,
        "model_check": ("the gateway serves only the models of its model_list ({served}); the check's model is not "
                        "among them, so the gateway answered itself (400 Invalid model name) and the hop to the "
                        "provider was not tested. Claude Code works through it only with these models "
                        "(ANTHROPIC_MODEL)"),
        "models_unknown": "its model list ({gateway}/v1/models) could not be read",
        "both_hops": "both hops work: the provider's own answer ({status}) came back through the gateway",
        "name_key": "the gateway checks keys: name yours with --proxydiag-gateway-key-env to check this hop",
        "key_refused": "the gateway refused the key before it forwarded anything",
        "proxy_answered": "the proxy answered for the gateway: {status}",
    },
    "gateway.streaming": {
        "no_gateway": _NO_GATEWAY,
        "spaced": "streamed answers pass through the gateway as they come: {events} events, the first after "
                  "{first_event}, {interval} apart as sent",
        "not_available": ("the provider behind the gateway has no stream-check model (it answered {status}); the "
                          "lab's provider stand-in has one, so streaming through a gateway is checked there"),
        "no_stream": "the gateway's streamed answer could not be read: {detail}",
        "path_broken": "the gateway does not reach the provider (see gateway.provider_path)",
        "proxy_answered": "the proxy answered for the gateway: {status}",
        "egress_unknown": "its egress proxy, as configured on the gateway's host",
        "client_hop": " Claude Code reaches the gateway through the proxy {proxy} too, which may also buffer.",
    },
    "gateway.egress_config": {
        "no_gateway": _NO_GATEWAY,
        "fix_where": "the gateway's host ({gateway})",
        "fix_ssl_verify_disabled": "ssl_verify: false removed{verify_instead_short}" + _THEN_RESTART,
        # Behind interception the gateway needs the proxy's CA in its place; without it, nothing.
        "verify_with_ca": (" and give the gateway the proxy's CA instead:\n  litellm_settings:\n    ssl_verify: "
                           "\"{ca_bundle}\"\n(or export SSL_CERT_FILE=\"{ca_bundle}\" where the gateway starts)"),
        "verify_with_ca_short": ", ssl_verify: \"{ca_bundle}\" in its place",
        "verify_public": (": no interception was found on this network, so the provider's public certificate "
                          "verifies without it."),
        "verify_unknown": (". If the proxy intercepts TLS, give the gateway its CA instead (ssl_verify: "
                           "\"{ca_bundle}\", or SSL_CERT_FILE where the gateway starts)."),
        "fix_egress_no_proxy": "HTTPS_PROXY=\"{proxy_for_gateway}\" where the gateway starts" + _THEN_RESTART,
        "fix_egress_proxy_no_credentials": ("HTTPS_PROXY=\"http://<USER>:<URL-ENCODED-PASSWORD>@{proxy_hostport}\" "
                                            "where the gateway starts" + _THEN_RESTART),
        "fix_egress_proxy_other_password": ("the password in HTTPS_PROXY=\"http://<USER>:<URL-ENCODED-PASSWORD>@"
                                            "{proxy_hostport}\" where the gateway starts" + _THEN_RESTART),
        "fix_egress_ca_missing": "SSL_CERT_FILE=\"{ca_bundle}\" where the gateway starts" + _THEN_RESTART,
        "fix_aiohttp_ignores_proxy": "DISABLE_AIOHTTP_TRUST_ENV unset where the gateway starts" + _THEN_RESTART,
        "fix_aiohttp_ignores_proxy_config": "disable_aiohttp_trust_env: true removed from litellm_settings"
                                            + _THEN_RESTART,
        "fix_api_base_http": "{where}: {fixed} in place of {api_base}" + _THEN_RESTART,
        "matches": "the gateway's egress settings match the proxy and CA this run found",
        "also": " Also: {problems}",
        "not_here": ("the gateway's environment and config are not on this machine (pass "
                     "--proxydiag-litellm-config on the gateway's host to check its egress settings)"),
    },
}
