"""Prometheus metrics, one registry per running Sluice (no global state).

No per-account labels: the label sets stay small however many accounts there
are; per-account questions go to the admin API.

The metrics every request updates (requests, durations, tokens, in flight,
risk) are plain numbers behind a collector read at scrape time: prometheus_client's
own take a lock per increment and walk a histogram's buckets one by one, ~5% of
the proxy's CPU per request, for thread safety one event loop does not need.
The rest (errors, reloads, admin actions) are prometheus_client's.
"""

from __future__ import annotations

import asyncio
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from proxy import __version__

# Sub-millisecond (proxy overhead, store round trips) up to minutes (long streams).
LATENCY_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
    0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
)  # fmt: skip


class CountChild:
    """One labelled series of a counter or gauge: a number, changed on the event loop's thread only."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0

    def inc(self, amount: float = 1.0) -> None:
        self.value += amount

    def dec(self, amount: float = 1.0) -> None:
        self.value -= amount


class HistogramChild:
    """One labelled series of a histogram: a count per bucket (not cumulative; summed at scrape time)."""

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # the last: above every bound (+Inf)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        # bisect_left: the first bound >= value, Prometheus's "le" (less than or equal).
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value


class _Family:
    """A metric of the request path: its children by label values, exported by ``HotMetrics``."""

    def __init__(self, kind: str, name: str, documentation: str, labelnames: Sequence[str] = (),
                 buckets: Sequence[float] = ()) -> None:
        self.kind, self.name, self.documentation = kind, name, documentation
        self.labelnames = tuple(labelnames)
        self.bounds = tuple(float(b) for b in buckets)
        self.children: dict[tuple[str, ...], Any] = {}
        if not self.labelnames:
            self._only = self.labels()

    def labels(self, *values: str) -> Any:
        if len(values) != len(self.labelnames):
            raise ValueError(f"{self.name} takes labels {self.labelnames}, got {values}")
        child = self.children.get(values)
        if child is None:
            child = self.children[values] = HistogramChild(self.bounds) if self.kind == "histogram" else CountChild()
        return child

    # The label-less families are used as their one child.
    def inc(self, amount: float = 1.0) -> None:
        self._only.inc(amount)

    def dec(self, amount: float = 1.0) -> None:
        self._only.dec(amount)

    def observe(self, value: float) -> None:
        self._only.observe(value)

    def collect(self) -> Any:
        if self.kind == "counter":
            family: Any = CounterMetricFamily(self.name, self.documentation, labels=self.labelnames)
            for values, child in self.children.items():
                family.add_metric(values, child.value)
        elif self.kind == "gauge":
            family = GaugeMetricFamily(self.name, self.documentation, labels=self.labelnames)
            for values, child in self.children.items():
                family.add_metric(values, child.value)
        else:
            family = HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)
            les = [floatToGoString(b) for b in self.bounds] + ["+Inf"]
            for values, child in self.children.items():
                running, buckets = 0, []
                for le, count in zip(les, child.counts, strict=True):
                    running += count
                    buckets.append((le, running))
                family.add_metric(values, buckets, child.sum)
        return family


class HotMetrics(Collector):
    """The request path's metric families, read by the registry at scrape time."""

    def __init__(self) -> None:
        self.families: list[_Family] = []

    def add(self, *args: Any, **kwargs: Any) -> _Family:
        family = _Family(*args, **kwargs)
        self.families.append(family)
        return family

    def collect(self) -> Iterator[Any]:
        for family in self.families:
            yield family.collect()


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        self._children: dict[tuple[Any, tuple[str, ...]], Any] = {}
        hot = HotMetrics()
        self.requests = hot.add("counter", "sluice_requests", "Requests answered, by route and status.",
                                ("route", "status"))
        self.request_duration = hot.add(
            "histogram",
            "sluice_request_duration_seconds",
            "Time from request to the last byte of the answer.",
            ("route",),
            buckets=LATENCY_BUCKETS,
        )
        self.upstream_duration = hot.add(
            "histogram",
            "sluice_upstream_duration_seconds",
            "Time from forwarding to the upstream's response headers.",
            ("route",),
            buckets=LATENCY_BUCKETS,
        )
        self.in_flight = hot.add("gauge", "sluice_in_flight_requests", "Requests being served now.")
        self.rate_limited = Counter(
            "sluice_rate_limited", "Requests refused by a budget, by limit and tier.", ("limit", "tier"), registry=r
        )
        self.tokens = hot.add("counter", "sluice_tokens", "Tokens settled, by kind and tier.", ("kind", "tier"))
        self.store_duration = hot.add(
            "histogram", "sluice_store_duration_seconds", "Store round trip, by operation.", ("op",),
            buckets=LATENCY_BUCKETS,
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
        self.risk = hot.add(
            "histogram",
            "sluice_risk",
            "Extraction risk at decision, for every judged request.",
            buckets=(0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.65, 0.7, 0.8, 0.85, 0.9, 0.95, 0.97, 0.99),
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
        r.register(hot)

    def child(self, metric: Any, *values: str) -> Any:
        """``metric.labels(*values)``, resolved once: prometheus_client's ``labels()`` validates, locks and
        looks up on every call. Label values are bounded (routes, statuses, tiers, kinds), so the cache is
        too."""
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
