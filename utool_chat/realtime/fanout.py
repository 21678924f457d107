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
from collections.abc import Callable
from typing import Any

from engineio import packet as eio_packet
from socketio import AsyncServer, packet

from utool_chat.domain.accounts import SESSION_REVOKED
from utool_chat.events import Event, get_bus
from utool_chat.events.bus import RESYNC

log = logging.getLogger(__name__)

# How long a revoked session id is remembered. It only has to outlive one connect handshake
# (an authentication query), so a minute is plenty, and the memory stays small.
REVOKED_MEMORY_SECONDS = 60.0


class PayloadJSON(str):
    """An event's payload as the JSON text it was published in (Event.payload_json). The
    Socket.IO server's codec (payload_splicing_dumps) writes it into the packet as it is:
    a message to a group of 200 is serialised once, when it is published, not again for
    the emit."""


class BytelessAck:
    """A handler's ack value that holds no bytes (the namespace's envelopes are JSON by
    construction). python-socketio's Packet walks every value it is given, down to the last
    string of a message, looking for bytes to send as binary attachments: for a send's ack
    (the whole message) that walk was about 2 % of the worker's samples under load. It stops
    at this wrapper (not a list or dict), and the codec (payload_splicing_dumps) encodes the
    value inside, as it would have encoded the value itself."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


def payload_splicing_dumps(dumps: Callable[..., str]) -> Callable[..., str]:
    """The Socket.IO server's json.dumps: `dumps`, except that an event packet whose one
    argument is a PayloadJSON ([name, PayloadJSON], as python-socketio's emit builds it) gets
    that text spliced in, not encoded again, and an ack of a BytelessAck ([BytelessAck], as
    python-socketio builds it from a handler's return value) is the value inside, encoded.
    The bytes are what `dumps` would write for the decoded payload (Event's codec matches
    Reflex's: compact, not ASCII-escaped) and for the value."""

    def spliced(obj: Any, **kwargs: Any) -> str:
        if type(obj) is list:
            if len(obj) == 2 and type(obj[1]) is PayloadJSON:
                separator = (kwargs.get("separators") or (", ", ": "))[0]
                return f"[{dumps(obj[0], **kwargs)}{separator}{obj[1]}]"
            if len(obj) == 1 and type(obj[0]) is BytelessAck:
                return f"[{dumps(obj[0].value, **kwargs)}]"
        return dumps(obj, **kwargs)

    return spliced


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
        """What `sio.emit(evt.name, payload, to=[user rooms])` does, at a fraction of the cost
        per socket, which is what a message to a group of 200 pays 199 times over: the packet
        is built once (the payload's text spliced in, PayloadJSON), and each socket's
        engine.io queue is handed it in this loop, not by a task of its own per socket
        (python-socketio's emit creates one, then waits for them all). Several events
        published together (a message and its unread counts) are thus all queued before any
        socket's writer wakes up, and it writes them in one turn.

        A socket with a ping awaiting its pong goes through engine.io's own send, which
        closes it if its client is gone (without a ping outstanding that check has nothing
        to find). The app's python-socketio server keeps its rooms in this process
        (AsyncManager: other processes' sockets are reached through the bus, not through
        python-socketio), so the participants below are all of a room's sockets."""
        pkt = self.sio.packet_class(packet.EVENT, namespace=self.namespace,
                                    data=[evt.name, PayloadJSON(evt.payload_json)])
        message = eio_packet.Packet(eio_packet.MESSAGE, pkt.encode())
        sockets = self.sio.eio.sockets
        checked = []
        # One socket in several rooms gets it once: get_participants merges the rooms.
        for _sid, eio_sid in self.sio.manager.get_participants(self.namespace,
                                                                [user_room(uid) for uid in evt.user_ids]):
            socket = sockets.get(eio_sid)
            if socket is None or socket.closed:
                continue  # engine.io's send skips it too
            if socket.last_ping:
                checked.append(socket)
                continue
            try:  # one socket's failure is its own, as with a task per socket
                socket.queue.put_nowait(message)  # unbounded (UnsentBytesQueue counts it)
            except Exception:
                log.exception("could not emit %s to %s", evt.name, socket.sid)
        for socket in checked:
            if socket.closed:  # closed by an earlier one's disconnect handler
                continue
            try:
                await socket.send(message)
            except Exception:
                log.exception("could not emit %s to %s", evt.name, socket.sid)

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
