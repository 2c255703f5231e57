"""The OS readers (WSL, macOS Keychain and proxy, Windows store and proxy) on recorded outputs.

These OSes cannot run here: each reader takes its raw input (a tool's output, a registry stand-in,
ssl.enum_certificates' tuples) and the tests replay what the real tools print, with sys.platform simulated.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from pytest_proxydiag.machine import commands, macos, platform_stores, windows, wsl
from pytest_proxydiag.machine.commands import CommandResult

DATA = Path(__file__).parent / "data" / "machine"


def recorded(name: str) -> str:
    return (DATA / name).read_text()


@pytest.fixture(scope="module")
def corp_ca() -> x509.Certificate:
    return x509.load_pem_x509_certificate(trustme.CA(organization_name="Corp Inspection").cert_pem.bytes())


# -- WSL ----------------------------------------------------------------------------------------------
def test_wsl2_is_recognised_with_its_nat_nameserver():
    info = wsl.parse(recorded("proc-version-wsl2.txt"), "5.15.153.1-microsoft-standard-WSL2",
                     recorded("resolv-conf-wsl.txt"), "nat\n")
    assert (info.is_wsl, info.version, info.networking, info.nameserver, info.resolv_generated) == \
        (True, 2, "nat", "172.29.96.1", True)


def test_wsl1_and_mirrored_networking():
    info = wsl.parse(recorded("proc-version-wsl1.txt"), "4.4.0-19041-Microsoft", "nameserver 10.255.255.254\n",
                     "mirrored")
    assert (info.version, info.networking, info.resolv_generated) == (1, "mirrored", False)


def test_plain_linux_is_not_wsl():
    assert not wsl.parse(recorded("proc-version-debian.txt"), "6.1.0-28-amd64").is_wsl
    assert not wsl.detect().is_wsl  # this machine


# -- macOS --------------------------------------------------------------------------------------------
def test_scutil_manual_proxy_with_exceptions():
    proxy = macos.parse_scutil_proxy(recorded("scutil-proxy-manual.txt"))
    assert proxy.https == "http://proxy.corp.example:8080" and proxy.http == "http://proxy.corp.example:8080"
    assert proxy.bypass == ["*.local", "169.254/16", "*.corp.example"] and proxy.pac_url is None


def test_scutil_pac_url_and_no_proxy():
    assert macos.parse_scutil_proxy(recorded("scutil-proxy-pac.txt")).pac_url == "http://wpad.corp.example/proxy.pac"
    assert macos.parse_scutil_proxy(recorded("scutil-proxy-none.txt")) is None


def test_keychains_and_proxy_read_through_the_tools(monkeypatch, corp_ca):
    pem = corp_ca.public_bytes(serialization.Encoding.PEM).decode()
    calls = []

    def fake_run(cmd, timeout=5.0):
        calls.append(cmd)
        if cmd[:2] == ["security", "find-certificate"]:
            if cmd[-1].endswith("System.keychain"):
                return CommandResult(" ".join(cmd), "ok", pem + "garbage\n-----BEGIN CERTIFICATE-----\nxx\n"
                                                          "-----END CERTIFICATE-----\n")
            return CommandResult(" ".join(cmd), "failed", "", "The specified keychain could not be found.")
        return CommandResult(" ".join(cmd), "ok", recorded("scutil-proxy-pac.txt"))

    monkeypatch.setattr(sys, "platform", "darwin")
    monkeypatch.setattr(macos, "run", fake_run)
    facts = platform_stores.read_machine()
    assert facts.os == "macos" and facts.holds(corp_ca) == ["System"]
    assert facts.proxies[0].pac_url == "http://wpad.corp.example/proxy.pac"
    assert "could not be found" in facts.problems[0]
    assert ["security", "find-certificate", "-a", "-p", "/Library/Keychains/System.keychain"] in calls


# -- Windows ------------------------------------------------------------------------------------------
class FakeWinreg:
    HKEY_CURRENT_USER = "HKCU"

    def __init__(self, values: dict):
        self.values = values

    @contextlib.contextmanager
    def OpenKey(self, root, path):  # noqa: N802 - winreg's names
        assert (root, path) == ("HKCU", windows.INTERNET_SETTINGS)
        yield object()

    def QueryValueEx(self, key, name):  # noqa: N802
        if name not in self.values:
            raise FileNotFoundError(name)
        return self.values[name], 1


def test_windows_store_registry_and_winhttp(monkeypatch, corp_ca):
    der = corp_ca.public_bytes(serialization.Encoding.DER)
    enum = {"ROOT": [(der, "x509_asn", True), (b"\x00pkcs7", "pkcs_7_asn", True)], "CA": []}.__getitem__
    reg = FakeWinreg({"ProxyEnable": 1, "ProxyServer": "http=proxy.corp.example:8080;https=proxy.corp.example:8443",
                      "ProxyOverride": "*.corp.example;<local>", "AutoConfigURL": "http://wpad/proxy.pac"})
    runner = lambda cmd, timeout=5.0: CommandResult(" ".join(cmd), "ok", recorded("netsh-winhttp-proxy.txt"))  # noqa: E731
    monkeypatch.setattr(sys, "platform", "win32")
    facts = windows.read(enum=enum, winreg=reg, runner=runner)
    assert facts.holds(corp_ca) == ["ROOT"]
    user, winhttp = facts.proxies
    assert (user.https, user.http, user.pac_url) == ("http://proxy.corp.example:8443", "http://proxy.corp.example:8080",
                                                     "http://wpad/proxy.pac")
    assert user.bypass == ["*.corp.example", "<local>"]
    assert (winhttp.https, winhttp.bypass) == ("http://proxy.corp.example:8080", ["*.corp.example", "<local>"])


def test_windows_proxy_disabled_and_direct_winhttp():
    assert windows.registry_proxy(FakeWinreg({"ProxyEnable": 0, "ProxyServer": "proxy:8080"})) is None
    assert windows.parse_netsh_winhttp(recorded("netsh-winhttp-direct.txt")) is None
    assert windows.parse_proxy_server("proxy:3128") == ("http://proxy:3128", "http://proxy:3128")


def test_off_windows_the_store_reader_says_why():
    stores, problems = windows.store_certificates()
    assert stores == {} and "only on Windows" in problems[0]


# -- running tools ----------------------------------------------------------------------------------
def test_a_missing_tool_is_a_clean_status_not_an_error():
    res = commands.run(["proxydiag-no-such-tool", "--version"])
    assert res.status == "missing" and not res.ok


def test_a_slow_tool_is_bounded():
    res = commands.run(["sleep", "5"], timeout=0.2)
    assert res.status == "timeout"


# -- what the certificate finding says about the machine --------------------------------------------
def test_wsl_note_gives_the_windows_export_and_the_nat_address():
    from pytest_proxydiag.branches import certificate as certs

    info = wsl.parse(recorded("proc-version-wsl2.txt"), "5.15.153.1-microsoft-standard-WSL2",
                     recorded("resolv-conf-wsl.txt"), "nat")
    note = certs.machine_note(platform_stores.MachineFacts("wsl", wsl=info), None, "Corp Inspection CA")
    assert "This is WSL2 (5.15.153.1-microsoft-standard-WSL2)" in note
    assert "Where-Object Subject -like '*Corp Inspection CA*'" in note and "sudo update-ca-certificates" in note
    assert "a proxy on the Windows host is at 172.29.96.1" in note


def test_keychain_holding_the_ca_is_said(corp_ca):
    from pytest_proxydiag.branches import certificate as certs

    facts = platform_stores.MachineFacts("macos", stores={"System": [corp_ca], "login": []})
    assert "already in this machine's Keychain (System)" in certs.machine_note(facts, corp_ca, "Corp")
    assert certs.machine_note(platform_stores.MachineFacts("linux"), corp_ca, "Corp") == ""
