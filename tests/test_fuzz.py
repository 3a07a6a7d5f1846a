"""Property-based fuzzing of the three parsers that read untrusted bytes: request bodies, SSE streams, config.

Each property is what a user relies on, whatever the input:

- a request body is either accepted with sane features or refused with a ``RequestError`` (a 400 in
  OpenAI's shape), never another exception (a 500 and a traceback);
- an SSE stream tap (with or without a shaping level) gives the same bytes, usage and chunk count
  however the upstream's bytes were split into reads, passes unshaped events through byte for byte,
  never raises on garbage, and never holds more than the one unfinished event;
- a config document is either a valid ``Config`` or a ``ConfigError`` naming the field at fault.

Derandomised and bounded (a fixed number of examples, no example database), so a run is reproducible
and the module stays well under 20 s.
"""

from __future__ import annotations

import json
import math
import string
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from proxy.config import ACTIONS, DEFAULT_SHAPING, SIGNALS, Config, ConfigError, parse_config
from proxy.errors import RequestError
from proxy.request import CHAT, COMPLETIONS, EMBEDDINGS, POST_ROUTES, RESPONSES, features_of, parse_body
from proxy.shaping import Hardening, ResponseTransforms, ShapeContext, ShapingActions, StreamShaper, check_request
from proxy.shaping import shape_request
from proxy.sse import StreamTap

FUZZ = settings(
    max_examples=60,
    derandomize=True,
    database=None,
    deadline=None,
    phases=(Phase.explicit, Phase.generate, Phase.shrink),  # no 'explain': slow, and needs libcst
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# ---- JSON values -----------------------------------------------------------------------------

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)  # past int64: orjson's own limit
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
json_values = st.recursive(
    _scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=12,
)

REQUEST_FIELDS = [
    "model", "messages", "prompt", "input", "instructions", "stream", "stream_options", "max_tokens",
    "max_completion_tokens", "max_output_tokens", "n", "temperature", "top_p", "seed", "logit_bias", "logprobs",
    "top_logprobs", "tools", "suffix", "response_format",
]  # fmt: skip

# Values that look almost right: the shapes each field takes, and their near misses.
_content = st.one_of(
    st.text(max_size=60),
    st.none(),
    st.lists(st.one_of(st.text(max_size=20), st.fixed_dictionaries({"type": st.just("text"), "text": json_values}),
                       json_values), max_size=4),
    json_values,
)
_message = st.one_of(
    st.fixed_dictionaries(
        {"role": st.sampled_from(["user", "system", "assistant", "developer", "tool"]) | json_values,
         "content": _content},
        optional={"tool_calls": st.lists(st.fixed_dictionaries({"function": st.fixed_dictionaries(
            {"arguments": json_values | st.text(max_size=20)})}) | json_values, max_size=3)},
    ),
    json_values,
)
_near = {
    "messages": st.lists(_message, max_size=4) | json_values,
    "prompt": st.text(max_size=40) | st.lists(st.text(max_size=10) | st.integers(0, 50000), max_size=4) | json_values,
    "input": st.text(max_size=40) | st.lists(st.fixed_dictionaries({"role": st.just("user"), "content": _content})
                                             | json_values, max_size=3) | json_values,
    "stream": st.booleans() | json_values,
    "stream_options": st.fixed_dictionaries({}, optional={"include_usage": st.booleans() | json_values}) | json_values,
    "logit_bias": st.dictionaries(st.text(string.digits, min_size=1, max_size=6),
                                  st.floats(-100, 100) | st.integers(-100, 100) | json_values, max_size=6)
    | json_values,
    "n": st.integers(-5, 200) | json_values,
    "max_tokens": st.integers(-5, 2**40) | json_values,
    "top_logprobs": st.integers(-5, 30) | json_values,
    "logprobs": st.booleans() | st.integers(-2, 8) | json_values,
    "temperature": st.floats(-1, 3) | json_values,
}


_field_names = st.lists(st.sampled_from(REQUEST_FIELDS), unique=True, max_size=8)
_unknown_fields = st.dictionaries(st.text(max_size=8), json_values, max_size=2)  # keys Sluice does not know


@st.composite
def request_bodies(draw: st.DrawFn) -> dict[str, Any]:
    body = {key: draw(_near.get(key, json_values)) for key in draw(_field_names)}
    body.update(draw(_unknown_fields))
    return body


def _check_features(route: str, body: dict[str, Any]) -> None:
    """features_of accepts the body with sane features, or refuses it with a 400 naming the field."""
    try:
        f = features_of(route, body)
    except RequestError as exc:
        assert exc.status == 400 and exc.message and exc.code in ("invalid_type", "invalid_value"), exc
        return
    assert f.route == route and f.n >= 1 and f.prompt_tokens >= 0
    assert f.max_tokens is None or f.max_tokens >= 1
    assert f.temperature is None or 0.0 <= f.temperature <= 2.0
    assert isinstance(f.prompt_text, str) and isinstance(f.system_text, str) and isinstance(f.query_text, str)
    # What the server does next with an accepted body must not raise either.
    refused = check_request(f, Hardening())
    if refused is None:
        shape_request(body, f, DEFAULT_SHAPING["perturb"])


@FUZZ
@given(route=st.sampled_from(sorted(POST_ROUTES)), body=request_bodies())
def test_request_features_accept_or_refuse_with_a_400(route: str, body: dict[str, Any]) -> None:
    _check_features(route, body)


@FUZZ
@given(route=st.sampled_from(sorted(POST_ROUTES)), raw=st.binary(max_size=300))
def test_arbitrary_bytes_are_parsed_or_refused(route: str, raw: bytes) -> None:
    try:
        body, _ = parse_body(route, raw)
    except RequestError as exc:
        assert exc.status == 400 and exc.code in ("invalid_json", "invalid_type", "invalid_value")
        return
    assert isinstance(body, dict)


@FUZZ
@given(route=st.sampled_from(sorted(POST_ROUTES)), body=request_bodies(), cut=st.integers(min_value=0))
def test_serialised_bodies_and_their_truncations(route: str, body: dict[str, Any], cut: int) -> None:
    raw = json.dumps(body).encode()  # not orjson: integers past 64 bits must reach the parser too
    for data in (raw, raw[: cut % (len(raw) + 1)]):
        try:
            parsed, f = parse_body(route, data)
        except RequestError as exc:
            assert exc.status == 400
            continue
        assert f.route == route


def test_route_parsers_are_all_fuzzed() -> None:
    assert set(POST_ROUTES) == {CHAT, COMPLETIONS, EMBEDDINGS, RESPONSES}


# ---- SSE -------------------------------------------------------------------------------------

_words = st.text(alphabet=string.ascii_letters + " .,éß中", min_size=0, max_size=12)


@st.composite
def chat_chunk(draw: st.DrawFn) -> dict[str, Any]:
    delta: dict[str, Any] = {}
    if draw(st.booleans()):
        delta["content"] = draw(_words)
    if draw(st.integers(0, 4)) == 0:
        delta["reasoning_content"] = draw(_words)
    choice: dict[str, Any] = {"index": draw(st.integers(0, 1)), "delta": delta, "finish_reason": None}
    if draw(st.booleans()):
        token = delta.get("content", "x") or "x"
        choice["logprobs"] = {"content": [{"token": token, "logprob": -draw(st.floats(0, 20)), "bytes": None,
                                           "top_logprobs": [{"token": "y", "logprob": -1.25, "bytes": None}]}]}
    return {"id": "c1", "object": "chat.completion.chunk", "model": "m", "created": 1, "choices": [choice]}


usage_chunk = st.builds(
    lambda p, c: {"id": "c1", "object": "chat.completion.chunk", "choices": [],
                  "usage": {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}},
    st.integers(0, 5000), st.integers(0, 5000),
)
# The oddities a real upstream sends: comments, named events, several data lines, junk payloads.
odd_events = st.sampled_from(
    [b": keep-alive", b"event: ping\ndata: {}", b"data: {not json", b"data: [1, 2]", b"data:", b"retry: 100",
     b'data: {"choices": "nope"}', b'data: {"choices": [{"delta": 7}]}', b'data: {"usage": {"prompt_tokens": "x"}}']
)


@st.composite
def sse_streams(draw: st.DrawFn) -> tuple[list[bytes], bytes]:
    """(events, the stream's bytes): events without terminators, joined with \\n\\n or \\r\\n\\r\\n."""
    events: list[bytes] = []
    for _ in range(draw(st.integers(0, 12))):
        kind = draw(st.integers(0, 5))
        if kind <= 3:
            events.append(b"data: " + orjson.dumps(draw(chat_chunk())))
        elif kind == 4:
            events.append(b"data: " + orjson.dumps(draw(usage_chunk)))
        else:
            events.append(draw(odd_events))
    if draw(st.booleans()):
        events.append(b"data: [DONE]")
    sep = draw(st.sampled_from([b"\n\n", b"\r\n\r\n"]))
    return events, b"".join(e + sep for e in events)


def _splits(draw: st.DrawFn, data: bytes) -> list[bytes]:
    cuts = sorted(set(draw(st.lists(st.integers(0, len(data)), max_size=12))))
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in zip(bounds, bounds[1:])]


def _shapers() -> dict[str, Any]:
    return {
        "none": None,
        "perturb": ShapingActions(response=ResponseTransforms(logprobs="round", remove_reasoning=True)),
        "truncate": ShapingActions(response=ResponseTransforms(logprobs="noise", truncate_tokens=3)),
        "fingerprint": ShapingActions(fingerprint=True),
    }


def _tap(mode: str, drop_usage: bool) -> StreamTap:
    actions = _shapers()[mode]
    shaper = None
    if actions is not None:
        ctx = ShapeContext(account="acct", noise_seed=b"seed", fingerprint_key=b"k" * 32)
        shaper = StreamShaper(CHAT, actions, ctx)
    return StreamTap(drop_usage_chunk=drop_usage, shaper=shaper)


def _run(tap: StreamTap, chunks: list[bytes], longest: int) -> bytes:
    out = bytearray()
    for chunk in chunks:
        out += tap.feed(chunk)
        # Bounded: what the tap holds back is only the unfinished event, never a backlog.
        assert len(tap._buffer) <= longest + 4
    out += tap.flush()
    return bytes(out)


@FUZZ
@given(
    stream=sse_streams(),
    mode=st.sampled_from(sorted(_shapers())),
    drop_usage=st.booleans(),
    data=st.data(),
)
def test_sse_output_does_not_depend_on_how_the_bytes_were_split(
    stream: tuple[list[bytes], bytes], mode: str, drop_usage: bool, data: st.DataObject
) -> None:
    events, raw = stream
    longest = max((len(e) for e in events), default=0)
    whole = _tap(mode, drop_usage)
    expected = _run(whole, [raw], len(raw))
    split = _tap(mode, drop_usage)
    got = _run(split, _splits(data.draw, raw), longest)
    assert got == expected
    assert (split.usage, split.chunks, split.done) == (whole.usage, whole.chunks, whole.done)
    if mode == "none" and not drop_usage:
        assert got == raw  # unshaped: byte for byte
    if mode == "none" and drop_usage:
        # Only the usage-only chunk Sluice asked for is held back from the client.
        kept = [e for e in events if not (e.startswith(b'data: {"id":"c1","object":"chat.completion.chunk",'
                                                         b'"choices":[],"usage"'))]
        sep = b"\r\n\r\n" if raw.endswith(b"\r\n\r\n") else b"\n\n"
        assert got == b"".join(e + sep for e in kept)
    for line in got.split(b"\n"):
        line = line.strip()
        if line.startswith(b"data: {") and mode != "none":
            payload = line[6:]
            try:
                orjson.loads(payload)
            except orjson.JSONDecodeError:
                assert payload.startswith(b"{not json")  # junk passes through as the upstream sent it


@FUZZ
@given(mode=st.sampled_from(sorted(_shapers())), data=st.data(), raw=st.binary(max_size=400))
def test_sse_garbage_never_raises_and_is_not_hoarded(mode: str, data: st.DataObject, raw: bytes) -> None:
    tap = _tap(mode, drop_usage=True)
    chunks = _splits(data.draw, raw)
    out = bytearray()
    for chunk in chunks:
        out += tap.feed(chunk)
        assert len(tap._buffer) <= len(raw)
    out += tap.flush()
    assert len(tap._buffer) == 0


@FUZZ
@given(mode=st.sampled_from(sorted(_shapers())), objs=st.lists(json_values, max_size=8))
def test_sse_any_json_payload_never_raises(mode: str, objs: list[Any]) -> None:
    tap = _tap(mode, drop_usage=True)
    raw = b"".join(b"data: " + json.dumps(o).encode() + b"\n\n" for o in objs) + b"data: [DONE]\n\n"
    tap.feed(raw)
    tap.flush()
    assert tap.done and tap.chunks >= 0


# ---- config ----------------------------------------------------------------------------------

# The loader's fields, by section: the fuzzer mostly writes known keys (with any value) and sometimes typos.
_SCHEMA: dict[str, list[str]] = {
    "listen": ["host", "port"],
    "admin": ["host", "port", "token_env"],
    "upstream": ["url", "api_key_env", "pass_client_key", "max_connections", "timeouts"],
    "server": ["max_body_bytes", "max_header_bytes", "trusted_proxies", "drain_seconds", "reload_poll_s",
               "header_timeout_s", "body_timeout_s"],
    "store": ["backend", "url", "url_env", "cluster", "timeout_ms", "failure", "breaker_failures",
              "breaker_cooldown_s", "replicas", "lease_ttl_s", "max_accounts", "tls_ca_file"],
    "keys": ["file", "inline"],
    "detection": ["mode", "allowlist", "half_life_s", "risk_half_life_s", "delay_s", "fingerprint_key_env"],
}  # fmt: skip
_LIMITS = ["requests_per_minute", "tokens_per_minute", "tokens_per_day", "tokens_per_month", "concurrency",
           "max_tokens", "completion_reserve"]
_plausible = st.one_of(
    st.integers(-3, 70000),
    st.floats(-2, 1e6, allow_nan=False),
    st.sampled_from(["open", "closed", "redis", "memory", "enforce", "shadow", "off", "http://127.0.0.1:8000",
                     "redis://127.0.0.1:1/0", "rediss://h:1", "10.0.0.0/8", "not-a-cidr", "", "ten",
                     "SLUICE_FUZZ_UNSET_VAR", "PATH"]),
    st.booleans(),
    st.none(),
    json_values,
)


def _section(draw: st.DrawFn, fields: list[str]) -> Any:
    if draw(st.integers(0, 15)) == 0:
        return draw(json_values)  # not even a mapping
    keys = draw(st.lists(st.sampled_from(fields), unique=True, max_size=len(fields)))
    section: dict[Any, Any] = {k: draw(_plausible) for k in keys}
    if draw(st.integers(0, 6)) == 0:
        section[draw(st.text(max_size=6) | st.integers(0, 5))] = draw(_plausible)  # a typo or a non-string key
    return section


@st.composite
def config_documents(draw: st.DrawFn) -> Any:
    if draw(st.integers(0, 20)) == 0:
        return draw(json_values)
    doc: dict[Any, Any] = {}
    for name, fields in _SCHEMA.items():
        if draw(st.booleans()):
            doc[name] = _section(draw, fields)
    if isinstance(doc.get("upstream"), dict) and draw(st.booleans()):
        doc["upstream"]["timeouts"] = _section(draw, ["connect", "first_byte", "idle", "total"])
    if draw(st.booleans()):
        tiers: dict[Any, Any] = {}
        for name in draw(st.lists(st.sampled_from(["default", "free", "pro", 7]), unique=True, max_size=3)):
            tier: dict[str, Any] = {}
            if draw(st.booleans()):
                tier["limits"] = _section(draw, _LIMITS)
            if draw(st.booleans()):
                tier["detection"] = {
                    "weights": _section(draw, [*SIGNALS[:4], "nope"]),
                    "levels": _section(draw, list(ACTIONS)),
                }
            if draw(st.booleans()):
                tier["shaping"] = {"perturb": {"response": _section(draw, ["logprobs", "truncate_tokens",
                                                                          "round_decimals"])}}
            if draw(st.integers(0, 4)) == 0:
                tier[draw(st.sampled_from(["store_failure", "weights", "hardening", "limts"]))] = draw(_plausible)
            tiers[name] = tier
        doc["tiers"] = tiers
    if draw(st.booleans()):
        doc["default_tier"] = draw(st.sampled_from(["default", "free", "missing"]) | json_values)
    if draw(st.integers(0, 3)) == 0:
        doc["accounts"] = {draw(st.sampled_from(["acme", "x"])): _section(draw, ["tier", "limits"])}
    return doc


@FUZZ
@given(doc=config_documents())
def test_config_is_valid_or_names_the_field_at_fault(doc: Any) -> None:
    try:
        config = parse_config(doc)
    except ConfigError as exc:
        message = str(exc)
        assert "Traceback" not in message and exc.reason
        if isinstance(doc, dict):
            assert exc.path, message  # a field is named
            assert message.startswith(exc.path + ": ")
        return
    assert isinstance(config, Config)
    assert config.default_tier in config.tiers
    assert all(t > 0 for t in (config.upstream.timeouts.connect, config.server.header_timeout_s))
    assert math.isfinite(config.store.timeout_ms)


@pytest.mark.parametrize(
    ("doc", "path"),
    [
        ({"listen": {"port": 80, 3: "x"}}, "listen.3"),
        ({"server": {"header_timeout_s": 0}}, "server.header_timeout_s"),
        ({"store": {"tls_ca_file": "/etc/hostname", "backend": "redis", "url": "redis://h:1"}}, "store.tls_ca_file"),
    ],
)
def test_config_corner_cases_name_their_field(doc: dict[str, Any], path: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(doc)
    assert raised.value.path.startswith(path), str(raised.value)


def test_numeric_tier_and_account_names_keep_their_settings() -> None:
    # YAML reads `1:` and `1001:` as integers; they once silently lost their limits (read back by the string).
    config = parse_config({
        "tiers": {1: {"limits": {"requests_per_minute": 5}}},
        "accounts": {1001: {"limits": {"concurrency": 2}}},
    })
    assert config.tiers["1"].limits.requests_per_minute == 5
    assert config.accounts["1001"].limits == {"concurrency": 2}
