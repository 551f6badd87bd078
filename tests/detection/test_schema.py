"""Schema drift classification over declared fields vs observed aggregates."""

from __future__ import annotations

import pytest

from tripl_core.detection.schema import (
    BAD_RATE_BREACH,
    ENUM_VALUE_OUTSIDE_OPTIONS,
    MISSING_REQUIRED_FIELD,
    NEW_FIELD,
    NULL_RATE_BREACH,
    TYPE_MISMATCH,
    DeclaredField,
    ObservedField,
    classify,
    normalise_type,
)
from tripl_core.errors import Invalid


def kinds(findings):
    return {(f.field_name, f.drift_type) for f in findings}


def test_clean_scan_has_no_findings():
    declared = [DeclaredField("user_id", "string", is_required=True), DeclaredField("price", "number")]
    observed = [ObservedField("user_id", 100, 0, {"string": 100}), ObservedField("price", 80, 5, {"integer": 75})]
    assert classify(declared, observed, 100) == []


def test_new_field_with_evidence():
    [f] = classify([], [ObservedField("referrer", 10, 0, {"varchar": 10}, sample_value="google")], 1000)
    assert (f.field_name, f.drift_type, f.observed_type, f.sample_value) == ("referrer", NEW_FIELD, "string", "google")
    assert f.evidence == {"presence_count": 10, "total_rows": 1000, "presence_rate": 0.01}


def test_missing_required_field_only_when_rows_exist():
    declared = [DeclaredField("session", "string", is_required=True), DeclaredField("note", "string")]
    assert kinds(classify(declared, [], 50)) == {("session", MISSING_REQUIRED_FIELD)}
    assert classify(declared, [], 0) == []


def test_type_mismatch_above_the_bad_rate_limit():
    declared = [DeclaredField("price", "number", contract_max_bad_rate=0.05)]
    observed = [ObservedField("price", 1000, 0, {"number": 900, "str": 100})]
    [f] = classify(declared, observed, 1000)
    assert (f.drift_type, f.declared_type, f.observed_type) == (TYPE_MISMATCH, "number", "string")
    assert f.evidence["mismatched_count"] == 100 and f.evidence["rate"] == pytest.approx(0.1)
    within = [ObservedField("price", 1000, 0, {"number": 960, "string": 40})]
    assert classify(declared, within, 1000) == []


def test_declared_types_admit_their_observed_types():
    declared = [DeclaredField("u", "url"), DeclaredField("j", "json"), DeclaredField("b", "boolean"),
                DeclaredField("e", "enum", enum_options=["1", "2"])]
    observed = [ObservedField("u", 5, 0, {"string": 5}), ObservedField("j", 5, 0, {"object": 3, "array": 2}),
                ObservedField("b", 5, 0, {"bool": 5}), ObservedField("e", 5, 0, {"number": 5})]
    assert classify(declared, observed, 5) == []
    assert kinds(classify([DeclaredField("j", "json")], [ObservedField("j", 5, 0, {"string": 5})], 5)) == {
        ("j", TYPE_MISMATCH)
    }


def test_enum_value_outside_options():
    declared = [DeclaredField("plan", "enum", enum_options=["free", "pro"])]
    observed = [ObservedField("plan", 1000, 0, {"string": 1000}, enum_outside_count=30, enum_outside_values=["team"])]
    [f] = classify(declared, observed, 1000)
    assert f.drift_type == ENUM_VALUE_OUTSIDE_OPTIONS
    assert f.evidence["values"] == ["team"] and f.evidence["rate"] == pytest.approx(0.03)


def test_null_rate_counts_missing_and_null_rows():
    declared = [DeclaredField("email", "string", contract_required_max_null_rate=0.1)]
    observed = [ObservedField("email", 800, 100, {"string": 700})]
    [f] = classify(declared, observed, 1000)
    assert f.drift_type == NULL_RATE_BREACH
    assert f.evidence == {"null_or_missing_count": 300, "total_rows": 1000, "rate": 0.3, "limit": 0.1}
    ok = [ObservedField("email", 1000, 100, {"string": 900})]
    assert classify(declared, ok, 1000) == []


def test_bad_rate_sums_regex_min_max_breaches():
    declared = [DeclaredField("age", "number", contract_min_value=0, contract_max_value=130,
                              contract_max_bad_rate=0.01)]
    observed = [ObservedField("age", 1000, 0, {"number": 1000}, min_breach_count=8, max_breach_count=7)]
    [f] = classify(declared, observed, 1000)
    assert f.drift_type == BAD_RATE_BREACH
    assert f.evidence["bad_count"] == 15 and f.evidence["rate"] == pytest.approx(0.015)
    observed_ok = [ObservedField("age", 1000, 0, {"number": 1000}, min_breach_count=5)]
    assert classify(declared, observed_ok, 1000) == []
    # without a value contract, breach counts are not a finding
    assert classify([DeclaredField("age", "number")], observed, 1000) == []


def test_many_findings_are_ordered_and_mappings_are_accepted():
    declared = [dict(name="a", field_type="number", is_required=True), dict(name="b", field_type="string")]
    observed = [dict(name="b", presence_count=3, type_counts={"boolean": 3}), dict(name="c", presence_count=1)]
    assert [(f.drift_type, f.field_name) for f in classify(declared, observed, 3)] == [
        (NEW_FIELD, "c"), (MISSING_REQUIRED_FIELD, "a"), (TYPE_MISMATCH, "b"),
    ]


def test_normalise_type():
    assert [normalise_type(t) for t in ("Int", "DOUBLE", "varchar", "dict", "list", "NULL", "uuid")] == [
        "number", "number", "string", "object", "array", "null", "uuid",
    ]


@pytest.mark.parametrize(
    ("declared", "observed", "total", "loc"),
    [
        ([DeclaredField("a", "text")], [], 1, ["declared", 0, "field_type"]),
        ([DeclaredField("a", contract_max_bad_rate=2)], [], 1, ["declared", 0, "contract_max_bad_rate"]),
        ([DeclaredField("a"), DeclaredField("a")], [], 1, ["declared"]),
        ([], [ObservedField("a", 5)], 3, ["observed"]),
        ([], [ObservedField("a", 2, 3)], 3, ["observed"]),
        ([], [ObservedField("a", -1)], 3, ["observed"]),
        ([], [], -1, ["total_rows"]),
        ([{"name": "a", "bogus_only": 1, "field_type": 3.5}], [], 1, ["declared", 0, "field_type"]),
    ],
)
def test_bad_input_names_the_field(declared, observed, total, loc):
    with pytest.raises(Invalid) as err:
        classify(declared, observed, total)
    assert err.value.loc[1:] == loc
