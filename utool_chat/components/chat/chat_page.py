"""ChatPage: the conversation list beside the open conversation.

At phone width (< 768 px) they are two screens: the list at /chat, the conversation at
/chat/<id> with a back button (`data-view` on the shell switches them in CSS).

Styles: assets/chat.css (one of the app's stylesheets, utool_chat.py). Browser helper:
assets/chat.js, which installs `window.utoolChat` (scroll position and history paging,
composer keys, mark-read when the tab becomes visible); the page loads it as a script, and
it is idempotent (loading it again only re-attaches to the page). Neither holds user data.
"""

from __future__ import annotations

import reflex as rx

from utool_chat.components.chat.conversation_list import conversation_list
from utool_chat.components.chat.conversation_view import conversation_view
from utool_chat.components.chat.mentions import mention_support
from utool_chat.components.chat.presence import presence_reporter
from utool_chat.state.chat import ChatPageState, ChatState

# Evaluated in the browser on mount; its value (the IANA zone name) goes to set_timezone.
TIMEZONE_JS = "Intl.DateTimeFormat().resolvedOptions().timeZone || ''"


def chat_layout() -> rx.Component:
    return rx.box(
        rx.script(src=rx.asset("chat.js")),
        mention_support(),
        presence_reporter(),
        conversation_list(),
        conversation_view(),
        class_name="chat-shell",
        custom_attrs={
            "data-testid": "chat-page",
            "data-view": rx.cond(ChatState.has_current, "conversation", "list"),
        },
        on_mount=[
            ChatPageState.enter_page,
            rx.call_script(TIMEZONE_JS, callback=ChatPageState.set_timezone),
        ],
        on_unmount=ChatPageState.leave_page,
    )
