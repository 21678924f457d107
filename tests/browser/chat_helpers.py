"""Helpers for the chat browser tests: people and history arranged through the domain (the
same Postgres database the app server uses), then everything else done in the browser."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import PASSWORD, login_in_browser, unique_username, wait_for_app
from tests.support import factories
from tests.support.factories import befriend as make_friends
from tests.support.factories import direct_conversation, group_conversation
from utool_chat.domain import accounts, messages

__all__ = ["direct_conversation", "group_conversation", "make_friends"]  # the shared factories, re-exported

# The tests' cast: a first name gives a fresh user with this display name.
CAST = {"alice": "Alice Archer", "bob": "Bob Baker", "carol": "Carol Chen", "dave": "Dave Diaz"}


def make_user(prefix: str, display_name: str) -> dict[str, Any]:
    """A user who can log in with PASSWORD."""
    return factories.make_user(unique_username(prefix), display_name, password=PASSWORD)


def people(*first_names: str) -> list[dict[str, Any]]:
    """Fresh users from the cast ("alice" → Alice Archer, …), not friends with anyone yet."""
    return [make_user(name, CAST[name]) for name in first_names]


def friends_in_direct_chat() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(alice, bob, conversation): two fresh friends and their direct conversation, no messages."""
    alice, bob = people("alice", "bob")
    make_friends(alice, bob)
    return alice, bob, direct_conversation(alice, bob)


def seed_messages(
    conversation_id: str, senders: list[dict[str, Any]], count: int, text: str = "Seeded message"
) -> None:
    """`count` messages through the real send path, alternating senders (numbered 1…count)."""
    allow_fast_seeding()
    for n in range(1, count + 1):
        sender = senders[n % len(senders)]
        messages.send_message(sender["_id"], conversation_id, f"{text} {n}", temp_id=f"seed-{conversation_id}-{n}")


def log_in(page, base_url: str, user: dict[str, Any]) -> None:
    login_in_browser(page, base_url, user["username"])
    wait_for_app(page)


def open_conversation(page, base_url: str, conversation_id: str) -> None:
    page.goto(f"{base_url}/chat/{conversation_id}")
    wait_for_app(page)
    page.get_by_test_id("message-input").wait_for()
    # The scroll helper (window.utoolChat) follows the message list from now on.
    page.wait_for_function(
        "() => window.utoolChat && window.utoolChat.state.el === document.getElementById('chat-scroll')"
    )


def send(page, text: str) -> None:
    box = page.get_by_test_id("message-input")
    box.click()
    box.fill(text)
    box.press("Enter")


def conversation_row(page, conversation_id: str):
    return page.locator(f'[data-testid=conversation-item][data-conversation-id="{conversation_id}"]')


def allow_fast_seeding() -> None:
    """Seeding sends many messages from this (test) process: lift its own send limit.
    The app server's limiter is a different process and is not touched."""
    from utool_chat.domain import ratelimit

    ratelimit.configure(send="100000/second", redis_url=None)


def api_send(app_server, user: dict[str, Any], conversation_id: str, content: str) -> dict[str, Any]:
    """Send as `user` through the running app's HTTP API, so the app's own bus carries the
    live events (a domain call from this test process would publish on this process's bus)."""
    import httpx

    token = accounts.login(user["username"], PASSWORD)["token"]
    response = httpx.post(
        f"{app_server.backend_url}/api/v1/chat/conversations/{conversation_id}/messages",
        json={"content": content},
        headers={"Authorization": f"Bearer {token}"},
        timeout=15,
    )
    assert response.status_code == 201, response.text
    return response.json()["data"]


def open_chat_list(page, base_url: str) -> None:
    """/chat with no conversation open, its list loaded and the live listener running."""
    page.goto(f"{base_url}/chat")
    wait_for_app(page)
    page.get_by_test_id("no-conversation").wait_for()
    page.wait_for_function("() => !!window.utoolChat")


def open_menu_item(page, testid: str) -> None:
    """Pick an item of the open conversation's "⋮" menu."""
    page.get_by_test_id("conversation-menu").click()
    page.get_by_test_id(testid).click()


def member_row(page, user: dict[str, Any]):
    """`user`'s row in the open members dialog."""
    return page.locator(f'[data-testid=member][data-username="{user["username"]}"]')
