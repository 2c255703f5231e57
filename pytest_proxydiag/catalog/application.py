"""APPLICATION ISSUES (flowchart section: works with curl, fails with Claude Code).

Placeholders filled by ``diag_tests/test_application.py``: ``{export_lines}``
(lines for the user's ``$SHELL``), ``{profile}``, ``{reload}``, ``{detail}``,
``{views}`` (the variable as this process / a new shell / Claude Code see it),
``{fix_lines}``, ``{path}``, ``{yaml}`` (the flowchart's LiteLLM YAML with the
user's values), ``{versions}``, ``{traps}``.
"""

_EXPORT = (
    "Export the variables in the startup file of your shell ({shell}: {profile}), so every new terminal - "
    "and Claude Code started from it - has them:\n"
    "{export_lines}\n"
    "Reload and check it persists:\n"
    "  {reload}\n"
    "  exec $SHELL        # a new shell\n"
    "  env | grep -i proxy\n"
    "  claude /status")

#: What env_in_shell finds when the shell lacks the variables or holds other ones than a new terminal:
#: each shows what was seen ("{detail}", "{views}"), and each is fixed by exporting them in the shell's startup file.
_FIXED_BY_EXPORTING = ("http_only", "profile_only", "not_loaded", "claude_only", "case_mismatch", "stale")

STEPS = {
    "application.env_in_shell": {
        "number": 1,
        "title": "Verify environment variables in same shell",
        "question": "Does the shell where Claude Code runs have the proxy variables?",
        "check": 'env | grep -i proxy; echo "Proxy: $HTTPS_PROXY"; claude /status',
        "findings": {
            **{kind: {"text": "{detail}\n{views}", "solution": "export"} for kind in _FIXED_BY_EXPORTING},
            "claude_differs": {"text": "{detail}\n{views}", "solution": "align_claude"},
        },
        "solutions": {
            "export": {"any": _EXPORT},
            "align_claude": {"any": (
                "Claude Code applies the \"env\" of {claude_path} on top of the shell. Make both agree: remove "
                "the proxy variables from that file's \"env\" (then Claude Code takes the shell's), or set the "
                "same value in both. For the shell ({profile}):\n{export_lines}\n"
                "Check: grep -i proxy {claude_path}; env | grep -i proxy")},
        },
    },
    "application.debug_logging": {
        "number": 2,
        "title": "Check Claude Code proxy support",
        "question": "Do the clients' debug logs show the proxy being used?",
        "check": "ANTHROPIC_LOG=debug LITELLM_LOG=DEBUG claude /status 2>&1 | tee claude-debug.log; "
                 "grep -i proxy claude-debug.log",
        "findings": {
            "no_proxy_in_log": {
                "text": "{sdk} {version} connected to {target} directly, not through the proxy {proxy}: its debug "
                        "log shows {evidence}.",
                "solution": "sdk_version",
            },
            "sdk_failed": {
                "text": "{sdk} {version} could not reach {target} through the proxy, although the proxy works for "
                        "a plain CONNECT: {detail}. Debug log: {evidence}",
                "solution": "sdk_version",
            },
        },
        "solutions": {
            "sdk_version": {"any": (
                "Check the SDK version and how the program builds its client:\n"
                "  {upgrade}\n"
                "  - keep the default HTTP client (it reads HTTPS_PROXY), or pass the proxy explicitly: "
                "anthropic.Anthropic(http_client=anthropic.DefaultHttpxClient(proxy=os.environ[\"HTTPS_PROXY\"]))\n"
                "  - known traps here: {traps}\n"
                "For support, these versions: {versions}")},
        },
    },
    "application.python_requests": {
        "number": 3,
        "title": "Test Python requests library (LiteLLM dependency)",
        "question": "Does Python requests reach the provider with the environment's proxy settings?",
        "check": "python3 -c 'import requests; print(requests.get(\"https://api.anthropic.com\", timeout=10))'",
        "findings": {
            "python_only": {
                "text": "curl works, {client} does not, because {because}.\n{runs}",
                "solution": "python_fix",
            },
        },
        "solutions": {
            "python_fix": {"any": (
                "Give {client} what curl already has - add to {profile}:\n{fix_lines}\n"
                "Then check with the flowchart's Python test:\n"
                "  python3 -c 'import requests; print(requests.get(\"{target_url}\", timeout=10).status_code)'\n"
                "(any HTTP status, even 401 or 404, means the path works; a ProxyError or SSLError does not)")},
        },
    },
    "application.litellm_config": {
        "number": 4,
        "title": "Verify LiteLLM gateway configuration",
        "question": "Does the LiteLLM config carry the proxy settings?",
        "check": "grep -i -A4 proxy config.yaml",
        "findings": {
            "unparseable": {"text": "The LiteLLM config {path} ({source}) cannot be used: {detail}",
                            "solution": "fix_yaml"},
            "ssl_verify_false": {"text": "The LiteLLM config {path} turns certificate verification off "
                                         "({detail}): any interception, hostile or not, goes unnoticed.",
                                 "solution": "ssl_verify"},
            "unset_refs": {"text": "The LiteLLM config {path} reads {detail} from the environment, but "
                                   "{unset} is not set here: LiteLLM would start without it.",
                           "solution": "set_env"},
            "missing": {"text": "The LiteLLM config {path} has no proxy settings ({detail}), and LiteLLM runs "
                                "where HTTPS_PROXY may not be set.",
                        "solution": "add"},
        },
        "solutions": {
            "fix_yaml": {"any": (
                "Fix the YAML (indent with spaces, never tabs) and check it parses:\n"
                "  python3 -c 'import yaml,sys; yaml.safe_load(open(\"{path}\"))' && echo OK\n"
                "A minimal proxy section:\n{yaml}")},
            "ssl_verify": {"any": (
                "Do not disable verification: point LiteLLM at the CA bundle that holds the proxy's CA instead. "
                "In {path}:\n{yaml}\n"
                "and export the bundle for the gateway's process:\n{export_lines}")},
            "set_env": {"any": (
                "Set the variables in the environment that starts LiteLLM (its shell, systemd unit or "
                "container):\n{export_lines}\n"
                "or put them in the config's environment_variables section. The proxy section of {path}:\n{yaml}")},
            "add": {"any": "Add to {path}:\n{yaml}\nand start LiteLLM where these are set:\n{export_lines}"},
        },
    },
}

#: Pass summaries, skip and block reasons, and the sentences the branch names by key.
NOTES = {
    "application.env_in_shell": {
        "nothing_set": ("no proxy or CA variable is set in this process, the startup files of {shell}, or "
                        "~/.claude/settings.json"),
        "persistence": ("a new {shell} terminal gets these only if something other than its startup files sets "
                        "them; to make them persistent add them to {startup}"),
        "agree": "no disagreement between this process, a new {shell} shell and Claude Code ({names}){transient}",
        "transient": "; {names} not in any startup file",
        "profile_only_why": ("a new terminal would load it, but the shell or program that started this run did "
                             "not (an IDE, a service, or a terminal opened before the line was added)"),
        "not_loaded_why": "{shell} never reads that file, so no new terminal gets it",
        "only_in_files": "No proxy variable is set in this process; it is set only in {where}: {why}.",
        "claude_only": ("No proxy variable is set in this process or any startup file; only {claude_path} sets "
                        "it, so Claude Code uses the proxy but curl, Python and LiteLLM do not."),
        "http_only": ("Only {only} is set, no HTTPS_PROXY: curl, requests, httpx and LiteLLM send https traffic "
                      "direct (HTTP_PROXY is for http:// URLs), while Claude Code uses HTTP_PROXY for it; the "
                      "same machine gives two verdicts."),
        "case_mismatch": ("In {view} {lower}={a} but {upper}={b}: curl, Python and Claude Code use {lower}, Go "
                          "tools {upper}; each client goes its own way."),
        "stale": ("{name} differs: this process has {here}, a new {shell} shell gets {there} (from {files}); a "
                  "new terminal will use another proxy than the one diagnosed here."),
        "not_loaded": "{name} is set in {where}, which {shell} does not read; add it to {startup}.",
        "claude_differs": ("{claude_path} sets {name}={value}, which Claude Code uses instead of this shell's "
                           "{name}={here}: curl and Claude Code take different proxies."),
    },
    "application.debug_logging": {
        "no_sdk": ("no Python SDK to run with debug logging: {missing} not installed for {where}; versions "
                   "recorded for escalation"),
        "path_cut": "{sdk}: {detail}. The probe's own request through the proxy got no answer either ({probe}): not "
                    "this SDK's setup",
        "connect_refused_too": "{sdk}: {detail}. The proxy refused the probe's own CONNECT as well ({probe}), after it "
                               "had opened an earlier one: not this SDK's setup",
        "cert_untrusted": "{sdk}: {detail}. The SDK fails where the other clients fail: the proxy's certificate is "
                          "not trusted (see that step), not this SDK's setup",
        "url_unparsable": "{sdk}: {detail}. The proxy URL's credentials carry unencoded special characters, which "
                          "the SDK cannot parse",
        "none_known": "none known",
        "log_shows_connect": ", the log shows the CONNECT through the proxy",
        "no_sdk_ran": "no SDK ran",
        "cloud_target": ("the Anthropic and LiteLLM SDK checks speak Anthropic's Messages API, which {targets} "
                         "does not; not run (Bedrock and Vertex AI are proven with boto3 and Claude Code in its "
                         "cloud mode, see certificate.interception and the fix verdicts)"),
        "trap_anthropic_transport": ("Anthropic Python SDK: a client built with a custom http_client/transport "
                                     "(httpx.Client(...), DefaultHttpxClient(transport=...)) ignores HTTPS_PROXY; "
                                     "pass proxy=... to it or keep trust_env on."),
        "trap_litellm_aiohttp": ("LiteLLM: its aiohttp transport honours the proxy variables only with "
                                 "AIOHTTP_TRUST_ENV=True (export AIOHTTP_TRUST_ENV=True before starting LiteLLM)."),
        "trap_node_fetch": ("Node: the built-in fetch/https ignore HTTPS_PROXY unless NODE_USE_ENV_PROXY=1 "
                            "(Node 22.21+/24+); Claude Code handles the variables itself."),
        "trap_ntlm": ("Claude Code supports Basic proxy authentication only: NTLM/Kerberos need cntlm or a "
                      "gateway in between."),
    },
    "application.python_requests": {
        "route_direct": "requests would not use the proxy for {url}: {why}",
        "curl_unavailable": ("{client} fails ({reason}); curl is not available to tell whether the path itself "
                             "works: {error}"),
        "both_fail": "{client} and curl both fail: {reason}",
        "unparsable_url": ("{client} fails ({error}): the proxy URL's credentials need URL encoding, which "
                           "{client} reads differently from curl"),
        "see_reason": "  (see the reason above)",
        "r_407": "the proxy asked for authentication (407)",
        "r_refused_destination": "the proxy refused the destination ({status})",
        "r_answered_instead": "the proxy answered {status} instead of the provider",
        "r_407_text": "the proxy answered 407 Proxy Authentication Required",
        "r_connect_403": "the proxy refused CONNECT ({status})",
        "r_connect_5xx": "the proxy answered a 5xx to CONNECT: it could not reach the provider",
        "r_tls": "TLS verification failed: {error}",
        "r_unparsable": "the proxy URL cannot be parsed (unencoded special characters?)",
        "r_unconnectable": "the proxy could not be connected to: {error}",
        "r_timeout": "timed out: {error}",
        "requests_ignores_ssl_cert_file": ("requests does not read SSL_CERT_FILE (curl does): it takes its CA "
                                           "bundle from REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE, and otherwise from "
                                           "certifi, which lacks the proxy's CA"),
        "requests_bundle_lacks_ca": ("REQUESTS_CA_BUNDLE={bundle} does not hold the CA that signs what the proxy "
                                     "presents, while curl's bundle does"),
        "requests_certifi": ("requests trusts certifi's bundle, not the system store curl uses, and certifi lacks "
                             "the proxy's CA"),
        "httpx_ignores_requests_bundle": ("httpx does not read REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE: it takes "
                                          "SSL_CERT_FILE (or SSL_CERT_DIR) and otherwise certifi"),
        "httpx_certifi": "httpx trusts certifi's bundle (or SSL_CERT_FILE), not the system store curl uses",
        "stricter_parser": ("{client} parses the proxy URL more strictly than curl: URL-encode the password "
                            "(see auth.special_chars)"),
        "credentials_not_sent": ("{client} did not send the credentials curl sent (curl may take them from "
                                 "proxy-user in ~/.curlrc or -U, never from .netrc; requests, httpx and Claude Code "
                                 "only from the proxy URL): put them in the proxy URL (auth.credentials)"),
        "latin1_password": ("{client} sends a proxy password holding a non-ASCII character in Latin-1, where curl, "
                            "httpx and Claude Code send UTF-8, which the proxy expects (measured with requests 2.34 "
                            "and Squid: 407 for requests only, with the password URL-encoded or not). No setting "
                            "changes that: ask IT for a password of ASCII characters, or use an httpx-based client "
                            "(the Anthropic SDK)"),
        "socks_extra": "{client} needs an extra package for a SOCKS proxy ({install})",
        "failed_with": "{client} failed with {code}: {error}",
    },
    "application.litellm_config": {
        "no_config": ("no LiteLLM config (set LITELLM_CONFIG or --proxydiag-litellm-config, or run where its "
                      "config.yaml is)"),
        "no_proxy_settings": "no http_proxy/https_proxy under litellm_settings.proxy or environment_variables",
        "configured": "{path}: proxy settings at {where}; every os.environ/ reference is set",
    },
}
