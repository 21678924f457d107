"""Logging out in one tab ends that login in the user's other open tabs at once (no reload
needed); another login of the same user stays signed in. (Across two app processes:
tests/browser/test_two_processes.py.)"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.chat_helpers import people
from tests.browser.conftest import wait_for_app

pytestmark = pytest.mark.browser


def test_logout_in_one_tab_sends_the_other_tabs_of_that_login_to_the_login_page(app_server, signed_in):
    (alice,) = people("alice")
    chat_tab = signed_in(alice)
    chat_tab.goto(f"{app_server.url}/chat")
    wait_for_app(chat_tab)
    # A second tab of the same browser (same storage, same login), on the friends page.
    friends_tab = chat_tab.context.new_page()
    friends_tab.goto(f"{app_server.url}/friends")
    wait_for_app(friends_tab)
    expect(friends_tab.get_by_test_id("user-menu")).to_contain_text("Alice Archer")
    # Alice on another device: a login of her own.
    other_device = signed_in(alice)
    other_device.goto(f"{app_server.url}/friends")
    wait_for_app(other_device)

    chat_tab.get_by_test_id("user-menu").click()
    chat_tab.get_by_test_id("logout").click()

    expect(chat_tab).to_have_url(re.compile(r"/login/?$"))
    expect(friends_tab).to_have_url(re.compile(r"/login/?$"))
    expect(friends_tab.get_by_test_id("login-form")).to_be_visible()
    # The other device heard the same event at the same moment; give its check a beat.
    other_device.wait_for_timeout(500)
    expect(other_device).to_have_url(re.compile(r"/friends/?$"))
    expect(other_device.get_by_test_id("user-menu")).to_contain_text("Alice Archer")
