"""Uploaded files on their way into a message, in the Reflex door.

The browser uploads files itself (assets/uploads.js, `window.utool.attachments`: one
request per file to POST /api/v1/chat/uploads, with progress) and keeps the upload objects
until a message is composed. `takeReady(conversationId)` then hands the finished ones to
the message; while the composer's own send path is used, they arrive in the composer
form's hidden `uploads` field as JSON, read here.

Only `uploadId` matters to the domain (messages.send_message checks that each one is the
sender's own upload, not yet attached; anything else is refused there). The other fields
the browser sends (name, type, size, thumbnail, width and height) only dress the optimistic
copy until the server's copy replaces it; they are type-checked and cut to size here.

The file URLs a page shows are signed for its viewer and expire (FILE_URL_TTL_SECONDS): a
tab left open re-renders its views every quarter of that (AttachmentsState, asked by
uploads.js), so no URL it shows is ever older than a quarter of its lifetime.
"""

from __future__ import annotations

import json
import re
from typing import Any

from utool_chat import config
from utool_chat.domain import file_urls
from utool_chat.domain.messages import MAX_ATTACHMENTS
from utool_chat.state.chat.store import ChatState
from utool_chat.state.handler import handler

UPLOADS_FIELD = "uploads"
MAX_FIELD_CHARS = 64 * 1024
_ID = re.compile(r"^[0-9a-f]{32}$")


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**53 else None


def _text(value: Any, limit: int) -> str:
    return value[:limit] if isinstance(value, str) else ""


def ready_uploads(raw: Any) -> list[dict[str, Any]]:
    """The attachments a composer form's `uploads` field names: [{uploadId, url, name, type,
    size, thumbnailUrl, width, height}], at most MAX_ATTACHMENTS, duplicates dropped.
    Anything malformed (not JSON, not a list, an item without a well-formed uploadId) is
    left out; "" and a missing field mean none."""
    if not isinstance(raw, str) or not raw or len(raw) > MAX_FIELD_CHARS:
        return []
    try:
        items = json.loads(raw)
    except ValueError:
        return []
    if not isinstance(items, list):
        return []
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for item in items[:MAX_ATTACHMENTS]:
        upload_id = item.get("uploadId") if isinstance(item, dict) else None
        if not isinstance(upload_id, str) or not _ID.match(upload_id) or upload_id in seen:
            continue
        seen.add(upload_id)
        width, height = _int(item.get("width")), _int(item.get("height"))
        out.append({
            "uploadId": upload_id,
            # The stable URLs the server's copy will carry: the views sign them for the viewer.
            "url": file_urls.file_url(upload_id),
            "thumbnailUrl": file_urls.thumbnail_url(upload_id) if item.get("thumbnailUrl") else None,
            "name": _text(item.get("name"), 255) or "file",
            "type": _text(item.get("type"), 255),
            "size": _int(item.get("size")),
            "width": width if width and height else None,
            "height": height if width and height else None,
        })
    return out


def url_refresh_ms() -> int:
    """How often an open page asks for freshly signed URLs: a quarter of their lifetime."""
    return max(1, config.settings.file_url_ttl_seconds) * 1000 // 4


class AttachmentsState(ChatState):
    """Keeps the signed file URLs of an open page fresh."""

    @handler
    async def refresh_file_urls(self):
        """Re-render the tab's views: every file URL is signed again (the same URL within a
        quarter of the TTL, so only URLs about to age change and the browser cache holds)."""
        me = await self._me()
        if me:
            await self._publish(me)
