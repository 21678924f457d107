"""The event bus: after-commit publishing, in-process fan-out, and Redis pub/sub between
"processes" (two RedisBus instances on the real Redis stand for two backends)."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import AsyncGenerator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from tests.support.events import recorded_events
from utool_chat.db.engine import session_scope
from utool_chat.events import Event, publish_now, publish_on_commit
from utool_chat.events.bus import InProcessBus, RedisBus, channel_for, take_batch

REDIS = "redis://127.0.0.1:6379"


def event(name: str = "chat:test") -> Event:
    return Event(name, {"n": uuid.uuid4().hex}, ["u1", "u2"])


async def test_in_process_bus_delivers_events_published_from_another_thread() -> None:
    bus = InProcessBus()
    async with recorded_events(bus) as received:
        sent = event()
        threading.Thread(target=bus.publish, args=(sent,)).start()
        assert await received.next(2) == sent


async def test_every_subscriber_gets_each_event() -> None:
    bus = InProcessBus()
    async with recorded_events(bus) as first, recorded_events(bus) as second:
        sent = event()
        bus.publish(sent)
        assert await first.next(2) == sent
        assert await second.next(2) == sent


async def test_events_reach_the_bus_only_when_the_transaction_commits(db, monkeypatch) -> None:
    bus = InProcessBus()
    monkeypatch.setattr("utool_chat.events.bus._bus", bus)
    async with recorded_events(bus) as received:
        with session_scope() as session:
            session.execute(sa.text("SELECT 1"))
            publish_on_commit(session, event("chat:committed"))
            await asyncio.sleep(0.05)
            assert not received, "published before the commit"
        assert (await received.next(2)).name == "chat:committed"

        with pytest.raises(RuntimeError), session_scope() as session:
            session.execute(sa.text("SELECT 1"))
            publish_on_commit(session, event("chat:rolled_back"))
            raise RuntimeError("boom")
        await asyncio.sleep(0.1)
        assert [e.name for e in received] == ["chat:committed"], "an event of a rolled-back transaction was published"


async def test_redis_bus_carries_events_between_processes(monkeypatch) -> None:
    monkeypatch.setenv("REDIS_EVENTS_CHANNEL", f"utool_test:{uuid.uuid4().hex}")  # private to this run
    url = f"{REDIS}/7"
    publisher, listener = RedisBus(url), RedisBus(url)  # two processes' buses
    async with recorded_events(listener) as received:
        sent = event()
        await asyncio.to_thread(publisher.publish, sent)
        assert await received.next(3) == sent


async def test_redis_databases_are_separate_event_channels() -> None:
    async with recorded_events(RedisBus(f"{REDIS}/8")) as other_db:
        await asyncio.to_thread(RedisBus(f"{REDIS}/9").publish, event())
        await asyncio.sleep(0.3)
        assert not other_db


def test_event_channel_follows_the_database_index_unless_overridden(monkeypatch) -> None:
    monkeypatch.delenv("REDIS_EVENTS_CHANNEL", raising=False)
    assert channel_for(f"{REDIS}/3") == "utool_chat:events:3"
    assert channel_for(REDIS) == "utool_chat:events:0"
    monkeypatch.setenv("REDIS_EVENTS_CHANNEL", "custom")
    assert channel_for(f"{REDIS}/3") == "custom"


def test_event_json_round_trip_keeps_every_field() -> None:
    sent = event()
    assert Event.from_json(sent.to_json()) == sent


async def test_in_process_subscribers_get_the_event_as_json_carried_it() -> None:
    bus = InProcessBus()
    async with recorded_events(bus) as received:
        sent = Event("chat:test", {"message": {"seq": 1, "tags": ("a", "b")}}, ["u1"])
        bus.publish(sent)
        got = await received.next(2)
    # Decoded from JSON like a Redis subscriber's copy: a tuple arrives as a list, and the
    # subscriber never holds the publisher's own dicts.
    assert got.payload == {"message": {"seq": 1, "tags": ["a", "b"]}}
    assert got.payload["message"] is not sent.payload["message"]


@pytest.mark.parametrize("value", [datetime.now(UTC), {1, 2}, float("nan"), object()])
def test_a_payload_that_is_not_json_fails_where_it_is_published(value, monkeypatch) -> None:
    monkeypatch.setattr("utool_chat.events.bus._bus", InProcessBus())
    with pytest.raises((TypeError, ValueError)):
        publish_now(Event("chat:test", {"value": value}, ["u1"]))


@pytest.mark.parametrize("value", [datetime.now(UTC), float("inf")])
async def test_a_non_json_payload_queued_for_commit_fails_the_change_itself(db, value, monkeypatch) -> None:
    bus = InProcessBus()
    monkeypatch.setattr("utool_chat.events.bus._bus", bus)
    async with recorded_events(bus) as received:
        with pytest.raises((TypeError, ValueError)), session_scope() as session:
            session.execute(sa.text("SELECT 1"))
            publish_on_commit(session, Event("chat:bad", {"value": value}, ["u1"]))
        await asyncio.sleep(0.05)
    assert list(received) == []


async def test_the_redis_bus_refuses_the_same_payloads(monkeypatch) -> None:
    monkeypatch.setenv("REDIS_EVENTS_CHANNEL", f"utool_test:{uuid.uuid4().hex}")
    monkeypatch.setattr("utool_chat.events.bus._bus", RedisBus(f"{REDIS}/7"))
    with pytest.raises(TypeError):
        publish_now(Event("chat:test", {"value": datetime.now(UTC)}, ["u1"]))


def test_subscribers_get_the_payload_as_the_text_it_was_published_in() -> None:
    sent = Event("chat:test", {"message": {"content": "héllo 🙂 \u2028 \"quoted\"", "seq": 2, "score": 0.1}}, ["u1"])
    got = Event.from_json(sent.to_json())
    # Compact and not ASCII-escaped: the characters the sockets are sent (realtime/fanout.py).
    assert got.payload_json == '{"message":{"content":"héllo 🙂 \u2028 \\"quoted\\"","seq":2,"score":0.1}}'
    assert got == sent and got.payload == sent.payload


def test_an_event_in_another_layout_of_the_same_json_is_read_whole() -> None:
    text = '{"name": "chat:test", "payload": {"n": 1}, "user_ids": ["u1"]}'  # an older version's order
    got = Event.from_json(text)
    assert (got.name, got.payload, got.user_ids) == ("chat:test", {"n": 1}, ["u1"])
    assert got.payload_json == '{"n":1}'


def test_a_lone_surrogate_fails_where_it_is_published(monkeypatch) -> None:
    # Valid in JSON as an escape, but no socket or Redis can carry it as UTF-8 text.
    monkeypatch.setattr("utool_chat.events.bus._bus", InProcessBus())
    with pytest.raises(ValueError):
        publish_now(Event("chat:test", {"value": "a\ud800b"}, ["u1"]))


async def test_a_redis_message_whose_payload_is_not_json_is_dropped(monkeypatch) -> None:
    import redis.asyncio as aredis

    monkeypatch.setenv("REDIS_EVENTS_CHANNEL", f"utool_test:{uuid.uuid4().hex}")
    listener = RedisBus(f"{REDIS}/7")
    async with recorded_events(listener) as received:
        client = aredis.Redis.from_url(f"{REDIS}/7")
        try:
            broken = '{"name":"chat:broken","user_ids":["u1"],"payload":{"n":1}garbage}'
            await client.publish(listener.channel, f"another-process\n{broken}")
            await client.publish(listener.channel, f"another-process\n{event('chat:after').to_json()}")
        finally:
            await client.aclose()
        assert (await received.next(3)).name == "chat:after"
    assert [e.name for e in received] == ["chat:after"]


def test_a_relay_batch_is_what_is_queued_behind_the_first_in_order_up_to_the_bound() -> None:
    queue: asyncio.Queue[str] = asyncio.Queue()
    for n in range(1, 250):
        queue.put_nowait(str(n))
    batches = [take_batch(queue, "0", 100)]
    while not queue.empty():
        batches.append(take_batch(queue, queue.get_nowait(), 100))
    assert [len(b) for b in batches] == [100, 100, 50]
    assert [n for b in batches for n in b] == [str(n) for n in range(250)]
    assert take_batch(queue, "alone", 100) == ["alone"]


async def test_events_queued_together_reach_the_other_process_in_order_in_one_round_trip_per_batch(
        monkeypatch) -> None:
    monkeypatch.setenv("REDIS_EVENTS_CHANNEL", f"utool_test:{uuid.uuid4().hex}")
    url = f"{REDIS}/7"
    publisher, listener = RedisBus(url), RedisBus(url)
    async with recorded_events(listener) as received:
        publisher.publish(first := event())
        assert await received.next(3) == first
        relay = publisher.relay
        before = relay.round_trips
        # Hold the relay's loop for a moment: the 250 events published meanwhile are all
        # queued by the time it takes the next batch (they are offered to it in order).
        assert relay._loop is not None
        relay._loop.call_soon_threadsafe(time.sleep, 0.3)
        sent = [event() for _ in range(250)]
        for evt in sent:
            publisher.publish(evt)
        for _ in sent:
            await received.next(3)
        assert list(received)[1:] == sent
        assert relay.round_trips - before == 3  # 100 + 100 + 50 (RELAY_BATCH_MAX)
        assert await relay.flush(1)
    publisher.close()
    listener.close()


async def _next_or_none(events, timeout: float = 0.2) -> Event | None:
    try:
        return await asyncio.wait_for(anext(events), timeout)
    except TimeoutError:
        return None


async def test_a_subscription_for_one_user_gets_only_the_events_naming_that_user_and_resyncs() -> None:
    from utool_chat.events.bus import RESYNC, resync_event

    bus = InProcessBus()
    subscribed = [asyncio.Event() for _ in range(4)]
    alice_tab, alice_other_tab, bob_tab = (bus.subscribe(user_id=uid, on_ready=ready.set)
                                           for uid, ready in zip(["alice", "alice", "bob"], subscribed, strict=False))
    everything = bus.subscribe(on_ready=subscribed[3].set)
    first = [asyncio.ensure_future(anext(sub)) for sub in (alice_tab, alice_other_tab, bob_tab, everything)]
    for ready in subscribed:
        await asyncio.wait_for(ready.wait(), 2)
    for_alice = Event("chat:test", {"n": 1}, ["carol", "alice", "alice"])  # named twice: delivered once
    for_bob = Event("chat:test", {"n": 2}, ["bob"])
    for_nobody = Event("chat:test", {"n": 3}, [])
    for evt in (for_alice, for_bob, for_nobody):
        bus.publish(evt)
    bus.fanout.dispatch(resync_event("test"))
    got = [await asyncio.wait_for(f, 2) for f in first]
    assert got == [for_alice, for_alice, for_bob, for_alice]
    for tab in (alice_tab, alice_other_tab):
        assert getattr(await _next_or_none(tab), "name", None) == RESYNC  # not for_bob, for_nobody, twice
        assert await _next_or_none(tab) is None
    assert getattr(await _next_or_none(bob_tab), "name", None) == RESYNC
    assert [await _next_or_none(everything) for _ in range(4)] == [for_bob, for_nobody, resync_event("test"), None]
    for sub in (alice_tab, alice_other_tab, bob_tab, everything):
        await sub.aclose()  # type: ignore[attr-defined]  # subscribe() is an async generator
    assert not bus.fanout._subs and not bus.fanout._by_user and not bus.fanout._for_everything


async def test_a_subscriber_of_some_names_gets_only_those_and_is_not_woken_for_others(monkeypatch) -> None:
    bus = InProcessBus()
    subscription = bus.subscribe(names=("chat:wanted",))
    first = asyncio.ensure_future(anext(subscription))
    await asyncio.sleep(0)  # the subscription is in place
    offered: list[str] = []
    sub = next(iter(bus.fanout._subs))
    original_offer = sub.offer

    def offer(evt: Event) -> None:
        offered.append(evt.name)
        original_offer(evt)

    monkeypatch.setattr(sub, "offer", offer)
    async with recorded_events(bus) as everything:
        bus.publish(event("chat:other"))
        wanted = event("chat:wanted")
        threading.Thread(target=bus.publish, args=(wanted,)).start()
        assert await asyncio.wait_for(first, 2) == wanted
        assert (await everything.next(2)).name == "chat:other"  # an unfiltered subscriber still gets both
        assert await everything.next(2) == wanted
    assert offered == ["chat:wanted"]
    assert isinstance(subscription, AsyncGenerator)
    await subscription.aclose()
