"""Server-sent events, tapped on the way through: framing, usage, chunk counting.

The tap re-frames the byte stream into whole events (a client can do nothing
with half an event, so this adds no latency a client could notice), reads the
usage the upstream reports, counts generated chunks so an aborted or usage-less
stream can still be charged, and drops the usage-only chunk that Sluice asked
for on the client's behalf when the client did not.
"""

from __future__ import annotations

from typing import Any

import orjson

from proxy.usage import Usage, parse_usage

_DELTA_FIELDS = ("content", "reasoning_content", "reasoning", "tool_calls", "refusal")


def _boundary(buf: bytearray | bytes, start: int) -> tuple[int, int]:
    """(end of the next event, start of the one after), or (-1, -1)."""
    lf = buf.find(b"\n\n", start)
    crlf = buf.find(b"\r\n\r\n", start)
    if crlf != -1 and (lf == -1 or crlf < lf):
        return crlf, crlf + 4
    if lf != -1:
        return lf, lf + 2
    return -1, -1


def _generated(obj: dict[str, Any]) -> int:
    """How many generated pieces an event carries (one per choice with new text)."""
    choices = obj.get("choices")
    if isinstance(choices, list):
        count = 0
        for choice in choices:
            if not isinstance(choice, dict):
                continue
            delta = choice.get("delta")
            if isinstance(delta, dict):
                if any(delta.get(k) for k in _DELTA_FIELDS):
                    count += 1
            elif choice.get("text"):
                count += 1
        return count
    kind = obj.get("type")
    return 1 if isinstance(kind, str) and kind.endswith(".delta") else 0


class StreamTap:
    __slots__ = ("_buffer", "usage", "chunks", "done", "drop_usage_chunk")

    def __init__(self, drop_usage_chunk: bool) -> None:
        self._buffer = bytearray()
        self.usage: Usage | None = None
        self.chunks = 0
        self.done = False
        self.drop_usage_chunk = drop_usage_chunk

    def feed(self, data: bytes) -> bytes:
        """Take bytes from the upstream; return the whole events to forward."""
        self._buffer += data
        buf = self._buffer
        out = bytearray()
        start = 0
        while True:
            end, nxt = _boundary(buf, start)
            if end == -1:
                break
            if self._keep(bytes(buf[start:end])):
                out += buf[start:nxt]
            start = nxt
        if start:
            del buf[:start]
        return bytes(out)

    def flush(self) -> bytes:
        """What is left when the upstream ends: an unterminated last event."""
        rest = bytes(self._buffer)
        self._buffer.clear()
        if rest.strip() and self._keep(rest.strip()):
            return rest
        return b""

    def _keep(self, event: bytes) -> bool:
        for line in event.splitlines():
            if not line.startswith(b"data:"):
                continue
            payload = line[5:].strip()
            if payload == b"[DONE]":
                self.done = True
                return True
            try:
                obj = orjson.loads(payload)
            except orjson.JSONDecodeError:
                return True
            if not isinstance(obj, dict):
                return True
            self.chunks += _generated(obj)
            usage = obj.get("usage")
            if usage:
                parsed = parse_usage(usage)
                if parsed is not None:
                    self.usage = parsed
                    if self.drop_usage_chunk and obj.get("choices") == []:
                        return False
            elif obj.get("type") == "response.completed":
                response = obj.get("response")
                if isinstance(response, dict):
                    self.usage = parse_usage(response.get("usage")) or self.usage
        return True
