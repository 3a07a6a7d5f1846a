"""Hot reload: a ConfigMap-style symlink swap takes effect without dropping a live stream;
an invalid config is rejected, reported, and the running one stays."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import aiohttp

from proxy.accounts import keys_file_line
from proxy.config import load_config
from proxy.server import Sluice
from proxy.stub import StubUpstream
from tests.harness import eventually

KEY = "sk-reload-dana"
HEADERS = {"Authorization": f"Bearer {KEY}"}
CHAT = {"model": "stub-model", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}


def version(root: Path, name: str, upstream: str, rpm: object) -> None:
    """One ConfigMap revision: a directory holding the config and its keys file."""
    d = root / name
    d.mkdir()
    (d / "keys").write_text(keys_file_line(KEY, "dana", "default") + "\n")
    (d / "sluice.yaml").write_text(
        f"listen: {{port: 0}}\nadmin: {{port: 0}}\nupstream: {{url: '{upstream}'}}\n"
        f"server: {{reload_poll_s: 0.1}}\nkeys: {{file: {root / 'current' / 'keys'}}}\n"
        f"tiers: {{default: {{limits: {{requests_per_minute: {rpm}}}}}}}\n"
    )


def swap(root: Path, name: str) -> None:
    """Kubernetes' atomic update: a new symlink renamed over the old one."""
    tmp = root / "current.tmp"
    tmp.symlink_to(root / name)
    os.replace(tmp, root / "current")


async def post(session: aiohttp.ClientSession, base: str) -> int:
    async with session.post(base + "/v1/chat/completions", json=CHAT, headers=HEADERS) as response:
        await response.read()
        return response.status


async def test_configmap_swap_reloads_without_dropping_a_stream(tmp_path: Path) -> None:
    stub = StubUpstream(reply_tokens=30, chunk_delay=0.05)
    upstream = await stub.start()
    version(tmp_path, "v1", upstream, 3)
    (tmp_path / "current").symlink_to(tmp_path / "v1")
    sluice = Sluice(load_config(tmp_path / "current" / "sluice.yaml"))
    port, _ = await sluice.start()
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session:
            assert [await post(session, base) for _ in range(2)] == [200, 200]

            async def stream() -> list[bytes]:
                body = {**CHAT, "stream": True, "max_tokens": 30}
                async with session.post(base + "/v1/chat/completions", json=body, headers=HEADERS) as response:
                    assert response.status == 200
                    return [line async for line in response.content if line.startswith(b"data: ")]

            # The third request of the minute, a 1.5 s stream, is admitted under the old config...
            live = asyncio.create_task(stream())
            await asyncio.sleep(0.2)
            assert await post(session, base) == 429  # ...which has no room left for a fourth
            version(tmp_path, "v2", upstream, 1000)
            swap(tmp_path, "v2")
            assert await eventually(lambda: _applied(sluice) == 1, timeout=5)
            assert await post(session, base) == 200  # the new limit applies to new requests
            events = await live
            assert events[-1] == b"data: [DONE]\n"  # the live stream ran to its end
            assert sum(1 for e in events if b'"content":"' in e and b'"content":""' not in e) == 30

            version(tmp_path, "v3", upstream, "lots")
            swap(tmp_path, "v3")
            assert await eventually(lambda: _rejected(sluice) == 1, timeout=5)
            assert sluice.config.tier("default").limits.requests_per_minute == 1000  # the running config stayed
            assert [await post(session, base) for _ in range(3)] == [200, 200, 200]
            assert sluice.reload() is False  # a SIGHUP now reports the same rejection
            assert _rejected(sluice) == 2
    finally:
        await sluice.stop()
        await stub.stop()


def _applied(sluice: Sluice) -> float:
    return sluice.metrics.config_reloads.labels("applied")._value.get()


def _rejected(sluice: Sluice) -> float:
    return sluice.metrics.config_reloads.labels("rejected")._value.get()
