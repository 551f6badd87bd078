"""Reading deliveries (List/Get Alert Delivery) and Retry Alert Delivery."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tripl_core import audit
from tripl_core.alerting import sending
from tripl_core.db.models.alerting import AlertDelivery, AlertDeliveryItem, DeliveryStatus, DestinationType
from tripl_core.db.models.projects import Project
from tripl_core.errors import Conflict, Invalid, NotFound


def _uuid(value: str | None, name: str) -> uuid.UUID | None:
    if value is None or value == "":
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        raise Invalid(name, "must be a UUID", loc_prefix="query") from None


def parse_when(value: str | None, name: str, end: bool = False) -> datetime | None:
    """An ISO date-time, or a date (the whole day: date_to includes it)."""
    if value is None or value == "":
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime.combine(day + timedelta(days=1) if end else day, time(), UTC)
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (ValueError, OverflowError):
        raise Invalid(name, "an ISO date (2026-01-31) or date-time (2026-01-31T10:00:00Z)",
                      loc_prefix="query") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def list_deliveries(db: Session, project: Project, *, status: str | None = None, channel: str | None = None,
                    destination_id: str | None = None, rule_id: str | None = None,
                    scan_config_id: str | None = None, date_from: str | None = None, date_to: str | None = None,
                    offset: int = 0, limit: int = 50) -> tuple[list[AlertDelivery], int]:
    """Newest first. Filters are ANDed; `date_to` given as a date includes that whole day."""
    stmt = select(AlertDelivery).where(AlertDelivery.project_id == project.id)
    if status:
        if status not in DeliveryStatus.__members__:
            raise Invalid("status", f"one of {', '.join(DeliveryStatus)}", loc_prefix="query")
        stmt = stmt.where(AlertDelivery.status == DeliveryStatus(status))
    if channel:
        if channel not in DestinationType.__members__:
            raise Invalid("channel", f"one of {', '.join(DestinationType)}", loc_prefix="query")
        stmt = stmt.where(AlertDelivery.channel == channel)
    for value, name, col in ((destination_id, "destination_id", AlertDelivery.destination_id),
                             (rule_id, "rule_id", AlertDelivery.rule_id),
                             (scan_config_id, "scan_config_id", AlertDelivery.scan_config_id)):
        parsed = _uuid(value, name)
        if parsed is not None:
            stmt = stmt.where(col == parsed)
    start, end = parse_when(date_from, "date_from"), parse_when(date_to, "date_to", end=True)
    whole_day = bool(date_to) and len(date_to or "") == 10  # `end` is then the next midnight (exclusive)
    if start and end and (start >= end if whole_day else start > end):
        raise Invalid("date_from", "must not be after date_to", loc_prefix="query")
    if start:
        stmt = stmt.where(AlertDelivery.created_at >= start)
    if end:
        stmt = stmt.where(AlertDelivery.created_at < end if whole_day else AlertDelivery.created_at <= end)
    total = db.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = db.scalars(stmt.order_by(AlertDelivery.created_at.desc(), AlertDelivery.id).offset(offset).limit(limit))
    return list(rows), total


def get(db: Session, project: Project, delivery_id: uuid.UUID) -> AlertDelivery:
    delivery = db.get(AlertDelivery, delivery_id)
    if delivery is None or delivery.project_id != project.id:
        raise NotFound("Alert delivery not found.")
    return delivery


def items(db: Session, delivery_id: uuid.UUID) -> list[AlertDeliveryItem]:
    return list(db.scalars(select(AlertDeliveryItem).where(AlertDeliveryItem.delivery_id == delivery_id)
                           .order_by(AlertDeliveryItem.position)))


def retry(db: Session, actor: audit.Actor, project: Project, delivery: AlertDelivery) -> AlertDelivery:
    """Send again now (pending or failed deliveries; a sent one is not repeated)."""
    if delivery.status == DeliveryStatus.sent:
        raise Conflict("This delivery was already sent; it is not sent twice.")
    audit.record(db, actor, "alert_delivery.retry", "alert_delivery", delivery.id, delivery.rule_name,
                 project=project, message=f"{actor.label} retried alert delivery of '{delivery.rule_name}'")
    db.commit()
    done = sending.attempt(db, delivery.id, manual=True)
    if done is None:
        raise Conflict("This delivery is being sent right now.")
    db.refresh(done)
    return done
