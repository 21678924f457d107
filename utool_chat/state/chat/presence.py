"""PresenceState: who is online — the open direct chat's header line, this tab's own
presence (a tab is a connection: `domain/presence.py`), and the presence the slice lacks.

The live listener (listener.py) calls `tab_started` when it starts and `tab_ended` when it
ends; the browser (assets/notify.js) reports "away" when the tab is hidden or the user idle
for PRESENCE_IDLE_SECONDS, and "online" again, through the hidden buttons of
`components/chat/presence.py`. `chat:presence_update` is applied by the slice.
"""

from __future__ import annotations

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


async def fetch_missing_presence(chat: Chat, me: str) -> bool:
    """Ask the domain for the presence of listed people the slice holds none of (a
    conversation appeared, a member was added). Returns whether anything was fetched."""
    wanted = missing_presence(chat)[: presence.MAX_IDS]
    if not wanted:
        return False
    views = await attempt("fetching presence", presence.presence_of, me, wanted)
    if isinstance(views, DomainError):
        return False
    # Those the viewer may not see are absent from the answer: remember them as unknown,
    # so they are not asked for on every event.
    presence_fetched(chat, {uid: {"userId": uid, "status": "", "lastSeenAt": None, "changedAt": ""}
                            for uid in wanted if uid not in views})
    presence_fetched(chat, views)
    return True


async def tab_started(chat: Chat, me: str, client_token: str) -> None:
    """The tab's listener started: the tab is a connection (online), and the slice gets the
    user's settings (notification sound, privacy) and the presence it lacks."""
    await connect_tab(me, client_token)
    mine = await attempt("reading settings", settings.get_settings, me)
    if not isinstance(mine, DomainError):
        settings_fetched(chat, mine)
    await fetch_missing_presence(chat, me)


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
