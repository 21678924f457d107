"""The event bus: in-process by default, Redis pub/sub when REDIS_URL is set.

Every backend process runs one bus. Publishing delivers to the process's own subscribers at
once; with Redis (RedisBus) the event is also relayed, off the request path, to a channel
every process listens to and fans out locally, so N processes on one Postgres + Redis behave
as one. What Redis loses while it is down or hung is closed by a resync (RESYNC).

Events are data. Both buses carry an event as its JSON text (Event.to_json), and a
process's subscribers get it read back from that text, so what a subscriber sees in a test
on the in-process bus is exactly what it sees in production over Redis: a payload value
that is not plain JSON (a datetime, a set, NaN) raises TypeError/ValueError where the event
is published, in every test, and no subscriber ever holds the publisher's own dicts. The
payload is serialised once, at publishing: subscribers get its text and decode it only if
they read it (Event.payload), and the sockets are sent that text itself.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any
from urllib.parse import urlparse

from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session, SessionTransaction

from utool_chat import config, health

log = logging.getLogger(__name__)

CHANNEL = "utool_chat:events"
# The local bus item that tells every subscriber of a process to catch up (contract: a
# socket gets chat:resync {reason}, a Reflex tab's listener this Event itself).
RESYNC = "resync"
# Events waiting for Redis per process; beyond it they are dropped and a resync follows.
RELAY_QUEUE_MAX = 10_000
# At most this many queued events go to Redis in one round trip (a pipeline of PUBLISHes): a
# send's events are queued together, and one round trip each was a sixth of the backend's CPU
# with two processes. Bounded so that a backlog drained after an outage never makes a
# pipeline that takes longer than REDIS_TIMEOUT_SECONDS to answer.
RELAY_BATCH_MAX = 100
# A Redis that takes longer than this to answer one publish or ping is taken as down.
REDIS_TIMEOUT_SECONDS = 0.5
# How often the relay pings a Redis that is down, and wakes up when idle.
PROBE_SECONDS = 0.25
LISTENER_BACKOFF_MIN, LISTENER_BACKOFF_MAX = 0.05, 1.0


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


# The one codec of payloads: strict (a value JSON cannot carry as itself, a datetime, a set,
# NaN, raises instead of being stringified on the way), compact, and not ASCII-escaped: the
# payload's text is what every socket is sent (realtime/fanout.py splices it into the
# Socket.IO packet), the same characters Reflex's Socket.IO codec wrote when it encoded
# payloads itself.
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))
_DECODER = json.JSONDecoder()
# An event's text is {"name":…,"user_ids":[…],"payload":…}, in this order, built by to_json:
# the payload last, so a reader finds its text without parsing it.
_NAME, _USER_IDS, _PAYLOAD = '{"name":', ',"user_ids":', ',"payload":'


class Event:
    """`name` is the contract's server→client event (e.g. "chat:new_message"), `payload`
    its body, `user_ids` the users whose connections receive it.

    An event read from the bus (from_json) keeps its payload as the JSON text it came in
    (`payload_json`) and decodes it only when `payload` is first read: the socket fan-out
    sends that text as it is, so a message to a group is serialised once, when it is
    published, and parsed by none of the process's subscribers that only pass it on."""

    __slots__ = ("_payload", "_payload_json", "name", "user_ids")

    def __init__(self, name: str, payload: dict[str, Any], user_ids: list[str]) -> None:
        self.name = name
        self.user_ids = user_ids
        self._payload: dict[str, Any] | None = payload
        self._payload_json: str | None = None

    @property
    def payload(self) -> dict[str, Any]:
        if self._payload is None:
            assert self._payload_json is not None
            self._payload = json.loads(self._payload_json)
        return self._payload

    @property
    def payload_json(self) -> str:
        """The payload as JSON text: for an event read from the bus, the text it carried;
        for one built here, encoded now (not kept: its dicts may still change)."""
        if self._payload_json is not None:
            return self._payload_json
        return _ENCODER.encode(self._payload)

    def to_json(self) -> str:
        """The event as JSON text. Strict on purpose: a value JSON cannot carry as itself (a
        datetime, a set, NaN), or text UTF-8 cannot carry (a lone surrogate: no socket or
        Redis could send it), raises ValueError/TypeError here, where it is published."""
        text = f"{_NAME}{_ENCODER.encode(self.name)}{_USER_IDS}{_ENCODER.encode(self.user_ids)}" \
               f"{_PAYLOAD}{self.payload_json}}}"
        if not text.isascii():  # isascii is O(1) on CPython's str; encoding checks the rest
            text.encode()
        return text

    @classmethod
    def from_json(cls, raw: str | bytes) -> Event:
        """The event of a to_json text. Its name and user_ids are parsed, its payload kept
        as text (see the class). Any other layout of the same JSON object (another
        version's, a hand-written test's) is parsed whole."""
        text = raw.decode() if isinstance(raw, bytes) else raw
        if text.startswith(_NAME) and text.endswith("}"):
            try:
                name, end = _DECODER.raw_decode(text, len(_NAME))
                if text.startswith(_USER_IDS, end):
                    user_ids, end = _DECODER.raw_decode(text, end + len(_USER_IDS))
                    if text.startswith(_PAYLOAD, end) and isinstance(name, str) and isinstance(user_ids, list):
                        evt = cls(name, {}, user_ids)
                        evt._payload, evt._payload_json = None, text[end + len(_PAYLOAD):-1]
                        return evt
            except ValueError:  # spaced, say: not to_json's layout after all
                pass
        data = json.loads(text)
        return cls(name=data["name"], payload=data["payload"], user_ids=data["user_ids"])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Event):
            return NotImplemented
        return (self.name, self.user_ids, self.payload) == (other.name, other.user_ids, other.payload)

    __hash__ = None  # type: ignore[assignment]  # mutable, as a dataclass would be

    def __repr__(self) -> str:
        return f"Event(name={self.name!r}, payload={self.payload!r}, user_ids={self.user_ids!r})"


class _Subscription:
    def __init__(self, loop: asyncio.AbstractEventLoop, maxsize: int, user_id: str | None = None,
                 names: frozenset[str] | None = None):
        self.loop = loop
        self.user_id = user_id  # None: every event; else those naming this user, and RESYNC
        self.queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=maxsize)
        self.dropped = 0  # events dropped since this subscriber last caught up
        self.names = names  # only events of these names (None: every event)

    def wants(self, evt: Event) -> bool:
        return self.names is None or evt.name in self.names

    def offer(self, evt: Event) -> None:
        try:
            self.queue.put_nowait(evt)
        except asyncio.QueueFull:  # a stuck consumer must not block everyone else
            if not self.dropped:
                log.warning("event subscriber queue full (%d); dropping events until it catches up, then "
                            "a resync", self.queue.maxsize)
            self.dropped += 1

    def caught_up(self) -> bool:
        """After drops: once the queue is empty again, the subscriber is owed a resync."""
        if self.dropped and self.queue.empty():
            self.dropped = 0
            return True
        return False


class LocalFanout:
    """Delivers events to this process's subscribers, from any thread.

    A subscription for one user (a Reflex tab's listener: subscribe(user_id=...)) is found
    through that user, so an event is handed only to the tabs of the users it names: a
    message to a group of 200, with its 199 unread counts, costs each open tab of someone
    else nothing, where every tab used to be offered every event to drop it. RESYNC goes to
    every subscription; those for everything (the socket fan-out, presence) get every event.
    """

    def __init__(self) -> None:
        self._subs: set[_Subscription] = set()  # all of them
        self._for_everything: set[_Subscription] = set()
        self._by_user: dict[str, set[_Subscription]] = {}
        self._lock = threading.Lock()

    def add(self, sub: _Subscription) -> None:
        with self._lock:
            self._subs.add(sub)
            if sub.user_id is None:
                self._for_everything.add(sub)
            else:
                self._by_user.setdefault(sub.user_id, set()).add(sub)

    def remove(self, sub: _Subscription) -> None:
        with self._lock:
            self._subs.discard(sub)
            self._for_everything.discard(sub)
            if sub.user_id is not None:
                users_subs = self._by_user.get(sub.user_id)
                if users_subs is not None:
                    users_subs.discard(sub)
                    if not users_subs:
                        del self._by_user[sub.user_id]

    def _subscribers_of(self, evt: Event) -> list[_Subscription]:
        with self._lock:
            if evt.name == RESYNC:
                return list(self._subs)
            subs = list(self._for_everything)
            if self._by_user:
                by_user = self._by_user
                # dict.fromkeys: a user named twice still gets the event once
                for uid in evt.user_ids if len(evt.user_ids) < 2 else dict.fromkeys(evt.user_ids):
                    users_subs = by_user.get(uid)
                    if users_subs:
                        subs.extend(users_subs)
            return subs

    def dispatch(self, evt: Event) -> None:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        for sub in self._subscribers_of(evt):
            if sub.loop.is_closed():
                self.remove(sub)
                continue
            # Decided here, on the publisher's thread: a subscriber on another thread's loop
            # (presence's) is not woken, and handed the GIL, for every message it would drop.
            if not sub.wants(evt):
                continue
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
        read from that text, exactly as the Redis bus hands it out."""
        self.fanout.dispatch(Event.from_json(raw))

    async def subscribe(
        self, maxsize: int = 10_000, on_ready: Callable[[], None] | None = None, user_id: str | None = None,
        names: Iterable[str] | None = None,
    ) -> AsyncIterator[Event]:
        """Async iterator of every event published from now on (in this process's view);
        with `user_id`, of those whose user_ids name that user, and every RESYNC; with
        `names`, only of the events of those names (and the resync this subscription is owed
        after an overflow).

        The subscription starts when iteration starts; `on_ready` is called once it is in
        place (for Redis: once the channel is subscribed), so a caller can wait for it
        before promising delivery to anyone.
        """
        sub = _Subscription(asyncio.get_running_loop(), maxsize, user_id, None if names is None else frozenset(names))
        self.fanout.add(sub)
        await self._on_subscribe()
        if on_ready is not None:
            on_ready()
        try:
            while True:
                yield await sub.queue.get()
                if sub.caught_up():
                    yield resync_event("subscriber_overflow")
        finally:
            self.fanout.remove(sub)

    async def _on_subscribe(self) -> None:
        return None

    def close(self) -> None:
        return None


class RedisBus(InProcessBus):
    """Local delivery at once, Redis for the other processes, never on the request path.

    publish: the event goes to this process's subscribers right away (its own sockets and
    tabs never wait for, or depend on, Redis) and is handed to the relay (_Relay: a bounded
    queue drained by one task on its own thread and event loop, with an async Redis client
    and short timeouts), which publishes it to the channel. Each process stamps what it
    publishes with its origin id and ignores its own events when they come back from Redis,
    so nothing is delivered twice locally.

    listen: one thread reads the channel and fans other processes' events out locally,
    reconnecting with backoff when the connection drops.

    Gaps: events lost on the way (Redis down or hung, relay queue full, listener
    reconnecting) are counted, logged once per outage, and closed by a resync: a local
    `resync` event (RESYNC, no user_ids) tells every subscriber of a process to catch up from
    the database (sockets get chat:resync, realtime/fanout.py). A process whose listener
    reconnected resyncs its own subscribers; a process whose relay lost events publishes a
    resync for the others once Redis is back.
    """

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        self.channel = channel_for(url)
        self.origin = uuid.uuid4().hex  # this bus's id on the wire (one per process)
        self.relay = _Relay(self)
        self._listener_settled = threading.Event()  # the first subscribe attempt is over
        self._listener_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = threading.Event()

    def publish_encoded(self, raw: str) -> None:
        self.fanout.dispatch(Event.from_json(raw))
        self.relay.submit(raw)

    def wire(self, raw: str) -> str:
        """What goes on the channel: origin id, a newline, the event's JSON."""
        return f"{self.origin}\n{raw}"

    async def _on_subscribe(self) -> None:
        # The listener runs in its own thread with a blocking pubsub, independent of any
        # event loop (Reflex, Socket.IO and tests each have their own). A subscriber waits
        # for its first attempt only: with Redis down, local delivery works at once and the
        # listener's later connect resyncs everyone (see _listen).
        with self._listener_lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._listen, name="redis-bus", daemon=True)
                self._thread.start()
        if not self._listener_settled.is_set():
            await asyncio.get_running_loop().run_in_executor(None, self._listener_settled.wait, 5)

    def _listen(self) -> None:
        import redis

        backoff = LISTENER_BACKOFF_MIN
        lost_connection = False
        while not self._closed.is_set():
            client = None
            try:
                # Reading with a timeout (not listen(), which blocks forever) gives the health
                # check a turn: it pings an idle connection, so one that was silently dropped
                # raises here and is replaced instead of going deaf.
                client = redis.Redis.from_url(self.url, socket_connect_timeout=2, health_check_interval=5)
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(self.channel)
                self._listener_settled.set()
                backoff = LISTENER_BACKOFF_MIN
                if lost_connection:
                    lost_connection = False
                    health.report_up(health.REDIS)
                    # Whatever other processes published meanwhile never reached us.
                    self.fanout.dispatch(resync_event("bus_reconnected"))
                while not self._closed.is_set():
                    msg = pubsub.get_message(timeout=1.0)
                    if msg is None or msg.get("type") != "message":
                        continue
                    self._deliver_remote(msg["data"])
            except Exception as exc:
                if client is not None:
                    client.close()  # and its pubsub's connection with it
                if self._closed.is_set():
                    return
                if not lost_connection:
                    health.report_down(health.REDIS, exc)
                lost_connection = True
                self._listener_settled.set()
                time.sleep(backoff)
                backoff = min(backoff * 2, LISTENER_BACKOFF_MAX)

    def _deliver_remote(self, data: bytes | str) -> None:
        text = data.decode() if isinstance(data, bytes) else data
        origin, sep, raw = text.partition("\n")
        if not sep:  # not ours to read: no origin line
            log.warning("ignoring a malformed message on %s", self.channel)
            return
        if origin == self.origin:
            return  # delivered locally when it was published
        try:
            evt = Event.from_json(raw)
            # Decoded here, once per process, so a payload text that is not JSON (not our
            # to_json's) is dropped rather than spliced into what sockets are sent.
            if not isinstance(evt.payload, dict):
                raise ValueError("the payload is not a JSON object")
            self.fanout.dispatch(evt)
        except Exception:  # one bad message must not kill the listener
            log.warning("ignoring a malformed event on %s", self.channel, exc_info=True)

    def close(self) -> None:
        """Stop the relay and the listener (tests; a process's bus lives as long as it)."""
        self._closed.set()
        self.relay.stop()


def resync_event(reason: str) -> Event:
    """The local bus item telling every subscriber to catch up from the database."""
    return Event(RESYNC, {"reason": reason}, [])


def take_batch(queue: asyncio.Queue[str], first: str, most: int) -> list[str]:
    """`first` (just taken from `queue`) and what is queued behind it, in order, `most` at
    most in all."""
    batch = [first]
    while len(batch) < most and not queue.empty():
        batch.append(queue.get_nowait())
    return batch


class _Relay:
    """This process's events to Redis: a bounded queue drained by one task on its own thread
    and event loop, so no request, handler or event loop of the app ever waits for Redis.

    While Redis is down or hung (a publish or ping failing or taking longer than
    REDIS_TIMEOUT_SECONDS) the queue keeps filling and the relay pings Redis every
    PROBE_SECONDS; once it answers, the queue drains in order, so an outage shorter than the
    queue (RELAY_QUEUE_MAX events) loses nothing for the other processes. What is queued
    goes out in batches (take_batch: in order, one round trip each). A batch whose publish
    failed or timed out is published again, so after an outage another process may get an
    event twice (clients drop a message they already have by its _id). When the queue is
    full, events are dropped and counted in `lost`; the relay then publishes a resync
    (resync_event) for the other processes as soon as Redis takes it, ahead of the backlog.
    """

    def __init__(self, bus: RedisBus, maxsize: int = RELAY_QUEUE_MAX) -> None:
        self.bus = bus
        self.maxsize = maxsize
        self.lost = 0  # events that never reached Redis, since the process started
        self.published = 0
        self.round_trips = 0  # publishing ones (batches), since the process started
        self._pending: list[str] | None = None  # taken from the queue, not yet accepted by Redis
        self.down = False  # the last call to Redis failed; pinging until it answers
        self._gap = False  # events were lost since the last resync was published
        self._overflowing = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[str] | None = None
        self._task: asyncio.Future[None] | None = None
        self._lock = threading.Lock()

    def submit(self, raw: str) -> None:
        """Queue one event (its JSON) for Redis; returns at once, from any thread."""
        loop = self._ensure_started()
        try:
            loop.call_soon_threadsafe(self._offer, raw)
        except RuntimeError:  # the relay's loop is closed (interpreter exit)
            self.lost += 1

    def _ensure_started(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                ready = threading.Event()

                def run() -> None:
                    loop = asyncio.new_event_loop()
                    self._queue = asyncio.Queue(maxsize=self.maxsize)
                    self._task = loop.create_task(self._run())
                    self._loop = loop
                    ready.set()
                    try:
                        loop.run_until_complete(self._task)
                    except asyncio.CancelledError:
                        pass

                threading.Thread(target=run, name="redis-relay", daemon=True).start()
                ready.wait()
            assert self._loop is not None
            return self._loop

    def _offer(self, raw: str) -> None:
        assert self._queue is not None
        try:
            self._queue.put_nowait(raw)
            self._overflowing = False
        except asyncio.QueueFull:
            if not self._overflowing:
                log.warning("redis relay queue full (%d events): dropping events until it drains; "
                            "the other processes will be told to resync", self.maxsize)
            self._overflowing = True
            self.lost += 1
            self._gap = True

    async def _run(self) -> None:
        import redis.asyncio as aredis

        assert self._queue is not None
        queue = self._queue
        client = aredis.Redis.from_url(self.bus.url, socket_timeout=REDIS_TIMEOUT_SECONDS,
                                       socket_connect_timeout=REDIS_TIMEOUT_SECONDS)
        while True:
            try:
                if self.down:
                    await asyncio.sleep(PROBE_SECONDS)
                    await client.ping()  # type: ignore[misc]  # redis-py types sync and async as one
                    self.down = False
                    health.report_up(health.REDIS)
                if self._gap:
                    self._gap = False
                    try:
                        await client.publish(self.bus.channel, self.bus.wire(resync_event("events_lost").to_json()))
                    except BaseException:
                        self._gap = True
                        raise
                    log.warning("redis relay: %d events lost so far; told the other processes to resync",
                                self.lost)
                if self._pending is None:
                    try:
                        async with asyncio.timeout(PROBE_SECONDS):  # no task and timer per event
                            first = await queue.get()
                    except TimeoutError:
                        continue
                    self._pending = take_batch(queue, first, RELAY_BATCH_MAX)
                pipe = client.pipeline(transaction=False)  # one round trip; each event its own message
                for raw in self._pending:
                    pipe.publish(self.bus.channel, self.bus.wire(raw))
                await pipe.execute()
                self.published += len(self._pending)
                self.round_trips += 1
                self._pending = None
            except asyncio.CancelledError:
                await client.aclose()
                raise
            except Exception as exc:
                if not self.down:
                    health.report_down(health.REDIS, exc)
                self.down = True

    def _all_sent(self) -> bool:
        return self._queue is None or (self._queue.empty() and self._pending is None)

    async def flush(self, within: float) -> bool:
        """Wait (from any event loop) until everything queued was published (the batch being
        published included) or `within` seconds pass."""
        deadline = time.monotonic() + within
        while not self._all_sent() and not self.down:
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.02)
        return self._all_sent()

    def stop(self) -> None:
        loop, task = self._loop, self._task
        if loop is not None and task is not None and not loop.is_closed():
            loop.call_soon_threadsafe(task.cancel)


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
