"""What a policy level does to a request and its response, and the tier's API-surface limits.

Frozen dataclasses only: config.py builds them from YAML (``tiers.<t>.shaping``),
the server hands them to the pure functions of this package. Every default is
"do nothing" except ``Hardening``, whose defaults are chosen so that the two
legitimate heavy users of the logprob surface keep working: a classifier with a
constant bias on a few label tokens reading ``top_logprobs``, and an eval
harness reading ``top_logprobs`` 20.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final, Literal

from proxy.errors import RequestError
from proxy.request import RequestFeatures

LogprobMode = Literal["keep", "strip", "round", "noise"]
SweepDrop = Literal["logit_bias", "logprobs"]

# Action names as they appear in the audit log ("actions applied").
CLAMP_N: Final = "clamp_n"
CLAMP_MAX_TOKENS: Final = "clamp_max_tokens"
CLAMP_TOP_LOGPROBS: Final = "clamp_top_logprobs"
DROP_LOGIT_BIAS: Final = "drop_logit_bias"
DROP_LOGPROBS: Final = "drop_logprobs"
TEMPERATURE_FLOOR: Final = "temperature_floor"
SWEEP_DROP_LOGIT_BIAS: Final = "sweep_drop_logit_bias"
SWEEP_DROP_LOGPROBS: Final = "sweep_drop_logprobs"
STRIP_LOGPROBS: Final = "strip_logprobs"
ROUND_LOGPROBS: Final = "round_logprobs"
NOISE_LOGPROBS: Final = "noise_logprobs"
# The action name recorded for each logprob mode that changes something.
LOGPROB_ACTIONS: Final = MappingProxyType({"strip": STRIP_LOGPROBS, "round": ROUND_LOGPROBS, "noise": NOISE_LOGPROBS})
REMOVE_REASONING: Final = "remove_reasoning"
TRUNCATE: Final = "truncate"
FINGERPRINT: Final = "fingerprint"
HIDE_RATELIMIT_HEADERS: Final = "hide_ratelimit_headers"


@dataclass(frozen=True, slots=True)
class RequestClamps:
    """Request rewrites of a level; None / False: leave the field alone."""

    max_n: int | None = None
    max_tokens: int | None = None  # caps max_tokens / max_completion_tokens / max_output_tokens
    max_top_logprobs: int | None = None  # chat / responses top_logprobs, completions logprobs
    drop_logit_bias: bool = False
    drop_logprobs: bool = False
    temperature_floor: float | None = None


@dataclass(frozen=True, slots=True)
class ResponseTransforms:
    """Response rewrites of a level, for JSON bodies and SSE streams alike."""

    logprobs: LogprobMode = "keep"
    round_decimals: int = 1  # for "round"
    noise_scale: float = 0.5  # standard deviation in nats, for "noise"
    remove_reasoning: bool = False
    truncate_tokens: int | None = None  # visible completion tokens kept per choice (per response for /v1/responses)


@dataclass(frozen=True, slots=True)
class ShapingActions:
    """Everything one policy level does (the ``perturb`` level's payload)."""

    request: RequestClamps = RequestClamps()
    response: ResponseTransforms = ResponseTransforms()
    fingerprint: bool = False
    hide_ratelimit_headers: bool = False

    @property
    def logprob_mode(self) -> LogprobMode:
        # A watermark changes the text, and the token list of the logprobs would give the
        # original back (and show where it was changed): fingerprinting strips logprobs.
        return "strip" if self.fingerprint else self.response.logprobs

    @property
    def shapes_response(self) -> bool:
        r = self.response
        return self.fingerprint or r.logprobs != "keep" or r.remove_reasoning or r.truncate_tokens is not None


NO_ACTIONS: Final = ShapingActions()


@dataclass(frozen=True, slots=True)
class Hardening:
    """API-surface limits of a tier, always on (refusals) plus logit-bias sweep neutralisation."""

    max_top_logprobs: int = 20  # an eval harness reads 20
    max_n: int = 16
    max_logit_bias_entries: int = 300  # a classifier biases a handful; a ban list a few hundred
    max_logit_bias: float = 100.0  # OpenAI's own range: forcing a label token needs 100
    neutralise_sweeps: bool = True
    # A sweep: among the account's recent biased requests (the detector's ring, 64 deep), at
    # least sweep_min_distinct distinct bias token sets making up at least sweep_distinct_share
    # of them. A classifier keeps one set (or a few, one per task): never a sweep.
    sweep_min_distinct: int = 8
    sweep_distinct_share: float = 0.5
    sweep_drop: SweepDrop = "logit_bias"  # what a sweeping request loses (either defeats the attack)


@dataclass(frozen=True, slots=True)
class Refusal:
    """A request refused by the hardening limits, in OpenAI's error shape."""

    message: str
    param: str
    code: str = "invalid_value"
    status: int = 400

    def error(self) -> RequestError:
        return RequestError(self.status, self.message, self.code, self.param)

    def body(self) -> dict[str, Any]:
        return {
            "error": {"message": self.message, "type": "invalid_request_error", "param": self.param, "code": self.code}
        }


@dataclass(frozen=True, slots=True)
class ShapeContext:
    """Per-request inputs of the response transforms."""

    account: str = ""
    noise_seed: bytes = b""  # see noise_seed()
    fingerprint_key: bytes | None = None  # the secret from config; None: no fingerprint possible
    structured: bool = False  # JSON output was asked for: never fingerprinted (see structured_output())


def noise_seed(secret: bytes, account: str, features: RequestFeatures) -> bytes:
    """The logprob-noise seed of a request: the same for a repeat of the same request.

    Fresh noise per request would let an attacker average it away by asking the same thing
    N times; noise keyed by (account, model, prompt) repeats exactly, so repeats add nothing.
    """
    h = hashlib.blake2b(key=hashlib.blake2b(secret, digest_size=32).digest(), digest_size=16, person=b"sluice-noise")
    for part in (account, features.route, features.model or "", features.system_text, features.prompt_text):
        h.update(part.encode())
        h.update(b"\x1f")
    return h.digest()


def structured_output(body: dict[str, Any]) -> bool:
    """True when the request asks for JSON output (its text is data, not prose)."""
    fmt = body.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") in ("json_object", "json_schema"):
        return True
    text = body.get("text")
    if isinstance(text, dict):
        f = text.get("format")
        if isinstance(f, dict) and f.get("type") in ("json_object", "json_schema"):
            return True
    return False
