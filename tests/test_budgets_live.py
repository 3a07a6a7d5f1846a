"""Budgets through the live proxy: headers, quotas, settlement of streams, Redis outages, many replicas."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import openai
import pytest

from proxy.accounts import keys_file_line
from proxy.store.guard import CircuitBreaker
from proxy.stub import StubUpstream
from tests.harness import eventually, free_port, running_sluice
from tests.redis_servers import RedisProcess

CHAT = [{"role": "user", "content": "What is a budget?"}]
QUOTA = 500
QUOTA_CHAT = [{"role": "user", "content": "Tally these words for the quota test please, all of them"}]


async def tokens_today(run, account: str) -> int:  # type: ignore[no-untyped-def]
    tier = run.sluice.config.tier(run.sluice.keys.tier_of(account) or "default")
    limits = run.sluice.config.limits_for(account, tier)
    return int((await run.sluice.store.usage(account, limits, time.time()))["tokens_today"])


async def test_every_response_carries_ratelimit_headers_and_429_tells_the_real_wait() -> None:
    tiers = {"default": {"limits": {"requests_per_minute": 3, "tokens_per_minute": 100000}}}
    async with running_sluice(tiers=tiers) as run:
        client = run.client()
        remaining = []
        for _ in range(3):
            raw = await client.chat.completions.with_raw_response.create(model="stub-model", messages=CHAT, max_tokens=5)
            assert raw.headers["x-ratelimit-limit-requests"] == "3"
            assert raw.headers["x-ratelimit-limit-tokens"] == "100000"
            assert raw.headers["x-ratelimit-reset-tokens"].endswith("s")
            remaining.append(int(raw.headers["x-ratelimit-remaining-requests"]))
        assert remaining == [2, 1, 0]
        with pytest.raises(openai.RateLimitError) as caught:
            await client.chat.completions.create(model="stub-model", messages=CHAT, max_tokens=5)
        headers = caught.value.response.headers
        # GCRA at 3/min: the next slot frees 20 s after the first request, not at the window's end.
        assert 19 <= int(headers["retry-after"]) <= 20
        assert 19000 <= int(headers["retry-after-ms"]) <= 20000
        assert caught.value.body["code"] == "rate_limit_exceeded"  # type: ignore[index]
        assert "requests per minute" in caught.value.message


async def test_daily_quota_is_distinguishable_and_not_retried() -> None:
    tiers = {"default": {"limits": {"tokens_per_day": 120}}}
    async with running_sluice(tiers=tiers) as run:
        client = run.client()
        await client.chat.completions.create(model="stub-model", messages=CHAT, max_tokens=50)
        with pytest.raises(openai.RateLimitError) as caught:
            await client.chat.completions.create(model="stub-model", messages=CHAT, max_tokens=80)
        assert caught.value.code == "insufficient_quota"
        assert caught.value.response.headers["x-should-retry"] == "false"
        seconds_to_midnight = 86400 - time.time() % 86400
        assert abs(int(caught.value.response.headers["retry-after"]) - seconds_to_midnight) < 5
        assert "tokens per day" in caught.value.message


async def test_max_tokens_cap_and_token_weights() -> None:
    tiers = {"default": {"limits": {"max_tokens": 8}, "weights": {"prompt": 0, "completion": 3}}}
    async with running_sluice(tiers=tiers) as run:
        answer = await run.client().chat.completions.create(model="stub-model", messages=CHAT, max_tokens=500)
        assert run.stub.stats.last_body["max_tokens"] == 8  # lowered before it reached the upstream
        assert answer.usage is not None and answer.usage.completion_tokens == 8
        await run.client().chat.completions.create(model="stub-model", messages=CHAT)
        assert run.stub.stats.last_body["max_tokens"] == 8  # set when the client named none
        # Prompt tokens cost nothing here and completion tokens three units each.
        assert await eventually(lambda: _is(tokens_today(run, "alice"), 2 * 8 * 3))


async def _is(coro, expected: int) -> bool:  # type: ignore[no-untyped-def]
    return (await coro) == expected


async def test_aborted_stream_is_charged_what_was_streamed() -> None:
    stub = StubUpstream(reply_tokens=200, chunk_delay=0.02)
    tiers = {"default": {"weights": {"prompt": 0}}}  # count completion tokens only
    async with running_sluice(stub=stub, tiers=tiers) as run:
        stream = await run.client().chat.completions.create(model="stub-model", messages=CHAT, stream=True)
        received = 0
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                received += 1
                if received == 10:
                    break
        await stream.close()
        assert await eventually(lambda: stub.stats.aborted_streams == 1)
        charged = await eventually(lambda: tokens_today(run, "alice"))
        # What was streamed: at least what the client read, at most what the upstream wrote.
        assert received <= charged <= stub.stats.chunks_sent < 200


async def test_full_stream_is_charged_the_upstream_usage_exactly() -> None:
    async with running_sluice(stub=StubUpstream(reply_tokens=33)) as run:
        stream = await run.client().chat.completions.create(model="stub-model", messages=CHAT, stream=True)
        async for _ in stream:
            pass
        expected = run.stub.stats.prompt_tokens + run.stub.stats.completion_tokens
        assert run.stub.stats.completion_tokens == 33
        assert await eventually(lambda: _is(tokens_today(run, "alice"), expected))


def redis_config(server: RedisProcess, failure: str) -> dict:
    return {"backend": "redis", "url": server.url, "failure": failure, "timeout_ms": 200,
            "breaker_failures": 2, "breaker_cooldown_s": 0.2}


@pytest.fixture
def private_redis(tmp_path: Path) -> RedisProcess:  # type: ignore[misc]
    from tests.conftest import _binaries
    from tests.redis_servers import start_server

    server = start_server(_binaries()[0], tmp_path)
    yield server
    server.stop()


@pytest.mark.parametrize("failure", ["open", "closed"])
async def test_redis_outage_follows_the_policy_and_recovers_without_restart(
    private_redis: RedisProcess, failure: str
) -> None:
    tiers = {"default": {"limits": {"requests_per_minute": 1000}}}
    async with running_sluice(tiers=tiers, store=redis_config(private_redis, failure)) as run:
        client = run.client()
        await client.chat.completions.create(model="stub-model", messages=CHAT, max_tokens=3)
        assert await eventually(lambda: private_redis.client().keys("sl:{a:alice}:d:*"))
        private_redis.stop()
        outcomes = []
        for _ in range(6):
            started = time.monotonic()
            try:
                await client.chat.completions.create(model="stub-model", messages=CHAT, max_tokens=3)
                outcomes.append(200)
            except openai.APIStatusError as exc:
                outcomes.append(exc.status_code)
                assert exc.status_code == 503 and exc.code == "store_unavailable"
            assert time.monotonic() - started < 2.0  # a dead Redis never adds seconds
        assert outcomes == ([200] * 6 if failure == "open" else [503] * 6)
        metrics = (await _get(run.admin_url + "/metrics")).decode()
        assert "sluice_store_errors_total" in metrics
        if failure == "open":
            assert "sluice_store_fail_open 1.0" in metrics
        private_redis.restart()
        # Back on Redis by itself: the new request's reservation lands there.
        async def recovered() -> bool:
            try:
                await client.chat.completions.create(model="stub-model", messages=CHAT, max_tokens=3)
            except openai.APIStatusError:
                return False
            return bool(private_redis.client().keys("sl:{a:alice}:d:*"))

        assert await eventually(recovered, timeout=10)
        metrics = (await _get(run.admin_url + "/metrics")).decode()
        assert "sluice_store_fail_open 0.0" in metrics


async def _get(url: str) -> bytes:
    async with aiohttp.ClientSession() as session:
        async with session.get(url) as response:
            return await response.read()


def test_circuit_breaker_opens_then_probes_once() -> None:
    breaker = CircuitBreaker(threshold=3, cooldown=1.0)
    for t in range(3):
        assert breaker.allow(float(t))
        breaker.failure(float(t))
    assert breaker.is_open and not breaker.allow(2.5)
    assert breaker.allow(3.1)  # the probe
    assert not breaker.allow(3.2)  # only one probe at a time
    breaker.failure(3.3)  # the probe failed: open again for a cooldown
    assert not breaker.allow(4.0) and breaker.allow(4.4)
    breaker.success()
    assert not breaker.is_open and breaker.allow(4.5)


async def test_replicas_sharing_redis_admit_exactly_the_limit(redis_standalone: RedisProcess, tmp_path: Path) -> None:
    """Three `sluice serve` processes, one Redis, a burst from many clients: the limit holds exactly."""
    limit = 20  # per minute: a slot frees every 3 s, so the bound below allows for the burst's length
    stub = StubUpstream(reply_tokens=2)
    upstream_url = await stub.start()
    account = f"multi-{time.time_ns()}"  # fresh accounts on the shared session server
    quota_account = f"quota-{time.time_ns()}"
    (tmp_path / "keys").write_text(
        keys_file_line("sk-multi", account, "default") + "\n" + keys_file_line("sk-quota", quota_account, "quota") + "\n"
    )
    ports, procs = [], []
    try:
        for i in range(3):
            port, admin = free_port(), free_port()
            config = tmp_path / f"sluice-{i}.yaml"
            config.write_text(
                f"listen: {{port: {port}}}\nadmin: {{port: {admin}}}\nupstream: {{url: '{upstream_url}'}}\n"
                f"keys: {{file: {tmp_path / 'keys'}}}\n"
                f"store: {{backend: redis, url: '{redis_standalone.url}', timeout_ms: 1000}}\n"
                f"tiers: {{default: {{limits: {{requests_per_minute: {limit}}}}},"
                f" quota: {{limits: {{tokens_per_day: {QUOTA}}}}}}}\n"
            )
            procs.append(subprocess.Popen([sys.executable, "-m", "proxy", "serve", "--config", str(config)],
                                          stderr=subprocess.DEVNULL))
            ports.append(port)
        async with aiohttp.ClientSession() as session:
            for port in ports:
                await eventually(lambda p=port: _up(session, p), timeout=20)
            body = {"model": "stub-model", "messages": CHAT, "max_tokens": 2}
            headers = {"Authorization": "Bearer sk-multi"}

            async def one(i: int) -> int:
                url = f"http://127.0.0.1:{ports[i % 3]}/v1/chat/completions"
                async with session.post(url, json=body, headers=headers) as response:
                    await response.read()
                    return response.status

            started = time.monotonic()
            statuses = await asyncio.gather(*(one(i) for i in range(90)))
            elapsed = time.monotonic() - started
            # Token quota: 60 concurrent requests against a daily quota, through all replicas.
            quota_body = {"model": "stub-model", "messages": QUOTA_CHAT, "max_tokens": 2}

            async def spend(i: int) -> int:
                url = f"http://127.0.0.1:{ports[i % 3]}/v1/chat/completions"
                headers = {"Authorization": "Bearer sk-quota"}
                async with session.post(url, json=quota_body, headers=headers) as response:
                    await response.read()
                    return response.status

            spent = await asyncio.gather(*(spend(i) for i in range(60)))
        admitted = statuses.count(200)
        assert statuses.count(200) + statuses.count(429) == 90
        # Exactly the limit, plus one more for each 60/limit seconds the burst itself lasted.
        assert limit <= admitted <= limit + int(elapsed / (60 / limit)), (admitted, elapsed)

        # Each request reserves its estimate (prompt estimate + max_tokens) and settles the real
        # usage. Only requests in flight together can move the total off the quota: overshoot by
        # at most in_flight * (real - reserved), undershoot (refusals while over-reservations
        # were outstanding) by at most one request plus in_flight * (reserved - real).
        from proxy.request import features_of

        estimate = features_of("/v1/chat/completions", dict(quota_body)).prompt_tokens + 2
        real = len(QUOTA_CHAT[0]["content"].split()) + 4 + 2  # the stub: a token per word, 4 per message
        served = spent.count(200)
        day_key = f"sl:{{a:{quota_account}}}:d:{time.strftime('%Y%m%d', time.gmtime())}"
        client = redis_standalone.client()
        # A replica settles just after each response (batched per event-loop turn): wait for the last.
        await eventually(lambda: int(client.get(day_key) or 0) == served * real)
        charged = int(client.get(day_key))
        assert charged == served * real  # settled to the token
        upper = QUOTA + 60 * max(real - estimate, 0)
        lower = QUOTA - estimate - 60 * max(estimate - real, 0)
        assert lower < charged <= upper, (charged, lower, upper)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=20)
        await stub.stop()


async def _up(session: aiohttp.ClientSession, port: int) -> bool:
    try:
        async with session.get(f"http://127.0.0.1:{port}/v1/models", headers={"Authorization": "Bearer x"}) as r:
            return r.status == 401
    except aiohttp.ClientConnectionError:
        return False
