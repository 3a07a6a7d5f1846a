"""The store timeout counts the store's time, not the time the proxy's own event loop is busy.

A saturated proxy goes round its event loop more slowly than ``store.timeout_ms``: Redis has
answered, but the reply waits unread behind other requests' work. That must not count as Redis
being down (breaker open, every request on the local fail-open limits). A Redis that really does
not answer must still time out and open the breaker. Real redis-servers throughout; the busy loop
is real too (the test holds the loop the way a request's CPU work does).
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from proxy.config import Limits, StoreConfig
from proxy.store import build_store
from proxy.store.guard import CircuitBreaker, FailSafeStore
from tests.redis_servers import RedisProcess

LIMITS = Limits(requests_per_minute=1000, tokens_per_minute=1_000_000, tokens_per_day=10_000_000)
TIMEOUT = 0.05  # the shipped default, 50 ms


def guarded(url: str) -> FailSafeStore:
    primary = build_store(StoreConfig(backend="redis", url=url, timeout_ms=TIMEOUT * 1000))
    # One failure opens the breaker: any timeout blamed on Redis shows.
    return FailSafeStore(primary, timeout=TIMEOUT, breaker=CircuitBreaker(1, 30.0))


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisProcess]:
    """A redis-server of this test's own: it gets paused."""
    from tests.conftest import _binaries
    from tests.redis_servers import start_server

    server = start_server(_binaries()[0], tmp_path)
    try:
        yield server
    finally:
        os.kill(server.process.pid, signal.SIGCONT)  # in case the test failed while it was paused
        server.stop()


async def test_a_busy_event_loop_does_not_fail_redis_calls_open(redis_standalone: RedisProcess) -> None:
    store = guarded(redis_standalone.url)
    account = f"busy-{uuid.uuid4().hex[:8]}"
    try:
        await store.admit(account, LIMITS, 10, time.time(), "warm")  # connected: what follows times the calls
        for round_ in range(3):
            calls = [
                asyncio.create_task(store.admit(account, LIMITS, 10, time.time(), f"lease-{round_}-{i}"))
                for i in range(8)
            ]
            await asyncio.sleep(0)  # the commands go out
            time.sleep(6 * TIMEOUT)  # noqa: ASYNC251 - the proxy's own work holds the loop: Redis answers meanwhile
            admissions = await asyncio.gather(*calls)
            # Decided by Redis, not on the local fail-open share; nothing was blamed on Redis.
            assert all(a.allowed and not a.degraded for a in admissions)
            assert not store.breaker.is_open and store.breaker.failures == 0
        used = await store.usage(account, LIMITS, time.time())
        assert used["tokens_today"] == (3 * 8 + 1) * 10 and used["in_flight"] == 3 * 8 + 1  # every reservation is on Redis
    finally:
        await store.close()


async def test_a_redis_that_does_not_answer_still_times_out_and_opens_the_breaker(
    private_redis: RedisProcess,
) -> None:
    store = guarded(private_redis.url)
    try:
        await store.ping()
        os.kill(private_redis.process.pid, signal.SIGSTOP)
        admission = await asyncio.wait_for(store.admit("paused", LIMITS, 10, time.time(), "lease-paused"), 15)
        # Served on the local share, and the breaker is open: the idle loop's timer was on time, so the
        # silence was Redis's.
        assert admission.allowed and admission.degraded
        assert store.breaker.is_open
    finally:
        os.kill(private_redis.process.pid, signal.SIGCONT)
        await store.close()
