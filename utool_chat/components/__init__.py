"""Reusable UI pieces: plain functions returning rx.Component (pages compose them)."""

from utool_chat.components.avatar import initials_of, user_avatar
from utool_chat.components.layout import app_shell, auth_card, brand, full_page_spinner, hydration_marker

__all__ = [
    "app_shell", "auth_card", "brand", "full_page_spinner", "hydration_marker", "initials_of", "user_avatar",
]
