"""Backends killed, restarted, and their database stopped, with stock clients that retry the
way the contract asks (same tempId). Real processes on this test's own Postgres and Redis."""

from __future__ import annotations

import asyncio
import time

import httpx

from tests.faults.backends import Receiver, backends, sigkill, wait_for
from tests.realtime.conftest import ChatClient
from tests.support.factories import direct_conversation, new_person

BURST = 60


async def _send(client: ChatClient, cid: str, temp_id: str) -> dict | None:
    try:
        ack = await client.call("chat:send_message", {"conversationId": cid, "content": temp_id, "tempId": temp_id},
                                timeout=5)
    except Exception:  # the backend died under it: no ack
        return None
    return ack["data"]["message"] if ack.get("success") else None


async def test_a_backend_killed_mid_burst_loses_duplicates_and_hides_nothing(fault_engine, fault_redis) -> None:
    with backends(2, fault_engine, fault_redis.url) as (a, b):
        alice, bob = new_person("Alice"), new_person("Bob")
        cid = direct_conversation(alice, bob)["_id"]
        receiver = Receiver(await ChatClient(b.url, bob.token).connect(), cid)
        sender = await ChatClient(a.url, alice.token).connect()
        temp_ids = [f"burst-{i}" for i in range(BURST)]
        acked: dict[str, str] = {}

        async def send_one(i: int) -> None:
            await asyncio.sleep(i * 0.01)
            if i == BURST // 2:
                sigkill(a)  # with sends still in flight on it
            message = await _send(sender, cid, temp_ids[i])
            if message is not None:
                acked[temp_ids[i]] = message["_id"]

        started = time.monotonic()
        await asyncio.gather(*(send_one(i) for i in range(BURST)))
        unacked = BURST - len(acked)
        assert unacked > 0, "the kill came too late to matter"
        # The client moves to the surviving backend and retries what was not acknowledged.
        await sender.disconnect()
        sender = await ChatClient(b.url, alice.token).connect()
        survived_in = time.monotonic() - started
        for temp_id in temp_ids:
            if temp_id not in acked:
                message = await _send(sender, cid, temp_id)
                assert message is not None, temp_id
                acked[temp_id] = message["_id"]
        stored_ids = set(acked.values())
        await wait_for(lambda: stored_ids <= set(receiver.live), 10, "every message announced live")

        await receiver.sync()
        history = await sender.call("chat:sync", {"conversationId": cid, "afterSeq": 0, "limit": 100})
        contents = [m["content"] for m in history["data"]["messages"]]
        seqs = [m["seq"] for m in history["data"]["messages"]]
        print(f"\n[backend SIGKILL] {unacked} of {BURST} sends unacknowledged by the killed backend; after the "
              f"retries all {len(stored_ids)} stored once and announced live; client on the other backend "
              f"{survived_in:.2f} s after the burst started (the unanswered calls' 5 s timeout included)")
        assert sorted(contents) == sorted(temp_ids), "a message was lost or stored twice"
        assert seqs == list(range(1, len(seqs) + 1)), "a gap in seq"
        await asyncio.gather(sender.disconnect(), receiver.client.disconnect())


async def test_a_stopped_database_is_a_clean_503_and_recovery_is_quick(fault_pg, fault_engine) -> None:
    with backends(1, fault_engine, None) as (a,):
        alice, bob = new_person("Alice"), new_person("Bob")
        cid = direct_conversation(alice, bob)["_id"]
        sender = await ChatClient(a.url, alice.token).connect()
        async with httpx.AsyncClient(base_url=a.url, timeout=10) as http:
            assert (await http.get("/api/v1/chat/conversations", headers=alice.headers)).status_code == 200
            fault_pg.stop()
            down_at = time.monotonic()
            answers = []
            while time.monotonic() - down_at < 3:
                r = await http.get("/api/v1/chat/conversations", headers=alice.headers)
                assert r.status_code == 503, r.text
                assert r.json() == {"success": False, "code": "unavailable", "error": r.json()["error"],
                                    "retryAfter": int(r.headers["Retry-After"])}
                sent = await http.post(f"/api/v1/chat/conversations/{cid}/messages", headers=alice.headers,
                                       json={"content": "while down", "tempId": "down-http"})
                assert sent.status_code == 503 and sent.json()["code"] == "unavailable", sent.text
                ack = await sender.call("chat:send_message", {"conversationId": cid, "content": "while down",
                                                               "tempId": "down-socket"})
                assert ack["success"] is False and ack["code"] == "unavailable" and ack["retryAfter"] >= 1, ack
                answers.append(r.status_code)
            fault_pg.start()
            back_at = time.monotonic()
            while True:  # the client retries, as told by Retry-After (here: as fast as it can)
                ack = await sender.call("chat:send_message", {"conversationId": cid, "content": "while down",
                                                               "tempId": "down-socket"})
                if ack["success"]:
                    break
                assert ack["code"] == "unavailable", ack
                assert time.monotonic() - back_at < 5, "not recovered within 5 s"
                await asyncio.sleep(0.05)
            recovered_in = time.monotonic() - back_at
            r = await http.get("/api/v1/chat/conversations", headers=alice.headers)
            assert r.status_code == 200
        print(f"\n[postgres stopped 3 s] {len(answers)} rounds of clean 503s; sending again {recovered_in:.2f} s "
              "after it was back")
        log = a.log_tail(500_000)
        assert "Traceback" not in log, log[-3000:]
        assert log.count("database unavailable") == 1 and log.count("database is back") == 1, log[-3000:]
        await sender.disconnect()
