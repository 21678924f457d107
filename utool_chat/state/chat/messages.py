"""MessagesState: the open conversation's messages — loading, history paging both ways,
opening a conversation at a message, marking read.

The views are split in two lists so that a new message resends the short
`recent_messages` tail, not the whole history (`chat_views.split_recent`).
"""

from __future__ import annotations

import json
from typing import Any

import reflex as rx

from utool_chat.domain import conversations, messages
from utool_chat.domain.errors import DomainError, NotFound
from utool_chat.state.chat.store import ChatState, ChatView
from utool_chat.state.chat_slice import (
    add_or_update_conversation,
    at_latest,
    clear_conversation_unread_count,
    holds_message,
    messages_around_fetched,
    messages_fetched,
    messages_loaded,
    newer_messages_fetched,
    newest_loaded_id,
    newest_message_id,
    oldest_message_id,
    set_current_conversation_id,
    take_wants_latest,
)
from utool_chat.state.chat_views import MessageView, build_message_views, split_recent
from utool_chat.state.guards import attempt, key_arg, sentence
from utool_chat.state.handler import handler

PAGE_SIZE = 30  # messages per history page (the plan's fetchMessages limit)
NOT_A_MEMBER = "This conversation does not exist or you are not a member."


class MessagesState(ChatState):
    older_messages: rx.Field[list[MessageView]] = rx.field(default_factory=list)
    recent_messages: rx.Field[list[MessageView]] = rx.field(default_factory=list)
    messages_loading: rx.Field[bool] = rx.field(False)  # the first page of a conversation not loaded before
    loading_older: rx.Field[bool] = rx.field(False)  # a page of older history (scrolling up)
    messages_error: rx.Field[str] = rx.field("")
    has_older: rx.Field[bool] = rx.field(False)
    has_newer: rx.Field[bool] = rx.field(False)  # the window is not at the latest message
    loading_newer: rx.Field[bool] = rx.field(False)  # a page of newer history (scrolling down)
    jump_highlight: rx.Field[str] = rx.field("")  # the message just opened at, highlighted briefly

    # open_at_message in another conversation: the message to open it at, once the route's
    # on_load opens it ({"conversationId", "messageId"}; empty when none is pending).
    _jump_target: dict[str, str] = {}

    @rx.var
    def has_messages(self) -> bool:
        return bool(self.older_messages) or bool(self.recent_messages)

    def _show(self, view: ChatView) -> None:
        cid = view.conversation_id
        if view.with_messages:
            views = build_message_views(view.chat, cid, view.me, view.tz, view.now) if cid else []
            older, recent = split_recent(views)
            self._assign("older_messages", older)
            self._assign("recent_messages", recent)
        msgs = view.chat["messages"]
        self._assign("has_older", bool(msgs["hasMore"].get(cid)))
        self._assign("has_newer", not at_latest(view.chat, cid) if cid else False)
        self._assign("messages_error", msgs["error"].get(cid) or "")

    # ----- loading -------------------------------------------------------------------------

    async def _open(self, me: str, cid: str):
        """Show a conversation: fetch it if unknown, its latest messages, then mark read."""
        chat = self._store()
        if cid not in chat["conversations"]["entities"]:
            convo = await attempt("opening a conversation", conversations.get_conversation, me, cid)
            if isinstance(convo, DomainError):
                set_current_conversation_id(chat, None)
                self.current_error = NOT_A_MEMBER if isinstance(convo, NotFound) else sentence(convo.message)
                await self._publish(me)
                return
            add_or_update_conversation(chat, convo)
        target, self._jump_target = self._jump_target, {}
        if target.get("conversationId") == cid:
            async for update in self._open_around(me, cid, target["messageId"]):
                yield update
            return
        self.jump_highlight = ""
        self.messages_loading = not messages_loaded(chat, cid)
        await self._publish(me)
        yield
        async for update in self._fetch(me, cid, older=False):
            yield update
        self.messages_loading = False
        await self._publish(me)
        yield MessagesState.scroll_to_bottom
        await self._mark_read(me, cid)

    async def _fetch(self, me: str, cid: str, older: bool):
        """fetchMessages: the latest page, or (`older`) the page before the oldest one shown."""
        chat = self._store()
        before = oldest_message_id(chat, cid) if older else None
        result = await attempt(
            "loading messages", messages.list_messages, me, cid, limit=PAGE_SIZE, before_message_id=before
        )
        if isinstance(result, DomainError):
            if not older:  # the error state replaces the list; a failed older page only says so
                chat["messages"]["error"][cid] = sentence(result.message)
            yield rx.toast.error(f"Could not load messages: {result.message}")
            return
        page, meta = result
        messages_fetched(chat, cid, page, bool((meta or {}).get("hasMore")), older=older)
        await self._publish(me)

    @handler
    async def fetch_messages(self):
        """Load the page of messages before the oldest one shown (scrolling up)."""
        me = await self._me()
        cid = self.current_id
        if not me or not cid or self.loading_older or not self._store()["messages"]["hasMore"].get(cid):
            return
        self.loading_older = True
        yield
        async for update in self._fetch(me, cid, older=True):
            yield update
        self.loading_older = False
        yield rx.call_script("window.utoolChat && window.utoolChat.restoreAfterPrepend()")

    # ----- opening at a message (contract 5) ------------------------------------------------

    @handler
    async def open_at_message(self, conversation_id: Any, message_id: Any):
        """Open a conversation at one of its messages (a search result, a reply's quote):
        navigate there if it is not the open one, load the page around the message (unless
        the window holds it already), scroll to it and highlight it briefly. Paging works
        both ways from there (fetch_messages up, fetch_newer_messages down)."""
        me = await self._me()
        cid, mid = key_arg(conversation_id), key_arg(message_id)
        if not me or not cid or not mid:
            return
        if cid != self.current_id:
            # The route's on_load opens it (ChatPageState.on_load → _open) at this message.
            self._jump_target = {"conversationId": cid, "messageId": mid}
            yield rx.redirect(f"/chat/{cid}")
            return
        async for update in self._open_around(me, cid, mid):
            yield update

    async def _open_around(self, me: str, cid: str, mid: str):
        chat = self._store()
        if not holds_message(chat, cid, mid):
            self.messages_loading = not messages_loaded(chat, cid)
            await self._publish(me)
            yield
            result = await attempt(
                "loading messages", messages.list_messages, me, cid, limit=PAGE_SIZE, around_message_id=mid
            )
            self.messages_loading = False
            if isinstance(result, DomainError):
                yield rx.toast.error(f"Could not open that message: {result.message}")
                if not messages_loaded(chat, cid):  # show the latest messages instead
                    async for update in self._fetch(me, cid, older=False):
                        yield update
                    await self._publish(me)
                    yield MessagesState.scroll_to_bottom
                return
            page, meta = result
            messages_around_fetched(chat, cid, page, bool(meta.get("hasMoreBefore")), bool(meta.get("hasMoreAfter")))
            await self._publish(me)
        self.jump_highlight = mid
        yield rx.call_script(f"window.utool && window.utool.jump && window.utool.jump.reveal({json.dumps(mid)})")
        await self._mark_read(me, cid)

    @handler
    def end_highlight(self):
        """assets/jump.js, once the highlight has been seen (about 2.5 s)."""
        self.jump_highlight = ""

    @handler
    async def fetch_newer_messages(self):
        """Load the page after the newest message shown (scrolling down in a window that
        is not at the latest)."""
        me = await self._me()
        cid = self.current_id
        chat = self._store()
        after = newest_loaded_id(chat, cid) if cid else None
        if not me or not cid or not after or self.loading_newer or at_latest(chat, cid):
            return
        self.loading_newer = True
        yield
        result = await attempt(
            "loading messages", messages.list_messages, me, cid, limit=PAGE_SIZE, after_message_id=after
        )
        self.loading_newer = False
        if isinstance(result, DomainError):
            yield rx.toast.error(f"Could not load messages: {result.message}")
            return
        page, meta = result
        newer_messages_fetched(chat, cid, page, bool((meta or {}).get("hasMore")))
        await self._publish(me)
        yield rx.call_script("window.utool && window.utool.jump && window.utool.jump.afterNewer()")
        await self._mark_read(me, cid)

    @handler
    async def jump_to_latest(self):
        """The "Jump to latest" button of a window that is not at the latest."""
        me = await self._me()
        cid = self.current_id
        if not me or not cid:
            return
        self.loading_newer = True
        yield
        async for update in self._fetch(me, cid, older=False):
            yield update
        self.loading_newer = False
        yield MessagesState.scroll_to_bottom
        await self._mark_read(me, cid)

    @handler
    async def retry_messages(self):
        """The error state's "Try again"."""
        me = await self._me()
        if me and self.current_id:
            async for update in self._open(me, self.current_id):
                yield update

    # ----- reading -------------------------------------------------------------------------

    async def _mark_read(self, me: str, cid: str) -> None:
        last_id = await self._clear_unread(me, cid)
        if last_id:
            await self._send_read_mark(me, cid, last_id)

    async def _clear_unread(self, me: str, cid: str) -> str:
        """The tab's part of marking `cid` read: its unread count goes at once (published).
        Returns the newest message to mark read up to, "" when there is nothing to mark."""
        chat = self._store()
        last_id = newest_message_id(chat, cid)
        convo = chat["conversations"]["entities"].get(cid) or {}
        # A window that is not at the latest has not shown the newest messages yet.
        if not last_id or not convo.get("unreadCount") or not at_latest(chat, cid):
            return ""
        clear_conversation_unread_count(chat, cid)
        await self._publish(me, with_messages=False)
        return last_id

    @staticmethod
    async def _send_read_mark(me: str, cid: str, last_id: str) -> None:
        # On failure the count comes back with the next chat:unread_count_update.
        await attempt("marking messages read", messages.mark_read, me, cid, last_id)

    @handler(background=True)
    async def mark_current_read(self, visible: Any = True):
        """The tab shows the open conversation (a visibility check after a message came in,
        or a focus): mark it read. A background event, so that the domain call is made
        outside the tab's state lock: the tab's listener, with the next message for it,
        waited for that call (a normal event holds the lock to its end; 12 ms at the median,
        87 ms at p95 in bench/browser_latency.py)."""
        if visible is not True:
            return
        async with self:
            me = await self._me()
            cid = self.current_id
            last_id = await self._clear_unread(me, cid) if me and cid and self._on_page else ""
        if last_id:
            await self._send_read_mark(me, cid, last_id)

    @handler
    async def scroll_to_bottom(self):
        """Sent after a conversation or an own message is drawn (a round trip, so it runs
        once the browser has the new rows). A message sent from old history restarted the
        window from it: the latest page comes above it first."""
        me = await self._me()
        if me and self.current_id and take_wants_latest(self._store(), self.current_id):
            async for update in self._fetch(me, self.current_id, older=False):
                yield update
        yield rx.call_script("window.utoolChat && window.utoolChat.scrollToBottom(true)")
