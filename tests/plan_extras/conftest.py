"""Plan rows for the plan-extras tests, made directly in the database (independent of the events API)."""

from __future__ import annotations

import shutil
import struct
import uuid
import zlib
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from tripl_core.db.models.plan import (
    BranchKind,
    BranchStatus,
    Event,
    EventFieldValue,
    EventType,
    FieldDefinition,
    FieldType,
    PlanBranch,
)


def png_bytes(width: int = 2, height: int = 2) -> bytes:
    """A valid PNG (real chunks and CRCs), so the test does not rely on our own sniffing shortcuts."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64 + b"\xff\xd9"
GIF = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00" \
      b"\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
WEBP = b"RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00/\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00"


@pytest.fixture(autouse=True)
def clean_uploads(database_url):
    """Truncating tables fires no delete triggers, so files of earlier tests are removed here."""
    from tripl_core.settings import get_settings

    shutil.rmtree(get_settings().uploads_dir, ignore_errors=True)
    yield


@dataclass
class Plan:
    """A small plan on main: `screen` (fields screen_name, cart_id) and `order` (fields order_id, cart_id)."""

    project_id: uuid.UUID
    branch: PlanBranch
    screen: EventType
    order: EventType
    fields: dict[str, FieldDefinition]


def main_branch(db, project_id) -> PlanBranch:
    return db.scalar(select(PlanBranch).where(PlanBranch.project_id == project_id,
                                              PlanBranch.kind == BranchKind.main))


def add_event_type(db, branch: PlanBranch, name: str) -> EventType:
    et = EventType(project_id=branch.project_id, branch_id=branch.id, name=name, display_name=name.title())
    db.add(et)
    db.flush()
    return et


def add_field(db, et: EventType, name: str) -> FieldDefinition:
    f = FieldDefinition(event_type_id=et.id, branch_id=et.branch_id, name=name, display_name=name,
                        field_type=FieldType.string)
    db.add(f)
    db.flush()
    return f


def add_event(db, et: EventType, name: str, values: dict[FieldDefinition, str] | None = None) -> Event:
    ev = Event(project_id=et.project_id, branch_id=et.branch_id, event_type_id=et.id, name=name)
    db.add(ev)
    db.flush()
    for f, v in (values or {}).items():
        db.add(EventFieldValue(event_id=ev.id, field_definition_id=f.id, branch_id=et.branch_id, value=v))
    db.commit()
    return ev


def add_branch(db, project_id, name: str = "feature", status: BranchStatus = BranchStatus.draft) -> PlanBranch:
    b = PlanBranch(project_id=project_id, name=name, kind=BranchKind.branch, status=status)
    db.add(b)
    db.commit()
    return b


@pytest.fixture
def plan(db, project) -> Plan:
    pid = uuid.UUID(project["id"])
    branch = main_branch(db, pid)
    screen = add_event_type(db, branch, "screen")
    order = add_event_type(db, branch, "order")
    fields = {
        "screen.screen_name": add_field(db, screen, "screen_name"),
        "screen.cart_id": add_field(db, screen, "cart_id"),
        "order.order_id": add_field(db, order, "order_id"),
        "order.cart_id": add_field(db, order, "cart_id"),
    }
    db.commit()
    return Plan(pid, branch, screen, order, fields)


@pytest.fixture
def event(db, plan: Plan) -> Event:
    return add_event(db, plan.screen, "home_viewed")


def loc(response) -> list:
    """The `loc` of the first validation error of a 422."""
    assert response.status_code == 422, response.text
    return response.json()["detail"][0]["loc"]
