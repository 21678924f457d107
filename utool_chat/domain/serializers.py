"""The API shapes of contract.md (the plan's field names: `_id`, `createdAt`, …).

Every door serves exactly these dicts, so a client written against the plan works unchanged.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from utool_chat.db.models import User


def iso(ts: datetime | None) -> str | None:
    """ISO 8601 with a time zone (SQLite hands back naive datetimes; they are UTC)."""
    if ts is None:
        return None
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=timezone.utc)
    return ts.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def user_out(user: User) -> dict[str, Any]:
    return {
        "_id": user.id,
        "username": user.username,
        "displayName": user.display_name,
        "avatar": user.avatar,
    }
