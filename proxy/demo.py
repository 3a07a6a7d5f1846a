"""``sluice demo``: the stub upstream, Sluice on embedded defaults, simulated accounts, a report.

Benign and extraction accounts from ``sluice simulate`` send their recorded
requests through a live Sluice (in this process, on loopback) to the stub
upstream, which answers with the recorded lengths. A simulated day runs in
seconds: the demo's Sluice judges each request at its recorded time (a clock
injected in code, read from a header only this in-process demo sends), so
pacing and decay behave as they would over the real day. The report shows, per
account, what Sluice did and why; it ends by itself well within a minute.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from proxy.accounts import hash_key
from proxy.config import (
    AdminConfig,
    Config,
    DetectionConfig,
    KeyEntry,
    KeysConfig,
    Limits,
    Listen,
    Tier,
    UpstreamConfig,
)
from proxy.server import Sluice
from proxy.simulate import generate
from proxy.stub import LENGTH_HINT, StubUpstream

# (scenario, accounts of it in the demo)
DEMO_SCENARIOS = (
    ("casual_chat", 2),
    ("power_user", 2),
    ("rag_app", 1),
    ("batch_classification", 1),
    ("eval_harness", 1),
    ("coding_assistant", 1),
    ("agent_framework", 1),
    ("broad_distillation", 1),
    ("self_instruct_sweep", 1),
    ("logprob_harvest", 1),
    ("grader_harvest", 1),
    ("low_and_slow", 1),
    ("sybil_campaign", 6),
)
PER_ACCOUNT = 120  # requests replayed per account (its first ones)
SEED = 7


@dataclass
class Tally:
    scenario: str
    label: str
    statuses: Counter[int] = field(default_factory=Counter)


def demo_config(upstream_url: str, accounts: dict[str, Tally]) -> Config:
    tiers = {"standard": Tier("standard", Limits(requests_per_minute=100_000, tokens_per_minute=500_000_000))}
    keys = tuple(KeyEntry(hash_key(f"sk-demo-{account}"), account, "standard") for account in accounts)
    return Config(
        listen=Listen(port=0),
        admin=AdminConfig(port=0),
        upstream=UpstreamConfig(url=upstream_url),
        keys=KeysConfig(inline=keys),
        tiers=tiers,
        default_tier="standard",
        # A short tarpit: the demo compresses a day into seconds.
        detection=DetectionConfig(delay_s=0.02),
    )


def pick_traffic() -> tuple[dict[str, list[dict[str, Any]]], dict[str, Tally]]:
    names = [name for name, _ in DEMO_SCENARIOS]
    trace, labels = generate(SEED, hours=24.0, scale=0.5, scenarios=names)
    wanted = dict(DEMO_SCENARIOS)
    tallies: dict[str, Tally] = {}
    for label in labels:
        if wanted.get(label["scenario"], 0) > 0:
            wanted[label["scenario"]] -= 1
            tallies[label["account"]] = Tally(label["scenario"], label["label"])
    streams: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in trace:
        if record["account"] in tallies and len(streams[record["account"]]) < PER_ACCOUNT:
            streams[record["account"]].append(record)
    return streams, tallies


DEMO_TIME = "X-Sluice-Demo-Time"
IN_FLIGHT = 32


def demo_clock(request: web.BaseRequest) -> float:
    return float(request.headers[DEMO_TIME])


async def _send(
    session: aiohttp.ClientSession, base: str, record: dict[str, Any], tally: Tally, gate: asyncio.Semaphore
) -> None:
    account = record["account"]
    completion = (record.get("usage") or {}).get("completion_tokens", 40)
    headers = {
        "Authorization": f"Bearer sk-demo-{account}",
        LENGTH_HINT: str(completion),
        DEMO_TIME: repr(record["ts"]),
        "User-Agent": record.get("user_agent", "demo"),
    }
    async with gate:
        async with session.post(base + record["path"], json=dict(record["body"], stream=False), headers=headers) as r:
            await r.read()
            tally.statuses[r.status] += 1


async def run_demo(seconds: float = 50.0) -> int:
    streams, tallies = pick_traffic()
    stub = StubUpstream(reply_tokens=8000)
    upstream_url = await stub.start()
    sluice = Sluice(demo_config(upstream_url, tallies), clock=demo_clock)
    proxy_port, admin_port = await sluice.start()
    base = f"http://127.0.0.1:{proxy_port}"
    total = sum(len(r) for r in streams.values())
    print(f"Sluice demo: {len(tallies)} simulated accounts, {total} requests, through {base} to a stub upstream.\n")
    started = time.monotonic()
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as session:
            gate = asyncio.Semaphore(IN_FLIGHT)
            ordered = sorted((r for records in streams.values() for r in records), key=lambda r: r["ts"])
            jobs = [_send(session, base, r, tallies[r["account"]], gate) for r in ordered]
            try:
                await asyncio.wait_for(asyncio.gather(*jobs), timeout=seconds)
            except TimeoutError:
                print(f"(traffic stopped after {seconds:.0f}s)\n")
        _report(sluice, tallies)
        elapsed = time.monotonic() - started
        print(f"\n{total} requests in {elapsed:.1f}s. The upstream served {stub.stats.completion_tokens:,} completion tokens.")
        print(f"While it ran: metrics on http://127.0.0.1:{admin_port}/metrics; replay the same traffic offline with")
        print("  sluice simulate --out trace.jsonl --labels labels.jsonl && "
              "sluice replay --config config/sluice.yaml trace.jsonl --out decisions.jsonl")
    finally:
        await sluice.stop()
        await stub.stop()
    return 0


def _report(sluice: Sluice, tallies: dict[str, Tally]) -> None:
    print(f"{'account':<18} {'scenario':<22} {'truth':<10} {'sent':>4} {'first flag':>10} {'429':>4} {'403':>4}  "
          f"{'last action':<12} top reasons")
    order = sorted(tallies.items(), key=lambda kv: (kv[1].label, kv[1].scenario, kv[0]))
    caught = missed = wrongly = 0
    for account, tally in order:
        entry = sluice.decisions.get(account)
        sent = sum(tally.statuses.values())
        flagged = entry is not None and entry.first_flag is not None
        last = entry.recent[-1] if entry is not None and entry.recent else None
        reasons = ""
        if last and last["cause"] == "extraction":
            reasons = ", ".join(last["reasons"][:3])
        elif last and last["cause"] == "budget":  # a rate limit or quota, not a detection
            reasons = "budget: " + ", ".join(last["reasons"])
        first = f"#{entry.first_flag + 1}" if flagged and entry is not None and entry.first_flag is not None else "-"
        action = last["action"] if last else "allow"
        print(f"{account:<18} {tally.scenario:<22} {tally.label:<10} {sent:>4} {first:>10} {tally.statuses[429]:>4}"
              f" {tally.statuses[403]:>4}  {action:<12} {reasons}")
        if tally.label == "extraction":
            caught += flagged
            missed += not flagged
        else:
            wrongly += flagged
    print(f"\nextraction accounts caught: {caught}/{caught + missed}; benign accounts flagged: {wrongly}"
          f"/{sum(1 for t in tallies.values() if t.label == 'benign')}")
