"""Postgres from the event loop, for what a socket or a request waits on most: sending a
message and authenticating.

Every other domain call runs synchronous SQLAlchemy in a worker thread (asyncio.to_thread,
run_in_threadpool). For the send that hand-off (a worker woken, the GIL passed to it and
back, the loop woken again) cost about as much CPU as the send's own work, and latency
(bench/throughput.py). Here psycopg's AsyncConnection runs those statements in autocommit on
the loop itself. The statements are the domain's own (compiled once from their SQLAlchemy
form by `compiled`), so no rule is written twice.

The connections are kept per event loop (a connection belongs to the loop that opened it): up
to MAX_CONNECTIONS in use, the idle ones reused. Not psycopg_pool: its maintenance workers
swallow a cancellation that lands while they reconnect, so a loop shutting down while the
database is away (a test's dropped database, a stopped server) never finishes. Here nothing
runs in the background: a connection is opened when none is idle, and dropped when it broke.

Like db.engine.session_scope, a database that cannot be reached (refused, lost, every
connection busy for POOL_TIMEOUT_SECONDS) raises domain Unavailable (503 with Retry-After in
every door) and is reported to utool_chat.health; constraint violations and bad statements
pass through.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Engine
from sqlalchemy.sql import ClauseElement

from utool_chat.db.engine import database_answered, database_unavailable, get_engine

MAX_CONNECTIONS = 10
POOL_TIMEOUT_SECONDS = 5.0  # as the synchronous engine's pool_timeout
CONNECT_TIMEOUT_SECONDS = 3
_DIALECT = postgresql.psycopg.dialect()


def compiled(statement: ClauseElement) -> str:
    """A SQLAlchemy statement as psycopg's SQL text (named %(param)s placeholders)."""
    return str(statement.compile(dialect=_DIALECT))


class _LoopConnections:
    """The connections of one event loop to the database of one engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.conninfo = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self.idle: list[psycopg.AsyncConnection[Any]] = []
        self.slots = asyncio.Semaphore(MAX_CONNECTIONS)

    async def take(self) -> psycopg.AsyncConnection[Any]:
        while self.idle:
            conn = self.idle.pop()
            if not conn.closed:
                return conn
        return await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True,
                                                     connect_timeout=CONNECT_TIMEOUT_SECONDS)

    async def give_back(self, conn: psycopg.AsyncConnection[Any]) -> None:
        if not conn.closed and conn.info.transaction_status == TransactionStatus.IDLE:
            self.idle.append(conn)
        else:  # broken (or mid-transaction after an error): never reused
            await conn.close()


_by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopConnections] = weakref.WeakKeyDictionary()


def _connections() -> _LoopConnections:
    loop, engine = asyncio.get_running_loop(), get_engine()
    found = _by_loop.get(loop)
    if found is None or found.engine is not engine:  # db.engine.init_engine pointed us elsewhere
        found = _by_loop[loop] = _LoopConnections(engine)
    return found


@asynccontextmanager
async def connection() -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """An autocommit connection of this loop; Unavailable if the database cannot be reached."""
    pool = _connections()
    try:
        await asyncio.wait_for(pool.slots.acquire(), POOL_TIMEOUT_SECONDS)
    except TimeoutError as exc:
        raise database_unavailable(exc) from None
    conn = None
    try:
        conn = await pool.take()
        yield conn
    except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
        raise database_unavailable(exc) from None
    finally:
        if conn is not None:
            await pool.give_back(conn)
        pool.slots.release()
    database_answered()
