"""Postgres from the event loop, for the one path a socket waits on most: sending a message.

Every other domain call runs synchronous SQLAlchemy in a worker thread (asyncio.to_thread,
run_in_threadpool). For the send that hand-off (a worker woken, the GIL passed to it and
back, the loop woken again) cost about as much CPU as the send's own work, and its latency
(bench/throughput.py). Here psycopg's AsyncConnectionPool, one per event loop, runs the
send's statements in autocommit on the loop itself. The statements are the domain's own
(compiled once from their SQLAlchemy form by `compiled`), so no rule is written twice.

Like db.engine.session_scope, a database that cannot be reached (refused, lost, every pooled
connection busy for 5 s) raises domain Unavailable (503 with Retry-After in every door) and is
reported to utool_chat.health; constraint violations and bad statements pass through.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Engine
from sqlalchemy.sql import ClauseElement

from utool_chat.db.engine import database_answered, database_unavailable, get_engine

MAX_CONNECTIONS = 10
POOL_TIMEOUT_SECONDS = 5.0  # as the synchronous engine's pool_timeout
_DIALECT = postgresql.psycopg.dialect()

# Per event loop (a pool's connections belong to the loop that opened them), and rebuilt
# when the process is pointed at another database (db.engine.init_engine).
_pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[Engine, AsyncConnectionPool]] = (
    weakref.WeakKeyDictionary()
)


def compiled(statement: ClauseElement) -> str:
    """A SQLAlchemy statement as psycopg's SQL text (named %(param)s placeholders)."""
    return str(statement.compile(dialect=_DIALECT))


async def _pool() -> AsyncConnectionPool:
    loop = asyncio.get_running_loop()
    engine = get_engine()
    found = _pools.get(loop)
    if found is not None and found[0] is engine:
        return found[1]
    if found is not None:
        await found[1].close()
    conninfo = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    pool = AsyncConnectionPool(conninfo, min_size=1, max_size=MAX_CONNECTIONS, timeout=POOL_TIMEOUT_SECONDS,
                               kwargs={"autocommit": True, "connect_timeout": 3}, open=False)
    _pools[loop] = (engine, pool)
    await pool.open(wait=False)  # connects in the background: a database that is down is a 503 below
    return pool


@asynccontextmanager
async def connection() -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """A pooled autocommit connection; Unavailable if the database cannot be reached."""
    try:
        async with (await _pool()).connection() as conn:
            yield conn
    except (psycopg.OperationalError, psycopg.InterfaceError, PoolTimeout) as exc:
        raise database_unavailable(exc) from None
    database_answered()
