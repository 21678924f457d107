"""A rolling restart of two backend processes (SIGTERM one, start its replacement, SIGTERM the
other) while a client keeps sending: the processes close their sockets as they stop, the
clients reconnect to the one that is up and retry what was not acknowledged (same tempId), and
nothing acknowledged is lost, nothing is stored twice."""

from __future__ import annotations

import asyncio
import os
import signal
import time

from tests.faults.backends import FAULT_ENV, Receiver, backends, wait_for
from tests.realtime.conftest import ChatClient
from tests.support.backend_process import BackendProcess, running_backend
from tests.support.factories import direct_conversation, new_person


def terminate(backend: BackendProcess) -> float:
    """SIGTERM, as a supervisor stops a process; the seconds it took to exit."""
    started = time.monotonic()
    os.killpg(backend.process.pid, signal.SIGTERM)
    backend.process.wait(30)
    return time.monotonic() - started


async def test_a_rolling_restart_loses_nothing_acknowledged(fault_engine, fault_redis) -> None:
    with backends(2, fault_engine, fault_redis.url) as (a, b):
        alice, bob = new_person("Alice"), new_person("Bob")
        cid = direct_conversation(alice, bob)["_id"]
        up = [a.url, b.url]
        acked: dict[str, str] = {}
        retries = 0
        closed_by_server = 0
        stop = asyncio.Event()

        async def connect_any(token: str) -> ChatClient:
            while True:
                for url in list(up):
                    try:
                        return await ChatClient(url, token).connect()
                    except Exception:
                        continue
                await asyncio.sleep(0.1)

        async def keep_sending() -> None:
            nonlocal retries, closed_by_server
            client = await ChatClient(a.url, alice.token).connect()
            i = 0
            while not stop.is_set():
                temp_id = f"roll-{i}"
                while True:
                    try:
                        ack = await client.call("chat:send_message",
                                                {"conversationId": cid, "content": temp_id, "tempId": temp_id},
                                                timeout=5)
                    except Exception:
                        ack = None
                    if ack is not None and ack["success"]:
                        acked[temp_id] = ack["data"]["message"]["_id"]
                        break
                    retries += 1
                    if client.disconnected.is_set():
                        closed_by_server += 1
                    await client.disconnect()
                    client = await connect_any(alice.token)
                i += 1
                await asyncio.sleep(0.01)
            await client.disconnect()

        receiver = Receiver(await ChatClient(b.url, bob.token).connect(), cid)
        sending = asyncio.create_task(keep_sending())
        await wait_for(lambda: len(acked) >= 10, 10, "sending to start")

        up.remove(a.url)
        took_a = await asyncio.to_thread(terminate, a)
        with running_backend(fault_engine, redis_url=fault_redis.url, env=FAULT_ENV) as a2:
            up.append(a2.url)
            count = len(acked)
            await wait_for(lambda: len(acked) >= count + 10, 10, "sending after the first restart")
            up.remove(b.url)
            took_b = await asyncio.to_thread(terminate, b)
            # The receiver's process is gone too: it reconnects and catches up.
            await receiver.client.disconnect()
            receiver.client = await ChatClient(a2.url, bob.token).connect()
            receiver.client.sio.on("chat:new_message", receiver._on_message, namespace="/chat")
            count = len(acked)
            await wait_for(lambda: len(acked) >= count + 10, 10, "sending after the second restart")
            stop.set()
            await sending
            await receiver.sync()
            history = await receiver.client.call("chat:sync", {"conversationId": cid, "afterSeq": 0, "limit": 100})
            stored = [m["content"] for m in history["data"]["messages"]]
            while history["data"]["hasMore"]:
                history = await receiver.client.call(
                    "chat:sync", {"conversationId": cid, "afterSeq": history["data"]["lastSeq"], "limit": 100})
                stored += [m["content"] for m in history["data"]["messages"]]
            await receiver.client.disconnect()
            log_a = a.log_tail(100_000)
        print(f"\n[rolling restart] {len(acked)} messages acknowledged, {retries} retries, {closed_by_server} "
              f"times the server closed the sender's socket; SIGTERM to exit: {took_a:.2f} s and {took_b:.2f} s")
        assert set(acked.values()) <= receiver.has(), "an acknowledged message is missing"
        assert sorted(stored) == sorted(acked), "a message was lost or stored twice"
        assert "shutdown:" in log_a and "Traceback" not in log_a, log_a[-3000:]
