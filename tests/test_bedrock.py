"""Bedrock and Vertex AI end to end: boto3 and Claude Code in its cloud modes, behind a real intercepting Squid.

Measured here (2026-11-30, botocore 1.43.11, Claude Code 2.1.332) and kept as tests so a change is noticed:

* botocore takes its CA bundle from ``AWS_CA_BUNDLE``, else ``ca_bundle`` in ~/.aws/config, else
  ``REQUESTS_CA_BUNDLE`` (``EndpointCreator._get_verify_value``), else certifi; ``SSL_CERT_FILE`` never.
  An ``AWS_CA_BUNDLE`` without the proxy's CA shadows a good ``REQUESTS_CA_BUNDLE``.
* AWS answers a dummy signature with 403 ``UnrecognizedClientException`` and no signature (Claude Code with
  ``CLAUDE_CODE_SKIP_BEDROCK_AUTH=1``) with 403 ``Missing Authentication Token``; the lab origin does the same.
* Claude Code in Bedrock mode POSTs ``/model/<id>/invoke-with-response-stream`` to ``ANTHROPIC_BEDROCK_BASE_URL``
  and trusts what ``NODE_EXTRA_CA_CERTS`` adds; in Vertex mode it POSTs
  ``/v1/projects/<p>/locations/<r>/publishers/anthropic/models/<m>:streamRawPredict`` to ``ANTHROPIC_VERTEX_BASE_URL``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cryptography import x509

from conftest import missing_tool, require_squid
from pytest_proxydiag.branches import providers
from pytest_proxydiag.branches.certificate.fixfiles import SavedFiles, compute_fix
from pytest_proxydiag.proof import client_rules, fixes
from pytest_proxydiag.proof.client_base import _Request
from pytest_proxydiag.proof.clients import ClientRun, discover, run_client

DEFAULT_CLAUDE = "/opt/proxydiag-claude/node_modules/.bin/claude"
TIMEOUT = 15.0
BEDROCK = "bedrock-runtime.us-east-1.amazonaws.com"


# ----------------------------------------------------------------------------- rules (no network)


@pytest.mark.parametrize("host, env, mode", [
    (BEDROCK, {}, "bedrock"),
    ("us-central1-aiplatform.googleapis.com", {}, "vertex"),
    ("api.anthropic.com", {"CLAUDE_CODE_USE_BEDROCK": "1"}, "anthropic"),
    ("gw.corp.example", {"CLAUDE_CODE_USE_BEDROCK": "1", "ANTHROPIC_BEDROCK_BASE_URL": "https://gw.corp.example/br"},
     "bedrock"),
    ("gw.corp.example", {"CLAUDE_CODE_USE_BEDROCK": "0", "ANTHROPIC_BEDROCK_BASE_URL": "https://gw.corp.example"},
     "anthropic"),
    ("gw.corp.example", {"CLAUDE_CODE_USE_VERTEX": "true", "ANTHROPIC_VERTEX_BASE_URL": "https://gw.corp.example/v1"},
     "vertex"),
])
def test_the_api_claude_code_speaks_to_a_host(host, env, mode):
    assert providers.claude_mode(host, env) == mode


def test_regions_come_from_the_endpoint_name_first():
    assert providers.bedrock_region("bedrock-runtime.eu-central-1.amazonaws.com", {"AWS_REGION": "us-west-2"}) \
        == "eu-central-1"
    assert providers.bedrock_region("gw.corp.example", {"AWS_DEFAULT_REGION": "us-west-2"}) == "us-west-2"
    assert providers.vertex_region("europe-west4-aiplatform.googleapis.com", {}) == "europe-west4"
    assert providers.vertex_region("aiplatform.googleapis.com", {"CLOUD_ML_REGION": "us-east5"}) == "us-east5"


def test_boto3_takes_aws_ca_bundle_before_requests_ca_bundle_and_never_ssl_cert_file():
    both = {"AWS_CA_BUNDLE": "/aws.pem", "REQUESTS_CA_BUNDLE": "/r.pem", "SSL_CERT_FILE": "/s.pem"}
    assert client_rules.uses("boto3", both) == {"AWS_CA_BUNDLE"}
    assert client_rules.uses("boto3", {"REQUESTS_CA_BUNDLE": "/r.pem", "SSL_CERT_FILE": "/s.pem"}) == {
        "REQUESTS_CA_BUNDLE"}
    # A change to REQUESTS_CA_BUNDLE cannot reach a boto3 that AWS_CA_BUNDLE points elsewhere.
    assert not client_rules.affected("boto3", both, dict(both, REQUESTS_CA_BUNDLE="/new.pem"), ["REQUESTS_CA_BUNDLE"])
    assert client_rules.affected("boto3", both, dict(both, AWS_CA_BUNDLE="/new.pem"), ["AWS_CA_BUNDLE"])
    assert client_rules.baseline_for("boto3", {}, "/roots.pem") == {"AWS_CA_BUNDLE": "/roots.pem"}
    assert client_rules.baseline_for("boto3", {"REQUESTS_CA_BUNDLE": "/r.pem"}, "/roots.pem") == {}
    # google-auth (Vertex AI's login) follows requests.
    assert client_rules.uses("google-auth", {"REQUESTS_CA_BUNDLE": "/r.pem", "AWS_CA_BUNDLE": "/a"}) == {
        "REQUESTS_CA_BUNDLE"}


def test_the_interception_fix_of_a_bedrock_user_sets_aws_ca_bundle():
    saved = SavedFiles(ca_path="/out/proxy-ca.pem", bundle_path="/out/ca-bundle.pem", node_ca_path="/out/proxy-ca.pem")
    assert "AWS_CA_BUNDLE" not in compute_fix(saved, {})["env"]
    assert compute_fix(saved, {}, aws=True)["env"]["AWS_CA_BUNDLE"] == "/out/ca-bundle.pem"


def _request(url_host: str, env: dict, tmp_path: Path, port: int = 443) -> _Request:
    base = f"https://{url_host}" + (f":{port}" if port != 443 else "")
    return _Request(base + "/v1/messages", base, "", "https", url_host, port, "POST", env, 5.0, {},
                    workdir=str(tmp_path), claude_settings={})


def test_claude_runs_in_the_users_cloud_mode_without_its_credentials(tmp_path):
    from pytest_proxydiag.proof.claude_runner import _claude_env, user_settings_env

    user = {"CLAUDE_CODE_USE_BEDROCK": "1", "AWS_REGION": "us-east-1", "AWS_PROFILE": "corp",
            "ANTHROPIC_BEDROCK_BASE_URL": "https://old.example", "CLAUDE_CODE_SKIP_BEDROCK_AUTH": "0"}
    env = _claude_env(_request(BEDROCK, user, tmp_path, 8443), str(tmp_path / "home"))
    assert env["CLAUDE_CODE_USE_BEDROCK"] == "1" and env["CLAUDE_CODE_SKIP_BEDROCK_AUTH"] == "1"
    assert env["ANTHROPIC_BEDROCK_BASE_URL"] == f"https://{BEDROCK}:8443" and "ANTHROPIC_BASE_URL" not in env
    # The region's own endpoint needs no override.
    env = _claude_env(_request(BEDROCK, user, tmp_path), str(tmp_path / "home2"))
    assert "ANTHROPIC_BEDROCK_BASE_URL" not in env and env["AWS_REGION"] == "us-east-1"
    vertex = _claude_env(_request("us-central1-aiplatform.googleapis.com", {}, tmp_path), str(tmp_path / "h3"))
    assert vertex["CLAUDE_CODE_SKIP_VERTEX_AUTH"] == "1" and vertex["CLOUD_ML_REGION"] == "us-central1"
    assert vertex["ANTHROPIC_VERTEX_BASE_URL"] == "https://us-central1-aiplatform.googleapis.com/v1"
    # Bedrock mode set in ~/.claude/settings.json counts too: the run keeps it to choose the mode.
    home = tmp_path / "settings-home"
    (home / ".claude").mkdir(parents=True)
    (home / ".claude" / "settings.json").write_text(
        '{"env": {"CLAUDE_CODE_USE_BEDROCK": "1", "ANTHROPIC_BEDROCK_BASE_URL": "https://gw.corp.example"}}')
    settings = user_settings_env({"HOME": str(home)}, cwd=str(tmp_path))
    assert settings["CLAUDE_CODE_USE_BEDROCK"] == "1"
    req = _request("gw.corp.example", {"HOME": str(home)}, tmp_path)
    req.claude_settings = settings
    env = _claude_env(req, str(tmp_path / "h4"))
    assert env.get("CLAUDE_CODE_SKIP_BEDROCK_AUTH") == "1" and "ANTHROPIC_BASE_URL" not in env


def test_a_403_is_the_providers_only_when_it_names_the_providers_error():
    proxy = ClientRun("boto3", "1", True, 403, None, None, 0.1, "x")
    aws = ClientRun("boto3", "1", True, 403, None, None, 0.1, "x", provider_error="UnrecognizedClientException")
    assert fixes._judge(proxy, {}, f"https://{BEDROCK}", False)[0] is False
    assert fixes._judge(aws, {}, f"https://{BEDROCK}", False)[0] is True


@pytest.mark.parametrize("url, env, api, full", [
    ("https://api.anthropic.com", {}, "", "https://api.anthropic.com/v1/messages"),
    (f"https://{BEDROCK}", {}, "", f"https://{BEDROCK}/model/anthropic.claude-proxydiag-probe/invoke"),
    # A gateway: its base path stays, from the target's API or from Claude Code's mode for that host.
    ("https://llm-gw.corp.example:8443/br", {}, "bedrock",
     "https://llm-gw.corp.example:8443/br/model/anthropic.claude-proxydiag-probe/invoke"),
    ("https://llm-gw.corp.example:8443/br", {"CLAUDE_CODE_USE_BEDROCK": "1",
                                             "ANTHROPIC_BEDROCK_BASE_URL": "https://llm-gw.corp.example:8443/br"},
     "", "https://llm-gw.corp.example:8443/br/model/anthropic.claude-proxydiag-probe/invoke"),
    ("https://us-central1-aiplatform.googleapis.com", {}, "",
     "https://us-central1-aiplatform.googleapis.com/v1/projects/proxydiag-probe/locations/us-central1/publishers/"
     "anthropic/models/claude-proxydiag-probe:rawPredict"),
    ("https://gw.corp.example/vertex/v1", {}, "vertex",
     "https://gw.corp.example/vertex/v1/projects/proxydiag-probe/locations/global/publishers/anthropic/models/"
     "claude-proxydiag-probe:rawPredict"),
])
def test_the_http_clients_ask_the_path_of_the_targets_api(url, env, api, full):
    from pytest_proxydiag.core.config import Target
    from pytest_proxydiag.net.policy_probes import api_probe
    from pytest_proxydiag.proof.clients import _build_request

    req = _build_request(url, env, 1.0, "POST", None, {}, api)
    assert req.full_url == full
    assert req.base_url == url  # what Claude Code's base URL and boto3's endpoint take
    if full.endswith("/v1/messages"):
        assert req.headers["anthropic-version"] == "2023-06-01" and '"model"' in req.body
    else:  # the probes' own request for that API: no Anthropic header, the API version in the body
        cloud = "vertex" if full.endswith(":rawPredict") else "bedrock"
        assert "anthropic-version" not in req.headers
        assert req.body.encode() == api_probe(Target(url, "test", cloud)).body


def test_boto3_proves_only_bedrock_targets(monkeypatch):
    ran = []

    def fake_run(name, url, env, timeout, **kw):
        ran.append(name)
        return ClientRun(name, "1", True, 401, None, None, 0.01, name)

    monkeypatch.setattr(fixes.clients_mod, "run_client", fake_run)
    env = {"PATH": os.environ["PATH"]}
    fixes.verify_fix({"env": {"AWS_CA_BUNDLE": "/b.pem"}}, env=env, target_url="https://api.anthropic.com",
                     clients="curl,boto3", timeout=1)
    assert "boto3" not in ran
    fixes.verify_fix({"env": {"AWS_CA_BUNDLE": "/b.pem"}}, env=env, target_url=f"https://{BEDROCK}",
                     clients="curl,boto3", timeout=1)
    assert "boto3" in ran


GATEWAY = "https://llm-gw.corp.example:8443"


def _recorder(monkeypatch) -> list[tuple[str, str]]:
    ran: list[tuple[str, str]] = []

    def fake_run(name, url, env, timeout, **kw):
        ran.append((name, kw.get("api", "")))
        return ClientRun(name, "1", True, 403, None, None, 0.01, name, provider_error="UnrecognizedClientException")

    monkeypatch.setattr(fixes.clients_mod, "run_client", fake_run)
    return ran


def test_a_bedrock_gateway_target_gets_boto3_by_its_api_not_its_host_name(monkeypatch):
    ran = _recorder(monkeypatch)
    env = {"PATH": os.environ["PATH"]}
    fixes.verify_fix({"env": {"AWS_CA_BUNDLE": "/b.pem"}}, env=env, target_url=GATEWAY, clients="curl,boto3",
                     timeout=1)
    assert [n for n, _ in ran] == ["curl", "curl"]  # an unknown host, no mode: boto3 proves nothing there
    ran.clear()
    fix = {"env": {"AWS_CA_BUNDLE": "/b.pem"}}
    fixes.verify_fix(fix, env=env, target_url=GATEWAY, clients="curl,boto3", timeout=1, api="bedrock")
    assert sorted(ran) == [("boto3", "bedrock")] * 2 + [("curl", "bedrock")] * 2, ran
    assert "boto3 1" in fix["verified_with"], fix
    # Without the caller's API, Claude Code's Bedrock mode naming that host in the environment counts.
    ran.clear()
    fixes.verify_fix({"env": {"AWS_CA_BUNDLE": "/b.pem"}}, timeout=1, target_url=GATEWAY, clients="curl,boto3",
                     env=dict(env, CLAUDE_CODE_USE_BEDROCK="1", ANTHROPIC_BEDROCK_BASE_URL=GATEWAY))
    assert sorted(n for n, _ in ran) == ["boto3", "boto3", "curl", "curl"], ran


def test_the_plugins_proof_takes_the_api_of_the_targets_mode_from_a_settings_file(monkeypatch, tmp_path):
    """CLAUDE_CODE_USE_BEDROCK and the gateway only in ~/.claude/settings.json: the shell knows nothing, the
    target's API (Target.mode) does, and boto3 proves the fix on the gateway."""
    from types import SimpleNamespace

    from pytest_proxydiag.core.config import settings_from_options
    from pytest_proxydiag.core.redact import Redactor

    monkeypatch.chdir(tmp_path)
    (tmp_path / ".claude").mkdir()
    (tmp_path / ".claude" / "settings.json").write_text(
        '{"env": {"CLAUDE_CODE_USE_BEDROCK": "1", "ANTHROPIC_BEDROCK_BASE_URL": "%s"}}' % GATEWAY)
    settings = settings_from_options({"proxydiag_clients": "curl,boto3"},
                                     env={"HOME": str(tmp_path), "PATH": os.environ["PATH"]})
    assert [(t.url, t.api) for t in settings.targets] == [(GATEWAY, "bedrock")]
    ran = _recorder(monkeypatch)
    probes = SimpleNamespace(cached=lambda key, make: make(), proxy_unusable=lambda: None)
    state = SimpleNamespace(settings=settings, deadline_passed=False, probes=probes, redactor=Redactor())
    result = SimpleNamespace(params={}, step_id="certificate.interception", finding_key="intercepted")
    fix = {"env": {"AWS_CA_BUNDLE": "/b.pem"}}
    fixes._prove(state, result, fix)
    assert ("boto3", "bedrock") in ran and fix["verified"] is True, (ran, fix)


# ----------------------------------------------------------------------------- with the real clients


def _boto3() -> None:
    info = {i.name: i for i in discover("boto3")}["boto3"]
    if not info.available:
        missing_tool(info.why_not or "boto3 is not installed (pip install boto3)")


@pytest.fixture(scope="module")
def bedrock():
    require_squid()
    from pytest_proxydiag.lab import Lab

    with Lab("bedrock-ssl-bump") as lab:
        yield lab


def _bundle(lab, tmp_path) -> str:
    path = tmp_path / "bundle.pem"
    path.write_bytes(Path(lab.public_roots).read_bytes() + lab.interception_ca_pem)
    return str(path)


@pytest.mark.parametrize("trust, reaches", [
    ({}, False),
    ({"AWS_CA_BUNDLE": "bundle"}, True),
    # botocore falls back to REQUESTS_CA_BUNDLE when AWS_CA_BUNDLE is unset...
    ({"REQUESTS_CA_BUNDLE": "bundle"}, True),
    # ...but an AWS_CA_BUNDLE without the proxy's CA wins over a good REQUESTS_CA_BUNDLE...
    ({"AWS_CA_BUNDLE": "public", "REQUESTS_CA_BUNDLE": "bundle"}, False),
    # ...and SSL_CERT_FILE is never read.
    ({"SSL_CERT_FILE": "bundle"}, False),
])
def test_which_ca_variable_real_boto3_reads(bedrock, tmp_path, trust, reaches):
    _boto3()
    files = {"bundle": _bundle(bedrock, tmp_path), "public": bedrock.public_roots}
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), **bedrock.env,
           **{k: files[v] for k, v in trust.items()}}
    run = run_client("boto3", bedrock.target_url, env, TIMEOUT, resolve={(BEDROCK, bedrock.origin_port): "127.0.0.2"})
    assert run.reached is reaches, run
    if reaches:
        assert run.status == 403 and run.provider_error == "UnrecognizedClientException", run
    else:
        assert run.error_code == "SSLError" and "CERTIFICATE_VERIFY_FAILED" in run.error, run
    assert "proxydiag0000" not in run.command  # the dummy secret stays inside the child's argument


def test_ca_bundle_in_the_aws_config_is_what_real_boto3_reads(bedrock, tmp_path):
    """botocore's ``ca_bundle`` of the profile in use: the trust matrix and the real client agree."""
    _boto3()
    from pytest_proxydiag.branches import certificate as certs

    (tmp_path / ".aws").mkdir()
    (tmp_path / ".aws" / "config").write_text(f"[default]\nregion = us-east-1\n\n"
                                               f"[profile corp]\nca_bundle = {_bundle(bedrock, tmp_path)}\n")
    pins = {(BEDROCK, bedrock.origin_port): "127.0.0.2"}
    for profile, reaches in (("default", False), ("corp", True)):
        env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), **bedrock.env, "AWS_PROFILE": profile}
        spec = certs.client_stores(env, home=str(tmp_path))["boto3"]
        assert spec.via.startswith("ca_bundle (") is reaches and spec.relevant, spec
        run = run_client("boto3", bedrock.target_url, env, TIMEOUT, resolve=pins)
        assert run.reached is reaches, run


def test_a_403_names_aws_only_with_its_error_type_header(tmp_path):
    """curl, requests and httpx see the headers: x-amzn-ErrorType marks AWS's own refusal."""
    from pytest_proxydiag.lab import HttpsOrigin, LabCA

    ca = LabCA("Proxydiag Lab Public Roots", "test")
    roots = tmp_path / "roots.pem"
    roots.write_bytes(ca.cert_pem)
    with HttpsOrigin(ca, tmp_path / "origin") as origin:
        env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "CURL_CA_BUNDLE": str(roots),
               "REQUESTS_CA_BUNDLE": str(roots), "SSL_CERT_FILE": str(roots)}
        pins = {(BEDROCK, origin.port): "127.0.0.1"}
        url = f"https://{BEDROCK}:{origin.port}"
        for headers, expected in (({"x-amzn-ErrorType": "MissingAuthenticationTokenException:http://x/"},
                                   "MissingAuthenticationTokenException"), ({}, None)):
            origin.configure(status=403, status_headers=headers)
            for name in ("curl", "requests", "httpx"):
                run = run_client(name, url, env, TIMEOUT, resolve=pins)
                assert (run.status, run.provider_error) == (403, expected), run


@pytest.fixture
def real_clients(monkeypatch):
    if not os.environ.get("PROXYDIAG_CLAUDE") and os.access(DEFAULT_CLAUDE, os.X_OK):
        monkeypatch.setenv("PROXYDIAG_CLAUDE", DEFAULT_CLAUDE)
    monkeypatch.delenv("AWS_CA_BUNDLE", raising=False)
    infos = {i.name: i for i in discover("curl,requests,httpx,claude,boto3")}
    missing = [f"{n}: {i.why_not}" for n, i in infos.items() if not i.available]
    if missing:
        missing_tool("; ".join(missing))
    return "curl,requests,httpx,claude,boto3"


def test_bedrock_interception_is_diagnosed_and_its_fix_verified_with_boto3_and_claude(run_diag, bedrock,
                                                                                         real_clients):
    run = run_diag("-m", "certificate", "--proxydiag-clients", real_clients, lab=bedrock)
    step = run.step("certificate.interception")
    assert step["outcome"] == "failed" and step["finding_key"] == "intercepted", step
    assert "boto3/botocore" in step["finding"].split("Not trusted by:")[1]
    bundle = step["evidence"]["ca_saved"]["bundle_path"]
    assert step["fix"]["env"]["AWS_CA_BUNDLE"] == bundle
    assert f'export AWS_CA_BUNDLE="{bundle}"' in step["solution"]
    assert "boto3/botocore (Bedrock from Python) read AWS_CA_BUNDLE first" in step["solution"]
    fix = step["fix"]
    assert fix["verified"] is True, fix
    assert {w.split()[0] for w in fix["verified_with"]} == {"curl", "requests", "httpx", "claude", "boto3"}, fix
    rows = {r["client"].split()[0]: r for r in fix["clients"]}
    assert rows["boto3"]["after"].endswith("reached (403 UnrecognizedClientException)"), rows["boto3"]
    assert rows["claude"]["after"].endswith("reached (403 Missing Authentication Token)"), rows["claude"]
    for name in ("boto3", "claude"):
        assert "CERT" in rows[name]["before"], rows[name]
    # Claude Code ran in Bedrock mode against the lab's Bedrock endpoint, never with a login.
    assert "CLAUDE_CODE_USE_BEDROCK=1 CLAUDE_CODE_SKIP_BEDROCK_AUTH=1" in rows["claude"]["command"]
    assert f"ANTHROPIC_BEDROCK_BASE_URL={bedrock.target_url}" in rows["claude"]["command"]
    paths = {r.path for r in bedrock.origin_requests()}
    assert "/model/anthropic.claude-proxydiag-check/invoke" in paths
    assert any(p.endswith("/invoke-with-response-stream") for p in paths), paths
    # curl, requests and httpx ask Bedrock's own path (the probes' request), never Anthropic's /v1/messages.
    by_client: dict[str, set[str]] = {}
    for r in bedrock.origin_requests():
        by_client.setdefault(r.headers.get("user-agent", "").split("/")[0], set()).add(r.path)
    for agent in ("curl", "python-requests", "python-httpx"):
        assert by_client.get(agent) == {"/model/anthropic.claude-proxydiag-probe/invoke"}, by_client


def test_the_tickets_retest_for_bedrock_ssl_bump_asks_bedrock_and_shows_awss_answer(bedrock, tmp_path, monkeypatch):
    """policy.domain_allowed's ticket for the Bedrock user: the retest is Bedrock's invoke request on the user's
    target (never /v1/messages), and run as printed through the lab's Squid it shows AWS's 403 x-amzn-ErrorType."""
    import shlex
    import subprocess

    from pytest_proxydiag.core.config import settings_from_options
    from pytest_proxydiag.core.redact import Redactor
    from pytest_proxydiag.core.state import RunState
    from pytest_proxydiag.core.step import Finding, StepContext

    monkeypatch.chdir(tmp_path)
    env = {"HOME": str(tmp_path), "PATH": os.environ["PATH"], **bedrock.env}
    settings = settings_from_options({"proxydiag_target": [bedrock.target_url]}, env=env)
    step = StepContext(RunState(settings, Redactor(), None, True), "policy.domain_allowed", "t")
    with pytest.raises(Finding):
        step.fail("blocked", count=1, blocked=f"{bedrock.target_host}:{bedrock.origin_port} (403)", vendor_note="",
                  domains="  x", wildcards="  x", when="now", client="curl")
    solution = step.rendered.solution
    retest = solution.rsplit("Retest: ", 1)[1]
    command, meaning = retest.split("   (", 1)
    assert command == ("curl -sS -o /dev/null -D - -w '%{http_code}\\n' -x \"$HTTPS_PROXY\" -X POST "
                       f"{bedrock.target_url}/model/anthropic.claude-proxydiag-probe/invoke"), retest
    assert "/v1/messages" not in solution
    assert meaning.startswith("a 403 whose headers include x-amzn-ErrorType is AWS refusing"), meaning
    # Run as the user would (the proxy's CA trusted): AWS's answer, the header the sentence names.
    argv = [a.replace("$HTTPS_PROXY", bedrock.env["HTTPS_PROXY"]) for a in shlex.split(command)]
    out = subprocess.run(argv + ["--max-time", "10"], env=dict(env, CURL_CA_BUNDLE=_bundle(bedrock, tmp_path)),
                         capture_output=True, text=True, timeout=20)
    assert out.stdout.rstrip().endswith("403") and "x-amzn-errortype:" in out.stdout.lower(), (out.stdout, out.stderr)


def test_a_bedrock_user_without_a_target_option_is_diagnosed_on_bedrock(run_diag, bedrock, real_clients):
    """No --proxydiag-target: the target is what the user's Claude Code calls, its probes speak Bedrock's API,
    boto3 proves the fix, and the Anthropic SDK check is skipped with its reason."""
    args = list(bedrock.pytest_args)
    del args[args.index("--proxydiag-target"):args.index("--proxydiag-target") + 2]
    assert "--proxydiag-target" not in args
    before = len(bedrock.origin_requests())
    # The lab's origin listens on a free port, so the user names it the way a VPC-endpoint user does.
    env = {**bedrock.env, "ANTHROPIC_BEDROCK_BASE_URL": bedrock.target_url}
    run = run_diag("-m", "certificate or policy or application", "--proxydiag-clients", real_clients,
                   "--proxydiag-payload-sizes", "16K", *args, env=env)
    assert run.doc["config"]["targets"] == [{
        "value": bedrock.target_url, "source": "env:ANTHROPIC_BEDROCK_BASE_URL", "api": "bedrock",
        "why": f"CLAUDE_CODE_USE_BEDROCK=1 (env), ANTHROPIC_BEDROCK_BASE_URL={bedrock.target_url} (env)"}]
    assert f"targets: {bedrock.target_url}  (from env:ANTHROPIC_BEDROCK_BASE_URL: " in run.result.stdout.str()
    fix = run.step("certificate.interception")["fix"]
    assert fix["verified"] is True and "boto3" in {w.split()[0] for w in fix["verified_with"]}, fix
    # The probes, and the proof's curl, requests and httpx, asked Bedrock's own path and got AWS's answer.
    paths = [r.path for r in bedrock.origin_requests()[before:]]
    assert "/model/anthropic.claude-proxydiag-probe/invoke" in paths, paths
    url_filtering = run.step("policy.url_filtering")
    assert url_filtering["outcome"] == "passed", url_filtering
    assert url_filtering["evidence"]["request"].endswith("/model/anthropic.claude-proxydiag-probe/invoke")
    assert url_filtering["evidence"]["reply"]["sender"] == "provider", url_filtering
    sdk = run.step("application.debug_logging")
    assert sdk["outcome"] == "skipped" and "speak Anthropic's Messages API" in sdk["skip_reason"], sdk


def test_a_vertex_user_without_a_target_option_is_probed_in_vertexs_api(run_diag, diag_home, lab_factory):
    """CLAUDE_CODE_USE_VERTEX from ~/.claude/settings.json: the target is the Vertex endpoint, the probe asks
    Vertex's rawPredict path (401 UNAUTHENTICATED is reached), the SDK check is skipped."""
    lab = lab_factory("vertex-ssl-bump")
    args = list(lab.pytest_args)
    del args[args.index("--proxydiag-target"):args.index("--proxydiag-target") + 2]
    (diag_home / ".claude").mkdir()
    (diag_home / ".claude" / "settings.json").write_text('{"env": {"CLAUDE_CODE_USE_VERTEX": "1"}}')
    env = {k: v for k, v in lab.env.items() if k != "CLAUDE_CODE_USE_VERTEX"}
    env["ANTHROPIC_VERTEX_BASE_URL"] = lab.target_url
    run = run_diag("-m", "policy or application", "--proxydiag-clients", "none", "--proxydiag-payload-sizes", "16K",
                   *args, env=env)
    (target,) = run.doc["config"]["targets"]
    assert (target["value"], target["source"], target["api"]) == (lab.target_url, "env:ANTHROPIC_VERTEX_BASE_URL",
                                                                  "vertex"), target
    assert target["why"].startswith(f"CLAUDE_CODE_USE_VERTEX=1 ({diag_home}/.claude/settings.json), "), target
    step = run.step("policy.url_filtering")
    assert step["outcome"] == "passed" and step["evidence"]["reply"]["status"] == 401, step
    assert step["evidence"]["request"].endswith("/publishers/anthropic/models/claude-proxydiag-probe:rawPredict")
    assert any(r.path.startswith("/v1/projects/proxydiag-probe/") for r in lab.origin_requests())
    sdk = run.step("application.debug_logging")
    assert sdk["outcome"] == "skipped" and "(Vertex AI) does not" in sdk["skip_reason"], sdk


def test_a_fix_without_aws_ca_bundle_leaves_a_stale_one_to_boto3(bedrock, real_clients, tmp_path):
    """The user's AWS_CA_BUNDLE lacks the proxy's CA: the Python variables alone cannot reach boto3."""
    bundle = _bundle(bedrock, tmp_path)
    user = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), **bedrock.env, "AWS_CA_BUNDLE": bedrock.public_roots}
    pins = {(BEDROCK, bedrock.origin_port): "127.0.0.2"}
    python_only = {"env": {"REQUESTS_CA_BUNDLE": bundle, "SSL_CERT_FILE": bundle}}
    fixes.verify_fix(python_only, env=user, target_url=bedrock.target_url, clients="requests,boto3", timeout=TIMEOUT,
                     resolve=pins, step_id="certificate.interception")
    assert [w.split()[0] for w in python_only["verified_with"]] == ["requests"], python_only
    assert python_only["separate_problems"][0]["client"].startswith("boto3"), python_only
    with_aws = {"env": dict(python_only["env"], AWS_CA_BUNDLE=bundle)}
    fixes.verify_fix(with_aws, env=user, target_url=bedrock.target_url, clients="requests,boto3", timeout=TIMEOUT,
                     resolve=pins, step_id="certificate.interception")
    assert with_aws["verified"] is True and any(w.startswith("boto3") for w in with_aws["verified_with"]), with_aws


def test_vertex_fix_is_verified_by_claude_in_vertex_mode(lab_factory, real_clients, tmp_path):
    lab = lab_factory("vertex-ssl-bump")
    user = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), **lab.env, "SSL_CERT_FILE": lab.public_roots}
    fix = {"env": {"NODE_EXTRA_CA_CERTS": lab.interception_ca_path}}
    fixes.verify_fix(fix, env=user, target_url=lab.target_url, clients="claude,boto3", timeout=TIMEOUT,
                     resolve={(lab.target_host, lab.origin_port): "127.0.0.2"}, step_id="certificate.interception")
    assert fix["verified"] is True and [w.split()[0] for w in fix["verified_with"]] == ["claude"], fix
    (row,) = fix["clients"]  # boto3 speaks Bedrock only: not a witness here
    assert "SELF_SIGNED_CERT_IN_CHAIN" in row["before"] and row["after"].endswith("reached (401)"), row
    assert "CLAUDE_CODE_USE_VERTEX=1 CLAUDE_CODE_SKIP_VERTEX_AUTH=1" in row["command"]
    assert any(":streamRawPredict" in r.path or ":rawPredict" in r.path for r in lab.origin_requests())


def test_a_relative_ca_bundle_in_the_aws_config_is_not_counted(bedrock, tmp_path, monkeypatch):
    """botocore opens a relative ca_bundle (or AWS_CA_BUNDLE) from the directory the program runs in: found from
    where the diagnosis runs is no proof. The real boto3, run elsewhere, fails; the trust row says why."""
    _boto3()
    from pytest_proxydiag.branches import certificate as certs

    monkeypatch.chdir(tmp_path)
    Path("bundle.pem").write_text(Path(_bundle(bedrock, tmp_path)).read_text())
    (tmp_path / ".aws").mkdir()
    (tmp_path / ".aws" / "config").write_text("[default]\nregion = us-east-1\nca_bundle = bundle.pem\n")
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), **bedrock.env}
    run = run_client("boto3", bedrock.target_url, env, TIMEOUT, resolve={(BEDROCK, bedrock.origin_port): "127.0.0.2"})
    assert not run.reached, run
    stores = certs.client_stores(env, home=str(tmp_path))
    chain = [x509.load_pem_x509_certificate(bedrock.interception_ca_pem)]
    row = certs.trust_matrix(chain, {"boto3": stores["boto3"]})["boto3"]
    assert not row.trusted and "is a relative path: the program opens it from the directory it runs in" in row.why, row
