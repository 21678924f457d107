"""/friends: find people, answer requests, see (and message) friends. Updates live."""

from __future__ import annotations

import reflex as rx
from reflex_base.vars.object import ObjectVar

from utool_chat.components.avatar import user_avatar
from utool_chat.components.chat.presence import friend_presence_dot, friend_presence_text, presence_reporter
from utool_chat.components.dialogs import confirm_dialog
from utool_chat.components.layout import app_shell
from utool_chat.state.friends import QUERY_MAX_CHARS, FriendsState, Person

PersonVar = ObjectVar[Person]  # a row of a FriendsState list, in a foreach


def _person_row(person: PersonVar, *actions: rx.Component, testid: str) -> rx.Component:
    """Avatar, display name and @username on the left, `actions` on the right."""
    return rx.hstack(
        user_avatar(person["display_name"], person["avatar"], size="3"),
        rx.box(
            rx.text(person["display_name"], weight="medium", size="3", class_name="truncate", as_="div"),
            rx.text("@", person["username"], size="2", color_scheme="gray", class_name="truncate", as_="div"),
            min_width="0",
            flex="1",
        ),
        rx.hstack(*actions, spacing="2", align="center", flex_shrink="0"),
        align="center",
        spacing="3",
        width="100%",
        class_name="person-row",
        data_testid=testid,
        data_username=person["username"],
    )


def _busy(key: rx.Var[str]) -> rx.Var[bool]:
    return FriendsState.busy_id == key


def _message_button(person: PersonVar) -> rx.Component:
    return rx.link(
        rx.button(rx.icon("message-circle", size=16), "Message", size="2", variant="soft"),
        href="/chat?with=" + person["id"],
        underline="none",
        data_testid="message-friend",
    )


def _section(title: str, count: rx.Var | None, *body: rx.Component, icon: str, testid: str) -> rx.Component:
    heading = [rx.icon(icon, size=18, class_name="section-icon"), rx.heading(title, size="4")]
    if count is not None:
        heading.append(rx.badge(count, variant="soft", radius="full"))
    return rx.card(
        rx.vstack(
            rx.hstack(*heading, align="center", spacing="2"),
            *body,
            spacing="3",
            width="100%",
            align="stretch",
        ),
        size="3",
        width="100%",
        data_testid=testid,
    )


def _empty(icon: str, title: str, hint: str, testid: str) -> rx.Component:
    return rx.vstack(
        rx.center(rx.icon(icon, size=24), class_name="empty-icon"),
        rx.text(title, weight="medium", size="3"),
        rx.text(hint, size="2", color_scheme="gray", align="center"),
        align="center",
        spacing="2",
        padding_y="20px",
        width="100%",
        data_testid=testid,
    )


def _skeleton_rows(n: int = 3) -> rx.Component:
    return rx.vstack(
        *[
            rx.hstack(
                rx.skeleton(rx.box(width="40px", height="40px"), class_name="skeleton-round"),
                rx.vstack(
                    rx.skeleton(rx.box(width="160px", height="14px")),
                    rx.skeleton(rx.box(width="100px", height="12px")),
                    spacing="2",
                ),
                align="center",
                spacing="3",
            )
            for _ in range(n)
        ],
        spacing="4",
        width="100%",
    )


# ----- search ------------------------------------------------------------------------


def _result_action(person: PersonVar) -> rx.Component:
    return rx.match(
        person["relationship"],
        ("friend", _message_button(person)),
        ("outgoing", rx.badge(rx.icon("clock", size=12), "Requested", color_scheme="gray", size="2")),
        (
            "incoming",
            rx.button(
                rx.icon("check", size=16), "Accept",
                size="2", loading=_busy(person["id"]),
                on_click=FriendsState.send_request(person),
                data_testid="accept-from-search",
            ),
        ),
        rx.button(
            rx.icon("user-plus", size=16), "Add friend",
            size="2", loading=_busy(person["id"]),
            on_click=FriendsState.send_request(person),
            data_testid="add-friend",
        ),
    )


def search_card() -> rx.Component:
    has_query = FriendsState.query.strip() != ""
    return _section(
        "Find people",
        None,
        rx.debounce_input(
            rx.input(
                rx.input.slot(rx.icon("search", size=16)),
                rx.cond(FriendsState.searching, rx.input.slot(rx.spinner(size="1"))),
                value=FriendsState.query,
                on_change=FriendsState.set_query,
                placeholder="Search by username or name…",
                max_length=QUERY_MAX_CHARS,
                size="3",
                width="100%",
                auto_complete="off",
                data_testid="friend-search",
            ),
            debounce_timeout=300,
        ),
        rx.cond(
            FriendsState.query_error != "",
            rx.text(FriendsState.query_error, size="2", color_scheme="red", data_testid="search-error"),
        ),
        rx.cond(
            has_query & (FriendsState.query_error == ""),
            rx.cond(
                FriendsState.results.length() > 0,
                rx.vstack(
                    rx.foreach(
                        FriendsState.results,
                        lambda p: _person_row(p, _result_action(p), testid="search-result"),
                    ),
                    spacing="3",
                    width="100%",
                ),
                rx.cond(
                    ~FriendsState.searching,
                    rx.text(
                        "No one found for “", FriendsState.query, "”.",
                        size="2", color_scheme="gray", data_testid="no-results",
                    ),
                ),
            ),
        ),
        icon="search",
        testid="search-card",
    )


# ----- requests and friends ----------------------------------------------------------------


def incoming_card() -> rx.Component:
    def row(person: PersonVar) -> rx.Component:
        busy = _busy(person["request_id"])
        return _person_row(
            person,
            rx.button(
                rx.icon("check", size=16), "Accept",
                size="2", loading=busy, on_click=FriendsState.accept(person),
                data_testid="accept-request",
            ),
            rx.button(
                "Decline",
                size="2", variant="soft", color_scheme="gray", disabled=busy,
                on_click=FriendsState.decline(person),
                data_testid="decline-request",
            ),
            testid="incoming-request",
        )

    return rx.cond(
        FriendsState.incoming.length() > 0,
        _section(
            "Friend requests",
            FriendsState.incoming_count,
            rx.vstack(rx.foreach(FriendsState.incoming, row), spacing="3", width="100%"),
            icon="inbox",
            testid="incoming-card",
        ),
    )


def outgoing_card() -> rx.Component:
    def row(person: PersonVar) -> rx.Component:
        return _person_row(
            person,
            rx.badge(rx.icon("clock", size=12), "Pending", color_scheme="gray", size="2"),
            testid="outgoing-request",
        )

    return rx.cond(
        FriendsState.outgoing.length() > 0,
        _section(
            "Sent requests",
            FriendsState.outgoing.length(),
            rx.vstack(rx.foreach(FriendsState.outgoing, row), spacing="3", width="100%"),
            icon="send",
            testid="outgoing-card",
        ),
    )


def _remove_friend_control(person: PersonVar) -> rx.Component:
    """A quiet icon button that asks before removing the friend."""
    return confirm_dialog(
        ("Remove ", person["display_name"], "?"),
        "You will no longer be friends. You can send a new request later.",
        rx.button("Remove", color_scheme="red", on_click=FriendsState.remove(person), data_testid="confirm-remove"),
        trigger=rx.icon_button(
            rx.icon("user-minus", size=16),
            variant="ghost", color_scheme="gray", size="2",
            loading=_busy(person["id"]),
            aria_label="Remove friend",
            title="Remove friend",
            data_testid="remove-friend",
        ),
    )


def friends_card() -> rx.Component:
    def row(person: PersonVar) -> rx.Component:
        return rx.box(
            _person_row(person, friend_presence_text(person["presence"]), _message_button(person),
                        _remove_friend_control(person), testid="friend"),
            friend_presence_dot(person["presence"]),
            class_name="friend-with-presence",
        )

    return _section(
        "Your friends",
        FriendsState.friends.length(),
        rx.cond(
            ~FriendsState.loaded,
            _skeleton_rows(),
            rx.cond(
                FriendsState.friends.length() > 0,
                rx.vstack(rx.foreach(FriendsState.friends, row), spacing="3", width="100%"),
                _empty(
                    "users",
                    "No friends yet — search for people above",
                    "Send a request; once they accept, you can message them.",
                    testid="friends-empty",
                ),
            ),
        ),
        icon="users",
        testid="friends-card",
    )


def friends_page() -> rx.Component:
    return app_shell(
        rx.vstack(
            rx.box(
                rx.heading("Friends", size="7"),
                rx.text("Find people, answer requests, start a conversation.", color_scheme="gray", size="3"),
            ),
            search_card(),
            incoming_card(),
            friends_card(),
            outgoing_card(),
            presence_reporter(),
            spacing="5",
            width="100%",
            align="stretch",
        ),
        active="friends",
    )
