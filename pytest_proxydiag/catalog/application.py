"""APPLICATION ISSUES (flowchart section: works with curl, fails with Claude Code).

Placeholders filled by ``diag_tests/test_application.py``: ``{export_lines}``
(lines for the user's ``$SHELL``), ``{profile}``, ``{reload}``, ``{detail}``,
``{views}`` (the variable as this process / a new shell / Claude Code see it),
``{fix_lines}``, ``{path}``, ``{yaml}`` (the flowchart's LiteLLM YAML with the
user's values), ``{versions}``, ``{traps}``.
"""

_EXPORT = (
    "Export the variables in the startup file of your shell ({shell}: {profile}), so every new terminal - "
    "and Claude Code started from it - has them:\n"
    "{export_lines}\n"
    "Reload and check it persists:\n"
    "  {reload}\n"
    "  exec $SHELL        # a new shell\n"
    "  env | grep -i proxy\n"
    "  claude /status")

STEPS = {
    "application.env_in_shell": {
        "number": 1,
        "title": "Verify environment variables in same shell",
        "question": "Does the shell where Claude Code runs have the proxy variables?",
        "check": 'env | grep -i proxy; echo "Proxy: $HTTPS_PROXY"; claude /status',
        "findings": {
            "http_only": {"text": "{detail}\n{views}", "solution": "export"},
            "profile_only": {"text": "{detail}\n{views}", "solution": "export"},
            "not_loaded": {"text": "{detail}\n{views}", "solution": "export"},
            "claude_only": {"text": "{detail}\n{views}", "solution": "export"},
            "case_mismatch": {"text": "{detail}\n{views}", "solution": "export"},
            "stale": {"text": "{detail}\n{views}", "solution": "export"},
            "claude_differs": {"text": "{detail}\n{views}", "solution": "align_claude"},
        },
        "solutions": {
            "export": {"any": _EXPORT},
            "align_claude": {"any": (
                "Claude Code applies the \"env\" of {claude_path} on top of the shell. Make both agree: remove "
                "the proxy variables from that file's \"env\" (then Claude Code takes the shell's), or set the "
                "same value in both. For the shell ({profile}):\n{export_lines}\n"
                "Check: grep -i proxy {claude_path}; env | grep -i proxy")},
        },
    },
    "application.debug_logging": {
        "number": 2,
        "title": "Check Claude Code proxy support",
        "question": "Do the clients' debug logs show the proxy being used?",
        "check": "ANTHROPIC_LOG=debug LITELLM_LOG=DEBUG claude /status 2>&1 | tee claude-debug.log; "
                 "grep -i proxy claude-debug.log",
        "findings": {
            "no_proxy_in_log": {
                "text": "{sdk} {version} connected to {target} directly, not through the proxy {proxy}: its debug "
                        "log shows {evidence}.",
                "solution": "sdk_version",
            },
            "sdk_failed": {
                "text": "{sdk} {version} could not reach {target} through the proxy, although the proxy works for "
                        "a plain CONNECT: {detail}. Debug log: {evidence}",
                "solution": "sdk_version",
            },
            "client_trap": {
                "text": "{detail}",
                "solution": "traps",
            },
        },
        "solutions": {
            "sdk_version": {"any": (
                "Check the SDK version and how the program builds its client:\n"
                "  {upgrade}\n"
                "  - keep the default HTTP client (it reads HTTPS_PROXY), or pass the proxy explicitly: "
                "anthropic.Anthropic(http_client=anthropic.DefaultHttpxClient(proxy=os.environ[\"HTTPS_PROXY\"]))\n"
                "  - known traps here: {traps}\n"
                "For support, these versions: {versions}")},
            "traps": {"any": "{traps}\nFor support, these versions: {versions}"},
        },
    },
    "application.python_requests": {
        "number": 3,
        "title": "Test Python requests library (LiteLLM dependency)",
        "question": "Does Python requests reach the provider with the environment's proxy settings?",
        "check": "python3 -c 'import requests; print(requests.get(\"https://api.anthropic.com\", timeout=10))'",
        "findings": {
            "python_only": {
                "text": "curl works, {client} does not, because {because}.\n{runs}",
                "solution": "python_fix",
            },
        },
        "solutions": {
            "python_fix": {"any": (
                "Give {client} what curl already has - add to {profile}:\n{fix_lines}\n"
                "Then check with the flowchart's Python test:\n"
                "  python3 -c 'import requests; print(requests.get(\"{target_url}\", timeout=10).status_code)'\n"
                "(any HTTP status, even 401 or 404, means the path works; a ProxyError or SSLError does not)")},
        },
    },
    "application.litellm_config": {
        "number": 4,
        "title": "Verify LiteLLM gateway configuration",
        "question": "Does the LiteLLM config carry the proxy settings?",
        "check": "grep -i -A4 proxy config.yaml",
        "findings": {
            "unparseable": {"text": "The LiteLLM config {path} ({source}) cannot be used: {detail}",
                            "solution": "fix_yaml"},
            "ssl_verify_false": {"text": "The LiteLLM config {path} turns certificate verification off "
                                         "({detail}): any interception, hostile or not, goes unnoticed.",
                                 "solution": "ssl_verify"},
            "unset_refs": {"text": "The LiteLLM config {path} reads {detail} from the environment, but "
                                   "{unset} is not set here: LiteLLM would start without it.",
                           "solution": "set_env"},
            "missing": {"text": "The LiteLLM config {path} has no proxy settings ({detail}), and LiteLLM runs "
                                "where HTTPS_PROXY may not be set.",
                        "solution": "add"},
        },
        "solutions": {
            "fix_yaml": {"any": (
                "Fix the YAML (indent with spaces, never tabs) and check it parses:\n"
                "  python3 -c 'import yaml,sys; yaml.safe_load(open(\"{path}\"))' && echo OK\n"
                "A minimal proxy section:\n{yaml}")},
            "ssl_verify": {"any": (
                "Do not disable verification: point LiteLLM at the CA bundle that holds the proxy's CA instead. "
                "In {path}:\n{yaml}\n"
                "and export the bundle for the gateway's process:\n{export_lines}")},
            "set_env": {"any": (
                "Set the variables in the environment that starts LiteLLM (its shell, systemd unit or "
                "container):\n{export_lines}\n"
                "or put them in the config's environment_variables section. The proxy section of {path}:\n{yaml}")},
            "add": {"any": "Add to {path}:\n{yaml}\nand start LiteLLM where these are set:\n{export_lines}"},
        },
    },
}
