"""The benchmark harness: a Sluice config for a target, and wrk driving it (bench/post.lua: POST
bodies, rotating keys) with its figures read back."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from ports import free_port

HERE = Path(__file__).resolve().parent
KEYS = [f"sk-bench-{i}" for i in range(64)]
LOAD_CPU = 1  # wrk (and the stubs) on the second core, the proxy under test on the first
# Every limit on, none ever reached: the bench measures their cost, not refusals.
LIMITS_ON = ("{requests_per_minute: 100000000, tokens_per_minute: 100000000000, tokens_per_day: 1000000000000, "
             "concurrency: 100000}")


def sluice_config(tmp: Path, name: str, upstream_url: str, store: str, limits: str = LIMITS_ON,
                  detection: str = "enforce", max_connections: int | None = None) -> tuple[Path, int]:
    """A config file for one Sluice under test (keys from tmp/keys); returns it and its proxy port."""
    port, admin = free_port(), free_port()
    pool = f", max_connections: {max_connections}" if max_connections is not None else ""
    path = tmp / f"{name}.yaml"
    path.write_text(
        f"listen: {{port: {port}}}\nadmin: {{port: {admin}}}\n"
        f"upstream: {{url: '{upstream_url}'{pool}}}\nkeys: {{file: {tmp / 'keys'}}}\n"
        f"store: {store}\ntiers: {{default: {{limits: {limits}}}}}\ndetection: {{mode: {detection}}}\n"
    )
    return path, port


def can_pin() -> bool:
    return bool(shutil.which("taskset")) and (os.cpu_count() or 1) > 1


def pinned(cpu: int, argv: list[str]) -> list[str]:
    return (["taskset", "-c", str(cpu)] if can_pin() else []) + argv


def wrk(url: str, connections: int, seconds: float, stream: bool = False, delay_ms: int = 0,
        keys: list[str] = KEYS) -> dict[str, float]:
    """req/s, p50/p99 latency (ms), finished requests, and bad answers (non-2xx plus socket errors)."""
    env = {**os.environ, "SLUICE_BENCH_KEYS": ",".join(keys), "SLUICE_BENCH_STREAM": "1" if stream else "0",
           "SLUICE_BENCH_DELAY_MS": str(delay_ms)}
    out = subprocess.run(
        pinned(LOAD_CPU, ["wrk", "-t1", f"-c{connections}", f"-d{max(int(seconds), 1)}s", "--latency",
                          "-s", str(HERE / "post.lua"), url]),
        capture_output=True, text=True, env=env, timeout=seconds + 60, check=True,
    ).stdout

    def latency(label: str) -> float:
        m = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not m:
            return float("nan")
        return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    done = float(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    bad = float(errors.group(1)) if errors else 0.0
    if socket_errors:
        bad += sum(float(x) for x in socket_errors.groups())
    return {"rps": rps, "p50": latency("50%"), "p99": latency("99%"), "bad": bad, "non2xx": bad, "requests": done}
