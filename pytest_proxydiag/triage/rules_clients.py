"""Triage rows for a client's own proxy handling: what it lacks, where it reads its proxy, what it sends to the proxy.

These rows extend :data:`pytest_proxydiag.triage.rules._TABLE` (same shape, weights and groups).
They read a client's own vocabulary: an authentication scheme it cannot speak (NTLM, Kerberos,
Negotiate), a process that never gets the login shell's variables (``sudo``, a systemd service, the
Docker daemon, ``wslc``), an IDE extension with its own network stack, an app that asks for proxy
support, an internal host or a local model server sent to the proxy, and a proxy URL with no scheme.

Rules are written from ``tests/data/symptoms.json`` only.  Every pattern is linear.
"""

from __future__ import annotations

Row = tuple[str, str, str, dict[str, float]]


def rows(local: str) -> tuple[Row, ...]:
    """The client rows; *local* is the table's pattern for a loopback or private address."""
    return (
        # ---- application: the client lacks the proxy's authentication scheme (the credentials are not the problem)
        ("app-lacks-scheme", r"(?:does ?n.t|does not|do not|cannot|can.t|unable to|fails? to|not able to) (?:yet )?"
         r"(?:support|complete|do|handle|speak|perform)[^\n]{0,20}?\b(?:ntlm|kerberos|negotiate|spnego)\b|"
         r"\b(?:ntlm|kerberos|negotiate|spnego)\b[^\n]{0,40}?(?:not supported|unsupported|not implemented)|"
         r"\b(?:negotiate|kerberos) authentication error|failed to find any kerberos tgt",
         "the client cannot speak the proxy's authentication scheme (NTLM, Kerberos, Negotiate): put a local "
         "authenticating proxy (cntlm, px) in front, or use a client that has the scheme", {"application": 5, "auth": -3.5}),
        # The proxy is said to take only one scheme: a client without that scheme answers its 407 in vain.
        ("app-proxy-only-scheme", r"\bonly (?:supports?|accepts?|allows?) (?:the )?(?:ntlm|kerberos|negotiate|digest)\b",
         "the proxy takes only one authentication scheme (NTLM, Kerberos, Digest): a client without that scheme cannot "
         "authenticate however right the password is", {"application": 5, "auth": -1}),
        # A Chromium network stack inside an app (Electron: GitHub Desktop, VS Code, Postman) answering no proxy
        # challenge: the renderer's console wording, or the app named next to the 407.
        ("app-electron-407", r"\b(?:github desktop|electron app(?:lication)?s?)\b[^\n]{0,300}?(?<![\w.:/#-])407\b|"
         r"(?<![\w.:/#-])407\b[^\n]{0,200}?\b(?:github desktop|electron app(?:lication)?s?)\b",
         "a desktop (Electron) app got the proxy's 407: many such apps cannot answer a proxy's authentication "
         "challenge; give the credentials in the setting the app reads (git's http.proxy for GitHub Desktop)",
         {"application": 5}),
        # One version of the client works and the next fails against the same proxy: the client changed.
        ("app-regression", r"\[regression\]|\b\d+(?:\.\d+){1,2} works where [^\n]{0,40}?\d+(?:\.\d+){1,2} fails|"
         r"(?:go|went|going) back to [\w -]{0,20}?\d+(?:\.\d+){1,2},? (?:and )?everything works",
         "one version of the client works through this proxy and another does not: the client's proxy handling "
         "changed", {"application": 3}),
        # An IDE extension runs its own network code: VS Code's http.proxy often does not reach it.
        ("app-ide-extension", r"(?:\[extension host\]|\.vscode[/\\]extensions)[^\n]{0,300}?\b(?:etimedout|econnrefused|econnreset|"
         r"enotfound|eai_again|socket hang up)\b|\b(?:etimedout|econnrefused|econnreset|enotfound|eai_again)\b[^\n]{0,300}?"
         r"\.vscode[/\\]extensions|\bext install\b|"
         r"\b(?:vs ?code|visual studio code)\b[^\n]{0,120}?\b(?:respect(?:s|ing)?|works?|fine)\b[^\n]{0,300}?\bextensions?\b",
         "a VS Code extension (VS Code itself gets through): it makes its own requests, and VS Code's http.proxy (or "
         "HTTPS_PROXY) does not always reach them", {"application": 5, "bypass": 1.5, "connectivity": -2}),
        # The same for a JetBrains (or Eclipse) plugin: the IDE's own proxy settings do not reach the plugin's client.
        ("app-ide-extension", r"\b(?:intellij|jetbrains|pycharm|webstorm|goland|rider|android studio|eclipse)\b[^\n]{0,200}?"
         r"\bplugin\b|\bplugin\b[^\n]{0,200}?\b(?:intellij|jetbrains|pycharm|webstorm|goland|rider|android studio|eclipse)\b|"
         r"\b(?:intellij|jetbrains|eclipse)(?:'s)? (?:configured )?(?:http )?proxy (?:settings|parameters|configuration)\b|"
         r"\bplugin\b[^\n]{0,40}?(?:cannot|can.t|does ?n.t|does not|fails?)[^\n]{0,40}?(?:behind|through|with|use) (?:a |the |my )?proxy",
         "an IDE plugin makes its own requests: the IDE's proxy settings often do not reach it (the plugin needs its "
         "own proxy setting, or -Dhttps.proxyHost in the IDE's VM options)", {"application": 5, "bypass": 1.5, "connectivity": -2}),
        # setx writes a variable for new sessions only; Windows clients (.NET, WinHTTP) read WinINet, not the variables.
        ("app-windows-env", r"\bsetx\b", "setx stores the variable for new sessions only: the shell it ran in (and "
         "programs started from it) never see it; use set (or open a new terminal)", {"application": 4, "bypass": 2}),
        ("app-windows-env", r"\bwininet\b", "on Windows this client takes its proxy from WinINet (Internet Options), "
         "not from HTTP(S)_PROXY", {"application": 3, "bypass": 2}),
        # The app itself is said not to use (or asked to use) the proxy: a missing feature of that app.
        ("app-proxy-setting", r"\b(?:app|application|plugin|extension|ide|tool)\b (?:does ?n.t|does not|cannot|can.t|fails? to) "
         r"(?:detect|pick up)[^\n]{0,20}?(?<!no_)(?<!no-)(?<!non)proxy settings?\b|"
         r"\bshould (?:either[: -]{0,8})?(?:respect|honou?r|use|support|read|detect) (?:the )?(?:proxy|system proxy|https?_proxy)",
         "the application does not use (or cannot evaluate) the proxy configuration it is given: set the proxy in "
         "that application's own setting", {"application": 5, "bypass": -2}),
        # A PAC (auto-config) script the app is given but does not fetch or evaluate.
        ("pac", r"\bproxy-pac-url\b|\bpacscript\b|err_mandatory_proxy_configuration_failed|automatic configuration script",
         "a PAC (auto-config) script the application must fetch and evaluate itself: many cannot; give it the proxy "
         "host:port the PAC returns", {"application": 4, "bypass": 3}),
        ("app-system-proxy", r"\busesystemproxies\b", "the JVM's java.net.useSystemProxies: Gradle and Maven still connect "
         "without the system proxy; they need systemProp.https.proxyHost/-Port in gradle.properties",
         {"application": 4, "bypass": 3}),
        # A process that never gets the login shell's variables: sudo (without -E), a systemd service.
        ("app-lost-env", r"\bsudo (?!-e\b|--preserve-env|-i?e )(?![^\n]{0,60}?(?: -x | --proxy|proxy))[^\n]{0,60}?"
         r"\b(?:pip3?|curl|wget|bash|sh|apt(?:-get)?|npm|make|python3?|gem)\b[^\n]{0,600}?(?:newconnectionerror|"
         r"failed to connect to [\w.-]{1,253} port (?:443|80)\b|name or service not known|could not resolve host|errno -[23]\b)",
         "a command run with sudo connected directly: sudo starts it without your proxy variables (sudo -E, or Defaults env_keep in sudoers, keeps them)",
         {"application": 5, "bypass": -1.5}),
        ("app-lost-env", r"(?<![/\\])\bsystemd\b(?![/\\])[^\n]{0,80}?\b(?:cannot|can.t|does ?n.t|does not|not)\b|"
         r"\b(?:cannot|can.t|could ?n.t|could not|not)\b[^\n]{0,60}?(?<![/\\])\bsystemd\b(?![/\\])|"
         r"\benvironmentfile ?=|\b(?:running|run|started) as a (?:systemd )?service\b",
         "a systemd service does not read your shell profile: the proxy must be in the unit (Environment=) or a drop-in",
         {"application": 4, "bypass": 2}),
        ("app-docker-config", r"/etc/default/docker|daemon\.json|docker\.service\.d|http-proxy\.conf|\bdocker desktop\b",
         "the Docker daemon reads its proxy from its own configuration (systemd drop-in, daemon.json, Docker Desktop), "
         "not from your shell", {"application": 2.5}),
        # A container registry fetched (GET …/v2/) with no proxy in the error: the daemon (Docker, wslc) went direct.
        ("docker-daemon-direct", r"get \"?https://[^\s\"]{1,200}/v2/\"?: (?:net/http: request canceled while waiting for "
         r"connection|dial tcp(?::| \[?[0-9a-f.:]{3,60}\]?:443\b))",
         "a container engine fetched the registry without a proxy (no 'proxyconnect' in the error): its daemon does "
         "not read your shell's proxy variables", {"application": 5, "bypass": 3.5, "connectivity": -1.5}),
        ("app-wslc", r"\bwslc\b", "wslc (WSL's container tool) has no proxy setting of its own and does not take the "
         "Windows proxy for HTTPS", {"application": 2.5}),
        # Another tool works on the same machine, said the way bug reports say it.
        ("works-elsewhere", r"\bworks? (?:fine |ok |well )?(?:with|in|for) (?:apt(?:-get)?|yum|dnf|cpan|brew|wget|curl|pip|npm|yarn|git|conda|"
         r"docker|the browser|chrome|firefox|edge)(?: and [\w.-]{2,20})?,? but\b|"
         r"\b(?:allows? me to|i can|able to) (?:use )?(?:wget|curl|the browser|a browser|pip|npm|git)\b",
         "another client works through the same proxy: a per-application setting", {"application": 3.5, "bypass": 1.5}),
        ("jvm", r"\bproxy settings for java\b|\bjvm\b|could not resolve all (?:artifacts|dependencies|files) for configuration",
         "a Java (JVM) client or build: its proxy is set by -Dhttps.proxyHost or its build tool's files, not HTTPS_PROXY",
         {"application": 1.5}),

        # ---- bypass: a host that must stay inside is sent to the proxy, or the client goes direct
        ("bypass-words", r"\b(?:going|went|go) direct(?:ly)?\b", "traffic is not going through the proxy",
         {"bypass": 4, "application": 2}),
        ("bypass-words", r"\bno proxy (?:is |was )?(?:set|configured|passed|used)\b|"
         r"(?:does ?n.t|does not|do not|not) seem to (?:respect|honou?r|use|read|pick up) (?:the )?[*\w]{0,12}proxy",
         "no proxy is applied to this process (it does not take HTTPS_PROXY): it connects directly",
         {"bypass": 4, "application": 2}),
        # Setting HTTPS_PROXY (even to a bogus address) changes nothing: the tool never reads it.
        ("bypass-env-ignored", r"\bcan(?:not|.t) set (?:the |a )?proxy (?:by|with|via|using|through) [`'\"]?https?_proxy",
         "setting HTTPS_PROXY changes nothing for this tool: it never reads the variable and connects directly",
         {"bypass": 4.5, "application": 1}),
        # A Docker build's RUN step runs in a fresh container: it gets the proxy only as build args (or from the
        # client's ~/.docker/config.json proxies), not from your shell or the daemon's own settings.
        ("docker-build", r"\bstep \d{1,3}(?:/\d{1,3})? ?: run\b|---> running in [0-9a-f]{12}\b|\bdockerfile\b[^\n]{0,80}?\brun\b|"
         r"\bwhile building (?:the |an? )?(?:docker )?image\b",
         "a Docker build step: its container gets the proxy only as build args (--build-arg HTTPS_PROXY=…) or from "
         "~/.docker/config.json, so it connects directly", {"bypass": 3, "application": 1.5}),
        ("no-proxy", r"\bnon_?proxy_?hosts?\b|\bno[ -]proxy (?:list|settings?|exceptions?)\b|\bproxy exceptions?\b",
         "the proxy's exception list (NO_PROXY, nonProxyHosts) decides which hosts skip the proxy",
         {"bypass": 3, "connectivity": 1}),
        # The client's own exception handling skips the list: the host still goes to the proxy (bypass), and the
        # fix is in that client (application).
        ("client-ignores-exceptions", r"\b(?:plugin|extension|client|tool|app|application)\b (?:does ?n.t|does not|ignores?|"
         r"is not|isn.t) (?:consider(?:ing)?|respect(?:ing)?|honou?r(?:ing)?|us(?:e|ing)|read(?:ing)? )?[^\n]{0,20}?"
         r"(?:proxy exceptions?|nonproxyhosts?|noproxyhosts?|no_proxy)\b",
         "this client does not apply the proxy exception list: the host goes to the proxy anyway; the client needs its "
         "own exception setting (or a fix)", {"bypass": 3, "application": 3}),
        ("internal-via-proxy", r"(?:excluded|exception|no_?proxy|nonproxyhosts?|noproxyhost)[^\n]{0,120}?(?:tries|tried|trying|attempts?) to (?:connect|pass|go)[^\n]{0,60}?through (?:the |my |our )?proxy|"
         r"(?:artifactory|nexus|\binternal (?:host|hostname|repo\w{0,10}|registry|mirror|domain|site)\b|intranet|[\w-]\.(?:local|corp|lan|internal|intra)\b)[^\n]{0,200}?"
         r"(?:(?<![\w.:/#-])403\b|forbidden|(?<![\w.:/#-])50[234]\b)[^\n]{0,40}?(?:from|by) (?:the |our |my )?proxy",
         "an internal host (a repository manager, a *.local/*.corp name) was sent to the proxy, which refused it: "
         "NO_PROXY (nonProxyHosts) must list it", {"bypass": 4.5, "policy": -2, "application": 1.5}),
        # A local model server or local API answering a gateway error: the proxy answered for it.
        ("loopback-via-proxy", r"https?://" + local + r"[:/][^\n]{0,60}?(?<![\w.:/#-])50[234]\b[^\n]{0,60}?\bproxy\b|"
         r"\b(?:lm ?studio|ollama|vllm|llama\.cpp|localai|omlx)\b[^\n]{0,40}?" + local + r"[^\n]{0,60}?(?<![\w.:/#-])50[234]\b|"
         r"\btrust_env\b|\bproxy for (?:localhost|127\.0\.0\.1|loopback)\b",
         "a local server (a local model or API) got a gateway error, or the client took the system proxy for "
         "localhost: the request went to the proxy, and NO_PROXY must list localhost/127.0.0.1",
         {"bypass": 5, "policy": -3, "connectivity": -1}),
        ("direct-dest", r"failed to connect to [\w.-]{1,253} at port (?:443|80)\b",
         "a direct connection to the destination's port 443 (no proxy in the message): the client did not use the proxy",
         {"bypass": 5, "connectivity": -3, "application": 1.5}),

        # Go names the proxy it could not look up: "proxyconnect tcp: dial tcp: lookup <proxy>: no such host".
        ("resolve-proxy", r"proxyconnect:? tcp:? ?dial tcp:? lookup [^\s:]{1,253}[^\n]{0,60}?no such host",
         "Go could not resolve the proxy's host name (proxyconnect … lookup … no such host): the proxy URL's host is wrong",
         {"connectivity": 4}),
        # ---- connectivity: a proxy URL without a scheme, or one the client cannot parse
        ("proxy-url", r"(?:no scheme included in url|url scheme must be 'http' or 'https'|first path segment in url cannot "
         r"contain colon)[^\n]{0,300}?proxy|proxy[^\n]{0,300}?(?:no scheme included in url|url scheme must be 'http' "
         r"or 'https'|first path segment in url cannot contain colon)|invalid proxy for https?: '",
         "the proxy URL has no scheme (or a part the client cannot parse): write it as http://host:port",
         {"connectivity": 4}),
        # Written without a scheme in the variable: curl accepts it, many other clients do not (a supporting clue).
        ("proxy-url-bare", r"\b(?:https?|all)_proxy=(?![a-z0-9]{2,10}://)[\w.-]{1,253}:\d{2,5}\b",
         "the proxy variable has no scheme (host:port): curl accepts it, many clients do not; write http://host:port",
         {"connectivity": 2}),
        ("proxy-url-port", r"bad service \(\d", "the client could not read the proxy URL's port (a trailing slash or "
         "another character after the port)", {"connectivity": 2}),

        # ---- batch 14: a proxy URL the client cannot parse or use, in each library's words
        # reqwest, httpx, Go, undici, aiohttp and wget name the scheme they refuse (a socks:// URL, a socks5:// one
        # to a client without SOCKS): connectivity.proxy_works reports it; the client's own support comes second.
        ("socks-client", r"unknown scheme for proxy url|proxy url had unsupported scheme|unsupported proxy type\b|"
         r"unsupported (?:url )?scheme:? ?['‘\"`]?socks|(?:failed to parse|error parsing|unable to parse|invalid) proxy "
         r"(?:uri|url)\b[^\n]{0,60}?socks|socks[45]?h?://[^\n]{0,120}?invalid (?:url )?protocol|"
         r"invalid (?:url )?protocol: the url must start with|\bproxyagent\b[^\n]{0,120}?\bsocks|\bsocks[^\n]{0,120}?\bproxyagent\b",
         "the client cannot use this proxy URL's scheme (socks:// or socks5:// where it needs http://, or socks:// "
         "without a version): write the scheme the client supports", {"connectivity": 4, "application": 1.5}),
        # A proxy given without a scheme: libcurl names it bare ('host:port') when it refuses it, tools say they need
        # the protocol, and a thread says the http:// form worked where the bare host did not.
        ("proxy-url", r"\bhttp proxy\b[^\n]{0,300}?built without the https-proxy support|"
         r"prox(?:y|ies) (?:that |which )?(?:start|begin)s? with (?:the )?(?:name of the )?(?:protocol|scheme)|"
         r"proxy[^\n]{0,80}?\bto [\"'`]?https?://[\w.-]{1,253}(?::\d{1,5})?[\"'`]? instead of [\"'`]?(?![a-z0-9]{2,10}://)[\w.-]{1,253}",
         "the proxy was given without a scheme (host:port), or a plain-HTTP proxy was taken as an https:// one: write it "
         "as http://host:port", {"connectivity": 4}),

        # ---- batch 14: a client that does not use the proxy (or its exceptions) the way it is given
        # NO_PROXY is set and a named part of the program does not apply it: bypass, and the fix is in that client.
        ("no-proxy-ignored", r"\bno_proxy\b[^\n]{0,60}?(?:is|are|was|were) set\b[^\n]{0,60}?(?:is not|isn.t|not|never) "
         r"(?:using|applying|respecting|honou?ring|reading) it\b",
         "NO_PROXY is set, and this client does not apply it: the host goes to the proxy anyway; the client needs its "
         "own exception setting (or a fix)", {"bypass": 3, "application": 3}),
        # A cluster-internal service (the Kubernetes API, a *.svc name) sent to the proxy: many clients do not read
        # CIDRs or the .svc suffix in NO_PROXY, so it must list the exact name or address.
        ("cluster-via-proxy", r"\b(?:kube(?:rnetes)? api|kube-?apiserver|in-cluster)\b[^\n]{0,40}?\bthrough (?:the |a |our |my )?prox|"
         r"https?://[\w.-]{1,200}\.svc(?:\.cluster\.local)?(?::\d{1,5})?/[^\s]{0,300}?:? (?:gateway time-?out|bad gateway|"
         r"service unavailable|forbidden)\b",
         "a cluster-internal service (the Kubernetes API, a *.svc name) was sent to the proxy: NO_PROXY must list it "
         "in the form this client reads (many ignore CIDRs and the .svc suffix)",
         {"bypass": 5, "policy": -2, "application": 2.5}),
        # An internal (intranet, on-premise) host and the proxy's error for it, or a host said not to be on the internet.
        ("internal-via-proxy", r"(?:内网|内部网络?|intranet|イントラネット)[^\n]{0,200}?(?:privoxy|squid|proxy error|代理|"
         r"(?<![\w.:/#-])50[0234]\b)|\bnot (?:publicly |internet[- ])?(?:accessible|reachable|routable) from (?:the )?"
         r"(?:internet|outside)|\bnot internet[- ](?:accessible|facing|reachable)|"
         r"\b(?:local|on-?prem(?:ise)?|internal|intranet) [\w-]{2,20} (?:instance|server)\b[^\n]{0,200}?\bproxy",
         "an internal host (intranet, on-premise, not on the internet) was sent to the proxy, which cannot reach it: "
         "NO_PROXY must list it", {"bypass": 4.5, "policy": -2, "application": 1.5}),
        # A named client said to ignore (or not use) its proxy settings: a client that does not read them (application),
        # which then goes direct (bypass).  Same group as the generic words, so one clue counts once per branch.
        ("bypass-words", r"\b(?:client|cli|tool|app|application|plugin|extension|daemon|sdk|library|worker|maven|mvn|gradle|"
         r"docker|git|npm|yarn|jvm|java)\b(?: v?\d{1,4}(?:\.[\dx]{1,4}){0,3})? (?:ignores|ignored|is ignoring|does ?n.t use|does not use|never uses|does ?n.t respect|"
         r"does not respect|does not honou?r) (?:the |my |our |its |any )?(?:configured )?(?:proxy|https?_proxy)\b|"
         r"\bproxy (?:server )?settings?\b[^\n]{0,80}?\b(?:will be|are|is|get|gets|were|was) ignored\b",
         "this client ignores the proxy it is given (it reads its own setting, or none): it connects directly",
         {"application": 5, "bypass": 4}),
        # A client without proxy support at all, said in a feature request's words.
        ("app-no-proxy-support", r"\b(?:have|has|had) (?:any |no )?(?:support for prox(?:y|ies)|proxy support)\b|"
         r"\black of proxy (?:settings|support|configuration)\b|\b(?:does ?n.t|does not|won.t|cannot|can.t) work behind "
         r"(?:a |the |my |our )?(?:corporate |company |http )?proxy\b|"
         r"\b(?:on|from|in) an? (?:machine|network|environment) (?:that|which) (?:requires|needs) an? (?:http |corporate )?proxy\b",
         "the client has no proxy support (or one code path skips it): behind a proxy it tries to connect directly",
         {"application": 4, "bypass": 2}),
        # reqwest logs 'proxy(…) intercepts' when it applies the proxy; a connection to an address's :443 in the same log
        # is a request this client built without the proxy.
        ("app-path-direct", r"proxy\(https?://[^\s)]{1,200}\) intercepts[^\n]{0,800}?\bconnecting to \[?[0-9a-f.:]{3,60}\]?:443\b",
         "the client applies the proxy to some requests (proxy(…) intercepts) and connects to another destination's :443 "
         "itself: one of its code paths builds an HTTP client without the proxy", {"application": 5, "bypass": 3}),
        # git takes its proxy from http.proxy (or its own reading of the variables): its direct connection to :443.
        ("git-direct", r"fatal: unable to access '[^']{1,300}': (?:failed to connect to [\w.-]{1,253} port (?:443|80)\b|"
         r"could not resolve host)",
         "git connected to the server itself: behind a proxy git needs its own setting (git config --global http.proxy "
         "http://host:port)", {"application": 5, "bypass": 1}),
        # The Docker daemon named as the one fetching the registry (its error, its API handler's): it reads its proxy from
        # its own configuration, never the shell's.  A clue of its own, beside the direct fetch (docker-daemon-direct).
        ("docker-daemon", r"(?:error response from daemon|returned error|error getting v2 registry):? [^\n]{0,80}?"
         r"get \"?https://[^\s\"]{1,200}/v2/\"?: (?:net/http: request canceled|dial tcp)",
         "the Docker daemon reached the registry without a proxy: the daemon reads its proxy from its own "
         "configuration (systemd drop-in, daemon.json, Docker Desktop), not your shell", {"application": 5}),

        # conda's HTTP 000 (no HTTP answer at all) with no proxy error: conda tried the channel directly.
        ("conda-direct", r"http 000 connection failed for url",
         "conda got no answer at all (HTTP 000) and names no proxy: it tried the channel directly; give it the proxy "
         "(proxy_servers in .condarc, or HTTPS_PROXY)", {"bypass": 3, "connectivity": 1.5, "application": 1}),
        # openai-python 0.x: its async calls (aiohttp) ignore HTTPS_PROXY; its proxy is openai.proxy.
        ("openai-legacy", r"error communicating with openai",
         "openai-python 0.x could not connect: its async calls ignore HTTPS_PROXY (openai.proxy sets it), so behind a "
         "proxy it most often went direct", {"bypass": 3, "application": 1.5}),
        # .NET's generic HttpClient failure: a .NET app that does not use the proxy (or its own setting) behind one.
        ("dotnet-generic", r"an error occurred while sending the request",
         ".NET's generic HttpClient failure: behind a proxy, most often a .NET application that does not use it (it "
         "reads its own or the system setting)", {"application": 2, "connectivity": 1}),

        # ---- batch 14: a client that cannot answer the proxy's authentication
        # .NET's HttpClient (NuGet, dotnet restore, credential providers) sends no Windows credentials to the proxy unless
        # told to: the 407 is the client's, not a wrong password.
        ("app-dotnet-407", r"(?:nuget|dotnet|usedefaultcredentials)[^\n]{0,400}?"
         r"(?<![\w.:/#-])(?:407\b|'407')|proxyauthenticationrequired https?://[^\s]{0,200}?nuget",
         ".NET's HTTP client (NuGet, dotnet restore) did not send the Windows (default) credentials to the proxy: the "
         "client's proxy authentication, not the password", {"application": 5, "auth": -2}),
        # requests' auth= classes (Kerberos, NTLM) answer the server's 401, never the proxy's 407.
        ("app-server-auth-class", r"auth ?= ?(?:requests_\w{1,12}\.)?(?:httpkerberosauth|httpntlmauth|httpspnegoauth|"
         r"httpnegotiateauth)\b",
         "requests' Kerberos/NTLM auth classes authenticate to the server, not to the proxy: the proxy's 407 goes "
         "unanswered; use a local authenticating proxy (cntlm, px)", {"application": 5, "auth": -4}),
        # The proxy wants NTLM/Kerberos and the client sends Basic.
        ("app-proxy-only-scheme", r"\bproxy (?:needs|requires|wants|expects|uses) (?:ntlm|kerberos|negotiate|digest)\b"
         r"[^\n]{0,20}?(?:not|instead of|rather than) basic\b",
         "the proxy takes only NTLM/Kerberos and the client sends Basic: a client without that scheme cannot "
         "authenticate however right the password is", {"application": 5, "auth": -1}),
        ("app-regression", r"\bupgrad\w{0,3} (?:our |my |the )?working\b[^\n]{0,40}?\bto (?:v(?:ersion)? ?)?\d+\.[\dx]+",
         "a working version of the client was upgraded and stopped working through the proxy: the client changed",
         {"application": 3}),
        # libcurl failing to set up the transfer (CURLE_FAILED_INIT): the client's own build, not the network.
        ("app-curl-init", r"\bfailed initialization\b|curl: ?\(2\)|\bno filter connected\b",
         "libcurl could not set up the transfer (failed initialization): a client or libcurl version's own bug with "
         "this proxy setup; update it", {"application": 4}),
    )
