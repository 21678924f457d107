"""Reflex configuration. Runtime settings (database, Redis, secrets) live in utool_chat/config.py."""

import os

import reflex as rx

config = rx.Config(
    app_name="utool_chat",
    telemetry_enabled=False,
    show_built_with_reflex=False,
    # The frontend talks to the backend on this URL; override with API_URL for other hosts/ports.
    api_url=os.environ.get("API_URL", "http://localhost:8000"),
    disable_plugins=[rx.plugins.sitemap.SitemapPlugin],
    plugins=[rx.plugins.RadixThemesPlugin(theme=rx.theme(appearance="light", accent_color="indigo", radius="large"))],
)
