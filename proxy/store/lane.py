"""One pipelined connection to a standalone Redis for the request path's script calls.

redis-py's asyncio client spends more CPU per command than the proxy spends on
the rest of a request: a pool checkout, a retry wrapper, a timeout context and
a task-safe reader per call (~700 µs per admitted request, measured with
bench/compare.py). The scripts that every request runs (admit, settle) go
here instead: commands are packed by hiredis, written to one
connection shared by every in-flight request, and replies, which Redis sends
in order, are parsed by hiredis and handed to their callers in that order.
A turn of the event loop writes at most twice: its first call at once (an idle
proxy waits for nothing), what the others send in one write at the end of the
turn (under load several requests reach their admit in the same turn, and each
write is a system call).

The connection itself is made by redis-py's own connection class (the same
one its pool would use), so TLS, AUTH/ACL users, SELECT and unix sockets
behave as configured in ``store.url``; after the handshake only its streams
are used. No timeout here: the caller's (FailSafeStore) cancels a call that
takes too long. A cancelled call's reply is read and dropped when it comes,
so the connection stays in step with no reconnect. A connection that has
owed a reply for longer than ``stale_after`` is dropped (a peer gone silent,
a blackholed network) and the next call reconnects. Errors reading or
writing fail every call in flight with redis-py's ConnectionError, which the
store treats as "unavailable", as it does redis-py's own.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

import hiredis
from redis._parsers.base import BaseParser
from redis.asyncio.connection import ConnectionPool
from redis.exceptions import ConnectionError as RedisConnectionError

READ_SIZE = 65536
# Above this much unsent data, a caller waits for the socket to drain (backpressure on a slow link).
HIGH_WATER = 1 << 20


class _Waiter:
    """A batch of commands sent together; resolved once all their replies are in."""

    __slots__ = ("count", "future", "replies", "sent")

    def __init__(self, future: asyncio.Future[list[Any]], count: int, sent: float) -> None:
        self.future = future
        self.replies: list[Any] = []
        self.count = count
        self.sent = sent


class Lane:
    def __init__(self, pool: ConnectionPool, *, stale_after: float) -> None:
        self._pool = pool
        self._stale_after = stale_after
        self._conn: Any = None  # redis-py's connection, kept for its streams and to close it
        self._writer: asyncio.StreamWriter | None = None
        self._reading: asyncio.Task[None] | None = None
        self._waiting: deque[_Waiter] = deque()
        self._connecting: asyncio.Lock | None = None
        self._closed = False
        # Commands packed this turn of the loop after its first write, and the callback at the turn's end
        # that writes them (None: nothing written yet this turn).
        self._outgoing: list[bytes] = []
        self._flushing: asyncio.Handle | None = None

    async def execute(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        """Send ``commands`` together (at once, or in the write at this turn's end); their replies, in order.
        An error reply is returned as redis-py's exception for it (NoScriptError, ReadOnlyError, ...), not
        raised."""
        loop = asyncio.get_running_loop()
        writer = self._writer
        if writer is None or writer.is_closing():
            writer = await self._connect()
        elif self._waiting and loop.time() - self._waiting[0].sent > self._stale_after:
            self._drop(RedisConnectionError("Redis owed a reply for too long; reconnecting"))
            writer = await self._connect()
        packed = [hiredis.pack_command(c) for c in commands]  # before queueing: packing may raise
        waiter = _Waiter(loop.create_future(), len(commands), loop.time())
        self._waiting.append(waiter)  # in the order of the writes: Redis answers in that order
        if self._flushing is None:
            writer.write(packed[0] if len(packed) == 1 else b"".join(packed))
            self._flushing = loop.call_soon(self._flush)
        else:
            self._outgoing += packed
        if writer.transport.get_write_buffer_size() > HIGH_WATER:
            await writer.drain()
        return await waiter.future

    def _flush(self) -> None:
        """The turn's end: write what its later calls packed, in one system call."""
        self._flushing = None
        outgoing, self._outgoing = self._outgoing, []
        writer = self._writer
        # A connection lost since (None) failed those calls already; one closing fails them when the
        # reader meets its end.
        if outgoing and writer is not None and not writer.is_closing():
            writer.write(outgoing[0] if len(outgoing) == 1 else b"".join(outgoing))

    async def _connect(self) -> asyncio.StreamWriter:
        if self._closed:
            raise RedisConnectionError("the store is closed")
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:  # concurrent first calls share one connection
            if self._writer is not None and not self._writer.is_closing():
                return self._writer
            self._drop(RedisConnectionError("Redis connection lost"))
            pool = self._pool
            conn = pool.connection_class(**pool.connection_kwargs)
            try:
                await conn.connect()  # TCP/TLS/unix, AUTH, SELECT: redis-py's handshake
            except BaseException:
                await conn.disconnect(nowait=True)
                raise
            reader, writer = conn._reader, conn._writer
            if reader is None or writer is None:  # connect() returned without a socket: never expected
                raise RedisConnectionError("Redis connection not established")
            self._conn = conn
            self._writer = writer
            self._reading = asyncio.get_running_loop().create_task(self._read(reader))
            return writer

    async def _read(self, reader: asyncio.StreamReader) -> None:
        parser = hiredis.Reader()
        waiting = self._waiting
        error: BaseException = RedisConnectionError("Redis closed the connection")
        try:
            while True:
                data = await reader.read(READ_SIZE)
                if not data:
                    break
                parser.feed(data)
                reply = parser.gets()
                while reply is not False:
                    if isinstance(reply, hiredis.ReplyError):
                        reply = BaseParser.parse_error(str(reply))
                    waiter = waiting[0]
                    waiter.replies.append(reply)
                    if len(waiter.replies) == waiter.count:
                        waiting.popleft()
                        if not waiter.future.done():  # cancelled: its caller gave up; the reply is dropped
                            waiter.future.set_result(waiter.replies)
                    reply = parser.gets()
        except asyncio.CancelledError:
            return  # _drop() stopped us and failed the waiters itself
        except (OSError, hiredis.ProtocolError, IndexError) as exc:  # IndexError: a reply nobody asked for
            error = RedisConnectionError(f"Redis connection failed: {type(exc).__name__}")
        self._drop(error, from_reader=True)

    def _drop(self, error: BaseException, *, from_reader: bool = False) -> None:
        """Forget the connection; every call waiting on it fails with ``error``."""
        if self._reading is not None and not from_reader:
            self._reading.cancel()
        self._reading = None
        if self._writer is not None:
            self._writer.close()
        if self._conn is not None:
            self._conn._reader = self._conn._writer = None  # closed above: redis-py must not close it again
        self._writer = None
        self._conn = None
        if self._flushing is not None:
            self._flushing.cancel()
            self._flushing = None
        self._outgoing = []
        while self._waiting:
            future = self._waiting.popleft().future
            if not future.done():
                future.set_exception(error)

    async def close(self) -> None:
        self._closed = True
        self._drop(RedisConnectionError("the store is closed"))
