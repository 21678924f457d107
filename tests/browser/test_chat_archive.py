"""Archiving a direct chat: it leaves the list, and the next message brings it back with a badge."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.chat_helpers import (
    api_send,
    conversation_row,
    friends_in_direct_chat,
    open_conversation,
    open_menu_item,
)
from utool_chat.domain import conversations

pytestmark = pytest.mark.browser


def test_archived_chat_leaves_the_list_and_a_new_message_brings_it_back_with_a_badge(app_server, signed_in):
    alice, bob, conversation = friends_in_direct_chat()
    api_send(app_server, bob, conversation["_id"], "Did you get the tickets?")
    page = signed_in(alice)
    open_conversation(page, app_server.url, conversation["_id"])
    row = conversation_row(page, conversation["_id"])
    expect(row).to_be_visible()

    open_menu_item(page, "archive-or-leave")
    expect(page.get_by_role("alertdialog")).to_contain_text("Archive this chat?")
    page.get_by_test_id("confirm-archive-or-leave").click()
    page.wait_for_url(re.compile(r"/chat/?$"))
    expect(row).to_have_count(0)
    assert conversations.list_conversations(alice["_id"], archived=True)[0][0]["_id"] == conversation["_id"]

    api_send(app_server, bob, conversation["_id"], "Hello? 🎟️")
    expect(row.get_by_test_id("unread-badge")).to_have_text("1")
    expect(row.get_by_test_id("conversation-snippet")).to_have_text("Hello? 🎟️")
    first_row = page.get_by_test_id("conversation-item").first
    expect(first_row).to_have_attribute("data-conversation-id", conversation["_id"])
    # The top bar's Chats link carries the total.
    expect(page.get_by_test_id("nav-unread")).to_have_text("1")
    row.click()
    expect(page.get_by_test_id("chat-title")).to_have_text("Bob Baker")
    expect(page.get_by_test_id("nav-unread")).to_have_count(0)
