"""Response side, SSE streams: the JSON transforms rewritten event by event.

``StreamShaper.feed_event`` takes one parsed ``data:`` object and returns the
events to send instead: usually the same one rewritten, none to drop it, or two
when a held-back piece of text has to go out before a ``*.done`` event. State is
per choice / per text part and bounded (a few words held back by the
watermark, counters), never the whole stream.

Plugging it into proxy/sse.py's per-event loop: parse each ``data:`` payload
(``[DONE]`` passes through, after ``finish()``'s events), call ``feed_event``,
and frame each returned object with ``encode_event``. Read the upstream's usage
for billing *before* shaping (the tap's job): after a truncation the client is
shown the tokens it received, but the upstream generated, and Sluice pays for,
all of them.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

import orjson

from proxy.request import CHAT, COMPLETIONS, RESPONSES
from proxy.shaping.actions import (
    FINGERPRINT,
    LOGPROB_ACTIONS,
    REMOVE_REASONING,
    STRIP_LOGPROBS,
    TRUNCATE,
    ShapeContext,
    ShapingActions,
)
from proxy.shaping.common import (
    REASONING_FIELDS,
    REASONING_TEXT_FIELDS,
    Cut,
    ItemShaping,
    LogprobShaper,
    TokenBudget,
    fix_usage,
    mark_text,
    marker_factory,
    shape_output_item,
    shape_part_logprobs,
    shape_text_part,
    slice_completions_logprobs,
    token_strings,
)
from proxy.shaping.fingerprint import TextMarker

_DELTA_KEYS: Final = ("content", *REASONING_FIELDS, "tool_calls", "function_call", "refusal", "role", "audio")

# /v1/responses text events: type -> (kind of text, the field naming the part's index).
_TEXT_DELTAS: Final = MappingProxyType(
    {
        "response.output_text.delta": ("text", "content_index"),
        "response.reasoning_text.delta": ("reasoning", "content_index"),
        "response.reasoning_summary_text.delta": ("summary", "summary_index"),
    }
)
_TEXT_DONES: Final = MappingProxyType(
    {
        "response.output_text.done": ("text", "content_index"),
        "response.reasoning_text.done": ("reasoning", "content_index"),
        "response.reasoning_summary_text.done": ("summary", "summary_index"),
    }
)
_LIFECYCLE: Final = frozenset(
    {"response.created", "response.in_progress", "response.queued", "response.completed", "response.incomplete",
     "response.failed"}
)  # fmt: skip


def encode_event(obj: dict[str, Any], route: str) -> bytes:
    """One SSE event; /v1/responses streams name the event type as OpenAI's do."""
    data = b"data: " + orjson.dumps(obj) + b"\n\n"
    kind = obj.get("type")
    if route == RESPONSES and isinstance(kind, str):
        return b"event: " + kind.encode() + b"\n" + data
    return data


@dataclass(slots=True)
class _Choice:
    """One chat / completions choice of a stream."""

    budget: TokenBudget | None
    closed: bool = False  # cut at the budget: the rest of this choice is dropped
    lp_pos: int = 0
    markers: dict[str, TextMarker] = field(default_factory=dict)


@dataclass(slots=True)
class _Part:
    """One text part of a /v1/responses stream (output text, reasoning text or summary)."""

    marker: TextMarker | None
    kept_chars: int = 0  # characters of the upstream's text sent on
    kept_tokens: int = 0  # logprob entries sent on
    lp_pos: int = 0
    dropped: bool = False  # opened after the budget ran out


class StreamShaper:
    """Rewrites the events of one SSE response."""

    def __init__(self, route: str, actions: ShapingActions, ctx: ShapeContext) -> None:
        self.route = route
        self.actions = actions
        self.applied: set[str] = set()
        self._shaper = LogprobShaper.of(actions, ctx)
        self._make = marker_factory(actions, ctx)
        self._truncate = actions.response.truncate_tokens
        self._remove_reasoning = actions.response.remove_reasoning
        self._active = actions.shapes_response
        self._choices: dict[int, _Choice] = {}
        self._envelope: dict[str, Any] = {}  # id / created / model of the last chat or completions chunk
        # /v1/responses
        self._budget = TokenBudget(self._truncate) if self._truncate is not None else None
        self._cut: Cut | None = None
        self._removed: list[int] = []  # upstream output indices dropped, sorted
        self._removed_set: set[int] = set()
        self._parts: dict[tuple[int, str, int], _Part] = {}
        self._seq = 0

    # -- public ------------------------------------------------------------------------

    def feed_event(self, obj: dict[str, Any]) -> list[dict[str, Any]]:
        """The events to send for one upstream event ([] drops it)."""
        if not self._active or not isinstance(obj, dict) or "error" in obj:
            return [obj]
        if self.route == RESPONSES:
            return self._responses_event(obj)
        if self.route in (CHAT, COMPLETIONS):
            return self._choices_chunk(obj)
        return [obj]

    def finish(self) -> list[dict[str, Any]]:
        """Events for text still held back when the upstream stream ends without closing it."""
        out: list[dict[str, Any]] = []
        if self.route in (CHAT, COMPLETIONS):
            for index, st in sorted(self._choices.items()):
                tails = {key: m.finish() for key, m in st.markers.items()}
                st.markers.clear()
                tails = {k: v for k, v in tails.items() if v}
                if not tails:
                    continue
                if self.route == CHAT:
                    choice: dict[str, Any] = {"index": index, "delta": tails, "finish_reason": None}
                    kind = "chat.completion.chunk"
                else:
                    choice = {"index": index, "text": tails.get("content", ""), "finish_reason": None, "logprobs": None}
                    kind = "text_completion"
                out.append({**self._envelope, "object": kind, "choices": [choice]})
        return out

    # -- chat completions and completions ---------------------------------------------------

    def _choice(self, index: int) -> _Choice:
        st = self._choices.get(index)
        if st is None:
            st = self._choices[index] = _Choice(TokenBudget(self._truncate) if self._truncate is not None else None)
        return st

    def _marker(self, st: _Choice, key: str) -> TextMarker | None:
        if self._make is None:
            return None
        m = st.markers.get(key)
        if m is None:
            m = st.markers[key] = self._make()
        return m

    def _choices_chunk(self, obj: dict[str, Any]) -> list[dict[str, Any]]:
        for key in ("id", "created", "model", "system_fingerprint"):
            if key in obj:
                self._envelope[key] = obj[key]
        choices = obj.get("choices")
        if isinstance(choices, list) and choices:
            kept = [c for c in choices if not isinstance(c, dict) or self._choice_entry(c)]
            obj["choices"] = kept
            if not kept and not obj.get("usage"):
                return []
        if "usage" in obj and TRUNCATE in self.applied:
            fix_usage(
                obj["usage"],
                sum(st.budget.counted for st in self._choices.values() if st.budget),
                sum(st.budget.kept for st in self._choices.values() if st.budget),
            )
        return [obj]

    def _choice_entry(self, choice: dict[str, Any]) -> bool:
        """Rewrite one choice of a chunk in place; False drops it from the chunk."""
        index = choice.get("index", 0)
        st = self._choice(index if isinstance(index, int) else 0)
        chat = self.route == CHAT
        delta = choice.get("delta") if chat else choice
        if not isinstance(delta, dict):
            return True
        text_key = "content" if chat else "text"
        logprobs = choice.get("logprobs")
        text = delta.get(text_key)
        exact: list[str] | None = None
        if st.budget is not None and isinstance(text, str) and text:
            if chat:
                entries = logprobs.get("content") if isinstance(logprobs, dict) else None
                exact = token_strings(entries, text)
            else:
                tokens = logprobs.get("tokens") if isinstance(logprobs, dict) else None
                exact = tokens if isinstance(tokens, list) and all(isinstance(t, str) for t in tokens) else None
                exact = exact if exact is not None and "".join(exact) == text else None
        if st.closed:
            # Past the budget: counted (to calibrate usage, in the same unit), never sent.
            if st.budget is not None and isinstance(text, str):
                st.budget.take_tokens(exact) if exact is not None else st.budget.take(text)
            return False
        if st.budget is not None and isinstance(text, str) and text:
            if exact is not None:
                n = st.budget.take_tokens(exact)
                new = "".join(exact[:n])
            else:
                new = st.budget.take(text)
            if st.budget.cut:
                delta[text_key] = new
                if exact is not None and isinstance(logprobs, dict):
                    if chat:
                        logprobs["content"] = logprobs["content"][:n]
                    else:
                        slice_completions_logprobs(logprobs, n)
                for key in ("tool_calls", "function_call"):
                    delta.pop(key, None)
                choice["finish_reason"] = "length"
                st.closed = True
                self.applied.add(TRUNCATE)
        finishing = bool(choice.get("finish_reason"))
        if chat:
            for key in REASONING_FIELDS:
                if key not in delta:
                    continue
                if self._remove_reasoning:
                    delta.pop(key)
                    self.applied.add(REMOVE_REASONING)
                elif key in REASONING_TEXT_FIELDS and isinstance(delta[key], str):
                    marker = self._marker(st, key)
                    if marker is not None:
                        delta[key] = marker.feed(delta[key])
            # Reasoning comes before the answer: its held-back words go out when the answer starts.
            if delta.get("content") or finishing:
                for key in REASONING_TEXT_FIELDS:
                    marker = st.markers.pop(key, None)
                    tail = marker.finish() if marker is not None else ""
                    if tail:
                        delta[key] = delta.get(key, "") + tail if isinstance(delta.get(key), str) else tail
        marker = self._marker(st, text_key) if isinstance(delta.get(text_key), str) or finishing else None
        if marker is not None:
            out = marker.feed(delta.get(text_key) or "")
            if finishing:
                out += marker.finish()
                st.markers.pop(text_key, None)
            if isinstance(delta.get(text_key), str) or out:
                delta[text_key] = out
            if out:
                self.applied.add(FINGERPRINT)
        if isinstance(logprobs, dict):
            mode = self._shaper.mode
            if mode == "strip":
                choice["logprobs"] = None
                self.applied.add(STRIP_LOGPROBS)
            elif self._shaper.rewrites:
                if chat:
                    st.lp_pos = self._shaper.entries(logprobs.get("content"), st.lp_pos)
                else:
                    st.lp_pos = self._shaper.completions(logprobs, st.lp_pos)
                self.applied.add(LOGPROB_ACTIONS[mode])
        if finishing or choice.get("logprobs"):
            return True
        if not chat:
            return bool(delta.get("text"))
        return any((delta.get(key) not in (None, "") if key != "role" else key in delta) for key in _DELTA_KEYS)

    # -- /v1/responses -----------------------------------------------------------------------

    def _how(self) -> ItemShaping:
        return ItemShaping(self._remove_reasoning, self._shaper, self._make, self._cut)

    def _part(self, key: tuple[int, str, int]) -> _Part:
        part = self._parts.get(key)
        if part is None:
            part = self._parts[key] = _Part(self._make() if self._make is not None else None)
        return part

    def _responses_event(self, obj: dict[str, Any]) -> list[dict[str, Any]]:
        kind = obj.get("type")
        oi = obj.get("output_index")
        if isinstance(oi, int) and oi in self._removed_set:
            return []
        out: list[dict[str, Any]] | None = None
        if kind == "response.output_item.added":
            item = obj.get("item") if isinstance(obj.get("item"), dict) else {}
            if (item.get("type") == "reasoning" and self._remove_reasoning) or self._cut is not None:
                if item.get("type") == "reasoning" and self._remove_reasoning:
                    self.applied.add(REMOVE_REASONING)
                if isinstance(oi, int):
                    insort(self._removed, oi)
                    self._removed_set.add(oi)
                return []
        elif kind == "response.output_item.done":
            if isinstance(oi, int) and isinstance(obj.get("item"), dict):
                shape_output_item(obj["item"], oi, self._how())
        elif kind == "response.content_part.added":
            ci = obj.get("content_index")
            if self._cut is not None and isinstance(oi, int) and isinstance(ci, int):
                self._part((oi, "text", ci)).dropped = True
                return []
        elif kind == "response.content_part.done":
            ci = obj.get("content_index")
            part = obj.get("part")
            if isinstance(oi, int) and isinstance(ci, int) and isinstance(part, dict):
                if self._part((oi, "text", ci)).dropped:
                    return []
                if part.get("type") == "output_text":
                    shape_text_part(part, oi, ci, self._how())
                elif (
                    part.get("type") == "reasoning_text"
                    and self._make is not None
                    and isinstance(part.get("text"), str)
                ):
                    part["text"] = mark_text(self._make, part["text"])
        elif kind == "response.reasoning_summary_part.done":
            part = obj.get("part")
            if self._make is not None and isinstance(part, dict) and isinstance(part.get("text"), str):
                part["text"] = mark_text(self._make, part["text"])
        elif kind in _TEXT_DELTAS:
            out = self._text_delta(obj, *_TEXT_DELTAS[kind])
        elif kind in _TEXT_DONES:
            out = self._text_done(obj, *_TEXT_DONES[kind])
        elif kind in _LIFECYCLE:
            self._lifecycle(obj)
        events = out if out is not None else [obj]
        for event in events:
            self._renumber(event)
        return events

    def _renumber(self, event: dict[str, Any]) -> None:
        oi = event.get("output_index")
        if isinstance(oi, int) and self._removed:
            # Items dropped before this one shift it down: the client's index stays dense.
            event["output_index"] = oi - bisect_left(self._removed, oi)
        if "sequence_number" in event:
            # Dropped events would leave gaps that show where something was removed.
            event["sequence_number"] = self._seq
            self._seq += 1

    def _text_delta(self, obj: dict[str, Any], kind: str, index_key: str) -> list[dict[str, Any]]:
        oi, idx = obj.get("output_index"), obj.get(index_key)
        delta = obj.get("delta")
        if not isinstance(oi, int) or not isinstance(idx, int) or not isinstance(delta, str):
            return [obj]
        part = self._part((oi, kind, idx))
        if part.dropped:
            return []
        if kind == "text" and self._budget is not None:
            exact = token_strings(obj.get("logprobs"), delta)
            if self._cut is not None:
                # Counted for usage (in the same unit), not sent.
                self._budget.take_tokens(exact) if exact is not None else self._budget.take(delta)
                return []
            if exact is not None:
                n = self._budget.take_tokens(exact)
                new = "".join(exact[:n])
            else:
                n, new = 0, self._budget.take(delta)
            if self._budget.cut:
                obj["delta"] = delta = new
                if exact is not None:
                    obj["logprobs"] = obj["logprobs"][:n]
                self._cut = Cut(
                    oi, idx, part.kept_chars + len(new), part.kept_tokens + n if exact is not None else None
                )
                self.applied.add(TRUNCATE)
            part.kept_chars += len(delta)
            part.kept_tokens += n
        if kind == "text" and "logprobs" in obj:
            if self._shaper.mode == "strip":
                obj["logprobs"] = []
                self.applied.add(STRIP_LOGPROBS)
            elif self._shaper.rewrites:
                part.lp_pos = self._shaper.entries(obj["logprobs"], part.lp_pos)
                self.applied.add(LOGPROB_ACTIONS[self._shaper.mode])
        if part.marker is not None:
            obj["delta"] = part.marker.feed(delta)
            self.applied.add(FINGERPRINT)
        return [obj]

    def _text_done(self, obj: dict[str, Any], kind: str, index_key: str) -> list[dict[str, Any]]:
        oi, idx = obj.get("output_index"), obj.get(index_key)
        text = obj.get("text")
        if not isinstance(oi, int) or not isinstance(idx, int) or not isinstance(text, str):
            return [obj]
        part = self._part((oi, kind, idx))
        if part.dropped:
            return []
        cut = self._cut
        if kind == "text" and cut is not None and (cut.item, cut.part) == (oi, idx):
            text = text[: cut.chars]
            if cut.tokens is not None and isinstance(obj.get("logprobs"), list):
                obj["logprobs"] = obj["logprobs"][: cut.tokens]
        if kind == "text":
            shape_part_logprobs(obj, self._shaper)
        out: list[dict[str, Any]] = []
        if part.marker is not None:
            tail = part.marker.finish()
            if tail:
                # The last held-back words go out as one more delta, before the done event.
                extra = {k: obj[k] for k in ("item_id", "output_index", index_key, "sequence_number") if k in obj}
                extra.update(type=obj["type"].replace(".done", ".delta"), delta=tail)
                if kind == "text":
                    extra["logprobs"] = []
                out.append(extra)
            text = mark_text(self._make, text) if self._make is not None else text
        obj["text"] = text
        out.append(obj)
        return out

    def _lifecycle(self, obj: dict[str, Any]) -> None:
        response = obj.get("response")
        if not isinstance(response, dict):
            return
        output = response.get("output")
        if isinstance(output, list):
            how = self._how()
            response["output"] = [item for i, item in enumerate(output) if shape_output_item(item, i, how)]
        if self._cut is not None and obj.get("type") in ("response.completed", "response.incomplete"):
            # What a length stop looks like in this API.
            obj["type"] = "response.incomplete"
            response["status"] = "incomplete"
            response["incomplete_details"] = {"reason": "max_output_tokens"}
            if self._budget is not None:
                fix_usage(response.get("usage"), self._budget.counted, self._budget.kept)
