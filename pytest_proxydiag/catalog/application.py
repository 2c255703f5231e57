"""APPLICATION ISSUES (flowchart section: works with curl, fails with Claude Code)."""

STEPS = {
    "application.env_in_shell": {
        "number": 1,
        "title": "Verify environment variables in same shell",
        "question": "Does the shell where Claude Code runs have the proxy variables?",
        "check": "env | grep -i proxy",
        "findings": {"missing": {"text": "{detail}", "solution": "export"}},
        "solutions": {"export": {"any": "Export the variables in your shell startup file ({profile}):\n"
                                        "{export_lines}\nReload: source {profile}"}},
    },
    "application.debug_logging": {
        "number": 2,
        "title": "Check Claude Code proxy support",
        "question": "Do the clients' debug logs show the proxy being used?",
        "check": "ANTHROPIC_LOG=debug claude /status",
        "findings": {"no_proxy_in_log": {"text": "{detail}", "solution": "sdk_version"}},
        "solutions": {"sdk_version": {"any": "Check the SDK version: {detail}"}},
    },
    "application.python_requests": {
        "number": 3,
        "title": "Test Python requests library (LiteLLM dependency)",
        "question": "Does Python requests reach the provider with the environment's proxy settings?",
        "findings": {"failed": {"text": "{detail}", "solution": "branch"}},
        "solutions": {"branch": {"any": "{next_step}"}},
    },
    "application.litellm_config": {
        "number": 4,
        "title": "Verify LiteLLM gateway configuration",
        "question": "Does the LiteLLM config carry the proxy settings?",
        "findings": {"missing": {"text": "{detail}", "solution": "add"}},
        "solutions": {"add": {"any": "Add to {path}:\nlitellm_settings:\n  proxy:\n"
                                     "    http_proxy: os.environ/HTTP_PROXY\n    https_proxy: os.environ/HTTPS_PROXY\n"
                                     "    no_proxy: os.environ/NO_PROXY"}},
    },
}
