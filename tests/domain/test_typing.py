"""Typing indicators (domain/typing.py): membership-checked, published to the OTHER active
members only, one SQL query per call."""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import count_queries
from tests.bus_recording import recorded_events
from utool_chat.db.engine import session_scope
from utool_chat.db.models import Conversation, ConversationMember, User, utcnow
from utool_chat.domain import typing as typing_domain
from utool_chat.domain.errors import NotFound, ValidationFailed
from utool_chat.domain.serializers import user_out


def make_user(username: str, display_name: str) -> str:
    with session_scope() as session:
        user = User(username=username, display_name=display_name, password_hash="!")
        session.add(user)
        session.flush()
        return user_out(user)["_id"]


def make_group(members: list[str], left: list[str] = ()) -> str:
    with session_scope() as session:
        conv = Conversation(type="group", name="g")
        session.add(conv)
        session.flush()
        for uid in members:
            session.add(ConversationMember(conversation_id=conv.id, user_id=uid))
        for uid in left:
            session.add(ConversationMember(conversation_id=conv.id, user_id=uid, left_at=utcnow()))
        return conv.id


@pytest.fixture()
def people(db):
    alice = make_user("alice", "Alice Liddell")
    bob = make_user("bob", "Bob Builder")
    carol = make_user("carol", "Carol")
    dave = make_user("dave", "Dave")  # left the group
    return alice, bob, carol, dave, make_group([alice, bob, carol], left=[dave])


async def settle() -> None:
    await asyncio.sleep(0.05)


async def test_typing_started_tells_the_other_active_members_who_is_typing(people) -> None:
    alice, bob, carol, _dave, conv = people
    async with recorded_events() as received:
        with count_queries() as queries:
            typing_domain.typing_started(alice, conv)
        await settle()
    assert queries.count == 1
    [evt] = received
    assert evt.name == "chat:user_typing"
    assert evt.payload == {"conversationId": conv, "userId": alice, "userName": "Alice Liddell"}
    assert sorted(evt.user_ids) == sorted([bob, carol])  # not the typist, not a former member


async def test_typing_stopped_tells_the_other_active_members(people) -> None:
    alice, bob, carol, _dave, conv = people
    async with recorded_events() as received:
        with count_queries() as queries:
            typing_domain.typing_stopped(bob, conv)
        await settle()
    assert queries.count == 1
    [evt] = received
    assert evt.name == "chat:user_stopped_typing"
    assert evt.payload == {"conversationId": conv, "userId": bob}
    assert sorted(evt.user_ids) == sorted([alice, carol])


@pytest.mark.parametrize("action", [typing_domain.typing_started, typing_domain.typing_stopped])
async def test_a_non_member_is_told_the_conversation_does_not_exist(people, action) -> None:
    _alice, _bob, _carol, dave, conv = people
    async with recorded_events() as received:
        with pytest.raises(NotFound):
            action(dave, conv)
        with pytest.raises(NotFound):
            action(dave, "0" * 32)
        await settle()
    assert received == []


@pytest.mark.parametrize("bad_id", [None, 42, "", ["x"], {"a": 1}, "x" * 65])
def test_a_malformed_conversation_id_is_a_validation_error(people, bad_id) -> None:
    alice = people[0]
    with pytest.raises(ValidationFailed):
        typing_domain.typing_started(alice, bad_id)
