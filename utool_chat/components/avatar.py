"""A user's avatar: their picture, or their initials on a colour picked from their name."""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex_base.vars.base import var_operation, var_operation_return

# Radix accent colours that read well behind white initials; a name always gets the same one.
_PALETTE = ["indigo", "cyan", "orange", "crimson", "jade", "violet", "amber", "teal", "plum", "blue"]


@var_operation
def initials_of(name: rx.Var[str]):
    """Up to two initials of a display name ("Ada Lovelace" → "AL"), computed in the browser."""
    return var_operation_return(
        js_expression=(
            f"((({name}) || '?').trim().split(/\\s+/).slice(0, 2)"
            ".map((w) => Array.from(w)[0] || '').join('') || '?').toUpperCase()"
        ),
        var_type=str,
    )


@var_operation
def _colour_of(name: rx.Var[str]):
    """A stable palette colour from a string hash of the name."""
    palette = "[" + ", ".join(f"'{c}'" for c in _PALETTE) + "]"
    return var_operation_return(
        js_expression=(
            f"{palette}[Array.from(({name}) || '')"
            f".reduce((h, c) => (h * 31 + c.codePointAt(0)) >>> 0, 7) % {len(_PALETTE)}]"
        ),
        var_type=str,
    )


def user_avatar(
    name: rx.Var[str] | str,
    src: rx.Var[str] | str = "",
    size: str = "3",
    **props: Any,
) -> rx.Component:
    """Avatar for `name` (a display name). `src` may be empty: the initials show instead."""
    name_var = rx.Var.create(name).to(str)
    return rx.avatar(
        src=rx.Var.create(src).to(str),
        fallback=initials_of(name_var),
        size=size,
        radius="full",
        variant="solid",
        high_contrast=True,  # initials at >= 4.5:1 on every colour (jade, amber… are light)
        color_scheme=_colour_of(name_var),
        **props,
    )
