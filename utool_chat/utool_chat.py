"""The Reflex app: pages (server-driven UI), the HTTP API and the Socket.IO server on one backend."""

import reflex as rx

from utool_chat.api.app import api
from utool_chat.api.proxies import forwarded_headers
from utool_chat.domain.uploads import run_sweeper
from utool_chat.pages import register_pages
from utool_chat.realtime.server import create_sio, direct_socket_route
from utool_chat.realtime.shutdown import graceful_shutdown

sio = create_sio()
app = rx.App(
    # The API with the Reflex app mounted in it, the Socket.IO websocket routed ahead of both
    # (its idle sockets' memory, realtime/server.py), then the whole backend behind ForwardedHeaders.
    api_transformer=[api, direct_socket_route(sio), forwarded_headers],
    sio=sio,
    stylesheets=["/styles.css", "/chat.css", "/uploads.css", "/features.css"],  # assets/
)
# Not Reflex's "Cannot connect to server" toasts (its default overlay): every page has its own
# offline banner ("Offline — reconnecting…", components/layout.py), which also covers a browser
# that is offline while the socket still looks open.
app.app_wraps[(5, "Overlay")] = lambda stateful: None
register_pages(app)
# Deletes uploads never attached once they expire (UPLOAD_EXPIRY_SECONDS), in every backend process.
app.register_lifespan_task(run_sweeper)
# SIGTERM: running handlers finish, sockets are closed so that clients reconnect elsewhere.
app.register_lifespan_task(graceful_shutdown)
