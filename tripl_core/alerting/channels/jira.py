"""Jira REST "create issue": `POST {jira_base_url}/rest/api/3/issue` with basic auth (email + API token).

Version 3 (Jira Cloud, the default) takes the description as Atlassian Document Format: structured JSON, so
warehouse values need no wiki-markup escaping and links are real link marks. `jira_api_version = 2` (Server/Data
Center) sends the text inside a `{noformat}` block for the same reason.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any, ClassVar

import httpx

from tripl_core.alerting.channels.base import (
    DestinationConfig,
    SendResult,
    check_http_url,
    exception_failure,
    excerpt,
    http_client,
    http_failure,
    require,
)
from tripl_core.alerting.message import RenderedMessage
from tripl_core.alerting.render import CHANNEL_TEXT_LIMITS, SUBJECT_LIMIT
from tripl_core.errors import Invalid
from tripl_core.settings import Settings

DEFAULT_ISSUE_TYPE = "Task"
_PROJECT_KEY = re.compile(r"^[A-Z][A-Z0-9_]{1,49}$")
_URL = re.compile(r"https?://[^\s<>\"]+")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _inline(line: str) -> list[dict[str, Any]]:
    """Text nodes of one line, URLs as link marks (ADF forbids empty text nodes)."""
    nodes: list[dict[str, Any]] = []
    pos = 0
    for m in _URL.finditer(line):
        if m.start() > pos:
            nodes.append({"type": "text", "text": line[pos:m.start()]})
        url = m.group().rstrip(").,;")
        nodes.append({"type": "text", "text": url, "marks": [{"type": "link", "attrs": {"href": url}}]})
        pos = m.start() + len(url)
    if pos < len(line):
        nodes.append({"type": "text", "text": line[pos:]})
    return nodes


def adf_document(text: str, url: str | None = None, footer: str = "") -> dict[str, Any]:
    """Plain text → ADF: blank lines separate paragraphs, single line breaks become hardBreak nodes."""
    content: list[dict[str, Any]] = []
    for para in re.split(r"\n\s*\n", text.strip()):
        nodes: list[dict[str, Any]] = []
        for i, line in enumerate(para.split("\n")):
            if i:
                nodes.append({"type": "hardBreak"})
            nodes.extend(_inline(line))
        if nodes:
            content.append({"type": "paragraph", "content": nodes})
    if url:
        content.append({"type": "paragraph", "content": [
            {"type": "text", "text": "Open in tripl", "marks": [{"type": "link", "attrs": {"href": url}}]}]})
    if footer:
        content.append({"type": "paragraph", "content": [
            {"type": "text", "text": footer, "marks": [{"type": "em"}]}]})
    return {"type": "doc", "version": 1, "content": content}


def wiki_description(text: str, url: str | None = None, footer: str = "") -> str:
    """Jira v2 wiki markup: text and footer verbatim in {noformat} (warehouse values cannot inject markup)."""
    body = (text + (f"\n\n{footer}" if footer else "")).replace("{noformat}", "{ noformat}")
    out = f"{{noformat}}\n{body}\n{{noformat}}"
    return out + (f"\nOpen in tripl: {url}" if url else "")


def label(value: str) -> str:
    """Jira labels cannot contain spaces."""
    return re.sub(r"\s+", "-", value.strip())[:255]


def issue_fields(config: DestinationConfig, message: RenderedMessage, version: int) -> dict[str, Any]:
    issue_type = (config.jira_issue_type or DEFAULT_ISSUE_TYPE).strip()
    limit = CHANNEL_TEXT_LIMITS["jira"]
    text = message.plain_text if len(message.plain_text) <= limit - 500 else message.plain_text[: limit - 501] + "…"
    return {
        "project": {"key": (config.jira_project_key or "").strip()},
        "issuetype": {"id": issue_type} if issue_type.isdigit() else {"name": issue_type},
        "summary": " ".join(message.subject.split())[:SUBJECT_LIMIT],
        "description": adf_document(text, message.url, message.footer) if version >= 3
        else wiki_description(text, message.url, message.footer),
        "labels": sorted({label(lb) for lb in message.labels if lb.strip()}),
    }


def _error_text(resp: httpx.Response) -> str | None:
    """Jira's `{"errorMessages": [...], "errors": {"field": "reason"}}` as one line."""
    try:
        data = resp.json()
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    messages, errors = data.get("errorMessages") or [], data.get("errors") or {}
    parts = [str(m) for m in messages] if isinstance(messages, list) else [str(messages)]
    # a proxy or a non-Jira server in front may answer any JSON: only Jira's dict is read field by field
    parts += [f"{k}: {v}" for k, v in errors.items()] if isinstance(errors, dict) else []
    return "; ".join(str(p) for p in parts) or None


class JiraSender:
    channel: ClassVar[str] = "jira"

    def validate(self, config: DestinationConfig) -> None:
        check_http_url(config, "jira_base_url")
        if not _EMAIL.match(require(config, "jira_auth_email")):
            raise Invalid("jira_auth_email", "must be the email address of the Atlassian account")
        require(config, "jira_api_token")
        if not _PROJECT_KEY.match(require(config, "jira_project_key")):
            raise Invalid("jira_project_key", "must be a Jira project key: capital letters, digits, _ (e.g. DATA)")
        if config.jira_issue_type is not None and not config.jira_issue_type.strip():
            raise Invalid("jira_issue_type", "must not be blank (leave it null for Task)")

    def send(self, config: DestinationConfig, message: RenderedMessage, settings: Settings) -> SendResult:
        version = settings.jira_api_version
        url = f"{(config.jira_base_url or '').rstrip('/')}/rest/api/{version}/issue"
        body = {"fields": issue_fields(config, message, version)}
        try:
            with http_client(settings) as client:
                resp = client.post(url, json=body, headers={"Accept": "application/json"},
                                   auth=((config.jira_auth_email or "").strip(), config.jira_api_token or ""))
        except httpx.HTTPError as exc:
            return exception_failure(exc, "Jira request")
        if resp.status_code in (200, 201):
            data = resp.json() if resp.content else {}
            return SendResult(ok=True, status_code=resp.status_code, response_excerpt=excerpt(resp.text),
                              external_id=data.get("key") or data.get("id"))
        failure = http_failure(resp.status_code, resp.text, resp.headers, "Jira")
        detail = _error_text(resp)
        if detail:
            return replace(failure, error=f"Jira answered HTTP {resp.status_code}: {detail}")
        return failure
