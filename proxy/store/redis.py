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
- ``sl:{a:A}:detbin``         string: detection state, doubles, big-endian
  (``_STATE_HEAD``, state.lua): the numbers of short and long counters and of
  subjects, ``t``, ``last``, ``gap_mean``, ``gap_var``, ``gaps``, ``risk``,
  ``risk_t``, ``since``, the short and long (decayed) counters, the 24 hour
  slots and the subjects of the last stand-alone questions, oldest first. It
  was a hash of numbers as text under ``:det``, until parsing and formatting
  them was a third of the scripts' time in Redis
- ``sl:{a:A}:ringbin``        string: the last ``RING`` observations, oldest
  first, each 25 bytes: query, topic, bias as 32-bit unsigned, the skeleton's
  opening and closing halves 16 bits each, lang one byte, and the seed a
  double, big-endian (``_RING_RECORD``). It was a list of
  ``"query,skeleton,topic,lang,bias,seed"`` under ``:ring``: reading that,
  Redis made six strings per entry, half of admit.lua's time

and, shared by every replica (its own hash tag):

- ``sl:{overrides}``          hash: the runtime allowlist, account -> expiry
  (epoch seconds, "" for none). Set by operators through the admin API, read
  by each replica's poller (never on the request path). The one key without a
  TTL: an allowlisting without expiry is meant to last; expired entries are
  dropped by the next read.

and per campaign fingerprint (``kind`` is system, template, suffix or infra; each
fingerprint has its own hash tag, so its own slot):

- ``sl:{c:kind:F}:bin``       string: ``t``, ``requests``, ``flavored`` as three
  doubles (fingerprint.lua); it was a hash of numbers as text under ``sl:{c:kind:F}``
- ``sl:{c:kind:F}:acc``       set of at most ``CAMPAIGN_ACCOUNTS`` account ids

Detection is the arithmetic of ``proxy/windows.py`` (the memory store's), done
in the scripts: ``admit.lua`` folds an admitted request's observation into the
account's window in the same call as the budgets, ``settle.lua`` its outcome.
On a standalone server, where a script may touch any key, ``admit.lua`` also
counts the request behind its campaign fingerprints (their keys passed after
the account's): one EVALSHA per request. On a cluster the fingerprints live in
other slots, so ``campaign.lua`` counts them, one call per fingerprint in one
pipeline after the admit (a second round trip, only for an admitted request
with fingerprints). Either way only admitted requests are counted, as in the
memory store.

Every key carries a TTL, so idle accounts cost nothing. Time (``now`` and the
calendar) always comes from the caller, never from Redis TIME, so replay on a
virtual clock gives the same decisions as the memory store.
"""

from __future__ import annotations

import hashlib
import logging
import math
import struct
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any, TypeVar

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import Connection, SSLConnection, UnixDomainSocketConnection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import (
    AuthenticationError,
    ClusterError,
    NoPermissionError,
    NoScriptError,
    OutOfMemoryError,
    ReadOnlyError,
    RedisClusterException,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import DataError
from redis.exceptions import TimeoutError as RedisTimeoutError

from proxy.config import ConfigError, Limits, StoreConfig
from proxy.detect import DAY, FLAVORED, HALF_LIVES, LONG_COUNTERS, RING, SHORT_COUNTERS, Observation, Outcome, Window
from proxy.limits import CONCURRENCY_RETRY, LIMIT_ORDER, Admission, Calendar
from proxy.store.base import StoreUnavailable, build_admission, usage_dict
from proxy.store.guard import longest_wait
from proxy.store.lane import Lane
from proxy.windows import CAMPAIGN_ACCOUNTS, CAMPAIGN_HALF_LIFE, GAP_ALPHA, DetectionState, campaign_of

if TYPE_CHECKING:
    from proxy.store.guard import Settlement

log = logging.getLogger("sluice.store")

DEFAULT_PREFIX = "sl:"
# Kept after both TATs are in the past: covers replicas whose clocks lag.
GCRA_TTL_MARGIN = 60.0
# An account's detection state outlives three days of silence: by then its
# short counters are gone and its day-scale ones down to an eighth.
DETECTION_TTL = 3 * DAY
# A fingerprint's counters halve every 6 hours: after two days, 1/256 is left.
CAMPAIGN_TTL = 2 * DAY
# Admission adds one request to the day-scale counters (AccountWindow.admit).
_LONG_ADMIT = tuple(1.0 if i == 0 else 0.0 for i in range(len(LONG_COUNTERS)))
# Bounds of the per-store caches of formatted arguments and key names (cleared when full).
_CACHE_ENTRIES = 4096

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

# Replies meaning "who you are is not allowed", whatever exception class redis-py maps them to.
_AUTH_REPLIES = ("NOAUTH", "WRONGPASS", "NOPERM", "invalid username-password", "Authentication required")

RedisClient = Redis | RedisCluster
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _Script:
    body: bytes
    sha: str

    @classmethod
    def load(cls, name: str, *prologues: str) -> _Script:
        """``prologues``: scripts prepended, in order: wire.lua (packed arguments), state.lua (the
        detection state's layout), fingerprint.lua (the campaign count that admit.lua and campaign.lua
        share)."""
        files = resources.files("proxy.store")
        body = b"\n".join(files.joinpath(part).read_bytes() for part in (*prologues, name))
        return cls(body=body, sha=hashlib.sha1(body).hexdigest())  # noqa: S324 - Redis names scripts by sha1


@dataclass(frozen=True, slots=True)
class _Call:
    """One script call, to be sent alone or in a pipeline."""

    script: _Script
    keys: Sequence[str]
    args: Sequence[str]


@dataclass(frozen=True, slots=True)
class _Keys:
    """The keys of one account's budgets for one day and month, and its detection state."""

    gcra: str
    day: str
    month: str
    lease: str
    det: str
    ring: str

    @classmethod
    def of(cls, prefix: str, account: str, day: str, month: str) -> _Keys:
        base = f"{prefix}{{a:{account}}}"
        return cls(
            gcra=f"{base}:gcra",
            day=f"{base}:d:{day}",
            month=f"{base}:m:{month}",
            lease=f"{base}:lease",
            det=f"{base}:detbin",
            ring=f"{base}:ringbin",
        )

    def admit(self) -> list[str]:
        return [self.gcra, self.day, self.month, self.lease, self.det, self.ring]

    def settle(self) -> list[str]:
        return [self.gcra, self.day, self.month, self.lease, self.det]


class RedisStore:
    name = "redis"

    def __init__(self, client: RedisClient, *, lease_ttl: float = 960.0, prefix: str = DEFAULT_PREFIX) -> None:
        # A brace in the prefix would become the hash tag and put every account in one slot.
        if "{" in prefix or "}" in prefix:
            raise ValueError(f"key prefix must not contain braces, got {prefix!r}")
        self._client = client
        self._lease_ttl = float(lease_ttl)
        self._prefix = prefix
        self._admit = _Script.load("admit.lua", "wire.lua", "state.lua", "fingerprint.lua")
        self._settle = _Script.load("settle.lua", "wire.lua", "state.lua")
        self._campaign = _Script.load("campaign.lua", "fingerprint.lua")
        self._campaigns_failing = False  # logged once per run of failures
        # Formatted once, not per request: key names per (account, day, month); the scripts' constant
        # arguments, the increments' text and the fingerprints' key names (_remember).
        self._key_cache: dict[tuple[str, str, str], _Keys] = {}
        self._remembered: dict[Any, Any] = {}
        self._admit_tail = f"{CONCURRENCY_RETRY!r} {GCRA_TTL_MARGIN!r}"
        # The request path's script calls bypass redis-py on a standalone server (store/lane.py);
        # a cluster routes by slot, so it stays on redis-py's cluster client.
        self._lane: Lane | None = None
        self._cluster = isinstance(client, RedisCluster)  # once: RedisCluster's isinstance check is slow
        if isinstance(client, Redis):
            pool = client.connection_pool
            self._lane = Lane(pool, stale_after=pool.connection_kwargs.get("socket_timeout") or 5.0)

    @classmethod
    def from_config(cls, config: StoreConfig, *, prefix: str = DEFAULT_PREFIX) -> RedisStore:
        """A store on ``config.url`` (redis://, rediss://, unix://; credentials in the URL)."""
        if not config.url:
            raise ValueError("store.url is required for the redis backend")
        # The store timeout proper is FailSafeStore's (store/guard.py), which knows when the proxy's own
        # loop lagged; redis-py's socket timeouts, which do not, are only a backstop behind it.
        timeout = longest_wait(config.timeout_ms / 1000.0)
        options: dict[str, Any] = {
            "socket_timeout": timeout,
            "socket_connect_timeout": timeout,
            # No client retries: they would blow the latency budget, and a script
            # whose reply timed out may have run, so a blind retry could reserve twice.
            # The server's breaker and failure policy handle outages instead.
            "retry": Retry(NoBackoff(), 0),
            # The scripts' replies carry packed doubles: bytes (config refuses a URL asking otherwise).
            "decode_responses": False,
        }
        if config.url.startswith("rediss://"):
            # The server's certificate is always verified (redis-py's default); these only say against what.
            tls = {"ssl_ca_certs": config.tls_ca_file, "ssl_certfile": config.tls_cert_file,
                   "ssl_keyfile": config.tls_key_file}
            options.update({k: v for k, v in tls.items() if v is not None})
        client: RedisClient
        if config.cluster:
            client = RedisCluster.from_url(config.url, **options)
        else:
            client = Redis.from_url(config.url, **options)
            pool = client.connection_pool  # connections are made lazily: swapping the class now covers all
            if _hiredis_pack is not None and pool.connection_class in _C_PACKING:
                pool.connection_class = _C_PACKING[pool.connection_class]
        return cls(client, lease_ttl=config.lease_ttl_s, prefix=prefix)

    def _keys(self, account: str, day: str, month: str) -> _Keys:
        cache = self._key_cache
        found = cache.get((account, day, month))
        if found is None:
            if len(cache) >= _CACHE_ENTRIES:
                cache.clear()
            found = cache[account, day, month] = _Keys.of(self._prefix, account, day, month)
        return found

    def _remember(self, key: Any, make: Callable[[], T]) -> T:
        """``make()``, remembered under ``key``: the formatted text, or key names, of a few recurring
        values (the caller's key names what it is)."""
        cache = self._remembered
        found = cache.get(key)
        if found is None:
            if len(cache) >= _CACHE_ENTRIES:
                cache.clear()
            found = cache[key] = make()
        return found

    def _campaign_keys(self, kind: str, fingerprint: int) -> tuple[str, str]:
        """A fingerprint's two keys: its numbers, its set of account ids."""
        base = f"{self._prefix}{{c:{kind}:{fingerprint}}}"
        return f"{base}:bin", f"{base}:acc"

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
        # admit.lua's packed arguments (see its prologue): the lease, then the budget numbers.
        budget = (
            f"{now!r} {cost} {self._lease_ttl!r} {cal.day_left!r} {cal.month_left!r} "
            f"{_packed(limits.requests_per_minute)} {_packed(limits.tokens_per_minute)} "
            f"{_packed(limits.tokens_per_day)} {_packed(limits.tokens_per_month)} {_packed(limits.concurrency)} "
            f"{self._admit_tail}"
        )
        args = [lease, budget]
        if observation is None:
            reply = await self._run(self._admit, keys.admit(), args)
            counts: dict[str, tuple[int, float, float]] = {}
        else:
            args.append(self._observation_text(observation, half_lives))
            try:  # _guard's work, without its closure and coroutine: this runs for every request
                reply, counts = await self._observe(account, now, keys, args, observation)
            except _UNAVAILABLE as exc:
                raise _unavailable(exc) from exc
        allowed, too_large, request_tat, token_tat = reply[:4]
        admitted = bool(int(allowed))
        observed = admitted and observation is not None
        return build_admission(
            limits,
            now,
            cal,
            allowed=admitted,
            waits={name: float(w) for name, w in zip(LIMIT_ORDER, reply[4:9], strict=True) if w},
            too_large=bool(int(too_large)),
            cost=cost,
            lease=lease,
            request_tat=float(request_tat),
            token_tat=float(token_tat),
            window=_window(reply[9], now, half_lives[1]) if observed else None,
            campaign=campaign_of(counts) if observed else None,
        )

    def _observation_text(self, obs: Observation, half_lives: tuple[float, float]) -> str:
        """admit.lua's detection arguments (ARGV 14 on, packed): constants, the ring entry, the subject,
        increments."""
        constants = self._remember(("det", half_lives[0]), lambda: _observation_constants(half_lives[0]))
        # The increments follow from the flags alone: one text per combination seen.
        increments = self._remember(("inc", obs.flags), lambda: _admit_increments(obs))
        entry = f"{obs.query},{obs.skeleton},{obs.topic},{obs.lang},{obs.bias},{obs.seed}"
        return f"{constants} {entry} {obs.subject} {increments}"

    def _campaign_common(self, account: str, now: float, flavored: bool) -> list[str]:
        """campaign.lua's arguments (a cluster's fingerprint calls): admit.lua's campaign constants, unpacked."""
        return [repr(now), account, *_campaign_constants(flavored).split()]

    async def _observe(
        self, account: str, now: float, keys: _Keys, args: list[str], obs: Observation
    ) -> tuple[list[Any], dict[str, tuple[int, float, float]]]:
        """The admit call with an observation, and the counts of its campaign fingerprints.

        Memory counts a fingerprint only for an admitted request; so do both paths here.
        """
        admit_keys = keys.admit()
        kinds = obs.fingerprints()
        if not kinds:
            if self._cluster:
                await self._ready()
            return await self._call(self._admit, admit_keys, args), {}
        flavored = bool(obs.flags & FLAVORED)
        if not self._cluster:
            # One server: admit.lua counts the fingerprints itself, if it admitted the request (one EVALSHA).
            # The fingerprints' keys, remembered per set of fingerprints: a client's recur request after request.
            admit_keys += self._remember(
                ("keys", kinds), lambda: [key for kind, fp in kinds for key in self._campaign_keys(kind, fp)]
            )
            args.append(self._remember(("camp", flavored), lambda: _campaign_constants(flavored)))
            args.append(account)
            reply = await self._call(self._admit, admit_keys, args)
            if len(reply) < 11:  # refused: nothing counted
                return reply, {}
            packed = struct.unpack(f">{3 * len(kinds)}d", reply[10])
            return reply, {kind: (int(packed[i]), packed[i + 1], packed[i + 2])
                           for (kind, _), i in zip(kinds, range(0, 3 * len(kinds), 3), strict=True)}
        # The fingerprints are in other slots, likely on other nodes: no script
        # may read the admit's outcome there, so they follow it, if admitted.
        await self._ready()
        reply = await self._call(self._admit, admit_keys, args)
        if not int(reply[0]):
            return reply, {}
        common = self._campaign_common(account, now, flavored)
        calls = [_Call(self._campaign, self._campaign_keys(kind, fp), common) for kind, fp in kinds]
        try:
            replies = await self._pipeline(calls)
        except _UNAVAILABLE as exc:
            # The budgets are decided and reserved: losing a fingerprint's node
            # costs this request its campaign counts, not its admission.
            if not self._campaigns_failing:
                self._campaigns_failing = True
                log.warning("campaign counts unavailable", extra={"error": f"{type(exc).__name__}: {exc}"})
            return reply, {}
        self._campaigns_failing = False
        return reply, {kind: (int(r[0]), float(r[1]), float(r[2])) for (kind, _), r in zip(kinds, replies, strict=True)}

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
        await self._run(self._settle, *self._settle_call(account, limits, admission, actual, now, outcome, half_lives))

    def _settle_call(
        self,
        account: str,
        limits: Limits,
        admission: Admission,
        actual: int,
        now: float,
        outcome: Outcome | None,
        half_lives: tuple[float, float],
    ) -> tuple[list[str], list[str]]:
        """settle.lua's keys and arguments."""
        # The admission's day and month, not now's: a request spanning midnight is
        # corrected where it was counted.
        keys = self._keys(account, admission.day, admission.month)
        # settle.lua's packed arguments (see its prologue): the lease, the budget numbers, the outcome.
        args = [
            admission.lease or "",
            f"{now!r} {actual - admission.reserved} {_packed(limits.tokens_per_minute)} {GCRA_TTL_MARGIN!r}",
        ]
        if outcome is not None:
            short, long = outcome.settle_increments()
            constants = self._remember(("settle", half_lives[0]), lambda: _settle_constants(half_lives[0]))
            args.append(f"{constants} {float(outcome.risk)!r} {1 if outcome.served else 0} {len(short)} "
                        + _numbers(short + long))
        return keys.settle(), args

    async def settle_many(self, batch: Sequence[Settlement]) -> list[BaseException | None]:
        """Many settlements in one pipeline (one write, one round trip on a standalone server).

        Each is its own settle.lua call, as ``settle`` makes it. Returns each one's error
        (None: settled); raises StoreUnavailable when the store could not be asked, or did
        not answer them all (settlement is idempotent by the lease: replaying them is safe)."""
        calls = [
            _Call(self._settle, *self._settle_call(i.account, i.limits, i.admission, i.actual, i.now, i.outcome,
                                                   i.half_lives))
            for i in batch
        ]

        async def send() -> list[Any]:
            if self._cluster:
                await self._ready()
            return await self._pipeline(calls, raise_errors=False)

        replies = await _guard(send)
        for r in replies:
            if isinstance(r, _UNAVAILABLE):
                raise StoreUnavailable(f"redis: {type(r).__name__}: {r}") from r
        return [r if isinstance(r, BaseException) else None for r in replies]

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

    async def detection(self, account: str) -> DetectionState | None:
        keys = self._keys(account, "", "")

        async def read() -> list[Any]:
            await self._ready()
            pipe = self._client.pipeline(transaction=False)  # one slot: one round trip
            pipe.get(keys.det)
            pipe.get(keys.ring)
            return list(await pipe.execute())

        state, ring = await _guard(read)
        return _detection_state(state, ring)

    async def reset(self, account: str, now: float) -> None:
        cal = Calendar.at(now)
        keys = self._keys(account, cal.day, cal.month)
        await self._delete([keys.gcra, keys.day, keys.month, keys.lease, keys.det, keys.ring])

    async def unblock(self, account: str) -> None:
        keys = self._keys(account, "", "")
        await self._delete([keys.det, keys.ring])

    async def _delete(self, keys: list[str]) -> None:
        async def delete() -> Any:
            await self._ready()
            # One account's keys share one slot: a single DEL, atomic on a cluster too.
            return await self._client.execute_command("DEL", *keys)

        await _guard(delete)

    async def allowlist(self, account: str, until: float | None) -> None:
        await self._run_command("HSET", self._overrides_key, account, "" if until is None else repr(float(until)))

    async def unallowlist(self, account: str) -> bool:
        return bool(await self._run_command("HDEL", self._overrides_key, account))

    async def overrides(self, now: float) -> dict[str, float | None]:
        raw = await self._run_command("HGETALL", self._overrides_key)
        pairs = raw.items() if isinstance(raw, dict) else zip(raw[::2], raw[1::2], strict=True)
        out: dict[str, float | None] = {}
        expired = []
        for field, value in pairs:
            account = field.decode() if isinstance(field, bytes) else str(field)
            until = float(value) if value not in (b"", "") else None
            if until is not None and until <= now:
                expired.append(account)
            else:
                out[account] = until
        if expired:
            await self._run_command("HDEL", self._overrides_key, *expired)
        return out

    @property
    def _overrides_key(self) -> str:
        return f"{self._prefix}{{overrides}}"

    async def _run_command(self, *args: Any) -> Any:
        async def call() -> Any:
            await self._ready()
            return await self._client.execute_command(*args)

        return await _guard(call)

    async def ping(self) -> None:
        await _guard(self._client.ping)

    async def verify(self) -> None:
        """One PING at start-up: credentials Redis refuses are a config error, not an outage.

        Left to the failure policy, a wrong password would look like Redis being
        down forever (fail-open on local limits). An unreachable server is only
        logged: it may come up after the proxy does.
        """
        try:
            await self._client.ping()
        except Exception as exc:  # noqa: BLE001 - classified below, re-raised if it is not ours
            refused = _refused_credentials(exc)
            if refused is not None:
                # redis-py's messages name the problem, never the password; the URL is not repeated.
                raise ConfigError("store.url", f"Redis refused the credentials: {refused}") from None
            if not isinstance(exc, _UNAVAILABLE):
                raise
            log.warning("store unreachable at start-up", extra={"store": self.name, "error": type(exc).__name__})

    async def close(self) -> None:
        if self._lane is not None:
            await self._lane.close()
        await self._client.aclose()

    async def _ready(self) -> None:
        """Make sure a cluster client knows the slot map before it routes a command.

        redis-py's RedisCluster picks a command's node before it discovers the
        cluster: on a cold client (or one reset by a failover) concurrent first
        commands all go to one node, and the storm of MOVED replies makes it close
        every connection, failing the others mid-flight. Discovering first, under
        redis-py's own lock, avoids that; once discovered this costs no round trip.
        """
        if self._cluster:
            await self._client.initialize()

    async def _run(self, script: _Script, keys: Sequence[str], args: Sequence[str]) -> Any:
        async def call() -> Any:
            if self._cluster:
                await self._ready()
            return await self._call(script, keys, args)

        return await _guard(call)

    async def _call(self, script: _Script, keys: Sequence[str], args: Sequence[str]) -> Any:
        """One script call (its parts, not a _Call: one object fewer for every request)."""
        if self._lane is not None:
            (reply,) = await self._lane.execute([("EVALSHA", script.sha, len(keys), *keys, *args)])
            if isinstance(reply, NoScriptError):
                (reply,) = await self._lane.execute([("EVAL", script.body, len(keys), *keys, *args)])
            if isinstance(reply, BaseException):
                raise reply
            return reply
        try:
            return await self._client.evalsha(script.sha, len(keys), *keys, *args)
        except NoScriptError:
            # First call on this node since it started or was flushed: send the
            # body once; Redis caches it and later EVALSHAs find it.
            return await self._client.eval(script.body, len(keys), *keys, *args)

    async def _pipeline(self, calls: Sequence[_Call], *, raise_errors: bool = True) -> list[Any]:
        """Script calls in one pipeline (one round trip per node), NOSCRIPT handled.

        Calls answered NOSCRIPT did not run; they are sent again with EVAL, in
        order, in a second pipeline.
        """
        replies = await self._send(calls, sha=True)
        redo = [i for i, r in enumerate(replies) if isinstance(r, NoScriptError)]
        if redo:
            for i, r in zip(redo, await self._send([calls[i] for i in redo], sha=False), strict=True):
                replies[i] = r
        if raise_errors:
            for r in replies:
                if isinstance(r, BaseException):
                    raise r
        return replies

    async def _send(self, calls: Sequence[_Call], *, sha: bool) -> list[Any]:
        if self._lane is not None:
            return await self._lane.execute([
                ("EVALSHA", c.script.sha, len(c.keys), *c.keys, *c.args) if sha
                else ("EVAL", c.script.body, len(c.keys), *c.keys, *c.args)
                for c in calls
            ])
        pipe = self._client.pipeline(transaction=False)
        for c in calls:
            # execute_command: redis-py's cluster pipeline blocks its evalsha() method
            # (scripts are cached per node), not the command, which routes by its keys.
            if sha:
                pipe.execute_command("EVALSHA", c.script.sha, len(c.keys), *c.keys, *c.args)
            else:
                pipe.execute_command("EVAL", c.script.body, len(c.keys), *c.keys, *c.args)
        return list(await pipe.execute(raise_on_error=False))


try:
    from hiredis import pack_command as _hiredis_pack
except ImportError:  # pragma: no cover - hiredis is a dependency; redis-py's own packer still works
    _hiredis_pack = None


class _CPacking:
    """Commands packed by hiredis (C) instead of redis-py's asyncio packer (Python).

    An admit carries ~100 script arguments (the observation's counters); packing
    them in Python was a fifth of the proxy's CPU per request under load.
    redis-py's sync client packs with hiredis already; its asyncio one does not.
    """

    def pack_command(self, *args: Any) -> list[bytes]:
        if isinstance(args[0], str):  # "CONFIG GET": the server wants the words as arguments
            args = (*args[0].encode().split(), *args[1:])
        elif b" " in args[0]:
            args = (*args[0].split(), *args[1:])
        try:
            return [_hiredis_pack(args)]  # type: ignore[misc]
        except TypeError as exc:
            raise DataError(str(exc)) from exc


class _Conn(_CPacking, Connection):
    pass


class _SSLConn(_CPacking, SSLConnection):
    pass


class _UnixConn(_CPacking, UnixDomainSocketConnection):
    pass


_C_PACKING: dict[type, type] = {Connection: _Conn, SSLConnection: _SSLConn, UnixDomainSocketConnection: _UnixConn}


def _packed(value: int | None) -> str:
    """A limit in admit.lua's packed arguments: "-" is unlimited."""
    return "-" if value is None else str(value)


def _campaign_constants(flavored: bool) -> str:
    """admit.lua's campaign arguments (its packed ARGV[4]): flavored, half-life, accounts cap, TTL."""
    return f"{1 if flavored else 0} {CAMPAIGN_HALF_LIFE!r} {CAMPAIGN_ACCOUNTS} {CAMPAIGN_TTL!r}"


def _numbers(values: Sequence[float]) -> str:
    """Numbers as the scripts' packed arguments take them; zeros (most increments) as "0": a float's
    repr is the dear part."""
    return " ".join(["0" if not x else repr(x) for x in values])


def _admit_increments(obs: Observation) -> str:
    """admit.lua's count of short counters, then the short and the long increments of an admission."""
    short = obs.admit_increments()
    return f"{len(short)} {_numbers([*short, *_LONG_ADMIT])}"


def _settle_constants(half_life: float) -> str:
    """settle.lua's ARGV 6 to 8: the short half-life, the long one, detection TTL."""
    return f"{float(half_life)!r} {DAY!r} {DETECTION_TTL!r}"


def _observation_constants(half_life: float) -> str:
    """admit.lua's ARGV 14 to 18: the short half-life, the long one, ring size, gap alpha, detection TTL."""
    return f"{float(half_life)!r} {DAY!r} {RING} {GAP_ALPHA!r} {DETECTION_TTL!r}"


# admit.lua's window reply: the short and long counters, then 16 numbers (ring statistics, pacing, risk).
_WINDOW_REPLY = struct.Struct(f">{len(SHORT_COUNTERS) + len(LONG_COUNTERS) + 16}d")
# The detection state's head (state.lua): three counts, then eight numbers.
_STATE_HEAD = struct.Struct(">11d")


def _window(reply: bytes, now: float, risk_half_life: float) -> Window:
    """The Window from admit.lua's detection reply; the stored risk decayed here, as memory does."""
    n, m = len(SHORT_COUNTERS), len(LONG_COUNTERS)
    values = _WINDOW_REPLY.unpack(reply)  # the counts are whole numbers, exact as doubles
    (ring, same_query, same_skeleton, skeletons, topics, langs, biased, distinct_bias, seed_sweep,
     gap_mean, gap_var, gaps, active, stored, stored_t, since) = values[n + m :]  # fmt: skip
    return Window(  # positional, in Window's field order: built for every request
        values[:n],  # counters
        values[n : n + m],  # long_counters
        int(ring),
        int(same_query),
        int(same_skeleton),
        int(skeletons),  # recurring_templates
        int(topics),  # distinct_topics
        int(langs),  # distinct_langs
        int(biased),
        int(distinct_bias),
        int(seed_sweep),
        gap_mean,
        gap_var,
        int(gaps),
        int(active),  # active_hours
        stored * math.exp2(-max(now - stored_t, 0.0) / risk_half_life) if stored else 0.0,  # risk
        now - since,  # age
    )


# admit.lua's RECORD: one ring entry (query, the skeleton's two halves, topic, lang, bias, seed).
_RING_RECORD = struct.Struct(">IHHIBId")


def _detection_state(state: bytes | None, ring: bytes | None) -> DetectionState | None:
    """admit.lua's detection state and ring, read back as the memory store keeps them."""
    if not state:
        return None
    head = _STATE_HEAD.unpack_from(state)
    n_short, n_long, n_subjects = (int(x) for x in head[:3])
    t, last, gap_mean, gap_var, gaps, risk, risk_t, since = head[3:]
    rest = struct.unpack_from(f">{n_short + n_long + 24 + n_subjects}d", state, _STATE_HEAD.size)
    short, long = rest[:n_short], rest[n_short : n_short + n_long]
    hours, subjects = rest[n_short + n_long : n_short + n_long + 24], rest[n_short + n_long + 24 :]

    def sized(values: tuple[float, ...], n: int) -> tuple[float, ...]:
        return (values + (0.0,) * n)[:n]  # counters stored by another version: missing ones are 0

    return DetectionState(
        t=t,
        short=sized(short, len(SHORT_COUNTERS)),
        long=sized(long, len(LONG_COUNTERS)),
        ring=tuple((query, (opening << 16) | closing, topic, lang, bias, int(seed))
                   for query, opening, closing, topic, lang, bias, seed in _RING_RECORD.iter_unpack(ring or b"")),
        last=last,
        gap_mean=gap_mean,
        gap_var=gap_var,
        gaps=int(gaps),
        hours=hours,
        risk=risk,
        risk_t=risk_t,
        since=since,
        subjects=tuple(int(x) for x in subjects),
    )


def _refused_credentials(exc: BaseException | None) -> str | None:
    """The server's reason if exc (or what caused it) is an authentication or ACL refusal."""
    while exc is not None:
        text = str(exc)
        if isinstance(exc, (AuthenticationError, NoPermissionError)) or text.startswith(_AUTH_REPLIES):
            return f"{type(exc).__name__}: {text}"
        exc = exc.__cause__ or exc.__context__
    return None


async def _guard(call: Callable[[], Awaitable[T]]) -> T:
    """Run one store call, turning "cannot answer" errors into StoreUnavailable."""
    try:
        return await call()
    except _UNAVAILABLE as exc:
        raise _unavailable(exc) from exc


def _unavailable(exc: BaseException) -> StoreUnavailable:
    return StoreUnavailable(f"redis: {type(exc).__name__}: {exc}")
