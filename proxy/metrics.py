"""Prometheus metrics, one registry per running Sluice (no global state).

No per-account labels: the label sets stay small however many accounts there
are; per-account questions go to the admin API.
"""

from __future__ import annotations

import asyncio
import os
import time
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString

from proxy import __version__

# Sub-millisecond (proxy overhead, store round trips) up to minutes (long streams).
LATENCY_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
    0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
)  # fmt: skip


class _HotValue:
    """A counter or gauge value without a lock: the request path runs on one event loop thread,
    and prometheus_client's values take a lock on every update (several per request)."""

    __slots__ = ("value", "created")

    def __init__(self) -> None:
        self.value = 0.0
        self.created = time.time()

    def inc(self, amount: float = 1.0) -> None:
        self.value += amount

    def dec(self, amount: float = 1.0) -> None:
        self.value -= amount


class _HotBuckets:
    """A histogram child without a lock: one bisect into plain counts per observation."""

    __slots__ = ("bounds", "counts", "sum", "created")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # the last: above every bound (+Inf)
        self.sum = 0.0
        self.created = time.time()

    def observe(self, amount: float) -> None:
        self.counts[bisect_left(self.bounds, amount)] += 1  # a bucket counts what is <= its bound
        self.sum += amount


class _Hot:
    """A metric of the request path (counter, gauge or histogram), exposed like prometheus_client's
    own by the registry's collector; ``labels(*values)`` gives a child, as prometheus_client does."""

    def __init__(
        self, kind: str, name: str, documentation: str, labelnames: Sequence[str] = (),
        buckets: Sequence[float] = (),
    ) -> None:
        self.kind = kind
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labelnames)
        self.bounds = tuple(float(b) for b in buckets)
        self._children: dict[tuple[str, ...], Any] = {}
        if not self.labelnames:
            self._only = self.labels()

    def labels(self, *values: str) -> Any:
        if len(values) != len(self.labelnames):
            raise ValueError(f"{self.name} takes labels {self.labelnames}, got {values!r}")
        child = self._children.get(values)
        if child is None:
            child = self._children[values] = _HotBuckets(self.bounds) if self.kind == "histogram" else _HotValue()
        return child

    # Unlabelled metrics are their own child.
    def inc(self, amount: float = 1.0) -> None:
        self._only.inc(amount)

    def dec(self, amount: float = 1.0) -> None:
        self._only.dec(amount)

    def observe(self, amount: float) -> None:
        self._only.observe(amount)

    def family(self) -> Metric:
        """What prometheus_client's own metric of this kind would expose, ``_created`` series included."""
        names = list(self.labelnames)
        created = os.environ.get("PROMETHEUS_DISABLE_CREATED_SERIES", "False").lower() not in ("true", "1", "t")
        family: Metric
        if self.kind == "histogram":
            family = HistogramMetricFamily(self.name, self.documentation, labels=names)
            edges = [floatToGoString(b) for b in self.bounds] + ["+Inf"]
            for values, child in list(self._children.items()):
                cumulative, total = [], 0
                for edge, count in zip(edges, child.counts, strict=True):
                    total += count
                    cumulative.append((edge, float(total)))
                family.add_metric(list(values), cumulative, child.sum)
                if created:
                    family.samples.append(Sample(self.name + "_created", dict(zip(names, values)), child.created))
            return family
        if self.kind == "counter":
            family = CounterMetricFamily(self.name, self.documentation, labels=names)
            for values, child in list(self._children.items()):
                family.add_metric(list(values), child.value, created=child.created if created else None)
            return family
        family = GaugeMetricFamily(self.name, self.documentation, labels=names)
        for values, child in list(self._children.items()):
            family.add_metric(list(values), child.value)
        return family


class _HotCollector:
    def __init__(self, metrics: list[_Hot]) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        for metric in self._metrics:
            yield metric.family()


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        self._children: dict[tuple[Any, tuple[str, ...]], Any] = {}
        # The request path's metrics: updated several times per request, so lock-free (_Hot).
        self.requests = _Hot("counter", "sluice_requests", "Requests answered, by route and status.",
                             ("route", "status"))
        self.request_duration = _Hot(
            "histogram",
            "sluice_request_duration_seconds",
            "Time from request to the last byte of the answer.",
            ("route",),
            buckets=LATENCY_BUCKETS,
        )
        self.upstream_duration = _Hot(
            "histogram",
            "sluice_upstream_duration_seconds",
            "Time from forwarding to the upstream's response headers.",
            ("route",),
            buckets=LATENCY_BUCKETS,
        )
        self.in_flight = _Hot("gauge", "sluice_in_flight_requests", "Requests being served now.")
        self.rate_limited = Counter(
            "sluice_rate_limited", "Requests refused by a budget, by limit and tier.", ("limit", "tier"), registry=r
        )
        self.tokens = _Hot("counter", "sluice_tokens", "Tokens settled, by kind and tier.", ("kind", "tier"))
        self.store_duration = _Hot(
            "histogram",
            "sluice_store_duration_seconds",
            "Store round trip, by operation.",
            ("op",),
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
        self.risk = _Hot(
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
        r.register(_HotCollector([self.requests, self.request_duration, self.upstream_duration, self.in_flight,
                                  self.tokens, self.store_duration, self.risk]))

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
