"""Message search in the web app, and opening a conversation at a message (issue 12's
browser "Done when", and issue 13's reply-quote jump).

People and history are arranged through the domain; everything else is done in the browser
the way a person does it: type in the search field, read the highlighted results, click (or
use the keyboard), land on the message in its conversation, scroll both ways.
"""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect

from tests.browser.chat_helpers import (
    allow_fast_seeding,
    api_send,
    conversation_row,
    direct_conversation,
    group_conversation,
    open_chat_list,
    open_conversation,
    people,
    send,
)
from tests.browser.conftest import screenshot, wait_for_app
from utool_chat.domain import messages

pytestmark = pytest.mark.browser

LONG_WAIT = 30_000  # generous: the machine is shared


def _word(prefix: str = "zq") -> str:
    """A word no other test's messages hold (the database lives for the whole session)."""
    return prefix + uuid.uuid4().hex[:8]


def _history(conversation_id: str, senders: list[dict], texts: list[str]) -> list[dict]:
    """Send `texts` in order through the real send path, alternating senders."""
    allow_fast_seeding()
    sent = []
    for n, text in enumerate(texts):
        message, _ = messages.send_message(senders[n % len(senders)]["_id"], conversation_id, text,
                                           temp_id=f"hist-{uuid.uuid4().hex}")
        sent.append(message)
    return sent


def _scroll(page, where: str) -> None:
    expression = "e.scrollTop = 0" if where == "top" else "e.scrollTop = e.scrollHeight"
    page.locator("#chat-scroll").evaluate(f"(e) => {{ {expression}; e.dispatchEvent(new Event('scroll')); }}")


def _in_view(page, locator) -> bool:
    return locator.evaluate(
        "(el) => { const box = document.getElementById('chat-scroll').getBoundingClientRect();"
        " const r = el.getBoundingClientRect(); return r.bottom > box.top && r.top < box.bottom; }"
    )


def _long_history_with(word: str, alice: dict, bob: dict, conversation_id: str) -> dict:
    """120 messages, the 60th Alice's and holding `word`; returns that message."""
    before = _history(conversation_id, [bob, alice], [f"Before {n}" for n in range(1, 60)])
    target, _ = messages.send_message(alice["_id"], conversation_id, f"The {word} deployment is ready for review")
    _history(conversation_id, [bob, alice], [f"After {n}" for n in range(1, 61)])
    assert len(before) == 59
    return target


def _lands_on_the_message_with_history_both_ways(page, target: dict, shot: str) -> None:
    row = page.locator(f'[data-testid=message][data-message-id="{target["_id"]}"]')
    expect(row).to_be_visible(timeout=LONG_WAIT)
    expect(row).to_have_attribute("data-jump", "highlight", timeout=LONG_WAIT)
    assert _in_view(page, row)
    rows = page.get_by_test_id("message")
    expect(rows).to_have_count(30)  # the page around it: older and newer messages
    texts = page.get_by_test_id("message-text").all_inner_texts()
    at = next(i for i, t in enumerate(texts) if target["content"] in t)
    assert 0 < at < len(texts) - 1, texts
    assert texts[at - 1] == "Before 59" and texts[at + 1] == "After 1"
    jump_latest = page.get_by_test_id("jump-to-latest")
    expect(jump_latest).to_have_attribute("data-show", "1")
    screenshot(page, shot)

    # Scrolling up loads older history, scrolling down newer, until the latest.
    history_start = page.get_by_test_id("history-start")
    loaded = 30
    while loaded < 120 and not history_start.is_visible():
        _scroll(page, "top")
        expect(rows).not_to_have_count(loaded, timeout=LONG_WAIT)
        loaded = rows.count()
    expect(history_start).to_be_visible(timeout=LONG_WAIT)
    expect(page.get_by_test_id("message-text").first).to_have_text("Before 1")
    assert loaded < 120  # the newer side is still to come
    while loaded < 120:
        _scroll(page, "bottom")
        expect(rows).not_to_have_count(loaded, timeout=LONG_WAIT)
        loaded = rows.count()
    expect(page.get_by_test_id("message-text").last).to_have_text("After 60")
    expect(jump_latest).to_have_attribute("data-show", "0")
    # Older history paged in from below is not "new messages".
    expect(page.get_by_test_id("new-messages-button")).to_have_attribute("data-show", "0")
    texts = page.get_by_test_id("message-text").all_inner_texts()
    assert texts == [*(f"Before {n}" for n in range(1, 60)), target["content"], *(f"After {n}" for n in range(1, 61))]


def test_search_a_word_from_another_conversation_and_land_on_it_in_context(app_server, signed_in):
    alice, bob, carol = people("alice", "bob", "carol")
    with_alice = direct_conversation(alice, bob)
    with_carol = direct_conversation(bob, carol)
    _history(with_carol["_id"], [carol, bob], ["Coffee later?", "Sure, at four"])
    word = _word()
    target = _long_history_with(word, alice, bob, with_alice["_id"])

    page = signed_in(bob)
    open_chat_list(page, app_server.url)
    conversation_row(page, with_carol["_id"]).click()
    expect(page.get_by_test_id("chat-title")).to_have_text("Carol Chen")
    # Opening a chat focuses its message box once it is drawn; a click on the search before
    # that would lose the focus to it again (and the empty search closes on blur).
    expect(page.get_by_test_id("message-input")).to_be_focused(timeout=LONG_WAIT)

    search = page.get_by_test_id("search-input")
    search.click()
    expect(page.get_by_test_id("search-idle")).to_be_visible(timeout=LONG_WAIT)
    part = word[2:8]  # a piece from the middle of the word
    search.fill(part)
    result = page.get_by_test_id("search-result")
    expect(result).to_have_count(1, timeout=LONG_WAIT)
    expect(result.get_by_test_id("search-result-conversation")).to_have_text("Alice Archer")
    expect(result.get_by_test_id("search-result-sender")).to_have_text("Alice Archer: ")
    expect(result.get_by_test_id("search-result-snippet")).to_have_text(f"Alice Archer: {target['content']}")
    marks = result.locator("mark")
    expect(marks).to_have_count(1)
    expect(marks).to_have_text(part)
    screenshot(page, "search-desktop-results")

    result.click()
    page.wait_for_url(re.compile(f"/chat/{with_alice['_id']}$"), timeout=LONG_WAIT)
    expect(page.get_by_test_id("chat-title")).to_have_text("Alice Archer")
    _lands_on_the_message_with_history_both_ways(page, target, "search-desktop-landed")

    # Nothing matches: said so. A query the server refuses: the error state, not a crash.
    search.fill(_word("nomatch"))
    expect(page.get_by_test_id("search-empty")).to_contain_text("No messages match", timeout=LONG_WAIT)
    search.fill("x" * 501)
    expect(page.get_by_test_id("search-error")).to_contain_text("500", timeout=LONG_WAIT)
    page.get_by_test_id("search-back").click()
    expect(page.get_by_test_id("conversation-list")).to_be_visible()


def test_search_on_a_phone_is_its_own_screen(app_server, signed_in):
    alice, bob = people("alice", "bob")
    conversation = direct_conversation(alice, bob)
    word = _word()
    target = _long_history_with(word, alice, bob, conversation["_id"])

    page = signed_in(bob, width=375, height=740)
    page.goto(f"{app_server.url}/chat")
    wait_for_app(page)
    expect(page.get_by_test_id("conversation-list")).to_be_visible()
    page.get_by_test_id("search-input").click()
    page.get_by_test_id("search-input").fill(word[:5])
    result = page.get_by_test_id("search-result")
    expect(result).to_have_count(1, timeout=LONG_WAIT)
    expect(result.locator("mark")).to_have_text(word[:5])
    expect(page.get_by_test_id("conversation-view")).to_be_hidden()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"the page scrolls sideways ({width}px)"
    screenshot(page, "search-phone-results")

    result.click()
    expect(page.get_by_test_id("chat-title")).to_have_text("Alice Archer", timeout=LONG_WAIT)
    expect(page.get_by_test_id("search-panel")).to_be_hidden()
    _lands_on_the_message_with_history_both_ways(page, target, "search-phone-landed")

    # Back from the conversation: the results again; back from them: the list.
    page.get_by_test_id("chat-back").click()
    expect(result).to_be_visible(timeout=LONG_WAIT)
    page.get_by_test_id("search-back").click()
    expect(page.get_by_test_id("conversation-list")).to_be_visible()
    expect(page.get_by_test_id("search-panel")).to_have_count(0)

    # "Search in this conversation" from the header opens the search screen over it.
    conversation_row(page, conversation["_id"]).click()
    page.get_by_test_id("search-in-conversation").click()
    expect(page.get_by_test_id("search-scope")).to_contain_text("Alice Archer")
    expect(page.get_by_test_id("search-input")).to_be_focused()
    expect(page.get_by_test_id("conversation-view")).to_be_hidden()


def test_keyboard_only_search(app_server, signed_in):
    alice, bob, carol = people("alice", "bob", "carol")
    with_alice = direct_conversation(alice, bob)
    group = group_conversation(carol, [bob, alice], name="Launch crew")
    word = _word()
    _history(with_alice["_id"], [alice], [f"Older note about {word} plans"])
    newest, = _history(group["_id"], [carol], [f"Newer {word} update from the crew"])

    page = signed_in(bob)
    open_chat_list(page, app_server.url)
    search = page.get_by_test_id("search-input")
    page.locator("body").press("Control+k")
    expect(search).to_be_focused()
    page.keyboard.type(word)
    results = page.get_by_test_id("search-result")
    expect(results).to_have_count(2, timeout=LONG_WAIT)
    # Newest first.
    expect(results.first.get_by_test_id("search-result-conversation")).to_have_text("Launch crew")
    page.keyboard.press("ArrowDown")
    expect(results.nth(0)).to_have_attribute("data-active", "true")
    page.keyboard.press("ArrowDown")
    expect(results.nth(1)).to_have_attribute("data-active", "true")
    expect(results.nth(0)).to_have_attribute("data-active", "false")
    expect(search).to_have_attribute("aria-activedescendant", "search-result-1")
    page.keyboard.press("ArrowUp")
    expect(results.nth(0)).to_have_attribute("data-active", "true")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(f"/chat/{group['_id']}$"), timeout=LONG_WAIT)
    row = page.locator(f'[data-testid=message][data-message-id="{newest["_id"]}"]')
    expect(row).to_have_attribute("data-jump", "highlight", timeout=LONG_WAIT)

    # Escape closes the search; "/" (outside a field) opens it again.
    search.focus()
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("conversation-list")).to_be_visible()
    expect(search).to_have_value("")
    page.locator("#chat-scroll").click()
    page.keyboard.press("/")
    expect(search).to_be_focused()
    # "/" typed in the composer stays text.
    page.get_by_test_id("message-input").click()
    page.keyboard.type("a/b")
    expect(page.get_by_test_id("message-input")).to_have_value("a/b")


def test_reply_quote_jumps_to_an_original_outside_the_loaded_page(app_server, signed_in):
    alice, bob = people("alice", "bob")
    conversation = direct_conversation(alice, bob)
    original, = _history(conversation["_id"], [alice], ["The original question, asked long ago"])
    _history(conversation["_id"], [bob, alice], [f"Chatter {n}" for n in range(1, 80)])
    allow_fast_seeding()
    messages.send_message(bob["_id"], conversation["_id"], "Answering that at last", reply_to=original["_id"])

    page = signed_in(bob)
    open_conversation(page, app_server.url, conversation["_id"])
    row = page.locator(f'[data-testid=message][data-message-id="{original["_id"]}"]')
    expect(row).to_have_count(0)  # not in the latest page
    quote = page.get_by_test_id("message").filter(has_text="Answering that at last").get_by_test_id("reply-quote")
    quote.click()
    expect(row).to_be_visible(timeout=LONG_WAIT)
    expect(row).to_have_attribute("data-jump", "highlight")
    assert _in_view(page, row)
    expect(page.get_by_test_id("history-start")).to_be_visible()
    jump_latest = page.get_by_test_id("jump-to-latest")
    expect(jump_latest).to_have_attribute("data-show", "1")
    screenshot(page, "reply-quote-jump")
    # A live message while reading old history: not glued under it (there is a gap), but
    # the list shows it and "Jump to latest" brings it.
    rows = page.get_by_test_id("message")
    count = rows.count()
    api_send(app_server, alice, conversation["_id"], "Live while Bob reads old history")
    expect(conversation_row(page, conversation["_id"]).get_by_test_id("conversation-snippet")).to_have_text(
        "Live while Bob reads old history", timeout=LONG_WAIT)
    expect(rows).to_have_count(count)
    expect(rows.filter(has_text="Live while Bob reads old history")).to_have_count(0)
    jump_latest.click()
    latest = page.get_by_test_id("message").last
    expect(latest).to_contain_text("Live while Bob reads old history", timeout=LONG_WAIT)
    expect(rows.filter(has_text="Answering that at last")).to_have_count(1)
    expect(jump_latest).to_have_attribute("data-show", "0")

    # Sending from old history goes back to the latest.
    quote.click()
    expect(row).to_have_attribute("data-jump", "highlight", timeout=LONG_WAIT)
    expect(jump_latest).to_have_attribute("data-show", "1")
    send(page, "Sent while reading old history")
    expect(rows.last).to_contain_text("Sent while reading old history", timeout=LONG_WAIT)
    expect(rows.filter(has_text="Live while Bob reads old history")).to_have_count(1, timeout=LONG_WAIT)
    expect(row).to_have_count(0)
    expect(jump_latest).to_have_attribute("data-show", "0")
    expect(jump_latest).to_have_attribute("data-show", "0")
    expect(latest).to_be_in_viewport()


def test_search_shows_nothing_of_conversations_the_user_is_not_in(app_server, signed_in):
    alice, bob, carol, dave = people("alice", "bob", "carol", "dave")
    private = direct_conversation(carol, dave)
    group = group_conversation(carol, [dave, alice], name="Without Bob")
    mine = direct_conversation(bob, carol)
    word = _word()
    _history(private["_id"], [carol, dave], [f"Secret {word} one", f"Secret {word} two"])
    _history(group["_id"], [dave], [f"Group {word} secret"])
    shared, = _history(mine["_id"], [carol], [f"Shared {word} note for Bob"])

    page = signed_in(bob)
    open_chat_list(page, app_server.url)
    search = page.get_by_test_id("search-input")
    search.click()
    search.fill(word)
    results = page.get_by_test_id("search-result")
    expect(results).to_have_count(1, timeout=LONG_WAIT)
    expect(results).to_have_attribute("data-message-id", shared["_id"])
    expect(page.get_by_test_id("search-panel")).not_to_contain_text("Secret")
    expect(page.get_by_test_id("search-panel")).not_to_contain_text("Group")
    # By sender too: Dave never wrote to Bob.
    search.fill(f"from:{dave['username']}")
    expect(page.get_by_test_id("search-empty")).to_be_visible(timeout=LONG_WAIT)
    # Scoped to the open conversation from its header.
    page.get_by_test_id("search-back").click()
    conversation_row(page, mine["_id"]).click()
    page.get_by_test_id("search-in-conversation").click()
    expect(page.get_by_test_id("search-scope")).to_contain_text("Carol Chen")
    page.get_by_test_id("search-input").fill("note")
    expect(results).to_have_count(1, timeout=LONG_WAIT)
    expect(results).to_have_attribute("data-message-id", shared["_id"])
