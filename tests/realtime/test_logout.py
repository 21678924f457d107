"""Logging out ends the session's live connections: every /chat socket of the logged-out
token is disconnected at once; the user's other logins keep theirs."""

from __future__ import annotations

import asyncio

import pytest
import socketio

from tests.realtime.conftest import EVENT_TIMEOUT
from tests.support.factories import PASSWORD, Person, direct_conversation, new_person
from utool_chat.domain import accounts


async def test_http_logout_disconnects_every_socket_of_that_token_and_no_other(connect, http) -> None:
    alice, bob = new_person(password=PASSWORD), new_person()
    conversation_id = direct_conversation(alice, bob)["_id"]
    other_login = Person(alice.user, accounts.login(alice.user["username"], PASSWORD)["token"])
    tab1, tab2 = await connect(alice), await connect(alice)  # two tabs sharing one login
    phone = await connect(other_login)
    bob_socket = await connect(bob)

    response = await http.post("/api/v1/auth/logout", headers=alice.headers)
    assert response.status_code == 200, response.text

    for tab in (tab1, tab2):
        await asyncio.wait_for(tab.disconnected.wait(), EVENT_TIMEOUT)
    # The other login is still connected and still receives Alice's events.
    ack = await bob_socket.call("chat:send_message", {"conversationId": conversation_id, "content": "still there?"})
    event = await phone.next("chat:new_message")
    assert event["message"]["_id"] == ack["data"]["message"]["_id"]
    assert not phone.disconnected.is_set() and not bob_socket.disconnected.is_set()
    # Nothing of the session's end is emitted to the sockets that stay (no session ids leak).
    assert phone.drain("auth:session_revoked") == []
    # The revoked token cannot come back.
    with pytest.raises(socketio.exceptions.ConnectionError):
        await connect(alice)
