"""Two Claude Code binaries against the same lab scenarios, side by side (see try-latest-claude.sh).

    python3 scripts/compare_claude.py PINNED_CLAUDE NEW_CLAUDE

For each scenario the real client sends its check request through the lab's real proxy; the table
shows, per binary, whether it reached the provider, the status or error code, and the first words of
its message, and marks every row where the two differ.  The last rows probe the trust stores: the
interception CA only in NODE_EXTRA_CA_CERTS, and CLAUDE_CODE_CERT_STORE=bundled / system with the
CA only in SSL_CERT_FILE.  Exit status 0 when nothing differs, 1 otherwise.
"""

from __future__ import annotations

import os
import sys

from pytest_proxydiag.lab import Lab
from pytest_proxydiag.proof import clients

SCENARIOS = ("healthy", "wrong-password", "blocked-domain", "ssl-bump-untrusted", "ssl-bump-trusted", "der-ca",
             "proxy-down", "upstream-down")
#: (label, scenario, change to the scenario's environment) for the trust-store probes.
TRUST = (
    ("CA only in NODE_EXTRA_CA_CERTS", "ssl-bump-trusted",
     lambda lab: {"NODE_EXTRA_CA_CERTS": lab.interception_ca_path, "SSL_CERT_FILE": "", "REQUESTS_CA_BUNDLE": "",
                  "CURL_CA_BUNDLE": ""}),
    ("CLAUDE_CODE_CERT_STORE=bundled, CA in SSL_CERT_FILE", "ssl-bump-trusted",
     lambda lab: {"CLAUDE_CODE_CERT_STORE": "bundled", "NODE_EXTRA_CA_CERTS": ""}),
    ("CLAUDE_CODE_CERT_STORE=system, CA in SSL_CERT_FILE", "ssl-bump-trusted",
     lambda lab: {"CLAUDE_CODE_CERT_STORE": "system", "NODE_EXTRA_CA_CERTS": ""}),
)


def run(binary: str, lab: Lab, extra: dict[str, str]) -> str:
    os.environ[clients.CLAUDE_ENV] = binary
    # The lab's origin chains to the lab's own "public" root, which stands in for the public CAs a
    # real provider uses: every run trusts it, as the diagnosis's baseline does.
    base = {"NODE_EXTRA_CA_CERTS": lab.public_roots} if "NODE_EXTRA_CA_CERTS" not in lab.env else {}
    env = {k: v for k, v in {**base, **lab.env, **extra}.items() if v}
    pins = {("api.anthropic.com", lab.origin_port): "127.0.0.1"}
    r = clients.run_client("claude", lab.target_url, env, 20, resolve=pins)
    if r.reached:
        return f"reached {r.status}"
    return f"{r.error_code}: {(r.error or '')[:70]}"


def main(pinned: str, new: str) -> int:
    rows = []
    for name in SCENARIOS:
        with Lab(name) as lab:
            rows.append((name, run(pinned, lab, {}), run(new, lab, {})))
    for label, name, change in TRUST:
        with Lab(name) as lab:
            extra = change(lab)
            rows.append((label, run(pinned, lab, extra), run(new, lab, extra)))
    width = max(len(r[0]) for r in rows)
    differ = 0
    for label, a, b in rows:
        mark = " " if a == b else "*"
        differ += a != b
        print(f"{mark} {label:{width}s} | pinned: {a}\n  {'':{width}s} | new:    {b}")
    print(f"{differ} of {len(rows)} rows differ" + (" (marked *)" if differ else ": nothing to update"))
    return 1 if differ else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
