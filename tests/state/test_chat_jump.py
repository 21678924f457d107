"""Windows that do not end at the latest message (opening a conversation at a message) and
the search results' views: pure reducers and view builders, no browser, no DB."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.state.test_chat_slice import ME, NOW, convo, ids, loaded, msg, user
from utool_chat.state import chat_slice as s
from utool_chat.state.chat.search import result_view, snippet_segments


def around(*seqs: int, before: bool, after: bool) -> dict:
    chat = loaded(*range(71, 101), has_more=True)  # the latest page was open
    s.messages_around_fetched(chat, "c1", [msg(n) for n in sorted(seqs, reverse=True)], before, after)
    return chat


def test_the_page_around_a_message_replaces_the_window_and_can_page_both_ways():
    chat = around(*range(10, 40), before=True, after=True)
    assert ids(chat) == [f"m{n}" for n in range(10, 40)]
    assert chat["messages"]["hasMore"]["c1"] is True
    assert not s.at_latest(chat, "c1")
    assert s.holds_message(chat, "c1", "m25") and not s.holds_message(chat, "c1", "m80")
    assert s.newest_loaded_id(chat, "c1") == "m39" and s.oldest_message_id(chat, "c1") == "m10"

    s.newer_messages_fetched(chat, "c1", [msg(n) for n in range(69, 39, -1)], has_more=True)
    assert ids(chat) == [f"m{n}" for n in range(10, 70)]
    assert not s.at_latest(chat, "c1")
    s.newer_messages_fetched(chat, "c1", [msg(n) for n in range(100, 69, -1)], has_more=False)
    assert ids(chat) == [f"m{n}" for n in range(10, 101)]  # widened: nothing dropped
    assert s.at_latest(chat, "c1")
    s.receive_message(chat, "c1", msg(101))  # at the latest again: live messages join
    assert ids(chat)[-1] == "m101"


def test_a_window_not_at_the_latest_takes_no_live_message_but_the_list_moves():
    chat = around(*range(10, 40), before=True, after=True)
    s.receive_message(chat, "c1", msg(101))
    assert ids(chat) == [f"m{n}" for n in range(10, 40)]  # no gap between m39 and m101
    assert chat["conversations"]["entities"]["c1"]["lastMessage"]["_id"] == "m101"
    # Edits of shown messages still apply.
    s.update_message(chat, "c1", {**msg(20), "content": "edited", "isEdited": True})
    assert chat["messages"]["entities"]["c1"]["m20"]["content"] == "edited"


def test_the_latest_page_puts_the_window_back_at_the_latest():
    chat = around(*range(10, 40), before=True, after=True)
    s.messages_fetched(chat, "c1", [msg(n) for n in range(100, 70, -1)], has_more=True, older=False)
    assert ids(chat) == [f"m{n}" for n in range(71, 101)]  # a gap: restarted from the latest page
    assert s.at_latest(chat, "c1") and chat["messages"]["hasMore"]["c1"] is True


def test_sending_from_a_window_not_at_the_latest_goes_back_to_the_latest():
    chat = around(*range(10, 40), before=True, after=True)
    s.optimistic_add_message(chat, "c1", {"tempId": "t1", "sender": user(ME), "content": "hi",
                                          "createdAt": "2026-03-10T12:00:00Z"})
    assert ids(chat) == ["t1"] and s.at_latest(chat, "c1")
    assert chat["messages"]["hasMore"]["c1"] is True  # the history before it pages in
    s.receive_message(chat, "c1", msg(101, ME, content="hi"), "t1")
    assert ids(chat) == ["m101"]
    assert s.take_wants_latest(chat, "c1") and not s.take_wants_latest(chat, "c1")  # asked once
    # The latest page joins it without a gap.
    s.messages_fetched(chat, "c1", [msg(n) for n in range(101, 71, -1)], has_more=True, older=False)
    assert ids(chat) == [f"m{n}" for n in range(72, 102)]


def test_around_the_first_messages_there_is_nothing_older():
    chat = around(*range(1, 31), before=False, after=True)
    assert chat["messages"]["hasMore"]["c1"] is False and not s.at_latest(chat, "c1")


def test_snippets_start_near_the_first_match_and_mark_the_matched_parts():
    text = "x" * 100 + " the deployment went fine " + "y" * 300
    start = text.index("deploy")
    segments = snippet_segments(text, [[start, start + 6]])
    assert segments[0].text.startswith("…") and not segments[0].mark
    assert [seg.text for seg in segments if seg.mark] == ["deploy"]
    assert sum(len(seg.text) for seg in segments) <= 162
    assert segments[-1].text.endswith("…")


def test_snippet_ranges_are_utf16_and_whitespace_is_flattened():
    text = "😀 héllo\n\n   wörld"
    # UTF-16: the emoji is 2 code units, so "héllo" is [3, 8).
    segments = snippet_segments(text, [[3, 8]])
    assert [(seg.text, seg.mark) for seg in segments] == [("😀 ", False), ("héllo", True), (" wörld", False)]


def test_a_result_view_names_the_conversation_sender_and_time():
    message = {**msg(5), "content": "Lunch at noon?", "createdAt": "2026-03-10T09:30:00Z"}
    item: dict[str, Any] = {"message": message, "highlights": [[0, 5]], "attachmentHighlights": [],
            "conversation": {"_id": "c1", "type": "direct", "name": None, "isArchived": False,
                             "otherParticipant": user("bob")}}
    view = result_view(item, ME, UTC, NOW)
    assert (view.conversation_name, view.sender_name, view.time_label) == ("Bob", "Bob", "09:30")
    assert [(seg.text, seg.mark) for seg in view.segments] == [("Lunch", True), (" at noon?", False)]
    own = result_view({**item, "message": {**message, "sender": user(ME)}}, ME, UTC, NOW)
    assert own.sender_name == "You"
    in_group = {**item["conversation"], "type": "group", "name": "Team", "otherParticipant": None}
    group = result_view({**item, "conversation": in_group}, ME, UTC, datetime(2026, 3, 12, tzinfo=UTC))
    assert (group.conversation_name, group.is_group, group.time_label) == ("Team", True, "Tue")


def test_a_file_name_match_shows_the_file():
    message = {**msg(5), "content": "", "attachments": [{"name": "budget-2026.xlsx", "type": "x", "url": "/f"}]}
    item = {"message": message, "highlights": [], "attachmentHighlights": [{"index": 0, "highlights": [[0, 6]]}],
            "conversation": {"_id": "c1", "type": "group", "name": "Team", "otherParticipant": None}}
    view = result_view(item, ME, UTC, NOW)
    assert [(seg.text, seg.mark) for seg in view.segments] == [("📎 ", False), ("budget", True), ("-2026.xlsx", False)]


def test_convo_fixture_is_direct():  # the shared fixture this file builds on
    assert convo()["type"] == "direct"
