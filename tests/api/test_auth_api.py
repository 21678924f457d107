"""/api/v1/auth over HTTP: contract statuses and the error envelope on every failure."""

from __future__ import annotations

import pytest

REGISTER, LOGIN, LOGOUT, ME = (f"/api/v1/auth/{p}" for p in ("register", "login", "logout", "me"))


def assert_error(response, status: int, code: str | None = None) -> dict:
    """A contract error: the status, and exactly {success: false, error: str, code: str}."""
    assert response.status_code == status, response.text
    body = response.json()
    # An outage (503) also says when to retry: {..., retryAfter: seconds} (contract: outages).
    assert set(body) == {"success", "error", "code"} | ({"retryAfter"} if status == 503 else set())
    assert body["success"] is False
    assert isinstance(body["error"], str) and body["error"]
    assert isinstance(body["code"], str) and body["code"]
    if code:
        assert body["code"] == code
    assert "Traceback" not in response.text
    return body


def test_register_returns_201_with_user_and_token(api_client):
    r = api_client.post(REGISTER, json={"username": "alice", "password": "correct horse", "displayName": "Alice"})
    assert r.status_code == 201
    body = r.json()
    assert body["success"] is True
    data = body["data"]
    assert set(data) == {"user", "token"}
    assert set(data["user"]) == {"_id", "username", "displayName", "avatar"}
    assert data["user"]["username"] == "alice" and data["user"]["displayName"] == "Alice"
    assert isinstance(data["token"], str) and len(data["token"]) >= 32


def test_display_name_defaults_to_the_username(api_client):
    r = api_client.post(REGISTER, json={"username": "bob_1.x-y", "password": "correct horse"})
    assert r.status_code == 201
    assert r.json()["data"]["user"]["displayName"] == "bob_1.x-y"


def test_username_taken_case_insensitively_is_409(api_client, register):
    register("Alice")
    assert_error(api_client.post(REGISTER, json={"username": "ALICE", "password": "correct horse"}), 409)


@pytest.mark.parametrize(
    "body",
    [
        {"username": "ab", "password": "correct horse"},
        {"username": "a" * 33, "password": "correct horse"},
        {"username": "al ice", "password": "correct horse"},
        {"username": "alice#", "password": "correct horse"},
        {"username": "alice", "password": "seven77"},
        {"username": "alice"},
        {"password": "correct horse"},
        {},
        {"username": 5, "password": "correct horse"},
        {"username": "alice", "password": 123456789},
        {"username": ["alice"], "password": "correct horse"},
        {"username": "alice", "password": "correct horse", "displayName": 7},
        {"username": "alice", "password": "correct horse", "displayName": "x" * 65},
    ],
)
def test_register_bad_input_is_400(api_client, body):
    assert_error(api_client.post(REGISTER, json=body), 400)


def test_password_of_exactly_eight_characters_is_accepted(api_client):
    assert api_client.post(REGISTER, json={"username": "alice", "password": "12345678"}).status_code == 201


@pytest.mark.parametrize("path", [REGISTER, LOGIN])
@pytest.mark.parametrize(
    "raw, content_type",
    [
        (b"{not json", "application/json"),
        (b'["alice", "correct horse"]', "application/json"),
        (b'"alice"', "application/json"),
        (b"null", "application/json"),
        (b"\xff\xfe\x00", "application/json"),
    ],
)
def test_malformed_bodies_are_400(api_client, path, raw, content_type):
    assert_error(api_client.post(path, content=raw, headers={"content-type": content_type}), 400)


@pytest.mark.parametrize("path", [REGISTER, LOGIN])
def test_ten_megabyte_body_is_413(api_client, path):
    huge = b'{"username": "' + b"a" * (10 * 1024 * 1024) + b'", "password": "correct horse"}'
    assert_error(api_client.post(path, content=huge, headers={"content-type": "application/json"}), 413)


def test_login_returns_user_and_a_fresh_token(api_client, register):
    user, first_token, _ = register("alice")
    r = api_client.post(LOGIN, json={"username": "Alice", "password": "correct horse"})
    assert r.status_code == 200
    data = r.json()["data"]
    assert data["user"] == user
    assert data["token"] != first_token
    assert api_client.get(ME, headers={"Authorization": f"Bearer {data['token']}"}).status_code == 200


def test_wrong_password_is_401(api_client, register):
    register("alice")
    assert_error(api_client.post(LOGIN, json={"username": "alice", "password": "wrong horse"}), 401)


def test_unknown_user_is_401_with_the_same_message_as_a_wrong_password(api_client, register):
    register("alice")
    wrong = assert_error(api_client.post(LOGIN, json={"username": "alice", "password": "wrong horse"}), 401)
    unknown = assert_error(api_client.post(LOGIN, json={"username": "nobody", "password": "wrong horse"}), 401)
    assert wrong["error"] == unknown["error"]


@pytest.mark.parametrize(
    "body", [{}, {"username": "alice"}, {"password": "correct horse"}, {"username": 5, "password": "x"},
             {"username": "alice", "password": None}, {"username": "alice", "password": ["correct horse"]}],
)
def test_login_missing_fields_or_wrong_types_are_400(api_client, register, body):
    register("alice")
    assert_error(api_client.post(LOGIN, json=body), 400)


def test_me_returns_the_caller(api_client, register):
    user, _, headers = register("alice", display_name="Alice Liddell")
    r = api_client.get(ME, headers=headers)
    assert r.status_code == 200
    assert r.json() == {"success": True, "data": {"user": user}}
    assert user["displayName"] == "Alice Liddell"


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer "}, {"Authorization": "Bearer bogus-token"}, {"Authorization": "Basic abc"},
     {"Authorization": "bogus"}, {"Authorization": "Bearer " + "x" * 5000}],
)
def test_me_without_a_valid_token_is_401(api_client, register, headers):
    register("alice")
    assert_error(api_client.get(ME, headers=headers), 401)


def test_logged_out_token_is_401_everywhere(api_client, register):
    _, _, headers = register("alice")
    r = api_client.post(LOGOUT, headers=headers)
    assert r.status_code == 200 and r.json()["success"] is True
    assert_error(api_client.get(ME, headers=headers), 401)
    assert_error(api_client.post(LOGOUT, headers=headers), 401)


def test_logout_only_ends_that_session(api_client, register):
    _, _, first = register("alice")
    second_login = api_client.post(LOGIN, json={"username": "alice", "password": "correct horse"})
    second_token = second_login.json()["data"]["token"]
    api_client.post(LOGOUT, headers=first)
    assert api_client.get(ME, headers={"Authorization": f"Bearer {second_token}"}).status_code == 200


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer bogus-token"}])
def test_logout_without_a_valid_token_is_401(api_client, headers):
    assert_error(api_client.post(LOGOUT, headers=headers), 401)


def test_unknown_auth_path_is_404_in_the_envelope(api_client):
    assert_error(api_client.get("/api/v1/auth/nope"), 404, "not_found")
