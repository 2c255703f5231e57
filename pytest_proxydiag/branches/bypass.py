"""Traffic that skips the proxy: system proxy sources, application settings, and a relay that observes arrival.

* :func:`system_sources` — every place outside the process environment that
  names a proxy: ``/etc/environment`` and shell profiles (read by
  :func:`pytest_proxydiag.machine.shellenv.scan`, never executed), GNOME ``gsettings``
  and macOS ``scutil --proxy`` (bounded subprocesses, only when installed),
  apt, pip, npm and git configuration, and a PAC/WPAD file (evaluated with
  ``pypac`` when it is installed).  Each :class:`ProxySource` says which
  clients read it.
* :func:`app_settings` — Claude Code's ``settings.json`` ``env`` blocks (user,
  project, local, managed) and a LiteLLM config's proxy keys.
* :class:`~pytest_proxydiag.net.relay.ObservedRelay` (in the probe layer) —
  a loopback pass-through in front of the real proxy that records what a
  real client sends to it.

Paths are injectable (:data:`SYSTEM_ROOT`, the *home* and *cwd* arguments) so
tests never touch the real ``/etc`` or home directory.
"""

from __future__ import annotations

import ipaddress
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlsplit

from pytest_proxydiag import catalog
from pytest_proxydiag.branches.judgement import Judgement, Note
from pytest_proxydiag.machine import system_proxy
from pytest_proxydiag.machine.system_proxy import (COMMAND_TIMEOUT, ProxySource, pac_sources, run_bounded,
                                                   system_sources)
from pytest_proxydiag.machine.system_proxy import display_path as _display
from pytest_proxydiag.machine.system_proxy import read_file as _read  # noqa: F401 - kept importable here
from pytest_proxydiag.machine import claude_settings, litellm_config as litellm_config_file
from pytest_proxydiag.net.policy_probes import api_path
from pytest_proxydiag.net.relay import PROXY_NAMES, Arrival, ObservedRelay, relay_env

__all__ = ["ProxySource", "SettingsEntry", "ObservedRelay", "Arrival", "system_sources", "pac_sources",
           "app_settings", "normalize_proxy", "same_proxy", "relay_env", "run_bounded", "urllib_witness",
           "COMMAND_TIMEOUT", "PROXY_NAMES"]

NO_PROXY_NAMES = ("no_proxy", "NO_PROXY")


def _sys(path: str) -> Path:
    return system_proxy.SYSTEM_ROOT / path.lstrip("/")


@dataclass(frozen=True)
class SettingsEntry:
    """A proxy-related key in an application's settings file."""

    path: str
    key: str
    value: str
    app: str
    precedence: int = 0  # higher wins (managed > local > project > user)
    error: str | None = None
    stops_app: bool = False  # the app refuses to start over this file (an unparsable managed file)


def normalize_proxy(value: str | None) -> str | None:
    """host:port of a proxy URL (or ``host:port``), lower case, without credentials; None if empty."""
    if value is None:
        return None
    v = value.strip().strip("'\"")
    if not v:
        return None
    if "://" not in v:
        v = "http://" + v
    try:
        parts = urlsplit(v)
        host = (parts.hostname or "").lower()
        port = parts.port or (443 if parts.scheme == "https" else 1080 if parts.scheme.startswith("socks") else 80)
    except ValueError:
        return v.lower()
    if not host:
        return None
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def same_proxy(a: str | None, b: str | None) -> bool:
    return normalize_proxy(a) == normalize_proxy(b)


# -- application settings ----------------------------------------------------------------------------------
CLAUDE_ENV_KEYS = PROXY_NAMES + NO_PROXY_NAMES + ("ANTHROPIC_BASE_URL",)


def _claude_entries(home: Path, cwd: Path | None) -> list[SettingsEntry]:
    out = []
    root = system_proxy.SYSTEM_ROOT if system_proxy.SYSTEM_ROOT != Path("/") else None
    for prec, f in enumerate(claude_settings.read(home, cwd, system_root=root).files, 1):
        shown = _display(Path(f.path), home)
        if f.problem:
            out.append(SettingsEntry(shown, f.invalid or "(file)", "", "Claude Code", prec, error=f.problem,
                                     stops_app=f.stops_claude))
        out += [SettingsEntry(shown, f"env.{k}", v, "Claude Code", prec) for k, v in f.env.items()
                if k in CLAUDE_ENV_KEYS]
    return out


def _litellm_entries(path: Path | None, home: Path) -> list[SettingsEntry]:
    if path is None:
        return []
    if not path.is_file():
        return []
    shown = _display(path, home)
    doc, problem = litellm_config_file.load(str(path))
    if problem:
        return [SettingsEntry(shown, "(file)", "", "LiteLLM", 0, error=problem)]
    out = []
    env_vars = doc.get("environment_variables") or {}
    if isinstance(env_vars, dict):
        for k, v in env_vars.items():
            if str(k) in PROXY_NAMES + NO_PROXY_NAMES:
                out.append(SettingsEntry(shown, f"environment_variables.{k}", str(v), "LiteLLM"))
    for section in ("litellm_settings", "general_settings", "router_settings"):
        sec = doc.get(section) or {}
        if isinstance(sec, dict):
            for k, v in sec.items():
                if "proxy" in str(k).lower() and isinstance(v, (str, int)) and str(k).lower() not in (
                        "proxy_batch_write_at", "proxy_budget_rescheduler_min_time",
                        "proxy_budget_rescheduler_max_time"):
                    out.append(SettingsEntry(shown, f"{section}.{k}", str(v), "LiteLLM"))
    return out


#: A curl config line that sets its proxy or its no-proxy list: ``proxy = "URL"``, ``--proxy URL``, ``-x URL``,
#: ``noproxy host,...`` (long names without dashes; '=', ':' or blanks between name and value; '#' comments).
_CURLRC_LINE = re.compile(r"^\s*(?:(?:--)?(proxy|noproxy)(?![-\w])\s*[=:]?|-x)\s*(\"(?:[^\"\\]|\\.)*\"|\S+)",
                          re.IGNORECASE)


def _curlrc_entries(home: Path) -> list[SettingsEntry]:
    """``proxy``/``-x`` and ``noproxy`` in ~/.curlrc: curl applies them over HTTPS_PROXY and NO_PROXY (measured with
    curl 7.88.1: its request went to the .curlrc proxy)."""
    path = home / ".curlrc"
    try:
        text = path.read_text(encoding="utf-8", errors="replace")[:65536] if path.is_file() else ""
    except OSError:
        return []
    out = []
    for line in text.splitlines():
        m = _CURLRC_LINE.match(line)
        if m:
            value = m.group(2)[1:-1] if m.group(2).startswith('"') else m.group(2)
            out.append(SettingsEntry(_display(path, home), (m.group(1) or "proxy").lower(), value, "curl"))
    return out


def app_settings(home: str | os.PathLike, cwd: str | os.PathLike | None,
                 litellm_config: str | None) -> list[SettingsEntry]:
    h = Path(home)
    c = Path(cwd) if cwd is not None else None
    found = litellm_config_file.locate(litellm_config, cwd=c) if c is not None or litellm_config else None
    lite = Path(found.path) if found else None
    return _claude_entries(h, c) + _litellm_entries(lite, h) + _curlrc_entries(h)


_URLLIB_SNIPPET = r"""
import sys, urllib.request, urllib.error, ssl
url = sys.argv[1]
req = urllib.request.Request(url, data=b'{}', method='POST', headers={'content-type': 'application/json',
      'x-api-key': 'proxydiag-dummy-key', 'anthropic-version': '2023-06-01'})
try:
    with urllib.request.urlopen(req, timeout=float(sys.argv[2])) as r:
        print('status', r.status)
except urllib.error.HTTPError as e:
    print('status', e.code)
except Exception as e:
    print('error', type(e).__name__, str(e)[:300])
"""


def urllib_witness(url: str, env: Mapping[str, str], timeout: float) -> tuple[str, str]:
    """Python's urllib (always present) as a last-resort real client: (outcome line, command)."""
    clean = {k: v for k, v in env.items() if not re.search(r"(_API_KEY$|TOKEN|SECRET)", k, re.IGNORECASE)}
    rc, out, err = run_bounded([sys.executable, "-c", _URLLIB_SNIPPET, url, str(timeout)], timeout=timeout + 2,
                               env=clean)
    line = (out.strip().splitlines() or [err.strip()[:200] or f"exit {rc}"])[-1]
    return line, f"{os.path.basename(sys.executable)} -c <urllib POST {url}>"


# -- judging (the step tests conclude with these) -------------------------------------------------------------
TRAFFIC, NO_PROXY, SYSTEM, APPS = "bypass.traffic_via_proxy", "bypass.no_proxy", "bypass.system_proxy", \
    "bypass.app_settings"
METADATA_URL = "http://169.254.169.254/latest/meta-data/"
#: Google's metadata server by the name google-auth asks (measured: Claude Code 2.1.332 in Vertex AI mode GETs
#: http://metadata.google.internal/computeMetadata/v1/instance when it has no other login).
GCE_METADATA_URL = "http://metadata.google.internal/computeMetadata/v1/"
#: Clients the witness may be: those whose real program follows the routing rules of the same name.
WITNESS_ORDER = ("claude", "curl", "requests", "httpx")


def _note(step_id: str, name: str, /, **values: Any) -> str:
    return catalog.note(step_id, name, **values)


def env_has_proxy(env: Mapping[str, str]) -> bool:
    return any(env.get(n, "").strip() for n in PROXY_NAMES)


def judge_no_proxy_variable(proxy_configured: bool) -> Judgement:
    """No proxy variable in this environment: every client goes direct (or nothing is configured at all)."""
    if proxy_configured:
        return Judgement.blocked("auth.env_exported", key="env_not_exported")
    return Judgement.skip("no_proxy")


def routes_evidence(matrix: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, str]]:
    return {c: {u: _note(TRAFFIC, "route_direct", reason=r.reason) if r.direct
                else _note(TRAFFIC, "route_proxy", variable=r.proxy_var or "").rstrip()
                for u, r in per.items()} for c, per in matrix.items()}


def witness(probes: Any, settings: Any, matrix: Mapping[str, Mapping[str, Any]]) -> dict[str, Any] | None:
    """Run one real client through an observing relay in front of the proxy; None if none can run."""
    from pytest_proxydiag.net import routing
    from pytest_proxydiag.proof import clients

    proxy = settings.proxy.url
    if proxy is None or proxy.is_socks or settings["clients"] == "none":
        return None
    if probes.proxy_unusable() is not None:
        return None  # no client is started against a proxy known to be dead: it would wait out its timeout
    available = {c.name for c in clients.discover(settings["clients"]) if c.available}
    candidates = [(c, t) for c in WITNESS_ORDER if c in available for t in settings.targets
                  if not matrix[c][t.url].direct]
    via_urllib = [t for t in settings.targets if not routing.route(t.url, settings.env, "urllib").direct]
    if not candidates and not via_urllib:
        return None
    timeout = float(settings.timeout)
    with probes.relay(lifetime=timeout * 4 + 5) as relay:
        renv = relay_env(settings.env, relay.url)
        if candidates:
            name, target = candidates[0]
            run = clients.run_client(name, target.url, renv, timeout=timeout * 2, resolve=dict(settings.resolve))
            outcome = clients.describe(run) if hasattr(clients, "describe") else str(run)
            label = routing.CLIENT_LABELS.get(name, name)
        else:
            target = via_urllib[0]
            outcome, _cmd = urllib_witness(target.origin + api_path(target), renv, timeout * 2)
            label = routing.CLIENT_LABELS["urllib"]
        # The relay records on its own thread, before it passes the proxy's answer on: a moment is enough.
        arrivals = relay.wait_for(target.hostport, 0.5)
    first = arrivals[0] if arrivals else None
    answer = None
    if first is not None:
        answer = (_note(TRAFFIC, "proxy_answered", status=first.upstream_status) if first.upstream_status
                  else first.upstream_error)
    return {"client": label, "target": target.hostport, "outcome": outcome, "observed": bool(arrivals),
            "arrival": f"{first.method} {first.target}" if first else None,
            "status": first.upstream_status if first else None, "proxy_answer": answer}


def judge_traffic(matrix: Mapping[str, Mapping[str, Any]], proof: Mapping[str, Any] | None, urls: list[str],
                  export_lines: str, socks: Any = None, url_needs_encoding: bool = False) -> Judgement:
    """Step 1: every client's route to the provider goes through the proxy, and a real request arrived there.

    *socks*: the proxy URL when it is a SOCKS one, whose fix says which clients cannot use it at all.
    *url_needs_encoding*: the proxy URL's credentials need encoding (auth.special_chars), so a witness that never
    reached the proxy misread the URL (``CORP\\jdoe``: Claude Code looks up the host "corp")."""
    from pytest_proxydiag.net.routing import CLIENT_LABELS

    socks_note = _note(TRAFFIC, "socks_note", scheme=socks.scheme, hostport=socks.hostport) if socks else ""

    direct = [(c, u, r) for c, per in matrix.items() for u, r in per.items() if r.direct]
    if direct:
        lines = "\n".join(_note(TRAFFIC, "direct_line", client=CLIENT_LABELS[c], host=urlsplit(u).netloc,
                                reason=r.reason) for c, u, r in direct)
        return Judgement.fail("direct", direct=lines, export_lines=export_lines, socks_note=socks_note,
                              clients=", ".join(dict.fromkeys(CLIENT_LABELS[c] for c, _u, _r in direct)),
                              target=", ".join(dict.fromkeys(urlsplit(u).netloc for _c, u, _r in direct)))
    if proof is not None and not proof["observed"] and url_needs_encoding:
        return Judgement.blocked("auth.special_chars", key="unobserved_unparsable", witness=proof["client"],
                                 target=proof["target"], arrival=proof["outcome"])
    if proof is not None and not proof["observed"]:
        return Judgement.fail("unobserved", witness=proof["client"], target=proof["target"],
                              arrival=proof["outcome"], export_lines=export_lines, socks_note=socks_note)
    if proof is None:
        return Judgement.passed("by_rules", urls=", ".join(urls))
    return Judgement.passed("proved", client=proof["client"], arrival=proof["arrival"],
                            proxy_answer=proof["proxy_answer"])


def must_be_direct(host: str) -> bool:
    """A gateway the corporate proxy cannot reach: this machine, a private address, an internal name."""
    h = host.strip("[]").lower()
    try:
        ip = ipaddress.ip_address(h)
        return ip.is_loopback or ip.is_private or ip.is_link_local
    except ValueError:
        pass
    return h == "localhost" or "." not in h or h.endswith((".local", ".internal", ".lan", ".corp", ".home.arpa",
                                                           ".localhost"))


def vertex_login_uses_metadata(env: Mapping[str, str]) -> bool:
    """Google's login falls back to the metadata server: no ``GOOGLE_APPLICATION_CREDENTIALS``, no gcloud
    application-default credentials file (``CLOUDSDK_CONFIG`` or ~/.config/gcloud) and the login not skipped."""
    if env.get("GOOGLE_APPLICATION_CREDENTIALS") or \
            (env.get("CLAUDE_CODE_SKIP_VERTEX_AUTH") or "").strip().lower() in ("1", "true", "yes", "on"):
        return False
    config = env.get("CLOUDSDK_CONFIG") or os.path.join(env.get("HOME") or os.path.expanduser("~"), ".config",
                                                         "gcloud")
    return not os.path.isfile(os.path.join(config, "application_default_credentials.json"))


def routing_expectations(targets: Any, gateway: Any, cloud_credentials: bool, vertex: bool = False) -> tuple[
        dict[str, str], dict[str, str]]:
    """(URLs that must go through the proxy -> host, URLs that must go direct -> why); *vertex*: a Vertex AI user,
    whose login asks Google's metadata server by name."""
    must_proxy = {t.url: t.host for t in targets}
    must_direct: dict[str, str] = {}
    if gateway.value:
        gw = urlsplit(gateway.value)
        if gw.hostname and must_be_direct(gw.hostname):
            must_direct[gateway.value] = _note(NO_PROXY, "gateway_direct", host=gw.hostname, source=gateway.source)
    if cloud_credentials:
        must_direct[METADATA_URL] = _note(NO_PROXY, "metadata_direct")
    if vertex:
        must_direct[GCE_METADATA_URL] = _note(NO_PROXY, "metadata_direct_gce")
    return must_proxy, must_direct


def judge_no_proxy(env: Mapping[str, str], no_proxy: Any, matrix: Mapping[str, Mapping[str, Any]],
                   must_proxy: Mapping[str, str], must_direct: Mapping[str, str]) -> Judgement:
    """Step 2: NO_PROXY keeps the provider on the proxy (and local gateways direct) for every client."""
    from pytest_proxydiag.net import routing

    problems, lines, provider_problem = [], [], False
    for client, per in matrix.items():
        label = routing.CLIENT_LABELS[client]
        value, var = routing.no_proxy_value(env, client)
        err = routing.no_proxy_error(value, client) if value else None
        if err:
            problems.append(_note(NO_PROXY, "client_error", client=label, error=err))
            provider_problem = True
        for url, host in must_proxy.items():
            r = per[url]
            if r.direct and r.bypass is not None:
                provider_problem = True
                problems.append(_note(NO_PROXY, "goes_direct", client=label, host=host, variable=var,
                                      entry=r.bypass.entry, rule=r.bypass.rule))
        for url, why in must_direct.items():
            r = per[url]
            if not r.direct and r.error is None:
                problems.append(_note(NO_PROXY, "goes_through", client=label, host=urlsplit(url).hostname, why=why))
        cells = "; ".join(f"{urlsplit(u).hostname} -> " + ("direct" if r.direct else "proxy") for u, r in per.items())
        lines.append(_note(NO_PROXY, "matrix_line", client=label, variable=var or _note(NO_PROXY, "reads_nothing"),
                           cells=cells))
    if not problems:
        summary = (_note(NO_PROXY, "not_set") if no_proxy.value is None
                   else _note(NO_PROXY, "keeps", source=no_proxy.source, hosts=", ".join(must_proxy.values())))
        if must_direct:
            summary += _note(NO_PROXY, "and_direct", hosts=", ".join(urlsplit(u).hostname or u for u in must_direct))
        return Judgement("pass", "", detail=summary)
    keep = list(dict.fromkeys(h for h in ["localhost", "127.0.0.1", "::1"]
                              + [urlsplit(u).hostname for u in must_direct] if h))
    corrected = routing.corrected_no_proxy(no_proxy.value or "", keep_direct=keep, must_proxy=list(must_proxy.values()))
    shown = no_proxy.value if no_proxy.value is not None else _note(NO_PROXY, "unset")
    if env.get("NO_PROXY") is not None and env.get("no_proxy") is not None and env["NO_PROXY"] != env["no_proxy"]:
        shown = _note(NO_PROXY, "both_spellings", upper=env["NO_PROXY"], lower=env["no_proxy"])
    fix = {"env": {"NO_PROXY": corrected, "no_proxy": corrected}}
    if not provider_problem:  # only the gateway's route changes: a provider check cannot prove it
        fix["route_only"] = ", ".join(urlsplit(u).hostname or u for u in must_direct)
    return Judgement.fail("bypassed", fix=fix,
                          problems="\n".join(dict.fromkeys(problems)), matrix="\n".join(lines), value=shown,
                          source=no_proxy.source, corrected=corrected, keep=", ".join(keep),
                          must=", ".join(must_proxy.values()))


def _entries(value: str | None) -> set[str]:
    return {e.strip().lower() for e in (value or "").replace(" ", ",").split(",") if e.strip()}


def judge_system_sources(sources: list[ProxySource], notes: list[str], env_raw: str | None, env_var: str | None,
                         env_no_proxy: Any) -> Judgement:
    """Step 3: no system or tool setting names another proxy (or another NO_PROXY) than this shell."""
    env_norm = normalize_proxy(env_raw)
    env_proxy = env_norm or _note(SYSTEM, "no_proxy_set")
    conflicts, fixes = [], []
    for src in sources:
        at = dict(where=src.where, setting=src.key, value=src.value)
        if src.kind == "proxy":
            if env_norm is None:
                conflicts.append(_note(SYSTEM, "conflict_no_env", **at))
                fixes.append(_note(SYSTEM, "fix_no_env", **at))
            elif not same_proxy(src.value, env_raw):
                conflicts.append(_note(SYSTEM, "conflict_other", env_proxy=env_norm, **at))
                fixes.append(_note(SYSTEM, "fix_other", variable=env_var, env_proxy=env_norm, **at))
        elif src.kind == "no_proxy" and src.new_shells and env_no_proxy.value is not None and \
                _entries(src.value) != _entries(env_no_proxy.value):
            conflicts.append(_note(SYSTEM, "conflict_no_proxy", source=env_no_proxy.source,
                                   env_no_proxy=env_no_proxy.value, **at))
            fixes.append(_note(SYSTEM, "fix_no_proxy", **at))
        elif src.kind == "pac" and src.key.startswith("FindProxyForURL"):
            direct = src.value.strip().upper() == "DIRECT"
            if (direct and env_norm) or (not direct and not same_proxy(src.value, env_raw)):
                conflicts.append(_note(SYSTEM, "conflict_pac", env_proxy=env_norm or _note(SYSTEM, "direct"), **at))
                fixes.append(_note(SYSTEM, "fix_pac"))
    if not conflicts:
        names = ", ".join(dict.fromkeys(src.where.split(":")[0] for src in sources)) or _note(SYSTEM, "none_found")
        return Judgement.passed("agrees", env_proxy=env_proxy, names=names,
                                not_checked=Note.of("not_checked", notes="; ".join(notes)) if notes else "")
    who = [_note(SYSTEM, "who_shell", clients=_note(SYSTEM, "env_clients"),
                 env_proxy=env_norm or _note(SYSTEM, "direct"), variable=env_var if env_raw else _note(SYSTEM, "no_proxy_variable"))]
    who += [_note(SYSTEM, "who_source", used_by=src.used_by, value=src.value, where=src.where)
            for src in sources if src.kind in ("proxy", "pac")]
    return Judgement.fail("conflict", conflicts="\n".join(conflicts), who_uses="\n".join(dict.fromkeys(who)),
                          env_proxy=env_proxy, fixes="\n".join(dict.fromkeys(fixes)))


def _quoted(path: str) -> str:
    import shlex
    return shlex.quote(path)


def judge_app_settings(entries: list[SettingsEntry], targets: Any, env_raw: str | None,
                       env_var: str | None, claude_var: str | None = None) -> Judgement:
    """Step 4: no application settings file overrides the shell's proxy or sends the provider direct.

    *claude_var* is the variable Claude Code takes its proxy from (the shell with its settings' ``env`` on top, in
    its order: https_proxy, HTTPS_PROXY, ...): a settings proxy variable it does not read overrides nothing.
    """
    from pytest_proxydiag.net import routing

    problems = []  # (entry, problem, change)
    for e in sorted(entries, key=lambda x: -x.precedence):
        if e.error and e.stops_app:
            return Judgement.fail("managed_unparsable", path=e.path, problem=e.error, quoted=_quoted(e.path))
        if e.error:
            change = (_note(APPS, "fix_setting", setting=e.key) if e.key != "(file)"
                      else _note(APPS, "fix_syntax", format="JSON" if e.path.endswith(".json") else "YAML"))
            return Judgement.fail("unreadable", path=e.path, app=e.app, problem=e.error, setting=e.key, value="",
                                  change=change, others="")
        name = e.key.split(".")[-1]
        client = {"Claude Code": "claude", "curl": "curl"}.get(e.app, "httpx")
        if name.lower() in ("no_proxy", "noproxy"):
            for t in targets:
                m = routing.matches_no_proxy(t.host, t.port, e.value, client)
                if m is not None:
                    problems.append((e, _note(APPS, "sends_direct", app=e.app, host=t.host, entry=m.entry,
                                              rule=m.rule), _note(APPS, "keep_internal", name=name)))
                    break
        elif name in PROXY_NAMES or (e.app == "curl" and name == "proxy"):
            if claude_var and client == "claude" and e.value.strip() and name != claude_var:
                continue  # measured with 2.1.332: the shell's https_proxy beats a settings HTTPS_PROXY
            if not e.value.strip():
                problems.append((e, _note(APPS, "empty_value", app=e.app), _note(APPS, "remove_key", name=name)))
            elif client == "claude" and e.value == "null":
                problems.append((e, _note(APPS, "null_value", name=name), _note(APPS, "remove_key", name=name)))
            elif env_raw and not same_proxy(e.value, env_raw):
                problems.append((e, _note(APPS, "other_proxy", app=e.app, app_proxy=normalize_proxy(e.value),
                                          env_proxy=normalize_proxy(env_raw), variable=env_var),
                                 _note(APPS, "same_as_shell", name=name, variable=env_var)))
    if not problems:
        where = ", ".join(dict.fromkeys(e.path for e in entries)) or _note(APPS, "no_settings")
        return Judgement.passed("no_override", where=where)
    e, problem, change = problems[0]
    others = ""
    if len(problems) > 1:
        others = _note(APPS, "also", problems="; ".join(f"{o.path} {o.key}: {p}" for o, p, _c in problems[1:4]))
    # Claude Code applies settings.json "env" over the shell: the fix is proven by running it with
    # that value (before) and without it (after the change).
    app_env = ({"clients": ["claude"], "before": {e.key.split(".", 1)[1]: e.value}}
               if e.app == "Claude Code" and e.key.startswith("env.") else None)
    fix = {"files": [{"path": e.path, "change": change}], **({"app_env": app_env} if app_env else {})}
    return Judgement.fail("override", fix=fix, path=e.path, setting=e.key, value=e.value, problem=problem,
                          change=change, app=e.app, others=others)
