"""Decisions kept for explanation: the audit log line, and a bounded per-account memory.

Every non-allow decision, and every allowed request that Sluice rewrote (a
neutralised logit-bias sweep), is one JSON line on the ``sluice.audit`` logger
(the DESIGN.md decision fields plus the request id and the actions applied;
never the key, never prompt text). The last few decisions of recently active
accounts are also kept in memory for the admin API and the demo, with a hard
bound on accounts.
"""

from __future__ import annotations

import heapq
import logging
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

from proxy.policy import ALLOW, Decision


@dataclass(slots=True)
class AccountDecisions:
    requests: int = 0
    first_flag: int | None = None  # index of the account's first extraction decision (this process)
    last_risk: float = 0.0
    max_risk: float = 0.0
    actions: dict[str, int] = field(default_factory=dict)
    recent: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=32))
    # (ts, risk) whenever the risk moved by SERIES_STEP or more: the inspector's risk-over-time
    # line. An account whose risk stays flat (most of them, at 0) keeps a single point.
    series: deque[tuple[float, float]] = field(default_factory=lambda: deque(maxlen=64))


SERIES_STEP = 0.01


class DecisionLog:
    def __init__(self, max_accounts: int = 10_000) -> None:
        self._accounts: OrderedDict[str, AccountDecisions] = OrderedDict()
        self._max_accounts = max_accounts
        self._log = logging.getLogger("sluice.audit")

    def note(
        self, account: str, request_id: str, ts: float, decision: Decision, actions: list[str] | None = None
    ) -> None:
        """Count a decision; log and keep it unless it is a plain allow with nothing applied.

        ``actions``: the shaping actions applied to the request or set for its answer.
        """
        entry = self._accounts.get(account)
        if entry is None:
            entry = self._accounts[account] = AccountDecisions()
            if len(self._accounts) > self._max_accounts:
                self._accounts.popitem(last=False)
        else:
            self._accounts.move_to_end(account)
        entry.requests += 1
        entry.actions[decision.action] = entry.actions.get(decision.action, 0) + 1
        entry.last_risk = decision.risk
        entry.max_risk = max(entry.max_risk, decision.risk)
        if not entry.series or abs(decision.risk - entry.series[-1][1]) >= SERIES_STEP:
            entry.series.append((ts, decision.risk))
        if decision.action == ALLOW and not decision.shadow and not actions:
            return  # an allowed request Sluice rewrote (a neutralised logit-bias sweep) is logged
        if decision.cause == "extraction" and entry.first_flag is None:
            entry.first_flag = entry.requests - 1
        record = decision.record(entry.requests - 1, ts, account)
        record["request_id"] = request_id
        if actions:
            record["actions"] = actions
        entry.recent.append(record)
        self._log.info("decision", extra=record)

    def get(self, account: str) -> AccountDecisions | None:
        return self._accounts.get(account)

    def cleared(self, account: str, ts: float) -> None:
        """An operator cleared the account's risk (unblock, reset): this replica's view follows."""
        entry = self._accounts.get(account)
        if entry is not None:
            entry.last_risk = 0.0
            entry.series.append((ts, 0.0))

    def riskiest(self, n: int) -> list[tuple[str, AccountDecisions]]:
        """The n accounts with the highest current risk, as this replica last judged them."""
        return heapq.nlargest(n, self._accounts.items(), key=lambda kv: (kv[1].last_risk, kv[1].max_risk))
