"""Typing indicators: "Alice is typing…" for the other members of a conversation.

Every door (the Socket.IO namespace, the Reflex composer) calls these; the rules live here:

    typing_started(actor_id, conversation_id, *, owner=None)
        A new state: one membership query, then chat:user_typing {conversationId, userId,
        userName} to the other active members. A refresh of a live state only postpones
        its end: no query, no event.
    typing_stopped(actor_id, conversation_id)
        Ends the state and sends chat:user_stopped_typing {conversationId, userId} to the
        other active members (also when this process knew no state: another process may).
    end_typing_of(owner)
        The connection `owner` (a socket id, a browser tab's token) went away: every state
        it kept alive ends, and each is announced as stopped.
    ended_by_message(actor_id, conversation_id, member_ids)
        messages.send_message calls it after the message is committed: sending ends the
        sender's typing, for every door (HTTP included).

Both typing_started and typing_stopped count against the per-user typing limit
(RATE_LIMIT_TYPING), so a client cannot flood the others through any door. A non-member
gets NotFound, exactly as for any other conversation they cannot see; ids follow
text.check_id.

Typing is never stored in the database. The live states sit in one registry per backend
process: keyed by (user, conversation), owned by the connection that last refreshed it,
ending by itself TYPING_TTL_SECONDS (config.settings.typing_ttl_seconds) after the last
refresh, when the expiry is announced like a stop. With several backend processes each one
holds the states its own connections started: a stop or a send that goes through another
process is still announced (typing_stopped always publishes; a send's chat:new_message
itself ends the sender's typing line in every client), and the state left behind on the
first process expires after the TTL with one extra, harmless chat:user_stopped_typing.

The registry's timer is one daemon thread per process, not an event loop: the domain is
synchronous and is called from Socket.IO's loop, Reflex's loop and worker threads alike.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from utool_chat import config
from utool_chat.db.engine import session_scope
from utool_chat.db.models import ConversationMember, User
from utool_chat.domain import ratelimit
from utool_chat.domain.errors import NotFound
from utool_chat.domain.text import check_id
from utool_chat.events import Event, publish_now, publish_on_commit

log = logging.getLogger(__name__)

Key = tuple[str, str]  # (user_id, conversation_id)
USER_TYPING = "chat:user_typing"
USER_STOPPED_TYPING = "chat:user_stopped_typing"


def _conversation_not_found() -> NotFound:
    return NotFound("Conversation not found.", code="conversation_not_found")


@dataclass
class _State:
    owner: str | None
    expires_at: float  # time.monotonic()


class TypingRegistry:
    """The live typing states of one process, and their expiry.

    Thread-safe. `on_expire(user_id, conversation_id)` runs on the registry's own thread
    for each state that nobody refreshed in time; it may block (it queries and publishes).
    The other ways a state ends are announced by the callers (see the module docstring)."""

    def __init__(self, on_expire: Callable[[str, str], None], clock: Callable[[], float] = time.monotonic) -> None:
        self._on_expire = on_expire
        self._clock = clock
        self._states: dict[Key, _State] = {}
        self._by_owner: dict[str, set[Key]] = {}
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def is_typing(self, user_id: str, conversation_id: str) -> bool:
        with self._wake:
            return (user_id, conversation_id) in self._states

    def refresh(self, user_id: str, conversation_id: str, owner: str | None, ttl: float) -> bool:
        """Postpone the end of a live state (and hand it to `owner`); False when there is
        none, so the caller must check membership, announce it and `add` it."""
        with self._wake:
            state = self._states.get((user_id, conversation_id))
            if state is None:
                return False
            state.expires_at = self._clock() + ttl
            self._set_owner((user_id, conversation_id), state, owner)
            return True

    def add(self, user_id: str, conversation_id: str, owner: str | None, ttl: float) -> None:
        key = (user_id, conversation_id)
        with self._wake:
            state = self._states.get(key)
            if state is None:
                state = self._states[key] = _State(owner=None, expires_at=0.0)
            state.expires_at = self._clock() + ttl
            self._set_owner(key, state, owner)
            if self._thread is None:
                self._thread = threading.Thread(target=self._expire_forever, name="typing-expiry", daemon=True)
                self._thread.start()
            self._wake.notify()

    def end(self, user_id: str, conversation_id: str) -> bool:
        """Forget a state without announcing anything; True if there was one."""
        with self._wake:
            return self._forget((user_id, conversation_id))

    def end_all_of(self, owner: str) -> list[Key]:
        """Forget every state `owner` keeps alive; returns their keys (to announce)."""
        with self._wake:
            keys = sorted(self._by_owner.get(owner, ()))
            for key in keys:
                self._forget(key)
            return keys

    def clear(self) -> None:
        """Forget every state without announcing anything (tests start from nothing)."""
        with self._wake:
            self._states.clear()
            self._by_owner.clear()

    def _set_owner(self, key: Key, state: _State, owner: str | None) -> None:
        if state.owner == owner:
            return
        self._drop_owner(key, state)
        state.owner = owner
        if owner is not None:
            self._by_owner.setdefault(owner, set()).add(key)

    def _drop_owner(self, key: Key, state: _State) -> None:
        if state.owner is not None:
            keys = self._by_owner.get(state.owner)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._by_owner[state.owner]

    def _forget(self, key: Key) -> bool:
        state = self._states.pop(key, None)
        if state is None:
            return False
        self._drop_owner(key, state)
        return True

    def _expire_forever(self) -> None:
        while True:
            with self._wake:
                now = self._clock()
                expired = [key for key, state in self._states.items() if state.expires_at <= now]
                for key in expired:
                    self._forget(key)
                if not expired:
                    # Woken early by add(); a refresh only moves an expiry later, so it
                    # needs no wake-up: the recomputed deadline covers it.
                    deadline = min((state.expires_at for state in self._states.values()), default=None)
                    self._wake.wait(None if deadline is None else deadline - now)
                    continue
            for user_id, conversation_id in expired:
                try:
                    self._on_expire(user_id, conversation_id)
                except Exception:
                    log.exception("could not announce the end of %s typing in %s", user_id, conversation_id)


# --- who to tell --------------------------------------------------------------------------


def _active_members(actor_id: str, conversation_id: str) -> tuple[str, list[str]]:
    """(actor's display name, the other active members' ids); NotFound unless the actor is
    one. One query."""
    with session_scope() as session:
        rows = session.execute(
            sa.select(col(ConversationMember.user_id), col(User.display_name))
            .join(User, col(col(User.id)) == col(col(ConversationMember.user_id)))
            .where(col(col(ConversationMember.conversation_id)) == conversation_id,
                   col(col(ConversationMember.left_at)).is_(None))
        ).all()
    names = {user_id: name for user_id, name in rows}
    if actor_id not in names:
        raise _conversation_not_found()
    return names[actor_id], [uid for uid in names if uid != actor_id]


def _stopped_event(user_id: str, conversation_id: str, recipients: list[str]) -> Event:
    return Event(USER_STOPPED_TYPING, {"conversationId": conversation_id, "userId": user_id}, recipients)


def _announce_stopped(user_id: str, conversation_id: str) -> None:
    """chat:user_stopped_typing to the other active members (one query)."""
    _user_name, others = _active_members(user_id, conversation_id)
    if others:
        publish_now(_stopped_event(user_id, conversation_id, others))


def _announce_expired(user_id: str, conversation_id: str) -> None:
    try:
        _announce_stopped(user_id, conversation_id)
    except NotFound:  # they left the conversation meanwhile: nobody to tell
        pass


registry = TypingRegistry(on_expire=_announce_expired)


# --- the domain verbs -----------------------------------------------------------------------


def typing_started(actor_id: str, conversation_id: Any, *, owner: str | None = None) -> str:
    """The actor is typing in the conversation (call again every few seconds while they
    are). `owner` names the connection that keeps the state alive (see end_typing_of).
    Returns the conversation id."""
    cid = check_id(conversation_id, "conversationId", _conversation_not_found)
    ratelimit.check_typing(actor_id)
    ttl = config.settings.typing_ttl_seconds
    if registry.refresh(actor_id, cid, owner, ttl):
        return cid
    user_name, others = _active_members(actor_id, cid)
    registry.add(actor_id, cid, owner, ttl)
    if others:
        publish_now(Event(USER_TYPING, {"conversationId": cid, "userId": actor_id, "userName": user_name}, others))
    return cid


def typing_stopped(actor_id: str, conversation_id: Any) -> str:
    """The actor stopped typing (blur, cleared composer). Returns the conversation id."""
    cid = check_id(conversation_id, "conversationId", _conversation_not_found)
    ratelimit.check_typing(actor_id)
    registry.end(actor_id, cid)
    _announce_stopped(actor_id, cid)
    return cid


def end_typing_of(owner: str) -> list[Key]:
    """The connection `owner` is gone: end and announce every state it kept alive.
    Returns the (user, conversation) pairs that ended."""
    ended = registry.end_all_of(owner)
    for user_id, conversation_id in ended:
        _announce_expired(user_id, conversation_id)
    return ended


def ended_by_message(actor_id: str, conversation_id: str, member_ids: Iterable[str]) -> None:
    """A message from the actor was committed: their typing there is over. Announced only
    if this process held the state (nothing to end otherwise); `member_ids` are the
    conversation's active members, so this costs no query."""
    if registry.end(actor_id, conversation_id):
        others = [uid for uid in member_ids if uid != actor_id]
        if others:
            publish_now(_stopped_event(actor_id, conversation_id, others))


def ended_by_leaving(session: Session, conversation_id: str, left_ids: Iterable[str],
                     remaining_ids: Iterable[str]) -> None:
    """Members left or were removed: their typing there ends, announced to the remaining
    members once the change commits."""
    remaining = list(remaining_ids)
    for user_id in left_ids:
        if registry.end(user_id, conversation_id) and remaining:
            publish_on_commit(session, _stopped_event(user_id, conversation_id, remaining))
