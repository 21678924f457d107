"""What the backend benchmarks share: a backend process on a private Postgres database,
its CPU and memory read from /proc, a minimal Socket.IO client, and percentiles.

The client speaks the Engine.IO 4 / Socket.IO 5 text protocol over one aiohttp websocket
(offering permessage-deflate, as browsers do) by hand (open, namespace connect with auth,
events with acks, ping → pong). A stock python-socketio AsyncClient costs the benchmark
process several times more CPU and memory per socket, and the clients share the machine's
two cores with the backend: the lighter the client, the more of what is measured is the server.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import psycopg  # noqa: E402

from tests.conftest import migrate, temporary_pg_database  # noqa: E402

NAMESPACE = "/chat"
# The benchmarks send far faster than a person may: the limits are lifted in the backend.
NO_LIMITS = {"RATE_LIMIT_SEND": "100000000/second", "RATE_LIMIT_TYPING": "100000000/second"}
ACK_TIMEOUT = 30.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} ({os.cpu_count()} cores)"


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] if ordered else float("nan")


def describe_ms(samples_s: list[float]) -> str:
    ms = [s * 1000 for s in samples_s]
    return (f"n={len(ms)} p50 {percentile(ms, 50):.2f} ms, p95 {percentile(ms, 95):.2f} ms, "
            f"p99 {percentile(ms, 99):.2f} ms, max {max(ms, default=float('nan')):.2f} ms")


def point_this_process_at(url: str) -> None:
    """The bench process seeds users and conversations through the domain, on `url`."""
    os.environ["DATABASE_URL"] = url
    from utool_chat import config
    from utool_chat.db import engine

    config.reload_settings()
    engine.init_engine(url)


@contextmanager
def bench_database() -> Iterator[str]:
    """A migrated Postgres database of our own on the shared server, dropped afterwards."""
    with temporary_pg_database("utool_bench") as url:
        migrate(url)
        point_this_process_at(url)
        try:
            yield url
        finally:
            from utool_chat.db import engine

            engine.get_engine().dispose()


@contextmanager
def backends(url: str, count: int = 1, redis_url: str | None = None) -> Iterator[list[Any]]:
    """`count` backend processes on `url` (with Redis between them when there are several)."""
    from contextlib import ExitStack

    from tests.support.backend_process import running_backend

    with ExitStack() as stack:
        yield [stack.enter_context(running_backend(url, redis_url=redis_url, env=NO_LIMITS))
               for _ in range(count)]


# --- /proc: CPU and memory of a backend's process tree --------------------------------------


def group_members(pgid: int) -> list[int]:
    """The processes of a process group (running_backend starts gunicorn in a new session, so
    its master and workers share the master's pid as their group)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[2]) == pgid:  # field 5 of stat: pgrp
            pids.append(int(entry))
    return pids


def cpu_seconds(pgid: int) -> float:
    """User + system CPU seconds used so far by the backend's processes."""
    return processes_cpu_seconds(group_members(pgid))


def processes_cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds used so far by these processes (those gone count nothing)."""
    total = 0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLOCK_TICKS


def rss_kb_of(pid: int) -> int:
    """Resident memory of one process, in KB (0 once it is gone)."""
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_KB
    except OSError:
        return 0


def rss_kb(pgid: int) -> int:
    """Resident memory of the backend's processes, in KB."""
    return sum(rss_kb_of(pid) for pid in group_members(pgid))


# --- a minimal Socket.IO client ----------------------------------------------------------------


class SocketClient:
    """One websocket, the /chat namespace, acks by id; `on_event(name, data)` for the rest."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, on_event: Callable[[str, Any], None] | None) -> None:
        self.ws = ws
        self.on_event = on_event
        self._ack_ids = itertools.count()
        self._acks: dict[int, asyncio.Future] = {}
        self._reader: asyncio.Task | None = None

    @classmethod
    async def connect(cls, http: aiohttp.ClientSession, base_url: str, token: str,
                      on_event: Callable[[str, Any], None] | None = None) -> SocketClient:
        ws = await http.ws_connect(f"{base_url.replace('http', 'ws', 1)}/_event/?EIO=4&transport=websocket",
                                   autoping=False, max_msg_size=0, compress=15)
        opened = await ws.receive_str()
        if not opened.startswith("0"):
            raise RuntimeError(f"unexpected Engine.IO open packet {opened[:80]!r}")
        await ws.send_str(f"40{NAMESPACE},{json.dumps({'token': token})}")
        while True:
            reply = await ws.receive_str()
            if reply == "2":
                await ws.send_str("3")
                continue
            break
        if not reply.startswith(f"40{NAMESPACE},"):
            raise RuntimeError(f"namespace connect refused: {reply[:200]!r}")
        client = cls(ws, on_event)
        client._reader = asyncio.get_running_loop().create_task(client._read())
        return client

    async def call(self, event: str, data: Any) -> Any:
        """Emit with an ack id and wait (up to ACK_TIMEOUT s) for the ack's data."""
        ack_id = next(self._ack_ids)
        future = asyncio.get_running_loop().create_future()
        self._acks[ack_id] = future
        await self.ws.send_str(f"42{NAMESPACE},{ack_id}{json.dumps([event, data])}")
        return await asyncio.wait_for(future, ACK_TIMEOUT)

    async def _read(self) -> None:
        prefix_event, prefix_ack = f"42{NAMESPACE},", f"43{NAMESPACE},"
        async for frame in self.ws:
            if frame.type != aiohttp.WSMsgType.TEXT:
                break
            text = frame.data
            if text == "2":
                await self.ws.send_str("3")
            elif text.startswith(prefix_event):
                if self.on_event is not None:
                    name, data = json.loads(text[len(prefix_event):])
                    self.on_event(name, data)
            elif text.startswith(prefix_ack):
                body = text[len(prefix_ack):]
                split = body.index("[")
                future = self._acks.pop(int(body[:split]), None)
                if future is not None and not future.done():
                    future.set_result(json.loads(body[split:])[0])

    async def close(self) -> None:
        await self.ws.close()
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)


# --- py-spy on the backend's worker ----------------------------------------------------------


def start_py_spy(pgid: int, out: str, *, gil: bool, seconds: float = 600) -> subprocess.Popen:
    """py-spy (sampling, no change to the backend) on the backend's worker, its largest
    process, for `seconds` or until stop_py_spy: raw collapsed stacks in `out`. gil: only the
    samples of a thread holding the GIL, i.e. the worker's Python CPU, not its waits."""
    worker = max((pid for pid in group_members(pgid) if pid != pgid), key=rss_kb_of, default=pgid)
    py_spy = Path(sys.executable).with_name("py-spy")
    return subprocess.Popen([str(py_spy), "record", "--pid", str(worker), "--duration", str(int(seconds)),
                             "--rate", "200", "--format", "raw", "--nonblocking", *(["--gil"] if gil else []),
                             "-o", out], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_py_spy(profiler: subprocess.Popen) -> None:
    profiler.send_signal(signal.SIGINT)  # py-spy writes what it sampled, then exits
    profiler.wait(timeout=60)


def http_session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))


def new_pairs(count: int) -> list[tuple[Any, Any, str]]:
    """`count` (sender, receiver, their direct conversation id), each pair a new couple."""
    from tests.support.factories import direct_conversation, new_person

    pairs = []
    for _ in range(count):
        sender, receiver = new_person(), new_person()
        pairs.append((sender, receiver, direct_conversation(sender, receiver)["_id"]))
    return pairs


def copy_messages(cur: psycopg.Cursor, conversation_id: str, rows: list[tuple[str, int, str, str, datetime]]) -> None:
    """COPY text messages (id, seq, sender, content, sent at) into a conversation, rendered as a
    send stores them (rows stored before rendering existed are rendered when served: not what
    reading today's rows costs)."""
    from utool_chat.domain import formatting, search

    with cur.copy(
        "COPY messages (id, conversation_id, seq, sender_id, content, content_type, is_edited, is_deleted,"
        " created_at, updated_at, content_html, snippet, search_text) FROM STDIN"
    ) as copy:
        for message_id, seq, sender, content, ts in rows:
            rendered = formatting.render(content)
            copy.write_row((message_id, conversation_id, seq, sender, content, "text", False, False, ts, ts,
                            rendered.html, rendered.snippet, search.search_text(content, [])))


def with_history(url: str, conversation_ids: list[str], per_conversation: int = 1_000) -> None:
    """Give each conversation `per_conversation` older messages from its members (all read
    by everyone), then ANALYZE: the load then runs on a database in the state a running
    system's is in, with history and current planner statistics (autovacuum analyses a
    table as it grows). On tables that were never analysed the planner guesses: it read
    every message of the conversation to count a member's unread ones (an index that only
    matches the conversation), about 0.8 ms more of Postgres per send in throughput.py."""
    from utool_chat.db.models import new_id

    start = datetime.now(UTC) - timedelta(days=30)
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        for conv in conversation_ids:
            cur.execute("SELECT last_seq FROM conversations WHERE id = %s", (conv,))
            (first_seq,) = cur.fetchone() or (0,)
            cur.execute("SELECT user_id FROM conversation_members WHERE conversation_id = %s AND left_at IS NULL"
                        " ORDER BY joined_at, user_id", (conv,))
            members = [row[0] for row in cur.fetchall()]
            ids = [new_id() for _ in range(per_conversation)]
            copy_messages(cur, conv, [
                (message_id, first_seq + i + 1, members[i % len(members)],
                 f"earlier message {i + 1} " + "lorem " * (i % 20), start + timedelta(seconds=i * 20))
                for i, message_id in enumerate(ids)
            ])
            last_id, last_seq = ids[-1], first_seq + per_conversation
            cur.execute("UPDATE conversations SET last_seq = %s, last_message_id = %s WHERE id = %s",
                        (last_seq, last_id, conv))
            cur.execute("UPDATE conversation_members SET last_read_seq = %s, last_delivered_seq = %s"
                        " WHERE conversation_id = %s", (last_seq, last_seq, conv))
        conn.commit()
        cur.execute("ANALYZE")


def now() -> float:
    return time.perf_counter()
