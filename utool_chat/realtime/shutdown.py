"""Graceful shutdown of a backend process (SIGTERM: the server stops accepting and runs the
app's lifespan shutdown, which ends in `drain`).

1. Handlers already running (a send being stored) finish: their clients get their acks.
   New /chat events that arrive meanwhile are answered `unavailable` (retryAfter), so a
   client retries them on another process; nothing half-done is left behind.
2. Every socket is closed at the engine.io level ("transport close"), which socket.io
   clients answer by reconnecting, through the load balancer, to a process that is up. (A
   namespace-level disconnect would read "io server disconnect", after which socket.io-client
   does not reconnect on its own.)
3. The event relay gets a moment to hand what it queued to Redis.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

log = logging.getLogger(__name__)

DRAIN_SECONDS = 10.0  # at most this long for running handlers to finish


class InFlight:
    """Counts the socket handlers running now; `closing` makes new ones refuse."""

    def __init__(self) -> None:
        self.running = 0
        self.closing = False
        self._idle = asyncio.Event()
        self._idle.set()

    def enter(self) -> None:
        self.running += 1
        self._idle.clear()

    def exit(self) -> None:
        self.running -= 1
        if self.running <= 0:
            self.running = 0
            self._idle.set()

    async def wait_idle(self, within: float) -> bool:
        try:
            await asyncio.wait_for(self._idle.wait(), within)
            return True
        except TimeoutError:
            return False


in_flight = InFlight()


@asynccontextmanager
async def graceful_shutdown() -> AsyncIterator[None]:
    """A Reflex lifespan task: nothing at start, the drain at shutdown."""
    yield
    await drain()


async def drain() -> None:
    from utool_chat.events import get_bus
    from utool_chat.events.bus import RedisBus
    from utool_chat.utool_chat import app

    if in_flight.closing:  # drained already: serving.DrainingServer runs it before the lifespan's
        return
    started = time.monotonic()
    in_flight.closing = True
    finished = await in_flight.wait_idle(DRAIN_SECONDS)
    sio = app.sio
    count = len(sio.eio.sockets) if sio is not None else 0
    if sio is not None:
        await asyncio.gather(*(sock.close(wait=False, abort=False) for sock in list(sio.eio.sockets.values())),
                             return_exceptions=True)
        await asyncio.sleep(0.2)  # let the CLOSE packets go out
    bus = get_bus()
    if isinstance(bus, RedisBus):
        await bus.relay.flush(within=2.0)
    log.warning("shutdown: %s, %d sockets closed, in %.2f s",
                "handlers finished" if finished else f"{in_flight.running} handlers still running",
                count, time.monotonic() - started)
