"""Prometheus metrics, one registry per running Sluice (no global state).

No per-account labels: the label sets stay small however many accounts there
are; per-account questions go to the admin API.
"""

from __future__ import annotations

import asyncio
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from proxy import __version__

# Sub-millisecond (proxy overhead, store round trips) up to minutes (long streams).
LATENCY_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
    0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
)  # fmt: skip


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        self._children: dict[tuple[Any, tuple[str, ...]], Any] = {}
        self.requests = Counter(
            "sluice_requests", "Requests answered, by route and status.", ("route", "status"), registry=r
        )
        self.request_duration = Histogram(
            "sluice_request_duration_seconds",
            "Time from request to the last byte of the answer.",
            ("route",),
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.upstream_duration = Histogram(
            "sluice_upstream_duration_seconds",
            "Time from forwarding to the upstream's response headers.",
            ("route",),
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge("sluice_in_flight_requests", "Requests being served now.", registry=r)
        self.rate_limited = Counter(
            "sluice_rate_limited", "Requests refused by a budget, by limit and tier.", ("limit", "tier"), registry=r
        )
        self.tokens = Counter(
            "sluice_tokens", "Tokens settled, by kind and tier.", ("kind", "tier"), registry=r
        )
        self.store_duration = Histogram(
            "sluice_store_duration_seconds",
            "Store round trip, by operation.",
            ("op",),
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.store_errors = Counter("sluice_store_errors", "Store calls that failed or timed out.", ("op",), registry=r)
        self.store_fail_open = Gauge(
            "sluice_store_fail_open", "1 while the store is down and budgets are enforced locally.", registry=r
        )
        self.upstream_errors = Counter(
            "sluice_upstream_errors", "Upstream failures, by kind.", ("kind",), registry=r
        )
        self.extraction_decisions = Counter(
            "sluice_extraction_decisions",
            "Requests judged as extraction, by action, strongest signal, and whether only shadowed.",
            ("action", "signal", "shadow"),
            registry=r,
        )
        # Present at 0 from the start, so the first campaign decision is an increase() alerts can see.
        for action in ("delay", "perturb", "throttle", "block"):
            for shadow in ("false", "true"):
                self.extraction_decisions.labels(action, "campaign", shadow)
        self.risk = Histogram(
            "sluice_risk",
            "Extraction risk at decision, for every judged request.",
            buckets=(0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.65, 0.7, 0.8, 0.85, 0.9, 0.95, 0.97, 0.99),
            registry=r,
        )
        self.delayed = Gauge("sluice_delayed_requests", "Requests sleeping in the tarpit now.", registry=r)
        self.config_reloads = Counter(
            "sluice_config_reloads", "Config reloads, by result (applied, rejected).", ("result",), registry=r
        )
        for result in ("applied", "rejected"):
            self.config_reloads.labels(result)
        # Counted at scrape time, never on the request path: a leak of tasks (settlements that
        # never finish, forgotten watchers) shows as a slope here (bench/soak.py samples it).
        self.asyncio_tasks = Gauge("sluice_asyncio_tasks", "asyncio tasks alive in the process now.", registry=r)
        self.asyncio_tasks.set_function(_task_count)
        self.admin_actions = Counter(
            "sluice_admin_actions",
            "Operator changes made through the admin API, by action (allowlist, unallowlist, reset, unblock).",
            ("action",),
            registry=r,
        )
        for action in ("allowlist", "unallowlist", "reset", "unblock"):
            self.admin_actions.labels(action)
        build = Gauge("sluice_build_info", "Build information.", ("version",), registry=r)
        build.labels(version=__version__).set(1)

    def child(self, metric: Any, *values: str) -> Any:
        """``metric.labels(*values)``, resolved once: ``labels()`` validates, locks and looks up on every call,
        and the request path makes ~8 of them per request. Label values are bounded (routes, statuses, tiers,
        kinds), so the cache is too."""
        key = (metric, values)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*values)
        return found

    def render(self) -> bytes:
        return generate_latest(self.registry)


def _task_count() -> float:
    try:
        return float(len(asyncio.all_tasks()))
    except RuntimeError:  # rendered outside the event loop: no tasks to count
        return 0.0
