"""message search: messages.search_text with a pg_trgm index (Postgres) or an FTS5 trigram table (SQLite)

The text is computed in Python (utool_chat/domain/search.py: search_text), so the upgrade
fills it for the messages that exist already. Postgres: a GIN trigram index over it (the
extension is created here), replacing 0001's to_tsvector index that nothing used. SQLite:
`messages_fts`, a contentless FTS5 table with the trigram tokenizer, kept in step with
messages.search_text by triggers. Its rowids come from `messages_fts_keys` (INTEGER PRIMARY
KEY per message id), not from messages' own rowid, which VACUUM or a table rebuild may
renumber. SQLite's FTS5 here (3.40) has no remove_diacritics option for trigram: folding is
done in Python before the text is stored, so it is not needed.

Revision ID: 0003_search
Revises: 0002_uploads
Create Date: 2026-12-01
"""
from collections import defaultdict

import sqlalchemy as sa

from alembic import op

revision = "0003_search"
down_revision = "0002_uploads"
branch_labels = None
depends_on = None

BATCH = 1000

SQLITE_TRIGGERS = {
    "messages_fts_insert": """
        CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
            INSERT INTO messages_fts_keys (message_id) VALUES (new.id);
            INSERT INTO messages_fts (rowid, search_text)
                VALUES ((SELECT id FROM messages_fts_keys WHERE message_id = new.id), new.search_text);
        END""",
    "messages_fts_update": """
        CREATE TRIGGER messages_fts_update AFTER UPDATE OF search_text ON messages
        WHEN old.search_text IS NOT new.search_text BEGIN
            INSERT INTO messages_fts (messages_fts, rowid, search_text)
                VALUES ('delete', (SELECT id FROM messages_fts_keys WHERE message_id = old.id), old.search_text);
            INSERT INTO messages_fts (rowid, search_text)
                VALUES ((SELECT id FROM messages_fts_keys WHERE message_id = new.id), new.search_text);
        END""",
    "messages_fts_delete": """
        CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
            INSERT INTO messages_fts (messages_fts, rowid, search_text)
                VALUES ('delete', (SELECT id FROM messages_fts_keys WHERE message_id = old.id), old.search_text);
            DELETE FROM messages_fts_keys WHERE message_id = old.id;
        END""",
}


def _backfill(conn: sa.Connection) -> None:
    from utool_chat.domain.search import search_text

    messages = sa.table("messages", sa.column("id"), sa.column("content"), sa.column("is_deleted"),
                        sa.column("search_text"))
    attachments = sa.table("attachments", sa.column("message_id"), sa.column("name"), sa.column("position"))
    last = ""
    while True:
        rows = conn.execute(
            sa.select(messages.c.id, messages.c.content)
            .where(messages.c.is_deleted.is_(False), messages.c.id > last)
            .order_by(messages.c.id).limit(BATCH)
        ).all()
        if not rows:
            return
        names: dict[str, list[str]] = defaultdict(list)
        for message_id, name in conn.execute(
            sa.select(attachments.c.message_id, attachments.c.name)
            .where(attachments.c.message_id.in_([r.id for r in rows]))
            .order_by(attachments.c.message_id, attachments.c.position)
        ):
            names[message_id].append(name)
        conn.execute(
            sa.update(messages).where(messages.c.id == sa.bindparam("mid")).values(search_text=sa.bindparam("text")),
            [{"mid": r.id, "text": search_text(r.content, names.get(r.id, []))} for r in rows],
        )
        last = rows[-1].id


def upgrade() -> None:
    conn = op.get_bind()
    op.add_column("messages", sa.Column("search_text", sa.Text(), nullable=False, server_default=""))
    _backfill(conn)
    if conn.dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute("DROP INDEX IF EXISTS ix_messages_content_fts")
        op.execute("CREATE INDEX ix_messages_search_text_trgm ON messages USING gin (search_text gin_trgm_ops)")
        # LIKE '%word%' estimates come from the column's statistics: a finer histogram lets
        # the planner tell a rare word (index first) from a common one.
        op.execute("ALTER TABLE messages ALTER COLUMN search_text SET STATISTICS 1000")
    elif conn.dialect.name == "sqlite":
        op.execute("CREATE TABLE messages_fts_keys (id INTEGER PRIMARY KEY, message_id VARCHAR(32) NOT NULL UNIQUE)")
        op.execute("CREATE VIRTUAL TABLE messages_fts USING fts5(search_text, content='', "
                   "tokenize='trigram case_sensitive 1')")
        op.execute("INSERT INTO messages_fts_keys (message_id) SELECT id FROM messages ORDER BY created_at, id")
        op.execute("INSERT INTO messages_fts (rowid, search_text) SELECT k.id, m.search_text "
                   "FROM messages_fts_keys k JOIN messages m ON m.id = k.message_id")
        for ddl in SQLITE_TRIGGERS.values():
            op.execute(ddl)


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_messages_search_text_trgm")
        op.drop_column("messages", "search_text")
        op.execute("CREATE INDEX ix_messages_content_fts ON messages USING gin (to_tsvector('simple', content))")
        # Leave the extension if something else in the database has come to use it.
        try:
            with conn.begin_nested():
                op.execute("DROP EXTENSION IF EXISTS pg_trgm")
        except sa.exc.DBAPIError:
            pass
    elif conn.dialect.name == "sqlite":
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS messages_fts")
        op.execute("DROP TABLE IF EXISTS messages_fts_keys")
        # Native DROP COLUMN (SQLite 3.35+): no table rebuild, which would cascade deletes
        # through the foreign keys of reactions and attachments.
        op.execute("ALTER TABLE messages DROP COLUMN search_text")
