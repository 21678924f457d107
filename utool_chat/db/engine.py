"""Engine and sessions. One engine per process, created lazily from settings.database_url.

Domain code opens a session with `session_scope()`; tests call `init_engine(url)` to point
the process at their own database.

A database that cannot be reached (refused or dropped connection, server shutting down) is
not a bug: session_scope turns it into domain Unavailable (503 `unavailable` with
Retry-After in every door) and reports it to utool_chat.health, which logs one line when the
outage starts and one when it ends; no traceback per request.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session

from utool_chat import config, health
from utool_chat.domain.errors import Unavailable

_engine: Engine | None = None

# A pooled Postgres connection is pinged before use only after it sat idle this long. A ping
# on every checkout (pool_pre_ping) is a round trip per domain call: under load, where the
# same connections come back within milliseconds, that was one statement in six of a send.
# A connection that died while in steady use still fails at most one call: SQLAlchemy then
# invalidates the whole pool, and is_unreachable turns that call into a 503.
PING_IF_IDLE_SECONDS = 1.0


def _make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        eng = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(eng, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            # WAL lets readers run beside the single writer; foreign keys are off by default.
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return eng
    # pool_timeout: with every connection busy (or a dead server hanging new ones) a request
    # gives up after a few seconds with 503 instead of queueing for half a minute.
    eng = sa.create_engine(url, pool_size=20, max_overflow=20, pool_timeout=5, connect_args={"connect_timeout": 3})
    _ping_when_idle(eng)
    return eng


def _ping_when_idle(eng: Engine) -> None:
    """pool_pre_ping, but only for connections idle over PING_IF_IDLE_SECONDS."""

    @event.listens_for(eng, "connect")
    def _fresh(_dbapi_conn, record):
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(eng, "checkin")
    def _returned(_dbapi_conn, record):
        if record is not None:  # None once the connection was invalidated
            record.info["idle_since"] = time.monotonic()

    @event.listens_for(eng, "checkout")
    def _checked_out(dbapi_conn, record, _proxy):
        if time.monotonic() - record.info.get("idle_since", 0.0) <= PING_IF_IDLE_SECONDS:
            return
        try:
            alive = eng.dialect.do_ping(dbapi_conn)
        except Exception:
            alive = False
        if not alive:
            # The pool discards this connection and checks out (or opens) another.
            raise sa.exc.DisconnectionError("the pooled connection did not answer a ping")


def init_engine(url: str | None = None) -> Engine:
    """(Re)create the process-wide engine, for `url` or the configured DATABASE_URL."""
    global _engine
    if _engine is not None:
        _engine.dispose()
    _engine = _make_engine(config._normalise_db_url(url) if url else config.settings.database_url)
    return _engine


def get_engine() -> Engine:
    if _engine is None:
        init_engine()
    assert _engine is not None
    return _engine


def is_unreachable(exc: BaseException) -> bool:
    """Whether `exc` says the database cannot be reached (as opposed to a bad statement or a
    constraint): a connection refused or lost, the pool exhausted, the server shutting down."""
    if isinstance(exc, sa.exc.TimeoutError):  # no pooled connection became free in time
        return True
    if isinstance(exc, sa.exc.DBAPIError):
        if exc.connection_invalidated:
            return True
        if isinstance(exc, (sa.exc.OperationalError, sa.exc.InterfaceError)):
            # SQLite reports a busy file as OperationalError too: that one is contention, and
            # its 30 s busy_timeout has already been waited; still "retry later".
            return True
    return False


@contextmanager
def session_scope() -> Iterator[Session]:
    """A session whose transaction commits on success and rolls back on error. A database
    that cannot be reached raises Unavailable (see the module docstring)."""
    try:
        with Session(get_engine(), expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                try:
                    session.rollback()
                except Exception as rollback_exc:  # the connection is gone: nothing to roll back
                    if not is_unreachable(rollback_exc):
                        raise
                raise
    except Exception as exc:
        if not is_unreachable(exc):
            raise
        raise database_unavailable(exc) from None
    database_answered()


def database_unavailable(exc: BaseException) -> Unavailable:
    """What a call that could not reach the database raises (the outage is reported once)."""
    health.report_down(health.DATABASE, exc)
    return Unavailable("The database is unavailable right now; try again shortly.", retry_after=health.retry_after())


def database_answered() -> None:
    if health.is_down(health.DATABASE):
        health.report_up(health.DATABASE)


def is_postgres() -> bool:
    return get_engine().dialect.name == "postgresql"


@contextmanager
def autocommit_scope() -> Iterator[Session]:
    """session_scope whose statements, on Postgres, each commit by themselves: no BEGIN and
    COMMIT round trips. For reads (read_scope) and for a change made in ONE statement, which
    is atomic on its own. Events queued with publish_on_commit go out when the scope ends
    without an error, as with session_scope."""
    with session_scope() as session:
        if is_postgres():
            session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        yield session


@contextmanager
def read_scope() -> Iterator[Session]:
    """A session that only reads (autocommit_scope): under READ COMMITTED (the default here)
    each statement of a transaction sees its own snapshot anyway, so a read gives the same
    answer without the BEGIN and COMMIT round trips."""
    with autocommit_scope() as session:
        yield session
