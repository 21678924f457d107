"""One suite, both file stores: the local directory (MEDIA_ROOT) and S3 (SeaweedFS, signed
requests). Every test runs on each (`file_store`), none is skipped."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.files_support import S3Server
from utool_chat.storage import StorageError, get_storage
from utool_chat.storage.local import LocalStorage
from utool_chat.storage.s3 import S3Storage


def write(tmp_path: Path, data: bytes, name: str = "src") -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_the_configured_store_is_the_expected_backend(file_store):
    assert isinstance(get_storage(), {"local": LocalStorage, "s3": S3Storage}[file_store])


def test_put_then_read_back_whole_and_in_ranges(file_store, tmp_path):
    store = get_storage()
    data = bytes(range(256)) * 40  # 10,240 bytes
    store.put_file("files/ab/cd/one", write(tmp_path, data), "application/octet-stream")
    assert store.size("files/ab/cd/one") == len(data)
    assert b"".join(store.read("files/ab/cd/one")) == data
    assert b"".join(store.read("files/ab/cd/one", 10, 19)) == data[10:20]
    assert b"".join(store.read("files/ab/cd/one", 10_000)) == data[10_000:]
    assert b"".join(store.read("files/ab/cd/one", 0, 0)) == data[:1]


def test_a_large_file_streams_in_and_out_in_chunks(file_store, tmp_path):
    store = get_storage()
    path = tmp_path / "big"
    with open(path, "wb") as out:  # 20 MiB, streamed from disk (one PUT on S3)
        for i in range(20):
            out.write(bytes([i]) * 2**20)
    store.put_file("files/big", str(path), "application/octet-stream")
    assert store.size("files/big") == 20 * 2**20
    chunks = list(store.read("files/big"))
    assert len(chunks) > 1 and max(len(c) for c in chunks) <= 2**20
    assert sum(len(c) for c in chunks) == 20 * 2**20
    assert b"".join(store.read("files/big", 5 * 2**20, 5 * 2**20 + 2)) == b"\x05\x05\x05"


def test_putting_the_same_key_again_replaces_it(file_store, tmp_path):
    store = get_storage()
    store.put_file("files/k", write(tmp_path, b"first"), "text/plain")
    store.put_file("files/k", write(tmp_path, b"second", "b"), "text/plain")
    assert b"".join(store.read("files/k")) == b"second"


def test_missing_blobs_say_so_and_deleting_them_is_not_an_error(file_store, tmp_path):
    store = get_storage()
    for call in (lambda: store.size("files/none"), lambda: b"".join(store.read("files/none"))):
        with pytest.raises(StorageError) as err:
            call()
        assert err.value.missing
    store.put_file("files/a", write(tmp_path, b"a"), "text/plain")
    store.put_file("files/b", write(tmp_path, b"b", "b"), "text/plain")
    store.delete(["files/a", "files/b", "files/never-there"])
    for key in ("files/a", "files/b"):
        with pytest.raises(StorageError):
            store.size(key)
    store.delete([])


def test_an_unreachable_store_is_a_storage_error_not_missing(file_store, upload_settings, tmp_path):
    if file_store == "s3":
        upload_settings(S3_ENDPOINT_URL="http://127.0.0.1:1")
    else:
        blocker = tmp_path / "not-a-dir"
        blocker.write_text("a file where the media directory should be")
        upload_settings(MEDIA_ROOT=str(blocker))
    store = get_storage()
    with pytest.raises(StorageError) as err:
        store.put_file("files/x", write(tmp_path, b"x"), "text/plain")
    assert not err.value.missing


def test_local_keys_cannot_leave_the_media_root(upload_settings, tmp_path):
    store = LocalStorage(str(tmp_path / "root"))
    for key in ("../escape", "/etc/passwd", "files/../../x"):
        with pytest.raises(StorageError):
            store.put_file(key, write(tmp_path, b"x"), "text/plain")
    assert not (tmp_path / "escape").exists()


def test_s3_requests_are_signed_anonymous_ones_are_refused(s3_server: S3Server, s3_bucket: str, tmp_path):
    import boto3
    import botocore
    from botocore.config import Config

    store = S3Storage(s3_bucket, endpoint_url=s3_server.endpoint, access_key_id=s3_server.access_key,
                      secret_access_key=s3_server.secret_key, region="us-east-1")
    store.put_file("files/signed", write(tmp_path, b"secret"), "text/plain")
    anonymous = boto3.client("s3", endpoint_url=s3_server.endpoint, region_name="us-east-1",
                             config=Config(signature_version=botocore.UNSIGNED, s3={"addressing_style": "path"}))
    with pytest.raises(botocore.exceptions.ClientError):
        anonymous.get_object(Bucket=s3_bucket, Key="files/signed")
    wrong = S3Storage(s3_bucket, endpoint_url=s3_server.endpoint, access_key_id=s3_server.access_key,
                      secret_access_key="wrong", region="us-east-1")
    with pytest.raises(StorageError):
        wrong.size("files/signed")
    store.delete(["files/signed"])
    assert os.environ.get("S3_BUCKET") is None  # this test never touched the app's settings
