"""The web app never lies, in BOTH servers: the production build (`./scripts/run.sh`) and the
dev server (`./scripts/run.sh --dev`: hot reload, React StrictMode mounting everything twice).

Each test runs against both (`app` is parametrised): live updates survive every kind of
navigation (list → chat → list → another chat, back/forward, the friends page's "Message",
a group created in the UI), the friends page is live, drafts stay with their conversation,
sending is instant and offline-safe (each message stored exactly once, in order, checked over
the HTTP API), the keyboard-only flow works, and axe-core finds no serious or critical
violation on the login, friends and chat pages.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.chat_helpers import (
    conversation_row,
    direct_conversation,
    group_conversation,
    make_friends,
    open_chat_list,
    open_conversation,
    people,
    send,
)
from tests.browser.conftest import PASSWORD, ROOT, AppServer, login_in_browser, wait_for_app
from utool_chat.domain import accounts

pytestmark = pytest.mark.browser

LIVE_MS = 20_000  # the machine is loaded: generous, never a sleep
AXE = ROOT / ".tools/node_modules/axe-core/axe.min.js"


@pytest.fixture(params=["prod", "dev"])
def app(request) -> AppServer:
    return request.getfixturevalue("app_server" if request.param == "prod" else "dev_app_server")


@pytest.fixture()
def tab(page_at, app):
    """tab(user) -> a Page of its own (own localStorage) on `app`, signed in through the form."""

    def _tab(user: dict[str, Any]):
        page = page_at(app.url)
        login_in_browser(page, app.url, user["username"])
        wait_for_app(page)
        return page

    return _tab


def _api(app: AppServer, user: dict[str, Any], method: str, path: str, **kwargs: Any) -> Any:
    token = accounts.login(user["username"], PASSWORD)["token"]
    response = httpx.request(
        method, f"{app.backend_url}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=20, **kwargs
    )
    assert response.status_code < 300, response.text
    return response.json()["data"]


def _stored_texts(app: AppServer, user: dict[str, Any], cid: str) -> list[str]:
    """The conversation's stored messages, oldest first, over the HTTP API."""
    page = _api(app, user, "GET", f"/api/v1/chat/conversations/{cid}/messages", params={"limit": 100})
    return [m["content"] for m in sorted(page, key=lambda m: m["seq"])]


def _message(page, text: str):
    return page.get_by_test_id("message").filter(has_text=text)


def _assert_live(viewer, other, app: AppServer, cid: str, tag: str) -> None:
    """`viewer` (who just navigated to `cid`) gets `other`'s message, the read tick of its own
    message and `other`'s typing, live."""
    expect(viewer).to_have_url(re.compile(f"/chat/{cid}$"))
    open_conversation(other, app.url, cid)
    send(other, f"{tag}: from the other side")
    expect(_message(viewer, f"{tag}: from the other side")).to_be_visible(timeout=LIVE_MS)
    send(viewer, f"{tag}: mine")
    own = viewer.locator("[data-testid=message][data-own=true]").filter(has_text=f"{tag}: mine")
    expect(own).to_have_attribute("data-status", "read", timeout=LIVE_MS)  # the other side has it open
    other.get_by_test_id("message-input").press_sequentially("typing…")
    expect(viewer.get_by_test_id("typing-indicator")).to_be_visible(timeout=LIVE_MS)
    other.get_by_test_id("message-input").fill("")


def test_live_after_every_kind_of_navigation(app, tab):
    alice, bob, carol = people("alice", "bob", "carol")
    make_friends(alice, bob)
    make_friends(bob, carol)
    make_friends(alice, carol)
    direct = direct_conversation(alice, bob)["_id"]
    group = group_conversation(alice, [bob, carol], "Navigators")["_id"]
    page_a, page_b = tab(alice), tab(bob)

    # list → conversation
    open_chat_list(page_b, app.url)
    conversation_row(page_b, direct).click()
    _assert_live(page_b, page_a, app, direct, "list→chat")
    # → list → another conversation
    page_b.get_by_test_id("nav-chats").click()
    page_b.get_by_test_id("no-conversation").wait_for()
    conversation_row(page_b, group).click()
    _assert_live(page_b, page_a, app, group, "list→group")
    # browser back (to the list, to the first conversation) and forward
    page_b.go_back()
    page_b.go_back()
    _assert_live(page_b, page_a, app, direct, "back")
    page_b.go_forward()
    page_b.go_forward()
    _assert_live(page_b, page_a, app, group, "forward")
    # the friends page's "Message"
    page_b.get_by_test_id("nav-friends").click()
    page_b.locator(f'[data-testid=friend][data-username="{alice["username"]}"]').get_by_test_id(
        "message-friend"
    ).click()
    _assert_live(page_b, page_a, app, direct, "friends→Message")
    # a group created in the UI
    page_b.get_by_test_id("new-chat").click()
    picker = page_b.get_by_test_id("people-picker")
    for friend in (alice, carol):
        picker.locator(f'[data-testid=pick-friend][data-username="{friend["username"]}"]').click()
    picker.get_by_test_id("group-name").fill("Made here")
    picker.get_by_test_id("picker-submit").click()
    page_b.wait_for_url(lambda url: re.search(r"/chat/[0-9a-f]+$", url) is not None and direct not in url)
    created = page_b.url.rstrip("/").rsplit("/", 1)[-1]
    _assert_live(page_b, page_a, app, created, "new group")


def test_friends_page_shows_a_request_and_an_accept_live(app, tab):
    bob, carol, dave = people("bob", "carol", "dave")
    page_b = tab(bob)
    page_b.goto(f"{app.url}/friends")
    wait_for_app(page_b)
    # Carol asks Bob: the request appears.
    _api(app, carol, "POST", "/api/v1/friends/requests", json={"userId": bob["_id"]})
    expect(page_b.locator(f'[data-testid=incoming-request][data-username="{carol["username"]}"]')).to_be_visible(
        timeout=LIVE_MS
    )
    # Bob asked Dave; Dave accepts: Dave is a friend now.
    request = _api(app, bob, "POST", "/api/v1/friends/requests", json={"userId": dave["_id"]})
    _api(app, dave, "POST", f"/api/v1/friends/requests/{request['_id']}/accept")
    expect(page_b.locator(f'[data-testid=friend][data-username="{dave["username"]}"]')).to_be_visible(
        timeout=LIVE_MS
    )


def test_a_draft_stays_with_its_conversation_across_switching_and_reload(app, tab):
    alice, bob, carol = people("alice", "bob", "carol")
    make_friends(alice, bob)
    make_friends(alice, carol)
    with_bob = direct_conversation(alice, bob)["_id"]
    with_carol = direct_conversation(alice, carol)["_id"]
    page = tab(alice)
    open_chat_list(page, app.url)
    box = page.get_by_test_id("message-input")
    conversation_row(page, with_bob).click()
    expect(page).to_have_url(re.compile(f"/chat/{with_bob}$"))
    expect(box).to_be_focused()  # opening a conversation focuses the message box
    box.press_sequentially("for Bob only")
    conversation_row(page, with_carol).click()
    expect(page).to_have_url(re.compile(f"/chat/{with_carol}$"))
    expect(box).to_have_value("")
    box.press_sequentially("for Carol")
    conversation_row(page, with_bob).click()
    expect(box).to_have_value("for Bob only")
    page.reload()
    wait_for_app(page)
    expect(page.get_by_test_id("message-input")).to_have_value("for Bob only")
    page.get_by_test_id("message-input").press("Enter")
    expect(_message(page, "for Bob only")).to_be_visible(timeout=LIVE_MS)
    page.reload()
    wait_for_app(page)
    expect(page.get_by_test_id("message-input")).to_have_value("")
    assert _stored_texts(app, alice, with_bob) == ["for Bob only"]
    assert _stored_texts(app, alice, with_carol) == []


def test_offline_messages_wait_in_the_outbox_and_are_stored_once_in_order(app, tab):
    alice, bob = people("alice", "bob")
    make_friends(alice, bob)
    cid = direct_conversation(alice, bob)["_id"]
    page = tab(alice)
    open_conversation(page, app.url, cid)
    page.context.set_offline(True)
    expect(page.get_by_test_id("offline-banner")).to_have_text(re.compile("Offline — reconnecting"))
    box = page.get_by_test_id("message-input")
    for text in ("first offline", "second offline", "third offline"):
        box.fill(text)
        box.press("Enter")
    # The same text again, Enter three times and Send once: one message.
    box.fill("said once")
    for _ in range(3):
        box.press("Enter")
    page.get_by_test_id("send-button").click()
    waiting = page.get_by_test_id("outbox-message")
    expect(waiting).to_have_count(4)
    expect(waiting.first.get_by_test_id("message-status")).to_have_text("Waiting")
    page.context.set_offline(False)
    expect(page.get_by_test_id("offline-banner")).to_be_hidden(timeout=LIVE_MS)
    expected = ["first offline", "second offline", "third offline", "said once"]
    for text in expected:
        expect(page.locator("[data-testid=message][data-own=true]").filter(has_text=text)).to_have_attribute(
            "data-status", re.compile("sent|delivered|read"), timeout=LIVE_MS
        )
    expect(waiting).to_have_count(0)
    assert _stored_texts(app, alice, cid) == expected


def test_a_message_waiting_when_the_page_is_reloaded_is_sent_once_afterwards(app, tab):
    alice, bob = people("alice", "bob")
    make_friends(alice, bob)
    cid = direct_conversation(alice, bob)["_id"]
    page = tab(alice)
    context = page.context
    open_conversation(page, app.url, cid)
    context.set_offline(True)
    send(page, "kept across a reload")
    expect(page.get_by_test_id("outbox-message")).to_have_count(1)
    page.close()  # offline, the page cannot reload: a new page of the same browser profile
    context.set_offline(False)
    page = context.new_page()
    open_conversation(page, app.url, cid)
    expect(_message(page, "kept across a reload")).to_have_attribute(
        "data-status", re.compile("sent|delivered|read"), timeout=LIVE_MS
    )
    expect(page.get_by_test_id("outbox-message")).to_have_count(0)
    page.reload()
    wait_for_app(page)
    expect(_message(page, "kept across a reload")).to_have_count(1)
    assert _stored_texts(app, alice, cid) == ["kept across a reload"]


def _tab_to(page, selector: str, backwards: bool = False, most: int = 40) -> int:
    """Press Tab (Shift+Tab) until the focused element matches `selector`; the presses it took."""
    for presses in range(1, most + 1):
        page.keyboard.press("Shift+Tab" if backwards else "Tab")
        if page.evaluate("(s) => !!document.activeElement && document.activeElement.matches(s)", selector):
            return presses
    seen = page.evaluate("() => document.activeElement && document.activeElement.outerHTML.slice(0, 200)")
    raise AssertionError(f"{selector} not reached with {most} presses (focus on {seen})")


def test_keyboard_only_log_in_open_a_chat_send_and_reply(app, page_at):
    alice, bob = people("alice", "bob")
    make_friends(alice, bob)
    cid = direct_conversation(alice, bob)["_id"]
    page = page_at(app.url)
    page.goto(f"{app.url}/login")
    wait_for_app(page)
    _tab_to(page, "input[name=username]")
    page.keyboard.type(bob["username"])
    _tab_to(page, "input[name=password]")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/chat"))
    wait_for_app(page)
    page.get_by_test_id("conversation-list").wait_for()
    # The skip link is the first stop and leads to the content.
    assert _tab_to(page, "[data-testid=skip-link]") == 1
    _tab_to(page, f'[data-testid=conversation-item][data-conversation-id="{cid}"]')
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(f"/chat/{cid}$"))
    expect(page.get_by_test_id("message-input")).to_be_focused()
    page.keyboard.type("typed with the keyboard")
    page.keyboard.press("Enter")
    expect(_message(page, "typed with the keyboard")).to_be_visible(timeout=LIVE_MS)
    _api(app, alice, "POST", f"/api/v1/chat/conversations/{cid}/messages", json={"content": "answer me"})
    expect(_message(page, "answer me")).to_be_visible(timeout=LIVE_MS)
    # One stop for every message's actions: a few Shift+Tabs back from the box, not dozens.
    assert _tab_to(page, "#chat-scroll .chat-actions button", backwards=True, most=8) <= 8
    expect(page.locator(".chat-actions:focus-within")).to_be_visible()
    page.keyboard.press("End")  # the newest message: Alice's
    _tab_to_reply = page.locator("[data-testid=reply-button][tabindex='0']")
    for _ in range(3):
        if _tab_to_reply.count():
            break
        page.keyboard.press("ArrowRight")
    expect(_tab_to_reply).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("reply-banner")).to_be_visible()
    expect(page.get_by_test_id("message-input")).to_be_focused()
    page.keyboard.type("my keyboard reply")
    page.keyboard.press("Enter")
    reply = _message(page, "my keyboard reply")
    expect(reply.get_by_test_id("reply-quote")).to_contain_text("answer me", timeout=LIVE_MS)
    assert _stored_texts(app, alice, cid)[-1] == "my keyboard reply"


def _serious_violations(page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document)")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:5]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_axe_finds_no_serious_violation_on_login_friends_and_chat(app, page_at, tab):
    assert AXE.exists(), "axe-core is installed by scripts/setup.sh --browser"
    alice, bob = people("alice", "bob")
    make_friends(alice, bob)
    cid = direct_conversation(alice, bob)["_id"]
    _api(app, bob, "POST", f"/api/v1/chat/conversations/{cid}/messages", json={"content": "hello there"})
    login = page_at(app.url)
    login.goto(f"{app.url}/login")
    wait_for_app(login)
    assert _serious_violations(login) == []
    page = tab(alice)
    page.goto(f"{app.url}/friends")
    wait_for_app(page)
    page.locator("[data-testid=friend]").first.wait_for()
    assert _serious_violations(page) == []
    open_conversation(page, app.url, cid)
    send(page, "a reply")
    expect(page.locator("[data-testid=message][data-own=true]")).to_have_attribute(
        "data-status", re.compile("sent|delivered|read"), timeout=LIVE_MS
    )
    assert _serious_violations(page) == []
