"""TypingIndicator: "Alice is typing…" under the messages (a fixed-height row, so the
list does not jump when it appears)."""

from __future__ import annotations

import reflex as rx

from utool_chat.state.chat import ChatState


def typing_indicator() -> rx.Component:
    return rx.box(
        rx.cond(
            ChatState.typing_label != "",
            rx.hstack(
                rx.el.span(rx.el.span(), rx.el.span(), rx.el.span(), class_name="chat-dots"),
                rx.text(
                    rx.cond(ChatState.current_is_group, ChatState.typing_label, ChatState.current_name + " is typing…"),
                    size="1",
                    custom_attrs={"data-testid": "typing-indicator"},
                ),
                align="center",
                spacing="2",
            ),
        ),
        class_name="chat-typing",
        aria_live="polite",
    )
