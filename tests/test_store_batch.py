"""Batched settlement (FailSafeStore.settle_soon, RedisStore.settle_many): the same charges as one
settle call per request, on memory, a standalone Redis and a cluster; idempotent when replayed;
queued, not lost, when the store cannot answer."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from proxy.config import Limits
from proxy.detect import Outcome
from proxy.store.guard import CircuitBreaker, FailSafeStore, Settlement
from proxy.store.memory import MemoryStore
from proxy.store.redis import RedisStore
from tests.redis_servers import RedisClusterProcesses, RedisProcess

NOON = 1_767_268_800.0  # 2026-01-01T12:00:00Z
LIMITS = Limits(requests_per_minute=1000, tokens_per_minute=1_000_000, tokens_per_day=10_000_000, concurrency=100)
ACCOUNTS = ["alice", "bob", "org:42/carol"]


@pytest.fixture(params=["memory", "redis", "redis-cluster"])
async def guarded(request: pytest.FixtureRequest) -> AsyncIterator[FailSafeStore]:
    primary: MemoryStore | RedisStore
    if request.param == "memory":
        primary = MemoryStore()
    else:
        client: Redis | RedisCluster
        if request.param == "redis":
            server: RedisProcess = request.getfixturevalue("redis_standalone")
            client = Redis(host="127.0.0.1", port=server.port)
        else:
            cluster: RedisClusterProcesses = request.getfixturevalue("redis_cluster")
            client = RedisCluster(host="127.0.0.1", port=cluster.ports[0])
        primary = RedisStore(client, prefix=f"t{uuid.uuid4().hex[:12]}:")
    store = FailSafeStore(primary, timeout=1.0, breaker=CircuitBreaker(3, 30.0))
    yield store
    await store.close()


async def test_a_batch_charges_what_one_call_each_would(guarded: FailSafeStore) -> None:
    admissions = [
        (account, await guarded.admit(account, LIMITS, 100, NOON, f"lease-{account}-{i}"))
        for i in range(10) for account in ACCOUNTS
    ]
    assert all(a.allowed for _, a in admissions)
    if isinstance(guarded.primary, RedisStore):
        await guarded.primary._client.script_flush()  # every call of the batch answers NOSCRIPT, then EVAL
    for i, (account, a) in enumerate(admissions):  # all queued in one turn of the loop: one batch
        guarded.settle_soon(account, LIMITS, a, 40 + i, NOON + 1, Outcome(20, 20 + i, False, 0.1))
    await guarded.drain(5.0)
    for account in ACCOUNTS:
        expected = sum(40 + i for i, (acc, _) in enumerate(admissions) if acc == account)
        used = await guarded.usage(account, LIMITS, NOON + 1)
        assert (used["tokens_today"], used["in_flight"]) == (expected, 0)
    # Settling them all again changes nothing: only the settlement that removes a lease counts.
    for account, a in admissions:
        guarded.settle_soon(account, LIMITS, a, 1, NOON + 2)
    await guarded.drain(5.0)
    assert (await guarded.usage(ACCOUNTS[0], LIMITS, NOON + 2))["tokens_today"] == sum(
        40 + i for i, (acc, _) in enumerate(admissions) if acc == ACCOUNTS[0])


async def test_settlements_queued_while_a_batch_is_in_flight_go_in_the_next(guarded: FailSafeStore) -> None:
    admitted = [await guarded.admit("alice", LIMITS, 50, NOON, f"l{i}") for i in range(40)]
    for i, a in enumerate(admitted):
        guarded.settle_soon("alice", LIMITS, a, 10, NOON + 1)
        if i % 7 == 0:
            await asyncio.sleep(0)  # the sender runs between some of them
    await guarded.drain(5.0)
    used = await guarded.usage("alice", LIMITS, NOON + 1)
    assert (used["tokens_today"], used["in_flight"]) == (40 * 10, 0)


async def test_a_store_that_cannot_answer_keeps_the_batch_for_replay(redis_standalone: RedisProcess) -> None:
    client = Redis(host="127.0.0.1", port=redis_standalone.port)
    primary = RedisStore(client, prefix=f"t{uuid.uuid4().hex[:12]}:")
    store = FailSafeStore(primary, timeout=1.0, breaker=CircuitBreaker(1, 30.0))
    try:
        admitted = [await store.admit("alice", LIMITS, 50, NOON, f"l{i}") for i in range(5)]

        async def down(batch: list[Settlement]) -> list[BaseException | None]:
            raise ConnectionError("the store is down")

        primary.settle_many = down  # type: ignore[method-assign]
        for a in admitted:
            store.settle_soon("alice", LIMITS, a, 10, NOON + 1)
        await store.drain(5.0)
        assert len(store.pending) == 5 and store.breaker.is_open  # queued, nothing lost
        del primary.settle_many
        store.breaker.success()
        for item in list(store.pending):
            await store._settle_primary(item)  # what the replay after recovery does
        used = await store.usage("alice", LIMITS, NOON + 1)
        assert (used["tokens_today"], used["in_flight"]) == (5 * 10, 0)
    finally:
        await store.close()
