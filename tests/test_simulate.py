"""``proxy.simulate``: seeded benign and extraction traffic in the replay trace format."""

from __future__ import annotations

import argparse
import ipaddress
import re
import statistics
from collections import Counter, defaultdict

import orjson
import pytest

from proxy import simulate
from proxy.request import features_of
from proxy.simulate import SCENARIOS, generate

START = simulate.DEFAULT_START
HOURS = 24.0
SCALE = 0.15
DOC_NETS = [ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")]


@pytest.fixture(scope="module")
def day() -> tuple[list[dict], list[dict]]:
    """A full day (every scenario has its waking hours) at a small scale."""
    return generate(7, hours=HOURS, scale=SCALE)


def _dump(trace: list[dict], labels: list[dict]) -> bytes:
    return b"".join(orjson.dumps(r) for r in trace) + b"|" + b"".join(orjson.dumps(r) for r in labels)


def test_deterministic_for_a_seed() -> None:
    a = generate(3, hours=4, scale=0.1)
    b = generate(3, hours=4, scale=0.1)
    c = generate(4, hours=4, scale=0.1)
    assert a[0], "no traffic generated"
    assert _dump(*a) == _dump(*b)
    assert _dump(*a) != _dump(*c)


def test_sorted_in_window_with_trace_fields(day: tuple[list[dict], list[dict]]) -> None:
    trace, _ = day
    assert all(trace[i]["ts"] <= trace[i + 1]["ts"] for i in range(len(trace) - 1))
    for r in trace:
        assert set(r) == {"ts", "account", "path", "body", "usage", "ip", "user_agent"}
        assert START <= r["ts"] < START + HOURS * 3600
        assert r["path"] in ("/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/responses")
        assert isinstance(r["user_agent"], str) and r["user_agent"]
        assert any(ipaddress.ip_address(r["ip"]) in net for net in DOC_NETS), r["ip"]
    assert Counter(r["path"] for r in trace).most_common(1)[0][0] == "/v1/chat/completions"


def test_bodies_parse_and_usage_respects_caps(day: tuple[list[dict], list[dict]]) -> None:
    trace, _ = day
    for r in trace:
        f = features_of(r["path"], r["body"])  # raises RequestError on anything the proxy would reject
        usage = r["usage"]
        assert set(usage) == {"prompt_tokens", "completion_tokens"}
        assert isinstance(usage["prompt_tokens"], int) and usage["prompt_tokens"] > 0
        assert isinstance(usage["completion_tokens"], int) and usage["completion_tokens"] >= 0
        if f.max_tokens is not None:  # upstreams sum the n choices
            assert usage["completion_tokens"] <= f.max_tokens * f.n, r
        if r["path"] == "/v1/embeddings":
            assert usage["completion_tokens"] == 0
        else:
            assert usage["completion_tokens"] >= 1


def test_every_scenario_and_label(day: tuple[list[dict], list[dict]]) -> None:
    trace, labels = day
    assert {rec["scenario"] for rec in labels} == set(SCENARIOS)
    per_account = Counter(r["account"] for r in trace)
    assert len({rec["account"] for rec in labels}) == len(labels)
    assert {rec["account"] for rec in labels} == set(per_account)
    for rec in labels:
        assert rec["label"] == SCENARIOS[rec["scenario"]][0] and rec["label"] in ("benign", "extraction")
        assert rec["requests"] == per_account[rec["account"]] > 0
        if rec["scenario"] == "cover_traffic":
            assert 0.0 < rec["extraction_share"] < 0.7
        else:
            assert "extraction_share" not in rec
    groups = Counter(rec.get("group") for rec in labels if rec["scenario"] == "sybil_campaign")
    assert len(groups) >= 2 and all(n >= 3 for n in groups.values())


def test_account_ids_do_not_leak(day: tuple[list[dict], list[dict]]) -> None:
    _, labels = day
    words = {w for name in SCENARIOS for w in name.split("_")} | {"benign", "extraction", "attack", "sybil", "bot"}
    for rec in labels:
        assert re.fullmatch(r"acct-[0-9a-f]{12}", rec["account"]), rec["account"]
        assert not any(w in rec["account"] for w in words)
    # Ids are not ordered by scenario either.
    order = [rec["scenario"] for rec in sorted(labels, key=lambda r: r["account"])]
    assert order != sorted(order)


def test_shared_pools_between_benign_and_extraction(day: tuple[list[dict], list[dict]]) -> None:
    trace, labels = day
    label = {rec["account"]: rec["label"] for rec in labels}
    uas: dict[str, set[str]] = defaultdict(set)
    models: dict[str, set[str]] = defaultdict(set)
    for r in trace:
        uas[label[r["account"]]].add(r["user_agent"].split("/")[0])
        models[label[r["account"]]].add(r["body"].get("model"))
    assert len(uas["extraction"] & uas["benign"]) >= 4
    assert len(models["extraction"] & models["benign"]) >= 8


def test_benign_versus_extraction_sanity(day: tuple[list[dict], list[dict]]) -> None:
    trace, labels = day
    scenario = {rec["account"]: rec["scenario"] for rec in labels}
    completion: dict[str, list[int]] = defaultdict(list)
    top: dict[str, list[int]] = defaultdict(list)
    texts: dict[str, list[str]] = defaultdict(list)
    for r in trace:
        s = scenario[r["account"]]
        completion[s].append(r["usage"]["completion_tokens"])
        f = features_of(r["path"], r["body"])
        top[s].append(f.top_logprobs or 0)
        if r["path"] != "/v1/chat/completions" or len(r["body"]["messages"]) <= 2:  # first turns only
            texts[s].append(f.prompt_text)
    med = {s: statistics.median(v) for s, v in completion.items()}
    assert med["broad_distillation"] > 5 * med["batch_classification"]
    assert med["broad_distillation"] > med["casual_chat"]
    assert med["self_instruct_sweep"] > med["rag_app"]
    assert max(top["logprob_harvest"]) == 20 and max(top["batch_classification"]) <= 5
    assert any("一步一步" in t or "详细" in t for t in texts["broad_distillation"] + texts["low_and_slow"] + texts["rate_shaper"])
    # Batch jobs are templated, casual chat is not.
    assert len({t[:40] for t in texts["batch_classification"]}) <= 10
    assert len({t[:40] for t in texts["casual_chat"]}) > 0.5 * len(texts["casual_chat"])


def test_scale_and_hours_scale_volume() -> None:
    small, _ = generate(5, hours=6, scale=0.1)
    bigger, _ = generate(5, hours=6, scale=0.3)
    longer, _ = generate(5, hours=12, scale=0.1)
    assert len(bigger) > 1.8 * len(small)
    assert len(longer) > 1.4 * len(small)


def test_cli_run_writes_files(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    parser = argparse.ArgumentParser()
    simulate.add_arguments(parser)
    out, lab = tmp_path / "trace.jsonl", tmp_path / "labels.jsonl"
    args = parser.parse_args(["--out", str(out), "--labels", str(lab), "--seed", "2", "--hours", "3", "--scale", "0.1",
                              "--scenarios", "rag_app,broad_distillation,logprob_harvest"])
    assert simulate.run(args) == 0
    trace = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    labels = [orjson.loads(line) for line in lab.read_bytes().splitlines()]
    assert trace and labels
    assert {rec["scenario"] for rec in labels} <= {"rag_app", "broad_distillation", "logprob_harvest"}
    assert sum(rec["requests"] for rec in labels) == len(trace)
    printed = capsys.readouterr().out
    assert "broad_distillation" in printed and "total" in printed
    bad = parser.parse_args(["--out", str(out), "--scenarios", "nope"])
    assert simulate.run(bad) == 2
