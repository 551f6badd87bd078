"""Settings bodies, generated from `tripl_core.service_settings.FIELDS` so the API and the domain share one
definition of every field, its range and its enum."""

from __future__ import annotations

import types
import typing
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from tripl_core.service_settings import SECTIONS, Source, fields_of

_FORBID = ConfigDict(extra="forbid")


def _update_model(section: str, name: str) -> type[BaseModel]:
    fields: dict[str, Any] = {
        f.name: (f.annotation | None, Field(None, description=f.description or None)) for f in fields_of(section)
    }
    return create_model(name, __config__=_FORBID, **fields)


def _plain(annotation: Any) -> Any:
    """The annotation without constraints: responses show values from the environment as they are (an env value
    outside the API's range, or `INFO` for `info`, must not turn Get Service Settings into a 500)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _plain(typing.get_args(annotation)[0])
    if origin is Literal:
        return type(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        parts = [_plain(a) for a in typing.get_args(annotation)]
        out = parts[0]
        for p in parts[1:]:
            out = out | p
        return out
    return annotation


def _response_model(section: str, name: str) -> type[BaseModel]:
    fields: dict[str, Any] = {}
    for f in fields_of(section):
        if f.secret:
            fields[f.name + "_set"] = (bool, Field(description=f"Whether {f.name} is set (write-only)."))
        else:
            fields[f.name] = (_plain(f.annotation), Field(description=f.description or None))
    return create_model(name, **fields)


def _title(section: str) -> str:
    return "Ai" if section == "ai" else section.title()


UPDATE_MODELS = {s: _update_model(s, f"{_title(s)}SettingsUpdate") for s in SECTIONS}
RESPONSE_MODELS = {s: _response_model(s, f"{_title(s)}Settings") for s in SECTIONS}

AiSettingsUpdate = UPDATE_MODELS["ai"]

ServiceSettingsUpdate = create_model(
    "ServiceSettingsUpdate", __config__=_FORBID,
    **{s: (UPDATE_MODELS[s] | None, None) for s in SECTIONS},  # type: ignore[arg-type]
)


class SystemSettings(BaseModel):
    """Boot-only values, read-only here: change them in the environment and restart."""

    version: str
    data_dir: str
    database_url: str | None
    dagster_database_url: str | None
    db_pool_size: int
    db_max_overflow: int
    host: str
    port: int
    dagster_port: int
    cookie_name: str
    secret_key_set: bool


ServiceSettingsResponse = create_model(
    "ServiceSettingsResponse",
    **{s: (RESPONSE_MODELS[s], ...) for s in SECTIONS},  # type: ignore[arg-type]
    system=(SystemSettings, ...),
    overridden_fields=(list[str], Field(description="Fields whose value comes from a stored override.")),
    sources=(dict[str, Source], Field(description="Per field: default, env or override.")),
)

AiSettingsResponse = create_model(
    "AiSettingsResponse",
    ai=(RESPONSE_MODELS["ai"], ...),
    overridden_fields=(list[str], ...),
    sources=(dict[str, Source], ...),
)


class AiTestRequest(BaseModel):
    prompt: str = Field("Reply with the word ok if the LLM connection works.", min_length=1, max_length=500)


class AiTestResponse(BaseModel):
    ok: bool
    message: str
