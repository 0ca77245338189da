"""Upstream answers are read whole, however many pieces they arrive in, and capped.

huggingface.co answers over TLS in records of at most 16 KiB; a reader that takes what is
buffered gets a prefix. These tests run a loopback aiohttp server in the test's own event loop.
"""

import asyncio
import json

import aiohttp
import pytest
from aiohttp import web

from pulp_hugging_face.app import hub
from pulp_hugging_face.app.upstream import read_body

PIECE = 16 * 1024
BODY = json.dumps([{"path": f"data/{i:05}.csv", "size": i} for i in range(60_000)]).encode()


async def pieces(request):
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    if request.query.get("length") != "none":
        response.content_length = len(BODY)
    await response.prepare(request)
    for start in range(0, len(BODY), PIECE):
        await response.write(BODY[start : start + PIECE])
        await asyncio.sleep(0.001)
    await response.write_eof()
    return response


async def fetch(path, limit=None):
    app = web.Application()
    app.router.add_get("/pieces", pieces)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{port}{path}") as response,
        ):
            if limit is None:
                return await read_body(response)
            return await read_body(response, limit=limit)
    finally:
        await runner.cleanup()


def test_an_answer_in_many_pieces_is_read_whole():
    assert len(BODY) > 1024 * 1024
    assert asyncio.run(fetch("/pieces")) == BODY


def test_a_chunked_answer_in_many_pieces_is_read_whole():
    assert asyncio.run(fetch("/pieces?length=none")) == BODY


def test_an_answer_announced_beyond_the_limit_is_refused():
    with pytest.raises(hub.HubError) as info:
        asyncio.run(fetch("/pieces", limit=len(BODY) - 1))
    assert (info.value.status, info.value.code) == (502, hub.UPSTREAM_UNAVAILABLE)


def test_a_chunked_answer_growing_beyond_the_limit_is_refused():
    with pytest.raises(hub.HubError) as info:
        asyncio.run(fetch("/pieces?length=none", limit=100_000))
    assert info.value.status == 502
    assert "larger than 100000 bytes" in info.value.message
