"""Chains of proxies: the proxy in HTTPS_PROXY forwards to a parent proxy, and the parent answers.

Real Squid on loopback, a child (``cache_peer ... parent`` and ``never_direct allow all``, visible_hostname
child.corp.example) in front of a parent with Basic auth (visible_hostname parent.corp.example).  Squid 5.7 relays the
parent's 407 to CONNECT byte for byte: the parent's own Via and X-Cache, none of the child's (measured).
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
from pathlib import Path

import pytest

from conftest import require_squid

pytestmark = pytest.mark.timeout(120)

PARENT_USER, PARENT_PASSWORD = "alice", "parent-secret-3"


def _private_dir() -> Path:
    d = Path(tempfile.mkdtemp(prefix=f"proxydiag-lab-{os.getpid()}-chain-", dir="/tmp"))
    os.chmod(d, 0o755)
    return d


def _forwards(port: int, target: str, deadline: float) -> None:
    """Wait until the child forwards CONNECT (right after start Squid answers 500 ERR_CANNOT_FORWARD for a while)."""
    while time.monotonic() < deadline:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
            s.settimeout(2)
            if b"ERR_CANNOT_FORWARD" not in s.recv(4096):
                return
        time.sleep(0.2)


@pytest.fixture
def squid_chain(tmp_path):
    """start(login) -> (child proxy port, pytest args): a Squid child whose cache_peer line ends with *login*."""
    require_squid()
    from pytest_proxydiag.lab import HttpsOrigin, LabCA
    from pytest_proxydiag.lab.servers import free_port
    from pytest_proxydiag.lab.squid import Squid, htpasswd_line, squid_config, squid_helper

    started: list = []
    dirs: list[Path] = []

    def start(login: str):
        public = LabCA("Proxydiag Lab Public Roots", "Fake public root (lab only)")
        roots = tmp_path / "roots.pem"
        roots.write_bytes(public.cert_pem)
        origin = HttpsOrigin(public, tmp_path / "origin").start()
        started.append(origin)
        pd = _private_dir()
        dirs.append(pd)
        (pd / "hosts").write_text("127.0.0.1 api.anthropic.com google.com\n")
        (pd / "htpasswd").write_text(htpasswd_line(PARENT_USER, PARENT_PASSWORD) + "\n")
        for f in ("hosts", "htpasswd"):
            os.chmod(pd / f, 0o644)
        pport = free_port("127.0.0.1")
        parent = Squid(squid_config(pd, pport, hosts_file=pd / "hosts", rules=[
            f"auth_param basic program {squid_helper('basic_ncsa_auth')} {pd / 'htpasswd'}",
            "auth_param basic children 2 startup=1 idle=1", "auth_param basic realm corp parent",
            "acl authed proxy_auth REQUIRED", "visible_hostname parent.corp.example"],
            access=["http_access allow authed", "http_access deny all"]), pd, pport)
        started.append(parent)
        parent.start()
        cd = _private_dir()
        dirs.append(cd)
        cport = free_port("127.0.0.1")
        child = Squid(squid_config(cd, cport, rules=[
            f"cache_peer 127.0.0.1 parent {pport} 0 no-query no-digest default {login}".rstrip(),
            "never_direct allow all", "visible_hostname child.corp.example"]), cd, cport)
        started.append(child)
        child.start()
        target = f"api.anthropic.com:{origin.port}"
        _forwards(cport, target, time.monotonic() + 10)
        return cport, ["--proxydiag-target", f"https://{target}", "--proxydiag-resolve", f"{target}:127.0.0.1",
                       "--proxydiag-public-roots", str(roots), "--proxydiag-no-direct", "--proxydiag-no-claude-hosts",
                       "--proxydiag-clients", "none"]

    yield start
    for part in reversed(started):
        part.stop()
    for d in dirs:
        shutil.rmtree(d, ignore_errors=True)


def test_a_squid_parents_407_passed_on_names_both_hops_and_asks_whose_credentials(squid_chain, run_diag):
    """cache_peer without login= to a parent that wants Basic auth: the parent's 407, relayed. It used to be 'The
    proxy requires authentication ... Add them, URL-encoded, to the proxy URL', as if the first proxy asked."""
    port, args = squid_chain("")
    url = f"http://127.0.0.1:{port}"
    run = run_diag(*args, env={"HTTPS_PROXY": url, "HTTP_PROXY": url})
    assert run.root_cause == "auth.credentials", run.output[-3000:]
    step = run.step("auth.credentials")
    assert step["finding_key"] == "parent_required", step["finding"]
    assert ("but another proxy behind it wrote that answer: it names parent.corp.example, while the proxy itself, "
            "asked for its own page, names child.corp.example") in step["finding"]
    assert "Squid: login=user:password on its cache_peer line" in step["finding"]
    assert "Ask IT which credentials the parent proxy (parent.corp.example) expects from the proxy " \
           f"127.0.0.1:{port}" in step["solution"], step["solution"]
    assert f'export HTTPS_PROXY="http://YOUR_USER:<URL-ENCODED-PASSWORD>@127.0.0.1:{port}"' in step["solution"]
    assert "Via: 1.1 child.corp.example (squid/" in step["solution"]
    # The "for IT" block names the proxy's forwarding as the side to change first, not only this machine.
    assert run.doc["for_it"]["root_cause"]["change_on"].startswith("the corporate proxy's forwarding to its parent")


def test_credentials_passed_through_to_a_squid_parent_that_refuses_them(squid_chain, run_diag):
    """cache_peer login=PASSTHRU, a wrong password in HTTPS_PROXY: the parent's 407 names both hops, the password
    never printed."""
    port, args = squid_chain("login=PASSTHRU")
    url = f"http://{PARENT_USER}:not-the-password@127.0.0.1:{port}"
    run = run_diag(*args, env={"HTTPS_PROXY": url, "HTTP_PROXY": url})
    step = run.step("auth.credentials")
    assert step["finding_key"] == "parent_rejected", run.output[-3000:]
    assert "your credentials passed on (Squid: login=PASSTHRU on its cache_peer line;" in step["finding"]
    assert "not-the-password" not in run.output + run.json_path.read_text()


def test_a_squid_chain_with_the_parents_credentials_works(squid_chain, run_diag):
    port, args = squid_chain(f"login={PARENT_USER}:{PARENT_PASSWORD}")
    url = f"http://127.0.0.1:{port}"
    run = run_diag(*args, env={"HTTPS_PROXY": url, "HTTP_PROXY": url})
    assert run.root_cause is None and not run.failed(), run.output[-3000:]


def test_tinyproxy_to_a_parent_that_speaks_only_tls(tmp_path, run_diag):
    """tinyproxy's 'Upstream http' to a Squid https_port (a parent spoken to over TLS): tinyproxy speaks no TLS to
    its parent, and every CONNECT is closed without a reply (or, at times, its 503 'Could not send data to remote
    server'). It used to be 'closed without a reply ... Contact IT', the product and the hop unnamed."""
    require_squid()
    from pytest_proxydiag.lab import HttpsOrigin, LabCA
    from pytest_proxydiag.lab.products import MISCONFIGS, RealProxy
    from pytest_proxydiag.lab.servers import free_port
    from pytest_proxydiag.lab.squid import Squid, squid_config

    public = LabCA("Proxydiag Lab Public Roots", "Fake public root (lab only)")
    roots = tmp_path / "roots.pem"
    roots.write_bytes(public.cert_pem)
    d = _private_dir()
    chain, key = public.issue("127.0.0.1", "localhost")
    (d / "cert.pem").write_bytes(chain)
    (d / "key.pem").write_bytes(key)
    for f in ("cert.pem", "key.pem"):
        os.chmod(d / f, 0o644)
    port = free_port("127.0.0.1")
    lines = squid_config(d, port)
    lines[0] = f"https_port 127.0.0.1:{port} tls-cert={d / 'cert.pem'} tls-key={d / 'key.pem'}"
    parts: list = []
    try:
        origin = HttpsOrigin(public, tmp_path / "origin").start()
        parts.append(origin)
        parts.append(Squid(lines, d, port).start())
        MISCONFIGS["tinyproxy"]["tls-parent"] = lambda x: x + [f"Upstream http 127.0.0.1:{port}"]
        child = RealProxy("tinyproxy", misconfig="tls-parent")
        parts.append(child.start())
        target = f"api.anthropic.com:{origin.port}"
        run = run_diag("--proxydiag-target", f"https://{target}", "--proxydiag-resolve", f"{target}:127.0.0.1",
                       "--proxydiag-public-roots", str(roots), "--proxydiag-no-direct", "--proxydiag-no-claude-hosts",
                       "--proxydiag-clients", "none", env={"HTTPS_PROXY": child.url, "HTTP_PROXY": child.url})
    finally:
        MISCONFIGS["tinyproxy"].pop("tls-parent", None)
        for part in reversed(parts):
            part.stop()
        shutil.rmtree(d, ignore_errors=True)
    assert run.root_cause == "connectivity.proxy_works", run.output[-3000:]
    step = run.step("connectivity.proxy_works")
    assert step["finding_key"] in ("parent_silent", "parent_down"), step["finding"]
    assert "tinyproxy" in step["finding"] and "not only TLS" in step["solution"], step["solution"]
    # It used to say "Side that must change: the developer's machine (this one)".
    assert run.doc["for_it"]["root_cause"]["change_on"] == "the corporate proxy (its forwarding to its parent proxy: IT)"
