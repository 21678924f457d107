"""ComposerState: the message box — its submit, the reply or edit target, pending links, typing.

Uploaded files are the browser's until a message takes them (state/chat/attachments.py).

The draft's text lives in the browser's textarea (`#chat-input`, uncontrolled: no round trip
per keystroke); the form sends it on submit. A new message or reply goes to the outbox
(OutboxState); in edit mode the text replaces the message being edited.
"""

from __future__ import annotations

import json
from typing import Any

import reflex as rx

from utool_chat.domain import messages
from utool_chat.domain import typing as typing_signals
from utool_chat.domain.errors import DomainError
from utool_chat.domain.formatting import attachments_label
from utool_chat.domain.messages import MAX_ATTACHMENTS
from utool_chat.state.chat.attachments import UPLOADS_FIELD, ready_uploads
from utool_chat.state.chat.outbox import Draft, OutboxState
from utool_chat.state.chat.store import ChatState
from utool_chat.state.chat_slice import update_message
from utool_chat.state.chat_views import (
    AttachmentView,
    attachment_from_url,
    attachment_view,
    display_name,
    is_web_url,
    snippet,
)
from utool_chat.state.guards import attempt, flag_arg, form_arg, key_arg, text_arg
from utool_chat.state.handler import handler

MAX_URL_CHARS = 2048
CLEAR_INPUT = rx.call_script("window.utoolChat && window.utoolChat.clearInput()")


class ComposerState(ChatState):
    reply_to_id: rx.Field[str] = rx.field("")
    reply_to_name: rx.Field[str] = rx.field("")
    reply_to_snippet: rx.Field[str] = rx.field("")
    editing_id: rx.Field[str] = rx.field("")
    editing_snippet: rx.Field[str] = rx.field("")
    pending_attachments: rx.Field[list[AttachmentView]] = rx.field(default_factory=list)
    attach_open: rx.Field[bool] = rx.field(False)
    sending: rx.Field[bool] = rx.field(False)  # an edit is being saved

    # The conversation this tab last announced typing in ("" after it stopped): where
    # stop_typing takes it back, even if the user has opened another conversation since.
    _typing_conversation: str = ""

    def _reset(self) -> None:
        """A fresh composer (another conversation was opened, or the message went out)."""
        self.reply_to_id = self.reply_to_name = self.reply_to_snippet = ""
        self.editing_id = self.editing_snippet = ""
        self.pending_attachments = []
        self.attach_open = False

    def _message(self, message_id: Any) -> dict[str, Any] | None:
        """The open conversation's message with this id (None for anything else, including
        an argument that is not an id at all)."""
        key = key_arg(message_id)
        return self._store()["messages"]["entities"].get(self.current_id, {}).get(key) if key else None

    # ----- submit --------------------------------------------------------------------------

    @handler
    async def post_new_message(self, form: dict[str, Any]):
        """postNewMessage, from the composer form: a new message or reply (or, in edit
        mode, the edited text)."""
        me = await self._me()
        cid = self.current_id
        content = text_arg(form_arg(form).get("content", ""))
        if not me or not cid or content is None:
            return
        if self.editing_id:
            async for update in self._save_edit(me, content):
                yield update
            return
        # Files the browser uploaded (assets/uploads.js hands them over in the form).
        uploaded = ready_uploads(form_arg(form).get(UPLOADS_FIELD))
        if not content.strip() and not self.pending_attachments and not uploaded:
            return  # blank: nothing to send
        attachments = [attachment_from_url(a.url) for a in self.pending_attachments] + uploaded
        reply_to = self.reply_to_id or None
        self._reset()
        yield CLEAR_INPUT
        outbox = await self.get_state(OutboxState)
        async for update in outbox._send(me, cid, Draft(content=content, attachments=attachments, replyTo=reply_to)):
            yield update
        # Sending ended this tab's typing there (domain.messages.send_message does that for
        # every door); a refused message leaves it to end by itself (the typing TTL).
        if self._typing_conversation == cid:
            self._typing_conversation = ""

    @handler
    async def composed(self, temp_id: Any):
        """The browser's outbox took the composer's text as entry `temp_id` (#composed-door):
        the reply target and pending links go with it (the links are set aside for its
        delivery, OutboxState.deliver_entry), the composer starts afresh, typing ends."""
        key = key_arg(temp_id)
        if key is None or self.editing_id:
            return
        links = [attachment_from_url(a.url) for a in self.pending_attachments]
        if links:
            outbox = await self.get_state(OutboxState)
            outbox._composed_links = {**outbox._composed_links, key: links}
        self._reset()
        await self._end_typing()

    async def _save_edit(self, me: str, content: str):
        message_id = self.editing_id
        msg = self._message(message_id)
        if not content.strip():
            yield rx.toast.error("A message cannot be empty. Delete it instead.")
            return
        if msg and content == msg.get("content"):
            yield ComposerState.cancel_edit
            return
        self.sending = True
        yield
        updated = await attempt("editing a message", messages.edit_message, me, message_id, content)
        self.sending = False
        if isinstance(updated, DomainError):
            yield rx.toast.error(f"Could not edit: {updated.message}")
            return
        update_message(self._store(), updated["conversationId"], updated)
        self.editing_id = self.editing_snippet = ""
        await self._publish(me)
        yield CLEAR_INPUT

    # ----- reply and edit targets ----------------------------------------------------------

    @handler
    def start_reply(self, message_id: Any):
        msg = self._message(message_id)
        if not msg or not msg.get("_id"):
            return None
        self.editing_id = self.editing_snippet = ""
        self.reply_to_id = msg["_id"]
        self.reply_to_name = display_name(msg.get("sender"))
        self.reply_to_snippet = snippet(msg.get("content") or attachments_label(msg.get("attachments")), 120)
        return rx.call_script("window.utoolChat && window.utoolChat.focusInput()")

    @handler
    def cancel_reply(self):
        self.reply_to_id = self.reply_to_name = self.reply_to_snippet = ""

    @handler
    def start_edit(self, message_id: Any):
        msg = self._message(message_id)
        if not msg or not msg.get("_id") or msg.get("isDeleted"):
            return None
        self.reply_to_id = self.reply_to_name = self.reply_to_snippet = ""
        self.editing_id = msg["_id"]
        self.editing_snippet = snippet(msg.get("content") or "", 120)
        # json.dumps makes the user's text a JS string literal (never code).
        return rx.call_script(f"window.utoolChat && window.utoolChat.setInput({json.dumps(msg.get('content') or '')})")

    @handler
    def cancel_edit(self):
        self.editing_id = self.editing_snippet = ""
        return CLEAR_INPUT

    # ----- link attachments ----------------------------------------------------------------

    @handler
    def set_attach_open(self, value: Any):
        flag = flag_arg(value)
        if flag is not None:
            self.attach_open = flag

    @handler
    def add_attachment_link(self, form: dict[str, Any]):
        url = (text_arg(form_arg(form).get("url")) or "").strip()
        if not is_web_url(url) or len(url) > MAX_URL_CHARS:
            return rx.toast.error("Paste a link that starts with http:// or https://")
        if len(self.pending_attachments) >= MAX_ATTACHMENTS:
            return rx.toast.error(f"At most {MAX_ATTACHMENTS} attachments per message.")
        self.pending_attachments = [*self.pending_attachments, attachment_view(attachment_from_url(url))]
        self.attach_open = False
        return None

    @handler
    def remove_attachment(self, url: Any):
        self.pending_attachments = [a for a in self.pending_attachments if a.url != url]

    # ----- typing --------------------------------------------------------------------------

    @handler
    async def typing(self, _value: Any = None):
        """Keystrokes in the composer (throttled in the browser to one per 2 s). The domain
        decides what the others are told and applies the per-user typing limit; this tab's
        token owns the typing state (it ends if the tab goes away)."""
        me = await self._me()
        cid = self.current_id
        if not me or not cid or self.editing_id:
            return
        self._typing_conversation = cid
        owner = self.router.session.client_token or None
        result = await attempt("announcing typing", typing_signals.typing_started, me, cid, owner=owner)
        if isinstance(result, DomainError):
            # Rate limited or gone: typing is best effort, dropped silently. Nothing was
            # announced, so there is nothing for stop_typing to take back.
            self._typing_conversation = ""

    @handler
    async def stop_typing(self, _value: Any = None):
        """Blur, idle or leaving the page: tell the others at once instead of waiting for the
        expiry (this counts against the typing limit too)."""
        await self._end_typing()

    async def _end_typing(self) -> None:
        me = await self._me()
        cid = self._typing_conversation
        if not me or not cid:
            return
        self._typing_conversation = ""
        await attempt("ending typing", typing_signals.typing_stopped, me, cid)
