"""CERTIFICATE ISSUES (flowchart section: SSL certificate verification failed).

Placeholders the tests fill (besides the common ones of ``StepContext.values``):
``ca_path`` (the saved interception CA), ``bundle_path`` (public roots + CA +
the user's CAs), ``node_ca_path``, ``ca_name`` (CN of the CA), ``vendor_text``,
``export_lines`` (the per-client variables, in the user's shell syntax),
``untrusted`` / ``matrix`` (the per-client verdicts), ``issuer``, ``path``,
``var``, ``good_path``.
"""

_INSTALL_INTRO = (
    "Install the proxy's CA certificate ({ca_name}) into the system trust store, then point every client "
    "at a bundle that contains it. The CA was saved to:\n"
    "  {ca_path}\n"
    "Compare its fingerprint with the one IT publishes before you trust it:\n"
    "  openssl x509 -in {ca_path} -noout -subject -fingerprint -sha256")

_PER_CLIENT = (
    "\n\nThen, for the clients that do not read the system store (Python requests/httpx use certifi, Node "
    "uses its own roots), add to {profile}:\n"
    "{export_lines}\n"
    "({bundle_path} = public roots + the proxy CA + the CAs your current bundles hold; your own files are "
    "not changed.)\n"
    "For Claude Code you can instead put NODE_EXTRA_CA_CERTS in the \"env\" block of ~/.claude/settings.json.\n"
    "{node_system_ca}"
    "{cloud_note}"
    "Never turn verification off (NODE_TLS_REJECT_UNAUTHORIZED=0, verify=False, empty CA variables) instead.")

#: Facts the certificate branch states (CA files, paths, stores, switches): sentence pieces inside findings.
FACTS = {
    'file_empty': 'the file is empty',
    'pem_none_readable': '{bad} PEM block(s), none of them a readable certificate',
    'pkcs7_pem': 'a PKCS#7 (.p7b) bundle, not PEM certificates',
    'pkcs7_unreadable': 'a PKCS#7 block that cannot be read',
    'der_one': 'one DER (binary .cer/.der) certificate, not PEM text',
    'pkcs7_der': 'a binary PKCS#7 (.p7b) bundle, not PEM certificates',
    'pem_other': 'PEM, but no certificate in it (holds: {kinds})',
    'not_pem_or_der': 'neither PEM certificates nor a DER certificate',
    'symlink_loop': 'a symlink loop',
    'dangling': 'a symlink to {dest}, which does not exist',
    'no_such_file': 'no such file',
    'permission_denied': 'permission denied ({error})',
    'parent_not_dir': 'a parent of the path is not a directory',
    'dir_not_file': 'a directory, where a file is required',
    'file_not_dir': 'a file, where a directory is required',
    'not_regular': 'not a regular file (a FIFO or device); not opened',
    'too_large': '{size} bytes; a CA bundle is well under {limit} MiB',
    'dir_empty': 'no certificate files in the directory',
    'not_hashed': ('{files} certificate file(s) but no hash links: OpenSSL finds nothing here until `openssl'
                   ' rehash` (c_rehash) runs'),
    'dir_files': '{files} certificate file(s)',
    'chain_unparseable': 'certificate {i} of the chain cannot be parsed: {error}',
    'not_for_purpose': "'{name}' is not for {purpose} (extendedKeyUsage)",
    'purpose_server': 'TLS servers',
    'purpose_client': 'TLS clients',
    'path_unvalidated': 'the path cannot be validated ({error})',
    'cert_problem': "'{name}' is {problem}",
    'path_invalid': 'the path does not validate',
    'no_cert_presented': 'no certificate was presented',
    'untrusted_root': "the chain ends in the self-signed root '{name}', which is not among the trusted roots",
    'issuer_missing': "no certificate of the issuer '{name}' was sent or is trusted",
    'chain_too_long': 'the chain is longer than 12 certificates',
    'expired_on': 'expired on {when} UTC',
    'not_before': "not valid before {when} UTC (check this machine's clock too)",
    'strict_no_aki': '{who}: Missing Authority Key Identifier',
    'strict_no_bc': '{who}: basicConstraints missing from a CA certificate',
    'strict_bc_not_critical': '{who}: basicConstraints of CA cert not marked critical',
    'strict_no_ku': '{who}: CA cert does not include key usage extension',
    'strict_no_ski': '{who}: Missing Subject Key Identifier',
    'settings_odd_file': 'not a regular file of reasonable size',
    'settings_not_json': 'cannot be read as JSON: {error}',
    'litellm_too_large': 'the config file is larger than 4 MiB',
    'litellm_unparsable': 'cannot be parsed: {error}',
    'no_ca_file': 'no CA file',
    'extra_not_set': 'NODE_EXTRA_CA_CERTS is not set',
    'extra_not_set_claude': 'NODE_EXTRA_CA_CERTS is not set (environment or ~/.claude/settings.json)',
    'litellm_ssl_off': 'ssl_verify=false ({source})',
    'litellm_ssl_off_where': 'ssl_verify: false ({source})',
    'bundled_roots': 'bundled roots',
    'node_bundled_roots': "Node's bundled roots",
    'node_openssl_ca': " (--use-openssl-ca in NODE_OPTIONS: OpenSSL's store instead of Node's bundled roots)",
    'no_store': 'no store',
    'in_file': ' in {path}',
    'verification_off': "verification is turned off ({how}): it accepts any certificate, including an attacker's",
    'claude_bad_extra': ("{label} is {problem}: Claude Code before 2.1.332 fails every request (its debug log says "
                         "'Invalid CA'), even for hosts it would otherwise trust (2.1.332 ignores the file instead)"),
    'relative_line_env': '  export {var}="{path}"',
    'relative_line_settings': '  "{var}": "{path}"   (in the "env" block of {where})',
    'relative_where': ' (in {where})',
    'relative_change': 'set env.{var} to "{path}"',
    'relative_file': ("a relative path: the program opens it from the directory it runs in (from {cwd} it is found, "
                     "from any other directory it is no such file); give its absolute path"),
    'relative_extra': ("a relative path: Node and Claude Code open it from the directory they start in (from {cwd} "
                       "it is found, from any other directory it is no such file); give its absolute path"),
    'chains_to': "chains to '{name}' from {via}",
    'file_is': '{label} is {problem}',
    'curl_dir_shadows_file': ("curl {version} ignores SSL_CERT_FILE while SSL_CERT_DIR is set (it reads SSL_CERT_DIR "
                              "and its built-in bundle; curl 8.3 and later read both): put the CA in "
                              "CURL_CA_BUNDLE for curl"),
    'empty_curl': ("set but empty: the flowchart's 'temporary workaround' to switch verification off (curl "
                   'then has no bundle to verify with; {requests})'),
    'empty_requests': "set but empty: meant to switch requests' verification off ({requests})",
    'empty_ssl_cert_file': ("set but empty: meant to switch verification off; Python's ssl and curl are left with no "
                            'CA file'),
    'node_reject_off': 'Node.js and Claude Code accept any certificate',
    'pythonhttpsverify_off': 'Python builds that honour PEP 493 (RHEL/CentOS) skip verification in urllib',
    'claude_reject_off': 'Claude Code accepts any certificate',
    'litellm_accepts_any': 'LiteLLM accepts any certificate upstream',
    'requests_ignores_empty': ('requests {version} ignores the empty value and verifies with certifi; requests before '
                               '2.32 turned verification off'),
    'requests_turns_off': 'requests {version} turns verification off',
    'requests_uses': 'requests {version} uses {verify!r}',
    'requests_old': 'requests before 2.32 turned verification off',
    'roots_option': '--proxydiag-public-roots {path}',
    'roots_problem': '{path} is {problem}',
    'roots_certifi': 'certifi ({path})',
    'roots_system': 'system bundle ({path})',
    'roots_none': 'no public roots',
    'roots_none_why': 'neither certifi nor a system bundle is available',
    'public_chains_to': "chains to '{name}'",
    'ca_sent': 'sent by the proxy',
    'ca_found_in': "found in {label}'s store ({via})",
    'ca_topmost': 'the topmost certificate the proxy sends (an intermediate)',
    'the_nameserver': 'the nameserver address',
    'not_regular_file': 'not a regular file of reasonable size',
    'bundle_header': 'public roots + the interception CA + your existing CAs',
    'node_extra_header': 'for NODE_EXTRA_CA_CERTS: the interception CA + the CAs it held before',
    'ssl_cert_file_users': 'Python ssl, httpx, the Anthropic SDK, LiteLLM, curl and Claude Code',
    'ssl_cert_dir_users': 'Python ssl, httpx and curl',
}


def say_fact(key: str, **values) -> str:
    """One :data:`FACTS` sentence, filled (the branch modules state facts only through here)."""
    return FACTS[key].format(**values)


#: Why the installed Claude Code reads the stores it reads (branches.certificate.claude_trust reason keys).
CLAUDE_TRUST = {
    "native_reads_os_store": "the native build reads its bundled roots and the OS store",
    "native_reads_keychain": ("the native build reads its bundled roots and the macOS Keychain (System and login "
                              "keychains), not /etc/ssl/cert.pem"),
    "native_reads_windows_store": ("the native build reads its bundled roots and the Windows certificate store "
                                   "(ROOT and CA)"),
    "node_reads_os_store": "run by Node {node}, which has tls.getCACertificates: it reads the OS store",
    "node_use_system_ca": "NODE_USE_SYSTEM_CA=1 ({where}) makes Node {node} read the OS store",
    "node_flag_use_system_ca": "--use-system-ca in NODE_OPTIONS ({where}) makes Node {node} read the OS store",
    "node_too_old": ("run by Node {node}: the OS store is not read (it needs Node 22.15 or newer, "
                     "NODE_USE_SYSTEM_CA=1 on 22.19+/24.6+, or NODE_EXTRA_CA_CERTS)"),
    "cert_store_bundled": "CLAUDE_CODE_CERT_STORE={value} in {where}: the OS store is not read",
    "os_store_var_in_settings": ("{vars} in {where} is not read: Claude Code reads its OS store when it starts, "
                                 "before it applies its settings; set it in the shell, or put NODE_EXTRA_CA_CERTS "
                                 "(which it does read from there) in that file"),
    "cert_store_system": "CLAUDE_CODE_CERT_STORE={value} in {where}: its bundled roots are not read",
    "cert_store_unknown": "CLAUDE_CODE_CERT_STORE={value} in {where} is neither 'bundled' nor 'system'",
    "also_untrusted": " Also not trusted by: {untrusted}.",
    "nobody": "the OS store's readers",
}

#: What the machine the diagnosis runs on means for the interception CA (appended to the finding).
MACHINE_NOTES = {
    "wsl": (" This is WSL{version} ({kernel}): Linux programs here see neither the Windows certificate store nor "
            "the Windows proxy settings, so a CA Windows trusts must be exported into WSL:\n"
            "  powershell.exe -NoProfile -Command \"Get-ChildItem Cert:\\LocalMachine\\Root,Cert:\\CurrentUser\\Root "
            "| Where-Object Subject -like '*{ca_name}*' | ForEach-Object {{ '-----BEGIN CERTIFICATE-----'; "
            "[Convert]::ToBase64String(\\$_.RawData, 'InsertLineBreaks'); '-----END CERTIFICATE-----' }}\" "
            "| tr -d '\\r' > corp-ca.crt\n"
            "  sudo cp corp-ca.crt /usr/local/share/ca-certificates/ && sudo update-ca-certificates\n"
            "then set the variables the solution lists. The proxy too must be set inside WSL (HTTPS_PROXY); {network}"),
    "wsl_nat": ("with NAT networking a proxy on the Windows host is at {nameserver} (the nameserver in "
                "/etc/resolv.conf), not 127.0.0.1."),
    "wsl_mirrored": "with mirrored networking 127.0.0.1 reaches a proxy listening on Windows.",
    "wsl_unknown": ("a proxy on the Windows host is at the nameserver address in /etc/resolv.conf with NAT "
                    "networking, at 127.0.0.1 with networkingMode=mirrored (%UserProfile%\\.wslconfig)."),
    "os_store_has_ca": (" The CA is already in this machine's {store_kind} ({stores}): the browser and Claude "
                        "Code's native build trust it there, but Python, curl and Node read their own files."),
}

#: Sentences the certificate steps say outside a finding (summaries, skip and blocked reasons, parts of findings).
TEXT = {
    "plain_http": "{url} is plain http: no certificate to check",
    "no_handshake": "no TLS handshake with {target} through the proxy: {detail}",
    "no_certificate": "{target} presented no certificate",
    "aia_hint": "its issuer can be downloaded from {urls}, a sign of a server chain missing its intermediate",
    "not_valid_for": "not valid for {host} (names: {names})",
    "not_valid_for_it_names": "not valid for {host} (it names {names})",
    "not_intercepted": ("not intercepted: {target} presents '{leaf}' issued by '{issuer}', which chains to the "
                        "public root '{root}'"),
    "intercepted_trusted": ("intercepted{vendor_text}: '{leaf}' is issued by '{issuer}'; the CA '{ca_name}' is "
                            "trusted by every client ({trusted}); saved to {ca_path}"),
    "python313_rejects": " Also, Python 3.13+ will reject these certificates: {problems}.",
    "python_hint": "3.13 or newer",
    "not_available": "(not available)",
    "not_public": "not a public CA",
    "none": "none",
    "the_ca": "the CA",
    "der_consequence": ("Node ignores it, and Claude Code before 2.1.332 fails every request with 'Unable to connect "
                        "to API (ConnectionRefused)' (its debug log says 'Invalid CA'), even for hosts it trusts "
                        "(measured with 2.1.197; 2.1.332 ignores the file instead)"),
    "der_consequence_ignored": ("Node ignores it, and so does Claude Code {version} ('Claude Code ignored all of the "
                                "NODE_EXTRA_CA_CERTS file'): neither gets the CA from it, though each still trusts "
                                "what its other stores hold"),
    "proxy_cert_for": "it is issued for {names}, not for {host}",
    "proxy_cert_validity": "it is {validity}",
    "proxy_cert_untrusted": "it does not chain to a CA that {clients} trust ({why})",
    "file_ca": "written: the interception CA (PEM, mode 600)",
    "file_bundle": "written: public roots + the CA + your existing CAs",
    "file_node": "written: the CA + what NODE_EXTRA_CA_CERTS held",
    "file_converted": "written: PEM copy of the DER file in {var}",
    "file_remove": "remove {where}",
    "experiment_confirmed": ("{target} answers with verification off ({unverified}) but fails with it on "
                             "({verified}): certificate problem confirmed"),
    "experiment_intro": "Measured safely inside this tool: {results}. Fix the trust, not the verification.",
    "verdict_confirmed": "certificate problem confirmed",
    "verdict_works": "verification works: no certificate problem",
    "verdict_either": "fails either way: not (only) a certificate problem",
    "verification_on": "verification is on everywhere the clients read it",
    "trust_see_interception": "Then make the clients trust the proxy's CA (see certificate.interception).",
    "trust_instead": "Then trust the proxy's CA instead:\n{export_lines}",
    "unset_line": "  unset {var}",
    "unset_none": "  (edit the files named above)",
    "remove_line": "\n  remove {where}",
    "not_written": "(not written)",
    "python_no_tls": "CA variables: {files}; {url} uses no TLS",
    "none_set": "none set",
    "python_verifies": "Python verifies {target} through the proxy with {via}",
    "context_raises": "building the TLS context raises {error}: {detail}",
    "python_blocked_intercepted": "the proxy intercepts TLS and no Python CA variable is set: {detail}",
    "users_SSL_CERT_FILE": "Python ssl, httpx, the Anthropic SDK, curl and Claude Code",
    "users_REQUESTS_CA_BUNDLE": "Python requests",
    "users_CURL_CA_BUNDLE": "curl and Python requests",
    "consequence_SSL_CERT_FILE": ("httpx and the Anthropic SDK raise an error when they start; urllib and Python's "
                                  "ssl trust nothing from it and fail every verified connection."),
    "consequence_SSL_CERT_DIR": "Python's ssl, httpx and curl find no CA in it.",
    "consequence_REQUESTS_CA_BUNDLE": ("requests fails every https request ('Could not find a suitable TLS CA "
                                       "certificate bundle')."),
    "consequence_CURL_CA_BUNDLE": "curl fails every https request, and so does requests, which reads it too.",
    "consequence_other": "The clients that read it cannot verify anything with it.",
    "aws_note": ("boto3/botocore (Bedrock from Python) read AWS_CA_BUNDLE first, then ca_bundle in ~/.aws/config, "
                 "and only then REQUESTS_CA_BUNDLE (never SSL_CERT_FILE): AWS_CA_BUNDLE above makes them trust the "
                 "bundle whatever an older setting says. Claude Code in Bedrock mode trusts what "
                 "NODE_EXTRA_CA_CERTS adds, like in its default mode.\n"),
    "vertex_note": ("google-auth (the Vertex AI login of the Python SDKs) sends its requests through requests, which "
                    "reads REQUESTS_CA_BUNDLE above. Claude Code in Vertex mode trusts what NODE_EXTRA_CA_CERTS adds, "
                    "like in its default mode.\n"),
    # Plain Node programs only (Claude Code has its own rules): proof/node_rules.py's measured gates.
    "node_system_ca_alt": ("Alternative for Node programs: node {node} on your PATH reads the system store when told "
                           "to, so once the CA is installed there (the first step above) this works without a CA "
                           "file:\n{export_lines}\nNODE_EXTRA_CA_CERTS above stays the fix: it works on every Node "
                           "version. (Not for Claude Code, which follows its own rules above.)\n"),
    "node_flag_alt": ("Alternative for Node programs: node {node} on your PATH has --use-system-ca (not yet "
                      "NODE_USE_SYSTEM_CA, which needs 22.19+/24.6+), so once the CA is installed in the system "
                      "store (the first step above) this works without a CA file:\n{export_lines}\n"
                      "NODE_EXTRA_CA_CERTS above stays the fix: it works on every Node version. (Not for Claude "
                      "Code, which follows its own rules above.)\n"),
    "no_client_cert_anywhere": ("no client certificate configured (CLAUDE_CODE_CLIENT_CERT) and no https:// "
                                "gateway or proxy"),
}

#: The certificate.client_cert step's summary when it passes.
CLIENT_CERT_SUMMARY = {
    "usable": "client certificate '{subject}' ({cert_path}) is valid and matches its key",
    "none": "no client certificate configured",
    "accepted": "the {what} {endpoint} accepts it",
    "required": "the {what} {endpoint} asks for one",
    "not_required": "the {what} {endpoint} does not require one",
    "not_asked": "the {what} {endpoint} could not be asked ({detail})",
    # How the user checks a pair against each kind of endpoint (a proxy is spoken to as a proxy).
    "check_gateway": "curl -v --cert <certificate> --key <key> {endpoint_url}",
    "check_proxy": ("curl -v --proxy {endpoint_url} --proxy-cert <certificate> --proxy-key <key> "
                    "https://api.anthropic.com"),
}

STEPS = {
    "certificate.interception": {
        "number": 1,
        "title": "Identify SSL interception",
        "question": "Does the corporate proxy perform SSL inspection?",
        "check": 'curl -v https://api.anthropic.com 2>&1 | grep -i "issuer"',
        "findings": {
            "intercepted": {
                "text": "The proxy intercepts TLS to {target}{vendor_text}: the certificate for {target_host} is "
                        "issued by '{issuer}', not a public CA ({reference_verdict}). The interception CA "
                        "'{ca_name}' was saved to {ca_path}. Not trusted by: {untrusted}.{extra}",
                "solution": "install_ca",
            },
            "leaf_only": {
                "text": "The proxy intercepts TLS to {target}{vendor_text} but sends only its certificate for "
                        "{target_host}, issued by '{issuer}' ({issuer_dn}), without the CA: the CA cannot be "
                        "extracted from the connection. Not trusted by: {untrusted}.{extra}",
                "solution": "ask_it",
            },
            "der_trap": {
                "text": "{var} points at {path}, a DER (binary .cer) certificate where PEM text is required: "
                        "{consequence}. A PEM copy holding {ca_name} was written to {node_ca_path}.{extra}",
                "solution": "der",
            },
            "interceptor_expired": {
                "text": "The certificate the intercepting proxy presents for {target_host} (issued by "
                        "'{issuer}'{vendor_text}) is {validity}. Every client rejects it, whatever CA it trusts.",
                "solution": "interceptor_cert",
            },
            "interceptor_wrong_host": {
                "text": "The certificate the proxy presents for {target} is not valid for {target_host}: it names "
                        "{names} (issued by '{issuer}'{vendor_text}). Clients reject it as a host name mismatch.",
                "solution": "interceptor_cert",
            },
            "target_cert": {
                "text": "{target} presents a certificate that is {problem} (issued by '{issuer}'), without "
                        "interception.",
                "solution": "target_cert",
            },
            "incomplete_chain": {
                "text": "{target} presents '{leaf}' issued by '{issuer}' without the intermediate certificate: "
                        "{reason}. Browsers fetch missing intermediates, Python, curl and Node do not.",
                "solution": "incomplete",
            },
            "bc_not_critical": {
                "text": "The interception CA '{ca_name}' is trusted here, but Python 3.13+ rejects it under its "
                        "strict X.509 default: {strict}. Clients running Python {python_hint} fail with "
                        "'CERTIFICATE_VERIFY_FAILED ... {first_strict}'.",
                "solution": "strict",
            },
            "strict_rejected": {
                "text": "The proxy's certificates are trusted here (CA '{ca_name}'), but Python 3.13+ rejects them "
                        "under its strict X.509 default: {strict}. Python clients on {python_hint} (the Anthropic "
                        "SDK, httpx, pip, requests with urllib3 2.3+) fail with 'CERTIFICATE_VERIFY_FAILED ... "
                        "{first_strict}'; curl and Node accept them.",
                "solution": "strict_leaf",
            },
            "claude_cert_store": {
                "text": "Claude Code does not trust the proxy's CA '{ca_name}' although {trusted_by} do: {why}. "
                        "Claude Code's stores here: {claude_stores}.{also}",
                "solution": "claude_cert_store",
            },
            "proxy_cert": {
                "text": "The proxy is spoken to over TLS ({proxy_hostport}, an https:// proxy URL) and its own "
                        "certificate is not valid for it: {detail}",
                "solution": "proxy_cert",
            },
        },
        "solutions": {
            "install_ca": {
                "any": _INSTALL_INTRO,
                "macos": ("sudo security add-trusted-cert -d -r trustRoot \\\n"
                          "  -k /Library/Keychains/System.keychain {ca_path}\n"
                          "security find-certificate -c \"{ca_name}\" -a" + _PER_CLIENT),
                "debian": ("sudo cp {ca_path} /usr/local/share/ca-certificates/proxy-ca.crt\n"
                           "sudo update-ca-certificates\n"
                           "ls /etc/ssl/certs/ | grep proxy" + _PER_CLIENT),
                "rhel": ("sudo cp {ca_path} /etc/pki/ca-trust/source/anchors/proxy-ca.crt\n"
                         "sudo update-ca-trust\n"
                         "trust list | grep -i \"{ca_name}\"" + _PER_CLIENT),
                "windows": ("certutil -addstore -f Root {ca_path}   (in an administrator prompt)" + _PER_CLIENT),
            },
            "ask_it": {
                "any": ("Ask IT for the root CA certificate named '{issuer}' ({issuer_dn}), the TLS inspection "
                        "CA{vendor_text}, as a PEM file. Once you have it as proxy-ca.crt, install it:"),
                "macos": ("sudo security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain "
                          "proxy-ca.crt\nexport NODE_EXTRA_CA_CERTS=\"$PWD/proxy-ca.crt\""),
                "debian": ("sudo cp proxy-ca.crt /usr/local/share/ca-certificates/\nsudo update-ca-certificates\n"
                           "export REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt\n"
                           "export SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt\n"
                           "export NODE_EXTRA_CA_CERTS=\"$PWD/proxy-ca.crt\""),
                "rhel": ("sudo cp proxy-ca.crt /etc/pki/ca-trust/source/anchors/\nsudo update-ca-trust\n"
                         "export REQUESTS_CA_BUNDLE=/etc/pki/tls/certs/ca-bundle.crt\n"
                         "export SSL_CERT_FILE=/etc/pki/tls/certs/ca-bundle.crt\n"
                         "export NODE_EXTRA_CA_CERTS=\"$PWD/proxy-ca.crt\""),
            },
            "der": {
                "any": ("Point {var} at the PEM copy (the DER file stays as it is):\n"
                        "{export_lines}\n"
                        "Convert such files yourself with:\n"
                        "  openssl x509 -inform DER -in {path} -out {node_ca_path}"),
            },
            "interceptor_cert": {
                "any": ("This is the proxy's fault, not your trust store's: report it to IT with this evidence "
                        "(the proxy re-signs {target_host} with a certificate that is {problem}). If only this "
                        "machine is affected, check its clock (date -u)."),
            },
            "target_cert": {
                "any": "The server's certificate is {problem}. Tell its operator; nothing on this machine fixes it.",
            },
            "incomplete": {
                "any": ("The server (or a gateway in front of it) must send its intermediate certificate. As a "
                        "stop-gap, add the intermediate '{issuer}' to a combined bundle and point "
                        "REQUESTS_CA_BUNDLE / SSL_CERT_FILE at it."),
            },
            "strict": {
                "any": ("Ask IT to reissue the inspection CA with basicConstraints marked critical (and keyUsage, "
                        "Subject/Authority Key Identifiers), as RFC 5280 requires. Until then, Python 3.13+ "
                        "clients can use the OS trust store through truststore:\n"
                        "  pip install truststore\n"
                        "  python -c 'import truststore; truststore.inject_into_ssl()'   # at the start of the "
                        "program\nDo not disable verification."),
            },
            "strict_leaf": {
                "any": ("Ask IT to make the proxy issue its certificates as RFC 5280 requires: an Authority Key "
                        "Identifier in every certificate it generates, and a CA with basicConstraints marked "
                        "critical, keyUsage and a Subject Key Identifier. Until then, Python 3.13+ clients can use "
                        "the OS trust store through truststore:\n"
                        "  pip install truststore\n"
                        "  python -c 'import truststore; truststore.inject_into_ssl()'   # at the start of the "
                        "program\nDo not disable verification."),
            },
            "claude_cert_store": {
                "any": ("Remove CLAUDE_CODE_CERT_STORE from {where} (the default reads the bundled roots and the OS "
                        "store), or keep it and give Claude Code the CA itself, in the same file's \"env\" block "
                        "or in {profile}:\n{export_lines}"),
            },
            "proxy_cert": {
                "any": ("The https:// proxy's certificate must name the proxy host ({proxy_host}), not the "
                        "provider, and chain to a CA the clients trust. Ask IT for the right proxy URL (many "
                        "proxies speak plain http:// even for https traffic):\n"
                        "  curl -v --proxy {proxy_noauth} -I {target_url}"),
            },
        },
    },
    "certificate.verification_disabled": {
        "number": 2,
        "title": "Certificate validation disabled?",
        "question": "Is certificate verification turned off anywhere the clients read it?",
        "findings": {
            "disabled": {
                "text": "Certificate verification is switched off: {where}. {effects}. {experiment}",
                "solution": "enable",
            },
        },
        "solutions": {
            "enable": {"any": ("Turn verification back on; it protects your API key and your code from anyone "
                               "on the path. Remove these settings (and from {profile}):\n"
                               "{unset_lines}\n"
                               "{trust_advice}")},
        },
    },
    "certificate.python_ssl": {
        "number": 3,
        "title": "Check Python SSL configuration",
        "question": "Does Python verify TLS through the proxy with its CA configuration?",
        "check": "python3 -c \"import ssl; print(ssl.get_default_verify_paths())\"",
        "findings": {
            "missing": {"text": "{var}={path} does not exist ({detail}). {consequence}", "solution": "point"},
            "empty": {"text": "{var}={path} holds no certificate ({detail}). {consequence}", "solution": "point"},
            "not_pem": {"text": "{var}={path} is not a PEM certificate bundle: {detail}. {consequence}",
                        "solution": "point"},
            "der": {"text": "{var}={path} is a DER (binary .cer) certificate, where Python needs PEM text. "
                            "{consequence} A PEM copy was written to {converted}.",
                    "solution": "point_converted"},
            "wrong_kind": {"text": "{var}={path}: {detail}. {consequence}", "solution": "point"},
            "unreadable": {"text": "{var}={path} cannot be read: {detail}. {consequence}", "solution": "point"},
            "not_hashed": {"text": "{var}={path} holds certificates but no hash links, so OpenSSL finds none "
                                   "of them. {consequence}", "solution": "rehash"},
            "corporate_only": {
                "text": "{var}={path} holds only {count} certificate(s) ({names}) and none of the public roots: "
                        "it replaces the whole trust store, so {users} reject every host the proxy does not "
                        "intercept (bypassed or spliced sites, the direct route).",
                "solution": "point",
            },
            "verify_failed": {
                "text": "A verified TLS connection to {target} through the proxy fails with {via}: {detail}",
                "solution": "point",
            },
        },
        "solutions": {
            "point": {
                "any": ("Point {var_or_python} at a bundle that exists and holds the roots it needs:\n"
                        "{export_lines}"),
                "debian": "(On this system the OS bundle is /etc/ssl/certs/ca-certificates.crt; "
                          "after update-ca-certificates it also holds installed corporate CAs.)",
                "rhel": "(On this system the OS bundle is /etc/pki/tls/certs/ca-bundle.crt; "
                        "after update-ca-trust it also holds installed corporate CAs.)",
                "macos": "(On macOS the OS bundle file is /etc/ssl/cert.pem; the Keychain is not a file.)",
            },
            "point_converted": {
                "any": ("Point {var} at the PEM copy (the DER file stays as it is):\n{export_lines}\n"
                        "Convert such files yourself with:\n  openssl x509 -inform DER -in {path} -out {converted}"),
            },
            "rehash": {
                "any": ("Create the hash links OpenSSL looks for, or point SSL_CERT_FILE at a bundle file:\n"
                        "  openssl rehash {path}\n{export_lines}"),
            },
        },
    },
    "certificate.client_cert": {
        "number": 4,
        "title": "Client certificate (mTLS)",
        "question": "Does a gateway or proxy ask for a client certificate, and is the one configured usable and accepted?",
        "check": "curl -v --cert \"$CLAUDE_CODE_CLIENT_CERT\" --key \"$CLAUDE_CODE_CLIENT_KEY\" \"$ANTHROPIC_BASE_URL\"",
        "findings": {
            "required_not_configured": {
                "text": "{endpoint} asks for a client certificate ({detail}) and none is configured: "
                        "CLAUDE_CODE_CLIENT_CERT and CLAUDE_CODE_CLIENT_KEY are not set (environment or a Claude Code "
                        "settings file).",
                "solution": "configure",
            },
            "rejected": {
                "text": "{endpoint} refuses the client certificate '{subject}' (issued by '{issuer}', from "
                        "{cert_path}): {detail}",
                "solution": "ask_it",
            },
            "cert_expired": {"text": "The client certificate {cert_path} ('{subject}', issued by '{issuer}') is "
                                     "{validity}: every gateway that checks it refuses the handshake.",
                             "solution": "renew"},
            "cert_not_yet_valid": {"text": "The client certificate {cert_path} ('{subject}') is {validity}.",
                                   "solution": "renew"},
            "not_for_clients": {"text": "The certificate {cert_path} ('{subject}') is not meant for TLS clients: "
                                        "its extendedKeyUsage lacks clientAuth.", "solution": "renew"},
            "key_mismatch": {"text": "CLAUDE_CODE_CLIENT_KEY={key_path} is not the private key of the certificate "
                                     "{cert_path} ('{subject}'): TLS clients refuse the pair before any handshake.",
                             "solution": "match_key"},
            "passphrase_needed": {"text": "The client key {key_path} is encrypted and "
                                          "CLAUDE_CODE_CLIENT_KEY_PASSPHRASE is not set.",
                                  "solution": "passphrase"},
            "passphrase_wrong": {"text": "CLAUDE_CODE_CLIENT_KEY_PASSPHRASE does not decrypt the client key "
                                         "{key_path}.", "solution": "passphrase"},
            "cert_unreadable": {"text": "{var}={path} cannot be read ({detail}).", "solution": "point"},
            "cert_not_pem": {"text": "{var}={path} is not a PEM certificate.", "solution": "point"},
            "key_unreadable": {"text": "{var}={path} cannot be read ({detail}).", "solution": "point"},
            "key_not_pem": {"text": "{path} holds no PEM private key Claude Code can read.", "solution": "point"},
            "key_missing": {"text": "CLAUDE_CODE_CLIENT_KEY is not set and {path} holds no private key.",
                            "solution": "point"},
            "relative_path": {"text": "{var}={path}{where} is a relative path: Claude Code opens it from the "
                                      "directory it starts in. From {cwd} it is {absolute}; from any other project "
                                      "directory it is not found and the gateway gets no client certificate.",
                              "solution": "absolute"},
            "key_without_cert": {"text": "CLAUDE_CODE_CLIENT_KEY={key_path} is set but CLAUDE_CODE_CLIENT_CERT is "
                                         "not.", "solution": "point"},
        },
        "solutions": {
            "configure": {"any": ("Ask IT for your client certificate and key (PEM) for {endpoint}, then add to "
                                  "{profile} (or the \"env\" block of ~/.claude/settings.json):\n"
                                  "  export CLAUDE_CODE_CLIENT_CERT=\"<path to your certificate .pem>\"\n"
                                  "  export CLAUDE_CODE_CLIENT_KEY=\"<path to its private key .pem>\"\n"
                                  "Check the pair with: {check}")},
            "ask_it": {"any": ("The gateway does not accept this certificate: ask IT which CA it trusts for client "
                               "certificates and for a certificate from it. See what yours is with:\n"
                               "  openssl x509 -in {cert_path} -noout -subject -issuer -enddate")},
            "renew": {"any": ("Ask IT for a new client certificate (this one's details: openssl x509 -in {cert_path} "
                              "-noout -subject -issuer -dates -ext extendedKeyUsage), then point "
                              "CLAUDE_CODE_CLIENT_CERT and CLAUDE_CODE_CLIENT_KEY at the new files.")},
            "match_key": {"any": ("Point CLAUDE_CODE_CLIENT_KEY at the key that belongs to {cert_path}. The two "
                                  "lines below print the same digest for a matching pair:\n"
                                  "  openssl x509 -in {cert_path} -noout -pubkey | openssl sha256\n"
                                  "  openssl pkey -in <key file> -pubout | openssl sha256")},
            "passphrase": {"any": ("Set CLAUDE_CODE_CLIENT_KEY_PASSPHRASE to the key's passphrase (your own value; "
                                   "check it with: openssl pkey -in {key_path} -noout), in the \"env\" block of "
                                   "~/.claude/settings.json or in {profile}.")},
            "absolute": {"any": "Give the absolute path, so Claude Code finds the file wherever it starts:\n{lines}"},
            "point": {"any": ("Point CLAUDE_CODE_CLIENT_CERT and CLAUDE_CODE_CLIENT_KEY at your PEM certificate and "
                              "its key (convert a .p12 with: openssl pkcs12 -in <file.p12> -out client.pem -nodes).")},
        },
    },
}
