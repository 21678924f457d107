"""PreferencesState: one's own settings of a conversation — mute, pin, archive — and the
"Archived (n)" view where archived chats can be seen and brought back.

Every change goes through `conversations.update_preferences` (at most 5 pinned, archiving
unpins, pinning unarchives); the answer is applied at once, and the user's other tabs hear
`chat:conversation_updated`.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any, NamedTuple

import reflex as rx

from utool_chat.domain import conversations
from utool_chat.domain.errors import DomainError
from utool_chat.state.chat.store import ChatState, ChatView
from utool_chat.state.chat_slice import add_or_update_conversation, remove_conversation
from utool_chat.state.chat_views import (
    conversation_avatar,
    conversation_title,
    list_time_label,
    message_snippet,
    reader_zone,
)
from utool_chat.state.guards import attempt, flag_arg, key_arg, sentence
from utool_chat.state.handler import handler

ARCHIVED_PAGE = 100


class Toggle(NamedTuple):
    field: str  # the conversation's flag it turns over
    said_on: str  # the toast once it is on
    said_off: str  # and once it is off


# PreferencesState.toggle's settings: update_preferences' argument -> what it turns over.
TOGGLES = {
    "muted": Toggle("isMuted", "Muted.", "Unmuted."),
    "pinned": Toggle("isPinned", "Pinned.", "Unpinned."),
}


@dataclasses.dataclass
class ArchivedItemView:
    id: str = ""
    name: str = ""
    avatar: str = ""
    snippet: str = ""
    time_label: str = ""


class PreferencesState(ChatState):
    archived_count: rx.Field[int] = rx.field(0)
    archived_open: rx.Field[bool] = rx.field(False)
    archived_loading: rx.Field[bool] = rx.field(False)
    archived_items: rx.Field[list[ArchivedItemView]] = rx.field(default_factory=list)

    current_muted: rx.Field[bool] = rx.field(False)  # the open conversation's, for its menu
    current_pinned: rx.Field[bool] = rx.field(False)

    def _show(self, view: ChatView) -> None:
        convo = view.conversation or {}
        self._assign("current_muted", bool(convo.get("isMuted")))
        self._assign("current_pinned", bool(convo.get("isPinned")))

    def _convo(self, conversation_id: Any) -> dict[str, Any] | None:
        key = key_arg(conversation_id)
        return self._store()["conversations"]["entities"].get(key) if key else None

    async def _change(self, conversation_id: Any, success: str, **changes: Any):
        me = await self._me()
        cid = key_arg(conversation_id)
        if not me or not cid:
            return
        convo = await attempt("changing a chat's settings", conversations.update_preferences, me, cid, **changes)
        if isinstance(convo, DomainError):
            yield rx.toast.error(sentence(convo.message))
            return
        chat = self._store()
        if convo.get("isArchived"):
            remove_conversation(chat, cid)
            self.archived_count += 1
        else:
            add_or_update_conversation(chat, convo)
        await self._publish(me)
        yield rx.toast.success(success)

    @handler
    async def toggle(self, conversation_id: Any, setting: Any):
        """The conversation menu's Mute / Unmute and Pin / Unpin: turn `setting` ("muted" or
        "pinned", a key of TOGGLES) to the opposite of what the conversation has now."""
        convo = self._convo(conversation_id)
        toggle = TOGGLES.get(setting) if isinstance(setting, str) else None
        if convo is None or toggle is None:
            return
        on = not convo.get(toggle.field)
        async for update in self._change(conversation_id, toggle.said_on if on else toggle.said_off,
                                         **{setting: on}):
            yield update

    @handler
    async def archive(self, conversation_id: Any):
        leaving_open = key_arg(conversation_id) == self.current_id
        async for update in self._change(conversation_id, "Chat archived.", archived=True):
            yield update
        if leaving_open and self.current_id == "":
            yield rx.redirect("/chat")

    # ----- the archived view ---------------------------------------------------------------

    async def _load_archived(self, me: str) -> None:
        result = await attempt("listing archived chats", conversations.list_conversations, me, page=1,
                               limit=ARCHIVED_PAGE, archived=True)
        if isinstance(result, DomainError):
            return
        items, meta = result
        tz, now = reader_zone(self._tz), datetime.now(UTC)
        self.archived_items = [
            ArchivedItemView(
                id=c["_id"], name=conversation_title(c, me), avatar=conversation_avatar(c, me),
                snippet=message_snippet(c.get("lastMessage"), c, me),
                time_label=list_time_label(c.get("lastActivityAt"), tz, now),
            )
            for c in items
        ]
        self.archived_count = int((meta or {}).get("total") or len(items))

    @handler
    async def refresh_archived(self):
        """On mount of the list's "Archived (n)" button."""
        me = await self._me()
        if me:
            await self._load_archived(me)

    @handler
    async def set_archived_open(self, value: Any):
        flag = flag_arg(value)
        if flag is None:
            return
        self.archived_open = flag
        me = await self._me()
        if flag and me:
            self.archived_loading = True
            yield
            await self._load_archived(me)
            self.archived_loading = False

    @handler
    async def unarchive(self, conversation_id: Any):
        me = await self._me()
        async for update in self._change(conversation_id, "Chat moved back to your list.", archived=False):
            yield update
        if me:
            await self._load_archived(me)
