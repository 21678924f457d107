"""The chat slice's reducers (utool_chat/state/chat_slice.py) and its views
(utool_chat/state/chat_views.py): pure functions, no browser, no DB."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from utool_chat.events import Event
from utool_chat.state import chat_slice as s
from utool_chat.state import chat_views as v

ME, BOB = "me", "bob"
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def user(uid: str) -> dict:
    return {"_id": uid, "username": uid, "displayName": uid.title(), "avatar": None}


def msg(seq: int, sender: str = BOB, **extra) -> dict:
    created = (NOW - timedelta(minutes=1000 - seq)).isoformat().replace("+00:00", "Z")
    return {
        "_id": f"m{seq}", "seq": seq, "conversationId": "c1", "sender": user(sender), "content": f"text {seq}",
        "attachments": [], "replyTo": None, "reactions": [], "readBy": [], "status": "sent",
        "isEdited": False, "isDeleted": False, "createdAt": created, "updatedAt": created, **extra,
    }


def convo(cid: str = "c1", last: dict | None = None, **extra) -> dict:
    return {
        "_id": cid, "type": "direct", "name": None, "avatar": None, "participants": [user(ME), user(BOB)],
        "admins": [], "lastMessage": last, "unreadCount": 0, "isArchived": False,
        "createdAt": "2026-01-01T00:00:00Z", "updatedAt": "2026-01-01T00:00:00Z", **extra,
    }


def loaded(*seqs: int, has_more: bool = False) -> dict:
    chat = s.initial_chat()
    s.conversations_fetched(chat, [convo()], has_more=False, page=1)
    s.messages_fetched(chat, "c1", [msg(n) for n in sorted(seqs, reverse=True)], has_more, older=False)
    return chat


def ids(chat: dict, cid: str = "c1") -> list[str]:
    return chat["messages"]["idsByConversation"][cid]


def test_receive_message_replaces_the_optimistic_copy_by_temp_id():
    chat = loaded(1, 2)
    s.optimistic_add_message(
        chat, "c1", {"tempId": "t1", "sender": user(ME), "content": "hi", "createdAt": "2026-03-10T12:00:00Z"}
    )
    assert ids(chat) == ["m1", "m2", "t1"]
    assert chat["messages"]["entities"]["c1"]["t1"]["status"] == "sending"
    s.receive_message(chat, "c1", msg(3, ME, content="hi"), "t1")
    assert ids(chat) == ["m1", "m2", "m3"]
    # The bus delivers the same message again: still once.
    s.receive_message(chat, "c1", msg(3, ME, content="hi"), "t1")
    assert ids(chat) == ["m1", "m2", "m3"]
    assert chat["conversations"]["entities"]["c1"]["lastMessage"]["_id"] == "m3"


def test_messages_are_kept_in_seq_order_whatever_the_arrival_order():
    chat = loaded(1)
    s.receive_message(chat, "c1", msg(3))
    s.receive_message(chat, "c1", msg(2))
    assert ids(chat) == ["m1", "m2", "m3"]


def test_older_page_is_prepended_and_widens_the_window():
    chat = loaded(*range(31, 61), has_more=True)
    s.messages_fetched(chat, "c1", [msg(n) for n in range(30, 0, -1)], has_more=False, older=True)
    assert ids(chat)[:2] == ["m1", "m2"] and len(ids(chat)) == 60
    assert chat["messages"]["hasMore"]["c1"] is False
    assert s.oldest_message_id(chat, "c1") == "m1"


def test_live_messages_beyond_the_window_drop_the_oldest_and_allow_paging_back():
    chat = loaded(*range(1, s.WINDOW_SIZE + 1))
    s.receive_message(chat, "c1", msg(s.WINDOW_SIZE + 1))
    assert len(ids(chat)) == s.WINDOW_SIZE
    assert ids(chat)[0] == "m2"
    assert chat["messages"]["hasMore"]["c1"] is True


def test_latest_page_after_a_gap_restarts_the_cache_instead_of_leaving_a_hole():
    chat = loaded(1, 2, 3)
    s.messages_fetched(chat, "c1", [msg(n) for n in range(50, 40, -1)], has_more=True, older=False)
    assert ids(chat) == [f"m{n}" for n in range(41, 51)]
    assert chat["messages"]["hasMore"]["c1"] is True


def test_read_status_of_a_later_own_message_marks_earlier_own_messages_read_but_never_goes_back():
    chat = s.initial_chat()
    s.conversations_fetched(chat, [convo()], has_more=False, page=1)
    s.messages_fetched(chat, "c1", [msg(3, ME), msg(2, BOB), msg(1, ME)], False, older=False)
    s.update_message(chat, "c1", msg(3, ME, status="read"))
    entities = chat["messages"]["entities"]["c1"]
    assert entities["m1"]["status"] == "read" and entities["m3"]["status"] == "read"
    assert entities["m2"]["status"] == "sent"  # someone else's message is not ours to mark
    s.update_message(chat, "c1", msg(3, ME, status="delivered"))  # a late, older event
    assert entities["m3"]["status"] == "read"


def test_failed_send_keeps_the_draft_for_retry():
    chat = loaded(1)
    s.optimistic_add_message(
        chat, "c1", {"tempId": "t9", "sender": user(ME), "content": "x", "createdAt": "2026-03-10T12:00:00Z"}
    )
    s.mark_message_failed(chat, "c1", "t9", "Too many messages")
    assert chat["messages"]["entities"]["c1"]["t9"]["status"] == "failed"
    retried = s.mark_message_sending(chat, "c1", "t9")
    assert retried is not None and retried["status"] == "sending"


def test_typing_users_are_who_the_server_holds_as_typing_until_it_ends_them():
    chat = s.initial_chat()
    s.conversations_fetched(chat, [convo()], has_more=False, page=1)

    def apply(name: str, payload: dict) -> None:
        s.apply_event(chat, ME, Event(name, payload, [ME]), None)

    apply("chat:user_typing", {"conversationId": "c1", "userId": BOB, "userName": "Bob"})
    apply("chat:user_typing", {"conversationId": "c1", "userId": "carl", "userName": "Carl"})
    apply("chat:user_typing", {"conversationId": "c1", "userId": ME, "userName": "Me"})  # my own: not shown
    assert s.typing_names(chat, "c1") == ["Bob", "Carl"]
    apply("chat:user_stopped_typing", {"conversationId": "c1", "userId": "carl"})
    assert s.typing_names(chat, "c1") == ["Bob"]
    # No clock: Bob stays until the server ends his typing, here with his message.
    apply("chat:new_message", {"conversationId": "c1", "message": msg(1), "tempId": None})
    assert s.typing_names(chat, "c1") == []
    apply("chat:user_typing", {"conversationId": "c1", "userId": BOB, "userName": "Bob"})
    assert s.forget_typing_users(chat) is True and s.typing_names(chat, "c1") == []
    assert s.forget_typing_users(chat) is False


def test_conversations_sort_by_last_activity_and_unread_is_the_servers_count():
    chat = s.initial_chat()
    s.conversations_fetched(chat, [convo("old", msg(1)), convo("new", msg(5))], has_more=False, page=1)
    assert chat["conversations"]["ids"] == ["new", "old"]
    s.receive_message(chat, "old", msg(9))
    assert chat["conversations"]["ids"] == ["old", "new"]
    s.set_unread_count(chat, "old", 3)
    s.add_or_update_conversation(chat, convo("third", msg(2)))
    assert s.total_unread(chat) == 3
    s.clear_conversation_unread_count(chat, "old")
    assert s.total_unread(chat) == 0


def test_split_recent_moves_its_boundary_only_every_chunk():
    views = [v.MessageView(key=str(n)) for n in range(60)]
    older, recent = v.split_recent(views)
    older_after, recent_after = v.split_recent([*views, v.MessageView(key="60")])
    assert older_after == older and len(recent_after) == len(recent) + 1
    assert len(recent) < 2 * v.RECENT_CHUNK


def test_message_views_show_deleted_placeholder_and_hide_its_content():
    chat = loaded(1)
    s.update_message(chat, "c1", msg(1, ME, isDeleted=True, content=""))
    view = v.build_message_views(chat, "c1", ME, UTC, NOW)[0]
    assert view.is_deleted and view.content == "" and not view.can_edit and not view.can_delete
    assert view.reactions == [] and view.attachments == []


def test_only_web_links_become_clickable_attachments():
    assert v.attachment_view({"url": "javascript:alert(1)", "type": "image/png"}).is_link is False
    assert v.attachment_view({"url": "javascript:alert(1)", "type": "image/png"}).is_image is False
    image = v.attachment_view(v.attachment_from_url("https://example.com/cat.jpg"))
    # An external picture is a link, never loaded inline (the host would see every viewer).
    assert not image.is_image and image.is_link and image.name == "cat.jpg" and image.url == "https://example.com/cat.jpg"


def test_list_labels_follow_the_readers_time_zone():
    tz = v.reader_zone("Asia/Tokyo")
    assert v.list_time_label("2026-03-10T11:00:00Z", tz, NOW) == "20:00"
    assert v.list_time_label("2026-03-09T11:00:00Z", tz, NOW) == "Yesterday"


def test_reply_quotes_follow_edits_and_lose_the_text_of_a_deleted_original():
    chat = loaded(1)
    quote = {"_id": "m1", "seq": 1, "sender": user(BOB), "content": "text 1", "isDeleted": False}
    s.receive_message(chat, "c1", msg(2, ME, replyTo=quote))
    s.update_message(chat, "c1", msg(1, isEdited=True, content="edited text"))
    assert chat["messages"]["entities"]["c1"]["m2"]["replyTo"]["content"] == "edited text"
    s.update_message(chat, "c1", msg(1, isDeleted=True, content=""))
    quote = chat["messages"]["entities"]["c1"]["m2"]["replyTo"]
    assert quote["isDeleted"] and quote["content"] == ""
    view = v.build_message_views(chat, "c1", ME, UTC, NOW)[1]
    assert view.reply_content == "Deleted message"


def test_edit_and_delete_are_offered_exactly_when_the_domain_would_accept_them():
    later, earlier = (NOW + timedelta(minutes=5)).isoformat(), (NOW - timedelta(seconds=1)).isoformat()
    chat = loaded()
    page = [msg(3, BOB, editableUntil=later), msg(2, ME, editableUntil=earlier), msg(1, ME, editableUntil=later)]
    s.messages_fetched(chat, "c1", page, has_more=False, older=False)
    unsent = {"tempId": "t1", "sender": user(ME), "content": "x", "createdAt": NOW.isoformat()}
    s.optimistic_add_message(chat, "c1", unsent)
    rights = [(view.can_edit, view.can_delete) for view in v.build_message_views(chat, "c1", ME, UTC, NOW)]
    # Mine within the window; mine after it (delete only); Bob's; my copy not confirmed yet.
    assert rights == [(True, True), (False, True), (False, False), (False, False)]


def test_an_unread_count_for_the_open_conversation_asks_for_a_mark_read_like_a_new_message():
    # The count arrives after the message: the tab's mark-read for the message may already
    # have run and found nothing unread, so the count must ask again (the race of issue 14's
    # seen-by test, which real users hit as a message staying unread in the open chat).
    chat = loaded(1)
    s.conversations_fetched(chat, [convo(), convo("c2")], has_more=False, page=1)
    s.set_current_conversation_id(chat, "c1")

    def apply(name: str, payload: dict) -> bool:
        return s.apply_event(chat, ME, Event(name, payload, [ME]), None)

    assert apply("chat:new_message", {"conversationId": "c1", "message": msg(2), "tempId": None}) is True
    assert apply("chat:unread_count_update", {"conversationId": "c1", "unreadCount": 1, "unreadMentions": 0}) is True
    assert chat["conversations"]["entities"]["c1"]["unreadCount"] == 1
    # Nothing left to read, or not the open conversation: no mark-read.
    assert apply("chat:unread_count_update", {"conversationId": "c1", "unreadCount": 0, "unreadMentions": 0}) is False
    assert apply("chat:unread_count_update", {"conversationId": "c2", "unreadCount": 3, "unreadMentions": 0}) is False
    assert chat["conversations"]["entities"]["c2"]["unreadCount"] == 3
    s.set_current_conversation_id(chat, None)
    assert apply("chat:unread_count_update", {"conversationId": "c1", "unreadCount": 2, "unreadMentions": 0}) is False


def test_a_read_event_built_before_another_members_read_does_not_drop_that_reader():
    # Two members read my message at once: each mark_read publishes the message as its own
    # transaction saw it, so the one that commits last can carry a readBy without the other.
    chat = s.initial_chat()
    group = convo(last=msg(1, ME), participants=[user(ME), user(BOB), user("carl")])
    s.conversations_fetched(chat, [group], has_more=False, page=1)
    s.messages_fetched(chat, "c1", [msg(1, ME)], False, older=False)
    carl_read = {"user": "carl", "readAt": "2026-03-10T12:00:01Z"}
    bob_read = {"user": BOB, "readAt": "2026-03-10T12:00:02Z"}

    def read_by(reader: str, readers: list[dict]) -> None:
        at = next(r["readAt"] for r in readers if r["user"] == reader)
        s.apply_event(chat, ME, Event("chat:message_updated", {
            "conversationId": "c1", "message": msg(1, ME, readBy=readers, status="read"),
            "receipt": {"kind": "read", "userId": reader, "upToSeq": 1, "at": at}}, [ME]), None)

    read_by("carl", [carl_read])
    read_by(BOB, [bob_read])  # Bob's snapshot was taken before Carl's read committed
    held = chat["messages"]["entities"]["c1"]["m1"]
    assert held["readBy"] == [carl_read, bob_read] and held["status"] == "read"
    assert chat["conversations"]["entities"]["c1"]["lastMessage"]["readBy"] == [carl_read, bob_read]
    # Turning read receipts off still empties them (the one way reads leave the slice).
    s.apply_event(chat, ME, Event("chat:settings_updated", {"settings": {"readReceipts": False}}, [ME]), None)
    assert chat["messages"]["entities"]["c1"]["m1"]["readBy"] == []
