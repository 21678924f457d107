"""GET /api/v1/chat/search — message search (domain/search.py holds every rule).

Thin door like api/chat.py: parse the query string, authenticate, call the domain, envelope.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool

from utool_chat.api.chat import _int_param
from utool_chat.api.deps import current_user
from utool_chat.api.envelope import ok
from utool_chat.domain import search

router = APIRouter(prefix="/api/v1/chat", tags=["chat"])

DESCRIPTION = """\
Messages the caller can see (conversations they are a member of, archived ones included),
**newest first**. Each item is `{message, conversation: {_id, type, name, isArchived,
otherParticipant}, highlights: [[start, end], …], attachmentHighlights: [{index, highlights}]}`;
`highlights` are the matched parts of `message.content` and `attachmentHighlights` those of
`message.attachments[index].name`, as half-open ranges in **UTF-16 code units** (JavaScript
string indices). `meta`: `{hasMore, nextCursor, limit}`; pass `nextCursor` back as `cursor`
for the next page.

**Matching** is case- and accent-insensitive, in any language (no stemming). Every word of
`q` must appear in the message or one of its attachments' file names: a word of 3 or more
characters anywhere ("ploy" finds "deployments"), a shorter one at the start of a word
("de" finds "deployments"); in Chinese, Japanese, Korean, Thai and other scripts written
without spaces, and for words starting with a symbol, anywhere at any length.
`"quoted phrases"` match as written, in order. `%`, `_`, `\\`, stray quotes and regex
syntax are literal.

**Operators:** `from:<username>`, `in:<conversation>` (its id, a group's name, or the other
person of a direct conversation by username or display name; `in:"two words"`),
`has:attachment`, `has:image`, `has:link`, `before:YYYY-MM-DD`, `after:YYYY-MM-DD`,
`on:YYYY-MM-DD` (UTC days; before/after exclude the day itself). Several `from:` or `in:`
widen the search; everything else narrows it. A query with operators only lists what they
select.

Errors (400): `empty_query`, `query_too_long` (over 500 characters), `invalid_query`
(a malformed operator value such as `before:yesterday` or `has:video`), `too_many_terms`
(over 20 words), `invalid_cursor`, `validation_error` (limit). A `conversationId` the caller
is not an active member of is 404 `conversation_not_found`, exactly like a random id.
"""


@router.get("/search", summary="Search the caller's messages (newest first, cursor-paginated)",
            description=DESCRIPTION)
async def search_messages(
    user: dict[str, Any] = Depends(current_user),
    q: str | None = Query(None, description="the search: words, \"phrases\" and operators (1–500 characters)"),
    conversationId: str | None = Query(None, description="search only this conversation"),
    limit: str | None = Query(None, description="results per page, 1–100 (default 20)"),
    cursor: str | None = Query(None, description="meta.nextCursor of the previous page"),
):
    items, meta = await run_in_threadpool(
        search.search_messages, user["_id"], "" if q is None else q, conversationId, _int_param("limit", limit),
        cursor,
    )
    return ok(items, meta=meta)
