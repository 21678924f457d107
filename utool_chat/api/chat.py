"""/api/v1/chat — conversations, messages, read positions, reactions (contract.md, plan 3.2).

Thin door: parse, authenticate, call the domain, wrap in the envelope. Query parameters are
taken as strings and converted here so that `limit=abc` is the contract's 400 envelope with
a plain message; ranges (limit 1–100, …) are the domain's to enforce — out of range is a
400, never silently clamped. Path and query parameters keep the plan's camelCase names
(`{conversationId}`, `beforeMessageId`), so the OpenAPI schema reads like contract.md.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool

from utool_chat.api.deps import current_user, json_body
from utool_chat.api.envelope import ok
from utool_chat.domain import conversations, messages, reactions, receipts
from utool_chat.domain.errors import ValidationFailed

router = APIRouter(prefix="/api/v1/chat", tags=["chat"])

User = dict[str, Any]
Body = dict[str, Any]


def _int_param(name: str, raw: str | None) -> int | None:
    if raw is None:
        return None
    try:
        return int(raw.strip())
    except ValueError:
        raise ValidationFailed(f"{name} must be an integer.", code="validation_error") from None


def _bool_param(name: str, raw: str | None) -> bool:
    if raw is None:
        return False
    value = raw.strip().lower()
    if value not in ("true", "false", "1", "0"):
        raise ValidationFailed(f"{name} must be true or false.", code="validation_error")
    return value in ("true", "1")


# --- conversations ----------------------------------------------------------------------


@router.get("/conversations", summary="The caller's conversations, newest activity first")
async def list_conversations(
    user: User = Depends(current_user),
    page: str | None = Query(None, description="1-based page number (default 1)"),
    limit: str | None = Query(None, description="page size, 1–100 (default 20)"),
    type: str | None = Query(None, description="direct | group | project"),
    archived: str | None = Query(None, description="true: list only the caller's archived conversations"),
):
    items, meta = await run_in_threadpool(
        conversations.list_conversations, user["_id"], _int_param("page", page), _int_param("limit", limit),
        type, _bool_param("archived", archived),
    )
    return ok(items, meta=meta)


@router.post("/conversations", summary="Start a conversation (201), or get the existing direct one (200)")
async def create_conversation(user: User = Depends(current_user), body: Body = Depends(json_body)):
    conversation, created = await run_in_threadpool(
        conversations.create_conversation, user["_id"], body.get("participantIds"), body.get("type"),
        body.get("name"), body.get("projectId"),
    )
    return ok(conversation, status=201 if created else 200)


@router.get("/conversations/{conversationId}", summary="One conversation the caller takes part in")
async def get_conversation(conversationId: str, user: User = Depends(current_user)):
    return ok(await run_in_threadpool(conversations.get_conversation, user["_id"], conversationId))


@router.put(
    "/conversations/{conversationId}",
    summary="Rename / avatar / add or remove members / add or remove admins (groups)",
)
async def update_conversation(conversationId: str, user: User = Depends(current_user),
                              body: Body = Depends(json_body)):
    conversation = await run_in_threadpool(
        conversations.update_conversation, user["_id"], conversationId,
        name=body.get("name"), avatar=body.get("avatar"),
        add_participant_ids=body.get("addParticipantIds"), remove_participant_ids=body.get("removeParticipantIds"),
        add_admin_ids=body.get("addAdminIds"), remove_admin_ids=body.get("removeAdminIds"),
    )
    return ok(conversation)


@router.put(
    "/conversations/{conversationId}/preferences",
    summary="The caller's own settings of a conversation: muted (with mutedFor seconds, or until unmuted), "
            "pinned, archived",
)
async def update_preferences(conversationId: str, user: User = Depends(current_user),
                             body: Body = Depends(json_body)):
    conversation = await run_in_threadpool(
        conversations.update_preferences, user["_id"], conversationId, muted=body.get("muted"),
        muted_for=body.get("mutedFor"), pinned=body.get("pinned"), archived=body.get("archived"),
    )
    return ok(conversation)


@router.delete("/conversations/{conversationId}", summary="Archive (direct) or leave (group) for the caller")
async def archive_or_leave(conversationId: str, user: User = Depends(current_user)):
    await run_in_threadpool(conversations.archive_or_leave, user["_id"], conversationId)
    return ok({"conversationId": conversationId})


# --- messages --------------------------------------------------------------------------------


@router.get("/conversations/{conversationId}/messages", summary="History, newest first (meta.hasMore)")
async def list_messages(
    conversationId: str,
    user: User = Depends(current_user),
    limit: str | None = Query(None, description="1–100 (default 30)"),
    beforeMessageId: str | None = Query(None, description="messages older than this one"),
    afterMessageId: str | None = Query(None, description="messages newer than this one"),
    aroundMessageId: str | None = Query(
        None, description="a page centred on this message (e.g. a search result): meta.hasMoreBefore and "
                          "meta.hasMoreAfter say whether older / newer messages remain; continue with "
                          "beforeMessageId=meta.oldestMessageId and afterMessageId=meta.newestMessageId"),
):
    items, meta = await run_in_threadpool(
        messages.list_messages, user["_id"], conversationId, _int_param("limit", limit), beforeMessageId,
        afterMessageId, aroundMessageId,
    )
    return ok(items, meta=meta)


@router.post(
    "/conversations/{conversationId}/messages",
    summary="Send a message: 201 {message, tempId}; the same tempId again: 200 and the same message",
)
async def send_message(conversationId: str, user: User = Depends(current_user),
                       body: Body = Depends(json_body)):
    message, created = await messages.send_message_async(
        user["_id"], conversationId, body.get("content"), body.get("contentType"),
        body.get("attachments"), body.get("replyTo"), body.get("tempId"),
    )
    data = {"conversationId": conversationId, "message": message, "tempId": message["tempId"]}
    return ok(data, status=201 if created else 200)


@router.post("/conversations/{conversationId}/messages/read", summary="Mark read up to lastReadMessageId")
async def mark_read(conversationId: str, user: User = Depends(current_user),
                    body: Body = Depends(json_body)):
    result = await run_in_threadpool(messages.mark_read, user["_id"], conversationId, body.get("lastReadMessageId"))
    return ok(result)


@router.get("/messages/{messageId}/info",
            summary="Your own message's delivery and reads, member by member (read receipts permitting)")
async def message_info(messageId: str, user: User = Depends(current_user)):
    return ok(await run_in_threadpool(receipts.message_info, user["_id"], messageId))


@router.put("/messages/{messageId}", summary="Edit your own message (within the edit window)")
async def edit_message(messageId: str, user: User = Depends(current_user),
                       body: Body = Depends(json_body)):
    return ok(await run_in_threadpool(messages.edit_message, user["_id"], messageId, body.get("content")))


@router.delete("/messages/{messageId}", summary="Soft-delete (sender or group admin)")
async def delete_message(messageId: str, user: User = Depends(current_user)):
    return ok(await run_in_threadpool(messages.delete_message, user["_id"], messageId))


# --- reactions -----------------------------------------------------------------------------------


@router.post("/messages/{messageId}/reactions", summary="Add a reaction (adding it twice changes nothing)")
async def add_reaction(messageId: str, user: User = Depends(current_user),
                       body: Body = Depends(json_body)):
    return ok(await run_in_threadpool(reactions.add_reaction, user["_id"], messageId, body.get("emoji")))


@router.delete("/messages/{messageId}/reactions/{emoji}",
               summary="Remove your reaction (emoji URL-encoded; removing a missing one changes nothing)")
async def remove_reaction(messageId: str, emoji: str, user: User = Depends(current_user)):
    return ok(await run_in_threadpool(reactions.remove_reaction, user["_id"], messageId, emoji))
