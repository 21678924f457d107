"""Group fan-out: one member sends, every other member's socket gets chat:new_message.

    .venv/bin/python bench/fanout.py [--sizes 20,200] [--messages 100]

Starts the real backend (gunicorn + uvicorn, as the realtime tests do) on a private Postgres database
with the rate limits lifted; for each group size, every member but the sender connects one
socket, then the sender sends `--messages` messages over Socket.IO one at a time and waits
until all the others have it. Prints, per size, the time from the send until the last
member had it (p50 / p95 / p99), until the first had it, until the sender's ack, and the
backend's CPU per message. Nobody reads: each member's unread count grows with every message
sent, as in a busy group whose members are away.
The clients run in this process, on the same cores as the backend: at 200 members they
parse 199 copies of each event, which is part of what is measured.

With --py-spy PREFIX the backend worker is sampled during each size's measured messages
(collapsed stacks in PREFIX-<size>[-gil].txt; --py-spy-gil: only while it holds the GIL).
"""

from __future__ import annotations

import argparse
import asyncio
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
    start_py_spy,
    stop_py_spy,
    with_history,
)


async def measure(database: str, base_url: str, pgid: int, size: int, count: int, profile: str | None = None,
                  gil: bool = False) -> None:
    from tests.support.factories import group_conversation, new_person

    owner = new_person()
    members = [new_person() for _ in range(size - 1)]
    conversation_id = group_conversation(owner, members, name=f"fan-out {size}")["_id"]
    with_history(database, [conversation_id])
    pending: dict[str, tuple[float, set[int], asyncio.Future]] = {}
    first_at: dict[str, float] = {}

    def listener(index: int):
        def on_event(name: str, data: Any) -> None:
            if name != "chat:new_message":
                return
            entry = pending.get(data.get("tempId"))
            if entry is None:
                return
            _started, missing, done = entry
            first_at.setdefault(data["tempId"], now())
            missing.discard(index)
            if not missing and not done.done():
                done.set_result(now())
        return on_event

    async with http_session() as http:
        clients = []
        for start in range(0, len(members), 50):
            clients += await asyncio.gather(*(
                SocketClient.connect(http, base_url, members[i].token, listener(i))
                for i in range(start, min(len(members), start + 50))
            ))
        sender = await SocketClient.connect(http, base_url, owner.token)
        last, first, acked = [], [], []
        cpu_before = 0.0
        profiler = None
        for i in range(count + 10):  # the first 10 warm up
            if i == 10:
                cpu_before = cpu_seconds(pgid)
                if profile:
                    profiler = start_py_spy(pgid, f"{profile}-{size}{'-gil' if gil else ''}.txt", gil=gil)
            temp_id = uuid.uuid4().hex
            done = asyncio.get_running_loop().create_future()
            started = now()
            pending[temp_id] = (started, set(range(len(members))), done)
            result = await sender.call("chat:send_message", {"conversationId": conversation_id,
                                                             "content": f"fan-out {i}", "tempId": temp_id})
            acked_at = now()
            if not result.get("success"):
                raise RuntimeError(f"send refused: {result}")
            finished = await asyncio.wait_for(done, 30)
            del pending[temp_id]
            if i >= 10:
                last.append(finished - started)
                first.append(first_at.pop(temp_id) - started)
                acked.append(acked_at - started)
        cpu_used = cpu_seconds(pgid) - cpu_before
        if profiler is not None:
            stop_py_spy(profiler)
        print(f"  {size} members: send -> all {size - 1} others have it: {describe_ms(last)}")
        print(f"  {size} members: send -> the first has it: {describe_ms(first)}")
        # The sender's ack comes once the message is stored and its unread counts are read:
        # what the fan-out waits for before it starts.
        print(f"  {size} members: send -> the sender's ack: {describe_ms(acked)}")
        print(f"  backend CPU {cpu_used / count * 1000:.2f} ms per message")
        for client in [sender, *clients]:
            await client.close()


async def run(database: str, base_url: str, pgid: int, sizes: list[int], args: argparse.Namespace) -> None:
    for size in sizes:
        print(f"-- group of {size}; {load_average()}")
        await measure(database, base_url, pgid, size, args.messages, args.py_spy, args.py_spy_gil)
    print(f"-- done; {load_average()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="20,200", help="comma-separated group sizes (members, sender included)")
    parser.add_argument("--messages", type=int, default=100)
    parser.add_argument("--py-spy", metavar="PREFIX", help="profile the backend worker with py-spy")
    parser.add_argument("--py-spy-gil", action="store_true",
                        help="with --py-spy: sample only while the worker holds the GIL (its Python CPU)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    with bench_database() as url, backends(url) as (backend,):
        print(f"backend {backend.url} (gunicorn + uvicorn, 1 worker), database {url.rsplit('/', 1)[1]}")
        asyncio.run(run(url, backend.url, backend.process.pid, sizes, args))


if __name__ == "__main__":
    main()
