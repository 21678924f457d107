"""Fixtures for the Socket.IO door: the REAL backend in a child process and stock
python-socketio clients. Users, friends and conversations are made with tests.support.factories
in this process (same Postgres database as the server).

The backend starts once per session (a few seconds) with short timings so the suite stays
fast: typing expires after TYPING_TTL seconds, a user may send SEND_LIMIT messages per 10 s.
Tests never truncate: each one makes its own users, so they cannot see each other's data.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
import socketio

from tests.support.backend_process import BackendProcess, running_backend
from tests.support.factories import Person

TYPING_TTL = 1.0
SEND_LIMIT = 12
BACKEND_ENV = {
    "TYPING_TTL_SECONDS": str(TYPING_TTL),
    "RATE_LIMIT_SEND": f"{SEND_LIMIT}/10second",
    "RATE_LIMIT_TYPING": "50/10second",
    "PRESENCE_HEARTBEAT_SECONDS": "1",
}
NAMESPACE = "/chat"
SOCKETIO_PATH = "/_event"
EVENT_TIMEOUT = 3.0  # generous for a loaded CI box; events normally arrive in milliseconds
QUIET_PERIOD = 0.4  # how long "nothing arrives" is watched for


@pytest.fixture(scope="session")
def backend(pg_url: str) -> Iterator[BackendProcess]:
    with running_backend(pg_url, env=BACKEND_ENV) as process:
        yield process


class ChatClient:
    """A stock python-socketio AsyncClient that records every /chat event it receives."""

    def __init__(self, base_url: str, token: str | None) -> None:
        self.base_url = base_url
        self.token = token
        self.sio = socketio.AsyncClient(reconnection=False)
        self.received: dict[str, asyncio.Queue] = defaultdict(asyncio.Queue)
        self.disconnected = asyncio.Event()  # set when /chat disconnects (either side)
        self.sio.on("*", self._record, namespace=NAMESPACE)
        self.sio.on("disconnect", self._on_disconnect, namespace=NAMESPACE)

    async def _record(self, event: str, data: Any = None) -> None:
        self.received[event].put_nowait(data)

    async def _on_disconnect(self, *_reason: Any) -> None:
        self.disconnected.set()

    async def connect(self) -> ChatClient:
        auth = {"token": self.token} if self.token is not None else None
        await self.sio.connect(
            self.base_url, socketio_path=SOCKETIO_PATH, transports=["websocket"],
            namespaces=[NAMESPACE], auth=auth, wait_timeout=5,
        )
        return self

    async def call(self, event: str, payload: Any = None, timeout: float = EVENT_TIMEOUT) -> Any:
        """Emit with an ack and return the ack's data (the contract envelope)."""
        return await self.sio.call(event, payload, namespace=NAMESPACE, timeout=timeout)

    async def emit(self, event: str, payload: Any = None) -> None:
        await self.sio.emit(event, payload, namespace=NAMESPACE)

    async def next(
        self, event: str, where: Callable[[Any], bool] | None = None, timeout: float = EVENT_TIMEOUT
    ) -> Any:
        """The next `event` received (matching `where`); events that do not match are dropped."""
        queue = self.received[event]
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            remaining = deadline - asyncio.get_running_loop().time()
            try:
                data = await asyncio.wait_for(queue.get(), timeout=max(remaining, 0.001))
            except TimeoutError:
                raise AssertionError(f"no {event} within {timeout} s") from None
            if where is None or where(data):
                return data

    async def assert_nothing(self, event: str, within: float = QUIET_PERIOD) -> None:
        await asyncio.sleep(within)
        queue = self.received[event]
        assert queue.empty(), f"unexpected {event}: {queue.get_nowait()}"

    def drain(self, event: str) -> list[Any]:
        queue, items = self.received[event], []
        while not queue.empty():
            items.append(queue.get_nowait())
        return items

    async def disconnect(self) -> None:
        if self.sio.connected:
            await self.sio.disconnect()


@pytest.fixture()
async def connect(backend: BackendProcess) -> AsyncIterator[Callable[..., Any]]:
    """connect(person_or_token, base_url=None) -> a connected ChatClient (closed after the test)."""
    clients: list[ChatClient] = []

    async def _connect(who: Person | str | None, base_url: str | None = None) -> ChatClient:
        token = who.token if isinstance(who, Person) else who
        client = ChatClient(base_url or backend.url, token)
        clients.append(client)
        return await client.connect()

    yield _connect
    await asyncio.gather(*(client.disconnect() for client in clients), return_exceptions=True)


@pytest.fixture()
async def http(backend: BackendProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=backend.url, timeout=10) as client:
        yield client
