"""Operator controls through the admin API, on two replicas sharing one Redis.

What an operator does on one replica's admin port (allowlist, unallowlist,
reset, unblock) must hold on the other replica, and the account explanation
must come from the shared store, not from the answering replica's memory.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from proxy.server import Sluice
from proxy.stub import StubUpstream
from tests.harness import base_config, running_sluice
from tests.redis_servers import RedisProcess

TOKEN = "ops-admin-secret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ALICE, TINY = "sk-test-alice", "sk-test-tiny"
# Soft labels: many alternatives per token on a real generation, the logprob_harvest signal.
HARVEST = {"model": "stub-model", "messages": [{"role": "user", "content": "Tell me about rivers."}],
           "max_tokens": 64, "logprobs": True, "top_logprobs": 15}
PLAIN = {"model": "stub-model", "messages": [{"role": "user", "content": "hello"}], "max_tokens": 8}
# Only blocking is on, at a risk the harvest reaches within a few requests.
BLOCK_ONLY = {"default": {"limits": {"requests_per_minute": 1000},
                          "detection": {"levels": {"delay": None, "perturb": None, "throttle": None, "block": 0.5}}}}


@pytest.fixture(scope="module")
def shared_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisProcess]:
    """A private redis-server: the runtime allowlist key has no TTL and must not leak into other tests."""
    from tests.conftest import _binaries
    from tests.redis_servers import start_server

    server = start_server(_binaries()[0], tmp_path_factory.mktemp("ops-redis"))
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def admin_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLUICE_TEST_ADMIN_TOKEN", TOKEN)


@asynccontextmanager
async def replicas(redis: RedisProcess, n: int = 2) -> AsyncIterator[list[tuple[str, str, Sluice]]]:
    """n Sluice replicas on one Redis and one stub upstream: (proxy url, admin url, sluice) each."""
    redis.client().flushall()
    stub = StubUpstream()
    upstream = await stub.start()
    store = {"backend": "redis", "url": redis.url, "timeout_ms": 1000}
    started: list[tuple[str, str, Sluice]] = []
    try:
        for _ in range(n):
            sluice = Sluice(base_config(upstream, store=store, tiers=BLOCK_ONLY))
            proxy_port, admin_port = await sluice.start()
            started.append((f"http://127.0.0.1:{proxy_port}", f"http://127.0.0.1:{admin_port}", sluice))
        yield started
    finally:
        for _, _, sluice in started:
            await sluice.stop()
        await stub.stop()


async def chat(session: aiohttp.ClientSession, base: str, key: str, body: dict[str, Any]) -> int:
    async with session.post(base + "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}) as r:
        await r.read()
        return r.status


async def admin(session: aiohttp.ClientSession, method: str, url: str, **kwargs: Any) -> tuple[int, Any]:
    kwargs.setdefault("headers", AUTH)
    async with session.request(method, url, **kwargs) as r:
        body = await r.read()
        return r.status, orjson.loads(body) if body else None


async def until_status(session: aiohttp.ClientSession, base: str, key: str, body: dict[str, Any], want: int) -> int:
    """Send the request until it is answered ``want`` (another replica polls the allowlist every second).

    Bounded: at most 60 requests, 0.1 s apart."""
    status = 0
    for _ in range(60):
        status = await chat(session, base, key, body)
        if status == want:
            break
        await asyncio.sleep(0.1)
    return status


async def harvest_until_blocked(session: aiohttp.ClientSession, base: str) -> list[int]:
    statuses = []
    for _ in range(12):  # bounded; blocked within a handful of requests
        statuses.append(await chat(session, base, ALICE, HARVEST))
        if statuses[-1] == 403:
            break
    return statuses


async def test_unblock_and_the_explanation_hold_across_replicas(shared_redis: RedisProcess) -> None:
    async with replicas(shared_redis) as [(a, a_admin, _), (b, b_admin, b_sluice)], aiohttp.ClientSession() as s:
        statuses = await harvest_until_blocked(s, a)
        assert statuses[0] == 200 and statuses[-1] == 403, statuses

        # Replica B never served alice, yet explains her from the shared store: risk, and why.
        status, view = await admin(s, "GET", b_admin + "/admin/accounts/alice")
        assert status == 200 and view["decisions"] is None
        detection = view["detection"]
        assert detection["risk"] >= 0.5 and detection["action"] == "block"
        top = detection["signals"][0]
        assert top["name"] == "logprob_harvest" and top["value"] > 0.5 and top["contribution"] > 0.3
        assert view["usage"]["tokens_today"] > 0 and view["limits"]["requests_per_minute"] == 1000
        assert view["allowlisted"] == {"config": False, "runtime": False, "until": None}

        # The stored risk blocks even a harmless request, on the other replica too.
        assert await chat(s, b, ALICE, PLAIN) == 403
        status, body = await admin(s, "POST", b_admin + "/admin/accounts/alice/unblock")
        assert status == 200 and body == {"account": "alice", "unblocked": True}
        assert await chat(s, a, ALICE, PLAIN) == 200  # judged afresh on replica A at once
        status, view = await admin(s, "GET", a_admin + "/admin/accounts/alice")
        assert view["detection"]["risk"] < 0.5 and view["usage"]["tokens_today"] > 0  # budgets kept
        # B's own view of alice follows the unblock (its top list no longer shows her risky).
        status, top_b = await admin(s, "GET", b_admin + "/admin/accounts?top=5")
        assert top_b["accounts"][0]["account"] == "alice" and top_b["accounts"][0]["risk"] == 0.0
        assert b_sluice.metrics.admin_actions.labels("unblock")._value.get() == 1.0


async def test_allowlist_with_and_without_expiry_holds_across_replicas(shared_redis: RedisProcess) -> None:
    async with replicas(shared_redis) as [(a, a_admin, _), (b, b_admin, _)], aiohttp.ClientSession() as s:
        assert (await harvest_until_blocked(s, a))[-1] == 403

        status, body = await admin(s, "POST", a_admin + "/admin/accounts/alice/allowlist")
        assert status == 200 and body["allowlisted"] is True and body["until"] is None
        assert await chat(s, a, ALICE, HARVEST) == 200  # this replica at once
        assert await until_status(s, b, ALICE, HARVEST, 200) == 200  # the other within its poll
        status, listed = await admin(s, "GET", b_admin + "/admin/allowlist")
        assert listed == {"config": [], "runtime": [{"account": "alice", "until": None}]}
        status, view = await admin(s, "GET", b_admin + "/admin/accounts/alice")
        assert view["allowlisted"]["runtime"] is True

        status, body = await admin(s, "DELETE", b_admin + "/admin/accounts/alice/allowlist")
        assert status == 200 and body["removed"] is True and body["allowlisted"] is False
        assert await until_status(s, a, ALICE, HARVEST, 403) == 403  # the stored risk still blocks

        # With an expiry: allowlisted now, judged again once it lapses, with nobody calling in.
        status, body = await admin(s, "POST", a_admin + "/admin/accounts/alice/allowlist", json={"ttl_s": 3})
        assert status == 200 and body["until"] is not None
        assert await chat(s, a, ALICE, HARVEST) == 200
        assert await until_status(s, b, ALICE, HARVEST, 200) == 200  # B has it...
        assert await until_status(s, b, ALICE, HARVEST, 403) == 403  # ...until it lapses
        status, listed = await admin(s, "GET", a_admin + "/admin/allowlist")
        assert listed["runtime"] == []

        for bad in ({"ttl_s": 0}, {"ttl_s": -5}, {"ttl_s": "soon"}, {"ttl_s": True}, {"ttl_s": 10**9}):
            status, body = await admin(s, "POST", a_admin + "/admin/accounts/alice/allowlist", json=bad)
            assert status == 400 and body["error"]["code"] == "invalid_value" and body["error"]["param"] == "ttl_s"
        status, body = await admin(s, "POST", a_admin + "/admin/accounts/alice/allowlist", json=[1])
        assert status == 400 and body["error"]["code"] == "invalid_json"
        status, body = await admin(s, "POST", a_admin + "/admin/accounts/alice/allowlist", data=b"{nope",
                                   headers={**AUTH, "Content-Type": "application/json"})
        assert status == 400 and body["error"]["code"] == "invalid_json"


async def test_reset_gives_a_fresh_budget_on_every_replica(
    shared_redis: RedisProcess, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="sluice.admin")
    async with replicas(shared_redis) as [(a, a_admin, _), (b, _, _)], aiohttp.ClientSession() as s:
        assert [await chat(s, a, TINY, PLAIN) for _ in range(2)] == [200, 200]
        assert await chat(s, b, TINY, PLAIN) == 429  # the tiny tier allows 2 a minute, across replicas
        status, body = await admin(s, "POST", a_admin + "/admin/accounts/tiny/reset")
        assert status == 200 and body == {"account": "tiny", "reset": True}
        assert await chat(s, b, TINY, PLAIN) == 200
        async with s.get(a_admin + "/metrics") as r:
            metrics = (await r.read()).decode()
        assert 'sluice_admin_actions_total{action="reset"} 1.0' in metrics
    lines = [r for r in caplog.records if r.name == "sluice.admin"]
    logged = [(r.getMessage(), r.action, r.account) for r in lines]  # type: ignore[attr-defined]
    assert logged == [("admin action", "reset", "tiny")]


async def test_controls_need_the_token_and_live_only_on_the_admin_port(tmp_path: Path) -> None:
    async with running_sluice(tiers=BLOCK_ONLY) as run, aiohttp.ClientSession() as s:
        routes = [("POST", "/admin/accounts/alice/allowlist"), ("DELETE", "/admin/accounts/alice/allowlist"),
                  ("POST", "/admin/accounts/alice/reset"), ("POST", "/admin/accounts/alice/unblock"),
                  ("GET", "/admin/allowlist")]
        for method, path in routes:
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Bearer {ALICE}"}):
                assert (await admin(s, method, run.admin_url + path, headers=headers))[0] == 401, (method, path)
            assert (await admin(s, method, run.base_url + path))[0] == 404, (method, path)
        # The memory store (one replica) honours the runtime allowlist as well.
        assert (await harvest_until_blocked(s, run.base_url))[-1] == 403
        assert (await admin(s, "POST", run.admin_url + "/admin/accounts/alice/allowlist"))[0] == 200
        assert await chat(s, run.base_url, ALICE, HARVEST) == 200
        assert (await admin(s, "POST", run.admin_url + "/admin/accounts/alice/unblock"))[0] == 200
        assert (await admin(s, "DELETE", run.admin_url + "/admin/accounts/alice/allowlist"))[0] == 200
        assert await chat(s, run.base_url, ALICE, PLAIN) == 200  # unblocked: the old risk is gone
        # The inspector page is served without the token (it holds no data), only on the admin port.
        async with s.get(run.admin_url + "/admin/ui") as r:
            page = await r.read()
            assert r.status == 200 and r.content_type == "text/html"
            assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
        assert b"<title>Sluice" in page and TOKEN.encode() not in page
        async with s.get(run.base_url + "/admin/ui") as r:
            assert r.status == 404
