"""Checks on user SQL (`base_query`): exactly one SELECT that calls only known-safe functions.

Read-only by construction, in layers:
- the query is parsed with sqlglot in the source's dialect and only sqlglot's re-rendering of the parsed tree is
  ever sent (comments dropped), so text the parser did not see cannot reach the engine;
- every function it calls must be on the dialect's allow-list (`functions/`, built from the engine's own
  catalogue): a deny-list missed `ts_stat('<sql>')`, which runs SQL given as text. Schema-qualified calls
  (`public.f(x)`, user-defined functions) are refused; ClickHouse table functions are a short list of generators;
- size and nesting are bounded before parsing (sqlglot's parser and generator recurse: a 46-level nested
  expression exhausted Python's stack and answered 500);
- the adapters run it read-only with a statement timeout and a row cap, and data sources are expected to use a
  read-only role (Test Data Source Connection checks it).
"""

from __future__ import annotations

import re

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.tokens import TokenType

from tripl_core.errors import Invalid
from tripl_core.warehouse.functions import SYNTAX, function_list

FIELD = "base_query"
# Checking costs ~0.04 s of CPU per 1,000 characters (tokenize, parse, render; 3x on a busy machine): the cap
# keeps one editor's request to a few seconds. Real base queries are a few hundred characters.
MAX_QUERY_CHARS = 20_000
# Parentheses and CASE … END opened at once. sqlglot needs ~20 Python frames per level; 46 levels overflowed.
MAX_NESTING = 25
# Depth of the parsed tree (operators chained without parentheses: NOT NOT …, a || b || …).
MAX_TREE_DEPTH = 120

# Statement and clause nodes that write, change session state, or lock.
_FORBIDDEN_NODES: tuple[type[exp.Expression], ...] = tuple(
    getattr(exp, name) for name in (
        "Insert", "Update", "Delete", "Merge", "Create", "Drop", "Alter", "TruncateTable", "Command", "Set",
        "Into", "Copy", "Grant", "Use", "Pragma", "Transaction", "Commit", "Rollback", "LoadData", "Lock",
        "Describe", "Analyze", "Kill", "Cache", "Uncache", "Refresh", "Summarize", "Revoke",
    ) if hasattr(exp, name)
)
_SYSTEM_SCHEMAS = frozenset({"system", "information_schema", "pg_catalog", "pg_toast", "mysql"})
_HEAD = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_$]*(?:\.[A-Za-z_][A-Za-z0-9_$]*)?)\s*\(")
_OPEN = {TokenType.L_PAREN, TokenType.CASE}
_CLOSE = {TokenType.R_PAREN, TokenType.END}


def _fail(reason: str) -> Invalid:
    return Invalid(FIELD, reason)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


def _check_size(sql: str, dialect: str) -> list:
    """Length and nesting from the tokens (iterative: safe however deep the text nests); returns the tokens."""
    if len(sql) > MAX_QUERY_CHARS:
        raise _fail(f"The query is {len(sql)} characters long; at most {MAX_QUERY_CHARS} are allowed.")
    try:
        tokens = Dialect.get_or_raise(dialect).tokenize(sql)
    except Exception as exc:  # noqa: BLE001 - any tokenizer failure is the input's fault: a 422, never a 500
        raise _fail(f"Cannot parse the query as {dialect} SQL: {_first_line(exc)}") from exc
    depth = deepest = 0
    for token in tokens:
        if token.token_type in _OPEN:
            depth += 1
            deepest = max(deepest, depth)
        elif token.token_type in _CLOSE:
            depth -= 1
    if deepest > MAX_NESTING:
        raise _fail(f"The query nests {deepest} levels deep (parentheses, subqueries, CASE); at most "
                    f"{MAX_NESTING} are allowed.")
    return tokens


def _check_depth(tree: exp.Expression) -> None:
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_TREE_DEPTH:
            raise _fail(f"The query's expressions nest more than {MAX_TREE_DEPTH} levels deep.")
        stack.extend((child, depth + 1) for child in node.iter_expressions())


def _check_table(table: exp.Table, dialect: str) -> None:
    parts = [p.lower() for p in (table.catalog, table.db, table.name) if p]
    joined = ".".join(parts)
    if any(p in _SYSTEM_SCHEMAS for p in parts) or "information_schema" in joined:
        raise _fail(f"System tables are not allowed ({joined}).")
    if dialect == "postgres" and table.name.lower().startswith("pg_"):
        raise _fail(f"System catalogs are not allowed ({table.name}).")


def function_name(node: exp.Func, dialect: str) -> str | None:
    """The name the engine will see for a function node: the call as typed for an unknown function, else the
    head of sqlglot's rendering in the target dialect (e.g. exp.Coalesce is `ifNull` in ClickHouse and
    `IFNULL` in BigQuery). None when the rendering is not a call (an operator, CASE, `x::int`)."""
    if isinstance(node, exp.Anonymous):
        return node.name
    if isinstance(node, exp.SafeFunc | exp.NetFunc):  # BigQuery SAFE.f(…) / NET.f(…): checked as their inner call
        return None
    try:
        text = node.sql(dialect=dialect, comments=False)
    except Exception:  # noqa: BLE001 - cannot be rendered: checked by sqlglot's own name for it
        return node.sql_name()
    match = _HEAD.match(text)
    return match.group(1) if match else None


def _qualified(node: exp.Func) -> bool:
    """`schema.f(x)` or `FROM schema.f(x)`: a user-defined function, whatever its name."""
    parent = node.parent
    if isinstance(parent, exp.Dot) and node.arg_key == "expression":
        return not isinstance(parent.this, exp.Func)  # `(f(x)).y` is field access, not a qualified call
    return isinstance(parent, exp.Table) and node.arg_key == "this" and bool(parent.args.get("db"))


def _check_function(node: exp.Func, dialect: str) -> None:
    allowed = function_list(dialect)
    if dialect == "bigquery" and isinstance(node.parent, exp.NetFunc):
        name = function_name(node, dialect)
        if name and not allowed.allows(f"net.{name}"):
            raise _fail(f"Function 'NET.{name}' is not allowed in a base query.")
        return
    if _qualified(node):
        raise _fail(f"Function '{node.parent.sql(dialect=dialect)[:80]}' is not allowed: schema-qualified and "
                    "user-defined functions cannot be checked.")
    name = function_name(node, dialect)
    if name is None:
        return
    in_from = isinstance(node.parent, exp.Table) and node.arg_key == "this"
    if in_from:
        ok = allowed.allows_table_function(name)
    else:
        ok = allowed.allows(name) or (not isinstance(node, exp.Anonymous) and name.lower() in SYNTAX)
    if not ok:
        kind = "Table function" if in_from else "Function"
        raise _fail(f"{kind} '{name}' is not allowed in a base query: only known read-only {dialect} functions "
                    "are (functions that run SQL text, read files or other servers, change state or administer "
                    "the server never are).")


def parse_base_query(sql: str, dialect: str) -> exp.Query:
    """Parse and check `sql`; return the SELECT tree. Raises Invalid("base_query", reason) on anything else."""
    if not sql or not sql.strip():
        raise _fail("The query is empty.")
    tokens = _check_size(sql, dialect)
    try:
        statements = [s for s in Dialect.get_or_raise(dialect).parser().parse(tokens, sql) if s is not None]
    except RecursionError as exc:  # a shape the nesting count above did not foresee: still the caller's input
        raise _fail("The query nests too deeply to be checked.") from exc
    except Exception as exc:  # noqa: BLE001 - sqlglot raises IndexError etc. on some odd calls (`map(x)`)
        raise _fail(f"Cannot parse the query as {dialect} SQL: {_first_line(exc)}") from exc
    if len(statements) != 1:
        raise _fail(f"Exactly one SELECT statement is allowed; found {len(statements)}.")
    tree = statements[0]
    if not isinstance(tree, exp.Query):
        raise _fail(f"Only SELECT queries are allowed, not {tree.key.upper()}.")
    _check_depth(tree)
    for node in tree.walk():
        if isinstance(node, _FORBIDDEN_NODES):
            raise _fail(f"{node.key.upper()} is not allowed inside a read-only query.")
        if isinstance(node, exp.Table):
            _check_table(node, dialect)
        elif isinstance(node, exp.Func):
            _check_function(node, dialect)
    for clause in ("settings", "format", "into", "locks"):
        if tree.args.get(clause):
            raise _fail(f"The {clause.upper()} clause is not allowed in a base query.")
    try:  # what is sent is this rendering: a tree sqlglot cannot render is the input's fault, not a 500 later
        tree.sql(dialect=dialect, comments=False)
    except RecursionError as exc:
        raise _fail("The query nests too deeply to be checked.") from exc
    except Exception as exc:  # noqa: BLE001
        raise _fail(f"Cannot render the query as {dialect} SQL: {_first_line(exc)}") from exc
    return tree


def normalized_base_query(sql: str, dialect: str) -> str:
    """The checked query as it will be sent (sqlglot's rendering, without comments)."""
    try:
        return parse_base_query(sql, dialect).sql(dialect=dialect, comments=False)
    except RecursionError as exc:
        raise _fail("The query nests too deeply to be checked.") from exc
