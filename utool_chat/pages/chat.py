"""The chat pages: /chat (the list) and /chat/[conversation_id] (a conversation).

`/chat?with=<userId>` (the friends page's "Message" button) opens the direct conversation
with that user, creating it if needed.
"""

from __future__ import annotations

import reflex as rx

from utool_chat.components.chat import chat_layout
from utool_chat.components.layout import app_shell
from utool_chat.state.auth import AuthState
from utool_chat.state.chat import ChatPageState, ChatState


def chat_page() -> rx.Component:
    return app_shell(chat_layout(), active="chats", full_width=True)


def add_chat_pages(app: rx.App) -> None:
    on_load = [AuthState.check_login, ChatPageState.on_load]
    for route in ("/chat", "/chat/[conversation_id]"):
        app.add_page(chat_page, route=route, title=ChatState.page_title, on_load=on_load)
