"""Query shaping through the live proxy: the stub upstream behind it, the official openai SDK in front.

The perturb level is forced deterministically by a tier whose only level is perturb at
risk 0.0 (``policy.extraction_action`` applies a level when risk >= its threshold, so every
observed request of that tier is perturbed); an allowlisted account of the same tier is
never judged and takes the ordinary path. A second tier puts delay at 0.0 (with a zero
tarpit) for the delay level's default: hidden x-ratelimit-* headers and nothing else.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import openai
import pytest

from proxy.accounts import hash_key
from proxy.config import Config, ConfigError, KeyEntry, parse_config
from proxy.shaping import verify
from proxy.stub import PROSE, REASONING, StubUpstream
from tests.harness import base_config, eventually, running_sluice

ONLY = {"delay": None, "perturb": None, "throttle": None, "block": None}
TIERS = {
    "default": {"limits": {"requests_per_minute": 1000}, "detection": {"levels": {**ONLY, "perturb": 0.0}}},
    "tiny": {"limits": {"requests_per_minute": 2}},
    "slow": {"limits": {"requests_per_minute": 1000}, "detection": {"levels": {**ONLY, "delay": 0.0}}},
    "strict": {"limits": {"requests_per_minute": 1000}, "hardening": {"max_n": 4, "max_logit_bias_entries": 3}},
}
EXTRA_KEYS = {"sk-test-carol": ("carol", "slow"), "sk-test-dave": ("dave", "strict")}
PROMPT = [{"role": "user", "content": "Tell me about rivers"}]
ASK = {"n": 3, "logprobs": True, "top_logprobs": 10, "logit_bias": {"50256": -100, "11": 5}, "max_tokens": 12}


def configure(upstream_url: str) -> Config:
    # alice (default tier) is perturbed; bob, same tier, is allowlisted: never judged, never shaped.
    config = base_config(upstream_url, tiers=TIERS, detection={"allowlist": ["bob"], "delay_s": 0})
    extra = tuple(KeyEntry(hash_key(k), account, tier) for k, (account, tier) in EXTRA_KEYS.items())
    return replace(config, keys=replace(config.keys, inline=config.keys.inline + extra))


def ratelimit_headers(headers: Any) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower().startswith("x-ratelimit-")}


def rounded(value: float) -> bool:
    return round(value, 1) == value


def all_logprobs(entries: list[Any]) -> list[float]:
    values = []
    for entry in entries:
        values.append(entry.logprob)
        values.extend(top.logprob for top in entry.top_logprobs)
    return values


async def test_perturb_shapes_a_json_chat_answer_and_the_allow_path_does_not() -> None:
    async with running_sluice(configure=configure) as run:
        raw = await run.client().chat.completions.with_raw_response.create(
            model="stub-reasoning", messages=PROMPT, **ASK
        )
        answer = raw.parse()  # the SDK parses the shaped body
        seen = run.stub.stats.last_body
        # Request clamps, as the upstream saw them.
        assert seen["n"] == 1 and seen["top_logprobs"] == 5 and "logit_bias" not in seen
        assert seen["logprobs"] is True and seen["max_tokens"] == 12
        # Response transforms, as the SDK received them.
        message = answer.choices[0].message
        assert message.content and len(message.content.split()) == 12
        assert "reasoning_content" not in (message.model_extra or {})
        assert answer.choices[0].logprobs is not None and answer.choices[0].logprobs.content
        entries = answer.choices[0].logprobs.content
        assert len(entries) == 12 and all(len(e.top_logprobs) == 5 for e in entries)
        assert all(rounded(v) for v in all_logprobs(entries))
        assert answer.usage is not None and answer.usage.completion_tokens == 12
        assert ratelimit_headers(raw.headers) == {}
        record = run.sluice.decisions.get("alice").recent[-1]  # type: ignore[union-attr]
        assert record["action"] == "perturb" and record["cause"] == "extraction"
        assert set(record["actions"]) == {
            "clamp_n", "clamp_top_logprobs", "drop_logit_bias", "round_logprobs", "remove_reasoning",
            "hide_ratelimit_headers",
        }  # fmt: skip

        # The same request from an allow-level account goes through untouched.
        raw = await run.client("sk-test-bob").chat.completions.with_raw_response.create(
            model="stub-reasoning", messages=PROMPT, **ASK
        )
        answer = raw.parse()
        seen = run.stub.stats.last_body
        assert seen["n"] == 3 and seen["top_logprobs"] == 10 and seen["logit_bias"] == ASK["logit_bias"]
        assert answer.choices[0].message.model_extra == {"reasoning_content": REASONING}
        entries = answer.choices[0].logprobs.content  # type: ignore[union-attr]
        assert all(len(e.top_logprobs) == 10 for e in entries)
        assert not all(rounded(v) for v in all_logprobs(entries))
        assert ratelimit_headers(raw.headers)["x-ratelimit-limit-requests"] == "1000"
        assert run.sluice.decisions.get("bob").actions == {"allow": 1}  # type: ignore[union-attr]


async def _stream(run: Any, key: str, **extra: Any) -> tuple[list[Any], Any]:
    raw = await run.client(key).chat.completions.with_raw_response.create(
        model="stub-reasoning", messages=PROMPT, stream=True, **ASK, **extra
    )
    stream = raw.parse()
    return [chunk async for chunk in stream], raw.headers


def _stream_logprobs(chunks: list[Any]) -> list[Any]:
    return [e for c in chunks for ch in c.choices if ch.logprobs and ch.logprobs.content for e in ch.logprobs.content]


async def test_perturb_shapes_a_chat_stream_chunk_by_chunk_and_bills_what_was_generated() -> None:
    async with running_sluice(configure=configure) as run:
        chunks, headers = await _stream(run, "sk-test-alice")
        seen = run.stub.stats.last_body
        assert seen["n"] == 1 and seen["top_logprobs"] == 5 and "logit_bias" not in seen
        assert seen["stream_options"] == {"include_usage": True}  # Sluice asked for usage...
        assert all(c.choices for c in chunks)  # ...and still drops the usage chunk the client did not ask for
        text = "".join(c.choices[0].delta.content or "" for c in chunks)
        assert len(text.split()) == 12
        assert not any("reasoning_content" in (c.choices[0].delta.model_extra or {}) for c in chunks)
        entries = _stream_logprobs(chunks)
        assert len(entries) == 12 and all(len(e.top_logprobs) == 5 for e in entries)
        assert all(rounded(v) for v in all_logprobs(entries))
        assert ratelimit_headers(headers) == {}
        # Billing counts what the upstream generated (read before shaping).
        tier = run.sluice.config.tier("default")
        limits = run.sluice.config.limits_for("alice", tier)
        expected = run.stub.stats.prompt_tokens + run.stub.stats.completion_tokens
        charged = await eventually(lambda: _tokens_today(run, "alice", limits, expected))
        assert charged == expected

        # With usage asked for, the client gets the usage chunk, shaped stream or not.
        chunks, _ = await _stream(run, "sk-test-alice", stream_options={"include_usage": True})
        assert chunks[-1].choices == [] and chunks[-1].usage is not None
        assert chunks[-1].usage.completion_tokens == 12

        # The allow path: reasoning and raw logprobs reach the client, headers too.
        chunks, headers = await _stream(run, "sk-test-bob")
        assert any((c.choices[0].delta.model_extra or {}).get("reasoning_content") == REASONING for c in chunks)
        entries = _stream_logprobs(chunks)
        assert len(entries) == 12 and not all(rounded(v) for v in all_logprobs(entries))
        assert "x-ratelimit-remaining-requests" in ratelimit_headers(headers)


async def _tokens_today(run: Any, account: str, limits: Any, expected: int) -> int | None:
    used = (await run.sluice.store.usage(account, limits, time.time()))["tokens_today"]
    return used if used == expected else None


async def test_delay_level_hides_the_ratelimit_headers_only() -> None:
    async with running_sluice(configure=configure) as run:
        raw = await run.client("sk-test-carol").chat.completions.with_raw_response.create(
            model="stub-model", messages=PROMPT, **ASK
        )
        answer = raw.parse()
        seen = run.stub.stats.last_body
        assert seen["n"] == 3 and seen["top_logprobs"] == 10 and "logit_bias" in seen
        assert not all(rounded(v) for v in all_logprobs(answer.choices[0].logprobs.content))  # type: ignore[union-attr]
        assert ratelimit_headers(raw.headers) == {}
        record = run.sluice.decisions.get("carol").recent[-1]  # type: ignore[union-attr]
        assert record["action"] == "delay" and record["actions"] == ["hide_ratelimit_headers"]


@pytest.mark.parametrize(
    ("key", "ask", "param"),
    [
        ("sk-test-alice", {"n": 17}, "n"),  # default hardening: n <= 16
        ("sk-test-alice", {"logit_bias": {str(t): 1 for t in range(301)}}, "logit_bias"),  # <= 300 entries
        ("sk-test-dave", {"n": 5}, "n"),  # the tier's own hardening.max_n: 4
        ("sk-test-dave", {"logit_bias": {"1": 1, "2": 1, "3": 1, "4": 1}}, "logit_bias"),
    ],
)
async def test_a_hardening_refusal_is_a_400_in_the_openai_shape(key: str, ask: dict[str, Any], param: str) -> None:
    async with running_sluice(configure=configure) as run:
        with pytest.raises(openai.BadRequestError) as caught:
            await run.client(key).chat.completions.create(model="stub-model", messages=PROMPT, **ask)
        assert caught.value.status_code == 400
        body = caught.value.response.json()
        assert set(body["error"]) == {"message", "type", "param", "code"}
        assert body["error"]["type"] == "invalid_request_error"
        assert body["error"]["param"] == param and body["error"]["code"] == "invalid_value"
        assert run.stub.stats.requests == 0  # refused before admission: nothing reached the upstream
        # Within the limits, the same tier is served.
        await run.client(key).chat.completions.create(model="stub-model", messages=PROMPT, n=4)
        assert run.stub.stats.requests == 1


def test_shaping_config_fields_and_their_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    config = parse_config(
        {
            "tiers": {
                "t": {
                    "hardening": {"max_n": 4, "sweep_drop": "logprobs"},
                    "shaping": {
                        "perturb": {
                            "request": {"max_n": None, "temperature_floor": 0.7},
                            "response": {"logprobs": "strip"},
                        },
                        "delay": {"hide_ratelimit_headers": False},
                    },
                }
            }
        }
    )
    tier = config.tier("t")
    assert tier.hardening.max_n == 4 and tier.hardening.sweep_drop == "logprobs"
    perturb = tier.shaping.perturb
    assert perturb.request.max_n is None and perturb.request.temperature_floor == 0.7
    assert perturb.request.max_top_logprobs == 5 and perturb.request.drop_logit_bias  # the level's defaults stay
    assert perturb.response.logprobs == "strip" and perturb.response.remove_reasoning
    assert not perturb.fingerprint and not tier.shaping.delay.hide_ratelimit_headers
    bad = [
        ({"tiers": {"t": {"shaping": {"perturb": {"request": {"max_nn": 1}}}}}}, 
         "tiers.t.shaping.perturb.request.max_nn"),
        ({"tiers": {"t": {"hardening": {"max_top": 1}}}}, "tiers.t.hardening.max_top"),
        ({"tiers": {"t": {"shaping": {"perturb": {"fingerprint": True}}}}}, "tiers.t.shaping.perturb.fingerprint"),
        ({"tiers": {"t": {"shaping": {"block": {}}}}}, "tiers.t.shaping.block"),
        ({"detection": {"fingerprint_key_env": "SLUICE_TEST_NO_SUCH_VAR"}}, "detection.fingerprint_key_env"),
    ]
    monkeypatch.delenv("SLUICE_TEST_NO_SUCH_VAR", raising=False)
    for doc, path in bad:
        with pytest.raises(ConfigError) as caught:
            parse_config(doc)
        assert caught.value.path == path
    monkeypatch.setenv("SLUICE_TEST_FP_KEY", "a secret")
    config = parse_config({"detection": {"fingerprint_key_env": "SLUICE_TEST_FP_KEY"}})
    assert config.detection.fingerprint_key == b"a secret" and "a secret" not in repr(config)
    assert config.tier("default").shaping.perturb.fingerprint  # on by default once a secret exists


async def test_a_fingerprinted_stream_still_parses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLUICE_TEST_FP_KEY", "a secret")

    def fingerprinted(upstream_url: str) -> Config:
        return base_config(
            upstream_url, tiers=TIERS, detection={"fingerprint_key_env": "SLUICE_TEST_FP_KEY", "allowlist": ["bob"]}
        )

    stub = StubUpstream(reply_tokens=60)
    async with running_sluice(stub, configure=fingerprinted) as run:
        texts = {}
        for key in ("sk-test-alice", "sk-test-bob"):
            stream = await run.client(key).chat.completions.create(
                model="stub-prose", messages=PROMPT, stream=True, logprobs=True, max_tokens=60
            )
            chunks = [chunk async for chunk in stream]
            texts[key] = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
            if key == "sk-test-alice":
                assert not _stream_logprobs(chunks)  # a fingerprinted answer carries no logprobs
        # bob's answer is the upstream's; alice's is marked, and her mark alone is found in it.
        assert texts["sk-test-bob"] == " ".join(PROSE[i % len(PROSE)] for i in range(60))
        assert texts["sk-test-alice"] != texts["sk-test-bob"]
        results = verify(texts["sk-test-alice"], b"a secret", ["alice", "bob", "carol"])
        assert results[0][0] == "alice" and results[0][2] < min(r[2] for r in results[1:])
        record = run.sluice.decisions.get("alice").recent[-1]  # type: ignore[union-attr]
        assert "fingerprint" in record["actions"]
        # The JSON answer carries the same mark as the stream.
        answer = await run.client().chat.completions.create(model="stub-prose", messages=PROMPT, max_tokens=60)
        assert answer.choices[0].message.content == texts["sk-test-alice"]


async def test_a_logit_bias_sweep_loses_its_bias_and_a_constant_bias_keeps_it() -> None:
    levels_off = {"detection": {"levels": ONLY}}  # no policy level: only the hardening acts
    tiers = {**TIERS, "strict": {**TIERS["strict"], "hardening": {}, **levels_off}}

    def config(upstream_url: str) -> Config:
        return replace(configure(upstream_url), tiers=base_config(upstream_url, tiers=tiers).tiers)

    async with running_sluice(configure=config) as run:
        kept = []
        for _ in range(12):  # a classifier: one constant bias on its label tokens, reading logprobs
            await run.client("sk-test-carol").chat.completions.create(
                model="stub-model", messages=PROMPT, logprobs=True, top_logprobs=5, logit_bias={"1": 100, "2": 100}
            )
            kept.append("logit_bias" in run.stub.stats.last_body)
        assert all(kept)
        kept = []
        for i in range(12):  # a sweep: a new biased token set each time, read through the logprobs
            await run.client("sk-test-dave").chat.completions.create(
                model="stub-model", messages=PROMPT, logprobs=True, top_logprobs=5, logit_bias={str(100 + i): 100}
            )
            kept.append("logit_bias" in run.stub.stats.last_body)
        assert kept == [True] * 7 + [False] * 5  # dropped from the 8th distinct set on (sweep_min_distinct)
