"""Parse an OpenAI request body once and extract what budgets and detection need.

Validation covers the fields Sluice acts on (a wrong type there would otherwise
corrupt a budget or crash a transform); everything else is the upstream's
business and passes through untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from proxy.errors import RequestError
from proxy.tokens import MESSAGE_OVERHEAD, estimate_tokens

Estimate = Callable[[str], int]  # a text's estimated tokens

CHAT = "/v1/chat/completions"
COMPLETIONS = "/v1/completions"
EMBEDDINGS = "/v1/embeddings"
RESPONSES = "/v1/responses"
MODELS = "/v1/models"
POST_ROUTES = frozenset({CHAT, COMPLETIONS, EMBEDDINGS, RESPONSES})


@dataclass(slots=True)
class RequestFeatures:
    """What one request asks for; the input of budgets, detection and shaping."""

    route: str
    model: str | None = None
    stream: bool = False
    include_usage: bool = False
    max_tokens: int | None = None
    max_tokens_field: str | None = None  # which field carried it
    n: int = 1
    temperature: float | None = None
    logprobs: bool = False
    top_logprobs: int | None = None
    logit_bias: dict[str, float] | None = None
    seed: int | None = None
    has_tools: bool = False
    system_text: str = ""
    prompt_text: str = ""
    query_text: str = ""  # the newest user turn: what this request asks
    follow_up: bool = False  # carries an earlier answer (an assistant or tool turn): a conversation goes on
    prompt_tokens: int = 0


def _bad(message: str, param: str, code: str = "invalid_type") -> RequestError:
    return RequestError(400, message, code, param)


def _int(body: dict[str, Any], key: str, minimum: int, maximum: int | None = None) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(f"'{key}' must be an integer, got {type(value).__name__}", key)
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
        raise _bad(f"'{key}' must be {bound}, got {value}", key, "invalid_value")
    return value


def _number(body: dict[str, Any], key: str, minimum: float, maximum: float) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _bad(f"'{key}' must be a number, got {type(value).__name__}", key)
    if not minimum <= value <= maximum:
        raise _bad(f"'{key}' must be between {minimum} and {maximum}, got {value}", key, "invalid_value")
    return float(value)


def _bool(body: dict[str, Any], key: str) -> bool:
    value = body.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise _bad(f"'{key}' must be a boolean, got {type(value).__name__}", key)
    return value


def _content_text(content: Any, param: str) -> str:
    """Text of a message's content: a string, or a list of parts with text."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for i, part in enumerate(content):
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, dict):
                text = part.get("text")
                if isinstance(text, str):
                    texts.append(text)
            else:
                raise _bad(f"'{param}[{i}]' must be an object or a string", f"{param}[{i}]")
        return "\n".join(texts)
    raise _bad(f"'{param}' must be a string, an array of content parts or null", param)


def _chat(body: dict[str, Any], f: RequestFeatures, estimate: Estimate) -> None:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _bad("'messages' must be a non-empty array of message objects", "messages")
    system: list[str] = []
    prompt: list[str] = []
    tokens = 0
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise _bad(f"'messages[{i}]' must be an object", f"messages[{i}]")
        role = message.get("role")
        if not isinstance(role, str):
            raise _bad(f"'messages[{i}].role' must be a string", f"messages[{i}].role")
        text = _content_text(message.get("content"), f"messages[{i}].content")
        tool_calls = message.get("tool_calls")
        if isinstance(tool_calls, list):
            for call in tool_calls:
                function = call.get("function") if isinstance(call, dict) else None
                if isinstance(function, dict) and isinstance(function.get("arguments"), str):
                    text += "\n" + function["arguments"]
        (system if role in ("system", "developer") else prompt).append(text)
        if role == "user":
            f.query_text = text
        elif role in ("assistant", "tool", "function"):
            f.follow_up = True
        tokens += MESSAGE_OVERHEAD + estimate(text)
    f.system_text = "\n".join(system)
    f.prompt_text = "\n".join(prompt)
    f.prompt_tokens = tokens
    tools = body.get("tools")
    if tools is not None:
        if not isinstance(tools, list):
            raise _bad("'tools' must be an array", "tools")
        f.has_tools = bool(tools)
        if tools:
            f.prompt_tokens += estimate(orjson.dumps(tools).decode())
    f.logprobs = _bool(body, "logprobs")
    f.top_logprobs = _int(body, "top_logprobs", 0, 20)


def _completions(body: dict[str, Any], f: RequestFeatures, estimate: Estimate) -> None:
    prompt = body.get("prompt")
    if isinstance(prompt, str):
        f.prompt_text = prompt
        f.prompt_tokens = estimate(prompt)
    elif isinstance(prompt, list) and prompt:
        if all(isinstance(p, str) for p in prompt):
            f.prompt_text = "\n".join(prompt)
            f.prompt_tokens = estimate(f.prompt_text)
        elif all(isinstance(p, int) and not isinstance(p, bool) for p in prompt):
            f.prompt_tokens = len(prompt)
        elif all(isinstance(p, list) for p in prompt):
            f.prompt_tokens = sum(len(p) for p in prompt)
        else:
            raise _bad("'prompt' must be a string, an array of strings or of token ids", "prompt")
    else:
        raise _bad("'prompt' must be a string, an array of strings or of token ids", "prompt")
    # In the completions API, logprobs is the number of alternatives (0..5).
    top = _int(body, "logprobs", 0, 5)
    f.logprobs = top is not None
    f.top_logprobs = top
    suffix = body.get("suffix")
    if suffix is not None and not isinstance(suffix, str):
        raise _bad("'suffix' must be a string", "suffix")


def _embeddings(body: dict[str, Any], f: RequestFeatures, estimate: Estimate) -> None:
    value = body.get("input")
    if isinstance(value, str):
        f.prompt_text = value
    elif isinstance(value, list) and value:
        if all(isinstance(v, str) for v in value):
            f.prompt_text = "\n".join(value)
        elif all(isinstance(v, (int, list)) and not isinstance(v, bool) for v in value):
            f.prompt_tokens = sum(len(v) if isinstance(v, list) else 1 for v in value)
            return
        else:
            raise _bad("'input' must be a string, an array of strings or of token ids", "input")
    else:
        raise _bad("'input' must be a string, an array of strings or of token ids", "input")
    f.prompt_tokens = estimate(f.prompt_text)


def _responses(body: dict[str, Any], f: RequestFeatures, estimate: Estimate) -> None:
    value = body.get("input")
    instructions = body.get("instructions")
    if instructions is not None and not isinstance(instructions, str):
        raise _bad("'instructions' must be a string", "instructions")
    f.system_text = instructions or ""
    f.follow_up = body.get("previous_response_id") is not None
    if isinstance(value, str):
        f.prompt_text = value
    elif isinstance(value, list):
        texts = []
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                raise _bad(f"'input[{i}]' must be an object", f"input[{i}]")
            if "content" in item:
                texts.append(_content_text(item.get("content"), f"input[{i}].content"))
                if item.get("role", "user") == "user":
                    f.query_text = texts[-1]
                else:
                    f.follow_up = f.follow_up or item.get("role") == "assistant"
            elif item.get("type") in ("function_call_output", "function_call", "reasoning"):
                f.follow_up = True
        f.prompt_text = "\n".join(texts)
    else:
        raise _bad("'input' must be a string or an array of input items", "input")
    f.prompt_tokens = estimate(f.system_text) + estimate(f.prompt_text)
    f.top_logprobs = _int(body, "top_logprobs", 0, 20)


_ROUTE_PARSERS = {CHAT: _chat, COMPLETIONS: _completions, EMBEDDINGS: _embeddings, RESPONSES: _responses}
_MAX_TOKEN_FIELDS = ("max_completion_tokens", "max_tokens", "max_output_tokens")


def parse_body(
    route: str, raw: bytes, estimate: Estimate = estimate_tokens
) -> tuple[dict[str, Any], RequestFeatures]:
    """Parse and validate; raises RequestError with a client-facing message. ``estimate``: the token
    estimate (``proxy.tokens.EstimateCache`` where texts recur)."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise RequestError(400, f"The request body is not valid JSON: {exc}", "invalid_json") from None
    if not isinstance(body, dict):
        raise RequestError(400, "The request body must be a JSON object", "invalid_json")
    return body, features_of(route, body, estimate)


def features_of(route: str, body: dict[str, Any], estimate: Estimate = estimate_tokens) -> RequestFeatures:
    f = RequestFeatures(route=route)
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        raise _bad("'model' must be a string", "model")
    f.model = model
    f.stream = _bool(body, "stream")
    options = body.get("stream_options")
    if options is not None:
        if not isinstance(options, dict):
            raise _bad("'stream_options' must be an object", "stream_options")
        usage = options.get("include_usage")
        if usage is not None and not isinstance(usage, bool):
            raise _bad("'stream_options.include_usage' must be a boolean", "stream_options.include_usage")
        f.include_usage = bool(usage)
    for key in _MAX_TOKEN_FIELDS:
        value = _int(body, key, 1)
        if value is not None:
            f.max_tokens, f.max_tokens_field = value, key
            break
    f.n = _int(body, "n", 1, 128) or 1
    f.temperature = _number(body, "temperature", 0.0, 2.0)
    _number(body, "top_p", 0.0, 1.0)
    f.seed = _int(body, "seed", -(2**63), 2**64)
    bias = body.get("logit_bias")
    if bias is not None:
        if not isinstance(bias, dict):
            raise _bad("'logit_bias' must be an object mapping token ids to numbers", "logit_bias")
        for token, weight in bias.items():
            if isinstance(weight, bool) or not isinstance(weight, (int, float)):
                raise _bad(f"'logit_bias[{token}]' must be a number", "logit_bias")
        f.logit_bias = bias
    _ROUTE_PARSERS[route](body, f, estimate)
    return f
