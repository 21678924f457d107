"""The list's "Archived (n)" entry and the archived chats' dialog, where each can be opened
or moved back to the list (PreferencesState)."""

from __future__ import annotations

import reflex as rx

from utool_chat.components.avatar import user_avatar
from utool_chat.state.chat import PreferencesState
from utool_chat.state.chat.preferences import ArchivedItemView


def _archived_row(item: ArchivedItemView) -> rx.Component:
    return rx.hstack(
        rx.link(
            rx.hstack(
                user_avatar(item.name, item.avatar, size="3"),
                rx.box(
                    rx.text(item.name, weight="medium", size="2", class_name="truncate", as_="div"),
                    rx.text(item.snippet, size="1", color_scheme="gray", class_name="truncate", as_="div"),
                    min_width="0",
                    flex="1",
                ),
                align="center",
                spacing="3",
                min_width="0",
                flex="1",
            ),
            href="/chat/" + item.id,
            underline="none",
            color="inherit",
            on_click=PreferencesState.set_archived_open(False),
            min_width="0",
            flex="1",
        ),
        rx.button(
            rx.icon("archive-restore", size=14), "Unarchive",
            size="1", variant="soft",
            on_click=PreferencesState.unarchive(item.id),
            custom_attrs={"data-testid": "unarchive"},
        ),
        align="center",
        spacing="2",
        width="100%",
        padding="6px 0",
        custom_attrs={"data-testid": "archived-item", "data-conversation-id": item.id},
    )


def archived_entry() -> rx.Component:
    return rx.fragment(
        rx.cond(
            PreferencesState.archived_count > 0,
            rx.el.button(
                rx.icon("archive", size=16),
                rx.el.span("Archived (", PreferencesState.archived_count, ")"),
                type="button",
                class_name="chat-archived-entry",
                on_click=PreferencesState.set_archived_open(True),
                custom_attrs={"data-testid": "archived-entry"},
            ),
        ),
        rx.el.span(on_mount=PreferencesState.refresh_archived, class_name="chat-hidden"),
        rx.dialog.root(
            rx.dialog.content(
                rx.dialog.title("Archived chats"),
                rx.cond(
                    PreferencesState.archived_loading & (PreferencesState.archived_items.length() == 0),
                    rx.center(rx.spinner(), padding="16px"),
                    rx.cond(
                        PreferencesState.archived_items.length() > 0,
                        rx.box(rx.foreach(PreferencesState.archived_items, _archived_row)),
                        rx.text("No archived chats.", size="2", color_scheme="gray"),
                    ),
                ),
                rx.hstack(
                    rx.dialog.close(rx.button("Close", variant="soft", color_scheme="gray")),
                    justify="end",
                    margin_top="12px",
                ),
                max_width="460px",
                custom_attrs={"data-testid": "archived-dialog"},
            ),
            open=PreferencesState.archived_open,
            on_open_change=PreferencesState.set_archived_open,
        ),
    )
