"""Claude Code's trust as it really is: which stores the installed build reads, proven with the real client.

Measured here (2026-11-30) and kept as tests so a new release that changes it is noticed:
the npm package @anthropic-ai/claude-code 2.1.332 installs the native build (an ELF binary over
bin/claude.exe), so the Node on PATH (20.20) never runs it and the OS store *is* read; a CA only in
the system bundle is trusted, and CLAUDE_CODE_CERT_STORE=bundled in ~/.claude/settings.json takes
that away (SELF_SIGNED_CERT_IN_CHAIN) while NODE_EXTRA_CA_CERTS still works.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from conftest import missing_tool, require_squid
from pytest_proxydiag.branches.certificate import claude_trust as ct
from pytest_proxydiag.machine.claude_install import build_of, find_claude, node_version

CLAUDE = os.environ.get("PROXYDIAG_CLAUDE") or "/opt/proxydiag-claude/node_modules/.bin/claude"
SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


def _layer(scope: str, **env) -> ct.SettingsLayer:
    return ct.SettingsLayer(scope, f"/home/u/.claude/{scope}.json", env)


# -- the rules -------------------------------------------------------------------------------------
def test_native_build_reads_bundled_roots_and_the_os_store():
    t = ct.claude_trust({}, [], build="native", system_bundle=SYSTEM_BUNDLE)
    assert t.stores() == ["bundled", "system"] and t.system_sources == [("system", SYSTEM_BUNDLE)]


def test_cert_store_bundled_in_settings_drops_the_os_store_and_names_the_file():
    layers = [_layer("user", CLAUDE_CODE_CERT_STORE="bundled")]
    t = ct.claude_trust({"SSL_CERT_FILE": "/corp.pem"}, layers, build="native", system_bundle=SYSTEM_BUNDLE)
    assert t.stores() == ["bundled"] and t.narrowed_by_setting()
    assert t.cert_store == ("bundled", "/home/u/.claude/user.json")
    assert t.dropped_sources == [("SSL_CERT_FILE", "/corp.pem"), ("system", SYSTEM_BUNDLE)]


def test_settings_env_wins_over_the_shell_and_managed_over_user():
    layers = [_layer("managed", CLAUDE_CODE_CERT_STORE="system"), _layer("user", CLAUDE_CODE_CERT_STORE="bundled")]
    t = ct.claude_trust({"CLAUDE_CODE_CERT_STORE": "bundled"}, layers, build="native")
    assert t.stores() == ["system"] and t.cert_store[1].endswith("managed.json")


def test_extra_ca_certs_apply_whatever_the_cert_store():
    t = ct.claude_trust({"CLAUDE_CODE_CERT_STORE": "bundled", "NODE_EXTRA_CA_CERTS": "/ca.pem"}, [], build="native")
    assert t.stores() == ["bundled", "NODE_EXTRA_CA_CERTS"] and t.extra == ("NODE_EXTRA_CA_CERTS", "/ca.pem")


@pytest.mark.parametrize("node, env, reads_os_store, reason", [
    ("20.20.2", {}, False, "node_too_old"),
    ("22.15.0", {}, True, "node_reads_os_store"),
    ("22.12.0", {"NODE_USE_SYSTEM_CA": "1"}, False, "node_too_old"),
    ("24.6.0", {"NODE_USE_SYSTEM_CA": "1"}, True, "node_reads_os_store"),
    ("20.20.2", {"NODE_USE_SYSTEM_CA": "1"}, False, "node_too_old"),
])
def test_a_script_install_depends_on_the_node_that_runs_it(node, env, reads_os_store, reason):
    t = ct.claude_trust(env, [], build="node", node_version=node, system_bundle=SYSTEM_BUNDLE)
    assert t.system is reads_os_store and t.reasons[0][0] == reason


def test_settings_scopes_are_read_from_their_files(tmp_path):
    home, project = tmp_path / "home", tmp_path / "project"
    (home / ".claude").mkdir(parents=True)
    (project / ".claude").mkdir(parents=True)
    (home / ".claude" / "settings.json").write_text(json.dumps({"env": {"CLAUDE_CODE_CERT_STORE": "bundled"}}))
    (project / ".claude" / "settings.local.json").write_text(json.dumps({"env": {"NODE_EXTRA_CA_CERTS": "/x"}}))
    (project / ".claude" / "settings.json").write_text("{not json")
    paths = ct.settings_paths(str(home), str(project), {}, platform="linux")
    assert paths["managed"] == "/etc/claude-code/managed-settings.json"
    layers = ct.settings_layers(str(home), str(project), {}, paths=dict(paths, managed=str(tmp_path / "none")))
    assert [(l.scope, bool(l.error)) for l in layers] == [("local", False), ("project", True), ("user", False)]
    assert ct.effective("CLAUDE_CODE_CERT_STORE", {}, layers) == ("bundled", str(home / ".claude" / "settings.json"))


# -- the installed client ------------------------------------------------------------------------
def _require_claude() -> str:
    if os.path.isfile(CLAUDE) and os.access(CLAUDE, os.X_OK):
        return CLAUDE
    message = "Claude Code is not installed (.ci/install-claude.sh, or set PROXYDIAG_CLAUDE)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message + "; under CI=true this is an error")
    pytest.skip(message)


def test_the_npm_package_installs_the_native_build():
    path = _require_claude()
    install = find_claude({"PROXYDIAG_CLAUDE": path, "PATH": os.environ.get("PATH", "")})
    assert install is not None and install.via_npm and install.version
    # When a release goes back to a script for the Node on PATH, the OS-store rule changes with it.
    assert install.build == "native" == build_of(os.path.realpath(path)), install


def test_a_node_build_names_the_node_on_path_that_runs_it(tmp_path):
    """A script build (an old npm release, or --ignore-scripts) is run by the Node on PATH: the report's
    ``install`` object names it as ``node_path``/``node_version``; a native build has neither."""
    node = shutil.which("node")
    if not node:
        missing_tool("node is not installed (Debian: apt-get install nodejs)")
    script = tmp_path / "lib" / "cli.js"
    script.parent.mkdir()
    script.write_text("#!/usr/bin/env node\nconsole.log('2.0.0')\n")
    script.chmod(0o755)
    link = tmp_path / "claude"
    link.symlink_to(script)
    env = {"PROXYDIAG_CLAUDE": str(link), "PATH": os.path.dirname(node)}
    install = find_claude(env)
    assert install is not None and install.build == "node" and not install.via_npm
    assert install.node is not None and install.node.path == node and install.node.version == node_version(node)
    assert install.as_dict() == {"path": str(link), "real_path": str(script), "build": "node", "via_npm": False,
                                 "node_path": node, "node_version": node_version(node)}
    assert list(install.as_dict()) == ["path", "real_path", "build", "via_npm", "node_path", "node_version"]
    native = find_claude({"PROXYDIAG_CLAUDE": "/bin/true", "PATH": os.path.dirname(node)})
    assert native is not None and native.build == "native" and native.node is None
    assert "node_path" not in native.as_dict() and "node_version" not in native.as_dict()


def _namespace_prefix() -> list[str]:
    unshare = shutil.which("unshare")
    ok = unshare and subprocess.run([unshare, "-r", "-m", "true"], capture_output=True, timeout=10).returncode == 0
    if not ok:
        message = "unshare -r -m (a private mount namespace) is not permitted here"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return [unshare, "-r", "-m", "--", "sh", "-c",
            'mount --bind "$0" /etc/hosts && mount --bind "$1" "$2" && shift 2 && exec "$@"']


def _run_claude(lab, tmp_path, name: str, settings: dict | None, env: dict | None = None, *,
                os_store_ca: bool = True, subdir: str = "") -> dict:
    """The real client through the lab proxy, with the CA only in a private copy of the system bundle
    (*os_store_ca* False: nowhere in it)."""
    home = tmp_path / name
    (home / ".claude").mkdir(parents=True)
    if settings is not None:
        (home / ".claude" / "settings.json").write_text(json.dumps(settings))
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 api.anthropic.com\n127.0.0.1 localhost\n")
    bundle = tmp_path / ("os-store-with-ca.crt" if os_store_ca else "os-store.crt")
    bundle.write_bytes(open(SYSTEM_BUNDLE, "rb").read() + (b"\n" + lab.interception_ca_pem if os_store_ca else b""))
    run_env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "ANTHROPIC_API_KEY": "sk-ant-proxydiag-dummy",
               "DISABLE_AUTOUPDATER": "1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
               "CLAUDE_CODE_MAX_RETRIES": "0", "ANTHROPIC_BASE_URL": lab.target_url, **lab.env, **(env or {})}
    cmd = _namespace_prefix() + [str(hosts), str(bundle), SYSTEM_BUNDLE,
                                 _require_claude(), "-p", "hi", "--output-format", "json", "--bare"]
    (home / subdir).mkdir(exist_ok=True)
    proc = subprocess.run(cmd, env=run_env, capture_output=True, text=True, timeout=90, cwd=str(home / subdir))
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines, proc.stderr[-2000:]
    return json.loads(lines[-1])


def _proxy_answers(lab) -> bool:
    import socket
    import time
    from urllib.parse import urlsplit

    time.sleep(0.5)  # Squid's certificate helpers die within the first moments when they die at all
    proxy = urlsplit(lab.env["HTTPS_PROXY"])
    try:
        socket.create_connection((proxy.hostname, proxy.port), timeout=2).close()
        return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def bump():
    """The lab's ssl-bump Squid; started again once when it died at start (seen on a loaded machine)."""
    require_squid()
    from pytest_proxydiag.lab import Lab

    lab = Lab("ssl-bump-untrusted").__enter__()
    if not _proxy_answers(lab):
        lab.stop()
        lab = Lab("ssl-bump-untrusted").__enter__()
    yield lab
    lab.stop()


def test_real_claude_trusts_a_ca_only_in_the_os_store(bump, tmp_path):
    _require_claude()
    result = _run_claude(bump, tmp_path, "default", None)
    # The provider answered (401 to the dummy key): the interception CA was trusted from the OS store.
    assert result.get("api_error_status") == 401, result
    assert ct.claude_trust({}, [], build="native", system_bundle=SYSTEM_BUNDLE).system


def test_real_claude_with_cert_store_bundled_in_settings_rejects_it(bump, tmp_path):
    _require_claude()
    result = _run_claude(bump, tmp_path, "bundled", {"env": {"CLAUDE_CODE_CERT_STORE": "bundled"}})
    assert result.get("api_error_status") is None and "SELF_SIGNED_CERT_IN_CHAIN" in str(result.get("result")), result
    fixed = _run_claude(bump, tmp_path, "bundled-extra", {"env": {"CLAUDE_CODE_CERT_STORE": "bundled"}},
                        env={"NODE_EXTRA_CA_CERTS": str(_ca_file(bump, tmp_path))})
    assert fixed.get("api_error_status") == 401, fixed


def _ca_file(lab, tmp_path):
    path = tmp_path / "proxy-ca.pem"
    path.write_bytes(lab.interception_ca_pem)
    return path


def test_diagnosis_names_the_setting_and_the_file(run_diag, bump, diag_home, tmp_path, monkeypatch):
    """The CA is in the OS store (a copy standing for it) and every Python client reads it; Claude Code is told not to."""
    from pytest_proxydiag.branches.certificate import cafiles

    bundle = tmp_path / "os-store-with-ca.crt"
    bundle.write_bytes(open(SYSTEM_BUNDLE, "rb").read() + b"\n" + bump.interception_ca_pem)
    monkeypatch.setattr(cafiles, "SYSTEM_BUNDLES", (("debian", str(bundle)),))
    settings = diag_home / ".claude" / "settings.json"
    settings.parent.mkdir()
    settings.write_text(json.dumps({"env": {"CLAUDE_CODE_CERT_STORE": "bundled"}}))
    run = run_diag("-m", "certificate", "--proxydiag-clients", "none", lab=bump,
                   env={"SSL_CERT_FILE": str(bundle), "REQUESTS_CA_BUNDLE": str(bundle)})
    step = run.step("certificate.interception")
    assert step["outcome"] == "failed" and step["finding_key"] == "claude_cert_store", step
    assert f"CLAUDE_CODE_CERT_STORE=bundled in {settings}: the OS store is not read" in step["finding"]
    assert f"Remove CLAUDE_CODE_CERT_STORE from {settings}" in step["solution"]
    assert step["fix"]["env"] == {"NODE_EXTRA_CA_CERTS": step["evidence"]["ca_saved"]["ca_path"]}
    claude = step["evidence"]["claude_code"]
    assert claude["stores"] == ["bundled"] and claude["CLAUDE_CODE_CERT_STORE"]["where"] == str(settings)


@pytest.mark.parametrize("node, env, reads", [
    ("24.6.0", {"NODE_USE_SYSTEM_CA": "1"}, True),
    ("22.19.0", {"NODE_USE_SYSTEM_CA": "1"}, True),
    ("20.20.2", {"NODE_USE_SYSTEM_CA": "1"}, False),
    ("23.9.0", {"NODE_OPTIONS": "--use-system-ca"}, True),
    ("22.12.0", {"NODE_OPTIONS": "--use-system-ca"}, False),
    ("24.6.0", {}, False),
])
def test_plain_node_reads_the_os_store_only_when_told_and_able(node, env, reads):
    from pytest_proxydiag.branches import certificate as certs

    spec = certs.client_stores(env, home="/nonexistent", node_version=node)["node"]
    assert any(var == "system" for var, _p, _k in spec.sources) is reads, spec
    assert ("system + " in spec.via) is reads


# -- the native build on macOS and Windows (recorded outputs: these OSes cannot run here) ----------
def _corp_chain():
    import trustme
    from cryptography import x509

    ca = trustme.CA(organization_name="Corp Inspection")
    leaf = ca.issue_cert("api.anthropic.com")
    return ca, [x509.load_pem_x509_certificate(leaf.cert_chain_pems[0].bytes())]


def _macos_facts(monkeypatch, extra_pem: str):
    from pathlib import Path

    from pytest_proxydiag.machine import macos
    from pytest_proxydiag.machine.commands import CommandResult

    data = Path(__file__).parent / "data" / "machine"

    def fake_run(cmd, timeout=5.0):
        if cmd[:2] == ["security", "find-certificate"]:
            if cmd[-1].endswith("System.keychain"):
                return CommandResult(" ".join(cmd), "ok",
                                     (data / "security-find-certificate-system.txt").read_text() + extra_pem)
            return CommandResult(" ".join(cmd), "ok", extra_pem)  # the login keychain: the same CA again
        return CommandResult(" ".join(cmd), "ok", (data / "scutil-proxy-none.txt").read_text())

    monkeypatch.setattr(macos, "run", fake_run)
    return macos.read()


@pytest.mark.parametrize("os_name", ["macos", "windows"])
def test_native_build_reads_the_keychain_or_the_windows_store(monkeypatch, tmp_path, os_name):
    from cryptography.hazmat.primitives import serialization

    from pytest_proxydiag.branches.certificate import stores
    from pytest_proxydiag.machine import platform_stores, windows

    ca, chain = _corp_chain()
    if os_name == "macos":
        facts = _macos_facts(monkeypatch, ca.cert_pem.bytes().decode())
        label, reason = "the macOS Keychain (System and login keychains)", "native_reads_keychain"
        assert facts.holds(chain[0]) == [] and len(facts.stores["System"]) == 3
    else:
        from cryptography import x509

        der = x509.load_pem_x509_certificate(ca.cert_pem.bytes()).public_bytes(serialization.Encoding.DER)
        enum = {"ROOT": [(der, "x509_asn", True)], "CA": [(der, "x509_asn", True)]}.__getitem__
        from pathlib import Path

        from pytest_proxydiag.machine.commands import CommandResult

        netsh = (Path(__file__).parent / "data" / "machine" / "netsh-winhttp-direct.txt").read_text()
        facts = windows.read(enum=enum, winreg=None, runner=lambda cmd, timeout=5.0: CommandResult(" ".join(cmd), "ok",
                                                                                                   netsh))
        label, reason = "the Windows certificate store (ROOT and CA)", "native_reads_windows_store"
    store = platform_stores.native_os_store(facts, str(tmp_path))
    assert (store.os, store.label, store.count) == (os_name, label, 3 if os_name == "macos" else 1)
    t = ct.claude_trust({"SSL_CERT_FILE": "/ignored.pem"}, [], build="native", system_bundle="/etc/ssl/cert.pem",
                        os_store=(store.os, store.path))
    assert t.stores() == ["bundled", "system"] and t.system_sources == [("system", store.path)]
    assert t.reasons[0][0] == reason
    spec = stores.claude_store({}, home=str(tmp_path), cwd=str(tmp_path), certifi_path=None,
                               sys_path="/etc/ssl/cert.pem", os_store=store)
    assert spec.via == label + " + " + stores._t("bundled_roots")
    assert stores.trust_matrix(chain, {"claude-code": spec})["claude-code"].trusted
    # CLAUDE_CODE_CERT_STORE=bundled takes the OS store away there too.
    narrowed = stores.claude_store({"CLAUDE_CODE_CERT_STORE": "bundled"}, home=str(tmp_path), cwd=str(tmp_path),
                                   certifi_path=None, sys_path="/etc/ssl/cert.pem", os_store=store)
    assert not stores.trust_matrix(chain, {"claude-code": narrowed})["claude-code"].trusted


def test_on_linux_the_os_store_is_the_bundle_rule():
    from pytest_proxydiag.machine import platform_stores

    assert platform_stores.this_machine_os_store("linux") is None
    facts = platform_stores.MachineFacts("wsl")
    assert platform_stores.native_os_store(facts).path is None


def test_this_machines_store_is_read_once_and_removed_at_exit(monkeypatch, tmp_path):
    import atexit

    from pytest_proxydiag.machine import platform_stores

    calls, registered = [], []
    monkeypatch.setattr(platform_stores, "_NATIVE_CACHE", {})
    monkeypatch.setattr(platform_stores, "read_machine",
                        lambda p: calls.append(p) or platform_stores.MachineFacts("macos", stores={"System": []}))
    monkeypatch.setattr(atexit, "register", lambda fn, *a: registered.append((fn, a)))
    first = platform_stores.this_machine_os_store("darwin")
    assert platform_stores.this_machine_os_store("darwin") is first and calls == ["darwin"]
    assert first.path and os.path.isfile(first.path) and first.count == 0
    fn, args = registered[0]
    fn(*args)
    assert not os.path.exists(first.path)



# -- where the OS store's location comes from ---------------------------------------------------------
def test_ssl_cert_file_and_dir_count_only_from_the_environment():
    """Claude Code reads its OS store when it starts: SSL_CERT_FILE/SSL_CERT_DIR in a settings env block come too
    late (measured below); the trust row says so instead of counting them."""
    layers = [_layer("user", SSL_CERT_FILE="/corp/bundle.pem", SSL_CERT_DIR="/corp/certs")]
    t = ct.claude_trust({}, layers, build="native", system_bundle=SYSTEM_BUNDLE)
    assert t.system_sources == [("system", SYSTEM_BUNDLE)], t
    assert ("os_store_var_in_settings", {"vars": "SSL_CERT_FILE, SSL_CERT_DIR",
                                         "where": "/home/u/.claude/user.json"}) in t.reasons, t.reasons
    shell = ct.claude_trust({"SSL_CERT_FILE": "/corp/bundle.pem"}, layers, build="native", system_bundle=SYSTEM_BUNDLE)
    assert ("SSL_CERT_FILE", "/corp/bundle.pem") in shell.system_sources, shell


def test_real_claude_reads_ssl_cert_file_from_the_shell_only_and_an_unhashed_ssl_cert_dir(bump, tmp_path):
    """Measured with 2.1.332, the CA nowhere in the OS bundle: SSL_CERT_FILE in the settings env block is not read
    (SELF_SIGNED_CERT_IN_CHAIN), from the shell it is (the provider's 401); an SSL_CERT_DIR without c_rehash
    links is read too (OpenSSL would find nothing there)."""
    _require_claude()
    bundle = tmp_path / "corp-bundle.pem"
    bundle.write_bytes(open(SYSTEM_BUNDLE, "rb").read() + b"\n" + bump.interception_ca_pem)
    in_settings = _run_claude(bump, tmp_path, "settings", {"env": {"SSL_CERT_FILE": str(bundle)}}, os_store_ca=False)
    assert "SELF_SIGNED_CERT_IN_CHAIN" in str(in_settings.get("result")), in_settings
    in_shell = _run_claude(bump, tmp_path, "shell", None, env={"SSL_CERT_FILE": str(bundle)}, os_store_ca=False)
    assert in_shell.get("api_error_status") == 401, in_shell
    plain = tmp_path / "plain-certs"
    plain.mkdir()
    (plain / "corp.pem").write_bytes(bump.interception_ca_pem)
    unhashed = _run_claude(bump, tmp_path, "dir", None, env={"SSL_CERT_DIR": str(plain)}, os_store_ca=False)
    assert unhashed.get("api_error_status") == 401, unhashed


def test_the_trust_row_follows_those_rules(run_diag, bump, diag_home, tmp_path):
    """SSL_CERT_FILE only in ~/.claude/settings.json: Claude Code is not trusted, and the row says why; an
    unhashed SSL_CERT_DIR in the shell holding the CA: Claude Code is trusted (OpenSSL's clients are not)."""
    bundle = tmp_path / "corp-bundle.pem"
    bundle.write_bytes(open(SYSTEM_BUNDLE, "rb").read() + b"\n" + bump.interception_ca_pem)
    settings = diag_home / ".claude" / "settings.json"
    settings.parent.mkdir()
    settings.write_text(json.dumps({"env": {"SSL_CERT_FILE": str(bundle)}}))
    step = run_diag("-m", "certificate", "--proxydiag-clients", "none", lab=bump).step("certificate.interception")
    untrusted = step["finding"].split("Not trusted by:")[1]
    assert "Claude Code (" in untrusted, untrusted
    assert f"SSL_CERT_FILE in {settings} is not read: Claude Code reads its OS store when it starts" in untrusted
    settings.unlink()
    plain = tmp_path / "plain-certs"
    plain.mkdir()
    (plain / "corp.pem").write_bytes(bump.interception_ca_pem)
    step = run_diag("-m", "certificate", "--proxydiag-clients", "none", lab=bump,
                    env={"SSL_CERT_DIR": str(plain)}).step("certificate.interception")
    untrusted = step["finding"].split("Not trusted by:")[1]
    assert "Claude Code" not in untrusted and "curl" in untrusted, untrusted



def test_real_claude_opens_a_relative_node_extra_ca_certs_from_where_it_starts(bump, tmp_path):
    """"corp.pem" in the settings env block: trusted from the directory holding it, not from a project below."""
    _require_claude()
    settings = {"env": {"NODE_EXTRA_CA_CERTS": "corp.pem"}}
    for name, subdir, expected in (("rel-here", "", 401), ("rel-proj", "proj", None)):
        home = tmp_path / name
        home.mkdir()
        (home / "corp.pem").write_bytes(bump.interception_ca_pem)
        result = _run_claude(bump, tmp_path, name, settings, os_store_ca=False, subdir=subdir)
        assert result.get("api_error_status") == expected, (name, result)
