"""Triage rows for the trust and refusal branches: auth, certificate, policy, performance.

These rows extend :data:`pytest_proxydiag.triage.rules._TABLE` (same shape, same weights, same
groups: a row here that shares a group with a row there describes the same clue, and per branch
only the strongest of the group counts).  They encode each client's own vocabulary for one
cause, so a message from a client the tuning part never saw still names its branch:

* a proxy refusing credentials, as Java, .NET (in any language), Go, Chrome, Squid's access log
  and tinyproxy's log say it, and a proxy URL whose password broke it (an unencoded ``@``);
* an untrusted TLS chain, as Java (PKIX), .NET (in any language), Go (x509), rustls, Apple
  (NSURLErrorDomain) and schannel say it;
* a proxy's refusal page (category, reputation, acceptable-use notices) and Squid's access log;
* a long answer cut midway (undici's ``terminated``, httpx's incomplete chunked read), a request
  that fails at a fixed time (a proxy's, load balancer's, CDN's or client's limit: "after ~60 s",
  Cloudflare's 524, nginx's 504 page), read timeouts as each client and language says them, and a
  stream that an intermediary buffers (arriving in blocks or all at once, in English, Chinese and
  Japanese words);
* the provider's own 403 (``permission_error``), which no proxy sent.

Rules are written from ``tests/data/symptoms.json`` only.  Every pattern is linear.
"""

from __future__ import annotations

from typing import Callable

Row = tuple[str, str, str, dict[str, float]]


def rows(status: Callable[[int], str], any_: Callable[..., str]) -> tuple[Row, ...]:
    """The rows, built with the table's helpers (*status*: a standalone HTTP status, *any_*: wordings)."""
    return (
        # ---- auth: the proxy wants (other) credentials
        ("407", any_(r"autenticaci[óo]n (?:del |de )?proxy", r"authentification (?:du |de |aupr[èe]s du )?proxy",
                     r"autentica[çc][ãa]o (?:do |de )?proxy", r"autenticazione (?:del |per il )?proxy",
                     r"аутентификац\w{1,3} (?:на )?прокси", r"프록시 인증", r"需要代理身份验证", r"代理身份驗證",
                     r"代理伺服器驗證"),
         "the proxy demands credentials (localized)", {"auth": 4}),
        ("407", r"\bE407\b|ERR_PROXY_AUTH_(?:UNSUPPORTED|REQUESTED)|ERR_UNEXPECTED_PROXY_AUTH|tcp_denied/407\b|"
         r"\(authenticationrequired\)",
         "the proxy demands credentials (npm's E407, Chrome's ERR_PROXY_AUTH_*, Squid's TCP_DENIED/407)", {"auth": 4}),
        # tinyproxy answers a CONNECT with 401 (not 407) and logs the refusal; a proxy sent credentials and
        # answering 401 refused them the same way.
        # Up to the 401, no 2xx: a 401 after "200 Connection established" is the destination's, not the proxy's.
        ("proxy-401", r"unauthorized connection from|"
         r"(?:proxy-authorization: |\bconnect [\w.-]{1,253}:\d{1,5} http/1\.[01]\b)(?:(?!http/1\.[01] 2)[^\n]){0,600}?"
         r"\bhttp/1\.[01] 401\b",
         "the proxy answered 401 to the proxy request (tinyproxy's answer to wrong credentials)", {"auth": 4}),
        # A password holding an unencoded @ (or #) splits the proxy URL inside the password: the client then
        # looks up a "host" that is the rest of the password, or rejects the URL.
        ("cred-url", r"\b(?:https?|socks5h?)://[^\s/@:'\"]{1,100}:[^\s/'\"@]{0,100}@[^\s/'\"@]{0,100}@[\w.-]{1,253}|"
         r"\b(?:https?|socks5h?)://[^\s/@:'\"]{1,100}:[^\s/'\"@#]{0,100}#[^\s/'\"@]{0,100}@[\w.-]{1,253}",
         "the proxy URL's password holds an unencoded @ or #, so the URL splits inside it: URL-encode the "
         "password (%40 for @, %23 for #)", {"auth": 5}),
        # A client that refuses to parse the proxy URL it was given, when that URL carries credentials: a
        # character of the password (% # ? / @ :) ends the userinfo early (urllib3's "Failed to parse",
        # "Port could not be cast to integer value"; Node's ERR_INVALID_URL).
        ("cred-url", r"(?:Failed to parse|LocationParseError|Port could not be cast to integer|ERR_INVALID_URL|"
         r"Invalid URL|InvalidURL|invalid port)[^\n]{0,80}?\b(?:https?|socks5h?)://[^\s/@'\"]{1,100}:[^\s'\"]{0,100}@",
         "the proxy URL with credentials could not be parsed: a character in the password (% # ? / @ :) must be "
         "URL-encoded", {"auth": 4, "connectivity": 1}),
        # urllib3's own words for it, said even when the URL is not quoted (the "port" is the password's tail).
        ("cred-url", r"Port could not be cast to integer value", "urllib3 read part of the proxy password as the "
         "port: a character in the password (% # ? / @ :) must be URL-encoded", {"auth": 4, "connectivity": 1}),

        # ---- certificate: each client's words for an untrusted chain (a TLS-inspecting proxy's CA)
        ("cert", any_(r"PKIX path (?:building|validation) failed", r"unable to find valid certification path",
                      r"SunCertPathBuilderException", r"CertPathValidatorException", r"certificate_unknown"),
         "Java does not trust the chain (PKIX): the inspecting proxy's CA is not in Java's truststore",
         {"certificate": 4}),
        ("cert", any_(r"x509: certificate signed by unknown authority", r"x509: certificate is not valid",
                      r"x509: certificate is valid for", r"x509: certificate has expired",
                      r"tls: failed to verify certificate"),
         "Go does not trust the chain (x509): Go reads only the system store and SSL_CERT_FILE",
         {"certificate": 4}),
        ("cert", any_(r"invalid peer certificate", r"\bUnknownIssuer\b", r"invalid certificate: \w{3,40}"),
         "rustls does not trust the chain (UnknownIssuer): it often reads only its own bundled roots",
         {"certificate": 4}),
        ("cert", any_(r"remote certificate is invalid", r"could not establish trust relationship", r"\bUntrustedRoot\b",
                      r"RemoteCertificate(?:ChainErrors|NameMismatch)", r"SEC_E_UNTRUSTED_ROOT", r"CERT_E_UNTRUSTEDROOT",
                      r"0x800b0109", r"0x80092012", r"0x80090325", r"issued by an authority that is not trusted",
                      r"unable to check revocation"),
         "Windows (.NET, schannel) does not trust the chain (or cannot check its revocation, as with an "
         "inspecting proxy's CA)", {"certificate": 4}),
        # .NET and Windows print the same trust failures in the user's language.
        ("cert", any_(r"远程证书无效", r"安全通道建立信任关系", r"遠端憑證", r"信任關係", r"リモート証明書",
                      r"信頼関係を確立できません", r"Remotezertifikat", r"Vertrauensstellung", r"certificat distant",
                      r"relation de confiance", r"certificado remoto", r"relaci[óo]n de confianza",
                      r"rela[çc][ãa]o de confian[çc]a", r"certificato remoto", r"relazione di trust",
                      r"удаленный сертификат", r"доверительн\w{1,4} отношени", r"원격 인증서", r"신뢰 관계"),
         "the certificate is not trusted (Windows/.NET, localized)", {"certificate": 4}),
        ("cert", any_(r"인증서", r"сертификат", r"certificato", r"憑證"), "a certificate problem (localized)",
         {"certificate": 3}),
        ("cert", r"NSURLErrorDomain Code=-120[0-6]\b|NSURLErrorServerCertificate\w{0,20}|kCFStreamErrorCodeKey=-98(?:0[2-9]|1\d)|"
         r"The certificate for this server is invalid",
         "Apple's TLS (NSURLErrorDomain -1200/-1202) refused the chain: the inspecting proxy's CA is not trusted",
         {"certificate": 4}),
        ("cert", r"\bERR_CERT_[A-Z_]{4,40}|ERR_PROXY_CERTIFICATE_INVALID|SEC_ERROR_UNKNOWN_ISSUER|SEC_ERROR_\w{0,30}CERT\w{0,30}|"
         r"MOZILLA_PKIX_\w{4,60}|SSL_ERROR_BAD_CERT_DOMAIN",
         "the browser (Chrome ERR_CERT_*, Firefox SEC_ERROR_*/MOZILLA_PKIX_*) refused the certificate: an "
         "intercepting proxy's CA it does not trust", {"certificate": 4}),
        ("ca-name", r"\b(?:zscaler|netskope|forcepoint|blue ?coat|fortinet|palo ?alto|cisco umbrella|sophos|"
         r"check ?point|menlo|iboss|skyhigh|mcafee)\b[^\n]{0,30}?\b(?:root|intermediate|issuing|ssl|inspection)? ?ca\b",
         "the chain is issued by a TLS-inspecting product's CA (Zscaler, Netskope, ...): trust that CA",
         {"certificate": 2, "policy": -1}),
        # The corporate CA is installed on the machine (the system store, the keychain) and this client still fails, or
        # reads its own bundled list: the client's own trust store is the problem (it needs its own CA setting).
        ("ca-own-store", r"(?:certificate|root ca|\bca\b|root)s? (?:that |which )?(?:is |are )?(?:installed|present) (?:on|in) "
         r"(?:all |every |the |our |my )?(?:machines?|systems?|computers?|(?:system |os |windows |machine )?(?:certificate |"
         r"trust |cert |root )?stores?|(?:system )?keychain)\b|\b(?:is|are) in (?:the )?(?:system|os|windows) (?:keychain|"
         r"(?:certificate |trust |cert |root )?store)\b|\b(?:bundled|built-?in) (?:ca|root|certificate)s? (?:store|list|bundle)\b|"
         r"\brejects? (?:the )?locally installed\b|\bfinds? no cert(?:ificate)?s\b",
         "the corporate CA is in the system's store, and this client does not read it (it has its own CA list): give "
         "the client the CA in its own setting (NODE_EXTRA_CA_CERTS, its CA option)", {"application": 2.5, "certificate": 1}),
        # uv trusts its bundled roots, not the system store, unless told (--native-tls, UV_NATIVE_TLS, SSL_CERT_FILE).
        ("uv-roots", r"\buv (?:pip|python|sync|lock|add|tool|run|venv)\b[^\n]{0,600}?(?:error sending request|"
         r"transient request failure|request failed after|failed to download)",
         "uv failed a download: uv trusts its own bundled roots, not the system store, so a TLS-inspecting proxy's CA "
         "is not trusted (--native-tls, UV_NATIVE_TLS=1 or SSL_CERT_FILE)", {"certificate": 3.5}),

        # ---- policy: the proxy answered, and refused
        # A refusal page lists the category (and the reputation, the user, the reason) the policy matched.
        ("block-page", r"\b(?:url |blocked |web )?(?:categor(?:y|ies|ie|[íi]a)|kategorie)[_*]{0,2} ?: ?[^\n]{0,80}?"
         r"\b(?:reputation|user ?name|group ?name|reason|medientyp|media ?type|client ip|action)\b|"
         r"\bweb page blocked\b|\bwebsite blocked\b|internet usage (?:policy|is monitored)|acceptable use policy|"
         r"in violation of your [\w ]{0,30}policy|not using an approved (?:web )?browser",
         "a web filter's refusal page (the category or usage policy it matched)", {"policy": 4}),
        ("deny", r"\btcp_denied/403\b", "Squid's access.log: TCP_DENIED/403, the proxy's ACL refused the request",
         {"policy": 4}),
        ("tunnel-403", r"(?:tunnel connection failed|connect tunnel failed,? response|received http code|statuscode=|"
         r"proxy returns \"?http/1\.[01]) ?:? ?403\b",
         "the proxy answered the CONNECT with 403: it is reachable, and refused this destination",
         {"policy": 2, "connectivity": -2}),
        # An egress policy or allowlist (a sandbox's, an organisation's) named as the reason.
        ("deny-said", r"\begress (?:network )?(?:policy|policies|allow-?list|rules?|filter)\b|\bnot allowed by (?:your |the )?"
         r"(?:organi[sz]ation(?:'s|’s)? )?(?:egress|network|proxy|security) (?:policy|allow-?list)",
         "an egress policy (an allowlist of destinations) refused the host", {"policy": 4}),
        # The provider's own 403 names its error type: it answered, so nothing in between refused.
        ("provider-permission", r"permission_error",
         "the provider's own 403 (permission_error): it answered; this account or key may not do that",
         {"policy": -2, "application": 1}),

        # ---- performance: a long answer cut midway, a proxy's read timeout
        ("cut-stream", r"typeerror: terminated|\bterminated: other side closed|other side closed|\bUND_ERR_SOCKET\b|"
         r"peer closed connection without sending complete message body|incomplete chunked read|"
         r"response ended prematurely|\bIncompleteRead\b|\bChunkedEncodingError\b|ERR_STREAM_PREMATURE_CLOSE|"
         r"premature close|stream disconnected before completion|error decoding response body",
         "the connection closed in the middle of the answer: a proxy or gateway timeout cutting a long "
         "(streamed) response, or the path dropping it", {"performance": 3, "connectivity": 2}),
        ("stream", r"stream(?:ing)? idle timeout|idle timeout", "a response stream stalled midway (idle timeout)",
         {"performance": 4}),
        ("proxy-timeout", r"upstream request timeout|upstream timed out \(110|ERR_READ_TIMEOUT|ERR_LIFETIME_EXP|"
         r"proxy_read_timeout",
         "the proxy or gateway gave up waiting for the answer (its read timeout)", {"performance": 3}),
        # A request that fails at a fixed, repeatable time ("after ~60 s", "more than 120 secs", "300s 直接被掐断"): a
        # limit of a proxy, load balancer, CDN or client, not a broken path.  Same clue as a timeout, said sharper.
        ("timeout", r"(?:\b(?:after|at|exactly|about|around|approximately|roughly|more than|longer than|over|exceed\w{0,3}|"
         r"past|beyond|capped (?:to|at))|~|超过|约|大约)[ ~]{0,2}\d{1,4}(?:\.\d)? ?[-]?(?:s|secs?|seconds?|mins?|minutes?|秒|分钟)"
         r"(?![a-z0-9])|"
         r"\d{2,4} ?[-]?(?:s|secs?|seconds?|秒)[ ]?(?:(?:read |request |idle |proxy |gateway |hard )?(?:time-?out|limit)|超时|"
         r"(?:后|左右)?[^\n]{0,6}?(?:掐断|断开|超时))|timeout (?:of|after) \d{4,6} ?ms\b|time-?out \(?of \d{1,4} ?(?:s|secs?|seconds?|mins?|minutes?)\b|"
         # A timeout that fires before the one the user set: a shorter limit elsewhere in the path.
         r"before (?:that|the|its|my) (?:time|timeout|limit) (?:elapses|expires|is reached)",
         "the request fails at a fixed time: a time limit in the path (a proxy's, load balancer's, CDN's or the "
         "client's read timeout) cuts long answers", {"performance": 3}),
        ("timeout", r"\bread[ _-]?time[d ]?[ -]?out|timeout of \d{2,6} ?ms exceeded|"
         r"请求超时|响应超时|读取超时|読み取りタイムアウト|応答(?:が)?タイムアウト|リクエスト(?:が)?タイムアウト",
         "the answer took too long (a read or request timeout)", {"performance": 3, "connectivity": 1}),
        # A connect timeout stated with its time ("Connection timed out after 30 s") is the connect phase: the fixed
        # time is the client's connect timeout, not a limit cutting a long answer.
        ("connect-fixed", r"\bconnect(?:ion)? timed out after \d|\bconnect etimedout [^\n]{0,60}?\bafter \d",
         "a connect timeout with its time: the connection was never made (the proxy or route is silent)",
         {"performance": -1.5}),
        # nginx's own timeout while connecting to its upstream is the connect phase: the proxy cannot reach the host.
        ("nginx-connect", r"timed out \(110: [\w ]{1,40}\) while connecting to upstream",
         "nginx timed out connecting to its upstream: the proxy cannot reach that host (a connect timeout, not a slow "
         "answer)", {"connectivity": 4, "performance": -3, "gateway": -3}),
        # Cloudflare's 524: the origin (a gateway, an app) did not answer within Cloudflare's read timeout (100-125 s).
        ("524", r"(?<![\w.:/#-])524\b|a timeout occurred|proxy read timeout",
         "Cloudflare's 524: the origin behind it did not answer within Cloudflare's fixed read timeout (about 100 s)",
         {"performance": 4}),
        # nginx's (openresty's) own 504 page: its proxy_read_timeout (60 s by default) cut a slow answer.
        ("504", r"504 gateway time-?out[^\n]{0,200}?(?:nginx|openresty)",
         "nginx's 504 page: its proxy_read_timeout (60 s by default) cut a slow answer",
         {"performance": 4.5, "policy": 1.5}),
        ("slow", r"\b(?:arrives?|arrived|delivers?|delivered|comes?|came) [^\n]{0,40}?\btoo late\b",
         "the answer arrives too late (after a timeout in the path)", {"performance": 3}),
        # A stream that arrives in blocks, all at once, or not at all through an intermediary, in each language.
        ("stream", r"\bin \d{1,3} (?:blocks|chunks|batches|bursts)\b|\bjittery\b|\bchunky\b|\bstutter(?:s|ing)?\b|"
         r"流式[^\n]{0,30}?(?:一段一段|一次性|没有效果|不生效|失效|卡顿)|(?:没有|无法|不能|不是)流式|一段一段|"
         r"一次性(?:全部)?(?:返回|输出)|流响应|ストリーミング[^\n]{0,30}?(?:まとめて|一度に|一括)",
         "a stream that arrives in blocks or all at once: an intermediary (nginx, an API gateway, an inspecting proxy) "
         "buffers the server-sent events", {"performance": 3}),
    )
