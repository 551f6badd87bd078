"""Linear GraphQL `issueCreate` (team, optional workflow state and labels), authenticated with an API key.

GraphQL reports most failures with HTTP 200/400 and an `errors` array whose `extensions.code` says what happened;
RATELIMITED (with the `X-RateLimit-Requests-Reset` epoch-ms header) and server errors are retryable, input and
authentication errors are not. The description is Markdown, so warehouse values are backslash-escaped.
"""

from __future__ import annotations

import re
import time
from typing import Any, ClassVar

import httpx

from tripl_core.alerting.channels.base import (
    DestinationConfig,
    SendResult,
    check_header_value,
    exception_failure,
    excerpt,
    http_client,
    is_retryable_status,
    parse_retry_after,
    require,
)
from tripl_core.alerting.escaping import escape_markdown
from tripl_core.alerting.message import RenderedMessage
from tripl_core.alerting.render import CHANNEL_TEXT_LIMITS, SUBJECT_LIMIT
from tripl_core.errors import Invalid
from tripl_core.settings import Settings

ISSUE_CREATE = (
    "mutation IssueCreate($input: IssueCreateInput!) { "
    "issueCreate(input: $input) { success issue { id identifier url } } }"
)
RETRYABLE_CODES = {"RATELIMITED", "INTERNAL_SERVER_ERROR", "SERVICE_UNAVAILABLE"}
_ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")
_SPLIT = re.compile(r"[,\s]+")


def label_ids(value: str | None) -> list[str]:
    """`linear_label_ids` is a comma-separated string in the reference."""
    return [v for v in _SPLIT.split(value or "") if v]


def description(message: RenderedMessage) -> str:
    """Markdown: each line escaped and kept as its own line (hard breaks), then the link and footer."""
    limit = CHANNEL_TEXT_LIMITS["linear"]
    lines = [escape_markdown(line) for line in message.plain_text[:limit].split("\n")]
    body = "  \n".join(lines)
    if message.url:
        body += f"\n\n[Open in tripl](<{message.url}>)"
    if message.footer:
        body += f"\n\n_{escape_markdown(message.footer)}_"
    return body


def issue_input(config: DestinationConfig, message: RenderedMessage) -> dict[str, Any]:
    data: dict[str, Any] = {
        "teamId": (config.linear_team_id or "").strip(),
        "title": " ".join(message.subject.split())[:SUBJECT_LIMIT],
        "description": description(message),
    }
    if config.linear_state_id and config.linear_state_id.strip():
        data["stateId"] = config.linear_state_id.strip()
    labels = label_ids(config.linear_label_ids)
    if labels:
        data["labelIds"] = labels
    return data


def _reset_after(headers: httpx.Headers) -> float | None:
    reset = headers.get("x-ratelimit-requests-reset")
    if reset and reset.isdigit():
        return max(0.0, int(reset) / 1000.0 - time.time())
    return parse_retry_after(headers.get("retry-after"))


class LinearSender:
    channel: ClassVar[str] = "linear"

    def validate(self, config: DestinationConfig) -> None:
        require(config, "linear_api_key")
        check_header_value(config, "linear_api_key")
        for field in ("linear_team_id", "linear_state_id"):
            value = getattr(config, field)
            if field == "linear_team_id":
                value = require(config, field)
            if value and not _ID.match(value.strip()):
                raise Invalid(field, "must be a Linear id (UUID)")
        for lid in label_ids(config.linear_label_ids):
            if not _ID.match(lid):
                raise Invalid("linear_label_ids", f"{lid!r} is not a Linear id: give comma-separated label ids")

    def send(self, config: DestinationConfig, message: RenderedMessage, settings: Settings) -> SendResult:
        key = (config.linear_api_key or "").strip()
        body = {"query": ISSUE_CREATE, "variables": {"input": issue_input(config, message)}}
        try:
            with http_client(settings) as client:
                # personal API keys go bare; OAuth tokens are pasted with their "Bearer " prefix
                resp = client.post(settings.linear_api_url, json=body, headers={"Authorization": key})
        except httpx.HTTPError as exc:
            return exception_failure(exc, "Linear request")
        try:
            data = resp.json()
        except ValueError:
            data = {}
        errors = data.get("errors") if isinstance(data, dict) else None
        result = ((data.get("data") or {}).get("issueCreate") or {}) if isinstance(data, dict) else {}
        if resp.status_code == 200 and not errors and result.get("success"):
            issue = result.get("issue") or {}
            return SendResult(ok=True, status_code=200, response_excerpt=excerpt(resp.text),
                              external_id=issue.get("identifier") or issue.get("id"))
        codes = {str((e.get("extensions") or {}).get("code", "")).upper() for e in errors or [] if isinstance(e, dict)}
        messages = "; ".join(str(e.get("message")) for e in errors or [] if isinstance(e, dict))
        retryable = bool(codes & RETRYABLE_CODES) or is_retryable_status(resp.status_code)
        reason = messages or ("issueCreate returned success: false" if resp.status_code == 200
                              else f"HTTP {resp.status_code}")
        return SendResult(
            ok=False, status_code=resp.status_code, response_excerpt=excerpt(resp.text),
            error=f"Linear: {reason}" + (f" ({', '.join(sorted(c for c in codes if c))})" if any(codes) else ""),
            retryable=retryable, retry_after_seconds=_reset_after(resp.headers) if retryable else None,
        )
