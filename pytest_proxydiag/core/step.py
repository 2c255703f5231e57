"""What a step test holds: :class:`StepContext`, the ``proxydiag_step`` fixture.

A bundled or site test asks the probes, judges, and then ends in one of
three ways — it returns (passed, optionally with :meth:`StepContext.passed`
for a one-line summary), :meth:`StepContext.fail` with a catalog finding key
and the measured values, or :meth:`StepContext.skip` /
:meth:`StepContext.blocked` with the reason.  It never formats a solution:
the catalog does that.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

from pytest_proxydiag import catalog
from pytest_proxydiag.core import shell as shell_syntax
from pytest_proxydiag.core.config import Target
from pytest_proxydiag.net.probes import Cause, TunnelResult
from pytest_proxydiag.net.socks import SOCKS5_SCHEMES, Rep

if TYPE_CHECKING:  # pragma: no cover
    from pytest_proxydiag.core.state import RunState

__all__ = ["StepContext", "Finding", "blocking_step_for", "ran_blocker", "TUNNEL_JUDGES", "PATH_GATES"]


class Finding(pytest.fail.Exception):  # type: ignore[misc,name-defined]
    """Raised by :meth:`StepContext.fail`: a diagnosed problem, not a crash."""


class StepContext:
    """The step a test implements, with its evidence and outcome."""

    def __init__(self, state: "RunState", step_id: str, nodeid: str, target: Target | None = None) -> None:
        self.state = state
        self.step_id = step_id
        self.entry = catalog.entry(step_id)
        self.nodeid = nodeid
        self.target = target
        self.evidence: dict[str, Any] = {}
        self.rendered: catalog.RenderedFinding | None = None
        self.summary: str | None = None
        self.blocked_by: str | None = None
        self.skip_reason: str | None = None
        self.fix: dict[str, Any] | None = None

    # -- conveniences -------------------------------------------------------
    @property
    def settings(self):
        return self.state.settings

    @property
    def probes(self):
        return self.state.probes

    def add_evidence(self, **items: Any) -> None:
        """Record evidence (status lines, headers, timings) shown with the step in every report."""
        for k, v in items.items():
            self.evidence[k] = self.state.redactor.redact_obj(_plain(v))

    def values(self, **extra: Any) -> dict[str, Any]:
        """The values every template may use, plus *extra*."""
        s = self.state.settings
        p = s.proxy.url
        vals: dict[str, Any] = {
            "proxy": p.redacted() if p else (s.proxy.raw or "(none)"),
            "source": s.proxy.source,
            # No proxy known: a placeholder (proof.fixes.PROXY_PLACEHOLDER), never an example host as if it were theirs.
            "proxy_noauth": p.without_credentials() if p else "<PROXY-URL>",
            "proxy_hostport": p.hostport if p else "<PROXY-HOST>:<PORT>",
            "proxy_placeholder": (p.encoded(password_placeholder="<URL-ENCODED-PASSWORD>") if p and p.username
                                  else (p.encoded() if p else "<PROXY-URL>")),
            "username": (p.username if p and p.username else "<user>"),
            "scheme": p.scheme if p else "http",
            "hostport": p.hostport if p else "<PROXY-HOST>:<PORT>",
            "timeout": s.timeout,
            "shell": os.path.basename(s.env.get("SHELL", "") or "sh"),
            "profile": shell_profile(s.env),
        }
        from pytest_proxydiag.net.policy_probes import retest_command

        t = self.target if self.target is not None else s.targets[0]
        # retest: the target's own check request (Bedrock's invoke, Vertex's rawPredict, Anthropic's messages).
        vals.update(target=t.hostport, target_url=t.url, target_host=t.host, retest=retest_command(t))
        vals.update(extra)
        return vals

    # -- outcomes -------------------------------------------------------------
    def passed(self, summary: str, **evidence: Any) -> None:
        """Record a one-line summary of the healthy state (the test then returns)."""
        self.summary = self.state.redactor.redact(summary)
        if evidence:
            self.add_evidence(**evidence)

    def fail(self, key: str, **values: Any) -> NoReturn:
        """Fail the step with the catalog finding *key*, filled with *values*.

        (*key* is this method's own argument, so a template cannot use ``{key}``.)
        """
        __tracebackhide__ = True
        self.rendered = catalog.render(self.step_id, key, self.values(**values), redact=self.state.redactor.redact)
        raise Finding(f"[{self.step_id}] {self.rendered.text}", pytrace=False)

    def skip(self, reason: str) -> NoReturn:
        """Skip: the step does not apply here (say why)."""
        __tracebackhide__ = True
        self.skip_reason = self.state.redactor.redact(reason)
        pytest.skip(self.skip_reason)

    def blocked(self, by_step: str, detail: str) -> NoReturn:
        """Skip: the step cannot be assessed because *by_step* failed.

        Only a step that ran in this session is named: when *by_step* was deselected (``-m``), a step that
        ran, failed and judged the same evidence stands in (see :func:`ran_blocker`).
        """
        __tracebackhide__ = True
        by_step = ran_blocker(by_step, {r.step_id: r.outcome for r in self.state.results},
                              getattr(self.state, "selected", None))
        self.blocked_by = by_step  # a chain of blocks is settled at the end (core/results.settle_blockers)
        self.skip_reason = self.state.redactor.redact(f"blocked by {by_step}: {detail}")
        pytest.skip(self.skip_reason)

    def runs(self, step_id: str) -> bool:
        """Whether a block by *step_id* would name a step of this session (itself, or a step of
        :data:`TUNNEL_JUDGES` that ran and failed on the same CONNECT).  When not (``-k url_filtering``), a step
        with evidence of its own judges it instead of naming a step the user did not ask for."""
        ran = {r.step_id: r.outcome for r in self.state.results}
        selected = getattr(self.state, "selected", None)
        by = ran_blocker(step_id, ran, selected)
        return selected is None or by in ran or by in selected

    def set_fix(self, **fix: Any) -> None:
        """Attach a concrete fix (``env``, ``unset``, ``files``) to the finding."""
        self.fix = self.state.redactor.redact_obj(fix)

    # -- shared gates -----------------------------------------------------------
    def require_proxy(self):
        """The proxy URL, or skip: not configured (n/a) or unusable (blocked)."""
        __tracebackhide__ = True
        s = self.state.settings
        if not s.proxy.configured:
            self.skip("no proxy is configured (set HTTPS_PROXY or pass --proxydiag-proxy URL)")
        if s.proxy.url is None:
            self.blocked("connectivity.proxy_reachable", f"the proxy URL is invalid: {s.proxy.error}")
        bad = self.state.probes.proxy_unusable()
        if bad is not None:
            self.blocked("connectivity.proxy_reachable", bad.detail)
        return s.proxy.url

    def require_http_proxy(self):
        """The proxy URL when it is an HTTP(S) proxy, or skip with the step's ``http_only`` note (why only an HTTP
        proxy's answer holds its evidence).  Steps that judge what comes through a tunnel use
        :meth:`require_tunnel_proxy`, which SOCKS5 passes."""
        __tracebackhide__ = True
        p = self.require_proxy()
        if p.is_socks:
            self.skip(catalog.note(self.step_id, "http_only", scheme=p.scheme))
        return p

    def require_tunnel_proxy(self):
        """The proxy URL when the probes can open a tunnel through it (HTTP CONNECT or SOCKS5), or skip.

        After the tunnel the bytes are the same whichever way it was opened (TLS to the target), so the steps
        that judge what comes through it do not care; a socks4:// proxy is the one the probes cannot speak.
        """
        __tracebackhide__ = True
        p = self.require_proxy()
        if p.is_socks and p.scheme not in SOCKS5_SCHEMES:
            self.skip(catalog.note(self.step_id, "tunnel_unsupported", scheme=p.scheme))
        return p

    def require_tunnel(self, target: Target | None = None) -> TunnelResult:
        """A working tunnel (HTTP CONNECT or SOCKS5) to *target*, or skip naming the step that explains why not."""
        __tracebackhide__ = True
        target = target or self.target or self.state.settings.targets[0]
        self.require_tunnel_proxy()
        res = self.state.probes.tunnel_to(target)
        if res.ok:
            return res
        self.blocked(blocking_step_for(res), f"CONNECT {target.hostport}: {res.detail}")


#: Steps that judge a failed CONNECT to a provider from their own probe, each in its own words: when the step
#: :func:`blocking_step_for` names did not run (deselected with ``-m``), the first of these that ran and failed
#: is the blocker instead (under ``-m policy``, a domain the proxy resets is ``policy.domain_allowed``'s finding).
TUNNEL_JUDGES = ("connectivity.proxy_reachable", "connectivity.proxy_works", "auth.credentials", "auth.scheme",
                 "policy.domain_allowed")
#: The steps that own the way through the proxy (a failed CONNECT is theirs, unless a policy refuses the
#: domain): a run started from a symptom keeps them with the branches it chose, as the flowchart's reader
#: first checks that the proxy answers and opens a tunnel, whatever the error says.
PATH_GATES = TUNNEL_JUDGES[:4]


def ran_blocker(by_step: str, ran: "dict[str, str]", selected: "frozenset[str] | None" = None) -> str:
    """The blocker to name, given the outcomes of the steps that ran so far (*ran*: step id -> outcome) and the
    steps this session runs (*selected*; None: unknown, every step counts as selected).

    *by_step* itself when it ran or runs in this session; else, for a failed CONNECT, a step of
    :data:`TUNNEL_JUDGES` that ran and failed; else *by_step* (the evidence truly needs it: the report says it
    was not selected).
    """
    if by_step in ran or selected is None or by_step in selected or by_step not in TUNNEL_JUDGES:
        return by_step
    return next((s for s in TUNNEL_JUDGES if ran.get(s) == "failed"), by_step)


def blocking_step_for(res: TunnelResult) -> str:
    """The step that owns a failed CONNECT: 407 → auth, 403 → policy, the rest → connectivity.

    A SOCKS5 refusal: the method or username/password stage → auth; the CONNECT reply "not allowed by ruleset"
    → policy (the SOCKS server's rules refuse the destination, as a 403 does); any other CONNECT reply →
    connectivity.proxy_works.
    """
    if res.cause == Cause.SOCKS_REFUSED and res.socks is not None:
        if res.socks.stage in ("method", "auth"):
            return "auth.credentials"
        return "policy.domain_allowed" if res.socks.code == Rep.NOT_ALLOWED else "connectivity.proxy_works"
    if res.cause == Cause.PROXY_STATUS and res.reply is not None:
        from pytest_proxydiag.branches.products import own_product, relayed_auth

        if relayed_auth(res.reply.status, res.reply.headers, credentials_sent=bool(res.credentials_sent),
                        own=own_product(res.reply)):
            return "connectivity.proxy_works"  # the parent's answer to the proxy's own credentials: not the user's
        if res.reply.status == 407:
            offered = " ".join(res.reply.proxy_authenticate).lower()
            if offered and "basic" not in offered:
                return "auth.scheme"
            return "auth.credentials"
        from pytest_proxydiag.branches.products import PROXY_WIDE_SHAPES, refusal_shape

        shape = refusal_shape(res.reply.status, res.reply.headers, res.reply.body,
                              credentials_sent=bool(res.credentials_sent))
        if res.reply.status in (403, 451) or shape == "denied":  # a 5xx whose page says the destination was denied
            # A 403 whose page says "this port" or "your host" refuses every domain: the proxy's, not policy's.
            return "connectivity.proxy_works" if shape in PROXY_WIDE_SHAPES else "policy.domain_allowed"
    if res.cause == Cause.UNRESOLVABLE and res.target_unresolved_here:
        return "connectivity.proxy_works"  # the provider's name (socks5:// resolves it here), not the proxy's
    if res.cause in (Cause.BLOCKED, Cause.REFUSED, Cause.TIMEOUT, Cause.UNRESOLVABLE, Cause.UNREACHABLE):
        return "connectivity.proxy_reachable"
    return "connectivity.proxy_works"


def shell_profile(env=None) -> str:
    """The startup file of the user's shell ($SHELL), for export lines."""
    return shell_syntax.startup_file(shell_syntax.shell_kind(env))


def export_lines(assignments: dict[str, str], shell: str | None = None) -> str:
    """Lines that set *assignments* in the user's shell (see :mod:`pytest_proxydiag.core.shell`)."""
    return shell_syntax.export_lines(assignments, shell)


def _plain(v: Any) -> Any:
    if hasattr(v, "as_dict"):
        return v.as_dict()
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return str(v)
