"""Fixtures of the fault tests: a Redis and a PostgreSQL of their own (tests/faults/services.py),
never the shared servers, so a test may kill, freeze or stop them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import migrate
from tests.faults.services import ThrowawayPostgres, ThrowawayRedis


@pytest.fixture()
def fault_redis() -> Iterator[ThrowawayRedis]:
    redis = ThrowawayRedis().start()
    try:
        yield redis
    finally:
        redis.close()


@pytest.fixture(scope="session")
def fault_pg() -> Iterator[ThrowawayPostgres]:
    pg = ThrowawayPostgres().init()
    try:
        yield pg
    finally:
        pg.close()


@pytest.fixture()
def fault_db(fault_pg: ThrowawayPostgres) -> Iterator[str]:
    """A freshly migrated database on the throwaway server (its URL); the server is started
    again afterwards if the test stopped it."""
    import uuid

    url = fault_pg.create_database(f"faults_{uuid.uuid4().hex[:8]}")
    migrate(url)
    yield url
    try:
        fault_pg.start()
    except Exception:
        pass  # already running


@pytest.fixture()
def fault_engine(fault_db: str) -> Iterator[str]:
    """This test process's engine on the fault database (tests.support.factories then make
    users and conversations there); the previous engine is back afterwards."""
    from utool_chat.db import engine as db_engine

    previous = db_engine.get_engine().url.render_as_string(hide_password=False)
    db_engine.init_engine(fault_db)
    try:
        yield fault_db
    finally:
        db_engine.init_engine(previous)
