"""Soak: sustained mixed traffic through a real `sluice serve`, then leaks, slopes and token drift.

    python bench/soak.py [--seconds 60] [--concurrency 24] [--sample 1.0] [--seed 7]

Starts a throwaway redis-server, the stub upstream (in this process, so its counts
can be read) and `sluice serve` on Redis, and sends mixed traffic for --seconds:
JSON and streamed chat, streams whose client aborts mid-way, streams the upstream
resets, upstream 500s, accounts that run into their per-minute, concurrency and
daily limits, and extraction-like accounts (reasoning harvest with logprobs, on a
tier with low action levels, so delay, perturb, throttle and block all happen).

Every --sample seconds it records the Sluice process's RSS and open fds
(/proc/PID), its asyncio task count (the `sluice_asyncio_tasks` gauge, counted
at scrape time), and Redis' key count (DBSIZE), and prints the least-squares
slope of each per minute (after a warm-up of the first fifth of the run, and over
the whole run). At the end it compares the tokens Redis holds on the accounts'
daily budgets with the tokens the stub served (completed answers and aborted
streams alike): they must be equal to the token. Then SIGTERM: Sluice must drain
and exit 0 without a traceback.

The last line is `SOAK {json}` (for tests/test_soak.py). Exit status 1 on drift,
an unexpected error, leftover leases or a crash.

Two kinds of client abort keep the comparison exact. `abort`: the client leaves
while the upstream pauses (model `stub-stall`, 1.5 s, after three chunks); Sluice
learns that a client left only when it next writes to it (aiohttp does not read
the socket while a request is being handled), so here the upstream's silence
outlasts `idle` (0.5 s) and Sluice ends the upstream request itself, at a point
where what the upstream wrote and what Sluice read are the same bytes. `leave`:
the client leaves after the last content chunk, before the usage and [DONE]. A
client that leaves at an arbitrary point is charged what Sluice read from the
upstream, which can be a chunk less than what the upstream wrote into the socket
(bounded by tests/test_budgets_live.py and tests/test_faults.py). Prompts are plain lowercase words, where Sluice's
estimate (used when a stream ends without usage) and the stub's count agree.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import redis.asyncio as aioredis
from ports import free_port, wait_port  # bench/ports.py (this folder is on sys.path)

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from proxy.accounts import keys_file_line  # noqa: E402
from proxy.stub import StubUpstream  # noqa: E402

BENIGN = [f"soak-user-{i}" for i in range(8)]
LIMITED = [f"soak-tiny-{i}" for i in range(2)]  # 20 requests/minute, 2 at a time
QUOTA = ["soak-quota-0"]  # 1000 tokens a day
EXTRACT = [f"soak-harvest-{i}" for i in range(3)]  # reasoning harvest, low action levels
ALL = BENIGN + LIMITED + QUOTA + EXTRACT

TOPICS = ("cache", "queue", "index", "parser", "router", "ledger", "scheduler", "socket", "buffer", "tensor")
VERBS = ("describe", "compare", "summarise", "improve", "review", "explain")
HARVEST = ("explain step by step and show your full reasoning about the {t} proof in detail",
           "think carefully step by step then give a complete derivation of the {t} algorithm")

# What a soak client may legitimately see (status, code); anything else is an error.
EXPECTED = {(200, None), (429, "rate_limit_exceeded"), (429, "insufficient_quota"), (429, "request_too_large"),
            (403, "account_restricted"), (500, "stub_error")}


def key_of(account: str) -> str:
    return f"sk-{account}"


def write_config(tmp: Path, stub_url: str, redis_url: str) -> tuple[Path, int, int]:
    port, admin = free_port(), free_port()
    tiers = {"default": BENIGN, "tiny": LIMITED, "quota": QUOTA, "harvest": EXTRACT}
    lines = [keys_file_line(key_of(a), a, tier) for tier, accounts in tiers.items() for a in accounts]
    (tmp / "keys").write_text("\n".join(lines) + "\n")
    path = tmp / "sluice.yaml"
    path.write_text(
        f"listen: {{host: 127.0.0.1, port: {port}}}\nadmin: {{host: 127.0.0.1, port: {admin}}}\n"
        # idle below the stub's pause: see the module docstring on aborts.
        f"upstream: {{url: '{stub_url}', timeouts: {{connect: 2, first_byte: 10, idle: 0.5, total: 60}}}}\n"
        f"server: {{drain_seconds: 20, reload_poll_s: 0}}\nkeys: {{file: {tmp / 'keys'}}}\n"
        # closed: a store hiccup under load is a visible 503 (counted as an error), never a silent
        # local charge that Redis would not show; a wide timeout so event-loop lag is not one.
        f"store: {{backend: redis, url: '{redis_url}', timeout_ms: 2000, failure: closed}}\n"
        "detection: {mode: enforce, delay_s: 0.05}\n"
        "tiers:\n"
        "  default: {limits: {requests_per_minute: 100000, tokens_per_minute: 100000000}}\n"
        "  tiny: {limits: {requests_per_minute: 20, concurrency: 2}}\n"
        "  quota: {limits: {tokens_per_day: 1000}}\n"
        "  harvest:\n"
        "    limits: {requests_per_minute: 100000}\n"
        "    detection: {levels: {delay: 0.15, perturb: 0.3, throttle: 0.6, block: 0.9}}\n"
    )
    return path, port, admin


def start_redis(tmp: Path) -> tuple[subprocess.Popen[bytes], int]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not on PATH (apt-get install redis-server)")
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(tmp)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    wait_port(port)
    return proc, port


@dataclass
class Tally:
    outcomes: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    requests: int = 0

    def saw(self, kind: str, status: int, code: str | None) -> None:
        self.requests += 1
        self.outcomes[f"{kind} {status}{' ' + code if code else ''}"] += 1
        if (status, code) not in EXPECTED:
            self.errors[f"{kind} {status} {code}"] += 1


def prompt(rng: random.Random, harvest: bool = False) -> list[dict[str, str]]:
    topic = rng.choice(TOPICS)
    text = rng.choice(HARVEST).format(t=topic) if harvest else f"please {rng.choice(VERBS)} the {topic} design"
    return [{"role": "user", "content": text}]


KINDS = {"stream": 0.0, "abort": 0.22, "leave": 0.30, "reset": 0.36, "upstream500": 0.41, "limited": 0.45,
         "quota": 0.57, "harvest": 0.61, "json": 0.74}  # where each kind's share of the roll starts (json: the rest)


async def one(session: aiohttp.ClientSession, url: str, rng: random.Random, tally: Tally, only: str | None) -> None:
    roll = rng.random() if only is None else KINDS[only]
    account, kind = rng.choice(BENIGN), "json"
    body: dict[str, Any] = {"model": "stub-model", "messages": prompt(rng), "max_tokens": rng.choice((8, 16, 32))}
    if roll < KINDS["abort"]:
        kind = "stream"
        body["stream"] = True
        if rng.random() < 0.5:
            body["stream_options"] = {"include_usage": True}
    elif roll < KINDS["leave"]:
        kind, body["model"], body["stream"] = "abort", "stub-stall", True
    elif roll < KINDS["reset"]:
        kind, body["stream"], body["max_tokens"] = "leave", True, 16
    elif roll < KINDS["upstream500"]:
        kind, body["model"], body["stream"] = "reset", "stub-reset", True
    elif roll < KINDS["limited"]:
        kind, body["model"] = "upstream500", "stub-error-500"
    elif roll < KINDS["quota"]:
        account, kind = rng.choice(LIMITED), "limited"
        body["stream"] = rng.random() < 0.5
    elif roll < KINDS["harvest"]:
        account, kind = QUOTA[0], "quota"
    elif roll < KINDS["json"]:
        account, kind = rng.choice(EXTRACT), "harvest"
        body = {"model": "stub-model", "messages": prompt(rng, harvest=True), "max_tokens": 200,
                "logprobs": True, "top_logprobs": 20, "stream": rng.random() < 0.5}
    headers = {"Authorization": f"Bearer {key_of(account)}"}
    try:
        async with session.post(url, json=body, headers=headers) as response:
            code = None
            if response.status != 200:
                try:
                    code = orjson.loads(await response.read())["error"]["code"]
                except (orjson.JSONDecodeError, KeyError, TypeError):
                    code = "unparsable"
                tally.saw(kind, response.status, code)
                return
            if not body.get("stream"):
                await response.read()
                tally.saw(kind, 200, None)
                return
            received = 0
            error = None
            async for line in response.content:
                if line.startswith(b"data: {"):
                    event = orjson.loads(line[6:])
                    if "error" in event:
                        error = event["error"]["code"]
                    elif any((c.get("delta") or {}).get("content") for c in event.get("choices") or ()):
                        received += 1
                        # abort: the stub pauses after three chunks; leave: the last content chunk is in.
                        if (kind == "abort" and received == 3) or (kind == "leave" and received == 16):
                            response.close()
                            tally.saw(kind, 200, None)
                            return
            if kind == "reset":
                # The upstream broke off: the stream ends with an OpenAI-shaped error event.
                tally.saw(kind, 200 if error == "upstream_disconnected" else 599, None if error else "no_error_event")
            else:
                tally.saw(kind, 200 if error is None else 599, error)
    except (aiohttp.ClientError, TimeoutError) as exc:
        tally.saw(kind, 0, exc.__class__.__name__)


async def worker(
    session: aiohttp.ClientSession, url: str, seed: int, deadline: float, tally: Tally, only: str | None
) -> None:
    rng = random.Random(seed)
    loop = asyncio.get_running_loop()
    for _ in range(10_000_000):  # bounded; the deadline ends it
        if loop.time() >= deadline:
            return
        await one(session, url, rng, tally, only)


def proc_sample(pid: int) -> tuple[float, int]:
    """(RSS in MB, open fds) of a process."""
    status = Path(f"/proc/{pid}/status").read_text()
    rss_kb = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
    return rss_kb / 1024.0, len(os.listdir(f"/proc/{pid}/fd"))


async def metric(session: aiohttp.ClientSession, admin_url: str, name: str) -> float:
    async with session.get(admin_url + "/metrics") as response:
        text = await response.text()
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            head, _, value = line.rpartition(" ")
            if head == name or head.startswith(name + "{"):
                total += float(value)
    return total


def slope_per_minute(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of value over time, per minute."""
    n = len(points)
    if n < 2:
        return 0.0
    mt = sum(t for t, _ in points) / n
    mv = sum(v for _, v in points) / n
    var = sum((t - mt) ** 2 for t, _ in points)
    return 0.0 if var == 0 else 60.0 * sum((t - mt) * (v - mv) for t, v in points) / var


async def sampler(pid: int, admin_url: str, r: aioredis.Redis, every: float, stop: asyncio.Event,
                  series: dict[str, list[tuple[float, float]]]) -> None:
    started = time.monotonic()
    async with aiohttp.ClientSession() as session:
        while not stop.is_set():
            t = time.monotonic() - started
            rss, fds = proc_sample(pid)
            series["rss_mb"].append((t, rss))
            series["fds"].append((t, fds))
            series["asyncio_tasks"].append((t, await metric(session, admin_url, "sluice_asyncio_tasks")))
            series["redis_keys"].append((t, float(await r.dbsize())))
            try:
                await asyncio.wait_for(stop.wait(), every)
            except TimeoutError:
                pass


async def redis_charged(r: aioredis.Redis) -> tuple[int, int]:
    """(tokens on every account's daily budgets, leases still held)."""
    tokens, leases = 0, 0
    async for key in r.scan_iter(match="sl:{a:*}:d:*", count=1000):
        tokens += int(await r.get(key) or 0)
    async for key in r.scan_iter(match="sl:{a:*}:lease", count=1000):
        leases += int(await r.zcard(key))
    return tokens, leases


async def soak(args: argparse.Namespace) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="sluice-soak-"))
    redis_proc, redis_port = start_redis(tmp)
    # slow_seconds: the pause of stub-stall, during which aborting clients leave.
    stub = StubUpstream(reply_tokens=48, chunk_delay=0.002, slow_seconds=1.5)
    stub_url = await stub.start()
    config, port, admin = write_config(tmp, stub_url, f"redis://127.0.0.1:{redis_port}/0")
    log = open(tmp / "sluice.log", "wb")  # noqa: SIM115 - read back at the end
    sluice = subprocess.Popen([sys.executable, "-m", "proxy", "serve", "--config", str(config)],
                              stdout=log, stderr=subprocess.STDOUT)
    r = aioredis.Redis(host="127.0.0.1", port=redis_port)
    result: dict[str, Any] = {}
    try:
        wait_port(port)
        wait_port(admin)
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        admin_url = f"http://127.0.0.1:{admin}"
        tally = Tally()
        series: dict[str, list[tuple[float, float]]] = {k: [] for k in ("rss_mb", "fds", "asyncio_tasks", "redis_keys")}
        stop = asyncio.Event()
        sampling = asyncio.create_task(sampler(sluice.pid, admin_url, r, args.sample, stop, series))
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + args.seconds
        connector = aiohttp.TCPConnector(limit=args.concurrency * 2)
        async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=90)) as session:
            await asyncio.gather(*(worker(session, url, args.seed * 1000 + i, deadline, tally, args.only)
                                   for i in range(args.concurrency)))
        elapsed = loop.time() - started
        stop.set()  # the series cover the traffic; the idle state after it is read once below
        await sampling
        # Let the last settlements land and the stub notice the last aborted clients (its pause is 1.5 s).
        async with aiohttp.ClientSession() as session:
            for _ in range(100):
                if await metric(session, admin_url, "sluice_in_flight_requests") == 0:
                    break
                await asyncio.sleep(0.1)
            await asyncio.sleep(2.0)
            settled_tasks = await metric(session, admin_url, "sluice_asyncio_tasks")
            decisions = await metric(session, admin_url, "sluice_extraction_decisions_total")
        idle_rss, idle_fds = proc_sample(sluice.pid)
        charged, leases = await redis_charged(r)
        served = stub.stats.prompt_tokens + stub.stats.completion_tokens + stub.stats.aborted_tokens
        warm = args.seconds / 5
        slopes = {k: round(slope_per_minute([p for p in v if p[0] >= warm]), 3) for k, v in series.items()}
        whole = {k: round(slope_per_minute(v), 3) for k, v in series.items()}
        ranges = {k: (round(v[0][1], 1), round(max(x for _, x in v), 1), round(v[-1][1], 1))
                  for k, v in series.items() if v}
        sluice.send_signal(signal.SIGTERM)
        exit_code = sluice.wait(timeout=60)
        log.close()
        logs = (tmp / "sluice.log").read_text(errors="replace")
        result = {
            "seconds": round(elapsed, 1),
            "requests": tally.requests,
            "requests_per_s": round(tally.requests / elapsed, 1),
            "outcomes": dict(sorted(tally.outcomes.items())),
            "errors": dict(tally.errors),
            "extraction_decisions": decisions,
            "tokens_charged_in_redis": charged,
            "tokens_served_by_upstream": served,
            "drift": charged - served,
            "leases_left": leases,
            "idle_after": {"asyncio_tasks": settled_tasks, "fds": idle_fds, "rss_mb": round(idle_rss, 1),
                           "redis_keys": await r.dbsize()},
            "slope_per_min_after_warmup": slopes,
            "slope_per_min_whole_run": whole,
            "first_max_last": ranges,
            "samples": len(series["rss_mb"]),
            "exit_code": exit_code,
            "traceback": "Traceback" in logs,
        }
    finally:
        if sluice.poll() is None:
            sluice.kill()
            sluice.wait()
        await r.aclose()
        await stub.stop()
        redis_proc.terminate()
        redis_proc.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--concurrency", type=int, default=24)
    parser.add_argument("--sample", type=float, default=1.0, help="seconds between samples")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--only", choices=sorted(KINDS), help="one kind of traffic alone (to isolate a drift)")
    args = parser.parse_args()
    # The in-process stub raises when its client has gone (so it can count the abort); aiohttp logs each.
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
    result = asyncio.run(soak(args))
    print(f"{result['requests']} requests in {result['seconds']} s ({result['requests_per_s']}/s), "
          f"{len(ALL)} accounts, {args.concurrency} clients")
    for outcome, count in result["outcomes"].items():
        print(f"  {outcome:<40} {count:>7}")
    print(f"extraction decisions (non-allow): {result['extraction_decisions']:.0f}")
    print(f"{'series':<15} {'first':>8} {'max':>8} {'last':>8} {'slope/min (after warm-up)':>26} "
          f"{'slope/min (whole)':>18}")
    for name, (first, peak, last) in result["first_max_last"].items():
        print(f"{name:<15} {first:>8} {peak:>8} {last:>8} {result['slope_per_min_after_warmup'][name]:>26} "
              f"{result['slope_per_min_whole_run'][name]:>18}")
    print(f"after the traffic: {result['idle_after']}")
    print(f"tokens: Redis {result['tokens_charged_in_redis']}, upstream served {result['tokens_served_by_upstream']}, "
          f"drift {result['drift']}; leases left {result['leases_left']}; errors {sum(result['errors'].values())}; "
          f"exit {result['exit_code']}{', TRACEBACK in log' if result['traceback'] else ''}")
    print("SOAK " + orjson.dumps(result).decode())
    ok = (result["drift"] == 0 and not result["errors"] and result["leases_left"] == 0
          and result["exit_code"] == 0 and not result["traceback"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
