"""Mentions through the domain: stored by id, only of current members, @everyone for group
admins, each mentioned member's unreadMentions, and the events that carry them."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.support.events import named
from tests.support.factories import befriend, direct_conversation, group_conversation, make_user
from utool_chat.db.engine import session_scope
from utool_chat.db.models import User
from utool_chat.domain import conversations as convs
from utool_chat.domain import messages


@pytest.fixture()
def team(db):
    ann, bob, cid, dee = (make_user(n) for n in ("ann", "bob", "cid", "dee"))
    conv = group_conversation(ann, [bob, cid])
    return {"ann": ann["_id"], "bob": bob["_id"], "cid": cid["_id"], "dee": dee["_id"], "conv": conv["_id"]}


def say(sender: str, conversation_id: str, text: str) -> dict:
    return messages.send_message(sender, conversation_id, text)[0]


def mentions_of(user_id: str, conversation_id: str) -> int:
    return convs.get_conversation(user_id, conversation_id)["unreadMentions"]


def test_a_mention_is_stored_by_id_rendered_with_the_name_and_counted_until_read(team):
    msg = say(team["cid"], team["conv"], f"<@{team['bob']}> can you look? cc @ann")
    assert msg["mentions"] == [team["bob"], team["ann"]] and msg["mentionsEveryone"] is False
    assert msg["content"] == f"<@{team['bob']}> can you look? cc @ann"  # stored as typed
    assert f'data-user-id="{team["bob"]}">@Bob</span>' in msg["contentHtml"]
    assert msg["snippet"] == "@Bob can you look? cc @Ann"
    assert mentions_of(team["bob"], team["conv"]) == 1 and mentions_of(team["ann"], team["conv"]) == 1
    assert mentions_of(team["cid"], team["conv"]) == 0  # one's own message mentions nobody for oneself
    messages.mark_read(team["bob"], team["conv"], msg["_id"])
    assert mentions_of(team["bob"], team["conv"]) == 0 and mentions_of(team["ann"], team["conv"]) == 1


def test_only_current_members_can_be_mentioned(team):
    convs.update_conversation(team["ann"], team["conv"], remove_participant_ids=[team["cid"]])
    msg = say(team["ann"], team["conv"], f"<@{team['dee']}> <@{team['cid']}> <@{'f' * 32}> @dee @cid hi")
    assert msg["mentions"] == [] and "mention" not in msg["contentHtml"]
    assert f"&lt;@{team['dee']}&gt;" in msg["contentHtml"]


def test_everyone_is_for_group_admins_and_reaches_every_member(team, events):
    plain = say(team["bob"], team["conv"], "@everyone lunch?")  # bob is not an admin
    assert plain["mentionsEveryone"] is False and mentions_of(team["cid"], team["conv"]) == 0
    events.clear()
    loud = say(team["ann"], team["conv"], "@everyone standup in 5")
    assert loud["mentionsEveryone"] is True and loud["mentions"] == []
    assert mentions_of(team["bob"], team["conv"]) == 1 and mentions_of(team["cid"], team["conv"]) == 1
    assert mentions_of(team["ann"], team["conv"]) == 0
    updates = {e.user_ids[0]: e.payload for e in named(events, "chat:unread_count_update")}
    # bob read everything when he wrote: only the new one is unread, and it mentions him
    assert updates[team["bob"]] == {"conversationId": team["conv"], "unreadCount": 1, "unreadMentions": 1}


def test_everyone_in_a_direct_chat_is_plain_text(db):
    ann, bob = make_user("ann")["_id"], make_user("bob")["_id"]
    conv = direct_conversation(ann, bob)["_id"]
    assert say(ann, conv, "@everyone hi")["mentionsEveryone"] is False


def test_the_mentioned_member_hears_it_live(team, events):
    msg = say(team["ann"], team["conv"], f"ping <@{team['cid']}>")
    (new,) = named(events, "chat:new_message")
    assert new.payload["message"]["mentions"] == [team["cid"]] and team["cid"] in new.user_ids
    counts = {e.user_ids[0]: e.payload["unreadMentions"] for e in named(events, "chat:unread_count_update")}
    assert counts == {team["bob"]: 0, team["cid"]: 1}
    events.clear()
    messages.mark_read(team["cid"], team["conv"], msg["_id"])
    (read,) = named(events, "chat:unread_count_update")
    assert read.payload["unreadMentions"] == 0


def test_editing_changes_who_is_mentioned(team, events):
    msg = say(team["ann"], team["conv"], f"<@{team['bob']}> look")
    events.clear()
    edited = messages.edit_message(team["ann"], msg["_id"], f"<@{team['cid']}> look")
    assert edited["mentions"] == [team["cid"]]
    assert mentions_of(team["bob"], team["conv"]) == 0 and mentions_of(team["cid"], team["conv"]) == 1
    counts = {e.user_ids[0]: e.payload["unreadMentions"] for e in named(events, "chat:unread_count_update")}
    assert counts == {team["bob"]: 0, team["cid"]: 1}


def test_deleting_a_message_takes_its_mentions_away(team):
    msg = say(team["ann"], team["conv"], f"<@{team['bob']}> oops")
    deleted = messages.delete_message(team["ann"], msg["_id"])
    assert deleted["mentions"] == [] and deleted["contentHtml"] == "" and deleted["snippet"] == ""
    assert mentions_of(team["bob"], team["conv"]) == 0


def test_a_rename_does_not_break_a_mention(team):
    msg = say(team["ann"], team["conv"], f"thanks <@{team['bob']}>")
    with session_scope() as session:
        session.execute(sa.update(User).where(User.id == team["bob"]).values(display_name="Robert"))
    page, _ = messages.list_messages(team["cid"], team["conv"])
    served = next(m for m in page if m["_id"] == msg["_id"])
    # Still a mention of the same person: the id is what is stored.
    assert served["mentions"] == [team["bob"]] and f'data-user-id="{team["bob"]}"' in served["contentHtml"]
    assert served["content"] == f"thanks <@{team['bob']}>"


def test_huge_markdown_with_mentions_is_stored_and_bounded(team):
    content = ("> " * 1000 + f"<@{team['bob']}>")[:4000]
    msg = say(team["ann"], team["conv"], content)
    assert msg["content"] == content and msg["contentHtml"].count("<blockquote>") <= 20
    befriend(team["ann"], team["dee"])
    many = say(team["ann"], team["conv"], " ".join(f"<@{team['bob']}>" for _ in range(100)))
    assert many["mentions"] == [team["bob"]]
