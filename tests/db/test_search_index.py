"""The 0003 migration's search index: it fills the search text of messages that exist
already, Postgres serves LIKE from the pg_trgm index, SQLite's FTS5 table stays in step with
every INSERT, UPDATE and DELETE (even ones made outside the app), and both go down cleanly."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from tests.conftest import migrate, temporary_pg_database
from utool_chat.config import _normalise_db_url
from utool_chat.domain.search import search_text

BEFORE_SEARCH = "0002_uploads"  # the revision 0003_search follows
TRIGGERS = {"messages_fts_insert", "messages_fts_update", "messages_fts_delete"}


@pytest.fixture(params=["postgresql", "sqlite"])
def url(request, tmp_path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'search_index.db'}"
        return
    with temporary_pg_database("utool_search_index") as pg:
        yield pg


def _engine(url: str) -> sa.Engine:
    return sa.create_engine(_normalise_db_url(url))


def _seed_before_search(conn: sa.Connection) -> None:
    conn.execute(sa.text("INSERT INTO users (id, username, display_name, password_hash, created_at, updated_at)"
                         " VALUES ('u1', 'ann', 'Ann', '!', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
    conn.execute(sa.text("INSERT INTO conversations (id, type, last_seq, last_activity_at, created_at, updated_at)"
                         " VALUES ('c1', 'group', 3, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
    for seq, (mid, content, deleted) in enumerate(
            [("m1", "Réunion demain", False), ("m2", "see file", False), ("m3", "", True)], start=1):
        conn.execute(sa.text(
            "INSERT INTO messages (id, conversation_id, seq, sender_id, content, content_type, is_edited, is_deleted,"
            " created_at, updated_at) VALUES (:id, 'c1', :seq, 'u1', :content, 'text', false, :deleted,"
            " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"), {"id": mid, "seq": seq, "content": content, "deleted": deleted})
    conn.execute(sa.text("INSERT INTO attachments (id, message_id, url, mime_type, name, position, created_at)"
                         " VALUES ('a1', 'm2', '/f', 'application/pdf', 'Budget Été.pdf', 0, CURRENT_TIMESTAMP)"))


def _fts_ids(conn: sa.Connection, phrase: str) -> set[str]:
    return set(conn.execute(sa.text(
        "SELECT k.message_id FROM messages_fts_keys k WHERE k.id IN"
        " (SELECT rowid FROM messages_fts WHERE messages_fts MATCH :q)"), {"q": f'"{phrase}"'}).scalars())


def test_upgrading_fills_the_search_text_of_existing_messages(url):
    migrate(url, BEFORE_SEARCH)
    engine = _engine(url)
    try:
        with engine.begin() as conn:
            _seed_before_search(conn)
        migrate(url)
        with engine.connect() as conn:
            texts: dict[str, str] = dict(conn.execute(sa.text("SELECT id, search_text FROM messages")).tuples().all())
            assert texts == {"m1": search_text("Réunion demain"), "m2": search_text("see file", ["Budget Été.pdf"]),
                             "m3": ""}
            if url.startswith("sqlite"):
                assert _fts_ids(conn, "reunion") == {"m1"} and _fts_ids(conn, "budget ete") == {"m2"}
    finally:
        engine.dispose()


def test_postgres_serves_like_from_the_trigram_index():
    with temporary_pg_database("utool_search_index") as url:
        migrate(url)
        engine = _engine(url)
        try:
            with engine.begin() as conn:
                assert conn.execute(sa.text("SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm'")).scalar()
                conn.execute(sa.text("SET LOCAL enable_seqscan = off"))
                plan = "\n".join(conn.execute(sa.text(
                    "EXPLAIN SELECT id FROM messages WHERE search_text LIKE '%ploy%' ESCAPE '\\'")).scalars())
            assert "ix_messages_search_text_trgm" in plan, plan
        finally:
            engine.dispose()


def test_sqlite_fts_follows_every_change_to_messages(tmp_path):
    url = f"sqlite:///{tmp_path / 'fts.db'}"
    migrate(url)
    engine = _engine(url)
    try:
        with engine.begin() as conn:
            names = set(conn.execute(sa.text("SELECT name FROM sqlite_master WHERE type = 'trigger'")).scalars())
            assert names >= TRIGGERS  # a future rebuild of `messages` must recreate them
            _seed_before_search(conn)  # plain INSERTs: the triggers index them
            conn.execute(sa.text("UPDATE messages SET search_text = :t WHERE id IN ('m1', 'm2')"),
                         {"t": search_text("hello world")})
            conn.execute(sa.text("UPDATE messages SET search_text = :t WHERE id = 'm1'"),
                         {"t": search_text("changed again")})
        with engine.begin() as conn:
            assert _fts_ids(conn, "hello") == {"m2"} and _fts_ids(conn, "changed") == {"m1"}
            conn.execute(sa.text("UPDATE messages SET is_edited = true WHERE id = 'm2'"))  # text unchanged
            assert _fts_ids(conn, "hello") == {"m2"}
            conn.execute(sa.text("DELETE FROM messages WHERE id = 'm2'"))
            assert _fts_ids(conn, "hello") == set()
        with engine.begin() as conn:
            conn.execute(sa.text("PRAGMA foreign_keys = ON"))  # as the app's engine sets it
            conn.execute(sa.text("DELETE FROM conversations WHERE id = 'c1'"))  # cascades to its messages
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM messages_fts_keys")).scalar() == 0
            assert _fts_ids(conn, "changed") == set()
            conn.execute(sa.text("INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 0)"))
    finally:
        engine.dispose()


def test_downgrading_removes_the_index_and_restores_what_was_before(url):
    migrate(url)
    migrate(url, BEFORE_SEARCH, down=True)
    engine = _engine(url)
    try:
        inspector = sa.inspect(engine)
        assert "search_text" not in {c["name"] for c in inspector.get_columns("messages")}
        assert not {t for t in inspector.get_table_names() if t.startswith("messages_fts")}
        if url.startswith("postgresql"):
            assert {i["name"] for i in inspector.get_indexes("messages")} >= {"ix_messages_content_fts"}
            with engine.connect() as conn:
                assert not conn.execute(sa.text("SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm'")).scalar()
        else:
            with engine.connect() as conn:
                triggers = set(conn.execute(sa.text("SELECT name FROM sqlite_master WHERE type = 'trigger'")).scalars())
            assert not triggers & TRIGGERS
    finally:
        engine.dispose()
    migrate(url)  # and up again
