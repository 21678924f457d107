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
import threading
from typing import Any, TypeVar

import pytest
import reflex as rx

from utool_chat.domain import accounts, conversations, friends, messages, ratelimit, reactions
from utool_chat.domain import typing as typing_signals
from utool_chat.domain.errors import DomainError, Unavailable
from utool_chat.events import Event
from utool_chat.events import bus as bus_module
from utool_chat.events.bus import InProcessBus
from utool_chat.state import guards
from utool_chat.state.auth import AuthState
from utool_chat.state.chat import (
    ChatListenerState,
    ChatState,
    ComposerState,
    ConversationListState,
    ConversationSettingsState,
    MessageActionsState,
    MessagesState,
    OutboxState,
    PreferencesState,
)
from utool_chat.state.chat.messages import PAGE_SIZE
from utool_chat.state.chat_slice import add_or_update_conversation, set_current_conversation_id
from utool_chat.state.friends import QUERY_KEEP_CHARS, FriendsState

PASSWORD = "correct horse battery"
GENERIC = guards.GENERIC_ERROR
HOSTILE_IDS: list[Any] = [["m1"], {"id": "m1"}, None, 42, "", "x" * 10_000]
HOSTILE_FORMS = [["content", "hi"], "content=hi", None, 7]
T_STATE = TypeVar("T_STATE", bound=rx.State)


# ----- a tab: one Reflex state tree, signed in ------------------------------------------


def tab(user: dict[str, Any] | None = None, token: str = "") -> rx.State:
    root = rx.State()  # allowed under pytest (reflex.utils.exec.is_testing_env)
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
    assert await guards.attempt("adding", lambda a, b: a + b, 1, 2) == 3
    refused = await guards.attempt("checking", friends.check_search_query, "")
    assert isinstance(refused, DomainError) and refused.code == "invalid_query"
    with caplog.at_level(logging.ERROR, logger="utool_chat.state.guards"):
        err = await guards.attempt("exploding", fail_with_a_bug)
    assert isinstance(err, DomainError) and (err.message, err.code, err.status) == (GENERIC, "unexpected_error", 500)
    assert "unexpected error while exploding" in caplog.text and "injected bug" in caplog.text


async def test_attempt_awaits_a_coroutine_function_on_the_loop_with_the_same_failure_shape(caplog):
    loop_thread = threading.get_ident()

    async def on_loop(a, b):
        return a + b, threading.get_ident()

    async def refuse():
        friends.check_search_query("")

    async def explode():
        fail_with_a_bug()

    assert await guards.attempt("adding", on_loop, 1, 2) == (3, loop_thread)
    refused = await guards.attempt("checking", refuse)
    assert isinstance(refused, DomainError) and refused.code == "invalid_query"
    with caplog.at_level(logging.ERROR, logger="utool_chat.state.guards"):
        err = await guards.attempt("exploding on the loop", explode)
    assert isinstance(err, DomainError) and (err.code, err.status) == ("unexpected_error", 500)
    assert "unexpected error while exploding on the loop" in caplog.text


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


# ----- FriendsState: fed by the tab's live listener --------------------------------


async def test_the_tab_listener_survives_a_friendship_event_it_cannot_apply(alice_and_bob, monkeypatch, caplog):
    (alice, token), (bob, _) = alice_and_bob
    carol, _ = signed_up("carol", "Carol")
    bus = InProcessBus()
    monkeypatch.setattr(bus_module, "_bus", bus)
    root = tab(alice, token)
    listener_state = substate(root, ChatListenerState)
    state = substate(root, FriendsState)
    state.loaded = True  # the friends page has loaded its lists in this tab
    # A query saved before set_query checked queries: the domain refuses to search it.
    state.query = "b" * 100
    sent: list[Any] = []

    async def listen() -> None:
        async for update in ChatListenerState.listen_for_events.fn(listener_state):
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


async def test_a_starting_listener_gives_the_slice_settings_and_presence_unless_the_tab_moved_on(
        alice_and_bob, monkeypatch):
    (alice, token), (bob, _) = alice_and_bob
    make_friends(alice, bob)
    convo, _created = conversations.create_conversation(alice["_id"], [bob["_id"]], type="direct")
    bus = InProcessBus()
    monkeypatch.setattr(bus_module, "_bus", bus)

    def listening_tab() -> tuple[ChatListenerState, asyncio.Task]:
        listener_state = substate(tab(alice, token), ChatListenerState)
        add_or_update_conversation(listener_state._store(), convo)  # its participants' presence: not held yet

        async def listen() -> None:
            async for _update in ChatListenerState.listen_for_events.fn(listener_state):
                pass

        return listener_state, asyncio.create_task(listen())

    listener_state, listener = listening_tab()
    try:
        await wait_until(lambda: len(bus.fanout._subs) == 1)
        chat = listener_state._store()
        assert chat["settings"] is not None and chat["settings"]["readReceipts"] is True
        assert set(chat["presence"]) == {alice["_id"], bob["_id"]}  # the participants'
    finally:
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)

    # A newer listener takes the tab while this one fetches: this one applies nothing and ends.
    from utool_chat.state.chat import presence as chat_presence
    fetched_settings = chat_presence.settings.get_settings
    moved_on: list[ChatListenerState] = []

    def settings_while_the_tab_moves_on(user_id: str) -> dict[str, Any]:
        moved_on[0]._listener_generation += 1
        return fetched_settings(user_id)

    monkeypatch.setattr(chat_presence.settings, "get_settings", settings_while_the_tab_moves_on)
    listener_state, listener = listening_tab()
    moved_on.append(listener_state)
    await asyncio.wait_for(listener, 5)
    chat = listener_state._store()
    assert chat["settings"] is None and chat["presence"] == {}
    assert len(bus.fanout._subs) == 0  # it never followed the bus


async def test_a_second_mount_finds_the_tab_listener_alive_and_starts_none(alice_and_bob, monkeypatch):
    (alice, token), _ = alice_and_bob
    bus = InProcessBus()
    monkeypatch.setattr(bus_module, "_bus", bus)
    listener_state = substate(tab(alice, token), ChatListenerState)

    async def listen() -> None:
        async for _update in ChatListenerState.listen_for_events.fn(listener_state):
            pass

    first = asyncio.create_task(listen())
    try:
        await wait_until(lambda: len(bus.fanout._subs) == 1)
        second = asyncio.create_task(listen())  # a remount (navigation, StrictMode)
        await asyncio.wait_for(second, 5)  # it returns at once
        assert len(bus.fanout._subs) == 1 and not first.done()
        # A listener that stopped beating (lost) is replaced, and the old one ends.
        listener_state._listener_beat = 1.0
        third = asyncio.create_task(listen())
        await wait_until(lambda: listener_state._listener_generation == 2)
        friends.send_request(alice_and_bob[1][0]["_id"], user_id=alice["_id"])  # wakes both up
        await asyncio.wait_for(first, 5)
        assert not third.done()
        third.cancel()
        await asyncio.gather(third, return_exceptions=True)
    finally:
        first.cancel()
        await asyncio.gather(first, return_exceptions=True)


async def wait_until(condition: Any, within: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


# ----- the chat states ---------------------------------------------------------------


class ChatTab:
    """One signed-in tab's state tree, seen through its chat substates."""

    def __init__(self, user: dict[str, Any], token: str = "") -> None:
        self.root = tab(user, token)
        self.me = user["_id"]

    def get(self, cls: type[T_STATE]) -> T_STATE:
        return substate(self.root, cls)

    async def call(self, handler: Any, *args: Any) -> list[Any]:
        """Run `handler` on this tab's instance of the substate that declares it."""
        return await call(handler, self.get(handler.state), *args)

    async def show(self, conversation: dict[str, Any]) -> None:
        """List `conversation` and open it, as on_load does once it is fetched."""
        chat = self.get(ChatState)._store()
        add_or_update_conversation(chat, conversation)
        set_current_conversation_id(chat, conversation["_id"])
        await self.get(ChatState)._publish(self.me)

    def messages(self) -> list[Any]:
        """The open conversation's message views, oldest first."""
        state = self.get(MessagesState)
        return [*state.older_messages, *state.recent_messages]


@pytest.fixture()
async def chat_tab(alice_and_bob):
    """Alice's tab with her direct conversation with Bob open."""
    (alice, token), (bob, _) = alice_and_bob
    make_friends(alice, bob)
    convo, _created = conversations.create_conversation(alice["_id"], [bob["_id"]], type="direct")
    alice_tab = ChatTab(alice, token)
    await alice_tab.show(convo)
    return alice_tab, alice, bob, convo["_id"]


async def test_a_bug_while_sending_leaves_the_message_failed_with_retry_not_sending(chat_tab, monkeypatch):
    alice_tab, alice, _bob, cid = chat_tab
    async def send_with_a_bug(*args: Any, **kwargs: Any) -> Any:
        return fail_with_a_bug(*args, **kwargs)

    monkeypatch.setattr(messages, "send_message_async", send_with_a_bug)
    updates = await alice_tab.call(ComposerState.post_new_message, {"content": "hello"})
    assert toasts(updates, "error") == [f"Message not sent: {GENERIC}"]
    [failed] = alice_tab.messages()
    assert (failed.content, failed.status, failed.error) == ("hello", "failed", GENERIC)

    monkeypatch.undo()
    await alice_tab.call(OutboxState.retry_message, failed.key)
    [sent] = alice_tab.messages()
    assert (sent.content, sent.status) == ("hello", "sent")
    page, _meta = messages.list_messages(alice["_id"], cid)
    assert [m["content"] for m in page] == ["hello"]


async def test_a_bug_while_loading_older_messages_frees_paging_and_the_next_scroll_pages(chat_tab, monkeypatch):
    alice_tab, alice, bob, cid = chat_tab
    for n in range(PAGE_SIZE + 5):
        messages.send_message(bob["_id"] if n % 2 else alice["_id"], cid, f"message {n}")
    await alice_tab.call(MessagesState.retry_messages)  # opens the conversation: the latest page
    state = alice_tab.get(MessagesState)
    assert (len(alice_tab.messages()), state.has_older, state.loading_older) == (PAGE_SIZE, True, False)

    monkeypatch.setattr(messages, "list_messages", fail_with_a_bug)
    updates = await alice_tab.call(MessagesState.fetch_messages)
    assert toasts(updates, "error") == [f"Could not load messages: {GENERIC}"]
    assert (state.loading_older, state.has_older, len(alice_tab.messages())) == (False, True, PAGE_SIZE)
    await alice_tab.get(ChatState)._publish(alice["_id"])  # e.g. a live event: the list stays
    assert (state.messages_error, len(alice_tab.messages())) == ("", PAGE_SIZE)

    monkeypatch.undo()
    await alice_tab.call(MessagesState.fetch_messages)
    assert (state.loading_older, state.has_older) == (False, False)
    assert [m.content for m in alice_tab.messages()] == [f"message {n}" for n in range(PAGE_SIZE + 5)]


async def test_a_bug_while_loading_conversations_shows_the_error_state_and_try_again_loads_them(
    chat_tab, monkeypatch
):
    alice_tab, _alice, _bob, cid = chat_tab
    monkeypatch.setattr(conversations, "list_conversations", fail_with_a_bug)
    updates = await alice_tab.call(ConversationListState.fetch_conversations)
    state = alice_tab.get(ConversationListState)
    assert toasts(updates, "error") == [f"Could not load conversations: {GENERIC}"]
    assert (state.conversations_loading, state.conversations_error) == (False, GENERIC)

    monkeypatch.undo()
    await alice_tab.call(ConversationListState.fetch_conversations)
    assert (state.conversations_loading, state.conversations_error) == (False, "")
    assert [item.id for item in state.conversation_items] == [cid]


async def test_a_bug_in_a_reaction_or_a_delete_is_a_toast_and_changes_nothing(chat_tab, monkeypatch):
    alice_tab, alice, _bob, cid = chat_tab
    await alice_tab.call(ComposerState.post_new_message, {"content": "hello"})
    [sent] = alice_tab.messages()
    monkeypatch.setattr(reactions, "add_reaction", fail_with_a_bug)
    monkeypatch.setattr(messages, "delete_message", fail_with_a_bug)
    updates = await alice_tab.call(MessageActionsState.toggle_reaction, sent.message_id, "👍")
    assert toasts(updates, "error") == [f"Could not react: {GENERIC}"]
    await alice_tab.call(MessageActionsState.ask_delete, sent.message_id)
    updates = await alice_tab.call(MessageActionsState.delete_message)
    assert toasts(updates, "error") == [f"Could not delete: {GENERIC}"]
    assert alice_tab.get(MessageActionsState).confirm_delete_id == ""
    assert alice_tab.messages() == [sent]
    [stored] = messages.list_messages(alice["_id"], cid)[0]
    assert (stored["reactions"], stored["isDeleted"]) == ([], False)


@pytest.mark.parametrize("form", HOSTILE_FORMS)
async def test_chat_forms_that_are_not_dicts_change_nothing(chat_tab, form):
    alice_tab, alice, _bob, cid = chat_tab
    await alice_tab.call(ComposerState.post_new_message, form)
    assert alice_tab.messages() == []
    assert toasts(await alice_tab.call(ComposerState.add_attachment_link, form), "error")
    assert alice_tab.get(ComposerState).pending_attachments == []
    header = alice_tab.get(ChatState)
    header.current_is_group = header.current_is_admin = True
    assert toasts(await alice_tab.call(ConversationSettingsState.rename_group, form), "error") == [
        "A group name cannot be empty."
    ]
    assert messages.list_messages(alice["_id"], cid)[0] == []


async def test_message_handlers_ignore_ids_that_are_not_ids(chat_tab):
    alice_tab, alice, _bob, cid = chat_tab
    await alice_tab.call(ComposerState.post_new_message, {"content": "hello"})
    [message] = alice_tab.messages()
    composer, actions = alice_tab.get(ComposerState), alice_tab.get(MessageActionsState)
    for hostile in HOSTILE_IDS:
        for handler in (
            ComposerState.start_reply, ComposerState.start_edit, OutboxState.retry_message, OutboxState.discard_failed
        ):
            assert await alice_tab.call(handler, hostile) == []
        assert await alice_tab.call(MessageActionsState.toggle_reaction, hostile, "👍") == []
        await alice_tab.call(MessageActionsState.ask_delete, hostile)
        assert (composer.reply_to_id, composer.editing_id, actions.confirm_delete_id) == ("", "", "")
    assert alice_tab.messages() == [message]
    assert messages.list_messages(alice["_id"], cid)[0][0]["reactions"] == []


async def test_dialog_flags_and_member_buttons_store_only_well_formed_values(chat_tab):
    alice_tab, _alice, bob, _cid = chat_tab
    composer = alice_tab.get(ComposerState)
    for hostile in ("yes", 1, ["x"], None):
        await alice_tab.call(ComposerState.set_attach_open, hostile)
        assert composer.attach_open is False
    await alice_tab.call(ComposerState.set_attach_open, True)
    assert composer.attach_open is True
    header = alice_tab.get(ChatState)
    header.current_is_group = header.current_is_admin = True
    settings = alice_tab.get(ConversationSettingsState)
    for hostile in [*HOSTILE_IDS, "not-a-member"]:
        for handler in (
            ConversationSettingsState.make_admin, ConversationSettingsState.dismiss_admin,
            ConversationSettingsState.remove_member,
        ):
            assert await alice_tab.call(handler, hostile) == []
            assert settings.member_busy_id == ""
    assert {m.id for m in settings.members} >= {bob["_id"]}


async def test_the_menus_toggle_turns_over_mute_or_pin_and_nothing_else(chat_tab):
    alice_tab, alice, _bob, cid = chat_tab
    for hostile in ("archived", "isMuted", ["muted"], None, 1):
        assert await alice_tab.call(PreferencesState.toggle, cid, hostile) == []
    for hostile in HOSTILE_IDS:
        assert await alice_tab.call(PreferencesState.toggle, hostile, "muted") == []
    stored = conversations.get_conversation(alice["_id"], cid)
    assert (stored["isMuted"], stored["isPinned"], stored["isArchived"]) == (False, False, False)

    said = [toasts(await alice_tab.call(PreferencesState.toggle, cid, setting), "success")
            for setting in ("muted", "pinned", "muted")]
    assert said == [["Muted."], ["Pinned."], ["Unmuted."]]
    stored = conversations.get_conversation(alice["_id"], cid)
    assert (stored["isMuted"], stored["isPinned"]) == (False, True)
    menu = alice_tab.get(PreferencesState)
    assert (menu.current_muted, menu.current_pinned) == (False, True)


async def test_reflex_typing_and_stopping_count_against_the_users_typing_limit_across_tabs(chat_tab, monkeypatch):
    alice_tab, alice, bob, cid = chat_tab
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
        # Three tabs of the same user, one keystroke each: the first starts the typing state
        # (Bob is told), the second refreshes it (nobody is told), the third is over the limit.
        tabs = [alice_tab]
        for _ in range(2):
            other = ChatTab(alice)
            await other.show(conversations.get_conversation(alice["_id"], cid))
            tabs.append(other)
        for each in tabs:
            await each.call(ComposerState.typing)
        await asyncio.sleep(0.05)
        assert [e.name for e in received] == ["chat:user_typing"] and bob["_id"] in received[0].user_ids
        # The refused tab announced nothing, so it has nothing to take back either...
        assert tabs[2].get(ComposerState)._typing_conversation == ""
        await tabs[2].call(ComposerState.stop_typing)
        # ...and a stop counts against the same limit: over it, nothing is published (the
        # server's typing TTL ends the state instead).
        await tabs[0].call(ComposerState.stop_typing)
        await asyncio.sleep(0.05)
        assert [e.name for e in received] == ["chat:user_typing"]
    finally:
        follower.cancel()
        await asyncio.gather(follower, return_exceptions=True)
        ratelimit.reset()
        typing_signals.typing_stopped(alice["_id"], cid)  # leave no typing state behind


async def test_a_bug_in_a_group_change_frees_the_member_button(alice_and_bob, monkeypatch):
    (alice, token), (bob, _) = alice_and_bob
    carol, _ = signed_up("carol", "Carol")
    make_friends(alice, bob)
    make_friends(alice, carol)
    group, _created = conversations.create_conversation(
        alice["_id"], [bob["_id"], carol["_id"]], type="group", name="Trip"
    )
    alice_tab = ChatTab(alice, token)
    await alice_tab.show(group)
    settings = alice_tab.get(ConversationSettingsState)
    assert settings.current_is_admin
    monkeypatch.setattr(conversations, "update_conversation", fail_with_a_bug)
    updates = await alice_tab.call(ConversationSettingsState.make_admin, bob["_id"])
    assert toasts(updates, "error") == [GENERIC]
    assert settings.member_busy_id == ""
    monkeypatch.undo()
    await alice_tab.call(ConversationSettingsState.make_admin, bob["_id"])
    assert (settings.member_busy_id, conversations.get_conversation(alice["_id"], group["_id"])["admins"]) == (
        "", [alice["_id"], bob["_id"]],
    )


# ----- the browser outbox's door -------------------------------------------------------


def _entry(cid: str, temp_id: str, content: Any, **extra: Any) -> str:
    return json.dumps({"tempId": temp_id, "conversationId": cid, "content": content, "attachments": [],
                       "replyTo": None, "createdAt": "2026-12-01T00:00:00Z", **extra})


def _settled(updates: list[Any]) -> list[tuple[str, str]]:
    """The (tempId, outcome) pairs a handler told the browser's outbox, in order."""
    specs = [spec for u in updates for spec in (u if isinstance(u, list) else [u])]
    # Each spec names its script twice (its JS expression, escaped, and its value): the value.
    return [pair for spec in specs for pair in re.findall(r'outbox\.settled\("([^"]+)", "(\w+)"', repr(spec))[:1]]


async def test_an_outbox_entry_delivered_twice_is_stored_once_and_settled_each_time(chat_tab):
    alice_tab, alice, _bob, cid = chat_tab
    await alice_tab.call(MessagesState.retry_messages)  # opens the conversation (loads it)
    for _ in range(2):  # the answer to the first was lost: the outbox delivers it again
        updates = await alice_tab.call(OutboxState.deliver_entry, _entry(cid, "tmp-once", "only once"))
        assert _settled(updates) == [("tmp-once", "sent")]
    assert [(m.content, m.status) for m in alice_tab.messages()] == [("only once", "sent")]
    page, _meta = messages.list_messages(alice["_id"], cid)
    assert [m["content"] for m in page] == ["only once"]


async def test_an_outage_keeps_the_entry_waiting_and_a_refusal_shows_it_failed(chat_tab, monkeypatch):
    alice_tab, alice, _bob, cid = chat_tab
    await alice_tab.call(MessagesState.retry_messages)

    async def down(*_args: Any, **_kwargs: Any) -> Any:
        raise Unavailable("the database is unavailable", retry_after=3)

    monkeypatch.setattr(messages, "send_message_async", down)
    updates = await alice_tab.call(OutboxState.deliver_entry, _entry(cid, "tmp-wait", "later"))
    assert _settled(updates) == [("tmp-wait", "unavailable")] and "3)" in str(updates)
    assert toasts(updates, "error") == []
    assert alice_tab.messages() == []  # the browser's outbox still shows it, waiting
    monkeypatch.undo()
    updates = await alice_tab.call(OutboxState.deliver_entry, _entry(cid, "tmp-wait", "later"))
    assert _settled(updates) == [("tmp-wait", "sent")]
    # A refusal (too long) is "failed", with Retry, and leaves the outbox.
    updates = await alice_tab.call(OutboxState.deliver_entry, _entry(cid, "tmp-long", "x" * 4001))
    assert _settled(updates) == [("tmp-long", "failed")]
    assert [(m.content[:5], m.status) for m in alice_tab.messages()] == [("later", "sent"), ("xxxxx", "failed")]
    assert [m["content"] for m in messages.list_messages(alice["_id"], cid)[0]] == ["later"]


async def test_outbox_entries_that_are_not_entries_change_nothing(chat_tab):
    alice_tab, alice, _bob, cid = chat_tab
    hostile = [
        None, 42, ["x"], "not json", json.dumps([1]), "x" * 50_000,
        _entry(cid, "", "no temp id"), _entry(cid, "tmp-1", "bad", attachments=[{"url": "javascript:alert(1)"}]),
        _entry(cid, "tmp-2", "bad", attachments="x"), _entry(cid, "tmp-3", "bad", replyTo=["m"]),
        _entry(cid, "tmp-4", 7),
    ]
    for raw in hostile:
        assert await alice_tab.call(OutboxState.deliver_entry, raw) == []
    assert alice_tab.messages() == []
    assert messages.list_messages(alice["_id"], cid)[0] == []


async def test_composing_hands_the_reply_target_and_links_to_the_entry(chat_tab):
    alice_tab, alice, _bob, cid = chat_tab
    await alice_tab.call(ComposerState.add_attachment_link, {"url": "https://example.com/a.pdf"})
    await alice_tab.call(ComposerState.composed, "tmp-links")
    assert alice_tab.get(ComposerState).pending_attachments == []
    updates = await alice_tab.call(OutboxState.deliver_entry, _entry(cid, "tmp-links", "see this"))
    assert _settled(updates) == [("tmp-links", "sent")]
    [stored] = messages.list_messages(alice["_id"], cid)[0]
    assert [a["url"] for a in stored["attachments"]] == ["https://example.com/a.pdf"]
    assert alice_tab.get(OutboxState)._composed_links == {}
