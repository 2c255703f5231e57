"""Proven fixes (issue 11): what verification with the real clients costs, side by side with none.

    python bench/bench_fixes.py [--rounds N] [--scenarios a,b,...]

For each lab scenario the whole diagnosis runs with ``--proxydiag-clients auto``
and with ``--proxydiag-clients none``, alternating, N rounds each.  Printed:

* wall time of both, the added time, and the added time per failed step that
  carries a fix (target: at most one ``--proxydiag-timeout`` per failed step);
* the verification time each fix recorded (``fix.seconds``), and per client the
  seconds of its "before" and "after" runs (all clients run in parallel);
* a healthy scenario, where nothing fails: the added time must be noise (no client runs).

Claude Code is used when ``PROXYDIAG_CLAUDE`` or PATH provides it (default:
.ci/install-claude.sh's /opt/proxydiag-claude).  Nothing leaves loopback.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from pytest_proxydiag.proof.fixes import baseline_trust
from pytest_proxydiag.lab import Lab

DEFAULT_CLAUDE = "/opt/proxydiag-claude/node_modules/.bin/claude"
SCENARIOS = ("healthy", "ssl-bump-untrusted", "wrong-port", "no-proxy-provider", "special-chars-password")
CLEAN = {k: v for k, v in os.environ.items()
         if "proxy" not in k.lower() and not k.endswith(("_CA_BUNDLE", "CERT_FILE", "CERT_DIR"))
         and k not in ("NODE_EXTRA_CA_CERTS", "PYTEST_ADDOPTS") and not k.startswith("ANTHROPIC_")}


def run_diag(lab: Lab, clients: str, workdir: Path, env_extra: dict[str, str]) -> tuple[float, dict]:
    env = dict(CLEAN, **lab.env, **env_extra, HOME=str(workdir))
    if not env.get("PROXYDIAG_CLAUDE") and os.access(DEFAULT_CLAUDE, os.X_OK):
        env["PROXYDIAG_CLAUDE"] = DEFAULT_CLAUDE
    report = workdir / f"report-{clients}.json"
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--proxydiag",
                           "--proxydiag-json", str(report), "--proxydiag-clients", clients, *lab.pytest_args],
                          cwd=workdir, env=env, capture_output=True, text=True, timeout=300)
    elapsed = time.perf_counter() - start
    if not report.exists():
        raise SystemExit(f"no report ({proc.returncode}):\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return elapsed, json.loads(report.read_text())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    args = ap.parse_args()
    per_client: dict[str, list[float]] = defaultdict(list)
    rows = []
    for name in args.scenarios.split(","):
        with Lab(name) as lab, tempfile.TemporaryDirectory(prefix="bench-fixes-") as tmp:
            # The lab's public roots stand in for the machine's store in the diagnosis's own clients too.
            extra = {} if name != "healthy" else baseline_trust(lab.public_roots)
            times = {"auto": [], "none": []}
            fixes_seen, fix_seconds, timeout = 0, [], 5.0
            for _ in range(args.rounds):
                for mode in ("auto", "none"):
                    elapsed, doc = run_diag(lab, mode, Path(tmp), extra)
                    times[mode].append(elapsed)
                    if mode == "auto":
                        proven = [s["fix"] for s in doc["steps"] if s["outcome"] == "failed" and s.get("fix")]
                        fixes_seen = len(proven)
                        for fix in proven:
                            fix_seconds.append(float(fix.get("seconds") or 0))
                            for c in fix.get("clients") or []:
                                client = c["client"].split(" ")[0]
                                per_client[f"{client} (before)"].append(c["before_seconds"])
                                per_client[f"{client} (after)"].append(c["after_seconds"])
                        cfg = doc.get("config", {}).get("timeout", {})
                        timeout = float(cfg.get("value", timeout)) if isinstance(cfg, dict) else timeout
            auto, none = statistics.median(times["auto"]), statistics.median(times["none"])
            added = auto - none
            per_step = added / fixes_seen if fixes_seen else 0.0
            rows.append((name, none, auto, added, fixes_seen, per_step,
                         max(fix_seconds) if fix_seconds else 0.0, timeout))
    print(f"{'scenario':26} {'none s':>7} {'auto s':>7} {'added s':>8} {'fixes':>5} {'added/fix':>9} "
          f"{'max verify':>10} {'timeout':>7}  ratio")
    for name, none, auto, added, n, per_step, worst, timeout in rows:
        ok = "ok" if worst <= timeout + 1.5 else "OVER ONE TIMEOUT"
        print(f"{name:26} {none:7.2f} {auto:7.2f} {added:+8.2f} {n:5d} {per_step:9.2f} {worst:10.2f} "
              f"{timeout:7.1f}  {auto / none:.2f}x {ok}")
    print("\nper client (seconds per run, median / max over every verified fix; clients run in parallel):")
    for client, values in sorted(per_client.items()):
        print(f"  {client:22} {statistics.median(values):6.3f} / {max(values):6.3f}  (n={len(values)})")


if __name__ == "__main__":
    main()
