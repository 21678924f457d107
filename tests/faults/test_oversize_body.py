"""A 10 MB request body to a real backend (gunicorn + uvicorn, as in production): every stock client reads
the 413 instead of a connection reset (api/app.py: BodySizeLimit drains a bounded amount)."""

from __future__ import annotations

import asyncio

import httpx

from tests.faults.backends import backends
from tests.support.factories import direct_conversation, new_person

BODY = b'{"content": "' + b"x" * (10 * 2**20) + b'"}'


async def test_async_and_sync_httpx_both_read_the_413(fault_engine) -> None:
    with backends(1, fault_engine, None) as (backend,):
        alice, bob = new_person(), new_person()
        cid = direct_conversation(alice, bob)["_id"]
        url = f"{backend.url}/api/v1/chat/conversations/{cid}/messages"
        headers = {**alice.headers, "Content-Type": "application/json"}
        async with httpx.AsyncClient(timeout=30) as client:
            r = await client.post(url, content=BODY, headers=headers)
            assert r.status_code == 413 and r.json()["code"] == "payload_too_large", r.text

            async def chunks():
                for start in range(0, len(BODY), 2**16):
                    yield BODY[start:start + 2**16]

            r = await client.post(url, content=chunks(), headers=headers)  # chunked: no Content-Length
            assert r.status_code == 413 and r.json()["code"] == "payload_too_large", r.text
            # The connection stays usable for the next request.
            assert (await client.get(f"{backend.url}/api/v1/auth/me", headers=alice.headers)).status_code == 200
        r = await asyncio.to_thread(httpx.post, url, content=BODY, headers=headers, timeout=30)  # the sync client
        assert r.status_code == 413 and r.json()["code"] == "payload_too_large", r.text
