"""ChatPage: the conversation list beside the open conversation.

At phone width (< 768 px) they are two screens: the list at /chat, the conversation at
/chat/<id> with a back button (`data-view` on the shell switches them in CSS).
"""

from __future__ import annotations

import reflex as rx

from utool_chat.components.chat.assets import CHAT_CSS, CHAT_JS, TIMEZONE_JS
from utool_chat.components.chat.conversation_list import conversation_list
from utool_chat.components.chat.conversation_view import conversation_view
from utool_chat.state.chat import ChatListenerState, ChatPageState, ChatState


def chat_layout() -> rx.Component:
    return rx.box(
        rx.el.style(CHAT_CSS),
        conversation_list(),
        conversation_view(),
        class_name="chat-shell",
        custom_attrs={
            "data-testid": "chat-page",
            "data-view": rx.cond(ChatState.has_current, "conversation", "list"),
        },
        on_mount=[
            ChatListenerState.listen_for_events,
            rx.call_script(CHAT_JS),
            rx.call_script(TIMEZONE_JS, callback=ChatPageState.set_timezone),
        ],
        on_unmount=ChatPageState.leave_page,
    )
