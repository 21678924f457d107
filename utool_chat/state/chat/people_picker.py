"""PeoplePickerState: the people picker — "New chat" (one friend: a direct chat; several: a
named group) and "Add members" (admins: friends who are not in the open group yet)."""

from __future__ import annotations

from typing import Any

import reflex as rx

from utool_chat.domain import conversations, friends
from utool_chat.domain.errors import DomainError
from utool_chat.state.chat.conversation_settings import ConversationSettingsState
from utool_chat.state.chat.store import ChatState
from utool_chat.state.chat_slice import add_or_update_conversation
from utool_chat.state.chat_views import PersonView, filter_people, person_view
from utool_chat.state.guards import attempt, flag_arg, key_arg, sentence, text_arg
from utool_chat.state.handler import handler

NEW_CHAT, ADD_MEMBERS = "new_chat", "add_members"


class PeoplePickerState(ChatState):
    picker_mode: rx.Field[str] = rx.field("")  # "" (closed) | NEW_CHAT | ADD_MEMBERS
    picker_people: rx.Field[list[PersonView]] = rx.field(default_factory=list)  # who may be picked
    picker_query: rx.Field[str] = rx.field("")
    picker_selected: rx.Field[list[str]] = rx.field(default_factory=list)  # ids, in pick order
    picker_loading: rx.Field[bool] = rx.field(False)
    picker_busy: rx.Field[bool] = rx.field(False)
    group_name: rx.Field[str] = rx.field("")

    @rx.var
    def picker_matches(self) -> list[PersonView]:
        return filter_people(self.picker_people, self.picker_query)

    @rx.var
    def picker_chosen(self) -> list[PersonView]:
        """The picked people in pick order (the chips above the list)."""
        by_id = {p.id: p for p in self.picker_people}
        return [by_id[pid] for pid in self.picker_selected if pid in by_id]

    @rx.var
    def picker_is_group(self) -> bool:
        """A new chat with two or more people is a group (it needs a name)."""
        return self.picker_mode == NEW_CHAT and len(self.picker_selected) >= 2

    @rx.var
    def picker_can_submit(self) -> bool:
        if self.picker_busy or not self.picker_selected:
            return False
        if self.picker_mode == NEW_CHAT and len(self.picker_selected) >= 2:
            return bool(self.group_name.strip())
        return True

    @rx.var
    def picker_hint(self) -> str:
        count = len(self.picker_selected)
        if self.picker_mode == ADD_MEMBERS:
            return f"{count} selected" if count else "Pick one or more friends"
        if count == 0:
            return "Pick one friend, or several for a group"
        return "Private chat" if count == 1 else f"Group of {count + 1}, with you"

    @rx.var
    def picker_submit_label(self) -> str:
        count = len(self.picker_selected)
        if self.picker_mode == ADD_MEMBERS:
            return f"Add {count} member" + ("" if count == 1 else "s") if count else "Add members"
        return "Create group" if count >= 2 else "Open chat"

    # ----- opening -------------------------------------------------------------------------

    async def _open(self, mode: str, exclude: set[str]):
        me = await self._me()
        if not me:
            return
        self.picker_mode, self.picker_query, self.picker_selected, self.group_name = mode, "", [], ""
        self.picker_busy, self.picker_loading = False, True
        (await self.get_state(ConversationSettingsState)).members_open = False
        yield
        my_friends = await attempt("loading friends", friends.list_friends, me)
        self.picker_loading = False
        if isinstance(my_friends, DomainError):
            yield rx.toast.error(f"Could not load your friends: {my_friends.message}")
            return
        people = [person_view(f) for f in my_friends if f.get("_id") not in exclude]
        self.picker_people = sorted(people, key=lambda p: p.name.casefold())

    @handler
    async def open_new_chat(self):
        """The pencil in the Chats header: pick one friend (a direct chat) or several (a group)."""
        async for update in self._open(NEW_CHAT, exclude=set()):
            yield update

    @handler
    async def open_add_members(self):
        """Admins: add friends who are not in the open group yet."""
        convo = self._current_conversation()
        if not convo or not self.current_is_group or not self.current_is_admin:
            return
        members = {p.get("_id") for p in convo.get("participants") or []}
        async for update in self._open(ADD_MEMBERS, exclude=members):
            yield update

    # ----- picking -------------------------------------------------------------------------

    @handler
    def set_picker_open(self, value: Any):
        if flag_arg(value) is False and not self.picker_busy:
            self.picker_mode = ""

    @handler
    def set_picker_query(self, value: Any):
        self.picker_query = text_arg(value, 100) or ""

    @handler
    def set_group_name(self, value: Any):
        self.group_name = text_arg(value, 100) or ""

    @handler
    def toggle_pick(self, user_id: Any):
        key = key_arg(user_id)
        if key is None:
            return
        if key in self.picker_selected:
            self.picker_selected = [uid for uid in self.picker_selected if uid != key]
        elif any(p.id == key for p in self.picker_people):
            self.picker_selected = [*self.picker_selected, key]

    @handler
    async def submit_picker(self):
        """Create the chat or group (then open it), or add the picked members."""
        me = await self._me()
        mode, picked, cid = self.picker_mode, list(self.picker_selected), self.current_id
        if not me or not mode or not picked or self.picker_busy:
            return
        if mode == NEW_CHAT and len(picked) >= 2 and not self.group_name.strip():
            yield rx.toast.error("Give the group a name.")
            return
        self.picker_busy = True
        yield
        if mode == ADD_MEMBERS:
            convo = await attempt(
                "adding members", conversations.update_conversation, me, cid, add_participant_ids=picked
            )
        else:
            kind, name = ("direct", None) if len(picked) == 1 else ("group", self.group_name.strip())
            created = await attempt(
                "creating a conversation", conversations.create_conversation, me, picked, type=kind, name=name
            )
            convo = created if isinstance(created, DomainError) else created[0]
        self.picker_busy = False
        if isinstance(convo, DomainError):
            yield rx.toast.error(sentence(convo.message))
            return
        self.picker_mode = ""
        add_or_update_conversation(self._store(), convo)
        await self._publish(me)
        if mode == ADD_MEMBERS:
            count = len(picked)
            yield rx.toast.success(f"Added {count} member" + ("" if count == 1 else "s") + ".")
            (await self.get_state(ConversationSettingsState)).members_open = True
        else:
            yield rx.redirect(f"/chat/{convo['_id']}")
