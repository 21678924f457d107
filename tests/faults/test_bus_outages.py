"""The Redis bus when Redis is down, hung or back (events/bus.py): local delivery never waits
for Redis, what Redis lost is closed by a resync. Two RedisBus objects stand for two backend
processes; the Redis is this test's own (tests/faults/services.py)."""

from __future__ import annotations

import asyncio
import time
import uuid

from tests.support.events import recorded_events
from utool_chat.events import Event
from utool_chat.events.bus import RESYNC, RedisBus


def event(name: str = "chat:test") -> Event:
    return Event(name, {"n": uuid.uuid4().hex}, ["u1"])


async def wait_until(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def test_own_events_are_delivered_locally_once_and_relayed_to_the_others(fault_redis) -> None:
    a, b = RedisBus(fault_redis.url), RedisBus(fault_redis.url)
    async with recorded_events(a) as on_a, recorded_events(b) as on_b:
        sent = [event() for _ in range(20)]
        for evt in sent:
            a.publish(evt)
        await wait_until(lambda: len(on_a) == 20, 0.5, "local delivery")
        assert list(on_a) == sent, "local delivery is in publish order"
        for _ in sent:
            await on_b.next(3)
        assert list(on_b) == sent
        await asyncio.sleep(0.3)
        assert len(on_a) == 20, "an event that came back from Redis was delivered twice"
    a.close()
    b.close()


async def test_with_redis_killed_local_delivery_goes_on_and_the_rest_follows_after(fault_redis) -> None:
    a, b = RedisBus(fault_redis.url), RedisBus(fault_redis.url)
    async with recorded_events(a) as on_a, recorded_events(b) as on_b:
        a.publish(event())
        await on_b.next(3)
        fault_redis.kill()
        started = time.monotonic()
        during = [event() for _ in range(50)]
        for evt in during:
            a.publish(evt)
        assert time.monotonic() - started < 0.05, "publishing waited for a dead Redis"
        await wait_until(lambda: len(on_a) == 51, 0.5, "local delivery")
        assert list(on_a)[1:] == during
        await wait_until(lambda: a.relay.down, 5, "the relay to notice")
        fault_redis.start()
        # b's listener reconnects: a resync for b's own subscribers (it may have missed
        # events); a's relay publishes what it queued meanwhile.
        await wait_until(lambda: any(e.name == RESYNC for e in on_b), 10, "a resync on b")
        await wait_until(lambda: any(e.name == RESYNC for e in on_a), 10, "a resync on a (its listener)")
        a.publish(after := event())
        await wait_until(lambda: after in on_b, 5, "delivery after recovery")
    a.close()
    b.close()


async def test_a_hung_redis_never_delays_publishing_and_delivery_completes_after(fault_redis) -> None:
    a, b = RedisBus(fault_redis.url), RedisBus(fault_redis.url)
    async with recorded_events(a) as on_a, recorded_events(b) as on_b:
        a.publish(event())
        await on_b.next(3)
        fault_redis.freeze()
        sent = []
        try:
            worst = 0.0
            for _ in range(200):
                sent.append(event())
                started = time.monotonic()
                a.publish(sent[-1])
                worst = max(worst, time.monotonic() - started)
                await asyncio.sleep(0.005)
            assert worst < 0.02, f"a publish took {worst:.3f} s with Redis hung"
            await wait_until(lambda: len(on_a) == 201, 0.5, "local delivery")
            await wait_until(lambda: a.relay.down, 5, "the relay to time out")
        finally:
            fault_redis.thaw()
        # What waited in the relay's queue arrives, in order (the event whose publish timed
        # out may arrive twice).
        await wait_until(lambda: all(evt in on_b for evt in sent), 10, "every event on b")
        delivered = [e for e in on_b if e in sent]
        assert list(dict.fromkeys(e.payload["n"] for e in delivered)) == [e.payload["n"] for e in sent]
    a.close()
    b.close()


async def test_a_full_relay_queue_drops_and_asks_for_a_resync(fault_redis) -> None:
    a, b = RedisBus(fault_redis.url), RedisBus(fault_redis.url)
    a.relay.maxsize = 10
    async with recorded_events(a) as on_a, recorded_events(b) as on_b:
        fault_redis.freeze()  # nothing drains: the queue fills
        try:
            for _ in range(5000):
                a.publish(event())
            await wait_until(lambda: len(on_a) == 5000, 5, "local delivery")
        finally:
            fault_redis.thaw()
        await wait_until(lambda: any(e.name == RESYNC for e in on_b), 10, "a resync on b after the overflow")
        resync = next(e for e in on_b if e.name == RESYNC)
        assert resync.payload == {"reason": "events_lost"} and resync.user_ids == []
        # Kept: what the queue holds (10) and the batch taken from it when Redis hung (at most 10).
        assert a.relay.lost >= 5000 - 10 - 10
    a.close()
    b.close()


async def test_a_subscriber_that_fell_behind_gets_a_resync_once_it_catches_up() -> None:
    from utool_chat.events.bus import InProcessBus

    bus = InProcessBus()
    received: list[Event] = []
    events = bus.subscribe(maxsize=5)
    first = asyncio.ensure_future(anext(events))
    await asyncio.sleep(0)  # subscribed
    for _ in range(20):  # nobody reads meanwhile: 15 are dropped
        bus.publish(event())
    received.append(await first)
    while True:
        received.append(await asyncio.wait_for(anext(events), 1))
        if received[-1].name == RESYNC:
            break
    await events.aclose()  # type: ignore[attr-defined]  # subscribe() is an async generator
    assert len(received) == 6 and received[-1].payload == {"reason": "subscriber_overflow"}
