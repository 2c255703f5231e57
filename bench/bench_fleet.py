"""Fleet aggregate at scale (issue #19): 10,000 reports in < 10 s wall and < 200 MB peak on 2 cores.

    python bench/bench_fleet.py [--reports N] [--from DIR] [--keep DIR]

The reports are real lab JSON (``proxydiag demo SCENARIO --out DIR`` wrote
tests/data/fleet/*.json; ``--from DIR`` takes any directory of reports instead),
copied with varied hosts: host names, start times, proxies, OS, Node and Claude
Code versions and NO_PROXY values, and a second run for a third of the hosts
(before/after a rollout, so the timeline is built too).

Measured in the same run, each in a child process (peak memory: the largest process's
ru_maxrss from wait4, and the sum over the child and its worker processes sampled from /proc
every 50 ms; the target applies to the larger), after one warm-up read of every file:

1. baseline: ``python -c 'import json'`` loading every file once;
2. ``proxydiag fleet DIR --json ... --html ...`` as a user runs it (one process below 3 usable cores,
   else worker processes: ``pytest_proxydiag.fleet.default_workers``);
3. with ``--crossover``: the same aggregate forced to one process and to two worker processes, the
   measurement behind that default.

Prints wall time, peak memory and the ratio fleet / baseline; exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "tests" / "data" / "fleet"
TARGET_SECONDS, TARGET_MB = 10.0, 200.0

#: ``proxydiag fleet`` with the number of worker processes forced (argv[1]), for --crossover.
FORCED = ("import functools, sys\n"
          "from pytest_proxydiag import fleet\n"
          "fleet.aggregate_reports = functools.partial(fleet.aggregate_reports, workers=int(sys.argv[1]))\n"
          "sys.exit(fleet.main(sys.argv[2:]))\n")

BASELINE = ("import json, sys\n"
            "for path in open(sys.argv[1], encoding='utf-8').read().split('\\n'):\n"
            "    with open(path, 'rb') as f:\n"
            "        json.load(f)\n")

PROXIES = [f"http://proxy{i}.corp.example:{port}" for i, port in enumerate((8080, 3128, 8080, 3128, 8443))]
OSES = ["Debian GNU/Linux 12 (bookworm)", "Ubuntu 24.04.1 LTS", "macOS 14.6.1", "macOS 15.1",
        "Windows 11 Enterprise 23H2", "Red Hat Enterprise Linux 9.4 (Plow)"]
NODES = ["18.20.4", "20.18.0", "22.11.0", "not installed"]
CLAUDES = ["2.0.14 (Claude Code)", "2.0.31 (Claude Code)", "1.0.128 (Claude Code)"]
NO_PROXIES = [None, "localhost,127.0.0.1", "localhost,127.0.0.1,.corp.example"]


def load_samples(source: Path) -> list[dict]:
    docs = []
    for path in sorted(source.rglob("*.json")):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(doc, dict) and doc.get("schema") == 1 and isinstance(doc.get("steps"), list):
            docs.append(doc)
    if not docs:
        raise SystemExit(f"no pytest-proxydiag reports in {source}; run `proxydiag demo SCENARIO --out DIR`")
    return docs


def vary(doc: dict, rng: random.Random, host: str, started: str) -> dict:
    """One host's report: the sample's steps and evidence, this host's identity and surroundings."""
    doc["run"]["host"]["hostname"] = host
    doc["run"]["started"] = started
    doc["config"]["proxy"]["value"] = rng.choice(PROXIES)
    doc["config"]["no_proxy"] = {"value": rng.choice(NO_PROXIES), "source": "env:NO_PROXY"}
    for step in doc["steps"]:
        versions = step.get("evidence", {}).get("versions") if isinstance(step.get("evidence"), dict) else None
        if isinstance(versions, dict):
            versions["os"] = rng.choice(OSES)
            versions["node"] = rng.choice(NODES)
            versions["claude"] = rng.choice(CLAUDES)
    return doc


def generate(samples: list[dict], count: int, out: Path, seed: int = 19) -> list[Path]:
    """*count* report files under *out*: two thirds first runs, one third second runs of the same hosts."""
    rng = random.Random(seed)
    hosts = max(1, count * 3 // 4)
    texts = [json.dumps(s) for s in samples]
    paths = []
    for i in range(count):
        host_no = i if i < hosts else rng.randrange(hosts)
        day = 1 if i < hosts else 8
        doc = vary(json.loads(rng.choice(texts)), rng, f"dev-{host_no:05d}.corp.example",
                   f"2026-11-{day:02d}T{9 + i % 9:02d}:{i % 60:02d}:{(i // 60) % 60:02d}Z")
        sub = out / ("before" if i < hosts else "after") / f"{i // 1000:02d}"
        sub.mkdir(parents=True, exist_ok=True)
        path = sub / f"r{i:05d}.json"
        path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
        paths.append(path)
    return paths


def _tree_rss_mb(root: int) -> float:
    """Resident memory of *root* and every descendant (the fleet's worker processes), from /proc."""
    total_kb, frontier, seen = 0, [root], set()
    while frontier:
        pid = frontier.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as f:
                total_kb += next((int(line.split()[1]) for line in f if line.startswith("VmRSS:")), 0)
            for task in os.scandir(f"/proc/{pid}/task"):
                with open(f"{task.path}/children", encoding="ascii") as f:
                    frontier += [int(c) for c in f.read().split()]
        except (OSError, ValueError):
            continue
    return total_kb / 1024


def measure(cmd: list[str]) -> tuple[float, float, float, float, int]:
    """(wall seconds, CPU seconds (user + system, worker processes included), peak RSS of the largest
    process in MB, peak RSS of all its processes together in MB sampled every 100 ms, exit status)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=dict(os.environ,
                            PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))))
    tree_peak = [0.0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.1):
            tree_peak[0] = max(tree_peak[0], _tree_rss_mb(proc.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        print(f"{' '.join(cmd[:4])} ... exited {proc.returncode}: {err[-2000:]}", file=sys.stderr)
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, tree_peak[0], proc.returncode


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--reports", type=int, default=10_000)
    p.add_argument("--from", dest="source", type=Path, default=SAMPLES, help="directory of real reports")
    p.add_argument("--keep", type=Path, help="write the reports and the aggregate here and keep them")
    p.add_argument("--crossover", action="store_true",
                   help="also time one process against two worker processes (what the default is chosen by)")
    args = p.parse_args()
    samples = load_samples(args.source)
    with tempfile.TemporaryDirectory(prefix="proxydiag-bench-fleet-") as scratch:
        work = args.keep or Path(scratch)
        reports = work / "reports"
        t0 = time.perf_counter()
        paths = generate(samples, args.reports, reports)
        size = sum(p.stat().st_size for p in paths)
        print(f"{len(paths)} reports from {len(samples)} real lab reports, {size / 1e6:.0f} MB, "
              f"generated in {time.perf_counter() - t0:.1f} s")
        listing = work / "files.txt"
        listing.write_text("\n".join(map(str, paths)), encoding="utf-8")
        for path in paths:  # warm-up: both measurements read from the page cache
            path.read_bytes()
        load_before = os.getloadavg()[0]
        base_wall, base_cpu, base_mb, _, base_rc = measure([sys.executable, "-c", BASELINE, str(listing)])
        fleet_cmd = [sys.executable, "-m", "pytest_proxydiag.cli", "fleet", str(reports),
                     "--json", str(work / "fleet.json"), "--html", str(work / "fleet.html")]
        fleet_wall, fleet_cpu, fleet_mb, fleet_tree_mb, fleet_rc = measure(fleet_cmd)
        agg = json.loads((work / "fleet.json").read_text()) if fleet_rc == 0 else {}
        forced = {}
        for workers in ((1, 2) if args.crossover else ()):
            forced[workers] = measure([sys.executable, "-c", FORCED, str(workers), *fleet_cmd[3:]])
    totals = agg.get("totals", {})
    print(f"machine load average before: {load_before:.1f} on {os.cpu_count()} CPUs "
          f"(wall times grow with it; CPU seconds do not)")
    print(f"baseline json.load of every file:  {base_wall:6.2f} s wall  {base_cpu:6.2f} s CPU  peak {base_mb:6.1f} MB")
    print(f"proxydiag fleet (JSON + HTML):     {fleet_wall:6.2f} s wall  {fleet_cpu:6.2f} s CPU  "
          f"peak {fleet_mb:6.1f} MB")
    print(f"  ratio to the baseline: {fleet_wall / base_wall:.2f}x wall, {fleet_cpu / max(base_cpu, 1e-9):.2f}x CPU")
    from pytest_proxydiag.fleet import default_workers, usable_cores

    workers = default_workers()
    print(f"  {usable_cores()} usable cores: " + ("one process" if workers == 1 else f"main + {workers} workers") +
          f"; all its processes together (sampled): peak {fleet_tree_mb:.1f} MB")
    for n, (wall, cpu, mb, tree_mb, _rc) in forced.items():
        label = "forced to one process:" if n == 1 else f"forced to {n} worker processes:"
        print(f"  {label:33s}  {wall:6.2f} s wall  {cpu:6.2f} s CPU  peak {max(mb, tree_mb):6.1f} MB (all processes)")
    print(f"aggregate: {totals.get('hosts')} hosts, {totals.get('reports')} reports, "
          f"{len(agg.get('groups', []))} groups, {len(agg.get('timeline', []))} hosts with a timeline, "
          f"{totals.get('rejected')} rejected")
    ok = fleet_rc == 0 and base_rc == 0 and totals.get("reports") == args.reports
    ok = ok and fleet_wall < TARGET_SECONDS and max(fleet_mb, fleet_tree_mb) < TARGET_MB
    print(f"targets (< {TARGET_SECONDS:.0f} s, < {TARGET_MB:.0f} MB, every report read): "
          f"{'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
