"""The web app's views beyond text (state/beyond_text.py, chat_views): pure, no server."""

from __future__ import annotations

from datetime import UTC, datetime

from utool_chat.domain.formatting import Mentionable, render
from utool_chat.state import beyond_text
from utool_chat.state.chat_slice import apply_presence, conversations_fetched, initial_chat, messages_fetched
from utool_chat.state.chat_views import build_conversation_items, build_message_views

ME, ANN, BOB = "me1", "ann1", "bob1"
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
PEOPLE = [{"_id": ME, "username": "me", "displayName": "Me Myself"},
          {"_id": ANN, "username": "ann", "displayName": "Ann Smith"},
          {"_id": BOB, "username": "bob", "displayName": "Bob Jones"}]


def _mentionable() -> Mentionable:
    return Mentionable(users={p["_id"]: (p["username"], p["displayName"]) for p in PEOPLE})


def message(seq: int, sender: str, content: str, **extra) -> dict:
    rendered = render(content, _mentionable())
    author = next(p for p in PEOPLE if p["_id"] == sender)
    return {"_id": f"m{seq}", "seq": seq, "conversationId": "g", "sender": author,
            "content": content, "contentHtml": rendered.html, "snippet": rendered.snippet,
            "mentions": rendered.mentions, "mentionsEveryone": rendered.mentions_everyone, "contentType": "text",
            "readBy": [], "reactions": [], "attachments": [], "createdAt": f"2026-03-10T11:{seq:02d}:00Z", **extra}


def group_chat(*msgs: dict, **convo_extra) -> dict:
    chat = initial_chat()
    conversations_fetched(chat, [{"_id": "g", "type": "group", "name": "G", "participants": PEOPLE, "admins": [ME],
                                  "unreadCount": 0, **convo_extra}], False, 1)
    messages_fetched(chat, "g", list(reversed(msgs)), False, older=False)
    return chat


def test_a_mention_of_the_reader_is_marked_and_others_are_not():
    msg = message(1, ANN, f"hi <@{ME}> and <@{BOB}>")
    html = beyond_text.content_html_for(msg, ME)
    assert f'<span class="mention mention-me" data-user-id="{ME}">@Me Myself</span>' in html
    assert f'<span class="mention" data-user-id="{BOB}">@Bob Jones</span>' in html
    view = build_message_views(group_chat(msg), "g", ME, UTC, NOW)[0]
    assert view.mentions_me and view.content_html == html
    assert not build_message_views(group_chat(msg), "g", "stranger", UTC, NOW)[0].mentions_me


def test_hostile_markup_never_becomes_markup_in_the_view():
    msg = message(1, ANN, '<script>alert(1)</script> [x](javascript:alert(2)) <img src=x onerror=alert(3)>')
    view = build_message_views(group_chat(msg), "g", ME, UTC, NOW)[0]
    assert "<script" not in view.content_html and "<img" not in view.content_html
    assert "href" not in view.content_html
    # A reader id that is not an id is never spliced into the HTML.
    assert beyond_text.content_html_for(msg, '"><script>') == msg["contentHtml"]


def test_an_optimistic_copy_is_text_with_mentions_shown_by_name():
    chat = group_chat()
    pending = {"tempId": "t1", "sender": PEOPLE[0], "content": f"ping <@{ANN}> <@nobody>",
               "createdAt": "2026-03-10T11:59:00Z"}
    chat["messages"]["entities"]["g"]["t1"] = pending
    chat["messages"]["idsByConversation"]["g"].append("t1")
    view = build_message_views(chat, "g", ME, UTC, NOW)[-1]
    assert view.content_html == ""
    assert view.content == "ping @Ann Smith <@nobody>"


def test_notices_are_marked_and_the_list_shows_their_sentence_without_a_sender():
    notice = {**message(1, ANN, ""), "contentType": "system", "content": "Ann Smith renamed the group to “G”",
              "snippet": "Ann Smith renamed the group to “G”", "notice": {"type": "group_renamed"}}
    chat = group_chat(notice, lastMessage=notice)
    assert build_message_views(chat, "g", ME, UTC, NOW)[0].is_notice
    assert build_conversation_items(chat, ME, UTC, NOW)[0].snippet == "Ann Smith renamed the group to “G”"


def test_seen_by_is_under_my_last_message_only_and_empty_without_reads():
    first = message(1, ME, "one", readBy=[{"user": ANN, "readAt": "2026-03-10T11:05:00Z"}])
    last = message(2, ME, "two", readBy=[{"user": ANN, "readAt": "2026-03-10T11:06:00Z"},
                                         {"user": BOB, "readAt": "2026-03-10T11:07:00Z"}])
    views = build_message_views(group_chat(first, last, message(3, ANN, "three")), "g", ME, UTC, NOW)
    assert [v.seen_by for v in views] == ["", "Seen by Ann Smith, Bob Jones", ""]
    stripped = message(2, ME, "two")  # read receipts off: the server sends no readBy
    assert [v.seen_by for v in build_message_views(group_chat(first, stripped), "g", ME, UTC, NOW)] == ["", ""]


def test_list_items_carry_the_mention_marker_pin_mute_and_the_peer_presence():
    chat = initial_chat()
    conversations_fetched(chat, [{"_id": "d", "type": "direct", "participants": PEOPLE[:2], "unreadCount": 2,
                                  "unreadMentions": 1, "isPinned": True, "pinnedAt": "2026-03-01", "isMuted": True}],
                          False, 1)
    item = build_conversation_items(chat, ME, UTC, NOW)[0]
    assert (item.has_mention, item.is_pinned, item.is_muted, item.presence) == (True, True, True, "")
    apply_presence(chat, {"userId": ANN, "status": "away", "lastSeenAt": None, "changedAt": "2026-03-10T11:00:00Z"})
    assert build_conversation_items(chat, ME, UTC, NOW)[0].presence == "away"


def test_presence_labels():
    chat = initial_chat()
    label = lambda: beyond_text.presence_label(chat, ANN, UTC, NOW)  # noqa: E731
    assert label() == ""
    apply_presence(chat, {"userId": ANN, "status": "online", "lastSeenAt": None, "changedAt": "1"})
    assert label() == "online"
    apply_presence(chat, {"userId": ANN, "status": "offline", "lastSeenAt": "2026-03-10T09:15:00Z", "changedAt": "2"})
    assert label() == "last seen today at 09:15"
    apply_presence(chat, {"userId": ANN, "status": "offline", "lastSeenAt": "2026-03-09T23:00:00Z", "changedAt": "3"})
    assert label() == "last seen yesterday at 23:00"
    apply_presence(chat, {"userId": ANN, "status": "offline", "lastSeenAt": "2026-01-02T08:00:00Z", "changedAt": "4"})
    assert label() == "last seen 2 Jan 2026 at 08:00"
    apply_presence(chat, {"userId": ANN, "status": "offline", "lastSeenAt": None, "changedAt": "5"})
    assert label() == "offline"  # they hide their last seen (or I hide mine)


def test_notifications_skip_my_own_notices_and_muted_chats_unless_they_mention_me():
    chat = group_chat()
    payload = lambda m: {"conversationId": "g", "message": m}  # noqa: E731
    note = beyond_text.notification_for(chat, ME, payload(message(1, ANN, "**Hello** there")))
    assert note == {"title": "Ann Smith in G", "body": "Hello there", "conversationId": "g", "messageId": "m1",
                    "sound": True}
    assert beyond_text.notification_for(chat, ME, payload(message(2, ME, "mine"))) is None
    assert beyond_text.notification_for(chat, ME, payload({**message(3, ANN, "x"), "contentType": "system"})) is None
    muted = group_chat(isMuted=True)
    muted["settings"] = {"notificationSound": False}
    assert beyond_text.notification_for(muted, ME, payload(message(4, ANN, "quiet"))) is None
    mention = beyond_text.notification_for(muted, ME, payload(message(5, ANN, f"<@{ME}> look")))
    assert mention is not None and mention["body"] == "@Me Myself look" and mention["sound"] is False
