"""Photo bytes on local disk: content sniffing, bounded streaming writes, and removal of deleted photos' files.

Why sniff: the file name and the declared Content-Type are chosen by the client; only the bytes tell what a
file is. We accept PNG, JPEG, GIF and WebP. SVG is refused, not sanitised: it is XML that can carry scripts and
external references, and a sanitiser is one missed vector away from stored XSS; designs are linked with Attach
Figma Spec instead.

Why tombstones: a photo row disappears in many ways (Delete Event Photo, Delete Event, Delete Event Type, Delete
Project, bulk deletes), most of them through ON DELETE CASCADE, which no ORM event sees. A trigger on
`event_photos` (migration 0003) records each deleted row's storage key in `photo_file_tombstones`, in the same
transaction, so a rollback keeps both row and file. After a commit that deleted photo-owning rows, the session
hook below removes the files; `purge()` can also be called at any time (startup, pipelines) and is idempotent.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import Engine, event, text
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

from tripl_core.errors import Invalid, NotFound, PayloadTooLarge

log = logging.getLogger("tripl.photos")

CHUNK = 64 * 1024
SNIFF_BYTES = 16
PHOTOS_DIR = "photos"


@dataclass(frozen=True)
class ImageFormat:
    content_type: str
    extension: str


PNG = ImageFormat("image/png", ".png")
JPEG = ImageFormat("image/jpeg", ".jpg")
GIF = ImageFormat("image/gif", ".gif")
WEBP = ImageFormat("image/webp", ".webp")


def sniff(head: bytes) -> ImageFormat | None:
    """The image format of a file from its first bytes, or None if it is not one we accept."""
    if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR":
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return GIF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP" and head[12:16] in (b"VP8 ", b"VP8L", b"VP8X"):
        return WEBP
    return None


def _refusal(head: bytes) -> str:
    lowered = head.lstrip().lower()
    if lowered.startswith(b"<svg") or lowered.startswith(b"<?xml"):
        return "SVG images are not accepted (they can carry scripts); upload a PNG, JPEG, GIF or WebP, " \
               "or link the design with Attach Figma Spec."
    return "The file is not a PNG, JPEG, GIF or WebP image (checked by its content, not its name)."


@dataclass(frozen=True)
class StoredFile:
    storage_key: str
    size_bytes: int
    sha256: str
    format: ImageFormat


def storage_key(project_id: uuid.UUID, photo_id: uuid.UUID, fmt: ImageFormat) -> str:
    return f"{PHOTOS_DIR}/{project_id}/{photo_id}{fmt.extension}"


def path_of(uploads_dir: Path, key: str) -> Path:
    """The absolute path of a storage key, refusing anything that would leave the uploads directory."""
    root = uploads_dir.resolve()
    path = (root / key).resolve()
    if root not in path.parents:
        raise NotFound("Photo file not found.")
    return path


def store(src: BinaryIO, uploads_dir: Path, project_id: uuid.UUID, photo_id: uuid.UUID,
          max_bytes: int) -> StoredFile:
    """Copy `src` to local storage in chunks: refuses non-images after the first bytes and stops at
    `max_bytes` (413), so neither memory nor disk use is bounded by the client."""
    tmp_dir = uploads_dir / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=tmp_dir, suffix=".part")
    tmp = Path(tmp_name)
    digest = hashlib.sha256()
    size = 0
    head = b""
    fmt: ImageFormat | None = None
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := src.read(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise PayloadTooLarge(f"The file is larger than the limit of {max_bytes} bytes.")
                if fmt is None:
                    head += chunk[: SNIFF_BYTES - len(head)]
                    if len(head) >= SNIFF_BYTES:
                        fmt = sniff(head)
                        if fmt is None:
                            raise Invalid("file", _refusal(head))
                digest.update(chunk)
                out.write(chunk)
        if size == 0:
            raise Invalid("file", "The file is empty.")
        if fmt is None:  # shorter than SNIFF_BYTES
            fmt = sniff(head)
            if fmt is None:
                raise Invalid("file", _refusal(head))
        key = storage_key(project_id, photo_id, fmt)
        final = path_of(uploads_dir, key)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return StoredFile(storage_key=key, size_bytes=size, sha256=digest.hexdigest(), format=fmt)


def remove(uploads_dir: Path, key: str) -> None:
    """Delete one stored file (missing is fine) and its project directory once empty."""
    try:
        path = path_of(uploads_dir, key)
    except NotFound:
        return
    path.unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # not empty, or already gone
        path.parent.rmdir()


def purge(engine: Engine, uploads_dir: Path, batch: int = 500) -> int:
    """Remove the files of deleted photos (tombstones); returns how many. Safe to run concurrently: rows are
    claimed with SKIP LOCKED, and a file is unlinked before its tombstone goes (a crash leaves a retry)."""
    removed = 0
    while True:
        with engine.begin() as conn:
            rows = conn.execute(text(
                "select id, storage_key from photo_file_tombstones order by id limit :n for update skip locked"
            ), {"n": batch}).all()
            for _, key in rows:
                remove(uploads_dir, key)
            if rows:
                conn.execute(text("delete from photo_file_tombstones where id = any(:ids)"),
                             {"ids": [r[0] for r in rows]})
        removed += len(rows)
        if len(rows) < batch:
            return removed


def sweep_orphans(engine: Engine, uploads_dir: Path, min_age_seconds: int = 3600) -> int:
    """Remove stored files that no photo row references (a crash between write and commit, a TRUNCATE, a
    restored backup). Files younger than `min_age_seconds` are left alone: their upload may still commit."""
    root = uploads_dir / PHOTOS_DIR
    if not root.exists():
        return 0
    with engine.connect() as conn:
        known = set(conn.scalars(text("select storage_key from event_photos where storage_key is not null")))
    cutoff = time.time() - min_age_seconds
    removed = 0
    for path in root.rglob("*"):
        key = path.relative_to(uploads_dir).as_posix()
        if path.is_file() and key not in known and path.stat().st_mtime < cutoff:
            remove(uploads_dir, key)
            removed += 1
    return removed


# --- session hooks: purge after a commit that may have deleted photos -------------------------------------

_PURGE_FLAG = "tripl_purge_photo_files"
_PHOTO_OWNERS = frozenset({"event_photos", "events", "event_types", "projects", "plan_branches"})


def _mark(session: Session) -> None:
    session.info[_PURGE_FLAG] = True


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _ctx: UOWTransaction) -> None:
    if any(getattr(obj, "__tablename__", None) in _PHOTO_OWNERS for obj in session.deleted):
        _mark(session)


@event.listens_for(Session, "do_orm_execute")
def _on_execute(state: ORMExecuteState) -> None:
    if state.is_delete:
        table = getattr(state.statement, "table", None)
        if getattr(table, "name", None) in _PHOTO_OWNERS:
            _mark(state.session)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if not session.info.pop(_PURGE_FLAG, False):
        return
    from tripl_core.settings import get_settings

    try:
        bind = session.get_bind()
        engine = bind if isinstance(bind, Engine) else bind.engine
        purge(engine, get_settings().uploads_dir)
    except Exception:  # the tombstones stay; the next purge removes the files
        log.exception("could not remove the files of deleted photos")


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, _previous: object) -> None:
    session.info.pop(_PURGE_FLAG, None)
