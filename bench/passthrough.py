"""A bare aiohttp + uvloop pass-through: the yardstick bench/compare.py measures Sluice against.

    python bench/passthrough.py --port 9000 --upstream http://127.0.0.1:8000

No auth, no limits, no parsing: one pooled ClientSession, the request body
forwarded as read, the answer streamed back chunk by chunk as it arrives.
Anything a proxy must do beyond this is Sluice's own cost.
"""

from __future__ import annotations

import argparse
import asyncio

import aiohttp
import uvloop
from aiohttp import web

DROP = frozenset({"connection", "keep-alive", "transfer-encoding", "host", "content-length", "server", "date"})


async def serve(port: int, upstream_url: str) -> None:
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), auto_decompress=False)

    async def forward(request: web.Request) -> web.StreamResponse:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in DROP}
        async with session.request(request.method, upstream_url + request.path_qs, data=await request.read(),
                                   headers=headers) as upstream:
            out = {k: v for k, v in upstream.headers.items() if k.lower() not in DROP}
            response = web.StreamResponse(status=upstream.status, headers=out)
            try:
                await response.prepare(request)
                while chunk := await upstream.content.readany():
                    await response.write(chunk)
                await response.write_eof()
            except ConnectionResetError:  # the client left (wrk closing at the end of a run): nothing to answer
                pass
            return response

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", forward)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        await asyncio.Event().wait()  # until SIGTERM/SIGINT ends the process
    finally:
        await runner.cleanup()
        await session.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True)
    args = parser.parse_args()
    uvloop.run(serve(args.port, args.upstream.rstrip("/")))


if __name__ == "__main__":
    main()
