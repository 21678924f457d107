"""/api/v1/auth — register, login, logout, me."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool

from utool_chat.api.deps import bearer_token, current_user, json_body
from utool_chat.api.envelope import ok
from utool_chat.domain import accounts

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


@router.post("/register", status_code=201, summary="Create an account; returns {user, token}")
async def register(body: dict[str, Any] = Depends(json_body)):
    result = await run_in_threadpool(
        accounts.register, body.get("username"), body.get("password"), body.get("displayName")
    )
    return ok(result, status=201)


@router.post("/login", summary="Log in; returns {user, token}")
async def login(body: dict[str, Any] = Depends(json_body)):
    return ok(await run_in_threadpool(accounts.login, body.get("username"), body.get("password")))


@router.post("/logout", summary="Revoke the caller's token")
async def logout(request: Request):
    await run_in_threadpool(accounts.logout, bearer_token(request))
    return ok(None)


@router.get("/me", summary="The caller's user object")
async def me(user: dict[str, Any] = Depends(current_user)):
    return ok({"user": user})
