"""/api/v1/users/search and /api/v1/friends — user search, friend requests, friendships."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path
from fastapi.concurrency import run_in_threadpool

from utool_chat.api.deps import current_user, json_body
from utool_chat.api.envelope import ok
from utool_chat.domain import friends

router = APIRouter(tags=["friends"])


@router.get("/api/v1/users/search", summary="Users whose username or display name starts with q")
async def search_users(q: str | None = None, limit: int = 20, user: dict[str, Any] = Depends(current_user)):
    return ok(await run_in_threadpool(friends.search_users, user["_id"], q, limit))


@router.get("/api/v1/friends", summary="The caller's friends")
async def list_friends(user: dict[str, Any] = Depends(current_user)):
    return ok(await run_in_threadpool(friends.list_friends, user["_id"]))


@router.get("/api/v1/friends/requests", summary="Pending requests: {incoming, outgoing}")
async def list_requests(user: dict[str, Any] = Depends(current_user)):
    return ok(await run_in_threadpool(friends.list_requests, user["_id"]))


@router.post(
    "/api/v1/friends/requests",
    status_code=201,
    summary="Send a friend request ({username} or {userId}); 201 new, 200 if it accepted theirs or already existed",
)
async def send_request(user: dict[str, Any] = Depends(current_user), body: dict[str, Any] = Depends(json_body)):
    request, created = await run_in_threadpool(
        friends.send_request, user["_id"], body.get("username"), body.get("userId")
    )
    return ok(request, status=201 if created else 200)


@router.post("/api/v1/friends/requests/{requestId}/accept", summary="Accept a request sent to the caller")
async def accept_request(request_id: str = Path(alias="requestId"), user: dict[str, Any] = Depends(current_user)):
    return ok(await run_in_threadpool(friends.accept_request, user["_id"], request_id))


@router.post("/api/v1/friends/requests/{requestId}/decline", summary="Decline a request sent to the caller")
async def decline_request(request_id: str = Path(alias="requestId"), user: dict[str, Any] = Depends(current_user)):
    return ok(await run_in_threadpool(friends.decline_request, user["_id"], request_id))


@router.delete("/api/v1/friends/{userId}", summary="Remove a friend (both sides)")
async def remove_friend(user_id: str = Path(alias="userId"), user: dict[str, Any] = Depends(current_user)):
    await run_in_threadpool(friends.remove_friend, user["_id"], user_id)
    return ok(None)
