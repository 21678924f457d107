"""A report from a tab reaches only a presence connection a listener holds (state/tab_presence.py)."""

from __future__ import annotations

from utool_chat.domain import presence
from utool_chat.state import tab_presence


async def test_a_report_for_a_tab_without_a_listener_opens_no_connection():
    await tab_presence.report_tab("user-without-listener", "tab-token-never-connected", "online")
    await tab_presence.report_tab("user-without-listener", "", "away")
    assert presence.tracker.connections.status_of("user-without-listener") is None
