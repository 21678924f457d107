"""ConversationList: the sidebar. Most recent activity first, updated live."""

from __future__ import annotations

import reflex as rx

from utool_chat.components.chat.archived import archived_entry
from utool_chat.components.chat.conversation_item import conversation_item
from utool_chat.components.chat.group_dialogs import people_picker_dialog
from utool_chat.components.chat.placeholders import empty_state, error_state
from utool_chat.components.chat.search_panel import searchable
from utool_chat.components.notifications import enable_notifications_banner
from utool_chat.state.chat import ChatState, ConversationListState, PeoplePickerState, SearchState


def _skeleton_row() -> rx.Component:
    return rx.hstack(
        rx.skeleton(width="48px", height="48px", border_radius="50%"),
        rx.vstack(
            rx.skeleton(height="14px", width="60%"), rx.skeleton(height="12px", width="85%"), width="100%", spacing="2"
        ),
        padding="10px 12px",
        align="center",
        width="100%",
    )


def conversation_list() -> rx.Component:
    return rx.box(
        rx.hstack(
            rx.heading("Chats", size="6", weight="bold"),
            rx.cond(
                ChatState.total_unread > 0,
                rx.badge(
                    ChatState.total_unread, " unread", radius="full", variant="soft",
                    custom_attrs={"data-testid": "total-unread"},
                ),
            ),
            rx.spacer(),
            rx.tooltip(
                rx.icon_button(
                    rx.icon("square-pen", size=18),
                    variant="soft",
                    radius="full",
                    aria_label="New chat",
                    on_click=PeoplePickerState.open_new_chat,
                    custom_attrs={"data-testid": "new-chat"},
                ),
                content="New chat or group",
            ),
            people_picker_dialog(),
            align="center",
            spacing="2",
            class_name="chat-sidebar-head",
        ),
        enable_notifications_banner(),
        searchable(rx.box(
            rx.cond(
                ConversationListState.conversations_loading,
                rx.vstack(
                    *[_skeleton_row() for _ in range(6)], spacing="0",
                    custom_attrs={"data-testid": "conversations-loading"},
                ),
                rx.cond(
                    ConversationListState.conversations_error != "",
                    error_state(ConversationListState.conversations_error, ConversationListState.fetch_conversations),
                    rx.cond(
                        ConversationListState.conversation_items.length() > 0,
                        rx.fragment(
                            rx.foreach(ConversationListState.conversation_items, conversation_item),
                            rx.cond(
                                ConversationListState.conversations_has_more,
                                rx.center(
                                    rx.button(
                                        "Show older chats", variant="ghost",
                                        on_click=ConversationListState.fetch_more_conversations,
                                    ),
                                    padding="8px",
                                ),
                            ),
                        ),
                        empty_state(
                            "message-circle-plus",
                            "No conversations yet",
                            "Start a chat or a group with your friends.",
                            rx.hstack(
                                rx.button(
                                    rx.icon("square-pen", size=14), "New chat", on_click=PeoplePickerState.open_new_chat
                                ),
                                rx.link(
                                    rx.button(rx.icon("users", size=14), "Friends", variant="soft"), href="/friends"
                                ),
                                spacing="2",
                            ),
                            testid="conversations-empty",
                        ),
                    ),
                ),
            ),
            archived_entry(),
            class_name="chat-conv-scroll",
            custom_attrs={"data-testid": "conversation-list"},
        )),
        class_name="chat-sidebar",
        custom_attrs={"data-search": rx.cond(SearchState.search_screen, "1", "0")},
    )
