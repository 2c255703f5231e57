"""Core benchmarks (issue #3), measured side by side in one run and printed as ratios.

    python bench/bench_core.py [--rounds N]

1. Full diagnosis (auth + connectivity steps) against a healthy local Squid: target < 3 s wall.
2. A blackholed proxy with --proxydiag-timeout 2: whole run < 8 s wall.
3. Dormant overhead: an unrelated 300-test suite with the plugin installed vs `-p no:proxydiag`:
   ratio <= 1.03.

Every proxy comes from the lab (pytest_proxydiag.lab); nothing leaves loopback.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pytest_proxydiag.lab import Lab

CLEAN = {k: v for k, v in os.environ.items()
         if "proxy" not in k.lower() and not k.endswith(("_CA_BUNDLE", "CERT_FILE", "CERT_DIR"))
         and k not in ("NODE_EXTRA_CA_CERTS", "PYTEST_ADDOPTS")}


def run_pytest(args: list[str], env: dict[str, str], cwd: Path) -> tuple[float, int]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"pytest {' '.join(args)} exited {proc.returncode}:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return elapsed, proc.returncode


def diagnosis(scenario: str, rounds: int, markers: str, home: Path, work: Path) -> list[float]:
    times = []
    with Lab(scenario) as lab:
        env = dict(CLEAN, HOME=str(home), **lab.env)
        for _ in range(rounds):
            t, _rc = run_pytest(["--proxydiag", "-m", markers, *lab.pytest_args], env, work)
            times.append(t)
    return times


def dormant(rounds: int, work: Path) -> tuple[list[float], list[float]]:
    suite = work / "unrelated"
    suite.mkdir()
    for i in range(30):
        (suite / f"test_mod{i}.py").write_text("\n".join(f"def test_{j}():\n    assert {j} == {j}\n" for j in range(10)))
    env = dict(CLEAN, HOME=str(work))
    with_plugin, without = [], []
    for _ in range(rounds):  # interleaved, so machine noise hits both alike
        with_plugin.append(run_pytest([str(suite)], env, work)[0])
        without.append(run_pytest(["-p", "no:proxydiag", str(suite)], env, work)[0])
    return with_plugin, without


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        home = work / "home"
        home.mkdir()
        markers = "auth or connectivity"
        healthy = diagnosis("healthy", args.rounds, markers, home, work)
        blackholed = diagnosis("proxy-blackholed", max(1, args.rounds // 2), markers, home, work)
        with_p, without_p = dormant(args.rounds * 2, work)
    med = statistics.median
    print(f"healthy squid, auth+connectivity:   median {med(healthy):.2f} s wall "
          f"(min {min(healthy):.2f}, max {max(healthy):.2f}; target < 3 s) -> {'OK' if med(healthy) < 3 else 'OVER'}")
    print(f"blackholed proxy, timeout 2 s:      median {med(blackholed):.2f} s wall "
          f"(max {max(blackholed):.2f}; target < 8 s) -> {'OK' if max(blackholed) < 8 else 'OVER'}")
    ratio = med(with_p) / med(without_p)
    print(f"dormant plugin, 300 unrelated tests: {med(with_p):.3f} s vs {med(without_p):.3f} s with -p no:proxydiag "
          f"-> ratio {ratio:.3f} (target <= 1.03) -> {'OK' if ratio <= 1.03 else 'OVER'}")


if __name__ == "__main__":
    main()
