"""/api/v1/chat/uploads and /api/v1/chat/files — the HTTP door onto domain/uploads.py.

POST /uploads reads the multipart body as a stream: each file part goes straight into a
StagedFile on disk as its bytes arrive (python-multipart's push parser), so memory use does
not depend on the size of the files, and a part that passes MAX_UPLOAD_BYTES is a 413 at
that byte. The rest of the request body, if the client is still sending, is drained by
api/app.py's BodySizeLimit before the answer goes out, so every client reads the 413.

GET /files/{id} serves a file to whoever may see it, identified by the Bearer header or by
a signed URL (domain/file_urls.py). Every refusal is the same 404, byte for byte.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect
from starlette.responses import Response, StreamingResponse

from utool_chat.api.deps import current_user, json_body
from utool_chat.api.envelope import error, ok
from utool_chat.domain import accounts, file_urls, uploads
from utool_chat.domain.errors import DomainError, Unavailable, ValidationFailed
from utool_chat.domain.messages import MAX_ATTACHMENTS
from utool_chat.storage import StorageError, get_storage

router = APIRouter(prefix="/api/v1/chat", tags=["files"])

User = dict[str, Any]
MAX_FILES_PER_REQUEST = MAX_ATTACHMENTS
MAX_FORM_FIELD_BYTES = 64 * 1024  # non-file parts are read and ignored, up to this
MAX_FORM_PARTS = 32
FLUSH_BYTES = 128 * 1024  # received bytes go to disk from a worker thread in pieces of about this

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Not multipart, no file, a refused image (`invalid_image`, `image_too_large`, "
                         "`polyglot_file`), an empty file"},
    401: {"description": "No or bad Bearer token"},
    413: {"description": "A file is larger than MAX_UPLOAD_BYTES (`payload_too_large`)"},
    422: {"description": "The virus scanner found something (`infected`); nothing was kept"},
    429: {"description": "Upload rate limit or daily quota (`rate_limited`, `Retry-After` header)"},
    503: {"description": "Virus scanner or storage unavailable (`scanner_unavailable`, `storage_unavailable`)"},
}
_MULTIPART_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "files": {"type": "array", "items": {"type": "string", "format": "binary"},
                                  "description": f"1 to {MAX_FILES_PER_REQUEST} files; any part with a filename "
                                                 "counts, whatever its field name"},
                    },
                    "required": ["files"],
                },
            },
        },
    },
}


# --- upload --------------------------------------------------------------------------------


class _Receiver:
    """python-multipart callbacks that route each file part into its own StagedFile."""

    def __init__(self) -> None:
        self.files: list[tuple[str, uploads.StagedFile]] = []
        self.parts = 0
        self._header_field = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self._current: uploads.StagedFile | None = None
        self._field_bytes = 0
        self.pending = bytearray()  # bytes of the current file not yet on disk

    def on_part_begin(self) -> None:
        self.parts += 1
        if self.parts > MAX_FORM_PARTS:
            raise ValidationFailed(f"Too many form parts (at most {MAX_FORM_PARTS}).", code="invalid_multipart")
        self._headers, self._current, self._field_bytes = {}, None, 0

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        self._headers[self._header_field.strip().lower()] = self._header_value.strip()
        self._header_field = self._header_value = b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        filename = options.get(b"filename")
        if filename is None:
            return  # a plain form field: read and ignored
        if len(self.files) >= MAX_FILES_PER_REQUEST:
            raise ValidationFailed(f"At most {MAX_FILES_PER_REQUEST} files per request.", code="too_many_files")
        self._current = uploads.StagedFile()
        # Browsers (and httpx) escape '"', CR and LF in multipart file names as %22, %0D, %0A.
        name = filename.decode("utf-8", "replace")
        for escaped, char in (("%22", '"'), ("%0D", "\r"), ("%0A", "\n")):
            name = name.replace(escaped, char)
        self.files.append((name, self._current))

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._current is None:
            self._field_bytes += end - start
            if self._field_bytes > MAX_FORM_FIELD_BYTES:
                raise ValidationFailed("A form field is too long.", code="invalid_multipart")
            return
        if self._current.would_exceed(len(self.pending) + end - start):
            raise uploads.too_large()
        self.pending += data[start:end]

    def on_part_end(self) -> None:
        if self._current is not None:
            self._current.write(bytes(self.pending))
            self.pending.clear()
            self._current.finish()
            self._current = None

    async def flush(self) -> None:
        if self._current is not None and len(self.pending) >= FLUSH_BYTES:
            data = bytes(self.pending)
            self.pending.clear()
            await run_in_threadpool(self._current.write, data)

    def discard(self) -> None:
        for _, staged in self.files:
            staged.discard()


def _boundary(request: Request) -> bytes:
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise ValidationFailed("Send files as multipart/form-data, one part per file.", code="invalid_multipart")
    return boundary


async def _receive(request: Request) -> _Receiver:
    receiver = _Receiver()
    callbacks: Any = {
        name: getattr(receiver, name) for name in (
            "on_part_begin", "on_part_data", "on_part_end", "on_header_field", "on_header_value",
            "on_header_end", "on_headers_finished")
    }
    parser = MultipartParser(_boundary(request), callbacks)
    try:
        async for chunk in request.stream():
            parser.write(chunk)
            await receiver.flush()
        parser.finalize()
    except MultipartParseError:
        receiver.discard()
        raise ValidationFailed("The multipart body is malformed.", code="invalid_multipart") from None
    except BaseException:
        receiver.discard()
        raise
    if not receiver.files:
        raise ValidationFailed("No file in the request: send one multipart part with a filename per file.",
                               code="no_files")
    return receiver


@router.post(
    "/uploads",
    status_code=201,
    summary="Upload files (multipart/form-data): 201 with their upload objects, to send as attachments [{uploadId}]",
    openapi_extra=_MULTIPART_BODY,
    responses={201: {"description": "`data`: a list of {_id, name, type, size, url, thumbnailUrl, width, height, "
                                    "createdAt, expiresAt}, one per file in the order sent"}, **_ERRORS},
)
async def upload_files(request: Request, user: User = Depends(current_user)):
    await run_in_threadpool(uploads.check_upload_allowed, user["_id"])
    try:
        receiver = await _receive(request)
    except ClientDisconnect:
        return Response(status_code=400)  # nobody is listening any more
    stored: list[dict[str, Any]] = []
    try:
        for name, staged in receiver.files:
            stored.append(await run_in_threadpool(uploads.store_staged, user["_id"], name, staged))
    except DomainError as exc:
        # All or nothing: a request answers one error or every file's upload object.
        for upload in stored:
            await run_in_threadpool(uploads.discard_upload, user["_id"], upload["_id"])
        if len(receiver.files) > 1:
            index = len(stored)
            exc.message = f"files[{index}] ({uploads.clean_file_name(receiver.files[index][0])}): {exc.message}"
        raise
    finally:
        receiver.discard()
    return ok(stored, status=201)


@router.delete("/uploads/{uploadId}", summary="Take back an upload not sent yet (it is deleted at once)")
async def discard_upload(uploadId: str, user: User = Depends(current_user)):
    return ok(await run_in_threadpool(uploads.discard_upload, user["_id"], uploadId))


@router.post("/files/signed-urls",
             summary="Signed URLs (no Bearer header needed, short-lived, for this caller only) for files you may see")
async def signed_urls(user: User = Depends(current_user), body: dict[str, Any] = Depends(json_body)):
    """Body `{fileIds: [...]}` (at most 100). `data`: {fileId: {url, thumbnailUrl, expiresAt}}
    for the files the caller may see; the others are absent."""
    return ok(await run_in_threadpool(uploads.signed_urls, user["_id"], body.get("fileIds")))


# --- download ------------------------------------------------------------------------------


def _not_found() -> Response:
    return error(404, "File not found.", "not_found")


def _viewer(request: Request, upload_id: str, variant: str) -> str | None:
    """Who asks: the user a valid signed URL names, else the Bearer token's user, else nobody."""
    query = request.query_params
    if "s" in query:
        return file_urls.verify(upload_id, variant, dict(query))
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    try:
        return accounts.authenticate(token.strip())["_id"]
    except DomainError:
        return None


def _byte_range(header: str | None, size: int) -> tuple[int, int] | str | None:
    """(start, end) of a single satisfiable `bytes=` range; None to send everything (no
    header, several ranges, or one we do not understand); "unsatisfiable" for a 416."""
    if not header or not header.startswith("bytes=") or "," in header:
        return None
    first, sep, last = header[len("bytes="):].strip().partition("-")
    if not sep or not (first.isdigit() or last.isdigit()) or (first and not first.isdigit()) or (
            last and not last.isdigit()):
        return None
    if not first:  # the last N bytes
        length = int(last)
        if length == 0:
            return "unsatisfiable"
        return max(0, size - length), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size:
        return "unsatisfiable"
    if end < start:
        return None
    return start, end


def _disposition(inline: bool, name: str) -> str:
    fallback = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\' else "_" for ch in name) or "file"
    return f"{'inline' if inline else 'attachment'}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


async def _serve(request: Request, upload_id: str, variant: str) -> Response:
    viewer = await run_in_threadpool(_viewer, request, upload_id, variant)
    try:
        found = await run_in_threadpool(uploads.file_for_download, viewer, upload_id, variant)
    except DomainError:
        return _not_found()
    storage = get_storage()
    try:
        size = await run_in_threadpool(storage.size, found.key)
    except StorageError as exc:
        if exc.missing:
            return _not_found()
        raise Unavailable("File storage is unavailable right now; try again shortly.",
                          code="storage_unavailable") from exc
    headers = {
        "Content-Type": found.mime,
        "Content-Disposition": _disposition(found.inline, found.name),
        "X-Content-Type-Options": "nosniff",
        # Even if a browser did render it (an HTML file opened directly), it would run no
        # script, submit no form and share no origin with the app.
        "Content-Security-Policy": "sandbox",
        "Cross-Origin-Resource-Policy": "same-site",
        "Referrer-Policy": "no-referrer",
        "Accept-Ranges": "bytes",
        "ETag": found.etag,
        # Revalidated every time (a 304 costs no body), so access ends the moment it is lost.
        "Cache-Control": "private, no-cache",
    }
    if request.headers.get("if-none-match") == found.etag:
        return Response(status_code=304, headers={k: v for k, v in headers.items() if k != "Content-Type"})
    wanted = _byte_range(request.headers.get("range"), size)
    if wanted == "unsatisfiable":
        return error(416, "Requested range not satisfiable.", "range_not_satisfiable",
                     {"Content-Range": f"bytes */{size}"})
    status, start, end = 200, 0, size - 1
    if isinstance(wanted, tuple):
        status, (start, end) = 206, wanted
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    headers["Content-Length"] = str(end - start + 1)
    if request.method == "HEAD" or size == 0:
        return Response(status_code=status, headers=headers)
    try:
        chunks = await run_in_threadpool(storage.read, found.key, start, end)
    except StorageError as exc:
        if exc.missing:
            return _not_found()
        raise Unavailable("File storage is unavailable right now; try again shortly.",
                          code="storage_unavailable") from exc
    return StreamingResponse(chunks, status_code=status, headers=headers)


_DOWNLOAD_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The file. Raster images (jpeg, png, gif, webp) are `inline`, everything else "
                         "`attachment`; always `X-Content-Type-Options: nosniff` and `Content-Security-Policy: "
                         "sandbox`"},
    206: {"description": "Part of the file (`Range: bytes=a-b`)"},
    404: {"description": "Unknown id, not yours to see, logged out, bad or expired signature, deleted: "
                         "always the same body"},
}


@router.get("/files/{fileId}", responses=_DOWNLOAD_RESPONSES,
            summary="Download a file: Bearer header, or a signed URL's query (u, e, s); HEAD works too")
@router.head("/files/{fileId}", include_in_schema=False)
async def download(fileId: str, request: Request):
    return await _serve(request, fileId, "original")


@router.get("/files/{fileId}/thumbnail", responses=_DOWNLOAD_RESPONSES,
            summary="An image's thumbnail (WebP, at most 400x400)")
@router.head("/files/{fileId}/thumbnail", include_in_schema=False)
async def download_thumbnail(fileId: str, request: Request):
    return await _serve(request, fileId, "thumbnail")
