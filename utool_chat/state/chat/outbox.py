"""OutboxState: sending a message — the optimistic copy, the domain call, the outcome.

A message gets its tempId when it is composed; the optimistic copy (status "sending") is
shown at once, and the server's copy replaces it (the API reply, or chat:new_message,
whichever comes first). A refused or failed send is never left "sending": the bubble shows
"failed" with Retry (the same tempId again: the domain never stores a message twice) and
Discard. The composer hands its draft to `_send`.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

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
    async def _send(
        self,
        me: str,
        cid: str,
        content: str,
        attachments: list[dict[str, Any]],
        reply_to: str | None,
        temp_id: str | None = None,
    ):
        """postNewMessage: optimistic copy first (unless retrying `temp_id`, whose copy is
        already shown), then the domain, then the confirmed copy or the failure."""
        chat = self._store()
        if temp_id is None:
            temp_id = f"tmp-{uuid.uuid4().hex}"
            auth = await self.get_state(AuthState)
            replied = chat["messages"]["entities"].get(cid, {}).get(reply_to) if reply_to else None
            optimistic_add_message(chat, cid, {
                "tempId": temp_id,
                "conversationId": cid,
                "sender": {
                    "_id": me, "username": auth.username, "displayName": auth.display_name,
                    "avatar": auth.avatar or None,
                },
                "content": content,
                "contentType": "text",
                "attachments": attachments,
                "replyTo": _quote(replied),
                "reactions": [],
                "readBy": [],
                "createdAt": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
                "_draft": {"content": content, "attachments": attachments, "replyTo": reply_to},
            })
        await self._publish(me)
        yield MessagesState.scroll_to_bottom
        sent = await attempt(
            "sending a message", messages.send_message, me, cid, content,
            content_type="text", attachments=attachments or None, reply_to=reply_to, temp_id=temp_id,
        )
        if isinstance(sent, DomainError):
            mark_message_failed(chat, cid, temp_id, sentence(sent.message))
            await self._publish(me)
            yield rx.toast.error(f"Message not sent: {sent.message}")
            return
        message, _created = sent
        receive_message(chat, cid, message, temp_id)
        await self._publish(me)

    @handler
    async def retry_message(self, temp_id: Any):
        """Send a failed message again with the same tempId (the domain never duplicates)."""
        me = await self._me()
        cid = self.current_id
        key = key_arg(temp_id)
        entity = mark_message_sending(self._store(), cid, key) if me and cid and key else None
        if entity is None or key is None:
            return
        draft = entity.get("_draft") or {}
        async for update in self._send(
            me, cid, draft.get("content", ""), draft.get("attachments") or [], draft.get("replyTo"), temp_id=key
        ):
            yield update

    @handler
    async def discard_failed(self, temp_id: Any):
        me = await self._me()
        key = key_arg(temp_id)
        if me and key and discard_message(self._store(), self.current_id, key):
            await self._publish(me)
