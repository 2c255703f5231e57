"""The POLICY branch: recorded vendor block pages (unit) and real Squid policies (lab)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_proxydiag import catalog
from pytest_proxydiag.branches import policy
from pytest_proxydiag.catalog import policy as words
from pytest_proxydiag.net import policy_probes
from pytest_proxydiag.core.config import Target

BLOCKPAGES = Path(__file__).parent / "data" / "blockpages"
EXPECTED = json.loads((BLOCKPAGES / "expected.json").read_text())


def parse_recorded(raw: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
    raw = raw.replace(b"\r\n", b"\n")
    head, _, body = raw.partition(b"\n\n")
    lines = head.decode("latin-1").split("\n")
    status = int(lines[0].split()[1])
    headers = [(k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in lines[1:] if ":" in line)]
    return status, headers, body


# -- recorded pages --------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_recorded_page_names_vendor_category_and_sender(name):
    want = EXPECTED[name]
    status, headers, body = parse_recorded((BLOCKPAGES / name).read_bytes())
    v = policy.read_reply(status, headers, body, stage=want["stage"])
    assert (v.vendor, v.kind, v.sender) == (want["vendor"], want["kind"], want["sender"])
    if "category" in want:
        assert v.category == want["category"]
    if "error_code" in want:
        assert v.error_code == want["error_code"]


def test_every_required_vendor_has_a_recorded_page():
    vendors = {e["vendor"] for e in EXPECTED.values()}
    for required in ("Squid", "Zscaler", "Netskope", "Blue Coat / Symantec ProxySG", "Palo Alto Networks",
                     "Fortinet FortiGate", "Cisco Umbrella", "Forcepoint (Websense)"):
        assert required in vendors


def test_the_same_status_is_blamed_on_whoever_sent_it():
    # 413: JSON request_too_large from the API vs Squid's HTML ERR_TOO_BIG.
    provider = policy.read_reply(*parse_recorded((BLOCKPAGES / "provider-413.http").read_bytes()))
    squid = policy.read_reply(*parse_recorded((BLOCKPAGES / "squid-too-big.http").read_bytes()))
    assert (provider.sender, provider.kind) == ("provider", "provider_error")
    assert (squid.sender, squid.kind) == ("proxy", "too_large")
    # 502: Cloudflare at the provider's edge vs the proxy's ERR_CONNECT_FAIL.
    edge = policy.read_reply(*parse_recorded((BLOCKPAGES / "cloudflare-502.http").read_bytes()))
    assert edge.sender == "provider_edge" and not edge.from_proxy
    proxy_503 = policy.read_reply(*parse_recorded((BLOCKPAGES / "squid-connect-fail.http").read_bytes()),
                                  stage="connect")
    assert (proxy_503.kind, proxy_503.error_code) == ("upstream", "ERR_CONNECT_FAIL")


def test_rate_limit_from_proxy_keeps_retry_after_and_provider_429_is_not_the_proxy():
    v = policy.read_reply(429, [("Content-Type", "text/html"), ("Retry-After", "120"), ("Via", "1.1 proxy (squid/5.7)")],
                          b"<html><title>Too Many Requests</title></html>")
    assert (v.sender, v.kind, v.retry_after, v.vendor) == ("proxy", "rate_limited", "120", "Squid")
    p = policy.read_reply(429, [("request-id", "req_1"), ("retry-after", "30"), ("Content-Type", "application/json")],
                          b'{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}')
    assert (p.sender, p.kind) == ("provider", "rate_limited")


def test_provider_json_answer_is_not_a_block():
    v = policy.read_reply(401, [("Content-Type", "application/json"), ("request-id", "req_x")],
                          b'{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}')
    assert (v.sender, v.kind, v.is_block) == ("provider", "ok", False)


def test_provider_domains_follow_regions_and_usage_flags_only():
    t = (Target("https://api.anthropic.com", "default"),)
    assert [d.host for d in policy.provider_domains(t)] == ["api.anthropic.com"]
    ds = policy.provider_domains(t, ["us-east-1, eu-west-1"], ["us-central1"], {})
    assert [d.host for d in ds] == ["api.anthropic.com", "bedrock-runtime.us-east-1.amazonaws.com",
                                    "bedrock-runtime.eu-west-1.amazonaws.com", "us-central1-aiplatform.googleapis.com",
                                    "oauth2.googleapis.com"]
    # Claude Code 2.1.332 in Vertex mode without CLOUD_ML_REGION uses us-east5, and logs in with Google's token.
    ds = policy.provider_domains(t, None, None, {"CLAUDE_CODE_USE_VERTEX": "1"})
    assert [d.host for d in ds][1:] == ["us-east5-aiplatform.googleapis.com", "oauth2.googleapis.com"]
    lines = policy.allowlist_lines(ds)
    assert "api.anthropic.com  (HTTPS, port 443; Anthropic)" in lines
    assert "*.aiplatform.googleapis.com" in policy.wildcard_lines(ds)
    # Junk in a region variable never becomes a host name.
    assert [d.host for d in policy.provider_domains(t, ["us-east-1; rm -rf /"])][1:] == [
        "bedrock-runtime.us-east-1.amazonaws.com"]


def test_log_query_is_utc_and_names_request_answer_and_where_to_look():
    v = policy.read_reply(*parse_recorded((BLOCKPAGES / "squid-access-denied.http").read_bytes()), stage="connect")
    text = words.log_query(v, "CONNECT api.anthropic.com:443", when=0.0, proxy="http://proxy:3128")
    assert "1970-01-01T00:00:00Z" in text and "CONNECT api.anthropic.com:443" in text
    assert "ERR_ACCESS_DENIED" in text and "access.log" in text


def test_json_probe_body_has_the_exact_size_and_is_json():
    for size in (200, 16 * 1024, 1024 * 1024):
        body = policy_probes.json_probe_body(size)
        assert len(body) == size
        json.loads(body)


# -- real Squid through the lab ------------------------------------------------------------------
def _policy(run_diag, lab, *extra, env=None):
    return run_diag("-m", "policy", *extra, lab=lab, env=env)


def test_blocked_domain_fails_domain_allowed_with_the_ticket_list(run_diag, lab_factory):
    lab = lab_factory("blocked-domain")
    run = _policy(run_diag, lab, "--proxydiag-aws-region", "us-east-1")
    s = run.step("policy.domain_allowed")
    assert s["outcome"] == "failed", s
    assert f"api.anthropic.com:{lab.origin_port} (403 ERR_ACCESS_DENIED)" in s["finding"]
    assert "Squid" in s["finding"]
    sol = s["solution"]
    assert "Request IT to whitelist these domains" in sol
    assert f"  api.anthropic.com  (HTTPS, port {lab.origin_port}; Anthropic)" in sol
    assert "  bedrock-runtime.us-east-1.amazonaws.com  (HTTPS, port 443; AWS Bedrock)" in sol
    assert "bedrock-runtime.*.amazonaws.com" in sol
    # A plain ACL denial shows no category: url_filtering defers to domain_allowed.
    uf = run.step("policy.url_filtering")
    assert uf["outcome"] == "skipped" and "policy.domain_allowed" in uf["skip_reason"]
    logs = run.step("policy.proxy_logs")
    assert logs["outcome"] == "failed" and "ERR_ACCESS_DENIED" in logs["finding"]
    assert "TCP_DENIED/403" in logs["solution"] and "time (UTC):" in logs["solution"]


def test_block_page_after_interception_names_squid(run_diag, lab_factory):
    lab = lab_factory("block-page")
    run = _policy(run_diag, lab)
    assert run.step("policy.domain_allowed")["outcome"] == "passed"
    s = run.step("policy.url_filtering", target=lab.target_url)
    assert s["outcome"] == "failed", s
    assert "Squid" in s["finding"] and "inside the TLS tunnel" in s["finding"]
    assert "X-Squid-Error: ERR_ACCESS_DENIED" in s["finding"]
    assert "Request an exemption or policy change from IT" in s["solution"]
    assert "Squid access.log" in s["solution"]


def test_body_limit_fails_payload_size_with_the_measured_bracket(run_diag, lab_factory):
    lab = lab_factory("body-limit")
    run = _policy(run_diag, lab)
    s = run.step("policy.payload_size")
    assert s["outcome"] == "failed", s
    assert "through the proxy passes 1 MiB, fails 4 MiB with 413 ERR_TOO_BIG" in s["finding"]
    assert s["finding"].startswith("A request body sent to "), s["finding"]  # not 'Uploads ... passes'
    assert "between 1 MiB and 4 MiB" in s["finding"]
    assert "Streaming does not help here" in s["solution"] and "request_body_max_size" in s["solution"]
    uploads = [a["size"] for a in s["evidence"]["attempts"] if not a.get("declared_only")]
    assert uploads == [16384, 262144, 1048576, 4194304]  # stops at the first failure
    assert run.step("policy.url_filtering", target=lab.target_url)["outcome"] == "passed"
    logs = run.step("policy.proxy_logs")
    assert logs["outcome"] == "failed" and "ERR_TOO_BIG" in logs["finding"]


def test_upstream_down_is_explained_by_proxy_logs_not_as_a_policy_refusal(run_diag, lab_factory):
    lab = lab_factory("upstream-down")
    run = _policy(run_diag, lab)
    assert run.step("policy.domain_allowed")["outcome"] == "passed"
    s = run.step("policy.proxy_logs")
    assert s["outcome"] == "failed", s
    assert s["finding_key"] == "upstream" if "finding_key" in s else True
    assert "HTTP 503" in s["finding"] and "ERR_CONNECT_FAIL" in s["finding"]
    assert "not a policy refusal" in s["finding"]
    assert "could not reach the provider" in s["solution"] and "time (UTC):" in s["solution"]
    assert run.step("policy.payload_size")["outcome"] == "skipped"


def test_healthy_proxy_fails_nothing_in_policy(run_diag, lab_factory):
    lab = lab_factory("healthy")
    run = _policy(run_diag, lab, "--proxydiag-payload-sizes", "16K,1M")
    outcomes = {s["id"]: s["outcome"] for s in run.steps}
    # policy.claude_hosts is switched off by the lab (its proxies map only the providers to loopback).
    assert outcomes == {"policy.domain_allowed": "passed", "policy.url_filtering": "passed",
                        "policy.claude_hosts": "skipped",
                        "policy.payload_size": "passed", "policy.proxy_logs": "passed"}, run.output[-3000:]


# -- a policy step alone (-k): its own CONNECT, judged, never "blocked by a step this run did not select" --------
def test_url_filtering_alone_judges_a_domain_reset_with_its_own_connect(run_diag, lab_factory):
    lab = lab_factory("reset-domain")
    run = run_diag("-k", "url_filtering", lab=lab)
    assert [s["id"] for s in run.steps] == ["policy.url_filtering"], run.output[-3000:]
    s = run.step("policy.url_filtering")
    assert s["outcome"] == "failed" and s["finding_key"] == "own_reset", s
    assert f"resets the connection, without an answer, when asked to CONNECT api.anthropic.com:{lab.origin_port}" \
        in s["finding"]
    assert f"control CONNECT to bedrock-runtime.us-east-1.amazonaws.com:{lab.origin_port}" in s["finding"]
    assert "Please allow outbound HTTPS through the web proxy to:" in s["solution"]
    assert f"  api.anthropic.com  (HTTPS, port {lab.origin_port}; Anthropic)" in s["solution"]
    assert "did not select" not in run.output and "Run it too" not in run.output
    assert run.root_cause == "policy.url_filtering"


def test_policy_alone_on_a_dead_proxy_says_it_is_not_a_policy_refusal(run_diag, lab_factory):
    lab = lab_factory("proxy-down")
    for args, step_id in ((("-k", "url_filtering"), "policy.url_filtering"),
                          (("-m", "policy"), "policy.domain_allowed")):
        run = run_diag(*args, lab=lab)
        s = [x for x in run.steps if x["id"] == step_id][0]
        assert s["outcome"] == "failed" and s["finding_key"] == "no_path", s
        assert "connection refused. The proxy cannot be reached at all. This is not a policy refusal" in s["finding"]
        assert 'pytest --proxydiag -m "connectivity or auth"' in s["solution"]
        assert "did not select" not in run.output and "Run it too" not in run.output
    # -m policy: the other policy steps name the step that ran and judged the dead proxy.
    for other in ("policy.url_filtering", "policy.payload_size", "policy.proxy_logs"):
        s = [x for x in run.steps if x["id"] == other][0]
        assert s["outcome"] == "skipped" and s["blocked_by"] == "policy.domain_allowed", s


def test_with_its_blockers_selected_a_policy_step_still_defers_to_them(run_diag, lab_factory):
    lab = lab_factory("reset-domain")
    run = run_diag("-m", "policy or connectivity", lab=lab)
    s = run.step("policy.url_filtering", target=lab.target_url)
    assert s["outcome"] == "skipped" and s["blocked_by"] in ("policy.domain_allowed", "connectivity.proxy_works"), s
    assert run.step("policy.domain_allowed")["finding_key"] == "reset"


@pytest.mark.parametrize("scenario, key, said", [
    ("blocked-domain", "own_refused", "403"),              # Squid's ACL: a policy refusal, the ticket
    ("wrong-password", "no_path", "407"),                  # credentials first: not a policy refusal
    ("upstream-down", "no_path", "503"),                   # the proxy cannot reach the provider
])
def test_url_filtering_alone_tells_a_refusal_from_a_broken_path(run_diag, lab_factory, scenario, key, said):
    lab = lab_factory(scenario)
    run = run_diag("-k", "url_filtering", lab=lab)
    s = run.step("policy.url_filtering", target=lab.target_url)
    assert s["outcome"] == "failed" and s["finding_key"] == key, run.output[-3000:]
    assert f"CONNECT api.anthropic.com:{lab.origin_port}" in s["finding"] and said in s["finding"]
    if key == "own_refused":
        assert "refuses the provider domain" in s["finding"] and "Request IT to whitelist" in s["solution"]
    else:
        assert "This is not a policy refusal" in s["finding"] and "connectivity or auth" in s["solution"]
        assert {"path_auth": "credentials", "path_upstream": "could not reach the provider"}[
            "path_auth" if said == "407" else "path_upstream"] in s["finding"]
    assert "did not select" not in run.output


@pytest.mark.parametrize("url, path", [
    ("https://api.anthropic.com", "/v1/messages"),
    ("https://bedrock-runtime.eu-west-1.amazonaws.com", "/model/anthropic."),
])
def test_a_smallest_body_that_fails_names_the_path_the_bodies_went_to(url, path):
    """Bedrock's bodies go to /model/<id>/invoke: the blocked note says so, not Anthropic's /v1/messages."""
    target = Target(url, "default")
    result = policy_probes.PayloadResult(failed_size=1024, failure="403 (Example SWG)",
                                         path=policy_probes.api_path(target))
    result.verdict = policy.Verdict(403, "proxy", "block_page", vendor="Example SWG")
    judgement = policy.judge_payload(result, target, budget=10.0, proxy="http://127.0.0.1:3128", client="curl")
    assert (judgement.outcome, judgement.by, judgement.key) == ("blocked", "policy.url_filtering", "smallest_fails")
    text = catalog.note("policy.payload_size", judgement.key, **judgement.values)
    assert text.startswith(f"POST {target.origin}{path}") and text.endswith("with 1 KiB: 403 (Example SWG)"), text
    if "bedrock" in url:
        assert "/v1/messages" not in text


def test_a_proxy_that_cannot_verify_the_provider_is_its_ca_store_even_when_the_log_repeats_the_status():
    """mitmproxy 11.0.2 without the provider's root: 502 inside TLS, 'Certificate verify failed' (measured). The
    same 502 met again in the probe log (headers only, no page) must not replace the reply that has the page."""
    page = (b"<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1>"
            b"<p>Certificate verify failed: unable to get local issuer certificate</p></body></html>")
    headers = [("Server", "mitmproxy 11.0.2"), ("Content-Type", "text/html")]
    with_page = policy.read_reply(502, headers, page, stage="tunnel")
    assert with_page.kind == "upstream" and with_page.upstream_tls.startswith("Certificate verify failed")
    request = "POST https://api.anthropic.com/v1/messages"
    judged = policy.judge_proxy_logs([(with_page, request, None),
                                      (policy.read_reply(502, headers, b"", stage="tunnel"), request, None)],
                                     1, proxy="http://proxy:3128", client="me")
    assert judged.key == "upstream_tls" and "Certificate verify failed" in judged.values["words"]


# -- a name refused in the TLS handshake (SNI): CONNECT answers 200, then the handshake is closed --------------
def test_a_name_refused_in_the_tls_handshake_is_a_policy_refusal(run_diag, lab_factory):
    lab = lab_factory("sni-refused")
    run = run_diag(lab=lab)
    s = run.step("policy.domain_allowed")
    assert s["outcome"] == "failed" and s["finding_key"] == "tls_refused", run.output[-3000:]
    assert f"accepts CONNECT api.anthropic.com:{lab.origin_port} (HTTP/1.1 200 Connection established), then" \
        in s["finding"]
    assert f"the same handshake with bedrock-runtime.us-east-1.amazonaws.com:{lab.origin_port} through the same " \
           "proxy completes: a rule that reads the server name in the handshake (SNI)" in s["finding"]
    assert f"  api.anthropic.com  (HTTPS, port {lab.origin_port}; Anthropic)" in s["solution"]
    works = run.step("connectivity.proxy_works")
    assert works["outcome"] == "skipped" and works["blocked_by"] == "policy.domain_allowed", works
    assert run.root_cause == "policy.domain_allowed"


def test_a_name_refused_in_the_handshake_is_judged_by_whichever_step_runs(run_diag, lab_factory):
    lab = lab_factory("sni-refused")
    run = run_diag("-m", "connectivity", lab=lab)
    works = run.step("connectivity.proxy_works")
    assert works["outcome"] == "failed" and works["finding_key"] == "connect_failed", works
    assert (f"closes the TLS handshake with api.anthropic.com:{lab.origin_port} after opening the tunnel, and "
            f"completes it with bedrock-runtime.us-east-1.amazonaws.com:{lab.origin_port}: a rule on the name") \
        in works["finding"]
    run = run_diag("-k", "url_filtering", lab=lab)
    s = run.step("policy.url_filtering")
    assert s["outcome"] == "failed" and s["finding_key"] == "tls_refused", s
    assert "did not select" not in run.output and "Run it too" not in run.output


def test_a_proxy_that_closes_every_handshake_is_not_a_name_rule(run_diag, lab_factory):
    # The scripted proxy answers 200 and resets every handshake: the control name fails too.
    lab = lab_factory("hostile-tls-reset")
    run = run_diag(lab=lab)
    assert run.step("policy.domain_allowed")["finding_key"] != "tls_refused"
    assert run.root_cause == "connectivity.proxy_works"
