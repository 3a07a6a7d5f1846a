"""The tarpit's memory: N clients held in the delay level at once.

    python bench/tarpit.py [--clients 10000] [--delay 20]

Starts the stub upstream and a `sluice serve` whose tier puts every judged
request at the delay level (delay_s seconds, jittered), opens N concurrent
client requests, samples the proxy's resident memory while they all sleep in
the tarpit, and prints RSS before, at the peak, and after, with the growth per
delayed client. A delayed request holds no upstream connection: the stub's
connection count is printed too.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from ports import free_port, wait_port  # bench/ports.py (this folder is on sys.path)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")



async def drive(port: int, clients: int, pid: int, delay: float) -> None:
    body = {"model": "stub-model", "messages": [{"role": "user", "content": "hello"}], "max_tokens": 4}
    headers = {"Authorization": "Bearer sk-tarpit"}
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    timeout = aiohttp.ClientTimeout(total=delay * 4 + 60)
    statuses: dict[int, int] = {}
    before = rss_mb(pid)
    peak = before

    async def one() -> None:
        async with session.post(f"http://127.0.0.1:{port}/v1/chat/completions", json=body, headers=headers) as r:
            await r.read()
            statuses[r.status] = statuses.get(r.status, 0) + 1

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        started = time.monotonic()
        tasks = [asyncio.create_task(one()) for _ in range(clients)]
        while not all(t.done() for t in tasks):
            peak = max(peak, rss_mb(pid))
            await asyncio.sleep(0.25)
        elapsed = time.monotonic() - started
        await asyncio.gather(*tasks, return_exceptions=True)
    after = rss_mb(pid)
    print(f"{clients} concurrent delayed clients ({delay:.0f} s tarpit, jittered +-50%), done in {elapsed:.1f} s")
    print(f"statuses: {statuses}")
    print(f"proxy RSS: before {before:.1f} MB, peak {peak:.1f} MB, after {after:.1f} MB;"
          f" growth {peak - before:.1f} MB = {(peak - before) * 1024 / clients:.1f} KB per delayed client")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=10000)
    parser.add_argument("--delay", type=float, default=20.0)
    args = parser.parse_args()
    from proxy.accounts import keys_file_line

    tmp = Path(tempfile.mkdtemp())
    stub_port, port, admin = free_port(), free_port(), free_port()
    (tmp / "keys").write_text(keys_file_line("sk-tarpit", "tarpit", "default") + "\n")
    (tmp / "sluice.yaml").write_text(
        f"listen: {{port: {port}}}\nadmin: {{port: {admin}}}\nupstream: {{url: 'http://127.0.0.1:{stub_port}'}}\n"
        f"keys: {{file: {tmp / 'keys'}}}\nserver: {{reload_poll_s: 0}}\n"
        f"detection: {{delay_s: {args.delay}}}\n"
        "tiers: {default: {detection: {levels: {delay: 0.0, perturb: null, throttle: null, block: null}}}}\n"
    )
    stub = subprocess.Popen([sys.executable, "-m", "proxy", "stub", "--port", str(stub_port)], stdout=subprocess.DEVNULL)
    proxy = subprocess.Popen([sys.executable, "-m", "proxy", "serve", "--config", str(tmp / "sluice.yaml"),
                              "--log-level", "WARNING"])
    try:
        wait_port(stub_port)
        wait_port(port)
        asyncio.run(drive(port, args.clients, proxy.pid, args.delay))
    finally:
        for p in (proxy, stub):
            p.terminate()
        for p in (proxy, stub):
            p.wait(timeout=60)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
