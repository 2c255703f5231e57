"""BYPASS ISSUES (flowchart section: requests don't go through the proxy).

Values the steps fill in:

* traffic_via_proxy — ``direct`` (client: rule lines), ``clients``, ``witness``, ``arrival``;
* no_proxy — ``problems`` (lines), ``matrix`` (lines), ``value``, ``source``, ``corrected``;
* system_proxy — ``conflicts`` (lines), ``who_uses`` (lines), ``env_proxy``;
* app_settings — ``path``, ``setting``, ``value``, ``problem``, ``change``, ``others``.
"""

STEPS = {
    "bypass.traffic_via_proxy": {
        "number": 1,
        "title": "Verify proxy is being used",
        "question": "Do the clients' requests to the provider go through the proxy?",
        "check": "sudo tcpdump -i any -n host proxy.company.com   # then: curl https://api.anthropic.com",
        "findings": {
            "direct": {"text": "{clients} would send {target} direct, skipping the proxy:\n{direct}",
                       "solution": "route"},
            "unobserved": {"text": "By its rules {witness} should use the proxy for {target}, but its request "
                                   "never arrived at the proxy: {arrival}", "solution": "route"},
        },
        "solutions": {"route": {"any": (
            "Make every client use the proxy for the provider:\n"
            "  1. Set both spellings, so no client falls back to another variable:\n"
            "{export_lines}\n"
            "  2. Remove the provider from NO_PROXY/no_proxy (see bypass.no_proxy for a value that works for "
            "every client).\n"
            "  3. Run the client from the shell where these are set (a service or IDE may not inherit them).\n"
            "Verify: curl -v {target_url} 2>&1 | grep -i 'connect to\\|proxy'   (it must say it connects to "
            "{proxy_hostport}){socks_note}")}},
        "notes": {
            "env_not_exported": "no proxy variable is set in this environment, so every client goes direct",
            "no_proxy": "no proxy is configured: nothing to route",
            "route_proxy": "proxy {variable}",
            "route_direct": "direct: {reason}",
            "direct_line": "  - {client} -> {host}: {reason}",
            # A SOCKS URL in HTTPS_PROXY routes only the clients that speak SOCKS (connectivity.SOCKS_CLIENTS).
            "socks_note": "\n{scheme}:// is a SOCKS proxy: in HTTPS_PROXY it serves only the clients that speak "
                          "SOCKS (curl; Python requests and httpx with their SOCKS extras). Python's urllib, Node "
                          "programs and Claude Code cannot use SOCKS at all: give them an HTTP proxy, the proxy's "
                          "HTTP port from IT or a local relay (Privoxy: forward-socks5t / {hostport} .; then "
                          "HTTPS_PROXY=\"http://127.0.0.1:8118\"); connectivity.proxy_works names the clients here.",
            "proxy_answered": "the proxy answered {status}",
            "unobserved_unparsable": ("{witness}'s request for {target} never arrived at the proxy ({arrival}): it "
                                      "cannot read the proxy URL, whose credentials need URL encoding"),
            "by_rules": "by their rules every client uses the proxy for {urls} (no client could run to prove it)",
            "proved": "every client uses the proxy by its rules; proved with {client}: its request {arrival} was "
                      "sent to the proxy (seen by a relay in front of it; {proxy_answer})",
        },
    },
    "bypass.no_proxy": {
        "number": 2,
        "title": "Check NO_PROXY configuration",
        "question": "Does NO_PROXY send the provider direct (or a local gateway through the proxy) for any client?",
        "check": "echo $NO_PROXY | grep -i \"anthropic\\|amazonaws\\|googleapis\"",
        "findings": {
            "bypassed": {"text": "NO_PROXY ({source}: \"{value}\") routes differently than intended:\n{problems}\n"
                                 "Per client:\n{matrix}", "solution": "remove"},
            "invalid": {"text": "NO_PROXY ({source}: \"{value}\") cannot be used by every client:\n{problems}",
                        "solution": "remove"},
        },
        "solutions": {"remove": {"any": (
            "Keep only internal domains in NO_PROXY, and set both spellings to the same value (clients "
            "disagree on which one wins):\n"
            "  export NO_PROXY=\"{corrected}\"\n"
            "  export no_proxy=\"$NO_PROXY\"\n"
            "This value was checked against the rules of curl, requests, urllib, httpx, Node, Claude Code and "
            "Go: it keeps {keep} direct and sends {must} through the proxy. Avoid \"*\", \"*.domain\" (not "
            "understood by every client) and bare suffixes like \"anthropic.com\" (requests also matches "
            "\"notanthropic.com\").")}},
        "notes": {
            "no_proxy_variable": "no proxy variable is set, so NO_PROXY has no effect",
            "gateway_direct": "the gateway {host} ({source}) is not reachable from the corporate proxy",
            "metadata_direct": "the cloud metadata endpoint (Bedrock/Vertex credentials) must not go through the "
                               "proxy",
            "metadata_direct_gce": ("Google's metadata server (the Vertex AI login of a Google Cloud VM or GKE pod, "
                                    "asked by this name) must not go through the proxy"),
            "client_error": "  - {client}: {error}",
            "goes_direct": "  - {client}: {host} goes direct: {variable} entry '{entry}' ({rule})",
            "goes_through": "  - {client}: {host} goes through the proxy, but {why}",
            "matrix_line": "  {client} (reads {variable}): {cells}",
            "reads_nothing": "nothing",
            "unset": "(unset)",
            "both_spellings": "NO_PROXY={upper!r}, no_proxy={lower!r}",
            "not_set": "NO_PROXY is not set",
            "keeps": "NO_PROXY ({source}) keeps {hosts} on the proxy for every client",
            "and_direct": " and {hosts} direct",
        },
    },
    "bypass.system_proxy": {
        "number": 3,
        "title": "Check system-wide proxy settings",
        "question": "Do system-wide proxy settings disagree with the environment?",
        "check": "cat /etc/environment | grep -i proxy; gsettings get org.gnome.system.proxy mode",
        "findings": {
            "conflict": {"text": "Proxy settings outside this shell disagree with the environment ({env_proxy}):"
                                 "\n{conflicts}\nWhich one each client uses:\n{who_uses}",
                         "solution": "align"},
        },
        "solutions": {
            "align": {
                "any": ("Make every place name the same proxy ({env_proxy}), or remove the ones you do not "
                        "need:\n{fixes}"),
                "macos": ("Check System Settings > Network > (your network) > Details > Proxies; "
                          "`scutil --proxy` shows what is active. Python requests/urllib use it when no proxy "
                          "variable is set, so a shell without HTTPS_PROXY goes through that proxy instead."),
                "debian": ("Check /etc/environment (read at login by PAM: log out and in after editing) and "
                           "GNOME's setting: gsettings get org.gnome.system.proxy mode "
                           "(gsettings set org.gnome.system.proxy mode 'none' to turn it off, or set its "
                           "https host/port to the same proxy)."),
                "rhel": ("Check /etc/environment and /etc/profile.d/*.sh (read at login: log out and in after "
                         "editing), and dnf/yum's proxy= in /etc/dnf/dnf.conf."),
                "windows": ("Check Settings > Network & Internet > Proxy, and `netsh winhttp show proxy`; "
                            "Python requests/urllib read the Internet Settings registry when no proxy variable "
                            "is set."),
            },
        },
        "notes": {
            "conflict_no_env": "  - {where}: {setting} = {value} (this shell has no proxy)",
            "fix_no_env": "  {where}: remove {setting}, or export the same proxy in your shell",
            "conflict_other": "  - {where}: {setting} = {value} (the environment says {env_proxy})",
            "fix_other": "  {where}: set {setting} to the proxy of {variable} ({env_proxy}), or remove it",
            "conflict_no_proxy": "  - {where}: {setting} = {value} (this shell has {source}={env_no_proxy})",
            "fix_no_proxy": "  {where}: use the same NO_PROXY value as your shell (see bypass.no_proxy)",
            "conflict_pac": "  - {where}: {setting} = {value} (the environment says {env_proxy})",
            "fix_pac": "  the PAC file: ask IT which proxy applies to the provider, and use the same one in "
                       "HTTPS_PROXY",
            "who_shell": "  - {clients} started from this shell: {env_proxy} ({variable})",
            "env_clients": "curl, Python requests/httpx, Node, Claude Code, Go",
            "who_source": "  - {used_by}: {value} ({where})",
            "no_proxy_variable": "no proxy variable",
            "no_proxy_set": "no proxy",
            "direct": "direct",
            "none_found": "none found",
            "agrees": "no system proxy setting disagrees with the environment ({env_proxy}); checked sources: "
                      "{names}{not_checked}",
            "not_checked": "; not checked: {notes}",
        },
    },
    "bypass.app_settings": {
        "number": 4,
        "title": "Check application-specific bypass",
        "question": "Do application settings override the environment?",
        "check": "cat ~/.claude/settings.json | grep -i proxy; grep -i proxy litellm-config.yaml",
        "findings": {
            "override": {"text": "{path} sets {setting} = \"{value}\": {problem}.{others}", "solution": "edit"},
            "unreadable": {"text": "{path} cannot be read by {app}: {problem}. Its proxy settings (if any) are "
                                   "ignored or break the app.", "solution": "edit"},
            "managed_unparsable": {"text": "{problem}. It is a managed (organisation) settings file, and Claude Code "
                                           "refuses to start while one is not a JSON object: every claude command "
                                           "exits at once with \"{path}: Managed settings document could not be "
                                           "parsed as a JSON object; none of its settings are in effect. Fix or "
                                           "remove it.\" (measured with 2.1.332), whatever the network does. A "
                                           "broken user, project or local settings file is only ignored.",
                                   "solution": "managed"},
        },
        "solutions": {"managed": {"any": (
            "Your organisation deploys {path}; it is not yours to edit: ask IT to fix its syntax (it must be one "
            "JSON object) or remove it. The line at fault: python3 -m json.tool {quoted}\n"
            "Until then Claude Code cannot start on this machine; no proxy or certificate change helps.")},
                      "edit": {"any": (
            "Edit {path}: {change}\n"
            "Settings in this file override the shell environment for {app} only, so the shell and the app "
            "disagree until they match. Claude Code reads, from lowest to highest precedence: "
            "~/.claude/settings.json, .claude/settings.json, .claude/settings.local.json, managed settings.")}},
        "notes": {
            "fix_syntax": "fix the syntax (it must be valid {format})",
            "fix_setting": "correct or remove \"{setting}\"; until then Claude Code ignores every setting of this "
                           "file",
            "sends_direct": "{app} sends {host} direct, skipping the proxy (entry '{entry}': {rule})",
            "keep_internal": "remove \"{name}\" from it, or list only internal hosts there (see bypass.no_proxy)",
            "empty_value": "an empty value turns the proxy off for {app}",
            "null_value": "JSON null does not unset a variable: Claude Code sets it to the text \"null\" and stops at "
                          "once with 'Invalid proxy URL in {name}: \"null\" cannot be parsed as a URL.' (measured with "
                          "2.1.332)",
            "remove_key": "remove \"{name}\" from it",
            "other_proxy": "{app} uses {app_proxy} while the shell uses {env_proxy} ({variable})",
            "same_as_shell": "set \"{name}\" to the same proxy as {variable}, or remove it so the shell's value "
                             "applies",
            "also": " Also: {problems}.",
            "no_settings": "no settings file with proxy keys",
            "no_override": "no application setting overrides the environment ({where})",
        },
    },
    "bypass.node_env_proxy": {
        "number": 5,
        "title": "Check that Node programs use the proxy",
        "question": "Do plain Node programs (fetch(), https) send the provider's traffic through the proxy?",
        "check": "node --version; NODE_USE_ENV_PROXY=1 node -e \"fetch('https://api.anthropic.com')"
                 ".then(r => console.log(r.status))\"",
        "findings": {
            "ignored": {"text": "Node {node} ignores {proxy_var}: a plain Node program's {apis} went direct to "
                                "{host} and failed ({error}). Node uses the proxy variables only when told to, "
                                "with NODE_USE_ENV_PROXY=1 or --use-env-proxy (Claude Code has its own proxy "
                                "support and is not affected).", "solution": "enable"},
            "ignored_value": {"text": "{value} is set, but Node {node} reads only NODE_USE_ENV_PROXY=1: its {apis} "
                                      "went direct to {host} and failed ({error}).", "solution": "enable"},
            "too_old": {"text": "Node {node} cannot use {proxy_var} at all: its {apis} went direct to {host} and "
                                "failed ({error}). NODE_USE_ENV_PROXY=1 and --use-env-proxy exist from Node "
                                "{fix_version}{switch_note}.", "solution": "upgrade"},
            "partial": {"text": "{switch} makes Node {node} send fetch() through the proxy, but not its https "
                                "module (that came in 24.5): a program using https went direct to {host} and "
                                "failed ({error}).", "solution": "upgrade"},
        },
        "solutions": {
            "enable": {"any": (
                "Tell Node to use the proxy variables, in the shell (or service) that starts your Node programs:\n"
                "{export_lines}\n"
                "(or start them with node --use-env-proxy). Only the value 1 counts. Node then follows "
                "HTTPS_PROXY and NO_PROXY for fetch() and the https module.\n"
                "Verify: NODE_USE_ENV_PROXY=1 node -e \"fetch('{target_url}').then(r => console.log(r.status))\" "
                "  (any HTTP status, even 401, means it got through)")},
            "upgrade": {"any": (
                "Node {node} is too old to use the proxy by itself. Either install Node {fix_version} or newer "
                "(for example: nvm install 24, or your distribution's nodejs 24 package) and then\n"
                "{export_lines}\n"
                "or, in the program, route requests through the proxy yourself: undici's EnvHttpProxyAgent "
                "(setGlobalDispatcher(new EnvHttpProxyAgent())) for fetch(), an https-proxy-agent for https.")},
        },
        "notes": {
            "no_proxy": "no proxy is configured: nothing to route",
            "no_node": "no node on PATH: no Node program to check",
            "not_chosen": "node is not among the clients to run (--proxydiag-clients {clients})",
            "socks": "the proxy is SOCKS ({scheme}://), which Node's proxy support does not speak",
            "all_no_proxy": "NO_PROXY sends {targets} direct for Node too (see bypass.no_proxy)",
            "no_answer": "node {node} could not run: {error}",
            "uses_proxy": "Node {node} sends fetch() and https through the proxy ({switch}); seen by a relay in "
                          "front of the proxy: {arrival}",
            "direct_works": "Node {node} ignores {proxy_var} and sends {apis} to {host} direct, which works here "
                            "({status}). Where direct traffic is blocked, set NODE_USE_ENV_PROXY=1{upgrade_note}.",
            "upgrade_note": " (on Node {fix_version} or newer)",
            "not_used": "Node {node} ignores {proxy_var}: its {apis} went direct to {host} and failed ({error}). No "
                        "Node program here uses an LLM SDK (./package.json), so this is not a finding; for Node "
                        "programs that need the provider set NODE_USE_ENV_PROXY=1 (Node 22.21/24.5+), or pass "
                        "--proxydiag-clients node to have it judged as one.",
            "switch_note": "; this Node also refuses to start with --use-env-proxy",
            "none_set": "no switch set",
            "fixed": "With NODE_USE_ENV_PROXY=1, Node {node}'s {apis} went through the proxy (seen by a relay in "
                     "front of it: {arrival}; before: direct).",
            "still_direct": "With NODE_USE_ENV_PROXY=1, Node {node} still sent {apis} direct.",
            "not_fixable": "Not verified: Node {node} has no NODE_USE_ENV_PROXY; the fix needs Node {fix_version} "
                           "or newer, which this run cannot install.",
        },
    },
}
