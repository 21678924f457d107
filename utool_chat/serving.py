"""How the backend is served: uvicorn (h11 for HTTP, websockets' sans-I/O protocol for websockets),
not granian.

Why: an idle connected Socket.IO websocket costs the backend about 180 KB on granian 2.8 and
about 45-48 KB on uvicorn, with the same app (bench/connections.py; the bare stacks side by
side: bench/server_memory.py). Most of granian's share is its own per-websocket buffers, which
it has no option to shrink. Of uvicorn's websocket implementations, the legacy `websockets` one
runs four more tasks per socket; `websockets-sansio` and `wsproto` cost about the same memory
(43 and 40 KB bare), and sansio parses and builds frames in less CPU (websockets' C speedups):
bench/throughput.py's Socket.IO load ran 1,443 / 1,471 msg/s on it against 1,363 / 1,410 on
wsproto, side by side. The choice is pinned here rather than left to whatever uvicorn finds
installed.

`reflex run --env prod` runs gunicorn with a uvicorn worker when REFLEX_USE_GRANIAN is false
(rxconfig.py sets it, and points GUNICORN_CMD_ARGS at `Worker` below); tests/support/
backend_process.py starts the backend the same way.

Shutdown order: uvicorn's own, on SIGTERM, closes every open connection (websockets with
close code 1012) before it runs the app's lifespan shutdown, so the handlers still running
could no longer deliver their acks. `DrainingServer` stops accepting first, then runs
realtime/shutdown.py's drain (running handlers finish and ack, sockets get an engine.io CLOSE),
then lets uvicorn close what is left and run the lifespan shutdown.
"""

from __future__ import annotations

import gc
import socket
import sys
from collections.abc import MutableMapping
from typing import Any

import uvicorn
from gunicorn.arbiter import Arbiter
from uvicorn.workers import UvicornWorker

# What uvicorn is told about the protocols, wherever it is started.
UVICORN_OPTIONS: dict[str, Any] = {
    "http": "h11", "ws": "websockets-sansio", "loop": "asyncio",
    # Browsers offer permessage-deflate, and a socket that takes it keeps two zlib streams for its
    # lifetime: about 100 KB more per idle socket (bench/connections.py, whose client offers it
    # too); Socket.IO's packets here are small JSON, not worth it.
    "ws_per_message_deflate": False,
    # engine.io pings every socket itself (REFLEX_SOCKET_INTERVAL) and drops one that stops
    # answering: uvicorn's own websocket ping would be a second timer and wake-up per socket.
    "ws_ping_interval": None,
    # uvicorn would believe X-Forwarded-For / -Proto from 127.0.0.1 on its own (gunicorn's
    # forwarded_allow_ips): api/proxies.py's ForwardedHeaders is the one rule (TRUSTED_PROXIES).
    "proxy_headers": False,
    # Behind nginx (deploy/nginx.conf.template) the proxy keeps idle connections to us for up to
    # its upstream keepalive_timeout (60 s) and reuses them: if we closed one first (uvicorn's
    # default is 5 s), a request sent on it as we close it fails as a 502 (the browser test saw
    # a page's assets fail so). Longer than the proxy's, the proxy always closes first.
    "timeout_keep_alive": 75,
}
GUNICORN_WORKER = "utool_chat.serving.Worker"

# The collector's thresholds in a serving worker (CPython's default is 700, 10, 10). The first
# counts tracked objects allocated and not yet freed since the last young collection: a
# message to a group of 200 briefly holds a few thousand (a packet, a writer wake-up and its
# futures per socket), so at 700 each such send ran several young collections that walked the
# objects still in flight and promoted them, and the promoted ones brought on middle and full
# collections later (full ones walk every socket's objects: hundreds of ms with 5,000
# sockets). At 50,000 only objects that really accumulate (sockets connecting) trigger a
# collection; cyclic garbage waits for at most that many objects (a few MB). The second is
# young collections per middle one: the middle generation holds up to that many times 50,000
# objects, and a middle collection walks them all (at 20, 5,000 sockets connecting made one
# of about a million objects, a pause as long as a full pass); 5 keeps it to 250,000. A full
# collection waits for 10 middle ones and for the long-lived objects to have grown by a
# quarter (CPython's rule).
GC_THRESHOLDS = (50_000, 5, 10)


def use_uvicorn_in_reflex(environ: MutableMapping[str, str]) -> None:
    """What rxconfig.py does for every `reflex run`: Reflex runs uvicorn (through gunicorn in
    prod) when REFLEX_USE_GRANIAN is false, and gunicorn reads its worker class from
    GUNICORN_CMD_ARGS (after Reflex's own arguments, so it wins). A --worker-class, or
    REFLEX_USE_GRANIAN, set by whoever runs it is left alone."""
    environ.setdefault("REFLEX_USE_GRANIAN", "false")
    extra = environ.get("GUNICORN_CMD_ARGS", "")
    if "--worker-class" not in extra and "-k " not in extra:
        environ["GUNICORN_CMD_ARGS"] = f"--worker-class {GUNICORN_WORKER} {extra}".strip()


def tune_gc_for_serving() -> None:
    """The garbage collector as a long-running worker wants it, once, before serving.

    Everything loaded so far (Reflex, the pages, SQLAlchemy: about 150 ms of every full
    collection here) lives as long as the process: frozen, out of the collector's sight, a
    full collection walks only what came after, mostly the sockets' objects. What Reflex does
    itself before forking granian's workers (reflex.utils.exec._freeze_for_fork). Then
    GC_THRESHOLDS."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


class DrainingServer(uvicorn.Server):
    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        from utool_chat.realtime.shutdown import drain

        for server in self.servers:  # no new connection while the sockets drain
            server.close()
        await drain()
        await super().shutdown(sockets)


class Worker(UvicornWorker):
    """gunicorn's worker for the app: uvicorn with UVICORN_OPTIONS and DrainingServer."""

    CONFIG_KWARGS = UVICORN_OPTIONS

    async def _serve(self) -> None:  # UvicornWorker._serve, with DrainingServer
        tune_gc_for_serving()
        self.config.app = self.wsgi
        server = DrainingServer(config=self.config)
        self._install_sigquit_handler()
        await server.serve(sockets=self.sockets)
        if not server.started:
            sys.exit(Arbiter.WORKER_BOOT_ERROR)
