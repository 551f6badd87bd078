from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.plan_extras.conftest import GIF, JPEG, WEBP, add_branch, add_event, loc, png_bytes
from tripl_core.db.models.plan import Event, EventType
from tripl_core.db.models.plan_extras import EventPhoto, Variable
from tripl_core.settings import get_settings, reset_settings_cache


def url(event_id, rest: str = "") -> str:
    return f"/api/v1/projects/shop-app/events/{event_id}/photos{rest}"


def upload(client, event_id, data: bytes, name: str = "shot.png", ctype: str = "image/png"):
    return client.post(url(event_id), files={"file": (name, data, ctype)})


def stored_files() -> list[Path]:
    root = get_settings().uploads_dir / "photos"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


@pytest.fixture
def small_limit(monkeypatch):
    monkeypatch.setenv("TRIPL_PHOTO_MAX_BYTES", "1000")
    reset_settings_cache()
    yield 1000
    monkeypatch.delenv("TRIPL_PHOTO_MAX_BYTES")
    reset_settings_cache()


def test_real_png_with_wrong_name_is_accepted(owner, event):
    data = png_bytes()
    r = upload(owner, event.id, data, name="notes.txt", ctype="text/plain")
    assert r.status_code == 201, r.text
    p = r.json()
    assert p["content_type"] == "image/png" and p["kind"] == "photo" and p["storage_backend"] == "local"
    assert p["original_filename"] == "notes.txt" and p["size_bytes"] == len(data)
    assert p["sort_order"] == 0 and p["external_url"] is None and p["uploaded_by_user_id"] == owner.user["id"]
    assert p["url"] == url(event.id, f"/{p['id']}/download")


def test_text_named_png_is_refused(owner, event):
    r = upload(owner, event.id, b"just some text, honestly not an image\n" * 3, name="shot.png")
    assert loc(r) == ["body", "file"]
    assert stored_files() == []


@pytest.mark.parametrize("data", [
    b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>',
])
def test_svg_refused(owner, event, data):
    r = upload(owner, event.id, data, name="logo.svg", ctype="image/svg+xml")
    assert loc(r) == ["body", "file"] and "SVG" in r.json()["detail"][0]["msg"]


@pytest.mark.parametrize("data,ctype", [(JPEG, "image/jpeg"), (GIF, "image/gif"), (WEBP, "image/webp")])
def test_other_formats_by_content(owner, event, data, ctype):
    r = upload(owner, event.id, data, name="x.bin", ctype="application/octet-stream")
    assert r.status_code == 201, r.text
    assert r.json()["content_type"] == ctype


def test_empty_tiny_and_missing_file(owner, event):
    assert loc(upload(owner, event.id, b"")) == ["body", "file"]
    assert loc(upload(owner, event.id, b"\x89PNG")) == ["body", "file"]  # truncated header
    assert loc(owner.post(url(event.id), data={"other": "x"})) == ["body", "file"]


def test_download_bytes_equal_upload(owner, viewer, event):
    data = png_bytes(7, 5)
    p = upload(owner, event.id, data).json()
    r = viewer.get(p["url"])
    assert r.status_code == 200
    assert r.content == data
    assert r.headers["content-type"] == "image/png"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["content-disposition"].startswith("inline")


def test_size_limit_413(owner, event, small_limit):
    ok = png_bytes()
    ok += b"\x00" * (small_limit - len(ok))  # exactly at the limit
    assert upload(owner, event.id, ok).status_code == 201
    too_big = ok + b"\x00"
    r = upload(owner, event.id, too_big)
    assert r.status_code == 413, r.text
    # far beyond the limit: refused from Content-Length, before the body is read
    r = upload(owner, event.id, png_bytes() + b"\x00" * 200_000)
    assert r.status_code == 413
    # a chunked body (no Content-Length) is cut off while streaming
    def chunks():
        boundary_head = (b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n"
                         b"Content-Type: image/png\r\n\r\n" + png_bytes())
        yield boundary_head
        for _ in range(100):
            yield b"\x00" * 10_000
        yield b"\r\n--b--\r\n"
    r = owner.post(url(event.id), content=chunks(), headers={"content-type": "multipart/form-data; boundary=b"})
    assert r.status_code == 413
    assert len(stored_files()) == 1  # only the accepted one; no partial files left
    assert not any((get_settings().uploads_dir / "tmp").glob("*"))


def test_default_limit_is_10_mb():
    assert get_settings().photo_max_bytes == 10 * 1024 * 1024


def test_list_order_and_reorder(owner, event):
    ids = [upload(owner, event.id, png_bytes(i + 1, 1), name=f"{i}.png").json()["id"] for i in range(3)]
    assert [p["id"] for p in owner.get(url(event.id)).json()] == ids
    r = owner.post(url(event.id, "/reorder"), json={"photo_ids": [ids[2], ids[0], ids[1]]})
    assert r.status_code == 200, r.text
    assert [p["id"] for p in r.json()] == [ids[2], ids[0], ids[1]]
    assert [p["sort_order"] for p in r.json()] == [0, 1, 2]
    # a partial list moves those first; the others keep their relative order
    assert [p["id"] for p in owner.post(url(event.id, "/reorder"), json={"photo_ids": [ids[1]]}).json()] == \
        [ids[1], ids[2], ids[0]]
    assert [p["id"] for p in owner.get(url(event.id)).json()] == [ids[1], ids[2], ids[0]]
    assert loc(owner.post(url(event.id, "/reorder"), json={"photo_ids": [ids[0], ids[0]]})) == ["body", "photo_ids", 1]
    assert loc(owner.post(url(event.id, "/reorder"), json={"photo_ids": [str(uuid.uuid4())]})) == \
        ["body", "photo_ids", 0]
    assert loc(owner.post(url(event.id, "/reorder"), json={"photo_ids": ["x"]})) == ["body", "photo_ids", 0]
    assert loc(owner.post(url(event.id, "/reorder"), json={})) == ["body", "photo_ids"]


def test_delete_removes_file(owner, event):
    p = upload(owner, event.id, png_bytes()).json()
    assert len(stored_files()) == 1
    assert owner.delete(url(event.id, f"/{p['id']}")).status_code == 204
    assert stored_files() == []
    assert owner.get(p["url"]).status_code == 404
    assert owner.delete(url(event.id, f"/{p['id']}")).status_code == 404


def test_deleting_event_or_event_type_removes_files(owner, db, plan):
    e1, e2 = add_event(db, plan.screen, "a"), add_event(db, plan.order, "b")
    upload(owner, e1.id, png_bytes())
    upload(owner, e2.id, png_bytes())
    assert len(stored_files()) == 2
    db.delete(db.get(Event, e1.id))  # as Delete Event does: the photos go by ON DELETE CASCADE
    db.commit()
    assert len(stored_files()) == 1
    db.delete(db.get(EventType, plan.order.id))  # cascades to its events and their photos
    db.commit()
    assert stored_files() == []
    assert db.query(EventPhoto).count() == 0


def test_rollback_keeps_file(owner, db, event):
    upload(owner, event.id, png_bytes())
    db.delete(db.get(Event, event.id))
    db.flush()
    db.rollback()
    assert len(stored_files()) == 1


def test_deleting_project_removes_files(owner, db, event):
    upload(owner, event.id, png_bytes())
    upload(owner, event.id, png_bytes())
    assert len(stored_files()) == 2
    assert owner.delete("/api/v1/projects/shop-app").status_code == 204
    assert stored_files() == []
    assert not (get_settings().uploads_dir / "photos" / str(event.project_id)).exists()


def test_unrelated_deletes_leave_files(owner, db, plan, event):
    upload(owner, event.id, png_bytes())
    v = Variable(project_id=plan.project_id, branch_id=plan.branch.id, name="x", source_name="x")
    db.add(v)
    db.commit()
    db.delete(v)
    db.commit()
    assert len(stored_files()) == 1


def test_roles(owner, editor, viewer, event):
    assert upload(viewer, event.id, png_bytes()).status_code == 403
    p = upload(editor, event.id, png_bytes()).json()
    assert viewer.get(url(event.id)).status_code == 200
    assert viewer.post(url(event.id, "/reorder"), json={"photo_ids": [p["id"]]}).status_code == 403
    assert viewer.delete(url(event.id, f"/{p['id']}")).status_code == 403
    assert viewer.post(f"/api/v1/projects/shop-app/events/{event.id}/figma",
                       json={"url": "https://www.figma.com/design/abc123/X"}).status_code == 403


def test_unknown_event_and_other_project(owner, db, event):
    assert upload(owner, uuid.uuid4(), png_bytes()).status_code == 404
    assert owner.get(url(uuid.uuid4())).status_code == 404
    owner.post("/api/v1/projects", json={"name": "Other", "slug": "other"})
    assert owner.get(f"/api/v1/projects/other/events/{event.id}/photos").status_code == 404


def test_branch_copy_maps_to_main_event(owner, db, plan, event):
    branch = add_branch(db, plan.project_id)
    copy = Event(project_id=plan.project_id, branch_id=branch.id, origin_id=event.id,
                 event_type_id=plan.screen.id, name=event.name)
    only_branch = Event(project_id=plan.project_id, branch_id=branch.id, event_type_id=plan.screen.id, name="new")
    db.add_all([copy, only_branch])
    db.commit()
    r = upload(owner, copy.id, png_bytes())
    assert r.status_code == 201 and r.json()["event_id"] == str(event.id)
    assert upload(owner, only_branch.id, png_bytes()).status_code == 409


FIGMA = "/api/v1/projects/shop-app/events/{}/figma"


@pytest.mark.parametrize("link", [
    "https://www.figma.com/design/AbC123xyz/Checkout?node-id=1-2",
    "https://figma.com/file/AbC123xyz/Checkout",
    "https://www.figma.com/proto/AbC123xyz/Flow",
    "https://www.figma.com/board/AbC123xyz/Flow",
])
def test_figma_accepted(owner, event, link):
    r = owner.post(FIGMA.format(event.id), json={"url": link, "title": "Checkout spec"})
    assert r.status_code == 201, r.text
    p = r.json()
    assert p["kind"] == "figma" and p["external_url"] == link and p["url"] == link
    assert p["storage_backend"] == "external" and p["title"] == "Checkout spec" and p["size_bytes"] == 0
    d = owner.get(url(event.id, f"/{p['id']}/download"), follow_redirects=False)
    assert d.status_code == 307 and d.headers["location"] == link


@pytest.mark.parametrize("link", [
    "http://www.figma.com/design/AbC123/X",
    "https://figma.com.evil.example/design/AbC123/X",
    "https://evilfigma.com/design/AbC123/X",
    "https://user:pw@www.figma.com/design/AbC123/X",
    "https://www.figma.com/",
    "https://www.figma.com/settings",
    "javascript:alert(1)",
    "not a url",
    "",
    "https://www.figma.com/design/" + "a" * 2000,
])
def test_figma_refused(owner, event, link):
    assert loc(owner.post(FIGMA.format(event.id), json={"url": link})) == ["body", "url"]


def test_figma_title_limit(owner, event):
    r = owner.post(FIGMA.format(event.id), json={"url": "https://www.figma.com/design/a1/X", "title": "t" * 501})
    assert loc(r) == ["body", "title"]


def test_photo_audit_and_activity(owner, event):
    p = upload(owner, event.id, png_bytes()).json()
    owner.post(url(event.id, "/reorder"), json={"photo_ids": [p["id"]]})
    owner.post(FIGMA.format(event.id), json={"url": "https://www.figma.com/design/a1/X"})
    owner.delete(url(event.id, f"/{p['id']}"))
    actions = sorted(e["action"] for e in owner.get("/api/v1/audit?action=event_photo").json()["items"])
    assert actions == ["event_photo.attach_figma", "event_photo.delete", "event_photo.reorder",
                       "event_photo.upload"]
    feed = [e["message"] for e in owner.get("/api/v1/projects/shop-app/activity").json()]
    assert any("uploaded photo 'shot.png' to event 'home_viewed'" in m for m in feed)


def test_delete_event_apis_remove_files(owner, db, plan):
    a, b, c = (add_event(db, plan.screen, n) for n in ("a", "b", "c"))
    for ev in (a, b, c):
        assert upload(owner, ev.id, png_bytes()).status_code == 201
    assert owner.delete(f"/api/v1/projects/shop-app/events/{a.id}").status_code == 204  # Delete Event
    assert len(stored_files()) == 2
    r = owner.post("/api/v1/projects/shop-app/events/bulk-delete", json={"event_ids": [str(b.id), str(c.id)]})
    assert r.status_code == 204, r.text
    assert stored_files() == []


def test_sweep_orphans(owner, db, event):
    import os

    from tripl_core.db.session import get_engine
    from tripl_core.plan_extras import photo_files

    upload(owner, event.id, png_bytes())
    kept = stored_files()[0]
    orphan = kept.parent / f"{uuid.uuid4()}.png"
    orphan.write_bytes(png_bytes())
    young = kept.parent / f"{uuid.uuid4()}.png"
    young.write_bytes(png_bytes())
    os.utime(orphan, (0, 0))
    os.utime(kept, (0, 0))
    assert photo_files.sweep_orphans(get_engine(), get_settings().uploads_dir) == 1
    assert kept.exists() and young.exists() and not orphan.exists()


def test_limit_follows_the_settings_api_override(owner, event):
    """An owner lowering photo_max_bytes through Update Settings takes effect without a restart."""
    data = JPEG[:-2] + b"\x00" * 3000 + b"\xff\xd9"
    assert owner.patch("/api/v1/settings", json={"storage": {"photo_max_bytes": 1024}}).status_code == 200
    r = upload(owner, event.id, data, name="shot.jpg", ctype="image/jpeg")
    assert r.status_code == 413, r.text
    assert stored_files() == []
    assert owner.patch("/api/v1/settings", json={"storage": {"photo_max_bytes": 10 * 1024 * 1024}}).status_code == 200
    assert upload(owner, event.id, data, name="shot.jpg", ctype="image/jpeg").status_code == 201
