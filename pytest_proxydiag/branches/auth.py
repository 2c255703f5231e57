"""AUTHENTICATION: what a 407, the proxy URL's credentials, the exported variables and .netrc mean.

Plain data in, a :class:`~.judgement.Judgement` out: no I/O, no sentences
(the catalog holds them, see ``catalog/auth.py``).
"""

from __future__ import annotations

import re
import stat
from typing import Mapping, Sequence
from urllib.parse import unquote, urlsplit

from pytest_proxydiag.branches import products
from pytest_proxydiag.proof.fix_values import proxy_fix_value
from pytest_proxydiag.branches.judgement import Judgement, Note
from pytest_proxydiag.core.config import PROXY_ENV_ORDER
from pytest_proxydiag.core.step import blocking_step_for, export_lines
from pytest_proxydiag.net.socks import SOCKS5_SCHEMES

__all__ = ["PLACEHOLDER", "SOCKS5_SCHEMES", "schemes", "judge_credentials", "judge_socks_credentials",
           "unencoded_chars", "client_readings", "raw_password", "has_percent_escape", "judge_special_chars", "proxy_fix_value", "judge_env_exported", "judge_netrc_entry",
           "judge_netrc_login", "judge_scheme"]

PLACEHOLDER = "<URL-ENCODED-PASSWORD>"
_SCHEME_NAMES = {"basic": "Basic", "ntlm": "NTLM", "negotiate": "Negotiate", "digest": "Digest",
                 "kerberos": "Kerberos"}


def schemes(challenges: Sequence[str]) -> list[str]:
    """Auth schemes named in Proxy-Authenticate headers, in the proxy's order."""
    names = [c.split(None, 1)[0] for c in challenges if c.strip()]
    return list(dict.fromkeys(_SCHEME_NAMES.get(n.lower(), n) for n in names))


def parent_relay(proxy, reply) -> tuple[str, str] | None:
    """(the "host:port" of the Squid that made a 407, the Via of a plain GET) when the 407 comes from the proxy's
    parent: its X-Cache-Lookup names another port than the proxy's, and the plain GET through the proxy the probes
    sent after it (``reply.proxy_plain``) passed two proxies or more (its Via).  Squid relays its parent's 407 to
    CONNECT unchanged (measured, 5.7 to 5.7); a load balancer in front of one Squid changes the port too, but its
    GET passes one proxy.  None otherwise."""
    lookup = (reply.header("X-Cache-Lookup") or "").rsplit(" ", 1)[-1]
    host, _, port = lookup.rpartition(":")
    if not host or not port.isdigit() or int(port) == proxy.port:
        return None
    plain = getattr(reply, "proxy_plain", None)
    via = (plain.header("Via") or "") if plain is not None else ""
    return (lookup, via) if via.count(",") >= 1 else None


def judge_credentials(proxy, target, res) -> Judgement:
    """Step 1: CONNECT with the configured credentials: accepted, required, rejected (407 or tinyproxy's
    401), or a login portal; the product that answered is named (branches/products.py)."""
    who = Note.of("credentials_of", user=repr(proxy.username)) if proxy.username is not None else Note.of("none_sent")
    if res.ok:
        return Judgement.passed("accepted", target=target.hostport, who=who)
    reply = res.reply
    shape = products.refusal_shape(res.status, reply.headers, reply.body, credentials_sent=bool(res.credentials_sent),
                                   own=products.own_product(reply)) if reply is not None else None
    if shape == "login_portal" or (res.status == 401 and shape == "credentials_rejected"):
        who_answered = products.identify_reply(reply)
        return Judgement.fail("rejected_401" if shape == "credentials_rejected" else "login_portal",
                              status=reply.status_line, credentials=who, product=products.describe(who_answered),
                              product_name=who_answered.name or Note.of("this_proxy"),
                              challenge="; ".join(reply.headers_all("WWW-Authenticate")) or "(none)")
    if shape not in ("credentials_rejected", "credentials_required"):
        return Judgement.blocked(blocking_step_for(res), f"CONNECT {target.hostport}: {res.detail}")
    challenges = reply.proxy_authenticate or reply.headers_all("WWW-Authenticate")
    offered = schemes(challenges)
    if offered and "Basic" not in offered:
        return Judgement.blocked("auth.scheme", key="basic_not_offered", schemes=", ".join(offered))
    hop = products.other_hop(reply) or products.other_product(reply)
    if hop:  # a parent behind the proxy asked: its first hop's configuration says whose credentials it wants
        own = reply.proxy_self
        return Judgement.fail("parent_rejected" if res.credentials_sent else "parent_required",
                              status=reply.status_line, parent=hop[0], own=hop[1], credentials=who,
                              challenge="; ".join(challenges) or "(none)",
                              product=products.describe(products.identify_reply(reply)),
                              evidence=Note.of("hop_evidence", answer=reply.status_line, own_answer=own.status_line,
                                               via=reply.header("Via") or "-", own_via=own.header("Via") or "-",
                                               server=reply.header("Server") or "-", cache=reply.header("X-Cache") or "-",
                                               own_server=own.header("Server") or "-"))
    relay = parent_relay(proxy, reply) if res.status == 407 else None
    if relay is not None:  # the parent's 407: the proxy's own login for it, which the user's credentials are not
        return Judgement.fail("parent_login", status=reply.status_line, at=relay[0], via=relay[1],
                              challenge="; ".join(challenges) or "(none)", proxy_port=proxy.port)
    return Judgement.fail("rejected" if res.credentials_sent else "required", status=reply.status_line,
                          challenge="; ".join(challenges) or "(none)", credentials=who,
                          squid_error=f"X-Squid-Error: {reply.squid_error}. " if reply.squid_error else "",
                          product=products.describe(products.identify_reply(reply)))


def judge_socks_credentials(proxy, target, res) -> Judgement:
    """Step 1 for a SOCKS5 proxy: the method selection and the username/password stage (RFC 1928/1929)."""
    who = Note.of("credentials_of", user=repr(proxy.username)) if proxy.username is not None else Note.of("none_sent")
    if res.ok:
        return Judgement.passed("socks_accepted", target=target.hostport, who=who)
    outcome = res.socks
    if outcome is None or outcome.stage == "connect":
        return Judgement.blocked(blocking_step_for(res), res.detail)
    reply = products.socks_outcome_reply(outcome, credentials_sent=bool(res.credentials_sent))
    return Judgement.fail("socks_rejected" if reply.shape == "credentials_rejected" else "socks_required",
                          meaning=reply.meaning, stage=outcome.stage, code=f"0x{outcome.code:02x}", credentials=who,
                          product=products.SOCKS["who"])


_CHAR_NAMES = {" ": "space"}


def unencoded_chars(raw: str) -> str:
    """The characters of the raw userinfo that a URL parser misreads."""
    userinfo = raw.strip().strip("'\"").split("://", 1)[-1].rpartition("@")[0]
    user, _, password = userinfo.partition(":")
    chars = {c for c in password + user if c in "@:/?#[] %\\"} - ({":"} if userinfo.count(":") <= 1 else set())
    return " ".join(sorted(_CHAR_NAMES.get(c, c) for c in chars)) or "%"


def client_readings(raw: str, intended) -> dict[str, str]:
    """How strict parsers read the unencoded URL (never showing the password)."""
    out: dict[str, str] = {}
    try:
        from urllib3.util import parse_url

        u = parse_url(raw)
        user = (u.auth or "").partition(":")[0]
        out["requests/urllib3"] = _reading(intended, u.host, u.port, user)
    except Exception as exc:  # noqa: BLE001 - any parser error is the evidence
        out["requests/urllib3"] = f"rejects it ({type(exc).__name__})"
    try:
        s = urlsplit(raw)
        out["urllib/httpx-style"] = _reading(intended, s.hostname, s.port, s.username)
    except ValueError as exc:
        out["urllib/httpx-style"] = f"rejects it ({exc})"
    return out


def _reading(intended, host, port, user) -> str:
    user = unquote(user) if user else user  # urllib3 keeps it percent-encoded; requests sends it decoded
    if host == intended.host and (port or intended.port) == intended.port and user == intended.username:
        return "reads it as intended"
    return f"reads host {host!r}, port {port}, user {user!r}"


def raw_password(raw: str) -> str | None:
    """The password as written in the proxy URL (not percent-decoded), or None without one."""
    userinfo = raw.strip().strip("'\"").split("://", 1)[-1].rpartition("@")[0]
    return userinfo.partition(":")[2] if ":" in userinfo else None


def has_percent_escape(raw: str) -> bool:
    """The password as written holds %XX, which every client decodes (a literal '%' in a password?)."""
    return bool(re.search(r"%[0-9A-Fa-f]{2}", raw_password(raw) or ""))


def judge_special_chars(setting, readings: Mapping[str, str], literal_percent: bool = False) -> Judgement:
    """Step 2: credentials that need URL encoding; the fix is the encoded URL with a placeholder password.

    *literal_percent*: the proxy refused the decoded password and accepted it as written: its '%' is literal."""
    url = setting.url
    if not url.has_credentials:
        return Judgement.passed("no_credentials")
    if literal_percent:
        encoded = url.encoded(password_placeholder=PLACEHOLDER)
        return Judgement.fail("literal_percent", fix={"env": {"HTTPS_PROXY": encoded, "HTTP_PROXY": encoded}},
                              source=setting.source, encoded_url=url.encoded(password_placeholder="***"),
                              hostport=url.hostport, scheme=url.scheme)
    if not url.needs_encoding:
        return Judgement.passed("encoded")
    # The placeholder stands for the password; the fix engine fills it in memory to prove the fix.
    encoded = url.encoded(password_placeholder=PLACEHOLDER)
    return Judgement.fail("unencoded", fix={"env": {"HTTPS_PROXY": encoded, "HTTP_PROXY": encoded}},
                          source=setting.source, chars=unencoded_chars(setting.raw),
                          client_reading="; ".join(f"{k}: {v}" for k, v in readings.items()),
                          encoded_url=url.encoded(password_placeholder="***"), hostport=url.hostport,
                          scheme=url.scheme)


_CASE_PAIRS = (("https_proxy", "HTTPS_PROXY"), ("http_proxy", "HTTP_PROXY"), ("all_proxy", "ALL_PROXY"),
               ("no_proxy", "NO_PROXY"))


def judge_env_exported(setting, env: Mapping[str, str], in_profiles: Sequence, profile: str,
                       redact, settings_file: str | None = None) -> Judgement:
    """Step 3: the proxy variables this process has, against the profiles that set them."""
    present = {name: env[name] for name in PROXY_ENV_ORDER if env.get(name, "").strip()}
    # The user's own value (this process, else the profile line), never an example host.
    value = proxy_fix_value(setting.url, in_profiles)
    both = {"HTTPS_PROXY": value, "HTTP_PROXY": value}
    common = dict(profile=profile, export_lines=export_lines({**both, "https_proxy": value, "http_proxy": value}))
    where_files = ", ".join(sorted({f"{a.path} (line {a.line})" for a in in_profiles}))
    if setting.url is not None and setting.source.startswith("env:"):
        # Quotes or blanks pasted into the variable: this tool reads past them, the clients do not.
        if setting.url.pasted:
            var = setting.source.partition(":")[2]
            around = Note.of("pasted_" + "_".join(setting.url.pasted))
            return Judgement.fail("malformed_value", fix={"env": {var: value}}, var=var, around=around, **common)
    if not present:
        if not setting.configured:
            if in_profiles:
                return Judgement.fail("profile_only", fix={"env": both}, where=where_files, **common)
            return Judgement.skip("nowhere")
        if setting.source.startswith("settings:"):
            return Judgement.passed("settings_only", source=setting.source,
                                    where=settings_file or Note.of("its_settings"))
        where = Note.of("set_in_unloaded", files=where_files) if in_profiles else Note.of("in_no_profile")
        return Judgement.fail("missing", fix={"env": both}, source=setting.source, where=where, **common)
    for lower, upper in _CASE_PAIRS:
        a, b = env.get(lower), env.get(upper)
        if a is not None and b is not None and not a.strip() and b.strip() and lower != "no_proxy":
            # Python takes the empty lower-case value as "no proxy"; curl and Claude Code as unset (measured).
            return Judgement.fail("empty_lower", fix={"env": {}, "unset": [lower]}, lower=lower, upper=upper,
                                  **common)
        if a is not None and b is not None and a.strip() != b.strip():
            return Judgement.fail("case_mismatch", detail=f"{lower}={redact(a)!s} but {upper}={redact(b)!s}",
                                  **common)
    if not any(n in present for n in ("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")):
        return Judgement.fail("http_only", fix={"env": {"HTTPS_PROXY": value}},
                              detail=f"set: {', '.join(sorted(present))}", **common)
    return Judgement.passed("exported", names=", ".join(sorted(present)))


def judge_netrc_entry(read, host: str) -> Judgement | None:
    """Step 4: the .netrc file as read (see ``machine.netrcfile``): unusable, no entry, or an entry to test."""
    shown = str(read.path)
    if read.problem is not None:
        key, note, values = read.problem
        return Judgement.fail(key, path=shown, detail=Note.of(note, **values) if note else values["detail"],
                              host=host)
    if read.entry is None:
        return Judgement.skip("no_entry", path=shown, host=host, machines=", ".join(read.machines) or "none")
    login, password = read.entry
    if not login or not password:
        # Python's parser accepts a truncated entry; curl and requests then send nothing useful.
        missing = " and ".join(w for w, v in (("login", login), ("password", password)) if not v)
        return Judgement.fail("malformed", path=shown, detail=Note.of("entry_lacks", host=host, missing=missing),
                              host=host)
    if read.mode & 0o077:
        return Judgement.fail("mode", fix={"files": [{"path": shown, "change": "chmod 600"}]}, path=shown, host=host,
                              mode=stat.filemode(read.st_mode) + f" ({oct(read.mode)[2:]})")
    return None


def judge_netrc_login(read, host: str, target, res, proxy=None) -> Judgement:
    """Step 4: the proxy's answer to CONNECT with the .netrc login.

    *proxy*: the proxy URL.  When it carries no user, an accepted .netrc login is still a finding: curl (even with
    ``--netrc``), requests, httpx and Claude Code take proxy credentials only from the URL (measured: each sent
    none and got 407), so the fix puts the .netrc login into HTTPS_PROXY with the password as a placeholder."""
    if res.status == 407:
        return Judgement.fail("rejected", path=str(read.path), host=host, status=res.reply.status_line)
    if not res.ok:
        return Judgement.blocked(blocking_step_for(res), f"CONNECT {target.hostport}: {res.detail}")
    if proxy is not None and not proxy.has_credentials:
        from pytest_proxydiag.core.proxyurl import ProxyURL

        url = ProxyURL(scheme=proxy.scheme, host=proxy.host, port=proxy.port, username=read.entry[0],
                       password="").encoded(password_placeholder=PLACEHOLDER)
        return Judgement.fail("not_read", fix={"env": {"HTTPS_PROXY": url, "HTTP_PROXY": url}}, path=str(read.path),
                              host=host, login=read.entry[0], export_lines=export_lines({"HTTPS_PROXY": url,
                                                                                         "HTTP_PROXY": url}))
    return Judgement.passed("netrc_ok", path=str(read.path), host=host)


def judge_scheme(proxy, target, res) -> Judgement:
    """Step 5: the schemes a 407 offers; Basic works everywhere, NTLM/Negotiate need a helper."""
    if res.ok:
        return Judgement.passed("no_auth")
    if res.status != 407 or products.relayed_auth(res.status, res.reply.headers, own=products.own_product(res.reply),
                                                  credentials_sent=bool(res.credentials_sent)):
        # A 407 passed on from the proxy's parent (tinyproxy drops its challenge): the proxy's credentials, not ours.
        return Judgement.blocked(blocking_step_for(res), f"CONNECT {target.hostport}: {res.detail}")
    challenges = res.reply.proxy_authenticate
    offered = schemes(challenges)
    if "Basic" in offered:
        return Judgement.passed("basic_offered", schemes=", ".join(offered))
    values = dict(schemes=" and ".join(offered) or "no scheme", challenge="; ".join(challenges) or "(none)",
                  proxy_hostport=proxy.hostport)
    if any(s in ("NTLM", "Negotiate", "Kerberos") for s in offered):
        return Judgement.fail("ntlm_or_negotiate", **values)
    return Judgement.fail("unsupported", **values)
