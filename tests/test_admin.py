"""The admin listener and the proxy's identity rules, seen from outside."""

from __future__ import annotations

from dataclasses import replace

import aiohttp
import pytest
from aiohttp import web

from proxy.config import Config
from tests.harness import base_config, free_port, refusing_port, running_sluice

CHAT = {"model": "stub-model", "messages": [{"role": "user", "content": "hello"}], "max_tokens": 3}
ALICE = {"Authorization": "Bearer sk-test-alice"}


async def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    async with aiohttp.ClientSession() as session:
        async with session.get(url, headers=headers) as response:
            return response.status, await response.read()


async def test_health_readiness_and_metrics() -> None:
    async with running_sluice() as run:
        assert (await get(run.admin_url + "/healthz"))[0] == 200
        assert (await get(run.admin_url + "/readyz"))[0] == 200
        async with aiohttp.ClientSession() as session:
            async with session.post(run.base_url + "/v1/chat/completions", json=CHAT, headers=ALICE) as r:
                assert r.status == 200
        status, body = await get(run.admin_url + "/metrics")
        text = body.decode()
        assert status == 200
        assert 'sluice_requests_total{route="/v1/chat/completions",status="200"} 1.0' in text
        assert "sluice_request_duration_seconds_bucket" in text
        assert "sluice_upstream_duration_seconds_count" in text
        assert "sluice_in_flight_requests 0.0" in text
        assert 'sluice_build_info{version="' in text
        assert "sk-test-alice" not in text and "alice" not in text  # no per-account labels


async def test_not_ready_when_the_upstream_is_down() -> None:
    with refusing_port() as dead:
        await _not_ready(dead)


async def _not_ready(dead: int) -> None:
    async with running_sluice(configure=lambda _url: base_config(f"http://127.0.0.1:{dead}")) as run:
        assert (await get(run.admin_url + "/healthz"))[0] == 200
        status, body = await get(run.admin_url + "/readyz")
        assert status == 503 and b'"upstream"' in body


@pytest.mark.parametrize(("key", "ready"), [("sk-upstream-right", True), ("sk-upstream-wrong", False)])
async def test_readiness_probes_the_upstream_with_sluices_own_credential(
    key: str, ready: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An upstream that refuses Sluice's credential would refuse every request: not ready.
    async def models(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != "Bearer sk-upstream-right":
            return web.json_response({"error": {"message": "bad key", "type": "auth", "code": None}}, status=401)
        return web.json_response({"object": "list", "data": []})

    app = web.Application()
    app.router.add_get("/v1/models", models)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    monkeypatch.setenv("SLUICE_TEST_UPSTREAM_KEY", key)

    def configure(_url: str) -> Config:
        config = base_config(f"http://127.0.0.1:{port}")
        return replace(config, upstream=replace(config.upstream, api_key_env="SLUICE_TEST_UPSTREAM_KEY"))

    try:
        async with running_sluice(configure=configure) as run:
            status, body = await get(run.admin_url + "/readyz")
            assert (status == 200) is ready, body
            if not ready:
                assert b"HTTP 401" in body and b"sk-upstream" not in body
    finally:
        await runner.cleanup()


async def test_admin_api_needs_its_own_token(monkeypatch: pytest.MonkeyPatch) -> None:
    async with running_sluice() as run:  # no token in the environment: the API is disabled
        assert (await get(run.admin_url + "/admin/accounts/alice"))[0] == 403
    monkeypatch.setenv("SLUICE_TEST_ADMIN_TOKEN", "admin-secret")
    async with running_sluice() as run:
        assert (await get(run.admin_url + "/admin/accounts/alice"))[0] == 401
        assert (await get(run.admin_url + "/admin/accounts/alice", {"Authorization": "Bearer wrong"}))[0] == 401
        # The client key is no admin token, and the admin API is not on the proxy port.
        assert (await get(run.admin_url + "/admin/accounts/alice", ALICE))[0] == 401
        assert (await get(run.base_url + "/admin/accounts/alice", {"Authorization": "Bearer admin-secret"}))[0] == 404
        status, body = await get(run.admin_url + "/admin/accounts/alice", {"Authorization": "Bearer admin-secret"})
        assert status == 200 and b'"tier":"default"' in body.replace(b" ", b"")


async def test_forwarded_for_is_believed_only_from_trusted_proxies() -> None:
    spoof = {**ALICE, "X-Forwarded-For": "203.0.113.9", "X-Real-IP": "203.0.113.9", "X-Sluice-Account": "bob"}
    async with running_sluice() as run:
        async with aiohttp.ClientSession() as session:
            async with session.post(run.base_url + "/v1/chat/completions", json=CHAT, headers=spoof) as r:
                assert r.status == 200
        seen = {k.lower(): v for k, v in run.stub.stats.last_headers.items()}
        assert seen["x-forwarded-for"] == "127.0.0.1"  # the peer, not what the client claimed
        assert "x-real-ip" not in seen and "x-sluice-account" not in seen
        assert (await run.sluice.store.usage("bob", run.sluice.config.tier("default").limits, 0.0))["in_flight"] == 0
    async with running_sluice(server={"trusted_proxies": ["127.0.0.0/8"]}) as run:
        async with aiohttp.ClientSession() as session:
            async with session.post(run.base_url + "/v1/chat/completions", json=CHAT, headers=spoof) as r:
                assert r.status == 200
        seen = {k.lower(): v for k, v in run.stub.stats.last_headers.items()}
        assert seen["x-forwarded-for"] == "203.0.113.9"  # behind a trusted proxy, its hop is believed


async def test_admin_account_explains_recent_decisions(monkeypatch: pytest.MonkeyPatch) -> None:
    import orjson

    monkeypatch.setenv("SLUICE_TEST_ADMIN_TOKEN", "admin-secret")
    # Every judged request of this tier is perturbed, so each one is a decision worth explaining.
    levels = {"delay": None, "perturb": 0.0, "throttle": None, "block": None}
    async with running_sluice(tiers={"default": {"detection": {"levels": levels}}}) as run:
        async with aiohttp.ClientSession() as session:
            for _ in range(3):
                async with session.post(run.base_url + "/v1/chat/completions", json=CHAT, headers=ALICE) as r:
                    assert r.status == 200
        status, body = await get(run.admin_url + "/admin/accounts/alice", {"Authorization": "Bearer admin-secret"})
    assert status == 200
    view = orjson.loads(body)
    decisions = view["decisions"]
    assert decisions["requests"] == 3 and decisions["actions"] == {"perturb": 3}
    assert decisions["first_extraction_flag"] == 0
    last = decisions["recent"][-1]
    assert last["action"] == "perturb" and last["cause"] == "extraction" and last["account"] == "alice"
    assert set(last) >= {"i", "ts", "risk", "reasons", "request_id"}
    assert "sk-test-alice" not in body.decode()


async def test_admin_lists_the_riskiest_accounts_and_triggers_reload(monkeypatch: pytest.MonkeyPatch) -> None:
    import orjson

    monkeypatch.setenv("SLUICE_TEST_ADMIN_TOKEN", "admin-secret")
    token = {"Authorization": "Bearer admin-secret"}
    levels = {"delay": None, "perturb": 0.0, "throttle": None, "block": None}
    async with running_sluice(tiers={"default": {"detection": {"levels": levels}}},
                              detection={"allowlist": ["bob"]}) as run:
        async with aiohttp.ClientSession() as session:
            for key in ("sk-test-alice", "sk-test-bob"):
                async with session.post(run.base_url + "/v1/chat/completions", json=CHAT,
                                        headers={"Authorization": f"Bearer {key}"}) as r:
                    assert r.status == 200
            status, body = await get(run.admin_url + "/admin/accounts?top=5", token)
            assert status == 200
            rows = orjson.loads(body)["accounts"]
            assert [row["account"] for row in rows] == ["alice", "bob"]
            assert rows[0]["last_action"] == "perturb" and rows[1]["last_action"] == "allow"
            assert (await get(run.admin_url + "/admin/accounts?top=x", token))[0] == 400
            # Reload needs the token too; this config was built in code, so there is no file to re-read.
            async with session.post(run.admin_url + "/admin/reload") as r:
                assert r.status == 401
            async with session.post(run.admin_url + "/admin/reload", headers=token) as r:
                assert r.status == 409 and orjson.loads(await r.read())["applied"] is False
