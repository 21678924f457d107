"""The Alembic migrations build the whole schema and take it down again, on Postgres and on
SQLite, and they match the SQLModel models exactly (no model change without a migration)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from tests.conftest import migrate, temporary_pg_database
from utool_chat.config import _normalise_db_url
from utool_chat.db import models  # noqa: F401

EXPECTED_TABLES = {
    "users", "auth_sessions", "friend_requests", "friendships", "conversations",
    "conversation_members", "messages", "reactions", "attachments", "read_receipts", "message_mentions",
}
# SQLite's message search index (0003): an FTS5 table with its shadow tables, and its rowid map.
SQLITE_SEARCH_TABLES = {"messages_fts", "messages_fts_config", "messages_fts_data", "messages_fts_docsize",
                        "messages_fts_idx", "messages_fts_keys"}
# Created by the migrations for one dialect only and deliberately not part of the models: the
# search indexes (0001's unused full-text index, 0003's pg_trgm index and SQLite FTS tables).
NOT_MODELLED = ("ix_messages_content_fts", "ix_messages_search_text_trgm", "messages_fts")


def _tables(url: str) -> set[str]:
    engine = sa.create_engine(_normalise_db_url(url))
    try:
        return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def _schema_drift(url: str) -> list:
    engine = sa.create_engine(_normalise_db_url(url))
    try:
        with engine.connect() as conn:
            diffs = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    finally:
        engine.dispose()
    return [d for d in diffs if not any(name in repr(d) for name in NOT_MODELLED)]


def _round_trip(url: str) -> None:
    expected = EXPECTED_TABLES | (SQLITE_SEARCH_TABLES if url.startswith("sqlite") else set())
    migrate(url)
    assert _tables(url) == expected
    assert _schema_drift(url) == []
    migrate(url, "base", down=True)
    assert _tables(url) == set()
    migrate(url)  # and up again: downgrade left nothing behind that blocks a re-upgrade
    assert _tables(url) == expected


def test_migrations_round_trip_on_empty_postgres() -> None:
    with temporary_pg_database("utool_migration") as url:
        _round_trip(url)


def test_migrations_round_trip_on_sqlite(tmp_path) -> None:
    _round_trip(f"sqlite:///{tmp_path / 'migrate.db'}")


def test_postgres_enforces_one_direct_conversation_per_pair() -> None:
    with temporary_pg_database("utool_migration") as url:
        migrate(url)
        engine = sa.create_engine(_normalise_db_url(url))
        try:
            insert = sa.text(
                "INSERT INTO conversations (id, type, direct_key, last_seq, last_activity_at, created_at, updated_at)"
                " VALUES (:id, 'direct', 'a:b', 0, now(), now(), now())"
            )
            with engine.begin() as conn:
                conn.execute(insert, {"id": "c1"})
            try:
                with engine.begin() as conn:
                    conn.execute(insert, {"id": "c2"})
                raise AssertionError("a second direct conversation for the same pair was stored")
            except sa.exc.IntegrityError:
                pass
        finally:
            engine.dispose()
