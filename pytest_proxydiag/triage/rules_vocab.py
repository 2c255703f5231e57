"""Triage rows for whole families of wording: how clients say one class of failure, not one client's sentence.

These rows extend :data:`pytest_proxydiag.triage.rules._TABLE` (same shape, weights and groups: a row
that shares a group with a row there describes the same clue, and per branch only the strongest of the
group counts).  Each row reads a class of failure the way many clients word it:

* a proxy URL the client could not parse ("malformed", "invalid", "missing the host", "had no scheme");
* a 407 the client received as its answer (.NET's "does not indicate success: 407", Java's "Unable to
  tunnel through proxy. Proxy returns 407"): the client's own credential setting (.NET's default
  credentials, the JVM's disabled Basic tunnelling), next to the credentials themselves;
* a 407 for one client while other tools on the same machine get through, or "everything else works, but":
  that client's proxy handling; a client not applying its own configuration file (.npmrc, settings.xml);
* "the client does not use the proxy" in any word order ("the proxy is not hit", "the proxy variables are
  not read"), and a proxy log with no trace of the request;
* "it works once I unset them", said of the proxy variables named a sentence before, and "I set HTTPS_PROXY and
  it works" (the client had been going direct);
* a gateway answering with a client library's network error ("500 {"error":{"message":"fetch failed"...):
  its own call to the provider, most often without the proxy;
* the proxy's 200 to the CONNECT: what failed came inside the tunnel, not auth or reachability;
* an IDE, extension or plugin whose proxy setting is ignored (passive or active voice);
* a TLS handshake that failed at the first byte (curl's exit 35, ``SSL_ERROR_SYSCALL``, schannel's failed
  handshake): TLS spoken to something that is not TLS, or a middlebox that cut it;
* a streamed answer that never reaches the client (a buffering reverse proxy);
* a relay's own key or client check ("client_validation_error", "only accepts requests from ...");
* a server process that downloads for the CLI (the Docker daemon, Ollama's server) dialling the registry
  itself, in every version's wording; docker build's containers, which get no proxy without --build-arg.

Rules are written from ``tests/data/symptoms.json`` only.  Every pattern is linear.
"""

from __future__ import annotations

Row = tuple[str, str, str, dict[str, float]]

#: A reference back to something named before ("after unsetting them"), not a new object.
_BACK_REF = r"(?:these|those|them|this|it|that|both)"
#: A proxy setting in a client's own configuration (its settings page, its variables, its config file).
_PROXY_SETTING = r"prox(?:y|ies)(?: (?:configuration|config|settings?|variables?|env(?:ironment)? variables?))?"


def rows() -> tuple[Row, ...]:
    """The rows, in the table's order (a group's rows keep their order)."""
    return (
        # ---- connectivity: a proxy URL the client could not use at all
        ("proxy-url", r"(?:check|fix|verify) (?:your |the )?proxy (?:url|uri|address)\b|"
         r"\bproxy (?:url|uri|address)\b[^\n]{0,60}?\b(?:is )?(?:malformed|invalid|not valid|could not be parsed|"
         r"missing (?:the |a )?(?:host|scheme|port))|\b(?:malformed|invalid|unparsable|bad) proxy (?:url|uri|address)\b|"
         r"\bproxy url had no scheme",
         "the client could not parse the proxy URL (malformed, no scheme or no host): write it as http://host:port, an "
         "empty or half-set proxy setting included", {"connectivity": 4, "auth": 1}),

        # ---- application: a 407 the client received as its answer, where another client would have answered it
        ("app-dotnet-407", r"does not indicate success: 407\b",
         ".NET's HttpClient got the proxy's 407 as its answer: besides the credentials, the client's own proxy-credential "
         "setting (HttpClient.DefaultProxy.Credentials, the Windows default credentials)", {"application": 2.5}),
        ("app-jvm-407", r"unable to tunnel through proxy\. ?proxy returns \"?http/1\.[01] 407",
         "the JVM got the proxy's 407 to its CONNECT: besides the credentials, the JVM's own setting (it disables Basic "
         "for tunnels: jdk.http.auth.tunneling.disabledSchemes=Basic, and it needs an Authenticator)", {"application": 2.5}),
        # The proxy demands credentials from this client while other tools on the same machine get through.
        ("works-elsewhere", r"\b(?:even though|although|though|while|whereas|but)\b[^\n]{0,60}?\b(?:curl|wget|browsers?|git|"
         r"python|npm|pip|maven|postman|other tools?|tooling|other (?:apps|applications|clients|programs))\b[^\n]{0,50}?"
         r"(?<!not )(?<!n.t )(?<!never )\bwork(?:s|ed)?\b",
         "other tools on the same machine get through the proxy: this client's own proxy handling is the difference",
         {"application": 4, "bypass": 2}),
        ("app-407-elsewhere", r"(?:(?<![\w.:/#-])407\b|proxy authentication required)[^\n]{0,200}?\b(?:even though|although|"
         r"while|whereas|but)\b[^\n]{0,60}?\b(?:curl|wget|browsers?|git|python|npm|pip|maven|postman|other tools?|tooling)\b",
         "the proxy demands credentials from this client while other tools on the same machine get through: the "
         "client's proxy authentication (its credential setting or scheme), not the account", {"application": 2}),

        # "Everything else works, but this one ...": the failing client's own proxy handling.
        ("works-elsewhere", r"\b(?:everything(?: else)?|all (?:other |network[- ]based )?(?:[a-z]{1,12} )?(?:operations?|tools?|apps?|"
         r"programs?|requests?)|other (?:tools|apps|programs|clients))\b[^\n]{0,40}?(?<!not )(?<!n.t )\bwork(?:s|ed|ing)?\b"
         r"[^\n]{0,80}?\bbut\b",
         "everything else on the machine gets through, but one client does not: that client's own proxy handling",
         {"application": 4, "bypass": 2}),
        # A client that does not read its own configuration file (where its proxy is set), or was never told to use the proxy.
        ("app-own-config", r"(?:\bnot|\bnever|n.t)\s(?:(?:seem to|appear to)\s)?(?:us(?:e|ing)|read(?:ing)?|pick(?:ing)? up|"
         r"apply(?:ing)?|honou?r(?:ing)?|respect(?:ing)?)\s(?:the |its |my |our )?(?:config(?:uration)?|settings?)\b[^\n]{0,20}?"
         r"(?:\.npmrc|\.yarnrc|\.condarc|\.gitconfig|settings\.xml|gradle\.properties|\.curlrc|pip\.conf|\.wgetrc|daemon\.json)|"
         r"\bnot (?:been )?(?:configured|set up|told) to use (?:a |the |our |any )?(?:corporate |company |http )?proxy",
         "the client does not apply the proxy from its own configuration (or was never given one): set the proxy where "
         "this client reads it", {"application": 4, "bypass": 2}),
        # docker build's containers get no proxy unless it is passed as build arguments.
        ("docker-build", r"--build-arg (?:https?_proxy|no_proxy)\b",
         "docker build's containers do not inherit the proxy: it must be passed as --build-arg http_proxy/https_proxy "
         "(or set in the Docker client's config.json)", {"bypass": 3, "application": 2}),

        # ---- bypass: giving the client the proxy variables fixed it: it had been going direct
        ("proxy-off-works", r"\b(?:set|setting|export\w{0,3}|add\w{0,3})\b[^\n]{0,30}?\bhttps?_proxy\b[^\n]{0,120}?\b(?:and|then|which)\b"
         r"[^\n]{0,20}?\b(?:fix\w{0,2}|solv\w{0,3}|it works|it worked|works now|now works|it.s working)\b",
         "setting the proxy variables fixed it: the client had been connecting directly (no proxy in its environment)",
         {"bypass": 4, "application": 1.5}),
        # A gateway answering with a client library's network error ("fetch failed"): its own call to the provider
        # failed, most often because the gateway's process does not use the proxy (its own proxy setting).
        ("gateway-wrapped-page", r"\b5\d\d \{\"error\": ?\{\"message\": ?\"fetch failed",
         "the gateway's own request to the provider failed (fetch failed): its process must be given the proxy (its own "
         "proxy setting or HTTPS_PROXY)", {"gateway": 4, "bypass": 2.5}),

        # ---- bypass: it works once the proxy variables named just before are unset
        ("proxy-off-works", r"prox[^\n]{0,200}?\b(?:after|when|once|if) (?:i |we )?(?:unset\w{0,4}|remov\w{0,4}|disabl\w{0,4}|"
         r"turn\w{0,3} off|delet\w{0,4}|clear\w{0,4}) " + _BACK_REF + r"\b[^\n]{0,40}?(?<!not )(?<!n.t )"
         r"\b(?:works|worked|is fine|runs|connects)\b",
         "it works once the proxy settings are removed: the request should never have gone to the proxy (a local "
         "server or gateway): NO_PROXY must list it", {"bypass": 4, "application": 1}),

        # ---- bypass: the proxy's own log has no trace of the request
        ("bypass-words", r"\b(?:proxy|squid)(?:'s)? (?:access )?logs? (?:has|have|shows?|contains?|records?|lists?)[^\n]{0,12}?"
         r"\b(?:no|not|nothing|none)\b|\bno (?:entr(?:y|ies)|requests?|traces?|records?|lines?) (?:in|on) (?:the )?(?:proxy|squid)",
         "the proxy's log has no trace of the request: the client did not send it to the proxy", {"bypass": 4, "application": 2}),

        ("bypass-words", r"\bproxy (?:is|was|gets|got) (?:not|never) (?:hit|touched|reached|contacted|consulted)\b|"
         r"\bproxy (?:isn.t|wasn.t|never gets|never got) (?:hit|touched|reached|contacted|consulted)\b|"
         r"\b(?:not|never) (?:hitting|reaching|touching|contacting) (?:the |our |my )?proxy\b",
         "the proxy is never reached by this client: it does not send its requests to the proxy", {"bypass": 4, "application": 2}),

        # The same clue in any word order: a negation, a verb of using, and the proxy setting it governs, close together
        # ("does not honour the system proxy", "never picks up my proxy settings", "the proxy variables are not read").
        ("bypass-words", r"(?:\bnot|\bnever|n.t|\bno longer)\s(?:(?:always|automatically|actually|correctly|properly|even|seem to|appear to)\s)?(?:use|using|honou?r\w{0,3}|respect\w{0,3}|read\w{0,3}|"
         r"pick\w{0,3} up|apply\w{0,3}|go(?:es|ing)? through|pass\w{0,3} through|rout\w{0,4} through|send\w{0,3} (?:it |them )?to)\s"
         r"(?:the |my |our |any |its )?(?:https?_proxy|(?:system |corporate |configured |http )?prox(?:y|ies)(?: (?:settings?|"
         r"variables?|config\w{0,8}|env\w{0,10}))?)\b|"
         r"\b(?:https?_proxy|prox(?:y|ies) (?:settings?|variables?|config\w{0,8}|env\w{0,10}))\b[^\n]{0,20}?\b(?:is|are|was|were|gets?|got)"
         r"\s(?:not|never)\s(?:being\s|getting\s)?(?:used|honou?red|respected|read|picked up|applied|taken into account)\b",
         "the client does not use the proxy it was given (the variables or its own setting): its requests skip the proxy",
         {"bypass": 4, "application": 2}),

        # ---- the proxy accepted the tunnel (200 to the CONNECT): what failed came after it
        ("tunnel-ok", r"\b200 connection established\b|proxy replied 200 to connect|\bconnect phase completed\b",
         "the proxy answered 200 to the CONNECT: it is reachable, took the credentials and allowed the host; what failed "
         "came inside the tunnel (the client's TLS and trust, or its own handling)",
         {"application": 2, "certificate": 1.5, "auth": -2, "connectivity": -1, "policy": -1}),

        # ---- application: an IDE, extension or plugin whose proxy setting does not reach its requests
        ("app-ide-extension", r"\b(?:vs ?code|visual studio code|extensions?|plugins?|ide)\b[^\n]{0,80}?\b" + _PROXY_SETTING +
         r"\b[^\n]{0,30}?\b(?:is |are )?(?:being |getting )?(?:ignored|not (?:used|applied|respected|honou?red|picked up))\b|"
         r"\b(?:extensions?|plugins?)\b[^\n]{0,80}?\bignor(?:es|ing|ed)\b[^\n]{0,30}?\bprox(?:y|ies)\b",
         "an IDE extension or plugin makes its own requests and its proxy setting does not reach them: the extension "
         "needs the proxy in the setting it reads", {"application": 5, "bypass": 3}),

        # ---- connectivity and certificate: a TLS handshake that failed at its first bytes
        ("tls", r"curl: ?\(35\)|\bssl_error_syscall\b|\bssl_connect: |schannel: failed to receive handshake",
         "the TLS handshake failed at its first bytes: TLS spoken to something that is not TLS (an https:// proxy URL "
         "on a plain port), or a middlebox that cut it", {"certificate": 1.5, "connectivity": 1.5}),
        ("tls-eof", r"ssl_error_syscall in connection to (?:127(?:\.\d{1,3}){3}|localhost|\[?::1\]?)\b|"
         r"ssl_error_syscall in connection to [^\s:]{1,253}:(?:x{2,5}|\*{2,5}|<?port>?)\b",
         "curl's TLS handshake failed on a local or proxy port: an https:// proxy URL for a proxy that speaks plain HTTP",
         {"connectivity": 4, "certificate": 1}),

        # ---- application: the client picked its own trust or proxy, not the machine's
        # aiohttp verifies with the SSL context the application passes it (often certifi's bundle, built once): the
        # system store and SSL_CERT_FILE the user fixed may never reach it.
        ("aiohttp-cert", r"cannot connect to host [\w.-]{1,253}:\d{1,5} ssl:[^\s]{1,40} \[(?:sslcertverificationerror|"
         r"certificate verify failed|ssl: certificate_verify_failed)",
         "aiohttp refused the certificate with the SSL context the application gave it (often certifi's bundle): the "
         "CA must reach that context, not only the system store", {"application": 2}),
        # openai-python 0.x's async calls (acompletion, acreate, agenerate) use aiohttp, which ignores HTTPS_PROXY: the
        # application must set openai.proxy.
        ("openai-legacy", r"\ba(?:completion|create|generate|invoke)\w{0,30}[^\n]{0,200}?error communicating with openai",
         "openai-python 0.x's async call ignores HTTPS_PROXY (aiohttp): the application must set openai.proxy",
         {"application": 4, "bypass": 3}),
        # An IDE extension's own HTTP calls: VS Code's proxy support does not always reach them.
        ("app-ide-extension", r"\bextensions?\b[^\n]{0,40}?\bmak\w{1,3} (?:https? )?(?:calls|requests)\b",
         "a VS Code extension makes its own HTTP calls: VS Code's proxy support (http.proxy, HTTPS_PROXY) does not "
         "always reach them", {"application": 4, "bypass": 1.5}),

        # ---- performance: a streamed answer that never reaches the client (a buffering reverse proxy)
        ("stream", r"\bstream\w{0,4}\b[^\n]{0,60}?\bnever (?:reach|arriv|show|get)\w{0,3}\b|"
         r"\b(?:client|browser|ui) (?:is )?not receiving any data\b",
         "the streamed answer never reaches the client: an intermediary (a reverse proxy, an inspecting proxy) buffers "
         "the server-sent events", {"performance": 3}),

        # ---- gateway: a relay's own key or client check refused the request
        ("gateway-key", r"\bclient_validation_error\b|\bonly accepts requests from\b|your client is not (?:authorized|allowed) "
         r"to use",
         "the relay's own client or key check refused the request (it accepts only some clients or keys), not the "
         "provider and not the proxy", {"gateway": 5}),

        # ---- application: Ollama's server process downloads the models; `ollama pull` in the shell only asks it to
        ("ollama-server", r"(?:pull model manifest|couldn.t download blob|error pulling manifest)[^\n]{0,300}?"
         r"(?:dial tcp|lookup [\w.-]{1,253}|i/o timeout|connection refused)",
         "Ollama's server process (ollama serve, the desktop app) downloads the model and reached the registry without "
         "the proxy: it reads HTTPS_PROXY from its own environment (systemd drop-in, the app's settings), not from the "
         "shell that ran `ollama pull`", {"application": 5, "bypass": 2}),

        # ---- application: the Docker daemon dialled the registry's port 443 itself (every Docker version's wording)
        ("docker-daemon", r"(?:docker (?:pull|push|login)|pulling (?:repository|image|fs layer)|error while pulling image|"
         r"error response from daemon)[^\n]{0,400}?\bdial tcp [0-9a-f.:\[\]]{3,60}:443\b",
         "the Docker daemon dialled the registry's port 443 itself: the daemon reads its proxy from its own "
         "configuration (systemd drop-in, daemon.json, Docker Desktop), not your shell", {"application": 5}),
    )
