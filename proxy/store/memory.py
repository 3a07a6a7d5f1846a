"""In-process store: the embedded default for one replica, replay, and fail-open.

Bounded: at most ``max_accounts`` accounts are kept, least recently used first
out, so a flood of distinct keys cannot exhaust the pod. An evicted account
comes back with fresh budgets; that is the price of a single-replica store, and
why production runs the Redis backend.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from proxy.config import Limits
from proxy.limits import (
    CONCURRENCY,
    CONCURRENCY_RETRY,
    LIMIT_ORDER,
    REQUESTS_PER_MINUTE,
    TOKENS_PER_DAY,
    TOKENS_PER_MINUTE,
    TOKENS_PER_MONTH,
    Admission,
    Calendar,
    gcra,
    remaining,
    settled_tat,
)


class _AccountBudget:
    __slots__ = ("request_tat", "token_tat", "day", "day_used", "month", "month_used", "leases")

    def __init__(self) -> None:
        self.request_tat = 0.0
        self.token_tat = 0.0
        self.day = ""
        self.day_used = 0
        self.month = ""
        self.month_used = 0
        self.leases: dict[str, float] = {}


class MemoryStore:
    name = "memory"

    def __init__(self, max_accounts: int = 100_000, lease_ttl: float = 960.0) -> None:
        self._accounts: OrderedDict[str, _AccountBudget] = OrderedDict()
        self._max_accounts = max_accounts
        self._lease_ttl = lease_ttl

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

    def admit_now(self, account: str, limits: Limits, cost: int, now: float, lease: str) -> Admission:
        b = self._budget(account)
        cal = Calendar.at(now)
        if b.day != cal.day:
            b.day, b.day_used = cal.day, 0
        if b.month != cal.month:
            b.month, b.month_used = cal.month, 0
        waits: dict[str, float] = {}
        too_large = False

        if limits.concurrency is not None:
            for lease_id, expiry in list(b.leases.items()):
                if expiry <= now:
                    del b.leases[lease_id]
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
        if allowed:
            b.request_tat, b.token_tat = request_tat, token_tat
            b.day_used += cost
            b.month_used += cost
            if limits.concurrency is not None:
                b.leases[lease] = now + self._lease_ttl
        return self._admission(b, limits, now, cal, allowed, waits, too_large, cost if allowed else 0, lease)

    @staticmethod
    def _admission(
        b: _AccountBudget,
        limits: Limits,
        now: float,
        cal: Calendar,
        allowed: bool,
        waits: dict[str, float],
        too_large: bool,
        reserved: int,
        lease: str,
    ) -> Admission:
        req_left, req_reset = (0, 0.0)
        tok_left, tok_reset = (0, 0.0)
        if limits.requests_per_minute is not None:
            req_left, req_reset = remaining(b.request_tat, now, limits.requests_per_minute)
        if limits.tokens_per_minute is not None:
            tok_left, tok_reset = remaining(b.token_tat, now, limits.tokens_per_minute)
        limit = next((name for name in LIMIT_ORDER if name in waits), None)
        return Admission(
            allowed=allowed,
            limit=limit,
            retry_after=max(waits.values()) if waits else 0.0,
            reserved=reserved,
            lease=lease if allowed and limits.concurrency is not None else None,
            day=cal.day,
            month=cal.month,
            requests_limit=limits.requests_per_minute,
            requests_remaining=req_left,
            requests_reset=req_reset,
            tokens_limit=limits.tokens_per_minute,
            tokens_remaining=tok_left,
            tokens_reset=tok_reset,
            too_large=too_large,
        )

    def settle_now(self, account: str, limits: Limits, admission: Admission, actual: int, now: float) -> None:
        b = self._budget(account)
        delta = actual - admission.reserved
        if admission.lease is not None:
            b.leases.pop(admission.lease, None)
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
        return _usage_dict(
            b.request_tat,
            b.token_tat,
            b.day_used if b.day == cal.day else 0,
            b.month_used if b.month == cal.month else 0,
            sum(1 for expiry in b.leases.values() if expiry > now),
            limits,
            now,
        )

    async def admit(self, account: str, limits: Limits, cost: int, now: float, lease: str) -> Admission:
        return self.admit_now(account, limits, cost, now, lease)

    async def settle(self, account: str, limits: Limits, admission: Admission, actual: int, now: float) -> None:
        self.settle_now(account, limits, admission, actual, now)

    async def usage(self, account: str, limits: Limits, now: float) -> dict[str, Any]:
        return self.usage_now(account, limits, now)

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        return None


def _usage_dict(
    request_tat: float,
    token_tat: float,
    day_used: int,
    month_used: int,
    leases: int,
    limits: Limits,
    now: float,
) -> dict[str, Any]:
    """One shape for every backend's usage report."""
    out: dict[str, Any] = {"tokens_today": day_used, "tokens_this_month": month_used, "in_flight": leases}
    if limits.requests_per_minute is not None:
        out["requests_remaining"] = remaining(request_tat, now, limits.requests_per_minute)[0]
    if limits.tokens_per_minute is not None:
        out["tokens_remaining"] = remaining(token_tat, now, limits.tokens_per_minute)[0]
    return out
