"""The upstream model server: its connections, and the header rules.

POSTs (every request that is admitted and charged) go through a lean HTTP/1.1
client of our own: a keep-alive pool of aiohttp's own response protocol (its C
parser, its StreamReader for the body, its errors), written to directly. It
skips what aiohttp's ClientSession does per request and Sluice does not need
(a ClientRequest object, auto headers, cookies, tracing, a task writing the
body, a parser made anew for each response): about a tenth of Sluice's CPU per
request under load. Everything else (GET /v1/models, the readiness probe) and upstream
URLs the lean client does not serve (credentials in the URL, another scheme)
use an aiohttp ClientSession as before.
"""

from __future__ import annotations

import asyncio
import os
import ssl
from collections import deque
from typing import Any, Protocol

import aiohttp
from aiohttp.client_proto import ResponseHandler
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.streams import EofStream, StreamReader
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from proxy.config import ConfigError, UpstreamConfig

# RFC 9110 hop-by-hop headers, plus those aiohttp recomputes for the next hop.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)
# Identity a client could forge: never forwarded as the client sent it. Credentials besides the bearer
# key (Azure-style `api-key`, `x-api-key`) would carry a client's key on to the upstream.
CLIENT_IDENTITY = frozenset(
    {"authorization", "forwarded", "x-forwarded-for", "x-forwarded-host", "x-real-ip", "api-key", "x-api-key"}
)
# The client must not learn how the upstream is reached.
RESPONSE_DROP = HOP_BY_HOP | {"server", "date", "www-authenticate"}
# Not passed on by the lean client: set by Sluice itself (Accept-Encoding), or about the client's own
# exchange with Sluice, which has read the whole body already (Expect).
LEAN_DROP = HOP_BY_HOP | CLIENT_IDENTITY | {"accept-encoding", "expect"}
# An idle pooled connection older than this is closed rather than reused (aiohttp's default too):
# servers close theirs after a few seconds, and a request must not race that close.
KEEPALIVE_S = 15.0
READ_BUFSIZE = 2**16  # aiohttp's default: body bytes buffered before reading from the socket pauses


class UpstreamError(aiohttp.ClientConnectionError):
    """The upstream sent no usable answer head (an unparsable head, a closed connection)."""


class Answer(Protocol):
    """What the relays read of an upstream answer: aiohttp's ClientResponse, or the lean client's."""

    status: int

    @property
    def headers(self) -> CIMultiDictProxy[str]: ...

    @property
    def content_type(self) -> str: ...

    @property
    def content(self) -> StreamReader: ...

    async def read(self) -> bytes: ...

    def release(self) -> Any: ...

    def close(self) -> None: ...


class LeanResponse:
    """One answer on the lean client: status, headers, the body stream; its connection goes back
    to the pool on ``release()`` (the body read to its end) or is closed by ``close()``."""

    __slots__ = ("status", "headers", "content", "_proto", "_pool")

    def __init__(
        self, status: int, headers: CIMultiDictProxy[str], content: StreamReader, proto: ResponseHandler, pool: _Pool
    ) -> None:
        self.status = status
        self.headers = headers
        self.content = content
        self._proto: ResponseHandler | None = proto
        self._pool = pool

    @property
    def content_type(self) -> str:
        """The media type, lower case, without parameters ("application/octet-stream" without one, as aiohttp)."""
        raw = self.headers.get("Content-Type")
        if raw is None:
            return "application/octet-stream"
        media = raw.partition(";")[0].strip().lower()
        return media if "/" in media else "application/octet-stream"

    async def read(self) -> bytes:
        content = self.content
        if content.is_eof():  # all of it is here: one call, not read()'s loop of awaits
            return content.read_nowait()
        return await content.read()

    def release(self) -> None:
        proto, self._proto = self._proto, None
        if proto is not None:
            self._pool.release(proto)

    def close(self) -> None:
        proto, self._proto = self._proto, None
        if proto is not None:
            self._pool.discard(proto)


class _Pool:
    """Keep-alive connections to one upstream origin, at most ``limit`` open at once."""

    def __init__(self, url: URL, limit: int, connect_timeout: float | None) -> None:
        self._host = url.raw_host or ""
        self._port = url.port
        self._ssl: ssl.SSLContext | None = ssl.create_default_context() if url.scheme == "https" else None
        self._limit = limit
        self._connect_timeout = connect_timeout
        self._idle: list[tuple[ResponseHandler, float]] = []
        self._open = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._closed = False

    async def acquire(self) -> ResponseHandler:
        loop = asyncio.get_running_loop()
        while True:
            if self._closed:
                raise aiohttp.ClientConnectionError("the upstream pool is closed")
            idle = self._idle
            while idle:
                proto, since = idle.pop()  # the most recently used: the warmest, the least likely closed
                if proto.is_connected() and not proto.should_close and loop.time() - since < KEEPALIVE_S:
                    return proto
                self._drop(proto)
            if self._open < self._limit:
                break
            waiter = loop.create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except BaseException:
                if not waiter.cancelled() and waiter.done():
                    self._wake()  # pass the turn it was given on
                raise
        self._open += 1
        try:
            async with asyncio.timeout(self._connect_timeout):
                _, proto = await loop.create_connection(
                    lambda: ResponseHandler(loop), self._host, self._port, ssl=self._ssl
                )
        except BaseException:
            self._open -= 1
            self._wake()
            raise
        # One parser for the connection's whole life: aiohttp makes one per request.
        proto.set_response_params(read_until_eof=True, auto_decompress=False, read_bufsize=READ_BUFSIZE)
        return proto

    def release(self, proto: ResponseHandler) -> None:
        """A connection whose answer was read to its end: kept for the next request when it can be."""
        if self._closed or proto.should_close or not proto.is_connected():
            self._drop(proto)
            return
        now = asyncio.get_running_loop().time()
        idle = self._idle
        if idle and now - idle[0][1] >= KEEPALIVE_S:
            self._drop(idle.pop(0)[0])  # the oldest, left unused at the bottom since the load fell: closed
        idle.append((proto, now))
        self._wake()

    def discard(self, proto: ResponseHandler) -> None:
        """A connection whose answer is abandoned (client gone, timeout, error): closed, never reused."""
        self._drop(proto)

    def _drop(self, proto: ResponseHandler) -> None:
        proto.close()
        self._open -= 1
        self._wake()

    def _wake(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def close(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for proto, _ in idle:
            self._drop(proto)
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # it finds the pool closed


class Upstream:
    def __init__(self, config: UpstreamConfig) -> None:
        self.config = config
        self.base = config.url
        self._credential: str | None = None
        if config.api_key_env:
            key = os.environ.get(config.api_key_env)
            if not key:
                raise ConfigError("upstream.api_key_env", f"environment variable {config.api_key_env} is not set")
            self._credential = f"Bearer {key}"
        self._session: aiohttp.ClientSession | None = None
        self._pool: _Pool | None = None
        origin = URL(config.url)
        # Served by the lean client: plain http(s), no credentials in the URL (aiohttp sends those as Basic auth).
        self._lean = origin.scheme in ("http", "https") and origin.user is None and origin.password is None
        self._host = origin.host_port_subcomponent if self._lean else ""
        self._targets: dict[str, bytes] = {}  # route -> its request line

    def probe_headers(self) -> dict[str, str]:
        """Sluice's own credential, for the readiness probe (none when clients' keys are passed on)."""
        return {"Authorization": self._credential} if self._credential is not None else {}

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("upstream session not started")
        return self._session

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=self.config.max_connections, ttl_dns_cache=300)
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=None, connect=self.config.timeouts.connect),
            # Bodies pass through as the upstream encoded them; we ask for identity.
            auto_decompress=False,
            skip_auto_headers=("User-Agent", "Accept-Encoding"),
        )
        if self._lean:
            self._pool = _Pool(URL(self.config.url), self.config.max_connections, self.config.timeouts.connect)

    async def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def lean(self) -> bool:
        """Whether POSTs go through the lean client (``post``) rather than the aiohttp session."""
        return self._pool is not None

    async def post(self, route: str, body: bytes, head: str) -> LeanResponse:
        """POST ``body`` to ``route`` with the header lines ``head`` (``forwarded_head``); the answer once
        its head has arrived. Raises aiohttp's ClientError kinds (or OSError) when the upstream cannot
        be reached or gives no answer; the caller bounds the time."""
        pool = self._pool
        if pool is None:
            raise RuntimeError("upstream session not started")
        line = self._targets.get(route)
        if line is None:
            target = URL(self.base + route).raw_path_qs
            line = self._targets[route] = f"POST {target} HTTP/1.1\r\nHost: {self._host}\r\n".encode()
        proto = await pool.acquire()
        try:
            transport = proto.transport
            if transport is None:
                raise UpstreamError("the upstream closed the connection")
            transport.write(b"%s%sContent-Length: %d\r\n\r\n%s" % (
                line, head.encode("utf-8", "surrogateescape"), len(body), body))
            while True:
                try:
                    message, payload = await proto.read()
                except HttpProcessingError as exc:
                    raise UpstreamError(f"the upstream's answer is not HTTP: {exc.message}") from exc
                except EofStream as exc:
                    raise UpstreamError("the upstream closed the connection") from exc
                if not 100 <= message.code < 200 or message.code == 101:
                    break  # an interim 1xx answer (100 Continue) is not the answer
        except BaseException:
            pool.discard(proto)
            raise
        return LeanResponse(message.code, message.headers, payload, proto, pool)

    def forwarded_head(self, client: CIMultiDictProxy[str], client_key: str, client_ip: str) -> str:
        """``request_headers`` as the lean client's header lines (each ending in CRLF)."""
        lines = [
            f"{name}: {value}\r\n"
            for name, value in client.items()
            if (lower := name.lower()) not in LEAN_DROP and not lower.startswith("x-sluice-")
        ]
        if "Accept" not in client:
            lines.append("Accept: */*\r\n")  # as aiohttp's client adds it
        # Sluice reads usage from the body, so it must see it uncompressed.
        lines.append(f"Accept-Encoding: identity\r\nX-Forwarded-For: {client_ip}\r\n")
        if self.config.pass_client_key:
            lines.append(f"Authorization: Bearer {client_key}\r\n")
        elif self._credential is not None:
            lines.append(f"Authorization: {self._credential}\r\n")
        head = "".join(lines)
        breaks = head.count("\r\n")
        if head.count("\r") != breaks or head.count("\n") != breaks:
            # aiohttp's server refuses such headers; a credential read with its newline would not be.
            raise ValueError("a forwarded header carries a line break")
        return head

    def request_headers(
        self, client: CIMultiDictProxy[str], client_key: str, client_ip: str
    ) -> CIMultiDict[str]:
        headers: CIMultiDict[str] = CIMultiDict()
        for name, value in client.items():
            lower = name.lower()
            if lower in HOP_BY_HOP or lower in CLIENT_IDENTITY or lower.startswith("x-sluice-"):
                continue
            headers.add(name, value)
        # Sluice reads usage from the body, so it must see it uncompressed.
        headers["Accept-Encoding"] = "identity"
        headers["X-Forwarded-For"] = client_ip
        if self.config.pass_client_key:
            headers["Authorization"] = f"Bearer {client_key}"
        elif self._credential is not None:
            headers["Authorization"] = self._credential
        return headers


def response_headers(upstream: CIMultiDictProxy[str]) -> CIMultiDict[str]:
    headers: CIMultiDict[str] = CIMultiDict()
    for name, value in upstream.items():
        lower = name.lower()
        if lower in RESPONSE_DROP or lower.startswith("x-ratelimit-"):
            continue
        headers.add(name, value)
    return headers
