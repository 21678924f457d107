"""Presence over Socket.IO against the real backend: connecting, chat:set_presence and
disconnecting reach friends and co-members as chat:presence_update; strangers hear nothing
and chat:get_presence tells them nothing. Also chat:message_info and live mentions."""

from __future__ import annotations

from tests.support.factories import befriend, direct_conversation, group_conversation, new_person
from utool_chat.domain import messages


def about(user_id: str, status: str | None = None):
    return lambda e: e["userId"] == user_id and (status is None or e["status"] == status)


async def test_a_friend_sees_me_come_online_go_away_and_leave(connect) -> None:
    alice, bob = new_person("Alice"), new_person("Bob")
    befriend(alice, bob)
    alice_socket = await connect(alice)
    bob_socket = await connect(bob)
    online = await alice_socket.next("chat:presence_update", where=about(bob.id, "online"))
    assert online["lastSeenAt"] is None and online["changedAt"]

    ack = await bob_socket.call("chat:set_presence", {"status": "away"})
    assert ack == {"success": True, "data": {"status": "away"}}
    away = await alice_socket.next("chat:presence_update", where=about(bob.id, "away"))
    assert away["lastSeenAt"] and away["changedAt"] >= online["changedAt"]

    got = await alice_socket.call("chat:get_presence", {"userIds": [bob.id]})
    assert got["data"]["presence"][bob.id]["status"] == "away"

    await bob_socket.disconnect()
    offline = await alice_socket.next("chat:presence_update", where=about(bob.id, "offline"))
    assert offline["lastSeenAt"] == away["lastSeenAt"]  # last active when he went away


async def test_a_co_member_sees_it_and_a_stranger_never_does(connect) -> None:
    owner, bob, carol, stranger = (new_person(n) for n in ("Owner", "Bob", "Carol", "Stranger"))
    group_conversation(owner, [bob, carol])  # carol and bob share a group, not a friendship
    carol_socket = await connect(carol)
    stranger_socket = await connect(stranger)
    bob_socket = await connect(bob)
    await carol_socket.next("chat:presence_update", where=about(bob.id, "online"))
    await bob_socket.disconnect()
    await carol_socket.next("chat:presence_update", where=about(bob.id, "offline"))
    await stranger_socket.assert_nothing("chat:presence_update")
    ask = await stranger_socket.call("chat:get_presence", {"userIds": [bob.id, carol.id, "0" * 32]})
    assert ask == {"success": True, "data": {"presence": {}}}


async def test_bad_presence_requests_are_refused(connect) -> None:
    me = await connect(new_person("Me"))
    for payload, code in (({"status": "invisible"}, "invalid_status"), ({}, "invalid_status"),
                          ({"status": ["away"]}, "invalid_status")):
        ack = await me.call("chat:set_presence", payload)
        assert ack["success"] is False and ack["code"] == code
    ack = await me.call("chat:get_presence", {"userIds": "everyone"})
    assert ack["success"] is False and ack["code"] == "validation_error"
    assert (await me.call("chat:set_presence", {"status": "online"}))["success"] is True  # still works


async def test_message_info_and_a_live_mention(connect) -> None:
    alice, bob = new_person("Alice"), new_person("Bob")
    conversation_id = direct_conversation(alice, bob)["_id"]
    alice_socket, bob_socket = await connect(alice), await connect(bob)
    sent = await alice_socket.call("chat:send_message",
                                   {"conversationId": conversation_id, "content": f"hey <@{bob.id}> **now**"})
    message = sent["data"]["message"]
    arrived = await bob_socket.next("chat:new_message", where=lambda e: e["message"]["_id"] == message["_id"])
    assert arrived["message"]["mentions"] == [bob.id] and "<strong>now</strong>" in arrived["message"]["contentHtml"]
    unread = await bob_socket.next("chat:unread_count_update")
    assert unread == {"conversationId": conversation_id, "unreadCount": 1, "unreadMentions": 1}
    await bob_socket.call("chat:mark_messages_read", {"conversationId": conversation_id,
                                                      "lastReadMessageId": message["_id"]})
    info = await alice_socket.call("chat:message_info", {"messageId": message["_id"]})
    assert [(m["user"]["_id"], m["status"]) for m in info["data"]["members"]] == [(bob.id, "read")]
    refused = await bob_socket.call("chat:message_info", {"messageId": message["_id"]})
    assert refused["success"] is False and refused["code"] == "not_sender"
    assert messages.list_messages(alice.id, conversation_id)[0][0]["status"] == "read"
