"""ChatPageState: the chat pages' lifecycle — which conversation the URL opens (on_load), the
reader's time zone and `_on_page` (on mount), leaving the pages (on unmount).

Routes: /chat (the list), /chat/<id> (a conversation), /chat?with=<userId> (the friends
page's "Message": the direct conversation with that user, created if needed).
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

import reflex as rx

from utool_chat.domain import conversations
from utool_chat.domain.errors import DomainError
from utool_chat.state.chat.composer import ComposerState
from utool_chat.state.chat.conversation_list import ConversationListState
from utool_chat.state.chat.conversation_settings import ConversationSettingsState
from utool_chat.state.chat.listener import ChatListenerState
from utool_chat.state.chat.messages import MessagesState
from utool_chat.state.chat.store import ChatState
from utool_chat.state.chat_slice import add_or_update_conversation, set_current_conversation_id
from utool_chat.state.chat_views import reader_zone
from utool_chat.state.guards import attempt, sentence
from utool_chat.state.handler import handler


class ChatPageState(ChatState):
    @handler
    async def on_load(self):
        """on_load of /chat and /chat/[conversation_id] (after AuthState.check_login)."""
        me = await self._me()
        if not me:
            return
        chat = self._store()
        with_user = self.router.url.query_parameters.get("with", "")
        if with_user:
            async for update in self._open_direct_chat(me, with_user):
                yield update
            return
        path = self.router.url.path.rstrip("/")
        target = path.split("/chat/", 1)[1] if path.startswith("/chat/") else ""
        if target != (chat["conversations"]["currentConversationId"] or ""):
            (await self.get_state(ComposerState))._reset()
            (await self.get_state(ConversationSettingsState))._close()
        set_current_conversation_id(chat, target or None)
        self.current_error = ""
        conversation_list = await self.get_state(ConversationListState)
        # Without a running listener the list may have missed events: load it again.
        listening = (await self.get_state(ChatListenerState))._listener_alive(me)
        if not conversation_list.conversations_loaded or not listening:
            conversation_list.conversations_loading = not conversation_list.conversations_loaded
            await self._publish(me)
            yield
            async for update in conversation_list._load(me, page=1):
                yield update
        if target:
            async for update in (await self.get_state(MessagesState))._open(me, target):
                yield update
        else:
            await self._publish(me)

    async def _open_direct_chat(self, me: str, user_id: str):
        """createOrGetConversation for the friends page's "Message" button."""
        result = await attempt(
            "opening a chat", conversations.create_conversation, me, [user_id], type="direct", name=None
        )
        if isinstance(result, DomainError):
            yield rx.toast.error(sentence(result.message))
            yield rx.redirect("/chat", replace=True)
            return
        convo, _created = result
        add_or_update_conversation(self._store(), convo)
        yield rx.redirect(f"/chat/{convo['_id']}", replace=True)

    @handler
    async def set_timezone(self, tz_name: Any):
        """The browser's IANA time zone (asked once on mount), for local times."""
        if isinstance(tz_name, str) and tz_name != self._tz and reader_zone(tz_name) is not UTC:
            self._tz = tz_name
            me = await self._me()
            if me:
                await self._publish(me)

    @handler
    def enter_page(self):
        """on_mount: the tab shows a chat page (messages may be marked read). The live
        listener is the tab's, started by the app shell (state/chat/listener.py)."""
        self._on_page = True

    @handler
    def leave_page(self):
        """on_unmount: typing ends; nothing is marked read until a chat page mounts again."""
        self._on_page = False
        return ComposerState.stop_typing
