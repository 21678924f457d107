"""Edit and delete rights (domain/permissions.py): the pure rules, `editableUntil` on every
served message, and the domain refusing exactly what the rules refuse."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.support.factories import direct_conversation, group_conversation, make_user
from utool_chat import config
from utool_chat.domain import conversations, messages
from utool_chat.domain.errors import Conflict, Forbidden
from utool_chat.domain.permissions import can_delete, can_edit, delete_refusal, edit_refusal

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def message(sender: str | None = "ann", *, deleted: bool = False, until: datetime | None = NOW) -> dict:
    return {
        "_id": "m1",
        "sender": {"_id": sender} if sender else None,
        "isDeleted": deleted,
        "editableUntil": until.isoformat().replace("+00:00", "Z") if until else None,
    }


def test_only_the_sender_may_edit_and_only_until_editable_until() -> None:
    assert can_edit(message(), "ann", NOW)  # the last instant still counts
    assert edit_refusal(message(), "ann", NOW + timedelta(microseconds=1)) == "edit_window_passed"
    assert edit_refusal(message(), "bob", NOW - timedelta(minutes=1)) == "not_sender"
    assert edit_refusal(message(deleted=True, until=None), "ann", NOW) == "message_deleted"
    assert edit_refusal(message(until=None), "ann", NOW) == "edit_window_passed"  # nobody may any more
    assert not can_edit({"tempId": "t1", "sender": {"_id": "ann"}}, "ann", NOW)  # not confirmed yet


def test_the_sender_or_an_admin_may_delete_what_is_not_deleted_yet() -> None:
    assert can_delete(message(), "ann", viewer_is_admin=False)
    assert can_delete(message(), "bob", viewer_is_admin=True)
    assert delete_refusal(message(), "bob", viewer_is_admin=False) == "not_allowed"
    assert not can_delete(message(deleted=True), "ann", viewer_is_admin=True)
    assert delete_refusal(message(deleted=True), "ann", viewer_is_admin=False) is None  # deleting twice: a no-op
    assert can_delete(message(sender=None), "bob", viewer_is_admin=True)
    assert not can_delete({"tempId": "t1", "sender": {"_id": "ann"}}, "ann", viewer_is_admin=False)


@pytest.fixture()
def chat(db):
    ann, bob = make_user("ann")["_id"], make_user("bob")["_id"]
    return ann, bob, direct_conversation(ann, bob)["_id"]


def test_every_served_message_carries_editable_until(chat) -> None:
    ann, bob, conv = chat
    sent, _ = messages.send_message(ann, conv, "hello")
    created = datetime.fromisoformat(sent["createdAt"])
    window = timedelta(seconds=config.settings.edit_window_seconds)
    assert datetime.fromisoformat(sent["editableUntil"]) == created + window
    [listed], _ = messages.list_messages(bob, conv)
    assert listed["editableUntil"] == sent["editableUntil"]
    assert conversations.get_conversation(bob, conv)["lastMessage"]["editableUntil"] == sent["editableUntil"]
    edited = messages.edit_message(ann, sent["_id"], "hello!")
    assert edited["editableUntil"] == sent["editableUntil"]  # an edit does not extend the window
    assert messages.delete_message(ann, sent["_id"])["editableUntil"] is None


def test_the_domain_refuses_exactly_what_the_rules_refuse(chat, monkeypatch) -> None:
    ann, bob, conv = chat
    sent, _ = messages.send_message(ann, conv, "hello")
    now = datetime.now(UTC)
    assert not can_edit(sent, bob, now)
    with pytest.raises(Forbidden) as refused:
        messages.edit_message(bob, sent["_id"], "mine now")
    assert refused.value.code == "not_sender"
    assert not can_delete(sent, bob, viewer_is_admin=False)
    with pytest.raises(Forbidden) as refused:
        messages.delete_message(bob, sent["_id"])
    assert refused.value.code == "not_allowed"

    monkeypatch.setattr(config, "settings", config.Settings(edit_window_seconds=0))
    [stale], _ = messages.list_messages(ann, conv)
    assert not can_edit(stale, ann, datetime.now(UTC))
    with pytest.raises(Forbidden) as refused:
        messages.edit_message(ann, sent["_id"], "too late")
    assert refused.value.code == "edit_window_passed"

    gone = messages.delete_message(ann, sent["_id"])
    assert not can_edit(gone, ann, now) and not can_delete(gone, ann, viewer_is_admin=False)
    with pytest.raises(Conflict):
        messages.edit_message(ann, sent["_id"], "back")


def test_a_group_admin_may_delete_anyones_message(db) -> None:
    ann, bob, cid = (make_user(n)["_id"] for n in ("ann", "bob", "cid"))
    group = group_conversation(ann, [bob, cid])["_id"]
    theirs, _ = messages.send_message(bob, group, "from bob")
    assert can_delete(theirs, ann, viewer_is_admin=True) and not can_delete(theirs, cid, viewer_is_admin=False)
    assert messages.delete_message(ann, theirs["_id"])["isDeleted"] is True
