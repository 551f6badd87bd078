"""Plan mapping rules, chunking, and the project's anomaly settings as the scans honour them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pandas as pd
import pytest
from sqlalchemy import text

from tests.pipelines.data import LAST
from tests.pipelines.helpers import replay, rows
from tripl_core.db.models.scans import ProjectAnomalySettings
from tripl_core.errors import Invalid
from tripl_core.scanning.passes import chunks
from tripl_core.scanning.planmap import apply_group_rules, check_group_rules


def test_group_rules_first_full_match_wins_with_groups_and_type_filter():
    pairs = pd.DataFrame({"event_type": ["screen_view", "screen_view", "error", "error", None],
                          "event_name": ["product_123", "home", "http_500", "product_9", None]})
    rules = [{"name": "product_detail", "match": r"product_\d+", "event_type": "screen_view"},
             {"name": "http.{1}", "match": r"http_(\d+)"},
             {"name": "any_product", "match": r"product_\d+"}]
    assert apply_group_rules(pairs, rules).tolist() == ["product_detail", "home", "http.500", "any_product", None]


def test_group_rule_with_a_bad_regex_names_the_rule():
    with pytest.raises(Invalid) as exc:
        check_group_rules([{"name": "ok", "match": "a"}, {"name": "bad", "match": "(unclosed"}])
    assert exc.value.loc == ["body", "event_group_rules", 1, "match"]


def test_chunks_are_aligned_and_never_shorter_than_the_bucket():
    cfg = SimpleNamespace(replay_chunk_interval="1h", interval="6h")
    start = datetime(2026, 3, 1, 3, tzinfo=UTC)
    got = chunks(start, start + timedelta(hours=13), cfg)
    assert [(a.hour, b.hour) for a, b in got] == [(3, 6), (6, 12), (12, 16)]


def test_scans_honour_the_project_anomaly_settings(db, pg_scan):
    db.add(ProjectAnomalySettings(project_id=uuid.UUID(pg_scan["project_id"]), min_history_buckets=24,
                                  detect_events=False, detect_event_types=False))
    db.commit()
    assert replay(db, pg_scan, LAST - timedelta(days=1), LAST + timedelta(days=1)).status.value == "succeeded"
    points = rows(db, "metric_points")
    by_scope = points.groupby("scope_type")["z"].apply(lambda z: z.notna().sum())
    assert by_scope["project_total"] > 0 and by_scope["event"] == 0 and by_scope["event_type"] == 0
    assert not points.loc[points["scope_type"] != "project_total", "is_anomaly"].any()
    assert set(rows(db, "anomaly_signals")["scope_type"]) <= {"project_total"}

    db.execute(text("UPDATE project_anomaly_settings SET anomaly_detection_enabled = false"))
    db.commit()
    assert replay(db, pg_scan, LAST, LAST + timedelta(days=1)).status.value == "succeeded"
    day = rows(db, "metric_points", "bucket >= :d", d=LAST)
    assert day["z"].isna().all() and not day["is_anomaly"].any()


def test_infrastructure_columns_are_the_plain_columns_tripl_reads():
    """Only plain output columns: a JSON path (`props.app_version`) names a field inside the document."""
    from tripl_core.scanning.passes import infrastructure_columns

    cfg = SimpleNamespace(time_column="ts", event_type_column="event_type", app_version_column="app_version",
                          metric_breakdown_columns=["country", "props.platform"],
                          event_name_format="{screen}.{props.action}:{name}")
    assert infrastructure_columns(cfg) == {"ts", "event_type", "app_version", "country", "screen", "name"}
    json_only = SimpleNamespace(time_column="ts", event_type_column=None, app_version_column="props.v",
                                metric_breakdown_columns=[], event_name_format="{props.name}")
    assert infrastructure_columns(json_only) == {"ts"}
