"""The serving stack alone, for bench/stack_ceiling.py: python-socketio, configured
as utool_chat/realtime/server.py configures the app's (ASGI, websocket only, handlers inline
per socket), with a /chat namespace whose chat:send_message touches no database: it emits a
chat:new_message of a real message's size to the peer's room and acknowledges. What this
serves per second is the most the app could serve on the same stack, whatever its domain
and database cost.

A socket connects with auth={"token": "<me>:<peer>"}.
"""

from __future__ import annotations

from typing import Any

import socketio

sio = socketio.AsyncServer(async_mode="asgi", transports=["websocket"], allow_upgrades=False,
                           async_handlers=False, cors_allowed_origins="*")

# A served message as the app sends it (serializers.message_out), ~700 bytes of JSON.
MESSAGE_TEMPLATE: dict[str, Any] = {
    "_id": "0" * 32, "conversationId": "1" * 32, "seq": 0,
    "sender": {"_id": "2" * 32, "username": "sender", "displayName": "Sender", "avatar": None},
    "content": "", "contentHtml": "", "snippet": "", "mentions": [], "mentionsEveryone": False,
    "contentType": "text", "notice": None, "attachments": [], "replyTo": None, "readBy": [], "reactions": [],
    "status": "sent", "isEdited": False, "isDeleted": False, "editableUntil": "2026-12-01T00:15:00Z",
    "tempId": None, "createdAt": "2026-12-01T00:00:00Z", "updatedAt": "2026-12-01T00:00:00Z",
}


class BareChat(socketio.AsyncNamespace):
    def __init__(self) -> None:
        super().__init__("/chat")
        self.seq = 0

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        me, peer = str(auth["token"]).split(":")
        await self.save_session(sid, {"peer": peer})
        await self.enter_room(sid, f"user:{me}")

    async def trigger_event(self, event: str, *args: Any) -> Any:
        if event != "chat:send_message":
            return await super().trigger_event(event, *args)
        sid, payload = args[0], args[1]
        peer = (await self.get_session(sid))["peer"]
        self.seq += 1
        text = payload.get("content", "")
        message = {**MESSAGE_TEMPLATE, "seq": self.seq, "content": text, "contentHtml": f"<p>{text}</p>",
                   "snippet": text, "tempId": payload.get("tempId")}
        event_payload = {"conversationId": payload.get("conversationId"), "message": message,
                         "tempId": payload.get("tempId")}
        await self.emit("chat:new_message", event_payload, to=f"user:{peer}")
        return {"success": True, "data": {"message": message, "tempId": payload.get("tempId")}}


sio.register_namespace(BareChat())
app = socketio.ASGIApp(sio, socketio_path="_event")
