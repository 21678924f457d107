"""Content type from the bytes (libmagic's magic numbers and heuristics).

The name a client gives a file and the type it claims are ignored: a "photo.png" that holds
HTML is text/html here, and is stored and served as such.
"""

from __future__ import annotations

import threading

import magic

SNIFF_BYTES = 64 * 1024

_lock = threading.Lock()
_handle: magic.Magic | None = None

# Raster formats we decode and re-encode ourselves (media/images.py); only these are ever
# served inline (shown in the page). Everything else is served as a download.
REENCODED_IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})

# libmagic's names for a few formats, made the registered MIME types.
_ALIASES = {
    "image/x-png": "image/png",
    "image/x-ms-bmp": "image/bmp",
    "application/x-pdf": "application/pdf",
    "text/x-asm": "text/plain",
    "application/x-empty": "application/octet-stream",
    "inode/x-empty": "application/octet-stream",
}


def _from_buffer(head: bytes) -> str:
    # One libmagic handle for the process, used under a lock: a handle is not thread-safe,
    # and each one holds its own copy of the magic database (about 4 MiB), so one per worker
    # thread made every concurrent upload cost that much memory. Sniffing 64 KiB takes
    # well under a millisecond, so the lock is never a queue.
    global _handle
    with _lock:
        if _handle is None:
            _handle = magic.Magic(mime=True)
        return _handle.from_buffer(head)


def sniff_bytes(head: bytes) -> str:
    mime = _from_buffer(head) or "application/octet-stream"
    mime = mime.split(";", 1)[0].strip().lower()
    return _ALIASES.get(mime, mime)


def sniff_file(path: str) -> str:
    """The MIME type of the file at `path`, judged from its first 64 KiB."""
    with open(path, "rb") as handle:
        return sniff_bytes(handle.read(SNIFF_BYTES))
