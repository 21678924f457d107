"""realtime/server.py's serve_websocket: engine.io's websocket handler (each packet read and
handed to the socket, the writer beside it, the same ways to end) without a task and
asyncio.wait_for per packet received, on every socket the app's engine.io server makes."""

from __future__ import annotations

import asyncio
from typing import Any

from engineio import async_socket, packet

from utool_chat.realtime.server import BoundedEngineIOServer, serve_websocket


class FakeWebSocket:
    """engine.io's ASGI websocket as the handler sees it: wait() for the next frame (raising
    OSError once the client is gone), send(), close()."""

    def __init__(self) -> None:
        self.incoming: asyncio.Queue[Any] = asyncio.Queue()
        self.sent: list[Any] = []
        self.closed = asyncio.Event()

    async def wait(self) -> Any:
        frame = await self.incoming.get()
        if isinstance(frame, Exception):
            raise frame
        return frame

    async def send(self, data: Any) -> None:
        self.sent.append(data)

    async def close(self) -> None:
        self.closed.set()


def new_socket(ping_interval: float = 5.0, max_size: int = 1000) -> tuple[Any, list[Any], list[str]]:
    """A real engine.io socket of the app's server, connected over the websocket, whose
    received packets and close reasons are recorded instead of dispatched."""
    server = BoundedEngineIOServer(async_mode="asgi", ping_interval=ping_interval, ping_timeout=0,
                                   max_http_buffer_size=max_size)
    sock = async_socket.AsyncSocket(server, "sid-1")
    server.sockets["sid-1"] = sock  # what engine.io's connect does: the table installs the handler
    received: list[Any] = []
    closes: list[str] = []

    async def receive(pkt: Any) -> None:
        received.append((pkt.packet_type, pkt.data))

    async def close(wait: bool = True, abort: bool = False, reason: Any = None) -> None:
        closes.append(reason)

    sock.receive, sock.close = receive, close
    return sock, received, closes


async def test_packets_are_received_in_order_and_the_writer_sends_beside_the_reader() -> None:
    sock, received, closes = new_socket()
    ws = FakeWebSocket()
    served = asyncio.ensure_future(sock._websocket_handler(ws))
    for frame in ("4first", '4{"n": 2}', b"\x01\x02"):
        ws.incoming.put_nowait(frame)
    sock.queue.put_nowait(packet.Packet(packet.MESSAGE, "to the client"))  # what sock.send queues
    for _ in range(50):
        if len(received) == 3 and ws.sent:
            break
        await asyncio.sleep(0.01)
    assert received == [(packet.MESSAGE, "first"), (packet.MESSAGE, {"n": 2}), (packet.MESSAGE, b"\x01\x02")]
    assert ws.sent == ["4to the client"]
    assert sock.connected and sock.upgraded and not served.done() and not closes
    ws.incoming.put_nowait(OSError())  # the client went away
    await asyncio.wait_for(served, 1)
    assert ws.closed.is_set() and closes == [sock.server.reason.TRANSPORT_CLOSE]


async def test_silence_for_a_ping_interval_and_timeout_ends_the_socket() -> None:
    sock, received, closes = new_socket(ping_interval=0.05)
    ws = FakeWebSocket()
    served = asyncio.ensure_future(sock._websocket_handler(ws))
    await asyncio.wait_for(served, 1)
    assert ws.closed.is_set() and closes == [sock.server.reason.TRANSPORT_CLOSE] and not received
    assert served.cancelling() == 0


async def test_packets_that_keep_coming_keep_it_open_and_a_slow_handler_is_not_silence() -> None:
    sock, received, closes = new_socket(ping_interval=0.05)
    handled = []

    async def slow_receive(pkt: Any) -> None:
        received.append((pkt.packet_type, pkt.data))
        if pkt.data == "slow":
            await asyncio.sleep(0.2)  # four limits long: the send waiting for its database
        handled.append(pkt.data)

    sock.receive = slow_receive
    ws = FakeWebSocket()
    served = asyncio.ensure_future(sock._websocket_handler(ws))
    for n in range(8):  # 0.24 s in all, each within the limit of the one before
        ws.incoming.put_nowait(f"4tick {n}")
        await asyncio.sleep(0.03)
    assert not served.done() and len(handled) == 8
    ws.incoming.put_nowait("4slow")
    await asyncio.sleep(0.21)
    assert not served.done() and handled[-1] == "slow"
    await asyncio.wait_for(served, 1)  # then silence: ended within about one limit
    assert ws.closed.is_set() and closes == [sock.server.reason.TRANSPORT_CLOSE]
    assert served.cancelling() == 0  # the watch took its cancel back: the handler closed normally


async def test_an_oversized_packet_or_a_frame_that_is_not_engineio_ends_the_socket_unread() -> None:
    for frame in ("4" + "x" * 1000, "", "not engine.io"):
        sock, received, closes = new_socket(max_size=1000)
        ws = FakeWebSocket()
        ws.incoming.put_nowait("4before")
        ws.incoming.put_nowait(frame)
        ws.incoming.put_nowait("4after")
        await asyncio.wait_for(sock._websocket_handler(ws), 1)
        assert received == [(packet.MESSAGE, "before")], frame
        assert ws.closed.is_set() and closes == [sock.server.reason.TRANSPORT_CLOSE]


async def test_cancelling_the_handler_still_closes_the_socket() -> None:
    sock, _received, closes = new_socket()
    ws = FakeWebSocket()
    served = asyncio.ensure_future(sock._websocket_handler(ws))
    await asyncio.sleep(0.01)
    served.cancel()
    await asyncio.wait_for(served, 1)  # engine.io's handler also ends quietly
    assert ws.closed.is_set() and closes == [sock.server.reason.TRANSPORT_CLOSE]


def test_every_socket_of_the_apps_engineio_server_is_served_by_it() -> None:
    sock, _received, _closes = new_socket()
    assert sock._websocket_handler.func is serve_websocket and sock._websocket_handler.args == (sock,)


async def test_a_socket_upgrading_from_polling_gets_engineios_own_handler(monkeypatch) -> None:
    calls: list[Any] = []

    async def engineio_handler(self: Any, ws: Any) -> None:
        calls.append((self, ws))

    monkeypatch.setattr(async_socket.AsyncSocket, "_websocket_handler", engineio_handler)
    sock, _received, _closes = new_socket()
    sock.connected = True  # it came over polling first
    ws = FakeWebSocket()
    await serve_websocket(sock, ws)
    assert calls == [(sock, ws)]
