"""Score replay decisions against the simulator's labels.

    python bench/evaluate.py TRACE.jsonl DECISIONS.jsonl LABELS.jsonl [TRACE DECISIONS LABELS ...]

Per scenario and in total: detection rate (extraction accounts with at least
one decision of cause ``extraction``), time to detect (the first such
decision's position as a fraction of the account's requests: median and p90),
completion tokens served before the first flag, and collateral: benign
accounts ever flagged and benign requests with cause ``extraction``.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import orjson


@dataclass
class Account:
    scenario: str
    label: str
    requests: int = 0
    flagged_requests: int = 0
    first_flag: int | None = None
    completion_before_flag: int = 0
    actions: dict[str, int] = field(default_factory=lambda: defaultdict(int))


def quantile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


def load(trace: Path, decisions: Path, labels: Path, accounts: dict[str, Account] | None = None,
         prefix: str = "") -> dict[str, Account]:
    """The labelled accounts of one trace, added to ``accounts`` under ``prefix`` + their id (for pooling)."""
    accounts = {} if accounts is None else accounts
    for line in labels.read_bytes().splitlines():
        if line.strip():
            rec = orjson.loads(line)
            accounts[prefix + rec["account"]] = Account(rec["scenario"], rec["label"])
    with trace.open("rb") as t, decisions.open("rb") as d:
        for trace_line, decision_line in zip(t, d, strict=True):
            rec = orjson.loads(trace_line)
            dec = orjson.loads(decision_line)
            account = accounts.get(prefix + rec["account"])
            if account is None:
                continue
            account.requests += 1
            account.actions[dec["action"]] += 1
            if dec["cause"] == "extraction":
                account.flagged_requests += 1
                if account.first_flag is None:
                    account.first_flag = account.requests - 1
            elif account.first_flag is None:
                account.completion_before_flag += int((rec.get("usage") or {}).get("completion_tokens") or 0)
    return accounts


def report(accounts: dict[str, Account], out=sys.stdout) -> dict[str, float]:  # type: ignore[no-untyped-def]
    by_scenario: dict[str, list[Account]] = defaultdict(list)
    for a in accounts.values():
        by_scenario[a.scenario].append(a)
    print(f"{'scenario':<22} {'label':<10} {'accts':>5} {'reqs':>7} {'flagged':>8} {'ttd p50':>8} {'ttd p90':>8}"
          f" {'tokens before flag (p50)':>25} {'flagged reqs':>12}", file=out)
    for scenario, group in sorted(by_scenario.items(), key=lambda kv: (kv[1][0].label, kv[0])):
        label = group[0].label
        flagged = [a for a in group if a.first_flag is not None]
        ttd = [a.first_flag / a.requests for a in flagged if a.requests]
        before = [a.completion_before_flag for a in flagged]
        reqs = sum(a.requests for a in group)
        flagged_reqs = sum(a.flagged_requests for a in group)
        print(f"{scenario:<22} {label:<10} {len(group):>5} {reqs:>7} {len(flagged):>4}/{len(group):<3}"
              f" {quantile(ttd, 0.5):>8.1%} {quantile(ttd, 0.9):>8.1%} {quantile(before, 0.5):>25,.0f}"
              f" {flagged_reqs / max(reqs, 1):>12.2%}", file=out)
    attackers = [a for a in accounts.values() if a.label == "extraction"]
    benign = [a for a in accounts.values() if a.label == "benign"]
    detected = [a for a in attackers if a.first_flag is not None]
    ttd_all = [a.first_flag / a.requests for a in detected if a.requests]
    benign_flagged = [a for a in benign if a.first_flag is not None]
    benign_requests = sum(a.requests for a in benign)
    benign_flagged_requests = sum(a.flagged_requests for a in benign)
    worst_scenario = min(
        (sum(a.first_flag is not None for a in g) / len(g) for g in by_scenario.values() if g[0].label == "extraction"),
        default=float("nan"),
    )
    totals = {
        "detection_rate": len(detected) / max(len(attackers), 1),
        "worst_scenario_detection": worst_scenario,
        "ttd_p50": quantile(ttd_all, 0.5),
        "ttd_p90": quantile(ttd_all, 0.9),
        "benign_accounts_flagged": len(benign_flagged) / max(len(benign), 1),
        "benign_requests_flagged": benign_flagged_requests / max(benign_requests, 1),
        "tokens_before_flag_p50": quantile([float(a.completion_before_flag) for a in detected], 0.5),
    }
    print(file=out)
    print(f"extraction accounts flagged: {len(detected)}/{len(attackers)} = {totals['detection_rate']:.1%}"
          f" (target >= 97%; worst scenario {worst_scenario:.1%}, target >= 90%)", file=out)
    print(f"time to detect, fraction of the attacker's requests: p50 {totals['ttd_p50']:.1%} (target <= 5%),"
          f" p90 {totals['ttd_p90']:.1%} (target <= 15%)", file=out)
    print(f"completion tokens served before the first flag: p50 {totals['tokens_before_flag_p50']:,.0f}", file=out)
    print(f"benign accounts ever flagged: {len(benign_flagged)}/{len(benign)} = {totals['benign_accounts_flagged']:.2%}"
          f" (target <= 0.5%)", file=out)
    print(f"benign requests with cause extraction: {benign_flagged_requests}/{benign_requests} ="
          f" {totals['benign_requests_flagged']:.3%} (target <= 0.1%)", file=out)
    return totals


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", type=Path, nargs="+", metavar="TRACE DECISIONS LABELS",
                        help="one or more triples, scored as one pool")
    args = parser.parse_args()
    if len(args.files) % 3:
        parser.error("give the files in triples: TRACE DECISIONS LABELS [TRACE DECISIONS LABELS ...]")
    accounts: dict[str, Account] = {}
    for i in range(0, len(args.files), 3):
        trace, decisions, labels = args.files[i : i + 3]
        load(trace, decisions, labels, accounts, prefix=f"{i // 3}:" if len(args.files) > 3 else "")
    report(accounts)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
