"""Benchmark: one page of history (list_messages, limit=50) from a 100,000-message conversation.

    .venv/bin/python bench/history_page.py [--messages 100000] [--calls 300] [--limit 50] [--http]
                                           [--profile FILE]

Creates its own temporary Postgres database (TEST_PG_ADMIN_URL or 127.0.0.1:5432), migrates
it, COPYs the messages in (plus a read receipt every 50 messages, so readBy has real work),
times `calls` calls of the latest page (no cursor) and `calls` at random beforeMessageId
cursors (pages back) through the real domain function (serialisation and batch loads
included), prints p50/p99 of each, and drops the database. With --http the same two through
GET /api/v1/chat/conversations/{id}/messages of a backend process (gunicorn + uvicorn, as the realtime
tests start it): what a client waits for, JSON encoding and the HTTP stack included.
With --profile FILE the timed domain calls also run once more under cProfile (its stats
written to FILE, the top functions by own time printed): where a page's time goes.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import psycopg  # noqa: E402
from common import backends, copy_messages, http_session, load_average  # noqa: E402

from tests.conftest import migrate, temporary_pg_database  # noqa: E402

MESSAGES = 0  # how many the conversation holds (for the report lines)


def seed(url: str, n_messages: int) -> tuple[str, str, list[str]]:
    """Two friends, one direct conversation, n messages; returns (reader, conversation, ids)."""
    from utool_chat.db.models import new_id

    ann, bob, conv = new_id(), new_id(), new_id()
    start = datetime.now(UTC) - timedelta(days=30)
    ids = [new_id() for _ in range(n_messages)]
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO users (id, username, display_name, password_hash, created_at, updated_at)"
            " VALUES (%s, %s, %s, '!', now(), now())",
            [(ann, "bench_ann", "Ann"), (bob, "bench_bob", "Bob")],
        )
        cur.execute(
            "INSERT INTO conversations (id, type, direct_key, last_seq, last_message_id, last_activity_at,"
            " created_at, updated_at, created_by_id) VALUES (%s, 'direct', %s, %s, %s, now(), now(), now(), %s)",
            (conv, ":".join(sorted((ann, bob))), n_messages, ids[-1], ann),
        )
        cur.executemany(
            "INSERT INTO conversation_members (conversation_id, user_id, is_admin, joined_at, is_archived,"
            " last_read_seq, last_delivered_seq) VALUES (%s, %s, false, now(), false, %s, %s)",
            [(conv, ann, n_messages, n_messages), (conv, bob, n_messages - 10, n_messages)],
        )
        copy_messages(cur, conv, [
            (message_id, i + 1, ann if i % 3 else bob, f"message number {i + 1} " + "lorem " * (i % 20),
             start + timedelta(seconds=i * 20))
            for i, message_id in enumerate(ids)
        ])
        with cur.copy("COPY read_receipts (conversation_id, user_id, up_to_seq, read_at) FROM STDIN") as copy:
            for seq in range(50, n_messages - 10, 50):
                copy.write_row((conv, bob, seq, start + timedelta(seconds=seq * 20 + 5)))
        cur.execute("ANALYZE")
    return ann, conv, ids


def report(label: str, timings_ms: list[float]) -> None:
    timings_ms = sorted(timings_ms)
    p99 = timings_ms[min(len(timings_ms) - 1, round(0.99 * (len(timings_ms) - 1)))]
    print(f"  {label} over {MESSAGES:,} messages: p50 {statistics.median(timings_ms):.2f} ms, "
          f"p99 {p99:.2f} ms, max {timings_ms[-1]:.2f} ms")


async def over_http(base_url: str, token: str, conv: str, cursors: list[str], limit: int) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    url = f"{base_url}/api/v1/chat/conversations/{conv}/messages"
    async with http_session() as http:
        async def get(params: dict[str, str]) -> float:
            t = time.perf_counter()
            async with http.get(url, params=params, headers=headers) as response:
                body = await response.read()
                assert response.status == 200, body[:200]
            return (time.perf_counter() - t) * 1000

        for cursor in cursors[:20]:
            await get({"limit": str(limit), "beforeMessageId": cursor})
        latest, back = [], []
        for cursor in cursors:
            latest.append(await get({"limit": str(limit)}))
            back.append(await get({"limit": str(limit), "beforeMessageId": cursor}))
    report(f"HTTP latest page of {limit}", latest)
    report(f"HTTP page of {limit} back", back)


def statements_of(call: Callable[[], object]) -> int:
    """How many SQL statements `call` sends (the engine's cursor executions)."""
    import sqlalchemy as sa

    from utool_chat.db.engine import get_engine

    sent: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        sent.append(statement)

    sa.event.listen(get_engine(), "before_cursor_execute", count)
    try:
        call()
    finally:
        sa.event.remove(get_engine(), "before_cursor_execute", count)
    return len(sent)


def profile(path: str, calls: Callable[[], object]) -> None:
    """Run `calls` under cProfile, save the stats to `path`, print the top 25 by own time."""
    profiler = cProfile.Profile()
    profiler.runcall(calls)
    profiler.dump_stats(path)
    print(f"-- profile of the same calls (stats in {path}), top functions by own time:")
    pstats.Stats(path).sort_stats("tottime").print_stats(25)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--limit", type=int, default=50)
    parser.add_argument("--http", action="store_true", help="also through the HTTP API of a backend process")
    parser.add_argument("--profile", metavar="FILE", help="also profile the domain calls (cProfile stats to FILE)")
    args = parser.parse_args()
    global MESSAGES
    MESSAGES = args.messages

    with temporary_pg_database(prefix="utool_bench") as url:
        migrate(url)
        os.environ["DATABASE_URL"] = url
        from utool_chat import config
        from utool_chat.db import engine

        config.reload_settings()
        engine.init_engine(url)
        from utool_chat.domain import messages

        t0 = time.perf_counter()
        reader, conv, ids = seed(url, args.messages)
        print(f"seeded {args.messages:,} messages in {time.perf_counter() - t0:.1f} s")

        seq_of = {message_id: i + 1 for i, message_id in enumerate(ids)}
        rng = random.Random(42)
        cursors = [rng.choice(ids) for _ in range(args.calls)]
        print(f"-- domain list_messages(limit={args.limit}); {load_average()}")
        for _ in range(20):  # warm up the pool, caches and statement compilation
            messages.list_messages(reader, conv, limit=args.limit, before_message_id=rng.choice(ids))
        newest_sql = statements_of(lambda: messages.list_messages(reader, conv, limit=args.limit))
        back_sql = statements_of(lambda: messages.list_messages(reader, conv, limit=args.limit,
                                                                before_message_id=ids[len(ids) // 2]))
        print(f"  SQL statements per call: latest page {newest_sql}, page back {back_sql}")
        latest, back, cpu = [], [], []
        for cursor in cursors:
            t, c = time.perf_counter(), time.thread_time()
            newest, _ = messages.list_messages(reader, conv, limit=args.limit)
            latest.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            page, _meta = messages.list_messages(reader, conv, limit=args.limit, before_message_id=cursor)
            back.append((time.perf_counter() - t) * 1000)
            cpu.append((time.thread_time() - c) * 500)  # per call, of the two
            assert len(newest) == args.limit and newest[0]["seq"] == args.messages
            assert not page or page[0]["seq"] == seq_of[cursor] - 1
        report(f"latest page of {args.limit}", latest)
        report(f"page of {args.limit} back at {args.calls} random cursors", back)
        # CPU of this process per call: what Python costs, whatever the other processes on the machine do
        report("CPU of this process per call", cpu)
        if args.profile:
            profile(args.profile, lambda: [
                (messages.list_messages(reader, conv, limit=args.limit),
                 messages.list_messages(reader, conv, limit=args.limit, before_message_id=cursor))
                for cursor in cursors
            ])
        if args.http:
            from tests.support.factories import issue_token

            token = issue_token(reader)
            with backends(url) as (backend,):
                print(f"-- HTTP GET .../messages?limit={args.limit} on {backend.url}; {load_average()}")
                asyncio.run(over_http(backend.url, token, conv, cursors, args.limit))
        print(f"-- done; {load_average()}")
        engine.get_engine().dispose()


if __name__ == "__main__":
    main()
