"""Every page of the app and its route. `register_pages(app)` is called by utool_chat.py."""

from __future__ import annotations

import reflex as rx

from utool_chat.pages import chat
from utool_chat.pages.auth import login_page, register_page
from utool_chat.pages.friends import friends_page
from utool_chat.pages.index import index_page
from utool_chat.pages.settings import settings_page
from utool_chat.state.auth import AuthState
from utool_chat.state.chat import ChatState
from utool_chat.state.friends import FriendsState
from utool_chat.state.settings import SettingsState

TITLE = "uTool Chat"


def register_pages(app: rx.App) -> None:
    app.add_page(index_page, route="/", title=TITLE, on_load=AuthState.route_home)
    app.add_page(login_page, route="/login", title=f"Log in · {TITLE}", on_load=AuthState.redirect_if_logged_in)
    app.add_page(
        register_page, route="/register", title=f"Create account · {TITLE}", on_load=AuthState.redirect_if_logged_in
    )
    app.add_page(
        friends_page,
        route="/friends",
        title=f"Friends · {TITLE}",
        on_load=[AuthState.check_login, FriendsState.load, ChatState.refresh_unread_total],
    )
    app.add_page(
        settings_page,
        route="/settings",
        title=f"Settings · {TITLE}",
        on_load=[AuthState.check_login, SettingsState.load, ChatState.refresh_unread_total],
    )
    chat.add_chat_pages(app)  # /chat and /chat/[conversation_id], with their loaders
