"""AUTHENTICATION ISSUES (flowchart section: 407 Proxy Authentication Required)."""

STEPS = {
    "auth.credentials": {
        "number": 1,
        "title": "Verify credentials",
        "question": "Are username and password correct?",
        "check": 'curl -x "http://username:password@proxy:8080" https://api.anthropic.com',
        "findings": {
            "rejected": {
                "text": "The proxy {proxy} answered {status} to CONNECT {target} with {credentials} "
                        "(from {source}). Proxy-Authenticate: {challenge}. {squid_error}{product}",
                "solution": "contact_it",
            },
            # Refusal shapes other than a 407 (branches/products.py refusal_shape).
            "rejected_401": {
                "text": "The proxy {proxy} answered {status} (not 407) to CONNECT {target} with {credentials} "
                        "(from {source}): {product_name} answers 401 when the credentials sent are wrong. "
                        "WWW-Authenticate: {challenge}. {product}",
                "solution": "contact_it",
            },
            "login_portal": {
                "text": "The proxy {proxy} answered {status} to CONNECT {target} with a login page: it "
                        "authenticates people through a browser session (a portal), not with credentials in "
                        "{source}. {product}",
                "solution": "portal",
            },
            "required": {
                "text": "The proxy {proxy} requires authentication ({status}, Proxy-Authenticate: "
                        "{challenge}) but {source} carries no credentials. {product}",
                "solution": "add_credentials",
            },
            # A parent proxy behind the one asked wrote the 401/407 (its own Via / X-Cache host, not the proxy's):
            # Squid's cache_peer sends the parent its own login= or, with login=PASSTHRU, the client's.
            "parent_required": {
                "text": "The proxy {proxy} answered {status} to CONNECT {target}, but another proxy behind it wrote "
                        "that answer: it names {parent}, while the proxy itself, asked for its own page, names "
                        "{own}. The proxy passed on its parent proxy's demand for credentials (Proxy-Authenticate: "
                        "{challenge}); {source} carries none. Whose credentials the parent wants is set in the first "
                        "proxy's configuration: its own account for the parent (Squid: login=user:password on its "
                        "cache_peer line; tinyproxy: Upstream http user:password@parent:port), which your "
                        "HTTPS_PROXY cannot change, or yours passed on (Squid: login=PASSTHRU; Privoxy: "
                        "enable-proxy-authentication-forwarding 1). {product}",
                "solution": "parent_which",
            },
            "parent_rejected": {
                "text": "The proxy {proxy} answered {status} to CONNECT {target} with {credentials} (from {source}), "
                        "but another proxy behind it wrote that answer: it names {parent}, while the proxy itself, "
                        "asked for its own page, names {own}. Its parent proxy refused what the proxy sent it "
                        "(Proxy-Authenticate: {challenge}): your credentials passed on (Squid: login=PASSTHRU on its "
                        "cache_peer line; Privoxy: enable-proxy-authentication-forwarding 1), or, when it does not "
                        "pass yours on, none or the proxy's own account for the parent (Squid: login=user:password), "
                        "missing or wrong. {product}",
                "solution": "parent_which",
            },
            "parent_login": {
                "text": "The proxy {proxy} answered {status} to CONNECT {target} (Proxy-Authenticate: {challenge}), "
                        "but another Squid made that answer: its X-Cache-Lookup names {at}, not port {proxy_port} "
                        "where the proxy was asked, and a plain request through the proxy passed two proxies (Via: "
                        "{via}). The proxy forwards to a parent proxy that wants a login, and it does not pass yours "
                        "on: credentials in HTTPS_PROXY never reach the parent, right or wrong.",
                "solution": "parent_login",
            },
            "loop": {
                "text": "The proxy {proxy} answered 407 again after the credentials were sent: {detail}",
                "solution": "contact_it",
            },
            # SOCKS5 (RFC 1928 method selection, RFC 1929 username/password): net/socks.py.
            "socks_rejected": {
                "text": "The SOCKS5 proxy {proxy} refused {credentials} (from {source}) at the {stage} stage "
                        "(reply {code}): {meaning}. {product}",
                "solution": "socks_contact_it",
            },
            "socks_required": {
                "text": "The SOCKS5 proxy {proxy} wants a username and password but {source} carries none "
                        "(method reply {code}: {meaning}). {product}",
                "solution": "socks_add_credentials",
            },
        },
        "solutions": {
            "contact_it": {"any": (
                "Contact IT for correct credentials: the proxy rejects user {username!s}.\n"
                "Test new credentials before you export them (the password is asked, not typed on the line):\n"
                "  curl -x {proxy_noauth} --proxy-user {username} -I {target_url}\n"
                "Then put them, URL-encoded, into HTTPS_PROXY:\n"
                "  export HTTPS_PROXY=\"{proxy_placeholder}\"\n"
                "If the password is right (the same login works elsewhere), the proxy's own check of it is failing, "
                "which answers the same 407: ask IT to look at its authentication helper and the directory behind "
                "it (Squid: the auth_param program, e.g. basic_ldap_auth; cache.log shows 'helper: ... result=BH' "
                "when it cannot reach LDAP or Active Directory).")},
            "parent_login": {"any": (
                "Ask IT to give the proxy {proxy_hostport} the login its parent proxy wants (Squid: the cache_peer "
                "line of that parent with login=user:password for a service account, or login=PASSTHRU to pass each "
                "user's own credentials on, with those then in HTTPS_PROXY). Adding or changing credentials in "
                "HTTPS_PROXY alone cannot fix this.\n"
                "Retest: curl -v -x {proxy_noauth} {target_url}")},
            "portal": {"any": (
                "Command-line clients cannot sign in to a browser portal. Ask IT for a proxy endpoint that accepts "
                "Basic credentials (user and password in HTTPS_PROXY), or for an authentication exemption for "
                "{target_host} for this machine; an LLM gateway that signs in for you (see the README) also works.")},
            "socks_contact_it": {"any": (
                "Contact IT for correct credentials: the SOCKS proxy rejects user {username!s}.\n"
                "Test new credentials before you export them (the password is asked, not typed on the line):\n"
                "  curl -x {proxy_noauth} --proxy-user {username} -I {target_url}\n"
                "Then put them, URL-encoded, into the proxy URL:\n"
                "  export HTTPS_PROXY=\"{proxy_placeholder}\"")},
            "socks_add_credentials": {"any": (
                "The SOCKS proxy wants a user name and password. Add them, URL-encoded, to the proxy URL:\n"
                "  export HTTPS_PROXY=\"{scheme}://YOUR_USER:<URL-ENCODED-PASSWORD>@{hostport}\"\n"
                "Check first with: curl -x {proxy_noauth} --proxy-user YOUR_USER -I {target_url}")},
            "parent_which": {"any": (
                "Ask IT which credentials the parent proxy ({parent}) expects from the proxy {proxy_hostport}:\n"
                "  - the proxy's own account: IT sets it in the proxy's configuration (Squid: cache_peer ... "
                "login=user:password; tinyproxy: Upstream http user:password@parent:port; Privoxy: forward-socks5 "
                "user:password@parent:port); changing your HTTPS_PROXY cannot fix that;\n"
                "  - your own account, passed on (Squid: cache_peer ... login=PASSTHRU; Privoxy: "
                "enable-proxy-authentication-forwarding 1): then put yours, URL-encoded, into the proxy URL:\n"
                "    export HTTPS_PROXY=\"{scheme}://YOUR_USER:<URL-ENCODED-PASSWORD>@{hostport}\"\n"
                "Evidence:\n{evidence}\nRetest: curl -v -x {proxy_noauth} --proxy-user YOUR_USER {target_url}")},
            "add_credentials": {"any": (
                "The proxy wants a user name and password. Add them, URL-encoded, to the proxy URL:\n"
                "  export HTTPS_PROXY=\"{scheme}://YOUR_USER:<URL-ENCODED-PASSWORD>@{hostport}\"\n"
                "Check first with: curl -x {proxy_noauth} --proxy-user YOUR_USER -I {target_url}")},
        },
    },
    "auth.special_chars": {
        "number": 2,
        "title": "Check special characters",
        "question": "Does the password contain special characters (@, :, /, ?, #, etc.)?",
        "findings": {
            "unencoded": {
                "text": "The proxy URL from {source} has credentials with unencoded special characters "
                        "({chars}). Clients split it differently: {client_reading}.",
                "solution": "encode",
            },
            "literal_percent": {
                "text": "The proxy URL from {source} has a '%' followed by two hex digits in the password, which "
                        "every client decodes to another character: the proxy refused the password so decoded and "
                        "accepted it as written. That '%' belongs to the password, so encode it as %25.",
                "solution": "encode",
            },
            "invalid_percent": {
                "text": "The proxy URL from {source} has a '%' in the credentials that is not a valid %XX escape.",
                "solution": "encode",
            },
        },
        "solutions": {
            "encode": {"any": (
                "URL-encode the user name and password. The encoded URL (password masked) is:\n"
                "  {encoded_url}\n"
                "Produce it yourself without typing the password on the command line:\n"
                "  python3 -c 'import getpass, urllib.parse as u; print(\"{scheme}://\" + u.quote(input(\"user: \"), safe=\"\") + \":\" + u.quote(getpass.getpass(), safe=\"\") + \"@{hostport}\")'\n"
                "Copy the output to HTTPS_PROXY:\n"
                "  export HTTPS_PROXY=\"<the printed URL>\"")},
        },
    },
    "auth.env_exported": {
        "number": 3,
        "title": "Verify environment variable",
        "question": "Is HTTPS_PROXY correctly exported?",
        "check": "echo $HTTPS_PROXY && claude /status",
        "findings": {
            "missing": {
                "text": "No proxy variable is set in this process; the proxy under diagnosis came from "
                        "{source}. {where}",
                "solution": "export",
            },
            "empty_lower": {
                "text": "{lower} is set but empty while {upper} holds the proxy. Python (requests, urllib, httpx, "
                        "LiteLLM) takes the empty {lower} as \"no proxy\" and goes direct; curl and Claude Code "
                        "count an empty value as unset and use {upper} (measured with curl 7.88.1 and Claude Code "
                        "2.1.332): the same shell gives two verdicts.",
                "solution": "unset_empty",
            },
            "case_mismatch": {
                "text": "Upper and lower case disagree: {detail}. curl, Python and Claude Code read the lower-case "
                        "one, Go reads the upper-case one first.",
                "solution": "export",
            },
            "http_only": {
                "text": "Only HTTP_PROXY is set ({detail}); curl and Python requests send https traffic "
                        "direct, while Claude Code uses HTTP_PROXY for it.",
                "solution": "export",
            },
            "profile_only": {
                "text": "The proxy is set in {where} but not in this shell.",
                "solution": "export",
            },
            "malformed_value": {
                "text": "{var} holds the proxy URL inside {around} (pasted with it?). Clients take the value as it "
                        "is: requests and the Anthropic SDK fail to parse it ('Unknown scheme', 'Failed to parse'). "
                        "Set it again without them.",
                "solution": "export",
            },
        },
        "solutions": {
            "unset_empty": {"any": (
                "Remove the empty {lower}, in this shell and in the file that sets it (look for "
                "\"{lower}=\" in {profile}):\n"
                "  unset {lower}\n"
                "Verify: env | grep -i _proxy   ({upper} stays; {lower} is gone or holds the same proxy)")},
            "export": {"any": (
                "Export the proxy in the shell (and profile) where Claude Code runs.\n"
                "Add to {profile}:\n"
                "{export_lines}\n"
                "Reload it: source {profile}   (or open a new terminal)\n"
                "Verify: echo $HTTPS_PROXY && claude /status")},
        },
    },
    "auth.netrc": {
        "number": 4,
        "title": "Test .netrc method",
        "question": "Using .netrc for credentials?",
        "check": "ls -la ~/.netrc  # should show -rw------- (600)",
        "findings": {
            "mode": {
                "text": "{path} has mode {mode}; curl and requests ignore or refuse a .netrc readable by others "
                        "(it holds a password).",
                "solution": "chmod",
            },
            "malformed": {
                "text": "{path} cannot be parsed: {detail}",
                "solution": "format",
            },
            "unreadable": {
                "text": "{path} cannot be read: {detail}",
                "solution": "format",
            },
            "rejected": {
                "text": "The login in {path} for {host} is rejected by the proxy ({status}).",
                "solution": "rejected",
            },
            "not_read": {
                "text": "{path} holds a login for the proxy host {host} ({login}) and the proxy accepts it, but no "
                        "client here sends it: curl (even with --netrc), Python requests, httpx and Claude Code "
                        "take proxy credentials only from the proxy URL, never from .netrc, so each of them sends "
                        "none and gets 407.",
                "solution": "inline",
            },
            "no_entry": {
                "text": "{path} has no machine entry for the proxy host {host}; proxy credentials are not "
                        "taken from it. {detail}",
                "solution": "format",
            },
        },
        "solutions": {
            "chmod": {"any": "Fix the permissions:\n  chmod 600 {path}\n  ls -la {path}   # -rw-------"},
            "format": {"any": (
                "Write the entry on separate lines, exact spacing:\n"
                "  machine {host}\n  login <user>\n  password <password>\n"
                "and chmod 600 {path}. Some HTTP libraries (Node, Claude Code) do not read .netrc at all: "
                "use inline credentials in HTTPS_PROXY or a secret manager.")},
            "inline": {"any": (
                "Put the login into the proxy URL, the password URL-encoded (keep {path} for the servers that "
                "read it):\n{export_lines}")},
            "rejected": {"any": (
                "The proxy rejects the login stored in {path}. Contact IT for correct credentials, update the "
                "entry, and keep chmod 600 {path}. Some HTTP libraries do not read .netrc: use inline "
                "credentials in HTTPS_PROXY instead.")},
        },
    },
    "auth.scheme": {
        "number": 5,
        "title": "Check proxy type",
        "question": "Does the proxy use NTLM or Kerberos authentication?",
        "check": 'curl -v -x proxy:8080 https://api.anthropic.com 2>&1 | grep -i "Proxy-Authenticate"',
        "findings": {
            "ntlm_or_negotiate": {
                "text": "The proxy {proxy} offers only {schemes} (Proxy-Authenticate: {challenge}). "
                        "Claude Code, Node and Python requests/httpx cannot speak it; curl can with --proxy-ntlm "
                        "or --proxy-negotiate.",
                "solution": "cntlm",
            },
            "unsupported": {
                "text": "The proxy {proxy} offers {schemes} and not Basic: Claude Code, Python's requests and httpx "
                        "send Basic credentials and are refused with 407 again (measured against Squid's 'auth_param "
                        "digest': Claude Code 2.1.332 says 'Couldn't connect through your proxy (ERR_PROXY_TUNNEL)'). "
                        "curl speaks Digest only when told to (--proxy-digest).",
                "solution": "contact_it",
            },
        },
        "solutions": {
            "cntlm": {
                "any": (
                    "Use cntlm (NTLM) or a Kerberos ticket, and point the clients at a local proxy that speaks "
                    "Basic or no auth.\n"
                    "For NTLM (cntlm -H asks for your password and prints its PassNTLMv2 hash; the password "
                    "itself is never written down):\n"
                    "  cntlm -H -u youruser -d COMPANY\n"
                    "  printf '%s\\n' 'Username youruser' 'Domain COMPANY' 'Auth NTLMv2' "
                    "'PassNTLMv2 <the hash cntlm -H printed>' 'Proxy {proxy_hostport}' 'Listen 3128' > ~/.cntlm.conf\n"
                    "  chmod 600 ~/.cntlm.conf\n  cntlm -c ~/.cntlm.conf &\n"
                    "  export HTTPS_PROXY=\"http://localhost:3128\"\n"
                    "For Kerberos (Negotiate):\n  kinit youruser@COMPANY.COM\n  klist\n"
                    "  export HTTPS_PROXY=\"{proxy_noauth}\"   # only clients with SPNEGO (curl) use the ticket"),
                "macos": "Install cntlm: brew install cntlm",
                "debian": "Install cntlm: sudo apt-get install cntlm",
                "rhel": "Install cntlm: sudo dnf install cntlm (EPEL)",
                "windows": "Install cntlm (or Px: pip install px-proxy, which uses your Windows login).",
            },
            "contact_it": {"any": "Check with IT: ask for a proxy endpoint with Basic authentication or none."},
            "default": {"any": "Check with IT: the proxy uses Basic authentication, so this may be an account issue."},
        },
    },
}

#: Pass summaries, skip and block reasons, and the details the branch names by key.
NOTES = {
    "auth.credentials": {
        "accepted": "the proxy accepted CONNECT {target} with {who}",
        "socks_accepted": "the SOCKS5 proxy accepted CONNECT {target} with {who}",
        "credentials_of": "the credentials of user {user}",
        "none_sent": "no credentials",
        "this_proxy": "this proxy",
        "hop_evidence": "CONNECT: {answer} (Server: {server}; Via: {via}; X-Cache: {cache}); GET / from the proxy "
                        "itself: {own_answer} (Server: {own_server}; Via: {own_via})",
        "basic_not_offered": "the proxy offers only {schemes}; Basic credentials cannot work",
    },
    "auth.special_chars": {
        "no_credentials": "the proxy URL carries no credentials",
        "encoded": "the credentials in the proxy URL need no encoding",
    },
    "auth.env_exported": {
        "nowhere": "no proxy is configured anywhere (environment, profiles, --proxydiag-proxy)",
        "set_in_unloaded": "It is set in {files}, which this shell did not load.",
        "in_no_profile": "No shell profile sets it either.",
        "exported": "set in this process: {names}",
        "its_settings": "its settings",
        "pasted_blanks": "blanks",
        "pasted_quotes": "quotes",
        "pasted_blanks_quotes": "quotes and blanks",
        "settings_only": ("no proxy variable in this shell: Claude Code takes it from {source} (in {where}), so "
                          "its traffic uses the proxy; which other clients go direct is application.env_in_shell's"),
    },
    "auth.netrc": {
        "no_netrc": "no .netrc ({path}): credentials are not taken from it",
        "no_entry": "{path} has no machine entry for the proxy host {host} (entries: {machines})",
        "not_regular": "it is not a regular file",
        "too_large": "it is {size} bytes, not a .netrc",
        "parse_error": "line {line}: {msg}",
        "entry_lacks": "the entry for {host} has no {missing}",
        "netrc_ok": "{path}: mode 600, the login for {host} is accepted by the proxy",
    },
    "auth.scheme": {
        "http_only": ("the proxy is {scheme}:// (SOCKS): it has no Proxy-Authenticate header to read; SOCKS5 "
                      "offers username/password in its method reply, which auth.credentials judges"),
        "no_auth": "the proxy does not ask for authentication",
        "basic_offered": "the proxy offers {schemes}: Basic works for every client",
    },
}
