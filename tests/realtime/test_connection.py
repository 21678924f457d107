"""Connecting to /chat on the real backend: token auth at connect, the user room."""

from __future__ import annotations

import pytest
import socketio

from tests.support.factories import direct_conversation, new_person
from utool_chat.domain import accounts


@pytest.mark.parametrize("token", [None, "", "not-a-real-token", 12345])
async def test_a_missing_or_bad_token_is_refused_at_connect(connect, token) -> None:
    with pytest.raises(socketio.exceptions.ConnectionError):
        await connect(token)


async def test_a_logged_out_token_is_refused_at_connect(connect) -> None:
    alice = new_person()
    accounts.logout(alice.token)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await connect(alice)


async def test_every_socket_of_a_user_receives_that_users_events(connect) -> None:
    # Two tabs of Alice, neither of which joined the conversation's room.
    alice, bob = new_person(), new_person()
    conversation_id = direct_conversation(alice, bob)["_id"]
    tab1, tab2, bob_socket = await connect(alice), await connect(alice), await connect(bob)

    ack = await bob_socket.call("chat:send_message", {"conversationId": conversation_id, "content": "hi"})

    for tab in (tab1, tab2):
        event = await tab.next("chat:new_message")
        assert event["message"]["_id"] == ack["data"]["message"]["_id"]


async def test_unknown_events_and_non_object_payloads_get_chat_error(connect) -> None:
    alice = new_person()
    client = await connect(alice)

    ack = await client.call("chat:no_such_thing", {"conversationId": "x"})
    assert ack == {"success": False, "error": ack["error"], "code": "unknown_event"}
    assert (await client.next("chat:error"))["code"] == "unknown_event"

    for payload in ["conversation", 42, ["a"], None]:
        ack = await client.call("chat:join_conversation", payload)
        assert ack["success"] is False and ack["code"] == "validation_error"
        error = await client.next("chat:error")
        assert error["code"] == "validation_error" and "Traceback" not in error["message"]


async def test_the_websocket_accepts_the_subprotocol_a_browser_offers(backend) -> None:
    # Reflex's frontend opens /_event offering its version as a subprotocol; a browser drops a
    # websocket whose handshake does not answer with one of those it offered.
    import aiohttp

    url = f"{backend.url.replace('http', 'ws', 1)}/_event/?EIO=4&transport=websocket"
    async with aiohttp.ClientSession() as session, session.ws_connect(url, protocols=("0.10.1",)) as ws:
        assert ws.protocol == "0.10.1"
        assert (await ws.receive_str()).startswith("0{")  # the Engine.IO open packet


async def test_the_websocket_declines_permessage_deflate(backend) -> None:
    # Browsers offer it; a socket that took it would keep two zlib streams for its lifetime,
    # about 100 KB of memory per idle socket (utool_chat/serving.py).
    import aiohttp

    url = f"{backend.url.replace('http', 'ws', 1)}/_event/?EIO=4&transport=websocket"
    async with aiohttp.ClientSession() as session, session.ws_connect(url, compress=15) as ws:
        assert ws.compress == 0
        assert (await ws.receive_str()).startswith("0{")
