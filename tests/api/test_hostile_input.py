"""Hostile input on every HTTP endpoint of contract.md.

Whatever a client sends — a body of the wrong shape, a field of the wrong type, 100k
characters, NUL bytes (Postgres text cannot hold them), lone surrogates, ids that are
someone else's or no id at all, absurd query parameters, broken Authorization headers,
10 MB bodies with or without Content-Length — the answer is a 4xx with the contract's
error envelope: never a 500, never a stack trace, never another user's data, never lost data.

One world of users and conversations serves the whole module (built once, through the
domain, on the session's Postgres database): the hostile requests are refused, so they
change nothing, and the few that are legitimately accepted (an emoji display name, a
renamed group) do not disturb the others. The client does not re-raise server errors, so a
500 shows up as a failing status assertion with its body, like a real client would see it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from tests.support.factories import PASSWORD, Person, befriend, new_person, unique_username
from utool_chat.domain import conversations, friends, messages, ratelimit, settings

HUGE = "a" * 100_000
TEN_MB = 10 * 1024 * 1024
LONGEST_URL_PART = 60_000  # httpx (like most servers) refuses URLs over 64 KiB
LEAK_MARKERS = ("Traceback", 'File "', "sqlalchemy", "psycopg", "Exception")


# --- the world ---------------------------------------------------------------------------------


@dataclass
class World:
    alice: Person  # the caller of most requests
    bob: Person  # alice's friend
    dave: Person  # in alice's group, not her friend
    carol: Person  # an outsider: no friends, no conversations with the others
    erin: Person  # has asked alice to be friends
    direct: str  # alice ↔ bob
    group: str  # alice (admin), bob, dave
    alice_message: str  # in `direct`, by alice
    bob_message: str  # in `direct`, by bob
    group_message: str  # in `group`, by alice
    request: str  # erin → alice, pending


@pytest.fixture(scope="module")
def world(pg_url: str) -> Iterator[World]:
    # Hundreds of refused sends by the same user must not hit the send rate limit.
    ratelimit.configure(send="1000000/second", typing="1000000/second", redis_url=None)
    alice, bob, dave, carol, erin = (
        new_person(name, password=PASSWORD) for name in ("Alice", "Bob", "Dave", "Carol", "Erin")
    )
    request, _ = friends.send_request(alice.id, user_id=bob.id)
    friends.accept_request(bob.id, request["_id"])
    direct, _ = conversations.create_conversation(alice.id, [bob.id])
    settings.update_settings(dave.id, {"groupInvites": "everyone"})  # dave is no friend: he lets anyone
    group, _ = conversations.create_conversation(alice.id, [bob.id, dave.id], type="group", name="Team")
    alice_message, _ = messages.send_message(alice.id, direct["_id"], "hello bob")
    bob_message, _ = messages.send_message(bob.id, direct["_id"], "hello alice")
    group_message, _ = messages.send_message(alice.id, group["_id"], "hello team")
    pending, _ = friends.send_request(erin.id, user_id=alice.id)
    yield World(alice, bob, dave, carol, erin, direct["_id"], group["_id"], alice_message["_id"],
                bob_message["_id"], group_message["_id"], pending["_id"])
    ratelimit.reset()


@pytest.fixture(scope="module")
def client(world: World) -> Iterator[TestClient]:
    from utool_chat.api.app import api

    with TestClient(api, raise_server_exceptions=False) as test_client:
        yield test_client


# --- the endpoints -----------------------------------------------------------------------------

# Field kinds: "str" a string, "ids" a list of id strings, "list" a list of objects, "bool", "int".
@dataclass(frozen=True)
class Route:
    name: str
    method: str
    path: str  # placeholders: {conversation} {message} {request} {user} {emoji}
    fields: tuple[tuple[str, str], ...] = ()
    auth: bool = True
    reads_body: bool = False

    def url(self, w: World, **override: str) -> str:
        values = {"conversation": w.group, "message": w.alice_message, "request": w.request, "user": w.bob.id,
                  "emoji": quote("👍"), **override}
        return self.path.format(**values)

    def base_body(self, w: World) -> dict[str, Any]:
        """A body the route accepts, so that one altered field is the only thing wrong."""
        return BASE_BODIES[self.name](w)


CHAT = "/api/v1/chat"
ROUTES = [
    Route("register", "POST", "/api/v1/auth/register",
          (("username", "str"), ("password", "str"), ("displayName", "str")), auth=False, reads_body=True),
    Route("login", "POST", "/api/v1/auth/login", (("username", "str"), ("password", "str")), auth=False,
          reads_body=True),
    Route("logout", "POST", "/api/v1/auth/logout"),
    Route("me", "GET", "/api/v1/auth/me"),
    Route("search", "GET", "/api/v1/users/search?q=bo"),
    Route("friends", "GET", "/api/v1/friends"),
    Route("requests", "GET", "/api/v1/friends/requests"),
    Route("request_by_username", "POST", "/api/v1/friends/requests", (("username", "str"),), reads_body=True),
    Route("request_by_id", "POST", "/api/v1/friends/requests", (("userId", "str"),), reads_body=True),
    Route("accept", "POST", "/api/v1/friends/requests/{request}/accept"),
    Route("decline", "POST", "/api/v1/friends/requests/{request}/decline"),
    Route("unfriend", "DELETE", "/api/v1/friends/{user}"),
    Route("conversations", "GET", CHAT + "/conversations"),
    Route("create_conversation", "POST", CHAT + "/conversations",
          (("participantIds", "ids"), ("type", "str"), ("name", "str"), ("projectId", "str")), reads_body=True),
    Route("conversation", "GET", CHAT + "/conversations/{conversation}"),
    Route("update_conversation", "PUT", CHAT + "/conversations/{conversation}",
          (("name", "str"), ("avatar", "str"), ("addParticipantIds", "ids"), ("removeParticipantIds", "ids"),
           ("addAdminIds", "ids"), ("removeAdminIds", "ids")), reads_body=True),
    Route("leave_conversation", "DELETE", CHAT + "/conversations/{conversation}"),
    Route("history", "GET", CHAT + "/conversations/{conversation}/messages"),
    Route("send", "POST", CHAT + "/conversations/{conversation}/messages",
          (("content", "str"), ("contentType", "str"), ("attachments", "list"), ("replyTo", "str"),
           ("tempId", "str")), reads_body=True),
    Route("mark_read", "POST", CHAT + "/conversations/{conversation}/messages/read",
          (("lastReadMessageId", "str"),), reads_body=True),
    Route("edit", "PUT", CHAT + "/messages/{message}", (("content", "str"),), reads_body=True),
    Route("delete_message", "DELETE", CHAT + "/messages/{message}"),
    Route("react", "POST", CHAT + "/messages/{message}/reactions", (("emoji", "str"),), reads_body=True),
    Route("unreact", "DELETE", CHAT + "/messages/{message}/reactions/{emoji}"),
    Route("message_info", "GET", CHAT + "/messages/{message}/info"),
    Route("preferences", "PUT", CHAT + "/conversations/{conversation}/preferences",
          (("muted", "bool"), ("mutedFor", "int"), ("pinned", "bool"), ("archived", "bool")), reads_body=True),
    Route("settings", "GET", "/api/v1/users/me/settings"),
    Route("update_settings", "PUT", "/api/v1/users/me/settings",
          (("showLastSeen", "bool"), ("readReceipts", "bool"), ("groupInvites", "str"), ("notificationSound", "bool")),
          reads_body=True),
    Route("presence", "GET", "/api/v1/users/presence"),
]
ROUTES_BY_NAME = {route.name: route for route in ROUTES}

BASE_BODIES = {
    "register": lambda w: {"username": unique_username(), "password": PASSWORD, "displayName": "Zed"},
    "login": lambda w: {"username": w.alice.user["username"], "password": PASSWORD},
    "request_by_username": lambda w: {"username": w.dave.user["username"]},
    "request_by_id": lambda w: {"userId": w.dave.id},
    # "project" uses every field (a direct conversation would ignore name and projectId).
    "create_conversation": lambda w: {"participantIds": [w.bob.id, w.dave.id], "type": "project",
                                      "name": "Launch", "projectId": "proj-1"},
    "update_conversation": lambda w: {"name": "Team", "avatar": "",
                                      "addParticipantIds": [], "removeParticipantIds": [],
                                      "addAdminIds": [], "removeAdminIds": []},
    "send": lambda w: {"content": "hi", "contentType": "text",
                       "attachments": [{"url": "https://example.com/f.png", "type": "image/png", "name": "f.png",
                                        "size": 10}],
                       "replyTo": w.group_message, "tempId": unique_username("t")},
    "mark_read": lambda w: {"lastReadMessageId": w.group_message},
    "edit": lambda w: {"content": "hello bob"},
    "react": lambda w: {"emoji": "👍"},
    "preferences": lambda w: {"muted": True, "mutedFor": 3600, "pinned": False, "archived": False},
    "update_settings": lambda w: {"showLastSeen": True, "readReceipts": True, "groupInvites": "friends",
                                  "notificationSound": True},
}

BODY_ROUTES = [route for route in ROUTES if route.reads_body]
WRITE_ROUTES = [route for route in ROUTES if route.method in ("POST", "PUT")]
FIELD_CASES = [(route, field, kind) for route in BODY_ROUTES for field, kind in route.fields]
STRING_FIELD_CASES = [case for case in FIELD_CASES if case[2] == "str"]

WRONG_VALUES = {
    "str": [123, 1.5, True, False, [], ["x"], {}, {"a": "b"}],
    "ids": ["x", 123, True, {}, {"0": "x"}, [1], [None], [True], [["x"]], [{}]],
    "list": ["x", 123, True, {}, [1], ["x"], [None], [[]], [{}], [{"url": 1, "type": "image/png"}],
             [{"url": "https://e.com/x", "type": "image/png", "size": "10"}],
             [{"url": "https://e.com/x", "type": "image/png", "size": 2**40}],
             [{"url": "https://e.com/x", "type": "image/png", "size": -1}],
             [{"url": "javascript:alert(1)", "type": "image/png"}],
             [{"url": "https://e.com/x", "type": "not a mime"}]],
    "bool": ["true", "false", 1, 0, 1.5, [], [True], {}, "yes"],
    "int": ["60", 1.5, True, [], [60], {}, -1, 0, 59, 10**12],
}
MUST_REFUSE_TEXT = {"nul": "a\u0000b", "lone_surrogate": "a\ud800b", "huge": HUGE}
ODD_BUT_VALID_TEXT = {"rtl_override": "\u202eabc", "zero_width": "a\u200bb\u200d", "four_byte_emoji": "😀👩‍👩‍👧",
                      "combining": "e\u0301\u0301", "bom": "\ufeffhi"}


# --- helpers -----------------------------------------------------------------------------------


def encode(body: Any) -> bytes:
    # json.dumps escapes lone surrogates as "\ud800"; httpx's own encoder would fail on them.
    return json.dumps(body).encode("ascii")


def call(client: TestClient, w: World, route: Route, body: Any = None, *, raw: bytes | None = None,
         headers: dict[str, Any] | None = None, **path: Any) -> Any:
    if headers is None:
        headers = w.alice.headers if route.auth else {}
    content = raw if raw is not None else (None if body is None else encode(body))
    if content is not None:
        headers = {**headers, "content-type": "application/json"}
    return client.request(route.method, route.url(w, **path), content=content, headers=headers)


def assert_refused(response, *statuses: int) -> dict[str, Any]:
    """A 4xx (one of `statuses` if given) with exactly the contract's error envelope."""
    context = f"{response.status_code}: {response.text[:300]}"
    if statuses:
        assert response.status_code in statuses, context
    assert 400 <= response.status_code < 500, context
    body = response.json()
    assert set(body) == {"success", "error", "code"}, context
    assert body["success"] is False and isinstance(body["error"], str) and isinstance(body["code"], str)
    assert_no_leak(response)
    return body


def assert_no_leak(response) -> None:
    assert response.status_code < 500, f"{response.status_code}: {response.text[:300]}"
    for marker in LEAK_MARKERS:
        assert marker not in response.text, response.text[:300]


def assert_refused_or_ok(response) -> None:
    """For inputs a route may legitimately accept: a success, or a clean refusal."""
    if response.status_code < 400:
        assert response.json()["success"] is True
        assert_no_leak(response)
    else:
        assert_refused(response)


def message_content(actor: Person, message_id: str, conversation_id: str) -> dict[str, Any]:
    items, _ = messages.list_messages(actor.id, conversation_id, limit=100)
    return next(m for m in items if m["_id"] == message_id)


def ids(cases: list) -> list[str]:
    return [f"{case[0].name}-{case[1]}" for case in cases]


# --- bodies ------------------------------------------------------------------------------------

NOT_AN_OBJECT = {
    "null": b"null", "number": b"42", "float": b"1e999", "list": b"[]", "list_of_object": b'[{"content": "x"}]',
    "string": b'"text"', "true": b"true", "truncated": b'{"content": ', "not_utf8": b"\xff\xfe\xfa",
    "bare_word": b"content=hi", "deep_nesting": b"[" * 200_000 + b"]" * 200_000,
    "huge_integer": b'{"content": ' + b"9" * 5000 + b"}",
}


@pytest.mark.parametrize("raw", NOT_AN_OBJECT.values(), ids=NOT_AN_OBJECT.keys())
@pytest.mark.parametrize("route", BODY_ROUTES, ids=lambda r: r.name)
def test_a_body_that_is_not_a_json_object_is_a_400(client, world, route, raw):
    assert_refused(call(client, world, route, raw=raw), 400)


@pytest.mark.parametrize("route", BODY_ROUTES, ids=lambda r: r.name)
def test_an_empty_object_body_is_a_400(client, world, route):
    assert_refused(call(client, world, route, {}), 400)


@pytest.mark.parametrize("route", BODY_ROUTES, ids=lambda r: r.name)
def test_every_base_body_is_accepted_so_the_field_tests_below_isolate_one_field(client, world, route):
    response = call(client, world, route, route.base_body(world))
    assert response.status_code in (200, 201), response.text[:300]


@pytest.mark.parametrize("value", ["nan", "infinity"])
def test_non_finite_numbers_are_refused(client, world, value):
    raw = b'{"content": "hi", "tempId": ' + (b"NaN" if value == "nan" else b"Infinity") + b"}"
    assert_refused(call(client, world, ROUTES_BY_NAME["send"], raw=raw), 400)


# --- one field wrong ---------------------------------------------------------------------------


@pytest.mark.parametrize(("route", "field", "kind"), FIELD_CASES, ids=ids(FIELD_CASES))
def test_a_field_of_the_wrong_type_is_a_400(client, world, route, field, kind):
    for value in WRONG_VALUES[kind]:
        body = {**route.base_body(world), field: value}
        assert_refused(call(client, world, route, body), 400)


@pytest.mark.parametrize(("route", "field", "kind"), FIELD_CASES, ids=ids(FIELD_CASES))
def test_a_null_field_is_either_absent_or_a_400(client, world, route, field, kind):
    assert_refused_or_ok(call(client, world, route, {**route.base_body(world), field: None}))


@pytest.mark.parametrize("problem", MUST_REFUSE_TEXT.keys())
@pytest.mark.parametrize(("route", "field", "kind"), FIELD_CASES, ids=ids(FIELD_CASES))
def test_nul_lone_surrogates_and_huge_strings_are_refused(client, world, route, field, kind, problem):
    text = MUST_REFUSE_TEXT[problem]
    value = text if kind in ("str", "bool", "int") else [text] if kind == "ids" else [{"url": "https://e.com/" + text,
                                                                      "type": "image/png", "name": text}]
    body = {**route.base_body(world), field: value}
    # Asking for an impossible user is a 404 "no such user"; a wrong username/password pair
    # (a 100k password cannot be anyone's) is login's usual 401; all else is a 400.
    statuses = {"request_by_username": (400, 404), "request_by_id": (400, 404), "login": (400, 401)}.get(
        route.name, (400,))
    assert_refused(call(client, world, route, body), *statuses)


@pytest.mark.parametrize("odd", ODD_BUT_VALID_TEXT.keys())
@pytest.mark.parametrize(("route", "field", "kind"), STRING_FIELD_CASES, ids=ids(STRING_FIELD_CASES))
def test_rtl_zero_width_and_astral_text_never_breaks_a_route(client, world, route, field, kind, odd):
    body = {**route.base_body(world), field: ODD_BUT_VALID_TEXT[odd]}
    assert_refused_or_ok(call(client, world, route, body))


@pytest.mark.parametrize("odd", ODD_BUT_VALID_TEXT.keys())
def test_odd_unicode_round_trips_unchanged(client, world, odd):
    text = "x" + ODD_BUT_VALID_TEXT[odd] + "x"  # framed, so the trim of content cannot eat a BOM
    sent = call(client, world, ROUTES_BY_NAME["send"], {"content": text})
    assert sent.status_code == 201, sent.text
    assert message_content(world.alice, sent.json()["data"]["message"]["_id"], world.group)["content"] == text
    name = call(client, world, ROUTES_BY_NAME["update_conversation"], {"name": text})
    assert name.status_code == 200 and name.json()["data"]["name"] == text
    reacted = call(client, world, ROUTES_BY_NAME["react"], {"emoji": ODD_BUT_VALID_TEXT[odd]})
    assert reacted.status_code == 200
    assert {"user": world.alice.id, "emoji": ODD_BUT_VALID_TEXT[odd]} in reacted.json()["data"]["reactions"]
    removed = call(client, world, ROUTES_BY_NAME["unreact"], emoji=quote(ODD_BUT_VALID_TEXT[odd]))
    assert removed.status_code == 200
    assert {"user": world.alice.id, "emoji": ODD_BUT_VALID_TEXT[odd]} not in removed.json()["data"]["reactions"]
    registered = call(client, world, ROUTES_BY_NAME["register"],
                      {"username": unique_username(), "password": PASSWORD, "displayName": text})
    assert registered.status_code == 201 and registered.json()["data"]["user"]["displayName"] == text


# --- query parameters --------------------------------------------------------------------------

BAD_QUERIES = {
    "conversations": ["page=0", "page=-1", "page=abc", "page=1e9", "page=" + "9" * 30, "page=" + "9" * 5000,
                      "limit=-1", "limit=0", "limit=1e9", "limit=101", "limit=1.5", "limit=", "type=bogus",
                      "type=%00", "type=" + "x" * 10_000, "archived=maybe", "archived=%00"],
    "history": ["limit=-1", "limit=0", "limit=1e9", "limit=abc", "limit=" + "9" * 5000,
                "beforeMessageId={group_message}&afterMessageId={group_message}",
                "beforeMessageId=%00", "afterMessageId=%00", "beforeMessageId=" + "a" * 10_000,
                "afterMessageId=..%2F..%2Fetc%2Fpasswd", "beforeMessageId={alice_message}",  # another conversation's
                "beforeMessageId=" + uuid.uuid4().hex, "afterMessageId=%ED%A0%80"],
    "search": ["", "q=", "q=%20%20", "q=%00", "q=a%00b", "q=" + "a" * LONGEST_URL_PART, "q=bo&limit=-1",
               "q=bo&limit=0", "q=bo&limit=1e9", "q=bo&limit=abc", "q=bo&limit=51", "q=bo&limit=" + "9" * 5000],
}
QUERY_CASES = [(name, query) for name, queries in BAD_QUERIES.items() for query in queries]


@pytest.mark.parametrize(("name", "query"), QUERY_CASES, ids=[f"{n}-{q[:40]}" for n, q in QUERY_CASES])
def test_bad_query_parameters_are_a_400(client, world, name, query):
    route = ROUTES_BY_NAME[name]
    base = route.url(world).split("?")[0]
    query = query.format(group_message=world.group_message, alice_message=world.alice_message)
    assert_refused(client.get(f"{base}?{query}", headers=world.alice.headers), 400)


@pytest.mark.parametrize("q", ["%25", "_", "%5C", "'", "%22", "%3B--", "bo%25"])
def test_search_wildcards_and_quotes_are_plain_text(client, world, q):
    response = client.get(f"/api/v1/users/search?q={q}", headers=world.alice.headers)
    assert response.status_code == 200 and response.json()["data"] == []


# --- path segments -----------------------------------------------------------------------------

HOSTILE_IDS = {
    "random": uuid.uuid4().hex, "nul": "%00", "nul_inside": "ab%00cd", "huge": "a" * 10_000,
    "traversal": "..%2F..%2Fetc%2Fpasswd", "dot_dot": "..", "encoded_dots": "%2e%2e", "space": "%20",
    "lone_surrogate_utf8": "%ED%A0%80", "not_utf8": "%FF%FE", "emoji": quote("🙂"), "sql": quote("' OR 1=1 --"),
    "rtl": quote("\u202eabc"),
}
PATH_ROUTES = [(route, slot) for route in ROUTES for slot in ("conversation", "message", "request", "user")
               if "{" + slot + "}" in route.path]


@pytest.mark.parametrize("hostile", HOSTILE_IDS.keys())
@pytest.mark.parametrize(("route", "slot"), PATH_ROUTES, ids=[f"{r.name}-{s}" for r, s in PATH_ROUTES])
def test_a_hostile_id_in_the_path_is_a_4xx(client, world, route, slot, hostile):
    body = route.base_body(world) if route.reads_body else None
    ids: dict[str, Any] = {slot: HOSTILE_IDS[hostile]}
    response = call(client, world, route, body, **ids)
    assert_refused(response, 400, 404, 405)


HOSTILE_EMOJI = {"nul": "%00", "huge": quote("😀" * 4_000), "slash": "%2F", "not_utf8": "%FF",
                 "lone_surrogate_utf8": "%ED%A0%80", "spaces": "%20%20", "percent": "%25"}


@pytest.mark.parametrize("emoji", HOSTILE_EMOJI.values(), ids=HOSTILE_EMOJI.keys())
def test_a_hostile_emoji_path_segment_is_refused_or_a_harmless_no_op(client, world, emoji):
    response = call(client, world, ROUTES_BY_NAME["unreact"], emoji=emoji)
    assert_refused_or_ok(response)
    if emoji in ("%00", HOSTILE_EMOJI["huge"], "%20%20"):
        assert_refused(response, 400)


# --- authentication ----------------------------------------------------------------------------

BAD_AUTH = {
    "missing": None, "scheme_only": "Bearer", "empty_token": "Bearer ", "spaces": "Bearer    ",
    "basic": "Basic YWxpY2U6cHc=", "huge": "Bearer " + "x" * 10_000, "non_ascii": b"Bearer \xe9\xff\xfe",
    "wrong_token": "Bearer " + "A" * 43, "two_tokens": "Bearer abc def", "no_scheme": "{token}",
    "token_plus_junk": "Bearer {token}x",
}
AUTH_ROUTES = [route for route in ROUTES if route.auth]


@pytest.mark.parametrize("header", BAD_AUTH.values(), ids=BAD_AUTH.keys())
@pytest.mark.parametrize("route", AUTH_ROUTES, ids=lambda r: r.name)
def test_a_missing_or_bad_token_is_a_401(client, world, route, header):
    if isinstance(header, str):
        header = header.format(token=world.alice.token)
    headers = {} if header is None else {"Authorization": header}
    body = route.base_body(world) if route.reads_body else None
    assert_refused(call(client, world, route, body, headers=headers), 401)


# --- body size ---------------------------------------------------------------------------------


def chunks_of(total: int, size: int = 256 * 1024) -> Iterator[bytes]:
    yield b'{"content": "'
    sent = 0
    while sent < total:
        yield b"a" * size
        sent += size
    yield b'"}'


@pytest.mark.parametrize("route", WRITE_ROUTES, ids=lambda r: r.name)
def test_a_ten_megabyte_body_is_a_413(client, world, route):
    raw = b'{"content": "' + b"a" * TEN_MB + b'"}'
    assert_refused(call(client, world, route, raw=raw), 413)


@pytest.mark.parametrize("route", WRITE_ROUTES, ids=lambda r: r.name)
def test_a_chunked_body_over_the_limit_is_a_413_even_without_content_length(client, world, route):
    headers = {**(world.alice.headers if route.auth else {}), "content-type": "application/json"}
    response = client.request(route.method, route.url(world), content=chunks_of(TEN_MB), headers=headers)
    assert_refused(response, 413)
    # It was refused before the route ran: alice's token still works (logout did not happen).
    assert client.get("/api/v1/auth/me", headers=world.alice.headers).status_code == 200


def test_a_chunked_body_under_the_limit_is_accepted(client, world):
    def body() -> Iterator[bytes]:
        yield b'{"content": '
        yield b'"sent in chunks"}'

    headers = {**world.alice.headers, "content-type": "application/json"}
    response = client.post(ROUTES_BY_NAME["send"].url(world), content=body(), headers=headers)
    assert response.status_code == 201, response.text
    assert response.json()["data"]["message"]["content"] == "sent in chunks"


def test_a_malformed_content_length_is_a_400(client, world):
    headers = {**world.alice.headers, "content-type": "application/json", "content-length": "12abc"}
    response = client.post(ROUTES_BY_NAME["send"].url(world), content=b'{"content":1}', headers=headers)
    assert_refused(response, 400)


# --- non-disclosure ----------------------------------------------------------------------------

PRIVATE_ROUTES = [
    ("conversation", "conversation", None),
    ("update_conversation", "conversation", lambda w: {"name": "mine now"}),
    ("leave_conversation", "conversation", None),
    ("history", "conversation", None),
    ("send", "conversation", lambda w: {"content": "let me in"}),
    ("mark_read", "conversation", lambda w: {"lastReadMessageId": w.alice_message}),
    ("edit", "message", lambda w: {"content": "rewritten"}),
    ("delete_message", "message", None),
    ("react", "message", lambda w: {"emoji": "👀"}),
    ("unreact", "message", None),
    ("message_info", "message", None),
    ("preferences", "conversation", lambda w: {"muted": True}),
]


def former_member(client: TestClient, w: World) -> Person:
    """Someone who was in the group with alice, then left: no longer allowed to see it."""
    ex = new_person("Ex")
    befriend(w.alice, ex)
    conversation, _ = conversations.create_conversation(w.alice.id, [w.bob.id, ex.id], type="group", name="Old")
    messages.send_message(w.alice.id, conversation["_id"], "before you left")
    conversations.archive_or_leave(ex.id, conversation["_id"])
    return ex


@pytest.mark.parametrize("viewer", ["outsider", "former_member"])
@pytest.mark.parametrize(("name", "slot", "body"), PRIVATE_ROUTES, ids=[r[0] for r in PRIVATE_ROUTES])
def test_a_private_conversation_answers_exactly_like_a_missing_one(client, world, name, slot, body, viewer):
    route = ROUTES_BY_NAME[name]
    if viewer == "outsider":
        snooper, conversation_id, message_id = world.carol, world.direct, world.alice_message
    else:
        snooper = former_member(client, world)
        conversation_id = conversations.list_conversations(world.alice.id, type="group", limit=100)[0][0]["_id"]
        message_id = messages.list_messages(world.alice.id, conversation_id)[0][0]["_id"]
    payload = body(world) if body else None
    if name == "mark_read":
        payload = {"lastReadMessageId": message_id}
    target: dict[str, Any] = {"conversation": conversation_id} if slot == "conversation" else {"message": message_id}
    missing: dict[str, Any] = {slot: uuid.uuid4().hex}
    private = call(client, world, route, payload, headers=snooper.headers, **target)
    absent = call(client, world, route, payload, headers=snooper.headers, **missing)
    assert_refused(private, 404)
    assert (private.status_code, private.content) == (absent.status_code, absent.content)


def test_someone_elses_friend_request_and_friend_answer_like_missing_ones(client, world):
    carol = world.carol.headers
    for route_name, slot, value in (("accept", "request", world.request), ("decline", "request", world.request),
                                    ("unfriend", "user", world.bob.id)):
        route = ROUTES_BY_NAME[route_name]
        ids: dict[str, Any] = {slot: value}
        theirs = call(client, world, route, headers=carol, **ids)
        missing = call(client, world, route, headers=carol, **{**ids, slot: uuid.uuid4().hex})
        assert_refused(theirs, 404)
        assert (theirs.status_code, theirs.content) == (missing.status_code, missing.content)


def test_nothing_the_outsider_tried_reached_the_private_conversation(client, world):
    # The snooping above ran first in this module: the direct conversation is untouched.
    items, _ = messages.list_messages(world.alice.id, world.direct, limit=100)
    assert [m["content"] for m in items if m["sender"]["_id"] not in (world.alice.id, world.bob.id)] == []
    reactions = message_content(world.alice, world.alice_message, world.direct)["reactions"]
    assert [r for r in reactions if r["user"] == world.carol.id] == []


# --- no lost data ------------------------------------------------------------------------------

REJECTED_EDITS = {"too_long": "x" * 4001, "empty": "", "blank": "   \n\t ", "number": 42, "list": ["new"],
                  "object": {"text": "new"}, "null": None, "nul": "new\u0000", "lone_surrogate": "\udfff"}


def test_a_rejected_edit_keeps_the_old_content(client, world):
    sent = messages.send_message(world.alice.id, world.group, "the original words")[0]
    route = ROUTES_BY_NAME["edit"]
    for name, content in REJECTED_EDITS.items():
        assert_refused(call(client, world, route, {"content": content}, message=sent["_id"]), 400)
        kept = message_content(world.alice, sent["_id"], world.group)
        assert (kept["content"], kept["isEdited"]) == ("the original words", False), name


REJECTED_SENDS: dict[str, dict[str, Any]] = {
    "too_long": {"content": "x" * 4001}, "empty": {"content": ""}, "nul": {"content": "a\u0000"},
    "lone_surrogate": {"content": "\ud83d"}, "wrong_type": {"content": 7},
    "bad_content_type": {"content": "x", "contentType": "system"},
    "reply_elsewhere": {"content": "x", "replyTo": "{alice_message}"},  # a message of another conversation
    "reply_missing": {"content": "x", "replyTo": uuid.uuid4().hex},
    "attachment_too_big_for_the_column": {"content": "x", "attachments": [
        {"url": "https://e.com/f", "type": "application/pdf", "size": 2**31}]},
    "attachment_name_nul": {"content": "x", "attachments": [
        {"url": "https://e.com/f", "type": "application/pdf", "name": "a\u0000"}]},
    "temp_id_too_long": {"content": "x", "tempId": "t" * 129},
}


def test_rejected_sends_leave_no_gap_in_seq(client, world):
    route = ROUTES_BY_NAME["send"]
    before = call(client, world, route, {"content": "before"}).json()["data"]["message"]["seq"]
    for name, body in REJECTED_SENDS.items():
        body = {k: v.format(alice_message=world.alice_message) if isinstance(v, str) and k == "replyTo" else v
                for k, v in body.items()}
        response = call(client, world, route, {**body, "tempId": body.get("tempId", "retry-me")})
        assert response.status_code == 400, (name, response.text[:300])
        assert_refused(response)
    after = call(client, world, route, {"content": "after", "tempId": "retry-me"})
    assert after.status_code == 201, after.text  # the refused tempId was not burnt either
    assert after.json()["data"]["message"]["seq"] == before + 1
    conversation = call(client, world, ROUTES_BY_NAME["conversation"]).json()["data"]
    assert conversation["lastMessage"]["seq"] == before + 1
