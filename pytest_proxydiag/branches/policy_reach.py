"""A policy step's own verdict on the way to the provider, when the step that owns it is not in this session.

``pytest --proxydiag -k url_filtering`` (or ``-m policy`` without ``connectivity``) leaves out the steps that
judge an unreachable proxy or a failed CONNECT.  A policy step then still has evidence of its own: the shared,
cached CONNECT (HTTP or SOCKS5) every step uses, and, for a connection closed without an answer, a control
CONNECT to another provider name.  :func:`judge_own_path` turns that into the step's verdict instead of "blocked
by a step this run did not select":

* the proxy refused the domain (403/451, a block page, SOCKS5 "not allowed by ruleset"), or reset it while the
  control CONNECT opened: a policy refusal, with the allow-list ticket (``own_refused``, ``own_refused_socks``,
  ``own_reset``);
* anything else (the proxy unreachable, it wants credentials, it cannot reach the provider, it resets every
  domain, its page says it refuses the port or this machine): ``no_path``, which says it is not a policy refusal
  and what the proxy did.

A refusal can also come after the tunnel opened: a proxy that reads the server name in the TLS ClientHello (SNI)
closes the handshake of a refused name.  :func:`handshake_refused` tells that from a proxy that cannot tunnel TLS
at all by a control handshake with another provider name, and :func:`judge_handshake` gives the allow-list
ticket.

Plain data in, a :class:`~.judgement.Judgement` out; the words are in ``catalog/policy.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

from pytest_proxydiag import catalog
from pytest_proxydiag.branches import policy, products
from pytest_proxydiag.branches.judgement import Judgement, Note
from pytest_proxydiag.branches.providers import ProviderDomain, allowlist_lines, wildcard_lines
from pytest_proxydiag.catalog.policy import utc
from pytest_proxydiag.net.results import Cause

__all__ = ["judge_own_path", "judge_handshake", "handshake_refused", "needs_control", "reference_refusal",
           "ReferenceRefusal", "allow_list_note", "reference_silence", "judge_refused_then_opened"]


@dataclass(frozen=True)
class ReferenceRefusal:
    """The proxy refused the reference name's CONNECT exactly as it refused the provider's."""

    hostport: str
    #: The proxy's answer to ``CONNECT hostport``.
    answer: str
    #: Its answer to a plain ``GET http://host/`` when that was not refused alike (CONNECT itself is refused);
    #: None when it was refused too, or not asked.
    plain: str | None = None
    #: Its answer to the same CONNECT sent with a browser's User-Agent when that one was not refused alike (the
    #: proxy lets only browsers through); None when it was refused too, or not asked.
    browser: str | None = None


def reference_refusal(verdict, connect: Callable[[], object | None],
                      get: Callable[[], object | None] | None = None,
                      as_browser: Callable[[], object | None] | None = None) -> ReferenceRefusal | None:
    """How the proxy answered the reference name (``--proxydiag-reference``) when it refused it exactly as it
    refused the provider (*verdict*, ``policy.read_tunnel``); None otherwise.

    *connect()* returns the reference CONNECT's (cached) result, *get()* a plain GET of the reference through the
    proxy, each or None when not to be asked; they are called only for a plain refusal, the one case where a
    domain rule, a refused machine and a refused CONNECT look alike.  *as_browser()*, asked only when the plain GET
    was refused too, returns the reference CONNECT sent with a browser's User-Agent: a rule on the User-Agent
    refuses every client here and lets the browser through.
    """
    if verdict is None or verdict.kind not in ("denied", "block_page") or verdict.category or verdict.name_filter:
        return None  # a page saying the name was filtered is a list of names, whatever else it refuses
    res = connect()
    if res is None or not products.refused_alike(verdict, policy.read_tunnel(res)):
        return None
    plain = get() if get is not None else None
    passed = plain is not None and plain.reply is not None and not products.refused_alike(
        verdict, policy.read_reply(plain.reply.status, tuple(plain.reply.headers), plain.reply.body or b"",
                                   stage="plain", expect_json=False))
    if passed or as_browser is None:
        return ReferenceRefusal(res.target, res.detail, plain.detail if passed else None)
    browser = as_browser()
    let_through = browser is not None and (browser.ok or (browser.reply is not None and not products.refused_alike(
        verdict, policy.read_tunnel(browser))))
    return ReferenceRefusal(res.target, res.detail, None, browser.detail if let_through else None)


def handshake_refused(tls, control_tls) -> bool:
    """The proxy opened the tunnel (200), then closed or reset the provider's TLS handshake before any certificate
    came (*tls*), while the same handshake with a control name through it completed (*control_tls*): a rule that
    reads the server name in the ClientHello (SNI) refuses the provider's name (Squid's ``ssl_bump terminate``, a
    firewall's SNI filter).  Both failing is a proxy that cannot tunnel TLS at all: connectivity.proxy_works."""
    return (tls is not None and not tls.ok and tls.cause.value in ("reset", "closed") and not tls.chain
            and tls.tunnel is not None and tls.tunnel.ok and control_tls is not None and control_tls.ok)


def judge_handshake(target, domains: Sequence[ProviderDomain], tls, control: str, *, proxy_hostport: str,
                    when: Callable[[str], float | None], client: str) -> Judgement:
    """Step 1: the provider's name refused in the TLS handshake (:func:`handshake_refused`), with the ticket."""
    return Judgement.fail("tls_refused", fix={"ticket_domains": [d.host for d in domains]},
                          record={"control": {"domain": control, "answer": "TLS handshake completed"}},
                          how=Note.of("how_" + tls.cause.value), blocked=target.hostport, status=tls.tunnel.detail,
                          control=control, domains=allowlist_lines(domains), wildcards=wildcard_lines(domains),
                          when=utc(when(target.hostport)), client=client, proxy_hostport=proxy_hostport)


def reference_silence(connect: Callable[[], object | None],
                      get: Callable[[], object | None] | None = None) -> ReferenceRefusal | None:
    """The proxy closed (or reset) the reference name's CONNECT and a plain GET of it too, without a reply, as it
    did the provider's: it answers nothing to this machine (a client rule that drops silently, such as Privoxy's
    permit-access, or a broken proxy); None when either got a reply or was not asked."""
    res = connect()
    if res is None or res.cause not in (Cause.RESET, Cause.CLOSED):
        return None
    plain = get() if get is not None else None
    if plain is None or plain.cause not in (Cause.RESET, Cause.CLOSED):
        return None
    return ReferenceRefusal(res.target, res.detail, plain.detail)


def allow_list_note(verdict, connect: Callable[[], object | None]) -> str:
    """The note for a provider refused by a name filter (*verdict*, ``Verdict.name_filter``) that refuses the
    reference name (*connect()*: its CONNECT) with the same kind of page: a list that lets only some names through,
    which needs the provider's; "" otherwise (or when the reference is not to be asked)."""
    res = connect() if verdict is not None and verdict.name_filter else None
    other = policy.read_tunnel(res) if res is not None and not res.ok else None
    if other is None or not other.name_filter:
        return ""
    return catalog.note("policy.domain_allowed", "allow_list", reference=res.target, answer=res.detail,
                               words=verdict.name_filter)


def needs_control(verdict) -> bool:
    """No answer at all (a reset, a close): only a control CONNECT tells a refused domain from a broken proxy."""
    return verdict is not None and not verdict.answered


def judge_own_path(target, domains: Sequence[ProviderDomain], *, unusable: str | None = None, tunnel=None,
                   verdict=None, control: str = "", control_res=None, everywhere: ReferenceRefusal | None = None,
                   proxy_hostport: str,
                   when: Callable[[str], float | None], client: str) -> Judgement:
    """The step's own verdict on the path to *target*.

    *unusable*: why the proxy cannot be used at all (the probes' detail), or None; else *tunnel* is the failed
    CONNECT, *verdict* the proxy's answer read (``policy.read_tunnel``), and for a reply-less failure
    *control_res* the control CONNECT to *control* (host:port); *everywhere*: the reference name refused the same
    way (:func:`reference_refusal`).
    """
    request = f"CONNECT {target.hostport}"
    ticket = dict(fix={"ticket_domains": [d.host for d in domains]}, domains=allowlist_lines(domains),
                  wildcards=wildcard_lines(domains), when=utc(when(target.hostport)), client=client,
                  proxy_hostport=proxy_hostport)
    if unusable is not None:
        return Judgement.fail("no_path", request=request, said=unusable, meaning=Note.of("path_unreachable"))
    said = tunnel.detail
    if verdict.kind in products.PROXY_WIDE_SHAPES:  # the page says: a port, or this machine
        return Judgement.fail("no_path", request=request, said=said, meaning=Note.of("path_" + verdict.kind))
    if everywhere is not None:
        meaning = Note.of("path_everything", reference=everywhere.hostport, detail=everywhere.answer) \
            if everywhere.plain is None else Note.of("path_connect_everywhere", reference=everywhere.hostport,
                                                     detail=everywhere.answer, plain=everywhere.plain)
        return Judgement.fail("no_path", request=request, said=said, meaning=meaning)
    if verdict.is_block or verdict.status in (403, 451):
        key = "own_refused_socks" if verdict.socks_code is not None else "own_refused"
        return Judgement.fail(key, request=request, said=said, blocked=f"{target.hostport} ({said})", **ticket)
    if needs_control(verdict) and control_res is not None:
        judged = products.silent_refusal(tunnel.cause.value, products.control_answered(control_res),
                                         control_res.cause.value)
        record = {"control": {"domain": control, "answer": control_res.detail}}
        if judged == "one_domain":
            return Judgement.fail("own_reset", record=record, how=Note.of("how_" + tunnel.cause.value),
                                  blocked=target.hostport, control=control, **ticket)
        if judged == "every_domain":
            return Judgement.fail("no_path", record=record, request=request, said=said,
                                  meaning=Note.of("path_every_domain", control=control, detail=control_res.detail))
    key = {"auth": "path_auth", "upstream": "path_upstream"}.get(verdict.kind, "path_other")
    if verdict.status == 407:
        key = "path_auth"
    return Judgement.fail("no_path", request=request, said=said, meaning=Note.of(key))


def judge_refused_then_opened(checked, again: Mapping[str, object], *, proxy_hostport: str) -> Judgement | None:
    """Step 1: a provider domain refused (403/451) whose CONNECT opened when asked once more (*again*: hostport ->
    that second result): no rule on the name or the port refuses it every time, the proxy refuses some of this
    machine's connections (a maxconn ACL, a quota helper); None when every refusal repeated."""
    for d, verdict, answer in checked:
        res = again.get(d.hostport)
        if res is not None and res.ok:
            return Judgement.fail("refused_then_opened", blocked=d.hostport, first=answer, again=res.detail,
                                  proxy_hostport=proxy_hostport,
                                  evidence=f"CONNECT {d.hostport}: {answer}\nCONNECT {d.hostport}: {res.detail}")
    return None
