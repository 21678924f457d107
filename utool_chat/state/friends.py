"""FriendsState: the /friends page. A thin door onto `utool_chat.domain.friends`.

Lists are kept as flat string dicts (`_person`) so components can render them without
knowing the contract's nested shapes. Changes made elsewhere (a request arriving, being
accepted, a friend removing you) reach an open page through the tab's one live listener
(`state/chat/listener.py`, started by the app shell on every page), which reloads the lists
with `_fetch` / `_apply` and toasts the change (`change_toast`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import reflex as rx
from reflex_base.event import EventSpec

from utool_chat.domain import friends, presence
from utool_chat.domain.errors import DomainError
from utool_chat.events import Event
from utool_chat.state.auth import AuthState
from utool_chat.state.guards import attempt, person_arg, text_arg
from utool_chat.state.handler import handler

SEARCH_LIMIT = 20
# The search box's max_length: the domain's limit (nothing longer can match anyone).
QUERY_MAX_CHARS = friends.MAX_QUERY_CHARS
# What set_query keeps of a longer query (only a hand-made event sends one): enough to
# show the domain's "too long" message, never megabytes.
QUERY_KEEP_CHARS = 4 * QUERY_MAX_CHARS
# The bus events that change what this page shows (published by domain/friends.py).
FRIEND_EVENTS = frozenset({friends.REQUEST_RECEIVED, friends.REQUEST_ACCEPTED, friends.FRIEND_REMOVED})

Person = dict[str, str]
# What _fetch returns: friends, incoming, outgoing, and search results (None: not searched).
Fetched = tuple[list[Person], list[Person], list[Person], list[Person] | None]


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


def search_query_error(query: str) -> str:
    """Why the domain would refuse to search for `query`, as the line shown under the search
    box ("" when it is fine, or blank: a blank box simply shows no results)."""
    if not query.strip():
        return ""
    try:
        friends.check_search_query(query)
    except DomainError as err:
        return _search_error_text(err)
    return ""


def _search_error_text(err: DomainError) -> str:
    # The domain names the HTTP parameter ("q must be …"); the page has a search box.
    return "Search " + err.message.removeprefix("q ") if err.message.startswith("q ") else err.message


def _change_toast(evt: Event, user_id: str) -> EventSpec | None:
    """The toast a live change earns: a request for you, or yours being accepted."""
    if evt.name == friends.REQUEST_RECEIVED:
        return rx.toast.info(f"{evt.payload['request']['from']['displayName']} sent you a friend request.")
    if evt.name == friends.REQUEST_ACCEPTED and evt.payload["request"]["from"]["_id"] == user_id:
        return rx.toast.success(f"{evt.payload['request']['to']['displayName']} accepted your friend request.")
    return None  # a friend removed: the lists show it


class FriendsState(rx.State):
    query: rx.Field[str] = rx.field("")
    query_error: rx.Field[str] = rx.field("")  # why `query` cannot be searched for, shown under the box
    results: rx.Field[list[Person]] = rx.field(default_factory=list)
    searching: rx.Field[bool] = rx.field(False)

    friends: rx.Field[list[Person]] = rx.field(default_factory=list)
    incoming: rx.Field[list[Person]] = rx.field(default_factory=list)
    outgoing: rx.Field[list[Person]] = rx.field(default_factory=list)
    loaded: rx.Field[bool] = rx.field(False)
    # The id (user or request) whose button is working, so only that button spins.
    busy_id: rx.Field[str] = rx.field("")

    @rx.var
    def incoming_count(self) -> int:
        return len(self.incoming)

    # ----- loading -------------------------------------------------------------------

    async def _user_id(self) -> str:
        return (await self.get_state(AuthState)).user_id

    @staticmethod
    def _fetch(user_id: str, query: str | None) -> Fetched:
        """Friends, incoming, outgoing, and the search results for `query` (None: no search)
        (runs in a worker thread: two queries, three with a search)."""
        people = [_person(u) for u in friends.list_friends(user_id)]
        # Friends may always see each other's status (one query).
        seen = presence.presence_of(user_id, [p["id"] for p in people[: presence.MAX_IDS]]) if people else {}
        for person in people:
            person["presence"] = (seen.get(person["id"]) or {}).get("status") or ""
        requests = friends.list_requests(user_id)
        incoming = [_request_row(r, "from") for r in requests["incoming"]]
        outgoing = [_request_row(r, "to") for r in requests["outgoing"]]
        results = FriendsState._search(user_id, query) if query is not None else None
        return people, incoming, outgoing, results

    @staticmethod
    def _search(user_id: str, query: str) -> list[Person]:
        found = friends.search_users(user_id, query, limit=SEARCH_LIMIT)
        return [_person(u, relationship=u["relationship"]) for u in found]

    def _apply(self, fetched: Fetched, query: str | None) -> None:
        """Show what `_fetch(user_id, query)` returned; its results only if the box still
        holds that query (the user may have typed on meanwhile)."""
        self.friends, self.incoming, self.outgoing, results = fetched
        self.loaded = True
        if results is not None and self.query == query:
            self.results = results

    def _searchable_query(self) -> str | None:
        """The query to refresh results for, or None (blank, or refused by the domain)."""
        if self.query_error or not self.query.strip():
            return None
        return self.query

    async def _refresh(self, user_id: str) -> DomainError | None:
        """Reload the lists, and the search results (their buttons depend on the lists).
        Returns what went wrong, if anything (the page then keeps what it showed)."""
        query = self._searchable_query()
        fetched = await attempt("loading the friends page", self._fetch, user_id, query)
        if isinstance(fetched, DomainError):
            return fetched
        self._apply(fetched, query)
        return None

    @handler
    async def load(self):
        """on_load (after AuthState.check_login)."""
        user_id = await self._user_id()
        if not user_id:
            return None
        err = await self._refresh(user_id)
        return rx.toast.error(err.message) if err else None

    @handler
    async def set_query(self, value: Any):
        """The search box changed. A query the domain refuses (too long, a NUL) is kept, so
        the box shows what was typed, and its reason is shown under the box; it is never
        searched for, here or by a refresh."""
        query = text_arg(value, QUERY_KEEP_CHARS)
        if query is None:
            return  # not text: not from the search box
        self.query, self.query_error = query, search_query_error(query)
        user_id = await self._user_id()
        if self._searchable_query() is None or not user_id:
            self.results = []
            return
        self.searching = True
        yield
        results = await attempt("searching for people", self._search, user_id, query)
        self.searching = False
        if isinstance(results, DomainError):
            self.results, self.query_error = [], _search_error_text(results)
        else:
            self.results = results

    # ----- actions ---------------------------------------------------------------------

    async def _act(self, busy_id: str, action: Callable[[str], Any], success: Callable[[Any], str]):
        """Run one domain change for the signed-in user, refresh the lists whatever the
        outcome (a refused change often means the lists were stale), toast the outcome."""
        user_id = await self._user_id()
        if not user_id:
            return
        self.busy_id = busy_id
        yield
        outcome = await attempt("changing a friendship", action, user_id)
        refresh_failed = await self._refresh(user_id)
        self.busy_id = ""
        err = refresh_failed or (outcome if isinstance(outcome, DomainError) else None)
        yield rx.toast.error(err.message) if err else rx.toast.success(success(outcome))

    @handler
    async def send_request(self, person: Any):
        person = person_arg(person, "id")
        if person is None:
            return

        def outcome_text(result: tuple[dict[str, Any], bool]) -> str:
            request, _created = result
            if request["status"] == "accepted":  # they had asked first: now friends
                return f"You and {person['display_name']} are now friends."
            return f"Friend request sent to {person['display_name']}."

        async for update in self._act(
            person["id"], lambda me: friends.send_request(me, user_id=person["id"]), outcome_text
        ):
            yield update

    @handler
    async def accept(self, person: Any):
        person = person_arg(person, "request_id")
        if person is None:
            return
        async for update in self._act(
            person["request_id"],
            lambda me: friends.accept_request(me, person["request_id"]),
            lambda _: f"You and {person['display_name']} are now friends.",
        ):
            yield update

    @handler
    async def decline(self, person: Any):
        person = person_arg(person, "request_id")
        if person is None:
            return
        async for update in self._act(
            person["request_id"],
            lambda me: friends.decline_request(me, person["request_id"]),
            lambda _: f"Declined {person['display_name']}'s request.",
        ):
            yield update

    @handler
    async def remove(self, person: Any):
        person = person_arg(person, "id")
        if person is None:
            return
        async for update in self._act(
            person["id"],
            lambda me: friends.remove_friend(me, person["id"]),
            lambda _: f"Removed {person['display_name']} from your friends.",
        ):
            yield update

    # ----- live updates ----------------------------------------------------------------
    # The tab's one live listener (state/chat/listener.py, started by the app shell on every
    # page) reloads these lists (`_fetch` / `_apply`) when this user's friendships change.

    def _apply_presence(self, update: dict[str, Any]) -> None:
        """A friend's chat:presence_update: their row's status (the event goes only to
        those who may see it)."""
        status = update.get("status") or ""
        if any(p["id"] == update.get("userId") and p.get("presence") != status for p in self.friends):
            self.friends = [{**p, "presence": status} if p["id"] == update.get("userId") else p
                            for p in self.friends]

    @staticmethod
    def change_toast(evt: Event, user_id: str) -> EventSpec | None:
        return _change_toast(evt, user_id)
