"""The JSON document (schema 1) every other report is rendered from.

Field by field documentation: ``docs/json-schema.md``; the JSON Schema:
``pytest_proxydiag/report.schema.json`` (:func:`schema`).  The document is
redacted as a whole before anything renders or writes it.
"""

from __future__ import annotations

import json
import os
import platform
import socket
import sys
import time
from pathlib import Path
from typing import Any

from pytest_proxydiag import __version__, catalog
from pytest_proxydiag.reports.compare import compare, load_previous
from pytest_proxydiag.reports.facts import decision_path, it_facts
from pytest_proxydiag.core.results import counts, ordered, root_cause
from pytest_proxydiag.core.state import RunState

__all__ = ["JSON_SCHEMA_VERSION", "build_document", "write_json", "schema", "SCHEMA_PATH"]

JSON_SCHEMA_VERSION = 1
SCHEMA_PATH = Path(__file__).with_name("report.schema.json")


def schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the document."""
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def build_document(state: RunState, exitstatus: int | None = None) -> dict[str, Any]:
    """The JSON document (schema 1): tool, run, config with sources, steps, root cause, IT facts."""
    results = ordered(state.results)
    rc = root_cause(results)
    red = state.redactor
    s = state.settings
    doc: dict[str, Any] = {
        "schema": JSON_SCHEMA_VERSION,
        "tool": {"name": "pytest-proxydiag", "version": __version__},
        "run": {
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(state.started_wall)),
            "duration_s": round(time.monotonic() - state.started, 3),
            "host": {"os": platform.platform(), "platform": catalog.platform_key(),
                     "hostname": socket.gethostname(), "python": sys.version.split()[0],
                     "shell": os.path.basename(os.environ.get("SHELL", "") or "")},
            "exitstatus": exitstatus,
            "requests_sent": state.probes.requests_sent,
        },
        "config": s.as_report(red.redact),
        "notes": state.notes,
        "steps": [r.to_json() for r in results],
        "counts": dict(counts(results)),
        "root_cause": rc.step_id if rc else None,
        "decision_path": decision_path(results, rc.step_id if rc else None),
        "for_it": it_facts(results, list(state.probes.log), s.targets, s.gateway.value, rc),
        "artifacts": state.artifacts,
    }
    doc = red.redact_obj(doc)
    previous, problem = load_previous(s["compare"])
    if previous is not None:
        doc["comparison"] = red.redact_obj(compare(previous, doc, source=str(s["compare"])))
    elif problem:
        doc["comparison"] = {"source": red.redact(str(s["compare"])), "error": red.redact(problem)}
    return doc


def write_json(path: str | os.PathLike, doc: dict[str, Any]) -> Path:
    """Write *doc* atomically, mode 0600 (it describes this machine's network)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2, ensure_ascii=False, default=str)
        f.write("\n")
    os.replace(tmp, p)
    return p
