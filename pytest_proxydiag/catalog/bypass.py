"""BYPASS ISSUES (flowchart section: requests don't go through the proxy)."""

STEPS = {
    "bypass.traffic_via_proxy": {
        "number": 1,
        "title": "Verify proxy is being used",
        "question": "Do the clients' requests to the provider go through the proxy?",
        "check": "sudo tcpdump -i any -n host proxy.company.com",
        "findings": {"direct": {"text": "{detail}", "solution": "route"}},
        "solutions": {"route": {"any": "Make the client use the proxy: {detail}"}},
    },
    "bypass.no_proxy": {
        "number": 2,
        "title": "Check NO_PROXY configuration",
        "question": "Does NO_PROXY send the provider direct for any client?",
        "findings": {"bypassed": {"text": "{detail}", "solution": "remove"}},
        "solutions": {"remove": {"any": "Keep only internal domains:\n  export NO_PROXY=\"{corrected}\""}},
    },
    "bypass.system_proxy": {
        "number": 3,
        "title": "Check system-wide proxy settings",
        "question": "Do system-wide proxy settings disagree with the environment?",
        "findings": {"conflict": {"text": "{detail}", "solution": "align"}},
        "solutions": {
            "align": {"any": "Make the system settings and the environment name the same proxy.",
                      "macos": "Check System Settings > Network > Proxies (scutil --proxy); it may override "
                               "environment variables.",
                      "debian": "Check /etc/environment and gsettings get org.gnome.system.proxy mode."},
        },
    },
    "bypass.app_settings": {
        "number": 4,
        "title": "Check application-specific bypass",
        "question": "Do application settings override the environment?",
        "check": "cat ~/.claude/settings.json | grep -i proxy",
        "findings": {"override": {"text": "{detail}", "solution": "edit"}},
        "solutions": {"edit": {"any": "Edit {path}: {change}"}},
    },
}
