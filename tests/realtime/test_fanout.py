"""EventFanout: the per-process consumer that turns bus events into Socket.IO packets on
each recipient's sockets. A stand-in takes the place of the Socket.IO server (with
python-socketio's own rooms and packets); the bus is the real one."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace
from typing import Any

import pytest
from engineio import packet as eio_packet
from socketio import AsyncManager, packet

from utool_chat.domain.accounts import SESSION_REVOKED
from utool_chat.events import Event
from utool_chat.events.bus import InProcessBus, resync_event
from utool_chat.realtime.fanout import BytelessAck, EventFanout, PayloadJSON, payload_splicing_dumps, session_room


class SplicingPacket(packet.Packet):
    """python-socketio's packet with the app's codec (server.create_sio): a PayloadJSON
    argument is spliced in as it is."""

    json = SimpleNamespace(dumps=payload_splicing_dumps(json.dumps), loads=json.loads)


class FlakyQueue(asyncio.Queue):
    def __init__(self, fail_first: bool) -> None:
        super().__init__()
        self.fail_next = fail_first

    def put_nowait(self, item: Any) -> None:
        if self.fail_next:
            self.fail_next = False
            raise ConnectionError("socket went away")
        super().put_nowait(item)


class SocketStandIn:
    """The part of an engine.io socket the fan-out uses: its queue of packets to write, and
    engine.io's own send (for a socket with a ping awaiting its pong)."""

    def __init__(self, sid: str, fail_first: bool = False) -> None:
        self.sid = sid
        self.closed = False
        self.last_ping: float | None = None
        self.queue = FlakyQueue(fail_first)
        self.sent_by_engineio = 0

    async def send(self, pkt: eio_packet.Packet) -> None:
        self.sent_by_engineio += 1
        self.queue.put_nowait(pkt)

    async def next(self, timeout: float = 2) -> tuple[str, Any, str]:
        """The next event written to this socket: (name, payload, namespace), decoded from
        the packet's text as a client would."""
        message = await asyncio.wait_for(self.queue.get(), timeout)
        assert message.packet_type == eio_packet.MESSAGE
        decoded = packet.Packet(encoded_packet=message.encode()[1:])
        name, payload = decoded.data
        return name, payload, decoded.namespace


class RecordingServer:
    """A stand-in for the Socket.IO server: python-socketio's own rooms (AsyncManager) and
    packets, a socket stand-in per connection, and what was broadcast or disconnected."""

    packet_class = SplicingPacket

    def __init__(self, rooms: dict[str, set[str]], fail_first: frozenset[str] = frozenset()) -> None:
        self.manager = AsyncManager()
        self.sockets: dict[str, SocketStandIn] = {}
        for room, sids in rooms.items():
            for sid in sids:
                self.sockets.setdefault(sid, SocketStandIn(sid, fail_first=sid in fail_first))
                self.manager.basic_enter_room(sid, "/chat", room, eio_sid=f"eio-{sid}")
        self.eio = SimpleNamespace(sockets={f"eio-{sid}": sock for sid, sock in self.sockets.items()})
        self.broadcast: asyncio.Queue = asyncio.Queue()
        self.disconnected: list[tuple[str, str]] = []

    async def emit(self, event: str, data: Any, namespace: str) -> None:
        self.broadcast.put_nowait((event, data, namespace))

    async def disconnect(self, sid: str, namespace: str) -> None:
        self.disconnected.append((sid, namespace))
        for room in list(self.manager.rooms[namespace]):  # like the real one: leaves every room
            if sid in self.manager.rooms[namespace][room]:
                self.manager.basic_leave_room(sid, namespace, room)


@pytest.fixture()
def bus(monkeypatch) -> InProcessBus:
    bus = InProcessBus()
    monkeypatch.setattr("utool_chat.events.bus._bus", bus)
    return bus


async def started(server: RecordingServer) -> EventFanout:
    fanout = EventFanout(server, "/chat")
    await fanout.ensure_running()
    return fanout


async def test_an_event_goes_once_to_each_socket_of_its_recipients(bus) -> None:
    server = RecordingServer({"user:u1": {"a1", "a2", "both"}, "user:u2": {"b", "both"}, "user:u3": {"c"}})
    fanout = await started(server)
    # Published right after ensure_running() returned: the consumer is already subscribed.
    bus.publish(Event("chat:new_message", {"x": 1, "text": "héllo 🙂"}, ["u1", "u2"]))

    for sid in ["a1", "a2", "b", "both"]:  # a socket in two recipients' rooms gets it once
        assert await server.sockets[sid].next() == ("chat:new_message", {"x": 1, "text": "héllo 🙂"}, "/chat")
    await asyncio.sleep(0.05)
    assert all(sock.queue.empty() for sock in server.sockets.values())  # nor twice, nor to u3
    await fanout.stop()


async def test_a_socket_awaiting_a_pong_gets_it_through_engineio_and_a_closed_one_not_at_all(bus) -> None:
    server = RecordingServer({"user:u1": {"pinged", "closed", "plain"}})
    server.sockets["pinged"].last_ping = 1.0
    server.sockets["closed"].closed = True
    fanout = await started(server)
    bus.publish(Event("chat:new_message", {"x": 1}, ["u1"]))

    assert (await server.sockets["pinged"].next())[0] == "chat:new_message"
    assert (await server.sockets["plain"].next())[0] == "chat:new_message"
    assert server.sockets["pinged"].sent_by_engineio == 1 and server.sockets["plain"].sent_by_engineio == 0
    assert server.sockets["closed"].queue.empty()
    await fanout.stop()


async def test_an_event_without_recipients_is_not_emitted(bus) -> None:
    server = RecordingServer({"user:u1": {"a"}})
    fanout = await started(server)
    bus.publish(Event("chat:nobody", {}, []))
    bus.publish(Event("chat:somebody", {}, ["u1"]))

    assert (await server.sockets["a"].next())[0] == "chat:somebody"
    assert server.broadcast.empty()
    await fanout.stop()


async def test_a_failed_emit_does_not_stop_the_fan_out(bus) -> None:
    server = RecordingServer({"user:u1": {"a", "b"}}, fail_first=frozenset({"a"}))
    fanout = await started(server)
    bus.publish(Event("chat:lost", {}, ["u1"]))
    bus.publish(Event("chat:delivered", {}, ["u1"]))

    assert (await server.sockets["a"].next())[0] == "chat:delivered"
    # The other socket of the recipient was not cut off by the failure.
    assert [(await server.sockets["b"].next())[0] for _ in range(2)] == ["chat:lost", "chat:delivered"]
    await fanout.stop()


async def test_a_resync_goes_to_every_socket_of_the_namespace(bus) -> None:
    server = RecordingServer({"user:u1": {"a"}})
    fanout = await started(server)
    bus.fanout.dispatch(resync_event("bus_reconnected"))

    assert await asyncio.wait_for(server.broadcast.get(), 2) == ("chat:resync", {"reason": "bus_reconnected"}, "/chat")
    await fanout.stop()


async def test_ensure_running_starts_one_consumer(bus) -> None:
    server = RecordingServer({"user:u1": {"a"}})
    fanout = await started(server)
    await fanout.ensure_running()
    bus.publish(Event("chat:once", {}, ["u1"]))
    await server.sockets["a"].next()
    await asyncio.sleep(0.05)
    assert server.sockets["a"].queue.empty()  # one consumer, one packet
    await fanout.stop()


async def test_a_revoked_session_disconnects_its_sockets_and_is_not_emitted(bus) -> None:
    server = RecordingServer({
        session_room("s-ended"): {"sid-1", "sid-2"},
        session_room("s-other"): {"sid-3"},
        "user:u1": {"sid-1", "sid-2", "sid-3"},
    })
    fanout = await started(server)
    assert not fanout.was_revoked("s-ended")

    bus.publish(Event(SESSION_REVOKED, {"sessionId": "s-ended"}, ["u1"]))
    bus.publish(Event("chat:after", {}, ["u1"]))  # events are handled in order: a marker

    # The revocation itself was not emitted; the marker reached the socket that stayed.
    assert (await server.sockets["sid-3"].next())[0] == "chat:after"
    assert all(server.sockets[sid].queue.empty() for sid in ["sid-1", "sid-2"])
    assert sorted(server.disconnected) == [("sid-1", "/chat"), ("sid-2", "/chat")]
    # Remembered, so a socket still authenticating with that session is refused at the end of its connect.
    assert fanout.was_revoked("s-ended") and not fanout.was_revoked("s-other")
    await fanout.stop()


@pytest.mark.parametrize("payload", [
    {"conversationId": "c1", "message": {"content": "héllo 🙂 \u2028 \"q\" \\ </script>", "seq": 3, "at": 1.5e-7},
     "tempId": None, "list": [True, False, {}]},
    {},
])
def test_the_spliced_packet_is_what_reflexs_codec_writes_for_the_decoded_payload(payload) -> None:
    from reflex.app import _sio_dumps

    published = Event.from_json(Event("chat:new_message", payload, ["u1"]).to_json())
    spliced = payload_splicing_dumps(_sio_dumps)(["chat:new_message", PayloadJSON(published.payload_json)],
                                                 separators=(",", ":"))
    assert spliced == _sio_dumps(["chat:new_message", payload], separators=(",", ":"))
    # Anything else goes to Reflex's codec untouched.
    assert payload_splicing_dumps(_sio_dumps)({"a": [1]}, separators=(",", ":")) == '{"a":[1]}'


def test_an_ack_of_a_byteless_value_is_the_packet_of_the_value_without_the_walk_for_bytes(monkeypatch) -> None:
    from reflex.app import _sio_dumps

    class ReflexCodecPacket(packet.Packet):
        json = SimpleNamespace(dumps=payload_splicing_dumps(_sio_dumps), loads=json.loads)

    envelope = {"success": True, "data": {"message": {"content": "héllo 🙂 \u2028 </script>", "seq": 3,
                                                      "attachments": [{"name": "a.png"}]}, "tempId": None}}
    expected = ReflexCodecPacket(packet.ACK, namespace="/chat", id=7, data=[envelope]).encode()
    walked: list[Any] = []
    real_walk = packet.Packet.data_is_binary.__func__

    def recorded_walk(cls: type, data: Any) -> bool:
        walked.append(data)
        return real_walk(cls, data)

    monkeypatch.setattr(packet.Packet, "data_is_binary", classmethod(recorded_walk))
    ack = ReflexCodecPacket(packet.ACK, namespace="/chat", id=7, data=[BytelessAck(envelope)])
    assert ack.packet_type == packet.ACK and ack.encode() == expected
    assert len(walked) == 2  # the list and the wrapper: not the message inside it
