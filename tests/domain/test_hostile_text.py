"""Text Postgres cannot take (NUL bytes, lone surrogates) and ids of the wrong shape, handed
straight to the domain functions that every door calls — the Reflex states pass browser
values without an HTTP layer in between. Each is a DomainError (400/401/404), never a
driver error that a door would turn into a 500 or a stuck spinner."""

from __future__ import annotations

import pytest

from utool_chat.domain import accounts, conversations, friends, messages, reactions
from utool_chat.domain import typing as typing_domain
from utool_chat.domain.errors import DomainError, NotFound, Unauthenticated, ValidationFailed
from utool_chat.domain.text import is_id, is_storable_text

BAD_TEXT = {"nul": "ab\x00cd", "only_nul": "\x00", "lone_high_surrogate": "ab\ud800", "lone_low_surrogate": "\udc00x"}
BAD_TEXTS = list(BAD_TEXT.values())
BAD_IDS = [*BAD_TEXTS, "", " ", "x" * 65, "../etc", "a/b", 42, None, ["x"], {"id": "x"}]


@pytest.fixture()
def pair(db):
    alice = accounts.register("alice", "correct horse")["user"]["_id"]
    bob = accounts.register("bob", "correct horse")["user"]["_id"]
    request, _ = friends.send_request(alice, user_id=bob)
    friends.accept_request(bob, request["_id"])
    conversation, _ = conversations.create_conversation(alice, [bob])
    message, _ = messages.send_message(alice, conversation["_id"], "hi")
    return alice, conversation["_id"], message["_id"]


def test_text_and_id_checks_name_exactly_what_postgres_cannot_take():
    assert all(not is_storable_text(t) for t in BAD_TEXTS)
    assert all(is_storable_text(t) for t in ("", "plain", "😀", "\u202eabc", "a\u200bb"))
    assert not any(is_id(i) for i in BAD_IDS)
    assert is_id("0123456789abcdef0123456789abcdef")


@pytest.mark.parametrize("text", BAD_TEXTS, ids=BAD_TEXT.keys())
def test_accounts_refuse_unstorable_text_cleanly(db, text):
    with pytest.raises(ValidationFailed):
        accounts.register("carol", "correct horse", display_name=text)
    with pytest.raises(ValidationFailed):
        accounts.register("carol", "correct horse" + text)
    with pytest.raises(ValidationFailed):
        accounts.login("carol" + text, "correct horse")
    with pytest.raises(ValidationFailed):
        accounts.login("carol", "correct horse" + text)
    for dead in (accounts.authenticate, accounts.authenticate_session, accounts.logout):
        with pytest.raises(Unauthenticated):
            dead("token" + text)


@pytest.mark.parametrize("bad_id", BAD_IDS, ids=repr)
def test_ids_of_the_wrong_shape_are_not_found(pair, bad_id):
    """The one id rule (text.check_id): a string of the wrong shape is the same 404 as an id
    that names nothing; anything else is a 400 validation_error."""
    alice, _conversation_id, _message_id = pair
    expected = (404, None) if isinstance(bad_id, str) else (400, "validation_error")
    for call in (
        lambda: friends.accept_request(alice, bad_id),
        lambda: friends.decline_request(alice, bad_id),
        lambda: friends.remove_friend(alice, bad_id),
        lambda: typing_domain.typing_started(alice, bad_id),
        lambda: typing_domain.typing_stopped(alice, bad_id),
        lambda: conversations.get_conversation(alice, bad_id),
        lambda: messages.edit_message(alice, bad_id, "new"),
        lambda: reactions.add_reaction(alice, bad_id, "👍"),
    ):
        with pytest.raises(DomainError) as refused:
            call()
        assert (refused.value.status, None if expected[1] is None else refused.value.code) == expected
    assert conversations.member_ids(bad_id) == []


@pytest.mark.parametrize("text", BAD_TEXTS, ids=BAD_TEXT.keys())
def test_friend_lookups_refuse_unstorable_text_cleanly(pair, text):
    alice, _conversation_id, _message_id = pair
    with pytest.raises(ValidationFailed):
        friends.search_users(alice, "bo" + text)
    with pytest.raises(NotFound):
        friends.send_request(alice, username="bob" + text)
    with pytest.raises(NotFound):
        friends.send_request(alice, user_id="id" + text)


@pytest.mark.parametrize("size", [2**31, 2**40, -1])
def test_an_attachment_size_the_column_cannot_hold_is_a_400_and_burns_no_seq(pair, size):
    alice, conversation_id, _message_id = pair
    attachment = {"url": "https://example.com/f.pdf", "type": "application/pdf", "size": size}
    with pytest.raises(ValidationFailed):
        messages.send_message(alice, conversation_id, "file", attachments=[attachment])
    largest = {**attachment, "size": 2**31 - 1}
    sent, _ = messages.send_message(alice, conversation_id, "file", attachments=[largest])
    assert sent["seq"] == 2 and sent["attachments"][0]["size"] == 2**31 - 1
