"""The ceiling of the serving stack: bench/throughput.py's closed loop against python-socketio
served as the app is (gunicorn + uvicorn with utool_chat/serving.py's options), with no
database and no domain (bench/stack_app.py).

    .venv/bin/python bench/stack_ceiling.py [--pairs 10] [--seconds 20] [--latency 200]

Prints what throughput.py prints for Socket.IO send (idle send -> other user's
chat:new_message, closed-loop msg/s, delivery latency under load, the server's CPU per 1,000
messages from /proc) for a server that only relays: what no change to the app's own code
can beat while it is served by this stack on this machine (clients on the same cores).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
import urllib.request
import uuid

from common import ROOT, SocketClient, cpu_seconds, describe_ms, http_session, load_average, now

from tests.support.backend_process import free_port
from utool_chat.serving import GUNICORN_WORKER


def start_server(port: int) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--worker-class", GUNICORN_WORKER, "--bind", f"127.0.0.1:{port}",
         "--workers", "1", "--log-level", "warning", "stack_app:app"],
        cwd=ROOT / "bench", env={**os.environ, "PYTHONPATH": f"{ROOT / 'bench'}:{ROOT}"}, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/_event/?EIO=4&transport=polling", timeout=1)
        except urllib.error.HTTPError:
            return process  # it answers (polling is refused: websocket only)
        except OSError:
            time.sleep(0.1)
            continue
        return process
    process.kill()
    raise RuntimeError("the bare stack did not start")


async def run(base_url: str, pgid: int, args: argparse.Namespace) -> None:
    sent_at: dict[str, float] = {}
    latencies: list[float] = []
    waiting: dict[str, asyncio.Future] = {}
    delivered = 0

    def on_event(name: str, data: dict) -> None:
        nonlocal delivered
        arrived = now()
        started = sent_at.pop(str(data.get("tempId")), None)
        if name != "chat:new_message" or started is None:
            return
        delivered += 1
        latencies.append(arrived - started)
        future = waiting.pop(data["tempId"], None)
        if future is not None and not future.done():
            future.set_result(arrived)

    async with http_session() as http:
        senders = [await SocketClient.connect(http, base_url, f"s{i}:r{i}") for i in range(args.pairs)]
        receivers = [await SocketClient.connect(http, base_url, f"r{i}:s{i}", on_event) for i in range(args.pairs)]

        async def send(i: int, content: str, temp_id: str) -> None:
            sent_at[temp_id] = now()
            result = await senders[i].call("chat:send_message", {"conversationId": f"c{i}", "content": content,
                                                                 "tempId": temp_id})
            if not result.get("success"):
                raise RuntimeError(f"send refused: {result}")

        for i in range(20):
            await send(0, f"warm {i}", uuid.uuid4().hex)
        await asyncio.sleep(0.2)
        latencies.clear()
        for i in range(args.latency):
            temp_id = uuid.uuid4().hex
            future = waiting[temp_id] = asyncio.get_running_loop().create_future()
            await send(0, f"latency {i}", temp_id)
            await asyncio.wait_for(future, 10)
        print(f"  idle send -> other user's chat:new_message, one at a time: {describe_ms(latencies)}")

        latencies.clear()
        delivered = acked = 0
        stop_at = now() + args.seconds
        cpu_before = cpu_seconds(pgid)

        async def loop(i: int) -> None:
            nonlocal acked
            n = 0
            while now() < stop_at:
                await send(i, f"load {n}", uuid.uuid4().hex)
                acked += 1
                n += 1

        started = now()
        await asyncio.gather(*(loop(i) for i in range(args.pairs)))
        elapsed = now() - started
        cpu_used = cpu_seconds(pgid) - cpu_before
        print(f"  {args.pairs} closed-loop pairs, {elapsed:.1f} s: persisted(acked) {acked / elapsed:.0f} msg/s, "
              f"delivered {delivered / elapsed:.0f} msg/s")
        print(f"  delivery under load: {describe_ms(latencies)}")
        print(f"  server CPU {cpu_used:.1f} s = {cpu_used / max(acked, 1) * 1000:.2f} s per 1,000 messages")
        for client in [*senders, *receivers]:
            await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--latency", type=int, default=200)
    args = parser.parse_args()
    port = free_port()
    server = start_server(port)
    try:
        print(f"-- bare python-socketio on gunicorn + uvicorn (1 worker), no database; {load_average()}")
        asyncio.run(run(f"http://127.0.0.1:{port}", server.pid, args))
        print(f"-- done; {load_average()}")
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
