"""An https:// proxy that requires a client certificate: Squid's ``https_port ... clientca=`` on loopback.

Measured with Claude Code 2.1.332 (a TLS listener with ``CERT_REQUIRED`` as ``HTTPS_PROXY=https://...``): it presents
``CLAUDE_CODE_CLIENT_CERT``/``CLAUDE_CODE_CLIENT_KEY`` to the proxy too; without them every CONNECT fails
(``Unable to connect to API (EPROTO)``, the proxy's log: ``peer did not return a certificate``).  So a machine with
the certificate configured works, and the diagnosis must speak to the proxy as Claude Code does.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pytest_proxydiag.lab.mtls import ClientIdentities
from pytest_proxydiag.lab.servers import LOOPBACK_NAMES, free_port
from pytest_proxydiag.lab.squid import Squid, squid_config


@pytest.fixture
def mtls_proxy(tmp_path, lab_factory):
    """(lab, proxy_url, identities, trust bundle): Squid behind TLS on https_port, demanding a client certificate
    from the identities' CA, in front of the healthy lab's origin."""
    import trustme

    import shutil
    import tempfile

    lab = lab_factory("healthy")
    # Squid drops to its own user: its files live under the system temp dir, not pytest's private one.
    d = Path(tempfile.mkdtemp(prefix="proxydiag-mtls-proxy-"))
    os.chmod(d, 0o755)
    ids = ClientIdentities(tmp_path / "ids")
    ca = trustme.CA(organization_name="Example Corp", organization_unit_name="Proxy CA (lab only)")
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    files = {"srv.pem": leaf.cert_chain_pems[0].bytes(), "srv.key": leaf.private_key_pem.bytes(),
             "clientca.pem": ids.ca_pem, "hosts": "".join(f"127.0.0.1 {h}\n" for h in LOOPBACK_NAMES).encode()}
    for name, data in files.items():
        (d / name).write_bytes(data)
        os.chmod(d / name, 0o644)
    bundle = tmp_path / "trust.pem"
    bundle.write_bytes(ca.cert_pem.bytes() + Path(lab.public_roots).read_bytes())
    sq = d / "squid"
    sq.mkdir()
    port = free_port()
    lines = squid_config(sq, port, hosts_file=d / "hosts")
    lines[0] = f"https_port 127.0.0.1:{port} tls-cert={d / 'srv.pem'} tls-key={d / 'srv.key'} clientca={d / 'clientca.pem'}"
    squid = Squid(lines, sq, port)
    try:
        squid.start()
        yield lab, f"https://127.0.0.1:{port}", ids, str(bundle)
    finally:
        squid.stop()
        shutil.rmtree(d, ignore_errors=True)


def _env(proxy: str, bundle: str, pair=None) -> dict:
    env = {"HTTPS_PROXY": proxy, "SSL_CERT_FILE": bundle, "REQUESTS_CA_BUNDLE": bundle, "NODE_EXTRA_CA_CERTS": bundle}
    if pair:
        env.update(CLAUDE_CODE_CLIENT_CERT=pair[0], CLAUDE_CODE_CLIENT_KEY=pair[1])
    return env


def test_a_configured_client_certificate_is_presented_to_the_proxy(mtls_proxy, run_diag):
    """The user's certificate is set (in the shell): Claude Code gets through, so the proxy steps must too."""
    lab, proxy, ids, bundle = mtls_proxy
    run = run_diag("-m", "connectivity or auth or certificate", "--proxydiag-clients", "none", *lab.pytest_args,
                   env=_env(proxy, bundle, ids.pairs["valid"]))
    assert run.step("connectivity.proxy_works")["outcome"] == "passed", run.output[-3000:]
    assert not run.failed(), run.output[-3000:]


def test_a_configured_client_certificate_in_the_settings_is_presented_too(mtls_proxy, run_diag, diag_home):
    lab, proxy, ids, bundle = mtls_proxy
    (diag_home / ".claude").mkdir()
    (diag_home / ".claude" / "settings.json").write_text(json.dumps({"env": {
        "CLAUDE_CODE_CLIENT_CERT": ids.pairs["encrypted"][0], "CLAUDE_CODE_CLIENT_KEY": ids.pairs["encrypted"][1],
        "CLAUDE_CODE_CLIENT_KEY_PASSPHRASE": "lab-only-passphrase"}}))
    run = run_diag("-m", "connectivity", "--proxydiag-clients", "none", *lab.pytest_args, env=_env(proxy, bundle))
    assert run.step("connectivity.proxy_works")["outcome"] == "passed", run.output[-3000:]
    assert "lab-only-passphrase" not in run.output + run.json_path.read_text()


@pytest.mark.parametrize("pair", [None, "untrusted"])
def test_a_proxy_that_wants_a_client_certificate_is_not_told_to_drop_tls(mtls_proxy, run_diag, pair):
    """No certificate (the proxy's alert: certificate required), or one from a CA the proxy does not know (unknown
    ca): the proxy speaks TLS, so 'use http://' would not work; the finding is the client certificate."""
    lab, proxy, ids, bundle = mtls_proxy
    run = run_diag("-m", "connectivity or auth or certificate", "--proxydiag-clients", "none", *lab.pytest_args,
                   env=_env(proxy, bundle, ids.pairs[pair] if pair else None))
    (step,) = [s for s in run.steps if s["id"] == "connectivity.proxy_works"]
    assert step["outcome"] == "failed" and step["finding_key"] == "client_cert_refused", run.output[-3000:]
    assert "client certificate" in step["finding"] and "does not speak TLS" not in step["finding"], step["finding"]
    assert "CLAUDE_CODE_CLIENT_CERT" in step["solution"] and 'HTTPS_PROXY="http://' not in step["solution"]
    assert run.root_cause in ("certificate.client_cert", "connectivity.proxy_works"), run.output[-3000:]
    if pair is None:
        # The pair is checked against the proxy as a proxy (curl's --proxy-cert), not as a web server.
        solution = run.step("certificate.client_cert")["solution"]
        assert f"curl -v --proxy {proxy} --proxy-cert <certificate> --proxy-key <key> " in solution, solution


def test_real_claude_presents_its_client_certificate_to_the_proxy(mtls_proxy, tmp_path, monkeypatch):
    from pytest_proxydiag.proof import clients
    from pytest_proxydiag.proof.clients import describe, run_client

    real = os.environ.get(clients.CLAUDE_ENV) or next(
        (p for p in ("/opt/proxydiag-claude/node_modules/.bin/claude",) if os.access(p, os.X_OK)), None)
    if not real:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("Claude Code is not installed; under CI=true this is an error")
        pytest.skip("Claude Code is not installed (.ci/install-claude.sh)")
    monkeypatch.setenv(clients.CLAUDE_ENV, real)
    monkeypatch.chdir(tmp_path)
    lab, proxy, ids, bundle = mtls_proxy
    base = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "LANG": "C.UTF-8", **_env(proxy, bundle)}
    without = run_client("claude", lab.target_url, base, 20)
    assert not without.reached and without.error_code == "EPROTO", describe(without)
    cert, key = ids.pairs["valid"]
    works = run_client("claude", lab.target_url, dict(base, CLAUDE_CODE_CLIENT_CERT=cert, CLAUDE_CODE_CLIENT_KEY=key),
                       20)
    assert (works.reached, works.status) == (True, 401), describe(works)
