"""Attachments in the Reflex door (pure, no browser, no DB): uploads signed for the viewer
(state/chat_views.py), the inline size reserved from the stored one, the one "Photo" /
"File: x" rule of captionless previews (domain/formatting.py), and the composer's hidden
`uploads` field (state/chat/attachments.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from utool_chat.domain import file_urls, formatting
from utool_chat.state import chat_slice as s
from utool_chat.state import chat_views as v
from utool_chat.state.chat.attachments import ready_uploads

ME, BOB = "a" * 32, "b" * 32
UPLOAD = "c" * 32
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def photo(width: int = 1600, height: int = 1200, **extra) -> dict:
    return {
        "uploadId": UPLOAD, "url": file_urls.file_url(UPLOAD), "thumbnailUrl": file_urls.thumbnail_url(UPLOAD),
        "type": "image/jpeg", "name": "beach.jpg", "size": 183_204, "width": width, "height": height, **extra,
    }


def pdf() -> dict:
    return {"uploadId": "d" * 32, "url": file_urls.file_url("d" * 32), "thumbnailUrl": None, "type": "application/pdf",
            "name": "report.pdf", "size": 2_400_000, "width": None, "height": None}


def test_an_uploaded_photo_is_shown_inline_with_urls_signed_for_the_viewer():
    view = v.attachment_view(photo(), ME)
    assert view.is_image and view.is_upload and not view.is_link
    assert view.url.startswith(v.api_origin() + file_urls.file_url(UPLOAD) + "?")
    assert view.thumb_url.startswith(v.api_origin() + file_urls.thumbnail_url(UPLOAD) + "?")
    for url, variant in ((view.url, "original"), (view.thumb_url, "thumbnail")):
        assert file_urls.verify(UPLOAD, variant, file_urls.query_of(url)) == ME  # for this viewer only
    assert file_urls.verify(UPLOAD, "original", {**file_urls.query_of(view.url), "u": BOB}) is None
    assert v.attachment_view(photo(), BOB).url != view.url


def test_the_inline_box_keeps_the_aspect_ratio_within_the_bubble():
    wide = v.attachment_view(photo(1600, 1200), ME)
    assert (wide.width, wide.height) == (v.INLINE_MAX_WIDTH, 210)  # 4:3
    tall = v.attachment_view(photo(1000, 4000), ME)
    assert (tall.width, tall.height) == (80, v.INLINE_MAX_HEIGHT)
    small = v.attachment_view(photo(20, 10), ME)
    assert (small.width, small.height, small.full_width, small.full_height) == (20, 10, 20, 10)  # never enlarged


def test_other_uploads_are_cards_and_an_svg_is_never_inline():
    card = v.attachment_view(pdf(), ME)
    assert card.is_upload and not card.is_image and card.kind == "pdf" and card.size_label == "2.3 MB"
    assert file_urls.verify("d" * 32, "original", file_urls.query_of(card.url)) == ME
    svg = v.attachment_view({**pdf(), "type": "image/svg+xml", "name": "logo.svg"}, ME)
    assert not svg.is_image and svg.thumb_url == ""
    no_size = v.attachment_view(photo(width=None, height=None), ME)  # type: ignore[arg-type]
    assert not no_size.is_image  # nothing to reserve the space with: a card


def test_message_views_sign_for_the_reader():
    chat = s.initial_chat()
    convo = {"_id": "c1", "type": "direct", "participants": [{"_id": ME}, {"_id": BOB}], "admins": [],
             "lastMessage": None, "unreadCount": 0}
    s.conversations_fetched(chat, [convo], has_more=False, page=1)
    message = {"_id": "m1", "seq": 1, "conversationId": "c1", "sender": {"_id": BOB}, "content": "",
               "attachments": [photo()], "reactions": [], "readBy": [], "status": "sent",
               "createdAt": "2026-03-10T11:00:00Z"}
    s.messages_fetched(chat, "c1", [message], False, older=False)
    [view] = v.build_message_views(chat, "c1", ME, UTC, NOW)
    assert file_urls.verify(UPLOAD, "original", file_urls.query_of(view.attachments[0].url)) == ME


def test_group_picture_is_signed_for_the_viewer():
    group = {"_id": "g", "type": "group", "avatar": file_urls.file_url(UPLOAD), "participants": []}
    src = v.conversation_avatar(group, ME)
    assert file_urls.verify(UPLOAD, "original", file_urls.query_of(src)) == ME
    assert v.conversation_avatar({**group, "avatar": None}, ME) == ""


def test_size_labels():
    assert [v.size_label(n) for n in (0, 900, 2048, 5 * 2**20 + 2**19)] == ["0 bytes", "900 bytes", "2 KB", "5.5 MB"]
    assert v.size_label(None) == "" and v.size_label(True) == ""


def test_captionless_previews_say_what_the_message_carries():
    assert formatting.attachments_label([photo()]) == "Photo"
    assert formatting.attachments_label([photo(), photo()]) == "2 photos"
    assert formatting.attachments_label([pdf()]) == "File: report.pdf"
    assert formatting.attachments_label([pdf(), pdf()]) == "2 files"
    assert formatting.attachments_label([photo(), pdf()]) == "2 attachments"
    assert formatting.attachments_label([{**pdf(), "name": "<b>x</b>.pdf"}]) == "File: <b>x</b>.pdf"  # text, as typed
    assert formatting.attachments_label([]) == ""
    convo = {"type": "direct"}
    last = {"content": "", "attachments": [pdf()], "sender": {"_id": BOB}}
    assert v.message_snippet(last, convo, ME) == "File: report.pdf"
    assert v.message_snippet({**last, "sender": {"_id": ME}, "attachments": [photo()]}, convo, ME) == "You: Photo"
    assert v.message_snippet({**last, "content": "see this"}, convo, ME) == "see this"  # a caption wins


def test_the_uploads_field_names_upload_ids_and_nothing_else():
    sent = [
        {"uploadId": UPLOAD, "name": "beach.jpg", "type": "image/jpeg", "size": 10, "thumbnailUrl": "/x",
         "width": 40, "height": 30},
        {"uploadId": UPLOAD},  # twice: dropped
        {"uploadId": "../../etc/passwd"},
        {"url": "javascript:alert(1)"},
        "not an object",
        {"uploadId": "e" * 32, "name": 7, "size": "big", "width": True, "height": 5},
    ]
    out = ready_uploads(json.dumps(sent))
    assert [a["uploadId"] for a in out] == [UPLOAD, "e" * 32]
    assert out[0]["url"] == file_urls.file_url(UPLOAD) and out[0]["thumbnailUrl"] == file_urls.thumbnail_url(UPLOAD)
    assert (out[0]["width"], out[0]["height"]) == (40, 30)
    assert out[1]["name"] == "file" and out[1]["size"] is None and out[1]["width"] is None
    assert out[1]["thumbnailUrl"] is None
    for junk in ("", "{", "{}", "null", 5, None, json.dumps([{"uploadId": UPLOAD}] * 2) + "x"):
        assert ready_uploads(junk) == []
    many = json.dumps([{"uploadId": f"{n:032x}"} for n in range(30)])
    assert len(ready_uploads(many)) == 10
