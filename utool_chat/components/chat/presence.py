"""Presence and the conversation's own settings in the chat UI.

- `presence_dot(status)`: the green (online) / amber (away) dot on an avatar;
- `presence_line(fallback)`: the header's "online" / "away" / "last seen …" for a direct
  chat (the fallback, e.g. "@bob", when presence is not known);
- `preference_items()`: Mute / Pin / Archive in the conversation menu (PreferencesState);
- `presence_reporter()`: the hidden buttons assets/notify.js clicks when the tab turns
  hidden or idle ("away") and back ("online"), and the idle time it uses.
"""

from __future__ import annotations

import reflex as rx

from utool_chat import config
from utool_chat.state.chat import ChatState, PreferencesState, PresenceState


def presence_dot(status: rx.Var[str] | str) -> rx.Component:
    status = rx.Var.create(status).to(str)
    return rx.cond(
        (status == "online") | (status == "away"),
        rx.el.span(
            class_name="chat-presence-dot",
            custom_attrs={"data-testid": "presence-dot", "data-status": status, "aria-label": status},
        ),
    )


def presence_line(fallback: rx.Component) -> rx.Component:
    return rx.cond(
        PresenceState.header_presence != "",
        rx.text(
            PresenceState.header_presence,
            size="1",
            as_="div",
            class_name="truncate",
            color=rx.cond(PresenceState.header_status == "online", "var(--green-11)", "var(--gray-11)"),
            custom_attrs={"data-testid": "chat-presence", "data-status": PresenceState.header_status},
        ),
        fallback,
    )


def _item(icon: str, label: rx.Var[str] | str, on_select, testid: str) -> rx.Component:
    return rx.dropdown_menu.item(
        rx.hstack(rx.icon(icon, size=14), rx.text(label), align="center", spacing="2"),
        on_select=on_select,
        custom_attrs={"data-testid": testid},
    )


def preference_items() -> rx.Component:
    cid = ChatState.current_id
    return rx.fragment(
        rx.cond(
            PreferencesState.current_muted,
            _item("bell", "Unmute", PreferencesState.toggle(cid, "muted"), "menu-mute"),
            _item("bell-off", "Mute notifications", PreferencesState.toggle(cid, "muted"), "menu-mute"),
        ),
        rx.cond(
            PreferencesState.current_pinned,
            _item("pin-off", "Unpin", PreferencesState.toggle(cid, "pinned"), "menu-pin"),
            _item("pin", "Pin to top", PreferencesState.toggle(cid, "pinned"), "menu-pin"),
        ),
        rx.cond(
            ChatState.current_is_group,
            _item("archive", "Archive", PreferencesState.archive(cid), "menu-archive"),
        ),
        rx.dropdown_menu.separator(),
    )


def presence_reporter() -> rx.Component:
    return rx.box(
        rx.el.button(id="presence-online", on_click=PresenceState.report("online"), tab_index=-1),
        rx.el.button(id="presence-away", on_click=PresenceState.report("away"), tab_index=-1),
        id="presence-reporter",
        class_name="chat-hidden",
        custom_attrs={"data-idle-seconds": str(config.settings.presence_idle_seconds), "aria-hidden": "true"},
    )


def friend_presence_dot(status: rx.Var[str]) -> rx.Component:
    """A friend row's dot, over its avatar (friends page)."""
    return rx.el.span(presence_dot(status), class_name="friend-presence")


def friend_presence_text(status: rx.Var[str]) -> rx.Component:
    """A friend row's status in words: online / away / offline."""
    status = rx.Var.create(status).to(str)
    return rx.cond(
        status != "",
        rx.el.span(status, class_name="friend-presence-text",
                   custom_attrs={"data-testid": "friend-presence", "data-status": status}),
    )
