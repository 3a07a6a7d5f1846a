"""The decision for one request, shared by the live proxy and ``sluice replay``.

``plan`` (before the store) and ``judge`` (after it) are pure: the proxy calls
the store between them over the network, replay calls the memory store in
process, and both get the same decision for the same traffic.
"""

from __future__ import annotations

from typing import NamedTuple

from proxy.config import Config, Limits, Tier
from proxy.detect import FLAVORED, FOLLOW_UP, Assessment, Campaign, Observation, Outcome, assess, observe
from proxy.limits import Admission, admission_cost
from proxy.policy import Decision, decide
from proxy.request import RequestFeatures


NO_CAMPAIGN = Campaign()


# A NamedTuple, like the detector's records: immutable and cheap to build, one per request.
class Plan(NamedTuple):
    tier: Tier
    limits: Limits
    cost: int
    observation: Observation | None
    half_lives: tuple[float, float]


def plan(
    config: Config,
    account: str,
    tier_name: str,
    features: RequestFeatures,
    ip: str = "",
    user_agent: str = "",
    runtime_allowlist: frozenset[str] = frozenset(),
) -> Plan:
    tier = config.tier(tier_name)
    limits = config.limits_for(account, tier)
    cost = admission_cost(features.prompt_tokens, features.max_tokens, features.n, limits, tier.weights)
    detection = config.detection
    # The operators' runtime allowlist (proxy/overrides.py) counts like the config's.
    allowed = account in detection.allowlist or account in runtime_allowlist
    observed = detection.mode != "off" and not allowed
    observation = observe(features, limits, ip, user_agent) if observed else None
    return Plan(tier, limits, cost, observation, (detection.half_life_s, detection.risk_half_life_s))


def judge(
    config: Config, p: Plan, account: str, admission: Admission, runtime_allowlist: frozenset[str] = frozenset()
) -> tuple[Decision, Assessment | None]:
    assessment = None
    if admission.window is not None:
        assessment = assess(admission.window, admission.campaign or NO_CAMPAIGN, p.tier.detection)
    decision = decide(
        admission,
        assessment,
        p.tier.detection.levels,
        config.detection.mode,
        account in config.detection.allowlist or account in runtime_allowlist,
    )
    return decision, assessment


def outcome(p: Plan, decision: Decision, prompt_tokens: int, completion_tokens: int, served: bool) -> Outcome | None:
    if p.observation is None:
        return None
    flags = p.observation.flags
    return Outcome(prompt_tokens, completion_tokens, bool(flags & FLAVORED), decision.risk, served,
                   bool(flags & FOLLOW_UP))
