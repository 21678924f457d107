"""Photos and files in the browser, end to end (assets/uploads.js, attachment_preview.py,
message_attachments.py): drop, paste and the paperclip's picker; previews with progress;
sending with a caption; the receiver's live thumbnail, lightbox and download; the size
limit's message; the conversation list's "Photo" / "File: x"; signed URLs that serve their
viewer only. Two (or three) users, each in their own browser context."""

from __future__ import annotations

import base64
import io
import os
import random
import time

import httpx
import pytest
from PIL import Image
from playwright.sync_api import expect

from tests import media_samples as samples
from tests.browser.chat_helpers import (
    conversation_row,
    friends_in_direct_chat,
    open_conversation,
    people,
)
from tests.browser.conftest import PASSWORD, screenshot, wait_for_app
from utool_chat.domain import accounts, file_urls, uploads

pytestmark = pytest.mark.browser

UPLOAD_TIMEOUT_MS = 60_000

# Builds File objects from [{name, type, b64}] and dispatches `kind` on the element the
# selector names, carrying them in a DataTransfer (what a real drop or paste delivers).
DISPATCH_FILES_JS = """
([selector, kind, files]) => {
  const dt = new DataTransfer();
  for (const f of files) {
    const bytes = Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0));
    dt.items.add(new File([bytes], f.name, { type: f.type }));
  }
  const target = document.querySelector(selector);
  if (kind === 'paste') {
    target.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
    return;
  }
  for (const type of ['dragenter', 'dragover', 'drop']) {
    target.dispatchEvent(new DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true }));
  }
}
"""


def noisy_png(width: int, height: int, seed: int = 7) -> bytes:
    """A PNG that does not compress (random pixels): big enough to watch its upload."""
    rng = random.Random(seed)
    image = Image.frombytes("RGB", (width, height), bytes(rng.getrandbits(8) for _ in range(width * height * 3)))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def as_file(name: str, mime: str, data: bytes) -> dict:
    return {"name": name, "type": mime, "b64": base64.b64encode(data).decode()}


def drop_files(page, files: list[dict]) -> None:
    page.evaluate(DISPATCH_FILES_JS, ['[data-testid="message-list"], #chat-scroll', "drop", files])


def paste_files(page, files: list[dict]) -> None:
    page.evaluate(DISPATCH_FILES_JS, ["#chat-input", "paste", files])


def pending_uploads(page):
    return page.locator('[data-testid="pending-attachment"][data-kind="upload"]')


def throttle_uploads(page, bytes_per_second: int | None) -> None:
    """Chromium's own network emulation (DevTools protocol): uploads go at this rate."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": 0, "downloadThroughput": -1,
        "uploadThroughput": bytes_per_second if bytes_per_second else -1,
    })


def loaded(image_locator) -> None:
    """Wait until an <img> has really decoded its picture (not a broken image)."""
    image_locator.wait_for()
    image_locator.evaluate(
        "(img) => new Promise((ok, fail) => img.complete && img.naturalWidth ? ok() :"
        " (img.onload = ok, img.onerror = () => fail(new Error('image failed: ' + img.src))))"
    )
    assert image_locator.evaluate("(img) => img.naturalWidth") > 0


AXE = os.path.join(os.path.dirname(__file__), "..", "..", ".tools", "node_modules", "axe-core", "axe.min.js")


def axe_violations(page, *selectors: str) -> list:
    """axe-core's WCAG A/AA findings inside the given parts of the page."""
    page.add_script_tag(path=AXE)
    return page.evaluate(
        """async (selectors) => {
          const found = await axe.run({ include: selectors.map((s) => [s]) },
                                      { runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] });
          return found.violations.map((v) => [v.id, v.nodes.map((n) => n.target.join(' '))]);
        }""",
        list(selectors),
    )


def test_drop_paste_send_view_and_download_between_two_users(app_server, signed_in, tmp_path):
    alice, bob, conversation = friends_in_direct_chat()
    cid = conversation["_id"]
    page_b = signed_in(bob)
    open_conversation(page_b, app_server.url, cid)
    page_a = signed_in(alice)
    open_conversation(page_a, app_server.url, cid)

    # A drops a photo and a PDF onto the conversation; uploads are slowed so the progress
    # bar is seen moving.
    photo = noisy_png(480, 360)
    pdf = samples.PDF + os.urandom(2048)
    throttle_uploads(page_a, 200_000)
    drop_files(page_a, [as_file("beach.png", "image/png", photo), as_file("report.pdf", "application/pdf", pdf)])
    items = pending_uploads(page_a)
    expect(items).to_have_count(2)
    picture, document = items.nth(0), items.nth(1)
    expect(picture).to_contain_text("beach.png")
    expect(picture.locator(".chat-upload-thumb img")).to_have_count(1)  # the picture itself
    expect(document).to_contain_text("report.pdf")
    expect(document.locator(".chat-upload-ext")).to_have_text("PDF")  # a type tile
    expect(picture).to_have_attribute("data-status", "uploading")
    page_a.wait_for_function(
        """() => [...document.querySelectorAll('[data-kind=upload][data-status=uploading] progress')]
                 .some((bar) => bar.value > 0 && bar.value < 100)""",
        timeout=UPLOAD_TIMEOUT_MS,
    )
    screenshot(page_a, "uploads-composer-progress-desktop")

    # Sending while an upload is still running is refused, with the reason.
    box = page_a.get_by_test_id("message-input")
    box.fill("Holiday pictures")
    box.press("Enter")
    expect(page_a.get_by_test_id("upload-notice")).to_have_text("Wait for the upload to finish")
    expect(page_a.get_by_test_id("message")).to_have_count(0)

    throttle_uploads(page_a, None)
    expect(picture).to_have_attribute("data-status", "ready", timeout=UPLOAD_TIMEOUT_MS)
    expect(document).to_have_attribute("data-status", "ready", timeout=UPLOAD_TIMEOUT_MS)
    expect(picture.get_by_test_id("upload-progress")).to_have_attribute("value", "100")
    screenshot(page_a, "uploads-composer-pending-desktop")
    assert axe_violations(page_a, "#chat-uploads", ".chat-composer") == []
    box.press("Enter")

    sent = page_a.get_by_test_id("message").filter(has_text="Holiday pictures")
    expect(sent.get_by_test_id("message-status")).to_have_attribute("data-status", "read", timeout=UPLOAD_TIMEOUT_MS)
    expect(pending_uploads(page_a)).to_have_count(0)

    # B sees the thumbnail live, at its aspect ratio from the start (the space is reserved).
    received = page_b.get_by_test_id("message").filter(has_text="Holiday pictures")
    thumb = received.get_by_test_id("attachment-image").locator("img")
    expect(thumb).to_have_attribute("width", "280")
    expect(thumb).to_have_attribute("height", "210")
    loaded(thumb)
    box_size = thumb.bounding_box()
    assert box_size and abs(box_size["width"] / box_size["height"] - 480 / 360) < 0.02
    card = received.get_by_test_id("attachment-file")
    expect(card).to_contain_text("report.pdf")
    expect(card).to_have_attribute("download", "report.pdf")
    screenshot(page_b, "uploads-image-message-and-file-card-desktop")
    assert axe_violations(page_b, ".chat-attachments") == []

    # The lightbox: the full picture, a name, Download; Tab stays inside; Escape closes.
    received.get_by_test_id("attachment-image").click()
    lightbox = page_b.get_by_role("dialog", name="Photo: beach.png")
    expect(lightbox).to_be_visible()
    full = lightbox.get_by_test_id("lightbox-image")
    loaded(full)
    assert full.evaluate("(img) => [img.naturalWidth, img.naturalHeight]") == [480, 360]
    expect(lightbox.get_by_test_id("lightbox-download")).to_have_attribute("download", "beach.png")
    for _ in range(4):
        page_b.keyboard.press("Tab")
        assert page_b.evaluate("() => !!document.activeElement.closest('dialog[open]')")
    page_b.keyboard.press("Shift+Tab")
    assert page_b.evaluate("() => !!document.activeElement.closest('dialog[open]')")
    screenshot(page_b, "uploads-lightbox-desktop")
    assert axe_violations(page_b, "dialog.chat-lightbox") == []
    page_b.keyboard.press("Escape")
    expect(lightbox).to_have_count(0)
    expect(received.get_by_test_id("attachment-image")).to_be_focused()

    # B downloads the PDF: the very bytes A dropped.
    with page_b.expect_download() as download_info:
        card.click()
    download = download_info.value
    assert download.suggested_filename == "report.pdf"
    saved = tmp_path / "report.pdf"
    download.save_as(saved)
    assert saved.read_bytes() == pdf

    # A pastes a picture from the clipboard and sends it without a caption.
    paste_files(page_a, [as_file("image.png", "image/png", samples.png((60, 40), (200, 120, 0)))])
    pasted = pending_uploads(page_a)
    expect(pasted).to_have_count(1)
    expect(pasted).to_contain_text("Pasted image.png")
    expect(pasted).to_have_attribute("data-status", "ready", timeout=UPLOAD_TIMEOUT_MS)
    page_a.get_by_test_id("message-input").press("Enter")
    expect(page_a.get_by_test_id("message")).to_have_count(2)
    last_b = page_b.get_by_test_id("message").last
    loaded(last_b.get_by_test_id("attachment-image").locator("img"))
    expect(last_b.get_by_test_id("attachment-image")).to_have_attribute("aria-label", "Open photo Pasted image.png")

    # The conversation list says what a captionless message carries.
    expect(conversation_row(page_a, cid).get_by_test_id("conversation-snippet")).to_have_text("You: Photo")
    expect(conversation_row(page_b, cid).get_by_test_id("conversation-snippet")).to_have_text("Photo")

    # The paperclip opens the picker; a lone PDF is "File: report.pdf" in the list.
    with page_a.expect_file_chooser() as chooser_info:
        page_a.get_by_test_id("attach-file-button").click()
    chooser = chooser_info.value
    assert chooser.is_multiple()
    chooser.set_files([{"name": "minutes.pdf", "mimeType": "application/pdf", "buffer": samples.PDF}])
    expect(pending_uploads(page_a)).to_have_attribute("data-status", "ready", timeout=UPLOAD_TIMEOUT_MS)
    page_a.get_by_test_id("message-input").press("Enter")
    expect(conversation_row(page_b, cid).get_by_test_id("conversation-snippet")).to_have_text("File: minutes.pdf")
    expect(page_b.get_by_test_id("message").last.get_by_test_id("attachment-file")).to_contain_text("minutes.pdf")


def test_a_file_over_the_limit_shows_the_servers_words_and_can_be_removed(app_server, signed_in):
    alice, _bob, conversation = friends_in_direct_chat()
    page = signed_in(alice)
    open_conversation(page, app_server.url, conversation["_id"])
    page.evaluate(
        """() => {
          const dt = new DataTransfer();
          dt.items.add(new File([new Uint8Array(30 * 1024 * 1024)], 'holiday-video.mp4', { type: 'video/mp4' }));
          document.querySelector('#chat-scroll').dispatchEvent(
            new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
        }"""
    )
    item = pending_uploads(page)
    expect(item).to_have_attribute("data-status", "error")
    expect(item.get_by_test_id("upload-error")).to_have_text(uploads.too_large().message)
    expect(item.get_by_test_id("upload-error")).to_contain_text("25 MiB limit")
    screenshot(page, "uploads-too-large-desktop")
    assert axe_violations(page, "#chat-uploads") == []
    page.get_by_test_id("message-input").press("Enter")  # nothing ready: nothing is sent
    expect(page.get_by_test_id("message")).to_have_count(0)
    item.get_by_role("button", name="Remove holiday-video.mp4").click()
    expect(pending_uploads(page)).to_have_count(0)
    expect(page.get_by_test_id("message-input")).to_be_focused()


def test_pending_files_belong_to_their_conversation_and_can_be_taken_back(app_server, signed_in):
    alice, bob, carol = people("alice", "bob", "carol")
    from tests.browser.chat_helpers import direct_conversation, make_friends

    make_friends(alice, bob)
    make_friends(alice, carol)
    with_bob, with_carol = direct_conversation(alice, bob), direct_conversation(alice, carol)
    page = signed_in(alice)
    open_conversation(page, app_server.url, with_bob["_id"])
    drop_files(page, [as_file("for-bob.pdf", "application/pdf", samples.PDF)])
    expect(pending_uploads(page)).to_have_attribute("data-status", "ready", timeout=UPLOAD_TIMEOUT_MS)
    upload_id = page.evaluate("() => window.utool.attachments.list()[0].uploadId")

    # Another conversation, through the list: its composer has nothing pending; back: it is there.
    conversation_row(page, with_carol["_id"]).click()
    page.wait_for_url(f"**/chat/{with_carol['_id']}")
    expect(page.get_by_test_id("chat-title")).to_have_text("Carol Chen")
    expect(pending_uploads(page)).to_have_count(0)
    conversation_row(page, with_bob["_id"]).click()
    page.wait_for_url(f"**/chat/{with_bob['_id']}")
    expect(pending_uploads(page)).to_have_count(1)
    expect(pending_uploads(page)).to_contain_text("for-bob.pdf")

    # Removing it takes the upload back: it is gone from the server at once.
    token = accounts.login(alice["username"], PASSWORD)["token"]
    url = f"{app_server.backend_url}{file_urls.file_url(upload_id)}"
    assert httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=15).status_code == 200
    page.get_by_role("button", name="Remove for-bob.pdf").click()
    expect(pending_uploads(page)).to_have_count(0)
    deadline = time.monotonic() + 15
    while httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=15).status_code != 404:
        assert time.monotonic() < deadline, "the removed upload is still served"
        time.sleep(0.2)

    # Contract 3 (PLAN.md), as the browser outbox will call it at compose time.
    assert page.evaluate(f"() => window.utool.attachments.takeReady('{with_carol['_id']}')") == {
        "busy": False, "items": []}
    drop_files(page, [as_file("notes.pdf", "application/pdf", samples.PDF)])
    expect(pending_uploads(page)).to_have_attribute("data-status", "ready", timeout=UPLOAD_TIMEOUT_MS)
    taken = page.evaluate(f"() => window.utool.attachments.takeReady('{with_bob['_id']}')")
    assert taken["busy"] is False and len(taken["items"]) == 1
    item = taken["items"][0]
    assert (item["name"], item["type"], item["size"]) == ("notes.pdf", "application/pdf", len(samples.PDF))
    assert len(item["uploadId"]) == 32 and "thumbnailUrl" not in item
    expect(pending_uploads(page)).to_have_count(0)  # the message owns it now


def test_a_non_member_cannot_load_the_picture_another_users_page_holds(app_server, signed_in):
    alice, bob, conversation = friends_in_direct_chat()
    (carol,) = people("carol")
    photo = uploads.store_upload(alice["_id"], "private.png", io.BytesIO(samples.png((50, 40))))
    from utool_chat.domain import messages

    messages.send_message(alice["_id"], conversation["_id"], "just for you", attachments=[{"uploadId": photo["_id"]}],
                          temp_id="private-1")
    page_b = signed_in(bob)
    open_conversation(page_b, app_server.url, conversation["_id"])
    thumb = page_b.get_by_test_id("attachment-image").locator("img")
    loaded(thumb)
    bobs_src = thumb.get_attribute("src") or ""
    bobs_full = page_b.get_by_test_id("attachment-image").get_attribute("data-lightbox-src") or ""
    assert file_urls.query_of(bobs_src)["u"] == bob["_id"]  # signed for Bob, no login token in it
    assert "token" not in bobs_src.lower()

    # Carol, signed in, in her own browser: the conversation is "not found" for her, and the
    # picture's URLs — re-pointed at her, or bare with her own login — are the same 404.
    page_c = signed_in(carol)
    page_c.goto(f"{app_server.url}/chat/{conversation['_id']}")
    expect(page_c.get_by_test_id("conversation-not-found")).to_be_visible()
    expect(page_c.locator("img[src*='/api/v1/chat/files/']")).to_have_count(0)
    for_carol = [
        bobs_src.replace(f"u={bob['_id']}", f"u={carol['_id']}"),
        bobs_full.replace(f"u={bob['_id']}", f"u={carol['_id']}"),
        bobs_src.split("?", 1)[0],
        bobs_full.split("?", 1)[0],
    ]
    statuses = page_c.evaluate(
        """async (urls) => {
          let t = localStorage.getItem('utool_token') || '';
          if (t.startsWith('"')) t = JSON.parse(t);
          const out = [];
          for (const url of urls) {
            const r = await fetch(url, { headers: { Authorization: 'Bearer ' + t } });
            out.push([r.status, await r.text()]);
          }
          return out;
        }""",
        for_carol,
    )
    not_found = {"success": False, "error": "File not found.", "code": "not_found"}
    import json

    assert [(status, json.loads(body)) for status, body in statuses] == [(404, not_found)] * 4
    # …and an <img> in her page with one of them does not load.
    broken = page_c.evaluate(
        """(src) => new Promise((done) => { const img = new Image(); img.onload = () => done('loaded');
             img.onerror = () => done('refused'); img.src = src; })""",
        for_carol[0],
    )
    assert broken == "refused"


def test_uploads_at_phone_width(app_server, signed_in):
    alice, bob, conversation = friends_in_direct_chat()
    page_a = signed_in(alice, width=390, height=844)
    page_a.goto(f"{app_server.url}/chat")  # the list fills the phone's screen
    wait_for_app(page_a)
    conversation_row(page_a, conversation["_id"]).click()
    page_a.get_by_test_id("message-input").wait_for()
    page_a.wait_for_function("() => !!window.utool && !!window.utool.attachments")
    with page_a.expect_file_chooser() as chooser_info:
        page_a.get_by_test_id("attach-file-button").click()
    chooser_info.value.set_files([
        {"name": "sunset.png", "mimeType": "image/png", "buffer": noisy_png(300, 400, seed=3)},
        {"name": "itinerary.pdf", "mimeType": "application/pdf", "buffer": samples.PDF},
    ])
    items = pending_uploads(page_a)
    expect(items).to_have_count(2)
    for n in range(2):
        expect(items.nth(n)).to_have_attribute("data-status", "ready", timeout=UPLOAD_TIMEOUT_MS)
    page_a.get_by_test_id("message-input").fill("Trip plan")
    screenshot(page_a, "uploads-composer-pending-phone")
    page_a.get_by_test_id("message-input").press("Enter")

    page_b = signed_in(bob, width=390, height=844)
    open_conversation(page_b, app_server.url, conversation["_id"])
    message = page_b.get_by_test_id("message").filter(has_text="Trip plan")
    image = message.get_by_test_id("attachment-image")
    loaded(image.locator("img"))
    width = image.locator("img").bounding_box()
    bubble = message.bounding_box()
    assert width and bubble and width["width"] <= bubble["width"] and bubble["x"] + bubble["width"] <= 390
    expect(message.get_by_test_id("attachment-file")).to_contain_text("itinerary.pdf")
    screenshot(page_b, "uploads-image-message-and-file-card-phone")
    image.click()
    lightbox = page_b.get_by_role("dialog", name="Photo: sunset.png")
    loaded(lightbox.get_by_test_id("lightbox-image"))
    box = lightbox.get_by_test_id("lightbox-image").bounding_box()
    assert box and box["width"] <= 390
    screenshot(page_b, "uploads-lightbox-phone")
    lightbox.get_by_test_id("lightbox-close").click()
    expect(lightbox).to_have_count(0)


def test_a_hostile_file_name_is_shown_as_text_everywhere(app_server, signed_in):
    alice, bob, conversation = friends_in_direct_chat()
    hostile = '<img src=x onerror="window.__pwned=1">.pdf'
    page_a = signed_in(alice)
    open_conversation(page_a, app_server.url, conversation["_id"])
    drop_files(page_a, [as_file(hostile, "application/pdf", samples.PDF)])
    item = pending_uploads(page_a)
    expect(item).to_have_attribute("data-status", "ready", timeout=UPLOAD_TIMEOUT_MS)
    expect(item.locator(".chat-upload-name")).to_have_text(hostile)
    page_a.get_by_test_id("message-input").press("Enter")

    page_b = signed_in(bob)
    open_conversation(page_b, app_server.url, conversation["_id"])
    card = page_b.get_by_test_id("attachment-file")
    expect(card.get_by_test_id("file-name")).to_have_text(hostile)
    expect(card).to_have_attribute("download", hostile)
    expect(conversation_row(page_b, conversation["_id"]).get_by_test_id("conversation-snippet")).to_have_text(
        f"File: {hostile}")
    for page in (page_a, page_b):
        expect(page.locator("[data-testid=conversation-view] img[src='x']")).to_have_count(0)
        assert page.evaluate("() => window.__pwned") is None
