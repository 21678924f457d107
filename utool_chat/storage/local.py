"""The local-directory store (MEDIA_ROOT): blobs are plain files, written atomically."""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from utool_chat.storage import CHUNK, StorageError


class LocalStorage:
    def __init__(self, root: str) -> None:
        self.root = Path(root).resolve()

    def _path(self, key: str) -> Path:
        # Keys are ours ("files/<hex id>"); the check keeps any other string from leaving root.
        path = (self.root / key).resolve()
        if self.root not in path.parents:
            raise StorageError(f"invalid storage key {key!r}")
        return path

    def put_file(self, key: str, path: str, content_type: str) -> None:
        target = self._path(key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            # Copy to a temporary name beside the target, then rename: a reader never sees
            # half a file, and a crash leaves no blob under the real key.
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".put-")
            try:
                with os.fdopen(fd, "wb") as out, open(path, "rb") as src:
                    shutil.copyfileobj(src, out, CHUNK)
                os.replace(tmp, target)
            except BaseException:
                os.unlink(tmp)
                raise
        except OSError as exc:
            raise StorageError(f"could not write {key}: {exc}") from exc

    def size(self, key: str) -> int:
        try:
            return self._path(key).stat().st_size
        except FileNotFoundError:
            raise StorageError(f"no blob {key}", missing=True) from None
        except OSError as exc:
            raise StorageError(f"could not stat {key}: {exc}") from exc

    def read(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        try:
            handle = open(self._path(key), "rb")  # noqa: SIM115 (closed by the generator)
        except FileNotFoundError:
            raise StorageError(f"no blob {key}", missing=True) from None
        except OSError as exc:
            raise StorageError(f"could not open {key}: {exc}") from exc
        return _chunks(handle, start, end)

    def delete(self, keys: Iterable[str]) -> None:
        for key in keys:
            try:
                os.unlink(self._path(key))
            except FileNotFoundError:
                pass
            except OSError as exc:
                if exc.errno != errno.ENOENT:
                    raise StorageError(f"could not delete {key}: {exc}") from exc


def _chunks(handle, start: int, end: int | None) -> Iterator[bytes]:
    with handle:
        handle.seek(start)
        remaining = None if end is None else end - start + 1
        while remaining is None or remaining > 0:
            chunk = handle.read(CHUNK if remaining is None else min(CHUNK, remaining))
            if not chunk:
                return
            if remaining is not None:
                remaining -= len(chunk)
            yield chunk
