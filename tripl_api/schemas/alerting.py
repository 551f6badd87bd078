"""Alerting shapes (reference tag `alerting`). Destination secrets are write-only: responses say `*_set`."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tripl_core.db.models.alerting import AlertMessageFormat, DestinationType

_SECRET = "Write-only (responses say whether it is set). Update: null/absent keeps it, \"\" clears it."


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _DestinationFields(_Strict):
    webhook_url: str | None = Field(None, max_length=2000, description="Slack incoming webhook URL. " + _SECRET)
    bot_token: str | None = Field(None, max_length=500, description="Slack bot token or Telegram bot token. "
                                                                    + _SECRET)
    chat_id: str | None = Field(None, max_length=255, description="Slack channel id or Telegram chat id.")
    target_url: str | None = Field(None, max_length=2000, description="Webhook target URL. " + _SECRET)
    webhook_header_name: str | None = Field(None, max_length=255, description="Optional custom header name.")
    webhook_header_value: str | None = Field(None, max_length=4000, description="Its value. " + _SECRET)
    email_recipients: str | None = Field(None, max_length=10000, description="Addresses separated by , ; or "
                                                                             "spaces (1..50).")
    email_from_address: str | None = Field(None, max_length=320, description="Overrides the SMTP from address.")
    email_subject_template: str | None = Field(None, max_length=10000, description="Sandboxed subject template.")
    jira_base_url: str | None = Field(None, max_length=2000)
    jira_auth_email: str | None = Field(None, max_length=320)
    jira_api_token: str | None = Field(None, max_length=2000, description=_SECRET)
    jira_project_key: str | None = Field(None, max_length=64)
    jira_issue_type: str | None = Field(None, max_length=255, description="Default Task; a name or numeric id.")
    linear_api_key: str | None = Field(None, max_length=2000, description=_SECRET)
    linear_team_id: str | None = Field(None, max_length=255)
    linear_state_id: str | None = Field(None, max_length=255)
    linear_label_ids: str | None = Field(None, max_length=4000, description="Comma-separated label ids.")


class DestinationCreate(_DestinationFields):
    type: DestinationType
    name: str = Field(min_length=1, max_length=255)
    enabled: bool = True


class DestinationUpdate(_DestinationFields):
    name: str | None = Field(None, min_length=1, max_length=255)
    enabled: bool | None = None


class RuleFilter(_Strict):
    field: Literal["event_type", "event", "tag", "status", "scan_config"] = Field(
        description="event_type / event: ids or names; tag: event tags; status: plan event statuses; "
                    "scan_config: ids.")
    operator: Literal["in", "not_in"] = "in"
    values: list[str] = Field(min_length=1, max_length=500)


class RuleCreate(_Strict):
    name: str = Field(min_length=1, max_length=255)
    enabled: bool = True
    include_project_total: bool = True
    include_event_types: bool = True
    include_events: bool = True
    include_schema_drifts: bool = False
    include_distribution_drifts: bool = False
    include_release_regressions: bool = False
    notify_on_spike: bool = True
    notify_on_drop: bool = True
    ai_explanation_enabled: bool = Field(False, description="Adds an AI explanation when AI is configured.")
    min_percent_delta: float = Field(0, ge=0, allow_inf_nan=False)
    min_absolute_delta: float = Field(0, ge=0, allow_inf_nan=False)
    min_expected_count: float = Field(0, ge=0, allow_inf_nan=False)
    cooldown_minutes: int = Field(1440, ge=1, le=525600, description="Per rule × scope.")
    message_template: str | None = Field(None, max_length=10000, description="Sandboxed Jinja; null: default.")
    items_template: str | None = Field(None, max_length=10000, description="Rendered per item; null: default.")
    message_format: AlertMessageFormat = AlertMessageFormat.plain
    filters: list[RuleFilter] = Field(default_factory=list, max_length=20)


class RuleUpdate(_Strict):
    name: str | None = Field(None, min_length=1, max_length=255)
    enabled: bool | None = None
    include_project_total: bool | None = None
    include_event_types: bool | None = None
    include_events: bool | None = None
    include_schema_drifts: bool | None = None
    include_distribution_drifts: bool | None = None
    include_release_regressions: bool | None = None
    notify_on_spike: bool | None = None
    notify_on_drop: bool | None = None
    ai_explanation_enabled: bool | None = None
    min_percent_delta: float | None = Field(None, ge=0, allow_inf_nan=False)
    min_absolute_delta: float | None = Field(None, ge=0, allow_inf_nan=False)
    min_expected_count: float | None = Field(None, ge=0, allow_inf_nan=False)
    cooldown_minutes: int | None = Field(None, ge=1, le=525600)
    message_template: str | None = Field(None, max_length=10000, description="null: back to the default.")
    items_template: str | None = Field(None, max_length=10000, description="null: back to the default.")
    message_format: AlertMessageFormat | None = None
    filters: list[RuleFilter] | None = None


class RuleResponse(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    destination_id: uuid.UUID
    name: str
    enabled: bool
    include_project_total: bool
    include_event_types: bool
    include_events: bool
    include_schema_drifts: bool
    include_distribution_drifts: bool
    include_release_regressions: bool
    notify_on_spike: bool
    notify_on_drop: bool
    ai_explanation_enabled: bool
    min_percent_delta: float
    min_absolute_delta: float
    min_expected_count: float
    cooldown_minutes: int
    message_template: str | None = None
    items_template: str | None = None
    message_format: AlertMessageFormat
    filters: list[RuleFilter]
    muted_until: datetime | None = None
    created_at: datetime
    updated_at: datetime


class DestinationResponse(BaseModel):
    id: uuid.UUID
    project_id: uuid.UUID
    type: DestinationType
    name: str
    enabled: bool
    webhook_set: bool
    bot_token_set: bool
    chat_id: str | None = None
    target_url_set: bool
    webhook_header_name: str | None = None
    webhook_header_value_set: bool
    email_recipients: str | None = None
    email_from_address: str | None = None
    email_subject_template: str | None = None
    jira_base_url: str | None = None
    jira_auth_email: str | None = None
    jira_api_token_set: bool
    jira_project_key: str | None = None
    jira_issue_type: str | None = None
    linear_api_key_set: bool
    linear_team_id: str | None = None
    linear_state_id: str | None = None
    linear_label_ids: str | None = None
    rules: list[RuleResponse]
    created_at: datetime
    updated_at: datetime


DeliveryStatusName = Literal["pending", "sent", "failed"]


class AlertItemFields(BaseModel):
    """What an alert says about one finding: shared by delivered and simulated items."""

    kind: str
    finding_id: uuid.UUID | None = None
    scope_type: str
    scope_ref: uuid.UUID | None = None
    scope_name: str | None = None
    direction: str | None = None
    bucket: datetime | None = None
    actual: float | None = None
    expected: float | None = None
    z: float | None = None
    summary: str | None = None


class DeliveryItemResponse(AlertItemFields):
    id: uuid.UUID
    correlation_group_id: uuid.UUID | None = None
    data: dict[str, Any] = Field(default_factory=dict, description="The item as the message template saw it.")


class DeliveryResponse(BaseModel):
    id: uuid.UUID
    project_id: uuid.UUID
    scan_config_id: uuid.UUID | None = None
    scan_job_id: uuid.UUID | None = None
    destination_id: uuid.UUID | None = None
    rule_id: uuid.UUID | None = None
    destination_name: str
    rule_name: str
    scan_name: str | None = None
    status: DeliveryStatusName
    channel: DestinationType
    matched_count: int
    payload_snapshot: dict[str, Any]
    error_message: str | None = None
    attempts: int
    next_attempt_at: datetime | None = Field(None, description="When the next automatic retry is due.")
    external_id: str | None = Field(None, description="Slack ts, Jira key, Linear identifier, email Message-ID…")
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None = None
    items: list[DeliveryItemResponse] = Field(default_factory=list)


class DeliveryList(BaseModel):
    items: list[DeliveryResponse]
    total: int


MonitorStatus = Literal["firing", "warning", "healthy", "muted"]


class MonitorResponse(BaseModel):
    rule_id: uuid.UUID
    rule_name: str
    destination_id: uuid.UUID
    destination_name: str
    destination_type: str
    enabled: bool
    status: MonitorStatus
    active_scope_count: int
    firing_scope_count: int
    last_anomaly_at: datetime | None = None
    last_notified_at: datetime | None = None
    notify_on_spike: bool
    notify_on_drop: bool
    min_percent_delta: float
    min_expected_count: float
    cooldown_minutes: int
    muted: bool = False
    muted_until: datetime | None = None
    rule_enabled: bool
    destination_enabled: bool
    include_project_total: bool
    include_event_types: bool
    include_events: bool
    include_schema_drifts: bool
    include_distribution_drifts: bool
    include_release_regressions: bool
    total_deliveries: int
    last_delivery_at: datetime | None = None
    last_delivery_status: DeliveryStatusName | None = None


class MonitorsSummary(BaseModel):
    monitors: list[MonitorResponse]
    firing_count: int
    warning_count: int
    healthy_count: int
    muted_count: int = 0
    total: int


class MuteRequest(_Strict):
    muted_until: datetime = Field(description="In the future.")


class SimulatedItem(AlertItemFields):
    """An item the rule would have sent (no delivery exists for it)."""


class SimulatedFiring(BaseModel):
    fired_at: datetime
    scan_config_id: uuid.UUID | None = None
    scan_name: str | None = None
    item_count: int
    items: list[SimulatedItem]


class SimulationResponse(BaseModel):
    rule_id: uuid.UUID
    rule_name: str
    days: int
    window_from: datetime
    window_to: datetime
    anomalies_considered: int
    matched_before_cooldown: int
    firings: list[SimulatedFiring]
    noisy: bool
    cooldown_minutes_used: int
    cooldown_minutes_saved: int = Field(description="0 unless noisy: the cooldown that would silence the noise.")
    rendered_message: str | None = None
    firings_per_day: float
    noisy_threshold_per_day: float


GroupStatusName = Literal["open", "acknowledged", "resolved", "muted", "false_positive"]


class InboxGroupResponse(BaseModel):
    correlation_group_id: uuid.UUID
    status: GroupStatusName
    muted_until: datetime | None = None
    note: str | None = None
    false_positive_count: int
    item_count: int
    delivery_count: int
    latest_bucket: datetime | None = None
    latest_delivery_at: datetime | None = None
    direction: str | None = None
    kind: str
    scope_names: list[str]
    destination_names: list[str]
    rule_names: list[str]
    scan_names: list[str]
    acted_at: datetime | None = None
    acted_by: uuid.UUID | None = None


class InboxList(BaseModel):
    items: list[InboxGroupResponse]
    total: int


class InboxActionRequest(_Strict):
    action: Literal["acknowledge", "resolve", "mute", "reopen", "false_positive"]
    note: str | None = Field(None, max_length=10000)
    muted_until: datetime | None = Field(None, description="Required with action mute; in the future.")
