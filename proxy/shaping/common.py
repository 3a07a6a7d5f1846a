"""Pieces shared by the JSON and the SSE transforms: logprobs, the token budget, usage, text marks."""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from proxy.shaping.actions import LogprobMode, ShapeContext, ShapingActions
from proxy.shaping.fingerprint import TextMarker, account_key

# Reasoning text as open-weight servers and gateways put it on a chat message / delta:
# vLLM and DeepSeek use reasoning_content, OpenRouter and newer vLLM use reasoning.
REASONING_FIELDS: Final = ("reasoning_content", "reasoning", "reasoning_details")
REASONING_TEXT_FIELDS: Final = ("reasoning_content", "reasoning")  # the string-valued ones


# --------------------------------------------------------------------------------------
# Logprobs
# --------------------------------------------------------------------------------------


class LogprobShaper:
    """Rounds or noises logprob values; positions make the noise reproducible token by token.

    The noise of a token at a position is a keyed function of (seed, position, token), so the
    value a token gets is the same whether it is the sampled token or one of the alternatives,
    in a stream chunk or in the final body: nothing inconsistent for a client to notice.
    """

    __slots__ = ("_key", "decimals", "mode", "scale")

    def __init__(self, mode: LogprobMode, decimals: int = 1, scale: float = 0.5, seed: bytes = b"") -> None:
        self.mode = mode
        self.decimals = decimals
        self.scale = scale
        self._key = hashlib.blake2b(seed, digest_size=32).digest()

    @classmethod
    def of(cls, actions: ShapingActions, ctx: ShapeContext) -> LogprobShaper:
        r = actions.response
        return cls(actions.logprob_mode, r.round_decimals, r.noise_scale, ctx.noise_seed)

    @property
    def rewrites(self) -> bool:
        return self.mode in ("round", "noise")

    def value(self, logprob: float, position: int, token: str) -> float:
        if self.mode == "round":
            return min(round(logprob, self.decimals), 0.0)
        if self.mode == "noise":
            digest = hashlib.blake2b(f"{position}\x1f{token}".encode(), key=self._key, digest_size=16).digest()
            u1 = (int.from_bytes(digest[:8], "little") + 1) / (2**64 + 1)
            u2 = int.from_bytes(digest[8:], "little") / 2**64
            gauss = math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)
            # A logprob is never positive; clamping keeps the body plausible.
            return min(logprob + self.scale * gauss, 0.0)
        return logprob

    def entries(self, entries: Any, start: int) -> int:
        """Chat / Responses token entries ({token, logprob, top_logprobs}) from position ``start``, in
        place; returns the next position."""
        if not isinstance(entries, list):
            return start
        pos = start
        for entry in entries:
            if not isinstance(entry, dict):
                pos += 1
                continue
            self._entry(entry, pos)
            tops = entry.get("top_logprobs")
            if isinstance(tops, list):
                for top in tops:
                    if isinstance(top, dict):
                        self._entry(top, pos)
                if self.mode == "noise":
                    tops.sort(key=lambda t: -t.get("logprob", -math.inf) if isinstance(t, dict) else math.inf)
            pos += 1
        return pos

    def _entry(self, entry: dict[str, Any], pos: int) -> None:
        lp = entry.get("logprob")
        if isinstance(lp, (int, float)) and not isinstance(lp, bool):
            entry["logprob"] = self.value(float(lp), pos, str(entry.get("token", "")))

    def completions(self, logprobs: Any, start: int) -> int:
        """A completions logprobs object ({tokens, token_logprobs, top_logprobs}) in place."""
        if not isinstance(logprobs, dict):
            return start
        tokens = logprobs.get("tokens") if isinstance(logprobs.get("tokens"), list) else []
        values = logprobs.get("token_logprobs")
        if isinstance(values, list):
            for i, lp in enumerate(values):
                if isinstance(lp, (int, float)) and not isinstance(lp, bool):
                    token = str(tokens[i]) if i < len(tokens) else ""
                    values[i] = self.value(float(lp), start + i, token)
        tops = logprobs.get("top_logprobs")
        if isinstance(tops, list):
            for i, top in enumerate(tops):
                if isinstance(top, dict):
                    shaped = {
                        t: self.value(float(v), start + i, t) for t, v in top.items() if isinstance(v, (int, float))
                    }
                    tops[i] = dict(sorted(shaped.items(), key=lambda kv: -kv[1])) if self.mode == "noise" else shaped
        return start + max(len(tokens), len(values) if isinstance(values, list) else 0)


def slice_completions_logprobs(logprobs: dict[str, Any], n: int) -> None:
    for key in ("tokens", "token_logprobs", "top_logprobs", "text_offset"):
        value = logprobs.get(key)
        if isinstance(value, list):
            logprobs[key] = value[:n]


# --------------------------------------------------------------------------------------
# Token budget
# --------------------------------------------------------------------------------------

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
# One piece ~ one token, as proxy/tokens.py estimates: a run of letters, a run of digits,
# one CJK character, one symbol.
_PIECE = re.compile(rf"[{_CJK}]|(?:(?![{_CJK}])[^\W\d_])+|\d+|[^\w\s]|_")
_LETTER = re.compile(rf"(?![{_CJK}])[^\W\d_]")


def _run_class(ch: str) -> int:
    if ch.isdigit():
        return 1
    if _LETTER.match(ch):
        return 2
    return 0


class TokenBudget:
    """Counts the visible completion a choice (or a response) has produced and cuts it at a budget.

    Counting: exact when the upstream sends logprobs (one entry per token), otherwise pieces
    as in proxy/tokens.py. A word split across stream chunks ("hel" + "lo") is one piece, so
    a stream and the same text as one JSON body are cut at the same place. The cut falls
    before the first piece past the budget, which a stream can see the moment it arrives.
    """

    __slots__ = ("_tail", "budget", "counted", "cut", "kept")

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.kept = 0  # tokens kept
        self.counted = 0  # tokens seen, kept or not: with the upstream's usage, calibrates the kept count
        self.cut = False
        self._tail = 0  # run class of the last character seen (a piece may continue)

    def take(self, text: str) -> str:
        """The part of ``text`` within the budget (all of it until the budget runs out)."""
        keep = 0 if self.cut else len(text)
        for m in _PIECE.finditer(text):
            if m.start() == 0 and self._tail and self._tail == _run_class(text[0]):
                continue  # continues the previous chunk's piece
            self.counted += 1
            if self.cut:
                continue
            if self.kept >= self.budget:
                self.cut = True
                keep = m.start()
                continue
            self.kept += 1
        if text:
            self._tail = _run_class(text[-1])
        return text if keep == len(text) else text[:keep]

    def take_tokens(self, tokens: list[str]) -> int:
        """Exact mode: how many of these tokens fit."""
        self.counted += len(tokens)
        if self.cut:
            return 0
        room = max(self.budget - self.kept, 0)
        n = min(room, len(tokens))
        self.kept += n
        if n < len(tokens):
            self.cut = True
        if tokens:
            self._tail = _run_class(tokens[-1][-1:] or " ")
        return n


def token_strings(entries: Any, text: str) -> list[str] | None:
    """The token strings of logprob entries when they spell ``text`` exactly (exact counting)."""
    if not isinstance(entries, list) or not entries:
        return None
    tokens = [e.get("token") if isinstance(e, dict) else None for e in entries]
    if not all(isinstance(t, str) for t in tokens) or "".join(tokens) != text:  # type: ignore[arg-type]
        return None
    return tokens  # type: ignore[return-value]


def fix_usage(usage: Any, counted: int, kept: int) -> None:
    """After truncation: completion = reasoning (unchanged) + the visible tokens kept.

    The kept count is calibrated against the upstream's own count of everything generated
    (kept / counted of it), so the estimate's error cancels; with logprobs it is exact.
    """
    if not isinstance(usage, dict) or counted <= 0:
        return
    if "output_tokens" in usage:
        out_key, in_key, details_key = "output_tokens", "input_tokens", "output_tokens_details"
    elif "completion_tokens" in usage:
        out_key, in_key, details_key = "completion_tokens", "prompt_tokens", "completion_tokens_details"
    else:
        return
    completion = usage.get(out_key)
    if not isinstance(completion, int) or isinstance(completion, bool):
        return
    details = usage.get(details_key)
    reasoning = details.get("reasoning_tokens") if isinstance(details, dict) else None
    reasoning = reasoning if isinstance(reasoning, int) and not isinstance(reasoning, bool) else 0
    visible = max(completion - reasoning, 0)
    new_visible = min(visible, round(visible * min(kept, counted) / counted))
    usage[out_key] = reasoning + new_visible
    prompt = usage.get(in_key)
    if isinstance(prompt, int) and not isinstance(prompt, bool):
        usage["total_tokens"] = prompt + usage[out_key]


# --------------------------------------------------------------------------------------
# Fingerprint
# --------------------------------------------------------------------------------------

Marker = Callable[[], TextMarker]


def marker_factory(actions: ShapingActions, ctx: ShapeContext) -> Marker | None:
    """A maker of per-text markers for this account, or None when no fingerprint applies."""
    if not actions.fingerprint or ctx.fingerprint_key is None or ctx.structured:
        return None
    akey = account_key(ctx.fingerprint_key, ctx.account)
    return lambda: TextMarker(akey)


def mark_text(make: Marker, text: str) -> str:
    marker = make()
    return marker.feed(text) + marker.finish()


# --------------------------------------------------------------------------------------
# /v1/responses output items (the JSON body, and the done/completed events of a stream)
# --------------------------------------------------------------------------------------


@dataclass(slots=True)
class Cut:
    """Where the token budget ran out in a /v1/responses output."""

    item: int  # output index (as the upstream numbered it) of the message that was cut
    part: int  # content index of the output_text part that was cut
    chars: int  # characters of that part's original text kept
    tokens: int | None  # logprob entries kept, when counted exactly


@dataclass(slots=True)
class ItemShaping:
    """How to rewrite /v1/responses output items."""

    remove_reasoning: bool
    logprobs: LogprobShaper
    make_marker: Marker | None
    cut: Cut | None = None


def shape_output_item(item: Any, index: int, how: ItemShaping) -> bool:
    """Rewrite one output item in place; False when it must be dropped."""
    if not isinstance(item, dict):
        return True
    kind = item.get("type")
    cut = how.cut
    if cut is not None and index > cut.item:
        return False  # generated after the budget ran out: a real length stop never produced it
    if kind == "reasoning":
        if how.remove_reasoning:
            return False
        if how.make_marker is not None:
            for key in ("summary", "content"):
                parts = item.get(key)
                if isinstance(parts, list):
                    for part in parts:
                        if isinstance(part, dict) and isinstance(part.get("text"), str):
                            part["text"] = mark_text(how.make_marker, part["text"])
        return True
    if kind != "message":
        return True
    content = item.get("content")
    if not isinstance(content, list):
        return True
    if cut is not None and index == cut.item:
        item["status"] = "incomplete"
        del content[cut.part + 1 :]
    for ci, part in enumerate(content):
        if isinstance(part, dict) and part.get("type") == "output_text":
            shape_text_part(part, index, ci, how)
    return True


def shape_text_part(part: dict[str, Any], index: int, ci: int, how: ItemShaping) -> None:
    """One output_text part (of item ``index``, content index ``ci``) in place."""
    text = part.get("text")
    if not isinstance(text, str):
        return
    cut = how.cut
    if cut is not None and index == cut.item and ci == cut.part:
        text = part["text"] = text[: cut.chars]
        annotations = part.get("annotations")
        if isinstance(annotations, list):
            part["annotations"] = [a for a in annotations if _annotation_within(a, len(text))]
        if cut.tokens is not None and isinstance(part.get("logprobs"), list):
            part["logprobs"] = part["logprobs"][: cut.tokens]
    shape_part_logprobs(part, how.logprobs)
    # Annotations point at character offsets; a watermark would move them, so an annotated
    # part is left unmarked.
    if how.make_marker is not None and not part.get("annotations"):
        part["text"] = mark_text(how.make_marker, text)


def shape_part_logprobs(holder: dict[str, Any], shaper: LogprobShaper) -> None:
    """The ``logprobs`` list of an output_text part or a text event."""
    if "logprobs" not in holder:
        return
    if shaper.mode == "strip":
        holder["logprobs"] = []  # required (a list) on the delta and done events
    elif shaper.rewrites:
        shaper.entries(holder.get("logprobs"), 0)


def _annotation_within(annotation: Any, length: int) -> bool:
    if not isinstance(annotation, dict):
        return True
    for key in ("end_index", "index"):
        value = annotation.get(key)
        if isinstance(value, int) and value > length:
            return False
    return True
