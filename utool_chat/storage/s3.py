"""The S3-compatible store (S3_BUCKET, S3_ENDPOINT_URL, keys), through boto3.

Requests are signed (SigV4) whenever keys are configured; path-style addressing works with
every S3-compatible server (SeaweedFS, MinIO, Ceph) as well as AWS. Uploads of large files go
in parts (boto3's managed transfer streams the file from disk), reads use HTTP Range.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from utool_chat.storage import CHUNK, StorageError

_MISSING = {"404", "NoSuchKey", "NotFound"}


def _missing(exc: ClientError) -> bool:
    return str(exc.response.get("Error", {}).get("Code")) in _MISSING


class S3Storage:
    def __init__(self, bucket: str, *, endpoint_url: str | None, access_key_id: str | None,
                 secret_access_key: str | None, region: str) -> None:
        self.bucket = bucket
        self.client: Any = boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint_url,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            region_name=region,
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": "path"},
                connect_timeout=5,
                read_timeout=30,
                retries={"max_attempts": 2, "mode": "standard"},
            ),
        )
        # One streamed PUT up to 64 MiB (more than any upload at the default MAX_UPLOAD_BYTES):
        # a multipart transfer reads each part into memory, a plain PUT streams the file. Beyond
        # that, parts of 8 MiB one at a time.
        self.transfer = TransferConfig(multipart_threshold=64 * 2**20, multipart_chunksize=8 * 2**20,
                                       max_concurrency=1, use_threads=True)

    def put_file(self, key: str, path: str, content_type: str) -> None:
        try:
            self.client.upload_file(path, self.bucket, key, ExtraArgs={"ContentType": content_type},
                                    Config=self.transfer)
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"could not store {key}: {exc}") from exc

    def size(self, key: str) -> int:
        try:
            return int(self.client.head_object(Bucket=self.bucket, Key=key)["ContentLength"])
        except ClientError as exc:
            raise StorageError(f"no blob {key}" if _missing(exc) else str(exc), missing=_missing(exc)) from exc
        except BotoCoreError as exc:
            raise StorageError(f"could not reach the store: {exc}") from exc

    def read(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        extra = {}
        if start or end is not None:
            extra["Range"] = f"bytes={start}-{'' if end is None else end}"
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=key, **extra)["Body"]
        except ClientError as exc:
            raise StorageError(f"no blob {key}" if _missing(exc) else str(exc), missing=_missing(exc)) from exc
        except BotoCoreError as exc:
            raise StorageError(f"could not reach the store: {exc}") from exc
        return _chunks(body)

    def delete(self, keys: Iterable[str]) -> None:
        keys = list(keys)
        for i in range(0, len(keys), 1000):  # DeleteObjects takes at most 1,000 keys
            batch = [{"Key": k} for k in keys[i:i + 1000]]
            try:
                result = self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
            except (BotoCoreError, ClientError) as exc:
                raise StorageError(f"could not delete blobs: {exc}") from exc
            errors = [e for e in result.get("Errors", []) if e.get("Code") not in _MISSING]
            if errors:
                raise StorageError(f"could not delete blobs: {errors[:3]}")


def _chunks(body: Any) -> Iterator[bytes]:
    try:
        yield from body.iter_chunks(CHUNK)
    except (BotoCoreError, ClientError) as exc:
        raise StorageError(f"read failed: {exc}") from exc
    finally:
        body.close()
