"""What a send costs Postgres: 10 tasks call the domain's send (messages.send_message_async, the
path of the Socket.IO and HTTP doors) in a loop for 10 s, in this process, with no server.

    .venv/bin/python bench/send_db_cost.py [--no-history] [--seconds 10]

Prints sends/s, the CPU of the database's server processes per send (from /proc: run it on the
machine that runs Postgres, as root or as postgres) and this process's CPU per send. By default the
conversations first get history and current planner statistics (common.with_history); with
--no-history they start empty on never-analysed tables, as the benchmarks did before.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time

import psycopg
from common import NO_LIMITS, bench_database, new_pairs, processes_cpu_seconds, with_history


def server_cpu_seconds(url: str) -> tuple[float, int]:
    """CPU seconds of the server processes connected to the database (other than ours)."""
    dbname = url.rsplit("/", 1)[1]
    with psycopg.connect(url) as conn:
        pids = [row[0] for row in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", (dbname,))]
    return processes_cpu_seconds(pids), len(pids)


async def send_for(pairs: list, seconds: float) -> int:
    from utool_chat.domain import messages

    sent = 0
    stop_at = time.monotonic() + seconds

    async def loop(sender_id: str, conversation_id: str) -> None:
        nonlocal sent
        while time.monotonic() < stop_at:
            await messages.send_message_async(sender_id, conversation_id, f"hello there number {sent}", "text",
                                              None, None, None)
            sent += 1

    await asyncio.gather(*(loop(sender.id, conv) for sender, _receiver, conv in pairs))
    return sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-history", action="store_true")
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    os.environ.update(NO_LIMITS)
    with bench_database() as url:
        pairs = new_pairs(10)
        if not args.no_history:
            with_history(url, [conv for _sender, _receiver, conv in pairs])

        async def measure() -> None:
            await send_for(pairs, 2)  # warm: connections opened, statements prepared
            server_before, connections = server_cpu_seconds(url)
            own_before, started = time.process_time(), time.monotonic()
            sent = await send_for(pairs, args.seconds)
            server_after, _ = server_cpu_seconds(url)
            own_after, elapsed = time.process_time(), time.monotonic() - started
            server_ms = 1000 * (server_after - server_before) / sent
            own_ms = 1000 * (own_after - own_before) / sent
            print(f"{'empty, never analysed' if args.no_history else 'with history, analysed'}: "
                  f"{sent / elapsed:.0f} sends/s; Postgres CPU {server_ms:.3f} ms per send "
                  f"({connections} server processes); this process {own_ms:.3f} ms per send")

        asyncio.run(measure())


if __name__ == "__main__":
    main()
