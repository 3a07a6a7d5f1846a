"""The admin listener: health, readiness, metrics, the token-guarded /admin API, the inspector page.

Every change an operator makes (allowlist, unallowlist, reset, unblock) goes to
the store, so it holds on every replica; each is logged as one JSON line on the
``sluice.admin`` logger and counted in ``sluice_admin_actions_total``.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import time
from dataclasses import asdict
from importlib import resources
from typing import TYPE_CHECKING, Any

import aiohttp
import orjson
from aiohttp import web

from proxy.detect import Campaign, assess
from proxy.errors import error_response
from proxy.overrides import refresh
from proxy.policy import extraction_action
from proxy.store.base import StoreUnavailable
from proxy.windows import window_now

if TYPE_CHECKING:
    from proxy.server import Sluice

READY_TIMEOUT = 2.0
MAX_TTL_S = 366 * 86400.0
# The inspector: one static page, no data in it (every data call carries the token).
UI_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}

log = logging.getLogger("sluice.admin")


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")


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
            cause: BaseException = exc
            while cause.__cause__ is not None:  # the root cause (AuthenticationError, ConnectionError...)
                cause = cause.__cause__
            problems["store"] = cause.__class__.__name__
        try:
            async with asyncio.timeout(READY_TIMEOUT):
                probe = sluice.upstream.probe_headers()
                async with sluice.upstream.session.get(sluice.upstream.base + "/v1/models", headers=probe) as response:
                    # With Sluice's own credential, a refusal means every request would be refused too.
                    if response.status >= 500 or (probe and response.status in (401, 403)):
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
        if request.path.startswith("/admin") and request.path != "/admin/ui":
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
        now = time.time()
        try:
            usage = await sluice.store.usage(account_id, limits, now)
            state = await sluice.store.detection(account_id)
        except StoreUnavailable:
            return error_response(503, "The store cannot answer now; try again", "store_unavailable")
        # Cluster-wide: the detection state every replica shares, explained by the pure detector as
        # of now. Campaign signals belong to a request's fingerprints, so they show only in decisions.
        detection = None
        if state is not None:
            d = sluice.config.detection
            window = window_now(state, now, d.half_life_s, d.risk_half_life_s)
            explained = assess(window, Campaign(), tier.detection).as_dict()
            detection = {
                **explained,
                "stored_risk": round(window.risk, 4),
                "requests": round(window.c("n"), 2),  # decayed with detection.half_life_s
                "last_seen": state.last or None,
                "action": extraction_action(explained["risk"], tier.detection.levels),  # what it would draw
                "levels": asdict(tier.detection.levels),
            }
        seen = sluice.decisions.get(account_id)
        # This replica's view: the decisions it made for the account, newest last, with their reasons.
        decisions = None
        if seen is not None:
            decisions = {
                "requests": seen.requests,
                "first_extraction_flag": seen.first_flag,
                "actions": seen.actions,
                "recent": list(seen.recent),
                "risk_series": [[ts, round(risk, 4)] for ts, risk in seen.series],
            }
        until = sluice.overrides.until
        body = {
            "account": account_id,
            "tier": tier.name,
            "now": now,
            "limits": asdict(limits),
            "usage": usage,
            "allowlisted": {
                "config": account_id in sluice.config.detection.allowlist,
                "runtime": account_id in until,
                "until": until.get(account_id),
            },
            "detection": detection,
            "decisions": decisions,
        }
        return _json(body)

    def changed(request: web.Request, action: str, account: str, **details: Any) -> None:
        sluice.metrics.admin_actions.labels(action).inc()
        log.info("admin action", extra={"action": action, "account": account, "peer": request.remote, **details})

    async def allowlist(request: web.Request) -> web.Response:
        account_id = request.match_info["account"]
        ttl: float | None = None
        if request.can_read_body:
            try:
                doc = orjson.loads(await request.read() or b"{}")
            except orjson.JSONDecodeError:
                doc = None
            if not isinstance(doc, dict):
                return error_response(400, 'Body must be a JSON object, e.g. {"ttl_s": 3600}', "invalid_json")
            raw = doc.get("ttl_s")
            if raw is not None:
                if isinstance(raw, bool) or not isinstance(raw, int | float) or not 0 < raw <= MAX_TTL_S:
                    return error_response(400, f"'ttl_s' must be a number of seconds in (0, {MAX_TTL_S:.0f}]",
                                          "invalid_value", "ttl_s")
                ttl = float(raw)
        until = None if ttl is None else time.time() + ttl
        try:
            await sluice.store.allowlist(account_id, until)
        except StoreUnavailable:
            return error_response(503, "The store cannot answer now; nothing changed", "store_unavailable")
        await refresh(sluice)  # this replica at once; the others within their next poll
        changed(request, "allowlist", account_id, ttl_s=ttl)
        return _json({"account": account_id, "allowlisted": True, "until": until})

    async def unallowlist(request: web.Request) -> web.Response:
        account_id = request.match_info["account"]
        try:
            removed = await sluice.store.unallowlist(account_id)
        except StoreUnavailable:
            return error_response(503, "The store cannot answer now; nothing changed", "store_unavailable")
        await refresh(sluice)
        changed(request, "unallowlist", account_id, removed=removed)
        # An account in the config's allowlist stays allowlisted: that list changes by reload.
        in_config = account_id in sluice.config.detection.allowlist
        return _json({"account": account_id, "removed": removed, "allowlisted": in_config, "config": in_config})

    async def forget(request: web.Request, action: str, done: str) -> web.Response:
        """Reset (budgets and detection) or unblock (detection only), then say so."""
        account_id = request.match_info["account"]
        now = time.time()
        try:
            if action == "reset":
                await sluice.store.reset(account_id, now)
            else:
                await sluice.store.unblock(account_id)
        except StoreUnavailable:
            return error_response(503, "The store cannot answer now; nothing changed", "store_unavailable")
        sluice.decisions.cleared(account_id, now)
        changed(request, action, account_id)
        return _json({"account": account_id, done: True})

    async def reset(request: web.Request) -> web.Response:
        return await forget(request, "reset", "reset")

    async def unblock(request: web.Request) -> web.Response:
        return await forget(request, "unblock", "unblocked")

    async def allowlisted(request: web.Request) -> web.Response:
        try:
            until = await sluice.store.overrides(time.time())
        except StoreUnavailable:
            return error_response(503, "The store cannot answer now; try again", "store_unavailable")
        runtime = [{"account": a, "until": u} for a, u in sorted(until.items())]
        return _json({"config": sorted(sluice.config.detection.allowlist), "runtime": runtime})

    page = resources.files("proxy").joinpath("admin_ui.html").read_bytes()

    async def ui(request: web.Request) -> web.Response:
        return web.Response(body=page, content_type="text/html", charset="utf-8", headers=UI_HEADERS)

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
    app.router.add_post("/admin/accounts/{account}/allowlist", allowlist)
    app.router.add_delete("/admin/accounts/{account}/allowlist", unallowlist)
    app.router.add_post("/admin/accounts/{account}/reset", reset)
    app.router.add_post("/admin/accounts/{account}/unblock", unblock)
    app.router.add_get("/admin/allowlist", allowlisted)
    app.router.add_get("/admin/ui", ui)
    app.router.add_post("/admin/reload", reload)
    return app

