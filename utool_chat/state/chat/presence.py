"""PresenceState: who is online — the open direct chat's header line, this tab's own
presence (a tab is a connection: `domain/presence.py`), and the presence the slice lacks.

The live listener (listener.py) calls `tab_started` when it starts and `tab_ended` when it
ends; the browser (assets/notify.js) reports "away" when the tab is hidden or the user idle
for PRESENCE_IDLE_SECONDS, and "online" again, through the hidden buttons of
`components/chat/presence.py`. `chat:presence_update` is applied by the slice.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import reflex as rx

from utool_chat.domain import presence, settings
from utool_chat.domain.errors import DomainError
from utool_chat.state.beyond_text import direct_peer, presence_label, presence_status
from utool_chat.state.chat.store import ChatState, ChatView
from utool_chat.state.chat_slice import Chat, missing_presence, presence_fetched, settings_fetched
from utool_chat.state.guards import attempt
from utool_chat.state.handler import handler
from utool_chat.state.tab_presence import connect_tab, disconnect_tab, report_tab


def presence_wanted(chat: Chat) -> list[str]:
    """Listed people the slice holds no presence of (a conversation appeared, a member was
    added), as many as one presence_of may ask for."""
    return missing_presence(chat)[: presence.MAX_IDS]


async def fetch_presence(me: str, wanted: list[str]) -> dict[str, dict[str, Any]] | None:
    """presence_of(`wanted`) as `me` may see it (None: it failed); needs no state lock."""
    if not wanted:
        return {}
    views = await attempt("fetching presence", presence.presence_of, me, wanted)
    return None if isinstance(views, DomainError) else views


def remember_presence(chat: Chat, wanted: list[str], views: dict[str, dict[str, Any]]) -> None:
    """Apply fetch_presence's answer. Those the viewer may not see are absent from it:
    remember them as unknown, so they are not asked for on every event."""
    presence_fetched(chat, {uid: {"userId": uid, "status": "", "lastSeenAt": None, "changedAt": ""}
                            for uid in wanted if uid not in views})
    presence_fetched(chat, views)


async def fetch_missing_presence(chat: Chat, me: str) -> bool:
    """Fetch and apply the presence the slice lacks (under the lock: a handler's slice).
    Returns whether anything was fetched."""
    wanted = presence_wanted(chat)
    views = await fetch_presence(me, wanted) if wanted else None
    if views is None:
        return False
    remember_presence(chat, wanted, views)
    return True


@dataclasses.dataclass(frozen=True)
class TabStart:
    """What a starting listener fetched for its tab (tab_started), for apply_tab_start."""

    settings: dict[str, Any] | None  # the user's settings (None: they could not be read)
    wanted: list[str]  # whose presence was asked for
    views: dict[str, dict[str, Any]] | None  # their presence (None: it could not be fetched)


async def tab_started(me: str, client_token: str, wanted: list[str]) -> TabStart:
    """The tab's listener started: the tab is a connection (online) from now on, and the
    slice wants the user's settings (notification sound, privacy) and the presence it lacks
    (`wanted`, presence_wanted of the slice). Round trips only, so the listener runs this
    outside the state lock and applies the answer under it (apply_tab_start)."""
    await connect_tab(me, client_token)
    mine = await attempt("reading settings", settings.get_settings, me)
    return TabStart(settings=None if isinstance(mine, DomainError) else mine, wanted=wanted,
                    views=await fetch_presence(me, wanted))


def apply_tab_start(chat: Chat, start: TabStart) -> None:
    if start.settings is not None:
        settings_fetched(chat, start.settings)
    if start.views is not None:
        remember_presence(chat, start.wanted, start.views)


async def tab_ended(client_token: str) -> None:
    await disconnect_tab(client_token)


class PresenceState(ChatState):
    header_presence: rx.Field[str] = rx.field("")  # "online", "away", "last seen …" (direct chats)
    header_status: rx.Field[str] = rx.field("")  # online / away / offline / ""

    def _show(self, view: ChatView) -> None:
        peer = direct_peer(view.conversation, view.me)
        self._assign("header_presence", presence_label(view.chat, peer, view.tz, view.now))
        self._assign("header_status", presence_status(view.chat, peer))

    @handler
    async def report(self, status: Any):
        """The browser says this tab is active ("online") or hidden/idle ("away")."""
        me = await self._me()
        if me and status in presence.REPORTABLE:
            await report_tab(me, self.router.session.client_token, status)
