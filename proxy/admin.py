"""The admin listener: health, readiness, metrics, and the token-guarded /admin API."""

from __future__ import annotations

import asyncio
import hmac
import os
import time
from typing import TYPE_CHECKING

import aiohttp
import orjson
from aiohttp import web

from proxy.errors import error_response

if TYPE_CHECKING:
    from proxy.server import Sluice

READY_TIMEOUT = 2.0


def admin_app(sluice: Sluice) -> web.Application:
    token = os.environ.get(sluice.config.admin.token_env) or None
    app = web.Application()

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(request: web.Request) -> web.Response:
        problems: dict[str, str] = {}
        if sluice.stopping.is_set():
            problems["proxy"] = "draining"
        try:
            async with asyncio.timeout(READY_TIMEOUT):
                await sluice.store.ping()
        except Exception as exc:  # noqa: BLE001 - any failure means not ready
            problems["store"] = exc.__class__.__name__
        try:
            async with asyncio.timeout(READY_TIMEOUT):
                async with sluice.upstream.session.get(sluice.upstream.base + "/v1/models") as response:
                    if response.status >= 500:
                        problems["upstream"] = f"HTTP {response.status}"
        except (aiohttp.ClientError, TimeoutError, RuntimeError) as exc:
            problems["upstream"] = exc.__class__.__name__
        if problems:
            return web.json_response({"status": "not ready", "problems": problems}, status=503)
        return web.json_response({"status": "ready"})

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(body=sluice.metrics.render(), headers={"Content-Type": "text/plain; version=0.0.4"})

    def authorized(request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        given = header[7:] if header.startswith("Bearer ") else ""
        return token is not None and hmac.compare_digest(given.encode(), token.encode())

    @web.middleware
    async def guard(request: web.Request, handler: web.Handler) -> web.StreamResponse:
        if request.path.startswith("/admin"):
            if token is None:
                return error_response(403, f"Admin API disabled: set {sluice.config.admin.token_env}", "admin_disabled")
            if not authorized(request):
                return error_response(401, "Missing or wrong admin token", "invalid_admin_token")
        try:
            return await handler(request)
        except web.HTTPNotFound:
            return error_response(404, f"Unknown admin route {request.path}", "unknown_url")
        except web.HTTPMethodNotAllowed:
            return error_response(405, f"{request.method} is not allowed on {request.path}", "method_not_allowed")

    async def account(request: web.Request) -> web.Response:
        account_id = request.match_info["account"]
        tier = sluice.config.tier(sluice.keys.tier_of(account_id) or sluice.config.default_tier)
        limits = sluice.config.limits_for(account_id, tier)
        usage = await sluice.store.usage(account_id, limits, time.time())
        seen = sluice.decisions.get(account_id)
        # This replica's view: the decisions it made for the account, newest last, with their reasons.
        decisions = None
        if seen is not None:
            decisions = {
                "requests": seen.requests,
                "first_extraction_flag": seen.first_flag,
                "actions": seen.actions,
                "recent": list(seen.recent),
            }
        body = {"account": account_id, "tier": tier.name, "usage": usage, "decisions": decisions}
        return web.Response(body=orjson.dumps(body), content_type="application/json")

    async def riskiest(request: web.Request) -> web.Response:
        try:
            top = min(max(int(request.query.get("top", "20")), 1), 1000)
        except ValueError:
            return error_response(400, "'top' must be an integer", "invalid_value", "top")
        rows = [
            {
                "account": account,
                "risk": round(entry.last_risk, 4),
                "max_risk": round(entry.max_risk, 4),
                "requests": entry.requests,
                "first_extraction_flag": entry.first_flag,
                "last_action": entry.recent[-1]["action"] if entry.recent else "allow",
            }
            for account, entry in sluice.decisions.riskiest(top)
        ]
        return web.Response(body=orjson.dumps({"accounts": rows}), content_type="application/json")

    async def reload(request: web.Request) -> web.Response:
        applied = sluice.reload()
        body = {"applied": applied, "source": sluice.config.source}
        return web.Response(status=200 if applied else 409, body=orjson.dumps(body), content_type="application/json")

    app.middlewares.append(guard)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/admin/accounts", riskiest)
    app.router.add_get("/admin/accounts/{account}", account)
    app.router.add_post("/admin/reload", reload)
    return app
