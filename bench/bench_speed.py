"""The whole diagnosis as a new user runs it, against a plain ``pytest --co`` in the same run (issue #15).

    python bench/bench_speed.py [--rounds N]

Measured side by side, interleaved so machine noise hits every case alike:

* ``pytest --co -q`` of the bundled steps: what pytest itself costs on this machine (start-up,
  plugin loading, collection);
* every step against the lab's healthy scenario, with the real clients proving fixes (``auto``)
  and without them (``--proxydiag-clients none``);
* every step against a blackholed proxy with ``--proxydiag-timeout 2``.

Printed: each median, its ratio to ``pytest --co``, and what the diagnosis adds on top of it.
Targets: healthy with proofs adds at most 1.5 s; blackholed adds at most timeout + 1.5 s.
Claude Code is used when it is on PATH (``.ci/install-claude.sh`` installs it); nothing leaves loopback.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pytest_proxydiag.cli import clean_environment
from pytest_proxydiag.lab import Lab

TIMEOUT = 2.0


def timed(args: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds of pytest and every process it waited for: clients, SDK runs)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=600)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"pytest {' '.join(args)} exited {proc.returncode}:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return elapsed, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    samples: dict[str, list[tuple[float, float]]] = {"collect": [], "healthy": [], "healthy_no_clients": [],
                                                     "blackholed": []}
    with tempfile.TemporaryDirectory() as tmp, Lab("healthy") as healthy, Lab("proxy-blackholed") as dead:
        work = Path(tmp)
        home = work / "home"
        home.mkdir()
        base = dict(clean_environment(os.environ), HOME=str(home))
        for _ in range(rounds):
            samples["collect"].append(timed(["--proxydiag", "--co", *healthy.pytest_args], dict(base, **healthy.env),
                                            work))
            samples["healthy"].append(timed(["--proxydiag", *healthy.pytest_args], dict(base, **healthy.env), work))
            samples["healthy_no_clients"].append(timed(["--proxydiag", "--proxydiag-clients", "none",
                                                        *healthy.pytest_args], dict(base, **healthy.env), work))
            args = [a for a in dead.pytest_args]
            samples["blackholed"].append(timed(["--proxydiag", *args, "--proxydiag-timeout", str(TIMEOUT)],
                                               dict(base, **dead.env), work))
    med = {k: statistics.median(w for w, _c in v) for k, v in samples.items()}
    cpu = {k: statistics.median(c for _w, c in v) for k, v in samples.items()}
    co = med["collect"]
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (wall times grow with it; CPU seconds "
          f"much less)")
    print(f"pytest --co (bundled steps):        {co:.2f} s (median of {rounds}), {cpu['collect']:.2f} s CPU")
    for key, label, budget in (("healthy", "healthy, every step, proofs on", 1.5),
                               ("healthy_no_clients", "healthy, every step, --clients none", 1.5),
                               ("blackholed", f"blackholed proxy, timeout {TIMEOUT:g} s", TIMEOUT + 1.5)):
        added = med[key] - co
        verdict = "OK" if added <= budget else "OVER"
        print(f"{label:36s} {med[key]:.2f} s = {med[key] / co:.2f} x pytest --co; adds {added:.2f} s "
              f"(target <= {budget:g} s) -> {verdict}; CPU adds {cpu[key] - cpu['collect']:.2f} s")


if __name__ == "__main__":
    main()
