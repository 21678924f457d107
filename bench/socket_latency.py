"""Socket.IO latency and throughput of one backend process (loopback only).

    .venv/bin/python bench/socket_latency.py [--messages 1000] [--idle 500] [--senders 8] [--per-sender 250]

Starts the real backend (gunicorn + uvicorn, like the realtime tests) on a temporary Postgres database,
then measures with stock python-socketio clients:
  1. latency: sender emits chat:send_message → receiver gets chat:new_message, one message
     at a time (p50 / p99 / max), plus the sender's ack time;
  2. the same with N idle sockets connected (they hold connections and receive nothing);
  3. throughput: several senders, each in its own conversation, send as fast as their acks
     come back; messages stored per second (acks) and delivered per second (receivers).
Everything is dropped afterwards (backend stopped, database dropped). The clients run in
this process and share the machine's cores with the backend, so the figures are an upper
bound on the cost of the path, not of the server alone.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import socketio  # noqa: E402

from tests.conftest import migrate, temporary_pg_database  # noqa: E402

NAMESPACE = "/chat"


def point_this_process_at(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    from utool_chat import config
    from utool_chat.db import engine

    config.reload_settings()
    engine.init_engine(url)


async def connect(base_url: str, token: str, on_message=None) -> socketio.AsyncClient:
    client = socketio.AsyncClient(reconnection=False)
    if on_message is not None:
        client.on("chat:new_message", on_message, namespace=NAMESPACE)
    await client.connect(base_url, socketio_path="/_event", transports=["websocket"],
                         namespaces=[NAMESPACE], auth={"token": token}, wait_timeout=20)
    return client


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def describe(label: str, samples_s: list[float]) -> str:
    ms = [s * 1000 for s in samples_s]
    return (f"{label}: n={len(ms)} p50={percentile(ms, 50):.2f} ms  p99={percentile(ms, 99):.2f} ms  "
            f"max={max(ms):.2f} ms  mean={statistics.fmean(ms):.2f} ms")


async def measure_latency(base_url: str, sender, receiver, conversation_id: str, count: int) -> tuple[list, list]:
    """One message at a time: emit → the receiver's chat:new_message, and emit → the ack."""
    waiting: dict[str, asyncio.Future] = {}

    async def on_message(data) -> None:
        future = waiting.pop(data.get("tempId"), None)
        if future is not None and not future.done():
            future.set_result(time.perf_counter())

    sending = await connect(base_url, sender.token)
    receiving = await connect(base_url, receiver.token, on_message)
    delivery, ack = [], []
    try:
        for i in range(count):
            temp_id = uuid.uuid4().hex
            future = asyncio.get_running_loop().create_future()
            waiting[temp_id] = future
            start = time.perf_counter()
            result = await sending.call("chat:send_message", {
                "conversationId": conversation_id, "content": f"latency {i}", "tempId": temp_id,
            }, namespace=NAMESPACE, timeout=10)
            acked = time.perf_counter()
            assert result["success"], result
            received = await asyncio.wait_for(future, 10)
            ack.append(acked - start)
            delivery.append(received - start)
    finally:
        await sending.disconnect()
        await receiving.disconnect()
    return delivery, ack


async def connect_idle(base_url: str, tokens: list[str], count: int) -> list[socketio.AsyncClient]:
    clients: list[socketio.AsyncClient] = []
    batch = 50
    for start in range(0, count, batch):
        clients += await asyncio.gather(*(
            connect(base_url, tokens[i % len(tokens)]) for i in range(start, min(count, start + batch))
        ))
    return clients


async def measure_throughput(base_url: str, pairs: list, per_sender: int) -> dict[str, float]:
    """Each (sender, receiver, conversation) pair sends `per_sender` messages back to back."""
    total = len(pairs) * per_sender
    delivered = 0
    all_delivered = asyncio.Event()

    async def on_message(_data) -> None:
        nonlocal delivered
        delivered += 1
        if delivered == total:
            all_delivered.set()

    senders = [await connect(base_url, s.token) for s, _, _ in pairs]
    receivers = [await connect(base_url, r.token, on_message) for _, r, _ in pairs]
    stored_at: list[float] = []

    async def send_all(client, conversation_id: str) -> None:
        for i in range(per_sender):
            result = await client.call("chat:send_message", {"conversationId": conversation_id, "content": f"t{i}"},
                                       namespace=NAMESPACE, timeout=30)
            assert result["success"], result
            stored_at.append(time.perf_counter())

    start = time.perf_counter()
    await asyncio.gather(*(send_all(c, conv) for c, (_, _, conv) in zip(senders, pairs, strict=True)))
    stored_done = time.perf_counter()
    await asyncio.wait_for(all_delivered.wait(), 60)
    delivered_done = time.perf_counter()
    for client in senders + receivers:
        await client.disconnect()
    return {
        "messages": total,
        "stored_per_s": total / (stored_done - start),
        "delivered_per_s": total / (delivered_done - start),
        "seconds": delivered_done - start,
    }


async def run(base_url: str, args: argparse.Namespace) -> None:
    from tests.support.factories import direct_conversation, new_person

    alice, bob = new_person(), new_person()
    conversation_id = direct_conversation(alice, bob)["_id"]

    print(f"-- latency, {args.messages} messages one at a time, 2 sockets")
    delivery, ack = await measure_latency(base_url, alice, bob, conversation_id, args.messages)
    print(describe("  send -> other's chat:new_message", delivery))
    print(describe("  send -> sender's ack", ack))

    idle_people = [new_person() for _ in range(10)]
    started = time.perf_counter()
    idle = await connect_idle(base_url, [p.token for p in idle_people], args.idle)
    print(f"-- latency with {len(idle)} idle sockets connected (connected in {time.perf_counter() - started:.1f} s)")
    delivery, ack = await measure_latency(base_url, alice, bob, conversation_id, args.messages)
    print(describe("  send -> other's chat:new_message", delivery))
    print(describe("  send -> sender's ack", ack))
    await asyncio.gather(*(c.disconnect() for c in idle))

    pairs = []
    for _ in range(args.senders):
        sender, receiver = new_person(), new_person()
        pairs.append((sender, receiver, direct_conversation(sender, receiver)["_id"]))
    print(f"-- throughput, {args.senders} concurrent senders x {args.per_sender} messages (one backend process)")
    figures = await measure_throughput(base_url, pairs, args.per_sender)
    print(f"  {figures['messages']} messages in {figures['seconds']:.2f} s: "
          f"stored {figures['stored_per_s']:.0f} msg/s, delivered {figures['delivered_per_s']:.0f} msg/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--idle", type=int, default=500)
    parser.add_argument("--senders", type=int, default=8)
    parser.add_argument("--per-sender", type=int, default=250)
    args = parser.parse_args()

    from tests.support.backend_process import running_backend

    with temporary_pg_database("utool_bench") as url:
        migrate(url)
        point_this_process_at(url)
        # Rate limits off: the benchmark sends far faster than a person may.
        env = {"RATE_LIMIT_SEND": "1000000/second", "RATE_LIMIT_TYPING": "1000000/second"}
        with running_backend(url, env=env) as backend:
            print(f"backend {backend.url} (gunicorn + uvicorn, 1 worker), database {url.rsplit('/', 1)[1]}")
            asyncio.run(run(backend.url, args))


if __name__ == "__main__":
    main()
