"""MessageActionsState: what a message's toolbar does to it — react, and delete (after asking).

Reply and edit only point the composer at a message (ComposerState.start_reply/start_edit);
these two change the message for everyone.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from utool_chat.domain import messages, reactions
from utool_chat.domain.errors import DomainError
from utool_chat.state.chat.composer import ComposerState
from utool_chat.state.chat.store import ChatState
from utool_chat.state.chat_slice import update_message
from utool_chat.state.guards import attempt, key_arg
from utool_chat.state.handler import handler


class MessageActionsState(ChatState):
    confirm_delete_id: rx.Field[str] = rx.field("")  # the message the delete dialog asks about

    @handler
    async def toggle_reaction(self, message_id: Any, emoji: Any):
        me = await self._me()
        key = key_arg(message_id)
        msg = self._store()["messages"]["entities"].get(self.current_id, {}).get(key) if key else None
        if not me or not msg or key is None:
            return
        # The domain checks the emoji (any argument may arrive here).
        mine = any(r.get("user") == me and r.get("emoji") == emoji for r in msg.get("reactions") or [])
        change = reactions.remove_reaction if mine else reactions.add_reaction
        updated = await attempt("reacting to a message", change, me, key, emoji)
        if isinstance(updated, DomainError):
            yield rx.toast.error(f"Could not react: {updated.message}")
            return
        update_message(self._store(), updated["conversationId"], updated)
        await self._publish(me)

    @handler
    def ask_delete(self, message_id: Any):
        self.confirm_delete_id = key_arg(message_id) or ""

    @handler
    def cancel_delete(self):
        self.confirm_delete_id = ""

    @handler
    async def delete_message(self):
        """Soft-delete the message the confirmation dialog asked about."""
        me = await self._me()
        message_id, self.confirm_delete_id = self.confirm_delete_id, ""
        if not me or not message_id:
            return
        updated = await attempt("deleting a message", messages.delete_message, me, message_id)
        if isinstance(updated, DomainError):
            yield rx.toast.error(f"Could not delete: {updated.message}")
            return
        update_message(self._store(), updated["conversationId"], updated)
        composer = await self.get_state(ComposerState)
        if composer.reply_to_id == message_id:  # the composer no longer quotes it
            composer.cancel_reply()
        await self._publish(me)
