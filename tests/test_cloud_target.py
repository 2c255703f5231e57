"""The default target follows the user's Claude Code: Bedrock or Vertex AI endpoint, its source, its API.

No network: the derivation, the configuration it lands in, the provider domains of the configured regions and
the request each probe chooses.  The lab run (the Bedrock user with no target option) is in test_bedrock.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_proxydiag.branches import application, providers
from pytest_proxydiag.core.config import DEFAULT_TARGET, Target, settings_from_options
from pytest_proxydiag.machine.claude_target import derive_target, user_target
from pytest_proxydiag.net import policy_probes

BEDROCK = "https://bedrock-runtime.{}.amazonaws.com"


# ----------------------------------------------------------------------------- each variable


@pytest.mark.parametrize("env, url, source, mode", [
    ({"CLAUDE_CODE_USE_BEDROCK": "1", "AWS_REGION": "eu-west-1"}, BEDROCK.format("eu-west-1"), "env:AWS_REGION",
     "bedrock"),
    ({"CLAUDE_CODE_USE_BEDROCK": "1", "AWS_DEFAULT_REGION": "ap-northeast-1"}, BEDROCK.format("ap-northeast-1"),
     "env:AWS_DEFAULT_REGION", "bedrock"),
    # AWS_REGION before AWS_DEFAULT_REGION, as Claude Code and botocore read them.
    ({"CLAUDE_CODE_USE_BEDROCK": "1", "AWS_REGION": "us-west-2", "AWS_DEFAULT_REGION": "eu-west-1"},
     BEDROCK.format("us-west-2"), "env:AWS_REGION", "bedrock"),
    ({"CLAUDE_CODE_USE_BEDROCK": "true"}, BEDROCK.format("us-east-1"), "env:CLAUDE_CODE_USE_BEDROCK", "bedrock"),
    # The base URL wins over the region (a gateway or a VPC endpoint).
    ({"CLAUDE_CODE_USE_BEDROCK": "1", "AWS_REGION": "us-west-2",
      "ANTHROPIC_BEDROCK_BASE_URL": "https://vpce-1.bedrock-runtime.us-west-2.vpce.amazonaws.com"},
     "https://vpce-1.bedrock-runtime.us-west-2.vpce.amazonaws.com", "env:ANTHROPIC_BEDROCK_BASE_URL", "bedrock"),
    ({"CLAUDE_CODE_USE_VERTEX": "1", "CLOUD_ML_REGION": "europe-west4"},
     "https://europe-west4-aiplatform.googleapis.com", "env:CLOUD_ML_REGION", "vertex"),
    ({"CLAUDE_CODE_USE_VERTEX": "1", "CLOUD_ML_REGION": "global"}, "https://aiplatform.googleapis.com",
     "env:CLOUD_ML_REGION", "vertex"),
    ({"CLAUDE_CODE_USE_VERTEX": "1", "CLOUD_ML_REGION": "eu"}, "https://aiplatform.eu.rep.googleapis.com",
     "env:CLOUD_ML_REGION", "vertex"),
    # Claude Code 2.1.332's own default region in Vertex mode.
    ({"CLAUDE_CODE_USE_VERTEX": "1"}, "https://us-east5-aiplatform.googleapis.com", "env:CLAUDE_CODE_USE_VERTEX",
     "vertex"),
    ({"CLAUDE_CODE_USE_VERTEX": "1", "CLOUD_ML_REGION": "us-east5",
      "ANTHROPIC_VERTEX_BASE_URL": "https://llm.corp.example/vertex/v1"}, "https://llm.corp.example/vertex/v1",
     "env:ANTHROPIC_VERTEX_BASE_URL", "vertex"),
    # Not in a cloud mode: an anthropic.com base URL is the target; another host is a gateway (not the target).
    ({"ANTHROPIC_BASE_URL": "https://api.anthropic.com"}, "https://api.anthropic.com", "env:ANTHROPIC_BASE_URL",
     "anthropic"),
    ({"ANTHROPIC_BASE_URL": "http://localhost:4000"}, None, "default", "anthropic"),
    ({"CLAUDE_CODE_USE_BEDROCK": "0", "AWS_REGION": "eu-west-1"}, None, "default", "anthropic"),
    ({}, None, "default", "anthropic"),
])
def test_each_variable_of_claude_codes_mode_gives_its_endpoint(env, url, source, mode):
    found = derive_target(env)
    assert (found.url, found.source, found.mode, found.problems) == (url, source, mode, ())


def test_bedrock_wins_over_vertex_and_the_why_names_every_variable():
    found = derive_target({"CLAUDE_CODE_USE_BEDROCK": "1", "CLAUDE_CODE_USE_VERTEX": "1", "AWS_REGION": "eu-west-1"})
    assert found.mode == "bedrock"
    assert found.why == "CLAUDE_CODE_USE_BEDROCK=1 (env), AWS_REGION=eu-west-1 (env)"
    assert "Claude Code's default us-east-1" in derive_target({"CLAUDE_CODE_USE_BEDROCK": "1"}).why


# ----------------------------------------------------------------------------- settings scopes


def _settings(path: Path, env: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"env": env}))


def test_the_settings_scopes_set_the_mode_and_win_over_the_shell(tmp_path):
    home, project = tmp_path / "home", tmp_path / "project"
    _settings(home / ".claude" / "settings.json", {"CLAUDE_CODE_USE_BEDROCK": "1", "AWS_REGION": "us-west-2"})
    _settings(project / ".claude" / "settings.local.json", {"AWS_REGION": "eu-central-1"})
    found = user_target({"HOME": str(home), "AWS_REGION": "ap-south-1"}, cwd=str(project))
    # local > user > the shell: Claude Code applies the settings' env on top of the shell's.
    assert found.url == BEDROCK.format("eu-central-1") and found.source == "settings:AWS_REGION"
    assert found.why == (f"CLAUDE_CODE_USE_BEDROCK=1 ({home}/.claude/settings.json), "
                         f"AWS_REGION=eu-central-1 ({project}/.claude/settings.local.json)")
    # The managed scope is read too.
    root = tmp_path / "root"
    _settings(root / "etc" / "claude-code" / "managed-settings.json",
              {"CLAUDE_CODE_USE_VERTEX": "1", "CLOUD_ML_REGION": "us-east5"})
    found = user_target({"HOME": str(tmp_path / "empty")}, cwd=str(tmp_path), system_root=str(root))
    assert (found.url, found.source) == ("https://us-east5-aiplatform.googleapis.com", "settings:CLOUD_ML_REGION")


def test_the_aws_profiles_region_comes_after_the_variables(tmp_path):
    """Claude Code 2.1.332 (like botocore) falls back to the region of the AWS profile in use."""
    (tmp_path / ".aws").mkdir()
    (tmp_path / ".aws" / "config").write_text("[default]\nregion = eu-north-1\n\n[profile corp]\nregion = ap-southeast-2\n"
                                              "\n[profile junk]\nregion = not a region\n")
    env = {"HOME": str(tmp_path), "CLAUDE_CODE_USE_BEDROCK": "1"}
    found = user_target(env, cwd=str(tmp_path))
    assert (found.url, found.source) == (BEDROCK.format("eu-north-1"), "aws_config:region")
    assert found.why.endswith(f"region=eu-north-1 ({tmp_path}/.aws/config [default])")
    assert user_target(dict(env, AWS_PROFILE="corp"), cwd=str(tmp_path)).url == BEDROCK.format("ap-southeast-2")
    assert user_target(dict(env, AWS_REGION="us-west-2"), cwd=str(tmp_path)).source == "env:AWS_REGION"
    assert user_target(dict(env, AWS_PROFILE="junk"), cwd=str(tmp_path)).url == BEDROCK.format("us-east-1")


def test_no_home_reads_no_settings_file():
    assert user_target({"CLAUDE_CODE_USE_BEDROCK": "1"}).source == "env:CLAUDE_CODE_USE_BEDROCK"
    assert user_target({}).url is None


# ----------------------------------------------------------------------------- bad values


@pytest.mark.parametrize("env, url, problem", [
    ({"CLAUDE_CODE_USE_BEDROCK": "1", "ANTHROPIC_BEDROCK_BASE_URL": "bedrock.corp:443", "AWS_REGION": "eu-west-1"},
     BEDROCK.format("eu-west-1"), "invalid ANTHROPIC_BEDROCK_BASE_URL 'bedrock.corp:443' from "
                                  "env:ANTHROPIC_BEDROCK_BASE_URL: must be an http:// or https:// URL with a host"),
    ({"CLAUDE_CODE_USE_BEDROCK": "1", "ANTHROPIC_BEDROCK_BASE_URL": "https://[::1"}, BEDROCK.format("us-east-1"),
     "invalid ANTHROPIC_BEDROCK_BASE_URL 'https://[::1'"),
    ({"CLAUDE_CODE_USE_BEDROCK": "1", "AWS_REGION": "eu west 1", "AWS_DEFAULT_REGION": "us-west-2"},
     BEDROCK.format("us-west-2"), "invalid AWS_REGION 'eu west 1' from env:AWS_REGION: must be one region name"),
    ({"CLAUDE_CODE_USE_VERTEX": "1", "CLOUD_ML_REGION": "europe/west4"}, "https://us-east5-aiplatform.googleapis.com",
     "invalid CLOUD_ML_REGION 'europe/west4'"),
    ({"CLAUDE_CODE_USE_VERTEX": "1", "ANTHROPIC_VERTEX_BASE_URL": "https://gw:99999/v1"},
     "https://us-east5-aiplatform.googleapis.com", "has an invalid port"),
])
def test_an_unusable_value_is_passed_over_with_a_problem_never_a_traceback(env, url, problem):
    found = derive_target(env)
    assert found.url == url and len(found.problems) == 1 and problem in found.problems[0], found


def test_a_broken_settings_file_is_a_problem_and_the_shell_still_counts(tmp_path):
    home = tmp_path / "home"
    (home / ".claude").mkdir(parents=True)
    (home / ".claude" / "settings.json").write_text('{"env": {"CLAUDE_CODE_USE_VERTEX": "1",')
    found = user_target({"HOME": str(home), "CLAUDE_CODE_USE_BEDROCK": "1"}, cwd=str(tmp_path))
    assert found.mode == "bedrock" and "cannot be read as JSON" in found.problems[0]


# ----------------------------------------------------------------------------- in the configuration


def test_no_target_option_gives_the_users_endpoint_with_its_source(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    env = {"HOME": str(tmp_path), "CLAUDE_CODE_USE_BEDROCK": "1", "AWS_REGION": "eu-west-1",
           "ANTHROPIC_BEDROCK_BASE_URL": "not a url"}
    cfg = settings_from_options({}, env=env)
    (target,) = cfg.targets
    assert (target.url, target.source, target.api) == (BEDROCK.format("eu-west-1"), "env:AWS_REGION", "bedrock")
    report = cfg.as_report(lambda s: s)
    assert report["targets"] == [{"value": BEDROCK.format("eu-west-1"), "source": "env:AWS_REGION", "api": "bedrock",
                                  "why": "CLAUDE_CODE_USE_BEDROCK=1 (env), AWS_REGION=eu-west-1 (env)"}]
    assert any("invalid ANTHROPIC_BEDROCK_BASE_URL 'not a url'" in p for p in report["problems"])
    # The report schema accepts the source, settings files included.
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((Path(__file__).parent.parent / "pytest_proxydiag" / "reports" /
                         "report.schema.json").read_text())
    for source in ("env:AWS_REGION", "settings:CLOUD_ML_REGION"):
        jsonschema.validate({"value": "x", "source": source}, schema["$defs"]["sourced"])


def test_a_target_option_wins_and_still_speaks_the_users_api(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    env = {"HOME": str(tmp_path), "CLAUDE_CODE_USE_BEDROCK": "1", "ANTHROPIC_BEDROCK_BASE_URL": "https://gw.corp"}
    cfg = settings_from_options({"proxydiag_target": ["https://gw.corp", "https://api.anthropic.com"]}, env=env)
    assert [(t.url, t.source, t.api) for t in cfg.targets] == [("https://gw.corp", "cli", "bedrock"),
                                                               ("https://api.anthropic.com", "cli", "anthropic")]
    # Without any mode, the default stays.
    cfg = settings_from_options({}, env={"HOME": str(tmp_path)})
    assert [(t.url, t.source) for t in cfg.targets] == [(DEFAULT_TARGET, "default")]
    assert "api" not in cfg.as_report(lambda s: s)["targets"][0]


# ----------------------------------------------------------------------------- regions in the allowlist


def test_every_configured_region_becomes_its_endpoint_in_the_allowlist():
    t = (Target(BEDROCK.format("eu-west-1"), "env:AWS_REGION", "bedrock"),)
    env = {"CLAUDE_CODE_USE_BEDROCK": "1", "AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-central-1",
           "ANTHROPIC_BEDROCK_BASE_URL": "https://bedrock-runtime.us-west-2.amazonaws.com"}
    hosts = [d.host for d in providers.provider_domains(t, ["eu-west-1"], None, env)]
    assert hosts == [BEDROCK.format(r)[8:] for r in ("eu-west-1", "eu-central-1", "us-west-2")]
    # Claude Code's small fast model may run in a region of its own.
    env["ANTHROPIC_SMALL_FAST_MODEL_AWS_REGION"] = "us-east-2"
    assert BEDROCK.format("us-east-2")[8:] in [d.host for d in providers.provider_domains(t, None, None, env)]
    # Vertex: CLOUD_ML_REGION, Claude Code's per-model regions, the base URL's region, Google's token endpoint.
    env = {"CLAUDE_CODE_USE_VERTEX": "1", "CLOUD_ML_REGION": "us-east5", "VERTEX_REGION_CLAUDE_4_5_SONNET": "eu",
           "ANTHROPIC_VERTEX_BASE_URL": "https://europe-west1-aiplatform.googleapis.com/v1"}
    ds = providers.provider_domains((), None, None, env)
    assert [d.host for d in ds] == ["us-east5-aiplatform.googleapis.com", "aiplatform.eu.rep.googleapis.com",
                                    "europe-west1-aiplatform.googleapis.com", "oauth2.googleapis.com"]
    lines = providers.allowlist_lines(ds)
    assert "aiplatform.eu.rep.googleapis.com  (HTTPS, port 443; Vertex AI)" in lines
    assert "oauth2.googleapis.com  (HTTPS, port 443; Google auth (Vertex AI))" in lines
    assert "oauth2.googleapis.com" in providers.wildcard_lines(ds)
    # A Vertex login skipped (a gateway holds the credentials): no token endpoint.
    ds = providers.provider_domains((), None, None, dict(env, CLAUDE_CODE_SKIP_VERTEX_AUTH="1"))
    assert "oauth2.googleapis.com" not in [d.host for d in ds]
    # A Bedrock target needs no default region added next to it.
    assert [d.host for d in providers.provider_domains(t, None, None, {"CLAUDE_CODE_USE_BEDROCK": "1"})] == [
        BEDROCK.format("eu-west-1")[8:]]


def test_a_region_set_only_in_a_settings_file_adds_its_endpoint(tmp_path, monkeypatch):
    """The shell says Bedrock in eu-west-1; the small fast model's region and a Vertex region live only in
    ~/.claude/settings.json: the allowlist takes them from what Claude Code sees (Settings.claude_env)."""
    home, work = tmp_path / "home", tmp_path / "work"
    (home / ".claude").mkdir(parents=True)
    work.mkdir()
    monkeypatch.chdir(work)
    (home / ".claude" / "settings.json").write_text(json.dumps({"env": {
        "ANTHROPIC_SMALL_FAST_MODEL_AWS_REGION": "us-west-2", "VERTEX_REGION_CLAUDE_4_5_SONNET": "europe-west1"}}))
    shell = {"HOME": str(home), "CLAUDE_CODE_USE_BEDROCK": "1", "AWS_REGION": "eu-west-1"}
    cfg = settings_from_options({}, env=shell)
    assert cfg.claude_env["ANTHROPIC_SMALL_FAST_MODEL_AWS_REGION"] == "us-west-2" and cfg.env == shell
    hosts = [d.host for d in providers.provider_domains(cfg.targets, None, None, cfg.claude_env)]
    assert hosts == [BEDROCK.format("eu-west-1")[8:], BEDROCK.format("us-west-2")[8:],
                     "europe-west1-aiplatform.googleapis.com", "oauth2.googleapis.com"], hosts
    # The shell alone (what the steps passed before) misses them.
    assert [d.host for d in providers.provider_domains(cfg.targets, None, None, cfg.env)] == hosts[:1]
    # No settings file: the view is the shell.
    assert settings_from_options({}, env={"HOME": str(tmp_path / "nobody")}).claude_env == {
        "HOME": str(tmp_path / "nobody")}


# ----------------------------------------------------------------------------- the request each probe sends


def test_each_api_gets_a_request_its_service_answers():
    anthropic = Target("https://api.anthropic.com", "default", "anthropic")
    bedrock = Target(BEDROCK.format("eu-west-1"), "env:AWS_REGION", "bedrock")
    vertex = Target("https://europe-west4-aiplatform.googleapis.com", "env:CLOUD_ML_REGION", "vertex")
    gateway = Target("https://llm.corp.example/vertex/v1", "env:ANTHROPIC_VERTEX_BASE_URL", "vertex")
    assert policy_probes.api_path(anthropic) == "/v1/messages"
    assert policy_probes.api_path(bedrock) == "/model/anthropic.claude-proxydiag-probe/invoke"
    assert policy_probes.api_path(vertex) == ("/v1/projects/proxydiag-probe/locations/europe-west4/publishers/"
                                              "anthropic/models/claude-proxydiag-probe:rawPredict")
    assert policy_probes.api_path(gateway).startswith("/vertex/v1/projects/proxydiag-probe/")
    assert policy_probes.api_headers(anthropic)["anthropic-version"] == "2023-06-01"
    assert "anthropic-version" not in policy_probes.api_headers(bedrock)
    for api in ("anthropic", "bedrock", "vertex"):
        body = policy_probes.json_probe_body(4096, api)
        assert len(body) == 4096 and json.loads(body)["max_tokens"] == 1
    assert json.loads(policy_probes.json_probe_body(512, "bedrock"))["anthropic_version"] == "bedrock-2023-05-31"
    # A target built without a mode speaks what its host name says.
    assert Target(BEDROCK.format("us-east-1"), "cli").api == "bedrock"


def test_the_sdk_check_goes_to_an_anthropic_target_or_is_skipped_with_the_reason():
    from pytest_proxydiag import catalog

    bedrock = Target(BEDROCK.format("eu-west-1"), "env:AWS_REGION", "bedrock")
    anthropic = Target("https://api.anthropic.com", "cli", "anthropic")
    assert application.sdk_target([bedrock, anthropic]) is anthropic
    assert application.sdk_target([bedrock]) is None
    verdict = application.judge_cloud_only([bedrock])
    assert verdict.outcome == "skip" and verdict.key == "cloud_target"
    text = catalog.note("application.debug_logging", verdict.key, **verdict.values)
    assert "https://bedrock-runtime.eu-west-1.amazonaws.com (AWS Bedrock) does not" in text


def test_awss_own_error_through_a_bumping_proxy_is_the_providers_answer():
    """Squid's Via header on a bumped reply does not make AWS's 403 (x-amzn-ErrorType) a block page."""
    from pytest_proxydiag.branches import policy

    headers = [("Via", "1.1 vm (squid/5.7)"), ("Content-Type", "application/json"),
               ("x-amzn-ErrorType", "MissingAuthenticationTokenException:http://internal.amazon.com/coral/"),
               ("x-amzn-RequestId", "0f1e")]
    v = policy.read_reply(403, headers, b'{"message": "Missing Authentication Token"}', stage="tunnel")
    assert (v.sender, v.kind, v.is_block) == ("provider", "ok", False), v
    # Squid's own refusal inside the tunnel stays the proxy's.
    v = policy.read_reply(403, [("Via", "1.1 vm (squid/5.7)"), ("X-Squid-Error", "ERR_ACCESS_DENIED 0")],
                          b"<html>Access Denied</html>", stage="tunnel")
    assert v.sender == "proxy" and v.is_block, v


def _ticket(settings, target=None):
    """The policy.domain_allowed ticket (its solution) as a step renders it for *settings*' target."""
    from pytest_proxydiag.core.redact import Redactor
    from pytest_proxydiag.core.state import RunState
    from pytest_proxydiag.core.step import Finding, StepContext

    step = StepContext(RunState(settings, Redactor(), None, True), "policy.domain_allowed", "t", target)
    with pytest.raises(Finding):
        step.fail("blocked", count=1, blocked="x:443 (403)", vendor_note="", domains="  x", wildcards="  x",
                  when="now", client="curl")
    return step.rendered.solution


@pytest.mark.parametrize("env, retest", [
    ({"CLAUDE_CODE_USE_BEDROCK": "1", "AWS_REGION": "eu-west-1"},
     "Retest: curl -sS -o /dev/null -D - -w '%{http_code}\\n' -x \"$HTTPS_PROXY\" -X POST "
     "https://bedrock-runtime.eu-west-1.amazonaws.com/model/anthropic.claude-proxydiag-probe/invoke   (a 403 whose "
     "headers include x-amzn-ErrorType is AWS refusing the unsigned request: the domain is allowed and AWS was "
     "reached; a 403 without that header is the proxy's refusal)"),
    ({"CLAUDE_CODE_USE_VERTEX": "1", "CLOUD_ML_REGION": "europe-west4"},
     "Retest: curl -sS -o /dev/null -w '%{http_code}\\n' -x \"$HTTPS_PROXY\" -X POST "
     "https://europe-west4-aiplatform.googleapis.com/v1/projects/proxydiag-probe/locations/europe-west4/publishers/"
     "anthropic/models/claude-proxydiag-probe:rawPredict   (a 401 from Google, which wants a login, means the domain "
     "is allowed and Vertex AI was reached)"),
    ({}, "Retest: curl -x \"$HTTPS_PROXY\" https://api.anthropic.com/v1/messages   (a 401 from the provider means "
         "the domain is allowed)"),
])
def test_the_tickets_retest_is_the_request_of_the_users_target(env, retest, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    solution = _ticket(settings_from_options({}, env={"HOME": str(tmp_path), **env}))
    assert solution.rstrip().endswith(retest), solution
    assert solution.count("/v1/messages") == (1 if not env else 0)


def test_a_gateway_set_only_in_claude_codes_settings_is_the_gateway_the_steps_check(tmp_path, monkeypatch):
    # LiteLLM's and Anthropic's gateway set-up puts ANTHROPIC_BASE_URL in ~/.claude/settings.json; the audit
    # saw every gateway step skipped with "no gateway configured (... ANTHROPIC_BASE_URL pointing at a gateway)".
    monkeypatch.chdir(tmp_path)
    _settings(tmp_path / ".claude" / "settings.json", {"ANTHROPIC_BASE_URL": "http://litellm.corp.internal:4000"})
    cfg = settings_from_options({}, env={"HOME": str(tmp_path)})
    assert (cfg.gateway.value, cfg.gateway.source) == ("http://litellm.corp.internal:4000",
                                                       "settings:ANTHROPIC_BASE_URL")
    assert cfg.targets[0].url == DEFAULT_TARGET
    # The settings value wins over the shell's, as in Claude Code; the shell's alone still counts.
    cfg = settings_from_options({}, env={"HOME": str(tmp_path), "ANTHROPIC_BASE_URL": "http://old-gw:4000"})
    assert cfg.gateway.value == "http://litellm.corp.internal:4000"
    (tmp_path / ".claude" / "settings.json").unlink()
    cfg = settings_from_options({}, env={"HOME": str(tmp_path), "ANTHROPIC_BASE_URL": "http://old-gw:4000"})
    assert (cfg.gateway.value, cfg.gateway.source) == ("http://old-gw:4000", "env:ANTHROPIC_BASE_URL")
