"""Store failure policy: a circuit breaker, a local fallback, settlements that wait for the store.

A dead or slow Redis must neither take the API down (policy ``open``: each
replica enforces its share of every limit locally and says so in a metric and
once in the log) nor add seconds to requests (a tight timeout, then the
breaker skips the store entirely until a probe succeeds). Policy ``closed``
answers 503 instead. Settlements that cannot reach the store are queued and
replayed when it returns, so no usage is lost to an outage.

Settlements are not awaited by the request: ``settle_soon`` queues one, and
what is queued in one turn of the event loop goes to the store in one pipeline
at the next (one task and one round trip for many requests' settlements,
instead of a task and a round trip each; as prompt as before). Each is still
its own script call, idempotent by its lease.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import replace
from typing import TYPE_CHECKING, Any, NamedTuple

from proxy.config import FailurePolicy, Limits
from proxy.detect import HALF_LIVES, Observation, Outcome
from proxy.limits import Admission, Calendar
from proxy.store.base import Store, StoreUnavailable
from proxy.store.memory import MemoryStore
from proxy.windows import DetectionState

if TYPE_CHECKING:
    from proxy.metrics import Metrics

log = logging.getLogger("sluice.store")

PENDING_SETTLEMENTS = 100_000  # bounded: an endless outage must not exhaust memory
# After its timeout, a store call gets this many more turns of the event loop before it expires
# (see _Deadline), each at least ROUND long.
GRACE_ROUNDS = 3
ROUND = 0.001


def longest_wait(timeout: float) -> float:
    """A backstop for the client library's own socket timeouts, far behind FailSafeStore's deadline:
    those count the proxy's queue as the store's time, so they must not fire first."""
    return max(timeout * 20, 1.0)


class _Deadline:
    """A store call's timeout, counted in the store's time rather than in the proxy's own queue.

    Under saturation one turn of the event loop can take longer than ``store.timeout_ms``: Redis
    has answered, but the reply sits unread in the socket (or its callbacks in the ready queue)
    behind other requests' work, and a plain timeout, whose timer runs before that I/O is read,
    blames the store: the breaker opens and a busy proxy goes onto its local fail-open limits. So
    when the timeout has passed, the call is given GRACE_ROUNDS more turns of the loop (a reply
    that had arrived is read and handed over in two) and expires only if still nothing came.
    On an idle loop that adds about GRACE_ROUNDS milliseconds to a real timeout.
    """

    __slots__ = ("_handle", "_loop", "_rounds", "_scope")

    def __init__(self, loop: asyncio.AbstractEventLoop, scope: asyncio.Timeout, timeout: float) -> None:
        self._loop = loop
        self._scope = scope
        self._rounds = 0
        self._handle = loop.call_later(timeout, self._check)

    def _check(self) -> None:
        if self._rounds < GRACE_ROUNDS:
            # A timer, not call_soon: it fires on the next turn, after that turn has polled the sockets.
            self._rounds += 1
            self._handle = self._loop.call_later(ROUND, self._check)
            return
        self._scope.reschedule(self._loop.time())  # expire: the awaiting call raises TimeoutError

    def cancel(self) -> None:
        self._handle.cancel()


class CircuitBreaker:
    """Closed until ``threshold`` consecutive failures; then open for ``cooldown``
    seconds; then half-open: one probe call decides."""

    __slots__ = ("threshold", "cooldown", "failures", "opened_at", "probing")

    def __init__(self, threshold: int, cooldown: float) -> None:
        self.threshold = threshold
        self.cooldown = cooldown
        self.failures = 0
        self.opened_at: float | None = None
        self.probing = False

    @property
    def is_open(self) -> bool:
        return self.opened_at is not None

    def allow(self, now: float) -> bool:
        if self.opened_at is None:
            return True
        if self.probing or now - self.opened_at < self.cooldown:
            return False
        self.probing = True
        return True

    def success(self) -> None:
        self.failures = 0
        self.opened_at = None
        self.probing = False

    def failure(self, now: float) -> None:
        self.failures += 1
        if self.probing or self.failures >= self.threshold:
            self.opened_at = now
        self.probing = False


# A NamedTuple, like the records it carries: immutable and cheap to build, one per request.
class Settlement(NamedTuple):
    """One settlement, as queued for the store (and for replay after an outage)."""

    account: str
    limits: Limits
    admission: Admission
    actual: int
    now: float
    outcome: Outcome | None
    half_lives: tuple[float, float]


def _void(
    account: str, limits: Limits, cost: int, now: float, lease: str, half_lives: tuple[float, float]
) -> Settlement:
    """The settlement that undoes an admission whose answer never came back (actual cost 0)."""
    cal = Calendar.at(now)
    admission = Admission(allowed=True, reserved=cost, lease=lease, day=cal.day, month=cal.month)
    return Settlement(account, limits, admission, 0, now, None, half_lives)


def share_of(limits: Limits, replicas: int) -> Limits:
    """One replica's share of every limit, for local enforcement during an outage."""
    if replicas <= 1:
        return limits

    def part(value: int | None) -> int | None:
        return None if value is None else max(value // replicas, 1)

    return replace(
        limits,
        requests_per_minute=part(limits.requests_per_minute),
        tokens_per_minute=part(limits.tokens_per_minute),
        tokens_per_day=part(limits.tokens_per_day),
        tokens_per_month=part(limits.tokens_per_month),
        concurrency=part(limits.concurrency),
    )


class FailSafeStore:
    """Wraps a remote store with the failure policy; same interface plus ``policy``."""

    def __init__(
        self,
        primary: Store,
        *,
        timeout: float,
        breaker: CircuitBreaker,
        replicas: int = 1,
        fallback: MemoryStore | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.primary = primary
        self.name = primary.name
        self.timeout = timeout
        self.breaker = breaker
        self.replicas = replicas
        self.fallback = fallback or MemoryStore()
        self.metrics = metrics
        self.pending: deque[Settlement] = deque(maxlen=PENDING_SETTLEMENTS)
        self._flush: asyncio.Task[None] | None = None
        # Settlements queued by settle_soon for the next batch; the task that will send them (not yet
        # started); the batches being sent.
        self._outbox: list[Settlement] = []
        self._opening: asyncio.Task[None] | None = None
        self._sending: set[asyncio.Task[None]] = set()
        self._degraded_logged = False
        self._in_process = isinstance(primary, MemoryStore)

    # ---- health bookkeeping ---------------------------------------------

    def _ok(self) -> None:
        was_open = self.breaker.is_open
        self.breaker.success()
        if was_open or self._degraded_logged:
            log.warning("store recovered", extra={"store": self.name, "queued_settlements": len(self.pending)})
            self._degraded_logged = False
            if self.metrics is not None:
                self.metrics.store_fail_open.set(0)
        if self.pending and (self._flush is None or self._flush.done()):
            self._flush = asyncio.get_running_loop().create_task(self._replay_pending())

    def _failed(self, op: str, exc: BaseException) -> None:
        self.breaker.failure(time.monotonic())
        if self.metrics is not None:
            self.metrics.store_errors.labels(op).inc()
        if not self._degraded_logged:
            self._degraded_logged = True
            log.warning("store unavailable", extra={"store": self.name, "error": exc.__class__.__name__, "op": op})

    async def _call(self, op: str, coro: Any) -> Any:
        if self._in_process:  # the memory store never waits on anything: no timer, nothing to fail
            return await coro
        try:
            async with asyncio.timeout(None) as scope:
                deadline = _Deadline(asyncio.get_running_loop(), scope, self.timeout)
                try:
                    result = await coro
                finally:
                    deadline.cancel()
        except (StoreUnavailable, TimeoutError, OSError) as exc:
            self._failed(op, exc)
            raise StoreUnavailable(op) from exc
        self._ok()
        return result

    # ---- the store interface ----------------------------------------------

    async def admit(
        self,
        account: str,
        limits: Limits,
        cost: int,
        now: float,
        lease: str,
        policy: FailurePolicy = "open",
        observation: Observation | None = None,
        half_lives: tuple[float, float] = HALF_LIVES,
    ) -> Admission:
        if self._in_process:  # the memory store: a plain call, nothing to wait on or to fail
            return self.primary.admit_now(  # type: ignore[attr-defined, no-any-return]
                account, limits, cost, now, lease, observation, half_lives
            )
        if self.breaker.allow(time.monotonic()):
            try:
                return await self._call(
                    "admit", self.primary.admit(account, limits, cost, now, lease, observation, half_lives)
                )
            except StoreUnavailable:
                # The script may still run after we stopped waiting (a reply that timed out, a paused
                # server that resumes): its reservation and lease would then stand with nobody to settle
                # them, charging a request that was refused or served on the local share. Settling that
                # lease for nothing once the store is back refunds it; if it never ran, that is a no-op.
                self.pending.append(_void(account, limits, cost, now, lease, half_lives))
        # Breaker open or call failed: the store is skipped without waiting on it.
        if policy == "closed":
            raise StoreUnavailable("admit")
        if self.metrics is not None:
            self.metrics.store_fail_open.set(1)
        # Detection goes on locally too: this replica's view of the account.
        local = self.fallback.admit_now(
            account, share_of(limits, self.replicas), cost, now, lease, observation, half_lives
        )
        return local._replace(degraded=True)

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
        """Settle and wait for it (replay, tests); the request path uses ``settle_soon``."""
        if admission.degraded:
            self.fallback.settle_now(
                account, share_of(limits, self.replicas), admission, actual, now, outcome, half_lives
            )
            return
        item = Settlement(account, limits, admission, actual, now, outcome, half_lives)
        if not self.breaker.allow(time.monotonic()):
            self.pending.append(item)
            return
        try:
            await self._call("settle", self._settle_primary(item))
        except StoreUnavailable:
            self.pending.append(item)

    def settle_soon(
        self,
        account: str,
        limits: Limits,
        admission: Admission,
        actual: int,
        now: float,
        outcome: Outcome | None = None,
        half_lives: tuple[float, float] = HALF_LIVES,
    ) -> None:
        """Settle without waiting: in process at once, on a remote store in the next batch.

        Raises only for an in-process settlement that failed (a defect); a remote one that
        fails is logged and counted by the sender, one the store cannot take now is queued."""
        if admission.degraded:
            self.fallback.settle_now(
                account, share_of(limits, self.replicas), admission, actual, now, outcome, half_lives
            )
        elif self._in_process:
            self.primary.settle_now(  # type: ignore[attr-defined]
                account, limits, admission, actual, now, outcome, half_lives
            )
        else:
            self._outbox.append(Settlement(account, limits, admission, actual, now, outcome, half_lives))
            if self._opening is None:
                task = self._opening = asyncio.get_running_loop().create_task(self._send_settlements())
                self._sending.add(task)
                task.add_done_callback(self._sending.discard)

    async def _send_settlements(self) -> None:
        """Send, as one batch, what was queued until this task first ran (the turn that created it)."""
        batch, self._outbox = self._outbox, []
        self._opening = None  # what is queued from now on opens the next batch, sent alongside this one
        try:
            await self._settle_batch(batch)
        except Exception:  # noqa: BLE001 - a settlement must never take the proxy down
            if self.metrics is not None:
                self.metrics.store_errors.labels("settle").inc()
            log.warning("settlement failed for %d requests; their reservations stand", len(batch), exc_info=True)

    async def _settle_batch(self, batch: list[Settlement]) -> None:
        if not self.breaker.allow(time.monotonic()):
            self.pending.extend(batch)
            return
        started = time.perf_counter()
        try:
            results = await self._call("settle", self._settle_many(batch))
        except StoreUnavailable:
            self.pending.extend(batch)
            return
        finally:
            if self.metrics is not None:
                # Every settlement in the batch waited this round trip.
                observe = self.metrics.child(self.metrics.store_duration, "settle").observe
                elapsed = time.perf_counter() - started
                for _ in batch:
                    observe(elapsed)
        failed = [r for r in results if r is not None]
        if failed:
            if self.metrics is not None:
                self.metrics.store_errors.labels("settle").inc(len(failed))
            log.warning("settlement failed for %d requests; their reservations stand", len(failed),
                        exc_info=failed[0])

    async def _settle_many(self, batch: list[Settlement]) -> list[BaseException | None]:
        """Each settlement's error (None: settled); raises when the store could not be asked."""
        many = getattr(self.primary, "settle_many", None)
        if many is not None:
            return await many(batch)  # type: ignore[no-any-return]
        results: list[BaseException | None] = []
        for item in batch:
            try:
                await self._settle_primary(item)
                results.append(None)
            except (StoreUnavailable, TimeoutError, OSError):
                raise
            except Exception as exc:  # noqa: BLE001 - returned, as settle_many does
                results.append(exc)
        return results

    async def drain(self, timeout: float) -> None:
        """Wait (up to ``timeout``) for the settlements queued by settle_soon to be sent."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._sending and loop.time() < deadline:  # batches opened meanwhile are waited for too
            await asyncio.wait(list(self._sending), timeout=deadline - loop.time())

    def _settle_primary(self, item: Settlement) -> Any:
        return self.primary.settle(
            item.account, item.limits, item.admission, item.actual, item.now, item.outcome, item.half_lives
        )

    async def _replay_pending(self) -> None:
        while self.pending:
            item = self.pending.popleft()
            try:
                async with asyncio.timeout(None) as scope:
                    deadline = _Deadline(asyncio.get_running_loop(), scope, self.timeout)
                    try:
                        await self._settle_primary(item)
                    finally:
                        deadline.cancel()
            except (StoreUnavailable, TimeoutError, OSError) as exc:
                self.pending.appendleft(item)
                self._failed("settle", exc)
                return

    async def usage(self, account: str, limits: Limits, now: float) -> dict[str, Any]:
        return await self._call("usage", self.primary.usage(account, limits, now))

    # ---- operator controls (the admin API; never on the request path) ------------

    async def detection(self, account: str) -> DetectionState | None:
        return await self._call("detection", self.primary.detection(account))

    async def reset(self, account: str, now: float) -> None:
        # The local fallback too: what it enforced during an outage is forgotten as well.
        self.fallback.reset_now(account)
        await self._call("reset", self.primary.reset(account, now))

    async def unblock(self, account: str) -> None:
        self.fallback.unblock_now(account)
        await self._call("unblock", self.primary.unblock(account))

    async def allowlist(self, account: str, until: float | None) -> None:
        await self._call("allowlist", self.primary.allowlist(account, until))

    async def unallowlist(self, account: str) -> bool:
        return bool(await self._call("unallowlist", self.primary.unallowlist(account)))

    async def overrides(self, now: float) -> dict[str, float | None]:
        # Polled every second by each replica: while the breaker is open it waits for the
        # request path's probe rather than hammering a store that is down.
        if self.breaker.is_open:
            raise StoreUnavailable("overrides")
        result: dict[str, float | None] = await self._call("overrides", self.primary.overrides(now))
        return result

    async def ping(self) -> None:
        await self._call("ping", self.primary.ping())

    async def close(self) -> None:
        await self.drain(max(self.timeout * 10, 1.0))
        if self._flush is not None:
            await asyncio.wait([self._flush], timeout=max(self.timeout * 10, 1.0))
        await self.primary.close()
