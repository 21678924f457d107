"""/login and /register: one card each, inline messages under the fields."""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex_base.event import EventCallback

from utool_chat.components.layout import auth_card
from utool_chat.state.auth import AuthState


def _field(
    label: str,
    name: str,
    error: rx.Var[str],
    *,
    type_: str = "text",
    placeholder: str = "",
    hint: str = "",
    auto_complete: str = "off",
    auto_focus: bool = False,
) -> rx.Component:
    """A labelled input with its hint, replaced by the error message when there is one."""
    return rx.vstack(
        rx.el.label(label, html_for=name, class_name="rt-Text rt-r-size-2 rt-r-weight-medium"),
        rx.input(
            id=name,
            name=name,
            type=type_,
            placeholder=placeholder,
            auto_complete=auto_complete,
            auto_focus=auto_focus,
            size="3",
            width="100%",
            color_scheme=rx.cond(error != "", "red", "indigo"),
            class_name=rx.cond(error != "", "field-invalid", ""),
            aria_invalid=rx.cond(error != "", "true", "false"),
            # Only name a description that is on the page (an error, or the hint).
            aria_describedby=rx.cond(error != "", f"{name}-message", f"{name}-message" if hint else ""),
        ),
        rx.cond(
            error != "",
            rx.text(
                rx.icon("circle-alert", size=14, class_name="inline-icon"),
                error,
                id=f"{name}-message",
                size="1",
                color_scheme="red",
                role="alert",
                data_testid=f"{name}-error",
            ),
            rx.text(hint, id=f"{name}-message", size="1", color_scheme="gray") if hint else rx.fragment(),
        ),
        spacing="1",
        width="100%",
        align="stretch",
    )


def _auth_form(
    heading: str,
    intro: str,
    *fields: rx.Component,
    submit: tuple[str, str],
    switch: tuple[str, str, str],
    on_submit: EventCallback[dict[str, Any]],
    testid: str,
) -> rx.Component:
    """The card both pages share: heading, intro, `fields`, the submit button (label, busy
    label) and the link to the other page (prompt, link text, href)."""
    label, busy_label = submit
    prompt, link_text, href = switch
    return auth_card(
        rx.form(
            rx.vstack(
                rx.heading(heading, size="6"),
                rx.text(intro, size="2", color_scheme="gray"),
                *fields,
                rx.button(
                    rx.cond(AuthState.submitting, busy_label, label),
                    type="submit",
                    size="3",
                    width="100%",
                    loading=AuthState.submitting,
                    data_testid="submit",
                ),
                rx.text(
                    prompt,
                    " ",
                    rx.link(link_text, href=href, weight="medium"),
                    size="2",
                    color_scheme="gray",
                    align="center",
                    width="100%",
                ),
                spacing="4",
                width="100%",
                align="stretch",
            ),
            on_submit=on_submit,
            reset_on_submit=False,
            data_testid=testid,
        ),
    )


def login_page() -> rx.Component:
    return _auth_form(
        "Welcome back",
        "Log in to pick up your conversations.",
        _field(
            "Username", "username", AuthState.username_error,
            placeholder="your_username", auto_complete="username", auto_focus=True,
        ),
        _field(
            "Password", "password", AuthState.password_error,
            type_="password", placeholder="••••••••", auto_complete="current-password",
        ),
        submit=("Log in", "Logging in…"),
        switch=("New to uTool Chat?", "Create an account", "/register"),
        on_submit=AuthState.login,
        testid="login-form",
    )


def register_page() -> rx.Component:
    return _auth_form(
        "Create your account",
        "It takes ten seconds. No email needed.",
        _field(
            "Username", "username", AuthState.username_error,
            placeholder="ada_lovelace", auto_complete="username", auto_focus=True,
            hint="3–32 characters: a–z, 0–9, _ . -",
        ),
        _field(
            "Display name (optional)", "display_name", AuthState.display_name_error,
            placeholder="Ada Lovelace", auto_complete="name",
            hint="How friends see you. Defaults to your username.",
        ),
        _field(
            "Password", "password", AuthState.password_error,
            type_="password", placeholder="Choose a password", auto_complete="new-password",
            hint="At least 8 characters.",
        ),
        submit=("Create account", "Creating account…"),
        switch=("Already have an account?", "Log in", "/login"),
        on_submit=AuthState.register,
        testid="register-form",
    )
