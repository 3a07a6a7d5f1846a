"""Cost of one admission against a real Redis: the store round trip alone.

    python bench/admission.py [--requests 5000] [--url redis://127.0.0.1:6379/0] [--observe] [--accounts 1000]

Without --url it starts a throwaway redis-server on a free port. Each iteration
admits one request against every limit (rpm, tpm, day, month, concurrency) for
one of 1,000 accounts (``--accounts``: with 32 and 5,000 requests, most rings
are full), then settles it, one at a time, and reports p50/p99 of each call
and Redis's own time per script call (INFO commandstats). With --observe every
request also carries a detection observation (its account's window and ring of
64, plus four campaign fingerprints: system, template, suffix and infra, each
drawn from 50) and its settlement an outcome. For the whole proxy with limits
on vs off, see bench/overhead.py.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import statistics
import subprocess
import tempfile
import time

from ports import free_port  # bench/ports.py (this folder is on sys.path)

from proxy.config import Limits, StoreConfig
from proxy.detect import COT, FLAVORED, Observation, Outcome
from proxy.store.redis import RedisStore


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


def observation(rng: random.Random) -> Observation:
    return Observation(
        flags=rng.choice((0, COT | FLAVORED)),
        query=rng.randrange(2**32),
        skeleton=rng.randrange(20),
        topic=rng.randrange(200),
        lang=rng.randrange(3),
        bias=0,
        seed=0,
        system=1 + rng.randrange(50),
        template=1 + rng.randrange(50),
        suffix=1 + rng.randrange(50),
        infra=1 + rng.randrange(50),
        subject=rng.choice((0, rng.randrange(1, 2**48))),
    )


async def measure(url: str, requests: int, observe: bool, accounts: int = 1000) -> None:
    store = RedisStore.from_config(StoreConfig(backend="redis", url=url, timeout_ms=1000), prefix="bench:")
    limits = Limits(requests_per_minute=10**6, tokens_per_minute=10**9, tokens_per_day=10**12,
                    tokens_per_month=10**13, concurrency=10**4)
    rng = random.Random(1)
    admit_ms: list[float] = []
    settle_ms: list[float] = []
    # Redis's own time per script call (INFO commandstats), admits and settles apart: the requests
    # go in rounds of 100 admits, then their 100 settlements.
    redis_us = {"admit": 0.0, "settle": 0.0}
    counted = {"admit": 0, "settle": 0}

    async def script_usec() -> tuple[float, int]:
        stats = await store._client.info("commandstats")
        entry = stats.get("cmdstat_evalsha", {"usec": 0, "calls": 0})
        return float(entry["usec"]), int(entry["calls"])

    for first in range(0, requests, 100):
        admitted = []
        before = await script_usec()
        for i in range(first, min(first + 100, requests)):
            account = f"acct-{rng.randrange(accounts)}"
            now = time.time()
            t0 = time.perf_counter()
            obs = observation(rng) if observe else None
            admitted.append((account, now, await store.admit(account, limits, 700, now, f"lease-{i}", obs)))
            if i >= 100:  # past connection set-up and the first EVAL
                admit_ms.append((time.perf_counter() - t0) * 1000)
        middle = await script_usec()
        for account, now, admission in admitted:
            t1 = time.perf_counter()
            outcome = Outcome(300, 350, True, 0.1) if observe else None
            await store.settle(account, limits, admission, 650, now, outcome)
            if first >= 100:
                settle_ms.append((time.perf_counter() - t1) * 1000)
        after = await script_usec()
        if first >= 100:
            redis_us["admit"] += middle[0] - before[0]
            counted["admit"] += middle[1] - before[1]
            redis_us["settle"] += after[0] - middle[0]
            counted["settle"] += after[1] - middle[1]
    await store.close()
    detection = ", detection on" if observe else ""
    print(f"{requests} admissions on {url} ({accounts:,} accounts, 5 limits each{detection})")
    for name, values in (("admit", admit_ms), ("settle", settle_ms)):
        inside = redis_us[name] / max(counted[name], 1)
        print(f"  {name:<7} p50 {percentile(values, 0.5):.3f} ms   p99 {percentile(values, 0.99):.3f} ms"
              f"   mean {statistics.fmean(values):.3f} ms   in Redis {inside:.0f} µs a call")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--url")
    parser.add_argument("--observe", action="store_true", help="with a detection observation and outcome")
    parser.add_argument("--accounts", type=int, default=1000)
    args = parser.parse_args()
    server = None
    url = args.url
    if url is None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise SystemExit("redis-server not found: apt-get install redis-server, or pass --url")
        port = free_port()
        server = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                   "--dir", tempfile.mkdtemp()], stdout=subprocess.DEVNULL)
        url = f"redis://127.0.0.1:{port}/0"
        time.sleep(0.3)
    try:
        asyncio.run(measure(url, args.requests, args.observe, args.accounts))
    finally:
        if server is not None:
            server.terminate()
            server.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
