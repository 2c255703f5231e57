"""How fast the path through the proxy is: latency split, proxy health, streaming, timeouts, rate limits.

Measurements build on :class:`~pytest_proxydiag.net.probes.Probes` (its
:class:`~pytest_proxydiag.net.probes.Timings` are cumulative from the start of the
exchange) and are cached per run, so the steps that share them measure once.

Phases, like ``curl -w`` / httpstat:

* **proxy connect** — TCP (and TLS for an ``https://`` proxy) to the proxy;
* **CONNECT reply** — from the CONNECT request to the proxy's ``200``: the
  proxy's own work, including its DNS lookup and TCP connect to the provider;
* **TLS** — the handshake with the provider through the tunnel;
* **first byte** — from the end of the handshake to the first byte of the
  answer: sending the request plus the provider's (or, for plain HTTP, the
  proxy's upstream) time to answer.

Request budget — the tool never hammers.  Per target, the PERFORMANCE branch
sends at most: 1 request through the proxy for the latency split (shared with
the other branches' ``GET /``), 1 direct request (only without
``--proxydiag-no-direct``), 1 streaming request, and ``health_samples`` CONNECTs
(default 10, at most 50, and never more than fit in :data:`HEALTH_BUDGET_FACTOR`
network timeouts).  The rate-limit step sends nothing new: it reads the
headers every probe of the run recorded.  The APPLICATION branch adds one
request per client (requests, httpx, curl) and one per SDK.  See
:func:`request_budget`.
"""

from __future__ import annotations

import math
import re
import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from pytest_proxydiag import catalog
from pytest_proxydiag.branches.judgement import Judgement, Note
from pytest_proxydiag.core.config import Settings, Target
from pytest_proxydiag.core.step import export_lines
from pytest_proxydiag.net.probes import Cause, HttpResult, Probes, StreamResult

__all__ = ["LatencySplit", "measure_latency", "split_of", "HealthStats", "proxy_health", "StreamCheck",
           "stream_check", "judge_stream", "RateLimitSighting", "rate_limit_sightings", "ClientTimeout",
           "client_timeouts", "request_budget", "fmt_ms", "SSE_EVENTS", "SSE_INTERVAL", "judge_latency",
           "judge_health", "judge_timeouts", "judge_rate_limit", "measured_latency", "shared_requests",
           "probes_seen", "latency_evidence"]

#: The streaming check asks the origin for this many events, this many seconds apart.
SSE_EVENTS = 4
SSE_INTERVAL = 0.05
#: Proxy-health sampling stops after this many network timeouts of wall time.
HEALTH_BUDGET_FACTOR = 3
#: A client timeout must leave at least this much time for the model's own answer (seconds).
MODEL_TIME_BUDGET = 60.0
#: The timeout the flowchart recommends for Claude Code (10 minutes, in milliseconds).
RECOMMENDED_ENV = {"API_TIMEOUT_MS": "600000"}

LATENCY, HEALTH, TIMEOUTS, RATE_LIMIT = ("performance.latency", "performance.proxy_health", "performance.timeouts",
                                         "performance.rate_limit")
#: The catalog note that says what a slow phase means (performance.latency's ``{where}``).
_WHERE_NOTE = {"proxy connect": "where_proxy_connect", "connect": "where_connect",
               "CONNECT reply": "where_connect_reply", "TLS handshake": "where_tls",
               "time to first byte": "where_first_byte"}


def _note(step_id: str, name: str, /, **values: Any) -> str:
    return catalog.note(step_id, name, **values)


def fmt_ms(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds >= 10:
        return f"{seconds:.1f} s"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    return f"{seconds * 1000:.0f} ms"


# ============================================================ latency split
@dataclass(frozen=True)
class LatencySplit:
    """One request's phases in the order they happen, as (name, seconds); one that did not happen is left
    out (no CONNECT reply on a direct request).  See :func:`split_of`."""

    result: HttpResult                  # the request measured: URL, route, outcome and total time
    steps: tuple[tuple[str, float], ...] = ()

    @property
    def ok(self) -> bool:
        return self.result.ok

    @property
    def total(self) -> float | None:
        return self.result.timings.total

    def phases(self) -> dict[str, float]:
        return dict(self.steps)

    def slowest(self) -> tuple[str, float] | None:
        ph = self.phases()
        if not ph:
            return None
        k = max(ph, key=lambda n: ph[n])
        return k, ph[k]

    def as_dict(self) -> dict[str, Any]:
        r = self.result
        d: dict[str, Any] = {"url": r.url, "via_proxy": r.via_proxy, "ok": r.ok, "status": r.status}
        d.update({k: round(v, 4) for k, v in self.phases().items()})
        if self.total is not None:
            d["total"] = round(self.total, 4)
        if not self.ok:
            d["detail"] = r.detail
        return d

    def line(self) -> str:
        parts = [f"{k} {fmt_ms(v)}" for k, v in self.phases().items()]
        return ", ".join(parts) + f" = total {fmt_ms(self.total)}"


def split_of(res: HttpResult) -> LatencySplit:
    """The phases of an :class:`HttpResult` (its Timings are cumulative from the start)."""
    t = res.timings
    connect = t.connect
    reply = (t.proxy_reply - t.connect) if (t.proxy_reply is not None and t.connect is not None) else None
    start_tls = t.proxy_reply if t.proxy_reply is not None else t.connect
    tls = t.tls
    first = None
    if t.first_byte is not None:
        first = t.first_byte - (start_tls or 0.0) - (tls or 0.0)
        first = max(first, 0.0)
    named = (("proxy connect" if res.via_proxy else "connect", connect),
             ("CONNECT reply", max(reply, 0.0) if reply is not None else None), ("TLS handshake", tls),
             ("time to first byte", first))
    return LatencySplit(res, tuple((name, seconds) for name, seconds in named if seconds is not None))


def measure_latency(probes: Probes, target: Target, *, via_proxy: bool = True) -> LatencySplit:
    """One ``GET /`` to *target* (shared with the other branches' probe of the same request)."""
    res = probes.request(target, "GET", "/", via_proxy=via_proxy)
    return split_of(res)


# ============================================================ proxy health
@dataclass
class HealthStats:
    samples: list[float]
    failures: list[str]
    requested: int
    stopped_early: str | None = None

    @property
    def count(self) -> int:
        return len(self.samples)

    def stats(self) -> dict[str, float]:
        s = sorted(self.samples)
        if not s:
            return {}
        return {"min": s[0], "median": statistics.median(s), "mean": statistics.fmean(s),
                "p95": _percentile(s, 95), "max": s[-1]}

    def line(self) -> str:
        st = self.stats()
        head = (f"{self.count} of {self.requested} samples" + (f", {len(self.failures)} failed" if self.failures
                                                               else ""))
        if not st:
            return head
        return head + ": " + ", ".join(f"{k} {fmt_ms(v)}" for k, v in st.items())

    def as_dict(self) -> dict[str, Any]:
        return {"requested": self.requested, "succeeded": self.count, "failed": len(self.failures),
                "seconds": {k: round(v, 4) for k, v in self.stats().items()},
                "failures": self.failures[:10], **({"stopped_early": self.stopped_early} if self.stopped_early
                                                   else {})}


def _percentile(sorted_values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (what a human computes from ten numbers)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def proxy_health(probes: Probes, target: Target, samples: int) -> HealthStats:
    """*samples* fresh CONNECTs to *target* through the proxy: the time until the proxy's 200.

    A CONNECT round trip is the proxy's own work (accepting, authenticating,
    resolving and connecting to the provider) without the provider's
    processing time, so a slow provider does not read as a slow proxy.
    Sampling stops early when the wall time would pass
    ``HEALTH_BUDGET_FACTOR`` network timeouts.  Cached per run.
    """
    def compute() -> HealthStats:
        times: list[float] = []
        failures: list[str] = []
        budget = probes.timeout * HEALTH_BUDGET_FACTOR
        start = time.monotonic()
        stopped = None
        for i in range(samples):
            if i and time.monotonic() - start > budget:
                stopped = _note(HEALTH, "budget_used", done=i, budget=f"{budget:g}")
                break
            if target.scheme == "http" and not probes.socks5:
                res = probes.request(target, "HEAD", "/", cache=False)
                if res.ok:
                    times.append(res.timings.first_byte or res.timings.total or 0.0)
                else:
                    failures.append(res.detail)
                continue
            sock, tunnel = probes.open_tunnel(target.host, target.port)
            if sock is not None:
                sock.close()
            if tunnel.ok and tunnel.timings.proxy_reply is not None:
                times.append(tunnel.timings.proxy_reply)
            else:
                failures.append(tunnel.detail)
                if tunnel.cause in (Cause.BLOCKED, Cause.NO_PROXY, Cause.INVALID_PROXY, Cause.UNSUPPORTED):
                    stopped = _note(HEALTH, "stopped", detail=tunnel.detail)
                    break
        return HealthStats(times, failures, samples, stopped)
    return probes.cached(("perf-health", target.host, target.port, samples), compute)


# ============================================================ streaming (SSE)
@dataclass
class StreamCheck:
    """Arrival of server-sent events through the proxy, against the interval the origin sends them at."""

    url: str
    ok: bool
    detail: str
    events_expected: int = SSE_EVENTS
    interval: float = SSE_INTERVAL
    arrivals: list[float] = field(default_factory=list)   # seconds after the request was sent
    status: int | None = None
    available: bool = True     # False: the target has no test stream endpoint (a real provider)

    @property
    def first_event(self) -> float | None:
        return self.arrivals[0] if self.arrivals else None

    @property
    def gaps(self) -> list[float]:
        return [b - a for a, b in zip(self.arrivals, self.arrivals[1:])]

    @property
    def buffered(self) -> bool:
        """All events arrived together although the origin spaced them: the proxy held the stream back."""
        if len(self.arrivals) < 2:
            return False
        spread = self.arrivals[-1] - self.arrivals[0]
        expected = (len(self.arrivals) - 1) * self.interval
        return spread < expected * 0.4

    def as_dict(self) -> dict[str, Any]:
        return {"url": self.url, "ok": self.ok, "status": self.status, "events": len(self.arrivals),
                "expected_events": self.events_expected, "sent_every": self.interval,
                "first_event": round(self.first_event, 4) if self.first_event is not None else None,
                "gaps": [round(g, 4) for g in self.gaps], "buffered": self.buffered,
                **({"detail": self.detail} if self.detail else {})}


def stream_check(probes: Probes, target: Target, events: int = SSE_EVENTS,
                 interval: float = SSE_INTERVAL) -> StreamCheck:
    """GET /v1/sse?events=N&interval=S through the proxy; time each event's arrival (cached per run)."""
    def compute() -> StreamCheck:
        path = f"/v1/sse?events={events}&interval={interval:g}"
        expect = (events - 1) * interval
        res = probes.stream(target, path, headers={"Accept": "text/event-stream", "Cache-Control": "no-cache"},
                            duration=expect)
        return judge_stream(res, events, interval)
    return probes.cached(("perf-sse", target.url, events, interval), compute)


def judge_stream(res: StreamResult, events: int = SSE_EVENTS, interval: float = SSE_INTERVAL) -> StreamCheck:
    """When each server-sent event arrived, from the pieces of a streamed answer."""
    if not res.ok:
        return StreamCheck(res.url, False, res.detail, events, interval)
    reply = res.reply
    ctype = (reply.header("Content-Type") or "").lower() if reply else ""
    if reply is None or reply.status != 200 or "text/event-stream" not in ctype:
        return StreamCheck(res.url, True, _note(LATENCY, "no_stream_endpoint", status=res.detail,
                                                content_type=ctype or "no content type"),
                           events, interval, status=res.status, available=False)
    arrivals: list[float] = []
    buf = b""
    for at, piece in res.pieces:
        buf += piece
        n = _count_events(buf)
        if n:
            arrivals += [at] * n
            buf = buf.replace(b"\r\n", b"\n").rsplit(b"\n\n", 1)[-1]
        if len(arrivals) >= events:
            break
    arrivals = arrivals[:events]
    detail = "" if len(arrivals) >= events else _note(LATENCY, "events_missing", arrived=len(arrivals),
                                                       expected=events)
    return StreamCheck(res.url, len(arrivals) >= events, detail, events, interval, arrivals, reply.status)


def _count_events(buf: bytes) -> int:
    return buf.replace(b"\r\n", b"\n").count(b"\n\n")


# ============================================================ rate limits
_RL_HEADER = re.compile(r"^(retry-after|anthropic-ratelimit-.*|x-ratelimit-.*|ratelimit-.*)$", re.I)
_PROVIDER_HEADER = re.compile(r"^(request-id|x-request-id|anthropic-.*|x-amzn-requestid|x-goog-.*|cf-ray)$", re.I)


@dataclass(frozen=True)
class RateLimitSighting:
    where: str            # the probe: "CONNECT host:port" or "GET https://..."
    status: int | None
    headers: tuple[tuple[str, str], ...]
    sender: str           # "proxy" | "provider"
    why: str              # how the sender was told

    @property
    def limited(self) -> bool:
        """A 429, or a remaining count of 0 (the next request will be limited)."""
        if self.status == 429:
            return True
        for k, v in self.headers:
            if k.lower().endswith("-remaining") and v.strip() == "0":
                return True
        return False

    def line(self) -> str:
        hs = "; ".join(f"{k}: {v}" for k, v in self.headers)
        return f"{self.where} -> {self.status} from the {self.sender} ({self.why})" + (f"; {hs}" if hs else "")


def rate_limit_sightings(log: Iterable[Mapping[str, Any]]) -> list[RateLimitSighting]:
    """429s and rate-limit headers in every probe of the run, each attributed to proxy or provider."""
    out = []
    for e in log:
        if e.get("kind") not in ("http", "connect"):
            continue
        headers = [(str(k), str(v)) for k, v in (e.get("headers") or [])]
        status = e.get("status")
        rl = tuple((k, v) for k, v in headers if _RL_HEADER.match(k))
        if status != 429 and not rl:
            continue
        names = {k.lower(): v for k, v in headers}
        if e["kind"] == "connect":
            where, sender, why = f"CONNECT {e.get('target')}", "proxy", _note(RATE_LIMIT, "why_connect")
        else:
            where = f"{e.get('method', 'GET')} {e.get('url')}"
            if "x-squid-error" in names:
                sender, why = "proxy", _note(RATE_LIMIT, "why_squid", value=names["x-squid-error"])
            elif any(_PROVIDER_HEADER.match(k) for k in names):
                k = next(k for k in names if _PROVIDER_HEADER.match(k))
                sender, why = "provider", _note(RATE_LIMIT, "why_provider_header", header=k)
            elif "proxy" in names.get("server", "").lower() or "squid" in names.get("server", "").lower():
                sender, why = "proxy", _note(RATE_LIMIT, "why_server", value=names["server"])
            elif str(e.get("url", "")).startswith("https://") and e.get("via_proxy", True):
                sender, why = "provider", _note(RATE_LIMIT, "why_tunnel")
            else:
                sender, why = "provider", _note(RATE_LIMIT, "why_no_marker")
        out.append(RateLimitSighting(where, status, rl, sender, why))
    return out


# ============================================================ client timeouts
@dataclass(frozen=True)
class ClientTimeout:
    client: str
    setting: str
    seconds: float | None       # None: no limit
    source: str                 # where the value comes from ("default", "env:API_TIMEOUT_MS", file path)
    note: str = ""

    def line(self) -> str:
        value = "no limit" if self.seconds is None else fmt_ms(self.seconds)
        return f"{self.client}: {self.setting} = {value} ({self.source})" + (f" - {self.note}" if self.note else "")


def client_timeouts(env: Mapping[str, str], claude_env: Mapping[str, str] | None = None,
                    litellm: Any = None) -> tuple[list[ClientTimeout], list[str]]:
    """The timeouts that apply to the user's clients, and problems reading them."""
    out: list[ClientTimeout] = []
    problems: list[str] = []
    claude_env = claude_env or {}
    raw, src = (claude_env.get("API_TIMEOUT_MS"), "~/.claude/settings.json env") if claude_env.get("API_TIMEOUT_MS") \
        else (env.get("API_TIMEOUT_MS"), "env:API_TIMEOUT_MS")
    if raw:
        try:
            out.append(ClientTimeout("Claude Code", "API_TIMEOUT_MS", float(raw) / 1000.0, src))
        except ValueError:
            problems.append(_note(TIMEOUTS, "not_a_number", raw=raw, source=src))
    else:
        out.append(ClientTimeout("Claude Code", "API_TIMEOUT_MS", 600.0, "default"))
    if env.get("ANTHROPIC_TIMEOUT"):
        out.append(ClientTimeout("(none)", "ANTHROPIC_TIMEOUT", _float(env["ANTHROPIC_TIMEOUT"]),
                                 "env:ANTHROPIC_TIMEOUT", _note(TIMEOUTS, "anthropic_timeout_unread")))
    out.append(ClientTimeout("Anthropic Python SDK", "timeout", 600.0, "default", _note(TIMEOUTS, "sdk_in_code")))
    if litellm is not None and getattr(litellm, "error", None) is None:
        path = getattr(litellm, "path", "LiteLLM config")
        if litellm.request_timeout is not None:
            out.append(ClientTimeout("LiteLLM", "litellm_settings.request_timeout", litellm.request_timeout, path))
        if litellm.router_timeout is not None:
            out.append(ClientTimeout("LiteLLM", "router_settings.timeout", litellm.router_timeout, path))
        for where, secs in litellm.timeouts.items():
            if where not in ("litellm_settings.request_timeout", "router_settings.timeout"):
                out.append(ClientTimeout("LiteLLM", where, secs, path))
    out.append(ClientTimeout("Python requests", "timeout", None, "default", _note(TIMEOUTS, "requests_no_limit")))
    out.append(ClientTimeout("httpx", "timeout", 5.0, "default", _note(TIMEOUTS, "httpx_default")))
    out.append(ClientTimeout("Node fetch (undici)", "headersTimeout", 300.0, "default"))
    return out, problems


def _float(text: str) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def request_budget(settings: Settings) -> dict[str, int]:
    """The most requests one run of the APPLICATION and PERFORMANCE branches can send, per kind."""
    n = len(settings.targets)
    direct = 0 if settings["no_direct"] else n
    return {"latency (shared GET /)": n, "direct GET /": direct, "streaming GET": n,
            "proxy-health CONNECTs": n * int(settings["health_samples"]), "rate limit": 0,
            "client runs (requests/httpx/curl)": 3 * n, "SDK requests (anthropic, litellm)": 2,
            "total at most": n * (1 + 1 + int(settings["health_samples"]) + 3) + direct + 2}


# ============================================================ judging (the step tests conclude with these)
def latency_evidence(split: LatencySplit, direct: LatencySplit, stream: StreamCheck) -> dict[str, Any]:
    evidence: dict[str, Any] = {"direct": direct.as_dict(), "streaming": stream.as_dict()}
    if direct.ok and direct.total is not None:
        evidence["proxy_adds"] = round((split.total or 0.0) - direct.total, 4)
    return evidence


#: Seconds waited for the answer under which a close is no idle timeout (those are a second at the least): a rule
#: that drops the request (mitmproxy's block_list with status 444, Squid's deny_info TCP_RESET after bumping).
DROP_SECONDS = 0.5
#: The shortest idle timeout a proxy can be set to (tinyproxy's Timeout, Squid's read_timeout, Dante's timeout.io
#: count whole seconds).  Its clock may start when the proxy opens the tunnel, before the request is sent: a close
#: that comes this long after the CONNECT may be a timeout however soon after the request it came.
MIN_IDLE_TIMEOUT = 1.0


def _closed_after_tls(res: HttpResult) -> bool:
    # A failed CONNECT (a TunnelResult) never reached TLS: not this.
    return (not res.ok and getattr(res, "via_proxy", False) and res.reply is None and res.cause in (Cause.CLOSED, Cause.RESET)
            and res.timings.tls is not None and res.timings.total is not None)


def waited(res: HttpResult) -> float:
    """Seconds between the end of the TLS handshake and the end of the request."""
    t = res.timings
    return (t.total or 0.0) - sum(x or 0.0 for x in (t.resolve, t.connect, t.proxy_reply, t.tls))


def since_connect(res: HttpResult) -> float:
    """Seconds between the CONNECT sent to the proxy and the end of the request."""
    return (res.timings.total or 0.0) - (res.timings.resolve or 0.0) - (res.timings.connect or 0.0)


def cut_after_tunnel(res: HttpResult) -> bool:
    """Through the proxy the tunnel opened and TLS worked, then the connection ended with no answer at all, after a
    wait: the proxy (or a device behind it) cut a connection waiting for the provider (an idle or read timeout)."""
    return _closed_after_tls(res) and not dropped_at_once(res)


def dropped_at_once(res: HttpResult) -> bool:
    """As :func:`cut_after_tunnel`, but the close came at once after the request, sooner after the CONNECT than any
    idle timeout can be (a slow handshake on a loaded machine must not turn a 1 s timeout into a rule): a rule
    dropped it (policy's)."""
    return _closed_after_tls(res) and waited(res) < DROP_SECONDS and since_connect(res) < MIN_IDLE_TIMEOUT


def judge_latency(split: LatencySplit, direct: LatencySplit | None, stream: StreamCheck | None, threshold: float,
                  target_host: str, dropped: bool = True) -> Judgement:
    """Step 1: the time the proxy adds (against the direct path when it was measured), and streaming."""
    if dropped and dropped_at_once(split.result):
        return Judgement.blocked("policy.url_filtering", key="dropped", url=split.result.url,
                                 seconds=fmt_ms(waited(split.result)))
    if _closed_after_tls(split.result):  # not dropped (or *dropped* false: the API request was not): a cut
        r = split.result
        return Judgement.fail("cut", target=r.url, split=split.line(), how=Note.of("how_" + r.cause.value),
                              # In seconds whatever the size: a 1 s timeout measures 0.99 s or 1.02 s, one reading.
                              seconds=f"{r.timings.total:.1f} s", target_host=target_host)
    if not split.ok or direct is None or stream is None:
        return Judgement.blocked("connectivity.proxy_works", key="not_through",
                                 url=split.result.url, detail=split.result.detail)
    total = split.total or 0.0
    if direct.ok and direct.total is not None:
        added = total - direct.total
        if added > threshold:
            return Judgement.fail("slow", added=fmt_ms(added), threshold=fmt_ms(threshold), split=split.line(),
                                  direct=direct.line())
    elif total > threshold:
        slowest, _secs = split.slowest() or ("time to first byte", total)
        advice = "advice_first_byte" if slowest == "time to first byte" else "advice_other"
        return Judgement.fail("slow_total", total=fmt_ms(total), threshold=fmt_ms(threshold), split=split.line(),
                              slowest=slowest, where=Note.of(_WHERE_NOTE[slowest]) if slowest in _WHERE_NOTE
                              else "", advice=Note.of(advice, target_host=target_host))
    if stream.available and stream.buffered:
        return Judgement.fail("buffered", events=len(stream.arrivals), interval=fmt_ms(stream.interval),
                              first_event=fmt_ms(stream.first_event), gaps=", ".join(fmt_ms(g) for g in stream.gaps))
    spaced = stream.available and stream.arrivals
    return Judgement.passed(
        "measured", split=split.line(),
        direct=Note.of("direct_total", total=fmt_ms(direct.total)) if direct.ok else "",
        stream=Note.of("stream_spaced", first_event=fmt_ms(stream.first_event), interval=fmt_ms(stream.interval))
        if spaced else "")


def judge_health(health: HealthStats, threshold: float, target: Target) -> Judgement:
    """Step 2: CONNECT round trips that fail, or a mean above the threshold."""
    common = dict(stats=health.line(), count=health.count, requested=health.requested, threshold=fmt_ms(threshold),
                  when=time.strftime("%Y-%m-%d %H:%M:%S %Z"), failures=len(health.failures), target=target.hostport)
    if health.failures:
        return Judgement.fail("failures", failed=len(health.failures),
                              examples="; ".join(dict.fromkeys(health.failures))[:300], **common)
    st = health.stats()
    if st and st["mean"] > threshold:
        return Judgement.fail("slow", mean=fmt_ms(st["mean"]), **common)
    return Judgement.passed("healthy", stats=health.line(), threshold=fmt_ms(threshold))


def measured_latency(probes: Probes, targets: Sequence[Target]) -> float | None:
    """The slowest whole request through the proxy among the targets it can reach (shared GET /), or None."""
    if probes.proxy is None or probes.proxy_unusable() is not None:
        return None
    measured = None
    for t in targets:
        if (t.scheme == "https" or probes.socks5) and not probes.tunnel_to(t).ok:
            continue
        s = measure_latency(probes, t)
        if s.ok and s.total is not None:
            measured = max(measured or 0.0, s.total)
    return measured


def judge_timeouts(timeouts: Sequence[ClientTimeout], problems: Sequence[str], measured: float | None, *,
                   shell: str, litellm_path: str | None) -> Judgement:
    """Step 3: a client timeout below the measured latency, or leaving too little for the model's answer."""
    common = dict(export_lines=export_lines(RECOMMENDED_ENV, shell), yaml=Note.of("litellm_yaml"),
                  litellm_path=Note.of("litellm_path", path=litellm_path) if litellm_path else "",
                  measured=fmt_ms(measured))
    fix = {"env": dict(RECOMMENDED_ENV)}
    if problems:
        return Judgement.fail("unreadable", fix=fix, detail="; ".join(problems), **common)
    base = measured or 0.0
    tight = []
    for t in timeouts:
        if t.seconds is None or t.client == "(none)":
            continue
        if t.source == "default":
            if measured is not None and t.seconds < measured:
                tight.append(_note(TIMEOUTS, "below_latency", line=t.line()))
        elif t.seconds < base + MODEL_TIME_BUDGET:
            tight.append(_note(TIMEOUTS, "no_time_left", line=t.line(), left=fmt_ms(max(t.seconds - base, 0.0)),
                               path=fmt_ms(base), needed=fmt_ms(MODEL_TIME_BUDGET)))
    if tight:
        return Judgement.fail("too_tight", fix=fix, detail="; ".join(tight), **common)
    shown = "; ".join(t.line() for t in timeouts if t.source != "default") or Note.of("defaults_only")
    return Judgement.passed("healthy", shown=shown, measured=fmt_ms(measured) if measured is not None
                            else Note.of("not_measured"))


def shared_requests(probes: Probes, targets: Sequence[Target]) -> None:
    """Every target's one shared ``GET /`` through the proxy, if no other step sent it yet (no extra load)."""
    p = probes.proxy
    if p is None or (p.is_socks and not probes.socks5) or probes.proxy_unusable() is not None:
        return
    for t in targets:
        if (t.scheme == "http" and not probes.socks5) or probes.tunnel_to(t).ok:
            measure_latency(probes, t)


def probes_seen(log: Iterable[Mapping[str, Any]]) -> int:
    return sum(1 for e in log if e.get("kind") in ("http", "connect"))


def judge_rate_limit(sightings: Sequence[RateLimitSighting], seen: int, proxy_configured: bool) -> Judgement:
    """Step 4: a 429 (or a remaining count of 0) in any probe of the run, from the proxy or the provider."""
    if not seen:
        if not proxy_configured:
            return Judgement.skip("no_traffic")
        return Judgement.blocked("connectivity.proxy_works", key="nothing_reached")
    limited = [s for s in sightings if s.limited]
    if not limited:
        return Judgement.passed("no_429", count=seen,
                                headers=Note.of("headers_seen", line=sightings[0].line()) if sightings else "")
    first = next((s for s in limited if s.sender == "proxy"), limited[0])
    retry = dict((k.lower(), v) for k, v in first.headers).get("retry-after")
    values = dict(detail="; ".join(dict.fromkeys(s.line() for s in limited)),
                  retry=Note.of("retry", seconds=retry) if retry else "",
                  headers="; ".join(f"{k}: {v}" for k, v in first.headers) or "status 429")
    return Judgement.fail("limited_proxy" if first.sender == "proxy" else "limited", **values)
