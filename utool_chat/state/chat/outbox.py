"""OutboxState: sending a message — the optimistic copy, the domain call, the outcome.

A message gets its tempId when it is composed; the optimistic copy (status "sending") is
shown at once, and the server's copy replaces it (the API reply, or chat:new_message,
whichever comes first). A refused or failed send is never left "sending": the bubble shows
"failed" with Retry (the same tempId again: the domain never stores a message twice) and
Discard. The composer hands its draft to `_send`; a client that mints the tempId itself (an
outbox in the browser) needs only `_show_pending` (unless it is shown already) and `_deliver`.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, TypedDict

import reflex as rx

from utool_chat.domain import messages
from utool_chat.domain.errors import DomainError
from utool_chat.state.auth import AuthState
from utool_chat.state.chat.messages import MessagesState
from utool_chat.state.chat.store import ChatState
from utool_chat.state.chat_slice import (
    discard_message,
    mark_message_failed,
    mark_message_sending,
    optimistic_add_message,
    receive_message,
)
from utool_chat.state.guards import attempt, key_arg, sentence
from utool_chat.state.handler import handler


class Draft(TypedDict):
    """A composed message, as the outbox sends it (and keeps it, for Retry)."""

    content: str
    attachments: list[dict[str, Any]]  # the contract's attachment objects
    replyTo: str | None  # the contract's field name (the message id replied to)


def _quote(replied: dict[str, Any] | None) -> dict[str, Any] | None:
    """The optimistic copy's replyTo: what the server will send, from the cached original."""
    if not replied:
        return None
    return {
        "_id": replied["_id"],
        "sender": replied.get("sender"),
        "content": replied.get("content", ""),
        "isDeleted": replied.get("isDeleted", False),
    }


class OutboxState(ChatState):
    """Each message goes through two steps: `_show_pending` (the optimistic copy, under its
    tempId) and `_deliver` (the domain call, then the confirmed copy or "failed"). Retry runs
    `_deliver` again on the copy that is shown, with the same tempId."""

    def _show_pending(self, me: str, auth: AuthState, cid: str, temp_id: str, draft: Draft) -> None:
        chat = self._store()
        reply_to = draft["replyTo"]
        replied = chat["messages"]["entities"].get(cid, {}).get(reply_to) if reply_to else None
        optimistic_add_message(chat, cid, {
            "tempId": temp_id,
            "conversationId": cid,
            "sender": {
                "_id": me, "username": auth.username, "displayName": auth.display_name,
                "avatar": auth.avatar or None,
            },
            "content": draft["content"],
            "contentType": "text",
            "attachments": draft["attachments"],
            "replyTo": _quote(replied),
            "reactions": [],
            "readBy": [],
            "createdAt": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "_draft": draft,  # what Retry sends again
        })

    async def _deliver(self, me: str, cid: str, temp_id: str, draft: Draft):
        """send_message under `temp_id` (a retry of it never stores a second message)."""
        await self._publish(me)
        yield MessagesState.scroll_to_bottom
        sent = await attempt(
            "sending a message", messages.send_message, me, cid, draft["content"],
            content_type="text", attachments=draft["attachments"] or None, reply_to=draft["replyTo"],
            temp_id=temp_id,
        )
        chat = self._store()
        if isinstance(sent, DomainError):
            mark_message_failed(chat, cid, temp_id, sentence(sent.message))
            await self._publish(me)
            yield rx.toast.error(f"Message not sent: {sent.message}")
            return
        message, _created = sent
        receive_message(chat, cid, message, temp_id)
        await self._publish(me)

    async def _send(self, me: str, cid: str, draft: Draft):
        """postNewMessage: a new message, with a new tempId."""
        temp_id = f"tmp-{uuid.uuid4().hex}"
        self._show_pending(me, await self.get_state(AuthState), cid, temp_id, draft)
        async for update in self._deliver(me, cid, temp_id, draft):
            yield update

    @handler
    async def retry_message(self, temp_id: Any):
        """Send a failed message again with the same tempId (the domain never duplicates)."""
        me = await self._me()
        cid = self.current_id
        key = key_arg(temp_id)
        entity = mark_message_sending(self._store(), cid, key) if me and cid and key else None
        if entity is None or key is None:
            return
        saved = entity.get("_draft") or {}
        draft = Draft(
            content=saved.get("content", ""), attachments=saved.get("attachments") or [], replyTo=saved.get("replyTo")
        )
        async for update in self._deliver(me, cid, key, draft):
            yield update

    @handler
    async def discard_failed(self, temp_id: Any):
        me = await self._me()
        key = key_arg(temp_id)
        if me and key and discard_message(self._store(), self.current_id, key):
            await self._publish(me)
