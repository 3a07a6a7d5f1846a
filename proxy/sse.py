"""Server-sent events, tapped on the way through: framing, usage, chunk counting.

The tap re-frames the byte stream into whole events (a client can do nothing
with half an event, so this adds no latency a client could notice), reads the
usage the upstream reports, counts generated chunks so an aborted or usage-less
stream can still be charged, and drops the usage-only chunk that Sluice asked
for on the client's behalf when the client did not.

With a ``StreamShaper`` (a shaped policy level), each event is rewritten after
the tap has read it: usage and the chunk count come from what the upstream
generated, the client gets the shaped events. Without one, events pass through
byte for byte.
"""

from __future__ import annotations

from typing import Any

import orjson

from proxy.shaping import StreamShaper, encode_event
from proxy.usage import Usage, parse_usage

_DELTA_FIELDS = ("content", "reasoning_content", "reasoning", "tool_calls", "refusal")


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
                for k in _DELTA_FIELDS:  # a loop, not any(generator): this runs for every event
                    if delta.get(k):
                        count += 1
                        break
            elif choice.get("text"):
                count += 1
        return count
    kind = obj.get("type")
    return 1 if isinstance(kind, str) and kind.endswith(".delta") else 0


class StreamTap:
    __slots__ = ("_buffer", "usage", "chunks", "done", "drop_usage_chunk", "shaper", "_shaped")

    def __init__(self, drop_usage_chunk: bool, shaper: StreamShaper | None = None) -> None:
        self._buffer = bytearray()
        self.usage: Usage | None = None
        self.chunks = 0
        self.done = False
        self.drop_usage_chunk = drop_usage_chunk
        self.shaper = shaper
        self._shaped: bytes | None = None  # what _keep decided to send instead of the event

    def feed(self, data: bytes) -> bytes:
        """Take bytes from the upstream; return the whole events to forward."""
        self._buffer += data
        buf = self._buffer
        out = bytearray()
        start = 0
        # The next "\n\n" and "\r\n\r\n" at or after start (-1: none in the buffer), kept
        # between events: searching both afresh for each event scanned the rest of the
        # buffer every time, quadratic when a whole answer arrives in one read.
        lf = crlf = -2
        while True:
            if lf != -1 and lf < start:
                lf = buf.find(b"\n\n", start)
            if crlf != -1 and crlf < start:
                crlf = buf.find(b"\r\n\r\n", start)
            if crlf != -1 and (lf == -1 or crlf < lf):
                end, nxt = crlf, crlf + 4
            elif lf != -1:
                end, nxt = lf, lf + 2
            else:
                break
            if self._keep(bytes(buf[start:end])):
                out += buf[start:nxt]
            elif self._shaped is not None:
                out += self._shaped
                self._shaped = None
            start = nxt
        if start:
            del buf[:start]
        return bytes(out)

    @property
    def pending(self) -> int:
        """Bytes of an event still waiting for its blank line."""
        return len(self._buffer)

    def flush(self) -> bytes:
        """What is left when the upstream ends: an unterminated last event."""
        rest = bytes(self._buffer)
        self._buffer.clear()
        out = b""
        if rest.strip():
            if self._keep(rest.strip()):
                out = rest
            elif self._shaped is not None:
                out, self._shaped = self._shaped, None
        if self.shaper is not None:
            out += self._finish()  # a stream that ended without [DONE]: release held-back text
        return out

    def _finish(self) -> bytes:
        assert self.shaper is not None
        return b"".join(_encode(e, self.shaper.route) for e in self.shaper.finish())

    def _shape(self, obj: dict[str, Any]) -> bool:
        """Replace the event by the shaper's rewrite of it (in ``_shaped``); False: do not send it as is."""
        assert self.shaper is not None
        self._shaped = b"".join(_encode(e, self.shaper.route) for e in self.shaper.feed_event(obj))
        return False

    def _keep(self, event: bytes) -> bool:
        for line in event.splitlines():
            if not line.startswith(b"data:"):
                continue
            payload = line[5:].strip()
            if payload == b"[DONE]":
                self.done = True
                if self.shaper is not None:
                    held = self._finish()
                    if held:
                        self._shaped = held + event + b"\n\n"
                        return False
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
            if self.shaper is not None:
                return self._shape(obj)
        return True


def _encode(obj: dict[str, Any], route: str) -> bytes:
    return encode_event(obj, route)
