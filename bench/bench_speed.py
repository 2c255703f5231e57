"""The whole diagnosis as a new user runs it, against a plain ``pytest --co`` in the same run (issue #15).

    python bench/bench_speed.py [--rounds N] [--baseline DIR] [--env new-user|this]

Measured side by side, interleaved so machine noise hits every case alike:

* ``pytest --co -q`` of the bundled steps: what pytest itself costs on this machine (start-up,
  plugin loading, collection);
* every step against the lab's healthy scenario, with the real clients proving fixes (``auto``)
  and without them (``--proxydiag-clients none``);
* every step against a blackholed proxy with ``--proxydiag-timeout 2``.

Printed: each median, its ratio to ``pytest --co``, and what the diagnosis adds on top of it.
Targets: healthy with proofs adds at most 1.5 s; blackholed adds at most timeout + 1.5 s.
Claude Code is used when it is on PATH (``.ci/install-claude.sh`` installs it); nothing leaves loopback.
``--baseline DIR`` runs every case a second time, interleaved, with the package of another source tree
first on ``PYTHONPATH`` (a checkout with the ``pytest_proxydiag/diag_tests`` link the worktrees use), so a
change is measured before and after under the same machine load.

Measured (issue 15, a quiet 2-core machine, bytecode cache on, medians of 3).  As the issue measures, a
fresh venv with ``.[html]`` (``--env new-user``): the healthy run with proofs adds 1.22 s to ``pytest --co``
(the tree before this work, interleaved via ``--baseline``: 1.46 s), ``--clients none`` 0.88 s, the
blackholed proxy 2.40 s: every target met.  With the Anthropic SDK in that venv too (``--env new-user-sdk``,
so the SDK check runs): 1.71 s, over, because the real ``import anthropic`` is about 1.4 s of CPU in its
own process (loaded from the moment the options are parsed, ``proof/early.py``).  In this development
environment (``--env this``: the whole ``[test]`` extra): 2.03 s (before: 2.53 s).
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
import newuser  # noqa: E402 - bench/newuser.py, next to this file

TIMEOUT = 2.0


def timed(python: str, args: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds of pytest and every process it waited for: clients, SDK runs)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=600)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"pytest {' '.join(args)} exited {proc.returncode}:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return elapsed, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


CASES = (("healthy", "healthy, every step, proofs on", 1.5),
         ("healthy_no_clients", "healthy, every step, --clients none", 1.5),
         ("blackholed", f"blackholed proxy, timeout {TIMEOUT:g} s", TIMEOUT + 1.5))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline", metavar="DIR", help="also run every case with the package of this source "
                        "tree (first on PYTHONPATH), interleaved, and print both")
    parser.add_argument("--env", choices=("new-user", "new-user-sdk", "this"), default="new-user",
                        help="new-user (default): a fresh venv holding pytest-proxydiag[html] only, made offline "
                        "(bench/newuser.py); new-user-sdk: the same with the Anthropic SDK, so the SDK check runs; "
                        "this: the interpreter running the bench, with all it has installed")
    opts = parser.parse_args()
    rounds = opts.rounds
    trees = {"this tree": None}
    if opts.baseline:
        trees["baseline"] = str(Path(opts.baseline).resolve())
    samples: dict[tuple[str, str], list[tuple[float, float]]] = {}
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp, Lab("healthy") as healthy, Lab("proxy-blackholed") as dead:
        work = Path(tmp)
        home = work / "home"
        home.mkdir()
        python = sys.executable
        if opts.env.startswith("new-user"):
            python = str(newuser.make(work / "venv", ("anthropic",) if opts.env == "new-user-sdk" else ()))
        print(f"pytest runs with {python} ({opts.env} environment)")
        base = dict(clean_environment(os.environ), HOME=str(home))
        # As a new user runs it: with the bytecode cache (a CI image or a sandbox may turn it off).
        base.pop("PYTHONDONTWRITEBYTECODE", None)
        runs = {"collect": (["--proxydiag", "--co", *healthy.pytest_args], healthy.env),
                "healthy": (["--proxydiag", *healthy.pytest_args], healthy.env),
                "healthy_no_clients": (["--proxydiag", "--proxydiag-clients", "none", *healthy.pytest_args],
                                       healthy.env),
                "blackholed": (["--proxydiag", *dead.pytest_args, "--proxydiag-timeout", str(TIMEOUT)], dead.env)}
        for round_ in range(rounds + 1):
            for key, (args, lab_env) in runs.items():
                for tree, path in trees.items():
                    env = dict(base, **lab_env)
                    if path:
                        env["PYTHONPATH"] = os.pathsep.join(filter(None, [path, env.get("PYTHONPATH")]))
                    sample = timed(python, args, env, work)
                    if round_:  # round 0 writes the bytecode cache and is not counted
                        samples.setdefault((tree, key), []).append(sample)
    print(f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after, on {os.cpu_count()} CPUs (wall "
          f"times grow with it; CPU seconds much less)")
    for tree in trees:
        med = {k: statistics.median(w for w, _c in v) for (t, k), v in samples.items() if t == tree}
        cpu = {k: statistics.median(c for _w, c in v) for (t, k), v in samples.items() if t == tree}
        co = med["collect"]
        if len(trees) > 1:
            print(f"-- {tree}" + (f" ({trees[tree]})" if trees[tree] else ""))
        print(f"pytest --co (bundled steps):        {co:.2f} s (median of {rounds}), {cpu['collect']:.2f} s CPU")
        for key, label, budget in CASES:
            added = med[key] - co
            verdict = "OK" if added <= budget else "OVER"
            print(f"{label:36s} {med[key]:.2f} s = {med[key] / co:.2f} x pytest --co; adds {added:.2f} s "
                  f"(target <= {budget:g} s) -> {verdict}; CPU adds {cpu[key] - cpu['collect']:.2f} s")
        for (t, key), runs_ in samples.items():
            if t == tree:
                print(f"  {key:20s} " + ", ".join(f"{w:.2f} s ({c:.2f} s CPU)" for w, c in runs_))


if __name__ == "__main__":
    main()
