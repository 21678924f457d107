"""/api/v1/chat/uploads and /api/v1/chat/files over HTTP (FastAPI's TestClient, real Postgres,
real stores and clamd): upload objects, sending by uploadId, downloads only for members with
identical 404s for everyone else, signed URLs, headers, ranges, deletion, limits, avatars."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests import media_samples as samples
from tests.files_support import EICAR
from tests.support.factories import befriend, issue_token, new_person
from utool_chat.domain import file_urls

BASE = "/api/v1/chat"


@pytest.fixture()
def world(api_client, upload_settings):
    ann, bob, eve = (new_person(username=name) for name in ("ann", "bob", "eve"))
    befriend(ann.id, bob.id)
    r = api_client.post(f"{BASE}/conversations", json={"participantIds": [bob.id]}, headers=ann.headers)
    assert r.status_code == 201, r.text
    return {"ann": ann, "bob": bob, "eve": eve, "cid": r.json()["data"]["_id"], "client": api_client}


def upload(client, person, *files: tuple[str, bytes], field: str = "files"):
    return client.post(f"{BASE}/uploads", headers=person.headers,
                       files=[(field, (name, data, "image/png")) for name, data in files])


def upload_one(client, person, name: str, data: bytes) -> dict:
    r = upload(client, person, (name, data))
    assert r.status_code == 201, r.text
    return r.json()["data"][0]


def send(client, person, cid, content="", **extra):
    return client.post(f"{BASE}/conversations/{cid}/messages", json={"content": content, **extra},
                       headers=person.headers)


def assert_error(response, status, code=None) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    outage = {"retryAfter"} if status == 503 else set()  # an outage says when to retry
    assert body["success"] is False and body["error"] and set(body) == {"success", "error", "code"} | outage
    if code:
        assert body["code"] == code, body
    return body


def test_uploading_several_files_answers_their_upload_objects(world):
    client, ann = world["client"], world["ann"]
    r = upload(client, ann, ("photo.jpg", samples.jpeg_with_gps()), ("notes.txt", b"hello\n"))
    assert r.status_code == 201, r.text
    photo, notes = r.json()["data"]
    assert set(photo) == {"_id", "name", "type", "size", "url", "thumbnailUrl", "width", "height", "createdAt",
                          "expiresAt"}
    assert (photo["name"], photo["type"], photo["width"], photo["height"]) == ("photo.jpg", "image/jpeg", 32, 64)
    assert photo["url"] == f"{BASE}/files/{photo['_id']}" and photo["thumbnailUrl"].endswith("/thumbnail")
    assert (notes["type"], notes["size"], notes["thumbnailUrl"], notes["width"]) == ("text/plain", 6, None, None)
    # any part with a filename is a file, whatever its field name (the claimed type is ignored)
    assert upload(client, ann, ("a.bin", b"x"), field="whatever").status_code == 201


def test_a_jpeg_with_gps_comes_back_without_it(world):
    client, ann = world["client"], world["ann"]
    photo = upload_one(client, ann, "gps.jpg", samples.jpeg_with_gps())
    r = client.get(photo["url"], headers=ann.headers)
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    image = Image.open(io.BytesIO(r.content))
    assert not image.getexif() and b"TestCam" not in r.content
    assert image.size == (32, 64)


def test_bad_requests_are_clear_400s(world):
    client, ann = world["client"], world["ann"]
    assert_error(client.post(f"{BASE}/uploads", headers=ann.headers, json={"file": "x"}), 400, "invalid_multipart")
    assert_error(client.post(f"{BASE}/uploads", headers=ann.headers, files={"a": (None, "b")}), 400, "no_files")
    assert_error(client.post(f"{BASE}/uploads", headers={**ann.headers,
                                                         "content-type": "multipart/form-data; boundary=xyz"},
                             content=b"--xyz\r\nnot a header line"), 400)
    assert_error(upload(client, ann, *[(f"{i}.txt", b"x") for i in range(11)]), 400, "too_many_files")
    assert_error(upload(client, ann, ("bomb.png", samples.png_bomb(8_000, 8_000))), 400, "image_too_large")
    assert_error(upload(client, ann, ("cut.jpg", samples.truncated_jpeg())), 400, "invalid_image")
    assert_error(upload(client, ann, ("gifar.jpg", samples.jpeg_with_zip_appended())), 400, "polyglot_file")
    assert_error(client.post(f"{BASE}/uploads", files=[("f", ("a.txt", b"x"))]), 401, "unauthorized")


def test_one_bad_file_refuses_the_whole_request_and_keeps_nothing(world):
    client, ann = world["client"], world["ann"]
    r = upload(client, ann, ("good.png", samples.png()), ("bad.jpg", samples.truncated_jpeg()))
    body = assert_error(r, 400, "invalid_image")
    assert body["error"].startswith("files[1] (bad.jpg): ")
    from utool_chat.db.engine import session_scope
    from utool_chat.db.models import Attachment

    with session_scope() as session:
        assert session.query(Attachment).count() == 0


def test_413_for_a_file_over_max_upload_bytes(world, upload_settings):
    upload_settings(MAX_UPLOAD_BYTES="2000")
    client, ann = world["client"], world["ann"]
    body = assert_error(upload(client, ann, ("big.bin", b"x" * 2001)), 413, "payload_too_large")
    assert "2,000 bytes" in body["error"]
    assert upload(client, ann, ("fits.bin", b"x" * 2000)).status_code == 201


def test_429_with_retry_after_for_the_upload_rate_and_quota(world, upload_settings):
    upload_settings(RATE_LIMIT_UPLOAD="2/minute")
    client, ann = world["client"], world["ann"]
    assert upload(client, ann, ("a.txt", b"a"), ("b.txt", b"b")).status_code == 201
    r = upload(client, ann, ("c.txt", b"c"))
    assert_error(r, 429, "rate_limited")
    assert 1 <= int(r.headers["retry-after"]) <= 60
    upload_settings(RATE_LIMIT_UPLOAD="100/minute", UPLOAD_QUOTA_BYTES_PER_DAY="10")
    bob = world["bob"]
    assert upload(client, bob, ("a.txt", b"x" * 10)).status_code == 201
    r = upload(client, bob, ("b.txt", b"y"))
    assert_error(r, 429, "rate_limited")
    assert int(r.headers["retry-after"]) > 3600


def test_eicar_is_422_infected_and_a_scanner_outage_503(world, upload_settings, clamd_address, tmp_path):
    upload_settings(CLAMD_ADDRESS=clamd_address)
    client, ann = world["client"], world["ann"]
    assert_error(upload(client, ann, ("eicar.com", EICAR)), 422, "infected")
    assert upload(client, ann, ("clean.txt", b"clean")).status_code == 201
    upload_settings(CLAMD_ADDRESS=str(tmp_path / "gone.sock"))
    r = upload(client, ann, ("clean.txt", b"clean"))
    assert_error(r, 503, "scanner_unavailable")
    assert r.headers["retry-after"]


def test_sending_by_upload_id_over_http_and_downloading_as_a_member(world, file_store):
    client, ann, bob, cid = world["client"], world["ann"], world["bob"], world["cid"]
    photo = upload_one(client, ann, "photo.jpg", samples.jpeg_with_gps())
    r = send(client, ann, cid, "caption", contentType="image", attachments=[{"uploadId": photo["_id"]}])
    assert r.status_code == 201, r.text
    attachment = r.json()["data"]["message"]["attachments"][0]
    assert attachment["uploadId"] == photo["_id"] and attachment["url"] == photo["url"]
    got = client.get(photo["url"], headers=bob.headers)
    assert got.status_code == 200 and got.content[:2] == b"\xff\xd8"
    thumb = client.get(photo["thumbnailUrl"], headers=bob.headers)
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/webp"
    assert_error(send(client, bob, cid, "steal", attachments=[{"uploadId": photo["_id"]}]), 400, "invalid_upload")


def test_strangers_logged_out_tokens_and_random_ids_get_byte_identical_404s(world):
    client, ann, bob, eve, cid = (world[k] for k in ("client", "ann", "bob", "eve", "cid"))
    photo = upload_one(client, ann, "photo.jpg", samples.jpeg_with_gps())
    assert send(client, ann, cid, "pic", attachments=[{"uploadId": photo["_id"]}]).status_code == 201
    logged_out = {"Authorization": f"Bearer {issue_token(bob.id)}"}
    assert client.post("/api/v1/auth/logout", headers=logged_out).status_code == 200
    forged = file_urls.sign_url(eve.id, photo["url"]).replace("s=", "s=0")
    answers = [
        client.get(photo["url"], headers=eve.headers),                     # a stranger
        client.get(photo["url"], headers=logged_out),                      # a logged-out token
        client.get(photo["url"]),                                          # nobody
        client.get(photo["url"], headers={"Authorization": "Bearer nonsense"}),
        client.get(f"{BASE}/files/{'0' * 32}", headers=bob.headers),       # a random id
        client.get(f"{BASE}/files/not-an-id", headers=bob.headers),
        client.get(file_urls.sign_url(eve.id, photo["url"])),              # a stranger's own signed URL
        client.get(forged),
        client.get(photo["thumbnailUrl"], headers=eve.headers),
        client.get(f"{BASE}/files/{'0' * 32}/thumbnail", headers=bob.headers),
    ]
    first = answers[0]
    assert first.status_code == 404 and first.json() == {"success": False, "error": "File not found.",
                                                          "code": "not_found"}
    for answer in answers:
        assert (answer.status_code, answer.content) == (404, first.content)
        assert answer.headers["content-type"] == first.headers["content-type"]
        assert "www-authenticate" not in answer.headers
    assert client.get(photo["url"], headers=bob.headers).status_code == 200


def test_browsers_use_signed_urls_without_any_header(world, upload_settings):
    client, ann, bob, cid = world["client"], world["ann"], world["bob"], world["cid"]
    photo = upload_one(client, ann, "photo.jpg", samples.jpeg_with_gps())
    send(client, ann, cid, "pic", attachments=[{"uploadId": photo["_id"]}])
    r = client.post(f"{BASE}/files/signed-urls", json={"fileIds": [photo["_id"], "0" * 32]}, headers=bob.headers)
    assert r.status_code == 200, r.text
    signed = r.json()["data"]
    assert set(signed) == {photo["_id"]}
    entry = signed[photo["_id"]]
    assert "token" not in entry["url"] and bob.headers["Authorization"].split()[1] not in entry["url"]
    assert client.get(entry["url"]).status_code == 200
    assert client.get(entry["thumbnailUrl"]).headers["content-type"] == "image/webp"
    assert client.get(entry["url"].replace(photo["_id"], "1" * 32)).status_code == 404
    # Expired: the same link stops working.
    upload_settings(FILE_URL_TTL_SECONDS="1")
    import time

    short = file_urls.sign_url(bob.id, photo["url"])
    assert client.get(short).status_code == 200
    time.sleep(max(0.0, int(file_urls.query_of(short)["e"]) - time.time()) + 1.1)
    assert client.get(short).status_code == 404
    assert_error(client.post(f"{BASE}/files/signed-urls", json={"fileIds": "x"}, headers=bob.headers), 400)


def test_served_files_carry_the_safety_headers_and_only_raster_images_are_inline(world):
    client, ann = world["client"], world["ann"]
    cases = [("photo.jpg", samples.jpeg_with_gps(), "image/jpeg", "inline"),
             ("fake.png", samples.HTML, "text/html", "attachment"),
             ("logo.svg", samples.SVG, "image/svg+xml", "attachment"),
             ("report.pdf", samples.PDF, "application/pdf", "attachment")]
    for name, data, mime, disposition in cases:
        up = upload_one(client, ann, name, data)
        assert up["type"] == mime
        r = client.get(up["url"], headers=ann.headers)
        assert r.status_code == 200
        assert r.headers["content-type"] == mime
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["content-security-policy"] == "sandbox"
        assert r.headers["content-disposition"].startswith(f'{disposition}; filename="{name}"'), \
            r.headers["content-disposition"]
    unicode_name = upload_one(client, ann, "résumé \"final\".txt", b"cv")
    disposition = client.get(unicode_name["url"], headers=ann.headers).headers["content-disposition"]
    assert disposition == ("attachment; filename=\"r_sum_ _final_.txt\"; "
                           "filename*=UTF-8''r%C3%A9sum%C3%A9%20%22final%22.txt")


def test_range_requests_and_conditional_gets(world):
    client, ann = world["client"], world["ann"]
    data = bytes(range(256)) * 100
    up = upload_one(client, ann, "data.bin", data)
    whole = client.get(up["url"], headers=ann.headers)
    assert whole.content == data and whole.headers["accept-ranges"] == "bytes"
    part = client.get(up["url"], headers={**ann.headers, "Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == data[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(data)}"
    assert client.get(up["url"], headers={**ann.headers, "Range": "bytes=-10"}).content == data[-10:]
    assert client.get(up["url"], headers={**ann.headers, "Range": "bytes=25000-"}).content == data[25000:]
    bad = client.get(up["url"], headers={**ann.headers, "Range": f"bytes={len(data)}-"})
    assert bad.status_code == 416 and bad.headers["content-range"] == f"bytes */{len(data)}"
    assert client.get(up["url"], headers={**ann.headers, "Range": "bytes=0-1,5-6"}).status_code == 200
    assert client.get(up["url"], headers={**ann.headers, "Range": "furlongs=1-2"}).content == data
    etag = whole.headers["etag"]
    assert client.get(up["url"], headers={**ann.headers, "If-None-Match": etag}).status_code == 304
    head = client.head(up["url"], headers=ann.headers)
    assert head.status_code == 200 and head.headers["content-length"] == str(len(data)) and not head.content


def test_a_deleted_messages_file_urls_stop_working(world, file_store):
    client, ann, bob, cid = world["client"], world["ann"], world["bob"], world["cid"]
    photo = upload_one(client, ann, "photo.jpg", samples.jpeg_with_gps())
    message = send(client, ann, cid, "pic", attachments=[{"uploadId": photo["_id"]}]).json()["data"]["message"]
    signed = file_urls.sign_url(bob.id, photo["url"])
    assert client.get(signed).status_code == 200
    assert client.delete(f"{BASE}/messages/{message['_id']}", headers=ann.headers).status_code == 200
    for r in (client.get(photo["url"], headers=bob.headers), client.get(photo["url"], headers=ann.headers),
              client.get(signed), client.get(photo["thumbnailUrl"], headers=bob.headers)):
        assert r.status_code == 404 and r.json()["code"] == "not_found"


def test_taking_back_an_unsent_upload(world):
    client, ann, bob = world["client"], world["ann"], world["bob"]
    up = upload_one(client, ann, "a.txt", b"a")
    assert_error(client.delete(f"{BASE}/uploads/{up['_id']}", headers=bob.headers), 404, "not_found")
    assert client.delete(f"{BASE}/uploads/{up['_id']}", headers=ann.headers).json()["data"] == {"_id": up["_id"]}
    assert client.get(up["url"], headers=ann.headers).status_code == 404


def test_group_avatars_are_uploads_and_external_urls_are_refused(world):
    client, ann, bob = world["client"], world["ann"], world["bob"]
    cid_person = new_person(username="cid")
    befriend(ann, bob)
    befriend(ann, cid_person)
    r = client.post(f"{BASE}/conversations", json={"participantIds": [bob.id, cid_person.id], "type": "group",
                                                   "name": "Team"}, headers=ann.headers)
    group = r.json()["data"]
    body = assert_error(client.put(f"{BASE}/conversations/{group['_id']}", json={"avatar": "https://x.example/a.png"},
                                   headers=ann.headers), 400, "invalid_avatar")
    assert "uploadId" in body["error"]
    mine = upload_one(client, bob, "mine.png", samples.png())
    assert_error(client.put(f"{BASE}/conversations/{group['_id']}", json={"avatar": {"uploadId": mine["_id"]}},
                            headers=bob.headers), 403, "not_admin")  # only admins change the photo
    face = upload_one(client, ann, "face.png", samples.png())
    r = client.put(f"{BASE}/conversations/{group['_id']}", json={"avatar": {"uploadId": face["_id"]}},
                   headers=ann.headers)
    assert r.status_code == 200 and r.json()["data"]["avatar"] == face["url"]
    assert client.get(face["url"], headers=cid_person.headers).status_code == 200
    assert client.get(face["url"], headers=world["eve"].headers).status_code == 404


def test_the_openapi_schema_documents_the_multipart_body_and_the_file_routes(api_client):
    paths = api_client.get("/openapi.json").json()["paths"]
    body = paths[f"{BASE}/uploads"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert body["properties"]["files"]["items"]["format"] == "binary"
    assert {"201", "413", "422", "429", "503"} <= set(paths[f"{BASE}/uploads"]["post"]["responses"])
    assert "get" in paths[f"{BASE}/files/{{fileId}}"] and "post" in paths[f"{BASE}/files/signed-urls"]


def test_a_store_that_is_down_is_a_503_not_a_500(world, upload_settings, s3_server, s3_bucket):
    from tests.files_support import s3_env

    client, ann = world["client"], world["ann"]
    upload_settings(**s3_env(s3_server, s3_bucket))
    kept = upload_one(client, ann, "kept.txt", b"kept")
    upload_settings(S3_ENDPOINT_URL="http://127.0.0.1:1")  # nothing listens there
    r = upload(client, ann, ("a.txt", b"a"))
    assert_error(r, 503, "storage_unavailable")
    assert r.headers["retry-after"]
    assert_error(client.get(kept["url"], headers=ann.headers), 503, "storage_unavailable")
