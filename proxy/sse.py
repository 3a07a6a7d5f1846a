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
        if type(data) is not bytes:  # a bytearray or memoryview: what is returned must not change under us
            data = bytes(data)
        buf = self._buffer
        if buf:  # an event began in an earlier read: complete it
            seam = bytes(buf[-3:]) + data[:3]
            if b"\n\n" not in data and b"\r\n\r\n" not in data and b"\n\n" not in seam and b"\r\n\r\n" not in seam:
                buf += data  # still no end to it: held, not copied and searched again (an endless event)
                return b""
            buf += data
            data = bytes(buf)
            buf.clear()
        size = len(data)
        # What is forwarded is ``data`` up to the last whole event, less the events not kept: kept runs
        # are sliced out whole, not copied event by event (almost every event is kept).
        parts: list[bytes] | None = None
        run = 0  # where the run of kept events not yet in ``parts`` starts
        start = 0
        keep = self._keep
        if b"\r" not in data:
            # Events end at "\n\n" only: one split finds them all. Without a shaper, an event of one
            # "data: {" line (almost all of them) is read here, without the general path's calls.
            events = data.split(b"\n\n")
            events.pop()  # what follows the last blank line: an unfinished event, or nothing
            plain = self.shaper is None
            for event in events:
                nxt = start + len(event) + 2
                if plain and event.startswith(b"data: {") and b"\n" not in event:
                    try:
                        obj = orjson.loads(event[6:])  # JSON allows the whitespace strip() would drop
                    except orjson.JSONDecodeError:
                        kept = True
                    else:  # a "{" that parsed is a dict
                        choices = obj.get("choices")
                        delta = None
                        if type(choices) is list and len(choices) == 1 and "usage" not in obj and "type" not in obj:
                            choice = choices[0]
                            if type(choice) is dict:
                                delta = choice.get("delta")
                        if type(delta) is dict:
                            # A chat chunk of one choice, no usage (almost every event): what _read does.
                            for k in _DELTA_FIELDS:
                                if delta.get(k):
                                    self.chunks += 1
                                    break
                            kept = True
                        else:
                            kept = self._read(obj)
                else:
                    kept = keep(event)
                if not kept:
                    parts = self._cut(parts, data[run:start])
                    run = nxt
                start = nxt
        else:
            # The next "\n\n" and "\r\n\r\n" at or after start (-1: none), kept between events:
            # searching both afresh for each event scanned the rest of the data every time, quadratic
            # when a whole answer arrives in one read.
            lf = crlf = -2
            while True:
                if lf != -1 and lf < start:
                    lf = data.find(b"\n\n", start)
                if crlf != -1 and crlf < start:
                    crlf = data.find(b"\r\n\r\n", start)
                if crlf != -1 and (lf == -1 or crlf < lf):
                    end, nxt = crlf, crlf + 4
                elif lf != -1:
                    end, nxt = lf, lf + 2
                else:
                    break
                if not keep(data[start:end]):
                    parts = self._cut(parts, data[run:start])
                    run = nxt
                start = nxt
        if start < size:
            buf += data[start:] if start else data
        if parts is None:
            return data if start == size else data[:start]
        parts.append(data[run:start])
        return b"".join(parts)

    def _cut(self, parts: list[bytes] | None, kept: bytes) -> list[bytes]:
        """The output so far once an event is dropped: the events kept before it, then what
        shaping put in its place, if anything."""
        if parts is None:
            parts = []
        parts.append(kept)
        if self._shaped is not None:
            parts.append(self._shaped)
            self._shaped = None
        return parts

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
        if b"\n" not in event and b"\r" not in event:  # one line, the usual event: no splitting
            return not event.startswith(b"data:") or self._data(event[5:].strip(), event) is not False
        for line in event.splitlines():
            if line.startswith(b"data:"):
                verdict = self._data(line[5:].strip(), event)
                if verdict is not None:
                    return verdict
        return True

    def _data(self, payload: bytes, event: bytes) -> bool | None:
        """One ``data:`` line of an event: whether to send the event as it is, or None to read its next line."""
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
        if not self._read(obj):
            return False
        if self.shaper is not None:
            return self._shape(obj)
        return None

    def _read(self, obj: dict[str, Any]) -> bool:
        """Count an event's generated pieces and take its usage; False: the usage-only chunk to hold back."""
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


def _encode(obj: dict[str, Any], route: str) -> bytes:
    return encode_event(obj, route)
