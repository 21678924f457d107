"""Benchmark: message search over 1,000,000 messages on Postgres, and what the index costs a send.

    .venv/bin/python bench/search.py [--messages 1000000] [--conversations 1000] [--mine 50] [--runs 100]
                                     [--sends 600] [--explain]

Creates its own temporary Postgres database (TEST_PG_ADMIN_URL or 127.0.0.1:5432), migrates
it, and COPYs in `--messages` messages spread evenly over `--conversations` conversations
(40 % direct, the rest groups of 3–10), the searcher being a member of `--mine` of them.
Message text: 4–18 words drawn with a Zipf law from a 30,000-word vocabulary (English chat
words first, then made-up ones), so common words are common and rare ones rare; ten rare
words are planted in 12 messages each, half of them in the searcher's conversations.

Then, through the real domain function (search.search_messages: visibility, the query,
serialisation and highlights; limit 20), `--runs` searches of each kind, cycling over a few
terms of that kind: a common word, a rare word, a 3-letter prefix, a mid-word substring,
from:<user> alone, and the second page of a common word. Prints p50/p95/p99 per kind, the
index size, and the latency of `--sends` domain sends (send_message) with the trigram index
and as many into a copy of the database without it, alternating one by one so that the
drifting load of the shared machine falls on both alike. `--explain` prints EXPLAIN ANALYZE
of one query per kind.
The database is dropped at the end.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("RATE_LIMIT_SEND", "1000000/second")  # the bench sends faster than a person

import psycopg  # noqa: E402

from tests.conftest import migrate, temporary_pg_database  # noqa: E402

CHAT_WORDS = " ".join((  # the most frequent first
    "the to you and is it for on we that in this be can have do at with will are just so but ok not",
    "what if me my today tomorrow meeting update release deploy deployment deployed call review team",
    "please thanks yes no now later check fix bug build test issue ticket merge branch server client",
    "lunch coffee week morning afternoon project plan design docs notes draft send sent file report",
    "employ employee employer display replay policy email customer support sales budget invoice",
)).split()
RARE_WORDS = ("zanzibar", "quokka", "kumquat", "ptarmigan", "fjordland", "xylophone", "gazebo", "wombat",
              "yodelling", "marzipan")
COMMON_QUERIES = ("the", "meeting", "update", "today", "please")
PREFIX_QUERIES = ("dep", "rel", "mee", "tom", "upd")
SUBSTRING_QUERIES = ("ploy", "leas", "eetin", "morro", "pdat")
INDEX = "ix_messages_search_text_trgm"
WARM_UP_SENDS = 30
INDEX_DDL = f"CREATE INDEX {INDEX} ON messages USING gin (search_text gin_trgm_ops)"


def vocabulary(rng: random.Random, size: int = 30_000) -> list[str]:
    syllables = [c + v for c in "bcdfghjklmnprstvwz" for v in "aeiou"] + ["qu", "th", "sh", "ch", "ng"]
    words = list(CHAT_WORDS)
    seen = set(words) | set(RARE_WORDS)
    while len(words) < size:
        word = "".join(rng.choice(syllables) for _ in range(rng.randint(2, 4)))
        if word not in seen and not any(rare in word for rare in RARE_WORDS):
            seen.add(word)
            words.append(word)
    return words


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def figures(values: list[float]) -> str:
    return (f"p50 {statistics.median(values):6.1f} ms  p95 {percentile(values, 95):6.1f} ms  "
            f"p99 {percentile(values, 99):6.1f} ms  max {max(values):6.1f} ms")


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} cores"


class Seeded:
    def __init__(self) -> None:
        self.searcher = ""
        self.my_conversations: list[str] = []
        self.my_group = ""
        self.partners: list[str] = []  # usernames of people in the searcher's conversations
        self.words: list[str] = []
        self.weights: list[float] = []


def seed(url: str, n_messages: int, n_conversations: int, mine: int, rng: random.Random) -> Seeded:
    from utool_chat.db.models import new_id
    from utool_chat.domain.search import search_text

    out = Seeded()
    n_users = max(2 * n_conversations, 100)
    users = [new_id() for _ in range(n_users)]
    names = ["searcher"] + [f"user{i:05d}" for i in range(1, n_users)]
    out.searcher = users[0]
    now = datetime.now(UTC)
    year_ago = now - timedelta(days=365)

    conversations: list[tuple[str, str, list[str]]] = []  # (id, type, members)
    pairs: set[tuple[str, str]] = set()
    n_direct = int(n_conversations * 0.4)
    my_direct = min(mine // 2, n_direct)
    for i in range(n_conversations):
        is_mine = i < my_direct or n_direct <= i < n_direct + (mine - my_direct)
        if i < n_direct:
            while True:
                a = users[0] if is_mine else rng.choice(users[1:])
                b = rng.choice(users[1:])
                pair = (min(a, b), max(a, b))
                if a != b and pair not in pairs:
                    pairs.add(pair)
                    break
            conversations.append((new_id(), "direct", [a, b]))
        else:
            members = rng.sample(users[1:], rng.randint(2, 9))
            conversations.append((new_id(), "group", ([users[0]] if is_mine else []) + members))
    mine_ids = [c for c, _, m in conversations if users[0] in m]
    out.my_conversations = mine_ids
    out.my_group = next(c for c, kind, m in conversations if kind == "group" and users[0] in m)
    partner_counts: dict[str, int] = {}
    for _, _, members in conversations:
        if users[0] in members:
            for m in members[1:]:
                partner_counts[m] = partner_counts.get(m, 0) + 1
    ranked = sorted(partner_counts, key=lambda u: -partner_counts[u])
    out.partners = [names[users.index(u)] for u in ranked[:5]]

    words = vocabulary(rng)
    weights = [1 / (rank + 1) ** 1.05 for rank in range(len(words))]
    out.words, out.weights = words, weights
    per_conversation = n_messages // n_conversations
    total = per_conversation * n_conversations
    word_counts = [rng.randint(4, 18) for _ in range(total)]
    drawn = iter(rng.choices(words, weights=weights, k=sum(word_counts)))
    planted: dict[int, str] = {}
    mine_set = set(mine_ids)
    mine_index = [i for i, (c, _, _) in enumerate(conversations) if c in mine_set]
    other_index = [i for i, (c, _, _) in enumerate(conversations) if c not in mine_set]
    for word in RARE_WORDS:
        for k in range(12):
            conv_index = rng.choice(mine_index if k % 2 == 0 else other_index)
            planted[conv_index * per_conversation + rng.randrange(per_conversation)] = word

    t0 = time.perf_counter()
    last_ids: dict[str, tuple[str, datetime]] = {}
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        with cur.copy("COPY users (id, username, display_name, password_hash, created_at, updated_at)"
                      " FROM STDIN") as cp:
            for uid, name in zip(users, names, strict=True):
                cp.write_row((uid, name, name.title(), "!", year_ago, year_ago))
        with cur.copy("COPY conversations (id, type, name, direct_key, last_seq, last_activity_at, created_at,"
                      " updated_at) FROM STDIN") as cp:
            for cid, kind, members in conversations:
                key = ":".join(sorted(members)) if kind == "direct" else None
                cp.write_row((cid, kind, None if kind == "direct" else f"Group {cid[:6]}", key, per_conversation,
                              now, year_ago, year_ago))
        with cur.copy("COPY conversation_members (conversation_id, user_id, is_admin, joined_at, is_archived,"
                      " last_read_seq, last_delivered_seq) FROM STDIN") as cp:
            for cid, kind, members in conversations:
                for j, uid in enumerate(members):
                    cp.write_row((cid, uid, kind != "direct" and j == 0, year_ago, False, per_conversation,
                                  per_conversation))
        cur.execute(f"DROP INDEX {INDEX}")  # built once after the load, as a restore would
        with cur.copy("COPY messages (id, conversation_id, seq, sender_id, content, content_type, is_edited,"
                      " is_deleted, search_text, created_at, updated_at) FROM STDIN") as cp:
            n = 0
            for cid, _, members in conversations:
                stamps = sorted(rng.random() for _ in range(per_conversation))
                for seq in range(1, per_conversation + 1):
                    text = " ".join(itertools.islice(drawn, word_counts[n]))
                    if n in planted:
                        text = f"{text} {planted[n]}"
                    at = year_ago + timedelta(days=365 * stamps[seq - 1])
                    message_id = new_id()
                    cp.write_row((message_id, cid, seq, rng.choice(members), text, "text", False, False,
                                  search_text(text), at, at))
                    n += 1
                last_ids[cid] = (message_id, at)
        print(f"copied {total:,} messages in {time.perf_counter() - t0:.1f} s", flush=True)
        cur.executemany("UPDATE conversations SET last_message_id = %s, last_activity_at = %s WHERE id = %s",
                        [(mid, at, cid) for cid, (mid, at) in last_ids.items()])
        conn.commit()
        t1 = time.perf_counter()
        cur.execute(INDEX_DDL)
        conn.commit()
        print(f"built the trigram index in {time.perf_counter() - t1:.1f} s", flush=True)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
    return out


def time_calls(call: Callable[[], Any], runs: int) -> list[float]:
    timings = []
    for _ in range(runs):
        t = time.perf_counter()
        call()
        timings.append((time.perf_counter() - t) * 1000)
    return timings


def explain(url: str, run: Callable[[], Any]) -> str:
    """EXPLAIN ANALYZE of the matching query that `run` sends (the one ordering by created_at)."""
    import sqlalchemy as sa

    from utool_chat.db.engine import get_engine

    captured: list[tuple[str, Any]] = []

    def grab(conn, cursor, statement, parameters, context, executemany):
        if "ORDER BY messages.created_at DESC" in statement:
            captured.append((statement, parameters))

    sa.event.listen(get_engine(), "before_cursor_execute", grab)
    try:
        run()
    finally:
        sa.event.remove(get_engine(), "before_cursor_execute", grab)
    statement, parameters = captured[0]
    with get_engine().connect() as conn:
        rows = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters).scalars().all()
    return "\n".join("    " + row for row in rows)


def paired_sends(url: str, data: Seeded, texts: list[str], count: int, n_messages: int) -> None:
    """Send latency with and without the trigram index, measured side by side: a copy of the
    database without the index, and sends alternating between the two, so the load of the
    shared machine falls on both alike. Also times the message INSERT statement alone, the
    only statement the index makes more expensive."""
    import sqlalchemy as sa

    from tests.conftest import PG_ADMIN_URL
    from utool_chat.db import engine as db_engine
    from utool_chat.domain import messages

    copy_name = url.rsplit("/", 1)[1] + "_noindex"
    copy_url = url.rsplit("/", 1)[0] + "/" + copy_name
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{copy_name}" TEMPLATE "{url.rsplit("/", 1)[1]}"')
    try:
        with psycopg.connect(copy_url, autocommit=True) as conn:
            conn.execute(f"DROP INDEX {INDEX}")
            conn.execute("VACUUM ANALYZE messages")
            conn.execute("CHECKPOINT")
        # The domain talks to the process's one engine: point it at either database in turn.
        engines = {True: db_engine.init_engine(url)}
        db_engine._engine = None
        engines[False] = db_engine.init_engine(copy_url)
        sends: dict[bool, list[float]] = {True: [], False: []}
        inserts: dict[bool, list[float]] = {True: [], False: []}
        started: dict[int, float] = {}
        current: list[bool] = [True]

        def before(conn, cursor, statement, parameters, context, executemany):
            if statement.startswith("INSERT INTO messages "):
                started[id(context)] = time.perf_counter()

        def after(conn, cursor, statement, parameters, context, executemany):
            if id(context) in started:
                inserts[current[0]].append((time.perf_counter() - started.pop(id(context))) * 1000)

        for eng in engines.values():
            sa.event.listen(eng, "before_cursor_execute", before)
            sa.event.listen(eng, "after_cursor_execute", after)
        texts_iter = iter(texts)
        for i in range(count + WARM_UP_SENDS):
            for with_index in (True, False) if i % 2 else (False, True):  # neither always goes first
                current[0] = with_index
                db_engine._engine = engines[with_index]
                t = time.perf_counter()
                messages.send_message(data.searcher, data.my_group, next(texts_iter))
                elapsed = (time.perf_counter() - t) * 1000
                if i < WARM_UP_SENDS:
                    inserts[with_index].clear()
                else:
                    sends[with_index].append(elapsed)
        print(f"\nsend latency into a {n_messages:,}-message table, {count} sends to each database,"
              " alternating between the one with the trigram index and a copy without it:")
        for with_index in (False, True):
            label = "with the trigram index" if with_index else "without it"
            print(f"  send_message, {label:<22} {figures(sends[with_index])}  mean"
                  f" {statistics.fmean(sends[with_index]):.2f} ms; its INSERT: p50"
                  f" {statistics.median(inserts[with_index]):.2f} ms, p95 {percentile(inserts[with_index], 95):.2f} ms")

        def change(how: Callable[[list[float]], float], of: dict[bool, list[float]]) -> str:
            before, after = how(of[False]), how(of[True])
            return f"{before:.2f} -> {after:.2f} ms ({after / before * 100 - 100:+.1f} %)"

        print(f"  without -> with the index: send median {change(statistics.median, sends)}, mean"
              f" {change(statistics.fmean, sends)}; the INSERT alone: median {change(statistics.median, inserts)};"
              f" {load()}")
        for eng in engines.values():
            eng.dispose()
        db_engine._engine = None
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{copy_name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--conversations", type=int, default=1_000)
    parser.add_argument("--mine", type=int, default=50)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--sends", type=int, default=600, help="timed sends into each database")
    parser.add_argument("--explain", action="store_true")
    args = parser.parse_args()
    rng = random.Random(20261201)

    with temporary_pg_database(prefix="utool_bench_search") as url:
        migrate(url)
        os.environ["DATABASE_URL"] = url
        from utool_chat import config
        from utool_chat.db import engine

        config.reload_settings()
        engine.init_engine(url)
        from utool_chat.domain import ratelimit, search

        ratelimit.configure(send="1000000/second")
        print(load())
        data = seed(url, args.messages, args.conversations, args.mine, rng)
        print(f"searcher in {len(data.my_conversations)} of {args.conversations} conversations; {load()}")

        with psycopg.connect(url) as conn:
            sizes = conn.execute(
                f"SELECT pg_relation_size('{INDEX}'), pg_table_size('messages'), pg_indexes_size('messages'),"
                " avg(octet_length(content)), avg(octet_length(search_text)) FROM messages").fetchone()
            assert sizes is not None
            mib = 1024 * 1024
            print(f"trigram index {sizes[0] / mib:.0f} MiB; messages table {sizes[1] / mib:.0f} MiB, all its indexes "
                  f"{sizes[2] / mib:.0f} MiB; average content {sizes[3]:.0f} B, search_text {sizes[4]:.0f} B")

        def run(q: str, cursor: str | None = None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
            return search.search_messages(data.searcher, q, limit=20, cursor=cursor)

        second_pages = {q: run(q)[1]["nextCursor"] for q in COMMON_QUERIES}
        kinds: dict[str, list[tuple[str, str | None]]] = {
            "common word": [(q, None) for q in COMMON_QUERIES],
            "common word, page 2": [(q, second_pages[q]) for q in COMMON_QUERIES],
            "rare word": [(q, None) for q in RARE_WORDS],
            "3-letter prefix": [(q, None) for q in PREFIX_QUERIES],
            "mid-word substring": [(q, None) for q in SUBSTRING_QUERIES],
            "from: filter": [(f"from:{name}", None) for name in data.partners],
        }
        for q, _ in kinds["common word"] + kinds["rare word"]:  # warm up the pool and the caches
            run(q)
        print(f"\nsearch_messages(limit=20) as the searcher, {args.runs} runs per kind:")
        for kind, queries in kinds.items():
            cycle = itertools.cycle(queries)
            results: list[int] = []

            def one(cycle: Any = cycle, results: list[int] = results) -> None:
                q, cursor = next(cycle)
                items, _ = run(q, cursor)
                results.append(len(items))

            timings = time_calls(one, args.runs)
            terms = ", ".join(q for q, _ in queries)
            print(f"  {kind:<20} {figures(timings)}  ({statistics.fmean(results):.1f} results avg; {terms})",
                  flush=True)
            if args.explain:
                print(explain(url, functools.partial(run, *queries[0])))
        print(load())

        engine.get_engine().dispose()
        texts = [" ".join(rng.choices(data.words, weights=data.weights, k=rng.randint(4, 18)))
                 for _ in range(2 * (args.sends + WARM_UP_SENDS))]
        paired_sends(url, data, texts, args.sends, args.messages)


if __name__ == "__main__":
    main()
