"""Time bounds of issue #9, measured side by side in one run.

    python bench/bench_reliability.py [--rounds N]

1. A blackholed proxy with 5 targets and --proxydiag-timeout 2: wall time <= 2 x timeout + 3 s.
2. Every step selected against a healthy proxy (clients on and off, side by side).
3. Each hostile scripted proxy: wall time of the full auth+connectivity diagnosis.
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
TIMEOUT = 2.0


def run(args, env, cwd) -> float:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--proxydiag", *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"exit {proc.returncode}: {proc.stdout[-2000:]}{proc.stderr[-1000:]}")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    med = statistics.median
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        env0 = dict(CLEAN, HOME=str(work))
        with Lab("proxy-blackholed") as lab:
            targets = [a for t in ("api.anthropic.com", "bedrock-runtime.us-east-1.amazonaws.com",
                                   "us-central1-aiplatform.googleapis.com", "api.anthropic.com:8443",
                                   "bedrock-runtime.eu-west-1.amazonaws.com")
                       for a in ("--proxydiag-target", f"https://{t}")]
            env = dict(env0, **lab.env)
            black = [run([*targets, "--proxydiag-timeout", str(TIMEOUT), "--proxydiag-no-direct",
                          "--proxydiag-clients", "none"], env, work) for _ in range(rounds)]
        bound = 2 * TIMEOUT + 3
        print(f"blackholed proxy, 5 targets, every step, timeout {TIMEOUT:g}s: median {med(black):.2f} s, "
              f"max {max(black):.2f} s (bound {bound:g} s) -> {'OK' if max(black) <= bound else 'OVER'}")
        with Lab("healthy") as lab:
            env = dict(env0, **lab.env)
            none = [run([*lab.pytest_args, "--proxydiag-clients", "none"], env, work) for _ in range(rounds)]
            auto = [run([*lab.pytest_args], env, work) for _ in range(rounds)]
        print(f"healthy proxy, every step: median {med(none):.2f} s with --proxydiag-clients none, "
              f"{med(auto):.2f} s with clients auto (ratio {med(auto) / med(none):.2f}; nothing failed, so no "
              f"client should run)")
        for name in sorted(n for n in Lab.scenarios() if n.startswith("hostile-")):
            with Lab(name) as lab:
                env = dict(env0, **lab.env)
                t = run([*lab.pytest_args, "-m", "auth or connectivity", "--proxydiag-timeout", str(TIMEOUT),
                         "--proxydiag-clients", "none"], env, work)
            print(f"  {name:28s} {t:5.2f} s (timeout {TIMEOUT:g} s)")


if __name__ == "__main__":
    main()
