"""Notifications on every signed-in page: assets/notify.js (window.utool.notify), the
unread total it shows in the title and the favicon badge, and the "Enable notifications"
banner (shown by CSS only while the browser's permission is undecided: notify.js mirrors
it on <html data-notify-permission>)."""

from __future__ import annotations

import reflex as rx

from utool_chat.state.chat import ChatState


def notification_support() -> rx.Component:
    """Rendered once by the app shell."""
    return rx.fragment(
        rx.script(src=rx.asset("notify.js")),
        rx.el.span(id="utool-unread", class_name="chat-hidden", custom_attrs={"data-count": ChatState.total_unread}),
    )


def enable_notifications_banner() -> rx.Component:
    """A click is the user gesture browsers want before asking (notify.js listens for
    clicks on [data-notify-enable])."""
    return rx.box(
        rx.icon("bell-ring", size=16, flex_shrink="0"),
        rx.text("Know when messages arrive in the background.", size="1", flex="1"),
        rx.button(
            "Enable notifications",
            size="1",
            type="button",
            custom_attrs={"data-notify-enable": "1", "data-testid": "enable-notifications"},
        ),
        class_name="notify-banner",
        custom_attrs={"data-testid": "notify-banner"},
    )
