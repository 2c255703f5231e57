"""proxy.py in this process: the fallback where Squid is missing."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Sequence

from pytest_proxydiag.lab.base import LabUnavailable
from pytest_proxydiag.lab.squid import squid_install_hint

# -- proxy.py (fallback) ------------------------------------------------------------------------
class ProxyPyProxy:
    """proxy.py in this process, kept on loopback: every upstream name resolves to 127.0.0.1.

    ``blocked`` hosts get 403 and a block page (no ``X-Squid-Error``);
    ``intercept`` = (CA cert, CA key, upstream CA file) turns on TLS
    interception, where proxy.py sends only the leaf, so clients report
    "unable to get local issuer certificate" (Squid sends the chain: "self-signed
    certificate in certificate chain").
    """

    def __init__(self, directory: Path, *, basic_auth: str | None = None, blocked: Sequence[str] = (),
                 intercept: tuple[Path, Path, Path] | None = None, stock_filter: bool = False) -> None:
        self.directory = Path(directory)
        #: Refuse ``blocked`` with proxy.py's own FilterByUpstreamHostPlugin (418 I'm a tea pot, no page).
        self.stock_filter = stock_filter
        self.basic_auth = basic_auth
        self.blocked = list(blocked)
        self.intercept = intercept
        self._proxy: Any = None
        self.port = 0
        self.host = "127.0.0.1"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "ProxyPyProxy":
        try:
            import proxy  # noqa: F401
            from proxy.http.proxy import HttpProxyBasePlugin
        except ImportError as exc:
            raise LabUnavailable(f"neither squid nor proxy.py is available; install squid with: "
                                 f"{squid_install_hint()}, or pip install proxy.py") from exc

        class LoopbackResolver(HttpProxyBasePlugin):  # type: ignore[misc, valid-type]
            """Resolve every upstream name to 127.0.0.1: the lab never leaves loopback."""

            def resolve_dns(self, host: str, port: int) -> tuple[str | None, Any]:
                return "127.0.0.1", None

        args = ["--hostname", "127.0.0.1", "--port", "0", "--num-acceptors", "1", "--num-workers", "1",
                "--threaded", "--log-level", "CRITICAL", "--pid-file", str(self.directory / "proxypy.pid"),
                # proxy.py otherwise creates ~/.proxy: the lab never writes to the user's home.
                "--data-dir", str(self.directory / "proxypy"), "--cache-dir", str(self.directory / "proxypy-cache")]
        plugins: list[Any] = [LoopbackResolver]
        if self.basic_auth:
            args += ["--basic-auth", self.basic_auth]
        if self.blocked and self.stock_filter:
            from proxy.plugin.filter_by_upstream import FilterByUpstreamHostPlugin

            args += ["--filtered-upstream-hosts", ",".join(self.blocked)]
            plugins.insert(0, FilterByUpstreamHostPlugin)
        elif self.blocked:
            from proxy.http.exception import HttpRequestRejected

            blocked = {h.lower() for h in self.blocked}

            class BlockHosts(HttpProxyBasePlugin):  # type: ignore[misc, valid-type]
                """Refuse CONNECT to blocked hosts with 403 and a block page, as corporate proxies do
                (proxy.py's own FilterByUpstreamHostPlugin answers 418)."""

                def before_upstream_connection(self, request: Any) -> Any:
                    host = (request.host or b"").decode("latin-1").lower()
                    if host in blocked:
                        raise HttpRequestRejected(
                            status_code=403, reason=b"Forbidden",
                            headers={b"Content-Type": b"text/html"},
                            body=b"<html><body><h1>Access denied</h1>"
                                 b"<p>Blocked by the proxy's policy (proxydiag lab).</p></body></html>\n")
                    return request

            plugins.append(BlockHosts)
        if self.intercept:
            cert, key, upstream_ca = self.intercept
            cert_dir = self.directory / "proxypy-certs"
            cert_dir.mkdir(mode=0o700, exist_ok=True)
            args += ["--ca-cert-file", str(cert), "--ca-key-file", str(key), "--ca-signing-key-file", str(key),
                     "--ca-cert-dir", str(cert_dir), "--ca-file", str(upstream_ca)]
        import proxy as proxy_mod

        self._proxy = proxy_mod.Proxy(args, plugins=plugins)
        self._proxy.setup()
        self.port = int(self._proxy.flags.port)
        return self

    def stop(self) -> None:
        p, self._proxy = self._proxy, None
        if p is not None:
            with contextlib.suppress(Exception):
                p.shutdown()
