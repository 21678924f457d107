"""chat:sync: a client that was away catches up with nothing lost, in order."""

from __future__ import annotations

from tests.support.factories import direct_conversation, new_person


async def test_a_reconnecting_client_gets_every_message_it_missed_in_order(connect) -> None:
    alice, bob = new_person(), new_person()
    conversation_id = direct_conversation(alice, bob)["_id"]
    alice_socket, bob_socket = await connect(alice), await connect(bob)
    first = await alice_socket.call("chat:send_message", {"conversationId": conversation_id, "content": "before"})
    seen = (await bob_socket.next("chat:new_message"))["message"]["seq"]
    await bob_socket.disconnect()

    sent = []
    for i in range(5):
        payload = {"conversationId": conversation_id, "content": f"missed {i}"}
        ack = await alice_socket.call("chat:send_message", payload)
        sent.append(ack["data"]["message"]["_id"])

    bob_again = await connect(bob)
    ack = await bob_again.call("chat:sync", {"conversationId": conversation_id, "afterSeq": seen})

    assert ack["success"] is True
    data = ack["data"]
    assert [m["_id"] for m in data["messages"]] == sent
    assert [m["seq"] for m in data["messages"]] == [2, 3, 4, 5, 6]
    assert data["hasMore"] is False and data["lastSeq"] == 6
    assert first["data"]["message"]["seq"] == seen == 1


async def test_sync_pages_with_has_more(connect) -> None:
    alice, bob = new_person(), new_person()
    conversation_id = direct_conversation(alice, bob)["_id"]
    client = await connect(alice)
    for i in range(3):
        await client.call("chat:send_message", {"conversationId": conversation_id, "content": f"m{i}"})

    page = await client.call("chat:sync", {"conversationId": conversation_id, "afterSeq": 0, "limit": 2})
    rest = await client.call("chat:sync", {"conversationId": conversation_id, "afterSeq": page["data"]["lastSeq"]})

    assert [m["seq"] for m in page["data"]["messages"]] == [1, 2] and page["data"]["hasMore"] is True
    assert [m["seq"] for m in rest["data"]["messages"]] == [3] and rest["data"]["hasMore"] is False


async def test_a_non_participant_cannot_sync(connect) -> None:
    alice, bob, mallory = new_person(), new_person(), new_person()
    conversation_id = direct_conversation(alice, bob)["_id"]
    await (await connect(alice)).call("chat:send_message", {"conversationId": conversation_id, "content": "secret"})
    client = await connect(mallory)

    ack = await client.call("chat:sync", {"conversationId": conversation_id, "afterSeq": 0})

    assert ack["success"] is False and "data" not in ack
    error = await client.next("chat:error")
    assert error["conversationId"] == conversation_id and "secret" not in str(error)


async def test_sync_with_a_bad_after_seq_is_a_validation_error(connect) -> None:
    alice, bob = new_person(), new_person()
    conversation_id = direct_conversation(alice, bob)["_id"]
    client = await connect(alice)
    for after_seq in (-1, "3", True, 1.5):
        ack = await client.call("chat:sync", {"conversationId": conversation_id, "afterSeq": after_seq})
        assert ack["success"] is False and ack["code"] == "validation_error", (after_seq, ack)
