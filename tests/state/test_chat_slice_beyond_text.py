"""The chat slice's reducers for mentions, pins, presence and settings (pure, no server)."""

from __future__ import annotations

from types import SimpleNamespace

from utool_chat.state.chat_slice import (
    apply_event,
    apply_presence,
    conversations_fetched,
    initial_chat,
    messages_fetched,
    missing_presence,
    settings_fetched,
)

ME, ANN = "me", "ann"


def convo(cid: str, at: str, **extra) -> dict:
    return {"_id": cid, "lastActivityAt": at, "participants": [{"_id": ME}, {"_id": ANN}], "unreadCount": 0,
            "unreadMentions": 0, "isPinned": False, "pinnedAt": None, **extra}


def event(name: str, payload: dict) -> SimpleNamespace:
    return SimpleNamespace(name=name, payload=payload, user_ids=[ME])


def test_pinned_conversations_sort_first_most_recently_pinned_on_top():
    chat = initial_chat()
    conversations_fetched(chat, [
        convo("new", "2026-01-03"), convo("old", "2026-01-01", isPinned=True, pinnedAt="2026-01-05"),
        convo("mid", "2026-01-02", isPinned=True, pinnedAt="2026-01-06")], False, 1)
    assert chat["conversations"]["ids"] == ["mid", "old", "new"]
    apply_event(chat, ME, event("chat:conversation_updated", {"conversation": convo("mid", "2026-01-02")}), None)
    assert chat["conversations"]["ids"] == ["old", "new", "mid"]


def test_unread_mentions_follow_the_server():
    chat = initial_chat()
    conversations_fetched(chat, [convo("c", "2026-01-01")], False, 1)
    apply_event(chat, ME, event("chat:unread_count_update",
                                {"conversationId": "c", "unreadCount": 3, "unreadMentions": 1}), None)
    assert (chat["conversations"]["entities"]["c"]["unreadCount"],
            chat["conversations"]["entities"]["c"]["unreadMentions"]) == (3, 1)
    apply_event(chat, ME, event("chat:unread_count_update", {"conversationId": "c", "unreadCount": 0}), None)
    assert chat["conversations"]["entities"]["c"]["unreadMentions"] == 1  # an old server's event leaves it


def test_presence_keeps_the_newest_update():
    chat = initial_chat()
    newer = {"userId": ANN, "status": "offline", "lastSeenAt": "2026-01-01T10:00:00Z",
             "changedAt": "2026-01-01T10:00:00Z"}
    older = {"userId": ANN, "status": "online", "lastSeenAt": None, "changedAt": "2026-01-01T09:59:59Z"}
    apply_presence(chat, newer)
    apply_event(chat, ME, event("chat:presence_update", older), None)
    assert chat["presence"][ANN] == newer
    assert missing_presence(chat) == []
    conversations_fetched(chat, [convo("c", "2026-01-01")], False, 1)
    assert missing_presence(chat) == [ME]


def test_turning_receipts_or_last_seen_off_strips_what_the_slice_holds():
    chat = initial_chat()
    settings_fetched(chat, {"readReceipts": True, "showLastSeen": True})
    read = {"_id": "m1", "seq": 1, "sender": {"_id": ME}, "status": "read", "readBy": [{"user": ANN, "readAt": "t"}]}
    conversations_fetched(chat, [convo("c", "2026-01-01", lastMessage=read)], False, 1)
    messages_fetched(chat, "c", [read], False, older=False)
    apply_presence(chat, {"userId": ANN, "status": "offline", "lastSeenAt": "t", "changedAt": "t"})
    off = {"readReceipts": False, "showLastSeen": False, "groupInvites": "friends", "notificationSound": True}
    apply_event(chat, ME, event("chat:settings_updated", {"settings": off}), None)
    stripped = chat["messages"]["entities"]["c"]["m1"]
    assert (stripped["status"], stripped["readBy"]) == ("delivered", [])
    assert chat["conversations"]["entities"]["c"]["lastMessage"]["readBy"] == []
    assert chat["presence"][ANN]["lastSeenAt"] is None and chat["settings"] == off
