"""Uploads against the real backend process (gunicorn + uvicorn, as in production) with stock clients:
httpx (async and sync), curl, and python-socketio.

- Oversized bodies are answered 413 with the envelope, and every client reads it, also while
  it is still sending: the small limit of ordinary endpoints (1 MB) and MAX_UPLOAD_BYTES of
  uploads, with a declared Content-Length and chunked. The same for a 401 of an upload sent
  without a token (an early answer is an early answer).
- A message with uploads sent over chat:send_message arrives live with URLs the receiver
  may use: the stable ones with its Bearer header, signed ones without.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests import media_samples as samples
from tests.realtime.conftest import ChatClient
from tests.support.backend_process import BackendProcess, running_backend
from tests.support.factories import Person, direct_conversation, new_person

MIB = 2**20
UPLOADS = "/api/v1/chat/uploads"
TOO_BIG_FOR_JSON = 10_000_000  # ordinary endpoints take 1 MB
TOO_BIG_FOR_UPLOADS = 30 * MIB  # MAX_UPLOAD_BYTES is 25 MiB (the default)


@pytest.fixture(scope="module")
def files_backend(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackendProcess]:
    media = tmp_path_factory.mktemp("media")
    with running_backend(pg_url, env={"MEDIA_ROOT": str(media), "RATE_LIMIT_UPLOAD": "1000/minute"}) as process:
        yield process


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("big") / "big.bin"
    with open(path, "wb") as out:
        for _ in range(TOO_BIG_FOR_UPLOADS // MIB):
            out.write(b"\x01" * MIB)
    return path


def person() -> Person:
    return new_person()


def assert_envelope(status: int, body: bytes, expected_status: int, code: str) -> None:
    assert status == expected_status, body[:300]
    parsed = json.loads(body)
    assert parsed["success"] is False and parsed["code"] == code and parsed["error"], parsed


def multipart(path: Path, boundary: str = "utoolboundary") -> Iterator[bytes]:
    """A multipart body streamed from disk, for a chunked (no Content-Length) request."""
    yield (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{path.name}\"\r\n"
           "Content-Type: application/octet-stream\r\n\r\n").encode()
    with open(path, "rb") as handle:
        while chunk := handle.read(MIB):
            yield chunk
    yield f"\r\n--{boundary}--\r\n".encode()


async def amultipart(path: Path, boundary: str = "utoolboundary") -> AsyncIterator[bytes]:
    for chunk in multipart(path, boundary):
        yield chunk


def curl(*args: str) -> tuple[int, bytes]:
    result = subprocess.run(["curl", "-s", "-S", "-o", "-", "-w", "\n%{http_code}", "--max-time", "60", *args],
                            capture_output=True, check=False, timeout=90)
    body, _, status = result.stdout.rpartition(b"\n")
    assert status.isdigit(), result.stderr
    return int(status), body


# --- 413 on ordinary endpoints ------------------------------------------------------------------


async def test_a_ten_megabyte_json_body_is_a_readable_413_for_async_httpx(files_backend):
    body = b'{"username": "' + b"x" * TOO_BIG_FOR_JSON + b'"}'
    async with httpx.AsyncClient(base_url=files_backend.url, timeout=30) as client:
        r = await client.post("/api/v1/auth/login", content=body, headers={"content-type": "application/json"})
        assert_envelope(r.status_code, r.content, 413, "payload_too_large")

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(10):
                yield b"x" * MIB

        r = await client.post("/api/v1/auth/login", content=chunks())  # chunked: no Content-Length
        assert_envelope(r.status_code, r.content, 413, "payload_too_large")
        # The connection pool is still usable afterwards.
        assert (await client.get("/api/v1/no-such-route")).status_code == 404


def test_a_ten_megabyte_json_body_is_a_readable_413_for_sync_httpx_and_curl(files_backend, tmp_path):
    body = b"x" * TOO_BIG_FOR_JSON
    with httpx.Client(base_url=files_backend.url, timeout=30) as client:
        r = client.post("/api/v1/auth/login", content=body)
        assert_envelope(r.status_code, r.content, 413, "payload_too_large")
        r = client.post("/api/v1/auth/login", content=iter([b"x" * MIB] * 10))
        assert_envelope(r.status_code, r.content, 413, "payload_too_large")
    path = tmp_path / "body.json"
    path.write_bytes(body)
    status, answer = curl("-X", "POST", "--data-binary", f"@{path}", f"{files_backend.url}/api/v1/auth/login")
    assert_envelope(status, answer, 413, "payload_too_large")
    status, answer = curl("-X", "POST", "-H", "Expect:", "--data-binary", f"@{path}",
                          f"{files_backend.url}/api/v1/auth/login")
    assert_envelope(status, answer, 413, "payload_too_large")


# --- 413 on uploads -----------------------------------------------------------------------------


async def test_a_file_over_max_upload_bytes_is_a_readable_413_for_async_httpx(files_backend, big_file):
    who = person()
    async with httpx.AsyncClient(base_url=files_backend.url, timeout=60, headers=who.headers) as client:
        with open(big_file, "rb") as handle:  # noqa: ASYNC230 (httpx reads it in small blocks)
            r = await client.post(UPLOADS, files={"files": ("big.bin", handle, "application/octet-stream")})
        assert_envelope(r.status_code, r.content, 413, "payload_too_large")
        r = await client.post(UPLOADS, content=amultipart(big_file),
                              headers={"content-type": "multipart/form-data; boundary=utoolboundary"})
        assert_envelope(r.status_code, r.content, 413, "payload_too_large")
        # Nothing was kept, and the next upload on the same client works.
        ok = await client.post(UPLOADS, files={"files": ("small.txt", b"small", "text/plain")})
        assert ok.status_code == 201, ok.text


def test_a_file_over_max_upload_bytes_is_a_readable_413_for_sync_httpx_and_curl(files_backend, big_file):
    who = person()
    with httpx.Client(base_url=files_backend.url, timeout=60, headers=who.headers) as client:
        with open(big_file, "rb") as handle:
            r = client.post(UPLOADS, files={"files": ("big.bin", handle, "application/octet-stream")})
        assert_envelope(r.status_code, r.content, 413, "payload_too_large")
        r = client.post(UPLOADS, content=multipart(big_file),
                        headers={"content-type": "multipart/form-data; boundary=utoolboundary"})
        assert_envelope(r.status_code, r.content, 413, "payload_too_large")
    status, answer = curl("-H", f"Authorization: Bearer {who.token}", "-F", f"files=@{big_file}",
                          f"{files_backend.url}{UPLOADS}")
    assert_envelope(status, answer, 413, "payload_too_large")


async def test_an_upload_without_a_token_is_a_readable_401_while_the_client_sends(files_backend, big_file):
    async with httpx.AsyncClient(base_url=files_backend.url, timeout=60) as client:
        with open(big_file, "rb") as handle:  # noqa: ASYNC230 (httpx reads it in small blocks)
            r = await client.post(UPLOADS, files={"files": ("big.bin", handle, "application/octet-stream")})
        assert_envelope(r.status_code, r.content, 401, "unauthorized")


async def test_a_ten_megabyte_upload_streams_through(files_backend, tmp_path):
    who = person()
    path = tmp_path / "ten.bin"
    path.write_bytes(bytes(range(256)) * (10 * MIB // 256))
    async with httpx.AsyncClient(base_url=files_backend.url, timeout=60, headers=who.headers) as client:
        with open(path, "rb") as handle:  # noqa: ASYNC230 (httpx reads it in small blocks)
            r = await client.post(UPLOADS, files={"files": ("ten.bin", handle, "application/octet-stream")})
        assert r.status_code == 201, r.text
        upload = r.json()["data"][0]
        assert upload["size"] == 10 * MIB
        got = await client.get(upload["url"], headers={"Range": "bytes=1000-1999"})
        assert got.status_code == 206 and got.content == path.read_bytes()[1000:2000]


# --- live delivery ------------------------------------------------------------------------------


async def test_a_message_with_uploads_arrives_live_with_urls_the_receiver_may_use(files_backend):
    alice, bob = new_person(), new_person("Bob")
    conversation_id = direct_conversation(alice, bob)["_id"]
    async with httpx.AsyncClient(base_url=files_backend.url, timeout=30) as client:
        r = await client.post(UPLOADS, headers=alice.headers, files=[
            ("files", ("photo.jpg", samples.jpeg_with_gps(), "image/jpeg")),
            ("files", ("report.pdf", samples.PDF, "application/pdf"))])
        assert r.status_code == 201, r.text
        photo, report = r.json()["data"]
        alice_socket = await ChatClient(files_backend.url, alice.token).connect()
        bob_socket = await ChatClient(files_backend.url, bob.token).connect()
        try:
            ack = await alice_socket.call("chat:send_message", {
                "conversationId": conversation_id, "content": "Holiday!", "contentType": "image", "tempId": "f-1",
                "attachments": [{"uploadId": photo["_id"]}, {"uploadId": report["_id"]}]})
            assert ack["success"] is True, ack
            event = await bob_socket.next("chat:new_message")
            sent_photo, sent_report = event["message"]["attachments"]
            assert sent_photo["uploadId"] == photo["_id"] and sent_photo["width"] == 32 and sent_photo["height"] == 64
            assert sent_report["type"] == "application/pdf" and sent_report["thumbnailUrl"] is None
            # The broadcast carries stable URLs: bob uses them with his Bearer header...
            got = await client.get(sent_report["url"], headers=bob.headers)
            assert got.status_code == 200 and got.content == samples.PDF
            assert (await client.get(sent_photo["thumbnailUrl"], headers=bob.headers)).status_code == 200
            # ...or asks for signed ones to put in a page (no header needed).
            signed = (await client.post("/api/v1/chat/files/signed-urls", headers=bob.headers,
                                        json={"fileIds": [photo["_id"], report["_id"]]})).json()["data"]
            assert (await client.get(signed[photo["_id"]]["url"])).headers["content-disposition"].startswith("inline")
            # Someone outside the conversation gets nothing.
            eve = new_person()
            assert (await client.get(sent_photo["url"], headers=eve.headers)).status_code == 404
            # Socket sends follow the same rules as HTTP ones: not bob's upload to send.
            refused = await bob_socket.call("chat:send_message", {
                "conversationId": conversation_id, "content": "", "attachments": [{"uploadId": photo["_id"]}]})
            assert refused["success"] is False and refused["code"] == "invalid_upload"
        finally:
            await asyncio.gather(alice_socket.disconnect(), bob_socket.disconnect())
