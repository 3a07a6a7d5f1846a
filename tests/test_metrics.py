"""The request path's lock-free metrics expose exactly what prometheus_client's own would, sample for
sample, for the same observations (its ``_created`` samples aside)."""

from __future__ import annotations

import random

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from proxy.metrics import LATENCY_BUCKETS, Metrics


def _samples(text: bytes, name: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text.decode()):
        if family.name != name:
            continue
        for s in family.samples:
            if not s.name.endswith("_created"):
                out[s.name, tuple(sorted(s.labels.items()))] = s.value
    return out


def test_hot_metrics_render_as_prometheus_clients_own() -> None:
    metrics = Metrics()
    reference = CollectorRegistry()
    durations = Histogram("sluice_request_duration_seconds", "d", ("route",), buckets=LATENCY_BUCKETS,
                          registry=reference)
    requests = Counter("sluice_requests", "r", ("route", "status"), registry=reference)
    in_flight = Gauge("sluice_in_flight_requests", "g", registry=reference)
    rng = random.Random(5)
    # Values on the bounds themselves too: a bucket counts what is less than or equal to its bound.
    values = [*LATENCY_BUCKETS, 0.0, 1e-9, 1e4, *(rng.expovariate(100.0) for _ in range(500))]
    for i, value in enumerate(values):
        route = ("/v1/chat/completions", "/v1/embeddings")[i % 2]
        metrics.child(metrics.request_duration, route).observe(value)
        durations.labels(route).observe(value)
        status = ("200", "429")[i % 3 == 0]
        metrics.child(metrics.requests, route, status).inc()
        requests.labels(route, status).inc()
    metrics.in_flight.inc()
    metrics.in_flight.inc()
    metrics.in_flight.dec()
    in_flight.inc()
    ours, theirs = metrics.render(), generate_latest(reference)
    for name in ("sluice_request_duration_seconds", "sluice_requests", "sluice_in_flight_requests"):
        got, want = _samples(ours, name), _samples(theirs, name)
        assert got == want and got, name
    assert _samples(ours, "sluice_request_duration_seconds")[
        "sluice_request_duration_seconds_bucket", (("le", "0.001"), ("route", "/v1/embeddings"))
    ] >= 1  # the observation of exactly 0.001 is counted at le="0.001"


def test_a_hot_metric_refuses_the_wrong_labels() -> None:
    metrics = Metrics()
    try:
        metrics.tokens.labels("prompt")
    except ValueError as exc:
        assert "kind" in str(exc)
    else:
        raise AssertionError("a missing label was accepted")
