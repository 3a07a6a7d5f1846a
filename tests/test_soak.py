"""The soak script, short: mixed traffic through a real `sluice serve` on a real Redis, no drift, no leak, no crash.

The long run is a documented command (README, Reliability):
    python bench/soak.py --seconds 600
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

SOAK = Path(__file__).resolve().parent.parent / "bench" / "soak.py"


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="the soak runs a throwaway redis-server")
def test_short_soak_charges_exactly_what_the_upstream_served_and_leaks_nothing() -> None:
    run = subprocess.run(
        [sys.executable, str(SOAK), "--seconds", "12", "--concurrency", "16"],
        capture_output=True, text=True, timeout=180, check=False,
    )
    lines = [line for line in run.stdout.splitlines() if line.startswith("SOAK ")]
    assert lines, run.stdout + run.stderr
    result = orjson.loads(lines[-1][5:])
    # Every kind of traffic happened: streams, both kinds of abort, resets, upstream errors,
    # per-minute and concurrency limits, the daily quota, and extraction decisions.
    outcomes = result["outcomes"]
    for kind in ("stream 200", "json 200", "abort 200", "leave 200", "reset 200", "upstream500 500 stub_error",
                 "limited 429 rate_limit_exceeded"):
        assert outcomes.get(kind, 0) > 0, (kind, outcomes)
    assert result["extraction_decisions"] > 0
    # No client saw an error it should not have (a Sluice 5xx, a broken stream, a hang, a reset connection).
    assert result["errors"] == {}
    # To the token: the budgets in Redis hold exactly what the upstream served.
    assert result["tokens_charged_in_redis"] == result["tokens_served_by_upstream"] > 0
    assert result["drift"] == 0
    assert result["leases_left"] == 0  # every admitted request was settled
    # Once the traffic is over, no task lingers (settlements, aborted relays): a leak would stay here.
    assert result["idle_after"]["asyncio_tasks"] <= 10
    # SIGTERM at the end: a clean drain, exit 0, no traceback in its log.
    assert result["exit_code"] == 0 and not result["traceback"]
    assert run.returncode == 0, run.stdout[-2000:]
