"""Real parts for the tests: a stub upstream on loopback and Sluice in front of it."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, replace
from typing import Any

import aiohttp
import openai

from proxy.accounts import hash_key
from proxy.config import Config, KeyEntry, KeysConfig, parse_config
from proxy.server import Sluice
from proxy.stub import StubUpstream

KEYS = {"sk-test-alice": ("alice", "default"), "sk-test-bob": ("bob", "default"), "sk-test-tiny": ("tiny", "tiny")}
UPSTREAM_KEY = "upstream-secret-credential"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def refusing_port() -> Iterator[int]:
    """A loopback port that refuses connections for as long as the block runs.

    Bound but never listening: nothing can accept on it, and the OS cannot hand
    the number to another server meanwhile (a closed free port could be reused
    by the very stub the test starts next)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield int(s.getsockname()[1])


def base_config(upstream_url: str, **sections: Any) -> Config:
    """A test config: inline keys, ports chosen by the OS, overrides as YAML-shaped dicts."""
    doc: dict[str, Any] = {
        "listen": {"port": 0},
        "admin": {"port": 0, "token_env": "SLUICE_TEST_ADMIN_TOKEN"},
        "upstream": {"url": upstream_url, "timeouts": {"connect": 2, "first_byte": 5, "idle": 5, "total": 30}},
        "tiers": {"default": {"limits": {"requests_per_minute": 1000}}, "tiny": {"limits": {"requests_per_minute": 2}}},
    }
    for name, value in sections.items():
        if isinstance(value, dict) and isinstance(doc.get(name), dict):
            doc[name] = {**doc[name], **value}
        else:
            doc[name] = value
    config = parse_config(doc)
    keys = tuple(KeyEntry(hash_key(k), account, tier) for k, (account, tier) in KEYS.items())
    return replace(config, keys=KeysConfig(inline=keys))


@dataclass
class Running:
    sluice: Sluice
    stub: StubUpstream
    base_url: str
    admin_url: str

    def client(self, key: str = "sk-test-alice", **kwargs: Any) -> openai.AsyncOpenAI:
        kwargs.setdefault("max_retries", 0)
        kwargs.setdefault("timeout", 20)
        return openai.AsyncOpenAI(api_key=key, base_url=f"{self.base_url}/v1", **kwargs)


@asynccontextmanager
async def running_sluice(
    stub: StubUpstream | None = None,
    configure: Callable[[str], Config] | None = None,
    **sections: Any,
) -> AsyncIterator[Running]:
    stub = stub or StubUpstream()
    upstream_url = await stub.start()
    config = configure(upstream_url) if configure else base_config(upstream_url, **sections)
    sluice = Sluice(config)
    try:
        proxy_port, admin_port = await sluice.start()
        yield Running(sluice, stub, f"http://127.0.0.1:{proxy_port}", f"http://127.0.0.1:{admin_port}")
    finally:
        await sluice.stop()
        await stub.stop()


async def eventually(check: Callable[[], Any], timeout: float = 5.0) -> Any:
    """Poll until check() is truthy (settlement runs just after the response)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result or loop.time() > deadline:
            return result
        await asyncio.sleep(0.01)


async def wait_healthy(admin_port: int, proc: asyncio.subprocess.Process) -> None:
    """Until a `sluice serve` subprocess answers /healthz (or fails if it exits first)."""
    async with aiohttp.ClientSession() as session:
        for _ in range(300):
            if proc.returncode is not None:
                raise AssertionError(f"sluice exited early with {proc.returncode}")
            try:
                async with session.get(f"http://127.0.0.1:{admin_port}/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError("sluice never became healthy")
