"""Over Socket.IO against the real backend: group notices arrive live, settings and
conversation preferences reach only their owner's sockets, read receipts stay private, and
hostile Markdown sent through a socket is stored as typed and rendered bounded."""

from __future__ import annotations

import httpx

from tests.support.factories import befriend, direct_conversation, group_conversation, new_person


async def test_a_rename_reaches_every_members_socket_as_a_notice(connect, http: httpx.AsyncClient) -> None:
    owner, bob, carol = new_person("Owner"), new_person("Bob"), new_person("Carol")
    group = group_conversation(owner, [bob, carol], name="Before")
    bob_socket, carol_socket = await connect(bob), await connect(carol)
    r = await http.put(f"/api/v1/chat/conversations/{group['_id']}", json={"name": "After"}, headers=owner.headers)
    assert r.status_code == 200, r.text
    for socket in (bob_socket, carol_socket):
        updated = await socket.next("chat:conversation_updated", where=lambda e: e["conversation"]["name"] == "After")
        notice = await socket.next("chat:new_message", where=lambda e: e["conversationId"] == group["_id"])
        assert notice["message"]["contentType"] == "system" and notice["tempId"] is None
        assert notice["message"]["notice"] == {"type": "group_renamed", "actorId": owner.id, "userIds": [],
                                               "name": "After", "oldName": "Before"}
        assert updated["conversation"]["lastMessage"]["_id"] == notice["message"]["_id"]
        assert updated["conversation"]["unreadCount"] == 2  # created + renamed


async def test_settings_and_preferences_reach_only_their_owner(connect, http: httpx.AsyncClient) -> None:
    alice, bob = new_person("Alice"), new_person("Bob")
    conversation_id = direct_conversation(alice, bob)["_id"]
    alice_socket, bob_socket = await connect(alice), await connect(bob)
    r = await http.put("/api/v1/users/me/settings", json={"notificationSound": False}, headers=alice.headers)
    assert r.status_code == 200
    assert (await alice_socket.next("chat:settings_updated"))["settings"]["notificationSound"] is False
    r = await http.put(f"/api/v1/chat/conversations/{conversation_id}/preferences", json={"muted": True},
                       headers=alice.headers)
    assert r.status_code == 200
    muted = await alice_socket.next("chat:conversation_updated")
    assert muted["conversation"]["isMuted"] is True
    await bob_socket.assert_nothing("chat:settings_updated")
    await bob_socket.assert_nothing("chat:conversation_updated")


async def test_a_reader_with_receipts_off_is_only_a_delivery_for_the_sender(connect, http: httpx.AsyncClient) -> None:
    alice, bob = new_person("Alice"), new_person("Bob")
    conversation_id = direct_conversation(alice, bob)["_id"]
    await http.put("/api/v1/users/me/settings", json={"readReceipts": False}, headers=bob.headers)
    alice_socket, bob_socket = await connect(alice), await connect(bob)
    sent = await alice_socket.call("chat:send_message", {"conversationId": conversation_id, "content": "read?"})
    message_id = sent["data"]["message"]["_id"]
    await bob_socket.call("chat:mark_messages_read", {"conversationId": conversation_id,
                                                      "lastReadMessageId": message_id})
    update = await alice_socket.next("chat:message_updated", where=lambda e: e["message"]["_id"] == message_id)
    assert update["message"]["status"] == "delivered" and update["message"]["readBy"] == []
    assert update["receipt"] == {"kind": "delivered", "userId": bob.id, "upToSeq": sent["data"]["message"]["seq"]}


async def test_hostile_markdown_through_a_socket(connect) -> None:
    alice, bob, stranger = new_person("Alice"), new_person("Bob"), new_person("Stranger")
    befriend(alice, bob)
    conversation_id = direct_conversation(alice, bob)["_id"]
    alice_socket, bob_socket = await connect(alice), await connect(bob)
    content = ("> " * 1000 + f"<@{stranger.id}> <script>alert(1)</script> [x](javascript:alert(1))")[:4000]
    ack = await alice_socket.call("chat:send_message", {"conversationId": conversation_id, "content": content})
    assert ack["success"] is True
    arrived = await bob_socket.next("chat:new_message")
    message = arrived["message"]
    assert message["content"] == content and message["mentions"] == []
    assert message["contentHtml"].count("<blockquote>") <= 20 and "<script" not in message["contentHtml"]
    assert "href" not in message["contentHtml"]
