"""Every shaping action on every generating route, JSON and streamed, through the live proxy.

The stub upstream sits behind Sluice, the official openai SDK in front. Each action has
its own tier whose only policy level sits at risk 0.0 (``policy.extraction_action`` applies
a level when risk >= its threshold), so every request of that tier gets exactly that level,
configured to do that one thing. What is checked is what a client sees (the SDK's parsed
answer, headers, errors) and what the upstream was sent (the stub records the last body),
plus the audit line each non-allow decision writes on the ``sluice.audit`` logger.

Routes: chat completions, legacy completions and /v1/responses; ``n`` and ``logit_bias``
do not exist on /v1/responses, and neither does reasoning on legacy completions.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import openai
import orjson
import pytest
from openai.types import Completion
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.responses import ResponseOutputMessage

from proxy.accounts import hash_key
from proxy.config import Config, KeyEntry
from proxy.logs import JsonFormatter
from proxy.shaping import verify
from proxy.stub import PROSE, REASONING, StubUpstream
from tests.harness import base_config, running_sluice

CHAT, COMPLETIONS, RESPONSES = "chat", "completions", "responses"
ROUTES = (CHAT, COMPLETIONS, RESPONSES)
MODES = [pytest.param(stream, id="stream" if stream else "json") for stream in (False, True)]
PROMPT_TEXT = "Tell me about rivers"
SECRET = "routes test secret"
FP_ENV = "SLUICE_TEST_ROUTES_FP_KEY"

# A level that does nothing unless told: every default of the perturb level switched off.
QUIET = {
    "request": {"max_n": None, "max_top_logprobs": None, "drop_logit_bias": False},
    "response": {"logprobs": "keep", "remove_reasoning": False},
    "fingerprint": False,
    "hide_ratelimit_headers": False,
}
ONLY = {"delay": None, "perturb": None, "throttle": None, "block": None}


def _perturb(request: dict[str, Any] | None = None, response: dict[str, Any] | None = None, **rest: Any) -> dict:
    level = {
        "request": {**QUIET["request"], **(request or {})},
        "response": {**QUIET["response"], **(response or {})},
        "fingerprint": rest.get("fingerprint", False),
        "hide_ratelimit_headers": rest.get("hide_ratelimit_headers", False),
    }
    return {
        "limits": {"requests_per_minute": 1000},
        "detection": {"levels": {**ONLY, "perturb": 0.0}},
        "shaping": {"perturb": level, "delay": {"hide_ratelimit_headers": False}},
    }


CLAMP_CAPS = {"max_n": 1, "max_tokens": 5, "max_top_logprobs": 2, "drop_logit_bias": True, "temperature_floor": 0.9}
TIERS: dict[str, dict[str, Any]] = {
    "clamps": _perturb(request=CLAMP_CAPS),
    "droplp": _perturb(request={"drop_logprobs": True}),
    "strip": _perturb(response={"logprobs": "strip"}),
    "round": _perturb(response={"logprobs": "round"}),
    "noise": _perturb(response={"logprobs": "noise"}),
    "reasoning": _perturb(response={"remove_reasoning": True}),
    "truncate": _perturb(response={"truncate_tokens": 5}),
    "fingerprint": _perturb(fingerprint=True),
    "hidden": {  # the delay level (no tarpit here) with its default: hidden x-ratelimit-* headers
        "limits": {"requests_per_minute": 1000},
        "detection": {"levels": {**ONLY, "delay": 0.0}},
        "shaping": {"perturb": {"fingerprint": False}},
    },
    "throttle": {"limits": {"requests_per_minute": 1000}, "detection": {"levels": {**ONLY, "throttle": 0.0}}},
    "block": {"limits": {"requests_per_minute": 1000}, "detection": {"levels": {**ONLY, "block": 0.0}}},
    "budget": {"limits": {"requests_per_minute": 1}, "detection": {"levels": ONLY}},  # a budget 429 on the 2nd
    "open": {  # never judged above allow: the untouched answer, for comparison
        "limits": {"requests_per_minute": 1000},
        "detection": {"levels": ONLY},
        "shaping": {"perturb": {"fingerprint": False}},
    },
}


def key_of(tier: str) -> str:
    return f"sk-test-routes-{tier}"


def configure(upstream_url: str) -> Config:
    config = base_config(
        upstream_url, tiers=TIERS, detection={"delay_s": 0, "fingerprint_key_env": FP_ENV}
    )
    extra = tuple(KeyEntry(hash_key(key_of(t)), f"acct-{t}", t) for t in TIERS)
    return replace(config, keys=replace(config.keys, inline=config.keys.inline + extra))


@pytest.fixture(autouse=True)
def _fingerprint_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(FP_ENV, SECRET)


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def audit() -> Iterator[_Lines]:
    """The audit log as the operator's log pipeline gets it: formatted JSON lines."""
    handler = _Lines()
    logger = logging.getLogger("sluice.audit")
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


def assert_audit_line(audit: _Lines, tier: str, action: str, applied: set[str]) -> dict[str, Any]:
    """Exactly one line, with the decision fields; never the key, never the prompt."""
    assert len(audit.lines) == 1, audit.lines
    line = audit.lines[0]
    assert key_of(tier) not in line and PROMPT_TEXT not in line
    record = orjson.loads(line)
    assert record["logger"] == "sluice.audit"
    assert record["account"] == f"acct-{tier}" and record["action"] == action and record["cause"] == "extraction"
    assert isinstance(record["risk"], float) and isinstance(record["reasons"], list) and record["request_id"]
    assert applied <= set(record.get("actions", [])), record
    return record


# --------------------------------------------------------------------------------------
# One request on any route, streamed or not, seen the way a client sees it
# --------------------------------------------------------------------------------------


@dataclass
class Seen:
    text: str = ""
    reasoning: str = ""
    final_reasoning: str = ""  # in the closing response object of a /v1/responses stream
    logprobs: list[tuple[str, float, list[float]]] | None = None  # (token, logprob, alternatives' logprobs)
    completion_tokens: int | None = None
    total_tokens: int | None = None
    prompt_tokens: int | None = None
    stopped_for_length: bool = False
    headers: dict[str, str] = field(default_factory=dict)


def _params(route: str, *, top: int | None = None, n: int | None = None, bias: dict[str, int] | None = None,
            max_tokens: int | None = None, temperature: float | None = None) -> dict[str, Any]:  # fmt: skip
    p: dict[str, Any] = {}
    if route == CHAT:
        p["messages"] = [{"role": "user", "content": PROMPT_TEXT}]
        if top is not None:
            p.update(logprobs=True, top_logprobs=top)
    elif route == COMPLETIONS:
        p["prompt"] = PROMPT_TEXT
        if top is not None:
            p["logprobs"] = top
    else:
        p["input"] = PROMPT_TEXT
        if top is not None:
            p.update(include=["message.output_text.logprobs"], top_logprobs=top)
    if n is not None:
        p["n"] = n
    if bias is not None:
        p["logit_bias"] = bias
    if max_tokens is not None:
        p["max_output_tokens" if route == RESPONSES else "max_tokens"] = max_tokens
    if temperature is not None:
        p["temperature"] = temperature
    return p


async def ask(run: Any, tier: str, route: str, stream: bool, model: str = "stub-model", **kw: Any) -> Seen:
    async with run.client(key_of(tier)) as client:
        return await _ask(client, route, stream, model, _params(route, **kw))


async def _ask(client: openai.AsyncOpenAI, route: str, stream: bool, model: str, params: dict[str, Any]) -> Seen:
    if stream and route != RESPONSES:
        params["stream_options"] = {"include_usage": True}
    api = {CHAT: client.chat.completions, COMPLETIONS: client.completions, RESPONSES: client.responses}[route]
    raw = await api.with_raw_response.create(model=model, stream=stream, **params)
    seen = Seen(headers={k.lower(): v for k, v in raw.headers.items()})
    parsed = raw.parse()
    if not stream:
        body = raw.http_response.json()
        _json(route, body, parsed, seen)
    else:
        _stream(route, [event async for event in parsed], seen)
    return seen


def _chat_entries(entries: Any) -> list[tuple[str, float, list[float]]]:
    return [(e.token, e.logprob, [t.logprob for t in e.top_logprobs or ()]) for e in entries or ()]


def _legacy_entries(lp: Any) -> list[tuple[str, float, list[float]]]:
    return [(t, v, list(top.values())) for t, v, top in zip(lp.tokens, lp.token_logprobs, lp.top_logprobs)]


def _json(route: str, body: dict[str, Any], parsed: Any, seen: Seen) -> None:
    if route == CHAT:
        ChatCompletion.model_validate(body)  # strict: the shaped body is a valid instance of the SDK's model
        choice = parsed.choices[0]
        seen.text = choice.message.content or ""
        extra = choice.message.model_extra or {}
        seen.reasoning = extra.get("reasoning_content") or extra.get("reasoning") or ""
        seen.logprobs = _chat_entries(choice.logprobs.content) if choice.logprobs else None
        seen.stopped_for_length = choice.finish_reason == "length"
    elif route == COMPLETIONS:
        Completion.model_validate(body)
        choice = parsed.choices[0]
        seen.text = choice.text
        seen.logprobs = _legacy_entries(choice.logprobs) if choice.logprobs else None
        seen.stopped_for_length = choice.finish_reason == "length"
    else:
        for item in body["output"]:
            if item["type"] == "message":
                ResponseOutputMessage.model_validate(item)
        _response_object(parsed, seen, with_text=True)
        return
    if parsed.usage is not None:
        u = parsed.usage
        seen.prompt_tokens, seen.completion_tokens = u.prompt_tokens, u.completion_tokens
        seen.total_tokens = u.total_tokens


def _response_object(response: Any, seen: Seen, with_text: bool) -> None:
    for item in response.output:
        if item.type == "reasoning":
            text = "".join(s.text for s in item.summary)
            if with_text:
                seen.reasoning += text
            else:
                seen.final_reasoning += text
        elif item.type == "message" and with_text:
            for part in item.content:
                seen.text += part.text
                if part.logprobs:
                    seen.logprobs = (seen.logprobs or []) + _chat_entries(part.logprobs)
    seen.stopped_for_length = response.status == "incomplete" and (
        response.incomplete_details is not None and response.incomplete_details.reason == "max_output_tokens"
    )
    if response.usage is not None:
        u = response.usage
        seen.prompt_tokens, seen.completion_tokens, seen.total_tokens = u.input_tokens, u.output_tokens, u.total_tokens


def _stream(route: str, events: list[Any], seen: Seen) -> None:
    if route == RESPONSES:
        done_text = ""
        for event in events:
            if event.type == "response.output_text.delta":
                seen.text += event.delta
                if event.logprobs:
                    seen.logprobs = (seen.logprobs or []) + _chat_entries(event.logprobs)
            elif event.type == "response.output_text.done":
                done_text = event.text
            elif event.type.startswith("response.reasoning"):
                seen.reasoning += getattr(event, "delta", "") or ""
            elif event.type in ("response.completed", "response.incomplete"):
                _response_object(event.response, seen, with_text=False)
        assert done_text == seen.text  # the done event agrees with the deltas sent
        return
    for chunk in events:
        if route == CHAT:
            # Strict, chunk by chunk. (The SDK's Completion model wants a finish_reason on every
            # choice, which no server sends mid-stream, so legacy chunks are only parsed.)
            ChatCompletionChunk.model_validate(chunk.to_dict())
        if chunk.usage is not None:
            u = chunk.usage
            seen.prompt_tokens, seen.completion_tokens, seen.total_tokens = (
                u.prompt_tokens, u.completion_tokens, u.total_tokens,
            )  # fmt: skip
        for choice in chunk.choices:
            if route == CHAT:
                seen.text += choice.delta.content or ""
                extra = choice.delta.model_extra or {}
                seen.reasoning += extra.get("reasoning_content") or extra.get("reasoning") or ""
                entries = _chat_entries(choice.logprobs.content) if choice.logprobs else []
            else:
                seen.text += choice.text
                entries = _legacy_entries(choice.logprobs) if choice.logprobs and choice.logprobs.tokens else []
            if entries:
                seen.logprobs = (seen.logprobs or []) + entries
            seen.stopped_for_length |= choice.finish_reason == "length"


def upstream_logprob(i: int) -> float:
    """The stub's logprob for token i (proxy/stub.py, _logprob_entry)."""
    return -round(0.123456 + 0.0371 * i, 6)


def ratelimit(headers: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.startswith("x-ratelimit-")}


# --------------------------------------------------------------------------------------
# Request clamps: what the upstream was sent, and what the client gets back
# --------------------------------------------------------------------------------------

CLAMP_CASES = [
    # (clamp, routes it exists on, the ask, check on the upstream's body, action name)
    ("n", (CHAT, COMPLETIONS), {"n": 3}, lambda b, r: b["n"] == 1, "clamp_n"),
    ("max_tokens", ROUTES, {"max_tokens": 30},
     lambda b, r: b["max_output_tokens" if r == RESPONSES else "max_tokens"] == 5, "clamp_max_tokens"),
    ("top_logprobs", ROUTES, {"top": 4},
     lambda b, r: b["logprobs" if r == COMPLETIONS else "top_logprobs"] == 2, "clamp_top_logprobs"),
    ("logit_bias", (CHAT, COMPLETIONS), {"bias": {"50256": -100}}, lambda b, r: "logit_bias" not in b,
     "drop_logit_bias"),
    ("temperature", ROUTES, {"temperature": 0.2}, lambda b, r: b["temperature"] == 0.9, "temperature_floor"),
]  # fmt: skip


@pytest.mark.parametrize("stream", MODES)
@pytest.mark.parametrize(
    ("clamp", "route"), [(c[0], r) for c in CLAMP_CASES for r in ROUTES if r in c[1]]
)
async def test_a_request_clamp_reaches_the_upstream(clamp: str, route: str, stream: bool, audit: _Lines) -> None:
    _, _, asked, check, action = next(c for c in CLAMP_CASES if c[0] == clamp)
    async with running_sluice(configure=configure) as run:
        seen = await ask(run, "clamps", route, stream, **{"max_tokens": 20, **asked})
        assert check(run.stub.stats.last_body, route), run.stub.stats.last_body
        if clamp == "max_tokens":
            assert len(seen.text.split()) == 5  # the client gets the shorter answer the cap asked for
        if clamp == "top_logprobs":
            assert seen.logprobs and all(len(alts) == 2 for _, _, alts in seen.logprobs)
        assert_audit_line(audit, "clamps", "perturb", {action})


@pytest.mark.parametrize("stream", MODES)
@pytest.mark.parametrize("route", ROUTES)
async def test_drop_logprobs_removes_them_from_the_request(route: str, stream: bool, audit: _Lines) -> None:
    async with running_sluice(configure=configure) as run:
        seen = await ask(run, "droplp", route, stream, top=3, max_tokens=8)
        body = run.stub.stats.last_body
        assert "logprobs" not in body and "top_logprobs" not in body
        assert "message.output_text.logprobs" not in (body.get("include") or [])
        assert seen.logprobs is None and len(seen.text.split()) == 8  # the answer itself is whole
        assert_audit_line(audit, "droplp", "perturb", {"drop_logprobs"})
        # The same ask from an unshaped account keeps its logprobs.
        assert (await ask(run, "open", route, stream, top=3, max_tokens=8)).logprobs


# --------------------------------------------------------------------------------------
# Response transforms
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", MODES)
@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("mode", ["strip", "round", "noise"])
async def test_logprobs_are_stripped_rounded_or_noised(mode: str, route: str, stream: bool, audit: _Lines) -> None:
    async with running_sluice(configure=configure) as run:
        seen = await ask(run, mode, route, stream, top=3, max_tokens=10)
        assert len(seen.text.split()) == 10  # the text is untouched
        assert run.stub.stats.last_body.get("top_logprobs", run.stub.stats.last_body.get("logprobs")) == 3
        assert_audit_line(audit, mode, "perturb", {f"{mode}_logprobs"})
        if mode == "strip":
            assert seen.logprobs is None
            return
        assert seen.logprobs is not None and len(seen.logprobs) == 10
        assert all(len(alts) == 3 for _, _, alts in seen.logprobs)  # as many alternatives as asked
        values = [v for _, lp, alts in seen.logprobs for v in (lp, *alts)]
        assert all(v <= 0.0 for v in values)
        if mode == "round":
            assert all(round(v, 1) == v for v in values)
            assert [lp for _, lp, _ in seen.logprobs] == [min(round(upstream_logprob(i), 1), 0.0) for i in range(10)]
        else:
            changed = [lp != upstream_logprob(i) for i, (_, lp, _) in enumerate(seen.logprobs)]
            assert sum(changed) >= 9
            # Keyed by the request: asking again gives the same values (nothing to average away).
            again = await ask(run, mode, route, stream, top=3, max_tokens=10)
            assert again.logprobs == seen.logprobs


@pytest.mark.parametrize("stream", MODES)
@pytest.mark.parametrize("route", [CHAT, RESPONSES])
async def test_reasoning_is_removed(route: str, stream: bool, audit: _Lines) -> None:
    async with running_sluice(configure=configure) as run:
        open_seen = await ask(run, "open", route, stream, model="stub-reasoning", max_tokens=10)
        assert open_seen.reasoning == REASONING  # what the upstream sends
        seen = await ask(run, "reasoning", route, stream, model="stub-reasoning", max_tokens=10)
        assert seen.reasoning == "" and seen.text == open_seen.text
        if route == RESPONSES and stream:
            # Neither in the events nor in the response object the stream ends with.
            assert open_seen.final_reasoning == REASONING and seen.final_reasoning == ""
        assert_audit_line(audit, "reasoning", "perturb", {"remove_reasoning"})


@pytest.mark.parametrize("stream", MODES)
@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("with_logprobs", [False, True], ids=["estimated", "exact"])
async def test_truncation_cuts_the_answer_and_usage_stays_truthful(
    route: str, stream: bool, with_logprobs: bool, audit: _Lines
) -> None:
    async with running_sluice(configure=configure) as run:
        top = 1 if with_logprobs else None
        full = await ask(run, "open", route, stream, max_tokens=20, top=top)
        seen = await ask(run, "truncate", route, stream, max_tokens=20, top=top)
        assert full.text.split()[:5] == seen.text.split() and len(seen.text.split()) == 5
        assert seen.text == full.text[: len(seen.text)]
        assert seen.stopped_for_length
        # usage counts what the client received: 5 of the 20 tokens generated.
        assert full.completion_tokens == 20 and seen.completion_tokens == 5
        assert seen.total_tokens == seen.prompt_tokens + 5
        if with_logprobs:
            assert seen.logprobs is not None and len(seen.logprobs) == 5
        assert_audit_line(audit, "truncate", "perturb", {"truncate"})


@pytest.mark.parametrize("stream", MODES)
@pytest.mark.parametrize("route", ROUTES)
async def test_fingerprint_marks_the_answer_for_its_account(route: str, stream: bool, audit: _Lines) -> None:
    async with running_sluice(StubUpstream(reply_tokens=80), configure=configure) as run:
        plain = await ask(run, "open", route, stream, model="stub-prose", max_tokens=80, top=2)
        assert plain.text == " ".join(PROSE[i % len(PROSE)] for i in range(80))
        seen = await ask(run, "fingerprint", route, stream, model="stub-prose", max_tokens=80, top=2)
        assert seen.text != plain.text
        assert len(seen.text.split()) >= 0.9 * len(plain.text.split())  # words replaced, not dropped
        assert seen.logprobs is None  # token logprobs would give the original text back
        results = verify(seen.text, SECRET.encode(), ["acct-fingerprint", "acct-open", "acct-clamps", "alice"])
        assert results[0][0] == "acct-fingerprint" and results[0][2] < min(r[2] for r in results[1:])
        assert verify(plain.text, SECRET.encode(), ["acct-fingerprint"])[0][2] > results[0][2]
        assert_audit_line(audit, "fingerprint", "perturb", {"fingerprint"})
        # The other delivery mode carries the very same mark.
        other = await ask(run, "fingerprint", route, not stream, model="stub-prose", max_tokens=80, top=2)
        assert other.text == seen.text


@pytest.mark.parametrize("stream", MODES)
@pytest.mark.parametrize("route", ROUTES)
async def test_ratelimit_headers_are_hidden_from_a_suspected_account(route: str, stream: bool, audit: _Lines) -> None:
    async with running_sluice(configure=configure) as run:
        shown = await ask(run, "open", route, stream, max_tokens=5)
        assert ratelimit(shown.headers)["x-ratelimit-limit-requests"] == "1000"
        seen = await ask(run, "hidden", route, stream, max_tokens=5)
        assert ratelimit(seen.headers) == {} and seen.text == shown.text
        assert_audit_line(audit, "hidden", "delay", {"hide_ratelimit_headers"})


# --------------------------------------------------------------------------------------
# Refusals
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", MODES)
@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize(
    ("tier", "status", "error", "code"),
    [
        ("throttle", 429, openai.RateLimitError, "rate_limit_exceeded"),
        ("block", 403, openai.PermissionDeniedError, "account_restricted"),
    ],
)
async def test_throttle_and_block_refuse_in_the_openai_shape(
    tier: str, status: int, error: type[openai.APIStatusError], code: str, route: str, stream: bool, audit: _Lines
) -> None:
    async with running_sluice(configure=configure) as run:
        with pytest.raises(error) as caught:
            await ask(run, tier, route, stream, max_tokens=5)
        response = caught.value.response
        assert response.status_code == status
        body = response.json()
        assert set(body) == {"error"} and {"message", "type", "code"} <= set(body["error"])
        assert body["error"]["code"] == code
        if tier == "throttle":
            assert int(response.headers["retry-after"]) >= 1  # looks like any rate limit: retry later
        else:
            assert "retry-after" not in response.headers
        assert run.stub.stats.requests == 0  # refused before the upstream
        assert_audit_line(audit, tier, tier, set())


async def test_an_allowed_request_writes_no_audit_line(audit: _Lines) -> None:
    async with running_sluice(configure=configure) as run:
        for route in ROUTES:
            await ask(run, "open", route, False, max_tokens=5)
        assert audit.lines == []


async def test_a_budget_refusal_writes_one_audit_line(audit: _Lines) -> None:
    async with running_sluice(configure=configure) as run:
        await ask(run, "budget", ROUTES[0], False, max_tokens=5)
        assert audit.lines == []
        with pytest.raises(openai.RateLimitError):
            await ask(run, "budget", ROUTES[0], False, max_tokens=5)
        assert len(audit.lines) == 1, audit.lines
        record = orjson.loads(audit.lines[0])
        assert key_of("budget") not in audit.lines[0] and PROMPT_TEXT not in audit.lines[0]
        assert record["account"] == "acct-budget" and record["action"] == "throttle" and record["cause"] == "budget"
        assert record["reasons"] == ["requests_per_minute"] and record["request_id"]
