"""What the live listener hands the browser for a new message: a notification for
`window.utool.notify` (assets/notify.js), which shows it only when the tab is hidden and
the user allowed notifications. Who is notified is decided here, from the slice
(`beyond_text.notification_for`: not one's own messages or notices, not a muted chat unless
it mentions one)."""

from __future__ import annotations

import json
from typing import Any

import reflex as rx

from utool_chat.state.beyond_text import notification_for
from utool_chat.state.chat_slice import Chat


def notification_follow_up(chat: Chat, me: str, evt: Any) -> Any | None:
    """An rx.call_script for a chat:new_message that should notify, else None."""
    if evt is None or evt.name != "chat:new_message":
        return None
    payload = notification_for(chat, me, evt.payload)
    if payload is None:
        return None
    # json.dumps makes the user's text a JS string literal (never code).
    return rx.call_script(f"window.utool && window.utool.notify && window.utool.notify.incoming({json.dumps(payload)})")
