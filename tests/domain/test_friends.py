"""friends domain: requests, friendships, search, events — on real Postgres."""

from __future__ import annotations

import asyncio
import threading
from functools import partial
from typing import Any

import pytest
import sqlalchemy as sa

from tests.conftest import count_queries
from tests.support.events import RecordedEvents, recorded_events
from tests.support.factories import befriend, make_user
from utool_chat.db.engine import get_engine, session_scope
from utool_chat.domain import friends
from utool_chat.domain.errors import Conflict, Forbidden, NotFound, ValidationFailed


@pytest.fixture()
def alice(db):
    return make_user("alice", "Alice Liddell")


@pytest.fixture()
def bob(db):
    return make_user("bob", "Bob Builder")


@pytest.fixture()
def carol(db):
    return make_user("carol", "Carol Danvers")


def friendship_rows() -> set[tuple[str, str]]:
    with get_engine().connect() as conn:
        return {tuple(r) for r in conn.execute(sa.text("SELECT user_id, friend_id FROM friendships"))}


def request_rows() -> list[tuple[str, str, str]]:
    with get_engine().connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text("SELECT from_user_id, to_user_id, status FROM friend_requests"))]


# ---------------------------------------------------------------- sending


def test_send_request_creates_a_pending_request(alice, bob):
    request, created = friends.send_request(alice["_id"], username="bob")
    assert created is True
    assert set(request) == {"_id", "from", "to", "status", "createdAt"}
    assert request["from"] == alice and request["to"] == bob
    assert request["status"] == "pending"
    assert request["createdAt"].endswith("Z")
    assert request_rows() == [(alice["_id"], bob["_id"], "pending")]
    assert friendship_rows() == set()


def test_send_request_by_user_id(alice, bob):
    request, created = friends.send_request(alice["_id"], user_id=bob["_id"])
    assert created and request["to"] == bob


def test_send_request_username_is_case_and_space_insensitive(alice, bob):
    request, created = friends.send_request(alice["_id"], username="  BoB ")
    assert created and request["to"] == bob


@pytest.mark.parametrize("how", [{"username": "alice"}, {"username": "ALICE"}, {"user_id": "self"}])
def test_send_request_to_yourself_is_400(alice, how):
    if how.get("user_id") == "self":
        how = {"user_id": alice["_id"]}
    with pytest.raises(ValidationFailed) as err:
        friends.send_request(alice["_id"], **how)
    assert err.value.code == "cannot_friend_self"


@pytest.mark.parametrize("how", [{"username": "nobody"}, {"user_id": "0" * 32}, {"username": "x" * 500}])
def test_send_request_to_unknown_user_is_404(alice, how):
    with pytest.raises(NotFound):
        friends.send_request(alice["_id"], **how)


@pytest.mark.parametrize(
    "how",
    [{}, {"username": "bob", "user_id": "whatever"}, {"username": 5}, {"user_id": 5}, {"username": ["bob"]},
     {"user_id": {"id": "x"}}],
)
def test_send_request_needs_exactly_one_string_target(alice, bob, how):
    with pytest.raises(ValidationFailed):
        friends.send_request(alice["_id"], **how)


def test_send_request_to_a_friend_is_409(alice, bob):
    befriend(alice, bob)
    for sender, target in ((alice, bob), (bob, alice)):
        with pytest.raises(Conflict) as err:
            friends.send_request(sender["_id"], username=target["username"])
        assert err.value.code == "already_friends"


def test_repeated_request_returns_the_pending_one(alice, bob):
    first, _ = friends.send_request(alice["_id"], username="bob")
    again, created = friends.send_request(alice["_id"], user_id=bob["_id"])
    assert created is False
    assert again == first
    assert len(request_rows()) == 1


def test_request_when_the_other_side_already_asked_accepts_theirs(alice, bob):
    theirs, _ = friends.send_request(bob["_id"], username="alice")
    result, created = friends.send_request(alice["_id"], username="bob")
    assert created is False
    assert result["_id"] == theirs["_id"]
    assert result["status"] == "accepted"
    assert result["from"] == bob and result["to"] == alice
    assert friendship_rows() == {(alice["_id"], bob["_id"]), (bob["_id"], alice["_id"])}
    assert friends.list_requests(alice["_id"]) == {"incoming": [], "outgoing": []}


def test_send_request_costs_a_fixed_number_of_queries(alice, bob):
    with count_queries() as q:
        friends.send_request(alice["_id"], username="bob")
    # lock both users, friendship check, pending check, insert
    assert q.count == 4, q.statements


# ---------------------------------------------------------------- answering


def test_accept_makes_friends_in_both_directions(alice, bob):
    request, _ = friends.send_request(alice["_id"], username="bob")
    accepted = friends.accept_request(bob["_id"], request["_id"])
    assert accepted["status"] == "accepted" and accepted["_id"] == request["_id"]
    assert accepted["from"] == alice and accepted["to"] == bob
    assert friendship_rows() == {(alice["_id"], bob["_id"]), (bob["_id"], alice["_id"])}
    assert friends.list_friends(alice["_id"]) == [bob]
    assert friends.list_friends(bob["_id"]) == [alice]


def test_someone_elses_request_is_404_for_accept_and_decline(alice, bob, carol):
    request, _ = friends.send_request(alice["_id"], username="bob")
    for answer in (friends.accept_request, friends.decline_request):
        with pytest.raises(NotFound):
            answer(carol["_id"], request["_id"])
    assert request_rows() == [(alice["_id"], bob["_id"], "pending")]


def test_sender_cannot_answer_their_own_request(alice, bob):
    request, _ = friends.send_request(alice["_id"], username="bob")
    for answer in (friends.accept_request, friends.decline_request):
        with pytest.raises(Forbidden) as err:
            answer(alice["_id"], request["_id"])
        assert err.value.code == "not_recipient"
    assert friendship_rows() == set()


@pytest.mark.parametrize("bad_id", ["0" * 32, "", "x" * 1000, "a\x00b"])
def test_unknown_or_malformed_request_id_is_404(alice, bad_id):
    for answer in (friends.accept_request, friends.decline_request):
        with pytest.raises(NotFound):
            answer(alice["_id"], bad_id)


@pytest.mark.parametrize("bad_id", [None, 5, ["x"]])
def test_a_request_id_that_is_not_a_string_is_a_validation_error(alice, bad_id):
    for answer in (friends.accept_request, friends.decline_request):
        with pytest.raises(ValidationFailed) as refused:
            answer(alice["_id"], bad_id)
        assert refused.value.code == "validation_error"


def test_accepting_twice_is_409_and_changes_nothing(alice, bob):
    request, _ = friends.send_request(alice["_id"], username="bob")
    friends.accept_request(bob["_id"], request["_id"])
    with pytest.raises(Conflict) as err:
        friends.accept_request(bob["_id"], request["_id"])
    assert err.value.code == "request_not_pending"
    assert len(friendship_rows()) == 2


def test_decline_leaves_them_strangers_and_the_sender_may_ask_again(alice, bob):
    request, _ = friends.send_request(alice["_id"], username="bob")
    declined = friends.decline_request(bob["_id"], request["_id"])
    assert declined["status"] == "declined"
    assert friendship_rows() == set()
    assert friends.list_requests(alice["_id"]) == {"incoming": [], "outgoing": []}
    with pytest.raises(Conflict):
        friends.accept_request(bob["_id"], request["_id"])
    again, created = friends.send_request(alice["_id"], username="bob")
    assert created and again["_id"] != request["_id"]


def test_declining_an_accepted_request_is_409(alice, bob):
    request, _ = friends.send_request(alice["_id"], username="bob")
    friends.accept_request(bob["_id"], request["_id"])
    with pytest.raises(Conflict):
        friends.decline_request(bob["_id"], request["_id"])
    assert len(friendship_rows()) == 2


# ---------------------------------------------------------------- removing


def test_remove_friend_deletes_both_rows(alice, bob, carol):
    befriend(alice, bob)
    befriend(alice, carol)
    friends.remove_friend(bob["_id"], alice["_id"])
    assert friendship_rows() == {(alice["_id"], carol["_id"]), (carol["_id"], alice["_id"])}
    assert friends.list_friends(alice["_id"]) == [carol]
    assert friends.list_friends(bob["_id"]) == []


def test_remove_non_friend_is_404(alice, bob):
    with pytest.raises(NotFound):
        friends.remove_friend(alice["_id"], bob["_id"])
    befriend(alice, bob)
    friends.remove_friend(alice["_id"], bob["_id"])
    with pytest.raises(NotFound):
        friends.remove_friend(alice["_id"], bob["_id"])


@pytest.mark.parametrize("bad_id", ["0" * 32, "", "x" * 1000])
def test_remove_unknown_or_malformed_id_is_404(alice, bad_id):
    with pytest.raises(NotFound):
        friends.remove_friend(alice["_id"], bad_id)


@pytest.mark.parametrize("bad_id", [None, 7])
def test_remove_with_an_id_that_is_not_a_string_is_a_validation_error(alice, bad_id):
    with pytest.raises(ValidationFailed) as refused:
        friends.remove_friend(alice["_id"], bad_id)
    assert refused.value.code == "validation_error"


def test_removed_friends_can_become_friends_again(alice, bob):
    befriend(alice, bob)
    friends.remove_friend(alice["_id"], bob["_id"])
    request, created = friends.send_request(bob["_id"], username="alice")
    assert created
    friends.accept_request(alice["_id"], request["_id"])
    assert len(friendship_rows()) == 2


def test_are_friends(alice, bob, carol):
    befriend(alice, bob)
    with session_scope() as session:
        assert friends.are_friends(session, alice["_id"], bob["_id"])
        assert friends.are_friends(session, bob["_id"], alice["_id"])
        assert not friends.are_friends(session, alice["_id"], carol["_id"])
        assert not friends.are_friends(session, alice["_id"], alice["_id"])


# ---------------------------------------------------------------- listing


def test_list_requests_splits_incoming_and_outgoing_newest_first(alice, bob, carol):
    to_bob, _ = friends.send_request(alice["_id"], username="bob")
    to_carol, _ = friends.send_request(alice["_id"], username="carol")
    from_bob_view = friends.list_requests(bob["_id"])
    assert from_bob_view == {"incoming": [to_bob], "outgoing": []}
    assert friends.list_requests(alice["_id"]) == {"incoming": [], "outgoing": [to_carol, to_bob]}


def test_list_friends_and_requests_are_one_query_each(alice, bob, carol):
    befriend(alice, bob)
    friends.send_request(carol["_id"], username="alice")
    with count_queries() as q:
        assert friends.list_friends(alice["_id"]) == [bob]
    assert q.count == 1, q.statements
    with count_queries() as q:
        assert len(friends.list_requests(alice["_id"])["incoming"]) == 1
    assert q.count == 1, q.statements


# ---------------------------------------------------------------- search


@pytest.fixture()
def people(db):
    return {
        name: make_user(name, shown)
        for name, shown in [
            ("myself", "Me Myself"),
            ("alice", "Alice Liddell"),
            ("alfred", "Alfred Pennyworth"),
            ("bob", "Bob Smith"),
            ("smithers", "Waylon"),
            ("mallory", "Al Capone"),
            ("percent", "100% Real"),
        ]
    }


def names(results: list[dict]) -> list[str]:
    return [u["username"] for u in results]


def test_search_matches_username_prefix_case_insensitively(people):
    assert names(friends.search_users(people["myself"]["_id"], "AL")) == ["alfred", "alice", "mallory"]


def test_search_matches_display_name_and_its_words(people):
    # "Bob Smith" by its second word, "smithers" by its username (listed first).
    assert names(friends.search_users(people["myself"]["_id"], "smi")) == ["smithers", "bob"]
    assert names(friends.search_users(people["myself"]["_id"], "capo")) == ["mallory"]


def test_search_trims_the_query_and_excludes_the_caller(people):
    assert names(friends.search_users(people["myself"]["_id"], "  my  ")) == []
    assert names(friends.search_users(people["alice"]["_id"], " ali ")) == []
    assert names(friends.search_users(people["myself"]["_id"], " ali ")) == ["alice"]


def test_search_puts_the_exact_username_first(db):
    me = make_user("myself")
    make_user("annabel")
    make_user("ann")
    make_user("zed", "Ann Other")
    assert names(friends.search_users(me["_id"], "ann")) == ["ann", "annabel", "zed"]


def test_search_treats_like_wildcards_literally(people):
    assert names(friends.search_users(people["myself"]["_id"], "%")) == []
    assert names(friends.search_users(people["myself"]["_id"], "_")) == []
    assert names(friends.search_users(people["myself"]["_id"], "100%")) == ["percent"]


def test_search_respects_the_limit(people):
    assert names(friends.search_users(people["myself"]["_id"], "a", limit=2)) == ["alfred", "alice"]


def test_search_results_are_user_objects_with_relationship(people):
    me, alice, alfred, mallory = (people[n] for n in ("myself", "alice", "alfred", "mallory"))
    befriend(me, alice)
    friends.send_request(alfred["_id"], username="myself")
    friends.send_request(me["_id"], username="mallory")
    results = friends.search_users(me["_id"], "al")
    assert results == [
        {**alfred, "relationship": "incoming"},
        {**alice, "relationship": "friend"},
        {**mallory, "relationship": "outgoing"},
    ]
    assert friends.search_users(me["_id"], "bob") == [{**people["bob"], "relationship": "none"}]


def test_search_is_one_query(people):
    befriend(people["myself"], people["alice"])
    with count_queries() as q:
        friends.search_users(people["myself"]["_id"], "a")
    assert q.count == 1, q.statements


@pytest.mark.parametrize("q", ["", "   ", None, 5, ["al"], "x" * 65])
def test_search_rejects_bad_queries(alice, q):
    with pytest.raises(ValidationFailed):
        friends.search_users(alice["_id"], q)


@pytest.mark.parametrize("limit", [0, 51, -1, "5", None, True, 2.5])
def test_search_rejects_bad_limits(alice, limit):
    with pytest.raises(ValidationFailed):
        friends.search_users(alice["_id"], "a", limit)


# ---------------------------------------------------------------- concurrency


def run_together(*calls):
    """Run the calls in threads released at the same instant; return results or exceptions."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def worker(i, fn):
        barrier.wait()
        try:
            results[i] = fn()
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=worker, args=(i, fn)) for i, fn in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


def test_concurrent_mutual_requests_end_as_one_friendship(db):
    for round_no in range(5):
        a, b = make_user(f"left{round_no}"), make_user(f"right{round_no}")
        results = run_together(
            partial(friends.send_request, a["_id"], user_id=b["_id"]),
            partial(friends.send_request, b["_id"], user_id=a["_id"]),
        )
        assert not any(isinstance(r, Exception) for r in results), results
        assert sorted(created for _, created in results) == [False, True]
        (accepted,) = [req for req, created in results if not created]
        assert accepted["status"] == "accepted"
        with session_scope() as session:
            assert friends.are_friends(session, a["_id"], b["_id"])
            assert friends.are_friends(session, b["_id"], a["_id"])
        assert friends.list_requests(a["_id"]) == {"incoming": [], "outgoing": []}
    assert len(friendship_rows()) == 10


def test_concurrent_duplicate_requests_store_one(alice, bob):
    results = run_together(*[lambda: friends.send_request(alice["_id"], username="bob")] * 4)
    assert not any(isinstance(r, Exception) for r in results), results
    assert sorted(created for _, created in results) == [False, False, False, True]
    assert len({req["_id"] for req, _ in results}) == 1
    assert len(request_rows()) == 1


def test_concurrent_accepts_of_one_request_befriend_once(alice, bob):
    request, _ = friends.send_request(alice["_id"], username="bob")
    results = run_together(*[lambda: friends.accept_request(bob["_id"], request["_id"])] * 3)
    assert sum(isinstance(r, dict) for r in results) == 1
    assert sum(isinstance(r, Conflict) for r in results) == 2
    assert len(friendship_rows()) == 2


# ---------------------------------------------------------------- events


async def settled(received: RecordedEvents) -> list[tuple[str, dict[str, Any], list[str]]]:
    """Everything published so far, once it has all arrived."""
    await received.settle()
    return [(e.name, e.payload, sorted(e.user_ids)) for e in received]


async def test_new_request_is_announced_to_the_recipient_only(alice, bob):
    async with recorded_events() as received:
        request, _ = await asyncio.to_thread(friends.send_request, alice["_id"], username="bob")
        events = await settled(received)
    assert events == [("friends:request_received", {"request": request}, [bob["_id"]])]


async def test_accept_is_announced_to_both(alice, bob):
    request, _ = friends.send_request(alice["_id"], username="bob")
    async with recorded_events() as received:
        accepted = await asyncio.to_thread(friends.accept_request, bob["_id"], request["_id"])
        events = await settled(received)
    assert events == [("friends:request_accepted", {"request": accepted}, sorted([alice["_id"], bob["_id"]]))]


async def test_reverse_request_announces_the_acceptance(alice, bob):
    friends.send_request(bob["_id"], username="alice")
    async with recorded_events() as received:
        accepted, _ = await asyncio.to_thread(friends.send_request, alice["_id"], username="bob")
        events = await settled(received)
    assert events == [("friends:request_accepted", {"request": accepted}, sorted([alice["_id"], bob["_id"]]))]


async def test_remove_tells_each_side_who_left(alice, bob):
    befriend(alice, bob)
    async with recorded_events() as received:
        await asyncio.to_thread(friends.remove_friend, alice["_id"], bob["_id"])
        events = await settled(received)
    assert sorted(events, key=repr) == sorted([
        ("friends:removed", {"userId": bob["_id"]}, [alice["_id"]]),
        ("friends:removed", {"userId": alice["_id"]}, [bob["_id"]]),
    ], key=repr)


async def test_failed_changes_announce_nothing(alice, bob):
    befriend(alice, bob)
    async with recorded_events() as received:
        with pytest.raises(Conflict):
            await asyncio.to_thread(friends.send_request, alice["_id"], username="bob")
        with pytest.raises(NotFound):
            await asyncio.to_thread(friends.send_request, bob["_id"], username="nobody")
        await asyncio.sleep(0.1)
    assert received == []
