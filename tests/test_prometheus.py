"""A real Prometheus server (Debian's prometheus package) scraping a live Sluice.

Prometheus scrapes the admin /metrics every second and loads deploy/prometheus/sluice-alerts.yml;
after some traffic its query API must return Sluice's request and rate-limit series.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.harness import free_port, running_sluice

RULES = Path(__file__).resolve().parent.parent / "deploy" / "prometheus" / "sluice-alerts.yml"
CHAT = {"model": "stub-model", "messages": [{"role": "user", "content": "hello"}], "max_tokens": 3}
ROUTE = "/v1/chat/completions"
DEADLINE_S = 30.0


def _prometheus_binary() -> str:
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip("prometheus binary not found on PATH (Debian package 'prometheus'; .ci/run installs it)")
    return binary


def _start_prometheus(binary: str, tmp: Path, target: str) -> tuple[subprocess.Popen[bytes], str, Path]:
    port = free_port()
    config = tmp / "prometheus.yml"
    config.write_text(
        "global:\n"
        "  scrape_interval: 1s\n"
        "  evaluation_interval: 1s\n"
        "rule_files:\n"
        f"  - {RULES}\n"
        "scrape_configs:\n"
        "  - job_name: sluice\n"
        "    metrics_path: /metrics\n"
        "    static_configs:\n"
        f"      - targets: ['{target}']\n"
    )
    log = tmp / "prometheus.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    return process, f"http://127.0.0.1:{port}", log


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


async def _poll(
    check: Callable[[], Any], what: str, process: subprocess.Popen[bytes], log: Path, timeout: float = DEADLINE_S
) -> Any:
    """Await check() until it returns something truthy; fail with the last answer and Prometheus's log."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last: Any = None
    while True:
        if process.poll() is not None:
            pytest.fail(f"prometheus exited with {process.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            result, last = await check()
        except (aiohttp.ClientError, OSError) as e:  # not listening yet
            result, last = None, repr(e)
        if result:
            return result
        if loop.time() > deadline:
            pytest.fail(
                f"{what}: not seen within {timeout:.0f}s; last answer: {last!r}\n"
                f"prometheus log:\n{log.read_text(errors='replace')[-3000:]}"
            )
        await asyncio.sleep(0.25)


async def test_prometheus_scrapes_sluice_and_loads_the_alert_rules(tmp_path: Path) -> None:
    binary = _prometheus_binary()
    async with running_sluice() as run, aiohttp.ClientSession() as session:
        target = run.admin_url.removeprefix("http://")
        process, prom, log = _start_prometheus(binary, tmp_path, target)
        try:

            async def get_json(path: str, **params: str) -> dict[str, Any]:
                async with session.get(prom + path, params=params, timeout=aiohttp.ClientTimeout(total=5)) as r:
                    return dict(await r.json())

            async def ready() -> tuple[bool, Any]:
                async with session.get(prom + "/-/ready", timeout=aiohttp.ClientTimeout(total=5)) as r:
                    return r.status == 200, r.status

            await _poll(ready, "prometheus ready", process, log)

            # Traffic: alice (1000 a minute) gets 3 answers; tiny (2 a minute) gets 2, then 2 refusals.
            statuses = []
            for key, count in (("sk-test-alice", 3), ("sk-test-tiny", 4)):
                for _ in range(count):
                    headers = {"Authorization": f"Bearer {key}"}
                    async with session.post(run.base_url + ROUTE, json=CHAT, headers=headers) as r:
                        await r.read()
                        statuses.append(r.status)
            assert statuses == [200] * 5 + [429] * 2

            async def series(query: str) -> dict[frozenset[tuple[str, str]], float]:
                body = await get_json("/api/v1/query", query=query)
                assert body["status"] == "success", body
                return {
                    frozenset((k, v) for k, v in s["metric"].items() if k not in ("instance", "job")): float(
                        s["value"][1]
                    )
                    for s in body["data"]["result"]
                }

            def expect(query: str, want: dict[frozenset[tuple[str, str]], float]) -> Callable[[], Any]:
                async def check() -> tuple[bool, Any]:
                    got = await series(query)
                    return all(got.get(labels) == value for labels, value in want.items()), got

                return check

            requests = {
                frozenset({("__name__", "sluice_requests_total"), ("route", ROUTE), ("status", "200")}): 5.0,
                frozenset({("__name__", "sluice_requests_total"), ("route", ROUTE), ("status", "429")}): 2.0,
            }
            await _poll(expect("sluice_requests_total", requests), "sluice_requests_total", process, log)
            limited = {
                frozenset(
                    {("__name__", "sluice_rate_limited_total"), ("limit", "requests_per_minute"), ("tier", "tiny")}
                ): 2.0
            }
            await _poll(expect("sluice_rate_limited_total", limited), "sluice_rate_limited_total", process, log)
            # The series are scraped from this Sluice, under the job of the temp config.
            up = await get_json("/api/v1/query", query='up{job="sluice"}')
            assert [s["metric"]["instance"] for s in up["data"]["result"]] == [target]

            # The alert rules file is loaded: the sluice group with all its alerts, none firing.
            async def rules() -> tuple[Any, Any]:
                body = await get_json("/api/v1/rules", type="alert")
                groups = {g["name"]: g for g in body.get("data", {}).get("groups", [])}
                return groups.get("sluice"), body

            group = await _poll(rules, "sluice rule group", process, log)
            assert group["file"] == str(RULES)
            assert {rule["name"] for rule in group["rules"]} == {
                "SluiceExtractionSpike",
                "SluiceCampaignDetected",
                "SluiceStoreFailingOpen",
                "SluiceUpstreamErrors",
                "SluiceHighLatency",
            }
            assert all(rule["health"] != "err" for rule in group["rules"]), group["rules"]
            assert all(rule["state"] == "inactive" for rule in group["rules"]), group["rules"]
        finally:
            _stop(process)
