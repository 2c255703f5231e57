"""The base of the probe layer: the run's cache and log, name resolution, TCP, and the way to the proxy.

:class:`ProbeSession` holds what every probe shares; :class:`~pytest_proxydiag.net.probes.Probes`
adds the tunnels, TLS and HTTP exchanges on top of it.  Every socket the
diagnosis opens is opened by :meth:`ProbeSession.connect`, which is also where
``--proxydiag-no-direct`` is enforced, once for every probe.
"""

from __future__ import annotations

import base64
import queue
import socket
import ssl
import threading
import time
from typing import Any, Callable

from pytest_proxydiag.core.config import Settings
from pytest_proxydiag.core.proxyurl import ProxyURL
from pytest_proxydiag.net.results import Cause, Deadline, ProbeError, TcpResult, classify_oserror

__all__ = ["ProbeSession", "basic_auth_header", "USER_AGENT", "NO_DIRECT_DETAIL"]

USER_AGENT = "pytest-proxydiag"
NO_DIRECT_DETAIL = "not attempted: --proxydiag-no-direct forbids a direct connection to {hostport}"


def basic_auth_header(username: str, password: str | None) -> str:
    token = base64.b64encode(f"{username}:{password or ''}".encode("utf-8")).decode("ascii")
    return "Basic " + token


class ProbeSession:
    """Cached, counted, bounded network access for one resolved configuration."""


    def __init__(self, settings: Settings, redact: Callable[[str], str] = lambda s: s) -> None:
        self.settings = settings
        self.timeout = float(settings.timeout)
        self.redact = redact
        self._cache: dict[Any, Any] = {}
        self._lock = threading.RLock()
        self._key_locks: dict[Any, threading.Lock] = {}
        #: Every probe result, in order, for reports (e.g. rate-limit headers seen in any probe).
        self.log: list[dict[str, Any]] = []
        self.requests_sent = 0

    # -- caching ---------------------------------------------------------
    def peek(self, key: Any, default: Any = None) -> Any:
        """The cached value for *key*, or *default*; never computes."""
        with self._lock:
            return self._cache.get(key, default)

    def record(self, kind: str, **data: Any) -> None:
        """Add an entry to :attr:`log` (for probes made outside this class, e.g. a stream check)."""
        self._record(kind, **data)

    def cached(self, key: Any, compute: Callable[[], Any]) -> Any:
        """Return the cached value for *key*, computing it once per session."""
        with self._lock:
            if key in self._cache:
                return self._cache[key]
            lock = self._key_locks.setdefault(key, threading.Lock())
        with lock:
            with self._lock:
                if key in self._cache:
                    return self._cache[key]
            value = compute()
            with self._lock:
                self._cache[key] = value
            return value

    def _record(self, kind: str, **data: Any) -> None:
        with self._lock:
            self.log.append({"kind": kind, "time": time.time(), **data})

    def count_request(self) -> None:
        """One more request sent on the network (the report's ``requests_sent``)."""
        with self._lock:
            self.requests_sent += 1

    # -- direct connections ----------------------------------------------
    @property
    def direct_allowed(self) -> bool:
        """False under ``--proxydiag-no-direct``: no target may be contacted except through the proxy."""
        return not self.settings["no_direct"]

    def direct_forbidden(self, host: str, port: int) -> ProbeError | None:
        """Why connecting to host:port directly is not allowed, or None (only targets are guarded)."""
        if self.direct_allowed:
            return None
        p = self.proxy
        if p is not None and (p.host.lower(), p.port) == (host.lower(), port):
            return None
        if any((t.host.lower(), t.port) == (host.lower(), port) for t in self.settings.targets):
            hostport = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
            return ProbeError(Cause.DIRECT_FORBIDDEN, NO_DIRECT_DETAIL.format(hostport=hostport))
        return None

    # -- the proxy -------------------------------------------------------
    @property
    def proxy(self) -> ProxyURL | None:
        return self.settings.proxy.url

    @property
    def socks5(self) -> bool:
        """The proxy is SOCKS5 (socks5://, socks5h://): every target, http:// ones too, is reached through a tunnel."""
        p = self.proxy
        return p is not None and p.scheme in ("socks5", "socks5h")

    def proxy_unusable(self) -> TcpResult | None:
        """None when the proxy can be talked to; else the result that says why not."""
        p = self.settings.proxy
        if not p.configured:
            return TcpResult(ok=False, cause=Cause.NO_PROXY, detail="no proxy is configured", host="", port=0)
        if p.url is None:
            return TcpResult(ok=False, cause=Cause.INVALID_PROXY, detail=p.error or "invalid proxy URL",
                             host="", port=0)
        r = self.proxy_tcp()
        return None if r.ok else r

    def proxy_tcp(self) -> TcpResult:
        """TCP connect to the configured proxy (cached)."""
        p = self.proxy
        if p is None:
            p_set = self.settings.proxy
            cause = Cause.NO_PROXY if not p_set.configured else Cause.INVALID_PROXY
            return TcpResult(ok=False, cause=cause, detail=p_set.error or "no proxy is configured", host="", port=0)
        return self.tcp_connect(p.host, p.port)


    # -- resolution and TCP ----------------------------------------------
    def resolve(self, host: str, port: int) -> tuple[tuple[str, ...], float, ProbeError | None]:
        """Addresses for host:port: pinned ones first, else the resolver, bounded by the timeout."""
        def compute():
            start = time.monotonic()
            pinned = self.settings.resolve.get((host.lower(), port))
            if pinned:
                return (pinned,), 0.0, None
            try:
                socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
                return (host,), 0.0, None
            except OSError:
                pass
            try:
                infos = _getaddrinfo_bounded(host, port, self.timeout)
            except TimeoutError:
                return (), time.monotonic() - start, ProbeError(
                    Cause.UNRESOLVABLE, f"resolving {host} took longer than {self.timeout:g}s")
            except OSError as exc:
                return (), time.monotonic() - start, classify_oserror(exc, f"resolving {host}")
            addrs = tuple(dict.fromkeys(info[4][0] for info in infos))
            return addrs, time.monotonic() - start, None
        return self.cached(("resolve", host.lower(), port), compute)

    def connect(self, host: str, port: int, deadline: Deadline) -> tuple[socket.socket, str, float, float]:
        """A TCP socket to host:port within *deadline*: (socket, address, resolve seconds, connect seconds)."""
        forbidden = self.direct_forbidden(host, port)
        if forbidden is not None:
            raise forbidden
        addrs, resolve_elapsed, err = self.resolve(host, port)
        if err is not None:
            raise err
        last: ProbeError | None = None
        start = time.monotonic()
        for addr in addrs:
            family = socket.AF_INET6 if ":" in addr else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                sock.settimeout(min(self.timeout, max(deadline.remaining(), 0.001)))
                sock.connect((addr, port))
                return sock, addr, resolve_elapsed, time.monotonic() - start
            except OSError as exc:
                sock.close()
                last = classify_oserror(exc, f"connecting to {host}:{port} ({addr})")
                if last.cause == Cause.TIMEOUT:
                    last = ProbeError(Cause.TIMEOUT, f"connecting to {host}:{port} ({addr}): no answer "
                                                     f"within {self.timeout:g}s")
                    break
        raise last or ProbeError(Cause.UNRESOLVABLE, f"{host} has no address")

    def tcp_connect(self, host: str, port: int) -> TcpResult:
        """Open and close a TCP connection to host:port (cached)."""
        def compute() -> TcpResult:
            deadline = Deadline(self.timeout)
            try:
                sock, addr, r_el, c_el = self.connect(host, port, deadline)
            except ProbeError as exc:
                addrs = self.resolve(host, port)[0]
                res = TcpResult(ok=False, cause=exc.cause, detail=exc.detail, host=host, port=port,
                                address=addrs[0] if addrs else None, addresses=addrs)
            else:
                sock.close()
                res = TcpResult(ok=True, cause=Cause.OK, host=host, port=port, address=addr, elapsed=c_el,
                                resolve_elapsed=r_el, addresses=self.resolve(host, port)[0])
            self._record("tcp", host=host, port=port, ok=res.ok, cause=res.cause.value, detail=res.detail)
            return res
        return self.cached(("tcp", host.lower(), port), compute)

    # -- talking to the proxy -------------------------------------------
    def _proxy_auth(self, credentials: Any) -> str | None:
        if credentials == "configured":
            p = self.proxy
            if p is not None and p.username is not None:
                return basic_auth_header(p.username, p.password)
            return None
        if credentials is None:
            return None
        user, password = credentials
        return basic_auth_header(user, password)

    def _blocked_result(self) -> ProbeError | None:
        """A failure every proxy probe can return at once, without a new timeout."""
        bad = self.proxy_unusable()
        if bad is not None:
            return ProbeError(Cause.BLOCKED if bad.cause not in (Cause.NO_PROXY, Cause.INVALID_PROXY)
                              else bad.cause, f"the proxy cannot be used: {bad.detail}")
        silent = self._cache.get(("proxy-silent",))
        if silent:
            # Not BLOCKED: the proxy is reachable, it just does not answer (a proxy_works finding).
            return ProbeError(Cause.NO_ANSWER, f"the proxy did not answer an earlier request ({silent})")
        p = self.proxy
        if p is not None and p.is_socks and p.scheme not in ("socks5", "socks5h"):
            return ProbeError(Cause.UNSUPPORTED, f"the proxy is {p.scheme}://; the probes speak HTTP CONNECT and "
                                                 f"SOCKS5")
        return None

    def _proxy_tls_context(self) -> ssl.SSLContext:
        """How clients verify an https:// proxy: the system store plus the CA files they are pointed at; and the
        client certificate Claude Code presents to it (``CLAUDE_CODE_CLIENT_CERT``, measured with 2.1.332)."""
        def compute() -> ssl.SSLContext:
            ctx = ssl.create_default_context()
            env = self.settings.env
            for name in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS"):
                path = env.get(name)
                if path:
                    try:
                        ctx.load_verify_locations(cafile=path)
                    except (OSError, ssl.SSLError, ValueError):
                        pass  # a bad CA file is the certificate branch's finding, not a reason to crash here
            cert, key, passphrase = _client_identity(env)
            if cert:
                try:
                    ctx.load_cert_chain(cert, key or None, password=passphrase or None)
                except (OSError, ssl.SSLError, ValueError):
                    pass  # an unusable pair is certificate.client_cert's finding
            return ctx
        return self.cached(("proxy-tls-context",), compute)

    def _open_to_proxy(self, deadline: Deadline, proxy: ProxyURL | None = None) -> tuple[socket.socket, float, float]:
        p = proxy or self.proxy
        assert p is not None
        sock, addr, r_el, c_el = self.connect(p.host, p.port, deadline)
        if p.scheme == "https":
            ctx = self._proxy_tls_context()
            try:
                sock.settimeout(max(deadline.remaining(), 0.001))
                sock = ctx.wrap_socket(sock, server_hostname=p.host)
            except ssl.SSLCertVerificationError as exc:
                sock.close()
                raise ProbeError(Cause.PROXY_TLS_UNTRUSTED, f"TLS to the proxy {p.hostport} (https:// proxy URL): "
                                                            f"certificate verify failed: "
                                                            f"{exc.verify_message or exc.reason}")
            except ssl.SSLError as exc:
                sock.close()
                hint = " (the proxy port speaks plain HTTP: use http:// in the proxy URL)" \
                    if "WRONG_VERSION_NUMBER" in str(exc) or "wrong version" in str(exc).lower() else ""
                raise ProbeError(Cause.TLS_ERROR, f"TLS to the proxy {p.hostport}: {exc.reason or exc}{hint}")
            except OSError as exc:
                sock.close()
                raise classify_oserror(exc, f"TLS to the proxy {p.hostport}")
        return sock, r_el, c_el


def _client_identity(env: dict) -> tuple[str | None, str | None, str | None]:
    """Claude Code's client certificate, key and passphrase: the shell with its settings' ``env`` on top."""
    import os

    from pytest_proxydiag.machine import claude_settings

    try:
        home = env.get("HOME") or os.path.expanduser("~")
        seen = {**env, **claude_settings.read(home, os.getcwd(), env=env).env}
    except OSError:
        seen = dict(env)
    return (seen.get("CLAUDE_CODE_CLIENT_CERT") or None, seen.get("CLAUDE_CODE_CLIENT_KEY") or None,
            seen.get("CLAUDE_CODE_CLIENT_KEY_PASSPHRASE") or None)


def _getaddrinfo_bounded(host: str, port: int, timeout: float) -> list:
    """``getaddrinfo`` that gives up after *timeout* (the system resolver has no timeout of its own).

    The lookup runs on a daemon thread, so a resolver that never answers
    cannot hold the interpreter at exit.
    """
    answers: queue.Queue = queue.Queue(maxsize=1)

    def lookup() -> None:
        try:
            answers.put(("ok", socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)))
        except OSError as exc:
            answers.put(("error", exc))

    threading.Thread(target=lookup, name="proxydiag-resolve", daemon=True).start()
    try:
        kind, value = answers.get(timeout=timeout)
    except queue.Empty:
        raise TimeoutError(f"resolving {host}") from None
    if kind == "error":
        raise value
    return value
