"""Alert content per kind (issue 19 item 5): what happened, where, how much against what was expected, units."""

from __future__ import annotations

from datetime import UTC, datetime

from tripl_core.alerting import content
from tripl_core.alerting.context import AlertItem, item_dict

T = datetime(2026, 1, 1, 14, tzinfo=UTC)


def test_volume_reads_like_a_sentence_with_the_incident_range():
    text = content.volume("purchase.checkout_completed", 38, 410.4, T, T.replace(hour=16))
    assert text == "purchase.checkout_completed 38 vs ~410 expected, 2026-01-01 14:00–16:00 UTC, −91 %"
    night = content.volume("project total", 5000, 1000, T.replace(hour=22), datetime(2026, 1, 2, 2, tzinfo=UTC))
    assert night == "project total 5,000 vs ~1,000 expected, 2026-01-01 22:00 – 2026-01-02 02:00 UTC, +400 %"
    assert content.volume("x", 3, 0, T, T.replace(hour=15)).endswith("15:00 UTC")  # no % against nothing


def test_contract_and_schema_drifts_name_the_field_the_rate_and_the_contract():
    assert content.schema("null_rate_breach", "country", "purchase", {"rate": 0.12, "limit": 0.01}, None, None,
                          None) == "null rate 12 % on `country` in purchase, contract ≤ 1 %"
    assert content.schema("bad_rate_breach", "price", "checkout", {"rate": 0.034, "limit": 0.01, "rows": 5000},
                          None, None, None) == "invalid values 3.4 % on `price` in checkout of 5,000 rows, contract ≤ 1 %"
    assert content.schema("type_mismatch", "load_time_ms", "screen_view", {}, "integer", "string", "1980") == \
        'type of `load_time_ms` in screen_view: string, declared integer (e.g. "1980")'
    assert content.schema("new_field", "experiment_id", "screen_view", {"presence_rate": 1.0, "rows": 1234},
                          None, "string", None) == \
        "new field `experiment_id` in screen_view, not in the plan, present in 100 % of 1,234 rows (string)"
    assert content.schema("enum_value_outside_options", "plan", "billing", {"values": ["gold", "x"]}, None, None,
                          None) == '`plan` in billing has values outside its options: "gold", "x"'
    assert "missing from every row" in content.schema("missing_required_field", "id", "a", {}, None, None, None)


def test_regression_and_distribution_say_against_what():
    assert content.regression("4.2.0", "checkout.purchase", 10, 50, 0.01, 0.05, ["4.0.0", "4.1.0"]) == (
        "release 4.2.0: checkout.purchase 10 vs ~50 expected from the share in 4.0.0, 4.1.0 (1 % of its events "
        "vs 5 %), −80 %")
    assert content.distribution("price", "event type checkout", T, 0.4213, float("nan"), 500, 3500) == (
        "distribution of `price` in event type checkout changed on 2026-01-01 (PSI 0.42): 500 rows vs 3,500 "
        "in the baseline before")


def test_arrows_only_for_volume():
    assert item_dict(AlertItem(kind="volume", actual=1.0, expected=10.0))["arrow"] == "↓"
    drift = item_dict(AlertItem(kind="distribution_drift", actual=500.0, expected=3500.0))
    assert drift["arrow"] == "•" and drift["direction"] is None  # row counts are not a drop
    assert item_dict(AlertItem(kind="release_regression", direction="drop"))["arrow"] == "•"


def test_a_kind_with_its_own_wording_still_says_where():
    import uuid

    from tripl_core.alerting.candidates import Candidate, describe

    c = Candidate(kind="dead_event", finding_id=uuid.uuid4(), key="k", project_id=uuid.uuid4(), scan_config_id=None,
                  scope_type="event", scope_ref=uuid.uuid4(), scope_key="s", at=T, latest=T, written_at=T,
                  summary="silent for 10.0 d since 2026-01-01 14:00 UTC", event_type_name="ui", event_name="tap")
    assert describe(c) == "ui.tap silent for 10.0 d since 2026-01-01 14:00 UTC"
    c.summary = None
    assert describe(c) == "dead event on ui.tap"
