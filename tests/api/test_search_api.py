"""GET /api/v1/chat/search and history around a message over HTTP: envelopes, pagination,
error codes, 404 for conversations the caller is not in, the OpenAPI schema."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.support.factories import befriend, new_person

BASE = "/api/v1/chat"


@pytest.fixture()
def people(api_client):
    return {name: new_person(username=name) for name in ("ann", "bob", "eve")}


@pytest.fixture()
def direct(api_client, people):
    befriend(people["ann"].id, people["bob"].id)
    r = api_client.post(f"{BASE}/conversations", json={"participantIds": [people["bob"].id]},
                        headers=people["ann"].headers)
    return r.json()["data"]["_id"]


def send(client, person, conversation_id, content):
    r = client.post(f"{BASE}/conversations/{conversation_id}/messages", json={"content": content},
                    headers=person.headers)
    assert r.status_code == 201, r.text
    return r.json()["data"]["message"]


def search(client, person, query: str, **params):
    extra = "".join(f"&{k}={quote(str(v))}" for k, v in params.items())
    return client.get(f"{BASE}/search?q={quote(query)}{extra}", headers=person.headers)


def assert_error(response, status, code):
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"success", "error", "code"} and body["success"] is False and body["code"] == code
    return body


def test_search_over_http_with_highlights_and_pages(api_client, people, direct):
    ann, bob = people["ann"], people["bob"]
    for i in range(5):
        send(api_client, ann, direct, f"Déploiement n°{i} 🎉 fini")
    r = search(api_client, bob, "deploiement fini", limit=2)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["success"] is True and body["meta"]["hasMore"] is True and body["meta"]["limit"] == 2
    first = body["data"][0]
    assert first["message"]["content"] == "Déploiement n°4 🎉 fini"
    assert first["highlights"] == [[0, 11], [19, 23]]  # UTF-16: 🎉 counts 2
    assert first["conversation"]["_id"] == direct and first["conversation"]["otherParticipant"]["_id"] == ann.id
    contents = [item["message"]["content"] for item in body["data"]]
    cursor = body["meta"]["nextCursor"]
    while cursor:
        page = search(api_client, bob, "deploiement fini", limit=2, cursor=cursor).json()
        contents += [item["message"]["content"] for item in page["data"]]
        cursor = page["meta"]["nextCursor"]
    assert contents == [f"Déploiement n°{i} 🎉 fini" for i in range(4, -1, -1)]
    r = search(api_client, bob, "fini", conversationId=direct)
    assert [i["message"]["content"] for i in r.json()["data"]][-1] == "Déploiement n°0 🎉 fini"


@pytest.mark.parametrize(("path", "code"), [
    ("search", "empty_query"), ("search?q=", "empty_query"), ("search?q=%20%20", "empty_query"),
    ("search?q=" + "x" * 501, "query_too_long"), ("search?q=a%00b", "invalid_query"),
    ("search?q=has:video", "invalid_query"), ("search?q=before:tomorrow", "invalid_query"),
    ("search?q=x&limit=abc", "validation_error"), ("search?q=x&limit=0", "validation_error"),
    ("search?q=x&limit=101", "validation_error"), ("search?q=x&cursor=nope", "invalid_cursor"),
])
def test_bad_searches_are_400(api_client, people, path, code):
    assert_error(api_client.get(f"{BASE}/{path}", headers=people["ann"].headers), 400, code)


def test_search_needs_a_login_and_hides_other_peoples_conversations(api_client, people, direct):
    send(api_client, people["ann"], direct, "private words")
    assert_error(api_client.get(f"{BASE}/search?q=private"), 401, "unauthorized")
    eve = people["eve"]
    r = search(api_client, eve, "private")
    assert r.status_code == 200 and r.json()["data"] == [] and r.json()["meta"]["hasMore"] is False
    hidden = assert_error(search(api_client, eve, "private", conversationId=direct), 404, "conversation_not_found")
    unknown = assert_error(search(api_client, eve, "private", conversationId="0" * 32), 404, "conversation_not_found")
    assert hidden == unknown


def test_history_around_a_result(api_client, people, direct):
    ann, bob = people["ann"], people["bob"]
    sent = [send(api_client, ann, direct, f"line {i}") for i in range(9)]
    hit = search(api_client, bob, '"line 4"').json()["data"][0]["message"]
    r = api_client.get(f"{BASE}/conversations/{direct}/messages?aroundMessageId={hit['_id']}&limit=5",
                       headers=bob.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert [m["content"] for m in body["data"]] == [f"line {i}" for i in (6, 5, 4, 3, 2)]
    assert body["meta"] == {"hasMore": True, "hasMoreBefore": True, "hasMoreAfter": True, "limit": 5,
                            "aroundMessageId": hit["_id"], "newestMessageId": sent[6]["_id"],
                            "oldestMessageId": sent[2]["_id"]}
    bad = f"{BASE}/conversations/{direct}/messages?aroundMessageId={hit['_id']}&beforeMessageId={sent[0]['_id']}"
    assert_error(api_client.get(bad, headers=bob.headers), 400, "invalid_cursor")
    assert_error(api_client.get(f"{BASE}/conversations/{direct}/messages?aroundMessageId={'0' * 32}",
                                headers=bob.headers), 400, "invalid_cursor")
    assert_error(api_client.get(f"{BASE}/conversations/{direct}/messages?aroundMessageId={hit['_id']}",
                                headers=people["eve"].headers), 404, "conversation_not_found")


def test_openapi_documents_search_and_around(api_client):
    schema = api_client.get("/openapi.json").json()
    operation = schema["paths"]["/api/v1/chat/search"]["get"]
    assert {p["name"] for p in operation["parameters"]} == {"q", "conversationId", "limit", "cursor"}
    assert "UTF-16" in operation["description"] and "from:<username>" in operation["description"]
    history = schema["paths"]["/api/v1/chat/conversations/{conversationId}/messages"]["get"]
    assert "aroundMessageId" in {p["name"] for p in history["parameters"]}


@pytest.mark.parametrize("query", [
    "q=%ED%A0%80", "q=%FF%FE", "q=" + "a" * 10_000, "q=%22%22%22", "q=from%3A", "q=in%3A%22",
    "q=x&conversationId=%00", "q=x&conversationId=" + "a" * 10_000, "q=x&conversationId=..%2F..%2Fetc",
    "q=x&cursor=%00", "q=x&cursor=" + "a" * 10_000, "q=x&cursor=%ED%A0%80", "q=x&limit=1e9",
    "q=x&limit=" + "9" * 5000, "q=x&limit=%00", "q=x&q=y", "q=%27%3B%20DROP%20TABLE%20messages%3B--",
])
def test_hostile_search_parameters_get_a_clean_answer(api_client, people, direct, query):
    r = api_client.get(f"{BASE}/search?{query}", headers=people["ann"].headers)
    assert r.status_code in (200, 400, 404), r.text
    body = r.json()
    if r.status_code == 200:
        assert body["success"] is True and isinstance(body["data"], list)
    else:
        assert set(body) == {"success", "error", "code"} and body["success"] is False
