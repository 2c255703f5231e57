"""What a gateway's answer means: which hop failed, and on which side the fix belongs.

A request through an LLM gateway (LiteLLM) makes two hops: the developer's
client → gateway, then gateway → corporate proxy → provider.  An error can come
from either hop, and from the gateway's own key check.  These functions read
the evidence the probes gathered (status, body, the gateway's process
environment or config) and name the cause in the flowchart's terms.  No I/O,
no sentences for the user: the catalog words them (``catalog/gateway.py``).

LiteLLM's error body is ``{"error": {"message": ..., "type": ..., "code": ...}}``.
Its own key check says ``Authentication Error`` / ``auth_error`` (measured with
LiteLLM 1.81.16); a provider's error is passed through inside ``message``
(``{"type": "error", "error": {"type": "authentication_error", ...}}``); a
failure of the gateway's egress is a 500 whose message quotes the underlying
error (aiohttp's ``Cannot connect to host ... [SSLCertVerificationError ...]``,
httpx's ``ConnectError``, a proxy's ``407``).
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass
from typing import Any, Mapping

__all__ = ["GatewayAnswer", "decode_answer", "key_finding", "corrected_base_url", "CLAUDE_MODEL_VARS", "served_models",
           "models_not_served", "plain_http_api_bases", "plain_http_provider_urls", "https_url", "trust_env_off", "is_internal_host", "EgressProblem", "egress_problems",
           "gateway_key_header", "STREAM_EVENTS", "STREAM_INTERVAL", "STREAM_MODEL", "stream_body", "judge_streaming"]


@dataclass(frozen=True)
class GatewayAnswer:
    """Who answered a request sent through the gateway, and what it means.

    ``verdict`` is one of:

    * ``provider``: the provider's own answer came back (any status: the path works);
    * ``gateway_key``: the gateway's key check refused the request (its 401/403);
    * ``egress_certificate``: the gateway could not verify the provider's certificate;
    * ``egress_proxy_auth``: the proxy asked the gateway for credentials (407);
    * ``egress_proxy_auth_rejected``: the same, to a gateway whose proxy URL (quoted in the error) carries some:
      the gateway's own proxy password is wrong or outdated, whatever the developer's;
    * ``egress_proxy_refused``: the proxy refused the gateway's tunnel (403, 5xx from the proxy);
    * ``egress_connect``: the gateway could not connect (proxy or provider down, DNS, timeout);
    * ``headers``: the provider rejected the request's ``anthropic-version``/``-beta`` the gateway passed;
    * ``no_route``: the gateway itself has no route at that path (its web framework's bare 404 ``Not Found``:
      an ``ANTHROPIC_BASE_URL`` with ``/v1`` appended makes Claude Code ask for ``/v1/v1/messages``);
    * ``gateway_model``: the gateway itself refused the model name (LiteLLM's 400 ``Invalid model name``):
      it serves only the models of its ``model_list``, and the provider was never asked;
    * ``unknown``: an error this reader does not know (quoted verbatim).
    """

    verdict: str
    status: int | None
    message: str
    #: ``http://`` URLs an HTML error page in the answer names (a proxy's page names the URL it was asked for).
    page_urls: tuple[str, ...] = ()


_CERT = re.compile(r"CERTIFICATE_VERIFY_FAILED|SSLCertVerificationError|certificate verify failed|"
                   r"self[- ]signed certificate|unable to get local issuer|SELF_SIGNED_CERT", re.I)
_PROXY_AUTH = re.compile(r"\b407\b|Proxy Authentication Required|proxy.{0,20}auth", re.I)
#: The proxy URL aiohttp quotes in its ClientHttpProxyError (``url='http://user:***@host:port'``), with a user.
_PROXY_URL_USER = re.compile(r"url='[a-z][a-z0-9+.-]*://[^:@/'\s]+(?::[^@/'\s]*)?@", re.I)
_PROXY_REFUSED = re.compile(r"(?:tunnel|proxy|CONNECT)\D{0,40}\b(?:403|502|503|504)\b|"
                            r"\b(?:403|502|503|504)\b\D{0,40}(?:tunnel|proxy)|ERR_ACCESS_DENIED|"
                            r"ERR_DNS_FAIL|ERR_CONNECT_FAIL|X-Squid-Error", re.I)
_CONNECT = re.compile(r"Cannot connect to host|ConnectError|Connection refused|ConnectTimeout|timed out|"
                      r"Name or service not known|getaddrinfo|Temporary failure in name resolution|"
                      r"Connection reset|Server disconnected|APIConnectionError", re.I)
#: LiteLLM's own key check.  Without a database it can check only its master key: any other key gets
#: 400 "No connected db." (measured, 1.81.16), which is still the gateway refusing the key.
_GATEWAY_KEY = re.compile(r"Authentication Error|auth_error|Invalid proxy server token|No api key passed in|"
                          r"LiteLLM Virtual Key expected|invalid user key|key not allowed|No connected db|"
                          r"no_db_connection", re.I)
_NO_DB = re.compile(r"No connected db|no_db_connection", re.I)
_PROVIDER_ERROR = re.compile(r'"type"\s*:\s*"error"|authentication_error|invalid_request_error|'
                             r'permission_error|not_found_error|rate_limit_error|overloaded_error', re.I)
_HEADERS = re.compile(r"anthropic-version|anthropic-beta", re.I)
#: LiteLLM's router when a model is not in its model_list (measured, 1.81.16): 400 "{'error':
#: 'anthropic_messages: Invalid model name passed in model=claude-x. Call `/v1/models` to view ...'}".
_INVALID_MODEL = re.compile(r"Invalid\s+model\s+name\s+passed\s+in\s+model=", re.I)


def _message(body: str) -> str:
    try:
        doc = json.loads(body)
    except (ValueError, TypeError):
        return body.strip()
    if isinstance(doc, Mapping):
        err = doc.get("error")
        if isinstance(err, Mapping):
            return str(err.get("message") or err.get("type") or json.dumps(err))
        if isinstance(err, str):
            return err
        if "detail" in doc:
            return str(doc["detail"])
    return body.strip()


#: LiteLLM's router appends the model group to an error (". Received Model Group=...\nAvailable Model Group
#: Fallbacks=None", measured with 1.81.16): not part of the error a finding quotes.
_MODEL_GROUP_TRAILER = re.compile(r"\.?\s*Received Model Group=.*\Z", re.S)


_HTML = re.compile(r"<!DOCTYPE\s+html|<html[\s>]", re.I)
_TITLE = re.compile(r"<title>\s*([^<]{1,200}?)\s*</title>", re.I)
_PAGE_URL = re.compile(r"http://[A-Za-z0-9.\-\[\]:]+(?:/[^\s\"'<>]*)?")


def decode_answer(status: int | None, body: str) -> GatewayAnswer:
    """Sort a gateway's answer to the check request into a :class:`GatewayAnswer`."""
    answer = _decode(status, body)
    full = _message(body or "")
    if not _HTML.search(full):
        return answer
    # An HTML page passed through (a proxy's error page, 3 KB of CSS before its text): quote its title, keep
    # the http:// URLs it names (Squid's names the URL the gateway asked for).
    title = _TITLE.search(full)
    urls = tuple(dict.fromkeys(u for u in _PAGE_URL.findall(full) if "w3.org" not in u))[:10]
    return GatewayAnswer(answer.verdict, answer.status, title.group(1) if title else answer.message[:200], urls)


def _decode(status: int | None, body: str) -> GatewayAnswer:
    message = _MODEL_GROUP_TRAILER.sub("", _message(body or ""))[:2000]
    if status is None:
        return GatewayAnswer("egress_connect" if _CONNECT.search(message) else "unknown", None, message)
    if status < 400:
        return GatewayAnswer("provider", status, message)
    if status == 404 and message == "Not Found":
        # FastAPI's own {"detail": "Not Found"}: no such route on the gateway (a provider's 404 is its JSON error).
        return GatewayAnswer("no_route", status, message)
    if status == 400 and _INVALID_MODEL.search(message) and not _PROVIDER_ERROR.search(message):
        return GatewayAnswer("gateway_model", status, message)
    if status in (400, 401, 403) and _GATEWAY_KEY.search(message) and not _PROVIDER_ERROR.search(message):
        return GatewayAnswer("gateway_key", status, message)
    if _CERT.search(message):
        return GatewayAnswer("egress_certificate", status, message)
    if _PROXY_AUTH.search(message) and not _PROVIDER_ERROR.search(message):
        sent = _PROXY_URL_USER.search(message)  # aiohttp quotes the proxy URL it used, user name included
        return GatewayAnswer("egress_proxy_auth_rejected" if sent else "egress_proxy_auth", status, message)
    if _PROXY_REFUSED.search(message):
        return GatewayAnswer("egress_proxy_refused", status, message)
    if status >= 500 and _CONNECT.search(message):
        return GatewayAnswer("egress_connect", status, message)
    if status == 400 and _HEADERS.search(message):
        return GatewayAnswer("headers", status, message)
    if _PROVIDER_ERROR.search(message) or status in (400, 401, 404, 429):
        # The provider's own error came back through the gateway: both hops work.
        return GatewayAnswer("provider", status, message)
    return GatewayAnswer("unknown", status, message)


_API_SUFFIX = re.compile(r"/v1(?:/messages)?/*\Z")


def corrected_base_url(url: str) -> str | None:
    """*url* without the API path Claude Code appends itself (``/v1``, ``/v1/messages``), or None when it has
    none: ``http://gw:4000/v1`` -> ``http://gw:4000`` (Claude Code asks for ``<base>/v1/messages``)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    path = _API_SUFFIX.sub("", parts.path) if _API_SUFFIX.search(parts.path) else None
    return None if path is None else urlunsplit((parts.scheme, parts.netloc, path.rstrip("/"), "", ""))


#: Where Claude Code takes the model it asks for (a settings scope's env over the shell's).
CLAUDE_MODEL_VARS = ("ANTHROPIC_MODEL", "ANTHROPIC_DEFAULT_OPUS_MODEL", "ANTHROPIC_DEFAULT_SONNET_MODEL",
                     "ANTHROPIC_DEFAULT_HAIKU_MODEL", "ANTHROPIC_SMALL_FAST_MODEL")


def served_models(status: int | None, body: str) -> list[str] | None:
    """The model names of an OpenAI-style ``/v1/models`` answer (LiteLLM's ``{"data": [{"id": ...}]}``), or None."""
    if status != 200:
        return None
    try:
        doc = json.loads(body)
    except (ValueError, TypeError):
        return None
    data = doc.get("data") if isinstance(doc, Mapping) else None
    if not isinstance(data, list):
        return None
    return [str(m["id"]) for m in data if isinstance(m, Mapping) and isinstance(m.get("id"), str)][:50]


def models_not_served(env: Mapping[str, str], served: list[str]) -> dict[str, str]:
    """The Claude Code model variables set in *env* whose value the gateway does not serve (``*`` serves all)."""
    if "*" in served:
        return {}
    return {v: env[v].strip() for v in CLAUDE_MODEL_VARS if (env.get(v) or "").strip()
            and env[v].strip() not in served}


def plain_http_api_bases(doc: Any, provider_hosts: set[str]) -> list[tuple[str, str]]:
    """``(where, api_base)`` of each ``model_list`` entry that sends a provider plain HTTP (``http://`` to a
    host this run reaches over HTTPS): the provider answers only TLS, so the request never arrives."""
    from urllib.parse import urlsplit

    found: list[tuple[str, str]] = []
    models = doc.get("model_list") if isinstance(doc, Mapping) else None
    for i, entry in enumerate(models if isinstance(models, list) else []):
        params = entry.get("litellm_params") if isinstance(entry, Mapping) else None
        base = params.get("api_base") if isinstance(params, Mapping) else None
        if not isinstance(base, str):
            continue
        try:
            parts = urlsplit(base.strip())
            host = (parts.hostname or "").lower()
        except ValueError:
            continue
        if parts.scheme.lower() == "http" and (host in provider_hosts or host.endswith(".anthropic.com")):
            found.append((f"model_list[{i}].litellm_params.api_base", base.strip()))
    return found


def plain_http_provider_urls(urls, provider_hosts: set[str]) -> list[str]:
    """The ``http://`` URLs (of an error page the gateway passed on) that name a provider reached over HTTPS."""
    from urllib.parse import urlsplit

    found = []
    for url in urls:
        try:
            host = (urlsplit(url).hostname or "").lower()
        except ValueError:
            continue
        if host in provider_hosts or host.endswith(".anthropic.com"):
            found.append(url)
    return found


def https_url(url: str) -> str:
    """*url* with ``https://`` for its scheme (the user's host, port and path kept)."""
    return "https://" + url.split("://", 1)[1] if "://" in url else url


def key_finding(answer: GatewayAnswer) -> str:
    """The ``gateway.key`` finding for a refused key: ``rejected_no_db`` when LiteLLM has no database (it then
    accepts only its master key and cannot issue virtual keys: /key/generate answers 500 "DB not connected",
    measured with 1.81.16), else ``rejected``."""
    return "rejected_no_db" if _NO_DB.search(answer.message or "") else "rejected"


_INTERNAL_SUFFIXES = (".internal", ".corp", ".local", ".lan", ".intranet", ".home.arpa", ".localdomain", ".svc",
                      ".cluster.local")


def is_internal_host(host: str) -> bool:
    """True for a name or address a corporate proxy is not meant to reach (loopback, private, single-label)."""
    host = (host or "").strip("[]").lower().rstrip(".")
    if not host:
        return False
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        return host == "localhost" or "." not in host or host.endswith(_INTERNAL_SUFFIXES)
    return addr.is_private or addr.is_loopback or addr.is_link_local


@dataclass(frozen=True)
class EgressProblem:
    """One problem in the gateway host's egress settings: a catalog finding key and its values."""

    key: str
    values: Mapping[str, str]


_TRUE = {"1", "true", "yes", "on"}
#: What LiteLLM's aiohttp transport reads (measured, 1.81.16): SSL_CERT_FILE works, while
#: REQUESTS_CA_BUNDLE alone leaves it failing with CERTIFICATE_VERIFY_FAILED.
_CA_VARS = ("SSL_CERT_FILE", "SSL_CERT_DIR")


def _proxy_value(env: Mapping[str, str]) -> tuple[str | None, str | None]:
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        if (env.get(name) or "").strip():
            return name, env[name].strip()
    return None, None


def _stale_password(value: str, accepted: Any) -> bool:
    """Whether the gateway's proxy URL *value* names the proxy and user of *accepted* (this run's proxy URL, which
    the proxy accepted) with another password. Compared here, never printed."""
    from pytest_proxydiag.core.proxyurl import parse_proxy_url

    try:
        theirs = parse_proxy_url(value)
    except ValueError:
        return False
    return (theirs.hostport.lower() == accepted.hostport.lower() and theirs.username == accepted.username
            and theirs.password is not None and theirs.password != accepted.password)


def egress_problems(env: Mapping[str, str] | None, settings: Mapping[str, Any] | None, *,
                    proxy_needed: bool, proxy_has_credentials: bool, interception_ca: bool,
                    ca_file_has_ca: Mapping[str, bool] | None = None, env_source: str = "",
                    config_source: str = "", api_bases: list[tuple[str, str]] = (),
                    accepted_proxy: Any = None) -> list[EgressProblem]:
    """Problems in the gateway's egress settings, judged against what this run found.

    *env* is the gateway process's environment (None when it could not be
    read); *settings* its config's ``litellm_settings``.  *proxy_needed*: the
    provider is reached only through the proxy; *proxy_has_credentials*: the
    proxy this run uses carries credentials; *interception_ca*: the proxy
    intercepts TLS with a CA that is not public; *ca_file_has_ca* maps each CA
    file the gateway is told to use to whether it holds that CA; *api_bases* are
    the config's plain-HTTP provider addresses (:func:`plain_http_api_bases`).
    """
    problems: list[EgressProblem] = []
    settings = settings or {}
    verify = settings.get("ssl_verify")
    if verify is False or (isinstance(verify, str) and verify.strip().lower() in ("false", "0", "no")):
        problems.append(EgressProblem("ssl_verify_disabled", {"source": config_source}))
    problems += [EgressProblem("api_base_http", {"source": config_source, "where": where, "api_base": base,
                                                 "fixed": https_url(base)}) for where, base in api_bases[:1]]
    if proxy_needed and trust_env_off(None, settings) == "config":
        problems.append(EgressProblem("aiohttp_ignores_proxy_config", {"source": config_source}))
    if env is None:
        return problems
    name, proxy = _proxy_value(env)
    if proxy_needed and proxy is None:
        problems.append(EgressProblem("egress_no_proxy", {"source": env_source}))
    elif proxy_needed and proxy is not None and proxy_has_credentials and "@" not in proxy:
        problems.append(EgressProblem("egress_proxy_no_credentials", {"source": env_source, "variable": name or ""}))
    elif proxy is not None and accepted_proxy is not None and _stale_password(proxy, accepted_proxy):
        # The same user at the same proxy as this machine's URL, which the proxy accepts, with another password.
        problems.append(EgressProblem("egress_proxy_other_password", {
            "source": env_source, "variable": name or "", "user": repr(accepted_proxy.username)}))
    if interception_ca and verify is not False:
        files = {v: env[v] for v in _CA_VARS if (env.get(v) or "").strip()}
        if isinstance(verify, str) and verify.strip():
            files["ssl_verify"] = verify.strip()
        holds = ca_file_has_ca or {}
        if not any(holds.get(path) for path in files.values()):
            ignored = [v for v in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE") if (env.get(v) or "").strip()]
            problems.append(EgressProblem("egress_ca_missing", {
                "source": env_source, "files": ", ".join(f"{k}={v}" for k, v in files.items()) or "none",
                "ignored": ", ".join(ignored) or "none"}))
    if trust_env_off(env, None) == "env" and proxy is not None:
        problems.append(EgressProblem("aiohttp_ignores_proxy", {"source": env_source}))
    return problems


def trust_env_off(env: Mapping[str, str] | None, settings: Mapping[str, Any] | None) -> str | None:
    """Where LiteLLM is told to ignore the proxy variables: ``"env"`` (``DISABLE_AIOHTTP_TRUST_ENV``), ``"config"``
    (``litellm_settings.disable_aiohttp_trust_env``, which sets the same switch: measured with 1.81.16, its
    aiohttp transport then connects direct with HTTPS_PROXY set), or None."""
    if (str((env or {}).get("DISABLE_AIOHTTP_TRUST_ENV") or "")).strip().lower() in _TRUE:
        return "env"
    value = (settings or {}).get("disable_aiohttp_trust_env")
    if value is True or (isinstance(value, str) and value.strip().lower() in _TRUE):
        return "config"
    return None


def gateway_key_header(key: str | None) -> dict[str, str]:
    """The headers that carry a gateway key the way Claude Code sends ANTHROPIC_API_KEY."""
    return {"x-api-key": key} if key else {}


# ============================================================ streaming through the gateway (SSE)
#: The streaming check asks for this many events, this many seconds apart: the lab's provider stand-in
#: streams the model ``claude-proxydiag-stream-<events>x<seconds>`` (a real provider answers it 401/404,
#: and the check is then not available).  Measured through a real LiteLLM 1.81.16: event by event, 0.1 s
#: apart, the first two together; behind a proxy that buffers, all 8 after 1.36 s.
STREAM_EVENTS = 8
STREAM_INTERVAL = 0.1
STREAM_MODEL = f"claude-proxydiag-stream-{STREAM_EVENTS}x{STREAM_INTERVAL:g}"


def stream_body() -> bytes:
    """The streamed Messages request of the check (never processed by a real provider with the dummy key)."""
    return json.dumps({"model": STREAM_MODEL, "max_tokens": 16, "stream": True,
                       "messages": [{"role": "user", "content": "hi"}]}, separators=(",", ":")).encode()


def judge_streaming(check: Any, *, gateway: str, egress: str | None, client_proxy: str | None):
    """The verdict on a :class:`~pytest_proxydiag.branches.performance.StreamCheck` read through the gateway.

    *egress* is the proxy the gateway's process uses (redacted), when its environment was read;
    *client_proxy* the proxy Claude Code reaches the gateway through, if any.
    """
    from pytest_proxydiag.branches.judgement import Judgement, Note
    from pytest_proxydiag.branches.performance import fmt_ms

    if not check.ok:
        return Judgement.skip("no_stream", detail=check.detail)
    if not check.available:
        return Judgement.skip("not_available", status=check.status or check.detail)
    values = dict(gateway=gateway, events=len(check.arrivals), interval=fmt_ms(check.interval),
                  first_event=fmt_ms(check.first_event) if check.first_event is not None else "-")
    if check.buffered:
        spread = check.arrivals[-1] - check.arrivals[0]
        return Judgement.fail("buffered", spread=fmt_ms(spread), egress=egress or Note.of("egress_unknown"),
                              client_hop=Note.of("client_hop", proxy=client_proxy) if client_proxy else "",
                              record={"streaming": check.as_dict()}, **values)
    return Judgement("pass", "spaced", values, record={"streaming": check.as_dict()})
