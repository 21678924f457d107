"""ChatListenerState: the tab's live updates — one background task per browser TAB that follows
this user's events on the bus (`state.live.TabListener`) and applies them: chat events to the
slice, friendship events to the friends page (FriendsState).

Live updates belong to the tab, not to a page. The app shell starts `listen_for_events` on
mount of every signed-in page (chat and friends alike); the tab's state remembers the running
listener (`_listener_generation`, `_listener_beat`), so a remount — client-side navigation,
back/forward, React's StrictMode mounting every component twice in the dev server — finds it
alive and returns, and a listener that died (its tab was disconnected for a while, a task was
lost) is replaced by the next mount or reconnect. A listener that is no longer the tab's
current generation ends at its next wake-up, so two never apply the same event.

Catching up (`_catch_up`): after a gap — the browser reports that it is back online
(`catch_up`, from assets/outbox.js), the bus lost events (`resync`), or a message arrives
whose `seq` skips one — the open conversation is synced (`messages.messages_since`) and the
list reloaded, so nothing is missing without a reload.

A logout of this tab's session (in any tab or process) sends the tab to /login. When the
listener ends, typing this tab kept alive ends with it (its token owns it).
"""

from __future__ import annotations

import json
import time
from typing import Any

import reflex as rx

from utool_chat.domain import conversations, messages, presence
from utool_chat.domain import typing as typing_signals
from utool_chat.domain.errors import DomainError
from utool_chat.events import Event
from utool_chat.state.auth import AuthState
from utool_chat.state.chat.conversation_list import CONVERSATION_PAGE_SIZE, ConversationListState
from utool_chat.state.chat.conversation_settings import ConversationSettingsState
from utool_chat.state.chat.messages import MessagesState
from utool_chat.state.chat.notifications import notification_follow_up
from utool_chat.state.chat.presence import (
    apply_tab_start,
    fetch_missing_presence,
    presence_wanted,
    tab_ended,
    tab_started,
)
from utool_chat.state.chat.store import ChatState
from utool_chat.state.chat_slice import (
    MESSAGE_VIEW_EVENTS,
    apply_event,
    conversations_fetched,
    forget_typing_users,
    messages_loaded,
    receive_message,
)
from utool_chat.state.friends import FRIEND_EVENTS, FriendsState
from utool_chat.state.guards import attempt
from utool_chat.state.handler import handler
from utool_chat.state.live import RESYNC, TabListener, listener_step

LISTENER_IDLE_CHECK_SECONDS = 15.0
# A listener wakes up at least every LISTENER_IDLE_CHECK_SECONDS and beats; one silent for
# longer than this is taken as dead, and the next mount starts another.
LISTENER_STALE_SECONDS = 2 * LISTENER_IDLE_CHECK_SECONDS + 10.0


def _last_seq(chat: dict[str, Any], cid: str) -> int:
    """The highest confirmed `seq` this tab holds for conversation `cid` (0: none)."""
    entities = chat["messages"]["entities"].get(cid, {})
    return max((int(m.get("seq") or 0) for m in entities.values()), default=0)


def _skips_a_seq(chat: dict[str, Any], evt: Event) -> bool:
    """Whether `evt` is a new message whose seq leaves a hole after what the tab holds of a
    loaded conversation (events were missed in between)."""
    if evt.name != "chat:new_message":
        return False
    cid = evt.payload.get("conversationId")
    seq = int((evt.payload.get("message") or {}).get("seq") or 0)
    if not cid or not seq or not messages_loaded(chat, cid):
        return False
    last = _last_seq(chat, cid)
    return bool(last) and seq > last + 1


class ChatListenerState(ChatState):
    # Bumped by every listener that starts; a listener whose generation is no longer the
    # tab's ends at its next wake-up.
    _listener_generation: int = 0
    _listener_user_id: str = ""  # whose events the current listener follows
    _listener_beat: float = 0.0  # time.monotonic() of its last wake-up (0: none runs)

    def _listener_alive(self, me: str) -> bool:
        return (
            self._listener_user_id == me
            and self._listener_beat > 0
            and time.monotonic() - self._listener_beat < LISTENER_STALE_SECONDS
        )

    @handler(background=True)
    async def listen_for_events(self):
        """on_mount of the app shell (every signed-in page), and after a reconnect: make sure
        this tab has exactly one live listener, and be it if it has none."""
        async with self:
            me = (await self.get_state(AuthState)).user_id
            if not me or self._listener_alive(me):
                return
            self._listener_generation += 1
            generation = self._listener_generation
            self._listener_user_id = me
            self._listener_beat = time.monotonic()
            client_token = self.router.session.client_token
            # While nobody listened, stops may have gone by: the typing lines would stay.
            forget_typing_users(self._store())
            lacking = presence_wanted(self._store())
        wanted = lambda evt: evt.name.startswith("chat:") or evt.name in FRIEND_EVENTS  # noqa: E731
        try:
            # The tab is a presence connection from now on, and the slice gets the user's
            # settings and the presence it lacks: round trips, made outside the lock (the
            # tab's events wait while it is held) and applied under it, unless a newer
            # listener (or another user) has the tab by then.
            start = await tab_started(me, client_token, lacking)
            async with self:
                if not await self._current(me, generation):
                    return
                apply_tab_start(self._store(), start)
                await self._publish(me, with_messages=False)
            async with TabListener(self, me, client_token, wanted) as bus:
                while True:
                    evt = await bus.next(LISTENER_IDLE_CHECK_SECONDS)
                    if bus.sign_out is not None:
                        yield bus.sign_out
                        return
                    if evt is None and not await bus.tab_is_connected():
                        return
                    if evt is not None and evt.name in FRIEND_EVENTS:
                        step = self._follow_friend_change(me, generation, evt)
                    elif evt is not None and evt.name == RESYNC:
                        step = self._catch_up(me, generation)
                    else:
                        step = self._apply_to_tab(me, generation, evt)
                    what = "applying " + evt.name if evt else "checking the tab"
                    follow_ups = await listener_step(step, what, default=[])
                    if follow_ups is None:
                        return
                    for update in follow_ups:
                        yield update
        finally:
            await tab_ended(client_token)
            async with self:
                if self._listener_generation == generation:
                    self._listener_beat = 0.0
            if client_token:
                await attempt("ending the tab's typing", typing_signals.end_typing_of, client_token)

    @handler
    async def catch_up(self):
        """The browser is back online (assets/outbox.js): bring the open conversation and
        the list up to date, and make sure the tab's listener runs (it ends when its tab
        stays disconnected)."""
        me = await self._me()
        if not me:
            return None
        return [ChatListenerState.listen_for_events, ChatListenerState.run_catch_up]

    @handler(background=True)
    async def run_catch_up(self):
        async with self:
            me = (await self.get_state(AuthState)).user_id
            generation = self._listener_generation
        if not me:
            return
        follow_ups = await listener_step(self._catch_up(me, generation, check_generation=False), "catching up", [])
        for update in follow_ups or []:
            yield update

    async def _current(self, me: str, generation: int) -> bool:
        """Under the lock: whether a listener of `generation` for `me` is still the tab's;
        it beats when it is."""
        if self._listener_generation != generation or (await self.get_state(AuthState)).user_id != me:
            return False
        self._listener_beat = time.monotonic()
        return True

    async def _apply_to_tab(self, me: str, generation: int, evt: Event | None) -> list[Any] | None:
        """One wake-up of the listener: apply `evt` (None: an idle check, nothing to apply).
        Returns what to send the browser (leave a conversation we were removed from, check
        whether to mark read), or None when the listener should end (a newer listener took
        over, or the tab signed out)."""
        fetched = await self._prepare(me, evt) if evt else None
        gap = dropped = check_read = False
        async with self:
            if not await self._current(me, generation):
                return None
            if evt is None:
                return []
            chat = self._store()
            # No chat page has loaded the list in this tab yet (it will, fresh): an event
            # applied to a partial slice would only show wrong counts meanwhile.
            if evt.name == presence.PRESENCE_UPDATE:  # the friends page shows it too
                (await self.get_state(FriendsState))._apply_presence(evt.payload)
            applied = (await self.get_state(ConversationListState)).conversations_loaded
            if applied:
                gap = _skips_a_seq(chat, evt)
                was_open = chat["conversations"]["currentConversationId"]
                check_read = apply_event(chat, me, evt, fetched)
                await fetch_missing_presence(chat, me)  # a new conversation or member: their presence
                # Removed from the open group (by an admin, or leaving in another tab).
                dropped = bool(was_open) and not chat["conversations"]["currentConversationId"]
                if dropped:
                    (await self.get_state(ConversationSettingsState))._close()
                await self._publish(me, with_messages=evt.name in MESSAGE_VIEW_EVENTS)
            current = self.current_id
        await self._acknowledge_delivery(me, evt)  # after the message is on screen, not before
        follow_ups: list[Any] = []
        if (notification := notification_follow_up(chat, me, evt)) is not None:
            follow_ups.append(notification)
        if gap:
            follow_ups += await self._catch_up(me, generation) or []
        if dropped:
            follow_ups += [
                rx.toast.info("You are no longer a member of that conversation."),
                rx.redirect("/chat", replace=True),
            ]
        if check_read:
            follow_ups.append(self._check_read(current))
        return follow_ups

    @staticmethod
    def _check_read(current: str) -> Any:
        """Mark read only if the tab is visible and still on that conversation."""
        return rx.call_script(
            "document.visibilityState === 'visible' && "
            f"window.location.pathname.replace(/\\/$/, '') === {json.dumps('/chat/' + current)}",
            callback=MessagesState.mark_current_read,
        )

    async def _catch_up(self, me: str, generation: int, check_generation: bool = True) -> list[Any] | None:
        """Sync the open conversation from the last seq this tab holds and reload the list's
        first page (the domain's `messages_since` / `list_conversations`, outside the lock)."""
        async with self:
            if check_generation and not await self._current(me, generation):
                return None
            chat = self._store()
            cid = chat["conversations"]["currentConversationId"] or ""
            after = _last_seq(chat, cid) if cid and messages_loaded(chat, cid) else None
            list_loaded = (await self.get_state(ConversationListState)).conversations_loaded
        listed = (
            await attempt(
                "catching up the list", conversations.list_conversations, me, page=1, limit=CONVERSATION_PAGE_SIZE
            )
            if list_loaded else None
        )
        missed: list[dict[str, Any]] = []
        while after is not None:
            synced = await attempt("catching up a conversation", messages.messages_since, me, cid, after)
            if isinstance(synced, DomainError):
                break
            items, meta = synced
            missed += items
            if not meta.get("hasMore") or not items:
                break
            after = int(meta.get("lastSeq") or after)
        async with self:
            chat = self._store()
            convs = chat["conversations"]
            if listed is not None and not isinstance(listed, DomainError):
                items, meta = listed
                open_convo = convs["entities"].get(convs["currentConversationId"] or "")
                conversations_fetched(chat, items, bool((meta or {}).get("hasMore")), 1)
                if open_convo is not None and open_convo["_id"] not in convs["entities"]:
                    convs["entities"][open_convo["_id"]] = open_convo  # older than page 1: keep its header
            still_open = convs["currentConversationId"] == cid
            for message in missed if still_open else []:
                receive_message(chat, cid, message, message.get("tempId"))
            await self._publish(me)
        from_others = any((m.get("sender") or {}).get("_id") != me for m in missed)
        return [self._check_read(cid)] if cid and still_open and from_others else []

    async def _follow_friend_change(self, me: str, generation: int, evt: Event) -> list[Any] | None:
        """A friendship changed: reload the friends page's lists if this tab shows them
        (outside the lock), and say what happened."""
        async with self:
            if not await self._current(me, generation):
                return None
            friends_page = await self.get_state(FriendsState)
            query = friends_page._searchable_query() if friends_page.loaded else None
            reload = friends_page.loaded
        if reload:
            fetched = await attempt("following a friendship change", FriendsState._fetch, me, query)
            if isinstance(fetched, DomainError):
                raise fetched
            async with self:
                (await self.get_state(FriendsState))._apply(fetched, query)
        toast = FriendsState.change_toast(evt, me)
        return [toast] if toast is not None else []

    async def _prepare(self, me: str, evt: Event) -> dict[str, Any] | None:
        """Fetch the conversation of a new message if this tab does not list it yet (before
        taking the state lock; returned, for apply_event). A failure only loses that extra:
        the message itself is still applied."""
        if evt.name != "chat:new_message":
            return None
        cid = evt.payload.get("conversationId")
        # Read outside the lock (a background task's copy may be stale): at worst one
        # extra fetch of a conversation that another event has just added.
        if cid in self._chat.get("conversations", {}).get("entities", {}):
            return None
        convo = await attempt("fetching a new conversation", conversations.get_conversation, me, cid)
        return None if isinstance(convo, DomainError) else convo

    async def _acknowledge_delivery(self, me: str, evt: Event) -> None:
        """A message from someone else reached this device: say so (their ticks)."""
        if evt.name != "chat:new_message":
            return
        cid, message = evt.payload.get("conversationId"), evt.payload.get("message") or {}
        if (message.get("sender") or {}).get("_id") != me and message.get("_id"):
            await attempt("acknowledging delivery", messages.mark_delivered, me, cid, message["_id"])
