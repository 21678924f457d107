"""chat:send_message over the socket, and chat:new_message for sends from either door."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from tests.realtime.conftest import SEND_LIMIT
from tests.support.factories import direct_conversation, group_conversation, new_person


async def test_a_socket_send_is_acked_and_reaches_the_other_participant_without_joining(connect) -> None:
    alice, bob = new_person(), new_person("Bob")
    conversation_id = direct_conversation(alice, bob)["_id"]
    alice_socket, bob_socket = await connect(alice), await connect(bob)

    ack = await bob_socket.call("chat:send_message", {
        "conversationId": conversation_id, "content": "Hello Alice", "contentType": "text", "tempId": "tmp-1",
    })

    assert ack["success"] is True and set(ack["data"]) == {"message", "tempId"}
    message = ack["data"]["message"]
    assert ack["data"]["tempId"] == "tmp-1"
    assert message["content"] == "Hello Alice" and message["seq"] == 1
    assert message["conversationId"] == conversation_id and message["sender"]["_id"] == bob.id
    event = await alice_socket.next("chat:new_message")
    assert event == {"conversationId": conversation_id, "message": event["message"], "tempId": "tmp-1"}
    assert event["message"]["_id"] == message["_id"] and event["message"]["content"] == "Hello Alice"
    # The sender's sockets get it too (with the tempId, to confirm the optimistic copy).
    assert (await bob_socket.next("chat:new_message"))["tempId"] == "tmp-1"


async def test_the_same_temp_id_twice_stores_one_message_and_announces_it_again(connect) -> None:
    alice, bob = new_person(), new_person()
    conversation_id = direct_conversation(alice, bob)["_id"]
    alice_socket, bob_socket = await connect(alice), await connect(bob)
    payload = {"conversationId": conversation_id, "content": "only once", "tempId": uuid.uuid4().hex}

    first = await bob_socket.call("chat:send_message", payload)
    retry = await bob_socket.call("chat:send_message", payload)

    assert first["success"] and retry["success"]
    assert retry["data"]["message"]["_id"] == first["data"]["message"]["_id"]
    assert (await alice_socket.next("chat:new_message"))["message"]["_id"] == first["data"]["message"]["_id"]
    # The retry announces the stored message again (the first announcement may have died with
    # the backend that stored it): the same _id, which clients already have.
    again = await alice_socket.next("chat:new_message")
    assert again["message"]["_id"] == first["data"]["message"]["_id"] and again["tempId"] == payload["tempId"]
    await alice_socket.assert_nothing("chat:new_message")
    sync = await alice_socket.call("chat:sync", {"conversationId": conversation_id, "afterSeq": 0})
    assert [m["content"] for m in sync["data"]["messages"]] == ["only once"]


async def test_a_non_participant_cannot_send_and_nobody_hears_of_it(connect) -> None:
    alice, bob, mallory = new_person(), new_person(), new_person()
    conversation_id = direct_conversation(alice, bob)["_id"]
    alice_socket, mallory_socket = await connect(alice), await connect(mallory)

    ack = await mallory_socket.call("chat:send_message", {"conversationId": conversation_id, "content": "let me in"})

    assert ack["success"] is False and ack["code"].endswith("not_found")
    error = await mallory_socket.next("chat:error")
    assert error["conversationId"] == conversation_id and error["code"] == ack["code"]
    await alice_socket.assert_nothing("chat:new_message")


@pytest.mark.parametrize("content", ["", "   ", 42, None, ["hi"], "x" * 4001])
async def test_invalid_content_is_refused_with_an_error_envelope(connect, content) -> None:
    alice, bob = new_person(), new_person()
    conversation_id = direct_conversation(alice, bob)["_id"]
    client = await connect(alice)

    ack = await client.call("chat:send_message", {"conversationId": conversation_id, "content": content})

    assert ack["success"] is False and ack["code"] and ack["error"]
    assert (await client.next("chat:error"))["code"] == ack["code"]


async def test_group_messages_reach_every_member(connect) -> None:
    owner, bob, carol = new_person(), new_person(), new_person()
    conversation_id = group_conversation(owner, [bob, carol])["_id"]
    sockets = [await connect(p) for p in (owner, bob, carol)]

    ack = await sockets[0].call("chat:send_message", {"conversationId": conversation_id, "content": "all hands"})

    for client in sockets[1:]:
        assert (await client.next("chat:new_message"))["message"]["_id"] == ack["data"]["message"]["_id"]


async def test_an_http_send_reaches_the_socket_after_commit(connect, http) -> None:
    alice, bob = new_person(), new_person()
    conversation_id = direct_conversation(alice, bob)["_id"]
    alice_socket = await connect(alice)

    response = await http.post(f"/api/v1/chat/conversations/{conversation_id}/messages",
                               json={"content": "via HTTP", "tempId": "h-1"}, headers=bob.headers)

    assert response.status_code == 201, response.text
    event = await alice_socket.next("chat:new_message")
    assert event["message"]["_id"] == response.json()["data"]["message"]["_id"]
    assert event["tempId"] == "h-1"
    # Emitted after the commit: the message is already readable when the event arrives.
    sync = await alice_socket.call("chat:sync", {"conversationId": conversation_id, "afterSeq": 0})
    assert [m["_id"] for m in sync["data"]["messages"]] == [event["message"]["_id"]]


async def test_sending_too_fast_is_rate_limited(connect) -> None:
    alice, bob = new_person(), new_person()
    conversation_id = direct_conversation(alice, bob)["_id"]
    client = await connect(alice)

    acks = await asyncio.gather(*(
        client.call("chat:send_message", {"conversationId": conversation_id, "content": f"m{i}"})
        for i in range(SEND_LIMIT + 2)
    ))

    assert sum(a["success"] for a in acks) == SEND_LIMIT
    refused = [a for a in acks if not a["success"]]
    assert all(a["code"] == "rate_limited" and a["retryAfter"] >= 1 for a in refused)
    error = await client.next("chat:error")
    assert error["code"] == "rate_limited" and error["retryAfter"] >= 1
