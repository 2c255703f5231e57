"""Where the redaction layer is wired into pytest's own outputs.

The step results are redacted when they are made (see :mod:`.step`); this
module covers what pytest itself prints and writes for *every* test of the
run, site tests and user tests included:

* test reports (tracebacks, assertion-rewriting explanations, ``-l`` locals,
  captured stdout/stderr/log sections) are redacted in place, keeping their
  structure so the terminal still colours them and the short summary still
  shows the one-line reason;
* the terminal writer masks anything that reaches it anyway (live logging
  with ``log_cli``, other plugins' summaries, the header);
* the logging handlers pytest installs (live, captured, ``--log-file``) get
  a filter that masks each record before it is formatted;
* pytest-metadata's environment table (shown by pytest-html) is redacted;
* files written by other plugins (pytest-html, junitxml) are scrubbed of the
  known secrets once they are written: a last net, never the first.

Printing with ``-s`` (no capture) bypasses pytest entirely; nothing can
redact that, and the diagnosis itself never prints.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path
from typing import Any, Callable

from pytest_proxydiag.core.redact import Redactor

__all__ = ["redact_report", "guard_terminal", "guard_logging", "redact_metadata", "scrub_file"]

_MAX_DEPTH = 8


def _redact_value(value: Any, red: Callable[[str], str], depth: int, seen: set[int]) -> Any:
    if isinstance(value, str):
        return red(value)
    if depth > _MAX_DEPTH or value is None or isinstance(value, (int, float, bool, bytes)):
        return value
    if isinstance(value, list):
        return [_redact_value(v, red, depth + 1, seen) for v in value]
    if isinstance(value, tuple):
        return tuple(_redact_value(v, red, depth + 1, seen) for v in value)
    if isinstance(value, dict):
        return {k: _redact_value(v, red, depth + 1, seen) for k, v in value.items()}
    _redact_attrs(value, red, depth + 1, seen)
    return value


def _redact_attrs(obj: Any, red: Callable[[str], str], depth: int, seen: set[int]) -> None:
    """Redact the string attributes of a TerminalRepr tree (dataclasses of strings and lists)."""
    if id(obj) in seen or depth > _MAX_DEPTH:
        return
    seen.add(id(obj))
    fields = [f.name for f in dataclasses.fields(obj)] if dataclasses.is_dataclass(obj) else \
        list(getattr(obj, "__dict__", {}))
    for name in fields:
        try:
            value = getattr(obj, name)
        except AttributeError:
            continue
        new = _redact_value(value, red, depth, seen)
        if new is not value:
            try:
                object.__setattr__(obj, name, new)
            except (AttributeError, TypeError):  # pragma: no cover - slots or frozen beyond reach
                pass


def redact_report(report: Any, redactor: Redactor) -> None:
    """Redact a TestReport/CollectReport in place (longrepr, sections, user properties)."""
    red = redactor.redact
    longrepr = getattr(report, "longrepr", None)
    if isinstance(longrepr, str):
        report.longrepr = red(longrepr)
    elif isinstance(longrepr, tuple) and len(longrepr) == 3:
        path, lineno, msg = longrepr
        report.longrepr = (path, lineno, red(msg))
    elif longrepr is not None:
        try:
            _redact_attrs(longrepr, red, 0, set())
        except Exception:  # noqa: BLE001 - an unknown repr type: fall back to its redacted text
            report.longrepr = red(str(longrepr))
    report.sections = [(name, red(content)) for name, content in getattr(report, "sections", [])]
    props = getattr(report, "user_properties", None)
    if props:
        report.user_properties = [(name, red(v) if isinstance(v, str) else v) for name, v in props]


def guard_terminal(terminalreporter: Any, redactor: Redactor) -> Callable[[], None]:
    """Mask secrets in everything the terminal writer prints; returns the undo function."""
    tw = getattr(terminalreporter, "_tw", None)
    if tw is None or getattr(tw, "_proxydiag_guarded", False):
        return lambda: None
    original = tw.write

    def write(msg: str, *, flush: bool = False, **markup: bool) -> None:
        original(redactor.redact(msg) if isinstance(msg, str) else msg, flush=flush, **markup)

    tw.write = write
    tw._proxydiag_guarded = True

    def undo() -> None:
        try:
            del tw.write
            tw._proxydiag_guarded = False
        except AttributeError:  # pragma: no cover
            pass

    return undo


class RedactingFilter(logging.Filter):
    """Masks a record's message (and exception text) before any handler formats it."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__("proxydiag-redact")
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string: keep the raw template
            message = str(record.msg)
        record.msg, record.args = self.redactor.redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redactor.redact(record.exc_text)
            # Handlers format exc_info again unless exc_text is set and exc_info is gone.
            record.exc_info = None
        if record.stack_info:
            record.stack_info = self.redactor.redact(record.stack_info)
        return True


def guard_logging(config: Any, redactor: Redactor) -> Callable[[], None]:
    """Add the redacting filter to every handler of pytest's logging plugin."""
    plugin = config.pluginmanager.get_plugin("logging-plugin")
    if plugin is None:
        return lambda: None
    flt = RedactingFilter(redactor)
    handlers = [getattr(plugin, name, None) for name in
                ("caplog_handler", "report_handler", "log_cli_handler", "log_file_handler")]
    handlers = [h for h in handlers if isinstance(h, logging.Handler)]
    for h in handlers:
        h.addFilter(flt)

    def undo() -> None:
        for h in handlers:
            h.removeFilter(flt)

    return undo


def redact_metadata(config: Any, redactor: Redactor) -> None:
    """Redact pytest-metadata's dict in place (pytest-html prints it as the Environment table)."""
    try:
        from pytest_metadata.plugin import metadata_key
    except ImportError:
        return
    metadata = config.stash.get(metadata_key, None)
    if isinstance(metadata, dict):
        clean = redactor.redact_obj(metadata)
        metadata.clear()
        metadata.update(clean)


def scrub_file(path: str | os.PathLike | None, redactor: Redactor) -> bool:
    """Mask known secrets in a file another plugin wrote; True when something was masked.

    Only the known values are replaced (never the patterns), so HTML and XML
    keep their structure; the file keeps its mode.
    """
    if not path:
        return False
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    clean = redactor.redact_known(text)
    if clean == text:
        return False
    tmp = p.with_name(p.name + ".proxydiag-tmp")
    mode = p.stat().st_mode & 0o777
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(clean)
    os.replace(tmp, p)
    return True
