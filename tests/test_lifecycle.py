"""`sluice serve` as a real process: config errors at start-up, readiness, SIGTERM drain."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import orjson
import pytest

from proxy.accounts import keys_file_line
from proxy.stub import StubUpstream
from tests.harness import free_port, wait_healthy


def write_config(tmp: Path, upstream_url: str, proxy_port: int, admin_port: int, extra: str = "") -> Path:
    key_line = subprocess.run(
        [sys.executable, "-m", "proxy", "keys", "hash", "--account", "carol", "--tier", "default"],
        input="sk-life-carol\n", capture_output=True, text=True, check=True,
    ).stdout.strip()
    assert key_line == keys_file_line("sk-life-carol", "carol", "default")
    (tmp / "keys").write_text(f"# test keys\n{key_line}\n")
    config = tmp / "sluice.yaml"
    config.write_text(
        f"""
listen: {{host: 127.0.0.1, port: {proxy_port}}}
admin: {{host: 127.0.0.1, port: {admin_port}}}
upstream:
  url: {upstream_url}
  timeouts: {{connect: 2, first_byte: 5, idle: 5, total: 60}}
server: {{drain_seconds: 20}}
keys: {{file: {tmp / 'keys'}}}
tiers:
  default:
    limits: {{requests_per_minute: 100}}
{extra}
"""
    )
    return config


async def test_sigterm_lets_a_live_stream_finish_then_exits_zero(tmp_path: Path, redis_standalone) -> None:  # type: ignore[no-untyped-def]
    stub = StubUpstream(reply_tokens=20, chunk_delay=0.1)
    upstream_url = await stub.start()
    proxy_port, admin_port = free_port(), free_port()
    config = write_config(tmp_path, upstream_url, proxy_port, admin_port,
                          f"store: {{backend: redis, url: '{redis_standalone.url}', timeout_ms: 1000}}\n")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "proxy", "serve", "--config", str(config),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        await wait_healthy(admin_port, proc)
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{admin_port}/readyz") as response:
                assert response.status == 200
            body = {"model": "stub-model", "stream": True, "messages": [{"role": "user", "content": "drain me"}]}
            headers = {"Authorization": "Bearer sk-life-carol"}
            events: list[bytes] = []
            async with session.post(f"http://127.0.0.1:{proxy_port}/v1/chat/completions", json=body, headers=headers) as response:
                assert response.status == 200
                async for line in response.content:
                    if line.startswith(b"data: "):
                        events.append(line.strip())
                        if len(events) == 2:
                            proc.send_signal(signal.SIGTERM)
                            await asyncio.sleep(0.3)
                            # Draining: no new connections are accepted...
                            with pytest.raises(aiohttp.ClientConnectionError):
                                async with aiohttp.ClientSession() as other:
                                    await other.get(f"http://127.0.0.1:{proxy_port}/v1/models", headers=headers)
        # ...but the live stream ran to its end.
        assert events[-1] == b"data: [DONE]"
        words = [orjson.loads(e[6:])["choices"][0]["delta"].get("content") for e in events[:-1]]
        assert len([w for w in words if w]) == 20
        assert await asyncio.wait_for(proc.wait(), timeout=15) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await stub.stop()
    # The drained stream was settled before exit: the account is charged what the upstream served.
    day_key = f"sl:{{a:carol}}:d:{time.strftime('%Y%m%d', time.gmtime())}"
    assert int(redis_standalone.client().get(day_key) or 0) == stub.stats.prompt_tokens + stub.stats.completion_tokens
    redis_standalone.client().delete(day_key)
    logs = (await proc.stderr.read()).decode()  # type: ignore[union-attr]
    assert "sk-life-carol" not in logs
    assert '"msg": "draining"' in logs.replace('"msg":"draining"', '"msg": "draining"')


def test_bad_config_fails_at_startup_naming_the_field(tmp_path: Path) -> None:
    config = write_config(tmp_path, "http://127.0.0.1:9", free_port(), free_port())
    config.write_text(config.read_text().replace("requests_per_minute: 100", "requests_per_minute: ten"))
    for command in (["check-config", str(config)], ["serve", "--config", str(config)]):
        result = subprocess.run([sys.executable, "-m", "proxy", *command], capture_output=True, text=True, timeout=30)
        assert result.returncode == 2
        assert "tiers.default.limits.requests_per_minute: must be an integer >= 1 or null, got 'ten'" in result.stderr
        assert "Traceback" not in result.stderr


def test_shipped_configs_are_valid(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parent.parent / "config"
    env = {**os.environ, "SLUICE_UPSTREAM_API_KEY": "x", "SLUICE_REDIS_URL": "redis://127.0.0.1:6379/0"}
    (tmp_path / "keys").write_text(keys_file_line("sk-x", "acct", "free") + "\n")
    configs = sorted(root.glob("*.yaml"))
    assert len(configs) >= 2
    for shipped in configs:
        # The keys file is the one path that must exist on the machine: point it at a real one.
        path = tmp_path / shipped.name
        path.write_text(shipped.read_text().replace("/etc/sluice/keys", str(tmp_path / "keys")))
        result = subprocess.run(
            [sys.executable, "-m", "proxy", "check-config", str(path)], capture_output=True, text=True, env=env, timeout=30
        )
        assert result.returncode == 0, (path, result.stderr)
