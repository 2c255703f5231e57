"""The files a trust fix needs (written mode 600, never over a file of the user's) and the variables to export."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from pytest_proxydiag.catalog.certificate import say_fact

from .cafiles import WRITTEN_MARKER, CAFile
from .chains import _SHA256, fingerprint, name_text

# -- writing the fix -----------------------------------------------------------------------
@dataclass
class SavedFiles:
    """Files written for the user (absolute paths), all mode 600."""

    ca_path: str | None = None
    bundle_path: str | None = None
    node_ca_path: str | None = None
    converted: dict[str, str] = field(default_factory=dict)   # var -> PEM path converted from DER/PKCS#7
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v}


def output_paths(ca_out: str | None, json_path: str | None, cwd: str | None = None) -> Path:
    """Where the interception CA goes: ``--proxydiag-ca-out``, else next to the JSON report, else under *cwd*.

    The plugin passes as *cwd* the HTML report's directory or pytest's temporary directory, so
    nothing is written where the user named no path.
    """
    if ca_out:
        p = Path(ca_out).expanduser()
        if p.is_dir() or str(ca_out).endswith(os.sep):
            p = p / "proxy-ca.pem"
    elif json_path:
        p = Path(json_path).expanduser().resolve().parent / "proxydiag-ca" / "proxy-ca.pem"
    else:
        p = Path(cwd or os.getcwd()) / "proxydiag-ca" / "proxy-ca.pem"
    return p.absolute()


def _ours(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(len(WRITTEN_MARKER)).decode("ascii", "replace") == WRITTEN_MARKER
    except OSError:
        return False


def _write_private(path: Path, data: bytes, protected: set[str]) -> Path:
    """Write *data* to *path* (mode 600) atomically; never over a file that is not ours.

    When *path* holds somebody else's file (or is one of the user's CA
    files, or a symlink), a sibling name is used instead.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    candidate = path
    for i in range(1, 50):
        real = os.path.realpath(candidate)
        if os.path.islink(candidate) or real in protected or (candidate.exists() and not _ours(candidate)):
            candidate = path.with_name(f"{path.stem}.{i}{path.suffix}")
            continue
        break
    tmp = candidate.with_name(f".{candidate.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o600)
        os.replace(tmp, candidate)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return candidate


def _pem_file(certs: Sequence[x509.Certificate], title: str) -> bytes:
    lines = [WRITTEN_MARKER, f"# {title}"]
    body = b""
    for c in certs:
        body += (f"# {name_text(c.subject)}\n# sha256 {fingerprint(c)}\n").encode("utf-8", "replace")
        body += c.public_bytes(serialization.Encoding.PEM)
    return ("\n".join(lines) + "\n").encode("utf-8") + body


def _dedupe(certs: Iterable[x509.Certificate]) -> list[x509.Certificate]:
    seen: set[bytes] = set()
    out = []
    for c in certs:
        fp = c.fingerprint(_SHA256)
        if fp not in seen:
            seen.add(fp)
            out.append(c)
    return out


def save_trust_files(ca_certs: Sequence[x509.Certificate], ca_path: Path, *,
                     public_roots: Sequence[x509.Certificate], user_files: Sequence[CAFile] = (),
                     node_extra: CAFile | None = None) -> SavedFiles:
    """Write the interception CA, a combined bundle and the ``NODE_EXTRA_CA_CERTS`` file next to it.

    * ``proxy-ca.pem`` — the interception CA (PEM, what IT would hand out);
    * ``ca-bundle.pem`` — the public roots + the CA + every certificate the user's current
      bundles (``REQUESTS_CA_BUNDLE``, ``SSL_CERT_FILE``, ``CURL_CA_BUNDLE``) hold, so nothing
      that works today stops working;
    * ``node-extra-ca-certs.pem`` — the CA + whatever the current ``NODE_EXTRA_CA_CERTS`` held
      (DER converted), only when there is such a file;
    * ``<name>.pem`` — a PEM copy of any DER/PKCS#7 file a variable points at.

    The user's own files are only read.
    """
    saved = SavedFiles()
    protected = {os.path.realpath(f.path) for f in user_files}
    if node_extra is not None:
        protected.add(os.path.realpath(node_extra.path))
    ca_certs = _dedupe(ca_certs)
    directory = ca_path.parent
    if ca_certs:
        saved.ca_path = str(_write_private(ca_path, _pem_file(ca_certs, "TLS interception CA found by "
                                                                         "pytest-proxydiag"), protected))
    user_extra = [c for f in user_files if f.ok or f.status in ("der", "pkcs7", "relative") for c in f.certs]
    combined = _dedupe(list(public_roots) + list(ca_certs) + user_extra)
    if ca_certs and combined:
        saved.bundle_path = str(_write_private(directory / "ca-bundle.pem",
                                               _pem_file(combined, say_fact("bundle_header")), protected))
    if node_extra is not None and node_extra.certs:
        merged = _dedupe(list(ca_certs) + list(node_extra.certs))
        saved.node_ca_path = str(_write_private(directory / "node-extra-ca-certs.pem",
                                                _pem_file(merged, say_fact("node_extra_header")), protected))
    else:
        saved.node_ca_path = saved.ca_path
    for f in list(user_files) + ([node_extra] if node_extra is not None else []):
        if f.status in ("der", "pkcs7") and f.certs and f.var:
            name = Path(f.path).stem + ".pem"
            out = _write_private(directory / name, _pem_file(f.certs, f"PEM copy of {f.path}"), protected)
            saved.converted[f.var] = str(out)
    return saved


def compute_fix(saved: SavedFiles, env: Mapping[str, str], *, disabled: Sequence[Mapping[str, str]] = (),
                aws: bool = False) -> dict:
    """The variables that make every client trust the CA: ``{"env": {...}, "unset": [...]}``.

    *aws*: a Bedrock user, whose boto3 reads ``AWS_CA_BUNDLE`` before anything
    else (it is set to the bundle too).  Kept apart from the tests so a later
    step can apply it to real clients and prove it (``verified``).
    """
    fix_env: dict[str, str] = {}
    if saved.bundle_path:
        for var in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE") + (("AWS_CA_BUNDLE",) if aws else ()):
            fix_env[var] = saved.bundle_path
    node = saved.node_ca_path or saved.converted.get("NODE_EXTRA_CA_CERTS")
    if node:
        fix_env["NODE_EXTRA_CA_CERTS"] = node
    unset = []
    for d in disabled:
        var = d.get("var")
        if var and var not in fix_env and var not in unset and var != "ssl_verify":
            unset.append(var)
    if env.get("SSL_CERT_DIR") and saved.bundle_path:
        # A directory without the CA would still be consulted; the bundle is enough.
        unset.append("SSL_CERT_DIR")
    return {"env": fix_env, "unset": unset}


