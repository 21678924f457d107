"""/api/v1/chat over HTTP: every route, its status codes, envelopes and error paths."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.support.factories import befriend, bulk_messages, new_person

BASE = "/api/v1/chat"


@pytest.fixture()
def people(api_client):
    return {name: new_person(username=name) for name in ("ann", "bob", "cid", "eve")}


@pytest.fixture()
def direct(api_client, people):
    ann, bob = people["ann"], people["bob"]
    befriend(ann.id, bob.id)
    r = api_client.post(f"{BASE}/conversations", json={"participantIds": [bob.id]}, headers=ann.headers)
    assert r.status_code == 201, r.text
    return r.json()["data"]


@pytest.fixture()
def group(api_client, people):
    ann, bob, cid = people["ann"], people["bob"], people["cid"]
    befriend(ann, bob)  # by default people accept groups from friends only
    befriend(ann, cid)
    r = api_client.post(f"{BASE}/conversations", json={"participantIds": [bob.id, cid.id], "type": "group",
                                                       "name": "Team"}, headers=ann.headers)
    assert r.status_code == 201, r.text
    return r.json()["data"]


def send(client, person, conversation_id, content="hi", **extra):
    return client.post(f"{BASE}/conversations/{conversation_id}/messages", json={"content": content, **extra},
                       headers=person.headers)


def assert_error(response, status, code=None):
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False and isinstance(body["error"], str) and body["error"]
    # An outage (503) also says when to retry: {..., retryAfter: seconds} (contract: outages).
    assert set(body) == {"success", "error", "code"} | ({"retryAfter"} if status == 503 else set())
    if code:
        assert body["code"] == code, body
    return body


# --- auth on every route ----------------------------------------------------------------------

ROUTES = [
    ("GET", "/conversations"), ("POST", "/conversations"), ("GET", "/conversations/x"),
    ("PUT", "/conversations/x"), ("DELETE", "/conversations/x"), ("GET", "/conversations/x/messages"),
    ("POST", "/conversations/x/messages"), ("POST", "/conversations/x/messages/read"), ("PUT", "/messages/x"),
    ("DELETE", "/messages/x"), ("POST", "/messages/x/reactions"), ("DELETE", "/messages/x/reactions/%F0%9F%91%8D"),
]


@pytest.mark.parametrize("method, path", ROUTES)
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}])
def test_every_chat_route_requires_a_valid_token(api_client, method, path, headers):
    assert_error(api_client.request(method, BASE + path, headers=headers, json={}), 401)


# --- conversations -------------------------------------------------------------------------------


def test_create_direct_is_201_then_200_with_the_same_conversation(api_client, people, direct):
    ann, bob = people["ann"], people["bob"]
    assert direct["type"] == "direct" and direct["unreadCount"] == 0 and direct["lastMessage"] is None
    r = api_client.post(f"{BASE}/conversations", json={"participantIds": [ann.id]}, headers=bob.headers)
    assert r.status_code == 200 and r.json()["data"]["_id"] == direct["_id"]


def test_conversation_object_has_the_fields_the_plan_client_reads(api_client, people, direct):
    r = api_client.get(f"{BASE}/conversations/{direct['_id']}", headers=people["ann"].headers)
    assert r.status_code == 200
    body = r.json()
    assert body["success"] is True
    assert set(body["data"]) >= {"_id", "type", "name", "avatar", "participants", "admins", "createdBy",
                                 "lastMessage", "unreadCount", "isArchived", "createdAt", "updatedAt"}
    assert set(body["data"]["participants"][0]) == {"_id", "username", "displayName", "avatar"}


def test_direct_with_a_non_friend_is_403_not_friends(api_client, people):
    r = api_client.post(f"{BASE}/conversations", json={"participantIds": [people["eve"].id]},
                        headers=people["ann"].headers)
    assert_error(r, 403, "not_friends")


@pytest.mark.parametrize("body, code", [
    ({}, "invalid_participants"),
    ({"participantIds": "bob"}, "invalid_participants"),
    ({"participantIds": [None]}, "validation_error"),  # an id that is not a string (text.check_id)
    ({"participantIds": ["0" * 32]}, "unknown_participants"),
    ({"participantIds": ["0" * 32, "1" * 32], "type": "group", "name": "G"}, "unknown_participants"),
    ({"participantIds": [], "type": "group", "name": "G"}, "invalid_participants"),
    ({"participantIds": ["a"], "type": "room"}, "invalid_type"),
    ({"participantIds": ["a", "b"], "type": "group", "name": ""}, "invalid_name"),
    ({"participantIds": ["a", "b"], "type": "group", "name": ["x"]}, "invalid_name"),
])
def test_create_rejects_bad_bodies_with_400(api_client, people, body, code):
    assert_error(api_client.post(f"{BASE}/conversations", json=body, headers=people["ann"].headers), 400, code)


@pytest.mark.parametrize("raw", [b"not json", b"[1,2]", b'"text"'])
def test_create_rejects_non_object_json(api_client, people, raw):
    r = api_client.post(f"{BASE}/conversations", content=raw,
                        headers={**people["ann"].headers, "Content-Type": "application/json"})
    assert_error(r, 400, "invalid_json")


def test_create_group_and_project(api_client, people, group):
    ann, bob, cid = people["ann"], people["bob"], people["cid"]
    assert group["type"] == "group" and group["name"] == "Team" and group["admins"] == [ann.id]
    r = api_client.post(f"{BASE}/conversations", json={"participantIds": [bob.id, cid.id], "type": "project",
                                                       "name": "Build", "projectId": "proj-1"}, headers=ann.headers)
    assert r.status_code == 201 and r.json()["data"]["projectId"] == "proj-1"


def test_strangers_and_missing_ids_get_the_same_404(api_client, people, group):
    eve = people["eve"]
    hidden = api_client.get(f"{BASE}/conversations/{group['_id']}", headers=eve.headers)
    missing = api_client.get(f"{BASE}/conversations/{'0' * 32}", headers=eve.headers)
    assert_error(hidden, 404, "conversation_not_found")
    assert hidden.json() == missing.json()
    for method, path, body in [
        ("PUT", f"/conversations/{group['_id']}", {"avatar": ""}),
        ("DELETE", f"/conversations/{group['_id']}", None),
        ("GET", f"/conversations/{group['_id']}/messages", None),
        ("POST", f"/conversations/{group['_id']}/messages", {"content": "hi"}),
        ("POST", f"/conversations/{group['_id']}/messages/read", {"lastReadMessageId": "0" * 32}),
    ]:
        assert_error(api_client.request(method, BASE + path, json=body, headers=eve.headers), 404,
                     "conversation_not_found")


def test_list_conversations_with_meta_and_paging(api_client, people, direct, group):
    ann = people["ann"]
    r = api_client.get(f"{BASE}/conversations", headers=ann.headers)
    assert r.status_code == 200
    body = r.json()
    assert {c["_id"] for c in body["data"]} == {direct["_id"], group["_id"]}
    assert body["meta"] == {"page": 1, "limit": 20, "total": 2, "hasMore": False}
    r = api_client.get(f"{BASE}/conversations?limit=1&page=2&type=", headers=ann.headers)
    assert_error(r, 400, "invalid_type")
    r = api_client.get(f"{BASE}/conversations?limit=1&page=2", headers=ann.headers)
    assert len(r.json()["data"]) == 1 and r.json()["meta"]["hasMore"] is False
    r = api_client.get(f"{BASE}/conversations?type=group", headers=ann.headers)
    assert [c["_id"] for c in r.json()["data"]] == [group["_id"]]


@pytest.mark.parametrize("query", ["limit=abc", "limit=0", "limit=10000", "limit=-5", "page=0", "page=x",
                                   "limit=1.5", "archived=maybe"])
def test_list_conversations_rejects_bad_query_params(api_client, people, query):
    assert_error(api_client.get(f"{BASE}/conversations?{query}", headers=people["ann"].headers), 400)


def test_update_group_over_http(api_client, people, group):
    ann, bob, cid, eve = people["ann"], people["bob"], people["cid"], people["eve"]
    url = f"{BASE}/conversations/{group['_id']}"
    befriend(ann, eve)
    r = api_client.put(url, json={"name": " Crew ", "addParticipantIds": [eve.id], "removeParticipantIds": [cid.id],
                                  "addAdminIds": [bob.id]}, headers=ann.headers)
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["name"] == "Crew" and set(data["admins"]) == {ann.id, bob.id}
    assert {p["_id"] for p in data["participants"]} == {ann.id, bob.id, eve.id}
    assert_error(api_client.put(url, json={"name": "x"}, headers=eve.headers), 403, "not_admin")
    assert_error(api_client.put(url, json={}, headers=ann.headers), 400, "nothing_to_update")
    assert_error(api_client.put(url, json={"name": "x" * 101}, headers=ann.headers), 400, "invalid_name")
    assert_error(api_client.put(url, json={"addParticipantIds": ["0" * 32]}, headers=ann.headers), 400,
                 "unknown_participants")
    assert_error(api_client.get(url, headers=cid.headers), 404)


def test_update_direct_is_400(api_client, people, direct):
    r = api_client.put(f"{BASE}/conversations/{direct['_id']}", json={"name": "us"}, headers=people["ann"].headers)
    assert_error(r, 400, "not_a_group")


def test_delete_archives_direct_and_leaves_group(api_client, people, direct, group):
    ann, bob = people["ann"], people["bob"]
    r = api_client.delete(f"{BASE}/conversations/{direct['_id']}", headers=ann.headers)
    assert r.status_code == 200 and r.json()["data"] == {"conversationId": direct["_id"]}
    listed = api_client.get(f"{BASE}/conversations", headers=ann.headers).json()["data"]
    assert [c["_id"] for c in listed] == [group["_id"]]
    archived = api_client.get(f"{BASE}/conversations?archived=true", headers=ann.headers).json()["data"]
    assert [c["_id"] for c in archived] == [direct["_id"]]
    assert api_client.delete(f"{BASE}/conversations/{group['_id']}", headers=bob.headers).status_code == 200
    assert_error(api_client.get(f"{BASE}/conversations/{group['_id']}", headers=bob.headers), 404)
    assert_error(api_client.delete(f"{BASE}/conversations/{group['_id']}", headers=bob.headers), 404)


# --- messages ------------------------------------------------------------------------------------------


def test_send_is_201_with_message_and_temp_id_and_a_retry_is_200_with_the_same_message(api_client, people, direct):
    ann = people["ann"]
    r = send(api_client, ann, direct["_id"], "hello", tempId="tmp-1")
    assert r.status_code == 201, r.text
    data = r.json()["data"]
    assert data["tempId"] == "tmp-1" and data["conversationId"] == direct["_id"]
    message = data["message"]
    assert set(message) >= {"_id", "conversationId", "seq", "sender", "content", "contentType", "attachments",
                            "replyTo", "readBy", "reactions", "status", "isEdited", "isDeleted", "createdAt",
                            "updatedAt"}
    assert message["seq"] == 1 and message["sender"]["_id"] == ann.id
    again = send(api_client, ann, direct["_id"], "hello", tempId="tmp-1")
    assert again.status_code == 200 and again.json()["data"]["message"]["_id"] == message["_id"]
    history = api_client.get(f"{BASE}/conversations/{direct['_id']}/messages", headers=ann.headers).json()["data"]
    assert len(history) == 1


@pytest.mark.parametrize("body, code", [
    ({"content": ""}, "empty_content"),
    ({}, "empty_content"),
    ({"content": {"a": 1}}, "invalid_content"),
    ({"content": "x" * 4001}, "content_too_long"),
    ({"content": "hi", "contentType": "system"}, "invalid_content_type"),
    ({"content": "hi", "attachments": [{"url": "ftp://x", "type": "a/b"}]}, "invalid_url"),
    ({"content": "hi", "attachments": [1]}, "invalid_attachments"),
    ({"content": "hi", "replyTo": "0" * 32}, "invalid_reply_to"),
    ({"content": "hi", "tempId": "x" * 129}, "invalid_temp_id"),
])
def test_send_rejects_bad_bodies_with_400(api_client, people, direct, body, code):
    r = api_client.post(f"{BASE}/conversations/{direct['_id']}/messages", json=body, headers=people["ann"].headers)
    assert_error(r, 400, code)


def test_history_pages_newest_first_with_has_more(api_client, people, direct):
    ann = people["ann"]
    ids = bulk_messages(direct["_id"], ann.id, 5)
    url = f"{BASE}/conversations/{direct['_id']}/messages"
    r = api_client.get(f"{url}?limit=2", headers=people["bob"].headers)
    assert [m["seq"] for m in r.json()["data"]] == [5, 4] and r.json()["meta"]["hasMore"] is True
    r = api_client.get(f"{url}?limit=2&beforeMessageId={ids[3]}", headers=ann.headers)
    assert [m["seq"] for m in r.json()["data"]] == [3, 2]
    r = api_client.get(f"{url}?limit=10&afterMessageId={ids[2]}", headers=ann.headers)
    assert [m["seq"] for m in r.json()["data"]] == [5, 4] and r.json()["meta"]["hasMore"] is False


@pytest.mark.parametrize("query, code", [
    ("limit=abc", "validation_error"), ("limit=0", "validation_error"), ("limit=101", "validation_error"),
    ("limit=10000", "validation_error"), ("beforeMessageId=" + "0" * 32, "invalid_cursor"),
    ("afterMessageId=%00", "invalid_cursor"), ("beforeMessageId=a&afterMessageId=b", "invalid_cursor"),
])
def test_history_rejects_bad_query_params(api_client, people, direct, query, code):
    r = api_client.get(f"{BASE}/conversations/{direct['_id']}/messages?{query}", headers=people["ann"].headers)
    assert_error(r, 400, code)


def test_edit_over_http(api_client, people, direct):
    ann, bob = people["ann"], people["bob"]
    message = send(api_client, ann, direct["_id"], "helo").json()["data"]["message"]
    r = api_client.put(f"{BASE}/messages/{message['_id']}", json={"content": "hello"}, headers=ann.headers)
    assert r.status_code == 200 and r.json()["data"]["isEdited"] is True and r.json()["data"]["content"] == "hello"
    assert_error(api_client.put(f"{BASE}/messages/{message['_id']}", json={"content": "x"}, headers=bob.headers),
                 403, "not_sender")
    assert_error(api_client.put(f"{BASE}/messages/{message['_id']}", json={"content": "x"},
                                headers=people["eve"].headers), 404, "message_not_found")
    assert_error(api_client.put(f"{BASE}/messages/{message['_id']}", json={"content": ""}, headers=ann.headers), 400)
    assert_error(api_client.put(f"{BASE}/messages/{'0' * 32}", json={"content": "x"}, headers=ann.headers), 404)


def test_delete_over_http(api_client, people, direct):
    ann, bob = people["ann"], people["bob"]
    message = send(api_client, ann, direct["_id"], "secret").json()["data"]["message"]
    assert_error(api_client.delete(f"{BASE}/messages/{message['_id']}", headers=bob.headers), 403, "not_allowed")
    assert_error(api_client.delete(f"{BASE}/messages/{message['_id']}", headers=people["eve"].headers), 404)
    r = api_client.delete(f"{BASE}/messages/{message['_id']}", headers=ann.headers)
    assert r.status_code == 200 and r.json()["data"]["isDeleted"] is True and r.json()["data"]["content"] == ""
    history = api_client.get(f"{BASE}/conversations/{direct['_id']}/messages", headers=bob.headers).json()["data"]
    assert history[0]["content"] == "" and "secret" not in str(history)
    assert_error(api_client.put(f"{BASE}/messages/{message['_id']}", json={"content": "x"}, headers=ann.headers),
                 409, "message_deleted")


def test_mark_read_over_http(api_client, people, direct):
    ann, bob = people["ann"], people["bob"]
    ids = bulk_messages(direct["_id"], ann.id, 3)
    url = f"{BASE}/conversations/{direct['_id']}/messages/read"
    r = api_client.post(url, json={"lastReadMessageId": ids[1]}, headers=bob.headers)
    assert r.status_code == 200
    assert r.json()["data"] == {"conversationId": direct["_id"], "unreadCount": 1, "unreadMentions": 0,
                                "lastReadSeq": 2}
    listed = api_client.get(f"{BASE}/conversations", headers=bob.headers).json()["data"]
    assert listed[0]["unreadCount"] == 1
    assert_error(api_client.post(url, json={}, headers=bob.headers), 400, "validation_error")  # no id at all
    assert_error(api_client.post(url, json={"lastReadMessageId": "0" * 32}, headers=bob.headers), 400,
                 "invalid_message_id")


def test_reactions_over_http(api_client, people, direct):
    ann, bob = people["ann"], people["bob"]
    message = send(api_client, ann, direct["_id"], "react").json()["data"]["message"]
    url = f"{BASE}/messages/{message['_id']}/reactions"
    r = api_client.post(url, json={"emoji": "👍"}, headers=bob.headers)
    assert r.status_code == 200 and r.json()["data"]["reactions"] == [{"user": bob.id, "emoji": "👍"}]
    assert api_client.post(url, json={"emoji": "👍"}, headers=bob.headers).json()["data"]["reactions"] == [
        {"user": bob.id, "emoji": "👍"}]
    assert_error(api_client.post(url, json={"emoji": ""}, headers=bob.headers), 400, "invalid_emoji")
    assert_error(api_client.post(url, json={"emoji": 1}, headers=bob.headers), 400, "invalid_emoji")
    assert_error(api_client.post(url, json={"emoji": "👍"}, headers=people["eve"].headers), 404)
    r = api_client.delete(f"{url}/{quote('👍')}", headers=bob.headers)
    assert r.status_code == 200 and r.json()["data"]["reactions"] == []
    assert api_client.delete(f"{url}/{quote('👍')}", headers=bob.headers).status_code == 200  # idempotent
    assert_error(api_client.delete(f"{url}/{quote('👍')}", headers=people["eve"].headers), 404)
    assert_error(api_client.post(f"{BASE}/messages/{'0' * 32}/reactions", json={"emoji": "x"}, headers=bob.headers),
                 404, "message_not_found")


def test_unread_count_and_last_message_flow_through_the_list(api_client, people, direct):
    ann, bob = people["ann"], people["bob"]
    send(api_client, ann, direct["_id"], "one")
    last = send(api_client, ann, direct["_id"], "two").json()["data"]["message"]
    (item,) = api_client.get(f"{BASE}/conversations", headers=bob.headers).json()["data"]
    assert item["unreadCount"] == 2 and item["lastMessage"]["_id"] == last["_id"]
    assert item["lastMessage"]["createdAt"] and item["lastMessage"]["updatedAt"]
    api_client.post(f"{BASE}/conversations/{direct['_id']}/messages/read", json={"lastReadMessageId": last["_id"]},
                    headers=bob.headers)
    (item,) = api_client.get(f"{BASE}/conversations", headers=bob.headers).json()["data"]
    assert item["unreadCount"] == 0 and item["lastMessage"]["status"] == "read"


def test_sending_too_fast_is_429_with_retry_after(api_client, people, direct):
    from utool_chat.domain import ratelimit

    ratelimit.configure(send="2/minute", redis_url=None)
    try:
        assert send(api_client, people["ann"], direct["_id"], "1").status_code == 201
        assert send(api_client, people["ann"], direct["_id"], "2").status_code == 201
        r = send(api_client, people["ann"], direct["_id"], "3")
        assert_error(r, 429, "rate_limited")
        assert int(r.headers["Retry-After"]) >= 1
    finally:
        ratelimit.reset()
    history = api_client.get(f"{BASE}/conversations/{direct['_id']}/messages", headers=people["ann"].headers)
    assert [m["seq"] for m in history.json()["data"]] == [2, 1]
