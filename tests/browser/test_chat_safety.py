"""User text is text: markup in a message is shown literally and never runs."""

from __future__ import annotations

import pytest
from playwright.sync_api import Dialog, expect

from tests.browser.chat_helpers import (
    api_send,
    direct_conversation,
    log_in,
    make_friends,
    make_user,
    open_conversation,
    send,
)

pytestmark = pytest.mark.browser

PAYLOAD = "<img src=x onerror=alert(1)>"


def test_markup_in_messages_and_names_is_shown_literally_and_runs_nothing(app_server, new_page):
    alice = make_user("alice", "Alice Archer")
    mallory = make_user("mallory", "<b onmouseover=alert(2)>Mallory</b>")
    make_friends(alice, mallory)
    conversation = direct_conversation(alice, mallory)
    api_send(app_server, mallory, conversation["_id"], PAYLOAD)

    page = new_page()
    dialogs: list[str] = []

    def refuse(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", refuse)
    log_in(page, app_server.url, alice)
    open_conversation(page, app_server.url, conversation["_id"])
    send(page, PAYLOAD)

    expect(page.locator('[data-testid=message][data-own="false"] [data-testid=message-text]')).to_have_text(PAYLOAD)
    expect(page.locator('[data-testid=message][data-own="true"] [data-testid=message-text]')).to_have_text(PAYLOAD)
    expect(page.get_by_test_id("chat-title")).to_have_text("<b onmouseover=alert(2)>Mallory</b>")
    expect(page.get_by_test_id("conversation-snippet").first).to_contain_text(PAYLOAD)
    page.get_by_test_id("chat-title").hover()
    assert page.locator('img[src="x"]').count() == 0
    assert page.locator("[data-testid=chat-page] b").count() == 0
    page.wait_for_timeout(300)
    assert dialogs == []
