"""/api/v1/users/me/settings and /api/v1/users/presence — the caller's settings, and who is
online among the people they may see (domain/settings.py, domain/presence.py)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool

from utool_chat.api.deps import current_user, json_body
from utool_chat.api.envelope import ok
from utool_chat.domain import presence
from utool_chat.domain import settings as user_settings

router = APIRouter(tags=["users"])


@router.get("/api/v1/users/me/settings", summary="The caller's settings")
async def get_settings(user: dict[str, Any] = Depends(current_user)):
    return ok(await run_in_threadpool(user_settings.get_settings, user["_id"]))


@router.put("/api/v1/users/me/settings",
            summary="Change settings: showLastSeen, readReceipts, groupInvites (friends | everyone | nobody), "
                    "notificationSound — only the keys given")
async def update_settings(user: dict[str, Any] = Depends(current_user), body: dict[str, Any] = Depends(json_body)):
    return ok(await run_in_threadpool(user_settings.update_settings, user["_id"], body))


def _presence_of_everyone(viewer_id: str) -> dict[str, Any]:
    ids = presence.watchable_ids(viewer_id)
    out: dict[str, Any] = {}
    for start in range(0, len(ids), presence.MAX_IDS):
        out.update(presence.presence_of(viewer_id, ids[start:start + presence.MAX_IDS]))
    return out


@router.get("/api/v1/users/presence",
            summary="{userId: {userId, status, lastSeenAt, changedAt}} for the users you may see "
                    "(friends and people you share a conversation with); others are absent")
async def get_presence(user: dict[str, Any] = Depends(current_user),
                       userIds: str | None = Query(
                           None, description="comma-separated user ids (at most 200); omitted: everyone you may see")):
    if userIds is None:
        return ok(await run_in_threadpool(_presence_of_everyone, user["_id"]))
    ids = [uid.strip() for uid in userIds.split(",") if uid.strip()]
    return ok(await run_in_threadpool(presence.presence_of, user["_id"], ids))
