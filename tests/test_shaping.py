"""Query shaping, pure: request hardening and clamps, JSON and SSE response transforms, fingerprint.

Every shaped body and every shaped stream event is checked against the official
``openai`` SDK's models, and the streams are also folded by the SDK's own stream
accumulators (what ``client.chat.completions.stream()`` / ``client.responses.stream()``
run), so a shaped answer is one a real client accepts.
"""

from __future__ import annotations

import copy
import random
import re
from collections.abc import Iterable
import logging
from typing import Any

import pytest
from openai import LengthFinishReasonError
from openai._types import omit
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.lib.streaming.responses import ResponseStreamState
from openai.types import Completion
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from proxy.audit import DecisionLog
from proxy.errors import RequestError
from proxy.policy import ALLOW, Decision
from proxy.request import CHAT, COMPLETIONS, RESPONSES, features_of
from proxy.shaping import (
    Hardening,
    RequestClamps,
    ResponseTransforms,
    ShapeContext,
    ShapingActions,
    StreamShaper,
    TextMarker,
    attribute,
    check_request,
    encode_event,
    fingerprint_text,
    neutralise_sweep,
    noise_seed,
    scan,
    shape_json,
    shape_request,
    strip_ratelimit_headers,
    structured_output,
    sweep_action,
    verify,
    wants_logprobs,
)
from proxy.shaping.common import TokenBudget
from proxy.shaping.fingerprint import account_key

KEY = b"test-fingerprint-secret"
EVENTS = TypeAdapter(ResponseStreamEvent)

TEXT = (
    "I don't think the whole approach is wrong. For example, we can use a simple cache in front of the "
    "database, and it is important to measure first. However, the results are often surprising: the main "
    "cost isn't where you'd expect it. In practice, you will usually find that two or three queries "
    "dominate. Note that the data set is small — it fits in memory. Additionally, the color scheme doesn't "
    "matter here. That's why we should start toward a better design, e.g. a cache that is checked first."
)
REASONING = "The user asks about caching. It is important to measure first, so I will suggest that, then a cache."


def toks(text: str) -> list[str]:
    """BPE-like tokens: each word with its leading space."""
    return re.findall(r"\s*\S+", text)


def lp_entry(token: str, i: int, *, with_bytes: bool = True) -> dict[str, Any]:
    lp = -0.013 - 0.137 * (i % 7)
    entry: dict[str, Any] = {"token": token, "logprob": lp}
    alt = {"token": " alt", "logprob": -3.21}
    if with_bytes:
        entry["bytes"] = list(token.encode())
        alt["bytes"] = list(b" alt")
    top = {k: v for k, v in entry.items()}
    entry["top_logprobs"] = [top, alt]
    return entry


def ctx(account: str = "acct-7", **kw: Any) -> ShapeContext:
    return ShapeContext(account=account, noise_seed=b"seed-1", fingerprint_key=KEY, **kw)


def act(**response: Any) -> ShapingActions:
    fingerprint = response.pop("fingerprint", False)
    return ShapingActions(response=ResponseTransforms(**response), fingerprint=fingerprint)


# --------------------------------------------------------------------------------------
# Upstream answers (valid for the SDK before shaping: asserted in the builders)
# --------------------------------------------------------------------------------------


def chat_usage(n: int, text: str, reasoning: str | None) -> dict[str, Any]:
    r = len(toks(reasoning)) * n if reasoning else 0
    c = len(toks(text)) * n + r
    return {
        "prompt_tokens": 21,
        "completion_tokens": c,
        "total_tokens": 21 + c,
        "completion_tokens_details": {"reasoning_tokens": r},
    }


def chat_body(text: str = TEXT, reasoning: str | None = REASONING, logprobs: bool = True, n: int = 1) -> dict[str, Any]:
    choices = []
    for i in range(n):
        message: dict[str, Any] = {"role": "assistant", "content": text, "refusal": None}
        if reasoning:
            message["reasoning_content"] = reasoning
        choices.append(
            {
                "index": i,
                "message": message,
                "logprobs": {"content": [lp_entry(t, j) for j, t in enumerate(toks(text))], "refusal": None}
                if logprobs
                else None,
                "finish_reason": "stop",
            }
        )
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "m",
        "choices": choices,
        "usage": chat_usage(n, text, reasoning),
    }
    ChatCompletion.model_validate(body)
    return body


def chat_chunks(
    text: str = TEXT, reasoning: str | None = REASONING, logprobs: bool = True, n: int = 1
) -> list[dict[str, Any]]:
    env = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1700000000, "model": "m"}
    out: list[dict[str, Any]] = []
    for c in range(n):
        out.append(
            {**env, "choices": [{"index": c, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]}
        )
        for t in toks(reasoning or ""):
            out.append({**env, "choices": [{"index": c, "delta": {"reasoning_content": t}, "finish_reason": None}]})
        for j, t in enumerate(toks(text)):
            choice: dict[str, Any] = {"index": c, "delta": {"content": t}, "finish_reason": None}
            if logprobs:
                choice["logprobs"] = {"content": [lp_entry(t, j)], "refusal": None}
            out.append({**env, "choices": [choice]})
        out.append({**env, "choices": [{"index": c, "delta": {}, "finish_reason": "stop"}]})
    out.append({**env, "choices": [], "usage": chat_usage(n, text, reasoning)})
    for chunk in out:
        ChatCompletionChunk.model_validate(chunk)
    return out


def completions_logprobs(text: str) -> dict[str, Any]:
    ts = toks(text)
    offsets, at = [], 0
    for t in ts:
        offsets.append(at)
        at += len(t)
    return {
        "tokens": ts,
        "token_logprobs": [lp_entry(t, j)["logprob"] for j, t in enumerate(ts)],
        "top_logprobs": [{t: lp_entry(t, j)["logprob"], " alt": -3.21} for j, t in enumerate(ts)],
        "text_offset": offsets,
    }


def completions_body(text: str = TEXT, logprobs: bool = True) -> dict[str, Any]:
    body = {
        "id": "cmpl-1",
        "object": "text_completion",
        "created": 1700000000,
        "model": "m",
        "choices": [
            {
                "index": 0,
                "text": text,
                "logprobs": completions_logprobs(text) if logprobs else None,
                "finish_reason": "stop",
            }
        ],
        "usage": chat_usage(1, text, None),
    }
    Completion.model_validate(body)
    return body


def validate_completions_chunk(chunk: dict[str, Any]) -> None:
    # The SDK types a streamed completions chunk with the non-stream Completion model and builds
    # it without validation; mid-stream OpenAI sends finish_reason null, which that model's
    # Literal does not admit. Everything else is checked.
    probe = copy.deepcopy(chunk)
    for choice in probe["choices"]:
        choice["finish_reason"] = choice["finish_reason"] or "stop"
    Completion.model_validate(probe)


def completions_chunks(text: str = TEXT, logprobs: bool = True) -> list[dict[str, Any]]:
    env = {"id": "cmpl-1", "object": "text_completion", "created": 1700000000, "model": "m"}
    out = []
    for j, t in enumerate(toks(text)):
        lp = None
        if logprobs:
            lp = {
                "tokens": [t],
                "token_logprobs": [lp_entry(t, j)["logprob"]],
                "top_logprobs": [{t: -0.1, " alt": -3.21}],
            }
        out.append({**env, "choices": [{"index": 0, "text": t, "logprobs": lp, "finish_reason": None}]})
    out.append({**env, "choices": [{"index": 0, "text": "", "logprobs": None, "finish_reason": "stop"}]})
    out.append({**env, "choices": [], "usage": chat_usage(1, text, None)})
    for chunk in out:
        validate_completions_chunk(chunk)
    return out


def responses_usage(text: str, reasoning: str) -> dict[str, Any]:
    r, t = len(toks(reasoning)), len(toks(text))
    return {
        "input_tokens": 21,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": r + t,
        "output_tokens_details": {"reasoning_tokens": r},
        "total_tokens": 21 + r + t,
    }


def reasoning_item(reasoning: str) -> dict[str, Any]:
    return {
        "id": "rs_1",
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": reasoning}],
        "status": "completed",
    }


def message_item(text: str, logprobs: bool, status: str = "completed", mid: str = "msg_1") -> dict[str, Any]:
    part = {
        "type": "output_text",
        "text": text,
        "annotations": [],
        "logprobs": [lp_entry(t, j) for j, t in enumerate(toks(text))] if logprobs else [],
    }
    return {"id": mid, "type": "message", "role": "assistant", "status": status, "content": [part]}


def response_envelope(output: list[Any], status: str, usage: dict[str, Any] | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "resp_1",
        "object": "response",
        "created_at": 1700000000,
        "model": "m",
        "status": status,
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
    }
    if usage is not None:
        body["usage"] = usage
    return body


def responses_body(
    text: str = TEXT, reasoning: str = REASONING, logprobs: bool = True, tail: str | None = None
) -> dict[str, Any]:
    output = [reasoning_item(reasoning), message_item(text, logprobs)]
    if tail is not None:
        output.append(message_item(tail, logprobs, mid="msg_2"))
    body = response_envelope(output, "completed", responses_usage(text + " " + (tail or ""), reasoning))
    Response.model_validate(body)
    return body


def responses_events(text: str = TEXT, reasoning: str = REASONING, logprobs: bool = True) -> list[dict[str, Any]]:
    seq = iter(range(10_000))
    ev: list[dict[str, Any]] = []

    def add(kind: str, **fields: Any) -> None:
        ev.append({"type": kind, "sequence_number": next(seq), **fields})

    add("response.created", response=response_envelope([], "in_progress", None))
    add("response.in_progress", response=response_envelope([], "in_progress", None))
    add("response.output_item.added", output_index=0, item={"id": "rs_1", "type": "reasoning", "summary": []})
    part0 = {"type": "summary_text", "text": ""}
    add("response.reasoning_summary_part.added", item_id="rs_1", output_index=0, summary_index=0, part=part0)
    for t in toks(reasoning):
        add("response.reasoning_summary_text.delta", item_id="rs_1", output_index=0, summary_index=0, delta=t)
    add("response.reasoning_summary_text.done", item_id="rs_1", output_index=0, summary_index=0, text=reasoning)
    add(
        "response.reasoning_summary_part.done", item_id="rs_1", output_index=0, summary_index=0,
        part={"type": "summary_text", "text": reasoning},
    )  # fmt: skip
    add("response.output_item.done", output_index=0, item=reasoning_item(reasoning))
    add(
        "response.output_item.added", output_index=1,
        item={"id": "msg_1", "type": "message", "role": "assistant", "status": "in_progress", "content": []},
    )  # fmt: skip
    empty = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
    add("response.content_part.added", item_id="msg_1", output_index=1, content_index=0, part=empty)
    for j, t in enumerate(toks(text)):
        lps = [lp_entry(t, j, with_bytes=False)] if logprobs else []
        add("response.output_text.delta", item_id="msg_1", output_index=1, content_index=0, delta=t, logprobs=lps)
    full = message_item(text, logprobs)["content"][0]
    done_lps = [lp_entry(t, j, with_bytes=False) for j, t in enumerate(toks(text))] if logprobs else []
    add("response.output_text.done", item_id="msg_1", output_index=1, content_index=0, text=text, logprobs=done_lps)
    add("response.content_part.done", item_id="msg_1", output_index=1, content_index=0, part=full)
    add("response.output_item.done", output_index=1, item=message_item(text, logprobs))
    body = responses_body(text, reasoning, logprobs)
    add("response.completed", response=body)
    for e in ev:
        EVENTS.validate_python(e)
    return ev


# --------------------------------------------------------------------------------------
# Running streams through the shaper and the SDK
# --------------------------------------------------------------------------------------


def run_stream(
    route: str, events: Iterable[dict[str, Any]], actions: ShapingActions, c: ShapeContext
) -> list[dict[str, Any]]:
    shaper = StreamShaper(route, actions, c)
    out: list[dict[str, Any]] = []
    for e in events:
        out.extend(shaper.feed_event(copy.deepcopy(e)))
    out.extend(shaper.finish())
    for e in out:
        encode_event(e, route)  # serialisable
        if route == CHAT:
            ChatCompletionChunk.model_validate(e)
        elif route == COMPLETIONS:
            validate_completions_chunk(e)
        else:
            EVENTS.validate_python(e)
    return out


def fold_chat(chunks: list[dict[str, Any]]) -> tuple[dict[int, str], dict[int, str], dict[int, str | None], Any]:
    """(content, reasoning, finish_reason) per choice, and the usage, as a client sees them;
    also folded by the SDK's own accumulator, which must not raise."""
    state: ChatCompletionStreamState[Any] = ChatCompletionStreamState()
    content: dict[int, str] = {}
    reasoning: dict[int, str] = {}
    finish: dict[int, str | None] = {}
    usage = None
    for chunk in chunks:
        state.handle_chunk(ChatCompletionChunk.model_validate(chunk))
        for c in chunk["choices"]:
            d = c["delta"]
            content[c["index"]] = content.get(c["index"], "") + (d.get("content") or "")
            reasoning[c["index"]] = reasoning.get(c["index"], "") + (d.get("reasoning_content") or "")
            if c.get("finish_reason"):
                finish[c["index"]] = c["finish_reason"]
        usage = chunk.get("usage") or usage
    try:
        final: Any = state.get_final_completion()
    except LengthFinishReasonError as exc:
        # The SDK's stream helper refuses to parse a length-stopped answer, as it does for a
        # genuine max_tokens stop; the accumulated completion is on the exception.
        assert "length" in finish.values()
        final = exc.completion
    assert final.choices[0].message.content == content[0]
    return content, reasoning, finish, usage


def fold_responses(events: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    """Accumulated output text and the final (completed/incomplete) response, via the SDK's state too."""
    state: ResponseStreamState[Any] = ResponseStreamState(input_tools=omit, text_format=omit)
    text = ""
    final: dict[str, Any] = {}
    seqs = []
    for e in events:
        state.handle_event(EVENTS.validate_python(e))
        seqs.append(e["sequence_number"])
        if e["type"] == "response.output_text.delta":
            text += e["delta"]
        if e["type"] in ("response.completed", "response.incomplete"):
            final = e["response"]
    assert seqs == list(range(len(seqs))), "sequence numbers stay dense"
    return text, final


def shaped(
    body: dict[str, Any], route: str, actions: ShapingActions, c: ShapeContext
) -> tuple[dict[str, Any], list[str]]:
    body = copy.deepcopy(body)
    applied = shape_json(body, route, actions, c)
    {CHAT: ChatCompletion, COMPLETIONS: Completion, RESPONSES: Response}[route].model_validate(body)
    return body, applied


# --------------------------------------------------------------------------------------
# Request side
# --------------------------------------------------------------------------------------

CLASSIFIER = {
    "model": "m",
    "messages": [{"role": "user", "content": "Review: great phone, battery lasts days. Sentiment:"}],
    "logit_bias": {"31587": 100, "43324": 100, "60935": 100},
    "logprobs": True,
    "top_logprobs": 5,
    "max_tokens": 1,
}
EVAL_HARNESS = {
    "model": "m",
    "messages": [{"role": "user", "content": "Q: 2+2? A) 3 B) 4 C) 5. Answer:"}],
    "logprobs": True,
    "top_logprobs": 20,
    "max_tokens": 1,
}


def test_hardening_defaults_keep_the_classifier_and_the_eval_harness() -> None:
    h = Hardening()
    for body in (CLASSIFIER, EVAL_HARNESS):
        f = features_of(CHAT, copy.deepcopy(body))
        assert check_request(f, h) is None
    # A classifier's bias set never changes: one distinct set over a full ring of requests.
    f = features_of(CHAT, copy.deepcopy(CLASSIFIER))
    body = copy.deepcopy(CLASSIFIER)
    assert neutralise_sweep(body, f, biased=64, distinct_bias=1, hardening=h) == []
    assert body == CLASSIFIER
    # Nor does a classifier serving a few tasks, one label set each.
    assert sweep_action(biased=40, distinct_bias=4, has_bias=True, logprobs=True, hardening=h) is None
    # The eval harness sends no bias at all.
    f = features_of(CHAT, copy.deepcopy(EVAL_HARNESS))
    assert neutralise_sweep(copy.deepcopy(EVAL_HARNESS), f, biased=0, distinct_bias=0, hardening=h) == []


@pytest.mark.parametrize(
    ("route", "body", "hardening", "param", "fragment"),
    [
        (CHAT, {**EVAL_HARNESS, "top_logprobs": 10}, Hardening(max_top_logprobs=5), "top_logprobs", "<= 5, but got 10"),
        (COMPLETIONS, {"model": "m", "prompt": "x", "logprobs": 5}, Hardening(max_top_logprobs=2), "logprobs", "<= 2"),
        (CHAT, {**EVAL_HARNESS, "n": 17}, Hardening(), "n", "<= 16, but got 17"),
        (
            CHAT, {**CLASSIFIER, "logit_bias": {str(i): 1 for i in range(301)}}, Hardening(), "logit_bias",
            "at most 300 entries, but got 301",
        ),
        (CHAT, {**CLASSIFIER, "logit_bias": {"5": 100}}, Hardening(max_logit_bias=20), "logit_bias", "between -20 and 20"),
    ],
)  # fmt: skip
def test_hardening_refuses_out_of_bounds_in_openai_error_shape(
    route: str, body: dict[str, Any], hardening: Hardening, param: str, fragment: str
) -> None:
    refusal = check_request(features_of(route, copy.deepcopy(body)), hardening)
    assert refusal is not None
    assert (refusal.status, refusal.code, refusal.param) == (400, "invalid_value", param)
    assert fragment in refusal.message and refusal.message.startswith(f"Invalid '{param}'")
    err = refusal.body()["error"]
    assert set(err) == {"message", "type", "param", "code"} and err["type"] == "invalid_request_error"
    exc = refusal.error()
    assert isinstance(exc, RequestError) and (exc.status, exc.param) == (400, param)


def test_logit_bias_sweep_is_neutralised() -> None:
    sweep = {**CLASSIFIER, "logit_bias": {"1001": 100, "1002": 100}}
    f = features_of(CHAT, copy.deepcopy(sweep))
    # The token set changes with every request: 20 distinct sets in 20 biased requests.
    body = copy.deepcopy(sweep)
    assert neutralise_sweep(body, f, 20, 20, Hardening()) == ["sweep_drop_logit_bias"]
    assert "logit_bias" not in body and body["logprobs"] is True
    body = copy.deepcopy(sweep)
    assert neutralise_sweep(body, f, 20, 20, Hardening(sweep_drop="logprobs")) == ["sweep_drop_logprobs"]
    assert "logprobs" not in body and "top_logprobs" not in body and body["logit_bias"]
    # Too early to tell (the attack needs thousands of queries), or no logprobs to read: left alone.
    assert sweep_action(5, 5, True, True, Hardening()) is None
    assert sweep_action(20, 20, True, False, Hardening()) is None
    assert sweep_action(20, 20, True, True, Hardening(neutralise_sweeps=False)) is None


def test_a_neutralised_sweep_on_an_allowed_request_is_audited(caplog: pytest.LogCaptureFixture) -> None:
    log = DecisionLog()
    with caplog.at_level(logging.INFO, logger="sluice.audit"):
        log.note("acct", "r1", 1.0, Decision(ALLOW, "none", 0.1))  # a plain allow: no line
        log.note("acct", "r2", 2.0, Decision(ALLOW, "none", 0.1), ["sweep_drop_logit_bias"])
    lines = [r for r in caplog.records if r.name == "sluice.audit"]
    assert len(lines) == 1 and lines[0].request_id == "r2" and lines[0].actions == ["sweep_drop_logit_bias"]
    assert lines[0].action == ALLOW


def test_responses_include_form_asks_for_logprobs() -> None:
    """/v1/responses asks for logprobs with an ``include`` entry, top_logprobs optional."""
    body = {"model": "m", "input": "hi", "include": ["message.output_text.logprobs"]}
    f = features_of(RESPONSES, body)
    assert wants_logprobs(f, body) and not wants_logprobs(f)  # the features alone do not carry it
    assert not wants_logprobs(features_of(RESPONSES, {"model": "m", "input": "hi"}), {"model": "m", "input": "hi"})


def test_level_request_clamps() -> None:
    body = {**EVAL_HARNESS, "n": 5, "max_tokens": 4000, "logit_bias": {"1": 5}, "temperature": 0.2}
    f = features_of(CHAT, copy.deepcopy(body))
    clamps = RequestClamps(max_n=2, max_tokens=512, max_top_logprobs=3, drop_logit_bias=True, temperature_floor=0.7)
    applied = shape_request(body, f, ShapingActions(request=clamps))
    assert applied == ["clamp_n", "clamp_max_tokens", "clamp_top_logprobs", "drop_logit_bias", "temperature_floor"]
    assert (body["n"], body["max_tokens"], body["top_logprobs"], body["temperature"]) == (2, 512, 3, 0.7)
    assert "logit_bias" not in body
    assert f.n == 5, "features keep what the client asked (detection scores the ask)"
    # Nothing to clamp: nothing reported; an absent max_tokens is set with the route's field.
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "temperature": 0.9}
    applied = shape_request(body, features_of(CHAT, body), ShapingActions(request=clamps))
    assert applied == ["clamp_max_tokens"] and body["max_completion_tokens"] == 512
    body = {"model": "m", "input": "hi"}
    assert shape_request(body, features_of(RESPONSES, body), ShapingActions(request=clamps)) == ["clamp_max_tokens"]
    assert body["max_output_tokens"] == 512
    # An absent temperature means 1.0: raised only by a floor above it.
    body = {"model": "m", "prompt": "hi"}
    assert (
        shape_request(
            body, features_of(COMPLETIONS, body), ShapingActions(request=RequestClamps(temperature_floor=0.7))
        )
        == []
    )
    assert shape_request(
        body, features_of(COMPLETIONS, body), ShapingActions(request=RequestClamps(temperature_floor=1.2))
    ) == ["temperature_floor"]
    # drop_logprobs on each route.
    drop = ShapingActions(request=RequestClamps(drop_logprobs=True))
    body = copy.deepcopy(EVAL_HARNESS)
    assert shape_request(body, features_of(CHAT, body), drop) == ["drop_logprobs"]
    assert "logprobs" not in body and "top_logprobs" not in body
    body = {
        "model": "m",
        "input": "hi",
        "top_logprobs": 5,
        "include": ["message.output_text.logprobs", "reasoning.encrypted_content"],
    }
    assert shape_request(body, features_of(RESPONSES, body), drop) == ["drop_logprobs"]
    assert body["include"] == ["reasoning.encrypted_content"] and "top_logprobs" not in body
    body = {"model": "m", "prompt": "hi", "logprobs": 5}
    assert shape_request(body, features_of(COMPLETIONS, body), drop) == ["drop_logprobs"] and "logprobs" not in body


def test_hide_ratelimit_headers_and_helpers() -> None:
    headers = {
        "x-ratelimit-remaining-requests": "9",
        "X-RateLimit-Limit-Tokens": "100",
        "content-type": "application/json",
    }
    assert strip_ratelimit_headers(headers) == {"content-type": "application/json"}
    assert structured_output({"response_format": {"type": "json_schema", "json_schema": {}}})
    assert structured_output({"text": {"format": {"type": "json_object"}}})
    assert not structured_output({"response_format": {"type": "text"}})
    f1 = features_of(CHAT, copy.deepcopy(EVAL_HARNESS))
    f2 = features_of(CHAT, {**EVAL_HARNESS, "messages": [{"role": "user", "content": "other"}]})
    assert noise_seed(KEY, "a", f1) == noise_seed(KEY, "a", features_of(CHAT, copy.deepcopy(EVAL_HARNESS)))
    assert noise_seed(KEY, "a", f1) != noise_seed(KEY, "a", f2) != noise_seed(KEY, "b", f2)


# --------------------------------------------------------------------------------------
# Response side: logprobs
# --------------------------------------------------------------------------------------


def _chat_lps(body: dict[str, Any]) -> list[float]:
    return [e["logprob"] for e in body["choices"][0]["logprobs"]["content"]]


def test_logprobs_strip_round_noise_json() -> None:
    c = ctx()
    body, applied = shaped(chat_body(), CHAT, act(logprobs="strip"), c)
    assert body["choices"][0]["logprobs"] is None and applied == ["strip_logprobs"]
    body, applied = shaped(chat_body(), CHAT, act(logprobs="round", round_decimals=1), c)
    assert applied == ["round_logprobs"] and all(v == round(v, 1) and v <= 0 for v in _chat_lps(body))
    original = _chat_lps(chat_body())
    body, applied = shaped(chat_body(), CHAT, act(logprobs="noise", noise_scale=0.5), c)
    noisy = _chat_lps(body)
    assert applied == ["noise_logprobs"] and noisy != original and all(v <= 0 for v in noisy)
    assert noisy == _chat_lps(shaped(chat_body(), CHAT, act(logprobs="noise"), c)[0]), "deterministic per seed"
    other = ShapeContext(account="acct-7", noise_seed=b"seed-2")
    assert noisy != _chat_lps(shaped(chat_body(), CHAT, act(logprobs="noise"), other)[0])
    for entry in body["choices"][0]["logprobs"]["content"]:
        # The sampled token's value equals its value among the alternatives, which stay sorted.
        same = [t["logprob"] for t in entry["top_logprobs"] if t["token"] == entry["token"]]
        assert same == [entry["logprob"]]
        values = [t["logprob"] for t in entry["top_logprobs"]]
        assert values == sorted(values, reverse=True)
    # Completions and Responses shapes.
    body, applied = shaped(completions_body(), COMPLETIONS, act(logprobs="round"), c)
    lp = body["choices"][0]["logprobs"]
    assert applied == ["round_logprobs"] and all(v == round(v, 1) for v in lp["token_logprobs"])
    assert all(v == round(v, 1) for top in lp["top_logprobs"] for v in top.values())
    body, _ = shaped(completions_body(), COMPLETIONS, act(logprobs="strip"), c)
    assert body["choices"][0]["logprobs"] is None
    body, applied = shaped(responses_body(), RESPONSES, act(logprobs="strip"), c)
    assert body["output"][1]["content"][0]["logprobs"] == [] and applied == ["strip_logprobs"]
    body, applied = shaped(responses_body(), RESPONSES, act(logprobs="noise"), c)
    assert applied == ["noise_logprobs"]
    assert [e["logprob"] for e in body["output"][1]["content"][0]["logprobs"]] != [
        e["logprob"] for e in responses_body()["output"][1]["content"][0]["logprobs"]
    ]


@pytest.mark.parametrize("mode", ["strip", "round", "noise"])
def test_logprobs_in_streams_match_json(mode: str) -> None:
    c = ctx()
    actions = act(logprobs=mode)
    chunks = run_stream(CHAT, chat_chunks(), actions, c)
    streamed = [
        e["logprob"] for ch in chunks for cc in ch["choices"] for e in ((cc.get("logprobs") or {}).get("content") or [])
    ]
    body, _ = shaped(chat_body(), CHAT, actions, c)
    assert streamed == ([] if mode == "strip" else _chat_lps(body))
    chunks = run_stream(COMPLETIONS, completions_chunks(), actions, c)
    streamed = [
        v for ch in chunks for cc in ch["choices"] for v in ((cc.get("logprobs") or {}).get("token_logprobs") or [])
    ]
    body, _ = shaped(completions_body(), COMPLETIONS, actions, c)
    assert streamed == ([] if mode == "strip" else body["choices"][0]["logprobs"]["token_logprobs"])
    events = run_stream(RESPONSES, responses_events(), actions, c)
    deltas = [e["logprob"] for ev in events if ev["type"] == "response.output_text.delta" for e in ev["logprobs"]]
    body, _ = shaped(responses_body(), RESPONSES, actions, c)
    assert deltas == [e["logprob"] for e in body["output"][1]["content"][0]["logprobs"]]
    done = next(ev for ev in events if ev["type"] == "response.output_text.done")
    assert [e["logprob"] for e in done["logprobs"]] == deltas
    fold_responses(events)


# --------------------------------------------------------------------------------------
# Response side: reasoning
# --------------------------------------------------------------------------------------


def test_remove_reasoning_json_and_streams() -> None:
    c = ctx()
    actions = act(remove_reasoning=True)
    body, applied = shaped(chat_body(), CHAT, actions, c)
    assert "reasoning_content" not in body["choices"][0]["message"] and applied == ["remove_reasoning"]
    body = chat_body()
    body["choices"][0]["message"]["reasoning"] = "other servers' field"
    body, _ = shaped(body, CHAT, actions, c)
    assert "reasoning" not in body["choices"][0]["message"]
    body, applied = shaped(responses_body(), RESPONSES, actions, c)
    assert [i["type"] for i in body["output"]] == ["message"] and applied == ["remove_reasoning"]
    assert body["usage"]["output_tokens_details"]["reasoning_tokens"] == len(toks(REASONING)), "usage stays truthful"

    content, reasoning, finish, usage = fold_chat(run_stream(CHAT, chat_chunks(), actions, c))
    assert content[0] == TEXT and reasoning[0] == "" and finish[0] == "stop"
    assert usage == chat_usage(1, TEXT, REASONING)

    events = run_stream(RESPONSES, responses_events(), actions, c)
    assert not any("reasoning" in e["type"] for e in events)
    assert all(e["output_index"] == 0 for e in events if "output_index" in e), "indices renumbered"
    text, final = fold_responses(events)
    assert text == TEXT and [i["type"] for i in final["output"]] == ["message"]


# --------------------------------------------------------------------------------------
# Response side: truncation
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("logprobs", [True, False])
def test_truncate_chat_json_and_stream_agree_and_usage_is_truthful(logprobs: bool) -> None:
    c = ctx()
    budget = 20
    actions = act(truncate_tokens=budget)
    body, applied = shaped(chat_body(logprobs=logprobs), CHAT, actions, c)
    choice = body["choices"][0]
    assert applied == ["truncate"] and choice["finish_reason"] == "length"
    assert TEXT.startswith(choice["message"]["content"]) and len(choice["message"]["content"]) < len(TEXT)
    reasoning_tokens = len(toks(REASONING))
    usage = body["usage"]
    if logprobs:
        # Exact: one logprob entry per token.
        assert choice["message"]["content"] == "".join(toks(TEXT)[:budget])
        assert len(choice["logprobs"]["content"]) == budget
        assert usage["completion_tokens"] == reasoning_tokens + budget
    else:
        # Without logprobs the cut is estimated (pieces), and the kept count is calibrated against
        # the upstream's count: here within a token of the kept text's size in the upstream's unit.
        kept = usage["completion_tokens"] - reasoning_tokens
        assert abs(kept - len(toks(choice["message"]["content"]))) <= 1
    assert usage["completion_tokens_details"]["reasoning_tokens"] == reasoning_tokens
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]

    content, reasoning, finish, stream_usage = fold_chat(run_stream(CHAT, chat_chunks(logprobs=logprobs), actions, c))
    assert content[0] == choice["message"]["content"] and finish[0] == "length"
    assert reasoning[0] == REASONING
    assert stream_usage == usage


def test_truncate_drops_tool_calls_and_works_per_choice() -> None:
    body = chat_body(logprobs=False, n=2)
    body["choices"][1]["message"]["tool_calls"] = [
        {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    ]
    body, _ = shaped(body, CHAT, act(truncate_tokens=10), ctx())
    for choice in body["choices"]:
        assert choice["finish_reason"] == "length" and "tool_calls" not in choice["message"]
    content, _, finish, _ = fold_chat(
        run_stream(CHAT, chat_chunks(logprobs=False, n=2), act(truncate_tokens=10), ctx())
    )
    assert content[0] == content[1] == body["choices"][0]["message"]["content"]
    assert finish == {0: "length", 1: "length"}


def test_truncate_completions() -> None:
    actions = act(truncate_tokens=15)
    body, _ = shaped(completions_body(), COMPLETIONS, actions, ctx())
    choice = body["choices"][0]
    assert choice["text"] == "".join(toks(TEXT)[:15]) and choice["finish_reason"] == "length"
    assert len(choice["logprobs"]["tokens"]) == len(choice["logprobs"]["text_offset"]) == 15
    assert body["usage"]["completion_tokens"] == 15
    chunks = run_stream(COMPLETIONS, completions_chunks(), actions, ctx())
    assert "".join(cc["text"] for ch in chunks for cc in ch["choices"]) == choice["text"]
    assert [cc["finish_reason"] for ch in chunks for cc in ch["choices"] if cc["finish_reason"]] == ["length"]
    assert chunks[-1]["usage"] == body["usage"]


def test_truncate_responses_json_and_stream() -> None:
    actions = act(truncate_tokens=12)
    body, applied = shaped(responses_body(tail="A second message that never fits."), RESPONSES, actions, ctx())
    assert applied == ["truncate"]
    assert body["status"] == "incomplete" and body["incomplete_details"] == {"reason": "max_output_tokens"}
    assert [i["id"] for i in body["output"]] == ["rs_1", "msg_1"], "items after the cut are gone"
    part = body["output"][1]["content"][0]
    assert part["text"] == "".join(toks(TEXT)[:12]) and len(part["logprobs"]) == 12
    assert body["output"][1]["status"] == "incomplete"
    r = len(toks(REASONING))
    assert body["usage"]["output_tokens"] == r + 12 and body["usage"]["output_tokens_details"]["reasoning_tokens"] == r
    assert body["usage"]["total_tokens"] == 21 + r + 12

    events = run_stream(RESPONSES, responses_events(), actions, ctx())
    text, final = fold_responses(events)
    assert text == part["text"]
    assert events[-1]["type"] == "response.incomplete" and final["status"] == "incomplete"
    assert final["usage"]["output_tokens"] == r + 12
    assert final["output"][1]["content"][0]["text"] == text
    done = next(e for e in events if e["type"] == "response.output_text.done")
    assert done["text"] == text and len(done["logprobs"]) == 12


def test_token_budget_counts_a_split_word_once() -> None:
    whole = TokenBudget(1000)
    whole.take("unbelievable results")
    split = TokenBudget(1000)
    for piece in ("unbel", "iev", "able res", "ults"):
        split.take(piece)
    assert whole.counted == split.counted == 2


# --------------------------------------------------------------------------------------
# Fingerprint
# --------------------------------------------------------------------------------------

ACCOUNTS = [f"acct-{i}" for i in range(12)]
PROSE = [
    TEXT,
    (
        "Note that it's important to keep the whole test suite fast. For example, you can't run the full "
        "integration tests on every commit, but you should run them before a release. Additionally, each "
        "developer should make sure the linter passes; otherwise, the review will usually take longer. "
        "In practice, two or three checks catch most problems. However, don't skip the slow ones entirely — "
        "they're often the only ones that exercise the real database. That's why we use a nightly job, "
        "e.g. one that runs at 3 am, to analyze the behavior of the system under load."
    ),
    (
        "The first step is to analyze what the user actually needs. It is often tempting to start with a big "
        "redesign, but that doesn't usually pay off. Instead, we should try to improve the existing code in "
        "small steps. For instance, a simple cache can reduce the number of queries; it isn't a complete "
        "solution, but it allows the team to measure the effect quickly. Finally, note that the main goal is "
        "to make the system easier to maintain — not to optimize every single path. In summary, there's no "
        "need to rewrite everything: we'll get there step by step."
    ),
]


def test_fingerprint_round_trip_and_unmarked_text_is_attributed_to_none() -> None:
    for i, text in enumerate(PROSE):
        account = ACCOUNTS[i * 3]
        marked = fingerprint_text(text, KEY, account)
        assert marked != text
        results = verify(marked, KEY, ACCOUNTS)
        assert attribute(results) == account
        assert results[0][0] == account and results[0][1] == 1.0 and results[0][2] < 1e-5
        assert attribute(verify(text, KEY, ACCOUNTS)) is None
        # The wrong key sees nothing.
        assert attribute(verify(marked, b"another secret", ACCOUNTS)) is None


def marked_in_pieces(text: str, account: str, rng: random.Random, largest: int) -> str:
    """The text marked as a stream marks it: fed to a TextMarker in random pieces of 1 to ``largest`` characters."""
    marker, out, i = TextMarker(account_key(KEY, account)), [], 0
    while i < len(text):
        n = rng.randint(1, largest)
        out.append(marker.feed(text[i : i + n]))
        i += n
    out.append(marker.finish())
    return "".join(out)


def test_streamed_marking_equals_whole_text_marking() -> None:
    rng = random.Random(3)
    for text in PROSE:
        whole = fingerprint_text(text, KEY, "acct-1")
        for _ in range(25):
            assert marked_in_pieces(text, "acct-1", rng, 15) == whole
        # Held back at any moment: a few words, never the text.
        marker = TextMarker(account_key(KEY, "acct-1"))
        emitted = sum(len(marker.feed(t)) for t in toks(text))
        assert emitted >= len(text) - 120


def test_marking_keeps_every_slot_and_only_changes_slots() -> None:
    for text in PROSE:
        marked = fingerprint_text(text, KEY, "acct-3")
        assert [(s.prev, s.gid) for s in scan(marked)] == [(s.prev, s.gid) for s in scan(text)]
        # Same words modulo the lexicon: the text length moves by little.
        assert abs(len(marked) - len(text)) < 0.1 * len(text)


PLAIN_DASHES = (
    "The parser - a tiny state machine - reads the header. Results: The value is kept -- unless it grows. "
    "(The header comes first.) The reader – a thin wrapper – owns the buffer; the writer—its twin—flushes it. "
    "See parse() -- it returns the header."
)


def test_plain_text_dashes_and_colon_spacing_are_slots_kept_by_marking() -> None:
    slots = scan(PLAIN_DASHES)
    dashes = [s for s in slots if s.gid.startswith("—")]
    # Every dash between words counts, however it is typed: " - ", " -- ", " – ", tight "—".
    assert [s.observed for s in dashes] == [3, 3, 4, 2, 2, 0, 0, 3]
    assert dashes[-1].gid == "—o" and dashes[-1].k == 4  # after "parse()": spaced forms only
    assert {s.gid for s in slots} >= {"  ", ":  ", ":Aa"}
    words = PLAIN_DASHES.lower().replace("—", " ").replace("–", " ").replace("-", " ").split()
    rng = random.Random(5)
    for account in ACCOUNTS[:20]:
        marked = fingerprint_text(PLAIN_DASHES, KEY, account)
        assert [(s.prev, s.gid) for s in scan(marked)] == [(s.prev, s.gid) for s in slots]
        # Only dashes, spaces and the case after a colon move: the same words, in the same order.
        assert marked.lower().replace("—", " ").replace("–", " ").replace("-", " ").split() == words
        assert "parse() -- it" in marked or "parse() - it" in marked or "parse() – it" in marked or (
            "parse() — it" in marked
        )  # after an identifier the dash stays spaced (set tight it would join the identifier)
        assert marked_in_pieces(PLAIN_DASHES, account, rng, 9) == marked


def test_fingerprint_leaves_code_urls_and_json_alone() -> None:
    code = "Use `do not` here:\n```python\nx = 'don\\'t'  # color towards\n```\nSee https://example.com/towards/color."
    marked = fingerprint_text(code, KEY, "acct-1")
    assert "`do not`" in marked and "x = 'don\\'t'  # color towards" in marked
    assert "https://example.com/towards/color" in marked
    data = '{"behavior": "don\'t", "color": "gray"}'
    assert fingerprint_text(data, KEY, "acct-1") == data


def test_fingerprint_in_json_bodies_and_streams() -> None:
    c = ctx("acct-5")
    actions = act(fingerprint=True)
    body, applied = shaped(chat_body(), CHAT, actions, c)
    assert applied == ["fingerprint", "strip_logprobs"], "a watermark takes the logprobs with it"
    message = body["choices"][0]["message"]
    assert attribute(verify(message["content"], KEY, ACCOUNTS)) == "acct-5"
    content, reasoning, _, _ = fold_chat(run_stream(CHAT, chat_chunks(), actions, c))
    assert content[0] == message["content"] and reasoning[0] == message["reasoning_content"]

    body, _ = shaped(completions_body(), COMPLETIONS, actions, c)
    chunks = run_stream(COMPLETIONS, completions_chunks(), actions, c)
    assert "".join(cc["text"] for ch in chunks for cc in ch["choices"]) == body["choices"][0]["text"]

    body, _ = shaped(responses_body(), RESPONSES, actions, c)
    part = body["output"][1]["content"][0]
    assert part["logprobs"] == [] and attribute(verify(part["text"], KEY, ACCOUNTS)) == "acct-5"
    events = run_stream(RESPONSES, responses_events(), actions, c)
    text, final = fold_responses(events)
    assert text == part["text"] == final["output"][1]["content"][0]["text"]
    summary = next(e for e in events if e["type"] == "response.reasoning_summary_text.done")["text"]
    assert summary == body["output"][0]["summary"][0]["text"] != REASONING

    # Structured output is data: never marked.
    body, applied = shaped(chat_body(), CHAT, actions, ctx("acct-5", structured=True))
    assert body["choices"][0]["message"]["content"] == TEXT and "fingerprint" not in applied


def test_everything_at_once_stream_equals_json() -> None:
    c = ctx("acct-9")
    actions = ShapingActions(
        response=ResponseTransforms(logprobs="noise", remove_reasoning=True, truncate_tokens=40),
        fingerprint=True,
        hide_ratelimit_headers=True,
    )
    body, applied = shaped(chat_body(), CHAT, actions, c)
    assert applied == ["fingerprint", "remove_reasoning", "strip_logprobs", "truncate"]
    content, reasoning, finish, usage = fold_chat(run_stream(CHAT, chat_chunks(), actions, c))
    assert content[0] == body["choices"][0]["message"]["content"] and reasoning[0] == ""
    assert finish[0] == "length" and usage == body["usage"]
    rbody, _ = shaped(responses_body(), RESPONSES, actions, c)
    text, final = fold_responses(run_stream(RESPONSES, responses_events(), actions, c))
    assert text == rbody["output"][0]["content"][0]["text"]
    assert final["usage"] == rbody["usage"] and final["output"] == rbody["output"]


def test_unshaped_level_passes_everything_through() -> None:
    body = chat_body()
    assert shape_json(body, CHAT, ShapingActions(), ctx()) == [] and body == chat_body()
    events = responses_events()
    assert run_stream(RESPONSES, events, ShapingActions(), ctx()) == events


def test_stream_cut_short_flushes_held_back_text() -> None:
    """An upstream that breaks off without a finish chunk: finish() sends the words still held."""
    c = ctx("acct-2")
    actions = act(fingerprint=True)
    chunks = [ch for ch in chat_chunks(logprobs=False) if not ch["choices"] or not ch["choices"][0]["finish_reason"]]
    chunks = [ch for ch in chunks if ch["choices"]]  # no finish chunk, no usage chunk
    shaper = StreamShaper(CHAT, actions, c)
    sent = [out for ch in chunks for out in shaper.feed_event(copy.deepcopy(ch))]
    tail = shaper.finish()
    assert len(tail) == 1 and tail[0]["choices"][0]["delta"]["content"]
    for chunk in [*sent, *tail]:
        ChatCompletionChunk.model_validate(chunk)
    text = "".join(ch["choices"][0]["delta"].get("content") or "" for ch in [*sent, *tail])
    assert text == fingerprint_text(TEXT, KEY, "acct-2")


TECH = (
    "[1] If the value is not given then the default 'utf-8' is used, and it is checked before the file is read. "
    "The `parse' function reads the header but it does not validate it; use \"strict\" mode (e.g. in tests) "
    "or the ‘replace’ handler. He said \"use 'x' here\" twice. The default backend is based on the floating point "
    "unit. Therefore the whole file is read at once. Note: the callback is invoked on every change.\n\n"
    "THE PROGRAM IS NOT USEFUL, BUT IT WILL NOT HARM YOUR SCREEN."
)
QUOTE_PAIRS = {('"', '"'), ("“", "”"), ("'", "'"), ("‘", "’")}


def test_technical_prose_slots_are_kept_by_marking_and_streaming() -> None:
    """Quoted spans in four styles, an optional comma before a clause-initial conjunction, a GNU
    `quote', a footnote-first text and a paragraph in capitals: every slot survives marking."""
    slots = scan(TECH)
    assert {'"', ", then", ", and", ", but", "based on", "floating-point", "therefore,"} <= {s.gid for s in slots}
    assert [s.k for s in slots if s.gid == '"'] == [4, 4, 4]  # 'utf-8', "strict", ‘replace’; not the nested 'x'
    rng = random.Random(11)
    for account in ACCOUNTS:
        marked = fingerprint_text(TECH, KEY, account)
        assert [(s.prev, s.gid) for s in scan(marked)] == [(s.prev, s.gid) for s in slots]
        for word in ("utf-8", "strict", "replace"):
            m = re.search(r"(\S)" + re.escape(word) + r"(\S)", marked)
            assert m is not None and (m[1], m[2]) in QUOTE_PAIRS, marked  # a pair never mixes styles
        # Left as written: a quote holding another one, a GNU-style quote; capitals stay capitals.
        assert "\"use 'x' here\"" in marked and "`parse'" in marked
        assert marked.rsplit("\n", 1)[1] == marked.rsplit("\n", 1)[1].upper()
        assert marked_in_pieces(TECH, account, rng, 9) == marked
    # Marked for one account, the text is attributed to it at the default alpha.
    assert attribute(verify(fingerprint_text(TECH + " " + PROSE[1], KEY, "acct-4"), KEY, ACCOUNTS)) == "acct-4"
