"""OutboxState: sending a message — the optimistic copy, the domain call, the outcome.

A message gets its tempId when it is composed; the optimistic copy (status "sending") is
shown at once, and the server's copy replaces it (the API reply, or chat:new_message,
whichever comes first). A refused or failed send is never left "sending": the bubble shows
"failed" with Retry (the same tempId again: the domain never stores a message twice) and
Discard. An outage (`Unavailable`, contract 4) is not a refusal: the message stays "sending"
and is retried.

The browser's outbox (assets/outbox.js) mints the tempId when the message is composed, draws
it at once, keeps it in localStorage and hands it over with `deliver_entry` (one at a time,
again with the same tempId until it hears back); each delivery ends with
`utool.outbox.settled(tempId, "sent" | "failed" | "unavailable", retryAfter)`.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any, TypedDict

import reflex as rx
from reflex_base.event import EventSpec

from utool_chat.domain import messages
from utool_chat.domain.errors import DomainError, Unavailable
from utool_chat.domain.messages import MAX_ATTACHMENTS
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
from utool_chat.state.guards import attempt, key_arg, sentence, text_arg
from utool_chat.state.handler import handler


class Draft(TypedDict):
    """A composed message, as the outbox sends it (and keeps it, for Retry)."""

    content: str
    attachments: list[dict[str, Any]]  # the contract's attachment objects
    replyTo: str | None  # the contract's field name (the message id replied to)


# The longest outbox entry worth parsing: 4,000 characters of content (each up to 6 JSON
# characters escaped), ten attachments and the ids, with room to spare.
MAX_ENTRY_CHARS = 40_000
MAX_CONTENT_CHARS = 4000


def is_outage(err: DomainError) -> bool:
    """A dependency is down (contract 4): keep the message and retry, never "failed"."""
    return isinstance(err, Unavailable) or err.code == "unavailable"


def settle_script(temp_id: str, outcome: str, retry_after: int = 0) -> EventSpec:
    """Tell the browser's outbox how the delivery of `temp_id` ended."""
    return rx.call_script(
        "window.utool && window.utool.outbox && "
        f"window.utool.outbox.settled({json.dumps(temp_id)}, {json.dumps(outcome)}, {int(retry_after)})"
    )


def parse_entry(raw: Any) -> tuple[str, str, Draft] | None:
    """(tempId, conversationId, draft) from an outbox entry as the browser sends it (JSON
    text: `{tempId, conversationId, content, attachments: [{uploadId}], replyTo}`), or None
    when it is not one (only a hand-made event sends that; the domain re-checks the rest)."""
    text = text_arg(raw)
    if text is None or len(text) > MAX_ENTRY_CHARS:
        return None
    try:
        entry = json.loads(text)
    except ValueError:
        return None
    if not isinstance(entry, dict):
        return None
    temp_id, cid = key_arg(entry.get("tempId")), key_arg(entry.get("conversationId"))
    content = text_arg(entry.get("content", ""), MAX_CONTENT_CHARS + 1)
    items = entry.get("attachments") or []
    reply_to = entry.get("replyTo")
    if temp_id is None or cid is None or content is None or not isinstance(items, list):
        return None
    if len(items) > MAX_ATTACHMENTS or (reply_to is not None and key_arg(reply_to) is None):
        return None
    uploads = [key_arg(item.get("uploadId")) if isinstance(item, dict) else None for item in items]
    if any(upload is None for upload in uploads):
        return None
    attachments: list[dict[str, Any]] = [{"uploadId": upload} for upload in uploads]
    return temp_id, cid, Draft(content=content, attachments=attachments, replyTo=reply_to)


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

    # Link attachments the composer held when a browser outbox entry was composed, by its
    # tempId (ComposerState.composed), until that entry is stored or refused.
    _composed_links: dict[str, list[dict[str, Any]]] = {}

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
            "sending a message", messages.send_message_async, me, cid, draft["content"],
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
    async def deliver_entry(self, raw: Any):
        """An entry of the browser's outbox (#outbox-door), sent at once: the browser drew
        it already, so nothing is shown before the domain call (no extra round trip on the
        way to the other members). The stored message replaces the bubble; a refusal is
        shown "failed" (Retry / Discard); an outage leaves it to the outbox, which retries.
        The composer's pending links were set aside for it when it was composed
        (ComposerState.composed)."""
        me = await self._me()
        parsed = parse_entry(raw)
        if not me or parsed is None:
            return
        temp_id, cid, draft = parsed
        links = self._composed_links.get(temp_id, [])
        draft = Draft(content=draft["content"], attachments=draft["attachments"] + links, replyTo=draft["replyTo"])
        sent = await attempt(
            "sending a message", messages.send_message_async, me, cid, draft["content"],
            content_type="text", attachments=draft["attachments"] or None, reply_to=draft["replyTo"],
            temp_id=temp_id,
        )
        if isinstance(sent, DomainError) and is_outage(sent):
            yield settle_script(temp_id, "unavailable", getattr(sent, "retry_after", 5))
            return
        self._composed_links = {k: v for k, v in self._composed_links.items() if k != temp_id}
        chat = self._store()
        # The copy this tab shows (what sending from old history needs: the window restarts
        # from it, and the latest page comes above it), replaced at once by the outcome.
        if chat["messages"]["entities"].get(cid, {}).get(temp_id) is None:
            self._show_pending(me, await self.get_state(AuthState), cid, temp_id, draft)
        if isinstance(sent, DomainError):
            mark_message_failed(chat, cid, temp_id, sentence(sent.message))
            await self._publish(me)
            yield [settle_script(temp_id, "failed"), rx.toast.error(f"Message not sent: {sent.message}")]
            return
        message, _created = sent
        receive_message(chat, cid, message, temp_id)
        await self._publish(me)
        # One update: the stored message's row and the bubble's removal land together.
        yield [settle_script(temp_id, "sent"), MessagesState.scroll_to_bottom]

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
