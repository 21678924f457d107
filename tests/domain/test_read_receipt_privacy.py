"""Seen-by and message info from the read positions and receipts, and the read-receipts
switch: off, others do not see your reads and you do not see theirs, in every view and
every event (one chat:message_updated payload per visibility group)."""

from __future__ import annotations

import pytest

from tests.support.events import named
from tests.support.factories import direct_conversation, group_conversation, make_user
from utool_chat.domain import conversations as convs
from utool_chat.domain import messages, receipts, settings
from utool_chat.domain.errors import Forbidden, NotFound


@pytest.fixture()
def team(db):
    ann, bob, cid, dee, zed = (make_user(n) for n in ("ann", "bob", "cid", "dee", "zed"))
    conv = group_conversation(ann, [bob, cid, dee])
    people = {u["username"]: u["_id"] for u in (ann, bob, cid, dee, zed)}
    return {**people, "conv": conv["_id"], "users": [ann, bob, cid, dee]}


def history_of(viewer: str, conversation_id: str, message_id: str) -> dict:
    page, _ = messages.list_messages(viewer, conversation_id, limit=100)
    return next(m for m in page if m["_id"] == message_id)


def test_message_info_lists_who_read_and_who_has_it(team):
    msg, _ = messages.send_message(team["ann"], team["conv"], "who sees this?")
    messages.mark_read(team["bob"], team["conv"], msg["_id"])
    messages.mark_delivered(team["cid"], team["conv"], msg["_id"])
    info = receipts.message_info(team["ann"], msg["_id"])
    assert [(m["user"]["_id"], m["status"]) for m in info["members"]] == [
        (team["bob"], "read"), (team["cid"], "delivered"), (team["dee"], "sent")]
    assert info["members"][0]["readAt"] and info["members"][1]["readAt"] is None
    assert (info["readCount"], info["deliveredCount"]) == (1, 2)
    served = history_of(team["ann"], team["conv"], msg["_id"])
    assert [r["user"]["_id"] for r in receipts.seen_by(served, team["users"])] == [team["bob"]]
    assert receipts.seen_by_label(served, team["users"]) == "Seen by Bob"


def test_message_info_is_for_ones_own_messages_and_members_only(team):
    msg, _ = messages.send_message(team["ann"], team["conv"], "mine")
    with pytest.raises(Forbidden) as err:
        receipts.message_info(team["bob"], msg["_id"])
    assert err.value.code == "not_sender"
    for stranger_asks in (msg["_id"], "f" * 32, "x"):
        with pytest.raises(NotFound) as missing:
            receipts.message_info(team["zed"], stranger_asks)
        assert missing.value.code == "message_not_found"


def test_seen_by_label_counts_beyond_three():
    people = [{"_id": str(i), "displayName": f"P{i}"} for i in range(5)]
    message = {"readBy": [{"user": str(i), "readAt": f"2026-01-01T00:00:0{i}Z"} for i in range(5)]}
    assert receipts.seen_by_label(message, people) == "Seen by 5"
    assert receipts.seen_by_label({**message, "readBy": message["readBy"][:2]}, people) == "Seen by P0, P1"
    assert receipts.seen_by_label({"readBy": []}, people) == ""


def test_with_receipts_off_my_reads_are_not_shown_to_anyone(team, events):
    settings.update_settings(team["bob"], {"readReceipts": False})
    msg, _ = messages.send_message(team["ann"], team["conv"], "did bob read it?")
    events.clear()
    messages.mark_read(team["bob"], team["conv"], msg["_id"])
    served = history_of(team["ann"], team["conv"], msg["_id"])
    assert served["readBy"] == [] and served["status"] == "delivered"
    info = receipts.message_info(team["ann"], msg["_id"])
    assert info["members"][0] == {"user": info["members"][0]["user"], "status": "delivered", "readAt": None}
    # Everyone learns it as a delivery, nobody as a read.
    (update,) = named(events, "chat:message_updated")
    assert update.payload["receipt"] == {"kind": "delivered", "userId": team["bob"], "upToSeq": msg["seq"]}
    assert update.payload["message"]["readBy"] == []
    # bob's own unread count still goes down: it is his.
    assert convs.get_conversation(team["bob"], team["conv"])["unreadCount"] == 0


def test_with_receipts_off_i_see_nobodys_reads(team, events):
    msg, _ = messages.send_message(team["ann"], team["conv"], "read by bob, cid and dee")
    for reader in (team["bob"], team["cid"]):
        messages.mark_read(reader, team["conv"], msg["_id"])
    settings.update_settings(team["ann"], {"readReceipts": False})
    mine = history_of(team["ann"], team["conv"], msg["_id"])
    assert mine["readBy"] == [] and mine["status"] == "delivered"
    assert convs.get_conversation(team["ann"], team["conv"])["lastMessage"]["readBy"] == []
    assert {m["status"] for m in receipts.message_info(team["ann"], msg["_id"])["members"]} <= {"delivered", "sent"}
    # The others still see the reads.
    assert len(history_of(team["dee"], team["conv"], msg["_id"])["readBy"]) == 2
    # One read, two payloads: the stripped one only to ann.
    events.clear()
    messages.mark_read(team["dee"], team["conv"], msg["_id"])
    by_user = {uid: e.payload for e in named(events, "chat:message_updated") for uid in e.user_ids}
    assert by_user[team["ann"]]["message"]["readBy"] == [] and by_user[team["ann"]]["receipt"]["kind"] == "delivered"
    assert len(by_user[team["bob"]]["message"]["readBy"]) == 3 and by_user[team["bob"]]["receipt"]["kind"] == "read"
    assert sum(1 for _ in named(events, "chat:message_updated")) == 2


def test_reads_made_while_receipts_were_on_stay_visible(team):
    msg, _ = messages.send_message(team["ann"], team["conv"], "read before the switch")
    messages.mark_read(team["bob"], team["conv"], msg["_id"])
    settings.update_settings(team["bob"], {"readReceipts": False})
    later, _ = messages.send_message(team["ann"], team["conv"], "read after it")
    messages.mark_read(team["bob"], team["conv"], later["_id"])
    assert [r["user"] for r in history_of(team["ann"], team["conv"], msg["_id"])["readBy"]] == [team["bob"]]
    assert history_of(team["ann"], team["conv"], later["_id"])["readBy"] == []


def test_answering_with_receipts_off_reads_quietly(db, events):
    ann, bob = make_user("ann")["_id"], make_user("bob")["_id"]
    conv = direct_conversation(ann, bob)["_id"]
    first, _ = messages.send_message(ann, conv, "hello?")
    settings.update_settings(bob, {"readReceipts": False})
    events.clear()
    messages.send_message(bob, conv, "hi")
    (new,) = named(events, "chat:new_message")
    assert new.payload["receipt"] == {"kind": "delivered", "userId": bob, "upToSeq": 2}
    assert history_of(ann, conv, first["_id"])["status"] == "delivered"


def test_search_results_and_history_around_a_message_are_stripped_too(team):
    from utool_chat.domain import search

    msg, _ = messages.send_message(team["ann"], team["conv"], "findable words here")
    messages.mark_read(team["bob"], team["conv"], msg["_id"])
    found, _ = search.search_messages(team["ann"], "findable")
    assert [r["user"] for r in found[0]["message"]["readBy"]] == [team["bob"]]
    settings.update_settings(team["ann"], {"readReceipts": False})
    found, _ = search.search_messages(team["ann"], "findable")
    assert found[0]["message"]["readBy"] == [] and found[0]["message"]["status"] == "delivered"
    around, _ = messages.list_messages(team["ann"], team["conv"], around_message_id=msg["_id"])
    assert all(m["readBy"] == [] for m in around)
