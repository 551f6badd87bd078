"""Scans tag, config part: scan-config CRUD with validation and the zero-row probe; preview jobs."""

from __future__ import annotations

import pytest

from tests.warehouse.helpers import chdb_source, error_loc, pg_source, scans_url, unreachable_pg, wait_job
from tripl_core.warehouse import BuiltQuery

FULL = {
    "name": "raw events", "base_query": "SELECT * FROM events", "time_column": "ts", "event_type_column": "event",
    "app_version_column": "app_version", "metric_breakdown_columns": ["country"],
    "distribution_drift_fields": ["amount", "props.price"], "json_value_paths": ["props.screen"],
    "event_name_format": "{event}.{props.screen}",
}


@pytest.fixture
def ch(owner, ch_adapter, chdb_host) -> dict:
    return chdb_source(owner, chdb_host)


def create(client, ds: dict, **body):
    return client.post(scans_url(), json={"data_source_id": ds["id"], **FULL, **body})


def test_create_with_defaults_and_verification(editor, project, ch):
    r = create(editor, ch)
    assert r.status_code == 201, r.text
    cfg = r.json()
    assert cfg["cardinality_threshold"] == 100 and cfg["interval"] == "15m" and cfg["replay_chunk_interval"] == "1h"
    assert cfg["event_group_rules"] == [] and cfg["event_type_id"] is None
    assert cfg["project_id"] == project["id"] and cfg["data_source_id"] == ch["id"]
    assert cfg["verification_status"] == "verified" and cfg["verified_at"]
    assert [c["name"] for c in cfg["probed_columns"]] == ["ts", "event", "country", "app_version", "amount", "props"]
    for key, value in FULL.items():
        assert cfg[key] == value
    assert [c["id"] for c in editor.get(scans_url()).json()] == [cfg["id"]]
    assert editor.get(f"{scans_url()}/{cfg['id']}").json()["name"] == "raw events"


def test_every_reference_field_round_trips(owner, project, ch):
    r = owner.post(f"/api/v1/projects/{project['slug']}/event-types",
                   json={"name": "screen", "display_name": "Screen"})
    assert r.status_code == 201, r.text
    body = {"event_type_id": r.json()["id"], "event_group_rules": [{"name": "checkout", "match": {"event": "e1"}}],
            "metric_breakdown_values_limit": 7, "cardinality_threshold": 5, "interval": "5m",
            "replay_chunk_interval": "1d", "scan_lookback_hours": 3, "scan_row_limit": 1000,
            "metrics_row_limit": 5000, "app_version_keep_releases": 4}
    cfg = create(owner, ch, **body).json()
    for key, value in body.items():
        assert cfg[key] == value


def test_viewer_reads_but_cannot_write(viewer, owner, project, ch):
    assert create(viewer, ch).status_code == 403
    cfg = create(owner, ch).json()
    assert viewer.get(f"{scans_url()}/{cfg['id']}").status_code == 200
    assert viewer.patch(f"{scans_url()}/{cfg['id']}", json={"name": "x"}).status_code == 403
    assert viewer.delete(f"{scans_url()}/{cfg['id']}").status_code == 403
    assert viewer.post(f"{scans_url()}/preview", json={"data_source_id": ch["id"], "base_query": "SELECT 1"}
                       ).status_code == 403


@pytest.mark.parametrize(("patch", "field"), [
    ({"cardinality_threshold": 0}, "cardinality_threshold"),
    ({"interval": "2m"}, "interval"),
    ({"replay_chunk_interval": "1w"}, "replay_chunk_interval"),
    ({"scan_lookback_hours": 0}, "scan_lookback_hours"),
    ({"scan_row_limit": 0}, "scan_row_limit"),
    ({"metrics_row_limit": -1}, "metrics_row_limit"),
    ({"metric_breakdown_values_limit": 0}, "metric_breakdown_values_limit"),
    ({"app_version_keep_releases": 0}, "app_version_keep_releases"),
    ({"name": ""}, "name"),
    ({"base_query": ""}, "base_query"),
    ({"data_source_id": "00000000-0000-0000-0000-000000000000"}, "data_source_id"),
    ({"event_type_id": "00000000-0000-0000-0000-000000000000"}, "event_type_id"),
    ({"event_group_rules": ["not an object"]}, "event_group_rules"),
    ({"event_group_rules": [{"name": ""}]}, "event_group_rules"),
    ({"time_column": "nope"}, "time_column"),
    ({"event_type_column": "nope"}, "event_type_column"),
    ({"app_version_column": "nope"}, "app_version_column"),
    ({"metric_breakdown_columns": ["country", "nope"]}, "metric_breakdown_columns"),
    ({"distribution_drift_fields": ["nope.x"]}, "distribution_drift_fields"),
    ({"json_value_paths": ["nope.screen"]}, "json_value_paths"),
    ({"json_value_paths": ["props.bad key"]}, "json_value_paths"),
    ({"event_name_format": "{nope}"}, "event_name_format"),
    ({"event_name_format": "no placeholders"}, "event_name_format"),
    ({"time_column": "props.ts"}, "time_column"),
    ({"base_query": "SELECT * FROM missing_table"}, "base_query"),
])
def test_invalid_config_names_the_field(owner, project, ch, patch, field):
    r = create(owner, ch, **patch)
    assert r.status_code == 422, r.text
    assert field in error_loc(r)


@pytest.mark.parametrize("hostile", [
    "SELECT 1; DROP TABLE events",
    "SELECT * FROM events; -- \nDROP TABLE events",
    "DROP TABLE events",
    "TRUNCATE TABLE events",
    "INSERT INTO events SELECT * FROM events",
    "ALTER TABLE events DELETE WHERE 1",
    "SELECT * FROM events /* */ ; DROP TABLE events",
    "SELECT * FROM file('/etc/passwd', 'CSV')",
    "SELECT * FROM system.tables",
])
def test_hostile_queries_are_refused_and_the_table_survives(owner, project, ch, ch_adapter, hostile):
    r = create(owner, ch, base_query=hostile, time_column=None, event_type_column=None, app_version_column=None,
               metric_breakdown_columns=[], distribution_drift_fields=[], json_value_paths=[],
               event_name_format=None)
    assert r.status_code == 422 and error_loc(r) == ["body", "base_query"]
    p = owner.post(f"{scans_url()}/preview", json={"data_source_id": ch["id"], "base_query": hostile})
    assert p.status_code == 422 and error_loc(p) == ["body", "base_query"]
    assert int(ch_adapter.query_df(BuiltQuery("SELECT count() AS n FROM events"))["n"].iloc[0]) == 2000


def test_unreachable_source_saves_unverified(owner, project):
    down = unreachable_pg(owner)
    r = create(owner, down)
    assert r.status_code == 201, r.text
    cfg = r.json()
    assert cfg["verification_status"] == "unverified" and "unreachable" in cfg["verification_message"]
    assert cfg["probed_columns"] is None and cfg["verified_at"] is None
    # static checks still apply without the warehouse
    assert create(owner, down, base_query="DELETE FROM events").status_code == 422
    assert create(owner, down, time_column="a b").status_code == 422


def test_update_semantics_and_reprobe(owner, project, ch):
    cfg = create(owner, ch).json()
    url = f"{scans_url()}/{cfg['id']}"
    r = owner.patch(url, json={"cardinality_threshold": None, "time_column": None, "interval": "1d"})
    assert r.status_code == 200, r.text
    assert r.json()["cardinality_threshold"] == 100 and r.json()["time_column"] is None
    assert r.json()["interval"] == "1d"
    r = owner.patch(url, json={"base_query": "SELECT ts, event FROM events"})
    assert r.status_code == 422 and error_loc(r) == ["body", "app_version_column"]  # not in the new output
    r = owner.patch(url, json={"base_query": "SELECT ts, event FROM events", "app_version_column": None,
                               "metric_breakdown_columns": [], "distribution_drift_fields": [],
                               "json_value_paths": [], "event_name_format": None})
    assert r.status_code == 200, r.text
    assert [c["name"] for c in r.json()["probed_columns"]] == ["ts", "event"]
    assert owner.patch(url, json={"interval": "7m"}).status_code == 422
    assert owner.patch(url, json={"metrics_row_limit": 0}).status_code == 422


def test_configs_are_per_project(owner, project, ch):
    cfg = create(owner, ch).json()
    other = owner.post("/api/v1/projects", json={"name": "Other", "slug": "other"})
    assert other.status_code == 201
    assert owner.get(scans_url("other")).json() == []
    assert owner.get(f"{scans_url('other')}/{cfg['id']}").status_code == 404
    assert owner.delete(f"/api/v1/projects/{project['slug']}").status_code == 204
    assert owner.get(scans_url("other")).json() == []


def test_delete_scan_config(editor, owner, project, ch):
    cfg = create(owner, ch).json()
    assert editor.delete(f"{scans_url()}/{cfg['id']}").status_code == 204
    assert editor.get(f"{scans_url()}/{cfg['id']}").status_code == 404


def test_preview_on_chdb_with_json_paths(editor, viewer, project, ch):
    r = editor.post(f"{scans_url()}/preview", json={
        "data_source_id": ch["id"], "base_query": "SELECT * FROM events ORDER BY ts", "limit": 3,
        "include_json_paths": True, "json_value_paths": ["props.screen", "props.nested.flag"]})
    assert r.status_code == 202, r.text
    assert r.json()["status"] in ("pending", "running", "succeeded")
    job = wait_job(viewer, "shop-app", r.json()["id"])
    assert job["status"] == "succeeded", job
    assert job["started_at"] and job["completed_at"] and job["error_message"] is None
    summary = job["result_summary"]
    assert summary["row_count"] == 3 and len(summary["rows"]) == 3 and summary["elapsed_ms"] >= 0
    assert {c["name"]: c["type"] for c in summary["columns"]}["ts"] == "DateTime('UTC')"
    assert summary["rows"][0]["event"] == "e0"
    assert summary["json_values"] == {"props.screen": ["s0", "s1", "s2"],
                                      "props.nested.flag": ["false", "true", "false"]}
    paths = {p["path"]: p for p in summary["json_paths"]}
    assert paths["props.screen"]["types"] == ["string"] and "s0" in paths["props.screen"]["samples"]
    assert paths["props.price"]["types"] == ["number"]
    assert paths["props.nested"]["types"] == ["object"] and paths["props.nested.flag"]["types"] == ["boolean"]
    assert paths["props.maybe"]["types"] == ["null"]


def test_preview_on_postgres_with_lookback_window(owner, project, pg_warehouse):
    ds = pg_source(owner, pg_warehouse)
    r = owner.post(f"{scans_url()}/preview", json={
        "data_source_id": ds["id"], "base_query": "SELECT * FROM events", "limit": 50,
        "include_json_paths": True})
    job = wait_job(owner, "shop-app", r.json()["id"])
    assert job["status"] == "succeeded", job
    assert job["result_summary"]["row_count"] == 50
    assert {c["name"]: c["type"] for c in job["result_summary"]["columns"]}["props"] == "jsonb"
    assert any(p["path"] == "props.screen" for p in job["result_summary"]["json_paths"])
    # the synthetic events are from 2026-01-01; a one-hour lookback from now finds none of them
    r = owner.post(f"{scans_url()}/preview", json={
        "data_source_id": ds["id"], "base_query": "SELECT * FROM events", "time_column": "ts",
        "scan_lookback_hours": 1})
    job = wait_job(owner, "shop-app", r.json()["id"])
    assert job["status"] == "succeeded" and job["result_summary"]["row_count"] == 0
    assert job["result_summary"]["window"]["time_column"] == "ts"
    r = owner.post(f"{scans_url()}/preview", json={
        "data_source_id": ds["id"], "base_query": "SELECT now() AS ts, 1 AS x UNION ALL "
                                                 "SELECT now() - interval '5 hours', 2",
        "time_column": "ts", "scan_lookback_hours": 1})
    job = wait_job(owner, "shop-app", r.json()["id"])
    assert job["status"] == "succeeded", job
    assert [row["x"] for row in job["result_summary"]["rows"]] == [1]


def test_failing_preview_stores_the_warehouse_error(owner, project, ch):
    r = owner.post(f"{scans_url()}/preview", json={"data_source_id": ch["id"],
                                                   "base_query": "SELECT no_such_column FROM events"})
    job = wait_job(owner, "shop-app", r.json()["id"])
    assert job["status"] == "failed" and "no_such_column" in job["error_message"]
    assert job["result_summary"] is None and job["completed_at"]


@pytest.mark.parametrize(("patch", "field"), [
    ({"limit": 0}, "limit"), ({"limit": 51}, "limit"), ({"limit": 10**9}, "limit"),
    ({"scan_lookback_hours": 0}, "scan_lookback_hours"), ({"base_query": ""}, "base_query"),
    ({"data_source_id": "00000000-0000-0000-0000-000000000000"}, "data_source_id"),
    ({"json_value_paths": ["screen"]}, "json_value_paths"), ({"time_column": "a.b"}, "time_column"),
])
def test_preview_validation(owner, project, ch, patch, field):
    r = owner.post(f"{scans_url()}/preview", json={"data_source_id": ch["id"], "base_query": "SELECT 1",
                                                   **patch})
    assert r.status_code == 422 and field in error_loc(r)


def test_preview_job_is_scoped_to_its_project(owner, project, ch):
    r = owner.post(f"{scans_url()}/preview", json={"data_source_id": ch["id"], "base_query": "SELECT 1 AS x"})
    owner.post("/api/v1/projects", json={"name": "Other", "slug": "other"})
    assert owner.get(f"{scans_url('other')}/preview-jobs/{r.json()['id']}").status_code == 404
    assert owner.get(f"{scans_url()}/preview-jobs/00000000-0000-0000-0000-000000000000").status_code == 404
    assert wait_job(owner, "shop-app", r.json()["id"])["result_summary"]["rows"] == [{"x": 1}]


def test_preview_pool_is_bounded_by_the_setting():
    from tripl_core.settings import get_settings
    from tripl_core.sources import previews

    assert previews.pool()._max_workers == get_settings().preview_workers


def test_job_orphaned_by_a_stopped_process_reads_as_failed(owner, project, ch, db):
    """A job left running/pending by a stopped API process is failed on read instead of polled forever."""
    from datetime import UTC, datetime, timedelta

    from tripl_core.db.models.projects import Project
    from tripl_core.db.models.sources import PreviewStatus, ScanPreviewJob

    pid = db.query(Project).filter_by(slug="shop-app").one().id
    now = datetime.now(UTC)
    jobs = {
        "stale_running": ScanPreviewJob(project_id=pid, data_source_id=ch["id"], request={},
                                        status=PreviewStatus.running, started_at=now - timedelta(hours=1)),
        "live_running": ScanPreviewJob(project_id=pid, data_source_id=ch["id"], request={},
                                       status=PreviewStatus.running, started_at=now - timedelta(seconds=5)),
        "stale_pending": ScanPreviewJob(project_id=pid, data_source_id=ch["id"], request={},
                                        status=PreviewStatus.pending, created_at=now - timedelta(hours=2)),
    }
    db.add_all(jobs.values())
    db.commit()
    got = {k: owner.get(f"{scans_url()}/preview-jobs/{j.id}").json() for k, j in jobs.items()}
    assert got["live_running"]["status"] == "running" and got["live_running"]["error_message"] is None
    for key in ("stale_running", "stale_pending"):
        assert got[key]["status"] == "failed", got[key]
        assert "run the preview again" in got[key]["error_message"] and got[key]["completed_at"]


def test_preview_takes_as_many_json_paths_as_create(owner, project, ch):
    """Preview capped json_value_paths at 100 while Create Scan Config takes 500: a config could not be
    previewed as it would be saved."""
    body = {"data_source_id": ch["id"], "base_query": "SELECT 1 AS x"}
    paths = [f"props.k{i}" for i in range(500)]
    assert owner.post(f"{scans_url()}/preview", json={**body, "json_value_paths": paths}).status_code == 202
    r = owner.post(f"{scans_url()}/preview", json={**body, "json_value_paths": [*paths, "props.more"]})
    assert r.status_code == 422 and "json_value_paths" in error_loc(r)


def test_scan_intervals_are_the_documented_set(owner, project, ch):
    """docs/warehouses.md lists the intervals (5m … 1d) and says why 5m stays; /openapi.json publishes the same."""
    schema = owner.get("/openapi.json").json()["components"]["schemas"]["ScanInterval"]
    assert schema["enum"] == ["5m", "15m", "30m", "1h", "6h", "12h", "1d"]
    r = owner.post(scans_url(), json={"data_source_id": ch["id"], "name": "c", "base_query": "SELECT 1",
                                      "interval": "2m"})
    assert r.status_code == 422 and "interval" in error_loc(r)
