"""Sending written deliveries, with retries. A delivery is always written (pending) before its first attempt.

One attempt = lock the row (`FOR UPDATE SKIP LOCKED`: a concurrent sensor tick or API retry skips it), send the
message stored in `payload_snapshot`, record the outcome, commit. A retryable failure gets `next_attempt_at` =
now + backoff (`alert_retry_base_seconds` × 2^(attempt−1), at most `alert_retry_max_seconds`, at least the
channel's Retry-After) until `alert_delivery_max_attempts`; `due()` lists what to send now.

The only window for a duplicate is a crash after the channel accepted the message and before the commit; the
delivery id travels as the webhook `Idempotency-Key` / email header so receivers can drop the repeat.
"""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from tripl_core import service_settings
from tripl_core.alerting import destinations
from tripl_core.alerting.channels import SendResult, send_alert
from tripl_core.alerting.message import MessageFormat, RenderedMessage
from tripl_core.db.models.alerting import AlertDelivery, AlertDestination, DeliveryStatus
from tripl_core.settings import Settings


def message_snapshot(msg: RenderedMessage) -> dict[str, Any]:
    return {"format": msg.format.value, "text": msg.text, "plain_text": msg.plain_text, "subject": msg.subject,
            "footer": msg.footer, "url": msg.url, "labels": list(msg.labels), "delivery_id": msg.delivery_id,
            "template_error": msg.template_error}


def message_from_snapshot(snapshot: dict[str, Any]) -> RenderedMessage:
    m = snapshot["message"]
    return RenderedMessage(format=MessageFormat(m["format"]), text=m["text"], plain_text=m["plain_text"],
                           subject=m["subject"], footer=m.get("footer") or "", url=m.get("url"),
                           labels=tuple(m.get("labels") or ("tripl",)), context=snapshot.get("context") or {},
                           delivery_id=m.get("delivery_id"), template_error=m.get("template_error"))


def backoff(attempts: int, settings: Settings, retry_after: float | None = None) -> timedelta:
    """Wait before attempt `attempts + 1`: exponential from the base, capped, never shorter than Retry-After.

    The remote's Retry-After is honoured up to `alert_retry_max_seconds` too: a server answering `Retry-After:
    99999999999` (or `inf`) must not park the delivery for centuries — or overflow the date and stop dispatch."""
    cap = settings.alert_retry_max_seconds
    seconds = min(cap, settings.alert_retry_base_seconds * 2 ** max(0, attempts - 1))
    asked = retry_after if retry_after is not None and math.isfinite(retry_after) else (cap if retry_after else 0)
    return timedelta(seconds=max(seconds, min(max(asked, 0), cap)))


def due(db: Session, now: datetime, limit: int = 100) -> list[uuid.UUID]:
    """Deliveries to attempt now: never attempted, or failed with a retry time that has come."""
    pending = (AlertDelivery.status == DeliveryStatus.pending) & or_(
        AlertDelivery.next_attempt_at.is_(None), AlertDelivery.next_attempt_at <= now)
    retry = (AlertDelivery.status == DeliveryStatus.failed) & (AlertDelivery.next_attempt_at <= now)
    return list(db.scalars(select(AlertDelivery.id).where(pending | retry)
                           .order_by(AlertDelivery.created_at).limit(limit)))


def _record(delivery: AlertDelivery, result: SendResult, now: datetime, settings: Settings,
            auto_retry: bool) -> None:
    delivery.attempts += 1
    delivery.last_attempt_at = now
    if result.ok:
        delivery.status, delivery.sent_at, delivery.next_attempt_at = DeliveryStatus.sent, now, None
        delivery.external_id = result.external_id
        delivery.error_message = None
        return
    delivery.status = DeliveryStatus.failed
    reason = result.error or "send failed"
    retry = auto_retry and result.retryable and delivery.attempts < settings.alert_delivery_max_attempts
    if result.retryable and not retry:  # say why nothing more will happen by itself
        reason += (f" (gave up after {delivery.attempts} attempts, alert_delivery_max_attempts; "
                   "Retry Alert Delivery sends it again)")
    delivery.error_message = reason[:4000]
    delivery.next_attempt_at = now + backoff(delivery.attempts, settings, result.retry_after_seconds) \
        if retry else None


def attempt(db: Session, delivery_id: uuid.UUID, now: datetime | None = None, manual: bool = False
            ) -> AlertDelivery | None:
    """Send one delivery once. None when another process holds it or it no longer needs sending.

    `manual` (Retry Alert Delivery) sends a pending or failed delivery whatever its retry schedule, and a
    retryable failure of it is scheduled for automatic retries again."""
    now = now or datetime.now(UTC)
    delivery = db.scalars(select(AlertDelivery).where(AlertDelivery.id == delivery_id)
                          .with_for_update(skip_locked=True)).first()
    if delivery is None or delivery.status == DeliveryStatus.sent:
        db.rollback()
        return None
    if not manual and (delivery.status == DeliveryStatus.failed and delivery.next_attempt_at is None
                       or delivery.next_attempt_at is not None and delivery.next_attempt_at > now):
        db.rollback()
        return None
    settings = service_settings.effective(db).as_settings()
    dest = db.get(AlertDestination, delivery.destination_id) if delivery.destination_id else None
    if dest is None:
        result = SendResult(ok=False, error="the destination was deleted")
    elif not dest.enabled and not manual:
        result = SendResult(ok=False, error="the destination is disabled")
    else:
        try:
            config = destinations.config(dest)
        except RuntimeError as exc:  # a secret that cannot be decrypted (TRIPL_SECRET_KEY changed)
            result = SendResult(ok=False, error=str(exc))
        else:
            result = send_alert(config, message_from_snapshot(delivery.payload_snapshot), settings)
    _record(delivery, result, now, settings, auto_retry=True)
    db.commit()
    return delivery


def send_due(db: Session, now: datetime | None = None, limit: int = 100) -> dict[str, int]:
    """Attempt every due delivery; returns counts of sent and failed attempts."""
    now = now or datetime.now(UTC)
    counts = {"sent": 0, "failed": 0}
    for delivery_id in due(db, now, limit):
        done = attempt(db, delivery_id, now)
        if done is not None:
            counts["sent" if done.status == DeliveryStatus.sent else "failed"] += 1
    return counts
