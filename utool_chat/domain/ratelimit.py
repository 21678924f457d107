"""Per-user rate limits on sending messages and on typing events, built on `limits`.

Counters live in memory (one process) or, when REDIS_URL is set, in Redis so that every
backend process counts against the same budget: a client cannot multiply its allowance by
spreading connections over processes. The moving-window strategy is used because it never
lets a burst through at a window boundary (a fixed window allows 2x the limit across one).

    check_send(user_id)    # raises RateLimited(message, retry_after=seconds)
    check_typing(user_id)
    check_login_allowed(username) / record_failed_login(username)
                           # password guessing: failed logins per username (RATE_LIMIT_LOGIN)
    check_upload_allowed(user_id) / check_upload(user_id, size) / record_upload(user_id, size)
                           # files per user (RATE_LIMIT_UPLOAD) and bytes per user per day
                           # (UPLOAD_QUOTA_BYTES_PER_DAY; a fixed daily window, counted in bytes)

While Redis is unreachable the counters fall back to this process's memory (the same limits,
counted per process, starting from zero): a user spreading requests over N processes then gets
at most N times the allowance for the outage, and never a refusal caused by the outage itself.
Redis is known to be down once any call to it failed or timed out (REDIS_TIMEOUT_SECONDS,
utool_chat.health); from then on no request waits for it until the event relay's ping finds it
back, and the counters in Redis are used again.

The limits come from config.settings (RATE_LIMIT_SEND, RATE_LIMIT_TYPING, RATE_LIMIT_LOGIN); tests change
them at run time with `configure(...)` and forget all counters with `reset()`.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter

from utool_chat import config, health
from utool_chat.domain.errors import RateLimited

log = logging.getLogger(__name__)

KEY_PREFIX = "utool_chat_limits"
# A Redis call on a request's path gives up after this: a local Redis answers in well under
# a millisecond, so one that takes this long is hung and the memory counters take over.
REDIS_TIMEOUT_SECONDS = 0.25


@dataclass
class _Limiter:
    send: RateLimitItem
    typing: RateLimitItem
    login: RateLimitItem
    upload: RateLimitItem
    upload_bytes: RateLimitItem
    storage: Storage
    strategy: MovingWindowRateLimiter
    # Byte quotas count thousands of units per hit: a fixed window keeps one counter, where a
    # moving window would keep one entry per unit.
    quota_strategy: FixedWindowRateLimiter
    # The in-process counters used while Redis is unreachable (see the module docstring);
    # the same objects as above when there is no Redis.
    fallback_strategy: MovingWindowRateLimiter
    fallback_quota_strategy: FixedWindowRateLimiter

    @property
    def uses_redis(self) -> bool:
        return isinstance(self.storage, RedisStorage)

    def strategies(self) -> tuple[MovingWindowRateLimiter, FixedWindowRateLimiter]:
        """The counters to use now: Redis's, or memory's while Redis is known to be down."""
        if self.uses_redis and health.is_down(health.REDIS):
            return self.fallback_strategy, self.fallback_quota_strategy
        return self.strategy, self.quota_strategy


_limiter: _Limiter | None = None
_lock = threading.Lock()
_FROM_SETTINGS: str = "<from settings>"  # sentinel: None is a meaningful redis_url (memory)


class _InlineExpiryMemoryStorage(MemoryStorage):
    """limits' MemoryStorage purges expired entries from a timer thread that it starts on a
    hit whenever the previous timer (10 ms) has finished: one new thread per message sent by
    a process that is not busy, ~0.4 ms of CPU each. This one purges on the hit's own thread,
    at most once a second (an expired entry is never counted, so a late purge only delays
    freeing its memory)."""

    _purged_at = 0.0

    def _MemoryStorage__schedule_expiry(self) -> None:  # noqa: N802 - the parent's private hook
        now = time.monotonic()
        if now - self._purged_at >= 1.0:
            self._purged_at = now
            self._MemoryStorage__expire_events()  # type: ignore[attr-defined]


def _make_storage(redis_url: str | None, key_prefix: str) -> Storage:
    if redis_url:
        # Short timeouts: a slow Redis must not stall a send (see _check: we fail open).
        return RedisStorage(redis_url, key_prefix=key_prefix, socket_timeout=REDIS_TIMEOUT_SECONDS,
                            socket_connect_timeout=REDIS_TIMEOUT_SECONDS)
    return _InlineExpiryMemoryStorage()


def configure(send: str | None = None, typing: str | None = None, redis_url: str | None = _FROM_SETTINGS,
              login: str | None = None, upload: str | None = None, upload_bytes_per_day: int | None = None,
              key_prefix: str = KEY_PREFIX) -> None:
    """(Re)build the limiter. Omitted limits come from config.settings; `redis_url` defaults
    to config.settings.redis_url (pass None to force in-memory counters). `key_prefix`
    names the Redis keys (tests give theirs a private one)."""
    global _limiter
    settings = config.settings
    url = settings.redis_url if redis_url is _FROM_SETTINGS else redis_url
    storage = _make_storage(url, key_prefix)
    fallback = _InlineExpiryMemoryStorage() if isinstance(storage, RedisStorage) else storage
    with _lock:
        _limiter = _Limiter(
            send=parse(send or settings.rate_limit_send),
            typing=parse(typing or settings.rate_limit_typing),
            login=parse(login or settings.rate_limit_login),
            upload=parse(upload or settings.rate_limit_upload),
            upload_bytes=parse(f"{upload_bytes_per_day or settings.upload_quota_bytes_per_day}/day"),
            storage=storage,
            strategy=MovingWindowRateLimiter(storage),
            quota_strategy=FixedWindowRateLimiter(storage),
            fallback_strategy=MovingWindowRateLimiter(fallback),
            fallback_quota_strategy=FixedWindowRateLimiter(fallback),
        )


def reset() -> None:
    """Forget every counter (tests). Limits and storage are re-read from config.settings."""
    global _limiter
    with _lock:
        old, _limiter = _limiter, None
    if old is not None and isinstance(old.storage, RedisStorage):
        try:
            old.storage.reset()  # deletes only the keys under its own key prefix
        except Exception:
            log.warning("could not clear rate-limit counters in Redis", exc_info=True)


def _get() -> _Limiter:
    if _limiter is None:
        configure()
    assert _limiter is not None
    return _limiter


def _check(kind: str, user_id: str, what: str, *, count: bool = True) -> None:
    """Count one `kind` event for `user_id` (or, with count=False, only ask whether one more
    would be allowed) and raise RateLimited when it is over the limit."""
    limiter = _get()
    item: RateLimitItem = getattr(limiter, kind)
    strategy = limiter.strategies()[0]
    try:
        allowed = (strategy.hit if count else strategy.test)(item, kind, str(user_id))
    except Exception as exc:  # a Redis outage must not take sending down: count in memory
        _redis_failed(limiter, exc)
        strategy = limiter.fallback_strategy
        allowed = (strategy.hit if count else strategy.test)(item, kind, str(user_id))
    if allowed:
        return
    try:
        reset_at = strategy.get_window_stats(item, kind, str(user_id)).reset_time
        retry_after = max(1, math.ceil(reset_at - time.time()))
    except Exception:
        retry_after = max(1, item.get_expiry())
    raise RateLimited(
        f"Too many {what}: at most {item.amount} per {_describe(item)}. Try again in {retry_after} s.",
        retry_after=retry_after,
    )


def _redis_failed(limiter: _Limiter, exc: Exception) -> None:
    health.report_down(health.REDIS, exc)
    health.watch(health.REDIS, limiter.storage.check)  # RedisStorage.check pings


def _describe(item: RateLimitItem) -> str:
    seconds = item.get_expiry()
    return "second" if seconds == 1 else f"{seconds} seconds"


def uses_redis() -> bool:
    """Whether a check costs a Redis round trip now (then it must not run on an event loop)."""
    limiter = _get()
    return limiter.uses_redis and not health.is_down(health.REDIS)


def check_send(user_id: str) -> None:
    """Count one message send by `user_id`; RateLimited once over RATE_LIMIT_SEND."""
    _check("send", user_id, "messages")


def check_typing(user_id: str) -> None:
    """Count one typing event by `user_id`; RateLimited once over RATE_LIMIT_TYPING."""
    _check("typing", user_id, "typing events")


def check_login_allowed(username: str) -> None:
    """RateLimited once `username` has had RATE_LIMIT_LOGIN failed logins in the window,
    whatever the password now offered: that is what stops password guessing."""
    _check("login", username, "failed logins for this account", count=False)


def record_failed_login(username: str) -> None:
    """Count one failed login for `username` (never raises)."""
    try:
        _check("login", username, "failed logins for this account")
    except RateLimited:
        pass


def check_upload_allowed(user_id: str) -> None:
    """RateLimited when one more file, or one more byte today, would be over the user's
    limits. Counts nothing: doors call it before reading an upload's body."""
    _check("upload", user_id, "uploads", count=False)
    _check_quota(user_id, 1, count=False)


def check_upload(user_id: str, size: int) -> None:
    """Count one stored file of `size` bytes against RATE_LIMIT_UPLOAD, and refuse it when
    its bytes would take the user past today's quota (they are counted by record_upload)."""
    _check_quota(user_id, max(1, size), count=False)
    _check("upload", user_id, "uploads")


def record_upload(user_id: str, size: int) -> None:
    """Count `size` stored bytes against the user's daily quota (never raises)."""
    try:
        _check_quota(user_id, max(1, size), count=True)
    except RateLimited:
        pass


def _check_quota(user_id: str, size: int, *, count: bool) -> None:
    limiter = _get()
    item = limiter.upload_bytes
    strategy = limiter.strategies()[1]
    try:
        allowed = (strategy.hit if count else strategy.test)(item, "upload_bytes", str(user_id), cost=size)
    except Exception as exc:  # as in _check: a Redis outage must not take uploads down
        _redis_failed(limiter, exc)
        strategy = limiter.fallback_quota_strategy
        allowed = (strategy.hit if count else strategy.test)(item, "upload_bytes", str(user_id), cost=size)
    if allowed:
        return
    try:
        retry_after = max(1, math.ceil(strategy.get_window_stats(item, "upload_bytes", str(user_id)).reset_time
                                       - time.time()))
    except Exception:
        retry_after = item.get_expiry()
    raise RateLimited(
        f"Daily upload quota reached ({item.amount:,} bytes per day). Try again in {retry_after} s.",
        retry_after=retry_after,
    )
