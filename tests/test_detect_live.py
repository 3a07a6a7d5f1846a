"""Detection end to end through the live proxy: simulated accounts, real HTTP, the stub upstream."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

import aiohttp

from proxy.demo import Tally, _send, demo_clock, demo_config
from proxy.server import Sluice
from proxy.simulate import generate
from proxy.stub import StubUpstream


def accounts_of(scenarios: list[str], seed: int, per_account: int) -> tuple[list[dict[str, Any]], dict[str, Tally]]:
    trace, labels = generate(seed, hours=24.0, scale=0.3, scenarios=scenarios)
    tallies: dict[str, Tally] = {}
    for label in labels:
        if label["scenario"] not in {t.scenario for t in tallies.values()}:
            tallies[label["account"]] = Tally(label["scenario"], label["label"])
    counts: dict[str, int] = defaultdict(int)
    records = []
    for record in trace:
        if record["account"] in tallies and counts[record["account"]] < per_account:
            counts[record["account"]] += 1
            records.append(record)
    return records, tallies


async def test_an_extraction_account_is_throttled_and_a_batch_account_is_not() -> None:
    records, tallies = accounts_of(["logprob_harvest", "batch_classification"], seed=11, per_account=80)
    stub = StubUpstream(reply_tokens=8000)
    upstream = await stub.start()
    sluice = Sluice(demo_config(upstream, tallies), clock=demo_clock)
    port, _ = await sluice.start()
    try:
        gate = asyncio.Semaphore(8)
        async with aiohttp.ClientSession() as session:
            for record in records:  # in trace order, one at a time per account's stream
                await _send(session, f"http://127.0.0.1:{port}", record, tallies[record["account"]], gate)
    finally:
        await sluice.stop()
        await stub.stop()
    by_scenario = {t.scenario: (account, t) for account, t in tallies.items()}
    attacker, attacker_tally = by_scenario["logprob_harvest"]
    batch, batch_tally = by_scenario["batch_classification"]
    # The harvester is throttled with what looks like an ordinary rate limit...
    assert attacker_tally.statuses[429] > 20
    log = sluice.decisions.get(attacker)
    # Flagged within its first dozen requests: its probes re-send one prompt under changing logit_bias
    # sets, which is a logit sweep, not a template (repeats are one prompt to the template statistics).
    assert log is not None and log.first_flag is not None and log.first_flag < 12
    assert any(r["cause"] == "extraction" and r["action"] == "throttle" for r in log.recent)
    # ...while the batch job, machine-paced and templated with logprobs, passes untouched.
    assert batch_tally.statuses == {200: 80}
    batch_log = sluice.decisions.get(batch)
    assert batch_log is not None and batch_log.first_flag is None and batch_log.actions == {"allow": 80}


async def test_extraction_decisions_are_counted_without_account_labels() -> None:
    records, tallies = accounts_of(["logprob_harvest"], seed=11, per_account=30)
    stub = StubUpstream(reply_tokens=8000)
    upstream = await stub.start()
    sluice = Sluice(demo_config(upstream, tallies), clock=demo_clock)
    port, admin = await sluice.start()
    try:
        gate = asyncio.Semaphore(4)
        async with aiohttp.ClientSession() as session:
            for record in records:
                await _send(session, f"http://127.0.0.1:{port}", record, tallies[record["account"]], gate)
            async with session.get(f"http://127.0.0.1:{admin}/metrics") as response:
                text = await response.text()
    finally:
        await sluice.stop()
        await stub.stop()
    assert 'sluice_extraction_decisions_total{action="throttle",shadow="false",signal="logit_sweep"}' in text
    assert "sluice_risk_bucket" in text and "sluice_delayed_requests 0.0" in text
    assert next(iter(tallies)) not in text
