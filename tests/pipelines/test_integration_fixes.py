"""Regressions of integration bugs: concurrent creation of scan_states, null rates of JSON keys, missing required
fields, configs with a fixed event type, anomaly-settings defaults and the Dagster executor."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import timedelta

import pandas as pd
import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from tests.pipelines.conftest import BASE, _source, make_config
from tests.pipelines.data import LAST
from tests.pipelines.helpers import replay, rows
from tripl_core.db.models.scans import ProjectAnomalySettings, ScanState
from tripl_core.db.models.sources import ScanConfig
from tripl_core.detection.config import PROJECT_DEFAULTS as DEFAULTS
from tripl_core.scanning import passes

DAY = LAST  # any day works: the rows below are written for it


def _prices(lo: int, hi: int) -> pd.DataFrame:
    return pd.DataFrame({"props": [json.dumps({"price": float(v)}) for v in range(lo, hi)]})


# --- 1. scan_states row and histogram edges under concurrent runs --------------------------------------------

def test_concurrent_first_runs_create_the_state_once_and_share_the_edges(db, pg_scan):
    cfg_id = uuid.UUID(pg_scan["id"])
    assert db.get(ScanState, cfg_id) is None  # a new config: no state row yet
    engine = db.get_bind()
    with Session(engine) as a, Session(engine) as b:
        edges_a = passes._decide_histograms(a, a.get(ScanConfig, cfg_id), _prices(0, 100))
        assert edges_a["props.price"]["kind"] == "numeric"
        out: dict = {}

        def second_run() -> None:
            try:
                out["edges"] = passes._decide_histograms(b, b.get(ScanConfig, cfg_id), _prices(1000, 1100))
                b.commit()
            except Exception as exc:  # noqa: BLE001 - reported to the test thread below
                b.rollback()
                out["error"] = exc

        t = threading.Thread(target=second_run)
        t.start()
        t.join(1.5)
        assert t.is_alive(), out  # waits for the first run's lock instead of deciding its own edges
        a.commit()
        t.join(30)
        assert not t.is_alive()
    assert "error" not in out, out.get("error")
    assert out["edges"] == edges_a  # decided once: the first run's edges, not the last run's
    db.expire_all()
    assert db.get(ScanState, cfg_id).histogram_edges == edges_a


def test_decided_edges_are_read_without_taking_the_lock(db, pg_scan):
    cfg_id = uuid.UUID(pg_scan["id"])
    engine = db.get_bind()
    with Session(engine) as a:
        passes._decide_histograms(a, a.get(ScanConfig, cfg_id), _prices(0, 100))
        a.commit()
        held = a.scalars(text("SELECT scan_config_id FROM scan_states FOR UPDATE")).all()  # hold the row lock
        assert len(held) == 1
        with Session(engine) as b:
            b.execute(text("SET LOCAL lock_timeout = '2s'"))
            got = passes._decide_histograms(b, b.get(ScanConfig, cfg_id), _prices(1000, 1100))
            assert got["props.price"] == db.get(ScanState, cfg_id).histogram_edges["props.price"]
        a.rollback()


# --- 2./3. null rates of JSON keys, missing required fields --------------------------------------------------

def _load(pipe_pg: dict, table: str, docs: list[dict], event_type: str = "checkout") -> None:
    with psycopg.connect(pipe_pg["admin_dsn"], autocommit=True) as conn:  # the data source's role only reads
        conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.execute(f"CREATE TABLE {table} (ts timestamptz not null, event_type text not null, name text not null, "
                     "app_version text, props jsonb not null)")
        with conn.cursor() as cur:
            cur.executemany(f"INSERT INTO {table} VALUES (%s, %s, 'pay', '1.0', %s)",
                            [(DAY + timedelta(minutes=5 * i), event_type, json.dumps(d))
                             for i, d in enumerate(docs)])


def _checkout_type(owner: TestClient) -> dict:
    fields = [
        {"name": "price", "display_name": "Price", "field_type": "number",
         "contract_required_max_null_rate": 0.25},
        {"name": "load_time_ms", "display_name": "Load time", "field_type": "number",
         "contract_required_max_null_rate": 0.3},
        {"name": "screen_name", "display_name": "Screen name", "field_type": "string", "is_required": True},
    ]
    r = owner.post(f"{BASE}/event-types", json={"name": "checkout", "display_name": "Checkout",
                                                 "field_definitions": fields})
    assert r.status_code == 201, r.text
    return r.json()


def _null_rate_docs() -> list[dict]:
    # 10 rows. price: 7 numbers, 1 JSON null, 2 missing → (1 + 2) / 10 = 0.3 > 0.25.
    # load_time_ms: 8 numbers, 2 missing → 2 / 10 = 0.2 ≤ 0.3 (double-counted it read 0.4, a false breach).
    # screen_name (required): never sent.
    docs = []
    for i in range(10):
        d: dict = {}
        if i < 7:
            d["price"] = 10.0 + i
        elif i == 7:
            d["price"] = None
        if i >= 2:
            d["load_time_ms"] = 100 + i
        docs.append(d)
    return docs


@pytest.fixture
def checkout_scan(owner: TestClient, project: dict, pipe_pg: dict) -> dict:
    _checkout_type(owner)
    _load(pipe_pg, "fix_checkout", _null_rate_docs())
    return make_config(owner, _source(owner, "postgres", pipe_pg, None), name="checkout",
                       base_query="SELECT * FROM fix_checkout", json_value_paths=["props.price"],
                       distribution_drift_fields=[], metric_breakdown_columns=[])


def test_null_rate_counts_a_missing_json_key_once(db, checkout_scan):
    job = replay(db, checkout_scan, DAY, DAY + timedelta(days=1))
    assert job.status.value == "succeeded", job.error_message
    drifts = rows(db, "schema_drifts").set_index(["field_name", "drift_type"])
    price = drifts.loc[("price", "null_rate_breach"), "details"]
    assert price["null_or_missing_count"] == 3 and price["total_rows"] == 10
    assert price["rate"] == pytest.approx(0.3) and price["limit"] == 0.25
    assert ("load_time_ms", "null_rate_breach") not in drifts.index, drifts.loc["load_time_ms"]


def test_a_required_field_absent_from_the_data_is_missing_required_field(db, checkout_scan):
    job = replay(db, checkout_scan, DAY, DAY + timedelta(days=1))
    assert job.status.value == "succeeded", job.error_message
    drifts = rows(db, "schema_drifts").set_index(["field_name", "drift_type"])
    assert ("screen_name", "missing_required_field") in drifts.index, drifts.index.tolist()
    assert drifts.loc[("screen_name", "missing_required_field"), "details"] == {"presence_count": 0,
                                                                               "total_rows": 10}
    assert ("price", "missing_required_field") not in drifts.index  # optional fields are never "missing"


def test_a_required_field_that_is_no_column_of_the_output_is_missing(db, owner, checkout_scan):
    """No JSON column: the aggregate has no observation for a field that is not an output column, yet the probed
    columns say it is absent."""
    source = {"id": checkout_scan["data_source_id"], "db_type": "postgres"}
    scan = make_config(owner, source, name="columns only",
                       base_query="SELECT ts, event_type, name, app_version FROM fix_checkout", json_value_paths=[],
                       distribution_drift_fields=[], metric_breakdown_columns=[], app_version_column=None)
    assert scan["probed_columns"], scan
    job = replay(db, scan, DAY, DAY + timedelta(days=1))
    assert job.status.value == "succeeded", job.error_message
    drifts = rows(db, "schema_drifts")
    found = set(zip(drifts["field_name"], drifts["drift_type"], strict=True))
    assert ("screen_name", "missing_required_field") in found, found
    assert not {f for f, t in found if t == "missing_required_field"} - {"screen_name"}


def test_classify_gets_declared_fields_that_were_never_observed(db, checkout_scan):
    """Declared fields reach classify even without any field_observations row (e.g. a window whose aggregate
    did not include them): the required one is reported missing."""
    from tripl_core.scanning.findings import detect_schema_drifts
    from tripl_core.scanning.planmap import PlanIndex

    assert replay(db, checkout_scan, DAY, DAY + timedelta(days=1)).status.value == "succeeded"
    db.execute(text("DELETE FROM schema_drifts"))
    db.execute(text("DELETE FROM field_observations WHERE field = 'screen_name'"))
    db.commit()
    cfg = db.get(ScanConfig, uuid.UUID(checkout_scan["id"]))
    detect_schema_drifts(db, cfg, DAY, DAY + timedelta(days=1), PlanIndex.load(db, cfg.project_id))
    db.commit()
    found = set(zip(rows(db, "schema_drifts")["field_name"], rows(db, "schema_drifts")["drift_type"], strict=True))
    assert ("screen_name", "missing_required_field") in found, found


# --- 4. a config with a fixed event type and no event_type_column --------------------------------------------

def test_config_with_event_type_id_and_no_type_column_scans(db, owner, project, pipe_pg):
    et = _checkout_type(owner)
    _load(pipe_pg, "fix_fixed_type", _null_rate_docs(), event_type="whatever")
    scan = make_config(owner, _source(owner, "postgres", pipe_pg, None), name="fixed type",
                       base_query="SELECT * FROM fix_fixed_type", event_type_column=None,
                       event_type_id=et["id"], json_value_paths=["props.price"], distribution_drift_fields=[],
                       metric_breakdown_columns=[])
    job = replay(db, scan, DAY, DAY + timedelta(days=1))
    assert job.status.value == "succeeded", job.error_message
    fo = rows(db, "field_observations")
    assert len(fo) and set(fo["event_type_id"].astype(str)) == {et["id"]}
    price = fo[fo["field"] == "price"]
    assert int(price["rows"].sum()) == 10 and int(price["present"].sum()) == 8
    drifts = rows(db, "schema_drifts")
    assert ("screen_name", "missing_required_field") in set(zip(drifts["field_name"], drifts["drift_type"],
                                                                strict=True))


# --- 5. anomaly-settings defaults -----------------------------------------------------------------------------

def test_anomaly_settings_defaults_equal_detection_defaults(db, project):
    pid = uuid.UUID(project["id"])
    db.execute(text("INSERT INTO project_anomaly_settings (id, project_id) VALUES (:i, :p)"),
               {"i": uuid.uuid4(), "p": pid})  # server defaults (the migration)
    db.commit()
    row = db.execute(text("SELECT baseline_window_buckets, min_history_buckets, sigma_threshold, "
                          "min_expected_count FROM project_anomaly_settings")).one()
    expected = (DEFAULTS.baseline_window_buckets, DEFAULTS.min_history_buckets, DEFAULTS.sigma_threshold,
                DEFAULTS.min_expected_count)
    assert tuple(row) == expected
    db.execute(text("DELETE FROM project_anomaly_settings"))
    db.commit()
    orm = ProjectAnomalySettings(project_id=pid)  # Python-side defaults (the model)
    db.add(orm)
    db.commit()
    assert (orm.baseline_window_buckets, orm.min_history_buckets, orm.sigma_threshold,
            orm.min_expected_count) == expected


# --- 6. executor ----------------------------------------------------------------------------------------------

def test_scan_runs_use_the_in_process_executor():
    from tripl_pipelines.assets import scan_partition_job
    from tripl_pipelines.definitions import defs

    assert defs.resolve_job_def(scan_partition_job.name).executor_def.name == "in_process"
    assert defs.get_repository_def().get_job(scan_partition_job.name).executor_def.name == "in_process"
