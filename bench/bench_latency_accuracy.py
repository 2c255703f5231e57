"""Measurement accuracy of performance.latency (issue #6): reported vs injected delay, side by side.

    python bench/bench_latency_accuracy.py [--rounds N]

A known delay is injected in the path, then the latency split is measured
with the same code the diagnosis uses (``perf.measure_latency`` on a fresh
``Probes``):

* at the origin (the lab's real Squid in front of an ``HttpsOrigin`` whose
  answers are held back by ``delay``): the "time to first byte" phase must
  match the delay;
* at the proxy (a CONNECT relay that waits before its ``200``, in front of
  the same origin): the "CONNECT reply" phase must match it.

Target: every reported value within 10% of the injected delay or 20 ms,
whichever is larger (the median of N rounds).  Nothing leaves loopback.
"""

from __future__ import annotations

import argparse
import statistics
import sys

from pytest_proxydiag.branches import performance as perf
from pytest_proxydiag.core.config import settings_from_options
from pytest_proxydiag.lab import Lab
from pytest_proxydiag.lab.servers import SlowRelay
from pytest_proxydiag.net.probes import Probes

DELAYS = (0.0, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


def probes_for(lab: Lab, proxy_url: str) -> Probes:
    options = {"proxydiag_target": [lab.target_url],
               "proxydiag_resolve": [f"api.anthropic.com:{lab.origin_port}:127.0.0.1"],
               "proxydiag_no_direct": True, "proxydiag_timeout": "10"}
    return Probes(settings_from_options(options, env={"HTTPS_PROXY": proxy_url}))


def measure(lab: Lab, proxy_url: str, phase: str, rounds: int) -> float:
    values = []
    for _ in range(rounds):
        split = perf.measure_latency(probes_for(lab, proxy_url), _target(lab))
        if not split.ok:
            raise SystemExit(f"measurement failed: {split.detail}")
        values.append(split.phases()[phase])
    return statistics.median(values)


def _target(lab: Lab):
    from pytest_proxydiag.core.config import Target
    return Target(lab.target_url, "bench")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    ok = True
    print(f"{'injected at':<12} {'injected':>9} {'reported':>9} {'error':>8} {'allowed':>8}  phase")
    with Lab("healthy") as lab:
        assert lab.origin is not None
        relay = SlowRelay()
        try:
            rows = []
            for delay in DELAYS:
                lab.origin.configure(delay=delay)
                rows.append(("origin", delay, measure(lab, lab.proxy_url, "time to first byte", args.rounds),
                             "time to first byte"))
            lab.origin.configure(delay=0)
            for delay in DELAYS:
                relay.connect_delay = delay
                rows.append(("proxy", delay, measure(lab, relay.url, "CONNECT reply", args.rounds), "CONNECT reply"))
        finally:
            relay.stop()
    for where, injected, reported, phase in rows:
        allowed = max(0.10 * injected, 0.020)
        err = reported - injected
        good = abs(err) <= allowed
        ok &= good
        print(f"{where:<12} {injected * 1000:>7.0f}ms {reported * 1000:>7.1f}ms {err * 1000:>+6.1f}ms "
              f"{allowed * 1000:>6.0f}ms  {phase} {'ok' if good else 'OUT OF BOUNDS'}")
    print("all within max(10%, 20 ms)" if ok else "SOME MEASUREMENTS OUT OF BOUNDS")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
