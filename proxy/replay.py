"""``sluice replay``: the live proxy's admission, detector and policy on a recorded trace.

The clock is the trace's: each record is admitted at its ``ts`` and settled at
once with its recorded usage (a request the policy throttled or blocked is
settled as served nothing). Deterministic: the same config and trace give the
same decisions, byte for byte.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from proxy.config import Config, load_config
from proxy.errors import RequestError
from proxy.gate import judge, outcome, plan
from proxy.policy import ALLOW, BLOCK, THROTTLE
from proxy.request import POST_ROUTES, Estimate, features_of
from proxy.store.memory import MemoryStore
from proxy.tokens import EstimateCache
from proxy.usage import Usage, parse_usage


@dataclass
class AccountSummary:
    requests: int = 0
    actions: Counter[str] = field(default_factory=Counter)
    first_flag: int | None = None  # index, within the account's requests, of its first extraction decision
    max_risk: float = 0.0
    reasons: Counter[str] = field(default_factory=Counter)
    completion_before_flag: int = 0


def tier_of(config: Config, account: str) -> str:
    override = config.accounts.get(account)
    return override.tier if override is not None and override.tier else config.default_tier


def replay(config: Config, trace: IO[bytes], out: IO[bytes]) -> dict[str, AccountSummary]:
    # Always the memory store: deterministic, and a replay must never touch production budgets.
    store = MemoryStore(max_accounts=10**9, lease_ttl=config.store.lease_ttl_s)
    estimate = EstimateCache()  # as the proxy does: conversations resend their history
    summaries: dict[str, AccountSummary] = {}
    for i, line in enumerate(trace):
        if not line.strip():
            continue
        record = orjson.loads(line)
        ts = float(record["ts"])
        account = str(record["account"])
        summary = summaries.setdefault(account, AccountSummary())
        decision_record = _one(config, store, estimate, i, ts, account, record, summary)
        out.write(orjson.dumps(decision_record, option=orjson.OPT_APPEND_NEWLINE))
    return summaries


def _one(
    config: Config,
    store: MemoryStore,
    estimate: Estimate,
    i: int,
    ts: float,
    account: str,
    record: dict[str, Any],
    summary: AccountSummary,
) -> dict[str, Any]:
    path = record.get("path", "/v1/chat/completions")
    body = record.get("body")
    summary.requests += 1
    try:
        if path not in POST_ROUTES or not isinstance(body, dict):
            raise RequestError(400, "not a proxied request", "invalid_request")
        features = features_of(path, body, estimate)
    except RequestError as exc:
        summary.actions["invalid"] += 1
        return {"i": i, "ts": ts, "account": account, "action": ALLOW, "cause": "none", "risk": 0.0,
                "reasons": [f"invalid_request: {exc.message}"]}
    p = plan(config, account, tier_of(config, account), features, str(record.get("ip") or ""),
             str(record.get("user_agent") or ""))
    admission = store.admit_now(account, p.limits, p.cost, ts, f"r{i}", p.observation, p.half_lives)
    decision, _ = judge(config, p, account, admission)
    served = admission.allowed and decision.enforced_action not in (THROTTLE, BLOCK)
    usage = parse_usage(record.get("usage")) if served else Usage()
    if usage is None:
        usage = Usage(prompt=features.prompt_tokens, completion=features.max_tokens or p.limits.completion_reserve)
    if admission.allowed:
        store.settle_now(account, p.limits, admission, usage.cost(p.tier.weights), ts,
                         outcome(p, decision, usage.prompt, usage.visible_completion, served), p.half_lives)
    summary.actions[decision.action] += 1
    summary.max_risk = max(summary.max_risk, decision.risk)
    if decision.cause == "extraction":
        if summary.first_flag is None:
            summary.first_flag = summary.requests - 1
        summary.reasons.update(r.split("=", 1)[0] for r in decision.reasons)
    elif summary.first_flag is None:
        summary.completion_before_flag += usage.completion
    return decision.record(i, ts, account)


def print_summary(summaries: dict[str, AccountSummary], stream: IO[str] = sys.stdout) -> None:
    print(f"{'account':<24} {'requests':>8} {'max risk':>8} {'first flag':>10}  actions / top reasons", file=stream)
    ordered = sorted(summaries.items(), key=lambda kv: (-kv[1].max_risk, kv[0]))
    for account, s in ordered:
        actions = " ".join(f"{a}:{n}" for a, n in sorted(s.actions.items()))
        reasons = ", ".join(r for r, _ in s.reasons.most_common(3))
        first = "-" if s.first_flag is None else str(s.first_flag)
        print(f"{account:<24} {s.requests:>8} {s.max_risk:>8.2f} {first:>10}  {actions}"
              + (f"  [{reasons}]" if reasons else ""), file=stream)
    flagged = sum(1 for s in summaries.values() if s.first_flag is not None)
    total = sum(s.requests for s in summaries.values())
    print(f"\n{len(summaries)} accounts, {total} requests, {flagged} accounts flagged for extraction", file=stream)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True)
    parser.add_argument("trace", help="trace JSONL (DESIGN.md format)")
    parser.add_argument("--out", required=True, help="decisions JSONL")
    parser.add_argument("--quiet", action="store_true", help="no per-account summary")


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    with Path(args.trace).open("rb") as trace, Path(args.out).open("wb") as out:
        summaries = replay(config, trace, out)
    if not args.quiet:
        print_summary(summaries)
    return 0
