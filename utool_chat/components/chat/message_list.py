"""MessageList: the scrolling history, oldest at the top.

Scrolling near the top loads the previous page (a spinner shows, the reading position is
kept); new messages keep the view at the bottom unless the reader scrolled up, in which
case a "New messages" button appears. The scroll logic is `window.utoolChat` (assets/chat.js);
it talks to the state through the hidden buttons below.
"""

from __future__ import annotations

import reflex as rx

from utool_chat.components.chat.history_jump import history_bottom, jump_controls
from utool_chat.components.chat.message_item import message_item
from utool_chat.components.chat.placeholders import empty_state, error_state
from utool_chat.state.chat import MessagesState


def _history_top() -> rx.Component:
    return rx.cond(
        MessagesState.loading_older,
        rx.center(rx.spinner(size="2"), padding="12px", custom_attrs={"data-testid": "loading-older"}),
        rx.cond(
            ~MessagesState.has_older & MessagesState.has_messages,
            rx.center(
                rx.text(
                    rx.icon("lock", size=12, class_name="inline-icon"),
                    "This is the beginning of your conversation.",
                    size="1",
                    color_scheme="gray",
                ),
                padding="16px 0 4px",
                custom_attrs={"data-testid": "history-start"},
            ),
        ),
    )


def _loading_skeleton() -> rx.Component:
    widths = ["45%", "60%", "35%", "55%", "40%"]
    return rx.vstack(
        *[
            rx.hstack(
                rx.skeleton(height="38px", width=w, border_radius="18px"),
                justify="end" if i % 2 else "start",
                width="100%",
            )
            for i, w in enumerate(widths)
        ],
        spacing="3",
        padding_top="16px",
        width="100%",
        custom_attrs={"data-testid": "messages-loading"},
    )


def message_list() -> rx.Component:
    return rx.fragment(
        rx.box(
            rx.cond(
                MessagesState.messages_loading,
                _loading_skeleton(),
                rx.cond(
                    MessagesState.messages_error != "",
                    error_state(MessagesState.messages_error, MessagesState.retry_messages),
                    rx.cond(
                        MessagesState.has_messages,
                        rx.box(
                            _history_top(),
                            rx.foreach(MessagesState.older_messages, message_item),
                            rx.foreach(MessagesState.recent_messages, message_item),
                            history_bottom(),
                            class_name="chat-messages",
                            custom_attrs={"data-testid": "message-list"},
                        ),
                        empty_state(
                            "hand",
                            "Say hello 👋",
                            "No messages here yet. Send the first one!",
                            testid="messages-empty",
                        ),
                    ),
                ),
            ),
            # The browser outbox's bubbles (assets/outbox.js draws them, not React): messages
            # composed here that the server has not drawn yet.
            rx.box(id="outbox-pending", class_name="chat-messages outbox-pending"),
            id="chat-scroll",
            class_name="chat-scroll",
            custom_attrs={
                "data-has-older": rx.cond(MessagesState.has_older, "1", "0"),
                "data-loading": rx.cond(MessagesState.loading_older, "1", "0"),
                "data-has-newer": rx.cond(MessagesState.has_newer, "1", "0"),
                "data-loading-newer": rx.cond(MessagesState.loading_newer, "1", "0"),
                "data-jump-to": MessagesState.jump_highlight,
            },
        ),
        rx.button(
            rx.icon("arrow-down", size=14),
            "New messages",
            id="chat-new-below",
            class_name="chat-new-below",
            radius="full",
            size="2",
            on_click=rx.call_script("window.utoolChat && window.utoolChat.scrollToBottom(true)"),
            custom_attrs={"data-show": "0", "data-testid": "new-messages-button"},
        ),
        jump_controls(),
        # Hidden doors for the browser helper.
        rx.el.button(
            id="chat-load-older", class_name="chat-hidden", on_click=MessagesState.fetch_messages, tab_index=-1
        ),
        rx.el.button(
            id="chat-mark-read", class_name="chat-hidden", on_click=MessagesState.mark_current_read(True), tab_index=-1
        ),
    )
