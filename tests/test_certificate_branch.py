"""The CERTIFICATE branch against a real Squid ssl-bump (and a healthy Squid): every finding provoked for real."""

from __future__ import annotations

import datetime
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from conftest import require_squid
from test_node_rules import node24, system_node  # NODE24_DIR is read at import, before a test's HOME changes

BRANCH = ("-m", "certificate")


def _der(pem: bytes) -> list[bytes]:
    return [c.public_bytes(serialization.Encoding.DER) for c in x509.load_pem_x509_certificates(pem)]


@pytest.fixture(scope="module")
def bump():
    require_squid()
    from pytest_proxydiag.lab import Lab

    with Lab("ssl-bump-untrusted") as lab:
        yield lab


@pytest.fixture(scope="module")
def healthy():
    require_squid()
    from pytest_proxydiag.lab import Lab

    with Lab("healthy") as lab:
        yield lab


def _branch(run) -> dict[str, str]:
    """The certificate steps' outcomes; the mTLS step has nothing to check here (no client certificate, no
    https:// gateway) and must say so by skipping."""
    outcomes = {s["id"]: s["outcome"] for s in run.steps if s["id"].startswith("certificate.")}
    assert outcomes.pop("certificate.client_cert", "skipped") == "skipped", outcomes
    return outcomes


# -- interception ---------------------------------------------------------------------------------
def test_untrusted_interception_saves_the_proxy_ca_and_tells_every_client(run_diag, bump):
    run = run_diag(*BRANCH, lab=bump)
    step = run.step("certificate.interception")
    assert step["outcome"] == "failed" and step["finding_key"] == "intercepted"
    assert run.root_cause == "certificate.interception"
    assert "issued by 'Example Corp'" in step["finding"]
    saved = step["evidence"]["ca_saved"]["ca_path"]
    # The CA written for the user is the lab's corporate CA, byte for byte.
    assert _der(Path(saved).read_bytes()) == _der(bump.interception_ca_pem)
    assert stat.S_IMODE(os.stat(saved).st_mode) == 0o600
    assert run.doc["artifacts"]["interception_ca"] == saved
    bundle = step["evidence"]["ca_saved"]["bundle_path"]
    bundle_der = _der(Path(bundle).read_bytes())
    assert _der(bump.interception_ca_pem)[0] in bundle_der
    assert _der(Path(bump.public_roots).read_bytes())[0] in bundle_der
    # Every client says no, and the fix points each one at an absolute path of the files written.
    assert not any(row["trusted"] for row in step["evidence"]["trust"].values())
    assert step["fix"]["env"] == {"SSL_CERT_FILE": bundle, "REQUESTS_CA_BUNDLE": bundle, "CURL_CA_BUNDLE": bundle,
                                  "NODE_EXTRA_CA_CERTS": saved}
    # The fix is proven with the real clients before it is shown (issue #11).
    assert step["fix"]["verified"] is True, step["fix"]
    assert any(w.startswith("requests ") for w in step["fix"]["verified_with"])
    assert f"sudo cp {saved} /usr/local/share/ca-certificates/proxy-ca.crt" in step["solution"]
    assert "update-ca-certificates" in step["solution"]
    assert f'export NODE_EXTRA_CA_CERTS="{saved}"' in step["solution"]
    assert "update-ca-trust" in step["other_solutions"]["rhel"]
    assert "add-trusted-cert" in step["other_solutions"]["macos"]
    chain = step["evidence"]["chain"]
    assert chain[0]["issuer"].endswith("O=Example Corp") and len(chain[0]["sha256"]) == 95
    # No Python CA variable is set: Python's failure is the interception's, not a second finding.
    py = run.step("certificate.python_ssl")
    assert py["outcome"] == "skipped" and py["blocked_by"] == "certificate.interception"
    # The flowchart's experiment ran inside the tool and never turned anything off for the user.
    vd = run.step("certificate.verification_disabled")
    assert vd["outcome"] == "passed" and "certificate problem confirmed" in vd["summary"]
    assert "Example Corp" in run.output and saved in run.output


def test_trusted_by_requests_only_node_row_says_node_extra_ca_certs_is_missing(run_diag, bump, tmp_path):
    bundle = tmp_path / "my-bundle.pem"
    bundle.write_bytes(Path(bump.public_roots).read_bytes() + bump.interception_ca_pem)
    run = run_diag(*BRANCH, lab=bump, env={"REQUESTS_CA_BUNDLE": str(bundle)})
    step = run.step("certificate.interception")
    assert step["outcome"] == "failed" and step["finding_key"] == "intercepted"
    trust = step["evidence"]["trust"]
    assert trust["requests"]["trusted"] is True and trust["requests"]["via"] == f"REQUESTS_CA_BUNDLE={bundle}"
    assert trust["node"]["trusted"] is False and "NODE_EXTRA_CA_CERTS is not set" in trust["node"]["why"]
    assert trust["claude-code"]["trusted"] is False
    assert "Node.js" in step["finding"] and "requests (" not in step["finding"].split("Not trusted by:")[1]
    # The CA is still extracted from the connection; the user's bundle is left alone and carried over.
    assert bundle.read_bytes() == Path(bump.public_roots).read_bytes() + bump.interception_ca_pem
    assert "NODE_EXTRA_CA_CERTS" in step["fix"]["env"]


def test_leaf_only_interceptor_names_the_issuer_to_ask_it_for(run_diag, lab_factory):
    lab = lab_factory("ssl-bump-untrusted", backend="proxy.py")  # proxy.py sends only its leaf
    run = run_diag(*BRANCH, lab=lab)
    step = run.step("certificate.interception")
    assert step["outcome"] == "failed" and step["finding_key"] == "leaf_only"
    assert "sends only its certificate" in step["finding"] and "O=Example Corp" in step["finding"]
    assert "Ask IT for the root CA certificate named 'Example Corp'" in step["solution"]
    assert "interception_ca" not in run.doc["artifacts"]


def test_trusted_interception_fails_nothing_in_the_branch(run_diag, lab_factory):
    lab = lab_factory("ssl-bump-trusted")
    run = run_diag(*BRANCH, lab=lab)
    assert set(_branch(run).values()) == {"passed"}, run.output[-3000:]
    step = run.step("certificate.interception")
    assert step["summary"].startswith("intercepted") and "trusted by every client" in step["summary"]
    assert run.root_cause is None


def test_healthy_proxy_is_not_intercepted_and_shows_the_issuer(run_diag, healthy):
    run = run_diag(*BRANCH, lab=healthy)
    assert set(_branch(run).values()) == {"passed"}, run.output[-3000:]
    step = run.step("certificate.interception")
    assert "not intercepted" in step["summary"] and "issued by 'Proxydiag Lab Public Roots'" in step["summary"]
    assert step["evidence"]["intercepted"] is False
    assert "interception_ca" not in run.doc["artifacts"]


def test_der_in_node_extra_ca_certs_is_the_trap_with_a_converted_pem(run_diag, lab_factory):
    lab = lab_factory("der-ca")
    run = run_diag(*BRANCH, lab=lab)
    step = run.step("certificate.interception")
    assert step["outcome"] == "failed" and step["finding_key"] == "der_trap"
    pem = step["fix"]["env"]["NODE_EXTRA_CA_CERTS"]
    assert "DER (binary .cer)" in step["finding"] and pem in step["finding"]
    assert _der(Path(pem).read_bytes()) == _der(lab.interception_ca_pem)
    assert f"openssl x509 -inform DER -in {lab.env['NODE_EXTRA_CA_CERTS']}" in step["solution"]
    assert f'export NODE_EXTRA_CA_CERTS="{pem}"' in step["solution"]
    assert _branch(run)["certificate.python_ssl"] == "passed"



def test_der_trap_says_what_the_installed_claude_code_does_with_the_der_file(run_diag, lab_factory):
    """Claude Code 2.1.332 ignores an unreadable NODE_EXTRA_CA_CERTS and keeps its other stores (measured:
    tests/test_clients.py); 2.1.197 failed every request. The finding follows the installed release, and the
    Claude Code trust row does not call it untrusted when SSL_CERT_FILE (its OS store) holds the CA."""
    claude = "/opt/proxydiag-claude/node_modules/.bin/claude"
    if not os.access(claude, os.X_OK):
        pytest.skip("the pinned Claude Code is not installed (.ci/install-claude.sh)")
    lab = lab_factory("der-ca")
    run = run_diag(*BRANCH, "--proxydiag-clients", "none", lab=lab, env={"PROXYDIAG_CLAUDE": claude})
    step = run.step("certificate.interception")
    assert step["outcome"] == "failed" and step["finding_key"] == "der_trap", step
    assert "fails every request" not in step["finding"], step["finding"]
    assert ("Node ignores it, and so does Claude Code 2.1.332 ('Claude Code ignored all of the NODE_EXTRA_CA_CERTS "
            "file')") in step["finding"], step["finding"]
    assert f'export NODE_EXTRA_CA_CERTS="{step["fix"]["env"]["NODE_EXTRA_CA_CERTS"]}"' in step["solution"]
    trust = step["evidence"]["trust"]
    claude_row = next(v for k, v in trust.items() if k == "claude-code") if isinstance(trust, dict) else \
        next(t for t in trust if t["client"] == "claude-code")
    assert claude_row["trusted"] is True, claude_row



def test_a_relative_node_extra_ca_certs_in_claude_settings_is_named(run_diag, lab_factory, diag_home):
    """Claude Code 2.1.332 opens a relative NODE_EXTRA_CA_CERTS from the directory it starts in (measured: the
    settings value "corp.pem" works from the directory holding corp.pem, and fails with SELF_SIGNED_CERT_IN_CHAIN
    from a project directory). Found from where the diagnosis runs is no proof that Claude Code finds it."""
    lab = lab_factory("ssl-bump-untrusted")
    Path("corp.pem").write_bytes(lab.interception_ca_pem)  # pytester's directory: where the diagnosis runs
    (diag_home / ".claude").mkdir()
    (diag_home / ".claude" / "settings.json").write_text('{"env": {"NODE_EXTRA_CA_CERTS": "corp.pem"}}')
    run = run_diag(*BRANCH, "--proxydiag-clients", "none", lab=lab)
    step = run.step("certificate.interception")
    assert step["outcome"] == "failed" and step["finding_key"] == "intercepted", step
    untrusted = step["finding"].split("Not trusted by:")[1]
    assert (f"Claude Code (the chain ends in the self-signed root 'Example Corp', which is not among the trusted "
            f"roots; NODE_EXTRA_CA_CERTS in {diag_home}/.claude/settings.json=corp.pem is a relative path: Node and "
            f"Claude Code open it from the directory they start in") in untrusted, untrusted
    assert "give its absolute path" in untrusted, untrusted
    # The user's CA stays in the file the fix writes for NODE_EXTRA_CA_CERTS.
    assert lab.interception_ca_pem.strip() in Path(step["fix"]["env"]["NODE_EXTRA_CA_CERTS"]).read_bytes()


def test_a_relative_requests_ca_bundle_is_named_not_counted(run_diag, bump, tmp_path):
    """REQUESTS_CA_BUNDLE="my-bundle.pem" works only from the directory holding it: the real requests, run from
    any other directory, fails with "invalid path" (measured too: curl's CURL_CA_BUNDLE, Python's and httpx's
    SSL_CERT_FILE, Node --use-openssl-ca).  Found from where the diagnosis runs, the trust row called it trusted."""
    Path("my-bundle.pem").write_bytes(Path(bump.public_roots).read_bytes() + bump.interception_ca_pem)
    elsewhere = tmp_path / "project"
    elsewhere.mkdir()
    real = subprocess.run([sys.executable, "-c", f"import requests; requests.get({bump.target_url!r}, timeout=5)"],
                          cwd=elsewhere, env={**os.environ, **bump.env, "REQUESTS_CA_BUNDLE": "my-bundle.pem"},
                          capture_output=True, text=True, timeout=60)
    assert real.returncode != 0 and "invalid path: my-bundle.pem" in real.stderr, real.stderr[-500:]
    run = run_diag(*BRANCH, "--proxydiag-clients", "none", lab=bump, env={"REQUESTS_CA_BUNDLE": "my-bundle.pem"})
    step = run.step("certificate.interception")
    assert step["outcome"] == "failed" and step["finding_key"] == "intercepted", step
    row = step["evidence"]["trust"]["requests"]
    assert row["trusted"] is False, row
    assert ("REQUESTS_CA_BUNDLE=my-bundle.pem is a relative path: the program opens it from the directory it runs "
            "in") in row["why"] and "give its absolute path" in row["why"], row
    # The user's CA is kept in the absolute bundle the fix writes.
    fixed = step["fix"]["env"]["REQUESTS_CA_BUNDLE"]
    assert os.path.isabs(fixed) and bump.interception_ca_pem.strip() in Path(fixed).read_bytes()


def test_curl_before_8_3_ignores_ssl_cert_file_while_ssl_cert_dir_is_set(run_diag, bump, tmp_path):
    """SSL_CERT_DIR=/etc/ssl/certs (set by many images) with the corporate bundle in SSL_CERT_FILE: curl 7.88.1
    reads SSL_CERT_DIR and its built-in bundle only (curl 8.3 reads both), so it fails while Python trusts the
    bundle.  The trust row called curl trusted through SSL_CERT_FILE."""
    from pytest_proxydiag.proof.client_rules import curl_dir_shadows_file, installed_curl_version
    from pytest_proxydiag.proof.clients import run_client

    if not curl_dir_shadows_file(installed_curl_version()):
        pytest.skip(f"curl {installed_curl_version()} reads SSL_CERT_FILE and SSL_CERT_DIR together")
    bundle = tmp_path / "corp-bundle.pem"
    bundle.write_bytes(Path(bump.public_roots).read_bytes() + bump.interception_ca_pem)
    user = {"SSL_CERT_FILE": str(bundle), "SSL_CERT_DIR": "/etc/ssl/certs"}
    env = {k: v for k, v in {**os.environ, **bump.env, **user}.items() if k != "CURL_CA_BUNDLE"}
    real = run_client("curl", bump.target_url, env, 15, resolve={("api.anthropic.com", bump.origin_port): "127.0.0.2"})
    assert not real.reached and real.error_code == "60", real  # the real curl: (60) certificate problem
    # ... and with CURL_CA_BUNDLE, the variable the fix sets for curl, it reaches the provider.
    fixed = run_client("curl", bump.target_url, {**env, "CURL_CA_BUNDLE": str(bundle)}, 15,
                       resolve={("api.anthropic.com", bump.origin_port): "127.0.0.2"})
    assert fixed.reached and fixed.status == 401, fixed
    run = run_diag(*BRANCH, "--proxydiag-clients", "none", lab=bump, env=user)
    step = run.step("certificate.interception")
    assert step["outcome"] == "failed" and step["finding_key"] == "intercepted", step
    trust = step["evidence"]["trust"]
    assert trust["curl"]["trusted"] is False, trust["curl"]
    assert "ignores SSL_CERT_FILE while SSL_CERT_DIR is set" in trust["curl"]["why"], trust["curl"]
    assert "put the CA in CURL_CA_BUNDLE for curl" in trust["curl"]["why"]
    assert trust["httpx"]["trusted"] is True, trust["httpx"]
    assert "CURL_CA_BUNDLE" in step["fix"]["env"]


# -- verification switched off ----------------------------------------------------------------
def test_verification_switched_off_is_a_finding_with_the_experiment(run_diag, bump):
    run = run_diag(*BRANCH, lab=bump, env={"REQUESTS_CA_BUNDLE": "", "NODE_TLS_REJECT_UNAUTHORIZED": "0"})
    step = run.step("certificate.verification_disabled")
    assert step["outcome"] == "failed" and step["finding_key"] == "disabled"
    assert 'REQUESTS_CA_BUNDLE=""' in step["finding"] and "NODE_TLS_REJECT_UNAUTHORIZED=0" in step["finding"]
    assert "certificate problem confirmed" in step["finding"]
    assert "unset NODE_TLS_REJECT_UNAUTHORIZED" in step["solution"]
    assert "NODE_TLS_REJECT_UNAUTHORIZED" in step["fix"]["unset"]
    # The fix trusts the CA instead; it never keeps verification off.
    assert step["fix"]["env"]["REQUESTS_CA_BUNDLE"].endswith("ca-bundle.pem")
    assert "=0" not in step["solution"].replace("NODE_TLS_REJECT_UNAUTHORIZED=0, ", "")
    trust = run.step("certificate.interception")["evidence"]["trust"]
    assert trust["node"]["verification_disabled"] == "NODE_TLS_REJECT_UNAUTHORIZED=0"


def test_verification_off_in_claude_settings_and_litellm_config(run_diag, healthy, diag_home, tmp_path):
    (diag_home / ".claude").mkdir()
    (diag_home / ".claude" / "settings.json").write_text('{"env": {"NODE_TLS_REJECT_UNAUTHORIZED": "0"}}')
    config = tmp_path / "litellm.yaml"
    config.write_text("litellm_settings:\n  ssl_verify: false\n")
    run = run_diag(*BRANCH, lab=healthy, env={"LITELLM_CONFIG": str(config)})
    step = run.step("certificate.verification_disabled")
    assert step["outcome"] == "failed"
    assert "settings.json" in step["finding"] and "ssl_verify: false" in step["finding"]
    assert {f["path"] for f in step["fix"]["files"]} == {str(diag_home / ".claude" / "settings.json"), str(config)}


# -- Python's CA files ------------------------------------------------------------------------------
def test_ssl_cert_file_missing_names_the_path_to_use(run_diag, healthy, tmp_path):
    missing = tmp_path / "nowhere" / "ca.pem"
    run = run_diag(*BRANCH, lab=healthy, env={"SSL_CERT_FILE": str(missing)})
    step = run.step("certificate.python_ssl")
    assert step["outcome"] == "failed" and step["finding_key"] == "missing"
    assert f"SSL_CERT_FILE={missing} does not exist" in step["finding"]
    good = os.path.abspath(healthy.public_roots)
    assert f'export SSL_CERT_FILE="{good}"' in step["solution"]
    assert step["fix"]["env"] == {"SSL_CERT_FILE": good}
    assert "/etc/ssl/certs/ca-certificates.crt" in step["solution"]  # the OS bundle on Debian


def test_ssl_cert_file_not_pem(run_diag, healthy, tmp_path):
    junk = tmp_path / "ca.pem"
    junk.write_text("this is not a certificate\n")
    run = run_diag(*BRANCH, lab=healthy, env={"SSL_CERT_FILE": str(junk)})
    step = run.step("certificate.python_ssl")
    assert step["outcome"] == "failed" and step["finding_key"] == "not_pem"
    assert f"SSL_CERT_FILE={junk} is not a PEM certificate bundle" in step["finding"]
    assert "export SSL_CERT_FILE=" in step["solution"]


def test_requests_bundle_in_der_gets_a_pem_copy(run_diag, healthy, tmp_path):
    der = tmp_path / "corp.cer"
    der.write_bytes(_der(Path(healthy.public_roots).read_bytes())[0])
    run = run_diag(*BRANCH, lab=healthy, env={"REQUESTS_CA_BUNDLE": str(der)})
    step = run.step("certificate.python_ssl")
    assert step["outcome"] == "failed" and step["finding_key"] == "der"
    converted = step["fix"]["env"]["REQUESTS_CA_BUNDLE"]
    assert converted != str(der) and _der(Path(converted).read_bytes()) == [der.read_bytes()]
    assert "openssl x509 -inform DER" in step["solution"]


def test_bundle_with_only_the_corporate_ca_breaks_other_hosts(run_diag, bump):
    run = run_diag(*BRANCH, lab=bump, env={"REQUESTS_CA_BUNDLE": bump.interception_ca_path})
    step = run.step("certificate.python_ssl")
    assert step["outcome"] == "failed" and step["finding_key"] == "corporate_only"
    assert "none of the public roots" in step["finding"] and "Example Corp" in step["finding"]
    fixed = step["fix"]["env"]["REQUESTS_CA_BUNDLE"]
    fixed_der = _der(Path(fixed).read_bytes())
    assert _der(bump.interception_ca_pem)[0] in fixed_der and _der(Path(bump.public_roots).read_bytes())[0] in fixed_der
    # requests trusts the intercepted target with it: the interception step sees that.
    assert run.step("certificate.interception")["evidence"]["trust"]["requests"]["trusted"] is True


def test_bundle_without_the_interception_ca_fails_the_verified_connection(run_diag, bump):
    run = run_diag(*BRANCH, lab=bump, env={"SSL_CERT_FILE": bump.public_roots})
    step = run.step("certificate.python_ssl")
    assert step["outcome"] == "failed" and step["finding_key"] == "verify_failed"
    assert "certificate verify failed" in step["finding"]
    assert step["fix"]["env"]["SSL_CERT_FILE"].endswith("ca-bundle.pem")


# -- a CA without critical Basic Constraints, through a real Squid ------------------------------------
def _ca_without_critical_bc() -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Lax Corp"),
                      x509.NameAttribute(NameOID.COMMON_NAME, "Lax Corp Inspection CA")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=False)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return (cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                              serialization.NoEncryption()))


class _BumpSquid:
    """A Squid that bumps (or splices) with a CA of the test's choosing, in front of the lab's origin."""

    def __init__(self, name: str, ca_pem: bytes | None, ca_key: bytes | None, mode: str = "bump") -> None:
        from pytest_proxydiag import lab as labmod
        from pytest_proxydiag.lab.servers import HttpsOrigin, LabCA, PROVIDER_HOSTS, free_port

        # Not under pytest's tmp_path: Squid drops to its own user, which must be able to enter the directory.
        workdir = self.workdir = Path(tempfile.mkdtemp(prefix=f"proxydiag-certtest-{name}-"))
        self.public = LabCA("Proxydiag Lab Public Roots", "Fake public root (lab only)")
        self.public_roots = workdir / "public-roots.pem"
        self.public_roots.write_bytes(self.public.cert_pem)
        self.origin = HttpsOrigin(self.public, workdir / "origin").start()
        sq = workdir / "squid"
        sq.mkdir()
        hosts = sq / "hosts"
        hosts.write_text("".join(f"127.0.0.1 {h}\n" for h in PROVIDER_HOSTS))
        certgen = labmod.squid_helper("security_file_certgen")
        port_options, rules = "", []
        if mode in ("bump", "splice"):
            (sq / "ca.pem").write_bytes(ca_pem)
            (sq / "ca.key").write_bytes(ca_key)
            subprocess.run([certgen, "-c", "-s", str(sq / "ssl_db"), "-M", "4MB"], check=True, capture_output=True,
                           timeout=10)
            port_options = (f"ssl-bump tls-cert={sq / 'ca.pem'} tls-key={sq / 'ca.key'} "
                            "generate-host-certificates=on dynamic_cert_mem_cache_size=4MB")
            rules = [f"sslcrtd_program {certgen} -s {sq / 'ssl_db'} -M 4MB", "sslcrtd_children 2 startup=1 idle=1",
                     f"tls_outgoing_options cafile={self.public_roots}", "acl step1 at_step SslBump1",
                     "ssl_bump peek step1", f"ssl_bump {mode} all"]
        labmod._give_to_squid_user(workdir)
        port = free_port()
        lines = labmod.squid_config(sq, port, port_options=port_options, rules=rules, hosts_file=hosts)
        try:
            self.squid = labmod.Squid(lines, sq, port).start()
        except BaseException:
            self.origin.stop()
            shutil.rmtree(workdir, ignore_errors=True)
            raise
        self.proxy_url = f"http://127.0.0.1:{port}"
        self.env = {"HTTPS_PROXY": self.proxy_url, "HTTP_PROXY": self.proxy_url}
        target = f"https://api.anthropic.com:{self.origin.port}"
        self.pytest_args = ["--proxydiag-target", target, "--proxydiag-resolve",
                            f"api.anthropic.com:{self.origin.port}:127.0.0.1",
                            "--proxydiag-public-roots", str(self.public_roots), "--proxydiag-no-direct"]

    def stop(self) -> None:
        self.squid.stop()
        self.origin.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


def test_ca_without_critical_basic_constraints_is_a_finding_even_when_trusted(run_diag, tmp_path):
    require_squid()
    ca_pem, ca_key = _ca_without_critical_bc()
    lab = _BumpSquid("lax", ca_pem, ca_key)
    try:
        bundle = tmp_path / "bundle.pem"
        bundle.write_bytes(lab.public.cert_pem + ca_pem)
        node = tmp_path / "corp.pem"
        node.write_bytes(ca_pem)
        env = {"REQUESTS_CA_BUNDLE": str(bundle), "SSL_CERT_FILE": str(bundle), "CURL_CA_BUNDLE": str(bundle),
               "NODE_EXTRA_CA_CERTS": str(node)}
        run = run_diag(*BRANCH, lab=lab, env=env)
    finally:
        lab.stop()
    step = run.step("certificate.interception")
    assert step["outcome"] == "failed" and step["finding_key"] == "bc_not_critical", run.output[-3000:]
    assert "basicConstraints of CA cert not marked critical" in step["finding"]
    assert "Lax Corp Inspection CA" in step["finding"]
    assert "truststore" in step["solution"] and "marked critical" in step["solution"]


def test_a_trusted_certificate_python_3_13_refuses_is_named_after_the_proxys_own_answer(run_diag, lab_factory):
    """Squid's certificate for an upstream it cannot verify has no Authority Key Identifier: trusted by every
    client, yet refused by Python 3.13's strict default (measured: ssl.create_default_context and urllib3 2.8 fail
    with "Missing Authority Key Identifier", curl and Node accept it).  The report said nothing, and on 3.13
    application.debug_logging told the user to check the SDK's version."""
    import socket
    import ssl
    from urllib.parse import urlsplit

    lab = lab_factory("upstream-untrusted")
    # The premise, on any Python: its strict flag (3.13's default) refuses what this Squid presents.
    proxy, target = urlsplit(lab.env["HTTPS_PROXY"]), urlsplit(lab.target_url)
    strict = ssl.create_default_context(cafile=lab.env["SSL_CERT_FILE"])
    strict.verify_flags |= ssl.VERIFY_X509_STRICT
    with socket.create_connection((proxy.hostname, proxy.port), timeout=10) as sock:
        sock.sendall(f"CONNECT {target.netloc} HTTP/1.1\r\nHost: {target.netloc}\r\n\r\n".encode())
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        with pytest.raises(ssl.SSLCertVerificationError, match="Missing Authority Key Identifier"):
            strict.wrap_socket(sock, server_hostname=target.hostname)
    run = run_diag(lab=lab)
    step = run.step("certificate.interception")
    assert step["outcome"] == "failed" and step["finding_key"] == "strict_rejected", step
    assert "'api.anthropic.com': Missing Authority Key Identifier" in step["finding"]
    assert "curl and Node accept them" in step["finding"]
    assert "an Authority Key Identifier in every certificate it generates" in step["solution"]
    assert "truststore.inject_into_ssl()" in step["solution"]
    # The proxy's own 503 (it cannot verify the upstream) stays the root cause: the refused certificate is its.
    assert run.root_cause == "policy.proxy_logs", run.output[-3000:]


def test_spliced_tls_is_not_interception(run_diag, tmp_path):
    require_squid()
    from pytest_proxydiag.lab.servers import LabCA

    corp = LabCA("Example Corp", "Splicing proxy CA")
    lab = _BumpSquid("splice", corp.cert_pem, corp.key_pem, mode="splice")
    try:
        run = run_diag(*BRANCH, lab=lab)
    finally:
        lab.stop()
    assert set(_branch(run).values()) == {"passed"}, run.output[-3000:]
    assert "not intercepted" in run.step("certificate.interception")["summary"]


def test_https_proxy_whose_certificate_names_the_target_not_the_proxy(run_diag, tmp_path):
    from pytest_proxydiag.lab.servers import HttpsOrigin, LabCA, ScriptedProxy, server_context

    public = LabCA("Proxydiag Lab Public Roots", "Fake public root (lab only)")
    roots = tmp_path / "roots.pem"
    roots.write_bytes(public.cert_pem)
    origin = HttpsOrigin(public, tmp_path / "origin").start()
    # The proxy's own certificate is for the provider's name: the known "wrong certificate on the proxy" bug class.
    chain, key = public.issue("api.anthropic.com")
    proxy = ScriptedProxy("tls-proxy", tls_context=server_context(chain, key, tmp_path / "tls")).start()
    try:
        run = run_diag(*BRANCH, "--proxydiag-target", f"https://api.anthropic.com:{origin.port}",
                       "--proxydiag-resolve", f"api.anthropic.com:{origin.port}:127.0.0.1",
                       "--proxydiag-public-roots", str(roots), "--proxydiag-no-direct",
                       env={"HTTPS_PROXY": f"https://127.0.0.1:{proxy.port}"})
    finally:
        proxy.stop()
        origin.stop()
    step = run.step("certificate.interception")
    assert step["outcome"] == "failed" and step["finding_key"] == "proxy_cert", run.output[-3000:]
    assert "issued for api.anthropic.com" in step["finding"] and "not for 127.0.0.1" in step["finding"]
    assert "must name the proxy host (127.0.0.1)" in step["solution"]
    assert step["evidence"]["proxy_certificate"]["san"] == ["api.anthropic.com"]


def test_without_a_named_report_path_nothing_is_written_in_the_working_directory(pytester, lab_factory, monkeypatch,
                                                                              tmp_path):
    """Issue #9: no write outside the paths the user named and pytest's temporary directories."""
    from conftest import CONFIG_VARS

    lab = lab_factory("ssl-bump-untrusted")
    for name in CONFIG_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    for k, v in lab.env.items():
        monkeypatch.setenv(k, v)
    before = set(os.listdir(pytester.path))
    # (-p no:benchmark: pytest-benchmark, where installed, writes .benchmarks/ itself)
    result = pytester.runpytest_inprocess("--proxydiag", "-p", "no:cacheprovider", "-p", "no:benchmark", "-m", "certificate",
                                          "--proxydiag-clients", "none", "--basetemp", str(tmp_path / "bt"),
                                          *lab.pytest_args)
    assert "certificate.interception" in result.stdout.str()
    assert set(os.listdir(pytester.path)) == before, "the diagnosis wrote into the working directory"
    saved = tmp_path / "bt" / "proxydiag-ca" / "proxy-ca.pem"
    assert saved.exists() and stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert str(saved) in result.stdout.str()


# -- NODE_USE_SYSTEM_CA as an alternative for Node programs, by the node on PATH ----------------------------------
@pytest.mark.parametrize("which", ["node24", "system"])
def test_the_node_on_path_decides_whether_node_use_system_ca_is_offered(run_diag, bump, tmp_path, which):
    node = node24() if which == "node24" else system_node()
    version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=10).stdout.strip()
    bindir = tmp_path / "nodebin"
    bindir.mkdir()
    (bindir / "node").symlink_to(node)
    run = run_diag(*BRANCH, "-k", "interception", "--proxydiag-clients", "none", lab=bump,
                   env={"PATH": f"{bindir}{os.pathsep}/usr/bin{os.pathsep}/bin"})
    step = run.step("certificate.interception")
    assert step["outcome"] == "failed" and step["finding_key"] == "intercepted", run.output[-3000:]
    saved = step["evidence"]["ca_saved"]["ca_path"]
    # NODE_EXTRA_CA_CERTS stays the fix (and the only Node variable in it) whatever the node.
    assert f'export NODE_EXTRA_CA_CERTS="{saved}"' in step["solution"]
    assert "NODE_USE_SYSTEM_CA" not in step["fix"]["env"]
    major_minor = tuple(int(x) for x in version.lstrip("v").split(".")[:2])
    offered = major_minor >= (24, 6) or (22, 19) <= major_minor < (23, 0)
    assert ('export NODE_USE_SYSTEM_CA="1"' in step["solution"]) == offered, (version, step["solution"])
    if offered:
        assert f"node {version.lstrip('v')} on your PATH reads the system store" in step["solution"]
        assert "NODE_EXTRA_CA_CERTS above stays the fix" in step["solution"]
        assert "Not for Claude Code" in step["solution"]
    else:
        assert "Alternative for Node programs" not in step["solution"]
