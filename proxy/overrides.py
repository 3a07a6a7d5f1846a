"""Runtime account overrides shared by every replica: the operators' allowlist.

The admin API writes the allowlist to the store (Redis when configured, so every
replica sees it); each replica polls it about once a second into an immutable
snapshot that the request path reads for free. Nothing here adds a store round
trip to a request: a request only looks at ``sluice.overrides``, swapped whole.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

from proxy.store.base import StoreUnavailable

if TYPE_CHECKING:
    from proxy.server import Sluice

log = logging.getLogger("sluice.overrides")

POLL_S = 1.0  # how stale another replica's allowlisting may be on this one


@dataclass(frozen=True, slots=True)
class Overrides:
    """One snapshot of the runtime allowlist: account -> expiry (None: none)."""

    until: Mapping[str, float | None] = field(default_factory=lambda: MappingProxyType({}))
    allowlist: frozenset[str] = frozenset()

    @classmethod
    def of(cls, until: Mapping[str, float | None]) -> Overrides:
        return cls(MappingProxyType(dict(until)), frozenset(until))


async def refresh(sluice: Sluice) -> bool:
    """Read the allowlist from the store and swap the snapshot in; False (old one kept) if it cannot."""
    try:
        until = await sluice.store.overrides(time.time())
    except StoreUnavailable:
        return False
    sluice.overrides = Overrides.of(until)
    return True


async def watch(sluice: Sluice, interval: float = POLL_S) -> None:
    """Poll the store's allowlist; while the store is down the last snapshot stays in force."""
    failing = False
    while True:
        try:
            ok = await refresh(sluice)
        except Exception:  # noqa: BLE001 - a defect must not end the poller; it is logged
            log.exception("runtime allowlist refresh failed")
            ok = False
        if ok == failing:
            failing = not ok
            if failing:
                log.warning("runtime allowlist unreadable; the last one read stays in force")
            else:
                log.info("runtime allowlist readable again")
        await asyncio.sleep(interval)
