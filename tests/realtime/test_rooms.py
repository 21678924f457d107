"""chat:join_conversation / chat:leave_conversation."""

from __future__ import annotations

import pytest

from tests.support.factories import direct_conversation, new_person


async def test_a_participant_joins_and_gets_the_ack(connect) -> None:
    alice, bob = new_person(), new_person()
    conversation_id = direct_conversation(alice, bob)["_id"]
    client = await connect(alice)

    ack = await client.call("chat:join_conversation", {"conversationId": conversation_id})

    assert ack == {"success": True, "data": {"conversationId": conversation_id}}
    assert await client.next("chat:joined_conversation_ack") == {"conversationId": conversation_id}


async def test_a_non_participant_cannot_join_and_learns_nothing(connect) -> None:
    alice, bob, mallory = new_person(), new_person(), new_person()
    conversation_id = direct_conversation(alice, bob)["_id"]
    client = await connect(mallory)

    ack = await client.call("chat:join_conversation", {"conversationId": conversation_id})
    missing = await client.call("chat:join_conversation", {"conversationId": "f" * 32})

    # Same answer as for a conversation that does not exist: its existence is not revealed.
    assert ack["success"] is False and ack["code"] == missing["code"] and ack["error"] == missing["error"]
    error = await client.next("chat:error")
    assert error == {"message": ack["error"], "code": ack["code"], "conversationId": conversation_id}
    await client.assert_nothing("chat:joined_conversation_ack")


@pytest.mark.parametrize("payload", [{}, {"conversationId": None}, {"conversationId": 7}, {"conversationId": ["x"]}])
async def test_join_without_a_string_id_is_a_validation_error(connect, payload) -> None:
    client = await connect(new_person())
    ack = await client.call("chat:join_conversation", payload)
    assert ack["success"] is False and ack["code"] == "validation_error"
    assert (await client.next("chat:error"))["code"] == "validation_error"


@pytest.mark.parametrize("conversation_id", ["", "x" * 65, "a b", "a\x00b"])
async def test_join_with_a_malformed_id_is_the_same_404_as_a_missing_one(connect, conversation_id) -> None:
    client = await connect(new_person())
    ack = await client.call("chat:join_conversation", {"conversationId": conversation_id})
    missing = await client.call("chat:join_conversation", {"conversationId": "f" * 32})
    assert ack == missing == {"success": False, "error": "Conversation not found.", "code": "conversation_not_found"}


async def test_leave_acknowledges(connect) -> None:
    alice, bob = new_person(), new_person()
    conversation_id = direct_conversation(alice, bob)["_id"]
    client = await connect(alice)
    await client.call("chat:join_conversation", {"conversationId": conversation_id})

    ack = await client.call("chat:leave_conversation", {"conversationId": conversation_id})

    assert ack == {"success": True, "data": {"conversationId": conversation_id}}
