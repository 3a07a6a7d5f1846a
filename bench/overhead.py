"""Proxy overhead: wrk straight at the stub upstream vs through Sluice, limits off and on.

    python bench/overhead.py [--seconds 5] [--repeats 2]

Pins the stub and wrk to CPU 1 and Sluice to CPU 0 where taskset exists. Prints
req/s at 64 connections and p50/p99 at 1 connection for: the stub directly,
Sluice with no limits and no detector, with every limit and the detector on the
memory store, and the same on a throwaway Redis; and the latency each adds. The stub is Python: at high load it, not Sluice, can be the
ceiling; bench/ for issue 8 replaces it with nginx.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from load import pinned, sluice_config, wrk  # bench/load.py (this folder is on sys.path)
from ports import free_port, wait_port

HERE = Path(__file__).resolve().parent
KEYS = [f"sk-bench-{i}" for i in range(16)]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    for tool in ("wrk", "redis-server"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} not found: apt-get install {tool}")
    from proxy.accounts import keys_file_line

    tmp = Path(tempfile.mkdtemp())
    (tmp / "keys").write_text("".join(keys_file_line(k, f"acct-{i}", "default") + "\n" for i, k in enumerate(KEYS)))
    stub_port, redis_port = free_port(), free_port()
    redis_store = f"{{backend: redis, url: 'redis://127.0.0.1:{redis_port}/0'}}"
    variants = {
        "sluice, no limits/detector": sluice_config(tmp, "off", f"http://127.0.0.1:{stub_port}", "{backend: memory}", "{}", "off"),
        "sluice, memory, all on": sluice_config(tmp, "memory", f"http://127.0.0.1:{stub_port}", "{backend: memory}"),
        "sluice, redis, all on": sluice_config(tmp, "redis", f"http://127.0.0.1:{stub_port}", redis_store),
    }
    procs = [
        subprocess.Popen(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                          "--appendonly", "no", "--dir", str(tmp)], stdout=subprocess.DEVNULL),
        subprocess.Popen(pinned(1, [sys.executable, "-m", "proxy", "stub", "--port", str(stub_port), "--reply-tokens", "200"]),
                         stdout=subprocess.DEVNULL),
    ]
    try:
        wait_port(redis_port)
        wait_port(stub_port)
        targets = {"stub upstream directly": f"http://127.0.0.1:{stub_port}/v1/chat/completions"}
        for name, (config, port) in variants.items():
            procs.append(subprocess.Popen(pinned(0, [sys.executable, "-m", "proxy", "serve", "--config", str(config),
                                                     "--log-level", "WARNING"])))
            wait_port(port)
            targets[name] = f"http://127.0.0.1:{port}/v1/chat/completions"
            wrk(targets[name], 8, 1, keys=KEYS)  # warm up
        results: dict[str, list[dict[str, float]]] = {name: [] for name in targets}
        lat: dict[str, list[dict[str, float]]] = {name: [] for name in targets}
        for _ in range(args.repeats):
            for name, url in targets.items():  # A B C D A B C D: drift hits all alike
                results[name].append(wrk(url, 64, args.seconds, keys=KEYS))
                lat[name].append(wrk(url, 1, args.seconds, keys=KEYS))
        print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, best of {args.repeats}x{args.seconds:.0f}s per cell; "
              "Sluice pinned to CPU 0, stub and wrk to CPU 1 (both proxies idle but one at a time)")
        print(f"{'target':<26} {'req/s c=64':>11} {'p99 c=64 ms':>12} {'p50 c=1 ms':>11} {'p99 c=1 ms':>11} {'added p50':>10} {'non-2xx':>8}")
        base = min(r["p50"] for r in lat["stub upstream directly"])
        for name in targets:
            rps = max(r["rps"] for r in results[name])
            p99 = min(r["p99"] for r in results[name])
            p50_1 = min(r["p50"] for r in lat[name])
            p99_1 = min(r["p99"] for r in lat[name])
            bad = sum(r["non2xx"] for r in results[name] + lat[name])
            print(f"{name:<26} {rps:>11.0f} {p99:>12.2f} {p50_1:>11.3f} {p99_1:>11.3f} {p50_1 - base:>10.3f} {bad:>8.0f}")
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            p.wait(timeout=30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
