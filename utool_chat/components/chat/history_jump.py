"""The message list's parts for a window that is not at the latest message (after
MessagesState.open_at_message): the spinner while a newer page loads, the "Jump to latest"
button, and the hidden door assets/jump.js clicks to ask for the next newer page."""

from __future__ import annotations

import reflex as rx

from utool_chat.state.chat import MessagesState


def history_bottom() -> rx.Component:
    """Under the last row: a spinner while newer messages load."""
    return rx.cond(
        MessagesState.loading_newer,
        rx.center(rx.spinner(size="2"), padding="12px", custom_attrs={"data-testid": "loading-newer"}),
    )


def jump_controls() -> rx.Component:
    return rx.fragment(
        rx.button(
            rx.icon("arrow-down-to-line", size=14),
            "Jump to latest",
            class_name="chat-jump-latest",
            radius="full",
            size="2",
            on_click=MessagesState.jump_to_latest,
            custom_attrs={
                "data-show": rx.cond(MessagesState.has_newer, "1", "0"),
                "data-testid": "jump-to-latest",
                "aria-hidden": rx.cond(MessagesState.has_newer, "false", "true"),
            },
            tab_index=rx.cond(MessagesState.has_newer, 0, -1),
        ),
        rx.el.button(id="chat-jump-done", class_name="chat-hidden", on_click=MessagesState.end_highlight, tab_index=-1),
        rx.el.button(
            id="chat-load-newer", class_name="chat-hidden", on_click=MessagesState.fetch_newer_messages,
            tab_index=-1,
        ),
    )
