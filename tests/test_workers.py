"""`sluice serve --workers N`: N processes on one port (SO_REUSEPORT), signals forwarded, clean exit."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import orjson

from proxy.accounts import keys_file_line
from proxy.stub import StubUpstream
from tests.harness import free_port, wait_healthy


def write_config(tmp: Path, upstream_url: str, proxy_port: int, admin_port: int, store: str) -> Path:
    (tmp / "keys").write_text(keys_file_line("sk-work-dana", "dana", "default") + "\n")
    config = tmp / "sluice.yaml"
    config.write_text(
        f"""
listen: {{host: 127.0.0.1, port: {proxy_port}}}
admin: {{host: 127.0.0.1, port: {admin_port}}}
upstream:
  url: {upstream_url}
  timeouts: {{connect: 2, first_byte: 5, idle: 5, total: 60}}
server: {{drain_seconds: 10, reload_poll_s: 0}}
keys: {{file: {tmp / 'keys'}}}
store: {store}
tiers:
  default:
    limits: {{requests_per_minute: 100000}}
"""
    )
    return config


def children(pid: int) -> list[int]:
    """The live child processes of pid, from /proc (ppid is field 4 of /proc/N/stat)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry.name))
    return sorted(found)


def tcp_sockets(pid: int, port: int, state: str) -> int:
    """How many IPv4 sockets of pid have local port ``port`` in ``state`` ("0A" listen, "01" established)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        parts = line.split()
        local_port = int(parts[1].split(":")[1], 16)
        if local_port == port and parts[3] == state and parts[9] in inodes:
            count += 1
    return count


async def eventually(check, timeout: float = 10.0):  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = check()
        if result or asyncio.get_running_loop().time() > deadline:
            return result
        await asyncio.sleep(0.05)


async def chat(port: int, key: str, stream: bool = False) -> tuple[int, list[bytes]]:
    """One request on a connection of its own (so the kernel picks a worker for each)."""
    body = {"model": "stub-model", "stream": stream, "messages": [{"role": "user", "content": "hello workers"}]}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session:
        async with session.post(f"http://127.0.0.1:{port}/v1/chat/completions", json=body,
                                headers={"Authorization": f"Bearer {key}"}) as response:
            return response.status, [line.strip() async for line in response.content if line.startswith(b"data: ")]


async def test_two_workers_serve_one_port_forward_signals_and_exit_zero(  # type: ignore[no-untyped-def]
    tmp_path: Path, redis_standalone
) -> None:
    stub = StubUpstream(reply_tokens=20, chunk_delay=0.1)
    upstream_url = await stub.start()
    proxy_port, admin_port = free_port(), free_port()
    config = write_config(tmp_path, upstream_url, proxy_port, admin_port,
                          f"{{backend: redis, url: '{redis_standalone.url}', timeout_ms: 1000}}")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "proxy", "serve", "--config", str(config), "--workers", "2",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )
    workers: list[int] = []
    try:
        await wait_healthy(admin_port, proc)
        assert await eventually(lambda: len(children(proc.pid)) == 2)
        workers = children(proc.pid)
        # Each worker holds its own listening socket on the one proxy port.
        assert await eventually(lambda: all(tcp_sockets(w, proxy_port, "0A") == 1 for w in workers))

        # 16 streams on 16 connections, all open at once: the kernel spreads them over both
        # workers (all on one: odds 2 in 65,536), and each worker is serving some.
        streams = [asyncio.ensure_future(chat(proxy_port, "sk-work-dana", stream=True)) for _ in range(16)]
        served = await eventually(lambda: [tcp_sockets(w, proxy_port, "01") for w in workers]
                                  if sum(tcp_sockets(w, proxy_port, "01") for w in workers) == 16 else None)
        assert served is not None and all(n >= 1 for n in served), served
        for status, events in await asyncio.gather(*streams):
            assert status == 200
            assert events[-1] == b"data: [DONE]"
            words = [orjson.loads(e[6:])["choices"][0]["delta"].get("content") for e in events[:-1]]
            assert len([w for w in words if w]) == 20

        # SIGHUP to the parent reaches every worker: a key added to the keys file works on
        # every fresh connection (one stale worker would refuse about half of them).
        keys = tmp_path / "keys"
        keys.write_text(keys.read_text() + keys_file_line("sk-work-erin", "erin", "default") + "\n")
        assert (await chat(proxy_port, "sk-work-erin"))[0] == 401
        proc.send_signal(signal.SIGHUP)
        await asyncio.sleep(1.0)
        answers = await asyncio.gather(*(chat(proxy_port, "sk-work-erin") for _ in range(16)))
        statuses = [status for status, _ in answers]
        assert statuses == [200] * 16

        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), timeout=20) == 0
        assert not any(Path(f"/proc/{w}").exists() for w in workers)
    finally:
        if proc.returncode is None:
            for pid in children(proc.pid):
                os.kill(pid, signal.SIGKILL)
            proc.kill()
            await proc.wait()
        await stub.stop()


def test_workers_refuse_the_memory_store_and_port_zero(tmp_path: Path) -> None:
    config = write_config(tmp_path, "http://127.0.0.1:9", free_port(), free_port(), "{backend: memory}")
    result = subprocess.run([sys.executable, "-m", "proxy", "serve", "--config", str(config), "--workers", "2"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "store.backend: --workers 2 needs the redis store" in result.stderr
    redis = "{backend: redis, url: 'redis://127.0.0.1:9/0'}"
    config = write_config(tmp_path, "http://127.0.0.1:9", 0, free_port(), redis)
    result = subprocess.run([sys.executable, "-m", "proxy", "serve", "--config", str(config), "--workers", "3"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "listen.port: --workers 3 needs a fixed port, not 0" in result.stderr
