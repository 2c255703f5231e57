"""The BYPASS branch: routing per client proved through a relay, NO_PROXY, system and application settings.

System files live under a temporary root (``system_proxy.SYSTEM_ROOT``) and HOME is a
temporary directory: the real /etc and home directory are never read or written.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import threading
import urllib.request
from pathlib import Path

import pytest

from pytest_proxydiag.branches import bypass
from pytest_proxydiag.machine import system_proxy
from pytest_proxydiag.net.relay import ObservedRelay


@pytest.fixture(autouse=True)
def system_root(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "sysroot"
    (root / "etc").mkdir(parents=True)
    monkeypatch.setattr(system_proxy, "SYSTEM_ROOT", root)
    return root


@pytest.fixture
def fake_gsettings(tmp_path, monkeypatch):
    """A gsettings on PATH that answers like a GNOME desktop with a manual proxy (a real subprocess)."""
    def install(mode: str, host: str = "", port: int = 0) -> None:
        bindir = tmp_path / "fakebin"
        bindir.mkdir(exist_ok=True)
        script = bindir / "gsettings"
        script.write_text("#!/bin/sh\n"
                          "case \"$2 $3\" in\n"
                          f"  'org.gnome.system.proxy mode') echo \"'{mode}'\";;\n"
                          f"  'org.gnome.system.proxy.https host') echo \"'{host}'\";;\n"
                          f"  'org.gnome.system.proxy.https port') echo '{port}';;\n"
                          "  *) echo \"''\";;\n"
                          "esac\n")
        script.chmod(script.stat().st_mode | stat.S_IXUSR)
        monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    return install


def _bypass(run_diag, lab, *extra, env=None):
    return run_diag("-m", "bypass", *extra, lab=lab, env=env)


# -- unit ------------------------------------------------------------------------------------------
def test_normalize_and_compare_proxies_ignore_credentials_and_case():
    assert bypass.normalize_proxy("http://u:p@Proxy.Corp:8080") == "proxy.corp:8080"
    assert bypass.normalize_proxy("proxy.corp:3128") == "proxy.corp:3128"
    assert bypass.same_proxy("http://proxy.corp:8080/", "proxy.corp:8080")
    assert not bypass.same_proxy("http://proxy.corp:8080", "http://proxy.corp:3128")
    assert bypass.normalize_proxy("") is None


def test_relay_env_points_proxies_at_the_relay_and_keeps_credentials_and_no_proxy():
    env = {"HTTPS_PROXY": "http://alice:s3cret@proxy.corp:8080", "http_proxy": "proxy.corp:8080",
           "NO_PROXY": ".corp", "ALL_PROXY": "socks5://proxy.corp:1080", "HOME": "/h"}
    out = bypass.relay_env(env, "http://127.0.0.1:5555")
    assert out["HTTPS_PROXY"] == "http://alice:s3cret@127.0.0.1:5555"
    assert out["http_proxy"] == "http://127.0.0.1:5555"
    assert out["NO_PROXY"] == ".corp" and out["ALL_PROXY"] == env["ALL_PROXY"] and out["HOME"] == "/h"


def test_relay_records_what_arrives_and_forwards_the_answer():
    upstream = socket.socket()
    upstream.bind(("127.0.0.1", 0))
    upstream.listen(1)

    def answer():
        conn, _ = upstream.accept()
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        conn.close()
    t = threading.Thread(target=answer, daemon=True)
    t.start()
    port = upstream.getsockname()[1]
    with ObservedRelay(lambda seconds: socket.create_connection(("127.0.0.1", port), timeout=seconds),
                       io_timeout=3) as relay:
        s = socket.create_connection(("127.0.0.1", relay.port), timeout=3)
        s.sendall(b"CONNECT api.anthropic.com:443 HTTP/1.1\r\nHost: api.anthropic.com:443\r\n"
                  b"Proxy-Authorization: Basic eDp5\r\n\r\n")
        reply = s.recv(65536)
        s.close()
        seen = relay.seen("api.anthropic.com:443")
    upstream.close()
    assert reply.startswith(b"HTTP/1.1 403")
    assert [(a.method, a.upstream_status, a.credentials) for a in seen] == [("CONNECT", 403, True)]


def test_system_sources_reads_every_kind_of_file(tmp_path, system_root):
    home = tmp_path / "h"
    home.mkdir()
    (system_root / "etc" / "environment").write_text('PATH="/usr/bin"\nhttps_proxy="http://other.corp:3128"\n')
    (system_root / "etc" / "apt" / "apt.conf.d").mkdir(parents=True)
    (system_root / "etc" / "apt" / "apt.conf.d" / "95proxy").write_text(
        'Acquire::https::Proxy "http://apt-proxy.corp:3142";\n// Acquire::http::Proxy "http://old:1";\n')
    (home / ".bashrc").write_text("export HTTPS_PROXY=http://bash.corp:8080\n")
    (home / ".npmrc").write_text("https-proxy=http://npm.corp:8080\nregistry=https://registry.npmjs.org/\n")
    (home / ".gitconfig").write_text('[user]\n  name = x\n[http]\n  proxy = http://git.corp:8080\n')
    (home / ".config" / "pip").mkdir(parents=True)
    (home / ".config" / "pip" / "pip.conf").write_text("[global]\nproxy = http://pip.corp:8080\n")
    sources, notes = bypass.system_sources(home, {"PIP_PROXY": "http://pipenv.corp:1"})
    found = {(s.where.split(":")[0], s.key, bypass.normalize_proxy(s.value)) for s in sources if s.kind == "proxy"}
    assert ("/etc/environment", "https_proxy", "other.corp:3128") in found
    assert ("/etc/apt/apt.conf.d/95proxy", "Acquire::https::Proxy", "apt-proxy.corp:3142") in found
    assert ("~/.bashrc", "HTTPS_PROXY", "bash.corp:8080") in found
    assert ("~/.npmrc", "https-proxy", "npm.corp:8080") in found
    assert ("~/.gitconfig", "[http] proxy", "git.corp:8080") in found
    assert ("~/.config/pip/pip.conf", "proxy", "pip.corp:8080") in found
    assert ("environment", "PIP_PROXY", "pipenv.corp:1") in found
    assert not any("old" in s.value for s in sources)  # commented out


def test_pac_url_without_pypac_is_skipped_with_the_reason(tmp_path):
    pac = tmp_path / "proxy.pac"
    pac.write_text('function FindProxyForURL(url, host) { return "PROXY pac.corp:8080"; }')
    try:
        import pypac  # noqa: F401
    except ImportError:
        sources, notes = bypass.pac_sources(str(pac), ["https://api.anthropic.com"], 2)
        assert any("pypac is not installed" in n for n in notes)
    else:
        sources, notes = bypass.pac_sources(str(pac), ["https://api.anthropic.com"], 2)
        assert [bypass.normalize_proxy(s.value) for s in sources] == ["pac.corp:8080"]


def test_commands_are_bounded():
    rc, out, err = bypass.run_bounded(["sleep", "5"], timeout=0.3)
    assert rc is None and "did not answer within 0.3s" in err


# -- real Squid through the lab ------------------------------------------------------------------
def test_healthy_proxy_fails_nothing_in_bypass_and_proves_one_client(run_diag, lab_factory):
    lab = lab_factory("healthy")
    run = _bypass(run_diag, lab)
    assert {s["id"]: s["outcome"] for s in run.steps} == {
        "bypass.traffic_via_proxy": "passed", "bypass.no_proxy": "passed", "bypass.system_proxy": "passed",
        "bypass.app_settings": "passed", "bypass.node_env_proxy": "passed"}, run.output[-3000:]
    s = run.step("bypass.traffic_via_proxy")
    witness = s["evidence"]["witness"]
    assert witness["observed"] is True and witness["arrival"] == f"CONNECT api.anthropic.com:{lab.origin_port}"
    assert "was sent to the proxy" in s["summary"] and "the proxy answered 200" in s["summary"]
    # The witness really went through the lab's Squid, not just through our relay.
    assert any(r.method == "CONNECT" and str(lab.origin_port) in r.url for r in lab.proxy_requests())


def test_no_proxy_listing_the_provider_fails_with_matrix_and_corrected_value(run_diag, lab_factory):
    lab = lab_factory("no-proxy-provider")
    run = _bypass(run_diag, lab)
    s = run.step("bypass.no_proxy")
    assert s["outcome"] == "failed", s
    assert "entry '.anthropic.com'" in s["finding"]
    assert "Claude Code (reads no_proxy): api.anthropic.com -> direct" in s["finding"]
    corrected = s["fix"]["env"]["NO_PROXY"]
    assert "anthropic" not in corrected and "localhost" in corrected
    assert f'export NO_PROXY="{corrected}"' in s["solution"]
    t = run.step("bypass.traffic_via_proxy")
    assert t["outcome"] == "failed" and "Claude Code -> api.anthropic.com" in t["finding"]
    assert "'.anthropic.com' matches" in t["finding"]
    assert "Remove the provider from NO_PROXY" in t["solution"]


def test_clients_disagree_on_wildcard_no_proxy_and_requests_agrees_with_the_matrix(run_diag, lab_factory,
                                                                                      monkeypatch):
    lab = lab_factory("healthy")
    run = _bypass(run_diag, lab, env={"NO_PROXY": "*.anthropic.com"})
    s = run.step("bypass.no_proxy")
    assert s["outcome"] == "failed"
    matrix = s["evidence"]["matrix"]
    assert matrix["curl"][lab.target_url] == "proxy" and matrix["claude"][lab.target_url] == "direct"
    assert matrix["go"][lab.target_url] == "direct" and matrix["requests"][lab.target_url] == "proxy"
    # The matrix is what the real libraries do, not only what we expect.
    import requests.utils

    monkeypatch.setenv("NO_PROXY", "*.anthropic.com")
    monkeypatch.delenv("no_proxy", raising=False)
    assert requests.utils.should_bypass_proxies(lab.target_url, no_proxy=None) is False
    assert bool(urllib.request.proxy_bypass_environment("api.anthropic.com")) is False
    t = run.step("bypass.traffic_via_proxy")
    assert t["outcome"] == "failed" and "Go net/http -> api.anthropic.com" in t["finding"]
    assert t["evidence"]["witness"]["observed"] is True  # curl still uses the proxy: proved


def test_local_gateway_and_metadata_must_stay_direct(run_diag, lab_factory):
    lab = lab_factory("healthy")
    run = _bypass(run_diag, lab, env={"ANTHROPIC_BASE_URL": "http://localhost:4000", "AWS_REGION": "us-east-1"})
    s = run.step("bypass.no_proxy")
    assert s["outcome"] == "failed", s
    assert "localhost goes through the proxy" in s["finding"]
    assert "169.254.169.254 goes through the proxy" in s["finding"]
    corrected = s["fix"]["env"]["NO_PROXY"]
    assert "169.254.169.254" in corrected and "localhost" in corrected and "anthropic" not in corrected


def test_a_vertex_user_keeps_googles_metadata_server_direct_by_its_name(run_diag, lab_factory):
    """Claude Code in Vertex AI mode without a login asks http://metadata.google.internal/computeMetadata/v1/instance
    (measured with 2.1.332: Squid logged those GETs, 502 from the proxy). A NO_PROXY holding only 169.254.169.254,
    as careful AWS users write it, sends that name to the corporate proxy, which cannot reach a VM's metadata."""
    lab = lab_factory("vertex-ssl-bump")
    aws_style = "localhost,127.0.0.1,::1,169.254.169.254"
    run = _bypass(run_diag, lab, env={"NO_PROXY": aws_style, "no_proxy": aws_style})
    s = run.step("bypass.no_proxy")
    assert s["outcome"] == "failed" and s["finding_key"] == "bypassed", s
    assert "metadata.google.internal goes through the proxy, but Google's metadata server" in s["finding"], s["finding"]
    corrected = s["fix"]["env"]["NO_PROXY"]
    assert "metadata.google.internal" in corrected and "169.254.169.254" in corrected, corrected
    assert "googleapis.com" not in corrected, corrected
    # The lab's careful Vertex AI user keeps the name direct; a login from a credentials file never asks it.
    assert _bypass(run_diag, lab).step("bypass.no_proxy")["outcome"] == "passed"
    adc = lab.workdir / "adc.json"
    adc.write_text("{}")
    s = _bypass(run_diag, lab, env={"NO_PROXY": aws_style, "no_proxy": aws_style,
                                    "GOOGLE_APPLICATION_CREDENTIALS": str(adc)}).step("bypass.no_proxy")
    assert s["outcome"] == "passed", s


def test_claude_settings_no_proxy_star_fails_app_settings(run_diag, lab_factory, diag_home):
    (diag_home / ".claude").mkdir()
    (diag_home / ".claude" / "settings.json").write_text(json.dumps({"env": {"NO_PROXY": "*"}}))
    lab = lab_factory("healthy")
    run = _bypass(run_diag, lab)
    s = run.step("bypass.app_settings")
    assert s["outcome"] == "failed", s
    assert "~/.claude/settings.json sets env.NO_PROXY = \"*\"" in s["finding"]
    assert "Claude Code sends api.anthropic.com direct" in s["finding"]
    assert "Edit ~/.claude/settings.json: remove \"NO_PROXY\"" in s["solution"]


def test_project_settings_with_another_proxy_fail_and_name_file_and_key(run_diag, lab_factory, pytester):
    (pytester.path / ".claude").mkdir()
    (pytester.path / ".claude" / "settings.local.json").write_text(
        json.dumps({"env": {"HTTPS_PROXY": "http://someone:else@other-proxy.corp:8080"}}))
    lab = lab_factory("healthy")
    run = _bypass(run_diag, lab)
    s = run.step("bypass.app_settings")
    assert s["outcome"] == "failed", s
    assert ".claude/settings.local.json sets env.HTTPS_PROXY" in s["finding"]
    assert "other-proxy.corp:8080 while the shell uses 127.0.0.1" in s["finding"]
    assert "else" not in s["finding"]  # the password in the settings URL is redacted


def test_invalid_settings_json_is_a_finding_not_a_crash(run_diag, lab_factory, diag_home):
    (diag_home / ".claude").mkdir()
    (diag_home / ".claude" / "settings.json").write_text('{"env": {"HTTPS_PROXY": ')
    run = _bypass(run_diag, lab_factory("healthy"))
    s = run.step("bypass.app_settings")
    assert s["outcome"] == "failed" and s["finding"].startswith("~/.claude/settings.json cannot be read")


def test_litellm_config_proxy_that_contradicts_the_environment(run_diag, lab_factory, tmp_path):
    cfg = tmp_path / "litellm.yaml"
    cfg.write_text("model_list: []\nenvironment_variables:\n  HTTPS_PROXY: http://gateway-proxy.corp:3128\n")
    run = _bypass(run_diag, lab_factory("healthy"), env={"LITELLM_CONFIG": str(cfg)})
    s = run.step("bypass.app_settings")
    assert s["outcome"] == "failed", s
    assert "environment_variables.HTTPS_PROXY" in s["finding"] and "LiteLLM uses gateway-proxy.corp:3128" in \
        s["finding"]


def test_system_files_and_profiles_that_disagree_fail_system_proxy(run_diag, lab_factory, diag_home, system_root):
    (system_root / "etc" / "environment").write_text('https_proxy="http://old-proxy.corp:3128"\n')
    (diag_home / ".bashrc").write_text("export HTTPS_PROXY=http://bash-proxy.corp:8080\n")
    (diag_home / ".gitconfig").write_text("[http]\n\tproxy = http://git-proxy.corp:8080\n")
    run = _bypass(run_diag, lab_factory("healthy"))
    s = run.step("bypass.system_proxy")
    assert s["outcome"] == "failed", s
    assert "/etc/environment:1: https_proxy = http://old-proxy.corp:3128" in s["finding"]
    assert "~/.bashrc:1: HTTPS_PROXY" in s["finding"] and "~/.gitconfig:2" in s["finding"]
    assert "git only (overrides the environment): http://git-proxy.corp:8080" in s["finding"]
    assert "started from this shell: 127.0.0.1:" in s["finding"]
    assert "Make every place name the same proxy" in s["solution"]


def test_gnome_manual_proxy_that_disagrees_is_reported(run_diag, lab_factory, fake_gsettings):
    fake_gsettings("manual", "desktop-proxy.corp", 8080)
    run = _bypass(run_diag, lab_factory("healthy"))
    s = run.step("bypass.system_proxy")
    assert s["outcome"] == "failed", s
    assert "gsettings org.gnome.system.proxy.https: host/port = desktop-proxy.corp:8080" in s["finding"]
    assert "GNOME apps and browsers" in s["finding"]


def test_system_settings_that_agree_pass(run_diag, lab_factory, diag_home, system_root, fake_gsettings):
    lab = lab_factory("healthy")
    (system_root / "etc" / "environment").write_text(f'https_proxy="{lab.proxy_url}"\n')
    (diag_home / ".bashrc").write_text(f"export HTTPS_PROXY={lab.proxy_url}\n")
    fake_gsettings("none")
    run = _bypass(run_diag, lab)
    s = run.step("bypass.system_proxy")
    assert s["outcome"] == "passed", s
    assert "/etc/environment" in s["summary"] and "~/.bashrc" in s["summary"]


def test_pac_file_naming_another_proxy_for_the_provider_is_a_conflict(run_diag, lab_factory, tmp_path):
    pytest.importorskip("pypac")
    pac = tmp_path / "corp.pac"
    pac.write_text('function FindProxyForURL(url, host) {\n'
                   '  if (dnsDomainIs(host, ".anthropic.com")) return "PROXY pac-proxy.corp:8080; DIRECT";\n'
                   '  return "DIRECT";\n}\n')
    run = _bypass(run_diag, lab_factory("healthy"), "--proxydiag-pac-url", str(pac))
    s = run.step("bypass.system_proxy")
    assert s["outcome"] == "failed", s
    assert f"PAC {pac}: FindProxyForURL(https://api.anthropic.com:" in s["finding"]
    assert "= pac-proxy.corp:8080" in s["finding"]
    assert "ask IT which proxy applies to the provider" in s["solution"]


def test_no_witness_client_is_started_against_a_dead_proxy(run_diag, lab_factory):
    """Issue 15: a client started against a blackholed proxy only waits out its timeout; the routing rules
    still decide the step."""
    lab = lab_factory("proxy-blackholed")
    run = run_diag("-m", "bypass or connectivity", "--proxydiag-timeout", "1.5", lab=lab)
    assert run.doc["root_cause"] == "connectivity.proxy_reachable"
    s = run.step("bypass.traffic_via_proxy")
    assert s["outcome"] == "passed" and "witness" not in s["evidence"], s
    assert s["duration_s"] < 1.0, s["duration_s"]
