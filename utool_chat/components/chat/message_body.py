"""MessageBody: what a message says — its formatted text, or a group notice.

`contentHtml` is rendered by the server (domain/formatting.py: Markdown subset, then the nh3
whitelist) and is the only HTML ever put in the page; a copy the server has not confirmed
yet (no contentHtml) shows its text as text. Links carry target=_blank and
rel="noopener noreferrer nofollow" from the server. Mentions of the reader carry
`mention-me` (state/beyond_text.py). Styles: assets/features.css.
"""

from __future__ import annotations

import reflex as rx

from utool_chat.state.chat_views import MessageView


def message_body(msg: MessageView) -> rx.Component:
    """The text of a bubble (called by message_item for non-deleted messages)."""
    return rx.cond(
        msg.content_html != "",
        rx.html(
            msg.content_html,
            class_name="chat-text chat-rich",
            custom_attrs={"data-testid": "message-text", "data-mentions-me": msg.mentions_me},
        ),
        rx.cond(
            msg.content != "",
            rx.text(msg.content, class_name="chat-text", as_="span", custom_attrs={"data-testid": "message-text"}),
        ),
    )


def notice_row(msg: MessageView) -> rx.Component:
    """A group notice ("Ann renamed the group …"): centred, no bubble, no actions, no ticks."""
    return rx.box(
        rx.el.span(msg.content, title=msg.full_time),
        class_name="chat-notice",
        id="msg-" + msg.key,
        custom_attrs={"data-testid": "notice", "data-msg-key": msg.key, "data-message-id": msg.message_id},
    )
