"""``sluice demo``: the stub upstream, Sluice on embedded defaults, traffic, a report."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field

import aiohttp

from proxy.accounts import hash_key
from proxy.config import Config, KeyEntry, KeysConfig, Limits, Listen, AdminConfig, Tier, UpstreamConfig
from proxy.server import Sluice
from proxy.stub import StubUpstream


@dataclass
class Tally:
    scenario: str
    statuses: Counter[int] = field(default_factory=Counter)
    streamed_chunks: int = 0


DEMO_ACCOUNTS = {
    # account: (scenario, requests to send, stream?)
    "acct-chat": ("casual chat, streaming", 12, True),
    "acct-batch": ("batch classification", 40, False),
    "acct-burst": ("burst over its per-minute limit", 40, False),
}


def demo_config(upstream_url: str) -> Config:
    tiers = {
        "default": Tier("default", Limits(requests_per_minute=600, tokens_per_minute=200_000, max_tokens=256)),
        "small": Tier("small", Limits(requests_per_minute=20, tokens_per_minute=20_000, max_tokens=256)),
    }
    keys = tuple(
        KeyEntry(hash_key(f"sk-demo-{account}"), account, "small" if account == "acct-burst" else "default")
        for account in DEMO_ACCOUNTS
    )
    return Config(
        listen=Listen(port=0),
        admin=AdminConfig(port=0),
        upstream=UpstreamConfig(url=upstream_url),
        keys=KeysConfig(inline=keys),
        tiers=tiers,
    )


async def _client(session: aiohttp.ClientSession, base: str, account: str, tally: Tally, count: int, stream: bool) -> None:
    headers = {"Authorization": f"Bearer sk-demo-{account}"}
    for i in range(count):
        body = {
            "model": "stub-model",
            "messages": [{"role": "user", "content": f"Question {i} from {account}: what is the capital of France?"}],
            "max_tokens": 32,
            "stream": stream,
        }
        async with session.post(f"{base}/v1/chat/completions", json=body, headers=headers) as response:
            tally.statuses[response.status] += 1
            if stream and response.status == 200:
                async for line in response.content:
                    tally.streamed_chunks += line.startswith(b"data: {")
            else:
                await response.read()


async def run_demo(seconds: float = 20.0) -> int:
    stub = StubUpstream(reply_tokens=24)
    upstream_url = await stub.start()
    sluice = Sluice(demo_config(upstream_url))
    proxy_port, admin_port = await sluice.start()
    base = f"http://127.0.0.1:{proxy_port}"
    print(f"Sluice demo: proxy on {base}, admin on http://127.0.0.1:{admin_port}, stub upstream on {upstream_url}\n")
    tallies = {account: Tally(scenario) for account, (scenario, _, _) in DEMO_ACCOUNTS.items()}
    started = time.monotonic()
    try:
        async with aiohttp.ClientSession() as session:
            jobs = [
                _client(session, base, account, tallies[account], count, stream)
                for account, (_, count, stream) in DEMO_ACCOUNTS.items()
            ]
            await asyncio.wait_for(asyncio.gather(*jobs), timeout=seconds)
        await asyncio.sleep(0.05)  # let settlements land
        print(f"{'account':<12} {'scenario':<34} {'sent':>5} {'200':>5} {'429':>5} {'tokens charged':>15}")
        for account, tally in tallies.items():
            tier = sluice.config.tier(sluice.keys.tier_of(account) or "default")
            usage = await sluice.store.usage(account, sluice.config.limits_for(account, tier), time.time())
            sent = sum(tally.statuses.values())
            print(
                f"{account:<12} {tally.scenario:<34} {sent:>5} {tally.statuses[200]:>5} "
                f"{tally.statuses[429]:>5} {usage['tokens_today']:>15}"
            )
        print(f"\nUpstream served {stub.stats.completion_tokens} completion tokens to {stub.stats.requests} requests "
              f"in {time.monotonic() - started:.1f}s.")
        print(f"Metrics were at http://127.0.0.1:{admin_port}/metrics (sluice_requests_total, sluice_rate_limited_total).")
    finally:
        await sluice.stop()
        await stub.stop()
    return 0
