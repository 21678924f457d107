"""Group and archive paths of the chat slice (utool_chat/state/chat_slice.py) and its views
(chat_views.py): the members view, the picker's search, chat:conversation_updated as the
listener applies it, and Retry's tempId."""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Any

from tests.state.test_chat_slice import ME, NOW, convo, loaded, msg, user
from utool_chat.events import Event
from utool_chat.state import chat_slice as s
from utool_chat.state import chat_views as v

ANN, ZED = "ann", "zed"


def group(**extra) -> dict:
    fields = {"type": "group", "name": "Trip", "participants": [user(ZED), user(ME), user(ANN), user("bob")],
              "admins": [ZED], **extra}
    return convo("g1", **fields)


def apply(chat: dict, name: str, payload: dict) -> None:
    # The listener's reducer step for one bus event.
    s.apply_event(chat, ME, Event(name, payload, [ME]), None)


def test_members_view_lists_you_first_then_admins_then_everyone_by_name():
    members = v.build_member_views(group(), ME)
    assert [(m.id, m.is_me, m.is_admin) for m in members] == [
        (ME, True, False), (ZED, False, True), (ANN, False, False), ("bob", False, False),
    ]


def test_people_search_matches_name_or_username_anywhere_ignoring_case_and_spaces():
    people = [
        v.person_view(user("carol")),
        v.person_view({"_id": "b", "username": "bob_1", "displayName": "Bob Baker"}),
    ]
    assert [p.id for p in v.filter_people(people, "  BAK ")] == ["b"]
    assert [p.id for p in v.filter_people(people, "ob_")] == ["b"]
    assert [p.id for p in v.filter_people(people, "")] == ["carol", "b"]
    assert v.filter_people(people, "nobody") == []


def test_rename_and_membership_events_update_the_open_group():
    chat = s.initial_chat()
    s.conversations_fetched(chat, [group()], has_more=False, page=1)
    s.set_current_conversation_id(chat, "g1")
    apply(chat, "chat:conversation_updated", {"conversation": group(name="Trip 2", admins=[ZED, ME])})
    entity = chat["conversations"]["entities"]["g1"]
    assert v.conversation_title(entity, ME) == "Trip 2"
    assert any(m.is_me and m.is_admin for m in v.build_member_views(entity, ME))


def test_removed_member_drops_the_group_and_its_messages():
    chat = loaded(1)
    s.conversations_fetched(chat, [convo(), group()], has_more=False, page=1)
    s.messages_fetched(chat, "g1", [msg(1)], False, older=False)
    s.set_current_conversation_id(chat, "g1")
    without_me = group(participants=[user(ZED), user(ANN)])
    apply(chat, "chat:conversation_updated", {"conversation": without_me, "removed": True})
    assert chat["conversations"]["ids"] == ["c1"]
    assert "g1" not in chat["messages"]["entities"]
    assert chat["conversations"]["currentConversationId"] is None


def test_archived_chat_is_hidden_until_a_new_message_unarchives_it():
    chat = s.initial_chat()
    s.conversations_fetched(chat, [convo(last=msg(1))], has_more=False, page=1)
    apply(chat, "chat:conversation_updated", {"conversation": convo(last=msg(1), isArchived=True)})
    assert v.build_conversation_items(chat, ME, UTC, NOW) == []
    # The domain's order on a new message: the message, the count, then the un-archived view.
    apply(chat, "chat:new_message", {"conversationId": "c1", "message": msg(2), "tempId": None})
    apply(chat, "chat:unread_count_update", {"conversationId": "c1", "unreadCount": 1})
    apply(chat, "chat:conversation_updated", {"conversation": convo(last=msg(2), isArchived=False, unreadCount=1)})
    [item] = v.build_conversation_items(chat, ME, UTC, NOW)
    assert (item.id, item.unread, item.snippet) == ("c1", 1, "text 2")


def test_retry_resends_under_the_same_temp_id_and_the_confirmation_replaces_it_once():
    chat = loaded(1)
    draft: dict[str, Any] = {"content": "hi", "attachments": [], "replyTo": None}
    s.optimistic_add_message(chat, "c1", {"tempId": "t1", "sender": user(ME), "content": "hi",
                                          "createdAt": "2026-03-10T12:00:00Z", "_draft": draft})
    s.mark_message_failed(chat, "c1", "t1", "Too many messages")
    view = v.build_message_views(chat, "c1", ME, UTC, NOW)[-1]
    assert (view.key, view.status, view.error) == ("t1", "failed", "Too many messages")
    retried = s.mark_message_sending(chat, "c1", "t1")
    assert retried is not None
    assert retried["tempId"] == "t1" and retried["_draft"] == draft and retried["error"] is None
    # The API reply and the bus event both confirm it: one message, the draft gone.
    s.receive_message(chat, "c1", msg(2, ME, content="hi"), "t1")
    apply(chat, "chat:new_message", {"conversationId": "c1", "message": msg(2, ME, content="hi"), "tempId": "t1"})
    assert chat["messages"]["idsByConversation"]["c1"] == ["m1", "m2"]


def test_a_group_admin_may_delete_anyones_message_but_edit_only_their_own():
    later = (NOW + timedelta(minutes=5)).isoformat()
    chat = s.initial_chat()
    s.conversations_fetched(chat, [group(admins=[ME])], has_more=False, page=1)
    s.messages_fetched(chat, "g1", [msg(2, ZED, editableUntil=later), msg(1, ME, editableUntil=later)], False, False)
    rights = [(view.can_edit, view.can_delete) for view in v.build_message_views(chat, "g1", ME, UTC, NOW)]
    assert rights == [(True, True), (False, True)]
    s.add_or_update_conversation(chat, group(admins=[ZED]))  # no longer an admin
    rights = [(view.can_edit, view.can_delete) for view in v.build_message_views(chat, "g1", ME, UTC, NOW)]
    assert rights == [(True, True), (False, False)]
