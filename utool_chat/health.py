"""Whether this process can reach its dependencies (the database, Redis) right now.

Every part that talks to a dependency reports what it saw: `report_down(name, exc)` after a
failure, `report_up(name)` after a success. The state changes at most twice per outage, and
each change is ONE log line ("redis unavailable: ..." / "redis is back after 3.2 s"), so an
outage never floods the log with a traceback per request.

Readers ask `is_down(name)`: the rate limiter uses it to count in memory instead of waiting for
a Redis that is known to be gone, and the doors answer 503 `unavailable` (domain Unavailable)
with `retry_after()` seconds.

    DATABASE, REDIS        the dependency names
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger("utool_chat.health")

DATABASE = "database"
REDIS = "redis"

# What a client is told to wait before retrying (Retry-After, retryAfter) during an outage.
RETRY_AFTER_SECONDS = 2


@dataclass
class _State:
    down_since: float | None = None  # time.monotonic() of the first failure of this outage
    failures: int = 0  # failures reported during this outage


_states: dict[str, _State] = {}
_lock = threading.Lock()


def _state(name: str) -> _State:
    return _states.setdefault(name, _State())


def report_down(name: str, exc: BaseException | str | None = None) -> None:
    """A call to `name` just failed. Logs one line when this starts an outage."""
    with _lock:
        state = _state(name)
        state.failures += 1
        starts = state.down_since is None
        if starts:
            state.down_since = time.monotonic()
    if starts:
        detail = f"{type(exc).__name__}: {exc}" if isinstance(exc, BaseException) else (exc or "no answer")
        log.warning("%s unavailable: %s", name, str(detail).splitlines()[0][:300] if detail else "")


def report_up(name: str) -> None:
    """A call to `name` just succeeded. Logs one line when this ends an outage."""
    with _lock:
        state = _states.get(name)
        if state is None or state.down_since is None:
            return
        lasted, failures = time.monotonic() - state.down_since, state.failures
        state.down_since, state.failures = None, 0
    log.warning("%s is back after %.1f s (%d failed calls meanwhile)", name, lasted, failures)


# The probe of each dependency being watched (one thread per dependency, using the latest).
_probes: dict[str, Callable[[], object]] = {}
PROBE_SECONDS = 0.25


def watch(name: str, probe: Callable[[], object]) -> None:
    """While `name` is down, call `probe` every PROBE_SECONDS in a background thread until it
    returns without raising (and not False), then report_up(name). Readers that stop using a
    dependency while it is down (the rate limiter) thus learn that it is back without a
    request paying for it."""
    with _lock:
        running = name in _probes
        _probes[name] = probe
    if running:
        return

    def run() -> None:
        try:
            while is_down(name):
                time.sleep(PROBE_SECONDS)
                with _lock:
                    current = _probes.get(name)
                if current is None:
                    return
                try:
                    if current() is False:
                        continue
                except Exception:
                    continue
                report_up(name)
        finally:
            with _lock:
                if _probes.get(name) is probe or name in _probes:
                    _probes.pop(name, None)

    threading.Thread(target=run, name=f"health-{name}", daemon=True).start()


def is_down(name: str) -> bool:
    with _lock:
        state = _states.get(name)
        return state is not None and state.down_since is not None


def down_for(name: str) -> float | None:
    """Seconds since `name` went away, or None while it is up."""
    with _lock:
        state = _states.get(name)
        if state is None or state.down_since is None:
            return None
        return time.monotonic() - state.down_since


def retry_after() -> int:
    return RETRY_AFTER_SECONDS


def reset() -> None:
    """Forget every outage (tests)."""
    with _lock:
        _states.clear()
        _probes.clear()
