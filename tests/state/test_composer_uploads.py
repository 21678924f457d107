"""The Reflex composer sending uploads the browser made (the hidden `uploads` field that
assets/uploads.js fills from takeReady), on one tab's real state tree against the real
database: the optimistic copy shows the files signed for the sender, the stored message
carries them, someone else's upload is refused with Retry, and a page's signed URLs are
renewed on request (AttachmentsState)."""

# The chat-tab fixtures come from test_handler_guards: test arguments shadow their imports.
# ruff: noqa: F811
from __future__ import annotations

import io
import json
import time

from tests import media_samples as samples
from tests.state.test_handler_guards import (  # noqa: F401 - fixtures used by name
    ChatTab,
    alice_and_bob,
    chat_tab,
)
from utool_chat.domain import file_urls, messages, uploads
from utool_chat.state.chat import AttachmentsState, ComposerState, MessagesState


def field_for(*upload_objects: dict) -> str:
    """What uploads.js puts in the form: takeReady's items."""
    return json.dumps([
        {"uploadId": u["_id"], "name": u["name"], "type": u["type"], "size": u["size"],
         **({"thumbnailUrl": u["thumbnailUrl"], "width": u["width"], "height": u["height"]} if u["width"] else {})}
        for u in upload_objects
    ])


async def test_a_caption_with_a_photo_and_a_pdf_is_sent_and_shown_signed_for_the_sender(chat_tab):
    alice_tab, alice, bob, cid = chat_tab
    photo = uploads.store_upload(alice["_id"], "beach.png", io.BytesIO(samples.png((64, 48))))
    doc = uploads.store_upload(alice["_id"], "report.pdf", io.BytesIO(samples.PDF))
    await alice_tab.call(ComposerState.post_new_message, {"content": "Holiday", "uploads": field_for(photo, doc)})
    [shown] = alice_tab.messages()
    assert (shown.content, shown.status) == ("Holiday", "sent")
    image, card = shown.attachments
    assert image.is_image and (image.width, image.height) == (64, 48) and image.name == "beach.png"
    assert file_urls.verify(photo["_id"], "thumbnail", file_urls.query_of(image.thumb_url)) == alice["_id"]
    assert card.is_upload and not card.is_image and card.kind == "pdf" and card.name == "report.pdf"
    [stored] = messages.list_messages(bob["_id"], cid)[0]
    assert [a["uploadId"] for a in stored["attachments"]] == [photo["_id"], doc["_id"]]
    assert stored["content"] == "Holiday"


async def test_a_captionless_upload_is_enough_to_send(chat_tab):
    alice_tab, alice, bob, cid = chat_tab
    doc = uploads.store_upload(alice["_id"], "minutes.pdf", io.BytesIO(samples.PDF))
    await alice_tab.call(ComposerState.post_new_message, {"content": "", "uploads": field_for(doc)})
    [stored] = messages.list_messages(bob["_id"], cid)[0]
    assert stored["snippet"] == "File: minutes.pdf" and stored["content"] == ""
    # Blank text and a field naming nothing usable: nothing is sent.
    await alice_tab.call(ComposerState.post_new_message, {"content": " ", "uploads": '[{"uploadId": "nope"}]'})
    assert len(messages.list_messages(bob["_id"], cid)[0]) == 1


async def test_someone_elses_upload_is_refused_with_retry_and_nothing_is_stored(chat_tab):
    alice_tab, alice, bob, cid = chat_tab
    bobs = uploads.store_upload(bob["_id"], "bobs.pdf", io.BytesIO(samples.PDF))
    await alice_tab.call(ComposerState.post_new_message, {"content": "look", "uploads": field_for(bobs)})
    [failed] = alice_tab.messages()
    assert failed.status == "failed" and "someone else's" in failed.error
    assert messages.list_messages(alice["_id"], cid)[0] == []


async def test_a_page_asks_for_fresh_urls_and_gets_them_signed_anew(chat_tab, monkeypatch):
    alice_tab, alice, _bob, _cid = chat_tab
    photo = uploads.store_upload(alice["_id"], "beach.png", io.BytesIO(samples.png((64, 48))))
    await alice_tab.call(ComposerState.post_new_message, {"content": "", "uploads": field_for(photo)})
    before = alice_tab.messages()[0].attachments[0].url
    later = time.time() + 2 * 3600  # hours later: the URL shown first has expired by then
    monkeypatch.setattr(time, "time", lambda: later)
    assert file_urls.verify(photo["_id"], "original", file_urls.query_of(before)) is None
    await alice_tab.call(AttachmentsState.refresh_file_urls)
    after = alice_tab.get(MessagesState).recent_messages[0].attachments[0].url
    assert after != before
    assert file_urls.verify(photo["_id"], "original", file_urls.query_of(after)) == alice["_id"]


async def test_replying_to_a_captionless_photo_quotes_it_as_a_photo(chat_tab):
    alice_tab, alice, _bob, _cid = chat_tab
    photo = uploads.store_upload(alice["_id"], "beach.png", io.BytesIO(samples.png((64, 48))))
    await alice_tab.call(ComposerState.post_new_message, {"content": "", "uploads": field_for(photo)})
    [shown] = alice_tab.messages()
    await alice_tab.call(ComposerState.start_reply, shown.message_id)
    assert alice_tab.get(ComposerState).reply_to_snippet == "Photo"
