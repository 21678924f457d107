"""Over HTTP: formatted content and mentions on messages, notices, consent, settings,
conversation preferences, message info and presence — every new field, every new route,
and who may see what."""

from __future__ import annotations

import pytest

from tests.support.factories import befriend, new_person
from utool_chat.domain import presence

BASE = "/api/v1/chat"


@pytest.fixture()
def people(api_client):
    found = {name: new_person(username=name) for name in ("ann", "bob", "cid", "zed")}
    befriend(found["ann"], found["bob"])
    befriend(found["ann"], found["cid"])
    return found


@pytest.fixture()
def group(api_client, people):
    r = api_client.post(f"{BASE}/conversations", json={"participantIds": [people["bob"].id, people["cid"].id],
                                                       "type": "group", "name": "Team"},
                        headers=people["ann"].headers)
    assert r.status_code == 201, r.text
    return r.json()["data"]


def send(client, person, conversation_id, content, **extra):
    r = client.post(f"{BASE}/conversations/{conversation_id}/messages", json={"content": content, **extra},
                    headers=person.headers)
    assert r.status_code == 201, r.text
    return r.json()["data"]["message"]


def error(response, status, code):
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False and body["code"] == code and body["error"]
    return body


def test_messages_carry_rendered_content_mentions_and_notice(api_client, people, group):
    ann, bob = people["ann"], people["bob"]
    msg = send(api_client, ann, group["_id"], f"**hey** <@{bob.id}>, see https://example.com <script>x</script>")
    assert {"contentHtml", "snippet", "mentions", "mentionsEveryone", "notice"} <= set(msg)
    assert msg["content"] == f"**hey** <@{bob.id}>, see https://example.com <script>x</script>"
    assert msg["contentHtml"].startswith("<p><strong>hey</strong> <span class=\"mention\"")
    assert 'rel="noopener noreferrer nofollow"' in msg["contentHtml"] and "<script>" not in msg["contentHtml"]
    assert msg["snippet"] == "hey @Bob, see https://example.com <script>x</script>"
    assert msg["mentions"] == [bob.id] and msg["notice"] is None
    history = api_client.get(f"{BASE}/conversations/{group['_id']}/messages", headers=bob.headers).json()["data"]
    assert history[0] == {**msg, "status": history[0]["status"]}
    assert history[-1]["contentType"] == "system" and history[-1]["notice"]["type"] == "group_created"


def test_conversations_carry_the_viewers_unread_mentions_mute_and_pin(api_client, people, group):
    ann, bob = people["ann"], people["bob"]
    send(api_client, ann, group["_id"], f"<@{bob.id}> ping")
    listed = api_client.get(f"{BASE}/conversations", headers=bob.headers).json()["data"]
    assert {"unreadMentions", "isMuted", "mutedUntil", "isPinned", "pinnedAt"} <= set(listed[0])
    assert (listed[0]["unreadCount"], listed[0]["unreadMentions"]) == (2, 1)
    url = f"{BASE}/conversations/{group['_id']}/preferences"
    r = api_client.put(url, json={"muted": True, "mutedFor": 3600, "pinned": True}, headers=bob.headers)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["isMuted"] is True and r.json()["data"]["mutedUntil"] and r.json()["data"]["isPinned"]
    seen_by_ann = api_client.get(f"{BASE}/conversations/{group['_id']}", headers=ann.headers).json()["data"]
    assert seen_by_ann["isMuted"] is False
    error(api_client.put(url, json={"muted": "yes"}, headers=bob.headers), 400, "validation_error")
    error(api_client.put(url, json={}, headers=bob.headers), 400, "nothing_to_update")
    stranger = api_client.put(url, json={"muted": True}, headers=people["zed"].headers)
    missing = api_client.put(f"{BASE}/conversations/{'0' * 32}/preferences", json={"muted": True},
                             headers=people["zed"].headers)
    assert missing.status_code == 404
    assert (stranger.status_code, stranger.content) == (missing.status_code, missing.content)


def test_archived_conversations_are_listed_and_unarchived(api_client, people, group):
    bob = people["bob"]
    url = f"{BASE}/conversations/{group['_id']}/preferences"
    assert api_client.put(url, json={"archived": True}, headers=bob.headers).json()["data"]["isArchived"] is True
    assert api_client.get(f"{BASE}/conversations", headers=bob.headers).json()["data"] == []
    archived = api_client.get(f"{BASE}/conversations?archived=true", headers=bob.headers).json()["data"]
    assert [c["_id"] for c in archived] == [group["_id"]]
    api_client.put(url, json={"archived": False}, headers=bob.headers)
    assert [c["_id"] for c in api_client.get(f"{BASE}/conversations", headers=bob.headers).json()["data"]] == [
        group["_id"]]


def test_a_group_of_strangers_is_a_403_that_names_them(api_client, people):
    ann, zed, bob = people["ann"], people["zed"], people["bob"]
    r = api_client.post(f"{BASE}/conversations", json={"participantIds": [bob.id, zed.id], "type": "group",
                                                       "name": "Spam"}, headers=ann.headers)
    body = error(r, 403, "group_invite_refused")
    assert "Zed" in body["error"] and "friends" not in body["error"] and "nobody" not in body["error"]


def test_notices_cannot_be_edited_or_deleted_over_http(api_client, people, group):
    history = api_client.get(f"{BASE}/conversations/{group['_id']}/messages", headers=people["ann"].headers)
    notice = history.json()["data"][-1]
    error(api_client.put(f"{BASE}/messages/{notice['_id']}", json={"content": "x"}, headers=people["ann"].headers),
          403, "system_message")
    error(api_client.delete(f"{BASE}/messages/{notice['_id']}", headers=people["ann"].headers), 403, "system_message")


def test_settings_round_trip(api_client, people):
    ann = people["ann"]
    url = "/api/v1/users/me/settings"
    assert api_client.get(url, headers=ann.headers).json()["data"] == {
        "showLastSeen": True, "readReceipts": True, "groupInvites": "friends", "notificationSound": True}
    r = api_client.put(url, json={"groupInvites": "everyone", "notificationSound": False}, headers=ann.headers)
    assert r.status_code == 200 and r.json()["data"]["groupInvites"] == "everyone"
    assert api_client.get(url, headers=ann.headers).json()["data"]["notificationSound"] is False
    error(api_client.put(url, json={"groupInvites": "some"}, headers=ann.headers), 400, "invalid_setting")
    error(api_client.put(url, json={"darkMode": True}, headers=ann.headers), 400, "unknown_setting")
    assert api_client.get(url).status_code == 401


def test_message_info_over_http(api_client, people, group):
    ann, bob, cid = people["ann"], people["bob"], people["cid"]
    msg = send(api_client, ann, group["_id"], "read me")
    api_client.post(f"{BASE}/conversations/{group['_id']}/messages/read", json={"lastReadMessageId": msg["_id"]},
                    headers=bob.headers)
    info = api_client.get(f"{BASE}/messages/{msg['_id']}/info", headers=ann.headers).json()["data"]
    assert [(m["user"]["_id"], m["status"]) for m in info["members"]] == [(bob.id, "read"), (cid.id, "sent")]
    error(api_client.get(f"{BASE}/messages/{msg['_id']}/info", headers=bob.headers), 403, "not_sender")
    stranger = api_client.get(f"{BASE}/messages/{msg['_id']}/info", headers=people["zed"].headers)
    missing = api_client.get(f"{BASE}/messages/{'0' * 32}/info", headers=people["zed"].headers)
    assert stranger.status_code == 404 and (stranger.content == missing.content)


def test_presence_over_http_never_reaches_a_stranger(api_client, people, group):
    presence.tracker.reset(presence.MemoryStore())
    presence.tracker.autostart = False
    try:
        ann, bob, zed = people["ann"], people["bob"], people["zed"]
        presence.connected(ann.id, "tab")
        presence.tracker.flush()
        r = api_client.get(f"/api/v1/users/presence?userIds={ann.id},{zed.id},nonsense", headers=bob.headers)
        assert r.status_code == 200
        data = r.json()["data"]
        assert list(data) == [ann.id] and data[ann.id]["status"] == "online"
        everyone = api_client.get("/api/v1/users/presence", headers=bob.headers).json()["data"]
        assert set(everyone) == {ann.id, people["cid"].id}
        assert api_client.get(f"/api/v1/users/presence?userIds={ann.id}", headers=zed.headers).json()["data"] == {}
        assert api_client.get("/api/v1/users/presence", headers=zed.headers).json()["data"] == {}
        error(api_client.get("/api/v1/users/presence?userIds=" + ",".join(["a" * 32] * 201), headers=bob.headers),
              400, "validation_error")
    finally:
        presence.tracker.reset()
        presence.tracker.autostart = True


def test_hostile_markdown_over_http_is_stored_as_typed_and_rendered_bounded(api_client, people, group):
    ann = people["ann"]
    deep = ("> " * 1000 + "bottom")[:4000]
    msg = send(api_client, ann, group["_id"], deep)
    assert msg["content"] == deep and msg["contentHtml"].count("<blockquote>") <= 20
    huge = ("[" * 2000 + "*a" * 1000)[:4000]
    assert send(api_client, ann, group["_id"], huge)["content"] == huge
    links = send(api_client, ann, group["_id"], "[x](javascript:alert(1)) [y](data:text/html,hi) <b onclick=x>b</b>")
    assert "href" not in links["contentHtml"] and "<b" not in links["contentHtml"]
    outsider = send(api_client, ann, group["_id"], f"<@{people['zed'].id}> hi")
    assert outsider["mentions"] == [] and "mention" not in outsider["contentHtml"]
