"""The official openai SDK through Sluice: every route, streaming included, and its error classes."""

from __future__ import annotations

import asyncio

import openai
import pytest

from proxy.stub import StubUpstream
from tests.harness import UPSTREAM_KEY, eventually, running_sluice


@pytest.fixture(autouse=True)
def upstream_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLUICE_TEST_UPSTREAM_KEY", UPSTREAM_KEY)


UPSTREAM = {"api_key_env": "SLUICE_TEST_UPSTREAM_KEY"}


async def test_chat_completion_roundtrip_and_upstream_credential() -> None:
    async with running_sluice(upstream=UPSTREAM) as run:
        client = run.client()
        answer = await client.chat.completions.create(
            model="stub-model", messages=[{"role": "user", "content": "Name three rivers"}], max_tokens=7
        )
        assert answer.choices[0].message.content and len(answer.choices[0].message.content.split()) == 7
        assert answer.usage is not None and answer.usage.completion_tokens == 7
        # The upstream saw Sluice's own credential, never the client's key.
        assert run.stub.stats.last_authorization == f"Bearer {UPSTREAM_KEY}"
        assert "sk-test-alice" not in str(run.stub.stats.last_headers)
        raw = await client.chat.completions.with_raw_response.create(
            model="stub-model", messages=[{"role": "user", "content": "hi"}]
        )
        assert raw.headers["x-ratelimit-limit-requests"] == "1000"
        assert int(raw.headers["x-ratelimit-remaining-requests"]) <= 998


async def test_streaming_chat_hides_the_usage_chunk_it_asked_for() -> None:
    async with running_sluice(upstream=UPSTREAM) as run:
        client = run.client()
        stream = await client.chat.completions.create(
            model="stub-model", messages=[{"role": "user", "content": "Count"}], max_tokens=5, stream=True
        )
        chunks = [chunk async for chunk in stream]
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert len(text.split()) == 5
        # The client did not ask for usage: no choices-less usage chunk reaches it...
        assert all(c.choices for c in chunks)
        # ...but Sluice asked the upstream for it, and charged the real tokens.
        assert run.stub.stats.last_body["stream_options"] == {"include_usage": True}
        tier = run.sluice.config.tier("default")
        limits = run.sluice.config.limits_for("alice", tier)
        charged = await eventually(lambda: _tokens_today(run, "alice", limits))
        assert charged == run.stub.stats.prompt_tokens + run.stub.stats.completion_tokens


async def _tokens_today(run, account, limits):  # type: ignore[no-untyped-def]
    import time

    return (await run.sluice.store.usage(account, limits, time.time()))["tokens_today"]


async def test_streaming_with_usage_requested_reaches_the_client() -> None:
    async with running_sluice(upstream=UPSTREAM) as run:
        stream = await run.client().chat.completions.create(
            model="stub-model",
            messages=[{"role": "user", "content": "Count"}],
            max_tokens=4,
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [chunk async for chunk in stream]
        assert chunks[-1].choices == [] and chunks[-1].usage is not None
        assert chunks[-1].usage.completion_tokens == 4


async def test_first_chunk_arrives_before_the_upstream_finishes() -> None:
    stub = StubUpstream(reply_tokens=10, chunk_delay=0.15)
    async with running_sluice(stub=stub, upstream=UPSTREAM) as run:
        stream = await run.client().chat.completions.create(
            model="stub-model", messages=[{"role": "user", "content": "Slowly"}], stream=True
        )
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                break
        # The stub counts a stream's tokens only when it has sent its last chunk.
        assert stub.stats.completion_tokens == 0
        await stream.close()


async def test_completions_embeddings_models_and_responses() -> None:
    async with running_sluice(upstream=UPSTREAM) as run:
        client = run.client()
        completion = await client.completions.create(model="stub-model", prompt="Once upon a time", max_tokens=3)
        assert len(completion.choices[0].text.split()) == 3
        embedding = await client.embeddings.create(model="stub-model", input=["alpha beta", "gamma"])
        assert len(embedding.data) == 2 and len(embedding.data[0].embedding) == 8
        models = await client.models.list()
        assert {m.id for m in models.data} == {"stub-model", "stub-hf"}
        response = await client.responses.create(model="stub-model", input="Say something", max_output_tokens=6)
        assert len(response.output_text.split()) == 6
        events = [e async for e in await client.responses.create(model="stub-model", input="Stream it", stream=True)]
        assert events[-1].type == "response.completed"
        deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
        assert deltas == events[-1].response.output_text


async def test_transformers_style_stream_is_settled_from_its_finish_chunk() -> None:
    async with running_sluice(upstream=UPSTREAM) as run:
        stream = await run.client().chat.completions.create(
            model="stub-hf", messages=[{"role": "user", "content": "hf style"}], max_tokens=6, stream=True
        )
        chunks = [chunk async for chunk in stream]
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices).count(" ") == 5
        limits = run.sluice.config.limits_for("alice", run.sluice.config.tier("default"))
        expected = run.stub.stats.prompt_tokens + 6
        assert await eventually(lambda: _equals(_tokens_today(run, "alice", limits), expected)) is True


async def _equals(coro, expected):  # type: ignore[no-untyped-def]
    return (await coro) == expected


async def test_sdk_error_classes() -> None:
    async with running_sluice(upstream=UPSTREAM) as run:
        messages = [{"role": "user", "content": "x"}]
        with pytest.raises(openai.AuthenticationError) as auth:
            await run.client("sk-wrong").chat.completions.create(model="stub-model", messages=messages)
        assert auth.value.status_code == 401 and "sk-wrong" not in str(auth.value)
        with pytest.raises(openai.NotFoundError):
            await run.client().models.retrieve("stub-model")  # GET /v1/models/{id}: not proxied
        tiny = run.client("sk-test-tiny")
        for _ in range(2):
            await tiny.chat.completions.create(model="stub-model", messages=messages)
        with pytest.raises(openai.RateLimitError) as limited:
            await tiny.chat.completions.create(model="stub-model", messages=messages)
        assert limited.value.response.headers["retry-after"] in {"30", "31"}
        assert limited.value.code == "rate_limit_exceeded"
        with pytest.raises(openai.BadRequestError) as upstream_400:
            await run.client().chat.completions.create(model="stub-error-400", messages=messages)
        assert upstream_400.value.code == "stub_error"  # the upstream's body, unchanged
        assert upstream_400.value.body == {"message": "stub error 400", "type": "stub_error", "param": None, "code": "stub_error"}


async def test_unreachable_upstream_is_502_and_slow_upstream_is_504() -> None:
    stub = StubUpstream(slow_seconds=3)
    async with running_sluice(stub=stub, upstream={**UPSTREAM, "timeouts": {"first_byte": 0.3}}) as run:
        with pytest.raises(openai.APIStatusError) as slow:
            await run.client().chat.completions.create(
                model="stub-slow", messages=[{"role": "user", "content": "x"}]
            )
        assert slow.value.status_code == 504 and slow.value.code == "upstream_timeout"
    from tests.harness import refusing_port

    with refusing_port() as port:
        async with running_sluice(configure=lambda _url: _dead_upstream_config(port)) as run:
            with pytest.raises(openai.APIStatusError) as dead:
                await run.client().chat.completions.create(
                    model="stub-model", messages=[{"role": "user", "content": "x"}]
                )
            assert dead.value.status_code == 502 and dead.value.code == "upstream_unreachable"


def _dead_upstream_config(port: int):  # type: ignore[no-untyped-def]
    from tests.harness import base_config

    return base_config(f"http://127.0.0.1:{port}")


async def test_client_abort_cancels_the_upstream_stream_and_frees_the_slot() -> None:
    stub = StubUpstream(reply_tokens=50, chunk_delay=0.05)
    async with running_sluice(stub=stub, upstream=UPSTREAM, tiers={"default": {"limits": {"concurrency": 1}}}) as run:
        client = run.client()
        stream = await client.chat.completions.create(
            model="stub-model", messages=[{"role": "user", "content": "long"}], stream=True
        )
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                break
        await stream.close()
        assert await eventually(lambda: stub.stats.aborted_streams == 1)
        # The lease was released: the single concurrency slot is free again.
        answer = await client.chat.completions.create(
            model="stub-model", messages=[{"role": "user", "content": "next"}], max_tokens=2
        )
        assert answer.choices[0].message.content
        await asyncio.sleep(0)
