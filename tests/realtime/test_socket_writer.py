"""realtime/server.py's poll_in_the_writer: engine.io's AsyncSocket.poll, the same answers
without a task per wake-up, on every socket the app's engine.io server makes."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from engineio import async_socket, exceptions, packet

from utool_chat.realtime.server import BoundedEngineIOServer, UnsentBytesQueue, poll_in_the_writer


def fake_socket(interval: float = 5.0) -> SimpleNamespace:
    return SimpleNamespace(queue=UnsentBytesQueue(lambda _queue: None),
                           server=SimpleNamespace(ping_interval=interval, ping_timeout=0.0))


def message(text: str) -> packet.Packet:
    return packet.Packet(packet.MESSAGE, text)


async def test_it_returns_everything_queued_once_the_first_packet_comes() -> None:
    sock = fake_socket()
    polled = asyncio.ensure_future(poll_in_the_writer(sock))
    await asyncio.sleep(0.01)
    assert not polled.done()  # nothing queued: it waits
    first, second = message("a"), message("b")
    sock.queue.put_nowait(first)
    sock.queue.put_nowait(second)
    assert await asyncio.wait_for(polled, 1) == [first, second]
    assert sock.queue.empty() and sock.queue.unsent_bytes == 0
    third = message("c")
    sock.queue.put_nowait(third)  # already there: taken at once
    assert await poll_in_the_writer(sock) == [third]


async def test_the_close_marker_ends_the_batch_and_stays_for_the_next_poll() -> None:
    sock = fake_socket()
    last = message("last")
    for item in (last, None):
        sock.queue.put_nowait(item)
    assert await poll_in_the_writer(sock) == [last]
    assert await poll_in_the_writer(sock) == []  # None first: the socket is closing


async def test_nothing_for_a_ping_interval_or_a_cancel_is_queue_empty_as_in_engineio() -> None:
    with pytest.raises(exceptions.QueueEmpty):
        await poll_in_the_writer(fake_socket(interval=0.02))
    polled = asyncio.ensure_future(poll_in_the_writer(fake_socket()))
    await asyncio.sleep(0.01)
    polled.cancel()
    with pytest.raises(exceptions.QueueEmpty):
        await polled


def test_every_socket_of_the_apps_engineio_server_polls_through_it() -> None:
    server = BoundedEngineIOServer(async_mode="asgi")
    sock = async_socket.AsyncSocket(server, "sid-1")
    server.sockets["sid-1"] = sock  # what engine.io's connect does
    assert sock.poll.func is poll_in_the_writer and sock.poll.args == (sock,)
    assert isinstance(sock.queue, UnsentBytesQueue)
    server.sockets = {}  # what engine.io's disconnect() of every socket does
    later = async_socket.AsyncSocket(server, "sid-2")
    server.sockets["sid-2"] = later
    assert later.poll.func is poll_in_the_writer
