"""Reflex configuration. Runtime settings (database, Redis, secrets) live in utool_chat/config.py."""

import os

import reflex as rx
from reflex_base.constants.installer import PackageJson

from utool_chat.serving import use_uvicorn_in_reflex

# The backend runs on uvicorn (websockets-sansio), not granian: a quarter of the memory per idle socket
# (utool_chat/serving.py).
use_uvicorn_in_reflex(os.environ)

# The dev frontend (`react-router dev --host`) listens on every interface by default; keep it
# on this machine like the backend (`FRONTEND_HOST=0.0.0.0` to share it on the network).
PackageJson.Commands.DEV = "react-router dev --host " + os.environ.get("FRONTEND_HOST", "127.0.0.1")

config = rx.Config(
    app_name="utool_chat",
    telemetry_enabled=False,
    show_built_with_reflex=False,
    # The frontend talks to the backend on this URL; override with API_URL for other hosts/ports.
    api_url=os.environ.get("API_URL", "http://localhost:8000"),
    disable_plugins=[rx.plugins.sitemap.SitemapPlugin],
    plugins=[rx.plugins.RadixThemesPlugin(theme=rx.theme(appearance="light", accent_color="indigo", radius="large"))],
)
