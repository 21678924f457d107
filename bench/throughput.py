"""Throughput of one backend process: closed-loop pairs, Socket.IO send and HTTP send.

    .venv/bin/python bench/throughput.py [--pairs 10] [--seconds 20] [--latency 200] [--only socket|http]
                                         [--processes 1] [--redis redis://127.0.0.1:6379/0]

Starts the real backend (gunicorn + uvicorn, as the realtime tests do) on a private Postgres database
with the rate limits lifted, then for each way of sending:
  1. idle latency: `--latency` messages one at a time, send → the other user's
     chat:new_message (p50 / p95 / p99);
  2. load: `--pairs` sender → receiver pairs, each in its own direct conversation; each
     sender sends its next message as soon as the previous one is acknowledged (the ack of
     chat:send_message, or the HTTP 201) for `--seconds`. Prints messages persisted/s (acks),
     delivered/s (the receivers' chat:new_message), the delivery latency under that load
     (send → receiver) and the backend's CPU seconds per 1,000 messages, read from /proc
     for the backend's whole process tree.
With `--processes 2 --redis URL` there are two backends on the same database and Redis:
each pair's sender talks to one process and its receiver to the other, so every delivery
crosses the Redis bus. The clients run in this process, on the same cores as the backend.
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
    new_pairs,
    now,
    start_py_spy,
    with_history,
)


class Deliveries:
    """Send times by tempId; the receivers report when chat:new_message arrived."""

    def __init__(self) -> None:
        self.sent_at: dict[str, float] = {}
        self.latencies: list[float] = []
        self.count = 0
        self.waiting: dict[str, asyncio.Future] = {}

    def on_event(self, name: str, data: Any) -> None:
        if name != "chat:new_message":
            return
        arrived = now()
        temp_id = data.get("tempId")
        started = self.sent_at.pop(temp_id, None)
        if started is None:
            return
        self.count += 1
        self.latencies.append(arrived - started)
        future = self.waiting.pop(temp_id, None)
        if future is not None and not future.done():
            future.set_result(arrived)


async def send_socket(client: SocketClient, conversation_id: str, content: str, temp_id: str) -> None:
    result = await client.call("chat:send_message", {"conversationId": conversation_id, "content": content,
                                                     "tempId": temp_id})
    if not result.get("success"):
        raise RuntimeError(f"send refused: {result}")


async def send_http(http, base_url: str, headers: dict[str, str], conversation_id: str, content: str,
                    temp_id: str) -> None:
    async with http.post(f"{base_url}/api/v1/chat/conversations/{conversation_id}/messages",
                         json={"content": content, "tempId": temp_id}, headers=headers) as response:
        if response.status != 201:
            raise RuntimeError(f"send refused: {response.status} {await response.text()}")


async def run_mode(database: str, mode: str, urls: list[str], pgid: list[int], args: argparse.Namespace) -> None:
    deliveries = Deliveries()
    pairs = new_pairs(args.pairs)
    with_history(database, [conv for _sender, _receiver, conv in pairs])
    async with http_session() as http:
        senders = {}
        receivers = []
        for i, (sender, receiver, _conv) in enumerate(pairs):
            send_url, receive_url = urls[i % len(urls)], urls[(i + 1) % len(urls)]
            if mode == "socket":
                senders[sender.id] = await SocketClient.connect(http, send_url, sender.token)
            receivers.append(await SocketClient.connect(http, receive_url, receiver.token, deliveries.on_event))

        async def send(i: int, content: str) -> str:
            sender, _receiver, conv = pairs[i]
            temp_id = uuid.uuid4().hex
            deliveries.sent_at[temp_id] = now()
            if mode == "socket":
                await send_socket(senders[sender.id], conv, content, temp_id)
            else:
                await send_http(http, urls[i % len(urls)], sender.headers, conv, content, temp_id)
            return temp_id

        # 1. idle latency, one message at a time
        for i in range(20):  # warm up
            await send(0, f"warm {i}")
        await asyncio.sleep(0.2)
        deliveries.latencies.clear()
        for i in range(args.latency):
            temp_id = uuid.uuid4().hex
            future = asyncio.get_running_loop().create_future()
            deliveries.waiting[temp_id] = future
            deliveries.sent_at[temp_id] = now()
            sender, _receiver, conv = pairs[0]
            if mode == "socket":
                await send_socket(senders[sender.id], conv, f"latency {i}", temp_id)
            else:
                await send_http(http, urls[0], sender.headers, conv, f"latency {i}", temp_id)
            await asyncio.wait_for(future, 10)
        print(f"  idle send -> other user's chat:new_message, one at a time: {describe_ms(deliveries.latencies)}")

        # 2. closed-loop load
        deliveries.latencies.clear()
        deliveries.count = 0
        acked = 0
        stop_at = now() + args.seconds
        cpu_before = sum(cpu_seconds(g) for g in pgid)

        async def loop(i: int) -> None:
            nonlocal acked
            n = 0
            while now() < stop_at:
                await send(i, f"load {n}")
                acked += 1
                n += 1

        # The first backend's worker, during the load phase: <prefix>-<mode>[-gil].txt.
        profiler = None if not args.py_spy else start_py_spy(
            pgid[0], f"{args.py_spy}-{mode}{'-gil' if args.py_spy_gil else ''}.txt", gil=args.py_spy_gil,
            seconds=args.seconds)
        started = now()
        await asyncio.gather(*(loop(i) for i in range(len(pairs))))
        elapsed = now() - started
        delivered_in_time = deliveries.count
        cpu_used = sum(cpu_seconds(g) for g in pgid) - cpu_before
        # the stragglers (sent just before the end) still count for latency
        for _ in range(100):
            if not deliveries.sent_at:
                break
            await asyncio.sleep(0.05)
        print(f"  {len(pairs)} closed-loop pairs, {elapsed:.1f} s: persisted {acked / elapsed:.0f} msg/s, "
              f"delivered {delivered_in_time / elapsed:.0f} msg/s ({acked} acked, {deliveries.count} delivered, "
              f"{len(deliveries.sent_at)} missing)")
        print(f"  delivery under load: {describe_ms(deliveries.latencies)}")
        print(f"  backend CPU {cpu_used:.1f} s = {cpu_used / max(acked, 1) * 1000:.2f} s per 1,000 messages")
        for client in [*senders.values(), *receivers]:
            await client.close()
        if profiler is not None:
            profiler.wait(timeout=60)


async def run(database: str, urls: list[str], pgid: list[int], args: argparse.Namespace) -> None:
    modes = [args.only] if args.only else ["socket", "http"]
    for mode in modes:
        print(f"-- {'Socket.IO' if mode == 'socket' else 'HTTP'} send; {load_average()}")
        await run_mode(database, mode, urls, pgid, args)
    print(f"-- done; {load_average()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--latency", type=int, default=200)
    parser.add_argument("--only", choices=["socket", "http"])
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--py-spy", metavar="PREFIX", help="profile the backend worker under load with py-spy")
    parser.add_argument("--py-spy-gil", action="store_true",
                        help="with --py-spy: sample only while the worker holds the GIL (its Python CPU)")
    parser.add_argument("--redis", default=None, help="Redis URL (required with --processes > 1)")
    args = parser.parse_args()
    if args.processes > 1 and not args.redis:
        parser.error("--processes > 1 needs --redis: the processes hear each other through it")

    with bench_database() as url, backends(url, args.processes, args.redis) as running:
        print(f"{args.processes} backend process(es) {[b.url for b in running]} (gunicorn + uvicorn, 1 worker each), "
              f"database {url.rsplit('/', 1)[1]}, bus {'Redis' if args.redis else 'in-process'}")
        asyncio.run(run(url, [b.url for b in running], [b.process.pid for b in running], args))


if __name__ == "__main__":
    main()
