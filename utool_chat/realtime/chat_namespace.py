"""The `/chat` Socket.IO namespace of contract.md: a thin door over the domain.

Connect with auth={"token": <bearer token>}; a missing or bad token is refused at
connect. Every socket joins `user:<id>`, the room all of that user's events go to, and
`session:<id>` of its login, which a logout of that token disconnects (see fanout.py).
There are no conversation rooms: every event is addressed to users (fanout.py says why),
so chat:join_conversation is an acknowledged membership check and
chat:leave_conversation an acknowledgement, kept for the plan's clients.
Client → server events and their ack data:

    chat:join_conversation    {conversationId}                 -> {conversationId} (+ chat:joined_conversation_ack)
    chat:leave_conversation   {conversationId}                 -> {conversationId}
    chat:send_message         {conversationId, content, contentType?, attachments?, replyTo?, tempId?}
                                                               -> {message, tempId}
    chat:typing_start / chat:typing_end {conversationId}       -> {conversationId}
    chat:mark_messages_read   {conversationId, lastReadMessageId} -> {conversationId, unreadCount, lastReadSeq}
    chat:message_delivered    {conversationId, messageId}      -> {message}
    chat:sync                 {conversationId, afterSeq, limit?} -> {messages (oldest first), hasMore, lastSeq}
    chat:set_presence         {status: "online" | "away"}      -> {status}
    chat:get_presence         {userIds}                        -> {presence: {userId: view}}
    chat:message_info         {messageId}                      -> who received and read your message

Presence: a connected socket makes its user online; chat:set_presence reports "away" (tab
hidden, user idle) and "online" again; its disconnect ends it (domain/presence.py: memory
only here, a background thread does the rest).

Each handler's return value is the contract envelope, sent back when the client asked for
an ack: {"success": true, "data": ...} or {"success": false, "error", "code"}. A failure
also emits chat:error {message, code, conversationId?} to that socket only; it never
carries a conversation's data and never a stack trace.

Domain calls are blocking (SQLAlchemy), so they run in worker threads, except the send,
whose common case the domain stores from the loop (messages.send_message_async). The server runs
handlers inline per socket (async_handlers=False), so one socket's events are handled in
the order it sent them (two quick sends keep their order) while other sockets proceed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from socketio import AsyncNamespace
from socketio.exceptions import ConnectionRefusedError

from utool_chat.domain import accounts, conversations, messages, presence, receipts
from utool_chat.domain import typing as typing_domain
from utool_chat.domain.errors import DomainError, RateLimited, Unauthenticated, Unavailable, ValidationFailed
from utool_chat.domain.text import is_id
from utool_chat.realtime.fanout import BytelessAck, EventFanout, session_room, user_room
from utool_chat.realtime.shutdown import in_flight

log = logging.getLogger(__name__)

Payload = dict[str, Any]
User = dict[str, Any]
Handler = Callable[[str, User, Payload], Awaitable[Any]]


def _error_body(exc: DomainError) -> dict[str, Any]:
    body: dict[str, Any] = {"code": exc.code}
    if isinstance(exc, (RateLimited, Unavailable)):
        body["retryAfter"] = exc.retry_after
    return body


class ChatNamespace(AsyncNamespace):
    def __init__(self, namespace: str = "/chat") -> None:
        super().__init__(namespace)
        self._fanout: EventFanout | None = None
        self._handlers: dict[str, Handler] = {
            "chat:join_conversation": self.join_conversation,
            "chat:leave_conversation": self.leave_conversation,
            "chat:send_message": self.send_message,
            "chat:typing_start": self.typing_start,
            "chat:typing_end": self.typing_end,
            "chat:mark_messages_read": self.mark_messages_read,
            "chat:message_delivered": self.message_delivered,
            "chat:sync": self.sync,
            "chat:set_presence": self.set_presence,
            "chat:get_presence": self.get_presence,
            "chat:message_info": self.message_info,
        }

    # -- connection -------------------------------------------------------------------

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        token = auth.get("token") if isinstance(auth, dict) else None
        if not isinstance(token, str) or not token:
            raise ConnectionRefusedError("Authentication required: connect with auth={'token': '<token>'}.")
        if self._fanout is None:
            self._fanout = EventFanout(self.server, self.namespace)
        # Subscribed before the token is checked: a logout committed after the check is
        # then either remembered by the fanout (checked below) or disconnects this socket.
        await self._fanout.ensure_running()
        try:
            user, session_id = await asyncio.to_thread(accounts.authenticate_session, token)
        except DomainError as exc:
            raise ConnectionRefusedError(exc.message) from None
        except Exception:
            log.exception("authentication failed unexpectedly")
            raise ConnectionRefusedError("Could not authenticate right now; try again.") from None
        await self.save_session(sid, {"user": user, "sessionId": session_id})
        await self.enter_room(sid, user_room(user["_id"]))
        await self.enter_room(sid, session_room(session_id))
        if self._fanout.was_revoked(session_id):  # logged out while this socket was connecting
            raise ConnectionRefusedError("Invalid or expired token.")
        presence.connected(user["_id"], sid)  # memory only: the presence thread tells the others

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        presence.disconnected(sid)
        try:
            await asyncio.to_thread(typing_domain.end_typing_of, sid)  # the socket kept them alive
        except Exception:
            log.exception("could not end the typing of %s", sid)

    # -- dispatch ---------------------------------------------------------------------

    async def trigger_event(self, event: str, *args: Any) -> Any:
        if event in ("connect", "disconnect") and self._called_by_the_server(event, args):
            return await super().trigger_event(event, *args)
        return BytelessAck(await self._envelope(event, *args))

    async def _envelope(self, event: str, *args: Any) -> dict[str, Any]:
        """The contract envelope a client event is acknowledged with (the module's docstring)."""
        sid, data = args[0], args[1:]
        payload = data[0] if data else None
        conversation_id = payload.get("conversationId") if isinstance(payload, dict) else None
        in_flight.enter()
        try:
            if in_flight.closing:  # this process is shutting down: the client retries elsewhere
                raise Unavailable("This server is restarting; retry in a moment.", retry_after=1)
            handler = self._handlers.get(event)
            if handler is None:
                raise ValidationFailed(f"Unknown event {str(event)[:64]!r}.", code="unknown_event")
            if not isinstance(payload, dict):
                raise ValidationFailed(f"{event} expects a JSON object payload.", code="validation_error")
            user = (await self.get_session(sid)).get("user")
            if user is None:
                raise Unauthenticated("Not authenticated.")
            return {"success": True, "data": await handler(sid, user, payload)}
        except DomainError as exc:
            await self._emit_error(sid, exc.message, _error_body(exc), conversation_id)
            return {"success": False, "error": exc.message, **_error_body(exc)}
        except Exception:
            log.exception("chat event %s failed", event)
            body = {"code": "internal_error"}
            await self._emit_error(sid, "Internal error; please retry.", body, conversation_id)
            return {"success": False, "error": "Internal error; please retry.", **body}
        finally:
            in_flight.exit()

    def _called_by_the_server(self, event: str, args: tuple[Any, ...]) -> bool:
        """python-socketio calls on_connect / on_disconnect through trigger_event, but a
        client can emit events named "connect" or "disconnect" too: those must not re-run
        authentication (a second token would swap the socket's identity) or end its typing.
        The server's connect passes the connection's own environ object (a client's payload
        is a freshly decoded dict), and its disconnect comes once the socket is already
        marked as disconnecting. Client-emitted ones fall through to "unknown event"."""
        sid = args[0] if args else None
        if event == "connect":
            return len(args) > 1 and args[1] is self.server.get_environ(sid, self.namespace)
        return not self.server.manager.is_connected(sid, self.namespace)

    async def _emit_error(self, sid: str, message: str, body: dict[str, Any], conversation_id: Any) -> None:
        error: dict[str, Any] = {"message": message, **body}
        # Echo only a well-formed id: the packet is sent as UTF-8 text (Reflex's codec does
        # not escape), so echoing a lone surrogate would make the error itself fail to send.
        if is_id(conversation_id):
            error["conversationId"] = conversation_id
        await self.emit("chat:error", error, to=sid)

    # -- client events ----------------------------------------------------------------

    async def join_conversation(self, sid: str, user: User, payload: Payload) -> dict[str, str]:
        conversation_id = await asyncio.to_thread(
            conversations.confirm_member, user["_id"], payload.get("conversationId")
        )
        await self.emit("chat:joined_conversation_ack", {"conversationId": conversation_id}, to=sid)
        return {"conversationId": conversation_id}

    async def leave_conversation(self, sid: str, user: User, payload: Payload) -> dict[str, str]:
        return {"conversationId": conversations.check_conversation_id(payload.get("conversationId"))}

    async def send_message(self, sid: str, user: User, payload: Payload) -> dict[str, Any]:
        content_type = payload.get("contentType")
        message, _created = await messages.send_message_async(
            user["_id"],
            payload.get("conversationId"),
            payload.get("content"),
            content_type="text" if content_type is None else content_type,
            attachments=payload.get("attachments"),
            reply_to=payload.get("replyTo"),
            temp_id=payload.get("tempId"),
        )
        return {"message": message, "tempId": payload.get("tempId")}

    async def typing_start(self, sid: str, user: User, payload: Payload) -> dict[str, str]:
        # This socket keeps the state alive: its disconnect ends it (on_disconnect).
        conversation_id = await asyncio.to_thread(
            typing_domain.typing_started, user["_id"], payload.get("conversationId"), owner=sid
        )
        return {"conversationId": conversation_id}

    async def typing_end(self, sid: str, user: User, payload: Payload) -> dict[str, str]:
        conversation_id = await asyncio.to_thread(
            typing_domain.typing_stopped, user["_id"], payload.get("conversationId")
        )
        return {"conversationId": conversation_id}

    async def mark_messages_read(self, sid: str, user: User, payload: Payload) -> dict[str, Any]:
        return await asyncio.to_thread(
            messages.mark_read, user["_id"], payload.get("conversationId"), payload.get("lastReadMessageId")
        )

    async def message_delivered(self, sid: str, user: User, payload: Payload) -> dict[str, Any]:
        message = await asyncio.to_thread(
            messages.mark_delivered, user["_id"], payload.get("conversationId"), payload.get("messageId")
        )
        return {"message": message}

    async def sync(self, sid: str, user: User, payload: Payload) -> dict[str, Any]:
        # afterSeq and limit are validated by the domain (non-negative integers).
        found, meta = await asyncio.to_thread(
            messages.messages_since, user["_id"], payload.get("conversationId"), payload.get("afterSeq", 0),
            payload.get("limit", messages.MAX_SYNC_LIMIT),
        )
        return {"messages": found, "hasMore": meta["hasMore"], "lastSeq": meta["lastSeq"]}

    async def set_presence(self, sid: str, user: User, payload: Payload) -> dict[str, str]:
        return presence.report(user["_id"], sid, payload.get("status"))  # memory only: no thread needed

    async def get_presence(self, sid: str, user: User, payload: Payload) -> dict[str, Any]:
        found = await asyncio.to_thread(presence.presence_of, user["_id"], payload.get("userIds"))
        return {"presence": found}

    async def message_info(self, sid: str, user: User, payload: Payload) -> dict[str, Any]:
        return await asyncio.to_thread(receipts.message_info, user["_id"], payload.get("messageId"))
