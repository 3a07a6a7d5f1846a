"""Bad requests get the right 4xx in OpenAI's error shape: never a traceback, a hang or a 500."""

from __future__ import annotations

import asyncio

import aiohttp
import orjson
import pytest

from tests.harness import Running, running_sluice

AUTH = {"Authorization": "Bearer sk-test-alice", "Content-Type": "application/json"}


def assert_openai_error(body: bytes, code: str | None = None) -> dict:
    error = orjson.loads(body)["error"]
    assert set(error) >= {"message", "type", "code"}
    assert isinstance(error["message"], str) and error["message"]
    assert "Traceback" not in error["message"]
    if code is not None:
        assert error["code"] == code, error
    return error


@pytest.fixture
async def run():  # type: ignore[no-untyped-def]
    async with running_sluice(server={"max_body_bytes": 4096, "max_header_bytes": 2048}) as running:
        yield running


async def post(run: Running, data: bytes, headers: dict[str, str] = AUTH, path: str = "/v1/chat/completions"):  # type: ignore[no-untyped-def]
    async with aiohttp.ClientSession() as session:
        async with session.post(run.base_url + path, data=data, headers=headers) as response:
            return response.status, await response.read()


CASES = [
    (b"{not json", 400, "invalid_json"),
    (b'{"model": "m", "messages": [', 400, "invalid_json"),
    (b"[1, 2, 3]", 400, "invalid_json"),
    (b'"a string"', 400, "invalid_json"),
    (b"", 400, "invalid_json"),
    (b'{"model": "m", "messages": "hello"}', 400, "invalid_type"),
    (b'{"model": "m", "messages": []}', 400, "invalid_type"),
    (b'{"model": "m", "messages": [42]}', 400, "invalid_type"),
    (b'{"model": "m", "messages": [{"role": 1, "content": "x"}]}', 400, "invalid_type"),
    (b'{"model": "m", "messages": [{"role": "user", "content": 5}]}', 400, "invalid_type"),
    (b'{"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": "10"}', 400, "invalid_type"),
    (b'{"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": 0}', 400, "invalid_value"),
    (b'{"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": 1e400}', 400, None),
    (b'{"model": "m", "messages": [{"role": "user", "content": "x"}], "stream": "yes"}', 400, "invalid_type"),
    (b'{"model": "m", "messages": [{"role": "user", "content": "x"}], "n": 1000}', 400, "invalid_value"),
    (b'{"model": "m", "messages": [{"role": "user", "content": "x"}], "logit_bias": [1]}', 400, "invalid_type"),
    (b'{"model": 7, "messages": [{"role": "user", "content": "x"}]}', 400, "invalid_type"),
    (b'{"model": "m", "messages": [{"role": "user", "content": "\xff\xfe"}]}', 400, "invalid_json"),
]


@pytest.mark.parametrize(("data", "status", "code"), CASES)
async def test_malformed_bodies(run: Running, data: bytes, status: int, code: str | None) -> None:
    got, body = await post(run, data)
    assert got == status
    assert_openai_error(body, code)


async def test_wrong_types_on_other_routes(run: Running) -> None:
    for path, data in [
        ("/v1/completions", b'{"model": "m", "prompt": {"a": 1}}'),
        ("/v1/embeddings", b'{"model": "m", "input": 12}'),
        ("/v1/responses", b'{"model": "m", "input": 12}'),
    ]:
        status, body = await post(run, data, path=path)
        assert status == 400, path
        assert_openai_error(body, "invalid_type")


async def test_wrong_content_type_is_415(run: Running) -> None:
    status, body = await post(run, b"model=m", headers={**AUTH, "Content-Type": "application/x-www-form-urlencoded"})
    assert status == 415
    assert_openai_error(body, "unsupported_media_type")


async def test_body_over_the_limit_is_413_even_when_chunked(run: Running) -> None:
    big = b'{"model": "m", "messages": [{"role": "user", "content": "' + b"x" * 10_000 + b'"}]}'
    status, body = await post(run, big)
    assert status == 413
    assert_openai_error(body, "request_too_large")

    async def chunks():  # type: ignore[no-untyped-def]
        for i in range(0, len(big), 1000):
            yield big[i : i + 1000]

    async with aiohttp.ClientSession() as session:
        async with session.post(run.base_url + "/v1/chat/completions", data=chunks(), headers=AUTH) as response:
            assert response.status == 413
            assert_openai_error(await response.read(), "request_too_large")


async def test_body_over_the_limit_is_413_when_it_came_whole_with_the_head(run: Running) -> None:
    # Chunked, so nothing announced its size, and in one write with the head: the proxy finds it all
    # buffered and takes it without reading, under the same limit.
    big = b'{"model": "m", "messages": [{"role": "user", "content": "' + b"x" * 10_000 + b'"}]}'
    pieces = [big[i : i + 1000] for i in range(0, len(big), 1000)]
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces)
    reader, writer = await asyncio.open_connection("127.0.0.1", int(run.base_url.rsplit(":", 1)[1]))
    writer.write(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk-test-alice\r\n"
                 b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n")
    await writer.drain()
    reply = await asyncio.wait_for(reader.read(65536), timeout=5)
    writer.close()
    assert reply.split(b" ", 2)[1] == b"413" and b'"code":"request_too_large"' in reply


async def test_header_over_the_limit_is_431_in_openai_shape(run: Running) -> None:
    status, body = await post(run, b"{}", headers={**AUTH, "X-Padding": "p" * 4000})
    assert status == 431
    assert_openai_error(body, "headers_too_large")


async def test_missing_and_unknown_keys_are_401(run: Running) -> None:
    data = b'{"model": "m", "messages": [{"role": "user", "content": "x"}]}'
    status, body = await post(run, data, headers={"Content-Type": "application/json"})
    assert status == 401
    assert_openai_error(body, "missing_api_key")
    status, body = await post(run, data, headers={"Content-Type": "application/json", "Authorization": "Bearer nope"})
    assert status == 401
    assert "nope" not in assert_openai_error(body, "invalid_api_key")["message"]


async def test_unknown_route_and_wrong_method(run: Running) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(run.base_url + "/v1/unknown", headers=AUTH) as response:
            assert response.status == 404
            assert_openai_error(await response.read(), "unknown_url")
        async with session.get(run.base_url + "/v1/chat/completions", headers=AUTH) as response:
            assert response.status == 405
            assert_openai_error(await response.read(), "method_not_allowed")
        async with session.get(run.base_url + "/metrics") as response:
            assert response.status == 404  # the admin surface is not on the proxy port
        async with session.get(run.base_url + "/admin/accounts/alice") as response:
            assert response.status == 404


async def test_bad_input_costs_no_budget(run: Running) -> None:
    tiny = {"Authorization": "Bearer sk-test-tiny", "Content-Type": "application/json"}
    for _ in range(5):
        status, _ = await post(run, b'{"model": "m", "messages": "nope"}', headers=tiny)
        assert status == 400
    good = b'{"model": "m", "messages": [{"role": "user", "content": "x"}]}'
    statuses = [(await post(run, good, headers=tiny))[0] for _ in range(3)]
    assert statuses == [200, 200, 429]  # tier tiny: 2 requests per minute, none spent by the 400s


async def test_proxy_keeps_serving_after_hostile_requests(run: Running) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", int(run.base_url.rsplit(":", 1)[1]))
    writer.write(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n")
    await writer.drain()
    reply = await asyncio.wait_for(reader.read(65536), timeout=5)
    assert reply.split(b" ", 2)[1] == b"400" and b'"code":"bad_request"' in reply  # smuggling refused
    writer.close()
    status, _ = await post(run, b'{"model": "m", "messages": [{"role": "user", "content": "x"}]}')
    assert status == 200
