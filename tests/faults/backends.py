"""Backend processes and Socket.IO clients for the fault tests."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from typing import Any

from tests.realtime.conftest import BACKEND_ENV, ChatClient
from tests.support.backend_process import BackendProcess, running_backend

# Bursts are the point here: a send limit no test reaches.
FAULT_ENV = {**BACKEND_ENV, "RATE_LIMIT_SEND": "10000/10second"}


@contextmanager
def backends(count: int, database_url: str, redis_url: str | None,
             env: dict[str, str] | None = None) -> Iterator[list[BackendProcess]]:
    """`count` backend processes started side by side (a few seconds for all of them)."""
    with ExitStack() as stack, ThreadPoolExecutor(count) as pool:
        futures = [pool.submit(stack.enter_context,
                               running_backend(database_url, redis_url=redis_url, env={**FAULT_ENV, **(env or {})}))
                   for _ in range(count)]
        yield [f.result() for f in futures]


def sigkill(backend: BackendProcess) -> None:
    os.killpg(backend.process.pid, signal.SIGKILL)
    backend.process.wait(10)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def timed(coro: Any) -> tuple[float, Any]:
    started = time.monotonic()
    result = await coro
    return time.monotonic() - started, result


class Receiver:
    """A client that behaves as the contract asks: it keeps every chat:new_message by _id and,
    on chat:resync, catches up with chat:sync from the last seq it has."""

    def __init__(self, client: ChatClient, conversation_id: str) -> None:
        self.client = client
        self.conversation_id = conversation_id
        self.live: dict[str, int] = {}  # _id -> how many times it arrived live
        self.synced: set[str] = set()
        self.resyncs = 0
        self.last_seq = 0
        client.sio.on("chat:new_message", self._on_message, namespace="/chat")
        client.sio.on("chat:resync", self._on_resync, namespace="/chat")

    async def _on_message(self, data: Any) -> None:
        message = data["message"]
        self.live[message["_id"]] = self.live.get(message["_id"], 0) + 1
        self.last_seq = max(self.last_seq, message["seq"])

    async def _on_resync(self, data: Any) -> None:
        self.resyncs += 1
        asyncio.get_running_loop().create_task(self.sync())

    async def sync(self) -> None:
        after = 0  # from the start: this test's conversations are small
        while True:
            ack = await self.client.call("chat:sync", {"conversationId": self.conversation_id, "afterSeq": after})
            if not ack.get("success"):
                return
            for message in ack["data"]["messages"]:
                self.synced.add(message["_id"])
                after = max(after, message["seq"])
            if not ack["data"]["hasMore"]:
                return

    def has(self) -> set[str]:
        return set(self.live) | self.synced


async def wait_for(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.02)
