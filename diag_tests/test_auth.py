"""AUTHENTICATION ISSUES: credentials, their encoding, where they are exported, .netrc, the auth scheme."""

from __future__ import annotations

import netrc
import os
import stat
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from pytest_proxydiag.branches import products
from pytest_proxydiag.machine import shellenv
from pytest_proxydiag.core.config import PROXY_ENV_ORDER
from pytest_proxydiag.core.step import blocking_step_for, export_lines, shell_profile
from pytest_proxydiag.proof.fixes import proxy_fix_value

pytestmark = pytest.mark.auth

PLACEHOLDER = "<URL-ENCODED-PASSWORD>"


_SCHEME_NAMES = {"basic": "Basic", "ntlm": "NTLM", "negotiate": "Negotiate", "digest": "Digest",
                 "kerberos": "Kerberos"}


def _schemes(challenges: list[str]) -> list[str]:
    """Auth schemes named in Proxy-Authenticate headers, in the proxy's order."""
    names = [c.split(None, 1)[0] for c in challenges if c.strip()]
    return list(dict.fromkeys(_SCHEME_NAMES.get(n.lower(), n) for n in names))


@pytest.mark.proxydiag_step("auth.credentials")
def test_credentials(proxydiag_step, proxydiag_probes, proxydiag_target):
    step, target = proxydiag_step, proxydiag_target
    proxy = step.require_http_proxy()
    res = proxydiag_probes.tunnel_to(target)
    step.add_evidence(connect={"status": res.detail, "credentials_sent": res.credentials_sent,
                               "proxy_authenticate": res.reply.proxy_authenticate if res.reply else None})
    who = f"the credentials of user {proxy.username!r}" if proxy.username is not None else "no credentials"
    if res.ok:
        step.passed(f"the proxy accepted CONNECT {target.hostport} with {who}")
        return
    reply = res.reply
    shape = products.refusal_shape(res.status, reply.headers, reply.body,
                                   credentials_sent=bool(res.credentials_sent)) if reply is not None else None
    if shape == "login_portal" or (res.status == 401 and shape == "credentials_rejected"):
        who_answered = products.identify(reply.headers, reply.body)
        step.fail("rejected_401" if shape == "credentials_rejected" else "login_portal",
                  status=reply.status_line, credentials=who, product=products.describe(who_answered),
                  product_name=who_answered.name or "this proxy",
                  challenge="; ".join(reply.headers_all("WWW-Authenticate")) or "(none)")
    if shape not in ("credentials_rejected", "credentials_required"):
        step.blocked(blocking_step_for(res), f"CONNECT {target.hostport}: {res.detail}")
    challenges = res.reply.proxy_authenticate or res.reply.headers_all("WWW-Authenticate")
    offered = _schemes(challenges)
    if offered and "Basic" not in offered:
        step.blocked("auth.scheme", f"the proxy offers only {', '.join(offered)}; Basic credentials cannot work")
    values = dict(status=res.reply.status_line, challenge="; ".join(challenges) or "(none)",
                  squid_error=f"X-Squid-Error: {res.reply.squid_error}. " if res.reply.squid_error else "",
                  credentials=who, product=products.describe(products.identify(reply.headers, reply.body)))
    if not res.credentials_sent:
        step.fail("required", **values)
    step.fail("rejected", **values)


@pytest.mark.proxydiag_step("auth.special_chars")
def test_special_chars(proxydiag_step, proxydiag_config, proxydiag_probes):
    step, setting = proxydiag_step, proxydiag_config.proxy
    if not setting.configured:
        step.skip("no proxy is configured")
    if setting.url is None:
        step.blocked("connectivity.proxy_reachable", f"the proxy URL is invalid: {setting.error}")
    url = setting.url
    if not url.has_credentials:
        step.passed("the proxy URL carries no credentials")
        return
    if not url.needs_encoding:
        step.passed("the credentials in the proxy URL need no encoding")
        return
    raw_userinfo = setting.raw.strip().strip("'\"").split("://", 1)[-1].rpartition("@")[0]
    chars = sorted({c for c in raw_userinfo.partition(":")[2] + raw_userinfo.partition(":")[0]
                    if c in "@:/?#[] %"} - ({":"} if raw_userinfo.count(":") <= 1 else set()))
    readings = _client_readings(setting.raw.strip().strip("'\""), url)
    step.add_evidence(client_readings=readings)
    encoded_shown = url.encoded(password_placeholder="***")
    # The intended credentials, sent correctly encoded, are what the fix would give the clients.
    if not url.is_socks:
        accepted = proxydiag_probes.connect_tunnel(*_first_target(proxydiag_config))
        step.add_evidence(proxy_accepts_encoded_url=("accepted by the proxy" if accepted.ok else accepted.detail))
    # The placeholder stands for the password; the fix engine fills it in memory to prove the fix.
    step.set_fix(env={"HTTPS_PROXY": url.encoded(password_placeholder=PLACEHOLDER),
                      "HTTP_PROXY": url.encoded(password_placeholder=PLACEHOLDER)})
    step.fail("unencoded", source=setting.source, chars=" ".join(chars) or "%",
              client_reading="; ".join(f"{k}: {v}" for k, v in readings.items()),
              encoded_url=encoded_shown, hostport=url.hostport, scheme=url.scheme)


def _first_target(config):
    t = config.targets[0]
    return t.host, t.port


def _client_readings(raw: str, intended) -> dict[str, str]:
    """How strict parsers read the unencoded URL (never showing the password)."""
    out: dict[str, str] = {}
    try:
        from urllib3.util import parse_url

        u = parse_url(raw)
        user, _, _pw = (u.auth or "").partition(":")
        ok = u.host == intended.host and (u.port or intended.port) == intended.port and user == intended.username
        out["requests/urllib3"] = ("reads it as intended" if ok else
                                   f"reads host {u.host!r}, port {u.port}, user {user!r}")
    except Exception as exc:  # noqa: BLE001 - any parser error is the evidence
        out["requests/urllib3"] = f"rejects it ({type(exc).__name__})"
    try:
        s = urlsplit(raw)
        host, port, user = s.hostname, s.port, s.username
        ok = host == intended.host and (port or intended.port) == intended.port and user == intended.username
        out["urllib/httpx-style"] = "reads it as intended" if ok else f"reads host {host!r}, port {port}, user {user!r}"
    except ValueError as exc:
        out["urllib/httpx-style"] = f"rejects it ({exc})"
    return out


@pytest.mark.proxydiag_step("auth.env_exported")
def test_env_exported(proxydiag_step, proxydiag_config):
    step, cfg = proxydiag_step, proxydiag_config
    env = cfg.env
    present = {name: env[name] for name in PROXY_ENV_ORDER if env.get(name, "").strip()}
    home = env.get("HOME") or os.path.expanduser("~")
    in_profiles = [a for a in shellenv.scan(home, names=PROXY_ENV_ORDER)]
    step.add_evidence(set_in_process=sorted(present), set_in_files=[f"{a.path}:{a.line} {a.name}"
                                                                     for a in in_profiles])
    url = cfg.proxy.url
    proxy_value = proxy_fix_value(url, in_profiles)
    lines = export_lines({"HTTPS_PROXY": proxy_value, "HTTP_PROXY": proxy_value,
                          "https_proxy": proxy_value, "http_proxy": proxy_value})
    where_files = ", ".join(sorted({f"{a.path} (line {a.line})" for a in in_profiles}))
    common = dict(profile=shell_profile(env), export_lines=lines)
    setting = cfg.proxy
    if url is not None and setting.source.startswith("env:"):
        # Quotes or blanks pasted into the variable: this tool reads past them, the clients do not.
        pasted = [p for p in url.problems if "quotes" in p or "whitespace" in p]
        if pasted:
            var = setting.source.partition(":")[2]
            step.set_fix(env={var: proxy_value})
            step.fail("malformed_value", var=var, detail="; ".join(pasted), **common)
    if not present:
        if not cfg.proxy.configured:
            if in_profiles:
                step.set_fix(env={"HTTPS_PROXY": proxy_value, "HTTP_PROXY": proxy_value})
                step.fail("profile_only", where=where_files, **common)
            step.skip("no proxy is configured anywhere (environment, profiles, --proxydiag-proxy)")
        step.set_fix(env={"HTTPS_PROXY": proxy_value, "HTTP_PROXY": proxy_value})
        where = (f"It is set in {where_files}, which this shell did not load." if in_profiles
                 else "No shell profile sets it either.")
        step.fail("missing", source=cfg.proxy.source, where=where, **common)
    for lower, upper in (("https_proxy", "HTTPS_PROXY"), ("http_proxy", "HTTP_PROXY"), ("all_proxy", "ALL_PROXY"),
                         ("no_proxy", "NO_PROXY")):
        a, b = env.get(lower), env.get(upper)
        if a is not None and b is not None and a.strip() != b.strip():
            step.fail("case_mismatch", detail=f"{lower}={step.state.redactor.redact(a)!s} but "
                                              f"{upper}={step.state.redactor.redact(b)!s}", **common)
    if not any(n in present for n in ("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")):
        only = ", ".join(sorted(present))
        step.set_fix(env={"HTTPS_PROXY": proxy_value})
        step.fail("http_only", detail=f"set: {only}", **common)
    step.passed("set in this process: " + ", ".join(sorted(present)))


def _netrc_path(env) -> Path:
    if env.get("NETRC"):
        return Path(env["NETRC"]).expanduser()
    return Path(env.get("HOME") or os.path.expanduser("~")) / ".netrc"


@pytest.mark.proxydiag_step("auth.netrc")
def test_netrc(proxydiag_step, proxydiag_config, proxydiag_probes):
    step, cfg = proxydiag_step, proxydiag_config
    path = _netrc_path(cfg.env)
    if not path.exists():
        step.skip(f"no .netrc ({path}): credentials are not taken from it")
    url = step.require_http_proxy()
    host = url.host
    shown = str(path)
    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):
            step.fail("unreadable", path=shown, detail="it is not a regular file", host=host)
        if st.st_size > 1024 * 1024:
            step.fail("malformed", path=shown, detail=f"it is {st.st_size} bytes, not a .netrc", host=host)
        parsed = netrc.netrc(str(path))
    except netrc.NetrcParseError as exc:
        step.fail("malformed", path=shown, detail=f"line {exc.lineno}: {exc.msg}", host=host)
    except (OSError, UnicodeDecodeError) as exc:
        step.fail("unreadable", path=shown, detail=str(exc), host=host)
    entry = parsed.hosts.get(host)
    if entry is None:
        machines = ", ".join(sorted(parsed.hosts)) or "none"
        step.skip(f"{shown} has no machine entry for the proxy host {host} (entries: {machines})")
    login, _account, password = entry
    step.state.redactor.add_credentials_pair(login, password)
    if not login or not password:
        # Python's parser accepts a truncated entry; curl and requests then send nothing useful.
        missing = " and ".join(w for w, v in (("login", login), ("password", password)) if not v)
        step.fail("malformed", path=shown, detail=f"the entry for {host} has no {missing}", host=host)
    mode = stat.S_IMODE(path.stat().st_mode)
    step.add_evidence(netrc={"path": shown, "mode": oct(mode), "login": login})
    if mode & 0o077:
        step.set_fix(files=[{"path": shown, "change": "chmod 600"}])
        step.fail("mode", path=shown, mode=stat.filemode(path.stat().st_mode) + f" ({oct(mode)[2:]})", host=host)
    target = cfg.targets[0]
    res = proxydiag_probes.connect_tunnel(target.host, target.port, credentials=(login, password or ""))
    step.add_evidence(connect_with_netrc_login=res.detail)
    if res.status == 407:
        step.fail("rejected", path=shown, host=host, status=res.reply.status_line)
    if not res.ok:
        step.blocked(blocking_step_for(res), f"CONNECT {target.hostport}: {res.detail}")
    step.passed(f"{shown}: mode 600, the login for {host} is accepted by the proxy")


@pytest.mark.proxydiag_step("auth.scheme")
def test_scheme(proxydiag_step, proxydiag_config, proxydiag_probes):
    step = proxydiag_step
    proxy = step.require_http_proxy()
    target = proxydiag_config.targets[0]
    res = proxydiag_probes.connect_tunnel(target.host, target.port, credentials=None)
    if res.ok:
        step.passed("the proxy does not ask for authentication")
        return
    if res.status != 407:
        step.blocked(blocking_step_for(res), f"CONNECT {target.hostport}: {res.detail}")
    challenges = res.reply.proxy_authenticate
    offered = _schemes(challenges)
    step.add_evidence(proxy_authenticate=challenges)
    if "Basic" in offered:
        step.passed(f"the proxy offers {', '.join(offered)}: Basic works for every client")
        return
    values = dict(schemes=" and ".join(offered) or "no scheme", challenge="; ".join(challenges) or "(none)",
                  proxy_hostport=proxy.hostport)
    if any(s in ("NTLM", "Negotiate", "Kerberos") for s in offered):
        step.fail("ntlm_or_negotiate", **values)
    step.fail("unsupported", **values)
