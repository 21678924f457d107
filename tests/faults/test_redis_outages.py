"""Two backend processes on their own Postgres and Redis, Redis frozen (SIGSTOP) or killed
while people chat: sending and syncing keep their latency, delivery on the sender's own process
goes on, and the other process's clients have everything once Redis is back (live, or by the
chat:resync → chat:sync the contract asks of clients). Prints the latencies it measured."""

from __future__ import annotations

import asyncio
import time

from tests.faults.backends import Receiver, backends, percentile, timed, wait_for
from tests.realtime.conftest import ChatClient
from tests.support.factories import group_conversation, new_person

ROUNDS = 60  # p99 of 60: the one send per outage that finds Redis gone (it waits out the
# rate limiter's REDIS_TIMEOUT_SECONDS, then counts in memory) is the slowest one, not the p99
OUTAGE_SECONDS = 5.0


async def _chat_through(outage, recover, fault_engine, fault_redis, label: str) -> None:
    with backends(2, fault_engine, fault_redis.url) as (a, b):
        alice, bob, carol = new_person("Alice"), new_person("Bob"), new_person("Carol")
        cid = group_conversation(alice, [bob, carol])["_id"]
        sender = await ChatClient(a.url, alice.token).connect()
        local = Receiver(await ChatClient(a.url, bob.token).connect(), cid)  # the sender's process
        remote = Receiver(await ChatClient(b.url, carol.token).connect(), cid)  # the other one
        clients = [sender, local.client, remote.client]
        try:
            async def round_of(n: int, tag: str) -> tuple[list[float], list[float], list[str]]:
                sends, syncs, ids = [], [], []
                for i in range(n):
                    took, ack = await timed(sender.call(
                        "chat:send_message", {"conversationId": cid, "content": f"{tag} {i}", "tempId": f"{tag}-{i}"}))
                    assert ack["success"], ack
                    sends.append(took)
                    ids.append(ack["data"]["message"]["_id"])
                    sync = {"conversationId": cid, "afterSeq": 0, "limit": 5}
                    took, ack = await timed(sender.call("chat:sync", sync))
                    assert ack["success"], ack
                    syncs.append(took)
                return sends, syncs, ids

            send_before, sync_before, ids_before = await round_of(ROUNDS, "before")
            await wait_for(lambda: set(ids_before) <= set(remote.live), 5, "remote delivery before the outage")

            outage()
            outage_started = time.monotonic()
            try:
                send_during, sync_during, ids_during = await round_of(ROUNDS, "during")
                # Delivery on the sender's own process does not need Redis.
                await wait_for(lambda: set(ids_during) <= set(local.live), 3, "local delivery during the outage")
                await asyncio.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - outage_started)))
            finally:
                recover()
            recovered = time.monotonic()
            await wait_for(lambda: set(ids_during) <= remote.has(), 10, "the other process's client to have everything")
            caught_up = time.monotonic() - recovered

            _, _, ids_after = await round_of(5, "after")
            await wait_for(lambda: set(ids_after) <= set(remote.live), 5, "live remote delivery after recovery")

            p99 = {k: percentile(v, 0.99) for k, v in
                   {"send_before": send_before, "send_during": send_during,
                    "sync_before": sync_before, "sync_during": sync_during}.items()}
            print(f"\n[{label}] p99 send {p99['send_before'] * 1000:.1f} ms before, {p99['send_during'] * 1000:.1f} ms "
                  f"during; p99 sync {p99['sync_before'] * 1000:.1f} ms before, {p99['sync_during'] * 1000:.1f} ms "
                  f"during; other process complete {caught_up:.2f} s after recovery; resyncs {remote.resyncs}")
            # Within 2x of the baseline; the 50 ms floor absorbs scheduling noise of a loaded box.
            assert p99["send_during"] <= 2 * p99["send_before"] + 0.05, p99
            assert p99["sync_during"] <= 2 * p99["sync_before"] + 0.05, p99
            assert all(count == 1 for count in local.live.values()), "a local event was delivered twice"
            for backend in (a, b):
                log = backend.log_tail(200_000)
                assert log.count("Traceback") == 0, log[-3000:]
                assert log.count("redis unavailable") <= 2, log[-3000:]
        finally:
            await asyncio.gather(*(c.disconnect() for c in clients), return_exceptions=True)


async def test_redis_frozen_for_five_seconds(fault_engine, fault_redis) -> None:
    await _chat_through(fault_redis.freeze, fault_redis.thaw, fault_engine, fault_redis, "redis frozen")


async def test_redis_killed_and_restarted(fault_engine, fault_redis) -> None:
    await _chat_through(fault_redis.kill, fault_redis.start, fault_engine, fault_redis, "redis killed")
