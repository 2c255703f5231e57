"""PROXY POLICY ISSUES, beyond the API: every host Claude Code needs through the proxy (issue 17).

Users report each of these breaking on its own while the API works: WebFetch's
domain check, the updater (npm registry or the native download host), and MCP
servers over HTTP (a local one must bypass the proxy, a remote one must pass it).
Telemetry and error reporting being refused is said, never a finding.
"""

#: What each host is for, as a person reads it.
PURPOSES = {
    "webfetch": "WebFetch's domain safety check (documented)",
    "oauth_refresh": ("renewal of the claude.ai login's token, platform.claude.com/v1/oauth/token (measured with "
                      "2.1.332: asked when the token expires; refused, every session ends at that point)"),
    "webfetch_measured": ("WebFetch's domain safety check, api.anthropic.com/api/web/domain_info (measured in the "
                          "2.1.332 binary: asked whatever the API provider)"),
    "telemetry": "telemetry (Datadog log intake, measured in the 2.1.332 binary)",
    "telemetry_documented": "telemetry (statsig, as documented)",
    "error_reporting": "error reporting (Sentry)",
    "bedrock_profiles": ("Bedrock's list of inference profiles (ListInferenceProfiles, measured with 2.1.332; refused, "
                         "Claude Code uses its own model list)"),
    "updates_npm": "updates of the npm install (npm registry)",
    "updates_native": "updates of the native install",
    "mcp_remote": "MCP server {name} ({source})",
}

STEPS = {
    "policy.claude_hosts": {
        "number": 5,
        "title": "Every host Claude Code needs passes the proxy",
        "question": "Besides the API, does the proxy let Claude Code reach WebFetch's check, its updater and "
                    "the MCP servers it is configured with, and do local MCP servers bypass the proxy?",
        "check": "curl -sv -o /dev/null -x \"$HTTPS_PROXY\" https://claude.ai   # and each host below",
        "findings": {
            "refused": {"text": "The proxy refuses hosts Claude Code needs besides the API: {hosts}. The API "
                                "works, so Claude Code starts, but these features fail on their own.{informational}",
                        "solution": "allow"},
            "local_mcp_via_proxy": {"text": "Claude Code sends its local MCP server(s) {servers} to the "
                                            "corporate proxy {proxy}: their hosts are not in NO_PROXY "
                                            "({no_proxy}).", "solution": "no_proxy"},
        },
        "solutions": {
            "allow": {"any": "Ask the proxy team to allow these domains (CONNECT to port 443) for Claude Code "
                             "users:\n{domains}\nWhere to change it: the corporate proxy (its policy).{webfetch_note}"},
            "no_proxy": {"any": "Add the local MCP servers' hosts to NO_PROXY:\n  export NO_PROXY=\"{corrected}\"\n"
                                "  export no_proxy=\"$NO_PROXY\"\n(or in the \"env\" block of "
                                "~/.claude/settings.json). Where to change it: the developer's machine."},
        },
    },
}

NOTES = {
    "policy.claude_hosts": {
        "all_allowed": ("no host Claude Code needs besides the API is refused by the proxy (allowed: "
                        "{hosts}).{informational}"),
        "informational": (" Not reached, for information only (Claude Code's API path does not depend on "
                          "them): {hosts}."),
        "auth_first": "the proxy wants authentication first",
        "refused_everywhere": ("the proxy refuses {reference} the same way ({detail}): a rule for every name, "
                               "not against these hosts"),
        "switched_off": "not checked (--proxydiag-no-claude-hosts)",
        "http_only": ("the proxy is {scheme}:// (SOCKS): Claude Code cannot use a SOCKS proxy at all "
                      "(connectivity.proxy_works says so and how to relay it), so the hosts it needs are checked "
                      "through an HTTP proxy only"),
        "nothing": "Claude Code needs no other host here (updates, telemetry and error reports are off)",
        "webfetch_note": ("\nWebFetch's error names claude.ai (\"Unable to verify if domain ... is safe to fetch ... "
                          "blocking claude.ai\"), but this Claude Code asks api.anthropic.com before every fetch, "
                          "whatever its API provider: allowing claude.ai alone does not mend it. Where the "
                          "organisation decides WebFetch may fetch without Anthropic's domain check, Claude Code's own "
                          "setting \"skipWebFetchPreflight\": true (in {settings}) turns that check off."),
        "preflight_skipped": "WebFetch's domain check is off (skipWebFetchPreflight in {path})",
        "nothing_but": "{nothing}; {preflight}",
    },
}
