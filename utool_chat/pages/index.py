"""/: nothing to show; sends a signed-in user to their chats and anyone else to /login."""

from __future__ import annotations

import reflex as rx

from utool_chat.components.layout import full_page_spinner


def index_page() -> rx.Component:
    return full_page_spinner()
