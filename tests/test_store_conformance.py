"""One conformance suite for every budget store backend.

Each case runs against the in-process memory store, a standalone Redis and a
3-master Redis Cluster, on a virtual clock (the stores take ``now`` as an
argument). That includes detection: windows and campaign counts are compared
with the memory store's (the reference, ``proxy/windows.py``) field by field.
The Redis-only cases check what only Redis has: TTLs, hash slots, the NOSCRIPT
fallback, round trips, and atomicity under concurrent clients.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import random
import uuid
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot

from proxy.config import Limits, StoreConfig
from proxy.detect import (
    BIAS,
    COT,
    FLAVORED,
    HOT_SAMPLING,
    LOGPROB_HIGH,
    RING,
    SEEDED,
    STANDALONE,
    SUBJECTS,
    Campaign,
    Observation,
    Outcome,
    Window,
)
from proxy.limits import (
    CONCURRENCY,
    CONCURRENCY_RETRY,
    REQUESTS_PER_MINUTE,
    TOKENS_PER_DAY,
    TOKENS_PER_MINUTE,
    TOKENS_PER_MONTH,
    Admission,
)
from proxy.store import build_store
from proxy.store.base import Store, StoreUnavailable
from proxy.store.memory import MemoryStore
from proxy.store.redis import RedisStore, _Script
from proxy.windows import CAMPAIGN_ACCOUNTS, window_now
from tests.redis_servers import RedisClusterProcesses, RedisProcess, free_port

LEASE_TTL = 30.0
T = TypeVar("T")
ACCOUNT = "acct"


def utc(*args: int) -> float:
    return dt.datetime(*args, tzinfo=dt.UTC).timestamp()


NOON = utc(2025, 3, 14, 12, 0, 0)  # a whole second: sums of 6.0 stay exact


def lease() -> str:
    return uuid.uuid4().hex


@dataclass
class Backend:
    kind: str
    store: Store
    client: Redis | RedisCluster | None = None
    prefix: str = ""


def open_backend(kind: str, request: pytest.FixtureRequest) -> Backend:
    """A fresh, empty store: a new MemoryStore, or a unique key prefix on a shared server."""
    if kind == "memory":
        return Backend(kind, MemoryStore(lease_ttl=LEASE_TTL))
    client: Redis | RedisCluster
    if kind == "redis":
        server: RedisProcess = request.getfixturevalue("redis_standalone")
        client = Redis(host="127.0.0.1", port=server.port)
    else:
        cluster: RedisClusterProcesses = request.getfixturevalue("redis_cluster")
        client = RedisCluster(host="127.0.0.1", port=cluster.ports[0])
    prefix = f"t{uuid.uuid4().hex[:12]}:"
    return Backend(kind, RedisStore(client, lease_ttl=LEASE_TTL, prefix=prefix), client, prefix)


@pytest.fixture(params=["memory", "redis", "redis-cluster"])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    b = open_backend(request.param, request)
    yield b
    await b.store.close()


@pytest.fixture
def store(backend: Backend) -> Store:
    return backend.store


@pytest.fixture(params=["redis", "redis-cluster"])
async def redis_backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    b = open_backend(request.param, request)
    yield b
    await b.store.close()


async def admit(store: Store, limits: Limits, cost: int, now: float, account: str = ACCOUNT) -> Admission:
    return await store.admit(account, limits, cost, now, lease())


# ---- requests per minute ----------------------------------------------------


async def test_rpm_burst_then_refusal(store: Store) -> None:
    limits = Limits(requests_per_minute=10)
    for i in range(10):
        a = await admit(store, limits, 0, NOON)
        assert a.allowed and a.requests_remaining == 9 - i
    refused = await admit(store, limits, 0, NOON)
    assert not refused.allowed
    assert refused.limit == REQUESTS_PER_MINUTE
    assert refused.retry_after == pytest.approx(6.0)  # 60 / L after a full burst
    assert refused.reserved == 0 and not refused.too_large
    early = await admit(store, limits, 0, NOON + 5.5)
    assert not early.allowed and early.retry_after == pytest.approx(0.5)


async def test_rpm_is_smooth_no_double_burst(store: Store) -> None:
    limits = Limits(requests_per_minute=10)
    for _ in range(10):
        assert (await admit(store, limits, 0, NOON)).allowed
    # A fixed window would let a second burst of 10 through at the minute edge;
    # GCRA lets exactly one through every 6 s after a full burst.
    admitted = []
    for step in range(1, 121):
        now = NOON + step * 0.5
        if (await admit(store, limits, 0, now)).allowed:
            admitted.append(now - NOON)
    assert admitted == [6.0 * k for k in range(1, 11)]


# ---- tokens per minute ------------------------------------------------------


async def test_tpm_reserve_then_refund_on_settle(store: Store) -> None:
    limits = Limits(tokens_per_minute=1000)
    first = await admit(store, limits, 600, NOON)
    assert first.allowed and first.reserved == 600
    assert first.tokens_remaining == 400 and first.tokens_reset == pytest.approx(36.0)
    second = await admit(store, limits, 600, NOON)
    assert not second.allowed and second.limit == TOKENS_PER_MINUTE
    assert second.retry_after == pytest.approx(12.0)
    assert not second.too_large
    await store.settle(ACCOUNT, limits, first, 100, NOON)  # 500 tokens back
    assert (await store.usage(ACCOUNT, limits, NOON))["tokens_remaining"] == 900
    third = await admit(store, limits, 600, NOON)
    assert third.allowed and third.tokens_remaining == 300


async def test_tpm_overspend_on_settle_pushes_the_wait_out(store: Store) -> None:
    limits = Limits(tokens_per_minute=1000)
    first = await admit(store, limits, 100, NOON)
    await store.settle(ACCOUNT, limits, first, 900, NOON)  # 800 more than reserved
    assert (await store.usage(ACCOUNT, limits, NOON))["tokens_remaining"] == 100
    refused = await admit(store, limits, 200, NOON)
    assert not refused.allowed and refused.limit == TOKENS_PER_MINUTE
    assert refused.retry_after == pytest.approx(6.0)
    assert (await admit(store, limits, 200, NOON + 6.0)).allowed


async def test_refund_never_banks_credit_past_a_full_bucket(store: Store) -> None:
    limits = Limits(tokens_per_minute=1000, tokens_per_day=10_000)
    a = await admit(store, limits, 100, NOON)
    # A refund larger than anything counted: the bucket is full, the day counter 0, never negative.
    await store.settle(ACCOUNT, limits, a._replace(reserved=5000), 0, NOON)
    usage = await store.usage(ACCOUNT, limits, NOON)
    assert usage["tokens_remaining"] == 1000 and usage["tokens_today"] == 0
    for _ in range(10):
        assert (await admit(store, limits, 100, NOON)).allowed
    assert not (await admit(store, limits, 100, NOON)).allowed


async def test_too_large(store: Store) -> None:
    limits = Limits(tokens_per_minute=1000, tokens_per_day=5000)
    big = await admit(store, limits, 1001, NOON)
    assert not big.allowed and big.too_large and big.limit == TOKENS_PER_MINUTE
    fits = await admit(store, limits, 1000, NOON)
    assert fits.allowed and not fits.too_large
    full = await admit(store, limits, 1000, NOON)  # no room now, but it will come
    assert not full.allowed and not full.too_large
    daily = await admit(store, Limits(tokens_per_day=500), 501, NOON, account="other")
    assert not daily.allowed and daily.too_large and daily.limit == TOKENS_PER_DAY


# ---- calendar quotas --------------------------------------------------------


async def test_daily_quota_refuses_until_utc_midnight(store: Store) -> None:
    late = utc(2025, 3, 14, 23, 59, 30)
    limits = Limits(tokens_per_day=1000)
    a = await admit(store, limits, 600, late)
    assert a.allowed and a.day == "20250314"
    await store.settle(ACCOUNT, limits, a, 600, late)
    refused = await admit(store, limits, 500, late)
    assert not refused.allowed and refused.limit == TOKENS_PER_DAY
    assert refused.retry_after == pytest.approx(30.0)  # seconds to UTC midnight
    assert not refused.too_large
    assert (await admit(store, limits, 400, late)).allowed  # exactly the quota
    assert not (await admit(store, limits, 1, late)).allowed
    renewed = await admit(store, limits, 500, late + 31)  # 00:00:01 the next day
    assert renewed.allowed and renewed.day == "20250315"
    usage = await store.usage(ACCOUNT, limits, late + 31)
    assert usage["tokens_today"] == 500 and usage["tokens_this_month"] == 1500


async def test_monthly_quota(store: Store) -> None:
    limits = Limits(tokens_per_month=1000)
    assert (await admit(store, limits, 800, utc(2025, 3, 30, 12))).allowed
    last_hour = utc(2025, 3, 31, 23)
    refused = await admit(store, limits, 300, last_hour)  # a new day, the same month
    assert not refused.allowed and refused.limit == TOKENS_PER_MONTH
    assert refused.retry_after == pytest.approx(3600.0)
    assert (await admit(store, limits, 200, last_hour)).allowed
    april = await admit(store, limits, 1000, utc(2025, 4, 1, 0, 0, 1))
    assert april.allowed and april.month == "202504"
    usage = await store.usage(ACCOUNT, limits, utc(2025, 4, 1, 0, 0, 2))
    assert usage["tokens_this_month"] == 1000


# ---- concurrency --------------------------------------------------------------


async def test_concurrency_leases(store: Store) -> None:
    limits = Limits(concurrency=2)
    a = await store.admit(ACCOUNT, limits, 10, NOON, "lease-a")
    b = await store.admit(ACCOUNT, limits, 10, NOON, "lease-b")
    assert a.allowed and a.lease == "lease-a" and b.allowed
    third = await admit(store, limits, 10, NOON)
    assert not third.allowed and third.limit == CONCURRENCY
    assert third.retry_after == CONCURRENCY_RETRY and third.lease is None
    assert (await store.usage(ACCOUNT, limits, NOON))["in_flight"] == 2
    await store.settle(ACCOUNT, limits, a, 10, NOON + 1)  # releases a's slot
    assert (await admit(store, limits, 10, NOON + 1)).allowed
    assert not (await admit(store, limits, 10, NOON + 1)).allowed
    # A lease whose request never settled (a crashed replica) frees its slot at expiry.
    expired = NOON + 1 + LEASE_TTL + 1
    assert (await admit(store, limits, 10, expired)).allowed
    assert (await admit(store, limits, 10, expired)).allowed
    assert not (await admit(store, limits, 10, expired)).allowed


async def test_settlement_is_idempotent(store: Store) -> None:
    # Without a concurrency limit too: the lease is the settlement's token.
    limits = Limits(requests_per_minute=5, tokens_per_day=1000)
    a = await admit(store, limits, 100, NOON)
    assert a.allowed and a.lease is not None
    assert (await store.usage(ACCOUNT, limits, NOON))["in_flight"] == 1
    await store.settle(ACCOUNT, limits, a, 30, NOON)
    # A replay (say, after a reply that timed out) must not apply the delta again.
    await store.settle(ACCOUNT, limits, a, 30, NOON)
    usage = await store.usage(ACCOUNT, limits, NOON)
    assert usage["tokens_today"] == 30 and usage["in_flight"] == 0


async def test_settlement_after_the_lease_expired_keeps_the_reservation(store: Store) -> None:
    limits = Limits(tokens_per_day=1000)
    a = await admit(store, limits, 100, NOON)
    late = NOON + LEASE_TTL + 5
    await admit(store, limits, 1, late)  # sweeps the expired lease
    await store.settle(ACCOUNT, limits, a, 10, late)
    assert (await store.usage(ACCOUNT, limits, late))["tokens_today"] == 101


# ---- atomicity and the Admission ------------------------------------------------


async def test_a_refusal_reserves_nothing(store: Store) -> None:
    limits = Limits(
        requests_per_minute=10, tokens_per_minute=1000, tokens_per_day=5000, tokens_per_month=9000, concurrency=1
    )
    held = await admit(store, limits, 100, NOON)
    before = await store.usage(ACCOUNT, limits, NOON)
    by_concurrency = await admit(store, limits, 100, NOON)
    assert not by_concurrency.allowed and by_concurrency.limit == CONCURRENCY
    assert await store.usage(ACCOUNT, limits, NOON) == before
    await store.settle(ACCOUNT, limits, held, 100, NOON)
    before = await store.usage(ACCOUNT, limits, NOON)
    by_tokens = await admit(store, limits, 950, NOON)  # rpm, quotas and concurrency would pass
    assert not by_tokens.allowed and by_tokens.limit == TOKENS_PER_MINUTE
    assert await store.usage(ACCOUNT, limits, NOON) == before
    quota = Limits(requests_per_minute=10, tokens_per_minute=1000, tokens_per_day=150, concurrency=2)
    assert (await admit(store, quota, 100, NOON, account="q")).allowed
    by_day = await admit(store, quota, 100, NOON, account="q")
    assert not by_day.allowed and by_day.limit == TOKENS_PER_DAY
    assert by_day.requests_remaining == 9 and by_day.tokens_remaining == 900
    usage = await store.usage("q", quota, NOON)
    assert usage["in_flight"] == 1 and usage["tokens_today"] == 100


async def test_first_refusing_limit_is_named_and_the_longest_wait_wins(store: Store) -> None:
    limits = Limits(requests_per_minute=1, tokens_per_day=100)
    assert (await admit(store, limits, 50, NOON)).allowed
    refused = await admit(store, limits, 60, NOON)  # over both rpm (60 s) and the day (12 h)
    assert refused.limit == REQUESTS_PER_MINUTE
    assert refused.retry_after == pytest.approx(12 * 3600.0)


async def test_admission_remaining_and_reset(store: Store) -> None:
    limits = Limits(requests_per_minute=10, tokens_per_minute=1000)
    a = await admit(store, limits, 250, NOON)
    assert a == Admission(
        allowed=True,
        reserved=250,
        lease=a.lease,
        day="20250314",
        month="202503",
        requests_limit=10,
        requests_remaining=9,
        requests_reset=pytest.approx(6.0),
        tokens_limit=1000,
        tokens_remaining=750,
        tokens_reset=pytest.approx(15.0),
    )
    b = await admit(store, limits, 0, NOON + 3)  # request TAT NOON+12: 9 s of backlog
    assert b.requests_remaining == 8 and b.requests_reset == pytest.approx(9.0)
    assert b.tokens_remaining == 800 and b.tokens_reset == pytest.approx(12.0)


async def test_unlimited_never_refuses(store: Store) -> None:
    limits = Limits()
    for _ in range(50):
        a = await admit(store, limits, 10**9, NOON)
        assert a.allowed and a.limit is None and a.lease is not None
        assert a.requests_limit is None and a.tokens_limit is None
    usage = await store.usage(ACCOUNT, limits, NOON)
    assert usage == {"tokens_today": 50 * 10**9, "tokens_this_month": 50 * 10**9, "in_flight": 50}


async def test_usage_reflects_settled_tokens(store: Store) -> None:
    # 1920 tokens/min: one token every 2**-5 s, so the expected numbers are exact.
    limits = Limits(requests_per_minute=100, tokens_per_minute=1920, tokens_per_day=100_000, concurrency=4)
    assert await store.usage(ACCOUNT, limits, NOON) == {
        "tokens_today": 0,
        "tokens_this_month": 0,
        "in_flight": 0,
        "requests_remaining": 100,
        "tokens_remaining": 1920,
    }
    a = await admit(store, limits, 500, NOON)
    usage = await store.usage(ACCOUNT, limits, NOON)
    assert usage["tokens_today"] == 500 and usage["in_flight"] == 1 and usage["tokens_remaining"] == 1420
    await store.settle(ACCOUNT, limits, a, 120, NOON)
    assert await store.usage(ACCOUNT, limits, NOON) == {
        "tokens_today": 120,
        "tokens_this_month": 120,
        "in_flight": 0,
        "requests_remaining": 99,
        "tokens_remaining": 1800,
    }


async def test_same_decisions_as_the_memory_reference(store: Store) -> None:
    """A seeded random workload gives Admissions equal to MemoryStore's, field for field."""
    reference = MemoryStore(lease_ttl=LEASE_TTL)
    rng = random.Random(1234)
    limits = Limits(
        requests_per_minute=7, tokens_per_minute=3000, tokens_per_day=40_000, tokens_per_month=90_000, concurrency=3
    )
    now = utc(2025, 1, 31, 22, 0, 0) + 0.123
    open_: list[Admission] = []
    for _ in range(150):
        now += rng.choice([0.0, 0.25, 1.7, 9.0, 400.0])
        if open_ and rng.random() < 0.4:
            a = open_.pop(rng.randrange(len(open_)))
            actual = max(a.reserved + rng.randint(-600, 600), 0)
            await store.settle(ACCOUNT, limits, a, actual, now)
            await reference.settle(ACCOUNT, limits, a, actual, now)
        else:
            cost, lease_id = rng.randint(0, 1500), lease()
            got = await store.admit(ACCOUNT, limits, cost, now, lease_id)
            assert got == await reference.admit(ACCOUNT, limits, cost, now, lease_id)
            if got.allowed:
                open_.append(got)
        assert await store.usage(ACCOUNT, limits, now) == await reference.usage(ACCOUNT, limits, now)


# ---- detection -------------------------------------------------------------------------

HALF_LIVES = (1800.0, 900.0)  # shorter than the defaults: hours of virtual time show the decay


def observation(rng: random.Random, shared: dict[str, int]) -> Observation:
    """A request from a small pool of everything, so the ring sees repeats and sweeps."""
    flags = 0
    for flag in (COT, LOGPROB_HIGH, HOT_SAMPLING, FLAVORED):
        if rng.random() < 0.3:
            flags |= flag
    bias = rng.choice([0, 0, 0, 17, 4242, 2**32 - 5])
    seed = rng.choice([0, 0, 1, 2, 3, 10**12])
    if bias:
        flags |= BIAS
    if seed:
        flags |= SEEDED
    query = rng.choice([11, 12, 13, 2**31 + 7, rng.randrange(2**32)])
    about = subject(rng)
    return Observation(
        flags=flags | (STANDALONE if about else 0),
        query=query,
        skeleton=rng.choice([100, 101, rng.randrange(2**32)]),
        topic=rng.randrange(12),
        lang=rng.choice([0, 0, 1, 2, 5]),
        bias=bias,
        seed=seed,
        system=rng.choice([0, shared["system"], 987654321]),
        template=rng.choice([0, shared["template"]]),
        suffix=(0, shared["template"], 77)[query % 3],  # drawn from query: the rng sequence stays as it was
        infra=rng.choice([0, shared["infra"], 55]),
        subject=about,
    )


def subject(rng: random.Random) -> int:
    """A stand-alone question's subject (or none): one to three 16-bit words from a small pool, so
    questions revisit a recent subject, and some words recur often enough to be a habit."""
    if rng.random() < 0.3:
        return 0
    words = sorted(rng.sample([1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 0x7FFF, 0xFFFF], rng.randint(1, 3)))
    value = 0
    for word in words:
        value = (value << 16) | word
    return value


def assert_same_admission(got: Admission, want: Admission) -> None:
    """Budgets equal; window and campaign equal field by field, floats to 1e-9."""
    assert got._replace(window=None, campaign=None) == want._replace(window=None, campaign=None)
    assert (got.window is None) == (want.window is None)
    assert (got.campaign is None) == (want.campaign is None)
    if want.window is not None:
        assert got.window is not None
        for name in Window._fields:
            g, w = getattr(got.window, name), getattr(want.window, name)
            if isinstance(w, float | tuple):  # Lua's pow and log differ from Python's in the last bit
                assert g == pytest.approx(w, rel=1e-9, abs=1e-12), name
            else:
                assert type(g) is type(w) and g == w, name
    if want.campaign is not None:
        assert got.campaign is not None
        for kind in ("system", "template", "infra"):
            (ga, gr, gf), (wa, wr, wf) = getattr(got.campaign, kind), getattr(want.campaign, kind)
            assert ga == wa, kind
            assert (gr, gf) == pytest.approx((wr, wf), rel=1e-9, abs=1e-12), kind


async def test_detection_same_as_the_memory_reference(store: Store) -> None:
    """Windows and campaigns equal to MemoryStore's over hours of mixed traffic from 3 accounts."""
    reference = MemoryStore(lease_ttl=LEASE_TTL)
    rng = random.Random(99)
    shared = {"system": 31337, "template": 2**32 - 1, "infra": 4096}
    limits = Limits(requests_per_minute=6, tokens_per_minute=9_000, concurrency=3)
    accounts = ["alice", "bob", "carol"]
    now = utc(2025, 3, 14, 20, 0, 0) + 0.371  # crosses midnight, so the hour slots wrap
    open_: list[tuple[str, Admission]] = []
    account = accounts[0]
    windows = campaigns = refused = served = 0
    seen_windows: list[Window] = []
    seen_campaigns: list[Campaign] = []
    for _ in range(400):
        now += rng.choice([0.0, 0.0, 0.0, 0.0, 0.125, 0.9, 2.5, 7.0, 25.0, 300.0, 1500.0])
        if open_ and rng.random() < 0.45:
            account, a = open_.pop(rng.randrange(len(open_)))
            actual = max(a.reserved + rng.randint(-300, 300), 0)
            outcome = None
            if rng.random() < 0.9:
                ok = rng.random() < 0.8
                served += ok
                outcome = Outcome(rng.randint(0, 3000), rng.choice([0, 40, 499, 500, 2500]), rng.random() < 0.5,
                                  rng.choice([0.0, 0.05, rng.random()]), ok)
            for s in (store, reference):
                await s.settle(account, limits, a, actual, now, outcome, HALF_LIVES)
            if rng.random() < 0.1:  # a replay: must change nothing
                for s in (store, reference):
                    await s.settle(account, limits, a, actual, now, outcome, HALF_LIVES)
        else:
            account = account if rng.random() < 0.7 else rng.choice(accounts)  # bursts, so refusals
            obs = observation(rng, shared) if rng.random() < 0.95 else None
            cost, lease_id = rng.randint(0, 2000), lease()
            got = await store.admit(account, limits, cost, now, lease_id, obs, HALF_LIVES)
            want = await reference.admit(account, limits, cost, now, lease_id, obs, HALF_LIVES)
            assert_same_admission(got, want)
            if got.allowed:
                open_.append((account, got))
                windows += got.window is not None
                seen_windows += [got.window] if got.window is not None else []
                campaigns += got.campaign is not None and got.campaign != Campaign()
                seen_campaigns += [got.campaign] if got.campaign is not None else []
            else:
                refused += 1
    # The sequence exercised what it means to: refusals, settled outcomes, campaigns, and
    # every ring statistic and pacing field away from its default.
    assert refused > 20 and windows > 150 and campaigns > 100 and served > 50
    seen = {name: max(getattr(w, name) for w in seen_windows) for name in _RING_FIELDS}
    assert seen["ring"] == RING, seen
    assert all(v > 1 for v in seen.values()), seen
    assert max(w.risk for w in seen_windows) > 0.1 and max(w.c("completion_tokens") for w in seen_windows) > 1000
    assert max(w.c("revisits") for w in seen_windows) > 1 and max(w.c("standalone") for w in seen_windows) > 2
    assert max(c.system[0] for c in seen_campaigns) == len(accounts)


_RING_FIELDS = ("ring", "same_query", "same_skeleton", "recurring_templates", "distinct_topics", "distinct_langs",
                "biased", "distinct_bias", "seed_sweep", "gaps", "active_hours")


FINGERPRINTS = (("system", 1001), ("template", 1002), ("suffix", 1004), ("infra", 1003))


def fingerprinted(n: int = 0, flags: int = FLAVORED) -> Observation:
    """An observation carrying every kind of campaign fingerprint (and query n)."""
    return Observation(flags=flags, query=n, skeleton=7, topic=n % 5, lang=0, bias=0, seed=0,
                       **{kind: fp for kind, fp in FINGERPRINTS})


async def test_the_accounts_age_counts_from_its_first_request_even_at_time_zero(store: Store) -> None:
    # flavored_volume reads a daily rate over the account's age; a replay's virtual clock may start at 0.
    limits = Limits(requests_per_minute=1000)
    rng = random.Random(11)
    ages = []
    for i, now in enumerate((0.0, 30.0, 3600.0, 90000.0)):
        got = await store.admit(ACCOUNT, limits, 1, now, f"a{i}", observation(rng, {"system": 5, "template": 6, "infra": 7}),
                                 HALF_LIVES)
        assert got.window is not None
        ages.append(got.window.age)
    assert ages == [0.0, 30.0, 3600.0, 90000.0]
    state = await store.detection(ACCOUNT)
    assert state is not None and state.since == 0.0
    assert window_now(state, 100000.0, *HALF_LIVES).age == 100000.0


async def test_campaign_remembers_a_bounded_number_of_accounts(store: Store) -> None:
    reference = MemoryStore(lease_ttl=LEASE_TTL)
    limits = Limits()
    for i in range(CAMPAIGN_ACCOUNTS + 4):
        now = NOON + i
        got = await store.admit(f"member-{i}", limits, 1, now, f"l{i}", fingerprinted(i, flags=FLAVORED * (i % 2)))
        want = await reference.admit(f"member-{i}", limits, 1, now, f"l{i}", fingerprinted(i, flags=FLAVORED * (i % 2)))
        assert_same_admission(got, want)
    assert got.campaign is not None and got.campaign.system[0] == CAMPAIGN_ACCOUNTS
    again = await store.admit("member-0", limits, 1, now, "again", fingerprinted())
    assert again.campaign is not None and again.campaign.system[0] == CAMPAIGN_ACCOUNTS
    assert again.campaign.system[1] == pytest.approx(got.campaign.system[1] + 1.0)


# ---- operator controls (the admin API) -------------------------------------------------


async def test_stored_detection_state_explains_what_admission_saw(store: Store) -> None:
    """The state read back for the admin API gives, at the same instant, the admission's own Window."""
    reference = MemoryStore(lease_ttl=LEASE_TTL)
    rng = random.Random(7)
    limits = Limits(requests_per_minute=1000)
    assert await store.detection(ACCOUNT) is None
    now = NOON + 0.25
    for i in range(RING // 2):  # the ring not yet full: nothing has been dropped from it
        now += rng.choice([0.5, 3.0, 40.0, 700.0])
        obs = observation(rng, {"system": 5, "template": 6, "infra": 7})
        got = await store.admit(ACCOUNT, limits, 10, now, f"l{i}", obs, HALF_LIVES)
        await reference.admit(ACCOUNT, limits, 10, now, f"l{i}", obs, HALF_LIVES)
        state = await store.detection(ACCOUNT)
        assert state is not None and got.window is not None
        assert_same_window(window_now(state, now, *HALF_LIVES), got.window)
        outcome = Outcome(rng.randint(0, 900), rng.choice([0, 600, 2500]), rng.random() < 0.5, rng.random(), True)
        for s in (store, reference):
            await s.settle(ACCOUNT, limits, got, 10, now, outcome, HALF_LIVES)
    got_state, want_state = await store.detection(ACCOUNT), await reference.detection(ACCOUNT)
    assert got_state is not None and want_state is not None
    assert got_state.ring == want_state.ring and got_state.gaps == want_state.gaps
    assert got_state.subjects == want_state.subjects and 8 < len(got_state.subjects) <= SUBJECTS
    assert got_state.short == pytest.approx(want_state.short, rel=1e-9, abs=1e-12)
    assert got_state.risk == pytest.approx(want_state.risk) and got_state.risk > 0
    # An hour later the counters and the risk have decayed, as the detector would see them.
    later = window_now(got_state, now + 3600, *HALF_LIVES)
    assert later.risk == pytest.approx(got_state.risk * 2 ** (-3600 / HALF_LIVES[1]))
    assert later.c("n") == pytest.approx(got_state.short[0] * 2 ** (-3600 / HALF_LIVES[0]))


def assert_same_window(got: Window, want: Window) -> None:
    for name in Window._fields:
        g, w = getattr(got, name), getattr(want, name)
        if isinstance(w, tuple):
            assert g == pytest.approx(w, rel=1e-9, abs=1e-12), name
        elif isinstance(w, float):
            assert g == pytest.approx(w, rel=1e-9, abs=1e-12), name
        else:
            assert g == w, name


async def test_unblock_forgets_detection_and_keeps_budgets(store: Store) -> None:
    limits = Limits(requests_per_minute=3)
    obs = Observation(flags=FLAVORED | COT, query=1, skeleton=2, topic=3, lang=0, bias=0, seed=0,
                      system=0, template=0, suffix=0, infra=0)
    for i in range(3):
        a = await store.admit(ACCOUNT, limits, 100, NOON + i, f"l{i}", obs)
        await store.settle(ACCOUNT, limits, a, 100, NOON + i, Outcome(10, 900, True, 0.9), HALF_LIVES)
    before = await store.usage(ACCOUNT, limits, NOON + 3)
    assert (await store.detection(ACCOUNT)) is not None
    await store.unblock(ACCOUNT)
    assert await store.detection(ACCOUNT) is None
    assert await store.usage(ACCOUNT, limits, NOON + 3) == before  # budgets untouched
    assert not (await store.admit(ACCOUNT, limits, 100, NOON + 3, "refused", obs)).allowed  # rpm still spent
    fresh = await store.admit(ACCOUNT, limits, 100, NOON + 30, "fresh", obs)
    assert fresh.allowed and fresh.window is not None
    assert fresh.window.ring == 0 and fresh.window.risk == 0.0 and fresh.window.c("n") == 1.0
    await store.unblock("never-seen")  # a no-op, not an error


async def test_reset_forgets_budgets_and_detection(store: Store) -> None:
    limits = Limits(requests_per_minute=2, tokens_per_day=1000, concurrency=5)
    obs = Observation(flags=COT, query=1, skeleton=2, topic=3, lang=0, bias=0, seed=0,
                      system=0, template=0, suffix=0, infra=0)
    await store.admit(ACCOUNT, limits, 400, NOON, "a", obs)
    in_flight = await store.admit(ACCOUNT, limits, 400, NOON, "b", obs)
    assert not (await store.admit(ACCOUNT, limits, 1, NOON, "c")).allowed
    await store.reset(ACCOUNT, NOON)
    assert await store.detection(ACCOUNT) is None
    usage = await store.usage(ACCOUNT, limits, NOON)
    assert usage["tokens_today"] == 0 and usage["in_flight"] == 0 and usage["requests_remaining"] == 2
    again = await store.admit(ACCOUNT, limits, 900, NOON, "d", obs)
    assert again.allowed and again.window is not None and again.window.ring == 0
    # A request admitted before the reset settles to nothing: the fresh budgets stay as they are.
    await store.settle(ACCOUNT, limits, in_flight, 50, NOON + 1, Outcome(10, 40, False, 0.9), HALF_LIVES)
    assert (await store.usage(ACCOUNT, limits, NOON + 1))["tokens_today"] == 900


async def test_runtime_allowlist_with_expiry(store: Store) -> None:
    assert await store.overrides(NOON) == {}
    await store.allowlist("forever", None)
    await store.allowlist("for-a-while", NOON + 10)
    assert await store.overrides(NOON) == {"forever": None, "for-a-while": NOON + 10}
    assert await store.overrides(NOON + 10) == {"forever": None}  # expired: left out, and dropped
    assert await store.overrides(NOON) == {"forever": None}
    await store.allowlist("forever", NOON + 99)  # allowlisting again replaces the expiry
    assert await store.overrides(NOON) == {"forever": NOON + 99}
    assert await store.unallowlist("forever") is True
    assert await store.unallowlist("forever") is False
    assert await store.overrides(NOON) == {}


# ---- Redis only ---------------------------------------------------------------------


async def _keys(b: Backend) -> list[bytes]:
    assert b.client is not None
    return [key async for key in b.client.scan_iter(match=f"{b.prefix}*")]


async def test_every_key_has_a_ttl(redis_backend: Backend) -> None:
    store, client = redis_backend.store, redis_backend.client
    assert client is not None
    limits = Limits(requests_per_minute=5, tokens_per_minute=1000, tokens_per_day=900, concurrency=2)
    a = await admit(store, limits, 300, NOON)
    await admit(store, limits, 300, NOON)
    await admit(store, limits, 300, NOON)  # refused (concurrency): must create nothing without a TTL
    await store.settle(ACCOUNT, limits, a, 200, NOON)
    keys = await _keys(redis_backend)
    prefix = redis_backend.prefix.encode()
    suffixes = (b"gcra", b"d:20250314", b"m:202503", b"lease")
    assert sorted(keys) == sorted(prefix + b"{a:acct}:" + suffix for suffix in suffixes)
    for key in keys:
        assert await client.pttl(key) > 0, key


async def test_detection_keys_have_ttls_and_the_ring_is_bounded(redis_backend: Backend) -> None:
    store, client = redis_backend.store, redis_backend.client
    assert client is not None
    limits = Limits(requests_per_minute=1000, concurrency=2)
    for i in range(RING + 6):
        a = await store.admit(ACCOUNT, limits, 10, NOON + i, lease(), fingerprinted(i))
        assert a.allowed and a.window is not None
        await store.settle(ACCOUNT, limits, a, 5, NOON + i, Outcome(10, 600, True, 0.3))
    # Refused (concurrency), with fingerprints never seen: must create nothing.
    held = [await store.admit(ACCOUNT, limits, 10, NOON + 100, lease(), fingerprinted()) for _ in range(2)]
    assert all(a.allowed for a in held)
    novel = fingerprinted()._replace(system=5, template=6, suffix=8, infra=7)
    assert not (await store.admit(ACCOUNT, limits, 10, NOON + 100, lease(), novel)).allowed
    prefix = redis_backend.prefix
    suffixes = ("gcra", "d:20250314", "m:202503", "lease", "detbin", "ringbin")
    account = [f"{prefix}{{a:{ACCOUNT}}}:{suffix}" for suffix in suffixes]
    campaign = [f"{prefix}{{c:{kind}:{fp}}}{acc}" for kind, fp in FINGERPRINTS for acc in (":bin", ":acc")]
    keys = await _keys(redis_backend)
    assert sorted(keys) == sorted(k.encode() for k in account + campaign)
    for key in keys:
        assert await client.pttl(key) > 0, key
    det_ttl = await client.pttl(account[4])
    assert 2 * 86400_000 < det_ttl <= 3 * 86400_000
    assert await client.strlen(account[5]) == RING * 25  # RING entries of 25 bytes
    assert len({key_slot(k.encode()) for k in campaign[::2]}) == len(FINGERPRINTS)  # one slot per fingerprint


async def _command_calls(b: Backend) -> dict[str, int]:
    """evalsha and eval calls so far, summed over the server or every cluster primary."""
    client = b.client
    assert client is not None
    if isinstance(client, RedisCluster):
        nodes = client.get_primaries()
        stats = [await client.execute_command("INFO", "commandstats", target_nodes=node) for node in nodes]
    else:
        stats = [await client.info("commandstats")]
    return {
        name: sum(s.get(f"cmdstat_{name}", {}).get("calls", 0) for s in stats) for name in ("evalsha", "eval")
    }


async def test_an_observed_admission_is_one_round_trip(
    redis_backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One EVALSHA in all on a standalone server (admit.lua counts the fingerprints too); on a cluster
    one for the account, then one per fingerprint on the fingerprints' nodes."""
    from redis.asyncio.connection import AbstractConnection

    store, client = redis_backend.store, redis_backend.client
    cluster = isinstance(client, RedisCluster)
    limits = Limits(concurrency=1)
    warm = await store.admit(ACCOUNT, limits, 1, NOON, lease(), fingerprinted())  # scripts cached from here on
    await store.settle(ACCOUNT, limits, warm, 1, NOON, Outcome(1, 1, False, 0.0))
    writes = 0
    send = AbstractConnection.send_packed_command

    async def counted(self: AbstractConnection, *args: Any, **kwargs: Any) -> None:
        nonlocal writes
        writes += 1
        await send(self, *args, **kwargs)

    from proxy.store.lane import Lane

    execute = Lane.execute

    async def counted_lane(self: Lane, commands: list[tuple[Any, ...]]) -> list[Any]:
        nonlocal writes
        writes += 1  # one execute, one write (the standalone request path's script calls)
        return await execute(self, commands)

    async def count(call: Awaitable[T]) -> tuple[T, int, dict[str, int]]:
        """The call's result, its writes to a socket (round trips) and its script calls."""
        nonlocal writes
        before = await _command_calls(redis_backend)
        writes = 0
        with monkeypatch.context() as m:
            m.setattr(AbstractConnection, "send_packed_command", counted)
            m.setattr(Lane, "execute", counted_lane)
            result = await call
        after = await _command_calls(redis_backend)
        return result, writes, {k: after[k] - before[k] for k in after}

    admitted, trips, calls = await count(store.admit(ACCOUNT, limits, 1, NOON, lease(), fingerprinted()))
    assert admitted.allowed and admitted.campaign is not None and admitted.campaign.system[1] > 1
    assert calls == {"evalsha": 1 + len(FINGERPRINTS) if cluster else 1, "eval": 0}
    if isinstance(client, RedisCluster):  # the account's node, then the fingerprints' nodes in parallel
        nodes = {client.nodes_manager.get_node_from_slot(key_slot(f"{{c:{k}:{fp}}}".encode())).name
                 for k, fp in FINGERPRINTS}  # fmt: skip
        assert trips == 1 + len(nodes)
    else:
        assert trips == 1
    refused, trips, calls = await count(store.admit(ACCOUNT, limits, 1, NOON, lease(), fingerprinted()))
    assert not refused.allowed
    assert calls == {"evalsha": 1, "eval": 0} and trips == 1  # refused: no fingerprint counted anywhere
    _, trips, calls = await count(store.settle(ACCOUNT, limits, admitted, 1, NOON, Outcome(5, 5, True, 0.2)))
    assert calls == {"evalsha": 1, "eval": 0} and trips == 1
    anonymous = fingerprinted()._replace(system=0, template=0, suffix=0, infra=0)
    bare, trips, calls = await count(store.admit(ACCOUNT, limits, 1, NOON, lease(), anonymous))
    assert bare.allowed and bare.window is not None and calls == {"evalsha": 1, "eval": 0} and trips == 1


async def test_detection_after_script_flush(redis_backend: Backend) -> None:
    """NOSCRIPT on the admit or the campaign calls: repeated with EVAL, counted once, like memory."""
    client, store = redis_backend.client, redis_backend.store
    assert client is not None and isinstance(store, RedisStore)
    reference = MemoryStore(lease_ttl=LEASE_TTL)
    limits = Limits(concurrency=2)
    now = NOON
    held: list[Admission] = []

    async def both(obs: Observation) -> Admission:
        lease_id = lease()
        got = await store.admit(ACCOUNT, limits, 1, now, lease_id, obs)
        assert_same_admission(got, await reference.admit(ACCOUNT, limits, 1, now, lease_id, obs))
        return got

    held.append(await both(fingerprinted(1)))
    await client.script_flush()  # nothing cached: every call of the pipeline answers NOSCRIPT
    held.append(await both(fingerprinted(2)))
    await client.script_flush()
    assert not (await both(fingerprinted(3))).allowed  # refused after NOSCRIPT: counted nowhere
    outcome = Outcome(100, 900, True, 0.4)
    await client.script_flush()
    for a in held:
        now += 1
        await store.settle(ACCOUNT, limits, a, 1, now, outcome)
        await reference.settle(ACCOUNT, limits, a, 1, now, outcome)
    now += 1
    fourth = await both(fingerprinted(4))
    assert fourth.allowed  # every script cached again
    # The campaign script cached, the admit script not (then the reverse): each uncached one repeated
    # with EVAL, once.
    store._admit = _fresh(store._admit)
    assert (await both(fingerprinted(5))).allowed
    assert not (await both(fingerprinted(6))).allowed
    now += 1
    await store.settle(ACCOUNT, limits, fourth, 1, now, outcome)
    await reference.settle(ACCOUNT, limits, fourth, 1, now, outcome)
    store._campaign = _fresh(store._campaign)
    assert (await both(fingerprinted(7))).allowed


def _fresh(script: _Script) -> _Script:
    """The same script under a new sha1: never cached, so its first EVALSHA answers NOSCRIPT."""
    body = script.body + f"\n-- {uuid.uuid4().hex}\n".encode()
    return _Script(body=body, sha=hashlib.sha1(body).hexdigest())  # noqa: S324


async def test_reset_and_unblock_touch_only_that_accounts_keys(redis_backend: Backend) -> None:
    limits = Limits(requests_per_minute=100, concurrency=5)
    for account in (ACCOUNT, "other"):
        await redis_backend.store.admit(account, limits, 10, NOON, lease(), fingerprinted(1))
    before = set(await _keys(redis_backend))
    mine = {k for k in before if b"{a:acct}" in k}
    assert {k.rsplit(b":", 1)[-1] for k in mine} >= {b"detbin", b"ringbin", b"gcra", b"lease"}
    await redis_backend.store.unblock(ACCOUNT)
    assert set(await _keys(redis_backend)) == before - {k for k in mine if k.endswith((b":detbin", b":ringbin"))}
    await redis_backend.store.reset(ACCOUNT, NOON)
    assert set(await _keys(redis_backend)) == before - mine  # the other account and the campaigns untouched
    await redis_backend.store.allowlist(ACCOUNT, None)
    key = redis_backend.prefix.encode() + b"{overrides}"
    assert key in set(await _keys(redis_backend))  # one hash, its own slot, shared by every replica
    assert await redis_backend.store.unallowlist(ACCOUNT)


async def test_one_accounts_keys_share_one_cluster_slot(redis_backend: Backend) -> None:
    limits = Limits(requests_per_minute=5, tokens_per_minute=1000, tokens_per_day=900, concurrency=2)
    accounts = ["alice", "org:42/user-7", "ünïcode", "a}b{c"]
    for account in accounts:
        assert (await admit(redis_backend.store, limits, 10, NOON, account=account)).allowed
    keys = await _keys(redis_backend)
    assert len(keys) == 4 * len(accounts)
    for account in accounts:
        mine = [k for k in keys if k.startswith(f"{redis_backend.prefix}{{a:{account}}}:".encode())]
        assert len(mine) == 4
        assert len({key_slot(k) for k in mine}) == 1, mine


async def test_admit_after_script_flush(redis_backend: Backend) -> None:
    client = redis_backend.client
    assert client is not None
    limits = Limits(requests_per_minute=2)
    assert (await admit(redis_backend.store, limits, 1, NOON)).allowed
    await client.script_flush()
    store = redis_backend.store
    assert isinstance(store, RedisStore)
    sha = store._admit.sha  # what the store sends: its prologues, then admit.lua
    assert not any(await _script_exists(client, sha))
    assert (await admit(redis_backend.store, limits, 1, NOON)).allowed  # NOSCRIPT, then EVAL
    assert any(await _script_exists(client, sha))  # EVAL cached it: later calls are one EVALSHA
    assert not (await admit(redis_backend.store, limits, 1, NOON)).allowed


async def _script_exists(client: Redis | RedisCluster, sha: str) -> list[bool]:
    """Whether each server (each cluster primary) has the script cached."""
    if isinstance(client, RedisCluster):
        nodes = client.get_primaries()
        return [bool((await client.execute_command("SCRIPT EXISTS", sha, target_nodes=node))[0]) for node in nodes]
    return [bool(x) for x in await client.script_exists(sha)]


async def test_concurrent_clients_admit_exactly_the_limit(redis_backend: Backend) -> None:
    limit, tasks, per_task = 40, 8, 15
    limits = Limits(requests_per_minute=limit)

    async def worker() -> int:
        results = [await admit(redis_backend.store, limits, 1, NOON) for _ in range(per_task)]
        return sum(a.allowed for a in results)

    counts = await asyncio.gather(*(worker() for _ in range(tasks)))
    assert sum(counts) == limit


# ---- building from config -----------------------------------------------------------


async def _round_trip(store: Store) -> None:
    try:
        await store.ping()
        limits = Limits(requests_per_minute=1)
        account = uuid.uuid4().hex
        assert (await admit(store, limits, 1, NOON, account=account)).allowed
        assert not (await admit(store, limits, 1, NOON, account=account)).allowed
    finally:
        await store.close()


async def test_build_store_standalone_tcp_unix_and_credentials(redis_standalone: RedisProcess) -> None:
    await _round_trip(build_store(StoreConfig(backend="redis", url=redis_standalone.url, timeout_ms=2000)))
    assert redis_standalone.unixsocket is not None
    await _round_trip(build_store(StoreConfig(backend="redis", url=f"unix://{redis_standalone.unixsocket}")))
    user = f"sluice-{uuid.uuid4().hex[:8]}"
    with redis_standalone.client() as admin:
        admin.acl_setuser(user, enabled=True, passwords=["+s3cret"], keys=["*"], commands=["+@all"])
    try:
        url = f"redis://{user}:s3cret@127.0.0.1:{redis_standalone.port}/0"
        await _round_trip(build_store(StoreConfig(backend="redis", url=url, timeout_ms=2000)))
        wrong = build_store(StoreConfig(backend="redis", url=url.replace("s3cret", "nope"), timeout_ms=2000))
        with pytest.raises(StoreUnavailable):
            await wrong.ping()
        await wrong.close()
    finally:
        with redis_standalone.client() as admin:
            admin.acl_deluser(user)


async def test_build_store_cluster(redis_cluster: RedisClusterProcesses) -> None:
    config = StoreConfig(backend="redis", url=redis_cluster.url, cluster=True, timeout_ms=2000)
    await _round_trip(build_store(config))


@pytest.mark.parametrize("cluster", [False, True])
async def test_unreachable_redis_raises_store_unavailable(cluster: bool) -> None:
    url = f"redis://127.0.0.1:{free_port()}"  # nothing listens there
    store = build_store(StoreConfig(backend="redis", url=url, cluster=cluster, timeout_ms=200))
    try:
        with pytest.raises(StoreUnavailable):
            await admit(store, Limits(requests_per_minute=1), 1, NOON)
        with pytest.raises(StoreUnavailable):
            await store.usage(ACCOUNT, Limits(), NOON)
    finally:
        await store.close()


async def test_memory_store_stays_bounded_under_a_flood_of_accounts() -> None:
    from proxy.store.memory import MemoryStore

    store = MemoryStore(max_accounts=1000)
    limits = Limits(requests_per_minute=10, tokens_per_day=1000)
    for i in range(20_000):
        await store.admit(f"flood-{i}", limits, 5, NOON, f"lease-{i}")
    assert len(store) == 1000
    # The most recent accounts are the ones kept.
    assert (await store.usage("flood-19999", limits, NOON))["tokens_today"] == 5
    assert (await store.usage("flood-0", limits, NOON))["tokens_today"] == 0
