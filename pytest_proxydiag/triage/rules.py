"""The triage rule table: which words in a pasted error point to which flowchart branch, and how strongly.

What the rules encode (see ``/work/shared/notes/what-users-paste.md``):

* the stable part of a message is the client's error *code* or exact phrase
  (``SELF_SIGNED_CERT_IN_CHAIN``, ``ECONNREFUSED``, ``CONNECT tunnel failed,
  response 407``), not the sentence around it, which changes every release;
* the message rarely names the cause: a generic "Connection error" through an
  NTLM proxy is an authentication problem as often as a connectivity one, a
  TLS error can be an ``https://`` proxy URL on a plain-HTTP port, and a
  request that skipped the proxy looks like a plain connection failure;
* who sent a status matters: a JSON ``request_too_large`` 413 comes from the
  provider (the path works), an HTML 413 from a proxy or nginx in the path.

Rules are written from ``tests/data/symptoms.json`` only; ``tests/data/symptoms_heldout.json``
measures them on real messages they were not written from.

Every pattern is linear (literals, bounded repeats, no nested quantifiers), so
a 1 MiB log is classified in bounded time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pytest_proxydiag.triage.rules_clients import rows as _client_rows
from pytest_proxydiag.triage.rules_gateway import rows as _gateway_rows
from pytest_proxydiag.triage.rules_trust import rows as _trust_rows
from pytest_proxydiag.triage.rules_vocab import rows as _vocab_rows

#: The flowchart's symptom branches, in the flowchart's order (also the tie-break order), and the
#: gateway hop (Claude Code → LLM gateway → proxy → provider, issue 18) last.
BRANCHES: tuple[str, ...] = ("auth", "connectivity", "certificate", "policy", "application", "performance",
                             "bypass", "gateway")


@dataclass(frozen=True)
class Rule:
    """One row of the table: a pattern, the branch it points to, how strongly, and why."""

    pattern: str
    branch: str
    weight: float
    note: str
    #: Rows describing the same clue share a group; per branch only the strongest counts.
    group: str = ""


@dataclass(frozen=True)
class Evidence:
    branch: str
    pattern: str
    matched_text: str
    weight: float


# -- the table ------------------------------------------------------------------
# Weights: 4 names the branch outright (a 407, "certificate verify failed"),
# 3 is strong, 2 supports, 1 keeps a branch in play, negative weights are
# counter-evidence (the provider answered, so the path through the proxy works).
# A row may point to several branches; it is expanded to one Rule per branch.


#: A loopback or private address: never a destination the corporate proxy should be asked for.
_LOCAL = r"(?:localhost|127(?:\.\d{1,3}){3}|10(?:\.\d{1,3}){3}|192\.168(?:\.\d{1,3}){2}|172\.(?:1[6-9]|2\d|3[01])(?:\.\d{1,3}){2})"


def _status(code: int) -> str:
    """An HTTP status number standing alone (not ``line 407``, ``:4070``, ``#413`` or ``_ssl.c:1007``)."""
    return rf"(?<![\w.:/#-])(?<!line )(?<!port ){code}(?![\w]|[.:/-]\d)"


def _any(*wordings: str) -> str:
    """A pattern for any of *wordings*: one message as each language (or each client) words it."""
    return "|".join(wordings)


# Each row: (group, pattern, note, {branch: weight}).  Rows of one group describe the same
# clue in different wordings (a 407 status, "Proxy Authentication Required", Squid's 407 page):
# per branch only the strongest matching row of a group counts, so one clue printed three ways
# (or repeated by a retry loop) does not outweigh two independent clues.
_TABLE: tuple[tuple[str, str, str, dict[str, float]], ...] = (
    # ---- auth: the proxy wants (other) credentials
    ("407", _status(407), "HTTP 407: the proxy demands credentials", {"auth": 4}),
    ("407", r"proxy[ -]?authentication[ -]?required", "the proxy demands credentials (407)", {"auth": 4}),
    ("407", r"cache access denied|ERR_CACHE_ACCESS_DENIED", "Squid's 407 page (ERR_CACHE_ACCESS_DENIED): "
     "the proxy demands credentials", {"auth": 4}),
    ("407", _any(r"Proxyauthentifizierung", r"Proxy-Authentifizierung", r"プロキシ認証", r"代理身份验证", r"代理认证"),
     "the proxy demands credentials (localized)", {"auth": 4}),
    ("407-header", r"proxy-authenticate\b", "a Proxy-Authenticate challenge", {"auth": 3}),
    ("auth-scheme", r"\b(?:ntlm|negotiate|kerberos|spnego|cntlm)\b", "an NTLM/Kerberos proxy: clients without "
     "that scheme fail with generic connection errors", {"auth": 2}),
    ("auth-words", r"proxy[ -]?auth(?:entication|orization)?\b(?! required)|proxy credentials",
     "proxy authentication is mentioned", {"auth": 2}),
    ("tunnel", r"Proxy CONNECT aborted", "git's failed CONNECT, often a 407 it cannot answer",
     {"auth": 2, "connectivity": 2}),
    ("tunnel", r"tunneling socket could not be established", "the CONNECT through the proxy failed (npm/request)",
     {"connectivity": 2, "auth": 1}),
    ("tunnel", r"Tunnel connection failed|unsuccessful tunnel|ERR_TUNNEL_CONNECTION_FAILED|CONNECT tunnel failed",
     "the proxy refused or failed the CONNECT tunnel", {"connectivity": 2, "policy": 1, "auth": 1}),
    ("tunnel-status", r"(?:tunnel connection failed|connect tunnel failed,? response|statuscode=|received http code)"
     r":? ?4\d\d\b", "the proxy answered the CONNECT with a 4xx status: it is reachable, and said no",
     {"connectivity": -2}),
    ("proxy-tunnel", r"ERR_PROXY_TUNNEL|couldn't connect through your proxy|the proxy refused the tunnel",
     "Claude Code: the proxy refused the CONNECT tunnel (credentials, or a host it does not allow)",
     {"auth": 3, "policy": 2.5, "connectivity": 1.5}),
    ("tunnel", r"from proxy after CONNECT", "the proxy answered the CONNECT with an error status",
     {"connectivity": 2, "policy": 1, "auth": 1}),
    ("hangup", r"socket hang up", "the proxy closed the connection (often an unanswered auth challenge)",
     {"connectivity": 2, "auth": 1}),
    ("pip-old", r"Cannot fetch index base URL", "old pip's generic failure behind a proxy: an NTLM proxy it cannot "
     "authenticate to, or an old pip that did not use the proxy at all", {"auth": 2, "bypass": 1.5, "connectivity": 1}),

    # ---- connectivity: the proxy (or gateway) cannot be reached
    ("refused", r"connection refused|ECONNREFUSED|ConnectionRefused|Errno 111\b|WinError 10061|actively refused|"
     r"\bconnection to [^\s]{1,260} refused",
     "nothing listens at that address and port (connection refused)", {"connectivity": 4}),
    ("refused", _any(r"Verbindung(?:saufbau)? (?:wurde )?abgelehnt", r"接続が拒否されました", r"接続を拒否",
                     r"Connexion refus[ée]e", r"conexi[óo]n (?:rehusada|rechazada)", r"连接被拒绝", r"拒绝连接"),
     "connection refused (localized)", {"connectivity": 4}),
    # Windows' WSAECONNREFUSED (10061) text as localized Windows prints it (zh, de, fr, es, ja).
    ("refused", _any(r"目标计算机积极拒绝", r"Zielcomputer die Verbindung verweigerte",
                     r"l.ordinateur cible l.a express[ée]ment refus[ée]e", r"equipo de destino deneg[óo] expresamente",
                     r"対象のコンピューターによって拒否された"),
     "connection refused (Windows, localized)", {"connectivity": 4}),
    ("refused", r"proxy server is refusing connections|ERR_PROXY_CONNECTION_FAILED",
     "the browser's words: nothing accepts connections at the proxy's address and port", {"connectivity": 4}),
    ("refused", r"(?:curl: ?)?\(7\) Failed to connect", "curl exit 7: could not connect", {"connectivity": 4}),
    ("generic", r"Failed to connect to|接続できませんでした|Verbindung (?:konnte nicht|fehlgeschlagen)",
     "the client could not connect", {"connectivity": 2}),
    ("resolve-proxy", r"Could not resolve proxy", "the proxy's host name does not resolve (curl exit 5)",
     {"connectivity": 4}),
    ("socks", r"SOCKS[45]h? (?:read |write |connect(?:ion)? )?(?:error|failure|failed)|Error connecting to SOCKS[45]? proxy|"
     r"SOCKS[45]? (?:proxy )?(?:server )?(?:refused|unreachable)|general SOCKS server failure",
     "the SOCKS proxy did not complete the handshake (down, wrong port, or it refused the destination)",
     {"connectivity": 3, "policy": 1}),
    # A client that cannot speak the proxy URL's scheme (a socks5:// URL given to Claude Code, Node, or
    # requests/httpx without their SOCKS extra): connectivity.proxy_works names the clients, one by one.
    ("socks-client", r"UnsupportedProxyProtocol|Missing dependencies for SOCKS support|"
     r"the 'socksio' package is not installed|Unsupported proxy protocol|"
     r"Only http(?:s)? (?:and https )?prox(?:y|ies) (?:is|are) supported|[只仅]支持 ?https?(?:和 ?https)?",
     "the client cannot use this kind of proxy URL (a SOCKS URL where it needs an HTTP proxy)",
     {"connectivity": 4, "application": 1.5}),
    # Apache HttpClient (Java, Gradle) names the address it dialled; a port that is not the destination's 443/80
    # is the proxy (or gateway) it was configured to use, and that did not answer.
    ("named-proxy-port", r"\bconnect(?:ion)? to (?:https?://)?[\w.-]{1,253}:(?!443\b|80\b)\d{2,5}\b(?: \[[^\]]{1,120}\])? ?"
     r"(?:failed|refused)", "the error names the address and port it dialled, not the destination's 443: the proxy "
     "set for this client does not answer there", {"connectivity": 3, "bypass": -2}),
    ("proxyerror", r"proxyconnect tcp", "Go could not connect to, or talk to, the proxy in HTTPS_PROXY (proxyconnect)",
     {"connectivity": 3, "auth": 1}),
    ("proxyerror", r"\bProxyError\b|Unable to connect to proxy|Cannot connect to proxy",
     "the client could not use the proxy (ProxyError)", {"connectivity": 2, "auth": 1}),
    ("unreachable", r"Network is unreachable|ENETUNREACH|EHOSTUNREACH|No route to host|Errno 101\b|Errno 113\b",
     "no route to the address", {"connectivity": 4}),
    ("reset", r"connection reset|connection dropped|ECONNRESET|ConnectionResetError|Errno 104\b|WinError 10054|Recv failure|"
     r"Verbindung (?:wurde )?(?:vom Peer )?zurückgesetzt|接続がリセット",
     "the connection was reset (proxy down, a policy reset, or TLS refused)",
     {"connectivity": 3, "policy": 1.5, "certificate": 1}),
    # A browser's reset page for one site: other sites load through the same path, so a filter (a firewall's
    # category or DPI rule, a proxy's policy) reset this one.
    ("reset", r"PR_CONNECT_RESET_ERROR|ERR_CONNECTION_RESET", "the browser's connection to this site was reset (a "
     "filter's reset of one site, more often than a broken path)", {"policy": 3.5, "connectivity": 2}),
    ("aborted", r"Connection aborted|RemoteDisconnected|closed connection without response|Empty reply from server|"
     r"curl: ?\(52\)|server disconnected", "the peer hung up without answering", {"connectivity": 2, "policy": 1}),
    ("generic", r"Connection error|APIConnectionError|ConnectError\b|fetch failed|network error",
     "a generic connection failure: through a proxy it may be connectivity, auth (NTLM) or TLS",
     {"connectivity": 2, "auth": 1.5, "certificate": 1}),
    ("generic", r"Unable to connect to (?:the )?API|Unable to connect to Anthropic services|"
     r"poor internet connection", "Claude Code could not reach the API", {"connectivity": 2, "auth": 1}),
    ("squid-upstream", r"ERR_CONNECT_FAIL", "Squid could not reach the upstream (ERR_CONNECT_FAIL)",
     {"connectivity": 3, "policy": 1}),
    ("squid-upstream", r"ERR_DNS_FAIL|ERR_CANNOT_FORWARD", "the proxy could not resolve or forward to the host",
     {"connectivity": 2, "policy": 2}),
    ("gateway", r"Cannot connect to host|gateway (?:is )?(?:not running|down|unreachable)",
     "aiohttp (LiteLLM's client) or the gateway could not connect (is the gateway, or what it calls, running?)",
     {"connectivity": 2.5, "application": 1}),
    ("dns", r"getaddrinfo|ENOTFOUND|EAI_AGAIN|EAI_NONAME|NameResolutionError|Name or service not known|"
     r"nodename nor servname|Temporary failure in name resolution|Failed to resolve|Could not resolve host|"
     r"Errno -[23]\b|Errno 11001|Der Name konnte nicht aufgelöst werden|名前解決",
     "a name did not resolve: a wrong proxy host name, or a client that skipped the proxy and resolved "
     "the provider itself", {"connectivity": 2, "bypass": 2}),

    # ---- timeouts: connect timeouts point to connectivity, read/stream timeouts to performance
    ("timeout", r"ConnectTimeout|UND_ERR_CONNECT_TIMEOUT|Connect Timeout Error|connect ETIMEDOUT|"
     r"Connect(?:ion)? timed out|Errno 110\b|WinError 10060|ERR_SOCKET_CONNECTION_TIMEOUT|"
     r"connected party did not properly respond|connected host has failed to respond",
     "connecting timed out (a silent proxy or a dropped route)", {"connectivity": 3, "performance": 1.5}),
    ("timeout", r"curl: ?\(28\)", "curl exit 28: a timeout (connecting, or waiting for the answer)",
     {"connectivity": 2, "performance": 2}),
    ("timeout", r"ETIMEDOUT", "Node: the operation timed out", {"connectivity": 2, "performance": 1}),
    ("timeout", r"ReadTimeout|Read timed out|UND_ERR_HEADERS_TIMEOUT|UND_ERR_BODY_TIMEOUT|Request timed out|"
     r"APITimeoutError|litellm\.Timeout|litellm\.exceptions\.Timeout|Operation timed out after|"
     # Go's http.Client timing out in the body, and request/npm's socket (idle) timeout once connected.
     r"while reading body|ESOCKETTIMEDOUT",
     "the answer took too long (read/request timeout)", {"performance": 3, "connectivity": 1}),
    ("timeout", _any(r"连接方在一段时间后没有正确答复", r"Gegenstelle nach einer bestimmten Zeitspanne nicht",
                     r"le parti connect[ée] n.a pas r[ée]pondu", r"la parte conectada no respondi[óo]",
                     r"一定の時間を過ぎても正しく応答しなかった"),
     "connecting timed out (Windows, localized)", {"connectivity": 3, "performance": 1.5}),
    ("timeout", r"time[d ]?[ -]?out|Zeitüberschreitung|Zeitlimit|タイムアウト|超时|d[ée]lai d'attente",
     "a timeout: a silent proxy or a slow path", {"connectivity": 1.5, "performance": 1.5}),

    # ---- certificate: the TLS chain is not trusted (usually a TLS-inspecting proxy)
    ("cert", r"CERTIFICATE_VERIFY_FAILED|certificate verif(?:y|ication) failed|SSLCertVerificationError",
     "TLS certificate verification failed", {"certificate": 4}),
    ("cert", r"self[- ]signed certificate|SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT",
     "a self-signed certificate in the chain: a TLS-inspecting proxy whose CA is not trusted",
     {"certificate": 4}),
    ("cert", r"unable to get (?:local )?issuer certificate|UNABLE_TO_GET_ISSUER_CERT(?:_LOCALLY)?|"
     r"UNABLE_TO_VERIFY_LEAF_SIGNATURE|unable to verify the first certificate",
     "the issuer of the presented certificate is unknown: an interception CA that is not trusted",
     {"certificate": 4}),
    ("cert", r"SSL certificate problem|curl: ?\(60\)|curl: ?\(77\)", "curl could not verify the certificate",
     {"certificate": 4}),
    ("cert", r"Basic Constraints of CA cert not marked critical|Missing Authority Key Identifier|"
     r"CA cert does not include key usage extension",
     "Python 3.13's strict X.509 check rejects a corporate CA older Pythons accepted", {"certificate": 4}),
    ("cert", r"Self-signed certificate detected|corporate SSL certificates",
     "Claude Code's self-signed certificate message", {"certificate": 4}),
    ("cert", _any(r"CERT_HAS_EXPIRED", r"certificate has expired", r"ERR_TLS_CERT_ALTNAME_INVALID",
                  r"Hostname/IP does not match", r"hostname mismatch", r"CERT_NOT_YET_VALID", r"doesn.t match either of",
                  r"does not match either of"),
     "the certificate is expired or for another name", {"certificate": 3}),
    ("cert", _any(r"証明書", r"Zertifikat", r"证书", r"certificado"), "a certificate problem (localized)",
     {"certificate": 3}),
    ("cert", r"certificat", "a certificate is mentioned", {"certificate": 1}),
    ("ca-file", r"\bInvalid CA\b|bad CA certificate|PEM routines|no certificate or crl found",
     "a CA file the client cannot read (DER instead of PEM?)", {"certificate": 3}),
    ("ca-setting", r"NODE_EXTRA_CA_CERTS", "NODE_EXTRA_CA_CERTS is involved: a DER or unreadable file there makes "
     "Claude Code report ConnectionRefused", {"certificate": 3}),
    ("ca-setting", r"REQUESTS_CA_BUNDLE|SSL_CERT_FILE|CURL_CA_BUNDLE|"
     r"NODE_TLS_REJECT_UNAUTHORIZED|truststore|certifi\b|--cacert|cafile",
     "a CA setting is involved (a wrong or DER file there breaks clients in misleading ways)",
     {"certificate": 2}),
    ("tls", r"\bSSLError\b|\bSSL: |\bTLS\b|handshake|ssl\.c\b", "a TLS-level error", {"certificate": 1.5}),
    ("tls-eof", r"SSLEOFError|EOF occurred in violation of protocol|UNEXPECTED_EOF_WHILE_READING|"
     r"WRONG_VERSION_NUMBER|wrong version number|unknown protocol|\bEPROTO\b|packet length too long|"
     r"record layer failure|http request on an https|ERR_SSL_PROTOCOL_ERROR|"
     # Go's crypto/tls and net/http words for the same thing (proxyconnect: the proxy is the plain-HTTP end).
     r"first record does not look like a tls handshake|server gave HTTP response to HTTPS client",
     "TLS spoken to something that is not TLS: often an https:// proxy URL on a plain-HTTP proxy port",
     {"connectivity": 4, "certificate": 2}),
    # curl's TLS handshake failed on a port that is not 443: the TLS went to the proxy's own port.
    ("tls-eof", r"SSL_ERROR_SYSCALL in connection to [^\s:]{1,253}:(?!443\b)\d{2,5}\b",
     "curl's TLS handshake failed on the proxy's port: an https:// proxy URL for a proxy that speaks plain HTTP",
     {"connectivity": 4, "certificate": 1}),
    ("proxy-url", r"ProxySchemeUnknown|Not supported proxy scheme",
     "the proxy URL has no (or an unknown) scheme: write it as http://host:port", {"connectivity": 4}),
    ("tunnel-400", r"\b400 bad request\b[^\n]{0,40}\bproxy\b|\bproxy\b[^\n]{0,40}\b400 bad request\b",
     "a 400 Bad Request from or through the proxy: the request form or the proxy URL's scheme",
     {"connectivity": 4}),
    ("tunnel-400", r"(?:tunnel connection failed|connect tunnel failed,? response|received http code|statuscode=):? ?400\b",
     "the proxy answered the CONNECT with 400 Bad Request: a request form it does not take, an https:// "
     "proxy URL on a plain port, or a port that is not a forward proxy", {"connectivity": 5}),
    ("proxy-scheme", r"your proxy appears to only use HTTP and not HTTPS",
     "urllib3: the proxy URL says https:// but the proxy speaks plain HTTP", {"connectivity": 4}),

    # ---- policy: the proxy answered, and refused
    ("deny", _status(403), "HTTP 403: forbidden by the proxy (or the provider)", {"policy": 3}),
    ("deny", r"\bForbidden\b|Zugriff verweigert|アクセスが拒否|禁止されて|访问被拒绝", "forbidden / access denied",
     {"policy": 3}),
    ("deny", r"(?<!cache )access denied|ERR_ACCESS_DENIED|ERR_BLOCKED|has been blocked|blocked by|"
     r"URL filter|web filter|content filter|not allowed by policy|policy violation|you have been blocked|"
     r"\b(?:is|are|was|were|gets?|got|being) (?:apparently |probably |now )?blocked\b",
     "the proxy's access policy blocked the request", {"policy": 3}),
    # Claude Code's WebFetch asks whether a domain may be fetched: that check failing is its host refused on the way
    # (a proxy's or firewall's policy). The words name claude.ai; 2.1.332 asks api.anthropic.com (measured).
    ("deny-said", r"Unable to verify if domain [^\s]{1,253} is safe to fetch", "Claude Code's WebFetch could not "
     "run its domain check: the message names claude.ai, but Claude Code 2.1.332 asks api.anthropic.com "
     "(/api/web/domain_info) whatever the API provider, so the proxy's policy (or a firewall) blocks "
     "api.anthropic.com (policy.claude_hosts checks it)", {"policy": 4}),
    ("deny-said", r"(?:security|network|corporate|enterprise|company|organi[sz]ation(?:al)?) polic(?:y|ies) "
     r"(?:are |is )?block(?:s|ing|ed)?\b", "a security policy is said to block the request", {"policy": 3}),
    ("502", _status(502), "HTTP 502: a proxy or gateway got no valid answer upstream",
     {"policy": 3, "connectivity": 1}),
    ("502", r"Bad Gateway", "a 502 page", {"policy": 3}),
    ("504", _status(504) + r"|Gateway Time-?out|\b504 ?time-?out", "HTTP 504: a gateway waited too long upstream",
     {"performance": 3, "policy": 1.5, "connectivity": 1}),
    ("503", _status(503) + r"|Service Unavailable", "HTTP 503 from the proxy or the provider",
     {"connectivity": 1.5, "performance": 1.5, "policy": 1}),
    ("500", _status(500) + r"|Internal Server Error", "HTTP 500: the proxy could not forward the request",
     {"connectivity": 1.5, "policy": 1.5}),
    ("413", _status(413) + r"|Request Entity Too Large|Payload Too Large|ERR_TOO_BIG",
     "HTTP 413: a body size limit in the path", {"policy": 3}),
    ("html-page", r"<title>|<center>|<h1>|nginx|openresty", "an HTML error page from a proxy or web server in "
     "the path", {"policy": 1}),
    ("418", _status(418) + r"|I'?m a teapot", "HTTP 418 (proxy.py's host filter)", {"policy": 2}),
    ("vendor", r"\b(?:zscaler|blue ?coat|symantec|netskope|forcepoint|websense|palo ?alto|fortigate|fortiguard|"
     r"mcafee web gateway|skyhigh|iboss|umbrella|ISA server|forefront|TMG|squid|x-squid-error|barracuda|"
     r"sophos|check ?point)\b", "a corporate proxy/security product is named", {"policy": 1}),
    ("provider-edge", r"\bcloudflare\b|cf-ray|Ray ID", "the page comes from Cloudflare at the provider's end, "
     "not from your proxy: a transient provider-side failure", {"performance": 2, "policy": -1}),

    # ---- application: one client works and another does not, or the provider answered
    ("works-elsewhere", r"\b(?:works?|worked|working|succeeds?|fine|ok)\b[^\n]{0,40}?\b(?:with|in|from|using|via|"
     r"through)\s+(?:curl|wget|the browser|a browser|browser|chrome|postman|python|requests|httpx|vs ?code|"
     r"copilot|other tools|claude\.ai)",
     "one client works and another does not: a per-application setting", {"application": 4, "bypass": 2}),
    ("works-elsewhere", r"\b(?:curl|wget|browser|postman|requests|python|npm|git|claude(?: code)?|cmd|"
     r"(?:the )?command line)\b[^\n]{0,30}?\b(?:works|worked|"
     r"succeeds|is fine|has no problem|connects|funktioniert|動作する|は動く)",
     "another client works on the same machine", {"application": 4, "bypass": 2}),
    ("works-elsewhere", r"\b(?:fails?|broken|does ?n[o']t work)\b[^\n]{0,30}?\b(?:only )?(?:in|with|from)\s+"
     r"(?:claude|node|the extension)", "only one application fails", {"application": 3, "bypass": 1}),
    ("works-elsewhere", r"\bset (?:the |a |up )?proxy (?:for|in|on) [^\n]{1,40}? but [^\n]{0,60}?(?:unable|can.t|cannot|"
     r"fails?|not able|does ?n.t|does not)", "the proxy is set for one tool and another still fails: a per-application "
     "setting", {"application": 4, "bypass": 2}),
    ("works-elsewhere", r"\bno(?:t any)? problems? with (?:the )?(?:desktop app|browser|claude\.ai|curl|other tools)|"
     r"\bonly (?:with|in|from) (?:claude(?: code)?|the (?:cli|extension|sdk)|node)\b",
     "only one application fails", {"application": 3, "bypass": 1}),
    ("client-no-https-proxy", r"built without the HTTPS-proxy support|Unsupported proxy scheme|scheme not supported in proxy",
     "this client (its libcurl) cannot use an https:// proxy URL: use http://host:port, or a newer client",
     {"application": 4, "connectivity": 1.5}),
    # An https:// proxy URL: the client must speak TLS to the proxy, which many cannot (Node, .NET, Go's gRPC,
    # old libcurl, libgit2).  A client that can, facing a plain proxy, gets a TLS error (the tls-eof row); one
    # that cannot sends a plain CONNECT to the TLS port, and the proxy resets it.
    ("client-no-https-proxy", r"https?_proxy ?[=:] ?[\"']?https://|https:// ?(?:url |scheme )?(?:for|as|in) (?:the |my )?proxy\b|"
     r"\bhttps (?:url|scheme) (?:for|as|in) (?:the |my )?proxy\b",
     "an https:// proxy URL: many clients cannot speak TLS to the proxy, and most corporate proxies listen for "
     "http://host:port", {"application": 2, "connectivity": 1.5}),
    ("client-no-https-proxy", r"https?_proxy ?[=:] ?[\"']?https://[^\n]{0,400}?(?:connection reset|econnreset|"
     r"malformed http response|\\x15\\x03)",
     "an https:// proxy URL, and the proxy reset the connection: the client sent plain text where the proxy expects "
     "TLS (this client has no HTTPS-proxy support); use the proxy's http:// port", {"application": 5, "connectivity": -2}),
    # The JVM never reads HTTP(S)_PROXY: it takes -Dhttps.proxyHost/-Dhttps.proxyPort (JAVA_TOOL_OPTIONS,
    # gradle.properties' systemProp.*, Maven's settings.xml), so a Java connection error with no proxy in it
    # is most often the JVM going direct.
    ("jvm", r"\bjava\.net\.(?:connect|sockettimeout|unknownhost|noroutetohost)exception|"
     r"org\.apache\.http\.conn\.(?:httphostconnect|connecttimeout)exception",
     "a Java (JVM) client: it never reads HTTPS_PROXY; it needs -Dhttps.proxyHost and -Dhttps.proxyPort "
     "(JAVA_TOOL_OPTIONS, gradle.properties)", {"application": 4, "bypass": 2, "connectivity": -1.5}),
    ("jvm", r"systemprop\.https?\.proxy(?:host|port)|-dhttps?\.proxy(?:host|port)",
     "the JVM's own proxy properties (gradle.properties' systemProp.*, -Dhttps.proxyHost) decide where it connects",
     {"application": 2.5}),
    ("jvm", r"\bgradlew?\b|\bmaven\b|\bmvn\b|android studio",
     "a JVM build tool: its proxy is set in its own files (gradle.properties, settings.xml), not by HTTPS_PROXY",
     {"application": 1.5}),
    ("provider-413", r"request_too_large|Request exceeds the maximum size|Request too large \(max",
     "the provider's own 413 (JSON request_too_large): the proxy passed it; the request itself is too big",
     {"application": 4, "policy": -3}),
    ("provider-answer", r"authentication_error|invalid x-api-key|Invalid API key|invalid_api_key|permission_error|"
     r"not_found_error|invalid_request_error",
     "the provider answered (an API error): the path through the proxy works",
     {"application": 3, "connectivity": -1, "certificate": -1, "policy": -1}),
    # Bedrock's and Vertex AI's own refusal of the login, in AWS's, Google's and Claude Code's words (measured with
    # Claude Code 2.1.332 in both modes): the cloud answered, so its 403/401 is no proxy's.
    ("cloud-login", r"AWS authentication failed|security token included in the request is (?:invalid|expired)|"
     r"Missing Authentication Token|UnrecognizedClientException|ExpiredTokenException|"
     r"request signature we calculated does not match|Google Cloud credentials expired or invalid|"
     r"Request is missing required authentication credential|Request had invalid authentication credentials",
     "AWS or Google answered and refused the cloud login (expired, missing or wrong credentials): the path through "
     "the proxy works; renew the login (aws sso login, gcloud auth application-default login)",
     {"application": 4, "policy": -3, "auth": -1, "connectivity": -1, "certificate": -1}),
    ("provider-403", r"\"type\": ?\"forbidden\"|'type': ?'forbidden'|Request not allowed",
     "the provider's own 403 (JSON 'forbidden', 'Request not allowed'): the request reached the provider from a "
     "place it refuses, so it did not leave through the proxy's egress", {"bypass": 4, "policy": -2}),
    # The client itself lacks the proxy feature (a feature request, a maintainer's "not supported").
    ("app-no-proxy-feature", r"(?:add(?:ing)?|request(?:ing)?|need|want|no|lacks?|without|missing) (?:a )?support "
     r"(?:for|of) (?:an? )?(?:upstream |corporate |private |authenticated |https |socks5? |ntlm |kerberos )?prox(?:y|ies)|"
     r"(?:does ?n.t|does not|do not|cannot|can.t|will not|won.t) (?:yet )?support (?:an? )?(?:authenticated |https |"
     r"socks5? |ntlm |kerberos |upstream )?prox(?:y|ies)|prox(?:y|ies)[^\n]{0,40}? (?:is |are )?not (?:yet )?supported",
     "the client itself lacks this proxy feature (no proxy, HTTPS-proxy, SOCKS or proxy-authentication support)",
     {"application": 4, "auth": 1}),
    ("app-config", r"ANTHROPIC_BASE_URL|settings\.json|\.claude/|claude doctor|VS ?Code extension|\bWSL\b|\bMCP\b",
     "application configuration is involved", {"application": 1}),
    ("pac", r"\bPAC\b|AutoConfigURL|proxy auto-?config|\bwpad\b", "a PAC/auto-config proxy, which many clients "
     "cannot evaluate", {"bypass": 2, "application": 2}),

    # ---- performance: slow, buffered, rate limited
    ("slow", r"\bslow(?:ly|ness)?\b|sluggish|takes? (?:ages|forever|minutes)|high latency|\blaggy\b|遅い|langsam",
     "slowness is reported", {"performance": 3}),
    ("stream", r"Stream idle timeout|partial response received", "a response stream stalled midway",
     {"performance": 4}),
    ("stream", r"(?:arrives?|appears?|comes?|shows? up) (?:all )?at once|not streaming|"
     r"stream(?:ing)? (?:is )?buffered|response buffering|"
     r"\bstream[^\n]{0,160}?\bbuffer(?:ed|ing|s)?\b|\bbuffer(?:ed|ing|s)?\b[^\n]{0,160}?\bstream|"
     r"\b(?:in|as) (?:one|a single) (?:large |big )?(?:batch|chunk|block)\b|\bin bursts\b|"
     r"\b(?:massive|sudden|single|big) burst\b|\b(?:chunks|events|tokens|deltas) at once\b", "a buffered stream (an inspecting proxy holding "
     "server-sent events)", {"performance": 3}),
    ("rate", _status(429) + r"|Too Many Requests|rate[_ -]?limit|No deployments available|No healthy deployment|"
     r"cooldown", "rate limited (LiteLLM's 'No deployments available' is a cooldown, not an outage)",
     {"performance": 4}),
    ("overload", _status(529) + r"|overloaded_error|\bOverloaded\b", "the provider is overloaded",
     {"performance": 3}),
    ("timeout-setting", r"API_TIMEOUT_MS|request_timeout|increas\w* (?:the )?timeout",
     "a timeout setting is involved (or a gateway that is down)", {"performance": 2, "connectivity": 1}),

    # ---- bypass: traffic that should use the proxy does not
    ("bypass-words", r"not (?:go(?:ing)?|rout(?:ed|ing)|sent|pass(?:ing)?) (?:through|via) (?:the )?proxy|"
     r"(?:do(?:es)?n[o']?t|do(?:es)? not|never) (?:use|route|go|pass|hit)(?: through| via)? (?:the )?proxy|"
     r"bypass(?:es|ing|ed)? (?:the )?proxy|proxy (?:is )?(?:not|never) (?:being )?used|"
     r"ignor(?:es|ing|ed) (?:the )?(?:HTTPS?_PROXY|proxy)|"
     r"(?:does ?n[o']t|does not|not) (?:respect|honou?r)(?:ing)? (?:the )?(?:HTTPS?_PROXY|proxy)|"
     r"(?:not|nothing) (?:show(?:s|ing)? up )?in the (?:proxy|squid) (?:access )?log|goes? direct(?:ly)?\b|"
     r"(?:does ?n[o']t|does not|do not|never) (?:call|read|use|pick up|apply|inherit|(?:automatically )?handle)"
     r"(?: the)? (?:HTTPS?_PROXY|(?:https? )?proxy)|"
     r"(?:https?_proxy|proxy settings?|proxy env(?:ironment)? variables?) (?:is |are )?(?:not working|"
     r"not (?:getting |being )?(?:applied|respected|honou?red|picked up))|"
     r"プロキシを経由しない|Proxy wird (?:nicht verwendet|umgangen)|"
     r"\bnot (?:use|using|read|reading) (?:the )?(?:HTTPS?_PROXY|proxy)\b|"
     r"没有?(?:通过|走|经过|使用)代理|不走代理|未(?:通过|走|经过|使用)代理|绕过了?代理",
     "traffic is not going through the proxy", {"bypass": 4, "application": 2}),
    ("bypass-words", r"\b(?:not|never|isn.t|does ?n.t|does not|don.t) (?:talk(?:ing)?|connect(?:ing)?|send(?:ing)?|go(?:ing)?) "
     r"(?:to|through|via) (?:the |our |my )?proxy|despite (?:the |my |declaring |setting )?[\w ]{0,20}?(?:proxy|https?_proxy)"
     r"[^\n]{0,40}?(?:configured|\bset\b|declared|being)|(?:does ?n.t|does not|did not|didn.t)(?: seems? to)? take "
     r"(?:into )?(?:account|consideration|notice)(?: of)? (?:the )?(?:no_proxy|https?_proxy|proxy)|no longer (?:respects?|uses?|reads?|honou?rs?) (?:the )?(?:https?_proxy|proxy)|"
     r"(?:check(?:ed|s)?|reads?|use[sd]?|respect(?:ed|s)?|honou?r(?:ed|s)?) (?:that |the )?[`'\"]?https?_proxy[`'\"]?[^\n]{0,120}?"
     r"(?:currently|but) (?:it )?(?:does not|does ?n.t|did not|didn.t|is not|isn.t)",
     "traffic is not going through the proxy", {"bypass": 4, "application": 2}),
    # It works once the proxy is off, or stops working once one is set: something that must not use the proxy
    # (a local server, an internal host) is sent to it.  Behind a corporate proxy nothing external works without it.
    ("proxy-off-works", r"(?:after|when|once|if) (?:i |we )?(?:unset|remov\w{0,4}|disabl\w{0,4}|turn\w{0,3} off|clos\w{0,4}|"
     r"delet\w{0,4}|clear\w{0,4})[^\n]{0,40}?(?:proxy|https?_proxy)[^\n]{0,60}?(?<!nothing )(?<!longer )(?<!never )"
     r"(?:works|worked|connects|is fine|runs)|"
     r"(?:works|worked|working)[^\n]{0,30}?without (?:the |a |any )?proxy|(?<!nothing )(?:works|worked|connects) "
     r"(?:again |fine )?(?:after|when|once|if) (?:i |we )?(?:unset|remov\w{0,4}|disabl\w{0,4}|turn\w{0,3} off|delet\w{0,4}|"
     r"clear\w{0,4})[^\n]{0,20}?(?:proxy|https?_proxy)|"
     r"把代理关|关(?:闭|掉)了?代理[^\n]{0,20}?(?:就|可以|正常)|不(?:走|用|使用)代理[^\n]{0,20}?(?:就|可以|正常)",
     "it works once the proxy is out of the way: the request should never have gone to the proxy (a local "
     "server or an internal host): NO_PROXY must list it", {"bypass": 4, "application": 1}),
    ("proxy-off-works", r"(?:if|when|once|after) (?:i |we )?(?:set|enable|turn on|configure|use)(?: up)? (?:a |the |my )?"
     r"(?:system |windows |http |global )?proxy[^\n]{0,60}?(?:won.t|does ?n.t|does not|cannot|can.t|fails?|stops?|"
     r"breaks?|no longer)|设置了?代理[^\n]{0,30}?(?:无法|不能|连不上)",
     "it stops working once a proxy is set: requests that must stay local or internal now go to the proxy "
     "(NO_PROXY must list them)", {"bypass": 2, "application": 1}),
    ("no-proxy", r"\bno_proxy\b", "NO_PROXY decides which hosts skip the proxy", {"bypass": 3, "connectivity": 1}),
    ("system-proxy", r"system proxy|WinHTTP|networksetup|gsettings|Internet Options|scutil --proxy",
     "a system-wide proxy setting is involved", {"bypass": 2}),
    # An error naming the destination's port 443/80 (not a proxy port) means the client connected
    # directly: it did not use the proxy.  The connection error itself then says nothing about the proxy,
    # and from the text alone a client that skips the proxy is as likely an application setting.
    ("direct-dest", r"(?:ETIMEDOUT|ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENETUNREACH|ENOTCONN|ECONNABORTED) "
     r"\[?[\w.:-]{3,60}\]?:443\b|"
     r"failed to connect to [\w.-]{1,253} port (?:443|80)\b|failed connect to [\w.-]{1,253}:(?:443|80)\b|"
     r"connect to [\w.-]{1,253}:443 \[|attempted address:? \[?[\w.:-]{1,253}\]?:443\b|dial tcp [\w.:\[\]-]{1,260}:443\b|"
     r"(?<!proxyconnect tcp: )dial tcp [0-9a-f.:\[\]]{3,60}:80\b|"
     r"\b443 is not reachable|"
     # gRPC names the address it dialled: the proxy's (ipv4:<proxy>:<its port>) when it uses one, else the destination's.
     r"(?:failed to connect to|connect error to|last error: [a-z]{3,20}:) '?ipv[46]:\[?[0-9a-f.:]{3,60}\]?:443\b",
     "a direct connection to the destination's port 443 (no proxy in the message): the client did not use "
     "the proxy", {"bypass": 5, "connectivity": -3, "application": 1.5}),
    ("direct-dest", r"cannot connect to host [\w.-]{1,253}:443\b(?! ssl:[^\s]{1,40} \[(?:ssl|cert))", "aiohttp connected to the destination's port "
     "443 itself (aiohttp ignores HTTPS_PROXY unless trust_env=True): not a gateway or proxy that is down",
     {"bypass": 5, "connectivity": -4, "application": 2}),
    # .NET and Windows name the address they dialled after the reason: "... failed to respond 1.2.3.4:443",
    # "... actively refused it. (host:443)".
    ("direct-dotnet", r"(?:has failed to respond|respond after a period of time|actively refused it)\.?,? \(?\[?(?!127\.|localhost)[\w.:-]{3,253}\]?:443\b",
     "Windows/.NET names the address it dialled: the destination's port 443, so the client went direct",
     {"bypass": 5, "connectivity": -0.5, "application": 1.5}),
    ("loopback-via-proxy", r"(?:localhost|127\.0\.0\.1):\d{1,5}/[^\s\"]{0,200}\"? \"?http/1\.[01] 50[234]\b",
     "a local server (localhost) answered 502/504 through a proxy: NO_PROXY does not list localhost/127.0.0.1, so "
     "the request went to the proxy", {"bypass": 5, "policy": -2}),
    # The same clue in other clients' words: a local or private address (a VM, a local server) as the
    # destination, and the proxy's answer to it (its refusal, its headers) or a CONNECT to it.
    ("loopback-via-proxy", r"(?:get|post|put|head|delete|patch) \"?https?://" + _LOCAL + r"[:/][^\n]{0,200}?"
     r"(?:forbidden|service unavailable|proxy error|tunnel\b|\b50[234]\b|\b403\b)|"
     r"(?:\bhost|\burl):? ?\"?(?:https?://)?" + _LOCAL + r"(?::\d{1,5})?\b[^\n]{0,400}?"
     r"(?:server:? ?\"?(?:zscaler|squid|bluecoat|mcafee)|x-squid-error)|"
     r"\bconnect(?:ing to server)? " + _LOCAL + r":\d{1,5} (?:http/1\.[01]|via (?:http )?proxy)",
     "a local or private address (a VM, a local server) was sent to the proxy, which answered for it: NO_PROXY "
     "must list it", {"bypass": 5, "policy": -3, "connectivity": -2}),
    # requests/httpx name the URL that got the status ("502 ... for url: http://localhost:11434/..."): a local
    # server does not answer its own address with a gateway error or a proxy's error page; the proxy does.
    # urllib3 names an https destination as HTTPSConnectionPool(host=...) and wraps the proxy's failure in
    # ProxyError: a local destination there was sent to the proxy.  The clue includes the proxy's failure, so
    # it takes back what that failure says by itself (ProxyError and a reset or refused proxy add up to 6 to
    # connectivity, and "the proxy was used" takes 2 from bypass): whatever the proxy did, the request had
    # no business there.
    ("loopback-via-proxy", r"(?:\b50[234]\b|proxy error|privoxy)[^\n]{0,60}?\bfor url:? ?'?https?://" + _LOCAL + r"[:/]|"
     r"'?https?://" + _LOCAL + r"[:/][^\s']{0,200}'? failed \(code 50[234]\)|"
     r"httpsconnectionpool\(host='" + _LOCAL + r"'[^\n]{0,300}?(?:proxyerror|connect to proxy|tunnel connection failed)",
     "a local address (a local server or model) got a gateway or proxy error: the request went to the proxy, "
     "and NO_PROXY must list localhost/127.0.0.1", {"bypass": 5, "policy": -3, "connectivity": -5}),
    # gradio checks its own localhost URL before starting and names the proxy settings when that fails.
    ("loopback-via-proxy", r"localhost is not accessible|ensure localhost is accessible|allow access to localhost",
     "the application could not reach its own localhost URL, a proxy setting in the way: NO_PROXY must list "
     "localhost/127.0.0.1", {"bypass": 5}),
    # node-fetch (the OpenAI/ChatGPT Node libraries of its era) never reads HTTPS_PROXY: "request to https://…
    # failed, reason: connect E…" names no proxy, or the destination's own :443.
    ("direct-dest", r"request to https://[^\s]{1,300} failed, reason: (?:connect )?(?:etimedout|econnrefused|"
     r"enetunreach|ehostunreach|econnreset)(?![ \t]{0,3}[0-9a-f.:\[\]]{3,60}:(?!443\b)\d)",
     "node-fetch (used by many Node SDKs) does not read HTTPS_PROXY: the request went direct, without the proxy",
     {"bypass": 4, "connectivity": -1, "application": 1.5}),
    # Node prints the same connection error as an object: address and port as fields.
    ("direct-dest", r"address['\"]?: ?['\"](?!127\.)[0-9a-f.:]{7,39}['\"],? ?['\"]?port['\"]?: ?(?:443|80)\b",
     "Node's connection error names the destination's own address and port 443/80 (no proxy): the client did "
     "not use the proxy", {"bypass": 5, "connectivity": -2}),
    # Through a proxy, urllib3 (pip, requests) wraps every failure to connect in ProxyError; a retry
    # broken by anything else (a reset, a refused or timed-out connection) was a direct connection.
    ("direct-urllib3", r"after connection broken by '(?!ProxyError|SSLError)\w{1,40}\(",
     "urllib3 (pip, requests) retried a connection that was not made through a proxy (through one it reports "
     "ProxyError): the client went direct", {"bypass": 4, "connectivity": -2}),
    # urllib3 (requests, pip, conda) names the destination; through a proxy every failure to connect is wrapped
    # in ProxyError.  A destination's :443 with no proxy error anywhere in the text was a direct attempt
    # (a timed-out one is the direct-443 row's; TLS, read and mid-stream failures happen through a proxy too).
    ("direct-urllib3", r"^(?![^\n]*(?:proxyerror|proxy ?error|connect to proxy|tunnel connection failed|sslerror|ssl:|"
     r"certificate|timed out|timeout|connection aborted|remotedisconnected))[^\n]*?"
     r"httpsconnectionpool\(host='(?!localhost'|127\.)[\w.-]{1,253}', port=443\): max retries exceeded",
     "urllib3 (requests, pip, conda) tried the destination's port 443 and no proxy is named (through one it "
     "reports ProxyError): the client went direct", {"bypass": 3, "connectivity": -0.5, "application": 2}),
    ("direct-dest", r"\[0: [0-9a-f.:]{7,39}\]: errno=", "git's own TCP connection (git://), which never uses an "
     "HTTP proxy", {"bypass": 5}),
    # urllib3 names the host it connected to; through a proxy the error is wrapped in ProxyError (the
    # proxy-used row then takes this back), so a bare ConnectTimeoutError was a direct connection.
    ("direct-443", r"Connection to [\w.-]+ timed out",
     "a direct connection to the provider's port 443: the client did not use the proxy",
     {"bypass": 4, "connectivity": -1}),
    # Go (Docker's daemon, most Go tools): a client that uses a proxy never looks the destination up itself;
    # through a proxy the same error reads "proxyconnect tcp: dial tcp: lookup <proxy>".
    ("go-dns", r"dial tcp: lookup [\w.-]{1,253}(?: on [\w.:\[\]%-]{1,80})?: no such host|"
     r"dial tcp: getaddrinfow: no such host is known",
     "a Go client (the Docker daemon) looked the destination up itself: it did not use the proxy "
     "(the daemon does not read the shell's proxy variables)", {"bypass": 4, "connectivity": 1, "application": 2}),
    # The Docker daemon reads its own proxy settings (systemd drop-in, daemon.json, Docker Desktop), not the
    # shell's; through a proxy Go says "proxyconnect tcp" (the proxy-used row takes this back).
    ("docker-daemon-direct", r"error response from daemon: [^\n]{0,300}?(?:client\.timeout exceeded|i/o timeout|"
     r"context deadline exceeded)",
     "the Docker daemon timed out reaching the registry without a proxy in the message: it went direct (the "
     "daemon does not read the shell's proxy variables)", {"application": 5, "bypass": 3.5}),
    # npm names the proxy when it uses one ("tunneling socket could not be established", the proxy's
    # address and port); its own connect/read error on the registry is a direct connection.
    ("npm-direct", r"npm err! (?:network )?(?:request to [^\s]{1,300} failed, reason: )?(?:connect|read) "
     r"e(?:timedout|connreset|netunreach|hostunreach|connrefused|notconn|connaborted)\b"
     r"(?! \[?[\w.:-]{1,60}\]?:(?!443\b|80\b)\d{2,5}\b)|"
     r"npm err! fetch failed https?://[^\s]{1,300} \{ \[error: (?:connect|read) e[a-z]{4,12}\]|"
     r"retry will retry, error on last attempt: error: (?:connect|read) e[a-z]{4,12}\b"
     r"(?! \[?[\w.:-]{1,60}\]?:(?!443\b|80\b)\d{2,5}\b)",
     "npm's own connection error on the registry (through a proxy npm names the proxy or 'tunneling socket'): "
     "npm connected directly, its proxy/https-proxy settings did not apply", {"bypass": 5, "connectivity": -1.5}),
    ("node-connect-timeout", r"UND_ERR_CONNECT_TIMEOUT|Connect Timeout Error",
     "undici's connect timeout: Node's fetch ignores HTTPS_PROXY (unless NODE_USE_ENV_PROXY=1), so it tried the "
     "destination directly", {"bypass": 5, "connectivity": -1, "application": 1.5}),
    # gRPC's generic connect failure.  gRPC reads the proxy variables its own way (grpc_proxy, no_proxy with
    # exceptions, not at all in some languages): behind a proxy it often goes direct, or sends a local channel
    # to the proxy.
    ("grpc", r"failed to connect to all addresses|code ?= ?unavailable|statuscode\.unavailable|\b14[- ]unavailable\b|"
     r"\bgrpc\b[^\n]{0,200}?\bunavailable\b",
     "gRPC could not connect: gRPC reads the proxy settings its own way (grpc_proxy, no_proxy), so it often "
     "goes direct, or sends a local server's channel to the proxy", {"bypass": 3, "connectivity": 1.5}),
    ("grpc-tls", r"authentication handshake failed",
     "gRPC's TLS handshake failed (an untrusted or intercepting certificate, or TLS to a plain-text server)",
     {"certificate": 3, "bypass": -3, "connectivity": -1}),
    # A gRPC channel or a WebSocket to a local or private address, and a proxy in the same text.
    ("loopback-via-proxy", r"(?:ipv[46]|dns|unix):(?:///)?" + _LOCAL + r"[:/,][^\n]{0,400}?"
     r"(?:http proxy|http_connect_handshaker|connect via proxy)|"
     r"wss?://" + _LOCAL + r"[:/][^\n]{0,300}?(?:\bproxy\b|\b50[234]\b)",
     "a local or private address (a local gRPC or WebSocket server) was sent to the proxy: NO_PROXY must list it",
     {"bypass": 5, "policy": -3, "connectivity": -2}),
    ("proxy-used", r"ProxyError|Unable to connect to proxy|tunneling socket|CONNECT tunnel|Proxy CONNECT|proxyconnect|"
     r"ERR_PROXY_TUNNEL|through your proxy|"
     r"from proxy|X-Squid-Error|Cache Access Denied", "the proxy was used", {"bypass": -2}),

)

# The trust and refusal branches' client vocabularies (auth, certificate, policy, performance) live in
# their own module; they share this table's groups and weights.
_TABLE += _trust_rows(_status, _any)
# A client's own proxy handling: schemes it lacks, processes without the shell's variables, hosts it sends to the proxy.
_TABLE += _client_rows(_LOCAL)
# The gateway hop's rows (issue 18): LiteLLM's and other gateways' words for their own hop.
_TABLE += _gateway_rows()
# Whole families of wording for one class of failure (a malformed proxy URL, a 407 a client received, ...).
_TABLE += _vocab_rows()

RULES: tuple[Rule, ...] = tuple(Rule(pattern, branch, float(weight), note, group)
                                for group, pattern, note, weights in _TABLE for branch, weight in weights.items())
COMPILED: dict[str, re.Pattern[str]] = {}
for _rule in RULES:
    if _rule.branch not in BRANCHES:  # pragma: no cover - a typo in the table
        raise ValueError(f"unknown branch {_rule.branch!r} in triage rule {_rule.pattern!r}")
    if _rule.pattern not in COMPILED:
        # Matching runs on lower-cased text with lower-cased patterns: twice as fast as IGNORECASE
        # on a 1 MiB log.  That is only sound without upper-case escapes (\W, \S, \D, \B).
        if re.search(r"\\[A-Z]", _rule.pattern):  # pragma: no cover - a table edit broke the rule
            raise ValueError(f"triage rule {_rule.pattern!r}: use no upper-case escapes")
        COMPILED[_rule.pattern] = re.compile(_rule.pattern.lower())


#: The note of each pattern (the first rule's), for the explanation sentence.
NOTES: dict[str, str] = {}
for _rule in RULES:
    NOTES.setdefault(_rule.pattern, _rule.note)
