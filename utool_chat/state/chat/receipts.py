"""ReceiptsState: the message-info dialog — who read one's own message (and when), who has
it delivered, who not yet. Opened from a message's menu ("Info") or its "Seen by" line.

The domain decides what may be seen (`receipts.message_info`: one's own messages only; with
read receipts off it stops at "delivered"); this state only shows its answer.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from utool_chat.domain import receipts
from utool_chat.domain.errors import DomainError
from utool_chat.state.beyond_text import ReceiptView, receipt_views
from utool_chat.state.chat.store import ChatState
from utool_chat.state.chat_views import reader_zone
from utool_chat.state.guards import attempt, flag_arg, key_arg, sentence
from utool_chat.state.handler import handler


class ReceiptsState(ChatState):
    info_open: rx.Field[bool] = rx.field(False)
    info_loading: rx.Field[bool] = rx.field(False)
    info_error: rx.Field[str] = rx.field("")
    info_members: rx.Field[list[ReceiptView]] = rx.field(default_factory=list)
    info_summary: rx.Field[str] = rx.field("")

    @handler
    async def open_info(self, message_id: Any):
        me = await self._me()
        key = key_arg(message_id)
        if not me or not key:
            return
        self.info_open, self.info_loading, self.info_error, self.info_members = True, True, "", []
        self.info_summary = ""
        yield
        info = await attempt("reading message info", receipts.message_info, me, key)
        self.info_loading = False
        if isinstance(info, DomainError):
            self.info_error = sentence(info.message)
            return
        self.info_members = receipt_views(info, reader_zone(self._tz))
        others = len(self.info_members)
        self.info_summary = f"Read by {info['readCount']} of {others} · delivered to {info['deliveredCount']}"

    @handler
    def set_info_open(self, value: Any):
        if flag_arg(value) is False:
            self.info_open = False
