"""Run-time service settings: defaults, then environment (`TRIPL_*`), then overrides stored in the database.

Owners change the run-time knobs through the settings API without a restart; code that honours them reads
`effective(db)` (cached for a few seconds, invalidated on write) instead of `get_settings()`. Boot-only values
(database URL, bind address) are reported read-only in the `system` section.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, TypeAdapter, ValidationError
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from tripl_core import __version__, audit, outbound, secrets
from tripl_core.db.models.service import ServiceSettingOverride
from tripl_core.errors import Invalid
from tripl_core.settings import Settings, get_settings

SECTIONS = ("runtime", "security", "storage", "observability", "email", "ai")
READ_ONLY_SECTIONS = ("system",)
CACHE_TTL_SECONDS = 5.0  # bounds staleness in *other* processes (Dagster, other API workers)
Source = Literal["default", "env", "override"]
log = logging.getLogger("tripl.settings")


def _http_url(value: str) -> str:
    if not re.match(r"^https?://[^\s/$.?#][^\s]*$", value):
        raise ValueError("must be an http:// or https:// URL")
    return value


def _email(value: str) -> str:
    if not re.match(r"^[^@\s]+@[^@\s]+$", value):
        raise ValueError("must be an email address like alerts@example.com")
    return value


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


NoNul = AfterValidator(_no_nul)
HttpUrl = Annotated[str, Field(max_length=2000), NoNul, AfterValidator(_http_url)]
Text = Annotated[str, Field(min_length=1, max_length=255), NoNul]
Prompt = Annotated[str, Field(min_length=1, max_length=8000), NoNul]
Secret = Annotated[str, Field(max_length=4000)]  # "" clears the override


def is_header_token(value: str) -> bool:
    """API keys travel in an `Authorization` header, which carries visible ASCII only (RFC 9110 token68)."""
    return all("!" <= ch <= "~" for ch in value)


def _header_token(value: str) -> str:
    if value and not is_header_token(value):
        raise ValueError("must be visible ASCII characters without spaces (it is sent in an HTTP header)")
    return value


ApiKey = Annotated[str, Field(max_length=4000), AfterValidator(_header_token)]  # "" clears the override


@dataclass(frozen=True)
class FieldSpec:
    section: str
    name: str
    annotation: Any
    secret: bool = False
    description: str = ""


F = FieldSpec
FIELDS: tuple[FieldSpec, ...] = (
    F("runtime", "environment", Annotated[str, Field(min_length=1, max_length=64), NoNul],
      description="Label of this instance (development, staging, production), shown in alerts."),
    F("runtime", "public_base_url", HttpUrl | None, description="Public URL, for links in alerts and emails."),
    F("security", "registration_open", bool, description="Whether new people may register (as viewers)."),
    F("security", "session_ttl_hours", Annotated[int, Field(ge=1, le=8760)],
      description="Lifetime of new login sessions."),
    F("security", "cookie_secure", bool, description="Mark the session cookie Secure (behind HTTPS)."),
    F("security", "login_max_failures", Annotated[int, Field(ge=1, le=1000)],
      description="Failed logins per email in the window before 429."),
    F("security", "login_failure_window_seconds", Annotated[int, Field(ge=1, le=86400)]),
    F("security", "api_key_touch_seconds", Annotated[int, Field(ge=0, le=86400)]),
    F("storage", "photo_max_bytes", Annotated[int, Field(ge=1024, le=200 * 1024 * 1024)],
      description="Largest event photo upload (413 above)."),
    F("observability", "log_level", Literal["debug", "info", "warning", "error", "critical"]),
    F("observability", "slack_api_base_url", HttpUrl),
    F("observability", "telegram_api_base_url", HttpUrl),
    F("observability", "alert_delivery_timeout_seconds", Annotated[int, Field(ge=1, le=300)]),
    F("observability", "alert_delivery_max_attempts", Annotated[int, Field(ge=1, le=20)]),
    F("observability", "linear_api_url", HttpUrl, description="Linear GraphQL endpoint of Linear destinations."),
    F("observability", "jira_api_version", Literal[2, 3], description="Jira REST version: 3 (Cloud) or 2 (Server)."),
    F("email", "smtp_host", Text | None),
    F("email", "smtp_port", Annotated[int, Field(ge=1, le=65535)]),
    F("email", "smtp_username", Text | None),
    F("email", "smtp_password", Secret, secret=True),
    F("email", "smtp_starttls", bool),
    F("email", "smtp_ssl", bool),
    F("email", "smtp_from", Annotated[str, Field(min_length=3, max_length=320), NoNul, AfterValidator(_email)]),
    F("email", "smtp_timeout_seconds", Annotated[int, Field(ge=1, le=300)]),
    F("ai", "ai_enabled", bool, description="AI assistance on (describe, ask, alert explanations)."),
    F("ai", "ai_base_url", HttpUrl, description="Any OpenAI-compatible API base, e.g. http://localhost:11434/v1."),
    F("ai", "ai_model", Text),
    F("ai", "ai_api_key", ApiKey, secret=True),
    F("ai", "ai_timeout_seconds", Annotated[int, Field(ge=1, le=600)]),
    F("ai", "ai_max_output_tokens", Annotated[int, Field(ge=1, le=32000)]),
    F("ai", "describe_system_prompt", Prompt),
    F("ai", "ask_system_prompt", Prompt),
    F("ai", "alert_explanation_system_prompt", Prompt),
    F("ai", "search_embeddings_enabled", bool),
    F("ai", "search_embedding_provider", Literal["openai"],
      description="'openai': any OpenAI-compatible /embeddings endpoint."),
    F("ai", "search_embedding_model", Text),
    F("ai", "search_embedding_api_key", ApiKey, secret=True),
    F("ai", "search_embedding_base_url", HttpUrl | None),
)
# Defensive: a knob removed from Settings must not break every reader of the effective settings.
FIELDS = tuple(f for f in FIELDS if f.name in Settings.model_fields)
BY_NAME = {f.name: f for f in FIELDS}
_ADAPTERS = {f.name: TypeAdapter(f.annotation) for f in FIELDS}


def fields_of(section: str) -> list[FieldSpec]:
    return [f for f in FIELDS if f.section == section]


@dataclass(frozen=True)
class EffectiveSettings:
    """The settings in force: `eff.ai_model`, `eff.get('smtp_host')`. Secrets are decrypted (in-process only)."""

    values: dict[str, Any]
    sources: dict[str, Source]
    base: Settings

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("values", "base"):  # copy/pickle probe before fields exist
            raise AttributeError(name)
        try:
            return self.values[name]
        except KeyError:
            return getattr(self.base, name)

    def get(self, name: str, default: Any = None) -> Any:
        return self.values.get(name, default)

    def as_settings(self) -> Settings:
        """A `Settings` with the overrides applied, for code that takes boot settings (accounts.login)."""
        return self.base.model_copy(update=self.values)

    @property
    def overridden_fields(self) -> list[str]:
        return [name for name, src in self.sources.items() if src == "override"]


_lock = threading.Lock()
_cache: tuple[float, int, Settings, EffectiveSettings] | None = None
_generation = 0


def invalidate() -> None:
    """Forget the cached effective settings (called on every write in this process)."""
    global _generation, _cache
    with _lock:
        _generation += 1
        _cache = None


def _load(db: Session, base: Settings) -> EffectiveSettings:
    rows = {r.key: r for r in db.scalars(select(ServiceSettingOverride))}
    env_set = base.model_fields_set
    values: dict[str, Any] = {}
    sources: dict[str, Source] = {}
    for spec in FIELDS:
        row = rows.get(spec.name)
        if row is not None:
            values[spec.name] = _decrypt(spec.name, row.secret_ciphertext) if spec.secret else row.value
            sources[spec.name] = "override"
        else:
            values[spec.name] = getattr(base, spec.name)
            sources[spec.name] = "env" if spec.name in env_set else "default"
    return EffectiveSettings(values=values, sources=sources, base=base)


def _decrypt(name: str, ciphertext: str | None) -> str | None:
    """A secret that no longer decrypts (TRIPL_SECRET_KEY changed) reads as unset instead of breaking every
    reader of the settings (registration, login); the owner sets it again."""
    try:
        return secrets.decrypt(ciphertext)
    except RuntimeError:
        log.error("stored setting %s cannot be decrypted (was TRIPL_SECRET_KEY changed?); treating it as unset",
                  name)
        return None


def effective(db: Session) -> EffectiveSettings:
    """The settings in force, at most CACHE_TTL_SECONDS old (fresh right after a write in this process)."""
    global _cache
    base = get_settings()
    now = time.monotonic()
    with _lock:
        cached, generation = _cache, _generation
    # Holding `base` in the cache keeps it alive, so an identity check reliably detects a settings reset.
    if cached and cached[1] == generation and cached[2] is base and now - cached[0] < CACHE_TTL_SECONDS:
        return cached[3]
    eff = _load(db, base)
    with _lock:
        if _generation == generation:
            _cache = (now, generation, base, eff)
    return eff


# Endpoints tripl calls: refused when saved if the outbound policy refuses their host (tripl_core.outbound).
OUTBOUND_URLS = frozenset({"slack_api_base_url", "telegram_api_base_url", "linear_api_url", "ai_base_url",
                           "search_embedding_base_url"})


def _validate(section: str, name: str, value: Any) -> Any:
    try:
        checked = _ADAPTERS[name].validate_python(value)
    except ValidationError as exc:
        raise Invalid([section, name], exc.errors()[0]["msg"]) from None
    if name in OUTBOUND_URLS and checked is not None:
        outbound.validate_url([section, name], str(checked))
    if name == "smtp_host" and checked:
        outbound.validate_host([section, name], str(checked))
    return checked


def _check_combination(values: dict[str, Any]) -> None:
    if values["smtp_ssl"] and values["smtp_starttls"]:
        raise Invalid(["email", "smtp_starttls"], "smtp_starttls and smtp_ssl exclude each other; set one false.")


def public_values(eff: EffectiveSettings) -> dict[str, Any]:
    """Field values as responses and audit entries may show them: secrets become `<name>_set`."""
    out: dict[str, Any] = {}
    for spec in FIELDS:
        if spec.secret:
            out[spec.name + "_set"] = bool(eff.values[spec.name])
        else:
            out[spec.name] = eff.values[spec.name]
    return out


def update(db: Session, actor: audit.Actor, changes: dict[str, dict[str, Any] | None]) -> EffectiveSettings:
    """Partial upsert of overrides: absent fields stay; an explicit null (or "" for a secret) removes the
    override so the environment or default applies again. Validates everything before writing anything."""
    planned: dict[str, tuple[FieldSpec, Any]] = {}
    for section, fields in changes.items():
        if section in READ_ONLY_SECTIONS:
            raise Invalid([section], f"The {section} section is read-only (set it in the environment).")
        if section not in SECTIONS:
            raise Invalid([section], f"Unknown settings section; use one of {', '.join(SECTIONS)}.")
        for name, value in (fields or {}).items():
            spec = BY_NAME.get(name)
            if spec is None or spec.section != section:
                raise Invalid([section, name], f"Unknown setting in section {section}.")
            clear = value is None or (spec.secret and value == "")
            planned[name] = (spec, None if clear else _validate(section, name, value))
    if not planned:
        return effective(db)

    before = _load(db, get_settings())
    after_values = dict(before.values)
    for name, (_spec, value) in planned.items():
        after_values[name] = getattr(before.base, name) if value is None else value
    _check_combination(after_values)

    rows = {r.key: r for r in db.scalars(
        select(ServiceSettingOverride).where(ServiceSettingOverride.key.in_(planned)).with_for_update())}
    for name, (spec, value) in planned.items():
        row = rows.get(name)
        if value is None:
            if row is not None:
                db.delete(row)
            continue
        if row is None:
            row = ServiceSettingOverride(key=name)
            db.add(row)
        row.value = None if spec.secret else value
        row.secret_ciphertext = secrets.encrypt(value) if spec.secret else None
        row.updated_by_id = actor.user.id
    db.flush()
    after = _load(db, get_settings())
    b, a = _audit_diff(before, after, planned)
    audit.record(db, actor, "settings.update", "settings", None, ", ".join(sorted(planned)), before=b, after=a,
                 message=f"{actor.label} changed service settings: {', '.join(sorted(planned))}")
    db.commit()
    invalidate()
    _apply_process_side_effects(after)
    return effective(db)


def _audit_diff(before: EffectiveSettings, after: EffectiveSettings,
                planned: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Changed fields only; audit.scrub reduces secret-looking keys (api_key, password) to `<key>_set`."""
    names = [n for n in planned
             if before.values[n] != after.values[n] or before.sources[n] != after.sources[n]]
    return {n: before.values[n] for n in names}, {n: after.values[n] for n in names}


def _apply_process_side_effects(eff: EffectiveSettings) -> None:
    try:
        logging.getLogger("tripl").setLevel(str(eff.values["log_level"]).upper())
    except ValueError:  # an odd TRIPL_LOG_LEVEL from the environment: keep the current level
        log.warning("ignoring unknown log level %r", eff.values["log_level"])


def _mask_url(url: str | None) -> str | None:
    if not url:
        return url
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparsable URL is shown without its credentials part
        return re.sub(r"//[^@/]*@", "//***@", url)


def system_info(base: Settings) -> dict[str, Any]:
    """Boot-only facts: changing them needs the environment and a restart."""
    return {
        "version": __version__,
        "data_dir": str(base.data_dir),
        "database_url": _mask_url(base.database_url),
        "dagster_database_url": _mask_url(base.dagster_database_url),
        "db_pool_size": base.db_pool_size,
        "db_max_overflow": base.db_max_overflow,
        "host": base.host,
        "port": base.port,
        "dagster_port": base.dagster_port,
        "cookie_name": base.cookie_name,
        "secret_key_set": bool(base.secret_key),
    }


def describe(eff: EffectiveSettings, sections: tuple[str, ...] = SECTIONS) -> dict[str, Any]:
    """The Get Service Settings body: sections (secrets as `*_set`), read-only `system`, and per-field sources."""
    shown = public_values(eff)
    out: dict[str, Any] = {}
    for section in sections:
        out[section] = {(f.name + "_set" if f.secret else f.name): shown[f.name + "_set" if f.secret else f.name]
                        for f in fields_of(section)}
    if sections == SECTIONS:
        out["system"] = system_info(eff.base)
    names = {f.name for s in sections for f in fields_of(s)}
    out["overridden_fields"] = [n for n in eff.overridden_fields if n in names]
    out["sources"] = {n: s for n, s in eff.sources.items() if n in names}
    return out
