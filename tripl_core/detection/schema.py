"""Schema drift: compare what the plan declares about an event type's fields with what a scan observed.

Input is aggregates, never rows (the warehouse pass counts presence, nulls, observed types and contract breaches
per field), and the classification is vectorised over fields with pandas. Findings, one row each:

- `new_field`: observed, not declared;
- `missing_required_field`: declared required, present in no row of a non-empty scan;
- `type_mismatch`: non-null values of a type the declared type does not admit, above the field's bad-rate limit;
- `enum_value_outside_options`: values outside the declared options, above the bad-rate limit;
- `null_rate_breach`: (missing + null) / rows above `contract_required_max_null_rate`;
- `bad_rate_breach`: (regex + min + max breaches) / non-null values above `contract_max_bad_rate`.

Each finding carries its evidence (counts, rate, limit) so that a person can judge it without re-running the scan.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from tripl_core.errors import Invalid

NEW_FIELD = "new_field"
MISSING_REQUIRED_FIELD = "missing_required_field"
TYPE_MISMATCH = "type_mismatch"
ENUM_VALUE_OUTSIDE_OPTIONS = "enum_value_outside_options"
NULL_RATE_BREACH = "null_rate_breach"
BAD_RATE_BREACH = "bad_rate_breach"
DRIFT_TYPES = (
    NEW_FIELD,
    MISSING_REQUIRED_FIELD,
    TYPE_MISMATCH,
    ENUM_VALUE_OUTSIDE_OPTIONS,
    NULL_RATE_BREACH,
    BAD_RATE_BREACH,
)
FIELD_TYPES = ("string", "number", "boolean", "json", "enum", "url")

# Observed (warehouse-side) type names each declared type admits. Observed names are normalised first.
ADMITS: dict[str, frozenset[str]] = {
    "string": frozenset({"string"}),
    "url": frozenset({"string"}),
    "enum": frozenset({"string", "number", "boolean"}),
    "number": frozenset({"number"}),
    "boolean": frozenset({"boolean"}),
    "json": frozenset({"object", "array"}),
}
_OBSERVED_ALIASES = {
    "str": "string", "text": "string", "varchar": "string", "string": "string", "url": "string",
    "int": "number", "integer": "number", "float": "number", "double": "number", "decimal": "number",
    "bigint": "number", "number": "number", "numeric": "number",
    "bool": "boolean", "boolean": "boolean",
    "object": "object", "dict": "object", "map": "object", "json": "object",
    "array": "array", "list": "array",
    "null": "null", "none": "null",
}


def normalise_type(name: str) -> str:
    """Warehouse / JSON type name → one of string, number, boolean, object, array, null (else as given)."""
    return _OBSERVED_ALIASES.get(str(name).strip().lower(), str(name).strip().lower())


@dataclass(frozen=True)
class DeclaredField:
    name: str
    field_type: str = "string"
    is_required: bool = False
    enum_options: list[str] | None = None
    contract_required_max_null_rate: float | None = None
    contract_regex: str | None = None
    contract_min_value: float | None = None
    contract_max_value: float | None = None
    contract_max_bad_rate: float = 0.0


@dataclass(frozen=True)
class ObservedField:
    """Aggregates of one field over `total_rows` rows of the event type (all counts are rows)."""

    name: str
    presence_count: int = 0  # rows where the key exists (null or not)
    null_count: int = 0  # rows where it exists and is null
    type_counts: Mapping[str, int] = field(default_factory=dict)  # non-null values per observed type
    enum_outside_count: int = 0
    enum_outside_values: list[str] = field(default_factory=list)
    regex_breach_count: int = 0
    min_breach_count: int = 0
    max_breach_count: int = 0
    sample_value: str | None = None


@dataclass(frozen=True)
class SchemaFinding:
    field_name: str
    drift_type: str
    declared_type: str | None
    observed_type: str | None
    sample_value: str | None
    evidence: dict[str, Any]


def _as_records(items: Iterable[Any], cls: type) -> list[Any]:
    out = []
    for i, item in enumerate(items):
        if isinstance(item, cls):
            out.append(item)
        elif isinstance(item, Mapping):
            known = {k: v for k, v in item.items() if k in cls.__dataclass_fields__}
            try:
                out.append(cls(**known))
            except TypeError as exc:
                raise Invalid([cls.__name__, i], f"not a valid {cls.__name__}: {exc}") from exc
        else:
            raise Invalid([cls.__name__, i], f"expected a {cls.__name__} or a mapping.")
    return out


def _declared_frame(declared: list[DeclaredField]) -> pd.DataFrame:
    for i, d in enumerate(declared):
        if d.field_type not in FIELD_TYPES:
            raise Invalid(["declared", i, "field_type"], f"field_type must be one of {', '.join(FIELD_TYPES)}.")
        for name in ("contract_required_max_null_rate", "contract_max_bad_rate"):
            value = getattr(d, name)
            if value is not None and not 0 <= value <= 1:
                raise Invalid(["declared", i, name], f"{name} must be in [0, 1].")
    return pd.DataFrame(
        {
            "name": [d.name for d in declared],
            "declared_type": [d.field_type for d in declared],
            "is_required": [bool(d.is_required) for d in declared],
            "has_options": [bool(d.enum_options) for d in declared],
            "max_null_rate": [np.nan if d.contract_required_max_null_rate is None
                              else d.contract_required_max_null_rate for d in declared],
            "has_value_contract": [
                d.contract_regex is not None or d.contract_min_value is not None or d.contract_max_value is not None
                for d in declared
            ],
            "max_bad_rate": [d.contract_max_bad_rate or 0.0 for d in declared],
        }
    )


def _observed_frame(observed: list[ObservedField]) -> pd.DataFrame:
    rows = []
    for o in observed:
        types: dict[str, int] = {}
        for name, count in o.type_counts.items():
            t = normalise_type(name)
            if t != "null":
                types[t] = types.get(t, 0) + int(count)
        rows.append(
            {
                "name": o.name,
                "presence": o.presence_count,
                "nulls": o.null_count,
                "types": types,
                "dominant_type": max(types, key=lambda k: (types[k], k)) if types else None,
                "enum_outside": o.enum_outside_count,
                "enum_outside_values": list(o.enum_outside_values),
                "regex_bad": o.regex_breach_count,
                "min_bad": o.min_breach_count,
                "max_bad": o.max_breach_count,
                "sample_value": o.sample_value,
            }
        )
    columns = ["name", "presence", "nulls", "types", "dominant_type", "enum_outside", "enum_outside_values",
               "regex_bad", "min_bad", "max_bad", "sample_value"]
    return pd.DataFrame(rows, columns=columns)


def classify(
    declared: Iterable[DeclaredField | Mapping[str, Any]],
    observed: Iterable[ObservedField | Mapping[str, Any]],
    total_rows: int,
) -> list[SchemaFinding]:
    """Findings for one event type's scan, in a stable order (drift type, then field name)."""
    if isinstance(total_rows, bool) or not isinstance(total_rows, int | np.integer) or total_rows < 0:
        raise Invalid("total_rows", "total_rows must be a non-negative integer.")
    decl = _declared_frame(_as_records(declared, DeclaredField))
    obs = _observed_frame(_as_records(observed, ObservedField))
    if decl["name"].duplicated().any():
        raise Invalid("declared", f"duplicate declared field {decl['name'][decl['name'].duplicated()].iloc[0]!r}.")
    counts = ["presence", "nulls", "enum_outside", "regex_bad", "min_bad", "max_bad"]
    obs[counts] = obs[counts].astype(float)
    if (obs[counts].to_numpy() < 0).any():
        raise Invalid("observed", "observed counts must not be negative.")
    if (obs["presence"] > total_rows).any() or (obs["nulls"] > obs["presence"]).any():
        raise Invalid("observed", "presence_count must be ≤ total_rows and null_count ≤ presence_count.")
    df = decl.merge(obs, on="name", how="outer", indicator=True)
    df[counts] = df[counts].astype(float).fillna(0.0)
    declared_mask = df["_merge"] != "right_only"
    non_null = df["presence"] - df["nulls"]
    findings: list[SchemaFinding] = []

    def emit(mask: pd.Series, kind: str, evidence: pd.DataFrame, observed_col: str = "dominant_type") -> None:
        for i in np.flatnonzero(mask.to_numpy()):
            row = df.iloc[i]
            observed_type = row[observed_col]
            findings.append(
                SchemaFinding(
                    field_name=str(row["name"]),
                    drift_type=kind,
                    declared_type=None if pd.isna(row["declared_type"]) else str(row["declared_type"]),
                    observed_type=None if observed_type is None or pd.isna(observed_type) else str(observed_type),
                    sample_value=None if row["sample_value"] is None or pd.isna(row["sample_value"])
                    else str(row["sample_value"]),
                    evidence={k: _plain(v) for k, v in evidence.iloc[i].items()},
                )
            )

    rows = pd.Series(float(total_rows), index=df.index)
    emit(~declared_mask & (df["presence"] > 0), NEW_FIELD,
         pd.DataFrame({"presence_count": df["presence"], "total_rows": rows,
                       "presence_rate": df["presence"] / max(total_rows, 1)}))
    emit(declared_mask & df["is_required"].fillna(False).astype(bool) & (df["presence"] == 0) & (total_rows > 0),
         MISSING_REQUIRED_FIELD, pd.DataFrame({"presence_count": df["presence"], "total_rows": rows}))

    # type mismatch: non-null values of types the declared type does not admit
    mismatched = [
        {t: n for t, n in types.items() if t not in ADMITS.get(dt, frozenset({t}))}
        if isinstance(dt, str) and isinstance(types, dict) else {}
        for dt, types in zip(df["declared_type"], df["types"], strict=True)
    ]
    wrong = np.array([float(sum(m.values())) for m in mismatched])
    df["wrong_type"] = [max(m, key=lambda k: (m[k], k)) if m else None for m in mismatched]
    wrong_rate = np.divide(wrong, non_null, out=np.zeros_like(wrong), where=non_null > 0)
    limit = df["max_bad_rate"].fillna(0.0)
    emit(declared_mask & (wrong > 0) & (wrong_rate > limit), TYPE_MISMATCH,
         pd.DataFrame({"mismatched_count": wrong, "non_null_count": non_null, "rate": wrong_rate, "limit": limit,
                       "observed_types": df["types"].apply(lambda t: t if isinstance(t, dict) else {})}),
         observed_col="wrong_type")

    enum_rate = np.divide(df["enum_outside"], non_null, out=np.zeros(len(df)), where=non_null > 0)
    outside_values = df["enum_outside_values"].apply(lambda v: v if isinstance(v, list) else [])
    is_enum = (df["declared_type"] == "enum") | df["has_options"].fillna(False).astype(bool)
    emit(declared_mask & is_enum & (df["enum_outside"] > 0) & (enum_rate > limit), ENUM_VALUE_OUTSIDE_OPTIONS,
         pd.DataFrame({"outside_count": df["enum_outside"], "non_null_count": non_null, "rate": enum_rate,
                       "limit": limit, "values": outside_values}))

    absent_or_null = (total_rows - df["presence"]) + df["nulls"]
    null_rate = absent_or_null / total_rows if total_rows else pd.Series(0.0, index=df.index)
    max_null = df["max_null_rate"]
    emit(declared_mask & max_null.notna() & (total_rows > 0) & (null_rate > max_null), NULL_RATE_BREACH,
         pd.DataFrame({"null_or_missing_count": absent_or_null, "total_rows": rows, "rate": null_rate,
                       "limit": max_null}))

    bad = df["regex_bad"] + df["min_bad"] + df["max_bad"]
    bad_rate = np.divide(bad, non_null, out=np.zeros(len(df)), where=non_null > 0)
    emit(declared_mask & df["has_value_contract"].fillna(False).astype(bool) & (bad > 0) & (bad_rate > limit),
         BAD_RATE_BREACH,
         pd.DataFrame({"regex_breach_count": df["regex_bad"], "min_breach_count": df["min_bad"],
                       "max_breach_count": df["max_bad"], "bad_count": bad, "non_null_count": non_null,
                       "rate": bad_rate, "limit": limit}))
    order = {kind: i for i, kind in enumerate(DRIFT_TYPES)}
    findings.sort(key=lambda f: (order[f.drift_type], f.field_name))
    return findings


def _plain(value: Any) -> Any:
    """numpy scalars → Python numbers, so evidence is JSON-ready."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value
