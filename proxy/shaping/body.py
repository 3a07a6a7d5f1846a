"""Response side, JSON bodies: chat completions, completions, /v1/responses.

Order per choice: truncate (on the upstream's text, so the budget counts what the
model produced), drop reasoning, rewrite logprobs, fingerprint what is left. The
body stays a valid instance of the official SDK's models (tests check it with
``model_validate``), and ``usage`` stays truthful after a truncation.
"""

from __future__ import annotations

from typing import Any

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
    slice_completions_logprobs,
    token_strings,
)



def shape_json(body: dict[str, Any], route: str, actions: ShapingActions, ctx: ShapeContext) -> list[str]:
    """Apply a level's response transforms to a parsed JSON body, in place.

    Returns the names of the transforms that changed something (for the audit log).
    """
    if not actions.shapes_response or not isinstance(body, dict) or "error" in body:
        return []
    applied: set[str] = set()
    if route == CHAT:
        _chat(body, actions, ctx, applied)
    elif route == COMPLETIONS:
        _completions(body, actions, ctx, applied)
    elif route == RESPONSES:
        _responses(body, actions, ctx, applied)
    return sorted(applied)


def _chat(body: dict[str, Any], actions: ShapingActions, ctx: ShapeContext, applied: set[str]) -> None:
    r = actions.response
    shaper = LogprobShaper.of(actions, ctx)
    make = marker_factory(actions, ctx)
    counted = kept = 0
    truncated = False
    for choice in body.get("choices") or ():
        if not isinstance(choice, dict) or not isinstance(choice.get("message"), dict):
            continue
        message = choice["message"]
        logprobs = choice.get("logprobs")
        entries = logprobs.get("content") if isinstance(logprobs, dict) else None
        content = message.get("content")
        if r.truncate_tokens is not None and isinstance(content, str):
            budget = TokenBudget(r.truncate_tokens)
            exact = token_strings(entries, content)
            if exact is not None:
                n = budget.take_tokens(exact)
                new = "".join(exact[:n])
            else:
                new = budget.take(content)
            counted += budget.counted
            kept += budget.kept
            if budget.cut:
                truncated = True
                message["content"] = new
                if isinstance(entries, list):
                    logprobs["content"] = entries[: budget.kept] if exact is not None else entries  # type: ignore[index]
                choice["finish_reason"] = "length"
                # A real length stop ends the message: no tool call after the text.
                message.pop("tool_calls", None)
                message.pop("function_call", None)
        if r.remove_reasoning:
            for key in REASONING_FIELDS:
                if message.pop(key, None) is not None:
                    applied.add(REMOVE_REASONING)
        if isinstance(logprobs, dict):
            if shaper.mode == "strip":
                choice["logprobs"] = None
                applied.add(STRIP_LOGPROBS)
            elif shaper.rewrites:
                shaper.entries(logprobs.get("content"), 0)
                shaper.entries(logprobs.get("refusal"), 0)
                applied.add(LOGPROB_ACTIONS[shaper.mode])
        if make is not None:
            for key in ("content", *REASONING_TEXT_FIELDS):
                if isinstance(message.get(key), str) and message[key]:
                    message[key] = mark_text(make, message[key])
                    applied.add(FINGERPRINT)
    if truncated:
        fix_usage(body.get("usage"), counted, kept)
        applied.add(TRUNCATE)


def _completions(body: dict[str, Any], actions: ShapingActions, ctx: ShapeContext, applied: set[str]) -> None:
    r = actions.response
    shaper = LogprobShaper.of(actions, ctx)
    make = marker_factory(actions, ctx)
    counted = kept = 0
    truncated = False
    for choice in body.get("choices") or ():
        if not isinstance(choice, dict) or not isinstance(choice.get("text"), str):
            continue
        logprobs = choice.get("logprobs")
        if r.truncate_tokens is not None:
            budget = TokenBudget(r.truncate_tokens)
            tokens = logprobs.get("tokens") if isinstance(logprobs, dict) else None
            exact = tokens if isinstance(tokens, list) and all(isinstance(t, str) for t in tokens) else None
            if exact is not None and "".join(exact) == choice["text"]:
                n = budget.take_tokens(exact)
                new = "".join(exact[:n])
            else:
                exact = None
                new = budget.take(choice["text"])
            counted += budget.counted
            kept += budget.kept
            if budget.cut:
                truncated = True
                choice["text"] = new
                choice["finish_reason"] = "length"
                if exact is not None and isinstance(logprobs, dict):
                    slice_completions_logprobs(logprobs, budget.kept)
        if isinstance(logprobs, dict):
            if shaper.mode == "strip":
                choice["logprobs"] = None
                applied.add(STRIP_LOGPROBS)
            elif shaper.rewrites:
                shaper.completions(logprobs, 0)
                applied.add(LOGPROB_ACTIONS[shaper.mode])
        if make is not None and choice["text"]:
            choice["text"] = mark_text(make, choice["text"])
            applied.add(FINGERPRINT)
    if truncated:
        fix_usage(body.get("usage"), counted, kept)
        applied.add(TRUNCATE)


def plan_responses_cut(output: list[Any], budget_tokens: int) -> tuple[Cut | None, TokenBudget]:
    """Where a /v1/responses output runs out of the token budget (output_text parts, in order)."""
    budget = TokenBudget(budget_tokens)
    cut: Cut | None = None
    for oi, item in enumerate(output):
        if not isinstance(item, dict) or item.get("type") != "message" or not isinstance(item.get("content"), list):
            continue
        for ci, part in enumerate(item["content"]):
            if not isinstance(part, dict) or part.get("type") != "output_text" or not isinstance(part.get("text"), str):
                continue
            text = part["text"]
            was_cut = budget.cut
            exact = token_strings(part.get("logprobs"), text)
            if exact is not None:
                n = budget.take_tokens(exact)
                kept_chars, kept_tokens = len("".join(exact[:n])), n
            else:
                kept_chars, kept_tokens = len(budget.take(text)), None
            if budget.cut and not was_cut:
                cut = Cut(oi, ci, kept_chars, kept_tokens)
    return cut, budget


def _responses(body: dict[str, Any], actions: ShapingActions, ctx: ShapeContext, applied: set[str]) -> None:
    r = actions.response
    output = body.get("output")
    if not isinstance(output, list):
        return
    shaper = LogprobShaper.of(actions, ctx)
    cut: Cut | None = None
    if r.truncate_tokens is not None:
        cut, budget = plan_responses_cut(output, r.truncate_tokens)
        if cut is not None:
            applied.add(TRUNCATE)
            fix_usage(body.get("usage"), budget.counted, budget.kept)
            body["status"] = "incomplete"
            body["incomplete_details"] = {"reason": "max_output_tokens"}
    how = ItemShaping(r.remove_reasoning, shaper, marker_factory(actions, ctx), cut)
    kept_items = []
    for index, item in enumerate(output):
        if isinstance(item, dict) and item.get("type") == "reasoning" and r.remove_reasoning:
            applied.add(REMOVE_REASONING)
        if shape_output_item(item, index, how):
            kept_items.append(item)
    body["output"] = kept_items
    has_text = any(isinstance(i, dict) and i.get("type") == "message" and i.get("content") for i in kept_items)
    if shaper.mode != "keep" and has_text and _has_logprobs(kept_items):
        applied.add(LOGPROB_ACTIONS[shaper.mode])
    if how.make_marker is not None and has_text:
        applied.add(FINGERPRINT)


def _has_logprobs(items: list[Any]) -> bool:
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("content"), list):
            for part in item["content"]:
                if isinstance(part, dict) and "logprobs" in part:
                    return True
    return False
