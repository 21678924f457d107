"""/api/v1/users/search and /api/v1/friends over HTTP: statuses, shapes, envelopes."""

from __future__ import annotations

import pytest

from tests.api.test_auth_api import assert_error

SEARCH, FRIENDS, REQUESTS = "/api/v1/users/search", "/api/v1/friends", "/api/v1/friends/requests"


@pytest.fixture()
def trio(register):
    """alice, bob, carol as (user, headers)."""
    out = {}
    for name, shown in (("alice", "Alice Liddell"), ("bob", "Bob Smith"), ("carol", "Carol Danvers")):
        user, _, headers = register(name, display_name=shown)
        out[name] = (user, headers)
    return out


def send(api_client, headers, **body):
    return api_client.post(REQUESTS, json=body, headers=headers)


def befriend(api_client, trio, a: str, b: str) -> None:
    request = send(api_client, trio[a][1], username=b).json()["data"]
    assert api_client.post(f"{REQUESTS}/{request['_id']}/accept", headers=trio[b][1]).status_code == 200


# ---------------------------------------------------------------- auth on every endpoint


@pytest.mark.parametrize(
    "method, path",
    [("get", SEARCH + "?q=al"), ("get", FRIENDS), ("get", REQUESTS), ("post", REQUESTS),
     ("post", REQUESTS + "/abc/accept"), ("post", REQUESTS + "/abc/decline"), ("delete", FRIENDS + "/abc")],
)
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer bogus"}])
def test_every_endpoint_needs_a_valid_token(api_client, method, path, headers):
    assert_error(getattr(api_client, method)(path, headers=headers), 401)


# ---------------------------------------------------------------- requests


def test_send_request_is_201_and_shows_on_both_sides(api_client, trio):
    alice, a_headers = trio["alice"]
    bob, b_headers = trio["bob"]
    r = send(api_client, a_headers, username="bob")
    assert r.status_code == 201
    request = r.json()["data"]
    assert set(request) == {"_id", "from", "to", "status", "createdAt"}
    assert (request["from"], request["to"], request["status"]) == (alice, bob, "pending")

    bob_view = api_client.get(REQUESTS, headers=b_headers).json()
    assert bob_view == {"success": True, "data": {"incoming": [request], "outgoing": []}}
    alice_view = api_client.get(REQUESTS, headers=a_headers).json()["data"]
    assert alice_view == {"incoming": [], "outgoing": [request]}


def test_send_request_by_user_id(api_client, trio):
    r = send(api_client, trio["alice"][1], userId=trio["bob"][0]["_id"])
    assert r.status_code == 201 and r.json()["data"]["to"] == trio["bob"][0]


def test_repeated_request_is_200_with_the_same_request(api_client, trio):
    first = send(api_client, trio["alice"][1], username="bob").json()["data"]
    again = send(api_client, trio["alice"][1], username="bob")
    assert again.status_code == 200 and again.json()["data"] == first


def test_request_back_accepts_theirs_with_200(api_client, trio):
    theirs = send(api_client, trio["bob"][1], username="alice").json()["data"]
    r = send(api_client, trio["alice"][1], username="bob")
    assert r.status_code == 200
    assert r.json()["data"]["_id"] == theirs["_id"] and r.json()["data"]["status"] == "accepted"
    assert api_client.get(FRIENDS, headers=trio["alice"][1]).json()["data"] == [trio["bob"][0]]
    assert api_client.get(FRIENDS, headers=trio["bob"][1]).json()["data"] == [trio["alice"][0]]


def test_request_to_yourself_is_400(api_client, trio):
    assert_error(send(api_client, trio["alice"][1], username="alice"), 400, "cannot_friend_self")
    assert_error(send(api_client, trio["alice"][1], userId=trio["alice"][0]["_id"]), 400, "cannot_friend_self")


def test_request_to_unknown_user_is_404(api_client, trio):
    assert_error(send(api_client, trio["alice"][1], username="nobody"), 404, "user_not_found")
    assert_error(send(api_client, trio["alice"][1], userId="0" * 32), 404, "user_not_found")


def test_request_to_a_friend_is_409(api_client, trio):
    befriend(api_client, trio, "alice", "bob")
    assert_error(send(api_client, trio["bob"][1], username="alice"), 409, "already_friends")


@pytest.mark.parametrize(
    "body", [{}, {"username": 5}, {"userId": 5}, {"username": None}, {"username": ["bob"]}, {"userId": {"a": 1}},
             {"username": "bob", "userId": "x"}],
)
def test_request_with_bad_body_is_400(api_client, trio, body):
    assert_error(api_client.post(REQUESTS, json=body, headers=trio["alice"][1]), 400)


@pytest.mark.parametrize("raw", [b"{oops", b'["bob"]', b"42", b"\xff"])
def test_request_with_malformed_json_is_400(api_client, trio, raw):
    headers = {**trio["alice"][1], "content-type": "application/json"}
    assert_error(api_client.post(REQUESTS, content=raw, headers=headers), 400)


def test_request_with_a_ten_megabyte_body_is_413(api_client, trio):
    huge = b'{"username": "' + b"b" * (10 * 1024 * 1024) + b'"}'
    headers = {**trio["alice"][1], "content-type": "application/json"}
    assert_error(api_client.post(REQUESTS, content=huge, headers=headers), 413)


# ---------------------------------------------------------------- accept / decline


def test_accept_returns_the_request_and_makes_friends(api_client, trio):
    request = send(api_client, trio["alice"][1], username="bob").json()["data"]
    r = api_client.post(f"{REQUESTS}/{request['_id']}/accept", headers=trio["bob"][1])
    assert r.status_code == 200
    assert r.json()["data"] == {**request, "status": "accepted"}
    assert api_client.get(FRIENDS, headers=trio["alice"][1]).json()["data"] == [trio["bob"][0]]
    assert api_client.get(REQUESTS, headers=trio["bob"][1]).json()["data"] == {"incoming": [], "outgoing": []}


def test_accepting_twice_is_409(api_client, trio):
    request = send(api_client, trio["alice"][1], username="bob").json()["data"]
    url = f"{REQUESTS}/{request['_id']}/accept"
    assert api_client.post(url, headers=trio["bob"][1]).status_code == 200
    assert_error(api_client.post(url, headers=trio["bob"][1]), 409, "request_not_pending")


def test_decline_returns_the_request_and_no_friendship(api_client, trio):
    request = send(api_client, trio["alice"][1], username="bob").json()["data"]
    r = api_client.post(f"{REQUESTS}/{request['_id']}/decline", headers=trio["bob"][1])
    assert r.status_code == 200 and r.json()["data"]["status"] == "declined"
    assert api_client.get(FRIENDS, headers=trio["bob"][1]).json()["data"] == []
    assert_error(api_client.post(f"{REQUESTS}/{request['_id']}/accept", headers=trio["bob"][1]), 409)


@pytest.mark.parametrize("action", ["accept", "decline"])
def test_someone_elses_request_is_404(api_client, trio, action):
    request = send(api_client, trio["alice"][1], username="bob").json()["data"]
    answered = api_client.post(f"{REQUESTS}/{request['_id']}/{action}", headers=trio["carol"][1])
    assert_error(answered, 404, "request_not_found")


@pytest.mark.parametrize("action", ["accept", "decline"])
def test_sender_answering_own_request_is_403(api_client, trio, action):
    request = send(api_client, trio["alice"][1], username="bob").json()["data"]
    answered = api_client.post(f"{REQUESTS}/{request['_id']}/{action}", headers=trio["alice"][1])
    assert_error(answered, 403, "not_recipient")


@pytest.mark.parametrize("action", ["accept", "decline"])
@pytest.mark.parametrize("request_id", ["0" * 32, "x" * 300, "%20"])
def test_unknown_request_id_is_404(api_client, trio, action, request_id):
    assert_error(api_client.post(f"{REQUESTS}/{request_id}/{action}", headers=trio["bob"][1]), 404)


# ---------------------------------------------------------------- remove


def test_remove_friend_ends_it_for_both(api_client, trio):
    befriend(api_client, trio, "alice", "bob")
    r = api_client.delete(f"{FRIENDS}/{trio['bob'][0]['_id']}", headers=trio["alice"][1])
    assert r.status_code == 200 and r.json() == {"success": True, "data": None}
    assert api_client.get(FRIENDS, headers=trio["alice"][1]).json()["data"] == []
    assert api_client.get(FRIENDS, headers=trio["bob"][1]).json()["data"] == []
    assert_error(api_client.delete(f"{FRIENDS}/{trio['alice'][0]['_id']}", headers=trio["bob"][1]), 404, "not_friends")


@pytest.mark.parametrize("who", ["carol", "self", "unknown"])
def test_remove_non_friend_is_404(api_client, trio, who):
    target = {"carol": trio["carol"][0]["_id"], "self": trio["alice"][0]["_id"], "unknown": "0" * 32}[who]
    assert_error(api_client.delete(f"{FRIENDS}/{target}", headers=trio["alice"][1]), 404, "not_friends")


# ---------------------------------------------------------------- search


def test_search_returns_matching_users_with_relationship(api_client, trio):
    befriend(api_client, trio, "alice", "carol")
    r = api_client.get(SEARCH, params={"q": " SMI "}, headers=trio["alice"][1])
    assert r.status_code == 200
    assert r.json() == {"success": True, "data": [{**trio["bob"][0], "relationship": "none"}]}
    found = api_client.get(SEARCH, params={"q": "car"}, headers=trio["alice"][1]).json()["data"]
    assert found == [{**trio["carol"][0], "relationship": "friend"}]


def test_search_excludes_the_caller_and_honours_limit(api_client, trio):
    assert api_client.get(SEARCH, params={"q": "alice"}, headers=trio["alice"][1]).json()["data"] == []
    everyone = api_client.get(SEARCH, params={"q": "a", "limit": 1}, headers=trio["bob"][1]).json()["data"]
    assert [u["username"] for u in everyone] == ["alice"]


@pytest.mark.parametrize(
    "params",
    [{}, {"q": ""}, {"q": "   "}, {"q": "x" * 65}, {"q": "a", "limit": 0}, {"q": "a", "limit": 51},
     {"q": "a", "limit": "many"}, {"q": "a", "limit": "2.5"}],
)
def test_search_bad_query_is_400(api_client, trio, params):
    assert_error(api_client.get(SEARCH, params=params, headers=trio["alice"][1]), 400)
