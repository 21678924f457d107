"""Hot paths of the chat domain run a fixed number of SQL statements, whatever the size."""

from __future__ import annotations

import pytest

from tests.conftest import count_queries
from tests.support.factories import befriend, bulk_messages, make_user
from utool_chat.db.models import new_id
from utool_chat.domain import conversations as convs
from utool_chat.domain import messages, reactions


def _group(owner: str, size: int) -> str:
    others = [make_user(f"u{new_id()[:16]}")["_id"] for _ in range(size - 1)]
    for other in others:
        befriend(owner, other)
    conv, _ = convs.create_conversation(owner, others, type="group", name="g")
    return conv["_id"]


def _rich_history(conv: str, members: list[str], count: int) -> list[str]:
    """`count` messages where every batch load has work: the newest replies to the oldest,
    carries an attachment and a reaction, and everything has been read."""
    ids = bulk_messages(conv, members[0], count - 1)
    last, _ = messages.send_message(members[1], conv, "re", reply_to=ids[0] if ids else None,
                                    attachments=[{"url": "/a.png", "type": "image/png"}])
    reactions.add_reaction(members[0], last["_id"], "👍")
    messages.mark_read(members[0], conv, last["_id"])
    return [*ids, last["_id"]]


@pytest.fixture()
def owner(db):
    return make_user("owner")["_id"]


def test_a_history_page_costs_the_same_for_1_and_50_messages(owner):
    small, big = _group(owner, 3), _group(owner, 3)
    small_members = convs.member_ids(small)
    big_members = convs.member_ids(big)
    _rich_history(small, [owner, next(m for m in small_members if m != owner)], 2)
    _rich_history(big, [owner, next(m for m in big_members if m != owner)], 200)
    with count_queries() as q_small:
        page_small, _ = messages.list_messages(owner, small, limit=1)
    with count_queries() as q_big:
        page_big, _ = messages.list_messages(owner, big, limit=50)
    assert len(page_small) == 1 and len(page_big) == 50
    # One statement: membership, rows, senders, reply targets, reactions, attachments, readBy
    # and the members' positions (domain/history.py)
    assert q_small.count == q_big.count == 1, q_big.statements
    with count_queries() as q_cursor:
        messages.list_messages(owner, big, limit=50, before_message_id=page_big[-1]["_id"])
    assert q_cursor.count == 1  # the cursor's seq is a sub-select of the same statement
    with count_queries() as q_since:
        missed, _ = messages.messages_since(owner, big, 0, limit=500)
    assert len(missed) == page_big[0]["seq"] and q_since.count == 1  # the whole history, group notice included


def test_sending_costs_the_same_in_a_group_of_3_and_of_30(owner):
    small, big = _group(owner, 3), _group(owner, 30)
    counts = []
    for conv in (small, big):
        with count_queries() as q:
            messages.send_message(owner, conv, "hello")
        counts.append(q.count)
    # the membership check, seq bump, insert, own position/un-archive, receipt, the members
    # and their unread counts in one statement (messages._SEND_ALONE_STATEMENT)
    assert counts == [1, 1]


def test_sending_with_temp_id_reply_and_attachments_adds_one_query_each(owner):
    conv = _group(owner, 3)
    first, _ = messages.send_message(owner, conv, "first")
    with count_queries() as q:
        messages.send_message(owner, conv, "second", temp_id="t2", reply_to=first["_id"],
                              attachments=[{"url": "/a.png", "type": "image/png"}])
    assert q.count == 5 + 3, q.statements
    with count_queries() as q_retry:
        _again, created = messages.send_message(owner, conv, "second", temp_id="t2")
    assert not created
    # roster, bump, temp-id lookup, then serialising the stored message
    # (reply target, reactions, attachments, receipts)
    assert q_retry.count == 7, q_retry.statements


def test_get_conversation_and_mark_read_are_fixed_cost(owner):
    conv = _group(owner, 30)
    other = next(m for m in convs.member_ids(conv) if m != owner)
    ids = _rich_history(conv, [owner, other], 40)
    with count_queries() as q_get:
        convs.get_conversation(owner, conv)
    # row+unread, participants, last message+sender, reply targets, reactions, attachments, receipts
    assert q_get.count == 7, q_get.statements
    third = next(m for m in convs.member_ids(conv) if m not in (owner, other))
    with count_queries() as q_read:
        messages.mark_read(third, conv, ids[-1])
    # roster, target, position update, receipt, unread count, then the message's batch load
    assert q_read.count == 5 + 4, q_read.statements
