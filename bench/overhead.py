"""Proxy overhead: wrk straight at the stub upstream vs through Sluice (memory store).

    python bench/overhead.py [--seconds 5] [--repeats 2]

Pins the stub and wrk to CPU 1 and Sluice to CPU 0 where taskset exists. Prints
req/s at 64 connections and p50/p99 at 1 connection for both targets, and the
added latency. The stub is Python: at high load it, not Sluice, can be the
ceiling; bench/ for issue 8 replaces it with nginx.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
KEYS = [f"sk-bench-{i}" for i in range(16)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pinned(cpu: int, argv: list[str]) -> list[str]:
    return (["taskset", "-c", str(cpu)] if shutil.which("taskset") and os.cpu_count() and os.cpu_count() > 1 else []) + argv


def wait_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise SystemExit(f"nothing listening on {port}")


def wrk(url: str, connections: int, seconds: float, stream: bool = False) -> dict[str, float]:
    env = {**os.environ, "SLUICE_BENCH_KEYS": ",".join(KEYS), "SLUICE_BENCH_STREAM": "1" if stream else "0"}
    out = subprocess.run(
        pinned(1, ["wrk", "-t1", f"-c{connections}", f"-d{int(seconds)}s", "--latency", "-s", str(HERE / "post.lua"), url]),
        capture_output=True, text=True, env=env, timeout=seconds + 30, check=True,
    ).stdout

    def latency(label: str) -> float:
        m = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not m:
            return float("nan")
        return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50": latency("50%"), "p99": latency("99%"), "non2xx": float(errors.group(1)) if errors else 0.0}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk not found: apt-get install wrk")
    stub_port, proxy_port, admin_port = free_port(), free_port(), free_port()
    tmp = Path(tempfile.mkdtemp())
    from proxy.accounts import keys_file_line

    (tmp / "keys").write_text("".join(keys_file_line(k, f"acct-{i}", "default") + "\n" for i, k in enumerate(KEYS)))
    (tmp / "sluice.yaml").write_text(
        f"listen: {{port: {proxy_port}}}\nadmin: {{port: {admin_port}}}\n"
        f"upstream: {{url: 'http://127.0.0.1:{stub_port}'}}\nkeys: {{file: {tmp / 'keys'}}}\n"
        "tiers: {default: {limits: {requests_per_minute: 100000000, tokens_per_minute: 100000000000}}}\n"
    )
    procs = [
        subprocess.Popen(pinned(1, [sys.executable, "-m", "proxy", "stub", "--port", str(stub_port), "--reply-tokens", "200"]),
                         stdout=subprocess.DEVNULL),
        subprocess.Popen(pinned(0, [sys.executable, "-m", "proxy", "serve", "--config", str(tmp / "sluice.yaml"), "--log-level", "WARNING"])),
    ]
    try:
        wait_port(stub_port)
        wait_port(proxy_port)
        targets = {"stub upstream directly": f"http://127.0.0.1:{stub_port}/v1/chat/completions",
                   "through sluice (memory store)": f"http://127.0.0.1:{proxy_port}/v1/chat/completions"}
        wrk(targets["through sluice (memory store)"], 8, 1)  # warm up
        results: dict[str, list[dict[str, float]]] = {name: [] for name in targets}
        lat: dict[str, list[dict[str, float]]] = {name: [] for name in targets}
        for _ in range(args.repeats):
            for name, url in targets.items():  # A B A B: drift hits both alike
                results[name].append(wrk(url, 64, args.seconds))
                lat[name].append(wrk(url, 1, args.seconds))
        print(f"machine: {os.cpu_count()} cores, {sys.version.split()[0]}, {args.repeats}x{args.seconds:.0f}s per cell")
        print(f"{'target':<32} {'req/s c=64':>11} {'p99 c=64 ms':>12} {'p50 c=1 ms':>11} {'p99 c=1 ms':>11} {'non-2xx':>8}")
        for name in targets:
            rps = max(r["rps"] for r in results[name])
            p99 = min(r["p99"] for r in results[name])
            p50_1 = min(r["p50"] for r in lat[name])
            p99_1 = min(r["p99"] for r in lat[name])
            bad = sum(r["non2xx"] for r in results[name] + lat[name])
            print(f"{name:<32} {rps:>11.0f} {p99:>12.2f} {p50_1:>11.3f} {p99_1:>11.3f} {bad:>8.0f}")
        direct, proxied = (min(r["p50"] for r in lat[n]) for n in targets)
        print(f"added latency at c=1 (p50): {proxied - direct:.3f} ms")
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
