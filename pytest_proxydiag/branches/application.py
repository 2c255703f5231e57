"""APPLICATION: why a request that works with curl fails in another program.

The answers are almost always in one of four places; the evidence comes from
``proof/appruns.py`` (tool versions, Python clients next to curl, SDK runs
with debug logging, each a bounded subprocess) and the readers below, and
this module judges it (the sentences are in ``catalog/application.py``):

* **environments** — in :mod:`.environments` (this process, a new shell, Claude Code);
* **Python clients** — :func:`classify_client_error` maps what failed to the
  flowchart branch, :func:`explain_python_failure` says why curl differs;
* **versions** — :func:`client_traps`: the known traps of the installed clients;
* **LiteLLM** — :func:`parse_litellm_config`: proxy settings, ``os.environ/X``
  references whose variable is unset, ``ssl_verify: false``, timeouts.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from pytest_proxydiag import catalog
from pytest_proxydiag.branches.judgement import Judgement
from pytest_proxydiag.core import shell as shell_syntax
from pytest_proxydiag.core.step import export_lines
from pytest_proxydiag.machine import claude_settings, litellm_config
from pytest_proxydiag.proof.appruns import ToolVersion
from pytest_proxydiag.proof.clients import ClientRun

__all__ = [
    "shell_kind", "claude_settings_env", "classify_client_error", "explain_python_failure", "LiteLLMConfig",
    "parse_litellm_config", "find_litellm_config", "client_traps", "judge_sdk_setup", "judge_sdk_runs",
    "sdk_target", "judge_cloud_only",
    "judge_python_clients", "judge_litellm",
]

MAX_LITELLM = litellm_config.MAX_LITELLM


# ============================================================ environments
shell_kind = shell_syntax.shell_kind


def claude_settings_env(home: str | os.PathLike) -> tuple[dict[str, str], str, str | None]:
    """The ``env`` of every Claude Code settings scope, merged: (variables, file(s), problem or None)."""
    cs = claude_settings.read(home, os.getcwd())
    return dict(cs.env), cs.label() or str(Path(home) / ".claude" / "settings.json"), next(iter(cs.problems), None)


# ============================================================ Python clients vs curl
#: The branch step a client failure points back to (the flowchart's Python test, step 3).
BRANCH_OF = {"auth": "auth.credentials", "connectivity": "connectivity.proxy_reachable",
             "certificate": "certificate.python_ssl", "policy": "policy.domain_allowed",
             "tunnel": "connectivity.proxy_works", "encoding": "auth.special_chars"}


def _py_note(key: str, **values: Any) -> str:
    return catalog.note("application.python_requests", key, **values)


def classify_client_error(run: ClientRun) -> tuple[str, str]:
    """(branch key of :data:`BRANCH_OF`, one-line reason) for a failed client run."""
    code = (run.error_code or "").lower()
    text = (run.error or "").lower()
    error = (run.error or "")[:200]
    if code.startswith("proxy-"):
        status = code.removeprefix("proxy-")
        if status == "407":
            return "auth", _py_note("r_407")
        if status in ("403", "451"):
            return "policy", _py_note("r_refused_destination", status=status)
        # Any other answer to CONNECT (a 5xx: it could not reach the provider) is the proxy's: step 3 owns it.
        return "tunnel", _py_note("r_answered_instead", status=status)
    if "407" in text or "proxy authentication required" in text:
        return "auth", _py_note("r_407_text")
    via_proxy = "tunnel" in text or "proxy" in text or "connect" in text
    refused = re.search(r"\b(403|451)\b", text)
    if refused and via_proxy:
        return "policy", _py_note("r_connect_403", status=refused.group(1))
    if re.search(r"\b(502|503|504)\b", text) and via_proxy:
        return "tunnel", _py_note("r_connect_5xx")
    if "certificate" in text or "ssl" in code or "cert" in text or code in ("60", "35", "77", "83"):
        return "certificate", _py_note("r_tls", error=error)
    if "failed to parse" in text or "invalidurl" in code or "invalid url" in text or "invalidproxyurl" in code:
        return "encoding", _py_note("r_unparsable")
    if code in ("7", "5", "6") or any(w in text for w in ("refused", "newconnectionerror", "unreachable",
                                                            "name or service not known", "failed to resolve")):
        return "connectivity", _py_note("r_unconnectable", error=error)
    if code in ("28", "timeout", "connecttimeout", "readtimeout") or "timed out" in text or "timeout" in code:
        return "connectivity", _py_note("r_timeout", error=error)
    return "tunnel", (run.error or run.error_code or "failed")[:300]


def explain_python_failure(client: str, run: ClientRun, curl: ClientRun | None, env: Mapping[str, str],
                           branch: str, non_ascii_password: bool = False) -> tuple[str, dict[str, str]]:
    """Why *client* fails where curl works, and the variables that fix it (the APPLICATION finding).

    *non_ascii_password*: the proxy URL's password holds a non-ASCII character, which requests sends in Latin-1
    where curl, httpx and Claude Code send UTF-8 (measured: only requests got 407 from Squid)."""
    if branch == "certificate":
        if client == "requests":
            if env.get("SSL_CERT_FILE") and not (env.get("REQUESTS_CA_BUNDLE") or env.get("CURL_CA_BUNDLE")):
                return _py_note("requests_ignores_ssl_cert_file"), {"REQUESTS_CA_BUNDLE": env["SSL_CERT_FILE"]}
            if env.get("REQUESTS_CA_BUNDLE"):
                return _py_note("requests_bundle_lacks_ca", bundle=env["REQUESTS_CA_BUNDLE"]), {}
            return _py_note("requests_certifi"), {"REQUESTS_CA_BUNDLE": _system_bundle()}
        if client == "httpx":
            ca = env.get("REQUESTS_CA_BUNDLE") or env.get("CURL_CA_BUNDLE")
            if ca and not env.get("SSL_CERT_FILE"):
                return _py_note("httpx_ignores_requests_bundle"), {"SSL_CERT_FILE": ca}
            return _py_note("httpx_certifi"), {"SSL_CERT_FILE": _system_bundle()}
    if branch == "encoding":
        return _py_note("stricter_parser", client=client), {}
    if branch == "auth" and non_ascii_password and client == "requests":
        return _py_note("latin1_password", client=client), {}
    if branch == "auth":
        return _py_note("credentials_not_sent", client=client), {}
    if "socks" in (run.error or "").lower():
        extra = "pip install httpx[socks]" if client == "httpx" else "pip install requests[socks]"
        return _py_note("socks_extra", client=client, install=extra), {}
    return _py_note("failed_with", client=client, code=run.error_code, error=run.error), {}


def _system_bundle() -> str:
    for p in ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem"):
        if os.path.exists(p):
            return p
    return "<CORPORATE-CA-BUNDLE>"  # a placeholder (proof.fixes.PLACEHOLDERS), never an invented path


# ============================================================ known client traps
def client_traps(env: Mapping[str, str], versions: Mapping[str, ToolVersion], proxy_url=None,
                 proxy_auth_schemes: Sequence[str] = ()) -> list[str]:
    """Known client-side traps that apply to this machine (each one line, from the catalog)."""
    keys: list[tuple[str, dict]] = []
    has_proxy = any(env.get(n) for n in ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY", "all_proxy",
                                           "ALL_PROXY"))
    if versions.get("anthropic") and versions["anthropic"].version:
        keys.append(("trap_anthropic_transport", {}))
    if versions.get("litellm") and (versions["litellm"].version or versions["litellm"].where) and has_proxy \
            and env.get("AIOHTTP_TRUST_ENV", "").lower() not in ("1", "true", "yes"):
        keys.append(("trap_litellm_aiohttp", {}))
    if versions.get("node") and versions["node"].version and has_proxy and not env.get("NODE_USE_ENV_PROXY"):
        keys.append(("trap_node_fetch", {}))
    if any(s.lower() in ("ntlm", "negotiate", "kerberos") for s in proxy_auth_schemes) and \
            not any(s.lower() == "basic" for s in proxy_auth_schemes):
        keys.append(("trap_ntlm", {}))
    return [catalog.note("application.debug_logging", key, **values) for key, values in keys]


# ============================================================ LiteLLM config
@dataclass
class LiteLLMConfig:
    path: str
    source: str
    error: str | None = None
    proxy: dict[str, Any] = field(default_factory=dict)       # where -> value
    env_refs: dict[str, list[str]] = field(default_factory=dict)   # VAR -> [where]
    unset_refs: dict[str, list[str]] = field(default_factory=dict)
    ssl_verify_false: list[str] = field(default_factory=list)
    ssl_verify: dict[str, Any] = field(default_factory=dict)
    request_timeout: float | None = None
    router_timeout: float | None = None
    timeouts: dict[str, float] = field(default_factory=dict)     # every timeout-like key, where -> seconds
    models: int = 0


def find_litellm_config(option: str | None, option_source: str, cwd: str | os.PathLike) -> tuple[str, str] | None:
    """(path, source) of the LiteLLM config, by :func:`pytest_proxydiag.machine.litellm_config.locate`'s rule."""
    found = litellm_config.locate(option, option_source, cwd)
    return (found.path, found.source) if found else None


_PROXY_KEYS = {"http_proxy", "https_proxy", "no_proxy", "all_proxy"}
_TIMEOUT_KEYS = {"request_timeout", "timeout", "stream_timeout"}


def parse_litellm_config(path: str, env: Mapping[str, str], source: str = "") -> LiteLLMConfig:
    """Read a LiteLLM config with ``yaml.safe_load`` (bounded); never raises."""
    cfg = LiteLLMConfig(path=path, source=source)
    doc, cfg.error = litellm_config.load(path)
    if cfg.error:
        return cfg

    seen: set[int] = set()

    def walk(node: Any, where: str, depth: int = 0) -> None:
        # Anchors and aliases share objects: visit each container once (no blow-up on alias bombs).
        if depth > 50:
            return
        if isinstance(node, (dict, list)):
            if id(node) in seen:
                return
            seen.add(id(node))
        if isinstance(node, dict):
            for k, v in node.items():
                key = str(k)
                here = f"{where}.{key}" if where else key
                lk = key.lower()
                if lk in _PROXY_KEYS and not isinstance(v, (dict, list)):
                    cfg.proxy[here] = v
                if lk == "ssl_verify":
                    cfg.ssl_verify[here] = v
                    if v is False or (isinstance(v, str) and v.strip().lower() in ("false", "no", "0")):
                        cfg.ssl_verify_false.append(here)
                if lk in _TIMEOUT_KEYS and isinstance(v, (int, float)) and not isinstance(v, bool):
                    cfg.timeouts[here] = float(v)
                elif lk in _TIMEOUT_KEYS and isinstance(v, str):
                    try:
                        cfg.timeouts[here] = float(v)
                    except ValueError:
                        pass
                walk(v, here, depth + 1)
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{where}[{i}]", depth + 1)
        elif isinstance(node, str):
            m = re.match(r"^\s*os\.environ/([A-Za-z_][A-Za-z0-9_]*)\s*$", node)
            if m:
                cfg.env_refs.setdefault(m.group(1), []).append(where)

    walk(doc, "")
    env_section = doc.get("environment_variables")
    if isinstance(env_section, dict):
        for k, v in env_section.items():
            if str(k).lower() in _PROXY_KEYS:
                cfg.proxy[f"environment_variables.{k}"] = v
    for var, wheres in cfg.env_refs.items():
        if not env.get(var, "").strip():
            if isinstance(env_section, dict) and env_section.get(var) not in (None, ""):
                continue  # LiteLLM sets it from its own environment_variables section
            cfg.unset_refs[var] = wheres
    ls = doc.get("litellm_settings") if isinstance(doc.get("litellm_settings"), dict) else {}
    rs = doc.get("router_settings") if isinstance(doc.get("router_settings"), dict) else {}
    cfg.request_timeout = _num(ls.get("request_timeout"))
    cfg.router_timeout = _num(rs.get("timeout"))
    models = doc.get("model_list")
    cfg.models = len(models) if isinstance(models, list) else 0
    return cfg


def _num(v: Any) -> float | None:
    if isinstance(v, bool) or v is None:
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


# ============================================================ the four steps' conclusions
def versions_line(versions: Mapping[str, ToolVersion]) -> str:
    return ", ".join(f"{v.name} {v.version}" if v.version else f"{v.name} (missing)" for v in versions.values())


SDKS = ("anthropic", "litellm")


def judge_sdk_setup(proxy_url, versions: Mapping[str, ToolVersion], traps: Sequence[str]) -> Judgement | None:
    """Step 2, before any run: without an SDK there is nothing to run.

    (Which clients can use a SOCKS proxy URL at all is ``connectivity.proxy_works``'s finding.)
    """
    sdks = [name for name in SDKS if versions.get(name) and versions[name].version]
    if not sdks:
        return Judgement.skip("no_sdk", missing=" and ".join(SDKS), where=versions["python"].where)
    return None


def sdk_target(targets: Sequence) -> Any:
    """The first target that speaks Anthropic's API, which both SDK checks send (None: only Bedrock/Vertex AI)."""
    return next((t for t in targets if getattr(t, "api", "anthropic") == "anthropic"), None)


def judge_cloud_only(targets: Sequence) -> Judgement:
    """Step 2 for a Bedrock or Vertex AI user: the SDK checks speak Anthropic's API, which those hosts do not."""
    apis = {"bedrock": "AWS Bedrock", "vertex": "Vertex AI"}
    shown = ", ".join(f"{t.url} ({apis.get(t.api, t.api)})" for t in targets)
    return Judgement.skip("cloud_target", targets=shown)


def judge_sdk_runs(runs: Sequence, proxy_configured: bool, versions: Mapping[str, ToolVersion],
                   traps: Sequence[str], path_failed: tuple[str, ...] | None = None,
                   url_needs_encoding: bool = False, cert_failed: str | None = None) -> Judgement:
    """Step 2: each SDK's debug log must show the proxy, and the SDK must get an answer through it.

    *path_failed*: (the step that judges it, what happened[, the note's key]) when the probes' own request through
    the proxy got no answer either (TLS through the tunnel failed, the connection was cut while waiting, or its
    CONNECT was refused): an SDK failing then is not the SDK's problem.  *url_needs_encoding*: the proxy URL's
    credentials need URL encoding (auth.special_chars), which an SDK that cannot parse the URL fails on.
    *cert_failed*: the certificate step that failed in this run (an untrusted interception CA), which an SDK's
    verification error is."""
    step_id = "application.debug_logging"
    common = dict(traps="\n  ".join(traps) or catalog.note(step_id, "none_known"), versions=versions_line(versions),
                  upgrade="pip install -U anthropic litellm")
    for r in runs:
        if not r.ran:
            continue
        if r.used_proxy is False and proxy_configured:
            return Judgement.fail("no_proxy_in_log", sdk=r.sdk, version=r.version or "",
                                  evidence="; ".join(r.proxy_lines[:3]), **common)
        if r.status is None and url_needs_encoding and r.error_type in ("InvalidURL", "LocationParseError",
                                                                        "ValueError", "ProxyError"):
            return Judgement.blocked("auth.special_chars", key="url_unparsable", sdk=r.sdk,
                                     detail=f"{r.error_type}: {r.error}")
        if r.status is None and cert_failed and "certificate verify failed" in (r.error or "").lower():
            return Judgement.blocked(cert_failed, key="cert_untrusted", sdk=r.sdk, detail=f"{r.error_type}: {r.error}")
        if r.status is None and path_failed:
            return Judgement.blocked(path_failed[0], key=(path_failed[2:] or ("path_cut",))[0], sdk=r.sdk,
                                     detail=f"{r.error_type}: {r.error}", probe=path_failed[1])
        if r.status is None:
            return Judgement.fail("sdk_failed", sdk=r.sdk, version=r.version or "", detail=f"{r.error_type}: {r.error}",
                                  evidence="; ".join(r.proxy_lines[:4]) or "(no proxy lines)", **common)
    shown = "; ".join(f"{r.sdk} {r.version}: HTTP {r.status}" + (catalog.note(step_id, "log_shows_connect")
                                                                  if r.used_proxy else "") for r in runs if r.ran)
    return Judgement("pass", "" if shown else "no_sdk_ran", detail=shown)


def judge_python_clients(cmp, target_url: str, env: Mapping[str, str], url_needs_encoding: bool = False,
                         non_ascii_password: bool = False) -> Judgement:
    """Step 3: a Python client that fails where curl, through the same proxy, works.

    *url_needs_encoding*: the proxy URL's credentials need encoding; curl reads such a URL leniently, requests
    does not (``CORP\\jdoe``: it looks up the host "corp"), so a Python failure is auth.special_chars'."""
    from pytest_proxydiag.proof.clients import describe

    if "requests" in cmp.not_run:
        return Judgement.blocked("application.env_in_shell", key="route_direct", url=target_url,
                                 why=cmp.not_run["requests"])
    curl = cmp.runs.get("curl")
    failed = {c: r for c, r in cmp.runs.items() if c != "curl" and not r.reached}
    if not failed:
        return Judgement("pass", "", detail="; ".join(describe(r) for r in cmp.runs.values()))
    client, run = next(iter(failed.items()))
    if url_needs_encoding:
        return Judgement.blocked("auth.special_chars", key="unparsable_url", client=client,
                                 error=(run.error or run.error_code or "")[:300])
    branch, reason = classify_client_error(run)
    if curl is not None and curl.error_code == "unavailable":
        return Judgement.blocked(BRANCH_OF[branch], key="curl_unavailable", client=client, reason=reason,
                                 error=curl.error)
    if curl is None or not curl.reached:
        return Judgement.blocked(BRANCH_OF[branch], key="both_fail", client=client, reason=reason)
    because, fix = explain_python_failure(client, run, curl, env, branch, non_ascii_password)
    return Judgement.fail("python_only", fix={"env": fix} if fix else None, client=client, because=because,
                          runs="\n".join("  " + describe(r) for r in cmp.runs.values()),
                          fix_lines=export_lines(fix, shell_kind(env)) if fix else _py_note("see_reason"))


def litellm_yaml(ca: str | None = None) -> str:
    """The litellm_settings block that routes LiteLLM through the proxy (and trusts *ca*)."""
    lines = ["  litellm_settings:", "    proxy:", "      http_proxy: os.environ/HTTP_PROXY",
             "      https_proxy: os.environ/HTTPS_PROXY", "      no_proxy: os.environ/NO_PROXY"]
    if ca:
        lines.append(f"    ssl_verify: {ca}")
    return "\n".join(lines)


def judge_litellm(lc: LiteLLMConfig, env: Mapping[str, str], proxy_value: str) -> Judgement:
    """Step 4: the LiteLLM config must parse, keep verification on, route through the proxy, resolve its refs."""
    common = dict(path=lc.path, source=lc.source, yaml=litellm_yaml())
    if lc.error:
        return Judgement.fail("unparseable", detail=lc.error, **common)
    if lc.ssl_verify_false:
        ca = env.get("REQUESTS_CA_BUNDLE") or env.get("SSL_CERT_FILE") or _system_bundle()
        return Judgement.fail("ssl_verify_false", fix={"files": [{"path": lc.path, "change": f"ssl_verify: {ca}"}],
                                                       "env": {"SSL_CERT_FILE": ca}},
                              detail=", ".join(f"{w}: false" for w in lc.ssl_verify_false),
                              **{**common, "yaml": litellm_yaml(ca=ca)},
                              export_lines=export_lines({"SSL_CERT_FILE": ca, "REQUESTS_CA_BUNDLE": ca}))
    if lc.unset_refs:
        values = {v: (proxy_value if "PROXY" in v.upper() and "NO_PROXY" not in v.upper()
                      else ("localhost,127.0.0.1" if v.upper() == "NO_PROXY" else f"<value of {v}>"))
                  for v in lc.unset_refs}
        return Judgement.fail("unset_refs", fix={"env": values}, unset=", ".join(lc.unset_refs),
                              detail=", ".join(f"{v} (at {', '.join(w)})" for v, w in lc.unset_refs.items()),
                              export_lines=export_lines(values), **common)
    if not lc.proxy:
        values = {"HTTPS_PROXY": proxy_value, "HTTP_PROXY": proxy_value}
        return Judgement.fail("missing", fix={"files": [{"path": lc.path, "change": "add litellm_settings.proxy"}],
                                              "env": values},
                              detail=catalog.note("application.litellm_config", "no_proxy_settings"),
                              export_lines=export_lines(values), **common)
    return Judgement.passed("configured", path=lc.path, where=", ".join(lc.proxy))
