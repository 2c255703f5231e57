"""Every lab scenario's diagnosis stays what it was when the code moved into rooms.

The recorded diagnoses live in ``tests/data/lab_golden/`` (see ``tests/lab_golden.py``):
outcomes, finding keys, blocking steps, fix verdicts and the masked finding and
solution text of each step.  A change meant to alter a diagnosis regenerates that
scenario's file and says why in its commit.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import lab_golden  # noqa: E402
from conftest import require_squid  # noqa: E402


RECORDED = sorted(p.stem for p in lab_golden.GOLDEN_DIR.glob("*.json"))


def test_every_scenario_is_recorded():
    assert set(RECORDED) == set(lab_golden.scenarios())


@pytest.mark.parametrize("scenario", RECORDED)
def test_diagnosis_unchanged(scenario):
    require_squid()
    expected = json.loads((lab_golden.GOLDEN_DIR / f"{scenario}.json").read_text())
    actual = lab_golden.diagnose(scenario)
    assert actual["root_cause"] == expected["root_cause"]
    # Steps added since the recording (a new branch) are not compared; every recorded step is.
    changed = {step: {"was": was, "now": actual["steps"].get(step)}
               for step, was in expected["steps"].items() if step in actual["steps"] and actual["steps"][step] != was}
    missing = sorted(set(expected["steps"]) - set(actual["steps"]))
    assert not changed and not missing, json.dumps({"changed": changed, "missing": missing}, indent=1)
