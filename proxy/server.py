"""The request path: authenticate, parse, admit, forward, stream back, settle.

One ``Sluice`` object owns everything a running proxy needs (config, key table,
store, upstream session, metrics) and hands it to the handlers; nothing lives
at module level.
"""

from __future__ import annotations

import asyncio
import gc
import ipaddress
import itertools
import logging
import math
import os
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
from aiohttp import HttpVersion11, web
from aiohttp.http_exceptions import LineTooLong
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_server import Server

from proxy.accounts import Account, KeyTable
from proxy.audit import DecisionLog
from proxy.config import Config, Limits, Tier
from proxy.errors import RequestError, error_body, error_response, from_request_error
from proxy.gate import Plan, judge, outcome, plan
from proxy.limits import QUOTAS, Admission, ratelimit_headers
from proxy.metrics import Metrics
from proxy.overrides import Overrides
from proxy.overrides import watch as watch_overrides
from proxy.policy import BLOCK, DELAY, THROTTLE, Decision
from proxy.reload import reload_config, watch
from proxy.request import CHAT, COMPLETIONS, MODELS, POST_ROUTES, RESPONSES, RequestFeatures, parse_body
from proxy.shaping import (
    ShapeContext,
    ShapingActions,
    StreamShaper,
    check_request,
    neutralise_sweep,
    noise_seed,
    shape_json,
    shape_request,
    structured_output,
    wants_logprobs,
)
from proxy.shaping.actions import (
    FINGERPRINT,
    HIDE_RATELIMIT_HEADERS,
    LOGPROB_ACTIONS,
    REMOVE_REASONING,
    TRUNCATE,
)
from proxy.sse import StreamTap
from proxy.store import build_store
from proxy.store.base import Store, StoreUnavailable
from proxy.store.guard import CircuitBreaker, FailSafeStore
from proxy.store.memory import MemoryStore
from proxy.tokens import EstimateCache
from proxy.upstream import Answer, Upstream, response_headers
from proxy.usage import Usage, parse_usage

log = logging.getLogger("sluice")

_LIMIT_TEXT = {
    "concurrency": "concurrent requests",
    "requests_per_minute": "requests per minute",
    "tokens_per_minute": "tokens per minute",
    "tokens_per_day": "tokens per day",
    "tokens_per_month": "tokens per month",
}


# The longest SSE event relayed (a whole /v1/responses object in its completed event stays far below).
MAX_SSE_EVENT = 8 * 1024 * 1024
# Container allocations between two young-generation passes of the garbage collector. Python's 700
# ran a pass every request or two under load (~6% of the CPU, traversing every in-flight request's
# objects each time), while almost all a request allocates is freed by reference counting: cycles
# are rare, and 20,000 of them are a few MB at most.
GC_YOUNG_THRESHOLD = 20_000


@dataclass(slots=True)
class Exchange:
    """One admitted request, from admission to settlement."""

    account: Account
    plan: Plan
    admission: Admission
    decision: Decision
    features: RequestFeatures
    admitted_at: float
    served: bool = True  # False when the policy refused it: nothing reached the upstream
    responded: bool = False  # the upstream answered with headers
    upstream_status: int = 0
    streamed: bool = False
    usage: Usage | None = None
    chunks: int = 0
    started: float = field(default_factory=time.monotonic)
    # A shaped level (delay / perturb): its response transforms, None when the answer passes untouched.
    shaping: ShapingActions | None = None
    shape_ctx: ShapeContext | None = None
    hide_ratelimit_headers: bool = False
    # Sluice answered with its own error after the upstream's headers (a body cut off, late or unusable):
    # nothing usable reached the client, so nothing is charged.
    failed: bool = False

    def settle_time(self) -> float:
        """Settlement's clock follows admission's: the wall clock moved on by what elapsed since."""
        return self.admitted_at + max(time.monotonic() - self.started, 0.0)

    def actual_cost(self) -> int:
        """What the account is charged: the upstream's usage, else what we saw."""
        weights = self.plan.tier.weights
        if self.usage is not None:
            return self.usage.cost(weights)
        if not self.responded or self.failed or (self.upstream_status >= 400 and not self.chunks):
            return 0  # nothing was generated
        if self.streamed:
            estimate = Usage(prompt=self.features.prompt_tokens, completion=self.chunks)
            return estimate.cost(weights)
        return self.admission.reserved  # a success without usage: charge the reservation


class _OpenAIErrorProtocol(RequestHandler):
    """aiohttp answers unparsable requests itself; make those answers OpenAI-shaped.

    It also times the request head: aiohttp has no such timeout, so a client
    trickling headers a byte at a time (slowloris) would hold its connection for
    as long as it liked. ``header_timeout`` runs from the connection's start, and
    on a kept-alive connection from the next request's first byte.
    """

    header_timeout: float | None = None
    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: BaseException | None) -> None:
        self._disarm_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        count = self._request_count
        idle = not self._request_in_progress and not self._messages
        super().data_received(data)
        if self._request_count != count:
            self._disarm_head_timer()  # a whole head arrived
        elif idle and data and self._head_timer is None:
            self._arm_head_timer()  # the first bytes of the next request on a kept-alive connection

    def _arm_head_timer(self) -> None:
        if self.header_timeout is not None:
            self._head_timer = self._loop.call_later(self.header_timeout, self._head_too_slow)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        transport = self.transport
        if transport is None or self._request_in_progress or self._messages:
            return
        body = error_body(408, "The request head did not arrive in time", "request_timeout")
        head = f"HTTP/1.1 408 Request Timeout\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        transport.write(head.encode() + b"Connection: close\r\n\r\n" + body)
        self.force_close()

    def handle_error(
        self,
        request: Any,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        # Never echo the offending bytes: a header may carry a secret.
        if isinstance(exc, LineTooLong):
            status, code, text = 431, "headers_too_large", "Request line or header too large"
        elif status < 500:
            code, text = "bad_request", "Malformed HTTP request"
        else:
            log.error("unhandled error while serving a request", exc_info=exc)
            code, text = "server_error", "The proxy failed to handle the request"
        response = web.Response(status=status, body=error_body(status, text, code), content_type="application/json")
        response.force_close()
        return response


class _Server(Server):
    header_timeout: float | None = None

    def __call__(self) -> RequestHandler:
        handler = _OpenAIErrorProtocol(self, loop=self._loop, **self._kwargs)
        handler.header_timeout = self.header_timeout
        return handler


class _Runner(web.AppRunner):
    """An AppRunner whose server times request heads and, given ``direct``, hands every request
    straight to it: no router, no middleware chain (for one catch-all route they cost more per
    request than the proxy's own routing)."""

    def __init__(
        self,
        app: web.Application,
        *,
        header_timeout: float | None = None,
        direct: Callable[[web.BaseRequest], Awaitable[web.StreamResponse]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(app, **kwargs)
        self._header_timeout = header_timeout
        self._direct = direct

    async def _make_server(self) -> Server:
        server = await super()._make_server()
        handler = self._direct or server.request_handler
        ours = _Server(handler, request_factory=server.request_factory, **server._kwargs)
        ours.header_timeout = self._header_timeout
        return ours


@web.middleware
async def _openai_http_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    """What aiohttp's router refuses itself (a CONNECT's authority-form target) in OpenAI's shape too."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        return _openai_http_error(exc)


def _openai_http_error(exc: web.HTTPException) -> web.StreamResponse:
    if exc.status < 400:
        raise exc
    code = {404: "unknown_url", 405: "method_not_allowed", 413: "request_too_large"}.get(exc.status, "bad_request")
    return error_response(exc.status, exc.reason, code)


async def _expect_continue(request: web.BaseRequest) -> None:
    """aiohttp's default ``Expect`` handling (the router's, which the direct path skips)."""
    expect = request.headers.get("Expect", "")
    if request.version != HttpVersion11:
        return
    if expect.lower() != "100-continue":
        raise web.HTTPExpectationFailed(text=f"Unknown Expect: {expect}")
    await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    request.writer.output_size = 0  # the interim answer is no part of the response body


def _wall_clock(request: web.BaseRequest) -> float:
    return time.time()


def client_ip(request: web.BaseRequest, trusted: tuple[Any, ...]) -> str:
    """The peer address, or the nearest untrusted X-Forwarded-For hop behind trusted proxies."""
    peer = request.remote or ""
    if not trusted:
        return peer
    hops = [h.strip() for h in ",".join(request.headers.getall("X-Forwarded-For", [])).split(",") if h.strip()]
    chain = [*hops, peer]
    for hop in reversed(chain):
        try:
            address = ipaddress.ip_address(hop)
        except ValueError:
            return hop if hop != peer else peer
        if not any(address in net for net in trusted):
            return hop
    return chain[0]


class Sluice:
    """A running proxy: its config and every component the handlers use."""

    def __init__(
        self, config: Config, store: Store | None = None, clock: Callable[[web.BaseRequest], float] | None = None
    ) -> None:
        self.config = config
        # The time a request is judged at. Injected only by code (the demo replays a
        # simulated day on its own clock); no config or client can set it.
        self.clock = clock or _wall_clock
        self.keys = KeyTable.from_config(config)
        self.metrics = Metrics()
        s = config.store
        self.store = FailSafeStore(
            store if store is not None else build_store(s),
            timeout=s.timeout_ms / 1000.0,
            breaker=CircuitBreaker(s.breaker_failures, s.breaker_cooldown_s),
            replicas=s.replicas,
            fallback=MemoryStore(max_accounts=s.max_accounts, lease_ttl=s.lease_ttl_s),
            metrics=self.metrics,
        )
        self.upstream = Upstream(config.upstream)
        # Token estimates of recent message texts: a conversation resends its history every turn.
        self.estimate = EstimateCache()
        self._ids = itertools.count(1)
        self._id_prefix = f"{os.getpid():x}-{int(time.time()):x}-"
        self._runners: list[web.AppRunner] = []
        self._watcher: asyncio.Task[None] | None = None
        self.stopping = asyncio.Event()
        self.decisions = DecisionLog()
        # The operators' runtime allowlist, refreshed from the store by a background poller.
        self.overrides = Overrides()
        self._overrides_task: asyncio.Task[None] | None = None
        # Keys the logprob noise when no fingerprint secret is configured (repeats stay identical
        # within this process; configure detection.fingerprint_key_env to keep them across restarts).
        self._noise_secret = os.urandom(32)

    # ---- lifecycle -------------------------------------------------------

    def proxy_app(self) -> web.Application:
        app = web.Application(client_max_size=self.config.server.max_body_bytes, middlewares=[_openai_http_errors])
        app.router.add_route("*", "/{tail:.*}", self.dispatch)
        return app

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        """The proxy port's requests, straight from aiohttp's server: what ``proxy_app``'s router and
        middleware did (a catch-all route, ``Expect``, OpenAI-shaped HTTP errors), without their cost."""
        try:
            if not request.rel_url.path.startswith("/"):
                # A CONNECT's authority-form or an OPTIONS' asterisk-form target: no route can match.
                return error_response(404, "Not Found", "unknown_url")
            if request.headers.get("Expect"):
                await _expect_continue(request)
            return await self.dispatch(request)  # type: ignore[arg-type]  # a web.Request: the app's factory
        except web.HTTPException as exc:
            return _openai_http_error(exc)

    async def start(self, reuse_port: bool = False) -> tuple[int, int]:
        """Open the upstream pool and both listeners; returns (proxy port, admin port).

        ``reuse_port``: bind with SO_REUSEPORT, so ``serve --workers N`` processes share the ports."""
        from proxy.admin import admin_app  # admin depends on Sluice, not the reverse

        young, middle, old = gc.get_threshold()
        if 0 < young < GC_YOUNG_THRESHOLD:  # 0: collection disabled, left so
            gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)
        verify = getattr(self.store.primary, "verify", None)  # Redis: refused credentials fail here
        if verify is not None:
            await verify()
        await self.upstream.start()
        header_limit = self.config.server.max_header_bytes
        proxy_runner = _Runner(
            self.proxy_app(),  # its request factory (body size limit) and lifecycle; requests go to handle()
            direct=self.handle,
            handle_signals=False,
            access_log=None,
            handler_cancellation=True,
            max_line_size=header_limit,
            max_field_size=header_limit,
            shutdown_timeout=self.config.server.drain_seconds,
            header_timeout=self.config.server.header_timeout_s,
            # After a refused body (413, 408) aiohttp reads and drops the rest so the client sees the answer
            # (not a reset); bounded, so a slow client cannot hold the connection with the rest of its body.
            lingering_time=min(2.0, self.config.server.body_timeout_s),
        )
        admin_runner = _Runner(
            admin_app(self), handle_signals=False, access_log=None, header_timeout=self.config.server.header_timeout_s
        )
        ports = []
        for runner, listen in ((proxy_runner, self.config.listen), (admin_runner, self.config.admin)):
            await runner.setup()
            site = web.TCPSite(runner, listen.host, listen.port, reuse_port=reuse_port)
            await site.start()
            self._runners.append(runner)
            server = site._server
            assert server is not None and server.sockets  # noqa: S101 - started just above
            ports.append(server.sockets[0].getsockname()[1])
        if self.config.server.reload_poll_s > 0 and self.config.source:
            self._watcher = asyncio.get_running_loop().create_task(watch(self, self.config.server.reload_poll_s))
        self._overrides_task = asyncio.get_running_loop().create_task(watch_overrides(self))
        return ports[0], ports[1]

    def reload(self) -> bool:
        """Re-read the config file (SIGHUP, the admin API, or the file watcher)."""
        return reload_config(self)

    async def stop(self) -> None:
        """Stop accepting, let in-flight requests finish (up to drain_seconds), settle, close."""
        self.stopping.set()
        if self._watcher is not None:
            self._watcher.cancel()
        if self._overrides_task is not None:
            self._overrides_task.cancel()
        for runner in self._runners:
            await runner.cleanup()
        self._runners.clear()
        await self.store.drain(max(self.config.server.drain_seconds, 1.0))  # the last settlements reach the store
        await self.upstream.close()
        await self.store.close()

    # ---- request path ----------------------------------------------------

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if request.rel_url.raw_path != path:
            # Percent-encoded (/v1%2Fchat%2Fcompletions) or otherwise disguised: a route is only ever
            # reached by its plain spelling, so a path filter in front of Sluice means what it says.
            return error_response(404, f"Unknown route {request.method} {request.rel_url.raw_path}", "unknown_url")
        if path in POST_ROUTES:
            if request.method != "POST":
                return error_response(405, f"{request.method} is not allowed on {path}; use POST", "method_not_allowed")
            handler = self.proxy_post
        elif path == MODELS:
            if request.method != "GET":
                return error_response(405, f"{request.method} is not allowed on {path}; use GET", "method_not_allowed")
            handler = self.proxy_models
        else:
            return error_response(404, f"Unknown route {request.method} {path}", "unknown_url")
        route = path
        loop = asyncio.get_running_loop()
        started = loop.time()
        self.metrics.in_flight.inc()
        status = 500
        try:
            response = await handler(request, route)
            status = response.status
            return response
        except RequestError as exc:
            status = exc.status
            response = from_request_error(exc)
            if status in (408, 413):
                response.force_close()  # the rest of a trickled or oversized body is not worth reading
            return response
        except asyncio.CancelledError:
            status = 499  # the client went away
            raise
        finally:
            self.metrics.in_flight.dec()
            self.metrics.child(self.metrics.requests, route, str(status)).inc()
            self.metrics.child(self.metrics.request_duration, route).observe(loop.time() - started)

    def authenticate(self, request: web.Request) -> tuple[Account, str]:
        header = request.headers.get("Authorization", "")
        scheme, _, key = header.partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            raise RequestError(
                401, "Missing API key: send 'Authorization: Bearer <key>'", "missing_api_key"
            )
        account = self.keys.resolve(key)
        if account is None:
            raise RequestError(401, "Incorrect API key provided", "invalid_api_key")
        return account, key

    async def read_body(self, request: web.Request) -> bytes:
        limit = self.config.server.max_body_bytes
        if request.content_length is not None and request.content_length > limit:
            raise RequestError(413, f"Request body is larger than {limit} bytes", "request_too_large")
        if request.content_type != "application/json":
            raise RequestError(415, "Content-Type must be application/json", "unsupported_media_type")
        try:
            content = request.content
            if content.is_eof():
                # The whole body came with the head: taken from the buffer at once (no timer, none of
                # read()'s loop of awaits and copies), under the size limit read() enforces.
                body = content.read_nowait()
                if len(body) > limit:
                    raise RequestError(413, f"Request body is larger than {limit} bytes", "request_too_large")
                return body
            async with asyncio.timeout(self.config.server.body_timeout_s):  # a body trickled in (slowloris)
                return await request.read()
        except TimeoutError:
            raise RequestError(408, "The request body did not arrive in time", "request_timeout") from None
        except web.HTTPRequestEntityTooLarge:
            raise RequestError(413, f"Request body is larger than {limit} bytes", "request_too_large") from None

    async def proxy_models(self, request: web.Request, route: str) -> web.StreamResponse:
        _, key = self.authenticate(request)
        headers = self.upstream.request_headers(request.headers, key, client_ip(request, self.config.server.trusted_proxies))
        return await self.forward(request, route, "GET", None, headers, None)

    async def proxy_post(self, request: web.Request, route: str) -> web.StreamResponse:
        account, key = self.authenticate(request)
        raw = await self.read_body(request)
        body, features = parse_body(route, raw, self.estimate)
        config = self.config
        tier = config.tier(account.tier)
        refused = check_request(features, tier.hardening)  # before admission: a refusal costs no budget
        if refused is not None:
            raise refused.error()
        rewritten = self.apply_caps(body, features, config.limits_for(account.id, tier))
        ip = client_ip(request, config.server.trusted_proxies)
        allow = self.overrides.allowlist
        p = plan(config, account.id, account.tier, features, ip, request.headers.get("User-Agent", ""), allow)
        request_id = f"{self._id_prefix}{next(self._ids)}"
        now = self.clock(request)
        admission = await self.admit(account, p, request_id, now)
        decision, assessment = judge(config, p, account.id, admission, allow)
        if not admission.allowed:
            self.decisions.note(account.id, request_id, now, decision)  # a budget 429 is audited like any refusal
            return self.refusal(admission, p.tier)
        exchange = Exchange(account, p, admission, decision, features, now)
        actions: list[str] = []  # request rewrites first, then what is set for the answer
        window = admission.window
        if window is not None and features.logit_bias:
            actions += neutralise_sweep(body, features, window.biased, window.distinct_bias, p.tier.hardening)
        level = p.tier.shaping.level(decision.enforced_action)
        if level is not None:
            actions += shape_request(body, features, level)
        rewritten = rewritten or bool(actions)
        if level is not None:
            actions += self.prepare_shaping(exchange, body, level)
        self.decisions.note(account.id, request_id, now, decision, actions)
        if assessment is not None:
            self.metrics.risk.observe(decision.risk)
        try:
            if decision.cause == "extraction":
                top = assessment.signals[0].name if assessment is not None and assessment.signals else "prior"
                self.metrics.extraction_decisions.labels(decision.action, top, str(decision.shadow).lower()).inc()
                action = decision.enforced_action
                if action in (THROTTLE, BLOCK):
                    exchange.served = False
                    return self.policy_refusal(action)
                if action == DELAY:
                    # Sleeping here holds no upstream connection: only this coroutine waits.
                    self.metrics.delayed.inc()
                    try:
                        await asyncio.sleep(config.detection.delay_s * (0.5 + random.random()))
                    finally:
                        self.metrics.delayed.dec()
            upstream = self.upstream
            if upstream.lean:
                headers: Any = upstream.forwarded_head(request.headers, key, ip)
            else:
                headers = upstream.request_headers(request.headers, key, ip)
            data = orjson.dumps(body) if rewritten else raw
            return await self.forward(request, route, "POST", data, headers, exchange)
        finally:
            self.settle(exchange)

    def prepare_shaping(self, exchange: Exchange, body: dict[str, Any], level: ShapingActions) -> list[str]:
        """Set the exchange up for a shaped level's response side; returns the actions set for the answer."""
        f = exchange.features
        set_for_answer: list[str] = []
        if level.hide_ratelimit_headers:
            exchange.hide_ratelimit_headers = True
            set_for_answer.append(HIDE_RATELIMIT_HEADERS)
        if not level.shapes_response or not route_generates(f.route):
            return set_for_answer
        key = self.config.detection.fingerprint_key
        structured = structured_output(body)
        mode = level.logprob_mode
        exchange.shaping = level
        exchange.shape_ctx = ShapeContext(
            account=exchange.account.id,
            noise_seed=noise_seed(key or self._noise_secret, exchange.account.id, f) if mode == "noise" else b"",
            fingerprint_key=key,
            structured=structured,
        )
        if mode != "keep" and wants_logprobs(f, body):
            set_for_answer.append(LOGPROB_ACTIONS[mode])
        if level.response.remove_reasoning:
            set_for_answer.append(REMOVE_REASONING)
        if level.response.truncate_tokens is not None:
            set_for_answer.append(TRUNCATE)
        if level.fingerprint and key is not None and not structured:
            set_for_answer.append(FINGERPRINT)
        return set_for_answer

    def policy_refusal(self, action: str) -> web.Response:
        if action == BLOCK:
            return error_response(403, "This account is not permitted to make this request", "account_restricted")
        # Indistinguishable from an ordinary rate limit: the boundary is not advertised.
        wait = 20 + int(random.random() * 40)
        message = f"Rate limit reached for requests. Retry after {wait}s"
        return error_response(429, message, "rate_limit_exceeded", headers={"Retry-After": str(wait)})

    def apply_caps(self, body: dict[str, Any], f: RequestFeatures, limits: Limits) -> bool:
        """Cap max_tokens and ask for streamed usage; True when the body changed."""
        changed = False
        if limits.max_tokens is not None and route_generates(f.route):
            if f.max_tokens is None or f.max_tokens > limits.max_tokens:
                field = f.max_tokens_field or ("max_output_tokens" if f.route == RESPONSES else "max_tokens")
                body[field] = f.max_tokens = limits.max_tokens
                f.max_tokens_field = field
                changed = True
        if f.stream and not f.include_usage and f.route in (CHAT, COMPLETIONS):
            options = body.get("stream_options") or {}
            body["stream_options"] = {**options, "include_usage": True}
            changed = True
        return changed

    async def admit(self, account: Account, p: Plan, lease: str, now: float) -> Admission:
        started = time.perf_counter()
        try:
            policy = p.tier.store_failure or self.config.store.failure
            return await self.store.admit(
                account.id, p.limits, p.cost, now, lease, policy, p.observation, p.half_lives
            )
        except StoreUnavailable:
            raise RequestError(503, "The rate-limit store is unavailable; retry shortly", "store_unavailable") from None
        finally:
            self.metrics.child(self.metrics.store_duration, "admit").observe(time.perf_counter() - started)

    def refusal(self, a: Admission, tier: Tier) -> web.Response:
        limit = a.limit or "requests_per_minute"
        self.metrics.rate_limited.labels(limit, tier.name).inc()
        headers = ratelimit_headers(a)
        what = _LIMIT_TEXT.get(limit, limit)
        if a.too_large:
            message = f"Request too large for the {what} limit: lower max_tokens or the prompt"
            code = "request_too_large"
            headers["x-should-retry"] = "false"
        elif limit in QUOTAS:
            message = f"Quota exceeded: {what}. It renews in {math.ceil(a.retry_after)}s"
            code = "insufficient_quota"
            headers["x-should-retry"] = "false"
            headers["Retry-After"] = str(math.ceil(a.retry_after))
        else:
            message = f"Rate limit reached for {what}. Retry after {a.retry_after:.2f}s"
            code = "rate_limit_exceeded"
            headers["Retry-After"] = str(max(math.ceil(a.retry_after), 1))
            headers["retry-after-ms"] = str(max(int(a.retry_after * 1000), 1))
        return error_response(429, message, code, headers=headers)

    def settle(self, exchange: Exchange) -> None:
        """Charge the request what it really cost: queued for the store's next batch, never awaited here
        (it runs even when the client has gone; stop() waits for the queue)."""
        actual = exchange.actual_cost() if exchange.served else 0
        usage = exchange.usage
        prompt = usage.prompt if usage is not None else exchange.features.prompt_tokens
        completion = usage.visible_completion if usage is not None else exchange.chunks
        result = outcome(exchange.plan, exchange.decision, prompt, completion, exchange.served)
        p = exchange.plan
        try:
            self.store.settle_soon(
                exchange.account.id, p.limits, exchange.admission, actual, exchange.settle_time(), result,
                p.half_lives,
            )
        except Exception:  # noqa: BLE001 - settlement must never crash the proxy
            self.metrics.store_errors.labels("settle").inc()
            log.warning("settlement failed for a request; its reservation stands", exc_info=True)
        tier = p.tier.name
        if usage is not None:
            self.metrics.child(self.metrics.tokens, "prompt", tier).inc(usage.prompt)
            self.metrics.child(self.metrics.tokens, "completion", tier).inc(usage.completion)
        elif exchange.chunks:
            self.metrics.child(self.metrics.tokens, "completion", tier).inc(exchange.chunks)

    # ---- upstream --------------------------------------------------------

    async def forward(
        self,
        request: web.Request,
        route: str,
        method: str,
        data: bytes | None,
        headers: Any,
        exchange: Exchange | None,
    ) -> web.StreamResponse:
        timeouts = self.config.upstream.timeouts
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeouts.total
        started = loop.time()
        upstream: Answer
        try:
            async with asyncio.timeout(min(timeouts.first_byte, timeouts.total)):
                if isinstance(headers, str):  # the lean client's header lines (Upstream.forwarded_head)
                    upstream = await self.upstream.post(route, data or b"", headers)
                else:
                    upstream = await self.upstream.session.request(
                        method, self.upstream.base + route, data=data, headers=headers
                    )
        except TimeoutError:
            self.metrics.upstream_errors.labels("timeout").inc()
            return error_response(504, "The upstream did not answer in time", "upstream_timeout")
        except (aiohttp.ClientError, OSError) as exc:  # OSError: the lean client's connect (refused, TLS)
            self.metrics.upstream_errors.labels("connect").inc()
            log.warning("upstream unreachable: %s", exc.__class__.__name__)
            return error_response(502, "The upstream is unreachable", "upstream_unreachable")
        self.metrics.child(self.metrics.upstream_duration, route).observe(loop.time() - started)
        if exchange is not None:
            exchange.responded = True
            exchange.upstream_status = upstream.status
        extra = {}
        if exchange is not None and not exchange.hide_ratelimit_headers:
            extra = ratelimit_headers(exchange.admission)
        try:
            if upstream.content_type == "text/event-stream":
                return await self.relay_stream(request, upstream, exchange, extra, deadline)
            return await self.relay_body(upstream, exchange, extra, deadline)
        finally:
            if upstream.content.at_eof():
                upstream.release()  # fully read: the connection goes back to the pool
            else:
                upstream.close()  # abandoned mid-answer (client gone, timeout): abort the upstream request

    async def relay_body(
        self, upstream: Answer, exchange: Exchange | None, extra: dict[str, str], deadline: float
    ) -> web.StreamResponse:
        try:
            if upstream.content.is_eof():  # the whole answer came with its headers: no timer needed
                body = await upstream.read()
            else:
                async with asyncio.timeout_at(deadline):
                    body = await upstream.read()
        except TimeoutError:
            self.metrics.upstream_errors.labels("timeout").inc()
            if exchange is not None:
                exchange.failed = True
            return error_response(504, "The upstream did not finish its answer in time", "upstream_timeout")
        except aiohttp.ClientError:
            self.metrics.upstream_errors.labels("disconnect").inc()
            if exchange is not None:
                exchange.failed = True
            return error_response(502, "The upstream closed the connection mid-answer", "upstream_disconnected")
        shaping = exchange.shaping if exchange is not None and upstream.status == 200 else None
        if exchange is not None and (upstream.status == 200 or (
            upstream.content_type == "application/json" and b'"usage"' in body
        )):
            parsed = None
            if upstream.content_type == "application/json":
                try:
                    parsed = orjson.loads(body)
                except orjson.JSONDecodeError:
                    pass
            if upstream.status == 200 and not isinstance(parsed, dict):
                # Garbage, a cut-off body or an HTML page in place of an answer: the client could not use
                # it (an SDK fails to parse it), so it gets an error it can act on, and is charged nothing.
                self.metrics.upstream_errors.labels("bad_response").inc()
                exchange.failed = True
                message = "The upstream sent an answer that is not a JSON object"
                return error_response(502, message, "upstream_bad_response")
            if isinstance(parsed, dict):
                exchange.usage = parse_usage(parsed.get("usage"))  # what the upstream generated, before shaping
                ctx = exchange.shape_ctx
                route = exchange.features.route
                if shaping is not None and ctx is not None and shape_json(parsed, route, shaping, ctx):
                    body = orjson.dumps(parsed)
        headers = response_headers(upstream.headers)
        headers.update(extra)
        return web.Response(status=upstream.status, body=body, headers=headers)

    async def relay_stream(
        self,
        request: web.Request,
        upstream: Answer,
        exchange: Exchange | None,
        extra: dict[str, str],
        deadline: float,
    ) -> web.StreamResponse:
        idle = self.config.upstream.timeouts.idle
        headers = response_headers(upstream.headers)
        headers.update(extra)
        content = upstream.content
        try:
            first = content.read_nowait()  # what came with the upstream's headers, if anything
        except aiohttp.ClientError:
            first = b""  # the loop below meets the error again and reports it
        # With events in hand the headers go out with them, in one write; without, at once, so the
        # client sees its answer start while the upstream works on the first token.
        response = (_HeadsWithBody if first else web.StreamResponse)(status=upstream.status, headers=headers)
        if exchange is not None:
            exchange.streamed = True
        try:
            await response.prepare(request)
        except ConnectionResetError:
            return response  # the client left before the headers; forward() aborts the upstream request
        shaper = None
        if exchange is not None and upstream.status == 200 and exchange.shaping and exchange.shape_ctx:
            shaper = StreamShaper(exchange.features.route, exchange.shaping, exchange.shape_ctx)
        tap = StreamTap(drop_usage_chunk=exchange is not None and not exchange.features.include_usage, shaper=shaper)
        loop = asyncio.get_running_loop()
        failure: tuple[str, str] | None = None
        tail = b""  # the last events read: they go out with the end of the response, in one write
        try:
            while True:
                try:
                    if loop.time() >= deadline:
                        raise TimeoutError
                    # What has arrived already is taken without arming a timer (a fast upstream's
                    # answer is often all there); only a wait is timed.
                    chunk, first = first or content.read_nowait(), b""
                    if not chunk and not content.at_eof():
                        async with asyncio.timeout_at(min(loop.time() + idle, deadline)):
                            chunk = await content.readany()
                except TimeoutError:
                    self.metrics.upstream_errors.labels("stream_timeout").inc()
                    failure = ("The upstream stalled mid-stream", "upstream_timeout")
                    break
                except aiohttp.ClientError:
                    self.metrics.upstream_errors.labels("disconnect").inc()
                    failure = ("The upstream closed the connection mid-stream", "upstream_disconnected")
                    break
                if not chunk:
                    break
                out = tap.feed(chunk)
                if tap.pending > MAX_SSE_EVENT:
                    # An event that never ends would grow the buffer until the total timeout.
                    self.metrics.upstream_errors.labels("bad_response").inc()
                    failure = ("The upstream sent an unterminated or oversized event", "upstream_bad_response")
                    tail = out
                    break
                if content.at_eof():
                    tail = out
                    break
                if out:
                    await response.write(out)
            # A cut-off event is not forwarded: the client could not parse it.
            rest = tail + (b"" if failure is not None and failure[1] == "upstream_bad_response" else tap.flush())
            if failure is not None:
                status = 504 if failure[1] == "upstream_timeout" else 502
                rest += b"data: " + error_body(status, failure[0], failure[1]) + b"\n\n"
            await response.write_eof(rest)
        except ConnectionResetError:
            pass  # the client went away; forward() aborts the upstream request
        finally:
            if exchange is not None:
                exchange.usage = tap.usage
                exchange.chunks = tap.chunks
        return response


class _HeadsWithBody(web.StreamResponse):
    """A stream whose headers wait for its first body bytes and go out in the same write (aiohttp sends a
    StreamResponse's headers on their own at prepare(), one more system call per response)."""

    _send_headers_immediately = False


def route_generates(route: str) -> bool:
    return route in (CHAT, COMPLETIONS, RESPONSES)
