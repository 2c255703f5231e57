"""Proven fixes: every fix a failed step prescribes is tried with the real clients before it is shown.

A failed step may carry a ``fix`` (see :meth:`StepContext.set_fix`)::

    {"env": {"NODE_EXTRA_CA_CERTS": "/abs/proxydiag-ca/node-extra-ca-certs.pem"},
     "unset": ["NODE_TLS_REJECT_UNAUTHORIZED"],
     "files": [{"path": "/home/u/.claude/settings.json", "change": "remove env.NO_PROXY"}]}

:func:`prove` applies it to a *child* environment only -- the user's environment
(``settings.env``) plus ``fix.env`` minus ``fix.unset`` -- never to the user's
shell or files, runs the selected real clients (``--proxydiag-clients``, see
:mod:`pytest_proxydiag.proof.clients`) against the step's target with that
environment, and runs them once more with the user's environment unchanged (once
per client and target per session) to say which clients were broken before.  It
then fills in

* ``verified``: ``True`` when every client that ran reaches the provider (through
  the proxy, when one is configured) with the fix; ``False`` when one still fails
  (``evidence`` quotes that client's own error); ``None`` when nothing on this
  machine can prove it (no client available, a change only IT can make, a
  provider the proxy refuses by policy);
* ``verified_with``: ``["curl 7.88.1", "requests 2.34.2", "claude 2.1.332"]``;
* ``evidence``: one sentence; ``clients``: per client, before and after, with seconds;
* ``placeholders``: for a value that would hold a secret (the proxy password),
  the placeholder shown in ``env`` and the one-line command that produces the value.

Secrets: a placeholder (``<URL-ENCODED-PASSWORD>``) is replaced by the real,
percent-encoded proxy password *in memory*, in the environment handed to the
client process; the fix object, the reports and the fix script only ever hold
the placeholder.  Clients never see the user's API keys (:func:`clients.client_env`).

Cost: the "before" and "after" runs of all clients happen in parallel, each bounded by
``--proxydiag-timeout`` (one timeout per failed step at most); nothing runs when no step fails.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterable, Mapping, Sequence
from urllib.parse import urlsplit

from pytest_proxydiag.branches import providers
from pytest_proxydiag.proof import claude_runner, client_plans, client_rules, node_rules, clients as clients_mod
from pytest_proxydiag.proof.client_base import PROVIDER_CLIENTS
from pytest_proxydiag.proof.clients import ClientInfo, ClientRun
from pytest_proxydiag.proof.gateway import GATEWAY_FIX_KINDS, prove_gateway_fix
from pytest_proxydiag.proof.fix_values import (  # noqa: F401 - importable from here as before
    ANY_PLACEHOLDER, PLACEHOLDER, PLACEHOLDERS, PRODUCE_PASSWORD, PRODUCE_PROXY_URL, PROXY_PLACEHOLDER,
    placeholder_secrets, proxy_fix_value)

__all__ = ["PLACEHOLDER", "PRODUCE_PASSWORD", "PROXY_PLACEHOLDER", "PRODUCE_PROXY_URL", "PLACEHOLDERS",
           "proxy_fix_value", "NO_DIRECT_ADDRESS", "child_env", "normalize_fix", "prove",
           "verify_fix", "baseline_trust", "STEP_WITNESSES"]

#: With ``--proxydiag-no-direct`` a client that goes direct must not reach the target: the
#: pinned names resolve to this loopback address, where nothing listens (refused at once,
#: like a corporate firewall that drops direct traffic -- and never a real DNS lookup).
NO_DIRECT_ADDRESS = "127.255.255.254"

_PROXY_VARS = ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY")
_CASE_PAIRS = (("https_proxy", "HTTPS_PROXY"), ("http_proxy", "HTTP_PROXY"), ("all_proxy", "ALL_PROXY"),
               ("no_proxy", "NO_PROXY"))
#: Steps whose fix is meant for some clients only: the others are not asked to prove it
#: (a Python CA variable does not fix Claude Code, which another step covers).
STEP_WITNESSES: dict[str, tuple[str, ...]] = {
    "certificate.python_ssl": ("requests", "httpx"),
    "application.python_requests": ("requests", "httpx"),
    # API_TIMEOUT_MS is Claude Code's own variable.
    "performance.timeouts": ("claude",),
}
#: The proxy refused the provider by policy: only IT can change that.
_POLICY_CODES = {"proxy-403", "proxy-451"}
_POLICY_TEXT = re.compile(r"(?i)(?:tunnel|proxy|connect)\D{0,40}\b(?:403|451)\b|\b(?:403|451)\b\D{0,40}"
                          r"(?:forbidden|access denied|unavailable for legal)|ERR_ACCESS_DENIED")
_NOT_THE_PROVIDER = {403, 407, 451}
#: Client processes run at once by one proof (2 cores are common on CI; each client is mostly waiting).
MAX_PARALLEL_CLIENTS = 6
_LOCK = threading.Lock()


# --------------------------------------------------------------------------- building the child env


def child_env(user_env: Mapping[str, str], fix: Mapping[str, Any],
              secrets: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment a fresh shell would have after applying *fix*: user env + fix.env - fix.unset.

    Placeholders in fix.env values are replaced by *secrets* (placeholder -> real value)
    here, in memory; the caller must never write the result anywhere.
    """
    env = {k: v for k, v in user_env.items() if isinstance(k, str) and isinstance(v, str)}
    for name in fix.get("unset") or []:
        env.pop(str(name), None)
    for name, value in (fix.get("env") or {}).items():
        value = str(value)
        for placeholder, real in (secrets or {}).items():
            value = value.replace(placeholder, real)
        env[str(name)] = value
    return env


def normalize_fix(fix: dict, user_env: Mapping[str, str]) -> list[str]:
    """Make *fix* work in a fresh shell as written; returns notes on what was added.

    * a variable whose other-case twin is set to a different value in the user's
      environment gets the twin too (curl and requests read ``https_proxy`` before
      ``HTTPS_PROXY``: fixing only one leaves them on the old value);
    * ``~`` in a value becomes the user's home (values are pasted as they are).
    """
    notes: list[str] = []
    env = fix.get("env")
    if not isinstance(env, dict):
        return notes
    unset = list(fix.get("unset") or [])
    home = user_env.get("HOME") or os.path.expanduser("~")
    for name, value in list(env.items()):
        if isinstance(value, str) and (value == "~" or value.startswith("~/")):
            env[name] = os.path.join(home, value[2:]) if value != "~" else home
    for lower, upper in _CASE_PAIRS:
        for have, twin in ((lower, upper), (upper, lower)):
            if have in env and twin not in env and twin not in unset and user_env.get(twin) is not None \
                    and user_env.get(twin) != env[have]:
                env[twin] = env[have]
                notes.append(f"{twin} is set too: your environment has it with another value, and some "
                             f"clients read it before {have}")
    return notes


# --------------------------------------------------------------------------- judging one client run


def _label(run_or_info) -> str:
    name = getattr(run_or_info, "client", None) or getattr(run_or_info, "name")
    version = getattr(run_or_info, "version", None)
    return f"{name} {version}" if version else name


def _proxy_expected(env: Mapping[str, str]) -> bool:
    return any((env.get(n) or "").strip() for n in _PROXY_VARS)


def _judge(run: ClientRun, env: Mapping[str, str], target_url: str, proxy_expected: bool) -> tuple[bool | None, str]:
    """(reached the provider the right way?, one-line description).  None: the client could not run."""
    if run.error_code == "unavailable":
        return None, clients_mod.describe(run)
    if not run.reached:
        return False, clients_mod.describe(run)
    if run.status in _NOT_THE_PROVIDER and not (run.status == 403 and run.provider_error):
        # Claude Code reports the proxy's refusal as an API status: with a dummy key the
        # provider answers 401, so a 403/407/451 proves nothing about the path -- unless the
        # answer names the provider's own error (AWS refuses a dummy signature with 403).
        return False, f"{clients_mod.describe(run)} (a refusal, likely the proxy's: not proof of the path)"
    # Node takes part only where NODE_USE_ENV_PROXY makes it follow the proxy variables (see _witnesses).
    if proxy_expected and (run.client in _ROUTED or run.client == "node"):
        from pytest_proxydiag.net import routing

        try:
            # botocore takes its proxy as requests does (urllib's getproxies and proxy_bypass rules).
            r = routing.route(target_url, env, _ROUTED_AS.get(run.client, run.client))
        except Exception:  # noqa: BLE001 - the routing model must never stop a verdict
            r = None
        if r is not None and r.direct:
            return False, f"{_label(run)}: went direct, not through the proxy ({r.reason})"
    return True, clients_mod.describe(run)


#: Clients whose route the routing model knows (node here is Node's https module, which
#: ignores proxy variables altogether: it proves nothing about a proxy fix).
_ROUTED = ("curl", "requests", "httpx", "claude", "boto3")
_ROUTED_AS = {"boto3": "requests"}


def _witnesses(infos: Sequence[ClientInfo], step_id: str | None, proxy_expected: bool, target_url: str = "",
               env: Mapping[str, str] | None = None, api: str = "") -> tuple[list[str], list[str]]:
    """(client names that can prove the fix, notes on those left out); *env*: the environment after the fix.
    *api*: the target's (``Target.api``, a Bedrock gateway's too): boto3 proves fixes for Bedrock's API alone."""
    names, left_out = [], []
    only = STEP_WITNESSES.get(step_id or "")
    for info in infos:
        if info.name in PROVIDER_CLIENTS and api != PROVIDER_CLIENTS[info.name]:
            continue  # boto3 speaks Bedrock's API only: it proves nothing about another provider
        if not info.available:
            left_out.append(f"{info.name}: {info.why_not}")
            continue
        if only and info.name not in only:
            continue
        if info.name == "node" and proxy_expected and not node_rules.https_follows_proxy(info.version, env):
            left_out.append(f"{_label(info)}: not a witness for a proxy fix (Node's https module ignores "
                            "HTTPS_PROXY and goes direct)")
            continue
        names.append(info.name)
    return names, left_out


# --------------------------------------------------------------------------- verification


class _RunCache:
    """Client runs kept for the session: the "before" run per (client, target), "after" per env."""

    def __init__(self) -> None:
        self.runs: dict[tuple, ClientRun] = {}
        self.lock = threading.Lock()


def _env_key(env: Mapping[str, str]) -> str:
    # A digest, so no secret is kept in a key (the runs themselves are redacted).
    h = hashlib.sha256()
    for k in sorted(env):
        h.update(k.encode("utf-8", "replace") + b"\0" + env[k].encode("utf-8", "replace") + b"\0")
    return h.hexdigest()


def _pins(resolve: Mapping[tuple[str, int], str], no_direct: bool, target_url: str) -> dict[tuple[str, int], str]:
    pins = dict(resolve or {})
    if no_direct:
        parts = urlsplit(target_url)
        host = (parts.hostname or "").lower()
        port = parts.port or (443 if parts.scheme == "https" else 80)
        pins = {k: NO_DIRECT_ADDRESS for k in pins}
        if host:
            pins[(host, port)] = NO_DIRECT_ADDRESS
    return pins


def _needs_it(fix: Mapping[str, Any]) -> str | None:
    """Why only a person can apply *fix* (nothing for the clients to try), or None."""
    if fix.get("route_only"):  # the clients' check goes to the provider, never to the host the change is about
        return f"it changes only the route to {fix['route_only']}, which the clients' check of the provider never takes"
    if fix.get("env") or fix.get("unset") or fix.get("app_env"):
        return None
    if fix.get("ticket_domains"):
        return ("the proxy team must allow " + ", ".join(map(str, fix["ticket_domains"]))
                + "; nothing on this machine can prove that")
    if fix.get("files"):
        paths = ", ".join(str(f.get("path")) for f in fix["files"] if isinstance(f, Mapping))
        return f"it changes files ({paths}), which this tool never edits; apply it and run the diagnosis again"
    return "it names no concrete change this tool could try"


def verify_fix(fix: dict, *, env: Mapping[str, str], target_url: str, clients: str | Sequence[str] = "auto",
               timeout: float = 5.0, resolve: Mapping[tuple[str, int], str] | None = None,
               no_direct: bool = False, secrets: Mapping[str, str] | None = None, redactor=None,
               step_id: str | None = None, cache: _RunCache | None = None,
               baseline: Mapping[str, str] | None = None, dead_proxy: str | None = None, api: str = "") -> dict:
    """Try *fix* with the real clients and record the verdict in it (returned, changed in place).

    *env* is the user's environment; the clients get :func:`child_env` of it.
    *clients* is ``"auto"``, ``"none"``, a comma list or a sequence of names.
    *baseline* holds variables every client process gets where neither the user
    nor the fix sets them (see :func:`baseline_trust`), before and after alike.
    *dead_proxy* (``host:port``) is a proxy known not to accept connections: no
    client is started when the fix still points there.  *api*: the target's (``Target.api``; "": by its host).
    """
    started = time.monotonic()
    red = redactor.redact if redactor is not None else (lambda s: s)
    fix.setdefault("env", {})
    fix.setdefault("unset", [])
    fix.setdefault("files", [])
    notes = normalize_fix(fix, env)
    if notes:
        fix["notes"] = list(dict.fromkeys([*(fix.get("notes") or []), *notes]))
    used = sorted({p for p in (secrets or {}) if any(p in str(v) for v in fix["env"].values())})
    found = sorted({m for v in fix["env"].values() for m in ANY_PLACEHOLDER.findall(str(v))})
    if found:
        fix["placeholders"] = {p: dict(PLACEHOLDERS.get(p) or {"means": f"a value only you know ({p})",
                                                               "produce": "ask IT"}) for p in found}
    fix["verified_with"] = []
    fix["clients"] = []

    def done(verdict: bool | None, evidence: str) -> dict:
        fix["verified"] = verdict
        fix["evidence"] = red(evidence)
        fix["seconds"] = round(time.monotonic() - started, 3)
        return fix

    why_not = _needs_it(fix)
    if why_not:
        return done(None, f"Not verified: {why_not}.")
    if any(PLACEHOLDER in str(v) for v in fix["env"].values()) and PLACEHOLDER not in used:
        return done(None, "Not verified: the fix needs the proxy password, which this run does not know.")
    unknown = [p for p in found if p not in (secrets or {})]
    if unknown:
        # A placeholder is never tried, so never verified: the run does not know the value it stands for.
        return done(None, f"Not verified: the fix holds {', '.join(unknown)}, a value this run did not find; "
                          f"put in yours ({'; '.join(fix['placeholders'][p]['produce'] for p in unknown)}) and "
                          "run the diagnosis again.")
    after_env = child_env(env, fix, secrets)
    app_env = fix.get("app_env") if isinstance(fix.get("app_env"), Mapping) else None
    proxy_expected = _proxy_expected(after_env)
    if dead_proxy and proxy_expected and _proxy_hostport(after_env) == dead_proxy:
        # Every client would only wait out its timeout against it (a blackholed proxy costs one each).
        return done(None, f"Not verified: the proxy {dead_proxy} does not accept connections "
                          "(connectivity.proxy_reachable); no client was started against it.")
    selection = clients if isinstance(clients, str) else ",".join(clients)
    infos = clients_mod.discover(selection)
    # The target's API where the caller knows it, else Claude Code's mode for the host, else the host name.
    api = api or providers.claude_mode(urlsplit(target_url).hostname or "", env)
    names, left_out = _witnesses(infos, step_id, proxy_expected, target_url, after_env, api)
    if app_env and app_env.get("clients"):
        # An application's own settings change only that application.
        names = [n for n in names if n in app_env["clients"]]
    if not names:
        why = "; ".join(left_out) or ("--proxydiag-clients none" if selection.strip().lower() == "none"
                                      else f"no client selected ({selection})")
        return done(None, f"Not verified: no client could try it ({why}).")
    pins = _pins(resolve or {}, no_direct, target_url)
    cache = cache or _RunCache()
    roots = _public_roots(baseline)
    user_settings = claude_runner.user_settings_env(env) if "claude" in names else {}
    plans = {name: client_plans.plan_for(name, env, after_env, app_env, roots, user_settings) for name in names}
    touched = set(fix["env"]) | set(fix["unset"]) | set((app_env or {}).get("before") or {}) | set(
        (app_env or {}).get("after") or {})

    jobs: dict[tuple, client_plans.ClientJob] = {}
    keys: dict[str, tuple[tuple, tuple]] = {}
    for name, plan in plans.items():
        kb = ("before", name, target_url, api, _env_key(plan.before), _env_key(plan.before_settings or {}))
        ka = ("after", name, target_url, api, _env_key(plan.after), _env_key(plan.after_settings or {}))
        keys[name] = (kb, ka)
        for k, job in ((kb, client_plans.ClientJob(name, plan.before, plan.before_settings)),
                       (ka, client_plans.ClientJob(name, plan.after, plan.after_settings))):
            with cache.lock:
                if k not in cache.runs and k not in jobs:
                    jobs[k] = job
    _run_jobs(jobs, cache, target_url, timeout, pins, redactor, api)

    rows, ok, failing, missing, separate, unaffected = [], [], [], [], [], []
    broken_before = []
    for name, plan in plans.items():
        kb, ka = keys[name]
        b_run, a_run = cache.runs[kb], cache.runs[ka]
        b_ok, b_text = _judge(b_run, plan.before, target_url, proxy_expected)
        a_ok, a_text = _judge(a_run, plan.after, target_url, proxy_expected)
        reachable = client_rules.affected(name, plan.effective_before, plan.effective_after, touched)
        row = {"client": _label(a_run), "before": red(b_text), "after": red(a_text),
               "before_seconds": round(b_run.elapsed, 3), "after_seconds": round(a_run.elapsed, 3),
               "command": red(a_run.command), "affected": reachable}
        if a_ok is None:
            missing.append(a_text)
        elif not reachable and a_ok is False and b_ok is False and b_run.error_code == a_run.error_code:
            # The change cannot reach this client and it fails the same way without it: its own problem.
            step = client_rules.explaining_step(name, a_run.error_code, a_run.error, a_run.status)
            row["explained_by"] = step
            separate.append((a_run, step))
        elif not reachable and a_ok:
            unaffected.append(a_run)
        elif a_ok:
            ok.append(a_run)
        else:
            failing.append((a_run, a_text))
        rows.append(row)
        if b_ok is False:
            broken_before.append(_label(b_run))
    fix["clients"] = rows
    if left_out:
        fix["not_run"] = [red(x) for x in left_out]
    fix["verified_with"] = [_label(r) for r in ok]
    if separate:
        fix["separate_problems"] = [{"client": _label(r), "step": step, "error": red(r.error or r.error_code or "")}
                                    for r, step in separate]
    if not broken_before:
        before_text = "; without it they already worked"
    elif len(broken_before) == len(names) and len(names) > 1:
        before_text = "; without it every one of them failed"
    else:
        before_text = f"; without it {_join(broken_before)} failed"
    aside = red(_aside(fix, separate, unaffected))
    if not ok and not failing:
        if missing:
            return done(None, "Not verified: no client could run (" + "; ".join(missing) + ")." + aside)
        return done(None, f"Not verified: no client here reads what this fix changes "
                          f"({_join(sorted(_changed_names(env, after_env)))}).{aside}")
    if failing:
        policy = [r for r, _ in failing if _refused_by_policy(r)]
        # Claude Code names no status for a refused tunnel (ERR_PROXY_TUNNEL): it agrees with
        # the others' 403 but cannot tell it alone.
        if policy and all(r in policy or _tunnel_refused(r) for r, _ in failing):
            r = policy[0]
            return done(None, f"Not verified: the proxy refuses {urlsplit(target_url).hostname} by policy "
                              f"({_label(r)}: {r.error or r.status}); only the proxy team can change that.")
        run, text = failing[0]
        return done(False, f"The fix does not work on this machine: {text}"
                           + (f" (while {_join([_label(r) for r in ok])} reached the provider)" if ok else ""))
    statuses = sorted({r.status for r in ok if r.status is not None})
    via = _via(after_env) if proxy_expected else "directly"
    answered = (f"the provider answered {'/'.join(map(str, statuses))}"
                + (" to a dummy key" if 401 in statuses else "")) if statuses else "the provider answered"
    host = urlsplit(target_url).hostname
    each = "each " if len(ok) > 1 else ""
    return done(True, f"{_join(fix['verified_with'])} {each}reached {host} {via} with this fix "
                      f"({answered}){before_text}.{aside}")


def _run_jobs(jobs: Mapping[tuple, client_plans.ClientJob], cache: "_RunCache", target_url: str, timeout: float,
              pins: Mapping[tuple[str, int], str], redactor, api: str = "") -> None:
    if not jobs:
        return
    with ThreadPoolExecutor(max_workers=min(len(jobs), MAX_PARALLEL_CLIENTS),
                            thread_name_prefix="proxydiag-fix") as pool:
        futures = {k: pool.submit(clients_mod.run_client, j.name, target_url, j.env, timeout, resolve=pins,
                                  redactor=redactor, claude_settings=j.settings, api=api) for k, j in jobs.items()}
        for k, fut in futures.items():
            with cache.lock:
                cache.runs[k] = fut.result()


def _changed_names(before: Mapping[str, str], after: Mapping[str, str]) -> set[str]:
    return {n for n in set(before) | set(after) if before.get(n) != after.get(n)}


def _aside(fix: Mapping[str, Any], separate: list, unaffected: list) -> str:
    """The clients this change cannot reach: named, with the step that explains a failing one."""
    changed = ", ".join(sorted(set(fix.get("env") or {}) | set(fix.get("unset") or [])))
    out = []
    for run, step in separate:
        out.append(f" {_label(run)} does not read {changed} and fails without it too "
                   f"({run.error_code}: {str(run.error or '')[:200]})"
                   + (f": see {step}." if step else ": a separate problem."))
    if unaffected:
        out.append(f" {_join([_label(r) for r in unaffected])} "
                   f"{'do' if len(unaffected) > 1 else 'does'} not read {changed}: not counted as proof.")
    return "".join(out)


def _public_roots(baseline: Mapping[str, str] | str | None) -> str | None:
    if not baseline:
        return None
    if isinstance(baseline, str):
        return baseline
    return next(iter(baseline.values()), None)


def _refused_by_policy(run: ClientRun) -> bool:
    return (run.error_code in _POLICY_CODES or run.status in (403, 451)
            or bool(run.error and _POLICY_TEXT.search(run.error)))


def _tunnel_refused(run: ClientRun) -> bool:
    return run.error_code == "ERR_PROXY_TUNNEL" or bool(run.error and re.search(r"(?i)refused the tunnel", run.error))


def _proxy_hostport(env: Mapping[str, str]) -> str | None:
    """host:port of the proxy the clients take for https in *env* (as the probes name it), or None."""
    from pytest_proxydiag.core.proxyurl import parse_proxy_url

    for name in ("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "http_proxy", "HTTP_PROXY"):
        value = (env.get(name) or "").strip()
        if value:
            try:
                return parse_proxy_url(value, source=f"env:{name}").hostport
            except ValueError:
                return None
    return None


def _via(env: Mapping[str, str]) -> str:
    for name in ("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "http_proxy", "HTTP_PROXY"):
        value = (env.get(name) or "").strip()
        if value:
            netloc = urlsplit(value if "://" in value else "http://" + value).netloc.rpartition("@")[2]
            return f"through {netloc}"
    return "through the proxy"


def _join(items: Iterable[str]) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def baseline_trust(public_roots: str | None) -> dict[str, str]:
    """Where ``--proxydiag-public-roots`` was given, it stands in for the machine's own trust store.

    The provider's certificate chains to those roots (a private test origin, an
    air-gapped mirror), so a client that trusts "the usual public roots" must
    trust them: every trust variable the user and the fix leave unset points at
    them in the client processes.  Without the option the clients keep their
    own stores (certifi, the OS bundle) and this is empty.
    """
    if not public_roots:
        return {}
    path = os.path.abspath(os.path.expanduser(public_roots))
    return {name: path for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS")}


# --------------------------------------------------------------------------- the plugin's entry point

_CACHE_KEY = ("fixes-run-cache",)


def prove(config, state, result) -> None:
    """Verify ``result.fix`` of a failed step (the plugin calls this); never raises."""
    fix = result.fix
    if result.outcome != "failed" or not isinstance(fix, dict):
        return
    try:
        if fix.get("kind") == "node_env_proxy":
            pass  # proven by its step with the real node through a relay (branches/node_env.py)
        elif fix.get("kind") in GATEWAY_FIX_KINDS:
            s = state.settings
            prove_gateway_fix(fix, env=s.env, clients=s["clients"] or "auto", timeout=float(s.timeout),
                              resolve=s.resolve, redactor=state.redactor)
        else:
            _prove(state, result, fix)
    except Exception as exc:  # noqa: BLE001 - a verification problem must never stop the diagnosis
        fix["verified"] = None
        fix["evidence"] = state.redactor.redact(f"Not verified: the verification itself failed "
                                                f"({type(exc).__name__}: {exc}).")
    result.fix = state.redactor.redact_obj(fix)


def prove_together(state) -> None:
    """Second pass, at the end of the run: a fix that did not work alone is tried with the others.

    Two problems at once (a wrong port *and* an untrusted interception CA) make
    each fix fail alone: the client gets past the first problem and stops at
    the second.  Each such fix is tried again with every other concrete fix of
    the run applied too; when that works it is ``verified`` — *together with*
    the steps named in ``together_with`` — and its evidence says so.  Never
    raises; costs nothing when fewer than two fixes exist or none failed.
    """
    try:
        failed = [r for r in state.results if r.outcome == "failed" and isinstance(r.fix, dict)]
        concrete = [r for r in failed if (r.fix.get("env") or r.fix.get("unset"))
                    and r.fix.get("kind") not in GATEWAY_FIX_KINDS and r.fix.get("kind") != "node_env_proxy"]
        if len(concrete) < 2 or not any(r.fix.get("verified") is False for r in concrete):
            return
        order = {id(r): i for i, r in enumerate(results_in_order(concrete))}
        for r in concrete:
            if r.fix.get("verified") is not False:
                continue
            others = sorted((o for o in concrete if o is not r), key=lambda o: order[id(o)])
            env: dict[str, str] = {}
            unset: list[str] = []
            for o in others:
                env.update(o.fix.get("env") or {})
                unset += [u for u in o.fix.get("unset") or [] if u not in unset]
            env.update(r.fix.get("env") or {})
            unset = [u for u in unset + list(r.fix.get("unset") or []) if u not in env]
            trial = {"env": env, "unset": list(dict.fromkeys(unset)), "files": []}
            _prove(state, r, trial)
            if trial.get("verified") is True:
                names = [o.step_id for o in others]
                r.fix.update(verified=True, verified_with=trial.get("verified_with", []),
                             together_with=names, clients=trial.get("clients", r.fix.get("clients")),
                             evidence=state.redactor.redact(
                                 f"Works together with the fixes of {', '.join(names)} (alone it did not: "
                                 f"{r.fix.get('evidence')}). {trial.get('evidence', '')}"))
                r.fix = state.redactor.redact_obj(r.fix)
    except Exception:  # noqa: BLE001 - a verification problem must never stop the reports
        return


def results_in_order(results):
    from pytest_proxydiag.core.results import ordered

    return ordered(results)


def _prove(state, result, fix: dict) -> None:
    settings = state.settings
    if state.deadline_passed:
        fix.update(verified=None, verified_with=[], evidence="Not verified: the diagnosis deadline "
                   "(--proxydiag-deadline) had passed.")
        return
    target_url = result.params.get("target") if isinstance(result.params.get("target"), str) else None
    target_url = target_url or settings.targets[0].url
    target = next((t for t in settings.targets if t.url == target_url), None)
    secrets = placeholder_secrets(settings.proxy.url, result.step_id, settings.env, result.finding_key)
    cache = state.probes.cached(_CACHE_KEY, _RunCache)
    verify_fix(fix, env=settings.env, target_url=target_url, clients=settings["clients"] or "auto",
               timeout=float(settings.timeout), resolve=settings.resolve, no_direct=bool(settings["no_direct"]),
               secrets=secrets, redactor=state.redactor, step_id=result.step_id, cache=cache,
               baseline=baseline_trust(settings["public_roots"] if settings.source("public_roots") != "default"
                                       else None),
               dead_proxy=_dead_proxy(state), api=target.api if target is not None else "")


#: Probe causes that mean the proxy did not take the connection at all.
_DEAD = frozenset({"refused", "timeout", "unreachable", "unresolvable"})


def _dead_proxy(state) -> str | None:
    """``host:port`` of the configured proxy when it did not accept a TCP connection, else None."""
    p = state.settings.proxy.url
    if p is None or p.is_socks:
        return None
    bad = state.probes.proxy_unusable()
    cause = getattr(getattr(bad, "cause", None), "value", None)
    return p.hostport if bad is not None and cause in _DEAD else None
