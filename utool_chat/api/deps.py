"""Shared request plumbing: the bearer-token dependency and JSON body parsing."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request

from utool_chat.domain import accounts
from utool_chat.domain.errors import Unauthenticated, ValidationFailed


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Missing or malformed Authorization header (expected 'Bearer <token>').")
    return token.strip()


async def current_user(request: Request) -> dict[str, Any]:
    """The authenticated user object ({_id, username, displayName, avatar}); 401 otherwise."""
    token = bearer_token(request)
    user = await accounts.authenticate_async(token)
    request.state.token = token
    return user


async def json_body(request: Request) -> dict[str, Any]:
    """The request body as a JSON object; 400 for anything else (empty, malformed, a list…)."""
    raw = await request.body()
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting ("[[[[…")
        raise ValidationFailed("Request body is not valid JSON.", code="invalid_json") from None
    if not isinstance(body, dict):
        raise ValidationFailed("Request body must be a JSON object.", code="invalid_json")
    return body
