"""Test fixtures shared by every layer.

Integration tests run against a real PostgreSQL database that this session creates (a
unique name on 127.0.0.1:5432, or TEST_PG_ADMIN_URL) and drops at the end. Nothing is mocked.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
import sqlalchemy as sa
from alembic.config import Config

from alembic import command
from tests.support.events import tap_bus
from utool_chat.events import Event

# clamd, SeaweedFS and upload settings for the file tests (tests/files_support.py)
pytest_plugins = ["tests.files_support"]

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def alembic_config(url: str) -> Config:
    cfg = Config(os.path.join(ROOT, "alembic.ini"))
    cfg.set_main_option("script_location", os.path.join(ROOT, "alembic"))
    cfg.cmd_opts = None
    return cfg


def migrate(url: str, revision: str = "head", down: bool = False) -> None:
    from utool_chat.config import _normalise_db_url

    engine = sa.create_engine(_normalise_db_url(url))
    try:
        with engine.begin() as conn:
            cfg = alembic_config(url)
            cfg.attributes["connection"] = conn
            if down:
                command.downgrade(cfg, revision)
            else:
                command.upgrade(cfg, revision)
    finally:
        engine.dispose()


@contextmanager
def temporary_pg_database(prefix: str = "utool_test") -> Iterator[str]:
    """Create an empty Postgres database, yield its URL, drop it afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A migrated Postgres database for this test session; the process engine points at it."""
    from utool_chat.db import engine as db_engine

    with temporary_pg_database() as url:
        migrate(url)
        os.environ["DATABASE_URL"] = url
        from utool_chat import config

        config.reload_settings()
        db_engine.init_engine(url)
        yield url
        db_engine.get_engine().dispose()


TABLES = [
    "message_mentions", "read_receipts", "reactions", "attachments", "messages", "conversation_members",
    "conversations", "friendships", "friend_requests", "auth_sessions", "users",
]


@pytest.fixture()
def db(pg_url: str) -> Iterator[str]:
    """An empty database, fresh rate-limit counters and no typing states for each test
    (TRUNCATE is much faster than re-migrating; a typing state left by an earlier test
    would otherwise expire, and query, in the middle of this one)."""
    from utool_chat import health
    from utool_chat.db.engine import get_engine
    from utool_chat.domain import ratelimit
    from utool_chat.domain.typing import registry

    ratelimit.reset()
    registry.clear()
    health.reset()  # an outage a fault test simulated is over

    with get_engine().begin() as conn:
        conn.execute(sa.text("TRUNCATE " + ", ".join(TABLES) + " RESTART IDENTITY CASCADE"))
    yield pg_url


class QueryCounter:
    def __init__(self) -> None:
        self.statements: list[str] = []

    @property
    def count(self) -> int:
        return len(self.statements)


@contextmanager
def count_queries() -> Iterator[QueryCounter]:
    """Counts SQL statements sent by this process's engine (pins hot-path query counts)."""
    from utool_chat.db.engine import get_engine

    counter = QueryCounter()
    engine = get_engine()

    def _before(conn, cursor, statement, parameters, context, executemany):
        counter.statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", _before)
    try:
        yield counter
    finally:
        sa.event.remove(engine, "before_cursor_execute", _before)


@pytest.fixture()
def events(monkeypatch: pytest.MonkeyPatch) -> list[Event]:
    """Every event this process's bus is handed during the test, in order, decoded from
    its JSON as subscribers get it (tests.support.events.tap_bus)."""
    return tap_bus(monkeypatch.setattr)


@pytest.fixture()
def api_client(db: str):
    """An HTTP client for the FastAPI app (real Postgres behind it)."""
    from fastapi.testclient import TestClient

    from utool_chat.api.app import api

    with TestClient(api) as client:
        yield client


@pytest.fixture()
def register(api_client):
    """register(username) -> (user, token, headers) through the real HTTP API."""

    def _register(username: str, password: str = "correct horse", display_name: str | None = None):
        body = {"username": username, "password": password}
        if display_name:
            body["displayName"] = display_name
        r = api_client.post("/api/v1/auth/register", json=body)
        assert r.status_code == 201, r.text
        data = r.json()["data"]
        return data["user"], data["token"], {"Authorization": f"Bearer {data['token']}"}

    return _register


def pytest_collection_modifyitems(config, items):
    """Run the browser tests last. Playwright's sync API keeps an event loop running in the
    main thread for the rest of the session, and pytest-asyncio cannot start its own loop
    next to it; with the browser tests at the end, every async test has run before."""
    def is_browser(item) -> bool:
        return item.get_closest_marker("browser") is not None or "browser" in item.path.parts

    items.sort(key=is_browser)
