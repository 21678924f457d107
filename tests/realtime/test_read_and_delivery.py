"""chat:mark_messages_read, chat:message_delivered, and chat:message_updated for changes
made over HTTP (edit, delete, reactions)."""

from __future__ import annotations

from urllib.parse import quote

from tests.support.factories import direct_conversation, new_person


async def send(client, conversation_id: str, content: str) -> dict:
    ack = await client.call("chat:send_message", {"conversationId": conversation_id, "content": content})
    assert ack["success"], ack
    return ack["data"]["message"]


async def test_mark_read_updates_the_readers_other_tabs_and_tells_the_sender(connect) -> None:
    alice, bob = new_person(), new_person()
    conversation_id = direct_conversation(alice, bob)["_id"]
    alice_socket, bob_tab1, bob_tab2 = await connect(alice), await connect(bob), await connect(bob)
    await send(alice_socket, conversation_id, "one")
    last = await send(alice_socket, conversation_id, "two")
    bob_tab2.drain("chat:unread_count_update")

    ack = await bob_tab1.call("chat:mark_messages_read",
                              {"conversationId": conversation_id, "lastReadMessageId": last["_id"]})

    assert ack["success"] is True
    assert ack["data"]["conversationId"] == conversation_id and ack["data"]["unreadCount"] == 0
    assert await bob_tab2.next("chat:unread_count_update", where=lambda e: e["unreadCount"] == 0) == {
        "conversationId": conversation_id, "unreadCount": 0, "unreadMentions": 0,
    }
    updated = await alice_socket.next("chat:message_updated", where=lambda e: e["message"]["_id"] == last["_id"])
    assert updated["conversationId"] == conversation_id
    assert updated["message"]["status"] == "read"
    assert [r["user"] for r in updated["message"]["readBy"]] == [bob.id]


async def test_a_non_participant_cannot_mark_read(connect) -> None:
    alice, bob, mallory = new_person(), new_person(), new_person()
    conversation_id = direct_conversation(alice, bob)["_id"]
    alice_socket, mallory_socket = await connect(alice), await connect(mallory)
    message = await send(alice_socket, conversation_id, "private")

    ack = await mallory_socket.call("chat:mark_messages_read",
                                    {"conversationId": conversation_id, "lastReadMessageId": message["_id"]})

    assert ack["success"] is False and "data" not in ack
    assert (await mallory_socket.next("chat:error"))["conversationId"] == conversation_id
    await alice_socket.assert_nothing("chat:message_updated")


async def test_mark_read_without_a_message_id_is_a_validation_error(connect) -> None:
    alice, bob = new_person(), new_person()
    conversation_id = direct_conversation(alice, bob)["_id"]
    client = await connect(bob)
    ack = await client.call("chat:mark_messages_read", {"conversationId": conversation_id})
    assert ack["success"] is False and ack["code"] == "validation_error"


async def test_delivered_makes_the_senders_message_status_delivered(connect) -> None:
    alice, bob = new_person(), new_person()
    conversation_id = direct_conversation(alice, bob)["_id"]
    alice_socket, bob_socket = await connect(alice), await connect(bob)
    message = await send(alice_socket, conversation_id, "did you get this?")
    assert message["status"] == "sent"
    await bob_socket.next("chat:new_message")

    ack = await bob_socket.call("chat:message_delivered",
                                {"conversationId": conversation_id, "messageId": message["_id"]})

    assert ack["success"] is True and ack["data"]["message"]["_id"] == message["_id"]
    updated = await alice_socket.next("chat:message_updated")
    assert updated["message"]["_id"] == message["_id"] and updated["message"]["status"] == "delivered"


async def test_a_non_participant_cannot_mark_delivered(connect) -> None:
    alice, bob, mallory = new_person(), new_person(), new_person()
    conversation_id = direct_conversation(alice, bob)["_id"]
    alice_socket, mallory_socket = await connect(alice), await connect(mallory)
    message = await send(alice_socket, conversation_id, "hi")

    ack = await mallory_socket.call("chat:message_delivered",
                                    {"conversationId": conversation_id, "messageId": message["_id"]})

    assert ack["success"] is False
    await alice_socket.assert_nothing("chat:message_updated")


async def test_http_edit_delete_and_reactions_reach_both_participants(connect, http) -> None:
    alice, bob = new_person(), new_person()
    conversation_id = direct_conversation(alice, bob)["_id"]
    alice_socket, bob_socket = await connect(alice), await connect(bob)
    mid = (await send(alice_socket, conversation_id, "frist"))["_id"]

    async def updates() -> list[dict]:
        """The next chat:message_updated on both sockets (they must agree)."""
        seen = [await s.next("chat:message_updated", where=lambda e: e["message"]["_id"] == mid)
                for s in (alice_socket, bob_socket)]
        assert seen[0]["conversationId"] == seen[1]["conversationId"] == conversation_id
        return [e["message"] for e in seen]

    r = await http.put(f"/api/v1/chat/messages/{mid}", json={"content": "first"}, headers=alice.headers)
    assert r.status_code == 200, r.text
    for message in await updates():
        assert message["content"] == "first" and message["isEdited"] is True

    r = await http.post(f"/api/v1/chat/messages/{mid}/reactions", json={"emoji": "👍"}, headers=bob.headers)
    assert r.status_code in (200, 201), r.text
    for message in await updates():
        assert message["reactions"] == [{"user": bob.id, "emoji": "👍"}]

    r = await http.delete(f"/api/v1/chat/messages/{mid}/reactions/{quote('👍')}", headers=bob.headers)
    assert r.status_code == 200, r.text
    for message in await updates():
        assert message["reactions"] == []

    r = await http.delete(f"/api/v1/chat/messages/{mid}", headers=alice.headers)
    assert r.status_code == 200, r.text
    for message in await updates():
        assert message["isDeleted"] is True and message["content"] == "" and message["attachments"] == []
