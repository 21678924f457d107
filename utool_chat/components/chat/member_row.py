"""One member of a conversation as a line of a dialog's list: the members dialog
(group_dialogs.py) and message info (message_info.py) lay their rows out alike."""

from __future__ import annotations

from typing import Any

import reflex as rx


def member_row(*cells: rx.Component, testid: str, data: dict[str, Any], **props: Any) -> rx.Component:
    """`cells` side by side on one centred line across the list; `testid` and `data` (the
    row's data-* attributes, without the prefix) are what tests and scripts find it by."""
    attrs = {"data-testid": testid, **{f"data-{name}": value for name, value in data.items()}}
    return rx.hstack(*cells, align="center", spacing="3", width="100%", custom_attrs=attrs, **props)
