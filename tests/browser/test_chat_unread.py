"""Unread counts on the chat page: live badges, the page title, clearing on open, 'read' for the sender."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.chat_helpers import (
    api_send,
    conversation_row,
    direct_conversation,
    make_friends,
    open_conversation,
    people,
    send,
)
from tests.browser.conftest import screenshot

pytestmark = pytest.mark.browser


def test_badge_counts_up_in_another_conversation_and_clears_when_opened(app_server, signed_in):
    alice, bob, carol = people("alice", "bob", "carol")
    make_friends(alice, bob)
    make_friends(carol, bob)
    with_alice = direct_conversation(alice, bob)
    with_carol = direct_conversation(carol, bob)
    api_send(app_server, carol, with_carol["_id"], "Morning Bob!")

    page_a, page_b = signed_in(alice), signed_in(bob)
    open_conversation(page_a, app_server.url, with_alice["_id"])
    open_conversation(page_b, app_server.url, with_carol["_id"])  # Bob looks at Carol's chat

    alice_row = conversation_row(page_b, with_alice["_id"])
    send(page_a, "First ping")
    expect(alice_row.get_by_test_id("unread-badge")).to_have_text("1")
    send(page_a, "Second ping")
    expect(alice_row.get_by_test_id("unread-badge")).to_have_text("2")
    expect(alice_row.get_by_test_id("conversation-snippet")).to_have_text("Second ping")
    expect(page_b).to_have_title("(2) uTool Chat")
    # Alice's messages reached Bob's tab but he has not read them.
    status = page_a.get_by_test_id("message").filter(has_text="Second ping").get_by_test_id("message-status")
    expect(status).to_have_attribute("data-status", "delivered")
    # The newest conversation moved to the top of Bob's list.
    first_row = page_b.get_by_test_id("conversation-item").first
    expect(first_row).to_have_attribute("data-conversation-id", with_alice["_id"])
    screenshot(page_b, "chat-desktop-unread")

    alice_row.click()
    expect(page_b.get_by_test_id("chat-title")).to_have_text("Alice Archer")
    expect(alice_row.get_by_test_id("unread-badge")).to_have_count(0)
    expect(page_b).to_have_title("uTool Chat")
    expect(alice_row).to_have_attribute("data-selected", "true")
    expect(status).to_have_attribute("data-status", "read")
    expect(
        page_a.get_by_test_id("message").filter(has_text="First ping").get_by_test_id("message-status")
    ).to_have_attribute("data-status", "read")
