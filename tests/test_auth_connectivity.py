"""AUTH and CONNECTIVITY steps against real Squid misconfigurations from the lab.

Each finding is provoked by a real misconfiguration and asserted by step id,
outcome and solution text; the healthy lab proves there is no false positive.
"""

from __future__ import annotations

import os
import time
from urllib.parse import quote

import pytest

AUTH_CONN = ("-m", "auth or connectivity")


def test_healthy_proxy_has_no_finding(run_diag, lab_factory):
    lab = lab_factory("healthy")
    run = run_diag(*AUTH_CONN, lab=lab)
    assert run.failed() == set(), run.output
    assert run.root_cause is None
    assert run.step("connectivity.proxy_reachable")["outcome"] == "passed"
    assert run.step("connectivity.proxy_works", target=lab.target_url)["outcome"] == "passed"
    assert run.step("auth.credentials", target=lab.target_url)["outcome"] == "passed"
    assert "No finding" in run.output


def test_correct_basic_credentials_pass(run_diag, lab_factory):
    lab = lab_factory("basic-auth")
    run = run_diag(*AUTH_CONN, lab=lab)
    assert run.failed() == set(), run.output
    assert "the proxy offers Basic" in run.step("auth.scheme")["summary"]


def test_wrong_password_is_a_credentials_finding(run_diag, lab_factory):
    lab = lab_factory("wrong-password")
    run = run_diag(*AUTH_CONN, lab=lab)
    step = run.step("auth.credentials", target=lab.target_url)
    assert step["outcome"] == "failed" and step["finding_key"] == "rejected"
    assert "407" in step["finding"] and "ERR_CACHE_ACCESS_DENIED" in step["finding"]
    assert step["solution"].startswith("Contact IT for correct credentials")
    assert run.root_cause == "auth.credentials"
    # What depends on a working tunnel says which step blocks it.
    works = run.step("connectivity.proxy_works", target=lab.target_url)
    assert works["outcome"] == "skipped" and works["blocked_by"] == "auth.credentials"
    password = lab.proxy_url.split("://", 1)[1].rpartition("@")[0].partition(":")[2]
    assert password and password not in run.output and password not in run.json_path.read_text()


def test_missing_credentials_are_required(run_diag, lab_factory):
    lab = lab_factory("basic-auth")
    proxy = f"http://127.0.0.1:{lab.proxy_port}"
    run = run_diag(*AUTH_CONN, lab=lab, env={"HTTPS_PROXY": proxy, "HTTP_PROXY": proxy})
    step = run.step("auth.credentials", target=lab.target_url)
    assert step["outcome"] == "failed" and step["finding_key"] == "required"
    assert "carries no credentials" in step["finding"] and "Basic realm" in step["finding"]
    assert "--proxy-user YOUR_USER" in step["solution"]


def test_unencoded_special_characters_are_found_and_encoded_without_showing_the_password(run_diag, lab_factory):
    lab = lab_factory("special-chars-password")
    run = run_diag(*AUTH_CONN, lab=lab)
    step = run.step("auth.special_chars")
    assert step["outcome"] == "failed" and step["finding_key"] == "unencoded"
    assert "@" in step["finding"] and "#" in step["finding"]
    assert "from urllib" not in step["solution"] and "u.quote(getpass.getpass()" in step["solution"]
    assert f"127.0.0.1:{lab.proxy_port}" in step["solution"] and "***" in step["solution"]
    assert run.root_cause == "auth.special_chars"
    # The intended credentials, encoded, are accepted by the real proxy: the fix works.
    assert step["evidence"]["proxy_accepts_encoded_url"] == "accepted by the proxy"
    assert step["fix"]["env"]["HTTPS_PROXY"].endswith(f":<URL-ENCODED-PASSWORD>@127.0.0.1:{lab.proxy_port}")
    password = lab.proxy_url.split("://", 1)[1].rpartition("@")[0].partition(":")[2]
    text = run.output + run.json_path.read_text()
    for form in (password, quote(password, safe="")):
        assert form not in text


def test_only_proxy_option_and_no_variable_means_not_exported(run_diag, lab_factory, diag_home):
    lab = lab_factory("healthy")
    (diag_home / ".zshrc").write_text(f'export HTTPS_PROXY="{lab.proxy_url}"\n')
    run = run_diag(*AUTH_CONN, "--proxydiag-proxy", lab.proxy_url,
                   *[a for a in lab.pytest_args])
    step = run.step("auth.env_exported")
    assert step["outcome"] == "failed" and step["finding_key"] == "missing"
    assert "came from cli" in step["finding"] and ".zshrc (line 1)" in step["finding"]
    assert "export HTTPS_PROXY=" in step["solution"]


def test_upper_and_lower_case_disagreeing(run_diag, lab_factory):
    lab = lab_factory("healthy")
    run = run_diag(*AUTH_CONN, lab=lab, env={"https_proxy": "http://127.0.0.1:1"})
    step = run.step("auth.env_exported")
    assert step["outcome"] == "failed" and step["finding_key"] == "case_mismatch"
    assert "https_proxy=http://127.0.0.1:1" in step["finding"]


def test_only_http_proxy_set(run_diag, lab_factory, monkeypatch):
    lab = lab_factory("healthy")
    env = {"HTTP_PROXY": lab.env["HTTP_PROXY"]}
    run = run_diag(*AUTH_CONN, *lab.pytest_args, env=env)
    step = run.step("auth.env_exported")
    assert step["outcome"] == "failed" and step["finding_key"] == "http_only"
    assert "Claude Code uses HTTP_PROXY" in step["finding"]
    assert step["fix"]["env"]["HTTPS_PROXY"] == lab.env["HTTP_PROXY"]


def test_proxy_only_in_a_profile_this_shell_did_not_load(run_diag, diag_home):
    (diag_home / ".bashrc").write_text("# corp\nexport HTTPS_PROXY=http://proxy.corp.example:8080\n")
    run = run_diag(*AUTH_CONN)
    step = run.step("auth.env_exported")
    assert step["outcome"] == "failed" and step["finding_key"] == "profile_only"
    assert ".bashrc (line 2)" in step["finding"]


@pytest.fixture
def netrc_lab(lab_factory):
    return lab_factory("basic-auth")


def _netrc(diag_home, text, mode=0o600):
    path = diag_home / ".netrc"
    path.write_text(text)
    os.chmod(path, mode)
    return path


def _lab_credentials(lab):
    userinfo = lab.proxy_url.split("://", 1)[1].rpartition("@")[0]
    return userinfo.partition(":")[0], userinfo.partition(":")[2]


def test_netrc_world_readable(run_diag, netrc_lab, diag_home):
    user, password = _lab_credentials(netrc_lab)
    path = _netrc(diag_home, f"machine 127.0.0.1\nlogin {user}\npassword {password}\n", 0o644)
    run = run_diag("-m", "auth", lab=netrc_lab)
    step = run.step("auth.netrc")
    assert step["outcome"] == "failed" and step["finding_key"] == "mode"
    assert "-rw-r--r--" in step["finding"] and f"chmod 600 {path}" in step["solution"]


def test_netrc_login_rejected_and_never_shown(run_diag, netrc_lab, diag_home):
    user, _ = _lab_credentials(netrc_lab)
    _netrc(diag_home, f"machine 127.0.0.1 login {user} password netrc-wrong-9371\n")
    run = run_diag("-m", "auth", lab=netrc_lab)
    step = run.step("auth.netrc")
    assert step["outcome"] == "failed" and step["finding_key"] == "rejected"
    assert "Contact IT" in step["solution"]
    assert "netrc-wrong-9371" not in run.output + run.json_path.read_text()


def test_netrc_malformed(run_diag, netrc_lab, diag_home):
    _netrc(diag_home, "machine 127.0.0.1 login\n")
    run = run_diag("-m", "auth", lab=netrc_lab)
    step = run.step("auth.netrc")
    assert step["outcome"] == "failed" and step["finding_key"] == "malformed"
    assert "machine 127.0.0.1" in step["solution"]


def test_netrc_correct_passes_and_absent_skips(run_diag, netrc_lab, diag_home):
    run = run_diag("-m", "auth", lab=netrc_lab)
    assert run.step("auth.netrc")["outcome"] == "skipped"
    assert "no .netrc" in run.step("auth.netrc")["skip_reason"]
    user, password = _lab_credentials(netrc_lab)
    _netrc(diag_home, f"machine 127.0.0.1\n  login {user}\n  password {password}\n")
    run = run_diag("-m", "auth", lab=netrc_lab)
    assert run.step("auth.netrc")["outcome"] == "passed"


def test_ntlm_only_proxy_needs_cntlm(run_diag, lab_factory):
    lab = lab_factory("ntlm-only")
    run = run_diag(*AUTH_CONN, lab=lab)
    step = run.step("auth.scheme")
    assert step["outcome"] == "failed" and step["finding_key"] == "ntlm_or_negotiate"
    assert "NTLM" in step["finding"] and "Negotiate" in step["finding"]
    assert "cntlm -c ~/.cntlm.conf" in step["solution"] and "kinit" in step["solution"]
    # Pasteable as shown (indented): no here-document whose indented EOF never ends it, no 'Password ***'
    # (the redacted placeholder) to paste into the config: cntlm -H makes the hash from the password it asks.
    assert "<< EOF" not in step["solution"] and "***" not in step["solution"], step["solution"]
    assert "cntlm -H -u youruser -d COMPANY" in step["solution"] and "PassNTLMv2" in step["solution"]
    assert run.root_cause == "auth.scheme"
    assert run.step("auth.credentials", target=lab.target_url)["blocked_by"] == "auth.scheme"


def test_proxy_down(run_diag, lab_factory):
    lab = lab_factory("proxy-down")
    run = run_diag(*AUTH_CONN, lab=lab)
    step = run.step("connectivity.proxy_reachable")
    assert step["outcome"] == "failed" and step["finding_key"] == "refused"
    # A refusal is an answer: the host is reached, so no DNS or VPN checklist; the service or the port.
    assert "nothing accepts connections on port" in step["solution"] and "nslookup" not in step["solution"]
    assert "start it" in step["solution"] and "Retest: nc -zv 127.0.0.1 " in step["solution"]
    assert run.step("auth.credentials", target=lab.target_url)["blocked_by"] == "connectivity.proxy_reachable"


def test_blackholed_proxy_costs_one_timeout(run_diag, lab_factory):
    lab = lab_factory("proxy-blackholed")
    start = time.monotonic()
    run = run_diag(*AUTH_CONN, "--proxydiag-timeout", "1", lab=lab)
    elapsed = time.monotonic() - start
    step = run.step("connectivity.proxy_reachable")
    assert step["outcome"] == "failed" and step["finding_key"] == "timeout"
    assert "timed out" in step["finding"]
    # A hang guard, not a speed target: ten steps must not each wait for the timeout.
    assert elapsed < 6, f"{elapsed:.1f}s for a 1s timeout"
    assert {s["outcome"] for s in run.steps if s["id"] != "connectivity.proxy_reachable"} <= {"skipped", "passed"}


def test_unresolvable_proxy_host(run_diag):
    run = run_diag(*AUTH_CONN, env={"HTTPS_PROXY": "http://proxy.does-not-exist.invalid:8080"})
    step = run.step("connectivity.proxy_reachable")
    assert step["outcome"] == "failed" and step["finding_key"] == "unresolvable"
    assert "nslookup proxy.does-not-exist.invalid" in step["solution"]


def test_wrong_port_finds_the_one_that_answers(run_diag, lab_factory):
    lab = lab_factory("wrong-port")
    run = run_diag(*AUTH_CONN, lab=lab)
    step = run.step("connectivity.proxy_port")
    assert step["outcome"] == "failed" and step["finding_key"] == "other_port"
    real_port = int(lab.pytest_args[lab.pytest_args.index("--proxydiag-port-candidates") + 1])
    assert f"http://127.0.0.1:{real_port}" in step["solution"]
    assert run.root_cause == "connectivity.proxy_port"


def test_closed_port_with_nothing_else_open(run_diag, lab_factory):
    lab = lab_factory("proxy-down")
    run = run_diag(*AUTH_CONN, lab=lab)
    step = run.step("connectivity.proxy_port")
    assert step["outcome"] == "failed" and step["finding_key"] == "none_open"
    assert "Contact IT for the correct proxy endpoint" in step["solution"]
    # Nothing answers anywhere: the proxy is down (or elsewhere), which reachability says first.
    assert run.root_cause == "connectivity.proxy_reachable"


def test_upstream_down_is_a_proxy_works_finding(run_diag, lab_factory):
    lab = lab_factory("upstream-down")
    run = run_diag(*AUTH_CONN, lab=lab)
    step = run.step("connectivity.proxy_works", target=lab.target_url)
    assert step["outcome"] == "failed" and step["finding_key"] == "connect_failed"
    assert "503" in step["finding"] and "ERR_CONNECT_FAIL" in step["finding"]
    assert "Contact IT" in step["solution"]
    assert run.root_cause == "connectivity.proxy_works"


def test_no_proxy_containing_the_provider(run_diag, lab_factory):
    lab = lab_factory("no-proxy-provider")
    run = run_diag(*AUTH_CONN, lab=lab)
    step = run.step("connectivity.no_proxy", target=lab.target_url)
    assert step["outcome"] == "failed" and step["finding_key"] == "provider_excluded"
    assert ".anthropic.com" in step["finding"]
    corrected = step["fix"]["env"]["NO_PROXY"]
    assert "anthropic" not in corrected and "localhost" in corrected and "127.0.0.1" in corrected
    assert f'export NO_PROXY="{corrected}"' in step["solution"]
    assert run.root_cause == "connectivity.no_proxy"


def test_gateway_not_running(run_diag, lab_factory):
    lab = lab_factory("healthy")
    run = run_diag(*AUTH_CONN, "--proxydiag-gateway", "http://127.0.0.1:1", lab=lab)
    step = run.step("connectivity.gateway")
    assert step["outcome"] == "failed" and step["finding_key"] == "unreachable"
    assert "litellm --config config.yaml" in step["solution"]


def test_gateway_running(run_diag, lab_factory):
    lab = lab_factory("healthy")
    port = lab.http_target_url.rsplit(":", 1)[1]
    run = run_diag(*AUTH_CONN, "--proxydiag-gateway", f"http://127.0.0.1:{port}", lab=lab)
    assert run.step("connectivity.gateway")["outcome"] == "passed"


def test_gateway_absent_is_skipped_with_reason(run_diag, lab_factory):
    run = run_diag(*AUTH_CONN, lab=lab_factory("healthy"))
    step = run.step("connectivity.gateway")
    assert step["outcome"] == "skipped" and "no gateway configured" in step["skip_reason"]


def test_pieces_of_an_unencoded_password_that_clients_quote_are_masked(run_diag, lab_factory):
    lab = lab_factory("healthy")
    # httpx reads "Summer2024" as the port and says so in its error; nothing may show it.
    proxy = f"http://bob:abc:Summer2024/x@127.0.0.1:{lab.proxy_port}"
    run = run_diag("-m", "auth or connectivity or application", *lab.pytest_args,
                   env={"HTTPS_PROXY": proxy, "HTTP_PROXY": proxy})
    assert run.step("auth.special_chars")["outcome"] == "failed"
    assert "Summer2024" not in run.output + run.json_path.read_text()


@pytest.mark.parametrize("kind", ["directory", "binary", "huge", "macdef-default-comments"])
def test_odd_netrc_files_never_crash(run_diag, netrc_lab, diag_home, kind):
    path = diag_home / ".netrc"
    user, password = _lab_credentials(netrc_lab)
    if kind == "directory":
        path.mkdir()
    elif kind == "binary":
        path.write_bytes(bytes(range(256)) * 8)
    elif kind == "huge":
        path.write_text("machine other.example login x password y\n" * 40000)
    else:
        path.write_text(f"# the corporate proxy\nmacdef init\ncd /pub\n\nmachine 127.0.0.1\n  login {user}\n"
                        f"  password {password}\ndefault login anonymous password guest\n")
    os.chmod(path, 0o600) if path.is_file() else None
    run = run_diag("-m", "auth", lab=netrc_lab)
    step = run.step("auth.netrc")
    expected = {"directory": ("failed", "not a regular file"), "binary": ("failed", ""),
                "huge": ("failed", "bytes, not a .netrc"), "macdef-default-comments": ("passed", "")}[kind]
    assert step["outcome"] == expected[0], step
    assert expected[1] in (step["finding"] or "")
    assert not [s for s in run.steps if s["outcome"] == "error"] and "Traceback" not in run.output


@pytest.mark.parametrize("value", ['"{url}"', "'{url}'", " {url}", "{url} "])
def test_quotes_or_blanks_pasted_into_the_variable(run_diag, lab_factory, value):
    lab = lab_factory("healthy")
    pasted = value.format(url=lab.env["HTTPS_PROXY"])
    run = run_diag(*AUTH_CONN, *lab.pytest_args, env={"HTTPS_PROXY": pasted})
    step = run.step("auth.env_exported")
    assert step["outcome"] == "failed" and step["finding_key"] == "malformed_value", step
    assert "HTTPS_PROXY holds the proxy URL inside " + ("quotes" if value[0] in "\"'" else "blanks") in step["finding"]
    assert step["fix"]["env"]["HTTPS_PROXY"] == lab.env["HTTPS_PROXY"]
    assert run.root_cause == "auth.env_exported"


def test_a_mistyped_proxy_url_is_named_with_what_to_write(run_diag):
    run = run_diag("-m", "connectivity", "--proxydiag-clients", "none",
                   env={"HTTPS_PROXY": "http:/127.0.0.1:9", "HTTP_PROXY": "http:/127.0.0.1:9"})
    step = run.step("connectivity.proxy_reachable")
    assert step["outcome"] == "failed" and step["finding_key"] == "invalid_url", step
    assert "has 'http:/' where 'http://' belongs; write http://127.0.0.1:9" in step["finding"]
    assert 'export HTTPS_PROXY="http://<PROXY-HOST>:<PORT>"' in step["solution"]
    assert "proxy.company.com" not in run.output


def test_a_lowercase_proxy_variable_on_another_port_is_found_from_the_uppercase_one(run_diag, lab_factory):
    """https_proxy (read first by curl and Python) names a closed port while HTTPS_PROXY names the working one:
    the port scan tries the uppercase variable's port first, and the fix sets both spellings."""
    lab = lab_factory("healthy")
    run = run_diag(*AUTH_CONN, lab=lab, env={"https_proxy": "http://127.0.0.1:9"})
    step = run.step("connectivity.proxy_port")
    assert run.root_cause == "connectivity.proxy_port" and step["finding_key"] == "other_port", run.output[-3000:]
    assert f'export HTTPS_PROXY="{lab.env["HTTPS_PROXY"]}"' in step["solution"]
    assert 'https_proxy="$HTTPS_PROXY"' in step["solution"]
    assert step["fix"]["env"]["https_proxy"] == lab.env["HTTPS_PROXY"]


def test_a_proxy_only_in_claude_codes_settings_is_the_one_diagnosed(run_diag, lab_factory, diag_home):
    """HTTPS_PROXY only in ~/.claude/settings.json (none in the shell): Claude Code's traffic takes it, so it is the
    proxy under diagnosis; its wrong password is the root cause, not 'export it in your shell'."""
    import json

    lab = lab_factory("wrong-password")
    (diag_home / ".claude").mkdir()
    (diag_home / ".claude" / "settings.json").write_text(json.dumps({"env": {"HTTPS_PROXY": lab.env["HTTPS_PROXY"]}}))
    env = {k: v for k, v in lab.env.items() if "proxy" not in k.lower()}
    # application too: its env_in_shell fix carries the placeholder, which must stay readable everywhere.
    run = run_diag("-m", "auth or connectivity or application", "--proxydiag-clients", "none", "--proxydiag-no-direct",
                   *lab.pytest_args, env=env)
    assert run.doc["config"]["proxy"]["source"] == "settings:HTTPS_PROXY", run.doc["config"]["proxy"]
    assert run.root_cause == "auth.credentials", run.output[-3000:]
    assert run.step("auth.env_exported")["outcome"] == "passed"
    assert "Claude Code takes it from settings:HTTPS_PROXY" in run.step("auth.env_exported")["summary"]
    for step_id in ("auth.credentials", "application.env_in_shell"):
        assert 'export HTTPS_PROXY="http://alice:<URL-ENCODED-PASSWORD>@127.0.0.1:' in run.step(step_id)["solution"]
    assert "not-the-password" not in run.output + run.json_path.read_text()


@pytest.fixture
def pac_server(tmp_path):
    """An intranet web server (Python's http.server) serving the proxy auto-config file, as a WPAD host does."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "proxy.pac").write_text(
        'function FindProxyForURL(url, host) {\n'
        '  if (dnsDomainIs(host, ".corp.example")) return "DIRECT";\n'
        '  return "PROXY proxy.corp.example:3128; PROXY backup.corp.example:8080; DIRECT";\n}\n')
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(tmp_path / "www"))
    handler.log_message = lambda *a, **k: None
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_a_pac_file_url_in_https_proxy_is_named_with_the_proxy_it_holds(run_diag, pac_server):
    """HTTPS_PROXY set to the PAC file's address (what a browser's 'automatic configuration URL' shows): the web
    server there refuses CONNECT, which is not a rule IT must relax; the proxy is the one the PAC file names."""
    url = f"http://127.0.0.1:{pac_server}/proxy.pac"
    run = run_diag("-m", "connectivity", "--proxydiag-no-direct", "--proxydiag-clients", "none",
                   env={"HTTPS_PROXY": url})
    step = run.step("connectivity.proxy_works")
    assert step["outcome"] == "failed" and step["finding_key"] == "pac_url", step
    assert f"HTTPS_PROXY names {url}, the address of a proxy auto-config (PAC) file, not a proxy" in step["finding"]
    assert "proxy.corp.example:3128, backup.corp.example:8080" in step["finding"], step["finding"]
    assert "for api.anthropic.com it answers PROXY proxy.corp.example:3128" in step["finding"], step["finding"]
    assert 'export HTTPS_PROXY="http://proxy.corp.example:3128"' in step["solution"], step["solution"]
    assert "allow CONNECT" not in step["solution"]
    assert step["fix"]["env"]["HTTPS_PROXY"] == "http://proxy.corp.example:3128" and step["fix"]["verified"] is None
