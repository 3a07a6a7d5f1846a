"""A catalogue of hostile requests against a live Sluice, over raw sockets.

tests/test_bad_input.py covers the everyday mistakes (malformed JSON, 413/415/431, CL+TE smuggling,
unknown keys). This file throws what an attacker or a broken client sends: truncated and deeply
nested JSON, numbers and strings past every limit, invalid UTF-8 and lone surrogates, a wrong type in
every field Sluice reads, duplicate keys, conflicting framing, path tricks aimed at the admin surface,
odd methods and protocols, and slowloris clients trickling headers or bodies.

For every input the client gets a 4xx in OpenAI's error shape or a closed connection (a 408 first
for the slow ones, within the configured ``server.header_timeout_s`` / ``body_timeout_s``), never a
2xx, a 5xx or a hang; nothing of it reaches the upstream; and the proxy goes on serving. A
``sluice serve`` process takes a bounded barrage of the whole catalogue and its memory stays bounded.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import openai
import orjson
import pytest

from proxy.accounts import keys_file_line
from proxy.stub import StubUpstream
from tests.harness import Running, free_port, running_sluice

KEY = "sk-test-alice"
MAX_BODY = 1024 * 1024
MAX_HEADER = 4096
HEADER_TIMEOUT = 1.0
BODY_TIMEOUT = 1.0
SERVER = {
    "max_body_bytes": MAX_BODY,
    "max_header_bytes": MAX_HEADER,
    "header_timeout_s": HEADER_TIMEOUT,
    "body_timeout_s": BODY_TIMEOUT,
}
GOOD = {"model": "m", "messages": [{"role": "user", "content": "hello"}]}
# A reply must come long before this; a hang fails the test instead of stalling the suite.
REPLY_WAIT = 10.0
CLOSE_WAIT = 3.0  # how long a closing connection may take to close after its answer


def http(
    body: bytes = b"",
    *,
    method: str = "POST",
    path: str = "/v1/chat/completions",
    headers: dict[str, str] | None = None,
    auth: bool = True,
    content_type: str | None = "application/json",
    length: bool = True,
) -> bytes:
    """One raw HTTP/1.1 request, framed as given (a test may lie about the framing on purpose)."""
    lines = [f"{method} {path} HTTP/1.1", "Host: sluice.test", "Connection: close"]
    if auth:
        lines.append(f"Authorization: Bearer {KEY}")
    if content_type is not None:
        lines.append(f"Content-Type: {content_type}")
    if length:
        lines.append(f"Content-Length: {len(body)}")
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def chat(**fields: object) -> bytes:
    return http(orjson.dumps({**GOOD, **fields}))


@dataclass(frozen=True)
class Case:
    name: str
    raw: bytes
    statuses: frozenset[int]  # what is acceptable; an empty set: the connection may just close


def _case(name: str, raw: bytes, *statuses: int) -> Case:
    return Case(name, raw, frozenset(statuses))


# ---- the catalogue -----------------------------------------------------------------------

# For each field Sluice reads, values of the wrong type or out of range (per route where they differ).
WRONG_VALUES: dict[str, list[object]] = {
    "messages": ["hi", 1, {}, [], [1], [None], [{"role": 1, "content": "x"}], [{"role": "user", "content": 5}],
                 [{"role": "user", "content": [5]}], [{"role": "user", "content": {"text": "x"}}], None],
    "model": [7, 1.5, True, [], {}],
    "max_tokens": ["10", 1.5, True, [], {}, -1, 0],
    "max_completion_tokens": ["10", 2.5, False, [10], 0],
    "n": ["2", 1.5, True, 0, -1, 129, [2]],
    "logit_bias": [[1], "x", 5, True, {"1": "x"}, {"1": True}, {"1": [1]}, {"1": None}],
    "top_logprobs": ["5", 21, -1, 1.5, True, {}],
    "logprobs": ["yes", 1, [], {}],
    "stream": ["yes", 1, 0, [], {}],
    "stream_options": ["x", [], 1, {"include_usage": "yes"}, {"include_usage": 1}],
    "temperature": ["hot", -0.1, 2.5, True, [], {}],
    "top_p": ["x", 1.5, -1, False],
    "seed": ["1", 1.5, True, -(2**63) - 1, [1]],
    "tools": ["x", {}, 5, True],
}  # fmt: skip
OTHER_ROUTES: list[tuple[str, dict[str, object]]] = [
    ("/v1/completions", {"model": "m"}),
    ("/v1/completions", {"model": "m", "prompt": {}}),
    ("/v1/completions", {"model": "m", "prompt": []}),
    ("/v1/completions", {"model": "m", "prompt": [1, "a"]}),
    ("/v1/completions", {"model": "m", "prompt": "x", "logprobs": 6}),
    ("/v1/completions", {"model": "m", "prompt": "x", "logprobs": True}),
    ("/v1/completions", {"model": "m", "prompt": "x", "suffix": 5}),
    ("/v1/embeddings", {"model": "m", "input": 5}),
    ("/v1/embeddings", {"model": "m", "input": []}),
    ("/v1/embeddings", {"model": "m", "input": [True]}),
    ("/v1/embeddings", {"model": "m", "input": None}),
    ("/v1/responses", {"model": "m", "input": 5}),
    ("/v1/responses", {"model": "m", "input": [5]}),
    ("/v1/responses", {"model": "m", "input": "x", "instructions": 5}),
    ("/v1/responses", {"model": "m", "input": [{"role": "user", "content": 5}]}),
    ("/v1/responses", {"model": "m", "input": "x", "top_logprobs": 99}),
]
BAD_UTF8 = [b"\xff", b"\xc0\xaf", b"\xe4\xb8", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\x80", b"\xf4\x90\x80\x80"]
SURROGATES = [b"\\ud800", b"\\udc00", b"\\ud800\\u0041", b"\\udbff\\udbff", b"\\ud83d"]


def _with_field(field: str, value: object) -> bytes:
    if isinstance(value, int) and abs(value) >= 2**63:  # past what orjson writes: spelt out
        return http(orjson.dumps(GOOD)[:-1] + f',"{field}":{value}}}'.encode())
    return chat(**{field: value})


def catalogue() -> list[Case]:
    cases: list[Case] = []
    add = cases.append
    good = orjson.dumps(GOOD)

    # Truncated JSON at every structural point of a valid body.
    for cut in range(1, len(good), max(len(good) // 12, 1)):
        add(_case(f"truncated at {cut}", http(good[:cut]), 400))
    add(_case("truncated inside a \\u escape", http(b'{"model": "m", "messages": [{"role": "user", "content": "\\u00'), 400))

    # Deep nesting: far past orjson's recursion limit, and just inside it where Sluice reads.
    add(_case("100k [", http(b"[" * 100_000), 400))
    add(_case("100k [ closed", http(b"[" * 100_000 + b"]" * 100_000), 400))
    add(_case("50k nested objects", http(b'{"a":' * 50_000 + b"1" + b"}" * 50_000), 400))
    add(_case("deep messages", http(b'{"model":"m","messages":' + b"[" * 5000 + b"]" * 5000 + b"}"), 400))
    deep_content = b"[" * 500 + b'"x"' + b"]" * 500
    add(_case("deep content parts", http(b'{"model":"m","messages":[{"role":"user","content":' + deep_content + b"}]}"),
              400))

    # Huge numbers, in every numeric field.
    for field in ("max_tokens", "n", "temperature", "top_p", "seed", "top_logprobs"):
        add(_case(f"{field} 1e999", http(b'{"model":"m","messages":[{"role":"user","content":"x"}],"' + field.encode()
                                         + b'":1e999}'), 400))
        digits = b"9" * 5000
        add(_case(f"{field} 5000 digits", http(b'{"model":"m","messages":[{"role":"user","content":"x"}],"'
                                               + field.encode() + b'":' + digits + b"}"), 400))
    add(_case("negative 5000 digits", http(b'{"model":"m","messages":[],"n":-' + b"1" * 5000 + b"}"), 400))
    add(_case("logit_bias 1e999", http(b'{"model":"m","messages":[{"role":"user","content":"x"}],'
                                       b'"logit_bias":{"1":1e999}}'), 400))
    add(_case("NaN", http(b'{"model":"m","messages":[{"role":"user","content":"x"}],"temperature":NaN}'), 400))
    add(_case("Infinity", http(b'{"model":"m","messages":[{"role":"user","content":"x"}],"temperature":-Infinity}'),
              400))

    # Huge strings: past the body limit (announced, or chunked so nobody announced it).
    huge = b'{"model":"m","messages":[{"role":"user","content":"' + b"x" * (MAX_BODY + 10) + b'"}]}'
    add(_case("2 MiB-ish string", http(huge), 413))
    add(_case("Content-Length past the limit, no body", http(b"", headers={"Content-Length": str(10**12)}, length=False),
              413))
    chunks = b"".join(b"%x\r\n" % 65536 + b"x" * 65536 + b"\r\n" for _ in range(MAX_BODY // 65536 + 2)) + b"0\r\n\r\n"
    add(_case("chunked past the limit", http(chunks, headers={"Transfer-Encoding": "chunked"}, length=False), 413))
    add(_case("huge key", http(b'{"' + b"k" * (MAX_BODY - 100) + b'":1,"model":"m","messages":[]}'), 400))

    # Invalid UTF-8 and lone surrogates, in content, in keys, in the model name.
    for i, bad in enumerate(BAD_UTF8):
        add(_case(f"invalid utf-8 {i} in content", http(b'{"model":"m","messages":[{"role":"user","content":"a'
                                                       + bad + b'"}]}'), 400))
        add(_case(f"invalid utf-8 {i} in a key", http(b'{"mo' + bad + b'del":"m","messages":[]}'), 400))
    for i, escape in enumerate(SURROGATES):
        add(_case(f"lone surrogate {i} in content", http(b'{"model":"m","messages":[{"role":"user","content":"'
                                                        + escape + b'"}]}'), 400))
        add(_case(f"lone surrogate {i} in model", http(b'{"model":"' + escape + b'","messages":[]}'), 400))
    add(_case("BOM then JSON", http(b"\xef\xbb\xbf" + good), 400))
    add(_case("UTF-16 body", http(good.decode().encode("utf-16")), 400))
    add(_case("NUL bytes", http(b"\x00" * 64), 400))

    # A wrong type or an out-of-range value in every field Sluice reads.
    for field, values in WRONG_VALUES.items():
        for value in values:
            add(_case(f"{field}={value!r}", _with_field(field, value), 400))
    for path, body in OTHER_ROUTES:
        add(_case(f"{path} {body}", http(orjson.dumps(body), path=path), 400))
    add(_case("top-level array", http(b"[" + good + b"]"), 400))
    add(_case("top-level null", http(b"null"), 400))
    add(_case("trailing garbage", http(good + b"}"), 400))
    add(_case("two documents", http(good + good), 400))
    add(_case("comment in JSON", http(b"/* hi */" + good), 400))
    add(_case("single quotes", http(b"{'model': 'm'}"), 400))

    # Duplicate keys: the last one is what Sluice validates, so a bad last value is refused.
    add(_case("duplicate max_tokens, bad last", http(b'{"model":"m","messages":[{"role":"user","content":"x"}],'
                                                     b'"max_tokens":5,"max_tokens":"x"}'), 400))
    add(_case("duplicate messages, bad last", http(b'{"model":"m","messages":[{"role":"user","content":"x"}],'
                                                   b'"messages":7}'), 400))

    # Framing and headers.
    add(_case("header past the limit", http(good, headers={"X-Pad": "p" * (MAX_HEADER + 10)}), 431))
    add(_case("request line past the limit", http(good, path="/v1/chat/completions?" + "q" * (MAX_HEADER + 10)), 431))
    add(_case("many headers past the limit", http(good, headers={f"X-H{i}": "v" * 40 for i in range(400)}), 400, 431))
    add(_case("CL and TE", http(good, headers={"Transfer-Encoding": "chunked"}), 400))
    add(_case("two differing Content-Lengths",
              http(good, headers={"Content-Length": str(len(good) + 5)}), 400))
    add(_case("negative Content-Length", http(good, headers={"Content-Length": "-1"}, length=False), 400))
    add(_case("Content-Length not a number", http(good, headers={"Content-Length": "12abc"}, length=False), 400))
    add(_case("Content-Length with sign", http(good, headers={"Content-Length": f"+{len(good)}"}, length=False), 400))
    add(_case("TE not chunked", http(good, headers={"Transfer-Encoding": "gzip"}, length=False), 400, 501))
    add(_case("TE chunked twice", http(b"0\r\n\r\n", headers={"Transfer-Encoding": "chunked, chunked"}, length=False),
              400))
    add(_case("TE xchunked", http(b"0\r\n\r\n", headers={"Transfer-Encoding": "xchunked"}, length=False), 400, 501))
    add(_case("bad chunk size", http(b"zz\r\nabc\r\n0\r\n\r\n", headers={"Transfer-Encoding": "chunked"}, length=False),
              400))
    add(_case("chunk size overflow", http(b"ffffffffffffffffff\r\nx\r\n", headers={"Transfer-Encoding": "chunked"},
                                          length=False), 400, 413))
    add(_case("chunk without CRLF", http(b"5\r\nabcdeX0\r\n\r\n", headers={"Transfer-Encoding": "chunked"},
                                         length=False), 400))
    add(_case("header without colon", http(good).replace(b"Host: sluice.test", b"Host sluice.test"), 400))
    add(_case("NUL in a header", http(good, headers={"X-Bad": "a\x00b"}), 400))
    add(_case("obs-fold", http(good).replace(b"Host: sluice.test\r\n", b"Host: sluice.test\r\n X-Fold: 1\r\n"), 400))
    add(_case("space before colon", http(good).replace(b"Content-Type:", b"Content-Type :"), 400))
    add(_case("bare LF line endings", http(good).replace(b"\r\n", b"\n"), 400, 401, 415))
    add(_case("two Host headers", http(good, headers={"Host": "evil.test"}), 400))
    add(_case("no key", http(good, auth=False), 401))
    add(_case("key in a Basic header", http(good, auth=False, headers={"Authorization": "Basic c2stdGVzdC1hbGljZTo="}),
              401))
    add(_case("key with trailing NUL", http(good, auth=False, headers={"Authorization": f"Bearer {KEY}\x00"}), 400, 401))
    add(_case("key as X-Api-Key", http(good, auth=False, headers={"X-Api-Key": KEY, "api-key": KEY}), 401))
    add(_case("key in the query", http(good, auth=False, path=f"/v1/chat/completions?api_key={KEY}"), 401))
    add(_case("form body", http(b"model=m", content_type="application/x-www-form-urlencoded"), 415))
    add(_case("no Content-Type", http(good, content_type=None), 415))
    add(_case("multipart", http(b"--x--", content_type="multipart/form-data; boundary=x"), 415))

    # Path tricks: nothing but the five routes, and never the admin surface.
    for path in [
        "/v1/../admin/accounts", "/v1/%2e%2e/admin/accounts", "/v1/%2E%2E/%2E%2E/admin/accounts",
        "/%2e%2e/admin/accounts", "/v1%2Fchat%2Fcompletions", "/v1/chat%2Fcompletions", "//v1/chat/completions",
        "/v1//chat/completions", "/v1/chat/completions/", "/V1/CHAT/COMPLETIONS", "/v1/chat/completions%00",
        "/v1/chat/completions;.json", "/v1/chat/completions/..;/../admin", "/admin/accounts", "/admin/reload",
        "/metrics", "/healthz", "/readyz", "/admin%2Faccounts", "/v1/./chat/completions/../../../metrics",
        "/v1/chat/completions%2F..%2F..%2Fmetrics", "/%61dmin/accounts", "/.%2e/admin/accounts",
    ]:  # fmt: skip
        add(_case(f"path {path}", http(good, path=path), 400, 404))
    add(_case("absolute-form to admin", http(good, path="http://127.0.0.1/admin/accounts"), 400, 404))
    add(_case("GET /admin with body", http(b"", method="GET", path="/admin/accounts"), 400, 404))
    add(_case("asterisk-form", http(b"", method="OPTIONS", path="*"), 400, 404))

    # Methods and protocols.
    for method in ("TRACE", "CONNECT", "PUT", "DELETE", "PATCH", "FOO", "GETT"):
        add(_case(f"method {method}", http(good, method=method), 400, 404, 405))
    add(_case("HEAD on a POST route", http(b"", method="HEAD"), 400, 405))
    add(_case("HTTP/0.9", b"GET /v1/models\r\n\r\n", 400, 401))
    add(_case("HTTP/2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400, 505))
    add(_case("HTTP/3.0 version", http(good).replace(b"HTTP/1.1", b"HTTP/3.0", 1), 400, 505))
    add(_case("TLS client hello", bytes.fromhex("16030100a5010000a10303") + os.urandom(64), 400))
    add(_case("binary junk", bytes(range(256)), 400))
    add(_case("upgrade to websocket", http(b"", method="GET", path="/v1/models", auth=False,
                                           headers={"Upgrade": "websocket", "Connection": "Upgrade"}), 400, 401, 404))
    add(_case("expect 100-continue past the limit",
              http(b"", headers={"Expect": "100-continue", "Content-Length": str(MAX_BODY * 4)}, length=False), 413, 417))
    return cases


def catalogue_names() -> list[str]:
    return [case.name for case in catalogue()]


# ---- talking to the proxy ------------------------------------------------------------------


@dataclass
class Reply:
    status: int | None  # None: the connection closed with no response
    body: bytes
    closed: bool


async def send(port: int, parts: list[bytes], *, pause: float = 0.0, wait: float = REPLY_WAIT) -> tuple[Reply, int]:
    """Send the parts (pausing between them), then read one response; returns it and how many parts went out."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    sent = 0
    try:
        head_only = bool(parts) and parts[0].startswith(b"HEAD ")  # a HEAD answer has no body
        reading = asyncio.ensure_future(_read_response(reader, wait, head_only))
        for part in parts:
            if reading.done():
                break
            try:
                writer.write(part)
                await writer.drain()
            except (ConnectionError, OSError):
                break
            sent += 1
            if pause:
                await asyncio.sleep(pause)
        return await reading, sent
    finally:
        writer.close()


async def _read_response(reader: asyncio.StreamReader, wait: float, head_only: bool = False) -> Reply:
    async with asyncio.timeout(wait):
        head = b""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            while head.startswith(b"HTTP/1.1 1"):  # an interim 100 Continue: the answer follows
                head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            if not exc.partial:
                return Reply(None, b"", True)
            raise AssertionError(f"a partial response: {exc.partial[:200]!r}") from None
        except ConnectionError:
            return Reply(None, b"", True)
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        body = await reader.readexactly(length) if length and not head_only else b""
    try:
        async with asyncio.timeout(CLOSE_WAIT):
            extra = await reader.read(1)
            assert not extra, f"bytes after the response: {extra + await reader.read(200)!r}"
        closed = True
    except ConnectionError:
        closed = True
    except TimeoutError:
        closed = False  # kept alive
    return Reply(status, body, closed)


def assert_openai_error(reply: Reply) -> dict[str, object]:
    error = orjson.loads(reply.body)["error"]
    assert set(error) >= {"message", "type", "code"} and error["message"], error
    assert "Traceback" not in error["message"] and KEY not in reply.body.decode(errors="replace")
    return error  # type: ignore[no-any-return]


async def assert_still_serving(run: Running) -> None:
    client = run.client(KEY)
    reply = await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "still there?"}])
    assert reply.choices[0].message.content


@pytest.fixture
async def run() -> Iterator[Running]:  # type: ignore[misc]
    async with running_sluice(server=SERVER) as running:
        yield running


def _port(run: Running) -> int:
    return int(run.base_url.rsplit(":", 1)[1])


# ---- the tests -------------------------------------------------------------------------------


async def test_every_hostile_request_gets_a_4xx_in_openai_shape_and_never_reaches_the_upstream(run: Running) -> None:
    cases = catalogue()
    assert len({c.name for c in cases}) == len(cases)  # distinct inputs, counted once
    port = _port(run)
    before = run.stub.stats.requests
    outcomes: dict[str, int | None] = {}
    failures = []
    for case in cases:
        reply, _ = await send(port, [case.raw])
        outcomes[case.name] = reply.status
        if reply.status is None:
            failures.append(f"{case.name}: closed with no answer")
            continue
        if reply.status not in case.statuses:
            failures.append(f"{case.name}: {reply.status} {reply.body[:160]!r}")
            continue
        if case.raw.startswith(b"HEAD "):
            continue  # a HEAD answer carries no body to shape
        try:
            assert_openai_error(reply)
        except (AssertionError, ValueError, KeyError) as exc:
            failures.append(f"{case.name}: not OpenAI-shaped: {reply.body[:160]!r} ({exc})")
    assert not failures, "\n".join(failures)
    assert run.stub.stats.requests == before  # none of it was forwarded
    print(f"\nhostile catalogue: {len(cases)} distinct bad inputs, statuses "
          f"{sorted({s for s in outcomes.values() if s is not None})}")
    await assert_still_serving(run)


async def test_a_wrong_value_is_refused_naming_its_field(run: Running) -> None:
    port = _port(run)
    for field, values in WRONG_VALUES.items():
        for value in values:
            if isinstance(value, int) and abs(value) >= 2**63:
                continue  # not JSON orjson reads: refused as invalid_json, not by field
            reply, _ = await send(port, [_with_field(field, value)])
            assert reply.status == 400, (field, value)
            error = assert_openai_error(reply)
            assert error["code"] in ("invalid_type", "invalid_value"), (field, value, error)
            # The client is told which field: in `param` (and the message), as OpenAI does.
            assert str(error["param"]).split("[")[0].split(".")[0] == field, (field, value, error)


async def test_slowloris_headers_are_cut_off_at_the_header_timeout(run: Running) -> None:
    port = _port(run)
    head = http(orjson.dumps(GOOD))
    # One byte every 50 ms: the whole head would take ~10 s; the server gives it 1 s.
    reply, sent = await send(port, [bytes([b]) for b in head], pause=0.05)
    assert sent < len(head), "the trickled head was accepted to the end"
    assert reply.status == 408 and reply.closed
    assert assert_openai_error(reply)["code"] == "request_timeout"
    # A client that connects and sends nothing is let go too.
    reply, _ = await send(port, [])
    assert reply.status == 408 and reply.closed
    await assert_still_serving(run)


async def test_slowloris_bodies_are_cut_off_at_the_body_timeout(run: Running) -> None:
    port = _port(run)
    body = orjson.dumps({**GOOD, "messages": [{"role": "user", "content": "y" * 400}]})
    head = http(body)[: -len(body)]
    reply, sent = await send(port, [head, *[body[i : i + 2] for i in range(0, len(body), 2)]], pause=0.05)
    assert sent < len(body) // 2, "the trickled body was read to the end"
    assert reply.status == 408 and reply.closed
    assert assert_openai_error(reply)["code"] == "request_timeout"
    # Announced but never sent.
    reply, _ = await send(port, [http(b"", headers={"Content-Length": "100"}, length=False)])
    assert reply.status == 408 and reply.closed
    await assert_still_serving(run)


async def test_a_kept_alive_connection_cannot_trickle_its_next_request(run: Running) -> None:
    port = _port(run)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        first = http(orjson.dumps(GOOD)).replace(b"Connection: close", b"Connection: keep-alive")
        writer.write(first)
        await writer.drain()
        reply = await _read_response(reader, REPLY_WAIT)
        assert reply.status == 200 and not reply.closed
        second = http(orjson.dumps(GOOD))
        sent = 0
        for byte in second:
            try:
                writer.write(bytes([byte]))
                await writer.drain()
            except (ConnectionError, OSError):
                break
            sent += 1
            if reader.at_eof() or len(reader._buffer) > 0:  # noqa: SLF001 - the server has answered
                break
            await asyncio.sleep(0.05)
        assert sent < len(second)
        reply = await _read_response(reader, REPLY_WAIT)
        assert reply.status == 408 and reply.closed
    finally:
        writer.close()


async def test_many_slow_clients_at_once_do_not_stop_the_proxy(run: Running) -> None:
    port = _port(run)
    head = http(orjson.dumps(GOOD))
    slow = [asyncio.create_task(send(port, [head[:20], head[20:21], head[21:22]], pause=0.6)) for _ in range(100)]
    await asyncio.sleep(0.2)
    await assert_still_serving(run)  # served while a hundred slow clients hold connections
    replies = await asyncio.gather(*slow)
    assert all(reply.status == 408 and reply.closed for reply, _ in replies)
    await assert_still_serving(run)


# ---- memory under a barrage: a real `sluice serve` process -----------------------------------


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


async def _barrage(port: int, cases: list[Case], rounds: int, deadline: float) -> int:
    sent = 0
    gate = asyncio.Semaphore(16)

    async def one(case: Case) -> None:
        nonlocal sent
        async with gate:
            if time.monotonic() < deadline:
                reply, _ = await send(port, [case.raw])
                assert reply.status is None or 400 <= reply.status < 500, (case.name, reply.status)
                sent += 1

    for _ in range(rounds):
        await asyncio.gather(*(one(case) for case in cases))
    return sent


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="RSS is read from /proc")
async def test_a_sluice_serve_process_keeps_bounded_memory_under_the_barrage(tmp_path: Path) -> None:
    stub = StubUpstream()
    upstream = await stub.start()
    proxy_port, admin_port = free_port(), free_port()
    (tmp_path / "keys").write_text(keys_file_line(KEY, "alice", "default") + "\n")
    config = tmp_path / "sluice.yaml"
    config.write_text(
        f"listen: {{host: 127.0.0.1, port: {proxy_port}}}\n"
        f"admin: {{host: 127.0.0.1, port: {admin_port}}}\n"
        f"upstream: {{url: '{upstream}'}}\n"
        f"server: {{max_body_bytes: {MAX_BODY}, max_header_bytes: {MAX_HEADER}, header_timeout_s: {HEADER_TIMEOUT},"
        f" body_timeout_s: {BODY_TIMEOUT}}}\n"
        f"keys: {{file: '{tmp_path / 'keys'}'}}\n"
        "tiers: {default: {limits: {requests_per_minute: 100000}}}\n"
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "proxy", "serve", "--config", str(config),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )
    try:
        from tests.harness import wait_healthy

        await wait_healthy(admin_port, proc)
        cases = catalogue()
        deadline = time.monotonic() + 90
        await _barrage(proxy_port, cases, 1, deadline)  # warm-up: first-use allocations are not a leak
        before = _rss_kib(proc.pid)
        sent = await _barrage(proxy_port, cases, 5, deadline)
        slow = await asyncio.gather(*(send(proxy_port, [b"POST /v1/chat"]) for _ in range(200)))
        assert all(reply.status == 408 for reply, _ in slow)
        after = _rss_kib(proc.pid)
        print(f"\nsluice serve RSS {before / 1024:.1f} MiB -> {after / 1024:.1f} MiB after {sent} hostile requests"
              f" and 200 slowloris connections ({len(cases)} distinct inputs)")
        assert sent >= len(cases) * 3  # the barrage really ran
        assert after - before < 64 * 1024, (before, after)  # generous: no per-request leak
        client = openai.AsyncOpenAI(api_key=KEY, base_url=f"http://127.0.0.1:{proxy_port}/v1", max_retries=0)
        reply = await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "ok?"}])
        assert reply.choices[0].message.content
        assert proc.returncode is None
    finally:
        if proc.returncode is None:
            proc.terminate()
            await asyncio.wait_for(proc.wait(), timeout=30)
        await stub.stop()
    logs = (await proc.stderr.read()).decode()  # type: ignore[union-attr]
    assert "Traceback" not in logs and KEY not in logs
