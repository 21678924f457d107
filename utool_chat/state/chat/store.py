"""ChatState: what every part of a tab's chat pages shares — the slice, the open conversation.

ChatState is the parent of the chat substates (see `state/chat/__init__.py` for the tree).
It holds:

- `_chat`, the chat slice (`state/chat_slice.py`: plain data, pure reducers), as a backend
  var: never sent to the browser. A field's value lives on the instance of the state that
  declares it and Reflex loads a substate together with its parents, so every substate
  reads and writes this one slice as `self._chat` (through `_store()`), without a copy;
- the open conversation's header (`current_*`, `typing_label`) and the unread total (the
  top bar's badge), which several substates' components show;
- `_tz` (the reader's time zone) and `_on_page` (the tab is on a chat page), shared flags.

Publishing: a handler that changed the slice calls `await self._publish(me)`. ChatState
assigns its own fields, then every substate shows its part of the same pass (`_show(view)`,
overridden by the substates with views). A var is only assigned when its value changed, so
the delta sent to the browser holds only what changed.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, tzinfo
from typing import Any

import reflex as rx
from reflex.istate.proxy import MutableProxy

from utool_chat.domain import conversations
from utool_chat.domain.errors import DomainError
from utool_chat.state.auth import AuthState
from utool_chat.state.chat_slice import Chat, initial_chat, total_unread, typing_names
from utool_chat.state.chat_views import (
    conversation_avatar,
    conversation_subtitle,
    conversation_title,
    reader_zone,
    typing_text,
)
from utool_chat.state.guards import attempt
from utool_chat.state.handler import handler


@dataclasses.dataclass(frozen=True)
class ChatView:
    """One publishing pass: what each substate's `_show` builds its views from."""

    chat: Chat
    me: str
    tz: tzinfo
    now: datetime
    conversation_id: str  # the open conversation, "" when none is
    conversation: dict[str, Any] | None  # its entity in the slice, if listed
    # False when the open conversation's messages cannot have changed (typing, unread
    # counts): rebuilding a window of message views is the costly part of a pass.
    with_messages: bool


class ChatState(rx.State):
    """The slice and the open conversation; the parent of every chat substate."""

    current_id: rx.Field[str] = rx.field("")
    current_name: rx.Field[str] = rx.field("")
    current_avatar: rx.Field[str] = rx.field("")
    current_subtitle: rx.Field[str] = rx.field("")
    current_is_group: rx.Field[bool] = rx.field(False)
    current_is_admin: rx.Field[bool] = rx.field(False)
    current_error: rx.Field[str] = rx.field("")  # why the conversation in the URL cannot be shown
    typing_label: rx.Field[str] = rx.field("")  # who is typing in the open conversation
    total_unread: rx.Field[int] = rx.field(0)

    _chat: dict[str, Any] = {}
    _tz: str = ""
    _on_page: bool = False

    @rx.var
    def has_current(self) -> bool:
        return self.current_id != ""

    @rx.var
    def page_title(self) -> str:
        return f"({self.total_unread}) uTool Chat" if self.total_unread else "uTool Chat"

    @rx.var
    def total_unread_label(self) -> str:
        return "99+" if self.total_unread > 99 else str(self.total_unread)

    # ----- shared helpers ----------------------------------------------------------------

    def _store(self) -> Chat:
        """The tab's slice (created on first use), as the plain dict, marked changed.

        Reflex hands out a state's dict inside a MutableProxy that notes changes, and wraps
        again every dict and list read through it. A publishing pass reads the whole open
        window several times and a receipt rewrites each of its messages: through the proxy,
        about 60 % of the listener's work went to the wrapping (py-spy of
        bench/browser_latency.py). The reducers and views are plain functions of plain data,
        so they get the dict itself, and the slice is marked changed once here instead of at
        every write (a backend var: only the state's persistence looks at that). Assigning
        also keeps a background task's guard: outside `async with self` it raises."""
        chat = self._chat
        while isinstance(chat, MutableProxy):  # a background task's StateProxy may wrap it twice
            chat = chat.__wrapped__
        if not chat:
            chat = initial_chat()
        self._chat = chat
        return chat

    async def _me(self) -> str:
        """The signed-in user's id ("" when nobody is: the handler then does nothing)."""
        return (await self.get_state(AuthState)).user_id

    def _current_conversation(self) -> dict[str, Any] | None:
        """The open conversation's entity in the slice (None when none is open or listed)."""
        convs = self._store()["conversations"]
        cid = convs["currentConversationId"]
        return convs["entities"].get(cid) if cid else None

    def _assign(self, name: str, value: Any) -> None:
        if getattr(self, name) != value:
            setattr(self, name, value)

    async def _publish(self, me: str, with_messages: bool = True) -> None:
        """Recompute the views of every chat substate from the slice."""
        chat = self._store()
        cid = chat["conversations"]["currentConversationId"] or ""
        view = ChatView(
            chat=chat,
            me=me,
            tz=reader_zone(self._tz),
            now=datetime.now(UTC),
            conversation_id=cid,
            conversation=chat["conversations"]["entities"].get(cid) if cid else None,
            with_messages=with_messages,
        )
        self._show_header(view)
        for substate_cls in ChatState.get_substates():
            substate = await self.get_state(substate_cls)
            if isinstance(substate, ChatState):
                substate._show(view)

    def _show(self, view: ChatView) -> None:
        """A substate's part of a publishing pass (none here: ChatState's own fields are
        assigned by `_show_header`)."""

    def _show_header(self, view: ChatView) -> None:
        convo, me = view.conversation, view.me
        is_group = bool(convo and convo.get("type") != "direct")
        self._assign("total_unread", total_unread(view.chat))
        self._assign("current_id", view.conversation_id)
        if convo:
            self._assign("current_name", conversation_title(convo, me))
            self._assign("current_avatar", conversation_avatar(convo, me))
            self._assign("current_subtitle", conversation_subtitle(convo, me))
            self._assign("current_is_group", is_group)
            self._assign("current_is_admin", me in (convo.get("admins") or []))
        names = typing_names(view.chat, view.conversation_id) if view.conversation_id else []
        self._assign("typing_label", typing_text(names, is_group))

    # ----- handlers ------------------------------------------------------------------------

    @handler
    async def refresh_unread_total(self):
        """The top bar's unread badge on pages without the chat listener (e.g. /friends)."""
        me = await self._me()
        if not me:
            return
        result = await attempt("counting unread messages", conversations.list_conversations, me, page=1, limit=100)
        if isinstance(result, DomainError):
            return  # the badge keeps its last value; the chat page will correct it
        items, _meta = result
        self._assign("total_unread", sum(int(c.get("unreadCount") or 0) for c in items))
