"""ConversationView: the open conversation (header, messages, typing, composer), or the
"pick a conversation" / "not found" state when none is open."""

from __future__ import annotations

import reflex as rx

from utool_chat.components.chat.chat_header import chat_header
from utool_chat.components.chat.message_input import message_input
from utool_chat.components.chat.message_list import message_list
from utool_chat.components.chat.placeholders import empty_state
from utool_chat.components.chat.typing_indicator import typing_indicator
from utool_chat.components.dialogs import confirm_dialog
from utool_chat.state.chat import ChatState, MessageActionsState


def _delete_dialog() -> rx.Component:
    return confirm_dialog(
        "Delete message?",
        "It will be replaced by “This message was deleted” for everyone.",
        rx.button(
            "Delete", color_scheme="red", on_click=MessageActionsState.delete_message,
            custom_attrs={"data-testid": "confirm-delete"},
        ),
        on_cancel=MessageActionsState.cancel_delete,
        max_width="400px",
        open=MessageActionsState.confirm_delete_id != "",
    )


def conversation_view() -> rx.Component:
    return rx.box(
        rx.cond(
            ChatState.has_current,
            rx.fragment(
                chat_header(),
                message_list(),
                typing_indicator(),
                message_input(),
                _delete_dialog(),
            ),
            rx.cond(
                ChatState.current_error != "",
                empty_state(
                    "search-x",
                    "Conversation not found",
                    ChatState.current_error,
                    rx.link(rx.button("Back to chats", variant="soft"), href="/chat"),
                    testid="conversation-not-found",
                ),
                empty_state(
                    "messages-square",
                    "Your messages",
                    "Pick a conversation on the left, or start one from your friends list.",
                    rx.link(rx.button(rx.icon("user-plus", size=14), "Find friends", variant="soft"), href="/friends"),
                    testid="no-conversation",
                ),
            ),
        ),
        class_name="chat-main",
        custom_attrs={"data-testid": "conversation-view"},
    )
