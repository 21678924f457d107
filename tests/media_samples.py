"""Files for the upload tests, made on the spot with Pillow (nothing binary is checked in)."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image

GPS_IFD = 0x8825


def jpeg_with_gps(size: tuple[int, int] = (64, 32), orientation: int = 6) -> bytes:
    """A JPEG whose EXIF holds a GPS position, a camera name, and an orientation (6: the
    camera was turned, the pixels must be rotated 90° clockwise to stand upright)."""
    image = Image.new("RGB", size, (200, 30, 30))
    for x in range(size[0] // 2):  # left half blue, so the rotation is visible
        for y in range(size[1]):
            image.putpixel((x, y), (30, 30, 200))
    exif = Image.Exif()
    exif[0x010F] = "TestCam"  # Make
    exif[0x0112] = orientation
    exif[GPS_IFD] = {1: "N", 2: (48.0, 51.0, 29.0), 3: "E", 4: (2.0, 17.0, 40.0)}
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif.tobytes(), quality=90)
    return out.getvalue()


def png(size: tuple[int, int] = (20, 10), color: tuple[int, int, int] = (0, 128, 0)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()


def gif_animation(frames: int = 3) -> bytes:
    pictures = [Image.new("RGB", (16, 16), (i * 60, 255 - i * 60, 0)) for i in range(frames)]
    out = io.BytesIO()
    pictures[0].save(out, format="GIF", save_all=True, append_images=pictures[1:], duration=100, loop=0)
    return out.getvalue()


def webp() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (30, 20), (10, 20, 30)).save(out, format="WEBP")
    return out.getvalue()


HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>\n"
SVG = (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
       b"<script>alert(1)</script><rect width='10' height='10'/></svg>\n")
PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
       b"trailer<</Root 1 0 R>>\n%%EOF\n")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bomb(width: int = 30_000, height: int = 30_000) -> bytes:
    """A valid PNG of width x height 1-bit pixels, all zero: a few hundred KiB that inflate
    to gigabytes once decoded to RGB — the classic decompression bomb."""
    row = b"\0" + b"\0" * ((width + 7) // 8)  # filter byte + packed pixels
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def truncated_jpeg() -> bytes:
    whole = jpeg_with_gps((256, 256))
    return whole[: len(whole) * 2 // 3]


def jpeg_with_zip_appended() -> bytes:
    """A GIFAR-style polyglot: a real JPEG, then a ZIP archive (a JAR, to Java)."""
    import zipfile

    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("Main.class", b"\xca\xfe\xba\xbe" + b"\0" * 32)
    return png_to_jpeg(png((32, 32))) + archive.getvalue()


def gif_with_script() -> bytes:
    """GIF89a header bytes followed by markup a browser would sniff as HTML."""
    return gif_animation(1)[:13] + b"<script>alert(1)</script>" + gif_animation(1)[13:]


def png_to_jpeg(data: bytes) -> bytes:
    out = io.BytesIO()
    Image.open(io.BytesIO(data)).convert("RGB").save(out, format="JPEG")
    return out.getvalue()
