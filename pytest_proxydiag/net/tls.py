"""TLS for the probes: TLS inside a tunnel (and inside an https:// proxy), and the presented chain, unverified.

The probes measure the path; the certificate branch judges the chain they keep.
"""

from __future__ import annotations

import socket
import ssl
import sys

from pytest_proxydiag.net.results import Cause, Deadline, ProbeError, classify_oserror

if sys.version_info < (3, 13):
    # Imported once, when the probe layer loads: a first import of pyOpenSSL on two probe threads at once
    # can leave cryptography's cffi bindings half made ("cffi library '_openssl' has no function ...").
    from OpenSSL import SSL, crypto

__all__ = ["wrap_tls", "fetch_chain", "tls_error", "unverified_context"]


def unverified_context() -> ssl.SSLContext:
    """A client context that completes any handshake: the probes measure, the certificate branch judges trust."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def tls_error(exc: ssl.SSLError, where: str) -> ProbeError:
    text = str(exc)
    if "WRONG_VERSION_NUMBER" in text or "wrong version number" in text or "record layer failure" in text:
        # One sentence whatever the TLS library's words (WRONG_VERSION_NUMBER, or "record layer failure" from
        # OpenSSL 3.2+), and the same as the chain reader's on every Python version.
        return ProbeError(Cause.TLS_PLAINTEXT, f"TLS with {where}: the other side answered in plaintext, not TLS")
    if isinstance(exc, (ssl.SSLEOFError, ssl.SSLZeroReturnError)) or "EOF" in text:
        return ProbeError(Cause.RESET, f"TLS with {where}: the connection was closed during the handshake")
    return ProbeError(Cause.TLS_ERROR, f"TLS with {where}: {exc.reason or text}")


def wrap_tls(sock, ctx: ssl.SSLContext, server_name: str):
    """TLS with the target over *sock*; over an https:// proxy that is TLS inside TLS.

    ``SSLContext.wrap_socket`` cannot nest: inside the proxy's TLS the inner
    handshake must run over memory buffers (urllib3's ``SSLTransport``).
    """
    if isinstance(sock, ssl.SSLSocket):
        from urllib3.util.ssltransport import SSLTransport

        return SSLTransport(sock, ctx, server_hostname=server_name)
    return ctx.wrap_socket(sock, server_hostname=server_name)


def fetch_chain(sock: socket.socket, server_name: str, deadline: Deadline) -> tuple[list[bytes], str | None, str | None]:
    """TLS handshake over *sock* without verification; return the presented chain (DER, leaf first).

    *sock* is a tunnel through the proxy; through an https:// proxy it is
    itself a TLS socket, so the handshake runs over memory buffers pumped
    through it.  Python 3.13+ exposes the presented chain in :mod:`ssl`;
    older versions use pyOpenSSL's ``get_peer_cert_chain()``.
    """
    if sys.version_info >= (3, 13):
        ctx = unverified_context()
        sock.settimeout(max(deadline.remaining(), 0.001))
        try:
            tls = wrap_tls(sock, ctx, server_name)
        except ssl.SSLError as exc:
            raise tls_error(exc, server_name)
        except OSError as exc:
            raise classify_oserror(exc, f"TLS with {server_name}")
        sslobj = tls.sslobj if hasattr(tls, "sslobj") else tls
        # The public method returns DER bytes; _ssl's own returns Certificate objects.
        chain = [c if isinstance(c, bytes) else c.public_bytes(ssl._ssl.ENCODING_DER)
                 for c in sslobj.get_unverified_chain() or []]
        return chain, tls.version(), (tls.cipher() or (None,))[0]
    return _fetch_chain_pyopenssl(sock, server_name, deadline)


_PLAINTEXT_MARKS = ("wrong version number", "WRONG_VERSION_NUMBER", "packet length too long", "record layer failure")


def _fetch_chain_pyopenssl(sock: socket.socket, server_name: str, deadline: Deadline):
    ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
    ctx.set_verify(SSL.VERIFY_NONE, lambda *a: True)
    conn = SSL.Connection(ctx, None)  # memory BIOs: works over a plain tunnel and inside an https:// proxy
    try:
        conn.set_tlsext_host_name(server_name.encode("idna"))
    except (UnicodeError, ValueError):
        pass  # a name IDNA cannot encode is sent without SNI, as clients do
    conn.set_connect_state()

    def flush() -> None:
        while True:
            try:
                data = conn.bio_read(65536)
            except SSL.WantReadError:
                return
            sock.settimeout(max(deadline.remaining(), 0.001))
            sock.sendall(data)

    try:
        while True:
            try:
                conn.do_handshake()
                flush()
                break
            except SSL.WantReadError:
                flush()
                if deadline.remaining() <= 0:
                    raise ProbeError(Cause.NO_ANSWER, f"TLS with {server_name}: handshake did not finish "
                                                      f"within {deadline.seconds:g}s")
                sock.settimeout(max(deadline.remaining(), 0.001))
                data = sock.recv(65536)
                if not data:
                    raise ProbeError(Cause.RESET, f"TLS with {server_name}: the connection was closed during "
                                                  "the handshake")
                conn.bio_write(data)
    except (socket.timeout, TimeoutError):
        raise ProbeError(Cause.NO_ANSWER, f"TLS with {server_name}: handshake did not finish "
                                          f"within {deadline.seconds:g}s")
    except SSL.Error as exc:
        text = str(exc)
        if any(mark in text for mark in _PLAINTEXT_MARKS):
            raise ProbeError(Cause.TLS_PLAINTEXT, f"TLS with {server_name}: the other side answered in "
                                                  "plaintext, not TLS")
        raise ProbeError(Cause.TLS_ERROR, f"TLS with {server_name}: {text}")
    except OSError as exc:
        raise classify_oserror(exc, f"TLS with {server_name}")
    certs = conn.get_peer_cert_chain() or []
    chain = [crypto.dump_certificate(crypto.FILETYPE_ASN1, c) for c in certs]
    return chain, conn.get_protocol_version_name(), conn.get_cipher_name()
