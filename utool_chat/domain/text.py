"""Checks shared by every domain module for text and ids that reach SQL.

Postgres `text` cannot hold NUL, and a lone surrogate (a valid JSON escape, "\\ud800") is
not encodable as UTF-8 at all: either would be a driver error — a 500 — instead of a
clean 400/404. Everything a client sends is checked here before it is stored or queried.
This module imports nothing from the domain, so accounts, friends and conversations can
all use it without import cycles.
"""

from __future__ import annotations

import re
from typing import Any

# Our ids are 32 hex chars; anything outside this shape cannot name a row.
ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def is_id(raw: Any) -> bool:
    return isinstance(raw, str) and ID_RE.fullmatch(raw) is not None


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
