"""ChatHeader: who the conversation is with, and its menu (archive a direct chat, leave a group)."""

from __future__ import annotations

import reflex as rx

from utool_chat.components.avatar import user_avatar
from utool_chat.state.chat import ChatState


def _menu() -> rx.Component:
    return rx.dropdown_menu.root(
        rx.dropdown_menu.trigger(
            rx.icon_button(
                rx.icon("ellipsis-vertical", size=18),
                variant="ghost",
                color_scheme="gray",
                radius="full",
                aria_label="Conversation menu",
                custom_attrs={"data-testid": "conversation-menu"},
            )
        ),
        rx.dropdown_menu.content(
            rx.dropdown_menu.item(
                rx.cond(
                    ChatState.current_is_group,
                    rx.hstack(rx.icon("log-out", size=14), rx.text("Leave group"), align="center", spacing="2"),
                    rx.hstack(rx.icon("archive", size=14), rx.text("Archive chat"), align="center", spacing="2"),
                ),
                color=rx.cond(ChatState.current_is_group, "red", "gray"),
                on_select=ChatState.archive_or_leave,
                custom_attrs={"data-testid": "archive-or-leave"},
            ),
            align="end",
        ),
    )


def chat_header() -> rx.Component:
    return rx.box(
        rx.link(
            rx.icon_button(
                rx.icon("arrow-left", size=20),
                variant="ghost",
                color_scheme="gray",
                radius="full",
                aria_label="Back to conversations",
                as_child=False,
            ),
            href="/chat",
            class_name="chat-back",
            custom_attrs={"data-testid": "chat-back"},
        ),
        user_avatar(ChatState.current_name, ChatState.current_avatar, size="3"),
        rx.box(
            rx.text(
                ChatState.current_name,
                weight="bold",
                size="3",
                class_name="truncate",
                as_="div",
                custom_attrs={"data-testid": "chat-title"},
            ),
            rx.cond(
                (ChatState.typing_label != "") & ~ChatState.current_is_group,
                rx.text("typing…", size="1", color="var(--accent-11)", as_="div", font_style="italic"),
                rx.text(ChatState.current_subtitle, size="1", color_scheme="gray", class_name="truncate", as_="div"),
            ),
            flex="1",
            min_width="0",
        ),
        _menu(),
        class_name="chat-header",
        custom_attrs={"data-testid": "chat-header"},
    )
