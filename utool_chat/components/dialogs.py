"""Dialogs shared by the pages: the "are you sure?" confirmation before a destructive action."""

from __future__ import annotations

from typing import Any

import reflex as rx


def confirm_dialog(
    title: Any,
    description: Any,
    confirm: rx.Component,
    *,
    trigger: rx.Component | None = None,
    on_cancel: Any = None,
    max_width: str = "420px",
    **root_props: Any,
) -> rx.Component:
    """An alert dialog: `title` (a value, or a tuple of parts), `description`, then Cancel and
    `confirm` (the button that acts; the dialog closes when it is clicked). Opened by
    `trigger`, or controlled through `root_props` (open=…, on_open_change=…)."""
    cancel_props = {"on_click": on_cancel} if on_cancel is not None else {}
    return rx.alert_dialog.root(
        *([rx.alert_dialog.trigger(trigger)] if trigger is not None else []),
        rx.alert_dialog.content(
            rx.alert_dialog.title(*(title if isinstance(title, tuple) else (title,))),
            rx.alert_dialog.description(description, size="2"),
            rx.hstack(
                rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray", **cancel_props)),
                rx.alert_dialog.action(confirm),
                justify="end",
                spacing="3",
                margin_top="16px",
            ),
            max_width=max_width,
        ),
        **root_props,
    )
