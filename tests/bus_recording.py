"""Record what the event bus publishes while a block runs (used by the bus, domain and
friends tests)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from utool_chat.events import Event, get_bus
from utool_chat.events.bus import InProcessBus


class RecordedEvents(list):
    """The events in arrival order; `await recorded.next()` waits for the next unread one."""

    def __init__(self) -> None:
        super().__init__()
        self._read = 0
        self._arrived = asyncio.Event()

    def add(self, evt: Event) -> None:
        self.append(evt)
        self._arrived.set()

    async def next(self, timeout: float = 2.0) -> Event:
        async with asyncio.timeout(timeout):
            while self._read >= len(self):
                self._arrived.clear()
                await self._arrived.wait()
        self._read += 1
        return self[self._read - 1]


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
