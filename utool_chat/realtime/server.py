"""The app's Socket.IO server, shared by Reflex (its `/_event` state sync) and the `/chat`
namespace of contract.md.

Reflex builds an identical server when none is given; we build it ourselves so the chat
namespace can be registered on it. Options mirror Reflex 0.10.1's own (custom JSON codec
for Reflex's state payloads, websocket transport only).
"""

from __future__ import annotations

from types import SimpleNamespace

from reflex.app import _sio_dumps, _sio_loads
from reflex.config import get_config
from reflex.environment import environment
from socketio import AsyncServer


def create_sio() -> AsyncServer:
    config = get_config()
    origins = config.cors_allowed_origins
    sio = AsyncServer(
        async_mode="asgi",
        cors_allowed_origins="*" if origins == ("*",) else list(origins),
        cors_credentials=True,
        max_http_buffer_size=environment.REFLEX_SOCKET_MAX_HTTP_BUFFER_SIZE.get(),
        ping_interval=environment.REFLEX_SOCKET_INTERVAL.get().total_seconds(),
        ping_timeout=environment.REFLEX_SOCKET_TIMEOUT.get().total_seconds(),
        json=SimpleNamespace(dumps=staticmethod(_sio_dumps), loads=staticmethod(_sio_loads)),
        allow_upgrades=False,
        transports=["websocket"],
        async_handlers=False,
    )
    from utool_chat.realtime.chat_namespace import ChatNamespace

    sio.register_namespace(ChatNamespace("/chat"))
    return sio
