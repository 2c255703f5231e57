"""CONNECTIVITY ISSUES (flowchart section: connection refused or connection timeout)."""

_NETWORK_STEPS = (
    "Diagnostic steps:\n"
    "  1. Verify the proxy host name resolves:  nslookup {host}   (or: dig {host})\n"
    "  2. Check the route to the proxy:         traceroute {host}\n"
    "  3. Check firewall rules; contact IT if the proxy is unreachable.\n"
    "  4. Verify you are on the corporate network: VPN connected? Correct network segment?\n"
    "Retest: nc -zv {host} {port}")

STEPS = {
    "connectivity.proxy_reachable": {
        "number": 1,
        "title": "Verify proxy is reachable",
        "question": "Can a TCP connection to the proxy be opened?",
        "check": "nc -zv proxy.company.com 8080",
        "findings": {
            "refused": {"text": "Connection to the proxy {hostport} ({address}) was refused: nothing listens "
                                "there. {detail}", "solution": "not_listening"},
            "timeout": {"text": "Connection to the proxy {hostport} ({address}) timed out after {timeout}s: "
                                "packets are dropped (firewall, VPN, wrong network). {detail}",
                        "solution": "network"},
            "unresolvable": {"text": "The proxy host name {host} does not resolve: {detail}",
                             "solution": "network"},
            "unreachable": {"text": "The proxy {hostport} is unreachable: {detail}", "solution": "network"},
            "invalid_url": {"text": "The proxy setting cannot be used: {detail}", "solution": "fix_url"},
        },
        "solutions": {
            "network": {"any": "Network/firewall issue.\n" + _NETWORK_STEPS},
            # A refusal is an answer: the host is reached, so DNS, routes and VPN are not the problem.
            "not_listening": {"any": (
                "The host {host} answered, but nothing accepts connections on port {port}: the network path works "
                "(no DNS, route or VPN problem); the proxy is not running there, or the port is wrong.\n"
                "  1. The port: ask IT, or read the PAC file (connectivity.proxy_port tried the usual ones).\n"
                "  2. A proxy on this machine (127.0.0.1, localhost: cntlm, px, Fiddler, a VPN client's proxy): "
                "start it.\n"
                "  3. A firewall that rejects instead of dropping answers the same way: if IT confirms the port, "
                "ask them to check that rule.\n"
                "Retest: nc -zv {host} {port}")},
            "fix_url": {"any": (
                "Correct the proxy URL in {source} as the finding says. It must look like http://HOST:PORT "
                "(or http://USER:PASSWORD@HOST:PORT with URL-encoded credentials):\n"
                "  export HTTPS_PROXY=\"http://<PROXY-HOST>:<PORT>\"\n"
                "IT or the PAC file names the host and port.")},
        },
    },
    "connectivity.proxy_port": {
        "number": 2,
        "title": "Check proxy port",
        "question": "Is the proxy port correct?",
        "check": "for port in 8080 3128 8888 8443; do nc -zv proxy.company.com $port; done",
        "findings": {
            "other_port": {"text": "Port {port} on {host} is closed, but {found} answer like a proxy.",
                           "solution": "use_port"},
            "none_open": {"text": "Port {port} on {host} is closed and none of {tried} answers like a proxy.",
                          "solution": "contact_it"},
            "other_address": {"text": "Port {port} on {host} ({addresses}) is closed, but {other}:{port}, the same "
                                      "port on the other loopback address, answers like a proxy ({found}): the proxy "
                                      "listens on {other} only. {clients}",
                              "solution": "use_address"},
        },
        "solutions": {
            "use_port": {"any": "Update the proxy variables with the port that answers, both spellings (curl and "
                                "Python read the lowercase ones first):\n"
                                "  export HTTPS_PROXY=\"{suggested}\"\n"
                                "  export https_proxy=\"$HTTPS_PROXY\" HTTP_PROXY=\"$HTTPS_PROXY\" "
                                "http_proxy=\"$HTTPS_PROXY\""},
            "use_address": {"any": "Name the address the proxy listens on in the proxy variables, both spellings:\n"
                                   "  export HTTPS_PROXY=\"{suggested}\"\n"
                                   "  export https_proxy=\"$HTTPS_PROXY\" HTTP_PROXY=\"$HTTPS_PROXY\" "
                                   "http_proxy=\"$HTTPS_PROXY\"\n"
                                   "Or let the proxy listen on both loopback addresses (Squid: 'http_port 3128' "
                                   "without an address listens on every one; 'http_port [::1]:3128' on ::1 only)."},
            "contact_it": {"any": "Contact IT for the correct proxy endpoint (host and port), or the proxy "
                                  "auto-config (PAC) URL that names it."},
        },
    },
    "connectivity.proxy_works": {
        "number": 3,
        "title": "Test basic proxy functionality",
        "question": "Do an HTTP request and an HTTPS CONNECT through the proxy work?",
        "check": 'curl -v -x "http://proxy:8080" https://api.anthropic.com',
        "findings": {
            "connect_failed": {"text": "CONNECT {target} through {proxy} failed: {detail}", "solution": "contact_it"},
            # Refusal shapes (branches/products.py refusal_shape), each with its own solution.
            "pac_url": {"text": "{where} names {url}, the address of a proxy auto-config (PAC) file, not a proxy: "
                                "the web server there answered CONNECT {target} with {status}. The PAC file names "
                                "these proxies: {proxies}{answer}.", "solution": "pac"},
            "connect_not_allowed": {"text": "The proxy {proxy} does not allow CONNECT to {target}: it answered "
                                            "{status}. {product}", "solution": "allow_connect"},
            "client_denied": {"text": "The proxy {proxy} refuses this machine itself, for every destination: it "
                                      "answered {status} to CONNECT {target}, and its page says this host is not "
                                      "among the clients it serves. This is not a domain rule. {product}",
                              "solution": "allow_client"},
            "not_forward_proxy": {"text": "The proxy {proxy} answered {status} to CONNECT {target}, and its page says "
                                          "it is not a forward proxy: '{words}'. The address runs a reverse proxy or a "
                                          "web server, which refuses CONNECT to every name. {product}",
                                  "solution": "forward_proxy"},
            "refuses_everything": {"text": "The proxy {proxy} refuses {reference}, a name every proxy lets through, "
                                           "exactly as it refuses {target}: it answered {status} to both. It refuses "
                                           "this machine (or this user) for every destination, or lets only a short "
                                           "list of names through: this is not a rule against the provider. "
                                           "{product}",
                                   "solution": "allow_machine"},
            "browser_only": {"text": "The proxy {proxy} refuses {target} and {reference}, a name every proxy lets "
                                     "through, alike ({status}), but let the same CONNECT to {reference} past its "
                                     "rules when it carried a browser's User-Agent ({browser}): it lets only browsers "
                                     "through, by the User-Agent header (Squid: an http_access rule on a 'browser' "
                                     "ACL such as 'acl browser browser -i Mozilla'). That is why the browser works "
                                     "and nothing else does: Claude Code, Python's requests and httpx send no "
                                     "User-Agent with CONNECT, curl sends curl/<version> (measured with Claude Code "
                                     "2.1.332, requests, httpx and curl 7.88). This is not a rule against the "
                                     "provider. {product}", "solution": "allow_clients"},
            "closes_everything": {"text": "The proxy {proxy} closed the connection without any reply to CONNECT "
                                          "{target}, and did the same to CONNECT {reference}, a name every "
                                          "proxy lets through, and to a plain http:// request: it answers nothing to "
                                          "this machine. A client rule that drops connections silently does this "
                                          "(Privoxy's permit-access / deny-access without your address; a firewall "
                                          "rule in front of the proxy), or the proxy is broken. This is not a rule "
                                          "against the provider.", "solution": "allow_client_silent"},
            "connect_refused": {"text": "The proxy {proxy} refuses CONNECT to every name: {target} and {reference} "
                                        "alike ({status}), while it forwards a plain http:// request to the same "
                                        "name ({plain}). CONNECT itself is refused, which every https:// "
                                        "client needs: this is not a rule against the provider. {product}",
                                "solution": "allow_connect"},
            "bad_request": {"text": "The proxy {proxy} answered {status} to CONNECT {target}: it could not parse "
                                    "the request. {product}", "solution": "request_form"},
            "no_answer": {"text": "The proxy {proxy} accepted the connection but did not answer within "
                                  "{timeout}s: {detail}", "solution": "contact_it"},
            "later_connect_refused": {"text": "The proxy {proxy} opened a CONNECT to {target} ({first}) and then "
                                              "refused the next one from this machine ({status}): it lets some of "
                                              "this machine's connections through and not others. A limit on "
                                              "connections or requests does this (Squid: a maxconn ACL, a quota or "
                                              "session helper through external_acl_type, a rate limit); Claude Code "
                                              "and the SDKs open several connections, so they meet it where a single "
                                              "test may not. This is not a rule against the provider's name.",
                                      "solution": "connection_limit"},
            "auth_hangs": {"text": "The proxy {proxy} answered CONNECT {target} at once when sent without credentials "
                                   "({status}), but with the credentials of the proxy URL it did not answer within "
                                   "{timeout}s ({detail}): it is waiting on its own check of the login, an "
                                   "authentication helper (LDAP, Active Directory, RADIUS) that is slow or stuck. The "
                                   "proxy is up and reached: not the network, not the provider.",
                           "solution": "auth_backend_slow"},
            "garbage": {"text": "The proxy {proxy} answered something that is not HTTP: {detail}",
                        "solution": "not_a_proxy"},
            "tls_mismatch": {"text": "{detail}", "solution": "scheme"},
            "client_cert_refused": {"text": "The proxy {proxy} speaks TLS (its port completes a handshake) but "
                                            "ended the connection: {detail}. It wants a client certificate (mTLS) "
                                            "it accepts, and none it accepts was presented. Claude Code presents "
                                            "CLAUDE_CODE_CLIENT_CERT and CLAUDE_CODE_CLIENT_KEY to an https:// "
                                            "proxy too (measured with 2.1.332); certificate.client_cert says "
                                            "whether one is configured and what is wrong with it.",
                                    "solution": "client_cert"},
            "proxy_tls_untrusted": {"text": "The proxy {proxy} is spoken to over TLS (https:// proxy URL) and its "
                                            "own certificate is not trusted: {detail}",
                                    "solution": "trust_proxy_ca"},
            "parent_auth": {"text": "The proxy {proxy} answered {status} to CONNECT {target}: its own parent proxy "
                                    "refused the proxy's credentials ('{words}'). This is authentication between the "
                                    "proxy and its parent, set in the proxy's configuration, not your credentials. "
                                    "{product}", "solution": "parent_credentials"},
            "auth_backend": {"text": "The proxy {proxy} answered {status} to CONNECT {target}, sent with the "
                                     "credentials of the proxy URL. {product} Apache httpd answers this generic page "
                                     "when its own configuration fails on the request: with credentials, most often "
                                     "the password file of its Basic auth (AuthUserFile) is missing or not readable by "
                                     "its user (ErrorLog AH01620 'Could not open password file'); without "
                                     "mod_proxy_connect it is AH01144. Either way it is the proxy's configuration, not "
                                     "your password and not the provider.", "solution": "proxy_config"},
            "parent_down": {"text": "The proxy {proxy} answered {status} to CONNECT {target}: it cannot reach its "
                                    "own parent proxy ('{words}'). Neither the provider nor this machine is involved: "
                                    "the parent proxy is down, or the proxy's forwarding configuration names a wrong "
                                    "address or type. {product}", "solution": "parent_down"},
            "parent_silent": {"text": "The proxy {proxy} closed the connection without any reply to CONNECT {target} "
                                      "({detail}), while it answers a request for itself as {product}: it is up, "
                                      "and {why}. Neither the provider nor this machine is involved.",
                              "solution": "parent_silent"},
            "parent_loop": {"text": "The proxy {proxy} answered {status} to CONNECT {target}: '{words}'. It forwarded "
                                    "the request to its parent proxy, and that parent is the proxy itself (its own "
                                    "address and port), which refuses the loop, for every destination. Neither the "
                                    "provider nor this machine is involved: the proxy's forwarding configuration "
                                    "names the proxy instead of the real parent. {product}", "solution": "parent_loop"},
            "parent_auth_relayed": {"text": "The proxy {proxy} answered {status} to CONNECT {target}, passed on from "
                                            "its own parent proxy: {why}. The parent refused the credentials the proxy sends it (none, or wrong ones), "
                                            "set in the proxy's configuration: not your credentials, and adding "
                                            "yours to the proxy URL cannot help (the proxy does not pass them on). "
                                            "{product}", "solution": "parent_credentials"},
            # SOCKS5 (net/socks.py): the CONNECT reply codes of RFC 1928, and the clients that cannot use SOCKS.
            "socks_refused": {"text": "The SOCKS5 proxy {proxy} could not open CONNECT {target}: {meaning} "
                                      "(reply {code}; {resolved}). {product}{hint}", "solution": "socks_contact_it"},
            "socks_not_socks": {"text": "The proxy URL says {scheme}://, but {hostport} does not answer like a "
                                        "SOCKS5 server: {detail}", "solution": "not_socks"},
            "socks_local_dns": {"text": "The proxy URL says socks5://, so this machine resolves the provider's name "
                                        "before asking the SOCKS proxy, and it cannot: {detail}. The proxy itself is "
                                        "reachable; with socks5h:// it resolves the name on its side of the network.",
                                "solution": "socks5h"},
            "socks_client_refused": {"text": "The SOCKS5 proxy {hostport} accepted the connection and closed it at "
                                             "once, without a byte of SOCKS5 reply: {detail}. A SOCKS server does "
                                             "this when its client rules refuse this machine's address (Dante: a "
                                             "'client block' rule, or no 'client pass' rule for it); a port that "
                                             "is no SOCKS server rarely closes that fast.",
                                     "solution": "socks_allow_client"},
            "socks_refuses_everything": {"text": "The SOCKS5 proxy {proxy} refuses {reference}, a name every proxy "
                                                 "lets through, exactly as it refuses {target}: {status} to both. "
                                                 "Its rules refuse this machine for every destination, or let only a "
                                                 "short list of names through: this is not a rule against the "
                                                 "provider. {product}",
                                         "solution": "socks_allow_machine"},
            "socks_port": {"text": "The proxy URL says http://, but {hostport} speaks SOCKS5 (it answered a SOCKS5 "
                                   "greeting) and drops HTTP: {detail}", "solution": "socks_scheme"},
            "socks_clients": {"text": "{proxy} is a SOCKS proxy ({scheme}://) and {works}, but not every "
                                      "client here can use it: {cannot}. These can: {can}.",
                              "solution": "socks_relay"},
        },
        "solutions": {
            "pac": {"any": "Put the proxy the PAC file names in HTTPS_PROXY, not the file's address: curl, Python, "
                           "Node and Claude Code read no PAC file, they send CONNECT to whatever HTTPS_PROXY names.\n"
                           "  export HTTPS_PROXY=\"{suggested}\"\n  export https_proxy=\"$HTTPS_PROXY\"\n"
                           "A PAC file may name different proxies for different hosts: ask IT which one serves "
                           "{target} if this one fails."},
            "contact_it": {"any": "The proxy is not working for {target}. Contact IT with this evidence:\n"
                                  "{evidence}\nRetest: curl -v -x {proxy_noauth} {target_url}"},
            "allow_connect": {"any": (
                "Ask IT to allow CONNECT to {target} (that host and port) for this machine (Squid: the "
                "SSL_ports / CONNECT rules; Apache httpd: mod_proxy_connect loaded, ProxyRequests On and "
                "AllowCONNECT with the port; tinyproxy: ConnectPort with the port, and ReverseOnly No, as a "
                "reverse-only tinyproxy answers 'No mapping found for requested url'; Privoxy: the port in its "
                "+limit-connect action, e.g. {{+limit-connect{{443}}}}). Evidence:\n"
                "{evidence}\nRetest: curl -v -x {proxy_noauth} {target_url}")},
            "allow_client": {"any": (
                "Ask IT to let this machine use the proxy {proxy_hostport}: its client rules leave out your address "
                "(tinyproxy: Allow / Deny; Squid: the src ACLs of http_access; Apache httpd: Require ip in the "
                "<Proxy> block). Asking for the provider's domain to be allowed will not help. Give IT the address "
                "this machine uses towards the proxy:\n"
                "  ip route get {proxy_host}   (Linux; 'src' is the address)\nEvidence:\n{evidence}\n"
                "Retest: curl -v -x {proxy_noauth} {target_url}")},
            "allow_client_silent": {"any": (
                "Ask IT whether the proxy {proxy_hostport} serves this machine (Privoxy: a permit-access line with your "
                "address or network, and no deny-access for it; Squid and tinyproxy answer 403 instead of closing) "
                "and whether it is healthy. Asking for the provider's domain to be allowed will not help. Give IT the "
                "address this machine uses towards the proxy:\n"
                "  ip route get {proxy_host}   (Linux; 'src' is the address)\nEvidence:\n{evidence}\n"
                "Retest: curl -v -x {proxy_noauth} {target_url}")},
            "connection_limit": {"any": (
                "Ask IT which rule refuses some of this machine's CONNECTs (its access log shows TCP_DENIED lines for "
                "{target} between TCP_TUNNEL ones) and to raise that limit for this machine or "
                "the provider's names (Squid: the maxconn ACL or the external_acl_type helper in the http_access "
                "line that refuses). Evidence:\n{evidence}\n"
                "Retest (five at once): for i in 1 2 3 4 5; do curl -s -o /dev/null -w '%{http_connect}\\n' -x "
                "{proxy_noauth} {target_url} & done; wait")},
            "auth_backend_slow": {"any": (
                "Ask IT to check the proxy's authentication backend, not your account: the login check behind it "
                "does not answer (Squid: the auth_param program, e.g. basic_ldap_auth, and the directory server it "
                "asks; its children setting when every helper is busy). Clients wait on it until they give up, so "
                "every request seems to hang. Evidence:\n{evidence}\n"
                "Retest (how long the login takes): curl -v --max-time 60 -x {proxy_noauth} --proxy-user "
                "{username} {target_url}")},
            "allow_clients": {"any": (
                "Ask IT to let CONNECT to the provider's names through whatever the User-Agent: an allow rule for "
                "them placed before the rule that looks at the User-Agent (Squid:\n"
                "  acl llm_api dstdomain {target_host}\n"
                "  http_access allow CONNECT llm_api\n"
                "above the http_access line that uses the 'browser' ACL). Nothing on this machine fixes it: the "
                "clients do not choose the User-Agent of their CONNECT (Claude Code sends none), and dressing a "
                "client up as a browser would only hide it from the proxy's rules. Evidence:\n{evidence}\n"
                "Retest: curl -v -x {proxy_noauth} {target_url}")},
            "allow_machine": {"any": (
                "Ask IT why the proxy {proxy_hostport} refuses everything from this machine, {reference} included. "
                "Most often its client rules leave out your address or your account (Squid: the src or proxy_auth "
                "ACLs of http_access, or a time ACL outside the hours it allows; Apache httpd: Require ip or "
                "Require user in the <Proxy> block; tinyproxy: Allow / Deny). If the proxy instead lets only a list "
                "of names through, that list needs the provider's names (policy.domain_allowed lists them once the "
                "proxy serves this machine). Give IT the address this machine uses towards the proxy:\n"
                "  ip route get {proxy_host}   (Linux; 'src' is the address)\nEvidence:\n{evidence}\n"
                "Retest: curl -v -x {proxy_noauth} https://{reference}")},
            "forward_proxy": {"any": (
                "This address is not the forward proxy: check the host and port with IT (the PAC file names the "
                "right one). If it is meant to be the forward proxy, its mode is wrong (mitmproxy: --mode regular, "
                "or --mode upstream:URL for a parent; not --mode reverse:URL; Squid: an http_port with accel is a "
                "reverse-proxy port, which answers CONNECT with 405 ERR_UNSUP_REQ: the forward port is an http_port "
                "without accel, 3128 by default). Evidence:\n{evidence}\n"
                "Retest: curl -v -x {proxy_noauth} {target_url}")},
            "request_form": {"any": "{advice}\n{evidence}\nRetest: curl -v -x {proxy_noauth} {target_url}"},
            "not_a_proxy": {"any": "The address {hostport} is not an HTTP proxy (or not one that speaks HTTP "
                                   "there). Check the host and port with IT; the PAC file names the right one."},
            "trust_proxy_ca": {"any": (
                "Ask IT for the CA that signed the proxy's own certificate and trust it the way an interception "
                "CA is trusted (see certificate.interception: system store, then SSL_CERT_FILE / "
                "REQUESTS_CA_BUNDLE / NODE_EXTRA_CA_CERTS). The certificate must name the proxy host "
                "{proxy_hostport}. If the proxy also has a plain-HTTP port, http:// works for https targets too.")},
            "parent_credentials": {"any": (
                "Ask IT to correct the credentials the proxy {proxy_hostport} uses for its parent proxy (Privoxy: the "
                "user:password of its forward-socks5 line; tinyproxy: 'Upstream http user:password@parent:port'; "
                "Squid: the login= of its cache_peer line; mitmproxy: the user:password of its --set upstream_auth; "
                "Apache httpd: ProxyRemote sends none with CONNECT and has no setting for them, so its parent must "
                "let the Apache host through without them, e.g. a Squid parent's http_access allow for that host's "
                "src address above its proxy_auth rule). Changing your own HTTPS_PROXY cannot fix this. "
                "Evidence:\n{evidence}\n"
                "Retest: curl -v -x {proxy_noauth} {target_url}")},
            "proxy_config": {"any": (
                "Ask IT to read the proxy's ErrorLog for this request and fix its configuration (AH01620: an "
                "AuthUserFile that exists and is readable by the Apache user, e.g. www-data; AH01144: load "
                "mod_proxy_connect). Changing your own HTTPS_PROXY cannot fix this. Evidence:\n{evidence}\n"
                "Retest: curl -v -x \"$HTTPS_PROXY\" {target_url}")},
            "parent_down": {"any": (
                "Ask IT to check the parent proxy that the proxy {proxy_hostport} forwards to: that it runs and is "
                "reachable from the proxy, at the address and of the type of the proxy's forwarding configuration "
                "(tinyproxy: its Upstream line, 'Upstream socks5 host:port' for a SOCKS parent, and an http parent "
                "that speaks plain HTTP, not only TLS; Privoxy: its "
                "forward / forward-socks5 / forward-socks5t lines; Squid: cache_peer). "
                "Changing your own HTTPS_PROXY cannot fix this. Evidence:\n{evidence}\n"
                "Retest: curl -v -x {proxy_noauth} {target_url}")},
            "parent_silent": {"any": (
                "Ask IT to check the proxy {proxy_hostport}'s parent proxy and the type its forwarding line gives it "
                "(tinyproxy: 'Upstream socks5 host:port' for a SOCKS parent, 'Upstream http host:port' for an HTTP "
                "one, and a parent port that speaks plain HTTP, not only TLS; its log shows 'process_server_headers "
                "failed' for each request). Changing your own "
                "HTTPS_PROXY cannot fix this. Evidence:\n{evidence}\nRetest: curl -v -x {proxy_noauth} {target_url}")},
            "parent_loop": {"any": (
                "Ask IT to point the proxy {proxy_hostport} at its real parent proxy: its forwarding configuration "
                "names its own address and port (tinyproxy: its Upstream line; Squid: a cache_peer line; Apache "
                "httpd: ProxyRemote), so every request comes back to it. Changing your own HTTPS_PROXY cannot fix "
                "this. Evidence:\n{evidence}\nRetest: curl -v -x {proxy_noauth} {target_url}")},
            "socks_contact_it": {"any": "The SOCKS proxy could not reach {target}. Send IT this evidence:\n"
                                        "{evidence}\nRetest: curl -v -x {proxy_noauth} {target_url}"},
            "socks5h": {"any": ("Let the SOCKS proxy resolve the names (the 'h' in socks5h://):\n"
                                "  export HTTPS_PROXY=\"{suggested}\"\n  export HTTP_PROXY=\"$HTTPS_PROXY\"\n"
                                "(and ALL_PROXY if you set it). curl, and Python with its SOCKS extra, read socks5h://; "
                                "Claude Code and Node cannot use SOCKS at all (see the SOCKS findings).")},
            "socks_allow_client": {"any": (
                "Ask IT to let this machine use the SOCKS proxy {hostport}: its client rules must admit your address "
                "(Dante: a 'client pass {{ from: <your address>/32 to: 0.0.0.0/0 }}' rule before any 'client block'; "
                "the logoutput file of danted.conf names the refused client). Find the address this machine uses "
                "towards the proxy:\n  ip route get {proxy_host}   (Linux; 'src' is the address)\n"
                "If IT says {hostport} is no SOCKS proxy, check the scheme and port: an HTTP proxy needs http://.")},
            "socks_allow_machine": {"any": (
                "Ask IT why the SOCKS proxy {hostport} refuses everything from this machine, {reference} included. "
                "Its rules for what a client may reach leave out your address or every destination (Dante: a "
                "'socks pass {{ from: <your address>/32 to: 0.0.0.0/0 }}' rule, after 'client pass'; the shipped "
                "danted.conf has none, and without one Dante refuses every CONNECT). If it instead lets only a list "
                "of names through, that list needs the provider's names (policy.domain_allowed lists them once the "
                "proxy serves this machine). Find the address this machine uses towards the proxy:\n"
                "  ip route get {proxy_host}   (Linux; 'src' is the address){credentials}\nEvidence:\n{evidence}\n"
                "Retest: curl -v -x {proxy_noauth} https://{reference}")},
            "not_socks": {"any": "Check the scheme and port with IT: an HTTP proxy needs http:// "
                                 "(export HTTPS_PROXY=\"http://{hostport}\"), a SOCKS5 one socks5h://."},
            "socks_scheme": {"any": (
                "This port is a SOCKS proxy. curl and Python with the SOCKS extra can use it as:\n"
                "  export ALL_PROXY=\"{suggested}\"\n"
                "but Claude Code and Node programs cannot use SOCKS at all: for them ask IT for the proxy's HTTP "
                "port, or run a local relay (Privoxy: forward-socks5t / {hostport} .) and set\n"
                "  export HTTPS_PROXY=\"http://127.0.0.1:8118\"")},
            "socks_relay": {"any": (
                "Give the clients that cannot speak SOCKS an HTTP proxy. Either ask IT for the proxy's HTTP port "
                "(most corporate proxies have one) and set:\n"
                "  export HTTPS_PROXY=\"http://<HTTP-PROXY-HOST>:<PORT>\"\n"
                "or run a local relay that accepts HTTP CONNECT and forwards it to this SOCKS proxy, e.g. Privoxy "
                "with this line in its config (the proxy resolves the names, as with socks5h):\n"
                "  forward-socks5t / {relay} .\n{relay_password}"
                "and point the clients at the relay:\n"
                "  export HTTPS_PROXY=\"http://127.0.0.1:8118\"\n"
                "curl and Python with the SOCKS extra can keep using {scheme}:// (e.g. through ALL_PROXY). "
                "Retest: curl -v -x http://127.0.0.1:8118 {target_url}")},
            "scheme": {"any": "Use the scheme the proxy speaks: most corporate proxies are plain HTTP even for "
                              "https traffic:\n  export HTTPS_PROXY=\"{suggested}\""},
            "client_cert": {"any": "Keep the https:// proxy URL. Ask IT for your client certificate and key (PEM) for "
                                   "the proxy {proxy}, then add to your shell profile (or the \"env\" block of "
                                   "~/.claude/settings.json):\n"
                                   "  export CLAUDE_CODE_CLIENT_CERT=\"<path to your certificate .pem>\"\n"
                                   "  export CLAUDE_CODE_CLIENT_KEY=\"<path to its private key .pem>\"\n"
                                   "Check the pair against the proxy with: curl -v --proxy {proxy} --proxy-cert "
                                   "<certificate> --proxy-key <key> {target_url}"},
        },
    },
    "connectivity.no_proxy": {
        "number": 4,
        "title": "Check NO_PROXY settings",
        "question": "Could NO_PROXY be interfering?",
        "check": 'echo $NO_PROXY | grep -i "anthropic\\|amazonaws\\|googleapis"',
        "findings": {
            "provider_excluded": {"text": "{host} matches the entry {entry!s} of {source} ({value}); "
                                          "{clients} send it direct, not through the proxy.",
                                  "solution": "remove"},
        },
        "solutions": {
            "remove": {"any": "Remove the provider from NO_PROXY, keep only internal hosts:\n"
                              "  export NO_PROXY=\"{corrected}\"\n  export no_proxy=\"$NO_PROXY\""},
        },
    },
    "connectivity.gateway": {
        "number": 5,
        "title": "Verify gateway is running (if using LiteLLM)",
        "question": "Does the gateway answer its health check?",
        "check": "curl http://localhost:4000/health",
        "findings": {
            "unreachable": {"text": "The gateway {gateway} (from {source}) does not answer: {detail}",
                            "solution": "start"},
            "unhealthy": {"text": "The gateway {gateway} answers {path} with {status}: {detail}",
                          "solution": "logs"},
            "wrong_port": {"text": "Nothing listens on the port of the gateway {gateway} (from {source}): "
                                   "{detail}. LiteLLM's own port {port} on the same host answers ({answer}): "
                                   "the gateway runs there.",
                           "solution": "port"},
            "wrong_scheme": {"text": "The gateway {gateway} (from {source}) runs, but it speaks {other}://, not "
                                     "{scheme}://: {detail}. Claude Code fails the same way on every request.",
                             "solution": "scheme"},
        },
        "solutions": {
            "start": {"any": "Start the gateway:\n  litellm --config config.yaml\n"
                             "then retest: curl {gateway}/health/liveliness"},
            "port": {"any": "Give Claude Code the gateway's address with the port it listens on:\n"
                            "  export ANTHROPIC_BASE_URL=\"{corrected}\"\n"
                            "(where it is set now: {source}; in a Claude Code settings file, its \"env\" block). "
                            "Where to change it: the developer's machine (this one).",
                     "windows": "  $env:ANTHROPIC_BASE_URL = \"{corrected}\"\n(where it is set now: {source}). "
                                "Where to change it: the developer's machine (this one)."},
            "scheme": {"any": "Give Claude Code the gateway's address with the scheme it speaks:\n"
                              "  export ANTHROPIC_BASE_URL=\"{corrected}\"\n"
                              "(where it is set now: {source}; in a Claude Code settings file, its \"env\" block). "
                              "Where to change it: the developer's machine (this one).",
                       "windows": "  $env:ANTHROPIC_BASE_URL = \"{corrected}\"\n(where it is set now: {source}). "
                                  "Where to change it: the developer's machine (this one)."},
            "logs": {"any": "The gateway runs but reports errors: check its logs for proxy connection errors "
                            "(start it with LITELLM_LOG=DEBUG), and that HTTPS_PROXY is set where it starts."},
        },
    },
}

#: Pass summaries, skip and block reasons, and the details the branch names by key.
NOTES = {
    "connectivity.proxy_reachable": {
        "reachable": "TCP connect to {hostport} ({address}) in {ms} ms",
    },
    "connectivity.proxy_port": {
        "port_open": "port {port} on {host} accepts connections",
        "localhost_v6": ("localhost resolves to 127.0.0.1 here: curl and Claude Code try ::1 for localhost "
                         "themselves and reach it, Python (requests, httpx) and Node connect to 127.0.0.1 only and are "
                         "refused (measured: curl 7.88, Claude Code 2.1.332, requests, Node 24)."),
        "no_fallback": "Clients connect to the addresses the name gives and are refused there.",
    },
    "connectivity.proxy_works": {
        "http_ok": "GET {url} through {proxy}: {status}",
        "tunnel_ok": "CONNECT {target}: {status}; TLS {tls}{inside}",
        "pac_answer": " (for {host} it answers {answer})",
        "pac_not_evaluated": " (not evaluated for {host}: {why})",
        "pac_needs_dns": "it looks names up, which this tool does not do for a PAC file",
        "wants_auth": "the proxy wants authentication ({status})",
        "refuses_target": "the proxy refuses {target} ({status})",
        "refuses_name_tls": ("the proxy closes the TLS handshake with {target} after opening the tunnel, and completes "
                             "it with {control}: a rule on the name"),
        "redirected": ("{status} to {location}: a proxy must not redirect CONNECT; this is a captive portal, a "
                       "login page or a web server on the proxy port (the redirect was not followed)"),
        "could_not_forward": "{status}{squid}: the proxy could not forward the request",
        "refused_tunnel": "{status}{squid}: the proxy refused to open the tunnel",
        "answered_by": "{why}. {product}.",
        "resolved_by_proxy": "the proxy resolved the name (socks5h)",
        "resolved_by_client": "this machine resolved the name to {address} and sent the address (socks5)",
        "try_socks5h": (" With socks5:// this machine resolves the name: if the proxy sees another network, use "
                        "socks5h:// so that the proxy resolves it."),
        "socks_ok": "SOCKS proxy: {works}; {can} can use it",
        "socks_works": "it works (CONNECT {target} accepted, TLS {tls})",
        # socks4:// is recognised, never probed: nothing is said of a tunnel nobody opened.
        # What a 400 to CONNECT asks first: the scheme, unless the URL already says http:// (request_form).
        "advice_scheme": ("Check the scheme of the proxy URL first: a plain-HTTP proxy port needs http:// even for "
                          "https targets (an https:// proxy URL sends TLS, which a plain port answers with 400). If "
                          "the scheme is right, send IT this evidence:"),
        "advice_not_forward": ("The proxy URL already says http://, and the CONNECT sent was well formed: this port is "
                               "probably no forward proxy (a web server or reverse proxy such as nginx; proxy.py "
                               "started with --disable-http-proxy, or with --enable-proxy-protocol, which wants a "
                               "PROXY protocol header first). Check the host and port with IT (the PAC file names the "
                               "right one); if they confirm them, send IT this evidence:"),
        "socks_no_credentials": ("\nNo username and password were sent: a rule that wants them refuses a client "
                                 "without them the same way (Dante: 'socksmethod: username' in its socks pass rule). "
                                 "If IT gave you an account for this proxy, put it in the URL:\n"
                                 "  export HTTPS_PROXY=\"{suggested}\""),
        "socks_untried": ("was not tried: the diagnosis speaks SOCKS5 only (most SOCKS servers, Dante included, "
                          "speak it too: socks5h://{hostport})"),
        "client_curl": "curl", "client_requests": "Python requests", "client_httpx": "httpx (and the anthropic SDK)",
        "client_node": "Node programs (fetch and undici's ProxyAgent speak HTTP proxies only)",
        "client_claude": ("Claude Code (it has no SOCKS support: 'Unable to connect to API "
                          "(UnsupportedProxyProtocol)')"),
        "no_socks": "{client} cannot use any SOCKS proxy",
        "no_scheme": "{client} does not speak {scheme}://",
        "needs_extra": "{client} needs the {extra} extra (pip install \"{extra}\")",
        "none_of_them": "none of them",
        "relay_password": ("  (<PASSWORD> as typed, not URL-encoded. Privoxy cannot carry a password holding {chars} "
                           "there: measured with Privoxy 3.0.34, the raw and the encoded password both get 500 from "
                           "the relay and a '#' starts a comment; with this password ask IT for the HTTP port.)\n"),
        "port_speaks_tls": "{detail} — the proxy port speaks TLS, but the proxy URL says http://",
        "port_speaks_plain": "{detail} — the proxy URL says https:// but the proxy port does not speak TLS",
        "plaintext_tunnel": ("the proxy accepted CONNECT ({status}) but then sent plaintext instead of the "
                             "provider's TLS: it does not tunnel, or answers itself"),
        "tls_in_tunnel_failed": "the tunnel was accepted ({status}) but the TLS handshake with {target} failed: {detail}. "
                                "A proxy that answers 200 before it has reached the provider (mitmproxy's lazy "
                                "connection_strategy and its upstream mode, some interception gateways) reports a "
                                "provider or parent proxy it cannot reach this way: IT finds the reason in the "
                                "proxy's own log",
        "error_inside_tunnel": "inside the tunnel the proxy answered {status} (X-Squid-Error: {squid_error})",
        "upstream_tls_inside": ("inside the tunnel the proxy answered {status}: it cannot verify the provider's "
                                "certificate (its own CA store)"),
    },
    "connectivity.no_proxy": {
        "no_effect": "no proxy is configured, so NO_PROXY has no effect",
        "no_proxy_unset": "NO_PROXY is not set",
        "not_excluded": "{host} is not excluded by NO_PROXY for any client",
    },
    "connectivity.gateway": {
        "no_gateway": "no gateway configured (--proxydiag-gateway URL, or ANTHROPIC_BASE_URL pointing at a gateway)",
        "gateway_ok": "{url} answered {status}",
        "gateway_locked": "{url} answered {status} (running; health details need a key)",
        "proxy_answered_gateway": "the proxy answered for the gateway: {status}",
    },
}


_PARENT_SIDE = "the corporate proxy (its forwarding to its parent proxy: IT)"
#: The side to change ("for IT" block) where a proxy's parent is the cause: the proxy's forwarding configuration, not
#: this machine ("step:finding", as in gateway.CHANGE_ON).
CHANGE_ON = {**{f"connectivity.proxy_works:{key}": _PARENT_SIDE for key in (
    "parent_auth", "parent_auth_relayed", "parent_down", "parent_loop", "parent_silent")},
    **{f"auth.credentials:{key}": ("the corporate proxy's forwarding to its parent (IT: whose credentials it passes "
                                   "on), then the developer's proxy URL if they are the user's") for key in (
        "parent_required", "parent_rejected")}}
