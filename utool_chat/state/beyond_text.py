"""Display-ready views for what chat shows beyond plain text: formatted bodies, mentions,
group notices, presence, seen-by, pins/mutes and notifications. Pure functions of the chat
slice (no Reflex), like `chat_views`, which calls them for its message and list views.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime, tzinfo
from typing import Any

from utool_chat.domain import formatting, receipts
from utool_chat.state.chat_slice import Chat

ONLINE, AWAY, OFFLINE = "online", "away", "offline"
# The renderer writes exactly this for a member mention (domain/formatting.py
# _render_mention); ids are [A-Za-z0-9_-], so matching one is matching a literal.
_MENTION_OPEN = '<span class="mention" data-user-id="{user_id}">'


def content_html_for(message: dict[str, Any], me: str) -> str:
    """The message's sanitised HTML (server-rendered), with mentions of `me` marked
    `mention-me` so they stand out. "" for a copy the server has not rendered yet (an
    optimistic bubble): the view shows its text as text instead."""
    html = message.get("contentHtml") or ""
    if not html or not me or not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", me):
        return html
    mine = _MENTION_OPEN.format(user_id=me)
    return html.replace(mine, f'<span class="mention mention-me" data-user-id="{me}">')


_ID_MENTION = re.compile(r"<@([A-Za-z0-9_-]{1,64})>")


def plain_text_for(message: dict[str, Any], conversation: dict[str, Any]) -> str:
    """The text of a message as text (an optimistic copy, before the server renders it):
    "<@userId>" mentions the composer inserted read as "@Display Name"."""
    content = message.get("content") or ""
    if "<@" not in content:
        return content
    names = {p.get("_id"): p.get("displayName") or p.get("username") or ""
             for p in conversation.get("participants") or []}
    return _ID_MENTION.sub(lambda m: "@" + names[m.group(1)] if names.get(m.group(1)) else m.group(0), content)


def is_notice(message: dict[str, Any]) -> bool:
    return message.get("contentType") == "system"


def mentions_me(message: dict[str, Any], me: str) -> bool:
    return formatting.mentions_user(message, me)


# ----- presence -----------------------------------------------------------------------------


def _local(raw: str | None, tz: tzinfo) -> datetime | None:
    if not raw:
        return None
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00")).astimezone(tz)
    except ValueError:
        return None


def presence_status(chat: Chat, user_id: str | None) -> str:
    """online / away / offline, or "" when the slice holds nothing for them (not visible)."""
    view = chat["presence"].get(user_id or "") if user_id else None
    return (view or {}).get("status") or ""


def presence_label(chat: Chat, user_id: str | None, tz: tzinfo, now: datetime) -> str:
    """The header's line: "online", "away", "last seen today at 14:05", "offline"."""
    view = chat["presence"].get(user_id or "") if user_id else None
    if not view or not view.get("status"):
        return ""
    status = view.get("status")
    if status in (ONLINE, AWAY):
        return status
    seen = _local(view.get("lastSeenAt"), tz)
    if seen is None:
        return "offline"
    days = (now.astimezone(tz).date() - seen.date()).days
    clock = seen.strftime("%H:%M")
    if days <= 0:
        return f"last seen today at {clock}"
    if days == 1:
        return f"last seen yesterday at {clock}"
    return f"last seen {seen.strftime('%d %b %Y').lstrip('0')} at {clock}"


def direct_peer(conversation: dict[str, Any] | None, me: str) -> str | None:
    """The other person of a direct conversation (None for groups)."""
    if not conversation or conversation.get("type") != "direct":
        return None
    others = [p.get("_id") for p in conversation.get("participants") or [] if p.get("_id") != me]
    return others[0] if others else None


# ----- seen-by ------------------------------------------------------------------------------


def own_last_message_id(ordered: list[dict[str, Any]], me: str) -> str:
    """The id of my newest confirmed, non-deleted message in `ordered` (oldest first)."""
    for message in reversed(ordered):
        if (message.get("sender") or {}).get("_id") == me and message.get("_id") and not message.get("isDeleted"):
            return message["_id"]
    return ""


def seen_by_line(message: dict[str, Any], conversation: dict[str, Any]) -> str:
    """"Seen by Alice, Bob" / "Seen by 12" for a group message (served readBy: empty when
    the viewer turned read receipts off, so the line disappears)."""
    if conversation.get("type") == "direct":
        return ""
    return receipts.seen_by_label(message, conversation.get("participants") or [])


@dataclasses.dataclass
class ReceiptView:
    """One member in the message-info dialog."""

    user_id: str = ""
    name: str = ""
    status: str = ""  # read / delivered / sent
    time_label: str = ""  # when read ("" otherwise)
    left: bool = False


def receipt_views(info: dict[str, Any], tz: tzinfo) -> list[ReceiptView]:
    views = []
    for entry in info.get("members") or []:
        user = entry.get("user") or {}
        at = _local(entry.get("readAt"), tz)
        views.append(ReceiptView(
            user_id=user.get("_id") or "",
            name=user.get("displayName") or user.get("username") or "Unknown",
            status=entry.get("status") or "",
            time_label=at.strftime("%d %b, %H:%M").lstrip("0") if at else "",
            left=bool(entry.get("left")),
        ))
    return views


# ----- notifications ------------------------------------------------------------------------


def notification_for(chat: Chat, me: str, payload: dict[str, Any]) -> dict[str, Any] | None:
    """What a browser notification for a chat:new_message shows, or None when it should not
    notify: my own messages, notices, and a muted conversation unless it mentions me
    (WhatsApp's rule). The browser decides whether the tab is hidden."""
    message = payload.get("message") or {}
    cid = payload.get("conversationId") or message.get("conversationId")
    sender = message.get("sender") or {}
    if not cid or not sender.get("_id") or sender.get("_id") == me or is_notice(message):
        return None
    convo = chat["conversations"]["entities"].get(cid) or {}
    if convo.get("isMuted") and not mentions_me(message, me):
        return None
    who = sender.get("displayName") or sender.get("username") or "Someone"
    title = who if convo.get("type") == "direct" or not convo.get("name") else f"{who} in {convo['name']}"
    body = message.get("snippet") or ("📎 Attachment" if message.get("attachments") else "New message")
    settings = chat.get("settings") or {}
    return {
        "title": title,
        "body": body,
        "conversationId": cid,
        "messageId": message.get("_id") or "",
        "sound": bool(settings.get("notificationSound", True)),
    }
