"""The app shell: a top bar (brand, Chats / Friends, the user menu) around a page's content.

Pages behind the login wrap their content with `app_shell(content, active="chats")`; until
AuthState has resolved the user, a spinner shows instead of the content (no flash of a
half-empty page before check_login redirects).
"""

from __future__ import annotations

from typing import Literal

import reflex as rx
from reflex_components_core.core.banner import has_connection_errors

from utool_chat.components.avatar import user_avatar
from utool_chat.components.notifications import notification_support
from utool_chat.state.auth import AuthState
from utool_chat.state.chat import ChatListenerState, ChatState, ComposerState, OutboxState

Section = Literal["chats", "friends"]

NAV_ITEMS: list[tuple[Section, str, str, str]] = [
    ("chats", "Chats", "/chat", "message-circle"),
    ("friends", "Friends", "/friends", "users"),
]


def brand(size: str = "5") -> rx.Component:
    """The uTool Chat logo mark and name."""
    return rx.hstack(
        rx.center(
            rx.icon("message-square-text", size=18, color="white"),
            class_name="brand-mark",
        ),
        rx.heading("uTool Chat", size=size, weight="bold", class_name="brand-name"),
        align="center",
        spacing="2",
    )


def _unread_badge() -> rx.Component:
    """Total unread messages over all chats, on the Chats link (live on the chat page)."""
    return rx.cond(
        ChatState.total_unread > 0,
        rx.el.span(
            ChatState.total_unread_label,
            class_name="nav-badge",
            aria_label=ChatState.total_unread_label + " unread messages",
            data_testid="nav-unread",
        ),
    )


def _nav_link(section: Section, label: str, href: str, icon: str, active: Section | None) -> rx.Component:
    is_active = section == active
    return rx.link(
        rx.hstack(
            rx.icon(icon, size=18),
            rx.text(label, display=["none", "inline", "inline"], weight="medium"),
            *([_unread_badge()] if section == "chats" else []),
            align="center",
            spacing="2",
        ),
        href=href,
        underline="none",
        class_name="nav-link nav-link-active" if is_active else "nav-link",
        aria_current="page" if is_active else None,
        data_testid=f"nav-{section}",
    )


def user_menu() -> rx.Component:
    return rx.menu.root(
        rx.menu.trigger(
            rx.button(
                user_avatar(AuthState.display_name, AuthState.avatar, size="2"),
                rx.text(
                    AuthState.display_name,
                    display=["none", "none", "inline"],
                    weight="medium",
                    class_name="truncate",
                    max_width="12em",
                ),
                rx.icon("chevron-down", size=16),
                variant="ghost",
                color_scheme="gray",
                class_name="user-menu-trigger",
                data_testid="user-menu",
            )
        ),
        rx.menu.content(
            rx.box(
                rx.text(AuthState.display_name, weight="bold", size="2", as_="div"),
                rx.text("@", AuthState.username, size="1", color_scheme="gray", as_="div"),
                padding="8px 12px",
            ),
            rx.menu.separator(),
            rx.menu.item(
                rx.icon("settings", size=16),
                "Settings",
                on_select=rx.redirect("/settings"),
                data_testid="nav-settings",
            ),
            rx.menu.item(
                rx.icon("log-out", size=16),
                "Log out",
                color="red",
                on_select=AuthState.logout,
                data_testid="logout",
            ),
            align="end",
            min_width="200px",
        ),
    )


def top_bar(active: Section | None) -> rx.Component:
    return rx.box(
        rx.hstack(
            rx.link(brand("4"), href="/chat", underline="none", color="inherit"),
            rx.el.nav(
                rx.hstack(*[_nav_link(*item, active) for item in NAV_ITEMS], spacing="1", align="center"),
                aria_label="Sections",
            ),
            rx.spacer(),
            user_menu(),
            align="center",
            spacing="4",
            class_name="top-bar-inner",
        ),
        as_="header",
        class_name="top-bar",
    )


def hydration_marker() -> rx.Component:
    """An invisible element present once the page is hydrated and its socket is live.

    Browser tests wait for `[data-testid=app-hydrated]` before typing (tests/browser)."""
    return rx.cond(rx.State.is_hydrated, rx.el.span(hidden=True, data_testid="app-hydrated"))


def full_page_spinner() -> rx.Component:
    return rx.center(rx.spinner(size="3"), height="60vh", width="100%")


def offline_banner() -> rx.Component:
    """ "Offline — reconnecting…" while the browser is offline or the socket cannot connect
    (assets/outbox.js shows it: `data-show`; `data-socket-down` is Reflex's view)."""
    return rx.box(
        rx.icon("wifi-off", size=16, aria_hidden="true"),
        rx.el.span("Offline — reconnecting…"),
        id="offline-banner",
        class_name="offline-banner",
        role="status",
        aria_live="polite",
        custom_attrs={"data-testid": "offline-banner", "data-socket-down": rx.cond(has_connection_errors, "1", "0")},
    )


def _outbox_doors() -> rx.Component:
    """Hidden doors through which assets/outbox.js reaches the server: an entry to deliver,
    the composer's text taken as an entry, and "back online: catch up"."""
    return rx.fragment(
        rx.el.input(
            id="outbox-door", class_name="chat-hidden", tab_index=-1, aria_hidden="true",
            on_change=OutboxState.deliver_entry,
        ),
        rx.el.input(
            id="composed-door", class_name="chat-hidden", tab_index=-1, aria_hidden="true",
            on_change=ComposerState.composed,
        ),
        rx.el.button(
            id="catch-up-door", class_name="chat-hidden", tab_index=-1, aria_hidden="true",
            on_click=ChatListenerState.catch_up,
        ),
    )


def app_shell(*content: rx.Component, active: Section | None = None, full_width: bool = False) -> rx.Component:
    """A signed-in page: the skip link, the top bar and `content` (the `main` landmark; a
    centred column unless full_width)."""
    # Live updates belong to the tab: every signed-in page makes sure its one listener runs
    # (a remount finds it alive; state/chat/listener.py). Mounted only once signed in.
    body = rx.box(
        *content,
        _outbox_doors(),
        class_name="page-body-wide" if full_width else "page-body",
        on_mount=ChatListenerState.listen_for_events,
    )
    return rx.box(
        rx.script(src=rx.asset("outbox.js")),
        rx.el.a("Skip to content", href="#main", class_name="skip-link", custom_attrs={"data-testid": "skip-link"}),
        top_bar(active),
        offline_banner(),
        rx.el.main(
            rx.cond(AuthState.is_authenticated, body, full_page_spinner()),
            id="main",
            tab_index=-1,
            class_name="app-main",
        ),
        hydration_marker(),
        notification_support(),
        class_name="app-shell",
        custom_attrs={"data-user-id": AuthState.user_id},
    )


def auth_card(*content: rx.Component) -> rx.Component:
    """The centred card of the login and register pages, under the brand (the `main` landmark)."""
    return rx.el.main(rx.script(src=rx.asset("outbox.js")), offline_banner(), rx.center(
        rx.vstack(
            rx.center(brand("7"), width="100%"),
            rx.text(
                "Chat with friends, teams and projects in real time.",
                color_scheme="gray",
                size="3",
                align="center",
            ),
            rx.card(*content, size="4", width="100%", class_name="auth-card"),
            spacing="5",
            width="100%",
            max_width="420px",
            align="stretch",
        ),
        hydration_marker(),
        class_name="auth-page",
    ), id="main")
