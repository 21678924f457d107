"""Empty, loading and error states shared by the chat components."""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex_base.event import EventCallback


def empty_state(
    icon: str, title: Any, body: Any, action: rx.Component | None = None, testid: str = "empty-state"
) -> rx.Component:
    return rx.box(
        rx.vstack(
            rx.center(rx.icon(icon, size=28), class_name="chat-empty-icon"),
            rx.heading(title, size="4", weight="bold"),
            rx.text(body, color_scheme="gray", size="2", max_width="320px"),
            *([action] if action is not None else []),
            align="center",
            spacing="3",
        ),
        class_name="chat-empty",
        custom_attrs={"data-testid": testid},
    )


def error_state(message: rx.Var[str], retry: EventCallback[()]) -> rx.Component:
    return empty_state(
        "cloud-off",
        "Something went wrong",
        message,
        rx.button(rx.icon("rotate-cw", size=14), "Try again", variant="soft", on_click=retry),
        testid="error-state",
    )
