"""The runbooks in examples/ run against the demo database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"

# script -> (arguments, expected exit status, text that must appear in the output)
CASES = {
    "czar-morning-check.sh": (["2018-07-10"], 3, ["lost_visit", "GONE", "fixbroken --chip-id", "desperate"]),
    "cron-cleanup.sh": (["2018-07-11"], 0, ["oldest uncleaned night"]),
    "fixbroken-round.sh": ([], 0, ["wfix", "fixbroken finish"]),
    "pstamp-backlog-check.sh": ([], 0, ["QUB", "MOPS", "reverted"]),
}


def test_every_example_is_covered():
    assert sorted(p.name for p in EXAMPLES.glob("*.sh")) == sorted(CASES)


@pytest.mark.parametrize("script", sorted(CASES))
def test_example_runs_on_the_demo(script, isolated_home, tmp_path):
    env = dict(os.environ, HOME=str(isolated_home), PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    env.pop("MOPSTOOL_DB", None)
    demo = subprocess.run([sys.executable, "-m", "mopstool", "demo"], env=env, capture_output=True,
                          text=True, timeout=300)
    assert demo.returncode == 0, demo.stderr
    args, code, needles = CASES[script]
    r = subprocess.run(["bash", str(EXAMPLES / script), *args], env=env, capture_output=True, cwd=tmp_path,
                       text=True, timeout=300)
    out = r.stdout + r.stderr
    assert r.returncode == code, out
    if script == "czar-morning-check.sh":  # the fixes for review, in the working directory
        assert (tmp_path / "czar-fixes-2018-07-10.sh").read_text().startswith("mopstool ")
    for n in needles:
        assert n in out, (n, out[-3000:])
    assert "Traceback" not in out
