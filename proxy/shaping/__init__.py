"""Query shaping (issue 5): pure request clamps, response transforms and the output fingerprint.

No I/O: the server parses, calls these, and serialises. What to wire:

* ``check_request(features, hardening)`` before admission: a ``Refusal`` (400) or None.
* ``neutralise_sweep(body, features, window.biased, window.distinct_bias, hardening)`` once the
  detector window is known: drops the bias or the logprobs of a logit-bias sweep.
* ``shape_request(body, features, actions)`` for a level's clamps (re-serialise the body).
* ``shape_json(body, route, actions, ctx)`` on a JSON answer; ``StreamShaper`` on an SSE one.
* ``strip_ratelimit_headers`` when ``actions.hide_ratelimit_headers``.
* ``verify`` / ``attribute`` for ``sluice fingerprint verify``.
"""

from proxy.shaping.actions import (
    NO_ACTIONS,
    Hardening,
    Refusal,
    RequestClamps,
    ResponseTransforms,
    ShapeContext,
    ShapingActions,
    noise_seed,
    structured_output,
)
from proxy.shaping.body import shape_json
from proxy.shaping.clamp import (
    check_request,
    neutralise_sweep,
    shape_request,
    strip_ratelimit_headers,
    sweep_action,
    wants_logprobs,
)
from proxy.shaping.fingerprint import TextMarker, attribute, evidence, fingerprint_text, scan, verify
from proxy.shaping.stream import StreamShaper, encode_event

__all__ = [
    "NO_ACTIONS",
    "Hardening",
    "Refusal",
    "RequestClamps",
    "ResponseTransforms",
    "ShapeContext",
    "ShapingActions",
    "StreamShaper",
    "TextMarker",
    "attribute",
    "check_request",
    "encode_event",
    "evidence",
    "fingerprint_text",
    "neutralise_sweep",
    "noise_seed",
    "scan",
    "shape_json",
    "shape_request",
    "strip_ratelimit_headers",
    "structured_output",
    "sweep_action",
    "verify",
    "wants_logprobs",
]
