"""Which users are typing where, in this process, and when that ends by itself.

A typing state is keyed by (user, conversation) and owned by the socket that last
refreshed it. It ends when: the owner sends chat:typing_end or a message, the owner
disconnects, or nobody refreshed it for `ttl` seconds (a tab that vanished without a
goodbye). Only the last case calls `on_expire(user_id, conversation_id)` (from the event
loop; it must not block): the caller announces the other endings itself.

Why here and not in domain/typing.py: expiry needs an event loop (timers) and knows about
sockets (a disconnect ends that socket's typing); the domain is synchronous and knows no
connections. State is per process on purpose: with several backend processes, each one
expires the typing its own sockets started, and a stop arriving on another process
(another tab) only means one extra, harmless chat:user_stopped_typing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

Key = tuple[str, str]  # (user_id, conversation_id)


class TypingExpiry:
    def __init__(self, ttl: float, on_expire: Callable[[str, str], None]) -> None:
        self.ttl = ttl
        self._on_expire = on_expire
        self._timers: dict[Key, asyncio.TimerHandle] = {}
        self._owner: dict[Key, str] = {}
        self._by_sid: dict[str, set[Key]] = {}

    def is_typing(self, user_id: str, conversation_id: str) -> bool:
        return (user_id, conversation_id) in self._timers

    def refresh(self, sid: str, user_id: str, conversation_id: str) -> bool:
        """Start or extend a typing state; True if it is new (the others must be told)."""
        key = (user_id, conversation_id)
        is_new = self._forget(key) is None
        loop = asyncio.get_running_loop()
        self._timers[key] = loop.call_later(self.ttl, self._expire, key)
        self._owner[key] = sid
        self._by_sid.setdefault(sid, set()).add(key)
        return is_new

    def end(self, user_id: str, conversation_id: str) -> bool:
        """End a typing state without telling anyone; True if there was one."""
        return self._forget((user_id, conversation_id)) is not None

    def end_all_of(self, sid: str) -> list[Key]:
        """End every typing state owned by a socket (it disconnected); returns their keys."""
        keys = [key for key in self._by_sid.pop(sid, set()) if self._owner.get(key) == sid]
        for key in keys:
            self._forget(key)
        return keys

    def _forget(self, key: Key) -> asyncio.TimerHandle | None:
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()
        sid = self._owner.pop(key, None)
        if sid is not None and sid in self._by_sid:
            self._by_sid[sid].discard(key)
            if not self._by_sid[sid]:
                del self._by_sid[sid]
        return timer

    def _expire(self, key: Key) -> None:
        self._forget(key)
        self._on_expire(*key)
