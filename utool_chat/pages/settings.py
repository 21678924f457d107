"""/settings: privacy and notifications (SettingsState)."""

from __future__ import annotations

from typing import Any

import reflex as rx

from utool_chat.components.layout import app_shell
from utool_chat.components.notifications import enable_notifications_banner
from utool_chat.state.settings import SettingsState


def _switch_row(title: str, help_text: str, name: str, checked: Any) -> rx.Component:
    return rx.hstack(
        rx.box(
            rx.text(title, weight="medium", size="3", as_="div"),
            rx.text(help_text, size="2", color_scheme="gray", as_="div"),
            flex="1",
        ),
        rx.switch(
            checked=checked,
            on_change=lambda value: SettingsState.set_flag(name, value),
            custom_attrs={"data-testid": f"setting-{name}", "aria-label": title},
        ),
        align="center",
        spacing="4",
        width="100%",
        padding="12px 0",
    )


def settings_page() -> rx.Component:
    return app_shell(
        rx.vstack(
            rx.heading("Settings", size="7"),
            rx.cond(
                SettingsState.settings_error != "",
                rx.callout(SettingsState.settings_error, color_scheme="red"),
            ),
            rx.card(
                rx.heading("Privacy", size="4"),
                _switch_row("Show when I was last seen",
                            "Off: nobody sees your last seen time, and you see nobody's.",
                            "showLastSeen", SettingsState.show_last_seen),
                _switch_row("Read receipts",
                            "Off: others do not see when you read their messages, and you do not see theirs.",
                            "readReceipts", SettingsState.read_receipts),
                rx.hstack(
                    rx.box(
                        rx.text("Who can add me to groups", weight="medium", size="3", as_="div"),
                        rx.text("Anyone else is told you cannot be added.", size="2", color_scheme="gray",
                                as_="div"),
                        flex="1",
                    ),
                    rx.select.root(
                        rx.select.trigger(custom_attrs={"data-testid": "setting-groupInvites",
                                                        "aria-label": "Who can add me to groups"}),
                        rx.select.content(
                            rx.select.item("My friends", value="friends"),
                            rx.select.item("Everyone", value="everyone"),
                            rx.select.item("Nobody", value="nobody"),
                        ),
                        value=SettingsState.group_invites,
                        on_change=SettingsState.set_group_invites,
                    ),
                    align="center",
                    spacing="4",
                    width="100%",
                    padding="12px 0",
                ),
                width="100%",
            ),
            rx.card(
                rx.heading("Notifications", size="4"),
                _switch_row("Notification sound", "A short tone when a notification shows.",
                            "notificationSound", SettingsState.notification_sound),
                enable_notifications_banner(),
                rx.text("Browser notifications: ", rx.el.span(id="notify-permission-label"), size="2",
                        color_scheme="gray", class_name="notify-status"),
                width="100%",
            ),
            spacing="4",
            width="100%",
            max_width="640px",
            align="stretch",
            custom_attrs={"data-testid": "settings-page"},
        ),
        active=None,
    )
