"""Values in the plan: what an event may set for a field or meta field, and the canonical text we store.

Values are stored as text so every type shares one column (and one filter). A field value may also be a
`{variable}` placeholder (e.g. `{screen}`) for string, number, url and json fields; enum and boolean values must be
literal because their whole point is a closed set.
"""

from __future__ import annotations

import json
import math
import re
from datetime import date
from typing import Any
from urllib.parse import urlparse

from tripl_core.db.models.plan import FieldType, MetaFieldType

PLACEHOLDER_RE = re.compile(r"^\{[a-z][a-z0-9_]*\}$")
ANY_PLACEHOLDER_RE = re.compile(r"\{[a-z][a-z0-9_]*\}")
PLACEHOLDER_TYPES = {FieldType.string, FieldType.number, FieldType.url, FieldType.json}


class ValueError_(Exception):
    """A value does not fit its declared type; the message says why, for a 422."""


def is_url(text: str) -> bool:
    parsed = urlparse(ANY_PLACEHOLDER_RE.sub("x", text))
    return parsed.scheme in ("http", "https") and bool(parsed.netloc) and " " not in text


def _bool_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower()
    raise ValueError_("expected a boolean (true or false)")


def field_value_text(field_type: FieldType, enum_options: list[str] | None, value: Any) -> str:
    """The canonical text of `value` for a field, or ValueError_ saying why it does not fit."""
    if value is None:
        raise ValueError_("a value is required (omit the field instead of sending null)")
    if isinstance(value, str) and PLACEHOLDER_RE.match(value) and field_type in PLACEHOLDER_TYPES:
        return value
    if field_type == FieldType.string:
        if not isinstance(value, str):
            raise ValueError_("expected a string")
        return value
    if field_type == FieldType.number:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ValueError_("expected a number")
        try:
            number = float(value)
        except (ValueError, OverflowError):
            raise ValueError_(f"expected a finite number, got '{str(value)[:40]}'") from None
        if not math.isfinite(number):
            raise ValueError_("expected a finite number")
        return value.strip() if isinstance(value, str) else json.dumps(value)
    if field_type == FieldType.boolean:
        return _bool_text(value)
    if field_type == FieldType.json:
        if isinstance(value, str):
            try:
                json.loads(value)
            except ValueError:
                raise ValueError_("expected JSON text (for a plain string use a string field)") from None
            return value
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    if field_type == FieldType.enum:
        if not isinstance(value, str) or value not in (enum_options or []):
            raise ValueError_(f"'{value}' is not one of the enum options {enum_options or []}")
        return value
    if field_type == FieldType.url:
        if not isinstance(value, str) or not is_url(value):
            raise ValueError_("expected an http(s) URL")
        return value
    raise ValueError_(f"unknown field type {field_type}")


def meta_value_text(field_type: MetaFieldType, enum_options: list[str] | None, value: Any) -> str:
    """The canonical text of a meta value, or ValueError_ saying why it does not fit."""
    if value is None:
        raise ValueError_("a value is required (omit the meta field instead of sending null)")
    if field_type == MetaFieldType.boolean:
        return _bool_text(value)
    if not isinstance(value, str):
        raise ValueError_("expected a string")
    if field_type == MetaFieldType.string:
        return value
    if field_type == MetaFieldType.url:
        if not is_url(value):
            raise ValueError_("expected an http(s) URL")
        return value
    if field_type == MetaFieldType.enum:
        if value not in (enum_options or []):
            raise ValueError_(f"'{value}' is not one of the enum options {enum_options or []}")
        return value
    if field_type == MetaFieldType.date:
        try:
            return date.fromisoformat(value.strip()).isoformat()
        except ValueError:
            raise ValueError_("expected a date as YYYY-MM-DD") from None
    raise ValueError_(f"unknown meta field type {field_type}")


def fits_field(field_type: FieldType, enum_options: list[str] | None, stored: str) -> bool:
    """Whether an already stored value still fits a (changed) field type."""
    try:
        field_value_text(field_type, enum_options, stored)
    except ValueError_:
        return False
    return True
