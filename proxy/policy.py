"""Policy: budget result + detector assessment + tier levels -> one Decision (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from proxy.config import ACTIONS, Levels
from proxy.detect import Assessment
from proxy.limits import Admission

ALLOW = "allow"
DELAY = "delay"
PERTURB = "perturb"
THROTTLE = "throttle"
BLOCK = "block"


@dataclass(frozen=True, slots=True)
class Decision:
    """What Sluice does with one request, and why (the audit/replay record)."""

    action: str  # allow | delay | perturb | throttle | block
    cause: str  # none | budget | extraction
    risk: float
    reasons: tuple[str, ...] = ()
    shadow: bool = False  # extraction action computed but not enforced (mode: shadow)

    @property
    def enforced_action(self) -> str:
        return ALLOW if self.shadow else self.action

    def record(self, i: int, ts: float, account: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "i": i,
            "ts": ts,
            "account": account,
            "action": self.action,
            "cause": self.cause,
            "risk": round(self.risk, 4),
            "reasons": list(self.reasons),
        }
        if self.shadow:
            out["shadow"] = True
        return out


ALLOWED = Decision(ALLOW, "none", 0.0)


def extraction_action(risk: float, levels: Levels) -> str:
    action = ALLOW
    for name in ACTIONS:  # in rising severity
        threshold = getattr(levels, name)
        if threshold is not None and risk >= threshold:
            action = name
    return action


def decide(
    admission: Admission,
    assessment: Assessment | None,
    levels: Levels,
    mode: str,
    allowlisted: bool,
) -> Decision:
    risk = assessment.risk if assessment is not None else 0.0
    if not admission.allowed:
        return Decision(THROTTLE, "budget", risk, (admission.limit or "budget",))
    if assessment is None or allowlisted or mode == "off":
        return Decision(ALLOW, "none", risk) if risk else ALLOWED
    action = extraction_action(risk, levels)
    if action == ALLOW:
        return Decision(ALLOW, "none", risk)
    return Decision(action, "extraction", risk, tuple(assessment.reasons()), shadow=mode == "shadow")

