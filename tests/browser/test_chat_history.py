"""Long history: the newest page first, older pages while scrolling up, reading position kept."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.chat_helpers import api_send, friends_in_direct_chat, open_conversation, seed_messages

pytestmark = pytest.mark.browser

SEEDED = 200


def _scroll_to_top(page) -> None:
    page.locator("#chat-scroll").evaluate("(e) => { e.scrollTop = 0; e.dispatchEvent(new Event('scroll')); }")


def test_scrolling_up_loads_older_pages_until_the_first_message(app_server, signed_in):
    alice, bob, conversation = friends_in_direct_chat()
    seed_messages(conversation["_id"], [alice, bob], SEEDED)

    page = signed_in(alice)
    open_conversation(page, app_server.url, conversation["_id"])
    rows = page.get_by_test_id("message")
    expect(rows.last).to_contain_text(f"Seeded message {SEEDED}")
    expect(rows).to_have_count(30)
    # Opened at the bottom.
    at_bottom = page.locator("#chat-scroll").evaluate("(e) => e.scrollHeight - e.scrollTop - e.clientHeight < 5")
    assert at_bottom

    anchor = rows.first
    anchor_key = anchor.get_attribute("data-msg-key")
    _scroll_to_top(page)
    expect(rows).to_have_count(60)
    # The message that was at the top is still in view (the reading position is kept).
    kept = page.locator(f'[data-msg-key="{anchor_key}"]').evaluate(
        "(el) => { const box = document.getElementById('chat-scroll').getBoundingClientRect();"
        " const r = el.getBoundingClientRect(); return r.top >= box.top - 1 && r.top < box.bottom; }"
    )
    assert kept
    loaded = 60
    while loaded < SEEDED:
        _scroll_to_top(page)
        expect(rows).not_to_have_count(loaded)
        loaded = rows.count()
    expect(rows).to_have_count(SEEDED)
    expect(page.get_by_test_id("history-start")).to_be_visible()
    expect(rows.first).to_contain_text("Seeded message 1")
    # In order, oldest at the top.
    texts = page.get_by_test_id("message-text").all_inner_texts()
    assert texts == [f"Seeded message {n}" for n in range(1, SEEDED + 1)]

    # Scrolled up, a new message does not yank the view down: a button offers it instead.
    new_messages = page.get_by_test_id("new-messages-button")
    expect(new_messages).to_have_attribute("data-show", "0")
    api_send(app_server, bob, conversation["_id"], "Fresh news at the bottom")
    expect(rows.last).to_contain_text("Fresh news at the bottom")
    expect(new_messages).to_have_attribute("data-show", "1")
    assert page.locator("#chat-scroll").evaluate("(e) => e.scrollTop < e.scrollHeight / 2")
    new_messages.click()
    expect(new_messages).to_have_attribute("data-show", "0")
    expect(rows.last).to_be_in_viewport()
