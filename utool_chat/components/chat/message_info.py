"""Seen-by and message info: the "Seen by Alice, Bob" line under one's own last message in
a group, the "Info" item of one's own messages' menu, and the dialog both open — every
other member with read (and when), delivered or sent (ReceiptsState)."""

from __future__ import annotations

import reflex as rx

from utool_chat.components.chat.member_row import member_row
from utool_chat.state.beyond_text import ReceiptView
from utool_chat.state.chat import ReceiptsState
from utool_chat.state.chat_views import MessageView

STATUS_LABELS = {"read": "Read", "delivered": "Delivered", "sent": "Sent"}


def seen_by_line(msg: MessageView) -> rx.Component:
    return rx.cond(
        msg.seen_by != "",
        rx.el.button(
            msg.seen_by,
            type="button",
            class_name="chat-seen-by",
            on_click=ReceiptsState.open_info(msg.message_id),
            custom_attrs={"data-testid": "seen-by"},
        ),
    )


def info_menu_item(msg: MessageView) -> rx.Component:
    return rx.cond(
        msg.is_own & (msg.message_id != ""),
        rx.dropdown_menu.item(
            rx.icon("info", size=14), "Info",
            on_select=ReceiptsState.open_info(msg.message_id),
            custom_attrs={"data-testid": "message-info"},
        ),
    )


def _receipt_row(entry: ReceiptView) -> rx.Component:
    return member_row(
        rx.text(entry.name, rx.cond(entry.left, " (left)", ""), size="2", weight="medium", flex="1",
                class_name="truncate"),
        rx.text(
            rx.match(entry.status, *STATUS_LABELS.items(), STATUS_LABELS["sent"]),
            size="2", color_scheme=rx.cond(entry.status == "read", "blue", "gray"),
        ),
        rx.text(entry.time_label, size="1", color_scheme="gray", min_width="7em", text_align="right"),
        testid="receipt",
        data={"status": entry.status, "user-id": entry.user_id},
        padding="6px 0",
    )


def message_info_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Message info"),
            rx.cond(
                ReceiptsState.info_loading,
                rx.center(rx.spinner(), padding="16px"),
                rx.cond(
                    ReceiptsState.info_error != "",
                    rx.callout(ReceiptsState.info_error, color_scheme="red", size="1"),
                    rx.box(
                        rx.text(ReceiptsState.info_summary, size="1", color_scheme="gray", as_="div",
                                margin_bottom="8px"),
                        rx.foreach(ReceiptsState.info_members, _receipt_row),
                    ),
                ),
            ),
            rx.hstack(
                rx.dialog.close(rx.button("Close", variant="soft", color_scheme="gray")),
                justify="end",
                margin_top="12px",
            ),
            max_width="420px",
            custom_attrs={"data-testid": "message-info-dialog"},
        ),
        open=ReceiptsState.info_open,
        on_open_change=ReceiptsState.set_info_open,
    )
