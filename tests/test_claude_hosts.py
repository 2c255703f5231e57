"""policy.claude_hosts with a real Squid whose policy refuses some of Claude Code's hosts."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest

from conftest import require_squid
from pytest_proxydiag.branches import claude_hosts as hosts
from pytest_proxydiag.lab import Squid, squid_config
from pytest_proxydiag.lab.servers import free_port
from pytest_proxydiag.machine.claude_mcp import http_mcp_servers


def test_needed_hosts_follow_the_install_and_the_switches():
    npm = "/opt/x/node_modules/@anthropic-ai/claude-code/bin/claude.exe"
    names = [n.host for n in hosts.needed_hosts({}, npm)]
    assert names == ["claude.ai", "http-intake.logs.us5.datadoghq.com", "statsig.anthropic.com",
                     "o1158394.ingest.us.sentry.io", "registry.npmjs.org"]
    assert [n.host for n in hosts.needed_hosts({"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"}, npm)] == ["claude.ai"]
    native = [n for n in hosts.needed_hosts({"DISABLE_TELEMETRY": "1", "DISABLE_ERROR_REPORTING": "1"},
                                            "/home/u/.local/bin/claude")]
    assert [(n.host, n.purpose) for n in native] == [("claude.ai", "webfetch"), ("downloads.claude.ai", "updates_native")]
    mirror = hosts.needed_hosts({"npm_config_registry": "https://npm.corp.example:8443/", "DISABLE_TELEMETRY": "1",
                                 "DISABLE_ERROR_REPORTING": "1"}, npm)
    assert (mirror[-1].host, mirror[-1].port) == ("npm.corp.example", 8443)


def test_mcp_servers_from_every_file_claude_code_reads(tmp_path):
    home, project = tmp_path / "home", tmp_path / "proj"
    home.mkdir()
    project.mkdir()
    (home / ".claude.json").write_text(json.dumps({
        "mcpServers": {"docs": {"type": "http", "url": "https://mcp.example.com/mcp"},
                       "files": {"command": "npx", "args": ["x"]}},
        "projects": {str(project): {"mcpServers": {"local": {"type": "sse", "url": "http://localhost:8931/sse"}}}}}))
    (project / ".mcp.json").write_text('{"mcpServers": {"wiki": {"type": "http", "url": "http://wiki.corp.internal/mcp"}}')
    servers, problems = http_mcp_servers(home, project, platform="linux")
    assert {(s.name, s.url) for s in servers} == {("docs", "https://mcp.example.com/mcp"),
                                                  ("local", "http://localhost:8931/sse")}
    assert len(problems) == 1 and ".mcp.json cannot be read as JSON" in problems[0]


@pytest.fixture
def squid_refusing():
    """``squid_refusing("claude.ai", ".sentry.io")``: a real Squid whose policy refuses those domains.

    Every other name resolves nowhere (Squid's DNS is loopback only), which the step reports as not
    reached, for information only.
    """
    require_squid()
    started = []

    def start(*domains: str, clients: str = "") -> Squid:
        """Squid refusing *domains*; with *clients* (a network) its localnet ACL serves only those clients."""
        # Under the system temp dir: Squid drops to its own user, which cannot enter pytest's private tmp.
        d = Path(tempfile.mkdtemp(prefix="proxydiag-hosts-squid-"))
        d.chmod(0o777)
        port = free_port()
        rules = [f"acl refused dstdomain {' '.join(domains)}"] + ([f"acl localnet src {clients}"] if clients else [])
        lines = squid_config(d, port, rules=rules, access=["http_access deny refused", "http_access allow "
                                                           + ("localnet" if clients else "localhost"),
                                                           "http_access deny all"])
        squid = Squid(lines, d, port)
        started.append((squid, d))
        return squid.start()

    yield start
    for squid, d in started:
        squid.stop()
        shutil.rmtree(d, ignore_errors=True)


TELEMETRY = (".datadoghq.com", ".sentry.io", "statsig.anthropic.com")
NPM_CLAUDE = "/opt/none/node_modules/@anthropic-ai/claude-code/bin/claude.exe"


def test_a_refused_claude_host_is_a_finding_and_telemetry_is_not(squid_refusing, run_diag):
    squid = squid_refusing("claude.ai", "registry.npmjs.org", *TELEMETRY)
    run = run_diag("-k", "test_claude_hosts", env={"HTTPS_PROXY": squid.url, "PROXYDIAG_CLAUDE": NPM_CLAUDE})
    step = run.step("policy.claude_hosts")
    assert step["outcome"] == "failed" and step["finding_key"] == "refused", step
    assert "claude.ai (WebFetch's domain safety check (documented)" in step["finding"]
    assert "registry.npmjs.org (updates of the npm install (npm registry)" in step["finding"]
    assert "for information only" in step["finding"] and "sentry.io" in step["finding"]
    assert "  claude.ai:443\n  registry.npmjs.org:443" in step["solution"] and "sentry" not in step["solution"]
    assert step["fix"]["verified"] is None and "proxy team must allow" in step["fix"]["evidence"]


def test_hosts_refused_because_the_proxy_refuses_this_machine_are_no_domain_finding(squid_refusing, run_diag):
    # Squid's localnet ACL without this machine: every host, and the reference name, get 403 ERR_ACCESS_DENIED.
    squid = squid_refusing(*TELEMETRY, clients="192.0.2.0/24")
    run = run_diag("-k", "test_claude_hosts", env={"HTTPS_PROXY": squid.url, "PROXYDIAG_CLAUDE": NPM_CLAUDE})
    step = run.step("policy.claude_hosts")
    assert step["outcome"] == "skipped" and step["blocked_by"] == "connectivity.proxy_works", step
    assert "the proxy refuses google.com:443 the same way (HTTP/1.1 403 Forbidden" in step["skip_reason"], step


def test_telemetry_alone_refused_is_said_not_a_finding(squid_refusing, run_diag):
    squid = squid_refusing(*TELEMETRY)
    run = run_diag("-k", "test_claude_hosts", env={"HTTPS_PROXY": squid.url, "PROXYDIAG_CLAUDE": NPM_CLAUDE})
    step = run.step("policy.claude_hosts")
    assert step["outcome"] == "passed", step
    assert "for information only" in step["summary"] and "o1158394.ingest.us.sentry.io" in step["summary"]


def test_a_local_mcp_server_sent_to_the_proxy_is_a_finding(squid_refusing, run_diag, diag_home):
    squid = squid_refusing(*TELEMETRY)
    (diag_home / ".claude.json").write_text(json.dumps(
        {"mcpServers": {"local": {"type": "http", "url": "http://localhost:8931/mcp"}}}))
    run = run_diag("-k", "test_claude_hosts", env={"HTTPS_PROXY": squid.url, "HTTP_PROXY": squid.url,
                                                   "NO_PROXY": "example.internal"})
    step = run.step("policy.claude_hosts")
    assert step["finding_key"] == "local_mcp_via_proxy", step
    assert "local (http://localhost:8931/mcp)" in step["finding"]
    assert "localhost" in step["fix"]["env"]["NO_PROXY"]


def test_the_webfetch_check_host_counts_only_where_the_api_is_elsewhere():
    npm = "/opt/x/node_modules/@anthropic-ai/claude-code/bin/claude.exe"
    quiet = {"DISABLE_TELEMETRY": "1", "DISABLE_ERROR_REPORTING": "1", "DISABLE_AUTOUPDATER": "1"}
    # An Anthropic API user: api.anthropic.com is the API itself, checked by the API's own steps.
    assert [n.host for n in hosts.needed_hosts(quiet, npm)] == ["claude.ai"]
    gateway = hosts.needed_hosts(quiet, npm, api_hosts=["llm-gw.corp.example"])
    assert [(n.host, n.purpose, n.weight) for n in gateway] == [
        ("claude.ai", "webfetch", hosts.REQUIRED), ("api.anthropic.com", "webfetch_measured", hosts.REQUIRED)]
    # skipWebFetchPreflight (a settings key) switches the check off: neither host is needed.
    assert hosts.needed_hosts(quiet, npm, api_hosts=["llm-gw.corp.example"], preflight_skipped="/h/s.json") == []
    # Bedrock and Vertex AI modes send no telemetry and no error reports (measured in 2.1.332: Datadog and Sentry
    # both return when the provider is not Anthropic's own).
    for mode in ("CLAUDE_CODE_USE_BEDROCK", "CLAUDE_CODE_USE_VERTEX"):
        names = [n.host for n in hosts.needed_hosts({mode: "1"}, npm, api_hosts=["bedrock-runtime.x"])]
        # Bedrock mode also lists its inference profiles on Bedrock's control plane (measured with 2.1.332:
        # "Bedrock ListInferenceProfiles failed ... falling back to hardcoded models" when refused).
        extra = ["bedrock.us-east-1.amazonaws.com"] if mode == "CLAUDE_CODE_USE_BEDROCK" else []
        assert names == ["claude.ai", "api.anthropic.com", *extra, "registry.npmjs.org"], (mode, names)


def test_a_bedrock_users_webfetch_check_refused_is_a_finding(squid_refusing, run_diag, diag_home):
    """Claude Code 2.1.332's WebFetch asks https://api.anthropic.com/api/web/domain_info whatever the provider
    (measured in the binary; its error still names claude.ai): a proxy that lets a Bedrock user reach AWS but
    not api.anthropic.com breaks WebFetch while the API works."""
    squid = squid_refusing("api.anthropic.com", *TELEMETRY)
    env = {"HTTPS_PROXY": squid.url, "PROXYDIAG_CLAUDE": NPM_CLAUDE, "CLAUDE_CODE_USE_BEDROCK": "1",
           "AWS_REGION": "us-east-1", "DISABLE_AUTOUPDATER": "1"}
    run = run_diag("-k", "test_claude_hosts", env=env)
    step = run.step("policy.claude_hosts")
    assert step["outcome"] == "failed" and step["finding_key"] == "refused", step
    assert "api.anthropic.com (WebFetch's domain safety check, api.anthropic.com/api/web/domain_info" \
        in step["finding"], step["finding"]
    assert "  api.anthropic.com:443" in step["solution"], step["solution"]
    assert "allowing claude.ai alone does not mend it" in step["solution"], step["solution"]
    assert f"\"skipWebFetchPreflight\": true (in {diag_home}/.claude/settings.json)" in step["solution"]
    # Bedrock mode sends no telemetry or error reports: their refusal is not even said.
    assert "sentry" not in step["finding"] and "datadoghq" not in step["finding"], step["finding"]
    # With skipWebFetchPreflight in the user's settings, WebFetch asks nobody first: nothing to allow.
    (diag_home / ".claude").mkdir()
    (diag_home / ".claude" / "settings.json").write_text('{"skipWebFetchPreflight": true}')
    step = run_diag("-k", "test_claude_hosts", env=env).step("policy.claude_hosts")
    assert step["outcome"] == "passed", step
    assert "api.anthropic.com" not in step["evidence"].get("hosts", {}), step
    assert "WebFetch's domain check is off (skipWebFetchPreflight in " in step["summary"], step


def _claude_ai_login(home) -> str:
    """A claude.ai (Pro/Max) login as Claude Code keeps it on Linux, with an expired access token; dummy values."""
    import time

    token = "sk-ant-ort01-proxydiag-dummy-refresh"
    (home / ".claude").mkdir(exist_ok=True)
    (home / ".claude" / ".credentials.json").write_text(json.dumps({"claudeAiOauth": {
        "accessToken": "sk-ant-oat01-proxydiag-dummy-access", "refreshToken": token,
        "expiresAt": int(time.time() * 1000) - 3600_000, "scopes": ["user:inference"], "subscriptionType": "pro"}}))
    return token


def test_a_claude_ai_login_needs_its_token_host(squid_refusing, run_diag, diag_home):
    """Measured with 2.1.332 through a real Squid: with a claude.ai login whose access token expired, Claude Code
    CONNECTs platform.claude.com:443 (its TOKEN_URL, /v1/oauth/token) before the API; a proxy that refuses it ends
    every session once the token expires, while an API-key user never asks it."""
    token = _claude_ai_login(diag_home)
    squid = squid_refusing("platform.claude.com", *TELEMETRY)
    env = {"HTTPS_PROXY": squid.url, "PROXYDIAG_CLAUDE": NPM_CLAUDE, "DISABLE_AUTOUPDATER": "1"}
    run = run_diag("-k", "test_claude_hosts", env=env)
    step = run.step("policy.claude_hosts")
    assert step["outcome"] == "failed" and step["finding_key"] == "refused", step
    assert "platform.claude.com (renewal of the claude.ai login's token" in step["finding"], step["finding"]
    assert "  platform.claude.com:443" in step["solution"]
    assert token not in run.json_path.read_text() and "proxydiag-dummy-access" not in run.json_path.read_text()
    # An API key is what Claude Code uses then: no sign-in host.
    needs = hosts.needed_hosts({"ANTHROPIC_API_KEY": "x"}, NPM_CLAUDE, claude_ai_login=True)
    assert "platform.claude.com" not in [n.host for n in needs]
    assert "platform.claude.com" not in [n.host for n in hosts.needed_hosts({}, NPM_CLAUDE)]


def test_real_claude_in_bedrock_mode_asks_bedrocks_control_plane_and_the_refusal_is_informational(
        squid_refusing, run_diag, tmp_path):
    """Measured with 2.1.332 (CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 too): a CONNECT to bedrock.<region>
    .amazonaws.com (ListInferenceProfiles) before the first call to bedrock-runtime; refused, Claude Code falls back
    to its own model list and goes on, so it is said, never a finding."""
    import os
    import subprocess

    squid = squid_refusing("bedrock.eu-west-1.amazonaws.com", *TELEMETRY)
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "LANG": "C.UTF-8", "HTTPS_PROXY": squid.url,
           "CLAUDE_CODE_USE_BEDROCK": "1", "CLAUDE_CODE_SKIP_BEDROCK_AUTH": "1", "AWS_REGION": "eu-west-1",
           "CLAUDE_CODE_MAX_RETRIES": "0", "DISABLE_AUTOUPDATER": "1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"}
    real = os.environ.get("PROXYDIAG_CLAUDE") or "/opt/proxydiag-claude/node_modules/.bin/claude"
    if os.access(real, os.X_OK):
        subprocess.run([real, "-p", "hello", "--output-format", "json", "--bare"], env=env, cwd=tmp_path,
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=90)
        log = squid.access_log.read_text()
        assert "CONNECT bedrock.eu-west-1.amazonaws.com:443" in log and "TCP_DENIED/403" in log, log
    run = run_diag("-k", "test_claude_hosts", env={k: env[k] for k in ("HTTPS_PROXY", "CLAUDE_CODE_USE_BEDROCK",
                                                                        "AWS_REGION", "DISABLE_AUTOUPDATER")})
    step = run.step("policy.claude_hosts")
    assert step["outcome"] == "passed", step
    assert "bedrock.eu-west-1.amazonaws.com" in step["summary"] and "for information only" in step["summary"], step
