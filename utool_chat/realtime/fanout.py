"""Bus → sockets: one consumer task per process emits every domain event to the rooms
`user:<id>` of the event's `user_ids`, in the `/chat` namespace.

Delivery is by user, not by conversation room, on purpose: a participant receives
chat:new_message on every open tab whether or not it joined the conversation, and someone
removed from a group stops receiving its events at once (`user_ids` is computed from the
active members at commit time). A conversation room would be a second membership list,
kept per socket and per process, that a removal would have to purge on every process
before the next event: so there are none, and chat:join_conversation only checks
membership (chat_namespace.py).

With REDIS_URL set, every process's consumer reads the same Redis channel, so a message
stored by process B reaches sockets connected to process A.

The bus's RESYNC item (this process may have missed events: Redis was down or hung) goes
to every socket of the namespace as chat:resync {reason}: clients then catch up with
chat:sync and refresh their conversation list.

One event is not emitted but acted on: accounts.SESSION_REVOKED (a logout) disconnects
every socket of that session (room `session:<id>`, entered at connect), on every process;
the user's other sessions stay connected. The session id is remembered for a while, so a
socket that was authenticating while the logout committed is refused at the end of its
connect instead of slipping through (see ChatNamespace.on_connect).
"""

from __future__ import annotations

import asyncio
import logging
import time

from engineio import packet as engineio_packet
from socketio import AsyncServer
from socketio import packet as socketio_packet

from utool_chat.domain.accounts import SESSION_REVOKED
from utool_chat.events import Event, get_bus
from utool_chat.events.bus import RESYNC

log = logging.getLogger(__name__)

# How long a revoked session id is remembered. It only has to outlive one connect handshake
# (an authentication query), so a minute is plenty, and the memory stays small.
REVOKED_MEMORY_SECONDS = 60.0


def user_room(user_id: str) -> str:
    return f"user:{user_id}"


def session_room(session_id: str) -> str:
    return f"session:{session_id}"


class EventFanout:
    def __init__(self, sio: AsyncServer, namespace: str) -> None:
        self.sio = sio
        self.namespace = namespace
        self._task: asyncio.Task | None = None
        self._ready: asyncio.Event | None = None
        self._revoked_at: dict[str, float] = {}  # session id -> time.monotonic() it was revoked

    async def ensure_running(self) -> None:
        """Start the consumer if needed and wait until it is subscribed, so that nothing
        committed after a client's connect is accepted can be missed by that client."""
        if self._task is None or self._task.done():
            self._ready = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._run(self._ready), name="chat-event-fanout")
        assert self._ready is not None
        await self._ready.wait()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self, ready: asyncio.Event) -> None:
        while True:
            try:
                async for evt in get_bus().subscribe(on_ready=ready.set):
                    await self.deliver(evt)
            except asyncio.CancelledError:
                raise
            except Exception:  # keep fanning out: one failure must not silence the process
                log.exception("event fan-out failed; resubscribing")
                await asyncio.sleep(0.5)

    def was_revoked(self, session_id: str) -> bool:
        """Whether this process heard, within REVOKED_MEMORY_SECONDS, that the session ended."""
        return session_id in self._revoked_at

    async def deliver(self, evt: Event) -> None:
        if evt.name == SESSION_REVOKED:
            await self.end_session(evt.payload.get("sessionId"))
            return
        if evt.name == RESYNC:
            try:
                await self.sio.emit("chat:resync", {"reason": evt.payload.get("reason")}, namespace=self.namespace)
            except Exception:
                log.exception("could not emit chat:resync")
            return
        if not evt.user_ids:
            return
        try:
            await self.emit_to_users(evt)
        except Exception:
            log.exception("could not emit %s", evt.name)

    async def emit_to_users(self, evt: Event) -> None:
        """sio.emit(evt.name, evt.payload, to=<the users' rooms>), without its cost per
        recipient: python-socketio's emit creates a task for each recipient socket and waits
        for them all, so this one consumer yielded to the loop on every event and, with the
        loop busy, fell seconds behind the sends it announces (bench/throughput.py); a group
        of 200 was 200 tasks per event. Here the packet is encoded once and put on each
        socket's outgoing queue (engine.io's writer task per socket sends it), in order."""
        encoded = self.sio.packet_class(socketio_packet.EVENT, namespace=self.namespace,
                                        data=[evt.name, evt.payload]).encode()
        eio_pkt = engineio_packet.Packet(engineio_packet.MESSAGE, encoded)
        rooms = [user_room(uid) for uid in evt.user_ids]
        # A socket in several of the rooms is listed once.
        for _sid, eio_sid in self.sio.manager.get_participants(self.namespace, rooms):
            await self.sio._send_eio_packet(eio_sid, eio_pkt)

    async def end_session(self, session_id: object) -> None:
        """Disconnect this process's sockets of a revoked session (their on_disconnect runs)."""
        if not isinstance(session_id, str):
            return
        now = time.monotonic()
        self._revoked_at = {
            sid: at for sid, at in self._revoked_at.items() if now - at < REVOKED_MEMORY_SECONDS
        }
        self._revoked_at[session_id] = now
        # A list first: each disconnect removes the socket from the room being iterated.
        sids = [sid for sid, _eio_sid in self.sio.manager.get_participants(self.namespace, session_room(session_id))]
        for sid in sids:
            try:
                await self.sio.disconnect(sid, namespace=self.namespace)
            except Exception:
                log.exception("could not disconnect %s of a revoked session", sid)
