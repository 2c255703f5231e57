"""CA files and directories as the clients find them on disk: read without ever raising or blocking."""

from __future__ import annotations

import errno
import os
import re
import stat
from dataclasses import dataclass
from typing import Any

from cryptography import x509

from pytest_proxydiag.catalog.certificate import say_fact as _t

from .chains import _SHA256

#: A CA file larger than this is not read (certifi is about 0.3 MB).
MAX_CA_FILE_BYTES = 16 * 1024 * 1024
#: Files read from one CA directory at most.
MAX_DIR_ENTRIES = 5000
#: First line of every PEM file this tool writes; lets a later run replace its own files and nobody else's.
WRITTEN_MARKER = "# written by pytest-proxydiag"

#: Where each OS keeps its system bundle (what curl, Claude Code and OpenSSL use by default).
SYSTEM_BUNDLES = (
    ("debian", "/etc/ssl/certs/ca-certificates.crt"),
    ("rhel", "/etc/pki/tls/certs/ca-bundle.crt"),
    ("rhel", "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem"),
    ("suse", "/etc/ssl/ca-bundle.pem"),
    ("macos", "/etc/ssl/cert.pem"),
    ("alpine", "/etc/ssl/cert.pem"),
)

_PEM_BLOCK = re.compile(rb"-----BEGIN (?:X509 |TRUSTED )?CERTIFICATE-----.+?-----END (?:X509 |TRUSTED )?CERTIFICATE-----",
                        re.S)
_HASHED_NAME = re.compile(r"^[0-9a-f]{8}\.\d+$")


# -- reading CA files -----------------------------------------------------------------
@dataclass(frozen=True)
class CAFile:
    """A CA file or directory a client reads, as found on disk.

    ``status`` is ``ok`` or the precise trap: ``missing``, ``dangling``
    (symlink to nothing), ``loop`` (symlink loop), ``unreadable``,
    ``directory`` (a directory where a file is required), ``not_directory``,
    ``not_regular`` (a FIFO or device: never opened), ``empty``,
    ``too_large``, ``der`` (one DER certificate where PEM is required),
    ``pkcs7``, ``not_pem`` (no certificate in it), ``not_hashed`` (a
    directory OpenSSL cannot use because it has no ``c_rehash`` links), ``relative`` (a good
    ``NODE_EXTRA_CA_CERTS`` given as a relative path: its certificates are kept, but it is not counted as read).
    """

    path: str
    status: str
    certs: tuple[x509.Certificate, ...] = ()
    detail: str = ""
    var: str | None = None
    bad_blocks: int = 0
    kind: str = "file"

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def count(self) -> int:
        return len(self.certs)

    @property
    def label(self) -> str:
        return f"{self.var}={self.path}" if self.var else self.path

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"path": self.path, "kind": self.kind, "status": self.status,
                             "certificates": self.count}
        if self.var:
            d["var"] = self.var
        if self.detail:
            d["detail"] = self.detail
        if self.bad_blocks:
            d["unparseable_pem_blocks"] = self.bad_blocks
        return d


def _parse_bytes(data: bytes) -> tuple[str, list[x509.Certificate], int, str]:
    """(status, certs, bad PEM blocks, detail) for the content of a CA file."""
    import warnings

    with warnings.catch_warnings():
        # Some public roots have non-positive serials; cryptography warns about each one.
        warnings.simplefilter("ignore")
        return _parse_bytes_inner(data)


def _parse_bytes_inner(data: bytes) -> tuple[str, list[x509.Certificate], int, str]:
    if not data.strip():
        return "empty", [], 0, _t("file_empty")
    blocks = _PEM_BLOCK.findall(data)
    if blocks:
        certs, bad = [], 0
        for block in blocks:
            if b"TRUSTED CERTIFICATE" in block[:40]:
                bad += 1  # OpenSSL's "trusted certificate" form: Node and requests cannot read it
                continue
            try:
                certs.append(x509.load_pem_x509_certificate(block))
            except Exception:  # noqa: BLE001
                bad += 1
        if certs:
            return "ok", certs, bad, ""
        return "not_pem", [], bad, _t("pem_none_readable", bad=bad)
    if b"-----BEGIN PKCS7-----" in data:
        try:
            from cryptography.hazmat.primitives.serialization import pkcs7

            return "pkcs7", pkcs7.load_pem_pkcs7_certificates(data), 0, _t("pkcs7_pem")
        except Exception:  # noqa: BLE001
            return "not_pem", [], 0, _t("pkcs7_unreadable")
    if data[:1] == b"\x30":
        try:
            return "der", [x509.load_der_x509_certificate(data)], 0, \
                _t("der_one")
        except Exception:  # noqa: BLE001
            pass
        try:
            from cryptography.hazmat.primitives.serialization import pkcs7

            certs = pkcs7.load_der_pkcs7_certificates(data)
            return "pkcs7", certs, 0, _t("pkcs7_der")
        except Exception:  # noqa: BLE001
            pass
    if b"-----BEGIN" in data:
        kinds = sorted(set(m.decode("ascii", "replace") for m in re.findall(rb"-----BEGIN ([A-Z0-9 ]+)-----", data)))
        return "not_pem", [], 0, _t("pem_other", kinds=", ".join(kinds))
    return "not_pem", [], 0, _t("not_pem_or_der")


def read_ca_file(path: str | os.PathLike, *, var: str | None = None, expect: str = "file",
                 max_bytes: int = MAX_CA_FILE_BYTES) -> CAFile:
    """Read a CA file (*expect* ``file``) or directory (``dir``) without ever raising or blocking."""
    p = os.fspath(path)
    shown = p
    try:
        st = os.stat(p)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return CAFile(shown, "loop", detail=_t("symlink_loop"), var=var, kind=expect)
        if exc.errno == errno.ENOENT:
            if os.path.islink(p):
                try:
                    dest = os.readlink(p)
                except OSError:
                    dest = "?"
                return CAFile(shown, "dangling", detail=_t("dangling", dest=dest), var=var,
                              kind=expect)
            return CAFile(shown, "missing", detail=_t("no_such_file"), var=var, kind=expect)
        if exc.errno in (errno.EACCES, errno.EPERM):
            return CAFile(shown, "unreadable", detail=_t("permission_denied", error=exc.strerror), var=var, kind=expect)
        if exc.errno == errno.ENOTDIR:
            return CAFile(shown, "missing", detail=_t("parent_not_dir"), var=var, kind=expect)
        return CAFile(shown, "unreadable", detail=str(exc.strerror or exc), var=var, kind=expect)
    if stat.S_ISDIR(st.st_mode):
        if expect != "dir":
            return CAFile(shown, "directory", detail=_t("dir_not_file"), var=var, kind=expect)
        return _read_ca_dir(p, var)
    if expect == "dir":
        return CAFile(shown, "not_directory", detail=_t("file_not_dir"), var=var, kind=expect)
    if not stat.S_ISREG(st.st_mode):
        return CAFile(shown, "not_regular", detail=_t("not_regular"), var=var)
    if st.st_size > max_bytes:
        return CAFile(shown, "too_large", detail=_t("too_large", size=st.st_size,
                                                                     limit=max_bytes // (1024 * 1024)), var=var)
    try:
        with open(p, "rb") as f:
            data = f.read(max_bytes + 1)
    except OSError as exc:
        return CAFile(shown, "unreadable", detail=str(exc.strerror or exc), var=var)
    status, certs, bad, detail = _parse_bytes(data)
    return CAFile(shown, status, tuple(certs), detail, var, bad)


def _read_ca_dir(path: str, var: str | None) -> CAFile:
    certs: list[x509.Certificate] = []
    seen: set[bytes] = set()
    hashed = 0
    files = 0
    try:
        names = sorted(os.listdir(path))[:MAX_DIR_ENTRIES]
    except OSError as exc:
        return CAFile(path, "unreadable", detail=str(exc.strerror or exc), var=var, kind="dir")
    for name in names:
        is_hashed = bool(_HASHED_NAME.match(name))
        if not (is_hashed or name.endswith((".pem", ".crt", ".cer"))):
            continue
        entry = read_ca_file(os.path.join(path, name), max_bytes=1024 * 1024)
        if entry.status not in ("ok", "der"):
            continue
        files += 1
        hashed += is_hashed
        for c in entry.certs:
            fp = c.fingerprint(_SHA256)
            if fp not in seen:
                seen.add(fp)
                certs.append(c)
    if not certs:
        return CAFile(path, "empty", detail=_t("dir_empty"), var=var, kind="dir")
    if not hashed:
        return CAFile(path, "not_hashed", tuple(certs), _t("not_hashed", files=files), var, kind="dir")
    return CAFile(path, "ok", tuple(certs), _t("dir_files", files=files), var, kind="dir")




def read_ca_source(path: str, var: str | None = None) -> CAFile:
    """A file or a directory, whichever *path* is (requests accepts both in REQUESTS_CA_BUNDLE)."""
    try:
        is_dir = os.path.isdir(path)
    except OSError:
        is_dir = False
    return read_ca_file(path, var=var, expect="dir" if is_dir else "file")



# -- the stores each client reads --------------------------------------------------------
def certifi_bundle() -> str | None:
    try:
        import certifi

        return certifi.where()
    except Exception:  # noqa: BLE001 - certifi is a dependency of requests, but never crash on it
        return None


def system_bundle() -> tuple[str | None, str | None]:
    """(path, os family) of this machine's system bundle, the first that exists."""
    for family, path in SYSTEM_BUNDLES:
        if os.path.isfile(path):
            return path, family
    return None, None



class _FileCache:
    """Reads each CA source once per run (keyed by path, kind, mtime and size)."""

    def __init__(self) -> None:
        self._cache: dict[Any, CAFile] = {}

    def get(self, var: str, path: str, kind: str) -> CAFile:
        try:
            st = os.stat(path)
            key = (path, kind, st.st_mtime_ns, st.st_size)
        except OSError:
            key = (path, kind, None, None)
        hit = self._cache.get(key)
        if hit is None:
            if kind == "any":
                hit = read_ca_source(path)
            else:
                hit = read_ca_file(path, expect=kind)
            self._cache[key] = hit
        shown_var = None if var in ("certifi", "system", "default") else var
        relative = hit.ok and shown_var and not os.path.isabs(path) and (
            "extra" if "NODE_EXTRA_CA_CERTS" in shown_var else "file")
        if relative:
            # Every client opens it from the directory it starts in: found from here says nothing about the user's
            # other directories.  Measured: Node and Claude Code 2.1.332 (NODE_EXTRA_CA_CERTS), botocore 1.43.11
            # (AWS_CA_BUNDLE, ca_bundle), requests (REQUESTS_CA_BUNDLE: "invalid path"), curl (CURL_CA_BUNDLE),
            # Python's ssl and httpx (SSL_CERT_FILE), Node --use-openssl-ca (SSL_CERT_FILE).
            return CAFile(hit.path, "relative", hit.certs, _t(f"relative_{relative}", cwd=os.getcwd()), shown_var,
                          hit.bad_blocks, hit.kind)
        return CAFile(hit.path, hit.status, hit.certs, hit.detail, shown_var, hit.bad_blocks, hit.kind)


FILES = _FileCache()

