"""The chat domain also runs on SQLite, the default embedded database (no server needed)."""

from __future__ import annotations

import pytest

from tests.conftest import migrate
from tests.support.factories import befriend, make_user
from utool_chat.db import engine as db_engine
from utool_chat.domain import conversations as convs
from utool_chat.domain import messages, reactions


@pytest.fixture()
def on_sqlite(tmp_path, pg_url):
    url = f"sqlite:///{tmp_path / 'chat.db'}"
    migrate(url)
    db_engine.init_engine(url)
    try:
        yield url
    finally:
        db_engine.init_engine(pg_url)


def test_a_whole_conversation_works_on_sqlite(on_sqlite):
    ann, bob, cid = (make_user(n)["_id"] for n in ("ann", "bob", "cid"))
    befriend(ann, bob)
    direct, created = convs.create_conversation(ann, [bob])
    assert created and convs.create_conversation(bob, [ann])[0]["_id"] == direct["_id"]
    first, _ = messages.send_message(ann, direct["_id"], "hello", temp_id="t1",
                                     attachments=[{"url": "/a.png", "type": "image/png"}])
    assert messages.send_message(ann, direct["_id"], "hello", temp_id="t1") == (first, False)
    second, _ = messages.send_message(bob, direct["_id"], "hi back", reply_to=first["_id"])
    assert (first["seq"], second["seq"]) == (1, 2)
    assert reactions.add_reaction(bob, first["_id"], "👍")["reactions"] == [{"user": bob, "emoji": "👍"}]
    assert reactions.add_reaction(bob, first["_id"], "👍")["reactions"] == [{"user": bob, "emoji": "👍"}]
    assert messages.mark_read(ann, direct["_id"], second["_id"])["unreadCount"] == 0
    page, meta = messages.list_messages(bob, direct["_id"], limit=1)
    assert page[0]["status"] == "read" and meta["hasMore"] is True
    older, _ = messages.list_messages(bob, direct["_id"], before_message_id=page[0]["_id"])
    assert older[0]["readBy"][0]["user"] == bob and older[0]["attachments"][0]["url"] == "/a.png"
    assert messages.edit_message(ann, first["_id"], "hello!")["isEdited"] is True
    assert messages.delete_message(bob, second["_id"])["content"] == ""
    befriend(ann, cid)  # people accept groups from friends by default
    group, _ = convs.create_conversation(ann, [bob, cid], type="group", name="G")
    convs.archive_or_leave(ann, group["_id"])
    assert convs.get_conversation(bob, group["_id"])["admins"]
    listed, meta = convs.list_conversations(bob)
    assert [c["_id"] for c in listed] == [group["_id"], direct["_id"]] and meta["total"] == 2
    assert listed[1]["lastMessage"]["isDeleted"] is True
