"""Concurrency: racing requests against real Postgres end in exactly one consistent result."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa
from sqlmodel import col

from tests.support.factories import befriend, bulk_messages, direct_conversation, issue_token, make_user
from utool_chat.db.engine import session_scope
from utool_chat.db.models import Conversation, ConversationMember, Message, Reaction, ReadReceipt
from utool_chat.domain import conversations as convs
from utool_chat.domain import messages, reactions


def race(count: int, call):
    """Run call(i) for i in range(count) on `count` threads released at the same instant."""
    start = threading.Barrier(count)

    def run(i):
        start.wait()
        return call(i)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


@pytest.fixture()
def pair(db):
    ann, bob = make_user("ann"), make_user("bob")
    return ann["_id"], bob["_id"]


def test_racing_creators_of_one_direct_conversation_get_the_same_one(pair):
    ann, bob = pair
    befriend(ann, bob)
    results = race(10, lambda i: convs.create_conversation(ann if i % 2 else bob, [bob if i % 2 else ann]))
    assert len({conv["_id"] for conv, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    with session_scope() as s:
        assert s.execute(sa.select(sa.func.count()).select_from(Conversation)).scalar_one() == 1
        assert s.execute(sa.select(sa.func.count()).select_from(ConversationMember)).scalar_one() == 2


def test_twenty_concurrent_sends_get_seq_1_to_20_exactly(pair):
    ann, bob = pair
    conv = direct_conversation(ann, bob)["_id"]
    results = race(20, lambda i: messages.send_message(ann if i % 2 else bob, conv, f"m{i}"))
    assert sorted(msg["seq"] for msg, _ in results) == list(range(1, 21))
    with session_scope() as s:
        row = s.execute(sa.select(col(Conversation.last_seq), col(Conversation.last_message_id))
                     .where(col(Conversation.id) == conv)).one()
        newest = s.execute(
            sa.select(col(Message.id)).where(col(Message.conversation_id) == conv, col(Message.seq) == 20)
        ).scalar_one()
    assert row == (20, newest)  # lastMessage points at the message that got the last seq


def test_concurrent_retries_of_one_temp_id_store_one_message(pair):
    ann, bob = pair
    conv = direct_conversation(ann, bob)["_id"]
    results = race(10, lambda i: messages.send_message(ann, conv, "only once", temp_id="retry-me"))
    assert len({msg["_id"] for msg, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    with session_scope() as s:
        assert s.execute(sa.select(sa.func.count()).select_from(Message)).scalar_one() == 1
        assert s.execute(sa.select(col(Conversation.last_seq)).where(col(Conversation.id) == conv)).scalar_one() == 1
    assert messages.send_message(ann, conv, "next")[0]["seq"] == 2  # no gap left behind


def test_concurrent_http_retries_answer_201_once_and_200_otherwise(api_client, pair):
    ann, bob = pair
    conv = direct_conversation(ann, bob)["_id"]
    headers = {"Authorization": f"Bearer {issue_token(ann)}"}
    responses = race(8, lambda i: api_client.post(f"/api/v1/chat/conversations/{conv}/messages",
                                                  json={"content": "hi", "tempId": "t"}, headers=headers))
    assert sorted(r.status_code for r in responses) == [200] * 7 + [201]
    assert len({r.json()["data"]["message"]["_id"] for r in responses}) == 1


def test_concurrent_mark_reads_end_at_the_furthest_position_with_increasing_receipts(pair):
    ann, bob = pair
    conv = direct_conversation(ann, bob)["_id"]
    ids = bulk_messages(conv, ann, 12)
    race(12, lambda i: messages.mark_read(bob, conv, ids[i]))
    with session_scope() as s:
        position = s.execute(sa.select(col(ConversationMember.last_read_seq)).where(
            col(ConversationMember.conversation_id) == conv, col(ConversationMember.user_id) == bob)).scalar_one()
        receipts = s.execute(sa.select(col(ReadReceipt.up_to_seq)).where(col(ReadReceipt.user_id) == bob)
                          .order_by(col(ReadReceipt.id))).scalars().all()
    assert position == 12
    assert receipts == sorted(set(receipts)) and receipts[-1] == 12


def test_concurrent_identical_reactions_store_one_row(pair):
    ann, bob = pair
    conv = direct_conversation(ann, bob)["_id"]
    msg, _ = messages.send_message(ann, conv, "react")
    results = race(8, lambda i: reactions.add_reaction(bob, msg["_id"], "🎉"))
    assert all(r["reactions"] == [{"user": bob, "emoji": "🎉"}] for r in results)
    with session_scope() as s:
        assert s.execute(sa.select(sa.func.count()).select_from(Reaction)).scalar_one() == 1
