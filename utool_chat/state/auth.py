"""AuthState: who is using this tab. A thin door onto `utool_chat.domain.accounts`.

The login token lives in the browser's localStorage (it survives reloads and is shared by
the user's tabs); the user behind it is always resolved on the backend with
`accounts.authenticate`, never taken from the client. Other states read the signed-in
user with `auth = await self.get_state(AuthState)` and then `auth.user_id`,
`auth.display_name`, `auth.token` (empty strings when nobody is signed in).

Pages behind the login use `on_load=AuthState.check_login` (then their own loaders, which
must return early when `user_id` is empty, because check_login has redirected).

A logout ends the session in every open tab, not only the one where it was clicked: the
pages' bus listeners (ChatListenerState, FriendsState) pass `accounts.SESSION_REVOKED` events for
their user to `sign_out_if_session_ended`, which sends the tab to /login if its own token
was the one revoked (another device's logout leaves it signed in).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import reflex as rx
from reflex_base.event import EventSpec

from utool_chat.domain import accounts
from utool_chat.domain.errors import DomainError, Unauthenticated
from utool_chat.state.guards import attempt, form_arg, sentence
from utool_chat.state.handler import handler

PUBLIC_PATHS = ("/login", "/register")
HOME_PATH = "/chat"

# Which form field shows a domain error, by the error's machine code.
_FIELD_BY_CODE = {
    "invalid_username": "username",
    "username_taken": "username",
    "invalid_display_name": "display_name",
    "invalid_password": "password",
    "invalid_credentials": "password",
}


def _safe_next(path: Any) -> str:
    """Only same-site paths may be a post-login destination (no open redirects)."""
    if isinstance(path, str) and path.startswith("/") and not path.startswith(("//", *PUBLIC_PATHS)):
        return path
    return HOME_PATH


async def sign_out_if_session_ended(state: rx.State) -> EventSpec | None:
    """For a background bus listener, after SESSION_REVOKED for this tab's user: sign the tab
    out and return the redirect to /login if its token no longer works; None otherwise (also
    when that cannot be told right now: an outage signs nobody out).

    The event names a session id, not a token; checking the tab's own token (one query per
    open tab, on a rare event) is what tells whether this tab's login is the one that ended."""
    async with state:
        token = (await state.get_state(AuthState)).token
    if token:
        user = await attempt("checking a session", accounts.authenticate, token)
        if not isinstance(user, Unauthenticated):
            return None
    async with state:
        auth = await state.get_state(AuthState)
        if auth.token and auth.token != token:  # signed in again meanwhile (another tab)
            return None
        auth._sign_out()
    return rx.redirect("/login", replace=True)


class AuthState(rx.State):
    """The signed-in user of this tab, and the login/register forms."""

    token: str = rx.LocalStorage("", name="utool_token", sync=True)  # only read on the backend

    # Resolved on the backend from `token` (check_login / login / register).
    user_id: rx.Field[str] = rx.field("")
    username: rx.Field[str] = rx.field("")
    display_name: rx.Field[str] = rx.field("")
    avatar: rx.Field[str] = rx.field("")

    # Form state: one inline message per field, plus a busy flag for the submit button.
    username_error: rx.Field[str] = rx.field("")
    display_name_error: rx.Field[str] = rx.field("")
    password_error: rx.Field[str] = rx.field("")
    submitting: rx.Field[bool] = rx.field(False)

    @rx.var
    def is_authenticated(self) -> bool:
        return self.user_id != ""

    # ----- session -------------------------------------------------------------------

    def _sign_in(self, user: dict[str, Any], token: str | None = None) -> None:
        if token is not None:
            self.token = token
        self.user_id = user["_id"]
        self.username = user["username"]
        self.display_name = user["displayName"]
        self.avatar = user.get("avatar") or ""

    def _sign_out(self) -> None:
        self.token = ""
        self.user_id = self.username = self.display_name = self.avatar = ""

    def _clear_form_errors(self) -> None:
        self.username_error = self.display_name_error = self.password_error = ""

    async def _resolve_token(self) -> bool | DomainError:
        """Validate the stored token against the database: True (signed in), False (no token,
        or a dead one: the tab is signed out), or the error that kept it from being checked
        (an outage: the token is kept, nobody is signed out by it)."""
        if not self.token:
            self._sign_out()
            return False
        user = await attempt("checking the login", accounts.authenticate, self.token)
        if isinstance(user, Unauthenticated):
            self._sign_out()
            return False
        if isinstance(user, DomainError):
            return user
        self._sign_in(user)
        return True

    @handler
    async def check_login(self):
        """on_load of every signed-in page: a missing or dead token goes to /login."""
        signed_in = await self._resolve_token()
        if isinstance(signed_in, DomainError):
            return rx.toast.error(sentence(signed_in.message))  # the page keeps its spinner
        if signed_in:
            return None
        path = self.router.url.path or "/"
        if path.startswith(PUBLIC_PATHS):
            return None
        if path in ("", "/"):
            return rx.redirect("/login", replace=True)
        full = path + (f"?{self.router.url.query}" if self.router.url.query else "")
        return rx.redirect(f"/login?next={quote(full, safe='')}", replace=True)

    @handler
    async def redirect_if_logged_in(self):
        """on_load of /login and /register: a signed-in user has nothing to do there."""
        self._clear_form_errors()
        self.submitting = False
        signed_in = await self._resolve_token()
        if isinstance(signed_in, DomainError):
            return rx.toast.error(sentence(signed_in.message))
        if signed_in:
            return rx.redirect(_safe_next(self.router.url.query_parameters.get("next")), replace=True)
        return None

    @handler
    async def route_home(self):
        """on_load of /: the chat for a signed-in user, the login page otherwise."""
        signed_in = await self._resolve_token()
        if isinstance(signed_in, DomainError):
            return rx.toast.error(sentence(signed_in.message))
        return rx.redirect(HOME_PATH if signed_in else "/login", replace=True)

    @handler
    async def logout(self):
        token = self.token
        self._sign_out()
        if token:
            ended = await attempt("logging out", accounts.logout, token)
            # Unauthenticated: already revoked elsewhere, the outcome is the same.
            if isinstance(ended, DomainError) and not isinstance(ended, Unauthenticated):
                return [rx.toast.error(sentence(ended.message)), rx.redirect("/login", replace=True)]
        return rx.redirect("/login", replace=True)

    # ----- forms -----------------------------------------------------------------------

    def _show_error(self, err: DomainError) -> EventSpec | None:
        """A form field's message when the error is about one, else a toast."""
        field = _FIELD_BY_CODE.get(err.code)
        if field is None:
            return rx.toast.error(sentence(err.message))
        setattr(self, f"{field}_error", sentence(err.message))
        return None

    async def _sign_in_with(
        self,
        action: Callable[..., dict[str, Any]],
        *args: Any,
        then: Callable[[dict[str, Any]], list[EventSpec]],
    ):
        """Run accounts.login or accounts.register with the submit button busy; on success
        sign this tab in and send what `then(result)` returns, else show the error by its
        field. The button is freed whatever happens (a bug gets a generic toast)."""
        self.submitting = True
        yield
        result = await attempt("signing in", action, *args)
        self.submitting = False
        if isinstance(result, DomainError):
            yield self._show_error(result)
            return
        self._sign_in(result["user"], result["token"])
        for update in then(result):
            yield update

    @handler
    async def login(self, form: dict[str, Any]):
        form = form_arg(form)
        self._clear_form_errors()
        username = str(form.get("username") or "").strip()
        password = str(form.get("password") or "")
        if not username:
            self.username_error = "Enter your username."
        if not password:
            self.password_error = "Enter your password."
        if self.username_error or self.password_error:
            return
        destination = _safe_next(self.router.url.query_parameters.get("next"))
        async for update in self._sign_in_with(
            accounts.login, username, password, then=lambda _result: [rx.redirect(destination, replace=True)]
        ):
            yield update

    @handler
    async def register(self, form: dict[str, Any]):
        form = form_arg(form)
        self._clear_form_errors()
        username = form.get("username") or ""
        password = form.get("password") or ""
        display_name = form.get("display_name") or None
        # Check every field up front so the user sees all problems at once; the domain
        # re-checks (it is the authority) and adds "taken".
        for field, check in (("username", accounts.check_username), ("password", accounts.check_password)):
            refused = await attempt("checking a sign-up field", check, form.get(field) or "")
            if isinstance(refused, DomainError):
                setattr(self, f"{field}_error", sentence(refused.message))
        if self.username_error or self.password_error:
            return

        def welcome(result: dict[str, Any]) -> list[EventSpec]:
            return [
                rx.toast.success(f"Welcome to uTool Chat, {result['user']['displayName']}!"),
                rx.redirect("/friends", replace=True),
            ]

        async for update in self._sign_in_with(accounts.register, username, password, display_name, then=welcome):
            yield update
