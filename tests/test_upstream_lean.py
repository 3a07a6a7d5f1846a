"""The lean upstream client (proxy/upstream.py): keep-alive, limits, framing and failures, byte for byte.

A raw asyncio server plays the upstream, so each test controls exactly what comes back on which
connection: the proxy-level tests (test_faults, test_proxy_sdk) cover the same client end to end.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import aiohttp
import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from proxy.config import Timeouts, UpstreamConfig
from proxy.upstream import Upstream, UpstreamError

JSON = b'{"ok":true}'


def answer(body: bytes = JSON, extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n%s" % (
        len(body), extra, body)


@dataclass
class FakeUpstream:
    """Answers each request with ``reply(n)`` (n: the request's number), records heads and connections."""

    reply: Callable[[int], bytes]
    heads: list[bytes] = field(default_factory=list)
    connections: int = 0
    close_after: bool = False  # close each connection after its first answer

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length:"))
                await reader.readexactly(length)
                self.heads.append(head)
                writer.write(self.reply(len(self.heads)))
                await writer.drain()
                if self.close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@asynccontextmanager
async def lean(fake: FakeUpstream, **config: object) -> AsyncIterator[Upstream]:
    server = await asyncio.start_server(fake.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    upstream = Upstream(UpstreamConfig(url=url, timeouts=Timeouts(connect=2.0), **config))  # type: ignore[arg-type]
    await upstream.start()
    assert upstream.lean
    try:
        yield upstream
    finally:
        await upstream.close()
        server.close()
        await server.wait_closed()


def client_headers(**headers: str) -> CIMultiDictProxy[str]:
    return CIMultiDictProxy(CIMultiDict({"Content-Type": "application/json", **headers}))


async def post(upstream: Upstream, body: bytes = b"{}") -> tuple[int, bytes]:
    lines = upstream.forwarded_head(client_headers(), "k", "1.2.3.4")
    response = await upstream.post("/v1/chat/completions", body, lines)
    try:
        return response.status, await response.read()
    finally:
        if response.content.at_eof():
            response.release()
        else:
            response.close()


async def test_keep_alive_reuses_one_connection_and_sends_the_head_aiohttp_would() -> None:
    fake = FakeUpstream(lambda n: answer())
    async with lean(fake) as upstream:
        for _ in range(3):
            assert await post(upstream, b'{"a":1}') == (200, JSON)
    assert fake.connections == 1
    head = fake.heads[0].decode()
    assert head.startswith("POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:")
    assert "Content-Length: 7\r\n" in head and "Accept: */*\r\n" in head and "Accept-Encoding: identity\r\n" in head
    assert "X-Forwarded-For: 1.2.3.4\r\n" in head


async def test_an_answer_with_connection_close_is_not_reused() -> None:
    fake = FakeUpstream(lambda n: answer(extra=b"Connection: close\r\n") if n == 1 else answer())
    async with lean(fake) as upstream:
        assert await post(upstream) == (200, JSON)
        assert await post(upstream) == (200, JSON)
    assert fake.connections == 2


async def test_an_interim_100_continue_is_skipped() -> None:
    fake = FakeUpstream(lambda n: b"HTTP/1.1 100 Continue\r\n\r\n" + answer())
    async with lean(fake) as upstream:
        assert await post(upstream) == (200, JSON)
        assert await post(upstream) == (200, JSON)  # and the connection stays in step
    assert fake.connections == 1


async def test_a_chunked_stream_is_read_as_it_comes() -> None:
    events = [b"data: {\"n\":%d}\n\n" % i for i in range(3)] + [b"data: [DONE]\n\n"]
    body = b"".join(b"%x\r\n%s\r\n" % (len(e), e) for e in events) + b"0\r\n\r\n"
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\nTransfer-Encoding: chunked\r\n\r\n"
    fake = FakeUpstream(lambda n: head + body)
    async with lean(fake) as upstream:
        lines = upstream.forwarded_head(client_headers(), "k", "")
        response = await upstream.post("/v1/chat/completions", b"{}", lines)
        assert response.content_type == "text/event-stream"
        assert await response.read() == b"".join(events)
        assert response.content.at_eof()
        response.release()
        assert await post(upstream, b"{}") == (200, b"".join(events))  # the same connection, still in step
    assert fake.connections == 1


async def test_a_head_that_is_not_http_is_a_client_error() -> None:
    fake = FakeUpstream(lambda n: b"SSH-2.0-OpenSSH\r\n\r\n")
    async with lean(fake) as upstream:
        with pytest.raises(UpstreamError):  # an aiohttp.ClientError, as forward() expects
            await post(upstream)
    assert issubclass(UpstreamError, aiohttp.ClientError)


async def test_a_connection_closed_before_the_answer_is_a_client_error_and_the_pool_recovers() -> None:
    fake = FakeUpstream(lambda n: b"" if n == 1 else answer(), close_after=True)
    async with lean(fake, max_connections=1) as upstream:
        with pytest.raises(aiohttp.ClientError):
            await post(upstream)
        assert await post(upstream) == (200, JSON)  # the slot of the dead connection was given back


async def test_the_connection_limit_queues_requests_and_never_opens_more() -> None:
    release = asyncio.Event()

    async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        fake.connections += 1
        while True:
            try:
                await reader.readuntil(b"\r\n\r\n")
                await reader.readexactly(2)
            except asyncio.IncompleteReadError:
                break
            await release.wait()
            writer.write(answer())
            await writer.drain()
        writer.close()

    fake = FakeUpstream(lambda n: answer())
    fake.handle = slow  # type: ignore[method-assign]
    async with lean(fake, max_connections=2) as upstream:
        calls = [asyncio.create_task(post(upstream)) for _ in range(6)]
        await asyncio.sleep(0.2)
        assert fake.connections == 2 and not any(c.done() for c in calls)
        release.set()
        assert await asyncio.gather(*calls) == [(200, JSON)] * 6
    assert fake.connections == 2


async def test_an_abandoned_answer_closes_its_connection_and_frees_its_slot() -> None:
    endless = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"
    fake = FakeUpstream(lambda n: endless if n == 1 else answer())
    async with lean(fake, max_connections=1) as upstream:
        lines = upstream.forwarded_head(client_headers(), "k", "")
        response = await upstream.post("/v1/chat/completions", b"{}", lines)
        assert await response.content.readany() == b"hello"
        response.close()  # the client left mid-stream
        assert await asyncio.wait_for(post(upstream), 5) == (200, JSON)
    assert fake.connections == 2


async def test_a_connection_the_upstream_closed_while_idle_is_not_used() -> None:
    fake = FakeUpstream(lambda n: answer(), close_after=True)  # the server closes after each answer, unannounced
    async with lean(fake) as upstream:
        for _ in range(3):
            assert await post(upstream) == (200, JSON)
            await asyncio.sleep(0.05)  # the close arrives
    assert fake.connections == 3


async def test_an_unreachable_upstream_is_an_os_error() -> None:
    upstream = Upstream(UpstreamConfig(url="http://127.0.0.1:9", timeouts=Timeouts(connect=2.0)))
    await upstream.start()
    try:
        with pytest.raises(OSError):
            await post(upstream)
    finally:
        await upstream.close()


def test_forwarded_head_keeps_the_header_rules() -> None:
    upstream = Upstream(UpstreamConfig(url="http://127.0.0.1:9"))
    client = client_headers(**{
        "Authorization": "Bearer sk-client", "api-key": "x", "X-Api-Key": "y", "X-Forwarded-For": "6.6.6.6",
        "Forwarded": "for=6.6.6.6", "X-Real-IP": "6.6.6.6", "X-Sluice-Account": "root", "Connection": "keep-alive",
        "Transfer-Encoding": "chunked", "Host": "evil", "Content-Length": "2", "Expect": "100-continue",
        "Accept-Encoding": "gzip", "Accept": "text/event-stream", "OpenAI-Beta": "assistants=v2",
    })
    head = upstream.forwarded_head(client, "sk-client", "10.0.0.1")
    lines = head.split("\r\n")[:-1]
    names = [line.split(":")[0].lower() for line in lines]
    assert sorted(names) == sorted(["content-type", "accept", "openai-beta", "accept-encoding", "x-forwarded-for"])
    assert "Accept: text/event-stream" in lines and "Accept-Encoding: identity" in lines
    assert "X-Forwarded-For: 10.0.0.1" in lines and "sk-client" not in head


def test_forwarded_head_refuses_a_line_break(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLUICE_TEST_UPSTREAM_KEY", "sk-upstream\n")  # a key read from a file, newline and all
    upstream = Upstream(UpstreamConfig(url="http://127.0.0.1:9", api_key_env="SLUICE_TEST_UPSTREAM_KEY"))
    with pytest.raises(ValueError):
        upstream.forwarded_head(client_headers(), "k", "1.2.3.4")
