"""The shipped Grafana dashboard and alert rules only query metrics Sluice exports."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import yaml

from proxy.metrics import Metrics

ROOT = Path(__file__).resolve().parent.parent
METRIC = re.compile(r"\bsluice_[a-z_]+")


def exported() -> set[str]:
    names = set()
    for line in Metrics().render().decode().splitlines():
        if line.startswith("# TYPE "):
            name, kind = line.split()[2:4]
            names.add(name)
            suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum")}.get(kind, ())
            names.update(name + s for s in suffixes)
    return names


def test_dashboard_queries_only_exported_metrics() -> None:
    dashboard = orjson.loads((ROOT / "deploy/grafana/sluice-dashboard.json").read_bytes())
    queried = {m for panel in dashboard["panels"] for t in panel["targets"] for m in METRIC.findall(t["expr"])}
    assert queried, "the dashboard queries nothing"
    assert queried <= exported(), queried - exported()
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])


def test_alert_rules_query_only_exported_metrics() -> None:
    rules = yaml.safe_load((ROOT / "deploy/prometheus/sluice-alerts.yml").read_text())
    queried = {m for group in rules["groups"] for rule in group["rules"] for m in METRIC.findall(rule["expr"])}
    assert queried and queried <= exported(), queried - exported()
