"""Accounts and friends in a real browser: the login door, the session, and two users
becoming friends with live updates on both open pages."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import (
    PASSWORD,
    login_in_browser,
    register_in_browser,
    screenshot,
    unique_username,
    wait_for_app,
)
from utool_chat.domain import accounts, friends
from utool_chat.domain.errors import Unauthenticated

pytestmark = pytest.mark.browser

DESKTOP = (1280, 800)
PHONE = (375, 740)


def _stored_token(page) -> str:
    raw = page.evaluate("() => window.localStorage.getItem('utool_token')") or ""
    return raw.strip('"')


def _assert_no_horizontal_scroll(page) -> None:
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"page is {overflow}px wider than the viewport"


def test_logged_out_visit_to_friends_redirects_to_login(new_page, app_server):
    page = new_page()
    page.goto(f"{app_server.url}/friends")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Ffriends"))
    expect(page.get_by_test_id("login-form")).to_be_visible()


def test_register_shows_inline_messages_for_bad_username_and_short_password(new_page, app_server):
    page = new_page()
    page.goto(f"{app_server.url}/register")
    wait_for_app(page)
    page.locator("input[name=username]").fill("No Spaces!")
    page.locator("input[name=password]").fill("short")
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id("password-error")).to_have_text(re.compile("at least 8 characters"))
    expect(page.get_by_test_id("username-error")).to_have_text(re.compile("3–32 characters"))
    expect(page).to_have_url(re.compile("/register"))


def test_register_shows_inline_message_for_taken_username(new_page, app_server):
    username = unique_username("taken")
    accounts.register(username, PASSWORD)
    page = new_page()
    page.goto(f"{app_server.url}/register")
    wait_for_app(page)
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(PASSWORD)
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id("username-error")).to_have_text("That username is already taken.")


def test_login_with_wrong_password_shows_inline_message(new_page, app_server):
    username = unique_username("wrongpw")
    accounts.register(username, PASSWORD)
    page = new_page()
    page.goto(f"{app_server.url}/login")
    wait_for_app(page)
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill("not the password")
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id("password-error")).to_have_text("Wrong username or password.")
    expect(page).to_have_url(re.compile("/login"))


def test_session_survives_reload_and_logout_revokes_it(new_page, app_server):
    username = unique_username("reload")
    page = new_page()
    register_in_browser(page, app_server.url, username, display_name="Reload Tester")
    expect(page).to_have_url(re.compile("/friends"))
    token = _stored_token(page)
    assert accounts.authenticate(token)["username"] == username

    page.reload()
    wait_for_app(page)
    expect(page).to_have_url(re.compile("/friends"))
    expect(page.get_by_test_id("user-menu")).to_contain_text("Reload Tester")

    page.get_by_test_id("user-menu").click()
    page.get_by_test_id("logout").click()
    expect(page).to_have_url(re.compile("/login"))
    assert _stored_token(page) == ""
    with pytest.raises(Unauthenticated):
        accounts.authenticate(token)

    page.goto(f"{app_server.url}/friends")
    expect(page).to_have_url(re.compile("/login"))

    login_in_browser(page, app_server.url, username)
    expect(page).to_have_url(re.compile("/chat"))


def test_two_users_become_friends_with_live_updates(new_page, app_server):
    alice_name, bob_name = unique_username("alice"), unique_username("bob")
    alice, bob = new_page(), new_page()
    register_in_browser(alice, app_server.url, alice_name, display_name="Alice Liddell")
    register_in_browser(bob, app_server.url, bob_name, display_name="Bob Builder")
    for page in (alice, bob):
        expect(page).to_have_url(re.compile("/friends"))
        expect(page.get_by_test_id("friends-empty")).to_be_visible()

    # Alice finds Bob and asks; Bob's open page shows the request without a reload.
    alice.get_by_test_id("friend-search").fill(bob_name[:8])
    result = alice.get_by_test_id("search-result").filter(has_text=bob_name)
    expect(result).to_contain_text("Bob Builder")
    result.get_by_test_id("add-friend").click()
    expect(result).to_contain_text("Requested")
    expect(alice.get_by_test_id("outgoing-request").filter(has_text=bob_name)).to_be_visible()

    incoming = bob.get_by_test_id("incoming-request").filter(has_text=alice_name)
    expect(incoming).to_contain_text("Alice Liddell")
    screenshot(bob, "friends-incoming-request-desktop")

    # Bob accepts; both lists show the other, Alice's without a reload.
    incoming.get_by_test_id("accept-request").click()
    expect(bob.get_by_test_id("friend").filter(has_text=alice_name)).to_be_visible()
    expect(bob.get_by_test_id("incoming-card")).to_have_count(0)
    alice_friend = alice.get_by_test_id("friend").filter(has_text=bob_name)
    expect(alice_friend).to_contain_text("Bob Builder")
    expect(alice.get_by_test_id("outgoing-card")).to_have_count(0)

    # "Message" opens a direct chat with that friend.
    bob_id = accounts.login(bob_name, PASSWORD)["user"]["_id"]
    expect(alice_friend.get_by_test_id("message-friend")).to_have_attribute("href", f"/chat?with={bob_id}")
    screenshot(alice, "friends-accepted-desktop")

    # Seen from a fresh page load as well (not only through live updates).
    alice.reload()
    wait_for_app(alice)
    expect(alice.get_by_test_id("friend").filter(has_text=bob_name)).to_be_visible()


def test_an_overlong_search_is_capped_and_live_updates_keep_coming(new_page, app_server):
    alice_name, bob_name = unique_username("alice"), unique_username("bob")
    bob = accounts.register(bob_name, PASSWORD, "Bob Builder")
    page = new_page()
    register_in_browser(page, app_server.url, alice_name, display_name="Alice Liddell")
    expect(page).to_have_url(re.compile("/friends"))
    # Ordinary typing cannot get past the box's limit (the domain's), so the query stays searchable.
    search = page.get_by_test_id("friend-search")
    search.press_sequentially("b" * 100)
    expect(search).to_have_value("b" * friends.MAX_QUERY_CHARS)
    expect(page.get_by_test_id("no-results")).to_be_visible()

    # Bob asks and then changes his mind through the running app (so its bus carries the
    # events): the page's listener applies both without a reload.
    headers = {"Authorization": f"Bearer {bob['token']}"}
    response = httpx.post(
        f"{app_server.backend_url}/api/v1/friends/requests", json={"username": alice_name}, headers=headers, timeout=15
    )
    assert response.status_code == 201, response.text
    incoming = page.get_by_test_id("incoming-request").filter(has_text=bob_name)
    expect(incoming).to_contain_text("Bob Builder")
    incoming.get_by_test_id("accept-request").click()
    expect(page.get_by_test_id("friend").filter(has_text=bob_name)).to_be_visible()
    alice_id = accounts.login(alice_name, PASSWORD)["user"]["_id"]
    response = httpx.delete(f"{app_server.backend_url}/api/v1/friends/{alice_id}", headers=headers, timeout=15)
    assert response.status_code == 200, response.text
    expect(page.get_by_test_id("friends-empty")).to_be_visible()


@pytest.mark.parametrize(("label", "size"), [("desktop", DESKTOP), ("phone", PHONE)])
def test_login_register_and_friends_pages_fit_the_screen(new_page, app_server, label, size):
    page = new_page(*size)
    for route in ("login", "register"):
        page.goto(f"{app_server.url}/{route}")
        wait_for_app(page)
        expect(page.get_by_test_id(f"{route}-form")).to_be_visible()
        _assert_no_horizontal_scroll(page)
        screenshot(page, f"{route}-{label}")

    friend = unique_username("pal")
    accounts.register(friend, PASSWORD, "Grace Hopper")
    register_in_browser(page, app_server.url, unique_username(f"shot_{label}"), display_name="Ada Lovelace")
    page.get_by_test_id("friend-search").fill(friend)
    expect(page.get_by_test_id("search-result").filter(has_text=friend)).to_be_visible()
    page.get_by_test_id("add-friend").first.click()
    expect(page.get_by_test_id("outgoing-request")).to_have_count(1)
    _assert_no_horizontal_scroll(page)
    screenshot(page, f"friends-{label}")
