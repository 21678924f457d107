"""On Postgres a history page is one statement (domain/history.py); the ORM steps that SQLite
runs serve the same history. Both paths answer each request here, for every viewer, and must
agree to the byte: every field of every message, and the meta."""

from __future__ import annotations

import io
import json

import pytest

from tests import media_samples as samples
from tests.support.factories import bulk_messages, direct_conversation, group_conversation, make_user
from utool_chat.domain import conversations as convs
from utool_chat.domain import history as history_sql
from utool_chat.domain import messages, reactions, settings, uploads
from utool_chat.domain.errors import NotFound, ValidationFailed


def _both_ways(monkeypatch, call):
    """(one statement, ORM steps): `call()` answered by each path."""
    fast = call()
    with monkeypatch.context() as patch:
        patch.setattr(messages, "_in_one_statement", lambda session: False)
        steps = call()
    return fast, steps


def _same(monkeypatch, call):
    fast, steps = _both_ways(monkeypatch, call)
    # json.dumps: the bytes a door sends (key order included)
    assert json.dumps(fast) == json.dumps(steps)
    return fast


@pytest.fixture()
def history(db, upload_settings):
    """A group whose history has everything a page shows: a notice, uploads and links,
    replies (one to a message deleted since), edits, mentions, reactions of several people,
    reads by several people (one with read receipts turned off since, one who left)."""
    ann, bob, cat, dan = (make_user(name)["_id"] for name in ("ann", "bob", "cat", "dan"))
    conversation = group_conversation(ann, [bob, cat, dan])["_id"]
    ids = bulk_messages(conversation, bob, 30)
    photo = uploads.store_upload(ann, "photo.jpg", io.BytesIO(samples.jpeg_with_gps()))
    with_files, _ = messages.send_message(ann, conversation, "files", attachments=[
        {"uploadId": photo["_id"]}, {"url": "https://example.com/a", "type": "text/html", "name": "a", "size": 3}])
    doomed, _ = messages.send_message(cat, conversation, "**bold** then gone")
    reply, _ = messages.send_message(bob, conversation, "re: gone", reply_to=doomed["_id"])
    messages.delete_message(cat, doomed["_id"])
    quote, _ = messages.send_message(cat, conversation, "quoting @bob", reply_to=with_files["_id"])
    messages.edit_message(cat, quote["_id"], "quoting @bob, edited")
    for who, emoji in ((bob, "👍"), (cat, "👍"), (ann, "🎉"), (dan, "👍")):
        reactions.add_reaction(who, with_files["_id"], emoji)
    reactions.add_reaction(ann, ids[3], "😀")
    messages.mark_read(cat, conversation, ids[10])
    messages.mark_read(dan, conversation, ids[20])
    messages.mark_read(cat, conversation, reply["_id"])
    settings.update_settings(dan, {"readReceipts": False})
    messages.mark_read(dan, conversation, quote["_id"])  # hidden: read with receipts off
    messages.mark_delivered(bob, conversation, quote["_id"])
    convs.archive_or_leave(cat, conversation)  # cat's reads outlive their membership
    tail = bulk_messages(conversation, ann, 5)
    messages.mark_read(bob, conversation, tail[-1])
    late = bulk_messages(conversation, bob, 2)
    messages.mark_delivered(ann, conversation, late[0])  # then "delivered", "sent"
    everything, _ = messages.messages_since(ann, conversation, 0)
    return {"viewers": (ann, bob, dan), "left": cat, "conversation": conversation,
            "ids": [m["_id"] for m in everything]}


@pytest.mark.parametrize("limit", [1, 7, 50])
def test_every_page_is_the_same_either_way(history, monkeypatch, limit):
    conversation, ids = history["conversation"], history["ids"]
    for viewer in history["viewers"]:
        latest = _same(monkeypatch, lambda v=viewer: messages.list_messages(v, conversation, limit=limit))
        assert latest[0][0]["_id"] == ids[-1]
        for cursor in (ids[0], ids[len(ids) // 2], ids[-1]):
            _same(monkeypatch, lambda v=viewer, c=cursor: messages.list_messages(
                v, conversation, limit=limit, before_message_id=c))
            _same(monkeypatch, lambda v=viewer, c=cursor: messages.list_messages(
                v, conversation, limit=limit, after_message_id=c))
            _same(monkeypatch, lambda v=viewer, c=cursor: messages.list_messages(
                v, conversation, limit=limit, around_message_id=c))
        for after in (0, 17, len(ids) - 3, len(ids) + 5):
            _same(monkeypatch, lambda v=viewer, a=after: messages.messages_since(v, conversation, a, limit=limit))


def test_the_history_shows_what_it_holds(history):
    """The fixture's history really has what the comparison is meant to cover."""
    ann, bob, dan = history["viewers"]
    page, _ = messages.messages_since(ann, history["conversation"], 0)
    shown = {field: [m for m in page if m[field]] for field in ("attachments", "replyTo", "reactions", "readBy",
                                                                 "isDeleted", "isEdited", "mentions", "notice")}
    assert all(shown.values()), {field: len(found) for field, found in shown.items()}
    assert any(m["replyTo"]["isDeleted"] for m in shown["replyTo"])
    assert any(len(m["reactions"]) == 4 for m in shown["reactions"])
    assert any(a.get("uploadId") for m in shown["attachments"] for a in m["attachments"])
    assert {r["user"] for m in shown["readBy"] for r in m["readBy"]} >= {bob, dan, history["left"]}
    assert {m["status"] for m in page} == {"read", "delivered", "sent"}
    hidden, _ = messages.messages_since(dan, history["conversation"], 0)  # receipts off: nobody's reads
    assert not any(m["readBy"] for m in hidden) and "read" not in {m["status"] for m in hidden}


def test_refusals_are_the_same_either_way(history, monkeypatch):
    conversation, ids = history["conversation"], history["ids"]
    ann = history["viewers"][0]
    stranger = make_user("stranger")["_id"]
    other_conversation_message = bulk_messages(
        direct_conversation(stranger, make_user("friend")["_id"])["_id"], stranger, 1)[0]
    for call, error in (
        (lambda: messages.list_messages(stranger, conversation), NotFound),
        (lambda: messages.list_messages(stranger, conversation, before_message_id=other_conversation_message),
         NotFound),
        (lambda: messages.messages_since(stranger, conversation, 0), NotFound),
        (lambda: messages.list_messages(stranger, conversation, around_message_id=ids[3]), NotFound),
        (lambda: messages.list_messages(ann, conversation, before_message_id=other_conversation_message),
         ValidationFailed),
        (lambda: messages.list_messages(ann, conversation, after_message_id=other_conversation_message),
         ValidationFailed),
        (lambda: messages.list_messages(ann, conversation, around_message_id=other_conversation_message),
         ValidationFailed),
    ):
        answers = []
        for one_statement in (True, False):
            with monkeypatch.context() as patch:
                patch.setattr(messages, "_in_one_statement", lambda session, o=one_statement: o)
                with pytest.raises(error) as raised:
                    call()
            answers.append((type(raised.value), str(raised.value), getattr(raised.value, "code", None)))
        assert answers[0] == answers[1]


def test_a_page_far_back_shows_each_readers_first_shown_read_above_it(db, monkeypatch):
    """readBy of a page below every receipt: each reader's first receipt above the page that
    is shown (one read with receipts off is skipped), the same either way."""
    ann, bob, cat = (make_user(name)["_id"] for name in ("ann", "bob", "cat"))
    conversation = group_conversation(ann, [bob, cat])["_id"]
    ids = bulk_messages(conversation, ann, 40)
    messages.mark_read(bob, conversation, ids[29])  # first above the page, shown
    messages.mark_read(bob, conversation, ids[35])
    settings.update_settings(cat, {"readReceipts": False})
    messages.mark_read(cat, conversation, ids[24])  # first above the page, but hidden
    settings.update_settings(cat, {"readReceipts": True})
    messages.mark_read(cat, conversation, ids[32])  # the first shown one above
    page, _ = _same(monkeypatch, lambda: messages.list_messages(ann, conversation, limit=10,
                                                                 before_message_id=ids[20]))
    assert [m["_id"] for m in page] == ids[10:20][::-1]
    since, _ = messages.messages_since(ann, conversation, 0)
    read_at = {m["_id"]: {r["user"]: r["readAt"] for r in m["readBy"]} for m in since}
    for message in page:
        assert {r["user"]: r["readAt"] for r in message["readBy"]} == {
            bob: read_at[ids[29]][bob], cat: read_at[ids[32]][cat]}


def test_every_statement_is_short_enough_for_psycopg_to_keep_its_parse():
    """Over psycopg's limit a statement's placeholders are parsed again on every execution."""
    import psycopg._queries
    from sqlalchemy.dialects.postgresql import psycopg as pg_psycopg

    assert history_sql.PSYCOPG_CACHED_QUERY_CHARS == psycopg._queries.MAX_CACHED_STATEMENT_LENGTH
    for kind in history_sql._PAGES:
        for limit in (1, 50, history_sql.MAX_LIMIT):
            sent = str(history_sql._statement(kind, limit).compile(dialect=pg_psycopg.dialect()))
            assert len(sent) <= history_sql.PSYCOPG_CACHED_QUERY_CHARS, (kind, limit, len(sent))
            assert "--" not in sent
