"""Two full app processes on one Postgres database and one Redis act as one for browser tabs:
a tab served by process 1 and a tab served by process 2 see each other's messages, typing
and logouts live (the Redis event bus carries them between the processes).

Each process runs `reflex run --env prod` from its own copy of the project: the built
frontend has its backend's URL baked in (.web/env.json), so two ports need two builds.
The copies build in their own .web/ (no shared lock), reusing the installed node_modules.
"""

from __future__ import annotations

import re
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.chat_helpers import friends_in_direct_chat, log_in, open_conversation, people, send
from tests.browser.conftest import ARTIFACTS, ROOT, AppServer, copy_project, running_app_server, wait_for_app

pytestmark = pytest.mark.browser

# A Redis database of their own (rate-limit counters) and a channel of their own (events),
# so these processes never hear another deployment or a parallel test run.
REDIS_URL = "redis://127.0.0.1:6379/7"
TOKEN_KEY = "utool_token"  # AuthState.token's localStorage key


@pytest.fixture(scope="module")
def two_app_servers(pg_url: str) -> Iterator[tuple[AppServer, AppServer]]:
    env = {
        "DATABASE_URL": pg_url,
        "REDIS_URL": REDIS_URL,
        "REDIS_EVENTS_CHANNEL": f"utool_browser_test:{uuid.uuid4().hex}",
    }
    with tempfile.TemporaryDirectory(prefix="utool_two_apps_", ignore_cleanup_errors=True) as tmp:
        first = copy_project(ROOT, Path(tmp) / "app1")
        with running_app_server(first, env, ARTIFACTS / "reflex-server-process-1.log") as one:
            # Copied from the first copy once it is built: its node_modules are installed
            # even on a fresh clone without a .web/, so only one package install can happen.
            second = copy_project(first, Path(tmp) / "app2")
            with running_app_server(second, env, ARTIFACTS / "reflex-server-process-2.log") as two:
                yield one, two


def test_tabs_on_two_app_processes_see_each_others_messages_and_typing_live(two_app_servers, page_at):
    one, two = two_app_servers
    alice, bob, conversation = friends_in_direct_chat()
    conversation_id = conversation["_id"]
    page_a, page_b = page_at(one.url), page_at(two.url)
    log_in(page_a, one.url, alice)
    log_in(page_b, two.url, bob)
    open_conversation(page_a, one.url, conversation_id)
    open_conversation(page_b, two.url, conversation_id)

    send(page_a, "Hello from process one")
    arrived = page_b.get_by_test_id("message").filter(has_text="Hello from process one")
    expect(arrived).to_be_visible()
    expect(arrived).to_have_attribute("data-own", "false")

    # Bob types on process two: Alice sees it on process one, until his message arrives.
    page_b.get_by_test_id("message-input").click()
    page_b.get_by_test_id("message-input").press_sequentially("And back from process two", delay=40)
    expect(page_a.get_by_test_id("typing-indicator")).to_be_visible()
    page_b.get_by_test_id("message-input").press("Enter")
    expect(page_a.get_by_test_id("message").filter(has_text="And back from process two")).to_be_visible()
    expect(page_a.get_by_test_id("typing-indicator")).to_have_count(0)


def test_a_logout_on_one_process_sends_that_logins_tab_on_the_other_process_to_login(two_app_servers, page_at):
    one, two = two_app_servers
    (alice,) = people("alice")
    laptop = page_at(one.url)
    log_in(laptop, one.url, alice)
    token = laptop.evaluate(f"() => localStorage.getItem('{TOKEN_KEY}')")
    assert token
    # The same login in a tab of the other process (another origin: its storage is seeded).
    same_login = page_at(two.url)
    same_login.goto(f"{two.url}/login")
    wait_for_app(same_login)
    same_login.evaluate(f"token => localStorage.setItem('{TOKEN_KEY}', token)", token)
    same_login.goto(f"{two.url}/chat")
    wait_for_app(same_login)
    expect(same_login.get_by_test_id("user-menu")).to_contain_text("Alice Archer")
    # A separate login of Alice on the other process, which must survive.
    phone = page_at(two.url)
    log_in(phone, two.url, alice)
    phone.goto(f"{two.url}/chat")
    wait_for_app(phone)

    laptop.get_by_test_id("user-menu").click()
    laptop.get_by_test_id("logout").click()

    expect(laptop).to_have_url(re.compile(r"/login/?$"))
    expect(same_login).to_have_url(re.compile(r"/login/?$"))
    expect(same_login.get_by_test_id("login-form")).to_be_visible()
    # The other login heard the same event at the same moment; give its check a beat, then
    # it must still be signed in.
    phone.wait_for_timeout(500)
    expect(phone).to_have_url(re.compile(r"/chat/?$"))
    expect(phone.get_by_test_id("user-menu")).to_contain_text("Alice Archer")


def test_presence_on_one_process_shows_live_on_the_other(two_app_servers, page_at):
    """Bob's tab on process two is seen online, away and offline by Alice on process one
    (presence lives in Redis; each process announces the transitions it finds)."""
    one, two = two_app_servers
    alice, bob, conversation = friends_in_direct_chat()
    page_a = page_at(one.url)
    log_in(page_a, one.url, alice)
    open_conversation(page_a, one.url, conversation["_id"])
    header = page_a.get_by_test_id("chat-presence")
    expect(header).to_have_text("offline")

    page_b = page_at(two.url)
    log_in(page_b, two.url, bob)
    open_conversation(page_b, two.url, conversation["_id"])
    expect(header).to_have_text("online", timeout=30_000)
    page_b.evaluate("""() => {
      Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
      document.dispatchEvent(new Event('visibilitychange'));
    }""")
    expect(header).to_have_text("away", timeout=30_000)
    page_b.context.close()
    expect(header).to_have_text(re.compile(r"^last seen today at \d\d:\d\d$"), timeout=60_000)
