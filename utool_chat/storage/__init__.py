"""Blob storage for uploads: one interface, two backends.

    LocalStorage(root)   a directory (MEDIA_ROOT, the default: needs no server at all)
    S3Storage(...)       any S3-compatible object store (S3_BUCKET set), through boto3

Keys are ours (hex ids under a fixed prefix), never derived from a user's file name, so no
key can escape the store. Every method is blocking (the domain runs in worker threads) and
raises StorageError when the store cannot be reached, which the domain answers with 503.

    put_file(key, path, content_type)   copy a local file in (streamed, never read whole)
    size(key) -> int                    StorageError(missing=True) if there is no such blob
    read(key, start, end) -> iterator   the bytes start..end inclusive, in chunks
    delete(keys)                        missing keys are not an error
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from typing import Protocol

from utool_chat import config

CHUNK = 256 * 1024


class StorageError(Exception):
    """The store failed or could not be reached (missing=True: the blob does not exist)."""

    def __init__(self, message: str, *, missing: bool = False) -> None:
        super().__init__(message)
        self.missing = missing


class Storage(Protocol):
    def put_file(self, key: str, path: str, content_type: str) -> None: ...

    def size(self, key: str) -> int: ...

    def read(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]: ...

    def delete(self, keys: Iterable[str]) -> None: ...


_lock = threading.Lock()
_cached: tuple[tuple, Storage] | None = None


def _wanted() -> tuple:
    s = config.settings
    if s.s3_bucket:
        return ("s3", s.s3_endpoint_url, s.s3_bucket, s.s3_access_key_id, s.s3_secret_access_key, s.s3_region)
    return ("local", s.media_root)


def get_storage() -> Storage:
    """The store config.settings names (S3 when S3_BUCKET is set, else MEDIA_ROOT); rebuilt
    when the settings change (tests switch between the two)."""
    global _cached
    wanted = _wanted()
    with _lock:
        if _cached is None or _cached[0] != wanted:
            _cached = (wanted, _build(wanted))
        return _cached[1]


def _build(wanted: tuple) -> Storage:
    if wanted[0] == "s3":
        from utool_chat.storage.s3 import S3Storage

        _, endpoint, bucket, key_id, secret, region = wanted
        return S3Storage(bucket, endpoint_url=endpoint, access_key_id=key_id, secret_access_key=secret, region=region)
    from utool_chat.storage.local import LocalStorage

    return LocalStorage(wanted[1])


def is_local() -> bool:
    return _wanted()[0] == "local"
