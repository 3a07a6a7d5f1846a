"""Budget arithmetic shared by every store backend: GCRA and calendar quotas.

Per-minute limits use GCRA (the generic cell rate algorithm): one stored
number per limit, the "theoretical arrival time" (TAT). A limit of L per
minute emits one unit every ``T = 60 / L`` seconds and tolerates a burst of L;
a request of cost c is admitted when ``max(TAT, now) + c*T - now <= 60``.
It is smooth: no fixed-window edge where 2L pass in one second. Tokens use the
same rule with c = tokens, so settlement can move the TAT back (refund) or
forward (overspend) by ``delta * T``.

The Redis Lua script (``store/admit.lua``) implements exactly this; the
conformance suite runs the same cases against both.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from typing import TYPE_CHECKING, NamedTuple

from proxy.config import Limits, TokenWeights

if TYPE_CHECKING:
    from proxy.detect import Campaign, Window

WINDOW = 60.0  # seconds: the per-minute limits' period and burst

# Limit names, as reported in errors and metrics.
CONCURRENCY = "concurrency"
REQUESTS_PER_MINUTE = "requests_per_minute"
TOKENS_PER_MINUTE = "tokens_per_minute"
TOKENS_PER_DAY = "tokens_per_day"
TOKENS_PER_MONTH = "tokens_per_month"
LIMIT_ORDER = (CONCURRENCY, REQUESTS_PER_MINUTE, TOKENS_PER_MINUTE, TOKENS_PER_DAY, TOKENS_PER_MONTH)
QUOTAS = frozenset({TOKENS_PER_DAY, TOKENS_PER_MONTH})
# Retry hint for a full concurrency limit: a slot frees when any request ends.
CONCURRENCY_RETRY = 1.0


# Per-request records: NamedTuples, immutable and cheap to build (see proxy/detect.py).
class Calendar(NamedTuple):
    """UTC day and month of an instant, and seconds until each ends."""

    day: str
    month: str
    day_left: float
    month_left: float

    @classmethod
    def at(cls, now: float) -> Calendar:
        day, month, next_day, next_month = _utc_day(int(now // 86400))
        return cls(day=day, month=month, day_left=next_day - now, month_left=next_month - now)


@functools.lru_cache(maxsize=8)
def _utc_day(day_number: int) -> tuple[str, str, float, float]:
    """A UTC day's names and the ends of it and of its month; memoised (pure, and every request asks)."""
    start = dt.datetime.fromtimestamp(day_number * 86400, dt.UTC)
    next_month = dt.datetime(start.year + (start.month == 12), start.month % 12 + 1, 1, tzinfo=dt.UTC)
    return start.strftime("%Y%m%d"), start.strftime("%Y%m"), (day_number + 1) * 86400.0, next_month.timestamp()


class Admission(NamedTuple):
    """The store's answer to one request: admitted or not, and the budget left."""

    allowed: bool
    limit: str | None = None  # the limit that refused (first in LIMIT_ORDER)
    retry_after: float = 0.0  # seconds until every refusing limit has room
    reserved: int = 0
    lease: str | None = None
    day: str = ""
    month: str = ""
    requests_limit: int | None = None
    requests_remaining: int = 0
    requests_reset: float = 0.0
    tokens_limit: int | None = None
    tokens_remaining: int = 0
    tokens_reset: float = 0.0
    degraded: bool = False  # decided by the local fallback while the store was down
    too_large: bool = False  # cost above a limit's whole capacity: waiting cannot help
    window: Window | None = None  # the account's detection window, when observed and admitted
    campaign: Campaign | None = None  # cross-account counters of the request's fingerprints


def gcra(tat: float, now: float, cost: float, per_minute: int) -> tuple[bool, float, float]:
    """(allowed, new TAT if allowed, seconds to wait if not)."""
    interval = WINDOW / per_minute
    new_tat = max(tat, now) + cost * interval
    over = new_tat - now - WINDOW
    # Timestamps near 1.7e9 carry ~2e-7 s of float error: below a microsecond is "on time".
    if over > 1e-6:
        return False, tat, over
    return True, new_tat, 0.0


def settled_tat(tat: float, now: float, delta: int, per_minute: int) -> float:
    """Move a token TAT by a settlement's delta; a refund never banks credit past a full bucket."""
    shift = delta * WINDOW / per_minute
    return max(tat + shift, now) if delta < 0 else max(tat, now) + shift


def remaining(tat: float, now: float, per_minute: int) -> tuple[int, float]:
    """(units left in the burst, seconds until the burst is whole again)."""
    backlog = max(tat - now, 0.0)
    interval = WINDOW / per_minute
    return max(int((WINDOW - backlog) / interval + 1e-3), 0), backlog


def admission_cost(prompt_tokens: int, max_tokens: int | None, n: int, limits: Limits, weights: TokenWeights) -> int:
    """Budget units reserved at admission: the prompt plus the completion we expect,
    weighted as settlement will weigh them (so an exact estimate settles to zero)."""
    completion = max_tokens if max_tokens is not None else limits.completion_reserve
    return math.ceil(prompt_tokens * weights.prompt + completion * max(n, 1) * weights.completion)


def format_reset(seconds: float) -> str:
    """OpenAI's reset format: '1s', '6m0s', '1h2m3s', '250ms'."""
    if seconds < 1:
        return f"{max(int(seconds * 1000), 0)}ms"
    total = int(seconds + 0.999)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def ratelimit_headers(a: Admission) -> dict[str, str]:
    headers: dict[str, str] = {}
    if a.requests_limit is not None:
        headers["x-ratelimit-limit-requests"] = str(a.requests_limit)
        headers["x-ratelimit-remaining-requests"] = str(a.requests_remaining)
        headers["x-ratelimit-reset-requests"] = format_reset(a.requests_reset)
    if a.tokens_limit is not None:
        headers["x-ratelimit-limit-tokens"] = str(a.tokens_limit)
        headers["x-ratelimit-remaining-tokens"] = str(a.tokens_remaining)
        headers["x-ratelimit-reset-tokens"] = format_reset(a.tokens_reset)
    return headers
