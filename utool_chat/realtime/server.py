"""The app's Socket.IO server, shared by Reflex (its `/_event` state sync) and the `/chat`
namespace of contract.md.

Reflex builds an identical server when none is given; we build it ourselves so the chat
namespace can be registered on it. Options mirror Reflex 0.10.1's own (custom JSON codec
for Reflex's state payloads, websocket transport only).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import engineio
import engineio.exceptions
import engineio.packet
from reflex import constants
from reflex.app import _sio_dumps, _sio_loads
from reflex.config import get_config
from reflex.environment import environment
from socketio import AsyncServer
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from utool_chat.realtime.fanout import payload_splicing_dumps

log = logging.getLogger(__name__)

# A socket whose packets waiting to be written pass this many bytes (characters of their
# encoded text) is disconnected: its client stopped reading, or reads slower than it is sent
# to. Without a bound its backlog would sit in this process's memory until the ping timeout.
MAX_UNSENT_BYTES = 2**20
BACKLOG_DISCONNECT_REASON = "backlog over the limit (the client is not reading)"


def _packet_size(pkt: Any) -> int:
    data = getattr(pkt, "data", None)
    return len(data) if isinstance(data, (str, bytes)) else 16


class UnsentBytesQueue(asyncio.Queue):
    """A socket's outgoing packet queue that knows how many bytes it holds. engine.io's writer
    takes everything queued at once and then writes it: what it is blocked on is not counted,
    so a socket holds at most about twice MAX_UNSENT_BYTES (plus the kernel's socket buffer)."""

    def __init__(self, on_overflow: Callable[[UnsentBytesQueue], None]) -> None:
        super().__init__()
        self.unsent_bytes = 0
        self.overflowed = False
        self._on_overflow = on_overflow

    def _put(self, item: Any) -> None:
        super()._put(item)  # asyncio.Queue's private hooks, on purpose
        self.unsent_bytes += _packet_size(item)
        if self.unsent_bytes > MAX_UNSENT_BYTES and not self.overflowed:
            self.overflowed = True
            self._on_overflow(self)

    def _get(self) -> Any:
        item = super()._get()
        self.unsent_bytes -= _packet_size(item)
        return item


async def poll_in_the_writer(sock: Any) -> list[Any]:
    """engine.io's AsyncSocket.poll (what a socket's writer awaits for its next packets), the
    same answers, without a task per wake-up: engine.io waits with
    `asyncio.wait_for(queue.get(), ...)`, which on Python 3.11 makes a task for the get, a
    future and a timer and passes through the loop five times before the writer runs. A
    message to a group of 200 wakes 199 writers (the writers were half of the worker's
    Python samples in bench/fanout.py's profile at 200 members). The get runs in the
    writer's own task here, under asyncio.timeout. (serve_websocket's writer waits with
    _next_packets alone: its reader's SilenceWatch ends the socket.)

    Returns the packets queued (all of them, as engine.io's does), [] once the socket is
    closing (None is queued); raises QueueEmpty when nothing came for a ping interval and
    timeout, or when cancelled, as engine.io's does."""
    try:
        if sock.queue.empty():
            async with asyncio.timeout(sock.server.ping_interval + sock.server.ping_timeout):
                return await _next_packets(sock.queue)
        return await _next_packets(sock.queue)
    except (TimeoutError, asyncio.CancelledError):
        raise engineio.exceptions.QueueEmpty() from None


async def _next_packets(queue: asyncio.Queue) -> list[Any]:
    """Everything queued once the first packet is there; [] once the close marker (None) is
    first (it stays queued for the next call)."""
    first = await queue.get()
    queue.task_done()
    if first is None:
        return []
    packets = [first]
    while not queue.empty():
        pkt = queue.get_nowait()
        queue.task_done()
        if pkt is None:
            queue.put_nowait(None)
            break
        packets.append(pkt)
    return packets


class SilenceWatch:
    """Cancels a task that has been waiting for its client for `limit` seconds, the way an
    `asyncio.timeout` around each wait would, without a timer made and cancelled around every
    packet (about 3 % of the worker's samples under bench/throughput.py's load, reader and
    writer together). A wait is marked by two assignments (`waiting()`, `heard()`); the
    watch's one timer fires at most once per `limit` and re-arms itself for the deadline of
    the wait in progress, if any. Only time spent waiting counts: a packet's handling (a send
    waiting for the database) is not silence."""

    __slots__ = ("_handle", "_loop", "_task", "_waiting_since", "fired", "limit")

    def __init__(self, limit: float) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        self.limit = limit
        self.fired = False
        self._waiting_since: float | None = None
        self._handle = self._loop.call_at(self._loop.time() + limit, self._check)

    def waiting(self) -> None:
        self._waiting_since = self._loop.time()

    def heard(self) -> None:
        self._waiting_since = None

    def _check(self) -> None:
        if self._task is None or self._task.done():
            return
        now = self._loop.time()
        due = now + self.limit if self._waiting_since is None else self._waiting_since + self.limit
        if due <= now:
            self.fired = True
            self._task.cancel()
        else:
            self._handle = self._loop.call_at(due, self._check)

    def stop(self) -> None:
        """No more firing; a cancel this watch made is taken back (the task goes on to close)."""
        self._handle.cancel()
        if self.fired and self._task is not None:
            self._task.uncancel()


async def serve_websocket(sock: Any, ws: Any) -> None:
    """engine.io's AsyncSocket._websocket_handler (python-engineio 4.15.1) for a socket that
    connects over the websocket from the start (the only transport here), with the same
    answers, but its reader waits for each packet in its own task, watched by one SilenceWatch:
    engine.io wraps every wait in a new task under `asyncio.wait_for`: a task, a future, a
    timer and two more passes through the loop for each packet received (without them,
    bench/throughput.py's Socket.IO load ran 2-5 % faster, side by side). A socket upgrading
    from polling (not offered here) gets engine.io's own handler.

    The reader ends, as engine.io's does, when the client closes, when nothing came for a
    ping interval and timeout, on a packet larger than max_http_buffer_size, or when
    cancelled, and on a frame that is not an engine.io packet at all (engine.io's handler
    raised out of the ASGI app there, its writer left running); then the writer gets the
    close marker, and the socket is closed."""
    if sock.connected:
        await type(sock)._websocket_handler(sock, ws)
        return
    server = sock.server
    sock.connected = True
    sock.upgraded = True

    async def writer() -> None:
        while True:
            # No timeout of its own: when the client goes silent the reader's watch ends the
            # socket, and the reader then queues the close marker.
            try:
                packets = await _next_packets(sock.queue)
            except asyncio.CancelledError:
                break
            if not packets:  # the close marker
                break
            try:
                for pkt in packets:
                    await ws.send(pkt.encode())
            except Exception:  # the transport is gone: engine.io's writer stops the same way
                break
        await ws.close()

    writer_task = asyncio.ensure_future(writer())
    server.logger.info("%s: Upgrade to websocket successful", sock.sid)
    watch = SilenceWatch(server.ping_interval + server.ping_timeout)
    try:
        while True:
            watch.waiting()
            try:
                data = await ws.wait()
            except (Exception, asyncio.CancelledError):  # silent too long (the watch), transport gone, cancelled
                break
            watch.heard()
            if data is None:  # the client closed
                break
            if len(data) > server.max_http_buffer_size:
                break
            try:
                pkt = engineio.packet.Packet(encoded_packet=data)
            except ValueError:  # not engine.io (engine.io's handler would raise out of the ASGI app)
                server.logger.info("%s: not an engine.io packet, closing", sock.sid)
                break
            try:
                await sock.receive(pkt)
            except engineio.exceptions.UnknownPacketError:
                pass
            except engineio.exceptions.SocketIsClosedError:
                server.logger.info("Receive error -- socket is closed")
                break
            except Exception:
                server.logger.exception("Unknown receive error")
    finally:
        watch.stop()
    await sock.queue.put(None)  # the writer ends after what it is writing
    await writer_task
    await sock.close(wait=False, abort=True, reason=server.reason.TRANSPORT_CLOSE)


class _SocketTable(dict):
    """engine.io's table of sockets (sid -> socket): a socket is given poll_in_the_writer and
    serve_websocket as it is added (engine.io builds its sockets itself, with no hook for
    their class)."""

    def __setitem__(self, sid: str, sock: Any) -> None:
        sock.poll = functools.partial(poll_in_the_writer, sock)
        sock._websocket_handler = functools.partial(serve_websocket, sock)
        super().__setitem__(sid, sock)


class BoundedEngineIOServer(engineio.AsyncServer):
    """engine.io with a bound on each socket's unsent backlog (MAX_UNSENT_BYTES), whose
    sockets' writers wait for packets through poll_in_the_writer and whose websockets are
    served by serve_websocket."""

    @property
    def sockets(self) -> _SocketTable:
        return self._socket_table

    @sockets.setter
    def sockets(self, table: dict[str, Any]) -> None:  # engine.io assigns {} (at start, and disconnect())
        self._socket_table = _SocketTable(table)

    def create_queue(self, *args: Any, **kwargs: Any) -> Any:
        if args or kwargs:
            return super().create_queue(*args, **kwargs)
        return UnsentBytesQueue(self._backlog_overflowed)

    def _backlog_overflowed(self, queue: UnsentBytesQueue) -> None:
        sock = next((s for s in self.sockets.values() if s.queue is queue), None)
        if sock is not None:
            self.start_background_task(self._drop_backlogged, sock, queue)

    async def _drop_backlogged(self, sock: Any, queue: UnsentBytesQueue) -> None:
        log.warning("disconnecting socket %s: more than %d bytes unsent (the client is not reading)",
                    sock.sid, MAX_UNSENT_BYTES)
        # abort: no CLOSE packet behind the backlog; the disconnect handlers run now.
        await sock.close(wait=False, abort=True, reason=BACKLOG_DISCONNECT_REASON)
        self.sockets.pop(sock.sid, None)
        while not queue.empty():  # free the backlog now, not when the transport gives up
            queue.get_nowait()
            queue.task_done()
        queue.put_nowait(None)  # the writer stops after the packet it is writing


class ChatSocketServer(AsyncServer):
    """The app's Socket.IO server: python-socketio on BoundedEngineIOServer."""

    def _engineio_server_class(self) -> type[engineio.AsyncServer]:
        return BoundedEngineIOServer


def create_sio() -> AsyncServer:
    config = get_config()
    origins = config.cors_allowed_origins
    sio = ChatSocketServer(
        async_mode="asgi",
        cors_allowed_origins="*" if origins == ("*",) else list(origins),
        cors_credentials=True,
        max_http_buffer_size=environment.REFLEX_SOCKET_MAX_HTTP_BUFFER_SIZE.get(),
        ping_interval=environment.REFLEX_SOCKET_INTERVAL.get().total_seconds(),
        ping_timeout=environment.REFLEX_SOCKET_TIMEOUT.get().total_seconds(),
        json=SimpleNamespace(dumps=staticmethod(payload_splicing_dumps(_sio_dumps)), loads=staticmethod(_sio_loads)),
        allow_upgrades=False,
        transports=["websocket"],
        async_handlers=False,
    )
    from utool_chat.realtime.chat_namespace import ChatNamespace

    sio.register_namespace(ChatNamespace("/chat"))
    return sio


class DirectSocketRoute:
    """Hands the Socket.IO websocket (`/_event`) straight to engine.io, ahead of the API.

    Reflex mounts the socket app inside its Starlette app, which is itself mounted inside our
    FastAPI app (api_transformer): a websocket would pass through about fifteen middleware and
    routing layers (FastAPI's and Reflex's error, CORS and exception middleware, two routers,
    our BodySizeLimit), and every one of them keeps a coroutine frame, closures and a scope copy
    alive for as long as the socket is connected - about 13 KB of each idle socket's memory, for
    layers that do nothing to a websocket (CORS and the body limit are HTTP-only). Everything
    else (HTTP, and so the pages and the API) goes the usual way. Outside this route there stays
    ForwardedHeaders (api/proxies.py), which must see websockets too.
    """

    def __init__(self, app: ASGIApp, sio: AsyncServer) -> None:
        self.app = app
        self.path = get_config().prepend_backend_path(str(constants.Endpoint.EVENT))
        self.socket_app = engineio.ASGIApp(sio, engineio_path=self.path)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "websocket" or not (path == self.path or path.startswith(self.path + "/")):
            await self.app(scope, receive, send)
            return
        subprotocols = scope.get("subprotocols")
        if not subprotocols:
            await self.socket_app(scope, receive, send)
            return

        async def accept_subprotocol(message: Message) -> None:
            # What Reflex's own mount does: accept the first subprotocol the client offered.
            if message["type"] == "websocket.accept":
                message["subprotocol"] = subprotocols[0]
            await send(message)

        await self.socket_app(scope, receive, accept_subprotocol)


def direct_socket_route(sio: AsyncServer) -> Callable[[ASGIApp], ASGIApp]:
    """rx.App(api_transformer=[api, direct_socket_route(sio), ...]): see DirectSocketRoute."""
    return lambda app: DirectSocketRoute(app, sio)
