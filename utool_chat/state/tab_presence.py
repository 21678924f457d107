"""A browser tab as a presence connection (`domain/presence.py`), for the Reflex door.

A tab's live listener opens the connection when it starts (`connect_tab`) and closes it when
it ends (`disconnect_tab`); in between the browser reports "away" / "online"
(`report_tab`, from PresenceState.report). The owners this process's listeners hold are
remembered here, so a report only ever reaches an open connection: a report for a tab whose
listener has ended would open one that nobody closes. (A tab's events and its background
listener run in the process that holds its websocket, so a set per process is enough.)

Owner: the tab's client token (the tab has one live listener, on every signed-in page:
state/chat/listener.py).
"""

from __future__ import annotations

from utool_chat.domain import presence
from utool_chat.state.guards import attempt

_live_owners: set[str] = set()


async def connect_tab(user_id: str, owner: str) -> None:
    if owner:
        _live_owners.add(owner)
        await attempt("going online", presence.connected, user_id, owner)


async def disconnect_tab(owner: str) -> None:
    if owner:
        _live_owners.discard(owner)
        await attempt("going offline", presence.disconnected, owner)


async def report_tab(user_id: str, client_token: str, status: str) -> None:
    """The tab says it is active ("online") or hidden/idle ("away"): tell its connection,
    if its listener holds one."""
    if client_token and client_token in _live_owners:
        await attempt("reporting presence", presence.report, user_id, client_token, status)
