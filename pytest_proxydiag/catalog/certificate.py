"""CERTIFICATE ISSUES (flowchart section: SSL certificate verification failed)."""

STEPS = {
    "certificate.interception": {
        "number": 1,
        "title": "Identify SSL interception",
        "question": "Does the corporate proxy perform SSL inspection?",
        "check": 'curl -v https://api.anthropic.com 2>&1 | grep -i "issuer"',
        "findings": {
            "intercepted": {"text": "{detail}", "solution": "install_ca"},
        },
        "solutions": {
            "install_ca": {
                "any": "Install the proxy CA certificate ({ca_path}).",
                "macos": ("sudo security add-trusted-cert -d -r trustRoot \\\n"
                          "  -k /Library/Keychains/System.keychain {ca_path}\n"
                          "security find-certificate -c \"{ca_name}\" -a"),
                "debian": ("sudo cp {ca_path} /usr/local/share/ca-certificates/proxy-ca.crt\n"
                           "sudo update-ca-certificates\nls /etc/ssl/certs/ | grep proxy"),
                "rhel": ("sudo cp {ca_path} /etc/pki/ca-trust/source/anchors/\n"
                         "sudo update-ca-trust\ntrust list | grep -i \"{ca_name}\""),
            },
        },
    },
    "certificate.verification_disabled": {
        "number": 2,
        "title": "Certificate validation disabled?",
        "question": "Is certificate verification turned off anywhere the clients read it?",
        "findings": {
            "disabled": {"text": "{detail}", "solution": "enable"},
        },
        "solutions": {
            "enable": {"any": "Turn verification back on and install the proper CA certificate instead "
                              "(see certificate.interception):\n{unset_lines}"},
        },
    },
    "certificate.python_ssl": {
        "number": 3,
        "title": "Check Python SSL configuration",
        "question": "Does Python verify TLS through the proxy with its CA configuration?",
        "findings": {
            "bad_bundle": {"text": "{detail}", "solution": "point"},
        },
        "solutions": {
            "point": {
                "any": "Point Python to a CA bundle that exists and holds the roots it needs:",
                "debian": "export SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",
                "rhel": "export SSL_CERT_FILE=/etc/pki/tls/certs/ca-bundle.crt",
                "macos": "export SSL_CERT_FILE=/etc/ssl/cert.pem",
            },
        },
    },
}
