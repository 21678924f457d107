"""Two backend processes on one Postgres and the real Redis act as one chat server."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Iterator

import httpx
import pytest
import redis

from tests.realtime.conftest import BACKEND_ENV, EVENT_TIMEOUT
from tests.support.backend_process import BackendProcess, running_backend
from tests.support.factories import direct_conversation, new_person


@pytest.fixture(scope="module")
def two_backends(pg_url: str) -> Iterator[tuple[BackendProcess, BackendProcess]]:
    # A Redis database and a channel of their own, so parallel runs never hear each other.
    redis_url = f"redis://127.0.0.1:6379/{random.randint(1, 15)}"
    run = uuid.uuid4().hex
    env = {**BACKEND_ENV, "REDIS_EVENTS_CHANNEL": f"utool_test:{run}",
           "REDIS_PRESENCE_PREFIX": f"utool_test:presence:{run}"}
    try:
        with running_backend(pg_url, redis_url=redis_url, env=env) as a, \
                running_backend(pg_url, redis_url=redis_url, env=env) as b:
            yield a, b
    finally:  # the presence keys the two processes left behind
        client = redis.Redis.from_url(redis_url)
        stale = list(client.scan_iter(f"{env['REDIS_PRESENCE_PREFIX']}:*"))
        if stale:
            client.delete(*stale)


async def test_a_client_on_one_process_receives_live_what_a_client_on_the_other_sends(connect, two_backends) -> None:
    process_a, process_b = two_backends
    alice, bob = new_person(), new_person()
    conversation_id = direct_conversation(alice, bob)["_id"]
    alice_on_a = await connect(alice, base_url=process_a.url)
    bob_on_b = await connect(bob, base_url=process_b.url)

    payload = {"conversationId": conversation_id, "content": "across", "tempId": "x"}
    ack = await bob_on_b.call("chat:send_message", payload)
    event = await alice_on_a.next("chat:new_message")
    assert event["message"]["_id"] == ack["data"]["message"]["_id"] and event["tempId"] == "x"

    await alice_on_a.call("chat:typing_start", {"conversationId": conversation_id})
    assert (await bob_on_b.next("chat:user_typing"))["userId"] == alice.id


async def test_the_send_rate_limit_is_shared_by_both_processes(connect, two_backends) -> None:
    process_a, process_b = two_backends
    alice, bob = new_person(), new_person()
    conversation_id = direct_conversation(alice, bob)["_id"]
    on_a = await connect(alice, base_url=process_a.url)
    on_b = await connect(alice, base_url=process_b.url)
    limit = int(BACKEND_ENV["RATE_LIMIT_SEND"].split("/")[0])

    results = []
    for i in range(limit + 1):
        client = on_a if i % 2 else on_b
        results.append(await client.call("chat:send_message", {"conversationId": conversation_id, "content": f"{i}"}))

    assert [r["success"] for r in results] == [True] * limit + [False]
    assert results[-1]["code"] == "rate_limited"


async def test_a_logout_on_one_process_disconnects_that_logins_sockets_on_the_other(connect, two_backends) -> None:
    process_a, process_b = two_backends
    alice = new_person()
    on_a = await connect(alice, base_url=process_a.url)

    async with httpx.AsyncClient(base_url=process_b.url, timeout=10) as http:
        response = await http.post("/api/v1/auth/logout", headers=alice.headers)
    assert response.status_code == 200, response.text

    await asyncio.wait_for(on_a.disconnected.wait(), EVENT_TIMEOUT)


async def test_presence_crosses_processes(connect, two_backends) -> None:
    process_a, process_b = two_backends
    alice, bob = new_person(), new_person()
    direct_conversation(alice, bob)
    alice_on_a = await connect(alice, base_url=process_a.url)
    bob_on_b = await connect(bob, base_url=process_b.url)
    online = await alice_on_a.next("chat:presence_update", where=lambda e: e["userId"] == bob.id)
    assert online["status"] == "online"
    # Process A answers from its own mirror, fed by B's events: bob is online there too.
    asked = await alice_on_a.call("chat:get_presence", {"userIds": [bob.id]})
    assert asked["data"]["presence"][bob.id]["status"] == "online"
    # A second connection of bob's on A: going away on B leaves him online.
    bob_on_a = await connect(bob, base_url=process_a.url)
    # Process A writes this connection to Redis from its presence thread (never in the
    # handler): give it one heartbeat, or the "away" below could overtake it.
    await asyncio.sleep(float(BACKEND_ENV["PRESENCE_HEARTBEAT_SECONDS"]) + 0.5)
    await bob_on_b.call("chat:set_presence", {"status": "away"})
    await alice_on_a.assert_nothing("chat:presence_update", within=1.0)
    await bob_on_a.disconnect()
    away = await alice_on_a.next("chat:presence_update", where=lambda e: e["userId"] == bob.id)
    assert away["status"] == "away"
    await bob_on_b.disconnect()
    offline = await alice_on_a.next("chat:presence_update", where=lambda e: e["userId"] == bob.id)
    assert offline["status"] == "offline" and offline["lastSeenAt"]
