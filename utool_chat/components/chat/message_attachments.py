"""A message's attachments: photos inline, other files as cards, links as links.

- An uploaded raster image shows its thumbnail inline, at the picture's aspect ratio: the
  <img> carries the width and height the view computed from the stored size, so the bubble
  has its final size before the bytes arrive (no layout jump). Clicking it opens the
  lightbox (assets/uploads.js: a modal <dialog> with the full image, its name, Download and
  Close; Escape closes it, Tab stays inside, focus goes back to the photo). A picture that
  fails to load (expired, deleted) shows a tile with its name instead.
- Any other upload is a card: an icon for its type, the name, the size, and the whole card
  is the download link (the server sends it as an attachment under its name).
- A link attachment is a link, opened in a new tab; it is never loaded by the page, so no
  viewer's browser contacts a third-party host.

Every URL is signed for the viewer (state/chat_views.py `attachment_view`). Names are user
text: rendered as text nodes and attribute values, never HTML.
"""

from __future__ import annotations

import reflex as rx
from reflex_base.vars.base import Var

from utool_chat.state.chat_views import AttachmentView, MessageView

# React's own load/error listeners on the <img>: a broken image is marked (CSS then shows
# the fallback tile beside it); a later successful load (the element reused for another
# message, or the file came back) clears the mark.
_MARK_BROKEN: Var[str] = Var(_js_expr="((e) => { e.currentTarget.dataset.broken = 'true'; })")
_CLEAR_BROKEN: Var[str] = Var(_js_expr="((e) => { delete e.currentTarget.dataset.broken; })")


def file_icon(kind: Var[str] | str, size: int = 20) -> rx.Component:
    return rx.match(
        kind,
        ("pdf", rx.icon("file-text", size=size)),
        ("image", rx.icon("file-image", size=size)),
        ("audio", rx.icon("file-audio", size=size)),
        ("video", rx.icon("file-video", size=size)),
        ("archive", rx.icon("file-archive", size=size)),
        ("text", rx.icon("file-text", size=size)),
        rx.icon("file", size=size),
    )


def _image_fallback(att: AttachmentView) -> rx.Component:
    """Shown instead of a picture that failed to load: an icon and the file name."""
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


def _photo(att: AttachmentView) -> rx.Component:
    return rx.el.button(
        rx.el.img(
            src=att.thumb_url,
            alt=att.name,
            class_name="chat-attach-img chat-photo-img",
            loading="lazy",
            # HTML attributes, not CSS (Reflex would take width=/height= as style props):
            # with `height: auto` they give the box its aspect ratio before the image loads.
            custom_attrs={"width": att.width, "height": att.height, "onError": _MARK_BROKEN, "onLoad": _CLEAR_BROKEN},
        ),
        _image_fallback(att),
        type="button",
        class_name="chat-photo",
        aria_label="Open photo " + att.name,
        custom_attrs={
            "data-testid": "attachment-image",
            "data-lightbox-src": att.url,
            "data-lightbox-name": att.name,
            "data-lightbox-download": att.url,
        },
    )


def _file_card(att: AttachmentView) -> rx.Component:
    return rx.el.a(
        rx.center(file_icon(att.kind), class_name="chat-file-card-icon"),
        rx.box(
            rx.el.span(att.name, class_name="chat-file-card-name truncate", custom_attrs={"data-testid": "file-name"}),
            rx.el.span(att.size_label, class_name="chat-file-card-size"),
            class_name="chat-file-card-text",
        ),
        rx.icon("download", size=16, class_name="chat-file-card-download", aria_hidden="true"),
        href=att.url,
        download=att.name,
        title="Download " + att.name,
        class_name="chat-file-card",
        # Reflex renders <a> as React Router's Link, which would route the click inside the
        # app: reloadDocument leaves it to the browser (the download).
        custom_attrs={"data-testid": "attachment-file", "data-kind": att.kind, "reloadDocument": True},
    )


def _link(att: AttachmentView) -> rx.Component:
    return rx.cond(
        att.is_link,
        rx.el.a(
            rx.icon("link", size=16, flex_shrink="0"),
            rx.el.span(att.name, class_name="truncate"),
            href=att.url,
            target="_blank",
            rel="noopener noreferrer nofollow",
            class_name="chat-file-chip",
            custom_attrs={"data-testid": "attachment-link"},
        ),
        # Not http(s) (e.g. javascript:): the name, as text, and nothing to click.
        rx.box(
            rx.icon("file", size=16, flex_shrink="0"),
            rx.el.span(att.name, class_name="truncate"),
            class_name="chat-file-chip",
            custom_attrs={"data-testid": "attachment-link"},
        ),
    )


def message_attachment(att: AttachmentView) -> rx.Component:
    return rx.cond(att.is_image, _photo(att), rx.cond(att.is_upload, _file_card(att), _link(att)))


def message_attachments(msg: MessageView) -> rx.Component:
    """Contract 6 (PLAN.md): the one call MessageItem makes for a message's attachments."""
    return rx.cond(
        msg.attachments,  # isTrue: a non-empty list
        rx.box(rx.foreach(msg.attachments, message_attachment), class_name="chat-attachments"),
    )
