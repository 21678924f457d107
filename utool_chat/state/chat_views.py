"""Display-ready views of the chat slice: what the chat components render (flat strings,
bools and small lists, nothing to decode in the browser). Pure functions of the slice, the
reader's id, time zone and clock; the chat substates (`state/chat/`) publish their results.
"""

from __future__ import annotations

import dataclasses
import functools
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from utool_chat.domain import file_urls, formatting, permissions
from utool_chat.state import beyond_text
from utool_chat.state.chat_slice import Chat, activity_time, message_key, typing_names

RECENT_CHUNK = 25  # recent_messages holds < 2 chunks; older_messages changes every chunk
SNIPPET_CHARS = 90
REACTION_CHOICES = ["👍", "❤️", "😂", "😮", "😢", "🙏"]
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg", ".avif", ".bmp")



@dataclasses.dataclass
class ReactionView:
    emoji: str = ""
    count: int = 0
    mine: bool = False
    names: str = ""


@dataclasses.dataclass
class AttachmentView:
    """One attachment as a message (or the composer) shows it. Uploads are ours: their URLs
    are signed for the viewer and absolute on the API's origin. A link is shown as a link,
    never loaded by the viewer's browser (no third-party fetches)."""

    url: str = ""  # the file (signed), or the link
    name: str = ""
    is_image: bool = False  # an upload shown inline: a raster image with a thumbnail
    is_link: bool = False  # an external http(s) link (anything else is not a link at all)
    is_upload: bool = False
    thumb_url: str = ""  # signed thumbnail of an inline image
    width: int = 0  # what the inline image reserves (CSS px), from the stored size
    height: int = 0
    full_width: int = 0  # the picture's own size (the lightbox)
    full_height: int = 0
    size_label: str = ""  # "1.2 MB", "" when unknown
    kind: str = "file"  # icon family: image, pdf, audio, video, archive, text, file


@dataclasses.dataclass
class MessageView:
    key: str = ""
    message_id: str = ""
    is_own: bool = False
    show_sender: bool = False
    first_in_group: bool = True
    last_in_group: bool = True
    sender_name: str = ""
    sender_avatar: str = ""
    content: str = ""
    is_deleted: bool = False
    is_edited: bool = False
    time_label: str = ""
    full_time: str = ""
    status: str = ""
    error: str = ""
    day_label: str = ""
    has_reply: bool = False
    reply_id: str = ""  # the original's id (its quote opens it: MessagesState.open_at_message)
    reply_name: str = ""
    reply_content: str = ""
    reactions: list[ReactionView] = dataclasses.field(default_factory=list)
    attachments: list[AttachmentView] = dataclasses.field(default_factory=list)
    can_edit: bool = False
    can_delete: bool = False
    # Beyond text (state/beyond_text.py): the sanitised HTML ("" before the server's copy),
    # a group notice, whether it mentions the reader, the seen-by line under one's last.
    content_html: str = ""
    is_notice: bool = False
    mentions_me: bool = False
    seen_by: str = ""


@dataclasses.dataclass
class ConversationItemView:
    id: str = ""
    name: str = ""
    avatar: str = ""
    is_group: bool = False
    snippet: str = ""
    is_typing: bool = False
    time_label: str = ""
    unread: int = 0
    unread_label: str = ""
    has_mention: bool = False  # unread messages mention me: the "@" marker
    is_pinned: bool = False
    is_muted: bool = False
    presence: str = ""  # a direct chat's other person: online / away / offline ("" unknown)


@dataclasses.dataclass
class PersonView:
    """A friend in the people picker, or a member in the members dialog."""

    id: str = ""
    name: str = ""
    username: str = ""
    avatar: str = ""
    is_admin: bool = False
    is_me: bool = False


def person_view(user: dict[str, Any], *, is_admin: bool = False, is_me: bool = False) -> PersonView:
    return PersonView(
        id=user.get("_id") or "",
        name=display_name(user),
        username=user.get("username") or "",
        avatar=user.get("avatar") or "",
        is_admin=is_admin,
        is_me=is_me,
    )


def build_member_views(conversation: dict[str, Any], me: str) -> list[PersonView]:
    """The active members: you first, then the admins, then everyone else by name."""
    admins = set(conversation.get("admins") or [])
    people = [
        person_view(p, is_admin=p.get("_id") in admins, is_me=p.get("_id") == me)
        for p in conversation.get("participants") or []
    ]
    people.sort(key=lambda p: (not p.is_me, not p.is_admin, p.name.casefold()))
    return people


def filter_people(people: list[PersonView], query: str) -> list[PersonView]:
    """Case-insensitive match anywhere in the display name or username."""
    needle = " ".join(str(query or "").split()).casefold()
    return [p for p in people if not needle or needle in p.name.casefold() or needle in p.username.casefold()]


def _parse_ts(raw: str | None) -> datetime | None:
    if not raw:
        return None
    try:
        ts = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def reader_zone(tz_name: str) -> tzinfo:
    """The reader's zone; anything that is not a known IANA name falls back to UTC."""
    try:
        return ZoneInfo(tz_name) if tz_name and len(tz_name) <= 64 else UTC
    except Exception:  # ZoneInfoNotFoundError, ValueError, IsADirectoryError…: all mean "unknown"
        return UTC


def list_time_label(raw: str | None, tz: tzinfo, now: datetime) -> str:
    """WhatsApp style: 14:05 today, "Yesterday", a weekday within a week, else a date."""
    ts = _parse_ts(raw)
    if ts is None:
        return ""
    local, today = ts.astimezone(tz), now.astimezone(tz).date()
    days = (today - local.date()).days
    if days <= 0:
        return local.strftime("%H:%M")
    if days == 1:
        return "Yesterday"
    if days < 7:
        return local.strftime("%a")
    return local.strftime("%d %b" if local.year == today.year else "%d/%m/%Y")


def day_label(raw: str | None, tz: tzinfo, now: datetime) -> str:
    ts = _parse_ts(raw)
    if ts is None:
        return "Today"
    local, today = ts.astimezone(tz), now.astimezone(tz).date()
    days = (today - local.date()).days
    if days <= 0:
        return "Today"
    if days == 1:
        return "Yesterday"
    if days < 7:
        return local.strftime("%A")
    return local.strftime("%d %B %Y").lstrip("0")


def snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def is_web_url(url: Any) -> bool:
    return isinstance(url, str) and url.lower().startswith(("http://", "https://"))


INLINE_MAX_WIDTH = 280  # px: an inline image's largest width in a bubble
INLINE_MAX_HEIGHT = 320


@functools.lru_cache(maxsize=1)
def api_origin() -> str:
    """Where the browser reaches the backend (rxconfig's api_url, from API_URL): file URLs
    are paths on it."""
    from reflex.config import get_config

    return str(get_config().api_url or "").rstrip("/")


def file_src(viewer_id: str, url: Any) -> str:
    """What a browser of `viewer_id` loads for a URL the server sent: one of our file URLs
    signed for them (domain/file_urls.py) on the API's origin; anything else unchanged."""
    if file_urls.parse(url) is None:
        return str(url or "")
    return api_origin() + file_urls.sign_url(viewer_id, url)


def size_label(size: Any) -> str:
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        return ""
    if size < 1024:
        return f"{size} bytes"
    if size < 2**20:
        return f"{size / 1024:.0f} KB"
    return f"{size / 2**20:.1f} MB"


def file_kind(mime_type: Any, name: Any) -> str:
    kind = str(mime_type or "").lower()
    ext = str(name or "").rsplit(".", 1)[-1].lower() if "." in str(name or "") else ""
    if kind == "application/pdf" or ext == "pdf":
        return "pdf"
    for family in ("image", "audio", "video"):
        if kind.startswith(family + "/"):
            return family
    if kind in ("application/zip", "application/gzip", "application/x-tar", "application/x-7z-compressed") or ext in (
        "zip", "gz", "tgz", "tar", "7z", "rar",
    ):
        return "archive"
    if kind.startswith("text/"):
        return "text"
    return "file"


def _inline_box(width: Any, height: Any) -> tuple[int, int]:
    """The size an inline image takes (its aspect ratio, at most INLINE_MAX_* px), so the
    bubble has its final size before the picture arrives."""
    if not (isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0):
        return 0, 0
    scale = min(1.0, INLINE_MAX_WIDTH / width, INLINE_MAX_HEIGHT / height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def attachment_view(attachment: dict[str, Any], viewer_id: str = "") -> AttachmentView:
    url = str(attachment.get("url") or "")
    name = str(attachment.get("name") or url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1] or url)
    kind = file_kind(attachment.get("type"), name)
    size = size_label(attachment.get("size"))
    if attachment.get("uploadId") or file_urls.parse(url) is not None:
        thumb = attachment.get("thumbnailUrl")
        width, height = _inline_box(attachment.get("width"), attachment.get("height"))
        inline = bool(thumb) and width > 0 and formatting.is_photo(attachment)
        return AttachmentView(
            url=file_src(viewer_id, url), name=name, is_image=inline, is_link=False, is_upload=True,
            thumb_url=file_src(viewer_id, thumb) if inline else "", width=width, height=height,
            full_width=attachment.get("width") or 0 if inline else 0,
            full_height=attachment.get("height") or 0 if inline else 0,
            size_label=size, kind=kind,
        )
    return AttachmentView(url=url, name=name, is_link=is_web_url(url), size_label=size, kind=kind)


def attachment_from_url(url: str) -> dict[str, Any]:
    """The contract's attachment shape for a pasted link (the type guessed from its name)."""
    name = url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1] or url
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if url.split("?", 1)[0].lower().endswith(IMAGE_EXTENSIONS):
        kind = "image/" + ("jpeg" if ext == "jpg" else "svg+xml" if ext == "svg" else ext)
    elif ext == "pdf":
        kind = "application/pdf"
    else:
        kind = "application/octet-stream"
    return {"url": url, "type": kind, "name": name[:255], "size": None}


def display_name(user: dict[str, Any] | None) -> str:
    if not user:
        return "Deleted user"
    return user.get("displayName") or user.get("username") or "Unknown"


def conversation_title(conversation: dict[str, Any], me: str) -> str:
    if conversation.get("name"):
        return conversation["name"]
    others = [p for p in conversation.get("participants") or [] if p.get("_id") != me]
    if not others:
        return "Just you"
    if conversation.get("type") == "direct":
        return display_name(others[0])
    names = [display_name(p).split(" ")[0] for p in others]
    return ", ".join(names[:3]) + (f" +{len(names) - 3}" if len(names) > 3 else "")


def conversation_avatar(conversation: dict[str, Any], me: str) -> str:
    if conversation.get("avatar"):
        return file_src(me, conversation["avatar"])  # a group picture is an upload
    if conversation.get("type") == "direct":
        others = [p for p in conversation.get("participants") or [] if p.get("_id") != me]
        if others:
            return others[0].get("avatar") or ""
    return ""


def conversation_subtitle(conversation: dict[str, Any], me: str) -> str:
    participants = conversation.get("participants") or []
    if conversation.get("type") == "direct":
        others = [p for p in participants if p.get("_id") != me]
        return f"@{others[0]['username']}" if others else ""
    names = sorted(display_name(p) for p in participants if p.get("_id") != me)
    return ", ".join([*names, "You"]) if names else f"{len(participants)} members"


def message_snippet(message: dict[str, Any] | None, conversation: dict[str, Any], me: str) -> str:
    if not message:
        return "No messages yet"
    if message.get("isDeleted"):
        body = "Message deleted"
    elif message.get("content", "").strip():
        # The server's plain-text snippet (Markdown and mentions resolved); the raw text
        # for an optimistic copy.
        body = snippet(message.get("snippet") or message["content"])
    elif message.get("attachments"):
        body = formatting.attachments_label(message["attachments"])
    else:
        body = ""
    sender = message.get("sender") or {}
    if beyond_text.is_notice(message):
        return body  # "Ann renamed the group …": the sentence names its actor itself
    if sender.get("_id") == me:
        return f"You: {body}"
    if conversation.get("type") != "direct":
        return f"{display_name(sender).split(' ')[0]}: {body}"
    return body


def typing_text(names: list[str], is_group: bool) -> str:
    if not names:
        return ""
    if len(names) == 1:
        return f"{names[0]} is typing…" if is_group else "typing…"
    if len(names) == 2:
        return f"{names[0]} and {names[1]} are typing…"
    return "Several people are typing…"


def build_conversation_items(chat: Chat, me: str, tz: tzinfo, now: datetime) -> list[ConversationItemView]:
    convs = chat["conversations"]
    current = convs["currentConversationId"]
    items = []
    for cid in convs["ids"]:
        convo = convs["entities"][cid]
        if convo.get("isArchived") and cid != current:
            continue
        typing = typing_names(chat, cid)
        is_group = convo.get("type") != "direct"
        unread = int(convo.get("unreadCount") or 0)
        last = convo.get("lastMessage")
        items.append(
            ConversationItemView(
                id=cid,
                name=conversation_title(convo, me),
                avatar=conversation_avatar(convo, me),
                is_group=is_group,
                snippet=typing_text([n.split(" ")[0] for n in typing], is_group) or message_snippet(last, convo, me),
                is_typing=bool(typing),
                time_label=list_time_label(activity_time(convo), tz, now),
                unread=unread,
                unread_label="99+" if unread > 99 else str(unread),
                has_mention=int(convo.get("unreadMentions") or 0) > 0,
                is_pinned=bool(convo.get("isPinned")),
                is_muted=bool(convo.get("isMuted")),
                presence=beyond_text.presence_status(chat, beyond_text.direct_peer(convo, me)),
            )
        )
    return items


def build_message_views(chat: Chat, conversation_id: str, me: str, tz: tzinfo, now: datetime) -> list[MessageView]:
    """The open conversation's messages, oldest first. Runs on every change of the open
    conversation, so each timestamp is parsed once (grouping looks at both neighbours).
    Edit and Delete are offered exactly when the domain would accept them
    (`domain.permissions`, from the message's served `editableUntil` and sender)."""
    convo = chat["conversations"]["entities"].get(conversation_id) or {}
    is_group = convo.get("type") != "direct"
    i_am_group_admin = is_group and me in (convo.get("admins") or [])
    names = {p["_id"]: display_name(p) for p in convo.get("participants") or []}
    entities = chat["messages"]["entities"].get(conversation_id, {})
    ordered = [entities[k] for k in chat["messages"]["idsByConversation"].get(conversation_id, [])]
    created = [_parse_ts(m.get("createdAt")) for m in ordered]
    local = [ts.astimezone(tz) if ts else None for ts in created]
    days = [ts.date() if ts else None for ts in local]
    senders = [(m.get("sender") or {}).get("_id") for m in ordered]
    own_last = beyond_text.own_last_message_id(ordered, me) if is_group else ""

    def same_run(i: int) -> bool:
        """Messages i and i+1 form one bubble group: same sender, same day, within 5 minutes."""
        a, b = created[i], created[i + 1]
        return bool(
            senders[i] == senders[i + 1] and a and b and abs((b - a).total_seconds()) < 300 and days[i] == days[i + 1]
        )

    views: list[MessageView] = []
    for index, msg in enumerate(ordered):
        sender = msg.get("sender") or {}
        new_day = index == 0 or days[index - 1] != days[index]
        first = new_day or not same_run(index - 1)
        own = senders[index] == me
        deleted = bool(msg.get("isDeleted"))
        reply = msg.get("replyTo") or None
        stamp = local[index]
        views.append(
            MessageView(
                key=message_key(msg),
                message_id=msg.get("_id") or "",
                is_own=own,
                show_sender=is_group and not own and first,
                first_in_group=first,
                last_in_group=index + 1 == len(ordered) or not same_run(index),
                sender_name=display_name(sender) if sender else "Deleted user",
                sender_avatar=sender.get("avatar") or "",
                content=beyond_text.plain_text_for(msg, convo),
                is_deleted=deleted,
                is_edited=bool(msg.get("isEdited")) and not deleted,
                time_label=stamp.strftime("%H:%M") if stamp else "",
                full_time=stamp.strftime("%A %d %B %Y, %H:%M") if stamp else "",
                status=(msg.get("status") or "sent") if own else "",
                error=msg.get("error") or "",
                day_label=day_label(msg.get("createdAt"), tz, now) if new_day else "",
                has_reply=reply is not None,
                reply_id=(reply.get("_id") or "") if reply else "",
                reply_name=display_name(reply.get("sender")) if reply else "",
                reply_content=_quote_text(reply) if reply else "",
                reactions=[] if deleted else _reaction_views(msg, me, names),
                attachments=[] if deleted else [attachment_view(a, me) for a in msg.get("attachments") or []],
                # A copy not confirmed yet (no _id) has no editableUntil and cannot be deleted.
                can_edit=permissions.can_edit(msg, me, now),
                can_delete=permissions.can_delete(msg, me, i_am_group_admin),
                content_html="" if deleted else beyond_text.content_html_for(msg, me),
                is_notice=beyond_text.is_notice(msg),
                mentions_me=beyond_text.mentions_me(msg, me),
                seen_by=beyond_text.seen_by_line(msg, convo) if own_last and msg.get("_id") == own_last else "",
            )
        )
    return views


def _quote_text(reply: dict[str, Any]) -> str:
    """A reply's quote of its original (the server sends a snippet; deleted ones say so)."""
    return "Deleted message" if reply.get("isDeleted") else snippet(reply.get("content") or "📎 Attachment", 120)


def _reaction_views(message: dict[str, Any], me: str, names: dict[str, str]) -> list[ReactionView]:
    """One chip per emoji, in first-reaction order, with who reacted."""
    users_by_emoji: dict[str, list[str]] = {}
    for reaction in message.get("reactions") or []:
        users_by_emoji.setdefault(reaction["emoji"], []).append(reaction["user"])
    return [
        ReactionView(
            emoji=emoji,
            count=len(users),
            mine=me in users,
            names=", ".join("You" if u == me else names.get(u, "Someone") for u in users),
        )
        for emoji, users in users_by_emoji.items()
    ]


def split_recent(views: list[MessageView]) -> tuple[list[MessageView], list[MessageView]]:
    """(older, recent): the split point only moves in steps of RECENT_CHUNK messages, so
    appending a message changes `recent` alone most of the time."""
    split = max(0, (len(views) - RECENT_CHUNK) // RECENT_CHUNK * RECENT_CHUNK)
    return views[:split], views[split:]
