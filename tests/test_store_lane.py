"""The request path's script calls share one pipelined connection (proxy/store/lane.py).

Replies come back in order on it, so a caller that gives up (a timeout, a client that left) must
not shift the replies of the calls behind it: each account still gets its own budget's answer.
A real redis-server throughout.
"""

from __future__ import annotations

import asyncio
import time
import uuid

from proxy.config import Limits, StoreConfig
from proxy.store import build_store
from proxy.store.redis import RedisStore
from tests.redis_servers import RedisProcess

TIGHT = Limits(requests_per_minute=10)
LOOSE = Limits(requests_per_minute=1000)


async def test_calls_abandoned_mid_flight_leave_every_other_answer_with_its_own_account(
    redis_standalone: RedisProcess,
) -> None:
    store = build_store(StoreConfig(backend="redis", url=redis_standalone.url, timeout_ms=2000))
    assert isinstance(store, RedisStore)
    tight, loose = f"tight-{uuid.uuid4().hex[:8]}", f"loose-{uuid.uuid4().hex[:8]}"
    try:
        await store.admit(f"warm-{uuid.uuid4().hex[:8]}", LOOSE, 1, time.time(), "warm")  # connected from here on
        for round_ in range(5):
            now = time.time()
            # The loose account's calls are sent, then abandoned before their replies are read.
            abandoned = [asyncio.create_task(store.admit(loose, LOOSE, 1, now, f"l-{round_}-{i}")) for i in range(6)]
            kept = asyncio.create_task(store.admit(tight, TIGHT, 1, now, f"t-{round_}"))
            await asyncio.sleep(0)  # everything is written to the one connection
            for task in abandoned:
                task.cancel()
            admission = await kept
            # The tight account's own answer: its limit, one request fewer each round. A reply
            # meant for the loose account (hundreds remaining) would show here.
            assert admission.allowed and admission.requests_limit == 10
            assert admission.requests_remaining == 10 - 1 - round_
        # The abandoned calls did reach Redis (a script that ran cannot be unsent); nothing is lost or doubled.
        used = await store.usage(loose, LOOSE, time.time())
        assert used["in_flight"] == 5 * 6
        assert (await store.usage(tight, TIGHT, time.time()))["in_flight"] == 5
    finally:
        await store.close()
