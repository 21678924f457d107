"""chat:typing_start / chat:typing_end, and typing that ends by itself."""

from __future__ import annotations

import asyncio

from tests.realtime.conftest import TYPING_TTL
from tests.support.factories import direct_conversation, new_person


async def typing_pair(connect):
    alice, bob = new_person("Alice A."), new_person()
    conversation_id = direct_conversation(alice, bob)["_id"]
    return conversation_id, alice, await connect(alice), await connect(bob)


async def test_typing_start_tells_the_other_participant_only(connect) -> None:
    conversation_id, alice, alice_socket, bob_socket = await typing_pair(connect)

    ack = await alice_socket.call("chat:typing_start", {"conversationId": conversation_id})

    assert ack == {"success": True, "data": {"conversationId": conversation_id}}
    assert await bob_socket.next("chat:user_typing") == {
        "conversationId": conversation_id, "userId": alice.id, "userName": "Alice A.",
    }
    await alice_socket.assert_nothing("chat:user_typing", within=0.1)


async def test_typing_end_tells_the_other_participant(connect) -> None:
    conversation_id, alice, alice_socket, bob_socket = await typing_pair(connect)
    await alice_socket.call("chat:typing_start", {"conversationId": conversation_id})

    ack = await alice_socket.call("chat:typing_end", {"conversationId": conversation_id})

    assert ack["success"] is True
    assert await bob_socket.next("chat:user_stopped_typing") == {"conversationId": conversation_id, "userId": alice.id}


async def test_typing_not_refreshed_expires_after_the_ttl(connect) -> None:
    conversation_id, alice, alice_socket, bob_socket = await typing_pair(connect)
    loop = asyncio.get_running_loop()

    await alice_socket.call("chat:typing_start", {"conversationId": conversation_id})
    started = loop.time()
    await bob_socket.next("chat:user_typing")
    await alice_socket.call("chat:typing_start", {"conversationId": conversation_id})  # a refresh
    stopped = await bob_socket.next("chat:user_stopped_typing", timeout=TYPING_TTL + 3)

    assert stopped == {"conversationId": conversation_id, "userId": alice.id}
    assert loop.time() - started >= TYPING_TTL * 0.9
    await bob_socket.assert_nothing("chat:user_typing", within=0.1)  # a refresh is not re-announced


async def test_a_refresh_keeps_typing_alive(connect) -> None:
    conversation_id, _alice, alice_socket, bob_socket = await typing_pair(connect)

    await alice_socket.call("chat:typing_start", {"conversationId": conversation_id})
    for _ in range(2):
        await asyncio.sleep(TYPING_TTL * 0.6)
        await alice_socket.call("chat:typing_start", {"conversationId": conversation_id})

    assert bob_socket.drain("chat:user_stopped_typing") == []  # 1.2 TTL after the start
    await bob_socket.next("chat:user_stopped_typing", timeout=TYPING_TTL + 3)


async def test_disconnecting_ends_that_sockets_typing_at_once(connect) -> None:
    conversation_id, alice, alice_socket, bob_socket = await typing_pair(connect)
    await alice_socket.call("chat:typing_start", {"conversationId": conversation_id})
    await bob_socket.next("chat:user_typing")

    await alice_socket.disconnect()

    stopped = await bob_socket.next("chat:user_stopped_typing", timeout=TYPING_TTL / 2)
    assert stopped["userId"] == alice.id


async def test_sending_a_message_ends_typing(connect) -> None:
    conversation_id, alice, alice_socket, bob_socket = await typing_pair(connect)
    await alice_socket.call("chat:typing_start", {"conversationId": conversation_id})

    await alice_socket.call("chat:send_message", {"conversationId": conversation_id, "content": "done typing"})

    stopped = await bob_socket.next("chat:user_stopped_typing", timeout=TYPING_TTL / 2)
    assert stopped["userId"] == alice.id


async def test_a_non_participant_typing_gets_chat_error_and_nobody_is_told(connect) -> None:
    conversation_id, _alice, alice_socket, bob_socket = await typing_pair(connect)
    mallory = await connect(new_person())

    for event in ("chat:typing_start", "chat:typing_end"):
        ack = await mallory.call(event, {"conversationId": conversation_id})
        assert ack["success"] is False
        assert (await mallory.next("chat:error"))["conversationId"] == conversation_id

    await bob_socket.assert_nothing("chat:user_typing")
    assert bob_socket.drain("chat:user_stopped_typing") == []
    assert alice_socket.drain("chat:user_typing") == []
