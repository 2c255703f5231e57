"""Reading many JSON reports one at a time: files, directories, globs and zip archives.

:func:`iter_inputs` yields one :class:`Item` per file (or zip member), in a
stable order, each parsed and sorted into what it is: a pytest-proxydiag
report (schema 1), a fleet status file written by the Ansible role for a host
that could not run the diagnosis, or a rejected file with the reason.  Only
one document is in memory at a time, and nothing raises: a bad input is an
item with a reason.
"""

from __future__ import annotations

import glob
import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

from pytest_proxydiag.catalog.fleet import REJECTED

__all__ = ["Item", "iter_inputs", "iter_sources", "read_file", "classify", "MAX_BYTES", "STATUS_KEY"]

#: Largest file read; a report is tens of kilobytes, anything far larger is not one.
MAX_BYTES = 64 * 1024 * 1024
#: The marker of a fleet status file (examples/ansible writes one per host that has no report).
STATUS_KEY = "proxydiag_fleet_status"
_GLOB_CHARS = set("*?[")


@dataclass
class Item:
    """One input: ``kind`` is ``report``, ``status`` or ``rejected``."""

    source: str
    kind: str
    doc: Any = None
    reason: str = ""
    #: The file name without ``.json`` (its directory for ``proxydiag-report.json``): ``--host-from file``.
    stem: str = ""


def _rejected(source: str, key: str, **values: Any) -> Item:
    return Item(source, "rejected", reason=REJECTED[key].format(**values))


def _shape(doc: Any) -> str:
    if isinstance(doc, dict):
        keys = sorted(str(k) for k in doc)[:6]
        return "object with " + (", ".join(keys) if keys else "no keys")
    return type(doc).__name__ if not isinstance(doc, list) else "array"


def classify(source: str, data: bytes, stem: str = "") -> Item:
    """Parse *data* and say what it is (never raises)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return _rejected(source, "not_text")
    try:
        doc = json.loads(text)
    except RecursionError:
        return _rejected(source, "not_json", error="nested too deeply")
    except ValueError as exc:
        pos = getattr(exc, "pos", None)
        stripped = text.rstrip()
        # The parser stopped at the end of the text, or inside a string that never closes: cut short.
        at_end = isinstance(pos, int) and pos >= len(stripped) - 1
        if stripped.startswith(("{", "[")) and (at_end or str(getattr(exc, "msg", "")).startswith("Unterminated")):
            return _rejected(source, "truncated", size=len(data))
        msg = getattr(exc, "msg", None) or str(exc)
        where = f" at line {exc.lineno} column {exc.colno}" if hasattr(exc, "lineno") else ""
        return _rejected(source, "not_json", error=f"{msg}{where}")
    item = Item(source, "report", doc=doc, stem=stem)
    if isinstance(doc, dict) and STATUS_KEY in doc:
        if not isinstance(doc.get("host"), str) or not doc["host"]:
            return _rejected(source, "bad_status")
        item.kind = "status"
        return item
    if isinstance(doc, dict) and "fleet_schema" in doc:
        return _rejected(source, "aggregate")
    if not isinstance(doc, dict) or not isinstance(doc.get("steps"), list) or "schema" not in doc:
        return _rejected(source, "foreign", shape=_shape(doc))
    tool = doc.get("tool")
    if isinstance(tool, dict) and tool.get("name") not in (None, "pytest-proxydiag"):
        return _rejected(source, "foreign", shape=f"written by {tool.get('name')!r}")
    if doc.get("schema") != 1:
        return _rejected(source, "schema", schema=doc.get("schema"))
    return item


#: The file name the plugin writes by default: under ``--host-from file`` its directory names the host.
DEFAULT_REPORT_NAME = "proxydiag-report"


def _stem(name: str) -> str:
    parts = [p for p in name.replace("\\", "/").split("/") if p]
    if not parts:
        return ""
    base = parts[-1][:-5] if parts[-1].lower().endswith(".json") else parts[-1]
    if base == DEFAULT_REPORT_NAME and len(parts) > 1:
        return parts[-2]
    return base


def read_file(path: Path) -> Item:
    """Read and classify one JSON file (never raises)."""
    source = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            return _rejected(source, "too_large", size=size, limit=MAX_BYTES)
        with path.open("rb") as f:
            data = f.read(MAX_BYTES + 1)
    except OSError as exc:
        return _rejected(source, "unreadable", error=exc.strerror or exc.__class__.__name__)
    if len(data) > MAX_BYTES:
        return _rejected(source, "too_large", size=len(data), limit=MAX_BYTES)
    return classify(source, data, _stem(str(path)))


def _read_zip(path: Path) -> Iterator[Item]:
    source = str(path)
    try:
        with zipfile.ZipFile(path) as archive:
            members = sorted((i for i in archive.infolist()
                              if not i.is_dir() and i.filename.lower().endswith(".json")),
                             key=lambda i: i.filename)
            if not members:
                yield _rejected(source, "empty_zip")
                return
            for info in members:
                name = f"{source}:{info.filename}"
                if info.file_size > MAX_BYTES:
                    yield _rejected(name, "too_large", size=info.file_size, limit=MAX_BYTES)
                    continue
                try:
                    with archive.open(info) as member:
                        # The header's size may lie (a zip bomb): read at most one byte past the limit.
                        data = member.read(MAX_BYTES + 1)
                except (OSError, zipfile.BadZipFile, zipfile.LargeZipFile, RuntimeError, ValueError,
                        NotImplementedError, EOFError) as exc:
                    yield _rejected(name, "unreadable", error=str(exc) or exc.__class__.__name__)
                    continue
                if len(data) > MAX_BYTES:
                    yield _rejected(name, "too_large", size=len(data), limit=MAX_BYTES)
                    continue
                yield classify(name, data, _stem(info.filename))
    except (OSError, zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
        yield _rejected(source, "bad_zip", error=str(exc) or exc.__class__.__name__)


def _expand(arg: str) -> list[Path] | None:
    """The files *arg* names, in order; None when it names nothing."""
    path = Path(arg).expanduser()
    if path.is_dir():
        found = []
        for root, dirs, files in os.walk(path):
            dirs.sort()
            found += [Path(root, f) for f in sorted(files) if f.lower().endswith((".json", ".zip"))]
        return found
    if path.exists():
        return [path]
    if _GLOB_CHARS & set(arg):
        matches = sorted(glob.glob(os.path.expanduser(arg), recursive=True))
        files = [Path(m) for m in matches if Path(m).is_file()]
        return files or None
    return None


def iter_sources(args: Iterable[str]) -> Iterator[Path | Item]:
    """Every input in order: a :class:`Path` for a JSON file still to read (:func:`read_file`), an
    :class:`Item` for a zip member (already read) or a rejected argument.  Each file once."""
    seen: set[object] = set()
    for arg in args:
        paths = _expand(arg)
        if paths is None:
            yield _rejected(arg, "missing")
            continue
        if not paths:
            yield _rejected(arg, "no_reports")
            continue
        for path in paths:
            try:
                st = path.stat()  # one system call; resolve() costs one per path component
                key: object = (st.st_dev, st.st_ino)
            except OSError:
                key = str(path)
            if key in seen:
                continue  # the same file named twice (a directory and a glob inside it)
            seen.add(key)
            if path.suffix.lower() == ".zip" or (path.suffix.lower() != ".json" and zipfile.is_zipfile(path)):
                yield from _read_zip(path)
            else:
                yield path


def iter_inputs(args: Iterable[str]) -> Iterator[Item]:
    """Every input file (zip members included), each read once, in the order given."""
    for source in iter_sources(args):
        yield read_file(source) if isinstance(source, Path) else source
