"""Destinations: per-type validation (422 naming the field), write-only secrets, update semantics, rules listed."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.alerting_api.helpers import BASE

URL = f"{BASE}/alerts/destinations"
SECRETS = {"webhook_url": "https://hooks.slack.com/services/T000/B000/XXXXSECRET",
           "bot_token": "123456:AAsecret-bot-token", "target_url": "https://example.com/hook?token=SECRET",
           "webhook_header_value": "Bearer SECRET-HEADER", "jira_api_token": "JIRA-SECRET",
           "linear_api_key": "lin_api_SECRET"}

VALID = {
    "slack": {"webhook_url": SECRETS["webhook_url"]},
    "telegram": {"bot_token": SECRETS["bot_token"], "chat_id": "-1001234567890"},
    "webhook": {"target_url": SECRETS["target_url"], "webhook_header_name": "Authorization",
                "webhook_header_value": SECRETS["webhook_header_value"]},
    "email": {"email_recipients": "a@example.com, b@example.com", "email_from_address": "tripl@example.com",
              "email_subject_template": "[{{ project.name }}] {{ counts.total }} alerts"},
    "jira": {"jira_base_url": "https://acme.atlassian.net", "jira_auth_email": "bot@acme.com",
             "jira_api_token": SECRETS["jira_api_token"], "jira_project_key": "DATA", "jira_issue_type": "Bug"},
    "linear": {"linear_api_key": SECRETS["linear_api_key"], "linear_team_id": "team-1", "linear_state_id": "s-1",
               "linear_label_ids": "l-1,l-2"},
}


def _no_secret(payload: str) -> None:
    for value in SECRETS.values():
        assert value not in payload


@pytest.mark.parametrize("dtype", list(VALID))
def test_create_each_type_secrets_write_only(owner, project, dtype, db):
    r = owner.post(URL, json={"type": dtype, "name": f"{dtype} dest", **VALID[dtype]})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["type"] == dtype and body["enabled"] is True and body["rules"] == []
    _no_secret(r.text)
    expected_flags = {"slack": "webhook_set", "telegram": "bot_token_set", "webhook": "target_url_set",
                      "jira": "jira_api_token_set", "linear": "linear_api_key_set"}
    if dtype in expected_flags:
        assert body[expected_flags[dtype]] is True
    for name in ("webhook_url", "bot_token", "target_url", "webhook_header_value", "jira_api_token",
                 "linear_api_key"):
        assert name not in body
    # Every read path hides them too, and the database holds ciphertext only.
    _no_secret(owner.get(URL).text)
    _no_secret(owner.get(f"{URL}/{body['id']}").text)
    _no_secret(owner.get("/api/v1/audit").text)
    row = db.execute(text("SELECT * FROM alert_destinations WHERE id = :i"), {"i": body["id"]}).mappings().one()
    _no_secret(str(dict(row)))


@pytest.mark.parametrize(("dtype", "body", "field"), [
    ("slack", {}, "webhook_url"),
    ("slack", {"webhook_url": "ftp://x"}, "webhook_url"),
    ("telegram", {"chat_id": "-100123"}, "bot_token"),
    ("telegram", {"bot_token": "123456:AAx", "chat_id": "not a chat"}, "chat_id"),
    ("webhook", {}, "target_url"),
    ("webhook", {"target_url": "notaurl"}, "target_url"),
    ("webhook", {"target_url": "https://x.example", "webhook_header_name": "Bad Header",
                 "webhook_header_value": "v"}, "webhook_header_name"),
    ("email", {}, "email_recipients"),
    ("email", {"email_recipients": "not-an-address"}, "email_recipients"),
    ("email", {"email_recipients": "a@example.com", "email_subject_template": "{{ rule.nmae }}"},
     "email_subject_template"),
    ("email", {"email_recipients": "a@example.com", "email_subject_template": "{{ ''.__class__ }}"},
     "email_subject_template"),
    ("jira", {"jira_base_url": "https://acme.atlassian.net", "jira_auth_email": "a@acme.com",
              "jira_api_token": "t"}, "jira_project_key"),
    ("linear", {"linear_team_id": "t"}, "linear_api_key"),
    # tokens that travel in an Authorization header: printable ASCII only
    ("slack", {"bot_token": "xoxb-\u2019", "chat_id": "C0123"}, "bot_token"),
    ("slack", {"bot_token": "xoxb-1\n2", "chat_id": "C0123"}, "bot_token"),
    ("linear", {"linear_api_key": "lin_api_\u00e9", "linear_team_id": "5c1b3a9e-3c2b-4a57-9b7d-2f5a7c1e4d10"},
     "linear_api_key"),
])
def test_validation_names_the_field(owner, project, dtype, body, field):
    r = owner.post(URL, json={"type": dtype, "name": "d", **body})
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"][-1] == field


@pytest.mark.parametrize(("body", "field"), [
    ({"type": "pager", "name": "x"}, "type"),
    ({"type": "slack", "webhook_url": "https://x.example"}, "name"),
    ({"type": "slack", "name": "", "webhook_url": "https://x.example"}, "name"),
    ({"type": "slack", "name": "x", "webhook_url": "https://x.example", "surprise": 1}, "surprise"),
])
def test_schema_validation(owner, project, body, field):
    r = owner.post(URL, json=body)
    assert r.status_code == 422
    assert field in r.json()["detail"][0]["loc"]


def test_update_keeps_clears_and_replaces_secrets(owner, project, db):
    dest = owner.post(URL, json={"type": "webhook", "name": "w", **VALID["webhook"]}).json()
    r = owner.patch(f"{URL}/{dest['id']}", json={"name": "renamed", "target_url": None})
    assert r.status_code == 200 and r.json()["name"] == "renamed" and r.json()["target_url_set"] is True
    r = owner.patch(f"{URL}/{dest['id']}", json={"webhook_header_name": None, "webhook_header_value": ""})
    assert r.status_code == 200, r.text
    assert r.json()["webhook_header_name"] is None and r.json()["webhook_header_value_set"] is False
    # Clearing the one required secret is refused, naming it; nothing is stored.
    r = owner.patch(f"{URL}/{dest['id']}", json={"target_url": ""})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "target_url"
    assert owner.get(f"{URL}/{dest['id']}").json()["target_url_set"] is True
    r = owner.patch(f"{URL}/{dest['id']}", json={"target_url": "https://new.example/hook", "enabled": False})
    assert r.status_code == 200 and r.json()["enabled"] is False
    from tripl_core.alerting import destinations
    from tripl_core.db.models.alerting import AlertDestination

    row = db.get(AlertDestination, dest["id"])
    db.refresh(row)
    assert destinations.secret(row, "target_url") == "https://new.example/hook"


def test_type_cannot_change_and_unknown_is_404(owner, project):
    dest = owner.post(URL, json={"type": "slack", "name": "s", **VALID["slack"]}).json()
    r = owner.patch(f"{URL}/{dest['id']}", json={"type": "webhook"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "type"
    assert owner.get(f"{URL}/00000000-0000-0000-0000-000000000000").status_code == 404
    assert owner.get(f"{URL}/not-a-uuid").status_code == 422


def test_destination_lists_rules_and_delete_cascades(owner, project, make_rule):
    dest = owner.post(URL, json={"type": "slack", "name": "s", **VALID["slack"]}).json()
    make_rule(dest, name="b rule")
    make_rule(dest, name="a rule")
    got = owner.get(f"{URL}/{dest['id']}").json()
    assert [r["name"] for r in got["rules"]] == ["a rule", "b rule"]
    assert [r["name"] for r in owner.get(URL).json()[0]["rules"]] == ["a rule", "b rule"]
    assert owner.delete(f"{URL}/{dest['id']}").status_code == 204
    assert owner.get(f"{URL}/{dest['id']}").status_code == 404
    assert owner.get(f"{BASE}/alerts/monitors").json()["total"] == 0


def test_roles(owner, viewer, editor, project):
    r = viewer.post(URL, json={"type": "slack", "name": "s", **VALID["slack"]})
    assert r.status_code == 403
    r = editor.post(URL, json={"type": "slack", "name": "s", **VALID["slack"]})
    assert r.status_code == 201
    assert viewer.get(URL).status_code == 200
    assert viewer.delete(f"{URL}/{r.json()['id']}").status_code == 403


def test_other_projects_destination_is_404(owner, project):
    dest = owner.post(URL, json={"type": "slack", "name": "s", **VALID["slack"]}).json()
    r = owner.post("/api/v1/projects", json={"name": "Other", "slug": "other"})
    assert r.status_code == 201
    assert owner.get(f"/api/v1/projects/other/alerts/destinations/{dest['id']}").status_code == 404
