"""SettingsState: the /settings page — privacy (show last seen, read receipts, who may add
me to groups) and notifications (sound). The domain (`domain/settings.py`) checks every
value; each change is saved at once and announced to the user's tabs
(chat:settings_updated)."""

from __future__ import annotations

from typing import Any

import reflex as rx

from utool_chat.domain import settings
from utool_chat.domain.errors import DomainError
from utool_chat.state.auth import AuthState
from utool_chat.state.guards import attempt, sentence
from utool_chat.state.handler import handler

BOOLEAN_SETTINGS = ("showLastSeen", "readReceipts", "notificationSound")


class SettingsState(rx.State):
    show_last_seen: rx.Field[bool] = rx.field(True)
    read_receipts: rx.Field[bool] = rx.field(True)
    group_invites: rx.Field[str] = rx.field("friends")
    notification_sound: rx.Field[bool] = rx.field(True)
    settings_loaded: rx.Field[bool] = rx.field(False)
    settings_error: rx.Field[str] = rx.field("")

    def _apply(self, values: dict[str, Any]) -> None:
        self.show_last_seen = bool(values.get("showLastSeen"))
        self.read_receipts = bool(values.get("readReceipts"))
        self.group_invites = str(values.get("groupInvites") or "friends")
        self.notification_sound = bool(values.get("notificationSound"))

    @handler
    async def load(self):
        me = (await self.get_state(AuthState)).user_id
        if not me:
            return
        values = await attempt("reading settings", settings.get_settings, me)
        if isinstance(values, DomainError):
            self.settings_error = sentence(values.message)
            return
        self._apply(values)
        self.settings_error = ""
        self.settings_loaded = True

    async def _save(self, name: str, value: Any):
        me = (await self.get_state(AuthState)).user_id
        if not me:
            return
        values = await attempt("saving settings", settings.update_settings, me, {name: value})
        if isinstance(values, DomainError):
            yield rx.toast.error(sentence(values.message))
            return
        self._apply(values)
        yield rx.toast.success("Saved.")

    @handler
    async def set_flag(self, name: Any, value: Any):
        """A switch (name is one of BOOLEAN_SETTINGS; the domain checks the value)."""
        if name not in BOOLEAN_SETTINGS:
            return
        async for update in self._save(name, value):
            yield update

    @handler
    async def set_group_invites(self, value: Any):
        async for update in self._save("groupInvites", value):
            yield update
