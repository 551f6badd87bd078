"""Event photos: upload (images only, checked by content), list, reorder, delete, download, Figma specs, comments."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, File, Response, UploadFile
from fastapi.responses import FileResponse, RedirectResponse

from tripl_api.deps import DB, AppSettings, ProjectComment, ProjectRead, ProjectWrite
from tripl_api.schemas.event_photos import (
    FigmaAttach,
    PhotoCommentCreate,
    PhotoCommentResponse,
    PhotoReorder,
    PhotoResponse,
)
from tripl_api.uploads import LimitedUploadRoute
from tripl_core import service_settings
from tripl_core.db.models.plan_extras import EventPhoto, PhotoStorageBackend
from tripl_core.plan_extras import photo_comments, photos

router = APIRouter(prefix="/api/v1/projects/{slug}/events/{event_id}", tags=["event-photos"],
                   route_class=LimitedUploadRoute)


def photo_out(slug: str, photo: EventPhoto) -> PhotoResponse:
    url = (f"/api/v1/projects/{slug}/events/{photo.event_id}/photos/{photo.id}/download"
           if photo.storage_backend == PhotoStorageBackend.local else photo.external_url or "")
    return PhotoResponse(id=photo.id, event_id=photo.event_id, project_id=photo.project_id, kind=photo.kind,
                         original_filename=photo.original_filename, title=photo.title,
                         content_type=photo.content_type, size_bytes=photo.size_bytes,
                         storage_backend=photo.storage_backend, sort_order=photo.sort_order, url=url,
                         external_url=photo.external_url, uploaded_by_user_id=photo.uploaded_by_user_id,
                         created_at=photo.created_at)


def comment_out(view: photo_comments.CommentView) -> PhotoCommentResponse:
    c = view.comment
    return PhotoCommentResponse(id=c.id, photo_id=c.photo_id, parent_id=c.parent_id, user_id=c.user_id,
                                user_name=view.user_name, user_email=view.user_email, body=c.body,
                                created_at=c.created_at, updated_at=c.updated_at)


@router.get("/photos", summary="List Event Photos", response_model=list[PhotoResponse])
def list_event_photos(event_id: uuid.UUID, db: DB, ctx: ProjectRead):
    return [photo_out(ctx.project.slug, p) for p in photos.list_photos(db, ctx.project, event_id)]


@router.post("/photos", summary="Upload Event Photo", response_model=PhotoResponse, status_code=201)
def upload_event_photo(event_id: uuid.UUID, db: DB, ctx: ProjectWrite, settings: AppSettings,
                       file: UploadFile = File(description="PNG, JPEG, GIF or WebP (checked by content).")):
    photo = photos.upload(db, ctx.actor, ctx.project, event_id, file.filename, file.file, settings.uploads_dir,
                          service_settings.effective(db).photo_max_bytes)
    return photo_out(ctx.project.slug, photo)


@router.post("/photos/reorder", summary="Reorder Event Photos", response_model=list[PhotoResponse])
def reorder_event_photos(event_id: uuid.UUID, body: PhotoReorder, db: DB, ctx: ProjectWrite):
    ordered = photos.reorder(db, ctx.actor, ctx.project, event_id, body.photo_ids)
    return [photo_out(ctx.project.slug, p) for p in ordered]


@router.delete("/photos/{photo_id}", summary="Delete Event Photo", status_code=204)
def delete_event_photo(event_id: uuid.UUID, photo_id: uuid.UUID, db: DB, ctx: ProjectWrite) -> Response:
    photos.delete(db, ctx.actor, ctx.project, event_id, photo_id)
    return Response(status_code=204)


@router.get("/photos/{photo_id}/download", summary="Download Event Photo",
            responses={200: {"content": {"image/png": {}, "image/jpeg": {}, "image/gif": {}, "image/webp": {}}},
                       307: {"description": "Figma specs redirect to their external URL."}})
def download_event_photo(event_id: uuid.UUID, photo_id: uuid.UUID, db: DB, ctx: ProjectRead,
                         settings: AppSettings):
    photo, path = photos.local_file(db, ctx.project, event_id, photo_id, settings.uploads_dir)
    if path is None:
        return RedirectResponse(photo.external_url or "", status_code=307)
    # nosniff: browsers must not reinterpret the bytes; the type is the sniffed one, never the client's.
    return FileResponse(path, media_type=photo.content_type, filename=photo.original_filename,
                        content_disposition_type="inline",
                        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "private, max-age=3600",
                                 "ETag": f'"{photo.sha256}"'})


@router.post("/figma", summary="Attach Figma Spec", response_model=PhotoResponse, status_code=201)
def attach_figma_spec(event_id: uuid.UUID, body: FigmaAttach, db: DB, ctx: ProjectWrite):
    photo = photos.attach_figma(db, ctx.actor, ctx.project, event_id, body.url, body.title)
    return photo_out(ctx.project.slug, photo)


@router.get("/photos/{photo_id}/comments", summary="List Photo Comments",
            response_model=list[PhotoCommentResponse])
def list_photo_comments(event_id: uuid.UUID, photo_id: uuid.UUID, db: DB, ctx: ProjectRead):
    return [comment_out(v) for v in photo_comments.list_comments(db, ctx.project, event_id, photo_id)]


@router.post("/photos/{photo_id}/comments", summary="Create Photo Comment", response_model=PhotoCommentResponse,
             status_code=201)
def create_photo_comment(event_id: uuid.UUID, photo_id: uuid.UUID, body: PhotoCommentCreate, db: DB,
                         ctx: ProjectComment):
    view = photo_comments.create(db, ctx.actor, ctx.project, event_id, photo_id, body.body, body.parent_id)
    return comment_out(view)


@router.delete("/photos/{photo_id}/comments/{comment_id}", summary="Delete Photo Comment", status_code=204)
def delete_photo_comment(event_id: uuid.UUID, photo_id: uuid.UUID, comment_id: uuid.UUID, db: DB,
                         ctx: ProjectComment) -> Response:
    photo_comments.delete(db, ctx.actor, ctx.project, event_id, photo_id, comment_id)
    return Response(status_code=204)
