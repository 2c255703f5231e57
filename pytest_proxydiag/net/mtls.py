"""Does a TLS endpoint (an LLM gateway, an https:// proxy) ask for a client certificate, and accept ours?

One bounded handshake plus one ``HEAD /`` per question.  A server that
requires a certificate answers a client without one with an alert: in TLS 1.3
after the handshake (``certificate required``, seen on the first read), in
TLS 1.2 during it (``handshake failure``).  The server's own certificate is not
judged here (certificate.interception does that), so the probe does not verify
it; nothing secret is sent (a client certificate is public, its key never
leaves this process).
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass

#: OpenSSL alert reasons that mean "your certificate is missing or not good enough".
_REQUIRED = ("CERTIFICATE_REQUIRED", "alert certificate required")
_REJECTED = ("BAD_CERTIFICATE", "UNKNOWN_CA", "CERTIFICATE_EXPIRED", "CERTIFICATE_UNKNOWN", "UNSUPPORTED_CERTIFICATE",
             "ACCESS_DENIED", "DECRYPT_ERROR", "HANDSHAKE_FAILURE")


@dataclass(frozen=True)
class ClientAuthResult:
    """``outcome``: ``answered`` (the request went through), ``required`` (refused without a certificate),
    ``rejected`` (refused the one sent), ``unreachable`` or ``tls_error``; ``alert`` is OpenSSL's reason."""

    endpoint: str
    outcome: str
    detail: str = ""
    alert: str = ""
    tls_version: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == "answered"

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v not in (None, "")}


def _alert(exc: BaseException) -> str:
    return str(getattr(exc, "reason", "") or "") or str(exc)


def client_auth(host: str, port: int, *, timeout: float, server_hostname: str | None = None,
                cert: str | None = None, key: str | None = None, passphrase: str | None = None) -> ClientAuthResult:
    """Handshake with *host*:*port* (with the client certificate *cert*/*key* when given) and send ``HEAD /``."""
    endpoint = f"{host}:{port}"
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the server's certificate is certificate.interception's business
    if cert:
        try:
            ctx.load_cert_chain(cert, key or None, password=passphrase or None)
        except (OSError, ssl.SSLError, ValueError) as exc:
            return ClientAuthResult(endpoint, "tls_error", f"the client certificate cannot be loaded: {exc}")
    try:
        raw = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        return ClientAuthResult(endpoint, "unreachable", str(exc))
    sent = bool(cert)
    try:
        with ctx.wrap_socket(raw, server_hostname=server_hostname or host) as tls:
            version = tls.version()
            early = _early_alert(tls, timeout)
            if early is not None:
                return _refused(endpoint, early, sent)
            tls.sendall(f"HEAD / HTTP/1.1\r\nHost: {server_hostname or host}\r\nConnection: close\r\n\r\n".encode())
            head = tls.recv(64)
    except ssl.SSLError as exc:
        return _refused(endpoint, exc, sent)
    except ConnectionResetError as exc:
        # The server closed right after the handshake: it did not accept this connection's certificate (or none).
        return ClientAuthResult(endpoint, "rejected" if sent else "required", str(exc))
    except OSError as exc:
        return ClientAuthResult(endpoint, "tls_error", str(exc))
    finally:
        raw.close()
    if not head:
        # TLS 1.2 servers may close without an alert once they dislike the certificate.
        return ClientAuthResult(endpoint, "rejected" if sent else "required", "the connection was closed",
                                tls_version=version)
    return ClientAuthResult(endpoint, "answered", head.split(b"\r\n", 1)[0].decode("latin-1"), tls_version=version)


def _early_alert(tls: ssl.SSLSocket, timeout: float) -> ssl.SSLError | None:
    """A TLS 1.3 server refuses a client certificate after the handshake: read its alert before sending anything
    (writing first races the server's close and turns the alert into a connection reset)."""
    if tls.version() != "TLSv1.3":
        return None
    tls.settimeout(min(timeout, 0.5))
    try:
        tls.recv(1)  # a server that accepted the client sends nothing before the request (session tickets aside)
    except ssl.SSLError as exc:
        if isinstance(exc, ssl.SSLWantReadError):
            return None
        return exc
    except (socket.timeout, BlockingIOError):
        return None
    finally:
        tls.settimeout(timeout)
    return None


def _refused(endpoint: str, exc: ssl.SSLError, sent: bool) -> ClientAuthResult:
    alert = _alert(exc)
    upper = alert.upper().replace(" ", "_")
    if any(r.upper().replace(" ", "_") in upper for r in _REQUIRED):
        return ClientAuthResult(endpoint, "rejected" if sent else "required", str(exc), alert)
    if any(r in upper for r in _REJECTED) or (sent and isinstance(exc, ssl.SSLEOFError)):
        # A server that does not know the certificate's CA may just close: with one sent, that is a refusal.
        return ClientAuthResult(endpoint, "rejected" if sent else "required", str(exc), alert)
    return ClientAuthResult(endpoint, "tls_error", str(exc), alert)


def probe_client_auth(probes, host: str, port: int, identity=None, passphrase: str | None = None) -> ClientAuthResult:
    """:func:`client_auth` through the probe layer: pinned names (``--proxydiag-resolve``), its timeout, counted."""
    addrs, _elapsed, error = probes.resolve(host, port)
    if error is not None or not addrs:
        return ClientAuthResult(f"{host}:{port}", "unreachable", str(error.detail if error else "no address"))
    probes.requests_sent += 1
    result = client_auth(addrs[0], port, timeout=probes.timeout, server_hostname=host,
                         cert=getattr(identity, "cert_path", None), key=getattr(identity, "key_path", None),
                         passphrase=passphrase)
    result = ClientAuthResult(f"{host}:{port}", result.outcome, probes.redact(result.detail), result.alert,
                              result.tls_version)
    probes.record("client_auth", endpoint=result.endpoint, outcome=result.outcome, with_certificate=bool(identity))
    return result
