"""AttachmentPreview: attachments given as links.

In the composer, the links waiting to be sent (a thumbnail for images, a file chip
otherwise, each removable) and the "attach a link" popover; in a message, the same
thumbnail/chip. Only http(s) URLs become images or links (never `javascript:`).
"""

from __future__ import annotations

import reflex as rx
from reflex_base.vars.base import Var

from utool_chat.state.chat import ComposerState
from utool_chat.state.chat_views import AttachmentView


def _file_chip(att: AttachmentView) -> rx.Component:
    return rx.hstack(
        rx.icon("file-text", size=16, flex_shrink="0"),
        rx.text(att.name, class_name="truncate", size="2"),
        align="center",
        spacing="2",
        min_width="0",
    )


# React's own load/error listeners on the <img>: a broken image is marked (CSS then shows
# the fallback tile beside it); a later successful load (the element reused for another
# message, or the link came back) clears the mark.
_MARK_BROKEN: Var[str] = Var(_js_expr="((e) => { e.currentTarget.dataset.broken = 'true'; })")
_CLEAR_BROKEN: Var[str] = Var(_js_expr="((e) => { delete e.currentTarget.dataset.broken; })")


def _image_fallback(att: AttachmentView) -> rx.Component:
    """Shown instead of an image that failed to load: an icon and the file name."""
    return rx.box(
        rx.center(rx.icon("image-off", size=20), class_name="chat-attach-fallback-icon"),
        rx.box(
            rx.text(att.name, size="2", weight="medium", class_name="truncate", as_="div"),
            rx.text("Image could not be loaded", size="1", as_="div", class_name="chat-attach-fallback-hint"),
            min_width="0",
        ),
        class_name="chat-attach-fallback",
        custom_attrs={"data-testid": "attachment-fallback"},
    )


def message_attachment(att: AttachmentView) -> rx.Component:
    return rx.cond(
        att.is_image,
        rx.el.a(
            rx.el.img(
                src=att.url,
                alt=att.name,
                class_name="chat-attach-img",
                loading="lazy",
                custom_attrs={"onError": _MARK_BROKEN, "onLoad": _CLEAR_BROKEN},
            ),
            _image_fallback(att),
            href=att.url,
            target="_blank",
            rel="noopener noreferrer nofollow",
            custom_attrs={"data-testid": "attachment-image"},
        ),
        rx.cond(
            att.is_link,
            rx.el.a(
                _file_chip(att),
                href=att.url,
                target="_blank",
                rel="noopener noreferrer nofollow",
                class_name="chat-file-chip",
                custom_attrs={"data-testid": "attachment-file"},
            ),
            rx.box(_file_chip(att), class_name="chat-file-chip", custom_attrs={"data-testid": "attachment-file"}),
        ),
    )


def _pending_item(att: AttachmentView) -> rx.Component:
    return rx.box(
        rx.cond(
            att.is_image,
            rx.image(src=att.url, alt=att.name, class_name="chat-pending-thumb"),
            rx.center(rx.icon("file-text", size=20), class_name="chat-pending-thumb"),
        ),
        rx.text(att.name, size="1", class_name="truncate", max_width="120px"),
        rx.icon_button(
            rx.icon("x", size=12),
            size="1",
            variant="ghost",
            color_scheme="gray",
            radius="full",
            type="button",
            aria_label="Remove attachment",
            on_click=ComposerState.remove_attachment(att.url),
        ),
        class_name="chat-pending-item",
        custom_attrs={"data-testid": "pending-attachment"},
    )


def attachment_preview() -> rx.Component:
    """The links that will go with the next message."""
    return rx.cond(
        ComposerState.pending_attachments.length() > 0,
        rx.box(rx.foreach(ComposerState.pending_attachments, _pending_item), class_name="chat-pending"),
    )


def attach_link_button() -> rx.Component:
    """The paperclip: a small form that adds a link as an attachment."""
    return rx.popover.root(
        rx.popover.trigger(
            rx.icon_button(
                rx.icon("paperclip", size=18),
                variant="ghost",
                color_scheme="gray",
                radius="full",
                size="2",
                type="button",
                aria_label="Attach a link",
                custom_attrs={"data-testid": "attach-button"},
            )
        ),
        rx.popover.content(
            rx.form(
                rx.vstack(
                    rx.text("Attach a link", weight="bold", size="2"),
                    rx.text("Images (png, jpg, gif, webp) show as a preview.", size="1", color_scheme="gray"),
                    rx.hstack(
                        rx.input(
                            name="url",
                            placeholder="https://…",
                            type="url",
                            width="100%",
                            auto_focus=True,
                            custom_attrs={"data-testid": "attach-url"},
                        ),
                        rx.button("Add", type="submit", custom_attrs={"data-testid": "attach-add"}),
                        width="100%",
                    ),
                    spacing="2",
                ),
                on_submit=ComposerState.add_attachment_link,
                reset_on_submit=True,
            ),
            side="top",
            align="start",
            width="340px",
        ),
        open=ComposerState.attach_open,
        on_open_change=ComposerState.set_attach_open,
    )
