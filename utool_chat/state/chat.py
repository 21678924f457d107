"""ChatState: the /chat pages of one tab. A thin door onto the chat domain.

Three modules, one job each:

- `state/chat_slice.py`: the plan's chatSlice — plain data and pure reducers
  (`optimistic_add_message`, `receive_message`, `update_message`, …, `apply_event`).
- `state/chat_views.py`: display-ready views of the slice (`MessageView`,
  `ConversationItemView`, time labels, titles), pure as well.
- here, `ChatState` (Reflex): calls the domain, keeps the slice in a backend var (`_chat`,
  never sent to the browser) and publishes the views (`conversation_items`,
  `older_messages`, `recent_messages`, header fields, `typing_label`). A view var is only
  assigned when its value changed, and the open conversation's messages are split in two
  lists so a new message resends the short `recent_messages` tail, not the whole history.

Live updates: `listen_for_events`, a background task started on mount (one per tab), follows
this user's chat events on the bus (`state.live.TabListener`) and applies them under
`async with self`; a logout of this tab's session (in any tab or process) sends the tab to
/login.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import datetime, timezone
from typing import Any

import reflex as rx

from utool_chat import config
from utool_chat.domain import conversations, friends, messages, reactions
from utool_chat.domain import typing as typing_signals
from utool_chat.domain.errors import DomainError, NotFound
from utool_chat.state.auth import AuthState
from utool_chat.state.chat_slice import (
    MESSAGE_VIEW_EVENTS,
    Chat,
    add_or_update_conversation,
    apply_event,
    clear_conversation_unread_count,
    conversations_fetched,
    discard_message,
    expire_typing,
    initial_chat,
    mark_message_failed,
    mark_message_sending,
    messages_fetched,
    messages_loaded,
    newest_message_id,
    next_typing_expiry,
    oldest_message_id,
    optimistic_add_message,
    receive_message,
    remove_conversation,
    set_current_conversation_id,
    total_unread,
    typing_names,
    update_message,
)
from utool_chat.state.chat_views import (
    AttachmentView,
    ConversationItemView,
    MessageView,
    PersonView,
    attachment_from_url,
    attachment_view,
    build_conversation_items,
    build_member_views,
    build_message_views,
    conversation_avatar,
    conversation_subtitle,
    conversation_title,
    display_name,
    filter_people,
    is_web_url,
    person_view,
    reader_zone,
    snippet,
    split_recent,
    typing_text,
)
from utool_chat.state.guards import attempt, flag_arg, form_arg, key_arg, text_arg
from utool_chat.state.live import TabListener, listener_step

PAGE_SIZE = 30  # messages per history page (the plan's fetchMessages limit)
CONVERSATION_PAGE_SIZE = 30
TYPING_THROTTLE_SECONDS = 2.0  # at most one typing_started per conversation per this
LISTENER_IDLE_CHECK_SECONDS = 15.0

# ----------------------------------------------------------------------------------------
# Domain calls (run in worker threads: the domain is synchronous SQL)
# ----------------------------------------------------------------------------------------


async def _call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Run a domain function in a worker thread: the domain is synchronous SQL."""
    return await asyncio.to_thread(fn, *args, **kwargs)


def _edit_window_seconds() -> int:
    return config.settings.edit_window_seconds


def _error_text(err: DomainError) -> str:
    return err.message[:1].upper() + err.message[1:]


def _announce_typing(actor_id: str, conversation_id: str) -> None:
    """typing_started, which applies the per-user typing limit itself: the 2 s throttle per
    tab is not enough when a client opens many tabs or calls the handler itself."""
    typing_signals.typing_started(actor_id, conversation_id)


# ----------------------------------------------------------------------------------------
# The Reflex state
# ----------------------------------------------------------------------------------------


class ChatState(rx.State):
    """The chat page of one tab. Server data stays in `_chat`; views are display-ready."""

    # --- published views -------------------------------------------------------------
    conversation_items: list[ConversationItemView] = []
    conversations_loading: bool = False
    conversations_loaded: bool = False
    conversations_error: str = ""
    conversations_has_more: bool = False

    current_id: str = ""
    current_name: str = ""
    current_avatar: str = ""
    current_subtitle: str = ""
    current_is_group: bool = False
    current_error: str = ""
    current_members: list[PersonView] = []
    current_is_admin: bool = False

    older_messages: list[MessageView] = []
    recent_messages: list[MessageView] = []
    messages_loading: bool = False
    loading_older: bool = False
    messages_error: str = ""
    has_older: bool = False
    typing_label: str = ""
    total_unread: int = 0

    # --- composer --------------------------------------------------------------------
    reply_to_id: str = ""
    reply_to_name: str = ""
    reply_to_snippet: str = ""
    editing_id: str = ""
    editing_snippet: str = ""
    pending_attachments: list[AttachmentView] = []
    attach_open: bool = False
    sending: bool = False
    confirm_delete_id: str = ""

    # --- group and conversation dialogs ------------------------------------------------
    picker_mode: str = ""  # "" (closed) | "new_chat" | "add_members": the people picker
    picker_people: list[PersonView] = []  # who may be picked (friends, minus current members)
    picker_query: str = ""
    picker_selected: list[str] = []
    picker_loading: bool = False
    picker_busy: bool = False
    group_name: str = ""
    members_open: bool = False
    rename_open: bool = False
    confirm_leave_open: bool = False
    member_busy_id: str = ""

    # --- backend only ----------------------------------------------------------------
    _chat: dict[str, Any] = {}
    _tz: str = ""
    _listening: bool = False
    _on_page: bool = False
    _typing_sent_at: float = 0.0
    _typing_conversation: str = ""

    # ----- computed ------------------------------------------------------------------

    @rx.var
    def has_current(self) -> bool:
        return self.current_id != ""

    @rx.var
    def page_title(self) -> str:
        return f"({self.total_unread}) uTool Chat" if self.total_unread else "uTool Chat"

    @rx.var
    def has_messages(self) -> bool:
        return bool(self.older_messages) or bool(self.recent_messages)

    @rx.var
    def total_unread_label(self) -> str:
        return "99+" if self.total_unread > 99 else str(self.total_unread)

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
        return self.picker_mode == "new_chat" and len(self.picker_selected) >= 2

    @rx.var
    def picker_can_submit(self) -> bool:
        if self.picker_busy or not self.picker_selected:
            return False
        if self.picker_mode == "new_chat" and len(self.picker_selected) >= 2:
            return bool(self.group_name.strip())
        return True

    @rx.var
    def picker_hint(self) -> str:
        count = len(self.picker_selected)
        if self.picker_mode == "add_members":
            return f"{count} selected" if count else "Pick one or more friends"
        if count == 0:
            return "Pick one friend, or several for a group"
        return "Private chat" if count == 1 else f"Group of {count + 1}, with you"

    @rx.var
    def picker_submit_label(self) -> str:
        count = len(self.picker_selected)
        if self.picker_mode == "add_members":
            return f"Add {count} member" + ("" if count == 1 else "s") if count else "Add members"
        return "Create group" if count >= 2 else "Open chat"

    # ----- helpers -------------------------------------------------------------------

    def _store(self) -> Chat:
        if not self._chat:
            self._chat = initial_chat()
        return self._chat

    async def _me(self) -> str:
        return (await self.get_state(AuthState)).user_id

    def _publish(self, me: str, with_messages: bool = True) -> None:
        """Recompute the display views from the slice; assign only what changed.
        `with_messages=False` when the open conversation's messages cannot have changed (typing,
        unread counts): rebuilding up to a window of message views is the costly part."""
        chat = self._store()
        tz, now = reader_zone(self._tz), datetime.now(timezone.utc)
        cid = chat["conversations"]["currentConversationId"] or ""
        self._assign("conversation_items", build_conversation_items(chat, me, tz, now))
        self._assign("total_unread", total_unread(chat))
        self._assign("conversations_has_more", bool(chat["conversations"]["hasMore"]))
        self._assign("current_id", cid)
        convo = chat["conversations"]["entities"].get(cid) if cid else None
        is_group = bool(convo and convo.get("type") != "direct")
        if convo:
            self._assign("current_name", conversation_title(convo, me))
            self._assign("current_avatar", conversation_avatar(convo, me))
            self._assign("current_subtitle", conversation_subtitle(convo, me))
            self._assign("current_is_group", is_group)
            self._assign("current_members", build_member_views(convo, me))
            self._assign("current_is_admin", me in (convo.get("admins") or []))
        if with_messages:
            views = build_message_views(chat, cid, me, tz, now, _edit_window_seconds()) if cid else []
            older, recent = split_recent(views)
            self._assign("older_messages", older)
            self._assign("recent_messages", recent)
        msgs = chat["messages"]
        self._assign("has_older", bool(msgs["hasMore"].get(cid)))
        self._assign("messages_error", msgs["error"].get(cid) or "")
        self._assign("typing_label", typing_text(typing_names(chat, cid), is_group) if cid else "")

    def _assign(self, name: str, value: Any) -> None:
        if getattr(self, name) != value:
            setattr(self, name, value)

    def _close_dialogs(self) -> None:
        self.members_open = self.rename_open = self.confirm_leave_open = False
        self.member_busy_id = ""

    def _reset_composer(self) -> None:
        self.reply_to_id = self.reply_to_name = self.reply_to_snippet = ""
        self.editing_id = self.editing_snippet = ""
        self.pending_attachments = []
        self.attach_open = False

    # ----- page lifecycle ------------------------------------------------------------

    @rx.event
    async def on_load(self):
        """on_load of /chat and /chat/[conversation_id] (after AuthState.check_login)."""
        me = await self._me()
        if not me:
            return
        chat = self._store()
        with_user = self.router.url.query_parameters.get("with", "")
        if with_user:
            # createOrGetConversation for the friends page's "Message" button.
            async for update in self._create_or_get(me, [with_user], "direct", None):
                yield update
            return
        path = self.router.url.path.rstrip("/")
        target = path.split("/chat/", 1)[1] if path.startswith("/chat/") else ""
        if target != (chat["conversations"]["currentConversationId"] or ""):
            self._reset_composer()
            self._close_dialogs()
        set_current_conversation_id(chat, target or None)
        self.current_error = ""
        if not self.conversations_loaded or not self._listening:
            self.conversations_loading = not self.conversations_loaded
            self._publish(me)
            yield
            async for update in self._load_conversations(me, page=1):
                yield update
        if target:
            async for update in self._open_conversation(me, target):
                yield update
        else:
            self._publish(me)

    @rx.event
    def set_timezone(self, tz_name: Any):
        """The browser's IANA time zone (asked once on mount), for local times."""
        if isinstance(tz_name, str) and tz_name != self._tz and reader_zone(tz_name) is not timezone.utc:
            self._tz = tz_name
            return ChatState.refresh_views

    @rx.event
    async def refresh_views(self):
        me = await self._me()
        if me:
            self._publish(me)

    @rx.event
    async def refresh_unread_total(self):
        """The top bar's unread badge on pages without the chat listener (e.g. /friends)."""
        me = await self._me()
        if not me:
            return
        try:
            items, _meta = await _call(conversations.list_conversations, me, page=1, limit=100)
        except DomainError:
            return  # the badge keeps its last value; the chat page will correct it
        self._assign("total_unread", sum(int(c.get("unreadCount") or 0) for c in items))

    @rx.event
    def leave_page(self):
        """on_unmount: the listener stops at its next wake-up; typing ends."""
        self._on_page = False
        return ChatState.stop_typing

    # ----- thunks ----------------------------------------------------------------------

    async def _load_conversations(self, me: str, page: int):
        chat = self._store()
        chat["conversations"]["isLoading"] = True
        try:
            items, meta = await _call(conversations.list_conversations, me, page=page, limit=CONVERSATION_PAGE_SIZE)
        except DomainError as err:
            chat["conversations"].update(isLoading=False, error=err.message)
            self.conversations_loading = False
            self.conversations_error = _error_text(err)
            yield rx.toast.error(f"Could not load conversations: {err.message}")
            return
        conversations_fetched(chat, items, bool((meta or {}).get("hasMore")), page)
        self.conversations_loading = False
        self.conversations_loaded = True
        self.conversations_error = ""
        self._publish(me)

    @rx.event
    async def fetch_conversations(self):
        """Reload the conversation list (the error state's "Try again")."""
        me = await self._me()
        if not me:
            return
        self.conversations_loading = True
        yield
        async for update in self._load_conversations(me, page=1):
            yield update

    @rx.event
    async def fetch_more_conversations(self):
        me = await self._me()
        chat = self._store()
        if not me or not chat["conversations"]["hasMore"]:
            return
        async for update in self._load_conversations(me, page=chat["conversations"]["page"] + 1):
            yield update

    async def _open_conversation(self, me: str, cid: str):
        """Show a conversation: fetch it if unknown, its latest messages, then mark read."""
        chat = self._store()
        if cid not in chat["conversations"]["entities"]:
            try:
                convo = await _call(conversations.get_conversation, me, cid)
            except DomainError as err:
                set_current_conversation_id(chat, None)
                self.current_error = "This conversation does not exist or you are not a member." if isinstance(err, NotFound) else _error_text(err)
                self._publish(me)
                return
            add_or_update_conversation(chat, convo)
        first_time = not messages_loaded(chat, cid)
        self.messages_loading = first_time
        self._publish(me)
        yield
        async for update in self._fetch_messages(me, cid, older=False):
            yield update
        self.messages_loading = False
        self._publish(me)
        yield ChatState.scroll_to_bottom
        await self._mark_read(me, cid)

    async def _fetch_messages(self, me: str, cid: str, older: bool):
        chat = self._store()
        before = oldest_message_id(chat, cid) if older else None
        chat["messages"]["isLoading"][cid] = True
        try:
            page, meta = await _call(
                messages.list_messages, me, cid, limit=PAGE_SIZE, before_message_id=before
            )
        except DomainError as err:
            chat["messages"]["isLoading"][cid] = False
            chat["messages"]["error"][cid] = _error_text(err)
            yield rx.toast.error(f"Could not load messages: {err.message}")
            return
        messages_fetched(chat, cid, page, bool((meta or {}).get("hasMore")), older=older)
        self._publish(me)

    @rx.event
    async def fetch_messages(self):
        """Load the page of messages before the oldest one shown (scrolling up)."""
        me = await self._me()
        cid = self.current_id
        chat = self._store()
        if not me or not cid or self.loading_older or not chat["messages"]["hasMore"].get(cid):
            return
        self.loading_older = True
        yield
        async for update in self._fetch_messages(me, cid, older=True):
            yield update
        self.loading_older = False
        yield rx.call_script("window.utoolChat && window.utoolChat.restoreAfterPrepend()")

    @rx.event
    async def retry_messages(self):
        me = await self._me()
        if me and self.current_id:
            async for update in self._open_conversation(me, self.current_id):
                yield update

    async def _create_or_get(self, me: str, participant_ids: list[str], kind: str, name: str | None):
        try:
            convo, _created = await _call(
                conversations.create_conversation, me, participant_ids, type=kind, name=name
            )
        except DomainError as err:
            yield rx.toast.error(_error_text(err))
            yield rx.redirect("/chat", replace=True)
            return
        add_or_update_conversation(self._store(), convo)
        yield rx.redirect(f"/chat/{convo['_id']}", replace=True)

    @rx.event
    async def create_or_get_conversation(self, participant_ids: list[str], kind: str = "direct", name: str = ""):
        me = await self._me()
        if me:
            async for update in self._create_or_get(me, participant_ids, kind, name or None):
                yield update

    async def _mark_read(self, me: str, cid: str) -> None:
        chat = self._store()
        last_id = newest_message_id(chat, cid)
        convo = chat["conversations"]["entities"].get(cid) or {}
        if not last_id or not convo.get("unreadCount"):
            return
        clear_conversation_unread_count(chat, cid)
        self._publish(me)
        try:
            await _call(messages.mark_read, me, cid, last_id)
        except DomainError:
            pass  # the count comes back with the next chat:unread_count_update

    @rx.event
    async def mark_current_read(self, visible: Any = True):
        """The tab shows the open conversation (a visibility check or a focus): mark it read."""
        me = await self._me()
        if me and self.current_id and visible is True and self._on_page:
            await self._mark_read(me, self.current_id)

    # ----- sending ----------------------------------------------------------------------

    @rx.event
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
        if not content.strip() and not self.pending_attachments:
            return  # blank: nothing to send
        attachments = [attachment_from_url(a.url) for a in self.pending_attachments]
        reply_to = self.reply_to_id or None
        self._reset_composer()
        yield rx.call_script("window.utoolChat && window.utoolChat.clearInput()")
        async for update in self._post_new_message(me, cid, content, attachments, reply_to):
            yield update
        yield ChatState.stop_typing

    async def _post_new_message(
        self, me: str, cid: str, content: str, attachments: list[dict[str, Any]], reply_to: str | None,
        temp_id: str | None = None,
    ):
        """postNewMessage: optimistic copy first, then the domain, then the confirmed copy."""
        chat = self._store()
        auth = await self.get_state(AuthState)
        if temp_id is None:
            temp_id = f"tmp-{uuid.uuid4().hex}"
            replied = chat["messages"]["entities"].get(cid, {}).get(reply_to or "") if reply_to else None
            optimistic_add_message(chat, cid, {
                "tempId": temp_id,
                "conversationId": cid,
                "sender": {"_id": me, "username": auth.username, "displayName": auth.display_name, "avatar": auth.avatar or None},
                "content": content,
                "contentType": "text",
                "attachments": attachments,
                "replyTo": {
                    "_id": replied["_id"], "sender": replied.get("sender"),
                    "content": replied.get("content", ""), "isDeleted": replied.get("isDeleted", False),
                } if replied else None,
                "reactions": [],
                "readBy": [],
                "createdAt": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
                "_draft": {"content": content, "attachments": attachments, "replyTo": reply_to},
            })
        self._publish(me)
        yield ChatState.scroll_to_bottom
        sent, err = await attempt(
            "sending a message", messages.send_message, me, cid, content,
            content_type="text", attachments=attachments or None, reply_to=reply_to, temp_id=temp_id,
        )
        if err is not None:
            # Failed, never left "sending": the bubble offers Retry (same tempId) and Discard.
            mark_message_failed(chat, cid, temp_id, _error_text(err))
            self._publish(me)
            yield rx.toast.error(f"Message not sent: {err.message}")
            return
        message, _created = sent
        receive_message(chat, cid, message, temp_id)
        self._publish(me)

    @rx.event
    async def retry_message(self, temp_id: str):
        """Send a failed message again with the same tempId (the domain never duplicates)."""
        me = await self._me()
        cid = self.current_id
        temp_id = key_arg(temp_id)
        entity = mark_message_sending(self._store(), cid, temp_id) if me and cid and temp_id else None
        if entity is None:
            return
        draft = entity.get("_draft") or {}
        async for update in self._post_new_message(
            me, cid, draft.get("content", ""), draft.get("attachments") or [], draft.get("replyTo"), temp_id=temp_id
        ):
            yield update

    @rx.event
    async def discard_failed(self, temp_id: str):
        me = await self._me()
        temp_id = key_arg(temp_id)
        if me and temp_id and discard_message(self._store(), self.current_id, temp_id):
            self._publish(me)

    # ----- message actions --------------------------------------------------------------

    def _message(self, message_id: Any) -> dict[str, Any] | None:
        """The open conversation's message with this id (None for anything else, including
        an argument that is not an id at all)."""
        key = key_arg(message_id)
        return self._store()["messages"]["entities"].get(self.current_id, {}).get(key) if key else None

    @rx.event
    def start_reply(self, message_id: str):
        msg = self._message(message_id)
        if not msg or not msg.get("_id"):
            return
        self.editing_id = self.editing_snippet = ""
        self.reply_to_id = msg["_id"]
        self.reply_to_name = display_name(msg.get("sender"))
        self.reply_to_snippet = snippet(msg.get("content") or "📎 Attachment", 120)
        return rx.call_script("window.utoolChat && window.utoolChat.focusInput()")

    @rx.event
    def cancel_reply(self):
        self.reply_to_id = self.reply_to_name = self.reply_to_snippet = ""

    @rx.event
    def start_edit(self, message_id: str):
        msg = self._message(message_id)
        if not msg or not msg.get("_id") or msg.get("isDeleted"):
            return
        self.reply_to_id = self.reply_to_name = self.reply_to_snippet = ""
        self.editing_id = msg["_id"]
        self.editing_snippet = snippet(msg.get("content") or "", 120)
        # json.dumps makes the user's text a JS string literal (never code).
        return rx.call_script(f"window.utoolChat && window.utoolChat.setInput({json.dumps(msg.get('content') or '')})")

    @rx.event
    def cancel_edit(self):
        self.editing_id = self.editing_snippet = ""
        return rx.call_script("window.utoolChat && window.utoolChat.clearInput()")

    async def _save_edit(self, me: str, content: str):
        message_id = self.editing_id
        msg = self._message(message_id)
        if not content.strip():
            yield rx.toast.error("A message cannot be empty. Delete it instead.")
            return
        if msg and content == msg.get("content"):
            yield ChatState.cancel_edit
            return
        self.sending = True
        yield
        updated, err = await attempt("editing a message", messages.edit_message, me, message_id, content)
        self.sending = False
        if err is not None:
            yield rx.toast.error(f"Could not edit: {err.message}")
            return
        update_message(self._store(), updated["conversationId"], updated)
        self.editing_id = self.editing_snippet = ""
        self._publish(me)
        yield rx.call_script("window.utoolChat && window.utoolChat.clearInput()")

    @rx.event
    def ask_delete(self, message_id: Any):
        self.confirm_delete_id = key_arg(message_id) or ""

    @rx.event
    def cancel_delete(self):
        self.confirm_delete_id = ""

    @rx.event
    async def delete_message(self):
        """Soft-delete the message the confirmation dialog asked about."""
        me = await self._me()
        message_id, self.confirm_delete_id = self.confirm_delete_id, ""
        if not me or not message_id:
            return
        try:
            updated = await _call(messages.delete_message, me, message_id)
        except DomainError as err:
            yield rx.toast.error(f"Could not delete: {err.message}")
            return
        update_message(self._store(), updated["conversationId"], updated)
        if self.reply_to_id == message_id:
            self.cancel_reply()
        self._publish(me)

    @rx.event
    async def toggle_reaction(self, message_id: str, emoji: str):
        me = await self._me()
        msg = self._message(message_id)
        if not me or not msg:
            return
        mine = any(r.get("user") == me and r.get("emoji") == emoji for r in msg.get("reactions") or [])
        try:
            updated = await _call(
                reactions.remove_reaction if mine else reactions.add_reaction, me, message_id, emoji
            )
        except DomainError as err:
            yield rx.toast.error(f"Could not react: {err.message}")
            return
        update_message(self._store(), updated["conversationId"], updated)
        self._publish(me)

    @rx.event
    def set_confirm_leave_open(self, value: Any):
        """The "leave group" / "archive chat" confirmation (it closes the members dialog)."""
        value = flag_arg(value)
        if value is None:
            return
        self.confirm_leave_open = value
        if value:
            self.members_open = False

    @rx.event
    async def archive_or_leave(self):
        """Direct: archive it (it comes back with the next message); group: leave it."""
        me = await self._me()
        cid = self.current_id
        self.confirm_leave_open = False
        if not me or not cid:
            return
        is_group = self.current_is_group
        try:
            await _call(conversations.archive_or_leave, me, cid)
        except DomainError as err:
            yield rx.toast.error(_error_text(err))
            return
        remove_conversation(self._store(), cid)
        self._publish(me)
        yield rx.toast.success("You left the group." if is_group else "Conversation archived.")
        yield rx.redirect("/chat")

    # ----- groups: the people picker (new chat / add members) ----------------------------

    async def _open_picker(self, mode: str, exclude: set[str]):
        me = await self._me()
        if not me:
            return
        self.picker_mode, self.picker_query, self.picker_selected, self.group_name = mode, "", [], ""
        self.picker_busy, self.picker_loading = False, True
        self.members_open = False
        yield
        try:
            my_friends = await _call(friends.list_friends, me)
        except DomainError as err:
            self.picker_loading = False
            yield rx.toast.error(f"Could not load your friends: {err.message}")
            return
        people = [person_view(f) for f in my_friends if f.get("_id") not in exclude]
        self.picker_people = sorted(people, key=lambda p: p.name.casefold())
        self.picker_loading = False

    @rx.event
    async def open_new_chat(self):
        """The pencil in the Chats header: pick one friend (a direct chat) or several (a group)."""
        async for update in self._open_picker("new_chat", exclude=set()):
            yield update

    @rx.event
    async def open_add_members(self):
        """Admins: add friends who are not in the open group yet."""
        if not self.current_is_group or not self.current_is_admin:
            return
        async for update in self._open_picker("add_members", exclude={m.id for m in self.current_members}):
            yield update

    @rx.event
    def set_picker_open(self, value: Any):
        if flag_arg(value) is False and not self.picker_busy:
            self.picker_mode = ""

    @rx.event
    def set_picker_query(self, value: Any):
        self.picker_query = text_arg(value, 100) or ""

    @rx.event
    def set_group_name(self, value: Any):
        self.group_name = text_arg(value, 100) or ""

    @rx.event
    def toggle_pick(self, user_id: Any):
        user_id = key_arg(user_id)
        if user_id is None:
            return
        if user_id in self.picker_selected:
            self.picker_selected = [uid for uid in self.picker_selected if uid != user_id]
        elif any(p.id == user_id for p in self.picker_people):
            self.picker_selected = [*self.picker_selected, user_id]

    @rx.event
    async def submit_picker(self):
        """Create the chat or group (then open it), or add the picked members."""
        me = await self._me()
        mode, picked, cid = self.picker_mode, list(self.picker_selected), self.current_id
        if not me or not mode or not picked or self.picker_busy:
            return
        if mode == "new_chat" and len(picked) >= 2 and not self.group_name.strip():
            yield rx.toast.error("Give the group a name.")
            return
        self.picker_busy = True
        yield
        if mode == "add_members":
            convo, err = await attempt(
                "adding members", conversations.update_conversation, me, cid, add_participant_ids=picked
            )
        else:
            kind, name = ("direct", None) if len(picked) == 1 else ("group", self.group_name.strip())
            created, err = await attempt(
                "creating a conversation", conversations.create_conversation, me, picked, type=kind, name=name
            )
            convo = created[0] if created else None
        self.picker_busy = False
        if err is not None:
            yield rx.toast.error(_error_text(err))
            return
        self.picker_mode = ""
        add_or_update_conversation(self._store(), convo)
        self._publish(me)
        if mode == "add_members":
            count = len(picked)
            yield rx.toast.success(f"Added {count} member" + ("" if count == 1 else "s") + ".")
            self.members_open = True
        else:
            yield rx.redirect(f"/chat/{convo['_id']}")

    # ----- groups: members, rename, admins ------------------------------------------------

    @rx.event
    def set_members_open(self, value: Any):
        self.members_open = flag_arg(value) is True and self.current_is_group

    @rx.event
    def set_rename_open(self, value: Any):
        self.rename_open = flag_arg(value) is True and self.current_is_group and self.current_is_admin

    async def _update_current(self, success: str, busy_id: str = "", **changes: Any):
        """update_conversation on the open group; the result is applied at once (the bus
        brings the same view a moment later, and the other members' copies)."""
        me = await self._me()
        cid = self.current_id
        if not me or not cid or self.member_busy_id:
            return
        self.member_busy_id = busy_id or "conversation"
        yield
        convo, err = await attempt("changing a group", conversations.update_conversation, me, cid, **changes)
        self.member_busy_id = ""
        if err is not None:
            yield rx.toast.error(_error_text(err))
            return
        add_or_update_conversation(self._store(), convo)
        self._publish(me)
        yield rx.toast.success(success)

    @rx.event
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
        return next(((m.id, m.name) for m in self.current_members if key and m.id == key), None)

    @rx.event
    async def make_admin(self, user_id: Any):
        if (member := self._member(user_id)) is None:
            return
        uid, name = member
        async for update in self._update_current(f"{name} is now an admin.", busy_id=uid, add_admin_ids=[uid]):
            yield update

    @rx.event
    async def dismiss_admin(self, user_id: Any):
        if (member := self._member(user_id)) is None:
            return
        uid, name = member
        async for update in self._update_current(
            f"{name} is no longer an admin.", busy_id=uid, remove_admin_ids=[uid]
        ):
            yield update

    @rx.event
    async def remove_member(self, user_id: Any):
        if (member := self._member(user_id)) is None:
            return
        uid, name = member
        async for update in self._update_current(
            f"Removed {name} from the group.", busy_id=uid, remove_participant_ids=[uid]
        ):
            yield update

    # ----- attachments ------------------------------------------------------------------

    @rx.event
    def set_attach_open(self, value: Any):
        value = flag_arg(value)
        if value is not None:
            self.attach_open = value

    @rx.event
    def add_attachment_link(self, form: dict[str, Any]):
        url = (text_arg(form_arg(form).get("url")) or "").strip()
        if not is_web_url(url) or len(url) > 2048:
            return rx.toast.error("Paste a link that starts with http:// or https://")
        if len(self.pending_attachments) >= 10:
            return rx.toast.error("At most 10 attachments per message.")
        self.pending_attachments = [*self.pending_attachments, attachment_view(attachment_from_url(url))]
        self.attach_open = False

    @rx.event
    def remove_attachment(self, url: str):
        self.pending_attachments = [a for a in self.pending_attachments if a.url != url]

    # ----- typing -----------------------------------------------------------------------

    @rx.event
    async def typing(self, _value: Any = None):
        """Keystrokes in the composer (throttled in the browser too): at most one
        typing_started per TYPING_THROTTLE_SECONDS while typing."""
        me = await self._me()
        cid = self.current_id
        if not me or not cid or self.editing_id:
            return
        now = time.monotonic()
        if self._typing_conversation == cid and now - self._typing_sent_at < TYPING_THROTTLE_SECONDS:
            return
        self._typing_conversation, self._typing_sent_at = cid, now
        try:
            await _call(_announce_typing, me, cid)
        except DomainError:
            # Rate limited or gone: typing is best effort, dropped silently. Nothing was
            # announced, so there is nothing for stop_typing to take back.
            self._typing_conversation = ""

    @rx.event
    async def stop_typing(self, _value: Any = None):
        """Send, blur or idle: tell the others at once instead of waiting for the expiry."""
        me = await self._me()
        cid = self._typing_conversation
        if not me or not cid:
            return
        self._typing_conversation, self._typing_sent_at = "", 0.0
        try:
            await _call(typing_signals.typing_stopped, me, cid)
        except DomainError:
            pass

    # ----- scrolling ----------------------------------------------------------------------

    @rx.event
    def scroll_to_bottom(self):
        return rx.call_script("window.utoolChat && window.utoolChat.scrollToBottom(true)")

    # ----- live updates -------------------------------------------------------------------

    @rx.event(background=True)
    async def listen_for_events(self):
        """on_mount: follow the bus and apply this user's chat events to this tab.

        One listener per tab: `_listening` is tab state, so a second mount (a reload keeps
        the tab's state) only re-arms `_on_page`. It ends when the user leaves the chat
        pages, signs out, or closes the tab (checked at every idle wake-up). It also wakes
        when a typing user expires, to take the "typing…" line down."""
        async with self:
            me = (await self.get_state(AuthState)).user_id
            self._on_page = True
            if self._listening or not me:
                return
            self._listening = True
            client_token = self.router.session.client_token
        try:
            async with TabListener(self, me, client_token, lambda evt: evt.name.startswith("chat:")) as bus:
                while True:
                    async with self:
                        expiry = next_typing_expiry(self._store())
                    timeout = LISTENER_IDLE_CHECK_SECONDS
                    if expiry is not None:
                        timeout = max(0.05, min(timeout, expiry - time.time()))
                    evt = await bus.next(timeout)
                    if bus.sign_out is not None:
                        yield bus.sign_out
                        return
                    if evt is None and expiry is None and not await bus.tab_is_connected():
                        return
                    step = "applying " + evt.name if evt else "expiring typing"
                    follow_ups = await listener_step(self._apply_to_tab(me, evt), step, default=[])
                    if follow_ups is None:
                        return
                    for update in follow_ups:
                        yield update
        finally:
            async with self:
                self._listening = False

    async def _apply_to_tab(self, me: str, evt) -> list[Any] | None:
        """One wake-up of the listener: apply `evt` (None: only expire typing users).
        Returns what to send the browser (leave a conversation we were removed from, check
        whether to mark read), or None when the listener should end (the tab left the chat
        pages or signed out)."""
        fetched = await self._prepare(me, evt) if evt else None
        async with self:
            if not self._on_page or (await self.get_state(AuthState)).user_id != me:
                return None
            chat = self._store()
            now = time.time()
            typing_changed = expire_typing(chat, now)
            was_open = chat["conversations"]["currentConversationId"]
            check_read = apply_event(chat, me, evt, fetched, now) if evt is not None else False
            # Removed from the open group (by an admin, or leaving in another tab).
            dropped = bool(was_open) and not chat["conversations"]["currentConversationId"]
            if dropped:
                self._close_dialogs()
            if evt is not None or typing_changed:
                self._publish(me, with_messages=evt is not None and evt.name in MESSAGE_VIEW_EVENTS)
            current = self.current_id
        follow_ups: list[Any] = []
        if dropped:
            follow_ups += [
                rx.toast.info("You are no longer a member of that conversation."),
                rx.redirect("/chat", replace=True),
            ]
        if check_read:
            # Mark read only if the tab is visible and still on that conversation.
            follow_ups.append(rx.call_script(
                "document.visibilityState === 'visible' && "
                f"window.location.pathname.replace(/\\/$/, '') === {json.dumps('/chat/' + current)}",
                callback=ChatState.mark_current_read,
            ))
        return follow_ups

    async def _prepare(self, me: str, evt) -> dict[str, Any] | None:
        """Domain work a new message needs, done before taking the state lock: acknowledge
        delivery of a message from someone else, and fetch its conversation if this tab does
        not list it yet (returned, for apply_event)."""
        if evt.name != "chat:new_message":
            return None
        cid, message = evt.payload.get("conversationId"), evt.payload.get("message") or {}
        fetched = None
        # Read outside the lock (a background task's copy may be stale): at worst one
        # extra fetch of a conversation that another event has just added.
        if cid not in self._chat.get("conversations", {}).get("entities", {}):
            try:
                fetched = await _call(conversations.get_conversation, me, cid)
            except DomainError:
                pass
        if (message.get("sender") or {}).get("_id") != me and message.get("_id"):
            try:
                await _call(messages.mark_delivered, me, cid, message["_id"])
            except DomainError:
                pass
        return fetched
