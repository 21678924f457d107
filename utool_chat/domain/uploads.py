"""Uploads: files users send, from the first byte to the last download.

Life of an upload (a row of `attachments` with a storage_key, see db/models.py):

1. store_upload(actor_id, name, stream)  (the Reflex door) or  StagedFile + store_staged
   (the HTTP door, which streams multipart parts into StagedFiles itself). The bytes go to
   a staging file on disk, counted as they arrive: past MAX_UPLOAD_BYTES it is a 413 at once,
   so nothing is ever held whole in memory. Then, in this order, before anything is kept:
   - rate limit and daily quota (ratelimit.check_upload; 429 with Retry-After);
   - the type is sniffed from the bytes (media/sniff.py), never taken from the client;
   - with CLAMD_ADDRESS set, clamd scans the bytes: infected → 422 `infected`, scanner
     down → 503 `scanner_unavailable` (fail closed);
   - raster images are decoded and re-encoded (media/images.py: metadata and GPS gone,
     orientation applied, thumbnails; bombs, truncated files and polyglots → 400);
   - the blob (and thumbnail) go to the store (storage/), the row is inserted with
     expires_at = now + UPLOAD_EXPIRY_SECONDS.
   The answer is the upload object {_id, name, type, size, url, thumbnailUrl, width, height,
   createdAt, expiresAt}.
2. Attached once, by its uploader only: to a message (messages.send_message with
   attachments [{uploadId}], attach_to_message below, one UPDATE for all of them) or as a
   group avatar (attach_avatar). Attaching clears expires_at.
3. Downloaded by members of the conversation it is attached to (before that: by its
   uploader), through a stable URL with the Bearer header or a signed URL (file_urls.py);
   anyone else gets the same 404 as for an id that never existed (file_for_download).
4. Gone: when its message is deleted or the avatar replaced, the row is expired in that
   transaction and its blobs deleted right after the commit; an upload never attached
   expires after UPLOAD_EXPIRY_SECONDS and the sweeper (run_sweeper, in every backend
   process) deletes it and its blobs. An expired row is invisible to every query here, so a
   sweep that has not run yet changes nothing anyone can see.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import tempfile
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy import orm
from sqlalchemy.orm import SessionTransaction
from sqlmodel import Session, SQLModel

from utool_chat import config
from utool_chat.db.engine import session_scope
from utool_chat.db.models import Attachment, ConversationMember, new_id, utcnow
from utool_chat.domain import file_urls, ratelimit
from utool_chat.domain import serializers as ser
from utool_chat.domain import text as text_checks
from utool_chat.domain.errors import NotFound, PayloadTooLarge, Unavailable, Unprocessable, ValidationFailed
from utool_chat.media import clamd, images, sniff
from utool_chat.storage import CHUNK, StorageError, get_storage, is_local

log = logging.getLogger(__name__)

MAX_NAME_CHARS = 255
SWEEP_BATCH = 500
# expires_at of a row that is gone now (its message deleted, its avatar replaced).
EXPIRED = datetime(2000, 1, 1, tzinfo=UTC)
_PURGE = "utool_chat.uploads.purge_after_commit"

attachments_t: sa.Table = SQLModel.metadata.tables[Attachment.__tablename__]
members_t: sa.Table = SQLModel.metadata.tables[ConversationMember.__tablename__]


# --- errors ----------------------------------------------------------------------------------


def _human(size: int) -> str:
    return f"{size / 2**20:.0f} MiB" if size >= 2**20 else f"{size:,} bytes"


def too_large() -> PayloadTooLarge:
    limit = config.settings.max_upload_bytes
    return PayloadTooLarge(f"The file is larger than the {_human(limit)} limit (MAX_UPLOAD_BYTES = {limit:,} bytes).")


def file_not_found() -> NotFound:
    """The one answer for a file that does not exist, is not the caller's to see, or is gone."""
    return NotFound("File not found.", code="not_found")


def _storage_down(exc: BaseException) -> Unavailable:
    log.warning("file storage unavailable: %s", exc)
    return Unavailable("File storage is unavailable right now; try again shortly.", code="storage_unavailable")


# --- staging ---------------------------------------------------------------------------------


def staging_dir() -> Path:
    """UPLOAD_TMP_DIR, else MEDIA_ROOT/.staging for the local store (same disk: cheap
    copies), else the system temporary directory."""
    s = config.settings
    if s.upload_tmp_dir:
        path = Path(s.upload_tmp_dir)
    elif is_local():
        path = Path(s.media_root) / ".staging"
    else:
        path = Path(tempfile.gettempdir()) / "utool_chat_staging"
    path.mkdir(parents=True, exist_ok=True)
    return path


class StagedFile:
    """A file being received, on disk, counted and hashed as it is written. Writing past
    MAX_UPLOAD_BYTES raises PayloadTooLarge. Use as a context manager: the file is deleted
    on exit whatever happened (store_staged copies what it keeps)."""

    def __init__(self, limit: int | None = None) -> None:
        self.limit = config.settings.max_upload_bytes if limit is None else limit
        fd, self.path = tempfile.mkstemp(dir=staging_dir(), prefix="upload-")
        self._handle: BinaryIO | None = os.fdopen(fd, "wb")
        self.size = 0
        self._sha = hashlib.sha256()

    def would_exceed(self, more: int) -> bool:
        return self.size + more > self.limit

    def write(self, data: bytes) -> None:
        if self.would_exceed(len(data)):
            raise too_large()
        assert self._handle is not None, "write after finish()"
        self._handle.write(data)
        self._sha.update(data)
        self.size += len(data)

    def finish(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    @property
    def sha256(self) -> str:
        return self._sha.hexdigest()

    def discard(self) -> None:
        self.finish()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass

    def __enter__(self) -> StagedFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.discard()


# --- storing ---------------------------------------------------------------------------------


def check_upload_allowed(actor_id: str) -> None:
    """429 before a single byte is read when the user is over their upload rate or quota."""
    ratelimit.check_upload_allowed(actor_id)


def clean_file_name(raw: Any) -> str:
    """The name shown for a file: the client's, minus any folders, control characters and
    surrounding blanks, at most 255 characters (the extension kept); "file" when nothing is left."""
    if not isinstance(raw, str):
        return "file"
    problem = text_checks.storable_text_problem(raw)
    if problem:
        raise ValidationFailed(f"The file name {problem}.", code="invalid_file_name")
    name = raw.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip().strip(".")
    if len(name) > MAX_NAME_CHARS:
        _stem, dot, ext = name.rpartition(".")
        keep = ext if dot and len(ext) <= 16 else ""
        name = (name[:MAX_NAME_CHARS - len(keep) - 1] + "." + keep) if keep else name[:MAX_NAME_CHARS]
    return name or "file"


def store_upload(actor_id: str, name: Any, source: BinaryIO) -> dict[str, Any]:
    """Store the file read from `source` (any binary file object: Reflex's rx.UploadFile.file,
    an open file) as an unattached upload of the actor; the upload object. Reads in chunks:
    past MAX_UPLOAD_BYTES it stops with PayloadTooLarge (413)."""
    check_upload_allowed(actor_id)
    with StagedFile() as staged:
        while chunk := source.read(CHUNK):
            staged.write(chunk)
        staged.finish()
        return store_staged(actor_id, name, staged)


def store_staged(actor_id: str, name: Any, staged: StagedFile) -> dict[str, Any]:
    """Check and keep a fully received StagedFile (see the module docstring for the order of
    the checks); the upload object. The staged file itself is left for its owner to discard."""
    staged.finish()
    filename = clean_file_name(name)
    if staged.size == 0:
        raise ValidationFailed("The file is empty.", code="empty_file")
    ratelimit.check_upload(actor_id, staged.size)
    mime = sniff.sniff_file(staged.path)
    _scan(staged.path)

    upload_id = new_id()
    stored_path, sha, size = staged.path, staged.sha256, staged.size
    width = height = None
    thumb_path: str | None = None
    cleanup: list[str] = []
    try:
        if mime in sniff.REENCODED_IMAGE_TYPES:
            stored_path = str(staging_dir() / f"{upload_id}.clean")
            thumb_path = str(staging_dir() / f"{upload_id}.thumb")
            cleanup += [stored_path, thumb_path]
            try:
                image = images.sanitize(staged.path, mime, stored_path, thumb_path)
            except images.ImageRejected as exc:
                raise ValidationFailed(exc.message, code=exc.code) from None
            width, height = image.width, image.height
            size, sha = os.path.getsize(stored_path), _sha256_of(stored_path)
        key, thumb_key = _keys(upload_id, with_thumbnail=thumb_path is not None)
        storage = get_storage()
        try:
            storage.put_file(key, stored_path, mime)
            if thumb_key and thumb_path:
                storage.put_file(thumb_key, thumb_path, "image/webp")
        except StorageError as exc:
            _delete_blobs([k for k in (key, thumb_key) if k])
            raise _storage_down(exc) from exc
        now = utcnow()
        row = Attachment(
            id=upload_id, uploader_id=actor_id, url=file_urls.file_url(upload_id), mime_type=mime, name=filename,
            size=size, storage_key=key, thumbnail_key=thumb_key, width=width, height=height, sha256=sha,
            created_at=now, expires_at=now + timedelta(seconds=config.settings.upload_expiry_seconds),
        )
        try:
            with session_scope() as session:
                session.add(row)
        except Exception:
            _delete_blobs([k for k in (key, thumb_key) if k])
            raise
    finally:
        for path in cleanup:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
    ratelimit.record_upload(actor_id, staged.size)
    return upload_out(row)


def _keys(upload_id: str, *, with_thumbnail: bool) -> tuple[str, str | None]:
    # Two levels of fan-out keep directories small on the local store.
    shard = f"{upload_id[:2]}/{upload_id[2:4]}"
    return f"files/{shard}/{upload_id}", (f"thumbnails/{shard}/{upload_id}.webp" if with_thumbnail else None)


def _sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _scan(path: str) -> None:
    address = config.settings.clamd_address
    if not address:
        return
    try:
        found = clamd.scan_file(address, path)
    except clamd.ScannerUnavailable as exc:
        log.warning("virus scanner unavailable: %s", exc)
        raise Unavailable("The virus scanner is unavailable right now, so uploads are refused; try again shortly.",
                          code="scanner_unavailable") from None
    if found:
        log.info("upload refused: clamd found %s", found)
        raise Unprocessable(f"The file was refused: the virus scanner found {found}.", code="infected")


def upload_out(row: Attachment) -> dict[str, Any]:
    """The upload object the uploader gets back (stable URLs; see file_urls for signed ones)."""
    return {
        "_id": row.id,
        "name": row.name,
        "type": row.mime_type,
        "size": row.size,
        "url": file_urls.file_url(row.id),
        "thumbnailUrl": file_urls.thumbnail_url(row.id) if row.thumbnail_key else None,
        "width": row.width,
        "height": row.height,
        "createdAt": ser.iso(row.created_at),
        "expiresAt": ser.iso(row.expires_at),
    }


# --- attaching -------------------------------------------------------------------------------


def _attachable(actor_id: str, now: datetime) -> Any:
    """An unattached, unexpired upload of the actor: the only kind that may be attached."""
    return sa.and_(
        attachments_t.c.uploader_id == actor_id,
        attachments_t.c.storage_key.is_not(None),
        attachments_t.c.message_id.is_(None),
        attachments_t.c.conversation_id.is_(None),
        attachments_t.c.expires_at > now,
    )


def attach_to_message(session: Session, actor_id: str, conversation_id: str, message_id: str,
                      refs: list[tuple[int, str]]) -> dict[str, Attachment]:
    """Attach the actor's uploads `refs` [(position, uploadId)] to a message being stored,
    in one UPDATE whatever their number; {uploadId: row}. ValidationFailed `invalid_upload`
    (and the caller's transaction rolls back) unless every one of them could be attached:
    unknown, someone else's, already attached or expired uploads are all refused alike."""
    if not refs:
        return {}
    ids = [upload_id for _, upload_id in refs]
    rows = session.exec(
        sa.update(Attachment)
        .where(attachments_t.c.id.in_(ids), _attachable(actor_id, utcnow()))
        .values(message_id=message_id, conversation_id=conversation_id, expires_at=None,
                position=sa.case({upload_id: position for position, upload_id in refs}, value=attachments_t.c.id))
        .returning(Attachment)
        .execution_options(synchronize_session=False)
    ).scalars().all()
    attached = {row.id: row for row in rows}
    for position, upload_id in refs:
        if upload_id not in attached:
            raise ValidationFailed(
                f"attachments[{position}].uploadId is not an upload of yours that can be sent: it is unknown, "
                "expired, someone else's or already sent.", code="invalid_upload")
    return attached


def attach_avatar(session: Session, actor_id: str, conversation_id: str, upload_id: Any) -> str:
    """Make the actor's unattached image upload the conversation's avatar; its stable URL
    (what conversations.avatar stores). ValidationFailed `invalid_avatar` otherwise."""
    refused = ValidationFailed("avatar.uploadId must be an image you uploaded (POST /api/v1/chat/uploads) and have "
                               "not used yet.", code="invalid_avatar")
    text_checks.check_id(upload_id, "avatar.uploadId", lambda: refused)
    attached = session.exec(
        sa.update(attachments_t)
        .where(attachments_t.c.id == upload_id, _attachable(actor_id, utcnow()),
               attachments_t.c.mime_type.in_(sorted(sniff.REENCODED_IMAGE_TYPES)))
        .values(conversation_id=conversation_id, expires_at=None)
        .returning(attachments_t.c.id)
    ).first()
    if attached is None:
        raise refused
    return file_urls.file_url(upload_id)


def release_avatar(session: Session, conversation_id: str, avatar: str | None) -> None:
    """The conversation's previous avatar upload is gone once this transaction commits."""
    parsed = file_urls.parse(avatar)
    if parsed is None:
        return
    _expire(session, sa.and_(attachments_t.c.id == parsed[0], attachments_t.c.conversation_id == conversation_id,
                             attachments_t.c.message_id.is_(None)))


def remove_message_files(session: Session, message_id: str) -> None:
    """In the transaction that deletes a message: its link attachments are deleted, its
    uploads expired (no one can download them from the commit on) and their blobs deleted
    right after the commit. Two statements whatever the number of files."""
    session.exec(sa.delete(attachments_t).where(attachments_t.c.message_id == message_id,
                                                attachments_t.c.storage_key.is_(None)))
    _expire(session, attachments_t.c.message_id == message_id)


def _expire(session: Session, where: Any) -> None:
    gone = session.exec(
        sa.update(attachments_t)
        .where(where, attachments_t.c.storage_key.is_not(None))
        .values(message_id=None, conversation_id=None, expires_at=EXPIRED)
        .returning(attachments_t.c.id)
    ).scalars().all()
    if gone:
        session.info.setdefault(_PURGE, []).extend(gone)


@sa_event.listens_for(orm.Session, "after_commit")
def _purge_after_commit(session: orm.Session) -> None:
    ids = session.info.pop(_PURGE, None)
    if ids:
        try:
            purge(ids)
        except Exception:  # the rows are expired already: the sweeper finishes the job
            log.warning("could not delete the files of %d upload(s) now; the sweeper will", len(ids), exc_info=True)


@sa_event.listens_for(orm.Session, "after_soft_rollback")
def _forget_purge(session: orm.Session, previous_transaction: SessionTransaction) -> None:
    if previous_transaction.parent is None:
        session.info.pop(_PURGE, None)


def discard_upload(actor_id: str, upload_id: Any) -> dict[str, Any]:
    """The uploader takes back an upload not attached yet (the composer's remove button):
    it is gone at once. NotFound for anything else."""
    text_checks.check_id(upload_id, "uploadId", file_not_found)
    with session_scope() as session:
        gone = session.exec(
            sa.update(attachments_t)
            .where(attachments_t.c.id == upload_id, _attachable(actor_id, utcnow()))
            .values(expires_at=EXPIRED)
            .returning(attachments_t.c.id)
        ).first()
        if gone is None:
            raise file_not_found()
        session.info.setdefault(_PURGE, []).append(upload_id)
    return {"_id": upload_id}


# --- removing --------------------------------------------------------------------------------


def _gone(now: datetime) -> Any:
    return sa.and_(attachments_t.c.storage_key.is_not(None), attachments_t.c.message_id.is_(None),
                   attachments_t.c.conversation_id.is_(None), attachments_t.c.expires_at <= now)


def _delete_blobs(keys: list[str]) -> None:
    if keys:
        try:
            get_storage().delete(keys)
        except StorageError:
            log.warning("could not delete %d blob(s); they are unreachable (no row names them)", len(keys))


def _remove(where: Any) -> int:
    """Delete expired rows matching `where` and their blobs: blobs first, so that a failure
    leaves the (invisible) rows for the next sweep rather than blobs nobody can find."""
    now = utcnow()
    with session_scope() as session:
        rows = session.execute(
            sa.select(attachments_t.c.id, attachments_t.c.storage_key, attachments_t.c.thumbnail_key)
            .where(where, _gone(now)).limit(SWEEP_BATCH)
        ).all()
    if not rows:
        return 0
    get_storage().delete([k for _, key, thumb in rows for k in (key, thumb) if k])  # StorageError: keep rows
    with session_scope() as session:
        session.exec(sa.delete(attachments_t).where(attachments_t.c.id.in_([r[0] for r in rows]), _gone(now)))
    return len(rows)


def purge(upload_ids: Iterable[str]) -> int:
    """Delete these uploads' blobs and rows now, if they are expired (see _expire)."""
    ids = list(upload_ids)
    return _remove(attachments_t.c.id.in_(ids)) if ids else 0


def sweep_expired() -> int:
    """Delete every expired upload and its blobs; how many. Safe to run in several processes
    at once (each delete is idempotent)."""
    total = 0
    while True:
        removed = _remove(sa.true())
        total += removed
        if removed < SWEEP_BATCH:
            return total


async def run_sweeper() -> None:
    """Sweep every UPLOAD_SWEEP_INTERVAL_SECONDS for as long as the process runs (a Reflex
    lifespan task). One log line when sweeping starts failing and one when it recovers."""
    failing = False
    while True:
        try:
            removed = await asyncio.to_thread(sweep_expired)
            if removed:
                log.info("removed %d expired upload(s)", removed)
            if failing:
                log.warning("upload sweeper works again")
            failing = False
        except Exception as exc:
            if not failing:
                log.warning("upload sweeper failed (%s); retrying every %s s", exc,
                            config.settings.upload_sweep_interval_seconds)
            failing = True
        await asyncio.sleep(config.settings.upload_sweep_interval_seconds)


# --- downloading -----------------------------------------------------------------------------


@dataclass(frozen=True)
class FileToServe:
    upload_id: str
    variant: str  # "original" | "thumbnail"
    key: str
    mime: str
    name: str
    etag: str

    @property
    def inline(self) -> bool:
        """Only images we re-encoded ourselves are shown in the page; SVG, HTML and every
        other type are downloads."""
        return self.variant == "thumbnail" or self.mime in sniff.REENCODED_IMAGE_TYPES


def _visible_to(viewer_id: str, now: datetime) -> Any:
    member = sa.exists().where(members_t.c.conversation_id == attachments_t.c.conversation_id,
                               members_t.c.user_id == viewer_id, members_t.c.left_at.is_(None))
    return sa.and_(
        attachments_t.c.storage_key.is_not(None),
        sa.or_(
            sa.and_(attachments_t.c.conversation_id.is_not(None), attachments_t.c.expires_at.is_(None), member),
            sa.and_(attachments_t.c.conversation_id.is_(None), attachments_t.c.message_id.is_(None),
                    attachments_t.c.uploader_id == viewer_id, attachments_t.c.expires_at > now),
        ),
    )


def file_for_download(viewer_id: str | None, upload_id: Any, variant: str = "original") -> FileToServe:
    """What to serve, if `viewer_id` may see the upload now: a member of the conversation it
    is attached to, or its uploader before it is attached. One query. NotFound — the same
    for an unknown id, a stranger, no viewer, a deleted message, an expired upload."""
    if viewer_id is None or variant not in file_urls.VARIANTS:
        raise file_not_found()
    text_checks.check_id(upload_id, "fileId", file_not_found)
    with session_scope() as session:
        row = session.execute(
            sa.select(attachments_t.c.storage_key, attachments_t.c.thumbnail_key, attachments_t.c.mime_type,
                      attachments_t.c.name, attachments_t.c.sha256)
            .where(attachments_t.c.id == upload_id, _visible_to(viewer_id, utcnow()))
        ).first()
    if row is None:
        raise file_not_found()
    key, thumb_key, mime, name, sha = row
    if variant == "thumbnail":
        if not thumb_key:
            raise file_not_found()
        stem = (name or "file").rsplit(".", 1)[0]
        return FileToServe(upload_id, variant, thumb_key, "image/webp", f"{stem}-thumbnail.webp", f'"{sha[:32]}-t"')
    return FileToServe(upload_id, variant, key, mime, name or "file", f'"{sha[:32]}"')


def signed_urls(viewer_id: str, upload_ids: Any) -> dict[str, dict[str, Any]]:
    """{uploadId: {url, thumbnailUrl, expiresAt}} signed for the viewer, for the ids (at most
    100) they may see now; the others are simply absent. One query."""
    if not isinstance(upload_ids, list) or not all(isinstance(i, str) for i in upload_ids):
        raise ValidationFailed("fileIds must be a list of file ids.", code="validation_error")
    if len(upload_ids) > 100:
        raise ValidationFailed("At most 100 fileIds at a time.", code="validation_error")
    ids = sorted({i for i in upload_ids if text_checks.is_id(i)})
    if not ids:
        return {}
    with session_scope() as session:
        rows = session.execute(
            sa.select(attachments_t.c.id, attachments_t.c.thumbnail_key)
            .where(attachments_t.c.id.in_(ids), _visible_to(viewer_id, utcnow()))
        ).all()
    expires = datetime.fromtimestamp(file_urls.expiry(), UTC)
    return {
        upload_id: {
            "url": file_urls.sign_url(viewer_id, file_urls.file_url(upload_id)),
            "thumbnailUrl": file_urls.sign_url(viewer_id, file_urls.thumbnail_url(upload_id)) if thumb else None,
            "expiresAt": ser.iso(expires),
        }
        for upload_id, thumb in rows
    }
