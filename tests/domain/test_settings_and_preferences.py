"""A user's settings (privacy, group invites, sound) and their own settings of each
conversation (mute, pin, archive)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests.support.events import named
from tests.support.factories import direct_conversation, group_conversation, make_user
from utool_chat.domain import conversations as convs
from utool_chat.domain import messages, settings
from utool_chat.domain.errors import Conflict, ValidationFailed

DEFAULTS = {"showLastSeen": True, "readReceipts": True, "groupInvites": "friends", "notificationSound": True}


@pytest.fixture()
def ann(db):
    return make_user("ann")["_id"]


def test_settings_start_at_the_defaults_and_change_one_key_at_a_time(ann, events):
    assert settings.get_settings(ann) == DEFAULTS
    changed = settings.update_settings(ann, {"readReceipts": False, "groupInvites": "nobody"})
    assert changed == {**DEFAULTS, "readReceipts": False, "groupInvites": "nobody"} == settings.get_settings(ann)
    (evt,) = named(events, "chat:settings_updated")
    assert evt.user_ids == [ann] and evt.payload == {"settings": changed}
    events.clear()
    assert settings.update_settings(ann, {"readReceipts": False}) == changed
    assert events == []  # nothing changed, nothing announced


@pytest.mark.parametrize(("body", "code"), [
    (None, "nothing_to_update"), ({}, "nothing_to_update"), ([], "nothing_to_update"),
    ({"theme": "dark"}, "unknown_setting"), ({"readReceipts": "no"}, "invalid_setting"),
    ({"showLastSeen": 1}, "invalid_setting"), ({"groupInvites": "contacts"}, "invalid_setting"),
    ({"groupInvites": None}, "invalid_setting"), ({"notificationSound": [True]}, "invalid_setting"),
])
def test_bad_settings_are_refused_and_change_nothing(ann, body, code):
    with pytest.raises(ValidationFailed) as err:
        settings.update_settings(ann, body)
    assert err.value.code == code
    assert settings.get_settings(ann) == DEFAULTS


# --- per conversation ----------------------------------------------------------------------


@pytest.fixture()
def chats(ann):
    bob = make_user("bob")["_id"]
    cid = make_user("cid")["_id"]
    direct = direct_conversation(ann, bob)["_id"]
    group = group_conversation(ann, [bob, cid])["_id"]
    return {"ann": ann, "bob": bob, "direct": direct, "group": group}


def test_a_muted_conversation_still_counts_unread(chats, events):
    view = convs.update_preferences(chats["bob"], chats["direct"], muted=True)
    assert view["isMuted"] is True and view["mutedUntil"] is None  # until unmuted
    (evt,) = named(events, "chat:conversation_updated")
    assert evt.user_ids == [chats["bob"]] and evt.payload["conversation"]["isMuted"] is True
    messages.send_message(chats["ann"], chats["direct"], "still counts")
    seen = convs.get_conversation(chats["bob"], chats["direct"])
    assert seen["isMuted"] is True and seen["unreadCount"] == 1
    assert convs.get_conversation(chats["ann"], chats["direct"])["isMuted"] is False  # only bob's
    assert convs.update_preferences(chats["bob"], chats["direct"], muted=False)["isMuted"] is False


def test_mute_for_a_while(chats):
    view = convs.update_preferences(chats["bob"], chats["group"], muted=True, muted_for=8 * 3600)
    until = datetime.fromisoformat(view["mutedUntil"])
    assert view["isMuted"] and timedelta(hours=7, minutes=59) < until - datetime.now(until.tzinfo) <= timedelta(hours=8)


@pytest.mark.parametrize("kwargs", [
    {"muted": "yes"}, {"muted": True, "muted_for": 5}, {"muted": True, "muted_for": 10**9},
    {"muted": False, "muted_for": 600}, {"muted_for": 600}, {}, {"pinned": 1}, {"archived": "true"},
    {"pinned": True, "archived": True},
])
def test_bad_preferences_are_a_400(chats, kwargs):
    with pytest.raises(ValidationFailed):
        convs.update_preferences(chats["bob"], chats["group"], **kwargs)


def test_pinned_conversations_come_first(chats):
    extra = [group_conversation(chats["ann"], [make_user()["_id"], make_user()["_id"]])["_id"] for _ in range(5)]
    messages.send_message(chats["bob"], chats["direct"], "newest activity")
    order = [c["_id"] for c in convs.list_conversations(chats["ann"], limit=100)[0]]
    assert order[0] == chats["direct"]
    convs.update_preferences(chats["ann"], chats["group"], pinned=True)
    convs.update_preferences(chats["ann"], extra[0], pinned=True)  # pinned last: on top
    listed = convs.list_conversations(chats["ann"], limit=100)[0]
    assert [c["_id"] for c in listed[:3]] == [extra[0], chats["group"], chats["direct"]]
    assert [c["isPinned"] for c in listed[:3]] == [True, True, False] and listed[0]["pinnedAt"]
    for cid in extra[1:4]:
        convs.update_preferences(chats["ann"], cid, pinned=True)
    with pytest.raises(Conflict) as err:
        convs.update_preferences(chats["ann"], extra[4], pinned=True)
    assert err.value.code == "too_many_pinned"
    convs.update_preferences(chats["ann"], chats["group"], pinned=False)
    assert convs.update_preferences(chats["ann"], extra[4], pinned=True)["isPinned"] is True


def test_archive_and_unarchive_explicitly(chats):
    convs.update_preferences(chats["ann"], chats["group"], pinned=True)
    view = convs.update_preferences(chats["ann"], chats["group"], archived=True)
    assert view["isArchived"] is True and view["isPinned"] is False  # archiving unpins, as in WhatsApp
    assert chats["group"] not in [c["_id"] for c in convs.list_conversations(chats["ann"])[0]]
    assert [c["_id"] for c in convs.list_conversations(chats["ann"], archived=True)[0]] == [chats["group"]]
    assert convs.update_preferences(chats["ann"], chats["group"], archived=False)["isArchived"] is False
    assert chats["group"] in [c["_id"] for c in convs.list_conversations(chats["ann"])[0]]


def test_preferences_of_a_conversation_one_is_not_in_are_a_404(chats):
    from utool_chat.domain.errors import NotFound

    outsider = make_user("zed")["_id"]
    for cid in (chats["group"], "f" * 32, "not an id"):
        with pytest.raises(NotFound):
            convs.update_preferences(outsider, cid, muted=True)
