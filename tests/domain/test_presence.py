"""Presence: online / away / offline with last seen, seen only by friends and co-members, the
last-seen privacy switch, and the store that makes several processes agree (real Redis)."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator

import pytest
import redis

from tests.support.events import named
from tests.support.factories import befriend, group_conversation, make_user
from utool_chat.domain import presence, settings
from utool_chat.domain.errors import ValidationFailed
from utool_chat.domain.presence import MemoryStore, Presence, RedisStore

REDIS_DB = random.randint(1, 15)
REDIS_URL = f"redis://127.0.0.1:6379/{REDIS_DB}"


@pytest.fixture()
def tracker(db) -> Iterator[Presence]:
    """The process's presence on a fresh memory store, flushed by the test itself."""
    presence.tracker.reset(MemoryStore())
    presence.tracker.autostart = False
    yield presence.tracker
    presence.tracker.reset()
    presence.tracker.autostart = True


@pytest.fixture()
def people(tracker):
    ann, bob, cid, zed = (make_user(n)["_id"] for n in ("ann", "bob", "cid", "zed"))
    befriend(ann, bob)  # bob: a friend
    dee = make_user("dee")["_id"]
    befriend(ann, dee)
    befriend(ann, cid)
    group_conversation(ann, [cid, dee])  # cid: shares a conversation with ann (and is her friend)
    return {"ann": ann, "bob": bob, "cid": cid, "dee": dee, "zed": zed}


def updates_for(events, user_id: str) -> list[dict]:
    return [e.payload for e in named(events, "chat:presence_update") if user_id in e.user_ids]


def test_connecting_makes_you_online_for_friends_and_co_members_only(tracker, people, events):
    presence.connected(people["ann"], "sock-1")
    assert presence.presence_of(people["bob"], [people["ann"]])[people["ann"]]["status"] == "offline"  # not flushed
    (transition,) = tracker.flush()
    assert (transition.user_id, transition.old, transition.new) == (people["ann"], "offline", "online")
    (update,) = updates_for(events, people["bob"])
    assert update["userId"] == people["ann"] and update["status"] == "online" and update["lastSeenAt"] is None
    assert update["changedAt"]
    assert updates_for(events, people["cid"]) == [update]
    assert updates_for(events, people["zed"]) == []  # a stranger hears nothing
    assert presence.presence_of(people["bob"], [people["ann"]]) == {people["ann"]: update}
    assert presence.presence_of(people["zed"], [people["ann"]]) == {}  # and sees nothing
    assert presence.presence_of(people["zed"], [people["ann"], "f" * 32, "bad id"]) == {}


def test_away_and_back_and_gone_with_last_seen(tracker, people, events):
    presence.connected(people["ann"], "tab-1")
    tracker.flush()
    assert presence.report(people["ann"], "tab-1", "away") == {"status": "away"}
    tracker.flush()
    away = presence.presence_of(people["bob"], [people["ann"]])[people["ann"]]
    assert away["status"] == "away" and away["lastSeenAt"]  # when she stopped being active
    presence.report(people["ann"], "tab-1", "online")
    tracker.flush()
    assert presence.presence_of(people["bob"], [people["ann"]])[people["ann"]]["lastSeenAt"] is None
    presence.disconnected("tab-1")
    tracker.flush()
    gone = presence.presence_of(people["bob"], [people["ann"]])[people["ann"]]
    assert gone["status"] == "offline" and gone["lastSeenAt"] >= away["lastSeenAt"]
    assert [u["status"] for u in updates_for(events, people["bob"])] == ["online", "away", "online", "offline"]


def test_online_while_any_connection_is(tracker, people, events):
    presence.connected(people["ann"], "phone")
    presence.connected(people["ann"], "laptop")
    presence.report(people["ann"], "phone", "away")
    tracker.flush()
    assert presence.presence_of(people["bob"], [people["ann"]])[people["ann"]]["status"] == "online"
    presence.disconnected("laptop")
    tracker.flush()
    assert presence.presence_of(people["bob"], [people["ann"]])[people["ann"]]["status"] == "away"
    presence.disconnected("phone")
    presence.disconnected("phone")  # twice: nothing more happens
    tracker.flush()
    assert [u["status"] for u in updates_for(events, people["bob"])] == ["online", "away", "offline"]


def test_hiding_last_seen_hides_it_both_ways(tracker, people, events):
    presence.connected(people["bob"], "b")
    presence.connected(people["ann"], "a")
    tracker.flush()
    presence.disconnected("b")
    tracker.flush()
    assert presence.presence_of(people["ann"], [people["bob"]])[people["bob"]]["lastSeenAt"]
    events.clear()
    settings.update_settings(people["ann"], {"showLastSeen": False})
    # ann sees nobody's last seen now, and nobody sees hers; the status still shows.
    assert presence.presence_of(people["ann"], [people["bob"]])[people["bob"]] | {"changedAt": None} == {
        "userId": people["bob"], "status": "offline", "lastSeenAt": None, "changedAt": None}
    presence.disconnected("a")
    tracker.flush()
    seen_by_bob = presence.presence_of(people["bob"], [people["ann"]])[people["ann"]]
    assert seen_by_bob["status"] == "offline" and seen_by_bob["lastSeenAt"] is None
    assert all(u["lastSeenAt"] is None for u in updates_for(events, people["bob"]))


def test_a_watcher_who_hides_their_own_last_seen_gets_updates_without_it(tracker, people, events):
    settings.update_settings(people["cid"], {"showLastSeen": False})
    presence.connected(people["ann"], "a")
    tracker.flush()
    presence.disconnected("a")
    tracker.flush()
    assert updates_for(events, people["bob"])[-1]["lastSeenAt"] is not None
    assert updates_for(events, people["cid"])[-1]["lastSeenAt"] is None


def test_changing_the_setting_re_announces_presence(tracker, people, events):
    settings.update_settings(people["ann"], {"showLastSeen": False})
    (update,) = updates_for(events, people["bob"])
    assert update["userId"] == people["ann"] and update["lastSeenAt"] is None


@pytest.mark.parametrize("status", ["offline", "busy", "", None, 1, ["online"]])
def test_only_online_and_away_can_be_reported(tracker, people, status):
    with pytest.raises(ValidationFailed) as err:
        presence.report(people["ann"], "tab", status)
    assert err.value.code == "invalid_status"


@pytest.mark.parametrize("ids", ["ann", None, [1, 2], [["x"]], ["a"] * 201])
def test_bad_presence_questions_are_a_400(tracker, people, ids):
    with pytest.raises(ValidationFailed):
        presence.presence_of(people["bob"], ids)


def test_watchable_ids_are_friends_and_co_members(tracker, people):
    assert set(presence.watchable_ids(people["ann"])) == {people["bob"], people["cid"], people["dee"]}
    assert set(presence.watchable_ids(people["cid"])) == {people["ann"], people["dee"]}
    assert presence.watchable_ids(people["zed"]) == []


# --- several processes on one Redis ---------------------------------------------------------


@pytest.fixture()
def redis_prefix() -> Iterator[str]:
    prefix = f"utool_test:presence:{uuid.uuid4().hex}"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(f"{prefix}:*"))
    if keys:
        client.delete(*keys)


def stores(prefix: str, alive_ms: int = 60_000) -> tuple[RedisStore, RedisStore]:
    a, b = (RedisStore(REDIS_URL, prefix, process_id=pid, alive_ms=alive_ms) for pid in ("proc-a", "proc-b"))
    a.heartbeat()
    b.heartbeat()
    return a, b


def test_two_processes_agree_and_only_the_last_change_is_announced(redis_prefix):
    a, b = stores(redis_prefix)
    first = a.set_local("u1", "online")
    assert first is not None and (first.old, first.new) == ("offline", "online")
    assert b.set_local("u1", "away") is None  # still online through a
    assert a.set_local("u1", None) == presence.Transition("u1", "online", "away", a.snapshot()["u1"][1])
    last = b.set_local("u1", None)
    assert last is not None and (last.old, last.new) == ("away", "offline") and last.at_ms >= first.at_ms
    assert a.snapshot() == {} == b.snapshot()


def test_a_process_that_stops_beating_is_reaped_and_its_users_go_offline(redis_prefix):
    a, b = stores(redis_prefix, alive_ms=300)
    a.set_local("u1", "online")
    b.set_local("u2", "online")
    time.sleep(0.45)
    b_alive = RedisStore(REDIS_URL, redis_prefix, process_id="proc-b", alive_ms=60_000)
    b_alive.heartbeat()  # b goes on; a died
    reaped = b_alive.reap()
    assert [(t.user_id, t.old, t.new) for t in reaped] == [("u1", "online", "offline")]
    assert set(b_alive.snapshot()) == {"u2"}
    assert b_alive.reap() == []


def test_a_process_starting_late_reads_who_is_online(db, redis_prefix, events):
    ann, bob = make_user("ann")["_id"], make_user("bob")["_id"]
    befriend(ann, bob)
    first = Presence(RedisStore(REDIS_URL, redis_prefix, process_id="first"))
    first.connections.put("sock", ann, "online")
    assert [t.new for t in first.flush()] == ["online"]
    second = Presence(RedisStore(REDIS_URL, redis_prefix, process_id="second"))
    assert second.flush() == []  # nothing changed here…
    assert second.status(ann)[0] == "online"  # …but it knows ann is online
    second.connections.put("tab", ann, "away")
    assert second.flush() == []  # online on the first process still
    first.connections.drop("sock")
    (went,) = first.flush()
    assert (went.old, went.new) == ("online", "away")
    assert [u["status"] for u in updates_for(events, bob)] == ["online", "away"]
