"""The chat page end to end: two users in two browser contexts, live updates between them."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from tests.browser.chat_helpers import (
    conversation_row,
    friends_in_direct_chat,
    make_friends,
    open_conversation,
    people,
    send,
)
from tests.browser.conftest import screenshot, wait_for_app
from utool_chat import config

pytestmark = pytest.mark.browser


def test_message_from_friends_list_reaches_the_open_conversation_and_is_read(app_server, signed_in):
    alice, bob = people("alice", "bob")
    make_friends(alice, bob)
    page_a, page_b = signed_in(alice), signed_in(bob)

    # Alice opens the chat from her friends list.
    page_a.goto(f"{app_server.url}/friends")
    wait_for_app(page_a)
    bob_row = page_a.locator(f'[data-testid=friend][data-username="{bob["username"]}"]')
    bob_row.locator("[data-testid=message-friend]").first.click()
    page_a.wait_for_url(re.compile(r"/chat/[0-9a-f]+$"))
    conversation_id = page_a.url.rstrip("/").rsplit("/", 1)[-1]
    expect(page_a.get_by_test_id("chat-title")).to_have_text("Bob Baker")

    # Bob has the conversation open before the first message exists.
    open_conversation(page_b, app_server.url, conversation_id)
    expect(page_b.get_by_test_id("messages-empty")).to_be_visible()

    send(page_a, "Hi Bob! Lunch at noon?")
    mine = page_a.get_by_test_id("message").filter(has_text="Hi Bob! Lunch at noon?")
    expect(mine).to_have_attribute("data-own", "true")
    # Bob sees it without reloading, on the left.
    theirs = page_b.get_by_test_id("message").filter(has_text="Hi Bob! Lunch at noon?")
    expect(theirs).to_be_visible()
    expect(theirs).to_have_attribute("data-own", "false")
    # Bob's tab is visible and on that conversation: Alice sees "read".
    expect(mine.get_by_test_id("message-status")).to_have_attribute("data-status", "read")
    expect(page_a.get_by_test_id("message-input")).to_have_value("")

    # Bob types: Alice sees it, and it goes away when he stops (blur stops typing at once).
    page_b.get_by_test_id("message-input").click()
    page_b.get_by_test_id("message-input").press_sequentially("Sure, see y", delay=40)
    expect(page_a.get_by_test_id("typing-indicator")).to_be_visible()
    screenshot(page_a, "chat-desktop-typing")
    page_b.get_by_test_id("chat-title").click()  # blur
    expect(page_a.get_by_test_id("typing-indicator")).to_have_count(0, timeout=8000)

    page_b.get_by_test_id("message-input").click()
    page_b.get_by_test_id("message-input").press("End")
    page_b.get_by_test_id("message-input").press_sequentially("ou there")
    page_b.get_by_test_id("message-input").press("Shift+Enter")
    page_b.get_by_test_id("message-input").press_sequentially("🍜")
    page_b.get_by_test_id("message-input").press("Enter")
    reply = page_a.get_by_test_id("message").filter(has_text="Sure, see you there")
    expect(reply).to_be_visible()
    expect(reply.get_by_test_id("message-text")).to_have_text("Sure, see you there\n🍜")
    expect(conversation_row(page_a, conversation_id).get_by_test_id("conversation-snippet")).to_contain_text("🍜")
    screenshot(page_a, "chat-desktop-conversation")
    screenshot(page_b, "chat-desktop-conversation-bob")


def test_the_typing_line_stays_while_the_other_keeps_typing_past_the_typing_ttl(app_server, signed_in):
    alice, bob, conversation = friends_in_direct_chat()
    page_a, page_b = signed_in(alice), signed_in(bob)
    open_conversation(page_a, app_server.url, conversation["_id"])
    open_conversation(page_b, app_server.url, conversation["_id"])
    indicator = page_a.get_by_test_id("typing-indicator")
    box = page_b.get_by_test_id("message-input")
    box.click()
    box.press_sequentially("A long message", delay=60)
    expect(indicator).to_be_visible()
    # Bob keeps typing for twice the typing TTL: Alice sees "typing…" the whole time.
    deadline = time.monotonic() + 2 * config.settings.typing_ttl_seconds
    while time.monotonic() < deadline:
        box.press_sequentially(" and more", delay=60)
        expect(indicator).to_be_visible(timeout=500)
    page_b.get_by_test_id("chat-title").click()  # blur: he stopped
    expect(indicator).to_have_count(0, timeout=8000)


def test_blank_message_is_not_sent_but_a_link_attachment_alone_is(app_server, signed_in):
    alice, _bob, conversation = friends_in_direct_chat()
    page = signed_in(alice)
    open_conversation(page, app_server.url, conversation["_id"])
    send(page, "   ")
    page.get_by_test_id("send-button").click()
    send(page, "real one")
    expect(page.get_by_test_id("message").filter(has_text="real one")).to_be_visible()
    expect(page.get_by_test_id("message")).to_have_count(1)

    # Attach two links (an image and a document) and send them without text.
    for url in ("https://example.com/photos/beach.jpg", "https://example.com/files/plan.pdf"):
        page.get_by_test_id("attach-button").click()
        page.get_by_test_id("attach-url").fill(url)
        page.get_by_test_id("attach-add").click()
    expect(page.get_by_test_id("pending-attachment")).to_have_count(2)
    page.get_by_test_id("message-input").press("Enter")
    expect(page.get_by_test_id("message")).to_have_count(2)
    sent = page.get_by_test_id("message").last
    # Links are links (opened in a new tab), never loaded by the page: not even the picture.
    links = sent.get_by_test_id("attachment-link")
    expect(links).to_have_count(2)
    expect(links.first).to_have_attribute("href", "https://example.com/photos/beach.jpg")
    expect(links.first).to_contain_text("beach.jpg")
    expect(links.last).to_contain_text("plan.pdf")
    expect(sent.locator("img")).to_have_count(0)
    expect(page.get_by_test_id("pending-attachment")).to_have_count(0)
    expect(sent.get_by_test_id("message-status")).to_have_attribute("data-status", "sent")
