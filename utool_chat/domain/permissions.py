"""Who may edit or delete a message: pure rules over served message objects.

The domain's own edit and delete checks call these, and so do the views that decide which
buttons to show (state/chat_views.py), so a button is offered exactly when the server would
accept the click. They read only the served fields `sender._id`, `contentType`, `isDeleted`
and `editableUntil`; the serializer computes `editableUntil` (editable_until below).

    can_edit(message, viewer_id, now)                -> bool
    can_delete(message, viewer_id, viewer_is_admin)  -> bool
    edit_refusal(...) / delete_refusal(...)          -> the error code, or None when allowed
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

# Written by the server itself (group notices); nobody edits them.
SYSTEM_CONTENT_TYPE = "system"


def editable_until(created_at: datetime, *, sender_id: str | None, content_type: str, is_deleted: bool,
                   edit_window_seconds: int) -> datetime | None:
    """Until when the sender may edit the message (`editableUntil`): created_at plus the
    edit window, or None when nobody may edit it any more (deleted, a system message, or
    no sender left)."""
    if is_deleted or sender_id is None or content_type == SYSTEM_CONTENT_TYPE:
        return None
    return created_at + timedelta(seconds=edit_window_seconds)


def _sender_id(message: dict[str, Any]) -> str | None:
    sender = message.get("sender")
    return sender.get("_id") if isinstance(sender, dict) else None


def _parse(timestamp: Any) -> datetime | None:
    if not isinstance(timestamp, str) or not timestamp:
        return None
    try:
        return datetime.fromisoformat(timestamp)  # accepts the trailing Z (Python 3.11+)
    except ValueError:
        return None


def edit_refusal(message: dict[str, Any], viewer_id: str, now: datetime) -> str | None:
    """Why `viewer_id` may not edit `message` now (an error code), or None if they may.
    A message not yet confirmed by the server has no editableUntil: not editable yet."""
    if message.get("contentType") == SYSTEM_CONTENT_TYPE:
        return "system_message"
    if _sender_id(message) != viewer_id:
        return "not_sender"
    if message.get("isDeleted"):
        return "message_deleted"
    until = _parse(message.get("editableUntil"))
    if until is None or now > until:
        return "edit_window_passed"
    return None


def can_edit(message: dict[str, Any], viewer_id: str, now: datetime) -> bool:
    return edit_refusal(message, viewer_id, now) is None


def delete_refusal(message: dict[str, Any], viewer_id: str, viewer_is_admin: bool) -> str | None:
    """Why `viewer_id` may not delete `message` (an error code), or None if they may: its
    sender may, and so may an admin of its group (only groups have admins). A group notice
    (a system message) is part of the group's history: nobody deletes it."""
    if message.get("contentType") == SYSTEM_CONTENT_TYPE:
        return "system_message"
    if _sender_id(message) == viewer_id or viewer_is_admin:
        return None
    return "not_allowed"


def can_delete(message: dict[str, Any], viewer_id: str, viewer_is_admin: bool) -> bool:
    """Whether a Delete should be offered: allowed, and there is something left to delete
    (a confirmed message that is not deleted yet)."""
    if message.get("isDeleted") or not message.get("_id"):
        return False
    return delete_refusal(message, viewer_id, viewer_is_admin) is None
