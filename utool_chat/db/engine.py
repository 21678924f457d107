"""Engine and sessions. One engine per process, created lazily from settings.database_url.

Domain code opens a session with `session_scope()`; tests call `init_engine(url)` to point
the process at their own database.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session

from utool_chat import config

_engine: Engine | None = None


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
    return sa.create_engine(url, pool_size=20, max_overflow=20, pool_pre_ping=True)


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


@contextmanager
def session_scope() -> Iterator[Session]:
    """A session whose transaction commits on success and rolls back on error."""
    with Session(get_engine(), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


@contextmanager
def read_scope() -> Iterator[Session]:
    """A session that only reads. On Postgres its statements run in autocommit: under READ
    COMMITTED (the default here) each statement of a transaction sees its own snapshot anyway,
    so a read gives the same answer without the BEGIN and COMMIT round trips."""
    with session_scope() as session:
        if session.get_bind().dialect.name == "postgresql":
            session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        yield session

