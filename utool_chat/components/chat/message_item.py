"""MessageItem: one message bubble with its reply quote, attachments, reactions and actions.

Own messages sit on the right in the accent colour with a delivery tick; others on the
left (with the sender's name and avatar in groups). All user text is rendered as text.
"""

from __future__ import annotations

import reflex as rx

from utool_chat.components.avatar import user_avatar
from utool_chat.components.chat.message_attachments import message_attachments
from utool_chat.components.chat.message_body import message_body, notice_row
from utool_chat.components.chat.message_info import info_menu_item, seen_by_line
from utool_chat.state.chat import ChatState, ComposerState, MessageActionsState, MessagesState, OutboxState
from utool_chat.state.chat_views import REACTION_CHOICES, MessageView


def _tick(icon: str, label: str, size: int, shape: str) -> rx.Component:
    """A status told by shape (`data-shape`: one tick, two ticks, two ticks on a filled
    badge) and by text for screen readers, not by colour alone."""
    return rx.el.span(
        rx.icon(icon, size=size, aria_hidden="true"),
        rx.el.span(label, class_name="sr-only"),
        class_name="chat-tick",
        title=label,
        custom_attrs={"data-shape": shape},
    )


def status_tick(msg: MessageView) -> rx.Component:
    """sending ◷ · sent ✓ · delivered ✓✓ · read ✓✓ on a filled badge · failed ⚠."""
    return rx.match(
        msg.status,
        ("sending", _tick("clock", "Sending", 12, "clock")),
        ("sent", _tick("check", "Sent", 14, "one")),
        ("delivered", _tick("check-check", "Delivered", 14, "two")),
        ("read", _tick("check-check", "Read", 12, "filled")),
        ("failed", _tick("circle-alert", "Not sent", 13, "alert")),
        rx.fragment(),
    )


def _reply_quote(msg: MessageView) -> rx.Component:
    return rx.cond(
        msg.has_reply,
        rx.box(
            rx.text(msg.reply_name, class_name="chat-reply-name", as_="div"),
            rx.text(msg.reply_content, class_name="chat-reply-text", as_="div"),
            class_name="chat-reply",
            # Opens the original, loading history if needed (assets/jump.js: Enter / Space too).
            on_click=MessagesState.open_at_message(ChatState.current_id, msg.reply_id),
            role="button",
            tab_index=0,
            title="Show the original message",
            custom_attrs={"data-testid": "reply-quote", "data-reply-to": msg.reply_id},
        ),
    )


def _meta(msg: MessageView) -> rx.Component:
    return rx.el.span(
        rx.cond(msg.is_edited, rx.el.span("edited", custom_attrs={"data-testid": "edited"})),
        rx.el.span(msg.time_label, title=msg.full_time),
        rx.cond(
            msg.is_own,
            rx.el.span(
                status_tick(msg),
                custom_attrs={"data-testid": "message-status", "data-status": msg.status},
                display="inline-flex",
            ),
        ),
        class_name="chat-meta",
    )


def _body(msg: MessageView) -> rx.Component:
    return rx.cond(
        msg.is_deleted,
        rx.box(
            rx.el.span(
                rx.icon("ban", size=14),
                "This message was deleted",
                class_name="chat-deleted",
                custom_attrs={"data-testid": "message-deleted"},
            ),
            _meta(msg),
        ),
        rx.box(
            _reply_quote(msg),
            message_attachments(msg),
            message_body(msg),
            _meta(msg),
        ),
    )


def _reactions(msg: MessageView) -> rx.Component:
    return rx.cond(
        msg.reactions,  # isTrue: a non-empty list
        rx.hstack(
            rx.foreach(
                msg.reactions,
                lambda r: rx.el.button(
                    rx.el.span(r.emoji),
                    rx.el.span(r.count, class_name="chat-reaction-count"),
                    class_name="chat-reaction",
                    title=r.names,
                    type="button",
                    on_click=MessageActionsState.toggle_reaction(msg.message_id, r.emoji),
                    custom_attrs={"data-mine": r.mine, "data-testid": "reaction"},
                ),
            ),
            class_name="chat-reactions",
        ),
    )


def _reaction_picker(msg: MessageView) -> rx.Component:
    return rx.popover.root(
        rx.popover.trigger(
            rx.icon_button(
                rx.icon("smile-plus", size=16),
                variant="ghost",
                size="1",
                radius="full",
                color_scheme="gray",
                aria_label="React",
                custom_attrs={"data-testid": "react-button"},
            )
        ),
        rx.popover.content(
            rx.hstack(
                *[
                    rx.popover.close(
                        rx.icon_button(
                            rx.text(emoji, size="4"),
                            variant="ghost",
                            size="2",
                            radius="full",
                            on_click=MessageActionsState.toggle_reaction(msg.message_id, emoji),
                            aria_label=f"React {emoji}",
                            custom_attrs={"data-testid": "reaction-choice"},
                        )
                    )
                    for emoji in REACTION_CHOICES
                ],
                spacing="1",
            ),
            side="top",
            padding="6px",
            radius="full",
        ),
    )


def _actions(msg: MessageView) -> rx.Component:
    """The hover toolbar: react, reply, and a menu with edit/delete."""
    return rx.cond(
        (msg.message_id != "") & ~msg.is_deleted,
        rx.box(
            _reaction_picker(msg),
            rx.icon_button(
                rx.icon("reply", size=16),
                variant="ghost",
                size="1",
                radius="full",
                color_scheme="gray",
                aria_label="Reply",
                on_click=ComposerState.start_reply(msg.message_id),
                custom_attrs={"data-testid": "reply-button"},
            ),
            rx.cond(
                msg.can_edit | msg.can_delete | msg.is_own,
                rx.dropdown_menu.root(
                    rx.dropdown_menu.trigger(
                        rx.icon_button(
                            rx.icon("ellipsis", size=16),
                            variant="ghost",
                            size="1",
                            radius="full",
                            color_scheme="gray",
                            aria_label="More actions",
                            custom_attrs={"data-testid": "message-menu"},
                        )
                    ),
                    rx.dropdown_menu.content(
                        info_menu_item(msg),
                        rx.cond(
                            msg.can_edit,
                            rx.dropdown_menu.item(
                                rx.icon("pencil", size=14), "Edit",
                                on_select=ComposerState.start_edit(msg.message_id),
                                custom_attrs={"data-testid": "edit-message"},
                            ),
                        ),
                        rx.cond(
                            msg.can_delete,
                            rx.dropdown_menu.item(
                                rx.icon("trash-2", size=14), "Delete",
                                color="red",
                                on_select=MessageActionsState.ask_delete(msg.message_id),
                                custom_attrs={"data-testid": "delete-message"},
                            ),
                        ),
                        size="1",
                    ),
                ),
            ),
            class_name="chat-actions",
        ),
    )


def _failed_row(msg: MessageView) -> rx.Component:
    return rx.cond(
        msg.status == "failed",
        rx.box(
            rx.text(rx.cond(msg.error != "", msg.error, "Not sent."), size="1"),
            rx.button(
                rx.icon("rotate-cw", size=12), "Retry",
                size="1", variant="soft", color_scheme="red",
                on_click=OutboxState.retry_message(msg.key),
                custom_attrs={"data-testid": "retry-message"},
            ),
            rx.button(
                "Discard", size="1", variant="ghost", color_scheme="gray",
                on_click=OutboxState.discard_failed(msg.key),
            ),
            class_name="chat-retry",
        ),
    )


def day_separator(msg: MessageView) -> rx.Component:
    return rx.cond(
        msg.day_label != "",
        rx.box(rx.el.span(msg.day_label), class_name="chat-day", custom_attrs={"data-testid": "day-separator"}),
    )


def message_item(msg: MessageView) -> rx.Component:
    return rx.fragment(
        day_separator(msg),
        rx.cond(msg.is_notice, notice_row(msg), _bubble_row(msg)),
    )


def _bubble_row(msg: MessageView) -> rx.Component:
    return rx.fragment(
        rx.box(
            rx.cond(
                ChatState.current_is_group & ~msg.is_own,
                rx.cond(
                    msg.last_in_group,
                    user_avatar(msg.sender_name, msg.sender_avatar, size="2"),
                    rx.box(class_name="chat-avatar-spacer"),
                ),
            ),
            rx.box(
                rx.cond(msg.show_sender, rx.text(msg.sender_name, class_name="chat-sender", as_="div")),
                rx.box(_body(msg), class_name="chat-bubble"),
                _reactions(msg),
                _failed_row(msg),
                seen_by_line(msg),
                class_name="chat-col",
            ),
            _actions(msg),
            class_name="chat-row",
            id="msg-" + msg.key,
            custom_attrs={
                "data-testid": "message",
                "data-msg-key": msg.key,
                "data-message-id": msg.message_id,
                "data-own": msg.is_own,
                "data-first": msg.first_in_group,
                "data-last": msg.last_in_group,
                "data-status": msg.status,
                "data-jump": rx.cond(msg.message_id == MessagesState.jump_highlight, "highlight", ""),
            },
        ),
    )
