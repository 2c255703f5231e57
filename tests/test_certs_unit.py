"""certs.py without the network: CA files on disk, chains, vendors, client stores, files written for the user."""

from __future__ import annotations

import datetime
import json
import os
import stat
import threading

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

from pytest_proxydiag.branches import certificate as certs

NOW = datetime.datetime.now(datetime.timezone.utc)


def _cert(pem: bytes) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem)


def make_ca(cn: str, *, org: str = "Corp", critical_bc: bool = True, parent=None, days: int = 30,
            not_before_days: int = -1):
    """A CA (self-signed, or signed by *parent* = (cert, key)) made with cryptography."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, org), x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    issuer_cert, issuer_key = parent if parent else (None, key)
    b = (x509.CertificateBuilder().subject_name(name)
         .issuer_name(issuer_cert.subject if issuer_cert is not None else name).public_key(key.public_key())
         .serial_number(x509.random_serial_number())
         .not_valid_before(NOW + datetime.timedelta(days=not_before_days))
         .not_valid_after(NOW + datetime.timedelta(days=days))
         .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=critical_bc)
         .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                      data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                                      encipher_only=False, decipher_only=False), critical=True)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
    return b.sign(issuer_key, hashes.SHA256()), key


def make_leaf(host: str, ca, *, days: int = 30, not_before_days: int = -1, aia: str | None = None):
    ca_cert, ca_key = ca
    key = ec.generate_private_key(ec.SECP256R1())
    b = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
         .issuer_name(ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(NOW + datetime.timedelta(days=not_before_days))
         .not_valid_after(NOW + datetime.timedelta(days=days))
         .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
         .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False))
    if aia:
        from cryptography.x509.oid import AuthorityInformationAccessOID

        b = b.add_extension(x509.AuthorityInformationAccess([x509.AccessDescription(
            AuthorityInformationAccessOID.CA_ISSUERS, x509.UniformResourceIdentifier(aia))]), critical=False)
    return b.sign(ca_key, hashes.SHA256())


def der(c: x509.Certificate) -> bytes:
    return c.public_bytes(serialization.Encoding.DER)


def pem(*cs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in cs)


# -- reading CA files safely -----------------------------------------------------------------------
@pytest.fixture
def ca_pair():
    return make_ca("Corp Inspection CA")


def test_pem_bundle_is_counted(tmp_path, ca_pair):
    other, _ = make_ca("Other Root")
    f = tmp_path / "bundle.pem"
    f.write_bytes(b"# comment\n" + pem(ca_pair[0], other))
    got = certs.read_ca_file(f, var="SSL_CERT_FILE")
    assert (got.status, got.count, got.label) == ("ok", 2, f"SSL_CERT_FILE={f}")


@pytest.mark.parametrize("content,status", [
    (b"", "empty"), (b"   \n", "empty"), (b"hello, not a certificate\n", "not_pem"),
    (b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "not_pem"),
    (b"-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n", "not_pem"),
])
def test_files_without_certificates(tmp_path, content, status):
    f = tmp_path / "x.pem"
    f.write_bytes(content)
    got = certs.read_ca_file(f)
    assert got.status == status and got.count == 0 and got.detail


def test_der_is_recognised_and_parsed(tmp_path, ca_pair):
    f = tmp_path / "corp.cer"
    f.write_bytes(der(ca_pair[0]))
    got = certs.read_ca_file(f, var="NODE_EXTRA_CA_CERTS")
    assert got.status == "der" and got.certs[0] == ca_pair[0] and "DER" in got.detail


def test_pkcs7_bundle(tmp_path, ca_pair):
    f = tmp_path / "corp.p7b"
    f.write_bytes(pkcs7.serialize_certificates([ca_pair[0]], serialization.Encoding.DER))
    got = certs.read_ca_file(f)
    assert got.status == "pkcs7" and got.certs == (ca_pair[0],)


def test_missing_dangling_loop_directory(tmp_path):
    assert certs.read_ca_file(tmp_path / "nope.pem").status == "missing"
    (tmp_path / "dangling.pem").symlink_to(tmp_path / "gone.pem")
    dangling = certs.read_ca_file(tmp_path / "dangling.pem")
    assert dangling.status == "dangling" and "gone.pem" in dangling.detail
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    assert certs.read_ca_file(tmp_path / "a").status == "loop"
    assert certs.read_ca_file(tmp_path).status == "directory"
    assert certs.read_ca_file(tmp_path / "nope.pem" / "x").status == "missing"


def test_too_large_is_not_read(tmp_path):
    f = tmp_path / "big.pem"
    f.write_bytes(b"x" * 2048)
    got = certs.read_ca_file(f, max_bytes=1024)
    assert got.status == "too_large" and "2048 bytes" in got.detail


def test_fifo_is_never_opened(tmp_path):
    fifo = tmp_path / "ca.fifo"
    os.mkfifo(fifo)
    done = []
    t = threading.Thread(target=lambda: done.append(certs.read_ca_file(fifo)), daemon=True)
    t.start()
    t.join(2)
    assert done and done[0].status == "not_regular"


def test_unreadable_file(tmp_path, ca_pair, monkeypatch):
    f = tmp_path / "ca.pem"
    f.write_bytes(pem(ca_pair[0]))

    def denied(*a, **k):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr("builtins.open", denied)  # root reads any mode: simulate the EACCES
    got = certs.read_ca_file(f)
    assert got.status == "unreadable" and "Permission denied" in got.detail


def test_directory_needs_hash_links(tmp_path, ca_pair):
    d = tmp_path / "certs"
    d.mkdir()
    (d / "corp.pem").write_bytes(pem(ca_pair[0]))
    assert certs.read_ca_file(d, expect="dir").status == "not_hashed"
    (d / "0a1b2c3d.0").symlink_to(d / "corp.pem")
    got = certs.read_ca_file(d, expect="dir")
    assert got.status == "ok" and got.count == 1
    assert certs.read_ca_file(d / "corp.pem", expect="dir").status == "not_directory"
    assert certs.read_ca_file(tmp_path / "empty", expect="dir").status == "missing"


# -- chains -------------------------------------------------------------------------------------------
def test_path_through_an_intermediate_to_a_root():
    root = make_ca("Public Root")
    inter = make_ca("Public Intermediate", parent=root)
    leaf = make_leaf("api.example.com", inter)
    res = certs.build_path([leaf, inter[0]], [root[0]])
    assert res.trusted and res.anchor == root[0] and len(res.path) == 3
    # Without the intermediate, the issuer is missing (as for OpenSSL: no AIA fetching).
    res = certs.build_path([leaf], [root[0]])
    assert not res.trusted and res.missing_issuer and "Public Intermediate" in res.reason


def test_untrusted_root_sent_by_the_proxy_is_named():
    corp = make_ca("Corp Inspection CA")
    leaf = make_leaf("api.example.com", corp)
    res = certs.build_path([leaf, corp[0]], [])
    assert not res.trusted and res.untrusted_root == corp[0] and "self-signed root 'Corp Inspection CA'" in res.reason


def test_a_name_twin_with_another_key_is_not_an_issuer():
    real = make_ca("Same Name")
    twin = make_ca("Same Name")
    leaf = make_leaf("h.example", real)
    assert not certs.build_path([leaf], [twin[0]]).trusted
    assert certs.build_path([leaf], [twin[0], real[0]]).trusted


@pytest.mark.parametrize("pattern,host,ok", [
    ("api.example.com", "api.example.com", True), ("*.example.com", "api.example.com", True),
    ("*.example.com", "a.b.example.com", False), ("*.example.com", "example.com", False),
    ("API.EXAMPLE.COM", "api.example.com", True), ("other.com", "api.example.com", False),
])
def test_hostname_matching(pattern, host, ok):
    leaf = make_leaf(pattern, make_ca("CA"))
    assert certs.hostname_matches(leaf, host) is ok


def test_validity_problems():
    ca = make_ca("CA")
    assert "expired on" in certs.validity_problem(make_leaf("h", ca, days=-1, not_before_days=-10))
    assert "not valid before" in certs.validity_problem(make_leaf("h", ca, not_before_days=2, days=10))
    assert certs.validity_problem(make_leaf("h", ca)) is None


def test_strict_x509_objections():
    lax = make_ca("Lax CA", critical_bc=False)
    leaf = make_leaf("h", lax)
    problems = certs.strict_problems([leaf, lax[0]])
    assert problems == ["'Lax CA': basicConstraints of CA cert not marked critical"]
    good = make_ca("Good CA")
    assert certs.strict_problems([make_leaf("h", good), good[0]]) == []


@pytest.mark.parametrize("org,cn,vendor", [
    ("Zscaler Inc.", "Zscaler Intermediate Root CA (zscaler.net)", "Zscaler"),
    ("Netskope Inc", "ca.acme.goskope.com", "Netskope"),
    ("Palo Alto Networks", "PA-Forward-Trust", "Palo Alto Networks"),
    ("Blue Coat Systems", "ProxySG CA", "Blue Coat / Symantec"),
    ("Fortinet", "FortiGate CA", "Fortinet"),
    ("Cisco", "Cisco Umbrella Secondary SubCA", "Cisco Umbrella"),
    ("ACME", "squid proxy CA", "Squid"),
    ("DigiCert Inc", "DigiCert Global Root G2", None),
])
def test_vendor_from_the_issuer(org, cn, vendor):
    ca = make_ca(cn, org=org)
    assert certs.vendor_of([make_leaf("h", ca), ca[0]]) == vendor


def test_analyze_intercepted_chain_finds_the_ca_and_the_clients(tmp_path):
    public = make_ca("Public Root")
    corp = make_ca("Zscaler Root CA", org="Zscaler Inc.")
    roots = tmp_path / "public.pem"
    roots.write_bytes(pem(public[0]))
    leaf = make_leaf("api.anthropic.com", corp)
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(pem(public[0], corp[0]))
    env = {"REQUESTS_CA_BUNDLE": str(bundle)}
    a = certs.analyze([der(leaf), der(corp[0])], "api.anthropic.com", env=env, home=str(tmp_path),
                      public_roots=str(roots), litellm_config=str(tmp_path / "none.yaml"))
    assert a.intercepted and a.vendor == "Zscaler" and a.ca == corp[0] and a.ca_source == "sent by the proxy"
    assert a.trust["requests"].trusted and not a.trust["node"].trusted and not a.trust["curl"].trusted
    assert a.evidence()["chain"][1]["sha256"] == certs.fingerprint(corp[0])
    healthy = certs.analyze([der(make_leaf("api.anthropic.com", public))], "api.anthropic.com", env={},
                            public_roots=str(roots))
    assert not healthy.intercepted and healthy.public.trusted


def test_analyze_leaf_only_and_incomplete_public_chain(tmp_path):
    roots = tmp_path / "public.pem"
    public = make_ca("Public Root")
    roots.write_bytes(pem(public[0]))
    inter = make_ca("Public Intermediate", parent=public)
    corp = make_ca("Corp CA")
    leaf_only = certs.analyze([der(make_leaf("h.example", corp))], "h.example", env={}, public_roots=str(roots))
    assert leaf_only.intercepted and not leaf_only.ca_certs and "Corp CA" in leaf_only.missing_issuer
    # A public leaf whose issuer can be downloaded (AIA) but was not sent: the server's incomplete chain.
    server = make_leaf("h.example", inter, aia="http://ca.example/inter.crt")
    incomplete = certs.analyze([der(server)], "h.example", env={}, public_roots=str(roots))
    assert not incomplete.intercepted and incomplete.incomplete_hint == ["http://ca.example/inter.crt"]


# -- client stores -------------------------------------------------------------------------------------
def test_requests_reads_requests_ca_bundle_before_curl_ca_bundle_and_ignores_empty():
    s = certs.client_stores({"REQUESTS_CA_BUNDLE": "/a.pem", "CURL_CA_BUNDLE": "/b.pem"})
    assert s["requests"].sources[0][:2] == ("REQUESTS_CA_BUNDLE", "/a.pem")
    s = certs.client_stores({"REQUESTS_CA_BUNDLE": "", "CURL_CA_BUNDLE": "/b.pem"})
    assert s["requests"].sources[0][:2] == ("CURL_CA_BUNDLE", "/b.pem")
    s = certs.client_stores({})
    assert s["requests"].sources[0][0] == "certifi" and s["httpx"].sources[0][0] == "certifi"
    s = certs.client_stores({"SSL_CERT_FILE": "/c.pem"})
    assert s["httpx"].sources[0][:2] == ("SSL_CERT_FILE", "/c.pem")
    assert s["curl"].sources[0][:2] == ("SSL_CERT_FILE", "/c.pem")
    assert s["python-ssl"].sources[0][:2] == ("SSL_CERT_FILE", "/c.pem")


def test_claude_code_reads_node_extra_ca_certs_from_its_settings(tmp_path):
    (tmp_path / ".claude").mkdir()
    (tmp_path / ".claude" / "settings.json").write_text(json.dumps({"env": {"NODE_EXTRA_CA_CERTS": "/corp.pem"}}))
    s = certs.client_stores({}, home=str(tmp_path))
    assert any(p == "/corp.pem" for _v, p, _k in s["claude-code"].sources)
    assert s["node"].sources == ()  # plain Node does not read Claude Code's settings
    (tmp_path / ".claude" / "settings.json").write_text("{not json")
    assert certs.claude_settings_env(str(tmp_path))[2].startswith("cannot be read as JSON")


def test_node_tls_reject_unauthorized_zero_is_reported_as_disabled_not_trusted():
    s = certs.client_stores({"NODE_TLS_REJECT_UNAUTHORIZED": "0"})
    assert s["node"].disabled and s["claude-code"].disabled


def test_litellm_ssl_verify_path_and_false(tmp_path):
    cfg = tmp_path / "config.yaml"
    cfg.write_text("litellm_settings:\n  ssl_verify: /etc/corp.pem\n")
    s = certs.client_stores({}, litellm_config=str(cfg))
    assert s["litellm"].relevant and s["litellm"].sources[0][1] == "/etc/corp.pem"
    cfg.write_text("litellm_settings:\n  ssl_verify: false\n")
    assert certs.client_stores({}, litellm_config=str(cfg))["litellm"].disabled
    cfg.write_text(": : not yaml [")
    assert certs.litellm_ssl_settings(str(cfg), {})["error"]


def test_disabled_verification_lists_every_switch(tmp_path):
    env = {"CURL_CA_BUNDLE": "", "REQUESTS_CA_BUNDLE": "", "SSL_CERT_FILE": "", "NODE_TLS_REJECT_UNAUTHORIZED": "0",
           "PYTHONHTTPSVERIFY": "0"}
    found = certs.disabled_verification(env, home=str(tmp_path), litellm_config=str(tmp_path / "none.yaml"))
    assert [d["var"] for d in found] == ["CURL_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE",
                                         "NODE_TLS_REJECT_UNAUTHORIZED", "PYTHONHTTPSVERIFY"]
    assert "ignores the empty value" in found[1]["effect"]  # requests >= 2.32, read from its own code
    assert certs.disabled_verification({"REQUESTS_CA_BUNDLE": "/x.pem"}, home=str(tmp_path)) == []


# -- files written for the user ------------------------------------------------------------------------
def test_save_writes_mode_600_and_never_replaces_the_users_files(tmp_path, ca_pair):
    public = make_ca("Public Root")[0]
    mine = make_ca("My Private CA")[0]
    user_bundle = tmp_path / "user.pem"
    user_bundle.write_bytes(pem(mine))
    node_der = tmp_path / "corp.cer"
    node_der.write_bytes(der(make_ca("Old Node CA")[0]))
    user_files = [certs.read_ca_file(user_bundle, var="REQUESTS_CA_BUNDLE")]
    node = certs.read_ca_file(node_der, var="NODE_EXTRA_CA_CERTS")
    out = tmp_path / "out" / "proxy-ca.pem"
    saved = certs.save_trust_files([ca_pair[0]], out, public_roots=[public], user_files=user_files, node_extra=node)
    assert saved.ca_path == str(out)
    for path in (saved.ca_path, saved.bundle_path, saved.node_ca_path, saved.converted["NODE_EXTRA_CA_CERTS"]):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert open(path).readline().strip() == certs.WRITTEN_MARKER
    bundle = x509.load_pem_x509_certificates(open(saved.bundle_path, "rb").read())
    assert set(map(der, bundle)) == {der(public), der(ca_pair[0]), der(mine)}
    node_pem = x509.load_pem_x509_certificates(open(saved.node_ca_path, "rb").read())
    assert [c.subject for c in node_pem] == [ca_pair[0].subject, node.certs[0].subject]
    assert user_bundle.read_bytes() == pem(mine) and node_der.read_bytes() == der(node.certs[0])
    # A file of the user's where ours would go is kept; ours goes next to it.
    out2 = tmp_path / "theirs" / "proxy-ca.pem"
    out2.parent.mkdir()
    out2.write_text("precious")
    again = certs.save_trust_files([ca_pair[0]], out2, public_roots=[public])
    assert out2.read_text() == "precious" and again.ca_path == str(out2.with_name("proxy-ca.1.pem"))
    # Our own file from an earlier run is replaced in place.
    third = certs.save_trust_files([ca_pair[0]], out2, public_roots=[public])
    assert third.ca_path == again.ca_path


def test_save_refuses_to_write_over_a_symlink_or_the_users_bundle(tmp_path, ca_pair):
    target = tmp_path / "elsewhere.pem"
    target.write_text("do not touch")
    out = tmp_path / "proxy-ca.pem"
    out.symlink_to(target)
    saved = certs.save_trust_files([ca_pair[0]], out, public_roots=[])
    assert target.read_text() == "do not touch" and saved.ca_path != str(out)


def test_compute_fix_uses_absolute_paths_and_unsets_switches():
    saved = certs.SavedFiles(ca_path="/o/proxy-ca.pem", bundle_path="/o/ca-bundle.pem", node_ca_path="/o/n.pem")
    fix = certs.compute_fix(saved, {"SSL_CERT_DIR": "/etc/ssl/certs"},
                            disabled=[{"var": "NODE_TLS_REJECT_UNAUTHORIZED"}, {"var": "REQUESTS_CA_BUNDLE"}])
    assert fix["env"] == {"SSL_CERT_FILE": "/o/ca-bundle.pem", "REQUESTS_CA_BUNDLE": "/o/ca-bundle.pem",
                          "CURL_CA_BUNDLE": "/o/ca-bundle.pem", "NODE_EXTRA_CA_CERTS": "/o/n.pem"}
    assert fix["unset"] == ["NODE_TLS_REJECT_UNAUTHORIZED", "SSL_CERT_DIR"]


def test_output_paths(tmp_path):
    assert certs.output_paths(None, str(tmp_path / "r" / "report.json")) == tmp_path / "r" / "proxydiag-ca" / "proxy-ca.pem"
    assert certs.output_paths(str(tmp_path / "x.pem"), None) == tmp_path / "x.pem"
    assert certs.output_paths(str(tmp_path), None) == tmp_path / "proxy-ca.pem"
    assert certs.output_paths(None, None, cwd=str(tmp_path)) == tmp_path / "proxydiag-ca" / "proxy-ca.pem"


def test_python_context_raises_like_the_client(tmp_path):
    spec = certs.client_stores({"SSL_CERT_FILE": str(tmp_path / "missing.pem")})["httpx"]
    with pytest.raises(FileNotFoundError):
        certs.python_context(spec)
    ca = trustme.CA()
    good = tmp_path / "good.pem"
    good.write_bytes(ca.cert_pem.bytes())
    ctx = certs.python_context(certs.client_stores({"SSL_CERT_FILE": str(good)})["httpx"])
    assert ctx.cert_store_stats()["x509_ca"] == 1
