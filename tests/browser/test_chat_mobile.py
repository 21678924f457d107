"""Phone width (375 px): the list and the conversation are two screens with a back button."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.chat_helpers import api_send, conversation_row, friends_in_direct_chat, send
from tests.browser.conftest import screenshot, wait_for_app

pytestmark = pytest.mark.browser


def test_phone_list_then_conversation_then_back(app_server, signed_in):
    alice, bob, conversation = friends_in_direct_chat()
    api_send(app_server, bob, conversation["_id"], "Are you around this afternoon?")

    page = signed_in(alice, width=375, height=740)
    page.goto(f"{app_server.url}/chat")
    wait_for_app(page)
    row = conversation_row(page, conversation["_id"])
    expect(row).to_be_visible()
    expect(row.get_by_test_id("unread-badge")).to_have_text("1")
    expect(page.get_by_test_id("conversation-view")).to_be_hidden()
    screenshot(page, "chat-phone-list")

    row.click()
    expect(page.get_by_test_id("chat-title")).to_have_text("Bob Baker")
    expect(page.get_by_test_id("conversation-list")).to_be_hidden()
    send(page, "Yes, from 3pm 👍")
    expect(page.get_by_test_id("message").filter(has_text="from 3pm")).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"the page scrolls sideways ({width}px)"
    screenshot(page, "chat-phone-conversation")

    page.get_by_test_id("chat-back").click()
    expect(page.get_by_test_id("conversation-list")).to_be_visible()
    expect(page.get_by_test_id("conversation-view")).to_be_hidden()
    expect(row.get_by_test_id("conversation-snippet")).to_have_text("You: Yes, from 3pm 👍")
    expect(row.get_by_test_id("unread-badge")).to_have_count(0)
