"""AUTHENTICATION ISSUES: credentials, their encoding, where they are exported, .netrc, the auth scheme."""

from __future__ import annotations

import os

import pytest

from pytest_proxydiag.branches import auth
from pytest_proxydiag.branches.judgement import say
from pytest_proxydiag.core.config import PROXY_ENV_ORDER
from pytest_proxydiag.core.step import shell_profile
from pytest_proxydiag.machine import claude_settings, netrcfile, shellenv

pytestmark = pytest.mark.auth


@pytest.mark.proxydiag_step("auth.credentials")
def test_credentials(proxydiag_step, proxydiag_probes, proxydiag_target, proxydiag_config):
    step, target = proxydiag_step, proxydiag_target
    proxy = step.require_proxy()
    if proxy.scheme in auth.SOCKS5_SCHEMES:
        res = proxydiag_probes.tunnel_to(target)
        step.add_evidence(socks={"stage": res.socks.stage, "code": res.socks.code} if res.socks else res.detail,
                          credentials_sent=res.credentials_sent)
        auth.judge_socks_credentials(proxy, target, res).conclude(step)
        return
    proxy = step.require_http_proxy()
    res = proxydiag_probes.tunnel_to(target)
    step.add_evidence(connect={"status": res.detail, "credentials_sent": res.credentials_sent,
                               "proxy_authenticate": res.reply.proxy_authenticate if res.reply else None})
    auth.judge_credentials(proxy, target, res).conclude(step)


@pytest.mark.proxydiag_step("auth.special_chars")
def test_special_chars(proxydiag_step, proxydiag_config, proxydiag_probes):
    step, setting = proxydiag_step, proxydiag_config.proxy
    if not setting.configured:
        step.skip(say(step, "no_proxy_short"))
    if setting.url is None:
        step.blocked("connectivity.proxy_reachable", say(step, "invalid_proxy", detail=setting.error))
    url, readings = setting.url, {}
    if url.has_credentials and url.needs_encoding:
        readings = auth.client_readings(setting.raw.strip().strip("'\""), url)
        step.add_evidence(client_readings=readings)
        if not url.is_socks:
            # The intended credentials, sent correctly encoded, are what the fix would give the clients.
            first = proxydiag_config.targets[0]
            accepted = proxydiag_probes.connect_tunnel(first.host, first.port)
            step.add_evidence(proxy_accepts_encoded_url=("accepted by the proxy" if accepted.ok else accepted.detail))
    literal = False
    if url.has_credentials and not url.needs_encoding and not url.is_socks and auth.has_percent_escape(setting.raw):
        # Decoded by every client; a refusal that the password as written turns into a yes is a literal '%'.
        first = proxydiag_config.targets[0]
        if proxydiag_probes.connect_tunnel(first.host, first.port).status in (401, 407):
            as_written = proxydiag_probes.connect_tunnel(first.host, first.port, credentials=(
                url.username, auth.raw_password(setting.raw)))
            literal = as_written.ok
            step.add_evidence(proxy_accepts_password_as_written=literal)
    auth.judge_special_chars(setting, readings, literal).conclude(step)


@pytest.mark.proxydiag_step("auth.env_exported")
def test_env_exported(proxydiag_step, proxydiag_config):
    step, cfg = proxydiag_step, proxydiag_config
    home = cfg.env.get("HOME") or os.path.expanduser("~")
    in_profiles = list(shellenv.scan(home, names=PROXY_ENV_ORDER))
    step.add_evidence(set_in_process=sorted(n for n in PROXY_ENV_ORDER if cfg.env.get(n, "").strip()),
                      set_in_files=[f"{a.path}:{a.line} {a.name}" for a in in_profiles])
    # A proxy only in Claude Code's settings: the file that sets it (a managed drop-in is IT's to change).
    name = cfg.proxy.source.partition(":")[2] if cfg.proxy.source.startswith("settings:") else ""
    where = claude_settings.read(home, os.getcwd(), env=cfg.env).where(name) if name else None
    auth.judge_env_exported(cfg.proxy, cfg.env, in_profiles, shell_profile(cfg.env),
                            redact=step.state.redactor.redact, settings_file=where).conclude(step)


@pytest.mark.proxydiag_step("auth.netrc")
def test_netrc(proxydiag_step, proxydiag_config, proxydiag_probes):
    step, cfg = proxydiag_step, proxydiag_config
    path = netrcfile.netrc_path(cfg.env)
    if not path.exists():
        step.skip(say(step, "no_netrc", path=path))
    host = step.require_http_proxy().host
    read = netrcfile.read_netrc(path, host)
    if read.entry is not None:
        step.state.redactor.add_credentials_pair(*read.entry)
        if all(read.entry):
            step.add_evidence(netrc={"path": str(path), "mode": oct(read.mode), "login": read.entry[0]})
    verdict = auth.judge_netrc_entry(read, host)
    if verdict is not None:
        verdict.conclude(step)
    target = cfg.targets[0]
    res = proxydiag_probes.connect_tunnel(target.host, target.port, credentials=(read.entry[0], read.entry[1] or ""))
    step.add_evidence(connect_with_netrc_login=res.detail)
    auth.judge_netrc_login(read, host, target, res, cfg.proxy.url).conclude(step)


@pytest.mark.proxydiag_step("auth.scheme")
def test_scheme(proxydiag_step, proxydiag_config, proxydiag_probes):
    step = proxydiag_step
    proxy = step.require_http_proxy()
    target = proxydiag_config.targets[0]
    res = proxydiag_probes.connect_tunnel(target.host, target.port, credentials=None)
    if res.status == 407:
        step.add_evidence(proxy_authenticate=res.reply.proxy_authenticate)
    auth.judge_scheme(proxy, target, res).conclude(step)
