"""messages and reactions domain: send, history, edit/delete, read/delivered, reactions."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import col

from tests.support.events import named
from tests.support.factories import befriend, bulk_messages, direct_conversation, group_conversation, make_user
from utool_chat import config
from utool_chat.db.engine import session_scope
from utool_chat.db.models import Attachment, Message, ReadReceipt, utcnow
from utool_chat.domain import conversations as convs
from utool_chat.domain import messages, reactions
from utool_chat.domain.errors import Conflict, Forbidden, NotFound, ValidationFailed


@pytest.fixture()
def chat(db):
    """ann and bob in a direct conversation; eve is a stranger."""
    ann, bob, eve = make_user("ann"), make_user("bob"), make_user("eve")
    conv = direct_conversation(ann["_id"], bob["_id"])
    return {"ann": ann["_id"], "bob": bob["_id"], "eve": eve["_id"], "conv": conv["_id"]}


@pytest.fixture()
def group(db):
    """ann (admin), bob and cid in a group."""
    ann, bob, cid = make_user("ann"), make_user("bob"), make_user("cid")
    conv = group_conversation(ann, [bob, cid])
    return {"ann": ann["_id"], "bob": bob["_id"], "cid": cid["_id"], "conv": conv["_id"]}


# --- sending ------------------------------------------------------------------------------------


def test_send_returns_the_plan_message_shape_with_seq_1(chat):
    msg, created = messages.send_message(chat["ann"], chat["conv"], "  hello  ", temp_id="t-1")
    assert created
    assert set(msg) >= {"_id", "conversationId", "seq", "sender", "content", "contentType", "attachments", "replyTo",
                        "readBy", "reactions", "status", "isEdited", "isDeleted", "createdAt", "updatedAt"}
    assert (msg["seq"], msg["content"], msg["contentType"], msg["status"]) == (1, "hello", "text", "sent")
    assert msg["sender"]["_id"] == chat["ann"] and msg["tempId"] == "t-1"
    assert msg["createdAt"].endswith("Z")


def test_seqs_follow_each_other_across_senders(chat):
    seqs = [messages.send_message(sender, chat["conv"], "x")[0]["seq"]
            for sender in (chat["ann"], chat["bob"], chat["ann"])]
    assert seqs == [1, 2, 3]


def test_same_temp_id_returns_the_first_message_and_stores_nothing_new(chat, events):
    first, created = messages.send_message(chat["ann"], chat["conv"], "once", temp_id="abc")
    again, created_again = messages.send_message(chat["ann"], chat["conv"], "once", temp_id="abc")
    assert created and not created_again
    assert again["_id"] == first["_id"] and again["seq"] == 1
    # The retry announces the stored message again (its first announcement may have died with
    # the process that stored it): the same message, to the same members; clients dedupe by _id.
    announced = named(events, "chat:new_message")
    assert len(announced) == 2
    assert announced[1].payload == {"conversationId": chat["conv"], "message": again, "tempId": "abc"}
    assert sorted(announced[1].user_ids) == sorted(announced[0].user_ids)
    nxt, _ = messages.send_message(chat["ann"], chat["conv"], "next")
    assert nxt["seq"] == 2  # the retry's seq bump was rolled back: no gap


def test_the_same_temp_id_from_another_sender_is_a_different_message(chat):
    a, _ = messages.send_message(chat["ann"], chat["conv"], "a", temp_id="same")
    b, created = messages.send_message(chat["bob"], chat["conv"], "b", temp_id="same")
    assert created and a["_id"] != b["_id"]


@pytest.mark.parametrize(
    "kwargs, code",
    [
        ({"content": ""}, "empty_content"),
        ({"content": "   "}, "empty_content"),
        ({"content": None}, "empty_content"),
        ({"content": 5}, "invalid_content"),
        ({"content": "x" * 4001}, "content_too_long"),
        ({"content": "nul\x00byte"}, "invalid_content"),
        ({"content": "\ud800"}, "invalid_content"),
        ({"content": "hi", "content_type": "system"}, "invalid_content_type"),
        ({"content": "hi", "content_type": "video"}, "invalid_content_type"),
        ({"content": "hi", "attachments": "a.png"}, "invalid_attachments"),
        ({"content": "hi", "attachments": [{"url": "/a.png"}]}, "invalid_attachments"),
        ({"content": "hi", "attachments": [{"url": "javascript:x", "type": "image/png"}]}, "invalid_url"),
        ({"content": "hi", "attachments": [{"url": "/a", "type": "png"}]}, "invalid_attachments"),
        ({"content": "hi", "attachments": [{"url": "/a", "type": "image/png", "size": -1}]}, "invalid_attachments"),
        ({"content": "hi", "attachments": [{"url": "/a", "type": "image/png"}] * 11}, "invalid_attachments"),
        ({"content": "hi", "temp_id": "t" * 129}, "invalid_temp_id"),
        ({"content": "hi", "temp_id": 7}, "invalid_temp_id"),
        ({"content": "hi", "reply_to": "0" * 32}, "invalid_reply_to"),
        ({"content": "hi", "reply_to": "not an id"}, "invalid_reply_to"),  # malformed: like a missing one
        ({"content": "hi", "reply_to": ["x"]}, "validation_error"),  # not a string at all
    ],
)
def test_send_rejects_bad_input_with_a_specific_code(chat, kwargs, code):
    with pytest.raises(ValidationFailed) as err:
        messages.send_message(chat["ann"], chat["conv"], **kwargs)
    assert err.value.code == code
    with session_scope() as s:
        assert s.execute(sa.select(sa.func.count()).select_from(Message)).scalar_one() == 0


def test_content_of_exactly_4000_characters_is_accepted(chat):
    msg, _ = messages.send_message(chat["ann"], chat["conv"], "x" * 4000)
    assert len(msg["content"]) == 4000


def test_attachments_alone_make_a_message_and_come_back_in_order(chat):
    files: list[dict[str, Any]] = [
        {"url": "https://cdn.example/a.png", "type": "image/png", "name": "a.png", "size": 10},
        {"url": "/uploads/b.pdf", "type": "application/pdf"},
    ]
    msg, _ = messages.send_message(chat["ann"], chat["conv"], "", content_type="image", attachments=files)
    expected = [files[0], {**files[1], "name": None, "size": None}]
    assert msg["attachments"] == expected
    history, _ = messages.list_messages(chat["bob"], chat["conv"])
    assert history[0]["attachments"] == expected and history[0]["contentType"] == "image"


def test_reply_must_point_into_the_same_conversation(chat):
    dee = make_user("dee")["_id"]
    other = direct_conversation(chat["ann"], dee)
    elsewhere, _ = messages.send_message(chat["ann"], other["_id"], "elsewhere")
    with pytest.raises(ValidationFailed) as err:
        messages.send_message(chat["ann"], chat["conv"], "re", reply_to=elsewhere["_id"])
    assert err.value.code == "invalid_reply_to"
    original, _ = messages.send_message(chat["bob"], chat["conv"], "original " + "y" * 300)
    reply, _ = messages.send_message(chat["ann"], chat["conv"], "re", reply_to=original["_id"])
    assert reply["replyTo"]["_id"] == original["_id"] and reply["replyTo"]["sender"]["_id"] == chat["bob"]
    assert len(reply["replyTo"]["content"]) == 200 and reply["replyTo"]["isDeleted"] is False


def test_strangers_cannot_send_and_learn_nothing(chat):
    with pytest.raises(NotFound) as err:
        messages.send_message(chat["eve"], chat["conv"], "let me in")
    assert err.value.code == "conversation_not_found"


def test_send_publishes_new_message_to_members_and_unread_counts_to_recipients(chat, events):
    msg, _ = messages.send_message(chat["ann"], chat["conv"], "hi", temp_id="t9")
    (new,) = named(events, "chat:new_message")
    assert sorted(new.user_ids) == sorted([chat["ann"], chat["bob"]])
    assert new.payload == {"conversationId": chat["conv"], "message": msg, "tempId": "t9"}
    (unread,) = named(events, "chat:unread_count_update")
    assert unread.user_ids == [chat["bob"]]
    assert unread.payload == {"conversationId": chat["conv"], "unreadCount": 1, "unreadMentions": 0}


def test_no_event_is_published_when_the_send_fails(chat, events):
    with pytest.raises(ValidationFailed):
        messages.send_message(chat["ann"], chat["conv"], "re", reply_to="0" * 32)
    assert events == []


def test_own_messages_are_never_unread(chat):
    messages.send_message(chat["ann"], chat["conv"], "mine")
    assert convs.get_conversation(chat["ann"], chat["conv"])["unreadCount"] == 0
    assert convs.get_conversation(chat["bob"], chat["conv"])["unreadCount"] == 1


# --- history -------------------------------------------------------------------------------------------


def test_history_is_newest_first_and_pages_back_with_before_cursor(chat):
    ids = bulk_messages(chat["conv"], chat["ann"], 7)
    page1, meta1 = messages.list_messages(chat["bob"], chat["conv"], limit=3)
    assert [m["seq"] for m in page1] == [7, 6, 5] and meta1["hasMore"] is True
    assert meta1["oldestMessageId"] == ids[4]
    page2, meta2 = messages.list_messages(chat["bob"], chat["conv"], limit=3, before_message_id=page1[-1]["_id"])
    assert [m["seq"] for m in page2] == [4, 3, 2] and meta2["hasMore"] is True
    page3, meta3 = messages.list_messages(chat["bob"], chat["conv"], limit=3, before_message_id=page2[-1]["_id"])
    assert [m["seq"] for m in page3] == [1] and meta3["hasMore"] is False


def test_after_cursor_returns_the_next_newer_messages_newest_first(chat):
    ids = bulk_messages(chat["conv"], chat["ann"], 6)
    page, meta = messages.list_messages(chat["bob"], chat["conv"], limit=2, after_message_id=ids[1])
    assert [m["seq"] for m in page] == [4, 3] and meta["hasMore"] is True
    page, meta = messages.list_messages(chat["bob"], chat["conv"], limit=5, after_message_id=ids[3])
    assert [m["seq"] for m in page] == [6, 5] and meta["hasMore"] is False


def test_default_history_page_is_30(chat):
    bulk_messages(chat["conv"], chat["ann"], 31)
    page, meta = messages.list_messages(chat["bob"], chat["conv"])
    assert len(page) == 30 and meta["hasMore"] is True and meta["limit"] == 30


def test_cursor_from_another_conversation_is_rejected(chat):
    dee = make_user("dee")["_id"]
    other = direct_conversation(chat["ann"], dee)
    (foreign,) = bulk_messages(other["_id"], chat["ann"], 1)
    for kwargs in ({"before_message_id": foreign}, {"after_message_id": foreign},
                   {"before_message_id": "0" * 32}, {"before_message_id": "bad id!"},
                   {"before_message_id": foreign, "after_message_id": foreign}):
        with pytest.raises(ValidationFailed) as err:
            messages.list_messages(chat["ann"], chat["conv"], **kwargs)
        assert err.value.code == "invalid_cursor"


@pytest.mark.parametrize("limit", [0, -1, 101, "abc", 2.5, True])
def test_history_limit_outside_1_to_100_is_rejected(chat, limit):
    with pytest.raises(ValidationFailed):
        messages.list_messages(chat["ann"], chat["conv"], limit=limit)


def test_history_of_a_conversation_you_are_not_in_is_not_found(chat):
    with pytest.raises(NotFound):
        messages.list_messages(chat["eve"], chat["conv"])


def test_messages_since_returns_oldest_first_for_catch_up(chat):
    bulk_messages(chat["conv"], chat["ann"], 5)
    items, meta = messages.messages_since(chat["bob"], chat["conv"], 2, limit=2)
    assert [m["seq"] for m in items] == [3, 4] and meta == {"hasMore": True, "lastSeq": 4}
    items, meta = messages.messages_since(chat["bob"], chat["conv"], 4)
    assert [m["seq"] for m in items] == [5] and meta == {"hasMore": False, "lastSeq": 5}
    items, meta = messages.messages_since(chat["bob"], chat["conv"], 5)
    assert items == [] and meta == {"hasMore": False, "lastSeq": 5}
    with pytest.raises(ValidationFailed):
        messages.messages_since(chat["bob"], chat["conv"], -1)
    with pytest.raises(NotFound):
        messages.messages_since(chat["eve"], chat["conv"], 0)


# --- edit ------------------------------------------------------------------------------------------------


def test_sender_edits_within_the_window(chat, events):
    msg, _ = messages.send_message(chat["ann"], chat["conv"], "helo")
    edited = messages.edit_message(chat["ann"], msg["_id"], " hello ")
    assert edited["content"] == "hello" and edited["isEdited"] is True
    assert edited["updatedAt"] > msg["updatedAt"]
    (upd,) = named(events, "chat:message_updated")
    assert sorted(upd.user_ids) == sorted([chat["ann"], chat["bob"]]) and upd.payload["message"] == edited


def test_only_the_sender_may_edit(chat):
    msg, _ = messages.send_message(chat["ann"], chat["conv"], "mine")
    with pytest.raises(Forbidden) as err:
        messages.edit_message(chat["bob"], msg["_id"], "yours now")
    assert err.value.code == "not_sender"
    with pytest.raises(NotFound):
        messages.edit_message(chat["eve"], msg["_id"], "who am I")


def test_edit_after_the_window_is_refused(chat):
    msg, _ = messages.send_message(chat["ann"], chat["conv"], "old")
    with session_scope() as s:
        s.exec(sa.update(Message).where(col(Message.id) == msg["_id"]).values(
            created_at=utcnow() - timedelta(seconds=config.settings.edit_window_seconds + 5)))
    with pytest.raises(Forbidden) as err:
        messages.edit_message(chat["ann"], msg["_id"], "new")
    assert err.value.code == "edit_window_passed"


def test_edit_rejects_empty_or_too_long_content_and_deleted_messages(chat):
    msg, _ = messages.send_message(chat["ann"], chat["conv"], "text")
    with pytest.raises(ValidationFailed):
        messages.edit_message(chat["ann"], msg["_id"], "  ")
    with pytest.raises(ValidationFailed) as err:
        messages.edit_message(chat["ann"], msg["_id"], "x" * 4001)
    assert err.value.code == "content_too_long"
    messages.delete_message(chat["ann"], msg["_id"])
    with pytest.raises(Conflict) as conflict:
        messages.edit_message(chat["ann"], msg["_id"], "resurrect")
    assert conflict.value.code == "message_deleted"


def test_unchanged_edit_is_not_marked_edited(chat, events):
    msg, _ = messages.send_message(chat["ann"], chat["conv"], "same")
    events.clear()
    assert messages.edit_message(chat["ann"], msg["_id"], "same")["isEdited"] is False
    assert events == []


# --- delete -------------------------------------------------------------------------------------------------


def test_deleted_message_is_never_served_again_and_is_erased_from_storage(chat):
    msg, _ = messages.send_message(chat["ann"], chat["conv"], "secret",
                                   attachments=[{"url": "/s.png", "type": "image/png"}])
    reactions.add_reaction(chat["bob"], msg["_id"], "😮")
    deleted = messages.delete_message(chat["ann"], msg["_id"])
    assert (deleted["content"], deleted["attachments"], deleted["reactions"], deleted["isDeleted"]) == ("", [], [],
                                                                                                          True)
    history, _ = messages.list_messages(chat["bob"], chat["conv"])
    assert history[0]["content"] == "" and history[0]["isDeleted"] is True and history[0]["seq"] == 1
    listed, _ = convs.list_conversations(chat["bob"])
    assert listed[0]["lastMessage"]["content"] == ""
    with session_scope() as s:
        assert s.execute(sa.select(col(Message.content)).where(col(Message.id) == msg["_id"])).scalar_one() == ""
        assert s.execute(sa.select(sa.func.count()).select_from(Attachment)).scalar_one() == 0
    # deleting twice is harmless
    assert messages.delete_message(chat["ann"], msg["_id"])["isDeleted"] is True


def test_reply_to_a_deleted_message_shows_no_snippet(chat):
    original, _ = messages.send_message(chat["bob"], chat["conv"], "oops")
    reply, _ = messages.send_message(chat["ann"], chat["conv"], "what?", reply_to=original["_id"])
    messages.delete_message(chat["bob"], original["_id"])
    history, _ = messages.list_messages(chat["ann"], chat["conv"])
    assert history[0]["_id"] == reply["_id"]
    assert reply["replyTo"]["snippet"] == "oops"
    assert history[0]["replyTo"] == {**reply["replyTo"], "content": "", "snippet": "", "isDeleted": True}


def test_deleting_an_unread_message_lowers_the_unread_count(chat, events):
    msg, _ = messages.send_message(chat["ann"], chat["conv"], "nevermind")
    events.clear()
    messages.delete_message(chat["ann"], msg["_id"])
    assert convs.get_conversation(chat["bob"], chat["conv"])["unreadCount"] == 0
    (unread,) = named(events, "chat:unread_count_update")
    assert unread.user_ids == [chat["bob"]] and unread.payload["unreadCount"] == 0


def test_only_sender_or_group_admin_may_delete(group):
    msg, _ = messages.send_message(group["bob"], group["conv"], "bob says")
    with pytest.raises(Forbidden) as err:
        messages.delete_message(group["cid"], msg["_id"])
    assert err.value.code == "not_allowed"
    assert messages.delete_message(group["ann"], msg["_id"])["isDeleted"] is True  # ann is admin


def test_in_a_direct_chat_nobody_deletes_the_other_ones_message(chat):
    msg, _ = messages.send_message(chat["bob"], chat["conv"], "bob says")
    with pytest.raises(Forbidden):
        messages.delete_message(chat["ann"], msg["_id"])
    with pytest.raises(NotFound):
        messages.delete_message(chat["eve"], msg["_id"])
    with pytest.raises(NotFound):
        messages.delete_message(chat["ann"], "0" * 32)


# --- read and delivered ------------------------------------------------------------------------------------------


def test_mark_read_moves_forward_only_and_writes_one_receipt_per_advance(chat, events):
    ids = bulk_messages(chat["conv"], chat["ann"], 5)
    assert messages.mark_read(chat["bob"], chat["conv"], ids[2]) == {
        "conversationId": chat["conv"], "unreadCount": 2, "unreadMentions": 0, "lastReadSeq": 3}
    assert messages.mark_read(chat["bob"], chat["conv"], ids[0]) == {
        "conversationId": chat["conv"], "unreadCount": 2, "unreadMentions": 0, "lastReadSeq": 3}  # never backwards
    assert messages.mark_read(chat["bob"], chat["conv"], ids[4])["unreadCount"] == 0
    with session_scope() as s:
        seqs = s.execute(sa.select(col(ReadReceipt.up_to_seq)).where(col(ReadReceipt.user_id) == chat["bob"])
                      .order_by(col(ReadReceipt.id))).scalars().all()
    assert seqs == [3, 5]
    assert [e.payload["unreadCount"] for e in named(events, "chat:unread_count_update")] == [2, 0]
    updates = named(events, "chat:message_updated")
    # Every member hears it, the reader's other tabs too, with what the receipt covers.
    assert [sorted(e.user_ids) for e in updates] == [sorted([chat["ann"], chat["bob"]])] * 2
    assert [(e.payload["receipt"]["kind"], e.payload["receipt"]["userId"], e.payload["receipt"]["upToSeq"])
            for e in updates] == [("read", chat["bob"], 3), ("read", chat["bob"], 5)]
    assert updates[-1].payload["receipt"]["at"] == updates[-1].payload["message"]["readBy"][0]["readAt"]
    assert updates[-1].payload["message"]["_id"] == ids[4]
    assert updates[-1].payload["message"]["status"] == "read"
    assert [r["user"] for r in updates[-1].payload["message"]["readBy"]] == [chat["bob"]]


def test_read_by_holds_the_time_of_the_first_receipt_covering_each_message(chat):
    ids = bulk_messages(chat["conv"], chat["ann"], 4)
    messages.mark_read(chat["bob"], chat["conv"], ids[1])
    messages.mark_read(chat["bob"], chat["conv"], ids[3])
    with session_scope() as s:
        times = s.execute(sa.select(col(ReadReceipt.read_at)).order_by(col(ReadReceipt.id))).scalars().all()
    history, _ = messages.list_messages(chat["ann"], chat["conv"])
    by_seq = {m["seq"]: m["readBy"] for m in history}
    from utool_chat.domain.serializers import iso

    assert by_seq[1] == by_seq[2] == [{"user": chat["bob"], "readAt": iso(times[0])}]
    assert by_seq[3] == by_seq[4] == [{"user": chat["bob"], "readAt": iso(times[1])}]
    # an older page still finds receipts written after it
    older, _ = messages.list_messages(chat["ann"], chat["conv"], limit=1, before_message_id=ids[1])
    assert older[0]["readBy"] == [{"user": chat["bob"], "readAt": iso(times[0])}]


def test_status_goes_sent_delivered_read_from_the_senders_view(chat):
    msg, _ = messages.send_message(chat["ann"], chat["conv"], "status?")
    assert msg["status"] == "sent"
    delivered = messages.mark_delivered(chat["bob"], chat["conv"], msg["_id"])
    assert delivered["status"] == "delivered"
    assert messages.mark_delivered(chat["ann"], chat["conv"], msg["_id"])["status"] == "delivered"
    messages.mark_read(chat["bob"], chat["conv"], msg["_id"])
    history, _ = messages.list_messages(chat["ann"], chat["conv"])
    assert history[0]["status"] == "read"


def test_mark_delivered_never_moves_back_and_announces_only_advances(chat, events):
    ids = bulk_messages(chat["conv"], chat["ann"], 3)
    messages.mark_delivered(chat["bob"], chat["conv"], ids[2])
    messages.mark_delivered(chat["bob"], chat["conv"], ids[0])
    assert len(named(events, "chat:message_updated")) == 1
    history, _ = messages.list_messages(chat["ann"], chat["conv"])
    assert {m["status"] for m in history} == {"delivered"}


def test_mark_read_needs_a_message_of_that_conversation(chat):
    dee = make_user("dee")["_id"]
    other = direct_conversation(chat["ann"], dee)
    (foreign,) = bulk_messages(other["_id"], chat["ann"], 1)
    for bad in (foreign, "0" * 32, "no such id!"):
        with pytest.raises(ValidationFailed) as err:
            messages.mark_read(chat["bob"], chat["conv"], bad)
        assert err.value.code == "invalid_message_id"
    for not_a_string in (None, 12):  # the one id rule's validation_error
        with pytest.raises(ValidationFailed) as err:
            messages.mark_read(chat["bob"], chat["conv"], not_a_string)
        assert err.value.code == "validation_error"
    with pytest.raises(NotFound):
        messages.mark_read(chat["eve"], chat["conv"], foreign)


def test_answering_reads_what_came_before(chat):
    theirs, _ = messages.send_message(chat["bob"], chat["conv"], "question")
    messages.send_message(chat["ann"], chat["conv"], "answer")
    history, _ = messages.list_messages(chat["bob"], chat["conv"])
    question = next(m for m in history if m["_id"] == theirs["_id"])
    assert question["status"] == "read" and [r["user"] for r in question["readBy"]] == [chat["ann"]]


# --- reactions -------------------------------------------------------------------------------------------------


def test_reactions_are_one_per_user_and_emoji_and_removal_is_idempotent(chat, events):
    msg, _ = messages.send_message(chat["ann"], chat["conv"], "react")
    events.clear()
    reactions.add_reaction(chat["bob"], msg["_id"], "👍")
    again = reactions.add_reaction(chat["bob"], msg["_id"], "👍")
    both = reactions.add_reaction(chat["ann"], msg["_id"], "👍")
    assert again["reactions"] == [{"user": chat["bob"], "emoji": "👍"}]
    assert both["reactions"] == [{"user": chat["bob"], "emoji": "👍"}, {"user": chat["ann"], "emoji": "👍"}]
    assert len(named(events, "chat:message_updated")) == 2  # the repeat changed nothing
    gone = reactions.remove_reaction(chat["bob"], msg["_id"], "👍")
    assert gone["reactions"] == [{"user": chat["ann"], "emoji": "👍"}]
    assert reactions.remove_reaction(chat["bob"], msg["_id"], "👍")["reactions"] == gone["reactions"]
    assert len(named(events, "chat:message_updated")) == 3


@pytest.mark.parametrize("emoji", ["", "   ", None, 3, "x" * 65, "\x00"])
def test_reaction_emoji_must_be_a_short_non_empty_string(chat, emoji):
    msg, _ = messages.send_message(chat["ann"], chat["conv"], "react")
    with pytest.raises(ValidationFailed) as err:
        reactions.add_reaction(chat["bob"], msg["_id"], emoji)
    assert err.value.code == "invalid_emoji"


def test_reactions_on_deleted_or_invisible_messages_are_refused(chat):
    msg, _ = messages.send_message(chat["ann"], chat["conv"], "react")
    with pytest.raises(NotFound):
        reactions.add_reaction(chat["eve"], msg["_id"], "👍")
    with pytest.raises(NotFound):
        reactions.remove_reaction(chat["eve"], msg["_id"], "👍")
    messages.delete_message(chat["ann"], msg["_id"])
    with pytest.raises(Conflict) as err:
        reactions.add_reaction(chat["bob"], msg["_id"], "👍")
    assert err.value.code == "message_deleted"


def test_one_user_has_at_most_20_reactions_on_a_message(chat):
    msg, _ = messages.send_message(chat["ann"], chat["conv"], "react")
    for i in range(reactions.MAX_REACTIONS_PER_USER):
        reactions.add_reaction(chat["bob"], msg["_id"], f"e{i}")
    with pytest.raises(ValidationFailed) as err:
        reactions.add_reaction(chat["bob"], msg["_id"], "one-too-many")
    assert err.value.code == "too_many_reactions"
    reactions.add_reaction(chat["bob"], msg["_id"], "e0")  # an existing one is still fine


def test_ticks_never_go_back_when_members_come_and_go(db):
    ann, bob, cid, dee = (make_user(n)["_id"] for n in ("ann", "bob", "cid", "dee"))
    befriend(ann, dee)
    team = group_conversation(ann, [bob, cid])
    read_one, _ = messages.send_message(ann, team["_id"], "read by bob")
    got_one, _ = messages.send_message(ann, team["_id"], "delivered to cid")
    unseen, _ = messages.send_message(ann, team["_id"], "nobody has it yet")
    messages.mark_read(bob, team["_id"], read_one["_id"])
    messages.mark_delivered(cid, team["_id"], got_one["_id"])

    def statuses() -> list[str]:  # of the messages (the group's notices aside)
        page, _ = messages.list_messages(ann, team["_id"])
        return [m["status"] for m in reversed(page) if m["contentType"] == "text"]

    assert statuses() == ["read", "delivered", "sent"]
    # Joining marks nothing read or delivered: a newcomer has seen none of it yet.
    convs.update_conversation(ann, team["_id"], add_participant_ids=[dee])
    assert statuses() == ["read", "delivered", "sent"]
    # but nothing is unread for them, except the notice that they were added
    assert convs.get_conversation(dee, team["_id"])["unreadCount"] == 1
    # Leaving does not take back what the leavers read or received.
    convs.update_conversation(ann, team["_id"], remove_participant_ids=[bob, cid])
    assert statuses() == ["read", "delivered", "sent"]
    page, _ = messages.list_messages(ann, team["_id"])
    assert [r["user"] for r in next(m for m in page if m["_id"] == read_one["_id"])["readBy"]] == [bob]
    # The newcomer's read position starts at the end: the old messages are not new to read...
    messages.mark_read(dee, team["_id"], unseen["_id"])
    assert statuses() == ["read", "delivered", "sent"]
    # ...and reading a new one covers everything before it, as any read position does.
    welcome, _ = messages.send_message(ann, team["_id"], "welcome dee")
    messages.mark_read(dee, team["_id"], welcome["_id"])
    assert statuses() == ["read", "read", "read", "read"]
