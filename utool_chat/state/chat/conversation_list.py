"""ConversationListState: the sidebar's list of conversations, and its paging."""

from __future__ import annotations

import reflex as rx

from utool_chat.domain import conversations
from utool_chat.domain.errors import DomainError
from utool_chat.state.chat.presence import fetch_missing_presence
from utool_chat.state.chat.store import ChatState, ChatView
from utool_chat.state.chat_slice import conversations_fetched
from utool_chat.state.chat_views import ConversationItemView, build_conversation_items
from utool_chat.state.guards import attempt, sentence
from utool_chat.state.handler import handler

CONVERSATION_PAGE_SIZE = 30


class ConversationListState(ChatState):
    conversation_items: rx.Field[list[ConversationItemView]] = rx.field(default_factory=list)
    conversations_loading: rx.Field[bool] = rx.field(False)  # the skeleton (first load, or Try again)
    conversations_loaded: rx.Field[bool] = rx.field(False)
    conversations_error: rx.Field[str] = rx.field("")
    conversations_has_more: rx.Field[bool] = rx.field(False)

    def _show(self, view: ChatView) -> None:
        self._assign("conversation_items", build_conversation_items(view.chat, view.me, view.tz, view.now))
        self._assign("conversations_has_more", bool(view.chat["conversations"]["hasMore"]))

    async def _load(self, me: str, page: int):
        """fetchConversations: page 1 replaces the list, later pages extend it."""
        result = await attempt(
            "loading conversations", conversations.list_conversations, me, page=page, limit=CONVERSATION_PAGE_SIZE
        )
        self.conversations_loading = False
        if isinstance(result, DomainError):
            self.conversations_error = sentence(result.message)
            yield rx.toast.error(f"Could not load conversations: {result.message}")
            return
        items, meta = result
        conversations_fetched(self._store(), items, bool((meta or {}).get("hasMore")), page)
        await fetch_missing_presence(self._store(), me)  # the list's dots and headers
        self.conversations_loaded = True
        self.conversations_error = ""
        await self._publish(me)

    @handler
    async def fetch_conversations(self):
        """Reload the conversation list (the error state's "Try again")."""
        me = await self._me()
        if not me:
            return
        self.conversations_loading = True
        yield
        async for update in self._load(me, page=1):
            yield update

    @handler
    async def fetch_more_conversations(self):
        me = await self._me()
        convs = self._store()["conversations"]
        if not me or not convs["hasMore"]:
            return
        async for update in self._load(me, page=convs["page"] + 1):
            yield update
