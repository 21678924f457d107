"""The chat slice: the plan's chatSlice as plain data and pure reducers (no Reflex).

The plan's `initialState` shape and its reducers under the same names
(`optimistic_add_message`, `receive_message`, `update_message`, `set_typing_user`,
`clear_conversation_unread_count`, `add_or_update_conversation`,
`set_current_conversation_id`) plus the thunks' fulfilled cases (`conversations_fetched`,
`messages_fetched`) and `apply_event`, the live listener's step for one bus event. Pure, so
tests/state/ checks them without a browser; `state/chat/` (ChatState) holds one slice per
tab in a backend var. Differences from the JS slice, on purpose:

- `idsByConversation` is kept oldest first (display order) and sorted by `seq`, which is
  gap-free and server-assigned; optimistic messages (no seq yet) stay at the end.
- unread counts are never incremented locally: the server's `chat:unread_count_update` is
  the authority (derived from read positions), so a count cannot drift or double.
- each conversation keeps a bounded window of messages (WINDOW_SIZE + pages the user
  loaded); live messages beyond it drop the oldest and set `hasMore` again (reflex#4156:
  every change of a list var resends the whole list).
- a window need not end at the latest message: opening a conversation at a message (a
  search result, a reply's quote) loads the page around it, and `hasNewer` says newer
  messages exist beyond it. Such a window takes no live messages (they would leave a gap;
  the conversation's lastMessage still moves); newer pages are paged in as the reader
  scrolls down, and sending from it goes back to the latest (see optimistic_add_message).
- `typingUsers` is exactly who the server holds as typing: from chat:user_typing until
  chat:user_stopped_typing or a message from them. There is no local timer: the server does
  not re-announce a refresh (domain/typing.py), so a local TTL would take the line down
  while the person is still typing; the server announces every end itself, expiry
  (TYPING_TTL_SECONDS) included.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from utool_chat.domain.serializers import REPLY_SNIPPET_CHARS

WINDOW_SIZE = 200  # live messages kept per conversation beyond the pages the user loaded
STATUS_RANK = {"sending": 0, "sent": 1, "delivered": 2, "read": 3}
# The bus events that can change the open conversation's message views; the others
# (typing, unread counts) only touch the conversation list and the typing line.
MESSAGE_VIEW_EVENTS = frozenset({"chat:new_message", "chat:message_updated", "chat:conversation_updated",
                                 "chat:settings_updated"})


Chat = dict[str, Any]


def initial_chat() -> Chat:
    """The plan's initialState, with conversation paging and message windows added (its
    loading flags live in the Reflex states that show them)."""
    return {
        "conversations": {
            "ids": [],
            "entities": {},
            "currentConversationId": None,
            "hasMore": False,
            "page": 0,
        },
        "messages": {
            "entities": {},  # {conversationId: {messageKey: message}}
            "idsByConversation": {},  # {conversationId: [messageKey, ...]} oldest first
            "hasMore": {},  # {conversationId: older messages exist before the window}
            "hasNewer": {},  # {conversationId: newer messages exist after the window}
            "error": {},  # {conversationId: why its latest messages could not be loaded}
            "windowSize": {},  # {conversationId: how many messages this window may hold}
        },
        "typingUsers": {},  # {conversationId: {userId: userName}}: who the server holds as typing
        "presence": {},  # {userId: {userId, status, lastSeenAt, changedAt}} (domain/presence.py views)
        "settings": None,  # the user's own settings (domain/settings.py), once fetched
    }


def message_key(message: dict[str, Any]) -> str:
    return message.get("_id") or message["tempId"]


def activity_time(conversation: dict[str, Any]) -> str:
    """What the list is ordered by: the server's lastActivityAt (a rename or a member
    change is not activity), else what is known locally."""
    last = conversation.get("lastMessage") or {}
    return (conversation.get("lastActivityAt") or last.get("createdAt") or conversation.get("updatedAt")
            or conversation.get("createdAt") or "")


def list_order(conversation: dict[str, Any]) -> tuple[bool, str, str]:
    """The list's order, as the server's: pinned ones first (the most recently pinned on
    top), then by activity; sorted descending."""
    pinned = bool(conversation.get("isPinned"))
    return pinned, (conversation.get("pinnedAt") or "") if pinned else "", activity_time(conversation)


def _sort_conversations(chat: Chat) -> None:
    convs = chat["conversations"]
    convs["ids"].sort(key=lambda cid: list_order(convs["entities"][cid]), reverse=True)


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
    msgs.setdefault("hasNewer", {})  # (a slice made before windows could end early)


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


def at_latest(chat: Chat, conversation_id: str) -> bool:
    """The conversation's window ends at its latest message (live messages join it)."""
    return not chat["messages"].get("hasNewer", {}).get(conversation_id)


def _restart_window(chat: Chat, conversation_id: str) -> None:
    """Forget the window's confirmed messages (unsent drafts survive)."""
    msgs = chat["messages"]
    entities = msgs["entities"][conversation_id]
    ids = msgs["idsByConversation"][conversation_id]
    pending = [k for k in ids if not entities[k].get("seq")]
    kept = {k: entities[k] for k in pending}
    entities.clear()
    entities.update(kept)
    ids[:] = pending
    msgs["windowSize"][conversation_id] = WINDOW_SIZE


def optimistic_add_message(chat: Chat, conversation_id: str, message: dict[str, Any]) -> None:
    """Show a message before the server confirms it (`message["tempId"]` is its key).
    Sent from a window that is not at the latest, it goes back to the latest: the window
    restarts from the draft, older history (the latest page first) pages in from there."""
    _ensure_messages(chat, conversation_id)
    if not at_latest(chat, conversation_id):
        _restart_window(chat, conversation_id)
        chat["messages"]["hasNewer"][conversation_id] = False
        chat["messages"]["hasMore"][conversation_id] = True
        # The door loads the latest page above it (MessagesState.scroll_to_bottom).
        chat["messages"].setdefault("wantsLatest", {})[conversation_id] = True
    entities = chat["messages"]["entities"][conversation_id]
    message = {**message, "status": "sending", "_order": len(entities)}
    entities[message["tempId"]] = message
    ids = chat["messages"]["idsByConversation"][conversation_id]
    if message["tempId"] not in ids:
        ids.append(message["tempId"])
    convo = chat["conversations"]["entities"].get(conversation_id)
    if convo is not None:
        convo["lastMessage"] = message
        convo["updatedAt"] = convo["lastActivityAt"] = message["createdAt"]
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
        elif not at_latest(chat, conversation_id):
            pass  # newer messages are missing between the window and this one: paged in later
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
            convo["lastActivityAt"] = message.get("createdAt")  # as the server's send sets it
        _sort_conversations(chat)


def _rank(message: dict[str, Any]) -> int:
    """How far a message's delivery status has got (-1: none, or "failed")."""
    return STATUS_RANK.get(message.get("status") or "", -1)


def _merge_message(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """A newer copy of a known message. Copies can arrive out of order, or be built from a
    snapshot older than what the slice holds: two members reading at once each publish the
    message as their own transaction saw it, without the other's read. What only grows on
    the server never shrinks here: the delivery status and the readers."""
    merged = {**old, **new}
    if _rank(old) > _rank(new):
        merged["status"] = old["status"]
    if old.get("readBy"):
        merged["readBy"] = _readers_of_both(old["readBy"], new.get("readBy") or [])
    return merged


def _readers_of_both(held: list[dict[str, Any]], incoming: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """readBy of both copies, in the server's order. A read receipt is never withdrawn, so a
    reader missing from one copy has just not reached it yet."""
    listed = {entry.get("user") for entry in incoming}
    return sorted([*incoming, *(entry for entry in held if entry.get("user") not in listed)], key=_read_order)


def update_message(chat: Chat, conversation_id: str, message: dict[str, Any]) -> None:
    """An edit, delete, reaction or status change (chat:message_updated)."""
    msgs = chat["messages"]
    entities = msgs["entities"].get(conversation_id)
    if entities is not None and message["_id"] in entities:
        entities[message["_id"]] = _merge_message(entities[message["_id"]], message)
        _propagate_status(entities, message)
    if entities is not None:
        for key, other in entities.items():
            entities[key] = _with_quote_of(other, message)
    convo = chat["conversations"]["entities"].get(conversation_id)
    if convo is not None and convo.get("lastMessage"):
        if convo["lastMessage"].get("_id") == message["_id"]:
            convo["lastMessage"] = _merge_message(convo["lastMessage"], message)
        convo["lastMessage"] = _with_quote_of(convo["lastMessage"], message)


def _with_quote_of(other: dict[str, Any], message: dict[str, Any]) -> dict[str, Any]:
    """Replies quote a snippet of their original (the server's REPLY_SNIPPET_CHARS): keep
    it in step with edits, and drop the text of a deleted original (it must not stay
    readable through a quote)."""
    quote = other.get("replyTo")
    if not quote or quote.get("_id") != message["_id"]:
        return other
    deleted = bool(message.get("isDeleted"))
    content = "" if deleted else (message.get("content") or "")[:REPLY_SNIPPET_CHARS]
    snippet = "" if deleted else message.get("snippet", quote.get("snippet", ""))  # the original's plain text
    return {**other, "replyTo": {**quote, "content": content, "snippet": snippet, "isDeleted": deleted}}


def apply_receipt(chat: Chat, conversation_id: str, receipt: dict[str, Any]) -> None:
    """A member's read or delivery position moved to `upToSeq` (the `receipt` of a
    chat:new_message / chat:message_updated): every known message up to it that they did
    not send is now at least that status, and a read adds them to its readBy — exactly what
    the server computes for those messages, without an event per message."""
    kind, reader, up_to = receipt.get("kind"), receipt.get("userId"), receipt.get("upToSeq") or 0
    rank = STATUS_RANK.get(kind or "", -1)
    if rank < STATUS_RANK["delivered"] or not reader:
        return

    def moved(message: dict[str, Any]) -> dict[str, Any]:
        seq = message.get("seq") or 0
        if not seq or seq > up_to or (message.get("sender") or {}).get("_id") == reader:
            return message
        out = dict(message)
        if STATUS_RANK.get(out.get("status") or "", -1) < rank:
            out["status"] = kind
        read_by = out.get("readBy") or []
        if kind == "read" and not any(entry.get("user") == reader for entry in read_by):
            out["readBy"] = sorted([*read_by, {"user": reader, "readAt": receipt.get("at")}], key=_read_order)
        return out

    entities = chat["messages"]["entities"].get(conversation_id)
    if entities is not None:
        for key, message in entities.items():
            entities[key] = moved(message)
    convo = chat["conversations"]["entities"].get(conversation_id)
    if convo is not None and convo.get("lastMessage"):
        convo["lastMessage"] = moved(convo["lastMessage"])


def _read_order(entry: dict[str, Any]) -> tuple[datetime, str]:
    """readBy order, as the server sorts it: by the time read, then by user."""
    try:
        at = datetime.fromisoformat(entry.get("readAt") or "")
    except ValueError:
        at = datetime.max
    return at, entry.get("user") or ""


def _propagate_status(entities: dict[str, dict[str, Any]], message: dict[str, Any]) -> None:
    """'read'/'delivered' up to seq s implies the same for the sender's earlier messages:
    read positions only move forward, for every member, so the status is monotonic in seq."""
    rank = _rank(message)
    sender = (message.get("sender") or {}).get("_id")
    seq = message.get("seq") or 0
    if rank < STATUS_RANK["delivered"] or not sender:
        return
    for key, other in entities.items():
        if (
            (other.get("sender") or {}).get("_id") == sender
            and (other.get("seq") or 0) < seq
            and _rank(other) < rank
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


def discard_message(chat: Chat, conversation_id: str, temp_id: str) -> bool:
    """Forget an unsent (failed) message. Returns whether there was one."""
    if chat["messages"]["entities"].get(conversation_id, {}).pop(temp_id, None) is None:
        return False
    chat["messages"]["idsByConversation"][conversation_id].remove(temp_id)
    return True


def set_typing_user(chat: Chat, conversation_id: str, user_id: str, user_name: str, is_typing: bool) -> None:
    typing = chat["typingUsers"].setdefault(conversation_id, {})
    if is_typing:
        typing[user_id] = user_name
    else:
        typing.pop(user_id, None)
        if not typing:
            chat["typingUsers"].pop(conversation_id, None)


def forget_typing_users(chat: Chat) -> bool:
    """Forget who is typing (a tab that was not listening may have missed their stops).
    Returns whether anyone was listed."""
    listed = bool(chat["typingUsers"])
    chat["typingUsers"].clear()
    return listed


def clear_conversation_unread_count(chat: Chat, conversation_id: str) -> None:
    convo = chat["conversations"]["entities"].get(conversation_id)
    if convo is not None:
        convo["unreadCount"] = 0


def set_unread_count(chat: Chat, conversation_id: str, unread_count: int, unread_mentions: int | None = None) -> None:
    """chat:unread_count_update: the server's counts (unreadMentions: those that mention me,
    the list's "@" marker)."""
    convo = chat["conversations"]["entities"].get(conversation_id)
    if convo is not None:
        convo["unreadCount"] = max(0, int(unread_count))
        if unread_mentions is not None:
            convo["unreadMentions"] = max(0, int(unread_mentions))


def presence_fetched(chat: Chat, views: dict[str, dict[str, Any]]) -> None:
    """presence_of's answer (GET /users/presence, chat:get_presence): merged in, newest wins."""
    for view in views.values():
        apply_presence(chat, view)


def apply_presence(chat: Chat, view: dict[str, Any]) -> None:
    """One user's presence (a chat:presence_update or a fetched view). Updates can cross on
    their way from several processes: one older than the held one (changedAt) is dropped."""
    user_id = view.get("userId")
    if not user_id:
        return
    held = chat["presence"].get(user_id)
    if held is not None and (held.get("changedAt") or "") > (view.get("changedAt") or ""):
        return
    chat["presence"][user_id] = dict(view)


def missing_presence(chat: Chat) -> list[str]:
    """Participants of the listed conversations whose presence the slice does not hold yet
    (a conversation just appeared, a member was added): the door asks presence_of for them
    and hands the answer to presence_fetched."""
    known = chat["presence"]
    wanted = {p.get("_id") for c in chat["conversations"]["entities"].values() for p in c.get("participants") or []}
    return sorted(uid for uid in wanted if uid and uid not in known)


def strip_receipts(chat: Chat) -> None:
    """The user turned read receipts off: they see nobody's reads any more (readBy empty,
    "read" shown as "delivered"), as the server now serves them. Turning them back on needs
    a refetch: the slice does not hold the reads it stopped showing."""
    def stripped(message: dict[str, Any]) -> dict[str, Any]:
        status = message.get("status")
        if not message.get("readBy") and status != "read":
            return message
        return {**message, "readBy": [], "status": "delivered" if status == "read" else status}

    for entities in chat["messages"]["entities"].values():
        for key, message in entities.items():
            entities[key] = stripped(message)
    for convo in chat["conversations"]["entities"].values():
        if convo.get("lastMessage"):
            convo["lastMessage"] = stripped(convo["lastMessage"])


def settings_fetched(chat: Chat, settings: dict[str, Any]) -> None:
    """The user's settings. A chat:settings_updated that turns readReceipts or showLastSeen
    off is applied to what the slice holds (apply_event); turning one on needs a refetch of
    the messages and presence (the slice does not hold what it stopped showing)."""
    chat["settings"] = dict(settings)


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
    convs.update(hasMore=has_more, page=page)
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
    msgs["error"][conversation_id] = None
    if older:
        msgs["windowSize"][conversation_id] = max(msgs["windowSize"][conversation_id], len(ids) + len(newest_first))
        msgs["hasMore"][conversation_id] = has_more
    else:
        cached_seqs = [entities[k]["seq"] for k in ids if entities[k].get("seq")]
        page_seqs = [m["seq"] for m in newest_first]
        if not cached_seqs or not page_seqs or min(page_seqs) > max(cached_seqs) + 1:
            _restart_window(chat, conversation_id)
            msgs["hasMore"][conversation_id] = has_more
        msgs["hasNewer"][conversation_id] = False  # the latest page: the window ends at the latest
    for message in newest_first:
        known = entities.get(message["_id"])
        entities[message["_id"]] = _merge_message(known, message) if known else message
        if known is None:
            ids.append(message["_id"])
    _sort_messages(chat, conversation_id)
    if not older:
        _trim_window(chat, conversation_id)


def newer_messages_fetched(chat: Chat, conversation_id: str, newest_first: list[dict[str, Any]],
                           has_more: bool) -> None:
    """A page after the newest loaded message (scrolling down in a window that is not at the
    latest): append and widen the window; `has_more`: still more after this page."""
    _ensure_messages(chat, conversation_id)
    msgs = chat["messages"]
    entities = msgs["entities"][conversation_id]
    ids = msgs["idsByConversation"][conversation_id]
    msgs["windowSize"][conversation_id] = max(msgs["windowSize"][conversation_id], len(ids) + len(newest_first))
    for message in newest_first:
        known = entities.get(message["_id"])
        entities[message["_id"]] = _merge_message(known, message) if known else message
        if known is None:
            ids.append(message["_id"])
    msgs["hasNewer"][conversation_id] = has_more
    _sort_messages(chat, conversation_id)


def messages_around_fetched(chat: Chat, conversation_id: str, newest_first: list[dict[str, Any]],
                            has_before: bool, has_after: bool) -> None:
    """The page centred on a message (list_messages(aroundMessageId=…)): the window restarts
    from it, with older (`has_before`) and newer (`has_after`) messages beyond it to page in."""
    _ensure_messages(chat, conversation_id)
    msgs = chat["messages"]
    _restart_window(chat, conversation_id)
    msgs["error"][conversation_id] = None
    msgs["windowSize"][conversation_id] = max(WINDOW_SIZE, len(newest_first))
    entities = msgs["entities"][conversation_id]
    ids = msgs["idsByConversation"][conversation_id]
    for message in newest_first:
        entities[message["_id"]] = message
        ids.append(message["_id"])
    msgs["hasMore"][conversation_id] = has_before
    msgs["hasNewer"][conversation_id] = has_after
    _sort_messages(chat, conversation_id)


def take_wants_latest(chat: Chat, conversation_id: str) -> bool:
    """Whether the window restarted for a message sent from old history and still wants the
    latest page loaded above it (asked once)."""
    return bool(chat["messages"].get("wantsLatest", {}).pop(conversation_id, False))


def holds_message(chat: Chat, conversation_id: str, message_id: str) -> bool:
    """The conversation's window holds this confirmed message."""
    return message_id in chat["messages"]["entities"].get(conversation_id, {})


def newest_loaded_id(chat: Chat, conversation_id: str) -> str | None:
    """The newest confirmed message in the window (where a page of newer ones starts)."""
    entities = chat["messages"]["entities"].get(conversation_id, {})
    for key in reversed(chat["messages"]["idsByConversation"].get(conversation_id, [])):
        if entities[key].get("seq"):
            return entities[key]["_id"]
    return None


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


def typing_names(chat: Chat, conversation_id: str) -> list[str]:
    return sorted(chat["typingUsers"].get(conversation_id, {}).values())


def apply_event(chat: Chat, me: str, evt: Any, fetched_conversation: dict[str, Any] | None) -> bool:
    """Apply one of `me`'s chat bus events (`evt.name`, `evt.payload`) to the slice.
    `fetched_conversation`: the conversation of a new message, fetched by the listener when
    it was not in the list yet. Returns whether the open conversation may now hold something
    `me` has not marked read: a message from someone else, or the server's count saying it
    has unread messages. The count matters on its own: it arrives after the message, and the
    tab's mark-read (a round trip to the browser) may have run in between and found nothing
    unread to mark; the message would then stay unread while the conversation is open."""
    payload = evt.payload
    name = evt.name
    cid = payload.get("conversationId")
    if name == "chat:new_message":
        message = payload["message"]
        if fetched_conversation:
            add_or_update_conversation(chat, fetched_conversation)
        receive_message(chat, cid, message, payload.get("tempId"))
        if payload.get("receipt"):  # answering read what came before
            apply_receipt(chat, cid, payload["receipt"])
        sender = (message.get("sender") or {}).get("_id")
        if sender:  # a message ends its sender's typing
            set_typing_user(chat, cid, sender, "", False)
        return sender != me and cid == chat["conversations"]["currentConversationId"]
    if name == "chat:message_updated":
        update_message(chat, cid, payload["message"])
        if payload.get("receipt"):
            apply_receipt(chat, cid, payload["receipt"])
    elif name == "chat:unread_count_update":
        unread = int(payload.get("unreadCount") or 0)
        set_unread_count(chat, cid, unread, payload.get("unreadMentions"))
        return unread > 0 and cid == chat["conversations"]["currentConversationId"]
    elif name == "chat:presence_update":
        apply_presence(chat, payload)
    elif name == "chat:settings_updated":
        before = chat.get("settings") or {}
        settings_fetched(chat, payload["settings"])
        if not payload["settings"].get("readReceipts") and before.get("readReceipts", True):
            strip_receipts(chat)
        if not payload["settings"].get("showLastSeen") and before.get("showLastSeen", True):
            # Hiding one's own last seen hides everyone's from oneself (WhatsApp's rule).
            chat["presence"] = {uid: {**view, "lastSeenAt": None} for uid, view in chat["presence"].items()}
    elif name == "chat:conversation_updated":
        convo = payload["conversation"]
        still_member = any(p.get("_id") == me for p in convo.get("participants") or [])
        if not still_member:
            remove_conversation(chat, convo["_id"])
        elif convo.get("isArchived") and convo["_id"] != chat["conversations"]["currentConversationId"]:
            remove_conversation(chat, convo["_id"])  # archived (here or in another tab): out of the list
        else:
            add_or_update_conversation(chat, convo)
    elif name == "chat:user_typing" and payload.get("userId") != me:
        set_typing_user(chat, cid, payload["userId"], payload.get("userName") or "Someone", True)
    elif name == "chat:user_stopped_typing":
        set_typing_user(chat, cid, payload.get("userId", ""), "", False)
    return False
