"""A bare ASGI python-socketio app for bench/server_memory.py: the engine.io/Socket.IO stack the
backend uses (websocket transport only, a `/chat` namespace whose connect joins a room), with
none of Reflex or our domain. What an idle socket costs here is what the server stack and
python-socketio cost, whatever the app adds on top.

GET /stats answers (JSON) the asyncio tasks alive (by coroutine), the sockets engine.io holds, and with
BARE_TRACEMALLOC=1 in the environment the bytes Python's allocator holds (tracemalloc).
"""

from __future__ import annotations

import asyncio
import json
import os
import tracemalloc
from collections import Counter
from collections.abc import Awaitable, Callable

import socketio

if os.environ.get("BARE_TRACEMALLOC") == "1":
    tracemalloc.start()

sio = socketio.AsyncServer(async_mode="asgi", transports=["websocket"], allow_upgrades=False,
                           async_handlers=False, cors_allowed_origins="*")


class Chat(socketio.AsyncNamespace):
    async def on_connect(self, sid: str, environ: dict, auth: dict | None = None) -> None:
        await self.enter_room(sid, f"user:{(auth or {}).get('token', '')[:8]}")


sio.register_namespace(Chat("/chat"))


def _coroutine_name(task: asyncio.Task) -> str:
    return getattr(task.get_coro(), "__qualname__", "?")


async def stats(scope: dict, receive: Callable[[], Awaitable[dict]],
                send: Callable[[dict], Awaitable[None]]) -> None:
    body = json.dumps({
        "tasks": dict(Counter(_coroutine_name(task) for task in asyncio.all_tasks())),
        "sockets": len(sio.eio.sockets),
        "traced_bytes": tracemalloc.get_traced_memory()[0] if tracemalloc.is_tracing() else None,
    }).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


app = socketio.ASGIApp(sio, other_asgi_app=stats, socketio_path="_event")
