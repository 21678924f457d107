"""Reflex event handlers called the way a hostile browser can call them: any handler, ANY
arguments (over Reflex's websocket nothing stops a list where the page sends an id, or a
number where it sends a form). The handlers run on real state objects of one tab
(`rx.State` tree, no server) against the real Postgres database; what they must prove is
that the tab stays consistent: no exception, busy flags back off, an unsent message shows
"failed" with Retry, the search query stays a string, the live listener keeps running.

Unexpected errors (bugs, outages) have no honest trigger through real inputs, so those
tests inject one by making the domain function raise; everything else is real."""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import re
from typing import Any

import pytest
import reflex as rx

from utool_chat.domain import accounts, conversations, friends, messages, ratelimit
from utool_chat.events import Event, bus as bus_module
from utool_chat.events.bus import InProcessBus
from utool_chat.state import guards
from utool_chat.state.auth import AuthState
from utool_chat.state.chat import ChatState
from utool_chat.state.chat_slice import add_or_update_conversation, set_current_conversation_id
from utool_chat.state.friends import QUERY_KEEP_CHARS, FriendsState

PASSWORD = "correct horse battery"
GENERIC = guards.GENERIC_ERROR
HOSTILE_IDS = [["m1"], {"id": "m1"}, None, 42, "", "x" * 10_000]
HOSTILE_FORMS = [["content", "hi"], "content=hi", None, 7]


# ----- a tab: one Reflex state tree, signed in ------------------------------------------


def tab(user: dict[str, Any] | None = None, token: str = "") -> rx.State:
    root = rx.State(_reflex_internal_init=True)
    if user is not None:
        substate(root, AuthState)._sign_in(user, token)
    return root


def substate(root: rx.State, cls: type[rx.State]) -> Any:
    return root.get_substate(cls.get_full_name().split(".")[1:])


async def call(handler: Any, state: rx.State, *args: Any) -> list[Any]:
    """Run an event handler as Reflex would and return everything it sent the browser."""
    out = handler.fn(state, *args)
    if inspect.isasyncgen(out):
        return [update async for update in out]
    if inspect.isawaitable(out):
        out = await out
    return [] if out is None else [out]


def toasts(updates: list[Any], kind: str) -> list[str]:
    """The texts of the `kind` toasts ("error", "success", …) among a handler's updates."""
    pattern = re.compile(r'\["' + kind + r'"\]\(("(?:[^"\\]|\\.)*")')
    found = (pattern.search(str(u)) for u in updates)  # one toast per update (its repr names it twice)
    return [json.loads(m.group(1)) for m in found if m]


def signed_up(username: str, display_name: str) -> tuple[dict[str, Any], str]:
    result = accounts.register(username, PASSWORD, display_name)
    return result["user"], result["token"]


def make_friends(a: dict[str, Any], b: dict[str, Any]) -> None:
    request, _created = friends.send_request(a["_id"], user_id=b["_id"])
    friends.accept_request(b["_id"], request["_id"])


def fail_with_a_bug(*_args: Any, **_kwargs: Any) -> Any:
    raise RuntimeError("injected bug")


@pytest.fixture()
def alice_and_bob(db):
    return signed_up("alice", "Alice Liddell"), signed_up("bob", "Bob Builder")


# ----- the guards --------------------------------------------------------------------


def test_guards_pass_well_formed_arguments_and_refuse_everything_else():
    assert guards.key_arg("m1") == "m1"
    assert [guards.key_arg(v) for v in HOSTILE_IDS] == [None] * len(HOSTILE_IDS)
    assert guards.form_arg({"a": 1}) == {"a": 1}
    assert [guards.form_arg(v) for v in HOSTILE_FORMS] == [{}] * len(HOSTILE_FORMS)
    assert (guards.flag_arg(True), guards.flag_arg(False), guards.flag_arg("yes"), guards.flag_arg(1)) == (
        True, False, None, None,
    )
    assert guards.text_arg(["hi"]) is None
    assert guards.text_arg("x" * 10_000, max_chars=5) == "xxxxx"
    # A lone surrogate (valid JSON, not UTF-8) would break sending the state back.
    assert guards.text_arg("a\ud800b") == "a?b"
    assert guards.person_arg({"id": "u1", "display_name": "Bob"}, "id") == {"id": "u1", "display_name": "Bob"}
    assert guards.person_arg({"id": "u1"}, "id") == {"id": "u1", "display_name": "this user"}
    assert guards.person_arg({"id": ["u1"], "display_name": "Bob"}, "id") is None
    assert guards.person_arg(["u1"], "id") is None


async def test_attempt_turns_a_bug_into_a_generic_domain_error_and_logs_it(caplog):
    assert await guards.attempt("adding", lambda a, b: a + b, 1, 2) == (3, None)
    _result, refused = await guards.attempt("checking", friends.check_search_query, "")
    assert refused.code == "invalid_query"
    with caplog.at_level(logging.ERROR, logger="utool_chat.state.guards"):
        result, err = await guards.attempt("exploding", fail_with_a_bug)
    assert (result, err.message, err.status) == (None, GENERIC, 500)
    assert "unexpected error while exploding" in caplog.text and "injected bug" in caplog.text


# ----- AuthState -----------------------------------------------------------------------


@pytest.mark.parametrize("form", HOSTILE_FORMS)
async def test_login_and_register_read_a_form_that_is_not_a_dict_as_an_empty_one(form):
    auth = substate(tab(), AuthState)
    await call(AuthState.login, auth, form)
    assert (auth.username_error, auth.password_error, auth.submitting) == (
        "Enter your username.", "Enter your password.", False,
    )
    await call(AuthState.register, auth, form)
    assert auth.username_error and auth.password_error and not auth.submitting


async def test_sign_in_frees_the_submit_button_after_a_wrong_password_and_after_a_bug(db, monkeypatch):
    signed_up("alice", "Alice")
    auth = substate(tab(), AuthState)
    await call(AuthState.login, auth, {"username": "alice", "password": "not the password"})
    assert (auth.password_error, auth.submitting) == ("Wrong username or password.", False)

    monkeypatch.setattr(accounts, "login", fail_with_a_bug)
    updates = await call(AuthState.login, auth, {"username": "alice", "password": PASSWORD})
    assert toasts(updates, "error") == [GENERIC]
    assert (auth.submitting, auth.user_id, auth.token) == (False, "", "")


# ----- FriendsState: the search box --------------------------------------------------


async def test_set_query_ignores_anything_but_text_so_the_query_stays_a_string(alice_and_bob):
    (alice, token), _bob = alice_and_bob
    state = substate(tab(alice, token), FriendsState)
    await call(FriendsState.set_query, state, "bo")
    assert [p["username"] for p in state.results] == ["bob"]
    for hostile in (["bo"], {"q": "bo"}, None, 3):
        assert await call(FriendsState.set_query, state, hostile) == []
        assert state.query == "bo" and isinstance(state.query, str)
    # A friend action afterwards refreshes the results from the (still valid) query.
    bob_row = state.results[0]
    await call(FriendsState.send_request, state, bob_row)
    assert [p["relationship"] for p in state.results] == ["outgoing"]


async def test_a_query_the_domain_refuses_is_kept_and_explained_under_the_box_not_searched(alice_and_bob):
    (alice, token), _bob = alice_and_bob
    state = substate(tab(alice, token), FriendsState)
    await call(FriendsState.set_query, state, "bo")
    too_long = "b" * (friends.MAX_QUERY_CHARS + 1)
    updates = await call(FriendsState.set_query, state, too_long)
    assert toasts(updates, "error") == []
    assert (state.query, state.query_error, state.results, state.searching) == (
        too_long, f"Search must be at most {friends.MAX_QUERY_CHARS} characters.", [], False,
    )
    await call(FriendsState.set_query, state, "bo\x00b")
    assert state.query_error == "Search must not contain NUL characters."
    # Megabytes are not kept: enough to show the message, no more.
    await call(FriendsState.set_query, state, "b" * 1_000_000)
    assert len(state.query) == QUERY_KEEP_CHARS and state.query_error
    # Back to a good query: the message goes, results come back.
    await call(FriendsState.set_query, state, "bob")
    assert (state.query_error, [p["username"] for p in state.results]) == ("", ["bob"])


# ----- FriendsState: friend actions --------------------------------------------------


@pytest.mark.parametrize("person", [["u1"], "u1", None, {"id": ["u1"]}, {"request_id": {"x": 1}}, {}])
async def test_friend_actions_ignore_a_person_that_is_not_a_person(alice_and_bob, person):
    (alice, token), _bob = alice_and_bob
    state = substate(tab(alice, token), FriendsState)
    for handler in (FriendsState.send_request, FriendsState.accept, FriendsState.decline, FriendsState.remove):
        assert await call(handler, state, person) == []
        assert state.busy_id == ""
    assert friends.list_requests(alice["_id"]) == {"incoming": [], "outgoing": []}


async def test_accepting_with_a_long_saved_query_and_no_display_name_still_refreshes_the_lists(alice_and_bob):
    (alice, token), (bob, _) = alice_and_bob
    request, _created = friends.send_request(bob["_id"], user_id=alice["_id"])
    state = substate(tab(alice, token), FriendsState)
    await call(FriendsState.load, state)
    await call(FriendsState.set_query, state, "b" * 100)
    updates = await call(FriendsState.accept, state, {"request_id": request["_id"]})
    assert toasts(updates, "success") == ["You and this user are now friends."]
    assert ([p["id"] for p in state.friends], state.incoming, state.busy_id) == ([bob["_id"]], [], "")


async def test_a_bug_in_a_friend_action_frees_the_button_and_still_refreshes(alice_and_bob, monkeypatch):
    (alice, token), (bob, _) = alice_and_bob
    state = substate(tab(alice, token), FriendsState)
    await call(FriendsState.load, state)
    # Bob's request arrives while the page is open (the listener is not running here).
    friends.send_request(bob["_id"], user_id=alice["_id"])
    monkeypatch.setattr(friends, "decline_request", fail_with_a_bug)
    updates = await call(FriendsState.decline, state, {"request_id": "r1", "display_name": "Bob"})
    assert toasts(updates, "error") == [GENERIC]
    assert state.busy_id == ""
    assert [p["id"] for p in state.incoming] == [bob["_id"]]


# ----- FriendsState: the live listener ----------------------------------------------


async def test_the_friends_listener_survives_an_event_it_cannot_apply(alice_and_bob, monkeypatch, caplog):
    (alice, token), (bob, _) = alice_and_bob
    carol, _ = signed_up("carol", "Carol")
    bus = InProcessBus()
    monkeypatch.setattr(bus_module, "_bus", bus)
    state = substate(tab(alice, token), FriendsState)
    # A query saved before set_query checked queries: the domain refuses to search it.
    state.query = "b" * 100
    sent: list[Any] = []

    async def listen() -> None:
        async for update in FriendsState.listen_for_changes.fn(state):
            sent.append(update)

    listener = asyncio.create_task(listen())
    try:
        await wait_until(lambda: len(bus.fanout._subs) == 1)
        with caplog.at_level(logging.WARNING, logger="utool_chat.state.live"):
            friends.send_request(bob["_id"], user_id=alice["_id"])
            await wait_until(lambda: "friends:request_received failed" in caplog.text)
        assert not listener.done()
        state.query = ""
        friends.send_request(carol["_id"], user_id=alice["_id"])
        await wait_until(lambda: len(state.incoming) == 2)
        assert {p["id"] for p in state.incoming} == {bob["_id"], carol["_id"]}
        await wait_until(lambda: toasts(sent, "info") == ["Carol sent you a friend request."])
        assert not listener.done()
    finally:
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)


async def wait_until(condition: Any, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


# ----- ChatState ---------------------------------------------------------------------


@pytest.fixture()
def chat_tab(alice_and_bob):
    """Alice's tab with her direct conversation with Bob open."""
    (alice, token), (bob, _) = alice_and_bob
    make_friends(alice, bob)
    convo, _created = conversations.create_conversation(alice["_id"], [bob["_id"]], type="direct")
    state = substate(tab(alice, token), ChatState)
    chat = state._store()
    add_or_update_conversation(chat, convo)
    set_current_conversation_id(chat, convo["_id"])
    state._publish(alice["_id"])
    return state, alice, bob, convo["_id"]


def open_messages(state: ChatState) -> list[Any]:
    return [*state.older_messages, *state.recent_messages]


async def test_a_bug_while_sending_leaves_the_message_failed_with_retry_not_sending(chat_tab, monkeypatch):
    state, alice, _bob, cid = chat_tab
    monkeypatch.setattr(messages, "send_message", fail_with_a_bug)
    updates = await call(ChatState.post_new_message, state, {"content": "hello"})
    assert toasts(updates, "error") == [f"Message not sent: {GENERIC}"]
    [failed] = open_messages(state)
    assert (failed.content, failed.status, failed.error) == ("hello", "failed", GENERIC)

    monkeypatch.undo()
    await call(ChatState.retry_message, state, failed.key)
    [sent] = open_messages(state)
    assert (sent.content, sent.status) == ("hello", "sent")
    page, _meta = messages.list_messages(alice["_id"], cid)
    assert [m["content"] for m in page] == ["hello"]


@pytest.mark.parametrize("form", HOSTILE_FORMS)
async def test_chat_forms_that_are_not_dicts_change_nothing(chat_tab, form):
    state, alice, _bob, cid = chat_tab
    await call(ChatState.post_new_message, state, form)
    assert open_messages(state) == []
    assert toasts(await call(ChatState.add_attachment_link, state, form), "error")
    assert state.pending_attachments == []
    state.current_is_group = state.current_is_admin = True
    assert toasts(await call(ChatState.rename_group, state, form), "error") == ["A group name cannot be empty."]
    assert messages.list_messages(alice["_id"], cid)[0] == []


async def test_message_handlers_ignore_ids_that_are_not_ids(chat_tab):
    state, alice, _bob, cid = chat_tab
    await call(ChatState.post_new_message, state, {"content": "hello"})
    [message] = open_messages(state)
    for hostile in HOSTILE_IDS:
        for handler in (ChatState.start_reply, ChatState.start_edit, ChatState.retry_message, ChatState.discard_failed):
            assert await call(handler, state, hostile) == []
        assert await call(ChatState.toggle_reaction, state, hostile, "👍") == []
        await call(ChatState.ask_delete, state, hostile)
        assert (state.reply_to_id, state.editing_id, state.confirm_delete_id) == ("", "", "")
    assert open_messages(state) == [message]
    assert messages.list_messages(alice["_id"], cid)[0][0]["reactions"] == []


async def test_dialog_flags_and_member_buttons_store_only_well_formed_values(chat_tab):
    state, _alice, bob, _cid = chat_tab
    for hostile in ("yes", 1, ["x"], None):
        await call(ChatState.set_attach_open, state, hostile)
        assert state.attach_open is False
    await call(ChatState.set_attach_open, state, True)
    assert state.attach_open is True
    state.current_is_group = state.current_is_admin = True
    for hostile in [*HOSTILE_IDS, "not-a-member"]:
        for handler in (ChatState.make_admin, ChatState.dismiss_admin, ChatState.remove_member):
            assert await call(handler, state, hostile) == []
            assert state.member_busy_id == ""
    assert {m.id for m in state.current_members} >= {bob["_id"]}


async def test_reflex_typing_counts_against_the_users_typing_limit_across_tabs(chat_tab, monkeypatch):
    state, alice, bob, cid = chat_tab
    bus = InProcessBus()
    monkeypatch.setattr(bus_module, "_bus", bus)
    ratelimit.configure(typing="2/minute", redis_url=None)
    received: list[Event] = []

    async def follow() -> None:
        async for evt in bus.subscribe():
            received.append(evt)

    follower = asyncio.create_task(follow())
    try:
        await wait_until(lambda: len(bus.fanout._subs) == 1)
        # Three tabs of the same user: each tab's own 2 s throttle lets its first keystroke through.
        tabs = [state]
        for _ in range(2):
            other = substate(tab(alice, ""), ChatState)
            other._chat = state._chat
            other.current_id = cid
            tabs.append(other)
        for each in tabs:
            await call(ChatState.typing, each)
        await asyncio.sleep(0.05)
        # The second tab's start refreshes the user's live typing state (one per user and
        # conversation in the domain): counted, not re-announced. The third is over the limit.
        assert [e.name for e in received] == ["chat:user_typing"]
        # The refused tab announced nothing, so it has nothing to take back either.
        await call(ChatState.stop_typing, tabs[2])
        await asyncio.sleep(0.05)
        assert [e.name for e in received] == ["chat:user_typing"]
        assert all(bob["_id"] in e.user_ids for e in received)
    finally:
        follower.cancel()
        await asyncio.gather(follower, return_exceptions=True)
        ratelimit.reset()


async def test_a_bug_in_a_group_change_frees_the_member_button(alice_and_bob, monkeypatch):
    (alice, token), (bob, _) = alice_and_bob
    carol, _ = signed_up("carol", "Carol")
    make_friends(alice, bob)
    make_friends(alice, carol)
    group, _created = conversations.create_conversation(
        alice["_id"], [bob["_id"], carol["_id"]], type="group", name="Trip"
    )
    state = substate(tab(alice, token), ChatState)
    add_or_update_conversation(state._store(), group)
    set_current_conversation_id(state._store(), group["_id"])
    state._publish(alice["_id"])
    assert state.current_is_admin
    monkeypatch.setattr(conversations, "update_conversation", fail_with_a_bug)
    updates = await call(ChatState.make_admin, state, bob["_id"])
    assert toasts(updates, "error") == [GENERIC]
    assert state.member_busy_id == ""
    monkeypatch.undo()
    await call(ChatState.make_admin, state, bob["_id"])
    assert (state.member_busy_id, conversations.get_conversation(alice["_id"], group["_id"])["admins"]) == (
        "", [alice["_id"], bob["_id"]],
    )
