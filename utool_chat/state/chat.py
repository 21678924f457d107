"""ChatState: the /chat pages. A thin door onto the chat domain, mirroring the plan's chatSlice.

Two layers live here:

1. The slice (module-level functions on a plain dict, no Reflex): the plan's `initialState`
   shape and its reducers under the same names (`optimistic_add_message`, `receive_message`,
   `update_message`, `set_typing_user`, `clear_conversation_unread_count`,
   `add_or_update_conversation`, `set_current_conversation_id`) plus the thunks' fulfilled
   cases (`conversations_fetched`, `messages_fetched`). Pure, so tests/state/ checks them
   without a browser. Differences from the JS slice, on purpose:
   - `idsByConversation` is kept oldest first (display order) and sorted by `seq`, which is
     gap-free and server-assigned; optimistic messages (no seq yet) stay at the end.
   - unread counts are never incremented locally: the server's `chat:unread_count_update`
     is the authority (derived from read positions), so a count cannot drift or double.
   - each conversation keeps a bounded window of messages (WINDOW_SIZE + pages the user
     loaded); live messages beyond it drop the oldest and set `hasMore` again (reflex#4156:
     every change of a list var resends the whole list).

2. `ChatState` (Reflex): holds the slice in a backend var (`_chat`, never sent to the
   browser) and publishes display-ready views (`conversation_items`, `older_messages`,
   `recent_messages`, header fields, `typing_label`). A view var is only assigned when its
   value changed, and the open conversation's messages are split in two lists so a new
   message resends the short `recent_messages` tail, not the whole history.

Live updates: `listen_for_events`, a background task started on mount (one per tab), follows
`utool_chat.events.get_bus()` and applies this user's events under `async with self`; a
logout of this tab's session (in any tab or process) sends the tab to /login.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import reflex as rx

from utool_chat.domain.accounts import SESSION_REVOKED
from utool_chat.domain.errors import DomainError, NotFound
from utool_chat.events import get_bus
from utool_chat.state.auth import AuthState, sign_out_if_session_ended

# ----------------------------------------------------------------------------------------
# Tunables
# ----------------------------------------------------------------------------------------

PAGE_SIZE = 30  # messages per history page (the plan's fetchMessages limit)
CONVERSATION_PAGE_SIZE = 30
WINDOW_SIZE = 200  # live messages kept per conversation beyond the pages the user loaded
RECENT_CHUNK = 25  # recent_messages holds < 2 chunks; older_messages changes every chunk
TYPING_TTL_SECONDS = 6.0  # a typing user not refreshed within this vanishes from the UI
TYPING_THROTTLE_SECONDS = 2.0  # at most one typing_started per conversation per this
LISTENER_IDLE_CHECK_SECONDS = 15.0
SNIPPET_CHARS = 90
REACTION_CHOICES = ["👍", "❤️", "😂", "😮", "😢", "🙏"]
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg", ".avif", ".bmp")
STATUS_RANK = {"sending": 0, "sent": 1, "delivered": 2, "read": 3}

# ----------------------------------------------------------------------------------------
# The slice: plain data + reducers (the plan's chatSlice)
# ----------------------------------------------------------------------------------------

Chat = dict[str, Any]


def initial_chat() -> Chat:
    """The plan's initialState (conversation paging and message windows added)."""
    return {
        "conversations": {
            "ids": [],
            "entities": {},
            "currentConversationId": None,
            "isLoading": False,
            "error": None,
            "hasMore": False,
            "page": 0,
        },
        "messages": {
            "entities": {},  # {conversationId: {messageKey: message}}
            "idsByConversation": {},  # {conversationId: [messageKey, ...]} oldest first
            "isLoading": {},
            "hasMore": {},
            "error": {},
            "windowSize": {},  # {conversationId: how many messages this window may hold}
        },
        "typingUsers": {},  # {conversationId: {userId: {"userName", "expiresAt"}}}
    }


def _message_key(message: dict[str, Any]) -> str:
    return message.get("_id") or message["tempId"]


def _activity_time(conversation: dict[str, Any]) -> str:
    last = conversation.get("lastMessage") or {}
    return last.get("createdAt") or conversation.get("updatedAt") or conversation.get("createdAt") or ""


def _sort_conversations(chat: Chat) -> None:
    convs = chat["conversations"]
    convs["ids"].sort(key=lambda cid: _activity_time(convs["entities"][cid]), reverse=True)


def _sort_messages(chat: Chat, conversation_id: str) -> None:
    entities = chat["messages"]["entities"][conversation_id]

    def order(key: str) -> tuple[int, int]:
        seq = entities[key].get("seq")
        # Confirmed messages by seq; optimistic ones (no seq) after them, in send order.
        return (0, seq) if seq else (1, entities[key].get("_order", 0))

    chat["messages"]["idsByConversation"][conversation_id].sort(key=order)


def _ensure_messages(chat: Chat, conversation_id: str) -> None:
    msgs = chat["messages"]
    msgs["entities"].setdefault(conversation_id, {})
    msgs["idsByConversation"].setdefault(conversation_id, [])
    msgs["windowSize"].setdefault(conversation_id, WINDOW_SIZE)


def messages_loaded(chat: Chat, conversation_id: str) -> bool:
    return conversation_id in chat["messages"]["idsByConversation"]


def _trim_window(chat: Chat, conversation_id: str) -> None:
    """Drop the oldest messages beyond the window; they can be paged in again."""
    msgs = chat["messages"]
    ids = msgs["idsByConversation"][conversation_id]
    excess = len(ids) - msgs["windowSize"][conversation_id]
    if excess > 0:
        for key in ids[:excess]:
            msgs["entities"][conversation_id].pop(key, None)
        del ids[:excess]
        msgs["hasMore"][conversation_id] = True


def set_current_conversation_id(chat: Chat, conversation_id: str | None) -> None:
    chat["conversations"]["currentConversationId"] = conversation_id or None


def optimistic_add_message(chat: Chat, conversation_id: str, message: dict[str, Any]) -> None:
    """Show a message before the server confirms it (`message["tempId"]` is its key)."""
    _ensure_messages(chat, conversation_id)
    entities = chat["messages"]["entities"][conversation_id]
    message = {**message, "status": "sending", "_order": len(entities)}
    entities[message["tempId"]] = message
    ids = chat["messages"]["idsByConversation"][conversation_id]
    if message["tempId"] not in ids:
        ids.append(message["tempId"])
    convo = chat["conversations"]["entities"].get(conversation_id)
    if convo is not None:
        convo["lastMessage"] = message
        convo["updatedAt"] = message["createdAt"]
        _sort_conversations(chat)


def receive_message(
    chat: Chat, conversation_id: str, message: dict[str, Any], temp_id: str | None = None
) -> None:
    """A server-confirmed message (API reply or chat:new_message); replaces the optimistic copy."""
    msgs = chat["messages"]
    if messages_loaded(chat, conversation_id):
        entities = msgs["entities"][conversation_id]
        ids = msgs["idsByConversation"][conversation_id]
        if temp_id and temp_id in entities:
            del entities[temp_id]
            ids.remove(temp_id)
        known = entities.get(message["_id"])
        if known is not None:  # the API reply and the bus event both deliver it
            entities[message["_id"]] = _merge_message(known, message)
        else:
            entities[message["_id"]] = message
            ids.append(message["_id"])
            _sort_messages(chat, conversation_id)
            _trim_window(chat, conversation_id)
    convo = chat["conversations"]["entities"].get(conversation_id)
    if convo is not None:
        last = convo.get("lastMessage") or {}
        if not last.get("seq") or (message.get("seq") or 0) >= last.get("seq", 0):
            convo["lastMessage"] = message
            convo["updatedAt"] = message.get("updatedAt") or message.get("createdAt")
        _sort_conversations(chat)


def _merge_message(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    merged = {**old, **new}
    # Delivery status only moves forward (events can arrive out of order).
    if STATUS_RANK.get(old.get("status"), -1) > STATUS_RANK.get(new.get("status"), -1):
        merged["status"] = old["status"]
    return merged


def update_message(chat: Chat, conversation_id: str, message: dict[str, Any]) -> None:
    """An edit, delete, reaction or status change (chat:message_updated)."""
    msgs = chat["messages"]
    entities = msgs["entities"].get(conversation_id)
    if entities is not None and message["_id"] in entities:
        entities[message["_id"]] = _merge_message(entities[message["_id"]], message)
        _propagate_status(entities, message)
    if entities is not None:
        _refresh_quotes(entities, message)
    convo = chat["conversations"]["entities"].get(conversation_id)
    if convo is not None and (convo.get("lastMessage") or {}).get("_id") == message["_id"]:
        convo["lastMessage"] = _merge_message(convo["lastMessage"], message)


def _refresh_quotes(entities: dict[str, dict[str, Any]], message: dict[str, Any]) -> None:
    """Replies quote a snippet of their original: keep it in step with edits, and drop the
    text of a deleted original (it must not stay readable through a quote)."""
    for key, other in entities.items():
        quote = other.get("replyTo")
        if quote and quote.get("_id") == message["_id"]:
            deleted = bool(message.get("isDeleted"))
            entities[key] = {
                **other,
                "replyTo": {**quote, "content": "" if deleted else message.get("content", ""), "isDeleted": deleted},
            }


def _propagate_status(entities: dict[str, dict[str, Any]], message: dict[str, Any]) -> None:
    """'read'/'delivered' up to seq s implies the same for the sender's earlier messages:
    read positions only move forward, for every member, so the status is monotonic in seq."""
    rank = STATUS_RANK.get(message.get("status"), -1)
    sender = (message.get("sender") or {}).get("_id")
    seq = message.get("seq") or 0
    if rank < STATUS_RANK["delivered"] or not sender:
        return
    for key, other in entities.items():
        if (
            (other.get("sender") or {}).get("_id") == sender
            and (other.get("seq") or 0) < seq
            and STATUS_RANK.get(other.get("status"), -1) < rank
            and other.get("status") != "failed"
        ):
            entities[key] = {**other, "status": message["status"]}


def mark_message_failed(chat: Chat, conversation_id: str, temp_id: str, error: str) -> None:
    entity = chat["messages"]["entities"].get(conversation_id, {}).get(temp_id)
    if entity is not None:
        chat["messages"]["entities"][conversation_id][temp_id] = {**entity, "status": "failed", "error": error}


def mark_message_sending(chat: Chat, conversation_id: str, temp_id: str) -> dict[str, Any] | None:
    entity = chat["messages"]["entities"].get(conversation_id, {}).get(temp_id)
    if entity is None:
        return None
    entity = {**entity, "status": "sending", "error": None}
    chat["messages"]["entities"][conversation_id][temp_id] = entity
    return entity


def set_typing_user(
    chat: Chat, conversation_id: str, user_id: str, user_name: str, is_typing: bool, now: float
) -> None:
    typing = chat["typingUsers"].setdefault(conversation_id, {})
    if is_typing:
        typing[user_id] = {"userName": user_name, "expiresAt": now + TYPING_TTL_SECONDS}
    else:
        typing.pop(user_id, None)
        if not typing:
            chat["typingUsers"].pop(conversation_id, None)


def expire_typing(chat: Chat, now: float) -> bool:
    """Forget typing users whose last signal is older than TYPING_TTL_SECONDS."""
    changed = False
    for cid in list(chat["typingUsers"]):
        users = chat["typingUsers"][cid]
        for uid in [u for u, t in users.items() if t["expiresAt"] <= now]:
            del users[uid]
            changed = True
        if not users:
            del chat["typingUsers"][cid]
    return changed


def next_typing_expiry(chat: Chat) -> float | None:
    times = [t["expiresAt"] for users in chat["typingUsers"].values() for t in users.values()]
    return min(times) if times else None


def clear_conversation_unread_count(chat: Chat, conversation_id: str) -> None:
    convo = chat["conversations"]["entities"].get(conversation_id)
    if convo is not None:
        convo["unreadCount"] = 0


def set_unread_count(chat: Chat, conversation_id: str, unread_count: int) -> None:
    convo = chat["conversations"]["entities"].get(conversation_id)
    if convo is not None:
        convo["unreadCount"] = max(0, int(unread_count))


def add_or_update_conversation(chat: Chat, conversation: dict[str, Any]) -> None:
    convs = chat["conversations"]
    cid = conversation["_id"]
    convs["entities"][cid] = {**convs["entities"].get(cid, {}), **conversation}
    if cid not in convs["ids"]:
        convs["ids"].insert(0, cid)
    _sort_conversations(chat)


def remove_conversation(chat: Chat, conversation_id: str) -> None:
    convs = chat["conversations"]
    convs["entities"].pop(conversation_id, None)
    if conversation_id in convs["ids"]:
        convs["ids"].remove(conversation_id)
    for table in chat["messages"].values():
        table.pop(conversation_id, None)
    chat["typingUsers"].pop(conversation_id, None)
    if convs["currentConversationId"] == conversation_id:
        convs["currentConversationId"] = None


def conversations_fetched(chat: Chat, conversations: list[dict[str, Any]], has_more: bool, page: int) -> None:
    """fetchConversations.fulfilled: page 1 replaces the list, later pages extend it."""
    convs = chat["conversations"]
    if page <= 1:
        convs["ids"], convs["entities"] = [], {}
    for convo in conversations:
        convs["entities"][convo["_id"]] = convo
        if convo["_id"] not in convs["ids"]:
            convs["ids"].append(convo["_id"])
    convs.update(isLoading=False, error=None, hasMore=has_more, page=page)
    _sort_conversations(chat)


def messages_fetched(
    chat: Chat, conversation_id: str, newest_first: list[dict[str, Any]], has_more: bool, older: bool
) -> None:
    """fetchMessages.fulfilled. `older`: a page before the oldest loaded message (prepend and
    widen the window); otherwise the latest page, merged into what is cached unless there is
    a gap between them (then the cache restarts from this page)."""
    _ensure_messages(chat, conversation_id)
    msgs = chat["messages"]
    entities = msgs["entities"][conversation_id]
    ids = msgs["idsByConversation"][conversation_id]
    msgs["isLoading"][conversation_id] = False
    msgs["error"][conversation_id] = None
    if older:
        msgs["windowSize"][conversation_id] = max(msgs["windowSize"][conversation_id], len(ids) + len(newest_first))
        msgs["hasMore"][conversation_id] = has_more
    else:
        cached_seqs = [entities[k]["seq"] for k in ids if entities[k].get("seq")]
        page_seqs = [m["seq"] for m in newest_first]
        if not cached_seqs or not page_seqs or min(page_seqs) > max(cached_seqs) + 1:
            pending = [k for k in ids if not entities[k].get("seq")]  # unsent drafts survive
            entities_keep = {k: entities[k] for k in pending}
            entities.clear()
            entities.update(entities_keep)
            ids[:] = pending
            msgs["hasMore"][conversation_id] = has_more
            msgs["windowSize"][conversation_id] = WINDOW_SIZE
    for message in newest_first:
        known = entities.get(message["_id"])
        entities[message["_id"]] = _merge_message(known, message) if known else message
        if known is None:
            ids.append(message["_id"])
    _sort_messages(chat, conversation_id)
    if not older:
        _trim_window(chat, conversation_id)


def oldest_message_id(chat: Chat, conversation_id: str) -> str | None:
    entities = chat["messages"]["entities"].get(conversation_id, {})
    for key in chat["messages"]["idsByConversation"].get(conversation_id, []):
        if entities[key].get("_id"):
            return entities[key]["_id"]
    return None


def newest_message_id(chat: Chat, conversation_id: str) -> str | None:
    entities = chat["messages"]["entities"].get(conversation_id, {})
    for key in reversed(chat["messages"]["idsByConversation"].get(conversation_id, [])):
        if entities[key].get("_id"):
            return entities[key]["_id"]
    convo = chat["conversations"]["entities"].get(conversation_id) or {}
    return (convo.get("lastMessage") or {}).get("_id")


def total_unread(chat: Chat) -> int:
    return sum(int(c.get("unreadCount") or 0) for c in chat["conversations"]["entities"].values())


# ----------------------------------------------------------------------------------------
# Display-ready views (what the components render; all strings/bools, no nesting to decode)
# ----------------------------------------------------------------------------------------


@dataclasses.dataclass
class ReactionView:
    emoji: str = ""
    count: int = 0
    mine: bool = False
    names: str = ""


@dataclasses.dataclass
class AttachmentView:
    url: str = ""
    name: str = ""
    is_image: bool = False
    is_link: bool = False  # only http(s) URLs become links/images


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
    reply_name: str = ""
    reply_content: str = ""
    reactions: list[ReactionView] = dataclasses.field(default_factory=list)
    attachments: list[AttachmentView] = dataclasses.field(default_factory=list)
    can_edit: bool = False
    can_delete: bool = False


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
    return ts if ts.tzinfo else ts.replace(tzinfo=timezone.utc)


def _zone(tz_name: str) -> timezone | ZoneInfo:
    """The reader's zone; anything that is not a known IANA name falls back to UTC."""
    try:
        return ZoneInfo(tz_name) if tz_name and len(tz_name) <= 64 else timezone.utc
    except Exception:  # ZoneInfoNotFoundError, ValueError, IsADirectoryError…: all mean "unknown"
        return timezone.utc


def clock_label(raw: str | None, tz: timezone | ZoneInfo) -> str:
    ts = _parse_ts(raw)
    return ts.astimezone(tz).strftime("%H:%M") if ts else ""


def list_time_label(raw: str | None, tz: timezone | ZoneInfo, now: datetime) -> str:
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


def day_label(raw: str | None, tz: timezone | ZoneInfo, now: datetime) -> str:
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


def _local_day(raw: str | None, tz: timezone | ZoneInfo):
    ts = _parse_ts(raw)
    return ts.astimezone(tz).date() if ts else None


def _snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def is_image_attachment(attachment: dict[str, Any]) -> bool:
    kind = str(attachment.get("type") or "")
    url = str(attachment.get("url") or "").split("?", 1)[0].lower()
    return kind.startswith("image/") or url.endswith(IMAGE_EXTENSIONS)


def is_web_url(url: Any) -> bool:
    return isinstance(url, str) and url.lower().startswith(("http://", "https://"))


def attachment_view(attachment: dict[str, Any]) -> AttachmentView:
    url = str(attachment.get("url") or "")
    name = attachment.get("name") or url.rstrip("/").rsplit("/", 1)[-1] or url
    web = is_web_url(url)
    return AttachmentView(url=url, name=str(name), is_image=web and is_image_attachment(attachment), is_link=web)


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
        return conversation["avatar"]
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
        body = _snippet(message["content"])
    elif message.get("attachments"):
        body = "📷 Photo" if all(is_image_attachment(a) for a in message["attachments"]) else "📎 Attachment"
    else:
        body = ""
    sender = message.get("sender") or {}
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


def typing_names(chat: Chat, conversation_id: str) -> list[str]:
    users = chat["typingUsers"].get(conversation_id, {})
    return sorted(t["userName"] for t in users.values())


def build_conversation_items(chat: Chat, me: str, tz: timezone | ZoneInfo, now: datetime) -> list[ConversationItemView]:
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
                time_label=list_time_label(_activity_time(convo), tz, now),
                unread=unread,
                unread_label="99+" if unread > 99 else str(unread),
            )
        )
    return items


def build_message_views(
    chat: Chat, conversation_id: str, me: str, tz: timezone | ZoneInfo, now: datetime, edit_window_seconds: int
) -> list[MessageView]:
    convo = chat["conversations"]["entities"].get(conversation_id) or {}
    is_group = convo.get("type") != "direct"
    i_am_admin = me in (convo.get("admins") or [])
    names = {p["_id"]: display_name(p) for p in convo.get("participants") or []}
    entities = chat["messages"]["entities"].get(conversation_id, {})
    keys = chat["messages"]["idsByConversation"].get(conversation_id, [])
    ordered = [entities[k] for k in keys]
    views: list[MessageView] = []
    for index, msg in enumerate(ordered):
        sender = msg.get("sender") or {}
        sender_id = sender.get("_id")
        prev = ordered[index - 1] if index else None
        nxt = ordered[index + 1] if index + 1 < len(ordered) else None
        day = _local_day(msg.get("createdAt"), tz)
        new_day = prev is None or _local_day(prev.get("createdAt"), tz) != day

        def same_run(a: dict[str, Any] | None, b: dict[str, Any]) -> bool:
            if a is None or (a.get("sender") or {}).get("_id") != (b.get("sender") or {}).get("_id"):
                return False
            ta, tb = _parse_ts(a.get("createdAt")), _parse_ts(b.get("createdAt"))
            return bool(ta and tb and abs((tb - ta).total_seconds()) < 300 and ta.astimezone(tz).date() == tb.astimezone(tz).date())

        first = new_day or not same_run(prev, msg)
        last = nxt is None or not same_run(msg, nxt)
        own = sender_id == me
        created = _parse_ts(msg.get("createdAt"))
        reply = msg.get("replyTo") or None
        counts: dict[str, list[str]] = {}
        for reaction in msg.get("reactions") or []:
            counts.setdefault(reaction["emoji"], []).append(reaction["user"])
        deleted = bool(msg.get("isDeleted"))
        confirmed = bool(msg.get("_id"))
        views.append(
            MessageView(
                key=_message_key(msg),
                message_id=msg.get("_id") or "",
                is_own=own,
                show_sender=is_group and not own and first,
                first_in_group=first,
                last_in_group=last,
                sender_name=display_name(sender) if sender else "Deleted user",
                sender_avatar=sender.get("avatar") or "",
                content=msg.get("content") or "",
                is_deleted=deleted,
                is_edited=bool(msg.get("isEdited")) and not deleted,
                time_label=clock_label(msg.get("createdAt"), tz),
                full_time=created.astimezone(tz).strftime("%A %d %B %Y, %H:%M") if created else "",
                status=(msg.get("status") or "sent") if own else "",
                error=msg.get("error") or "",
                day_label=day_label(msg.get("createdAt"), tz, now) if new_day else "",
                has_reply=reply is not None,
                reply_name=display_name((reply or {}).get("sender")) if reply else "",
                reply_content=(
                    "Deleted message" if (reply or {}).get("isDeleted") else _snippet((reply or {}).get("content") or "📎 Attachment", 120)
                ) if reply else "",
                reactions=[
                    ReactionView(
                        emoji=emoji,
                        count=len(users),
                        mine=me in users,
                        names=", ".join("You" if u == me else names.get(u, "Someone") for u in users),
                    )
                    for emoji, users in counts.items()
                ] if not deleted else [],
                attachments=[attachment_view(a) for a in msg.get("attachments") or []] if not deleted else [],
                can_edit=own and confirmed and not deleted and (
                    created is None or (now - created).total_seconds() < edit_window_seconds
                ),
                can_delete=confirmed and not deleted and (own or (is_group and i_am_admin)),
            )
        )
    return views


def split_recent(views: list[MessageView]) -> tuple[list[MessageView], list[MessageView]]:
    """(older, recent): the split point only moves in steps of RECENT_CHUNK messages, so
    appending a message changes `recent` alone most of the time."""
    split = max(0, (len(views) - RECENT_CHUNK) // RECENT_CHUNK * RECENT_CHUNK)
    return views[:split], views[split:]


# ----------------------------------------------------------------------------------------
# Domain calls (run in worker threads: the domain is synchronous SQL)
# ----------------------------------------------------------------------------------------


def _domain():
    """The chat domain modules, imported late (they are written beside this module)."""
    from utool_chat.domain import conversations, friends, messages, reactions, typing

    return conversations, friends, messages, reactions, typing


async def _call(fn_name: str, *args: Any, **kwargs: Any) -> Any:
    module_name, fn = fn_name.split(".")
    conversations, friends, messages, reactions, typing = _domain()
    module = {
        "conversations": conversations, "friends": friends, "messages": messages, "reactions": reactions,
        "typing": typing,
    }[module_name]
    return await asyncio.to_thread(getattr(module, fn), *args, **kwargs)


async def _tab_is_connected(client_token: str) -> bool:
    """Whether the tab behind `client_token` still has a socket. Background tasks are not
    cancelled when a tab closes, so the listener asks Reflex's token manager."""
    try:
        from reflex_base.registry import RegistrationContext

        namespace = RegistrationContext.get().app.event_namespace
        if namespace is None:
            return True
        return await namespace._token_manager.is_token_connected(client_token)
    except Exception:  # an internal API moved: keep listening rather than go deaf
        return True


def _edit_window_seconds() -> int:
    from utool_chat import config

    return config.settings.edit_window_seconds


def _error_text(err: DomainError) -> str:
    return err.message[:1].upper() + err.message[1:]


# ----------------------------------------------------------------------------------------
# The Reflex state
# ----------------------------------------------------------------------------------------


class ChatState(rx.State):
    """The chat page of one tab. Server data stays in `_chat`; views are display-ready."""

    # --- published views -------------------------------------------------------------
    conversation_items: list[ConversationItemView] = []
    conversations_loading: bool = False
    conversations_loaded: bool = False
    conversations_error: str = ""
    conversations_has_more: bool = False

    current_id: str = ""
    current_name: str = ""
    current_avatar: str = ""
    current_subtitle: str = ""
    current_is_group: bool = False
    current_error: str = ""
    current_members: list[PersonView] = []
    current_is_admin: bool = False

    older_messages: list[MessageView] = []
    recent_messages: list[MessageView] = []
    messages_loading: bool = False
    loading_older: bool = False
    messages_error: str = ""
    has_older: bool = False
    typing_label: str = ""
    total_unread: int = 0

    # --- composer --------------------------------------------------------------------
    reply_to_id: str = ""
    reply_to_name: str = ""
    reply_to_snippet: str = ""
    editing_id: str = ""
    editing_snippet: str = ""
    pending_attachments: list[AttachmentView] = []
    attach_open: bool = False
    sending: bool = False
    confirm_delete_id: str = ""

    # --- group and conversation dialogs ------------------------------------------------
    picker_mode: str = ""  # "" (closed) | "new_chat" | "add_members": the people picker
    picker_people: list[PersonView] = []  # who may be picked (friends, minus current members)
    picker_query: str = ""
    picker_selected: list[str] = []
    picker_loading: bool = False
    picker_busy: bool = False
    group_name: str = ""
    members_open: bool = False
    rename_open: bool = False
    confirm_leave_open: bool = False
    member_busy_id: str = ""

    # --- backend only ----------------------------------------------------------------
    _chat: dict[str, Any] = {}
    _tz: str = ""
    _listening: bool = False
    _on_page: bool = False
    _typing_sent_at: float = 0.0
    _typing_conversation: str = ""

    # ----- computed ------------------------------------------------------------------

    @rx.var
    def has_current(self) -> bool:
        return self.current_id != ""

    @rx.var
    def page_title(self) -> str:
        return f"({self.total_unread}) uTool Chat" if self.total_unread else "uTool Chat"

    @rx.var
    def has_messages(self) -> bool:
        return bool(self.older_messages) or bool(self.recent_messages)

    @rx.var
    def total_unread_label(self) -> str:
        return "99+" if self.total_unread > 99 else str(self.total_unread)

    @rx.var
    def picker_matches(self) -> list[PersonView]:
        return filter_people(self.picker_people, self.picker_query)

    @rx.var
    def picker_chosen(self) -> list[PersonView]:
        """The picked people in pick order (the chips above the list)."""
        by_id = {p.id: p for p in self.picker_people}
        return [by_id[pid] for pid in self.picker_selected if pid in by_id]

    @rx.var
    def picker_is_group(self) -> bool:
        """A new chat with two or more people is a group (it needs a name)."""
        return self.picker_mode == "new_chat" and len(self.picker_selected) >= 2

    @rx.var
    def picker_can_submit(self) -> bool:
        if self.picker_busy or not self.picker_selected:
            return False
        if self.picker_mode == "new_chat" and len(self.picker_selected) >= 2:
            return bool(self.group_name.strip())
        return True

    @rx.var
    def picker_hint(self) -> str:
        count = len(self.picker_selected)
        if self.picker_mode == "add_members":
            return f"{count} selected" if count else "Pick one or more friends"
        if count == 0:
            return "Pick one friend, or several for a group"
        return "Private chat" if count == 1 else f"Group of {count + 1}, with you"

    @rx.var
    def picker_submit_label(self) -> str:
        count = len(self.picker_selected)
        if self.picker_mode == "add_members":
            return f"Add {count} member" + ("" if count == 1 else "s") if count else "Add members"
        return "Create group" if count >= 2 else "Open chat"

    # ----- helpers -------------------------------------------------------------------

    def _store(self) -> Chat:
        if not self._chat:
            self._chat = initial_chat()
        return self._chat

    async def _me(self) -> str:
        return (await self.get_state(AuthState)).user_id

    def _publish(self, me: str) -> None:
        """Recompute the display views from the slice; assign only what changed."""
        chat = self._store()
        tz, now = _zone(self._tz), datetime.now(timezone.utc)
        cid = chat["conversations"]["currentConversationId"] or ""
        self._assign("conversation_items", build_conversation_items(chat, me, tz, now))
        self._assign("total_unread", total_unread(chat))
        self._assign("conversations_has_more", bool(chat["conversations"]["hasMore"]))
        self._assign("current_id", cid)
        convo = chat["conversations"]["entities"].get(cid) if cid else None
        if convo:
            self._assign("current_name", conversation_title(convo, me))
            self._assign("current_avatar", conversation_avatar(convo, me))
            self._assign("current_subtitle", conversation_subtitle(convo, me))
            self._assign("current_is_group", convo.get("type") != "direct")
            self._assign("current_members", build_member_views(convo, me))
            self._assign("current_is_admin", me in (convo.get("admins") or []))
        views = build_message_views(chat, cid, me, tz, now, _edit_window_seconds()) if cid else []
        older, recent = split_recent(views)
        self._assign("older_messages", older)
        self._assign("recent_messages", recent)
        msgs = chat["messages"]
        self._assign("has_older", bool(msgs["hasMore"].get(cid)))
        self._assign("messages_error", msgs["error"].get(cid) or "")
        self._assign("typing_label", typing_text(typing_names(chat, cid), bool(convo and convo.get("type") != "direct")) if cid else "")

    def _assign(self, name: str, value: Any) -> None:
        if getattr(self, name) != value:
            setattr(self, name, value)

    def _close_dialogs(self) -> None:
        self.members_open = self.rename_open = self.confirm_leave_open = False
        self.member_busy_id = ""

    def _reset_composer(self) -> None:
        self.reply_to_id = self.reply_to_name = self.reply_to_snippet = ""
        self.editing_id = self.editing_snippet = ""
        self.pending_attachments = []
        self.attach_open = False

    # ----- page lifecycle ------------------------------------------------------------

    @rx.event
    async def on_load(self):
        """on_load of /chat and /chat/[conversation_id] (after AuthState.check_login)."""
        me = await self._me()
        if not me:
            return
        chat = self._store()
        with_user = self.router.url.query_parameters.get("with", "")
        if with_user:
            async for update in self._open_direct(me, with_user):
                yield update
            return
        path = self.router.url.path.rstrip("/")
        target = path.split("/chat/", 1)[1] if path.startswith("/chat/") else ""
        if target != (chat["conversations"]["currentConversationId"] or ""):
            self._reset_composer()
            self._close_dialogs()
        set_current_conversation_id(chat, target or None)
        self.current_error = ""
        if not self.conversations_loaded or not self._listening:
            self.conversations_loading = not self.conversations_loaded
            self._publish(me)
            yield
            async for update in self._load_conversations(me, page=1):
                yield update
        if target:
            async for update in self._open_conversation(me, target):
                yield update
        else:
            self._publish(me)

    @rx.event
    def set_timezone(self, tz_name: Any):
        """The browser's IANA time zone (asked once on mount), for local times."""
        if isinstance(tz_name, str) and tz_name != self._tz and _zone(tz_name) is not timezone.utc:
            self._tz = tz_name
            return ChatState.refresh_views

    @rx.event
    async def refresh_views(self):
        me = await self._me()
        if me:
            self._publish(me)

    @rx.event
    async def refresh_unread_total(self):
        """The top bar's unread badge on pages without the chat listener (e.g. /friends)."""
        me = await self._me()
        if not me:
            return
        try:
            items, _meta = await _call("conversations.list_conversations", me, page=1, limit=100)
        except DomainError:
            return  # the badge keeps its last value; the chat page will correct it
        self._assign("total_unread", sum(int(c.get("unreadCount") or 0) for c in items))

    @rx.event
    def leave_page(self):
        """on_unmount: the listener stops at its next wake-up; typing ends."""
        self._on_page = False
        return ChatState.stop_typing

    # ----- thunks ----------------------------------------------------------------------

    async def _load_conversations(self, me: str, page: int):
        chat = self._store()
        chat["conversations"]["isLoading"] = True
        try:
            items, meta = await _call("conversations.list_conversations", me, page=page, limit=CONVERSATION_PAGE_SIZE)
        except DomainError as err:
            chat["conversations"].update(isLoading=False, error=err.message)
            self.conversations_loading = False
            self.conversations_error = _error_text(err)
            yield rx.toast.error(f"Could not load conversations: {err.message}")
            return
        conversations_fetched(chat, items, bool((meta or {}).get("hasMore")), page)
        self.conversations_loading = False
        self.conversations_loaded = True
        self.conversations_error = ""
        self._publish(me)

    @rx.event
    async def fetch_conversations(self):
        """Reload the conversation list (the error state's "Try again")."""
        me = await self._me()
        if not me:
            return
        self.conversations_loading = True
        yield
        async for update in self._load_conversations(me, page=1):
            yield update

    @rx.event
    async def fetch_more_conversations(self):
        me = await self._me()
        chat = self._store()
        if not me or not chat["conversations"]["hasMore"]:
            return
        async for update in self._load_conversations(me, page=chat["conversations"]["page"] + 1):
            yield update

    async def _open_conversation(self, me: str, cid: str):
        """Show a conversation: fetch it if unknown, its latest messages, then mark read."""
        chat = self._store()
        if cid not in chat["conversations"]["entities"]:
            try:
                convo = await _call("conversations.get_conversation", me, cid)
            except DomainError as err:
                set_current_conversation_id(chat, None)
                self.current_error = "This conversation does not exist or you are not a member." if isinstance(err, NotFound) else _error_text(err)
                self._publish(me)
                return
            add_or_update_conversation(chat, convo)
        first_time = not messages_loaded(chat, cid)
        self.messages_loading = first_time
        self._publish(me)
        yield
        async for update in self._fetch_messages(me, cid, older=False):
            yield update
        self.messages_loading = False
        self._publish(me)
        yield ChatState.scroll_to_bottom
        await self._mark_read(me, cid)

    async def _fetch_messages(self, me: str, cid: str, older: bool):
        chat = self._store()
        before = oldest_message_id(chat, cid) if older else None
        chat["messages"]["isLoading"][cid] = True
        try:
            page, meta = await _call(
                "messages.list_messages", me, cid, limit=PAGE_SIZE, before_message_id=before
            )
        except DomainError as err:
            chat["messages"]["isLoading"][cid] = False
            chat["messages"]["error"][cid] = _error_text(err)
            yield rx.toast.error(f"Could not load messages: {err.message}")
            return
        messages_fetched(chat, cid, page, bool((meta or {}).get("hasMore")), older=older)
        self._publish(me)

    @rx.event
    async def fetch_messages(self):
        """Load the page of messages before the oldest one shown (scrolling up)."""
        me = await self._me()
        cid = self.current_id
        chat = self._store()
        if not me or not cid or self.loading_older or not chat["messages"]["hasMore"].get(cid):
            return
        self.loading_older = True
        yield
        async for update in self._fetch_messages(me, cid, older=True):
            yield update
        self.loading_older = False
        yield rx.call_script("window.utoolChat && window.utoolChat.restoreAfterPrepend()")

    @rx.event
    async def retry_messages(self):
        me = await self._me()
        if me and self.current_id:
            async for update in self._open_conversation(me, self.current_id):
                yield update

    async def _open_direct(self, me: str, other_user_id: str):
        """createOrGetConversation for `/chat?with=<userId>` (the friends page's Message)."""
        async for update in self._create_or_get(me, [other_user_id], "direct", None):
            yield update

    async def _create_or_get(self, me: str, participant_ids: list[str], kind: str, name: str | None):
        try:
            convo, _created = await _call(
                "conversations.create_conversation", me, participant_ids, type=kind, name=name
            )
        except DomainError as err:
            yield rx.toast.error(_error_text(err))
            yield rx.redirect("/chat", replace=True)
            return
        add_or_update_conversation(self._store(), convo)
        yield rx.redirect(f"/chat/{convo['_id']}", replace=True)

    @rx.event
    async def create_or_get_conversation(self, participant_ids: list[str], kind: str = "direct", name: str = ""):
        me = await self._me()
        if me:
            async for update in self._create_or_get(me, participant_ids, kind, name or None):
                yield update

    async def _mark_read(self, me: str, cid: str) -> None:
        chat = self._store()
        last_id = newest_message_id(chat, cid)
        convo = chat["conversations"]["entities"].get(cid) or {}
        if not last_id or not convo.get("unreadCount"):
            return
        clear_conversation_unread_count(chat, cid)
        self._publish(me)
        try:
            await _call("messages.mark_read", me, cid, last_id)
        except DomainError:
            pass  # the count comes back with the next chat:unread_count_update

    @rx.event
    async def mark_current_read(self, visible: Any = True):
        """The tab shows the open conversation (a visibility check or a focus): mark it read."""
        me = await self._me()
        if me and self.current_id and visible is True and self._on_page:
            await self._mark_read(me, self.current_id)

    # ----- sending ----------------------------------------------------------------------

    @rx.event
    async def post_new_message(self, form: dict[str, Any]):
        """postNewMessage, from the composer form: a new message or reply (or, in edit
        mode, the edited text)."""
        me = await self._me()
        cid = self.current_id
        content = str(form.get("content") or "")
        if not me or not cid:
            return
        if self.editing_id:
            async for update in self._save_edit(me, content):
                yield update
            return
        if not content.strip() and not self.pending_attachments:
            return  # blank: nothing to send
        attachments = [attachment_from_url(a.url) for a in self.pending_attachments]
        reply_to = self.reply_to_id or None
        self._reset_composer()
        yield rx.call_script("window.utoolChat && window.utoolChat.clearInput()")
        async for update in self._post_new_message(me, cid, content, attachments, reply_to):
            yield update
        yield ChatState.stop_typing

    async def _post_new_message(
        self, me: str, cid: str, content: str, attachments: list[dict[str, Any]], reply_to: str | None,
        temp_id: str | None = None,
    ):
        """postNewMessage: optimistic copy first, then the domain, then the confirmed copy."""
        chat = self._store()
        auth = await self.get_state(AuthState)
        if temp_id is None:
            temp_id = f"tmp-{uuid.uuid4().hex}"
            replied = chat["messages"]["entities"].get(cid, {}).get(reply_to or "") if reply_to else None
            optimistic_add_message(chat, cid, {
                "tempId": temp_id,
                "conversationId": cid,
                "sender": {"_id": me, "username": auth.username, "displayName": auth.display_name, "avatar": auth.avatar or None},
                "content": content,
                "contentType": "text",
                "attachments": attachments,
                "replyTo": {
                    "_id": replied["_id"], "sender": replied.get("sender"),
                    "content": replied.get("content", ""), "isDeleted": replied.get("isDeleted", False),
                } if replied else None,
                "reactions": [],
                "readBy": [],
                "createdAt": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
                "_draft": {"content": content, "attachments": attachments, "replyTo": reply_to},
            })
        self._publish(me)
        yield ChatState.scroll_to_bottom
        try:
            message, _created = await _call(
                "messages.send_message", me, cid, content,
                content_type="text", attachments=attachments or None, reply_to=reply_to, temp_id=temp_id,
            )
        except DomainError as err:
            mark_message_failed(chat, cid, temp_id, _error_text(err))
            self._publish(me)
            yield rx.toast.error(f"Message not sent: {err.message}")
            return
        receive_message(chat, cid, message, temp_id)
        self._publish(me)

    @rx.event
    async def retry_message(self, temp_id: str):
        """Send a failed message again with the same tempId (the domain never duplicates)."""
        me = await self._me()
        cid = self.current_id
        entity = mark_message_sending(self._store(), cid, temp_id) if me and cid else None
        if entity is None:
            return
        draft = entity.get("_draft") or {}
        async for update in self._post_new_message(
            me, cid, draft.get("content", ""), draft.get("attachments") or [], draft.get("replyTo"), temp_id=temp_id
        ):
            yield update

    @rx.event
    async def discard_failed(self, temp_id: str):
        me = await self._me()
        chat = self._store()
        cid = self.current_id
        if chat["messages"]["entities"].get(cid, {}).pop(temp_id, None) is not None:
            chat["messages"]["idsByConversation"][cid].remove(temp_id)
            self._publish(me)

    # ----- message actions --------------------------------------------------------------

    def _message(self, message_id: str) -> dict[str, Any] | None:
        return self._store()["messages"]["entities"].get(self.current_id, {}).get(message_id)

    @rx.event
    def start_reply(self, message_id: str):
        msg = self._message(message_id)
        if not msg or not msg.get("_id"):
            return
        self.editing_id = self.editing_snippet = ""
        self.reply_to_id = msg["_id"]
        self.reply_to_name = display_name(msg.get("sender"))
        self.reply_to_snippet = _snippet(msg.get("content") or "📎 Attachment", 120)
        return rx.call_script("window.utoolChat && window.utoolChat.focusInput()")

    @rx.event
    def cancel_reply(self):
        self.reply_to_id = self.reply_to_name = self.reply_to_snippet = ""

    @rx.event
    def start_edit(self, message_id: str):
        import json

        msg = self._message(message_id)
        if not msg or not msg.get("_id") or msg.get("isDeleted"):
            return
        self.reply_to_id = self.reply_to_name = self.reply_to_snippet = ""
        self.editing_id = msg["_id"]
        self.editing_snippet = _snippet(msg.get("content") or "", 120)
        # json.dumps makes the user's text a JS string literal (never code).
        return rx.call_script(f"window.utoolChat && window.utoolChat.setInput({json.dumps(msg.get('content') or '')})")

    @rx.event
    def cancel_edit(self):
        self.editing_id = self.editing_snippet = ""
        return rx.call_script("window.utoolChat && window.utoolChat.clearInput()")

    async def _save_edit(self, me: str, content: str):
        message_id = self.editing_id
        msg = self._message(message_id)
        if not content.strip():
            yield rx.toast.error("A message cannot be empty. Delete it instead.")
            return
        if msg and content == msg.get("content"):
            yield ChatState.cancel_edit
            return
        self.sending = True
        yield
        try:
            updated = await _call("messages.edit_message", me, message_id, content)
        except DomainError as err:
            self.sending = False
            yield rx.toast.error(f"Could not edit: {err.message}")
            return
        self.sending = False
        update_message(self._store(), updated["conversationId"], updated)
        self.editing_id = self.editing_snippet = ""
        self._publish(me)
        yield rx.call_script("window.utoolChat && window.utoolChat.clearInput()")

    @rx.event
    def ask_delete(self, message_id: str):
        self.confirm_delete_id = message_id

    @rx.event
    def cancel_delete(self):
        self.confirm_delete_id = ""

    @rx.event
    async def delete_message(self):
        """Soft-delete the message the confirmation dialog asked about."""
        me = await self._me()
        message_id, self.confirm_delete_id = self.confirm_delete_id, ""
        if not me or not message_id:
            return
        try:
            updated = await _call("messages.delete_message", me, message_id)
        except DomainError as err:
            yield rx.toast.error(f"Could not delete: {err.message}")
            return
        update_message(self._store(), updated["conversationId"], updated)
        if self.reply_to_id == message_id:
            self.cancel_reply()
        self._publish(me)

    @rx.event
    async def toggle_reaction(self, message_id: str, emoji: str):
        me = await self._me()
        msg = self._message(message_id)
        if not me or not msg:
            return
        mine = any(r.get("user") == me and r.get("emoji") == emoji for r in msg.get("reactions") or [])
        try:
            updated = await _call(
                "reactions.remove_reaction" if mine else "reactions.add_reaction", me, message_id, emoji
            )
        except DomainError as err:
            yield rx.toast.error(f"Could not react: {err.message}")
            return
        update_message(self._store(), updated["conversationId"], updated)
        self._publish(me)

    @rx.event
    def set_confirm_leave_open(self, value: bool):
        """The "leave group" / "archive chat" confirmation (it closes the members dialog)."""
        self.confirm_leave_open = bool(value)
        if value:
            self.members_open = False

    @rx.event
    async def archive_or_leave(self):
        """Direct: archive it (it comes back with the next message); group: leave it."""
        me = await self._me()
        cid = self.current_id
        self.confirm_leave_open = False
        if not me or not cid:
            return
        is_group = self.current_is_group
        try:
            await _call("conversations.archive_or_leave", me, cid)
        except DomainError as err:
            yield rx.toast.error(_error_text(err))
            return
        remove_conversation(self._store(), cid)
        self._publish(me)
        yield rx.toast.success("You left the group." if is_group else "Conversation archived.")
        yield rx.redirect("/chat")

    # ----- groups: the people picker (new chat / add members) ----------------------------

    async def _open_picker(self, mode: str, exclude: set[str]):
        me = await self._me()
        if not me:
            return
        self.picker_mode, self.picker_query, self.picker_selected, self.group_name = mode, "", [], ""
        self.picker_busy, self.picker_loading = False, True
        self.members_open = False
        yield
        try:
            friends = await _call("friends.list_friends", me)
        except DomainError as err:
            self.picker_loading = False
            yield rx.toast.error(f"Could not load your friends: {err.message}")
            return
        people = [person_view(f) for f in friends if f.get("_id") not in exclude]
        self.picker_people = sorted(people, key=lambda p: p.name.casefold())
        self.picker_loading = False

    @rx.event
    async def open_new_chat(self):
        """The pencil in the Chats header: pick one friend (a direct chat) or several (a group)."""
        async for update in self._open_picker("new_chat", exclude=set()):
            yield update

    @rx.event
    async def open_add_members(self):
        """Admins: add friends who are not in the open group yet."""
        if not self.current_is_group or not self.current_is_admin:
            return
        async for update in self._open_picker("add_members", exclude={m.id for m in self.current_members}):
            yield update

    @rx.event
    def set_picker_open(self, value: bool):
        if not value and not self.picker_busy:
            self.picker_mode = ""

    @rx.event
    def set_picker_query(self, value: str):
        self.picker_query = str(value or "")[:100]

    @rx.event
    def set_group_name(self, value: str):
        self.group_name = str(value or "")[:100]

    @rx.event
    def toggle_pick(self, user_id: str):
        if user_id in self.picker_selected:
            self.picker_selected = [uid for uid in self.picker_selected if uid != user_id]
        elif any(p.id == user_id for p in self.picker_people):
            self.picker_selected = [*self.picker_selected, user_id]

    @rx.event
    async def submit_picker(self):
        """Create the chat or group (then open it), or add the picked members."""
        me = await self._me()
        mode, picked, cid = self.picker_mode, list(self.picker_selected), self.current_id
        if not me or not mode or not picked or self.picker_busy:
            return
        if mode == "new_chat" and len(picked) >= 2 and not self.group_name.strip():
            yield rx.toast.error("Give the group a name.")
            return
        self.picker_busy = True
        yield
        try:
            if mode == "add_members":
                convo = await _call("conversations.update_conversation", me, cid, add_participant_ids=picked)
            elif len(picked) == 1:
                convo, _created = await _call("conversations.create_conversation", me, picked, type="direct")
            else:
                convo, _created = await _call(
                    "conversations.create_conversation", me, picked, type="group", name=self.group_name.strip()
                )
        except DomainError as err:
            self.picker_busy = False
            yield rx.toast.error(_error_text(err))
            return
        self.picker_busy, self.picker_mode = False, ""
        add_or_update_conversation(self._store(), convo)
        self._publish(me)
        if mode == "add_members":
            count = len(picked)
            yield rx.toast.success(f"Added {count} member" + ("" if count == 1 else "s") + ".")
            self.members_open = True
        else:
            yield rx.redirect(f"/chat/{convo['_id']}")

    # ----- groups: members, rename, admins ------------------------------------------------

    @rx.event
    def set_members_open(self, value: bool):
        self.members_open = bool(value) and self.current_is_group

    @rx.event
    def set_rename_open(self, value: bool):
        self.rename_open = bool(value) and self.current_is_group and self.current_is_admin

    async def _update_current(self, success: str, busy_id: str = "", **changes: Any):
        """update_conversation on the open group; the result is applied at once (the bus
        brings the same view a moment later, and the other members' copies)."""
        me = await self._me()
        cid = self.current_id
        if not me or not cid or self.member_busy_id:
            return
        self.member_busy_id = busy_id or "conversation"
        yield
        try:
            convo = await _call("conversations.update_conversation", me, cid, **changes)
        except DomainError as err:
            self.member_busy_id = ""
            yield rx.toast.error(_error_text(err))
            return
        self.member_busy_id = ""
        add_or_update_conversation(self._store(), convo)
        self._publish(me)
        yield rx.toast.success(success)

    @rx.event
    async def rename_group(self, form: dict[str, Any]):
        name = " ".join(str(form.get("name") or "").split())
        if not name:
            yield rx.toast.error("A group name cannot be empty.")
            return
        if name == self.current_name:
            self.rename_open = False
            return
        async for update in self._update_current(f"Renamed to “{name}”.", name=name):
            yield update
        if not self.member_busy_id and self.current_name == name:
            self.rename_open = False

    def _member_name(self, user_id: str) -> str:
        return next((m.name for m in self.current_members if m.id == user_id), "Member")

    @rx.event
    async def make_admin(self, user_id: str):
        async for update in self._update_current(
            f"{self._member_name(user_id)} is now an admin.", busy_id=user_id, add_admin_ids=[user_id]
        ):
            yield update

    @rx.event
    async def dismiss_admin(self, user_id: str):
        async for update in self._update_current(
            f"{self._member_name(user_id)} is no longer an admin.", busy_id=user_id, remove_admin_ids=[user_id]
        ):
            yield update

    @rx.event
    async def remove_member(self, user_id: str):
        async for update in self._update_current(
            f"Removed {self._member_name(user_id)} from the group.", busy_id=user_id, remove_participant_ids=[user_id]
        ):
            yield update

    # ----- attachments ------------------------------------------------------------------

    @rx.event
    def set_attach_open(self, value: bool):
        self.attach_open = value

    @rx.event
    def add_attachment_link(self, form: dict[str, Any]):
        url = str(form.get("url") or "").strip()
        if not is_web_url(url) or len(url) > 2048:
            return rx.toast.error("Paste a link that starts with http:// or https://")
        if len(self.pending_attachments) >= 10:
            return rx.toast.error("At most 10 attachments per message.")
        self.pending_attachments = [*self.pending_attachments, attachment_view(attachment_from_url(url))]
        self.attach_open = False

    @rx.event
    def remove_attachment(self, url: str):
        self.pending_attachments = [a for a in self.pending_attachments if a.url != url]

    # ----- typing -----------------------------------------------------------------------

    @rx.event
    async def typing(self, _value: Any = None):
        """Keystrokes in the composer (throttled in the browser too): at most one
        typing_started per TYPING_THROTTLE_SECONDS while typing."""
        me = await self._me()
        cid = self.current_id
        if not me or not cid or self.editing_id:
            return
        now = time.monotonic()
        if self._typing_conversation == cid and now - self._typing_sent_at < TYPING_THROTTLE_SECONDS:
            return
        self._typing_conversation, self._typing_sent_at = cid, now
        try:
            await _call("typing.typing_started", me, cid)
        except DomainError:
            pass  # rate limited or gone: typing is best effort

    @rx.event
    async def stop_typing(self, _value: Any = None):
        """Send, blur or idle: tell the others at once instead of waiting for the expiry."""
        me = await self._me()
        cid = self._typing_conversation
        if not me or not cid:
            return
        self._typing_conversation, self._typing_sent_at = "", 0.0
        try:
            await _call("typing.typing_stopped", me, cid)
        except DomainError:
            pass

    # ----- scrolling ----------------------------------------------------------------------

    @rx.event
    def scroll_to_bottom(self):
        return rx.call_script("window.utoolChat && window.utoolChat.scrollToBottom(true)")

    # ----- live updates -------------------------------------------------------------------

    @rx.event(background=True)
    async def listen_for_events(self):
        """on_mount: follow the bus and apply this user's chat events to this tab.

        One listener per tab: `_listening` is tab state, so a second mount (a reload keeps
        the tab's state) only re-arms `_on_page`. It ends when the user leaves the chat
        pages, signs out, or closes the tab (checked at every idle wake-up)."""
        async with self:
            me = (await self.get_state(AuthState)).user_id
            self._on_page = True
            if self._listening or not me:
                return
            self._listening = True
            client_token = self.router.session.client_token
        events = get_bus().subscribe().__aiter__()
        next_event: asyncio.Future = asyncio.ensure_future(anext(events))
        try:
            while True:
                async with self:
                    expiry = next_typing_expiry(self._store())
                timeout = LISTENER_IDLE_CHECK_SECONDS
                if expiry is not None:
                    timeout = max(0.05, min(timeout, expiry - time.time()))
                done, _ = await asyncio.wait({next_event}, timeout=timeout)
                evt = None
                if done:
                    evt = next_event.result()
                    next_event = asyncio.ensure_future(anext(events))
                    if evt.name == SESSION_REVOKED and me in evt.user_ids:
                        to_login = await sign_out_if_session_ended(self)
                        if to_login is not None:
                            yield to_login
                            return
                        continue
                    if me not in evt.user_ids or not evt.name.startswith("chat:"):
                        continue
                elif expiry is None and not await _tab_is_connected(client_token):
                    return
                prepared = await self._prepare(me, evt) if evt else None
                async with self:
                    if not self._on_page or (await self.get_state(AuthState)).user_id != me:
                        return
                    chat = self._store()
                    changed = expire_typing(chat, time.time())
                    check_read = False
                    was_open = chat["conversations"]["currentConversationId"]
                    if evt is not None:
                        check_read = self._apply_event(chat, me, evt, prepared)
                        changed = True
                    # Removed from the open group (by an admin, or leaving in another tab).
                    dropped = bool(was_open) and not chat["conversations"]["currentConversationId"]
                    if dropped:
                        self._close_dialogs()
                    if changed:
                        self._publish(me)
                    current = self.current_id
                if dropped:
                    yield rx.toast.info("You are no longer a member of that conversation.")
                    yield rx.redirect("/chat", replace=True)
                if check_read:
                    # Mark read only if the tab is visible and still on that conversation.
                    yield rx.call_script(
                        "document.visibilityState === 'visible' && "
                        f"window.location.pathname.replace(/\\/$/, '') === '/chat/{current}'",
                        callback=ChatState.mark_current_read,
                    )
        finally:
            next_event.cancel()
            await asyncio.gather(next_event, return_exceptions=True)
            await events.aclose()
            async with self:
                self._listening = False

    async def _prepare(self, me: str, evt) -> dict[str, Any] | None:
        """Domain work an event needs, done before taking the state lock: fetch an unknown
        conversation, and acknowledge delivery of a message from someone else."""
        if evt.name != "chat:new_message":
            return None
        payload = evt.payload
        cid, message = payload.get("conversationId"), payload.get("message") or {}
        extra: dict[str, Any] = {}
        known = (self._chat.get("conversations") or {}).get("entities") or {}
        if cid not in known:
            try:
                extra["conversation"] = await _call("conversations.get_conversation", me, cid)
            except DomainError:
                pass
        if (message.get("sender") or {}).get("_id") != me and message.get("_id"):
            try:
                await _call("messages.mark_delivered", me, cid, message["_id"])
            except DomainError:
                pass
        return extra

    def _apply_event(self, chat: Chat, me: str, evt, prepared: dict[str, Any] | None) -> bool:
        """Apply one bus event to the slice. Returns whether to check for 'read'."""
        payload = evt.payload
        name = evt.name
        cid = payload.get("conversationId")
        if name == "chat:new_message":
            message = payload["message"]
            if prepared and prepared.get("conversation"):
                add_or_update_conversation(chat, prepared["conversation"])
            receive_message(chat, cid, message, payload.get("tempId"))
            sender = (message.get("sender") or {}).get("_id")
            if sender:
                set_typing_user(chat, cid, sender, "", False, time.time())
            return sender != me and cid == chat["conversations"]["currentConversationId"]
        if name == "chat:message_updated":
            update_message(chat, cid, payload["message"])
        elif name == "chat:unread_count_update":
            set_unread_count(chat, cid, payload.get("unreadCount") or 0)
        elif name == "chat:conversation_updated":
            convo = payload["conversation"]
            still_member = any(p.get("_id") == me for p in convo.get("participants") or [])
            if still_member:
                add_or_update_conversation(chat, convo)
            else:
                remove_conversation(chat, convo["_id"])
        elif name == "chat:user_typing" and payload.get("userId") != me:
            set_typing_user(chat, cid, payload["userId"], payload.get("userName") or "Someone", True, time.time())
        elif name == "chat:user_stopped_typing":
            set_typing_user(chat, cid, payload.get("userId", ""), "", False, time.time())
        return False
