"""`sluice demo`, the README's first command: it runs on its own and its report tells the truth."""

from __future__ import annotations

import re
import subprocess
import sys


def test_demo_catches_every_extraction_account_flags_no_benign_one_and_names_budget_refusals() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "proxy", "demo"], capture_output=True, text=True, timeout=180, check=False
    )
    assert run.returncode == 0, run.stdout + run.stderr
    summary = re.search(r"extraction accounts caught: (\d+)/(\d+); benign accounts flagged: (\d+)/(\d+)", run.stdout)
    assert summary is not None, run.stdout
    caught, extraction, flagged, benign = map(int, summary.groups())
    assert extraction > 0 and benign > 0
    assert caught == extraction, run.stdout
    assert flagged == 0, run.stdout
    rows = [line.split() for line in run.stdout.splitlines() if line.startswith("acct-")]
    assert len(rows) == extraction + benign
    for row in rows:
        truth, last_action = row[2], row[7]
        # A benign account refused by its budget says so, rather than looking like a detection.
        if truth == "benign" and last_action == "throttle":
            assert row[8:9] == ["budget:"], row
        if truth == "extraction":
            assert row[4].startswith("#"), row  # the request its first flag came on
