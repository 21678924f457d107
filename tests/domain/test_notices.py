"""Group notices: system messages for group created, renamed, members added / removed / left,
made admin and the photo, in seq, live, never editable or deletable, unread for everyone
but the member who caused them."""

from __future__ import annotations

import io

import pytest

from tests import media_samples as samples
from tests.support.events import named
from tests.support.factories import befriend, group_conversation, make_user
from utool_chat.domain import conversations as convs
from utool_chat.domain import messages, reactions, uploads
from utool_chat.domain.errors import Forbidden


@pytest.fixture()
def team(db):
    ann, bob, cid, dee = (make_user(n)["_id"] for n in ("ann", "bob", "cid", "dee"))
    befriend(ann, dee)
    conv = group_conversation(ann, [bob, cid], name="Team")
    return {"ann": ann, "bob": bob, "cid": cid, "dee": dee, "conv": conv["_id"]}


def notices_in(viewer: str, conversation_id: str) -> list[dict]:
    page, _ = messages.list_messages(viewer, conversation_id, limit=100)
    return [m for m in reversed(page) if m["contentType"] == "system"]


def test_creating_a_group_leaves_the_first_notice(team):
    (created,) = notices_in(team["bob"], team["conv"])
    assert created["seq"] == 1 and created["sender"]["_id"] == team["ann"]
    assert created["notice"] == {"type": "group_created", "actorId": team["ann"], "userIds": [team["bob"], team["cid"]],
                                 "name": "Team"}
    assert created["content"] == "Ann created the group “Team”" == created["snippet"]
    assert created["contentHtml"] == "<p>Ann created the group “Team”</p>"
    assert created["editableUntil"] is None
    listed = convs.get_conversation(team["bob"], team["conv"])
    assert listed["lastMessage"]["_id"] == created["_id"] and listed["unreadCount"] == 1
    assert convs.get_conversation(team["ann"], team["conv"])["unreadCount"] == 0  # the one who caused it


def test_every_change_is_a_notice_in_order_and_seq(team, upload_settings):
    a, conv = team["ann"], team["conv"]
    convs.update_conversation(a, conv, name="Crew", add_participant_ids=[team["dee"]],
                              remove_participant_ids=[team["cid"]], add_admin_ids=[team["bob"]])
    picture = uploads.store_upload(a, "crew.png", io.BytesIO(samples.png()))
    convs.update_conversation(a, conv, avatar={"uploadId": picture["_id"]})
    convs.update_conversation(a, conv, avatar="")
    convs.archive_or_leave(team["dee"], conv)
    texts = [(n["seq"], n["notice"]["type"], n["content"]) for n in notices_in(team["bob"], conv)]
    assert texts == [
        (1, "group_created", "Ann created the group “Team”"),
        (2, "group_renamed", "Ann renamed the group to “Crew”"),
        (3, "members_added", "Ann added Dee"),
        (4, "member_removed", "Ann removed Cid"),
        (5, "admins_added", "Ann made Bob an admin"),
        (6, "avatar_changed", "Ann changed the group photo"),
        (7, "avatar_changed", "Ann removed the group photo"),
        (8, "member_left", "Dee left"),
    ]
    renamed = notices_in(team["bob"], conv)[1]["notice"]
    assert renamed == {"type": "group_renamed", "actorId": a, "userIds": [], "name": "Crew", "oldName": "Team"}


def test_when_the_last_admin_leaves_the_handover_is_a_notice_without_an_actor(team):
    convs.archive_or_leave(team["ann"], team["conv"])
    left, handed = notices_in(team["bob"], team["conv"])[-2:]
    assert left["notice"]["type"] == "member_left" and left["sender"]["_id"] == team["ann"]
    assert handed["notice"] == {"type": "admins_added", "actorId": None, "userIds": [handed["notice"]["userIds"][0]]}
    assert handed["sender"] is None and handed["content"].endswith("is now an admin")


def test_nothing_changed_is_no_notice(team):
    convs.update_conversation(team["ann"], team["conv"], name="Team")  # the same name
    convs.update_conversation(team["ann"], team["conv"], avatar="")  # there was no photo
    assert [n["notice"]["type"] for n in notices_in(team["ann"], team["conv"])] == ["group_created"]


def test_notices_arrive_live_and_removed_members_do_not_get_them(team, events):
    convs.update_conversation(team["ann"], team["conv"], remove_participant_ids=[team["cid"]])
    (new,) = named(events, "chat:new_message")
    assert sorted(new.user_ids) == sorted([team["ann"], team["bob"]])
    assert new.payload["message"]["notice"]["type"] == "member_removed" and new.payload["tempId"] is None
    updates = {e.user_ids[0]: e.payload for e in named(events, "chat:conversation_updated")}
    assert updates[team["bob"]]["conversation"]["lastMessage"]["_id"] == new.payload["message"]["_id"]
    assert updates[team["bob"]]["conversation"]["unreadCount"] == 2 and updates[team["cid"]]["removed"] is True


def test_notices_are_never_editable_or_deletable(team):
    (created,) = notices_in(team["ann"], team["conv"])
    with pytest.raises(Forbidden) as edit:
        messages.edit_message(team["ann"], created["_id"], "rewritten history")
    assert edit.value.code == "system_message"
    for who in (team["ann"], team["bob"]):  # not even by its actor or an admin
        with pytest.raises(Forbidden) as delete:
            messages.delete_message(who, created["_id"])
        assert delete.value.code == "system_message"
    assert reactions.add_reaction(team["bob"], created["_id"], "👍")["reactions"]  # reacting is fine


def test_a_notice_does_not_make_its_actor_read_the_backlog(team):
    messages.send_message(team["bob"], team["conv"], "unread for ann")
    convs.update_conversation(team["ann"], team["conv"], name="Later")
    assert convs.get_conversation(team["ann"], team["conv"])["unreadCount"] == 1


def test_the_added_member_sees_the_notice_of_their_arrival_as_new(team):
    convs.update_conversation(team["ann"], team["conv"], add_participant_ids=[team["dee"]])
    seen = convs.get_conversation(team["dee"], team["conv"])
    assert seen["unreadCount"] == 1 and seen["lastMessage"]["notice"]["userIds"] == [team["dee"]]
