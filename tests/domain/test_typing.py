"""Typing indicators (domain/typing.py): membership-checked, published to the OTHER active
members only, rate limited, one query per new state and none per refresh; the registry that
ends states by expiry, disconnect, sending and leaving."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from tests.conftest import count_queries
from tests.support.events import RecordedEvents, recorded_events
from tests.support.factories import group_conversation, make_user
from utool_chat import config
from utool_chat.domain import conversations, messages, ratelimit
from utool_chat.domain import typing as typing_domain
from utool_chat.domain.errors import NotFound, RateLimited, ValidationFailed
from utool_chat.domain.typing import TypingRegistry

TTL = 0.3


@pytest.fixture()
def people(db, monkeypatch):
    monkeypatch.setattr(config, "settings", config.Settings(typing_ttl_seconds=TTL))
    alice = make_user("alice", "Alice Liddell")["_id"]
    bob = make_user("bob", "Bob Builder")["_id"]
    carol = make_user("carol", "Carol")["_id"]
    dave = make_user("dave", "Dave")["_id"]  # leaves the group
    conv = group_conversation(alice, [bob, carol, dave])["_id"]
    conversations.archive_or_leave(dave, conv)
    yield alice, bob, carol, dave, conv
    for user in (alice, bob, carol, dave):  # the registry is per process: leave nothing behind
        typing_domain.registry.end(user, conv)


def stops(received: RecordedEvents) -> list[tuple[str, list[str]]]:
    return [(e.payload["userId"], sorted(e.user_ids)) for e in received.named("chat:user_stopped_typing")]


async def test_typing_started_tells_the_other_active_members_who_is_typing(people) -> None:
    alice, bob, carol, _dave, conv = people
    async with recorded_events() as received:
        with count_queries() as queries:
            typing_domain.typing_started(alice, conv)
        await received.settle()
    assert queries.count == 1
    [evt] = received
    assert evt.name == "chat:user_typing"
    assert evt.payload == {"conversationId": conv, "userId": alice, "userName": "Alice Liddell"}
    assert sorted(evt.user_ids) == sorted([bob, carol])  # not the typist, not a former member


async def test_a_refresh_is_not_announced_and_costs_no_query(people) -> None:
    alice, _bob, _carol, _dave, conv = people
    typing_domain.typing_started(alice, conv, owner="tab-1")
    async with recorded_events() as received:
        with count_queries() as queries:
            for _ in range(3):
                typing_domain.typing_started(alice, conv, owner="tab-1")
        await received.settle()
    assert queries.count == 0
    assert list(received) == []


async def test_typing_stopped_tells_the_other_active_members(people) -> None:
    alice, bob, carol, _dave, conv = people
    typing_domain.typing_started(bob, conv)
    async with recorded_events() as received:
        with count_queries() as queries:
            typing_domain.typing_stopped(bob, conv)
        await received.settle()
    assert queries.count == 1
    [evt] = received
    assert evt.name == "chat:user_stopped_typing"
    assert evt.payload == {"conversationId": conv, "userId": bob}
    assert sorted(evt.user_ids) == sorted([alice, carol])
    assert not typing_domain.registry.is_typing(bob, conv)


async def test_a_state_nobody_refreshes_ends_by_itself_after_the_ttl(people, monkeypatch) -> None:
    alice, bob, carol, _dave, conv = people
    ttl = 1.5  # longer than the module's: the sleeps below must stay well inside it on a loaded machine
    monkeypatch.setattr(config, "settings", config.Settings(typing_ttl_seconds=ttl))
    async with recorded_events() as received:
        typing_domain.typing_started(alice, conv)
        await asyncio.sleep(ttl * 0.6)
        typing_domain.typing_started(alice, conv)  # a refresh postpones the end
        await asyncio.sleep(ttl * 0.6)
        await received.settle()
        assert [e.name for e in received] == ["chat:user_typing"]  # 1.2 TTL after the start, 0.6 after the refresh
        assert (await received.next()).name == "chat:user_typing"
        stopped = await received.next(ttl * 3)
    assert stopped.name == "chat:user_stopped_typing" and stopped.payload["userId"] == alice
    assert sorted(stopped.user_ids) == sorted([bob, carol])
    assert not typing_domain.registry.is_typing(alice, conv)


async def test_a_vanished_connection_ends_only_the_states_it_owns(people) -> None:
    alice, bob, carol, _dave, conv = people
    other = group_conversation(alice, [bob, carol], name="Other")["_id"]
    typing_domain.typing_started(alice, conv, owner="tab-1")
    typing_domain.typing_started(alice, other, owner="tab-1")
    typing_domain.typing_started(alice, other, owner="tab-2")  # the other tab took `other` over
    typing_domain.typing_started(bob, conv, owner="tab-3")
    async with recorded_events() as received:
        assert typing_domain.end_typing_of("tab-1") == [(alice, conv)]
        assert typing_domain.end_typing_of("tab-1") == []
        await received.settle()
    assert stops(received) == [(alice, sorted([bob, carol]))]
    assert typing_domain.registry.is_typing(alice, other) and typing_domain.registry.is_typing(bob, conv)
    typing_domain.registry.end(alice, other)


async def test_sending_ends_the_senders_typing_for_every_door(people) -> None:
    alice, bob, carol, _dave, conv = people
    typing_domain.typing_started(alice, conv, owner="tab-1")
    async with recorded_events() as received:
        messages.send_message(alice, conv, "done typing")  # what the HTTP door calls
        messages.send_message(alice, conv, "and again")  # no state left: nothing to end
        await received.settle()
    assert stops(received) == [(alice, sorted([bob, carol]))]
    names = [e.name for e in received]
    assert names.index("chat:user_stopped_typing") > names.index("chat:new_message")
    assert not typing_domain.registry.is_typing(alice, conv)


async def test_a_member_who_leaves_stops_typing_for_the_others(people) -> None:
    alice, bob, carol, _dave, conv = people
    typing_domain.typing_started(carol, conv)
    async with recorded_events() as received:
        conversations.update_conversation(alice, conv, remove_participant_ids=[carol])
        await received.settle()
    assert stops(received) == [(carol, sorted([alice, bob]))]
    assert not typing_domain.registry.is_typing(carol, conv)
    with pytest.raises(NotFound):  # and cannot keep a state alive without a membership check
        typing_domain.typing_started(carol, conv)


async def test_starting_and_stopping_both_count_against_the_typing_limit(people) -> None:
    alice, _bob, _carol, _dave, conv = people
    ratelimit.configure(typing="3/10second", redis_url=None)
    typing_domain.typing_started(alice, conv)
    typing_domain.typing_started(alice, conv)  # a refresh counts too
    typing_domain.typing_stopped(alice, conv)
    async with recorded_events() as received:
        with pytest.raises(RateLimited):
            typing_domain.typing_started(alice, conv)
        with pytest.raises(RateLimited):
            typing_domain.typing_stopped(alice, conv)
        await received.settle()
    assert list(received) == []


@pytest.mark.parametrize("action", [typing_domain.typing_started, typing_domain.typing_stopped])
async def test_a_non_member_is_told_the_conversation_does_not_exist(people, action) -> None:
    _alice, _bob, _carol, dave, conv = people
    async with recorded_events() as received:
        for conversation_id in (conv, "0" * 32, "", "x" * 65, "a\x00b"):  # malformed: the same 404
            with pytest.raises(NotFound) as refused:
                action(dave, conversation_id)
            assert refused.value.code == "conversation_not_found"
        await received.settle()
    assert list(received) == []
    assert not typing_domain.registry.is_typing(dave, conv)


@pytest.mark.parametrize("bad_id", [None, 42, ["x"], {"a": 1}])
def test_a_conversation_id_that_is_not_a_string_is_a_validation_error(people, bad_id) -> None:
    alice = people[0]
    with pytest.raises(ValidationFailed) as refused:
        typing_domain.typing_started(alice, bad_id)
    assert refused.value.code == "validation_error"


# --- the registry on its own ------------------------------------------------------------------


def registry() -> tuple[TypingRegistry, list[tuple[str, str]], threading.Event]:
    expired: list[tuple[str, str]] = []
    ended = threading.Event()

    def on_expire(user_id: str, conversation_id: str) -> None:
        expired.append((user_id, conversation_id))
        ended.set()

    return TypingRegistry(on_expire), expired, ended


def test_the_registry_expires_the_earliest_state_first_and_keeps_refreshed_ones() -> None:
    states, expired, _ended = registry()
    states.add("u", "long", None, 0.6)
    states.add("u", "short", None, 0.1)  # added later, ends sooner: the timer wakes for it
    time.sleep(0.3)
    assert expired == [("u", "short")]
    assert states.refresh("u", "long", None, 0.6)
    time.sleep(0.45)  # 0.75 s after the start, 0.45 s after the refresh
    assert expired == [("u", "short")]
    time.sleep(0.4)
    assert expired == [("u", "short"), ("u", "long")]
    assert not states.refresh("u", "long", None, 0.6)  # gone: the caller must announce anew


def test_ending_a_state_cancels_its_expiry_silently() -> None:
    states, expired, ended = registry()
    states.add("u", "c", "tab", 0.1)
    assert states.end("u", "c") is True
    assert states.end("u", "c") is False
    assert not ended.wait(0.3)
    assert expired == [] and states.end_all_of("tab") == []
