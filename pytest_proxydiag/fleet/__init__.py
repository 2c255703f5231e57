"""``proxydiag fleet REPORTS... [--html fleet.html] [--json fleet.json]``: one view over many machines.

Reads JSON reports (files, directories, globs, zip archives) one at a time
(:mod:`.loader`), keeps a few interned strings per host (:mod:`.aggregate`)
and writes one redacted aggregate as JSON and HTML (:mod:`.html`), with a
summary on the terminal.  Files that are not reports are listed with the
reason; nothing raises.  Exit status: 0 when at least one report or status
file was read, 1 when none was, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from pytest_proxydiag.catalog.fleet import DIMENSIONS, TEXT
from pytest_proxydiag.fleet.aggregate import Fleet, RunSummary, digest
from pytest_proxydiag.fleet.loader import Item, iter_sources, read_file

__all__ = ["main", "aggregate_reports", "default_workers", "write_private"]

#: Host names printed per group on the terminal.
_TERMINAL_HOSTS = 12


#: Below this many files one process is faster than starting workers.
_PARALLEL_FROM = 200
#: Usable cores from which worker processes pay off.  Measured with bench/bench_fleet.py --crossover on
#: a shared 2-core machine (10,000 reports): two workers cost 1.3-1.5x the CPU of one process (every
#: summary is pickled back to the aggregate) and were not reliably faster (8.2 and 10.4 s against 5.8
#: and 7.7 s; 7.9 against 8.8 s); pinned to one core, 1.4x slower.  With a core for the aggregate and
#: two for the workers they can pay.
_PARALLEL_CORES = 3
#: Files handed to the workers at a time: bounds what waits in memory between them and the aggregate.
_BATCH = 2048


def _digest_path(task: tuple[Path, str]) -> RunSummary | tuple[str, str]:
    """Worker: read one file and boil it down; only the small summary travels back."""
    path, host_from = task
    return digest(read_file(path), host_from)


def _batches(sources: Iterator[Path | Item]) -> Iterator[list[Path] | Item]:
    batch: list[Path] = []
    for source in sources:
        if isinstance(source, Path):
            batch.append(source)
            if len(batch) >= _BATCH:
                yield batch
                batch = []
            continue
        if batch:
            yield batch
            batch = []
        yield source
    if batch:
        yield batch


def aggregate_reports(inputs: Sequence[str], *, host_from: str = "hostname",
                      workers: int | None = None) -> dict[str, Any]:
    """The redacted aggregate document of *inputs* (paths, directories, globs, zips).

    JSON parsing is most of the work, so with enough files and cores they are
    read by *workers* processes (default: :func:`default_workers`); the
    aggregate itself and zip members stay in this process.  The result is the
    same either way.
    """
    fleet = Fleet(host_from=host_from)
    workers = workers if workers is not None else default_workers()
    pool: Any = None
    try:
        for part in _batches(iter_sources(inputs)):
            if isinstance(part, Item):
                fleet.take(digest(part, host_from))
                continue
            if pool is None and workers > 1 and len(part) >= min(_PARALLEL_FROM, _BATCH):
                pool = _start_pool(workers)
                workers = workers if pool is not None else 1
            tasks = [(path, host_from) for path in part]
            results = pool.imap(_digest_path, tasks, chunksize=16) if pool is not None else map(_digest_path, tasks)
            for result in results:
                fleet.take(result)
    except BaseException:
        if pool is not None:
            pool.terminate()  # Ctrl-C: the workers got it too; do not wait for their queues
            pool.join()
        raise
    if pool is not None:
        pool.close()
        pool.join()
    return fleet.result()


def usable_cores() -> int:
    """The cores this process may run on (its affinity where the OS tells it, else every core)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # macOS and Windows have no sched_getaffinity
        return os.cpu_count() or 1


def default_workers() -> int:
    """1 (read everything in this process) below :data:`_PARALLEL_CORES` usable cores; else one worker
    per core but the aggregate's, at most 4."""
    cores = usable_cores()
    return 1 if cores < _PARALLEL_CORES else min(cores - 1, 4)


def _start_pool(workers: int) -> Any:
    import multiprocessing

    # fork where it exists: the workers start in milliseconds with the package already imported.
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else None
    try:
        return multiprocessing.get_context(method).Pool(workers)
    except (OSError, ValueError):
        return None  # no processes here (a sandbox): one process reads everything


def write_private(path: str | os.PathLike, text: str) -> Path:
    """Write *text* atomically, mode 0600 (the aggregate maps the organisation's network)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, p)
    return p


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="proxydiag fleet",
        description="Aggregate many pytest-proxydiag JSON reports: per-step counts, hosts grouped by root cause "
                    "and what they share, verified fixes, and a timeline of hosts with several runs.")
    p.add_argument("reports", nargs="+", metavar="REPORTS",
                   help="JSON reports: files, directories (searched recursively), globs or zip archives")
    p.add_argument("--html", metavar="PATH", help="write the aggregate as a self-contained HTML page")
    p.add_argument("--json", metavar="PATH", help="write the aggregate as JSON")
    p.add_argument("--host-from", choices=("hostname", "file"), default="hostname",
                   help="name each host by the hostname inside its report (default) or by the report's file "
                        "name without .json (what examples/ansible fetches: the inventory name)")
    return p


def _terminal(doc: Mapping[str, Any]) -> str:
    t = doc["totals"]
    lines = [TEXT["summary"].format(hosts=t["hosts"], reports=t["reports"], healthy=t["healthy"],
                                    failing=t["failing"], not_assessed=t["not_assessed"], rejected=t["rejected"])]
    for group in doc["groups"]:
        head = f"ROOT CAUSE {group['root_cause']}" if group["kind"] == "root_cause" else group["kind"].upper()
        hosts = group["hosts"]
        names = ", ".join(hosts[:_TERMINAL_HOSTS]) + (f" … (+{len(hosts) - _TERMINAL_HOSTS})"
                                                       if len(hosts) > _TERMINAL_HOSTS else "")
        lines += ["", f"{head} — {group['title']}: {group['count']} host(s)", f"  {names}"]
        if group["common"]:
            lines.append("  all share: " + "; ".join(f"{DIMENSIONS.get(k, k)} {v}" for k, v in group["common"].items()))
    fixes = doc["fixes"]
    if fixes["fixed"] or fixes["verified"]:
        lines += ["", f"{len(fixes['fixed'])} fixed since an earlier run, "
                      f"{len(fixes['verified'])} with a verified fix, {len(fixes['failing'])} still failing"]
    if doc["rejected"]:
        lines += ["", TEXT["rejected"] + ":"]
        lines += [f"  {r['source']}: {r['reason']}" for r in doc["rejected"][:50]]
        if len(doc["rejected"]) > 50:
            lines.append(f"  … (+{len(doc['rejected']) - 50})")
    return "\n".join(lines)


def main(argv: Sequence[str]) -> int:
    """Entry point of ``proxydiag fleet``."""
    try:
        args = _parser().parse_args(list(argv))
    except SystemExit as exc:
        return int(exc.code or 0) if exc.code in (0, None) else 2
    doc = aggregate_reports(args.reports, host_from=args.host_from)
    print(_terminal(doc))
    try:
        if args.json:
            # Compact: json's C encoder only runs without indent (3 s saved at 10,000 hosts).
            path = write_private(args.json, json.dumps(doc, ensure_ascii=False) + "\n")
            print(TEXT["written"].format(kind="JSON aggregate", path=path))
        if args.html:
            from pytest_proxydiag.fleet.html import render

            path = write_private(args.html, render(doc))
            print(TEXT["written"].format(kind="HTML aggregate", path=path))
    except OSError as exc:
        print(f"proxydiag fleet: cannot write the aggregate: {exc}")
        return 1
    if doc["totals"]["hosts"] == 0:
        print(TEXT["no_input"].format(inputs=" ".join(args.reports)))
        return 1
    return 0
