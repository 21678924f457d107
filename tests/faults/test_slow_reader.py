"""A client that connects to /chat and then never reads: the server disconnects it once its
unsent backlog passes MAX_UNSENT_BYTES (realtime/server.py), instead of keeping it in memory
until the ping timeout. Prints how much the server had written to it and how long it took."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp

from tests.faults.backends import backends, wait_for
from tests.realtime.conftest import ChatClient
from tests.support.factories import direct_conversation, new_person
from utool_chat.realtime.server import MAX_UNSENT_BYTES

CONTENT = "x" * 4000  # the longest message: each one is ~9 KB of events to the reader


async def test_a_socket_that_never_reads_is_disconnected_at_the_bound(fault_engine) -> None:
    with backends(1, fault_engine, None) as (backend,):
        reader, writer = new_person("Reader"), new_person("Writer")
        cid = direct_conversation(reader, writer)["_id"]
        async with aiohttp.ClientSession() as session:
            ws = await session.ws_connect(f"{backend.url}/_event/?EIO=4&transport=websocket", autoping=False,
                                          max_msg_size=0)
            assert (await ws.receive_str()).startswith("0")  # engine.io open
            await ws.send_str("40/chat," + json.dumps({"token": reader.token}))
            assert (await ws.receive_str()).startswith("40/chat,")  # connected to /chat
            # From here on the reader reads nothing (aiohttp stops reading from the socket once
            # its own small buffer is full, so the kernel's buffers fill and then the server's).

            senders = [await ChatClient(backend.url, writer.token).connect() for _ in range(4)]
            sent = 0
            started = time.monotonic()

            def dropped() -> bool:
                return "more than" in backend.log_tail(100_000) and "unsent" in backend.log_tail(100_000)

            async def flood(client: ChatClient) -> None:
                nonlocal sent
                while not dropped() and time.monotonic() - started < 60:
                    ack = await client.call("chat:send_message", {"conversationId": cid, "content": CONTENT})
                    assert ack["success"], ack
                    sent += 1

            await asyncio.gather(*(flood(c) for c in senders))
            took = time.monotonic() - started
            assert dropped(), f"still connected after {sent} messages"
            # The reader now reads what reached it: then the connection ends.
            received = 0
            async with asyncio.timeout(30):
                while True:
                    msg = await ws.receive()
                    if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                        break
                    received += len(msg.data) if isinstance(msg.data, (str, bytes)) else 0
            print(f"\n[never-reading socket] disconnected after {sent} messages (~{sent * 9} KB of events) in "
                  f"{took:.1f} s; it had received {received / 2**20:.2f} MiB; bound {MAX_UNSENT_BYTES / 2**20:.0f} MiB")
            await ws.close()
            # The writer's sockets were never affected.
            ack = await senders[0].call("chat:send_message", {"conversationId": cid, "content": "still here"})
            assert ack["success"]
            await asyncio.gather(*(c.disconnect() for c in senders))
            await wait_for(lambda: "Traceback" not in backend.log_tail(100_000), 1, "a clean log")
