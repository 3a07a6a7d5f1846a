"""In-process store: the embedded default for one replica, replay, and fail-open.

Bounded: at most ``max_accounts`` accounts are kept, least recently used first
out, so a flood of distinct keys cannot exhaust the pod. An evicted account
comes back with fresh budgets; that is the price of a single-replica store, and
why production runs the Redis backend.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from proxy.detect import FLAVORED, HALF_LIVES, Campaign, Observation, Outcome
from proxy.windows import AccountWindow, DetectionState, FingerprintWindow, campaign_of, state_of

from proxy.config import Limits
from proxy.limits import (
    CONCURRENCY,
    CONCURRENCY_RETRY,
    REQUESTS_PER_MINUTE,
    TOKENS_PER_DAY,
    TOKENS_PER_MINUTE,
    TOKENS_PER_MONTH,
    Admission,
    Calendar,
    gcra,
    settled_tat,
)
from proxy.store.base import build_admission, usage_dict


# Without a concurrency limit, expired leases are swept only past this many.
_LEASE_SWEEP = 64


class _AccountBudget:
    __slots__ = ("request_tat", "token_tat", "day", "day_used", "month", "month_used", "leases", "window")

    def __init__(self) -> None:
        self.request_tat = 0.0
        self.token_tat = 0.0
        self.day = ""
        self.day_used = 0
        self.month = ""
        self.month_used = 0
        self.leases: dict[str, float] = {}
        self.window: AccountWindow | None = None  # detection state, once the account is observed


class MemoryStore:
    name = "memory"

    def __init__(self, max_accounts: int = 100_000, lease_ttl: float = 960.0) -> None:
        self._accounts: OrderedDict[str, _AccountBudget] = OrderedDict()
        self._max_accounts = max_accounts
        self._lease_ttl = lease_ttl
        self._fingerprints: OrderedDict[tuple[str, int], FingerprintWindow] = OrderedDict()
        # The runtime allowlist: account -> expiry (None: none). Set by operators, so small.
        self._allowed: dict[str, float | None] = {}

    def __len__(self) -> int:
        return len(self._accounts)

    def _budget(self, account: str) -> _AccountBudget:
        budget = self._accounts.get(account)
        if budget is None:
            budget = self._accounts[account] = _AccountBudget()
            while len(self._accounts) > self._max_accounts:
                self._accounts.popitem(last=False)
        else:
            self._accounts.move_to_end(account)
        return budget

    def admit_now(
        self,
        account: str,
        limits: Limits,
        cost: int,
        now: float,
        lease: str,
        observation: Observation | None = None,
        half_lives: tuple[float, float] = HALF_LIVES,
    ) -> Admission:
        b = self._budget(account)
        cal = Calendar.at(now)
        if b.day != cal.day:
            b.day, b.day_used = cal.day, 0
        if b.month != cal.month:
            b.month, b.month_used = cal.month, 0
        waits: dict[str, float] = {}
        too_large = False

        # Leases leave at settlement; only a crashed request's lease lingers to its TTL.
        if limits.concurrency is not None or len(b.leases) > _LEASE_SWEEP:
            for lease_id, expiry in list(b.leases.items()):
                if expiry <= now:
                    del b.leases[lease_id]
        if limits.concurrency is not None:
            if len(b.leases) >= limits.concurrency:
                waits[CONCURRENCY] = CONCURRENCY_RETRY
        request_tat, token_tat = b.request_tat, b.token_tat
        if limits.requests_per_minute is not None:
            ok, request_tat, wait = gcra(b.request_tat, now, 1, limits.requests_per_minute)
            if not ok:
                waits[REQUESTS_PER_MINUTE] = wait
        if limits.tokens_per_minute is not None:
            too_large |= cost > limits.tokens_per_minute
            ok, token_tat, wait = gcra(b.token_tat, now, cost, limits.tokens_per_minute)
            if not ok:
                waits[TOKENS_PER_MINUTE] = wait
        if limits.tokens_per_day is not None and b.day_used + cost > limits.tokens_per_day:
            too_large |= cost > limits.tokens_per_day
            waits[TOKENS_PER_DAY] = cal.day_left
        if limits.tokens_per_month is not None and b.month_used + cost > limits.tokens_per_month:
            too_large |= cost > limits.tokens_per_month
            waits[TOKENS_PER_MONTH] = cal.month_left

        allowed = not waits
        window = campaign = None
        if allowed:
            b.request_tat, b.token_tat = request_tat, token_tat
            b.day_used += cost
            b.month_used += cost
            b.leases[lease] = now + self._lease_ttl
            if observation is not None:
                if b.window is None:
                    b.window = AccountWindow()
                window = b.window.admit(observation, now, *half_lives)
                campaign = self._campaign(account, observation, now)
        return build_admission(
            limits,
            now,
            cal,
            allowed=allowed,
            waits=waits,
            too_large=too_large,
            cost=cost,
            lease=lease,
            request_tat=b.request_tat,
            token_tat=b.token_tat,
            window=window,
            campaign=campaign,
        )

    def _campaign(self, account: str, obs: Observation, now: float) -> Campaign:
        flavored = bool(obs.flags & FLAVORED)
        results = {}
        for kind, fingerprint in obs.fingerprints():
            key = (kind, fingerprint)
            window = self._fingerprints.get(key)
            if window is None:
                window = self._fingerprints[key] = FingerprintWindow()
                while len(self._fingerprints) > self._max_accounts:
                    self._fingerprints.popitem(last=False)
            else:
                self._fingerprints.move_to_end(key)
            results[kind] = window.add(account, flavored, now)
        return campaign_of(results)

    def settle_now(
        self,
        account: str,
        limits: Limits,
        admission: Admission,
        actual: int,
        now: float,
        outcome: Outcome | None = None,
        half_lives: tuple[float, float] = HALF_LIVES,
    ) -> None:
        b = self._budget(account)
        delta = actual - admission.reserved
        # Only the settlement that removes the lease counts (idempotent replays).
        expiry = b.leases.pop(admission.lease, None) if admission.lease is not None else None
        if expiry is None or expiry <= now:
            return
        if outcome is not None and b.window is not None:
            b.window.settle(outcome, now, half_lives[0])
        if delta == 0:
            return
        if limits.tokens_per_minute is not None:
            b.token_tat = settled_tat(b.token_tat, now, delta, limits.tokens_per_minute)
        if b.day == admission.day:
            b.day_used = max(b.day_used + delta, 0)
        if b.month == admission.month:
            b.month_used = max(b.month_used + delta, 0)

    def usage_now(self, account: str, limits: Limits, now: float) -> dict[str, Any]:
        b = self._accounts.get(account) or _AccountBudget()
        cal = Calendar.at(now)
        return usage_dict(
            b.request_tat,
            b.token_tat,
            b.day_used if b.day == cal.day else 0,
            b.month_used if b.month == cal.month else 0,
            sum(1 for expiry in b.leases.values() if expiry > now),
            limits,
            now,
        )

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
        return self.admit_now(account, limits, cost, now, lease, observation, half_lives)

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
        self.settle_now(account, limits, admission, actual, now, outcome, half_lives)

    async def usage(self, account: str, limits: Limits, now: float) -> dict[str, Any]:
        return self.usage_now(account, limits, now)

    async def detection(self, account: str) -> DetectionState | None:
        b = self._accounts.get(account)
        return None if b is None or b.window is None else state_of(b.window)

    def reset_now(self, account: str) -> None:
        self._accounts.pop(account, None)

    def unblock_now(self, account: str) -> None:
        b = self._accounts.get(account)
        if b is not None:
            b.window = None

    async def reset(self, account: str, now: float) -> None:
        self.reset_now(account)

    async def unblock(self, account: str) -> None:
        self.unblock_now(account)

    async def allowlist(self, account: str, until: float | None) -> None:
        self._allowed[account] = until

    async def unallowlist(self, account: str) -> bool:
        return self._allowed.pop(account, False) is not False

    async def overrides(self, now: float) -> dict[str, float | None]:
        for account in [a for a, until in self._allowed.items() if until is not None and until <= now]:
            del self._allowed[account]
        return dict(self._allowed)

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        return None
