"""The store interface: every backend admits and settles budgets the same way."""

from __future__ import annotations

from typing import Any, Protocol

from proxy.config import Limits
from proxy.limits import Admission


class StoreUnavailable(Exception):
    """The store could not answer in time; the failure policy decides what follows."""


class Store(Protocol):
    name: str

    async def admit(self, account: str, limits: Limits, cost: int, now: float, lease: str) -> Admission:
        """Check every limit and, only if all pass, reserve ``cost`` tokens and a lease."""

    async def settle(self, account: str, limits: Limits, admission: Admission, actual: int, now: float) -> None:
        """Replace the reservation by the real cost and release the lease."""

    async def usage(self, account: str, limits: Limits, now: float) -> dict[str, Any]:
        """The account's budget state, for the admin API and tests."""

    async def ping(self) -> None:
        """Raise if the store cannot serve."""

    async def close(self) -> None: ...
