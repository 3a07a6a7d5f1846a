"""Redis store: budgets shared by every replica, one script call per decision.

Each admit and each settle is one Lua script (``admit.lua``, ``settle.lua``)
run with EVALSHA, so a decision is atomic and costs one round trip. The sha1
is computed here; on NOSCRIPT (a restarted or flushed server, a new cluster
node) the call is repeated once with EVAL, which also caches the script.
SCRIPT LOAD is never used: some Redis proxies refuse it.

Key layout, for account ``A`` and prefix ``sl:`` (every key shares the hash
tag ``{a:A}``, so one account lives in one cluster slot and a script may
touch all of them):

- ``sl:{a:A}:gcra``           hash ``req``/``tok``: the request and token TATs
- ``sl:{a:A}:d:YYYYMMDD``     tokens used that UTC day
- ``sl:{a:A}:m:YYYYMM``       tokens used that UTC month
- ``sl:{a:A}:lease``          zset of lease ids scored by expiry

Every key carries a TTL, so idle accounts cost nothing. Time (``now`` and the
calendar) always comes from the caller, never from Redis TIME, so replay on a
virtual clock gives the same decisions as the memory store.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, TypeVar

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import (
    ClusterError,
    NoScriptError,
    OutOfMemoryError,
    ReadOnlyError,
    RedisClusterException,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from proxy.config import Limits, StoreConfig
from proxy.detect import HALF_LIVES, Observation, Outcome
from proxy.limits import CONCURRENCY_RETRY, LIMIT_ORDER, Admission, Calendar
from proxy.store.base import StoreUnavailable, build_admission, usage_dict

DEFAULT_PREFIX = "sl:"
# Kept after both TATs are in the past: covers replicas whose clocks lag.
GCRA_TTL_MARGIN = 60.0

# Errors meaning "the store cannot answer now": the failure policy decides.
# Anything else (a script bug, a wrong type) is a defect and propagates as is.
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    RedisConnectionError,  # also BusyLoadingError, AuthenticationError, MaxConnectionsError
    RedisTimeoutError,
    TimeoutError,  # asyncio.TimeoutError is this builtin since 3.11
    ClusterError,  # ClusterDownError, MasterDownError
    RedisClusterException,  # no reachable startup node, SlotNotCoveredError
    TryAgainError,  # slot migrating
    ReadOnlyError,  # talking to a replica after a failover
    OutOfMemoryError,  # maxmemory reached with noeviction: writes refused
    OSError,
)

RedisClient = Redis | RedisCluster
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _Script:
    body: bytes
    sha: str

    @classmethod
    def load(cls, name: str) -> _Script:
        body = resources.files("proxy.store").joinpath(name).read_bytes()
        return cls(body=body, sha=hashlib.sha1(body).hexdigest())  # noqa: S324 - Redis names scripts by sha1


@dataclass(frozen=True, slots=True)
class _Keys:
    """The keys of one account's budgets for one day and month."""

    gcra: str
    day: str
    month: str
    lease: str

    @classmethod
    def of(cls, prefix: str, account: str, day: str, month: str) -> _Keys:
        base = f"{prefix}{{a:{account}}}"
        return cls(gcra=f"{base}:gcra", day=f"{base}:d:{day}", month=f"{base}:m:{month}", lease=f"{base}:lease")

    def all(self) -> list[str]:
        return [self.gcra, self.day, self.month, self.lease]


class RedisStore:
    name = "redis"

    def __init__(self, client: RedisClient, *, lease_ttl: float = 960.0, prefix: str = DEFAULT_PREFIX) -> None:
        # A brace in the prefix would become the hash tag and put every account in one slot.
        if "{" in prefix or "}" in prefix:
            raise ValueError(f"key prefix must not contain braces, got {prefix!r}")
        self._client = client
        self._lease_ttl = lease_ttl
        self._prefix = prefix
        self._admit = _Script.load("admit.lua")
        self._settle = _Script.load("settle.lua")

    @classmethod
    def from_config(cls, config: StoreConfig, *, prefix: str = DEFAULT_PREFIX) -> RedisStore:
        """A store on ``config.url`` (redis://, rediss://, unix://; credentials in the URL)."""
        if not config.url:
            raise ValueError("store.url is required for the redis backend")
        timeout = config.timeout_ms / 1000.0
        options: dict[str, Any] = {
            "socket_timeout": timeout,
            "socket_connect_timeout": timeout,
            # No client retries: they would blow the latency budget, and a script
            # whose reply timed out may have run, so a blind retry could reserve twice.
            # The server's breaker and failure policy handle outages instead.
            "retry": Retry(NoBackoff(), 0),
        }
        client: RedisClient
        if config.cluster:
            client = RedisCluster.from_url(config.url, **options)
        else:
            client = Redis.from_url(config.url, **options)
        return cls(client, lease_ttl=config.lease_ttl_s, prefix=prefix)

    def _keys(self, account: str, day: str, month: str) -> _Keys:
        return _Keys.of(self._prefix, account, day, month)

    async def admit(
        self,
        account: str,
        limits: Limits,
        cost: int,
        now: float,
        lease: str,
        observation: Observation | None = None,
        half_lives: tuple[float, float] = HALF_LIVES,
    ) -> Admission:
        cal = Calendar.at(now)
        keys = self._keys(account, cal.day, cal.month)
        args = [
            repr(now),
            str(cost),
            lease,
            repr(float(self._lease_ttl)),
            repr(cal.day_left),
            repr(cal.month_left),
            _limit(limits.requests_per_minute),
            _limit(limits.tokens_per_minute),
            _limit(limits.tokens_per_day),
            _limit(limits.tokens_per_month),
            _limit(limits.concurrency),
            repr(CONCURRENCY_RETRY),
            repr(GCRA_TTL_MARGIN),
        ]
        reply = await self._run(self._admit, keys.all(), args)
        allowed, too_large, request_tat, token_tat, *waits = reply
        return build_admission(
            limits,
            now,
            cal,
            allowed=bool(int(allowed)),
            waits={name: float(w) for name, w in zip(LIMIT_ORDER, waits, strict=True) if w},
            too_large=bool(int(too_large)),
            cost=cost,
            lease=lease,
            request_tat=float(request_tat),
            token_tat=float(token_tat),
        )

    async def settle(
        self,
        account: str,
        limits: Limits,
        admission: Admission,
        actual: int,
        now: float,
        outcome: Outcome | None = None,
        half_lives: tuple[float, float] = HALF_LIVES,
    ) -> None:
        # The admission's day and month, not now's: a request spanning midnight is
        # corrected where it was counted.
        keys = self._keys(account, admission.day, admission.month)
        args = [
            repr(now),
            str(actual - admission.reserved),
            admission.lease or "",
            _limit(limits.tokens_per_minute),
            repr(GCRA_TTL_MARGIN),
        ]
        await self._run(self._settle, keys.all(), args)

    async def usage(self, account: str, limits: Limits, now: float) -> dict[str, Any]:
        cal = Calendar.at(now)
        keys = self._keys(account, cal.day, cal.month)

        async def read() -> list[Any]:
            await self._ready()
            # One round trip; read-only, so no transaction is needed.
            pipe = self._client.pipeline(transaction=False)
            pipe.hmget(keys.gcra, ["req", "tok"])
            pipe.get(keys.day)
            pipe.get(keys.month)
            pipe.zcount(keys.lease, f"({now!r}", "+inf")
            return list(await pipe.execute())

        (request_tat, token_tat), day_used, month_used, leases = await _guard(read)
        return usage_dict(
            float(request_tat or 0),
            float(token_tat or 0),
            int(day_used or 0),
            int(month_used or 0),
            int(leases),
            limits,
            now,
        )

    async def ping(self) -> None:
        await _guard(self._client.ping)

    async def close(self) -> None:
        await self._client.aclose()

    async def _ready(self) -> None:
        """Make sure a cluster client knows the slot map before it routes a command.

        redis-py's RedisCluster picks a command's node before it discovers the
        cluster: on a cold client (or one reset by a failover) concurrent first
        commands all go to one node, and the storm of MOVED replies makes it close
        every connection, failing the others mid-flight. Discovering first, under
        redis-py's own lock, avoids that; once discovered this costs no round trip.
        """
        if isinstance(self._client, RedisCluster):
            await self._client.initialize()

    async def _run(self, script: _Script, keys: Sequence[str], args: Sequence[str]) -> Any:
        async def call() -> Any:
            await self._ready()
            try:
                return await self._client.evalsha(script.sha, len(keys), *keys, *args)
            except NoScriptError:
                # First call on this node since it started or was flushed: send the
                # body once; Redis caches it and later EVALSHAs find it.
                return await self._client.eval(script.body, len(keys), *keys, *args)

        return await _guard(call)


def _limit(value: int | None) -> str:
    """A limit as a script argument: "" is unlimited."""
    return "" if value is None else str(value)


async def _guard(call: Callable[[], Awaitable[T]]) -> T:
    """Run one store call, turning "cannot answer" errors into StoreUnavailable."""
    try:
        return await call()
    except _UNAVAILABLE as exc:
        raise StoreUnavailable(f"redis: {type(exc).__name__}: {exc}") from exc
