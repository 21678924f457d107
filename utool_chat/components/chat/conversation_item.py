"""ConversationItem: one row of the list (avatar, name, last message or typing, time, unread)."""

from __future__ import annotations

import reflex as rx

from utool_chat.components.avatar import user_avatar
from utool_chat.components.chat.presence import presence_dot
from utool_chat.state.chat import ChatState
from utool_chat.state.chat_views import ConversationItemView


def conversation_item(item: ConversationItemView) -> rx.Component:
    unread = item.unread > 0
    return rx.link(
        rx.box(
            user_avatar(item.name, item.avatar, size="4"),
            rx.cond(
                item.is_group,
                rx.center(
                    rx.icon("users", size=10, color="white"),
                    position="absolute", bottom="-2px", right="-2px",
                    width="18px", height="18px", border_radius="50%",
                    background="var(--gray-10)", border="2px solid var(--color-panel-solid)",
                ),
            ),
            presence_dot(item.presence),
            position="relative",
            flex_shrink="0",
        ),
        rx.box(
            rx.hstack(
                rx.text(item.name, class_name="chat-conv-name truncate", size="2", flex="1",
                        custom_attrs={"data-testid": "conversation-name"}),
                rx.cond(item.is_muted, rx.icon("bell-off", size=12, class_name="chat-conv-flag",
                                               custom_attrs={"data-testid": "muted-icon", "aria-label": "Muted"})),
                rx.cond(item.is_pinned, rx.icon("pin", size=12, class_name="chat-conv-flag",
                                                custom_attrs={"data-testid": "pinned-icon", "aria-label": "Pinned"})),
                rx.text(item.time_label, class_name="chat-conv-time"),
                align="baseline",
                spacing="2",
                width="100%",
            ),
            rx.hstack(
                rx.text(
                    item.snippet,
                    class_name=rx.cond(
                        item.is_typing, "chat-conv-snippet chat-typing-snippet truncate", "chat-conv-snippet truncate"
                    ),
                    size="2",
                    flex="1",
                    custom_attrs={"data-testid": "conversation-snippet"},
                ),
                rx.cond(
                    item.has_mention,
                    rx.el.span("@", class_name="chat-mention-badge",
                               custom_attrs={"data-testid": "mention-badge", "aria-label": "Mentions you"}),
                ),
                rx.cond(
                    unread,
                    rx.el.span(
                        item.unread_label, class_name="chat-unread-badge", custom_attrs={"data-testid": "unread-badge"}
                    ),
                ),
                align="center",
                spacing="2",
                width="100%",
                margin_top="2px",
            ),
            flex="1",
            min_width="0",
        ),
        href="/chat/" + item.id,
        underline="none",
        class_name="chat-conv-item",
        custom_attrs={
            "data-testid": "conversation-item",
            "data-conversation-id": item.id,
            "data-selected": item.id == ChatState.current_id,
            "data-unread": unread,
            "data-pinned": item.is_pinned,
            "data-presence": item.presence,
        },
    )
