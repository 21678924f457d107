"""MessageInput: the composer.

A textarea that grows with its text (CSS field-sizing), Enter sends and Shift+Enter adds a
line (window.utoolChat), nothing is sent when blank; a new message goes to the browser's
outbox (assets/outbox.js), an edit to the server. Shows the reply-to or edit banner and the
pending files and links (attachment_preview.py). Keystrokes report typing (assets/outbox.js:
at once, then again every half typing TTL while they go on); blur, 3 s of idle and sending
report that typing stopped.
"""

from __future__ import annotations

import reflex as rx
from reflex_base.event import EventCallback

from utool_chat import config
from utool_chat.components.chat.attachment_preview import attach_file_button, attach_link_button, attachment_preview
from utool_chat.state.chat import ComposerState
from utool_chat.state.chat.attachments import UPLOADS_FIELD

# While the user keeps typing, typing is announced again every half TYPING_TTL_SECONDS, so the
# server's typing state (which ends a TTL after its last refresh) never lapses mid-sentence.
TYPING_REFRESH_MS = max(500, int(config.settings.typing_ttl_seconds * 1000 / 2))


def _banner(
    icon: str, title: rx.Var[str] | str, body: rx.Var[str], on_cancel: EventCallback[()], testid: str
) -> rx.Component:
    return rx.box(
        rx.icon(icon, size=16, color="var(--accent-11)", flex_shrink="0"),
        rx.box(
            rx.text(title, size="1", weight="bold", color="var(--accent-11)", as_="div"),
            rx.text(body, size="2", class_name="truncate", as_="div", color_scheme="gray"),
            min_width="0",
            flex="1",
        ),
        rx.icon_button(
            rx.icon("x", size=14),
            size="1",
            variant="ghost",
            color_scheme="gray",
            radius="full",
            type="button",
            aria_label="Cancel",
            id="chat-cancel-compose",
            on_click=on_cancel,
        ),
        class_name="chat-banner",
        custom_attrs={"data-testid": testid},
    )


def _banners() -> rx.Component:
    return rx.cond(
        ComposerState.editing_id != "",
        _banner("pencil", "Edit message", ComposerState.editing_snippet, ComposerState.cancel_edit, "edit-banner"),
        rx.cond(
            ComposerState.reply_to_id != "",
            _banner(
                "reply", "Replying to " + ComposerState.reply_to_name, ComposerState.reply_to_snippet,
                ComposerState.cancel_reply, "reply-banner",
            ),
        ),
    )


def message_input() -> rx.Component:
    return rx.box(
        _banners(),
        attachment_preview(),
        rx.box(
            # Outside the message form: the link form lives in a portal, and React would
            # bubble its submit into an enclosing form.
            attach_file_button(),
            attach_link_button(),
            rx.form(
                # The finished uploads, set by assets/uploads.js as the form is submitted.
                rx.el.input(type="hidden", name=UPLOADS_FIELD),
                rx.el.textarea(
                    id="chat-input",
                    name="content",
                    rows=1,
                    max_length=4000,
                    placeholder=rx.cond(ComposerState.editing_id != "", "Edit your message…", "Write a message…"),
                    auto_complete="off",
                    # Typing is announced by assets/outbox.js through #typing-door (at the first
                    # keystroke after a send too, which a throttle here would swallow).
                    on_change=ComposerState.stop_typing.debounce(3000),
                    on_blur=ComposerState.stop_typing,
                    custom_attrs={"data-testid": "message-input", "aria-label": "Message"},
                ),
                rx.icon_button(
                    rx.cond(
                        ComposerState.editing_id != "", rx.icon("check", size=18), rx.icon("send-horizontal", size=18)
                    ),
                    type="submit",
                    radius="full",
                    size="2",
                    loading=ComposerState.sending,
                    aria_label="Send",
                    custom_attrs={"data-testid": "send-button"},
                ),
                on_submit=ComposerState.post_new_message,
                reset_on_submit=False,
                id="chat-form",
                class_name="chat-composer-form",
                # For assets/outbox.js: an edit goes to the server form, a message to the outbox.
                custom_attrs={
                    "data-editing": rx.cond(ComposerState.editing_id != "", "1", "0"),
                    "data-reply-to": ComposerState.reply_to_id,
                },
            ),
            class_name="chat-composer-box",
        ),
        rx.el.div(id="composer-notice", class_name="composer-notice", role="status", aria_live="polite"),
        rx.el.button(
            id="typing-door", class_name="chat-hidden", tab_index=-1, aria_hidden="true", type="button",
            on_click=ComposerState.typing, custom_attrs={"data-refresh-ms": str(TYPING_REFRESH_MS)},
        ),
        class_name="chat-composer",
    )
