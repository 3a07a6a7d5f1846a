"""A stub OpenAI-compatible upstream for the demo, tests and benchmarks.

It answers deterministically (the reply is derived from the prompt), counts
one token per word, and can misbehave on request, selected by the model name
so that any client (the official SDK included) can ask for it:

- ``stub-error-<status>``: answer that HTTP status with an OpenAI error body;
- ``stub-slow``: wait ``slow_seconds`` before the response headers;
- ``stub-stall``: stream a few chunks, then stall for ``slow_seconds``;
- ``stub-hf``: stream like Hugging Face ``transformers serve`` (usage on the
  finish chunk, no ``[DONE]``, include_usage ignored);
- ``stub-nousage``: never report usage;
- ``stub-reset``: stream a few chunks, then drop the connection;
- ``stub-garbage``: a 200 whose JSON body is not JSON;
- ``stub-truncated``: a 200 JSON answer cut off half-way (the Content-Length matches the cut);
- ``stub-html``: a 200 with an HTML page instead of JSON;
- ``stub-endless``: a body that never ends (JSON: whitespace forever; streams: chunks forever);
- ``stub-unterminated``: stream three chunks, then one event that never ends (no blank line).

And two content modes for the shaping tests: ``stub-prose`` answers fluent prose (``PROSE``),
``stub-reasoning`` adds reasoning (chat: ``reasoning_content``; /v1/responses: a reasoning item
with a summary, streamed with its events). Logprobs come in each route's own shape: chat and
/v1/responses token entries (asked with ``include: ["message.output_text.logprobs"]`` there),
the legacy completions object of parallel lists.

A request header ``X-Stub-Tokens: N`` asks for an answer of N tokens (the demo
uses it to replay simulated traffic with its recorded answer lengths).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

LENGTH_HINT = "X-Stub-Tokens"
_WORDS = (
    "the answer depends on context and on the assumptions we make about the inputs so let us reason "
    "carefully step by step considering each case in turn before we reach a conclusion that holds"
).split()


@dataclass
class StubStats:
    """What the stub served, so tests can compare it with what Sluice charged."""

    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    aborted_streams: int = 0  # streams whose client (Sluice) went away mid-way
    chunks_sent: int = 0  # content chunks written to streams, finished or not
    # Prompt plus content chunks of streams whose client went away: served, though never reported in usage.
    aborted_tokens: int = 0
    last_authorization: str | None = None
    last_headers: dict[str, str] = field(default_factory=dict)
    last_body: dict[str, Any] = field(default_factory=dict)


def _prompt_text(body: dict[str, Any]) -> str:
    parts: list[str] = []
    for message in body.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(p.get("text", "") for p in content if isinstance(p, dict))
    prompt = body.get("prompt")
    if isinstance(prompt, str):
        parts.append(prompt)
    value = body.get("input")
    if isinstance(value, str):
        parts.append(value)
    elif isinstance(value, list):
        parts.extend(v for v in value if isinstance(v, str))
    return "\n".join(parts)


def _reply(prompt: str, tokens: int) -> list[str]:
    """Deterministic words: the same prompt always gets the same answer."""
    seed = int.from_bytes(hashlib.blake2b(prompt.encode(), digest_size=4).digest(), "big")
    return [_WORDS[(seed + i * 7) % len(_WORDS)] for i in range(tokens)]


# Model "stub-prose" answers with this (cycled): fluent text with words the output fingerprint can vary.
_PROSE_TEXT = (
    "I don't think the whole approach is wrong. For example, we can use a simple cache in front of the "
    "database, and it is important to measure first. However, the results are often surprising: the main "
    "cost isn't where you'd expect it. In practice, you will usually find that two or three queries "
    "dominate. Note that the data set is small, so it fits in memory. Additionally, the color scheme doesn't "
    "matter here. That's why we should start toward a better design, e.g. a cache that is checked first."
)
PROSE = _PROSE_TEXT.split()
REASONING = "Let me think this through step by step."  # model "stub-reasoning" sends it as reasoning_content


def _logprob_entry(piece: str, i: int, top: int) -> dict[str, Any]:
    """A chat logprob entry with unround values (so rounding is visible) and ``top`` alternatives."""
    value = -round(0.123456 + 0.0371 * i, 6)
    alternatives = [{"token": f"alt{j}", "logprob": round(value - 1.234567 * (j + 1), 6), "bytes": None}
                    for j in range(top)]
    return {"token": piece, "logprob": value, "bytes": None, "top_logprobs": alternatives}


def _with_bytes(entry: dict[str, Any]) -> dict[str, Any]:
    """A /v1/responses logprob entry: ``bytes`` is a list there, never null."""
    for e in (entry, *entry["top_logprobs"]):
        e["bytes"] = list(e["token"].encode())
    return entry


def _top(body: dict[str, Any]) -> int:
    top = body.get("top_logprobs")
    return top if isinstance(top, int) and not isinstance(top, bool) else 0


def _completions_top(body: dict[str, Any]) -> int | None:
    """The legacy completions ``logprobs`` parameter (a count of alternatives); None: not asked."""
    top = body.get("logprobs")
    return top if isinstance(top, int) and not isinstance(top, bool) else None


def _completions_logprobs(pieces: list[str], first: int, offset: int, top: int) -> dict[str, Any]:
    """The legacy completions logprobs object for ``pieces`` (token ``first`` on, text at ``offset``)."""
    entries = [_logprob_entry(p, first + i, top) for i, p in enumerate(pieces)]
    offsets = []
    for piece in pieces:
        offsets.append(offset)
        offset += len(piece)
    return {
        "tokens": pieces,
        "token_logprobs": [e["logprob"] for e in entries],
        "top_logprobs": [{t["token"]: t["logprob"] for t in e["top_logprobs"]} for e in entries],
        "text_offset": offsets,
    }


class StubUpstream:
    def __init__(
        self,
        *,
        reply_tokens: int = 40,
        chunk_delay: float = 0.0,
        slow_seconds: float = 5.0,
        require_key: str | None = None,
    ) -> None:
        self.reply_tokens = reply_tokens
        self.chunk_delay = chunk_delay
        self.slow_seconds = slow_seconds
        self.require_key = require_key
        self.stats = StubStats()
        self._runner: web.AppRunner | None = None

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self.chat)
        app.router.add_post("/v1/completions", self.completions)
        app.router.add_post("/v1/embeddings", self.embeddings)
        app.router.add_post("/v1/responses", self.responses)
        app.router.add_get("/v1/models", self.models)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self._runner = web.AppRunner(self.app(), access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return f"http://{host}:{bound}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # ---- helpers ---------------------------------------------------------

    async def _begin(self, request: web.Request) -> tuple[dict[str, Any], web.Response | None]:
        self.stats.requests += 1
        self.stats.last_authorization = request.headers.get("Authorization")
        self.stats.last_headers = dict(request.headers)
        if self.require_key is not None and request.headers.get("Authorization") != f"Bearer {self.require_key}":
            return {}, _error(401, "stub: wrong upstream key", "invalid_api_key")
        body = orjson.loads(await request.read()) if request.can_read_body else {}
        self.stats.last_body = body
        model = str(body.get("model", ""))
        if model.startswith("stub-error-"):
            status = int(model.rsplit("-", 1)[1])
            return body, _error(status, f"stub error {status}", "stub_error")
        if model == "stub-slow":
            await asyncio.sleep(self.slow_seconds)
        if model == "stub-garbage":
            return body, web.Response(body=b"<<not json>> \x00\x01", content_type="application/json")
        if model == "stub-html":
            return body, web.Response(body=b"<html><body>502 Bad Gateway</body></html>", content_type="text/html")
        if model == "stub-endless" and not body.get("stream"):
            return body, await self._endless_json(request)
        return body, None

    async def _endless_json(self, request: web.Request) -> web.StreamResponse:
        """A JSON answer that never ends: its client has to give up."""
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        await response.write(b'{"id": "stub-endless", "choices": [')
        try:
            while True:
                await response.write(b" " * 64)
                await asyncio.sleep(0.01)
        except ConnectionResetError:  # the client gave up, as it must: nothing to log
            self.stats.aborted_streams += 1
            return response
        except asyncio.CancelledError:
            self.stats.aborted_streams += 1
            raise

    def _tokens(self, body: dict[str, Any], length_hint: str | None = None) -> tuple[str, int, int]:
        prompt = _prompt_text(body)
        prompt_tokens = len(prompt.split()) + 4 * len(body.get("messages") or [])
        limit = body.get("max_tokens") or body.get("max_completion_tokens") or body.get("max_output_tokens")
        n = self.reply_tokens if not isinstance(limit, int) else min(limit, self.reply_tokens)
        if length_hint is not None and length_hint.isdigit():
            # The demo replays recorded traffic: answer as long as the recorded answer was.
            n = min(int(length_hint), n if isinstance(limit, int) else int(length_hint))
        return prompt, prompt_tokens, n

    def _count(self, prompt_tokens: int, completion_tokens: int) -> None:
        self.stats.prompt_tokens += prompt_tokens
        self.stats.completion_tokens += completion_tokens

    # ---- routes ----------------------------------------------------------

    async def models(self, request: web.Request) -> web.Response:
        self.stats.last_authorization = request.headers.get("Authorization")
        data = [{"id": name, "object": "model", "created": 0, "owned_by": "stub"} for name in ("stub-model", "stub-hf")]
        return web.json_response({"object": "list", "data": data}, dumps=lambda o: orjson.dumps(o).decode())

    async def chat(self, request: web.Request) -> web.StreamResponse:
        return await self._generate(request, chat=True)

    async def completions(self, request: web.Request) -> web.StreamResponse:
        return await self._generate(request, chat=False)

    async def _generate(self, request: web.Request, chat: bool) -> web.StreamResponse:
        body, failed = await self._begin(request)
        if failed is not None:
            return failed
        prompt, prompt_tokens, n = self._tokens(body, request.headers.get(LENGTH_HINT))
        model = str(body.get("model", "stub-model"))
        words = [PROSE[i % len(PROSE)] for i in range(n)] if model == "stub-prose" else _reply(prompt, n)
        kind = "chat.completion" if chat else "text_completion"
        if body.get("stream"):
            return await self._stream(request, body, words, prompt_tokens, model, chat)
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": n, "total_tokens": prompt_tokens + n}
        text = " ".join(words)
        choice: dict[str, Any] = {"index": 0, "finish_reason": "length" if n < self.reply_tokens else "stop"}
        if chat:
            choice["message"] = {"role": "assistant", "content": text}
            if model == "stub-reasoning":
                choice["message"]["reasoning_content"] = REASONING
        else:
            choice["text"] = text
        pieces = [w if i == 0 else " " + w for i, w in enumerate(words)]
        if chat and body.get("logprobs"):
            choice["logprobs"] = {"content": [_logprob_entry(p, i, _top(body)) for i, p in enumerate(pieces)]}
        elif not chat and _completions_top(body) is not None:
            # The legacy shape: parallel lists, alternatives as {token: logprob}.
            choice["logprobs"] = _completions_logprobs(pieces, 0, 0, _completions_top(body) or 0)
        answer: dict[str, Any] = {
            "id": f"stub-{self.stats.requests}",
            "object": kind,
            "created": int(time.time()),
            "model": model,
            "choices": [choice],
        }
        if model != "stub-nousage":
            answer["usage"] = usage
        self._count(prompt_tokens, n)
        if model == "stub-truncated":
            whole = orjson.dumps(answer)
            return web.Response(body=whole[: len(whole) // 2], content_type="application/json")
        return web.Response(body=orjson.dumps(answer), content_type="application/json")

    async def _stream(
        self,
        request: web.Request,
        body: dict[str, Any],
        words: list[str],
        prompt_tokens: int,
        model: str,
        chat: bool,
    ) -> web.StreamResponse:
        include_usage = bool((body.get("stream_options") or {}).get("include_usage")) and model != "stub-nousage"
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await response.prepare(request)
        base = {"id": f"stub-{self.stats.requests}", "created": int(time.time()), "model": model}
        base["object"] = "chat.completion.chunk" if chat else "text_completion"

        def event(choices: list[dict[str, Any]], **extra: Any) -> bytes:
            return b"data: " + orjson.dumps({**base, "choices": choices, **extra}) + b"\n\n"

        progress = [0]  # content chunks written so far, for the abort accounting
        try:
            return await self._stream_words(
                request, response, event, words, prompt_tokens, model, chat, include_usage, body, progress
            )
        except (ConnectionResetError, asyncio.CancelledError) as exc:
            self.stats.aborted_streams += 1
            if progress[0] >= 0:  # not yet counted as a whole answer (-1: it was, before its tail failed)
                self.stats.aborted_tokens += prompt_tokens + progress[0]
            if isinstance(exc, asyncio.CancelledError):
                raise
            return response  # the client left mid-stream: counted above, nothing to log

    async def _stream_words(
        self,
        request: web.Request,
        response: web.StreamResponse,
        event: Any,
        words: list[str],
        prompt_tokens: int,
        model: str,
        chat: bool,
        include_usage: bool,
        body: dict[str, Any],
        progress: list[int] | None = None,
    ) -> web.StreamResponse:
        hf = model == "stub-hf"
        if model == "stub-endless":
            words = _endless(words)  # type: ignore[assignment]
        if chat:
            await response.write(event([{"index": 0, "delta": {"role": "assistant", "content": ""}}]))
            if model == "stub-reasoning":
                await response.write(event([{"index": 0, "delta": {"reasoning_content": REASONING}}]))
        logprobs = chat and bool(body.get("logprobs"))
        legacy_top = None if chat else _completions_top(body)
        offset = 0
        sent = 0
        for i, word in enumerate(words):
            if model == "stub-unterminated" and i == 3:
                # An event that never ends: "data: xxxx..." with no blank line, until the client leaves.
                self._count(prompt_tokens, sent)
                await response.write(b"data: ")
                while request.transport is not None and not request.transport.is_closing():
                    await response.write(b"x" * 65536)
                    await asyncio.sleep(0.001)
                return response
            if model in ("stub-stall", "stub-reset") and i == 3:
                if model == "stub-reset":
                    self._count(prompt_tokens, sent)
                    assert request.transport is not None
                    request.transport.abort()
                    return response
                await asyncio.sleep(self.slow_seconds)
            piece = word if i == 0 else " " + word
            choice = {"index": 0, "delta": {"content": piece}} if chat else {"index": 0, "text": piece}
            if logprobs:
                choice["logprobs"] = {"content": [_logprob_entry(piece, i, _top(body))]}
            elif legacy_top is not None:
                choice["logprobs"] = _completions_logprobs([piece], i, offset, legacy_top)
            offset += len(piece)
            if request.transport is None or request.transport.is_closing():
                # Its client is gone: a write now could still "succeed" into a dead socket and be miscounted.
                raise ConnectionResetError("the client went away")
            await response.write(event([choice]))
            sent += 1
            self.stats.chunks_sent += 1
            if progress is not None:
                progress[0] = sent
            if self.chunk_delay:
                await asyncio.sleep(self.chunk_delay)
            elif model == "stub-endless":
                await asyncio.sleep(0.01)
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": sent, "total_tokens": prompt_tokens + sent}
        finish = {"index": 0, "delta": {}, "finish_reason": "length"} if chat else {"index": 0, "text": "", "finish_reason": "length"}
        self._count(prompt_tokens, sent)
        if progress is not None:
            progress[0] = -1  # counted: a client leaving during the tail below adds nothing more
        if hf:
            await response.write(event([finish], usage=usage))
            await response.write_eof()
            return response
        await response.write(event([finish]))
        if include_usage:
            await response.write(event([], usage=usage))
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    async def embeddings(self, request: web.Request) -> web.Response:
        body, failed = await self._begin(request)
        if failed is not None:
            return failed
        value = body.get("input")
        inputs = [value] if isinstance(value, str) else list(value or [])
        data = []
        tokens = 0
        for i, item in enumerate(inputs):
            text = item if isinstance(item, str) else " ".join(map(str, item))
            tokens += len(text.split())
            digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
            data.append({"object": "embedding", "index": i, "embedding": [b / 255.0 for b in digest]})
        self._count(tokens, 0)
        answer = {"object": "list", "data": data, "model": body.get("model", "stub-model"),
                  "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}
        return web.Response(body=orjson.dumps(answer), content_type="application/json")

    async def responses(self, request: web.Request) -> web.StreamResponse:
        body, failed = await self._begin(request)
        if failed is not None:
            return failed
        prompt, prompt_tokens, n = self._tokens(body)
        model = str(body.get("model", "stub-model"))
        words = [PROSE[i % len(PROSE)] for i in range(n)] if model == "stub-prose" else _reply(prompt, n)
        text = " ".join(words)
        pieces = [w if i == 0 else " " + w for i, w in enumerate(words)]
        # Logprobs are asked for with include; each entry's alternatives as in the chat API.
        with_logprobs = "message.output_text.logprobs" in (body.get("include") or ())
        entries = [_with_bytes(_logprob_entry(p, i, _top(body))) for i, p in enumerate(pieces)] if with_logprobs else []
        usage = {"input_tokens": prompt_tokens, "output_tokens": n, "total_tokens": prompt_tokens + n}
        part: dict[str, Any] = {"type": "output_text", "text": text, "annotations": []}
        if with_logprobs:
            part["logprobs"] = entries
        message = {"type": "message", "id": "msg-1", "role": "assistant", "status": "completed", "content": [part]}
        # Model "stub-reasoning" puts a reasoning item (with a summary) before the message.
        reasoning = {"type": "reasoning", "id": "rs-1", "summary": [{"type": "summary_text", "text": REASONING}]}
        output = [reasoning, message] if model == "stub-reasoning" else [message]
        result = {
            "id": f"resp-{self.stats.requests}",
            "object": "response",
            "created_at": int(time.time()),
            "model": body.get("model", "stub-model"),
            "status": "completed",
            "output": output,
            "usage": usage,
        }
        self._count(prompt_tokens, n)
        if not body.get("stream"):
            return web.Response(body=orjson.dumps(result), content_type="application/json")
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        seq = 0

        async def send(kind: str, payload: dict[str, Any]) -> None:
            nonlocal seq
            data = orjson.dumps({"type": kind, "sequence_number": seq, **payload})
            seq += 1
            await response.write(b"event: " + kind.encode() + b"\ndata: " + data + b"\n\n")

        await send("response.created", {"response": {**result, "status": "in_progress", "output": [], "usage": None}})
        at = len(output) - 1  # the message's output index
        if model == "stub-reasoning":
            summary = {"item_id": "rs-1", "output_index": 0, "summary_index": 0}
            await send("response.output_item.added", {"output_index": 0, "item": {**reasoning, "summary": []}})
            empty = {"type": "summary_text", "text": ""}
            await send("response.reasoning_summary_part.added", {**summary, "part": empty})
            await send("response.reasoning_summary_text.delta", {**summary, "delta": REASONING})
            await send("response.reasoning_summary_text.done", {**summary, "text": REASONING})
            await send("response.reasoning_summary_part.done", {**summary, "part": reasoning["summary"][0]})
            await send("response.output_item.done", {"output_index": 0, "item": reasoning})
        where = {"item_id": "msg-1", "output_index": at, "content_index": 0}
        await send("response.output_item.added", {"output_index": at, "item": {**message, "status": "in_progress",
                                                                                "content": []}})
        await send("response.content_part.added", {**where, "part": {**part, "text": "", "logprobs": []}})
        for i, piece in enumerate(pieces):
            await send("response.output_text.delta", {**where, "delta": piece, "logprobs": entries[i : i + 1]})
        await send("response.output_text.done", {**where, "text": text, "logprobs": entries})
        await send("response.content_part.done", {**where, "part": part})
        await send("response.output_item.done", {"output_index": at, "item": message})
        await send("response.completed", {"response": result})
        await response.write_eof()
        return response


def _endless(words: list[str]) -> Any:
    """The answer's words over and over, paced so an endless stream does not spin a core."""
    i = 0
    while True:
        yield words[i % len(words)] if words else "more"
        i += 1


def _error(status: int, message: str, code: str) -> web.Response:
    body = {"error": {"message": message, "type": "stub_error", "param": None, "code": code}}
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")
