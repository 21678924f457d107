"""The chat slice cannot drift from the server (in the spirit of Zulip's `verify_action`).

For every domain action that publishes chat events: build each person's slice from a fresh
fetch (list_conversations, then list_messages of every conversation they list), run the
REAL action, apply the events it published (recorded from the real bus, decoded from JSON
as every subscriber gets them) with the slice's own reducer `apply_event`, the way a tab's
live listener does, and assert the result equals a slice built from a fresh fetch taken
after the action — for every person: the actor, the other members, a removed member and
an outsider. Nothing here is hand-made: users, history, reads and deliveries all come
from the domain.
"""

from __future__ import annotations

import copy
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

import pytest

from tests import media_samples as samples
from tests.support.events import RecordedEvents, recorded_events
from tests.support.factories import befriend, make_user
from utool_chat.domain import conversations, messages, presence, reactions, settings, uploads
from utool_chat.domain import typing as typing_domain
from utool_chat.domain.errors import NotFound
from utool_chat.state.chat_slice import (
    Chat,
    apply_event,
    conversations_fetched,
    initial_chat,
    messages_fetched,
    missing_presence,
    presence_fetched,
    settings_fetched,
    typing_names,
)

PAGE = 100  # one page holds every test conversation: paging is not what is verified here


def fetched_slice(user_id: str, loaded: Iterable[str]) -> Chat:
    """The slice as a tab builds it from fresh fetches: the conversation list, and the
    messages of each conversation in `loaded` that the user still lists."""
    chat = initial_chat()
    listed, meta = conversations.list_conversations(user_id, limit=PAGE)
    conversations_fetched(chat, listed, bool(meta["hasMore"]), 1)
    settings_fetched(chat, settings.get_settings(user_id))
    presence_fetched(chat, presence.presence_of(user_id, presence.watchable_ids(user_id)))
    # The slice shows the list in the server's order.
    assert chat["conversations"]["ids"] == [c["_id"] for c in listed]
    for cid in loaded:
        if cid in chat["conversations"]["entities"]:
            page, meta = messages.list_messages(user_id, cid, limit=PAGE)
            messages_fetched(chat, cid, page, bool(meta["hasMore"]), older=False)
    return chat


def differences(actual: Any, expected: Any, path: str = "") -> Iterator[str]:
    if isinstance(actual, dict) and isinstance(expected, dict):
        for key in sorted(set(actual) | set(expected), key=str):
            if key not in actual:
                yield f"{path}.{key}: missing (expected {str(expected[key])[:160]})"
            elif key not in expected:
                yield f"{path}.{key}: unexpected {str(actual[key])[:160]}"
            else:
                yield from differences(actual[key], expected[key], f"{path}.{key}")
    elif isinstance(actual, list) and isinstance(expected, list) and len(actual) == len(expected):
        for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
            yield from differences(a, e, f"{path}[{i}]")
    elif actual != expected:
        yield f"{path}: {str(actual)[:160]} != fetched {str(expected)[:160]}"


class Verifier:
    """verify(action, *people): each person's slice, fetched before, plus the action's
    events, equals the slice fetched after. Returns the action's result; the events are in
    `verifier.events`."""

    def __init__(self) -> None:
        self.events = RecordedEvents()

    async def __call__(self, action: Callable[[], Any], *people: str) -> Any:
        before = {uid: fetched_slice(uid, []) for uid in people}
        loaded = {uid: list(chat["conversations"]["ids"]) for uid, chat in before.items()}
        before = {uid: fetched_slice(uid, loaded[uid]) for uid in people}
        async with recorded_events() as received:
            result = action()
            await received.settle()
        self.events = received
        for uid in people:
            chat = copy.deepcopy(before[uid])
            for evt in received:
                if uid not in evt.user_ids or not evt.name.startswith("chat:"):
                    continue
                fetched = None
                cid = evt.payload.get("conversationId")
                if evt.name == "chat:new_message" and cid not in chat["conversations"]["entities"]:
                    try:  # what the tab's listener does for a conversation it does not list yet
                        fetched = conversations.get_conversation(uid, cid)
                    except NotFound:
                        pass
                apply_event(chat, uid, evt, fetched)
            # What the tab's door does next: ask for the presence of people it just met…
            presence_fetched(chat, presence.presence_of(uid, missing_presence(chat)))
            # …while people it can no longer see keep their last state, shown nowhere.
            visible = set(presence.watchable_ids(uid))
            chat["presence"] = {k: v for k, v in chat["presence"].items() if k in visible}
            found = list(differences(chat, fetched_slice(uid, loaded[uid])))
            names = [e.name for e in received if uid in e.user_ids]
            assert not found, f"{uid}'s slice drifted after {names}:\n" + "\n".join(found[:20])
        return result


@dataclass
class World:
    ann: str  # admin of the team, friends with everyone
    bob: str
    cid: str
    dee: str  # an outsider until added
    direct: str  # ann <-> bob
    team: str  # ann (admin), bob, cid
    direct_ids: list[str]  # messages in `direct`, oldest first
    team_ids: list[str]  # messages in `team`, oldest first

    @property
    def everyone(self) -> tuple[str, str, str, str]:
        return self.ann, self.bob, self.cid, self.dee


def say(sender: str, conversation_id: str, text: str, **kwargs: Any) -> dict[str, Any]:
    message, _created = messages.send_message(sender, conversation_id, text, **kwargs)
    return message


@pytest.fixture()
def world(db) -> World:
    """Two conversations with real history: several senders, a reply, a reaction, and
    every status (sent, delivered, read) somewhere in it."""
    ann, bob, cid, dee = (make_user(n)["_id"] for n in ("ann", "bob", "cid", "dee"))
    befriend(ann, bob)
    # People accept groups from friends (the default): ann may put anyone in one, dee may add cid.
    for other in (cid, dee):
        befriend(ann, other)
    befriend(dee, cid)
    direct, _ = conversations.create_conversation(ann, [bob])
    team, _ = conversations.create_conversation(ann, [bob, cid], type="group", name="Team")
    d1 = say(ann, direct["_id"], "hi bob")
    d2 = say(bob, direct["_id"], "hi ann " + "long " * 60)  # longer than a reply's snippet
    d3 = say(ann, direct["_id"], "how are you?", reply_to=d2["_id"])
    messages.mark_delivered(bob, direct["_id"], d3["_id"])
    t1 = say(bob, team["_id"], "team: bob one")
    t2 = say(cid, team["_id"], "team: cid one")
    t3 = say(ann, team["_id"], "team: ann one")
    t4 = say(bob, team["_id"], "team: bob two")
    t5 = say(cid, team["_id"], "team: cid two")
    messages.mark_read(ann, team["_id"], t1["_id"])
    messages.mark_delivered(ann, team["_id"], t4["_id"])
    reactions.add_reaction(cid, t3["_id"], "👍")
    return World(ann, bob, cid, dee, direct["_id"], team["_id"], [d1["_id"], d2["_id"], d3["_id"]],
                 [t1["_id"], t2["_id"], t3["_id"], t4["_id"], t5["_id"]])


@pytest.fixture()
def verify() -> Verifier:
    return Verifier()


# --- messages -----------------------------------------------------------------------------------


async def test_send(world: World, verify: Verifier) -> None:
    await verify(lambda: say(world.ann, world.direct, "new one"), *world.everyone)
    await verify(lambda: say(world.cid, world.team, "to the team"), *world.everyone)


async def test_send_a_reply(world: World, verify: Verifier) -> None:
    await verify(lambda: say(world.bob, world.team, "re: ann", reply_to=world.team_ids[2]), *world.everyone)


async def test_send_again_with_the_same_temp_id(world: World, verify: Verifier) -> None:
    await verify(lambda: say(world.bob, world.direct, "once", temp_id="tmp-1"), *world.everyone)
    again = await verify(lambda: say(world.bob, world.direct, "once", temp_id="tmp-1"), *world.everyone)
    # The retry announces the stored message again (the first announcement may have died with
    # the process that stored it); applying it twice leaves every view equal to a fresh fetch.
    assert [(e.name, e.payload["message"]["_id"]) for e in verify.events] == [("chat:new_message", again["_id"])]
    assert again["tempId"] == "tmp-1"


async def test_send_with_unread_messages_reads_them(world: World, verify: Verifier) -> None:
    # bob has not read the team's last messages: answering reads everything before it.
    await verify(lambda: say(world.bob, world.team, "catching up"), *world.everyone)


async def test_send_while_typing(world: World, verify: Verifier) -> None:
    typing_domain.typing_started(world.bob, world.direct, owner="tab")
    await verify(lambda: say(world.bob, world.direct, "typed it"), *world.everyone)
    assert "chat:user_stopped_typing" in [e.name for e in verify.events]


async def test_send_to_a_conversation_the_recipient_archived(world: World, verify: Verifier) -> None:
    conversations.archive_or_leave(world.bob, world.direct)
    await verify(lambda: say(world.ann, world.direct, "are you there?"), *world.everyone)


async def test_edit(world: World, verify: Verifier) -> None:
    await verify(lambda: messages.edit_message(world.ann, world.direct_ids[0], "hi bob (edited)"), *world.everyone)


async def test_edit_a_message_someone_replied_to(world: World, verify: Verifier) -> None:
    edited = "still " + "longer " * 60
    await verify(lambda: messages.edit_message(world.bob, world.direct_ids[1], edited), *world.everyone)


async def test_edit_the_last_message(world: World, verify: Verifier) -> None:
    await verify(lambda: messages.edit_message(world.cid, world.team_ids[4], "team: cid two!"), *world.everyone)


async def test_delete_by_the_sender(world: World, verify: Verifier) -> None:
    await verify(lambda: messages.delete_message(world.cid, world.team_ids[4]), *world.everyone)


async def test_delete_by_an_admin(world: World, verify: Verifier) -> None:
    await verify(lambda: messages.delete_message(world.ann, world.team_ids[1]), *world.everyone)


async def test_delete_a_message_someone_replied_to(world: World, verify: Verifier) -> None:
    await verify(lambda: messages.delete_message(world.bob, world.direct_ids[1]), *world.everyone)


async def test_react_and_unreact(world: World, verify: Verifier) -> None:
    await verify(lambda: reactions.add_reaction(world.bob, world.team_ids[2], "🎉"), *world.everyone)
    await verify(lambda: reactions.add_reaction(world.bob, world.team_ids[2], "🎉"), *world.everyone)  # a repeat
    await verify(lambda: reactions.remove_reaction(world.cid, world.team_ids[2], "👍"), *world.everyone)


async def test_mark_read(world: World, verify: Verifier) -> None:
    await verify(lambda: messages.mark_read(world.cid, world.team, world.team_ids[3]), *world.everyone)
    await verify(lambda: messages.mark_read(world.bob, world.team, world.team_ids[4]), *world.everyone)
    await verify(lambda: messages.mark_read(world.bob, world.direct, world.direct_ids[2]), *world.everyone)


async def test_mark_delivered(world: World, verify: Verifier) -> None:
    await verify(lambda: messages.mark_delivered(world.cid, world.team, world.team_ids[3]), *world.everyone)
    await verify(lambda: messages.mark_delivered(world.ann, world.team, world.team_ids[4]), *world.everyone)


# --- conversations ---------------------------------------------------------------------------------


async def test_create_a_direct_conversation(world: World, verify: Verifier) -> None:
    befriend(world.cid, world.dee)
    await verify(lambda: conversations.create_conversation(world.cid, [world.dee]), *world.everyone)


async def test_reopen_an_archived_direct_conversation(world: World, verify: Verifier) -> None:
    conversations.archive_or_leave(world.ann, world.direct)
    await verify(lambda: conversations.create_conversation(world.ann, [world.bob]), *world.everyone)


async def test_create_a_group(world: World, verify: Verifier) -> None:
    await verify(lambda: conversations.create_conversation(world.dee, [world.ann, world.cid], type="group",
                                                           name="New"), *world.everyone)


async def test_rename(world: World, verify: Verifier) -> None:
    await verify(lambda: conversations.update_conversation(world.ann, world.team, name="Dream team"), *world.everyone)


async def test_rename_a_group_without_messages(world: World, verify: Verifier) -> None:
    empty, _ = conversations.create_conversation(world.ann, [world.bob, world.cid], type="group", name="Empty")
    say(world.bob, world.team, "newer activity than the empty group")
    # A rename is not activity: the list keeps the team above the renamed group.
    await verify(lambda: conversations.update_conversation(world.ann, empty["_id"], name="Still empty"),
                 *world.everyone)


async def test_add_a_member(world: World, verify: Verifier) -> None:
    await verify(lambda: conversations.update_conversation(world.ann, world.team, add_participant_ids=[world.dee]),
                 *world.everyone)


async def test_remove_a_member(world: World, verify: Verifier) -> None:
    messages.mark_read(world.cid, world.team, world.team_ids[3])  # cid is the only one who read these
    await verify(lambda: conversations.update_conversation(world.ann, world.team, remove_participant_ids=[world.cid]),
                 *world.everyone)


async def test_remove_the_only_member_who_received_a_message(world: World, verify: Verifier) -> None:
    latest = say(world.ann, world.team, "for bob's eyes")
    messages.mark_delivered(world.bob, world.team, latest["_id"])
    await verify(lambda: conversations.update_conversation(world.ann, world.team, remove_participant_ids=[world.bob]),
                 *world.everyone)


async def test_make_and_dismiss_an_admin(world: World, verify: Verifier) -> None:
    await verify(lambda: conversations.update_conversation(world.ann, world.team, add_admin_ids=[world.bob]),
                 *world.everyone)
    await verify(lambda: conversations.update_conversation(world.bob, world.team, remove_admin_ids=[world.ann]),
                 *world.everyone)


async def test_change_and_clear_the_avatar(world: World, verify: Verifier, upload_settings) -> None:
    picture = uploads.store_upload(world.ann, "team.png", io.BytesIO(samples.png()))
    await verify(lambda: conversations.update_conversation(world.ann, world.team, avatar={"uploadId": picture["_id"]}),
                 *world.everyone)
    await verify(lambda: conversations.update_conversation(world.ann, world.team, avatar=""), *world.everyone)


async def test_send_an_uploaded_file(world: World, verify: Verifier, upload_settings) -> None:
    photo = uploads.store_upload(world.bob, "photo.png", io.BytesIO(samples.png()))
    await verify(lambda: say(world.bob, world.team, "look", attachments=[{"uploadId": photo["_id"]}]), *world.everyone)


async def test_archive_a_direct_conversation(world: World, verify: Verifier) -> None:
    await verify(lambda: conversations.archive_or_leave(world.ann, world.direct), *world.everyone)


async def test_leave_a_group(world: World, verify: Verifier) -> None:
    await verify(lambda: conversations.archive_or_leave(world.bob, world.team), *world.everyone)


async def test_the_last_admin_leaves(world: World, verify: Verifier) -> None:
    await verify(lambda: conversations.archive_or_leave(world.ann, world.team), *world.everyone)


async def test_create_a_project_conversation(world: World, verify: Verifier) -> None:
    await verify(lambda: conversations.create_conversation(world.ann, [world.bob, world.dee], type="project",
                                                           name="Launch", project_id="p-42"), *world.everyone)


async def test_a_new_member_reads_and_answers(world: World, verify: Verifier) -> None:
    conversations.update_conversation(world.ann, world.team, add_participant_ids=[world.dee])
    welcome = await verify(lambda: say(world.ann, world.team, "welcome dee"), *world.everyone)
    await verify(lambda: messages.mark_read(world.dee, world.team, welcome["_id"]), *world.everyone)
    await verify(lambda: say(world.dee, world.team, "hello all"), *world.everyone)
    await verify(lambda: say(world.ann, world.team, "one more"), *world.everyone)
    await verify(lambda: say(world.dee, world.team, "answering reads it"), *world.everyone)


async def test_typing_start_and_stop(world: World, verify: Verifier) -> None:
    """Typing is never fetched: the slice must show exactly who the server holds as typing."""
    chats = {uid: fetched_slice(uid, []) for uid in world.everyone}

    def apply(received: RecordedEvents) -> None:
        for uid, chat in chats.items():
            for evt in received:
                if uid in evt.user_ids:
                    apply_event(chat, uid, evt, None)

    async with recorded_events() as received:
        typing_domain.typing_started(world.bob, world.team, owner="tab")
        typing_domain.typing_started(world.cid, world.team, owner="tab-2")
        typing_domain.typing_started(world.bob, world.team, owner="tab")  # a refresh
        await received.settle()
    apply(received)
    assert typing_names(chats[world.ann], world.team) == ["Bob", "Cid"]
    assert typing_names(chats[world.bob], world.team) == ["Cid"]
    assert typing_names(chats[world.dee], world.team) == []
    async with recorded_events() as received:
        typing_domain.typing_stopped(world.bob, world.team)
        typing_domain.end_typing_of("tab-2")  # cid's tab went away
        await received.settle()
    apply(received)
    assert [typing_names(chats[uid], world.team) for uid in world.everyone] == [[], [], [], []]
    assert not typing_domain.registry.is_typing(world.bob, world.team)
    assert not typing_domain.registry.is_typing(world.cid, world.team)


# --- beyond text: mentions, preferences, settings, receipts, presence ------------------------------


async def test_send_with_mentions(world: World, verify: Verifier) -> None:
    await verify(lambda: say(world.bob, world.team, f"<@{world.cid}> and @ann, look"), *world.everyone)
    await verify(lambda: say(world.ann, world.team, "@everyone standup"), *world.everyone)
    await verify(lambda: say(world.ann, world.direct, f"<@{world.bob}> in private"), *world.everyone)


async def test_edit_and_delete_change_who_is_mentioned(world: World, verify: Verifier) -> None:
    sent = say(world.ann, world.team, f"<@{world.bob}> first")
    await verify(lambda: messages.edit_message(world.ann, sent["_id"], f"<@{world.cid}> instead"), *world.everyone)
    await verify(lambda: messages.delete_message(world.ann, sent["_id"]), *world.everyone)


async def test_reading_a_mention(world: World, verify: Verifier) -> None:
    sent = say(world.ann, world.team, f"<@{world.cid}> read me")
    await verify(lambda: messages.mark_read(world.cid, world.team, sent["_id"]), *world.everyone)


async def test_mute_pin_archive_and_back(world: World, verify: Verifier) -> None:
    changes: list[dict[str, Any]] = [
        {"muted": True}, {"muted": True, "muted_for": 3600}, {"pinned": True}, {"muted": False},
        {"archived": True}, {"archived": False}, {"pinned": True}, {"pinned": False}]
    for change in changes:
        await verify(partial(conversations.update_preferences, world.bob, world.team, **change), *world.everyone)


async def test_a_pinned_conversation_stays_on_top_as_messages_arrive(world: World, verify: Verifier) -> None:
    conversations.update_preferences(world.ann, world.direct, pinned=True)
    await verify(lambda: say(world.cid, world.team, "newer, but not pinned"), *world.everyone)


async def test_turning_read_receipts_off(world: World, verify: Verifier) -> None:
    messages.mark_read(world.bob, world.team, world.team_ids[4])  # ann sees bob's read…
    await verify(lambda: settings.update_settings(world.ann, {"readReceipts": False}), *world.everyone)
    # …no longer; and a reader who hides reads is only a delivery for everyone.
    await verify(lambda: settings.update_settings(world.cid, {"readReceipts": False}), *world.everyone)
    await verify(lambda: messages.mark_read(world.cid, world.team, world.team_ids[3]), *world.everyone)
    await verify(lambda: say(world.cid, world.team, "answering with receipts off"), *world.everyone)
    await verify(lambda: messages.mark_read(world.bob, world.team, world.team_ids[2]), *world.everyone)


async def test_hiding_last_seen(world: World, verify: Verifier) -> None:
    await verify(lambda: settings.update_settings(world.bob, {"showLastSeen": False}), *world.everyone)


@pytest.fixture()
def live_presence(db) -> Iterator[presence.Presence]:
    presence.tracker.reset(presence.MemoryStore())
    presence.tracker.autostart = False
    yield presence.tracker
    presence.tracker.reset()
    presence.tracker.autostart = True


async def test_presence_comes_and_goes(world: World, verify: Verifier, live_presence: presence.Presence) -> None:
    def step(change: Callable[[], Any]) -> Callable[[], Any]:
        return lambda: (change(), live_presence.flush())

    await verify(step(lambda: presence.connected(world.bob, "bob-tab")), *world.everyone)
    await verify(step(lambda: presence.connected(world.cid, "cid-tab")), *world.everyone)
    await verify(step(lambda: presence.report(world.bob, "bob-tab", "away")), *world.everyone)
    await verify(step(lambda: presence.disconnected("bob-tab")), *world.everyone)
    await verify(lambda: settings.update_settings(world.ann, {"showLastSeen": False}), *world.everyone)
    await verify(step(lambda: presence.disconnected("cid-tab")), *world.everyone)
