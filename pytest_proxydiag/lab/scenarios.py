"""The lab's scenarios: what each one sets up and the diagnosis it must produce (data only)."""

from __future__ import annotations

from dataclasses import dataclass, field

from pytest_proxydiag.lab.products import MISCONFIGS, PRODUCTS
from pytest_proxydiag.lab.servers import HOSTILE_BEHAVIOURS

# -- the scenarios -------------------------------------------------------------------------
#: The step the diagnosis must blame for each scenario (None: a healthy setup).
#: Data, kept in one table so the people who own the steps can adjust it.
EXPECTED_ROOT_CAUSE: dict[str, str | None] = {
    "healthy": None,
    "basic-auth": None,
    "wrong-password": "auth.credentials",
    "special-chars-password": "auth.special_chars",
    "ntlm-only": "auth.scheme",
    "proxy-down": "connectivity.proxy_reachable",
    "proxy-blackholed": "connectivity.proxy_reachable",
    "wrong-port": "connectivity.proxy_port",
    "blocked-domain": "policy.domain_allowed",
    "reset-domain": "policy.domain_allowed",
    "sni-refused": "policy.domain_allowed",
    "ssl-ports": "policy.domain_allowed",
    "client-refused": "connectivity.proxy_works",
    "connect-denied": "connectivity.proxy_works",
    "upstream-untrusted": "policy.proxy_logs",
    "read-timeout": "performance.latency",
    "block-page": "policy.url_filtering",
    "ssl-bump-untrusted": "certificate.interception",
    "ssl-bump-trusted": None,
    "der-ca": "certificate.interception",
    "body-limit": "policy.payload_size",
    "upstream-down": "connectivity.proxy_works",
    "no-proxy-provider": "connectivity.no_proxy",
    "slow-origin": "performance.latency",
    "rate-limited": "performance.rate_limit",
    "hostile-silent": "connectivity.proxy_works",
    "hostile-garbage": "connectivity.proxy_works",
    "hostile-ssh-banner": "connectivity.proxy_works",
    "hostile-smtp-banner": "connectivity.proxy_works",
    "hostile-http09": "connectivity.proxy_works",
    "hostile-slowloris": "connectivity.proxy_works",
    "hostile-huge-header": "connectivity.proxy_works",
    "hostile-close": "connectivity.proxy_works",
    "hostile-tls-reset": "connectivity.proxy_works",
    "hostile-plaintext-tunnel": "connectivity.proxy_works",
    "hostile-407-loop": "auth.credentials",
    "hostile-redirect": "connectivity.proxy_works",
    "hostile-tls-proxy": "connectivity.proxy_works",
    "hostile-plain-for-https": "connectivity.proxy_works",
    "ipv6-proxy": None,
    "bedrock-ssl-bump": "certificate.interception",
    "vertex-ssl-bump": "certificate.interception",
}
#: Steps that must fail besides the root cause (default: just the root cause).
EXPECTED_ALSO_FAILED: dict[str, frozenset[str]] = {}

# name -> (backend, description)
_SCENARIO_TABLE: dict[str, tuple[str, str]] = {
    "healthy": ("squid", "an open Squid that forwards everything: no finding expected"),
    "basic-auth": ("squid", "Squid with Basic auth; HTTPS_PROXY carries the right credentials"),
    "wrong-password": ("squid", "Squid with Basic auth; HTTPS_PROXY carries a wrong password (407)"),
    "special-chars-password": ("squid", "the proxy password holds @ : / ? # and HTTPS_PROXY has it unencoded"),
    "ntlm-only": ("squid", "Squid asks for NTLM or Negotiate only: no Basic to fall back on"),
    "proxy-down": ("none", "HTTPS_PROXY points at a closed port: connection refused"),
    "proxy-blackholed": ("scripted", "HTTPS_PROXY points at a port that drops SYNs: connect times out"),
    "wrong-port": ("squid", "Squid listens on one port, HTTPS_PROXY names another"),
    "blocked-domain": ("squid", "Squid denies CONNECT to api.anthropic.com (403 ERR_ACCESS_DENIED)"),
    "reset-domain": ("squid", "Squid resets CONNECT to api.anthropic.com without an answer (deny_info TCP_RESET)"),
    "sni-refused": ("squid", "Squid peeks at the TLS ClientHello and terminates the handshake for api.anthropic.com "
                             "('ssl_bump terminate' on its server name): CONNECT answers 200, then TLS is closed"),
    "ssl-ports": ("squid", "Squid's stock 'http_access deny CONNECT !SSL_ports' with SSL_ports 443 only: the "
                           "provider's port is refused (403 ERR_ACCESS_DENIED, as for a denied domain)"),
    "client-refused": ("squid", "Squid's localnet ACL leaves out this machine's network: 403 ERR_ACCESS_DENIED to "
                                "every request, the same page as for a denied domain"),
    "connect-denied": ("squid", "Squid with 'http_access deny CONNECT': every tunnel refused (403 ERR_ACCESS_DENIED, "
                                "a denied domain's page), plain http:// forwarded"),
    "upstream-untrusted": ("squid", "TLS inspection with a CA the clients trust, but Squid's own store lacks the "
                                    "provider's root: 503 ERR_SECURE_CONNECT_FAIL inside TLS"),
    "read-timeout": ("squid", "Squid with read_timeout 1 seconds in front of a provider that takes 2.5 s to answer: "
                              "the tunnel is cut before the first byte"),
    "block-page": ("squid", "TLS inspection (CA trusted) with a URL filter: Squid's 403 block page inside TLS"),
    "ssl-bump-untrusted": ("squid", "TLS inspection by Squid; its corporate CA is not trusted by the clients"),
    "ssl-bump-trusted": ("squid", "TLS inspection with the corporate CA in every client's CA variable"),
    "der-ca": ("squid", "TLS inspection; NODE_EXTRA_CA_CERTS points at the CA in DER instead of PEM"),
    "body-limit": ("squid", "TLS inspection (CA trusted) with request_body_max_size 1 MB (413 above)"),
    "upstream-down": ("squid", "Squid works but the provider's port is closed (503 ERR_CONNECT_FAIL)"),
    "no-proxy-provider": ("squid", "a healthy Squid, but NO_PROXY lists .anthropic.com: traffic goes direct"),
    "slow-origin": ("squid", "a healthy Squid in front of a provider that takes 2.5 s per answer"),
    "rate-limited": ("squid", "the provider answers 429 with retry-after: 30"),
    "hostile-plain-for-https": ("squid", "HTTPS_PROXY says https:// but the proxy speaks plain HTTP"),
    "ipv6-proxy": ("squid", "a healthy Squid listening on [::1] only"),
    "bedrock-ssl-bump": ("squid", "a Bedrock user (CLAUDE_CODE_USE_BEDROCK=1, AWS_REGION=us-east-1) behind TLS "
                                  "inspection whose CA neither boto3 nor Claude Code trusts"),
    "vertex-ssl-bump": ("squid", "a Vertex AI user (CLAUDE_CODE_USE_VERTEX=1, CLOUD_ML_REGION=us-central1) behind "
                                 "TLS inspection whose CA no client trusts"),
}
for _behaviour, _text in HOSTILE_BEHAVIOURS.items():
    if _behaviour != "relay":
        _SCENARIO_TABLE["hostile-" + _behaviour] = ("scripted", "a scripted proxy that " + _text)
_SCENARIO_TABLE["hostile-tls-proxy"] = ("scripted", "the proxy port speaks TLS while HTTPS_PROXY says http://")
_SCENARIO_TABLE["hostile-407-loop"] = ("scripted", "the proxy answers 407 even to correct credentials")

#: Scenarios proxy.py can play where Squid is missing.
PROXYPY_SCENARIOS = frozenset({"healthy", "basic-auth", "wrong-password", "ssl-bump-untrusted", "blocked-domain",
                               "upstream-down"})
_BUMP = frozenset({"upstream-untrusted", "block-page", "ssl-bump-untrusted", "ssl-bump-trusted", "der-ca", "body-limit", "bedrock-ssl-bump",
                   "vertex-ssl-bump", "sni-refused"})
#: The NO_PROXY of a careful cloud user: the metadata endpoint that hands out cloud credentials stays direct (by
#: address, and by the name Google's login asks).
_CLOUD_NO_PROXY = "localhost,127.0.0.1,::1,169.254.169.254,metadata.google.internal"
#: Scenarios whose provider is a cloud endpoint: its host name and what the user's shell says about it.
CLOUD_SCENARIOS: dict[str, tuple[str, dict[str, str]]] = {
    "bedrock-ssl-bump": ("bedrock-runtime.us-east-1.amazonaws.com",
                         {"CLAUDE_CODE_USE_BEDROCK": "1", "AWS_REGION": "us-east-1",
                          "NO_PROXY": _CLOUD_NO_PROXY, "no_proxy": _CLOUD_NO_PROXY}),
    "vertex-ssl-bump": ("us-central1-aiplatform.googleapis.com",
                        {"CLAUDE_CODE_USE_VERTEX": "1", "CLOUD_ML_REGION": "us-central1",
                         "ANTHROPIC_VERTEX_PROJECT_ID": "proxydiag-lab",
                         "NO_PROXY": _CLOUD_NO_PROXY, "no_proxy": _CLOUD_NO_PROXY}),
}
#: mitmproxy scenarios that intercept TLS with a CA the clients trust (the finding is what comes inside TLS).
_MITM_TRUSTED = frozenset({"mitmproxy-upstream-untrusted", "mitmproxy-buffered", "mitmproxy-parent-wrong-password",
                           "mitmproxy-body-limit", "mitmproxy-drop-rule"})
_TRUSTED = frozenset({"upstream-untrusted", "block-page", "ssl-bump-trusted", "body-limit"})

USER, PASSWORD, WRONG_PASSWORD = "alice", "lab-secret-7", "not-the-password"
SPECIAL_USER, SPECIAL_PASSWORD = "bob", "p@ss:w/rd#1?"
SLOW_ORIGIN_DELAY = 2.5
BODY_LIMIT_MB = 1


@dataclass(frozen=True)
class Scenario:
    """One lab scenario and the diagnosis it must produce."""

    name: str
    description: str
    backend: str  # "squid" | "proxy.py" | "scripted" | "none"
    expected_root_cause: str | None
    expected_failed: frozenset[str] = field(default_factory=frozenset)


def _scenario(name: str) -> Scenario:
    backend, description = _SCENARIO_TABLE[name]
    root = EXPECTED_ROOT_CAUSE.get(name)
    failed = EXPECTED_ALSO_FAILED.get(name, frozenset()) | ({root} if root else set())
    return Scenario(name, description, backend, root, frozenset(failed))


# -- real products other than Squid (lab/products.py) --------------------------------------------
#: case -> (description template, expected root cause).  Every product plays the cases it supports:
#: the same misconfiguration must give the same diagnosis whatever the product.
PRODUCT_CASES: dict[str, tuple[str, str | None]] = {
    "healthy": ("an open {name} that forwards everything: no finding expected", None),
    "wrong-password": ("{name} with Basic auth; HTTPS_PROXY carries a wrong password", "auth.credentials"),
    "no-credentials": ("{name} with Basic auth; HTTPS_PROXY carries no credentials", "auth.credentials"),
    "blocked-domain": ("{name} refuses api.anthropic.com with its own filter", "policy.domain_allowed"),
    "upstream-down": ("{name} works but the provider's port is closed", "connectivity.proxy_works"),
    "socks": ("a healthy {name} SOCKS5 proxy (socks5h://): Claude Code and Node cannot use SOCKS at all",
              "connectivity.proxy_works"),
    "parent-wrong-password": ("{name} forwards through a SOCKS5 parent (Dante) with a wrong password in its own "
                              "forward-socks5 line", "connectivity.proxy_works"),
    "allow-list": ("{name} lets only an allow-list of names through (github.com), without the provider's: every "
                   "other name refused with its filter's page, google.com too", "policy.domain_allowed"),
    "empty-block": ("{name} blocks api.anthropic.com with +handle-as-empty-document: a 403 with an empty page and "
                    "no Server header", "policy.domain_allowed"),
    "parent-no-via": ("{name} with DisableViaHeader Yes forwards through a parent proxy with Basic auth (tinyproxy) "
                      "with a wrong password in its own Upstream line: the parent's 401, passed on without a Via",
                      "connectivity.proxy_works"),
    "parent-down": ("{name} forwards through a parent proxy whose port is closed", "connectivity.proxy_works"),
    "no-auth-forwarding": ("{name} forwards to a parent proxy with Basic auth (tinyproxy) with 'forward', without "
                           "enable-proxy-authentication-forwarding: the right credentials in HTTPS_PROXY are dropped, "
                           "the parent's 407 comes back", "auth.credentials"),
    "parent-socks-as-http": ("{name}'s Upstream line says http for a SOCKS5 parent (Dante): every CONNECT closed "
                             "without a reply", "connectivity.proxy_works"),
    "parent-is-self": ("{name}'s parent proxy is its own address (a loop): 400 'You tried to connect to the machine "
                       "the proxy is running on', relayed with its Via", "connectivity.proxy_works"),
    "auth-file-unreadable": ("{name} with Basic auth whose AuthUserFile it cannot open; HTTPS_PROXY carries the "
                             "right credentials: 500 with its generic page", "connectivity.proxy_works"),
    "parent-denies": ("{name} forwards through a SOCKS5 parent (Dante) whose rules refuse api.anthropic.com: 503 "
                      "Forwarding failure, 'SOCKS5 request denied'", "policy.domain_allowed"),
    "reverse-only": ("{name} is a reverse proxy only (ReverseOnly Yes): 400 'No mapping found for requested url' to "
                     "every forward request", "connectivity.proxy_works"),
    "no-connect": ("{name} allows no CONNECT at all (+limit-connect{{,}}), while it forwards plain http://",
                   "connectivity.proxy_works"),
    "parent-no-credentials": ("{name} forwards through a parent proxy with Basic auth (tinyproxy) without the "
                              "parent's credentials in its own Upstream line: the parent's 407, passed on",
                              "connectivity.proxy_works"),
    "connect-port": ("{name} allows CONNECT only to port 563 (ConnectPort): the provider's port is refused",
                     "connectivity.proxy_works"),
    "client-refused": ("{name}'s client rules leave out this machine: every request is refused",
                       "connectivity.proxy_works"),
    "port-rule": ("{name} allows CONNECT (or SOCKS) only to the usual ports: the provider's port is refused",
                  "policy.domain_allowed"),
    "body-limit": ("{name} intercepts TLS with a CA the clients trust, with body_size_limit=4k: 413 above it",
                   "policy.payload_size"),
    "rule-wants-credentials": ("{name} whose socks pass rule wants a username (socksmethod: username), with none in "
                               "the proxy URL: every destination refused with reply 0x02", "connectivity.proxy_works"),
    "drop-rule": ("{name} intercepts TLS with a CA the clients trust and drops every request to api.anthropic.com "
                  "without an answer (block_list status 444)", "policy.url_filtering"),
    "reverse-mode": ("{name} in reverse mode (--mode reverse:URL) given as the forward proxy: 400 to every CONNECT",
                     "connectivity.proxy_works"),
    "no-socks-pass": ("{name} without any 'socks pass' rule (its shipped configuration): every destination is "
                      "refused, the reference name as the provider", "connectivity.proxy_works"),
    "no-connect-module": ("{name} with ProxyRequests On but without mod_proxy_connect: 500 to every CONNECT",
                          "connectivity.proxy_works"),
    "idle-timeout": ("{name} closes a tunnel idle for 1 s (Timeout 1); the provider takes 2.5 s to answer",
                     "performance.latency"),
    "upstream-untrusted": ("{name} intercepts TLS with a CA the clients trust, but cannot verify the provider's own "
                           "certificate: 502 inside TLS", "policy.proxy_logs"),
    "lazy-upstream-down": ("{name} with connection_strategy=lazy answers 200 before reaching the provider, whose "
                           "port is closed, then closes", "connectivity.proxy_works"),
    "buffered": ("{name} intercepts TLS with a CA the clients trust and, as shipped, buffers the streamed answer",
                 "performance.latency"),
    "intercept": ("{name} intercepts TLS with its own CA, which the clients do not trust (it sends only the leaf)",
                  "certificate.interception"),
}


#: Scenario name -> its own description, where the case's template would say what the product does not do.
PRODUCT_CASE_TEXT: dict[str, str] = {
    "privoxy-wrong-password": "Privoxy (no proxy authentication of its own) forwards the client's Proxy-Authorization "
                              "to a parent proxy with Basic auth (tinyproxy); HTTPS_PROXY carries a wrong password",
    "privoxy-no-credentials": "Privoxy (no proxy authentication of its own) in front of a parent proxy with Basic "
                              "auth (tinyproxy); HTTPS_PROXY carries no credentials",
    "dante-wrong-password": "Dante with SOCKS5 username/password (RFC 1929); HTTPS_PROXY (socks5h://) carries a "
                            "wrong password",
    "dante-no-credentials": "Dante with SOCKS5 username/password (RFC 1929); HTTPS_PROXY (socks5h://) carries no "
                            "credentials",
    "apache-port-rule": "Apache httpd (mod_proxy) allows CONNECT only to ports 443 and 563 (AllowCONNECT): the "
                        "provider's port is refused",
    "dante-port-rule": "Dante allows SOCKS CONNECT only to port 443 ('socks block ... port != 443'): the provider's "
                       "port is refused",
    "tinyproxy-parent-wrong-password": "tinyproxy forwards through a parent proxy with Basic auth (tinyproxy) with a "
                                       "wrong password in its own Upstream line; the client sends no credentials and "
                                       "gets the parent's 401, passed on",
    "privoxy-port-rule": "Privoxy allows CONNECT only to port 443 (+limit-connect{443}): the provider's port is "
                         "refused",
    "privoxy-parent-no-credentials": "Privoxy forwards through a SOCKS5 parent (Dante) that wants a password, with "
                                     "none in its own forward-socks5 line",
    "privoxy-idle-timeout": "Privoxy closes a connection idle for 1 s (socket-timeout 1); the provider takes 2.5 s to "
                            "answer",
    "privoxy-client-refused": "Privoxy's permit-access leaves out this machine: it closes every connection without "
                              "a reply",
    "dante-client-refused": "Dante's client rules leave out this machine: it closes every connection at once",
    "dante-idle-timeout": "Dante closes a tunnel idle for 1 s (timeout.io: 1); the provider takes 2.5 s to answer",
    "apache-parent-no-credentials": "Apache httpd (mod_proxy) forwards through a parent proxy with Basic auth "
                                    "(tinyproxy) with ProxyRemote, which sends the parent no credentials on CONNECT: "
                                    "the parent's 407, relayed byte for byte",
    "mitmproxy-parent-wrong-password": "mitmproxy (TLS interception, its CA trusted) in upstream mode to a parent proxy "
                                       "with Basic auth (tinyproxy), with a wrong password in its own --set "
                                       "upstream_auth: 502 inside TLS",
}
#: Scenario name -> its expected root cause, where the case's differs: mitmproxy's parent refusal is its 502 inside
#: TLS, judged by policy.proxy_logs (as its upstream TLS failure), not a CONNECT answer.
PRODUCT_ROOT_CAUSE: dict[str, str | None] = {"mitmproxy-parent-wrong-password": "policy.proxy_logs",
                                             # Claude Code cannot use SOCKS at all: that comes first; the cut follows.
                                             "dante-idle-timeout": "connectivity.proxy_works"}


def _product_cases(key: str) -> list[str]:
    spec = PRODUCTS[key]
    if spec.scheme.startswith("socks"):
        # The probes speak SOCKS5 (net/socks.py); which clients can use SOCKS at all is judged per client.
        return ["socks", "wrong-password", "no-credentials", "blocked-domain", "upstream-down",
                *MISCONFIGS.get(key, ())]
    cases = ["healthy", "blocked-domain", "upstream-down"]
    if spec.supports_auth:
        cases[1:1] = ["wrong-password", "no-credentials"]
    if not spec.supports_blocking:
        cases.remove("blocked-domain")
    if key == "mitmproxy":
        cases += ["intercept", "upstream-untrusted", "buffered", "parent-wrong-password"]
    if key in ("privoxy", "tinyproxy"):  # a parent proxy behind them; a filter that can be an allow-list
        cases += ["parent-wrong-password", "parent-no-credentials", "allow-list"]
    if key == "apache":  # ProxyRemote to a parent proxy (mod_proxy_connect sends it no credentials at all)
        cases += ["parent-no-credentials"]
    return cases + list(MISCONFIGS.get(key, ()))


def _add_product_scenarios() -> dict[str, tuple[str, str]]:
    added: dict[str, tuple[str, str]] = {}
    for key, spec in PRODUCTS.items():
        for case in _product_cases(key):
            text, root = PRODUCT_CASES[case]
            name = f"{key}-{case}"
            added[name] = (key, PRODUCT_CASE_TEXT.get(name) or text.format(name=spec.name))
            EXPECTED_ROOT_CAUSE[name] = PRODUCT_ROOT_CAUSE.get(name, root)
    return added


#: Scenario name -> (product key, case) for the real-product scenarios.
PRODUCT_SCENARIOS: dict[str, tuple[str, str]] = {}
for _name, _entry in _add_product_scenarios().items():
    _SCENARIO_TABLE[_name] = _entry
    PRODUCT_SCENARIOS[_name] = (_entry[0], _name.partition("-")[2])
