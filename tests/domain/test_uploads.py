"""The upload domain against real parts: Postgres (and SQLite), both file stores (a local
directory and SeaweedFS's S3), Pillow, libmagic and a real clamd. Each store-dependent test
runs on both stores (the `file_store` fixture)."""

from __future__ import annotations

import io
import os
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from PIL import Image

from tests import media_samples as samples
from tests.conftest import count_queries, migrate
from tests.files_support import EICAR
from tests.support.factories import direct_conversation, group_conversation, make_user
from utool_chat.db import engine as db_engine
from utool_chat.db.engine import get_engine, session_scope
from utool_chat.db.models import Attachment, utcnow
from utool_chat.domain import conversations as convs
from utool_chat.domain import file_urls, messages, uploads
from utool_chat.domain.errors import (
    NotFound,
    PayloadTooLarge,
    RateLimited,
    Unavailable,
    Unprocessable,
    ValidationFailed,
)
from utool_chat.storage import StorageError, get_storage


def store(user_id: str, data: bytes, name: str = "file.bin") -> dict:
    return uploads.store_upload(user_id, name, io.BytesIO(data))


def blob(upload_id: str, variant: str = "original") -> bytes:
    found = uploads.file_for_download(uploads_owner_or_member(upload_id), upload_id, variant)
    return b"".join(get_storage().read(found.key))


def uploads_owner_or_member(upload_id: str) -> str:
    with session_scope() as session:
        row = session.get(Attachment, upload_id)
        assert row is not None and row.uploader_id is not None
        return row.uploader_id


def attachment_rows() -> int:
    with get_engine().connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(Attachment)).scalar_one()


def keys_of(upload_id: str) -> list[str]:
    with session_scope() as session:
        row = session.get(Attachment, upload_id)
        assert row is not None
        return [k for k in (row.storage_key, row.thumbnail_key) if k]


def blob_exists(key: str) -> bool:
    try:
        get_storage().size(key)
        return True
    except StorageError as exc:
        assert exc.missing
        return False


def staging_is_empty() -> bool:
    return not [p for p in uploads.staging_dir().iterdir()]


@pytest.fixture()
def pair(db):
    ann, bob = make_user("ann")["_id"], make_user("bob")["_id"]
    conversation = direct_conversation(ann, bob)
    return ann, bob, conversation["_id"]


# --- what is stored -----------------------------------------------------------------------------


def test_a_photo_loses_its_gps_and_stands_upright(pair, file_store):
    ann, _bob, _cid = pair
    original = samples.jpeg_with_gps((64, 32), orientation=6)
    assert b"TestCam" in original and Image.open(io.BytesIO(original)).getexif().get_ifd(samples.GPS_IFD).get(2)
    upload = store(ann, original, "holiday.jpg")
    assert upload["type"] == "image/jpeg" and upload["name"] == "holiday.jpg"
    # Orientation 6 means "rotate 90°": the stored image is 32 wide and 64 high.
    assert (upload["width"], upload["height"]) == (32, 64)
    stored = blob(upload["_id"])
    assert upload["size"] == len(stored)
    image = Image.open(io.BytesIO(stored))
    assert image.size == (32, 64)
    exif = image.getexif()
    assert not exif and not exif.get_ifd(samples.GPS_IFD)
    assert b"TestCam" not in stored and b"Exif" not in stored
    assert "exif" not in image.info
    # Blue was on the left; turned upright it is on top.
    top, bottom = image.convert("RGB").getpixel((16, 4)), image.convert("RGB").getpixel((16, 60))
    assert isinstance(top, tuple) and isinstance(bottom, tuple) and top[2] > 150 and bottom[0] > 150
    thumb = Image.open(io.BytesIO(blob(upload["_id"], "thumbnail")))
    assert thumb.format == "WEBP" and thumb.size == (32, 64)
    assert upload["url"] == file_urls.file_url(upload["_id"])
    assert upload["thumbnailUrl"] == file_urls.thumbnail_url(upload["_id"])
    assert staging_is_empty()


def test_a_big_image_gets_a_400_pixel_webp_thumbnail(pair, file_store):
    upload = store(pair[0], samples.png((1600, 900)), "wide.png")
    assert (upload["type"], upload["width"], upload["height"]) == ("image/png", 1600, 900)
    thumb = Image.open(io.BytesIO(blob(upload["_id"], "thumbnail")))
    assert thumb.format == "WEBP" and thumb.size == (400, 225)


@pytest.mark.parametrize(("make", "mime"), [(samples.gif_animation, "image/gif"), (samples.webp, "image/webp")])
def test_gif_and_webp_are_reencoded_in_their_own_format(pair, make, mime):
    upload = store(pair[0], make(), "pic")
    assert upload["type"] == mime and upload["thumbnailUrl"]
    image = Image.open(io.BytesIO(blob(upload["_id"])))
    assert image.get_format_mimetype() == mime
    if mime == "image/gif":
        assert getattr(image, "n_frames", 1) == 3  # the animation is kept


def test_the_type_comes_from_the_bytes_not_the_name(pair, file_store):
    ann = pair[0]
    fake = store(ann, samples.HTML, "cute-cat.png")
    assert fake["type"] == "text/html" and fake["name"] == "cute-cat.png"
    assert fake["thumbnailUrl"] is None and fake["width"] is None
    found = uploads.file_for_download(ann, fake["_id"])
    assert found.mime == "text/html" and not found.inline
    assert blob(fake["_id"]) == samples.HTML  # not an image: kept byte for byte
    svg = store(ann, samples.SVG, "logo.svg")
    assert svg["type"] == "image/svg+xml" and not uploads.file_for_download(ann, svg["_id"]).inline
    pdf = store(ann, samples.PDF, "report.exe")
    assert pdf["type"] == "application/pdf" and not uploads.file_for_download(ann, pdf["_id"]).inline
    assert uploads.file_for_download(ann, store(ann, samples.png(), "x.txt")["_id"]).inline


@pytest.mark.parametrize(("data", "code"), [
    (samples.png_bomb(30_000, 30_000), "image_too_large"),   # Pillow's own bomb guard fires
    (samples.png_bomb(8_000, 8_000), "image_too_large"),     # ours: more than 50 megapixels
    (samples.truncated_jpeg(), "invalid_image"),
    (samples.png()[:-20], "invalid_image"),
    (samples.jpeg_with_zip_appended(), "polyglot_file"),
    (samples.gif_with_script(), "polyglot_file"),
    (samples.png() + samples.HTML, "polyglot_file"),
])
def test_bombs_truncated_and_polyglot_images_are_refused_and_nothing_is_kept(pair, data, code):
    with pytest.raises(ValidationFailed) as err:
        store(pair[0], data, "evil.png")
    assert err.value.code == code and err.value.status == 400
    assert err.value.message  # a sentence for the uploader
    assert attachment_rows() == 0
    assert staging_is_empty()


def test_a_file_over_the_limit_is_refused_while_it_is_read(pair, upload_settings):
    upload_settings(MAX_UPLOAD_BYTES="1000")

    class Endless(io.RawIOBase):
        """A stream that never ends: only counting while reading can stop it."""
        read_bytes = 0

        def readable(self) -> bool:
            return True

        def readinto(self, buffer) -> int:
            buffer[:] = b"x" * len(buffer)
            self.read_bytes += len(buffer)
            return len(buffer)

    source = Endless()
    with pytest.raises(PayloadTooLarge) as err:
        uploads.store_upload(pair[0], "big.bin", io.BufferedReader(source))
    assert err.value.status == 413 and "1,000 bytes" in err.value.message
    assert source.read_bytes < 1_000_000
    assert staging_is_empty()
    assert store(pair[0], b"y" * 1000, "exactly.txt")["size"] == 1000


def test_file_names_lose_folders_and_control_characters(pair):
    ann = pair[0]
    assert store(ann, b"hi", "C:\\fakepath\\..\\notes.txt")["name"] == "notes.txt"
    assert store(ann, b"hi", "../../etc/passwd")["name"] == "passwd"
    assert store(ann, b"hi", "a\u202ebad\u200bname.txt\r\n")["name"] == "abadname.txt"
    assert store(ann, b"hi", "")["name"] == "file"
    long = store(ann, b"hi", "x" * 400 + ".pdf")["name"]
    assert len(long) == 255 and long.endswith(".pdf")
    with pytest.raises(ValidationFailed):
        store(ann, b"hi", "a\x00b")
    with pytest.raises(ValidationFailed) as err:
        store(ann, b"", "empty.txt")
    assert err.value.code == "empty_file"


# --- virus scanning -----------------------------------------------------------------------------


def test_eicar_is_refused_by_the_real_clamd_and_a_clean_file_is_accepted(pair, upload_settings, clamd_address,
                                                                         file_store):
    upload_settings(CLAMD_ADDRESS=clamd_address)
    ann = pair[0]
    with pytest.raises(Unprocessable) as err:
        store(ann, EICAR, "invoice.pdf")
    assert err.value.status == 422 and err.value.code == "infected" and "Eicar" in err.value.message
    assert attachment_rows() == 0
    assert staging_is_empty()
    clean = store(ann, b"just a harmless note\n", "note.txt")
    assert clean["type"] == "text/plain"
    assert store(ann, samples.jpeg_with_gps(), "photo.jpg")["type"] == "image/jpeg"


def test_with_the_scanner_down_uploads_fail_closed_with_503(pair, upload_settings, tmp_path):
    upload_settings(CLAMD_ADDRESS=str(tmp_path / "no-clamd.sock"))
    with pytest.raises(Unavailable) as err:
        store(pair[0], b"hello", "note.txt")
    assert err.value.status == 503 and err.value.code == "scanner_unavailable"
    upload_settings(CLAMD_ADDRESS="127.0.0.1:1")
    with pytest.raises(Unavailable):
        store(pair[0], b"hello", "note.txt")
    assert attachment_rows() == 0


# --- attaching ----------------------------------------------------------------------------------


def test_a_message_carries_uploads_and_links_in_order(pair, file_store):
    ann, bob, cid = pair
    photo = store(ann, samples.jpeg_with_gps(), "photo.jpg")
    doc = store(ann, samples.PDF, "report.pdf")
    link = {"url": "https://example.com/page", "type": "text/html", "name": "page", "size": None}
    msg, created = messages.send_message(ann, cid, "", content_type="image", attachments=[
        {"uploadId": photo["_id"]}, link, {"uploadId": doc["_id"]}])
    assert created
    first, second, third = msg["attachments"]
    assert first == {"url": photo["url"], "type": "image/jpeg", "name": "photo.jpg", "size": photo["size"],
                     "uploadId": photo["_id"], "thumbnailUrl": photo["thumbnailUrl"], "width": photo["width"],
                     "height": photo["height"]}
    assert second == link
    assert third["uploadId"] == doc["_id"] and third["thumbnailUrl"] is None and third["type"] == "application/pdf"
    history, _ = messages.list_messages(bob, cid)
    assert history[0]["attachments"] == msg["attachments"]
    # Attached: bob, a member, may download; the expiry is gone.
    assert uploads.file_for_download(bob, photo["_id"]).mime == "image/jpeg"
    with session_scope() as session:
        row = session.get(Attachment, photo["_id"])
        assert row is not None and row.expires_at is None and row.conversation_id == cid


def test_an_upload_is_attached_once_and_only_by_its_uploader(pair):
    ann, bob, cid = pair
    photo = store(ann, samples.png(), "p.png")
    with pytest.raises(ValidationFailed) as err:
        messages.send_message(bob, cid, "mine now", attachments=[{"uploadId": photo["_id"]}])
    assert err.value.code == "invalid_upload"
    with pytest.raises(NotFound):  # bob cannot even see it before it is sent
        uploads.file_for_download(bob, photo["_id"])
    messages.send_message(ann, cid, "once", attachments=[{"uploadId": photo["_id"]}])
    with pytest.raises(ValidationFailed) as err:
        messages.send_message(ann, cid, "twice", attachments=[{"uploadId": photo["_id"]}])
    assert err.value.code == "invalid_upload"
    other = direct_conversation(ann, make_user("cid")["_id"])["_id"]
    with pytest.raises(ValidationFailed):
        messages.send_message(ann, other, "elsewhere", attachments=[{"uploadId": photo["_id"]}])
    for bad in ([{"uploadId": "nope!"}], [{"uploadId": photo["_id"]}, {"uploadId": photo["_id"]}],
                [{"uploadId": "0" * 32}]):
        with pytest.raises(ValidationFailed) as err:
            messages.send_message(ann, cid, "x", attachments=bad)
        assert err.value.code == "invalid_upload"


def test_a_refused_send_attaches_nothing(pair):
    ann, _bob, cid = pair
    mine = store(ann, samples.png(), "a.png")
    with pytest.raises(ValidationFailed):
        messages.send_message(ann, cid, "x", attachments=[{"uploadId": mine["_id"]}, {"uploadId": "f" * 32}])
    messages.send_message(ann, cid, "now it works", attachments=[{"uploadId": mine["_id"]}])


def test_a_tempid_retry_with_the_same_uploads_returns_the_first_message(pair):
    ann, _bob, cid = pair
    photo = store(ann, samples.png(), "a.png")
    first, created = messages.send_message(ann, cid, "hi", attachments=[{"uploadId": photo["_id"]}], temp_id="t1")
    again, created_again = messages.send_message(ann, cid, "hi", attachments=[{"uploadId": photo["_id"]}],
                                                 temp_id="t1")
    assert created and not created_again and again["attachments"] == first["attachments"]


def test_sending_costs_the_same_with_one_upload_or_ten(pair):
    ann, _bob, cid = pair
    counts = []
    for n in (1, 10):
        ids = [store(ann, f"file {i}".encode(), f"{i}.txt")["_id"] for i in range(n)]
        with count_queries() as q:
            msg, _ = messages.send_message(ann, cid, "files", attachments=[{"uploadId": i} for i in ids])
        assert len(msg["attachments"]) == n
        counts.append(q.count)
    # roster, seq bump, insert, attach (one UPDATE … RETURNING for all), own position, unread counts
    assert counts == [6, 6], counts


# --- downloads, deletion, expiry ----------------------------------------------------------------


def test_only_members_and_the_uploader_before_sending_may_download(pair):
    ann, bob, cid = pair
    stranger = make_user("eve")["_id"]
    photo = store(ann, samples.png(), "a.png")
    assert uploads.file_for_download(ann, photo["_id"])
    for viewer in (bob, stranger, None):
        with pytest.raises(NotFound):
            uploads.file_for_download(viewer, photo["_id"])
    messages.send_message(ann, cid, "look", attachments=[{"uploadId": photo["_id"]}])
    assert uploads.file_for_download(bob, photo["_id"]).variant == "original"
    assert uploads.file_for_download(bob, photo["_id"], "thumbnail").mime == "image/webp"
    for viewer, upload_id, variant in ((stranger, photo["_id"], "original"), (None, photo["_id"], "original"),
                                       (bob, "0" * 32, "original"), (bob, photo["_id"], "other"),
                                       (bob, "../../etc", "original")):
        with pytest.raises(NotFound) as err:
            uploads.file_for_download(viewer, upload_id, variant)
        assert (err.value.status, err.value.code, err.value.message) == (404, "not_found", "File not found.")


def test_a_member_who_leaves_a_group_loses_its_files(db):
    ann, bob, cid = (make_user(n)["_id"] for n in ("ann", "bob", "cid"))
    group = group_conversation(ann, [bob, cid], name="G")
    photo = store(ann, samples.png(), "a.png")
    messages.send_message(ann, group["_id"], "pic", attachments=[{"uploadId": photo["_id"]}])
    assert uploads.file_for_download(cid, photo["_id"])
    convs.archive_or_leave(cid, group["_id"])
    with pytest.raises(NotFound):
        uploads.file_for_download(cid, photo["_id"])


def test_deleting_a_message_deletes_its_blobs_and_thumbnails_at_once(pair, file_store):
    ann, bob, cid = pair
    photo = store(ann, samples.jpeg_with_gps(), "a.jpg")
    doc = store(ann, samples.PDF, "b.pdf")
    msg, _ = messages.send_message(ann, cid, "files", attachments=[
        {"uploadId": photo["_id"]}, {"uploadId": doc["_id"]}, {"url": "https://example.com/x", "type": "text/html"}])
    keys = keys_of(photo["_id"]) + keys_of(doc["_id"])
    assert len(keys) == 3 and all(blob_exists(k) for k in keys)
    deleted = messages.delete_message(ann, msg["_id"])
    assert deleted["attachments"] == []
    assert not any(blob_exists(k) for k in keys)
    assert attachment_rows() == 0
    for viewer in (ann, bob):
        with pytest.raises(NotFound):
            uploads.file_for_download(viewer, photo["_id"])


def test_unattached_uploads_expire_and_the_sweeper_removes_them_with_their_blobs(pair, upload_settings, file_store):
    ann, _bob, cid = pair
    kept = store(ann, samples.png(), "kept.png")
    messages.send_message(ann, cid, "kept", attachments=[{"uploadId": kept["_id"]}])
    old = store(ann, samples.png(), "old.png")
    fresh = store(ann, b"fresh", "fresh.txt")
    assert old["expiresAt"] and fresh["expiresAt"]
    old_keys = keys_of(old["_id"])
    # A day passes for `old` (UPLOAD_EXPIRY_SECONDS defaults to 24 h).
    with session_scope() as session:
        session.exec(sa.update(Attachment).where(Attachment.id == old["_id"])
                     .values(expires_at=utcnow() - timedelta(seconds=1)))
    # Expired is gone before any sweep: no download, no attaching.
    with pytest.raises(NotFound):
        uploads.file_for_download(ann, old["_id"])
    with pytest.raises(ValidationFailed):
        messages.send_message(ann, cid, "late", attachments=[{"uploadId": old["_id"]}])
    assert uploads.sweep_expired() == 1
    assert not any(blob_exists(k) for k in old_keys)
    with session_scope() as session:
        assert session.get(Attachment, old["_id"]) is None
        assert session.get(Attachment, fresh["_id"]) is not None and session.get(Attachment, kept["_id"]) is not None
    assert uploads.sweep_expired() == 0
    assert blob(kept["_id"]) and blob(fresh["_id"]) == b"fresh"


def test_the_expiry_is_configurable(pair, upload_settings):
    upload_settings(UPLOAD_EXPIRY_SECONDS="0")
    gone = store(pair[0], b"short-lived", "a.txt")
    with pytest.raises(NotFound):
        uploads.file_for_download(pair[0], gone["_id"])
    assert uploads.sweep_expired() == 1


async def test_the_sweeper_runs_by_itself_in_the_backend_process(pair, upload_settings):
    import asyncio

    upload_settings(UPLOAD_EXPIRY_SECONDS="0", UPLOAD_SWEEP_INTERVAL_SECONDS="0.05")
    gone = await asyncio.to_thread(store, pair[0], b"short-lived", "a.txt")
    task = asyncio.create_task(uploads.run_sweeper())
    try:
        for _ in range(100):
            await asyncio.sleep(0.05)
            with session_scope() as session:
                if session.get(Attachment, gone["_id"]) is None:
                    break
        else:
            raise AssertionError("the sweeper did not remove the expired upload")
    finally:
        task.cancel()


def test_the_uploader_can_take_back_an_unsent_upload(pair, file_store):
    ann, bob, cid = pair
    photo = store(ann, samples.png(), "a.png")
    keys = keys_of(photo["_id"])
    with pytest.raises(NotFound):
        uploads.discard_upload(bob, photo["_id"])
    assert uploads.discard_upload(ann, photo["_id"]) == {"_id": photo["_id"]}
    assert not any(blob_exists(k) for k in keys)
    sent = store(ann, samples.png(), "b.png")
    messages.send_message(ann, cid, "sent", attachments=[{"uploadId": sent["_id"]}])
    with pytest.raises(NotFound):  # sent: only deleting the message removes it
        uploads.discard_upload(ann, sent["_id"])


# --- signed URLs --------------------------------------------------------------------------------


def test_signed_urls_are_for_one_viewer_one_file_and_expire(pair):
    ann, bob, cid = pair
    photo = store(ann, samples.png(), "a.png")
    messages.send_message(ann, cid, "pic", attachments=[{"uploadId": photo["_id"]}])
    url = file_urls.sign_url(bob, photo["url"], now=1_000_000)
    query = file_urls.query_of(url)
    assert url.startswith(photo["url"] + "?") and query["u"] == bob
    assert file_urls.verify(photo["_id"], "original", query, now=1_000_000) == bob
    assert file_urls.verify(photo["_id"], "thumbnail", query, now=1_000_000) is None  # another variant
    assert file_urls.verify("0" * 32, "original", query, now=1_000_000) is None  # another file
    assert file_urls.verify(photo["_id"], "original", {**query, "u": ann}, now=1_000_000) is None  # another user
    assert file_urls.verify(photo["_id"], "original", query, now=int(query["e"]) + 1) is None  # expired
    ttl = 3600
    assert 1_000_000 + ttl <= int(query["e"]) <= 1_000_000 + ttl * 1.25
    # Minted twice within a quarter of the TTL: the same URL (browser caches keep working).
    assert file_urls.sign_url(bob, photo["url"], now=1_000_001) == url
    assert file_urls.sign_url(bob, "https://example.com/a.png") == "https://example.com/a.png"
    signed = file_urls.sign_message(bob, messages.list_messages(bob, cid)[0][0])
    assert file_urls.parse(signed["attachments"][0]["url"]) == (photo["_id"], "original")
    assert "s=" in signed["attachments"][0]["thumbnailUrl"]
    batch = uploads.signed_urls(bob, [photo["_id"], "0" * 32, "bad id"])
    assert set(batch) == {photo["_id"]} and "s=" in batch[photo["_id"]]["url"]
    assert uploads.signed_urls(make_user("eve")["_id"], [photo["_id"]]) == {}


# --- group avatars ------------------------------------------------------------------------------


def test_a_group_avatar_is_an_image_upload_seen_by_members_only(db, file_store):
    ann, bob, cid = (make_user(n)["_id"] for n in ("ann", "bob", "cid"))
    group = group_conversation(ann, [bob, cid], name="G")
    convs.update_conversation(ann, group["_id"], add_admin_ids=[bob])  # only admins change the photo
    doc = store(bob, samples.PDF, "a.pdf")
    with pytest.raises(ValidationFailed) as err:
        convs.update_conversation(bob, group["_id"], avatar={"uploadId": doc["_id"]})
    assert err.value.code == "invalid_avatar"
    first = store(bob, samples.png(), "face.png")
    with pytest.raises(ValidationFailed):  # not ann's to use
        convs.update_conversation(ann, group["_id"], avatar={"uploadId": first["_id"]})
    updated = convs.update_conversation(bob, group["_id"], avatar={"uploadId": first["_id"]})
    assert updated["avatar"] == first["url"]
    assert convs.get_conversation(cid, group["_id"])["avatar"] == first["url"]
    assert uploads.file_for_download(cid, first["_id"])  # every member may load it
    with pytest.raises(NotFound):
        uploads.file_for_download(make_user("eve")["_id"], first["_id"])
    old_keys = keys_of(first["_id"])
    second = store(ann, samples.png(color=(1, 2, 3)), "new.png")
    assert convs.update_conversation(ann, group["_id"], avatar={"uploadId": second["_id"]})["avatar"] == second["url"]
    assert not any(blob_exists(k) for k in old_keys)  # the replaced picture is deleted
    with pytest.raises(NotFound):
        uploads.file_for_download(cid, first["_id"])
    assert convs.update_conversation(ann, group["_id"], avatar="")["avatar"] is None
    with pytest.raises(NotFound):
        uploads.file_for_download(ann, second["_id"])


def test_an_old_external_avatar_is_never_served(db):
    ann, bob, cid = (make_user(n)["_id"] for n in ("ann", "bob", "cid"))
    group = group_conversation(ann, [bob, cid], name="G")
    from utool_chat.db.models import Conversation

    with session_scope() as session:
        session.exec(sa.update(Conversation).where(Conversation.id == group["_id"])
                     .values(avatar="https://tracker.example/pixel.png"))
    assert convs.get_conversation(bob, group["_id"])["avatar"] is None


# --- limits -------------------------------------------------------------------------------------


def test_the_upload_rate_limit_and_the_daily_quota_answer_429_with_retry_after(pair, upload_settings):
    ann, bob, _cid = pair
    upload_settings(RATE_LIMIT_UPLOAD="3/minute", UPLOAD_QUOTA_BYTES_PER_DAY="100")
    for i in range(3):
        store(ann, b"x", f"{i}.txt")
    with pytest.raises(RateLimited) as err:
        store(ann, b"x", "4.txt")
    assert err.value.status == 429 and 1 <= err.value.retry_after <= 60
    store(bob, b"y" * 60, "a.txt")  # the limits are per user
    with pytest.raises(RateLimited) as err:
        store(bob, b"y" * 50, "b.txt")  # 60 + 50 > 100 bytes today
    assert "quota" in err.value.message and err.value.retry_after > 3600
    store(bob, b"y" * 40, "c.txt")  # what still fits is accepted
    with pytest.raises(RateLimited):
        uploads.check_upload_allowed(bob)  # nothing left today: refused before any byte is read


# --- the default embedded database ------------------------------------------------------------------


@pytest.fixture()
def on_sqlite(tmp_path: Path, pg_url):
    url = f"sqlite:///{tmp_path / 'chat.db'}"
    migrate(url)
    db_engine.init_engine(url)
    try:
        yield url
    finally:
        db_engine.init_engine(pg_url)


def test_uploads_work_on_sqlite_with_the_local_store(on_sqlite, upload_settings, tmp_path):
    upload_settings()
    ann, bob = make_user("ann")["_id"], make_user("bob")["_id"]
    cid = direct_conversation(ann, bob)["_id"]
    photo = store(ann, samples.jpeg_with_gps(), "a.jpg")
    msg, _ = messages.send_message(ann, cid, "pic", attachments=[{"uploadId": photo["_id"]}])
    assert msg["attachments"][0]["uploadId"] == photo["_id"]
    assert uploads.file_for_download(bob, photo["_id"], "thumbnail")
    assert Path(os.environ["MEDIA_ROOT"]).is_dir()
    keys = keys_of(photo["_id"])
    messages.delete_message(ann, msg["_id"])
    assert not any(blob_exists(k) for k in keys)
    stale = store(ann, b"x", "x.txt")
    with session_scope() as session:
        session.exec(sa.update(Attachment).where(Attachment.id == stale["_id"])
                     .values(expires_at=utcnow() - timedelta(seconds=1)))
    assert uploads.sweep_expired() == 1
