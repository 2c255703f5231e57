"""Path validation with cryptography.x509.verification: validity, the CA flag and EKU decide, not just the links."""

from __future__ import annotations

import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from pytest_proxydiag.branches import certificate as certs
from test_certs_unit import NOW, make_ca, make_leaf


def _issue(cn: str, issuer, *, ca: bool | None, eku=None, host: str | None = None):
    """A certificate signed by *issuer*: basicConstraints CA:*ca* (None: absent), optional EKU and SAN."""
    issuer_cert, issuer_key = issuer
    key = ec.generate_private_key(ec.SECP256R1())
    b = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
         .issuer_name(issuer_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(NOW - datetime.timedelta(days=1)).not_valid_after(NOW + datetime.timedelta(days=30)))
    if ca is not None:
        b = b.add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    if eku:
        b = b.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    if host:
        b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
    return b.sign(issuer_key, hashes.SHA256()), key


def test_a_valid_path_is_trusted_and_names_its_anchor():
    root = make_ca("Corp Root")
    leaf = make_leaf("api.anthropic.com", root)
    res = certs.build_path([leaf], [root[0]])
    assert res.trusted and res.anchor == root[0] and res.reason == ""


def test_an_expired_intermediate_breaks_the_path_and_is_named():
    root = make_ca("Corp Root", days=3650)
    inter = make_ca("Corp Issuing CA", parent=root, days=-1, not_before_days=-30)
    leaf = make_leaf("api.anthropic.com", inter)
    res = certs.build_path([leaf, inter[0]], [root[0]])
    assert not res.trusted and res.reaches_anchor
    assert res.reason.startswith("'Corp Issuing CA' is expired on ")


def test_an_issuer_without_the_ca_flag_cannot_sign_for_others():
    root = make_ca("Corp Root")
    not_a_ca = _issue("Some Server", root, ca=False, host="some.example")
    leaf = _issue("api.anthropic.com", not_a_ca, ca=None, host="api.anthropic.com")[0]
    res = certs.build_path([leaf, not_a_ca[0]], [root[0]])
    assert not res.trusted and res.reaches_anchor
    assert res.reason == "basicConstraints.cA must be asserted in a CA certificate"


def test_extended_key_usage_decides_server_or_client_purpose():
    root = make_ca("Corp Root")
    client_only = _issue("alice", root, ca=False, eku=[ExtendedKeyUsageOID.CLIENT_AUTH])[0]
    as_server = certs.build_path([client_only], [root[0]])
    assert not as_server.trusted and "'alice' is not for TLS servers" in as_server.reason
    assert certs.build_path([client_only], [root[0]], purpose="client").trusted


def test_an_expired_public_leaf_is_the_providers_own_certificate_not_interception():
    root = make_ca("Public Root")
    leaf = make_leaf("api.anthropic.com", root, days=-1, not_before_days=-20)
    res = certs.build_path([leaf], [root[0]])
    assert not res.trusted and res.reaches_anchor and "expired on" in res.reason
