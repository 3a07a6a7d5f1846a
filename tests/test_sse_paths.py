"""The SSE tap's two framings read events alike: "\\n\\n"-only data takes the split fast path (and
its inline reading of one-choice chat chunks), data with a CR the general one. Same usage, chunk
count, [DONE] and kept events either way, for valid, odd and arbitrary JSON payloads."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from proxy.sse import StreamTap
from tests.test_fuzz import FUZZ, chat_chunk, json_values, odd_events, usage_chunk

_event = st.one_of(
    chat_chunk().map(lambda c: b"data: " + json.dumps(c).encode()),
    usage_chunk.map(lambda c: b"data: " + json.dumps(c).encode()),
    odd_events,
    json_values.map(lambda v: b"data: " + json.dumps(v).encode()),
    st.builds(lambda d: b"data: " + json.dumps({"choices": [{"delta": d}]}).encode(), json_values),
    st.just(b"data: [DONE]"),
)


def _read(events: list[bytes], sep: bytes, drop_usage: bool) -> tuple[Any, ...]:
    tap = StreamTap(drop_usage_chunk=drop_usage)
    out = tap.feed(b"".join(e + sep for e in events)) + tap.flush()
    kept = [e for e in out.split(sep) if e]
    return tap.usage, tap.chunks, tap.done, kept


@FUZZ
@given(events=st.lists(_event, max_size=10), drop_usage=st.booleans())
def test_the_fast_and_the_general_framing_read_the_same(events: list[bytes], drop_usage: bool) -> None:
    fast = _read(events, b"\n\n", drop_usage)
    general = _read(events, b"\r\n\r\n", drop_usage)
    assert fast == general


# ---- content chunks read from their bytes (the tap's template) -------------------------------------

_HEAD = b'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":'
_TAIL = b'},"logprobs":null,"finish_reason":null}]'
# What a hole may hold: plain text, every escape (valid or not), quotes, control characters, the
# surrogates (paired, lone, as UTF-8), invalid UTF-8, and the bytes that would close the event early.
_hole = st.lists(
    st.sampled_from([
        b"hello", b" ", b"\xc3\xa9", b"\xe4\xb8\xad", b"\\n", b"\\t", b'\\"', b"\\\\", b"\\/", b"\\u00e9", b"\\u0000",
        b"\\ud83d\\ude00", b"\\ud800", b"\\udc00", b"\\uD800", b"\\u12", b"\\x", b"\\", b'"', b"\nx", b"\t", b"\x00",
        b"\x7f", b"\xff", b"\xed\xa0\x80", b"\xc3", b'"},"x":"', b"}",
    ]),
    max_size=5,
).map(b"".join)


@st.composite
def _templated_event(draw: st.DrawFn) -> bytes:
    """A content chunk of one fixed shape around one or two holes (the content, OpenAI's obfuscation)."""
    content = draw(_hole)
    event = _HEAD + b'{"content":"' + content + b'"' + _TAIL
    if draw(st.booleans()):
        return event + b',"obfuscation":"' + draw(_hole) + b'"}'
    return event + b"}"


_template_stream = st.lists(
    st.one_of(
        _templated_event(),
        st.just(_HEAD + b'{"role":"assistant","content":""}' + _TAIL + b"}"),  # a template of another shape
        st.just(_HEAD + b'{"content":"hi","reasoning":"x"}' + _TAIL + b"}"),  # never a template: counted anyway
        st.just(_HEAD + b'{"content": "spaced"}' + _TAIL + b"}"),
        usage_chunk.map(lambda c: b"data: " + json.dumps(c).encode()),
        st.just(b"data: [DONE]"),
    ),
    max_size=12,
)


@FUZZ
@given(events=_template_stream, drop_usage=st.booleans())
def test_content_chunks_read_from_their_bytes_count_as_parsed_ones(events: list[bytes], drop_usage: bool) -> None:
    """A chunk fitting the template is read without parsing: same count, usage and kept events as the
    general framing, which parses every event, whatever the holes hold."""
    fast = _read(events, b"\n\n", drop_usage)
    general = _read(events, b"\r\n\r\n", drop_usage)
    assert fast == general


def test_the_template_reads_a_stream_of_content_chunks() -> None:
    """The common stream: after the first chunks, content chunks (with and without obfuscation) are not parsed."""
    for tail in (b"}", b',"obfuscation":"aB3"}'):
        chunks = [_HEAD + b'{"content":"' + word + b'"' + _TAIL + tail for word in (b"one", b"two \\n", b"", b"\xc3\xa9")]
        tap = StreamTap(drop_usage_chunk=False)
        raw = b"".join(c + b"\n\n" for c in chunks * 3)
        assert tap.feed(raw) == raw
        assert tap.chunks == 9 and tap._template is not None


@FUZZ
@given(events=_template_stream, data=st.data())
def test_runs_of_templated_chunks_read_alike_however_the_bytes_were_split(
    events: list[bytes], data: st.DataObject
) -> None:
    """Content chunks that fit the template are read a run at a time, across reads: the same count,
    usage and bytes as the general framing, whatever the holes hold and wherever a read ends."""
    raw = b"".join(e + b"\n\n" for e in events * 3)
    cuts = sorted(set(data.draw(st.lists(st.integers(0, len(raw)), max_size=8))))
    bounds = [0, *cuts, len(raw)]
    tap = StreamTap(drop_usage_chunk=False)
    out = b"".join(tap.feed(raw[a:b]) for a, b in zip(bounds, bounds[1:])) + tap.flush()
    general = _read(events * 3, b"\r\n\r\n", False)
    assert (tap.usage, tap.chunks, tap.done) == general[:3]
    assert out == raw


def test_a_run_stops_at_a_chunk_that_only_looks_like_the_template() -> None:
    """A run reads content chunks up to one whose hole the byte check does not prove valid (here a
    surrogate pair escape): that one is parsed, and the usage chunk after the run still read and dropped."""
    good = _HEAD + b'{"content":"word "' + _TAIL + b"}"
    odd = _HEAD + b'{"content":"\\ud83d\\ude00"' + _TAIL + b"}"
    usage = b'data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":7,"total_tokens":10}}'
    events = [good] * 5 + [odd] + [good] * 5 + [usage]
    tap = StreamTap(drop_usage_chunk=True)
    out = tap.feed(b"".join(e + b"\n\n" for e in events))
    assert tap.chunks == 11
    assert tap.usage is not None and tap.usage.completion == 7
    assert out == b"".join(e + b"\n\n" for e in events[:-1])
