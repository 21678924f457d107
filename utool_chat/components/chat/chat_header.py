"""ChatHeader: who the conversation is with, and its menu.

Groups: members (everyone), rename and add members (admins), leave (with a confirmation).
Direct chats: archive (with a confirmation). Clicking a group's name opens its members.
"""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex_base.event import EventCallback

from utool_chat.components.avatar import user_avatar
from utool_chat.components.chat.group_dialogs import conversation_dialogs
from utool_chat.components.chat.presence import preference_items, presence_line
from utool_chat.state.chat import ChatState, ConversationSettingsState, PeoplePickerState, SearchState


def _item(icon: str, label: str, on_select: EventCallback[()], testid: str, **props: Any) -> rx.Component:
    return rx.dropdown_menu.item(
        rx.hstack(rx.icon(icon, size=14), rx.text(label), align="center", spacing="2"),
        on_select=on_select,
        custom_attrs={"data-testid": testid},
        **props,
    )


def _group_items() -> rx.Component:
    ask_to_leave = ConversationSettingsState.set_confirm_leave_open(True)
    return rx.fragment(
        _item("users", "Members", ConversationSettingsState.set_members_open(True), "menu-members"),
        rx.cond(
            ChatState.current_is_admin,
            rx.fragment(
                _item("pencil", "Rename group", ConversationSettingsState.set_rename_open(True), "menu-rename"),
                _item("user-plus", "Add members", PeoplePickerState.open_add_members, "menu-add-members"),
            ),
        ),
        rx.dropdown_menu.separator(),
        _item("log-out", "Leave group", ask_to_leave, "archive-or-leave", color="red"),
    )


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
            preference_items(),
            rx.cond(
                ChatState.current_is_group,
                _group_items(),
                _item("archive", "Archive chat", ConversationSettingsState.set_confirm_leave_open(True),
                      "archive-or-leave"),
            ),
            align="end",
            min_width="190px",
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
                presence_line(
                    rx.text(ChatState.current_subtitle, size="1", color_scheme="gray", class_name="truncate",
                            as_="div", custom_attrs={"data-testid": "chat-subtitle"}),
                ),
            ),
            flex="1",
            min_width="0",
            on_click=ConversationSettingsState.set_members_open(True),  # a no-op for direct chats
            class_name=rx.cond(
                ChatState.current_is_group, "chat-header-info chat-header-clickable", "chat-header-info"
            ),
        ),
        rx.tooltip(
            rx.icon_button(
                rx.icon("search", size=18),
                variant="ghost",
                color_scheme="gray",
                radius="full",
                aria_label="Search in this conversation",
                on_click=SearchState.search_in_conversation,
                custom_attrs={"data-testid": "search-in-conversation"},
            ),
            content="Search in this conversation",
        ),
        _menu(),
        conversation_dialogs(),
        class_name="chat-header",
        custom_attrs={"data-testid": "chat-header"},
    )
