"""The event bus: in-process by default, Redis pub/sub when REDIS_URL is set.

Every backend process runs one bus. Publishing goes either straight to local subscribers
(in-process) or to a Redis channel that every process listens to and fans out locally, so
N processes on one Postgres + Redis behave as one.

Events are data. Both buses carry an event as its JSON text, and a process's subscribers
get it decoded from that text, so what a subscriber sees in a test on the in-process bus
is exactly what it sees in production over Redis: a payload value that is not plain JSON
(a datetime, a set, NaN) raises TypeError/ValueError where the event is published, in
every test, and no subscriber ever holds the publisher's own dicts.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlparse

from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session, SessionTransaction

from utool_chat import config

log = logging.getLogger(__name__)

CHANNEL = "utool_chat:events"


def channel_for(url: str) -> str:
    """The pub/sub channel for a Redis URL.

    Redis pub/sub ignores the database index, so the index is folded into the channel name:
    deployments (or test runs) on `redis://host/1` and `redis://host/2` never hear each
    other, just as their rate-limit keys do not mix. REDIS_EVENTS_CHANNEL overrides it.
    """
    override = os.environ.get("REDIS_EVENTS_CHANNEL")
    if override:
        return override
    db = urlparse(url).path.strip("/") or "0"
    return f"{CHANNEL}:{db}"


@dataclass
class Event:
    """`name` is the contract's server→client event (e.g. "chat:new_message"), `payload`
    its body, `user_ids` the users whose connections receive it."""

    name: str
    payload: dict[str, Any]
    user_ids: list[str]

    def to_json(self) -> str:
        """The event as JSON text. Strict on purpose: a value JSON cannot carry as itself
        (a datetime, a set, NaN) raises instead of being stringified on the way."""
        return json.dumps(asdict(self), allow_nan=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str | bytes) -> Event:
        data = json.loads(raw)
        return cls(name=data["name"], payload=data["payload"], user_ids=data["user_ids"])


class _Subscription:
    def __init__(self, loop: asyncio.AbstractEventLoop, maxsize: int):
        self.loop = loop
        self.queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=maxsize)

    def offer(self, evt: Event) -> None:
        try:
            self.queue.put_nowait(evt)
        except asyncio.QueueFull:  # a stuck consumer must not block everyone else
            log.warning("event subscriber queue full; dropping %s", evt.name)


class LocalFanout:
    """Delivers events to this process's subscribers, from any thread."""

    def __init__(self) -> None:
        self._subs: set[_Subscription] = set()
        self._lock = threading.Lock()

    def add(self, sub: _Subscription) -> None:
        with self._lock:
            self._subs.add(sub)

    def remove(self, sub: _Subscription) -> None:
        with self._lock:
            self._subs.discard(sub)

    def dispatch(self, evt: Event) -> None:
        with self._lock:
            subs = list(self._subs)
        for sub in subs:
            if sub.loop.is_closed():
                self.remove(sub)
                continue
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is sub.loop:
                sub.offer(evt)
            else:
                sub.loop.call_soon_threadsafe(sub.offer, evt)


class InProcessBus:
    def __init__(self) -> None:
        self.fanout = LocalFanout()

    def publish(self, evt: Event) -> None:
        self.publish_encoded(evt.to_json())

    def publish_encoded(self, raw: str) -> None:
        """Deliver one event given as its JSON text (Event.to_json): subscribers get it
        decoded, exactly as the Redis bus hands it out."""
        self.fanout.dispatch(Event.from_json(raw))

    async def subscribe(
        self, maxsize: int = 10_000, on_ready: Callable[[], None] | None = None
    ) -> AsyncIterator[Event]:
        """Async iterator of every event published from now on (in this process's view).

        The subscription starts when iteration starts; `on_ready` is called once it is in
        place (for Redis: once the channel is subscribed), so a caller can wait for it
        before promising delivery to anyone.
        """
        sub = _Subscription(asyncio.get_running_loop(), maxsize)
        self.fanout.add(sub)
        await self._on_subscribe()
        if on_ready is not None:
            on_ready()
        try:
            while True:
                yield await sub.queue.get()
        finally:
            self.fanout.remove(sub)

    async def _on_subscribe(self) -> None:
        return None

    def close(self) -> None:
        return None


class RedisBus(InProcessBus):
    """Publishes to a Redis channel; one listener task per process fans events out locally."""

    def __init__(self, url: str) -> None:
        super().__init__()
        import redis

        self.url = url
        self.channel = channel_for(url)
        # Publishing happens right after a commit, inside a request: a hung Redis must cost
        # that request two seconds at most (the event is then lost; clients catch up with
        # chat:sync), never hang it.
        self._redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._listener_started = threading.Event()
        self._listener_lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def publish_encoded(self, raw: str) -> None:
        self._redis.publish(self.channel, raw)

    async def _on_subscribe(self) -> None:
        # The listener runs in its own thread with a blocking pubsub, independent of any
        # event loop (Reflex, Socket.IO and tests each have their own).
        with self._listener_lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._listen, name="redis-bus", daemon=True)
                self._thread.start()
        await asyncio.get_running_loop().run_in_executor(None, self._listener_started.wait, 10)

    def _listen(self) -> None:
        import redis

        while True:
            try:
                # Reading with a timeout (not listen(), which blocks forever) gives the health
                # check a turn every few seconds: it pings an idle connection, so one that was
                # silently dropped raises here and is replaced instead of going deaf.
                client = redis.Redis.from_url(self.url, socket_connect_timeout=2, health_check_interval=15)
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(self.channel)
                self._listener_started.set()
                while True:
                    msg = pubsub.get_message(timeout=5.0)
                    if msg is None or msg.get("type") != "message":
                        continue
                    try:
                        self.fanout.dispatch(Event.from_json(msg["data"]))
                    except Exception:  # one bad message must not kill the listener
                        log.exception("bad event on %s", self.channel)
            except Exception:
                log.exception("redis bus listener lost its connection; reconnecting")
                time.sleep(0.5)


_bus: InProcessBus | None = None
_bus_lock = threading.Lock()


def get_bus() -> InProcessBus:
    global _bus
    with _bus_lock:
        if _bus is None:
            url = config.settings.redis_url
            _bus = RedisBus(url) if url else InProcessBus()
        return _bus


def publish_now(evt: Event) -> None:
    """Publish at once (for state that is never stored, such as typing)."""
    _send(evt.name, evt.to_json())  # not JSON: a bug, raised here rather than swallowed below


def _send(name: str, raw: str) -> None:
    try:
        get_bus().publish_encoded(raw)
    except Exception:  # the change is committed; a bus hiccup must not turn into a 500
        log.exception("could not publish %s", name)


_PENDING = "utool_chat_pending_events"


def publish_on_commit(session: Session, evt: Event) -> None:
    """Queue `evt` until `session` commits. It is encoded now: a payload that is not JSON
    fails the change itself (before anything is committed), and later changes to the dicts
    it was built from cannot alter what is published."""
    session.info.setdefault(_PENDING, []).append((evt.name, evt.to_json()))


@sa_event.listens_for(Session, "after_commit")
def _flush_events(session: Session) -> None:
    for name, raw in session.info.pop(_PENDING, []):
        _send(name, raw)


@sa_event.listens_for(Session, "after_soft_rollback")
def _drop_events(session: Session, previous_transaction: SessionTransaction) -> None:
    if previous_transaction.parent is None:  # the outermost transaction rolled back
        session.info.pop(_PENDING, None)
