"""db.async_pg (asyncpg on the event loop) and the doors that use it: the loop's send answers
and announces exactly as the worker thread's, a tempId retry and a tempId race, the token
check; connections reused, dropped when a call was cancelled mid-statement (nothing left
running), and a database that cannot be reached is a clean Unavailable reported to health."""

from __future__ import annotations

import asyncio
import time
from contextlib import AsyncExitStack
from typing import Any

import asyncpg
import pytest
import sqlalchemy as sa

from tests.support.factories import direct_conversation, group_conversation, new_person
from utool_chat import health
from utool_chat.db import async_pg
from utool_chat.db import engine as db_engine
from utool_chat.db.engine import get_engine
from utool_chat.domain import accounts, messages
from utool_chat.domain.errors import NotFound, Unauthenticated, Unavailable
from utool_chat.events import Event


def _loop_connections() -> async_pg._LoopConnections:
    return async_pg._connections()


def test_a_statement_is_compiled_to_numbered_parameters_in_the_order_of_its_names() -> None:
    statement = async_pg.compiled(sa.text("SELECT :b, :a WHERE :b IS NOT NULL"))
    assert statement.sql == "SELECT $1, $2 WHERE $1 IS NOT NULL"
    assert statement.names == ("b", "a")
    assert statement.args({"a": 1, "b": 2, "unused": 3}) == [2, 1]


def _normalised(value: Any, replace: dict[str, str]) -> Any:
    """`value` with the ids in `replace` renamed and every time ("at", a key ending in "At"
    or "Until") blanked: what differs between two equal sends into two conversations."""
    if isinstance(value, dict):
        return {k: ("T" if (k == "at" or k.endswith(("At", "Until"))) and v is not None else _normalised(v, replace))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_normalised(v, replace) for v in value]
    return replace.get(value, value) if isinstance(value, str) else value


def _announced(events: list[Event], replace: dict[str, str]) -> list[tuple[str, Any, list[str]]]:
    return [(e.name, _normalised(e.payload, replace), sorted(e.user_ids)) for e in events]


async def test_the_loop_send_answers_and_announces_what_the_thread_send_does(db, events) -> None:
    alice, bob, carol = new_person("Alice"), new_person("Bob"), new_person("Carol")
    # Two conversations in the same state; Bob wrote in both, so Alice's send also reads his
    # message (a receipt rides on the event) and moves the unread counts of both others.
    by_thread = group_conversation(alice, [bob, carol])["_id"]
    on_loop = group_conversation(alice, [bob, carol])["_id"]
    for cid in (by_thread, on_loop):
        messages.send_message(bob.id, cid, "hi there")
    events.clear()

    sent_by_thread, created_by_thread = messages.send_message(alice.id, by_thread, "hello *all*", temp_id="t-1")
    thread_events = list(events)
    events.clear()
    sent_on_loop, created_on_loop = await messages.send_message_async(alice.id, on_loop, "hello *all*",
                                                                      temp_id="t-1")
    loop_events = list(events)

    assert created_by_thread is created_on_loop is True
    replace = {by_thread: "CID", on_loop: "CID", sent_by_thread["_id"]: "MID", sent_on_loop["_id"]: "MID"}
    assert _normalised(sent_on_loop, replace) == _normalised(sent_by_thread, replace)
    assert "<em>all</em>" in sent_on_loop["contentHtml"]
    assert _announced(loop_events, replace) == _announced(thread_events, replace)
    unread = {e.user_ids[0]: e.payload["unreadCount"] for e in loop_events if e.name == "chat:unread_count_update"}
    assert unread == {bob.id: 1, carol.id: 3, alice.id: 0}  # Carol: the group's notice, Bob's, Alice's


async def test_a_repeated_temp_id_on_the_loop_serves_the_first_message(db) -> None:
    alice, bob = new_person("Alice"), new_person("Bob")
    cid = direct_conversation(alice, bob)["_id"]
    first, created = await messages.send_message_async(alice.id, cid, "once", temp_id="retry-1")
    again, created_again = await messages.send_message_async(alice.id, cid, "once", temp_id="retry-1")
    assert (created, created_again) == (True, False)
    assert again["_id"] == first["_id"] and again["seq"] == first["seq"] == 1
    assert _stored_count(cid) == 1


async def test_a_temp_id_racing_its_original_stores_one_message(db) -> None:
    """Both statements run at once on two connections: the second waits for the first's row
    lock, bumps after it and then breaks the tempId's unique constraint (IntegrityError);
    it is answered with the message the first stored."""
    alice, bob = new_person("Alice"), new_person("Bob")
    cid = direct_conversation(alice, bob)["_id"]
    answers = await asyncio.gather(*(messages.send_message_async(alice.id, cid, "racing", temp_id="race-1")
                                     for _ in range(2)))
    assert sorted(created for _message, created in answers) == [False, True]
    assert answers[0][0]["_id"] == answers[1][0]["_id"]
    assert _stored_count(cid) == 1
    assert _last_seq(cid) == 1, "the losing send's bump was undone with its statement"


async def test_a_send_that_waited_for_another_sends_row_lock_counts_unread_after_it(db, events) -> None:
    """The send's statement reads the unread counts from its snapshot, taken before it waits
    for the conversation's row lock: when another send committed meanwhile, those counts lack
    that message, and the counts are asked again after the commit."""
    alice, bob, carol = new_person("Alice"), new_person("Bob"), new_person("Carol")
    cid = group_conversation(alice, [bob, carol])["_id"]
    # Carol's message, stored the way a send does, by a transaction that holds the row lock
    # while Alice's send starts.
    with get_engine().connect() as other:
        seq = other.execute(sa.text("UPDATE conversations SET last_seq = last_seq + 1 WHERE id = :cid "
                                    "RETURNING last_seq"), {"cid": cid}).scalar_one()
        other.execute(sa.text(
            "INSERT INTO messages (id, conversation_id, seq, sender_id, content, content_type, is_edited, is_deleted,"
            " created_at, updated_at) VALUES ('carols-message', :cid, :seq, :carol, 'first', 'text', false, false,"
            " now(), now())"), {"cid": cid, "seq": seq, "carol": carol.id})
        sending = asyncio.ensure_future(messages.send_message_async(alice.id, cid, "second"))
        deadline = time.monotonic() + 5
        while not _waits_for_a_lock():
            assert time.monotonic() < deadline, "the send never waited for the row lock"
            await asyncio.sleep(0.01)
        other.commit()
    sent, created = await asyncio.wait_for(sending, 5)
    assert created and sent["seq"] == seq + 1
    unread = {e.user_ids[0]: e.payload["unreadCount"] for e in events if e.name == "chat:unread_count_update"}
    assert unread[bob.id] == seq + 1  # the group's notices, Carol's message and Alice's
    assert unread[carol.id] == seq  # the same but her own


def _waits_for_a_lock() -> bool:
    with get_engine().connect() as conn:
        return bool(conn.execute(sa.text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )).scalar_one())


async def test_a_non_member_is_told_the_conversation_does_not_exist_and_the_connection_is_kept(db) -> None:
    alice, bob, mallory = new_person("Alice"), new_person("Bob"), new_person("Mallory")
    cid = direct_conversation(alice, bob)["_id"]
    await messages.send_message_async(alice.id, cid, "warm up")  # a connection is idle now
    idle_before = list(_loop_connections().idle)
    with pytest.raises(NotFound):
        await messages.send_message_async(mallory.id, cid, "let me in")
    assert _loop_connections().idle == idle_before  # taken, answered, given back
    assert _stored_count(cid) == 1


async def test_the_token_check_on_the_loop_is_the_thread_one(db) -> None:
    alice = new_person("Alice")
    assert await accounts.authenticate_async(alice.token) == accounts.authenticate(alice.token)
    with pytest.raises(Unauthenticated):
        await accounts.authenticate_async("not-a-token")
    accounts.logout(alice.token)
    with pytest.raises(Unauthenticated):
        await accounts.authenticate_async(alice.token)


async def test_a_connection_is_reused_and_a_statement_error_passes_through(db) -> None:
    async with async_pg.connection() as first:
        pass
    with pytest.raises(asyncpg.DivisionByZeroError):
        async with async_pg.connection() as conn:
            assert conn is first
            await conn.fetchrow(async_pg.compiled(sa.text("SELECT 1 / :zero")), {"zero": 0})
    async with async_pg.connection() as again:
        assert again is first  # the server answered the error: the connection is fine
        assert await _value(again, "SELECT :n + 1", {"n": 1}) == 2
    assert not health.is_down(health.DATABASE)


async def test_a_call_cancelled_mid_statement_drops_its_connection_and_leaves_nothing_running(db) -> None:
    started = asyncio.Event()
    used: list[async_pg.Connection] = []

    async def slow() -> None:
        async with async_pg.connection() as conn:
            used.append(conn)
            started.set()
            await conn.raw.execute("SELECT pg_sleep(5)")

    task = asyncio.create_task(slow())
    await started.wait()
    await asyncio.sleep(0.05)  # the statement is on the server
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    [conn] = used
    assert conn.raw.is_closed() and conn not in _loop_connections().idle
    await asyncio.sleep(0)
    left = [t for t in asyncio.all_tasks() if "Connection._cancel" in repr(t.get_coro())]
    assert left == [], "asyncpg's cancel request outlived the connection"
    async with async_pg.connection() as fresh:  # the next call opens another
        assert fresh is not conn
        assert await _value(fresh, "SELECT 1", {}) == 1


async def test_every_connection_busy_past_the_pool_timeout_is_unavailable(db, monkeypatch) -> None:
    monkeypatch.setattr(async_pg, "POOL_TIMEOUT_SECONDS", 0.05)
    async with AsyncExitStack() as held:
        for _ in range(async_pg.MAX_CONNECTIONS):
            await held.enter_async_context(async_pg.connection())
        with pytest.raises(Unavailable):
            async with async_pg.connection():
                pass
        assert health.is_down(health.DATABASE)
    # The held calls ended (answered): the slots are free again, and the outage is over.
    assert not health.is_down(health.DATABASE)
    async with async_pg.connection():
        pass


@pytest.mark.parametrize("where", ["no server", "no such database"])
async def test_a_database_that_cannot_be_reached_is_unavailable_and_reported(db, pg_url, where) -> None:
    alice, bob = new_person("Alice"), new_person("Bob")
    cid = direct_conversation(alice, bob)["_id"]
    url = get_engine().url
    gone = url.set(port=1) if where == "no server" else url.set(database="utool_no_such_database")
    db_engine.init_engine(gone.render_as_string(hide_password=False))
    try:
        with pytest.raises(Unavailable):
            await messages.send_message_async(alice.id, cid, "into the void")
        with pytest.raises(Unavailable):
            await accounts.authenticate_async(alice.token)
        assert health.is_down(health.DATABASE)
    finally:
        db_engine.init_engine(pg_url)
    message, created = await messages.send_message_async(alice.id, cid, "back")
    assert created and message["seq"] == 1
    assert not health.is_down(health.DATABASE)


async def _value(conn: async_pg.Connection, sql: str, params: dict[str, Any]) -> Any:
    row = await conn.fetchrow(async_pg.compiled(sa.text(sql)), params)
    assert row is not None
    return row[0]


def _stored_count(cid: str) -> int:
    with get_engine().connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM messages WHERE conversation_id = :cid"),
                            {"cid": cid}).scalar_one()


def _last_seq(cid: str) -> int:
    with get_engine().connect() as conn:
        return conn.execute(sa.text("SELECT last_seq FROM conversations WHERE id = :cid"), {"cid": cid}).scalar_one()


def _server_connections() -> int:
    """Connections to the test database but the one asking."""
    with get_engine().connect() as conn:
        return conn.execute(sa.text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )).scalar_one()


def _settles_at(count: int) -> int:
    """The server's count once it has seen the closed sockets (a backend ends a moment
    after its client hung up), or what it still is after 3 s."""
    deadline = time.monotonic() + 3
    while (now := _server_connections()) != count and time.monotonic() < deadline:
        time.sleep(0.02)
    return now


def test_a_loop_that_ends_takes_its_connections_with_it(db) -> None:
    # Each asyncio.run is a loop of its own, as a request's loop in a test client or a
    # worker that restarts: its connections must not outlive it on the server.
    async def use_two_connections() -> None:
        async with async_pg.connection() as first, async_pg.connection() as second:
            await first.fetchrow(async_pg.compiled(sa.text("SELECT 1")), {})
            await second.fetchrow(async_pg.compiled(sa.text("SELECT 1")), {})

    before = _server_connections()
    tables_before = dict(async_pg._by_loop)  # the test session's own loop may be there
    for _ in range(3):
        asyncio.run(use_two_connections())
        assert _settles_at(before) == before
    assert async_pg._by_loop == tables_before and set(async_pg._shutdown_watchers) == set(tables_before)


def test_a_loop_closed_without_shutting_down_is_forgotten_at_the_next_lookup(db) -> None:
    abandoned = asyncio.new_event_loop()

    async def use_one() -> None:
        async with async_pg.connection() as conn:
            await conn.fetchrow(async_pg.compiled(sa.text("SELECT 1")), {})

    abandoned.run_until_complete(use_one())
    abandoned.close()  # no shutdown_asyncgens: its connection stays idle in the table
    assert abandoned in async_pg._by_loop
    asyncio.run(use_one())
    assert abandoned not in async_pg._by_loop and abandoned not in async_pg._shutdown_watchers
