"""Message actions seen live by the other side: react, reply, edit, delete; and a group chat."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.chat_helpers import (
    api_send,
    direct_conversation,
    friends_in_direct_chat,
    make_friends,
    open_conversation,
    people,
    send,
)
from tests.browser.conftest import screenshot
from utool_chat.domain import conversations, reactions

pytestmark = pytest.mark.browser


def _message(page, text: str):
    """The message whose own text is `text` (not a reply quoting it)."""
    return page.get_by_test_id("message").filter(has=page.get_by_test_id("message-text").get_by_text(text, exact=True))


def _hover_actions(page, text: str):
    row = _message(page, text)
    row.hover()
    return row


def test_reaction_reply_edit_and_delete_reach_the_other_side(app_server, signed_in):
    alice, bob, conversation = friends_in_direct_chat()
    page_a, page_b = signed_in(alice), signed_in(bob)
    open_conversation(page_a, app_server.url, conversation["_id"])
    open_conversation(page_b, app_server.url, conversation["_id"])

    send(page_a, "Draft plan for Friday")
    on_b = page_b.get_by_test_id("message").filter(has_text="Draft plan for Friday")
    expect(on_b).to_be_visible()

    # Bob reacts; Alice sees the count.
    _hover_actions(page_b, "Draft plan for Friday").get_by_test_id("react-button").click()
    page_b.get_by_test_id("reaction-choice").first.click()
    on_a = _message(page_a, "Draft plan for Friday")
    expect(on_a.get_by_test_id("reaction")).to_contain_text("1")

    # Bob replies to it; the quote shows on both sides.
    _hover_actions(page_b, "Draft plan for Friday").get_by_test_id("reply-button").click()
    expect(page_b.get_by_test_id("reply-banner")).to_contain_text("Draft plan for Friday")
    send(page_b, "Looks good to me")
    reply_on_a = page_a.get_by_test_id("message").filter(has_text="Looks good to me")
    expect(reply_on_a.get_by_test_id("reply-quote")).to_contain_text("Draft plan for Friday")
    expect(page_b.get_by_test_id("reply-banner")).to_have_count(0)

    # Alice edits her message; Bob sees the new text marked "edited".
    _hover_actions(page_a, "Draft plan for Friday").get_by_test_id("message-menu").click()
    page_a.get_by_test_id("edit-message").click()
    expect(page_a.get_by_test_id("edit-banner")).to_be_visible()
    box = page_a.get_by_test_id("message-input")
    expect(box).to_have_value("Draft plan for Friday")
    box.fill("Final plan for Friday")
    box.press("Enter")
    edited_on_b = _message(page_b, "Final plan for Friday")
    expect(edited_on_b.get_by_test_id("edited")).to_be_visible()
    expect(_message(page_b, "Draft plan for Friday")).to_have_count(0)
    expect(page_b.get_by_test_id("reply-quote")).to_contain_text("Final plan for Friday")

    # Alice deletes it; Bob sees the placeholder and the text is gone.
    _hover_actions(page_a, "Final plan for Friday").get_by_test_id("message-menu").click()
    page_a.get_by_test_id("delete-message").click()
    page_a.get_by_test_id("confirm-delete").click()
    expect(page_b.get_by_test_id("message-deleted")).to_have_count(1)
    expect(_message(page_b, "Final plan for Friday")).to_have_count(0)
    expect(page_a.get_by_test_id("message-deleted")).to_have_count(1)


def test_group_conversation_screens(app_server, signed_in):
    alice, bob, carol = people("alice", "bob", "carol")
    make_friends(alice, bob)
    make_friends(alice, carol)
    group, _ = conversations.create_conversation(
        alice["_id"], [bob["_id"], carol["_id"]], type="group", name="Weekend trip 🏕️"
    )
    direct_conversation(alice, bob)
    api_send(app_server, bob, group["_id"], "Who's driving on Saturday?")
    first = api_send(app_server, carol, group["_id"], "I can take three people 🚗")
    api_send(app_server, carol, group["_id"], "Leaving at 9 sharp, bring snacks!")
    reactions.add_reaction(bob["_id"], first["message"]["_id"], "👍")

    for width, height, name in ((1280, 800, "chat-desktop-group"), (375, 740, "chat-phone-group")):
        page = signed_in(alice, width=width, height=height)
        open_conversation(page, app_server.url, group["_id"])
        expect(page.get_by_test_id("chat-title")).to_have_text("Weekend trip 🏕️")
        if width == 1280:
            send(page, "Count me in! I'll bring the tent ⛺")
            expect(page.get_by_test_id("message").filter(has_text="bring the tent")).to_be_visible()
        # Group messages carry the sender's name.
        expect(page.get_by_text("Carol Chen", exact=True).first).to_be_visible()
        expect(page.get_by_test_id("reaction")).to_contain_text("1")
        screenshot(page, name)
