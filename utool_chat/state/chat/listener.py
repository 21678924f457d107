"""ChatListenerState: the tab's live updates — a background task that follows this user's chat
events on the bus (`state.live.TabListener`) and applies them to the slice.

Started on mount of the chat page, one per tab. Each event is applied under `async with
self` and the views published; a logout of this tab's session (in any tab or process) sends
the tab to /login. When it ends, typing this tab kept alive ends with it (its token owns it).
"""

from __future__ import annotations

import json
from typing import Any

import reflex as rx

from utool_chat.domain import conversations, messages
from utool_chat.domain import typing as typing_signals
from utool_chat.domain.errors import DomainError
from utool_chat.events import Event
from utool_chat.state.auth import AuthState
from utool_chat.state.chat.conversation_settings import ConversationSettingsState
from utool_chat.state.chat.messages import MessagesState
from utool_chat.state.chat.notifications import notification_follow_up
from utool_chat.state.chat.presence import fetch_missing_presence, tab_ended, tab_started
from utool_chat.state.chat.store import ChatState
from utool_chat.state.chat_slice import MESSAGE_VIEW_EVENTS, apply_event, forget_typing_users
from utool_chat.state.guards import attempt
from utool_chat.state.handler import handler
from utool_chat.state.live import TabListener, listener_step

LISTENER_IDLE_CHECK_SECONDS = 15.0


class ChatListenerState(ChatState):
    _listening: bool = False  # this tab's listener is running

    @handler(background=True)
    async def listen_for_events(self):
        """on_mount: follow the bus and apply this user's chat events to this tab.

        One listener per tab: `_listening` is tab state, so a second mount (a reload keeps
        the tab's state) only re-arms `_on_page`. It ends when the user leaves the chat
        pages, signs out, or closes the tab (checked at every idle wake-up)."""
        async with self:
            me = (await self.get_state(AuthState)).user_id
            self._on_page = True
            if self._listening or not me:
                return
            self._listening = True
            client_token = self.router.session.client_token
            # While nobody listened, stops may have gone by: the typing lines would stay.
            forget_typing_users(self._store())
            # The tab is a presence connection from now on (and fetches what presence lacks).
            await tab_started(self._store(), me, client_token)
            await self._publish(me, with_messages=False)
        try:
            async with TabListener(self, me, client_token, lambda evt: evt.name.startswith("chat:")) as bus:
                while True:
                    evt = await bus.next(LISTENER_IDLE_CHECK_SECONDS)
                    if bus.sign_out is not None:
                        yield bus.sign_out
                        return
                    if evt is None and not await bus.tab_is_connected():
                        return
                    step = "applying " + evt.name if evt else "checking the tab"
                    follow_ups = await listener_step(self._apply_to_tab(me, evt), step, default=[])
                    if follow_ups is None:
                        return
                    for update in follow_ups:
                        yield update
        finally:
            await tab_ended(client_token)
            async with self:
                self._listening = False
            if client_token:
                await attempt("ending the tab's typing", typing_signals.end_typing_of, client_token)

    async def _apply_to_tab(self, me: str, evt: Event | None) -> list[Any] | None:
        """One wake-up of the listener: apply `evt` (None: an idle check, nothing to apply).
        Returns what to send the browser (leave a conversation we were removed from, check
        whether to mark read), or None when the listener should end (the tab left the chat
        pages or signed out)."""
        fetched = await self._prepare(me, evt) if evt else None
        async with self:
            if not self._on_page or (await self.get_state(AuthState)).user_id != me:
                return None
            if evt is None:
                return []
            chat = self._store()
            was_open = chat["conversations"]["currentConversationId"]
            check_read = apply_event(chat, me, evt, fetched)
            await fetch_missing_presence(chat, me)  # a new conversation or member: their presence
            # Removed from the open group (by an admin, or leaving in another tab).
            dropped = bool(was_open) and not chat["conversations"]["currentConversationId"]
            if dropped:
                (await self.get_state(ConversationSettingsState))._close()
            await self._publish(me, with_messages=evt.name in MESSAGE_VIEW_EVENTS)
            current = self.current_id
        follow_ups: list[Any] = []
        if (notification := notification_follow_up(chat, me, evt)) is not None:
            follow_ups.append(notification)
        if dropped:
            follow_ups += [
                rx.toast.info("You are no longer a member of that conversation."),
                rx.redirect("/chat", replace=True),
            ]
        if check_read:
            # Mark read only if the tab is visible and still on that conversation.
            follow_ups.append(rx.call_script(
                "document.visibilityState === 'visible' && "
                f"window.location.pathname.replace(/\\/$/, '') === {json.dumps('/chat/' + current)}",
                callback=MessagesState.mark_current_read,
            ))
        return follow_ups

    async def _prepare(self, me: str, evt: Event) -> dict[str, Any] | None:
        """Domain work a new message needs, done before taking the state lock: acknowledge
        delivery of a message from someone else, and fetch its conversation if this tab does
        not list it yet (returned, for apply_event). Failures only lose that extra: the
        message itself is still applied."""
        if evt.name != "chat:new_message":
            return None
        cid, message = evt.payload.get("conversationId"), evt.payload.get("message") or {}
        fetched = None
        # Read outside the lock (a background task's copy may be stale): at worst one
        # extra fetch of a conversation that another event has just added.
        if cid not in self._chat.get("conversations", {}).get("entities", {}):
            convo = await attempt("fetching a new conversation", conversations.get_conversation, me, cid)
            fetched = None if isinstance(convo, DomainError) else convo
        if (message.get("sender") or {}).get("_id") != me and message.get("_id"):
            await attempt("acknowledging delivery", messages.mark_delivered, me, cid, message["_id"])
        return fetched
