"""``--proxydiag-bundle PATH.zip``: everything IT needs in one redacted file.

Contents: ``summary.txt`` (the diagnosis and the block for IT),
``proxydiag.json``, ``proxydiag-report.html`` (standalone page), the
pytest-html report and the JUnit XML when they were requested (a JUnit file
of the steps is generated otherwise), and the extracted interception CA
(public certificates only).  Entries are mode 0600, the zip itself 0600;
every text entry and every entry name goes through the redaction layer.
"""

from __future__ import annotations

import os
import time
import zipfile
from pathlib import Path
from typing import Any, Mapping
from xml.sax.saxutils import escape as xml_escape, quoteattr

from pytest_proxydiag.core.redact import Redactor
from pytest_proxydiag.reports.html_report import standalone_html
from pytest_proxydiag.reports.json_report import write_json  # noqa: F401 - re-exported for callers building bundles by hand
from pytest_proxydiag.reports.text import summary_text

__all__ = ["write_bundle", "junit_from_document"]

_MAX_ARTIFACT = 2 * 1024 * 1024


def junit_from_document(doc: Mapping[str, Any]) -> str:
    """A JUnit XML of the steps (used when ``--junitxml`` was not given)."""
    steps = doc.get("steps") or []
    c = doc.get("counts") or {}
    cases = []
    for s in steps:
        props = "".join(f"<property name={quoteattr(k)} value={quoteattr(str(v))}/>"
                        for k, v in (("step_id", s.get("id")), ("branch", s.get("branch")),
                                     ("outcome", s.get("outcome")), ("finding", s.get("finding")))
                        if v is not None)
        body = f"<properties>{props}</properties>"
        if s.get("outcome") == "failed":
            body += (f"<failure message={quoteattr(str(s.get('finding') or ''))}>"
                     f"{xml_escape(str(s.get('solution') or ''))}</failure>")
        elif s.get("outcome") == "error":
            body += f"<error message={quoteattr(str(s.get('finding') or ''))}/>"
        elif s.get("outcome") == "skipped":
            body += f"<skipped message={quoteattr(str(s.get('skip_reason') or ''))}/>"
        name = s.get("id") + ("[" + ",".join(map(str, (s.get("params") or {}).values())) + "]"
                              if s.get("params") else "")
        cases.append(f"<testcase classname={quoteattr(str(s.get('branch')))} name={quoteattr(name)} "
                     f"time=\"{s.get('duration_s', 0)}\">{body}</testcase>")
    return ("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
            f"<testsuites><testsuite name=\"proxydiag\" tests=\"{len(steps)}\" failures=\"{c.get('failed', 0)}\" "
            f"errors=\"{c.get('error', 0)}\" skipped=\"{c.get('skipped', 0)}\">" + "".join(cases)
            + "</testsuite></testsuites>\n")


def _add(zf: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=time.localtime()[:6])
    info.external_attr = (0o100600 << 16)
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, data)


def _read_text(path: str | os.PathLike | None) -> str | None:
    if not path:
        return None
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _safe_name(name: str, redactor: Redactor) -> str:
    clean = redactor.redact(name).replace("\\", "/").split("/")[-1]
    clean = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in clean).strip("._") or "file"
    return clean[:100]


def write_bundle(path: str | os.PathLike, doc: Mapping[str, Any], redactor: Redactor, *,
                 html_path: str | None = None, junit_path: str | None = None,
                 artifacts: Mapping[str, Any] | None = None) -> tuple[Path, list[str]]:
    """Write the zip (mode 0600); returns its path and the entry names."""
    red = redactor.redact
    entries: list[tuple[str, bytes]] = [
        ("summary.txt", red(summary_text(doc)).encode()),
        ("proxydiag.json", red(_json(doc)).encode()),
        ("proxydiag-report.html", redactor.redact_known(standalone_html(doc)).encode()),
    ]
    html = _read_text(html_path)
    if html is not None:
        # Only known secrets: the patterns could reshape pytest-html's escaped JSON blob.
        entries.append(("pytest-html-report.html", redactor.redact_known(html).encode()))
    junit = _read_text(junit_path)
    entries.append(("junit.xml", (redactor.redact_known(junit) if junit is not None
                                  else red(junit_from_document(doc))).encode()))
    for name, value in (artifacts or {}).items():
        p = Path(str(value))
        try:
            if not p.is_file() or p.stat().st_size > _MAX_ARTIFACT:
                continue
            data = p.read_bytes()
        except OSError:
            continue
        if b"PRIVATE KEY" in data:
            continue  # never ship a key, whatever a step saved
        try:
            data = red(data.decode("utf-8")).encode()
        except UnicodeDecodeError:
            pass  # DER: binary, no text secrets
        entries.append((f"artifacts/{_safe_name(str(name), redactor)}-{_safe_name(p.name, redactor)}", data))
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f, zipfile.ZipFile(f, "w") as zf:
        for name, data in entries:
            _add(zf, name, data)
    os.chmod(tmp, 0o600)
    os.replace(tmp, out)
    return out, [n for n, _ in entries]


def _json(doc: Mapping[str, Any]) -> str:
    import json

    return json.dumps(doc, indent=2, ensure_ascii=False, default=str) + "\n"
