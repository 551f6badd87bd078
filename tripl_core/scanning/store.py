"""Bulk writes for scan outputs: delete a bucket range then COPY the new rows, inside the caller's transaction."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

_NS = uuid.UUID("6f1c2b0e-8a53-4c1e-9d55-7b1a3f0c9e21")


def finding_id(kind: str, *parts: Any) -> uuid.UUID:
    """Deterministic id of a finding from its natural key, so a replay updates (not duplicates) it."""
    return uuid.uuid5(_NS, "|".join([kind, *("" if p is None else str(p) for p in parts)]))


def delete_range(db: Session, table: str, scan_config_id: uuid.UUID, start: datetime, end: datetime) -> int:
    """Remove a config's rows with start <= bucket < end (tables are ours; names are never user input)."""
    res = db.execute(text(f"DELETE FROM {table} WHERE scan_config_id = :c AND bucket >= :a AND bucket < :b"),
                     {"c": scan_config_id, "a": start, "b": end})
    return int(res.rowcount or 0)


def _prepare(df: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(index=df.index)
    for name, col in df.items():
        if col.dtype == object and len(col) and isinstance(col.dropna().iloc[0] if col.notna().any() else None,
                                                             dict | list):
            out[name] = col.map(lambda v: None if v is None else json.dumps(v))
        elif pd.api.types.is_bool_dtype(col):
            out[name] = np.where(col.astype(bool), "t", "f")
        elif pd.api.types.is_datetime64_any_dtype(col):
            out[name] = col.dt.strftime("%Y-%m-%d %H:%M:%S.%f%z")
        elif pd.api.types.is_float_dtype(col):
            out[name] = col.where(np.isfinite(col.astype(float)), np.nan)
        else:
            out[name] = col
    return out


def copy_frame(db: Session, table: str, df: pd.DataFrame) -> int:
    """COPY a frame into `table` (columns = frame columns) through the session's own connection."""
    if df.empty:
        return 0
    buf = io.StringIO()
    _prepare(df).to_csv(buf, index=False, header=False, quoting=csv.QUOTE_MINIMAL, na_rep=r"\N")
    raw = db.connection().connection.driver_connection
    cols = ", ".join(f'"{c}"' for c in df.columns)
    with raw.cursor() as cur, cur.copy(
            f"COPY {table} ({cols}) FROM STDIN (FORMAT csv, NULL '\\N')") as copy:
        copy.write(buf.getvalue())
    return len(df)


def advisory_lock(db: Session, scan_config_id: uuid.UUID) -> None:
    """Serialise writers of one scan config until the transaction ends (parallel partitions, backfills)."""
    db.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": f"scan:{scan_config_id}"})
