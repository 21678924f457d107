"""AttachmentPreview: what the next message will carry, in the composer.

- Files (uploads): the paperclip opens the file picker (several files), files can be dropped
  onto the conversation or an image pasted into it. assets/uploads.js
  (`window.utool.attachments`) uploads each one at once and shows it in the #chat-uploads
  host rendered here (thumbnail or type tile, name, size, progress bar, error, remove);
  React renders the host empty and only sets its data attributes: the open conversation
  (pending files are kept per conversation), the API origin, MAX_UPLOAD_BYTES and the
  server's own "too large" sentence (the browser checks the size first, in the same words).
- Links: the link button's popover adds a link attachment; pending links are listed here
  (removable). A link is shown as a link, never loaded by the page.

A message's attachments are rendered by message_attachments.py.
"""

from __future__ import annotations

import reflex as rx

from utool_chat import config
from utool_chat.components.chat.message_attachments import file_icon
from utool_chat.domain import uploads
from utool_chat.domain.messages import MAX_ATTACHMENTS
from utool_chat.state.chat import ComposerState
from utool_chat.state.chat.attachments import AttachmentsState, url_refresh_ms
from utool_chat.state.chat_views import AttachmentView, api_origin


def _pending_item(att: AttachmentView) -> rx.Component:
    return rx.box(
        rx.center(
            rx.cond(att.is_link, rx.icon("link", size=18), file_icon(att.kind, 18)), class_name="chat-pending-thumb"
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


def _uploads_host() -> rx.Component:
    """Filled by assets/uploads.js; React sets only its attributes."""
    return rx.el.div(
        id="chat-uploads",
        class_name="chat-uploads",
        hidden=True,
        custom_attrs={
            "data-testid": "pending-uploads",
            "aria-live": "polite",
            "aria-label": "Files to send",
            "data-conversation-id": ComposerState.current_id,
            "data-editing": rx.cond(ComposerState.editing_id != "", "true", "false"),
            "data-api": api_origin(),
            "data-max-bytes": str(config.settings.max_upload_bytes),
            "data-too-large": uploads.too_large().message,
            "data-max-files": str(MAX_ATTACHMENTS),
            "data-refresh-ms": str(url_refresh_ms()),
        },
    )


def _refresh_urls_button() -> rx.Component:
    """Clicked by uploads.js every quarter of the signed URLs' lifetime (a long-open tab)."""
    return rx.el.button(
        id="chat-refresh-files",
        class_name="chat-hidden",
        type="button",
        tab_index=-1,
        on_click=AttachmentsState.refresh_file_urls,
        custom_attrs={"aria-hidden": "true"},
    )


def attachment_preview() -> rx.Component:
    """What will go with the next message: uploaded files (uploads.js) and links."""
    return rx.fragment(
        rx.script(src=rx.asset("uploads.js")),
        _uploads_host(),
        _refresh_urls_button(),
        rx.cond(
            ComposerState.pending_attachments.length() > 0,
            rx.box(rx.foreach(ComposerState.pending_attachments, _pending_item), class_name="chat-pending"),
        ),
    )


def attach_file_button() -> rx.Component:
    """The paperclip: opens the file picker (uploads.js clicks the hidden input, in the same
    click, so the browser allows it)."""
    return rx.fragment(
        rx.el.input(
            type="file",
            multiple=True,
            id="chat-file-input",
            class_name="chat-file-input",
            tab_index=-1,
            custom_attrs={"aria-hidden": "true", "data-testid": "file-input"},
        ),
        rx.icon_button(
            rx.icon("paperclip", size=18),
            variant="ghost",
            color_scheme="gray",
            radius="full",
            size="2",
            type="button",
            aria_label="Attach files",
            custom_attrs={"data-testid": "attach-file-button", "data-upload-pick": "true"},
        ),
    )


def attach_link_button() -> rx.Component:
    """A small form that adds a link as an attachment."""
    return rx.popover.root(
        rx.popover.trigger(
            rx.icon_button(
                rx.icon("link", size=18),
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
                    rx.text("Shown as a link. To send a photo or a file, use the paperclip.", size="1",
                            color_scheme="gray"),
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
