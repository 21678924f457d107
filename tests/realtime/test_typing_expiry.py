"""TypingExpiry: per-process typing states that end by themselves (no server needed)."""

from __future__ import annotations

import asyncio

from utool_chat.realtime.typing_expiry import TypingExpiry

TTL = 0.1


def tracker() -> tuple[TypingExpiry, list[tuple[str, str]]]:
    expired: list[tuple[str, str]] = []

    return TypingExpiry(TTL, lambda user_id, conversation_id: expired.append((user_id, conversation_id))), expired


async def test_only_the_first_refresh_is_new() -> None:
    typing, _ = tracker()
    assert typing.refresh("sid", "u", "c") is True
    assert typing.refresh("sid", "u", "c") is False
    assert typing.is_typing("u", "c")


async def test_an_unrefreshed_state_expires_after_the_ttl() -> None:
    typing, expired = tracker()
    typing.refresh("sid", "u", "c")
    await asyncio.sleep(TTL / 2)
    assert expired == []
    await asyncio.sleep(TTL)
    assert expired == [("u", "c")]
    assert not typing.is_typing("u", "c")


async def test_a_refresh_postpones_expiry() -> None:
    typing, expired = tracker()
    typing.refresh("sid", "u", "c")
    await asyncio.sleep(TTL * 0.7)
    typing.refresh("sid", "u", "c")
    await asyncio.sleep(TTL * 0.7)
    assert expired == []  # 1.4 TTL after the start, 0.7 after the refresh
    await asyncio.sleep(TTL)
    assert expired == [("u", "c")]


async def test_ending_cancels_the_expiry_silently() -> None:
    typing, expired = tracker()
    typing.refresh("sid", "u", "c")
    assert typing.end("u", "c") is True
    assert typing.end("u", "c") is False
    await asyncio.sleep(TTL * 1.5)
    assert expired == []


async def test_a_disconnect_ends_only_the_states_that_socket_owns() -> None:
    typing, expired = tracker()
    typing.refresh("tab-1", "u", "c1")
    typing.refresh("tab-1", "u", "c2")
    typing.refresh("tab-2", "u", "c2")  # the other tab took over c2
    typing.refresh("tab-2", "v", "c1")
    assert sorted(typing.end_all_of("tab-1")) == [("u", "c1")]
    assert typing.is_typing("u", "c2") and typing.is_typing("v", "c1")
    assert not typing.is_typing("u", "c1")
    assert typing.end_all_of("tab-1") == []
    await asyncio.sleep(TTL * 1.5)
    assert sorted(expired) == [("u", "c2"), ("v", "c1")]
