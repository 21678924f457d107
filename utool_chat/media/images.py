"""Raster images: decoded and re-encoded with Pillow before anything is stored.

    result = sanitize(path, mime, out_path, thumb_path)

What a stored image is guaranteed to be:
- re-encoded from its pixels in its own format (JPEG, PNG, GIF, WebP; animations keep their
  frames), so nothing but pixels survives: no EXIF (GPS position, camera serial), no XMP, no
  comments, no data hidden after the image. Only the colour profile (ICC) is kept.
- turned upright: the EXIF orientation is applied to the pixels before EXIF is dropped.
- of bounded size: more than MAX_PIXELS pixels (all frames together) is refused before any
  pixel is decoded, so a tiny file that would inflate to gigabytes (a decompression bomb)
  costs nothing.
- complete: a truncated or corrupt file is refused, never half-decoded.
- not a polyglot: a file that is an image and also something else a program would act on
  (HTML or a script where browsers sniff, a PDF header, a ZIP directory, data of another
  format after the image's end) is refused. A camera's video appended to a photo ("motion
  photo") is not refused; it is dropped with the rest of the trailing bytes.
Every refusal is an ImageRejected with a code and a message for the uploader.
"""

from __future__ import annotations

import mmap
import re
import threading
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

from utool_chat.media import sniff

MAX_PIXELS = 50_000_000  # a 48-megapixel phone photo fits; all frames of an animation count
THUMBNAIL_BOX = (400, 400)
# Decoding takes about 4 bytes per pixel: at most two images decode at once per process,
# which bounds the memory a burst of large photos can take.
_decoding = threading.BoundedSemaphore(2)

_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/gif": "GIF", "image/webp": "WEBP"}
# What browsers, PDF readers and archive tools look for; none belongs in an image.
_MARKUP = re.compile(rb"<(?:!doctype|html|head|body|script|iframe|svg|object|embed|meta|\?php)[\s>/]", re.I)
_ZIP_DIRECTORY = b"PK\x05\x06"


class ImageRejected(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class SanitizedImage:
    mime: str
    width: int
    height: int


def sanitize(path: str, mime: str, out_path: str, thumb_path: str) -> SanitizedImage:
    """Check the image at `path` (sniffed as `mime`, one of sniff.REENCODED_IMAGE_TYPES),
    write its clean re-encoding to `out_path` and a WebP thumbnail (at most 400x400) to
    `thumb_path`. Raises ImageRejected."""
    fmt = _FORMATS[mime]
    _refuse_polyglots(path, fmt)
    with _decoding, warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(path, formats=[fmt]) as im:
                frames = getattr(im, "n_frames", 1)
                if im.width * im.height * frames > MAX_PIXELS:
                    raise _too_large(im.width, im.height, frames)
                return _reencode(im, fmt, mime, frames, out_path, thumb_path)
        except ImageRejected:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ImageRejected("image_too_large", f"The image has more than {MAX_PIXELS:,} pixels.") from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError) as exc:
            raise ImageRejected("invalid_image", f"The image is truncated or corrupt ({_reason(exc)}).") from None


def _too_large(width: int, height: int, frames: int) -> ImageRejected:
    what = f"{width}x{height}" + (f" in {frames} frames" if frames > 1 else "")
    return ImageRejected("image_too_large", f"The image is too large to accept ({what}; at most {MAX_PIXELS:,} "
                                            "pixels in all).")


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text[:120]


def _reencode(im: Image.Image, fmt: str, mime: str, frames: int, out_path: str, thumb_path: str) -> SanitizedImage:
    icc = im.info.get("icc_profile")
    if frames > 1:
        durations, pictures = [], []
        for frame in ImageSequence.Iterator(im):
            frame.load()
            durations.append(frame.info.get("duration", 100))
            pictures.append(_clean(ImageOps.exif_transpose(frame.copy()), fmt))
        first = pictures[0]
        options = {"save_all": True, "append_images": pictures[1:], "duration": durations,
                   "loop": im.info.get("loop", 0)}
        if fmt == "GIF" and "transparency" in im.info:
            options["transparency"] = im.info["transparency"]
    else:
        im.load()
        first = _clean(ImageOps.exif_transpose(im), fmt)
        options = {}
        if fmt == "PNG" and "transparency" in im.info and first.mode in ("P", "L", "RGB"):
            options["transparency"] = im.info["transparency"]
    if icc and fmt != "GIF":
        options["icc_profile"] = icc
    if fmt == "JPEG":
        options.update(quality=90, optimize=True)
    elif fmt == "WEBP":
        options.update(quality=90)
    first.save(out_path, format=fmt, **options)
    _thumbnail(first, thumb_path)
    return SanitizedImage(mime=mime, width=first.width, height=first.height)


def _clean(im: Image.Image, fmt: str) -> Image.Image:
    """A copy with no metadata at all: Pillow writes some of `info` back when saving."""
    out = im.copy()
    out.info = {}
    if fmt == "JPEG" and out.mode not in ("L", "RGB", "CMYK"):
        out = out.convert("RGB")
    return out


def _thumbnail(im: Image.Image, thumb_path: str) -> None:
    thumb = im.copy()
    if thumb.mode not in ("RGB", "RGBA"):
        has_alpha = thumb.mode in ("LA", "PA") or (thumb.mode == "P" and "transparency" in im.info)
        thumb = thumb.convert("RGBA" if has_alpha else "RGB")
    thumb.thumbnail(THUMBNAIL_BOX, Image.Resampling.LANCZOS)
    thumb.info = {}
    thumb.save(thumb_path, format="WEBP", quality=80, method=4)


# --- polyglots -----------------------------------------------------------------------------


def _refuse_polyglots(path: str, fmt: str) -> None:
    with open(path, "rb") as handle:
        try:
            data = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        except ValueError:  # an empty file
            raise ImageRejected("invalid_image", "The image is empty.") from None
        with data:
            head = data[:1024]
            if _MARKUP.search(head) or b"%PDF-" in head:
                raise _polyglot("it contains HTML, script or PDF markup")
            tail_start = max(0, len(data) - 65_557)  # a ZIP's directory record sits in its last 64 KiB
            if data.find(_ZIP_DIRECTORY, tail_start) >= 0:
                raise _polyglot("it is also a ZIP archive")
            end = _image_end(data, fmt)
            trailing = data[end:end + sniff.SNIFF_BYTES]
            if trailing.strip(b"\0\xff\r\n \t"):
                kind = sniff.sniff_bytes(trailing)
                if not kind.startswith("video/"):  # a motion photo's clip is dropped, not refused
                    raise _polyglot(f"it carries {kind} data after the image")


def _polyglot(why: str) -> ImageRejected:
    return ImageRejected("polyglot_file", f"The file is not only an image: {why}.")


def _truncated() -> ImageRejected:
    return ImageRejected("invalid_image", "The image is truncated or corrupt (it ends before the image does).")


def _image_end(data: mmap.mmap, fmt: str) -> int:
    """Offset just past the image's own end marker; ImageRejected if the file stops first."""
    try:
        return {"JPEG": _jpeg_end, "PNG": _png_end, "GIF": _gif_end, "WEBP": _webp_end}[fmt](data)
    except IndexError:
        raise _truncated() from None


def _jpeg_end(data: mmap.mmap) -> int:
    n = len(data)
    if data[:2] != b"\xff\xd8":
        raise _truncated()
    i = 2
    while i < n:
        if data[i] != 0xFF:
            raise ImageRejected("invalid_image", "The JPEG is corrupt (a marker is missing).")
        while data[i] == 0xFF:  # fill bytes
            i += 1
        marker = data[i]
        i += 1
        if marker == 0xD9:  # end of image
            return i
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # markers without a length
            continue
        i += int.from_bytes(data[i:i + 2], "big")
        if marker == 0xDA:  # start of scan: entropy-coded data up to the next real marker
            while True:
                j = data.find(b"\xff", i)
                if j < 0 or j + 1 >= n:
                    raise _truncated()
                following = data[j + 1]
                if following == 0x00 or 0xD0 <= following <= 0xD7 or following == 0xFF:
                    i = j + 1
                    continue
                i = j
                break
    raise _truncated()


def _png_end(data: mmap.mmap) -> int:
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise _truncated()
    i = 8
    while i + 8 <= len(data):
        length = int.from_bytes(data[i:i + 4], "big")
        kind = data[i + 4:i + 8]
        i += 12 + length
        if kind == b"IEND":
            if i > len(data):
                raise _truncated()
            return i
    raise _truncated()


def _gif_end(data: mmap.mmap) -> int:
    if data[:3] != b"GIF":
        raise _truncated()
    flags = data[10]
    i = 13 + (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0)
    while True:
        block = data[i]
        if block == 0x3B:  # trailer
            return i + 1
        if block == 0x21:  # extension: label, then sub-blocks
            i = _skip_sub_blocks(data, i + 2)
        elif block == 0x2C:  # image descriptor, optional local colour table, LZW size, sub-blocks
            local = data[i + 9]
            i += 10 + (3 * 2 ** ((local & 7) + 1) if local & 0x80 else 0)
            i = _skip_sub_blocks(data, i + 1)
        else:
            raise ImageRejected("invalid_image", "The GIF is corrupt (unknown block).")


def _skip_sub_blocks(data: mmap.mmap, i: int) -> int:
    while True:
        size = data[i]
        i += 1 + size
        if size == 0:
            return i


def _webp_end(data: mmap.mmap) -> int:
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise _truncated()
    end = 8 + int.from_bytes(data[4:8], "little")
    end += end & 1  # RIFF chunks are padded to even sizes
    if end > len(data) + 1:
        raise _truncated()
    return min(end, len(data))
