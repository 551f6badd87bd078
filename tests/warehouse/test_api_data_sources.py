"""Data-sources tag: CRUD, roles, write-only secrets, connection test, schema, delete guard."""

from __future__ import annotations

import json
import logging

import pytest
from sqlalchemy import select, text

from tests.warehouse.helpers import (
    DS,
    chdb_source,
    create_source,
    error_loc,
    pg_source,
    scans_url,
    unreachable_pg,
)
from tripl_core.db.models.audit import AuditEntry

SECRET = "hunter2-very-secret"
KEY_MATERIAL = "-----BEGIN PRIVATE KEY-----MIIEvQIBADANBgkq-----END PRIVATE KEY-----"


def test_create_defaults_and_read_by_every_role(owner, editor, viewer, chdb_host):
    ds = chdb_source(owner, chdb_host)
    assert ds["port"] == 8123 and ds["username"] == "" and ds["password_set"] is False
    assert ds["timeout_seconds"] == 30 and ds["extra_params"] == {} and ds["last_test_at"] is None
    for client in (owner, editor, viewer):
        assert [d["id"] for d in client.get(DS).json()] == [ds["id"]]
        assert client.get(f"{DS}/{ds['id']}").json()["name"] == "embedded ch"


def test_port_defaults_to_the_engines_port_unless_given(owner):
    pg = create_source(owner, name="a", db_type="postgres", host="db.internal", database_name="w")
    assert pg["port"] == 5432
    explicit = create_source(owner, name="b", db_type="postgres", host="db.internal", port=8123,
                             database_name="w")
    assert explicit["port"] == 8123


def test_only_the_owner_manages_sources(owner, editor, viewer, chdb_host):
    body = {"name": "x", "db_type": "clickhouse", "host": chdb_host, "database_name": "default"}
    for client in (editor, viewer):
        assert client.post(DS, json=body).status_code == 403
    ds = chdb_source(owner, chdb_host)
    for client in (editor, viewer):
        assert client.patch(f"{DS}/{ds['id']}", json={"name": "y"}).status_code == 403
        assert client.delete(f"{DS}/{ds['id']}").status_code == 403
        assert client.post(f"{DS}/{ds['id']}/test").status_code == 403


@pytest.mark.parametrize(("patch", "field"), [
    ({"db_type": "mysql"}, "db_type"),
    ({"name": ""}, "name"),
    ({"name": "n" * 256}, "name"),
    ({"host": ""}, "host"),
    ({"host": "h" * 501}, "host"),
    ({"port": 0}, "port"),
    ({"port": 65536}, "port"),
    ({"database_name": ""}, "database_name"),
    ({"timeout_seconds": 0}, "timeout_seconds"),
    ({"extra_params": [1, 2]}, "extra_params"),
    ({"db_type": "postgres", "host": "chdb:///tmp/x"}, "host"),
    ({"db_type": "bigquery", "extra_params": {"api_endpoint": "ftp://x"}}, "extra_params"),
    # BigQuery names are spliced into table paths: refused when saved, not at the first query (a 502 before)
    ({"db_type": "bigquery", "host": "my project"}, "host"),
    ({"db_type": "bigquery", "database_name": "events`; --"}, "database_name"),
    ({"db_type": "bigquery", "extra_params": {"project": "a/b"}}, "extra_params"),
    ({"db_type": "bigquery", "extra_params": {"project": 7}}, "extra_params"),
    ({"db_type": "bigquery", "host": "bad host", "extra_params": {"project": ""}}, "host"),
])
def test_invalid_input_names_the_field(owner, patch, field):
    body = {"name": "src", "db_type": "clickhouse", "host": "ch.internal", "database_name": "default", **patch}
    r = owner.post(DS, json=body)
    assert r.status_code == 422, r.text
    assert field in error_loc(r)


def test_switching_to_bigquery_checks_the_stored_names(owner):
    ds = owner.post(DS, json={"name": "pg", "db_type": "postgres", "host": "db.internal",
                              "database_name": "my events"}).json()
    r = owner.patch(f"{DS}/{ds['id']}", json={"db_type": "bigquery"})
    assert r.status_code == 422 and "database_name" in error_loc(r)
    assert owner.get(f"{DS}/{ds['id']}").json()["db_type"] == "postgres"
    r = owner.patch(f"{DS}/{ds['id']}", json={"db_type": "bigquery", "database_name": "events",
                                             "host": "acme.com:analytics"})
    assert r.status_code == 200, r.text
    # extra_params.project names the project instead of host; "" means unset, as the adapter reads it
    r = owner.patch(f"{DS}/{ds['id']}", json={"host": "bigquery.googleapis.com", "extra_params": {"project": ""}})
    assert r.status_code == 200, r.text


def test_missing_required_fields_are_422(owner):
    for missing in ("name", "db_type", "host", "database_name"):
        body = {"name": "s", "db_type": "clickhouse", "host": "h", "database_name": "d"}
        body.pop(missing)
        r = owner.post(DS, json=body)
        assert r.status_code == 422 and missing in error_loc(r)


def test_duplicate_name_is_409(owner, chdb_host):
    chdb_source(owner, chdb_host)
    r = owner.post(DS, json={"name": "embedded ch", "db_type": "clickhouse", "host": "h", "database_name": "d"})
    assert r.status_code == 409


def test_unknown_source_is_404(owner):
    assert owner.get(f"{DS}/00000000-0000-0000-0000-000000000000").status_code == 404
    assert owner.get(f"{DS}/not-a-uuid").status_code == 422


def test_secrets_are_write_only_everywhere(owner, db, caplog):
    caplog.set_level(logging.DEBUG)
    creds = json.dumps({"type": "service_account", "private_key": KEY_MATERIAL})
    ds = create_source(owner, name="bq", db_type="bigquery", host="proj", database_name="ds", password=SECRET,
                       extra_params={"location": "EU", "credentials_json": creds, "api_endpoint": "http://127.0.0.1:1"})
    assert ds["password_set"] is True
    assert ds["extra_params"] == {"location": "EU", "api_endpoint": "http://127.0.0.1:1",
                                  "credentials_json_set": True}
    tested = owner.post(f"{DS}/{ds['id']}/test").json()
    assert tested["success"] is False
    updated = owner.patch(f"{DS}/{ds['id']}", json={"password": SECRET + "2", "extra_params": {"token": SECRET}})
    assert updated.json()["extra_params"]["token_set"] is True
    bodies = [owner.get(DS).text, owner.get(f"{DS}/{ds['id']}").text, updated.text, json.dumps(tested),
              owner.get("/api/v1/audit").text]
    audit_rows = db.scalars(select(AuditEntry).where(AuditEntry.target_type == "data_source")).all()
    assert {a.action for a in audit_rows} >= {"data_source.create", "data_source.test", "data_source.update"}
    stored = db.execute(text("select password_encrypted, extra_secrets_encrypted, extra_params::text "
                             "from data_sources")).one()
    for haystack in [*bodies, caplog.text, *(json.dumps([a.before, a.after, a.message]) for a in audit_rows),
                     *stored]:
        assert SECRET not in haystack and "MIIEvQIBADANBgkq" not in haystack


def test_password_patch_semantics(owner):
    ds = create_source(owner, name="p", db_type="postgres", host="h", database_name="d", password="x1")
    url = f"{DS}/{ds['id']}"
    assert owner.patch(url, json={"password": None}).json()["password_set"] is True
    assert owner.patch(url, json={"name": "p2"}).json()["password_set"] is True
    assert owner.patch(url, json={"password": ""}).json()["password_set"] is False
    assert owner.patch(url, json={"password": "new"}).json()["password_set"] is True


def test_extra_params_merge_and_remove(owner):
    ds = create_source(owner, name="e", db_type="bigquery", host="p", database_name="d",
                       extra_params={"location": "EU", "credentials_json": "{}"})
    url = f"{DS}/{ds['id']}"
    r = owner.patch(url, json={"extra_params": {"location": None, "api_endpoint": "https://bq.example"}})
    assert r.json()["extra_params"] == {"api_endpoint": "https://bq.example", "credentials_json_set": True}
    r = owner.patch(url, json={"extra_params": {"credentials_json": None, "credentials_json_set": True}})
    assert r.json()["extra_params"] == {"api_endpoint": "https://bq.example"}


def test_connection_test_success_is_stored(owner, viewer, ch_adapter, chdb_host, pg_warehouse):
    for ds in (chdb_source(owner, chdb_host), pg_source(owner, pg_warehouse)):
        r = owner.post(f"{DS}/{ds['id']}/test")
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["success"] is True and body["message"].startswith("Connected to")
        assert body["data_source"]["last_test_status"] == "success"
        assert body["data_source"]["last_test_at"] == body["tested_at"]
        assert viewer.get(f"{DS}/{ds['id']}").json()["last_test_message"] == body["message"]


def test_connection_failures_are_results_not_errors(owner):
    down = unreachable_pg(owner, password=SECRET)
    body = owner.post(f"{DS}/{down['id']}/test").json()
    assert body["success"] is False and body["data_source"]["last_test_status"] == "failed"
    assert "refused" in body["message"].lower() or "connect" in body["message"].lower()
    assert SECRET not in json.dumps(body)
    ch_down = create_source(owner, name="ch down", db_type="clickhouse", host="127.0.0.1", port=1,
                            database_name="default", timeout_seconds=2)
    body = owner.post(f"{DS}/{ch_down['id']}/test").json()
    assert body["success"] is False and body["message"]


def test_wrong_database_fails_with_the_drivers_message(owner, pg_warehouse):
    ds = pg_source(owner, {**pg_warehouse, "database": "no_such_db"})
    body = owner.post(f"{DS}/{ds['id']}/test").json()
    assert body["success"] is False and "no_such_db" in body["message"]


def test_changing_connection_settings_clears_the_last_test(owner, chdb_host, ch_adapter):
    ds = chdb_source(owner, chdb_host)
    owner.post(f"{DS}/{ds['id']}/test")
    r = owner.patch(f"{DS}/{ds['id']}", json={"timeout_seconds": 5})
    assert r.json()["last_test_status"] is None and r.json()["timeout_seconds"] == 5
    r = owner.post(f"{DS}/{ds['id']}/test")
    assert owner.patch(f"{DS}/{ds['id']}", json={"name": "renamed"}).json()["last_test_status"] == "success"


def test_schema_lists_tables_and_typed_columns(viewer, owner, ch_adapter, chdb_host, pg_warehouse):
    ch = chdb_source(owner, chdb_host)
    tables = {t["name"]: t for t in viewer.get(f"{DS}/{ch['id']}/schema").json()["tables"]}
    assert {c["name"]: c["type"] for c in tables["events"]["columns"]}["amount"] == "Nullable(Float64)"
    pg = pg_source(owner, pg_warehouse)
    tables = {t["name"]: t for t in viewer.get(f"{DS}/{pg['id']}/schema").json()["tables"]}
    cols = {c["name"]: c for c in tables["events"]["columns"]}
    assert cols["ts"]["type"] == "timestamp with time zone" and cols["ts"]["nullable"] is False
    assert cols["props"]["type"] == "jsonb" and tables["events"]["schema"] == "public"


def test_schema_of_an_unreachable_source_is_502(owner):
    down = unreachable_pg(owner)
    r = owner.get(f"{DS}/{down['id']}/schema")
    assert r.status_code == 502 and "did not answer" in r.json()["detail"]


def test_delete_is_refused_while_scan_configs_use_the_source(owner, project, ch_adapter, chdb_host):
    ds = chdb_source(owner, chdb_host)
    cfg = owner.post(scans_url(), json={"data_source_id": ds["id"], "name": "raw", "base_query": "SELECT * FROM events"})
    assert cfg.status_code == 201, cfg.text
    r = owner.delete(f"{DS}/{ds['id']}")
    assert r.status_code == 409 and "raw" in r.json()["detail"]
    assert owner.delete(f"{scans_url()}/{cfg.json()['id']}").status_code == 204
    assert owner.delete(f"{DS}/{ds['id']}").status_code == 204
    assert owner.get(f"{DS}/{ds['id']}").status_code == 404
