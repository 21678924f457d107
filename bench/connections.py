"""Idle connections: backend memory per connected socket, and latency with N of them.

    .venv/bin/python bench/connections.py [--sockets 1000] [--messages 200]

Starts the real backend (gunicorn + uvicorn, as the realtime tests do) on a private Postgres
database; measures send → the other user's chat:new_message (Socket.IO, one at a time) with
no idle socket, then connects `--sockets` idle /chat sockets (ten users, authenticated like a
tab; they offer permessage-deflate as browsers do, answer pings and receive nothing), reads
the backend's resident memory from /proc before and after (their difference / N is the
memory per idle socket), and measures the same latency again with them connected.
`--sockets 5000` works with the default `ulimit -n` of 20,000 here (each socket is a file
descriptor on both sides).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time
import uuid
from typing import Any

from common import (
    SocketClient,
    backends,
    bench_database,
    cpu_seconds,
    describe_ms,
    http_session,
    load_average,
    now,
    rss_kb,
    with_history,
)

IDLE_SECONDS = 10.0


async def latency(sender: SocketClient, waiting: dict[str, asyncio.Future], conversation_id: str,
                  count: int) -> list[float]:
    samples = []
    for i in range(count):
        temp_id = uuid.uuid4().hex
        future = asyncio.get_running_loop().create_future()
        waiting[temp_id] = future
        started = now()
        result = await sender.call("chat:send_message", {"conversationId": conversation_id,
                                                         "content": f"idle {i}", "tempId": temp_id})
        if not result.get("success"):
            raise RuntimeError(f"send refused: {result}")
        samples.append(await asyncio.wait_for(future, 10) - started)
    return samples


async def settle(pgid: int, seconds: float = 3.0) -> int:
    """Resident memory once it stops moving (the backend finishes its connect work)."""
    await asyncio.sleep(seconds)
    return rss_kb(pgid)


async def run(database: str, base_url: str, pgid: int, args: argparse.Namespace) -> None:
    from tests.support.factories import direct_conversation, new_person

    alice, bob = new_person(), new_person()
    conversation_id = direct_conversation(alice, bob)["_id"]
    with_history(database, [conversation_id])
    idle_people = [new_person() for _ in range(10)]
    waiting: dict[str, asyncio.Future] = {}

    def on_event(name: str, data: Any) -> None:
        future = waiting.pop(data.get("tempId"), None) if name == "chat:new_message" else None
        if future is not None and not future.done():
            future.set_result(now())

    async with http_session() as http:
        sender = await SocketClient.connect(http, base_url, alice.token)
        receiver = await SocketClient.connect(http, base_url, bob.token, on_event)
        await latency(sender, waiting, conversation_id, 20)  # warm up
        print(f"-- no idle socket; {load_average()}")
        samples = await latency(sender, waiting, conversation_id, args.messages)
        print(f"  send -> other user's chat:new_message: {describe_ms(samples)}")

        # A first batch, so that what is allocated once (pools, caches) is not counted per socket.
        warm = [await SocketClient.connect(http, base_url, idle_people[i].token) for i in range(10)]
        before = await settle(pgid)
        started = now()
        idle: list[SocketClient] = []
        for start in range(0, args.sockets, 100):
            idle += await asyncio.gather(*(
                SocketClient.connect(http, base_url, idle_people[i % 10].token)
                for i in range(start, min(args.sockets, start + 100))
            ))
        connected_in = now() - started
        after = await settle(pgid)
        gc.collect()
        print(f"-- {len(idle)} idle sockets connected in {connected_in:.1f} s; {load_average()}")
        print(f"  backend resident memory {before / 1024:.1f} MB -> {after / 1024:.1f} MB: "
              f"{(after - before) / len(idle):.1f} KB per idle socket")
        # What they cost while nobody sends: engine.io pings each one every REFLEX_SOCKET_INTERVAL.
        backend_cpu, bench_cpu, started = cpu_seconds(pgid), time.process_time(), now()
        await asyncio.sleep(IDLE_SECONDS)
        elapsed = now() - started
        print(f"  CPU while they idle {IDLE_SECONDS:.0f} s: backend {(cpu_seconds(pgid) - backend_cpu) / elapsed:.1%} "
              f"of a core, this client {(time.process_time() - bench_cpu) / elapsed:.1%}")
        samples = await latency(sender, waiting, conversation_id, args.messages)
        print(f"  send -> other user's chat:new_message: {describe_ms(samples)}")
        for client in [sender, receiver, *warm, *idle]:
            await client.close()
    print(f"-- done; {load_average()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sockets", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=200)
    args = parser.parse_args()

    with bench_database() as url, backends(url) as (backend,):
        print(f"backend {backend.url} (gunicorn + uvicorn, 1 worker), database {url.rsplit('/', 1)[1]}")
        try:
            asyncio.run(run(url, backend.url, backend.process.pid, args))
        except BaseException:
            print(f"backend log:\n{backend.log_tail()}")
            raise


if __name__ == "__main__":
    main()
