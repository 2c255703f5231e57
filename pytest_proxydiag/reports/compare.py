"""``--proxydiag-compare PATH.json``: what changed since an earlier run (or on another machine).

Both sides are JSON documents (schema 1), so a run from a colleague's
machine where it works compares as well as one from before a change.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterator, Mapping

__all__ = ["load_previous", "compare"]

#: Evidence fields worth showing when they differ (the rest is noise between runs).
_INTERESTING = re.compile(r"(issuer|subject|status|proxy|cause|error|squid|version|verified|ok$|"
                          r"timing|seconds|total|connect|first_byte|tls|latency|address)", re.I)
_TIMING = re.compile(r"(timing|seconds|total|first_byte|latency|elapsed|connect$|tls$|resolve$|proxy_reply$)",
                     re.I)


def load_previous(path: str | None) -> tuple[dict[str, Any] | None, str | None]:
    """The earlier document, or None and why it cannot be used (never raises)."""
    if not path:
        return None, None
    try:
        doc = json.loads(Path(path).expanduser().read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return None, f"cannot read {path}: {exc}"
    if not isinstance(doc, dict) or not isinstance(doc.get("steps"), list):
        return None, f"{path} is not a pytest-proxydiag JSON report"
    if doc.get("schema") != 1:
        return None, f"{path} has schema {doc.get('schema')!r}; this version reads schema 1"
    return doc, None


def _key(step: Mapping[str, Any]) -> str:
    params = step.get("params") or {}
    return str(step.get("id")) + ("[" + ",".join(f"{v}" for v in params.values()) + "]" if params else "")


def _flatten(obj: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(obj, Mapping):
        for k, v in obj.items():
            yield from _flatten(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(obj, list) and any(isinstance(v, (Mapping, list)) for v in obj):
        for i, v in enumerate(obj):
            yield from _flatten(v, f"{prefix}[{i}]")
    else:
        yield prefix, obj


def _differs(name: str, before: Any, after: Any) -> bool:
    if before == after:
        return False
    if _TIMING.search(name.rsplit(".", 1)[-1]) and isinstance(before, (int, float)) \
            and isinstance(after, (int, float)) and not isinstance(before, bool):
        # Timings always jitter: a change counts when it is both large and relative.
        return abs(after - before) >= 0.1 and abs(after - before) >= 0.3 * max(abs(before), abs(after))
    return True


def compare(previous: Mapping[str, Any], current: Mapping[str, Any], source: str = "") -> dict[str, Any]:
    """Steps whose outcome changed, evidence that differs, configuration that differs."""
    before = {_key(s): s for s in previous.get("steps") or []}
    after = {_key(s): s for s in current.get("steps") or []}
    # Runs against different target URLs (another machine, another port) still compare step by
    # step when a step ran once on each side.
    ids_b = [s.get("id") for s in before.values()]
    ids_a = [s.get("id") for s in after.values()]
    for key, step in list(after.items()):
        if key not in before and ids_a.count(step.get("id")) == 1 and ids_b.count(step.get("id")) == 1:
            old_key = next(k for k, s in before.items() if s.get("id") == step.get("id"))
            if old_key not in after:
                before[key] = before.pop(old_key)
    changed, evidence = [], []
    for key, now in after.items():
        then = before.get(key)
        if then is None:
            continue
        if then.get("outcome") != now.get("outcome"):
            changed.append({"step": key, "title": now.get("title"), "before": then.get("outcome"),
                            "after": now.get("outcome"), "finding_before": then.get("finding"),
                            "finding_after": now.get("finding")})
        a = dict(_flatten(then.get("evidence") or {}))
        b = dict(_flatten(now.get("evidence") or {}))
        for name in sorted(set(a) | set(b)):
            if _INTERESTING.search(name) and _differs(name, a.get(name), b.get(name)):
                evidence.append({"step": key, "field": name, "before": a.get(name), "after": b.get(name)})
    config = []
    cb, ca = previous.get("config") or {}, current.get("config") or {}
    for name in ("proxy", "targets", "gateway", "no_proxy", "proxy_env"):
        if cb.get(name) != ca.get(name):
            config.append({"field": name, "before": cb.get(name), "after": ca.get(name)})
    pr, cr = previous.get("run") or {}, current.get("run") or {}
    for name in ("os", "hostname", "python"):
        b_, a_ = (pr.get("host") or {}).get(name), (cr.get("host") or {}).get(name)
        if b_ != a_:
            config.append({"field": f"host.{name}", "before": b_, "after": a_})
    return {
        "source": source,
        "previous": {"started": pr.get("started"), "hostname": (pr.get("host") or {}).get("hostname"),
                     "root_cause": previous.get("root_cause"), "counts": previous.get("counts")},
        "root_cause_before": previous.get("root_cause"),
        "root_cause_after": current.get("root_cause"),
        "changed": changed,
        "evidence": evidence[:80],
        "config": config,
        "only_before": sorted(set(before) - set(after)),
        "only_after": sorted(set(after) - set(before)),
    }
