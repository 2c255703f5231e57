"""The gateway hop: Claude Code → a real LiteLLM proxy → the lab's real Squid → the provider origin.

Unit tests read the answers a real LiteLLM 1.81.16 gave in the lab (recorded
below); the lab tests start the real gateway (``pytest_proxydiag.lab.gateway``),
run the whole diagnosis and check that each scenario gets its own root cause,
its own finding and a fix proven the way the issue asks: the route fix with the
real Claude Code, the egress fixes by restarting the lab's gateway under the
fixed environment and sending Claude Code through both hops again.
"""

from __future__ import annotations

import json
import os
import time

import pytest

from conftest import require_squid
from pytest_proxydiag.branches import gateway as gw
from pytest_proxydiag.lab.gateway import (
    GATEWAY_HOST, GATEWAY_SCENARIOS, KEY_ENV, MASTER_KEY, SERVED_MODEL, UNSERVED_MODEL, GatewayLab, find_litellm,
    litellm_install_hint, nss_wrapper,
)
from pytest_proxydiag.machine.gateway_process import find_gateway_process

# -- what a real LiteLLM (1.81.16) answered in the lab ---------------------------------------
PROVIDER_401 = ('{"error":{"message":"{\\"type\\": \\"error\\", \\"error\\": {\\"type\\": \\"authentication_error\\", '
                '\\"message\\": \\"invalid x-api-key\\"}}. Received Model Group=claude-proxydiag-check\\n'
                'Available Model Group Fallbacks=None","type":"None","param":"None","code":"401"}}')
EGRESS_CERT = ('{"error":{"message":"Cannot connect to host api.anthropic.com:34719 ssl:True [SSLCertVerificationError: '
               '(1, \'[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate in '
               'certificate chain (_ssl.c:1006)\')]. Received Model Group=claude-proxydiag-check\\nAvailable Model '
               'Group Fallbacks=None","type":"None","param":"None","code":"500"}}')
EGRESS_407 = ('{"error":{"message":"407, message=\'Proxy Authentication Required\', url=\'http://127.0.0.1:38173\'. '
              'Received Model Group=claude-proxydiag-check\\nAvailable Model Group Fallbacks=None","type":"None",'
              '"param":"None","code":"500"}}')
EGRESS_DOWN = ('{"error":{"message":"Cannot connect to host 127.0.0.1:9 ssl:<ssl.SSLContext object at 0x7ff9> '
               '[Connect call failed (\'127.0.0.1\', 9)]. Received Model Group=claude-proxydiag-check","type":"None",'
               '"param":"None","code":"500"}}')
GATEWAY_KEY_401 = ('{"error":{"message":"Authentication Error, Invalid proxy server token passed. Received API Key = '
                   'sk-...ng-1, Key Hash (Token) =5d4c. Unable to find token in cache or `LiteLLM_VerificationTokenTable`",'
                   '"type":"auth_error","param":"None","code":"401"}}')


@pytest.mark.parametrize("status, body, verdict", [
    (401, PROVIDER_401, "provider"),
    (500, EGRESS_CERT, "egress_certificate"),
    (500, EGRESS_407, "egress_proxy_auth"),
    # The gateway's own proxy URL carries a user: its password is wrong (LiteLLM 1.81.16 quotes aiohttp's URL).
    (500, EGRESS_407.replace("url=\'http://", "url=\'http://alice:not-the-password@"), "egress_proxy_auth_rejected"),
    (500, EGRESS_DOWN, "egress_connect"),
    (401, GATEWAY_KEY_401, "gateway_key"),
    (400, '{"error":{"message":"No connected db.","type":"no_db_connection","param":null,"code":"400"}}',
     "gateway_key"),
    (401, '{"error":{"message":"Authentication Error, No api key passed in.","type":"auth_error","param":"None",'
          '"code":"401"}}', "gateway_key"),
    (200, '{"id":"msg_1","type":"message"}', "provider"),
    (500, "<html>Internal Server Error</html>", "unknown"),
    (None, "", "unknown"),
])
def test_decode_answer_on_real_litellm_bodies(status, body, verdict):
    assert gw.decode_answer(status, body).verdict == verdict


# What the real LiteLLM 1.81.16 answered in the audit (ANTHROPIC_BASE_URL with /v1; a model not in model_list).
NO_ROUTE_404 = '{"detail":"Not Found"}'
INVALID_MODEL_400 = ('{"error":{"message":"400: {\'error\': \'anthropic_messages: Invalid model name passed in '
                     'model=claude-proxydiag-check. Call `/v1/models` to view available models for your key.\'}",'
                     '"type":"None","param":"None","code":"400"}}')
PROVIDER_404 = '{"type":"error","error":{"type":"not_found_error","message":"model: claude-x"}}'


def test_the_gateways_own_404_and_400_are_not_the_providers():
    # Before the audit both read as "the provider's own answer came back: both hops work".
    assert gw.decode_answer(404, NO_ROUTE_404).verdict == "no_route"
    assert gw.decode_answer(400, INVALID_MODEL_400).verdict == "gateway_model"
    assert gw.decode_answer(404, PROVIDER_404).verdict == "provider"


@pytest.mark.parametrize("url, fixed", [
    ("http://gw:4000/v1", "http://gw:4000"), ("http://gw:4000/anthropic/v1/messages", "http://gw:4000/anthropic"),
    ("http://gw:4000", None), ("http://gw:4000/anthropic", None), ("http://gw:4000/v12", None),
])
def test_base_url_without_the_api_path(url, fixed):
    assert gw.corrected_base_url(url) == fixed


def test_models_and_api_bases_read_from_the_gateway():
    served = gw.served_models(200, '{"data":[{"id":"claude-sonnet-4-5","object":"model"}],"object":"list"}')
    assert served == ["claude-sonnet-4-5"] and gw.served_models(401, "{}") is None
    assert gw.models_not_served({"ANTHROPIC_MODEL": "claude-opus-4-1", "ANTHROPIC_SMALL_FAST_MODEL": ""}, served) \
        == {"ANTHROPIC_MODEL": "claude-opus-4-1"}
    assert gw.models_not_served({"ANTHROPIC_MODEL": "x"}, ["*"]) == {}
    doc = {"model_list": [{"litellm_params": {"api_base": "http://api.anthropic.com"}},
                          {"litellm_params": {"api_base": "http://vllm.corp.internal:8000"}},
                          {"litellm_params": {"api_base": "https://api.anthropic.com"}}, "junk"]}
    assert gw.plain_http_api_bases(doc, {"api.anthropic.com"}) == [
        ("model_list[0].litellm_params.api_base", "http://api.anthropic.com")]
    assert gw.plain_http_api_bases("not a mapping", set()) == []


def test_the_providers_401_is_not_the_gateways():
    """The same status, two meanings: the gateway's own key check vs the provider (the path works)."""
    assert gw.decode_answer(401, GATEWAY_KEY_401).verdict == "gateway_key"
    assert gw.decode_answer(401, PROVIDER_401).verdict == "provider"


@pytest.mark.parametrize("host, internal", [
    ("litellm.corp.internal", True), ("localhost", True), ("10.1.2.3", True), ("gateway", True),
    ("192.168.1.4", True), ("llm.example.com", False), ("8.8.8.8", False), ("[::1]", True),
])
def test_internal_hosts(host, internal):
    assert gw.is_internal_host(host) is internal


def test_egress_problems_judge_the_gateway_env_against_the_run():
    env = {"HTTPS_PROXY": "http://proxy:3128", "REQUESTS_CA_BUNDLE": "/etc/corp.pem"}
    keys = [p.key for p in gw.egress_problems(env, {}, proxy_needed=True, proxy_has_credentials=True,
                                               interception_ca=True, ca_file_has_ca={"/etc/corp.pem": True})]
    # REQUESTS_CA_BUNDLE alone does not reach LiteLLM's aiohttp transport (measured).
    assert keys == ["egress_proxy_no_credentials", "egress_ca_missing"]
    assert [p.key for p in gw.egress_problems({}, {"ssl_verify": False}, proxy_needed=True,
                                              proxy_has_credentials=False, interception_ca=False)] == \
        ["ssl_verify_disabled", "egress_no_proxy"]
    assert gw.egress_problems(None, {}, proxy_needed=True, proxy_has_credentials=True, interception_ca=True) == []
    ok = {"HTTPS_PROXY": "http://u:p@proxy:3128", "SSL_CERT_FILE": "/b.pem"}
    assert gw.egress_problems(ok, {}, proxy_needed=True, proxy_has_credentials=True, interception_ca=True,
                              ca_file_has_ca={"/b.pem": True}) == []


def test_a_gateways_other_password_for_the_developers_proxy_user_is_a_finding():
    """The same user at the same proxy as this machine's accepted URL, another password: the gateway's copy is stale.
    A service account of its own (another user), or another proxy, is not judged."""
    from pytest_proxydiag.core.proxyurl import parse_proxy_url

    mine = parse_proxy_url("http://alice:new-secret@proxy:3128")

    def keys(value):
        return [p.key for p in gw.egress_problems({"HTTPS_PROXY": value}, {}, proxy_needed=True,
                                                   proxy_has_credentials=True, interception_ca=False,
                                                   accepted_proxy=mine)]
    assert keys("http://alice:old-secret@proxy:3128") == ["egress_proxy_other_password"]
    assert keys("http://alice:new-secret@proxy:3128") == []
    assert keys("http://svc-llm:other@proxy:3128") == []
    assert keys("http://alice:old-secret@other-proxy:3128") == []


def test_litellm_told_to_ignore_proxy_variables_in_its_env_or_its_config():
    assert gw.trust_env_off({"DISABLE_AIOHTTP_TRUST_ENV": "True"}, {}) == "env"
    assert gw.trust_env_off({}, {"disable_aiohttp_trust_env": True}) == "config"
    assert gw.trust_env_off({"DISABLE_AIOHTTP_TRUST_ENV": "false"}, {"disable_aiohttp_trust_env": False}) is None
    # The config's switch is found even where the process environment cannot be read.
    assert [p.key for p in gw.egress_problems(None, {"disable_aiohttp_trust_env": "true"}, proxy_needed=True,
                                              proxy_has_credentials=False, interception_ca=False)] == \
        ["aiohttp_ignores_proxy_config"]


def test_gateway_process_reader_on_a_recorded_proc_tree(tmp_path):
    def proc(pid, argv, environ):
        d = tmp_path / str(pid)
        d.mkdir()
        (d / "cmdline").write_bytes(b"\0".join(a.encode() for a in argv) + b"\0")
        if environ is not None:
            (d / "environ").write_bytes(b"\0".join(f"{k}={v}".encode() for k, v in environ.items()) + b"\0")
    proc(10, ["/usr/bin/python3", "/opt/v/bin/litellm", "--config", "/srv/gw.yaml", "--port", "4000"],
         {"HTTPS_PROXY": "http://proxy:3128"})
    proc(11, ["/usr/bin/python3", "/opt/v/bin/litellm", "--port", "4001"], None)
    proc(12, ["/usr/bin/bash"], {"X": "1"})
    found = find_gateway_process(4000, proc_root=str(tmp_path))
    assert found.pid == 10 and found.config_path == "/srv/gw.yaml" and found.env["HTTPS_PROXY"] == "http://proxy:3128"
    other = find_gateway_process(4001, proc_root=str(tmp_path))
    assert other.pid == 11 and other.env is None and "not readable" in other.why_not
    assert find_gateway_process(4999, proc_root=str(tmp_path)) is None


# -- the real gateway ---------------------------------------------------------------------
def require_litellm() -> str:
    path = find_litellm()
    if path and nss_wrapper():
        return path
    message = (f"LiteLLM is not installed: {litellm_install_hint()}" if not path
               else "libnss_wrapper is missing (Debian: apt-get install libnss-wrapper)")
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message}; under CI=true this is an error, not a skip")
    pytest.skip(message)


@pytest.fixture(scope="module")
def gateway_labs():
    """One running GatewayLab per scenario for the whole module (LiteLLM starts in 7-20 s)."""
    started: dict[str, GatewayLab] = {}

    def get(name: str) -> GatewayLab:
        require_squid()
        if name != "gateway-down":
            require_litellm()
        if name not in started:
            started[name] = GatewayLab(name).start()
        return started[name]

    yield get
    for lab in started.values():
        lab.stop()


EXPECTED = {
    # scenario: (root cause, finding key, a phrase of the solution)
    "gateway-healthy": (None, None, None),
    "gateway-not-in-no-proxy": ("gateway.client_route", "through_proxy_refused",
                                # The value bypass.no_proxy gives too: one report, one NO_PROXY to paste.
                                f"NO_PROXY=\"localhost,127.0.0.1,::1,{GATEWAY_HOST}\""),
    "gateway-egress-untrusted": ("gateway.provider_path", "egress_certificate", "export SSL_CERT_FILE="),
    "gateway-egress-no-credentials": ("gateway.provider_path", "egress_proxy_auth",
                                      "<URL-ENCODED-PASSWORD>@127.0.0.1:"),
    # Was "has no valid proxy credentials ... put the proxy credentials into its proxy variable", which it had.
    "gateway-egress-wrong-password": ("gateway.provider_path", "egress_proxy_auth_rejected",
                                      "correct the password in its proxy variable"),
    "gateway-ssl-verify-false": ("gateway.egress_config", "ssl_verify_disabled", "Remove ssl_verify: false"),
    # LiteLLM without a database checks only its master key (400 "No connected db.") and cannot issue
    # virtual keys (/key/generate answers 500 "DB not connected", measured with 1.81.16).
    "gateway-wrong-key": ("gateway.key", "rejected_no_db", "DATABASE_URL"),
    "gateway-down": ("connectivity.gateway", "unreachable", "litellm --config"),
    "gateway-egress-buffers-sse": ("gateway.streaming", "buffered", "proxy_buffering off"),
    # The audit: each of these was reported "both hops work" or "the answer does not say which hop failed".
    "gateway-base-url-v1": ("gateway.provider_path", "base_url_api_path",
                            'export ANTHROPIC_BASE_URL="http://litellm.corp.internal:'),
    "gateway-model-not-served": ("gateway.provider_path", "model_not_served",
                                 f'export ANTHROPIC_MODEL="<one of: {SERVED_MODEL}>"'),
    "gateway-api-base-http": ("gateway.provider_path", "api_base_http", "api_base: https://api.anthropic.com:"),
    # Was "does not answer ... Start the gateway: litellm --config config.yaml" for a gateway that runs.
    "gateway-base-url-https": ("connectivity.gateway", "wrong_scheme",
                               'export ANTHROPIC_BASE_URL="http://litellm.corp.internal:'),
    # Was egress_connect with "export HTTPS_PROXY=..." (which the gateway had) as the fix.
    "gateway-egress-ignores-proxy": ("gateway.provider_path", "egress_proxy_ignored_config",
                                     "Remove disable_aiohttp_trust_env: true from litellm_settings"),
}


def test_every_gateway_scenario_has_an_expectation():
    assert set(EXPECTED) == set(GATEWAY_SCENARIOS)
    assert {k: v[0] for k, v in EXPECTED.items()} == {k: s.expected_root_cause for k, s in GATEWAY_SCENARIOS.items()}


@pytest.mark.parametrize("scenario", sorted(EXPECTED))
def test_each_gateway_scenario_has_its_own_root_cause(scenario, gateway_labs, run_diag):
    lab = gateway_labs(scenario)
    run = run_diag(env={"PATH": os.environ["PATH"]}, lab=lab)
    root, key, phrase = EXPECTED[scenario]
    rc = run.root_cause
    assert rc == root, run.output[-4000:]
    gateway_steps = [s for s in run.steps if s["id"].startswith("gateway.") or s["id"] == "connectivity.gateway"]
    assert all(s["outcome"] != "error" for s in gateway_steps), gateway_steps
    # No gateway scenario blames the provider, and none leaks a key or the proxy password.
    assert not any(s["finding_key"] == "provider" for s in run.steps)
    text = run.json_path.read_text()
    for secret in (MASTER_KEY, "sk-lab-gateway-wrong-1", "lab-secret-7", "not-the-password"):
        assert secret not in text and secret not in run.output
    if root is None:
        return
    step = run.step(root)
    assert step["outcome"] == "failed" and step["finding_key"] == key
    assert phrase in step["solution"], step["solution"]
    if scenario == "gateway-egress-wrong-password":
        # The gateway's own copy of the developer's proxy password, compared (never printed): outdated or mistyped.
        egress = run.step("gateway.egress_config")
        assert egress["finding_key"] == "egress_proxy_other_password", egress
        assert "with the credentials of user 'alice' for the proxy 127.0.0.1:" in egress["finding"]
    if scenario == "gateway-not-in-no-proxy":
        # bypass.no_proxy finds the same route problem: both fixes must export the same value.
        assert run.step("bypass.no_proxy")["fix"]["env"] == step["fix"]["env"]
        # Its proof reaches the provider, never the gateway whose route the change is: not called verified.
        fix = run.step("bypass.no_proxy")["fix"]
        assert fix["verified"] is None and "only the route to" in fix["evidence"], fix
    from pytest_proxydiag.catalog import change_on

    side = "the developer's machine" if root in ("gateway.client_route", "gateway.key") or \
        change_on(root, key).startswith("the developer's") else "the gateway's host"
    if root.startswith("gateway."):
        assert f"Where to change it: {side}" in step["solution"]
    # The "for IT" block names the side too.
    assert run.doc["for_it"]["root_cause"]["change_on"].startswith(side)


def test_no_proxy_fix_proven_with_claude_code_through_both_hops(gateway_labs, run_diag):
    lab = gateway_labs("gateway-not-in-no-proxy")
    run = run_diag(env={"PATH": os.environ["PATH"]}, lab=lab)
    fix = run.step("gateway.client_route")["fix"]
    claude = next((c for c in fix["clients"] if c["client"] == "claude"), None)
    if claude is None:
        pytest.skip("Claude Code is not installed (.ci/install-claude.sh)")
    assert fix["verified"] is True, fix
    # Before: the corporate proxy answered for the gateway; after: the provider's 401 through the gateway.
    assert claude["before_ok"] is False and "(502)" in claude["before"]
    assert claude["after_ok"] is True and "(401)" in claude["after"]
    assert any("curl" in u and "already goes direct" in u for u in fix.get("unaffected", []))


def test_egress_fix_is_unverified_on_a_users_machine_and_proven_by_restarting_the_lab_gateway(gateway_labs, run_diag):
    from pytest_proxydiag.proof import clients

    lab = gateway_labs("gateway-egress-untrusted")
    run = run_diag(env={"PATH": os.environ["PATH"]}, lab=lab)
    step = run.step("gateway.provider_path")
    assert step["fix"]["verified"] is None and "does not restart a gateway" in step["fix"]["evidence"]
    egress = run.step("gateway.egress_config")
    assert egress["finding_key"] == "egress_ca_missing", egress
    # The FIX block names the change and where, never the finding's key (the audit saw
    # "the gateway's host: egress_certificate" and "<config>: egress_ca_missing").
    bundle = run.doc["artifacts"]["ca_bundle"] if "artifacts" in run.doc else None
    for s in (step, egress):
        change = s["fix"]["files"][0]
        assert change["path"] == f"the gateway's host ({lab.gateway_url})", change
        assert change["change"].startswith('SSL_CERT_FILE="') and "restart of the gateway" in change["change"]
        assert bundle is None or bundle in change["change"]
        assert f": {s['finding_key']}" not in run.output
    if not clients.discover("claude")[0].available:
        pytest.skip("Claude Code is not installed (.ci/install-claude.sh)")
    pins = {(GATEWAY_HOST, lab.gateway_port): "127.0.0.1"}
    before = clients.run_client("claude", lab.gateway_url, lab.env, 30, resolve=pins)
    assert before.status == 500, before
    # The fix on the gateway's host: SSL_CERT_FILE with the corporate CA, then a restart.
    fixed = dict(lab.gateway_env, SSL_CERT_FILE=lab.lab.env["SSL_CERT_FILE"])
    lab.gateway.restart(env=fixed)
    try:
        after = clients.run_client("claude", f"http://{GATEWAY_HOST}:{lab.gateway.port}", lab.env, 30,
                                   resolve={(GATEWAY_HOST, lab.gateway.port): "127.0.0.1"})
        assert after.reached and after.status == 401, after
        lab.gateway.stop()  # Squid logs a CONNECT when the tunnel closes
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not any(
                r.method == "CONNECT" and "api.anthropic.com" in r.url and r.status == 200
                for r in lab.lab.proxy_requests()):
            time.sleep(0.1)
        assert any(r.method == "CONNECT" and r.status == 200 for r in lab.lab.proxy_requests()), \
            lab.lab.proxy_requests()
    finally:
        lab.gateway.restart(env=lab.gateway_env)


def test_wrong_gateway_key_is_told_apart_and_never_printed(gateway_labs, run_diag):
    lab = gateway_labs("gateway-wrong-key")
    run = run_diag(env={"PATH": os.environ["PATH"]}, lab=lab)
    key = run.step("gateway.key")
    assert key["outcome"] == "failed" and f"${KEY_ENV}" in key["finding"]
    assert "not the provider" in key["finding"]
    assert key["finding_key"] == "rejected_no_db" and "no database" in key["finding"]
    # Not "ask for a virtual key (/key/generate)" alone: this gateway cannot make one.
    assert "master key" in key["solution"] and "DATABASE_URL" in key["solution"]
    assert run.step("gateway.provider_path")["outcome"] == "skipped"


def test_sse_held_back_on_the_gateway_hop_is_found_and_a_healthy_gateway_streams(gateway_labs, run_diag):
    """Claude Code → LiteLLM → a proxy that buffers → provider: the events arrive at once (measured 8 in 0 ms
    after 1.4 s) where the provider sent them 0.1 s apart; the healthy gateway passes them on one by one."""
    lab = gateway_labs("gateway-egress-buffers-sse")
    run = run_diag("-m", "gateway", env={"PATH": os.environ["PATH"]}, lab=lab)
    step = run.step("gateway.streaming")
    assert step["outcome"] == "failed" and step["finding_key"] == "buffered", step
    assert f"Streamed answers through the gateway {lab.gateway_url} arrive all at once: 8 events" in step["finding"]
    assert "100 ms apart" in step["finding"] and "127.0.0.1" in step["finding"]
    assert "proxy_buffering off" in step["solution"] and "Where to change it: the gateway's host" in step["solution"]
    assert step["evidence"]["streaming"]["buffered"] is True
    # The provider path itself works: only the stream is late.
    assert run.step("gateway.provider_path")["outcome"] == "passed"
    healthy = run_diag("-m", "gateway", env={"PATH": os.environ["PATH"]}, lab=gateway_labs("gateway-healthy"))
    ok = healthy.step("gateway.streaming")
    assert ok["outcome"] == "passed" and "8 events" in ok["summary"], ok
    assert ok["evidence"]["streaming"]["buffered"] is False


def test_streaming_judgement_on_recorded_arrivals():
    """The arrivals measured through a real LiteLLM: spaced (healthy) vs held back (a buffering egress proxy)."""
    from pytest_proxydiag.branches.performance import StreamCheck

    spaced = StreamCheck("u", True, "", 8, 0.1, [0.211, 0.211, 0.263, 0.362, 0.463, 0.563, 0.668, 0.765], 200)
    held = StreamCheck("u", True, "", 8, 0.1, [1.357] * 8, 200)
    missing = StreamCheck("u", True, "no stream", 8, 0.1, [], 404, available=False)
    kw = dict(gateway="http://gw:4000", egress=None, client_proxy=None)
    assert gw.judge_streaming(spaced, **kw).outcome == "pass"
    verdict = gw.judge_streaming(held, **kw)
    assert (verdict.outcome, verdict.key, verdict.values["spread"]) == ("fail", "buffered", "0 ms")
    assert (gw.judge_streaming(missing, **kw).outcome, gw.judge_streaming(missing, **kw).key) == ("skip",
                                                                                                 "not_available")


@pytest.mark.parametrize("body, wanted", [
    (b'{"model": "claude-proxydiag-stream-8x0.1", "stream": true}', (8, 0.1)),
    (b'{"model": "claude-proxydiag-stream-8x0.1", "stream": false}', None),
    (b'{"model": "claude-sonnet-4", "stream": true}', None),
    (b'{"model": "claude-proxydiag-stream-2x99", "stream": true}', (6, 5.0)),
    (b'{not json', None),
    (b'[]', None),
])
def test_the_lab_origin_streams_only_the_check_model(body, wanted):
    from pytest_proxydiag.lab import streams

    assert streams.stream_check_request(body) == wanted
    assert [name for name, _ in streams.stream_events("m", 6)] == [
        "message_start", "content_block_start", "content_block_delta", "content_block_stop", "message_delta",
        "message_stop"]


def test_litellms_model_group_trailer_is_not_quoted_as_part_of_the_error():
    # The audit's terminal showed the quoted egress error broken over two lines by LiteLLM's router trailer
    # ('. Received Model Group=claude-proxydiag-check\nAvailable Model Group Fallbacks=None').
    answer = gw.decode_answer(500, EGRESS_CERT)
    assert answer.verdict == "egress_certificate"
    assert answer.message.endswith("(_ssl.c:1006)')]"), answer.message
    assert "Model Group" not in gw.decode_answer(500, EGRESS_407).message
    assert gw.decode_answer(401, PROVIDER_401).verdict == "provider"


def test_the_gateway_key_is_read_where_claude_code_reads_it(gateway_labs, run_diag, diag_home):
    # LiteLLM's Claude Code set-up keeps the key in ~/.claude/settings.json ("env": {"ANTHROPIC_AUTH_TOKEN": ...}).
    # Read from the shell only, `--proxydiag-gateway-key-env ANTHROPIC_AUTH_TOKEN` found nothing and the step
    # skipped asking for the very option given.
    lab = gateway_labs("gateway-wrong-key")
    settings = diag_home / ".claude" / "settings.json"
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text('{"env": {"%s": "%s"}}' % (KEY_ENV, lab.env[KEY_ENV]))
    try:
        run = run_diag("-m", "gateway or connectivity", env={"PATH": os.environ["PATH"], KEY_ENV: ""}, lab=lab)
    finally:
        settings.unlink()
    key = run.step("gateway.key")
    assert key["outcome"] == "failed" and f"${KEY_ENV}" in key["finding"], key
    assert lab.env[KEY_ENV] not in run.json_path.read_text() and lab.env[KEY_ENV] not in run.output


def test_claude_codes_route_to_the_gateway_follows_its_settings_no_proxy(gateway_labs, run_diag, diag_home):
    # NO_PROXY in ~/.claude/settings.json is what Claude Code applies (the route fix itself says so); judged on
    # the shell's alone, the gateway was reported as sent to the proxy although Claude Code goes direct.
    lab = gateway_labs("gateway-not-in-no-proxy")
    settings = diag_home / ".claude" / "settings.json"
    settings.parent.mkdir(parents=True, exist_ok=True)
    value = f"localhost,127.0.0.1,{GATEWAY_HOST}"
    settings.write_text(json.dumps({"env": {"NO_PROXY": value, "no_proxy": value}}))
    try:
        run = run_diag("-m", "gateway or connectivity", env={"PATH": os.environ["PATH"]}, lab=lab)
    finally:
        settings.unlink()
    route = run.step("gateway.client_route")
    assert route["outcome"] == "passed" and "Claude Code reaches the gateway direct" in route["summary"], route
    assert run.step("connectivity.gateway")["outcome"] == "passed"


def test_base_url_fix_proven_with_the_real_clients(gateway_labs, run_diag):
    """ANTHROPIC_BASE_URL=<gateway>/v1: the gateway's own 404 before, the provider's 401 through it after."""
    lab = gateway_labs("gateway-base-url-v1")
    run = run_diag("-m", "gateway or connectivity", env={"PATH": os.environ["PATH"]}, lab=lab)
    step = run.step("gateway.provider_path")
    assert step["outcome"] == "failed" and step["finding_key"] == "base_url_api_path", step
    assert f"for {lab.gateway_url}/v1/v1/messages" in step["finding"]
    assert run.step("gateway.key")["outcome"] == "skipped"
    fix = step["fix"]
    assert fix["env"] == {"ANTHROPIC_BASE_URL": lab.gateway_url}
    assert fix["verified"] is True, fix
    for row in fix["clients"]:
        assert "(404)" in row["before"] and "(401)" in row["after"], row
    from pytest_proxydiag.proof import clients

    # Claude Code itself asks for <ANTHROPIC_BASE_URL>/v1/messages: with /v1 in the URL, the gateway's 404.
    if clients.discover("claude")[0].available:
        assert any(v.startswith("claude") for v in fix["verified_with"]), fix
    assert run.doc["for_it"]["root_cause"]["change_on"].startswith("the developer's machine")


def test_a_model_the_gateway_does_not_serve_is_not_called_a_working_path(gateway_labs, run_diag):
    """Without ANTHROPIC_MODEL the check's own model is refused by the gateway: the provider hop is not tested,
    so the step is skipped with the models the gateway serves (it said "both hops work" before the audit)."""
    lab = gateway_labs("gateway-model-not-served")
    run = run_diag("-m", "gateway or connectivity", env={"PATH": os.environ["PATH"], "ANTHROPIC_MODEL": ""},
                   lab=lab)
    step = run.step("gateway.provider_path")
    assert step["outcome"] == "skipped", step
    assert f"model_list ({SERVED_MODEL})" in step["skip_reason"] and "not tested" in step["skip_reason"]
    assert step["evidence"]["served_models"] == [SERVED_MODEL]
    assert UNSERVED_MODEL not in json.dumps(step)


def test_a_gateway_told_to_ignore_its_proxy_is_fixed_by_that_switch_not_by_another_https_proxy(gateway_labs, run_diag):
    from pytest_proxydiag.proof import clients

    lab = gateway_labs("gateway-egress-ignores-proxy")
    run = run_diag("-m", "gateway or connectivity", env={"PATH": os.environ["PATH"]}, lab=lab)
    step = run.step("gateway.provider_path")
    assert step["finding_key"] == "egress_proxy_ignored_config", step
    assert "export HTTPS_PROXY" not in step["solution"]
    assert step["fix"]["files"][0]["path"] == str(lab.gateway.config_path)
    assert run.step("gateway.egress_config")["finding_key"] == "aiohttp_ignores_proxy_config"
    # The fix, applied by restarting the lab's gateway without the switch: curl gets the provider's 401.
    pins = {(GATEWAY_HOST, lab.gateway_port): "127.0.0.1"}
    before = clients.run_client("curl", lab.gateway_url, lab.env, 30, resolve=pins)
    assert before.status == 500, before
    lab.gateway.restart(settings={})
    try:
        after = clients.run_client("curl", f"http://{GATEWAY_HOST}:{lab.gateway.port}", lab.env, 30,
                                   resolve={(GATEWAY_HOST, lab.gateway.port): "127.0.0.1"})
        assert after.reached and after.status == 401, after
    finally:
        lab.gateway.restart(settings={"disable_aiohttp_trust_env": True})


def test_every_egress_problem_is_shown_and_fixed_at_once(gateway_labs, run_diag):
    """Two problems in the gateway's config: both in the finding and both in the fix (the report showed only the
    first, so the gateway, restarted after that fix, failed on the second: one ticket round per problem)."""
    lab = gateway_labs("gateway-egress-ignores-proxy")
    lab.restart_gateway(settings={"disable_aiohttp_trust_env": True, "ssl_verify": False})
    try:
        run = run_diag("-m", "gateway or connectivity", env={"PATH": os.environ["PATH"]}, lab=lab)
    finally:
        lab.restart_gateway(settings={"disable_aiohttp_trust_env": True})
    step = run.step("gateway.egress_config")
    assert step["outcome"] == "failed" and step["finding_key"] == "ssl_verify_disabled", step
    assert "sets ssl_verify: false" in step["finding"]
    assert "Also: The gateway config" in step["finding"] and "disable_aiohttp_trust_env: true" in step["finding"]
    # No interception on this network: verification needs no CA in its place (the fix said "give the gateway
    # the proxy's CA instead" with a placeholder for a CA that does not exist).
    assert "no interception was found" in step["solution"] and "CORPORATE-CA" not in step["solution"]
    changes = [f["change"] for f in step["fix"]["files"]]
    assert len(changes) == 2 and changes[0].startswith("ssl_verify: false removed, then"), changes
    assert changes[1].startswith("disable_aiohttp_trust_env: true removed"), changes
    assert all(f["path"] == str(lab.gateway.config_path) for f in step["fix"]["files"])


def test_a_gateway_url_with_the_wrong_scheme_is_not_called_down(lab_factory, run_diag):
    """http:// for a port that speaks only TLS (the lab's provider origin): the request is reset; the report said
    "does not answer ... Start the gateway". The port answers over TLS, so the scheme is what is wrong."""
    lab = lab_factory("healthy")
    port = lab.target_url.rsplit(":", 1)[1]
    run = run_diag("-m", "connectivity", "--proxydiag-gateway", f"http://127.0.0.1:{port}",
                   env={"PATH": os.environ["PATH"]}, lab=lab)
    step = run.step("connectivity.gateway")
    assert step["outcome"] == "failed" and step["finding_key"] == "wrong_scheme", step
    assert "speaks https://, not http://" in step["finding"]
    assert f'export ANTHROPIC_BASE_URL="https://127.0.0.1:{port}"' in step["solution"]
    assert "Start the gateway" not in step["solution"]
    assert step["evidence"]["tls_answer"]["cause"] == "ok"


def test_a_gateway_url_on_a_port_nothing_listens_on_names_litellms_port(gateway_labs, run_diag, monkeypatch):
    """ANTHROPIC_BASE_URL without LiteLLM's port (or with another): the report said "does not answer ... Start the
    gateway" while it runs on its own port. The lab's gateway plays LiteLLM's default port (a free port: 4000
    itself may be taken on a shared machine)."""
    from pytest_proxydiag.branches import connectivity
    from pytest_proxydiag.lab import ClosedPort

    lab = gateway_labs("gateway-healthy")
    monkeypatch.setattr(connectivity, "LITELLM_DEFAULT_PORT", lab.gateway_port, raising=False)
    closed = lab.lab._own(ClosedPort()).port
    url = f"http://{GATEWAY_HOST}:{closed}"
    run = run_diag("-m", "connectivity", "--proxydiag-resolve", f"{GATEWAY_HOST}:{closed}:127.0.0.1",
                   env={"PATH": os.environ["PATH"], "ANTHROPIC_BASE_URL": url}, lab=lab)
    step = run.step("connectivity.gateway")
    assert step["outcome"] == "failed" and step["finding_key"] == "wrong_port", step
    assert f"own port {lab.gateway_port} on the same host answers (HTTP/1.1 200 OK)" in step["finding"]
    assert f'export ANTHROPIC_BASE_URL="{lab.gateway_url}"' in step["solution"]
    assert "Start the gateway" not in step["solution"]


HTTP_API_BASE_PAGE = (  # what the real LiteLLM 1.81.16 passed on from Squid 5.7 (api_base http://, CSS cut)
    '{"error":{"message":"<!DOCTYPE HTML PUBLIC \\"-//W3C//DTD HTML 4.01//EN\\" \\"http://www.w3.org/TR/html4/'
    'strict.dtd\\">\\n<html><head>\\n<title>ERROR: The requested URL could not be retrieved</title>\\n<style>'
    '/* Adapted from design by Free CSS Templates http://www.freecsstemplates.org */</style></head>'
    '<body id=ERR_READ_ERROR>\\n<h1>ERROR</h1>\\n<h2>The requested URL could not be retrieved</h2>\\n<p>The '
    'following error was encountered while trying to retrieve the URL: <a href=\\"http://api.anthropic.com:41475'
    '/v1/messages\\">http://api.anthropic.com:41475/v1/messages</a></p>","type":"None","param":"None","code":"502"}}')


def test_a_proxy_error_page_is_quoted_by_its_title_and_the_urls_it_names_are_kept():
    answer = gw.decode_answer(502, HTTP_API_BASE_PAGE)
    assert answer.verdict == "unknown" and answer.message == "ERROR: The requested URL could not be retrieved"
    assert gw.plain_http_provider_urls(answer.page_urls, {"api.anthropic.com"}) == [
        "http://api.anthropic.com:41475/v1/messages"]


def test_an_http_api_base_on_a_gateway_elsewhere_is_seen_in_the_proxys_page(gateway_labs, run_diag, monkeypatch):
    """The gateway's config is not on this machine (its process is not found here): the report quoted 400
    characters of Squid's HTML and said "read the gateway's log"; the page names the http:// URL it was asked."""
    import sys

    from pytest_proxydiag.machine import gateway_process

    lab = gateway_labs("gateway-api-base-http")
    monkeypatch.setattr(gateway_process, "find_gateway_process", lambda port, **kw: None)
    diag = sys.modules.get("pytest_proxydiag.diag_tests.test_gateway")
    if diag is not None:
        monkeypatch.setattr(diag, "find_gateway_process", lambda port, **kw: None)
    run = run_diag("-m", "gateway or connectivity", env={"PATH": os.environ["PATH"]}, lab=lab)
    step = run.step("gateway.provider_path")
    assert step["finding_key"] == "api_base_http_seen", step
    assert "(\"ERROR: The requested URL could not be retrieved\")" in step["finding"]
    assert "<html" not in step["finding"].lower() and "http://api.anthropic.com:" in step["finding"]
    assert "api_base: https://api.anthropic.com:" in step["solution"]
    assert run.step("gateway.egress_config")["outcome"] == "skipped"  # nothing of the gateway's is here


def test_every_egress_config_finding_can_carry_the_others():
    """Each finding of gateway.egress_config ends with {also}: the other problems found in the same run."""
    from pytest_proxydiag.catalog import CATALOG

    findings = CATALOG["gateway.egress_config"].findings
    assert findings and all(f["text"].endswith("{also}") for f in findings.values()), \
        [k for k, f in findings.items() if not f["text"].endswith("{also}")]
