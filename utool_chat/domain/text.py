"""Checks shared by every domain module for text and ids that reach SQL.

Postgres `text` cannot hold NUL, and a lone surrogate (a valid JSON escape, "\\ud800") is
not encodable as UTF-8 at all: either would be a driver error — a 500 — instead of a
clean 400/404. Everything a client sends is checked here before it is stored or queried.
This module imports nothing from the domain but its errors, so accounts, friends and
conversations can all use it without import cycles.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from utool_chat.domain.errors import DomainError, ValidationFailed

# Our ids are 32 hex chars; anything outside this shape cannot name a row.
ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def is_id(raw: Any) -> bool:
    return isinstance(raw, str) and ID_RE.fullmatch(raw) is not None


def check_id(raw: Any, field: str, names_nothing: Callable[[], DomainError]) -> str:
    """The one id rule, for every id a client sends through any door.

    A value that is not a string is a malformed request: 400 `validation_error`. A string
    that cannot be one of our ids (wrong shape, too long, a NUL byte) names nothing, so it
    gets exactly the answer an id that names nothing gets, `names_nothing()`: for the thing
    acted on (a URL path, a socket event's conversationId) the entity's 404, the same as
    for a missing or invisible one; for a reference inside a body (replyTo, a cursor) that
    field's own 400. The shape check also keeps NUL bytes and lone surrogates out of SQL."""
    if not isinstance(raw, str):
        raise ValidationFailed(f"{field} must be an id string.", code="validation_error")
    if not is_id(raw):
        raise names_nothing()
    return raw


def storable_text_problem(raw: str) -> str | None:
    """Why Postgres could not store or compare `raw`, or None if it can."""
    if "\x00" in raw:
        return "must not contain NUL characters"
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode text"
    return None


def is_storable_text(raw: Any) -> bool:
    return isinstance(raw, str) and storable_text_problem(raw) is None
