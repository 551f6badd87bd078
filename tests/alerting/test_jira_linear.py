"""Jira REST create-issue and Linear GraphQL issueCreate against local servers."""

from __future__ import annotations

import base64
import time

import pytest

from tests.alerting.helpers import make_message
from tripl_core.alerting.channels import DestinationConfig, send_alert, validate_destination
from tripl_core.alerting.channels.linear import ISSUE_CREATE
from tripl_core.errors import Invalid


def jira_cfg(server, **extra) -> DestinationConfig:
    fields = {"type": "jira", "jira_base_url": f"{server.url}/", "jira_auth_email": "bot@shop.io",
              "jira_api_token": "atl-token", "jira_project_key": "DATA", **extra}
    return DestinationConfig(**fields)


def text_of(adf: dict) -> str:
    return "".join(n.get("text", "\n" if n["type"] == "hardBreak" else "")
                   for p in adf["content"] for n in p["content"])


def test_jira_v3_creates_issue_with_adf(server, settings):
    server.reply(201, {"id": "10001", "key": "DATA-42", "self": f"{server.url}/rest/api/3/issue/10001"})
    msg = make_message()
    result = send_alert(jira_cfg(server), msg, settings)
    assert result.ok and result.status_code == 201 and result.external_id == "DATA-42"
    req = server.last
    assert (req.method, req.path) == ("POST", "/rest/api/3/issue")
    assert req.headers["authorization"] == "Basic " + base64.b64encode(b"bot@shop.io:atl-token").decode()
    assert req.headers["accept"] == "application/json"
    fields = req.json()["fields"]
    assert fields["project"] == {"key": "DATA"}
    assert fields["issuetype"] == {"name": "Task"}
    assert fields["summary"] == msg.subject
    assert fields["labels"] == ["tripl", "tripl-schema-drift", "tripl-volume"]
    doc = fields["description"]
    assert doc["type"] == "doc" and doc["version"] == 1
    assert "↓ checkout.purchase 120 vs ~480 expected" in text_of(doc)
    links = [m["attrs"]["href"] for p in doc["content"] for n in p["content"] for m in n.get("marks", [])
             if m["type"] == "link"]
    assert "https://tripl.example/p/shop-app/deliveries/1" in links
    assert all(n.get("text", "x") for p in doc["content"] for n in p["content"])  # ADF: no empty text nodes


def test_jira_v2_and_issue_type_id(server, settings):
    server.reply(201, {"id": "1", "key": "DATA-1"})
    v2 = settings.model_copy(update={"jira_api_version": 2})
    result = send_alert(jira_cfg(server, jira_issue_type="10004"), make_message(project={"name": "{noformat}x"}), v2)
    assert result.ok
    req = server.last
    assert req.path == "/rest/api/2/issue"
    fields = req.json()["fields"]
    assert fields["issuetype"] == {"id": "10004"}
    description = fields["description"]
    assert description.startswith("{noformat}\n") and description.count("{noformat}") == 2


def test_jira_400_names_the_field_and_is_not_retryable(server, settings):
    server.reply(400, {"errorMessages": [], "errors": {"issuetype": "Specify a valid issue type"}})
    result = send_alert(jira_cfg(server, jira_issue_type="Bogus"), make_message(), settings)
    assert not result.ok and not result.retryable and result.status_code == 400
    assert "issuetype: Specify a valid issue type" in result.error


def test_jira_429_and_503_retryable(server, settings):
    server.reply(429, {"errorMessages": ["Rate limit exceeded."]}, {"Retry-After": "12"})
    server.reply(503, "down", {"Content-Type": "text/plain"})
    limited = send_alert(jira_cfg(server), make_message(), settings)
    down = send_alert(jira_cfg(server), make_message(), settings)
    assert limited.retryable and limited.retry_after_seconds == 12 and "Rate limit exceeded" in limited.error
    assert down.retryable and down.status_code == 503


def test_jira_timeout_retryable(server, settings):
    server.reply(201, {"key": "DATA-1"}, delay=2.5)
    result = send_alert(jira_cfg(server), make_message(), settings)
    assert not result.ok and result.retryable


@pytest.mark.parametrize(("fields", "field"), [
    ({"jira_base_url": None}, "jira_base_url"),
    ({"jira_base_url": "jira.example.com"}, "jira_base_url"),
    ({"jira_auth_email": "bot"}, "jira_auth_email"),
    ({"jira_api_token": ""}, "jira_api_token"),
    ({"jira_project_key": None}, "jira_project_key"),
    ({"jira_project_key": "data ops"}, "jira_project_key"),
    ({"jira_issue_type": "  "}, "jira_issue_type"),
])
def test_jira_validation_names_the_field(fields, field):
    base = {"type": "jira", "jira_base_url": "https://shop.atlassian.net", "jira_auth_email": "bot@shop.io",
            "jira_api_token": "t", "jira_project_key": "DATA"}
    with pytest.raises(Invalid) as exc:
        validate_destination({**base, **fields})
    assert exc.value.loc[-1] == field


TEAM = "9cfb482a-81e3-4154-b5b9-2c805e70a02d"


def linear_cfg(**extra) -> DestinationConfig:
    return DestinationConfig(**{"type": "linear", "linear_api_key": "lin_api_key", "linear_team_id": TEAM,
                                **extra})


def test_linear_issue_create(server, settings):
    server.reply(200, {"data": {"issueCreate": {"success": True, "issue": {
        "id": "a1", "identifier": "DAT-7", "url": "https://linear.app/x/issue/DAT-7"}}}})
    msg = make_message(project={"name": "Shop *bold* [x](y)", "slug": "s"})
    result = send_alert(linear_cfg(linear_state_id="st-1", linear_label_ids="lab-1, lab-2"), msg, settings)
    assert result.ok and result.external_id == "DAT-7"
    req = server.last
    assert (req.method, req.path) == ("POST", "/graphql")
    assert req.headers["authorization"] == "lin_api_key"
    body = req.json()
    assert body["query"] == ISSUE_CREATE
    data = body["variables"]["input"]
    assert data["teamId"] == TEAM and data["stateId"] == "st-1" and data["labelIds"] == ["lab-1", "lab-2"]
    assert data["title"] == "[tripl] 2 alerts in Shop *bold* [x](y): Checkout volume"
    assert "Shop \\*bold\\* \\[x\\]\\(y\\)" in data["description"]
    assert "[Open in tripl](<https://tripl.example/p/shop-app/deliveries/1>)" in data["description"]


def test_linear_optional_fields_omitted(server, settings):
    server.reply(200, {"data": {"issueCreate": {"success": True, "issue": {"id": "a1", "identifier": "D-1"}}}})
    send_alert(linear_cfg(), make_message(), settings)
    assert set(server.last.json()["variables"]["input"]) == {"teamId", "title", "description"}


def test_linear_graphql_errors_classified(server, settings):
    reset_ms = int((time.time() + 30) * 1000)
    server.reply(400, {"errors": [{"message": "Rate limit exceeded", "extensions": {"code": "RATELIMITED"}}]},
                 {"X-RateLimit-Requests-Reset": str(reset_ms)})
    server.reply(200, {"errors": [{"message": "Authentication required, not authenticated",
                                   "extensions": {"code": "AUTHENTICATION_ERROR"}}]})
    server.reply(200, {"data": {"issueCreate": {"success": False, "issue": None}}})
    server.reply(500, "oops", {"Content-Type": "text/plain"})
    limited, auth, unsuccessful, down = (send_alert(linear_cfg(), make_message(), settings) for _ in range(4))
    assert not limited.ok and limited.retryable and 25 <= limited.retry_after_seconds <= 31
    assert "RATELIMITED" in limited.error
    assert not auth.ok and not auth.retryable and "AUTHENTICATION_ERROR" in auth.error
    assert not unsuccessful.ok and not unsuccessful.retryable and "success: false" in unsuccessful.error
    assert not down.ok and down.retryable and down.status_code == 500


def test_linear_connection_refused(settings, closed_port):
    refused = settings.model_copy(update={"linear_api_url": f"http://127.0.0.1:{closed_port}/graphql"})
    result = send_alert(linear_cfg(), make_message(), refused)
    assert not result.ok and result.retryable


@pytest.mark.parametrize(("fields", "field"), [
    ({"linear_api_key": None}, "linear_api_key"),
    ({"linear_team_id": None}, "linear_team_id"),
    ({"linear_team_id": "team one"}, "linear_team_id"),
    ({"linear_state_id": "bad id!"}, "linear_state_id"),
    ({"linear_label_ids": "ok-1, bad id!"}, "linear_label_ids"),
])
def test_linear_validation_names_the_field(fields, field):
    with pytest.raises(Invalid) as exc:
        validate_destination({"type": "linear", "linear_api_key": "k", "linear_team_id": TEAM, **fields})
    assert exc.value.loc[-1] == field
