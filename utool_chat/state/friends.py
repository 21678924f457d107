"""FriendsState: the /friends page. A thin door onto `utool_chat.domain.friends`.

Lists are kept as flat string dicts (`_person`) so components can render them without
knowing the contract's nested shapes. Changes made elsewhere (a request arriving, being
accepted, a friend removing you) reach an open page through `listen_for_changes`, a
background task that follows this user's events on the bus through `state.live.TabListener`
(which also sends the tab to /login when its session is logged out elsewhere).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import reflex as rx

from utool_chat.domain import friends
from utool_chat.domain.errors import DomainError
from utool_chat.events import Event
from utool_chat.state.auth import AuthState
from utool_chat.state.live import TabListener

SEARCH_LIMIT = 20
# The bus events that change what this page shows (published by domain/friends.py).
FRIEND_EVENTS = frozenset({friends.REQUEST_RECEIVED, friends.REQUEST_ACCEPTED, friends.FRIEND_REMOVED})
# How often an idle listener checks that its tab is still open and on this page.
LISTENER_IDLE_CHECK_SECONDS = 20.0

Person = dict[str, str]


def _person(user: dict[str, Any], **extra: str) -> Person:
    return {
        "id": user["_id"],
        "username": user["username"],
        "display_name": user["displayName"],
        "avatar": user.get("avatar") or "",
        **extra,
    }


def _request_row(request: dict[str, Any], side: str) -> Person:
    """A pending request as the other person plus the request id."""
    return _person(request[side], request_id=request["_id"])


def _change_toast(evt: Event, user_id: str):
    """The toast a live change earns: a request for you, or yours being accepted."""
    if evt.name == friends.REQUEST_RECEIVED:
        return rx.toast.info(f"{evt.payload['request']['from']['displayName']} sent you a friend request.")
    if evt.name == friends.REQUEST_ACCEPTED and evt.payload["request"]["from"]["_id"] == user_id:
        return rx.toast.success(f"{evt.payload['request']['to']['displayName']} accepted your friend request.")
    return None  # a friend removed: the lists show it


class FriendsState(rx.State):
    query: str = ""
    results: list[Person] = []
    searching: bool = False

    friends: list[Person] = []
    incoming: list[Person] = []
    outgoing: list[Person] = []
    loaded: bool = False
    # The id (user or request) whose button is working, so only that button spins.
    busy_id: str = ""

    # The user whose bus listener runs for this tab ("" when none): one listener per tab.
    _listener_user_id: str = ""
    _on_page: bool = False

    @rx.var
    def incoming_count(self) -> int:
        return len(self.incoming)

    # ----- loading -------------------------------------------------------------------

    async def _user_id(self) -> str:
        return (await self.get_state(AuthState)).user_id

    @staticmethod
    def _fetch(user_id: str) -> tuple[list[Person], list[Person], list[Person]]:
        """Friends, incoming, outgoing (runs in a worker thread: two queries)."""
        people = [_person(u) for u in friends.list_friends(user_id)]
        requests = friends.list_requests(user_id)
        incoming = [_request_row(r, "from") for r in requests["incoming"]]
        outgoing = [_request_row(r, "to") for r in requests["outgoing"]]
        return people, incoming, outgoing

    @staticmethod
    def _search(user_id: str, query: str) -> list[Person]:
        found = friends.search_users(user_id, query, limit=SEARCH_LIMIT)
        return [_person(u, relationship=u["relationship"]) for u in found]

    def _apply(self, lists: tuple[list[Person], list[Person], list[Person]]) -> None:
        self.friends, self.incoming, self.outgoing = lists
        self.loaded = True

    async def _refresh(self, user_id: str) -> None:
        """Reload the lists, and the search results (their buttons depend on the lists)."""
        self._apply(await asyncio.to_thread(self._fetch, user_id))
        if self.query.strip():
            self.results = await asyncio.to_thread(self._search, user_id, self.query)

    @rx.event
    async def load(self):
        """on_load (after AuthState.check_login)."""
        user_id = await self._user_id()
        if not user_id:
            return
        self._on_page = True
        try:
            await self._refresh(user_id)
        except DomainError as err:
            return rx.toast.error(err.message)

    @rx.event
    async def set_query(self, value: str):
        self.query = value
        user_id = await self._user_id()
        if not value.strip() or not user_id:
            self.results = []
            return
        self.searching = True
        yield
        try:
            self.results = await asyncio.to_thread(self._search, user_id, value)
        except DomainError as err:
            self.results = []
            yield rx.toast.error(err.message)
        finally:
            self.searching = False

    # ----- actions ---------------------------------------------------------------------

    async def _act(self, busy_id: str, action: Callable[[str], Any], success: Callable[[Any], str]):
        """Run one domain change for the signed-in user, toast the outcome, refresh."""
        user_id = await self._user_id()
        if not user_id:
            return
        self.busy_id = busy_id
        yield
        try:
            outcome = await asyncio.to_thread(action, user_id)
        except DomainError as err:
            yield rx.toast.error(err.message)
        else:
            yield rx.toast.success(success(outcome))
        finally:
            self.busy_id = ""
        try:
            await self._refresh(user_id)
        except DomainError as err:
            yield rx.toast.error(err.message)

    @rx.event
    async def send_request(self, person: Person):
        def outcome_text(result: tuple[dict[str, Any], bool]) -> str:
            request, _created = result
            if request["status"] == "accepted":  # they had asked first: now friends
                return f"You and {person['display_name']} are now friends."
            return f"Friend request sent to {person['display_name']}."

        async for update in self._act(
            person["id"], lambda me: friends.send_request(me, user_id=person["id"]), outcome_text
        ):
            yield update

    @rx.event
    async def accept(self, person: Person):
        async for update in self._act(
            person["request_id"],
            lambda me: friends.accept_request(me, person["request_id"]),
            lambda _: f"You and {person['display_name']} are now friends.",
        ):
            yield update

    @rx.event
    async def decline(self, person: Person):
        async for update in self._act(
            person["request_id"],
            lambda me: friends.decline_request(me, person["request_id"]),
            lambda _: f"Declined {person['display_name']}'s request.",
        ):
            yield update

    @rx.event
    async def remove(self, person: Person):
        async for update in self._act(
            person["id"],
            lambda me: friends.remove_friend(me, person["id"]),
            lambda _: f"Removed {person['display_name']} from your friends.",
        ):
            yield update

    # ----- live updates ----------------------------------------------------------------

    @rx.event
    def leave_page(self):
        """on_unmount: the listener stops at its next wake-up."""
        self._on_page = False

    @rx.event(background=True)
    async def listen_for_changes(self):
        """on_mount: follow the bus and reload when this user's friendships change.

        One listener per tab: `_listener_user_id` is state of the tab, so a second mount
        (or a reload, which keeps the tab's state) finds it set and returns. The listener
        ends when the user leaves the page, signs out, or closes the tab."""
        async with self:
            auth = await self.get_state(AuthState)
            user_id = auth.user_id
            if not user_id or self._listener_user_id == user_id:
                return
            self._listener_user_id = user_id
            self._on_page = True
            client_token = self.router.session.client_token

        async def still_wanted() -> bool:
            async with self:
                auth = await self.get_state(AuthState)
                return self._on_page and auth.user_id == user_id

        try:
            async with TabListener(self, user_id, client_token, lambda evt: evt.name in FRIEND_EVENTS) as bus:
                while True:
                    evt = await bus.next(LISTENER_IDLE_CHECK_SECONDS)
                    if bus.sign_out is not None:
                        yield bus.sign_out
                        return
                    if evt is None:
                        if not await bus.tab_is_connected() or not await still_wanted():
                            return
                        continue
                    if not await still_wanted():
                        return
                    lists = await asyncio.to_thread(self._fetch, user_id)
                    query = self.query
                    results = await asyncio.to_thread(self._search, user_id, query) if query.strip() else None
                    async with self:
                        self._apply(lists)
                        if results is not None and self.query == query:
                            self.results = results
                    toast = _change_toast(evt, user_id)
                    if toast is not None:
                        yield toast
        finally:
            async with self:
                if self._listener_user_id == user_id:
                    self._listener_user_id = ""
