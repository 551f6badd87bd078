"""Alerting (reference tag `alerting`): destinations, rules, deliveries, monitors, inbox, simulation.

Reads need a viewer; configuring destinations/rules, muting, retrying and inbox actions need an editor.
Sending happens in the Dagster sensor `alert_dispatch` (tripl_core.alerting.dispatch), not here — except Retry.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response
from sqlalchemy.orm import Session

from tripl_api.deps import DB, ProjectRead, ProjectWrite
from tripl_api.schemas.alerting import (
    DeliveryItemResponse,
    DeliveryList,
    DeliveryResponse,
    DestinationCreate,
    DestinationResponse,
    DestinationUpdate,
    InboxActionRequest,
    InboxGroupResponse,
    InboxList,
    MonitorResponse,
    MonitorsSummary,
    MuteRequest,
    RuleCreate,
    RuleResponse,
    RuleUpdate,
    SimulationResponse,
)
from tripl_core.alerting import deliveries, destinations, inbox, monitors, rules
from tripl_core.alerting.simulate import simulate
from tripl_core.db.models.alerting import AlertDelivery, AlertDestination, AlertRule

router = APIRouter(prefix="/api/v1/projects/{slug}/alerts", tags=["alerting"])


def destination_out(dest: AlertDestination, rule_rows: list[AlertRule]) -> DestinationResponse:
    plain = {f: getattr(dest, f) for f in destinations.PLAIN_FIELDS}
    return DestinationResponse(
        id=dest.id, project_id=dest.project_id, type=dest.type, name=dest.name, enabled=dest.enabled,
        **plain, **destinations.flags(dest), rules=[RuleResponse.model_validate(r) for r in rule_rows],
        created_at=dest.created_at, updated_at=dest.updated_at)


def _dest_out(db: Session, dest: AlertDestination) -> DestinationResponse:
    return destination_out(dest, destinations.rules_of(db, [dest.id])[dest.id])


def delivery_out(d: AlertDelivery, items: list | None = None) -> DeliveryResponse:
    out = DeliveryResponse.model_validate(
        {c.key: getattr(d, c.key) for c in AlertDelivery.__table__.columns if c.key in DeliveryResponse.model_fields})
    if items is not None:
        out.items = [DeliveryItemResponse(
            id=i.id, kind=i.kind, finding_id=i.finding_id, correlation_group_id=i.correlation_group_id,
            scope_type=i.scope_type, scope_ref=i.scope_ref, scope_name=i.scope_name, direction=i.direction,
            bucket=i.bucket, actual=i.actual, expected=i.expected, z=i.z, summary=i.summary, data=i.data)
            for i in items]
    return out


def group_out(v: inbox.GroupView) -> InboxGroupResponse:
    g = v.group
    return InboxGroupResponse(
        correlation_group_id=g.id, status=v.status.value, muted_until=g.muted_until if v.status == "muted" else None,
        note=g.note, false_positive_count=g.false_positive_count, item_count=v.item_count,
        delivery_count=v.delivery_count, latest_bucket=g.latest_bucket, latest_delivery_at=g.latest_delivery_at,
        direction=g.direction, kind=g.kind, scope_names=v.scope_names, destination_names=v.destination_names,
        rule_names=v.rule_names, scan_names=v.scan_names, acted_at=g.acted_at, acted_by=g.acted_by)


# --- destinations -------------------------------------------------------------------------------------------

@router.get("/destinations", summary="List Alert Destinations", response_model=list[DestinationResponse])
def list_alert_destinations(db: DB, ctx: ProjectRead):
    rows = destinations.list_for_project(db, ctx.project)
    by_dest = destinations.rules_of(db, [d.id for d in rows])
    return [destination_out(d, by_dest[d.id]) for d in rows]


@router.post("/destinations", summary="Create Alert Destination", response_model=DestinationResponse,
             status_code=201)
def create_alert_destination(body: DestinationCreate, db: DB, ctx: ProjectWrite):
    dest = destinations.create(db, ctx.actor, ctx.project, body.model_dump())
    return destination_out(dest, [])


@router.get("/monitors", summary="Get Monitors Summary", response_model=MonitorsSummary)
def get_monitors_summary(db: DB, ctx: ProjectRead):
    return monitors.summary(db, ctx.project)


@router.get("/destinations/{destination_id}", summary="Get Alert Destination", response_model=DestinationResponse)
def get_alert_destination(destination_id: uuid.UUID, db: DB, ctx: ProjectRead):
    return _dest_out(db, destinations.get(db, ctx.project, destination_id))


@router.patch("/destinations/{destination_id}", summary="Update Alert Destination",
              response_model=DestinationResponse)
def update_alert_destination(destination_id: uuid.UUID, body: DestinationUpdate, db: DB, ctx: ProjectWrite):
    dest = destinations.get(db, ctx.project, destination_id)
    return _dest_out(db, destinations.update(db, ctx.actor, dest, body.model_dump(exclude_unset=True)))


@router.delete("/destinations/{destination_id}", summary="Delete Alert Destination", status_code=204)
def delete_alert_destination(destination_id: uuid.UUID, db: DB, ctx: ProjectWrite) -> Response:
    destinations.delete(db, ctx.actor, destinations.get(db, ctx.project, destination_id))
    return Response(status_code=204)


# --- rules --------------------------------------------------------------------------------------------------

@router.post("/destinations/{destination_id}/rules", summary="Create Alert Rule", response_model=RuleResponse,
             status_code=201)
def create_alert_rule(destination_id: uuid.UUID, body: RuleCreate, db: DB, ctx: ProjectWrite):
    dest = destinations.get(db, ctx.project, destination_id)
    return rules.create(db, ctx.actor, dest, body.model_dump())


@router.patch("/destinations/{destination_id}/rules/{rule_id}", summary="Update Alert Rule",
              response_model=RuleResponse)
def update_alert_rule(destination_id: uuid.UUID, rule_id: uuid.UUID, body: RuleUpdate, db: DB, ctx: ProjectWrite):
    dest = destinations.get(db, ctx.project, destination_id)
    rule = rules.get(db, dest, rule_id)
    return rules.update(db, ctx.actor, dest, rule, body.model_dump(exclude_unset=True))


@router.delete("/destinations/{destination_id}/rules/{rule_id}", summary="Delete Alert Rule", status_code=204)
def delete_alert_rule(destination_id: uuid.UUID, rule_id: uuid.UUID, db: DB, ctx: ProjectWrite) -> Response:
    dest = destinations.get(db, ctx.project, destination_id)
    rules.delete(db, ctx.actor, rules.get(db, dest, rule_id))
    return Response(status_code=204)


@router.get("/destinations/{destination_id}/rules/{rule_id}/simulate", summary="Simulate Alert Rule",
            response_model=SimulationResponse)
def simulate_alert_rule(destination_id: uuid.UUID, rule_id: uuid.UUID, db: DB, ctx: ProjectRead,
                        days: Annotated[int, Query(ge=1, le=90)] = 7,
                        cooldown_minutes_override: Annotated[int | None, Query(ge=1, le=525600)] = None):
    dest = destinations.get(db, ctx.project, destination_id)
    rule = rules.get(db, dest, rule_id)
    return simulate(db, ctx.project, dest, rule, days, cooldown_minutes_override)


# --- deliveries ---------------------------------------------------------------------------------------------

@router.get("/deliveries", summary="List Alert Deliveries", response_model=DeliveryList)
def list_alert_deliveries(db: DB, ctx: ProjectRead, status: str | None = None, channel: str | None = None,
                          destination_id: str | None = None, rule_id: str | None = None,
                          scan_config_id: str | None = None, date_from: str | None = None,
                          date_to: str | None = None, offset: Annotated[int, Query(ge=0)] = 0,
                          limit: Annotated[int, Query(ge=1, le=200)] = 50):
    rows, total = deliveries.list_deliveries(
        db, ctx.project, status=status, channel=channel, destination_id=destination_id, rule_id=rule_id,
        scan_config_id=scan_config_id, date_from=date_from, date_to=date_to, offset=offset, limit=limit)
    return DeliveryList(items=[delivery_out(d) for d in rows], total=total)


@router.get("/deliveries/{delivery_id}", summary="Get Alert Delivery", response_model=DeliveryResponse)
def get_alert_delivery(delivery_id: uuid.UUID, db: DB, ctx: ProjectRead):
    d = deliveries.get(db, ctx.project, delivery_id)
    return delivery_out(d, deliveries.items(db, d.id))


@router.post("/deliveries/{delivery_id}/retry", summary="Retry Alert Delivery", response_model=DeliveryResponse)
def retry_alert_delivery(delivery_id: uuid.UUID, db: DB, ctx: ProjectWrite):
    d = deliveries.retry(db, ctx.actor, ctx.project, deliveries.get(db, ctx.project, delivery_id))
    return delivery_out(d, deliveries.items(db, d.id))


# --- monitors -----------------------------------------------------------------------------------------------

@router.get("/monitors/{rule_id}", summary="Get Monitor", response_model=MonitorResponse)
def get_monitor(rule_id: uuid.UUID, db: DB, ctx: ProjectRead):
    return monitors.get(db, ctx.project, rules.get_in_project(db, ctx.project, rule_id))


@router.post("/monitors/{rule_id}/mute", summary="Mute Monitor", response_model=MonitorResponse)
def mute_monitor(rule_id: uuid.UUID, body: MuteRequest, db: DB, ctx: ProjectWrite):
    rule = rules.mute(db, ctx.actor, rules.get_in_project(db, ctx.project, rule_id), body.muted_until)
    return monitors.get(db, ctx.project, rule)


@router.post("/monitors/{rule_id}/unmute", summary="Unmute Monitor", response_model=MonitorResponse)
def unmute_monitor(rule_id: uuid.UUID, db: DB, ctx: ProjectWrite):
    rule = rules.unmute(db, ctx.actor, rules.get_in_project(db, ctx.project, rule_id))
    return monitors.get(db, ctx.project, rule)


# --- inbox --------------------------------------------------------------------------------------------------

@router.get("/inbox", summary="List Alert Inbox", response_model=InboxList)
def list_alert_inbox(db: DB, ctx: ProjectRead, status: str | None = None,
                     offset: Annotated[int, Query(ge=0)] = 0, limit: Annotated[int, Query(ge=1, le=200)] = 50):
    views, total = inbox.list_groups(db, ctx.project, status, offset, limit)
    return InboxList(items=[group_out(v) for v in views], total=total)


@router.post("/inbox/{correlation_group_id}/action", summary="Apply Alert Inbox Action",
             response_model=InboxGroupResponse)
def apply_alert_inbox_action(correlation_group_id: uuid.UUID, body: InboxActionRequest, db: DB, ctx: ProjectWrite):
    group = inbox.get_group(db, ctx.project, correlation_group_id)
    view = inbox.apply_action(db, ctx.actor, ctx.project, group, body.action, body.note, body.muted_until)
    return group_out(view)
