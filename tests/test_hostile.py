"""Hostile or broken proxies (issue #9): each ends in a specific finding, within the time bound, without a traceback."""

from __future__ import annotations

import time

import pytest

# scenario -> (failed step, finding key, text the finding must contain)
HOSTILE = {
    "hostile-silent": ("connectivity.proxy_works", "no_answer", "no reply within"),
    "hostile-garbage": ("connectivity.proxy_works", "garbage", "not HTTP"),
    "hostile-ssh-banner": ("connectivity.proxy_works", "garbage", "SSH server"),
    "hostile-smtp-banner": ("connectivity.proxy_works", "garbage", "SMTP"),
    "hostile-http09": ("connectivity.proxy_works", "garbage", "HTTP/0.9"),
    "hostile-slowloris": ("connectivity.proxy_works", "no_answer", "sent slowly"),
    "hostile-huge-header": ("connectivity.proxy_works", "garbage", "exceeds 64 KiB"),
    # Closing right after accept reads as a close or, when our request was already sent, a reset.
    # The reference name's CONNECT and plain GET closed too: it answers nothing to this machine.
    "hostile-close": ("connectivity.proxy_works", "closes_everything", ("closed the connection without any reply",)),
    "hostile-tls-reset": ("connectivity.proxy_works", "connect_failed", "TLS handshake"),
    "hostile-plaintext-tunnel": ("connectivity.proxy_works", "connect_failed", "plaintext"),
    "hostile-redirect": ("connectivity.proxy_works", "connect_failed", "must not redirect CONNECT"),
    "hostile-tls-proxy": ("connectivity.proxy_works", "tls_mismatch", "TLS"),
    "hostile-plain-for-https": ("connectivity.proxy_works", "tls_mismatch", "does not speak TLS"),
    "hostile-407-loop": ("auth.credentials", "rejected", "407"),
}
TIMEOUT = 2.0


@pytest.mark.parametrize("scenario", sorted(HOSTILE))
def test_hostile_proxy_gives_a_specific_finding(run_diag, lab_factory, scenario):
    step_id, key, text = HOSTILE[scenario]
    lab = lab_factory(scenario)
    start = time.monotonic()
    run = run_diag("-m", "auth or connectivity", "--proxydiag-timeout", str(TIMEOUT), lab=lab)
    elapsed = time.monotonic() - start
    params = {"target": lab.target_url} if step_id in ("connectivity.proxy_works", "auth.credentials") else {}
    step = run.step(step_id, **params)
    assert step["outcome"] == "failed", (step, run.output[-3000:])
    texts = text if isinstance(text, tuple) else (text,)
    assert step["finding_key"] == key and any(t in step["finding"] for t in texts), step["finding"]
    assert run.root_cause == step_id
    assert not [s for s in run.steps if s["outcome"] == "error"]
    assert "Traceback" not in run.output
    # A hang guard, not a speed target: a hostile proxy costs a bounded number of timeouts.
    assert elapsed < 6 * TIMEOUT + 5, f"{scenario}: {elapsed:.1f}s"


def test_ipv6_proxy_on_loopback_is_healthy(run_diag, lab_factory):
    lab = lab_factory("ipv6-proxy")
    run = run_diag("-m", "auth or connectivity", lab=lab)
    assert run.failed() == set(), run.output[-3000:]
    assert "[::1]" in run.step("connectivity.proxy_reachable")["summary"]


def test_deadline_skips_the_rest_and_still_writes_reports(run_diag, lab_factory):
    lab = lab_factory("hostile-silent")
    run = run_diag("-m", "auth or connectivity", "--proxydiag-timeout", "1", "--proxydiag-deadline", "0.5",
                   lab=lab)
    late = [s for s in run.steps if s["outcome"] == "skipped" and "deadline" in (s["skip_reason"] or "")]
    assert late, run.outcomes()
    assert "not reached within the deadline (0.5s" in late[0]["skip_reason"]


@pytest.mark.parametrize("value", [
    "http://proxy:8080\nexport X=1",
    "http://pro\udcffxy:8080",
    "'http://127.0.0.1:1'",
    "http://[::1:3128",
    "http://user:100%zz@127.0.0.1:1",
    "socks5h://127.0.0.1:1",
])
def test_bad_proxy_values_never_crash(run_diag, value):
    run = run_diag("-m", "auth or connectivity", "--proxydiag-timeout", "1", env={"HTTPS_PROXY": value})
    assert not [s for s in run.steps if s["outcome"] == "error"], run.output[-3000:]
    assert "Traceback" not in run.output


def test_thousands_of_no_proxy_entries(run_diag, lab_factory):
    lab = lab_factory("healthy")
    entries = ",".join(f"host{i}.internal.example" for i in range(5000))
    start = time.monotonic()
    run = run_diag("-m", "connectivity", lab=lab, env={"NO_PROXY": entries + ",.anthropic.com"})
    assert time.monotonic() - start < 30
    assert run.step("connectivity.no_proxy", target=lab.target_url)["outcome"] == "failed"


def test_https_proxy_with_an_untrusted_certificate(run_diag, lab_factory):
    lab = lab_factory("hostile-tls-proxy")
    url = lab.actual_proxy_url.replace("http://", "https://")
    run = run_diag("-m", "auth or connectivity", *lab.pytest_args, env={"HTTPS_PROXY": url})
    step = run.step("connectivity.proxy_works", target=lab.target_url)
    assert step["outcome"] == "failed" and step["finding_key"] == "proxy_tls_untrusted", step
    assert "certificate verify failed" in step["finding"]
    assert "must name the proxy host 127.0.0.1" in step["solution"]
    assert run.root_cause == "connectivity.proxy_works"


def test_https_proxy_trusted_through_the_clients_ca_file_works(run_diag, lab_factory):
    lab = lab_factory("hostile-tls-proxy")
    url = lab.actual_proxy_url.replace("http://", "https://")
    run = run_diag("-m", "auth or connectivity", *lab.pytest_args,
                   env={"HTTPS_PROXY": url, "SSL_CERT_FILE": lab.public_roots})
    assert run.failed() == set(), run.output[-3000:]
    assert run.step("connectivity.proxy_works", target=lab.target_url)["outcome"] == "passed"


def test_every_branch_works_through_a_trusted_https_proxy(run_diag, lab_factory):
    """TLS inside TLS: the certificate, policy and performance probes tunnel through an https:// proxy too."""
    lab = lab_factory("hostile-tls-proxy")
    url = lab.actual_proxy_url.replace("http://", "https://")
    run = run_diag(*lab.pytest_args, "--proxydiag-clients", "none",
                   env={"HTTPS_PROXY": url, "SSL_CERT_FILE": lab.public_roots})
    assert not [s for s in run.steps if s["outcome"] == "error"], run.output[-3000:]
    assert run.step("certificate.interception", target=lab.target_url)["outcome"] == "passed", run.output[-3000:]
    assert run.step("performance.latency", target=lab.target_url)["outcome"] == "passed"
