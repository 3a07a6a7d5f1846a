"""The store interface: every backend admits and settles budgets the same way."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from proxy.config import Limits
from proxy.detect import HALF_LIVES, Campaign, Observation, Outcome, Window
from proxy.limits import LIMIT_ORDER, Admission, Calendar, remaining
from proxy.windows import DetectionState


class StoreUnavailable(Exception):
    """The store could not answer in time; the failure policy decides what follows."""


class Store(Protocol):
    name: str

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
        """Check every limit and, only if all pass, reserve ``cost`` tokens and a lease.

        Every admitted request holds a lease (scored by its expiry) until it is
        settled; the concurrency limit counts the live ones. With an
        ``observation`` an admitted request is also folded into the account's
        detection window and its campaign fingerprints, returned in the Admission."""

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
        """Replace the reservation by the real cost and release the lease.

        Idempotent: only the call that removes the admission's lease moves the
        budgets, so a settlement replayed after a timeout is never applied twice.
        A settlement that arrives after its lease expired leaves the reservation
        as the charge."""

    async def usage(self, account: str, limits: Limits, now: float) -> dict[str, Any]:
        """The account's budget state, for the admin API and tests."""

    async def detection(self, account: str) -> DetectionState | None:
        """The account's detection state as stored (read-only, for the admin API); None if never observed."""

    async def reset(self, account: str, now: float) -> None:
        """Forget the account's budgets (rates, quotas, leases) and detection state: a fresh start.

        Requests in flight then settle to nothing (their leases are gone)."""

    async def unblock(self, account: str) -> None:
        """Forget the account's detection state and risk, keep its budgets: the next request is judged afresh."""

    async def allowlist(self, account: str, until: float | None) -> None:
        """Put the account on the runtime allowlist shared by every replica (until ``until``; None: for good)."""

    async def unallowlist(self, account: str) -> bool:
        """Take the account off the runtime allowlist; False if it was not on it."""

    async def overrides(self, now: float) -> dict[str, float | None]:
        """The runtime allowlist as of ``now``: account -> expiry (None: none). Expired entries are left out."""

    async def ping(self) -> None:
        """Raise if the store cannot serve."""

    async def close(self) -> None: ...


def build_admission(
    limits: Limits,
    now: float,
    cal: Calendar,
    *,
    allowed: bool,
    waits: Mapping[str, float],
    too_large: bool,
    cost: int,
    lease: str,
    request_tat: float,
    token_tat: float,
    window: Window | None = None,
    campaign: Campaign | None = None,
) -> Admission:
    """The Admission for a decision, from the per-minute TATs as they stand after it.

    Shared so every backend reports remaining/reset with the very same arithmetic;
    a backend only has to produce the TATs and the per-limit waits.
    """
    req_left, req_reset = (0, 0.0)
    tok_left, tok_reset = (0, 0.0)
    if limits.requests_per_minute is not None:
        req_left, req_reset = remaining(request_tat, now, limits.requests_per_minute)
    if limits.tokens_per_minute is not None:
        tok_left, tok_reset = remaining(token_tat, now, limits.tokens_per_minute)
    return Admission(
        allowed=allowed,
        limit=next((name for name in LIMIT_ORDER if name in waits), None) if waits else None,
        retry_after=max(waits.values()) if waits else 0.0,
        reserved=cost if allowed else 0,
        lease=lease if allowed else None,
        day=cal.day,
        month=cal.month,
        requests_limit=limits.requests_per_minute,
        requests_remaining=req_left,
        requests_reset=req_reset,
        tokens_limit=limits.tokens_per_minute,
        tokens_remaining=tok_left,
        tokens_reset=tok_reset,
        too_large=too_large,
        window=window,
        campaign=campaign,
    )


def usage_dict(
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
