"""Sends that fail show "Not sent" with Retry; Retry re-sends the same message exactly once.
Photos that do not load show a fallback tile instead of a broken image."""

from __future__ import annotations

import io
import time

import httpx
import pytest
from limits import parse
from playwright.sync_api import expect

from tests import media_samples as samples
from tests.browser.chat_helpers import (
    allow_fast_seeding,
    direct_conversation,
    friends_in_direct_chat,
    make_friends,
    open_conversation,
    people,
    send,
)
from tests.browser.conftest import PASSWORD, screenshot
from utool_chat import config
from utool_chat.db.engine import session_scope
from utool_chat.db.models import Attachment
from utool_chat.domain import accounts, messages, uploads
from utool_chat.storage import get_storage

pytestmark = pytest.mark.browser


def _exhaust_send_limit(app_server, user, conversation_id: str) -> float:
    """Use up `user`'s send budget in the app server (its limiter lives in that process):
    as many API sends as the limit allows. Returns when the window started (monotonic)."""
    limit = parse(config.settings.rate_limit_send)
    token = accounts.login(user["username"], PASSWORD)["token"]
    started = time.monotonic()
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=app_server.backend_url, headers=auth, timeout=15) as http:
        for n in range(limit.amount):
            response = http.post(
                f"/api/v1/chat/conversations/{conversation_id}/messages", json={"content": f"burst {n}"}
            )
            assert response.status_code == 201, response.text
        over = http.post(f"/api/v1/chat/conversations/{conversation_id}/messages", json={"content": "one too many"})
        assert over.status_code == 429, over.text
    return started + limit.get_expiry()


def test_rate_limited_send_offers_retry_and_retry_sends_it_once(app_server, signed_in):
    alice, bob, carol = people("alice", "bob", "carol")
    make_friends(alice, bob)
    make_friends(alice, carol)
    with_bob = direct_conversation(alice, bob)
    with_carol = direct_conversation(alice, carol)
    page_a, page_b = signed_in(alice), signed_in(bob)
    open_conversation(page_a, app_server.url, with_bob["_id"])
    open_conversation(page_b, app_server.url, with_bob["_id"])

    window_ends = _exhaust_send_limit(app_server, alice, with_carol["_id"])
    send(page_a, "Are we still on for tonight?")
    mine = page_a.get_by_test_id("message").filter(has_text="Are we still on for tonight?")
    expect(mine).to_have_attribute("data-status", "failed")
    expect(mine).to_contain_text("Too many messages")
    retry = mine.get_by_test_id("retry-message")
    expect(retry).to_be_visible()
    expect(page_b.get_by_test_id("message").filter(has_text="Are we still on for tonight?")).to_have_count(0)
    screenshot(page_a, "chat-send-failed-retry")

    # Once the window has moved on, Retry sends it: the same tempId, so never twice.
    time.sleep(max(0.0, window_ends - time.monotonic()) + 0.5)
    retry.click()
    expect(mine.get_by_test_id("message-status")).to_have_attribute("data-status", "read")
    expect(mine.get_by_test_id("retry-message")).to_have_count(0)
    expect(page_b.get_by_test_id("message").filter(has_text="Are we still on for tonight?")).to_have_count(1)
    stored, _meta = messages.list_messages(alice["_id"], with_bob["_id"])
    assert [m["content"] for m in stored] == ["Are we still on for tonight?"]
    page_a.reload()
    page_a.get_by_test_id("message-input").wait_for()
    expect(page_a.get_by_test_id("message").filter(has_text="Are we still on for tonight?")).to_have_count(1)


def test_image_that_fails_to_load_shows_a_fallback_tile_with_its_name(app_server, signed_in):
    alice, bob, conversation = friends_in_direct_chat()
    allow_fast_seeding()
    broken = uploads.store_upload(bob["_id"], "beach-sunset.png", io.BytesIO(samples.png((40, 30))))
    working = uploads.store_upload(bob["_id"], "logo.png", io.BytesIO(samples.png((30, 30), (0, 0, 200))))
    messages.send_message(bob["_id"], conversation["_id"], "Look at this view!",
                          attachments=[{"uploadId": broken["_id"]}], temp_id="img-1")
    messages.send_message(bob["_id"], conversation["_id"], "And our logo",
                          attachments=[{"uploadId": working["_id"]}], temp_id="img-2")
    # The store lost the first picture's thumbnail: its URL answers an error, not an image.
    with session_scope() as session:
        row = session.get(Attachment, broken["_id"])
        assert row is not None and row.thumbnail_key
        get_storage().delete([row.thumbnail_key])

    page = signed_in(alice)
    open_conversation(page, app_server.url, conversation["_id"])
    broken_msg = page.get_by_test_id("message").filter(has_text="Look at this view!")
    tile = broken_msg.get_by_test_id("attachment-fallback")
    expect(tile).to_be_visible()
    expect(tile).to_contain_text("beach-sunset.png")
    expect(broken_msg.locator("img.chat-attach-img")).to_have_attribute("data-broken", "true")
    working_msg = page.get_by_test_id("message").filter(has_text="And our logo")
    expect(working_msg.locator("img.chat-attach-img")).to_be_visible()
    expect(working_msg.get_by_test_id("attachment-fallback")).to_be_hidden()
    screenshot(page, "chat-image-fallback")
