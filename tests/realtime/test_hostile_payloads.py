"""Hostile payloads on every client → server event of the /chat namespace.

Whatever a client emits — no payload, a list, a string, a number, nested objects, fields of
the wrong type, 100k-character strings, NUL bytes, lone surrogates, someone else's
conversation or message id — it gets a failure ack in the contract envelope and a
chat:error (never an internal error, never a stack trace), its socket stays connected and
keeps working, and nothing reaches the members of a conversation the client is not in.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
import socketio

from tests.realtime.conftest import NAMESPACE, SEND_LIMIT, SOCKETIO_PATH
from tests.support.factories import Person, befriend, direct_conversation, group_conversation, new_person
from utool_chat.domain import conversations, messages
from utool_chat.domain.text import is_id

HUGE = "x" * 100_000
LEAK_MARKERS = ("Traceback", 'File "', "sqlalchemy", "psycopg")
# What a member of a conversation they are not in would hear if anything leaked.
LEAK_EVENTS = ("chat:new_message", "chat:message_updated", "chat:user_typing", "chat:user_stopped_typing",
               "chat:unread_count_update", "chat:conversation_updated")


@dataclass
class Cast:
    owner: Person  # owns `room`, which every attacker is added to (bob and carol are not in it)
    room: str
    room_message: str
    bob: Person  # bob and carol talk privately; no attacker is in their conversation
    carol: Person
    private: str
    private_message: str


@pytest.fixture(scope="module")
def cast(backend) -> Cast:
    owner, bob, carol = new_person("Owner"), new_person("Bob"), new_person("Carol")
    extras = [new_person("Extra").id for _ in range(2)]  # a group needs two others besides its owner
    room = group_conversation(owner, extras, name="Room")
    room_message, _ = messages.send_message(owner.id, room["_id"], "welcome")
    private = direct_conversation(bob, carol)["_id"]
    private_message, _ = messages.send_message(bob.id, private, "just between us")
    return Cast(owner, room["_id"], room_message["_id"], bob, carol, private, private_message["_id"])


def attacker(cast: Cast) -> Person:
    """A fresh member of the room (fresh, so that earlier tests' sends do not count
    against this one's rate limit)."""
    person = new_person("Mallory")
    befriend(cast.owner, person)  # people accept groups from friends by default
    conversations.update_conversation(cast.owner.id, cast.room, add_participant_ids=[person.id])
    return person


def not_an_object() -> list[Any]:
    return [None, [], ["x"], [{"conversationId": "x"}], "text", "", 42, -1, 1.5, True, False]


def hostile_ids(cast: Cast) -> list[Any]:
    """conversationId values that name nothing the attacker may touch."""
    return [None, 42, 1.5, True, [], ["x"], {}, {"$ne": None}, {"a": [{"b": {"c": [1, {"d": None}]}}]}, "", "   ",
            HUGE, "a\x00b", "\x00", "a\ud800b", "../../etc/passwd", uuid.uuid4().hex, cast.private]


def field_cases(cast: Cast) -> dict[str, list[dict[str, Any]]]:
    """Per event: payloads in the attacker's own conversation with one field wrong."""
    room = {"conversationId": cast.room}
    bad_message_ids: list[Any] = [None, 42, [], {}, "", HUGE, "a\x00", "\udc00", uuid.uuid4().hex, cast.private_message]
    attachment = {"url": "https://example.com/f.png", "type": "image/png"}
    contents: tuple[Any, ...] = (None, "", "   ", 42, True, [], ["hi"], {}, {"text": "hi"}, "x" * 4001, HUGE,
                                 "a\x00b", "\ud800")
    content_types: tuple[Any, ...] = ("system", "bogus", 42, [], HUGE, "te\x00xt")
    attachment_lists: tuple[Any, ...] = (
        "x", 42, {}, [1], ["x"], [None], [{"url": 1, "type": "image/png"}],
        [{**attachment, "url": "javascript:alert(1)"}], [{**attachment, "url": "//evil.example/x"}],
        [{**attachment, "type": "not a mime"}], [{**attachment, "size": 2**40}],
        [{**attachment, "size": -1}], [{**attachment, "size": "10"}], [{**attachment, "name": "a\x00"}],
        [{**attachment, "url": "https://e.com/" + HUGE}], [attachment] * 11)
    replies: tuple[Any, ...] = (42, [], {}, "a\x00", HUGE, uuid.uuid4().hex, cast.private_message)
    temp_ids: tuple[Any, ...] = (42, [], {}, True, "t" * 129, "a\x00", "\ud800")
    after_seqs: tuple[Any, ...] = (-1, "0", 1.5, True, [], {}, 2**70, "a\x00")
    limits: tuple[Any, ...] = (0, -5, 501, "10", 1.5, True, [], 2**70)
    return {
        "chat:send_message": [
            *({**room, "content": c} for c in contents),
            *({**room, "content": "hi", "contentType": t} for t in content_types),
            *({**room, "content": "hi", "attachments": a} for a in attachment_lists),
            *({**room, "content": "hi", "replyTo": r} for r in replies),
            *({**room, "content": "hi", "tempId": t} for t in temp_ids),
        ],
        "chat:mark_messages_read": [{**room, "lastReadMessageId": m} for m in bad_message_ids],
        "chat:message_delivered": [{**room, "messageId": m} for m in bad_message_ids],
        "chat:sync": [
            *({**room, "afterSeq": s} for s in after_seqs),
            *({**room, "afterSeq": 0, "limit": n} for n in limits),
        ],
    }


CLIENT_EVENTS = ["chat:join_conversation", "chat:leave_conversation", "chat:send_message", "chat:typing_start",
                 "chat:typing_end", "chat:mark_messages_read", "chat:message_delivered", "chat:sync"]


async def assert_refused(client, event: str, payload: Any) -> dict[str, Any]:
    ack = await client.call(event, payload)
    context = f"{event} {str(payload)[:120]!r} -> {str(ack)[:300]}"
    assert isinstance(ack, dict) and ack.get("success") is False, context
    assert isinstance(ack["error"], str) and ack["error"] and isinstance(ack["code"], str), context
    assert ack["code"] not in ("internal_error", "rate_limited"), context
    for marker in LEAK_MARKERS:
        assert marker not in str(ack), context
    error = await client.next("chat:error")
    assert error["code"] == ack["code"] and error["message"] == ack["error"], context
    # The error names at most the id the client itself sent, never another conversation's data.
    assert set(error) <= {"message", "code", "conversationId", "retryAfter"}, context
    return ack


async def assert_still_works(client, cast: Cast, person: Person, owner_socket) -> None:
    assert client.sio.connected and not client.disconnected.is_set()
    ack = await client.call("chat:send_message", {"conversationId": cast.room, "content": "still here"})
    assert ack["success"] is True, ack
    heard = await owner_socket.next("chat:new_message", lambda e: e["message"]["sender"]["_id"] == person.id)
    assert heard["message"]["content"] == "still here"


async def assert_nothing_leaked(*sockets) -> None:
    for socket in sockets:
        for event in LEAK_EVENTS:
            assert socket.drain(event) == [], event


@pytest.mark.parametrize("event", CLIENT_EVENTS)
async def test_a_payload_that_is_not_an_object_is_refused_and_the_socket_keeps_working(connect, cast, event):
    mallory = attacker(cast)
    client, owner_socket = await connect(mallory), await connect(cast.owner)
    for payload in not_an_object():
        ack = await assert_refused(client, event, payload)
        assert ack["code"] == "validation_error"
    await assert_still_works(client, cast, mallory, owner_socket)


@pytest.mark.parametrize("event", CLIENT_EVENTS)
async def test_a_hostile_conversation_id_is_refused_and_reaches_no_member(connect, cast, event):
    mallory = attacker(cast)
    client, owner_socket = await connect(mallory), await connect(cast.owner)
    victims = [await connect(cast.bob), await connect(cast.carol)]
    extra = {"content": "hi", "lastReadMessageId": cast.private_message, "messageId": cast.private_message,
             "afterSeq": 0}
    for conversation_id in hostile_ids(cast):
        payload = {"conversationId": conversation_id, **extra}
        if event == "chat:leave_conversation" and is_id(conversation_id):
            # Leaving a room one is not in is a harmless no-op that reveals nothing.
            ack = await client.call(event, payload)
            assert ack == {"success": True, "data": {"conversationId": conversation_id}}
            continue
        await assert_refused(client, event, payload)
    await assert_still_works(client, cast, mallory, owner_socket)
    await assert_nothing_leaked(*victims)
    # A foreign conversation looks exactly like one that does not exist.
    for conversation_id in (cast.private, uuid.uuid4().hex):
        if event != "chat:leave_conversation":
            ack = await client.call(event, {"conversationId": conversation_id, **extra})
            assert (ack["code"], ack["error"]) == ("conversation_not_found", "Conversation not found."), ack


@pytest.mark.parametrize("event", ["chat:send_message", "chat:mark_messages_read", "chat:message_delivered",
                                   "chat:sync"])
async def test_a_wrong_field_in_ones_own_conversation_is_refused_and_stores_nothing(connect, cast, event):
    cases = field_cases(cast)[event]
    owner_socket = await connect(cast.owner)
    victims = [await connect(cast.bob), await connect(cast.carol)]
    before = messages.list_messages(cast.owner.id, cast.room, limit=1)[0][0]["seq"]
    # Every send counts against the sender's rate limit, refused or not: a fresh attacker
    # per batch keeps the limit out of the way of what is being tested.
    for start in range(0, len(cases), SEND_LIMIT - 2):
        mallory = attacker(cast)
        client = await connect(mallory)
        for payload in cases[start:start + SEND_LIMIT - 2]:
            await assert_refused(client, event, payload)
        await assert_still_works(client, cast, mallory, owner_socket)
        await client.disconnect()
    # Only the "still here" proofs were stored, one per batch (after the notice that the
    # batch's attacker was added), with no gap in seq.
    items, _ = messages.list_messages(cast.owner.id, cast.room, limit=100)
    stored = sorted(m["seq"] for m in items if m["seq"] > before)
    assert stored == list(range(before + 1, before + 1 + len(stored)))
    assert {m["content"] for m in items if m["seq"] > before and m["contentType"] != "system"} == {"still here"}
    assert {m["notice"]["type"] for m in items if m["seq"] > before and m["contentType"] == "system"} == {
        "members_added"}
    assert owner_socket.drain("chat:message_updated") == []  # no read / delivered position moved
    await assert_nothing_leaked(*victims)


async def test_unknown_events_are_refused_without_disconnecting(connect, cast):
    mallory = attacker(cast)
    client, owner_socket = await connect(mallory), await connect(cast.owner)
    for event in ("chat:delete_everything", "x" * 10_000, "chat:send_message\x00", "chat:", "*"):
        ack = await assert_refused(client, event, {"conversationId": cast.room})
        assert ack["code"] == "unknown_event" and len(ack["error"]) < 200
    await assert_still_works(client, cast, mallory, owner_socket)


@pytest.mark.parametrize("auth", [None, "token", ["token"], 42, {}, {"token": None}, {"token": 42},
                                  {"token": ["x"]}, {"token": ""}, {"token": "a\x00b"}, {"token": "\ud800"},
                                  {"token": HUGE}, {"token": {"$ne": ""}}],
                         ids=lambda a: str(a)[:20])
async def test_a_hostile_auth_payload_is_refused_at_connect(backend, cast, auth):
    client = socketio.AsyncClient(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError) as refused:
        await client.connect(backend.url, socketio_path=SOCKETIO_PATH, transports=["websocket"],
                             namespaces=[NAMESPACE], auth=auth, wait_timeout=5)
    await client.disconnect()
    for marker in LEAK_MARKERS:
        assert marker not in str(refused.value)
    # A refusal is about authentication, not a server failure.
    assert "try again" not in str(refused.value)


async def emit_reserved(client, event: str, *args: Any) -> None:
    """Emit an event the client library refuses to send (Socket.IO reserves these names)
    as a raw packet, as a hand-written client could."""
    from socketio import packet

    await client.sio._send_packet(client.sio.packet_class(packet.EVENT, namespace=NAMESPACE, data=[event, *args]))


@pytest.mark.parametrize("event", ["connect", "disconnect"])
async def test_a_client_emitted_reserved_event_neither_re_authenticates_nor_breaks_the_socket(connect, cast, event):
    mallory, other = attacker(cast), new_person("Other")
    client, owner_socket = await connect(mallory), await connect(cast.owner)
    attempts: tuple[tuple[Any, ...], ...] = (
        (), ({},), ({"asgi.scope": {}}, {"token": other.token}), ({}, {"token": "bogus"}), ("x", 1, None),
    )
    for args in attempts:
        await emit_reserved(client, event, *args)
    for _ in attempts:  # each is just an unknown event to the server
        assert (await client.next("chat:error"))["code"] == "unknown_event"
    # Still connected, and still mallory: the other user's token did not swap identities.
    await assert_still_works(client, cast, mallory, owner_socket)


@pytest.mark.parametrize("packet_text", [
    '42/chat,["chat:sync",' + "[" * 200_000 + "]" * 200_000 + "]",  # nesting deeper than any parser recursion
    '42/chat,["chat:send_message",{"conversationId": ',  # truncated JSON
    "42/chat,not json at all",
], ids=["deep_nesting", "truncated", "not_json"])
async def test_a_malformed_packet_is_dropped_and_the_socket_keeps_working(connect, cast, packet_text):
    mallory = attacker(cast)
    client, owner_socket = await connect(mallory), await connect(cast.owner)
    await client.sio.eio.send(packet_text)  # below python-socketio's encoder, as a hand-written client could
    await assert_still_works(client, cast, mallory, owner_socket)
