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
