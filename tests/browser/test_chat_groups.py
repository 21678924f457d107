"""Groups in the chat UI: create one from the "New chat" dialog, rename it, manage its members,
leave it; every other member sees each change live."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.chat_helpers import (
    conversation_row,
    group_conversation,
    make_friends,
    member_row,
    open_chat_list,
    open_conversation,
    open_menu_item,
    people,
    send,
)
from tests.browser.conftest import screenshot
from utool_chat.domain import conversations

pytestmark = pytest.mark.browser


def _pick(page, user) -> None:
    page.locator(f'[data-testid=pick-friend][data-username="{user["username"]}"]').click()


def test_group_created_in_the_new_chat_dialog_reaches_both_friends_and_they_chat_live(app_server, signed_in):
    alice, bob, carol, dave = people("alice", "bob", "carol", "dave")
    for friend in (bob, carol, dave):
        make_friends(alice, friend)
    page_a, page_b, page_c = signed_in(alice), signed_in(bob), signed_in(carol)
    for page in (page_a, page_b, page_c):
        open_chat_list(page, app_server.url)

    page_a.get_by_test_id("new-chat").click()
    picker = page_a.get_by_test_id("people-picker")
    expect(picker.get_by_test_id("pick-friend")).to_have_count(3)
    # The search narrows the list; picks survive a new search.
    picker.get_by_test_id("picker-search").fill("bob")
    expect(picker.get_by_test_id("pick-friend")).to_have_count(1)
    _pick(page_a, bob)
    picker.get_by_test_id("picker-search").fill("")
    _pick(page_a, carol)
    expect(picker.get_by_test_id("picked-chip")).to_have_count(2)
    # Two people make a group, and a group needs a name before it can be created.
    submit = picker.get_by_test_id("picker-submit")
    expect(submit).to_have_text("Create group")
    expect(submit).to_be_disabled()
    picker.get_by_test_id("group-name").fill("Weekend trip 🏕️")
    expect(submit).to_be_enabled()
    screenshot(page_a, "chat-new-group-dialog")
    submit.click()

    page_a.wait_for_url(re.compile(r"/chat/[0-9a-f]+$"))
    group_id = page_a.url.rstrip("/").rsplit("/", 1)[-1]
    expect(page_a.get_by_test_id("chat-title")).to_have_text("Weekend trip 🏕️")
    expect(page_a.get_by_test_id("people-picker")).to_have_count(0)
    assert sorted(p["_id"] for p in conversations.get_conversation(alice["_id"], group_id)["participants"]) == sorted(
        [alice["_id"], bob["_id"], carol["_id"]]
    )

    # Both friends get the group in their list without reloading, and chat in it live.
    for page in (page_b, page_c):
        expect(conversation_row(page, group_id).get_by_test_id("conversation-name")).to_have_text("Weekend trip 🏕️")
    conversation_row(page_b, group_id).click()
    expect(page_b.get_by_test_id("chat-title")).to_have_text("Weekend trip 🏕️")
    page_b.wait_for_function("() => window.utoolChat.state.el === document.getElementById('chat-scroll')")
    send(page_b, "Who's driving?")
    expect(page_a.get_by_test_id("message").filter(has_text="Who's driving?")).to_be_visible()
    snippet = conversation_row(page_c, group_id).get_by_test_id("conversation-snippet")
    expect(snippet).to_have_text("Bob: Who's driving?")
    # The notice "Alice created the group" and Bob's message (notices count as unread for
    # everyone but their actor).
    expect(conversation_row(page_c, group_id).get_by_test_id("unread-badge")).to_have_text("2")
    send(page_a, "I can, 3 seats left")
    expect(page_b.get_by_test_id("message").filter(has_text="3 seats left")).to_be_visible()


def test_admin_renames_adds_promotes_and_removes_members_and_everyone_sees_it_live(app_server, signed_in):
    alice, bob, carol, dave = people("alice", "bob", "carol", "dave")
    for friend in (bob, carol, dave):
        make_friends(alice, friend)
    group = group_conversation(alice, [bob, carol], "Book club")
    page_a, page_b, page_c = signed_in(alice), signed_in(bob), signed_in(carol)
    for page in (page_a, page_b, page_c):
        open_conversation(page, app_server.url, group["_id"])

    # A plain member has no admin actions.
    page_b.get_by_test_id("conversation-menu").click()
    expect(page_b.get_by_test_id("menu-members")).to_be_visible()
    expect(page_b.get_by_test_id("menu-rename")).to_have_count(0)
    page_b.keyboard.press("Escape")

    # Rename: the others' header and list follow.
    open_menu_item(page_a, "menu-rename")
    page_a.get_by_test_id("rename-input").fill("Sci-fi book club 🚀")
    page_a.get_by_test_id("rename-save").click()
    expect(page_a.get_by_test_id("rename-dialog")).to_have_count(0)
    for page in (page_a, page_b, page_c):
        expect(page.get_by_test_id("chat-title")).to_have_text("Sci-fi book club 🚀")
    name = conversation_row(page_b, group["_id"]).get_by_test_id("conversation-name")
    expect(name).to_have_text("Sci-fi book club 🚀")
    # …and every member's open view (each tab loaded the group directly) shows the notice.
    renamed = "Alice Archer renamed the group to “Sci-fi book club 🚀”"
    for page in (page_a, page_b, page_c):
        expect(page.get_by_test_id("notice").filter(has_text=renamed)).to_be_visible()
    screenshot(page_b, "chat-group-rename-notice")
    phone = signed_in(carol, width=390, height=844)
    open_conversation(phone, app_server.url, group["_id"])
    expect(phone.get_by_test_id("notice").filter(has_text=renamed)).to_be_visible()
    screenshot(phone, "chat-group-rename-notice-phone")

    # Add Dave from the members dialog; Bob's open members dialog follows.
    page_b.get_by_test_id("chat-title").click()  # a group's name opens its members
    expect(page_b.get_by_test_id("member")).to_have_count(3)
    open_menu_item(page_a, "menu-members")
    page_a.get_by_test_id("add-members").click()
    picker = page_a.get_by_test_id("people-picker")
    # Only friends who are not members yet are offered.
    expect(picker.get_by_test_id("pick-friend")).to_have_count(1)
    _pick(page_a, dave)
    expect(picker.get_by_test_id("picker-submit")).to_have_text("Add 1 member")
    picker.get_by_test_id("picker-submit").click()
    expect(member_row(page_a, dave)).to_be_visible()
    expect(page_b.get_by_test_id("member")).to_have_count(4)
    expect(member_row(page_b, dave)).to_be_visible()

    # Make Bob an admin: his badge shows for everyone, and he gets the admin actions.
    member_row(page_a, bob).get_by_test_id("member-menu").click()
    page_a.get_by_test_id("make-admin").click()
    expect(member_row(page_b, bob).get_by_test_id("admin-badge")).to_be_visible()
    expect(page_b.get_by_test_id("add-members")).to_be_visible()
    expect(member_row(page_a, bob)).to_have_attribute("data-admin", "true")
    screenshot(page_a, "chat-group-members-dialog")

    # Remove Carol: she is told, sent back to her list, and the group is gone from it.
    member_row(page_a, carol).get_by_test_id("member-menu").click()
    page_a.get_by_test_id("remove-member").click()
    # Removing asks first; Cancel keeps her.
    confirm = page_a.get_by_role("alertdialog")
    expect(confirm).to_contain_text("Remove Carol Chen?")
    confirm.get_by_role("button", name="Cancel").click()
    expect(page_a.get_by_role("alertdialog")).to_have_count(0)
    expect(member_row(page_a, carol)).to_be_visible()
    member_row(page_a, carol).get_by_test_id("member-menu").click()
    page_a.get_by_test_id("remove-member").click()
    screenshot(page_a, "chat-group-remove-confirm")
    page_a.get_by_test_id("confirm-remove-member").click()
    expect(member_row(page_a, carol)).to_have_count(0)
    for page in (page_a, page_b):
        expect(page.get_by_test_id("notice").filter(has_text="Alice Archer removed Carol Chen")).to_be_visible()
    expect(page_b.get_by_test_id("member")).to_have_count(3)
    page_b.keyboard.press("Escape")
    expect(page_b.get_by_role("dialog")).to_have_count(0)
    screenshot(page_b, "chat-group-removal-notice")
    page_c.wait_for_url(re.compile(r"/chat/?$"))
    expect(conversation_row(page_c, group["_id"])).to_have_count(0)
    expect(page_c.get_by_test_id("no-conversation")).to_be_visible()
    assert carol["_id"] not in conversations.member_ids(group["_id"])


def test_member_who_leaves_drops_the_group_and_the_others_see_the_member_list_change(app_server, signed_in):
    alice, bob, carol = people("alice", "bob", "carol")
    group = group_conversation(alice, [bob, carol], "Climbing crew")
    page_a, page_b = signed_in(alice), signed_in(bob)
    open_conversation(page_a, app_server.url, group["_id"])
    open_conversation(page_b, app_server.url, group["_id"])
    expect(page_a.get_by_test_id("chat-subtitle")).to_contain_text("Bob Baker")
    open_menu_item(page_a, "menu-members")
    expect(page_a.get_by_test_id("member")).to_have_count(3)

    open_menu_item(page_b, "archive-or-leave")
    expect(page_b.get_by_role("alertdialog")).to_contain_text("Leave “Climbing crew”?")
    page_b.get_by_test_id("confirm-archive-or-leave").click()

    page_b.wait_for_url(re.compile(r"/chat/?$"))
    expect(conversation_row(page_b, group["_id"])).to_have_count(0)
    expect(page_a.get_by_test_id("member")).to_have_count(2)
    expect(member_row(page_a, bob)).to_have_count(0)
    expect(page_a.get_by_test_id("member-count")).to_contain_text("2 members")
    page_a.keyboard.press("Escape")
    expect(page_a.get_by_test_id("chat-subtitle")).not_to_contain_text("Bob Baker")
    assert bob["_id"] not in conversations.member_ids(group["_id"])
