"""Guards for what reaches a Reflex event handler from the browser, shared by every state.

Any browser can call any handler over Reflex's websocket with ANY arguments: a list where
the page sends an id, a number where it sends a form, a string of megabytes. The domain
re-checks everything it is given (so nothing leaks or is stored wrongly), but a handler
that trips over a malformed argument itself — `form.get` on a list, a list used as a dict
key, a non-string stored in a `str` var — fails with a stack trace and can leave the tab's
state half-changed (a spinner that never stops, a var of the wrong type that breaks the
next handler). So handlers pass their arguments through these guards first: each returns
the argument in the shape the handler expects, or None / {} when it is not in that shape,
and the handler then ignores the call (the real page never sends such arguments, so there
is no one to explain it to).

`attempt(action, fn, ...)` is the other half, and the Reflex door's one way to fail: every
domain call a state makes (chat, friends, auth, the live listeners) goes through it. It never
raises: any failure comes back as a DomainError (a bug or an outage becomes one with the
generic message, logged with its traceback), so a handler that set a busy flag always gets
control back to put it down and show the error (a toast, or the field's message), instead of
a stack trace and a spinner that never stops. `sentence(err.message)` is how a domain message
is shown.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, overload

from utool_chat.domain.errors import DomainError

log = logging.getLogger(__name__)
T = TypeVar("T")

# Ids and tempIds: the domain's ids are 32 hex characters, tempIds at most 128.
MAX_KEY_CHARS = 128
GENERIC_ERROR = "Something went wrong. Please try again."


def sentence(message: str) -> str:
    """Domain messages start lower-case ("username must …"); the UI shows sentences."""
    return message[:1].upper() + message[1:]


def text_arg(value: Any, max_chars: int | None = None) -> str | None:
    """`value` if it is a string (cut to `max_chars`), else None. Lone surrogates (a valid
    JSON escape such as "\\ud800", but not encodable as UTF-8) become "?", so the text can
    be sent back to the browser."""
    if not isinstance(value, str):
        return None
    if max_chars is not None:
        value = value[:max_chars]
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "replace").decode("utf-8")
    return value


def key_arg(value: Any) -> str | None:
    """An id or tempId the page sent: a non-empty string of at most MAX_KEY_CHARS, else None."""
    if isinstance(value, str) and 0 < len(value) <= MAX_KEY_CHARS:
        return value
    return None


def form_arg(value: Any) -> dict[str, Any]:
    """A submitted form: the dict itself, else {} (every field then reads as missing)."""
    return value if isinstance(value, dict) else {}


def flag_arg(value: Any) -> bool | None:
    """An open/closed flag (a dialog's on_open_change): a bool, else None."""
    return value if isinstance(value, bool) else None


def person_arg(value: Any, id_field: str) -> dict[str, str] | None:
    """A person row the page sent back (FriendsState's `Person`): its `id_field` must be an
    id; the display name is only used in toasts, so a missing one reads as "this user"."""
    if not isinstance(value, dict) or key_arg(value.get(id_field)) is None:
        return None
    name = text_arg(value.get("display_name"), 64) or "this user"
    return {id_field: value[id_field], "display_name": name}


@overload
async def attempt(action: str, fn: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T | DomainError: ...
@overload
async def attempt(action: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T | DomainError: ...


async def attempt(action: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a domain call, never raising: its result, or the DomainError it raised, or — for
    anything else, a bug or an outage — a DomainError with the generic message (code
    `unexpected_error`) after logging the traceback. A synchronous call runs in a worker
    thread; a coroutine function (the domain's `*_async` calls, which do their database work
    on the loop) is awaited here. One failure shape lets a handler put its busy flags back and
    report the error in one place, whatever went wrong: `if isinstance(result, DomainError): …`.
    (`action` says what was being done, for the log.)"""
    try:
        if inspect.iscoroutinefunction(fn):
            return await fn(*args, **kwargs)
        return await asyncio.to_thread(fn, *args, **kwargs)
    except DomainError as err:
        return err
    except Exception:
        log.exception("unexpected error while %s", action)
        return DomainError(GENERIC_ERROR, code="unexpected_error", status=500)
