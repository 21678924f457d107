"""EventFanout: the per-process consumer that turns bus events into Socket.IO emits.
A recording stand-in takes the place of the Socket.IO server; the bus is the real one."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from socketio import packet as socketio_packet

from utool_chat.domain.accounts import SESSION_REVOKED
from utool_chat.events import Event
from utool_chat.events.bus import InProcessBus
from utool_chat.realtime.fanout import EventFanout, session_room


class RoomsStandIn:
    """The part of python-socketio's manager the fan-out reads: who is in a room (or in any
    of a list of rooms, each socket once, as the real one answers)."""

    def __init__(self, rooms: dict[str, set[str]]) -> None:
        self.rooms = rooms

    def get_participants(self, namespace: str, room: str | list[str]) -> Iterator[tuple[str, str]]:
        sids = {sid for name in ([room] if isinstance(room, str) else room) for sid in self.rooms.get(name, ())}
        yield from ((sid, f"eio-{sid}") for sid in sorted(sids))


class RecordingServer:
    """Stands in for the Socket.IO server: records the engine.io packets written to each socket."""

    packet_class = socketio_packet.Packet

    def __init__(self, rooms: dict[str, set[str]] | None = None, fail_first: bool = False) -> None:
        self.manager = RoomsStandIn(rooms if rooms is not None else {"user:u1": {"sid-1"}})
        self.emitted: asyncio.Queue = asyncio.Queue()  # (event, data, eio sid, namespace)
        self.fail_next = fail_first

    async def _send_eio_packet(self, eio_sid: str, pkt: Any) -> None:
        if self.fail_next:
            self.fail_next = False
            raise ConnectionError("socket went away")
        decoded = socketio_packet.Packet(encoded_packet=pkt.data)
        event, data = decoded.data
        self.emitted.put_nowait((event, data, eio_sid, decoded.namespace))


class ServerWithSessions(RecordingServer):
    def __init__(self, rooms: dict[str, set[str]]) -> None:
        super().__init__(rooms)
        self.disconnected: list[tuple[str, str]] = []

    async def disconnect(self, sid: str, namespace: str) -> None:
        self.disconnected.append((sid, namespace))
        for members in self.manager.rooms.values():  # like the real one: leaves every room
            members.discard(sid)


@pytest.fixture()
def bus(monkeypatch) -> InProcessBus:
    bus = InProcessBus()
    monkeypatch.setattr("utool_chat.events.bus._bus", bus)
    return bus


async def started(server: RecordingServer) -> EventFanout:
    fanout = EventFanout(server, "/chat")
    await fanout.ensure_running()
    return fanout


async def test_an_event_goes_once_to_every_socket_of_its_recipients(bus) -> None:
    # sid-2 is in both recipients' rooms (say, one user's two tabs are not, but a socket may be
    # in several rooms): it gets the event once.
    server = RecordingServer({"user:u1": {"sid-1", "sid-2"}, "user:u2": {"sid-2", "sid-3"}, "user:u3": {"sid-4"}})
    fanout = await started(server)
    # Published right after ensure_running() returned: the consumer is already subscribed.
    bus.publish(Event("chat:new_message", {"x": 1}, ["u1", "u2"]))

    emitted = [await asyncio.wait_for(server.emitted.get(), 2) for _ in range(3)]

    assert sorted(emitted) == [("chat:new_message", {"x": 1}, f"eio-sid-{n}", "/chat") for n in (1, 2, 3)]
    await asyncio.sleep(0.05)
    assert server.emitted.empty()  # not twice to sid-2, never to u3's socket
    await fanout.stop()


async def test_an_event_without_recipients_is_not_emitted(bus) -> None:
    server = RecordingServer()
    fanout = await started(server)
    bus.publish(Event("chat:nobody", {}, []))
    bus.publish(Event("chat:somebody", {}, ["u1"]))

    assert (await asyncio.wait_for(server.emitted.get(), 2))[0] == "chat:somebody"
    await fanout.stop()


async def test_a_failed_emit_does_not_stop_the_fan_out(bus) -> None:
    server = RecordingServer(fail_first=True)
    fanout = await started(server)
    bus.publish(Event("chat:lost", {}, ["u1"]))
    bus.publish(Event("chat:delivered", {}, ["u1"]))

    assert (await asyncio.wait_for(server.emitted.get(), 2))[0] == "chat:delivered"
    await fanout.stop()


async def test_ensure_running_starts_one_consumer(bus) -> None:
    server = RecordingServer()
    fanout = await started(server)
    await fanout.ensure_running()
    bus.publish(Event("chat:once", {}, ["u1"]))
    await asyncio.wait_for(server.emitted.get(), 2)
    await asyncio.sleep(0.05)
    assert server.emitted.empty()  # one consumer, one emit
    await fanout.stop()


async def test_a_revoked_session_disconnects_its_sockets_and_is_not_emitted(bus) -> None:
    server = ServerWithSessions({
        session_room("s-ended"): {"sid-1", "sid-2"},
        session_room("s-other"): {"sid-3"},
        "user:u1": {"sid-1", "sid-2", "sid-3"},
    })
    fanout = await started(server)
    assert not fanout.was_revoked("s-ended")

    bus.publish(Event(SESSION_REVOKED, {"sessionId": "s-ended"}, ["u1"]))
    bus.publish(Event("chat:after", {}, ["u1"]))  # events are handled in order: a marker

    assert (await asyncio.wait_for(server.emitted.get(), 2))[0] == "chat:after"  # the revocation itself was not emitted
    assert sorted(server.disconnected) == [("sid-1", "/chat"), ("sid-2", "/chat")]
    # Remembered, so a socket still authenticating with that session is refused at the end of its connect.
    assert fanout.was_revoked("s-ended") and not fanout.was_revoked("s-other")
    await fanout.stop()
