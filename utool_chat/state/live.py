"""The event bus as one browser tab's background listener sees it (ChatListenerState, FriendsState).

A page's listener is a Reflex background event started on mount. Every listener needs the
same plumbing, kept here once:

- subscribe to `utool_chat.events.get_bus()` for its user (the bus hands it only events
  naming that user, and RESYNC) and pass on those it wants (`wanted`), or wake up after
  some idle seconds so it can do periodic work;
- end when its tab is closed: Reflex does not cancel background tasks when a tab goes
  away, so an idle listener asks Reflex's token manager whether the tab still has a socket;
- on `accounts.SESSION_REVOKED` for its user, sign the tab out if its own session is the
  one that ended (`sign_out_if_session_ended`) and hand back the redirect to /login;
- survive a failing step: `listener_step` runs one event's work so that an error (a
  DomainError, or a bug) loses that one update, not the tab's live updates for good.

Usage (inside the background event, after claiming the tab's listener slot)::

    async with TabListener(self, user_id, client_token, wanted) as bus:
        while True:
            evt = await bus.next(idle_seconds)
            if bus.sign_out is not None:
                yield bus.sign_out
                return
            ...  # evt is a wanted Event, or None after `idle_seconds` without one
            result = await listener_step(self._apply(evt), "applying " + evt.name, default=None)
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import TypeVar

import reflex as rx
from reflex_base.event import EventSpec

from utool_chat.domain.accounts import SESSION_REVOKED
from utool_chat.domain.errors import DomainError
from utool_chat.events import Event, get_bus
from utool_chat.events.bus import RESYNC
from utool_chat.state.auth import sign_out_if_session_ended

log = logging.getLogger(__name__)
T = TypeVar("T")


async def listener_step(step: Awaitable[T], what: str, default: T) -> T:
    """Await one event's work in a listener; on any error log it and return `default`.

    A background listener is the tab's only source of live updates and nothing restarts
    it until the page is mounted again, so one failing event (say a saved search the
    domain rejects, or a bug) must not end it. Cancellation still ends it."""
    try:
        return await step
    except DomainError as err:
        log.warning("listener: %s failed: %s (%s)", what, err.message, err.code)
    except Exception:
        log.exception("listener: unexpected error while %s", what)
    return default


async def tab_is_connected(client_token: str) -> bool:
    """Whether the tab behind `client_token` still has a socket (the same check
    rx.SharedState makes before updating other tabs; `_token_manager` is private API)."""
    try:
        from reflex_base.registry import RegistrationContext

        namespace = RegistrationContext.get().app.event_namespace
        if namespace is None:
            return True
        return await namespace._token_manager.is_token_connected(client_token)
    except Exception:  # the private API moved: keep listening rather than go deaf
        return True


class TabListener:
    """One tab's subscription to its user's bus events (an async context manager)."""

    def __init__(self, state: rx.State, user_id: str, client_token: str, wanted: Callable[[Event], bool]):
        self._state = state
        self._user_id = user_id
        self._client_token = client_token
        self._wanted = wanted
        self._events: AsyncIterator[Event] | None = None
        self._next_event: asyncio.Future[Event] | None = None
        # Set when this tab's session was logged out: the redirect to yield before ending.
        self.sign_out: EventSpec | None = None

    async def __aenter__(self) -> TabListener:
        # Keyed by the user: the bus hands this tab only its user's events (and RESYNC).
        self._events = get_bus().subscribe(user_id=self._user_id)
        self._next_event = asyncio.ensure_future(anext(self._events))
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        events, pending = self._subscription()
        pending.cancel()
        # Let the cancellation land before closing the generator it is running in.
        await asyncio.gather(pending, return_exceptions=True)
        if isinstance(events, AsyncGenerator):  # the bus's subscribe() is one: end it now
            await events.aclose()

    def _subscription(self) -> tuple[AsyncIterator[Event], asyncio.Future[Event]]:
        if self._events is None or self._next_event is None:
            raise RuntimeError("TabListener is used inside `async with` only")
        return self._events, self._next_event

    async def next(self, idle_seconds: float) -> Event | None:
        """The next wanted event for this user (or a RESYNC), or None once `idle_seconds` pass without
        one (events not wanted do not extend the wait; others' never reach this tab). Also None when this
        tab's session was logged out: `sign_out` is then set."""
        deadline = time.monotonic() + idle_seconds
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            events, pending = self._subscription()
            done, _ = await asyncio.wait({pending}, timeout=remaining)
            if not done:
                return None
            evt = pending.result()
            self._next_event = asyncio.ensure_future(anext(events))
            # The bus's signal that this process lost events (Redis came back, a queue
            # overflowed): for every subscriber, whoever it names; the listener catches up.
            if evt.name == RESYNC:
                return evt
            if evt.name == SESSION_REVOKED:
                self.sign_out = await sign_out_if_session_ended(self._state)
                if self.sign_out is not None:
                    return None
                continue
            if self._wanted(evt):
                return evt

    async def tab_is_connected(self) -> bool:
        return await tab_is_connected(self._client_token)
