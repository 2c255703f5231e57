"""Proxy variables and credentials as users really set them, against a real Squid with Basic auth.

Each test plays one misconfiguration met in the field, asserts the step, the outcome and the solution, and
greps every output for the password.
"""

from __future__ import annotations

from pytest_proxydiag.lab.squid import htpasswd_line

AUTH_APP = ("-m", "auth or connectivity or application or bypass")


def _add_user(lab, user: str, password: str) -> None:
    """One more account in the lab Squid's htpasswd (basic_ncsa_auth rereads the file when it changes).

    Squid lower-cases a Basic user name before its helper sees it (``auth_param basic casesensitive off``, the
    default), so the entry is written lower-case, as an administrator's would match."""
    path = lab.squid.directory / "htpasswd"
    with open(path, "a", encoding="utf-8") as f:
        f.write(htpasswd_line(user.lower(), password) + "\n")


def _outputs(run) -> str:
    return run.output + run.json_path.read_text()


def test_a_windows_domain_user_name_with_an_unencoded_backslash_needs_encoding(run_diag, lab_factory):
    """``CORP\\jdoe`` typed as is: curl and httpx send it, but requests (urllib3) and Claude Code (WHATWG URL)
    read the backslash as the start of the path and look up the host ``corp`` (measured: requests'
    NameResolutionError for 'corp', Claude Code 2.1.332 ENOTFOUND). It is auth.special_chars, with %5C."""
    lab = lab_factory("basic-auth")
    password = "Winter2026!"
    _add_user(lab, "CORP\\jdoe", password)
    proxy = f"http://CORP\\jdoe:{password}@127.0.0.1:{lab.proxy_port}"
    run = run_diag(*AUTH_APP, lab=lab, env={"HTTPS_PROXY": proxy, "HTTP_PROXY": proxy})
    step = run.step("auth.special_chars")
    assert step["outcome"] == "failed" and step["finding_key"] == "unencoded", run.output[-3000:]
    assert "(\\)" in step["finding"] and "reads host 'corp'" in step["finding"]
    assert run.root_cause == "auth.special_chars"
    encoded = f"http://CORP%5Cjdoe:<URL-ENCODED-PASSWORD>@127.0.0.1:{lab.proxy_port}"
    assert step["fix"]["env"]["HTTPS_PROXY"] == encoded
    assert step["fix"]["verified"] is True and "requests" in " ".join(step["fix"]["verified_with"]), step["fix"]
    assert f"http://CORP%5Cjdoe:***@127.0.0.1:{lab.proxy_port}" in step["solution"]
    # requests' failure is this finding's, not a Python-only problem with an empty fix.
    py = run.step("application.python_requests", target=lab.target_url)
    assert py["outcome"] == "skipped" and py["blocked_by"] == "auth.special_chars", py
    assert "need URL encoding" in py["skip_reason"]
    assert password not in _outputs(run)


def test_credentials_only_in_lowercase_https_proxy_are_what_curl_python_and_claude_code_use(run_diag, lab_factory):
    """https_proxy carries the credentials, HTTPS_PROXY the same proxy without them. curl, Python and Claude Code
    2.1.332 read the lower-case variable first (measured: Claude Code's CONNECT carried the lower-case user; with
    the two swapped it got the 407), so every client works today; the fix must export the lower-case value in
    both spellings, never the upper-case one, which every client fails with."""
    lab = lab_factory("basic-auth")
    bare = f"http://127.0.0.1:{lab.proxy_port}"
    run = run_diag(*AUTH_APP, lab=lab, env={"https_proxy": lab.proxy_url, "HTTPS_PROXY": bare})
    step = run.step("auth.env_exported")
    assert step["outcome"] == "failed" and step["finding_key"] == "case_mismatch", run.output[-3000:]
    assert "curl, Python and Claude Code read the lower-case one" in step["finding"]
    shell = run.step("application.env_in_shell")
    assert shell["outcome"] == "failed" and shell["finding_key"] == "case_mismatch", shell
    assert "curl, Python and Claude Code use https_proxy, Go tools HTTPS_PROXY" in shell["finding"]
    wanted = f"http://alice:<URL-ENCODED-PASSWORD>@127.0.0.1:{lab.proxy_port}"
    assert shell["fix"]["env"] == {"HTTPS_PROXY": wanted, "https_proxy": wanted}, shell["fix"]
    assert f'export HTTPS_PROXY="{wanted}"' in shell["solution"]
    assert shell["fix"]["verified"] is not False, shell["fix"]
    assert "lab-secret-7" not in _outputs(run)


def test_a_password_that_is_a_common_word_masks_the_password_not_the_report(run_diag, lab_factory, tmp_path):
    """The password ``proxy``: masking it inside every word turned the JSON key ``proxy`` into ``***`` (the
    report then said "No *** is configured here"), and the fix script's ``export https_***=...`` line could not
    work. The password itself still appears nowhere, in no form."""
    lab = lab_factory("basic-auth")
    _add_user(lab, "carol", "proxy")
    creds = f"http://carol:proxy@127.0.0.1:{lab.proxy_port}"
    script = tmp_path / "fix.sh"
    run = run_diag(*AUTH_APP, f"--proxydiag-fix-script={script}", lab=lab,
                   env={"https_proxy": creds, "HTTPS_PROXY": f"http://127.0.0.1:{lab.proxy_port}",
                        "HTTP_PROXY": creds})
    assert run.doc["config"]["proxy"]["source"] == "env:https_proxy", run.doc["config"]
    assert "is configured here" not in run.output
    assert run.root_cause == "auth.env_exported"
    shell = run.step("application.env_in_shell")
    assert set(shell["fix"]["env"]) == {"HTTPS_PROXY", "https_proxy"}, shell["fix"]
    text = script.read_text()
    assert f'export https_proxy="http://carol:<URL-ENCODED-PASSWORD>@127.0.0.1:{lab.proxy_port}"' in text, text
    import base64

    everything = _outputs(run) + text
    for form in ("carol:proxy", base64.b64encode(b"carol:proxy").decode(), ":proxy@"):
        assert form not in everything


def test_a_proxy_url_without_credentials_is_told_where_they_go(run_diag, lab_factory):
    """HTTPS_PROXY without a user: the solution said "Add them, URL-encoded, to the proxy URL" and then showed the
    same bare URL to export, which gets the same 407."""
    lab = lab_factory("basic-auth")
    bare = f"http://127.0.0.1:{lab.proxy_port}"
    run = run_diag("-m", "auth", lab=lab, env={"HTTPS_PROXY": bare, "HTTP_PROXY": bare})
    step = run.step("auth.credentials", target=lab.target_url)
    assert step["outcome"] == "failed" and step["finding_key"] == "required", step
    assert f'export HTTPS_PROXY="http://YOUR_USER:<URL-ENCODED-PASSWORD>@127.0.0.1:{lab.proxy_port}"' \
        in step["solution"], step["solution"]
    assert f'export HTTPS_PROXY="{bare}"' not in step["solution"]


def test_proxy_credentials_only_in_netrc_are_read_by_no_client(run_diag, lab_factory, diag_home):
    """The flowchart's "should work without -x credentials": measured, curl 7.88.1 (with or without --netrc),
    requests, httpx and Claude Code 2.1.332 all send no Proxy-Authorization from a ~/.netrc entry for the proxy
    host and get 407. The login there is right, so the step said "accepted by the proxy" and passed."""
    lab = lab_factory("basic-auth")
    userinfo = lab.proxy_url.split("://", 1)[1].rpartition("@")[0]
    user, password = userinfo.split(":", 1)
    netrc = diag_home / ".netrc"
    netrc.write_text(f"machine 127.0.0.1\n  login {user}\n  password {password}\n")
    netrc.chmod(0o600)
    bare = f"http://127.0.0.1:{lab.proxy_port}"
    run = run_diag("-m", "auth", lab=lab, env={"HTTPS_PROXY": bare, "HTTP_PROXY": bare})
    step = run.step("auth.netrc")
    assert step["outcome"] == "failed" and step["finding_key"] == "not_read", step
    assert "take proxy credentials only from the proxy URL" in step["finding"]
    wanted = f"http://{user}:<URL-ENCODED-PASSWORD>@127.0.0.1:{lab.proxy_port}"
    assert step["fix"]["env"]["HTTPS_PROXY"] == wanted and f'export HTTPS_PROXY="{wanted}"' in step["solution"]
    assert step["fix"]["verified"] is True and "curl" in " ".join(step["fix"]["verified_with"]), step["fix"]
    assert password not in _outputs(run)


def test_proxy_credentials_in_curlrc_reach_curl_only(run_diag, lab_factory, diag_home):
    """``proxy-user`` in ~/.curlrc: curl passes the proxy, requests and httpx get 407. The finding named .netrc as
    a place curl takes proxy credentials from, which no curl here does (see the test above)."""
    lab = lab_factory("basic-auth")
    userinfo = lab.proxy_url.split("://", 1)[1].rpartition("@")[0]
    (diag_home / ".curlrc").write_text(f'proxy-user = "{userinfo}"\n')
    bare = f"http://127.0.0.1:{lab.proxy_port}"
    run = run_diag("-m", "auth or application", lab=lab, env={"HTTPS_PROXY": bare, "HTTP_PROXY": bare})
    assert run.root_cause == "auth.credentials"
    step = run.step("application.python_requests", target=lab.target_url)
    assert step["outcome"] == "failed" and "~/.curlrc" in step["finding"], step
    assert "never from .netrc" in step["finding"]
    assert userinfo.partition(":")[2] not in _outputs(run)


def test_a_socks5h_password_privoxy_cannot_hold_is_said_with_the_relay_line(run_diag, lab_factory, monkeypatch):
    """socks5h:// with a password holding ':' and '@' (URL-encoded, as curl and requests need it): the relay
    line for Privoxy takes the password as typed, and Privoxy 3.0.34 cannot carry ':', '@' or '#' there
    (measured: 500 from the relay with the raw and with the encoded password; '#' starts a comment)."""
    import pytest_proxydiag.lab as lab_module

    monkeypatch.setattr(lab_module, "PASSWORD", "pa:ss@word")
    lab = lab_factory("dante-wrong-password")
    proxy = f"socks5h://{lab_module.USER}:pa%3Ass%40word@127.0.0.1:{lab.proxy_port}"
    run = run_diag("-m", "connectivity", lab=lab, env={"HTTPS_PROXY": proxy, "HTTP_PROXY": proxy})
    step = run.step("connectivity.proxy_works", target=lab.target_url)
    assert step["outcome"] == "failed" and step["finding_key"] == "socks_clients", step
    assert "forward-socks5t / " + lab_module.USER + ":<PASSWORD>@127.0.0.1:" in step["solution"]
    assert "cannot carry a password holding" in step["solution"], step["solution"]
    assert "pa:ss@word" not in _outputs(run) and "pa%3Ass%40word" not in _outputs(run)


def test_a_literal_percent_in_the_password_is_an_encoding_finding_not_wrong_credentials(run_diag, lab_factory):
    """The password is ``Ab%41cd9`` and the user wrote it as is. Every client decodes ``%41`` to ``A`` and sends
    ``AbAcd9``: 407. The step said "Contact IT for correct credentials"; the proxy accepts the password as written,
    so it is auth.special_chars: the '%' must be written %25."""
    lab = lab_factory("basic-auth")
    _add_user(lab, "erin", "Ab%41cd9")
    proxy = f"http://erin:Ab%41cd9@127.0.0.1:{lab.proxy_port}"
    run = run_diag("-m", "auth", lab=lab, env={"HTTPS_PROXY": proxy, "HTTP_PROXY": proxy})
    step = run.step("auth.special_chars")
    assert step["outcome"] == "failed" and step["finding_key"] == "literal_percent", run.output[-3000:]
    assert "so encode it as %25" in step["finding"] and "%41" not in step["finding"]  # no piece of it is shown
    assert run.root_cause == "auth.special_chars"
    assert step["fix"]["env"]["HTTPS_PROXY"] == f"http://erin:<URL-ENCODED-PASSWORD>@127.0.0.1:{lab.proxy_port}"
    assert step["fix"]["verified"] is True, step["fix"]
    assert "Ab%41cd9" not in _outputs(run) and "Ab%2541cd9" not in _outputs(run)


def test_an_email_user_name_is_read_as_intended_by_requests():
    """``http://frank@corp.com:pw@proxy:8080``: urllib3 keeps the user percent-encoded (frank%40corp.com) and
    requests sends it decoded (measured: reached through Squid); only curl refuses the URL (exit 5). The finding
    said requests read another user."""
    from pytest_proxydiag.branches import auth
    from pytest_proxydiag.core.proxyurl import parse_proxy_url

    raw = "http://frank@corp.com:Spring2026@proxy.corp:8080"
    readings = auth.client_readings(raw, parse_proxy_url(raw))
    assert readings["requests/urllib3"] == "reads it as intended", readings


def test_a_proxy_in_curlrc_overrides_https_proxy_for_curl(run_diag, lab_factory, diag_home):
    """``proxy = ...`` in ~/.curlrc is curl's -x: it wins over HTTPS_PROXY (measured: curl 7.88.1 went to the
    .curlrc proxy and failed with exit 7 while requests, httpx and Claude Code reached the provider). Every step
    passed and bypass.app_settings said "no settings file with proxy keys"."""
    lab = lab_factory("healthy")
    (diag_home / ".curlrc").write_text('# corporate\nproxy = "http://127.0.0.1:9"\n')
    run = run_diag("-m", "bypass", lab=lab)
    step = run.step("bypass.app_settings")
    assert step["outcome"] == "failed" and step["finding_key"] == "override", step
    assert step["finding"].startswith("~/.curlrc sets proxy = \"http://127.0.0.1:9\": curl uses 127.0.0.1:9 "
                                      f"while the shell uses 127.0.0.1:{lab.proxy_port}"), step["finding"]
    assert 'Edit ~/.curlrc: set "proxy" to the same proxy as env:HTTPS_PROXY, or remove it' in step["solution"]


def test_a_password_that_is_part_of_a_host_name_leaves_the_host_readable(run_diag, lab_factory):
    """The password is the company's name, which is also a label of the proxy's or the provider's host name
    (here ``anthropic``, in api.anthropic.com): the report showed https://api.***.com as the target and in
    the commands to run. A host name is not the password; the password still appears nowhere on its own."""
    lab = lab_factory("basic-auth")
    _add_user(lab, "hank", "anthropic")
    proxy = f"http://hank:anthropic@127.0.0.1:{lab.proxy_port}"
    run = run_diag("-m", "auth or connectivity", lab=lab, env={"HTTPS_PROXY": proxy, "HTTP_PROXY": proxy})
    assert run.doc["config"]["targets"][0]["value"] == lab.target_url, run.doc["config"]["targets"]
    assert "api.***" not in run.output and lab.target_url in run.output
    assert ":anthropic@" not in _outputs(run) and "hank:anthropic" not in _outputs(run)


def test_the_digits_of_an_unencoded_password_do_not_mask_the_reports_times(run_diag, lab_factory):
    """``Summer@2026`` written as is: the pieces clients quote from a mis-split password are masked too, and the
    piece ``2026`` turned the report's start time into ``***-12-01T...``, so the fleet took an older report of
    the host for its latest. Dates, versions and addresses stay; the password and its pieces do not show."""
    lab = lab_factory("basic-auth")
    _add_user(lab, "ivan", "Summer@2026")
    proxy = f"http://ivan:Summer@2026@127.0.0.1:{lab.proxy_port}"
    run = run_diag("-m", "auth", lab=lab, env={"HTTPS_PROXY": proxy, "HTTP_PROXY": proxy})
    assert run.root_cause == "auth.special_chars"
    assert run.doc["run"]["started"][:2] == "20", run.doc["run"]["started"]
    text = _outputs(run)
    assert "Summer" not in text and "'2026'" not in text and ":2026@" not in text


def test_an_empty_lowercase_https_proxy_hides_the_uppercase_one_from_python_only(run_diag, lab_factory):
    """``export https_proxy=`` (cleared) beside a good HTTPS_PROXY: Python (requests, urllib, httpx) takes the empty
    lower-case value as "no proxy" and goes direct, while curl and Claude Code 2.1.332 count an empty value as unset
    and use HTTPS_PROXY (measured: both CONNECTed through Squid). The finding said curl and Claude Code read the
    lower-case one. The fix is to unset it."""
    lab = lab_factory("basic-auth")
    run = run_diag("-m", "auth", lab=lab, env={"https_proxy": ""})
    step = run.step("auth.env_exported")
    assert step["outcome"] == "failed" and step["finding_key"] == "empty_lower", step
    assert "curl and Claude Code" in step["finding"] and "Python" in step["finding"]
    assert "unset https_proxy" in step["solution"]
    assert step["fix"]["unset"] == ["https_proxy"] and not step["fix"]["env"], step["fix"]
    assert step["fix"]["verified"] is True and "requests" in " ".join(step["fix"]["verified_with"]), step["fix"]


def test_a_non_ascii_proxy_password_fails_with_requests_only(run_diag, lab_factory):
    """``contraseña1``, URL-encoded (contrase%C3%B1a1) or not: curl, httpx and Claude Code 2.1.332 send it as UTF-8
    and pass Squid; requests sends it as Latin-1 and gets 407 (measured). The finding told the user to put the
    credentials in the proxy URL, where they already were."""
    lab = lab_factory("basic-auth")
    _add_user(lab, "jose", "contraseña1")
    proxy = f"http://jose:contrase%C3%B1a1@127.0.0.1:{lab.proxy_port}"
    run = run_diag("-m", "auth or application", lab=lab, env={"HTTPS_PROXY": proxy, "HTTP_PROXY": proxy})
    step = run.step("application.python_requests", target=lab.target_url)
    assert step["outcome"] == "failed", step
    assert "Latin-1" in step["finding"] and "put them in the proxy URL" not in step["finding"], step["finding"]
    assert "contraseña1" not in _outputs(run) and "contrase%C3%B1a1" not in _outputs(run)
