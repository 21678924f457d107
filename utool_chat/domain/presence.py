"""Presence: who is online, away or offline, and since when they were last seen.

    connected(actor_id, owner)          a connection of the actor opened (a /chat socket, a
                                        browser tab): they are online
    report(actor_id, owner, status)     that connection says "online" or "away" (its tab is
                                        hidden, or the user was idle PRESENCE_IDLE_SECONDS)
    disconnected(owner)                 it closed
    presence_of(viewer_id, user_ids)    {userId: view} for those of `user_ids` the viewer may see
    watchable_ids(viewer_id)            everyone whose presence the viewer may see

A view is {userId, status: "online" | "away" | "offline", lastSeenAt, changedAt}: a user is
online while any of their connections is online, away while all are away, offline without
any. `lastSeenAt` (ISO 8601, null while online) is when they were last online; `changedAt`
is when the status last changed, for ordering updates (a client keeps the newest).

Who sees whom: only friends and people sharing an active conversation — anyone else is
simply absent from every answer and never receives an update. Privacy (settings
showLastSeen): false hides one's lastSeenAt from everyone and shows them nobody's (WhatsApp's
rule); the status itself stays visible.

Every change is announced as chat:presence_update {userId, status, lastSeenAt, changedAt} to
the user's watchers (friends and co-members).

How it works, and why it never puts Redis on a request's path:
- Doors only touch this process's table of connections (`connections`, memory, a lock): no
  I/O in a request or socket handler.
- One background thread per process (started by the first connection) flushes that table to
  the shared store, detects the transitions, writes last_seen_at and publishes the events.
  It wakes at once on a change and every PRESENCE_HEARTBEAT_SECONDS otherwise.
- The store is Redis when REDIS_URL is set (RedisStore: each process's per-user status in a
  hash per user, each process alive through a key it refreshes; one Lua script per change
  decides atomically whether the user's status changed, so exactly one process announces
  each transition, stamped with Redis's clock), else memory (MemoryStore, one process).
  A process that dies stops refreshing its key; within three heartbeats another process
  reaps it and announces its users offline.
- Reads (presence_of) come from this process's mirror of everyone's status, kept current
  by the transitions it announces itself and by the other processes' chat:presence_update
  events on the bus, and reloaded from the store at start — a dict lookup, never Redis.
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import logging
import os
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from utool_chat import config
from utool_chat.db.engine import session_scope
from utool_chat.db.models import ConversationMember, Friendship, User
from utool_chat.domain.errors import ValidationFailed
from utool_chat.domain.serializers import iso
from utool_chat.events import Event, get_bus, publish_on_commit

log = logging.getLogger(__name__)

PRESENCE_UPDATE = "chat:presence_update"
ONLINE, AWAY, OFFLINE = "online", "away", "offline"
REPORTABLE = (ONLINE, AWAY)
MAX_IDS = 200  # users per presence_of question


@dataclass(frozen=True)
class Transition:
    user_id: str
    old: str
    new: str
    at_ms: int  # the store's clock


def _ms_to_datetime(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


# --- this process's connections --------------------------------------------------------


class Connections:
    """owner -> (user, status) for this process's connections, and which users changed
    since the last flush. Memory only, thread-safe: what the doors call."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_owner: dict[str, tuple[str, str]] = {}
        self._dirty: set[str] = set()

    def put(self, owner: str, user_id: str, status: str) -> None:
        with self._lock:
            previous = self._by_owner.get(owner)
            self._by_owner[owner] = (user_id, status)
            self._dirty.add(user_id)
            if previous is not None:
                self._dirty.add(previous[0])

    def drop(self, owner: str) -> bool:
        with self._lock:
            previous = self._by_owner.pop(owner, None)
            if previous is not None:
                self._dirty.add(previous[0])
            return previous is not None

    def status_of(self, user_id: str) -> str | None:
        """This process's view of the user: online / away, None without a connection."""
        with self._lock:
            return self._status_locked(user_id)

    def _status_locked(self, user_id: str) -> str | None:
        statuses = [status for uid, status in self._by_owner.values() if uid == user_id]
        if not statuses:
            return None
        return ONLINE if ONLINE in statuses else AWAY

    def take_changes(self) -> dict[str, str | None]:
        """{user: this process's status now} for every user changed since the last call."""
        with self._lock:
            dirty, self._dirty = self._dirty, set()
            return {uid: self._status_locked(uid) for uid in dirty}

    def give_back(self, changes: Iterable[str]) -> None:
        """A flush failed: these users are flushed again next time."""
        with self._lock:
            self._dirty.update(changes)

    def users(self) -> set[str]:
        with self._lock:
            return {uid for uid, _status in self._by_owner.values()}

    def clear(self) -> None:
        with self._lock:
            self._by_owner.clear()
            self._dirty.clear()


# --- the shared store ---------------------------------------------------------------------


class Store(Protocol):
    def heartbeat(self) -> None: ...
    def set_local(self, user_id: str, status: str | None) -> Transition | None: ...
    def reap(self) -> list[Transition]: ...
    def snapshot(self) -> dict[str, tuple[str, int]]: ...


class MemoryStore:
    """One process: its own statuses are everyone's."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._status: dict[str, tuple[str, int]] = {}

    def heartbeat(self) -> None:
        return None

    def set_local(self, user_id: str, status: str | None) -> Transition | None:
        now = int(time.time() * 1000)
        with self._lock:
            old = self._status.get(user_id, (OFFLINE, 0))[0]
            new = status or OFFLINE
            if old == new:
                return None
            if new == OFFLINE:
                self._status.pop(user_id, None)
            else:
                self._status[user_id] = (new, now)
            return Transition(user_id, old, new, now)

    def reap(self) -> list[Transition]:
        return []

    def snapshot(self) -> dict[str, tuple[str, int]]:
        with self._lock:
            return dict(self._status)

    def clear(self) -> None:
        with self._lock:
            self._status.clear()


# Shared by both scripts: the user's status from the live processes' fields (dead processes'
# fields are dropped on the way); on a change, stores it and returns {old, new, now}.
_RECOMPUTE = """
local function recompute(p, uid)
  local key = p .. ':u:' .. uid
  local fields = redis.call('HGETALL', key)
  local best = 'offline'
  for i = 1, #fields, 2 do
    local f, v = fields[i], fields[i + 1]
    if f ~= '~agg' then
      if redis.call('EXISTS', p .. ':alive:' .. f) == 1 then
        if v == 'online' then best = 'online' elseif best ~= 'online' then best = 'away' end
      else
        redis.call('HDEL', key, f)
      end
    end
  end
  local old = redis.call('HGET', key, '~agg')
  local oldst = 'offline'
  if old then oldst = string.match(old, '^(%a+)') end
  if oldst == best then return false end
  local t = redis.call('TIME')
  local now = tostring(tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
  if best == 'offline' then
    redis.call('DEL', key)
    redis.call('HDEL', p .. ':online', uid)
  else
    redis.call('HSET', key, '~agg', best .. '|' .. now)
    redis.call('HSET', p .. ':online', uid, best .. '|' .. now)
  end
  return {uid, oldst, best, now}
end
"""
_SET_SCRIPT = _RECOMPUTE + """
local p, pid, uid, st = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
if st == '' then
  redis.call('HDEL', p .. ':u:' .. uid, pid)
  redis.call('SREM', p .. ':pu:' .. pid, uid)
else
  redis.call('HSET', p .. ':u:' .. uid, pid, st)
  redis.call('SADD', p .. ':pu:' .. pid, uid)
end
return recompute(p, uid)
"""
_REAP_SCRIPT = _RECOMPUTE + """
local p = ARGV[1]
local out = {}
for _, pid in ipairs(redis.call('SMEMBERS', p .. ':procs')) do
  if redis.call('EXISTS', p .. ':alive:' .. pid) == 0 then
    for _, uid in ipairs(redis.call('SMEMBERS', p .. ':pu:' .. pid)) do
      redis.call('HDEL', p .. ':u:' .. uid, pid)
      local changed = recompute(p, uid)
      if changed then table.insert(out, changed) end
    end
    redis.call('DEL', p .. ':pu:' .. pid)
    redis.call('SREM', p .. ':procs', pid)
  end
end
return out
"""


def _transition(raw: Any) -> Transition | None:
    if not raw:
        return None
    uid, old, new, now = (part.decode() if isinstance(part, bytes) else str(part) for part in raw)
    return Transition(uid, old, new, int(now))


class RedisStore:
    """Every backend process on one Redis: see the module docstring. Keys under `prefix`:
    u:<user> (hash: process id -> status, and ~agg -> "status|ms"), alive:<process> (expires
    unless refreshed), procs (set of process ids), pu:<process> (that process's users),
    online (hash: user -> "status|ms" for everyone not offline)."""

    def __init__(self, url: str, prefix: str, process_id: str | None = None, alive_ms: int | None = None) -> None:
        import redis

        self.prefix = prefix
        self.process_id = process_id or uuid.uuid4().hex
        self.alive_ms = alive_ms or int(3 * config.settings.presence_heartbeat_seconds * 1000)
        self._redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._set = self._redis.register_script(_SET_SCRIPT)
        self._reap = self._redis.register_script(_REAP_SCRIPT)

    def heartbeat(self) -> None:
        pipe = self._redis.pipeline(transaction=False)
        pipe.set(f"{self.prefix}:alive:{self.process_id}", "1", px=self.alive_ms)
        pipe.sadd(f"{self.prefix}:procs", self.process_id)
        pipe.execute()

    def set_local(self, user_id: str, status: str | None) -> Transition | None:
        return _transition(self._set(args=[self.prefix, self.process_id, user_id, status or ""]))

    def reap(self) -> list[Transition]:
        return [t for t in (_transition(raw) for raw in self._reap(args=[self.prefix]) or []) if t]

    def snapshot(self) -> dict[str, tuple[str, int]]:
        out = {}
        found: dict[bytes, bytes] = self._redis.hgetall(f"{self.prefix}:online")  # type: ignore[assignment]
        for uid, value in found.items():
            status, _, ms = value.decode().partition("|")
            out[uid.decode()] = (status, int(ms or 0))
        return out

    def stop(self) -> None:
        """This process is going away: its key goes now, so others reap it at once."""
        self._redis.delete(f"{self.prefix}:alive:{self.process_id}")


def presence_prefix(url: str) -> str:
    override = os.environ.get("REDIS_PRESENCE_PREFIX")
    if override:
        return override
    from urllib.parse import urlparse

    return f"utool_chat:presence:{urlparse(url).path.strip('/') or '0'}"


# --- the service: flushes, announces, mirrors ------------------------------------------


class Presence:
    def __init__(self, store: Store | None = None) -> None:
        self.connections = Connections()
        self._store = store
        self._mirror: dict[str, tuple[str, int]] = {}  # user -> (status, changed ms), offline ones included
        self._mirror_lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._loaded = False
        self.autostart = True  # tests turn it off and flush() themselves

    @property
    def store(self) -> Store:
        if self._store is None:
            url = config.settings.redis_url
            self._store = RedisStore(url, presence_prefix(url)) if url else MemoryStore()
        return self._store

    def reset(self, store: Store | None = None) -> None:
        """Forget everything (tests); `store` replaces the store."""
        self.connections.clear()
        with self._mirror_lock:
            self._mirror.clear()
        self._store = store
        self._loaded = False

    # -- what the doors call (memory only) --

    def changed(self) -> None:
        if self.autostart:
            self.start()
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            loop.call_soon_threadsafe(wake.set)

    def status(self, user_id: str) -> tuple[str, int | None]:
        with self._mirror_lock:
            found = self._mirror.get(user_id)
        return (found[0], found[1]) if found else (OFFLINE, None)

    # -- the background work --

    def flush(self) -> list[Transition]:
        """Write this process's changed users to the store, reap dead processes, announce
        every transition. Runs on the presence thread (tests call it directly)."""
        with self._flush_lock:
            store = self.store
            store.heartbeat()
            if not self._loaded:
                snapshot = store.snapshot()
                with self._mirror_lock:
                    self._mirror = {**snapshot, **self._mirror}
                self._loaded = True
            changes = self.connections.take_changes()
            transitions: list[Transition] = []
            try:
                for user_id, status in changes.items():
                    found = store.set_local(user_id, status)
                    if found is not None:
                        transitions.append(found)
                transitions.extend(store.reap())
            except Exception:
                self.connections.give_back(changes)
                raise
            for transition in transitions:
                self.apply(transition.user_id, transition.new, transition.at_ms)
            if transitions:
                announce_transitions(transitions)
            return transitions

    def apply(self, user_id: str, status: str, at_ms: int) -> None:
        """Update the mirror, keeping the newer of two reports (processes' events may cross)."""
        with self._mirror_lock:
            held = self._mirror.get(user_id)
            if held is not None and held[1] > at_ms:
                return
            # Offline users are kept too, with the time they went: changedAt stays the same
            # in an answer as in the event that announced it.
            self._mirror[user_id] = (status, at_ms)

    def start(self) -> None:
        """Start the presence thread if it is not running. Never waits: a door may call it
        (the first connection does); the thread flushes as soon as it is up."""
        with self._start_lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(target=self._run, name="presence", daemon=True)
            self._thread.start()
            atexit.register(self._leave)

    def _leave(self) -> None:
        """The process is stopping: drop its liveness key so the others reap it at once."""
        stop = getattr(self._store, "stop", None)
        if stop is not None:
            try:
                stop()
            except Exception:
                log.debug("presence: could not withdraw this process", exc_info=True)

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop, self._wake = asyncio.get_running_loop(), asyncio.Event()
        self._wake.set()  # flush at once: connections may have come before the thread
        subscribed = asyncio.Event()
        mirror = asyncio.create_task(self._follow_the_bus(subscribed))
        try:
            await asyncio.wait_for(subscribed.wait(), 10)
        except TimeoutError:
            log.warning("presence: the event bus did not answer; statuses of other processes may lag")
        failing = False
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), config.settings.presence_heartbeat_seconds)
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                await self._loop.run_in_executor(None, self.flush)
                if failing:
                    log.warning("presence works again")
                failing = False
            except Exception as exc:  # Redis or the database is down: retry, never crash
                if not failing:
                    log.warning("presence flush failed (%s); retrying every %s s", exc,
                                config.settings.presence_heartbeat_seconds)
                failing = True
                await asyncio.sleep(1)
            if mirror.done():
                mirror = asyncio.create_task(self._follow_the_bus(asyncio.Event()))

    async def _follow_the_bus(self, subscribed: asyncio.Event) -> None:
        """Other processes' transitions, as their chat:presence_update events. Only those
        are handed to this thread's loop: every other event (each message's) would wake
        this thread, and take the GIL from the one serving the sockets, to be dropped."""
        try:
            async for evt in get_bus().subscribe(on_ready=subscribed.set, names=(PRESENCE_UPDATE,)):
                if evt.name == PRESENCE_UPDATE:
                    payload = evt.payload
                    at = payload.get("changedAt")
                    at_ms = int(datetime.fromisoformat(at).timestamp() * 1000) if isinstance(at, str) else 0
                    self.apply(payload.get("userId", ""), payload.get("status", OFFLINE), at_ms)
        except Exception:
            log.exception("presence: lost the event bus; resubscribing")
            await asyncio.sleep(1)


tracker = Presence()


# --- who may see whom ---------------------------------------------------------------------


@functools.cache
def _member_aliases() -> tuple[Any, Any]:
    """The two aliases of conversation_members _shares_a_conversation joins, made once: an
    alias is a few hundred objects in reference cycles (columns, comparators, adapters), which
    only the garbage collector frees; made per query, every presence transition (each socket
    connecting) left them behind, and 5,000 sockets connecting left collections of tens of
    thousands of objects."""
    return aliased(ConversationMember), aliased(ConversationMember)


def _shares_a_conversation(viewer: Any, subject: Any) -> Any:
    mine, theirs = _member_aliases()
    return sa.exists().where(
        col(mine.user_id) == viewer, col(mine.left_at).is_(None),
        col(theirs.conversation_id) == col(mine.conversation_id), col(theirs.user_id) == subject,
        col(theirs.left_at).is_(None),
    )


def _is_friend(viewer: Any, subject: Any) -> Any:
    return sa.exists().where(col(Friendship.user_id) == viewer, col(Friendship.friend_id) == subject)


def _view(user_id: str, last_seen_at: datetime | None, show: bool) -> dict[str, Any]:
    status, at_ms = tracker.status(user_id)
    return {
        "userId": user_id,
        "status": status,
        "lastSeenAt": iso(last_seen_at) if show and status != ONLINE else None,
        "changedAt": iso(_ms_to_datetime(at_ms)) if at_ms else None,
    }


# --- the domain verbs -----------------------------------------------------------------------


def _check_owner(owner: Any) -> str:
    if not isinstance(owner, str) or not owner:
        raise ValidationFailed("A presence owner is a connection id.", code="validation_error")
    return owner


def connected(actor_id: str, owner: str) -> None:
    tracker.connections.put(_check_owner(owner), actor_id, ONLINE)
    tracker.changed()


def report(actor_id: str, owner: str, status: Any) -> dict[str, str]:
    """The connection's user is "online" (active) or "away" (tab hidden, or idle for
    config.settings.presence_idle_seconds). Returns {status}."""
    if status not in REPORTABLE:
        raise ValidationFailed('status must be "online" or "away".', code="invalid_status")
    tracker.connections.put(_check_owner(owner), actor_id, status)
    tracker.changed()
    return {"status": status}


def disconnected(owner: str) -> None:
    if isinstance(owner, str) and tracker.connections.drop(owner):
        tracker.changed()


def presence_of(viewer_id: str, user_ids: Any) -> dict[str, dict[str, Any]]:
    """{userId: view} for the ids the viewer may see (friends, co-members, themselves);
    every other id is simply absent, exactly like an id that names nobody. One query."""
    if not isinstance(user_ids, list) or not all(isinstance(uid, str) for uid in user_ids):
        raise ValidationFailed("userIds must be a list of user ids.", code="validation_error")
    if len(user_ids) > MAX_IDS:
        raise ValidationFailed(f"Ask for at most {MAX_IDS} users at a time.", code="validation_error")
    from utool_chat.domain.text import is_id

    wanted = sorted({uid for uid in user_ids if is_id(uid)})
    if not wanted:
        return {}
    viewer_shows = sa.select(col(User.show_last_seen)).where(col(User.id) == viewer_id).scalar_subquery()
    with session_scope() as session:
        rows = session.execute(
            sa.select(col(User.id), col(User.last_seen_at), col(User.show_last_seen), viewer_shows)
            .where(col(User.id).in_(wanted),
                   sa.or_(col(User.id) == viewer_id, _is_friend(viewer_id, col(User.id)),
                          _shares_a_conversation(viewer_id, col(User.id))))
        ).all()
    return {uid: _view(uid, seen, bool(shows and (uid == viewer_id or mine))) for uid, seen, shows, mine in rows}


def watchable_ids(viewer_id: str) -> list[str]:
    """Everyone whose presence the viewer may see: friends and active co-members. One query."""
    with session_scope() as session:
        return sorted(session.execute(
            sa.select(col(User.id)).where(
                col(User.id) != viewer_id,
                sa.or_(_is_friend(viewer_id, col(User.id)), _shares_a_conversation(viewer_id, col(User.id))))
        ).scalars())


def _watchers(session: Session, user_id: str) -> tuple[bool, datetime | None, list[tuple[str, bool]]]:
    """(the user's showLastSeen, last_seen_at, [(watcher, watcher's showLastSeen)]): friends
    and active co-members. Two queries."""
    me = session.execute(sa.select(col(User.show_last_seen), col(User.last_seen_at))
                         .where(col(User.id) == user_id)).first()
    if me is None:
        return False, None, []
    watchers = session.execute(
        sa.select(col(User.id), col(User.show_last_seen)).where(
            col(User.id) != user_id,
            sa.or_(_is_friend(user_id, col(User.id)), _shares_a_conversation(user_id, col(User.id))))
    ).all()
    return bool(me[0]), me[1], [(uid, bool(shows)) for uid, shows in watchers]


def _publish(session: Session, user_id: str, status: str, at_ms: int | None) -> None:
    """Queue chat:presence_update to the user's watchers for when `session` commits: those
    who hide their own last seen (and everyone, if the user hides theirs) get lastSeenAt
    null. One event at least, even with nobody watching: the other processes' mirrors follow
    these events."""
    shows, seen_at, watchers = _watchers(session, user_id)
    base = {"userId": user_id, "status": status,
            "changedAt": iso(_ms_to_datetime(at_ms)) if at_ms else None}
    visible = iso(seen_at) if status != ONLINE else None
    groups: dict[bool, list[str]] = {True: [], False: []}
    for uid, watcher_shows in watchers:
        groups[shows and watcher_shows].append(uid)
    events = [Event(PRESENCE_UPDATE, {**base, "lastSeenAt": visible if sees else None}, ids)
              for sees, ids in groups.items() if ids] or [Event(PRESENCE_UPDATE, {**base, "lastSeenAt": None}, [])]
    for evt in events:
        publish_on_commit(session, evt)


def announce_transitions(transitions: Sequence[Transition]) -> None:
    """Store last_seen_at for users who stopped being online and tell their watchers (the
    events go out once that is committed)."""
    with session_scope() as session:
        for t in transitions:
            if t.old == ONLINE and t.new != ONLINE:
                session.execute(sa.update(User).where(col(User.id) == t.user_id)
                                .values(last_seen_at=_ms_to_datetime(t.at_ms)))
        for t in transitions:
            _publish(session, t.user_id, t.new, t.at_ms)


def announce_on_commit(session: Session, user_id: str) -> None:
    """Re-announce the user's presence once `session` commits (their showLastSeen changed)."""
    session.flush()
    status, at_ms = tracker.status(user_id)
    _publish(session, user_id, status, at_ms)
