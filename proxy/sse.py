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

Without a shaper, most events are not parsed at all. A stream's content chunks
are one JSON text with only the content string changing (and, from OpenAI, a
random ``obfuscation`` string at the end): once one such chunk has been parsed,
the tap keeps its bytes around the content string as a template. An event that
is the template's bytes with a valid JSON string body in each hole parses to
the template's object with other strings in them, so it is read from its bytes:
one generated chunk if its content is not empty. Consecutive such events with
content are read as a run, in one regular-expression call that compares each
with the template by backreference. Anything else (the usage chunk, a finish
reason, another shape, an escape the check below does not prove valid) is
parsed as before.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from proxy.shaping import StreamShaper, encode_event
from proxy.usage import Usage, parse_usage

_DELTA_FIELDS = ("content", "reasoning_content", "reasoning", "tool_calls", "refusal")
# The body of a JSON string that orjson accepts as it stands: no raw quote, backslash or control
# character, only the simple escapes and \u escapes outside the surrogates (a surrogate pair is valid
# JSON; it is just not proven here, so such an event is parsed). Possessive: no backtracking. The
# bytes must also be valid UTF-8, checked apart.
_BODY = rb'(?:[^"\\\x00-\x1f]++|\\["\\/bfnrt]|\\u(?![dD][89a-fA-F])[0-9a-fA-F]{4})'
_STRING_BODY = re.compile(_BODY + rb"*+")
# A run of events that fit the template, each with content, in one C call: the template's parts come
# first in the subject, between NULs (no event's bytes hold one: JSON has no raw control characters),
# and each event must repeat them (backreferences) around its holes. With and without a second hole.
_RUN = re.compile(rb"\x00([^\x00]*+)\x00([^\x00]*+)\x00(?:\1" + _BODY + rb"++\2)*+")
_RUN2 = re.compile(
    rb"\x00([^\x00]*+)\x00([^\x00]*+)\x00([^\x00]*+)\x00(?:\1" + _BODY + rb"++\2" + _BODY + rb"*+\3)*+"
)
_RUN_MISSES = 4  # runs tried in one read that read nothing, before its events are read one by one (feed)
_CONTENT_KEY = b'"content":"'


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


def _utf8(body: bytes) -> bool:
    if body.isascii():
        return True
    try:
        body.decode()
    except UnicodeDecodeError:
        return False
    return True


class StreamTap:
    __slots__ = ("_buffer", "usage", "chunks", "done", "drop_usage_chunk", "shaper", "_shaped", "_template", "_run")

    def __init__(self, drop_usage_chunk: bool, shaper: StreamShaper | None = None) -> None:
        self._buffer = bytearray()
        self.usage: Usage | None = None
        self.chunks = 0
        self.done = False
        self.drop_usage_chunk = drop_usage_chunk
        self.shaper = shaper
        self._shaped: bytes | None = None  # what _keep decided to send instead of the event
        # The content chunk template (see the module's docstring), None until one is seen: the event's
        # bytes up to the content string's body; from its end to the last string's body (None: no such
        # hole); the rest of the event after the last hole and the blank line ending it.
        self._template: tuple[bytes, bytes | None, bytes] | None = None
        # The template as _RUN or _RUN2 reads it: the pattern and the prefix of parts it is matched after.
        self._run: tuple[re.Pattern[bytes], bytes] | None = None

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
            # Events end at "\n\n" only. Without a shaper, an event of one "data: {" line (almost all
            # of them) is read here, without the general path's calls; one that fits the template is
            # read where it lies in ``data``, not even cut out of it.
            plain = self.shaper is None
            template = self._template
            match = _STRING_BODY.match
            ascii_data = data.isascii()
            read = 0  # generated chunks read from templated events
            # Runs tried that read nothing: each copies the rest of ``data``, so a stream whose content
            # chunks alternate with empty ones falls back to reading them one by one.
            misses = 0
            while True:
                if template is not None and data.startswith(template[0], start):
                    run_of = self._run
                    if run_of is not None and misses < _RUN_MISSES:
                        pattern, prefix = run_of
                        rest = memoryview(data)[start:] if start else data
                        matched = pattern.match(b"".join((prefix, rest)))  # a * always matches
                        stop = start + matched.end() - len(prefix)  # type: ignore[union-attr]
                        # Each such event is one line ending in the template's "\n\n", its only line feeds
                        # (a hole holds no control character): counted by those (one byte counts fastest).
                        if stop > start and (ascii_data or _utf8(data[start:stop])):
                            read += data.count(b"\n", start, stop) >> 1
                            start = stop
                            continue
                        misses += 1
                    # The template's bytes around its holes (its tail with the blank line after it),
                    # each hole a valid string body and the whole valid UTF-8 (see the module's
                    # docstring): read without parsing. A hole's match stops at a "\n", so the event
                    # is one line, as the template is, and ends where the template does.
                    head, middle, tail = template
                    hole = start + len(head)
                    at = match(data, hole).end()  # type: ignore[union-attr]  # a * always matches
                    nxt = -1
                    if middle is None:
                        if data.startswith(tail, at):
                            nxt = at + len(tail)
                    elif data.startswith(middle, at):
                        last = match(data, at + len(middle)).end()  # type: ignore[union-attr]
                        if data.startswith(tail, last):
                            nxt = last + len(tail)
                    if nxt > 0 and (ascii_data or _utf8(data[start:nxt])):
                        if at > hole:  # content not empty
                            read += 1
                        start = nxt
                        continue
                end = data.find(b"\n\n", start)
                if end < 0:
                    break  # an unfinished event, or nothing
                event = data[start:end]
                nxt = end + 2
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
                            if type(delta.get("content")) is str:
                                template = self._learn(event, delta)
                        else:
                            kept = self._read(obj)
                else:
                    kept = keep(event)
                if not kept:
                    parts = self._cut(parts, data[run:start])
                    run = nxt
                start = nxt
            self.chunks += read
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

    def _learn(self, event: bytes, delta: dict[str, Any]) -> tuple[bytes, bytes | None, bytes] | None:
        """Take a one-choice chat chunk (parsed: ``delta`` its choice's) as the template if it can be one;
        returns the template now in use."""
        # One "content" key, the delta's, and no escape anywhere: its string body ends at the next quote.
        if b"\\" in event or event.count(b'"content"') != 1:
            return self._template
        for k in _DELTA_FIELDS:
            if k != "content" and delta.get(k):
                return self._template  # generated whatever the content: the count would not follow it
        at = event.find(_CONTENT_KEY)
        if at < 0:
            return self._template  # a space after the colon, say: parsed as before
        at += len(_CONTENT_KEY)
        close = event.index(b'"', at)
        if event[at:close].decode() != delta["content"]:
            return self._template  # never expected: the key found is not the delta's
        template: tuple[bytes, bytes | None, bytes] = (event[:at], None, event[close:] + b"\n\n")
        # A last top-level string after the content (OpenAI's random "obfuscation"): a second hole.
        if event.endswith(b'"}'):
            last = event.rindex(b'"', 0, len(event) - 2)
            if last > close and event[last - 1 : last] == b":":
                template = (event[:at], event[close : last + 1], b'"}\n\n')
        self._template = template
        head, middle, tail = template
        if middle is None:
            self._run = (_RUN, b"\x00%s\x00%s\x00" % (head, tail))
        else:
            self._run = (_RUN2, b"\x00%s\x00%s\x00%s\x00" % (head, middle, tail))
        return template

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
