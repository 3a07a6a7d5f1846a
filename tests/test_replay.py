"""`sluice replay`: the proxy's decisions on a recorded trace, deterministic, in the DESIGN.md format."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson

from proxy.simulate import generate, write


def run_replay(config: Path, trace: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "proxy", "replay", "--config", str(config), str(trace), "--out", str(out)],
        capture_output=True, text=True, timeout=120, check=True,
    )


def test_replay_is_deterministic_and_one_decision_per_request(tmp_path: Path) -> None:
    trace, labels = generate(5, hours=24.0, scale=0.1, scenarios=["batch_classification", "broad_distillation"])
    write(trace, labels, tmp_path / "trace.jsonl", tmp_path / "labels.jsonl")
    with (tmp_path / "trace.jsonl").open("ab") as f:  # a record the proxy would refuse as malformed
        f.write(orjson.dumps({"ts": trace[-1]["ts"] + 1, "account": "acct-bad", "path": "/v1/chat/completions",
                              "body": {"messages": "nope"}}) + b"\n")
    config = tmp_path / "sluice.yaml"
    config.write_text("tiers: {default: {limits: {requests_per_minute: 100000}}}\n")
    first = run_replay(config, tmp_path / "trace.jsonl", tmp_path / "a.jsonl")
    run_replay(config, tmp_path / "trace.jsonl", tmp_path / "b.jsonl")
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()

    decisions = [orjson.loads(line) for line in (tmp_path / "a.jsonl").read_bytes().splitlines()]
    assert len(decisions) == len(trace) + 1
    assert [d["i"] for d in decisions] == list(range(len(decisions)))
    for d, record in zip(decisions, trace, strict=False):
        assert set(d) >= {"i", "ts", "account", "action", "cause", "risk", "reasons"}
        assert d["ts"] == record["ts"] and d["account"] == record["account"]
        assert d["action"] in {"allow", "delay", "perturb", "throttle", "block"}
        assert d["cause"] in {"none", "budget", "extraction"}
    assert decisions[-1]["reasons"][0].startswith("invalid_request")
    by_label = {label["account"]: label["label"] for label in labels}
    flagged = {d["account"] for d in decisions if d["cause"] == "extraction"}
    assert flagged and all(by_label[a] == "extraction" for a in flagged)
    # The per-account summary names the accounts with their first flag.
    assert "accounts flagged for extraction" in first.stdout
    assert next(iter(flagged)) in first.stdout
