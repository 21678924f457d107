"""Record what the event bus publishes.

    async with recorded_events() as received:   # a real subscriber of the bus (async tests)
        ...
        evt = await received.next()
        await received.settle()                  # every event published so far has arrived

    published = tap_bus()                         # sync tests: the `events` fixture in tests/conftest.py

Both see events exactly as subscribers do: decoded from the JSON the bus carries.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from utool_chat.events import Event, get_bus, publish_now
from utool_chat.events.bus import InProcessBus

MARKER = "test:marker"


class RecordedEvents(list[Event]):
    """The events in arrival order; `await recorded.next()` waits for the next unread one."""

    def __init__(self) -> None:
        super().__init__()
        self._read = 0
        self._arrived = asyncio.Event()
        self._markers: set[str] = set()

    def add(self, evt: Event) -> None:
        if evt.name == MARKER:
            self._markers.add(evt.payload["id"])
        else:
            self.append(evt)
        self._arrived.set()

    async def next(self, timeout: float = 2.0) -> Event:
        async with asyncio.timeout(timeout):
            while self._read >= len(self):
                self._arrived.clear()
                await self._arrived.wait()
        self._read += 1
        return self[self._read - 1]

    async def settle(self, timeout: float = 5.0) -> None:
        """Wait until every event published before this call has arrived: publish a marker
        (bus order is publish order) and wait for it. Markers are not recorded."""
        marker = uuid.uuid4().hex
        publish_now(Event(MARKER, {"id": marker}, []))
        async with asyncio.timeout(timeout):
            while marker not in self._markers:
                self._arrived.clear()
                await self._arrived.wait()

    def named(self, name: str) -> list[Event]:
        return [e for e in self if e.name == name]


@asynccontextmanager
async def recorded_events(bus: InProcessBus | None = None) -> AsyncIterator[RecordedEvents]:
    """Subscribe to `bus` (the process's bus by default), return once the subscription is
    live, and collect every event published until the block ends."""
    bus = bus or get_bus()
    received = RecordedEvents()
    ready = asyncio.Event()

    async def consume() -> None:
        async for evt in bus.subscribe(on_ready=ready.set):
            received.add(evt)

    task = asyncio.create_task(consume())
    await asyncio.wait_for(ready.wait(), 10)
    try:
        yield received
    finally:
        task.cancel()


def tap_bus(set_attribute: Callable[[object, str, object], None]) -> list[Event]:
    """Record, synchronously and in order, every event the process's bus is handed, decoded
    from its JSON as subscribers get it; delivery goes on as usual. `set_attribute` is
    monkeypatch.setattr, so the tap is removed after the test."""
    bus = get_bus()
    seen: list[Event] = []
    deliver = bus.publish_encoded

    def publish_encoded(raw: str) -> None:
        seen.append(Event.from_json(raw))
        deliver(raw)

    set_attribute(bus, "publish_encoded", publish_encoded)
    return seen


def named(events: list[Event], name: str) -> list[Event]:
    return [e for e in events if e.name == name]
