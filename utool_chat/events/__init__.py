"""Domain events: what happened, for whom. Published only after the change is committed.

    from utool_chat.events import Event, publish_on_commit, publish_now

`publish_on_commit(session, event)` queues the event on the SQLAlchemy session; it goes to
the bus when that session's transaction commits and is dropped on rollback (nobody hears
about a row that a rollback removed). `publish_now` is for state that is never stored
(typing). Consumers (the Socket.IO namespace, the Reflex states) call `get_bus().subscribe()`.
Payloads are plain JSON: both buses carry events as JSON text (see bus.py).
"""

from utool_chat.events.bus import Event, get_bus, publish_now, publish_on_commit

__all__ = ["Event", "get_bus", "publish_now", "publish_on_commit"]
