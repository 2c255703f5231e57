"""The lab's diagnoses, reduced to what must not change when code moves.

``python tests/lab_golden.py --update`` records, for every lab scenario, each
step's outcome, finding key, blocking step and fix verdict, the root cause,
and the finding and solution text with ports, paths, timings and
fingerprints masked.  ``tests/test_lab_golden.py`` runs the same scenarios
and compares.  Regenerate only when a change is meant to alter a diagnosis,
and say which in the commit.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

GOLDEN_DIR = Path(__file__).parent / "data" / "lab_golden"
#: Scenarios left out: slow-origin waits 2.5 s on every probe (40 s a run).
SKIPPED = frozenset({"slow-origin"})

_MASKS = [
    # A proxy that closes right after accepting is seen as a FIN or an RST, depending on whether the
    # request had arrived first (hostile-close): the same finding, two wordings of the cause.
    (re.compile(r"connection reset by peer|the connection was closed without a reply"), "<CLOSED-OR-RESET>"),
    (re.compile(r"(/tmp|/var/tmp|/private)[^\s'\"`),]*"), "<PATH>"),
    (re.compile(r"\b[0-9A-F]{2}(:[0-9A-F]{2}){7,}\b", re.I), "<FP>"),
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I), "<UUID>"),
    (re.compile(r"\b0x[0-9a-f]+\b", re.I), "<ADDR>"),
    (re.compile(r"\b[0-9a-f]{16,}\b"), "<HEX>"),
    (re.compile(r"\d+(\.\d+)?"), "<N>"),
]


def mask(text: object) -> object:
    if not isinstance(text, str):
        return text
    for pattern, repl in _MASKS:
        text = pattern.sub(repl, text)
    return text


def reduce(document: dict) -> dict:
    steps = {}
    for s in document["steps"]:
        fix = s.get("fix") or {}
        steps[s["id"]] = {
            "outcome": s["outcome"],
            "finding_key": s.get("finding_key"),
            "blocked_by": s.get("blocked_by"),
            "verified": fix.get("verified"),
            "finding": mask(s.get("finding")),
            "solution": mask(s.get("solution")),
        }
    return {"root_cause": document.get("root_cause"), "steps": steps}


#: The pinned Claude Code (.ci/install-claude.sh): recordings here and in CI prove fixes with the same clients.
PINNED_CLAUDE_DIR = "/opt/proxydiag-claude/node_modules/.bin"


def _env() -> dict:
    env = dict(os.environ)
    # The solution names the profile of the user's shell; the recording was made under bash, and CI's
    # runner may have no SHELL at all (then the fix says ~/.profile).
    env["SHELL"] = "/bin/bash"
    if os.access(os.path.join(PINNED_CLAUDE_DIR, "claude"), os.X_OK) and not shutil.which("claude"):
        env["PATH"] = PINNED_CLAUDE_DIR + os.pathsep + env.get("PATH", "")
    return env


def diagnose(scenario: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="proxydiag-golden-") as out:
        subprocess.run([sys.executable, "-m", "pytest_proxydiag.cli", "demo", scenario, "--out", out],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300, check=False, env=_env())
        return reduce(json.loads((Path(out) / "proxydiag-report.json").read_text()))


def scenarios() -> list[str]:
    from pytest_proxydiag.lab import Lab

    from pytest_proxydiag.lab import PRODUCT_SCENARIOS

    # The real products other than Squid are checked across products by tests/test_products_lab.py.
    return [name for name in Lab.scenarios() if name not in SKIPPED and name not in PRODUCT_SCENARIOS]


def main() -> None:
    GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
    for name in (sys.argv[2:] or scenarios()):
        (GOLDEN_DIR / f"{name}.json").write_text(json.dumps(diagnose(name), indent=1, sort_keys=True) + "\n")
        print("recorded", name)


if __name__ == "__main__":
    if sys.argv[1:2] != ["--update"]:
        sys.exit("usage: python tests/lab_golden.py --update [SCENARIO...]")
    main()
