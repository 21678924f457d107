"""ConversationSettingsState: the open conversation's dialogs — members and admins, rename,
and leaving a group / archiving a direct chat (each after a confirmation).

The domain decides who may do what; the buttons are only shown to those who may.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from utool_chat.domain import conversations
from utool_chat.domain.errors import DomainError
from utool_chat.state.chat.store import ChatState, ChatView
from utool_chat.state.chat_slice import add_or_update_conversation, remove_conversation
from utool_chat.state.chat_views import PersonView, build_member_views
from utool_chat.state.guards import attempt, flag_arg, form_arg, key_arg, sentence, text_arg
from utool_chat.state.handler import handler

BUSY_RENAMING = "conversation"  # member_busy_id while the group itself is being changed


class ConversationSettingsState(ChatState):
    members: rx.Field[list[PersonView]] = rx.field(default_factory=list)  # the open group's active members
    members_open: rx.Field[bool] = rx.field(False)
    rename_open: rx.Field[bool] = rx.field(False)
    confirm_leave_open: rx.Field[bool] = rx.field(False)
    member_busy_id: rx.Field[str] = rx.field("")  # whose admin button is working (or BUSY_RENAMING)
    confirm_remove_id: rx.Field[str] = rx.field("")  # the member the "Remove …?" confirmation asks about
    confirm_remove_name: rx.Field[str] = rx.field("")

    def _show(self, view: ChatView) -> None:
        if view.conversation:
            self._assign("members", build_member_views(view.conversation, view.me))

    def _close(self) -> None:
        """Close every dialog (another conversation was opened, or this one went away)."""
        self.members_open = self.rename_open = self.confirm_leave_open = False
        self.member_busy_id = ""
        self.confirm_remove_id = self.confirm_remove_name = ""

    # ----- dialogs -------------------------------------------------------------------------

    @handler
    def set_members_open(self, value: Any):
        self.members_open = flag_arg(value) is True and self.current_is_group

    @handler
    def set_rename_open(self, value: Any):
        self.rename_open = flag_arg(value) is True and self.current_is_group and self.current_is_admin

    @handler
    def set_confirm_leave_open(self, value: Any):
        """The "leave group" / "archive chat" confirmation (it closes the members dialog)."""
        flag = flag_arg(value)
        if flag is None:
            return
        self.confirm_leave_open = flag
        if flag:
            self.members_open = False

    # ----- changing the group --------------------------------------------------------------

    async def _update_current(self, success: str, busy_id: str = "", **changes: Any):
        """update_conversation on the open group; the result is applied at once (the bus
        brings the same view a moment later, and the other members' copies)."""
        me = await self._me()
        cid = self.current_id
        if not me or not cid or self.member_busy_id:
            return
        self.member_busy_id = busy_id or BUSY_RENAMING
        yield
        convo = await attempt("changing a group", conversations.update_conversation, me, cid, **changes)
        self.member_busy_id = ""
        if isinstance(convo, DomainError):
            yield rx.toast.error(sentence(convo.message))
            return
        add_or_update_conversation(self._store(), convo)
        await self._publish(me)
        yield rx.toast.success(success)

    @handler
    async def rename_group(self, form: dict[str, Any]):
        name = " ".join((text_arg(form_arg(form).get("name")) or "").split())
        if not name:
            yield rx.toast.error("A group name cannot be empty.")
            return
        if name == self.current_name:
            self.rename_open = False
            return
        async for update in self._update_current(f"Renamed to “{name}”.", name=name):
            yield update
        if not self.member_busy_id and self.current_name == name:
            self.rename_open = False

    def _member(self, user_id: Any) -> tuple[str, str] | None:
        """(id, name) of a member of the open group, or None: the admin buttons act only
        on someone listed in the members dialog."""
        key = key_arg(user_id)
        return next(((m.id, m.name) for m in self.members if key and m.id == key), None)

    @handler
    async def make_admin(self, user_id: Any):
        if (member := self._member(user_id)) is None:
            return
        uid, name = member
        async for update in self._update_current(f"{name} is now an admin.", busy_id=uid, add_admin_ids=[uid]):
            yield update

    @handler
    async def dismiss_admin(self, user_id: Any):
        if (member := self._member(user_id)) is None:
            return
        uid, name = member
        async for update in self._update_current(
            f"{name} is no longer an admin.", busy_id=uid, remove_admin_ids=[uid]
        ):
            yield update

    @handler
    def ask_remove(self, user_id: Any):
        """Removing a member asks first ("" closes the question)."""
        member = self._member(user_id)
        self.confirm_remove_id, self.confirm_remove_name = member if member else ("", "")

    @handler
    async def remove_member(self, user_id: Any):
        self.confirm_remove_id = self.confirm_remove_name = ""
        if (member := self._member(user_id)) is None:
            return
        uid, name = member
        async for update in self._update_current(
            f"Removed {name} from the group.", busy_id=uid, remove_participant_ids=[uid]
        ):
            yield update

    # ----- leaving -------------------------------------------------------------------------

    @handler
    async def archive_or_leave(self):
        """Direct: archive it (it comes back with the next message); group: leave it."""
        me = await self._me()
        cid = self.current_id
        self.confirm_leave_open = False
        if not me or not cid:
            return
        is_group = self.current_is_group
        result = await attempt("leaving a conversation", conversations.archive_or_leave, me, cid)
        if isinstance(result, DomainError):
            yield rx.toast.error(sentence(result.message))
            return
        remove_conversation(self._store(), cid)
        await self._publish(me)
        yield rx.toast.success("You left the group." if is_group else "Conversation archived.")
        yield rx.redirect("/chat")
