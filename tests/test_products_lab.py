"""The same misconfiguration gives the same diagnosis whatever the proxy product: real tinyproxy, Apache httpd,
Privoxy, Dante and mitmproxy from their packages, on loopback, against the real plugin.

A product that is not installed is skipped with the command that installs it (under CI=true, where
``.ci/run`` installs them all, that is an error).
"""

from __future__ import annotations

import os

import pytest

from pytest_proxydiag.lab import EXPECTED_ROOT_CAUSE, PRODUCT_SCENARIOS, PRODUCTS, Lab
from pytest_proxydiag.lab.products import NSS_WRAPPER_INSTALL, find_nss_wrapper, find_product
from pytest_proxydiag.lab.scenarios import PASSWORD as PASSWORD_OF_LAB

pytestmark = pytest.mark.timeout(180)


def require_product(key: str) -> None:
    missing = []
    if not find_product(key):
        missing.append(f"{PRODUCTS[key].name} is not installed ({PRODUCTS[key].install})")
    if not find_nss_wrapper():
        missing.append(f"nss_wrapper is not installed ({NSS_WRAPPER_INSTALL})")
    if missing:
        message = "; ".join(missing)
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{message}; under CI=true this is an error, not a skip")
        pytest.skip(message)


@pytest.fixture
def product_lab():
    started: list[Lab] = []

    def start(name: str) -> Lab:
        require_product(PRODUCT_SCENARIOS[name][0])
        lab = Lab(name).start()
        started.append(lab)
        return lab

    yield start
    for lab in started:
        lab.stop()


#: The finding of the root cause names the product for every answer the proxy itself wrote.
NAMES_PRODUCT = {"wrong-password", "no-credentials", "blocked-domain", "upstream-down", "connect-port",
                 "client-refused", "no-connect-module", "port-rule", "no-connect", "parent-no-credentials",
                 "allow-list", "empty-block", "reverse-only", "parent-no-via",
                 "parent-down", "auth-file-unreadable",
                 "parent-denies", "parent-is-self", "no-auth-forwarding"}
#: Privoxy has no proxy authentication: its parent proxy (tinyproxy in the lab) checks the credentials Privoxy
#: forwards (enable-proxy-authentication-forwarding), and its answer is what the client reads.
ANSWERED_BY = {"privoxy-wrong-password": "tinyproxy", "privoxy-no-credentials": "tinyproxy",
               "privoxy-no-auth-forwarding": "tinyproxy"}
#: No byte of reply names the product: Privoxy's permit-access closes the connection at once.
SILENT = {"privoxy-client-refused"}


@pytest.mark.parametrize("name", sorted(PRODUCT_SCENARIOS))
def test_each_product_gives_the_diagnosis_of_its_misconfiguration(name, product_lab, run_diag):
    key, case = PRODUCT_SCENARIOS[name]
    lab = product_lab(name)
    run = run_diag("--proxydiag-clients", "none", lab=lab)
    assert run.root_cause == EXPECTED_ROOT_CAUSE[name], run.output[-4000:]
    if case == "healthy":
        assert not run.failed(), run.failed()
        return
    root = [s for s in run.steps if s["id"] == run.root_cause and s["outcome"] == "failed"][0]
    # "Blocked by X" names a step that failed, never one that was itself only blocked (whichever ran first).
    ran = {s["id"] for s in run.steps}
    dangling = [(s["id"], s["blocked_by"]) for s in run.steps
                if s.get("blocked_by") in ran and s["blocked_by"] not in run.failed()]
    assert not dangling, dangling
    socks = PRODUCTS[key].scheme.startswith("socks")
    if case in NAMES_PRODUCT and socks and case != "client-refused":
        # Two bytes of SOCKS5 reply name no product: the finding says so and where the reason is logged.
        assert "SOCKS5 replies do not name the product" in root["finding"], root["finding"]
    elif case in NAMES_PRODUCT and not socks and name not in SILENT:
        assert ANSWERED_BY.get(name, PRODUCTS[key].name) in root["finding"], root["finding"]
        assert "IT finds the entry in:" in root["finding"]
    if case == "wrong-password":
        assert root["finding_key"] in (("socks_rejected",) if socks else ("rejected", "rejected_401"))
        assert "not-the-password" not in run.output + run.json_path.read_text()
        assert "Contact IT for correct credentials" in root["solution"]
    if case in ("wrong-password", "no-credentials"):
        # tinyproxy's 401 (not 407) included: policy cannot judge the domains until the proxy lets us in.
        for step_id in ("policy.domain_allowed", "policy.proxy_logs"):
            assert run.step(step_id)["blocked_by"] == "auth.credentials", run.step(step_id)
    if case == "no-credentials" and key == "privoxy":
        # Privoxy's own page names Privoxy, the 407 its parent (tinyproxy): both hops named, IT asked whose
        # credentials the parent wants (here the user's, passed on with enable-proxy-authentication-forwarding 1).
        assert root["finding_key"] == "parent_required", root["finding"]
        assert "it names tinyproxy, while the proxy itself, asked for its own page, names Privoxy" in root["finding"]
        assert "put yours, URL-encoded, into the proxy URL" in root["solution"]
    elif case == "no-credentials":
        assert root["finding_key"] == ("socks_required" if socks else "required")
        assert "Add them, URL-encoded, to the proxy URL" in root["solution"]
    if case == "no-credentials":
        # The export line carries them (it used to repeat the URL without any: 'export HTTPS_PROXY="http://host:port"').
        assert f'export HTTPS_PROXY="{lab.proxy_url.replace("://", "://YOUR_USER:<URL-ENCODED-PASSWORD>@")}"' \
            in root["solution"], root["solution"]
    if case == "blocked-domain":
        assert root["finding_key"] == ("socks_denied" if socks else "blocked") and "api.anthropic.com" in root["finding"]
        if socks:  # reply 0x02 "not allowed by ruleset", judged by policy with the SOCKS server's ticket
            assert "connection not allowed by ruleset" in root["finding"] and "'socks pass' rule" in root["solution"]
    if case == "intercept":
        assert root["finding_key"] == "leaf_only"
        assert "~/.mitmproxy/mitmproxy-ca-cert.pem" in root["finding"] and "http://mitm.it" in root["finding"]
        # The file the curl line saves is the one the solution's install lines copy.
        assert "http://mitm.it/cert/pem -o proxy-ca.crt" in root["finding"], root["finding"]
        assert "sudo cp proxy-ca.crt " in root["solution"], root["solution"]
    if case == "socks":
        # Real Dante works for the SOCKS5 probe; Claude Code and Node cannot use a socks5h:// HTTPS_PROXY at all.
        assert root["finding_key"] == "socks_clients", root["finding"]
        assert "Claude Code (it has no SOCKS support" in root["finding"] and "Node programs" in root["finding"]
        assert "curl" in root["finding"].rpartition("These can:")[2]
        assert "forward-socks5t / 127.0.0.1:" in root["solution"] and "http://127.0.0.1:8118" in root["solution"]
    if case == "allow-list":
        # A filter that lets only a list of names through refuses google.com too, with the page of a filtered name: a
        # list that needs the provider's names (the whitelist ticket), not "this machine is refused".
        assert root["finding_key"] == "blocked", root["finding"]
        assert "Its page says the name itself was filtered ('" + {"tinyproxy": "request you made has been filtered",
                                                                  "privoxy": "Block reason: proxydiag lab: only "
                                                                             "approved sites"}[key] in root["finding"]
        assert "and it refuses google.com:443, a name every proxy lets through, the same way" in root["finding"]
        assert "Please allow outbound HTTPS through the web proxy to:" in root["solution"]
        assert "refuses everything from this machine" not in run.output and "ip route get" not in run.output
    if case == "empty-block":
        # Privoxy's empty block page has no Server header: its Last-Modified date of 1955 still names it.
        assert root["finding_key"] == "blocked" and "api.anthropic.com" in root["finding"], root["finding"]
        assert "not known to pytest-proxydiag" not in root["finding"]
    if case == "no-connect":
        # Privoxy's +limit-connect{,}: every CONNECT refused, plain http:// forwarded; the fix names Privoxy's action.
        assert root["finding_key"] == "connect_refused", root["finding"]
        assert "403 Request blocked by Privoxy" in root["finding"] and "The answer comes from Privoxy" in root["finding"]
        assert "Privoxy: the port in its +limit-connect action, e.g. {+limit-connect{443}}" in root["solution"]
    if case == "parent-no-credentials" and key == "privoxy":
        # Privoxy's forward-socks5 line without user:pass@ to a parent that wants them: IT's fix, said as such.
        assert root["finding_key"] == "parent_auth" and "'SOCKS5 authentication required'" in root["finding"]
        assert "forward-socks5 line" in root["solution"]
        assert "Add them, URL-encoded" not in run.output
    elif case == "parent-no-credentials":
        # tinyproxy's Upstream line without the parent's credentials: the parent's 407 passed on, its challenge dropped.
        # Not "offers no scheme" (auth.scheme), not "add your credentials": the proxy's configuration.
        assert root["finding_key"] == "parent_auth_relayed", root["finding"]
        assert "answered HTTP/1.0 407 Proxy Authentication Required to CONNECT" in root["finding"]
        assert "tinyproxy: 'Upstream http user:password@parent:port'" in root["solution"]
        for step_id in ("auth.scheme", "auth.credentials", "policy.proxy_logs"):
            assert run.step(step_id)["blocked_by"] == "connectivity.proxy_works", run.step(step_id)
    if case == "no-auth-forwarding":
        # Privoxy's 'forward' without enable-proxy-authentication-forwarding drops the right credentials: the parent's
        # 407 again. It used to be "Contact IT for correct credentials: the proxy rejects user alice".
        assert root["finding_key"] == "parent_rejected", root["finding"]
        assert "Privoxy: enable-proxy-authentication-forwarding 1" in root["finding"]
        assert "Contact IT for correct credentials" not in run.output and "lab-secret-7" not in run.output
    if case == "parent-socks-as-http":
        # 'Upstream http' to a SOCKS5 parent: every CONNECT closed without a byte, while tinyproxy answers its own
        # page. It used to be "closed without a reply ... Contact IT", the product unnamed.
        # At times tinyproxy answers 503 "Could not send data to remote server" instead (parent_down).
        assert root["finding_key"] in ("parent_silent", "parent_down"), root["finding"]
        assert "while it answers a request for itself as tinyproxy" in root["finding"] or \
            "('Could not send data to remote server')" in root["finding"]
        assert "'Upstream socks5 host:port' for a SOCKS parent" in root["solution"]
    if case == "parent-is-self":
        # Its Upstream line names itself: the inner copy's 400 "You tried to connect to the machine the proxy is
        # running on", relayed. It used to be "this port is probably no forward proxy" (bad_request).
        assert root["finding_key"] == "parent_loop", root["finding"]
        assert "that parent is the proxy itself (its own address and port)" in root["finding"]
        assert "tinyproxy: its Upstream line" in root["solution"] and "no forward proxy" not in run.output
        assert run.step("policy.domain_allowed")["outcome"] != "failed"
    if name == "apache-parent-no-credentials":
        # Apache's ProxyRemote relays its parent's 407 byte for byte (Server: tinyproxy, no Via): the proxy's own
        # page names Apache, which sends its parent no credentials with CONNECT. It used to be "requires
        # authentication ... Add them, URL-encoded, to the proxy URL" (auth.credentials), which cannot help.
        assert "it is tinyproxy's answer, while the proxy itself, asked for its own page, answers as Apache httpd " \
               "(mod_proxy)" in root["finding"], root["finding"]
        assert "Apache httpd: ProxyRemote sends none with CONNECT and has no setting for them, so its parent must " \
               "let the Apache host through without them" in root["solution"], root["solution"]
        assert "Add them, URL-encoded" not in run.output
    if case == "parent-down":
        # Its own parent proxy unreachable: the proxy's forwarding (IT), not the provider's outage nor this machine.
        assert root["finding_key"] == "parent_down", root["finding"]
        assert "it cannot reach its own parent proxy ('" + {"tinyproxy": "Unable to connect to upstream proxy",
                                                            "privoxy": "socks5 server unreachable"}[key] in root["finding"]
        assert {"tinyproxy": "tinyproxy: its Upstream line",
                "privoxy": "Privoxy: its forward / forward-socks5 / forward-socks5t lines"}[key] in root["solution"]
        for step_id in ("policy.domain_allowed", "policy.proxy_logs"):  # not "could not reach the provider"
            assert run.step(step_id)["blocked_by"] == "connectivity.proxy_works", run.step(step_id)
    if case == "parent-no-via":
        # No Via to tell (DisableViaHeader Yes): a 401 to a request without credentials is not tinyproxy's own (407).
        assert root["finding_key"] == "parent_auth_relayed", root["finding"]
        assert "it is a 401 to a request that carried no credentials, and tinyproxy answers 407" in root["finding"]
        assert "tinyproxy: 'Upstream http user:password@parent:port'" in root["solution"]
        assert "Add them, URL-encoded" not in run.output and "not-the-password" not in run.output
    if case == "parent-wrong-password" and key == "tinyproxy":
        # tinyproxy passes on its parent's 401 to the wrong password of its own Upstream line, adding its Via (never
        # on its own pages): the proxy's configuration, said as such, not "add your credentials to the proxy URL".
        assert root["finding_key"] == "parent_auth_relayed", root["finding"]
        assert "answered HTTP/1.0 401 Unauthorized to CONNECT" in root["finding"]
        assert "'Via: 1.1 " in root["finding"] and "(tinyproxy/" in root["finding"]
        assert "not your credentials" in root["finding"] and "The answer comes from tinyproxy" in root["finding"]
        assert "tinyproxy: 'Upstream http user:password@parent:port'" in root["solution"]
        assert "Add them, URL-encoded" not in run.output and "not-the-password" not in run.output
        for step_id in ("auth.credentials", "policy.domain_allowed", "policy.proxy_logs"):
            assert run.step(step_id)["blocked_by"] == "connectivity.proxy_works", run.step(step_id)
    if case == "parent-wrong-password" and key == "mitmproxy":
        # mitmproxy's --set upstream_auth refused by its parent: its 502 inside TLS names the parent's 401. It used to be
        # "the proxy could not reach the provider: check DNS, firewall, route".
        assert root["finding_key"] == "parent_auth", root["finding"]
        assert "refused HTTP CONNECT request: 401 Unauthorized" in root["finding"] and "from mitmproxy" in \
            root["finding"]
        assert "mitmproxy: the user:password of its --set upstream_auth" in root["solution"]
        assert "could not reach the provider" not in root["solution"] and "not-the-password" not in run.output
        assert "not-the-password" not in run.json_path.read_text()
    elif case == "parent-wrong-password" and key == "privoxy":
        # Privoxy's own forward-socks5 credentials, refused by its SOCKS5 parent: IT's fix, said as such.
        assert root["finding_key"] == "parent_auth" and "'SOCKS5 authentication failed'" in root["finding"]
        assert "The answer comes from Privoxy" in root["finding"] and "not your credentials" in root["finding"]
        assert "forward-socks5 line" in root["solution"] and "not-the-password" not in run.output
        # The log step tells IT the same thing, not "the proxy could not reach the provider: check its route".
        logs = run.step("policy.proxy_logs")
        assert logs["finding_key"] == "parent_auth", logs
        assert "could not reach the provider" not in logs["solution"] and "forward-socks5" in logs["solution"]
    if case == "parent-denies":
        # Privoxy's 503 whose page says its SOCKS5 parent denied the destination: a refused domain (the whitelist
        # ticket), not "the proxy is not working" nor "it could not reach the provider".
        assert root["finding_key"] == "block_page" and "api.anthropic.com" in root["finding"], root["finding"]
        assert "Please allow outbound HTTPS through the web proxy to:" in root["solution"]
        assert run.step("connectivity.proxy_works")["blocked_by"] == "policy.domain_allowed"
    if case == "auth-file-unreadable":
        # Apache's generic 500 to CONNECT with the right credentials: its password file, not "load mod_proxy_connect"
        # alone, and never "contact IT for correct credentials".
        assert root["finding_key"] == "auth_backend", root["finding"]
        assert "AH01620 'Could not open password file'" in root["finding"]
        assert "an AuthUserFile that exists and is readable by the Apache user" in root["solution"]
        assert "Contact IT for correct credentials" not in run.output and PASSWORD_OF_LAB not in run.output
    if case == "reverse-only":
        # A reverse-only tinyproxy forwards nothing: its 400 page is no request-form problem, the fix says ReverseOnly.
        assert root["finding_key"] == "connect_not_allowed", root["finding"]
        assert "HTTP/1.1 400 Bad Request" in root["finding"] and "No mapping found for requested url" in \
            root["solution"] and "ReverseOnly No" in root["solution"]
        assert "Check the scheme of the proxy URL first" not in root["solution"]
    if case in ("connect-port", "no-connect-module"):
        # A port (or CONNECT itself) refused for every domain: no ticket to whitelist the domain.
        assert root["finding_key"] == "connect_not_allowed", root["finding"]
        status = "403 Access violation" if case == "connect-port" else "500 Internal Server Error"
        assert f"does not allow CONNECT to api.anthropic.com:{lab.origin_port}: it answered HTTP/1.1 {status}" \
            in root["finding"]
        assert ("tinyproxy: ConnectPort with the port" if case == "connect-port" else
                "Apache httpd: mod_proxy_connect loaded") in root["solution"]
        domain = run.step("policy.domain_allowed")
        assert domain["outcome"] == "skipped" and domain["blocked_by"] == "connectivity.proxy_works", domain
        assert run.step("policy.proxy_logs")["blocked_by"] == "connectivity.proxy_works"  # no generic log ticket
    if case == "upstream-untrusted":
        # mitmproxy's own TLS to the provider fails (its 502 inside TLS): the proxy's CA store, never this machine's.
        assert root["finding_key"] == "upstream_tls", root["finding"]
        assert "'Certificate verify failed: unable to get local issuer certificate'" in root["finding"]
        assert "from mitmproxy" in root["finding"] and "ssl_verify_upstream_trusted_ca" in root["solution"]
        assert "Never turn the proxy's upstream verification off" in root["solution"]
    if case == "lazy-upstream-down":
        # 200 first, then a close in the TLS handshake: the proxy's upstream, said so, and no SDK or size finding.
        assert root["finding_key"] == "connect_failed" and "answers 200 before it has reached" in root["finding"]
        assert run.failed() == {"connectivity.proxy_works"}, run.failed()
    if case == "buffered":
        # mitmproxy holds an intercepted body until it ends (stream_large_bodies unset): the events arrive together.
        assert root["finding_key"] == "buffered", root["finding"]
        assert "--set stream_large_bodies=1 " in root["solution"]
    if case == "port-rule":
        # Apache's page for AllowCONNECT is ProxyBlock's: CONNECT to the same host on 443 tells the port rule.
        assert root["finding_key"] == "port_refused", root["finding"]
        assert "but not to api.anthropic.com:443" in root["finding"]
        assert ("SOCKS5 replies do not name the product" if socks else PRODUCTS[key].name) in root["finding"]
        assert {"dante": f"Dante: a 'socks pass' rule for port {lab.origin_port}",
                "apache": f"Apache httpd: add {lab.origin_port} to AllowCONNECT",
                "privoxy": f"Privoxy: {lab.origin_port} in its +limit-connect action, e.g. "
                           f"{{+limit-connect{{443,{lab.origin_port}}}}}"}[key] in root["solution"]
        assert "Please allow outbound HTTPS" not in root["solution"]
    if case == "client-refused" and socks:
        # Dante closes the connection on the greeting: its client rules, not "no SOCKS server here".
        assert root["finding_key"] == "socks_client_refused", root["finding"]
        assert "closed it at once, without a byte of SOCKS5 reply" in root["finding"]
        assert "Dante: a 'client pass { from: <your address>/32" in root["solution"]
    elif case == "client-refused" and key == "privoxy":
        # Privoxy drops this machine without a reply, google.com and plain http:// too: its client rule, not the domain.
        assert root["finding_key"] == "closes_everything", root["finding"]
        assert "and did the same to CONNECT google.com:443" in root["finding"]
        assert "Privoxy: a permit-access line with your address" in root["solution"] and "ip route get" in \
            root["solution"]
        assert "Please allow outbound HTTPS" not in run.output
    elif case == "client-refused" and key == "tinyproxy":
        assert root["finding_key"] == "client_denied", root["finding"]
        assert "refuses this machine itself, for every destination" in root["finding"]
        assert "tinyproxy: Allow / Deny" in root["solution"] and "will not help" in root["solution"]
        assert "Please allow outbound HTTPS" not in run.output
        assert run.step("policy.proxy_logs")["blocked_by"] == "connectivity.proxy_works"
    elif case == "client-refused":
        # Apache's page for Require ip is a domain rule's: the reference name, refused the same way, tells them apart.
        assert root["finding_key"] == "refuses_everything", root["finding"]
        assert "refuses google.com:443, a name every proxy lets through, exactly as it refuses api.anthropic.com" \
            in root["finding"]
        assert "Apache httpd: Require ip or Require user" in root["solution"]
        assert "CONNECT google.com:443: HTTP/1.1 403 Forbidden" in root["solution"]
        domain = run.step("policy.domain_allowed")
        assert domain["outcome"] == "skipped" and domain["blocked_by"] == "connectivity.proxy_works", domain
        assert "Please allow outbound HTTPS" not in run.output
    if case == "idle-timeout":
        # tinyproxy's Timeout (Dante's timeout.io) cuts the tunnel while the provider thinks: not a body-size limit,
        # not the SDK. Through Dante, that Claude Code cannot use SOCKS comes first; the cut is said all the same.
        cut = run.step("performance.latency", target=lab.target_url) if socks else root
        assert cut["finding_key"] == "cut", cut["finding"]
        assert "the tunnel opened and TLS worked, then the connection was closed after 1." in cut["finding"]
        assert ("Dante: timeout.io" if socks else "tinyproxy: Timeout") in cut["solution"], cut["solution"]
        assert "at least 10 minutes" in cut["solution"]
        assert "Privoxy: socket-timeout" in cut["solution"]
        for step_id in ("policy.payload_size", "application.debug_logging"):
            blocked = [s for s in run.steps if s["id"] == step_id][0]
            assert blocked["outcome"] != "failed", blocked
    if case == "upstream-down" and not socks:
        # Squid's ERR_* codes are explained as Squid's, not as if this product had sent them.
        logs = run.step("policy.proxy_logs")
        assert "Meaning of the proxy's codes" not in (logs["solution"] or ""), logs["solution"]
    if case == "reverse-mode":
        # mitmproxy's page says it is not in regular/upstream mode: no forward proxy there. It used to be 'check the
        # scheme (https:// to a plain port)', with the user's http:// already right.
        assert root["finding_key"] == "not_forward_proxy", root["finding"]
        assert "not running in regular/upstream mode" in root["finding"] and "from mitmproxy" in root["finding"]
        assert "mitmproxy: --mode regular" in root["solution"] and "https://" not in root["solution"].split("Retest")[0]
    if case == "drop-rule":
        # Closed right after the request, no answer: a rule dropping it, not an idle timeout (it used to be
        # performance.latency 'cut after 0.0 s: raise the proxy's idle timeout').
        assert root["finding_key"] == "dropped", root["finding"]
        assert "mitmproxy: block_list with status 444" in root["solution"]
        latency = run.step("performance.latency", target=lab.target_url)
        assert latency["outcome"] == "skipped" and latency["blocked_by"] == "policy.url_filtering", latency
        assert "idle" not in run.output
    if case == "body-limit":
        # mitmproxy's body_size_limit: 413 inside TLS; the fix names its option (it named Squid's only).
        assert root["finding_key"] == "limit" and "413 (mitmproxy)" in root["finding"], root["finding"]
        assert "on mitmproxy --set body_size_limit" in root["solution"], root["solution"]
    if case == "rule-wants-credentials":
        # Reply 0x02 to every name, no credentials sent: the fix says a rule may want them, with the URL to write.
        assert root["finding_key"] == "socks_refuses_everything", root["finding"]
        assert "No username and password were sent" in root["solution"], root["solution"]
        assert f'export HTTPS_PROXY="socks5h://<USER>:<URL-ENCODED-PASSWORD>@127.0.0.1:{lab.proxy_port}"' \
            in root["solution"]
    if case == "no-socks-pass":
        assert "No username and password were sent" in root["solution"]  # no credentials in its URL either
        # Reply 0x02 to the reference name too: Dante's socks rules refuse everything, not a domain rule. It used to be
        # a deadlock (connectivity blocked by policy, policy by connectivity) and a run with no finding at all.
        assert root["finding_key"] == "socks_refuses_everything", root["finding"]
        assert "refuses google.com:443, a name every proxy lets through, exactly as it refuses api.anthropic.com" \
            in root["finding"] and "SOCKS5 reply 0x02 (connection not allowed by ruleset)" in root["finding"]
        assert "Dante: a 'socks pass { from: <your address>/32 to: 0.0.0.0/0 }' rule" in root["solution"]
        assert "Please allow outbound HTTPS" not in run.output
        for step_id in ("policy.domain_allowed", "policy.proxy_logs"):
            assert run.step(step_id)["blocked_by"] == "connectivity.proxy_works", run.step(step_id)
    if case == "upstream-down" and socks:
        assert root["finding_key"] == "socks_refused" and "connection refused by the destination" in root["finding"]


def test_tinyproxy_401_to_connect_with_wrong_credentials_is_a_credentials_finding(product_lab, run_diag):
    """tinyproxy answers 401 Unauthorized (HTTP/1.0), not 407: still the credentials, never connectivity."""
    lab = product_lab("tinyproxy-wrong-password")
    run = run_diag("-m", "auth or connectivity", "--proxydiag-clients", "none", lab=lab)
    assert run.root_cause == "auth.credentials"
    found = [s for s in run.steps if s["id"] == "auth.credentials"][0]
    assert found["outcome"] == "failed" and found["finding_key"] == "rejected_401"
    assert "HTTP/1.0 401 Unauthorized (not 407)" in found["finding"] and "tinyproxy" in found["finding"]
    assert "Contact IT for correct credentials" in found["solution"]
    works = [s for s in run.steps if s["id"] == "connectivity.proxy_works"][0]
    assert works["outcome"] == "skipped" and works["blocked_by"] == "auth.credentials"


def test_a_socks5_url_is_resolved_here_and_judged_client_by_client(product_lab, run_diag):
    """socks5:// (not socks5h): this machine resolves the provider's name (pinned to loopback by the lab) and sends
    the address; real Dante opens the tunnel, and the clients that cannot use SOCKS are still named."""
    lab = product_lab("dante-socks")
    url = lab.proxy_url.replace("socks5h://", "socks5://")
    run = run_diag("-m", "connectivity", "--proxydiag-clients", "none", lab=lab,
                   env={"HTTPS_PROXY": url, "HTTP_PROXY": url})
    step = run.step("connectivity.proxy_works", target=lab.target_url)
    assert step["outcome"] == "failed" and step["finding_key"] == "socks_clients", run.output[-3000:]
    assert step["evidence"]["socks"]["resolved_by"] == "client" and step["evidence"]["tls"]["ok"]
    assert "is a SOCKS proxy (socks5://) and it works" in step["finding"]
    assert "Claude Code (it has no SOCKS support: 'Unable to connect to API (UnsupportedProxyProtocol)') cannot use " \
        "any SOCKS proxy" in step["finding"]
    assert "Give the clients that cannot speak SOCKS an HTTP proxy" in step["solution"]


@pytest.mark.parametrize("name, wrong, right, key", [
    # socks5h:// written for an HTTP proxy (real tinyproxy waits for the rest of a request line: silence)
    ("tinyproxy-healthy", "socks5h://", "http://", "socks_not_socks"),
    # http:// written for a SOCKS proxy (real Dante closes on the HTTP request, answers a SOCKS5 greeting)
    ("dante-socks", "http://", "socks5h://", "socks_port"),
])
def test_the_wrong_scheme_for_the_port_is_named(product_lab, run_diag, name, wrong, right, key):
    lab = product_lab(name)
    url = lab.proxy_url.replace(lab.proxy_url.split("://")[0] + "://", wrong)
    run = run_diag("-m", "connectivity or auth", "--proxydiag-clients", "none", "--proxydiag-timeout", "2", lab=lab,
                   env={"HTTPS_PROXY": url, "HTTP_PROXY": url})
    assert run.root_cause == "connectivity.proxy_works", run.output[-3000:]
    step = run.step("connectivity.proxy_works", target=lab.target_url)
    assert step["outcome"] == "failed" and step["finding_key"] == key, step
    assert right in step["solution"]
    reachable = run.step("connectivity.proxy_reachable")
    assert reachable["outcome"] == "passed"  # a silent SOCKS greeting is not "unreachable"


def test_real_clients_through_real_dante_behave_as_the_socks_finding_says(product_lab, tmp_path, monkeypatch):
    """What the socks_clients finding says, measured: curl reaches the provider through Dante; requests and httpx
    without their SOCKS extra, and Claude Code, fail; a plain Node program ignores HTTPS_PROXY (goes direct,
    to the loopback-pinned origin)."""
    import importlib.util

    from pytest_proxydiag.proof import clients

    default_claude = "/opt/proxydiag-claude/node_modules/.bin/claude"
    if not os.environ.get(clients.CLAUDE_ENV) and os.access(default_claude, os.X_OK):
        monkeypatch.setenv(clients.CLAUDE_ENV, default_claude)
    lab = product_lab("dante-socks")
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), **lab.env,
           "ANTHROPIC_API_KEY": "sk-ant-lab-dummy", "DISABLE_AUTOUPDATER": "1", "CLAUDE_CODE_MAX_RETRIES": "0",
           "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"}
    for var in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS"):
        env[var] = lab.public_roots
    pins = {("api.anthropic.com", lab.origin_port): "127.0.0.1"}
    run = {name: clients.run_client(name, lab.target_url, env, 10, resolve=pins)
           for name in ("curl", "requests", "httpx", "claude")}
    assert run["curl"].reached and run["curl"].status == 401, clients.describe(run["curl"])
    if importlib.util.find_spec("socks") is None:
        assert not run["requests"].reached and "SOCKS" in run["requests"].error
    if importlib.util.find_spec("socksio") is None:
        assert not run["httpx"].reached and "socksio" in run["httpx"].error
    if run["claude"].error_code == "unavailable":
        message = f"Claude Code: {run['claude'].error} (.ci/install-claude.sh, or set PROXYDIAG_CLAUDE)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + "; under CI=true this is an error")
        pytest.skip(message)
    assert not run["claude"].reached and "UnsupportedProxyProtocol" in (run["claude"].error or ""), run["claude"]


def test_policy_alone_names_a_domain_the_proxy_resets(lab_factory, run_diag):
    """Squid's deny_info TCP_RESET: -m policy still judges the domain, with a control CONNECT to another name."""
    lab = lab_factory("reset-domain")
    run = run_diag("-m", "policy", lab=lab)
    step = run.step("policy.domain_allowed")
    assert step["outcome"] == "failed" and step["finding_key"] == "reset", run.output[-3000:]
    assert f"resets the connection, without an answer, when asked to CONNECT api.anthropic.com:{lab.origin_port}" \
        in step["finding"]
    assert f"control CONNECT to bedrock-runtime.us-east-1.amazonaws.com:{lab.origin_port}" in step["finding"]
    assert "Please allow outbound HTTPS through the web proxy to:" in step["solution"]
    assert run.root_cause == "policy.domain_allowed"
    assert "did not select" not in run.output
    # connectivity.proxy_works was deselected: the steps that need the tunnel name the step that ran and judged it.
    assert "connectivity.proxy_works" not in {s["id"] for s in run.steps}
    for step_id in ("policy.url_filtering", "policy.payload_size"):
        blocked = [s for s in run.steps if s["id"] == step_id][0]
        assert blocked["outcome"] == "skipped" and blocked["blocked_by"] == "policy.domain_allowed", blocked
        assert "connectivity.proxy_works" not in blocked["skip_reason"]


def test_a_proxy_that_resets_every_connect_is_not_called_a_policy(run_diag):
    """The control CONNECT fails the same way: no policy verdict, the proxy itself is broken."""
    from pytest_proxydiag.lab import ScriptedProxy

    proxy = ScriptedProxy("close").start()
    try:
        run = run_diag("-m", "policy", "--proxydiag-timeout", "2", "--proxydiag-no-direct",
                       env={"HTTPS_PROXY": f"http://127.0.0.1:{proxy.port}"})
    finally:
        proxy.stop()
    step = run.step("policy.domain_allowed")
    # connectivity is not in the run: the step's own CONNECTs are the verdict, and it is not a policy refusal.
    assert step["outcome"] == "failed" and step["finding_key"] == "no_path", step
    assert "failed the same way" in step["finding"] and "opens no tunnel, for any domain" in step["finding"]
    assert "This is not a policy refusal" in step["finding"] and "did not select" not in run.output


def _socks5(port: int, methods: bytes, *, auth: tuple[str, str] | None = None, host: str = "api.anthropic.com",
            dest_port: int = 443) -> list[tuple[str, bytes]]:
    """Speak SOCKS5 to a real server as a client would; return each stage's raw reply."""
    import socket

    out = []
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"\x05" + bytes([len(methods)]) + methods)
        reply = s.recv(2)
        out.append(("method", reply))
        if reply[1:2] == b"\x02" and auth:
            user, password = (x.encode() for x in auth)
            s.sendall(b"\x01" + bytes([len(user)]) + user + bytes([len(password)]) + password)
            out.append(("auth", s.recv(2)))
            if out[-1][1][1:2] != b"\x00":
                return out
        if reply[1:2] in (b"\x00", b"\x02"):
            name = host.encode()
            s.sendall(b"\x05\x01\x00\x03" + bytes([len(name)]) + name + dest_port.to_bytes(2, "big"))
            out.append(("connect", s.recv(10)))
    return out


def test_socks5_replies_of_a_real_dante_are_read_as_their_refusal_shapes():
    from pytest_proxydiag.branches import products
    from pytest_proxydiag.lab import ClosedPort, RealProxy

    require_product("dante")
    closed = ClosedPort()
    try:
        with RealProxy("dante", blocked=["api.anthropic.com"]) as dante:
            shapes = [products.socks5_reply(stage, data).shape for stage, data in _socks5(dante.port, b"\x00")]
            assert shapes == ["ok", "denied"]
            refused = _socks5(dante.port, b"\x00", host="bedrock-runtime.us-east-1.amazonaws.com",
                              dest_port=closed.port)
            assert products.socks5_reply(*refused[-1]).meaning == "connection refused by the destination"
            assert products.socks5_reply(*refused[-1]).shape == "upstream"
        with RealProxy("dante", credentials=("alice", "lab-secret")) as dante:
            none_offered = _socks5(dante.port, b"\x00")
            assert products.socks5_reply(*none_offered[0]).shape == "credentials_required"
            with_password = _socks5(dante.port, b"\x00\x02", auth=("alice", "wrong"))
            assert [stage for stage, _ in with_password] == ["method", "auth"]
            assert products.socks5_reply(*with_password[1], credentials_sent=True).shape == "credentials_rejected"
    finally:
        closed.stop()


def test_squid_refusing_this_machine_is_told_from_a_domain_rule_by_the_reference_name(lab_factory, run_diag):
    """Squid's localnet ACL without this machine answers 403 ERR_ACCESS_DENIED, the page of a denied domain: the
    reference name (google.com:443, the flowchart's step 3), refused the same way, makes it the proxy's finding.
    Without a reference (``--proxydiag-reference none``) the same proxy is read as a domain rule."""
    lab = lab_factory("client-refused")
    run = run_diag("--proxydiag-clients", "none", lab=lab)
    root = run.step("connectivity.proxy_works")
    assert run.root_cause == "connectivity.proxy_works" and root["finding_key"] == "refuses_everything", root
    assert "it answered HTTP/1.1 403 Forbidden to both" in root["finding"] and "Squid" in root["finding"]
    assert "Squid: the src or proxy_auth ACLs of http_access" in root["solution"]
    assert "CONNECT google.com:443: HTTP/1.1 403 Forbidden (X-Squid-Error: ERR_ACCESS_DENIED 0)" in root["solution"]
    for step_id in ("policy.domain_allowed", "policy.proxy_logs"):
        assert run.step(step_id)["blocked_by"] == "connectivity.proxy_works", run.step(step_id)
    without = run_diag("--proxydiag-clients", "none", "--proxydiag-reference", "none", lab=lab)
    assert without.root_cause == "policy.domain_allowed", without.output[-3000:]
    assert without.step("connectivity.proxy_works")["blocked_by"] == "policy.domain_allowed"


def test_squid_refusing_connect_itself_is_told_by_a_plain_request_to_the_reference(lab_factory, run_diag):
    """'http_access deny CONNECT': every tunnel gets a denied domain's page, the reference's too, while a plain
    http:// request to it is forwarded (the flowchart's step 3 tries both): CONNECT is refused, not the machine."""
    lab = lab_factory("connect-denied")
    run = run_diag("--proxydiag-clients", "none", lab=lab)
    root = run.step("connectivity.proxy_works")
    assert run.root_cause == "connectivity.proxy_works" and root["finding_key"] == "connect_refused", root
    assert "refuses CONNECT to every name" in root["finding"] and "while it forwards a plain http://" in root["finding"]
    assert "Squid: the SSL_ports / CONNECT rules" in root["solution"] and "GET http://google.com/: " in root["solution"]
    alone = run_diag("-m", "policy", "--proxydiag-clients", "none", lab=lab).step("policy.domain_allowed")
    assert alone["finding_key"] == "no_path" and "CONNECT itself is refused" in alone["finding"], alone


def test_squid_that_cannot_verify_the_provider_is_the_same_finding_as_mitmproxys(lab_factory, run_diag):
    """Squid bumping TLS (its CA trusted by the clients) without the provider's root in its own store answers 503
    ERR_SECURE_CONNECT_FAIL inside the tunnel: the proxy's CA store (policy.proxy_logs, upstream_tls), as for
    mitmproxy-upstream-untrusted, not 'the proxy is not working'."""
    run = run_diag("--proxydiag-clients", "none", lab=lab_factory("upstream-untrusted"))
    root = run.step("policy.proxy_logs")
    assert run.root_cause == "policy.proxy_logs" and root["finding_key"] == "upstream_tls", run.output[-3000:]
    assert "Squid: tls_outgoing_options cafile=" in root["solution"] and "Never turn the" in root["solution"]
    assert run.step("connectivity.proxy_works")["blocked_by"] == "policy.proxy_logs"


def test_squid_ssl_ports_without_the_port_is_a_port_rule_not_a_domain(lab_factory, run_diag):
    """Squid's stock 'deny CONNECT !SSL_ports' answers 403 ERR_ACCESS_DENIED, word for word a denied domain's answer:
    the same host on 443 through the same Squid is not refused, so the ticket asks for the port."""
    lab = lab_factory("ssl-ports")
    run = run_diag("-m", "policy", lab=lab)
    step = run.step("policy.domain_allowed")
    assert step["outcome"] == "failed" and step["finding_key"] == "port_refused", run.output[-3000:]
    assert f"refuses CONNECT to api.anthropic.com:{lab.origin_port}, but not to api.anthropic.com:443" in step["finding"]
    assert "ERR_CONNECT_FAIL" in step["finding"] and "The answer comes from Squid" in step["finding"]
    assert f"Squid: add 'acl SSL_ports port {lab.origin_port}'" in step["solution"]
    assert "Whitelisting the domain will not help" in step["solution"]


_NETNS_FLAG = "PROXYDIAG_TEST_IN_EMPTY_NETNS"


def _run_in_empty_netns(inner_test: str, **env: str) -> None:
    """Run *inner_test* of this file in a loopback-only network namespace (``unshare -n``); skip without one."""
    import shutil
    import subprocess
    import sys

    unshare, ip = shutil.which("unshare"), shutil.which("ip")
    if not unshare or not ip or subprocess.run([unshare, "-n", "true"], capture_output=True, timeout=10).returncode:
        pytest.skip("needs 'unshare -n' (root, util-linux) and iproute2 for a loopback-only network namespace")
    inner = f"{__file__}::{inner_test}"
    out = subprocess.run([unshare, "-n", "sh", "-c", f'{ip} link set lo up && exec "$0" -m pytest -q -p no:cacheprovider '
                          f'-p no:randomly "{inner}"', sys.executable], capture_output=True, text=True, timeout=170,
                         env={**os.environ, _NETNS_FLAG: "1", **env})
    assert out.returncode == 0 and "1 passed" in out.stdout, out.stdout[-3000:] + out.stderr[-2000:]


def test_socks5_url_with_a_name_only_the_proxy_resolves_says_socks5h():
    """socks5:// makes this machine resolve the provider's name. In a network namespace with only loopback (no DNS
    at all: nothing can leave), real Dante works but the name does not resolve here: the finding says socks5h://, and
    nothing is called healthy (every step used to be 'blocked by connectivity.proxy_reachable', which had passed)."""
    require_product("dante")
    _run_in_empty_netns("test_socks5_local_dns_inside_an_empty_netns")


@pytest.mark.skipif(not os.environ.get(_NETNS_FLAG), reason="runs inside the loopback-only namespace of the test above")
def test_socks5_local_dns_inside_an_empty_netns(product_lab, run_diag):
    lab = product_lab("dante-socks")
    url = lab.proxy_url.replace("socks5h://", "socks5://")
    # No --proxydiag-resolve pin: this machine must resolve api.anthropic.com itself, and here it cannot.
    run = run_diag("-m", "connectivity or policy", "--proxydiag-target", lab.target_url, "--proxydiag-no-direct",
                   "--proxydiag-no-claude-hosts", "--proxydiag-clients", "none",
                   env={"HTTPS_PROXY": url, "HTTP_PROXY": url})
    assert run.root_cause == "connectivity.proxy_works", run.output[-3000:]
    step = run.step("connectivity.proxy_works", target=lab.target_url)
    assert step["finding_key"] == "socks_local_dns" and "resolving api.anthropic.com" in step["finding"]
    assert f'export HTTPS_PROXY="socks5h://127.0.0.1:{lab.proxy_port}"' in step["solution"]
    assert run.step("connectivity.proxy_reachable")["outcome"] == "passed"
    blocked = [s for s in run.steps if s["outcome"] == "skipped" and s.get("blocked_by")]
    assert blocked and all(s["blocked_by"] != "connectivity.proxy_reachable" for s in blocked), blocked


def test_squid_read_timeout_shorter_than_the_provider_is_a_cut_not_a_body_limit(lab_factory, run_diag):
    """Squid's read_timeout (1 s) closes the tunnel while the provider takes 2.5 s: performance.latency says so and
    names the directive; the upload ladder, cut at its first size too, is no longer called a 16 KiB body limit."""
    lab = lab_factory("read-timeout")
    run = run_diag(lab=lab)
    assert run.root_cause == "performance.latency", run.output[-3000:]
    step = run.step("performance.latency", target=lab.target_url)
    assert step["outcome"] == "failed" and step["finding_key"] == "cut", step
    assert "the tunnel opened and TLS worked, then the connection was" in step["finding"]
    assert "Squid: read_timeout" in step["solution"] and "Raising the client's own timeouts cannot help" in \
        step["solution"]
    payload = run.step("policy.payload_size")
    assert payload["outcome"] == "skipped" and payload["blocked_by"] == "performance.latency", payload


def test_policy_alone_reads_tinyproxys_own_401_to_a_wrong_password_as_the_users_credentials(product_lab, run_diag):
    """-m policy: tinyproxy's own 401 to the wrong password the URL carries is the user's credentials (no_path, 'wants
    credentials'), never its parent's refusal of the proxy's Upstream credentials (that 401 comes without any sent)."""
    run = run_diag("-m", "policy", "--proxydiag-clients", "none", lab=product_lab("tinyproxy-wrong-password"))
    step = run.step("policy.domain_allowed")
    assert step["outcome"] in ("failed", "skipped"), step
    assert "parent proxy" not in (step["finding"] or "") + (step["skip_reason"] or ""), step


@pytest.mark.parametrize("name, words", [("tinyproxy-connect-port", "not allowed there"),
                                         ("tinyproxy-client-refused", "does not serve this machine"),
                                         ("apache-client-refused", "refuses google.com:443, a name every proxy")])
def test_policy_alone_does_not_call_a_port_or_client_refusal_a_domain_rule(name, words, product_lab, run_diag):
    """-m policy (connectivity.proxy_works deselected): the policy steps judge the CONNECT themselves, and a 403 whose
    page says 'this port' or 'your host' is no_path, not the whitelist ticket of a refused domain."""
    lab = product_lab(name)
    run = run_diag("-m", "policy", "--proxydiag-clients", "none", lab=lab)
    step = run.step("policy.domain_allowed")
    assert step["outcome"] == "failed" and step["finding_key"] == "no_path", step
    assert words in step["finding"] and "This is not a policy refusal" in step["finding"]
    assert "Please allow outbound HTTPS" not in step["solution"]


@pytest.mark.parametrize("name, symptom, root", [
    ("tinyproxy-client-refused", "API Error: 403 Forbidden", "connectivity.proxy_works"),
    ("apache-wrong-password", "SSL certificate problem: self-signed certificate in certificate chain",
     "auth.credentials"),
])
def test_a_misleading_symptom_still_ends_at_the_step_that_owns_the_cause(name, symptom, root, product_lab, run_diag):
    """Triage reads the words only: a 403 sends it to policy, a certificate error to certificate.  The steps that own
    the way through the proxy run first with the chosen branch, so the root cause is the one a full run names, and
    the chosen branch's own view of the failed tunnel ('not a policy refusal') never stops the search."""
    run = run_diag("--proxydiag-symptom", symptom, "--proxydiag-clients", "none", lab=product_lab(name))
    assert run.root_cause == root, run.output
    assert run.doc["notes"]["symptom"]["branches"][0] != root.partition(".")[0]


def test_policy_alone_says_an_idle_cut_is_no_body_limit(product_lab, run_diag):
    """-m policy leaves performance.latency out: payload_size says the cut itself (tinyproxy's Timeout 1) instead of
    'blocked by a step this run did not select', and never calls it a 16 KiB limit."""
    lab = product_lab("tinyproxy-idle-timeout")
    run = run_diag("-m", "policy", "--proxydiag-clients", "none", lab=lab)
    step = run.step("policy.payload_size")
    assert step["outcome"] == "failed" and step["finding_key"] == "cut", step
    assert "then the proxy closes the connection after 1." in step["finding"] and "not a body-size limit" in \
        step["finding"]
    assert "tinyproxy: Timeout" in step["solution"] and run.root_cause == "policy.payload_size"


def test_privoxy_on_its_default_port_is_found_when_the_url_names_another(run_diag):
    """Privoxy listens on its default 8118 (listen-address) while HTTPS_PROXY names another port on the same host:
    the port step finds the real Privoxy on 8118 and says to use it (8118 is among the common proxy ports)."""
    import socket

    from pytest_proxydiag.lab import ClosedPort, RealProxy

    require_product("privoxy")
    host = "127.0.0.5"  # loopback, with Privoxy's default port unlikely to be taken by anyone else
    with socket.socket() as probe:
        if probe.connect_ex((host, 8118)) == 0:
            pytest.skip(f"{host}:8118 is already in use")
    closed = ClosedPort(host)
    try:
        with RealProxy("privoxy", listen=(host, 8118)):
            url = f"http://{host}:{closed.port}"
            run = run_diag("-m", "connectivity", "--proxydiag-no-direct", "--proxydiag-timeout", "3",
                           env={"HTTPS_PROXY": url, "HTTP_PROXY": url})
    finally:
        closed.stop()
    step = run.step("connectivity.proxy_port")
    assert step["outcome"] == "failed" and step["finding_key"] == "other_port", step
    assert f"http://{host}:8118" in step["solution"], step["solution"]
    assert run.root_cause == "connectivity.proxy_port"


def test_proxypy_host_filter_418_is_a_domain_rule(tmp_path, run_diag):
    """proxy.py's own FilterByUpstreamHostPlugin (--filtered-upstream-hosts) answers 418 I'm a tea pot, without a
    header or a page, to the filtered host only: a domain rule (google.com goes through), named with proxy.py's
    switch. It used to be 'the proxy is not working' (connectivity.proxy_works, connect_failed)."""
    pytest.importorskip("proxy", reason="proxy.py is not installed: pip install proxy.py")
    from pytest_proxydiag.lab import LOOPBACK_NAMES, HttpsOrigin, LabCA
    from pytest_proxydiag.lab.proxypy import ProxyPyProxy

    public = LabCA("Proxydiag Lab Public Roots", "Fake public root (lab only)")
    roots = tmp_path / "roots.pem"
    roots.write_bytes(public.cert_pem)
    origin = HttpsOrigin(public, tmp_path / "origin").start()
    proxy = ProxyPyProxy(tmp_path, blocked=["api.anthropic.com"], stock_filter=True)
    try:
        proxy.start()
        target = f"https://api.anthropic.com:{origin.port}"
        run = run_diag("--proxydiag-target", target, "--proxydiag-resolve", f"api.anthropic.com:{origin.port}:127.0.0.1",
                       "--proxydiag-public-roots", str(roots), "--proxydiag-no-direct", "--proxydiag-no-claude-hosts",
                       "--proxydiag-clients", "none", env={"HTTPS_PROXY": proxy.url, "HTTP_PROXY": proxy.url})
    finally:
        proxy.stop()
        origin.stop()
    assert "google.com" in LOOPBACK_NAMES
    assert run.root_cause == "policy.domain_allowed", run.output[-3000:]
    step = run.step("policy.domain_allowed")
    assert step["finding_key"] == "blocked" and "api.anthropic.com" in step["finding"], step["finding"]
    assert "418" in step["finding"] and "Please allow outbound HTTPS" in step["solution"]
    assert "is proxy.py's answer for a host in its --filtered-upstream-hosts" in step["finding"]
    # Its reason phrase, "I'm a tea pot", is proxy.py's own spelling: the finding names it instead of opening with
    # "The product that answered is not known to pytest-proxydiag (no Server or Via header)".
    assert "The answer comes from proxy.py." in step["finding"] and "not known" not in step["finding"], step["finding"]
    assert "'HttpRequestRejected' for a refused one" in step["finding"]
    logs = run.step("policy.proxy_logs")
    assert logs["finding_key"] == "denied" and "418" in logs["finding"], logs
    assert run.step("connectivity.proxy_works")["blocked_by"] == "policy.domain_allowed"


def test_all_proxy_only_with_a_socks_url_says_which_clients_cannot_use_it(product_lab, run_diag):
    """ALL_PROXY=socks5h://<Dante> alone (curl's habit): Python urllib, Node and Go ignore ALL_PROXY and go direct.
    The route fix copies the URL into HTTPS_PROXY, which a SOCKS URL does not make usable for urllib, Node or Claude
    Code: the fix says so and points at the HTTP port or a relay, instead of promising every client the proxy."""
    lab = product_lab("dante-socks")
    run = run_diag(*lab.pytest_args, "--proxydiag-clients", "none", "-m", "bypass or connectivity",
                   env={"ALL_PROXY": lab.proxy_url})
    step = run.step("bypass.traffic_via_proxy")
    assert step["outcome"] == "failed" and step["finding_key"] == "direct", run.output[-3000:]
    assert f'export HTTPS_PROXY="{lab.proxy_url}"' in step["solution"]
    assert "socks5h:// is a SOCKS proxy" in step["solution"], step["solution"]
    assert "Claude Code cannot use SOCKS at all" in step["solution"] and "forward-socks5t" in step["solution"]
    works = run.step("connectivity.proxy_works", target=lab.target_url)
    assert works["finding_key"] == "socks_clients" and "Claude Code" in works["finding"]


def test_a_socks4_url_is_not_called_working_when_it_was_not_tried(product_lab, run_diag):
    """socks4:// is recognised, not probed (the probes speak SOCKS5): the finding used to say 'it works (CONNECT
    api.anthropic.com accepted, TLS not tried)' of a tunnel nobody opened. It still names the clients that cannot use
    socks4:// (httpx, Node, Claude Code)."""
    lab = product_lab("dante-socks")
    url = lab.proxy_url.replace("socks5h://", "socks4://")
    run = run_diag("-m", "connectivity", "--proxydiag-clients", "none", lab=lab, env={"HTTPS_PROXY": url, "HTTP_PROXY": url})
    step = run.step("connectivity.proxy_works", target=lab.target_url)
    assert step["finding_key"] == "socks_clients", step
    assert "accepted" not in step["finding"] and "it works" not in step["finding"], step["finding"]
    assert "is a SOCKS proxy (socks4://) and was not tried: the diagnosis speaks SOCKS5 only" in step["finding"]
    assert "httpx (and the anthropic SDK) does not speak socks4://" in step["finding"]


_PORT_CASE = "PROXYDIAG_TEST_DEFAULT_PORT_CASE"


@pytest.mark.parametrize("key, port, url", [("privoxy", 8118, "http://127.0.0.1:8080"),
                                            ("dante", 1080, "socks5h://127.0.0.1:1081")])
def test_a_product_on_its_default_port_is_found_when_the_url_names_another(key, port, url):
    """Privoxy listens on 8118 by default, Dante (SOCKS) on 1080; a user who wrote another port was told 'none of
    3128, 8888, 8443 answers like a proxy: contact IT' (a SOCKS5 answer did not count as a proxy's at all). Run in a
    private network namespace (loopback only), where those fixed ports are free whatever else runs on this machine."""
    require_product(key)
    _run_in_empty_netns("test_default_port_inside_an_empty_netns", **{_PORT_CASE: f"{key},{port},{url}"})


@pytest.mark.skipif(not os.environ.get(_PORT_CASE), reason="runs inside the loopback-only namespace of the test above")
def test_default_port_inside_an_empty_netns(tmp_path, run_diag):
    from pytest_proxydiag.lab import HttpsOrigin, LabCA, RealProxy

    key, port, url = os.environ[_PORT_CASE].split(",")
    public = LabCA("Proxydiag Lab Public Roots", "Fake public root (lab only)")
    roots = tmp_path / "roots.pem"
    roots.write_bytes(public.cert_pem)
    origin = HttpsOrigin(public, tmp_path / "origin").start()
    try:
        with RealProxy(key, listen=("127.0.0.1", int(port))):
            run = run_diag("-m", "connectivity", "--proxydiag-target", f"https://api.anthropic.com:{origin.port}",
                           "--proxydiag-resolve", f"api.anthropic.com:{origin.port}:127.0.0.1",
                           "--proxydiag-public-roots", str(roots), "--proxydiag-no-direct",
                           "--proxydiag-no-claude-hosts", "--proxydiag-clients", "none",
                           env={"HTTPS_PROXY": url, "HTTP_PROXY": url})
    finally:
        origin.stop()
    step = run.step("connectivity.proxy_port")
    assert step["outcome"] == "failed" and step["finding_key"] == "other_port", step
    suggested = url.rpartition(":")[0] + ":" + port
    assert f'export HTTPS_PROXY="{suggested}"' in step["solution"], step["solution"]
    assert run.root_cause == "connectivity.proxy_port"


def test_performance_alone_says_a_dropped_request_is_no_timeout(product_lab, run_diag):
    """-m performance leaves policy.url_filtering out: performance.latency says the drop itself (mitmproxy's block_list
    status 444) instead of a run with no finding, and never calls it an idle timeout."""
    lab = product_lab("mitmproxy-drop-rule")
    run = run_diag("-m", "performance", "--proxydiag-clients", "none", lab=lab)
    step = run.step("performance.latency", target=lab.target_url)
    assert step["outcome"] == "failed" and step["finding_key"] == "dropped", step
    assert "a rule drops the request" in step["finding"] and "block_list with status 444" in step["solution"]
    assert run.root_cause == "performance.latency" and "idle" not in run.output


def test_a_400_to_a_well_formed_connect_on_an_http_url_is_no_scheme_problem(tmp_path, run_diag):
    """proxy.py started with --disable-http-proxy (a web server only) answers 400 to CONNECT, as nginx does. The URL
    already says http://: the fix used to open with 'check the scheme (https:// to a plain port)'; it now says the
    port is probably no forward proxy and names proxy.py's switches."""
    import subprocess
    import sys
    import time

    pytest.importorskip("proxy", reason="proxy.py is not installed: pip install proxy.py")
    from pytest_proxydiag.lab import free_port

    port = free_port("127.0.0.1")
    proc = subprocess.Popen([sys.executable, "-m", "proxy", "--hostname", "127.0.0.1", "--port", str(port),
                             "--disable-http-proxy", "--num-acceptors", "1", "--num-workers", "1", "--threaded",
                             "--data-dir", str(tmp_path / "d"), "--cache-dir", str(tmp_path / "c"),
                             "--pid-file", str(tmp_path / "pid")], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env={**os.environ, "HOME": str(tmp_path)},
                            start_new_session=True)  # its acceptor processes go with it (kill_group)
    try:
        import socket
        deadline = time.monotonic() + 15
        while socket.socket().connect_ex(("127.0.0.1", port)) and time.monotonic() < deadline:
            time.sleep(0.1)
        url = f"http://127.0.0.1:{port}"
        run = run_diag("-m", "connectivity", "--proxydiag-target", "https://api.anthropic.com:443",
                       "--proxydiag-resolve", "api.anthropic.com:443:127.0.0.1", "--proxydiag-no-direct",
                       "--proxydiag-no-claude-hosts", "--proxydiag-clients", "none",
                       env={"HTTPS_PROXY": url, "HTTP_PROXY": url})
    finally:
        from pytest_proxydiag.lab.base import kill_group

        kill_group(proc)
    step = run.step("connectivity.proxy_works", target="https://api.anthropic.com:443")
    assert step["finding_key"] == "bad_request" and "The answer comes from proxy.py" in step["finding"], step
    assert "Check the scheme of the proxy URL first" not in step["solution"], step["solution"]
    assert "probably no forward proxy" in step["solution"] and "--disable-http-proxy" in step["solution"]
