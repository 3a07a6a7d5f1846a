"""Secrets stay secret and identity comes only from the key.

A real ``sluice serve`` process (DEBUG logs, the Redis store, an admin token, an upstream credential)
takes every kind of traffic: successes and streams on every route, bad input, upstream errors, rate
limits, an extraction account blocked by the detector, wrong keys in every place a client might put
one, and admin calls with and without the token. Then every place a secret could end up is searched:
stdout and stderr (the audit log included: decisions are logged there), ``/metrics``, every admin
answer, every proxy answer (headers and bodies), and every key and value in Redis. None of the clear
client keys, the admin token or the upstream credential may appear anywhere; the upstream sees its
credential, never a client's key.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
import redis

from proxy.accounts import KeyTable, hash_key, keys_file_line
from proxy.config import parse_config
from proxy.stub import StubUpstream
from tests.harness import free_port, running_sluice
from tests.redis_servers import RedisProcess
from tests.harness import wait_healthy

ALICE_KEY = "sk-sec-alice-7bq2Vd9"
BOB_KEY = "sk-sec-bob-Kx0p4Lm"
CAROL_KEY = "sk-sec-carol-3hRt8w"
MALLORY_KEY = "sk-sec-mallory-Qe6zNa"
WRONG_KEY = "sk-sec-wrong-Pf5sYu"
ADMIN_TOKEN = "admin-tok-Jc7mW2r"
UPSTREAM_SECRET = "upstream-cred-Hn4vB8e"
SECRETS = [ALICE_KEY, BOB_KEY, CAROL_KEY, MALLORY_KEY, WRONG_KEY, ADMIN_TOKEN, UPSTREAM_SECRET]
DB = 9  # a database of its own on the session's Redis: KEYS * is everything Sluice wrote


def _find_secrets(blob: str | bytes, where: str) -> list[str]:
    text = blob.decode("utf-8", errors="replace") if isinstance(blob, bytes) else blob
    return [f"{secret} in {where}" for secret in SECRETS if secret in text]


def test_clear_keys_in_the_config_are_kept_only_as_digests(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLUICE_SEC_TEST_KEY", BOB_KEY)
    config = parse_config({"keys": {"inline": [{"key": ALICE_KEY, "account": "alice"},
                                                {"key_env": "SLUICE_SEC_TEST_KEY", "account": "bob"}]}})
    table = KeyTable.from_config(config)
    kept = repr(config) + repr(table._by_digest)  # noqa: SLF001 - what the process holds
    assert ALICE_KEY not in kept and BOB_KEY not in kept
    assert hash_key(ALICE_KEY) in kept
    assert table.resolve(ALICE_KEY).id == "alice" and table.resolve(BOB_KEY).id == "bob"  # type: ignore[union-attr]
    assert table.resolve(hash_key(ALICE_KEY)) is None  # the digest is no key


def _config(tmp: Path, upstream: str, redis_url: str, proxy_port: int, admin_port: int) -> Path:
    lines = [keys_file_line(ALICE_KEY, "alice", "default"), keys_file_line(CAROL_KEY, "carol", "tiny"),
             keys_file_line(MALLORY_KEY, "mallory", "watch")]
    (tmp / "keys").write_text("\n".join(lines) + "\n")
    path = tmp / "sluice.yaml"
    path.write_text(f"""
listen: {{host: 127.0.0.1, port: {proxy_port}}}
admin: {{host: 127.0.0.1, port: {admin_port}, token_env: SLUICE_SEC_ADMIN_TOKEN}}
upstream:
  url: {upstream}
  api_key_env: SLUICE_SEC_UPSTREAM_KEY
  timeouts: {{connect: 2, first_byte: 5, idle: 5, total: 30}}
server: {{max_body_bytes: 65536, drain_seconds: 5}}
store: {{backend: redis, url: '{redis_url}', timeout_ms: 1000, failure: closed}}
keys:
  file: {tmp / 'keys'}
  inline: [{{key_env: SLUICE_SEC_BOB_KEY, account: bob}}]
tiers:
  default: {{limits: {{requests_per_minute: 1000}}}}
  tiny: {{limits: {{requests_per_minute: 2}}}}
  watch:
    limits: {{requests_per_minute: 1000}}
    detection: {{levels: {{delay: null, perturb: null, throttle: null, block: 0.05}}}}
""")
    return path


class Recorder:
    """Every answer the clients got, headers and bodies."""

    def __init__(self) -> None:
        self.statuses: dict[str, list[int]] = {}
        self.blobs: list[tuple[str, bytes]] = []

    async def call(self, session: aiohttp.ClientSession, label: str, method: str, url: str, **kw: Any) -> tuple[int, bytes]:
        async with session.request(method, url, **kw) as response:
            body = await response.read()
            headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
        self.statuses.setdefault(label, []).append(response.status)
        self.blobs.append((f"{label} headers", headers.encode()))
        self.blobs.append((f"{label} body", body))
        return response.status, body


def _bearer(key: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", **extra}


async def _drive(rec: Recorder, proxy: str, admin: str) -> None:
    chat = {"model": "m", "messages": [{"role": "user", "content": "hello"}]}
    async with aiohttp.ClientSession() as s:
        # Successes on every route, a stream among them.
        for path, body in [("/v1/chat/completions", chat), ("/v1/chat/completions", {**chat, "stream": True}),
                           ("/v1/completions", {"model": "m", "prompt": "hi"}),
                           ("/v1/embeddings", {"model": "m", "input": "hi"}),
                           ("/v1/responses", {"model": "m", "input": "hi"})]:
            await rec.call(s, "ok", "POST", proxy + path, json=body, headers=_bearer(ALICE_KEY))
        await rec.call(s, "ok", "GET", proxy + "/v1/models", headers=_bearer(ALICE_KEY))
        await rec.call(s, "ok", "POST", proxy + "/v1/chat/completions", json=chat, headers=_bearer(BOB_KEY))
        # Identity headers a client may forge: alice stays alice, whatever she claims.
        spoof = _bearer(ALICE_KEY, **{"X-Account": "bob", "X-Api-Key": BOB_KEY, "X-Forwarded-For": "203.0.113.7",
                                      "Forwarded": "for=203.0.113.7;by=10.0.0.1", "X-Real-IP": "203.0.113.7",
                                      "X-Sluice-Account": "bob", "X-User-Id": "bob", "OpenAI-Organization": "bob"})
        for _ in range(3):
            await rec.call(s, "spoof", "POST", proxy + "/v1/chat/completions", json=chat, headers=spoof)
        # Bad input and upstream errors.
        await rec.call(s, "bad", "POST", proxy + "/v1/chat/completions", data=b"{nope",
                       headers=_bearer(ALICE_KEY, **{"Content-Type": "application/json"}))
        await rec.call(s, "bad", "POST", proxy + "/v1/chat/completions", json={**chat, "n": "x"}, headers=_bearer(ALICE_KEY))
        await rec.call(s, "bad", "POST", proxy + "/v1/chat/completions", json={**chat, "pad": "x" * 70000},
                       headers=_bearer(ALICE_KEY))
        await rec.call(s, "bad", "GET", proxy + "/v1/nothing", headers=_bearer(ALICE_KEY))
        for model in ("stub-error-500", "stub-error-401", "stub-error-429", "stub-garbage", "stub-html"):
            await rec.call(s, "upstream error", "POST", proxy + "/v1/chat/completions", json={**chat, "model": model},
                           headers=_bearer(ALICE_KEY))
        # Rate limits.
        for _ in range(4):
            await rec.call(s, "throttle", "POST", proxy + "/v1/chat/completions", json=chat, headers=_bearer(CAROL_KEY))
        # An extraction account: logprob harvesting and a logit-bias sweep, blocked by the detector.
        for i in range(12):
            body = {**chat, "messages": [{"role": "user", "content": f"Explain step by step, in full detail, {i}"}],
                    "logprobs": True, "top_logprobs": 20, "max_tokens": 400, "logit_bias": {str(100 + i): 5}}
            await rec.call(s, "extraction", "POST", proxy + "/v1/chat/completions", json=body,
                           headers=_bearer(MALLORY_KEY))
        # Keys that are wrong, or in the wrong place.
        for label, kw in [
            ("bad key", {"headers": _bearer(WRONG_KEY)}),
            ("bad key", {"headers": {"Authorization": f"Basic {WRONG_KEY}"}}),
            ("bad key", {"headers": {"X-Api-Key": ALICE_KEY}}),
            ("bad key", {"headers": {"api-key": ALICE_KEY}}),
            ("bad key", {"params": {"api_key": ALICE_KEY}}),
            ("bad key", {"headers": _bearer(hash_key(ALICE_KEY))}),  # the digest is no key
            ("bad key", {"headers": _bearer(ADMIN_TOKEN)}),
        ]:
            await rec.call(s, label, "POST", proxy + "/v1/chat/completions", json=chat, **kw)
        # The admin API: refused without its token (a client key is none), served with it.
        for headers in ({}, _bearer(ALICE_KEY), _bearer(ADMIN_TOKEN + "x"), {"Authorization": ADMIN_TOKEN},
                        {"X-Admin-Token": ADMIN_TOKEN}):
            for path in ("/admin/accounts", "/admin/accounts/alice"):
                await rec.call(s, "admin refused", "GET", admin + path, headers=headers)
            await rec.call(s, "admin refused", "POST", admin + "/admin/reload", headers=headers)
        for path in ("/admin/accounts", "/admin/accounts/alice", "/admin/accounts/bob", "/admin/accounts/mallory",
                     "/admin/accounts/carol"):
            await rec.call(s, "admin", "GET", admin + path, headers=_bearer(ADMIN_TOKEN))
        await rec.call(s, "admin", "POST", admin + "/admin/reload", headers=_bearer(ADMIN_TOKEN))
        for path in ("/metrics", "/healthz", "/readyz"):
            await rec.call(s, "admin open", "GET", admin + path)
        # The admin surface is not on the proxy port, token or not, however the path is spelt.
        for path in ("/admin/accounts", "/admin/accounts/alice", "/metrics", "/v1/../admin/accounts",
                     "/v1/%2e%2e/admin/accounts", "/admin%2Faccounts", "//admin/accounts", "/ADMIN/accounts"):
            await rec.call(s, "admin on proxy", "GET", proxy + path, headers=_bearer(ADMIN_TOKEN))
            await rec.call(s, "admin on proxy", "POST", proxy + path, headers=_bearer(ADMIN_TOKEN), json={})


def _redis_dump(server: RedisProcess) -> list[tuple[str, bytes]]:
    client = redis.Redis(host="127.0.0.1", port=server.port, db=DB, socket_timeout=2.0)
    out = []
    for key in client.keys("*"):
        kind = client.type(key).decode()
        if kind == "string":
            value = repr(client.get(key))
        elif kind == "hash":
            value = repr(client.hgetall(key))
        elif kind == "list":
            value = repr(client.lrange(key, 0, -1))
        elif kind == "set":
            value = repr(client.smembers(key))
        elif kind == "zset":
            value = repr(client.zrange(key, 0, -1, withscores=True))
        else:
            value = repr(client.dump(key))
        out.append((f"redis {key!r}", key + b" " + value.encode()))
    client.close()
    return out


async def test_no_secret_leaves_the_process_and_identity_comes_only_from_the_key(
    tmp_path: Path, redis_standalone: RedisProcess
) -> None:
    redis_url = f"redis://127.0.0.1:{redis_standalone.port}/{DB}"
    stub = StubUpstream(require_key=UPSTREAM_SECRET)
    upstream = await stub.start()
    proxy_port, admin_port = free_port(), free_port()
    config = _config(tmp_path, upstream, redis_url, proxy_port, admin_port)
    env = {**os.environ, "SLUICE_SEC_ADMIN_TOKEN": ADMIN_TOKEN, "SLUICE_SEC_UPSTREAM_KEY": UPSTREAM_SECRET,
           "SLUICE_SEC_BOB_KEY": BOB_KEY}
    out, err = tmp_path / "stdout.log", tmp_path / "stderr.log"
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "proxy", "serve", "--config", str(config), "--log-level", "DEBUG",
            stdout=stdout, stderr=stderr, env=env,
        )
    rec = Recorder()
    try:
        await wait_healthy(admin_port, proc)
        await _drive(rec, f"http://127.0.0.1:{proxy_port}", f"http://127.0.0.1:{admin_port}")
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), timeout=30) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await stub.stop()

    s = rec.statuses
    # The traffic did what it was meant to: each kind of answer really happened.
    assert set(s["ok"]) == {200} and set(s["spoof"]) == {200}
    assert set(s["bad"]) == {400, 404, 413}
    assert {500, 401, 429} <= set(s["upstream error"])
    assert s["throttle"][:2] == [200, 200] and 429 in s["throttle"]
    assert 403 in s["extraction"], s["extraction"]
    assert set(s["bad key"]) == {401}
    assert set(s["admin refused"]) == {401}
    assert set(s["admin"]) == {200} and set(s["admin open"]) == {200}
    assert set(s["admin on proxy"]) == {404}

    # Identity came from the key alone: alice's spoofed requests are alice's, bob only has his own one.
    accounts = {orjson.loads(b)["account"]: orjson.loads(b) for label, b in rec.blobs
                if label == "admin body" and b.startswith(b'{"account"')}
    assert accounts["alice"]["decisions"]["requests"] >= 3 + 6
    assert accounts["bob"]["decisions"]["requests"] == 1
    # The upstream got its own credential: the stub answers 401 to anything else, and every "ok" was a 200.
    assert "stub: wrong upstream key" not in b"".join(b for _, b in rec.blobs).decode(errors="replace")

    # And no secret anywhere.
    places = [("stdout", out.read_bytes()), ("stderr (logs, audit log)", err.read_bytes()), *rec.blobs,
              *_redis_dump(redis_standalone)]
    assert any(name.startswith("redis") for name, _ in places), "Sluice wrote nothing to Redis?"
    assert b'"logger":"sluice.audit"' in err.read_bytes().replace(b" ", b"")  # the audit log was in what we searched
    leaks = [leak for name, blob in places for leak in _find_secrets(blob, name)]
    assert not leaks, leaks
    print(f"\nsearched {len(places)} outputs ({sum(len(b) for _, b in places)} bytes) for {len(SECRETS)} secrets: none")


async def test_spoofed_identity_headers_never_change_the_account() -> None:
    chat = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
    forged = {"X-Account": "bob", "X-Api-Key": "sk-test-bob", "api-key": "sk-test-bob", "X-Sluice-Account": "bob",
              "X-Forwarded-User": "bob", "Forwarded": "for=198.51.100.1", "X-Forwarded-For": "198.51.100.1",
              "X-Real-IP": "198.51.100.1", "X-Sluice-Tier": "default", "OpenAI-Organization": "bob"}
    async with running_sluice() as run:
        async with aiohttp.ClientSession() as s:
            # tiny's limit is 2 per minute: forged headers neither lift it nor move the requests to bob.
            statuses = []
            for _ in range(3):
                async with s.post(run.base_url + "/v1/chat/completions", json=chat,
                                  headers={"Authorization": "Bearer sk-test-tiny", **forged}) as r:
                    statuses.append(r.status)
            assert statuses == [200, 200, 429]
            # Without a valid Authorization, no other header authenticates.
            async with s.post(run.base_url + "/v1/chat/completions", json=chat, headers=forged) as r:
                assert r.status == 401
        usage = await run.sluice.store.usage("bob", run.sluice.config.tier("default").limits, 0.0)
        assert run.sluice.decisions.get("bob") is None and usage["in_flight"] == 0
        seen = {k.lower(): v for k, v in run.stub.stats.last_headers.items()}
        assert "forwarded" not in seen and "x-real-ip" not in seen and "x-sluice-account" not in seen
        # Other credential headers would carry a client's key on to the upstream.
        assert "api-key" not in seen and "x-api-key" not in seen
        assert seen["x-forwarded-for"] == "127.0.0.1"
