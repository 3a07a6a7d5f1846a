"""Request side: API-surface hardening (refusals), logit-bias sweep neutralisation, level clamps.

All pure: they read the parsed body and its ``RequestFeatures`` (proxy/request.py,
already validated for type and range) and mutate the body in place.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from proxy.request import CHAT, COMPLETIONS, RESPONSES, RequestFeatures
from proxy.shaping.actions import (
    CLAMP_MAX_TOKENS,
    CLAMP_N,
    CLAMP_TOP_LOGPROBS,
    DROP_LOGIT_BIAS,
    DROP_LOGPROBS,
    SWEEP_DROP_LOGIT_BIAS,
    SWEEP_DROP_LOGPROBS,
    TEMPERATURE_FLOOR,
    Hardening,
    Refusal,
    ShapingActions,
)

_MAX_TOKEN_FIELDS = ("max_completion_tokens", "max_tokens", "max_output_tokens")
_LOGPROBS_INCLUDE = "message.output_text.logprobs"  # how /v1/responses asks for logprobs


def _above(param: str, limit: float, got: float) -> Refusal:
    # OpenAI's wording for the same check, so the refusal reads like the upstream's own validation.
    kind = "integer" if isinstance(limit, int) else "number"
    return Refusal(
        f"Invalid '{param}': {kind} above maximum value. Expected a value <= {limit}, but got {got} instead.", param
    )


def _top_logprobs_param(route: str) -> str:
    # In the completions API, `logprobs` is the number of alternatives; elsewhere it is `top_logprobs`.
    return "logprobs" if route == COMPLETIONS else "top_logprobs"


def check_request(features: RequestFeatures, hardening: Hardening) -> Refusal | None:
    """The first hardening limit the request breaks, or None. Cheap: no body walk."""
    if features.top_logprobs is not None and features.top_logprobs > hardening.max_top_logprobs:
        return _above(_top_logprobs_param(features.route), hardening.max_top_logprobs, features.top_logprobs)
    if features.n > hardening.max_n:
        return _above("n", hardening.max_n, features.n)
    bias = features.logit_bias
    if bias:
        if len(bias) > hardening.max_logit_bias_entries:
            return Refusal(
                f"Invalid 'logit_bias': too many tokens. Expected at most {hardening.max_logit_bias_entries} "
                f"entries, but got {len(bias)} instead.",
                "logit_bias",
            )
        limit = hardening.max_logit_bias
        for token, weight in bias.items():
            if abs(weight) > limit:
                return Refusal(
                    f"Invalid 'logit_bias': bias values must be between -{limit:g} and {limit:g}, "
                    f"got {weight:g} for token {token}.",
                    "logit_bias",
                )
    return None


def wants_logprobs(features: RequestFeatures, body: dict[str, Any] | None = None) -> bool:
    """Whether the request asks for logprobs. On /v1/responses that may be the ``include`` entry
    alone (no ``top_logprobs``), which the features do not carry: pass the body to see it."""
    if features.logprobs or features.top_logprobs:
        return True
    include = body.get("include") if body is not None and features.route == RESPONSES else None
    return isinstance(include, list) and _LOGPROBS_INCLUDE in include


def sweep_action(biased: int, distinct_bias: int, has_bias: bool, logprobs: bool, hardening: Hardening) -> str | None:
    """Whether to neutralise a logit-bias sweep, and how.

    ``biased`` / ``distinct_bias`` are the detector window's counts (``Window.biased``,
    ``Window.distinct_bias``: biased requests among the account's recent ones, and their
    distinct token sets, this request included). The logit-stealing attacks (Carlini et al.
    2024, Finlayson et al. 2024) need both a bias whose token set keeps changing and the
    logprobs it moves; dropping either one from the request leaves nothing to measure.
    A classifier's bias set is constant (or one per task), so its distinct count stays small.
    """
    if not (hardening.neutralise_sweeps and has_bias and logprobs) or biased <= 0:
        return None
    if distinct_bias < hardening.sweep_min_distinct or distinct_bias / biased < hardening.sweep_distinct_share:
        return None
    return SWEEP_DROP_LOGPROBS if hardening.sweep_drop == "logprobs" else SWEEP_DROP_LOGIT_BIAS


def neutralise_sweep(
    body: dict[str, Any], features: RequestFeatures, biased: int, distinct_bias: int, hardening: Hardening
) -> list[str]:
    """Apply ``sweep_action``; returns the action applied ([] or one name)."""
    action = sweep_action(biased, distinct_bias, bool(features.logit_bias), wants_logprobs(features, body), hardening)
    if action == SWEEP_DROP_LOGIT_BIAS:
        body.pop("logit_bias", None)
    elif action == SWEEP_DROP_LOGPROBS:
        _drop_logprobs(body, features.route)
    return [action] if action else []


def _drop_logprobs(body: dict[str, Any], route: str) -> bool:
    changed = False
    if route == RESPONSES:
        include = body.get("include")
        if isinstance(include, list) and _LOGPROBS_INCLUDE in include:
            body["include"] = [i for i in include if i != _LOGPROBS_INCLUDE]
            changed = True
        changed = body.pop("top_logprobs", None) is not None or changed
        return changed
    # Chat: top_logprobs without logprobs is an upstream error, so both go.
    for key in ("logprobs", "top_logprobs"):
        if key in body:
            del body[key]
            changed = True
    return changed


def shape_request(body: dict[str, Any], features: RequestFeatures, actions: ShapingActions) -> list[str]:
    """Apply a level's request clamps to the parsed body; returns the names of those that changed it.

    ``features`` is left as parsed: detection scores what the client asked for, not what
    Sluice forwarded.
    """
    c = actions.request
    route = features.route
    applied: list[str] = []
    if route not in (CHAT, COMPLETIONS, RESPONSES):
        return applied
    if c.max_n is not None and route != RESPONSES and features.n > c.max_n:
        body["n"] = c.max_n  # best_of (completions) stays >= n: it was >= the larger n
        applied.append(CLAMP_N)
    if c.max_tokens is not None and _clamp_max_tokens(body, route, c.max_tokens):
        applied.append(CLAMP_MAX_TOKENS)
    if c.drop_logprobs:
        if _drop_logprobs(body, route):
            applied.append(DROP_LOGPROBS)
    elif c.max_top_logprobs is not None:
        key = _top_logprobs_param(route)
        value = body.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > c.max_top_logprobs:
            body[key] = c.max_top_logprobs
            applied.append(CLAMP_TOP_LOGPROBS)
    if c.drop_logit_bias and body.pop("logit_bias", None) is not None:
        applied.append(DROP_LOGIT_BIAS)
    if c.temperature_floor is not None:
        temperature = body.get("temperature")
        # Absent means the upstream default of 1.0; setting it on a reasoning model that rejects
        # temperature would break the request, so an absent value is only raised above 1.0.
        if (temperature is None and c.temperature_floor > 1.0) or (
            isinstance(temperature, (int, float)) and temperature < c.temperature_floor
        ):
            body["temperature"] = c.temperature_floor
            applied.append(TEMPERATURE_FLOOR)
    return applied


def _clamp_max_tokens(body: dict[str, Any], route: str, cap: int) -> bool:
    changed = False
    present = False
    for key in _MAX_TOKEN_FIELDS:
        value = body.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            present = True
            if value > cap:
                body[key] = cap
                changed = True
    if not present:
        # max_completion_tokens is the chat field every current model accepts (o-series reject max_tokens).
        body[{CHAT: "max_completion_tokens", COMPLETIONS: "max_tokens", RESPONSES: "max_output_tokens"}[route]] = cap
        changed = True
    return changed


RATELIMIT_PREFIX = "x-ratelimit-"


def strip_ratelimit_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """``headers`` without the ``x-ratelimit-*`` family (a free feedback signal for a rate-shaping attacker)."""
    return {k: v for k, v in headers.items() if not k.lower().startswith(RATELIMIT_PREFIX)}
