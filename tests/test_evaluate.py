"""bench/evaluate.py: decisions scored against labels, one seed or several pooled."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson

EVALUATE = Path(__file__).resolve().parent.parent / "bench" / "evaluate.py"


def write_seed(folder: Path, flagged_at: dict[str, int | None], requests: int = 10) -> list[Path]:
    """A trace of ``requests`` per account, labels (acct-x extraction, acct-y benign), and decisions flagging
    each account from the request index given (None: never)."""
    folder.mkdir()
    labels = [{"account": "acct-x", "scenario": "sweep", "label": "extraction"},
              {"account": "acct-y", "scenario": "chat", "label": "benign"}]
    trace, decisions = [], []
    for i in range(requests):
        for account, first in flagged_at.items():
            trace.append({"ts": float(i), "account": account, "usage": {"completion_tokens": 100}})
            flag = first is not None and i >= first
            decisions.append({"action": "throttle" if flag else "allow", "cause": "extraction" if flag else "none"})
    paths = [folder / "trace.jsonl", folder / "decisions.jsonl", folder / "labels.jsonl"]
    for path, records in zip(paths, (trace, decisions, labels), strict=True):
        path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    return paths


def evaluate(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(EVALUATE), *map(str, paths)],
                          capture_output=True, text=True, timeout=60, check=False)


def test_one_seed_reports_detection_time_to_detect_and_collateral(tmp_path: Path) -> None:
    run = evaluate(*write_seed(tmp_path / "a", {"acct-x": 2, "acct-y": None}))
    assert run.returncode == 0, run.stderr
    assert "extraction accounts flagged: 1/1 = 100.0%" in run.stdout
    assert "p50 20.0%" in run.stdout  # flagged at its 3rd of 10 requests
    assert "completion tokens served before the first flag: p50 200" in run.stdout
    assert "benign accounts ever flagged: 0/1" in run.stdout


def test_seeds_pool_as_separate_accounts_even_when_ids_repeat(tmp_path: Path) -> None:
    # The simulator's ids can repeat across seeds; pooled, they are different accounts.
    first = write_seed(tmp_path / "a", {"acct-x": 2, "acct-y": None})
    second = write_seed(tmp_path / "b", {"acct-x": None, "acct-y": 5})
    run = evaluate(*first, *second)
    assert run.returncode == 0, run.stderr
    assert "extraction accounts flagged: 1/2 = 50.0%" in run.stdout
    assert "benign accounts ever flagged: 1/2 = 50.00%" in run.stdout
    assert "benign requests with cause extraction: 5/20" in run.stdout


def test_files_not_in_triples_are_refused(tmp_path: Path) -> None:
    trace, decisions, _ = write_seed(tmp_path / "a", {"acct-x": 2, "acct-y": None})
    run = evaluate(trace, decisions)
    assert run.returncode == 2
    assert "triples" in run.stderr
