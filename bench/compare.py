"""Sluice side by side with a bare aiohttp pass-through, behind a near-free nginx stub upstream.

    python bench/compare.py [--seconds 5] [--repeats 3]
    python bench/compare.py --streams 1000

The upstream is nginx (Debian's ``nginx-light``) answering POST /v1/chat/completions
with a static 200-token chat JSON, or a static 50-chunk SSE stream (with a final
usage chunk) when the request carries ``X-Bench-Stream: 1`` (bench/post.lua sets
it: nginx cannot read the body). The proxies measured, each pinned to CPU 0
(nginx, redis-server, wrk and this script share CPU 1):

- ``pass-through``: bench/passthrough.py, aiohttp + uvloop, one ClientSession;
- ``sluice memory``: every limit and the detector on, memory store;
- ``sluice redis``: the same on a throwaway redis-server.

``--baseline-src DIR`` adds ``sluice redis (baseline)``: the same Redis variant
run from another source tree (``DIR/proxy``, e.g. ``git archive HEAD proxy | tar
-x -C DIR``), measured in the same alternation, for before/after figures.

The Redis variants use ``store.timeout_ms: 1000``: at 64 connections a saturated
proxy's own event-loop queue exceeds the default 50 ms, the breaker opens and
requests are served on the local fail-open limiter, which would measure the
memory path under a Redis label.

Each repeat runs every cell for every target in turn (A B C, A B C, ...), so
drift on a shared machine hits all alike, and each Sluice ratio is taken
against the pass-through of the same repeat; the table shows medians over
repeats. Cells: req/s at 64 connections (JSON and SSE), p50 at 1 connection,
p99 at half of the slower Sluice's peak JSON rate (wrk's Lua ``delay``; the
achieved rate is printed), SSE time to first byte (an aiohttp client at c=1,
first body chunk), RSS after the run, and each proxy's CPU time per request in
the c=64 cells (from /proc: the figure a busy shared machine distorts least);
for the Redis variants also redis-server's CPU time per request in the JSON
cell (1e6 over it: the requests a second one Redis core serves).

``--streams N`` is another mode: N concurrent SSE streams held open through
Sluice (Redis, all on) from a slow Python stub (one chunk every 0.2 s), and the
RSS of Sluice and of the pass-through with the same streams open.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from load import KEYS, LOAD_CPU, can_pin, pinned, sluice_config, wrk  # bench/load.py (this folder is on sys.path)
from ports import free_port, wait_port

HERE = Path(__file__).resolve().parent
PROXY_CPU = 0
CHAT_PATH = "/v1/chat/completions"
WORDS = "the river carries silt to the delta where it settles into new land".split()


# ---- the nginx stub ---------------------------------------------------------


def chat_json(tokens: int) -> bytes:
    text = " ".join(WORDS[i % len(WORDS)] for i in range(tokens))
    return (
        '{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"stub-model",'
        '"choices":[{"index":0,"message":{"role":"assistant","content":"' + text + '"},"finish_reason":"stop"}],'
        f'"usage":{{"prompt_tokens":260,"completion_tokens":{tokens},"total_tokens":{260 + tokens}}}}}'
    ).encode()


def chat_sse(chunks: int, words_per_chunk: int = 4) -> bytes:
    head = '{"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,"model":"stub-model",'
    events = []
    for i in range(chunks):
        piece = " ".join(WORDS[(i * words_per_chunk + j) % len(WORDS)] for j in range(words_per_chunk)) + " "
        events.append(head + '"choices":[{"index":0,"delta":{"content":"' + piece + '"},"finish_reason":null}]}')
    events.append(head + '"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}')
    events.append(head + f'"choices":[],"usage":{{"prompt_tokens":260,"completion_tokens":{chunks * words_per_chunk},'
                  f'"total_tokens":{260 + chunks * words_per_chunk}}}}}')
    return "".join(f"data: {e}\n\n" for e in [*events]).encode() + b"data: [DONE]\n\n"


def nginx_conf(tmp: Path, port: int) -> Path:
    """One worker, keepalive without a request cap, both answers as files served with POST allowed."""
    tmp.chmod(0o755)  # nginx's worker drops root for nobody: it must read the files
    (tmp / "www").mkdir(exist_ok=True)
    (tmp / "www" / "chat.json").write_bytes(chat_json(200))
    (tmp / "www" / "chat.sse").write_bytes(chat_sse(50))
    conf = tmp / "nginx.conf"
    conf.write_text(f"""
daemon off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx.err warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 120s;
  client_body_buffer_size 64k;
  client_body_temp_path {tmp}/body;
  proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fastcgi;
  uwsgi_temp_path {tmp}/uwsgi;
  scgi_temp_path {tmp}/scgi;
  types {{ }}
  server {{
    listen 127.0.0.1:{port};
    root {tmp}/www;
    # Static files refuse POST with 405; answer it with the file, status 200.
    error_page 405 =200 $uri;
    location = {CHAT_PATH} {{
      if ($http_x_bench_stream = "1") {{ rewrite ^ /chat.sse last; }}
      rewrite ^ /chat.json last;
    }}
    location = /chat.json {{ internal; default_type application/json; }}
    location = /chat.sse {{ internal; default_type text/event-stream; }}
  }}
}}
""")
    return conf


# ---- load -------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used: per request, the figure a busy shared machine distorts least."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def sse_ttfb(url: str, count: int, seconds: float) -> float:
    """Median ms from sending a streamed request to its first body bytes, one request at a time."""
    body = (b'{"model":"stub-model","max_tokens":200,"stream":true,"messages":[{"role":"user","content":"'
            + b"Summarise the following passage about river deltas and sediment. " * 14 + b'"}]}')
    samples: list[float] = []
    deadline = time.monotonic() + seconds
    async with aiohttp.ClientSession() as session:
        for i in range(count):
            if time.monotonic() > deadline:
                break
            headers = {"Authorization": f"Bearer {KEYS[i % len(KEYS)]}", "Content-Type": "application/json",
                       "X-Bench-Stream": "1"}
            started = time.perf_counter()
            async with session.post(url, data=body, headers=headers) as response:
                await response.content.readany()
                samples.append((time.perf_counter() - started) * 1000)
                await response.read()
    return statistics.median(samples) if samples else float("nan")


def rss_mb(pid: int) -> float:
    """Resident set of a process and its children (``sluice serve --workers`` forks)."""
    total = 0.0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
        except FileNotFoundError:
            pass
    return total


# ---- processes --------------------------------------------------------------


class Procs:
    def __init__(self) -> None:
        self.all: list[subprocess.Popen[bytes]] = []

    def start(self, argv: list[str], port: int | None = None, quiet: bool = False) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL if quiet else None)
        self.all.append(proc)
        if port is not None:
            wait_port(port)
        return proc

    def stop(self) -> None:
        for p in reversed(self.all):
            p.terminate()
        for p in self.all:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()


def machine_line() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import uvloop

    nginx = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip()
    nginx = nginx.removeprefix("nginx version: ")
    return (f"machine: {cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}; Python "
            f"{sys.version.split()[0]}, aiohttp {aiohttp.__version__}, uvloop {uvloop.__version__}, {nginx}; "
            + ("proxies pinned to CPU 0, nginx/redis/wrk to CPU 1" if can_pin() else "no pinning (one core)"))


def start_common(procs: Procs, tmp: Path) -> int:
    from proxy.accounts import keys_file_line

    (tmp / "keys").write_text("".join(keys_file_line(k, f"acct-{i}", "default") + "\n" for i, k in enumerate(KEYS)))
    redis_port = free_port()
    procs.start(pinned(LOAD_CPU, ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                                  "--appendonly", "no", "--dir", str(tmp)]), redis_port)
    return redis_port


def start_proxies(procs: Procs, tmp: Path, upstream: str, redis_port: int, max_connections: int = 512,
                  baseline_src: str | None = None) -> dict[str, tuple[subprocess.Popen[bytes], int]]:
    redis_store = f"{{backend: redis, url: 'redis://127.0.0.1:{redis_port}/0', timeout_ms: 1000}}"
    targets: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
    port = free_port()
    argv = [sys.executable, str(HERE / "passthrough.py"), "--port", str(port), "--upstream", upstream]
    targets["pass-through"] = (procs.start(pinned(PROXY_CPU, argv), port), port)
    for name, store in (("sluice memory", "{backend: memory}"), ("sluice redis", redis_store)):
        config, port = sluice_config(tmp, name.replace(" ", "-"), upstream, store, max_connections=max_connections)
        argv = [sys.executable, "-m", "proxy", "serve", "--config", str(config), "--log-level", "WARNING"]
        targets[name] = (procs.start(pinned(PROXY_CPU, argv), port), port)
    if baseline_src:
        config, port = sluice_config(tmp, "baseline", upstream, redis_store, max_connections=max_connections)
        argv = [sys.executable, "-m", "proxy", "serve", "--config", str(config), "--log-level", "WARNING"]
        env = {**os.environ, "PYTHONPATH": str(Path(baseline_src).resolve())}
        proc = subprocess.Popen(pinned(PROXY_CPU, argv), stdout=subprocess.DEVNULL, env=env, cwd=baseline_src)
        procs.all.append(proc)
        wait_port(port)
        targets["sluice redis (baseline)"] = (proc, port)
    return targets


# ---- the throughput / latency run ---------------------------------------------


def run_table(args: argparse.Namespace) -> int:
    tmp = Path(tempfile.mkdtemp(prefix="sluice-compare-"))
    procs = Procs()
    try:
        redis_port = start_common(procs, tmp)
        redis_pid = procs.all[-1].pid  # taskset execs redis-server: the same process
        nginx_port = free_port()
        procs.start(pinned(LOAD_CPU, ["nginx", "-c", str(nginx_conf(tmp, nginx_port))]), nginx_port)
        upstream = f"http://127.0.0.1:{nginx_port}"
        targets = start_proxies(procs, tmp, upstream, redis_port, baseline_src=args.baseline_src)
        urls = {"nginx directly": upstream + CHAT_PATH}
        urls |= {n: f"http://127.0.0.1:{p}{CHAT_PATH}" for n, (_, p) in targets.items()}
        for name, url in urls.items():  # warm up: connection pools, Redis script cache
            for stream in (False, True):
                r = wrk(url, 8, 1, stream)
                if r["rps"] == 0:
                    raise SystemExit(f"{name} answers nothing")
        rows: dict[str, dict[str, list[float]]] = {n: {} for n in urls}

        def note(name: str, key: str, value: float) -> None:
            rows[name].setdefault(key, []).append(value)

        for rep in range(args.repeats):
            peak: dict[str, float] = {}
            for name, url in urls.items():  # A B C D, in this order every repeat
                pid = targets[name][0].pid if name in targets else None
                cpu = cpu_seconds(pid) if pid else 0.0
                redis_cpu = cpu_seconds(redis_pid)
                j = wrk(url, 64, args.seconds)
                if "redis" in name:  # Redis's own CPU per request: how many requests one Redis core serves
                    note(name, "redis_json", (cpu_seconds(redis_pid) - redis_cpu) / max(j["requests"], 1) * 1e6)
                if pid:
                    note(name, "cpu_json", (cpu_seconds(pid) - cpu) / max(j["requests"], 1) * 1e6)
                    cpu = cpu_seconds(pid)
                s = wrk(url, 64, args.seconds, stream=True)
                if pid:
                    note(name, "cpu_sse", (cpu_seconds(pid) - cpu) / max(s["requests"], 1) * 1e6)
                peak[name] = j["rps"]
                note(name, "json", j["rps"])
                note(name, "sse", s["rps"])
                note(name, "bad", j["bad"] + s["bad"])
            for name, url in urls.items():
                one = wrk(url, 1, args.seconds)
                note(name, "p50", one["p50"])
                note(name, "bad", one["bad"])
                note(name, "ttfb", asyncio.run(sse_ttfb(url, 300, args.seconds)))
            half = 0.5 * min(peak["sluice memory"], peak["sluice redis"])
            conns = max(4, round(half / 100))  # ~10 ms between a connection's requests
            delay = max(1, round(1000 * conns / half))
            for name, url in urls.items():
                h = wrk(url, conns, args.seconds, delay_ms=delay)
                note(name, "half_p99", h["p99"])
                note(name, "half_rps", h["rps"])
                note(name, "bad", h["bad"])
            for name in urls:
                if name == "nginx directly":
                    continue
                base = rows["pass-through"]
                note(name, "json_ratio", rows[name]["json"][-1] / base["json"][-1])
                note(name, "sse_ratio", rows[name]["sse"][-1] / base["sse"][-1])
                note(name, "p50_added", rows[name]["p50"][-1] - base["p50"][-1])
                note(name, "p99_added", rows[name]["half_p99"][-1] - base["half_p99"][-1])
            print(f"repeat {rep + 1}/{args.repeats} done", file=sys.stderr, flush=True)
        for name, (proc, _) in targets.items():
            note(name, "rss", rss_mb(proc.pid))
        print_table(args, rows)
    finally:
        procs.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


def print_table(args: argparse.Namespace, rows: dict[str, dict[str, list[float]]]) -> None:
    def med(name: str, key: str, fmt: str) -> str:
        values = rows[name].get(key)
        return format(statistics.median(values), fmt) if values else "-"

    print(machine_line())
    print(f"median of {args.repeats} repeats x {args.seconds:.0f} s per cell, targets alternated A B C D each repeat; "
          "ratios and added latency against the pass-through of the same repeat")
    print()
    print("| target | JSON req/s c=64 | x pass-through | SSE req/s c=64 | x pass-through | CPU µs/req JSON | SSE | "
          "Redis CPU µs/req | p50 c=1 ms | added | p99 at half load ms (req/s) | added | SSE TTFB c=1 ms | RSS MB | "
          "errors |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in rows:
        bad = sum(rows[name].get("bad", []))
        print(f"| {name} | {med(name, 'json', '.0f')} | {med(name, 'json_ratio', '.2f')} | {med(name, 'sse', '.0f')} | "
              f"{med(name, 'sse_ratio', '.2f')} | {med(name, 'cpu_json', '.0f')} | {med(name, 'cpu_sse', '.0f')} | "
              f"{med(name, 'redis_json', '.0f')} | {med(name, 'p50', '.3f')} | {med(name, 'p50_added', '+.3f')} | "
              f"{med(name, 'half_p99', '.2f')} ({med(name, 'half_rps', '.0f')}) | {med(name, 'p99_added', '+.2f')} | "
              f"{med(name, 'ttfb', '.3f')} | {med(name, 'rss', '.0f')} | {bad:.0f} |")


# ---- many open streams ------------------------------------------------------------


async def hold_streams(
    url: str, count: int, timeout: float
) -> tuple[int, aiohttp.ClientSession, list[aiohttp.ClientResponse]]:
    """Open ``count`` streams, each read to its first chunk; returns how many got there (left open)."""
    body = b'{"model":"stub-model","max_tokens":200,"stream":true,"messages":[{"role":"user","content":"hello"}]}'
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), timeout=aiohttp.ClientTimeout(total=None))
    responses: list[aiohttp.ClientResponse] = []

    async def one(i: int) -> None:
        headers = {"Authorization": f"Bearer {KEYS[i % len(KEYS)]}", "Content-Type": "application/json"}
        response = await session.post(url, data=body, headers=headers)
        responses.append(response)
        await response.content.readany()

    results = await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(count)), return_exceptions=True), timeout)
    return sum(1 for r in results if r is None), session, responses


def run_streams(args: argparse.Namespace) -> int:
    tmp = Path(tempfile.mkdtemp(prefix="sluice-streams-"))
    procs = Procs()
    try:
        redis_port = start_common(procs, tmp)
        stub_port = free_port()
        # 200 words at one per 0.2 s: a stream lasts ~40 s, longer than the measurement.
        procs.start(pinned(LOAD_CPU, [sys.executable, "-m", "proxy", "stub", "--port", str(stub_port),
                                      "--reply-tokens", "200", "--chunk-delay", "0.2"]), stub_port,
                    quiet=True)  # it logs every stream the measurement abandons
        stub = f"http://127.0.0.1:{stub_port}"
        targets = start_proxies(procs, tmp, stub, redis_port, max_connections=args.streams + 64)
        del targets["sluice memory"]
        print(machine_line())
        print()
        print("| target | RSS idle MB | streams open | RSS with the streams open MB |")
        print("|---|---:|---:|---:|")
        for name, (proc, port) in targets.items():
            idle = rss_mb(proc.pid)

            async def measure() -> tuple[int, float]:
                opened, session, responses = await hold_streams(f"http://127.0.0.1:{port}{CHAT_PATH}", args.streams, 30)
                await asyncio.sleep(1.0)
                rss = rss_mb(proc.pid)
                for r in responses:
                    r.close()
                await session.close()
                return opened, rss

            opened, rss = asyncio.run(measure())
            print(f"| {name} | {idle:.0f} | {opened} | {rss:.0f} |", flush=True)
            time.sleep(2)  # let the aborted streams settle before the next target
    finally:
        procs.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each wrk cell")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--baseline-src", help="also run the Redis variant from this source tree (DIR/proxy)")
    parser.add_argument("--streams", type=int, default=0, help="instead: hold this many SSE streams open, report RSS")
    args = parser.parse_args()
    for tool in ("wrk", "redis-server", "nginx"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} not found: apt-get install {'nginx-light' if tool == 'nginx' else tool}")
    if can_pin():
        os.sched_setaffinity(0, {LOAD_CPU})  # this script's own clients (TTFB, streams) load CPU 1 too
    return run_streams(args) if args.streams else run_table(args)


if __name__ == "__main__":
    raise SystemExit(main())
