"""SQL builders: every query tripl sends to a warehouse is built here as a sqlglot tree, then rendered.

`SqlBuilder` holds the portable parts (windows, CASE, GROUPING SETS, parameters); each dialect overrides only
its primitives: `time_bucket`, `json_raw`, `json_text`, `param`. The user's base query is re-parsed and nested as
a subquery (`FROM (<base>) AS __src`); user-supplied names become quoted identifiers and JSON keys string
literals, and time windows are bound parameters — nothing user-typed is pasted into SQL text.

Field references (breakdown columns, drift fields, json_value_paths, `{…}` in event_name_format) are either a
column of the base query's output (`country`) or a JSON path inside one (`properties.screen.name`: column
`properties`, keys `screen`, `name`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlglot
from sqlglot import exp

from tripl_core.errors import Invalid
from tripl_core.warehouse.intervals import ScanInterval
from tripl_core.warehouse.safety import parse_base_query

SRC = "__src"
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")
_KEY_RE = re.compile(r"^[A-Za-z0-9_\-]+$")
JSON_TYPES = ("string", "number", "boolean", "object", "array", "null")


@dataclass(frozen=True)
class BuiltQuery:
    """Rendered SQL plus its bound parameters (`params`: name → Python value, `types`: name → neutral type) and
    session settings the adapter applies for this statement only (`settings`, built by tripl, never user input)."""

    sql: str
    params: dict[str, Any] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)
    max_rows: int | None = None
    settings: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FieldRef:
    """A column of the base query's output, optionally a JSON path inside it."""

    column: str
    keys: tuple[str, ...] = ()

    @property
    def is_json(self) -> bool:
        return bool(self.keys)

    @property
    def label(self) -> str:
        return ".".join((self.column, *self.keys))


def parse_field_ref(ref: str, field_name: str) -> FieldRef:
    """`col` or `col.key.key`; refuses names that are not plain identifiers (422 naming `field_name`)."""
    parts = (ref or "").strip().split(".")
    if not parts[0] or not _NAME_RE.match(parts[0]):
        raise Invalid(field_name, f"'{ref}' is not a column name (letters, digits, underscore).")
    for key in parts[1:]:
        if not _KEY_RE.match(key):
            raise Invalid(field_name, f"'{ref}': JSON keys may contain letters, digits, '_' and '-' only.")
    return FieldRef(parts[0], tuple(parts[1:]))


_FORMAT_RE = re.compile(r"\{([^{}]*)\}")


def parse_name_format(template: str, field_name: str = "event_name_format") -> list[str | FieldRef]:
    """Split `{screen}.{action}` into literals and field refs."""
    out: list[str | FieldRef] = []
    pos = 0
    for m in _FORMAT_RE.finditer(template):
        if m.start() > pos:
            out.append(template[pos:m.start()])
        out.append(parse_field_ref(m.group(1), field_name))
        pos = m.end()
    if pos < len(template):
        out.append(template[pos:])
    if not any(isinstance(p, FieldRef) for p in out):
        raise Invalid(field_name, "The format needs at least one {column} or {column.json.path}.")
    return out


def col(name: str, table: str | None = None) -> exp.Column:
    return exp.column(exp.to_identifier(name, quoted=True), table=exp.to_identifier(table) if table else None)


def ident(name: str) -> exp.Identifier:
    return exp.to_identifier(name, quoted=False)


def lit(value: Any) -> exp.Expression:
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int | float):
        return exp.Literal.number(value)
    return exp.Literal.string(str(value))


def func(name: str, *args: exp.Expression) -> exp.Expression:
    return exp.Anonymous(this=name, expressions=list(args))


def case(whens: list[tuple[exp.Expression, exp.Expression]], default: exp.Expression | None = None) -> exp.Case:
    c = exp.Case()
    for cond, value in whens:
        c = c.when(cond, value)
    return c.else_(default) if default is not None else c


def utc_naive(value: datetime) -> datetime:
    """Naive UTC datetime, the form every driver binds identically."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


class SqlBuilder:
    """Portable query shapes. Subclasses set `dialect` and implement the primitives."""

    dialect = ""
    # Compute the two-level aggregate's sets as UNION ALL of plain GROUP BYs over the pre-aggregate instead of
    # GROUPING SETS: for engines that materialise a CTE read several times but plan GROUPING SETS badly.
    union_grouping_sets = False

    # --- primitives -------------------------------------------------------------------------------
    def time_bucket(self, expr: exp.Expression, interval: ScanInterval) -> exp.Expression:
        """Start of the `interval` bucket containing `expr` (buckets aligned to the Unix epoch, UTC)."""
        raise NotImplementedError

    def json_raw(self, column: exp.Expression, keys: tuple[str, ...]) -> exp.Expression:
        """The JSON text of the value at `keys` (`"a"`, `1`, `null`, `{…}`), NULL when the key is missing."""
        raise NotImplementedError

    def json_text(self, column: exp.Expression, keys: tuple[str, ...]) -> exp.Expression:
        """The value at `keys` as text (strings unquoted), NULL when missing or JSON null."""
        raise NotImplementedError

    def param(self, name: str, kind: str) -> exp.Expression:
        """A bound parameter placeholder; `kind` is one of timestamp, int, float, string."""
        return exp.Placeholder(this=exp.Var(this=name))

    def render(self, tree: exp.Expression) -> str:
        return tree.sql(dialect=self.dialect, comments=False)

    def sample_keys(self, time_column: str, parts: list[str]) -> list[exp.Expression]:
        """ORDER BY keys of the scan's sample: a hash of the row's content (time, type, JSON columns), so the
        sample spreads over the window like a random one but picks the same rows every time."""
        text_parts = [exp.Coalesce(this=self.as_text(col(c)), expressions=[lit("")]) for c in parts]
        return [exp.MD5(this=exp.Concat(expressions=text_parts, safe=False) if len(text_parts) > 1
                        else text_parts[0])]

    def sample_prefilter(self, time_column: str, parts: list[str], fraction: float) -> exp.Expression | None:
        """A condition keeping about `fraction` of the rows: those whose first sample key is below a threshold.
        The k smallest keys pass it whenever at least k rows do, so the sample is unchanged, but the engine sorts
        only the rows that passed. None where the key's range is not known (then every row is sorted)."""
        return None

    def aggregate_settings(self) -> dict[str, str]:
        """Planner settings for the scan's two-level aggregate (`aggregate.py`); none by default."""
        return {}

    # --- composites -------------------------------------------------------------------------------
    def source(self, base_query: str) -> exp.Subquery:
        """The checked base query nested as `(<base>) AS __src`."""
        return parse_base_query(base_query, self.dialect).subquery(SRC, copy=False)

    def field_expr(self, ref: FieldRef) -> exp.Expression:
        """The value of a field as the engine sees it (text for JSON paths)."""
        if ref.is_json:
            return self.json_text(col(ref.column), ref.keys)
        return col(ref.column)

    def json_type(self, raw: exp.Expression) -> exp.Expression:
        """Classify JSON text into missing/null/boolean/string/object/array/number."""
        first = exp.Substring(this=raw.copy(), start=lit(1), length=lit(1))
        return case([
            (exp.Is(this=raw.copy(), expression=exp.Null()), lit("missing")),
            (exp.EQ(this=raw.copy(), expression=lit("null")), lit("null")),
            (exp.In(this=raw.copy(), expressions=[lit("true"), lit("false")]), lit("boolean")),
            (exp.EQ(this=first.copy(), expression=lit('"')), lit("string")),
            (exp.EQ(this=first.copy(), expression=lit("{")), lit("object")),
            (exp.EQ(this=first.copy(), expression=lit("[")), lit("array")),
        ], lit("number"))

    def as_text(self, expr: exp.Expression) -> exp.Expression:
        return exp.Cast(this=expr, to=exp.DataType.build("text"))

    def as_float(self, ref: FieldRef) -> exp.Expression:
        """Numeric value of a field; NULL for JSON values that are not numbers."""
        if ref.is_json:
            raw = self.json_raw(col(ref.column), ref.keys)
            return case([(exp.EQ(this=self.json_type(raw), expression=lit("number")),
                          exp.Cast(this=raw.copy(), to=exp.DataType.build("double")))])
        return exp.Cast(this=col(ref.column), to=exp.DataType.build("double"))

    def name_expr(self, parts: list[str | FieldRef]) -> exp.Expression:
        """An event name built from a parsed event_name_format (missing parts become empty strings)."""
        pieces = [lit(p) if isinstance(p, str) else
                  exp.Coalesce(this=self.as_text(self.field_expr(p)), expressions=[lit("")]) for p in parts]
        return pieces[0] if len(pieces) == 1 else exp.Concat(expressions=pieces, safe=False)

    def window_filter(self, time_column: str | None, start: datetime | None, end: datetime | None,
                      params: dict[str, Any], types: dict[str, str]) -> exp.Expression | None:
        """`time >= :start AND time < :end` with bound parameters (either bound may be absent)."""
        conds: list[exp.Expression] = []
        if time_column and start is not None:
            params["start"], types["start"] = utc_naive(start), "timestamp"
            conds.append(exp.GTE(this=col(time_column), expression=self.param("start", "timestamp")))
        if time_column and end is not None:
            params["end"], types["end"] = utc_naive(end), "timestamp"
            conds.append(exp.LT(this=col(time_column), expression=self.param("end", "timestamp")))
        return exp.and_(*conds) if conds else None

    def _select_from_source(self, base_query: str, *projections: exp.Expression) -> exp.Select:
        return exp.select(*projections).from_(self.source(base_query))

    def probe(self, base_query: str) -> BuiltQuery:
        """Zero rows, all output columns: checks that the query runs and reveals its columns and types."""
        tree = self._select_from_source(base_query, exp.Star()).limit(0)
        return BuiltQuery(self.render(tree), max_rows=0)

    def preview(self, base_query: str, limit: int, time_column: str | None = None,
                start: datetime | None = None) -> BuiltQuery:
        """The first `limit` rows, optionally only those at or after `start` in `time_column`."""
        params: dict[str, Any] = {}
        types: dict[str, str] = {}
        tree = self._select_from_source(base_query, exp.Star())
        cond = self.window_filter(time_column, start, None, params, types)
        if cond is not None:
            tree = tree.where(cond)
        tree = tree.limit(lit(int(limit)))
        return BuiltQuery(self.render(tree), params, types, max_rows=limit)

    def bucketed_counts(self, base_query: str, time_column: str, interval: ScanInterval,
                        start: datetime | None = None, end: datetime | None = None,
                        group_by: list[FieldRef] | None = None) -> BuiltQuery:
        """Rows per time bucket (× the `group_by` fields): columns `bucket`, `g0…`, `count`."""
        params: dict[str, Any] = {}
        types: dict[str, str] = {}
        keys = [self.time_bucket(col(time_column), interval).as_("bucket")]
        keys += [self.field_expr(ref).as_(f"g{i}") for i, ref in enumerate(group_by or [])]
        tree = self._select_from_source(base_query, *keys, exp.Count(this=exp.Star()).as_("count"))
        cond = self.window_filter(time_column, start, end, params, types)
        if cond is not None:
            tree = tree.where(cond)
        tree = tree.group_by(*[ident(k.alias) for k in keys]).order_by(*[ident(k.alias) for k in keys])
        return BuiltQuery(self.render(tree), params, types)

    def top_k(self, base_query: str, ref: FieldRef, k: int, time_column: str | None = None,
              start: datetime | None = None, end: datetime | None = None) -> BuiltQuery:
        """The `k` most frequent values of a field and one remainder row: columns value, is_other, count.

        Ties are broken by value so that results are stable; NULL is a value like any other; the remainder
        row (is_other true, value NULL) is absent when there are at most `k` distinct values.
        """
        params: dict[str, Any] = {}
        types: dict[str, str] = {}
        counts = self._select_from_source(
            base_query, self.as_text(self.field_expr(ref)).as_("__value"), exp.Count(this=exp.Star()).as_("__n"))
        cond = self.window_filter(time_column, start, end, params, types)
        if cond is not None:
            counts = counts.where(cond)
        counts = counts.group_by(ident("__value"))
        rank = exp.Window(this=exp.RowNumber(), order=exp.Order(expressions=[
            exp.Ordered(this=ident("__n"), desc=True), exp.Ordered(this=ident("__value"), nulls_first=True)]))
        ranked = exp.select(ident("__value"), ident("__n"), rank.as_("__rk")).from_(counts.subquery("v"))
        is_other = exp.GT(this=ident("__rk"), expression=lit(int(k)))
        value = case([(is_other, exp.Null())], ident("__value"))
        tree = (exp.select(value.as_("value"), is_other.copy().as_("is_other"),
                           exp.Sum(this=ident("__n")).as_("count"))
                .from_(ranked.subquery("r"))
                .group_by(value.copy(), is_other.copy())
                .order_by(exp.Ordered(this=ident("is_other")), exp.Ordered(this=ident("count"), desc=True),
                          exp.Ordered(this=ident("value"))))
        return BuiltQuery(self.render(tree), params, types)

    def bin_index(self, value: exp.Expression, edges: list[float]) -> exp.Expression:
        """Histogram bin of a number: 0 below edges[0], i for edges[i-1] <= x < edges[i], len(edges) above."""
        whens = [(exp.Is(this=value.copy(), expression=exp.Null()), exp.Null())]
        whens += [(exp.LT(this=value.copy(), expression=lit(float(e))), lit(i)) for i, e in enumerate(edges)]
        return case(whens, lit(len(edges)))

    def histogram(self, base_query: str, ref: FieldRef, bins: int = 10, edges: list[float] | None = None,
                  time_column: str | None = None, start: datetime | None = None,
                  end: datetime | None = None) -> BuiltQuery:
        """Value histogram of a numeric field: columns bin, lower, upper, count (NULLs are not counted).

        With `edges`, bins are fixed (so that windows can be compared for drift); without, `bins` equal-width
        bins between the window's min and max, computed in the same statement.
        """
        params: dict[str, Any] = {}
        types: dict[str, str] = {}
        values = self._select_from_source(base_query, self.as_float(ref).as_("x"))
        cond = self.window_filter(time_column, start, end, params, types)
        if cond is not None:
            values = values.where(cond)
        x = ident("x")
        if edges:
            edges = sorted(float(e) for e in edges)
            tree = (exp.select(self.bin_index(x, edges).as_("bin"), exp.Count(this=exp.Star()).as_("count"))
                    .from_(values.subquery("vals")).where(exp.Not(this=exp.Is(this=x, expression=exp.Null())))
                    .group_by(ident("bin")).order_by(ident("bin")))
            return BuiltQuery(self.render(tree), params, types)
        n = max(1, int(bins))
        stats = exp.select(exp.Min(this=x).as_("lo"), exp.Max(this=x).as_("hi")).from_(
            values.copy().subquery("s0"))
        width = exp.Div(this=exp.Paren(this=exp.Sub(this=ident("hi"), expression=ident("lo"))),
                        expression=lit(n))
        raw_bin = exp.Floor(this=exp.Div(this=exp.Paren(this=exp.Sub(this=x, expression=ident("lo"))),
                                         expression=exp.Nullif(this=width.copy(), expression=lit(0))))
        bin_expr = exp.Coalesce(this=exp.Least(this=raw_bin, expressions=[lit(n - 1)]), expressions=[lit(0)])
        binned = (exp.select(exp.Cast(this=bin_expr, to=exp.DataType.build("bigint")).as_("bin"),
                             ident("lo"), ident("hi"))
                  .from_(values.subquery("vals")).join(stats.subquery("st"), join_type="cross")
                  .where(exp.Not(this=exp.Is(this=x.copy(), expression=exp.Null()))))
        lower = exp.Add(this=exp.Max(this=ident("lo")), expression=exp.Mul(
            this=ident("bin"), expression=exp.Div(this=exp.Paren(this=exp.Sub(
                this=exp.Max(this=ident("hi")), expression=exp.Max(this=ident("lo")))), expression=lit(n))))
        upper = exp.Add(this=exp.Max(this=ident("lo")), expression=exp.Mul(
            this=exp.Paren(this=exp.Add(this=ident("bin"), expression=lit(1))),
            expression=exp.Div(this=exp.Paren(this=exp.Sub(this=exp.Max(this=ident("hi")),
                                                            expression=exp.Max(this=ident("lo")))),
                               expression=lit(n))))
        tree = (exp.select(ident("bin"), lower.as_("lower"), upper.as_("upper"),
                           exp.Count(this=exp.Star()).as_("count"))
                .from_(binned.subquery("b")).group_by(ident("bin")).order_by(ident("bin")))
        return BuiltQuery(self.render(tree), params, types)

    def presence(self, ref: FieldRef) -> tuple[exp.Expression, exp.Expression, exp.Expression | None]:
        """(present, null, type) per row for a field: 1/0 flags and, for JSON paths, the observed JSON type.

        A column is always present and null when SQL NULL; a JSON path is present when the key exists and
        null when it is missing or JSON null.
        """
        if ref.is_json:
            raw = self.json_raw(col(ref.column), ref.keys)
            typ = self.json_type(raw)
            present = case([(exp.Is(this=raw.copy(), expression=exp.Null()), lit(0))], lit(1))
            null = case([(exp.In(this=typ.copy(), expressions=[lit("missing"), lit("null")]), lit(1))], lit(0))
            return present, null, typ
        c = col(ref.column)
        return lit(1), case([(exp.Is(this=c, expression=exp.Null()), lit(1))], lit(0)), None

    def null_counts(self, base_query: str, refs: list[FieldRef], time_column: str | None = None,
                    start: datetime | None = None, end: datetime | None = None) -> BuiltQuery:
        """One row: `rows` and, per field i, `present_i` and `nulls_i` (see `presence`)."""
        params: dict[str, Any] = {}
        types: dict[str, str] = {}
        projections: list[exp.Expression] = [exp.Count(this=exp.Star()).as_("rows")]
        for i, ref in enumerate(refs):
            present, null, _ = self.presence(ref)
            projections += [exp.Sum(this=present).as_(f"present_{i}"), exp.Sum(this=null).as_(f"nulls_{i}")]
        tree = self._select_from_source(base_query, *projections)
        cond = self.window_filter(time_column, start, end, params, types)
        if cond is not None:
            tree = tree.where(cond)
        return BuiltQuery(self.render(tree), params, types)


def transpile_check(sql: str, dialect: str) -> exp.Expression:
    """Parse SQL we generated back with sqlglot (used by tests and by the BigQuery dry run's sanity check)."""
    return sqlglot.parse_one(sql, read=dialect)
