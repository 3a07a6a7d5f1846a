"""Faults with real processes: what the client sees, what the account is charged, and that others are served.

Every fault here is produced for real (a redis-server killed, paused or put to
sleep; an upstream on loopback that resets, stalls, answers garbage or never
stops; clients that go away; signals to a real ``sluice serve``). For each:
the client gets an OpenAI-shaped error or its whole answer, never a hang
(bounded by the configured timeouts; ``HANG`` only catches a hang), the
account is charged exactly what was delivered, and other clients keep being
served.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from dataclasses import replace
from pathlib import Path
from collections.abc import Callable
from typing import Any

import aiohttp
import openai
import orjson
import pytest

from proxy.accounts import hash_key, keys_file_line
from proxy.config import Config, KeyEntry, KeysConfig
from proxy.stub import StubUpstream
from tests.harness import Running, base_config, eventually, free_port, running_sluice
from tests.redis_servers import RedisProcess

HANG = 15.0  # far above every timeout configured here: only a hang reaches it
WORDS = [{"role": "user", "content": "count these plain words please"}]  # the estimate equals the stub's count
FAULT_KEYS = {f"sk-fault-{name}": (name, "default") for name in ("alice", "bob", "carol", "dave", "erin")}


def fault_config(upstream_url: str, **sections: Any) -> Config:
    config = base_config(upstream_url, **sections)
    keys = tuple(KeyEntry(hash_key(k), account, tier) for k, (account, tier) in FAULT_KEYS.items())
    return replace(config, keys=KeysConfig(inline=keys))


def timeouts(**values: float) -> Callable[[str], Config]:
    """A configure function for running_sluice: the fault config with these upstream timeouts."""
    chosen = {"connect": 2, "first_byte": 5, "idle": 5, "total": 30, **values}
    return lambda url: fault_config(url, upstream={"url": url, "timeouts": chosen})


def client(run: Running, account: str) -> openai.AsyncOpenAI:
    return run.client(f"sk-fault-{account}", timeout=HANG)


async def charged(run: Running, account: str) -> int:
    tier = run.sluice.config.tier("default")
    limits = run.sluice.config.limits_for(account, tier)
    return int((await run.sluice.store.usage(account, limits, time.time()))["tokens_today"])


async def settles_to(run: Running, account: str, expected: int, timeout: float = 10.0) -> int:
    """The account's charge once settlement has run (it runs just after the answer)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    value = await charged(run, account)
    while value != expected and loop.time() < deadline:
        await asyncio.sleep(0.05)
        value = await charged(run, account)
    return value


async def served_ok(run: Running, account: str = "erin") -> bool:
    """Another client is served while (or right after) the fault happens."""
    answer = await asyncio.wait_for(
        client(run, account).chat.completions.create(model="stub-model", messages=WORDS, max_tokens=2), HANG
    )
    return answer.choices[0].message.content is not None


async def read_stream(stream: Any) -> tuple[int, Exception | None]:
    """Content chunks received, and the error the SDK raised (None: the stream ended normally)."""
    received = 0
    try:
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                received += 1
    except openai.APIError as exc:
        return received, exc
    return received, None


# ---- the upstream misbehaves ---------------------------------------------------------------------


async def test_upstream_reset_mid_stream_ends_with_an_error_event_and_charges_what_was_streamed() -> None:
    stub = StubUpstream(reply_tokens=20)
    async with running_sluice(stub=stub, configure=fault_config) as run:
        stream = await client(run, "alice").chat.completions.create(model="stub-reset", messages=WORDS, stream=True)
        received, error = await asyncio.wait_for(read_stream(stream), HANG)
        assert received == 3  # the stub resets after three chunks
        assert error is not None and "closed the connection mid-stream" in error.message
        assert error.body["code"] == "upstream_disconnected"  # type: ignore[index]
        # The stub counts what it wrote before the reset: the prompt and three tokens, and so does the account.
        served = stub.stats.prompt_tokens + stub.stats.completion_tokens
        assert stub.stats.completion_tokens == 3
        assert await settles_to(run, "alice", served) == served
        assert await served_ok(run)


@pytest.mark.parametrize("stream", [False, True])
async def test_upstream_stalling_before_the_first_byte_is_a_504_and_costs_nothing(stream: bool) -> None:
    stub = StubUpstream(slow_seconds=1.5)
    async with running_sluice(stub=stub, configure=timeouts(first_byte=0.3, idle=5, total=30)) as run:
        with pytest.raises(openai.APIStatusError) as caught:
            await asyncio.wait_for(
                client(run, "alice").chat.completions.create(model="stub-slow", messages=WORDS, stream=stream), HANG
            )
        assert caught.value.status_code == 504 and caught.value.code == "upstream_timeout"
        assert await served_ok(run)
        await asyncio.sleep(0.2)  # settlement of the timed-out request has had its chance
        assert await charged(run, "alice") == 0


async def test_upstream_stalling_between_chunks_ends_the_stream_at_the_idle_timeout() -> None:
    stub = StubUpstream(reply_tokens=20, slow_seconds=1.5)
    async with running_sluice(stub=stub, configure=timeouts(first_byte=5, idle=0.3, total=30)) as run:
        stream = await client(run, "alice").chat.completions.create(model="stub-stall", messages=WORDS, stream=True)
        other = asyncio.create_task(served_ok(run))  # served while alice's stream hangs
        received, error = await asyncio.wait_for(read_stream(stream), HANG)
        assert received == 3
        assert error is not None and "stalled mid-stream" in error.message
        assert error.body["code"] == "upstream_timeout"  # type: ignore[index]
        assert await other
        # Sluice gave up on the upstream: the stub finds its client gone when it wakes.
        assert await eventually(lambda: stub.stats.aborted_streams == 1)
        assert stub.stats.aborted_tokens > 0
        assert await settles_to(run, "alice", stub.stats.aborted_tokens) == stub.stats.aborted_tokens


@pytest.mark.parametrize("model", ["stub-garbage", "stub-truncated", "stub-html"])
async def test_upstream_answering_garbage_is_a_502_in_openai_shape_and_costs_nothing(model: str) -> None:
    async with running_sluice(configure=fault_config) as run:
        status, body = await asyncio.wait_for(_post(run, "alice", {"model": model, "messages": WORDS}), HANG)
        assert status == 502
        assert body["error"]["code"] == "upstream_bad_response" and body["error"]["type"]
        with pytest.raises(openai.InternalServerError) as caught:  # what an SDK user sees
            await client(run, "alice").chat.completions.create(model=model, messages=WORDS)
        assert caught.value.code == "upstream_bad_response"
        assert await served_ok(run)
        await asyncio.sleep(0.2)
        assert await charged(run, "alice") == 0  # nothing usable was delivered


async def test_upstream_endless_json_body_is_cut_at_the_total_timeout() -> None:
    stub = StubUpstream()
    async with running_sluice(stub=stub, configure=timeouts(first_byte=5, idle=5, total=1.0)) as run:
        with pytest.raises(openai.APIStatusError) as caught:
            await asyncio.wait_for(
                client(run, "alice").chat.completions.create(model="stub-endless", messages=WORDS), HANG
            )
        assert caught.value.status_code == 504 and caught.value.code == "upstream_timeout"
        assert await eventually(lambda: stub.stats.aborted_streams == 1)  # the upstream request was aborted
        assert await served_ok(run)
        await asyncio.sleep(0.2)
        assert await charged(run, "alice") == 0


async def test_upstream_endless_stream_is_cut_at_the_total_timeout_and_charged_what_was_delivered() -> None:
    stub = StubUpstream(reply_tokens=20)
    async with running_sluice(stub=stub, configure=timeouts(first_byte=5, idle=5, total=1.0)) as run:
        stream = await client(run, "alice").chat.completions.create(model="stub-endless", messages=WORDS, stream=True)
        received, error = await asyncio.wait_for(read_stream(stream), HANG)
        assert received > 20  # more than any finite answer of this stub: it really was endless
        assert error is not None and error.body["code"] == "upstream_timeout"  # type: ignore[index]
        assert await eventually(lambda: stub.stats.aborted_streams == 1)
        # Charged the prompt and every chunk the client received: no more, no less.
        prompt = 4 + len(WORDS[0]["content"].split())
        assert await settles_to(run, "alice", prompt + received) == prompt + received
        assert await served_ok(run)


async def test_an_event_that_never_ends_is_cut_before_it_grows_the_proxy() -> None:
    # The total timeout is long: only the event size limit can end this stream early.
    stub = StubUpstream(reply_tokens=20)
    async with running_sluice(stub=stub, configure=timeouts(first_byte=5, idle=5, total=60)) as run:
        stream = await client(run, "alice").chat.completions.create(
            model="stub-unterminated", messages=WORDS, stream=True
        )
        received, error = await asyncio.wait_for(read_stream(stream), HANG)
        assert received == 3  # the whole events before it reached the client; the cut-off one did not
        assert error is not None and error.body["code"] == "upstream_bad_response"  # type: ignore[index]
        prompt = 4 + len(WORDS[0]["content"].split())
        assert await settles_to(run, "alice", prompt + received) == prompt + received
        assert await served_ok(run)


async def _post(run: Running, account: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as session:
        headers = {"Authorization": f"Bearer sk-fault-{account}"}
        async with session.post(f"{run.base_url}/v1/chat/completions", json=body, headers=headers) as response:
            return response.status, orjson.loads(await response.read())


# ---- clients go away -------------------------------------------------------------------------------


async def test_clients_aborting_mid_stream_are_charged_what_was_streamed_while_others_finish() -> None:
    """Aborts at a known point (the stub pauses after three chunks) make the charge exact."""
    stub = StubUpstream(reply_tokens=20, chunk_delay=0.01, slow_seconds=1.0)
    async with running_sluice(stub=stub, configure=fault_config) as run:

        async def abort_after_three() -> int:
            stream = await client(run, "bob").chat.completions.create(model="stub-stall", messages=WORDS, stream=True)
            received = 0
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    received += 1
                    if received == 3:
                        break
            await stream.close()
            return received

        async def full() -> tuple[int, int]:
            stream = await client(run, "carol").chat.completions.create(
                model="stub-model", messages=WORDS, stream=True, stream_options={"include_usage": True}
            )
            received, total = 0, 0
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    received += 1
                if chunk.usage is not None:
                    total = chunk.usage.total_tokens
            return received, total

        results = await asyncio.wait_for(asyncio.gather(*(abort_after_three() for _ in range(5)),
                                                        *(full() for _ in range(5))), HANG)
        assert results[:5] == [3] * 5
        assert all(received == 20 for received, _ in results[5:])
        assert await eventually(lambda: stub.stats.aborted_streams == 5)
        prompt = 4 + len(WORDS[0]["content"].split())
        # The upstream wrote the three chunks each client read, and at most the one it sent when it woke
        # (Sluice learns that its client left when it passes that chunk on, then aborts the upstream).
        assert 5 * (prompt + 3) <= stub.stats.aborted_tokens <= 5 * (prompt + 4)
        # Charged exactly what the upstream served and Sluice passed on, to the token.
        assert await settles_to(run, "bob", stub.stats.aborted_tokens) == stub.stats.aborted_tokens
        assert await settles_to(run, "carol", sum(t for _, t in results[5:])) == sum(t for _, t in results[5:])


# ---- Redis fails ------------------------------------------------------------------------------------


@pytest.fixture
def durable_redis(tmp_path: Path) -> RedisProcess:  # type: ignore[misc]
    """A private redis-server that keeps its data across a kill -9 (AOF, fsync on every write) and takes DEBUG."""
    from tests.conftest import _binaries
    from tests.redis_servers import start_server

    server = start_server(
        _binaries()[0], tmp_path, "--appendonly", "yes", "--appendfsync", "always", "--enable-debug-command", "yes"
    )
    yield server
    if server.process.poll() is None:
        os.kill(server.process.pid, signal.SIGCONT)  # a test that failed while it was paused
    server.stop()


def on_redis(server: RedisProcess, failure: str) -> Callable[[str], Config]:
    """The fault config on this Redis: a tight timeout and a quick breaker, with the given failure policy."""
    store = {"backend": "redis", "url": server.url, "failure": failure, "timeout_ms": 200,
             "breaker_failures": 2, "breaker_cooldown_s": 0.2}
    return lambda url: fault_config(url, store=store)


def day_total(server: RedisProcess, account: str) -> int:
    return int(server.client().get(f"sl:{{a:{account}}}:d:{time.strftime('%Y%m%d', time.gmtime())}") or 0)


async def redis_settles_to(server: RedisProcess, account: str, expected: int, timeout: float = 10.0) -> int:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while day_total(server, account) != expected and loop.time() < deadline:
        await asyncio.sleep(0.05)
    return day_total(server, account)


async def open_streams(run: Running, account: str, count: int) -> list[Any]:
    """Streams admitted (on Redis) and under way: each has delivered its first content chunk."""
    streams = []
    for _ in range(count):
        stream = await client(run, account).chat.completions.create(
            model="stub-model", messages=WORDS, stream=True, stream_options={"include_usage": True}
        )
        iterator = stream.__aiter__()
        while True:
            chunk = await iterator.__anext__()
            if chunk.choices and chunk.choices[0].delta.content:
                break
        streams.append(iterator)
    return streams


async def finish(iterator: Any) -> tuple[int, int]:
    """Read a stream to its end: (content chunks after the first, total tokens in its usage)."""
    received, total = 0, 0
    async for chunk in iterator:
        if chunk.choices and chunk.choices[0].delta.content:
            received += 1
        if chunk.usage is not None:
            total = chunk.usage.total_tokens
    return received, total


async def during_outage(run: Running, failure: str, count: int = 5) -> list[int]:
    """Another account's requests while the store is down: each answered within the bound, never hung."""
    statuses = []
    for _ in range(count):
        try:
            await asyncio.wait_for(
                client(run, "bob").chat.completions.create(model="stub-model", messages=WORDS, max_tokens=2), HANG
            )
            statuses.append(200)
        except openai.APIStatusError as exc:
            assert exc.code == "store_unavailable" and exc.status_code == 503
            assert exc.body["type"]  # type: ignore[index]
            statuses.append(exc.status_code)
    assert statuses == ([200] * count if failure == "open" else [503] * count)
    return statuses


async def recover(run: Running) -> None:
    """Wait until the store is back and the settlements queued meanwhile have been replayed.

    Another account's requests (erin's) bring the breaker's probe; the accounts under test send nothing."""

    async def back() -> bool:
        try:
            await client(run, "erin").chat.completions.create(model="stub-model", messages=WORDS, max_tokens=2)
        except openai.APIStatusError:
            return False
        return not run.sluice.store.breaker.is_open and not run.sluice.store.pending

    assert await eventually(back, timeout=10)


@pytest.mark.parametrize("failure", ["open", "closed"])
async def test_redis_killed_mid_traffic_then_restarted_streams_finish_and_settle_exactly(
    durable_redis: RedisProcess, failure: str
) -> None:
    stub = StubUpstream(reply_tokens=20, chunk_delay=0.05)
    async with running_sluice(stub=stub, configure=on_redis(durable_redis, failure)) as run:
        streams = await open_streams(run, "alice", 3)
        durable_redis.process.kill()  # SIGKILL: no goodbye to its clients
        durable_redis.process.wait()
        await during_outage(run, failure)
        results = await asyncio.wait_for(asyncio.gather(*(finish(s) for s in streams)), HANG)
        # The streams admitted before the crash ran to their end, usage included, whatever the policy.
        assert [received for received, _ in results] == [19, 19, 19]
        expected = sum(total for _, total in results)
        await asyncio.sleep(0.5)  # their settlements meet the dead store and wait in the queue
        durable_redis.restart()
        assert day_total(durable_redis, "alice") != expected  # the reservations stand: settlements are queued
        await recover(run)
        # The queued settlements landed once Redis was back: alice is charged exactly what she was served.
        assert await redis_settles_to(durable_redis, "alice", expected) == expected
        # Bob's requests during the outage were refused or served (and charged) on the local share:
        # nothing of them is on Redis.
        assert day_total(durable_redis, "bob") == 0
        assert await served_ok(run)


async def test_redis_paused_then_resumed_charges_exactly_once(durable_redis: RedisProcess) -> None:
    """A paused Redis (SIGSTOP) still holds the commands sent to it: they run on SIGCONT, after their
    callers gave up. Admissions and settlements that timed out must still count once, and only once."""
    stub = StubUpstream(reply_tokens=20, chunk_delay=0.05)
    async with running_sluice(stub=stub, configure=on_redis(durable_redis, "open")) as run:
        streams = await open_streams(run, "alice", 3)
        os.kill(durable_redis.process.pid, signal.SIGSTOP)
        try:
            await during_outage(run, "open")
            results = await asyncio.wait_for(asyncio.gather(*(finish(s) for s in streams)), HANG)
            await asyncio.sleep(0.5)
        finally:
            os.kill(durable_redis.process.pid, signal.SIGCONT)
        expected = sum(total for _, total in results)
        await recover(run)
        assert await redis_settles_to(durable_redis, "alice", expected) == expected
        # Bob's admissions that timed out while Redis was paused ran when it resumed: their reservations
        # must not stay on his budget (he was served, and charged, on the local share).
        assert await redis_settles_to(durable_redis, "bob", 0) == 0
        assert await served_ok(run)


async def test_redis_slowed_by_debug_sleep_closed_policy_is_a_prompt_503_then_serves_again(
    durable_redis: RedisProcess,
) -> None:
    stub = StubUpstream(reply_tokens=5)
    async with running_sluice(stub=stub, configure=on_redis(durable_redis, "closed")) as run:
        assert await served_ok(run, "bob")
        sleeper = asyncio.create_task(asyncio.to_thread(durable_redis.client().execute_command, "DEBUG", "SLEEP", "2"))
        await asyncio.sleep(0.1)
        await during_outage(run, "closed", count=3)
        first = stub.stats.prompt_tokens + stub.stats.completion_tokens  # bob's one request before the sleep
        await sleeper
        await recover(run)
        # Only that request: none of the refused ones, though the admissions sent during the sleep ran after it.
        assert await redis_settles_to(durable_redis, "bob", first) == first


# ---- signals under load (a real `sluice serve`) -------------------------------------------------------


def serve_config(tmp: Path, upstream_url: str, redis_url: str, account: str, rpm: int) -> tuple[Path, int, int]:
    proxy_port, admin_port = free_port(), free_port()
    (tmp / "keys").write_text(keys_file_line("sk-fault-signals", account, "default") + "\n")
    path = tmp / "sluice.yaml"
    path.write_text(
        f"listen: {{host: 127.0.0.1, port: {proxy_port}}}\nadmin: {{host: 127.0.0.1, port: {admin_port}}}\n"
        f"upstream: {{url: '{upstream_url}', timeouts: {{connect: 2, first_byte: 5, idle: 5, total: 60}}}}\n"
        f"server: {{drain_seconds: 20, reload_poll_s: 0}}\nkeys: {{file: {tmp / 'keys'}}}\n"
        f"store: {{backend: redis, url: '{redis_url}', timeout_ms: 1000}}\n"
        f"tiers: {{default: {{limits: {{requests_per_minute: {rpm}}}}}}}\n"
    )
    return path, proxy_port, admin_port


async def sse_stream(session: aiohttp.ClientSession, url: str, started: asyncio.Event | None = None) -> list[bytes]:
    body = {"model": "stub-model", "stream": True, "messages": WORDS}
    events: list[bytes] = []
    async with session.post(url, json=body, headers={"Authorization": "Bearer sk-fault-signals"}) as response:
        assert response.status == 200
        async for line in response.content:
            if line.startswith(b"data: "):
                events.append(line.strip())
                if started is not None and len(events) == 2:
                    started.set()
    return events


def whole(events: list[bytes]) -> bool:
    """A complete stream: twenty words, no error event, [DONE] at the end."""
    words = [orjson.loads(e[6:])["choices"][0]["delta"].get("content") for e in events[:-1]]
    return events[-1] == b"data: [DONE]" and len([w for w in words if w]) == 20 and b'"error"' not in b"".join(events)


async def test_sighup_and_sigterm_under_load_lose_no_request_and_charge_exactly(
    tmp_path: Path, redis_standalone: RedisProcess
) -> None:
    from tests.harness import wait_healthy

    account = f"signals-{time.time_ns()}"  # fresh on the session's shared Redis
    stub = StubUpstream(reply_tokens=20, chunk_delay=0.05)
    upstream_url = await stub.start()
    config, proxy_port, admin_port = serve_config(tmp_path, upstream_url, redis_standalone.url, account, 100000)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "proxy", "serve", "--config", str(config),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{proxy_port}/v1/chat/completions"
    stop_json = asyncio.Event()
    json_statuses: list[int | str] = []

    async def json_loop(session: aiohttp.ClientSession) -> None:
        """Sequential short requests all along; after SIGTERM they find the door closed."""
        body = {"model": "stub-model", "messages": WORDS, "max_tokens": 3}
        for _ in range(2000):  # bounded; ends far sooner, at stop_json
            if stop_json.is_set():
                return
            try:
                async with session.post(url, json=body, headers={"Authorization": "Bearer sk-fault-signals"}) as r:
                    await r.read()
                    json_statuses.append(r.status)
            except aiohttp.ClientConnectionError:
                json_statuses.append("refused")
                await asyncio.sleep(0.05)

    try:
        await wait_healthy(admin_port, proc)
        async with aiohttp.ClientSession() as session, aiohttp.ClientSession() as json_session:
            looping = asyncio.create_task(json_loop(json_session))
            # SIGHUP with a changed (valid) config while ten streams and the JSON loop run.
            started = [asyncio.Event() for _ in range(10)]
            streams = [asyncio.create_task(sse_stream(session, url, s)) for s in started]
            await asyncio.wait_for(asyncio.gather(*(s.wait() for s in started)), HANG)
            config.write_text(config.read_text().replace("requests_per_minute: 100000", "requests_per_minute: 90000"))
            for _ in range(3):
                proc.send_signal(signal.SIGHUP)
                await asyncio.sleep(0.1)
            assert all(whole(events) for events in await asyncio.wait_for(asyncio.gather(*streams), HANG))
            async with session.get(f"http://127.0.0.1:{admin_port}/metrics") as response:
                assert 'sluice_config_reloads_total{result="applied"} 3.0' in (await response.text())
            assert set(json_statuses) == {200}  # nothing failed across the reloads

            # SIGTERM while ten more streams run: they all finish, then the process exits 0.
            started = [asyncio.Event() for _ in range(10)]
            streams = [asyncio.create_task(sse_stream(session, url, s)) for s in started]
            await asyncio.wait_for(asyncio.gather(*(s.wait() for s in started)), HANG)
            proc.send_signal(signal.SIGTERM)
            assert all(whole(events) for events in await asyncio.wait_for(asyncio.gather(*streams), HANG))
            assert await asyncio.wait_for(proc.wait(), HANG) == 0
            stop_json.set()
            await asyncio.wait_for(looping, HANG)
        # Every JSON request either got its answer or found no listener; none got an error or hung.
        assert set(json_statuses) <= {200, "refused"} and json_statuses.count(200) > 0
        # Everything the upstream served, and nothing else, is on the account: drained streams included.
        served = stub.stats.prompt_tokens + stub.stats.completion_tokens
        assert day_total(redis_standalone, account) == served
        logs = (await proc.stderr.read()).decode()  # type: ignore[union-attr]
        assert "Traceback" not in logs
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await stub.stop()
