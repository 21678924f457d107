"""Postgres from the event loop, for what a socket or a request waits on most: sending a
message and authenticating.

Every other domain call runs synchronous SQLAlchemy in a worker thread (asyncio.to_thread,
run_in_threadpool). For the send that hand-off (a worker woken, the GIL passed to it and
back, the loop woken again) cost about as much CPU as the send's own work, and latency
(bench/throughput.py). Here asyncpg runs those statements on the loop itself, each its own
transaction (no BEGIN: asyncpg runs a statement outside a transaction unless asked).
asyncpg, not psycopg's AsyncConnection: psycopg's wire protocol and its wait loop are Python
(generators stepped per round trip; a third of the worker's CPU under the send benchmark),
asyncpg's is compiled. The statements are the domain's own, compiled once from their
SQLAlchemy form by `compiled` (so no rule is written twice), and asyncpg prepares each once
per connection (its statement cache).

The connections are kept per event loop (a connection belongs to the loop that opened it): up
to MAX_CONNECTIONS in use, the idle ones reused. Not a pool with workers (psycopg_pool's, or
asyncpg's own): psycopg_pool's maintenance workers swallow a cancellation that lands while
they reconnect, so a loop shutting down while the database is away (a test's dropped
database, a stopped server) never finishes. Here nothing runs in the background: a
connection is opened when none is idle, and dropped (terminated, no round trip) when it broke
or a call on it did not end cleanly. A loop's connections end with the loop (when it shuts
down its async generators: _close_at_loop_shutdown).

Like db.engine.session_scope, a database that cannot be reached (refused, lost, shutting
down, every connection busy for POOL_TIMEOUT_SECONDS) raises domain Unavailable (503 with
Retry-After in every door) and is reported to utool_chat.health; constraint violations
(IntegrityError) and bad statements pass through.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, NamedTuple

import asyncpg
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Engine
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from utool_chat.db.engine import database_answered, database_unavailable, get_engine

MAX_CONNECTIONS = 10
POOL_TIMEOUT_SECONDS = 5.0  # as the synchronous engine's pool_timeout
CONNECT_TIMEOUT_SECONDS = 3
_DIALECT = postgresql.asyncpg.dialect()  # $n placeholders, in the order of Statement.names

# A constraint the statement broke (the database answered): for the caller to handle.
IntegrityError = asyncpg.IntegrityConstraintViolationError

# Errors with which the server says it cannot serve now (as psycopg's OperationalError): the
# connection lost or refused, out of resources (too many connections), shutting down or
# starting up (operator intervention), a system error.
_CANNOT_SERVE: tuple[type[BaseException], ...] = (
    OSError, asyncpg.PostgresConnectionError, asyncpg.InsufficientResourcesError,
    asyncpg.OperatorInterventionError, asyncpg.PostgresSystemError,
)


class Statement(NamedTuple):
    """A SQLAlchemy statement as asyncpg runs it: its text with $n placeholders and the names
    of the parameters those numbers stand for (a name used twice has one number)."""

    sql: str
    names: tuple[str, ...]

    def args(self, params: Mapping[str, Any]) -> list[Any]:
        return [params[name] for name in self.names]


def compiled(statement: ClauseElement) -> Statement:
    """`statement` compiled once for Connection (module load, not per call)."""
    out = statement.compile(dialect=_DIALECT)
    assert isinstance(out, SQLCompiler)  # a statement, not DDL
    return Statement(str(out), tuple(out.positiontup or ()))


class Connection:
    """An asyncpg connection that runs Statements with named parameters, as SQLAlchemy does.
    Rows are asyncpg Records: indexed and unpacked like tuples; json comes back decoded."""

    __slots__ = ("raw",)

    def __init__(self, raw: asyncpg.Connection) -> None:
        self.raw = raw

    async def fetch(self, statement: Statement, params: Mapping[str, Any]) -> list[asyncpg.Record]:
        return await self.raw.fetch(statement.sql, *statement.args(params))

    async def fetchrow(self, statement: Statement, params: Mapping[str, Any]) -> asyncpg.Record | None:
        return await self.raw.fetchrow(statement.sql, *statement.args(params))


async def _opened(dsn: str) -> Connection:
    raw = await asyncpg.connect(dsn, timeout=CONNECT_TIMEOUT_SECONDS)
    # json as psycopg (and the synchronous engine) gives it: decoded, not text.
    await raw.set_type_codec("json", schema="pg_catalog", encoder=json.dumps, decoder=json.loads)
    return Connection(raw)


class _LoopConnections:
    """The connections of one event loop to the database of one engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self.idle: list[Connection] = []
        self.slots = asyncio.Semaphore(MAX_CONNECTIONS)

    async def take(self) -> Connection:
        while self.idle:
            conn = self.idle.pop()
            if not conn.raw.is_closed():
                return conn
        try:
            return await _opened(self.dsn)
        except Exception as exc:  # refused, timed out, no such database, rejected: all "not now"
            raise database_unavailable(exc) from None

    def give_back(self, conn: Connection, clean: bool) -> None:
        """Keep `conn` for the next call if the call on it ended cleanly (with an answer, or
        an error that is not an outage); otherwise (cancelled mid-statement, lost) terminate
        it: its protocol state is uncertain, and terminating also ends the cancel request
        asyncpg starts for a cancelled statement, so nothing is left running."""
        if clean and not conn.raw.is_closed() and not conn.raw.is_in_transaction():
            self.idle.append(conn)
        else:
            conn.raw.terminate()

    def drop_idle(self) -> None:
        """Close the idle connections (the loop is ending, or the process no longer uses
        their database). On a loop that is already closed a connection cannot be terminated
        (that needs the loop); its socket is then closed by the collector."""
        while self.idle:
            conn = self.idle.pop()
            try:
                conn.raw.terminate()
            except RuntimeError:  # "Event loop is closed"
                pass


# Keyed by loop, and not weakly: an asyncpg connection refers to its loop, so a weak key
# would be kept alive by its own value. An entry goes when its loop shuts down
# (_close_at_loop_shutdown) or, for a loop closed without shutting down its async generators,
# at the next lookup (_forget_closed_loops).
_by_loop: dict[asyncio.AbstractEventLoop, _LoopConnections] = {}


async def _close_at_loop_shutdown(loop: asyncio.AbstractEventLoop) -> AsyncGenerator[None, None]:
    """Parked at its yield for the loop's life. Every way a loop is run and ended here
    (asyncio.run and Runner: uvicorn, anyio's portals under Starlette's TestClient,
    pytest-asyncio) calls loop.shutdown_asyncgens() before closing it, which closes this
    generator while the loop still runs: its connections are terminated then. Without it a
    finished loop's connections would stay open on the server until this process exits (a
    test run's hundreds of loops exhausted Postgres's max_connections)."""
    try:
        yield
    finally:
        _shutdown_watchers.pop(loop, None)
        pool = _by_loop.pop(loop, None)
        if pool is not None:
            pool.drop_idle()


def _watch_loop_shutdown(loop: asyncio.AbstractEventLoop) -> None:
    gen = _close_at_loop_shutdown(loop)
    _shutdown_watchers[loop] = gen  # alive until the loop shuts it down (the loop holds it weakly)
    step = gen.asend(None)  # first iteration: the running loop's firstiter hook registers gen
    try:
        step.send(None)  # runs to the yield, which awaits nothing
    except StopIteration:
        pass


_shutdown_watchers: dict[asyncio.AbstractEventLoop, AsyncGenerator[None, None]] = {}


def _forget_closed_loops() -> None:
    for loop in [lp for lp in _by_loop if lp.is_closed()]:
        _by_loop.pop(loop).drop_idle()
        _shutdown_watchers.pop(loop, None)


def _connections() -> _LoopConnections:
    loop, engine = asyncio.get_running_loop(), get_engine()
    found = _by_loop.get(loop)
    if found is None or found.engine is not engine:  # db.engine.init_engine pointed us elsewhere
        if found is not None:
            found.drop_idle()
        else:
            _forget_closed_loops()
            _watch_loop_shutdown(loop)
        found = _by_loop[loop] = _LoopConnections(engine)
    return found


def _is_unreachable(exc: Exception, conn: Connection) -> bool:
    """Whether `exc`, raised by a call on `conn`, means the database cannot be reached: the
    server said it cannot serve, or the connection is gone (whatever asyncpg raised then)."""
    return isinstance(exc, _CANNOT_SERVE) or (not isinstance(exc, asyncpg.PostgresError) and conn.raw.is_closed())


@asynccontextmanager
async def connection() -> AsyncIterator[Connection]:
    """A connection of this loop, each statement its own transaction; Unavailable if the
    database cannot be reached."""
    pool = _connections()
    if pool.slots.locked():  # wait_for costs a task and a timer: only for a wait there will be
        try:
            await asyncio.wait_for(pool.slots.acquire(), POOL_TIMEOUT_SECONDS)
        except TimeoutError as exc:
            raise database_unavailable(exc) from None
    else:
        await pool.slots.acquire()  # free: returns at once
    try:
        conn = await pool.take()
        clean = False  # stays so for a cancellation (BaseException) that lands mid-statement
        try:
            yield conn
            clean = True
        except Exception as exc:
            if _is_unreachable(exc, conn):
                raise database_unavailable(exc) from None
            clean = True  # an answer the caller did not like (a constraint, not found): the connection is fine
            raise
        finally:
            pool.give_back(conn, clean)
    finally:
        pool.slots.release()
    database_answered()
