"""History around a message (list_messages(around_message_id=…)): a page centred on it, so a
search result opens in context, with more to load both ways."""

from __future__ import annotations

import pytest

from tests.conftest import count_queries
from tests.support.factories import bulk_messages, direct_conversation, make_user
from utool_chat.domain import messages
from utool_chat.domain.errors import NotFound, ValidationFailed


@pytest.fixture()
def chat(backend):
    ann, bob = make_user("ann")["_id"], make_user("bob")["_id"]
    conversation = direct_conversation(ann, bob)["_id"]
    ids = bulk_messages(conversation, ann, 100)  # seq 1..100, ids[i] has seq i + 1
    return ann, bob, conversation, ids


def seqs(page):
    return [m["seq"] for m in page]


def test_a_page_centred_on_the_message(chat):
    ann, _, conversation, ids = chat
    page, meta = messages.list_messages(ann, conversation, limit=11, around_message_id=ids[49])
    assert seqs(page) == list(range(55, 44, -1))  # newest first, 5 newer, the message, 5 older
    assert meta == {"hasMore": True, "hasMoreBefore": True, "hasMoreAfter": True, "limit": 11,
                    "aroundMessageId": ids[49], "newestMessageId": ids[54], "oldestMessageId": ids[44]}
    even, _ = messages.list_messages(ann, conversation, limit=10, around_message_id=ids[49])
    assert seqs(even) == list(range(55, 45, -1))  # the odd one out goes to the newer side


def test_near_either_end_the_other_side_fills_the_page(chat):
    ann, _, conversation, ids = chat
    page, meta = messages.list_messages(ann, conversation, limit=10, around_message_id=ids[97])
    assert seqs(page) == list(range(100, 90, -1))
    assert (meta["hasMoreBefore"], meta["hasMoreAfter"]) == (True, False)
    page, meta = messages.list_messages(ann, conversation, limit=10, around_message_id=ids[1])
    assert seqs(page) == list(range(10, 0, -1))
    assert (meta["hasMoreBefore"], meta["hasMoreAfter"]) == (False, True)
    page, meta = messages.list_messages(ann, conversation, limit=100, around_message_id=ids[0])
    assert seqs(page) == list(range(100, 0, -1)) and meta["hasMore"] is False
    page, meta = messages.list_messages(ann, conversation, limit=1, around_message_id=ids[0])
    assert seqs(page) == [1] and (meta["hasMoreBefore"], meta["hasMoreAfter"]) == (False, True)


def test_scrolling_both_ways_from_there_gives_the_whole_history_once(chat):
    ann, _, conversation, ids = chat
    page, meta = messages.list_messages(ann, conversation, limit=7, around_message_id=ids[30])
    seen = seqs(page)
    newest, oldest = meta["newestMessageId"], meta["oldestMessageId"]
    more_newer, more_older = meta["hasMoreAfter"], meta["hasMoreBefore"]
    while more_newer:
        newer, m = messages.list_messages(ann, conversation, limit=30, after_message_id=newest)
        seen = seqs(newer) + seen
        newest, more_newer = m["newestMessageId"], m["hasMore"]
    while more_older:
        older, m = messages.list_messages(ann, conversation, limit=30, before_message_id=oldest)
        seen += seqs(older)
        oldest, more_older = m["oldestMessageId"], m["hasMore"]
    assert seen == list(range(100, 0, -1))


def test_bad_around_requests(chat):
    ann, bob, conversation, ids = chat
    elsewhere = direct_conversation(bob, make_user("cyd")["_id"])["_id"]
    foreign = bulk_messages(elsewhere, bob, 1)[0]
    for bad in (foreign, "f" * 32, "no spaces allowed"):
        with pytest.raises(ValidationFailed) as err:
            messages.list_messages(ann, conversation, around_message_id=bad)
        assert err.value.code == "invalid_cursor"
    with pytest.raises(ValidationFailed) as err:
        messages.list_messages(ann, conversation, around_message_id=ids[5], before_message_id=ids[9])
    assert err.value.code == "invalid_cursor"
    stranger = make_user("eve")["_id"]
    with pytest.raises(NotFound):
        messages.list_messages(stranger, conversation, around_message_id=ids[5])


def test_a_deleted_message_still_opens_in_context(chat):
    ann, _, conversation, ids = chat
    messages.delete_message(ann, ids[50])
    page, _ = messages.list_messages(ann, conversation, limit=3, around_message_id=ids[50])
    assert seqs(page) == [52, 51, 50] and page[1]["isDeleted"] is True


def test_around_costs_a_fixed_number_of_queries(chat, backend):
    ann, _, conversation, ids = chat
    with count_queries() as small:
        messages.list_messages(ann, conversation, limit=3, around_message_id=ids[50])
    with count_queries() as big:
        messages.list_messages(ann, conversation, limit=100, around_message_id=ids[50])
    # Postgres: everything in one statement (domain/history.py). SQLite: roster, the rows (both
    # sides and the message in one statement), reactions, attachments, receipts.
    assert small.count == big.count == (1 if backend == "postgresql" else 5), big.statements
