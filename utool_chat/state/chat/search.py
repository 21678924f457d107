"""SearchState: message search from the chat pages (issue 12's web app part).

The search field sits over the conversation list (Ctrl+K / Cmd+K or "/" focus it:
assets/jump.js); ChatHeader's "Search in this conversation" scopes it to the open
conversation. While it is open the sidebar shows the results instead of the list; at phone
width it is a screen of its own (`search_screen`), left with its back button. Typing is
debounced in the browser (the input's debounce); each query runs `domain.search.search_messages`
(the one set of matching and visibility rules) and the next page comes from its cursor.
Choosing a result is MessagesState.open_at_message.

Results are views (`SearchResultView`): the conversation, sender, time, and the snippet cut
into segments — text pieces, the matched ones flagged — that the page renders as text spans
and <mark>s. Nothing from user text is ever HTML.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime, tzinfo
from typing import Any

import reflex as rx

from utool_chat.domain import search
from utool_chat.domain.errors import DomainError
from utool_chat.state.chat.messages import MessagesState
from utool_chat.state.chat.store import ChatState
from utool_chat.state.chat_views import conversation_title, display_name, list_time_label, reader_zone
from utool_chat.state.guards import attempt, key_arg, sentence, text_arg
from utool_chat.state.handler import handler

RESULTS_PAGE_SIZE = 20
SNIPPET_BEFORE = 40  # characters of context kept before the first match
SNIPPET_CHARS = 160  # the longest snippet shown
DEBOUNCE_MS = 250
WHITESPACE = re.compile(r"\s+")


@dataclasses.dataclass
class SegmentView:
    text: str = ""
    mark: bool = False


@dataclasses.dataclass
class SearchResultView:
    message_id: str = ""
    conversation_id: str = ""
    conversation_name: str = ""
    is_group: bool = False
    sender_name: str = ""
    time_label: str = ""
    full_time: str = ""
    segments: list[SegmentView] = dataclasses.field(default_factory=list)


def snippet_segments(text: str, ranges: list[list[int]], before: int = SNIPPET_BEFORE,
                     limit: int = SNIPPET_CHARS) -> list[SegmentView]:
    """The text of a result as segments (search.highlight_segments: ranges in UTF-16 code
    units), whitespace flattened, starting a little before the first match and at most
    `limit` characters long ("…" where text was cut)."""
    pieces = [(WHITESPACE.sub(" ", piece), mark) for piece, mark in search.highlight_segments(text, ranges) if piece]
    # Flattening may leave a space at both sides of a boundary: keep one.
    segments: list[SegmentView] = []
    for piece, mark in pieces:
        if segments and segments[-1].text.endswith(" ") and piece.startswith(" "):
            piece = piece[1:]
        if piece:
            segments.append(SegmentView(piece, mark))
    first_mark = next((i for i, seg in enumerate(segments) if seg.mark), None)
    if first_mark is not None:
        lead = "".join(seg.text for seg in segments[:first_mark])
        if len(lead) > before:
            kept = lead[len(lead) - before:].lstrip()
            segments = [SegmentView("…" + kept, False), *segments[first_mark:]]
    if segments:
        segments[0].text = segments[0].text.lstrip() or segments[0].text
    out: list[SegmentView] = []
    used = 0
    for seg in segments:
        if used + len(seg.text) > limit:
            out.append(SegmentView(seg.text[: max(0, limit - used)].rstrip() + "…", seg.mark))
            break
        out.append(seg)
        used += len(seg.text)
    return out


def _attachment_segments(item: dict[str, Any]) -> list[SegmentView]:
    """A result whose text did not match (or that has none): the file name that did."""
    attachments = item["message"].get("attachments") or []
    for found in item.get("attachmentHighlights") or []:
        index = found.get("index", -1)
        if 0 <= index < len(attachments):
            name = str(attachments[index].get("name") or "")
            return [SegmentView("📎 ", False), *snippet_segments(name, found.get("highlights") or [])]
    if attachments:
        return [SegmentView("📎 " + str(attachments[0].get("name") or "Attachment"), False)]
    return []


def result_view(item: dict[str, Any], me: str, tz: tzinfo, now: datetime) -> SearchResultView:
    """One search_messages item, ready to show."""
    message, place = item["message"], item["conversation"]
    content = message.get("content") or ""
    if content and (item.get("highlights") or not item.get("attachmentHighlights")):
        segments = snippet_segments(content, item.get("highlights") or [])
    else:
        segments = _attachment_segments(item)
    other = place.get("otherParticipant")
    # conversation_title wants participants; a result's summary names the other one directly.
    convo = {"type": place.get("type"), "name": place.get("name"), "participants": [other] if other else []}
    sender = message.get("sender")
    created = message.get("createdAt") or ""
    try:
        stamp = datetime.fromisoformat(created.replace("Z", "+00:00")).astimezone(tz)
        full_time = stamp.strftime("%A %d %B %Y, %H:%M")
    except ValueError:
        full_time = ""
    return SearchResultView(
        message_id=message["_id"],
        conversation_id=place["_id"],
        conversation_name=conversation_title(convo, me),
        is_group=place.get("type") != "direct",
        sender_name="You" if (sender or {}).get("_id") == me else display_name(sender),
        time_label=list_time_label(created, tz, now),
        full_time=full_time,
        segments=segments,
    )


class SearchState(ChatState):
    search_open: rx.Field[bool] = rx.field(False)  # the sidebar shows the search, not the list
    search_screen: rx.Field[bool] = rx.field(False)  # phone width: the search is the screen shown
    query: rx.Field[str] = rx.field("")
    scope_id: rx.Field[str] = rx.field("")  # "search in this conversation": its id
    scope_name: rx.Field[str] = rx.field("")
    results: rx.Field[list[SearchResultView]] = rx.field(default_factory=list)
    searched: rx.Field[bool] = rx.field(False)  # `results` answer the current query
    search_loading: rx.Field[bool] = rx.field(False)
    loading_more: rx.Field[bool] = rx.field(False)
    search_error: rx.Field[str] = rx.field("")
    results_have_more: rx.Field[bool] = rx.field(False)

    _cursor: str = ""

    @rx.var
    def search_idle(self) -> bool:
        """Nothing typed yet: the panel shows what can be searched."""
        return self.query.strip() == ""

    def _reset_results(self) -> None:
        self.results, self.searched, self.search_error = [], False, ""
        self.results_have_more, self._cursor = False, ""

    async def _run(self, more: bool):
        """Search for `query` in `scope_id` (or everywhere): the first page, or (`more`) the next."""
        me = await self._me()
        q = self.query.strip()
        if not me or not q:
            self._reset_results()
            return
        if more:
            self.loading_more = True
        else:
            self.search_loading = True
            self.search_error = ""
        yield
        result = await attempt(
            "searching messages", search.search_messages, me, q, conversation_id=self.scope_id or None,
            limit=RESULTS_PAGE_SIZE, cursor=self._cursor if more else None,
        )
        self.search_loading = self.loading_more = False
        if q != self.query.strip():
            return  # typing went on meanwhile: the newer query's own search shows its results
        if isinstance(result, DomainError):
            if more:
                yield rx.toast.error(f"Could not load more results: {result.message}")
            else:
                self._reset_results()
                self.search_error = sentence(result.message)
            return
        items, meta = result
        tz, now = reader_zone(self._tz), datetime.now(UTC)
        views = [result_view(item, me, tz, now) for item in items]
        self.results = [*self.results, *views] if more else views
        self.searched = True
        self.results_have_more = bool(meta.get("hasMore"))
        self._cursor = meta.get("nextCursor") or ""

    @handler
    async def set_query(self, value: Any):
        """The field's (debounced) value."""
        text = text_arg(value, search.MAX_QUERY_CHARS + 1)
        if text is None or text == self.query:
            return
        self.query = text
        self.search_open = self.search_screen = True
        self._cursor = ""
        if not text.strip():
            self._reset_results()
            return
        async for update in self._run(more=False):
            yield update

    @handler
    async def load_more_results(self):
        if self.results_have_more and not self.loading_more and self._cursor:
            async for update in self._run(more=True):
                yield update

    @handler
    async def retry_search(self):
        async for update in self._run(more=False):
            yield update

    @handler
    def open_search(self):
        """Ctrl+K, "/" or a tap on the field: show the search and put the caret in it."""
        self.search_open = self.search_screen = True
        return rx.call_script("window.utool && window.utool.jump && window.utool.jump.focusSearch()")

    @handler
    def field_clicked(self, _value: Any = None):
        """A click or tap on the field shows the search. Focus alone does not: a keyboard
        user tabbing through the field to the conversation list must still find the list
        (typing, Ctrl+K or "/" open it too)."""
        if not self.search_open or not self.search_screen:
            self.search_open = self.search_screen = True

    @handler
    def field_blurred(self, _value: Any = None):
        """Leaving an empty, unscoped field puts the conversation list back."""
        if not self.query.strip() and not self.scope_id:
            self.search_open = self.search_screen = False

    @handler
    async def search_in_conversation(self):
        """ChatHeader's "Search in this conversation"."""
        if not self.current_id:
            return
        self.scope_id, self.scope_name = self.current_id, self.current_name
        self.search_open = self.search_screen = True
        yield rx.call_script("window.utool && window.utool.jump && window.utool.jump.focusSearch()")
        if self.query.strip():
            async for update in self._run(more=False):
                yield update

    @handler
    async def clear_scope(self):
        """The scope chip's ×: search every conversation again."""
        self.scope_id = self.scope_name = ""
        if self.query.strip():
            async for update in self._run(more=False):
                yield update

    @handler
    def close_search(self):
        """Escape, or the panel's back button: the list (or the conversation) again."""
        self.search_open = self.search_screen = False
        self.query = self.scope_id = self.scope_name = ""
        self._reset_results()

    @handler
    async def open_result(self, conversation_id: Any, message_id: Any):
        """A result was chosen: open its conversation at the message. At phone width the
        conversation becomes the screen; back from it shows the results again."""
        cid, mid = key_arg(conversation_id), key_arg(message_id)
        if not cid or not mid:
            return
        self.search_screen = False
        yield MessagesState.open_at_message(cid, mid)
