"""Alert destinations: create, read, update, delete. Secrets are encrypted at rest and never read back out
(responses say `*_set`); every save is validated by the channel's sender, so a 422 names the faulty field."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tripl_core import audit, secrets
from tripl_core.alerting.channels import DestinationConfig, check_message_format, validate_destination
from tripl_core.db.models.alerting import AlertDestination, AlertRule, DestinationType
from tripl_core.db.models.projects import Project
from tripl_core.errors import Invalid, NotFound

SECRET_FIELDS = ("webhook_url", "bot_token", "target_url", "webhook_header_value", "jira_api_token",
                 "linear_api_key")
PLAIN_FIELDS = ("chat_id", "webhook_header_name", "email_recipients", "email_from_address",
                "email_subject_template", "jira_base_url", "jira_auth_email", "jira_project_key", "jira_issue_type",
                "linear_team_id", "linear_state_id", "linear_label_ids")
# Response name of each secret's flag (the reference says `webhook_set` for the Slack webhook URL).
SECRET_FLAGS = {"webhook_url": "webhook_set", "bot_token": "bot_token_set", "target_url": "target_url_set",
                "webhook_header_value": "webhook_header_value_set", "jira_api_token": "jira_api_token_set",
                "linear_api_key": "linear_api_key_set"}
_AUDIT_FIELDS = ["type", "name", "enabled", *PLAIN_FIELDS]


def get(db: Session, project: Project, destination_id: uuid.UUID) -> AlertDestination:
    dest = db.get(AlertDestination, destination_id)
    if dest is None or dest.project_id != project.id:
        raise NotFound("Alert destination not found.")
    return dest


def list_for_project(db: Session, project: Project) -> list[AlertDestination]:
    return list(db.scalars(select(AlertDestination).where(AlertDestination.project_id == project.id)
                           .order_by(AlertDestination.name, AlertDestination.created_at)))


def rules_of(db: Session, destination_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[AlertRule]]:
    """Rules per destination in one query (List Alert Destinations shows each destination's rules)."""
    out: dict[uuid.UUID, list[AlertRule]] = {d: [] for d in destination_ids}
    if destination_ids:
        for rule in db.scalars(select(AlertRule).where(AlertRule.destination_id.in_(destination_ids))
                               .order_by(AlertRule.name, AlertRule.created_at)):
            out[rule.destination_id].append(rule)
    return out


def secret(dest: AlertDestination, name: str) -> str | None:
    return secrets.decrypt(getattr(dest, f"{name}_enc"))


def config(dest: AlertDestination) -> DestinationConfig:
    """The sender's view of a destination, secrets decrypted (only ever handed to a channel)."""
    data: dict[str, Any] = {"type": dest.type.value, "name": dest.name}
    data.update({f: getattr(dest, f) for f in PLAIN_FIELDS})
    data.update({f: secret(dest, f) for f in SECRET_FIELDS})
    return DestinationConfig.from_mapping(data)


def flags(dest: AlertDestination) -> dict[str, bool]:
    return {flag: bool(getattr(dest, f"{name}_enc")) for name, flag in SECRET_FLAGS.items()}


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def _apply(dest: AlertDestination, data: dict[str, Any]) -> None:
    """Plain fields: null or "" clears. Secrets: absent/null keeps, "" clears, a value replaces."""
    if "name" in data and data["name"] is not None:
        name = data["name"].strip()
        if not name:
            raise Invalid("name", "must not be blank")
        if len(name) > 255:
            raise Invalid("name", "at most 255 characters")
        dest.name = name
    if "enabled" in data and data["enabled"] is not None:
        dest.enabled = bool(data["enabled"])
    for f in PLAIN_FIELDS:
        if f in data:
            setattr(dest, f, _clean(data[f]))
    for f in SECRET_FIELDS:
        if f in data and data[f] is not None:
            setattr(dest, f"{f}_enc", secrets.encrypt(data[f].strip()) if data[f].strip() else None)


def _validate(db: Session, dest: AlertDestination) -> None:
    validate_destination(config(dest))
    for rule in db.scalars(select(AlertRule).where(AlertRule.destination_id == dest.id)) if dest.id else []:
        check_message_format(dest.type.value, rule.message_format.value)


def create(db: Session, actor: audit.Actor, project: Project, data: dict[str, Any]) -> AlertDestination:
    try:
        dtype = DestinationType(data.get("type"))
    except ValueError:
        raise Invalid("type", f"one of {', '.join(t.value for t in DestinationType)}") from None
    dest = AlertDestination(project_id=project.id, type=dtype, name="", enabled=True)
    _apply(dest, {"enabled": True, **data})
    if not dest.name:
        raise Invalid("name", "required")
    validate_destination(config(dest))
    db.add(dest)
    db.flush()
    audit.record(db, actor, "alert_destination.create", "alert_destination", dest.id, dest.name, project=project,
                 after={**audit.snapshot(dest, _AUDIT_FIELDS), **flags(dest)})
    db.commit()
    return dest


def update(db: Session, actor: audit.Actor, dest: AlertDestination, data: dict[str, Any]) -> AlertDestination:
    before = {**audit.snapshot(dest, _AUDIT_FIELDS), **flags(dest)}
    _apply(dest, data)
    _validate(db, dest)
    db.flush()
    b, a = audit.changed(before, {**audit.snapshot(dest, _AUDIT_FIELDS), **flags(dest)})
    rotated = [f for f in SECRET_FIELDS if data.get(f)]
    if a or rotated:
        project = db.get(Project, dest.project_id)
        audit.record(db, actor, "alert_destination.update", "alert_destination", dest.id, dest.name,
                     project=project, before=b, after={**a, **{f"{f}_replaced": True for f in rotated}})
    db.commit()
    return dest


def delete(db: Session, actor: audit.Actor, dest: AlertDestination) -> None:
    """Its rules go with it; deliveries stay (they keep the destination's name)."""
    project = db.get(Project, dest.project_id)
    audit.record(db, actor, "alert_destination.delete", "alert_destination", dest.id, dest.name, project=project,
                 before=audit.snapshot(dest, ["type", "name"]))
    db.delete(dest)
    db.commit()
